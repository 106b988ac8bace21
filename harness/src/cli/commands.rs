//! Each command: arguments in, plain options out, the connection opened once, the one
//! runtime and shutdown handle built here, the library called, an exit code back.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use super::{
    Cli, ClusterCommand, ClusterDirs, Command, FindMaxArgs, RunArgs, ShardArgs, VersusArgs,
};
use crate::cluster::fetch::{self, DEFAULT_KAFKA_VERSION};
use crate::cluster::{ClusterError, LocalCluster, LocalClusterOpts};
use crate::error::UsageError;
use crate::findmax::{self, FindMaxOptions};
use crate::rundir;
use crate::runner::{self, RunOptions};
use crate::session::{Connection, ConnectionOptions, Session};
use crate::shutdown::Shutdown;
use crate::versus::{self, VersusOptions};

pub fn run(cli: Cli) -> anyhow::Result<i32> {
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Validate { scenario } => {
            let s = crate::scenario::load(&scenario)?;
            crate::scenario::render_cells(&s, &mut out)?;
            Ok(0)
        }
        Command::Cluster { dirs, command } => cluster(&dirs, command, &mut out),
        Command::Run(args) => run_scenario(args, &mut out),
        Command::Report { run_dir } => crate::report::report_command(&run_dir, &mut out),
        Command::Merge {
            out: to,
            dirs,
            allow_missing,
        } => crate::merge::merge_command(
            &crate::merge::MergeOptions {
                out: to,
                dirs,
                allow_missing,
            },
            &mut out,
        ),
        Command::Compare(a) => {
            let opts = crate::compare::CompareOptions {
                baseline: a.baseline,
                current: a.current,
                thresholds: a.thresholds,
                allow_flagged: a.allow_flagged,
                all_metrics: a.all_metrics,
                out: a.out,
                chart_cells: a.chart_cells,
            };
            crate::compare::run_command(opts, &mut out)
        }
        Command::Cleanup {
            run_dir,
            bootstrap,
            client_config,
        } => cleanup(&run_dir, bootstrap, client_config, &mut out),
        Command::FindMax(args) => find_max(args, &mut out),
        Command::Versus(args) => versus(args, &mut out),
    }
}

/// The one async runtime of a command. The load itself runs on plain threads (each client on
/// its own, the cell's timeline on the command's); the runtime carries the signal watch.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("kb-runtime")
        .enable_all()
        .build()?)
}

fn connection_options(
    bootstrap: Option<String>,
    client_config: Option<std::path::PathBuf>,
    local: Option<u32>,
    keep_cluster: bool,
    dirs: &ClusterDirs,
) -> ConnectionOptions {
    ConnectionOptions {
        bootstrap,
        client_config,
        local,
        keep_cluster,
        state_dir: dirs.state_dir(),
        cache_dir: dirs.cache_dir(),
    }
}

/// Open the connection, run `body` in a session, and stop a local cluster this command
/// started whatever `body` returned.
fn with_session(
    conn: &ConnectionOptions,
    out: &mut impl Write,
    open: impl FnOnce(Connection, Shutdown) -> anyhow::Result<Session>,
    body: impl FnOnce(&Session, &mut dyn Write) -> anyhow::Result<i32>,
) -> anyhow::Result<i32> {
    let rt = runtime()?;
    let shutdown = Shutdown::on_signals(&rt);
    let session = open(Connection::open(conn, out)?, shutdown)?;
    let result = body(&session, out);
    session.close(out)?;
    result
}

/// `kbench run`.
fn run_scenario(args: RunArgs, out: &mut impl Write) -> anyhow::Result<i32> {
    let scenario = crate::scenario::load(&args.scenario)?;
    if let Some(dir) = &args.resume {
        // Refused at once, before any connection attempt.
        if !dir.join(rundir::MANIFEST).is_file() {
            return Err(UsageError(format!(
                "--resume {}: not a run directory (no manifest.json)",
                dir.display()
            ))
            .into());
        }
    }
    let shard = shard_options(args.sharding)?;
    let conn = connection_options(
        args.bootstrap,
        args.client_config,
        args.local,
        args.keep_cluster,
        &args.dirs,
    );
    let opts = RunOptions {
        reports_dir: args.reports,
        quiet: args.quiet,
        repeat: args.repeat,
        resume: args.resume,
        allow_existing_topic: args.allow_existing_topic,
        shard,
    };
    with_session(
        &conn,
        out,
        |c, shutdown| Session::for_scenario(c, &scenario, shutdown),
        |session, mut out| runner::run_scenario(&scenario, session, &opts, &mut out),
    )
}

