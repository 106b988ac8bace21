//! Kafka's own load tools (`org.apache.kafka.tools.*` in kafka-tools-<version>.jar): their
//! command lines, running them as child processes, and reading the figures from their output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;

use crate::cluster::Access;
use crate::scenario::Acks;

pub const PRODUCER_PERF: &str = "org.apache.kafka.tools.ProducerPerformance";
pub const CONSUMER_PERF: &str = "org.apache.kafka.tools.ConsumerPerformance";
pub const END_TO_END: &str = "org.apache.kafka.tools.EndToEndLatency";

/// The JVM options Kafka's own scripts use for these tools (`kafka-producer-perf-test.sh`
/// sets a 512 MiB heap; `kafka-run-class.sh` adds the G1 settings).
pub const JVM_OPTS: [&str; 8] = [
    "-Xmx512M",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
];

/// How to start a tool.
#[derive(Debug, Clone)]
pub struct JavaEnv {
    pub java: String,
    /// `-cp` value: every jar of the Kafka lib directory.
    pub classpath: String,
    pub bootstrap: String,
    /// Where each run's output is kept (`raw/<name>.log`).
    pub raw_dir: PathBuf,
    /// The connection properties in the Java client's names, for a secured cluster: a
    /// private file outside the run directory, deleted when this is dropped.
    client_config: Option<std::sync::Arc<PrivateFile>>,
    /// mtls: the client's key and chain as one PEM keystore, which that file names; kept (and
    /// removed) with it.
    _keystore: Option<std::sync::Arc<PrivateFile>>,
}

impl JavaEnv {
    pub fn new(
        java: String,
        lib: &Path,
        access: &Access,
        raw_dir: PathBuf,
    ) -> anyhow::Result<JavaEnv> {
        let (props, keystore) = java_client_properties(&access.resolved())?;
        let client_config = if props.is_empty() {
            None
        } else {
            Some(std::sync::Arc::new(PrivateFile::write(
                "client-java.properties",
                &props,
            )?))
        };
        Ok(JavaEnv {
            java,
            classpath: crate::cluster::fetch::classpath(lib),
            bootstrap: access.bootstrap.clone(),
            raw_dir,
            client_config,
            _keystore: keystore.map(std::sync::Arc::new),
        })
    }

    /// Arguments that hand `class` the connection properties file: never the values.
    fn config_args(&self, class: &str) -> Vec<String> {
        let Some(f) = &self.client_config else {
            return Vec::new();
        };
        let path = f.path.display().to_string();
        match class {
            PRODUCER_PERF => vec!["--producer.config".into(), path],
            CONSUMER_PERF => vec!["--consumer.config".into(), path],
            // EndToEndLatency: the properties file is its sixth positional argument.
            _ => vec![path],
        }
    }

    /// Start `class` with `args`; stdout and stderr go to `raw/<name>.log`.
    pub fn spawn(&self, class: &str, args: &[String], name: &str) -> anyhow::Result<Child> {
        std::fs::create_dir_all(&self.raw_dir)?;
        let log = self.log_path(name);
        let out = std::fs::File::create(&log).with_context(|| log.display().to_string())?;
        let err = out.try_clone()?;
        Command::new(&self.java)
            .args(JVM_OPTS)
            .arg("-cp")
            .arg(&self.classpath)
            .arg(class)
            .args(args)
            .args(self.config_args(class))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .with_context(|| format!("starting {} {class}", self.java))
    }

    pub fn log_path(&self, name: &str) -> PathBuf {
        self.raw_dir.join(format!("{name}.log"))
    }

    /// The output of a finished run (for parsing and for error messages).
    pub fn output(&self, name: &str) -> String {
        std::fs::read_to_string(self.log_path(name)).unwrap_or_default()
    }
}

