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
//!   that producer's later messages;
//! - **aborted seen**: a message of an aborted transaction that the group read. Aborted
//!   messages are moved out of the acknowledged set when their transaction aborts
//!   ([`ProducerLog::abort`]), so a group that never reads them has lost nothing; a
//!   read_committed group that reads one has met a defect (read_uncommitted groups are
//!   expected to read them).
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

    /// Take `seq` out; false when it was not there.
    pub fn remove(&mut self, seq: u64) -> bool {
        let (w, bit) = ((seq / 64) as usize, 1u64 << (seq % 64));
        match self.words.get_mut(w) {
            Some(word) if *word & bit != 0 => {
                *word &= !bit;
                self.len -= 1;
                true
            }
            _ => false,
        }
    }

    /// How many of `self` are also in `other`.
    pub fn count_common_with(&self, other: &SeqSet) -> u64 {
        self.words
            .iter()
            .zip(&other.words)
            .map(|(a, b)| (a & b).count_ones() as u64)
            .sum()
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

    /// Add every seq of `first..=last` (a range read back from a delivery evidence file).
    pub fn insert_range(&mut self, first: u64, last: u64) {
        let mut seq = first;
        while seq <= last {
            if seq % 64 == 0 && last - seq >= 63 {
                // A whole word at once: evidence ranges are mostly long.
                let w = (seq / 64) as usize;
                if w >= self.words.len() {
                    self.words.resize((w + 1).next_power_of_two(), 0);
                }
                self.len += u64::from((!self.words[w]).count_ones());
                self.words[w] = u64::MAX;
                seq = match seq.checked_add(64) {
                    Some(s) => s,
                    None => break,
                };
            } else {
                self.insert(seq);
                seq = match seq.checked_add(1) {
                    Some(s) => s,
                    None => break,
                };
            }
        }
    }

    /// The set as sorted, disjoint, inclusive ranges `(first, last)`: acked and consumed sets
    /// are mostly a few long runs, so this is how they are written to disk.
    pub fn ranges(&self) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut open: Option<u64> = None;
        for (i, &w) in self.words.iter().enumerate() {
            let base = i as u64 * 64;
            match (w, open) {
                (u64::MAX, _) if open.is_some() => continue,
                (u64::MAX, None) => {
                    open = Some(base);
                    continue;
                }
                (0, None) => continue,
                (0, Some(first)) => {
                    out.push((first, base - 1));
                    open = None;
                    continue;
                }
                _ => {}
            }
            for bit in 0..64 {
                let set = w & (1u64 << bit) != 0;
                match (set, open) {
                    (true, None) => open = Some(base + bit),
                    (false, Some(first)) => {
                        out.push((first, base + bit - 1));
                        open = None;
                    }
                    _ => {}
                }
            }
        }
        if let Some(first) = open {
            out.push((first, self.words.len() as u64 * 64 - 1));
        }
        out
    }

    /// The set's words from the first non-zero one: the bitmap form of a fragmented set
    /// (a member that reads some partitions sees every few seqs of a producer).
    pub fn words_from(&self) -> (u64, &[u64]) {
        let first = self.words.iter().position(|w| *w != 0).unwrap_or(0);
        let last = self
            .words
            .iter()
            .rposition(|w| *w != 0)
            .map_or(0, |l| l + 1);
        (first as u64 * 64, &self.words[first..last.max(first)])
    }

    /// A set from [`SeqSet::words_from`]'s form; `base` must be a multiple of 64.
    pub fn from_words(base: u64, words: &[u64]) -> SeqSet {
        let offset = (base / 64) as usize;
        let mut all = vec![0u64; offset];
        all.extend_from_slice(words);
        SeqSet {
            len: all.iter().map(|w| w.count_ones() as u64).sum(),
            words: all,
        }
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

    /// How many of `self` are also in `other`.
    pub fn count_common_with(&self, other: &FleetSeqs) -> u64 {
        self.by_producer
            .iter()
            .zip(&other.by_producer)
            .map(|(a, b)| a.count_common_with(b))
            .sum()
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
    /// Acknowledged and not part of an aborted transaction: what every group must read.
    pub acked: SeqSet,
    /// Messages of aborted transactions (acknowledged or not): no read_committed group may
    /// read them.
    pub aborted: SeqSet,
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

    /// The transaction of messages `seqs` aborted: they leave the acknowledged set (nobody
    /// owes them to a group) for the aborted one. Returns how many had been acknowledged.
    pub fn abort(&mut self, seqs: std::ops::Range<u64>) -> u64 {
        let mut were_acked = 0;
        for seq in seqs {
            were_acked += u64::from(self.acked.remove(seq));
            self.aborted.insert(seq);
        }
        were_acked
    }

    #[inline]
    pub fn failure(&mut self, since_start_ns: u64) {
        self.first_failure_ns.get_or_insert(since_start_ns);
    }

    /// Fold in another log of the same producer (its acked sequence numbers too).
    pub fn absorb(&mut self, o: ProducerLog) {
        self.acked.union_with(&o.acked);
        self.aborted.union_with(&o.aborted);
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
    /// Messages of aborted transactions the group read (a defect under read_committed).
    pub aborted_seen: u64,
}

/// Account for one group: its members' reads against the acknowledged messages (those of
/// committed transactions, with transactions) and the aborted ones.
pub fn account_group<'a>(
    acked: &FleetSeqs,
    aborted: &FleetSeqs,
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
    a.aborted_seen = aborted.count_common_with(&seen);
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
            aborted_seen: w.aborted_seen.max(a.aborted_seen),
        })
}

