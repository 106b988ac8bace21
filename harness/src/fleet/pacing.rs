//! The open-model send schedule, and the check that kbench kept to it.
//!
//! At a fixed rate message `n` has an intended send time `start + n / rate`, fixed in advance
//! and independent of when earlier messages actually went out. Latency is measured from that
//! time, so a stall (in the client, the broker or kbench) shows up in the percentiles instead of
//! silently lowering the offered load: no coordinated omission.
//!
//! A producer's loop:
//! ```
//! # use std::time::{Duration, Instant};
//! # use kbench::fleet::pacing::{Schedule, LagTracker};
//! # let start = Instant::now();
//! let schedule = Schedule::new(Some(1000.0), start).expect("valid rate");
//! let mut lag = LagTracker::new(Duration::from_millis(10));
//! let mut sent = 0u64;
//! # let mut rounds = 0;
//! loop {
//!     let now = Instant::now();
//!     // Everything whose time has come goes out now, each with its own intended time.
//!     let due = schedule.due(now);
//!     while sent < due {
//!         let intended = schedule.intended(sent).unwrap_or(now);
//!         // ... send message `sent`, latency measured from `intended` ...
//!         lag.record(intended, now);
//!         sent += 1;
//!     }
//!     match schedule.next_wakeup(sent) {
//!         Some(at) => { /* sleep until `at` */ }
//!         None => { /* max rate: no sleeping; bound the burst by the queue instead */ }
//!     }
//! #   rounds += 1; if rounds == 3 { break; }
//! }
//! ```
//!
//! Intended times are computed from `n` directly in integer fixed point, never by adding up
//! intervals, so they do not drift however long the run.

use std::time::{Duration, Instant};

/// Below this lag behind its intended time, a message counts as sent on time. Timer wake-ups
/// are late by up to a millisecond or two even on an idle host, and a producer sends every
/// message that became due meanwhile in one burst; 10 ms is well above that noise and well
/// below the latencies a user of a Kafka benchmark cares about.
pub const DEFAULT_LAG_THRESHOLD: Duration = Duration::from_millis(10);

/// The fraction of late messages (see [`DEFAULT_LAG_THRESHOLD`]) above which a cell is marked
/// as "kbench fell behind its schedule" by [`LagTracker::fell_behind`].
pub const DEFAULT_MAX_LATE_FRACTION: f64 = 0.01;

/// Fractional bits of the fixed-point message period.
const FRAC_BITS: u32 = 32;
/// One half in that fixed point, for rounding to the nearest nanosecond.
const HALF: u128 = 1 << (FRAC_BITS - 1);

/// A rate that cannot be scheduled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PacingError {
    #[error("rate must be a finite number of messages per second above 0, not {0}")]
    BadRate(f64),
    #[error("producer index {index} is not below the fleet size {producers}")]
    BadProducer { index: usize, producers: usize },
}

/// When each message of one producer is meant to be sent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    start: Instant,
    pace: Option<Pace>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Pace {
    rate: f64,
    /// Nanoseconds between messages, times 2^32. The period comes from an f64 division, so
    /// `intended(n)` is within half a nanosecond plus 2^-52 of the elapsed time (under a
    /// nanosecond per month) of the exact `n / rate`, however long the run.
    period_fx: u128,
}

