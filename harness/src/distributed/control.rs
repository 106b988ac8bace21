//! The control topic's client: one producer, and one consumer reading the topic's single
//! partition from the beginning on a thread of its own into an inbox the runner waits on.
//! Shard 0's reader answers clock probes at once (the answer's times are taken there, so the
//! runner's own pace does not widen the bound).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Message as _, Offset, TopicPartitionList};

use super::clock::wall_ns;
use super::protocol::Message;
use crate::cluster::Access;

/// How long sending one control message may take before it is an error.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// A control message as received, with this shard's wall-clock time (skew applied) of its
/// arrival.
#[derive(Debug, Clone)]
pub struct Received {
    pub message: Message,
    pub at_ns: i64,
}

#[derive(Default)]
struct Inbox {
    log: Mutex<Vec<Received>>,
    arrived: Condvar,
}

pub struct Control {
    producer: Arc<ThreadedProducer<DefaultProducerContext>>,
    topic: String,
    inbox: Arc<Inbox>,
    stop: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    skew_ns: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control topic {topic}: {what}: {source}")]
    Kafka {
        topic: String,
        what: &'static str,
        source: rdkafka::error::KafkaError,
    },
}

impl Control {
    /// Connect to `topic` (which must exist) as shard `shard`; `leader` answers clock probes.
    /// `skew_ns` shifts this shard's wall clock (tests only; 0 otherwise).
    pub fn open(
        access: &Access,
        topic: &str,
        shard: u16,
        leader: bool,
        skew_ns: i64,
    ) -> Result<Control, ControlError> {
        let err = |what| {
            let topic = topic.to_string();
            move |source| ControlError::Kafka {
                topic,
                what,
                source,
            }
        };
        // Small and immediate: a control message waits for no batch.
        let producer: ThreadedProducer<DefaultProducerContext> = access
            .config()
            .set("linger.ms", "0")
            .set("acks", "all")
            .set("log_level", "3")
            .create()
            .map_err(err("creating its producer"))?;
        let consumer: BaseConsumer = access
            .config()
            .set("group.id", format!("{topic}-reader-{shard}"))
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .set("log_level", "3")
            .create()
            .map_err(err("creating its consumer"))?;
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(topic, 0, Offset::Beginning)
            .map_err(err("assigning partition 0"))?;
        consumer
            .assign(&tpl)
            .map_err(err("assigning partition 0"))?;
        let producer = Arc::new(producer);
        let inbox = Arc::new(Inbox::default());
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (producer, inbox, stop, topic) = (
                producer.clone(),
                inbox.clone(),
                stop.clone(),
                topic.to_string(),
            );
            std::thread::Builder::new()
                .name("kb-control".into())
                .spawn(move || read(consumer, producer, &topic, leader, skew_ns, &inbox, &stop))
                .ok()
        };
        Ok(Control {
            producer,
            topic: topic.to_string(),
            inbox,
            stop,
            reader,
            skew_ns,
        })
    }

    /// Send `m` and wait until the cluster has it.
    pub fn send(&self, m: &Message) -> Result<(), ControlError> {
        send(&self.producer, &self.topic, m)
    }

    /// This shard's wall clock (skew applied), ns since the Unix epoch.
    pub fn wall_ns(&self) -> i64 {
        wall_ns(self.skew_ns)
    }

    /// Wait until `f` finds what it looks for in everything received so far, or `deadline`.
    pub fn wait_for<T>(
        &self,
        deadline: Instant,
        mut f: impl FnMut(&[Received]) -> Option<T>,
    ) -> Option<T> {
        let mut log = self.inbox.log.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(t) = f(&log) {
                return Some(t);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            log = self
                .inbox
                .arrived
                .wait_timeout(log, left.min(Duration::from_millis(100)))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Look at everything received so far, without waiting.
    pub fn peek<T>(&self, f: impl FnOnce(&[Received]) -> T) -> T {
        let log = self.inbox.log.lock().unwrap_or_else(|e| e.into_inner());
        f(&log)
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.reader.take() {
            let _ = t.join();
        }
        let _ = self.producer.flush(Duration::from_secs(2));
    }
}

fn send(
    producer: &ThreadedProducer<DefaultProducerContext>,
    topic: &str,
    m: &Message,
) -> Result<(), ControlError> {
    let bytes = m.encode();
    let err = |what| {
        move |source| ControlError::Kafka {
            topic: topic.to_string(),
            what,
            source,
        }
    };
    producer
        .send(BaseRecord::<(), [u8]>::to(topic).payload(&bytes[..]))
        .map_err(|(e, _)| e)
        .map_err(err("sending a message"))?;
    // Not `flush`: on a ThreadedProducer it polls the main queue in 100 ms steps while the
    // producer's own thread takes the delivery event, so every control message (a clock
    // probe's answer among them) held its sender about 100 ms. The queue's length drops to
    // zero once the delivery report is served.
    let deadline = Instant::now() + SEND_TIMEOUT;
    while producer.in_flight_count() > 0 {
        if Instant::now() >= deadline {
            return Err(err("flushing a message")(KafkaError::Flush(
                RDKafkaErrorCode::OperationTimedOut,
            )));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// The reader thread: every record into the inbox; shard 0 answers probes first.
fn read(
    consumer: BaseConsumer,
    producer: Arc<ThreadedProducer<DefaultProducerContext>>,
    topic: &str,
    leader: bool,
    skew_ns: i64,
    inbox: &Inbox,
    stop: &AtomicBool,
) {
    while !stop.load(Ordering::Relaxed) {
        let Some(Ok(record)) = consumer.poll(Duration::from_millis(20)) else {
            continue;
        };
        let at_ns = wall_ns(skew_ns);
        let Some(message) = record.payload().and_then(Message::decode) else {
            continue;
        };
        if let (true, Message::Ping { shard, seq, t0 }) = (leader, &message) {
            let pong = Message::Pong {
                shard: *shard,
                seq: *seq,
                t0: *t0,
                t1: at_ns,
                t2: wall_ns(skew_ns),
            };
            // A lost answer only costs one probe: the prober sends several.
            let _ = send(&producer, topic, &pong);
        }
        let mut log = inbox.log.lock().unwrap_or_else(|e| e.into_inner());
        log.push(Received { message, at_ns });
        inbox.arrived.notify_all();
    }
}
