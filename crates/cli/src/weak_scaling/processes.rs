//! A head and workers of this binary started on this machine for `--mode processes`.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Threads of one node process (its node, compute and signal threads; 3 measured).
const PROCESS_THREADS: u64 = 4;

/// Memory of one idle node process (about 15 MiB measured), with a margin for its
/// share of the benchmark's chunks.
const PROCESS_BYTES: u64 = 64 << 20;

/// A head and workers of this binary on 127.0.0.1, killed when dropped, and when
/// this process ends in any way (the head then removes its cluster file: nothing is
/// left behind).
pub struct LocalProcesses {
    file: std::path::PathBuf,
    children: Vec<Child>,
}

impl LocalProcesses {
    /// The head and `workers - 1` workers: `workers` nodes that take tasks.
    pub fn start(workers: usize) -> Result<LocalProcesses, String> {
        let what = format!("weak-scaling on {workers} node processes");
        let threads = (workers as u64).saturating_mul(PROCESS_THREADS);
        doreisa::core::host::check_threads(&what, threads)?;
        let bytes = (workers as u64).saturating_mul(PROCESS_BYTES);
        doreisa::core::host::check_memory(&what, bytes)?;
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        let file = std::env::temp_dir().join(format!(
            "doreisa-weak-{}-{workers}.json",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&file);
        let mut processes = LocalProcesses {
            file: file.clone(),
            children: Vec::new(),
        };
        // With RUST_LOG set, the processes' logs go to this one's standard error.
        let logs = std::env::var_os("RUST_LOG").is_some();
        let spawn = |args: &[&str]| {
            let mut command = Command::new(&exe);
            ends_with_this_process(&mut command);
            command
                .args(args)
                .stdout(Stdio::null())
                .stderr(if logs {
                    Stdio::inherit()
                } else {
                    Stdio::null()
                })
                .spawn()
                .map_err(|e| e.to_string())
        };
        let path = file.to_str().ok_or("a temporary path that is not UTF-8")?;
        processes.children.push(spawn(&[
            "head",
            "--listen",
            "127.0.0.1:0",
            "--cluster-file",
            path,
        ])?);
        wait_until(|| file.exists(), "the head to start")?;
        for _ in 1..workers {
            processes.children.push(spawn(&[
                "worker",
                "--cluster-file",
                path,
                "--listen",
                "127.0.0.1:0",
            ])?);
        }
        let cluster = processes.cluster_file()?;
        wait_until(
            || {
                doreisa::net::client::fetch_status(&cluster)
                    .is_ok_and(|s| s.members.len() == workers)
            },
            "the workers to join",
        )?;
        Ok(processes)
    }

    pub fn cluster_file(&self) -> Result<doreisa::net::ClusterFile, String> {
        doreisa::net::ClusterFile::read(&self.file).map_err(|e| e.to_string())
    }
}

impl Drop for LocalProcesses {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        // Killed at once, the head left its file.
        let _ = std::fs::remove_file(&self.file);
    }
}

/// Makes the process of `command` end when this one ends, even killed with SIGKILL
/// (nothing runs in this process then): Linux sends it SIGTERM when its parent dies
/// (`PR_SET_PDEATHSIG`), which a node answers by stopping. The parent is the thread
/// that spawns it: spawn from a thread that lives as long as the processes.
fn ends_with_this_process(command: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: between fork and exec the closure only makes async-signal-safe
        // system calls (prctl, getppid) and allocates nothing.
        unsafe {
            command.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Dead before the line above: nobody would send the signal.
                if libc::getppid() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
    }
}

fn wait_until(mut condition: impl FnMut() -> bool, what: &str) -> Result<(), String> {
    let start = Instant::now();
    while !condition() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("timed out waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}
