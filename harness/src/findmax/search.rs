//! The search strategy, apart from any cluster: which rate to probe next given the verdicts so
//! far. Pure, so it is tested with a fake "run at this rate -> pass / fail" oracle.
//!
//! 1. **Coarse, upwards**: probe `start`, then multiply by `factor` after every pass, until a
//!    probe fails (or `max_rate` passes).
//! 2. **Downwards**, only if the very first probe fails: divide by `factor` until one passes
//!    (or `min_rate` fails too).
//! 3. **Bisect** between the highest pass `lo` and the lowest failure above it `hi`, at their
//!    midpoint, until `hi - lo <= precision * lo`.
//!
//! Every phase stops after `max_steps` probes in all. The answer is always a rate that was
//! probed and passed, and every probe above it failed: a pass is only ever accepted below the
//! lowest failure seen, and bisection only probes between `lo` and `hi`. A noisy failure below
//! the true limit therefore makes the answer conservative (lower), never optimistic beyond
//! what a probe actually showed.

use serde::Serialize;

/// How to search, for one cell.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchParams {
    /// First rate probed, msg/s.
    pub start: f64,
    /// Coarse step multiplier, > 1.
    pub factor: f64,
    /// Stop bisecting when the bracket is this narrow relative to its lower end (0.05 = 5 %).
    pub precision: f64,
    /// At most this many probes per cell.
    pub max_steps: usize,
    /// Never probe above this rate (the coarse phase clamps to it).
    pub max_rate: Option<f64>,
    /// Never probe below this rate (stepping down stops here).
    pub min_rate: f64,
}

impl SearchParams {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.start.is_finite() && self.start > 0.0) {
            return Err(format!("--start must be > 0 msg/s, got {}", self.start));
        }
        if !(self.factor.is_finite() && self.factor > 1.0 && self.factor <= 100.0) {
            return Err(format!(
                "--factor must be above 1 (and at most 100), got {}",
                self.factor
            ));
        }
        if !(self.precision > 0.0 && self.precision < 1.0) {
            return Err(format!(
                "--precision must be between 0% and 100%, got {}%",
                self.precision * 100.0
            ));
        }
        if self.max_steps == 0 {
            return Err("--max-steps must be at least 1".into());
        }
        if let Some(m) = self.max_rate {
            if !(m.is_finite() && m >= self.min_rate) {
                return Err(format!("--max-rate must be >= {} msg/s", self.min_rate));
            }
        }
        Ok(())
    }
}

/// Which phase chose a probe's rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Coarse,
    Down,
    Bisect,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Coarse => "coarse",
            Phase::Down => "down",
            Phase::Bisect => "bisect",
        }
    }
}

/// The next probe.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    pub rate: f64,
    pub phase: Phase,
}

/// Why a search ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stop {
    /// The bracket between the highest pass and the lowest failure is within the precision.
    Converged,
    /// `max_rate` passed: the real limit is at least that.
    MaxRate,
    /// Even `min_rate` failed.
    NothingPassed,
    /// `max_steps` probes ran before the search finished.
    MaxSteps,
}

impl Stop {
    pub fn name(self) -> &'static str {
        match self {
            Stop::Converged => "converged",
            Stop::MaxRate => "max-rate",
            Stop::NothingPassed => "nothing-passed",
            Stop::MaxSteps => "max-steps",
        }
    }
}

/// Where a search stands (or ended).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outcome {
    /// The highest rate that passed with no failure at or below it. `None`: nothing passed.
    pub max: Option<f64>,
    /// The lowest failing rate above `max` (`None`: no probe above it failed, so `max` is
    /// only a lower bound).
    pub first_fail: Option<f64>,
    /// `None` while the search is still running.
    pub stop: Option<Stop>,
}

/// The search state machine: ask [`Search::next_step`] for a rate, run it, tell
/// [`Search::record`] the verdict.
#[derive(Debug, Clone)]
pub struct Search {
    params: SearchParams,
    /// Highest passing rate below every failure seen.
    lo: Option<f64>,
    /// Lowest failing rate above `lo`.
    hi: Option<f64>,
    steps: usize,
    stop: Option<Stop>,
}

