//! Loading a run directory back from its files alone (`manifest.json`, `results.csv`,
//! `timeseries.csv`, `cells/<id>/*.hlog`), so `kbench report` can re-render a run copied from
//! another machine. Every failure names the file (and the line for CSV) and is a
//! [`RunDirError`]; nothing here panics on bad input.

use std::path::{Path, PathBuf};

use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use serde::Deserialize;

use super::rows::{ResultRow, TimeseriesRow};
use crate::metrics::cell::LatencyKind;

/// Why a run directory could not be read or rendered: every command exits 2 on these (`crate::error`).
#[derive(Debug, thiserror::Error)]
pub enum RunDirError {
    #[error("{}: not found{hint}", path.display())]
    Missing { path: PathBuf, hint: &'static str },
    /// A file that exists but cannot be parsed; `message` says where (line, offset) and why.
    #[error("{}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    /// A CSV error, formatted as `file:line: message`.
    #[error("{0}")]
    Csv(String),
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub use super::manifest::{AxisInfo, Manifest, ScenarioInfo};

/// A run directory's tables, as written by `kbench run`.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    pub info: Manifest,
    pub results: Vec<ResultRow>,
    pub timeseries: Vec<TimeseriesRow>,
    /// Columns that `results.csv` lacked (an older kbench), read as empty / zero / false.
    pub results_missing: Vec<&'static str>,
    /// Things worth telling the reader that are not errors (e.g. columns an older kbench did
    /// not write).
    pub notes: Vec<String>,
}

/// Read `manifest.json`, `results.csv` and `timeseries.csv` of `dir`. The `.hlog` files are read
/// on demand ([`measured_latency`]) because only the spectrum charts need them.
pub fn load(dir: &Path) -> Result<RunData, RunDirError> {
    let mut data = load_results(dir)?;
    data.timeseries =
        read_table::<TimeseriesRow>(&dir.join("timeseries.csv"), "", &mut data.notes)?;
    Ok(data)
}

/// [`load`] without `timeseries.csv` (`timeseries` is left empty): the manifest and the
/// results, all that `kbench compare` reads, so a run directory copied without its time series
/// still compares.
pub fn load_results(dir: &Path) -> Result<RunData, RunDirError> {
    if !dir.is_dir() {
        return Err(RunDirError::Missing {
            path: dir.to_path_buf(),
            hint: " (expected a run directory written by `kbench run`)",
        });
    }
    let info = read_manifest(&dir.join("manifest.json"))?;
    let mut notes = Vec::new();
    let (results, results_missing) = read_table_and_missing::<ResultRow>(
        &dir.join("results.csv"),
        " (no cell of this run finished, or this is not a kbench run directory)",
        &mut notes,
    )?;
    Ok(RunData {
        dir: dir.to_path_buf(),
        info,
        results,
        timeseries: Vec::new(),
        results_missing,
        notes,
    })
}

pub fn read_manifest(path: &Path) -> Result<Manifest, RunDirError> {
    let bytes = read_file(path, "")?;
    serde_json::from_slice(&bytes).map_err(|e| RunDirError::Corrupt {
        path: path.to_path_buf(),
        message: if e.is_syntax() || e.is_eof() {
            format!("not a kbench manifest: not valid JSON: {e}")
        } else {
            format!("not a kbench manifest: {e}")
        },
    })
}

/// Read a CSV table written by [`super::rows::to_csv`]. A file from an older kbench may lack
/// columns added since: those are filled with an empty / zero / false default (whichever the
/// column's type accepts) and named in `notes`, so an old run directory still re-renders.
/// Anything else wrong is an error naming the file and line.
pub(crate) fn read_table<T: serde::de::DeserializeOwned>(
    path: &Path,
    hint: &'static str,
    notes: &mut Vec<String>,
) -> Result<Vec<T>, RunDirError> {
    Ok(read_table_and_missing(path, hint, notes)?.0)
}

/// [`read_table`], and the columns the file lacked.
fn read_table_and_missing<T: serde::de::DeserializeOwned>(
    path: &Path,
    hint: &'static str,
    notes: &mut Vec<String>,
) -> Result<(Vec<T>, Vec<&'static str>), RunDirError> {
    if !path.is_file() {
        return Err(RunDirError::Missing {
            path: path.to_path_buf(),
            hint,
        });
    }
    let bytes = read_file(path, hint)?;
    let at = |e: ::csv::Error, line: Option<u64>| {
        let line = line.or_else(|| e.position().map(|p| p.line())).unwrap_or(0);
        RunDirError::Csv(format!("{}:{line}: {e}", path.display()))
    };
    let mut reader = ::csv::Reader::from_reader(&bytes[..]);
    let headers = reader.headers().map_err(|e| at(e, Some(1)))?.clone();
    let mut records = Vec::new();
    for r in reader.records() {
        records.push(r.map_err(|e| at(e, None))?);
    }
    let missing: Vec<&'static str> = field_names::<T>()
        .iter()
        .filter(|f| !headers.iter().any(|h| h == **f))
        .copied()
        .collect();
    const DEFAULTS: [&str; 3] = ["", "0", "false"];
    let mut choice = vec![0usize; missing.len()];
    let mut full_headers = headers.clone();
    missing.iter().for_each(|m| full_headers.push_field(m));
    'attempt: loop {
        let mut rows = Vec::with_capacity(records.len());
        for rec in &records {
            let mut rec = rec.clone();
            choice.iter().for_each(|&c| rec.push_field(DEFAULTS[c]));
            match rec.deserialize::<T>(Some(&full_headers)) {
                Ok(row) => rows.push(row),
                Err(e) => {
                    // A default that does not fit its column's type: try the next one.
                    let col = match e.kind() {
                        ::csv::ErrorKind::Deserialize { err, .. } => err.field(),
                        _ => None,
                    };
                    if let Some(i) = col.and_then(|c| (c as usize).checked_sub(headers.len())) {
                        if i < choice.len() && choice[i] + 1 < DEFAULTS.len() {
                            choice[i] += 1;
                            continue 'attempt;
                        }
                    }
                    return Err(at(e, rec.position().map(|p| p.line())));
                }
            }
        }
        if !missing.is_empty() {
            let name = path.file_name().unwrap_or(path.as_os_str());
            notes.push(format!(
                "{}: no column {} (written by an older kbench?): read as empty",
                name.to_string_lossy(),
                missing.join(", ")
            ));
        }
        return Ok((rows, missing));
    }
}

