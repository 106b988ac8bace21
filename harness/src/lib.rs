//! kbench: a benchmarking and load-testing harness for Apache Kafka.
//!
//! The layout, from the outside in:
//! - [`cli`]: the command line (clap); `main.rs` only builds the runtime and calls [`cli::run`].
//! - [`scenario`]: TOML scenario files -> a validated [`scenario::Scenario`] whose sweep is
//!   expanded into cells ([`scenario::CellSpec`]).
//! - [`cluster`]: a local Apache Kafka (KRaft) cluster started from Maven Central jars
//!   ([`cluster::local`]), and the admin client that creates and deletes kbench's topics.
//! - [`fleet`]: producer and consumer clients (rdkafka) and the pure pieces they use per
//!   message: pacing, keys, payloads, partition choice.
//! - [`metrics`]: latency histograms and counters, merged per interval and per cell. Pure: no
//!   files, no network.
//! - [`sys`]: the samplers at the rim that read CPU counters (`/proc`, getrusage, wait4).
//! - [`fault`]: `[[fault]]` entries carried out during a cell (kill, stop, pause, restart a
//!   broker), and their impact on the acks.
//! - [`runner`]: one cell from topic creation to teardown; a run is its cells in order.
//! - [`findmax`]: capacity search (`kbench find-max`): probes a cell at stepped rates and
//!   reports the highest that meets latency SLOs.
//! - [`report`]: the only code that writes report files (CSV, manifest, charts).
//! - [`versus`]: `kbench versus`, kbench side by side with Kafka's own load tools.
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod error;
pub mod fault;
pub mod findmax;
pub mod fleet;
pub mod metrics;
pub mod report;
pub mod rundir;
pub mod runner;
pub mod scenario;
pub mod session;
pub mod shutdown;
pub mod sys;
pub mod versus;
