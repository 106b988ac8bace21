//! Clock offsets between shards, NTP style: shard I sends a probe at `t0` (its clock), shard 0
//! receives it at `t1` and answers at `t2` (shard 0's clock), shard I receives the answer at
//! `t3`. Then shard 0's clock minus shard I's is `((t1 - t0) + (t2 - t3)) / 2`, wrong by at
//! most half the round trip spent on the wire (`(t3 - t0) - (t2 - t1)`), whatever the
//! asymmetry: the sample with the smallest round trip gives the tightest bound.
//!
//! Through a Kafka topic a round trip is two produces and two fetches (a few ms on one host,
//! more across a network); the bound is stated, never assumed away.

/// One probe's four times, ns since the Unix epoch on the clock each was read on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Probe {
    pub t0: i64,
    pub t1: i64,
    pub t2: i64,
    pub t3: i64,
}

/// An estimate of shard 0's clock minus this shard's, and the bound on its error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Offset {
    pub offset_ns: i64,
    pub bound_ns: u64,
}

impl Probe {
    pub fn offset(&self) -> Offset {
        let wire = (self.t3 - self.t0) - (self.t2 - self.t1);
        Offset {
            offset_ns: ((self.t1 - self.t0) + (self.t2 - self.t3)) / 2,
            bound_ns: (wire.max(0) as u64).div_ceil(2),
        }
    }
}

/// The estimate of the probe with the smallest round trip; `None` without probes.
pub fn best(probes: &[Probe]) -> Option<Offset> {
    probes.iter().map(Probe::offset).min_by_key(|o| o.bound_ns)
}

/// A bound on a cross-shard end-to-end latency: a message's producer and its consumer each
/// corrected their clock with an error of at most their bound, so the two largest bounds of
/// the shards together bound any message's error (one shard's own messages carry none).
pub fn e2e_bound_ns(bounds: &[u64]) -> u64 {
    let mut b = bounds.to_vec();
    b.sort_unstable_by_key(|x| std::cmp::Reverse(*x));
    b.iter().take(2).sum()
}

/// A cell whose end-to-end bound is above this is flagged `clock-bound`.
pub const MAX_E2E_BOUND_NS: u64 = 10_000_000;

/// Test only: `KBENCH_TEST_CLOCK_SKEW_MS` shifts this process's wall clock (as the shard reads
/// it) by that many ms, so a test can check that the offset is measured and corrected.
/// Deliberately an environment variable, not a flag: it is no user setting.
pub const TEST_SKEW_ENV: &str = "KBENCH_TEST_CLOCK_SKEW_MS";

/// The test skew in ns, 0 when unset; an unparsable value is an error naming the variable.
pub fn test_skew_ns() -> Result<i64, String> {
    match std::env::var(TEST_SKEW_ENV) {
        Err(_) => Ok(0),
        Ok(v) => v
            .trim()
            .parse::<i64>()
            .map(|ms| ms.saturating_mul(1_000_000))
            .map_err(|_| format!("{TEST_SKEW_ENV}={v:?}: expected a whole number of ms")),
    }
}

/// This process's wall clock in ns since the Unix epoch, shifted by `skew_ns`.
pub fn wall_ns(skew_ns: i64) -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0);
    now.saturating_add(skew_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_symmetric_probe_finds_the_offset_exactly() {
        // Shard 0 is 5 s ahead; 1 ms each way, 0.2 ms at shard 0.
        let skew = 5_000_000_000;
        let p = Probe {
            t0: 1_000_000,
            t1: 2_000_000 + skew,
            t2: 2_200_000 + skew,
            t3: 3_200_000,
        };
        assert_eq!(
            p.offset(),
            Offset {
                offset_ns: skew,
                bound_ns: 1_000_000
            }
        );
    }

    #[test]
    fn an_asymmetric_probe_is_wrong_within_its_bound_and_the_best_is_kept() {
        // 3 ms out, 1 ms back: the estimate is 1 ms off, within the 2 ms bound.
        let slow = Probe {
            t0: 0,
            t1: 3_000_000,
            t2: 3_000_000,
            t3: 4_000_000,
        };
        let o = slow.offset();
        assert!(o.offset_ns.unsigned_abs() <= o.bound_ns);
        assert_eq!((o.offset_ns, o.bound_ns), (1_000_000, 2_000_000));
        let fast = Probe {
            t0: 0,
            t1: 100,
            t2: 100,
            t3: 200,
        };
        assert_eq!(best(&[slow, fast]), Some(fast.offset()));
        assert_eq!(best(&[]), None);
    }

    #[test]
    fn the_e2e_bound_adds_the_two_worst_shards() {
        assert_eq!(e2e_bound_ns(&[0, 3, 7, 5]), 12);
        assert_eq!(e2e_bound_ns(&[4]), 4);
        assert_eq!(e2e_bound_ns(&[]), 0);
    }
}
