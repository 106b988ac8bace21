//! Latency histograms: microseconds, 3 significant digits, 1 µs to 10 minutes. A value beyond
//! the range is clamped to the maximum (a stall that long is reported, not dropped).

use hdrhistogram::Histogram;
use serde::Serialize;

/// Highest trackable latency: 10 minutes in µs, far above the "at least 60 s" a multi-second
/// broker stall needs.
pub const MAX_MICROS: u64 = 600 * 1_000_000;

pub fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; this cannot fail.
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

/// The percentiles every report shows, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub p9999: u64,
    pub max: u64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Percentiles {
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
            mean: h.mean(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v).unwrap();
        }
        let p = Percentiles::of(&h);
        assert_eq!(p.count, 10_000);
        // 3 significant digits: within 0.1 %.
        assert!((p.p50 as f64 - 5_000.0).abs() <= 5.0, "{}", p.p50);
        assert!((p.p99 as f64 - 9_900.0).abs() <= 10.0, "{}", p.p99);
        assert!((p.max as f64 - 10_000.0).abs() <= 10.0);
        assert_eq!(Percentiles::of(&new_histogram()), Percentiles::default());
    }

    #[test]
    fn a_ten_second_stall_fits() {
        let mut h = new_histogram();
        h.record(10_000_000).unwrap();
        assert!(h.max() >= 9_990_000);
    }
}

/// A histogram kept for later in its serialized form (HdrHistogram V2): a full histogram of
/// this range holds ~21,500 counters (172 KB), a serialized 1 s interval a few hundred bytes.
/// A cell keeps one per interval and latency kind, so memory stays flat with run length.
#[derive(Debug, Clone)]
pub struct CompactHistogram {
    bytes: Vec<u8>,
    /// Its percentiles, computed once.
    pub percentiles: Percentiles,
}

impl CompactHistogram {
    pub fn of(h: &Histogram<u64>) -> CompactHistogram {
        let mut bytes = Vec::new();
        // Serializing into memory cannot fail for a histogram of valid counts.
        use hdrhistogram::serialization::Serializer;
        let _ = hdrhistogram::serialization::V2Serializer::new().serialize(h, &mut bytes);
        bytes.shrink_to_fit();
        CompactHistogram {
            bytes,
            percentiles: Percentiles::of(h),
        }
    }

    /// The histogram back (for interval logs and spectra).
    pub fn histogram(&self) -> Histogram<u64> {
        hdrhistogram::serialization::Deserializer::new()
            .deserialize(&mut &self.bytes[..])
            .unwrap_or_else(|_| new_histogram())
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.percentiles.count == 0
    }
}

#[cfg(test)]
mod compact_tests {
    use super::*;

    #[test]
    fn compact_histograms_round_trip_and_are_small() {
        let mut h = new_histogram();
        for us in [150u64, 900, 1_200, 2_500, 40_000, 1_000_000] {
            h.record_n(us, 100).unwrap();
        }
        let c = CompactHistogram::of(&h);
        assert!(c.len() < 200, "{} bytes", c.len());
        let back = c.histogram();
        assert_eq!(back.len(), 600);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert_eq!(c.percentiles, Percentiles::of(&h));
        assert!(CompactHistogram::of(&new_histogram()).is_empty());
    }
}
