//! `doreisa-rs head`, `worker` and `status`: running the processes of a cluster and
//! looking at it.

use doreisa::net::client::fetch_status;
use doreisa::net::{ClusterFile, NodeOptions, NodeRole, ProcessNode};
use doreisa::proto::wire::ClusterStatus;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

/// Settings shared by the head and workers.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// Object store capacity, in bytes.
    #[arg(long, env = "DOREISA_OBJECT_STORE_MEMORY", default_value_t = 2 << 30)]
    pub object_store_memory: u64,
    /// Threads running task bodies.
    #[arg(long, env = "DOREISA_NUM_CPUS", default_value_t = 1)]
    pub num_cpus: usize,
    /// Where primary copies are spilled under memory pressure (none: never spill).
    #[arg(long, env = "DOREISA_SPILL_DIR")]
    pub spill_dir: Option<PathBuf>,
    /// The address other nodes reach this one at, when listening on a wildcard: an IP
    /// or a host name.
    #[arg(long, env = "DOREISA_ADVERTISE", value_parser = crate::args::host_ip)]
    pub advertise: Option<IpAddr>,
    /// Milliseconds between heartbeats.
    #[arg(long, env = "DOREISA_HEARTBEAT_MS", default_value_t = 250)]
    pub heartbeat_ms: u64,
}

impl NodeArgs {
    fn options(&self, role: NodeRole, listen: SocketAddr) -> NodeOptions {
        NodeOptions {
            listen,
            advertise: self.advertise,
            compute_threads: self.num_cpus.max(1),
            store_capacity: self.object_store_memory,
            spill_dir: self.spill_dir.clone(),
            heartbeat: Duration::from_millis(self.heartbeat_ms.max(1)),
            ..NodeOptions::new(role)
        }
    }
}

/// Runs the head until interrupted.
pub fn head(
    listen: SocketAddr,
    cluster_file: PathBuf,
    death_timeout_ms: u64,
    args: &NodeArgs,
) -> Result<(), String> {
    let options = NodeOptions {
        death_timeout: Duration::from_millis(death_timeout_ms),
        ..args.options(NodeRole::Head, listen)
    };
    let mut node =
        ProcessNode::start_head(options, crate::registry()).map_err(|e| e.to_string())?;
    // Held while the head runs: no other head replaces the file; removed at the end.
    let held = node
        .cluster
        .write(&cluster_file)
        .map_err(|e| e.to_string())?;
    println!(
        "head {:?} listening on {}; cluster file {}",
        node.id,
        node.addr,
        cluster_file.display()
    );
    wait_for_signal(&node);
    println!("head stopping");
    node.stop();
    drop(held);
    Ok(())
}

/// Runs a worker until interrupted (then it leaves the cluster) or until it loses the
/// head (nothing from it for `head_timeout_ms`) or is declared dead: then it fails,
/// saying which.
pub fn worker(
    listen: SocketAddr,
    cluster_file: PathBuf,
    head_timeout_ms: u64,
    args: &NodeArgs,
) -> Result<(), String> {
    let cluster = ClusterFile::read(&cluster_file).map_err(|e| e.to_string())?;
    let options = NodeOptions {
        head_timeout: Duration::from_millis(head_timeout_ms),
        ..args.options(NodeRole::Worker, listen)
    };
    let node =
        ProcessNode::join(options, &cluster, crate::registry()).map_err(|e| e.to_string())?;
    println!("worker {:?} joined, listening on {}", node.id, node.addr);
    let interrupted = wait_for_signal(&node);
    if interrupted {
        println!("worker {:?} leaving", node.id);
        node.leave();
        Ok(())
    } else {
        let why = node
            .stop_reason()
            .unwrap_or_else(|| "its node stopped".into());
        Err(format!("worker {:?}: {why}", node.id))
    }
}

/// Blocks until SIGINT/SIGTERM (true) or until the node stops by itself (false).
fn wait_for_signal(node: &ProcessNode) -> bool {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for signals");
    runtime.block_on(async {
        #[cfg(unix)]
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler");
        let mut poll = tokio::time::interval(Duration::from_millis(100));
        loop {
            #[cfg(unix)]
            let terminated = terminate.recv();
            #[cfg(not(unix))]
            let terminated = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => return true,
                _ = terminated => return true,
                _ = poll.tick() => if !node.is_running() { return false },
            }
        }
    })
}

/// Prints the cluster's members and figures.
pub fn status(cluster_file: PathBuf, json: bool) -> Result<(), String> {
    let cluster = ClusterFile::read(&cluster_file).map_err(|e| e.to_string())?;
    let status = fetch_status(&cluster).map_err(|e| e.to_string())?;
    if json {
        let value = status_json(&status)?;
        println!(
            "{}",
            serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?
        );
    } else {
        print_status(&status);
    }
    Ok(())
}

