//! `kbench versus`: kbench side by side with Apache Kafka's own load tools against the same
//! cluster, to show that the harness is never the bottleneck.
//!
//! - [`plan`]: the matrix (max-rate produce, CPU per message at a fixed rate, consume, end-to-end
//!   latency) and the settings both tools get.
//! - [`java`]: `ProducerPerformance`, `ConsumerPerformance`, `EndToEndLatency` from the
//!   kafka-tools jar: command lines, child processes, parsing their output.
//! - [`kbench`]: kbench's side through the runner library (a one-cell scenario run in this
//!   process, or by the kbench binary as a child for the CPU comparison) and a consume-only
//!   path (one fleet consumer reading a pre-filled topic).
//! - [`cpu`]: CPU time of a child process from /proc and wait4, per thread too.
//! - [`report`]: versus.csv, ratios.csv, cpu-threads.csv, versus.md, versus.png.
//!
//! Each comparison runs `--pairs` times; a pair is one run of each tool, one after the other,
//! each on a new topic; pairs are the outer loop and the order inside a pair alternates, so
//! drift (other load on the host, log segments growing) hits both tools alike.

pub mod cpu;
pub mod java;
pub mod kbench;
pub mod librdkafka;
pub mod plan;
pub mod report;

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, Context};

use crate::cluster::fetch::{self, DEFAULT_KAFKA_VERSION};
use crate::rundir::{self, RunDir};
use crate::runner::CellEnv;
use crate::session::Session;
use java::JavaEnv;
use kbench::EndOffsets;
use plan::{Comparison, Kind, Plan};
use report::{Measurement, ThreadCpu, KBENCH};

/// How to run the comparisons, beyond the cluster.
#[derive(Debug, Clone)]
pub struct VersusOptions {
    pub pairs: u32,
    /// One comparison of each kind with short runs.
    pub quick: bool,
    /// Only these kinds of comparison (empty: all).
    pub only: Vec<Kind>,
    /// The fixed rate (msg/s) of the CPU comparison.
    pub cpu_rate: u32,
    /// Where the run directory (`versus-<timestamp>`) is created.
    pub reports_dir: PathBuf,
    /// Only the final table.
    pub quiet: bool,
}

/// Everything a run accumulates.
struct Run<'a> {
    plan: Plan,
    session: &'a Session,
    run: RunDir,
    dir: PathBuf,
    run_id: String,
    bootstrap: &'a str,
    brokers: usize,
    java: JavaEnv,
    offsets: EndOffsets,
    measurements: Vec<Measurement>,
    threads: Vec<ThreadCpu>,
    /// The latest kbench max rate per comparison: ProducerPerformance gets a record count that
    /// takes about as long at that rate.
    kbench_rate: HashMap<String, f64>,
    /// The consume comparison's pre-filled topic and its record count.
    prefilled: Option<(String, u64)>,
    failures: usize,
    /// librdkafka's rdkafka_performance, when it could be built here.
    rdkafka_perf: Option<PathBuf>,
    /// The connection properties for it (librdkafka names, resolved), in a private file.
    rdkafka_config: Option<java::PrivateFile>,
}

