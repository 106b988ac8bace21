//! What a fault did to the load, from the fleet's acks over time. Pure functions.
//!
//! Input: the fleet-wide ack timeline, acks per bucket (100 ms) since the cell start (the
//! producers' start, the same clock as `at` and the fault events), up to when the producers
//! stopped: a zero at the end of the timeline counts as "no acks", so leave out the drain.
//! Zero-ack buckets only mean "unavailable" when the offered rate gives several acks per
//! bucket (say 50 msg/s and more); at lower rates the windows below are noise.
//!
//! - **Time to first error**: from the fault's start to the first failed delivery at or after
//!   it. An error before the fault is not the fault's.
//! - **Unavailability window**: the longest run of zero-ack buckets starting at or after the
//!   bucket holding the fault's start, in whole buckets; 0 when acks never stopped.
//! - **Time to recover**: the pre-fault rate is the mean acks per bucket over the `baseline`
//!   (5 s) before the fault, after warm-up. After the fault start, once a 1 s sliding window
//!   has dropped below 90 % of it, recovery is the start of the first window that is back at
//!   90 % or more and whose first bucket has acks (so the burst of queued messages flushed at
//!   the end of an outage does not count a window that is mostly outage as recovered).
//!   `Some(0)` when no window after the fault ever dropped below 90 %; `None` when it never
//!   came back, or when there is no pre-fault rate (the fault fired during warm-up or the
//!   first bucket after it).

use std::time::Duration;

use serde::Serialize;

/// The ack timeline's bucket.
pub const BUCKET: Duration = Duration::from_millis(100);

/// How the impact is measured; [`ImpactParams::new`] gives the defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpactParams {
    /// Width of one timeline bucket (100 ms).
    pub bucket: Duration,
    /// The cell's warm-up: buckets before it never count towards the pre-fault rate.
    pub warmup: Duration,
    /// How far before the fault the pre-fault rate is taken (5 s).
    pub baseline: Duration,
    /// The sliding window for recovery (1 s).
    pub window: Duration,
    /// Recovered at this fraction of the pre-fault rate (0.9).
    pub fraction: f64,
}

impl ImpactParams {
    pub fn new(warmup: Duration) -> ImpactParams {
        ImpactParams {
            bucket: BUCKET,
            warmup,
            baseline: Duration::from_secs(5),
            window: Duration::from_secs(1),
            fraction: 0.9,
        }
    }
}

/// One fault's impact on one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultImpact {
    /// From the fault's start to the first failed delivery at or after it.
    #[serde(serialize_with = "super::executor::secs")]
    pub time_to_first_error: Option<Duration>,
    /// Longest run of zero-ack buckets from the fault's start on (0 when acks never stopped).
    #[serde(serialize_with = "secs_always")]
    pub unavailable: Duration,
    /// Where that run began, since the cell start.
    #[serde(serialize_with = "super::executor::secs")]
    pub unavailable_from: Option<Duration>,
    /// Mean acks per second over the baseline before the fault, after warm-up.
    pub pre_fault_acks_per_sec: Option<f64>,
    /// From the fault's start until a 1 s window is back at 90 % of the pre-fault rate.
    #[serde(serialize_with = "super::executor::secs")]
    pub time_to_recover: Option<Duration>,
}

fn secs_always<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    super::executor::secs(&Some(*d), s)
}

/// All of a fault's measures at once.
pub fn assess(
    acks: &[u64],
    first_error: Option<Duration>,
    fault_start: Duration,
    p: &ImpactParams,
) -> FaultImpact {
    let (unavailable, unavailable_from) = unavailability(acks, fault_start, p.bucket);
    let bucket = bucket_secs(p.bucket);
    FaultImpact {
        time_to_first_error: time_to_first_error(fault_start, first_error),
        unavailable,
        unavailable_from,
        pre_fault_acks_per_sec: pre_fault_rate(acks, fault_start, p).map(|r| r / bucket),
        time_to_recover: time_to_recover(acks, fault_start, p),
    }
}

/// From `fault_start` to `first_error`, if that error came at or after the fault.
pub fn time_to_first_error(
    fault_start: Duration,
    first_error: Option<Duration>,
) -> Option<Duration> {
    first_error.and_then(|e| e.checked_sub(fault_start))
}

/// The longest run of zero-ack buckets starting at or after the bucket holding `fault_start`,
/// and where it began (since the cell start). `(0, None)` when acks never stopped.
pub fn unavailability(
    acks: &[u64],
    fault_start: Duration,
    bucket: Duration,
) -> (Duration, Option<Duration>) {
    let b = bucket.max(Duration::from_millis(1));
    let first = index_of(fault_start, b);
    let mut best: Option<(usize, usize)> = None; // (start, length)
    let mut run_start = None;
    for i in first..=acks.len() {
        let zero = acks.get(i) == Some(&0);
        match (zero, run_start) {
            (true, None) => run_start = Some(i),
            (false, Some(s)) => {
                if best.is_none_or(|(_, len)| i - s > len) {
                    best = Some((s, i - s));
                }
                run_start = None;
            }
            _ => {}
        }
    }
    match best {
        Some((s, len)) => (times(b, len), Some(times(b, s))),
        None => (Duration::ZERO, None),
    }
}

