//! One producer of a fleet: a real librdkafka client on its own OS thread.
//!
//! The thread sends every message that is due on its schedule, then sleeps until the next one
//! is due or a delivery report arrives (see `wake.rs`); reports are served by `poll` on this
//! same thread, so sending and recording happen on one thread and the client's stats lock is
//! never contended by another client. Producers never wait for an ack before the next send, except in sync mode.
//!
//! Every message carries kbench's stamp (`payload::stamp`): in the first bytes of the value,
//! so the value is exactly the scenario's size, or in a record header (`stamp = "header"`).
//! Its delivery report learns the sequence number and intended time from the message's
//! opaque (`opaque.rs`), never from the record.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use super::keys::KeyGen;
use super::librdkafka_stats::StatsLog;
use super::opaque::{self, DeliveryTag};
use super::pacing::Schedule;
use super::partition::KbenchChooser;
use super::payload::stamp::{self, ProducerId, Stamp, StampClock};
use super::payload::PayloadGen;
use super::recorder;
use super::topic_handle::TopicHandle;
use super::transaction::{self, Transactions};
use super::value_slots::ValueSlots;
use super::wake::{Notifier, QueueWaker};
use crate::cluster::Access;
use crate::metrics::delivery::ProducerLog;
use crate::metrics::{Clock, Handover};
use crate::scenario::{Partitioner, ProducerSpec, RunSpec, StampPlace};
use crate::sys::cpu::{thread_demand_ns, thread_wait_ns};

/// What a producer thread needs to know about its place in the cell.
#[derive(Clone)]
pub struct ProducerPlan {
    pub index: usize,
    /// Who this producer is in its messages' stamps: the cell's run tag, the shard, `index`.
    pub id: ProducerId,
    pub topic: String,
    pub partitions: i32,
    pub spec: ProducerSpec,
    pub run: RunSpec,
    /// The cluster and its connection properties.
    pub access: Access,
    /// Pass-through librdkafka properties (they win over kbench's own).
    pub extra: crate::scenario::Props,
    pub clock: Clock,
    /// Messages intended before this instant are warm-up.
    pub warmup_end: Instant,
    /// When message 0 of the fleet is due.
    pub start: Instant,
    pub seed: u64,
    /// This producer's keys and values: reseeded copies of the cell's generators, so a fleet
    /// of 100 producers shares one random pool and one key table.
    pub keys: KeyGen,
    pub payloads: PayloadGen,
    /// Where this producer's librdkafka statistics go, when its config turns them on.
    pub stats_dir: Option<std::path::PathBuf>,
}

/// Shared between a producer thread and the fleet. The thread records into its own
/// [`recorder`] slot and publishes here: counts with plain stores as it goes, its stats once
/// per interval through `handover`, its delivery log when it ends.
pub struct ProducerShared {
    pub partitions: usize,
    pub handover: Handover,
    /// Wakes the send thread from its sleep when the collector asks for the interval; set by
    /// the thread when it starts.
    pub notifier: OnceLock<Notifier>,
    /// Delivery reports received (acked or failed), warm-up included: sync mode and the drain
    /// wait on this.
    pub completed: AtomicU64,
    /// Successful acks, warm-up included: consumers are drained until they have this many.
    pub acked_total: AtomicU64,
    pub sent_total: AtomicU64,
    /// When the last ack came (ns on the run's clock; 0 = none yet): a `messages` budget's
    /// measurement window ends there.
    pub last_ack_ns: AtomicU64,
    /// Acknowledged sequence numbers, ack timeline, first failure: for delivery accounting
    /// and fault impact. Written when the send thread ends (read after the cell).
    pub log: Mutex<ProducerLog>,
    /// How much of its wall time the send thread wanted a CPU (ran or waited in the run
    /// queue), in millionths, set when it stops.
    pub busy_ppm: AtomicU64,
    /// How much of it the thread spent waiting in the run queue (the host, not kbench).
    pub wait_ppm: AtomicU64,
}

impl ProducerShared {
    pub fn new(partitions: usize) -> ProducerShared {
        ProducerShared {
            partitions,
            handover: Handover::new(partitions),
            notifier: OnceLock::new(),
            completed: AtomicU64::new(0),
            acked_total: AtomicU64::new(0),
            sent_total: AtomicU64::new(0),
            last_ack_ns: AtomicU64::new(0),
            log: Mutex::new(ProducerLog::default()),
            busy_ppm: AtomicU64::new(0),
            wait_ppm: AtomicU64::new(0),
        }
    }

