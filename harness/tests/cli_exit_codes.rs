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

/// Topic configs only the cluster can judge (issue 15 A.2): an unknown name and a bad value,
/// set in the section and swept, are refused with file, line and key before any run directory,
/// topic or cell, by a CreateTopics that only validates.
#[test]
fn topic_configs_the_cluster_refuses_are_named_before_the_first_cell() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "[topic]\nreplication_factor = 1\nconfigs = { \"retention.ms\" = \"60000\", \"no.such.config\" = \"1\" }\n",
            4,
            "topic.configs.no.such.config",
            "no.such.config = \"1\"",
        ),
        (
            "[topic]\nreplication_factor = 1\n\n[topic.configs]\n\"message.timestamp.type\" = \"Sideways\"\n",
            6,
            "topic.configs.message.timestamp.type",
            "message.timestamp.type = \"Sideways\"",
        ),
        (
            "[topic]\nreplication_factor = 1\n[sweep]\n\"topic.configs.cleanup.policy\" = [\"delete\", \"sideways\"]\n",
            5,
            "sweep.topic.configs.cleanup.policy",
            "cleanup.policy = \"sideways\"",
        ),
    ];
    for (i, (body, line, key, what)) in cases.iter().enumerate() {
        let scenario = dir.path().join(format!("configs-{i}.toml"));
        std::fs::write(
            &scenario,
            format!("name = \"configs\"\n{body}[run]\nwarmup = \"1s\"\nduration = \"2s\"\n"),
        )
        .unwrap();
        let reports = dir.path().join(format!("reports-{i}"));
        let o = Command::new(env!("CARGO_BIN_EXE_kbench"))
            .arg("run")
            .arg(&scenario)
            .args(["--bootstrap", &bootstrap, "--quiet", "--reports"])
            .arg(&reports)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "case {i}: {}", text(&o));
        let err = stderr(&o);
        let head = format!("{}:{line}: key '{key}': ", scenario.display());
        assert!(
            err.contains(&head),
            "case {i}: expected {head:?} in {}",
            text(&o)
        );
        assert!(
            err.contains(&format!("the cluster refuses topic config {what}")),
            "case {i}: {}",
            text(&o)
        );
        assert!(
            !reports.exists(),
            "case {i}: refused before any run directory"
        );
    }
}
