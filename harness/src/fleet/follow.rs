//! The send loop of a producer that follows a file (`message_size = { file = "app.log",
//! follow = true }`): every complete line another process appends is sent once, in the file's
//! order, as it appears. The most common first Kafka program, a log shipper.
//!
//! - **Intended time = when kbench saw the line**, at the poll ([`tail::POLL_INTERVAL`]) that
//!   read it: the file's own pace is the load. Latency is measured from there, so a line that
//!   waited in kbench (behind the rate cap, or a full librdkafka queue) shows that wait.
//! - **`rate` is a cap, not a schedule**: lines queue and leave no faster than the rate
//!   ([`RateCap`]); without it they leave at once.
//! - **Offered = lines seen in the measurement window**: sent, or still queued when the cell
//!   ended (`unsent`, which flags the cell like any message kbench failed to send). The queue
//!   is bounded ([`MAX_QUEUED_BYTES`]): past it kbench stops reading, and what it has not read
//!   is counted in `follow_unsent_bytes` at the end, never dropped silently.
//! - The stamp goes in a record header (scenarios refuse `stamp = "value"` with `follow`), so
//!   every line arrives byte for byte.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, Producer};

use super::opaque::DeliveryTag;
use super::pacing::Schedule;
use super::partition::KbenchChooser;
use super::payload::stamp::{self, Stamp, StampClock};
use super::producer::{
    self, drain, send_retrying, Ctx, Outgoing, ProducerPlan, ProducerShared, Sent, ThreadLoad,
};
use super::recorder;
use super::tail::{self, Tail};
use super::wake::QueueWaker;
use crate::scenario::{MessageSize, Partitioner};

/// The most line bytes kbench holds waiting to be sent (a file growing faster than the rate
/// cap, or than the cluster takes): past it the file is left unread until the queue drains.
pub const MAX_QUEUED_BYTES: usize = 64 << 20;

/// `rate` as a cap on a followed file's lines: a line may leave at its time seen, but no
/// sooner than one period after the line before it was allowed to. No burst allowance, so over
/// any stretch the lines leave at most at the rate; a late wake-up loses no capacity (each
/// line's slot follows the previous line's slot, not its actual send). Pure: times in ns.
#[derive(Debug, Clone, Copy)]
pub struct RateCap {
    period_ns: Option<u64>,
    /// The earliest time the next line may leave.
    next_ns: u64,
}

impl RateCap {
    /// No cap without a rate.
    pub fn new(rate: Option<f64>) -> RateCap {
        RateCap {
            period_ns: rate
                .filter(|r| r.is_finite() && *r > 0.0)
                .map(|r| (1e9 / r).round().max(1.0) as u64),
            next_ns: 0,
        }
    }

    /// When a line seen at `seen_ns` may leave.
    pub fn ready_at(&self, seen_ns: u64) -> u64 {
        match self.period_ns {
            Some(_) => seen_ns.max(self.next_ns),
            None => seen_ns,
        }
    }

    /// The line seen at `seen_ns` leaves: the next one waits a period after its slot.
    pub fn take(&mut self, seen_ns: u64) {
        if let Some(p) = self.period_ns {
            self.next_ns = self.ready_at(seen_ns).saturating_add(p);
        }
    }
}

/// A line read from the file, waiting to be sent.
struct Queued {
    seen_ns: u64,
    line: Vec<u8>,
}