/// librdkafka connection properties in the Java client's names (Java properties text).
/// Covers TLS (a PEM CA, a PEM client certificate and key), SASL PLAIN and SCRAM; anything
/// else is refused rather than silently dropped, since the Java side would then measure a
/// different connection.
/// Returns the text and, for mutual TLS, the private PEM keystore file it names (the caller
/// keeps it as long as the text is used; dropping it deletes it).
pub fn java_client_properties(
    props: &[(String, String)],
) -> anyhow::Result<(String, Option<PrivateFile>)> {
    let get = |k: &str| {
        props
            .iter()
            .rev()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    let mut out = String::new();
    let mut line = |k: &str, v: &str| {
        // Java properties: backslashes and line breaks escaped.
        let v = v.replace('\\', "\\\\").replace('\n', "\\n");
        out.push_str(&format!("{k}={v}\n"));
    };
    for (k, v) in props {
        match k.as_str() {
            "security.protocol" => line(k, &v.to_ascii_uppercase()),
            "sasl.mechanism" | "sasl.mechanisms" => line("sasl.mechanism", v),
            "ssl.ca.location" => {
                line("ssl.truststore.type", "PEM");
                line("ssl.truststore.location", v);
            }
            "ssl.endpoint.identification.algorithm" => {
                line(k, if v == "none" { "" } else { v });
            }
            "sasl.username" | "sasl.password" | "ssl.certificate.location" | "ssl.key.location" => {
            }
            other => anyhow::bail!(
                "kbench versus cannot pass connection property {other} to Kafka's Java tools"
            ),
        }
    }
    if let (Some(user), Some(password)) = (get("sasl.username"), get("sasl.password")) {
        let mechanism = get("sasl.mechanism")
            .or(get("sasl.mechanisms"))
            .unwrap_or("PLAIN");
        let module = if mechanism.starts_with("SCRAM") {
            "org.apache.kafka.common.security.scram.ScramLoginModule"
        } else {
            "org.apache.kafka.common.security.plain.PlainLoginModule"
        };
        let q = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        line(
            "sasl.jaas.config",
            &format!(
                "{module} required username=\"{}\" password=\"{}\";",
                q(user),
                q(password)
            ),
        );
    }
    let mut keystore = None;
    if let (Some(cert), Some(key)) = (get("ssl.certificate.location"), get("ssl.key.location")) {
        // A Java PEM keystore is one file with the key and its chain.
        let pem = format!(
            "{}\n{}",
            std::fs::read_to_string(key).with_context(|| key.to_string())?,
            std::fs::read_to_string(cert).with_context(|| cert.to_string())?
        );
        let f = PrivateFile::write("client-keystore.pem", &pem)?;
        line("ssl.keystore.type", "PEM");
        line("ssl.keystore.location", &f.path.display().to_string());
        keystore = Some(f);
    }
    Ok((out, keystore))
}

/// A file only this user can read, in a fresh private directory outside any run directory,
/// removed on drop: where secrets for a child process live while it runs.
#[derive(Debug)]
pub struct PrivateFile {
    pub path: PathBuf,
}

impl PrivateFile {
    pub fn write(name: &str, text: &str) -> anyhow::Result<PrivateFile> {
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
        let dir = std::env::temp_dir().join(format!(
            "kbench-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| dir.display().to_string())?;
        let path = dir.join(name);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| path.display().to_string())?;
        std::io::Write::write_all(&mut f, text.as_bytes())?;
        Ok(PrivateFile { path })
    }
}

impl Drop for PrivateFile {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// ProducerPerformance arguments. `throughput = None` is max rate (`--throughput -1`).
/// Idempotence is off explicitly: Kafka's producer turns it on by default with acks=all,
/// librdkafka (and kbench's default) does not, and the two must do the same work.
#[allow(clippy::too_many_arguments)]
pub fn producer_perf_args(
    bootstrap: &str,
    topic: &str,
    records: u64,
    warmup_records: u64,
    record_size: usize,
    throughput: Option<u32>,
    acks: Acks,
    linger_ms: u32,
    batch_size: usize,
) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--bootstrap-server".into(),
        bootstrap.into(),
        "--topic".into(),
        topic.into(),
        "--num-records".into(),
        records.to_string(),
        "--record-size".into(),
        record_size.to_string(),
        "--throughput".into(),
        throughput
            .map(|t| t.to_string())
            .unwrap_or_else(|| "-1".into()),
    ];
    if warmup_records > 0 {
        a.push("--warmup-records".into());
        a.push(warmup_records.to_string());
    }
    a.push("--command-property".into());
    a.extend([
        format!("acks={}", acks.as_config()),
        format!("linger.ms={linger_ms}"),
        format!("batch.size={batch_size}"),
        "compression.type=none".into(),
        "enable.idempotence=false".into(),
        "max.in.flight.requests.per.connection=5".into(),
    ]);
    a
}

pub fn consumer_perf_args(bootstrap: &str, topic: &str, records: u64, group: &str) -> Vec<String> {
    vec![
        "--bootstrap-server".into(),
        bootstrap.into(),
        "--topic".into(),
        topic.into(),
        "--num-records".into(),
        records.to_string(),
        "--group".into(),
        group.into(),
        "--timeout".into(),
        "30000".into(),
        "--command-property".into(),
        "auto.offset.reset=earliest".into(),
    ]
}

/// EndToEndLatency takes positional arguments: bootstrap topic num_records acks record_size.
pub fn e2e_args(
    bootstrap: &str,
    topic: &str,
    messages: u64,
    acks: Acks,
    size: usize,
) -> Vec<String> {
    vec![
        bootstrap.into(),
        topic.into(),
        messages.to_string(),
        acks.as_config().into(),
        size.to_string(),
    ]
}

/// ProducerPerformance's summary: the steady-state line when it printed one (records after
/// `--warmup-records`), else the overall line.
#[derive(Debug, Clone, PartialEq)]
pub struct ProducerPerf {
    pub records: u64,
    pub per_sec: f64,
    pub mb_per_sec: f64,
    pub avg_ms: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub steady_state: bool,
}

/// Parse a summary line: `300000 records sent, 12837.5 records/sec (12.54 MB/sec), 1564.47 ms
/// avg latency, 3709.00 ms max latency, 1164 ms 50th, 3369 ms 95th, 3517 ms 99th, 3646 ms
/// 99.9th.` (or `250000 steady state records sent, ...`). Progress lines lack the percentiles.
fn parse_producer_line(line: &str) -> Option<ProducerPerf> {
    if !line.contains("records sent") || !line.contains("50th") {
        return None;
    }
    let num = |s: &str| -> Option<f64> { s.split_whitespace().next()?.parse().ok() };
    let mut r = ProducerPerf {
        records: 0,
        per_sec: 0.0,
        mb_per_sec: 0.0,
        avg_ms: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        steady_state: line.contains("steady state"),
    };
    for part in line.trim().trim_end_matches('.').split(", ") {
        let part = part.trim();
        if part.ends_with("records sent") {
            r.records = num(part)? as u64;
        } else if part.contains("records/sec") {
            r.per_sec = num(part)?;
            let mb = part.split('(').nth(1)?;
            r.mb_per_sec = num(mb)?;
        } else if part.ends_with("ms avg latency") {
            r.avg_ms = num(part)?;
        } else if part.ends_with("ms 50th") {
            r.p50_ms = num(part)?;
        } else if part.ends_with("ms 99th") {
            r.p99_ms = num(part)?;
        }
    }
    (r.records > 0).then_some(r)
}

pub fn parse_producer_perf(output: &str) -> Option<ProducerPerf> {
    let lines: Vec<ProducerPerf> = output.lines().filter_map(parse_producer_line).collect();
    lines
        .iter()
        .find(|r| r.steady_state)
        .or(lines.last())
        .cloned()
}

/// ConsumerPerformance's stats row. `fetch_*` exclude the time spent joining the group.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsumerPerf {
    pub records: u64,
    pub mb: f64,
    pub per_sec: f64,
    pub fetch_per_sec: f64,
    pub fetch_mb_per_sec: f64,
    pub rebalance_ms: f64,
    pub fetch_ms: f64,
}

