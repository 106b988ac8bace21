//! A consumer's messages in batches (librdkafka's `rd_kafka_consume_batch_queue`), one queue
//! lock and one offset store per batch instead of per message.
//!
//! Not on the consumer queue itself: rdkafka 0.39 turns librdkafka's rebalances into events
//! that `BaseConsumer::poll` hands to the context (`post_rebalance`, where a member records
//! its rebalances). A batch read of that queue would serve a rebalance inside librdkafka with
//! no callback set, which forces an unassign and records nothing. So each partition the member
//! is assigned forwards its fetched messages to a private queue ([`BatchQueue::forward`], from
//! `post_rebalance`), read here in batches; the consumer queue keeps the events (and any
//! message fetched before its partition's forward), still served by `poll`. librdkafka clears
//! a partition's forward when its fetch stops (revocation), so every assignment forwards again.

use std::ffi::CString;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rdkafka::bindings as rd;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext};

/// At most this many messages per batch: enough to amortise the call, few enough that the
/// member still answers the collector every few ms at millions of messages a second.
const BATCH: usize = 1024;

/// The private queue's address, readable from the rebalance callback; null once the queue is
/// closed, so a late callback forwards nothing to a destroyed queue.
#[derive(Debug, Default)]
pub struct ForwardTarget(AtomicPtr<rd::rd_kafka_queue_t>);

impl ForwardTarget {
    /// Forward the fetched messages of `topic`'s `partitions` (just assigned) to the batch
    /// queue. Runs on the member's thread, inside `poll`.
    pub fn forward<C: ConsumerContext>(
        &self,
        c: &BaseConsumer<C>,
        topic: &str,
        partitions: &[i32],
    ) {
        let q = self.0.load(Ordering::Acquire);
        let Ok(topic) = CString::new(topic) else {
            return;
        };
        if q.is_null() {
            return;
        }
        // SAFETY (below): `q` is live while the target is set: `close`, on this same thread,
        // clears it before destroying the queue.
        for &p in partitions {
            // SAFETY: the client lives as long as `c`. The partition handle is released at
            // once: the forward holds its own reference.
            unsafe {
                let pq =
                    rd::rd_kafka_queue_get_partition(c.client().native_ptr(), topic.as_ptr(), p);
                if !pq.is_null() {
                    rd::rd_kafka_queue_forward(pq, q);
                    rd::rd_kafka_queue_destroy(pq);
                }
            }
        }
    }
}

/// One fetched message, valid for the duration of the batch's visit.
pub struct RawMessage<'a>(&'a rd::rd_kafka_message_t);

impl RawMessage<'_> {
    pub fn partition(&self) -> i32 {
        self.0.partition
    }

    pub fn offset(&self) -> i64 {
        self.0.offset
    }

    pub fn is_error(&self) -> bool {
        self.0.err != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
    }

    pub fn payload(&self) -> Option<&[u8]> {
        if self.0.payload.is_null() {
            return None;
        }
        // SAFETY: librdkafka's payload is `len` bytes, alive until the message is destroyed.
        Some(unsafe { std::slice::from_raw_parts(self.0.payload.cast::<u8>(), self.0.len) })
    }

    /// The value of the message's first header named `key`.
    pub fn header(&self, key: &std::ffi::CStr) -> Option<&[u8]> {
        let mut hdrs: *mut rd::rd_kafka_headers_t = std::ptr::null_mut();
        let mut value: *const std::ffi::c_void = std::ptr::null();
        let mut size: usize = 0;
        // SAFETY: the headers belong to the message and live as long as it; a missing
        // header list or key is an error code, checked.
        unsafe {
            let ptr = (self.0 as *const rd::rd_kafka_message_t).cast_mut();
            if rd::rd_kafka_message_headers(ptr, &mut hdrs)
                != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                || rd::rd_kafka_header_get(hdrs, 0, key.as_ptr(), &mut value, &mut size)
                    != rd::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR
                || value.is_null()
            {
                return None;
            }
            Some(std::slice::from_raw_parts(value.cast::<u8>(), size))
        }
    }
}

/// The member's private queue. Create it before the first `poll` (no assignment can come
/// earlier), close it before the consumer.
pub struct BatchQueue {
    queue: *mut rd::rd_kafka_queue_t,
    /// The consumer queue (events), for its length.
    events: *mut rd::rd_kafka_queue_t,
    target: Arc<ForwardTarget>,
    buf: Vec<*mut rd::rd_kafka_message_t>,
}

