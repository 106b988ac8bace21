//! The librdkafka kbench links carries one patch (vendor/README.md): an idempotent producer's
//! broker threads no longer busy-poll while a partition waits for its in-flight
//! ProduceRequest. Proven against the real cluster with librdkafka's own statistics: at max
//! rate with idempotence, the published librdkafka 2.12.1 turns its broker-thread loop about
//! 30 times per message sent (13 million turns for 417,040 messages in the profiled cell);
//! with the patch it turns well under once per message (14,902 for 930,964). Dropping the
//! patch (say, by moving to an unpatched rdkafka-sys) fails this test.

mod common;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::statistics::Statistics;
use rdkafka::ClientContext;

/// Keeps librdkafka's latest statistics.
#[derive(Default)]
struct LatestStats(Mutex<Option<Statistics>>);

impl ClientContext for LatestStats {
    fn stats(&self, statistics: Statistics) {
        *self.0.lock().unwrap() = Some(statistics);
    }
}

impl rdkafka::producer::ProducerContext for LatestStats {
    type DeliveryOpaque = ();
    fn delivery(&self, _: &rdkafka::message::DeliveryResult<'_>, _: ()) {}
}

#[test]
fn an_idempotent_producer_at_max_rate_does_not_busy_poll() {
    let bootstrap = common::require_cluster!();
    // Replicated on the suite's three brokers, as the cell librdkafka spun in.
    let (admin, topic) = common::new_topic(&bootstrap, "busy-poll", 6, 3);

    // The versus pipeline's producer (1 KiB values, acks=all with idempotence, linger 1 ms,
    // 128 KiB batches, kbench's queue settings at max rate), offering more than the cluster
    // takes (its queue fills: asserted below), so full batches wait behind the one in flight,
    // which is when the published librdkafka spins.
    let producer: BaseProducer<LatestStats> = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "1")
        .set("batch.size", "131072")
        .set("queue.buffering.max.kbytes", "32768")
        .set("queue.buffering.max.messages", "1000000")
        .set("max.in.flight.requests.per.connection", "5")
        .set("compression.type", "none")
        .set("statistics.interval.ms", "500")
        .create_with_context(LatestStats::default())
        .expect("producer");
    let value = vec![b'x'; 1024];
    let mut queue_full = 0u64;
    let end = Instant::now() + Duration::from_secs(4);
    while Instant::now() < end {
        match producer.send(BaseRecord::<(), [u8]>::to(&topic).payload(&value[..])) {
            Ok(()) => {}
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                queue_full += 1;
                producer.poll(Duration::from_millis(1));
            }
            Err((e, _)) => panic!("send: {e}"),
        }
        producer.poll(Duration::ZERO);
    }
    // Read the statistics while the queue is still full, before a flush changes the pattern.
    let until = Instant::now() + Duration::from_millis(1200);
    *producer.context().0.lock().unwrap() = None;
    while Instant::now() < until && producer.context().0.lock().unwrap().is_none() {
        producer.poll(Duration::from_millis(50));
    }
    let stats = producer
        .context()
        .0
        .lock()
        .unwrap()
        .take()
        .expect("librdkafka statistics every 500 ms");
    producer.purge(rdkafka::producer::PurgeConfig::default().queue().inflight());
    let _ = producer.flush(Duration::from_secs(10));
    drop(producer);
    let _ = admin.delete_topics(&[&topic], Duration::from_secs(20));

    // The cluster's brokers only (node id >= 0), not the bootstrap entries.
    let wakeups: u64 = stats
        .brokers
        .values()
        .filter(|b| b.nodeid >= 0)
        .map(|b| b.wakeups.unwrap_or(0))
        .sum();
    let sent = stats.txmsgs.max(0) as u64;
    eprintln!(
        "{wakeups} broker-thread wakeups for {sent} messages sent; queue full {queue_full} times"
    );
    assert!(
        sent >= 2_000 && queue_full > 0,
        "the producer never got ahead of the cluster ({sent} messages sent, queue full \
         {queue_full} times): the test means nothing"
    );
    assert!(
        wakeups < sent,
        "broker threads turned {wakeups} times for {sent} messages sent: librdkafka's \
         idempotent producer busy-polls again (is vendor/patches applied?)"
    );
}
