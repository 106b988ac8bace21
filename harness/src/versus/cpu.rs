//! A child process's CPU use over a window, for the CPU comparison: two samples of
//! [`crate::sys::child`] (taken the same way for a JVM and for kbench) turned into CPU seconds,
//! per thread group too. The sampler's whole-life reading (`wait4`) is re-exported, so all that
//! versus measures of a child's CPU is found here.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;

#[cfg(test)]
use crate::sys::child::Ticks;
use crate::sys::child::{sample, Sample};
pub use crate::sys::child::{wait_with_rusage, Exit};

/// A thread's name with its digits folded, so `rdk:broker1` and `rdk:broker2`, or `GC
/// Thread#0` and `GC Thread#1`, add up to one line of the breakdown.
pub fn thread_group(comm: &str) -> String {
    let mut out = String::with_capacity(comm.len());
    let mut in_digits = false;
    for ch in comm.chars() {
        if ch.is_ascii_digit() {
            if !in_digits {
                out.push('N');
            }
            in_digits = true;
        } else {
            out.push(ch);
            in_digits = false;
        }
    }
    out
}

/// CPU used between two samples of one process.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowCpu {
    pub wall_s: f64,
    pub cpu_s: f64,
    /// The work done in the window: the difference of the `mark` counter read right after
    /// each sample (records the cluster acknowledged, for the CPU comparison).
    pub records: u64,
    /// Thread group (see [`thread_group`]) -> CPU seconds in the window; threads born during
    /// the window count from zero.
    pub threads: BTreeMap<String, ThreadTime>,
}

/// One thread group's CPU in a window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThreadTime {
    /// User + system seconds.
    pub cpu_s: f64,
    /// The system part: syscalls, wake-ups, socket I/O.
    pub sys_s: f64,
}

/// CPU used from `a` to `b`. Pure: each sample carries its tick rate.
pub fn window(a: &Sample, b: &Sample) -> WindowCpu {
    let tps = b.ticks_per_sec;
    let mut threads: BTreeMap<String, ThreadTime> = BTreeMap::new();
    for (tid, (comm, ticks)) in &b.threads {
        let before = a.threads.get(tid).map(|(_, t)| *t).unwrap_or_default();
        let user = ticks.user.saturating_sub(before.user);
        let sys = ticks.sys.saturating_sub(before.sys);
        if user + sys > 0 {
            let t = threads.entry(thread_group(comm)).or_default();
            t.cpu_s += (user + sys) as f64 / tps;
            t.sys_s += sys as f64 / tps;
        }
    }
    let wall_s = match (a.at, b.at) {
        (Some(x), Some(y)) => y.saturating_duration_since(x).as_secs_f64(),
        _ => 0.0,
    };
    WindowCpu {
        wall_s,
        cpu_s: b.process_ticks.saturating_sub(a.process_ticks) as f64 / tps,
        records: 0,
        threads,
    }
}

/// Sample `pid` at `start + skip` and `start + skip + len`, reading `mark` (a counter of work
/// done, such as records acknowledged) right after each sample. The window must end before
/// the process does: a child that exits inside it is an error (its run was too short).
pub fn measure_window(
    pid: u32,
    start: Instant,
    skip: Duration,
    len: Duration,
    mark: &mut dyn FnMut() -> anyhow::Result<u64>,
) -> anyhow::Result<WindowCpu> {
    sleep_until(start + skip);
    let a = sample(pid).context("the child exited before its CPU window began")?;
    let mark_a = mark()?;
    sleep_until(start + skip + len);
    let b = sample(pid).context("the child exited before its CPU window ended")?;
    let mark_b = mark()?;
    let mut w = window(&a, &b);
    w.records = mark_b.saturating_sub(mark_a);
    Ok(w)
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_fold_their_digits() {
        assert_eq!(thread_group("rdk:broker12"), "rdk:brokerN");
        assert_eq!(thread_group("GC Thread#0"), "GC Thread#N");
        assert_eq!(thread_group("kb-p0"), "kb-pN");
        assert_eq!(thread_group("main"), "main");
    }

    #[test]
    fn a_window_counts_threads_born_in_it_from_zero() {
        let t = Instant::now();
        let at = |s: u64, process_ticks: u64, threads: &[(u32, &str, u64, u64)]| Sample {
            at: Some(t + Duration::from_secs(s)),
            ticks_per_sec: 100.0,
            process_ticks,
            threads: threads
                .iter()
                .map(|&(tid, comm, user, sys)| (tid, (comm.to_string(), Ticks { user, sys })))
                .collect(),
        };
        let a = at(
            1,
            1000,
            &[(1, "main", 400, 0), (2, "rdk:broker1", 500, 100)],
        );
        let b = at(
            3,
            1300,
            &[
                (1, "main", 400, 0),
                (2, "rdk:broker1", 540, 160),
                (3, "rdk:broker2", 150, 50),
            ],
        );
        let w = window(&a, &b);
        assert_eq!((w.wall_s, w.cpu_s, w.records), (2.0, 3.0, 0));
        // main used nothing and has no line; both brokers add up to one, system time apart.
        let brokers = ThreadTime {
            cpu_s: 3.0,
            sys_s: 1.1,
        };
        let got: Vec<_> = w.threads.into_iter().collect();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0, "rdk:brokerN");
        assert!((got[0].1.cpu_s - brokers.cpu_s).abs() < 1e-9);
        assert!((got[0].1.sys_s - brokers.sys_s).abs() < 1e-9);
    }

    #[test]
    fn a_busy_child_shows_cpu_in_its_window_and_its_rusage() {
        // A shell loop burning CPU for about half a second.
        let mut child = std::process::Command::new("sh")
            .args(["-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done"])
            .spawn()
            .unwrap();
        let start = Instant::now();
        let mut n = 0;
        let w = measure_window(
            child.id(),
            start,
            Duration::from_millis(20),
            Duration::from_millis(200),
            &mut || {
                n += 10;
                Ok(n)
            },
        );
        let exit = wait_with_rusage(&mut child).unwrap();
        assert!(exit.success, "{exit:?}");
        assert!(exit.cpu_total_s > 0.05, "{exit:?}");
        if let Ok(w) = w {
            // (On a very fast host the loop may end inside the window.)
            assert!(w.cpu_s <= w.wall_s * 1.5 + 0.02, "{w:?}");
            assert_eq!(w.records, 10);
        }
    }
}
