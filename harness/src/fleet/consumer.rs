//! One member of a consumer group: a real librdkafka consumer on its own OS thread. It reads
//! kbench's stamp from every message (the value's first bytes, or the `kbench` header with
//! `stamp = "header"`) to compute end-to-end latency from the intended send time, and records
//! its partition assignment so idle members show. A message without a stamp of this cell's
//! producers (no magic, another version, another run tag) is foreign: counted, never measured.
//!
//! Rebalances are recorded from the rebalance callbacks (`post_rebalance`), never on the
//! per-message path: the member's join and first assignment times, its assignments, and each
//! revoked or assigned partition in the group's shared [`RebalanceLog`] (the pauses).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::ClientContext;

use super::batch::{BatchQueue, ForwardTarget, RawMessage};
use super::librdkafka_stats::StatsLog;
use super::payload::stamp::{self, Stamp, StampClock};
use crate::cluster::Access;
use crate::metrics::delivery::MemberDeliveries;
use crate::metrics::rebalance::RebalanceLog;
use crate::metrics::{ClientStats, Clock, Handover};
use crate::scenario::{Assignor, GroupProtocol, Isolation, StampPlace, StartFrom};

#[derive(Clone)]
pub struct ConsumerPlan {
    pub group_index: usize,
    pub member_index: usize,
    pub group_id: String,
    pub topic: String,
    pub start_from: StartFrom,
    /// `isolation.level`: read_committed members never see aborted transactions.
    pub isolation: Isolation,
    /// Where the producers put their stamp.
    pub stamp: StampPlace,
    /// The run tag in the stamps of this cell's producers: any other is not theirs.
    pub run_tag: u32,
    pub access: Access,
    pub extra: crate::scenario::Props,
    pub clock: Clock,
    /// Per shard, the global index of its first producer: a stamp's (shard, local index)
    /// becomes the global producer index the delivery accounting keys on. One process: `[0]`.
    pub producer_bases: Arc<Vec<u32>>,
    /// Messages intended before this (ns on the run's clock) are warm-up. Set by the runner
    /// when the producers start, after the consumers have joined their groups.
    pub warmup_end_ns: Arc<AtomicU64>,
    /// The highest offset this member's group has read, per partition (-1 = none), shared by
    /// the group's members: a message at or below it is a redelivery, not a new message.
    pub group_offsets: Arc<Vec<AtomicI64>>,
    /// `[consumers] assignor` and `group_protocol`.
    pub assignor: Assignor,
    pub group_protocol: GroupProtocol,
    /// The group's partitions revoked and assigned, shared by its members' callbacks.
    pub group_log: Arc<Mutex<RebalanceLog>>,
    /// Where this member's librdkafka statistics go, when its config turns them on.
    pub stats_dir: Option<std::path::PathBuf>,
}

/// A fresh per-partition offset watermark for one group.
pub fn group_offsets(partitions: usize) -> Arc<Vec<AtomicI64>> {
    Arc::new((0..partitions).map(|_| AtomicI64::new(-1)).collect())
}

/// Shared between a member's thread, its rebalance callback and the runner.
pub struct ConsumerShared {
    /// The member's stats, handed over once per interval (the thread records locally).
    pub handover: Handover,
    /// New messages received (redeliveries excluded), warm-up included: the drain compares
    /// this with the acks.
    pub consumed_total: AtomicU64,
    /// The partitions currently assigned to this member.
    pub assignment: Mutex<Vec<i32>>,
    /// Set once the first assignment (possibly empty) has arrived.
    pub assigned: AtomicBool,
    /// When the member was created and subscribed (ns on the cell's clock): its join.
    pub joined_ns: AtomicU64,
    /// Every assignment callback's time (the first is the first assignment): one per
    /// rebalance the member took part in, eager or incremental (librdkafka calls it after
    /// every group sync, with an empty list when nothing is added).
    pub assigned_at: Mutex<Vec<u64>>,
    /// Set by the member's thread once it has handed over its last figures, as it leaves the
    /// group: the collector no longer waits for it.
    pub gone: AtomicBool,
    /// Messages without a stamp of this cell's producers (not ours): counted, never measured.
    pub foreign: AtomicU64,
}

