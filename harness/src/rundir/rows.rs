//! `results.csv` (one row per cell: every parameter and metric) and `timeseries.csv` (one row
//! per interval per cell). Typed rows, so the header and the values cannot drift apart.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::fault::FaultOutcome;
use crate::metrics::cell::{CellSummary, IntervalRecord};
use crate::metrics::delivery::GroupAccount;
use crate::metrics::skew::Skew;
use crate::metrics::Percentiles;
use crate::scenario::{CellSpec, KeySpec, MessageSize};

/// One cell of `results.csv`. Latencies in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResultRow {
    pub cell: String,
    pub index: usize,
    /// 1-based repetition of the cell (`kbench run --repeat N`); 1 without repeats.
    pub repeat: u32,
    /// The swept values, `axis=value;axis=value`.
    pub params: String,
    pub topic: String,
    pub partitions: i32,
    pub replication_factor: i32,
    /// Who made the topic: `kbench` (with the scenario's shape), `broker` (auto-created by the
    /// first write, `[topic] create = "auto"`: `partitions` and `replication_factor` are then
    /// what the broker made), `existing` (`[topic] existing`).
    pub topic_created: String,
    /// `create = "auto"`: from the first write to the topic (before it existed) to its ack, ms.
    pub auto_create_first_ack_ms: Option<f64>,
    pub producers: usize,
    pub rate: String,
    pub message_size: String,
    pub keys: String,
    pub partitioner: String,
    pub acks: String,
    pub compression: String,
    pub linger_ms: f64,
    pub batch_size: usize,
    pub idempotence: bool,
    pub max_in_flight: usize,
    pub sync: bool,
    pub groups: usize,
    pub members: usize,
    pub measure_secs: f64,
    pub offered: u64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub consumed: u64,
    pub sent_per_sec: f64,
    pub acked_per_sec: f64,
    pub acked_mb_per_sec: f64,
    pub consumed_per_sec: f64,
    pub consumed_mb_per_sec: f64,
    pub publish_p50_us: u64,
    pub publish_p90_us: u64,
    pub publish_p99_us: u64,
    pub publish_p999_us: u64,
    pub publish_p9999_us: u64,
    pub publish_max_us: u64,
    pub e2e_p50_us: u64,
    pub e2e_p90_us: u64,
    pub e2e_p99_us: u64,
    pub e2e_p999_us: u64,
    pub e2e_p9999_us: u64,
    pub e2e_max_us: u64,
    /// Acked messages not consumed by some group when the cell ended (worst group).
    pub consumer_lag: u64,
    pub idle_members: usize,
    /// Delivery accounting, worst group, every message of the cell (warm-up included):
    /// acked but never consumed; written twice; out of order within a partition; read again
    /// after a rebalance (not a cluster fault).
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub redelivered: u64,
    /// Faults (`[[fault]]`) that ran in this cell; details in `cells/<id>/faults.json`.
    pub faults: usize,
    /// Longest stretch without any ack after a fault started (worst fault), ms.
    pub fault_unavailable_ms: Option<u64>,
    /// From the first fault's start to the first failed delivery, ms (empty: no error).
    pub fault_first_error_ms: Option<u64>,
    /// From a fault's start until throughput was back at 90 % (worst fault), ms; empty when
    /// it never recovered within the measurement.
    pub fault_recover_ms: Option<u64>,
    pub queue_full: u64,
    pub late_sends: u64,
    /// Due in the measurement window but never sent (counted in `offered`).
    pub unsent: u64,
    pub max_send_lag_us: u64,
    /// kbench's CPU over the measurement window, in cores (1.0 = one core busy).
    pub kbench_cpu_cores: f64,
    /// The busiest producer send thread's CPU time over its wall time (0..1).
    pub busiest_producer_thread: f64,
    /// Of that, the share it waited in the run queue for a CPU the host gave to others.
    pub busiest_producer_wait: f64,
    /// The whole host's busy fraction over the window (0..1; brokers included when local).
    pub host_cpu_busy: f64,
    /// `kind=count;...`
    pub errors: String,
    /// Measured messages acked per partition, `p0;p1;...`.
    pub acked_per_partition: String,
    /// Measured messages consumed per partition, summed over groups, `p0;p1;...`.
    pub consumed_per_partition: String,
    /// Partition skew of the acks: the busiest partition over the mean (1 = even), and the
    /// coefficient of variation; 0 when nothing was acked.
    pub acked_skew_max_mean: f64,
    pub acked_skew_cv: f64,
    /// The same for consumption.
    pub consumed_skew_max_mean: f64,
    pub consumed_skew_cv: f64,
    /// Empty when the cell is valid; else flag names, `;`-separated.
    pub flags: String,
    /// A distributed run's shard: the bound on the error the shards' clock offsets add to a
    /// cross-shard end-to-end latency, us (above 10 ms the cell is flagged `clock-bound`);
    /// empty in one process, where producers and consumers share one clock.
    #[serde(default)]
    pub e2e_clock_bound_us: Option<u64>,
    /// A distributed run's shard: the shards lost during the cell (`shard-lost`),
    /// `;`-separated; empty otherwise.
    #[serde(default)]
    pub shards_lost: String,
    /// Transactions: `[producers] transaction_messages` (0 = none) and `transaction_abort`,
    /// and `[consumers] isolation`.
    #[serde(default)]
    pub transaction_messages: u64,
    #[serde(default)]
    pub transaction_abort: f64,
    #[serde(default)]
    pub isolation: String,
    /// Transactions with measured messages: committed, aborted (on purpose or after a failed
    /// commit), of those aborted because the commit failed; rates over the measurement window.
    #[serde(default)]
    pub tx_committed: u64,
    #[serde(default)]
    pub tx_aborted: u64,
    #[serde(default)]
    pub tx_failed: u64,
    #[serde(default)]
    pub tx_committed_per_sec: f64,
    #[serde(default)]
    pub tx_aborted_per_sec: f64,
    /// Duration of the `commit_transaction` call (flush of the transaction's outstanding
    /// messages, then the commit), us.
    #[serde(default)]
    pub commit_p50_us: u64,
    #[serde(default)]
    pub commit_p99_us: u64,
    #[serde(default)]
    pub commit_max_us: u64,
    /// Measured messages in aborted transactions (they are in `acked`: written, then aborted).
    #[serde(default)]
    pub aborted_messages: u64,
    /// Messages of aborted transactions some group read (worst group, warm-up included): a
    /// defect when `isolation` is read_committed.
    #[serde(default)]
    pub aborted_seen: u64,
    /// A followed file (`{ file = ..., follow = true }`): times it was truncated or replaced
    /// (rotated) and read again from its start; 0 otherwise.
    #[serde(default)]
    pub follow_reopens: u64,
    /// A followed file: bytes of it never sent as lines (the unterminated or unread rest when
    /// the cell ended, a fragment cut by a truncation, a line over the size limit); 0 otherwise.
    #[serde(default)]
    pub follow_unsent_bytes: u64,
    /// `[consumers] assignor` and `group_protocol` (empty in files from before them).
    #[serde(default)]
    pub assignor: String,
    #[serde(default)]
    pub group_protocol: String,
    /// The most rebalances one member took part in during the load (any group).
    #[serde(default)]
    pub rebalances: usize,
    /// Partition pauses during the load (each revoked partition, revocation to its next
    /// assignment: `metrics::rebalance`): how many, their median and maximum, ms.
    #[serde(default)]
    pub rebalance_pauses: usize,
    #[serde(default)]
    pub rebalance_pause_median_ms: Option<f64>,
    #[serde(default)]
    pub rebalance_pause_max_ms: Option<f64>,
    /// The longest time from a member's join to its first assignment, ms (every member, the
    /// ones that formed the groups before the load included).
    #[serde(default)]
    pub first_assignment_max_ms: Option<f64>,
}

