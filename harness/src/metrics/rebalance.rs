//! A consumer group's rebalances, from its members' rebalance callbacks: how long each moved
//! partition went unread. Pure: the callbacks pass their times in (ns on the cell's clock).
//!
//! **The pause** of a partition is the time from its revocation (the member that held it
//! stops reading it) to its next assignment (some member, the same or another, may read it
//! again). With an eager assignor (range, roundrobin) a rebalance revokes every partition of
//! every member, so every partition pauses, moved or not; with cooperative-sticky (and the
//! KIP-848 protocol) only the partitions that change owner are revoked, so only they pause.
//! A partition that is simply handed to a new member without being revoked first (a member
//! left, its partitions went with it) pauses from the leaver's revocation, which the leaver
//! reports as it closes. Per group, a rebalance's pause is then its partitions' pauses; the
//! cell reports their count, median and maximum.

use serde::Serialize;

/// One partition's pause: revoked from `from_member` at `revoked_ns`, assigned to
/// `to_member` at `assigned_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PartitionPause {
    pub partition: i32,
    pub from_member: usize,
    pub to_member: usize,
    pub revoked_ns: u64,
    pub assigned_ns: u64,
}

impl PartitionPause {
    pub fn pause_ns(&self) -> u64 {
        self.assigned_ns.saturating_sub(self.revoked_ns)
    }

    /// Did the partition change owner?
    pub fn moved(&self) -> bool {
        self.from_member != self.to_member
    }
}

/// A group's partitions: which are revoked and waiting for an owner, and the pauses so far.
#[derive(Debug, Clone, Default)]
pub struct RebalanceLog {
    /// Per partition: revoked at (ns) by member, while it waits for its next assignment.
    waiting: Vec<Option<(u64, usize)>>,
    pauses: Vec<PartitionPause>,
}

impl RebalanceLog {
    pub fn new(partitions: usize) -> RebalanceLog {
        RebalanceLog {
            waiting: vec![None; partitions],
            pauses: Vec::new(),
        }
    }

    /// `member` gave up `partitions` at `now_ns`.
    pub fn revoke(&mut self, member: usize, partitions: &[i32], now_ns: u64) {
        for &p in partitions {
            if let Some(slot) = slot_of(&mut self.waiting, p) {
                // Revoked twice without an assignment between (a leaver's close after the
                // group already revoked it): the first revocation is when reading stopped.
                slot.get_or_insert((now_ns, member));
            }
        }
    }

    /// `member` was given `partitions` at `now_ns`: each one that was waiting ends its pause.
    /// A partition assigned for the first time (never revoked) has no pause.
    pub fn assign(&mut self, member: usize, partitions: &[i32], now_ns: u64) {
        for &p in partitions {
            let Some(slot) = slot_of(&mut self.waiting, p) else {
                continue;
            };
            if let Some((revoked_ns, from)) = slot.take() {
                self.pauses.push(PartitionPause {
                    partition: p,
                    from_member: from,
                    to_member: member,
                    revoked_ns,
                    assigned_ns: now_ns,
                });
            }
        }
    }

    /// Every pause so far, in the order they ended.
    pub fn pauses(&self) -> &[PartitionPause] {
        &self.pauses
    }
}

fn slot_of(waiting: &mut [Option<(u64, usize)>], p: i32) -> Option<&mut Option<(u64, usize)>> {
    usize::try_from(p).ok().and_then(|i| waiting.get_mut(i))
}

/// A cell's rebalance figures over the pauses that began at or after `from_ns` (the load's
/// start: the groups' own forming is not a rebalance under load).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PauseSummary {
    /// Pauses counted (one per revoked-and-reassigned partition).
    pub count: usize,
    pub median_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl PauseSummary {
    pub fn of<'a>(pauses: impl IntoIterator<Item = &'a PartitionPause>, from_ns: u64) -> Self {
        let mut ns: Vec<u64> = pauses
            .into_iter()
            .filter(|p| p.revoked_ns >= from_ns)
            .map(PartitionPause::pause_ns)
            .collect();
        ns.sort_unstable();
        let ms = |x: u64| (x as f64 / 1e3).round() / 1e3;
        PauseSummary {
            count: ns.len(),
            // The lower median of an even count: a pause that happened, not an average.
            median_ms: ns.get(ns.len().saturating_sub(1) / 2).map(|&x| ms(x)),
            max_ms: ns.last().map(|&x| ms(x)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_eager_rebalance_pauses_every_partition_and_a_leaver_s_move_to_the_stayer() {
        let mut g = RebalanceLog::new(4);
        const MS: u64 = 1_000_000;
        g.assign(0, &[0, 1], 10);
        g.assign(1, &[2, 3], 10);
        assert!(g.pauses().is_empty(), "a first assignment is no pause");
        // Member 1 leaves (revokes 2, 3 as it closes); member 0's eager revoke of all follows.
        g.revoke(1, &[2, 3], 1_000 * MS);
        g.revoke(0, &[0, 1], 1_500 * MS);
        g.revoke(1, &[2, 3], 1_600 * MS); // a second revocation does not restart the pause
        g.assign(0, &[0, 1, 2, 3], 4_000 * MS);
        let p = g.pauses();
        assert_eq!(p.len(), 4);
        let moved: Vec<i32> = p
            .iter()
            .filter(|p| p.moved())
            .map(|p| p.partition)
            .collect();
        assert_eq!(moved, vec![2, 3]);
        assert_eq!(
            p.iter().map(PartitionPause::pause_ns).max(),
            Some(3_000 * MS)
        );
        let s = PauseSummary::of(p, 0);
        assert_eq!(s.count, 4);
        assert_eq!(s.max_ms, Some(3_000.0));
        assert_eq!(
            s.median_ms,
            Some(2_500.0),
            "the lower median: a pause that happened"
        );
        assert_eq!(
            PauseSummary::of(p, 1_200 * MS).count,
            2,
            "only pauses from 1.2 s on"
        );
        assert_eq!(PauseSummary::of(p, 5_000 * MS), PauseSummary::default());
    }

    #[test]
    fn a_cooperative_rebalance_pauses_only_what_moves() {
        let mut g = RebalanceLog::new(6);
        g.assign(0, &[0, 1, 2, 3, 4, 5], 0);
        // A member joins: 3 partitions are revoked from member 0, then assigned to member 1.
        g.revoke(0, &[3, 4, 5], 2_000_000);
        g.assign(0, &[], 2_100_000);
        g.assign(1, &[3, 4, 5], 9_000_000);
        let p = g.pauses();
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|p| p.moved() && p.pause_ns() == 7_000_000));
        assert_eq!(PauseSummary::of(p, 0).max_ms, Some(7.0));
    }

    #[test]
    fn out_of_range_partitions_are_ignored() {
        let mut g = RebalanceLog::new(1);
        g.revoke(0, &[5, -1], 1);
        g.assign(0, &[5], 2);
        assert!(g.pauses().is_empty());
    }
}