/// Every comparison, `--pairs` times, against `session`'s cluster; `lib` holds the Kafka
/// tools' jars. Returns the exit code: 0, 1 when a run failed, 130 when interrupted.
pub fn run(
    opts: &VersusOptions,
    session: &Session,
    lib: &Path,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let (bootstrap, brokers) = (session.bootstrap(), session.brokers);
    let plan = Plan::new(opts.quick, opts.pairs, brokers, &opts.only, opts.cpu_rate);
    let run_dir = session.create_run(&opts.reports_dir, "versus", None, opts.pairs, None)?;
    let java = JavaEnv::new(
        fetch::java_cmd(),
        lib,
        session.access(),
        run_dir.dir.join("raw"),
    )?;
    let mut r = Run {
        plan,
        session,
        dir: run_dir.dir.clone(),
        run_id: run_dir.run_id.clone(),
        run: run_dir,
        bootstrap,
        brokers,
        java,
        offsets: EndOffsets::new(session.access())?,
        measurements: Vec::new(),
        threads: Vec::new(),
        kbench_rate: HashMap::new(),
        prefilled: None,
        failures: 0,
        rdkafka_perf: None,
        rdkafka_config: None,
    };
    if r.plan
        .comparisons
        .iter()
        .any(|c| c.kind.tools().contains(&librdkafka::RDKAFKA_PERF))
    {
        match librdkafka::binary(&r.dir.join("raw").join("rdkafka_performance-build.log")) {
            Ok(bin) => r.rdkafka_perf = Some(bin),
            Err(e) => writeln!(out, "rdkafka_performance left out: {e:#}")?,
        }
        let props = session.access().resolved();
        if !props.is_empty() {
            let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
            r.rdkafka_config = Some(java::PrivateFile::write(
                "client-librdkafka.properties",
                &text,
            )?);
        }
    }
    let t0 = Instant::now();
    writeln!(
        out,
        "versus {}: {} comparisons x {} pairs against {bootstrap} ({brokers} brokers), Kafka tools {DEFAULT_KAFKA_VERSION}{}",
        r.run_id,
        r.plan.comparisons.len(),
        r.plan.pairs,
        if cfg!(debug_assertions) { " [debug build: use --release for real figures]" } else { "" }
    )?;
    writeln!(out, "reports: {}", r.dir.display())?;
    if !opts.quiet {
        for c in &r.plan.comparisons {
            writeln!(out, "  {}: {}", c.id, c.settings())?;
        }
    }
    let comparisons = r.plan.comparisons.clone();
    'pairs: for pair in 1..=r.plan.pairs {
        for c in &comparisons {
            // Every tool of the comparison once per pair; the order rotates from pair to
            // pair (kbench first, then second, ...), so drift hits every tool alike.
            let mut tools: Vec<&str> = vec![KBENCH];
            tools.extend(
                c.kind
                    .tools()
                    .iter()
                    .filter(|t| **t != librdkafka::RDKAFKA_PERF || r.rdkafka_perf.is_some()),
            );
            let n = tools.len();
            tools.rotate_left((pair as usize - 1) % n);
            for (i, tool) in tools.into_iter().enumerate() {
                let order = i as u32 + 1;
                if session.shutdown.is_triggered() {
                    break 'pairs;
                }
                let result = match tool {
                    KBENCH => r.kbench_side(c, pair, order),
                    librdkafka::RDKAFKA_PERF => r.librdkafka_side(c, pair, order),
                    _ => r.java_side(c, pair, order),
                };
                match result {
                    Ok(m) => {
                        if !opts.quiet {
                            writeln!(out, "{}", progress_line(&m, r.plan.pairs))?;
                        }
                        r.measurements.push(m);
                    }
                    Err(e) => {
                        r.failures += 1;
                        writeln!(out, "pair {pair} {} {tool}: failed: {e:#}", c.id)?;
                    }
                }
                r.write_measurements()?;
            }
        }
        r.write_reports(out)?;
    }
    if let Some((topic, _)) = r.prefilled.take() {
        r.delete_topic(&topic)?;
    }
    let rows = r.write_reports(out)?;
    writeln!(out)?;
    write!(out, "{}", report::ratio_table(&rows))?;
    writeln!(
        out,
        "wrote {} ({:.0} s)",
        r.dir.join(rundir::VERSUS_MD).display(),
        t0.elapsed().as_secs_f64()
    )?;
    if session.shutdown.is_triggered() {
        return Ok(130);
    }
    if r.failures > 0 {
        writeln!(
            out,
            "{} run(s) failed: see above and {}",
            r.failures,
            r.dir.join("raw").display()
        )?;
        return Ok(1);
    }
    Ok(0)
}