/// The followed producer's loop (`producer::run` hands over to it); returns when `stop` is set
/// (or `budget` measured lines were sent), after flushing for at most the drain timeout.
pub fn run(
    plan: ProducerPlan,
    producer: BaseProducer<Ctx>,
    shared: Arc<ProducerShared>,
    stop: Arc<AtomicBool>,
    budget: Option<u64>,
) -> Result<(), String> {
    let MessageSize::FollowLines { path, from } = &plan.spec.message_size else {
        return Err("follow::run needs a followed file".into());
    };
    let shown = path.display();
    let mut tail = Tail::open(path, *from).map_err(|m| format!("followed file {shown}: {m}"))?;
    let spec = &plan.spec;
    let clock = plan.clock;
    let schedule = Schedule::new(None, plan.start).map_err(|e| e.to_string())?;
    let tag = DeliveryTag::new(schedule, clock);
    let mut keys = plan.keys.clone();
    let mut chooser = KbenchChooser::new(&spec.partitioner, plan.index, plan.partitions, plan.seed);
    let warmup_end_ns = clock.ns(plan.warmup_end);
    let stamp_clock = if clock.is_wall() {
        StampClock::Wall
    } else {
        StampClock::Monotonic
    };
    let mut cap = RateCap::new(spec.rate);
    let mut queue: VecDeque<Queued> = VecDeque::new();
    let mut queued_bytes = 0usize;
    let mut reopens = 0u64;

    let waker = QueueWaker::new(producer.client()).map_err(|e| format!("eventfd: {e}"))?;
    if let Ok(n) = waker.notifier() {
        let _ = shared.notifier.set(n);
    }
    let recording = recorder::install(shared.clone());
    let serve = || {
        producer::serve(&producer, &waker);
    };
    let load = ThreadLoad::start();
    let mut seq: u64 = 0;
    let mut measured_sent: u64 = 0;
    let mut next_poll = Instant::now();
    let mut failure = None;
    // Measured lines given up while librdkafka's queue stayed full at the stop.
    let mut abandoned = 0u64;
    let within_budget = |sent: u64| budget.is_none_or(|b| sent < b);

    'follow: while !stop.load(Ordering::Relaxed) && within_budget(measured_sent) {
        let now = Instant::now();
        if now >= next_poll {
            let room = MAX_QUEUED_BYTES.saturating_sub(queued_bytes);
            if room > 0 {
                // Every line this poll reads was seen now.
                let seen_ns = clock.ns(now);
                let read = tail.poll(room, |line| {
                    queued_bytes += line.len();
                    queue.push_back(Queued {
                        seen_ns,
                        line: line.to_vec(),
                    });
                });
                if let Err(e) = read {
                    failure = Some(format!("followed file {shown}: cannot read: {e}"));
                    break 'follow;
                }
                if tail.reopens() > reopens {
                    let more = tail.reopens() - reopens;
                    reopens = tail.reopens();
                    recorder::with(|r| r.stats.counters.follow_reopens += more);
                }
            }
            next_poll = now + tail::POLL_INTERVAL;
        }

        // Send every queued line the cap lets go by now.
        let now_ns = clock.now_ns();
        while within_budget(measured_sent)
            && queue
                .front()
                .is_some_and(|q| cap.ready_at(q.seen_ns) <= now_ns)
        {
            let Some(Queued { seen_ns, line }) = queue.pop_front() else {
                break;
            };
            queued_bytes -= line.len();
            cap.take(seen_ns);
            let measured = seen_ns >= warmup_end_ns;
            let stamp = Stamp {
                producer: plan.id,
                seq,
                intended_ns: seen_ns,
                clock: stamp_clock,
            }
            .encode();
            let headers = OwnedHeaders::new_with_capacity(1).insert(Header {
                key: stamp::HEADER_KEY,
                value: Some(&stamp[..]),
            });
            // Sticky means keyless batching: keys would make librdkafka hash them instead.
            let key = if spec.partitioner == Partitioner::Sticky {
                None
            } else {
                keys.next_key()
            };
            let out = Outgoing {
                topic: &plan.topic,
                payload: &line[..],
                key,
                partition: chooser.next(seq),
                opaque: tag.pack(seq, seen_ns),
                headers: Some(headers),
                in_slot: false,
            };
            // Retried while librdkafka's queue is full: the line waits (its latency shows
            // it) and the cell is flagged.
            let make_room = || producer::make_room(&producer, &waker);
            if send_retrying(&producer, None, out, measured, measured, &stop, &make_room)
                == Sent::Stopped
            {
                // The line was seen but never left: unsent, counted below.
                abandoned += u64::from(measured);
                break 'follow;
            }
            let lag = clock.now_ns().saturating_sub(seen_ns);
            recorder::with(|r| {
                r.stats.record_send(measured, line.len(), lag);
                r.sent += 1;
                r.publish_counts();
            });
            seq += 1;
            measured_sent += u64::from(measured);
            if spec.sync {
                // Synchronous producer: one line in flight, wait for its ack.
                while shared.completed.load(Ordering::Acquire) < seq
                    && !stop.load(Ordering::Relaxed)
                {
                    serve();
                    if shared.completed.load(Ordering::Acquire) < seq {
                        waker.wait(Duration::from_millis(100));
                    }
                }
            }
        }
        serve();
        // Sleep until the next poll, the next line the cap lets go, or a delivery report.
        let mut wake = next_poll;
        if let Some(q) = queue.front() {
            wake = wake.min(clock.instant(cap.ready_at(q.seen_ns)));
        }
        waker.wait(wake.saturating_duration_since(Instant::now()));
    }
    drop(waker);
    // Lines seen in the measurement window that never left are part of the offered load; with
    // a budget, the lines past it were never meant to be sent.
    if within_budget(measured_sent) {
        let queued = queue.iter().filter(|q| q.seen_ns >= warmup_end_ns).count() as u64;
        let unsent = queued + abandoned;
        recorder::with(|r| r.stats.record_unsent(unsent));
    }
    let unsent_bytes = tail.unsent_bytes();
    recorder::with(|r| {
        r.stats.counters.follow_unsent_bytes += unsent_bytes;
        r.publish_counts();
    });
    load.store(&shared);
    drain(&producer, plan.run.drain_timeout);
    drop(producer);
    drop(recording);
    match failure {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_rate_every_line_leaves_when_seen() {
        let mut cap = RateCap::new(None);
        for seen in [5, 5, 5, 7] {
            assert_eq!(cap.ready_at(seen), seen);
            cap.take(seen);
        }
    }

    #[test]
    fn a_burst_leaves_at_the_rate_and_an_idle_cap_does_not_save_up() {
        // 1000 lines/s: one per ms.
        let mut cap = RateCap::new(Some(1000.0));
        let ms = 1_000_000;
        let mut left = Vec::new();
        for _ in 0..4 {
            let at = cap.ready_at(10 * ms);
            left.push(at);
            cap.take(10 * ms);
        }
        assert_eq!(left, [10 * ms, 11 * ms, 12 * ms, 13 * ms]);
        // A line seen long after the burst leaves when seen: no credit was saved meanwhile,
        // and the next burst is spaced again.
        assert_eq!(cap.ready_at(100 * ms), 100 * ms);
        cap.take(100 * ms);
        assert_eq!(cap.ready_at(100 * ms), 101 * ms);
    }

    #[test]
    fn a_nonsense_rate_is_no_cap() {
        assert_eq!(RateCap::new(Some(0.0)).period_ns, None);
        assert_eq!(RateCap::new(Some(f64::NAN)).period_ns, None);
    }
}
