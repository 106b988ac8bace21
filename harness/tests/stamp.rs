//! kbench's stamp as the broker stores it, read back with a plain rdkafka consumer: every
//! record's value is exactly the size the scenario asks (the stamp in its first bytes, a file's
//! line keeping every byte after it), or, with `stamp = "header"`, the value untouched and the
//! stamp in the `kbench` header; every acknowledged sequence number is there once, also when
//! values are sent from reused slots without a copy; and a size too small for the stamp is
//! refused before any load.

mod common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{kbench, random_topic, text};
use kbench::cluster::admin::Admin;
use kbench::fleet::payload::stamp::{self, Stamp, StampClock, STAMP_LEN};
use kbench::rundir::rows::{read_csv, ResultRow};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

/// One record as the broker holds it.
struct Record {
    value: Vec<u8>,
    /// The stamp in the `kbench` header's value, if the record has that header.
    header: Option<Vec<u8>>,
}

/// Every record of `topic` (`partitions` partitions), read from the start with a plain
/// consumer (no group) up to the end offsets as they are now.
fn read_back(bootstrap: &str, topic: &str, partitions: i32) -> Vec<Record> {
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .set("log_level", "3")
        .create()
        .unwrap();
    let mut tpl = TopicPartitionList::new();
    let mut remaining = 0i64;
    let mut ends = BTreeMap::new();
    for p in 0..partitions {
        let (low, high) = c
            .fetch_watermarks(topic, p, Duration::from_secs(10))
            .unwrap();
        tpl.add_partition_offset(topic, p, Offset::Beginning)
            .unwrap();
        remaining += high - low;
        ends.insert(p, high);
    }
    c.assign(&tpl).unwrap();
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while remaining > 0 {
        assert!(
            Instant::now() < deadline,
            "{remaining} records of {topic} never read"
        );
        let Some(m) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap();
        if m.offset() >= ends[&m.partition()] {
            continue;
        }
        remaining -= 1;
        let header = m.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == stamp::HEADER_KEY)
                .and_then(|h| h.value.map(<[u8]>::to_vec))
        });
        out.push(Record {
            value: m.payload().unwrap_or_default().to_vec(),
            header,
        });
    }
    out
}

