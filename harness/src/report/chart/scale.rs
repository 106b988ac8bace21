//! Axis scales and tick marks, computed here rather than by plotters so that linear and log
//! axes have the same coordinate type (a log axis is plotted in log10 space) and every tick
//! gets a short, readable label ("2k", "0.5", "99.9%"). Pure.

use std::ops::Range;

/// Where the ticks of one axis go, in plot coordinates, and what each says.
#[derive(Debug, Clone, PartialEq)]
pub struct Ticks {
    pub range: Range<f64>,
    pub at: Vec<f64>,
    pub labels: Vec<String>,
}

impl Ticks {
    /// Categories at 0, 1, 2, ... (a swept axis's values, or cells).
    pub fn categories(labels: Vec<String>) -> Ticks {
        let n = labels.len().max(1) as f64;
        Ticks {
            range: -0.5..n - 0.5,
            at: (0..labels.len()).map(|i| i as f64).collect(),
            labels,
        }
    }

    /// The label of the tick at `x`, or "" between ticks (plotters asks for other positions).
    pub fn label_at(&self, x: f64) -> String {
        let tol = (self.range.end - self.range.start).abs() * 1e-6;
        self.at
            .iter()
            .position(|t| (t - x).abs() <= tol)
            .map(|i| self.labels[i].clone())
            .unwrap_or_default()
    }
}

/// A value axis: linear (from zero or not) or logarithmic.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scale {
    pub log: bool,
    lo: f64,
    hi: f64,
}

/// The smallest value a log axis shows: zeros ("no data") are clamped here, not dropped.
const LOG_FLOOR: f64 = 1e-3;

impl Scale {
    /// A linear axis covering `values`, widened to round tick steps; from zero if `from_zero`.
    pub fn linear(values: impl IntoIterator<Item = f64>, from_zero: bool) -> Scale {
        let (mut lo, mut hi) = bounds(values);
        if from_zero {
            lo = lo.min(0.0);
        }
        if !lo.is_finite() || !hi.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        if hi <= lo {
            hi = lo + lo.abs().max(1.0);
        }
        let step = nice_step((hi - lo) / 5.0);
        Scale {
            log: false,
            lo: (lo / step).floor() * step,
            hi: (hi / step).ceil() * step,
        }
    }

    /// A log axis covering the positive `values`, widened to 1-2-5 bounds.
    pub fn log(values: impl IntoIterator<Item = f64>) -> Scale {
        let (lo, hi) = bounds(values.into_iter().filter(|v| *v > 0.0));
        let (lo, hi) = if lo.is_finite() {
            (lo.max(LOG_FLOOR), hi.max(LOG_FLOOR))
        } else {
            (1.0, 10.0)
        };
        let mut lo = one_two_five_below(lo);
        let mut hi = one_two_five_above(hi);
        if hi <= lo {
            (lo, hi) = (lo / 2.0, hi * 2.0);
        }
        Scale { log: true, lo, hi }
    }

    /// Latency: log when the values span a decade or more (p50 and p99.9 often do), so both the
    /// body and the tail stay legible; linear from zero otherwise.
    pub fn latency(values: impl IntoIterator<Item = f64>) -> Scale {
        let v: Vec<f64> = values.into_iter().filter(|v| *v > 0.0).collect();
        let (lo, hi) = bounds(v.iter().copied());
        if lo.is_finite() && hi / lo >= 10.0 {
            Scale::log(v)
        } else {
            Scale::linear(v, true)
        }
    }

    /// A value's position on the plot.
    pub fn pos(&self, v: f64) -> f64 {
        if self.log {
            v.max(LOG_FLOOR).log10()
        } else {
            v
        }
    }

    pub fn ticks(&self) -> Ticks {
        let at_values: Vec<f64> = if self.log {
            let decades = (self.hi / self.lo).log10();
            let mults: &[f64] = if decades <= 2.5 {
                &[1.0, 2.0, 5.0]
            } else {
                &[1.0]
            };
            let mut v = Vec::new();
            let mut p = 10f64.powf(self.lo.log10().floor());
            while p <= self.hi * 1.0001 {
                for m in mults {
                    let x = p * m;
                    if x >= self.lo * 0.9999 && x <= self.hi * 1.0001 {
                        v.push(x);
                    }
                }
                p *= 10.0;
            }
            v
        } else {
            let step = nice_step((self.hi - self.lo) / 5.0);
            let n = ((self.hi - self.lo) / step).round() as usize;
            (0..=n).map(|i| self.lo + step * i as f64).collect()
        };
        Ticks {
            range: self.pos(self.lo)..self.pos(self.hi),
            at: at_values.iter().map(|v| self.pos(*v)).collect(),
            labels: at_values.iter().map(|v| fmt_num(*v)).collect(),
        }
    }
}

fn bounds(values: impl IntoIterator<Item = f64>) -> (f64, f64) {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 || !raw.is_finite() {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw * 0.999)
        .unwrap_or(10.0 * mag)
}

fn one_two_five_below(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    [5.0, 2.0, 1.0]
        .iter()
        .map(|m| m * mag)
        .find(|x| *x <= v * 1.0001)
        .unwrap_or(mag)
}

fn one_two_five_above(v: f64) -> f64 {
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|x| *x >= v * 0.9999)
        .unwrap_or(10.0 * mag)
}

/// A short number: 12500 -> "12.5k", 0.25 -> "0.25", 3 -> "3".
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    let (x, suffix) = if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e4 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let digits = if x.abs() >= 100.0 {
        0
    } else if x.abs() >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{x:.digits$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    format!("{s}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(12_500.0), "12.5k");
        assert_eq!(fmt_num(2_000_000.0), "2M");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(1000.0), "1000");
        assert_eq!(fmt_num(0.30000000000000004), "0.3");
    }

    #[test]
    fn linear_ticks_are_round_and_cover_the_data() {
        let s = Scale::linear([0.0, 4_277.0], true);
        let t = s.ticks();
        assert_eq!(t.range, 0.0..5000.0);
        assert_eq!(t.labels, vec!["0", "1000", "2000", "3000", "4000", "5000"]);
        // A constant value still gets a range.
        let t = Scale::linear([7.0, 7.0], false).ticks();
        assert!(t.range.start <= 7.0 && t.range.end > 7.0);
    }

    #[test]
    fn log_ticks_span_decades() {
        let s = Scale::log([0.8, 700.0]);
        assert!(s.log);
        let t = s.ticks();
        assert_eq!(t.range.start, 0.5f64.log10());
        assert_eq!(t.range.end, 1000f64.log10());
        assert_eq!(t.labels, vec!["1", "10", "100", "1000"]);
        let t = Scale::log([2.0, 40.0]).ticks();
        assert_eq!(t.labels, vec!["2", "5", "10", "20", "50"]);
    }

    #[test]
    fn latency_goes_log_only_across_a_decade() {
        assert!(Scale::latency([1.0, 50.0]).log);
        assert!(!Scale::latency([20.0, 50.0]).log);
        assert!(!Scale::latency([0.0, 0.0]).log);
    }

    #[test]
    fn category_labels() {
        let t = Ticks::categories(vec!["0".into(), "1".into(), "all".into()]);
        assert_eq!(t.range, -0.5..2.5);
        assert_eq!(t.label_at(2.0), "all");
        assert_eq!(t.label_at(1.5), "");
    }
}