/// Prints the status table every `seconds`, each node's tasks per second since the
/// previous table added, `count` times (for ever without). Ends with the error of a
/// fetch that fails (the head gone, for example).
pub fn watch(cluster_file: PathBuf, seconds: f64, count: Option<u64>) -> Result<(), String> {
    let cluster = ClusterFile::read(&cluster_file).map_err(|e| e.to_string())?;
    let period = std::time::Duration::from_secs_f64(seconds);
    let mut previous: Option<(std::time::Instant, Vec<(u64, u64)>)> = None;
    let mut printed = 0u64;
    loop {
        let status = fetch_status(&cluster).map_err(|e| e.to_string())?;
        let now = std::time::Instant::now();
        let tasks = tasks_run(&status);
        let rates: Vec<Option<f64>> = tasks
            .iter()
            .map(|&(node, run)| {
                let (at, before) = previous.as_ref()?;
                let (_, then) = before.iter().find(|(n, _)| *n == node)?;
                let elapsed = now.duration_since(*at).as_secs_f64();
                Some(run.saturating_sub(*then) as f64 / elapsed.max(1e-9))
            })
            .collect();
        println!("--- {:.1} s", printed as f64 * seconds);
        print_table(&status, Some(&rates));
        println!();
        printed += 1;
        if count.is_some_and(|count| printed >= count) {
            return Ok(());
        }
        previous = Some((now, tasks));
        std::thread::sleep(period);
    }
}

/// Each member's node number and tasks run so far.
fn tasks_run(status: &ClusterStatus) -> Vec<(u64, u64)> {
    status
        .members
        .iter()
        .map(|member| {
            let run = member.status.as_ref().map_or(0, |s| s.counters.tasks_run);
            (member.member.node.0, run)
        })
        .collect()
}

fn print_status(status: &ClusterStatus) {
    print_table(status, None);
}

/// The members' table; with `rates`, a column of tasks per second (one per member,
/// `-` where unknown yet).
fn print_table(status: &ClusterStatus, rates: Option<&[Option<f64>]>) {
    let rate_header = if rates.is_some() { "   tasks/s" } else { "" };
    println!(
        "{:<6} {:<7} {:<22} {:>5} {:>9} {:>12} {:>12} {:>10}{rate_header} {:>8}",
        "node", "role", "address", "cpus", "objects", "memory", "capacity", "tasks run", "seen"
    );
    for (index, member) in status.members.iter().enumerate() {
        let m = &member.member;
        let (objects, used, tasks) = member
            .status
            .as_ref()
            .map(|s| (s.store.objects, s.store.used_bytes, s.counters.tasks_run))
            .unwrap_or_default();
        let rate = match rates.map(|r| r.get(index).copied().flatten()) {
            None => String::new(),
            Some(None) => format!(" {:>9}", "-"),
            Some(Some(rate)) => format!(" {rate:>9.0}"),
        };
        println!(
            "{:<6} {:<7} {:<22} {:>5} {:>9} {:>12} {:>12} {:>10}{rate} {:>6}ms",
            m.node.0,
            format!("{:?}", m.role).to_lowercase(),
            m.addr.to_string(),
            m.cpus,
            objects,
            readable_bytes(used),
            readable_bytes(m.store_capacity),
            tasks,
            member.last_seen_ms
        );
    }
    if !status.departed.is_empty() {
        let departed: Vec<String> = status.departed.iter().map(|n| n.0.to_string()).collect();
        println!("departed: {}", departed.join(", "));
    }
}

/// `bytes` with a binary unit: `512 B`, `1.5 KiB`, `2.0 GiB`.
pub fn readable_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The status as JSON, with each member's certificate fingerprint in hex (as in the
/// cluster file) rather than as a list of numbers.
fn status_json(status: &ClusterStatus) -> Result<serde_json::Value, String> {
    let mut value = serde_json::to_value(status).map_err(|e| e.to_string())?;
    let members = value
        .get_mut("members")
        .and_then(|m| m.as_array_mut())
        .into_iter()
        .flatten();
    for member in members {
        // (A fingerprint already in text is left as it is.)
        if let Some(fingerprint) = member
            .pointer_mut("/member/fingerprint")
            .filter(|f| f.is_array())
        {
            let bytes: Vec<u8> = serde_json::from_value(fingerprint.take())
                .map_err(|e| format!("a member's fingerprint: {e}"))?;
            *fingerprint = bytes
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into();
        }
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(readable_bytes(0), "0 B");
        assert_eq!(readable_bytes(1023), "1023 B");
        assert_eq!(readable_bytes(1536), "1.5 KiB");
        assert_eq!(readable_bytes(2 << 30), "2.0 GiB");
        assert_eq!(readable_bytes(u64::MAX), "16.0 EiB");
    }
}
