//! One member of a consumer group: a real librdkafka consumer on its own OS thread. It reads
//! kbench's header from every message to compute end-to-end latency from the intended send
//! time, and records its partition assignment so idle members show.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::{Headers, Message};
use rdkafka::ClientContext;

use super::payload::header;
use crate::metrics::{Clock, SharedStats};
use crate::scenario::StartFrom;

#[derive(Clone)]
pub struct ConsumerPlan {
    pub group_index: usize,
    pub member_index: usize,
    pub group_id: String,
    pub topic: String,
    pub start_from: StartFrom,
    pub bootstrap: String,
    pub extra: BTreeMap<String, String>,
    pub clock: Clock,
    /// Messages intended before this (ns on the run's clock) are warm-up. Set by the runner
    /// when the producers start, after the consumers have joined their groups.
    pub warmup_end_ns: Arc<AtomicU64>,
}

/// Shared between a member's thread, its rebalance callback and the runner.
pub struct ConsumerShared {
    pub stats: SharedStats,
    /// Messages received, warm-up included (the drain compares this with the acks).
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
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", &plan.bootstrap)
        .set("group.id", &plan.group_id)
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
        .set("log_level", "3");
    for (k, v) in &plan.extra {
        c.set(k, v);
    }
    let consumer: BaseConsumer<Ctx> = c.create_with_context(Ctx {
        shared: shared.clone(),
    })?;
    consumer.subscribe(&[&plan.topic])?;
    Ok(consumer)
}

/// Poll until `stop`; every message is recorded. Leaves the group cleanly on the way out.
pub fn run(
    plan: ConsumerPlan,
    consumer: BaseConsumer<Ctx>,
    shared: Arc<ConsumerShared>,
    stop: Arc<AtomicBool>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Some(result) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let now = plan.clock.now_ns();
        let Ok(msg) = result else {
            continue; // transient errors (broker down) are retried by librdkafka
        };
        shared.consumed_total.fetch_add(1, Ordering::Relaxed);
        let stamp = msg
            .headers()
            .and_then(|h| h.iter().find(|h| h.key == header::HEADER_KEY))
            .and_then(|h| h.value)
            .and_then(header::decode);
        let Some((_producer, _seq, intended_ns)) = stamp else {
            shared.foreign.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let measured = intended_ns >= plan.warmup_end_ns.load(Ordering::Relaxed);
        shared.stats.lock().record_consume(
            measured,
            intended_ns,
            now,
            msg.payload_len(),
            msg.partition(),
        );
    }
    consumer.unsubscribe();
}