/// What the runner knows about a cell beyond its metrics.
pub struct CellFacts<'a> {
    pub topic: &'a str,
    pub partitions: i32,
    pub replication_factor: i32,
    pub repeat: u32,
    pub consumer_lag: u64,
    pub idle_members: usize,
    pub delivery: GroupAccount,
    pub faults: &'a [FaultOutcome],
    pub origin: TopicOrigin,
    pub rebalance: &'a crate::fleet::RebalanceReport,
}

/// Who made a cell's topic (the `topic_created` column).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum TopicOrigin {
    /// Created by kbench with the scenario's shape.
    #[default]
    Kbench,
    /// Made by the broker on the first write; the time from that write to its ack.
    Broker { first_ack: std::time::Duration },
    /// `[topic] existing`: someone else's.
    Existing,
}

impl TopicOrigin {
    pub fn name(self) -> &'static str {
        match self {
            TopicOrigin::Kbench => "kbench",
            TopicOrigin::Broker { .. } => "broker",
            TopicOrigin::Existing => "existing",
        }
    }
}

fn size_text(s: &MessageSize) -> String {
    match s {
        MessageSize::Fixed(n) => n.to_string(),
        MessageSize::Uniform { min, max } => format!("{min}..{max}"),
        MessageSize::FileLines(p) => format!("file:{}", p.display()),
        MessageSize::FollowLines { path, from } => {
            format!("follow-{}:{}", from.name(), path.display())
        }
    }
}