impl Pace {
    fn new(rate: f64) -> Result<Self, PacingError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(PacingError::BadRate(rate));
        }
        // `as` saturates: an absurdly low rate gives a huge period, handled by the saturating
        // arithmetic below; an absurdly high one a period of at least one unit.
        let period_fx = ((1e9 * (1u64 << FRAC_BITS) as f64) / rate).round() as u128;
        Ok(Pace {
            rate,
            period_fx: period_fx.max(1),
        })
    }

    /// Nanoseconds from the start to message `n`: `n * period` rounded to the nearest
    /// nanosecond (so 3 messages at 3/s take exactly 1 s), saturating.
    #[inline]
    fn offset_ns(&self, n: u64) -> u64 {
        match u128::from(n).checked_mul(self.period_fx) {
            Some(x) => u64::try_from((x + HALF) >> FRAC_BITS).unwrap_or(u64::MAX),
            None => u64::MAX,
        }
    }

    /// How many messages have an offset `<= elapsed_ns` (E): `offset_ns(n) <= E` holds iff
    /// `n * P + 2^31 < (E + 1) * 2^32`, so the count is `ceil(((E + 1) * 2^32 - 2^31) / P)`.
    /// Exactly consistent with `offset_ns`: `offset_ns(n) <= E` if and only if `n < due(E)`.
    #[inline]
    fn due(&self, elapsed_ns: u128) -> u64 {
        // elapsed_ns < 2^64 for any real clock, so this cannot overflow; guard anyway.
        let Some(scaled) = (elapsed_ns + 1).checked_mul(1 << FRAC_BITS) else {
            return u64::MAX;
        };
        let n = (scaled - HALF).div_ceil(self.period_fx);
        u64::try_from(n).unwrap_or(u64::MAX)
    }
}

impl Schedule {
    /// A schedule of `rate_per_sec` messages per second from `start` (message 0 is due at
    /// `start`), or as fast as possible when `None`.
    pub fn new(rate_per_sec: Option<f64>, start: Instant) -> Result<Self, PacingError> {
        Ok(Schedule {
            start,
            pace: rate_per_sec.map(Pace::new).transpose()?,
        })
    }

    /// The schedule of producer `index` of `producers` when the fleet as a whole offers
    /// `total_rate` messages per second: each producer gets `total_rate / producers`, and
    /// producer `i` is shifted by `i / total_rate` so that the fleet's messages interleave
    /// evenly instead of leaving in bursts of `producers` at the same instant.
    pub fn for_producer(
        total_rate: Option<f64>,
        producers: usize,
        index: usize,
        start: Instant,
    ) -> Result<Self, PacingError> {
        if index >= producers {
            return Err(PacingError::BadProducer { index, producers });
        }
        let Some(total) = total_rate else {
            return Schedule::new(None, start);
        };
        let fleet = Pace::new(total)?;
        let phase = Duration::from_nanos(fleet.offset_ns(index as u64));
        Schedule::new(Some(total / producers as f64), add(start, phase))
    }

    /// When message 0 is due.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// Messages per second, `None` at max rate.
    pub fn rate(&self) -> Option<f64> {
        self.pace.map(|p| p.rate)
    }

    /// Whether there is a schedule at all (`false` at max rate).
    pub fn is_paced(&self) -> bool {
        self.pace.is_some()
    }

    /// How long after [`Schedule::start`] message `n` is due; `None` at max rate.
    #[inline]
    pub fn intended_offset(&self, n: u64) -> Option<Duration> {
        self.pace.map(|p| Duration::from_nanos(p.offset_ns(n)))
    }

    /// When message `n` (from 0) is meant to be sent. `None` at max rate: there is no schedule
    /// and latency is measured from the actual send.
    #[inline]
    pub fn intended(&self, n: u64) -> Option<Instant> {
        self.intended_offset(n).map(|d| add(self.start, d))
    }

    /// The number of messages whose intended time is at or before `now` (so messages
    /// `0..due` should have been sent). At max rate every message is always due: `u64::MAX`.
    #[inline]
    pub fn due(&self, now: Instant) -> u64 {
        let Some(pace) = self.pace else {
            return u64::MAX;
        };
        if now < self.start {
            return 0;
        }
        pace.due(now.duration_since(self.start).as_nanos())
    }

    /// When to wake up after sending `sent` messages: the intended time of message `sent`.
    /// `None` at max rate (never sleep).
    #[inline]
    pub fn next_wakeup(&self, sent: u64) -> Option<Instant> {
        self.intended(sent)
    }
}

