//! One cell run's `results.csv` row, merged from the rows of the shards that ran it. Pure:
//! the histograms and the delivery account come in already merged ([`Totals`]).
//!
//! Each shard's row describes the slice of the cell it ran (`ResultRow::new` of its sliced
//! cell), so shares of the load (producers, members, rate, every counter) add up; maxima
//! (the slowest send, the busiest thread or host) take the largest; identity columns (cell,
//! params, topic, settings) are the same on every shard and are taken from the first.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use crate::metrics::delivery::GroupAccount;
use crate::metrics::skew::Skew;
use crate::metrics::Percentiles;
use crate::rundir::rows::ResultRow;

/// The flag of a cell some shard's figures are missing from (named like the shard runner's).
pub const SHARD_LOST: &str = "shard-lost";

/// What the merge computed for a cell from the shards' files, beyond their rows.
#[derive(Debug, Clone)]
pub struct Totals {
    /// Every interval of every shard added up.
    pub publish: Histogram<u64>,
    pub e2e: Histogram<u64>,
    /// Acks and reads recorded in the shards' measurement intervals (the rates' numerators).
    pub acked_in_window: u64,
    pub consumed_in_window: u64,
    /// The account and consumer lag recomputed from every shard's evidence.
    pub delivery: GroupAccount,
    pub consumer_lag: u64,
}