/// The unavailability window alone, in milliseconds.
pub fn unavailability_window_ms(acks: &[u64], fault_start: Duration, bucket: Duration) -> u64 {
    unavailability(acks, fault_start, bucket).0.as_millis() as u64
}

/// Mean acks per bucket over the `baseline` before `fault_start`, counting only whole buckets
/// after warm-up and before the one holding the fault's start. `None` if there are none.
pub fn pre_fault_rate(acks: &[u64], fault_start: Duration, p: &ImpactParams) -> Option<f64> {
    let b = p.bucket.max(Duration::from_millis(1));
    let from = p.warmup.max(fault_start.saturating_sub(p.baseline));
    let lo = index_of(from, b) + usize::from(!is_boundary(from, b));
    let hi = index_of(fault_start, b).min(acks.len());
    if lo >= hi {
        return None;
    }
    Some(acks[lo..hi].iter().sum::<u64>() as f64 / (hi - lo) as f64)
}

/// From `fault_start` to the start of the first sliding window back at `fraction` of the
/// pre-fault rate after a dip (see the module doc).
pub fn time_to_recover(acks: &[u64], fault_start: Duration, p: &ImpactParams) -> Option<Duration> {
    let b = p.bucket.max(Duration::from_millis(1));
    let base = pre_fault_rate(acks, fault_start, p)?;
    if base <= 0.0 {
        return None;
    }
    let target = p.fraction * base;
    let w = (p.window.as_nanos() / b.as_nanos()).max(1) as usize;
    let first = index_of(fault_start, b);
    if first + w > acks.len() {
        return None;
    }
    let mean = |i: usize| acks[i..i + w].iter().sum::<u64>() as f64 / w as f64;
    let last = acks.len() - w;
    let Some(dip) = (first..=last).find(|&i| mean(i) < target) else {
        return Some(Duration::ZERO);
    };
    (dip..=last)
        .find(|&i| acks[i] > 0 && mean(i) >= target)
        .map(|i| times(b, i).saturating_sub(fault_start))
}

fn index_of(t: Duration, bucket: Duration) -> usize {
    (t.as_nanos() / bucket.as_nanos()) as usize
}

fn is_boundary(t: Duration, bucket: Duration) -> bool {
    t.as_nanos() % bucket.as_nanos() == 0
}

fn times(bucket: Duration, n: usize) -> Duration {
    bucket.saturating_mul(u32::try_from(n).unwrap_or(u32::MAX))
}