    /// Ask the send thread for its interval, waking it if it sleeps; [`Handover::collect`]
    /// with the ticket.
    pub fn ask(&self) -> u64 {
        let ticket = self.handover.ask();
        if let Some(n) = self.notifier.get() {
            n.notify();
        }
        ticket
    }

    /// The delivery log (complete once the send thread has ended).
    pub fn log(&self) -> ProducerLog {
        self.log
            .lock()
            .map(|s| s.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }
}

pub struct Ctx {
    shared: Arc<ProducerShared>,
    clock: Clock,
    tag: DeliveryTag,
    warmup_end_ns: u64,
    start_ns: u64,
    stats: Option<StatsLog>,
    /// Where generated values are built and sent from without a copy (`value_slots`). Here,
    /// in the context, because rdkafka drops the context only after `rd_kafka_destroy`.
    slots: Option<ValueSlots>,
    /// While `serve` polls one event: when it was taken from the queue (ns on the run's
    /// clock), the ack time of every report in it; 0 otherwise (then each report reads the
    /// clock). One event's reports came in one response, so one reading serves them all and
    /// does not add the time spent recording the ones before.
    event_ns: AtomicU64,
}

impl ClientContext for Ctx {
    fn stats_raw(&self, statistics: &[u8]) {
        if let Some(log) = &self.stats {
            log.write(statistics);
        }
    }
}

impl ProducerContext for Ctx {
    /// The message's sequence number and intended send time, packed by [`DeliveryTag`].
    type DeliveryOpaque = usize;

    fn delivery(&self, result: &DeliveryResult<'_>, opaque: usize) {
        let now = match self.event_ns.load(Ordering::Relaxed) {
            0 => self.clock.now_ns(),
            t => t,
        };
        let recorded = recorder::with(|r| {
            // Reports are served on the send thread, so this is every message handed over.
            let (seq, intended) = self.tag.unpack(opaque, r.sent, now);
            self.release(seq);
            let measured = intended >= self.warmup_end_ns;
            let since_start = now.saturating_sub(self.start_ns);
            match result {
                Ok(m) => {
                    r.acked += 1;
                    r.stats
                        .record_ack(measured, intended, now, m.payload_len(), m.partition());
                    r.log.ack(seq, since_start);
                    self.shared.last_ack_ns.store(now, Ordering::Relaxed);
                }
                Err((e, _)) => {
                    r.stats.record_failure(measured, &error_kind(e));
                    r.log.failure(since_start);
                }
            }
            r.completed += 1;
            r.publish_counts();
        });
        if recorded.is_none() {
            self.stray(result, opaque, now);
        }
    }
}

impl Ctx {
    /// Message `seq` is out of librdkafka's hands: its value slot (if it had one) is free.
    #[inline]
    fn release(&self, seq: u64) {
        if let Some(s) = &self.slots {
            s.release(seq);
        }
    }

    /// A report served off the send thread (not expected; see `recorder`): counted anyway.
    #[cold]
    fn stray(&self, result: &DeliveryResult<'_>, opaque: usize, now: u64) {
        let sent = self.shared.sent_total.load(Ordering::Relaxed);
        let (seq, intended) = self.tag.unpack(opaque, sent, now);
        self.release(seq);
        let measured = intended >= self.warmup_end_ns;
        let since_start = now.saturating_sub(self.start_ns);
        match result {
            Ok(m) => recorder::stray_report(&self.shared, Some(seq), since_start, |s| {
                s.record_ack(measured, intended, now, m.payload_len(), m.partition())
            }),
            Err((e, _)) => recorder::stray_report(&self.shared, None, since_start, |s| {
                s.record_failure(measured, &error_kind(e))
            }),
        }
    }
}

/// Serve every waiting delivery report (each `poll(0)` handles at most one event), and hand
/// the interval over if the collector asked for it. Says whether there were reports.
pub(super) fn serve(producer: &BaseProducer<Ctx>, waker: &QueueWaker) -> bool {
    let mut served = false;
    let ctx = producer.context();
    while waker.pending() > 0 {
        ctx.event_ns
            .store(ctx.clock.now_ns().max(1), Ordering::Relaxed);
        producer.poll(Duration::ZERO);
        ctx.event_ns.store(0, Ordering::Relaxed);
        served = true;
    }
    recorder::with(|r| r.answer_if_asked());
    served
}

/// Make room in librdkafka's full queue: reports already waiting free their messages' room,
/// so the send is retried at once; otherwise wait (at most 1 ms) for the next report and
/// serve it before the retry. A wait after serving would sleep through the room just made
/// and wake twice per report.
pub(super) fn make_room(producer: &BaseProducer<Ctx>, waker: &QueueWaker) {
    if !serve(producer, waker) {
        waker.wait(Duration::from_millis(1));
        serve(producer, waker);
    }
}

/// One message for [`send_retrying`].
pub(super) struct Outgoing<'a> {
    pub topic: &'a str,
    pub payload: &'a [u8],
    pub key: Option<&'a [u8]>,
    pub partition: Option<i32>,
    pub opaque: usize,
    pub headers: Option<OwnedHeaders>,
    /// The payload is a value slot that outlives the message (`value_slots`): librdkafka
    /// sends it from there instead of copying it.
    pub in_slot: bool,
}

