//! A probe's figures as one process holds them ([`ProbeShare`]), and the whole fleet's
//! figures made from every shard's ([`merge`]). Pure.
//!
//! One process merges its own share alone. In a distributed search (`find-max --shard I/N`)
//! every shard publishes its share on the control topic (the latency histograms serialized
//! exactly, HdrHistogram V2 in base64) and every shard merges all of them in shard order:
//! histograms by HdrHistogram addition, counts summed, the measurement window the longest
//! of the shards' (they start together at the probe's barrier), as `kbench merge` does. The
//! pass rule then judges the fleet, never one shard's own percentiles.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::probe::ProbeMeasure;
use crate::merge::hlogs;
use crate::metrics::cell::{Flag, LatencyKind, Phase};
use crate::metrics::Percentiles;
use crate::runner::CellOutcome;

/// What one process measured in a probe: everything the pass rule and `findmax.csv` need.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeShare {
    /// Length of this process's measurement window, s.
    pub measure_secs: f64,
    /// Acks (of any message, warm-up's too) and receipts (all groups) that arrived in the
    /// window, and the acked bytes of measured messages in it.
    pub window_acks: u64,
    pub window_receipts: u64,
    pub window_bytes_acked: u64,
    /// Measured messages offered and acked (the drain's acks included).
    pub offered: u64,
    pub acked: u64,
    pub failed: u64,
    pub lost: u64,
    pub consumer_lag: u64,
    pub flags: Vec<Flag>,
    pub kbench_cpu_cores: f64,
    pub host_cpu_busy: f64,
    /// The measured messages' latencies, µs.
    #[serde(with = "v2_base64")]
    pub publish: Histogram<u64>,
    #[serde(with = "v2_base64")]
    pub e2e: Histogram<u64>,
}

impl ProbeShare {
    /// This process's share of a finished probe.
    pub fn of(outcome: &CellOutcome) -> ProbeShare {
        let s = &outcome.summary;
        let mut share = ProbeShare {
            measure_secs: 0.0,
            window_acks: 0,
            window_receipts: 0,
            window_bytes_acked: 0,
            offered: s.offered,
            acked: s.acked,
            failed: s.failed,
            lost: outcome.delivery.lost,
            consumer_lag: outcome.consumer_lag,
            flags: s.flags.clone(),
            kbench_cpu_cores: s.cpu.process_cores,
            host_cpu_busy: s.cpu.host_busy.unwrap_or(0.0),
            publish: outcome.metrics.histogram(LatencyKind::Publish).clone(),
            e2e: outcome.metrics.histogram(LatencyKind::EndToEnd).clone(),
        };
        for i in outcome
            .metrics
            .intervals
            .iter()
            .filter(|i| i.phase == Phase::Measure)
        {
            share.measure_secs += i.secs();
            let (p, c) = (&i.producers, &i.consumers);
            share.window_acks += p.acked + p.warmup_acked;
            share.window_receipts += c.consumed + c.warmup_consumed;
            share.window_bytes_acked += p.bytes_acked;
        }
        share
    }
}

/// The whole fleet's figures of a probe at `rate` (msg/s, all shards together) from every
/// shard's share, in shard order: what one process holding every client would have measured.
pub fn merge(shares: &[ProbeShare], rate: f64, groups: usize) -> Result<ProbeMeasure, String> {
    let (mut publish, mut e2e) = (hlogs::empty(), hlogs::empty());
    let mut secs: f64 = 0.0;
    let (mut acks, mut receipts, mut bytes) = (0u64, 0u64, 0u64);
    let mut m = ProbeMeasure {
        rate,
        measure_secs: 0.0,
        publish: Percentiles::default(),
        e2e: Percentiles::default(),
        ack_rate: 0.0,
        consume_rate: None,
        acked_mb_per_sec: 0.0,
        failed: 0,
        lost: 0,
        consumer_lag: 0,
        flags: Vec::new(),
        kbench_cpu_cores: 0.0,
        host_cpu_busy: 0.0,
        offered: 0,
        acked: 0,
        shards: shares.len(),
    };
    for s in shares {
        hlogs::add(&mut publish, &s.publish)?;
        hlogs::add(&mut e2e, &s.e2e)?;
        secs = secs.max(s.measure_secs);
        acks += s.window_acks;
        receipts += s.window_receipts;
        bytes += s.window_bytes_acked;
        m.offered += s.offered;
        m.acked += s.acked;
        m.failed += s.failed;
        m.lost += s.lost;
        // Each shard's look at the lag across shards: the largest is the last word.
        m.consumer_lag = m.consumer_lag.max(s.consumer_lag);
        for f in &s.flags {
            if !m.flags.contains(f) {
                m.flags.push(f.clone());
            }
        }
        // kbench's CPU adds up over the load hosts; the busiest host speaks for the host.
        m.kbench_cpu_cores += s.kbench_cpu_cores;
        m.host_cpu_busy = m.host_cpu_busy.max(s.host_cpu_busy);
    }
    let per_sec = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
    m.measure_secs = secs;
    m.publish = Percentiles::of(&publish);
    m.e2e = Percentiles::of(&e2e);
    m.ack_rate = per_sec(acks);
    m.consume_rate = (groups > 0).then(|| per_sec(receipts) / groups as f64);
    m.acked_mb_per_sec = per_sec(bytes) / 1e6;
    Ok(m)
}

