//! CPU time of a child process, read the same way for a JVM and for kbench: `utime + stime`
//! from `/proc/<pid>/stat` (every thread) at the start and end of a window, per thread from
//! `/proc/<pid>/task/*/stat`, and the whole life from `wait4`'s rusage.

use std::collections::BTreeMap;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// Clock ticks per second of `/proc/*/stat` times.
fn ticks_per_sec() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// `(comm, utime + stime in ticks)` from the text of a `/proc/<pid>/stat` file. The command
/// name is in parentheses and may itself hold spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat(text: &str) -> Option<(String, u64)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // After ") ": state(3) ppid(4) ... utime(14) stime(15), 1-based as in proc(5).
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = rest.get(14 - 3)?.parse().ok()?;
    let stime: u64 = rest.get(15 - 3)?.parse().ok()?;
    Some((comm, utime + stime))
}

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

/// The process's CPU ticks and each thread's, at one moment.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    pub at: Option<Instant>,
    pub process_ticks: u64,
    /// tid -> (comm, ticks).
    pub threads: BTreeMap<u32, (String, u64)>,
}

/// Read `/proc/<pid>/stat` and its threads. Fails if the process is gone.
pub fn sample(pid: u32) -> anyhow::Result<Sample> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    let (_, process_ticks) = parse_stat(&text).context("unreadable /proc/<pid>/stat")?;
    let mut threads = BTreeMap::new();
    if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for e in dir.flatten() {
            let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(parsed) = std::fs::read_to_string(e.path().join("stat"))
                .ok()
                .and_then(|t| parse_stat(&t))
            {
                threads.insert(tid, parsed);
            }
        }
    }
    Ok(Sample {
        at: Some(Instant::now()),
        process_ticks,
        threads,
    })
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
    pub threads: BTreeMap<String, f64>,
}

pub fn window(a: &Sample, b: &Sample) -> WindowCpu {
    let tps = ticks_per_sec();
    let mut threads: BTreeMap<String, f64> = BTreeMap::new();
    for (tid, (comm, ticks)) in &b.threads {
        let before = a.threads.get(tid).map(|(_, t)| *t).unwrap_or(0);
        let used = ticks.saturating_sub(before);
        if used > 0 {
            *threads.entry(thread_group(comm)).or_default() += used as f64 / tps;
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

/// How a child ended, with its whole-life CPU time from `wait4`.
#[derive(Debug, Clone)]
pub struct Exit {
    pub success: bool,
    pub code: Option<i32>,
    /// user + system seconds of the child (every thread), over its whole life.
    pub cpu_total_s: f64,
}

/// Wait for `child` with `wait4`, so its rusage is the child's own (not every child's).
/// The `Child` must not be waited on afterwards.
pub fn wait_with_rusage(child: &mut Child) -> anyhow::Result<Exit> {
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: wait4 fills the zeroed rusage and the status it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
        if r == pid {
            break;
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            bail!("wait4({pid}): {err}");
        }
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let exited = libc::WIFEXITED(status);
    let code = exited.then(|| libc::WEXITSTATUS(status));
    Ok(Exit {
        success: code == Some(0),
        code,
        cpu_total_s: tv(ru.ru_utime) + tv(ru.ru_stime),
    })
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
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        let text = "4242 (rdk:broker (1)) S 1 2 3 4 5 6 7 8 9 10 1234 56 0 0 20 0 9 0";
        assert_eq!(parse_stat(text), Some(("rdk:broker (1)".into(), 1290)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn thread_names_fold_their_digits() {
        assert_eq!(thread_group("rdk:broker12"), "rdk:brokerN");
        assert_eq!(thread_group("GC Thread#0"), "GC Thread#N");
        assert_eq!(thread_group("kb-p0"), "kb-pN");
        assert_eq!(thread_group("main"), "main");
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
