//! One cell's measurements: the per-interval series and the totals, and the summary the
//! reports print. Pure: the runner feeds it merged [`ClientStats`] once per interval.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::client::{ClientStats, Counters};
use super::cpu::{self, CpuUse};
use super::histogram::{CompactHistogram, Percentiles};

/// Where in a cell an interval falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Before the end of warm-up: shown in the time series, excluded from every figure.
    Warmup,
    /// The measurement window: rates are computed over these intervals only.
    Measure,
    /// After the producers stop: outstanding acks and consumption of measured messages.
    Drain,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Warmup => "warmup",
            Phase::Measure => "measure",
            Phase::Drain => "drain",
        }
    }
}

/// One interval of a cell (normally 1 s), all clients merged.
#[derive(Debug, Clone)]
pub struct Interval {
    /// Seconds since the producers started.
    pub start_s: f64,
    pub end_s: f64,
    pub phase: Phase,
    /// Producers merged: publish latency, sent / acked counters, acked per partition.
    pub producers: ClientStats,
    /// Consumers merged: end-to-end latency, consumed counters, consumed per partition.
    pub consumers: ClientStats,
    /// As the interval ended: acked messages (warm-up included) the slowest group had not
    /// read yet.
    pub consumer_lag: u64,
}

impl Interval {
    pub fn secs(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }
}

/// An interval as a cell keeps it once merged: counters and compact histograms only (see
/// [`CompactHistogram`]), so a 10-minute cell holds 600 of these in a few MB, not 400.
#[derive(Debug, Clone)]
pub struct IntervalRecord {
    pub start_s: f64,
    pub end_s: f64,
    pub phase: Phase,
    /// Producers' counters (sent, acked, failed...) and consumers' (consumed...).
    pub producers: Counters,
    pub consumers: Counters,
    pub publish: CompactHistogram,
    pub e2e: CompactHistogram,
    /// [`Interval::consumer_lag`].
    pub consumer_lag: u64,
}

impl IntervalRecord {
    pub fn of(i: &Interval) -> IntervalRecord {
        IntervalRecord {
            start_s: i.start_s,
            end_s: i.end_s,
            phase: i.phase,
            producers: i.producers.counters.clone(),
            consumers: i.consumers.counters.clone(),
            publish: CompactHistogram::of(&i.producers.publish),
            e2e: CompactHistogram::of(&i.consumers.e2e),
            consumer_lag: i.consumer_lag,
        }
    }

    pub fn secs(&self) -> f64 {
        (self.end_s - self.start_s).max(0.0)
    }

    pub fn latency(&self, kind: LatencyKind) -> &CompactHistogram {
        match kind {
            LatencyKind::Publish => &self.publish,
            LatencyKind::EndToEnd => &self.e2e,
        }
    }
}

/// Reasons a cell's numbers are not the cluster's alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flag {
    /// kbench sent more than 1 % of measured messages over 10 ms after their intended time
    /// (or never sent them).
    Schedule,
    /// librdkafka's local queue was full: the producer, not the broker, limited the rate.
    QueueFull,
    /// The drain timeout passed before every acked message was consumed by every group.
    DrainTimeout,
    /// The run was interrupted before the cell finished.
    Interrupted,
    /// kbench itself ran out of CPU (its process, or one producer's send thread).
    KbenchCpu,
    /// The host ran out of CPU: a send thread waited for one (brokers or others had it).
    HostStarved,
    /// The whole host was (nearly) 100 % busy through the measurement while kbench was not
    /// the one using it: brokers on the same machine (a cold cluster compiling, other
    /// processes) competed for CPU, so the figures are the machine's, not the cluster's.
    HostSaturated,
    /// A distributed run: a shard never became ready or stopped answering during the cell
    /// (which ones: `results.csv` `shards_lost`); the cell's load was not the scenario's.
    ShardLost,
    /// A distributed run: the bound on the shards' clock offsets (`e2e_clock_bound_us`) is
    /// above 10 ms, too wide to trust cross-host end-to-end latency.
    ClockBound,
}