/// What became of a message given to [`send_retrying`].
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Sent {
    /// In librdkafka's queue.
    Queued,
    /// Refused for good (recorded as a failure).
    Failed,
    /// `stop` came while librdkafka's queue was full: the message never left.
    Stopped,
}

/// Send one message, through `direct` when it has no headers, else through rdkafka's `send`,
/// retrying while librdkafka's queue is full: each full queue is counted (`queue_full`, which
/// flags the cell) when `count_full` and waited out with `make_room` (serve the delivery
/// reports, wait a little for more), until `stop`. The send loop and the tailing loop
/// (`follow`) share it.
pub(super) fn send_retrying(
    producer: &BaseProducer<Ctx>,
    direct: Option<&TopicHandle>,
    mut out: Outgoing<'_>,
    measured: bool,
    count_full: bool,
    stop: &AtomicBool,
    make_room: &dyn Fn(),
) -> Sent {
    loop {
        let sent = match (direct, out.headers.take()) {
            (Some(d), None) => d
                .produce(
                    out.partition,
                    out.payload,
                    out.key,
                    out.opaque,
                    !out.in_slot,
                )
                .map_err(KafkaError::MessageProduction),
            (_, headers) => {
                let mut r = BaseRecord::with_opaque_to(out.topic, out.opaque).payload(out.payload);
                r.headers = headers;
                r.key = out.key;
                r.partition = out.partition;
                producer.send(r).map_err(|(e, r)| {
                    // Kept for the retry.
                    out.headers = r.headers;
                    e
                })
            }
        };
        match sent {
            Ok(()) => return Sent::Queued,
            Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)) => {
                if count_full {
                    recorder::with(|r| r.stats.counters.queue_full += 1);
                }
                make_room();
                if stop.load(Ordering::Relaxed) {
                    return Sent::Stopped;
                }
            }
            Err(e) => {
                recorder::with(|r| {
                    r.stats.record_failure(measured, &error_kind(&e));
                    r.completed += 1;
                });
                return Sent::Failed;
            }
        }
    }
}

pub(super) fn error_kind(e: &KafkaError) -> String {
    match e.rdkafka_error_code() {
        Some(code) => format!("{code:?}"),
        None => "Other".into(),
    }
}

/// The producer's `client.id`, also the name of its statistics file.
fn client_id(index: usize) -> String {
    format!("kbench-producer-{index}")
}

/// librdkafka settings for a producer spec, before pass-through properties.
pub fn librdkafka_settings(access: &Access, index: usize, s: &ProducerSpec) -> ClientConfig {
    let mut c = access.config();
    c.set("client.id", client_id(index))
        .set("acks", s.acks.as_config())
        .set("compression.type", &s.compression)
        .set("linger.ms", s.linger_ms.to_string())
        .set("batch.size", s.batch_size.to_string())
        .set("enable.idempotence", s.idempotence.to_string())
        .set(
            "max.in.flight.requests.per.connection",
            if s.sync { 1 } else { s.max_in_flight }.to_string(),
        )
        // On a schedule: room for a few seconds of backlog at high rates before QueueFull is
        // reported. At max rate the queue only adds waiting time to every message: 32 MB, as
        // the Java producer's buffer.memory, keeps max-rate latency comparable with its tools.
        .set("queue.buffering.max.messages", "1000000")
        .set(
            "queue.buffering.max.kbytes",
            if s.rate.is_some() { "1048576" } else { "32768" },
        )
        .set("log_level", "3");
    if let Some(p) = s.partitioner.librdkafka_name() {
        c.set("partitioner", p);
    }
    c
}