/// Everything the delivery accounting of one cell needs from one process (one shard of a
/// distributed run, or the whole run): what was acknowledged, and what every consumer group
/// member read. Written to `cells/<id>/delivery.json`, so that [`account_shards`] can account
/// for a cell whose producers and consumers ran in different processes.
///
/// Reordering is decided per member while it reads (`MemberDeliveries::record` compares
/// with the last seq of the same producer on the same partition), so a member's count is
/// all the evidence that needs: a partition is read by one member at a time, in one process,
/// in a distributed run as in a single one, so summing members' counts across shards is
/// what one process holding every member would sum.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryEvidence {
    /// The shard that wrote it (0 in one process).
    pub shard: u16,
    /// The cell's consumer groups (each must receive every message).
    pub groups: usize,
    /// Acknowledged sequence numbers (warm-up included) per producer, keyed by its index in
    /// the whole scenario (its shard's first producer + its index in the shard), the key
    /// consumers file what they read under (`fleet/consumer.rs`).
    pub acked: Vec<(u64, SeqSet)>,
    /// Messages of aborted transactions per producer, keyed like `acked` (empty without
    /// transactions).
    pub aborted: Vec<(u64, SeqSet)>,
    pub members: Vec<MemberEvidence>,
}

/// What one consumer group member read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemberEvidence {
    pub group: usize,
    /// Its index among the group's members of its shard.
    pub member: usize,
    /// Sequence numbers read at new offsets, per global producer id.
    pub seen: Vec<(u64, SeqSet)>,
    pub duplicated: u64,
    pub reordered: u64,
    pub redelivered: u64,
}

impl MemberEvidence {
    /// One member's reads; `seen` is keyed by the producer key the consumer recorded, which is
    /// the global producer id.
    pub fn of(group: usize, member: usize, d: &MemberDeliveries) -> MemberEvidence {
        MemberEvidence {
            group,
            member,
            seen: d
                .seen
                .by_producer
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.is_empty())
                .map(|(p, s)| (p as u64, s.clone()))
                .collect(),
            duplicated: d.duplicated,
            reordered: d.reordered,
            redelivered: d.redelivered,
        }
    }

    /// Messages it read at new offsets (its share of the group's consumption).
    pub fn consumed(&self) -> u64 {
        self.seen.iter().map(|(_, s)| s.len()).sum::<u64>() + self.duplicated
    }
}

impl DeliveryEvidence {
    /// Messages acknowledged, warm-up included.
    pub fn acked_total(&self) -> u64 {
        self.acked.iter().map(|(_, s)| s.len()).sum()
    }
}

