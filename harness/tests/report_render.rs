//! `kbench report RUN_DIR`: every chart kind and `summary.md` re-rendered from the files alone,
//! for one cell (a real smoke run), a real 2 x 2 sweep, a generated 3 x 3 sweep with repeats
//! and a generated ~100-cell sweep; errors name the file and exit 2. No cluster needed.

mod common;
use common::{kbench, text};

use std::path::{Path, PathBuf};
use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;
use kbench::rundir::read;
use kbench::rundir::rows::{read_csv, to_csv, ResultRow, TimeseriesRow};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

/// A fixture copied somewhere writable (the report writes charts/ and summary.md into it).
fn fixture_copy(name: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join(name);
    copy_dir(&fixture(name), &dir);
    (tmp, dir)
}

fn report(dir: &Path) -> std::process::Output {
    kbench(&["report", dir.to_str().unwrap()], &[])
}

/// A real PNG: the magic, an IHDR with sane dimensions, a plausible size. Returns (w, h).
fn check_png(path: &Path) -> (u32, u32) {
    let b = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        &b[..8],
        b"\x89PNG\r\n\x1a\n",
        "{}: not a PNG",
        path.display()
    );
    assert_eq!(&b[12..16], b"IHDR", "{}", path.display());
    let w = u32::from_be_bytes(b[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(b[20..24].try_into().unwrap());
    assert!((300..=6000).contains(&w), "{}: width {w}", path.display());
    assert!((250..=6000).contains(&h), "{}: height {h}", path.display());
    assert!(
        (5_000..4_000_000).contains(&b.len()),
        "{}: {} bytes",
        path.display(),
        b.len()
    );
    (w, h)
}

/// Every PNG under `dir/charts`, relative names, sorted.
fn charts(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, d: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("charts"), &dir.join("charts"), &mut out);
    out.sort();
    out
}

#[test]
fn one_cell_real_run() {
    let (_t, dir) = fixture_copy("smoke");
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = charts(&dir);
    assert_eq!(
        files,
        vec![
            "latency-by-cell.png",
            "partitions-base.png",
            "spectrum-e2e.png",
            "spectrum-publish.png",
            "throughput-by-cell.png",
            "timeseries/base.png"
        ]
    );
    for f in &files {
        check_png(&dir.join("charts").join(f));
    }
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(md.contains("Nothing swept: 1 cell."), "{md}");
    assert!(
        md.contains("| highest throughput | `base` | 1445 msg/s"),
        "{md}"
    );
    assert!(
        md.contains("None: every cell ran within kbench's own limits."),
        "{md}"
    );
    assert!(md.contains("(charts/spectrum-publish.png)"), "{md}");
    // The terminal form.
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("best of 1 unflagged cell: highest throughput: base 1445 msg/s"),
        "{out}"
    );
    // The older results.csv lacks newer columns: said, not fatal.
    assert!(out.contains("warning: results.csv: no column"), "{out}");
}

#[test]
fn two_axis_real_sweep_with_flagged_cells() {
    let (_t, dir) = fixture_copy("mini-sweep");
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = charts(&dir);
    for want in [
        "throughput-by-acks.png",
        "throughput-by-partitions.png",
        "publish-latency-by-acks.png",
        "publish-latency-by-partitions.png",
        "e2e-latency-by-acks.png",
        "e2e-latency-by-partitions.png",
        "spectrum-publish.png",
        "spectrum-e2e.png",
        "throughput-by-cell.png",
        "latency-by-cell.png",
        "timeseries/acks-1_partitions-1.png",
        "timeseries/acks-all_partitions-3.png",
        "partitions-acks-1_partitions-1.png",
        "partitions-acks-all_partitions-3.png",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} missing: {files:?}");
    }
    // Only 200-byte messages: MB/s would repeat msg/s.
    assert!(!files.iter().any(|f| f.starts_with("throughput-mb")));
    for f in &files {
        check_png(&dir.join("charts").join(f));
    }
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.contains("Swept **acks** (1, all) x **partitions** (1, 3): 4 cells."),
        "{md}"
    );
    assert!(md.contains("Among the 2 unflagged cells only (2 flagged cells left out)."));
    assert!(md.contains("| highest throughput | `acks-1_partitions-3` | 374 msg/s"));
    assert!(md.contains("| lowest publish p99 | `acks-1_partitions-3` | 28.91 ms |"));
    assert!(md.contains("- `acks-1_partitions-1`: **behind-schedule**: kbench fell behind"));
    assert!(md.contains("- `acks-all_partitions-3`: **behind-schedule**"));
    assert!(md.contains(
        "| [`acks-1_partitions-3`](charts/timeseries/acks-1_partitions-3.png) | 1 | 3 | 374 |"
    ));
    // Re-rendering is idempotent: same files again.
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_eq!(charts(&dir), files);
}

