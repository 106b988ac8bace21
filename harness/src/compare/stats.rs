//! Spread of repeated measurements, deltas and verdicts. Pure.
//!
//! The noise rule: the medians of baseline and current are compared; a change beyond the
//! threshold is a regression only when each run's median lies outside the other run's range
//! (min..max over the repeats of a cell), on the bad side: the current median is worse than
//! every baseline repeat and the baseline median is better than every current repeat. If not,
//! the runs overlap too much to tell a shift from their own variation and the change is
//! reported as `noise`. A single run has a zero-width range, so with one run on each side this
//! is the plain threshold test.

use super::thresholds::{Direction, Metric, Threshold};

/// Median and range of one cell's repeats for one metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` when there are no (finite) values.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Spread {
            n,
            median,
            min: v[0],
            max: v[n - 1],
        })
    }
}

/// Has `current` moved away from `baseline` in `direction` by more than the two runs vary:
/// the current median beyond every baseline repeat, and the baseline median short of every
/// current repeat?
pub fn apart(baseline: &Spread, current: &Spread, direction: Direction) -> bool {
    match direction {
        Direction::Rise => current.median > baseline.max && baseline.median < current.min,
        Direction::Fall => current.median < baseline.min && baseline.median > current.max,
    }
}

/// Change of `current` against `baseline`, in percent of the baseline.
pub fn delta_pct(baseline: f64, current: f64) -> f64 {
    if baseline == 0.0 {
        if current == 0.0 {
            0.0
        } else {
            f64::INFINITY.copysign(current)
        }
    } else {
        (current - baseline) / baseline.abs() * 100.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the threshold.
    Ok,
    /// Beyond the threshold, and the runs are [`apart`].
    Regressed,
    /// Beyond the threshold, but the runs are not [`apart`]: within their own variation.
    Noise,
    /// Beyond the threshold in the good direction, and apart. Never fails.
    Improved,
    /// The baseline has data for this latency but the current run has none. Fails when the
    /// metric has a threshold.
    NoData,
    /// Nothing to compare: the baseline has no data for this latency.
    NotApplicable,
    /// No threshold on this metric: shown for information.
    Info,
}

impl Verdict {
    pub fn text(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Regressed => "REGRESSED",
            Verdict::Noise => "noise",
            Verdict::Improved => "improved",
            Verdict::NoData => "NO DATA",
            Verdict::NotApplicable => "n/a",
            Verdict::Info => "-",
        }
    }

    /// Does this verdict fail the comparison?
    pub fn fails(self) -> bool {
        matches!(self, Verdict::Regressed | Verdict::NoData)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// Change of the medians in percent; `None` when there is nothing to compare.
    pub delta_pct: Option<f64>,
    pub verdict: Verdict,
}

/// Judge one metric of one cell.
pub fn judge(
    baseline: Option<&Spread>,
    current: Option<&Spread>,
    threshold: Option<&Threshold>,
) -> Outcome {
    let (b, c) = match (baseline, current) {
        (None, _) => {
            return Outcome {
                delta_pct: None,
                verdict: Verdict::NotApplicable,
            }
        }
        (Some(_), None) => {
            return Outcome {
                delta_pct: None,
                verdict: if threshold.is_some() {
                    Verdict::NoData
                } else {
                    Verdict::Info
                },
            }
        }
        (Some(b), Some(c)) => (b, c),
    };
    let delta = delta_pct(b.median, c.median);
    let verdict = match threshold {
        None => Verdict::Info,
        Some(t) if t.crossed(delta) => {
            if apart(b, c, t.direction) {
                Verdict::Regressed
            } else {
                Verdict::Noise
            }
        }
        Some(t) => {
            let opposite = Threshold {
                direction: match t.direction {
                    Direction::Fall => Direction::Rise,
                    Direction::Rise => Direction::Fall,
                },
                ..*t
            };
            if opposite.crossed(delta) && apart(b, c, opposite.direction) {
                Verdict::Improved
            } else {
                Verdict::Ok
            }
        }
    };
    Outcome {
        delta_pct: Some(delta),
        verdict,
    }
}

/// How bad a change is for ranking cells (positive = worse), whatever the threshold.
pub fn badness(metric: Metric, delta_pct: f64) -> f64 {
    match metric.bad_direction() {
        Direction::Rise => delta_pct,
        Direction::Fall => -delta_pct,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[f64]) -> Spread {
        Spread::of(v).unwrap()
    }

    #[test]
    fn median_and_range() {
        assert_eq!(
            s(&[3.0, 1.0, 2.0]),
            Spread {
                n: 3,
                median: 2.0,
                min: 1.0,
                max: 3.0
            }
        );
        assert_eq!(s(&[4.0, 1.0, 2.0, 10.0]).median, 3.0);
        assert_eq!(s(&[7.0]).median, 7.0);
        assert!(Spread::of(&[]).is_none());
        assert!(Spread::of(&[f64::NAN]).is_none());
    }

    #[test]
    fn deltas() {
        assert_eq!(delta_pct(100.0, 90.0), -10.0);
        assert_eq!(delta_pct(200.0, 250.0), 25.0);
        assert_eq!(delta_pct(0.0, 0.0), 0.0);
        assert_eq!(delta_pct(0.0, 5.0), f64::INFINITY);
    }

    #[test]
    fn single_runs_use_the_plain_threshold() {
        let t = Threshold::new(Metric::Throughput, -10.0);
        let v = |b: f64, c: f64| judge(Some(&s(&[b])), Some(&s(&[c])), Some(&t)).verdict;
        assert_eq!(v(1000.0, 950.0), Verdict::Ok);
        assert_eq!(v(1000.0, 899.0), Verdict::Regressed);
        assert_eq!(v(1000.0, 1200.0), Verdict::Improved);
        assert_eq!(v(1000.0, 1050.0), Verdict::Ok);
        let t = Threshold::new(Metric::P99, 20.0);
        let v = |b: f64, c: f64| judge(Some(&s(&[b])), Some(&s(&[c])), Some(&t)).verdict;
        assert_eq!(v(10_000.0, 12_500.0), Verdict::Regressed);
        assert_eq!(v(10_000.0, 11_900.0), Verdict::Ok);
        assert_eq!(v(10_000.0, 5_000.0), Verdict::Improved);
    }

    #[test]
    fn repeats_within_each_others_range_are_noise_not_regression() {
        let t = Threshold::new(Metric::P99, 20.0);
        // Medians 10 -> 13 ms (+30%), but the baseline itself once took 14 ms.
        let b = s(&[9_000.0, 10_000.0, 14_000.0]);
        let c = s(&[12_000.0, 13_000.0, 13_500.0]);
        let o = judge(Some(&b), Some(&c), Some(&t));
        assert_eq!(o.verdict, Verdict::Noise);
        assert!((o.delta_pct.unwrap() - 30.0).abs() < 1e-9);
        assert!(!o.verdict.fails());
        // The current median beyond every baseline repeat, but one current repeat as good as
        // the baseline median: still noise.
        let c = s(&[9_500.0, 14_500.0, 15_000.0]);
        assert_eq!(judge(Some(&b), Some(&c), Some(&t)).verdict, Verdict::Noise);
        // Ranges may touch at the edges as long as each median is outside the other range.
        let c = s(&[11_000.0, 14_500.0, 16_000.0]);
        assert_eq!(
            judge(Some(&b), Some(&c), Some(&t)).verdict,
            Verdict::Regressed
        );
        let c = s(&[14_500.0, 15_000.0, 16_000.0]);
        assert_eq!(
            judge(Some(&b), Some(&c), Some(&t)).verdict,
            Verdict::Regressed
        );
        // Within the threshold, whatever the ranges.
        let c = s(&[10_500.0, 11_000.0, 11_500.0]);
        assert_eq!(judge(Some(&b), Some(&c), Some(&t)).verdict, Verdict::Ok);
    }

    #[test]
    fn apart_is_directional() {
        let b = s(&[900.0, 1000.0, 1100.0]);
        let c = s(&[700.0, 800.0, 850.0]);
        assert!(apart(&b, &c, Direction::Fall));
        assert!(!apart(&b, &c, Direction::Rise));
        assert!(!apart(&b, &b, Direction::Fall));
        // Single runs: apart whenever the values differ in that direction.
        assert!(apart(&s(&[1.0]), &s(&[1.5]), Direction::Rise));
        assert!(!apart(&s(&[1.0]), &s(&[1.0]), Direction::Rise));
    }

    #[test]
    fn missing_data() {
        let t = Threshold::new(Metric::E2eP99, 20.0);
        let b = s(&[10.0]);
        assert_eq!(
            judge(None, Some(&b), Some(&t)).verdict,
            Verdict::NotApplicable
        );
        assert_eq!(judge(None, None, Some(&t)).verdict, Verdict::NotApplicable);
        let o = judge(Some(&b), None, Some(&t));
        assert_eq!(o.verdict, Verdict::NoData);
        assert!(o.verdict.fails());
        assert_eq!(judge(Some(&b), None, None).verdict, Verdict::Info);
        assert_eq!(judge(Some(&b), Some(&b), None).verdict, Verdict::Info);
    }

    #[test]
    fn badness_points_the_bad_way() {
        assert_eq!(badness(Metric::Throughput, -20.0), 20.0);
        assert_eq!(badness(Metric::P99, -20.0), -20.0);
    }
}
