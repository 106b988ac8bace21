//! Distributed runs against the real cluster: shard processes of `kbench run --shard I/N`
//! that keep in step through the control topic. Together they offer exactly the scenario's
//! load; a shard killed mid-cell does not hang the others; a skewed clock is measured.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::shards::{self, num, read_table as read_rows, Shard};

/// 3 producers at 500 msg/s each, 3000 measured messages per cell (no warm-up, so every
/// message is measured), one group of 3 members: one producer and one member per shard.
const SWEEP: &str = r#"
name = "shards"
[topic]
partitions = 3
replication_factor = 3
[producers]
count = 3
rate = 1500
message_size = 100
acks = "all"
[consumers]
groups = 1
members = 3
[run]
warmup = "0s"
messages = 3000
drain_timeout = "10s"
[sweep]
partitions = [3, 6]
"#;

/// One long cell, so that a shard can be killed in the middle of it.
const LONG: &str = r#"
name = "shards-kill"
[topic]
partitions = 3
replication_factor = 3
[producers]
count = 3
rate = 300
message_size = 100
acks = "all"
[consumers]
groups = 1
members = 3
[run]
warmup = "0s"
duration = "8s"
drain_timeout = "3s"
[sweep]
partitions = [3, 6]
"#;

/// Two short cells of an exact budget (900 msg/s, 3 s), for a run killed and resumed.
const RESUME: &str = r#"
name = "shards-resume"
[topic]
partitions = 3
replication_factor = 3
[producers]
count = 3
rate = 900
message_size = 100
acks = "all"
[consumers]
groups = 1
members = 3
[run]
warmup = "0s"
messages = 2700
drain_timeout = "10s"
[sweep]
partitions = [3, 6]
"#;

/// The same load in one cell, for the skewed clock.
const ONE: &str = r#"
name = "shards-skew"
[topic]
partitions = 2
replication_factor = 3
[producers]
count = 2
rate = 1000
message_size = 100
acks = "all"
[consumers]
groups = 1
members = 2
[run]
warmup = "0s"
messages = 2000
drain_timeout = "10s"
"#;

fn start_shards(
    bootstrap: &str,
    dir: &Path,
    scenario: &str,
    count: u16,
    barrier_timeout: &str,
    env: &[(u16, &str, &str)],
) -> Vec<Shard> {
    shards::start(
        bootstrap,
        dir,
        "run",
        &[],
        scenario,
        count,
        barrier_timeout,
        env,
    )
}

type Row = std::collections::HashMap<String, String>;

/// `kbench merge OUT` of the shards' run directories, which must succeed; the merged rows.
fn merge(shards: &[Shard], merged: &Path) -> Vec<Row> {
    let mut args = vec!["merge".to_string(), merged.to_str().unwrap().to_string()];
    args.extend(
        shards
            .iter()
            .map(|s| s.run_dir().to_str().unwrap().to_string()),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = common::kbench(&args, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
    read_rows(&merged.join("results.csv"))
}

/// How many end-to-end latencies a merged cell's `e2e.hlog` holds.
fn e2e_count(merged: &Path, cell: &str) -> u64 {
    let hlog = merged.join("cells").join(cell).join("e2e.hlog");
    let intervals = kbench::rundir::hlog::parse(&std::fs::read(&hlog).unwrap())
        .unwrap()
        .1;
    intervals.iter().map(|i| i.histogram.len()).sum()
}

#[test]
fn three_shards_offer_exactly_the_scenarios_load() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let mut shards = start_shards(&bootstrap, dir.path(), SWEEP, 3, "30s", &[]);
    for s in &mut shards {
        let (code, out) = s.wait(Duration::from_secs(120));
        assert_eq!(code, Some(0), "{out}");
    }
    let rows: Vec<_> = shards.iter().map(Shard::rows).collect();
    for cell in 0..2 {
        let sum = |k: &str| rows.iter().map(|r| num(&r[cell], k)).sum::<u64>();
        assert_eq!(sum("offered"), 3000, "cell {cell}: offered across shards");
        assert_eq!(sum("sent"), 3000);
        assert_eq!(sum("acked"), 3000, "acks=all: every message acked");
        assert_eq!(sum("failed"), 0);
        assert_eq!(
            sum("consumed"),
            3000,
            "the group read every message: 0 lost"
        );
        for (i, r) in rows.iter().enumerate() {
            let r = &r[cell];
            assert_eq!(num(r, "producers"), 1, "shard {i}'s slice");
            assert!(!r["flags"].contains("shard-lost"), "{:?}", r["flags"]);
            assert_eq!(r["shards_lost"], "");
            assert!(!r["e2e_clock_bound_us"].is_empty(), "the bound is stated");
            assert_eq!(num(r, "consumer_lag"), 0);
        }
    }
    // Shard 0 made the topics (and the control topic) and deleted them; the others none.
    let topics =
        |s: &Shard| std::fs::read_to_string(s.run_dir().join("topics.txt")).unwrap_or_default();
    assert_eq!(
        topics(&shards[0]).lines().count(),
        3,
        "{}",
        topics(&shards[0])
    );
    assert!(topics(&shards[0]).contains("kbench-control-"));
    assert_eq!(topics(&shards[1]), "");
    for (i, s) in shards.iter().enumerate() {
        let m = s.manifest();
        assert_eq!(m["shard"]["index"], i as u64);
        assert_eq!(m["shard"]["count"], 3);
    }
    // One exact report from the three: totals are the scenario's, delivery is accounted
    // across shards (each shard's member read other shards' producers), and the merged
    // end-to-end histogram holds every consumed message.
    let merged = dir.path().join("merged");
    let rows = merge(&shards, &merged);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        for (k, want) in [("offered", 3000), ("acked", 3000), ("consumed", 3000)] {
            assert_eq!(num(r, k), want, "merged {k} of {}", r["cell"]);
        }
        for k in ["lost", "duplicated", "failed", "producers"] {
            let want = if k == "producers" { 3 } else { 0 };
            assert_eq!(num(r, k), want, "merged {k} of {}", r["cell"]);
        }
        let count = e2e_count(&merged, &r["cell"]);
        assert_eq!(count, 3000, "{}: e2e histogram count = consumed", r["cell"]);
    }
}