#[test]
fn the_spectrum_agrees_with_results_csv() {
    // The spectrum merges the measure and drain intervals of the .hlog; the cell's p99 in
    // results.csv covers the same messages.
    let dir = fixture("mini-sweep");
    let rows: Vec<ResultRow> = read::load(&dir).unwrap().results;
    for r in rows {
        let h = read::measured_latency(
            &dir,
            &r.cell,
            &[1],
            kbench::metrics::cell::LatencyKind::Publish,
        )
        .unwrap();
        let p99 = h.value_at_quantile(0.99);
        let diff = (p99 as f64 - r.publish_p99_us as f64).abs();
        assert!(
            diff <= r.publish_p99_us as f64 * 0.002 + 1.0,
            "{}: hlog p99 {p99} vs results {}",
            r.cell,
            r.publish_p99_us
        );
        assert_eq!(h.len(), r.acked, "{}", r.cell);
    }
}

/// Write a generated run directory: `cells` of (params, repeat, metrics), with an interval log
/// per cell built from latency samples, and a time series.
struct Gen {
    dir: PathBuf,
    template: ResultRow,
    ts_template: TimeseriesRow,
    rows: Vec<ResultRow>,
    series: Vec<TimeseriesRow>,
}

/// Parameters of one generated cell.
struct GenCell<'a> {
    params: &'a [(&'a str, String)],
    index: usize,
    repeat: u32,
    rate: f64,
    /// Publish latency median in µs; the tail is a multiple of it.
    base_us: u64,
    flags: &'a str,
}

impl Gen {
    fn new(dir: PathBuf) -> Gen {
        let real = read::load(&fixture("mini-sweep")).unwrap();
        Gen {
            dir,
            template: real.results[0].clone(),
            ts_template: real.timeseries[1].clone(),
            rows: Vec::new(),
            series: Vec::new(),
        }
    }

