//! A followed file (`message_size = { file = ..., follow = true }`) against the real cluster:
//! while a cell runs, the test appends numbered lines to the file in bursts (one ends on a
//! partial line that is completed later, one comes after the file was rotated), then reads the
//! topic back with a plain consumer: every appended line is there exactly once, byte for byte,
//! in the file's order within each partition, and none of the lines written before kbench
//! opened the file (it follows from the end). The results row counts the same lines.

mod common;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::random_topic;
use kbench::cluster::admin::Admin;
use kbench::fleet::payload::stamp::{self, Stamp};
use kbench::rundir::rows::{read_csv, ResultRow};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::{Offset, TopicPartitionList};

const PARTITIONS: i32 = 2;

/// One record as the broker holds it.
struct Record {
    partition: i32,
    value: Vec<u8>,
    stamp: Option<Stamp>,
}

/// Every record of `topic`, read from the start up to the end offsets as they are now, in
/// offset order within each partition.
fn read_back(bootstrap: &str, topic: &str) -> Vec<Record> {
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
    for p in 0..PARTITIONS {
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
        assert!(Instant::now() < deadline, "{remaining} records never read");
        let Some(m) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m.unwrap();
        if m.offset() >= ends[&m.partition()] {
            continue;
        }
        remaining -= 1;
        let stamp = m.headers().and_then(|h| {
            h.iter()
                .find(|h| h.key == stamp::HEADER_KEY)
                .and_then(|h| h.value.and_then(Stamp::decode))
        });
        out.push(Record {
            partition: m.partition(),
            value: m.payload().unwrap_or_default().to_vec(),
            stamp,
        });
    }
    out
}

fn append(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .unwrap();
    f.write_all(bytes).unwrap();
}

/// Line `i` of the test's log: numbered, of varied length, with bytes a lossy path would
/// change (a tab, UTF-8, a trailing space).
fn line(i: usize) -> String {
    format!(
        "{i:05} level=INFO\tmsg=\"requête traitée\" pad={} ",
        "x".repeat(i % 37)
    )
}

/// Does `pid` hold `path` open? (`/proc/<pid>/fd`: the follower keeps its file open for the
/// whole cell.)
fn holds_open(pid: u32, path: &Path) -> bool {
    // The links name the resolved path (a temporary directory may sit behind a symlink).
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .any(|target| target == path)
}