#[test]
fn a_killed_shard_is_flagged_and_the_others_stop_cleanly() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let mut shards = start_shards(&bootstrap, dir.path(), LONG, 3, "10s", &[]);
    // Kill shard 2 once its first cell is under way.
    shards[2].wait_for_measure();
    std::thread::sleep(Duration::from_secs(2));
    shards[2].child.kill().unwrap(); // SIGKILL
    let killed_at = Instant::now();
    for s in &mut shards[..2] {
        // The rest of the cell (8 s), the drain (3 s), one barrier (10 s), and slack. A
        // barrier shorter than 10 s can take a slow survivor for lost on this busy host.
        let (code, out) = s.wait(Duration::from_secs(45));
        assert_eq!(
            code,
            Some(1),
            "the run stops after the lost shard's cell: {out}"
        );
        assert!(out.contains("lost"), "{out}");
    }
    assert!(killed_at.elapsed() < Duration::from_secs(45));
    for s in &shards[..2] {
        let rows = s.rows();
        assert_eq!(rows.len(), 1, "the cell is written, the next one not run");
        assert!(
            rows[0]["flags"].contains("shard-lost"),
            "{:?}",
            rows[0]["flags"]
        );
        assert_eq!(rows[0]["shards_lost"], "2", "{}", s.output());
        assert!(
            num(&rows[0], "acked") > 0,
            "the finished part of the cell is intact"
        );
    }
}

