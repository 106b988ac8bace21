//! `kbench run scenarios/smoke.toml` against the real cluster writes a results row whose
//! numbers add up, a time series, interval logs, a manifest, a PNG, and librdkafka's
//! statistics of each client when the scenario asks for them.

mod common;
use common::{kbench, text, workspace_root};

#[test]
fn smoke_run_writes_consistent_reports() {
    let bootstrap = common::require_cluster!();
    let reports = tempfile::tempdir().unwrap();
    // The shipped smoke, with librdkafka's statistics turned on for both clients.
    let smoke = std::fs::read_to_string(workspace_root().join("scenarios/smoke.toml")).unwrap();
    let scenario = reports.path().join("smoke-stats.toml");
    std::fs::write(
        &scenario,
        format!(
            "{smoke}\n[client.producer]\n\"statistics.interval.ms\" = 1000\n\
             [client.consumer]\n\"statistics.interval.ms\" = 1000\n"
        ),
    )
    .unwrap();
    let o = kbench(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--bootstrap",
            &bootstrap,
            "--reports",
            reports.path().to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_dir = std::fs::read_dir(reports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();

    let mut csv = csv::Reader::from_path(run_dir.join("results.csv")).unwrap();
    let headers = csv.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    let get = |k: &str| -> f64 {
        let i = headers
            .iter()
            .position(|h| h == k)
            .unwrap_or_else(|| panic!("column {k}"));
        rows[0][i]
            .parse()
            .unwrap_or_else(|_| panic!("{k} = {:?}", &rows[0][i]))
    };
    let (sent, acked, consumed) = (get("sent"), get("acked"), get("consumed"));
    // 2000 msg/s for 5 s after warm-up.
    assert!(acked > 5_000.0, "acked {acked}");
    assert_eq!(
        sent, acked,
        "acks=all on a healthy cluster: every measured send acked"
    );
    assert_eq!(consumed, acked, "the group consumed every measured message");
    assert!(get("publish_p50_us") > 0.0 && get("publish_p50_us") <= get("publish_p99_us"));
    assert!(get("publish_p99_us") <= get("publish_p999_us"));
    assert!(
        get("e2e_p50_us") >= get("publish_p50_us") * 0.5,
        "e2e follows publish"
    );
    assert!(
        (get("acked_per_sec") - 2000.0).abs() < 400.0,
        "rate {}",
        get("acked_per_sec")
    );

    let ts = std::fs::read_to_string(run_dir.join("timeseries.csv")).unwrap();
    assert!(
        ts.contains(",warmup,") && ts.contains(",measure,") && ts.contains(",drain,"),
        "{ts}"
    );
    for f in [
        "manifest.json",
        "cells/base/publish.hlog",
        "cells/base/e2e.hlog",
        "topics.txt",
    ] {
        assert!(run_dir.join(f).exists(), "{f}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["brokers"], 3);
    assert!(manifest["librdkafka_version"]
        .as_str()
        .unwrap()
        .starts_with('2'));
    check_cluster_facts(&manifest, &String::from_utf8_lossy(&o.stdout));
    let png = std::fs::read(run_dir.join("charts/latency-by-cell.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 10_000, "a real chart, not an empty image");
    let summary = std::fs::read_to_string(run_dir.join("summary.md")).unwrap();
    assert!(summary.contains("base"), "{summary}");
    assert!(run_dir.join("charts/timeseries/base.png").exists());
    check_librdkafka_statistics(&run_dir.join("cells/base/librdkafka"), acked);
}

/// Each client's statistics are librdkafka's own JSON, one document a line, once a second
/// over the cell's ~10 s: the producer's say it sent at least the measured messages.
fn check_librdkafka_statistics(dir: &std::path::Path, acked: f64) {
    let docs = |client: &str| -> Vec<serde_json::Value> {
        let path = dir.join(format!("{client}.jsonl"));
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        text.lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{client}: {e}: {l}")))
            .collect()
    };
    let producer = docs("kbench-producer-0");
    let consumer = docs("kbench-consumer-0-0");
    for (docs, kind) in [(&producer, "producer"), (&consumer, "consumer")] {
        assert!(docs.len() >= 5, "{kind}: {} documents", docs.len());
        assert!(docs.iter().all(|d| d["type"] == kind), "{kind}");
    }
    let txmsgs = producer.last().unwrap()["txmsgs"].as_f64().unwrap();
    assert!(
        txmsgs >= acked,
        "librdkafka sent {txmsgs}, kbench counted {acked} acked"
    );
    let rxmsgs = consumer.last().unwrap()["rxmsgs"].as_f64().unwrap();
    assert!(
        rxmsgs > 0.0,
        "the consumer's statistics show messages received"
    );
}

/// The manifest's `cluster` section is the cluster's own answers: three brokers, a version
/// bound, a controller among them, each broker's auto-creation settings; the run warns about
/// auto-creation exactly when a broker has it on. And kbench's git revision is recorded.
fn check_cluster_facts(manifest: &serde_json::Value, stdout: &str) {
    let c = &manifest["cluster"];
    let brokers = c["brokers"].as_array().expect("cluster.brokers");
    let ids: Vec<i64> = brokers.iter().map(|b| b["id"].as_i64().unwrap()).collect();
    assert_eq!(ids.len(), 3, "{c:#}");
    let version = c["kafka_version_at_least"].as_str().unwrap_or("");
    assert!(!version.is_empty(), "no Kafka version: {c:#}");
    assert!(!c["kafka_version_basis"].as_str().unwrap().is_empty());
    let controller = c["metadata_controller_id"].as_i64().expect("controller id");
    assert!(
        ids.contains(&controller),
        "controller {controller} not in {ids:?}"
    );
    let mut auto_create = false;
    for b in brokers {
        let on = b["auto_create_topics_enable"].as_bool();
        auto_create |= on.unwrap_or_else(|| panic!("no auto.create.topics.enable: {c:#}"));
        assert!(b["num_partitions"].as_i64().unwrap() >= 1, "{b}");
        assert!(
            b["default_replication_factor"].as_i64().unwrap() >= 1,
            "{b}"
        );
        assert!(b.get("rack").is_some(), "{b}");
    }
    assert!(c.get("errors").is_none(), "{c:#}");
    assert_eq!(
        stdout.contains("warning: auto.create.topics.enable is true"),
        auto_create,
        "{stdout}"
    );
    let rev = manifest["kbench_git_revision"].as_str().unwrap();
    assert!(!rev.is_empty());
    if workspace_root().join(".git").exists() {
        assert!(rev.chars().all(|c| c.is_ascii_hexdigit()), "{rev}");
    }
}

#[test]
fn every_shipped_scenario_validates_and_a_bad_one_exits_2() {
    for entry in std::fs::read_dir(workspace_root().join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let o = kbench(&["validate", path.to_str().unwrap()], &[]);
            assert_eq!(o.status.code(), Some(0), "{}: {}", path.display(), text(&o));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"bad\"\n[producers]\nacks = \"2\"\n").unwrap();
    let o = kbench(&["validate", bad.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad.toml:3") && err.contains("producers.acks"),
        "{err}"
    );
}

#[test]
fn an_unreachable_cluster_is_a_clear_error_within_15_s() {
    let scenario = workspace_root().join("scenarios/smoke.toml");
    let t = std::time::Instant::now();
    let o = kbench(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--bootstrap",
            "127.0.0.1:1",
            "--quiet",
        ],
        &[],
    );
    assert!(t.elapsed().as_secs() < 15, "took {:?}", t.elapsed());
    assert_ne!(o.status.code(), Some(0));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("127.0.0.1:1") && err.contains("unreachable"),
        "{err}"
    );
}
