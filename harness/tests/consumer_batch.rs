//! The consumer's batch reader (`fleet::batch`) hands over a message as soon as it arrives,
//! against the real cluster. librdkafka's `rd_kafka_consume_batch_queue` waits until its batch
//! is full or its timeout has passed; read that way, every message of a low-rate cell waited
//! out the member's timeout before it was timed, and kbench's end-to-end p50 in `versus` was
//! 12.5 ms against EndToEndLatency's 3 ms. Here the wait is 5 s and one message comes: it must
//! be back long before the 5 s.

mod common;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kbench::fleet::batch::{BatchQueue, ForwardTarget};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

#[test]
fn one_message_is_handed_over_without_waiting_for_a_full_batch() {
    let bootstrap = common::require_cluster!();
    let (admin, topic) = common::new_topic(&bootstrap, "batch-wait", 1, 1);

    // A consumer reading partition 0 (empty) from its start, its messages forwarded to the batch queue
    // as a member's are after an assignment.
    let mut consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("group.id", format!("{topic}-g"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(&topic, 0, Offset::Beginning)
        .expect("partition");
    consumer.assign(&tpl).expect("assign");
    let target = Arc::new(ForwardTarget::default());
    let mut batch = BatchQueue::new(&mut consumer, target.clone());
    target.forward(&consumer, &topic, &[0]);
    // Let the fetcher reach the end of the (empty) partition, then send one message.
    let _ = batch.consume(Duration::from_millis(1500), |_| {});
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .set("linger.ms", "0")
        .create()
        .expect("producer");
    producer
        .send(BaseRecord::<(), [u8]>::to(&topic).payload(&b"one"[..]))
        .map_err(|(e, _)| e)
        .expect("send");
    producer.flush(Duration::from_secs(10)).expect("flush");

    let start = Instant::now();
    let mut got = Vec::new();
    let n = batch.consume(Duration::from_secs(5), |m| {
        got.push(m.payload().map(<[u8]>::to_vec));
    });
    let waited = start.elapsed();
    batch.close(&mut consumer);
    drop(consumer);
    let _ = admin.delete_topics(&[&topic], Duration::from_secs(20));

    assert_eq!(n, 1, "one message sent, {n} handed over in {waited:?}");
    assert_eq!(got, vec![Some(b"one".to_vec())]);
    assert!(
        waited < Duration::from_millis(2500),
        "the message was handed over after {waited:?}: the batch read waited for a full \
         batch or its 5 s timeout instead of returning what had come"
    );
}
