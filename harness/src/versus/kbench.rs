//! kbench's side of each comparison, through the runner library: a one-cell scenario is
//! written as TOML (so it is exactly what `kbench run` would read) and run in this process
//! with [`runner::run_cell`], or, for the CPU comparison, by the kbench binary as a child
//! process (so it is measured exactly like the JVM). Consuming a pre-filled topic, which
//! `kbench run` has no mode for, uses the fleet's own producer and consumer directly.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use super::cpu::{self, Exit, WindowCpu};
use super::plan::{Comparison, Kind};
use crate::cluster::Access;
use crate::fleet::consumer::{self, ConsumerPlan, ConsumerShared};
use crate::fleet::keys::KeyGen;
use crate::fleet::payload::stamp::ProducerId;
use crate::fleet::payload::PayloadGen;
use crate::fleet::producer::{self, ProducerPlan, ProducerShared};
use crate::metrics::{ClientStats, Clock};
use crate::rundir::rows::ResultRow;
use crate::runner::{self, CellEnv, CellOutcome};
use crate::scenario::{CellSpec, StampPlace, StartFrom};

/// librdkafka's producer queue, capped like the Java producer's `buffer.memory` (32 MiB):
/// kbench's own default (1 GiB, for paced runs that must not drop their schedule) would let a
/// max-rate run queue minutes of backlog and then wait for it.
pub const QUEUE_KBYTES: u32 = 32 * 1024;

/// The one-cell scenario kbench runs for a comparison.
pub fn scenario_toml(c: &Comparison, replication_factor: i32) -> String {
    let rate = match c.rate {
        Some(r) => r.to_string(),
        None => "\"max\"".into(),
    };
    let (groups, sync) = match c.kind {
        Kind::E2e => (1, true),
        Kind::Pipeline => (1, false),
        _ => (0, false),
    };
    format!(
        "# kbench versus: {id} ({settings})\n\
         name = \"versus-{id}\"\n\
         [topic]\npartitions = {partitions}\nreplication_factor = {replication_factor}\n\
         [producers]\ncount = {count}\nrate = {rate}\nmessage_size = {size}\nacks = \"{acks}\"\n\
         linger_ms = {linger}\nbatch_size = {batch}\ncompression = \"none\"\nsync = {sync}\n\
         idempotence = {idempotence}\n\
         [consumers]\ngroups = {groups}\nmembers = 1\nstart_from = \"earliest\"\n\
         [run]\nwarmup = \"{warmup}ms\"\nduration = \"{duration}ms\"\ndrain_timeout = \"30s\"\n\
         [client.producer]\n\"queue.buffering.max.kbytes\" = {QUEUE_KBYTES}\n",
        id = c.id,
        settings = c.settings(),
        partitions = c.partitions,
        count = c.producers,
        size = c.record_size,
        acks = c.acks.as_config(),
        linger = c.linger_ms,
        batch = c.batch_size,
        idempotence = c.idempotence,
        warmup = c.warmup.as_millis(),
        duration = c.duration.as_millis(),
    )
}

/// The comparison's cell, parsed like any scenario file.
pub fn cell_for(c: &Comparison, replication_factor: i32) -> anyhow::Result<CellSpec> {
    let text = scenario_toml(c, replication_factor);
    let scenario = crate::scenario::parse_str(&text, Path::new(&format!("versus-{}.toml", c.id)))?;
    scenario
        .cells
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no cell"))
}

/// Run the comparison's cell in this process on `topic` (created and deleted by the runner).
pub fn run_in_process(
    c: &Comparison,
    replication_factor: i32,
    topic: &str,
    env: &CellEnv<'_>,
) -> anyhow::Result<CellOutcome> {
    let cell = cell_for(c, replication_factor)?;
    runner::run_cell(&cell, topic, env)
}

/// A kbench child process's CPU and results.
pub struct ChildRun {
    pub window: WindowCpu,
    pub exit: Exit,
    pub row: ResultRow,
}

