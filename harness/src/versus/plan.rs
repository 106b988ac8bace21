//! The matrix of `kbench versus`: which comparisons run, with which settings, for how long.
//! Pure: the same plan drives both tools, so the settings cannot drift apart.

use std::time::Duration;

use serde::Serialize;

use crate::scenario::Acks;

/// What one comparison measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Max-rate produce throughput (acked messages/s): kbench vs ProducerPerformance.
    Produce,
    /// CPU seconds per million messages of the load generator at a fixed rate: kbench (as a
    /// child process) vs ProducerPerformance.
    Cpu,
    /// Consume throughput of a pre-filled topic: kbench consumer vs ConsumerPerformance.
    Consume,
    /// End-to-end latency at a low rate: kbench sync producer + consumer vs EndToEndLatency.
    E2e,
    /// A producer and a consumer group together at max rate, as a real cell runs them: kbench
    /// (one process) vs ProducerPerformance and ConsumerPerformance running concurrently (two
    /// JVMs), whole-process CPU per message and throughput over the same steady-state window.
    Pipeline,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Produce,
        Kind::Cpu,
        Kind::Consume,
        Kind::E2e,
        Kind::Pipeline,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Produce => "produce",
            Kind::Cpu => "cpu",
            Kind::Consume => "consume",
            Kind::E2e => "e2e",
            Kind::Pipeline => "pipeline",
        }
    }

    pub fn parse(s: &str) -> Result<Kind, String> {
        Kind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("expected one of produce, cpu, consume, e2e, pipeline; got {s:?}")
            })
    }

    /// The tools kbench runs beside, in each pair: Kafka's own, and for throughput also
    /// librdkafka's `rdkafka_performance` (the floor: the library kbench is built on). Not
    /// at a fixed rate: rdkafka_performance paces by busy-waiting.
    pub fn tools(self) -> &'static [&'static str] {
        match self {
            Kind::Produce => &["ProducerPerformance", super::librdkafka::RDKAFKA_PERF],
            Kind::Consume => &["ConsumerPerformance", super::librdkafka::RDKAFKA_PERF],
            Kind::Cpu => &["ProducerPerformance"],
            Kind::E2e => &["EndToEndLatency"],
            Kind::Pipeline => &[PIPELINE_JAVA],
        }
    }

    /// Kafka's tool on the other side.
    pub fn java_tool(self) -> &'static str {
        match self {
            Kind::Produce | Kind::Cpu => "ProducerPerformance",
            Kind::Consume => "ConsumerPerformance",
            Kind::E2e => "EndToEndLatency",
            Kind::Pipeline => PIPELINE_JAVA,
        }
    }
}

/// The Java side of the pipeline comparison: Kafka's two perf tools, run concurrently.
pub const PIPELINE_JAVA: &str = "ProducerPerformance+ConsumerPerformance";

/// Settings both tools get, stated in the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Short, file-safe: `produce-4x1024B-acks-all`.
    pub id: String,
    pub kind: Kind,
    pub record_size: usize,
    pub acks: Acks,
    pub partitions: i32,
    /// Producer clients (processes for ProducerPerformance, producers of one kbench fleet).
    pub producers: usize,
    pub linger_ms: u32,
    pub batch_size: usize,
    /// Fixed total rate (messages/s); `None` = as fast as possible.
    pub rate: Option<u32>,
    /// kbench's warm-up; the Java tools get the same share of records as warm-up where they
    /// have the option (ProducerPerformance `--warmup-records`).
    pub warmup: Duration,
    /// How long kbench measures (produce, cpu) or, for consume, how long the pre-fill runs.
    pub duration: Duration,
    /// E2E: messages each tool sends (EndToEndLatency `num_records`).
    pub messages: u64,
    /// The producer runs with `enable.idempotence` (the pipeline comparison; acks must be all).
    pub idempotence: bool,
    /// CPU: skip this long after the child starts, then measure CPU for `cpu_window`.
    pub cpu_skip: Duration,
    pub cpu_window: Duration,
}

