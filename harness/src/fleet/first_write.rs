//! The first write to a topic that does not exist yet (`[topic] create = "auto"`): one
//! message, and how long it took to be acknowledged. With `auto.create.topics.enable` the
//! broker makes the topic when the producer asks for its metadata, so this time is what a
//! program that writes before creating pays once: the creation, the leader election and the
//! producer's metadata retries.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientContext;

use crate::cluster::Access;

/// The probe's value: any consumer of the topic can tell it apart from kbench's stamped load.
pub const PROBE_VALUE: &[u8] = b"kbench: first write (topic auto-creation probe)";

/// Keeps the one delivery report.
struct Report(Mutex<Option<Result<(), String>>>);

impl ClientContext for Report {}

impl ProducerContext for Report {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        let r = result.as_ref().map(|_| ()).map_err(|(e, _)| e.to_string());
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some(r);
        }
    }
}

/// Send one message to `topic` and wait for its ack, at most `timeout`. Returns the time from
/// the send to the ack. `extra` are the scenario's producer pass-through properties (security
/// and the like apply to the probe too). kbench's own producer settings do not: a single
/// message with acks=all, so the ack means the topic is there and writable.
pub fn first_write(
    access: &Access,
    extra: &std::collections::BTreeMap<String, String>,
    topic: &str,
    timeout: Duration,
) -> Result<Duration, String> {
    let mut c = access.config();
    Access::apply_extra(&mut c, extra);
    c.set("acks", "all")
        // librdkafka's producer default; said here because this probe exists for it.
        .set("allow.auto.create.topics", "true")
        .set("message.timeout.ms", timeout.as_millis().max(1).to_string())
        .set("log_level", "3");
    let producer: BaseProducer<Report> = c
        .create_with_context(Report(Mutex::new(None)))
        .map_err(|e| format!("creating the first-write producer: {e}"))?;
    let started = Instant::now();
    producer
        .send(BaseRecord::<(), [u8], ()>::to(topic).payload(PROBE_VALUE))
        .map_err(|(e, _)| format!("first write to {topic}: {e}"))?;
    // The report comes within message.timeout.ms; the margin covers the poll granularity.
    let deadline = started + timeout + Duration::from_secs(2);
    loop {
        producer.poll(Duration::from_millis(5));
        let report = producer.context().0.lock().ok().and_then(|mut s| s.take());
        match report {
            Some(Ok(())) => return Ok(started.elapsed()),
            Some(Err(e)) => return Err(format!("first write to {topic} failed: {e}")),
            None if Instant::now() >= deadline => {
                return Err(format!(
                    "first write to {topic}: no ack within {:.0} s",
                    timeout.as_secs_f64()
                ))
            }
            None => {}
        }
    }
}
