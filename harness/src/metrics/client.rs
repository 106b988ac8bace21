//! What one client records during one interval.
//!
//! Each client records into its own [`ClientStats`] on its own thread, with no lock and no
//! atomic read-modify-write per message, and hands the interval over once per interval
//! through its [`Handover`] (goose's metrics task and criterion's sample split work the same
//! way: the measured path only touches memory of its own).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

use hdrhistogram::Histogram;

use super::histogram::{new_histogram, MAX_MICROS};

/// Counts of one interval (or, summed, of a cell). Messages are "measured" when their intended
/// send time is at or after the end of warm-up; warm-up messages only count in `warmup_*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counters {
    /// Messages whose intended send time has come (the offered load).
    pub offered: u64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub consumed: u64,
    pub bytes_sent: u64,
    pub bytes_acked: u64,
    pub bytes_consumed: u64,
    /// Times librdkafka's queue was full when kbench tried to send.
    pub queue_full: u64,
    /// Measured messages sent more than [`LATE_SEND_MICROS`] after their intended time.
    pub late_sends: u64,
    /// Measured messages that were due in the measurement window but never sent (kbench fell
    /// that far behind); counted in `offered`.
    pub unsent: u64,
    /// Largest gap between intended and actual send, µs.
    pub max_send_lag_us: u64,
    /// Warm-up traffic, excluded from everything else (shown only in warm-up intervals of the
    /// time series, so that sent, acked and consumed there count the same messages).
    pub warmup_sent: u64,
    pub warmup_acked: u64,
    pub warmup_bytes_acked: u64,
    pub warmup_consumed: u64,
    /// Failures by error kind (librdkafka's error name).
    pub errors: BTreeMap<String, u64>,
    /// Transactions (`[producers] transaction_messages`) with a measured message: committed;
    /// aborted, on purpose (`transaction_abort`) or because the commit failed; of those, the
    /// ones whose commit failed; and the measured messages the aborts threw away.
    pub tx_committed: u64,
    pub tx_aborted: u64,
    pub tx_failed: u64,
    pub aborted_messages: u64,
    /// A followed file (`fleet::tail`): times it was truncated or replaced and read again from
    /// its start, and bytes of it never sent as lines (a fragment cut by a truncation, the
    /// unterminated or unread rest when the cell ended, an over-long line). Warm-up included.
    pub follow_reopens: u64,
    pub follow_unsent_bytes: u64,
}

/// How a transaction ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxOutcome {
    Committed,
    /// Aborted on purpose (`[producers] transaction_abort`).
    Aborted,
    /// Its commit failed with an error that required an abort.
    Failed,
}

/// A message sent this late after its intended time means kbench did not keep its schedule.
pub const LATE_SEND_MICROS: u64 = 10_000;

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.offered += o.offered;
        self.sent += o.sent;
        self.acked += o.acked;
        self.failed += o.failed;
        self.consumed += o.consumed;
        self.bytes_sent += o.bytes_sent;
        self.bytes_acked += o.bytes_acked;
        self.bytes_consumed += o.bytes_consumed;
        self.queue_full += o.queue_full;
        self.late_sends += o.late_sends;
        self.unsent += o.unsent;
        self.max_send_lag_us = self.max_send_lag_us.max(o.max_send_lag_us);
        self.warmup_sent += o.warmup_sent;
        self.warmup_acked += o.warmup_acked;
        self.warmup_bytes_acked += o.warmup_bytes_acked;
        self.warmup_consumed += o.warmup_consumed;
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.tx_committed += o.tx_committed;
        self.tx_aborted += o.tx_aborted;
        self.tx_failed += o.tx_failed;
        self.aborted_messages += o.aborted_messages;
        self.follow_reopens += o.follow_reopens;
        self.follow_unsent_bytes += o.follow_unsent_bytes;
    }
}

/// One client's interval: latency histograms (µs), counters and per-partition counts.
#[derive(Debug, Clone)]
pub struct ClientStats {
    pub publish: Histogram<u64>,
    pub e2e: Histogram<u64>,
    /// Transactional producers: how long each `commit_transaction` call took (it flushes
    /// the transaction's outstanding messages, then ends it), µs. Grows on demand, so
    /// clients without transactions carry an empty one.
    pub commit: Histogram<u64>,
    pub counters: Counters,
    /// Measured messages acked (producers) or consumed (consumers) per partition.
    pub per_partition: Vec<u64>,
}