/// Wait until kbench's producer has the file open: seen twice 50 ms apart, so the brief open
/// of the scenario's validation does not count.
fn wait_until_followed(child: &mut Child, path: &Path, out: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = 0;
    while seen < 2 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "kbench ended ({status}) before following the file:\n{}",
                std::fs::read_to_string(out).unwrap_or_default()
            );
        }
        assert!(Instant::now() < deadline, "kbench never opened the file");
        seen = if holds_open(child.id(), path) {
            seen + 1
        } else {
            0
        };
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn every_appended_line_arrives_once_intact_and_in_order_per_partition() {
    let bootstrap = common::require_cluster!();
    let admin = Admin::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &BTreeMap::new(),
    )
    .unwrap();
    let topic = random_topic("follow");
    admin
        .create_topic(
            &topic,
            PARTITIONS,
            3,
            &BTreeMap::new(),
            Duration::from_secs(30),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    // Written before kbench opens the file: following from the end, never sent.
    append(&log, b"before 1\nbefore 2\n");
    let scenario = dir.path().join("follow.toml");
    std::fs::write(
        &scenario,
        format!(
            r#"name = "follow"
[topic]
existing = "{topic}"
[producers]
count = 1
message_size = {{ file = "app.log", follow = true }}
stamp = "header"
acks = "all"
idempotence = true
[consumers]
groups = 1
members = 1
[run]
warmup = "0s"
duration = "5s"
drain_timeout = "20s"
"#
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let out_path = dir.path().join("kbench.out");
    let out = std::fs::File::create(&out_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kbench"))
        .args([
            "run",
            scenario.to_str().unwrap(),
            "--bootstrap",
            &bootstrap,
            "--reports",
            reports.to_str().unwrap(),
            "--quiet",
            "--allow-existing-topic",
        ])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    wait_until_followed(&mut child, &log, &out_path);
    // Past the cell's start (50 ms after the producer exists): every line is measured.
    std::thread::sleep(Duration::from_millis(150));

    let text = |range: std::ops::Range<usize>| -> String {
        range.map(|i| format!("{}\n", line(i))).collect()
    };
    // Burst 1: 100 whole lines, an empty one among them (not a message).
    append(
        &log,
        format!("{}\n{}", text(0..50), text(50..100)).as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(200));
    // Burst 2: ends in the middle of line 199, which waits for its newline...
    let partial = line(199);
    let (head, rest) = partial.split_at(9);
    append(&log, format!("{}{head}", text(100..199)).as_bytes());
    std::thread::sleep(Duration::from_millis(300));
    // ...completed with burst 3 (Windows line ends too: the '\r' is not content).
    append(
        &log,
        format!("{rest}\n{}", text(200..300).replace('\n', "\r\n")).as_bytes(),
    );
    std::thread::sleep(Duration::from_millis(200));
    // Rotation: the file is renamed and a new one written; its lines are followed as well.
    std::fs::rename(&log, dir.path().join("app.log.1")).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    append(&log, text(300..400).as_bytes());
    const N: usize = 400;

    let status = child.wait().unwrap();
    let output = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{output}");
    let run_dir: PathBuf = std::fs::read_dir(&reports)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("results.csv").exists())
        .expect("a run directory");
    let rows: Vec<ResultRow> = read_csv(&run_dir.join("results.csv")).unwrap();
    let records = read_back(&bootstrap, &topic);
    admin
        .delete_topics(&[topic.as_str()], Duration::from_secs(30))
        .unwrap();

    // On the broker: each line once, byte for byte, nothing else.
    let want: BTreeSet<Vec<u8>> = (0..N).map(|i| line(i).into_bytes()).collect();
    let got: Vec<&Vec<u8>> = records.iter().map(|r| &r.value).collect();
    let distinct: BTreeSet<Vec<u8>> = got.iter().map(|v| v.to_vec()).collect();
    assert_eq!(got.len(), distinct.len(), "a line arrived twice");
    let missing: Vec<String> = want
        .difference(&distinct)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    let extra: Vec<String> = distinct
        .difference(&want)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, unexpected {extra:?}\n{output}"
    );
    // In the file's order within each partition, each record carrying kbench's stamp (the
    // sequence number in the header follows the file's order too).
    let mut last: BTreeMap<i32, (usize, u64)> = BTreeMap::new();
    for r in &records {
        let n: usize = String::from_utf8_lossy(&r.value[..5]).parse().unwrap();
        let st = r.stamp.expect("every record has the kbench header");
        if let Some((prev_n, prev_seq)) = last.get(&r.partition) {
            assert!(
                n > *prev_n && st.seq > *prev_seq,
                "partition {}: line {n} after line {prev_n}",
                r.partition
            );
        }
        last.insert(r.partition, (n, st.seq));
    }
    let seqs: BTreeSet<u64> = records
        .iter()
        .filter_map(|r| r.stamp.map(|s| s.seq))
        .collect();
    assert_eq!(
        seqs,
        (0..N as u64).collect(),
        "one sequence number per line"
    );

    // The results row counts the same lines: seen (offered), sent, acked and consumed, the
    // rotation reported, nothing left unsent.
    let [row] = &rows[..] else {
        panic!("one cell: {rows:?}")
    };
    let n = N as u64;
    assert_eq!(
        (row.offered, row.sent, row.acked, row.consumed),
        (n, n, n, n),
        "{row:?}"
    );
    assert_eq!(
        (
            row.failed,
            row.unsent,
            row.lost,
            row.duplicated,
            row.reordered
        ),
        (0, 0, 0, 0, 0)
    );
    assert_eq!(row.follow_reopens, 1, "the rotation: {row:?}");
    assert_eq!(row.follow_unsent_bytes, 0, "{row:?}");
    assert!(
        row.message_size.starts_with("follow-end:"),
        "{}",
        row.message_size
    );
}
