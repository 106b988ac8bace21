//! Transactions against real Apache Kafka (`[producers] transaction_messages`,
//! `transaction_abort`, `[consumers] isolation`), through the `kbench` binary:
//! 1. a share of transactions aborted on purpose: a read_committed group reads every committed
//!    message exactly once and no aborted one, while a read_uncommitted group of the same load
//!    does read the aborted ones (so the check can fail: they are in the log);
//! 2. the leader of partition 0 killed mid-cell: 0 lost, 0 duplicated, no aborted message read.
//!
//! A transactional producer blocks in each commit (about 0.1 s on a busy 2-core host, seconds
//! while a leader is down), so rates and transaction sizes here leave it time to keep its
//! schedule: at R msg/s and N messages a transaction it keeps up while R/N x commit < 1 s.
//!
//! Both run in one test, one after the other, because the second kills a broker of the
//! cluster it is given: the suite's (`KBENCH_BOOTSTRAP`, `KBENCH_STATE_DIR`, as `scripts/test`
//! exports them; the kill is undone when the cell ends), or one of your own. Never point it
//! at a cluster others are using.

mod common;

use std::path::Path;

use kbench::rundir::rows::{read_csv, ResultRow};

/// Run `scenario` (TOML text) against `bootstrap`; the rows of its results.csv.
fn run(scenario: &str, bootstrap: &str, tmp: &Path, name: &str) -> Vec<ResultRow> {
    let file = tmp.join(format!("{name}.toml"));
    std::fs::write(&file, scenario).unwrap();
    let reports = tmp.join(format!("reports-{name}"));
    let o = common::kbench(
        &[
            "run",
            file.to_str().unwrap(),
            "--bootstrap",
            bootstrap,
            "--reports",
            reports.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(summary.contains("## Transactions"), "{summary}");
    read_csv(&run_dir.join("results.csv")).unwrap()
}

fn show(r: &ResultRow) {
    eprintln!(
        "{}: acked {} consumed {} tx committed {} ({}/s) aborted {} ({}/s, {} failed) \
         aborted msgs {} aborted seen {} commit p50 {} us p99 {} us lost {} dup {} e2e p99 {} us",
        r.cell,
        r.acked,
        r.consumed,
        r.tx_committed,
        r.tx_committed_per_sec,
        r.tx_aborted,
        r.tx_aborted_per_sec,
        r.tx_failed,
        r.aborted_messages,
        r.aborted_seen,
        r.commit_p50_us,
        r.commit_p99_us,
        r.lost,
        r.duplicated,
        r.e2e_p99_us
    );
}

const ABORTS: &str = r#"
name = "tx-aborts"
[topic]
partitions = 3
replication_factor = 3
[producers]
count = 2
rate = 1000
message_size = 100
acks = "all"
idempotence = true
transaction_messages = 100
transaction_abort = 0.2
[consumers]
groups = 1
members = 1
[run]
warmup = "2s"
duration = "4s"
drain_timeout = "30s"
[sweep]
isolation = ["read_committed", "read_uncommitted"]
"#;

const LEADER_KILL: &str = r#"
name = "tx-leader-kill"
[topic]
partitions = 3
replication_factor = 3
configs = { "min.insync.replicas" = "2" }
[producers]
count = 1
rate = 500
message_size = 100
keys = { uniform = 1000 }
partitioner = "murmur2"
acks = "all"
idempotence = true
transaction_messages = 100
transaction_abort = 0.1
[consumers]
groups = 1
members = 1
isolation = "read_committed"
[run]
warmup = "3s"
duration = "10s"
drain_timeout = "30s"
[[fault]]
at = "5s"
action = "kill"
broker = "leader-of:0"
duration = "3s"
"#;

#[test]
fn transactions_on_a_real_cluster() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();

    // 1. Aborts: invisible to read_committed, visible to read_uncommitted.
    let rows = run(ABORTS, &bootstrap, dir.path(), "aborts");
    assert_eq!(rows.len(), 2);
    let committed = rows
        .iter()
        .find(|r| r.isolation == "read_committed")
        .unwrap();
    let uncommitted = rows
        .iter()
        .find(|r| r.isolation == "read_uncommitted")
        .unwrap();
    show(committed);
    show(uncommitted);
    for r in [committed, uncommitted] {
        assert_eq!((r.transaction_messages, r.transaction_abort), (100, 0.2));
        assert!(r.tx_committed > 0 && r.tx_committed_per_sec > 0.0, "{r:?}");
        assert!(r.tx_aborted > 0 && r.aborted_messages > 0, "{r:?}");
        assert!(
            r.commit_p50_us > 0 && r.commit_max_us >= r.commit_p50_us,
            "{r:?}"
        );
        assert_eq!((r.lost, r.duplicated, r.failed), (0, 0, 0), "{r:?}");
        assert!(!r.flags.contains("drain-timeout"), "{r:?}");
    }
    // One in five aborted, spread evenly: within one transaction per producer of a fifth of
    // the measured ones (the warm-up's transactions count in the spread, not here).
    let ended = (committed.tx_committed + committed.tx_aborted) as i64;
    assert!(
        (ended - 5 * committed.tx_aborted as i64).abs() <= 10,
        "{committed:?}"
    );
    // Every committed measured message read exactly once, no aborted one.
    assert_eq!(committed.aborted_seen, 0, "{committed:?}");
    assert_eq!(
        committed.consumed,
        committed.acked - committed.aborted_messages,
        "{committed:?}"
    );
    // The same load read uncommitted sees the aborted messages: they were written.
    assert!(
        uncommitted.aborted_seen >= uncommitted.aborted_messages,
        "{uncommitted:?}"
    );
    assert_eq!(uncommitted.consumed, uncommitted.acked, "{uncommitted:?}");

    // 2. The leader of partition 0 killed for 3 s, transactions on, read_committed.
    let rows = run(LEADER_KILL, &bootstrap, dir.path(), "leader-kill");
    let r = &rows[0];
    show(r);
    assert_eq!(r.faults, 1, "{r:?}");
    assert!(r.tx_committed > 0, "{r:?}");
    assert_eq!((r.lost, r.duplicated, r.aborted_seen), (0, 0, 0), "{r:?}");
    // Every acked message of a committed transaction was read: the 0 lost above is not a
    // group that stopped early.
    assert_eq!(r.consumed, r.acked - r.aborted_messages, "{r:?}");
}