/// Merge the shards' rows of one cell run (`rows` in shard order, at least one). `lost`: the
/// shards of the run that have no row for it (they died, or were not given to the merge).
pub fn merge_row(rows: &[&ResultRow], totals: &Totals, lost: &[u16]) -> ResultRow {
    let first = rows[0];
    let sum = |f: fn(&ResultRow) -> u64| rows.iter().map(|r| f(r)).sum::<u64>();
    let sum_us = |f: fn(&ResultRow) -> usize| rows.iter().map(|r| f(r)).sum::<usize>();
    let max_f = |f: fn(&ResultRow) -> f64| rows.iter().map(|r| f(r)).fold(0.0, f64::max);
    // The common measurement window: the shards start measuring together at the cell's
    // barrier, so the longest window covers them all; summed counts over it are the rates.
    let window = max_f(|r| r.measure_secs);
    let per_sec = |n: f64| if window > 0.0 { n / window } else { 0.0 };
    // Counts the files keep only as a rate over each shard's own window.
    let count_of = |f: fn(&ResultRow) -> f64| rows.iter().map(|r| f(r) * r.measure_secs).sum();
    let busiest = rows
        .iter()
        .max_by(|a, b| {
            a.busiest_producer_thread
                .total_cmp(&b.busiest_producer_thread)
        })
        .unwrap_or(&first);
    let (pb, e2e) = (
        Percentiles::of(&totals.publish),
        Percentiles::of(&totals.e2e),
    );
    let acked_pp = add_lists(rows.iter().map(|r| r.acked_per_partition.as_str()));
    let consumed_pp = add_lists(rows.iter().map(|r| r.consumed_per_partition.as_str()));
    let acked_skew = skew(&acked_pp);
    let consumed_skew = skew(&consumed_pp);
    let with_faults: Vec<&&ResultRow> = rows.iter().filter(|r| r.faults > 0).collect();
    let mut merged = ResultRow {
        producers: sum_us(|r| r.producers),
        rate: add_rates(rows),
        members: sum_us(|r| r.members),
        measure_secs: round3(window),
        offered: sum(|r| r.offered),
        sent: sum(|r| r.sent),
        acked: sum(|r| r.acked),
        failed: sum(|r| r.failed),
        consumed: sum(|r| r.consumed),
        sent_per_sec: round3(per_sec(count_of(|r| r.sent_per_sec))),
        acked_per_sec: round3(per_sec(totals.acked_in_window as f64)),
        acked_mb_per_sec: round3(per_sec(count_of(|r| r.acked_mb_per_sec))),
        consumed_per_sec: round3(per_sec(totals.consumed_in_window as f64)),
        consumed_mb_per_sec: round3(per_sec(count_of(|r| r.consumed_mb_per_sec))),
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
        consumer_lag: totals.consumer_lag,
        idle_members: sum_us(|r| r.idle_members),
        lost: totals.delivery.lost,
        duplicated: totals.delivery.duplicated,
        reordered: totals.delivery.reordered,
        redelivered: totals.delivery.redelivered,
        // Shard 0 alone carries out faults; the others' rows have none.
        faults: rows.iter().map(|r| r.faults).max().unwrap_or(0),
        fault_unavailable_ms: rows.iter().filter_map(|r| r.fault_unavailable_ms).max(),
        fault_first_error_ms: rows.iter().filter_map(|r| r.fault_first_error_ms).min(),
        // Like one process: empty when some fault never recovered.
        fault_recover_ms: if with_faults.iter().any(|r| r.fault_recover_ms.is_none()) {
            None
        } else {
            with_faults.iter().filter_map(|r| r.fault_recover_ms).max()
        },
        queue_full: sum(|r| r.queue_full),
        late_sends: sum(|r| r.late_sends),
        unsent: sum(|r| r.unsent),
        follow_reopens: sum(|r| r.follow_reopens),
        follow_unsent_bytes: sum(|r| r.follow_unsent_bytes),
        max_send_lag_us: rows.iter().map(|r| r.max_send_lag_us).max().unwrap_or(0),
        // kbench's CPU on every load host together; the busiest thread and host of any.
        kbench_cpu_cores: round3(rows.iter().map(|r| r.kbench_cpu_cores).sum()),
        busiest_producer_thread: busiest.busiest_producer_thread,
        busiest_producer_wait: busiest.busiest_producer_wait,
        host_cpu_busy: max_f(|r| r.host_cpu_busy),
        errors: add_errors(rows),
        acked_per_partition: join(&acked_pp),
        consumed_per_partition: join(&consumed_pp),
        acked_skew_max_mean: acked_skew.max_over_mean,
        acked_skew_cv: acked_skew.cv,
        consumed_skew_max_mean: consumed_skew.max_over_mean,
        consumed_skew_cv: consumed_skew.cv,
        flags: String::new(),
        tx_committed: sum(|r| r.tx_committed),
        tx_aborted: sum(|r| r.tx_aborted),
        tx_failed: sum(|r| r.tx_failed),
        tx_committed_per_sec: round3(per_sec(count_of(|r| r.tx_committed_per_sec))),
        tx_aborted_per_sec: round3(per_sec(count_of(|r| r.tx_aborted_per_sec))),
        // No commit histogram is kept on disk: the slowest shard's figures bound the run's.
        commit_p50_us: rows.iter().map(|r| r.commit_p50_us).max().unwrap_or(0),
        commit_p99_us: rows.iter().map(|r| r.commit_p99_us).max().unwrap_or(0),
        commit_max_us: rows.iter().map(|r| r.commit_max_us).max().unwrap_or(0),
        aborted_messages: sum(|r| r.aborted_messages),
        aborted_seen: totals.delivery.aborted_seen,
        // Rebalances: the most any shard's member saw; pauses counted over every shard, the
        // longest of any (a median needs the pauses themselves: left empty).
        rebalances: rows.iter().map(|r| r.rebalances).max().unwrap_or(0),
        rebalance_pauses: sum_us(|r| r.rebalance_pauses),
        rebalance_pause_median_ms: None,
        rebalance_pause_max_ms: rows
            .iter()
            .filter_map(|r| r.rebalance_pause_max_ms)
            .reduce(f64::max),
        first_assignment_max_ms: rows
            .iter()
            .filter_map(|r| r.first_assignment_max_ms)
            .reduce(f64::max),
        ..first.clone()
    };
    merge_distributed_columns(rows, lost, &mut merged);
    merged
}

/// The shard runner's columns (issue 11): flags are unioned (a cell flagged on any shard is
/// flagged), `shard-lost` is added for shards without a row, `shards_lost` is the union of the
/// shards any row names and those missing here, and the clock bound is the largest any shard
/// stated (each shard's bound already covers its offset and shard 0's).
fn merge_distributed_columns(rows: &[&ResultRow], lost: &[u16], merged: &mut ResultRow) {
    let mut flags: Vec<&str> = Vec::new();
    for f in rows.iter().flat_map(|r| r.flags.split(';')) {
        if !f.is_empty() && !flags.contains(&f) {
            flags.push(f);
        }
    }
    let mut shards: Vec<u16> = rows
        .iter()
        .flat_map(|r| r.shards_lost.split(';'))
        .filter_map(|s| s.trim().parse().ok())
        .chain(lost.iter().copied())
        .collect();
    shards.sort_unstable();
    shards.dedup();
    if !shards.is_empty() && !flags.contains(&SHARD_LOST) {
        flags.push(SHARD_LOST);
    }
    merged.flags = flags.join(";");
    merged.shards_lost = shards
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(";");
    merged.e2e_clock_bound_us = rows.iter().filter_map(|r| r.e2e_clock_bound_us).max();
}