/// The producer's full librdkafka configuration: pass-through properties are applied last
/// (scenarios refuse the ones kbench sets, `transactional.id` among them).
pub fn client_config(plan: &ProducerPlan) -> ClientConfig {
    let mut c = librdkafka_settings(&plan.access, plan.index, &plan.spec);
    if plan.spec.transaction_messages > 0 {
        let id = plan.id;
        c.set(
            "transactional.id",
            transaction::transactional_id(id.run_tag(), id.shard(), id.index()),
        );
    }
    Access::apply_extra(&mut c, &plan.extra);
    c
}

/// The ring generated values are sent from without a copy, sized to what librdkafka may hold
/// in flight (`queue.buffering.max.kbytes`); none for a file's lines (their own bytes), a
/// followed file, or the stamp in a header (those go through rdkafka's `send`).
fn value_slots(plan: &ProducerPlan, config: &ClientConfig) -> Option<ValueSlots> {
    let s = &plan.spec;
    if s.stamp != StampPlace::Value || s.message_size.is_followed() {
        return None;
    }
    let (pool, pos) = plan.payloads.random_pool()?;
    let queue_bytes = config
        .get("queue.buffering.max.kbytes")
        .and_then(|k| k.trim().parse::<usize>().ok())
        .map_or(0, |k| k.saturating_mul(1024));
    ValueSlots::new(pool, pos, plan.payloads.max_size(), queue_bytes, s.count)
}

/// This producer's send schedule. A followed file has none: each line is intended when it was
/// seen, known only then (the max-rate form of the delivery opaque carries it), and `rate` is a
/// cap on sending (`follow.rs`).
fn schedule(plan: &ProducerPlan) -> Result<Schedule, String> {
    if plan.spec.message_size.is_followed() {
        return Schedule::new(None, plan.start).map_err(|e| e.to_string());
    }
    Schedule::for_producer(plan.spec.rate, plan.spec.count, plan.index, plan.start)
        .map_err(|e| e.to_string())
}

pub fn create(
    plan: &ProducerPlan,
    shared: &Arc<ProducerShared>,
) -> Result<BaseProducer<Ctx>, KafkaError> {
    let schedule = schedule(plan).map_err(KafkaError::ClientCreation)?;
    let config = client_config(plan);
    if !schedule.is_paced() {
        opaque::check_max_rate_bounds(
            config.get("queue.buffering.max.messages"),
            &[
                ("message.timeout.ms", config.get("message.timeout.ms")),
                ("delivery.timeout.ms", config.get("delivery.timeout.ms")),
            ],
        )
        .map_err(KafkaError::ClientCreation)?;
    }
    let stats = StatsLog::open(plan.stats_dir.as_deref(), &client_id(plan.index), &config)
        .map_err(KafkaError::ClientCreation)?;
    let ctx = Ctx {
        stats,
        slots: value_slots(plan, &config),
        event_ns: AtomicU64::new(0),
        shared: shared.clone(),
        clock: plan.clock,
        tag: DeliveryTag::new(schedule, plan.clock),
        warmup_end_ns: plan.clock.ns(plan.warmup_end),
        start_ns: plan.clock.ns(plan.start),
    };
    config.create_with_context(ctx)
}