/// Runs `scenario` on the existing `topic` (or on topics of its own) and returns its result
/// rows, each checked for exact delivery.
fn run_on(bootstrap: &str, dir: &Path, topic: Option<&str>, scenario: &str) -> Vec<ResultRow> {
    let file = dir.join("stamp.toml");
    let topic = topic
        .map(|t| format!("[topic]\nexisting = \"{t}\"\n"))
        .unwrap_or_default();
    std::fs::write(&file, format!("name = \"stamp\"\n{topic}{scenario}")).unwrap();
    let reports = dir.join("reports");
    let o = kbench(
        &[
            "run",
            file.to_str().unwrap(),
            "--bootstrap",
            bootstrap,
            "--reports",
            reports.to_str().unwrap(),
            "--quiet",
            "--allow-existing-topic",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_dir: PathBuf = std::fs::read_dir(&reports)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("results.csv").exists())
        .unwrap();
    let rows: Vec<ResultRow> = read_csv(&run_dir.join("results.csv")).unwrap();
    std::fs::remove_dir_all(&reports).unwrap();
    for r in &rows {
        assert!(r.acked > 100, "{}: acked {}", r.cell, r.acked);
        assert_eq!((r.failed, r.lost, r.duplicated), (0, 0, 0), "{r:?}");
        assert_eq!(r.consumed, r.acked, "{r:?}");
    }
    rows
}

fn admin(bootstrap: &str) -> Admin {
    Admin::new(
        &kbench::cluster::Access::plaintext(bootstrap),
        &BTreeMap::new(),
    )
    .unwrap()
}

fn create_topic(admin: &Admin, prefix: &str, partitions: i32) -> String {
    let topic = random_topic(prefix);
    admin
        .create_topic(
            &topic,
            partitions,
            3,
            &BTreeMap::new(),
            Duration::from_secs(30),
        )
        .unwrap();
    topic
}

/// The run tags of the stamps in `records`, each with its records' stamps.
fn by_run_tag<'a>(
    records: &'a [Record],
    stamp_of: impl Fn(&'a Record) -> Stamp,
) -> BTreeMap<u32, Vec<(&'a Record, Stamp)>> {
    let mut out: BTreeMap<u32, Vec<(&Record, Stamp)>> = BTreeMap::new();
    for r in records {
        let s = stamp_of(r);
        out.entry(s.producer.run_tag()).or_default().push((r, s));
    }
    out
}

/// Each producer's sequence numbers are 0..n, every one exactly once.
fn sequences_are_complete(cell: &[(&Record, Stamp)], producers: u16) {
    let mut seqs: BTreeMap<u16, BTreeSet<u64>> = BTreeMap::new();
    for (_, s) in cell {
        assert_eq!(s.producer.shard(), 0);
        assert_eq!(s.clock, StampClock::Monotonic);
        assert!(s.producer.index() < producers, "{s:?}");
        assert!(
            seqs.entry(s.producer.index()).or_default().insert(s.seq),
            "{s:?} twice on the broker"
        );
    }
    assert_eq!(seqs.len(), producers as usize, "every producer wrote");
    for (p, set) in seqs {
        let n = set.len() as u64;
        assert_eq!(
            set.last().copied(),
            Some(n - 1),
            "producer {p}: a gap in 0..{n}"
        );
    }
}

#[test]
fn every_record_on_the_broker_is_exactly_message_size_bytes_with_the_stamp_inside() {
    let bootstrap = common::require_cluster!();
    let admin = admin(&bootstrap);
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..7)
        .map(|i| format!("{i:02} {}", "line of a replayed log ".repeat(2 + i)))
        .collect();
    std::fs::write(dir.path().join("lines.log"), lines.join("\n")).unwrap();

    // Four cells on one topic, told apart by the run tag each cell draws for its stamps.
    let topic = create_topic(&admin, "stamp-value", 3);
    let rows = run_on(
        &bootstrap,
        dir.path(),
        Some(&topic),
        r#"
[producers]
count = 2
rate = 400
acks = "all"
idempotence = true
[consumers]
groups = 1
members = 1
start_from = "earliest"
[run]
warmup = "1s"
duration = "2s"
[sweep]
message_size = [28, 1000, { min = 28, max = 64 }, { file = "lines.log" }]
"#,
    );
    let records = read_back(&bootstrap, &topic, 3);
    let cells = by_run_tag(&records, |r| {
        assert!(r.header.is_none(), "no kbench header in value mode");
        Stamp::decode(&r.value).expect("every value starts with a stamp")
    });
    assert_eq!(cells.len(), 4, "one run tag per cell");
    let mut seen = BTreeSet::new();
    for cell in cells.values() {
        sequences_are_complete(cell, 2);
        let sizes: BTreeSet<usize> = cell.iter().map(|(r, _)| r.value.len()).collect();
        let kind = if sizes == BTreeSet::from([28]) {
            "fixed 28"
        } else if sizes == BTreeSet::from([1000]) {
            "fixed 1000"
        } else if cell.iter().all(|(r, _)| {
            lines.iter().any(|l| {
                l.len() == r.value.len() && l.as_bytes()[STAMP_LEN..] == r.value[STAMP_LEN..]
            })
        }) {
            // The file's lines, each with its first 28 bytes replaced by the stamp.
            assert_eq!(sizes.len(), lines.len(), "every line was sent");
            "file lines"
        } else {
            assert!(sizes.iter().all(|n| (28..=64).contains(n)), "{sizes:?}");
            assert!(sizes.len() > 20, "sizes spread over the range: {sizes:?}");
            "uniform 28..64"
        };
        assert!(seen.insert(kind), "{kind} twice");
    }
    // Every acknowledged record is on the broker (warm-up acks come on top of these).
    let acked: u64 = rows.iter().map(|r| r.acked).sum();
    assert!(
        records.len() as u64 >= acked,
        "{} records, {acked} acked",
        records.len()
    );
    admin
        .delete_topics(&[topic.as_str()], Duration::from_secs(30))
        .unwrap();
}

#[test]
fn the_header_form_leaves_values_as_the_scenario_makes_them() {
    let bootstrap = common::require_cluster!();
    let admin = admin(&bootstrap);
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic(&admin, "stamp-header", 2);
    // 10-byte values: too small for the stamp in the value, fine beside it.
    run_on(
        &bootstrap,
        dir.path(),
        Some(&topic),
        r#"
[producers]
rate = 300
message_size = 10
stamp = "header"
acks = "all"
idempotence = true
[consumers]
groups = 1
members = 1
start_from = "earliest"
[run]
warmup = "1s"
duration = "2s"
"#,
    );
    let records = read_back(&bootstrap, &topic, 2);
    let cells = by_run_tag(&records, |r| {
        assert_eq!(r.value.len(), 10, "the value is exactly message_size");
        let h = r.header.as_deref().expect("the kbench header");
        assert_eq!(h.len(), STAMP_LEN);
        Stamp::decode(h).expect("a stamp in the header")
    });
    assert_eq!(cells.len(), 1);
    sequences_are_complete(cells.values().next().unwrap(), 1);
    admin
        .delete_topics(&[topic.as_str()], Duration::from_secs(30))
        .unwrap();
}