/// Decode every shard's share (its `Share` body), in shard order; the error names the shard.
pub fn decode(
    bodies: &std::collections::BTreeMap<u16, serde_json::Value>,
) -> Result<Vec<ProbeShare>, String> {
    bodies
        .iter()
        .map(|(shard, body)| {
            ProbeShare::deserialize(body)
                .map_err(|e| format!("shard {shard}'s probe figures cannot be read: {e}"))
        })
        .collect()
}

/// A histogram as HdrHistogram V2 bytes in base64: exact, and a few hundred bytes to a few
/// KB for a probe's latencies.
mod v2_base64 {
    use hdrhistogram::serialization::{Deserializer as HdrDe, Serializer as _, V2Serializer};
    use hdrhistogram::Histogram;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        let mut bytes = Vec::new();
        V2Serializer::new()
            .serialize(h, &mut bytes)
            .map_err(|e| serde::ser::Error::custom(format!("{e:?}")))?;
        s.serialize_str(&crate::rundir::delivery::base64_encode(&bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let text = String::deserialize(d)?;
        let bytes = crate::rundir::read::base64_decode(&text)
            .ok_or_else(|| D::Error::custom("histogram: not valid base64"))?;
        HdrDe::new()
            .deserialize(&mut &bytes[..])
            .map_err(|e| D::Error::custom(format!("histogram: {e:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::histogram::new_histogram;

    fn share(values: &[u64], acks: u64, secs: f64, flags: Vec<Flag>) -> ProbeShare {
        let mut publish = new_histogram();
        for v in values {
            publish.record(*v).unwrap();
        }
        let mut e2e = new_histogram();
        e2e.record_n(values[0] * 2, values.len() as u64).unwrap();
        ProbeShare {
            measure_secs: secs,
            window_acks: acks,
            window_receipts: acks,
            window_bytes_acked: acks * 100,
            offered: values.len() as u64,
            acked: values.len() as u64,
            failed: 0,
            lost: 0,
            consumer_lag: acks / 10,
            flags,
            kbench_cpu_cores: 0.25,
            host_cpu_busy: acks as f64 / 1e4,
            publish,
            e2e,
        }
    }

    #[test]
    fn shares_survive_the_control_topic_exactly() {
        let a = share(
            &[100, 2_000, 35_000, 1_000_000],
            400,
            2.0,
            vec![Flag::Schedule],
        );
        let json = serde_json::to_value(&a).unwrap();
        let bodies = [(3u16, json)].into_iter().collect();
        let back = decode(&bodies).unwrap();
        assert_eq!(back, vec![a]);
        let junk = [(1u16, serde_json::json!({"publish": "!!"}))]
            .into_iter()
            .collect();
        assert!(decode(&junk).unwrap_err().starts_with("shard 1's"));
    }

    #[test]
    fn the_fleet_is_the_sum_of_its_shards_never_an_average() {
        // Shard 0 is fast, shard 1 has the tail: the fleet's p99 is the tail's, which
        // neither an average of the shards' p99s nor shard 0 alone would give.
        let fast: Vec<u64> = (0..990).map(|i| 1_000 + i).collect();
        let slow: Vec<u64> = (0..10).map(|i| 500_000 + i * 1_000).collect();
        let a = share(&fast, 990, 2.0, vec![]);
        let b = share(&slow, 10, 2.1, vec![Flag::Schedule]);
        let m = merge(&[a.clone(), b.clone()], 500.0, 1).unwrap();
        let mut all = new_histogram();
        all.add(&a.publish).unwrap();
        all.add(&b.publish).unwrap();
        assert_eq!(m.publish, Percentiles::of(&all));
        assert_eq!(m.publish.count, 1000);
        assert!(m.publish.p999 >= 500_000, "{:?}", m.publish);
        assert_eq!((m.offered, m.acked, m.shards), (1000, 1000, 2));
        assert_eq!(m.measure_secs, 2.1, "the longest window");
        assert!((m.ack_rate - 1000.0 / 2.1).abs() < 1e-9);
        assert_eq!(m.consume_rate, Some(1000.0 / 2.1));
        assert_eq!(m.flags, vec![Flag::Schedule]);
        assert_eq!(m.kbench_cpu_cores, 0.5);
        assert_eq!(m.host_cpu_busy, 990.0 / 1e4);
        assert_eq!(m.consumer_lag, 99);
        // One process is the merge of its own share.
        let one = merge(std::slice::from_ref(&a), 500.0, 0).unwrap();
        assert_eq!(one.publish, Percentiles::of(&a.publish));
        assert_eq!(one.consume_rate, None);
    }
}