/// The producer loop; returns when `stop` is set (or `budget` measured messages, those after
/// warm-up, have been sent), after flushing outstanding messages for at most the drain timeout.
pub fn run(
    plan: ProducerPlan,
    producer: BaseProducer<Ctx>,
    shared: Arc<ProducerShared>,
    stop: Arc<AtomicBool>,
    budget: Option<u64>,
) -> Result<(), String> {
    if plan.spec.message_size.is_followed() {
        return super::follow::run(plan, producer, shared, stop, budget);
    }
    let spec = &plan.spec;
    let schedule = schedule(&plan)?;
    let tag = DeliveryTag::new(schedule, plan.clock);
    let mut keys = plan.keys.clone();
    let mut payloads = plan.payloads.clone();
    let mut chooser = KbenchChooser::new(&spec.partitioner, plan.index, plan.partitions, plan.seed);
    let warmup_end_ns = plan.clock.ns(plan.warmup_end);
    let mut seq: u64 = 0;
    let mut since_poll = 0u32;
    let mut measured_sent: u64 = 0;
    let mut transactions = Transactions::of(spec);

    let waker = QueueWaker::new(producer.client()).map_err(|e| format!("eventfd: {e}"))?;
    // Messages without headers (the stamp in the value) skip rdkafka's per-message topic
    // lookup; dropped before the producer.
    let direct = match spec.stamp {
        StampPlace::Value => Some(TopicHandle::new(producer.client(), &plan.topic)?),
        StampPlace::Header => None,
    };
    if let Ok(n) = waker.notifier() {
        let _ = shared.notifier.set(n);
    }
    let recording = recorder::install(shared.clone());
    let slots = producer.context().slots.as_ref();
    if let Some(t) = transactions.as_mut() {
        // Before the first send: in the warm-up (the first message's latency shows it).
        t.init(&producer)?;
    }
    let serve = || serve(&producer, &waker);

    // How busy this thread is: a send loop that never waits is the producer's limit.
    let load = ThreadLoad::start();
    // Batched pacing: the loop sends every message due, then sleeps until the next one is due
    // and this tick is over, so it starts a batch at most once per tick whatever the rate (it
    // still wakes at once for delivery reports, so acks are timed when they come).
    let tick = spec.pacing_tick;
    let stamp_clock = if plan.clock.is_wall() {
        StampClock::Wall
    } else {
        StampClock::Monotonic
    };
    let mut send_from = plan.start;
    let mut caught_up = true;
    'send: while !stop.load(Ordering::Relaxed) && budget.is_none_or(|b| measured_sent < b) {
        let now = Instant::now();
        if schedule.is_paced() && (schedule.due(now) <= seq || (caught_up && now < send_from)) {
            serve();
            let next = schedule.next_wakeup(seq).unwrap_or(now).max(send_from);
            waker.wait(next.saturating_duration_since(Instant::now()));
            caught_up = true;
            continue;
        }
        if caught_up {
            send_from = now + tick;
            caught_up = false;
        }
        let intended = schedule.intended(seq).unwrap_or(now);
        let intended_ns = tag.intended_ns(seq, now);
        let measured = intended_ns >= warmup_end_ns;
        let stamp = Stamp {
            producer: plan.id,
            seq,
            intended_ns,
            clock: stamp_clock,
        }
        .encode();
        let (payload, headers, in_slot) = match spec.stamp {
            StampPlace::Value => {
                let len = payloads.next_len();
                match (slots, len) {
                    (Some(s), Some(len)) => match s.claim(seq, &stamp, len) {
                        Some(v) => (v, None, true),
                        None => (payloads.stamped_of_len(Some(len), &stamp), None, false),
                    },
                    _ => (payloads.stamped_of_len(len, &stamp), None, false),
                }
            }
            StampPlace::Header => (
                payloads.next_payload(),
                Some(OwnedHeaders::new_with_capacity(1).insert(Header {
                    key: stamp::HEADER_KEY,
                    value: Some(&stamp[..]),
                })),
                false,
            ),
        };
        let bytes = payload.len();
        // Sticky means keyless batching: keys would make librdkafka hash them instead.
        let key = if spec.partitioner == Partitioner::Sticky {
            None
        } else {
            keys.next_key()
        };
        let partition = chooser.next(seq);
        let opaque = tag.pack(seq, intended_ns);
        if let Some(t) = transactions.as_mut() {
            t.before_send(&producer, seq)?;
        }
        let out = Outgoing {
            topic: &plan.topic,
            payload,
            key,
            partition,
            opaque,
            headers,
            in_slot,
        };
        // At max rate a full queue is the expected back-pressure of a saturated cluster; on a
        // schedule it means kbench could not offer the asked rate (counted: it flags the cell).
        let counted = schedule.is_paced() && measured;
        let make_room = || make_room(&producer, &waker);
        let sent = send_retrying(
            &producer,
            direct.as_ref(),
            out,
            measured,
            counted,
            &stop,
            &make_room,
        );
        if sent != Sent::Queued {
            // Never reached librdkafka: no report will free its slot.
            producer.context().release(seq);
        }
        if sent == Sent::Stopped {
            // Still flush what is queued (a return here would purge it, counted as failed)
            // and record how busy the thread was.
            break 'send;
        }
        // A message that came due while the thread was blocked in a transaction's commit
        // waited for the cluster (its publish latency shows it), not for kbench: only the
        // lateness after the commit returned is kbench's (late_sends, behind-schedule). At max
        // rate there is no schedule to be late on (a wait for room in a full queue is the
        // cluster's back-pressure), so the clock is not read again.
        let lag_ns = if schedule.is_paced() {
            let own_from = match transactions.as_ref().and_then(Transactions::blocked_until) {
                Some(until) => intended.max(until),
                None => intended,
            };
            Instant::now()
                .saturating_duration_since(own_from)
                .as_nanos() as u64
        } else {
            0
        };
        recorder::with(|r| {
            r.stats.record_send(measured, bytes, lag_ns);
            r.sent += 1;
            r.publish_counts();
        });
        seq += 1;
        measured_sent += u64::from(measured);
        if let Some(t) = transactions.as_mut() {
            t.after_send(&producer, seq, measured)?;
        }

        if spec.sync {
            // Synchronous producer: one message in flight, wait for its ack.
            while shared.completed.load(Ordering::Acquire) < seq && !stop.load(Ordering::Relaxed) {
                serve();
                if shared.completed.load(Ordering::Acquire) < seq {
                    waker.wait(Duration::from_millis(100));
                }
            }
        } else {
            since_poll += 1;
            if since_poll >= 64 {
                serve();
                since_poll = 0;
            }
        }
    }
    if let Some(t) = transactions.as_mut() {
        // The producer stops mid-transaction: end it as planned (its messages are sent).
        t.end(&producer, seq)?;
    }
    drop(waker);
    if schedule.is_paced() {
        // Messages of the measurement window that were due but never sent: kbench fell so far
        // behind that they never left. They are part of the offered load (and flag the cell).
        let now = Instant::now();
        let horizon = plan
            .run
            .duration
            .map_or(now, |d| now.min(plan.warmup_end + d));
        let first_measured = schedule.due(plan.warmup_end);
        let unsent = schedule
            .due(horizon)
            .saturating_sub(seq.max(first_measured));
        // With a `messages` budget nothing beyond it is due: a thread that stopped just after
        // the next message's time did not leave that message unsent.
        let unsent = budget.map_or(unsent, |b| unsent.min(b.saturating_sub(measured_sent)));
        recorder::with(|r| r.stats.record_unsent(unsent));
    }
    load.store(&shared);
    drain(&producer, plan.run.drain_timeout);
    drop(direct);
    // Drop the client while the recorder is installed: its purge on drop reports here too.
    drop(producer);
    drop(recording);
    Ok(())
}

