//! Delivery accounting: which messages were lost, duplicated or reordered.
//!
//! Every message carries its producer id and sequence number (see `fleet::payload::stamp`).
//! Producers record the sequence numbers the cluster acknowledged; each consumer group member
//! records what it read. At the end of a cell, per group:
//! - **lost**: acknowledged, but never read by the group;
//! - **duplicated**: the same (producer, seq) at two different log positions (a producer retry
//!   written twice). A consumer reading the same offset again after a rebalance is a
//!   *redelivery*, counted apart: it says nothing about the cluster;
//! - **reordered**: within one partition, a message from a producer that comes after one of
//!   that producer's later messages.
//!
//! Pure data structures: the fleets feed them, the runner combines them.

use std::collections::HashMap;

/// A set of sequence numbers as a bitset that grows as needed (1 bit per message: a 10-minute
/// run at 100k msg/s is 7.5 MB per producer and group).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeqSet {
    words: Vec<u64>,
    len: u64,
}

impl SeqSet {
    /// Add `seq`; false when it was already there.
    #[inline]
    pub fn insert(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        if w >= self.words.len() {
            self.words.resize((w + 1).next_power_of_two(), 0);
        }
        let new = self.words[w] & bit == 0;
        self.words[w] |= bit;
        self.len += u64::from(new);
        new
    }

    pub fn contains(&self, seq: u64) -> bool {
        let w = (seq / 64) as usize;
        self.words
            .get(w)
            .is_some_and(|x| x & (1u64 << (seq % 64)) != 0)
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many of `self` are not in `other`.
    pub fn count_missing_from(&self, other: &SeqSet) -> u64 {
        self.words
            .iter()
            .enumerate()
            .map(|(i, w)| (w & !other.words.get(i).copied().unwrap_or(0)).count_ones() as u64)
            .sum()
    }

    /// Merge `other` into `self`; returns how many were in both.
    pub fn union_with(&mut self, other: &SeqSet) -> u64 {
        if self.words.len() < other.words.len() {
            self.words.resize(other.words.len(), 0);
        }
        let mut both = 0;
        for (a, b) in self.words.iter_mut().zip(&other.words) {
            both += (*a & b).count_ones() as u64;
            *a |= b;
        }
        self.len = self.words.iter().map(|w| w.count_ones() as u64).sum();
        both
    }
}

/// Sequence numbers per producer id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetSeqs {
    pub by_producer: Vec<SeqSet>,
}

impl FleetSeqs {
    #[inline]
    pub fn insert(&mut self, producer: u64, seq: u64) -> bool {
        let p = producer as usize;
        if p >= self.by_producer.len() {
            self.by_producer.resize_with(p + 1, SeqSet::default);
        }
        self.by_producer[p].insert(seq)
    }