impl ClientStats {
    pub fn new(partitions: usize) -> ClientStats {
        ClientStats {
            publish: new_histogram(),
            e2e: new_histogram(),
            commit: growing_histogram(),
            counters: Counters::default(),
            per_partition: vec![0; partitions],
        }
    }

    /// Take this interval's stats and leave an empty interval in their place (the histograms'
    /// allocations are kept, so swapping costs no allocation after the first interval).
    pub fn take(&mut self, spare: &mut ClientStats) {
        std::mem::swap(self, spare);
        self.reset();
    }

    /// Empty, keeping the allocations.
    pub fn reset(&mut self) {
        // An empty histogram is all zeros already; zeroing a 170 KB table for nothing was a
        // tenth of a paced cell's instructions (a producer's e2e and a consumer's publish
        // histograms are always empty).
        for h in [&mut self.publish, &mut self.e2e, &mut self.commit] {
            if !h.is_empty() {
                h.reset();
            }
        }
        self.counters = Counters::default();
        self.per_partition.iter_mut().for_each(|c| *c = 0);
    }

    pub fn merge(&mut self, o: &ClientStats) {
        // Same bounds on both sides: add cannot fail. Adding an empty one would still walk
        // its whole table.
        for (h, o) in [
            (&mut self.publish, &o.publish),
            (&mut self.e2e, &o.e2e),
            (&mut self.commit, &o.commit),
        ] {
            if !o.is_empty() {
                let _ = h.add(o);
            }
        }
        self.counters.add(&o.counters);
        if self.per_partition.len() < o.per_partition.len() {
            self.per_partition.resize(o.per_partition.len(), 0);
        }
        for (a, b) in self.per_partition.iter_mut().zip(&o.per_partition) {
            *a += b;
        }
    }

    /// A delivery report. `intended_ns` and `now_ns` are on the run's [`super::Clock`];
    /// `measured` is false for warm-up messages.
    #[inline]
    pub fn record_ack(
        &mut self,
        measured: bool,
        intended_ns: u64,
        now_ns: u64,
        bytes: usize,
        partition: i32,
    ) {
        if !measured {
            self.counters.warmup_acked += 1;
            self.counters.warmup_bytes_acked += bytes as u64;
            return;
        }
        self.counters.acked += 1;
        self.counters.bytes_acked += bytes as u64;
        record_micros(&mut self.publish, now_ns.saturating_sub(intended_ns));
        self.count_partition(partition);
    }

    #[inline]
    fn count_partition(&mut self, partition: i32) {
        if let Some(c) = self.per_partition.get_mut(partition.max(0) as usize) {
            *c += 1;
        }
    }

    #[inline]
    pub fn record_failure(&mut self, measured: bool, kind: &str) {
        if !measured {
            return;
        }
        self.counters.failed += 1;
        match self.counters.errors.get_mut(kind) {
            Some(c) => *c += 1,
            None => {
                self.counters.errors.insert(kind.to_string(), 1);
            }
        }
    }

    /// A transaction ended. `measured_messages`: its messages intended after warm-up (a
    /// transaction with none is warm-up, counted nowhere); `commit_ns`: how long the commit
    /// call took, when it committed.
    pub fn record_transaction(
        &mut self,
        measured_messages: u64,
        outcome: TxOutcome,
        commit_ns: Option<u64>,
    ) {
        if measured_messages == 0 {
            return;
        }
        match outcome {
            TxOutcome::Committed => self.counters.tx_committed += 1,
            TxOutcome::Aborted | TxOutcome::Failed => {
                self.counters.tx_aborted += 1;
                self.counters.aborted_messages += measured_messages;
                self.counters.tx_failed += u64::from(outcome == TxOutcome::Failed);
            }
        }
        if let Some(ns) = commit_ns {
            record_micros(&mut self.commit, ns);
        }
    }

    /// Messages of the measurement window that were due but never sent.
    pub fn record_unsent(&mut self, n: u64) {
        self.counters.offered += n;
        self.counters.unsent += n;
    }

    /// A send accepted by librdkafka. `lag_ns` = actual send - intended send.
    #[inline]
    pub fn record_send(&mut self, measured: bool, bytes: usize, lag_ns: u64) {
        if !measured {
            self.counters.warmup_sent += 1;
            return;
        }
        self.counters.offered += 1;
        self.counters.sent += 1;
        self.counters.bytes_sent += bytes as u64;
        let lag_us = lag_ns / 1_000;
        if lag_us > LATE_SEND_MICROS {
            self.counters.late_sends += 1;
        }
        self.counters.max_send_lag_us = self.counters.max_send_lag_us.max(lag_us);
    }

