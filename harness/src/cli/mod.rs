//! The command line: the only code that knows clap. Each subcommand's arguments become the
//! library's plain options in `commands.rs`, which also opens the connection, builds the one
//! runtime and the shutdown handle, and calls the library. All output goes to a `Write` so
//! the printers can be tested.

mod commands;

pub use commands::{print_status, run};

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::cluster::local::{default_cache_dir, default_state_dir};
use crate::cluster::SecurityMode;
use crate::versus::plan::{self, Kind};

#[derive(Debug, Parser)]
#[command(
    name = "kbench",
    version,
    about = "Benchmark and load-test Apache Kafka"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a scenario: every cell of its sweep, reports written as each cell finishes.
    Run(RunArgs),
    /// Capacity search: for each cell, the highest offered rate at which the SLOs hold with
    /// no backlog growth and no validity flag (coarse steps, then bisection).
    FindMax(FindMaxArgs),
    /// Parse a scenario and print its cells; touches no cluster.
    Validate {
        /// The scenario file (TOML).
        scenario: PathBuf,
    },
    /// Re-render a run directory's charts and summary.md from its files alone.
    Report {
        /// A run directory written by `kbench run` (reports/<run-id>).
        run_dir: PathBuf,
    },
    /// Merge the run directories of a distributed run's shards (`run --shard I/N`) into one
    /// run directory that `report` and `compare` read like any other (docs/distributed.md).
    Merge {
        /// The merged run directory to create (must be absent or empty).
        out: PathBuf,
        /// Every shard's run directory.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Merge even if some shard's directory is missing (every cell flagged shard-lost).
        #[arg(long)]
        allow_missing: bool,
    },
    /// Compare a run with a baseline run cell by cell; exit 1 on a regression (for CI).
    #[command(after_help = crate::compare::AFTER_HELP)]
    Compare(CompareArgs),
    /// Delete the topics a run directory recorded (topics.txt) that still exist, e.g. after
    /// a `kill -9`; never any other topic.
    Cleanup {
        /// A run directory written by `kbench run`.
        run_dir: PathBuf,
        /// Bootstrap servers of the cluster the run used.
        #[arg(long, env = "KBENCH_BOOTSTRAP", value_parser = parse_bootstrap)]
        bootstrap: String,
        /// Connection properties (TLS, SASL), as for `kbench run`.
        #[arg(long, env = "KBENCH_CLIENT_CONFIG", value_name = "FILE")]
        client_config: Option<PathBuf>,
    },
    /// kbench side by side with Kafka's own tools (ProducerPerformance, ConsumerPerformance,
    /// EndToEndLatency) on the same cluster: throughput, CPU per message, latency.
    Versus(VersusArgs),
    /// A local Apache Kafka cluster on 127.0.0.1, from Maven Central jars (no Docker).
    Cluster {
        #[command(flatten)]
        dirs: ClusterDirs,
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The scenario file (TOML).
    pub scenario: PathBuf,
    /// Bootstrap servers of the cluster to test.
    #[arg(long, env = "KBENCH_BOOTSTRAP", conflicts_with = "local", value_parser = parse_bootstrap)]
    pub bootstrap: Option<String>,
    /// Connection properties for every client (TLS, SASL): a Java-properties file with
    /// librdkafka names (`security.protocol`, `ssl.ca.location`, `sasl.username`, ...), like
    /// Kafka's `--command-config`. Values may be `${env:NAME}` or `${file:PATH}`. A scenario's
    /// `[client.*]` properties win over it.
    #[arg(long, env = "KBENCH_CLIENT_CONFIG", value_name = "FILE")]
    pub client_config: Option<PathBuf>,
    /// Start (or reuse) a local cluster with this many brokers, and stop it at the end if
    /// this run started it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3))]
    pub local: Option<u32>,
    /// Leave a cluster started by --local running after the run.
    #[arg(long)]
    pub keep_cluster: bool,
    /// Where run directories are created.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// No progress lines.
    #[arg(long, short)]
    pub quiet: bool,
    /// Run every cell N times, in N interleaved passes over the sweep (so slow drift hits every
    /// cell alike); `compare` uses the spread of the repeats to tell noise from regressions.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub repeat: u32,
    /// Finish an interrupted run: run only the cells RUN_DIR lacks (and those marked
    /// interrupted), with the same scenario file, appending to its reports.
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// Allow cells on `[topic] existing = "name"` topics: kbench writes to them but never
    /// creates or deletes them.
    #[arg(long)]
    pub allow_existing_topic: bool,
    #[command(flatten)]
    pub sharding: ShardArgs,
    #[command(flatten)]
    pub dirs: ClusterDirs,
}