/// A record count the Java tools never reach in a pipeline comparison: they are stopped
/// after the measured window.
const RECORDS_NEVER_REACHED: u64 = 1_000_000_000;

fn progress_line(m: &Measurement, pairs: u32) -> String {
    let mut s = format!(
        "pair {}/{pairs} {:<28} {:<20} {:>10.0} msg/s {:>7.2} MB/s",
        m.pair, m.comparison, m.tool, m.msgs_per_sec, m.mb_per_sec
    );
    if let Some(c) = m.cpu_s_per_million {
        s.push_str(&format!("  CPU {c:.2} s per million"));
    }
    if let (Some(p50), Some(mean)) = (m.p50_ms, m.mean_ms) {
        s.push_str(&format!("  p50 {p50:.2} ms mean {mean:.2} ms"));
    }
    if !m.notes.is_empty() {
        s.push_str(&format!("  [{}]", m.notes));
    }
    s
}

impl Run<'_> {
    fn rf(&self) -> i32 {
        self.plan.replication_factor
    }

    fn topic(&self, c: &Comparison, pair: u32, side: &str) -> String {
        self.session
            .topic_name(&self.run_id, &format!("{}-p{pair}-{side}", c.id))
    }

    /// Create a topic for a Kafka tool (registered in topics.txt like kbench's own).
    fn create_topic(&self, name: &str, partitions: i32) -> anyhow::Result<()> {
        let s = self.session;
        s.create_topic(&self.run, name, partitions, self.rf(), &BTreeMap::new())?;
        s.wait_for_leaders(name, partitions, self.rf())
    }

    fn delete_topic(&self, name: &str) -> anyhow::Result<()> {
        self.session.delete_topics(&[name])
    }

    /// The consume comparison's topic, filled on first use.
    fn prefilled(&mut self, c: &Comparison) -> anyhow::Result<(String, u64)> {
        if let Some(p) = &self.prefilled {
            return Ok(p.clone());
        }
        let topic = self
            .session
            .topic_name(&self.run_id, &format!("{}-prefill", c.id));
        self.create_topic(&topic, c.partitions)?;
        let n = kbench::prefill(c, self.rf(), self.session.access(), &topic)?;
        self.prefilled = Some((topic.clone(), n));
        Ok((topic, n))
    }

    fn kbench_side(
        &mut self,
        c: &Comparison,
        pair: u32,
        order: u32,
    ) -> anyhow::Result<Measurement> {
        let mut m = Measurement::new(c, pair, order, KBENCH);
        match c.kind {
            Kind::Produce | Kind::E2e => {
                let topic = self.topic(c, pair, "kbench");
                let env = CellEnv {
                    session: self.session,
                    run: &self.run,
                    quiet: true,
                    faults: None,
                    client_stats: None,
                };
                let o = kbench::run_in_process(c, self.rf(), &topic, &env)?;
                let s = &o.summary;
                let lat = if c.kind == Kind::Produce {
                    m.records = s.acked;
                    m.msgs_per_sec = s.acked_per_sec;
                    m.mb_per_sec = s.acked_mb_per_sec;
                    // This process's CPU over the measurement window (nothing else of versus
                    // runs meanwhile), per acked message: set beside rdkafka_performance's.
                    m.cpu_s_per_million = (s.acked > 0)
                        .then(|| s.cpu.process_cores * s.measure_secs / s.acked as f64 * 1e6);
                    self.kbench_rate.insert(c.id.clone(), s.acked_per_sec);
                    s.publish
                } else {
                    m.records = s.consumed;
                    m.msgs_per_sec = s.consumed_per_sec;
                    m.mb_per_sec = s.consumed_mb_per_sec;
                    s.e2e
                };
                if lat.count > 0 {
                    m.p50_ms = Some(lat.p50 as f64 / 1e3);
                    m.p99_ms = Some(lat.p99 as f64 / 1e3);
                    m.mean_ms = Some(lat.mean / 1e3);
                }
                let mut notes: Vec<String> = s.flags.iter().map(|f| f.name().to_string()).collect();
                notes.push(format!(
                    "busiest send thread {:.0}%, process {:.2} cores",
                    s.busiest_producer * 100.0,
                    s.cpu.process_cores
                ));
                if s.failed > 0 {
                    notes.push(format!("{} failed", s.failed));
                }
                m.notes = notes.join("; ");
            }
            Kind::Cpu | Kind::Pipeline => {
                let name = format!("{}-p{pair}-kbench", c.id);
                let child = kbench::run_child(
                    c,
                    self.rf(),
                    self.session.access(),
                    &self.dir,
                    &name,
                    &self.offsets,
                )?;
                let row = &child.row;
                m.p50_ms = Some(row.publish_p50_us as f64 / 1e3);
                m.p99_ms = Some(row.publish_p99_us as f64 / 1e3);
                let mut notes = vec![format!(
                    "{:.0} msg/s acked over the cell",
                    row.acked_per_sec
                )];
                if c.kind == Kind::Pipeline {
                    // The consumer's side: it must have kept up for the CPU to be a pipeline's.
                    notes.push(format!(
                        "consumed {} of {} acked, lost {}, e2e p50 {:.1} ms",
                        row.consumed,
                        row.acked,
                        row.lost,
                        row.e2e_p50_us as f64 / 1e3
                    ));
                }
                notes.extend(
                    row.flags
                        .split(';')
                        .filter(|f| !f.is_empty())
                        .map(String::from),
                );
                m.notes = notes.join("; ");
                self.cpu_figures(&mut m, c, pair, &child.window, child.exit.cpu_total_s);
            }
            Kind::Consume => {
                let (topic, n) = self.prefilled(c)?;
                let group = self.topic(c, pair, "kbench");
                let read = kbench::consume(self.session.access(), &topic, c.partitions, n, &group)?;
                m.records = read.records;
                m.msgs_per_sec = read.records as f64 / read.fetch_secs.max(1e-9);
                m.mb_per_sec = read.bytes as f64 / read.fetch_secs.max(1e-9) / 1e6;
                m.notes = format!(
                    "{:.0} msg/s including the group join",
                    read.records as f64 / read.total_secs.max(1e-9)
                );
            }
        }
        Ok(m)
    }

    /// librdkafka's rdkafka_performance: max-rate produce on a fresh topic, or a new group
    /// reading the pre-filled topic. Throughput is its own figure; CPU is its whole life
    /// (`wait4`), start-up and flush included.
    fn librdkafka_side(
        &mut self,
        c: &Comparison,
        pair: u32,
        order: u32,
    ) -> anyhow::Result<Measurement> {
        let bin = self
            .rdkafka_perf
            .clone()
            .ok_or_else(|| anyhow!("rdkafka_performance is not available"))?;
        let mut m = Measurement::new(c, pair, order, librdkafka::RDKAFKA_PERF);
        let name = format!("{}-p{pair}-librdkafka", c.id);
        let config = self.rdkafka_config.as_ref().map(|f| f.path.clone());
        let config = config.as_deref();
        let (args, topic) = match c.kind {
            Kind::Produce => {
                let topic = self.topic(c, pair, "librdkafka");
                self.create_topic(&topic, c.partitions)?;
                // About as many records as kbench's last run acknowledged in the same time.
                let estimate = self.kbench_rate.get(&c.id).copied().unwrap_or(20_000.0);
                let records =
                    ((estimate * (c.warmup + c.duration).as_secs_f64()) as u64).max(10_000);
                let args = librdkafka::producer_args(c, self.bootstrap, &topic, records, config);
                (args, Some(topic))
            }
            Kind::Consume => {
                let (topic, n) = self.prefilled(c)?;
                let group = self.topic(c, pair, "librdkafka");
                (
                    librdkafka::consumer_args(self.bootstrap, &topic, &group, n, config),
                    None,
                )
            }
            other => anyhow::bail!("rdkafka_performance has no {} comparison", other.name()),
        };
        let log = self.java.log_path(&name);
        let out = std::fs::File::create(&log).with_context(|| log.display().to_string())?;
        let run = std::process::Command::new(&bin)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()
            .context("starting rdkafka_performance")
            .and_then(|mut child| cpu::wait_with_rusage(&mut child));
        if let Some(t) = &topic {
            self.delete_topic(t)?;
        }
        let exit = run?;
        let output = self.java.output(&name);
        let (records, rate, mb) = librdkafka::parse_summary(&output)
            .filter(|_| exit.success)
            .ok_or_else(|| self.tool_failed(librdkafka::RDKAFKA_PERF, &name, &exit))?;
        m.records = records;
        m.msgs_per_sec = rate;
        m.mb_per_sec = mb;
        m.cpu_total_s = Some(exit.cpu_total_s);
        m.cpu_s_per_million = (records > 0).then(|| exit.cpu_total_s / records as f64 * 1e6);
        m.notes = "CPU over its whole life".into();
        Ok(m)
    }

    /// CPU per million records from a child's window (records: what the topic gained in the
    /// window); the thread breakdown is kept for the report.
    fn cpu_figures(
        &mut self,
        m: &mut Measurement,
        c: &Comparison,
        pair: u32,
        w: &cpu::WindowCpu,
        total: f64,
    ) {
        let records = w.records as f64;
        m.records = w.records;
        m.msgs_per_sec = records / w.wall_s.max(1e-9);
        m.mb_per_sec = m.msgs_per_sec * c.record_size as f64 / 1e6;
        m.cpu_window_s = Some(w.cpu_s);
        m.window_wall_s = Some(w.wall_s);
        m.window_records = Some(records);
        m.cpu_s_per_million = (records > 0.0).then(|| w.cpu_s / records * 1e6);
        let jit: f64 = w
            .threads
            .iter()
            .filter(|(name, _)| name.contains("CompilerThre"))
            .map(|(_, t)| t.cpu_s)
            .sum();
        m.cpu_s_per_million_no_jit =
            (records > 0.0).then(|| (w.cpu_s - jit).max(0.0) / records * 1e6);
        m.cpu_total_s = Some(total);
        let asked = c.rate.unwrap_or(0) as f64 * (c.warmup + c.duration).as_secs_f64();
        m.cpu_total_s_per_million = (asked > 0.0).then(|| total / asked * 1e6);
        for (thread, t) in &w.threads {
            self.threads.push(ThreadCpu {
                comparison: c.id.clone(),
                tool: m.tool.clone(),
                pair,
                thread: thread.clone(),
                cpu_s: t.cpu_s,
                sys_s: t.sys_s,
            });
        }
    }

    fn java_side(&mut self, c: &Comparison, pair: u32, order: u32) -> anyhow::Result<Measurement> {
        let mut m = Measurement::new(c, pair, order, c.kind.java_tool());
        let name = format!("{}-p{pair}-java", c.id);
        match c.kind {
            Kind::Produce => {
                let topic = self.topic(c, pair, "java");
                self.create_topic(&topic, c.partitions)?;
                let result = self.producer_perf(c, &topic, &name);
                self.delete_topic(&topic)?;
                let (rate, records, cpu_total, p50, p99, avg) = result?;
                m.records = records;
                m.msgs_per_sec = rate;
                m.mb_per_sec = rate * c.record_size as f64 / 1e6;
                m.cpu_total_s = Some(cpu_total);
                m.p50_ms = Some(p50);
                m.p99_ms = Some(p99);
                m.mean_ms = Some(avg);
            }
            Kind::Cpu => {
                let topic = self.topic(c, pair, "java");
                self.create_topic(&topic, c.partitions)?;
                let rate = c.rate.unwrap_or(1000);
                let secs = (c.warmup + c.duration).as_secs_f64();
                let records = (rate as f64 * secs) as u64;
                let warm = (rate as f64 * c.warmup.as_secs_f64()) as u64;
                let args = java::producer_perf_args(
                    self.bootstrap,
                    &topic,
                    records,
                    warm,
                    c.record_size,
                    c.rate,
                    c.acks,
                    c.linger_ms,
                    c.batch_size,
                );
                let result = (|| {
                    let start = Instant::now();
                    let mut child = self.java.spawn(java::PRODUCER_PERF, &args, &name)?;
                    let mut mark = || self.offsets.sum(&topic, c.partitions);
                    let w =
                        cpu::measure_window(child.id(), start, c.cpu_skip, c.cpu_window, &mut mark);
                    let exit = cpu::wait_with_rusage(&mut child)?;
                    anyhow::Ok((w, exit))
                })();
                self.delete_topic(&topic)?;
                let (w, exit) = result?;
                let output = self.java.output(&name);
                let perf = java::parse_producer_perf(&output)
                    .filter(|_| exit.success)
                    .ok_or_else(|| self.tool_failed("ProducerPerformance", &name, &exit))?;
                let w = w.context("ProducerPerformance")?;
                m.notes = format!("{:.0} msg/s steady state (its own figure)", perf.per_sec);
                m.p50_ms = Some(perf.p50_ms);
                m.p99_ms = Some(perf.p99_ms);
                m.mean_ms = Some(perf.avg_ms);
                self.cpu_figures(&mut m, c, pair, &w, exit.cpu_total_s);
            }
            Kind::Pipeline => {
                let topic = self.topic(c, pair, "java");
                self.create_topic(&topic, c.partitions)?;
                let result = self.java_pipeline(c, &topic, &name);
                self.delete_topic(&topic)?;
                let (w, total) = result?;
                m.notes = "two JVMs: CPU is both processes' over the window".into();
                self.cpu_figures(&mut m, c, pair, &w, total);
            }
            Kind::Consume => {
                let (topic, n) = self.prefilled(c)?;
                let group = self.topic(c, pair, "java");
                let args = java::consumer_perf_args(self.bootstrap, &topic, n, &group);
                let mut child = self.java.spawn(java::CONSUMER_PERF, &args, &name)?;
                let exit = cpu::wait_with_rusage(&mut child)?;
                let output = self.java.output(&name);
                let perf = java::parse_consumer_perf(&output)
                    .filter(|_| exit.success)
                    .ok_or_else(|| self.tool_failed("ConsumerPerformance", &name, &exit))?;
                if perf.records < n {
                    m.notes = format!("read {} of {n} records", perf.records);
                }
                m.records = perf.records;
                m.msgs_per_sec = perf.fetch_per_sec;
                m.mb_per_sec = perf.fetch_per_sec * c.record_size as f64 / 1e6;
                m.cpu_total_s = Some(exit.cpu_total_s);
                if m.notes.is_empty() {
                    m.notes = format!("{:.0} msg/s including the group join", perf.per_sec);
                }
            }
            Kind::E2e => {
                let topic = self.topic(c, pair, "java");
                self.create_topic(&topic, c.partitions)?;
                let args =
                    java::e2e_args(self.bootstrap, &topic, c.messages, c.acks, c.record_size);
                let exit = self
                    .java
                    .spawn(java::END_TO_END, &args, &name)
                    .and_then(|mut child| cpu::wait_with_rusage(&mut child));
                self.delete_topic(&topic)?;
                let exit = exit?;
                let output = self.java.output(&name);
                let e2e = java::parse_e2e(&output)
                    .filter(|_| exit.success)
                    .ok_or_else(|| self.tool_failed("EndToEndLatency", &name, &exit))?;
                m.records = c.messages;
                m.msgs_per_sec = if e2e.avg_ms > 0.0 {
                    1e3 / e2e.avg_ms
                } else {
                    0.0
                };
                m.mb_per_sec = m.msgs_per_sec * c.record_size as f64 / 1e6;
                m.p50_ms = Some(e2e.p50_ms as f64);
                m.p99_ms = Some(e2e.p99_ms as f64);
                m.mean_ms = Some(e2e.avg_ms);
                m.cpu_total_s = Some(exit.cpu_total_s);
                m.notes = "percentiles in whole ms (truncated)".into();
            }
        }
        Ok(m)
    }

    /// `c.producers` concurrent ProducerPerformance processes at max rate, together sending
    /// about as many records as kbench's last run acknowledged in the same time. Returns the
    /// summed steady-state rate, records, summed whole-life CPU, and the mean p50 / p99 / avg.
    fn producer_perf(
        &self,
        c: &Comparison,
        topic: &str,
        name: &str,
    ) -> anyhow::Result<(f64, u64, f64, f64, f64, f64)> {
        let estimate = self.kbench_rate.get(&c.id).copied().unwrap_or(20_000.0);
        let secs = (c.warmup + c.duration).as_secs_f64();
        let total = ((estimate * secs) as u64).max(10_000);
        let warm = (total as f64 * c.warmup.as_secs_f64() / secs) as u64;
        let n = c.producers as u64;
        let mut children = Vec::new();
        for i in 0..n {
            let args = java::producer_perf_args(
                self.bootstrap,
                topic,
                total / n,
                warm / n,
                c.record_size,
                None,
                c.acks,
                c.linger_ms,
                c.batch_size,
            );
            let each = format!("{name}-{i}");
            children.push((self.java.spawn(java::PRODUCER_PERF, &args, &each)?, each));
        }
        let mut exits = Vec::new();
        for (child, each) in &mut children {
            exits.push((cpu::wait_with_rusage(child)?, each.clone()));
        }
        let (mut rate, mut records, mut cpu_total) = (0.0, 0u64, 0.0);
        let (mut p50, mut p99, mut avg) = (0.0, 0.0, 0.0);
        for (exit, each) in &exits {
            let perf = java::parse_producer_perf(&self.java.output(each))
                .filter(|_| exit.success)
                .ok_or_else(|| self.tool_failed("ProducerPerformance", each, exit))?;
            rate += perf.per_sec;
            records += perf.records;
            cpu_total += exit.cpu_total_s;
            p50 += perf.p50_ms / n as f64;
            p99 += perf.p99_ms / n as f64;
            avg += perf.avg_ms / n as f64;
        }
        Ok((rate, records, cpu_total, p50, p99, avg))
    }

    /// ProducerPerformance (max rate, more records than it can send in the run) and
    /// ConsumerPerformance reading the same topic, started together; both measured over the
    /// same window as kbench's child (after JVM start-up and warm-up), then stopped. Returns
    /// the window (CPU of both, records the topic gained) and both processes' whole-life CPU.
    fn java_pipeline(
        &self,
        c: &Comparison,
        topic: &str,
        name: &str,
    ) -> anyhow::Result<(cpu::WindowCpu, f64)> {
        let mut producer_args = java::producer_perf_args(
            self.bootstrap,
            topic,
            RECORDS_NEVER_REACHED,
            0,
            c.record_size,
            None,
            c.acks,
            c.linger_ms,
            c.batch_size,
        );
        if c.idempotence {
            for a in producer_args.iter_mut() {
                if a == "enable.idempotence=false" {
                    *a = "enable.idempotence=true".into();
                }
            }
        }
        let group = format!("{topic}-group");
        let consumer_args =
            java::consumer_perf_args(self.bootstrap, topic, RECORDS_NEVER_REACHED, &group);
        let (pname, cname) = (format!("{name}-producer"), format!("{name}-consumer"));
        let start = Instant::now();
        let mut producer = self
            .java
            .spawn(java::PRODUCER_PERF, &producer_args, &pname)?;
        let mut consumer = match self.java.spawn(java::CONSUMER_PERF, &consumer_args, &cname) {
            Ok(child) => child,
            Err(e) => {
                let _ = producer.kill();
                let _ = producer.wait();
                return Err(e);
            }
        };
        let (pw, cw) = std::thread::scope(|scope| {
            let (ppid, cpid) = (producer.id(), consumer.id());
            let consumer_window = scope.spawn(move || {
                cpu::measure_window(cpid, start, c.cpu_skip, c.cpu_window, &mut || Ok(0))
            });
            let mut mark = || self.offsets.sum(topic, c.partitions);
            let pw = cpu::measure_window(ppid, start, c.cpu_skip, c.cpu_window, &mut mark);
            let cw = consumer_window
                .join()
                .unwrap_or_else(|_| Err(anyhow!("the window thread panicked")));
            (pw, cw)
        });
        // Stopped, not finished: their own end-of-run figures are not used.
        let _ = producer.kill();
        let _ = consumer.kill();
        let pexit = cpu::wait_with_rusage(&mut producer)?;
        let cexit = cpu::wait_with_rusage(&mut consumer)?;
        let pw = pw.map_err(|e| {
            anyhow!(
                "{e:#}; {}",
                self.tool_failed("ProducerPerformance", &pname, &pexit)
            )
        })?;
        let cw = cw.map_err(|e| {
            anyhow!(
                "{e:#}; {}",
                self.tool_failed("ConsumerPerformance", &cname, &cexit)
            )
        })?;
        if pw.records == 0 {
            anyhow::bail!(
                "ProducerPerformance wrote no record in the window ({:.0} s to {:.0} s after \
                 start): the JVMs had not started in time on this host (log {})",
                c.cpu_skip.as_secs_f64(),
                (c.cpu_skip + c.cpu_window).as_secs_f64(),
                self.java.log_path(&pname).display()
            );
        }
        let mut w = pw;
        w.cpu_s += cw.cpu_s;
        w.threads = w
            .threads
            .into_iter()
            .map(|(t, s)| (format!("producer {t}"), s))
            .chain(
                cw.threads
                    .into_iter()
                    .map(|(t, s)| (format!("consumer {t}"), s)),
            )
            .collect();
        Ok((w, pexit.cpu_total_s + cexit.cpu_total_s))
    }

    fn tool_failed(&self, tool: &str, name: &str, exit: &cpu::Exit) -> anyhow::Error {
        anyhow!(
            "{tool} exited with {:?} and no result (log {}): {}",
            exit.code,
            self.java.log_path(name).display(),
            kbench::last_lines(&self.java.output(name), 5)
        )
    }

    fn write_measurements(&self) -> anyhow::Result<()> {
        self.run.write_table(rundir::VERSUS, &self.measurements)?;
        self.run
            .write_table(rundir::VERSUS_THREADS, &self.threads)?;
        Ok(())
    }

    /// Ratios, Markdown and PNG from the measurements so far.
    fn write_reports(&self, out: &mut impl Write) -> anyhow::Result<Vec<report::RatioRow>> {
        self.write_measurements()?;
        let rows = report::ratios(&self.plan.comparisons, &self.measurements);
        self.run.write_table(rundir::VERSUS_RATIOS, &rows)?;
        let header = report::Header {
            run_id: &self.run_id,
            bootstrap: self.bootstrap,
            brokers: self.brokers,
            kafka_version: DEFAULT_KAFKA_VERSION,
            librdkafka: crate::rundir::manifest::librdkafka_version(),
            pairs: self.plan.pairs,
            quick: self.plan.quick,
            host_cores: crate::sys::cpu::cores(),
        };
        let md = report::markdown(&header, &self.plan.comparisons, &rows, &self.threads);
        self.run.write_file(rundir::VERSUS_MD, md.as_bytes())?;
        if let Err(e) = report::chart(&rows, &self.dir.join(rundir::VERSUS_PNG)) {
            writeln!(out, "chart not written: {e}")?;
        }
        Ok(rows)
    }
}