fn keys_text(k: &KeySpec) -> String {
    match k {
        KeySpec::None => "none".into(),
        KeySpec::Fixed(s) => format!("fixed:{s}"),
        KeySpec::Uniform { count } => format!("uniform:{count}"),
        KeySpec::Zipf { count, exponent } => format!("zipf:{count}:{exponent}"),
    }
}

fn join<T: ToString>(v: &[T]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

impl ResultRow {
    pub fn new(cell: &CellSpec, s: &CellSummary, facts: &CellFacts) -> ResultRow {
        let p = &cell.producers;
        let (pb, e2e): (&Percentiles, &Percentiles) = (&s.publish, &s.e2e);
        ResultRow {
            cell: cell.id.clone(),
            index: cell.index,
            repeat: facts.repeat,
            params: cell
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";"),
            topic: facts.topic.to_string(),
            partitions: facts.partitions,
            replication_factor: facts.replication_factor,
            topic_created: facts.origin.name().to_string(),
            auto_create_first_ack_ms: match facts.origin {
                TopicOrigin::Broker { first_ack } => Some(round3(first_ack.as_secs_f64() * 1e3)),
                _ => None,
            },
            producers: p.count,
            rate: p
                .rate
                .map(|r| r.to_string())
                .unwrap_or_else(|| "max".into()),
            message_size: size_text(&p.message_size),
            keys: keys_text(&p.keys),
            partitioner: p.partitioner.to_string(),
            acks: p.acks.as_config().to_string(),
            compression: p.compression.clone(),
            linger_ms: p.linger_ms,
            batch_size: p.batch_size,
            idempotence: p.idempotence,
            max_in_flight: p.max_in_flight,
            sync: p.sync,
            groups: cell.consumers.groups,
            members: cell.consumers.members,
            measure_secs: round3(s.measure_secs),
            offered: s.offered,
            sent: s.sent,
            acked: s.acked,
            failed: s.failed,
            consumed: s.consumed,
            sent_per_sec: round3(s.sent_per_sec),
            acked_per_sec: round3(s.acked_per_sec),
            acked_mb_per_sec: round3(s.acked_mb_per_sec),
            consumed_per_sec: round3(s.consumed_per_sec),
            consumed_mb_per_sec: round3(s.consumed_mb_per_sec),
            publish_p50_us: pb.p50,
            publish_p90_us: pb.p90,
            publish_p99_us: pb.p99,
            publish_p999_us: pb.p999,
            publish_p9999_us: pb.p9999,
            publish_max_us: pb.max,
            e2e_p50_us: e2e.p50,
            e2e_p90_us: e2e.p90,
            e2e_p99_us: e2e.p99,
            e2e_p999_us: e2e.p999,
            e2e_p9999_us: e2e.p9999,
            e2e_max_us: e2e.max,
            consumer_lag: facts.consumer_lag,
            idle_members: facts.idle_members,
            lost: facts.delivery.lost,
            duplicated: facts.delivery.duplicated,
            reordered: facts.delivery.reordered,
            redelivered: facts.delivery.redelivered,
            faults: facts.faults.iter().filter(|f| f.impact.is_some()).count(),
            fault_unavailable_ms: facts
                .faults
                .iter()
                .filter_map(|f| f.impact.as_ref())
                .map(|i| i.unavailable.as_millis() as u64)
                .max(),
            fault_first_error_ms: facts
                .faults
                .iter()
                .find_map(|f| f.impact.as_ref())
                .and_then(|i| i.time_to_first_error)
                .map(|d| d.as_millis() as u64),
            fault_recover_ms: worst_recovery(facts.faults),
            queue_full: s.queue_full,
            late_sends: s.late_sends,
            unsent: s.unsent,
            max_send_lag_us: s.max_send_lag_us,
            kbench_cpu_cores: round3(s.cpu.process_cores),
            busiest_producer_thread: round3(s.busiest_producer),
            busiest_producer_wait: round3(s.busiest_producer_wait),
            host_cpu_busy: round3(s.cpu.host_busy.unwrap_or(0.0)),
            errors: s
                .errors
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(";"),
            acked_per_partition: join(&s.acked_per_partition),
            consumed_per_partition: join(&s.consumed_per_partition),
            acked_skew_max_mean: skew(&s.acked_per_partition).max_over_mean,
            acked_skew_cv: skew(&s.acked_per_partition).cv,
            consumed_skew_max_mean: skew(&s.consumed_per_partition).max_over_mean,
            consumed_skew_cv: skew(&s.consumed_per_partition).cv,
            flags: s
                .flags
                .iter()
                .map(|f| f.name())
                .collect::<Vec<_>>()
                .join(";"),
            e2e_clock_bound_us: None,
            shards_lost: String::new(),
            transaction_messages: p.transaction_messages,
            transaction_abort: p.transaction_abort,
            isolation: cell.consumers.isolation.name().to_string(),
            tx_committed: s.tx_committed,
            tx_aborted: s.tx_aborted,
            tx_failed: s.tx_failed,
            tx_committed_per_sec: round3(s.tx_committed_per_sec),
            tx_aborted_per_sec: round3(s.tx_aborted_per_sec),
            commit_p50_us: s.commit.p50,
            commit_p99_us: s.commit.p99,
            commit_max_us: s.commit.max,
            aborted_messages: s.aborted_messages,
            aborted_seen: facts.delivery.aborted_seen,
            follow_reopens: s.follow_reopens,
            follow_unsent_bytes: s.follow_unsent_bytes,
            assignor: cell.consumers.assignor.name().to_string(),
            group_protocol: cell.consumers.group_protocol.name().to_string(),
            rebalances: facts.rebalance.rebalances,
            rebalance_pauses: facts.rebalance.pauses.count,
            rebalance_pause_median_ms: facts.rebalance.pauses.median_ms,
            rebalance_pause_max_ms: facts.rebalance.pauses.max_ms,
            first_assignment_max_ms: facts.rebalance.first_assignment_max_ms.map(round3),
        }
    }
}

