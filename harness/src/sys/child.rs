//! CPU time of a child process, read the same way for a JVM and for kbench: `utime + stime`
//! from `/proc/<pid>/stat` (every thread) at one moment, per thread from
//! `/proc/<pid>/task/*/stat`, and the whole life from `wait4`'s rusage. `versus::cpu` turns
//! two samples into a window's CPU use.

use std::collections::BTreeMap;
use std::process::Child;
use std::time::Instant;

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

/// CPU time in clock ticks, user and system apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticks {
    pub user: u64,
    pub sys: u64,
}

impl Ticks {
    pub fn total(self) -> u64 {
        self.user + self.sys
    }
}

/// `(comm, utime and stime in ticks)` from the text of a `/proc/<pid>/stat` file. The command
/// name is in parentheses and may itself hold spaces and parentheses, so fields are counted
/// from the last `)`.
pub fn parse_stat(text: &str) -> Option<(String, Ticks)> {
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text.get(open + 1..close)?.to_string();
    // After ") ": state(3) ppid(4) ... utime(14) stime(15), 1-based as in proc(5).
    let rest: Vec<&str> = text.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = rest.get(14 - 3)?.parse().ok()?;
    let stime: u64 = rest.get(15 - 3)?.parse().ok()?;
    Some((
        comm,
        Ticks {
            user: utime,
            sys: stime,
        },
    ))
}

/// The process's CPU ticks and each thread's, at one moment.
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Option<Instant>,
    /// Clock ticks per second of the tick counts (`_SC_CLK_TCK`).
    pub ticks_per_sec: f64,
    pub process_ticks: u64,
    /// tid -> (comm, ticks).
    pub threads: BTreeMap<u32, (String, Ticks)>,
}

/// Read `/proc/<pid>/stat` and its threads. Fails if the process is gone.
pub fn sample(pid: u32) -> anyhow::Result<Sample> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    let (_, process) = parse_stat(&text).context("unreadable /proc/<pid>/stat")?;
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
        ticks_per_sec: ticks_per_sec(),
        process_ticks: process.total(),
        threads,
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_from_the_last_parenthesis() {
        // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
        let text = "4242 (rdk:broker (1)) S 1 2 3 4 5 6 7 8 9 10 1234 56 0 0 20 0 9 0";
        let ticks = Ticks {
            user: 1234,
            sys: 56,
        };
        assert_eq!(parse_stat(text), Some(("rdk:broker (1)".into(), ticks)));
        assert_eq!(ticks.total(), 1290);
        assert_eq!(parse_stat("garbage"), None);
    }
}