/// `--shard` and its companions as the library's options; `None` without `--shard`.
fn shard_options(args: ShardArgs) -> Result<Option<runner::ShardOptions>, UsageError> {
    let (shard, run_id) = match (args.shard, args.run_id) {
        (None, _) => return Ok(None),
        (Some(_), None) => return Err(UsageError(
            "--shard needs --run-id ID, the same on every shard of the run (e.g. the CI job's id)"
                .into(),
        )),
        (Some(shard), Some(run_id)) => (shard, run_id),
    };
    runner::check_run_id(&run_id).map_err(UsageError)?;
    if args.barrier_timeout.is_zero() {
        return Err(UsageError("--barrier-timeout: must be above 0".into()));
    }
    Ok(Some(runner::ShardOptions {
        shard,
        run_id,
        control_bootstrap: args.control_bootstrap,
        barrier_timeout: args.barrier_timeout,
        attempt: 1,
    }))
}

/// `kbench find-max`.
fn find_max(args: FindMaxArgs, out: &mut impl Write) -> anyhow::Result<i32> {
    let mut scenario = crate::scenario::load(&args.scenario)?;
    findmax::select_cells(&mut scenario, &args.cells)?;
    let opts = FindMaxOptions {
        slos: args.slo,
        start: args.start,
        factor: args.factor,
        precision: args.precision,
        max_steps: args.max_steps as usize,
        max_rate: args.max_rate,
        timing: findmax::probe_timing(&scenario, args.probe_warmup, args.probe_duration)?,
        reports_dir: args.reports,
        quiet: args.quiet,
        shard: shard_options(args.sharding)?,
    };
    // Everything that can be refused is refused before a cluster is touched.
    findmax::check(&scenario, &opts).map_err(UsageError)?;
    if opts.shard.is_some() {
        runner::refuse_unsupported(&scenario)?;
    }
    let conn = connection_options(
        args.bootstrap,
        args.client_config,
        args.local,
        args.keep_cluster,
        &args.dirs,
    );
    with_session(
        &conn,
        out,
        |c, shutdown| Session::for_scenario(c, &scenario, shutdown),
        |session, mut out| findmax::find_max(&scenario, session, &opts, &mut out),
    )
}

/// `kbench versus`.
fn versus(args: VersusArgs, out: &mut impl Write) -> anyhow::Result<i32> {
    fetch::check_java()?;
    let (lib, _) = fetch::ensure_jars(&args.dirs.cache_dir(), DEFAULT_KAFKA_VERSION)?;
    let conn = connection_options(
        args.bootstrap,
        args.client_config,
        args.local,
        args.keep_cluster,
        &args.dirs,
    );
    let opts = VersusOptions {
        pairs: args.pairs,
        quick: args.quick,
        only: args.only,
        cpu_rate: args.cpu_rate,
        reports_dir: args.reports,
        quiet: args.quiet,
    };
    with_session(
        &conn,
        out,
        |c, shutdown| Session::open(c, &Default::default(), shutdown),
        |session, mut out| versus::run(&opts, session, &lib, &mut out),
    )
}

/// `kbench cleanup RUN_DIR`: delete the registered topics of a run that still exist.
fn cleanup(
    run_dir: &Path,
    bootstrap: String,
    client_config: Option<std::path::PathBuf>,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    if !run_dir.join(rundir::MANIFEST).exists() {
        return Err(UsageError(format!(
            "{}: not a run directory (no manifest.json)",
            run_dir.display()
        ))
        .into());
    }
    let conn = ConnectionOptions {
        bootstrap: Some(bootstrap),
        client_config,
        ..ConnectionOptions::default()
    };
    with_session(
        &conn,
        out,
        |c, shutdown| Session::open(c, &Default::default(), shutdown),
        |session, out| {
            let mut deleted = session.delete_leftover_topics(run_dir)?;
            // A distributed run's control topic may live on another cluster
            // (--control-bootstrap, recorded in its manifest).
            for t in runner::cleanup_control_topics(run_dir, session.access())? {
                if !deleted.contains(&t) {
                    deleted.push(t);
                }
            }
            for t in &deleted {
                writeln!(out, "deleted {t}")?;
            }
            writeln!(
                out,
                "{} topic(s) deleted; kbench deletes only topics listed in {}",
                deleted.len(),
                run_dir.join(rundir::TOPICS).display()
            )?;
            Ok(0)
        },
    )
}