    #[inline]
    pub fn record_consume(
        &mut self,
        measured: bool,
        intended_ns: u64,
        now_ns: u64,
        bytes: usize,
        partition: i32,
    ) {
        if !measured {
            self.counters.warmup_consumed += 1;
            return;
        }
        self.counters.consumed += 1;
        self.counters.bytes_consumed += bytes as u64;
        record_micros(&mut self.e2e, now_ns.saturating_sub(intended_ns));
        self.count_partition(partition);
    }
}

/// A histogram with [`new_histogram`]'s precision that allocates as values come (a few
/// transactions a second need no 170 KB table in every client).
fn growing_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1, 2, 3).expect("valid histogram bounds");
    h.auto(true);
    h
}

#[inline]
fn record_micros(h: &mut Histogram<u64>, ns: u64) {
    // At least 1 µs: the histogram's lowest value; clamp stalls beyond its range.
    let us = (ns / 1_000).clamp(1, MAX_MICROS);
    let _ = h.record(us);
}

/// A client's stats, handed over to the collector once per interval.
///
/// The client records into stats of its own, with no lock on the per-message path. Once per
/// interval the collector [`ask`](Handover::ask)s (and wakes the client), the client notices
/// at its next turn ([`is_asked`](Handover::is_asked): one relaxed load) and
/// [`answer`](Handover::answer)s by folding its interval into the slot, the one lock it
/// takes per interval; the collector then [`collect`](Handover::collect)s the slot. A client
/// that answers late loses nothing: its figures land in the slot and count in the next
/// interval the collector takes. After the client's thread has ended (its last answer given),
/// the slot holds everything.
#[derive(Debug)]
pub struct Handover {
    asked: AtomicU64,
    /// The last request answered (a copy of the slot's, readable without the lock).
    slot_answered: AtomicU64,
    slot: Mutex<Slot>,
    answered: Condvar,
}

#[derive(Debug)]
struct Slot {
    /// The last request the client has answered.
    answered: u64,
    stats: ClientStats,
}

impl Handover {
    pub fn new(partitions: usize) -> Handover {
        Handover {
            asked: AtomicU64::new(0),
            slot_answered: AtomicU64::new(0),
            slot: Mutex::new(Slot {
                answered: 0,
                stats: ClientStats::new(partitions),
            }),
            answered: Condvar::new(),
        }
    }