    fn cell(&mut self, c: GenCell) {
        let id = c
            .params
            .iter()
            .map(|(k, v)| format!("{k}-{v}"))
            .collect::<Vec<_>>()
            .join("_");
        let id = if id.is_empty() { "base".into() } else { id };
        let mut r = self.template.clone();
        r.cell = id.clone();
        r.index = c.index;
        r.repeat = c.repeat;
        r.params = c
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(";");
        r.acked_per_sec = c.rate;
        r.acked_mb_per_sec = c.rate * 1024.0 / 1e6;
        r.consumed_per_sec = c.rate;
        r.acked = (c.rate * 5.0) as u64;
        r.consumed = r.acked;
        let b = c.base_us;
        (r.publish_p50_us, r.publish_p90_us, r.publish_p99_us) = (b, 2 * b, 5 * b);
        (r.publish_p999_us, r.publish_p9999_us, r.publish_max_us) = (9 * b, 12 * b, 15 * b);
        (r.e2e_p50_us, r.e2e_p90_us, r.e2e_p99_us) = (b + 500, 2 * b + 500, 6 * b);
        (r.e2e_p999_us, r.e2e_p9999_us, r.e2e_max_us) = (10 * b, 13 * b, 16 * b);
        r.flags = c.flags.to_string();
        self.rows.push(r);

        // Time series: 2 s warm-up, 5 s measured (one with a full queue when flagged), 1 s drain.
        for s in 1..=8u32 {
            let mut t = self.ts_template.clone();
            t.cell = id.clone();
            t.repeat = c.repeat;
            t.t_s = s as f64;
            t.phase = match s {
                1 | 2 => "warmup",
                8 => "drain",
                _ => "measure",
            }
            .into();
            t.acked_per_sec = if s == 8 { c.rate / 10.0 } else { c.rate };
            t.sent_per_sec = t.acked_per_sec;
            t.consumed_per_sec = t.acked_per_sec;
            t.publish_p99_us = 5 * b + (s as u64) * 100;
            t.e2e_p99_us = 6 * b + (s as u64) * 100;
            t.queue_full = u64::from(!c.flags.is_empty() && s == 5);
            self.series.push(t);
        }

        // Interval logs: a warm-up interval with a huge latency that must not show, then
        // measured intervals spread from base to 15 x base.
        let cell_dir = if c.repeat <= 1 {
            self.dir.join("cells").join(&id)
        } else {
            self.dir
                .join("cells")
                .join(&id)
                .join(format!("repeat-{}", c.repeat))
        };
        for (kind, scale) in [("publish", 1u64), ("e2e", 1)] {
            let mut warm = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).unwrap();
            warm.record(60_000_000).unwrap();
            let mut measured = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3).unwrap();
            for i in 0..2000u64 {
                measured.record(scale * b * (1 + (i * i) % 15)).unwrap();
            }
            write_hlog(
                &cell_dir.join(format!("{kind}.hlog")),
                &[("warmup", &warm), ("measure", &measured)],
            );
        }
    }

    fn finish(self, axes: &[(&str, Vec<String>)]) {
        std::fs::write(self.dir.join("results.csv"), to_csv(&self.rows).unwrap()).unwrap();
        std::fs::write(
            self.dir.join("timeseries.csv"),
            to_csv(&self.series).unwrap(),
        )
        .unwrap();
        let axes: Vec<_> = axes
            .iter()
            .map(|(n, v)| serde_json::json!({"name": n, "values": v}))
            .collect();
        let manifest = serde_json::json!({
            "run_id": "generated-20260101-000000",
            "kbench_version": "0.1.0",
            "brokers": 3,
            "bootstrap": "127.0.0.1:9092",
            "scenario": {"name": "generated", "path": "generated.toml", "axes": axes}
        });
        std::fs::write(
            self.dir.join("manifest.json"),
            serde_json::to_vec_pretty(&manifest).unwrap(),
        )
        .unwrap();
    }
}

/// A standard HdrHistogram interval log, one interval per (tag, histogram), 1 s each.
fn write_hlog(path: &Path, intervals: &[(&str, &Histogram<u64>)]) {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut w = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut buf, &mut ser)
            .unwrap();
        for (i, (tag, h)) in intervals.iter().enumerate() {
            w.write_histogram(
                h,
                Duration::from_secs(i as u64),
                Duration::from_secs(1),
                Tag::new(tag),
            )
            .unwrap();
        }
    }
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, buf).unwrap();
}

/// `KBENCH_KEEP_REPORTS=1` keeps a generated run directory (its path is printed) to look at
/// the charts.
fn keep(tmp: tempfile::TempDir) {
    if std::env::var_os("KBENCH_KEEP_REPORTS").is_some() {
        eprintln!("kept {}", tmp.keep().display());
    }
}

