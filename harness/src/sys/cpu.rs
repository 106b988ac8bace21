//! kbench's own CPU counters and the host's: the process's CPU time (`getrusage`), a thread's
//! CPU time and run-queue wait (`/proc/thread-self/schedstat`), the host's busy and total
//! jiffies (`/proc/stat`). The arithmetic on them is in [`crate::metrics::cpu`].

use std::time::Instant;

use crate::metrics::cpu::CpuSample;

impl CpuSample {
    /// Read the counters now. (The type and the arithmetic on it are pure and live in
    /// [`crate::metrics::cpu`]; only taking a sample reads the system.)
    pub fn now() -> CpuSample {
        let (host_busy, host_total) = host_ticks().unwrap_or((0, 0));
        CpuSample {
            at: Instant::now(),
            process_ns: process_cpu_ns(),
            host_busy,
            host_total,
            cores: cores(),
        }
    }
}

/// The cores this process may run on (`available_parallelism`): the host's, unless affinity
/// or a cgroup quota limits them.
pub fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// CPU time plus run-queue wait of the calling thread, ns: the time it wanted a CPU. A thread
/// that wanted one nearly all the time was CPU-bound, whether it got the CPU (kbench's own
/// cost) or waited for it (a host shared with brokers). Falls back to CPU time alone where
/// `/proc/thread-self/schedstat` is missing.
pub fn thread_demand_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| parse_schedstat(&s))
        .unwrap_or_else(thread_cpu_ns)
}

/// Run-queue wait of the calling thread, ns: the time it was ready but the host gave its CPU
/// to someone else (brokers on the same machine). 0 where schedstat is missing.
pub fn thread_wait_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| parse_schedstat_fields(&s))
        .map(|(_, wait)| wait)
        .unwrap_or(0)
}

/// `cpu_ns run_delay_ns timeslices` -> cpu + run delay.
fn parse_schedstat(s: &str) -> Option<u64> {
    parse_schedstat_fields(s).map(|(cpu, wait)| cpu + wait)
}

fn parse_schedstat_fields(s: &str) -> Option<(u64, u64)> {
    let mut it = s.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some((it.next()??, it.next()??))
}

/// CPU time of the calling thread, ns.
pub fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid timespec out-pointer and a clock id every Linux has.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// User + system CPU time of this process (every thread), ns.
fn process_cpu_ns() -> u64 {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as u64 * 1_000_000_000 + t.tv_usec as u64 * 1_000;
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// (busy, total) jiffies of all CPUs from `/proc/stat`.
fn host_ticks() -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    parse_proc_stat(&text)
}

/// The `cpu` line: user nice system idle iowait irq softirq steal ...; idle and iowait are
/// not busy; steal is (another guest had our CPU).
fn parse_proc_stat(text: &str) -> Option<(u64, u64)> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 5 {
        return None;
    }
    let total: u64 = v.iter().sum();
    let idle = v[3] + v[4];
    Some((total - idle, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_adds_cpu_and_run_delay() {
        assert_eq!(parse_schedstat("159461 5361 2\n"), Some(164_822));
        assert_eq!(parse_schedstat("x"), None);
        // The kernel updates a thread's schedstat at context switches: a brand-new test thread
        // may still read 0, so work a little and yield the CPU first.
        let t0 = thread_cpu_ns();
        while thread_cpu_ns() - t0 < 5_000_000 {}
        std::thread::sleep(std::time::Duration::from_millis(2));
        assert!(thread_demand_ns() > 0);
    }

    #[test]
    fn proc_stat_busy_excludes_idle_and_iowait() {
        let text = "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5\n";
        assert_eq!(parse_proc_stat(text), Some((150, 1000)));
        assert_eq!(parse_proc_stat("intr 1 2 3\n"), None);
    }

    #[test]
    fn a_busy_thread_shows_in_process_and_thread_time() {
        let a = CpuSample::now();
        let t0 = thread_cpu_ns();
        let mut x = 0u64;
        while thread_cpu_ns() - t0 < 50_000_000 {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let used = a.until(&CpuSample::now());
        assert!(used.process_cores > 0.0, "{used:?}");
        assert!(used.process_share() <= 1.5, "{used:?}");
        assert!(used.cores >= 1);
    }
}
