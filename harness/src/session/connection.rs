//! The cluster a command runs against: given by its bootstrap servers, or a local cluster
//! started (or reused) for `--local N`.

use std::io::Write;
use std::path::PathBuf;

use crate::cluster::{Access, LocalCluster, LocalClusterOpts};
use crate::error::UsageError;

/// How to reach the cluster, as the command line gave it.
#[derive(Debug, Clone, Default)]
pub struct ConnectionOptions {
    pub bootstrap: Option<String>,
    /// Start (or reuse) a local cluster with this many brokers.
    pub local: Option<u32>,
    /// Leave a local cluster this command started running afterwards.
    pub keep_cluster: bool,
    /// Connection properties (TLS, SASL) for every client: `--client-config FILE`.
    pub client_config: Option<PathBuf>,
    /// The local cluster's state directory and jar cache.
    pub state_dir: PathBuf,
    pub cache_dir: PathBuf,
}

pub struct Connection {
    /// How every client reaches the cluster: bootstrap servers and connection properties.
    pub access: Access,
    /// Known when kbench manages the cluster.
    pub kafka_version: Option<String>,
    /// The cluster is kbench's local one.
    pub local: bool,
    /// This command started the local cluster just now: its JVMs have not compiled their hot
    /// paths yet (the runner warms it before measuring).
    pub fresh: bool,
    /// The local cluster's state directory: faults act on it (unless `[fault_commands]`).
    pub state_dir: PathBuf,
    /// Started by this command (and not kept): stopped by [`Connection::close`], or on drop
    /// if the command fails first.
    started: Option<LocalCluster>,
}

impl Connection {
    pub fn open(opts: &ConnectionOptions, out: &mut impl Write) -> anyhow::Result<Connection> {
        let access = |bootstrap: &str| -> anyhow::Result<Access> {
            if bootstrap.trim().is_empty() {
                return Err(UsageError(
                    "--bootstrap is empty: give HOST:PORT[,HOST:PORT...]".into(),
                )
                .into());
            }
            Ok(match &opts.client_config {
                Some(file) => Access::with_file(bootstrap, file)?,
                None => Access::plaintext(bootstrap),
            })
        };
        match (&opts.bootstrap, opts.local) {
            (Some(b), _) => Ok(Connection {
                access: access(b)?,
                kafka_version: None,
                local: false,
                fresh: false,
                state_dir: opts.state_dir.clone(),
                started: None,
            }),
            (None, Some(brokers)) => {
                let local = LocalClusterOpts {
                    brokers,
                    state_dir: opts.state_dir.clone(),
                    cache_dir: opts.cache_dir.clone(),
                    ..LocalClusterOpts::default()
                };
                let (cluster, report) = LocalCluster::up(&local)?;
                writeln!(
                    out,
                    "local cluster: kafka {} x{brokers} at {} ({:.1} s)",
                    cluster.state().kafka_version,
                    report.bootstrap,
                    report.elapsed.as_secs_f64()
                )?;
                let kafka_version = Some(cluster.state().kafka_version.clone());
                let started = (!report.already_running && !opts.keep_cluster).then_some(cluster);
                Ok(Connection {
                    access: access(&report.bootstrap)?,
                    kafka_version,
                    local: true,
                    fresh: !report.already_running,
                    state_dir: opts.state_dir.clone(),
                    started,
                })
            }
            (None, None) => Err(UsageError(
                "no cluster given: pass --bootstrap HOST:PORT (or set KBENCH_BOOTSTRAP), or --local 3 to start one".into(),
            )
            .into()),
        }
    }

    /// Stop the local cluster if this command started it.
    pub fn close(mut self, out: &mut impl Write) -> anyhow::Result<()> {
        if let Some(cluster) = self.started.take() {
            cluster.down(false)?;
            writeln!(out, "local cluster stopped")?;
        }
        Ok(())
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(cluster) = self.started.take() {
            let _ = cluster.down(false);
        }
    }
}