impl Flag {
    pub fn name(&self) -> &'static str {
        match self {
            Flag::Schedule => "behind-schedule",
            Flag::QueueFull => "queue-full",
            Flag::DrainTimeout => "drain-timeout",
            Flag::Interrupted => "interrupted",
            Flag::KbenchCpu => "kbench-cpu",
            Flag::HostStarved => "host-starved",
            Flag::HostSaturated => "host-saturated",
            Flag::ShardLost => "shard-lost",
            Flag::ClockBound => "clock-bound",
        }
    }

    pub fn why(&self) -> &'static str {
        match self {
            Flag::Schedule => {
                "kbench fell behind its own send schedule (over 1% of messages sent >10 ms late or never sent)"
            }
            Flag::QueueFull => {
                "librdkafka's producer queue was full: the client, not the cluster, was the limit"
            }
            Flag::DrainTimeout => "not every acked message was consumed before the drain timeout",
            Flag::Interrupted => "the run was interrupted during this cell",
            Flag::KbenchCpu => {
                "kbench used (nearly) all the CPU it could get: the load generator, not the cluster, was the limit"
            }
            Flag::ShardLost => {
                "a shard of the distributed run was lost during this cell: the load was not the scenario's"
            }
            Flag::ClockBound => {
                "the shards' clock offsets are known only within more than 10 ms: cross-host end-to-end latency is not trustworthy"
            }
            Flag::HostStarved => {
                "the host was out of CPU: kbench's send thread waited for one (brokers or other processes had it), so the figures include the host's queueing"
            }
            Flag::HostSaturated => {
                "the host's CPU was (nearly) all busy, and not by kbench: brokers or other processes on this machine competed for it, so the figures are the machine's limit, not the cluster's"
            }
        }
    }
}

/// How a cell ended, beyond its intervals.
#[derive(Debug, Clone, Default)]
pub struct CellEnd {
    pub drain_complete: bool,
    pub interrupted: bool,
    /// kbench's and the host's CPU use over the measurement window.
    pub cpu: CpuUse,
    /// The busiest producer send thread: the share of its wall time it wanted a CPU (ran or
    /// waited in the run queue), 0..1.
    pub busiest_producer: f64,
    /// Of that, the share it waited in the run queue.
    pub busiest_producer_wait: f64,
}

impl CellEnd {
    /// kbench itself was the limit: its process took (nearly) every core, or a send thread
    /// never idled and mostly ran (it had more work than one CPU can do).
    pub fn kbench_saturated(&self) -> bool {
        let ran = self.busiest_producer - self.busiest_producer_wait;
        self.cpu.process_share() >= cpu::PROCESS_LIMIT
            || (self.busiest_producer >= cpu::THREAD_LIMIT && ran >= cpu::THREAD_RUN_LIMIT)
    }

    /// The host was the limit: a send thread never idled, and a good share of that was
    /// waiting for a CPU someone else had (brokers on the same machine). A paced thread that
    /// waits a little at each of its thousands of wake-ups is not starved: measured, a
    /// 5000 msg/s producer on a calm 2-core host with three brokers waited ~20 % of its wall
    /// time at a demand far below 1, and held its schedule.
    pub fn host_starved(&self) -> bool {
        self.busiest_producer >= cpu::THREAD_LIMIT
            && self.busiest_producer_wait >= cpu::THREAD_WAIT_LIMIT
    }

    /// The host, not kbench, was out of CPU through the measurement: every core (nearly) busy
    /// while kbench's own process was not the limit. Apart from [`Self::host_starved`]: a
    /// paced, mostly idle send thread keeps its schedule on a saturated host, yet the brokers
    /// beside it (a freshly started cluster compiling, say) answer late.
    pub fn host_saturated(&self) -> bool {
        self.cpu.host_busy.is_some_and(|b| b >= cpu::HOST_LIMIT) && !self.kbench_saturated()
    }
}

/// Fraction of late sends above which a cell is flagged [`Flag::Schedule`].
pub const MAX_LATE_FRACTION: f64 = 0.01;

#[derive(Debug, Clone)]
pub struct CellMetrics {
    pub intervals: Vec<IntervalRecord>,
    /// Everything after warm-up (measure + drain): latency of every measured message.
    pub producers: ClientStats,
    pub consumers: ClientStats,
    partitions: usize,
}

/// The figures a cell reports.
#[derive(Debug, Clone, Serialize)]
pub struct CellSummary {
    pub measure_secs: f64,
    pub publish: Percentiles,
    pub e2e: Percentiles,
    /// Totals of measured messages (including acks and consumption during the drain).
    pub offered: u64,
    pub sent: u64,
    pub acked: u64,
    pub failed: u64,
    pub consumed: u64,
    /// Rates over the measurement window.
    pub sent_per_sec: f64,
    pub acked_per_sec: f64,
    pub consumed_per_sec: f64,
    pub acked_mb_per_sec: f64,
    pub consumed_mb_per_sec: f64,
    pub queue_full: u64,
    pub late_sends: u64,
    pub unsent: u64,
    pub max_send_lag_us: u64,
    pub errors: Vec<(String, u64)>,
    pub acked_per_partition: Vec<u64>,
    pub consumed_per_partition: Vec<u64>,
    pub flags: Vec<Flag>,
    pub cpu: CpuUse,
    pub busiest_producer: f64,
    /// Its share of wall time spent waiting in the run queue.
    pub busiest_producer_wait: f64,
    /// Transactional producers: commit call durations, transactions committed and aborted
    /// (of those, failed commits) with measured messages, their rates over the measurement
    /// window, and the measured messages in aborted transactions. Zero without transactions.
    pub commit: Percentiles,
    pub tx_committed: u64,
    pub tx_aborted: u64,
    pub tx_failed: u64,
    pub tx_committed_per_sec: f64,
    pub tx_aborted_per_sec: f64,
    pub aborted_messages: u64,
    /// A followed file: see [`Counters::follow_reopens`] and `follow_unsent_bytes`.
    pub follow_reopens: u64,
    pub follow_unsent_bytes: u64,
}