/// `--shard I/N` and its companions, for `run` and `find-max` alike. See docs/distributed.md.
#[derive(Debug, Args)]
pub struct ShardArgs {
    /// Run shard I of N (0 <= I < N) of every cell (find-max: of every probe): this process's
    /// slice of the producers, of every group's members and of the rate, in step with the
    /// other shards through a control topic. Shard 0 creates and deletes the topics and
    /// carries out the faults. Needs --run-id. See docs/distributed.md.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::distributed::ShardSpec>,
    /// The id every shard of one distributed run is given (e.g. the CI job's or the
    /// Kubernetes Job's name): it names the control topic, so it must be new for each run.
    #[arg(long, value_name = "ID", requires = "shard")]
    pub run_id: Option<String>,
    /// Bootstrap servers of the cluster carrying the control topic [default: the cluster
    /// under test].
    #[arg(long, value_name = "B", requires = "shard", value_parser = parse_bootstrap)]
    pub control_bootstrap: Option<String>,
    /// How long a shard waits for the others at a barrier before they count as lost.
    #[arg(long, default_value = "60s", value_parser = parse_duration_arg)]
    pub barrier_timeout: Duration,
}

/// `kbench find-max SCENARIO --slo "p99<50ms"`. See docs/find-max.md.
#[derive(Debug, Args)]
pub struct FindMaxArgs {
    /// The scenario file (TOML); its rate is the default start, its [run] warm-up and
    /// duration the default probe timing.
    pub scenario: PathBuf,
    /// Latency objective: `p99<50ms`, `p999<200ms`, `e2e_p99<100ms`, `publish_max<=1s`
    /// (p50, p90, p99, p999, p9999, max; us, ms, s). Several: comma-separated or repeated.
    #[arg(long, required = true, value_delimiter = ',', value_parser = crate::findmax::slo::parse_one)]
    pub slo: Vec<crate::findmax::slo::Slo>,
    /// First offered rate (msg/s, all producers together) [default: the scenario's rate, else 1000].
    #[arg(long)]
    pub start: Option<f64>,
    /// Coarse step: multiply the rate by this after each pass (divide after a failing start).
    #[arg(long, default_value_t = 2.0)]
    pub factor: f64,
    /// Stop bisecting when the highest pass and the lowest failure are this close (`5%`).
    #[arg(long, default_value = "5%", value_parser = parse_percent)]
    pub precision: f64,
    /// At most this many probes per cell.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub max_steps: u32,
    /// Never offer more than this (msg/s); a pass here ends the search.
    #[arg(long)]
    pub max_rate: Option<f64>,
    /// Measurement of each probe [default: the scenario's [run] duration, else 10s].
    #[arg(long, value_parser = parse_duration_arg)]
    pub probe_duration: Option<Duration>,
    /// Warm-up of each probe, excluded from its figures [default: the scenario's].
    #[arg(long, value_parser = parse_duration_arg)]
    pub probe_warmup: Option<Duration>,
    /// Search only this cell (repeatable); default every cell of the sweep.
    #[arg(long = "cell", value_name = "ID")]
    pub cells: Vec<String>,
    /// Bootstrap servers of the cluster to test.
    #[arg(long, env = "KBENCH_BOOTSTRAP", conflicts_with = "local", value_parser = parse_bootstrap)]
    pub bootstrap: Option<String>,
    /// Connection properties for every client (TLS, SASL): a Java-properties file with
    /// librdkafka names (`security.protocol`, `ssl.ca.location`, `sasl.username`, ...), like
    /// Kafka's `--command-config`. Values may be `${env:NAME}` or `${file:PATH}`. A scenario's
    /// `[client.*]` properties win over it.
    #[arg(long, env = "KBENCH_CLIENT_CONFIG", value_name = "FILE")]
    pub client_config: Option<PathBuf>,
    /// Start (or reuse) a local cluster with this many brokers, and stop it at the end if
    /// this command started it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3))]
    pub local: Option<u32>,
    /// Leave a cluster started by --local running afterwards.
    #[arg(long)]
    pub keep_cluster: bool,
    /// Where run directories are created (`<scenario>-findmax-<timestamp>`).
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// No live progress within a probe (the line per probe is still printed).
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub sharding: ShardArgs,
    #[command(flatten)]
    pub dirs: ClusterDirs,
}