/// Run the comparison's cell with the kbench binary (`kbench run`) as a child process, and
/// read its CPU time over the comparison's window, with the records its topic gained in the
/// window. `name` names the scenario file, the log and the child's reports directory.
pub fn run_child(
    c: &Comparison,
    replication_factor: i32,
    access: &Access,
    run_dir: &Path,
    name: &str,
    offsets: &EndOffsets,
) -> anyhow::Result<ChildRun> {
    let exe = std::env::current_exe().context("finding the kbench binary")?;
    let dir = run_dir.join("kbench");
    std::fs::create_dir_all(&dir)?;
    let toml = dir.join(format!("{name}.toml"));
    std::fs::write(&toml, scenario_toml(c, replication_factor))?;
    let log = run_dir.join("raw").join(format!("{name}.log"));
    std::fs::create_dir_all(log.parent().unwrap_or(run_dir))?;
    let out = std::fs::File::create(&log)?;
    let err = out.try_clone()?;
    let reports = run_dir.join("kbench-runs").join(name);
    let start = Instant::now();
    let mut child = std::process::Command::new(&exe)
        .arg("run")
        .arg(&toml)
        .arg("--bootstrap")
        .arg(&access.bootstrap)
        // The connection properties by file (what a secret needs is in the file or the
        // environment the child inherits, never on its command line).
        .args(
            access
                .file()
                .map(|f| vec![std::ffi::OsStr::new("--client-config"), f.as_os_str()])
                .unwrap_or_default(),
        )
        .arg("--reports")
        .arg(&reports)
        .arg("--quiet")
        .env_remove("KBENCH_BOOTSTRAP")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))?;
    // The child names its own topic; it records it in its run directory's topics.txt.
    let mut topic: Option<String> = None;
    let mut mark = || -> anyhow::Result<u64> {
        if topic.is_none() {
            topic = Some(child_topic(&reports)?);
        }
        offsets.sum(topic.as_deref().unwrap_or_default(), c.partitions)
    };
    let window = cpu::measure_window(child.id(), start, c.cpu_skip, c.cpu_window, &mut mark);
    let exit = cpu::wait_with_rusage(&mut child)?;
    let output = std::fs::read_to_string(&log).unwrap_or_default();
    if !exit.success {
        bail!(
            "kbench run exited with {:?} (log {}): {}",
            exit.code,
            log.display(),
            last_lines(&output, 5)
        );
    }
    let window = window.with_context(|| format!("kbench run (log {})", log.display()))?;
    let run = output
        .lines()
        .find_map(|l| l.strip_prefix("reports: "))
        .map(PathBuf::from)
        .ok_or_else(|| {
            anyhow!(
                "kbench run printed no reports directory ({})",
                log.display()
            )
        })?;
    let row = crate::rundir::read::load_results(&run)?
        .results
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("{}: no result row", run.display()))?;
    Ok(ChildRun { window, exit, row })
}

/// The topic a `kbench run` child created: the first line of topics.txt in the only run
/// directory under `reports`.
fn child_topic(reports: &Path) -> anyhow::Result<String> {
    for e in std::fs::read_dir(reports).with_context(|| reports.display().to_string())? {
        let topics = e?.path().join(crate::rundir::TOPICS);
        if let Ok(text) = std::fs::read_to_string(&topics) {
            if let Some(t) = text.lines().next() {
                return Ok(t.to_string());
            }
        }
    }
    bail!("the kbench child has not created its topic yet")
}

/// End offsets of a topic's partitions, summed: how many records the cluster has
/// acknowledged (up to the high watermark). Read the same way for both tools.
pub struct EndOffsets {
    consumer: rdkafka::consumer::BaseConsumer,
}

impl EndOffsets {
    pub fn new(access: &Access) -> anyhow::Result<EndOffsets> {
        let consumer = access
            .config()
            .set("log_level", "3")
            .create()
            .context("creating the offsets client")?;
        Ok(EndOffsets { consumer })
    }

    pub fn sum(&self, topic: &str, partitions: i32) -> anyhow::Result<u64> {
        use rdkafka::consumer::Consumer;
        let mut total = 0u64;
        for p in 0..partitions {
            let (_, high) = self
                .consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .with_context(|| format!("end offset of {topic}/{p}"))?;
            total += high.max(0) as u64;
        }
        Ok(total)
    }
}

pub fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// The run tag of the pre-fill producer's stamps, which the kbench consumer then reads: the
/// topic is the comparison's own, so a constant serves.
const RUN_TAG: u32 = 0x7665_7273;

