//! What the benchmark reads of its own process: the monotonic clock, a thread's CPU
//! time, the process's CPU time, and its peak resident memory (Linux `/proc`).

use std::time::Duration;

fn clock(id: libc::clockid_t) -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec, which `now` is.
    let status = unsafe { libc::clock_gettime(id, &mut now) };
    if status != 0 {
        return Duration::ZERO;
    }
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// Nanoseconds of the system's monotonic clock: comparable between the processes of
/// one machine (a producer's in a node process and the driver's).
pub fn monotonic_ns() -> u64 {
    clock(libc::CLOCK_MONOTONIC).as_nanos() as u64
}

/// CPU time the calling thread has used (user and system), polling included.
pub fn thread_cpu() -> Duration {
    clock(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time all threads of this process have used (user and system).
pub fn process_cpu() -> Duration {
    clock(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// The process's peak resident memory in bytes (`VmHWM`), if the system tells it.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Starts the peak resident memory afresh at the current resident memory (Linux's
/// `clear_refs` 5), so that a later [`peak_rss`] is the peak since now; false if the
/// system refused (then the peak counts from the start of the process).
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_busy_thread_counts_its_cpu_time_and_memory_touched_raises_the_peak() {
        let before = thread_cpu();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        }
        std::hint::black_box(x);
        assert!(thread_cpu() - before >= Duration::from_millis(10));
        assert!(process_cpu() >= thread_cpu() - before);

        let peak = peak_rss().expect("Linux tells the peak");
        let touched = vec![1u8; 64 << 20];
        std::hint::black_box(&touched);
        let after = peak_rss().unwrap();
        assert!(after >= peak + (32 << 20), "{peak} then {after}");
    }
}