/// The delivery accounting of one cell from the evidence of every process that ran part of
/// it: exactly what one process holding all their clients computes, because it is the same
/// computation ([`account_group`] per group, then [`worst`]) on the same sets, re-keyed from
/// global producer ids to dense indexes. Also returns the consumer lag that evidence implies
/// (acked messages the slowest group did not read, as `Fleet::lag` counts it).
///
/// Evidence that cannot come from one run is refused: two shards acknowledging for the same
/// producer, or shards that disagree on the number of groups.
pub fn account_shards(parts: &[DeliveryEvidence]) -> Result<(GroupAccount, u64), String> {
    use std::collections::BTreeMap;
    let groups = parts.first().map_or(0, |p| p.groups);
    if let Some(p) = parts.iter().find(|p| p.groups != groups) {
        return Err(format!(
            "shard {} had {} consumer groups, shard {} had {groups}",
            p.shard, p.groups, parts[0].shard
        ));
    }
    // Dense indexes for every producer id that appears anywhere.
    let mut dense: BTreeMap<u64, usize> = BTreeMap::new();
    let ids = parts.iter().flat_map(|p| {
        p.acked.iter().chain(&p.aborted).map(|(id, _)| *id).chain(
            p.members
                .iter()
                .flat_map(|m| m.seen.iter().map(|(id, _)| *id)),
        )
    });
    for id in ids {
        let next = dense.len();
        dense.entry(id).or_insert(next);
    }
    let mut acked = FleetSeqs {
        by_producer: vec![SeqSet::default(); dense.len()],
    };
    let mut acked_by: BTreeMap<u64, u16> = BTreeMap::new();
    for p in parts {
        for (id, set) in &p.acked {
            if let Some(other) = acked_by.insert(*id, p.shard) {
                return Err(format!(
                    "producer {id:#x} has acks in the evidence of shard {other} and shard {}",
                    p.shard
                ));
            }
            acked.by_producer[dense[id]].union_with(set);
        }
    }
    let mut aborted = FleetSeqs {
        by_producer: vec![SeqSet::default(); dense.len()],
    };
    for p in parts {
        for (id, set) in &p.aborted {
            aborted.by_producer[dense[id]].union_with(set);
        }
    }
    let members: Vec<(usize, MemberDeliveries)> = parts
        .iter()
        .flat_map(|p| &p.members)
        .map(|m| {
            let mut seen = FleetSeqs {
                by_producer: vec![SeqSet::default(); dense.len()],
            };
            for (id, set) in &m.seen {
                seen.by_producer[dense[id]].union_with(set);
            }
            let reads = MemberDeliveries {
                seen,
                duplicated: m.duplicated,
                reordered: m.reordered,
                redelivered: m.redelivered,
                ..MemberDeliveries::default()
            };
            (m.group, reads)
        })
        .collect();
    let per_group: Vec<GroupAccount> = (0..groups)
        .map(|g| {
            let of_group = members.iter().filter(|(mg, _)| *mg == g).map(|(_, r)| r);
            account_group(&acked, &aborted, of_group)
        })
        .collect();
    let acked_total = acked.len();
    let lag = (0..groups)
        .map(|g| {
            let got: u64 = parts
                .iter()
                .flat_map(|p| &p.members)
                .filter(|m| m.group == g)
                .map(MemberEvidence::consumed)
                .sum();
            acked_total.saturating_sub(got)
        })
        .max()
        .unwrap_or(0);
    Ok((worst(&per_group), lag))
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

    /// A transaction that aborts takes its messages out of what groups owe: a group that
    /// never reads them lost nothing, one that reads them has seen aborted messages.
    #[test]
    fn aborted_messages_are_not_lost_and_are_counted_when_seen() {
        let mut log = ProducerLog::default();
        for seq in 0..30 {
            if seq != 12 {
                log.ack(seq, 0); // seq 12 failed: aborted all the same
            }
        }
        assert_eq!(log.abort(10..20), 9);
        assert_eq!((log.acked.len(), log.aborted.len()), (20, 10));
        assert!(!log.acked.contains(15) && log.aborted.contains(12));
        let acked = FleetSeqs {
            by_producer: vec![log.acked.clone()],
        };
        let aborted = FleetSeqs {
            by_producer: vec![log.aborted.clone()],
        };
        let (mut committed_only, mut everything) =
            (MemberDeliveries::default(), MemberDeliveries::default());
        for seq in 0..30 {
            if !(10..20).contains(&seq) {
                committed_only.record(0, true, 0, seq);
            }
            everything.record(0, true, 0, seq);
        }
        let clean = account_group(&acked, &aborted, [&committed_only]);
        assert_eq!(clean, GroupAccount::default());
        let leaky = account_group(&acked, &aborted, [&everything]);
        assert_eq!((leaky.lost, leaky.aborted_seen), (0, 10));
        assert_eq!(worst(&[clean, leaky]).aborted_seen, 10);
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
        assert_eq!(
            account_group(&acked(100), &FleetSeqs::default(), [&m]),
            GroupAccount::default()
        );
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
        let a = account_group(&acked, &FleetSeqs::default(), [&m]);
        assert_eq!(
            a,
            GroupAccount {
                lost: 2,
                duplicated: 1,
                reordered: 1,
                redelivered: 1,
                aborted_seen: 0,
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
        let acct = account_group(&acked(100), &FleetSeqs::default(), [&a, &b]);
        assert_eq!(acct.lost, 0);
        assert_eq!(acct.duplicated, 2);
        let worst = worst(&[acct, GroupAccount { lost: 5, ..acct }]);
        assert_eq!(worst.lost, 5);
    }

    #[test]
    fn ranges_round_trip_and_fill_whole_words() {
        let mut s = SeqSet::default();
        for seq in (0..300).chain(310..311).chain(400..1000) {
            s.insert(seq);
        }
        assert_eq!(s.ranges(), vec![(0, 299), (310, 310), (400, 999)]);
        let mut back = SeqSet::default();
        for (a, b) in s.ranges() {
            back.insert_range(a, b);
        }
        assert_eq!(back.len(), s.len());
        assert_eq!(back.ranges(), s.ranges());
        let (base, words) = s.words_from();
        assert_eq!(SeqSet::from_words(base, words).ranges(), s.ranges());
        assert!(SeqSet::default().ranges().is_empty());
        let mut all = SeqSet::default();
        all.insert_range(0, 127);
        assert_eq!((all.len(), all.ranges()), (128, vec![(0, 127)]));
    }

    /// Two shards' evidence, accounted together, gives what one process holding both shards'
    /// clients gives: the same sets through the same function.
    #[test]
    fn shards_account_exactly_like_one_process() {
        // One process: producers 0 and 1, group 0 with two members, group 1 with one.
        let mut acked = FleetSeqs::default();
        for s in 0..100 {
            acked.insert(0, s);
            if s != 42 {
                acked.insert(1, s); // (seq 42 of producer 1 failed)
            }
        }
        let (mut a, mut b, mut c) = (
            MemberDeliveries::default(),
            MemberDeliveries::default(),
            MemberDeliveries::default(),
        );
        for s in 0..100 {
            a.record(0, true, 0, s);
            if s != 42 {
                b.record(1, true, 1, s);
            }
            if s != 7 {
                c.record((s % 2) as i32, true, s % 2, s); // lost: 7 (p1); misses producer 0's odd, 1's even
            }
        }
        b.record(1, true, 1, 3); // duplicated
        a.record(0, true, 0, 99); // duplicated
        let none = FleetSeqs::default();
        let one = worst(&[
            account_group(&acked, &none, [&a, &b]),
            account_group(&acked, &none, [&c]),
        ]);
        // Shard 1 holds producer 1 and member b, shard 0 the rest; any key works as long as
        // acks and reads agree on it.
        let p1 = 1u64 << 16;
        let rekey = |m: &MemberDeliveries, g: usize, i: usize| {
            let mut e = MemberEvidence::of(g, i, m);
            for (id, _) in e.seen.iter_mut() {
                if *id == 1 {
                    *id = p1;
                }
            }
            e
        };
        let shard0 = DeliveryEvidence {
            shard: 0,
            groups: 2,
            acked: vec![(0, acked.by_producer[0].clone())],
            aborted: Vec::new(),
            members: vec![rekey(&a, 0, 0), rekey(&c, 1, 0)],
        };
        let shard1 = DeliveryEvidence {
            shard: 1,
            groups: 2,
            acked: vec![(p1, acked.by_producer[1].clone())],
            aborted: Vec::new(),
            members: vec![rekey(&b, 0, 0)],
        };
        let (merged, lag) = account_shards(&[shard0.clone(), shard1.clone()]).unwrap();
        assert_eq!(merged, one);
        assert!(merged.lost > 0 && merged.duplicated == 2, "{merged:?}");
        assert_eq!(lag, 199 - c.seen.len());
        // Order of the shards does not matter; evidence that cannot be one run is refused.
        assert_eq!(
            account_shards(&[shard1.clone(), shard0.clone()]).unwrap().0,
            one
        );
        let twice = account_shards(&[shard0.clone(), shard0.clone()]).unwrap_err();
        assert!(twice.contains("shard 0 and shard 0"), "{twice}");
        let other = DeliveryEvidence {
            groups: 1,
            ..shard1
        };
        assert!(account_shards(&[shard0, other]).is_err());
    }
}
