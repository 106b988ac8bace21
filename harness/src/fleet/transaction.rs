//! A transactional producer's transactions (`[producers] transaction_messages`,
//! `transaction_abort`): when one begins and ends, whether it commits or aborts, and what an
//! abort does to the producer's accounting.
//!
//! Every `transaction_messages` messages of a producer make one transaction; its messages
//! have consecutive sequence numbers, so a transaction is a range of seqs. The calls are
//! librdkafka's blocking ones, made on the producer's send thread between sends: messages due
//! meanwhile are sent late, and their latency, counted from the intended time, shows it.
//!
//! Ending a transaction:
//! - **commit** (the usual case): `commit_transaction` flushes the transaction's outstanding
//!   messages, serving their delivery reports on this thread, then ends it. Its duration is
//!   the commit latency (`commit_*` columns). A retriable error (or a flush that timed out)
//!   is retried, [`COMMIT_ATTEMPTS`] calls in all; an error that requires an abort aborts
//!   the transaction, counted as `tx_failed`; a fatal error stops the producer, which fails
//!   the cell (the client can no longer produce).
//! - **abort on purpose** (`transaction_abort` share, spread evenly): the transaction's
//!   messages are flushed first, so they are written to the log and acknowledged, then
//!   aborted: read_committed consumers must never see them, read_uncommitted ones do.
//!
//! An aborted transaction's messages are not sent again: they leave the producer's
//! acknowledged set for its aborted set ([`ProducerLog::abort`]), so delivery accounting
//! neither calls them lost nor owes them to any group, and counts them as `aborted_seen`
//! when a group reads one.
//!
//! [`ProducerLog::abort`]: crate::metrics::delivery::ProducerLog::abort

use std::time::{Duration, Instant};

use rdkafka::error::KafkaError;
use rdkafka::producer::{BaseProducer, Producer};

use super::producer::Ctx;
use super::recorder;
use crate::cluster::Access;
use crate::metrics::TxOutcome;
use crate::scenario::{ProducerSpec, Props};

/// How long one blocking transaction call may take (librdkafka's `transaction.timeout.ms`
/// default is 60 s too: a transaction the broker would abort anyway).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Commit calls before a transaction whose commit keeps failing retriably is aborted.
pub const COMMIT_ATTEMPTS: u32 = 3;

/// Each producer's `transactional.id`: unique per cell (the run tag), shard and producer, so
/// no producer of another cell or shard fences it.
pub fn transactional_id(run_tag: u32, shard: u16, index: u16) -> String {
    format!("kbench-{run_tag:08x}-{shard}-{index}")
}

/// Initialise transactions once with a transactional.id of its own (no producer of the
/// cell uses it), so that the coordinator exists before the cell's producers need it.
pub fn prepare(access: &Access, extra: &Props, run_tag: u32) -> Result<(), String> {
    let mut c = access.config();
    c.set("transactional.id", format!("kbench-{run_tag:08x}-prepare"))
        .set("log_level", "3");
    Access::apply_extra(&mut c, extra);
    let p: BaseProducer = c.create().map_err(|e| e.to_string())?;
    p.init_transactions(CALL_TIMEOUT)
        .map_err(|e| format!("init_transactions: {e}"))
}

/// Is transaction `k` (0-based) aborted on purpose? Aborts are spread evenly: after any
/// number of transactions `n`, exactly `floor(n * share)` were aborted.
pub fn aborts(k: u64, share: f64) -> bool {
    let before = (k as f64 * share).floor();
    let after = ((k + 1) as f64 * share).floor();
    after > before
}

/// The open transaction.
struct Open {
    first_seq: u64,
    /// Its messages intended after warm-up.
    measured: u64,
}

/// One producer's transactions; `None` from [`Transactions::of`] without transactions.
pub struct Transactions {
    per_transaction: u64,
    abort_share: f64,
    /// Transactions ended so far.
    ended: u64,
    open: Option<Open>,
    /// When the last commit or abort call returned.
    blocked_until: Option<Instant>,
}

impl Transactions {
    pub fn of(spec: &ProducerSpec) -> Option<Transactions> {
        (spec.transaction_messages > 0).then_some(Transactions {
            per_transaction: spec.transaction_messages,
            abort_share: spec.transaction_abort,
            ended: 0,
            open: None,
            blocked_until: None,
        })
    }

    /// When the thread was last released from a commit or abort: messages due before then
    /// waited for the cluster, not for kbench.
    pub fn blocked_until(&self) -> Option<Instant> {
        self.blocked_until
    }

    /// Register the `transactional.id` with its coordinator (fencing any older producer).
    pub fn init(&mut self, producer: &BaseProducer<Ctx>) -> Result<(), String> {
        producer
            .init_transactions(CALL_TIMEOUT)
            .map_err(|e| format!("init_transactions: {e}"))?;
        self.blocked_until = Some(Instant::now());
        Ok(())
    }