fn values(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn three_by_three_sweep_with_repeats() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut g = Gen::new(dir.clone());
    let acks = ["0", "1", "all"];
    let parts = ["1", "6", "24"];
    let mut index = 0;
    for a in acks {
        for p in parts {
            for repeat in 1..=3u32 {
                let params = [("acks", a.to_string()), ("partitions", p.to_string())];
                // acks=1 x 24 partitions is the fastest cell, but flagged: it must not win.
                let flagged = a == "1" && p == "24";
                let rate = if flagged {
                    90_000.0
                } else {
                    1000.0 * (index + 1) as f64 + 100.0 * repeat as f64
                };
                g.cell(GenCell {
                    params: &params,
                    index,
                    repeat,
                    rate,
                    base_us: 1000 + 400 * index as u64,
                    flags: if flagged { "queue-full" } else { "" },
                });
            }
            index += 1;
        }
    }
    g.finish(&[("acks", values(&acks)), ("partitions", values(&parts))]);
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let files = charts(&dir);
    for want in [
        "throughput-by-acks.png",
        "throughput-by-partitions.png",
        "publish-latency-by-acks.png",
        "e2e-latency-by-partitions.png",
        "spectrum-publish.png",
        "spectrum/publish-01.png",
        "spectrum/publish-02.png",
        "timeseries/acks-0_partitions-1.png",
        "timeseries/acks-0_partitions-1-r2.png",
        "timeseries/acks-all_partitions-24-r3.png",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} missing: {files:?}");
    }
    // 9 cells x 3 repeats of time series + 2 per-cell + 3 families x 2 axes + 2 x (1 + 2)
    // + 9 per-partition (one per cell; no placement axis swept, so no partitions-by-*).
    assert!(files
        .iter()
        .any(|f| f == "partitions-acks-all_partitions-24.png"));
    assert!(!files.iter().any(|f| f.starts_with("partitions-by-")));
    assert_eq!(files.len(), 27 + 2 + 6 + 6 + 9, "{files:?}");
    for f in &files {
        check_png(&dir.join("charts").join(f));
    }
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    // Repeats aggregate into one row per cell: the median and the min..max spread.
    assert!(md.contains("Each cell ran up to 3 times"), "{md}");
    assert_eq!(md.matches("| [`acks-0_partitions-1`]").count(), 1, "{md}");
    assert!(md.contains("| 0 | 1 | 1200 (1100..1300) |"), "{md}");
    // The best unflagged cell is the last one (highest rate, by construction).
    assert!(
        md.contains("| highest throughput | `acks-all_partitions-24` | 9200 (9100..9300) msg/s"),
        "{md}"
    );
    assert!(
        md.contains("| lowest publish p99 | `acks-0_partitions-1` | 5.00 ms |"),
        "{md}"
    );
    assert!(md.contains("Among the 8 unflagged cells only (1 flagged cell left out)."));
    assert!(md.contains(
        "- `acks-1_partitions-24` (in 3 of 3 repeats): **queue-full**: librdkafka's producer queue was full"
    ));
    keep(tmp);
}

#[test]
fn a_hundred_cell_sweep_stays_readable() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut g = Gen::new(dir.clone());
    let acks = ["0", "1", "all"];
    let parts = ["1", "3", "6", "12"];
    let parters = ["sticky", "murmur2"];
    let lingers = ["0", "5", "20", "100"];
    let mut index = 0;
    for a in acks {
        for p in parts {
            for s in parters {
                for l in lingers {
                    let params = [
                        ("acks", a.to_string()),
                        ("partitions", p.to_string()),
                        ("partitioner", s.to_string()),
                        ("linger_ms", l.to_string()),
                    ];
                    g.cell(GenCell {
                        params: &params,
                        index,
                        repeat: 1,
                        rate: 5000.0 + 37.0 * index as f64,
                        base_us: 800 + 90 * index as u64,
                        flags: if index % 10 == 3 {
                            "behind-schedule"
                        } else {
                            ""
                        },
                    });
                    index += 1;
                }
            }
        }
    }
    assert_eq!(index, 96);
    g.finish(&[
        ("acks", values(&acks)),
        ("partitions", values(&parts)),
        ("partitioner", values(&parters)),
        ("linger_ms", values(&lingers)),
    ]);
    let started = std::time::Instant::now();
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    eprintln!("96 cells rendered in {:?}", started.elapsed());
    let files = charts(&dir);
    // x = acks: one line per partitioner (the smallest other axis), a panel per
    // partitions x linger_ms (16): throughput on 2 pages of 9, latency on 6 pages of 3 rows.
    for want in [
        "throughput-by-acks-p1.png",
        "throughput-by-acks-p2.png",
        "publish-latency-by-acks-p6.png",
        "e2e-latency-by-linger_ms-p1.png",
        "spectrum-publish.png",
        "spectrum/publish-14.png",
        "spectrum/e2e-14.png",
        "timeseries/acks-all_partitions-12_partitioner-murmur2_linger_ms-100.png",
    ] {
        assert!(files.iter().any(|f| f == want), "{want} missing: {files:?}");
    }
    assert!(!files.iter().any(|f| f == "throughput-by-acks-p3.png"));
    assert!(!files.iter().any(|f| f == "spectrum/publish-15.png"));
    assert_eq!(
        files
            .iter()
            .filter(|f| f.starts_with("timeseries/"))
            .count(),
        96
    );
    for f in &files {
        check_png(&dir.join("charts").join(f));
    }
    // The per-cell charts grow in height, one row per cell, instead of crowding labels.
    let (_, h) = check_png(&dir.join("charts/latency-by-cell.png"));
    assert!(h >= 96 * 20, "height {h}");
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert_eq!(
        md.matches("**behind-schedule**: kbench fell behind")
            .count(),
        10
    );
    keep(tmp);
}