    pub fn len(&self) -> u64 {
        self.by_producer.iter().map(SeqSet::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many of `self` are not in `other`.
    pub fn count_missing_from(&self, other: &FleetSeqs) -> u64 {
        let empty = SeqSet::default();
        self.by_producer
            .iter()
            .enumerate()
            .map(|(p, s)| s.count_missing_from(other.by_producer.get(p).unwrap_or(&empty)))
            .sum()
    }

    /// Merge `other` into `self`; returns how many were in both.
    pub fn union_with(&mut self, other: &FleetSeqs) -> u64 {
        if self.by_producer.len() < other.by_producer.len() {
            self.by_producer
                .resize_with(other.by_producer.len(), SeqSet::default);
        }
        self.by_producer
            .iter_mut()
            .zip(&other.by_producer)
            .map(|(a, b)| a.union_with(b))
            .sum()
    }
}

/// Width of one bucket of the ack timeline.
pub const TIMELINE_BUCKET_NS: u64 = 100_000_000;

/// What one producer learns from its delivery reports over a whole cell (warm-up included):
/// which messages were acknowledged, acks per 100 ms (fault impact: when did acks stop, when
/// did they recover) and when the first failure came.
#[derive(Debug, Clone, Default)]
pub struct ProducerLog {
    pub acked: SeqSet,
    /// Acks per [`TIMELINE_BUCKET_NS`] since the producers started.
    pub acks_per_bucket: Vec<u64>,
    /// ns since the producers started.
    pub first_failure_ns: Option<u64>,
}

impl ProducerLog {
    /// `since_start_ns`: when the report arrived, relative to the producers' start.
    #[inline]
    pub fn ack(&mut self, seq: u64, since_start_ns: u64) {
        self.acked.insert(seq);
        let b = (since_start_ns / TIMELINE_BUCKET_NS) as usize;
        if b >= self.acks_per_bucket.len() {
            self.acks_per_bucket.resize(b + 1, 0);
        }
        self.acks_per_bucket[b] += 1;
    }

    #[inline]
    pub fn failure(&mut self, since_start_ns: u64) {
        self.first_failure_ns.get_or_insert(since_start_ns);
    }

    /// Fold in another log of the same producer (its acked sequence numbers too).
    pub fn absorb(&mut self, o: ProducerLog) {
        self.acked.union_with(&o.acked);
        self.merge_timeline(&o);
    }

    /// Fold another producer's log into a fleet-wide timeline (the seqs stay per producer).
    pub fn merge_timeline(&mut self, o: &ProducerLog) {
        if self.acks_per_bucket.len() < o.acks_per_bucket.len() {
            self.acks_per_bucket.resize(o.acks_per_bucket.len(), 0);
        }
        for (a, b) in self.acks_per_bucket.iter_mut().zip(&o.acks_per_bucket) {
            *a += b;
        }
        self.first_failure_ns = match (self.first_failure_ns, o.first_failure_ns) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// What one consumer group member read, for accounting.
#[derive(Debug, Clone, Default)]
pub struct MemberDeliveries {
    pub seen: FleetSeqs,
    /// The last sequence number read per (partition, producer).
    last_seq: HashMap<(i32, u64), u64>,
    pub duplicated: u64,
    pub reordered: u64,
    pub redelivered: u64,
}

impl MemberDeliveries {
    /// One message read. `new_offset` is false when the group had already read past this
    /// offset of the partition (a redelivery after a rebalance or a restart).
    #[inline]
    pub fn record(&mut self, partition: i32, new_offset: bool, producer: u64, seq: u64) {
        if !new_offset {
            self.redelivered += 1;
            return;
        }
        if !self.seen.insert(producer, seq) {
            self.duplicated += 1;
            return;
        }
        match self.last_seq.insert((partition, producer), seq) {
            Some(last) if last > seq => {
                self.reordered += 1;
                // Keep the highest seen, so one late message counts once.
                self.last_seq.insert((partition, producer), last);
            }
            _ => {}
        }
    }
}

/// One group's account of a cell.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupAccount {
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub redelivered: u64,
}

/// Account for one group: its members' reads against the acknowledged messages.
pub fn account_group<'a>(
    acked: &FleetSeqs,
    members: impl IntoIterator<Item = &'a MemberDeliveries>,
) -> GroupAccount {
    let mut seen = FleetSeqs::default();
    let mut a = GroupAccount::default();
    for m in members {
        // Read by two members at new offsets: written twice.
        a.duplicated += m.duplicated + seen.union_with(&m.seen);
        a.reordered += m.reordered;
        a.redelivered += m.redelivered;
    }
    a.lost = acked.count_missing_from(&seen);
    a
}

/// The worst of several groups, metric by metric (every group must get every message).
pub fn worst(accounts: &[GroupAccount]) -> GroupAccount {
    accounts
        .iter()
        .fold(GroupAccount::default(), |w, a| GroupAccount {
            lost: w.lost.max(a.lost),
            duplicated: w.duplicated.max(a.duplicated),
            reordered: w.reordered.max(a.reordered),
            redelivered: w.redelivered.max(a.redelivered),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acked(n: u64) -> FleetSeqs {
        let mut a = FleetSeqs::default();
        for p in 0..2 {
            for s in 0..n {
                a.insert(p, s);
            }
        }
        a
    }

    #[test]
    fn producer_logs_bucket_acks_and_keep_the_first_failure() {
        let mut a = ProducerLog::default();
        a.ack(0, 50_000_000);
        a.ack(1, 250_000_000);
        a.failure(300_000_000);
        a.failure(100_000_000);
        let mut b = ProducerLog::default();
        b.ack(0, 10_000_000);
        b.failure(200_000_000);
        a.merge_timeline(&b);
        assert_eq!(a.acks_per_bucket, vec![2, 0, 1]);
        assert_eq!(a.first_failure_ns, Some(200_000_000));
        assert_eq!(a.acked.len(), 2);
    }

    #[test]
    fn seqset_grows_and_counts() {
        let mut s = SeqSet::default();
        assert!(s.insert(0));
        assert!(s.insert(1_000_000));
        assert!(!s.insert(0));
        assert_eq!(s.len(), 2);
        assert!(s.contains(1_000_000) && !s.contains(999_999));
        let mut t = SeqSet::default();
        t.insert(0);
        assert_eq!(s.count_missing_from(&t), 1);
        assert_eq!(t.count_missing_from(&s), 0);
        assert_eq!(t.union_with(&s), 1);
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn a_clean_read_has_nothing_lost_duplicated_or_reordered() {
        let mut m = MemberDeliveries::default();
        for p in 0..2 {
            for s in 0..100 {
                m.record((s % 3) as i32, true, p, s);
            }
        }
        assert_eq!(account_group(&acked(100), [&m]), GroupAccount::default());
    }

    #[test]
    fn lost_duplicated_reordered_and_redelivered_are_told_apart() {
        let mut m = MemberDeliveries::default();
        for s in [0, 1, 3, 2, 4] {
            m.record(0, true, 0, s); // 2 after 3 on one partition: reordered
        }
        m.record(0, true, 0, 4); // written twice: duplicated
        m.record(0, false, 0, 4); // read again at an old offset: redelivered
        m.record(1, true, 0, 7); // producer 0 seq 7 on another partition: fine
        let mut acked = FleetSeqs::default();
        for s in 0..8 {
            acked.insert(0, s); // 5 and 6 were acked but never read
        }
        let a = account_group(&acked, [&m]);
        assert_eq!(
            a,
            GroupAccount {
                lost: 2,
                duplicated: 1,
                reordered: 1,
                redelivered: 1
            }
        );
    }

    #[test]
    fn reads_split_across_members_are_merged_and_overlap_is_duplication() {
        let (mut a, mut b) = (MemberDeliveries::default(), MemberDeliveries::default());
        for s in 0..50 {
            a.record(0, true, 0, s);
            a.record(0, true, 1, s);
        }
        for s in 49..100 {
            b.record(1, true, 0, s); // seq 49 of producer 0 read by both
            b.record(1, true, 1, s);
        }
        let acct = account_group(&acked(100), [&a, &b]);
        assert_eq!(acct.lost, 0);
        assert_eq!(acct.duplicated, 2);
        let worst = worst(&[acct, GroupAccount { lost: 5, ..acct }]);
        assert_eq!(worst.lost, 5);
    }
}
