//! One member of a consumer group: a real librdkafka consumer on its own OS thread. It reads
//! kbench's header from every message to compute end-to-end latency from the intended send
//! time, and records its partition assignment so idle members show.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::ClientContext;

use super::producer::stamp_of;
use crate::cluster::Access;
use crate::metrics::delivery::MemberDeliveries;
use crate::metrics::{Clock, SharedStats};
use crate::scenario::StartFrom;

#[derive(Clone)]
pub struct ConsumerPlan {
    pub group_index: usize,
    pub member_index: usize,
    pub group_id: String,
    pub topic: String,
    pub start_from: StartFrom,
    pub access: Access,
    pub extra: BTreeMap<String, String>,
    pub clock: Clock,
    /// Messages intended before this (ns on the run's clock) are warm-up. Set by the runner
    /// when the producers start, after the consumers have joined their groups.
    pub warmup_end_ns: Arc<AtomicU64>,
    /// The highest offset this member's group has read, per partition (-1 = none), shared by
    /// the group's members: a message at or below it is a redelivery, not a new message.
    pub group_offsets: Arc<Vec<AtomicI64>>,
}

/// A fresh per-partition offset watermark for one group.
pub fn group_offsets(partitions: usize) -> Arc<Vec<AtomicI64>> {
    Arc::new((0..partitions).map(|_| AtomicI64::new(-1)).collect())
}

/// Shared between a member's thread, its rebalance callback and the runner.
pub struct ConsumerShared {
    pub stats: SharedStats,
    /// New messages received (redeliveries excluded), warm-up included: the drain compares
    /// this with the acks.
    pub consumed_total: AtomicU64,
    /// The partitions currently assigned to this member.
    pub assignment: Mutex<Vec<i32>>,
    /// Set once the first assignment (possibly empty) has arrived.
    pub assigned: AtomicBool,
    pub rebalances: AtomicU64,
    /// Messages without a kbench header (not ours): counted, never measured.
    pub foreign: AtomicU64,
}

impl ConsumerShared {
    pub fn new(partitions: usize) -> ConsumerShared {
        ConsumerShared {
            stats: SharedStats::new(partitions),
            consumed_total: AtomicU64::new(0),
            assignment: Mutex::new(Vec::new()),
            assigned: AtomicBool::new(false),
            rebalances: AtomicU64::new(0),
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
}

impl ClientContext for Ctx {}

impl ConsumerContext for Ctx {
    fn post_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let mut parts: Vec<i32> = match rebalance {
            Rebalance::Assign(tpl) => tpl.elements().iter().map(|e| e.partition()).collect(),
            Rebalance::Revoke(_) => Vec::new(),
            Rebalance::Error(_) => return,
        };
        parts.sort_unstable();
        let assign = matches!(rebalance, Rebalance::Assign(_));
        if let Ok(mut a) = self.shared.assignment.lock() {
            *a = parts;
        }
        self.shared.rebalances.fetch_add(1, Ordering::Relaxed);
        if assign {
            self.shared.assigned.store(true, Ordering::Release);
        }
    }
}

pub fn create(
    plan: &ConsumerPlan,
    shared: &Arc<ConsumerShared>,
) -> Result<BaseConsumer<Ctx>, KafkaError> {
    let mut c = plan.access.config();
    c.set("group.id", &plan.group_id)
        .set(
            "client.id",
            format!("kbench-consumer-{}-{}", plan.group_index, plan.member_index),
        )
        .set(
            "auto.offset.reset",
            match plan.start_from {
                StartFrom::Earliest => "earliest",
                StartFrom::Latest => "latest",
            },
        )
        .set("enable.auto.commit", "true")
        .set("enable.partition.eof", "false")
        // Once a partition's local queue holds queued.min.messages (100000), librdkafka
        // postpones its next fetch by this much; with the default, 1000 ms, a consumer
        // reading a backlog drains its queue and then idles for the rest of the second
        // (`kbench versus`: 0.3M instead of 0.9M msg/s reading a pre-filled topic).
        .set("fetch.queue.backoff.ms", "10")
        .set("log_level", "3");
    Access::apply_extra(&mut c, &plan.extra);
    let consumer: BaseConsumer<Ctx> = c.create_with_context(Ctx {
        shared: shared.clone(),
    })?;
    consumer.subscribe(&[&plan.topic])?;
    Ok(consumer)
}

/// Poll until `stop`; every message is recorded. Leaves the group cleanly on the way out and
/// returns what it read, for delivery accounting.
pub fn run(
    plan: ConsumerPlan,
    consumer: BaseConsumer<Ctx>,
    shared: Arc<ConsumerShared>,
    stop: Arc<AtomicBool>,
) -> MemberDeliveries {
    let mut deliveries = MemberDeliveries::default();
    while !stop.load(Ordering::Relaxed) {
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let now = plan.clock.now_ns();
        let Ok(msg) = result else {
            continue; // transient errors (broker down) are retried by librdkafka
        };
        let Some((producer, seq, intended_ns)) = stamp_of(&msg) else {
            shared.foreign.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let partition = msg.partition();
        let new_offset = plan
            .group_offsets
            .get(partition.max(0) as usize)
            .is_none_or(|w| w.fetch_max(msg.offset(), Ordering::Relaxed) < msg.offset());
        deliveries.record(partition, new_offset, producer, seq);
        if !new_offset {
            continue; // read again after a rebalance: not a new end-to-end figure
        }
        shared.consumed_total.fetch_add(1, Ordering::Relaxed);
        let measured = intended_ns >= plan.warmup_end_ns.load(Ordering::Relaxed);
        shared.stats.lock().record_consume(
            measured,
            intended_ns,
            now,
            msg.payload_len(),
            partition,
        );
    }
    consumer.unsubscribe();
    deliveries
}