fn bucket_secs(bucket: Duration) -> f64 {
    bucket.max(Duration::from_millis(1)).as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A timeline from (bucket count, acks per bucket) pieces.
    fn timeline(pieces: &[(usize, u64)]) -> Vec<u64> {
        pieces
            .iter()
            .flat_map(|&(n, v)| std::iter::repeat_n(v, n))
            .collect()
    }

    fn params() -> ImpactParams {
        ImpactParams::new(Duration::from_secs(2))
    }

    #[test]
    fn an_outage_then_full_rate() {
        // 6 s at 100/bucket, fault at 6 s, 2 s of nothing, 4 s at 100 again.
        let acks = timeline(&[(60, 100), (20, 0), (40, 100)]);
        let i = assess(&acks, Some(ms(6_300)), ms(6_000), &params());
        assert_eq!(i.time_to_first_error, Some(ms(300)));
        assert_eq!(i.unavailable, ms(2_000));
        assert_eq!(i.unavailable_from, Some(ms(6_000)));
        assert_eq!(i.pre_fault_acks_per_sec, Some(1000.0));
        assert_eq!(i.time_to_recover, Some(ms(2_000)));
        assert_eq!(unavailability_window_ms(&acks, ms(6_000), BUCKET), 2_000);
    }

    #[test]
    fn a_fault_inside_a_bucket() {
        // The bucket holding the fault still has acks from before it.
        let acks = timeline(&[(60, 100), (1, 50), (19, 0), (40, 100)]);
        let (len, from) = unavailability(&acks, ms(6_050), BUCKET);
        assert_eq!((len, from), (ms(1_900), Some(ms(6_100))));
        // The pre-fault mean uses whole buckets before the fault's: 100, not diluted by 50.
        assert_eq!(pre_fault_rate(&acks, ms(6_050), &params()), Some(100.0));
        assert_eq!(
            time_to_recover(&acks, ms(6_050), &params()),
            Some(ms(1_950))
        );
    }

    #[test]
    fn the_burst_after_an_outage_is_not_recovery() {
        // Queued messages flush at 3x when the new leader takes over.
        let acks = timeline(&[(60, 100), (20, 0), (3, 300), (40, 100)]);
        // The window starting at 7.5 s averages 110 (mostly outage, then the burst).
        assert_eq!(
            time_to_recover(&acks, ms(6_000), &params()),
            Some(ms(2_000))
        );
    }

    #[test]
    fn a_gradual_ramp() {
        // Back at half rate for 1 s, then full: windows reach 90 at 8.8 s.
        let acks = timeline(&[(60, 100), (20, 0), (10, 50), (40, 100)]);
        assert_eq!(
            time_to_recover(&acks, ms(6_000), &params()),
            Some(ms(2_800))
        );
        assert_eq!(unavailability(&acks, ms(6_000), BUCKET).0, ms(2_000));
    }

    #[test]
    fn the_longest_of_several_stalls() {
        let acks = timeline(&[
            (60, 100),
            (3, 0),
            (5, 100),
            (7, 0),
            (5, 100),
            (2, 0),
            (10, 100),
        ]);
        assert_eq!(
            unavailability(&acks, ms(6_000), BUCKET),
            (ms(700), Some(ms(6_800)))
        );
        // Stalls before the fault do not count.
        let acks = timeline(&[(30, 0), (30, 100), (2, 0), (10, 100)]);
        assert_eq!(
            unavailability(&acks, ms(6_000), BUCKET),
            (ms(200), Some(ms(6_000)))
        );
    }

    #[test]
    fn no_impact() {
        let acks = timeline(&[(120, 100)]);
        let i = assess(&acks, None, ms(6_000), &params());
        assert_eq!(i.time_to_first_error, None);
        assert_eq!(i.unavailable, Duration::ZERO);
        assert_eq!(i.unavailable_from, None);
        assert_eq!(i.time_to_recover, Some(Duration::ZERO));
        // A slower but never-zero stretch above 90 %: no dip either.
        let acks = timeline(&[(60, 100), (20, 92), (40, 100)]);
        assert_eq!(
            time_to_recover(&acks, ms(6_000), &params()),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn never_recovers() {
        // Down until the producers stop: the window runs to the end of the timeline.
        let acks = timeline(&[(60, 100), (40, 0)]);
        let i = assess(&acks, Some(ms(5_000)), ms(6_000), &params());
        assert_eq!(i.unavailable, ms(4_000));
        assert_eq!(i.time_to_recover, None);
        // An error before the fault is not the fault's.
        assert_eq!(i.time_to_first_error, None);
        // Back, but only at 80 %.
        let acks = timeline(&[(60, 100), (10, 0), (40, 80)]);
        assert_eq!(time_to_recover(&acks, ms(6_000), &params()), None);
    }

    #[test]
    fn the_baseline_skips_warm_up() {
        // Warm-up (2 s) at a crawl, then 100; fault at 3 s: the baseline is 2..3 s only.
        let acks = timeline(&[(20, 10), (10, 100), (10, 0), (20, 100)]);
        assert_eq!(pre_fault_rate(&acks, ms(3_000), &params()), Some(100.0));
        assert_eq!(
            time_to_recover(&acks, ms(3_000), &params()),
            Some(ms(1_000))
        );
        // The baseline is at most 5 s long.
        let acks = timeline(&[(30, 10), (50, 100), (10, 0)]);
        assert_eq!(pre_fault_rate(&acks, ms(8_000), &params()), Some(100.0));
        // A warm-up that ends inside a bucket: that bucket is left out.
        let p = ImpactParams::new(ms(2_050));
        let acks = timeline(&[(20, 10), (1, 55), (9, 100)]);
        assert_eq!(pre_fault_rate(&acks, ms(3_000), &p), Some(100.0));
        // A fault during warm-up has no baseline, hence no recovery time.
        let acks = timeline(&[(60, 100)]);
        assert_eq!(pre_fault_rate(&acks, ms(1_500), &params()), None);
        assert_eq!(time_to_recover(&acks, ms(1_500), &params()), None);
        assert_eq!(pre_fault_rate(&acks, ms(2_000), &params()), None);
    }

    #[test]
    fn degenerate_input_does_not_panic() {
        let p = params();
        assert_eq!(
            assess(&[], None, ms(6_000), &p),
            FaultImpact {
                time_to_first_error: None,
                unavailable: Duration::ZERO,
                unavailable_from: None,
                pre_fault_acks_per_sec: None,
                time_to_recover: None,
            }
        );
        // The fault after the end of the timeline, or too close to it for one window.
        let acks = timeline(&[(60, 100)]);
        assert_eq!(unavailability(&acks, ms(60_000), BUCKET).0, Duration::ZERO);
        assert_eq!(time_to_recover(&acks, ms(5_500), &p), None);
        // Nothing acked before the fault: nothing to recover to.
        let acks = timeline(&[(60, 0), (20, 100)]);
        assert_eq!(time_to_recover(&acks, ms(5_000), &p), None);
        // A zero bucket width is taken as 1 ms rather than dividing by zero.
        let zero = ImpactParams {
            bucket: Duration::ZERO,
            ..p
        };
        let _ = assess(&[1, 0, 1], Some(ms(1)), ms(1), &zero);
        assert_eq!(
            time_to_first_error(ms(5), Some(ms(5))),
            Some(Duration::ZERO)
        );
    }
}
