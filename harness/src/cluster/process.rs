//! Operating-system helpers for the broker processes: liveness, signals, pid files.
//! Brokers are started detached (own process group) so that they outlive the `kbench` command
//! that started them and a Ctrl-C in that terminal does not reach them.

use std::fs;
use std::path::Path;

/// The state of a process as the kernel reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcState {
    Running,
    /// Stopped by SIGSTOP (a paused broker).
    Stopped,
    Dead,
}

/// Is `pid` alive, and is it the process we started (its command line contains `marker`)?
/// A pid file can outlive its process and the pid be reused, so the marker guards against
/// signalling a stranger.
pub fn state(pid: i32, marker: &str) -> ProcState {
    reap(pid);
    let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return ProcState::Dead;
    };
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return ProcState::Dead;
    };
    if !String::from_utf8_lossy(&cmdline).contains(marker) {
        return ProcState::Dead;
    }
    // The state letter follows the command name, which is in parentheses and may hold spaces.
    let letter = stat
        .rfind(')')
        .and_then(|i| stat[i + 1..].split_whitespace().next())
        .unwrap_or("X");
    match letter {
        "Z" | "X" | "x" => ProcState::Dead,
        "T" | "t" => ProcState::Stopped,
        _ => ProcState::Running,
    }
}

/// Collect the exit status if `pid` is our own child, so a killed broker does not linger as a
/// zombie (which would still look alive to `kill -0`). Harmless for other processes.
fn reap(pid: i32) {
    let mut status = 0;
    // SAFETY: waitpid with WNOHANG only reads the status of our own children.
    unsafe {
        libc::waitpid(pid, &mut status, libc::WNOHANG);
    }
}

pub fn signal(pid: i32, sig: i32) -> bool {
    // SAFETY: plain kill(2); the caller has checked the pid belongs to a broker we started.
    unsafe { libc::kill(pid, sig) == 0 }
}

pub fn read_pid(path: &Path) -> Option<i32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Is something listening on 127.0.0.1:`port`?
pub fn port_open(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        std::time::Duration::from_millis(200),
    )
    .is_ok()
}

/// Can we bind 127.0.0.1:`port`? (A free port for a broker to take.)
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// The last line of a log that explains a failure: the last ERROR / Exception line, or else the
/// last non-empty line. Kept short so it fits in a one-line error.
pub fn failure_cause(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let pick = text
        .lines()
        .rev()
        .find(|l| l.contains("ERROR") || l.contains("Exception") || l.contains("Error:"))
        .or_else(|| text.lines().rev().find(|l| !l.trim().is_empty()))
        .unwrap_or("no output");
    let pick = pick.trim();
    let mut cause: String = pick.chars().take(300).collect();
    if cause.len() < pick.len() {
        cause.push_str("...");
    }
    cause
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_own_process_is_running_and_a_wrong_marker_is_dead() {
        let me = std::process::id() as i32;
        assert_eq!(state(me, ""), ProcState::Running);
        assert_eq!(state(me, "no-such-marker-xyz"), ProcState::Dead);
        assert_eq!(state(i32::MAX - 7, ""), ProcState::Dead);
    }

    #[test]
    fn failure_cause_prefers_the_last_error_line() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.out");
        std::fs::write(
            &log,
            "INFO starting\nERROR first problem\nERROR Exiting Kafka due to fatal exception\nINFO shutdown\n",
        )
        .unwrap();
        assert_eq!(
            failure_cause(&log),
            "ERROR Exiting Kafka due to fatal exception"
        );
        assert_eq!(failure_cause(&dir.path().join("missing")), "no output");
    }

    #[test]
    fn a_bound_port_is_open_and_not_free() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(port_open(port));
        assert!(!port_free(port));
    }
}