/// `start + d`, saturating far in the future instead of panicking on overflow (a monotonic
/// clock plus 584 years, the most a u64 of nanoseconds holds, does not overflow in practice).
fn add(start: Instant, d: Duration) -> Instant {
    start
        .checked_add(d)
        .or_else(|| start.checked_add(Duration::from_secs(u32::MAX.into())))
        .unwrap_or(start)
}

/// Counts the messages sent later than a threshold after their intended time, and the worst
/// lag: the evidence for the validity flag "kbench fell behind its schedule". Pure; one per
/// producer, merged per cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LagTracker {
    threshold: Duration,
    sent: u64,
    late: u64,
    max_lag: Duration,
}

impl Default for LagTracker {
    fn default() -> Self {
        LagTracker::new(DEFAULT_LAG_THRESHOLD)
    }
}

impl LagTracker {
    /// A tracker that counts a message as late when it leaves more than `threshold` after its
    /// intended time.
    pub fn new(threshold: Duration) -> Self {
        LagTracker {
            threshold,
            sent: 0,
            late: 0,
            max_lag: Duration::ZERO,
        }
    }

    /// Records one message meant for `intended` and sent at `sent_at`; returns its lag (zero if
    /// it left early, which the schedule never asks for but a caller's clock may report).
    #[inline]
    pub fn record(&mut self, intended: Instant, sent_at: Instant) -> Duration {
        let lag = sent_at.saturating_duration_since(intended);
        self.record_lag(lag);
        lag
    }

    /// Records one message sent `lag` after its intended time.
    #[inline]
    pub fn record_lag(&mut self, lag: Duration) {
        self.sent += 1;
        if lag > self.threshold {
            self.late += 1;
        }
        if lag > self.max_lag {
            self.max_lag = lag;
        }
    }

    /// Adds another tracker's counts (another producer, or the next interval). The threshold
    /// stays this tracker's.
    pub fn merge(&mut self, other: &LagTracker) {
        self.sent += other.sent;
        self.late += other.late;
        self.max_lag = self.max_lag.max(other.max_lag);
    }

    /// Forgets everything recorded (e.g. at the end of warm-up), keeping the threshold.
    pub fn reset(&mut self) {
        *self = LagTracker::new(self.threshold);
    }

    /// The lag above which a message is late.
    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    /// Messages recorded.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Messages sent more than the threshold after their intended time.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// The largest lag seen.
    pub fn max_lag(&self) -> Duration {
        self.max_lag
    }

    /// `late / sent`, 0 when nothing was sent.
    pub fn late_fraction(&self) -> f64 {
        if self.sent == 0 {
            0.0
        } else {
            self.late as f64 / self.sent as f64
        }
    }

    /// Whether more than `max_late_fraction` of the messages were late: the load generator,
    /// not the cluster, set the pace. See [`DEFAULT_MAX_LATE_FRACTION`].
    pub fn fell_behind(&self, max_late_fraction: f64) -> bool {
        self.late_fraction() > max_late_fraction
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> Duration {
        Duration::from_millis(x)
    }

    #[test]
    fn intended_times_follow_the_rate_without_drift() {
        let t0 = Instant::now();
        let s = Schedule::new(Some(1000.0), t0).unwrap();
        assert_eq!(s.intended(0), Some(t0));
        assert_eq!(s.intended(1), Some(t0 + ms(1)));
        assert_eq!(s.intended(1_000_000), Some(t0 + Duration::from_secs(1000)));
        // A period that is not a whole number of nanoseconds: 3 per second.
        let s = Schedule::new(Some(3.0), t0).unwrap();
        assert_eq!(s.intended_offset(3), Some(Duration::from_secs(1)));
        assert_eq!(
            s.intended_offset(1),
            Some(Duration::from_nanos(333_333_333))
        );
        // 3e9 messages: 10^9 s, within 1 ns + 2^-52 of it.
        let got = s.intended_offset(3_000_000_000).unwrap().as_nanos();
        assert!(
            got.abs_diff(10u128.pow(18)) <= 1 + (10u128.pow(18) >> 52),
            "{got}"
        );
        // 7/s for 10^10 messages (45 years): 10^10/7 s within 1 ns + 2^-52 of it.
        let s = Schedule::new(Some(7.0), t0).unwrap();
        let want_ns = (10u128.pow(10) * 1_000_000_000 / 7) as u64;
        let got_ns = s.intended_offset(10_000_000_000).unwrap().as_nanos() as u64;
        let tolerance = 1 + (want_ns >> 52);
        assert!(
            want_ns.abs_diff(got_ns) <= tolerance,
            "{got_ns} vs {want_ns}"
        );
    }

    #[test]
    fn due_counts_messages_at_or_before_now() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let s = Schedule::new(Some(1000.0), t0).unwrap();
        assert_eq!(s.due(t0 - ms(1)), 0);
        assert_eq!(s.due(t0), 1);
        assert_eq!(s.due(t0 + Duration::from_micros(999)), 1);
        assert_eq!(s.due(t0 + ms(1)), 2);
        assert_eq!(s.due(t0 + Duration::from_secs(2)), 2001);
    }

