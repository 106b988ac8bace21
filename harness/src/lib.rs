//! kbench: a benchmarking and load-testing harness for Apache Kafka.
//!
//! The layout, from the outside in (a module only uses modules listed below it, except that
//! data types flow down freely; `tests/layering.rs` checks the rules that matter):
//! - [`cli`]: the command line, the only code that knows clap. `main.rs` parses and maps the
//!   outcome to an exit code ([`error`]); [`cli`] turns arguments into each command's plain
//!   options, opens the connection, builds the one tokio runtime (it carries the signal watch)
//!   and the [`shutdown`] handle, and calls the library.
//! - [`findmax`] (capacity search) and [`versus`] (kbench beside Kafka's own tools): drivers
//!   with their own loop over [`runner::run_cell`] (find-max `--shard`: over
//!   [`runner::Shard::run_cell`], judging every shard's figures merged).
//! - [`runner`]: a run is its cells in order; a cell is a timeline (topic, consumers, warm-up,
//!   measure, drain, account) over a [`fleet::Fleet`].
//! - [`session`]: what every driver shares: the connection and admin client, the broker count,
//!   the run directory and its manifest, topic naming and registration, the shutdown handle.
//! - [`fleet`]: the worker API ([`fleet::Fleet`]) over producer and consumer clients (rdkafka,
//!   one OS thread each), and the pure per-message pieces they use: pacing, keys, payloads,
//!   partition choice.
//! - [`distributed`]: `--shard I/N`, the control topic that keeps shards in step, their clock
//!   offsets.
//! - [`fault`]: `[[fault]]` entries carried out during a cell (kill, stop, pause, restart a
//!   broker), and their impact on the acks. Consumer faults (a member leaves or joins) act on
//!   the fleet, so the cell's timeline in [`runner`] carries them out itself.
//! - [`merge`]: `kbench merge`, the shards' run directories of a distributed run made into one
//!   (histograms added, counters summed, delivery recomputed from every shard's evidence).
//! - [`report`] (charts, summary.md, from a run directory's files alone) and [`compare`]
//!   (a run against a baseline, the CI gate).
//! - [`rundir`]: the run directory: every path, the `results.csv` schema, the manifest, one
//!   writer and one reader per file, one error type.
//! - [`cluster`]: a local Apache Kafka (KRaft) cluster started from Maven Central jars, and the
//!   admin client that creates and deletes kbench's topics.
//! - [`scenario`]: TOML scenario files -> a validated [`scenario::Scenario`] whose sweep is
//!   expanded into cells ([`scenario::CellSpec`]).
//! - [`metrics`]: latency histograms, counters, delivery accounting, CPU arithmetic, merged per
//!   interval and per cell. Pure: no files, no network.
//! - [`sys`]: samplers at the rim (`/proc`, `getrusage`, schedstat, `wait4`).
//!
//! Where a message is timed: its intended send time comes from [`fleet::pacing`], it is built
//! and sent in [`fleet::producer`] (the stamp in [`fleet::payload`]), its ack is recorded in the
//! producer's delivery callback and its arrival in [`fleet::consumer`], both into
//! [`metrics::client`]'s per-client histograms, which [`fleet::Fleet::take_interval`] swaps out
//! once per interval.
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod distributed;
pub mod error;
pub mod fault;
pub mod findmax;
pub mod fleet;
pub mod merge;
pub mod metrics;
pub mod report;
pub mod rundir;
pub mod runner;
pub mod scenario;
pub mod session;
pub mod shutdown;
pub mod sys;
pub mod versus;