#[test]
fn every_cell_flagged_names_no_best_cell() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("run");
    let mut g = Gen::new(dir.clone());
    for (i, p) in ["1", "6"].iter().enumerate() {
        g.cell(GenCell {
            params: &[("partitions", p.to_string())],
            index: i,
            repeat: 1,
            rate: 100.0,
            base_us: 1000,
            flags: "behind-schedule;drain-timeout",
        });
    }
    g.finish(&[("partitions", values(&["1", "6"]))]);
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.contains("**Every cell is flagged**, so no best cell is named"),
        "{md}"
    );
    assert!(md.contains("**drain-timeout**: not every acked message was consumed"));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("best: none named, every cell is flagged"),
        "{out}"
    );
    assert!(
        out.contains("flagged: 2 of 2 cells (behind-schedule x2, drain-timeout x2)"),
        "{out}"
    );
    // One swept axis: one series, x = partitions.
    check_png(&dir.join("charts/throughput-by-partitions.png"));
}

#[test]
fn missing_results_csv_exits_2_naming_the_file() {
    let (_t, dir) = fixture_copy("smoke");
    std::fs::remove_file(dir.join("results.csv")).unwrap();
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("results.csv: not found"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(!dir.join("summary.md").exists());
}

#[test]
fn a_missing_run_dir_exits_2() {
    let o = kbench(&["report", "/nonexistent/kbench-run"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent/kbench-run: not found"));
}

#[test]
fn corrupt_files_exit_2_naming_file_and_line() {
    // A bad value in results.csv: file and line.
    let (_t, dir) = fixture_copy("mini-sweep");
    let csv = std::fs::read_to_string(dir.join("results.csv")).unwrap();
    let mut lines: Vec<String> = csv.lines().map(String::from).collect();
    lines[3] = lines[3].replacen(",3,", ",three,", 1);
    std::fs::write(dir.join("results.csv"), lines.join("\n") + "\n").unwrap();
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("results.csv:4:"), "{err}");

    // A truncated interval log: its path.
    let (_t2, dir) = fixture_copy("mini-sweep");
    let hlog = dir.join("cells/acks-all_partitions-1/e2e.hlog");
    let bytes = std::fs::read(&hlog).unwrap();
    std::fs::write(&hlog, &bytes[..bytes.len() / 2]).unwrap();
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("acks-all_partitions-1/e2e.hlog: "), "{err}");

    // A missing interval log.
    std::fs::remove_file(&hlog).unwrap();
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("e2e.hlog: not found"));

    // manifest.json that is not JSON.
    let (_t3, dir) = fixture_copy("smoke");
    std::fs::write(dir.join("manifest.json"), "{\"run_id\": ").unwrap();
    let o = report(&dir);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("manifest.json: not a kbench manifest"));
}

#[test]
fn render_run_is_callable_from_the_runner() {
    let (_t, dir) = fixture_copy("smoke");
    let o = kbench::report::render_run(&dir).unwrap();
    assert_eq!(o.summary, dir.join("summary.md"));
    assert_eq!(o.charts.len(), 6);
    assert!(o.charts.iter().all(|c| dir.join(&c.path).is_file()));
    assert!(o.terminal.starts_with("summary: "), "{}", o.terminal);
}

#[test]
fn results_csv_round_trips() {
    let rows = read::load(&fixture("mini-sweep")).unwrap().results;
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("results.csv");
    std::fs::write(&p, to_csv(&rows).unwrap()).unwrap();
    let back: Vec<ResultRow> = read_csv(&p).unwrap();
    assert_eq!(back, rows);
}