/// How busy a send thread is, from its start: a send loop that never waits is the producer's
/// limit.
pub(super) struct ThreadLoad {
    cpu: u64,
    wait: u64,
    wall: Instant,
}

impl ThreadLoad {
    pub(super) fn start() -> ThreadLoad {
        ThreadLoad {
            cpu: thread_demand_ns(),
            wait: thread_wait_ns(),
            wall: Instant::now(),
        }
    }

    /// Publish the share of its wall time the thread wanted a CPU, and waited for one.
    pub(super) fn store(&self, shared: &ProducerShared) {
        let wall = self.wall.elapsed().as_nanos().max(1) as u64;
        let busy = (thread_demand_ns() - self.cpu).saturating_mul(1_000_000) / wall;
        shared.busy_ppm.store(busy, Ordering::Relaxed);
        let waited = (thread_wait_ns() - self.wait).saturating_mul(1_000_000) / wall;
        shared.wait_ppm.store(waited, Ordering::Relaxed);
    }
}

/// Outstanding messages get the drain timeout to be acked; what is left then is counted as
/// failed by librdkafka's own message timeout. Flushed in short steps so that the interval
/// is still handed over while the drain lasts.
pub(super) fn drain(producer: &BaseProducer<Ctx>, timeout: Duration) {
    let drain_end = Instant::now() + timeout;
    while producer.in_flight_count() > 0 && Instant::now() < drain_end {
        let step = drain_end.saturating_duration_since(Instant::now());
        let _ = producer.flush(step.min(Duration::from_millis(20)));
        recorder::with(|r| r.answer_if_asked());
    }
}
