//! `kbench find-max` against the real cluster: a tiny search (3 probes of 2 s from 500 msg/s)
//! writes its CSVs, chart and manifest, and the reported maximum is a passing probe with only
//! failures above it. The SLO is generous so that a loaded 2-core CI machine still passes the
//! first probe; the test checks the structure of the answer, not particular rates.

mod common;
use common::{kbench, text, workspace_root};

fn read(path: &std::path::Path) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let h = r.headers().unwrap().clone();
    let rows = r.records().map(|x| x.unwrap()).collect();
    (h, rows)
}

fn col<'a>(h: &csv::StringRecord, row: &'a csv::StringRecord, name: &str) -> &'a str {
    let i = h
        .iter()
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("column {name}"));
    &row[i]
}

#[test]
fn a_tiny_search_reports_a_passing_max_with_only_failures_above() {
    let bootstrap = common::require_cluster!();
    let reports = tempfile::tempdir().unwrap();
    let scenario = workspace_root().join("scenarios/find-max.toml");
    let started = std::time::Instant::now();
    let o = kbench(
        &[
            "find-max",
            scenario.to_str().unwrap(),
            "--slo",
            "p99<5s",
            "--slo",
            "e2e_p99<10s",
            "--start",
            "500",
            "--max-steps",
            "3",
            "--probe-duration",
            "2s",
            "--probe-warmup",
            "1s",
            "--bootstrap",
            &bootstrap,
            "--reports",
            reports.path().to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let run_dir = std::fs::read_dir(reports.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let name = run_dir.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("find-max-findmax-"), "{name}");

    let (h, probes) = read(&run_dir.join("findmax.csv"));
    assert!(
        (1..=3).contains(&probes.len()),
        "at most --max-steps probes: {}",
        text(&o)
    );
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("cell base probe "))
            .count(),
        probes.len(),
        "a progress line per probe: {stdout}"
    );
    assert_eq!(col(&h, &probes[0], "rate"), "500.0");
    let rate = |r: &csv::StringRecord| col(&h, r, "rate").parse::<f64>().unwrap();
    let pass = |r: &csv::StringRecord| col(&h, r, "pass") == "true";
    for r in &probes {
        assert_eq!(pass(r), col(&h, r, "reason").is_empty(), "{r:?}");
        let p50: u64 = col(&h, r, "publish_p50_us").parse().unwrap();
        let p99: u64 = col(&h, r, "publish_p99_us").parse().unwrap();
        assert!(p50 > 0 && p50 <= p99, "{r:?}");
        if pass(r) {
            let acks: f64 = col(&h, r, "ack_rate").parse().unwrap();
            assert!(acks >= 0.95 * rate(r), "a pass keeps up: {r:?}");
            assert!(col(&h, r, "flags").is_empty(), "a pass has no flag: {r:?}");
        }
    }

    let (sh, summary) = read(&run_dir.join("findmax-summary.csv"));
    assert_eq!(summary.len(), 1);
    let s = &summary[0];
    assert_eq!(col(&sh, s, "probes"), probes.len().to_string());
    match col(&sh, s, "max_rate") {
        "" => {
            assert!(probes.iter().all(|r| !pass(r)), "no max, so nothing passed");
            assert_eq!(col(&sh, s, "bound"), "none");
        }
        m => {
            let max: f64 = m.parse().unwrap();
            assert!(
                probes.iter().any(|r| rate(r) == max && pass(r)),
                "the max {max} is a passing probe"
            );
            for r in probes.iter().filter(|r| rate(r) > max) {
                assert!(!pass(r), "every probe above the max failed: {r:?}");
            }
            let bound = col(&sh, s, "bound");
            let any_above = probes.iter().any(|r| rate(r) > max);
            assert_eq!(bound, if any_above { "exact" } else { "lower-bound" });
        }
    }

    for f in [
        "manifest.json",
        "topics.txt",
        "summary.md",
        "charts/findmax-base.png",
        "cells/base/probe-1/publish.hlog",
    ] {
        assert!(run_dir.join(f).exists(), "{f}: {}", text(&o));
    }
    let png = std::fs::read(run_dir.join("charts/findmax-base.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["find_max"]["max_steps"], 3);
    assert_eq!(manifest["find_max"]["probe_duration"], "2s");
    assert_eq!(
        manifest["find_max"]["slo"],
        serde_json::json!(["publish p99 < 5s", "e2e p99 < 10s"])
    );
    // Every probe's topic was registered (so cleanup could prove it is kbench's).
    let topics = std::fs::read_to_string(run_dir.join("topics.txt")).unwrap();
    assert_eq!(topics.lines().count(), probes.len(), "{topics}");
    eprintln!("find-max test took {:?}", started.elapsed());
}

#[test]
fn bad_slo_syntax_exits_2_before_touching_a_cluster() {
    let scenario = workspace_root().join("scenarios/find-max.toml");
    for slo in ["p99<50", "p98<5ms", "p99>5ms"] {
        let o = kbench(
            &[
                "find-max",
                scenario.to_str().unwrap(),
                "--slo",
                slo,
                "--bootstrap",
                "127.0.0.1:1",
            ],
            &[],
        );
        assert_eq!(o.status.code(), Some(2), "{slo}: {}", text(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("bad SLO"),
            "{}",
            text(&o)
        );
    }
    // A scenario find-max cannot drive: refused with exit 2 as well.
    let o = kbench(
        &[
            "find-max",
            workspace_root()
                .join("scenarios/failover.toml")
                .to_str()
                .unwrap(),
            "--slo",
            "p99<50ms",
            "--bootstrap",
            "127.0.0.1:1",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