    fn slot(&self) -> MutexGuard<'_, Slot> {
        // A poisoned lock (a panic elsewhere while recording) still holds valid counts.
        self.slot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Collector: ask for the client's interval; returns the request's ticket.
    pub fn ask(&self) -> u64 {
        self.asked.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Client: has a request come that is not answered yet?
    #[inline]
    pub fn is_asked(&self) -> bool {
        self.asked.load(Ordering::Relaxed) != self.slot_answered.load(Ordering::Relaxed)
    }

    /// Client: fold `local` into the slot (leaving `local` empty) and mark every request so
    /// far answered.
    pub fn answer(&self, local: &mut ClientStats) {
        let asked = self.asked.load(Ordering::Acquire);
        let mut slot = self.slot();
        slot.stats.merge(local);
        local.reset();
        slot.answered = asked;
        self.slot_answered.store(asked, Ordering::Relaxed);
        drop(slot);
        self.answered.notify_all();
    }

    /// Anyone: fold `local` into the slot without answering a request (a figure recorded off
    /// the client's own thread; the client still answers for itself).
    pub fn deposit(&self, local: &mut ClientStats) {
        let mut slot = self.slot();
        slot.stats.merge(local);
        local.reset();
    }

    /// Collector: wait up to `timeout` for the answer to `ticket`, then take what the slot
    /// holds into `out` (swapped: `out`'s old contents are discarded, its allocations kept).
    /// Returns whether the answer came in time.
    pub fn collect(&self, ticket: u64, timeout: Duration, out: &mut ClientStats) -> bool {
        let slot = self.slot();
        let (mut slot, waited) = self
            .answered
            .wait_timeout_while(slot, timeout, |s| s.answered < ticket)
            .unwrap_or_else(|p| p.into_inner());
        slot.stats.take(out);
        !waited.timed_out()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_messages_are_counted_apart_and_not_in_latency() {
        let mut s = ClientStats::new(3);
        s.record_ack(false, 0, 5_000_000, 100, 0);
        s.record_ack(true, 1_000_000, 3_000_000, 100, 2);
        assert_eq!(s.counters.warmup_acked, 1);
        assert_eq!(s.counters.acked, 1);
        assert_eq!(s.publish.len(), 1);
        assert_eq!(s.publish.max(), 2_000); // 2 ms in µs
        assert_eq!(s.per_partition, vec![0, 0, 1]);
    }

    #[test]
    fn late_sends_are_flagged_above_the_threshold() {
        let mut s = ClientStats::new(1);
        s.record_send(true, 10, 9_000_000); // 9 ms late: fine
        s.record_send(true, 10, 11_000_000); // 11 ms late
        assert_eq!(s.counters.late_sends, 1);
        assert_eq!(s.counters.max_send_lag_us, 11_000);
        assert_eq!(s.counters.sent, 2);
    }

    #[test]
    fn take_leaves_an_empty_interval_and_merge_adds() {
        let mut live = ClientStats::new(2);
        let mut spare = ClientStats::new(2);
        live.record_ack(true, 0, 1_000_000, 50, 1);
        live.record_failure(true, "MsgTimedOut");
        live.take(&mut spare);
        assert_eq!(live.counters, Counters::default());
        assert!(live.publish.is_empty());
        assert_eq!(spare.counters.acked, 1);
        let mut total = ClientStats::new(2);
        total.merge(&spare);
        total.merge(&spare);
        assert_eq!(total.counters.acked, 2);
        assert_eq!(total.counters.errors.get("MsgTimedOut"), Some(&2));
        assert_eq!(total.publish.len(), 2);
        assert_eq!(total.per_partition, vec![0, 2]);
    }

    #[test]
    fn the_handover_gives_each_interval_once_and_a_late_answer_to_the_next() {
        let h = Handover::new(2);
        let mut local = ClientStats::new(2);
        let mut out = ClientStats::new(2);
        assert!(!h.is_asked());
        local.record_ack(true, 0, 1_000_000, 10, 0);
        let t = h.ask();
        assert!(h.is_asked());
        h.answer(&mut local);
        assert!(
            !h.is_asked() && local.counters.acked == 0,
            "answered and emptied"
        );
        assert!(h.collect(t, Duration::ZERO, &mut out));
        assert_eq!(out.counters.acked, 1);
        // Asked, not answered in time: nothing yet, and nothing lost.
        local.record_ack(true, 0, 1_000_000, 10, 1);
        let t = h.ask();
        assert!(!h.collect(t, Duration::from_millis(5), &mut out));
        assert_eq!(out.counters.acked, 0);
        h.answer(&mut local);
        let t = h.ask();
        assert!(!h.collect(t, Duration::ZERO, &mut out));
        assert_eq!(
            (out.counters.acked, out.per_partition.clone()),
            (1, vec![0, 1])
        );
    }

    #[test]
    fn a_deposit_adds_figures_without_answering_for_the_client() {
        let h = Handover::new(1);
        let (mut stray, mut own, mut out) = (
            ClientStats::new(1),
            ClientStats::new(1),
            ClientStats::new(1),
        );
        let t = h.ask();
        stray.record_ack(true, 0, 1_000_000, 10, 0);
        h.deposit(&mut stray);
        // The client has not answered: the collector still waits for it...
        assert!(h.is_asked() && stray.counters.acked == 0);
        own.record_ack(true, 0, 2_000_000, 10, 0);
        h.answer(&mut own);
        // ...and then gets both.
        assert!(h.collect(t, Duration::ZERO, &mut out));
        assert_eq!(out.counters.acked, 2);
    }

    #[test]
    fn a_client_thread_answers_while_the_collector_waits() {
        let h = std::sync::Arc::new(Handover::new(1));
        let h2 = h.clone();
        let t = h.ask();
        let client = std::thread::spawn(move || {
            let mut local = ClientStats::new(1);
            local.record_send(true, 10, 0);
            while !h2.is_asked() {
                std::thread::yield_now();
            }
            h2.answer(&mut local);
        });
        let mut out = ClientStats::new(1);
        assert!(h.collect(t, Duration::from_secs(10), &mut out));
        client.join().unwrap();
        assert_eq!(out.counters.sent, 1);
    }
}