fn cluster(
    dirs: &ClusterDirs,
    command: ClusterCommand,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let state_dir = dirs.state_dir();
    let open = || LocalCluster::open(&state_dir);
    match command {
        ClusterCommand::Up {
            brokers,
            kafka_version,
            base_port,
            timeout,
            broker_props,
            security,
        } => {
            let opts = LocalClusterOpts {
                brokers,
                kafka_version,
                base_port,
                state_dir: state_dir.clone(),
                cache_dir: dirs.cache_dir(),
                start_timeout: Duration::from_secs(timeout),
                overrides: broker_props,
                security,
                ..LocalClusterOpts::default()
            };
            let (cluster, report) = LocalCluster::up(&opts)?;
            let how = if report.already_running {
                "already running"
            } else if report.downloaded {
                "fetched, formatted and started"
            } else if report.formatted {
                "formatted and started"
            } else {
                "started"
            };
            writeln!(
                out,
                "kafka {} x{} {how} in {:.1} s (state: {})",
                cluster.state().kafka_version,
                cluster.state().brokers,
                report.elapsed.as_secs_f64(),
                cluster.dir().display()
            )?;
            print_security(&cluster, out)?;
            // Last: scripts take the bootstrap from the final line.
            writeln!(out, "{}", report.bootstrap)?;
            Ok(0)
        }
        ClusterCommand::Certs { dir } => {
            let files = crate::cluster::security::write_compose_material(&dir)?;
            writeln!(
                out,
                "wrote a throwaway CA, a broker certificate and SCRAM passwords to {}",
                dir.display()
            )?;
            for f in files {
                writeln!(out, "client settings: {}", f.display())?;
            }
            Ok(0)
        }
        ClusterCommand::Status => {
            let cluster = open()?;
            print_status(&cluster, out)?;
            Ok(if cluster.status().iter().all(|n| n.serving) {
                0
            } else {
                1
            })
        }
        ClusterCommand::Down { clean } => {
            match open() {
                Ok(cluster) => {
                    cluster.down(clean)?;
                    writeln!(out, "stopped{}", if clean { "; data wiped" } else { "" })?;
                }
                Err(ClusterError::NotCreated { .. }) => writeln!(out, "no local cluster")?,
                Err(e) => return Err(e.into()),
            }
            Ok(0)
        }
        ClusterCommand::Kill { node } => {
            node_action(open()?, node, "killed", LocalCluster::kill, out)
        }
        ClusterCommand::Stop { node } => {
            node_action(open()?, node, "stopped", LocalCluster::stop, out)
        }
        ClusterCommand::Start { node } => {
            node_action(open()?, node, "started", LocalCluster::start, out)
        }
        ClusterCommand::Pause { node } => {
            node_action(open()?, node, "paused", LocalCluster::pause, out)
        }
        ClusterCommand::Resume { node } => {
            node_action(open()?, node, "resumed", LocalCluster::resume, out)
        }
    }
}

fn node_action(
    cluster: LocalCluster,
    node: u32,
    done: &str,
    action: fn(&LocalCluster, u32) -> Result<(), ClusterError>,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    action(&cluster, node).with_context(|| format!("broker {node}"))?;
    writeln!(out, "broker {node} {done}")?;
    Ok(0)
}

/// The security mode and where the client settings are (never a password).
fn print_security(cluster: &LocalCluster, out: &mut impl Write) -> std::io::Result<()> {
    let mode = cluster.security();
    let m = cluster.material();
    let mut what = vec![format!("security {mode} ({})", mode.protocol())];
    if mode.sasl() {
        what.push(format!(
            "SCRAM-SHA-512 user {}, password in {}",
            crate::cluster::security::CLIENT_USER,
            m.client_password().display()
        ));
    }
    if mode.tls() {
        what.push(format!("CA {}", m.ca().display()));
    }
    if mode.client_cert() {
        what.push(format!(
            "client certificate {} key {}",
            m.client_cert().display(),
            m.client_key().display()
        ));
    }
    writeln!(out, "{}", what.join("; "))?;
    let [props, java, toml] = cluster.client_files();
    writeln!(
        out,
        "client settings: {} (kbench --client-config), {} (Kafka's tools: --command-config), {} (scenario [client])",
        props.display(),
        java.display(),
        toml.display()
    )
}

/// `kbench cluster status`: one line per broker, then Kafka's view of the quorum.
pub fn print_status(cluster: &LocalCluster, out: &mut impl Write) -> std::io::Result<()> {
    let s = cluster.state();
    writeln!(
        out,
        "kafka {} x{} security {} (state: {})",
        s.kafka_version,
        s.brokers,
        s.security,
        cluster.dir().display()
    )?;
    for n in cluster.status() {
        writeln!(
            out,
            "broker {}  {:<8} pid {:<8} 127.0.0.1:{}{}",
            n.node,
            n.state,
            n.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into()),
            n.client_port,
            if n.serving { "  serving" } else { "" }
        )?;
    }
    if cluster.status().iter().any(|n| n.serving) {
        match cluster.quorum() {
            Ok(q) => {
                for line in q.lines().filter(|l| {
                    l.starts_with("LeaderId")
                        || l.starts_with("LeaderEpoch")
                        || l.starts_with("CurrentVoters")
                }) {
                    writeln!(out, "{line}")?;
                }
            }
            Err(e) => writeln!(out, "quorum: {e}")?,
        }
    }
    Ok(())
}