impl Search {
    pub fn new(params: SearchParams) -> Result<Search, String> {
        params.validate()?;
        Ok(Search {
            params,
            lo: None,
            hi: None,
            steps: 0,
            stop: None,
        })
    }

    /// The next rate to probe, or `None` when the search is over (see [`Search::outcome`]).
    pub fn next_step(&mut self) -> Option<Step> {
        if self.stop.is_some() {
            return None;
        }
        let step = self.choose();
        if step.is_some() && self.steps >= self.params.max_steps {
            self.stop = Some(Stop::MaxSteps);
            return None;
        }
        step
    }

    fn choose(&mut self) -> Option<Step> {
        let p = &self.params;
        let clamp = |r: f64| {
            let r = p.max_rate.map_or(r, |m| r.min(m));
            r.max(p.min_rate)
        };
        match (self.lo, self.hi) {
            (None, None) => Some(Step {
                rate: clamp(p.start),
                phase: Phase::Coarse,
            }),
            (Some(lo), None) => {
                if p.max_rate.is_some_and(|m| lo >= m) {
                    self.stop = Some(Stop::MaxRate);
                    return None;
                }
                // Rounding must never bring a step back onto a rate already probed.
                let up = Some(nice_rate(lo * p.factor))
                    .filter(|r| *r > lo)
                    .unwrap_or(lo * p.factor);
                Some(Step {
                    rate: clamp(up),
                    phase: Phase::Coarse,
                })
            }
            (None, Some(hi)) => {
                if hi <= p.min_rate {
                    self.stop = Some(Stop::NothingPassed);
                    return None;
                }
                let down = Some(nice_rate(hi / p.factor))
                    .filter(|r| *r < hi)
                    .unwrap_or(hi / p.factor);
                Some(Step {
                    rate: clamp(down),
                    phase: Phase::Down,
                })
            }
            (Some(lo), Some(hi)) => {
                let mid = nice_rate((lo + hi) / 2.0);
                if hi - lo <= p.precision * lo || mid <= lo || mid >= hi {
                    self.stop = Some(Stop::Converged);
                    return None;
                }
                Some(Step {
                    rate: mid,
                    phase: Phase::Bisect,
                })
            }
        }
    }

    /// The verdict of a probe at `rate`.
    pub fn record(&mut self, rate: f64, pass: bool) {
        self.steps += 1;
        if pass {
            // A pass at or above a known failure proves nothing about the rates between.
            if self.hi.is_none_or(|h| rate < h) && self.lo.is_none_or(|l| rate > l) {
                self.lo = Some(rate);
            }
        } else if self.lo.is_none_or(|l| rate > l) && self.hi.is_none_or(|h| rate < h) {
            self.hi = Some(rate);
        }
    }

    pub fn outcome(&self) -> Outcome {
        Outcome {
            max: self.lo,
            first_fail: self.hi.filter(|h| self.lo.is_none_or(|l| *h > l)),
            stop: self.stop,
        }
    }

    pub fn steps(&self) -> usize {
        self.steps
    }
}

/// Round a rate to 4 significant digits (whole msg/s below 1000, at least 1), so probed rates
/// read well in reports without costing precision (0.1 % at worst).
pub fn nice_rate(r: f64) -> f64 {
    if !r.is_finite() || r <= 1.0 {
        return 1.0;
    }
    if r < 1000.0 {
        return r.round();
    }
    let digits = r.log10().floor() as i32;
    let unit = 10f64.powi(digits - 3);
    (r / unit).round() * unit
}