/// The header `start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg,
/// nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec` and the row
/// after it.
pub fn parse_consumer_perf(output: &str) -> Option<ConsumerPerf> {
    let mut lines = output.lines();
    let header = lines.find(|l| l.trim_start().starts_with("start.time"))?;
    let row = lines.find(|l| !l.trim().is_empty())?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let values: Vec<&str> = row.split(',').map(str::trim).collect();
    let get = |name: &str| -> Option<f64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some(ConsumerPerf {
        records: get("data.consumed.in.nMsg")? as u64,
        mb: get("data.consumed.in.MB")?,
        per_sec: get("nMsg.sec")?,
        fetch_per_sec: get("fetch.nMsg.sec")?,
        fetch_mb_per_sec: get("fetch.MB.sec")?,
        rebalance_ms: get("rebalance.time.ms")?,
        fetch_ms: get("fetch.time.ms")?,
    })
}

/// EndToEndLatency's result. Its percentiles are whole milliseconds, truncated (it divides
/// nanoseconds by 10^6 in integer arithmetic); the average has four decimals.
#[derive(Debug, Clone, PartialEq)]
pub struct EndToEnd {
    pub avg_ms: f64,
    pub p50_ms: u64,
    pub p99_ms: u64,
    pub p999_ms: u64,
}