/// The field names a row type's `Deserialize` asks for: serde passes them to
/// `deserialize_struct`, which this probe records and then stops.
fn field_names<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    use serde::de::{Error as _, Visitor};
    struct Probe(&'static [&'static str]);
    impl<'de> serde::Deserializer<'de> for &mut Probe {
        type Error = serde::de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(Self::Error::custom("probe"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            self.0 = fields;
            Err(Self::Error::custom("probe"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut p = Probe(&[]);
    let _ = T::deserialize(&mut p);
    p.0
}

fn read_file(path: &Path, hint: &'static str) -> Result<Vec<u8>, RunDirError> {
    std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunDirError::Missing {
            path: path.to_path_buf(),
            hint,
        },
        _ => RunDirError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })
}

/// The interval log of one repetition of one cell. Repeat 1 is in `cells/<id>/`, later ones in
/// `cells/<id>/repeat-<r>/` (the runner's [`crate::rundir::CellFiles`] decides; asking it keeps
/// the two in step).
pub fn hlog_path(run_dir: &Path, cell: &str, repeat: u32, kind: LatencyKind) -> PathBuf {
    crate::rundir::CellFiles::new(run_dir, cell, repeat)
        .dir
        .join(format!("{}.hlog", kind.name()))
}

/// The latency distribution of every measured message of one cell, merged over its
/// repetitions: all intervals of the interval logs except those tagged `warmup`. The `drain`
/// intervals are included on purpose: they hold the late acks and reads of messages sent in
/// the measurement window (warm-up is excluded by intended send time), so leaving them out
/// would hide exactly the slow tail; with them, the spectrum agrees with `results.csv`.
pub fn measured_latency(
    run_dir: &Path,
    cell: &str,
    repeats: &[u32],
    kind: LatencyKind,
) -> Result<Histogram<u64>, RunDirError> {
    let mut total = empty_histogram();
    for &r in repeats {
        let path = hlog_path(run_dir, cell, r, kind);
        let h = read_hlog(&path)?;
        total.add(&h).map_err(|e| RunDirError::Corrupt {
            path: path.clone(),
            message: format!("cannot merge histograms: {e:?}"),
        })?;
    }
    Ok(total)
}

/// Auto-resizing, so logs written with other bounds (or by other tools) still merge.
fn empty_histogram() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant digits is valid");
    h.auto(true);
    h
}

/// Merge the non-warm-up intervals of one `.hlog` file.
pub fn read_hlog(path: &Path) -> Result<Histogram<u64>, RunDirError> {
    let bytes = read_file(path, "")?;
    measured_from_log(&bytes).map_err(|message| RunDirError::Corrupt {
        path: path.to_path_buf(),
        message,
    })
}

/// The pure part of [`read_hlog`]: the merged histogram, or where and why the log is bad.
pub fn measured_from_log(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    let mut total = empty_histogram();
    let mut de = Deserializer::new();
    let line_of = |offset: usize| {
        bytes[..offset.min(bytes.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1
    };
    let mut consumed = 0usize;
    for entry in IntervalLogIterator::new(bytes) {
        let entry = entry.map_err(|e| {
            let hdrhistogram::serialization::interval_log::LogIteratorError::ParseError { offset } =
                e;
            format!(
                "line {}: not an HdrHistogram interval log entry",
                line_of(offset)
            )
        })?;
        let LogEntry::Interval(ih) = entry else {
            continue;
        };
        consumed += 1;
        if ih.tag().map(|t| t.as_str()) == Some("warmup") {
            continue;
        }
        let raw = base64_decode(ih.encoded_histogram())
            .ok_or_else(|| format!("interval {consumed}: histogram is not valid base64"))?;
        let h: Histogram<u64> = de
            .deserialize(&mut &raw[..])
            .map_err(|e| format!("interval {consumed}: cannot decode histogram: {e:?}"))?;
        total
            .add(&h)
            .map_err(|e| format!("interval {consumed}: cannot merge histogram: {e:?}"))?;
    }
    Ok(total)
}

/// Standard base64 (with or without padding). Hand-written so the reader needs no dependency
/// beyond `hdrhistogram`, which decodes internally but does not export its decoder.
pub(crate) fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let body = s.trim_end().trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= val(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// A fault during a cell, in seconds since its producers started: a span, or an instant when
/// `end_s` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultMark {
    pub start_s: f64,
    pub end_s: Option<f64>,
    pub label: String,
}

/// The faults of one cell run, from `cells/<id>/[repeat-<r>/]faults.json`, as chart marks
/// (start and end in seconds since the producers started, like `timeseries.csv`). None when
/// the cell had no faults; an unreadable file gives none too (the chart is still useful).
pub fn fault_marks(run_dir: &Path, cell: &str, repeat: u32) -> Vec<FaultMark> {
    let dir = crate::rundir::CellFiles::new(run_dir, cell, repeat).dir;
    let mut marks = broker_fault_marks(&dir.join(super::FAULTS));
    marks.extend(member_marks(&dir.join(super::MEMBERS)));
    marks
}

/// A consumer fault as a mark at its time: a member that left or joined during the load
/// (`members.json`'s `left_at_s`, `joined_at_s`).
fn member_marks(path: &Path) -> Vec<FaultMark> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Array(members)) = serde_json::from_slice(&bytes) else {
        return Vec::new();
    };
    let mut marks = Vec::new();
    for m in &members {
        let who = format!("{}.{}", m["group"], m["member"]);
        for (key, what) in [("left_at_s", "leaves"), ("joined_at_s", "joins")] {
            if let Some(t) = m[key].as_f64() {
                marks.push(FaultMark {
                    start_s: t,
                    end_s: None,
                    label: format!("member {who} {what}"),
                });
            }
        }
    }
    marks
}

fn broker_fault_marks(path: &Path) -> Vec<FaultMark> {
    let Ok(bytes) = std::fs::read(path) else {
        return Vec::new();
    };
    let Ok(serde_json::Value::Array(faults)) = serde_json::from_slice(&bytes) else {
        return Vec::new();
    };
    faults
        .iter()
        .filter_map(|f| {
            let e = &f["event"];
            let start_s = e["start"].as_f64()?;
            let action = match &e["action"] {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(FaultMark {
                start_s,
                end_s: e["end"].as_f64(),
                label: fault_label(&action, &e["broker"], e["node"].as_i64()),
            })
        })
        .collect()
}

/// A fault as the scenario wrote it, with the node it hit when that was resolved at run time:
/// `kill leader-of:0 (node 1)`, `pause controller (node 2)`, `stop node 3`. `broker` is the
/// JSON of a `BrokerRef` (`{"node": 3}`, `{"leader-of": 0}`, `"controller"`).
fn fault_label(action: &str, broker: &serde_json::Value, node: Option<i64>) -> String {
    use serde_json::Value;
    let written = match broker {
        Value::String(s) => s.clone(),
        Value::Number(n) => return format!("{action} node {n}"),
        Value::Object(m) if m.len() == 1 => {
            let (k, v) = m.iter().next().expect("one entry");
            if k == "node" {
                return format!("{action} node {v}");
            }
            format!("{k}:{v}")
        }
        other => other.to_string(),
    };
    match node {
        Some(n) => format!("{action} {written} (node {n})"),
        None => format!("{action} {written}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::cell::{Interval, IntervalRecord, Phase};
    use crate::metrics::ClientStats;

    #[test]
    fn base64_matches_known_vectors() {
        assert_eq!(base64_decode("").unwrap(), b"");
        assert_eq!(base64_decode("Zg==").unwrap(), b"f");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9v").unwrap(), b"foo");
        assert_eq!(base64_decode("Zm9vYmFy").unwrap(), b"foobar");
        assert_eq!(base64_decode("Zm9vYg").unwrap(), b"foob");
        assert!(base64_decode("Zm9v!").is_none());
    }

    fn interval(start: f64, phase: Phase, latency_ms: u64, n: u64) -> IntervalRecord {
        let mut p = ClientStats::new(1);
        for _ in 0..n {
            p.record_ack(phase != Phase::Warmup, 0, latency_ms * 1_000_000, 10, 0);
        }
        IntervalRecord::of(&Interval {
            start_s: start,
            end_s: start + 1.0,
            phase,
            producers: p,
            consumers: ClientStats::new(1),
            consumer_lag: 0,
        })
    }

    #[test]
    fn warmup_intervals_are_left_out_and_drain_kept() {
        let intervals = vec![
            interval(0.0, Phase::Warmup, 900, 50),
            interval(1.0, Phase::Measure, 2, 100),
            interval(2.0, Phase::Drain, 40, 10),
        ];
        let log = crate::rundir::hlog::render(&intervals, LatencyKind::Publish, 1.7e9);
        let h = measured_from_log(&log).unwrap();
        assert_eq!(h.len(), 110);
        assert!(h.max() < 41_000, "warm-up leaked: max {}", h.max());
        assert!(h.max() >= 39_000, "drain missing: max {}", h.max());
    }

    #[test]
    fn a_corrupt_log_names_the_line() {
        let e = measured_from_log(b"#comment\nTag=measure,0.0,1.0,0.0,HISTFAAAA\ngarbage here\n")
            .unwrap_err();
        assert!(e.contains("interval 1") || e.contains("line"), "{e}");
        let e = measured_from_log(b"#comment\n#other\nnot a log line\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn an_older_table_without_newer_columns_still_loads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("timeseries.csv");
        // No `phase` (a string) and no `failed` (a number) column.
        std::fs::write(
            &p,
            "cell,repeat,t_s,sent_per_sec,acked_per_sec,consumed_per_sec,acked_mb_per_sec,queue_full,publish_p50_us,publish_p99_us,publish_max_us,e2e_p50_us,e2e_p99_us\n\
             base,1,1.0,10,10,10,0.1,0,5,9,9,6,10\n",
        )
        .unwrap();
        let mut notes = Vec::new();
        let rows: Vec<TimeseriesRow> = read_table(&p, "", &mut notes).unwrap();
        assert_eq!(rows[0].phase, "");
        assert_eq!(rows[0].failed, 0);
        assert_eq!(rows[0].publish_p99_us, 9);
        assert!(notes[0].contains("phase, failed"), "{notes:?}");
        // A bad value is still an error with file and line.
        std::fs::write(&p, "cell,repeat,t_s\nbase,1,1.0\nbase,x,2.0\n").unwrap();
        let e = read_table::<TimeseriesRow>(&p, "", &mut notes).unwrap_err();
        assert!(e.to_string().contains("timeseries.csv:3"), "{e}");
    }

    #[test]
    fn missing_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let e = load(&dir.path().join("nope")).unwrap_err();
        assert!(e.to_string().contains("nope: not found"), "{e}");
        std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("results.csv: not found"), "{e}");
        std::fs::write(dir.path().join("manifest.json"), "{not json").unwrap();
        let e = load(dir.path()).unwrap_err();
        assert!(
            e.to_string()
                .contains("manifest.json: not a kbench manifest: not valid JSON"),
            "{e}"
        );
    }

    #[test]
    fn results_load_without_timeseries_and_name_their_missing_columns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
        std::fs::write(
            dir.path().join("results.csv"),
            "cell,repeat
a,1
",
        )
        .unwrap();
        let data = load_results(dir.path()).unwrap();
        assert_eq!(
            (data.results[0].cell.as_str(), data.results[0].repeat),
            ("a", 1)
        );
        assert!(data.results_missing.contains(&"acked_per_sec"));
        assert!(!data.results_missing.contains(&"repeat"));
        let e = load(dir.path()).unwrap_err();
        assert!(e.to_string().contains("timeseries.csv: not found"), "{e}");
    }
    #[test]
    fn fault_labels_read_as_the_scenario_wrote_them() {
        use crate::scenario::{BrokerRef, FaultAction};
        let dir = tempfile::tempdir().unwrap();
        let cell = dir.path().join("cells").join("c");
        std::fs::create_dir_all(&cell).unwrap();
        // The brokers serialized exactly as the fault executor writes them.
        let event = |broker: BrokerRef, node: Option<i32>| {
            serde_json::json!({"event": {
                "action": FaultAction::Kill, "broker": broker, "node": node,
                "start": 5.0, "end": 15.0,
            }})
        };
        let faults = serde_json::json!([
            event(BrokerRef::LeaderOf(0), Some(1)),
            event(BrokerRef::Controller, Some(2)),
            event(BrokerRef::Node(3), Some(3)),
            event(BrokerRef::LeaderOf(4), None),
        ]);
        std::fs::write(cell.join(crate::rundir::FAULTS), faults.to_string()).unwrap();
        let labels: Vec<String> = fault_marks(dir.path(), "c", 1)
            .into_iter()
            .map(|m| m.label)
            .collect();
        assert_eq!(
            labels,
            [
                "kill leader-of:0 (node 1)",
                "kill controller (node 2)",
                "kill node 3",
                "kill leader-of:4",
            ]
        );
    }
}
