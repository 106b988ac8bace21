//! `timeseries.csv` of one cell run, merged across shards interval by interval: the shards'
//! k-th intervals cover the same second (they start each cell together at the barrier), so
//! rates add up, counts add up, and the percentiles come from the merged interval histogram
//! (HdrHistogram addition), never from the shards' percentiles. Pure.

use crate::metrics::Percentiles;
use crate::rundir::hlog::LogInterval;
use crate::rundir::rows::TimeseriesRow;

use super::hlogs::later_phase;

/// Merge the shards' rows of one cell run (each shard's rows in interval order); `publish` and
/// `e2e` are the merged interval logs of the same run. An interval a log lacks (a shard wrote
/// rows without logs) takes the largest of the shards' percentiles: an upper bound, not a guess.
pub fn merge_series(
    shards: &[Vec<&TimeseriesRow>],
    publish: &[LogInterval],
    e2e: &[LogInterval],
) -> Vec<TimeseriesRow> {
    let n = shards.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let rows: Vec<&TimeseriesRow> = shards.iter().filter_map(|s| s.get(k).copied()).collect();
        let Some(first) = rows.first() else { continue };
        let sum = |f: fn(&TimeseriesRow) -> f64| round3(rows.iter().map(|r| f(r)).sum());
        let max = |f: fn(&TimeseriesRow) -> u64| rows.iter().map(|r| f(r)).max().unwrap_or(0);
        let pb = publish.get(k).map(|i| Percentiles::of(&i.histogram));
        let pe = e2e.get(k).map(|i| Percentiles::of(&i.histogram));
        let phase = rows
            .iter()
            .fold(first.phase.as_str(), |p, r| later_phase(p, &r.phase));
        out.push(TimeseriesRow {
            cell: first.cell.clone(),
            repeat: first.repeat,
            t_s: rows.iter().map(|r| r.t_s).fold(0.0, f64::max),
            phase: phase.to_string(),
            sent_per_sec: sum(|r| r.sent_per_sec),
            acked_per_sec: sum(|r| r.acked_per_sec),
            consumed_per_sec: sum(|r| r.consumed_per_sec),
            acked_mb_per_sec: sum(|r| r.acked_mb_per_sec),
            failed: rows.iter().map(|r| r.failed).sum(),
            queue_full: rows.iter().map(|r| r.queue_full).sum(),
            publish_p50_us: pb.map_or_else(|| max(|r| r.publish_p50_us), |p| p.p50),
            publish_p99_us: pb.map_or_else(|| max(|r| r.publish_p99_us), |p| p.p99),
            publish_max_us: pb.map_or_else(|| max(|r| r.publish_max_us), |p| p.max),
            e2e_p50_us: pe.map_or_else(|| max(|r| r.e2e_p50_us), |p| p.p50),
            e2e_p99_us: pe.map_or_else(|| max(|r| r.e2e_p99_us), |p| p.p99),
            // Each shard's acks minus what its own members read (never below 0): their sum,
            // an estimate of the run's (exact when every shard's members read its producers').
            consumer_lag: rows.iter().map(|r| r.consumer_lag).sum(),
        });
    }
    out
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::hlogs;

    fn ts(t: f64, phase: &str, rate: f64, p99: u64) -> TimeseriesRow {
        TimeseriesRow {
            cell: "c".into(),
            repeat: 1,
            t_s: t,
            phase: phase.into(),
            sent_per_sec: rate,
            acked_per_sec: rate,
            consumed_per_sec: rate,
            acked_mb_per_sec: rate / 1000.0,
            failed: 1,
            queue_full: 0,
            publish_p50_us: p99 / 2,
            publish_p99_us: p99,
            publish_max_us: p99,
            consumer_lag: 0,
            e2e_p50_us: p99 / 2,
            e2e_p99_us: p99,
        }
    }

    #[test]
    fn intervals_align_by_index_rates_add_and_percentiles_come_from_the_merged_histogram() {
        let a = [ts(1.0, "warmup", 100.0, 50), ts(2.0, "measure", 100.0, 60)];
        let b = [
            ts(1.002, "warmup", 200.0, 70),
            ts(2.001, "measure", 200.0, 80),
            ts(2.5, "drain", 10.0, 90),
        ];
        let mut h = hlogs::empty();
        h.record_n(1_000, 10).unwrap();
        let log = |tag: &str| LogInterval {
            start_s: 0.0,
            secs: 1.0,
            tag: tag.into(),
            histogram: h.clone(),
        };
        let publish = vec![log("warmup"), log("measure")];
        let merged = merge_series(
            &[a.iter().collect(), b.iter().collect()],
            &publish,
            &publish,
        );
        assert_eq!(merged.len(), 3);
        assert_eq!((merged[0].t_s, merged[0].acked_per_sec), (1.002, 300.0));
        assert_eq!((merged[1].failed, merged[1].phase.as_str()), (2, "measure"));
        assert_eq!(
            merged[1].publish_p99_us / 10,
            100,
            "from the merged histogram"
        );
        assert_eq!(
            merged[2].publish_p99_us, 90,
            "no log: the largest shard figure"
        );
    }
}
