//! Every failure of `kbench cluster up` gives a clear one-line cause, the log to read where
//! there is one, and a non-zero exit code, without hanging. Each test uses its own state
//! directory and ports, so they run in parallel with the rest of the suite.

mod common;
use common::{kbench, text};

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn state(&self) -> String {
        self.dir.path().join("state").display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Whatever a test started, stop it.
        let _ = kbench(&["cluster", "down", "--state-dir", &self.state()], &[]);
    }
}

fn stderr_line(o: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line of error expected:\n{}", text(o));
    lines[0].to_string()
}

#[test]
fn java_missing_is_exit_3_with_the_command_named() {
    let s = Scratch::new();
    let o = kbench(
        &[
            "cluster",
            "up",
            "--brokers",
            "1",
            "--base-port",
            "21092",
            "--state-dir",
            &s.state(),
        ],
        &[("KBENCH_JAVA", "/nonexistent/bin/java")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let line = stderr_line(&o);
    assert!(
        line.contains("Java not found") && line.contains("/nonexistent/bin/java"),
        "{line}"
    );
}

#[test]
fn maven_missing_is_exit_3_when_jars_must_be_fetched() {
    let s = Scratch::new();
    let cache = s.dir.path().join("empty-cache").display().to_string();
    let o = kbench(
        &[
            "cluster",
            "up",
            "--brokers",
            "1",
            "--base-port",
            "21092",
            "--state-dir",
            &s.state(),
            "--cache-dir",
            &cache,
        ],
        &[("KBENCH_MVN", "/nonexistent/bin/mvn")],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let line = stderr_line(&o);
    assert!(
        line.contains("Maven not found") && line.contains("/nonexistent/bin/mvn"),
        "{line}"
    );
}

#[test]
fn a_port_in_use_is_named_with_its_node() {
    let s = Scratch::new();
    let _held = std::net::TcpListener::bind("127.0.0.1:23192").unwrap(); // node 2's client port
    let o = kbench(
        &[
            "cluster",
            "up",
            "--brokers",
            "3",
            "--base-port",
            "23092",
            "--state-dir",
            &s.state(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let line = stderr_line(&o);
    assert!(
        line.contains("port 23192") && line.contains("node 2"),
        "{line}"
    );
}

#[test]
fn a_broker_that_dies_at_start_reports_its_log_and_cause() {
    let s = Scratch::new();
    let o = kbench(
        &[
            "cluster",
            "up",
            "--brokers",
            "1",
            "--base-port",
            "25092",
            "--state-dir",
            &s.state(),
            // Storage formats fine, but the broker cannot load this class and exits.
            "--broker-prop",
            "authorizer.class.name=kbench.NoSuchAuthorizer",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let line = stderr_line(&o);
    assert!(line.contains("broker 1 exited during start-up"), "{line}");
    assert!(line.contains("server.out"), "names the log: {line}");
    assert!(
        line.contains("ClassNotFoundException: kbench.NoSuchAuthorizer"),
        "gives the cause from the log: {line}"
    );
}

#[test]
fn a_start_that_times_out_says_so_and_stops() {
    let s = Scratch::new();
    let started = std::time::Instant::now();
    let o = kbench(
        &[
            "cluster",
            "up",
            "--brokers",
            "1",
            "--base-port",
            "27092",
            "--state-dir",
            &s.state(),
            "--timeout",
            "1",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let line = stderr_line(&o);
    assert!(
        line.contains("did not serve clients within 1 s") && line.contains("server.out"),
        "{line}"
    );
    assert!(started.elapsed().as_secs() < 60, "no hang");
}

#[test]
fn commands_on_a_missing_cluster_and_node_fail_clearly() {
    let s = Scratch::new();
    let o = kbench(&["cluster", "status", "--state-dir", &s.state()], &[]);
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    assert!(stderr_line(&o).contains("no local cluster"));
}