/// `5%` or `5` (percent) -> 0.05.
fn parse_percent(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n: f64 = t
        .strip_suffix('%')
        .unwrap_or(t)
        .trim()
        .parse()
        .map_err(|_| format!("expected a percentage like \"5%\", got {s:?}"))?;
    if !(n > 0.0 && n < 100.0) {
        return Err(format!(
            "expected a percentage between 0% and 100%, got {s:?}"
        ));
    }
    Ok(n / 100.0)
}

fn parse_duration_arg(s: &str) -> Result<Duration, String> {
    crate::scenario::units::parse_duration(s)
}

#[derive(Debug, Args, Clone)]
pub struct ClusterDirs {
    /// State directory of the local cluster (config, data, logs, pid files).
    #[arg(long, env = "KBENCH_STATE_DIR", global = true)]
    pub state_dir: Option<PathBuf>,
    /// Cache of Apache Kafka jars fetched with Maven.
    #[arg(long, env = "KBENCH_CACHE_DIR", global = true)]
    pub cache_dir: Option<PathBuf>,
}

impl ClusterDirs {
    pub fn state_dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(default_state_dir)
    }
    pub fn cache_dir(&self) -> PathBuf {
        self.cache_dir.clone().unwrap_or_else(default_cache_dir)
    }
}

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Fetch Kafka if needed, format storage, start the brokers, wait until they serve clients.
    Up {
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=3))]
        brokers: u32,
        #[arg(long, default_value = crate::cluster::fetch::DEFAULT_KAFKA_VERSION)]
        kafka_version: String,
        /// Client port of broker 1; broker n uses base + 100 (n - 1), its controller port + 1.
        #[arg(long, default_value_t = 9092)]
        base_port: u16,
        /// Seconds to wait for every broker to serve clients.
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Extra broker property KEY=VALUE (repeatable).
        #[arg(long = "broker-prop", value_parser = parse_key_value)]
        broker_props: Vec<(String, String)>,
        /// How the client listener (and the brokers among themselves) are secured: a throwaway
        /// CA and certificates for the TLS modes, SCRAM-SHA-512 users for the SASL ones. The
        /// client settings are written to the state directory (client.properties, ...).
        #[arg(
            long,
            default_value = "plaintext",
            value_parser = parse_security,
        )]
        security: SecurityMode,
    },
    /// Write a throwaway CA, a broker certificate (for localhost, 127.0.0.1 and kafka-1..3),
    /// SCRAM passwords and client settings into DIR: the material docker-compose.sasl-ssl.yml
    /// mounts.
    Certs { dir: PathBuf },
    /// Which brokers are up, the controller quorum, the Kafka version.
    Status,
    /// Stop every broker (SIGTERM together, SIGKILL after 30 s).
    Down {
        /// Also delete data, logs and state.
        #[arg(long)]
        clean: bool,
    },
    /// SIGKILL one broker.
    Kill { node: u32 },
    /// Stop one broker (controlled shutdown).
    Stop { node: u32 },
    /// Start one stopped broker and wait until it serves clients.
    Start { node: u32 },
    /// Freeze one broker (SIGSTOP).
    Pause { node: u32 },
    /// Unfreeze one broker (SIGCONT).
    Resume { node: u32 },
}