impl BatchQueue {
    /// A new queue of `c`'s, published in `target` for the rebalance callback. When the
    /// consumer queue gets an event, the batch read returns early so `poll` serves it.
    pub fn new<C: ConsumerContext>(
        c: &mut BaseConsumer<C>,
        target: Arc<ForwardTarget>,
    ) -> BatchQueue {
        // SAFETY: the client pointer is valid while `c` lives; the queue is destroyed in
        // `close`/`drop`, before the consumer (the caller's contract).
        let (queue, events) = unsafe {
            let rk = c.client().native_ptr();
            (
                rd::rd_kafka_queue_new(rk),
                rd::rd_kafka_queue_get_consumer(rk),
            )
        };
        target.0.store(queue, Ordering::Release);
        let wake = QueuePtr(queue);
        c.set_nonempty_callback(move || {
            let q = &wake;
            // SAFETY: the callback is replaced (under the consumer queue's lock) before the
            // queue is destroyed, so `q.0` is live whenever it runs.
            unsafe { rd::rd_kafka_queue_yield(q.0) }
        });
        BatchQueue {
            queue,
            events,
            target,
            buf: vec![std::ptr::null_mut(); BATCH],
        }
    }

    /// Wait up to `timeout` for a message, then visit it and every message already queued
    /// behind it (at most [`BATCH`]); returns how many came. Returns early when the consumer
    /// queue has an event to serve.
    ///
    /// `rd_kafka_consume_batch_queue` itself waits until the batch is full or its timeout has
    /// passed, so at a low rate it would hold every message for the whole timeout (an
    /// end-to-end p50 of 12.5 ms against 3 ms, one message in flight). So the wait is for the
    /// first message alone (`rd_kafka_consume_queue`), and the batch call only takes what is
    /// there (timeout 0): one extra call per batch, nothing held back.
    pub fn consume(&mut self, timeout: Duration, mut visit: impl FnMut(&RawMessage<'_>)) -> usize {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: the queue is live until `close`/`drop`; a null result is no message.
        let first = unsafe { rd::rd_kafka_consume_queue(self.queue, ms) };
        if first.is_null() {
            return 0;
        }
        self.buf[0] = first;
        // SAFETY: `buf[1..]` has room for BATCH - 1 pointers; librdkafka fills at most that.
        let rest = unsafe {
            rd::rd_kafka_consume_batch_queue(self.queue, 0, self.buf[1..].as_mut_ptr(), BATCH - 1)
        };
        let n = 1 + rest.max(0) as usize;
        for &m in &self.buf[..n] {
            // SAFETY: each returned message is valid until destroyed, which happens right
            // after its visit; the reference does not outlive it.
            unsafe {
                visit(&RawMessage(&*m));
                rd::rd_kafka_message_destroy(m);
            }
        }
        n
    }

    /// Events (or early messages) waiting on the consumer queue for `poll`.
    pub fn events_pending(&self) -> bool {
        // SAFETY: `events` is a reference of our own, released in `close`; null (no group)
        // has no events.
        !self.events.is_null() && unsafe { rd::rd_kafka_queue_length(self.events) } > 0
    }

    /// Stop forwarding and wake-ups, destroy the queue (messages still in it are dropped).
    /// Call it before the consumer closes.
    pub fn close<C: ConsumerContext>(mut self, c: &mut BaseConsumer<C>) {
        // Replacing the callback takes the consumer queue's lock, under which librdkafka
        // calls it: once replaced, no call of the old one can still be running.
        c.set_nonempty_callback(|| {});
        self.target.0.store(std::ptr::null_mut(), Ordering::Release);
        let queue = std::mem::replace(&mut self.queue, std::ptr::null_mut());
        // SAFETY: the queue came from rd_kafka_queue_new and is destroyed once; partitions
        // still forwarding to it hold their own references (librdkafka frees it after them).
        unsafe {
            rd::rd_kafka_queue_destroy(queue);
            if !self.events.is_null() {
                rd::rd_kafka_queue_destroy(self.events);
            }
        }
        self.events = std::ptr::null_mut();
    }
}

impl Drop for BatchQueue {
    /// Without `close` (a panic on the way) the queue is leaked, never destroyed under the
    /// wake-up callback's feet.
    fn drop(&mut self) {
        self.target.0.store(std::ptr::null_mut(), Ordering::Release);
    }
}

/// A queue pointer the wake-up callback may carry across threads: librdkafka's queue
/// handles are thread-safe.
struct QueuePtr(*mut rd::rd_kafka_queue_t);
unsafe impl Send for QueuePtr {}
unsafe impl Sync for QueuePtr {}
