//! HdrHistogram interval logs (`.hlog`, the standard format read by HdrHistogram's own
//! tools such as HistogramLogAnalyzer): one per cell and latency kind, one entry per interval.

use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

use crate::metrics::cell::{IntervalRecord, LatencyKind};

/// Render the interval log of one latency kind. Warm-up intervals are included, tagged
/// `warmup`, so the log shows the whole cell; measured ones are tagged `measure` / `drain`.
pub fn render(intervals: &[IntervalRecord], kind: LatencyKind, start_unix: f64) -> Vec<u8> {
    let entries = intervals.iter().map(|i| LogInterval {
        start_s: i.start_s,
        secs: i.secs(),
        tag: i.phase.name().to_string(),
        histogram: i.latency(kind).histogram(),
    });
    render_entries(entries, kind, start_unix)
}

/// One interval of an interval log: seconds since the log's base time (the cell's start),
/// its length, its tag (the phase) and its histogram.
#[derive(Debug, Clone)]
pub struct LogInterval {
    pub start_s: f64,
    pub secs: f64,
    pub tag: String,
    pub histogram: Histogram<u64>,
}

/// Render an interval log from its entries (`kbench merge` writes merged ones this way).
pub fn render_entries(
    entries: impl IntoIterator<Item = LogInterval>,
    kind: LatencyKind,
    start_unix: f64,
) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut builder = IntervalLogWriterBuilder::new();
        builder
            .add_comment(&format!("kbench {} latency, microseconds", kind.name()))
            .with_start_time(std::time::UNIX_EPOCH + Duration::from_secs_f64(start_unix.max(0.0)))
            .with_base_time(std::time::UNIX_EPOCH + Duration::from_secs_f64(start_unix.max(0.0)))
            .with_max_value_divisor(1000.0); // max column in ms
        let Ok(mut w) = builder.begin_log_with(&mut buf, &mut ser) else {
            return buf;
        };
        for i in entries {
            let _ = w.write_histogram(
                &i.histogram,
                Duration::from_secs_f64(i.start_s.max(0.0)),
                Duration::from_secs_f64(i.secs.max(0.0)),
                Tag::new(&i.tag),
            );
        }
    }
    buf
}

/// Every interval of a log written by [`render_entries`], and its base time (Unix seconds,
/// 0 when the log has none); the error says which entry is bad.
pub fn parse(bytes: &[u8]) -> Result<(f64, Vec<LogInterval>), String> {
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let mut de = hdrhistogram::serialization::Deserializer::new();
    let (mut base, mut out) = (0.0, Vec::new());
    for (n, entry) in IntervalLogIterator::new(bytes).enumerate() {
        match entry.map_err(|_| format!("entry {}: not an interval log entry", n + 1))? {
            LogEntry::BaseTime(t) | LogEntry::StartTime(t) => base = t.as_secs_f64(),
            LogEntry::Interval(ih) => {
                let k = out.len() + 1;
                let raw = super::read::base64_decode(ih.encoded_histogram())
                    .ok_or_else(|| format!("interval {k}: histogram is not valid base64"))?;
                let h: Histogram<u64> = de
                    .deserialize(&mut &raw[..])
                    .map_err(|e| format!("interval {k}: cannot decode histogram: {e:?}"))?;
                out.push(LogInterval {
                    start_s: ih.start_timestamp().as_secs_f64(),
                    secs: ih.duration().as_secs_f64(),
                    tag: ih.tag().map(|t| t.as_str().to_string()).unwrap_or_default(),
                    histogram: h,
                });
            }
        }
    }
    Ok((base, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::cell::{Interval, Phase};
    use crate::metrics::ClientStats;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn round_trips_through_the_standard_reader() {
        let mut p = ClientStats::new(1);
        p.record_ack(true, 0, 2_000_000, 10, 0);
        let intervals = vec![IntervalRecord::of(&Interval {
            start_s: 0.0,
            end_s: 1.0,
            phase: Phase::Measure,
            producers: p,
            consumers: ClientStats::new(1),
            consumer_lag: 0,
        })];
        let log = render(&intervals, LatencyKind::Publish, 1_700_000_000.0);
        let entries: Vec<_> = IntervalLogIterator::new(&log)
            .filter_map(|e| e.ok())
            .filter(|e| matches!(e, LogEntry::Interval(_)))
            .collect();
        assert_eq!(entries.len(), 1);
        let text = String::from_utf8_lossy(&log);
        assert!(text.contains("Tag=measure"), "{text}");
        // The histogram survives compaction: 2 ms recorded, 2 ms read back.
        match IntervalLogIterator::new(&log).find_map(|e| match e {
            Ok(LogEntry::Interval(i)) => Some(i.encoded_histogram().to_string()),
            _ => None,
        }) {
            Some(encoded) => assert!(!encoded.is_empty()),
            None => panic!("no interval entry"),
        }
    }
}
