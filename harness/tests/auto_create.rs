//! `[topic] create = "auto"` against real Kafka: on a 1-broker cluster of its own started with
//! `kbench cluster up --broker-prop auto.create.topics.enable=true` (base port 46092, its own
//! state directory under target/, stopped by a guard even when the test fails), kbench writes
//! to a topic that does not exist, the broker makes it with its defaults (1 partition, RF 1),
//! and results.csv, summary.md and the manifest say so; the topic is registered and deleted
//! like kbench's own. On the suite's cluster (auto-creation off) the scenario is refused
//! before the first cell, with file, line and key.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{kbench, text};
use kbench::cluster::admin::Admin;
use kbench::rundir::rows::{read_csv, ResultRow};

const BASE_PORT: &str = "46092";
const BOOTSTRAP: &str = "127.0.0.1:46092";

fn state_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target/auto-create-test")
        .to_path_buf()
}

/// Stops the test's own cluster (and deletes its data) whatever happened.
struct Down;

impl Drop for Down {
    fn drop(&mut self) {
        let state = state_dir();
        let o = kbench(
            &["cluster", "down", "--clean"],
            &[("KBENCH_STATE_DIR", state.to_str().unwrap_or_default())],
        );
        if o.status.code() != Some(0) {
            eprintln!("auto_create: cluster down failed: {}", text(&o));
        }
    }
}

const SCENARIO: &str = r#"name = "auto"
[topic]
create = "auto"
[producers]
rate = 1000
message_size = 100
[consumers]
groups = 1
[run]
warmup = "0s"
messages = 500
"#;

#[test]
fn the_broker_makes_the_topic_with_its_defaults_and_the_reports_say_so() {
    let started = Instant::now();
    let state = state_dir();
    let state_env = [("KBENCH_STATE_DIR", state.to_str().unwrap())];
    // A cluster left by an earlier, killed run of this test.
    drop(kbench(&["cluster", "down", "--clean"], &state_env));
    let _down = Down;
    let up = kbench(
        &[
            "cluster",
            "up",
            "--brokers",
            "1",
            "--base-port",
            BASE_PORT,
            "--timeout",
            "40",
            "--broker-prop",
            "auto.create.topics.enable=true",
        ],
        &state_env,
    );
    assert_eq!(up.status.code(), Some(0), "{}", text(&up));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auto.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let reports = dir.path().join("reports");
    let o = kbench(
        &[
            "run",
            file.to_str().unwrap(),
            "--bootstrap",
            BOOTSTRAP,
            "--reports",
            reports.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();

    let rows: Vec<ResultRow> = read_csv(&run_dir.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    // The broker's defaults on a 1-broker local cluster: num.partitions 1, RF 1.
    assert_eq!(r.topic_created, "broker", "{r:?}");
    assert_eq!((r.partitions, r.replication_factor), (1, 1), "{r:?}");
    let first_ack = r.auto_create_first_ack_ms.expect("first ack time");
    assert!(first_ack > 0.0 && first_ack < 30_000.0, "{first_ack}");
    assert_eq!((r.acked, r.consumed), (500, 500), "{r:?}");
    assert_eq!((r.failed, r.lost, r.duplicated), (0, 0, 0), "{r:?}");

    let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(
        summary.contains("the broker made a 1-partition topic with RF 1"),
        "{summary}"
    );
    let manifest = std::fs::read_to_string(run_dir.join("manifest.json")).unwrap();
    assert!(
        manifest.contains("\"auto_create_topics_enable\": true"),
        "{manifest}"
    );

    // Registered before the first write, and deleted after the cell like kbench's own.
    let topics = std::fs::read_to_string(run_dir.join("topics.txt")).unwrap();
    assert!(topics.lines().any(|t| t == r.topic), "{topics}");
    let admin = Admin::new(
        &kbench::cluster::Access::plaintext(BOOTSTRAP),
        &BTreeMap::new(),
    )
    .unwrap();
    assert!(
        admin
            .describe(&r.topic, Duration::from_secs(10))
            .unwrap()
            .is_none(),
        "the auto-created topic is deleted"
    );
    eprintln!("auto_create: {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn auto_creation_is_refused_on_a_cluster_that_does_not_do_it() {
    // The suite's cluster, started by kbench with auto.create.topics.enable=false.
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auto.toml");
    std::fs::write(&file, SCENARIO).unwrap();
    let reports = dir.path().join("reports");
    let o = kbench(
        &[
            "run",
            file.to_str().unwrap(),
            "--bootstrap",
            &bootstrap,
            "--reports",
            reports.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}:3: key 'topic.create': the cluster's auto.create.topics.enable is false",
            file.display()
        )),
        "{}",
        text(&o)
    );
    assert!(!reports.exists(), "refused before any run directory");
}
