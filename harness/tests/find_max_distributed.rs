//! `kbench find-max --shard I/N` against the real cluster: two shard processes search the
//! capacity of one fleet together. Every probe is a distributed cell; each shard publishes its
//! figures on the control topic and every shard judges the merged whole, so both walk the same
//! rates and shard 0's report carries the fleet's figures: offered = the shards' sum, the
//! percentiles those of the shards' histograms added. A shard killed mid-search flags the
//! probe `shard-lost` and the search stops (exit 1), the probes before it intact.

mod common;

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use common::shards::{self, num, Shard};
use kbench::metrics::Percentiles;

/// Two producers and two members: one of each per shard. The generous SLOs keep a loaded
/// 2-core CI host passing; the test checks that the shards agree and add up, not rates.
const FLEET: &str = r#"
name = "fm-shards"
[topic]
partitions = 2
replication_factor = 3
[producers]
count = 2
rate = 200
message_size = 100
acks = "all"
[consumers]
groups = 1
members = 2
[run]
warmup = "1s"
duration = "2s"
drain_timeout = "5s"
# A member killed while its group rebalances holds the others' join (and their close) until
# its session times out: 45 s by default, 6 s here (the broker's minimum).
[client.consumer]
"session.timeout.ms" = 6000
"#;

const SEARCH: &[&str] = &[
    "--slo",
    "p99<5s,e2e_p99<10s",
    "--start",
    "200",
    "--max-rate",
    "800",
    "--max-steps",
    "3",
    "--quiet",
];

/// The histogram of one latency kind over every interval of a probe's interval log.
fn probe_histogram(run_dir: &Path, n: &str, kind: &str) -> hdrhistogram::Histogram<u64> {
    let path = run_dir
        .join("cells")
        .join("base")
        .join(format!("probe-{n}"))
        .join(format!("{kind}.hlog"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (_, intervals) = kbench::rundir::hlog::parse(&bytes).unwrap();
    kbench::merge::hlogs::total(&intervals).unwrap()
}

fn percentile_columns(row: &HashMap<String, String>, kind: &str) -> Vec<u64> {
    ["p50", "p90", "p99", "p999", "p9999", "max"]
        .iter()
        .map(|p| num(row, &format!("{kind}_{p}_us")))
        .collect()
}

fn as_columns(p: &Percentiles) -> Vec<u64> {
    vec![p.p50, p.p90, p.p99, p.p999, p.p9999, p.max]
}

#[test]
fn two_shards_search_one_fleet_and_agree_on_every_probe() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let mut shards = shards::start(
        &bootstrap,
        dir.path(),
        "find-max",
        SEARCH,
        FLEET,
        2,
        "30s",
        &[],
    );
    for s in &mut shards {
        let (code, out) = s.wait(Duration::from_secs(120));
        assert_eq!(code, Some(0), "{out}");
    }
    let probes: Vec<_> = shards.iter().map(|s| s.table("findmax.csv")).collect();
    let (p0, p1) = (&probes[0], &probes[1]);
    assert!((1..=3).contains(&p0.len()), "{}", shards[0].output());
    assert_eq!(p0.len(), p1.len(), "both shards ran every probe");
    for (a, b) in p0.iter().zip(p1) {
        // The same walk: one verdict on the fleet, taken by both.
        for k in ["probe", "rate", "phase", "pass", "reason"] {
            assert_eq!(a[k], b[k], "probe {}: {k}", a["probe"]);
        }
        assert_eq!(num(a, "shards"), 2);
        // acks=all: no failed send; a shard cannot tell a message lost (only every shard's
        // reads together could), so none is ever counted as lost on one shard's evidence.
        assert_eq!((num(a, "failed"), num(a, "lost")), (0, 0), "{a:?}");
        // Shard 0's figures are the fleet's: the shards' own counts added.
        for k in ["offered", "acked"] {
            let sum = num(a, &format!("shard_{k}")) + num(b, &format!("shard_{k}"));
            assert_eq!(num(a, k), sum, "probe {}: {k}", a["probe"]);
            assert_eq!(num(b, k), sum, "shard 1 holds the same fleet figures");
        }
        // One producer each: both shards offered load.
        assert!(num(a, "shard_offered") > 0 && num(b, "shard_offered") > 0);
        // The fleet's percentiles are those of the shards' histograms added (each shard's
        // own interval logs), never one shard's or an average.
        for kind in ["publish", "e2e"] {
            let mut fleet = kbench::merge::hlogs::empty();
            for s in &shards {
                let h = probe_histogram(&s.run_dir(), &a["probe"], kind);
                fleet.add(&h).unwrap();
            }
            assert!(!fleet.is_empty(), "probe {}: no {kind} samples", a["probe"]);
            assert_eq!(
                percentile_columns(a, kind),
                as_columns(&Percentiles::of(&fleet)),
                "probe {}: {kind} percentiles",
                a["probe"]
            );
        }
    }
    // The same answer on both, and shard 0's summary says it.
    let sums: Vec<_> = shards
        .iter()
        .map(|s| s.table("findmax-summary.csv"))
        .collect();
    assert_eq!(sums[0].len(), 1);
    for k in ["max_rate", "bound", "stop", "probes", "publish_p99_us"] {
        assert_eq!(sums[0][0][k], sums[1][0][k], "{k}");
    }
    assert!(shards[0].run_dir().join("summary.md").is_file());
    // Shard 0 made every probe's topic and the control topic; shard 1 none.
    let topics =
        |s: &Shard| std::fs::read_to_string(s.run_dir().join("topics.txt")).unwrap_or_default();
    assert_eq!(topics(&shards[0]).lines().count(), p0.len() + 1);
    assert!(topics(&shards[0]).contains("kbench-control-"));
    assert_eq!(topics(&shards[1]), "");
    for (i, s) in shards.iter().enumerate() {
        let m = s.manifest();
        assert_eq!(m["shard"]["index"], i as u64);
        assert_eq!(m["shard"]["count"], 2);
        assert!(m["find_max"]["slo"].is_array(), "{m}");
        let name = s
            .run_dir()
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with(&format!("fm-shards-findmax-shard{i}-")),
            "{name}"
        );
    }
}