impl CellMetrics {
    pub fn new(partitions: usize) -> CellMetrics {
        CellMetrics {
            intervals: Vec::new(),
            producers: ClientStats::new(partitions),
            consumers: ClientStats::new(partitions),
            partitions,
        }
    }

    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// Add one interval. Records are classified by their intended send time (warm-up messages
    /// only ever reach the `warmup_*` counters), so every interval merges into the totals: an
    /// interval that ends a moment after the warm-up boundary may hold a few measured messages.
    /// The phase only decides which intervals make the rate window.
    pub fn add_interval(&mut self, interval: Interval) {
        self.producers.merge(&interval.producers);
        self.consumers.merge(&interval.consumers);
        self.intervals.push(IntervalRecord::of(&interval));
    }

    fn measure_counters(&self) -> (f64, Counters, Counters) {
        let mut secs = 0.0;
        let mut p = Counters::default();
        let mut c = Counters::default();
        for i in self.intervals.iter().filter(|i| i.phase == Phase::Measure) {
            secs += i.secs();
            p.add(&i.producers);
            c.add(&i.consumers);
        }
        (secs, p, c)
    }

    /// Histogram of one latency kind over the measured messages.
    pub fn histogram(&self, kind: LatencyKind) -> &Histogram<u64> {
        match kind {
            LatencyKind::Publish => &self.producers.publish,
            LatencyKind::EndToEnd => &self.consumers.e2e,
        }
    }

