//! Chosen partitions against the real cluster: `partitioner = { chosen = ... }` sends every
//! message to the chosen partitions and none elsewhere, and a chosen partition the topic lacks
//! is refused before the first cell (file, line, key, exit 2), for a topic kbench creates and
//! for an existing one. The per-partition charts of such a run are written.

mod common;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use common::{kbench, random_topic, text};
use kbench::cluster::admin::Admin;
use kbench::rundir::rows::{read_csv, ResultRow};

/// One run at a time: placement does not need it, but a 2-core host running two fleets and a
/// cluster at once makes the budgeted cells slow.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn counts(list: &str) -> Vec<u64> {
    list.split(';').map(|x| x.parse().unwrap()).collect()
}

/// Writes `scenario` to `<dir>/<name>.toml` and runs it; returns the scenario file and the
/// process output.
fn run(
    bootstrap: &str,
    dir: &std::path::Path,
    name: &str,
    scenario: &str,
    extra: &[&str],
) -> (PathBuf, std::process::Output) {
    let file = dir.join(format!("{name}.toml"));
    std::fs::write(&file, format!("name = \"{name}\"\n{scenario}")).unwrap();
    let reports = dir.join("reports");
    let mut args = vec![
        "run",
        file.to_str().unwrap(),
        "--bootstrap",
        bootstrap,
        "--reports",
        reports.to_str().unwrap(),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = kbench(&args, &[]);
    (file, o)
}

#[test]
fn the_chosen_partitions_get_every_message_and_the_others_none() {
    let bootstrap = common::require_cluster!();
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();
    // Keys on: kbench's choice must win over librdkafka's hash of the key.
    let (_, o) = run(
        &bootstrap,
        dir.path(),
        "chosen",
        r#"
[topic]
partitions = 4
replication_factor = 1
[producers]
count = 2
rate = 2000
message_size = 100
keys = { uniform = 100 }
[consumers]
groups = 1
members = 2
[run]
warmup = "0s"
messages = 1000
[sweep]
partitioner = [{ chosen = 3 }, { chosen = [0, 2] }]
"#,
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_dir = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let rows: Vec<ResultRow> = read_csv(&run_dir.join("results.csv")).unwrap();
    assert_eq!(rows.len(), 2);
    let by_cell: BTreeMap<&str, &ResultRow> = rows.iter().map(|r| (r.cell.as_str(), r)).collect();

    let one = by_cell["partitioner-chosen-3"];
    assert_eq!(one.partitioner, "chosen=3");
    assert_eq!(one.acked, 1000, "{one:?}");
    assert_eq!(counts(&one.acked_per_partition), [0, 0, 0, 1000]);
    assert_eq!(counts(&one.consumed_per_partition), [0, 0, 0, 1000]);

    let two = by_cell["partitioner-chosen-0-2"];
    assert_eq!(two.partitioner, "chosen=0,2");
    assert_eq!(two.acked, 1000, "{two:?}");
    // In turn per producer, each starting at its own place: exactly half each.
    assert_eq!(counts(&two.acked_per_partition), [500, 0, 500, 0]);
    assert_eq!(counts(&two.consumed_per_partition), [500, 0, 500, 0]);
    for r in &rows {
        assert_eq!((r.failed, r.lost, r.duplicated), (0, 0, 0), "{r:?}");
    }
    // The per-partition chart of each cell, and the one across the partitioner sweep.
    for png in [
        "partitions-partitioner-chosen-3.png",
        "partitions-partitioner-chosen-0-2.png",
        "partitions-by-partitioner.png",
    ] {
        let p = run_dir.join("charts").join(png);
        assert!(p.is_file(), "{} missing", p.display());
    }
}

#[test]
fn a_chosen_partition_the_topic_lacks_is_refused_before_the_first_cell() {
    let bootstrap = common::require_cluster!();
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = tempfile::tempdir().unwrap();

    // A topic kbench would create: refused when the file is read.
    let (file, o) = run(
        &bootstrap,
        dir.path(),
        "too-far",
        "[topic]\npartitions = 2\nreplication_factor = 1\n[producers]\npartitioner = { chosen = [1, 2] }\n",
        &[],
    );
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains(&format!(
            "{}:6: key 'producers.partitioner': chosen partition 2 does not exist",
            file.display()
        )),
        "{}",
        text(&o)
    );
    assert!(!dir.path().join("reports").exists(), "no run was started");

    // An existing topic of 2 partitions (this test's, created here): refused before any load,
    // from the cluster's own partition count.
    let admin = Admin::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &BTreeMap::new(),
    )
    .unwrap();
    let topic = random_topic("chosen");
    admin
        .create_topic(&topic, 2, 1, &BTreeMap::new(), Duration::from_secs(30))
        .unwrap();
    let (file, o) = run(
        &bootstrap,
        dir.path(),
        "theirs",
        &format!("[topic]\nexisting = \"{topic}\"\n[producers]\npartitioner = {{ chosen = 5 }}\n"),
        &["--allow-existing-topic"],
    );
    let written = written(&bootstrap, &topic, 2);
    admin
        .delete_topics(&[topic.as_str()], Duration::from_secs(30))
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        err.contains(&format!(
            "{}:5: key 'producers.partitioner': topic {topic}: chosen partition 5 does not exist: the topic has 2 partitions",
            file.display()
        )),
        "{}",
        text(&o)
    );
    assert_eq!(written, 0, "nothing is written before the refusal");
}

/// Messages in `topic`'s `partitions` partitions (high watermarks summed).
fn written(bootstrap: &str, topic: &str, partitions: i32) -> i64 {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    (0..partitions)
        .map(|p| {
            c.fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap()
                .1
        })
        .sum()
}
