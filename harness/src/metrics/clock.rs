//! One monotonic clock for a whole run. Producers stamp each message with its intended send
//! time in nanoseconds since the run's base instant; consumers in the same process read the
//! same clock, so end-to-end latency needs no wall-clock synchronisation.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Clock {
    base: Instant,
}

impl Clock {
    pub fn new() -> Clock {
        Clock {
            base: Instant::now(),
        }
    }

    pub fn base(&self) -> Instant {
        self.base
    }

    /// Nanoseconds since the base instant.
    pub fn now_ns(&self) -> u64 {
        self.ns(Instant::now())
    }

    pub fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.base).as_nanos() as u64
    }

    pub fn instant(&self, ns: u64) -> Instant {
        self.base + Duration::from_nanos(ns)
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}