    pub fn summary(&self, end: &CellEnd) -> CellSummary {
        let (secs, mp, mc) = self.measure_counters();
        let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let p = &self.producers.counters;
        let c = &self.consumers.counters;
        let mut flags = Vec::new();
        let behind = p.late_sends + p.unsent;
        if behind > 0 && behind as f64 > MAX_LATE_FRACTION * p.offered.max(1) as f64 {
            flags.push(Flag::Schedule);
        }
        if p.queue_full > 0 {
            flags.push(Flag::QueueFull);
        }
        if !end.drain_complete {
            flags.push(Flag::DrainTimeout);
        }
        if end.interrupted {
            flags.push(Flag::Interrupted);
        }
        if end.kbench_saturated() {
            flags.push(Flag::KbenchCpu);
        }
        if end.host_starved() {
            flags.push(Flag::HostStarved);
        }
        if end.host_saturated() {
            flags.push(Flag::HostSaturated);
        }
        CellSummary {
            measure_secs: secs,
            publish: Percentiles::of(&self.producers.publish),
            e2e: Percentiles::of(&self.consumers.e2e),
            offered: p.offered,
            sent: p.sent,
            acked: p.acked,
            failed: p.failed,
            consumed: c.consumed,
            sent_per_sec: per_sec(mp.sent),
            acked_per_sec: per_sec(mp.acked),
            consumed_per_sec: per_sec(mc.consumed),
            acked_mb_per_sec: per_sec(mp.bytes_acked) / 1e6,
            consumed_mb_per_sec: per_sec(mc.bytes_consumed) / 1e6,
            queue_full: p.queue_full,
            late_sends: p.late_sends,
            unsent: p.unsent,
            max_send_lag_us: p.max_send_lag_us,
            errors: p.errors.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            acked_per_partition: self.producers.per_partition.clone(),
            consumed_per_partition: self.consumers.per_partition.clone(),
            flags,
            cpu: end.cpu,
            busiest_producer: end.busiest_producer,
            busiest_producer_wait: end.busiest_producer_wait,
            commit: Percentiles::of(&self.producers.commit),
            tx_committed: p.tx_committed,
            tx_aborted: p.tx_aborted,
            tx_failed: p.tx_failed,
            tx_committed_per_sec: per_sec(mp.tx_committed),
            tx_aborted_per_sec: per_sec(mp.tx_aborted),
            aborted_messages: p.aborted_messages,
            follow_reopens: p.follow_reopens,
            follow_unsent_bytes: p.follow_unsent_bytes,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyKind {
    Publish,
    EndToEnd,
}

impl LatencyKind {
    pub fn name(self) -> &'static str {
        match self {
            LatencyKind::Publish => "publish",
            LatencyKind::EndToEnd => "e2e",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval(start: f64, phase: Phase, acks: u64, latency_us: u64) -> Interval {
        let mut p = ClientStats::new(2);
        let mut c = ClientStats::new(2);
        let measured = phase != Phase::Warmup;
        for i in 0..acks {
            p.record_send(measured, 100, 0);
            p.record_ack(measured, 0, latency_us * 1_000, 100, (i % 2) as i32);
            c.record_consume(measured, 0, 2 * latency_us * 1_000, 100, (i % 2) as i32);
        }
        Interval {
            start_s: start,
            end_s: start + 1.0,
            phase,
            producers: p,
            consumers: c,
            consumer_lag: 0,
        }
    }

    #[test]
    fn warmup_is_excluded_and_rates_use_the_measure_window_only() {
        let mut m = CellMetrics::new(2);
        m.add_interval(interval(0.0, Phase::Warmup, 1000, 50_000)); // slow warm-up
        m.add_interval(interval(1.0, Phase::Measure, 100, 1_000));
        m.add_interval(interval(2.0, Phase::Measure, 300, 1_000));
        m.add_interval(interval(3.0, Phase::Drain, 10, 1_000));
        let s = m.summary(&CellEnd {
            drain_complete: true,
            ..CellEnd::default()
        });
        assert_eq!(s.acked, 410, "measured acks include the drain");
        assert_eq!(s.acked_per_sec, 200.0, "rate over the 2 s measure window");
        assert_eq!(s.publish.count, 410);
        assert!(
            s.publish.max < 2_000,
            "warm-up latency must not leak: {}",
            s.publish.max
        );
        assert_eq!(s.e2e.p50 / 100, 20);
        assert_eq!(s.acked_per_partition, vec![205, 205]);
        assert!(s.flags.is_empty());
        assert_eq!(m.producers.counters.warmup_acked, 1000);
    }

    #[test]
    fn flags_for_late_sends_queue_full_and_drain() {
        let mut m = CellMetrics::new(1);
        let mut i = interval(0.0, Phase::Measure, 100, 1_000);
        for _ in 0..2 {
            i.producers.record_send(true, 10, 50_000_000);
        }
        i.producers.counters.queue_full = 3;
        m.add_interval(i);
        let end = CellEnd {
            drain_complete: false,
            interrupted: true,
            busiest_producer: 0.97,
            ..CellEnd::default()
        };
        let s = m.summary(&end);
        assert_eq!(
            s.flags,
            vec![
                Flag::Schedule,
                Flag::QueueFull,
                Flag::DrainTimeout,
                Flag::Interrupted,
                Flag::KbenchCpu
            ]
        );
        let calm = CellEnd {
            drain_complete: true,
            cpu: CpuUse {
                process_cores: 0.5,
                cores: 2,
                host_busy: Some(0.99),
            },
            busiest_producer: 0.4,
            ..CellEnd::default()
        };
        assert!(
            !calm.kbench_saturated() && calm.host_saturated(),
            "a busy host alone is not kbench's limit, but the host's"
        );
        let quiet = CellEnd {
            cpu: CpuUse {
                host_busy: Some(0.9),
                ..calm.cpu
            },
            ..calm.clone()
        };
        assert!(!quiet.host_saturated(), "spare CPU on the host");
        let hot = CellEnd {
            cpu: CpuUse {
                process_cores: 1.9,
                cores: 2,
                host_busy: Some(0.99),
            },
            ..calm.clone()
        };
        assert!(
            hot.kbench_saturated() && !hot.host_saturated(),
            "kbench's own limit"
        );
        // A send thread that never idled but waited for the CPU half the time: the host's
        // limit, not kbench's own.
        let starved = CellEnd {
            busiest_producer: 0.97,
            busiest_producer_wait: 0.5,
            ..calm.clone()
        };
        assert!(!starved.kbench_saturated() && starved.host_starved());
        let bound = CellEnd {
            busiest_producer: 0.97,
            busiest_producer_wait: 0.05,
            ..calm.clone()
        };
        assert!(bound.kbench_saturated() && !bound.host_starved());
        let paced = CellEnd {
            busiest_producer: 0.35,
            busiest_producer_wait: 0.25,
            ..calm.clone()
        };
        assert!(!paced.kbench_saturated() && !paced.host_starved());
    }
}