impl Comparison {
    /// The settings line printed with every comparison.
    pub fn settings(&self) -> String {
        let rate = match self.rate {
            Some(r) => format!("{r} msg/s"),
            None => "max rate".into(),
        };
        match self.kind {
            Kind::Produce | Kind::Cpu => format!(
                "{} B records, acks={}, {} partitions, {} producer(s), linger.ms={}, batch.size={}, compression none, {rate}",
                self.record_size,
                self.acks.as_config(),
                self.partitions,
                self.producers,
                self.linger_ms,
                self.batch_size
            ),
            Kind::Consume => format!(
                "{} B records (kbench's stamp in the first 28 B, same topic for both), {} partitions, one consumer, from earliest",
                self.record_size, self.partitions
            ),
            Kind::Pipeline => format!(
                "{} B records, acks={}, idempotence, {} partitions, one producer and one consumer group of one at max rate, linger.ms={}, batch.size={}, compression none; CPU and records over the same window of each tool's steady state",
                self.record_size,
                self.acks.as_config(),
                self.partitions,
                self.linger_ms,
                self.batch_size
            ),
            Kind::E2e => format!(
                "{} B records, acks={}, {} partition, linger.ms=0, one message in flight (kbench: sync mode for {} s; EndToEndLatency: {} messages)",
                self.record_size,
                self.acks.as_config(),
                self.partitions,
                self.duration.as_secs(),
                self.messages
            ),
        }
    }
}

/// The whole matrix and how often each comparison runs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub comparisons: Vec<Comparison>,
    /// Each comparison runs this many (kbench, Kafka tool) pairs; pairs are the outer loop so
    /// drift over the run hits every comparison alike, and the order inside a pair alternates.
    pub pairs: u32,
    pub replication_factor: i32,
    pub quick: bool,
}

/// Fixed producer settings for both tools (Kafka 4's Java defaults are linger.ms=5 and
/// batch.size=16384; librdkafka's linger is 5 ms too; kbench's scenarios default to 64 KiB).
pub const LINGER_MS: u32 = 5;
pub const BATCH_SIZE: usize = 65536;
pub const PARTITIONS: i32 = 6;
/// The CPU comparison's default fixed rate (`--cpu-rate`) and record size: issue 12's
/// 20,000 msg/s of 100 B.
pub const CPU_RATE: u32 = 20_000;
pub const CPU_RECORD: usize = 100;

