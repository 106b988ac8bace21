//! One clock for a whole cell. Producers stamp each message with its intended send time in
//! nanoseconds on it; consumers read the same clock, so end-to-end latency is one subtraction.
//!
//! In one process the clock is monotonic, counted from the cell's base instant: no wall-clock
//! synchronisation needed. A distributed run's shards share no instant, so there the clock
//! reads wall-clock time (ns since the Unix epoch) corrected by the shard's measured offset to
//! shard 0, and still advances monotonically from its base (it is read once, at creation).

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
    /// What the clock reads at `base`: 0 for the monotonic clock, the corrected wall-clock
    /// time for a wall clock.
    epoch_ns: u64,
}

impl Clock {
    /// The monotonic clock of one process: 0 now.
    pub fn new() -> Clock {
        Clock {
            base: Instant::now(),
            epoch_ns: 0,
        }
    }

    /// A wall clock that reads `wall_now_ns` (ns since the Unix epoch, already corrected to
    /// the reference clock) now.
    pub fn wall(wall_now_ns: u64) -> Clock {
        Clock {
            base: Instant::now(),
            epoch_ns: wall_now_ns,
        }
    }

    /// Does this clock read wall-clock time (a stamp must say so)?
    pub fn is_wall(&self) -> bool {
        self.epoch_ns != 0
    }

    pub fn base(&self) -> Instant {
        self.base
    }

    /// Nanoseconds on the clock now.
    pub fn now_ns(&self) -> u64 {
        self.ns(Instant::now())
    }

    pub fn ns(&self, t: Instant) -> u64 {
        self.epoch_ns
            .saturating_add(t.saturating_duration_since(self.base).as_nanos() as u64)
    }

    pub fn instant(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns.saturating_sub(self.epoch_ns))
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_reads_its_epoch_and_maps_back_to_instants() {
        let c = Clock::wall(1_700_000_000_000_000_000);
        assert!(c.is_wall() && !Clock::new().is_wall());
        let t = c.base() + Duration::from_millis(5);
        assert_eq!(c.ns(t), 1_700_000_000_005_000_000);
        assert_eq!(c.instant(c.ns(t)), t);
    }
}