fn parse_security(s: &str) -> Result<SecurityMode, String> {
    s.parse()
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))
}

/// `--bootstrap`: a comma-separated list of HOST[:PORT], none empty. An empty list would
/// otherwise reach librdkafka and be reported after a 10 s connection attempt as exit 4.
fn parse_bootstrap(s: &str) -> Result<String, String> {
    let servers: Vec<&str> = s.split(',').map(str::trim).collect();
    if servers.iter().any(|h| h.is_empty()) {
        return Err(format!(
            "expected HOST:PORT[,HOST:PORT...] with no empty entry, got {s:?}"
        ));
    }
    Ok(servers.join(","))
}

/// `kbench versus`.
#[derive(Debug, Args)]
pub struct VersusArgs {
    /// Bootstrap servers of the cluster both tools load.
    #[arg(long, env = "KBENCH_BOOTSTRAP", conflicts_with = "local", value_parser = parse_bootstrap)]
    pub bootstrap: Option<String>,
    /// Connection properties for every client (TLS, SASL): a Java-properties file with
    /// librdkafka names (`security.protocol`, `ssl.ca.location`, `sasl.username`, ...), like
    /// Kafka's `--command-config`. Values may be `${env:NAME}` or `${file:PATH}`. A scenario's
    /// `[client.*]` properties win over it.
    #[arg(long, env = "KBENCH_CLIENT_CONFIG", value_name = "FILE")]
    pub client_config: Option<PathBuf>,
    /// Start (or reuse) a local cluster with this many brokers, and stop it at the end if
    /// this command started it.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3))]
    pub local: Option<u32>,
    /// Leave a cluster started by --local running afterwards.
    #[arg(long)]
    pub keep_cluster: bool,
    /// Runs of each tool per comparison (one pair = one run of each); figures are medians.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
    pub pairs: u32,
    /// One comparison of each kind with short runs (under a minute with --pairs 1).
    #[arg(long)]
    pub quick: bool,
    /// Only these kinds of comparison (comma-separated): produce, cpu, consume, e2e, pipeline.
    #[arg(long, value_delimiter = ',', value_parser = Kind::parse)]
    pub only: Vec<Kind>,
    /// The fixed rate (msg/s) of the CPU comparison.
    #[arg(long, default_value_t = plan::CPU_RATE, value_parser = clap::value_parser!(u32).range(1..))]
    pub cpu_rate: u32,
    /// Where the run directory (`versus-<timestamp>`) is created.
    #[arg(long, default_value = "reports")]
    pub reports: PathBuf,
    /// Only the final table.
    #[arg(long, short)]
    pub quiet: bool,
    #[command(flatten)]
    pub dirs: ClusterDirs,
}

/// `kbench compare BASELINE CURRENT`.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Baseline run directory (reports/<scenario>-<timestamp>/, with manifest.json and
    /// results.csv).
    pub baseline: PathBuf,
    /// Current run directory, compared against the baseline.
    pub current: PathBuf,
    /// Regression threshold METRIC=±PCT% (repeatable), e.g. throughput=-10% or p99=+20%.
    #[arg(long = "threshold", value_name = "METRIC=±PCT%", value_parser = crate::compare::parse_threshold)]
    pub thresholds: Vec<crate::compare::Threshold>,
    /// Compare cells flagged in results.csv anyway (marked "(flagged)") instead of failing
    /// them as not comparable.
    #[arg(long)]
    pub allow_flagged: bool,
    /// Also show every other metric, without a verdict.
    #[arg(long)]
    pub all_metrics: bool,
    /// Where compare.md and compare.png go [default: the CURRENT run directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Cells per chart panel; with more, the worst are shown.
    #[arg(long, default_value_t = crate::compare::DEFAULT_MAX_CELLS, value_name = "N")]
    pub chart_cells: usize,
}
