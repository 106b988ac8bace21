//! Usage errors of `kbench run` exit 2 at once, before any connection attempt (issue 15 A.6):
//! no cluster needed, the one given is a closed port, which kbench must never get to. And a
//! fault naming a broker the real cluster does not have is refused before the first cell
//! (issue 15 B.9): that one asks the suite's cluster for its node ids, and faults nothing.

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

#[test]
fn a_fault_on_a_broker_the_cluster_does_not_have_is_refused_before_the_first_cell() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("ghost.toml");
    std::fs::write(
        &scenario,
        "name = \"ghost\"\n[topic]\nreplication_factor = 1\n[run]\nwarmup = \"1s\"\nduration = \"2s\"\n\
         [[fault]]\nat = \"1s\"\naction = \"kill\"\nbroker = 99\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let o = Command::new(env!("CARGO_BIN_EXE_kbench"))
        .arg("run")
        .arg(&scenario)
        .args(["--bootstrap", &bootstrap, "--quiet", "--reports"])
        .arg(&reports)
        // Never the suite's own cluster's state: nothing may be faulted, whatever happens.
        .args(["--state-dir", dir.path().join("no-state").to_str().unwrap()])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = stderr(&o);
    let ids = kbench::cluster::admin::broker_ids(
        &kbench::cluster::Access::plaintext(&bootstrap),
        std::time::Duration::from_secs(10),
    )
    .unwrap();
    let mut ids: Vec<String> = ids.iter().map(i32::to_string).collect();
    ids.sort();
    let line = format!(
        "{}:10: key 'fault[0].broker': node 99 is not a broker of this cluster (its node ids: {})",
        scenario.display(),
        ids.join(", ")
    );
    assert!(err.contains(&line), "expected {line:?} in {}", text(&o));
    assert!(
        !reports.exists(),
        "refused before any run directory or cell"
    );
}