/// The slowest recovery of the faults that ran; `None` if any never recovered.
fn worst_recovery(faults: &[FaultOutcome]) -> Option<u64> {
    let mut worst = None;
    for i in faults.iter().filter_map(|f| f.impact.as_ref()) {
        let ms = i.time_to_recover?.as_millis() as u64;
        worst = worst.max(Some(ms));
    }
    worst
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// One interval of one cell in `timeseries.csv`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeseriesRow {
    pub cell: String,
    pub repeat: u32,
    /// Seconds since the cell's producers started (interval end).
    pub t_s: f64,
    pub phase: String,
    pub sent_per_sec: f64,
    pub acked_per_sec: f64,
    pub consumed_per_sec: f64,
    pub acked_mb_per_sec: f64,
    pub failed: u64,
    pub queue_full: u64,
    pub publish_p50_us: u64,
    pub publish_p99_us: u64,
    pub publish_max_us: u64,
    pub e2e_p50_us: u64,
    pub e2e_p99_us: u64,
    /// As the interval ended: acked messages (warm-up included) the slowest consumer group
    /// had not read yet (kbench's own counts, so no broker round trip per interval).
    #[serde(default)]
    pub consumer_lag: u64,
}

impl TimeseriesRow {
    pub fn new(cell: &str, repeat: u32, i: &IntervalRecord) -> TimeseriesRow {
        let secs = i.secs().max(1e-9);
        let pc = &i.producers;
        let cc = &i.consumers;
        // Warm-up intervals show their traffic too (it is in the warmup_* counters): every
        // series of a row counts the same messages, warm-up ones in warm-up, measured ones after.
        let (sent, acked, acked_bytes, consumed) = match i.phase {
            crate::metrics::Phase::Warmup => (
                pc.warmup_sent,
                pc.warmup_acked,
                pc.warmup_bytes_acked,
                cc.warmup_consumed,
            ),
            _ => (pc.sent, pc.acked, pc.bytes_acked, cc.consumed),
        };
        let pb = &i.publish.percentiles;
        let e2e = &i.e2e.percentiles;
        TimeseriesRow {
            cell: cell.to_string(),
            repeat,
            t_s: round3(i.end_s),
            phase: i.phase.name().to_string(),
            sent_per_sec: round3(sent as f64 / secs),
            acked_per_sec: round3(acked as f64 / secs),
            consumed_per_sec: round3(consumed as f64 / secs),
            acked_mb_per_sec: round3(acked_bytes as f64 / secs / 1e6),
            failed: pc.failed,
            queue_full: pc.queue_full,
            publish_p50_us: pb.p50,
            publish_p99_us: pb.p99,
            publish_max_us: pb.max,
            e2e_p50_us: e2e.p50,
            e2e_p99_us: e2e.p99,
            consumer_lag: i.consumer_lag,
        }
    }
}

