//! Interval logs of one cell, merged across shards by HdrHistogram addition: interval k of the
//! merge is the sum of interval k of every shard (shards start each cell together at their
//! barrier and tick once a second, so their k-th intervals cover the same second). Pure.

use hdrhistogram::Histogram;

use crate::rundir::hlog::LogInterval;

/// An empty histogram that grows to whatever bounds it is added to, so adding never fails on
/// histograms of kbench's bounds (and of other tools').
pub fn empty() -> Histogram<u64> {
    let mut h = Histogram::new(3).expect("3 significant digits is valid");
    h.auto(true);
    h
}

/// Add `b` into `a`: exact, counts add bucket by bucket.
pub fn add(a: &mut Histogram<u64>, b: &Histogram<u64>) -> Result<(), String> {
    a.add(b)
        .map_err(|e| format!("cannot add histograms: {e:?}"))
}

/// Where a tag falls in a cell, so that a merged interval whose shards disagree (a timer tick
/// that came late on one host) takes the later phase: a measured message is never hidden in
/// an interval tagged warm-up (which the reports leave out).
fn phase_rank(tag: &str) -> u8 {
    match tag {
        "warmup" => 0,
        "measure" => 1,
        "drain" => 2,
        _ => 3,
    }
}

/// The later of two phase names (see [`phase_rank`]).
pub fn later_phase<'a>(a: &'a str, b: &'a str) -> &'a str {
    if phase_rank(b) > phase_rank(a) {
        b
    } else {
        a
    }
}

/// Merge the shards' intervals of one cell index by index. A shard with fewer intervals (its
/// drain ended sooner) simply adds nothing to the later ones.
pub fn merge(shards: &[Vec<LogInterval>]) -> Result<Vec<LogInterval>, String> {
    let n = shards.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = Vec::with_capacity(n);
    for k in 0..n {
        let mut parts = shards.iter().filter_map(|s| s.get(k));
        let Some(first) = parts.next() else { continue };
        let mut m = LogInterval {
            start_s: first.start_s,
            secs: first.secs,
            tag: first.tag.clone(),
            histogram: empty(),
        };
        add(&mut m.histogram, &first.histogram)?;
        let mut end = first.start_s + first.secs;
        for p in parts {
            add(&mut m.histogram, &p.histogram)?;
            m.start_s = m.start_s.min(p.start_s);
            end = end.max(p.start_s + p.secs);
            m.tag = later_phase(&m.tag, &p.tag).to_string();
        }
        m.secs = end - m.start_s;
        out.push(m);
    }
    Ok(out)
}

/// Every interval added up: the cell's histogram, as `results.csv`'s percentiles are taken
/// from (every interval, since only measured messages are ever recorded).
pub fn total(intervals: &[LogInterval]) -> Result<Histogram<u64>, String> {
    let mut h = empty();
    for i in intervals {
        add(&mut h, &i.histogram)?;
    }
    Ok(h)
}

/// Messages recorded in the intervals tagged `measure`: exactly the acks (publish) or reads
/// (end-to-end) a cell's rates are computed from.
pub fn measured_count(intervals: &[LogInterval]) -> u64 {
    intervals
        .iter()
        .filter(|i| i.tag == "measure")
        .map(|i| i.histogram.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::histogram::new_histogram;
    use crate::metrics::Percentiles;

    fn interval(start: f64, tag: &str, values: &[u64]) -> LogInterval {
        let mut h = new_histogram();
        for v in values {
            h.record(*v).unwrap();
        }
        LogInterval {
            start_s: start,
            secs: 1.0,
            tag: tag.into(),
            histogram: h,
        }
    }

    /// Merged counts are the sums, and the percentiles of the merge are those of one
    /// histogram holding every value (never an average of the shards' percentiles).
    #[test]
    fn addition_is_exact_and_percentiles_are_those_of_the_union() {
        // Shard 0 fast, shard 1 slow: averaging their p99s would be badly wrong.
        let fast: Vec<u64> = (1..=9_000).map(|i| 100 + i % 900).collect();
        let slow: Vec<u64> = (1..=1_000).map(|i| 50_000 + i * 37).collect();
        let a = vec![
            interval(0.0, "warmup", &fast[..10]),
            interval(1.0, "measure", &fast[10..]),
        ];
        let b = vec![
            interval(0.002, "warmup", &[]),
            interval(1.001, "measure", &slow[..900]),
            interval(2.0, "drain", &slow[900..]),
        ];
        let merged = merge(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(merged.len(), 3);
        let counts: Vec<u64> = merged.iter().map(|i| i.histogram.len()).collect();
        assert_eq!(counts, vec![10, 8_990 + 900, 100]);
        assert_eq!(
            (merged[1].start_s, merged[1].tag.as_str()),
            (1.0, "measure")
        );
        assert!((merged[1].secs - 1.001).abs() < 1e-9);
        assert_eq!(measured_count(&merged), 9_890);

        let mut union = new_histogram();
        for v in fast.iter().chain(&slow) {
            union.record(*v).unwrap();
        }
        let t = total(&merged).unwrap();
        assert_eq!(t.len(), 10_000);
        assert_eq!(Percentiles::of(&t), Percentiles::of(&union));
        for q in [0.5, 0.9, 0.99, 0.999, 1.0] {
            assert_eq!(t.value_at_quantile(q), union.value_at_quantile(q), "q={q}");
        }
        let avg_p99 = (total(&a).unwrap().value_at_quantile(0.99)
            + total(&b).unwrap().value_at_quantile(0.99))
            / 2;
        assert_ne!(avg_p99, t.value_at_quantile(0.99));
    }

    #[test]
    fn disagreeing_tags_take_the_later_phase() {
        let m = merge(&[
            vec![interval(0.0, "warmup", &[5])],
            vec![interval(0.0, "measure", &[7])],
        ])
        .unwrap();
        assert_eq!(m[0].tag, "measure");
        assert_eq!(later_phase("drain", "measure"), "drain");
    }
}
