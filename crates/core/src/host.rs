//! What this host gives a process, read from Linux: the memory still available and how
//! many more threads the process may start. Sizes asked of the runtime (nodes, compute
//! threads, chunks) are checked against them, so that an absurd size is a clear error
//! instead of an abort halfway through. `None` where a figure is unknown (another
//! system): the checks then pass.

use std::path::Path;

/// Memory mappings a thread costs (its stack, guard page, signal stack), to turn the
/// kernel's `vm.max_map_count` into a number of threads.
const MAPPINGS_PER_THREAD: u64 = 4;

/// Bytes of memory this process may still use: the system's available memory, or what
/// is left under its cgroup's limit if that is less.
pub fn available_memory() -> Option<u64> {
    let system = read_field("/proc/meminfo", "MemAvailable:").map(|kib| kib.saturating_mul(1024));
    let cgroup = cgroup_dir().and_then(|dir| {
        let max = read_number(&dir.join("memory.max"))?;
        let current = read_number(&dir.join("memory.current")).unwrap_or(0);
        Some(max.saturating_sub(current))
    });
    min_known(system, cgroup)
}

/// How many more threads this process may start: the least of the kernel's thread
/// limit, its memory-map limit, the user's process limit and the cgroup's task limit,
/// minus the threads running now.
pub fn thread_room() -> Option<u64> {
    let kernel = read_number(Path::new("/proc/sys/kernel/threads-max"));
    let mappings = read_number(Path::new("/proc/sys/vm/max_map_count"))
        .map(|count| count / MAPPINGS_PER_THREAD);
    let user = user_process_limit();
    let cgroup = cgroup_dir().and_then(|dir| read_number(&dir.join("pids.max")));
    let limit = [kernel, mappings, user, cgroup]
        .into_iter()
        .fold(None, min_known)?;
    let running = read_field("/proc/self/status", "Threads:").unwrap_or(0);
    Some(limit.saturating_sub(running))
}

/// Whether `threads` more threads fit, for `what`; the reason names the limits if not.
pub fn check_threads(what: &str, threads: u64) -> Result<(), String> {
    match thread_room() {
        Some(room) if threads > room => Err(format!(
            "{what} needs {threads} threads, and this process may start about {room} more \
             (kernel.threads-max, vm.max_map_count / {MAPPINGS_PER_THREAD}, ulimit -u, \
             the cgroup's pids.max)"
        )),
        _ => Ok(()),
    }
}

/// Whether `bytes` of memory fit, for `what`; the reason names both sizes if not.
pub fn check_memory(what: &str, bytes: u64) -> Result<(), String> {
    match available_memory() {
        Some(available) if bytes > available => Err(format!(
            "{what} needs about {}, and this machine has {} available",
            human_bytes(bytes),
            human_bytes(available)
        )),
        _ => Ok(()),
    }
}

/// `bytes` for a person: "1.5 GiB".
pub fn human_bytes(bytes: u64) -> String {
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

fn min_known(a: Option<u64>, b: Option<u64>) -> Option<u64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A number alone in a file (`max` and unreadable files are `None`).
fn read_number(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The first number after `field` in a `/proc` file of `Name: value` lines.
fn read_field(path: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|line| line.starts_with(field))?;
    line[field.len()..].split_whitespace().next()?.parse().ok()
}

/// This process's cgroup (v2) directory, if the system has one.
fn cgroup_dir() -> Option<std::path::PathBuf> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    let path = text.lines().find_map(|line| line.strip_prefix("0::"))?;
    let dir = Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    dir.is_dir().then_some(dir)
}

fn user_process_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own and reads nothing else.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NPROC, &mut limit) };
    (read == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then_some(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_linux_host_tells_its_memory_and_threads() {
        let memory = available_memory().expect("/proc/meminfo");
        assert!(memory > 1 << 20, "{memory}");
        let room = thread_room().expect("/proc/sys/kernel/threads-max");
        assert!(room > 8, "{room}");
    }

    #[test]
    fn absurd_needs_are_refused_with_both_figures() {
        let error = check_threads("a pool", 1 << 40).unwrap_err();
        assert!(
            error.contains("a pool needs 1099511627776 threads"),
            "{error}"
        );
        assert!(check_threads("a pool", 2).is_ok());
        let error = check_memory("a chunk", 1 << 60).unwrap_err();
        assert!(error.contains("a chunk needs about 1.0 EiB"), "{error}");
        assert!(error.contains("available"), "{error}");
        assert!(check_memory("a chunk", 1 << 10).is_ok());
    }

    #[test]
    fn bytes_read_as_a_person_would_write_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(8 << 40), "8.0 TiB");
        assert_eq!(human_bytes(u64::MAX), "16.0 EiB");
    }
}
