//! Latency SLOs as written on the command line: `p99<50ms`, `p999<200ms`, `e2e_p99<100ms`,
//! several joined by commas (`--slo "p99<50ms,e2e_p99<100ms"`) or given as repeated `--slo`.
//!
//! The grammar: `[publish_|e2e_]STAT OP NUMBER UNIT`, where STAT is `p50`, `p90`, `p99`,
//! `p999` (or `p99.9`), `p9999` (or `p99.99`) or `max`; OP is `<` or `<=`; UNIT is `us` (or
//! `µs`), `ms` or `s`. Without a prefix the SLO is on publish latency (intended send -> ack).
//! Spaces are allowed anywhere; case does not matter. Pure: no I/O.

use std::fmt;

use crate::metrics::cell::LatencyKind;
use crate::metrics::Percentiles;

/// Which percentile of a latency histogram an SLO constrains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    P50,
    P90,
    P99,
    P999,
    P9999,
    Max,
}

impl Stat {
    pub const ALL: [Stat; 6] = [
        Stat::P50,
        Stat::P90,
        Stat::P99,
        Stat::P999,
        Stat::P9999,
        Stat::Max,
    ];

    /// As in reports: `p50`, `p99.9`, `max`.
    pub fn label(self) -> &'static str {
        match self {
            Stat::P50 => "p50",
            Stat::P90 => "p90",
            Stat::P99 => "p99",
            Stat::P999 => "p99.9",
            Stat::P9999 => "p99.99",
            Stat::Max => "max",
        }
    }

    /// The value of this statistic, µs.
    pub fn of(self, p: &Percentiles) -> u64 {
        match self {
            Stat::P50 => p.p50,
            Stat::P90 => p.p90,
            Stat::P99 => p.p99,
            Stat::P999 => p.p999,
            Stat::P9999 => p.p9999,
            Stat::Max => p.max,
        }
    }

    fn parse(s: &str) -> Option<Stat> {
        Some(match s {
            "p50" => Stat::P50,
            "p90" => Stat::P90,
            "p99" => Stat::P99,
            "p999" | "p99.9" => Stat::P999,
            "p9999" | "p99.99" => Stat::P9999,
            "max" => Stat::Max,
            _ => return None,
        })
    }
}

/// One latency objective: `kind`'s `stat` must stay below `limit_us` (or at it, when
/// `inclusive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slo {
    pub kind: LatencyKind,
    pub stat: Stat,
    pub limit_us: u64,
    /// `<=` rather than `<`.
    pub inclusive: bool,
}

impl Slo {
    /// Does a measured value (µs) meet the objective?
    pub fn holds(&self, value_us: u64) -> bool {
        if self.inclusive {
            value_us <= self.limit_us
        } else {
            value_us < self.limit_us
        }
    }

    /// The measured value this SLO looks at, µs.
    pub fn value(&self, publish: &Percentiles, e2e: &Percentiles) -> u64 {
        match self.kind {
            LatencyKind::Publish => self.stat.of(publish),
            LatencyKind::EndToEnd => self.stat.of(e2e),
        }
    }

    /// `publish p99`, `e2e p99.9`.
    pub fn quantity(&self) -> String {
        format!("{} {}", self.kind.name(), self.stat.label())
    }

    fn op(&self) -> &'static str {
        if self.inclusive {
            "<="
        } else {
            "<"
        }
    }
}

impl fmt::Display for Slo {
    /// `publish p99 < 50ms`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            self.quantity(),
            self.op(),
            format_micros(self.limit_us)
        )
    }
}

/// A latency in the largest unit that shows it whole (`50ms`, `1.5s`, `250us`).
pub fn format_micros(us: u64) -> String {
    if us >= 1_000_000 && us % 1_000 == 0 {
        format!("{}s", us as f64 / 1e6)
    } else if us >= 1_000 && us % 1_000 == 0 {
        format!("{}ms", us / 1_000)
    } else if us >= 1_000 {
        format!("{}ms", us as f64 / 1e3)
    } else {
        format!("{us}us")
    }
}

/// A measured latency to 3 significant digits: `235ms`, `84.4ms`, `2.35ms`, `870us`, `1.25s`.
pub fn format_measured(us: u64) -> String {
    let v = us as f64;
    if us >= 1_000_000 {
        format!("{}s", sig3(v / 1e6))
    } else if us >= 1_000 {
        format!("{}ms", sig3(v / 1e3))
    } else {
        format!("{us}us")
    }
}