#[test]
fn a_shard_killed_mid_search_flags_the_probe_and_stops_the_search() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let mut shards = shards::start(
        &bootstrap,
        dir.path(),
        "find-max",
        SEARCH,
        FLEET,
        2,
        "10s",
        &[],
    );
    // Kill shard 1 (SIGKILL) once its first probe is judged: probe 2 is then under way.
    shards[1].wait_for_output("cell base probe  1 ");
    std::thread::sleep(Duration::from_secs(1));
    shards[1].child.kill().unwrap();
    let _ = shards[1].child.wait();
    // The rest of probe 2, one barrier timeout (10 s), the dead member's session (6 s) if it
    // died in a rebalance, and slack for a busy host (CI once needed more than 60 s with the
    // default 45 s session).
    let (code, out) = shards[0].wait(Duration::from_secs(90));
    assert_eq!(code, Some(1), "the search stops cleanly: {out}");
    assert!(out.contains("lost"), "{out}");
    let probes = shards[0].table("findmax.csv");
    assert_eq!(probes.len(), 2, "no probe after the lost one: {out}");
    // The finished probe is intact and judged on both shards' figures.
    assert!(
        !probes[0]["flags"].contains("shard-lost"),
        "{:?}",
        probes[0]
    );
    assert_eq!(num(&probes[0], "shards"), 2);
    assert!(probes[1]["flags"].contains("shard-lost"), "{:?}", probes[1]);
    assert_eq!(probes[1]["pass"], "false");
    let summary = shards[0].table("findmax-summary.csv");
    assert_eq!(summary[0]["stop"], "shard-lost");
}

#[test]
fn a_shard_with_other_search_options_is_refused() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let other: Vec<&str> = SEARCH
        .iter()
        .map(|a| if *a == "200" { "300" } else { a })
        .collect();
    let mut shards = shards::start_each(
        &bootstrap,
        dir.path(),
        "find-max",
        &[SEARCH, &other],
        FLEET,
        "5s",
        &[],
    );
    let (code, out) = shards[1].wait(Duration::from_secs(60));
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("other find-max settings"), "{out}");
    assert!(out.contains("\"start\":300.0"), "{out}");
    // Shard 0 never sees it ready: lost in the first probe, the search stops.
    let (code, out) = shards[0].wait(Duration::from_secs(60));
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn find_max_shard_flags_are_usage_errors_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let smoke = common::workspace_root().join("scenarios/smoke.toml");
    let auto = dir.path().join("auto.toml");
    std::fs::write(&auto, "name = \"auto\"\n[topic]\ncreate = \"auto\"\n").unwrap();
    // Port 1: nothing listens there, so reaching the cluster would be a different error.
    for (file, extra, says) in [
        (&smoke, &["--shard", "0/2"][..], "--run-id"),
        (&smoke, &["--run-id", "r"][..], "--shard"),
        (
            &smoke,
            &["--shard", "0/2", "--run-id", "a b"][..],
            "--run-id",
        ),
        (
            &auto,
            &["--shard", "0/2", "--run-id", "r"][..],
            "not supported with --shard",
        ),
    ] {
        let mut args = vec![
            "find-max",
            file.to_str().unwrap(),
            "--slo",
            "p99<1s",
            "--bootstrap",
            "127.0.0.1:1",
        ];
        args.extend(extra);
        let o = common::kbench(&args, &[]);
        assert_eq!(o.status.code(), Some(2), "{extra:?}: {}", common::text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says), "{extra:?}: {err}");
    }
}