impl ConsumerShared {
    pub fn new(partitions: usize) -> ConsumerShared {
        ConsumerShared {
            handover: Handover::new(partitions),
            consumed_total: AtomicU64::new(0),
            assignment: Mutex::new(Vec::new()),
            assigned: AtomicBool::new(false),
            joined_ns: AtomicU64::new(0),
            assigned_at: Mutex::new(Vec::new()),
            gone: AtomicBool::new(false),
            foreign: AtomicU64::new(0),
        }
    }

    pub fn assignment(&self) -> Vec<i32> {
        self.assignment
            .lock()
            .map(|a| a.clone())
            .unwrap_or_default()
    }
}

pub struct Ctx {
    shared: Arc<ConsumerShared>,
    member: usize,
    clock: Clock,
    group_log: Arc<Mutex<RebalanceLog>>,
    /// Where assigned partitions send their messages: the member's batch queue.
    forward: Arc<ForwardTarget>,
    stats: Option<StatsLog>,
}

impl ClientContext for Ctx {
    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(log) = &self.stats {
            log.write(statistics);
        }
    }
}

impl ConsumerContext for Ctx {
    /// After librdkafka applied the (incremental or whole) assign / revoke: the callback's
    /// list is what changed, the consumer's assignment is what the member holds now.
    fn post_rebalance(&self, c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let now = self.clock.now_ns();
        let (assign, tpl) = match rebalance {
            Rebalance::Assign(tpl) => (true, tpl),
            Rebalance::Revoke(tpl) => (false, tpl),
            Rebalance::Error(_) => return,
        };
        let changed: Vec<i32> = tpl.elements().iter().map(|e| e.partition()).collect();
        if assign {
            // The member's topic: one per cell.
            if let Some(e) = tpl.elements().first() {
                self.forward.forward(c, e.topic(), &changed);
            }
        }
        if let Ok(mut log) = self.group_log.lock() {
            if assign {
                log.assign(self.member, &changed, now);
            } else {
                log.revoke(self.member, &changed, now);
            }
        }
        let mut held: Vec<i32> = match c.assignment() {
            Ok(a) => a.elements().iter().map(|e| e.partition()).collect(),
            // Cannot happen on a live consumer; the change alone is the best guess.
            Err(_) if assign => changed,
            Err(_) => Vec::new(),
        };
        held.sort_unstable();
        if let Ok(mut a) = self.shared.assignment.lock() {
            *a = held;
        }
        if assign {
            if let Ok(mut at) = self.shared.assigned_at.lock() {
                at.push(now);
            }
            self.shared.assigned.store(true, Ordering::Release);
        }
    }
}

pub fn create(
    plan: &ConsumerPlan,
    shared: &Arc<ConsumerShared>,
) -> Result<BaseConsumer<Ctx>, KafkaError> {
    let client_id = format!("kbench-consumer-{}-{}", plan.group_index, plan.member_index);
    let mut c = plan.access.config();
    c.set("group.id", &plan.group_id)
        .set("client.id", &client_id)
        .set(
            "auto.offset.reset",
            match plan.start_from {
                StartFrom::Earliest => "earliest",
                StartFrom::Latest => "latest",
            },
        )
        .set("isolation.level", plan.isolation.name())
        .set("enable.auto.commit", "true")
        .set("enable.partition.eof", "false")
        // Once a partition's local queue holds queued.min.messages (100000), librdkafka
        // postpones its next fetch by this much; with the default, 1000 ms, a consumer
        // reading a backlog drains its queue and then idles for the rest of the second
        // (`kbench versus`: 0.3M instead of 0.9M msg/s reading a pre-filled topic).
        .set("fetch.queue.backoff.ms", "10")
        .set("log_level", "3")
        .set("group.protocol", plan.group_protocol.name());
    // The classic protocol's assignor runs in the group leader (a client); KIP-848's in the
    // broker, which takes no client-side strategy at all.
    match plan.group_protocol {
        GroupProtocol::Classic => c.set("partition.assignment.strategy", plan.assignor.name()),
        GroupProtocol::Consumer => c.set("group.remote.assignor", plan.assignor.name()),
    };
    Access::apply_extra(&mut c, &plan.extra);
    let stats = StatsLog::open(plan.stats_dir.as_deref(), &client_id, &c)
        .map_err(KafkaError::ClientCreation)?;
    let consumer: BaseConsumer<Ctx> = c.create_with_context(Ctx {
        stats,
        shared: shared.clone(),
        member: plan.member_index,
        clock: plan.clock,
        group_log: plan.group_log.clone(),
        forward: Arc::default(),
    })?;
    shared
        .joined_ns
        .store(plan.clock.now_ns(), Ordering::Relaxed);
    consumer.subscribe(&[&plan.topic])?;
    Ok(consumer)
}