    /// Before sending message `seq`: begin a transaction if none is open.
    pub fn before_send(&mut self, producer: &BaseProducer<Ctx>, seq: u64) -> Result<(), String> {
        if self.open.is_none() {
            producer
                .begin_transaction()
                .map_err(|e| format!("begin_transaction: {e}"))?;
            self.open = Some(Open {
                first_seq: seq,
                measured: 0,
            });
        }
        Ok(())
    }

    /// After a message was handed over; `next_seq` is the next message's seq. Ends the
    /// transaction once it holds `transaction_messages`.
    pub fn after_send(
        &mut self,
        producer: &BaseProducer<Ctx>,
        next_seq: u64,
        measured: bool,
    ) -> Result<(), String> {
        let Some(open) = self.open.as_mut() else {
            return Ok(());
        };
        open.measured += u64::from(measured);
        if next_seq - open.first_seq >= self.per_transaction {
            self.end(producer, next_seq)?;
        }
        Ok(())
    }

    /// End the open transaction, if any (also when the producer stops mid-transaction):
    /// its messages are `first_seq..next_seq`.
    pub fn end(&mut self, producer: &BaseProducer<Ctx>, next_seq: u64) -> Result<(), String> {
        let Some(open) = self.open.take() else {
            return Ok(());
        };
        let k = self.ended;
        self.ended += 1;
        let (outcome, commit_ns) = if aborts(k, self.abort_share) {
            // Written and acknowledged first, so that the abort is what hides them.
            let _ = producer.flush(CALL_TIMEOUT);
            abort(producer, k)?;
            (TxOutcome::Aborted, None)
        } else {
            commit(producer, k)?
        };
        self.blocked_until = Some(Instant::now());
        recorder::with(|r| {
            if outcome != TxOutcome::Committed {
                let were_acked = r.log.abort(open.first_seq..next_seq);
                r.acked -= were_acked.min(r.acked);
                r.publish_counts();
            }
            r.stats
                .record_transaction(open.measured, outcome, commit_ns);
        });
        Ok(())
    }
}

/// Commit transaction `k`: how it ended and, when it committed, how long the commit took.
fn commit(producer: &BaseProducer<Ctx>, k: u64) -> Result<(TxOutcome, Option<u64>), String> {
    let started = Instant::now();
    for attempt in 1..=COMMIT_ATTEMPTS {
        match producer.commit_transaction(CALL_TIMEOUT) {
            Ok(()) => {
                let ns = started.elapsed().as_nanos() as u64;
                return Ok((TxOutcome::Committed, Some(ns)));
            }
            // The flush before the commit timed out: the commit was not tried yet.
            Err(KafkaError::Flush(_)) if attempt < COMMIT_ATTEMPTS => {}
            Err(KafkaError::Transaction(e)) if e.is_retriable() && attempt < COMMIT_ATTEMPTS => {}
            Err(KafkaError::Transaction(e)) if e.is_fatal() => {
                return Err(format!("transaction {k}: commit failed fatally: {e}"))
            }
            // Requires an abort, or still failing after every attempt.
            Err(_) => break,
        }
    }
    abort(producer, k)?;
    Ok((TxOutcome::Failed, None))
}

/// Abort transaction `k`, retrying what librdkafka says is retriable.
fn abort(producer: &BaseProducer<Ctx>, k: u64) -> Result<(), String> {
    for attempt in 1..=COMMIT_ATTEMPTS {
        match producer.abort_transaction(CALL_TIMEOUT) {
            Ok(()) => return Ok(()),
            Err(KafkaError::Transaction(e)) if e.is_retriable() && attempt < COMMIT_ATTEMPTS => {}
            Err(e) => return Err(format!("transaction {k}: abort failed: {e}")),
        }
    }
    Err(format!(
        "transaction {k}: abort failed {COMMIT_ATTEMPTS} times"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aborts_are_spread_evenly_and_exactly() {
        for share in [0.0, 0.1, 0.25, 1.0 / 3.0, 0.5, 1.0] {
            let mut aborted = 0u64;
            for k in 0..300u64 {
                aborted += u64::from(aborts(k, share));
                assert_eq!(
                    aborted,
                    ((k + 1) as f64 * share).floor() as u64,
                    "share {share} after {} transactions",
                    k + 1
                );
            }
        }
        // One in ten: the 10th, 20th, ... transaction.
        let tenth: Vec<u64> = (0..30).filter(|k| aborts(*k, 0.1)).collect();
        assert_eq!(tenth, vec![9, 19, 29]);
        assert!(!(0..100).any(|k| aborts(k, 0.0)));
        assert!((0..100).all(|k| aborts(k, 1.0)));
    }

    #[test]
    fn transactional_ids_differ_by_cell_shard_and_producer() {
        let ids = [
            transactional_id(0xabc, 0, 0),
            transactional_id(0xabc, 0, 1),
            transactional_id(0xabc, 1, 0),
            transactional_id(0xabd, 0, 0),
        ];
        for (i, a) in ids.iter().enumerate() {
            assert!(ids[i + 1..].iter().all(|b| a != b), "{ids:?}");
        }
        assert_eq!(ids[0], "kbench-00000abc-0-0");
    }
}
