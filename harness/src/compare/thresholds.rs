//! The metrics `kbench compare` knows and the `--threshold METRIC=±PCT%` syntax. Pure.

use std::fmt;

use crate::rundir::rows::ResultRow;

/// A column of `results.csv` that can be compared between two runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Metric {
    Throughput,
    Mb,
    Consumed,
    P50,
    P90,
    P99,
    P999,
    P9999,
    E2eP50,
    E2eP90,
    E2eP99,
    E2eP999,
    E2eP9999,
}

/// Rates (higher is better, 0 is a real value) or latencies (lower is better, 0 means the
/// histogram was empty: no data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Rate,
    Latency,
}

/// Which way a change has to go to count as a regression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The value fell (a `-N%` threshold).
    Fall,
    /// The value rose (a `+N%` threshold).
    Rise,
}

impl Metric {
    pub const ALL: [Metric; 13] = [
        Metric::Throughput,
        Metric::Mb,
        Metric::Consumed,
        Metric::P50,
        Metric::P90,
        Metric::P99,
        Metric::P999,
        Metric::P9999,
        Metric::E2eP50,
        Metric::E2eP90,
        Metric::E2eP99,
        Metric::E2eP999,
        Metric::E2eP9999,
    ];

    /// The name used in `--threshold` and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Metric::Throughput => "throughput",
            Metric::Mb => "mb",
            Metric::Consumed => "consumed",
            Metric::P50 => "p50",
            Metric::P90 => "p90",
            Metric::P99 => "p99",
            Metric::P999 => "p999",
            Metric::P9999 => "p9999",
            Metric::E2eP50 => "e2e_p50",
            Metric::E2eP90 => "e2e_p90",
            Metric::E2eP99 => "e2e_p99",
            Metric::E2eP999 => "e2e_p999",
            Metric::E2eP9999 => "e2e_p9999",
        }
    }

    /// The `results.csv` column it reads.
    pub fn column(self) -> &'static str {
        match self {
            Metric::Throughput => "acked_per_sec",
            Metric::Mb => "acked_mb_per_sec",
            Metric::Consumed => "consumed_per_sec",
            Metric::P50 => "publish_p50_us",
            Metric::P90 => "publish_p90_us",
            Metric::P99 => "publish_p99_us",
            Metric::P999 => "publish_p999_us",
            Metric::P9999 => "publish_p9999_us",
            Metric::E2eP50 => "e2e_p50_us",
            Metric::E2eP90 => "e2e_p90_us",
            Metric::E2eP99 => "e2e_p99_us",
            Metric::E2eP999 => "e2e_p999_us",
            Metric::E2eP9999 => "e2e_p9999_us",
        }
    }

    /// A human label for charts and tables.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Throughput => "acked msg/s",
            Metric::Mb => "acked MB/s",
            Metric::Consumed => "consumed msg/s",
            Metric::P50 => "publish p50",
            Metric::P90 => "publish p90",
            Metric::P99 => "publish p99",
            Metric::P999 => "publish p99.9",
            Metric::P9999 => "publish p99.99",
            Metric::E2eP50 => "end-to-end p50",
            Metric::E2eP90 => "end-to-end p90",
            Metric::E2eP99 => "end-to-end p99",
            Metric::E2eP999 => "end-to-end p99.9",
            Metric::E2eP9999 => "end-to-end p99.99",
        }
    }

    /// This metric in one row of `results.csv` (the [`Metric::column`] field). A latency of 0
    /// means the histogram was empty (no messages of that kind), so it is `None` rather than
    /// "0 ms"; a rate of 0 is a real value.
    pub fn value(self, r: &ResultRow) -> Option<f64> {
        let latency = |us: u64| (us > 0).then_some(us as f64);
        match self {
            Metric::Throughput => Some(r.acked_per_sec),
            Metric::Mb => Some(r.acked_mb_per_sec),
            Metric::Consumed => Some(r.consumed_per_sec),
            Metric::P50 => latency(r.publish_p50_us),
            Metric::P90 => latency(r.publish_p90_us),
            Metric::P99 => latency(r.publish_p99_us),
            Metric::P999 => latency(r.publish_p999_us),
            Metric::P9999 => latency(r.publish_p9999_us),
            Metric::E2eP50 => latency(r.e2e_p50_us),
            Metric::E2eP90 => latency(r.e2e_p90_us),
            Metric::E2eP99 => latency(r.e2e_p99_us),
            Metric::E2eP999 => latency(r.e2e_p999_us),
            Metric::E2eP9999 => latency(r.e2e_p9999_us),
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Metric::Throughput | Metric::Mb | Metric::Consumed => Kind::Rate,
            _ => Kind::Latency,
        }
    }

    /// The direction that is bad for this metric: rates falling, latencies rising. Used for a
    /// threshold given without a sign and to rank cells from worst to best.
    pub fn bad_direction(self) -> Direction {
        match self.kind() {
            Kind::Rate => Direction::Fall,
            Kind::Latency => Direction::Rise,
        }
    }

    /// Parse a metric name; accepts the names above plus `p99.9`-style spellings and the
    /// `results.csv` column names.
    pub fn parse(s: &str) -> Option<Metric> {
        let norm = s.trim().to_ascii_lowercase().replace(['.', '-'], "_");
        let norm = norm.replace("p99_99", "p9999").replace("p99_9", "p999");
        Metric::ALL.into_iter().find(|m| {
            norm == m.name()
                || norm == m.column()
                || norm == format!("publish_{}", m.name())
                || (norm == "acked_per_sec" && *m == Metric::Throughput)
        })
    }

    /// A value of this metric for people: rates as msg/s or MB/s, latencies (µs) in ms.
    pub fn format(self, v: f64) -> String {
        format!("{} {}", self.number(v), self.unit())
    }

    /// [`Metric::format`] without the unit.
    pub fn number(self, v: f64) -> String {
        match self {
            Metric::Mb => format!("{v:.3}"),
            Metric::Throughput | Metric::Consumed => format!("{v:.0}"),
            _ => format_ms(v / 1e3),
        }
    }

    /// The value in the unit charts show: rates as they are, latencies in ms.
    pub fn display_value(self, v: f64) -> f64 {
        match self.kind() {
            Kind::Rate => v,
            Kind::Latency => v / 1e3,
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::Mb => "MB/s",
            Metric::Throughput | Metric::Consumed => "msg/s",
            _ => "ms",
        }
    }
}