/// What a stamp is read from: rdkafka's messages (tests, messages fetched before their
/// partition's forward) and the batch queue's raw ones.
trait Fetched {
    fn value(&self) -> Option<&[u8]>;
    /// The value of the first `kbench` header.
    fn stamp_header(&self) -> Option<&[u8]>;
}

impl<M: Message> Fetched for M {
    fn value(&self) -> Option<&[u8]> {
        self.payload()
    }

    fn stamp_header(&self) -> Option<&[u8]> {
        self.headers()?
            .iter()
            .find(|h| h.key == stamp::HEADER_KEY)?
            .value
    }
}

/// [`stamp::HEADER_KEY`] for librdkafka's C API.
const HEADER_KEY_C: &std::ffi::CStr = c"kbench";

impl Fetched for RawMessage<'_> {
    fn value(&self) -> Option<&[u8]> {
        self.payload()
    }

    fn stamp_header(&self) -> Option<&[u8]> {
        self.header(HEADER_KEY_C)
    }
}

/// `(producer index, seq, intended ns)` from the stamp of a message of this cell's producers
/// in one process (shard 0, the monotonic clock), or `None` for anything else.
#[cfg(test)]
#[inline]
fn ours<M: Fetched>(msg: &M, place: StampPlace, run_tag: u32) -> Option<(u64, u64, u64)> {
    ours_in(msg, place, run_tag, StampClock::Monotonic, &[0])
}

/// `(global producer index, seq, intended ns)` from the stamp of a message of this cell's
/// producers: this run tag, stamped on `clock` (a distributed run's wall clock, one process's
/// monotonic one: never two clocks subtracted), by a shard `producer_bases` knows.
#[inline]
fn ours_in<M: Fetched>(
    msg: &M,
    place: StampPlace,
    run_tag: u32,
    clock: StampClock,
    producer_bases: &[u32],
) -> Option<(u64, u64, u64)> {
    let s = match place {
        StampPlace::Value => Stamp::decode(msg.value()?)?,
        // A header is exactly a stamp long.
        StampPlace::Header => Some(msg.stamp_header()?)
            .filter(|v| v.len() == stamp::STAMP_LEN)
            .and_then(Stamp::decode)?,
    };
    if s.producer.run_tag() != run_tag || s.clock != clock {
        return None;
    }
    let base = producer_bases.get(usize::from(s.producer.shard()))?;
    let producer = u64::from(*base) + u64::from(s.producer.index());
    Some((producer, s.seq, s.intended_ns))
}

/// What one member has read: its deliveries and its interval's stats.
struct Reader<'a> {
    plan: &'a ConsumerPlan,
    shared: &'a ConsumerShared,
    clock: StampClock,
    deliveries: MemberDeliveries,
    stats: ClientStats,
    consumed: u64,
}