/// Offered rates add up (each shard offers its slice); `max` (as fast as possible) stays.
fn add_rates(rows: &[&ResultRow]) -> String {
    let rates: Option<Vec<f64>> = rows.iter().map(|r| r.rate.parse::<f64>().ok()).collect();
    match rates {
        Some(r) => r.iter().sum::<f64>().to_string(),
        None => rows[0].rate.clone(),
    }
}

/// `kind=count;...` of every row, added by kind (sorted by kind, as one process writes them).
fn add_errors(rows: &[&ResultRow]) -> String {
    let mut by_kind: BTreeMap<&str, u64> = BTreeMap::new();
    for part in rows.iter().flat_map(|r| r.errors.split(';')) {
        if let Some((k, v)) = part.split_once('=') {
            *by_kind.entry(k).or_default() += v.parse::<u64>().unwrap_or(0);
        }
    }
    by_kind
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(";")
}

/// `p0;p1;...` lists added element by element.
fn add_lists<'a>(lists: impl Iterator<Item = &'a str>) -> Vec<u64> {
    let mut out: Vec<u64> = Vec::new();
    for l in lists {
        for (i, v) in l.split(';').filter(|v| !v.is_empty()).enumerate() {
            if out.len() <= i {
                out.resize(i + 1, 0);
            }
            out[i] += v.parse::<u64>().unwrap_or(0);
        }
    }
    out
}

fn join(v: &[u64]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

fn skew(counts: &[u64]) -> Skew {
    let s = Skew::of(counts).unwrap_or_default();
    Skew {
        max_over_mean: round3(s.max_over_mean),
        cv: round3(s.cv),
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merge::hlogs;

    fn row(shard: u64) -> ResultRow {
        ResultRow {
            cell: "c".into(),
            producers: 2,
            members: 1,
            rate: "500".into(),
            measure_secs: 10.0 + shard as f64 * 0.01,
            offered: 5000 + shard,
            sent: 5000,
            acked: 4990,
            consumed: 4990,
            sent_per_sec: 500.0,
            acked_mb_per_sec: 0.5,
            max_send_lag_us: 100 * (shard + 1),
            kbench_cpu_cores: 0.25,
            busiest_producer_thread: 0.1 * (shard + 1) as f64,
            busiest_producer_wait: 0.01 * (shard + 1) as f64,
            errors: format!("timed_out={};broker_down=1", shard + 1),
            acked_per_partition: "10;20".into(),
            consumed_per_partition: "10;20;5".into(),
            flags: if shard == 0 {
                "queue-full".into()
            } else {
                "queue-full;drain-timeout".into()
            },
            ..ResultRow::default()
        }
    }

    #[test]
    fn counters_add_maxima_take_the_largest_and_flags_are_unioned() {
        let (a, b) = (row(0), row(1));
        let mut publish = hlogs::empty();
        publish.record_n(1_000, 9_980).unwrap();
        let totals = Totals {
            publish: publish.clone(),
            e2e: publish,
            acked_in_window: 9_000,
            consumed_in_window: 8_080,
            delivery: GroupAccount {
                lost: 3,
                ..GroupAccount::default()
            },
            consumer_lag: 7,
        };
        let m = merge_row(&[&a, &b], &totals, &[2]);
        assert_eq!((m.producers, m.members, m.rate.as_str()), (4, 2, "1000"));
        assert_eq!((m.offered, m.sent, m.acked), (10_001, 10_000, 9_980));
        assert_eq!(m.measure_secs, 10.01);
        assert_eq!(m.acked_per_sec, round3(9_000.0 / 10.01));
        assert_eq!(m.consumed_per_sec, round3(8_080.0 / 10.01));
        // 500/s over 10 s plus 500/s over 10.01 s, over the common 10.01 s.
        assert_eq!(m.sent_per_sec, round3((5000.0 + 5005.0) / 10.01));
        assert_eq!((m.publish_p50_us / 10, m.lost, m.consumer_lag), (100, 3, 7));
        assert_eq!((m.max_send_lag_us, m.kbench_cpu_cores), (200, 0.5));
        assert_eq!(
            (m.busiest_producer_thread, m.busiest_producer_wait),
            (0.2, 0.02)
        );
        assert_eq!(m.errors, "broker_down=2;timed_out=3");
        assert_eq!(
            (
                m.acked_per_partition.as_str(),
                m.consumed_per_partition.as_str()
            ),
            ("20;40", "20;40;10")
        );
        assert_eq!(m.flags, "queue-full;drain-timeout;shard-lost");
        assert_eq!(merge_row(&[&a], &totals, &[]).flags, "queue-full");
    }
}
