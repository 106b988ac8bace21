//! One probe: a cell run at one offered rate for a short measurement, and the verdict.
//!
//! A probe is an ordinary cell ([`crate::runner::run_cell`]: its own topic, created, registered
//! in `topics.txt` and deleted; consumers, warm-up, measurement, drain) whose spec is the
//! scenario's cell with the total rate, warm-up and duration overridden.
//!
//! **The pass rule.** A probe at offered rate R passes when all of these hold:
//! 1. every SLO holds, on the latencies of the messages whose intended send time fell in the
//!    measurement window (warm-up excluded; acks that came during the drain included);
//! 2. no validity flag: not behind schedule, no queue-full, no drain timeout, no kbench CPU
//!    saturation, not interrupted (a flagged probe measured kbench, not the cluster);
//! 3. no failed send and no acked message lost;
//! 4. no backlog growth: over the measurement window, acks arrived at >= 95 % of R, and every
//!    consumer group received messages at >= 95 % of R. Every ack and receipt that arrives
//!    in the window counts (warm-up messages' too), so the figure is the pipeline's throughput
//!    at that moment, not shortened by the latency of the window's last messages. A
//!    shortfall of more than 5 % means the backlog (offered but not yet acked, or acked but
//!    not yet consumed) grew by more than 5 % of the offered messages within a few seconds:
//!    the cluster was not keeping up, whatever the percentiles said so far. A shortfall of
//!    up to 2 messages over the window is always allowed: at a few msg/s, one message either
//!    side of the window's edge is more than 5 %.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::shares::{merge, ProbeShare};
use super::slo::{format_measured, format_micros, Slo};
use crate::metrics::cell::{Flag, LatencyKind};
use crate::metrics::Percentiles;
use crate::runner::CellOutcome;
use crate::scenario::CellSpec;

/// Acks and receipts must reach this share of the offered rate (see the module docs).
pub const MIN_THROUGHPUT_SHARE: f64 = 0.95;
/// ... or at most this many messages short over the window, whichever allows more.
pub const SHORTFALL_SLACK_MESSAGES: f64 = 2.0;

/// How long each probe runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProbeTiming {
    pub warmup: Duration,
    pub duration: Duration,
}

/// The cell to run for a probe: `cell` with its total rate, warm-up and duration replaced.
/// The id gets the rate appended (`base@2000`) so live progress shows which probe runs.
pub fn probe_spec(cell: &CellSpec, rate: f64, timing: ProbeTiming) -> CellSpec {
    let mut spec = cell.clone();
    spec.id = format!("{}@{}", cell.id, rate_text(rate));
    spec.producers.rate = Some(rate);
    spec.run.warmup = timing.warmup;
    spec.run.duration = Some(timing.duration);
    spec.run.messages = None;
    spec.faults = Arc::new([]);
    spec
}

/// A rate as msg/s, without a fraction when it is whole.
pub fn rate_text(rate: f64) -> String {
    if rate.fract() == 0.0 {
        format!("{rate:.0}")
    } else {
        format!("{rate:.1}")
    }
}

/// What the pass rule looks at, taken from a finished cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeMeasure {
    /// Offered rate, msg/s (the probe's schedule, all producers together).
    pub rate: f64,
    pub measure_secs: f64,
    pub publish: Percentiles,
    pub e2e: Percentiles,
    /// Acks (of any message) that arrived during the measurement window, per second.
    pub ack_rate: f64,
    /// Messages received during the window per second, per consumer group (`None`: no groups).
    pub consume_rate: Option<f64>,
    pub acked_mb_per_sec: f64,
    pub failed: u64,
    pub lost: u64,
    pub consumer_lag: u64,
    pub flags: Vec<Flag>,
    pub kbench_cpu_cores: f64,
    pub host_cpu_busy: f64,
    /// Measured messages offered and acked, all shards together.
    pub offered: u64,
    pub acked: u64,
    /// How many processes' figures these are (1, or the shards merged).
    pub shards: usize,
}

impl ProbeMeasure {
    /// The figures of a probe one process ran alone: the merge of its own share.
    pub fn of(outcome: &CellOutcome, rate: f64, groups: usize) -> Result<ProbeMeasure, String> {
        merge(&[ProbeShare::of(outcome)], rate, groups)
    }
}

/// Why a probe failed, one item per broken rule.
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// An SLO did not hold: the SLO and the measured value (µs).
    Slo(Slo, u64),
    /// A validity flag.
    Flag(Flag),
    Failed(u64),
    Lost(u64),
    /// Acks arrived at this rate, short of the offered rate.
    AckShortfall(f64),
    /// A consumer group received at this rate, short of the offered rate.
    ConsumeShortfall(f64),
    /// Nothing measured (no window, or no latency sample for an SLO).
    NoData(String),
}

