//! CPU use of kbench itself and of the host, so a cell where the load generator (or the
//! machine it shares with a local cluster) ran out of CPU is flagged rather than reported as
//! the cluster's figure.
//!
//! Three readings per cell, over its measurement window:
//! - kbench's process CPU time (`getrusage`), in cores: librdkafka's threads included;
//! - the busiest producer thread's CPU time over its wall time: one saturated send loop
//!   limits that producer whatever the other cores do;
//! - the host's busy fraction (`/proc/stat`): with a local cluster on the same machine, a host
//!   at 100 % means brokers and kbench competed for CPU.

use std::time::Instant;

/// kbench used this fraction of every core the host has: it was (close to) the limit.
pub const PROCESS_LIMIT: f64 = 0.9;
/// A producer send thread that wanted a CPU this fraction of the time (running or waiting
/// in the run queue) could not have sent faster.
pub const THREAD_LIMIT: f64 = 0.9;
/// The whole host was this busy: nobody had spare CPU, brokers included.
pub const HOST_LIMIT: f64 = 0.95;

/// A reading of the counters, to subtract from a later one.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    at: Instant,
    process_ns: u64,
    host_busy: u64,
    host_total: u64,
}

/// CPU use between two samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct CpuUse {
    /// kbench's CPU time over wall time: 1.0 = one core fully used.
    pub process_cores: f64,
    /// The host's cores.
    pub cores: usize,
    /// Fraction of the host's CPU time that was busy (0..1); `None` without `/proc/stat`.
    pub host_busy: Option<f64>,
}

impl CpuSample {
    pub fn now() -> CpuSample {
        let (host_busy, host_total) = host_ticks().unwrap_or((0, 0));
        CpuSample {
            at: Instant::now(),
            process_ns: process_cpu_ns(),
            host_busy,
            host_total,
        }
    }

    /// Use from `self` to `later`.
    pub fn until(&self, later: &CpuSample) -> CpuUse {
        let wall = later.at.saturating_duration_since(self.at).as_nanos() as f64;
        let process = later.process_ns.saturating_sub(self.process_ns) as f64;
        let total = later.host_total.saturating_sub(self.host_total);
        let busy = later.host_busy.saturating_sub(self.host_busy);
        CpuUse {
            process_cores: if wall > 0.0 { process / wall } else { 0.0 },
            cores: cores(),
            host_busy: (total > 0).then(|| busy as f64 / total as f64),
        }
    }
}

impl CpuUse {
    /// kbench's share of the host's CPU capacity (0..1).
    pub fn process_share(&self) -> f64 {
        self.process_cores / self.cores.max(1) as f64
    }
}

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

/// `cpu_ns run_delay_ns timeslices` -> cpu + run delay.
fn parse_schedstat(s: &str) -> Option<u64> {
    let mut it = s.split_whitespace().map(|x| x.parse::<u64>().ok());
    Some(it.next()?? + it.next()??)
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