/// Run a whole search against an oracle (tests, and anything that can probe synchronously).
/// Returns every probe in order and the outcome.
pub fn run_with(
    params: SearchParams,
    mut oracle: impl FnMut(f64) -> bool,
) -> Result<(Vec<(Step, bool)>, Outcome), String> {
    let mut s = Search::new(params)?;
    let mut probes = Vec::new();
    while let Some(step) = s.next_step() {
        let pass = oracle(step.rate);
        s.record(step.rate, pass);
        probes.push((step, pass));
    }
    Ok((probes, s.outcome()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(start: f64) -> SearchParams {
        SearchParams {
            start,
            factor: 2.0,
            precision: 0.05,
            max_steps: 30,
            max_rate: None,
            min_rate: 1.0,
        }
    }

    /// The contract every search result keeps, whatever the oracle said.
    fn check_invariants(probes: &[(Step, bool)], out: &Outcome, p: &SearchParams) {
        assert!(probes.len() <= p.max_steps);
        if let Some(max) = out.max {
            assert!(
                probes.iter().any(|(s, pass)| s.rate == max && *pass),
                "the max {max} is a passing probe: {probes:?}"
            );
            for (s, pass) in probes {
                if s.rate > max {
                    assert!(!pass, "probe above the max passed: {probes:?}");
                }
            }
        } else {
            assert!(probes.iter().all(|(_, pass)| !pass) || out.stop == Some(Stop::MaxSteps));
        }
        if let (Some(max), Some(fail)) = (out.max, out.first_fail) {
            assert!(fail > max);
            assert!(probes.iter().any(|(s, pass)| s.rate == fail && !pass));
        }
    }

    #[test]
    fn coarse_doubling_then_bisection_converges_on_a_clean_limit() {
        let p = params(1000.0);
        let (probes, out) = run_with(p.clone(), |r| r <= 5300.0).unwrap();
        let rates: Vec<f64> = probes.iter().map(|(s, _)| s.rate).collect();
        assert_eq!(&rates[..4], &[1000.0, 2000.0, 4000.0, 8000.0]);
        assert!(probes[..3].iter().all(|(s, _)| s.phase == Phase::Coarse));
        assert!(probes[4..].iter().all(|(s, _)| s.phase == Phase::Bisect));
        assert_eq!(out.stop, Some(Stop::Converged));
        let (max, fail) = (out.max.unwrap(), out.first_fail.unwrap());
        assert!(max <= 5300.0 && fail > 5300.0, "{max} {fail}");
        assert!((fail - max) / max <= 0.05, "{max} {fail}");
        check_invariants(&probes, &out, &p);
        // 4 coarse probes, then 6000 F, 5000 P, 5500 F, 5250 P: 5250..5500 is within 5 %.
        assert_eq!(
            rates,
            vec![1000.0, 2000.0, 4000.0, 8000.0, 6000.0, 5000.0, 5500.0, 5250.0]
        );
    }

    #[test]
    fn a_failing_start_steps_down() {
        let p = params(1000.0);
        let (probes, out) = run_with(p.clone(), |r| r <= 180.0).unwrap();
        let rates: Vec<f64> = probes.iter().map(|(s, _)| s.rate).collect();
        assert_eq!(&rates[..4], &[1000.0, 500.0, 250.0, 125.0]);
        assert_eq!(probes[1].0.phase, Phase::Down);
        let max = out.max.unwrap();
        assert!((171.0..=180.0).contains(&max), "{max} {rates:?}");
        check_invariants(&probes, &out, &p);
    }

    #[test]
    fn nothing_passes_down_to_the_floor() {
        let p = SearchParams {
            min_rate: 100.0,
            ..params(1000.0)
        };
        let (probes, out) = run_with(p.clone(), |_| false).unwrap();
        let rates: Vec<f64> = probes.iter().map(|(s, _)| s.rate).collect();
        assert_eq!(rates, vec![1000.0, 500.0, 250.0, 125.0, 100.0]);
        assert_eq!(out.max, None);
        assert_eq!(out.stop, Some(Stop::NothingPassed));
    }

    #[test]
    fn max_rate_caps_the_climb_and_a_pass_there_ends_the_search() {
        let p = SearchParams {
            max_rate: Some(3000.0),
            ..params(1000.0)
        };
        let (probes, out) = run_with(p.clone(), |_| true).unwrap();
        let rates: Vec<f64> = probes.iter().map(|(s, _)| s.rate).collect();
        assert_eq!(rates, vec![1000.0, 2000.0, 3000.0]);
        assert_eq!((out.max, out.first_fail), (Some(3000.0), None));
        assert_eq!(out.stop, Some(Stop::MaxRate));
    }

    #[test]
    fn max_steps_leaves_a_lower_bound() {
        let p = SearchParams {
            max_steps: 3,
            ..params(500.0)
        };
        let (probes, out) = run_with(p.clone(), |_| true).unwrap();
        assert_eq!(probes.len(), 3);
        assert_eq!((out.max, out.first_fail), (Some(2000.0), None));
        assert_eq!(out.stop, Some(Stop::MaxSteps));
        check_invariants(&probes, &out, &p);
    }

    #[test]
    fn non_monotonic_noise_keeps_the_contract() {
        // True limit 6000, but some rates below it fail at random and some above it pass:
        // whatever happens, the answer is a passing probe with only failures above it.
        for seed in 0..500u64 {
            let mut x = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut noise = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x % 1000) as f64 / 1000.0
            };
            let p = SearchParams {
                start: 300.0 + (seed % 7) as f64 * 400.0,
                factor: 1.5 + (seed % 3) as f64 * 0.5,
                max_steps: 6 + (seed % 10) as usize,
                ..params(0.0)
            };
            let (probes, out) = run_with(p.clone(), |r| {
                let flip = noise() < 0.2;
                (r <= 6000.0) != flip
            })
            .unwrap();
            check_invariants(&probes, &out, &p);
            let mut seen: Vec<f64> = probes.iter().map(|(s, _)| s.rate).collect();
            seen.sort_by(f64::total_cmp);
            seen.dedup();
            assert_eq!(seen.len(), probes.len(), "no rate probed twice: {probes:?}");
        }
    }

    #[test]
    fn a_noisy_pass_above_a_failure_is_not_believed() {
        let mut s = Search::new(params(1000.0)).unwrap();
        s.record(1000.0, true);
        s.record(2000.0, false);
        s.record(4000.0, true); // not something the search asks for, but record must cope
        assert_eq!(s.outcome().max, Some(1000.0));
        assert_eq!(s.outcome().first_fail, Some(2000.0));
        s.record(500.0, false); // a failure below the max: the bracket stays
        assert_eq!(s.outcome().max, Some(1000.0));
    }

    #[test]
    fn rounding_never_repeats_a_rate_with_a_small_factor() {
        let p = SearchParams {
            factor: 1.05,
            max_steps: 40,
            ..params(2.0)
        };
        let (probes, out) = run_with(p.clone(), |r| r <= 7.0).unwrap();
        let rates: Vec<f64> = probes.iter().map(|(s, _)| s.rate).collect();
        assert!(rates.windows(2).all(|w| w[1] > w[0]), "{rates:?}");
        assert!(out.max.unwrap() <= 7.0);
        check_invariants(&probes, &out, &p);
    }

    #[test]
    fn nice_rates() {
        assert_eq!(nice_rate(1234.5), 1235.0);
        assert_eq!(nice_rate(123_456.0), 123_500.0);
        assert_eq!(nice_rate(99.6), 100.0);
        assert_eq!(nice_rate(0.2), 1.0);
        assert_eq!(nice_rate(5062.5), 5063.0);
    }

    #[test]
    fn bad_parameters_are_refused() {
        for p in [
            SearchParams {
                factor: 1.0,
                ..params(1000.0)
            },
            SearchParams {
                precision: 0.0,
                ..params(1000.0)
            },
            SearchParams {
                max_steps: 0,
                ..params(1000.0)
            },
            params(-5.0),
        ] {
            assert!(Search::new(p).is_err());
        }
    }
}