/// 3 significant digits, without trailing zeros (values from 1 to 999).
fn sig3(x: f64) -> String {
    let decimals = if x >= 100.0 {
        0
    } else if x >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Parse one SLO (no commas). The error says what was expected.
pub fn parse_one(text: &str) -> Result<Slo, String> {
    let compact: String = text
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let bad = |why: &str| {
        format!(
            "bad SLO {text:?}: {why} (expected e.g. \"p99<50ms\", \"p999<200ms\", \"e2e_p99<100ms\"; \
             percentiles p50, p90, p99, p999, p9999, max; units us, ms, s)"
        )
    };
    if compact.is_empty() {
        return Err(bad("empty"));
    }
    let (lhs, rest, inclusive) = if let Some((l, r)) = compact.split_once("<=") {
        (l, r, true)
    } else if let Some((l, r)) = compact.split_once('<') {
        (l, r, false)
    } else {
        return Err(bad("no '<' or '<='"));
    };
    let (kind, stat_text) = if let Some(s) = lhs.strip_prefix("e2e_") {
        (LatencyKind::EndToEnd, s)
    } else if let Some(s) = lhs.strip_prefix("publish_") {
        (LatencyKind::Publish, s)
    } else {
        (LatencyKind::Publish, lhs)
    };
    let stat = Stat::parse(stat_text).ok_or_else(|| bad(&format!("unknown statistic {lhs:?}")))?;
    let unit_at = rest
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| bad("the limit has no unit"))?;
    let (number, unit) = rest.split_at(unit_at);
    let number: f64 = number
        .parse()
        .map_err(|_| bad(&format!("{number:?} is not a number")))?;
    let scale = match unit {
        "us" | "µs" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        _ => return Err(bad(&format!("unknown unit {unit:?}"))),
    };
    let limit = number * scale;
    if !(limit >= 1.0 && limit <= crate::metrics::histogram::MAX_MICROS as f64) {
        return Err(bad("the limit must be between 1us and 10 minutes"));
    }
    Ok(Slo {
        kind,
        stat,
        limit_us: limit.round() as u64,
        inclusive,
    })
}

/// Parse a comma-separated list of SLOs (`"p99<50ms, e2e_p99<100ms"`).
pub fn parse_list(text: &str) -> Result<Vec<Slo>, String> {
    text.split(',').map(parse_one).collect()
}

/// All SLOs, as one line: `publish p99 < 50ms, e2e p99 < 100ms`.
pub fn describe(slos: &[Slo]) -> String {
    slos.iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_forms_parse() {
        let s = parse_one("p99<50ms").unwrap();
        assert_eq!(
            s,
            Slo {
                kind: LatencyKind::Publish,
                stat: Stat::P99,
                limit_us: 50_000,
                inclusive: false
            }
        );
        assert_eq!(parse_one("p999<200ms").unwrap().stat, Stat::P999);
        assert_eq!(parse_one("p99.9 < 200ms").unwrap().stat, Stat::P999);
        let e = parse_one("e2e_p99<100ms").unwrap();
        assert_eq!((e.kind, e.limit_us), (LatencyKind::EndToEnd, 100_000));
        let p = parse_one(" Publish_P50 <= 1.5s ").unwrap();
        assert_eq!(
            (p.kind, p.stat, p.limit_us, p.inclusive),
            (LatencyKind::Publish, Stat::P50, 1_500_000, true)
        );
        assert_eq!(parse_one("max<250us").unwrap().limit_us, 250);
        assert_eq!(parse_one("p9999<2s").unwrap().stat, Stat::P9999);
    }

    #[test]
    fn lists_and_display() {
        let v = parse_list("p99<50ms, e2e_p99<100ms").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(describe(&v), "publish p99 < 50ms, e2e p99 < 100ms");
        assert_eq!(
            parse_one("p999<=1.5s").unwrap().to_string(),
            "publish p99.9 <= 1.5s"
        );
        assert_eq!(format_micros(2_500), "2.5ms");
        assert_eq!(format_micros(2_000_000), "2s");
        assert_eq!(format_measured(235_263), "235ms");
        assert_eq!(format_measured(84_351), "84.4ms");
        assert_eq!(format_measured(2_350), "2.35ms");
        assert_eq!(format_measured(30_000), "30ms");
        assert_eq!(format_measured(870), "870us");
        assert_eq!(format_measured(1_254_000), "1.25s");
    }

    #[test]
    fn bad_syntax_is_refused_with_a_reason() {
        for (text, why) in [
            ("", "empty"),
            ("p99", "no '<'"),
            ("p98<50ms", "unknown statistic"),
            ("p99<50", "no unit"),
            ("p99<50min", "unknown unit"),
            ("p99<fast", "not a number"),
            ("p99<1.2.3ms", "not a number"),
            ("p99<0ms", "between"),
            ("p99>50ms", "no '<'"),
            ("e2e-p99<5ms", "unknown statistic"),
        ] {
            let e = parse_one(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
            assert!(e.contains("p99<50ms"), "the error shows an example: {e}");
        }
        assert!(parse_list("p99<50ms,,p50<1ms").is_err());
    }

    #[test]
    fn strict_and_inclusive_limits() {
        let strict = parse_one("p99<50ms").unwrap();
        assert!(strict.holds(49_999) && !strict.holds(50_000));
        let incl = parse_one("p99<=50ms").unwrap();
        assert!(incl.holds(50_000) && !incl.holds(50_001));
    }
}
