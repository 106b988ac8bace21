//! Usage errors of `kbench run` exit 2 at once, before any connection attempt (issue 15 A.6).
//! No cluster needed: the one given is a closed port, which kbench must never get to.

mod common;
use common::{text, workspace_root};
use std::process::{Command, Output};

fn kbench_run(args: &[&str]) -> Output {
    let scenario = workspace_root().join("scenarios/smoke.toml");
    let reports = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_kbench"))
        .arg("run")
        .arg(&scenario)
        .args(["--reports", reports.path().to_str().unwrap(), "--quiet"])
        .args(args)
        .env_remove("KBENCH_BOOTSTRAP")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_without_a_cluster_is_exit_2() {
    let o = kbench_run(&[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("--bootstrap"), "{}", text(&o));
}

#[test]
fn an_empty_bootstrap_is_exit_2_not_a_connection_failure() {
    for bootstrap in ["", " ", "127.0.0.1:9092,", ",,"] {
        let o = kbench_run(&["--bootstrap", bootstrap]);
        assert_eq!(o.status.code(), Some(2), "{bootstrap:?}: {}", text(&o));
        assert!(
            stderr(&o).contains("--bootstrap") && stderr(&o).contains("no empty entry"),
            "{bootstrap:?}: {}",
            text(&o)
        );
    }
}

#[test]
fn resume_of_a_missing_directory_is_exit_2_before_any_connection() {
    // Port 1 is closed: a connection attempt would be a cluster error (exit 4) after a timeout.
    let o = kbench_run(&["--bootstrap", "127.0.0.1:1", "--resume", "/no/such/dir"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("--resume /no/such/dir: not a run directory"),
        "{}",
        text(&o)
    );
    assert!(
        !err.contains("cluster up"),
        "no connection attempted: {err}"
    );
}
