//! Sending through a topic handle made once per producer (`rd_kafka_produce`), not rdkafka's
//! `BaseProducer::send`: that one, for every message, allocates a C string of the topic's name
//! and calls the varargs `rd_kafka_producev`, in which librdkafka looks the topic up by that
//! name (a lock and string compares) and takes a reference to it. Callgrind, one producer of
//! 1 KiB at max rate: `send` cost 2.3k instructions a message, `rd_kafka_produce` in
//! librdkafka's own `rdkafka_performance` 1.0k. What is sent is the same: the payload (copied
//! with `RD_KAFKA_MSG_F_COPY`, or sent from a `value_slots` slot), the key, the partition (or
//! librdkafka's partitioner) and the opaque the delivery report hands back. Messages with
//! headers still go through `send`.

use std::ffi::{c_void, CString};

use rdkafka::bindings as rd;
use rdkafka::client::Client;
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::ClientContext;

/// librdkafka's `RD_KAFKA_PARTITION_UA` (a macro, so not in the bindings): let the
/// partitioner choose.
const UNASSIGNED: i32 = -1;

/// One topic of one producer. Drop it before the producer.
pub struct TopicHandle(*mut rd::rd_kafka_topic_t);

impl TopicHandle {
    pub fn new<C: ClientContext>(client: &Client<C>, topic: &str) -> Result<TopicHandle, String> {
        let name = CString::new(topic).map_err(|e| format!("topic {topic:?}: {e}"))?;
        // SAFETY: the client is live; a null conf takes the client's default topic
        // configuration, as `rd_kafka_producev` does when it looks the topic up by name.
        let rkt = unsafe {
            rd::rd_kafka_topic_new(client.native_ptr(), name.as_ptr(), std::ptr::null_mut())
        };
        if rkt.is_null() {
            // SAFETY: reads this thread's last librdkafka error.
            let code = RDKafkaErrorCode::from(unsafe { rd::rd_kafka_last_error() });
            return Err(format!("topic handle for {topic}: {code}"));
        }
        Ok(TopicHandle(rkt))
    }

    /// Enqueue one message with `opaque` for its delivery report. With `copy`, librdkafka
    /// copies the payload before it returns; without, it sends it from where it is, so the
    /// caller must keep `payload` unchanged and alive until the message's delivery report
    /// (`value_slots` does).
    #[inline]
    pub fn produce(
        &self,
        partition: Option<i32>,
        payload: &[u8],
        key: Option<&[u8]>,
        opaque: usize,
        copy: bool,
    ) -> Result<(), RDKafkaErrorCode> {
        let (key_ptr, key_len) = key.map_or((std::ptr::null(), 0), |k| (k.as_ptr(), k.len()));
        let flags = if copy { rd::RD_KAFKA_MSG_F_COPY } else { 0 };
        // SAFETY: the handle is live until drop; librdkafka copies the key (a message with a
        // key gets its own allocation) and the payload with F_COPY (without it the caller's
        // contract keeps the payload alive) and only hands the opaque back, as a value.
        let r = unsafe {
            rd::rd_kafka_produce(
                self.0,
                partition.unwrap_or(UNASSIGNED),
                flags,
                payload.as_ptr() as *mut c_void,
                payload.len(),
                key_ptr.cast(),
                key_len,
                opaque as *mut c_void,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            // SAFETY: reads this thread's last librdkafka error, set by the failed call.
            Err(RDKafkaErrorCode::from(unsafe { rd::rd_kafka_last_error() }))
        }
    }
}

impl Drop for TopicHandle {
    fn drop(&mut self) {
        // SAFETY: made by rd_kafka_topic_new, released once, before the client (the
        // caller's contract).
        unsafe { rd::rd_kafka_topic_destroy(self.0) };
    }
}