impl Reason {
    /// What limited the rate, for summaries: `slo`, `throughput`, `kbench`, `host`, `errors`,
    /// `no-data`.
    pub fn class(&self) -> &'static str {
        match self {
            Reason::Slo(..) => "slo",
            Reason::AckShortfall(_) | Reason::ConsumeShortfall(_) => "throughput",
            Reason::Flag(Flag::Schedule | Flag::QueueFull | Flag::KbenchCpu) => "kbench",
            Reason::Flag(Flag::DrainTimeout) => "throughput",
            Reason::Flag(Flag::Interrupted) => "interrupted",
            Reason::Flag(Flag::HostStarved | Flag::HostSaturated) => "host",
            Reason::Flag(Flag::ShardLost | Flag::ClockBound) => "distributed",
            Reason::Failed(_) | Reason::Lost(_) => "errors",
            Reason::NoData(_) => "no-data",
        }
    }

    /// Short text for CSV and progress lines: `publish p99 62.1ms >= 50ms`.
    pub fn text(&self, rate: f64) -> String {
        match self {
            Reason::Slo(slo, v) => format!(
                "{} {} {} {}",
                slo.quantity(),
                format_measured(*v),
                if slo.inclusive { ">" } else { ">=" },
                format_micros(slo.limit_us)
            ),
            Reason::Flag(f) => f.name().to_string(),
            Reason::Failed(n) => format!("{n} failed sends"),
            Reason::Lost(n) => format!("{n} lost"),
            Reason::AckShortfall(r) => {
                format!("acks {}/s < 95% of {}/s", short_rate(*r), rate_text(rate))
            }
            Reason::ConsumeShortfall(r) => format!(
                "consumed {}/s per group < 95% of {}/s",
                short_rate(*r),
                rate_text(rate)
            ),
            Reason::NoData(why) => why.clone(),
        }
    }
}

/// A measured rate: whole above 100 msg/s, one decimal below (so 3.7 does not read as 4).
fn short_rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// The verdict on one probe: it passes when `reasons` is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub reasons: Vec<Reason>,
}

impl Verdict {
    pub fn pass(&self) -> bool {
        self.reasons.is_empty()
    }

    /// Did every SLO hold (whatever else failed)?
    pub fn slo_met(&self) -> bool {
        !self
            .reasons
            .iter()
            .any(|r| matches!(r, Reason::Slo(..) | Reason::NoData(_)))
    }