/// `Avg latency: 1.2345 ms` and `Percentiles: 50th = 1, 99th = 3, 99.9th = 7`.
pub fn parse_e2e(output: &str) -> Option<EndToEnd> {
    let avg_ms = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Avg latency:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let pct = output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Percentiles:"))?;
    let mut vals = pct.split(',').map(|p| {
        p.split('=')
            .nth(1)
            .and_then(|v| v.trim().parse::<u64>().ok())
    });
    Some(EndToEnd {
        avg_ms,
        p50_ms: vals.next()??,
        p99_ms: vals.next()??,
        p999_ms: vals.next()??,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn connection_properties_become_the_java_client_s() {
        let p = |kv: &[(&str, &str)]| -> Vec<(String, String)> {
            kv.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let text = super::java_client_properties(&p(&[
            ("security.protocol", "sasl_ssl"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "kbench"),
            ("sasl.password", "pa\"ss"),
            ("ssl.ca.location", "/t/ca.pem"),
        ]))
        .unwrap()
        .0;
        assert!(text.contains("security.protocol=SASL_SSL\n"), "{text}");
        assert!(text.contains("ssl.truststore.type=PEM\nssl.truststore.location=/t/ca.pem\n"));
        assert!(text.contains(
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"kbench\" password=\"pa\\\\\"ss\";"
        ), "{text}");
        assert!(super::java_client_properties(&p(&[("sasl.oauthbearer.config", "x")])).is_err());
        assert_eq!(super::java_client_properties(&[]).unwrap().0, "");
    }

    use super::*;

    #[test]
    fn producer_summary_prefers_the_steady_state_line() {
        let out = "\
20419 records sent, 4075.6 records/sec (3.98 MB/sec), 3353.5 ms avg latency, 3587.0 ms max latency.
300000 records sent, 12837.519791 records/sec (12.54 MB/sec), 1564.47 ms avg latency, 3709.00 ms max latency, 1164 ms 50th, 3369 ms 95th, 3517 ms 99th, 3646 ms 99.9th.
250000 steady state records sent, 15060.240964 records/sec (14.71 MB/sec), 1439.00 ms avg latency, 3638.00 ms max latency, 1100 ms 50th, 3362 ms 95th, 3503 ms 99th, 3599 ms 99.9th.
";
        let r = parse_producer_perf(out).unwrap();
        assert!(r.steady_state);
        assert_eq!(r.records, 250_000);
        assert!((r.per_sec - 15060.240964).abs() < 1e-6);
        assert_eq!(r.mb_per_sec, 14.71);
        assert_eq!((r.p50_ms, r.p99_ms, r.avg_ms), (1100.0, 3503.0, 1439.0));
        let overall =
            parse_producer_perf(out.lines().take(2).collect::<Vec<_>>().join("\n").as_str());
        assert_eq!(overall.unwrap().records, 300_000);
        assert_eq!(parse_producer_perf("20419 records sent, 4075.6 records/sec (3.98 MB/sec), 1 ms avg latency, 2 ms max latency."), None);
    }

    #[test]
    fn consumer_stats_row_is_read_by_column_name() {
        let out = "\
start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec
2026-11-24 00:01:02:003, 2026-11-24 00:01:07:003, 95.3674, 19.0735, 1000000, 200000.0000, 3000, 2000, 47.6837, 500000.0000
";
        let r = parse_consumer_perf(out).unwrap();
        assert_eq!(r.records, 1_000_000);
        assert_eq!(r.fetch_per_sec, 500_000.0);
        assert_eq!(r.per_sec, 200_000.0);
        assert_eq!((r.rebalance_ms, r.fetch_ms), (3000.0, 2000.0));
        assert_eq!(parse_consumer_perf("nothing"), None);
    }

    #[test]
    fn end_to_end_result() {
        let out = "0\t45.1\nAvg latency: 1.8734 ms\nPercentiles: 50th = 1, 99th = 4, 99.9th = 12\n";
        assert_eq!(
            parse_e2e(out),
            Some(EndToEnd {
                avg_ms: 1.8734,
                p50_ms: 1,
                p99_ms: 4,
                p999_ms: 12
            })
        );
        assert_eq!(parse_e2e("Avg latency: 1 ms\n"), None);
    }

    #[test]
    fn producer_args_state_every_setting() {
        let a =
            producer_perf_args("b:9092", "t", 1000, 100, 1024, None, Acks::All, 5, 65536).join(" ");
        assert!(a.contains("--throughput -1"), "{a}");
        assert!(a.contains("--warmup-records 100"), "{a}");
        assert!(
            a.contains("acks=all") && a.contains("enable.idempotence=false"),
            "{a}"
        );
        assert!(a.contains("linger.ms=5 batch.size=65536"), "{a}");
        let paced =
            producer_perf_args("b", "t", 10, 0, 100, Some(500), Acks::One, 5, 65536).join(" ");
        assert!(
            paced.contains("--throughput 500") && !paced.contains("warmup"),
            "{paced}"
        );
    }
}