    #[test]
    fn due_and_intended_agree_exactly() {
        let t0 = Instant::now();
        for rate in [1.0, 3.0, 7.0, 999.9, 20_000.0, 33_333.3, 1e6, 7.77e6, 2e9] {
            let s = Schedule::new(Some(rate), t0).unwrap();
            for n in (0..200u64).chain([12_345, 1 << 20, 987_654_321]) {
                let at = s.intended(n).unwrap();
                assert!(s.due(at) > n, "rate {rate} n {n}: due at its own time");
                // Just before its time (a nanosecond earlier) it is not yet due, unless it
                // shares that nanosecond with an earlier message (rates above 1e9/s).
                if let Some(before) = at.checked_sub(Duration::from_nanos(1)) {
                    if before >= t0 {
                        assert!(s.due(before) <= n, "rate {rate} n {n}: not due early");
                    }
                }
            }
        }
    }

    #[test]
    fn next_wakeup_is_the_next_unsent_message() {
        let t0 = Instant::now();
        let s = Schedule::new(Some(100.0), t0).unwrap();
        assert_eq!(s.next_wakeup(0), Some(t0));
        assert_eq!(s.next_wakeup(5), Some(t0 + ms(50)));
        // After sending all that is due, the wake-up is in the future.
        let now = t0 + ms(123);
        let sent = s.due(now);
        assert_eq!(sent, 13);
        assert!(s.next_wakeup(sent).unwrap() > now);
    }

    #[test]
    fn max_rate_has_no_schedule() {
        let t0 = Instant::now();
        let s = Schedule::new(None, t0).unwrap();
        assert!(!s.is_paced());
        assert_eq!(s.rate(), None);
        assert_eq!(s.due(t0), u64::MAX);
        assert_eq!(s.intended(5), None);
        assert_eq!(s.next_wakeup(5), None);
    }

