//! librdkafka's own `rdkafka_performance`: the floor under kbench's producer and consumer.
//! It is built from the very librdkafka kbench links: the `rdkafka-sys` build directory (its
//! in-tree build of the vendored source, recorded by `build.rs` as `KBENCH_LIBRDKAFKA_BUILD`)
//! already holds `src/librdkafka.a`, and `make -C examples rdkafka_performance` links the
//! example against it on first use. Connection properties go through `-X file=`, never the
//! command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{anyhow, bail, Context};

use super::plan::Comparison;

/// The tool's name in every report.
pub const RDKAFKA_PERF: &str = "rdkafka_performance";

/// Where rdkafka-sys built librdkafka for this kbench binary (its `OUT_DIR`).
const BUILD_DIR: Option<&str> = option_env!("KBENCH_LIBRDKAFKA_BUILD");

/// The `rdkafka_performance` binary, built now if needed (its make output goes to `log`).
/// An error says why it is not available (a kbench built elsewhere, no `make`).
pub fn binary(log: &Path) -> anyhow::Result<PathBuf> {
    let dir = BUILD_DIR
        .map(PathBuf::from)
        .filter(|d| d.join("examples").is_dir())
        .ok_or_else(|| {
            anyhow!(
                "librdkafka's build directory is not on this machine (kbench was built elsewhere)"
            )
        })?;
    let bin = dir.join("examples").join(RDKAFKA_PERF);
    if bin.is_file() {
        return Ok(bin);
    }
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let out = std::fs::File::create(log).with_context(|| log.display().to_string())?;
    let status = Command::new("make")
        .arg("-C")
        .arg(dir.join("examples"))
        .arg(RDKAFKA_PERF)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .status()
        .context("running make for rdkafka_performance")?;
    if !status.success() || !bin.is_file() {
        bail!(
            "building rdkafka_performance failed (log {})",
            log.display()
        );
    }
    Ok(bin)
}

/// Producer arguments: the comparison's settings, `records` at max rate, one process.
pub fn producer_args(
    c: &Comparison,
    bootstrap: &str,
    topic: &str,
    records: u64,
    config_file: Option<&Path>,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "-P",
        "-t",
        topic,
        "-b",
        bootstrap,
        "-s",
        &c.record_size.to_string(),
        "-c",
        &records.to_string(),
        "-a",
        // rdkafka_performance takes acks as a number: all is -1.
        match c.acks.as_config() {
            "all" => "-1",
            other => other,
        },
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (k, v) in [
        ("linger.ms", c.linger_ms.to_string()),
        ("batch.size", c.batch_size.to_string()),
        ("enable.idempotence", "false".into()),
        ("compression.type", "none".into()),
        // As kbench's max-rate producers and the Java producer's buffer.memory: 32 MiB.
        (
            "queue.buffering.max.kbytes",
            super::kbench::QUEUE_KBYTES.to_string(),
        ),
    ] {
        a.push("-X".into());
        a.push(format!("{k}={v}"));
    }
    push_config(&mut a, config_file);
    a
}

/// Consumer arguments: a new group (`-G`) reads `records` from the earliest offset.
pub fn consumer_args(
    bootstrap: &str,
    topic: &str,
    group: &str,
    records: u64,
    config_file: Option<&Path>,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "-G",
        group,
        "-t",
        topic,
        "-b",
        bootstrap,
        "-c",
        &records.to_string(),
        "-X",
        "auto.offset.reset=earliest",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    push_config(&mut a, config_file);
    a
}

fn push_config(a: &mut Vec<String>, config_file: Option<&Path>) {
    if let Some(f) = config_file {
        a.push("-X".into());
        a.push(format!("file={}", f.display()));
    }
}

/// The last summary a run printed: (messages, msgs/s, MB/s). Producer: `% N messages produced
/// (B bytes), D delivered (...) in Tms: R msgs/s and X MB/s, ...` (R counts delivered
/// messages); consumer: `% N messages (B bytes) consumed in Tms: R msgs/s (X MB/s)`.
pub fn parse_summary(output: &str) -> Option<(u64, f64, f64)> {
    output.lines().rev().find_map(|l| {
        let l = l.trim();
        let rest = l.strip_prefix("% ")?;
        if l.contains("INTERVAL") {
            return None;
        }
        let count = if let Some((_, after)) = rest.split_once(" bytes), ") {
            // Producer: the delivered count follows the byte count.
            after.split_whitespace().next()?.parse().ok()?
        } else if rest.contains(" consumed in ") {
            rest.split_whitespace().next()?.parse().ok()?
        } else {
            return None;
        };
        let (_, tail) = rest.split_once("ms: ")?;
        let mut w = tail.split_whitespace();
        let rate: f64 = w.next()?.parse().ok()?;
        let mb = tail
            .split_whitespace()
            .map(|t| t.trim_start_matches('('))
            .zip(tail.split_whitespace().skip(1))
            .find(|(_, unit)| unit.starts_with("MB/s"))
            .and_then(|(v, _)| v.parse().ok())?;
        Some((count, rate, mb))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_of_both_modes_parse() {
        let p = "% Sending 100000 messages of size 100 bytes\n\
                 % 50000 messages produced (5000000 bytes), 49000 delivered (offset 0, 0 failed) in 1000ms: 49000 msgs/s and 4.90 MB/s, 0 produce failures, 1000 in queue, no compression\n\
                 % 100000 messages produced (10000000 bytes), 100000 delivered (offset 0, 0 failed) in 1250ms: 80000 msgs/s and 8.00 MB/s, 0 produce failures, 0 in queue, no compression\n";
        assert_eq!(parse_summary(p), Some((100000, 80000.0, 8.0)));
        let c =
            "% 300000 messages (30000000 bytes) consumed in 900ms: 333333 msgs/s (33.33 MB/s)\n\
                 % INTERVAL: 10 messages (1000 bytes) consumed in 1ms: 10000 msgs/s (1.00 MB/s)\n";
        assert_eq!(parse_summary(c), Some((300000, 333333.0, 33.33)));
        assert_eq!(parse_summary("% Waiting for group rebalance\n"), None);
    }
}
