//! Human-friendly durations (`"5s"`, `"500ms"`, `"1m30s"`) and byte sizes (`"1KiB"`, `"4KB"`),
//! parsed and printed. Pure functions, no TOML.

use std::time::Duration;

/// Parses `"5s"`, `"500ms"`, `"1.5s"`, `"1m30s"`, `"250us"`, `"1h"`. A bare number is refused:
/// `5` could mean seconds or milliseconds, and a benchmark should not guess.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    let bad = || {
        format!(
            "expected a duration like \"500ms\", \"5s\", \"1m\" or \"1m30s\" (units ns, us, ms, s, m, h), got {:?}",
            text
        )
    };
    if s.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64; // seconds
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(bad());
        }
        let number: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = rest[num_len..].trim_start();
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = rest[unit_len..].trim_start();
        total += number * scale;
    }
    // A week is far beyond any sensible phase of a benchmark; it also keeps from_secs_f64 safe.
    if !total.is_finite() || total > 7.0 * 24.0 * 3600.0 {
        return Err(format!("duration {text:?} is longer than a week"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Prints a duration the way a scenario would write it: `2s`, `500ms`, `1m30s`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if d.subsec_nanos() % 1_000_000 != 0 {
        return format!("{}us", d.as_micros());
    }
    if ms % 1000 != 0 {
        return format!("{ms}ms");
    }
    let secs = d.as_secs();
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// Parses a byte size: `"100"`, `"100B"`, `"4KB"` (1000), `"1KiB"` (1024), `"1MiB"`, `"1.5KiB"`.
/// Units are case-insensitive; the result must be a whole number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let bad = || {
        format!(
            "expected a size like 200, \"100B\", \"4KB\" or \"1KiB\" (units B, KB, KiB, MB, MiB, GB, GiB), got {:?}",
            text
        )
    };
    let num_len = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    if num_len == 0 {
        return Err(bad());
    }
    let number: f64 = s[..num_len].parse().map_err(|_| bad())?;
    let scale: f64 = match s[num_len..].trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1e3,
        "kib" => 1024.0,
        "mb" => 1e6,
        "mib" => 1024.0 * 1024.0,
        "gb" => 1e9,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => return Err(bad()),
    };
    let bytes = number * scale;
    if !bytes.is_finite() || bytes > 1e15 {
        return Err(format!("size {text:?} is too large"));
    }
    if bytes.fract() != 0.0 {
        return Err(format!("size {text:?} is not a whole number of bytes"));
    }
    Ok(bytes as u64)
}

/// Prints a byte count compactly and exactly: `200B`, `1KiB`, `1500B`, `4MiB`.
pub fn format_size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{}MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{}KiB", bytes / KIB)
    } else {
        format!("{bytes}B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
        for bad in ["", "5", "s", "5 parsecs", "-1s", "1..2s", "10000h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(format_duration(Duration::from_secs(2)), "2s");
        assert_eq!(format_duration(Duration::from_millis(500)), "500ms");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size("100B"), Ok(100));
        assert_eq!(parse_size("4KB"), Ok(4000));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("1 kib"), Ok(1024));
        assert_eq!(parse_size("1.5KiB"), Ok(1536));
        assert_eq!(parse_size("2MiB"), Ok(2 * 1024 * 1024));
        for bad in ["", "KiB", "1XB", "-1", "1.1B", "1e3"] {
            assert!(parse_size(bad).is_err(), "{bad:?} should be refused");
        }
        assert_eq!(format_size(200), "200B");
        assert_eq!(format_size(1024), "1KiB");
        assert_eq!(format_size(1500), "1500B");
        assert_eq!(format_size(4 * 1024 * 1024), "4MiB");
    }
}