impl Plan {
    /// The default matrix (about 10 minutes on a 2-core host) or the `--quick` one (under a
    /// minute: one comparison of each kind, short runs).
    pub fn new(quick: bool, pairs: u32, brokers: usize, only: &[Kind], cpu_rate: u32) -> Plan {
        let rf = brokers.clamp(1, 3) as i32;
        let mut comparisons = Vec::new();
        let want = |k: Kind| only.is_empty() || only.contains(&k);
        let (warmup, produce_secs) = if quick { (1, 3) } else { (1, 4) };
        let base = |kind: Kind, size: usize, acks: Acks, producers: usize| Comparison {
            id: String::new(),
            kind,
            record_size: size,
            acks,
            partitions: PARTITIONS,
            producers,
            linger_ms: LINGER_MS,
            batch_size: BATCH_SIZE,
            rate: None,
            warmup: Duration::from_secs(warmup),
            duration: Duration::from_secs(produce_secs),
            messages: 0,
            idempotence: false,
            cpu_skip: Duration::ZERO,
            cpu_window: Duration::ZERO,
        };
        if want(Kind::Produce) {
            let cells: Vec<(usize, usize, Acks)> = if quick {
                vec![(1, 1024, Acks::One)]
            } else {
                let mut v = Vec::new();
                for producers in [1, 4] {
                    for size in [100, 1024] {
                        for acks in [Acks::One, Acks::All] {
                            v.push((producers, size, acks));
                        }
                    }
                }
                v
            };
            for (producers, size, acks) in cells {
                let mut c = base(Kind::Produce, size, acks, producers);
                c.id = format!("produce-{producers}x{size}B-acks-{}", acks.as_config());
                comparisons.push(c);
            }
        }
        if want(Kind::Cpu) {
            let mut c = base(Kind::Cpu, CPU_RECORD, Acks::One, 1);
            c.rate = Some(cpu_rate);
            // The child runs warm-up + duration; CPU is read over a window inside it that
            // starts after the JVM's start-up and JIT warm-up (and kbench's topic set-up).
            if quick {
                c.warmup = Duration::from_secs(1);
                c.duration = Duration::from_secs(5);
                c.cpu_skip = Duration::from_millis(2500);
                c.cpu_window = Duration::from_secs(3);
            } else {
                c.warmup = Duration::from_secs(2);
                c.duration = Duration::from_secs(14);
                c.cpu_skip = Duration::from_secs(5);
                c.cpu_window = Duration::from_secs(8);
            }
            c.id = format!("cpu-{CPU_RECORD}B-{cpu_rate}msgs-acks-1");
            comparisons.push(c);
        }
        if want(Kind::Consume) {
            let mut c = base(Kind::Consume, 100, Acks::One, 1);
            // The pre-fill runs this long at max rate; both tools then read what it wrote.
            c.duration = Duration::from_secs(if quick { 2 } else { 8 });
            c.id = "consume-100B".into();
            comparisons.push(c);
        }
        if want(Kind::E2e) {
            let mut c = base(Kind::E2e, 1024, Acks::One, 1);
            c.partitions = 1;
            c.linger_ms = 0;
            // Both tools keep one message in flight, and send the next as soon as they may
            // (kbench: sync mode, right after the ack; EndToEndLatency: after reading it back).
            c.messages = if quick { 200 } else { 1000 };
            c.warmup = Duration::from_secs(1);
            c.duration = Duration::from_secs(if quick { 2 } else { 5 });
            c.id = "e2e-1024B-acks-1".into();
            comparisons.push(c);
        }
        if want(Kind::Pipeline) {
            // The shape issue 12 measured (1 KiB, acks=all with idempotence, linger 1 ms,
            // 128 KiB batches, one producer, one group of one): a cell's usual cost.
            let mut c = base(Kind::Pipeline, 1024, Acks::All, 1);
            c.idempotence = true;
            c.linger_ms = 1;
            c.batch_size = 131072;
            // Two JVMs start together: on a busy 2-core host the producer's first record
            // came 2.5 s after start alone and after more than 5.5 s beside the consumer, so
            // the window begins later than the CPU comparison's.
            if quick {
                c.warmup = Duration::from_secs(1);
                c.duration = Duration::from_secs(9);
                c.cpu_skip = Duration::from_secs(6);
                c.cpu_window = Duration::from_secs(3);
            } else {
                c.warmup = Duration::from_secs(2);
                c.duration = Duration::from_secs(16);
                c.cpu_skip = Duration::from_secs(8);
                c.cpu_window = Duration::from_secs(8);
            }
            c.id = "pipeline-1024B-acks-all-idempotent".into();
            comparisons.push(c);
        }
        Plan {
            comparisons,
            pairs,
            replication_factor: rf,
            quick,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_matrix_covers_sizes_acks_and_fleets() {
        let p = Plan::new(false, 3, 3, &[], CPU_RATE);
        let produce: Vec<_> = p
            .comparisons
            .iter()
            .filter(|c| c.kind == Kind::Produce)
            .collect();
        assert_eq!(produce.len(), 8);
        assert!(produce
            .iter()
            .any(|c| c.producers == 4 && c.record_size == 100 && c.acks == Acks::All));
        assert_eq!(p.comparisons.len(), 12);
        assert_eq!(p.replication_factor, 3);
        let ids: std::collections::HashSet<_> = p.comparisons.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), p.comparisons.len(), "ids are unique");
        for kind in [Kind::Cpu, Kind::Pipeline] {
            let c = p.comparisons.iter().find(|c| c.kind == kind).unwrap();
            assert!(c.cpu_skip + c.cpu_window < c.warmup + c.duration, "{c:?}");
            assert!(c.cpu_skip > c.warmup, "the window is after warm-up: {c:?}");
        }
        let pipe = p
            .comparisons
            .iter()
            .find(|c| c.kind == Kind::Pipeline)
            .unwrap();
        assert!(pipe.idempotence && pipe.acks == Acks::All && pipe.rate.is_none());
    }

    #[test]
    fn quick_has_one_of_each_and_only_filters() {
        let p = Plan::new(true, 1, 1, &[], CPU_RATE);
        assert_eq!(p.comparisons.len(), 5);
        assert_eq!(p.replication_factor, 1);
        let only = Plan::new(true, 1, 3, &[Kind::E2e], CPU_RATE);
        assert_eq!(only.comparisons.len(), 1);
        assert_eq!(only.comparisons[0].partitions, 1);
        assert_eq!(Kind::parse("cpu"), Ok(Kind::Cpu));
        assert!(Kind::parse("x").is_err());
    }
}
