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
//!
//! Only the arithmetic on the readings is here; [`crate::sys::cpu`] takes them.

use std::time::Instant;

/// kbench used this fraction of every core the host has: it was (close to) the limit.
pub const PROCESS_LIMIT: f64 = 0.9;
/// A producer send thread that wanted a CPU this fraction of the time (running or waiting
/// in the run queue) could not have sent faster.
pub const THREAD_LIMIT: f64 = 0.9;
/// ... and ran (CPU time, not waiting) at least this share of its wall time: its own work,
/// not the host, kept it busy.
pub const THREAD_RUN_LIMIT: f64 = 0.6;
/// A send thread that waited in the run queue this share of its wall time was starved by
/// the host.
pub const THREAD_WAIT_LIMIT: f64 = 0.2;
/// The whole host was this busy: nobody had spare CPU, brokers included.
pub const HOST_LIMIT: f64 = 0.95;

/// A reading of the counters, to subtract from a later one. `CpuSample::now()` (in
/// [`crate::sys::cpu`], the sampler) takes one.
#[derive(Debug, Clone, Copy)]
pub struct CpuSample {
    pub(crate) at: Instant,
    /// kbench's user + system CPU time, every thread, ns.
    pub(crate) process_ns: u64,
    /// Busy and total jiffies of all the host's CPUs; both 0 without `/proc/stat`.
    pub(crate) host_busy: u64,
    pub(crate) host_total: u64,
    /// The host's cores.
    pub(crate) cores: usize,
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
    /// Use from `self` to `later`.
    pub fn until(&self, later: &CpuSample) -> CpuUse {
        let wall = later.at.saturating_duration_since(self.at).as_nanos() as f64;
        let process = later.process_ns.saturating_sub(self.process_ns) as f64;
        let total = later.host_total.saturating_sub(self.host_total);
        let busy = later.host_busy.saturating_sub(self.host_busy);
        CpuUse {
            process_cores: if wall > 0.0 { process / wall } else { 0.0 },
            cores: later.cores,
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sample(at: Instant, process_ns: u64, host: (u64, u64)) -> CpuSample {
        CpuSample {
            at,
            process_ns,
            host_busy: host.0,
            host_total: host.1,
            cores: 4,
        }
    }

    #[test]
    fn use_is_cpu_time_over_wall_time() {
        let t = Instant::now();
        let a = sample(t, 1_000_000_000, (100, 1000));
        let b = sample(t + Duration::from_secs(2), 4_000_000_000, (700, 2000));
        let used = a.until(&b);
        assert_eq!(used.process_cores, 1.5);
        assert_eq!(used.process_share(), 0.375);
        assert_eq!(used.host_busy, Some(0.6));
    }

    #[test]
    fn no_time_or_no_proc_stat_gives_no_figure() {
        let t = Instant::now();
        let a = sample(t, 5, (0, 0));
        let used = a.until(&a);
        assert_eq!((used.process_cores, used.host_busy), (0.0, None));
        // Samples passed in the wrong order saturate to zero rather than going negative.
        let b = sample(t + Duration::from_secs(1), 0, (0, 0));
        assert_eq!(b.until(&a).process_cores, 0.0);
    }
}