impl Reader<'_> {
    /// One message, received at `now` (ns on the cell's clock).
    #[inline]
    fn take<M: Fetched>(&mut self, msg: &M, partition: i32, offset: i64, now: u64) {
        let plan = self.plan;
        let Some((producer, seq, intended_ns)) = ours_in(
            msg,
            plan.stamp,
            plan.run_tag,
            self.clock,
            &plan.producer_bases,
        ) else {
            self.shared.foreign.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let new_offset = plan
            .group_offsets
            .get(partition.max(0) as usize)
            .is_none_or(|w| w.fetch_max(offset, Ordering::Relaxed) < offset);
        self.deliveries.record(partition, new_offset, producer, seq);
        if !new_offset {
            return; // read again after a rebalance: not a new end-to-end figure
        }
        self.consumed += 1;
        let measured = intended_ns >= plan.warmup_end_ns.load(Ordering::Relaxed);
        let bytes = msg.value().map_or(0, <[u8]>::len);
        self.stats
            .record_consume(measured, intended_ns, now, bytes, partition);
    }
}

/// Poll until `stop` (the whole fleet) or `leave` (this member alone); every message is
/// recorded. Leaves the group cleanly on the way out (its partitions move to the others) and
/// returns what it read, for delivery accounting.
pub fn run(
    plan: ConsumerPlan,
    mut consumer: BaseConsumer<Ctx>,
    shared: Arc<ConsumerShared>,
    stop: Arc<AtomicBool>,
    leave: Arc<AtomicBool>,
) -> MemberDeliveries {
    // Before the first poll: no assignment (so no forward) can come earlier.
    let forward = consumer.context().forward.clone();
    let mut batch = BatchQueue::new(&mut consumer, forward);
    let mut r = Reader {
        plan: &plan,
        shared: &shared,
        clock: if plan.clock.is_wall() {
            StampClock::Wall
        } else {
            StampClock::Monotonic
        },
        deliveries: MemberDeliveries::default(),
        stats: ClientStats::new(plan.group_offsets.len()),
        consumed: 0,
    };
    while !stop.load(Ordering::Relaxed) && !leave.load(Ordering::Relaxed) {
        if shared.handover.is_asked() {
            shared.handover.answer(&mut r.stats);
        }
        // The consumer queue first: its rebalances decide where the next messages go, and a
        // message in it was fetched before its partition's forward, so before any in the batch.
        loop {
            match consumer.poll(Duration::ZERO) {
                Some(Ok(msg)) => {
                    let now = plan.clock.now_ns();
                    r.take(&msg, msg.partition(), msg.offset(), now);
                }
                // Transient errors (broker down) are retried by librdkafka.
                Some(Err(_)) => {}
                // Nothing, or an event served (a rebalance): look again while some wait.
                None if batch.events_pending() => {}
                None => break,
            }
        }
        // A short wait: an idle member still answers the collector within a few tens of ms;
        // an event on the consumer queue cuts it short.
        let mut now = None;
        batch.consume(Duration::from_millis(20), |m| {
            if m.is_error() {
                return;
            }
            // One receive time per batch: when the batch reached the member.
            let now = *now.get_or_insert_with(|| plan.clock.now_ns());
            r.take(m, m.partition(), m.offset(), now);
        });
        shared.consumed_total.store(r.consumed, Ordering::Relaxed);
    }
    shared.handover.answer(&mut r.stats);
    // Every figure is handed over: the collector need not wait for this member any more.
    shared.gone.store(true, Ordering::Release);
    let deliveries = std::mem::take(&mut r.deliveries);
    batch.close(&mut consumer);
    consumer.unsubscribe();
    // Closing serves the revoke callback (the pause starts there) and leaves the group.
    drop(consumer);
    deliveries
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::payload::stamp::ProducerId;
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    const TAG: u32 = 0xfeed_0001;

    fn msg(value: Vec<u8>, headers: Option<OwnedHeaders>) -> OwnedMessage {
        OwnedMessage::new(
            Some(value),
            None,
            "t".into(),
            Timestamp::NotAvailable,
            0,
            0,
            headers,
        )
    }

    fn stamp(tag: u32, shard: u16, index: u16, clock: StampClock) -> [u8; stamp::STAMP_LEN] {
        Stamp {
            producer: ProducerId::new(tag, shard, index),
            seq: 41,
            intended_ns: 7_000,
            clock,
        }
        .encode()
    }

    fn value_with(s: &[u8]) -> Vec<u8> {
        let mut v = s.to_vec();
        v.extend_from_slice(&[0xab; 100]);
        v
    }

    #[test]
    fn stamps_in_the_value_of_this_cell_are_read() {
        let m = msg(value_with(&stamp(TAG, 0, 3, StampClock::Monotonic)), None);
        assert_eq!(ours(&m, StampPlace::Value, TAG), Some((3, 41, 7_000)));
        // The same message where a header is expected: no header, so not ours.
        assert_eq!(ours(&m, StampPlace::Header, TAG), None);
    }

    #[test]
    fn anything_else_is_foreign() {
        let cases: [(&str, Vec<u8>); 6] = [
            (
                "text",
                b"{\"order\": 17, \"item\": \"a long enough json value\"}".to_vec(),
            ),
            ("empty", Vec::new()),
            (
                "short",
                stamp(TAG, 0, 3, StampClock::Monotonic)[..27].to_vec(),
            ),
            (
                "another run",
                value_with(&stamp(TAG ^ 1, 0, 3, StampClock::Monotonic)),
            ),
            (
                "another shard",
                value_with(&stamp(TAG, 1, 3, StampClock::Monotonic)),
            ),
            (
                "wall clock",
                value_with(&stamp(TAG, 0, 3, StampClock::Wall)),
            ),
        ];
        for (why, value) in cases {
            assert_eq!(
                ours(&msg(value, None), StampPlace::Value, TAG),
                None,
                "{why}"
            );
        }
        let no_payload =
            OwnedMessage::new(None, None, "t".into(), Timestamp::NotAvailable, 0, 0, None);
        assert_eq!(ours(&no_payload, StampPlace::Value, TAG), None);
    }

    #[test]
    fn stamps_in_the_header_are_read_and_the_value_left_alone() {
        let s = stamp(TAG, 0, 9, StampClock::Monotonic);
        let headers = |value: &[u8]| {
            OwnedHeaders::new_with_capacity(2)
                .insert(Header {
                    key: "other",
                    value: Some(&b"x"[..]),
                })
                .insert(Header {
                    key: stamp::HEADER_KEY,
                    value: Some(value),
                })
        };
        let m = msg(b"any value at all".to_vec(), Some(headers(&s)));
        assert_eq!(ours(&m, StampPlace::Header, TAG), Some((9, 41, 7_000)));
        let longer = value_with(&s);
        let m = msg(b"v".to_vec(), Some(headers(&longer)));
        assert_eq!(
            ours(&m, StampPlace::Header, TAG),
            None,
            "a header is exactly a stamp"
        );
    }

    #[test]
    fn a_distributed_member_counts_every_shard_on_the_wall_clock_by_global_index() {
        let bases = [0, 3, 5];
        let wall = value_with(&stamp(TAG, 2, 1, StampClock::Wall));
        assert_eq!(
            ours_in(
                &msg(wall, None),
                StampPlace::Value,
                TAG,
                StampClock::Wall,
                &bases
            ),
            Some((6, 41, 7_000))
        );
        let mono = value_with(&stamp(TAG, 1, 0, StampClock::Monotonic));
        assert_eq!(
            ours_in(
                &msg(mono, None),
                StampPlace::Value,
                TAG,
                StampClock::Wall,
                &bases
            ),
            None,
            "never two clocks subtracted"
        );
        let stranger = value_with(&stamp(TAG, 3, 0, StampClock::Wall));
        assert_eq!(
            ours_in(
                &msg(stranger, None),
                StampPlace::Value,
                TAG,
                StampClock::Wall,
                &bases
            ),
            None,
            "a shard beyond the run's count"
        );
    }
}