#[test]
fn a_message_size_too_small_for_the_stamp_exits_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("small.toml");
    std::fs::write(
        &file,
        "name = \"small\"\n[producers]\nrate = 10\nmessage_size = { min = 16, max = 100 }\n",
    )
    .unwrap();
    let o = kbench(&["validate", file.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    let at = format!("{}:4: key 'producers.message_size'", file.display());
    assert!(err.contains(&at), "{at:?} in {}", text(&o));
    assert!(err.contains("min 16 B is too small"), "{}", text(&o));
    assert!(err.contains("28-byte stamp"), "{}", text(&o));
    assert!(err.contains("stamp = \"header\""), "{}", text(&o));
}

#[test]
fn max_rate_delivery_reports_restore_seq_and_time_from_the_opaque() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    // At max rate the opaque carries 24 bits of the sequence number and 40 of the send time:
    // a wrong restore would show as acked messages never consumed (lost), or as absurd
    // publish latencies.
    let rows = run_on(
        &bootstrap,
        dir.path(),
        None,
        r#"
[topic]
partitions = 3
replication_factor = 3
[producers]
count = 2
message_size = 100
acks = "all"
idempotence = true
[consumers]
groups = 1
members = 1
[run]
warmup = "1s"
messages = 60000
"#,
    );
    let r = &rows[0];
    assert!(r.acked >= 60_000, "{r:?}");
    assert!(
        r.publish_p50_us > 0 && r.publish_max_us < 60_000_000,
        "publish latency from the restored send time: {r:?}"
    );
    // No schedule, so nothing is late: a wait for room in the full queue is the cluster's
    // back-pressure, not a late send (and the send loop reads the clock once per message).
    assert_eq!((r.late_sends, r.max_send_lag_us), (0, 0), "{r:?}");
}

/// At max rate, generated values are sent from a ring of slots without a copy
/// (`fleet::value_slots`); a slot is built again only after the delivery report of the message
/// it last held. A 4 MiB queue makes the ring 5 MiB (5,120 slots for 1000-byte values), so
/// 40,000 messages go round it almost eight times with up to 4 MiB in flight: a slot rebuilt
/// too early would put one message's stamp on the broker twice and lose another's.
#[test]
fn values_sent_from_reused_slots_reach_the_broker_intact() {
    let bootstrap = common::require_cluster!();
    let admin = admin(&bootstrap);
    let dir = tempfile::tempdir().unwrap();
    let topic = create_topic(&admin, "stamp-slots", 3);
    let rows = run_on(
        &bootstrap,
        dir.path(),
        Some(&topic),
        r#"
[producers]
count = 1
rate = "max"
message_size = 1000
acks = "1"
[consumers]
groups = 1
members = 1
start_from = "earliest"
[run]
warmup = "0s"
messages = 40000
[client.producer]
"queue.buffering.max.kbytes" = 4096
"#,
    );
    let records = read_back(&bootstrap, &topic, 3);
    let cells = by_run_tag(&records, |r| {
        Stamp::decode(&r.value).expect("every value starts with a stamp")
    });
    assert_eq!(cells.len(), 1);
    let cell = &cells.values().next().unwrap();
    assert!(cell.len() as u64 >= rows[0].acked, "{} records", cell.len());
    assert!(cell.len() >= 40_000, "{} records", cell.len());
    sequences_are_complete(cell, 1);
    assert!(cell.iter().all(|(r, _)| r.value.len() == 1000));
    // Consecutive messages carry different random bytes after the stamp (their own slots).
    let body: BTreeMap<u64, &[u8]> = cell
        .iter()
        .map(|(r, s)| (s.seq, &r.value[STAMP_LEN..]))
        .collect();
    let repeats = (1..body.len() as u64)
        .filter(|seq| body[seq] == body[&(seq - 1)])
        .count();
    assert_eq!(repeats, 0, "consecutive values with the same bytes");
    admin
        .delete_topics(&[topic.as_str()], Duration::from_secs(30))
        .unwrap();
}