/// Fill `topic` for the consume comparison: one kbench producer (so every record carries the
/// kbench stamp the consumer's hot path reads) at max rate for `c.duration`. Returns the
/// number of acknowledged records.
pub fn prefill(
    c: &Comparison,
    replication_factor: i32,
    access: &Access,
    topic: &str,
) -> anyhow::Result<u64> {
    let cell = cell_for(c, replication_factor)?;
    let clock = Clock::new();
    let start = Instant::now() + Duration::from_millis(10);
    let plan = ProducerPlan {
        index: 0,
        id: ProducerId::new(RUN_TAG, 0, 0),
        topic: topic.to_string(),
        partitions: c.partitions,
        spec: cell.producers.clone(),
        run: cell.run.clone(),
        access: access.clone(),
        extra: cell.client.producer.clone(),
        clock,
        warmup_end: start,
        start,
        seed: 7,
        keys: KeyGen::new(&cell.producers.keys, 7)?,
        payloads: PayloadGen::new(&cell.producers.message_size, 8)?,
        stats_dir: None,
    };
    let shared = Arc::new(ProducerShared::new(c.partitions as usize));
    let p = producer::create(&plan, &shared).map_err(|e| anyhow!("creating producer: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, stop2) = (shared.clone(), stop.clone());
    let t = std::thread::Builder::new()
        .name("kb-prefill".into())
        .spawn(move || producer::run(plan, p, s2, stop2, None))?;
    std::thread::sleep(c.duration);
    stop.store(true, Ordering::Relaxed);
    t.join()
        .map_err(|_| anyhow!("pre-fill producer panicked"))?
        .map_err(|e| anyhow!("pre-fill producer: {e}"))?;
    let acked = shared.acked_total.load(Ordering::Relaxed);
    if acked == 0 {
        bail!("the pre-fill producer had no record acknowledged");
    }
    Ok(acked)
}

/// What one kbench consumer read from the pre-filled topic.
#[derive(Debug, Clone)]
pub struct ConsumeRun {
    pub records: u64,
    pub bytes: u64,
    /// From the group assignment to the last record (as ConsumerPerformance's fetch time).
    pub fetch_secs: f64,
    /// From creating the consumer to the last record (group join included).
    pub total_secs: f64,
}

/// One kbench consumer (the fleet's consumer: stamp, delivery accounting, stats per record)
/// reads `expect` records of `topic` from the earliest offset in a new group.
pub fn consume(
    access: &Access,
    topic: &str,
    partitions: i32,
    expect: u64,
    group: &str,
) -> anyhow::Result<ConsumeRun> {
    let shared = Arc::new(ConsumerShared::new(partitions as usize));
    let plan = ConsumerPlan {
        producer_bases: std::sync::Arc::new(vec![0]),
        group_index: 0,
        member_index: 0,
        group_id: group.to_string(),
        topic: topic.to_string(),
        start_from: StartFrom::Earliest,
        isolation: crate::scenario::Isolation::ReadCommitted,
        stamp: StampPlace::Value,
        run_tag: RUN_TAG,
        access: access.clone(),
        extra: Default::default(),
        clock: Clock::new(),
        // Everything is measured.
        warmup_end_ns: Arc::new(AtomicU64::new(0)),
        group_offsets: consumer::group_offsets(partitions as usize),
        assignor: crate::scenario::Assignor::Range,
        group_protocol: crate::scenario::GroupProtocol::Classic,
        group_log: Arc::new(std::sync::Mutex::new(
            crate::metrics::rebalance::RebalanceLog::new(partitions as usize),
        )),
        stats_dir: None,
    };
    let t0 = Instant::now();
    let c = consumer::create(&plan, &shared).map_err(|e| anyhow!("creating consumer: {e}"))?;
    let stop = Arc::new(AtomicBool::new(false));
    let (s2, stop2) = (shared.clone(), stop.clone());
    let t = std::thread::Builder::new()
        .name("kb-c0.0".into())
        .spawn(move || consumer::run(plan, c, s2, stop2, Arc::new(AtomicBool::new(false))))?;
    let read =
        || shared.consumed_total.load(Ordering::Relaxed) + shared.foreign.load(Ordering::Relaxed);
    let mut assigned_at = None;
    let mut last = (0u64, Instant::now());
    let result = loop {
        std::thread::sleep(Duration::from_millis(1));
        let now = Instant::now();
        if assigned_at.is_none() && shared.assigned.load(Ordering::Acquire) {
            assigned_at = Some(now);
        }
        let n = read();
        if n >= expect {
            break Ok(now);
        }
        if n != last.0 {
            last = (n, now);
        } else if now.duration_since(last.1) > Duration::from_secs(30) {
            break Err(anyhow!(
                "kbench consumer: read {n} of {expect} records, then nothing for 30 s"
            ));
        }
    };
    stop.store(true, Ordering::Relaxed);
    let _ = t.join();
    let done = result?;
    let assigned = assigned_at.unwrap_or(t0);
    // The thread has ended, its last answer given: the slot holds every figure.
    let mut stats = ClientStats::new(0);
    shared.handover.collect(0, Duration::ZERO, &mut stats);
    let bytes = stats.counters.bytes_consumed;
    Ok(ConsumeRun {
        records: read(),
        bytes,
        fetch_secs: done.duration_since(assigned).as_secs_f64(),
        total_secs: done.duration_since(t0).as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::plan::Plan;
    use super::*;

    #[test]
    fn every_comparison_is_a_valid_one_cell_scenario() {
        let plan = Plan::new(false, 1, 3, &[], super::super::plan::CPU_RATE);
        for c in &plan.comparisons {
            let cell = cell_for(c, 3).unwrap_or_else(|e| panic!("{}: {e}", c.id));
            assert_eq!(cell.producers.count, c.producers);
            assert_eq!(cell.producers.linger_ms, c.linger_ms as f64);
            assert_eq!(cell.producers.batch_size, c.batch_size);
            assert_eq!(cell.topic.partitions, c.partitions);
            assert_eq!(
                cell.client.producer.get("queue.buffering.max.kbytes"),
                Some(&QUEUE_KBYTES.to_string())
            );
            match c.kind {
                Kind::E2e => {
                    assert!(cell.producers.sync);
                    assert_eq!(cell.consumers.groups, 1);
                    assert_eq!(cell.producers.rate, None);
                }
                Kind::Pipeline => {
                    assert_eq!((cell.consumers.groups, cell.consumers.members), (1, 1));
                    assert!(cell.producers.idempotence && !cell.producers.sync);
                    assert_eq!(cell.producers.rate, None);
                }
                _ => {
                    assert_eq!(cell.consumers.groups, 0);
                    assert!(!cell.producers.idempotence);
                }
            }
        }
    }
}