#[test]
fn a_run_whose_shard_0_died_is_finished_by_resuming_every_shard() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let mut shards = start_shards(&bootstrap, dir.path(), RESUME, 3, "10s", &[]);
    // Shard 0, the leader, killed mid-cell 1: its control topic and the cell's topic stay
    // behind (the control topic full of this attempt's messages), the others flag the cell
    // shard-lost and stop; the killed shard has no row at all.
    shards[0].wait_for_measure();
    shards[0].child.kill().unwrap(); // SIGKILL
    let _ = shards[0].child.wait();
    for s in &mut shards[1..] {
        let (code, out) = s.wait(Duration::from_secs(60));
        assert_eq!(code, Some(1), "{out}");
    }
    for s in &shards[1..] {
        let rows = s.rows();
        assert_eq!(rows.len(), 1, "{}", s.output());
        assert_eq!(rows[0]["shards_lost"], "0", "{}", s.output());
    }
    let registered = kbench::rundir::registered_topics(&shards[0].run_dir()).unwrap();
    assert_eq!(
        registered.len(),
        2,
        "the control topic and cell 1's: {registered:?}"
    );

    // Every shard resumed from its own directory, with the same run id.
    let mut again: Vec<Shard> = shards.iter().map(Shard::resumed).collect();
    for s in &mut again {
        let (code, out) = s.wait(Duration::from_secs(90));
        assert_eq!(code, Some(0), "{out}");
        assert!(out.contains("2 cell runs to do on every shard"), "{out}");
    }
    let leader = again[0].output();
    for t in &registered {
        assert!(
            leader.contains(&format!("deleted topic {t} left behind")),
            "{t}: {leader}"
        );
    }
    let admin = kbench::cluster::admin::Admin::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &std::collections::BTreeMap::new(),
    )
    .unwrap();
    let registered = kbench::rundir::registered_topics(&shards[0].run_dir()).unwrap();
    assert!(
        registered.iter().any(|t| t.ends_with("-a2")),
        "attempt 2 has its own control topic: {registered:?}"
    );
    for t in &registered {
        // A deletion reaches every broker's metadata within moments, not at once.
        let deadline = Instant::now() + Duration::from_secs(15);
        while admin
            .describe(t, Duration::from_secs(10))
            .unwrap()
            .is_some()
        {
            assert!(Instant::now() < deadline, "{t} was left behind");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    for (i, s) in shards.iter().enumerate() {
        assert_eq!(s.manifest()["shard"]["attempt"], 2, "shard {i}");
        // Redone cells replaced their rows: each cell once, in results and time series.
        let rows = s.rows();
        let cells: Vec<&str> = rows.iter().map(|r| r["cell"].as_str()).collect();
        assert_eq!(cells, ["partitions-3", "partitions-6"], "shard {i}");
        assert!(
            rows.iter().all(|r| r["shards_lost"].is_empty()),
            "shard {i}"
        );
        let series = read_rows(&s.run_dir().join("timeseries.csv"));
        let mut seen = std::collections::BTreeSet::new();
        for r in &series {
            let at = (r["cell"].clone(), r["t_s"].clone());
            assert!(seen.insert(at.clone()), "shard {i}: {at:?} twice");
        }
    }
    // One exact report: every cell once, none lost, the scenario's load exactly.
    let merged = dir.path().join("merged");
    let rows = merge(&shards, &merged);
    assert_eq!(rows.len(), 2);
    for r in &rows {
        for k in ["offered", "sent", "acked", "consumed"] {
            assert_eq!(num(r, k), 2700, "merged {k} of {}", r["cell"]);
        }
        assert_eq!(num(r, "lost"), 0, "{}", r["cell"]);
        assert!(!r["flags"].contains("shard-lost"), "{:?}", r["flags"]);
        assert_eq!(e2e_count(&merged, &r["cell"]), 2700, "{}", r["cell"]);
    }

    // A directory resumed as another shard, run or scenario: a usage error.
    let (file, run_id) = (shards[0].args[1].as_str(), shards[0].arg("--run-id"));
    let dir0 = shards[0].run_dir();
    let dir0 = dir0.to_str().unwrap();
    let other = dir.path().join("other.toml");
    std::fs::write(&other, RESUME.replace("900", "901")).unwrap();
    let other = other.to_str().unwrap();
    for (scenario, extra, says) in [
        (
            file,
            &["--shard", "1/3", "--run-id", run_id][..],
            "shard 0/3",
        ),
        (
            file,
            &["--shard", "0/3", "--run-id", "another"][..],
            "another",
        ),
        (
            other,
            &["--shard", "0/3", "--run-id", run_id][..],
            "different scenario",
        ),
        (file, &[][..], "--shard 0/3"),
    ] {
        let mut args = vec!["run", scenario, "--bootstrap", &bootstrap, "--resume", dir0];
        args.extend(extra);
        let o = common::kbench(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", common::text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(says),
            "{extra:?}: {}",
            common::text(&o)
        );
    }
}

#[test]
fn cleanup_finds_a_control_topic_on_the_control_cluster() {
    use kbench::cluster::{admin::Admin, Access};
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let admin = Admin::new(&Access::plaintext(&bootstrap), &Default::default()).unwrap();
    let ours = format!("kbench-control-test-{:08x}", rand::random::<u32>());
    let theirs = format!("{ours}-unregistered");
    for t in [&ours, &theirs] {
        let created = admin.create_topic(t, 1, 1, &Default::default(), Duration::from_secs(30));
        created.unwrap();
    }
    std::fs::write(dir.path().join("topics.txt"), format!("{ours}\n")).unwrap();
    let manifest = |control: Option<&str>| {
        let m = serde_json::json!({"run_id": "r", "shard": {"index": 0, "count": 2,
            "distributed_run_id": "x", "control_bootstrap": control}});
        std::fs::write(dir.path().join("manifest.json"), m.to_string()).unwrap();
    };
    // The cluster under test is unreachable: only the recorded control cluster is asked.
    let under_test = Access::plaintext("127.0.0.1:1");
    manifest(None);
    let deleted = kbench::runner::cleanup_control_topics(dir.path(), &under_test).unwrap();
    assert!(
        deleted.is_empty(),
        "no control cluster recorded: {deleted:?}"
    );
    manifest(Some(&bootstrap));
    // A topic created a moment ago can still be missing from the metadata of the broker that
    // answers (seen once in CI on a loaded host): ask again until it shows, within 15 s.
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    let deleted = loop {
        let d = kbench::runner::cleanup_control_topics(dir.path(), &under_test).unwrap();
        if !d.is_empty() || std::time::Instant::now() > deadline {
            break d;
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(deleted, vec![ours]);
    let exists = |t: &str| {
        admin
            .describe(t, Duration::from_secs(10))
            .unwrap()
            .is_some()
    };
    assert!(
        exists(&theirs),
        "a topic not in topics.txt is never deleted"
    );
    admin
        .delete_topics(&[theirs.as_str()], Duration::from_secs(30))
        .unwrap();
}

#[test]
fn a_skewed_clock_is_measured_within_its_bound_and_corrected() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let skew_ms: i64 = 3000;
    let mut shards = start_shards(
        &bootstrap,
        dir.path(),
        ONE,
        2,
        "30s",
        &[(1, "KBENCH_TEST_CLOCK_SKEW_MS", "3000")],
    );
    for s in &mut shards {
        let (code, out) = s.wait(Duration::from_secs(90));
        assert_eq!(code, Some(0), "{out}");
    }
    let m = shards[1].manifest();
    let offset = m["shard"]["clock_offset_ns"].as_i64().unwrap();
    let bound = m["shard"]["clock_offset_bound_ns"].as_i64().unwrap();
    let error = (offset - skew_ms * 1_000_000).abs();
    assert!(
        error <= bound,
        "shard 1 is {skew_ms} ms ahead: measured {offset} ns, bound {bound} ns"
    );
    for s in &shards {
        let rows = s.rows();
        let r = &rows[0];
        // The row's bound comes from the offset measured again just before the cell (the
        // manifest keeps the first measurement): stated, and what corrected the figures below.
        assert!(num(r, "e2e_clock_bound_us") > 0, "{r:?}");
        // Uncorrected, shard 1's member would see shard 0's messages (about half of what it
        // reads) 3 s late, and shard 0's see shard 1's as early as they can be: a p99 of 3 s
        // or more. Corrected, what is left is the host's own delays: the cell has no warm-up,
        // so the group's forming shows (p50 0.28 s, p99 0.38 s alone on this 2-core host;
        // p50 1.21 s, p99 1.87 s once in CI with other tests beside). So the p99 bound sits
        // below the 3 s only an uncorrected skew reaches, and the p50 bound is a sanity check.
        let (p50, p99) = (num(r, "e2e_p50_us"), num(r, "e2e_p99_us"));
        assert!(
            p50 < 2_000_000 && p99 < 2_800_000,
            "e2e p50 {p50} us, p99 {p99} us"
        );
        assert!(num(r, "consumed") > 0);
    }
}

#[test]
fn bad_shard_flags_are_usage_errors_before_any_connection() {
    let scenario = common::workspace_root().join("scenarios/smoke.toml");
    let scenario = scenario.to_str().unwrap();
    // Port 1: nothing listens there, so reaching the cluster would be a different error.
    let base = ["run", scenario, "--bootstrap", "127.0.0.1:1"];
    for (extra, says) in [
        (&["--shard", "0/2"][..], "--run-id"),
        (&["--shard", "2/2", "--run-id", "r"][..], "--shard"),
        (&["--shard", "0/2", "--run-id", "a b"][..], "--run-id"),
        (&["--run-id", "r"][..], "--shard"),
    ] {
        let args: Vec<&str> = base.iter().chain(extra).copied().collect();
        let o = common::kbench(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", common::text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{extra:?}: {err}");
    }
}
