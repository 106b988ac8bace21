//! `kbench versus --quick --pairs 1` against the suite's cluster: every side of every
//! comparison produce non-zero figures, and the CSVs, the table and the PNG are written.

mod common;
use common::{kbench, text};

#[test]
fn versus_quick_writes_both_tools_figures() {
    let bootstrap = common::require_cluster!();
    let reports = tempfile::tempdir().unwrap();
    let o = kbench(
        &[
            "versus",
            "--quick",
            "--pairs",
            "1",
            "--bootstrap",
            &bootstrap,
            "--reports",
            reports.path().to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let dir = std::fs::read_dir(reports.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("versus-")
        })
        .expect("a versus-<timestamp> run directory");

    let mut csv = csv::Reader::from_path(dir.join("versus.csv")).unwrap();
    let headers = csv.headers().unwrap().clone();
    let col = |k: &str| {
        headers
            .iter()
            .position(|h| h == k)
            .unwrap_or_else(|| panic!("column {k}"))
    };
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.unwrap()).collect();
    let kinds = ["produce", "cpu", "consume", "e2e", "pipeline"];
    for kind in kinds {
        for kbench_side in [true, false] {
            let row = rows
                .iter()
                .find(|r| &r[col("kind")] == kind && (&r[col("tool")] == "kbench") == kbench_side)
                .unwrap_or_else(|| panic!("no {kind} row for kbench={kbench_side}\n{}", text(&o)));
            let num = |k: &str| -> f64 {
                row[col(k)]
                    .parse()
                    .unwrap_or_else(|_| panic!("{kind} {k} = {:?}", &row[col(k)]))
            };
            assert!(num("msgs_per_sec") > 0.0, "{kind} {:?}", row);
            assert!(num("records") > 0.0, "{kind} {:?}", row);
            match kind {
                "cpu" | "pipeline" => assert!(num("cpu_s_per_million") > 0.0, "{row:?}"),
                "e2e" => assert!(num("mean_ms") > 0.0, "{row:?}"),
                _ => {}
            }
        }
    }

    let mut ratios = csv::Reader::from_path(dir.join("ratios.csv")).unwrap();
    let rh = ratios.headers().unwrap().clone();
    let ratio_rows: Vec<csv::StringRecord> = ratios.records().map(|r| r.unwrap()).collect();
    let ratio_col = rh.iter().position(|h| h == "ratio").unwrap();
    assert!(ratio_rows.len() >= 4, "{ratio_rows:?}");
    for r in &ratio_rows {
        let v: f64 = r[ratio_col].parse().unwrap();
        assert!(v > 0.0, "{r:?}");
    }

    let md = std::fs::read_to_string(dir.join("versus.md")).unwrap();
    assert!(
        md.contains("| comparison | metric | kbench | Kafka tool |"),
        "{md}"
    );
    // librdkafka's own tool, built from the librdkafka kbench links, is the floor.
    for kind in ["produce", "consume"] {
        let row = rows
            .iter()
            .find(|r| &r[col("kind")] == kind && &r[col("tool")] == "rdkafka_performance")
            .unwrap_or_else(|| panic!("no rdkafka_performance {kind} row\n{}", text(&o)));
        assert!(
            row[col("msgs_per_sec")].parse::<f64>().unwrap() > 0.0,
            "{row:?}"
        );
    }
    for tool in [
        "ProducerPerformance",
        "ConsumerPerformance",
        "EndToEndLatency",
        "rdkafka_performance",
        "ProducerPerformance+ConsumerPerformance",
    ] {
        assert!(md.contains(tool), "{tool} missing from\n{md}");
    }
    let png = std::fs::read(dir.join("versus.png")).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(png.len() > 5_000, "an empty chart? {} bytes", png.len());
    // Every topic it created is gone (recorded in topics.txt).
    assert!(dir.join("topics.txt").exists());
}