fn format_ms(ms: f64) -> String {
    if ms >= 100.0 {
        format!("{ms:.1}")
    } else if ms >= 1.0 {
        format!("{ms:.2}")
    } else {
        format!("{ms:.3}")
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// `METRIC=±PCT%`: a regression is a change of the metric's median by more than `pct` percent
/// in `direction`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub direction: Direction,
    /// Always >= 0.
    pub pct: f64,
}

impl Threshold {
    pub fn new(metric: Metric, signed_pct: f64) -> Threshold {
        Threshold {
            metric,
            direction: if signed_pct < 0.0 {
                Direction::Fall
            } else {
                Direction::Rise
            },
            pct: signed_pct.abs(),
        }
    }

    /// The limit as a signed percentage (`-10`, `+20`).
    pub fn signed_pct(&self) -> f64 {
        match self.direction {
            Direction::Fall => -self.pct,
            Direction::Rise => self.pct,
        }
    }

    /// Does a change of `delta_pct` percent go beyond this threshold?
    pub fn crossed(&self, delta_pct: f64) -> bool {
        match self.direction {
            Direction::Fall => delta_pct < -self.pct,
            Direction::Rise => delta_pct > self.pct,
        }
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = match self.direction {
            Direction::Fall => '-',
            Direction::Rise => '+',
        };
        write!(f, "{}={sign}{}%", self.metric, trim_float(self.pct))
    }
}

fn trim_float(x: f64) -> String {
    let s = format!("{x:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Thresholds used when no `--threshold` is given.
pub const DEFAULT_THRESHOLDS: &str = "throughput=-10%, p99=+20%";

pub fn default_thresholds() -> Vec<Threshold> {
    vec![
        Threshold::new(Metric::Throughput, -10.0),
        Threshold::new(Metric::P99, 20.0),
    ]
}

/// Every metric name, for error messages and `--help`.
pub fn metric_names() -> String {
    Metric::ALL
        .iter()
        .map(|m| m.name())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parse `METRIC=±PCT%` (`throughput=-10%`, `p99=+20%`, `p99.9=+25`). A number without a sign
/// takes the metric's bad direction (`p99=20%` is `p99=+20%`, `throughput=10%` is
/// `throughput=-10%`). The `%` is optional.
pub fn parse_threshold(s: &str) -> Result<Threshold, String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected METRIC=±PCT% (e.g. throughput=-10%), got {s:?}"))?;
    let metric = Metric::parse(name).ok_or_else(|| {
        format!(
            "unknown metric {:?} in {s:?}; known: {}",
            name.trim(),
            metric_names()
        )
    })?;
    let v = value.trim();
    let v = v.strip_suffix('%').unwrap_or(v).trim();
    let (sign, digits) = match v.as_bytes().first() {
        Some(b'+') => (Some(Direction::Rise), &v[1..]),
        Some(b'-') => (Some(Direction::Fall), &v[1..]),
        _ => (None, v),
    };
    let pct: f64 = digits
        .trim()
        .parse()
        .ok()
        .filter(|p: &f64| p.is_finite() && *p >= 0.0 && !digits.trim().starts_with(['+', '-']))
        .ok_or_else(|| {
            format!("{s:?}: {value:?} is not a percentage like -10% or +20% (a sign and a number)")
        })?;
    Ok(Threshold {
        metric,
        direction: sign.unwrap_or(metric.bad_direction()),
        pct,
    })
}

/// Reject two thresholds on one metric.
pub fn check_unique(ts: &[Threshold]) -> Result<(), String> {
    for (i, t) in ts.iter().enumerate() {
        if ts[..i].iter().any(|u| u.metric == t.metric) {
            return Err(format!("--threshold given twice for {}", t.metric));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_signed_percentages() {
        let t = parse_threshold("throughput=-10%").unwrap();
        assert_eq!(t, Threshold::new(Metric::Throughput, -10.0));
        assert_eq!(t.to_string(), "throughput=-10%");
        let t = parse_threshold("p99=+20%").unwrap();
        assert_eq!(
            (t.metric, t.direction, t.pct),
            (Metric::P99, Direction::Rise, 20.0)
        );
        assert_eq!(
            parse_threshold(" p99.9 = +2.5 ").unwrap().to_string(),
            "p999=+2.5%"
        );
        assert_eq!(
            parse_threshold("e2e-p99=+0%").unwrap().to_string(),
            "e2e_p99=+0%"
        );
        assert_eq!(
            parse_threshold("publish_p50_us=+5%").unwrap().metric,
            Metric::P50
        );
        assert_eq!(parse_threshold("MB=-5%").unwrap().metric, Metric::Mb);
        assert_eq!(parse_threshold("p99.99=+5%").unwrap().metric, Metric::P9999);
        assert_eq!(
            parse_threshold("e2e_p99.9=+5%").unwrap().metric,
            Metric::E2eP999
        );
    }

    #[test]
    fn a_bare_number_takes_the_bad_direction() {
        assert_eq!(
            parse_threshold("p99=20%").unwrap().direction,
            Direction::Rise
        );
        assert_eq!(
            parse_threshold("throughput=10").unwrap().direction,
            Direction::Fall
        );
        // An explicit sign wins, even against the metric's nature.
        assert_eq!(
            parse_threshold("p50=-30%").unwrap().direction,
            Direction::Fall
        );
    }

    #[test]
    fn bad_syntax_is_explained() {
        for (s, needle) in [
            ("throughput", "expected METRIC=±PCT%"),
            ("latency=+5%", "unknown metric \"latency\""),
            ("p99=", "not a percentage"),
            ("p99=abc%", "not a percentage"),
            ("p99=+-5%", "not a percentage"),
            ("p99=--5", "not a percentage"),
            ("p99=+inf", "not a percentage"),
            ("p99=+NaN%", "not a percentage"),
        ] {
            let e = parse_threshold(s).unwrap_err();
            assert!(e.contains(needle), "{s}: {e}");
        }
        assert!(parse_threshold("latency=+5%")
            .unwrap_err()
            .contains("e2e_p999"));
    }

    #[test]
    fn crossing_is_strict_and_directional() {
        let fall = Threshold::new(Metric::Throughput, -10.0);
        assert!(!fall.crossed(-10.0));
        assert!(fall.crossed(-10.01));
        assert!(!fall.crossed(50.0));
        let rise = Threshold::new(Metric::P99, 20.0);
        assert!(rise.crossed(20.5));
        assert!(!rise.crossed(-90.0));
        assert!(rise.crossed(f64::INFINITY));
        assert!(!rise.crossed(f64::NAN));
    }

    #[test]
    fn duplicates_are_rejected() {
        let a = parse_threshold("p99=+20%").unwrap();
        let b = parse_threshold("p99.0=+20%");
        assert!(b.is_err());
        assert!(check_unique(&[a, a]).unwrap_err().contains("p99"));
        assert!(check_unique(&default_thresholds()).is_ok());
    }

    #[test]
    fn zero_latency_is_missing_but_zero_rate_is_a_value() {
        let r = ResultRow {
            publish_p99_us: 5,
            ..ResultRow::default()
        };
        assert_eq!(Metric::P99.value(&r), Some(5.0));
        assert_eq!(Metric::E2eP99.value(&r), None);
        assert_eq!(Metric::Throughput.value(&r), Some(0.0));
    }

    /// `value` reads the field that `column` names: a `results.csv` row with a distinct number
    /// in each metric's column gives that number back.
    #[test]
    fn every_metric_reads_its_column() {
        let csv = crate::rundir::rows::to_csv(&[ResultRow::default()]).unwrap();
        let mut reader = ::csv::Reader::from_reader(&csv[..]);
        let header = reader.headers().unwrap().clone();
        let mut record: Vec<String> = reader
            .records()
            .next()
            .unwrap()
            .unwrap()
            .iter()
            .map(String::from)
            .collect();
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            let col = header
                .iter()
                .position(|h| h == m.column())
                .unwrap_or_else(|| panic!("no column {}", m.column()));
            record[col] = (i + 1).to_string();
        }
        let r: ResultRow = ::csv::StringRecord::from(record)
            .deserialize(Some(&header))
            .unwrap();
        for (i, m) in Metric::ALL.into_iter().enumerate() {
            assert_eq!(m.value(&r), Some((i + 1) as f64), "{m}");
        }
    }

    #[test]
    fn every_metric_name_parses_back() {
        for m in Metric::ALL {
            assert_eq!(Metric::parse(m.name()), Some(m));
            assert_eq!(Metric::parse(m.column()), Some(m));
        }
    }
}