    /// `;`-joined reason texts (empty on a pass).
    pub fn text(&self, rate: f64) -> String {
        self.reasons
            .iter()
            .map(|r| r.text(rate))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Apply the pass rule (module docs) to a probe's measurements.
pub fn judge(m: &ProbeMeasure, slos: &[Slo]) -> Verdict {
    let mut reasons = Vec::new();
    if m.measure_secs <= 0.0 {
        reasons.push(Reason::NoData("no measurement window".into()));
    }
    for slo in slos {
        let p = match slo.kind {
            LatencyKind::Publish => &m.publish,
            LatencyKind::EndToEnd => &m.e2e,
        };
        if p.count == 0 {
            reasons.push(Reason::NoData(format!(
                "no {} latency measured",
                slo.kind.name()
            )));
            continue;
        }
        let v = slo.value(&m.publish, &m.e2e);
        if !slo.holds(v) {
            reasons.push(Reason::Slo(*slo, v));
        }
    }
    // The shards' clock bound only blurs cross-host end-to-end latency: publish latency is
    // timed on one host's clock (intended send and ack on the same shard).
    let e2e_judged = slos.iter().any(|s| s.kind == LatencyKind::EndToEnd);
    reasons.extend(
        m.flags
            .iter()
            .filter(|f| e2e_judged || **f != Flag::ClockBound)
            .cloned()
            .map(Reason::Flag),
    );
    if m.failed > 0 {
        reasons.push(Reason::Failed(m.failed));
    }
    if m.lost > 0 {
        reasons.push(Reason::Lost(m.lost));
    }
    let slack = SHORTFALL_SLACK_MESSAGES / m.measure_secs.max(1e-9);
    let floor = (MIN_THROUGHPUT_SHARE * m.rate).min(m.rate - slack);
    if m.measure_secs > 0.0 && m.ack_rate < floor {
        reasons.push(Reason::AckShortfall(m.ack_rate));
    }
    if let Some(c) = m
        .consume_rate
        .filter(|c| m.measure_secs > 0.0 && *c < floor)
    {
        reasons.push(Reason::ConsumeShortfall(c));
    }
    Verdict { reasons }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findmax::slo::parse_list;

    fn healthy(rate: f64) -> ProbeMeasure {
        let lat = |p50: u64, p99: u64| Percentiles {
            count: 1000,
            p50,
            p90: p99 / 2,
            p99,
            p999: p99 * 2,
            p9999: p99 * 3,
            max: p99 * 4,
            mean: p50 as f64,
        };
        ProbeMeasure {
            rate,
            measure_secs: 4.0,
            publish: lat(3_000, 20_000),
            e2e: lat(5_000, 40_000),
            ack_rate: rate * 0.99,
            consume_rate: Some(rate * 0.98),
            acked_mb_per_sec: 1.0,
            failed: 0,
            lost: 0,
            consumer_lag: 0,
            flags: vec![],
            kbench_cpu_cores: 0.3,
            host_cpu_busy: 0.5,
            offered: 8000,
            acked: 8000,
            shards: 1,
        }
    }

    #[test]
    fn a_healthy_probe_passes() {
        let slos = parse_list("p99<50ms,e2e_p99<100ms").unwrap();
        let v = judge(&healthy(2000.0), &slos);
        assert!(v.pass(), "{v:?}");
        assert_eq!(v.text(2000.0), "");
    }

    #[test]
    fn each_rule_fails_on_its_own() {
        let slos = parse_list("p99<50ms,e2e_p999<90ms").unwrap();
        let rate = 2000.0;
        let cases: Vec<(ProbeMeasure, &str, &str)> = vec![
            (
                ProbeMeasure {
                    e2e: Percentiles {
                        p999: 95_000,
                        count: 10,
                        ..Percentiles::default()
                    },
                    ..healthy(rate)
                },
                "e2e p99.9 95ms >= 90ms",
                "slo",
            ),
            (
                ProbeMeasure {
                    flags: vec![Flag::Schedule],
                    ..healthy(rate)
                },
                "behind-schedule",
                "kbench",
            ),
            (
                ProbeMeasure {
                    failed: 3,
                    ..healthy(rate)
                },
                "3 failed sends",
                "errors",
            ),
            (
                ProbeMeasure {
                    lost: 2,
                    ..healthy(rate)
                },
                "2 lost",
                "errors",
            ),
            (
                ProbeMeasure {
                    ack_rate: 1800.0,
                    ..healthy(rate)
                },
                "acks 1800/s < 95% of 2000/s",
                "throughput",
            ),
            (
                ProbeMeasure {
                    consume_rate: Some(1500.0),
                    ..healthy(rate)
                },
                "consumed 1500/s per group < 95% of 2000/s",
                "throughput",
            ),
            (
                ProbeMeasure {
                    flags: vec![Flag::DrainTimeout],
                    ..healthy(rate)
                },
                "drain-timeout",
                "throughput",
            ),
        ];
        for (m, text, class) in cases {
            let v = judge(&m, &slos);
            assert!(!v.pass());
            assert_eq!(v.reasons.len(), 1, "{v:?}");
            assert_eq!(v.text(rate), text);
            assert_eq!(v.reasons[0].class(), class);
        }
    }

    #[test]
    fn a_wide_clock_bound_fails_only_end_to_end_slos() {
        let m = ProbeMeasure {
            flags: vec![Flag::ClockBound],
            ..healthy(2000.0)
        };
        assert!(judge(&m, &parse_list("p99<50ms").unwrap()).pass());
        let v = judge(&m, &parse_list("p99<50ms,e2e_p99<100ms").unwrap());
        assert_eq!(v.text(2000.0), "clock-bound");
        assert_eq!(v.reasons[0].class(), "distributed");
    }

    #[test]
    fn the_throughput_floor_is_95_percent_of_the_offered_rate() {
        let slos = parse_list("p99<1s").unwrap();
        let at = |ack_rate| ProbeMeasure {
            ack_rate,
            consume_rate: None,
            ..healthy(1000.0)
        };
        assert!(judge(&at(950.0), &slos).pass());
        assert!(!judge(&at(949.0), &slos).pass());
        // At 4 msg/s over 4 s, one or two messages on the wrong side of the window's edge
        // are not a backlog.
        let slow = |ack_rate| ProbeMeasure {
            ack_rate,
            consume_rate: None,
            ..healthy(4.0)
        };
        assert!(judge(&slow(3.5), &slos).pass());
        let v = judge(&slow(3.4), &slos);
        assert_eq!(v.text(4.0), "acks 3.4/s < 95% of 4/s");
    }

    #[test]
    fn no_latency_samples_never_pass() {
        let slos = parse_list("e2e_p99<1s").unwrap();
        let m = ProbeMeasure {
            e2e: Percentiles::default(),
            consume_rate: None,
            ..healthy(1000.0)
        };
        let v = judge(&m, &slos);
        assert_eq!(v.text(1000.0), "no e2e latency measured");
        let m = ProbeMeasure {
            measure_secs: 0.0,
            ..healthy(1000.0)
        };
        assert!(!judge(&m, &slos).pass());
    }

    #[test]
    fn the_probe_spec_overrides_rate_and_timing_only() {
        let s = crate::scenario::parse_str(
            "name = \"x\"\n[producers]\nrate = 100\ncount = 2\n[run]\nwarmup = \"5s\"\nmessages = 1000\n",
            std::path::Path::new("x.toml"),
        )
        .unwrap();
        let cell = &s.cells[0];
        let spec = probe_spec(
            cell,
            2500.0,
            ProbeTiming {
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(3),
            },
        );
        assert_eq!(spec.producers.rate, Some(2500.0));
        assert_eq!(spec.producers.count, 2);
        assert_eq!(spec.run.warmup, Duration::from_secs(1));
        assert_eq!(spec.run.duration, Some(Duration::from_secs(3)));
        assert_eq!(spec.run.messages, None);
        assert_eq!(spec.id, "base@2500");
        assert_eq!(spec.index, cell.index);
    }
}