/// A count list's skew, rounded for the CSV; zeros when there is nothing to spread.
fn skew(counts: &[u64]) -> Skew {
    let s = Skew::of(counts).unwrap_or_default();
    Skew {
        max_over_mean: round3(s.max_over_mean),
        cv: round3(s.cv),
    }
}

/// Serialize rows as CSV with a header.
pub fn to_csv<T: Serialize>(rows: &[T]) -> Result<Vec<u8>, ::csv::Error> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    for r in rows {
        w.serialize(r)?;
    }
    w.into_inner().map_err(|e| e.into_error().into())
}

/// Read rows written by [`to_csv`]; errors name the file and the line.
pub fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    let mut r = ::csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for row in r.deserialize() {
        rows.push(row.map_err(|e: ::csv::Error| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            format!("{}:{line}: {e}", path.display())
        })?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_of_a_row_counts_the_same_messages_in_warmup_and_after() {
        use crate::metrics::cell::{Interval, IntervalRecord, Phase};
        use crate::metrics::ClientStats;
        for (phase, measured) in [(Phase::Warmup, false), (Phase::Measure, true)] {
            let (mut p, mut c) = (ClientStats::new(1), ClientStats::new(1));
            for _ in 0..500 {
                p.record_send(measured, 1000, 0);
                p.record_ack(measured, 0, 1_000_000, 1000, 0);
                c.record_consume(measured, 0, 2_000_000, 1000, 0);
            }
            let i = Interval {
                start_s: 0.0,
                end_s: 0.5,
                phase,
                producers: p,
                consumers: c,
                consumer_lag: 0,
            };
            let row = TimeseriesRow::new("c", 1, &IntervalRecord::of(&i));
            let rates = (row.sent_per_sec, row.acked_per_sec, row.consumed_per_sec);
            assert_eq!(rates, (1000.0, 1000.0, 1000.0), "{phase:?}");
            assert_eq!(row.acked_mb_per_sec, 1.0, "{phase:?}");
        }
    }

    #[test]
    fn timeseries_round_trips_through_csv() {
        let row = TimeseriesRow {
            cell: "acks-all_p-6".into(),
            repeat: 2,
            t_s: 1.5,
            phase: "measure".into(),
            sent_per_sec: 10.0,
            acked_per_sec: 9.5,
            consumed_per_sec: 9.0,
            acked_mb_per_sec: 0.01,
            failed: 1,
            queue_full: 0,
            publish_p50_us: 1200,
            publish_p99_us: 5300,
            publish_max_us: 9000,
            e2e_p50_us: 1500,
            e2e_p99_us: 6000,
            consumer_lag: 42,
        };
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("timeseries.csv");
        std::fs::write(&p, to_csv(&[row.clone(), row.clone()]).unwrap()).unwrap();
        let back: Vec<TimeseriesRow> = read_csv(&p).unwrap();
        assert_eq!(back, vec![row.clone(), row]);
    }

    #[test]
    fn a_bad_row_names_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("timeseries.csv");
        std::fs::write(&p, "cell,repeat\nx,notanumber\n").unwrap();
        let e = read_csv::<TimeseriesRow>(&p).unwrap_err();
        assert!(e.contains("timeseries.csv:2"), "{e}");
    }
}