    #[test]
    fn bad_rates_are_errors() {
        let t0 = Instant::now();
        for r in [0.0, -5.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                Schedule::new(Some(r), t0),
                Err(PacingError::BadRate(_))
            ));
        }
    }

    #[test]
    fn extreme_rates_saturate_instead_of_panicking() {
        let t0 = Instant::now();
        let slow = Schedule::new(Some(1e-300), t0).unwrap();
        assert_eq!(slow.due(t0 + Duration::from_secs(1_000_000)), 1);
        assert!(slow.intended(u64::MAX).is_some());
        let fast = Schedule::new(Some(1e300), t0).unwrap();
        // The period bottoms out at 2^-32 ns: 2^64 messages within 2^32 ns.
        assert!(fast.intended_offset(u64::MAX) <= Some(Duration::from_secs(5)));
        assert!(fast.due(t0) >= 1 << 31);
        let normal = Schedule::new(Some(1000.0), t0).unwrap();
        assert!(normal.intended(u64::MAX).is_some());
    }

    #[test]
    fn fleet_schedules_interleave_evenly() {
        let t0 = Instant::now();
        let total = 4000.0;
        let mut all: Vec<Instant> = (0..4)
            .flat_map(|i| {
                let s = Schedule::for_producer(Some(total), 4, i, t0).unwrap();
                assert_eq!(s.rate(), Some(1000.0));
                (0..100).map(move |n| s.intended(n).unwrap())
            })
            .collect();
        all.sort();
        // 400 messages 250 µs apart, from t0, as one schedule at 4000/s would have them.
        for (n, at) in all.iter().enumerate() {
            let want = t0 + Duration::from_micros(250 * n as u64);
            let diff = if *at > want { *at - want } else { want - *at };
            assert!(
                diff <= Duration::from_nanos(1),
                "message {n} off by {diff:?}"
            );
        }
        assert!(Schedule::for_producer(Some(total), 4, 4, t0).is_err());
        assert!(!Schedule::for_producer(None, 4, 3, t0).unwrap().is_paced());
    }

    #[test]
    fn lag_tracker_counts_late_messages_and_max_lag() {
        let t0 = Instant::now();
        let mut lag = LagTracker::new(ms(10));
        assert_eq!(lag.record(t0, t0 + ms(1)), ms(1));
        assert_eq!(lag.record(t0, t0 + ms(10)), ms(10)); // at the threshold: on time
        lag.record(t0, t0 + ms(11));
        lag.record(t0 + ms(50), t0 + ms(20)); // early: zero lag
        lag.record(t0, t0 + ms(250));
        assert_eq!(lag.sent(), 5);
        assert_eq!(lag.late(), 2);
        assert_eq!(lag.max_lag(), ms(250));
        assert!((lag.late_fraction() - 0.4).abs() < 1e-12);
        assert!(lag.fell_behind(DEFAULT_MAX_LATE_FRACTION));
        assert!(!lag.fell_behind(0.5));

        let mut other = LagTracker::new(ms(10));
        other.record_lag(ms(400));
        other.record_lag(ms(0));
        lag.merge(&other);
        assert_eq!((lag.sent(), lag.late(), lag.max_lag()), (7, 3, ms(400)));

        lag.reset();
        assert_eq!(
            (lag.sent(), lag.late(), lag.max_lag()),
            (0, 0, Duration::ZERO)
        );
        assert_eq!(lag.threshold(), ms(10));
        assert!(!lag.fell_behind(0.0));
    }

    #[test]
    fn a_producer_loop_that_keeps_up_is_never_late() {
        // Simulated clock: the loop wakes exactly at next_wakeup plus 1 ms of timer slack.
        let t0 = Instant::now();
        let s = Schedule::new(Some(50_000.0), t0).unwrap();
        let mut lag = LagTracker::default();
        let (mut sent, mut now) = (0u64, t0);
        while sent < 100_000 {
            let due = s.due(now).min(100_000);
            while sent < due {
                lag.record(s.intended(sent).unwrap(), now);
                sent += 1;
            }
            now = s.next_wakeup(sent).unwrap() + ms(1);
        }
        assert_eq!(lag.sent(), 100_000);
        assert_eq!(lag.late(), 0);
        assert!(lag.max_lag() <= ms(2));

        // One 50 ms stall: the messages due meanwhile go out late, in one burst.
        let mut lag = LagTracker::default();
        let stall_at = t0 + Duration::from_secs(1);
        let (mut sent, mut now) = (0u64, t0);
        let mut stalled = false;
        while sent < 100_000 {
            let due = s.due(now).min(100_000);
            while sent < due {
                lag.record(s.intended(sent).unwrap(), now);
                sent += 1;
            }
            now = s.next_wakeup(sent).unwrap();
            if !stalled && now >= stall_at {
                now += ms(50);
                stalled = true;
            }
        }
        assert_eq!(lag.sent(), 100_000);
        // Messages due in the first 40 ms of the stall were more than 10 ms late: 2000 of them.
        assert!((1990..=2010).contains(&lag.late()), "{}", lag.late());
        assert!(lag.max_lag() >= ms(49));
    }
}
