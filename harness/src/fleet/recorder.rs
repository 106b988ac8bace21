//! Where a producer thread records its figures: in its own thread-local slot, so that the send
//! loop and the delivery callback record every message with no lock and no atomic
//! read-modify-write.
//!
//! This works because librdkafka runs delivery callbacks inside `poll` and `flush`, on the
//! thread that calls them, and a producer's only caller is its send thread (`producer::run`
//! owns the client and drops it before its recorder). A report that arrives anywhere else
//! (not expected) is still counted, through the locked fallback in [`stray_report`], never lost.
//!
//! The counts other threads read while the cell runs (sent, completed, acked: the drain, the
//! lag, sync mode) are published with plain stores; the histograms and counters go to the
//! collector once per interval through the producer's [`Handover`](crate::metrics::Handover).

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::producer::ProducerShared;
use crate::metrics::delivery::ProducerLog;
use crate::metrics::ClientStats;

/// One producer thread's figures.
pub struct Recorder {
    pub stats: ClientStats,
    pub log: ProducerLog,
    /// Messages handed to librdkafka, delivery reports (acked or failed) and acks, warm-up
    /// included.
    pub sent: u64,
    pub completed: u64,
    pub acked: u64,
    shared: Arc<ProducerShared>,
}

thread_local! {
    static CURRENT: RefCell<Option<Recorder>> = const { RefCell::new(None) };
}

/// The recorder installed on this thread; removed, with everything handed over, on drop.
pub struct Installed(());

/// Install a recorder for the producer whose send loop runs on this thread.
pub fn install(shared: Arc<ProducerShared>) -> Installed {
    let partitions = shared.partitions;
    CURRENT.with(|c| {
        *c.borrow_mut() = Some(Recorder {
            stats: ClientStats::new(partitions),
            log: ProducerLog::default(),
            sent: 0,
            completed: 0,
            acked: 0,
            shared,
        })
    });
    Installed(())
}

/// Run `f` on this thread's recorder; `None` when there is none.
#[inline]
pub fn with<R>(f: impl FnOnce(&mut Recorder) -> R) -> Option<R> {
    CURRENT.with(|c| c.borrow_mut().as_mut().map(f))
}

impl Recorder {
    /// Publish the counts other threads read (plain stores: this thread is their only writer).
    #[inline]
    pub fn publish_counts(&self) {
        let s = &self.shared;
        s.sent_total.store(self.sent, Ordering::Relaxed);
        s.acked_total.store(self.acked, Ordering::Relaxed);
        s.completed.store(self.completed, Ordering::Release);
    }

    /// Hand the interval over if the collector has asked for it.
    #[inline]
    pub fn answer_if_asked(&mut self) {
        if self.shared.handover.is_asked() {
            self.shared.handover.answer(&mut self.stats);
        }
    }
}

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(mut r) = CURRENT.with(|c| c.borrow_mut().take()) {
            r.publish_counts();
            r.shared.handover.answer(&mut r.stats);
            let mut log = r.shared.log.lock().unwrap_or_else(|p| p.into_inner());
            let stray = std::mem::replace(&mut *log, std::mem::take(&mut r.log));
            log.absorb(stray);
        }
    }
}

/// A delivery report that arrived where no recorder is installed: counted under locks.
/// `acked_seq` is the message's sequence number when it was acknowledged, `None` when it failed.
pub fn stray_report(
    shared: &ProducerShared,
    acked_seq: Option<u64>,
    since_start_ns: u64,
    record: impl FnOnce(&mut ClientStats),
) {
    let mut stats = ClientStats::new(shared.partitions);
    record(&mut stats);
    shared.handover.deposit(&mut stats);
    let mut log = shared.log.lock().unwrap_or_else(|p| p.into_inner());
    match acked_seq {
        Some(seq) => {
            log.ack(seq, since_start_ns);
            shared.acked_total.fetch_add(1, Ordering::Relaxed);
        }
        None => log.failure(since_start_ns),
    }
    drop(log);
    shared.completed.fetch_add(1, Ordering::Release);
}
