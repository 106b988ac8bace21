//! A local Apache Kafka cluster (KRaft, combined broker+controller nodes) on 127.0.0.1,
//! started from Maven Central jars, without Docker.
//!
//! The nodes are background processes that outlive the command that started them; everything
//! about them lives in a state directory (`state.json`, `conf/`, `data/`, `logs/`, pid files),
//! so any later `kbench` process can find, inspect, fault and stop them. The same API is used by
//! the `kbench cluster` commands, by `kbench run --local` and by fault injection.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::ClusterError;
use super::fetch::{self, DEFAULT_KAFKA_VERSION};
use super::kafka_config::{self as cfg, NodeConfig};
use super::process::{self, ProcState};
use super::security::{self, Material, SecurityMode};
use super::Access;

/// = KAFKA_JVM_PERFORMANCE_OPTS of Kafka's own `bin/kafka-run-class.sh`, so the brokers run as
/// they would from the release tarball.
const JVM_PERF: &[&str] = &[
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
];

/// How to start a local cluster.
#[derive(Debug, Clone)]
pub struct LocalClusterOpts {
    pub brokers: u32,
    pub kafka_version: String,
    /// Client port of node 1; node n uses base + 100 (n - 1), its controller port + 1.
    pub base_port: u16,
    /// Where the cluster's config, data, logs and pid files live.
    pub state_dir: PathBuf,
    /// Where fetched jars are cached (shared by every state dir).
    pub cache_dir: PathBuf,
    pub start_timeout: Duration,
    /// JVM heap flags per node (the stock scripts use 1 GiB).
    pub heap: Vec<String>,
    /// Extra broker properties, appended last.
    pub overrides: Vec<(String, String)>,
    /// How the client listener is secured (and the brokers among themselves).
    pub security: SecurityMode,
}

impl Default for LocalClusterOpts {
    fn default() -> Self {
        LocalClusterOpts {
            brokers: 3,
            kafka_version: DEFAULT_KAFKA_VERSION.into(),
            base_port: 9092,
            state_dir: default_state_dir(),
            cache_dir: default_cache_dir(),
            start_timeout: Duration::from_secs(120),
            heap: vec!["-Xms1g".into(), "-Xmx1g".into()],
            overrides: Vec::new(),
            security: SecurityMode::Plaintext,
        }
    }
}

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

/// `$KBENCH_STATE_DIR`, else `~/.kbench/cluster`.
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("KBENCH_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".kbench/cluster"))
}

/// `$KBENCH_CACHE_DIR`, else `~/.cache/kbench`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("KBENCH_CACHE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache/kbench"))
}

/// What the state directory remembers about a cluster (`state.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClusterState {
    pub brokers: u32,
    pub kafka_version: String,
    pub base_port: u16,
    pub cluster_id: String,
    pub lib: PathBuf,
    pub heap: Vec<String>,
    /// Absent in the state of a cluster made before kbench knew security modes: plaintext.
    #[serde(default)]
    pub security: SecurityMode,
}

/// A handle on a local cluster's state directory.
#[derive(Debug, Clone)]
pub struct LocalCluster {
    dir: PathBuf,
    state: ClusterState,
    timeout: Duration,
}

/// What `up` did, for the user and for start-time measurements.
#[derive(Debug, Clone)]
pub struct UpReport {
    pub bootstrap: String,
    pub downloaded: bool,
    pub formatted: bool,
    pub already_running: bool,
    pub elapsed: Duration,
    pub java: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    pub node: u32,
    pub pid: Option<i32>,
    /// running, paused, or down.
    pub state: &'static str,
    pub client_port: u16,
    /// Does the client port accept connections?
    pub serving: bool,
}

impl LocalCluster {
    /// Start (or find running) a cluster of the requested shape, and wait until every broker
    /// serves clients. Fetches jars on first use, formats storage on first start.
    pub fn up(opts: &LocalClusterOpts) -> Result<(LocalCluster, UpReport), ClusterError> {
        let t0 = Instant::now();
        let dir = opts.state_dir.clone();
        let java = fetch::check_java()?;

        if let Ok(existing) = LocalCluster::open_with_timeout(&dir, opts.start_timeout) {
            let alive: Vec<u32> = existing
                .nodes()
                .filter(|n| existing.proc_state(*n) != ProcState::Dead)
                .collect();
            if !alive.is_empty() {
                let s = &existing.state;
                if s.brokers != opts.brokers
                    || s.base_port != opts.base_port
                    || s.kafka_version != opts.kafka_version
                {
                    return Err(ClusterError::ShapeMismatch {
                        running: s.brokers,
                        wanted: opts.brokers,
                        dir,
                    });
                }
                if s.security != opts.security {
                    return Err(ClusterError::SecurityMismatch {
                        running: s.security,
                        wanted: opts.security,
                        dir,
                    });
                }
                // Same cluster: start whatever is down and wait for all.
                let down: Vec<u32> = existing.nodes().filter(|n| !alive.contains(n)).collect();
                existing.check_ports(&down)?;
                for n in &down {
                    existing.spawn_node(*n)?;
                }
                existing.wait_ready(&existing.nodes().collect::<Vec<_>>())?;
                let report = UpReport {
                    bootstrap: existing.bootstrap(),
                    downloaded: false,
                    formatted: false,
                    already_running: down.is_empty(),
                    elapsed: t0.elapsed(),
                    java,
                };
                return Ok((existing, report));
            }
        }

        let (lib, downloaded) = fetch::ensure_jars(&opts.cache_dir, &opts.kafka_version)?;
        let previous = read_state(&dir).ok();
        let same_shape = previous.as_ref().is_some_and(|p| {
            p.brokers == opts.brokers
                && p.base_port == opts.base_port
                && p.kafka_version == opts.kafka_version
                && p.security == opts.security
        });
        let state = ClusterState {
            brokers: opts.brokers,
            kafka_version: opts.kafka_version.clone(),
            base_port: opts.base_port,
            cluster_id: match (&previous, same_shape) {
                (Some(p), true) => p.cluster_id.clone(),
                _ => cfg::new_cluster_id(rand::random),
            },
            lib,
            heap: opts.heap.clone(),
            security: opts.security,
        };
        let mut cluster = LocalCluster {
            dir: dir.clone(),
            state,
            timeout: opts.start_timeout,
        };
        let nodes: Vec<u32> = cluster.nodes().collect();
        cluster.check_ports(&nodes)?;

        let formatted_already = same_shape
            && nodes
                .iter()
                .all(|n| cluster.data_dir(*n).join("meta.properties").exists())
            && cluster.material_complete();
        cluster.state.cluster_id =
            cluster_id_to_format(&cluster.state.cluster_id, formatted_already, rand::random);
        let passwords = if formatted_already {
            cluster.passwords()?
        } else {
            // A different shape or a half-made cluster: kbench's own scratch data, start over,
            // with new certificates and passwords (the SCRAM users are made at format time).
            let _ = fs::remove_dir_all(dir.join("data"));
            let _ = fs::remove_dir_all(dir.join("conf"));
            fs::create_dir_all(&dir)
                .map_err(ClusterError::io(format!("creating {}", dir.display())))?;
            security::write_material(&cluster.material(), opts.security, &[])?
        };
        cluster.write_files(&opts.overrides, &passwords.client)?;
        if !formatted_already {
            cluster.format(&passwords)?;
        }
        for n in &nodes {
            cluster.spawn_node(*n)?;
        }
        cluster.wait_ready(&nodes)?;
        let report = UpReport {
            bootstrap: cluster.bootstrap(),
            downloaded,
            formatted: !formatted_already,
            already_running: false,
            elapsed: t0.elapsed(),
            java,
        };
        Ok((cluster, report))
    }

    /// A handle on the cluster whose state is in `dir` (running or not).
    pub fn open(dir: &Path) -> Result<LocalCluster, ClusterError> {
        Self::open_with_timeout(dir, Duration::from_secs(120))
    }

    fn open_with_timeout(dir: &Path, timeout: Duration) -> Result<LocalCluster, ClusterError> {
        let state = read_state(dir)?;
        Ok(LocalCluster {
            dir: dir.to_path_buf(),
            state,
            timeout,
        })
    }

    pub fn state(&self) -> &ClusterState {
        &self.state
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn bootstrap(&self) -> String {
        cfg::bootstrap(self.state.base_port, self.state.brokers)
    }

    pub fn security(&self) -> SecurityMode {
        self.state.security
    }

    /// Where this cluster's certificates, password files and client settings files are.
    pub fn material(&self) -> Material {
        Material::new(&self.dir)
    }

    /// The client settings files `up` writes (`client.properties` with librdkafka names,
    /// `client-java.properties` for Kafka's tools, `client.toml` as a scenario snippet).
    pub fn client_files(&self) -> [PathBuf; 3] {
        let m = self.material();
        [
            m.client_properties(),
            m.client_java_properties(),
            m.client_toml(),
        ]
    }

    /// How a client reaches this cluster: its bootstrap servers and, when it is secured, the
    /// `client.properties` that `up` wrote (what `kbench --client-config` takes). kbench's own
    /// readiness check connects with it.
    pub fn access(&self) -> Result<Access, ClusterError> {
        if !self.state.security.is_secure() {
            return Ok(Access::plaintext(&self.bootstrap()));
        }
        let file = self.material().client_properties();
        Access::with_file(&self.bootstrap(), &file).map_err(|e| ClusterError::Io {
            context: format!("reading the cluster's client settings {}", file.display()),
            source: std::io::Error::other(e.to_string()),
        })
    }

    fn passwords(&self) -> Result<security::Passwords, ClusterError> {
        if self.state.security.sasl() {
            security::Passwords::read(&self.material())
        } else {
            Ok(security::Passwords {
                broker: String::new(),
                client: String::new(),
            })
        }
    }

    /// Are the certificates and password files the mode needs all there?
    fn material_complete(&self) -> bool {
        let m = self.material();
        let mode = self.state.security;
        let mut need = Vec::new();
        if mode.tls() {
            need.extend([m.ca(), m.broker_keystore()]);
        }
        if mode.client_cert() {
            need.extend([m.client_cert(), m.client_key(), m.client_keystore()]);
        }
        if mode.sasl() {
            need.extend([m.broker_password(), m.client_password()]);
        }
        need.iter().all(|p| p.exists())
    }

    pub fn nodes(&self) -> impl Iterator<Item = u32> {
        1..=self.state.brokers
    }

    pub fn client_port(&self, node: u32) -> u16 {
        cfg::client_port(self.state.base_port, node)
    }

    pub fn log_file(&self, node: u32) -> PathBuf {
        self.dir.join(format!("logs/node-{node}/server.out"))
    }

    fn data_dir(&self, node: u32) -> PathBuf {
        self.dir.join(format!("data/node-{node}"))
    }

    fn config_file(&self, node: u32) -> PathBuf {
        self.dir.join(format!("conf/server-{node}.properties"))
    }

    fn pid_file(&self, node: u32) -> PathBuf {
        self.dir.join(format!("node-{node}.pid"))
    }

    fn major(&self) -> u32 {
        fetch::major(&self.state.kafka_version)
    }

    fn pid(&self, node: u32) -> Option<i32> {
        process::read_pid(&self.pid_file(node))
    }

    fn proc_state(&self, node: u32) -> ProcState {
        match self.pid(node) {
            Some(pid) => process::state(pid, &self.config_file(node).display().to_string()),
            None => ProcState::Dead,
        }
    }

    fn check_node(&self, node: u32) -> Result<(), ClusterError> {
        if node == 0 || node > self.state.brokers {
            return Err(ClusterError::NoSuchNode {
                node,
                brokers: self.state.brokers,
            });
        }
        Ok(())
    }

    fn check_ports(&self, nodes: &[u32]) -> Result<(), ClusterError> {
        for &n in nodes {
            for port in [
                cfg::client_port(self.state.base_port, n),
                cfg::controller_port(self.state.base_port, n),
            ] {
                if !process::port_free(port) {
                    return Err(ClusterError::PortInUse { port, node: n });
                }
            }
        }
        Ok(())
    }

    fn write_files(
        &self,
        overrides: &[(String, String)],
        client_password: &str,
    ) -> Result<(), ClusterError> {
        let conf = self.dir.join("conf");
        fs::create_dir_all(&conf)
            .map_err(ClusterError::io(format!("creating {}", conf.display())))?;
        let major = self.major();
        let write = |path: PathBuf, text: String| {
            fs::write(&path, text).map_err(ClusterError::io(format!("writing {}", path.display())))
        };
        write(
            conf.join("server-logging.properties"),
            cfg::logging_config(major, false),
        )?;
        write(
            conf.join("tools-logging.properties"),
            cfg::logging_config(major, true),
        )?;
        let material = self.material();
        security::write_client_files(
            &material,
            self.state.security,
            &self.bootstrap(),
            client_password,
        )?;
        for n in self.nodes() {
            let data = self.data_dir(n);
            let props = cfg::server_properties(&NodeConfig {
                node: n,
                brokers: self.state.brokers,
                base_port: self.state.base_port,
                data_dir: &data,
                overrides,
                kafka_major: major,
                security: self.state.security,
                material: &material,
            });
            write(self.config_file(n), props)?;
            fs::create_dir_all(self.dir.join(format!("logs/node-{n}")))
                .map_err(ClusterError::io("creating log dir"))?;
        }
        let json = serde_json::to_string_pretty(&self.state).unwrap_or_default();
        write(self.dir.join("state.json"), json)
    }

    fn java(&self, log_config: &str) -> Command {
        let mut cmd = Command::new(fetch::java_cmd());
        cmd.arg(cfg::logging_flag(
            self.major(),
            &self.dir.join("conf").join(log_config),
        ));
        cmd
    }

    /// Run Kafka's StorageTool on every node at once (each is a JVM start of ~2 s). The main
    /// class and its arguments go through a Java @argfile (mode 0600, deleted afterwards): with
    /// SASL they hold the SCRAM users' passwords, which `ps` must never show.
    fn format(&self, passwords: &security::Passwords) -> Result<(), ClusterError> {
        let mut children = Vec::new();
        for n in self.nodes() {
            let log = self.dir.join(format!("logs/node-{n}/format.log"));
            let out = fs::File::create(&log).map_err(ClusterError::io("creating format.log"))?;
            let mut args: Vec<String> = vec![
                "kafka.tools.StorageTool".into(),
                "format".into(),
                "-t".into(),
                self.state.cluster_id.clone(),
                "-c".into(),
                self.config_file(n).display().to_string(),
            ];
            if self.state.security.sasl() {
                args.extend(security::scram_format_args(passwords));
            }
            let argfile = self.dir.join(format!("conf/format-{n}.args"));
            security::write_private(&argfile, &security::java_argfile(&args))?;
            let child = self
                .java("tools-logging.properties")
                .arg("-Xmx256m")
                .arg("-cp")
                .arg(fetch::classpath(&self.state.lib))
                .arg(format!("@{}", argfile.display()))
                .stdin(Stdio::null())
                .stdout(out.try_clone().map_err(ClusterError::io("format.log"))?)
                .stderr(out)
                .spawn()
                .map_err(|_| ClusterError::JavaMissing {
                    cmd: fetch::java_cmd(),
                })?;
            children.push((n, log, child, argfile));
        }
        for (n, log, mut child, argfile) in children {
            let ok = child.wait().map(|s| s.success()).unwrap_or(false);
            let _ = fs::remove_file(&argfile);
            if !ok {
                return Err(ClusterError::Format {
                    node: n,
                    cause: process::failure_cause(&log),
                    log,
                });
            }
        }
        Ok(())
    }

    fn spawn_node(&self, node: u32) -> Result<(), ClusterError> {
        use std::os::unix::process::CommandExt;
        let logdir = self.dir.join(format!("logs/node-{node}"));
        fs::create_dir_all(&logdir).map_err(ClusterError::io("creating log dir"))?;
        let log = self.log_file(node);
        let out = fs::File::create(&log)
            .map_err(ClusterError::io(format!("creating {}", log.display())))?;
        let mut cmd = self.java("server-logging.properties");
        cmd.args(&self.state.heap)
            .args(JVM_PERF)
            .arg(format!(
                "-Xlog:gc*:file={}/gc.log:time,tags:filecount=2,filesize=20M",
                logdir.display()
            ))
            .arg(format!("-Dkafka.logs.dir={}", logdir.display()))
            .arg("-cp")
            .arg(fetch::classpath(&self.state.lib))
            .arg("kafka.Kafka")
            .arg(self.config_file(node))
            .stdin(Stdio::null())
            .stdout(out.try_clone().map_err(ClusterError::io("server.out"))?)
            .stderr(out)
            // Own process group: a Ctrl-C meant for kbench must not stop the cluster.
            .process_group(0);
        let child = cmd.spawn().map_err(|_| ClusterError::JavaMissing {
            cmd: fetch::java_cmd(),
        })?;
        fs::write(self.pid_file(node), child.id().to_string())
            .map_err(ClusterError::io("writing pid file"))?;
        Ok(())
    }

    /// Wait until each of `nodes` accepts client connections and is listed in the cluster's
    /// metadata (the client port is bound only once the broker has caught up and is unfenced).
    /// Fails at once if a node's process exits, with the cause from its log.
    pub fn wait_ready(&self, nodes: &[u32]) -> Result<(), ClusterError> {
        let deadline = Instant::now() + self.timeout;
        for &n in nodes {
            while !process::port_open(self.client_port(n)) {
                self.fail_if_exited(n)?;
                if Instant::now() >= deadline {
                    return Err(self.timeout_error(n));
                }
                std::thread::sleep(Duration::from_millis(250));
            }
        }
        let access = self.access()?;
        loop {
            let ids = super::admin::broker_ids(&access, Duration::from_secs(5));
            let missing = nodes
                .iter()
                .find(|n| !ids.as_ref().is_ok_and(|ids| ids.contains(&(**n as i32))));
            let Some(&n) = missing else { return Ok(()) };
            self.fail_if_exited(n)?;
            if Instant::now() >= deadline {
                return Err(self.timeout_error(n));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn fail_if_exited(&self, node: u32) -> Result<(), ClusterError> {
        // Just after spawn, /proc/<pid>/cmdline still shows kbench's own command line (between
        // fork and exec), which reads as "not our broker": only a death that lasts is one.
        let dead = (0..5).all(|i| {
            if i > 0 {
                std::thread::sleep(Duration::from_millis(100));
            }
            self.proc_state(node) == ProcState::Dead
        });
        if dead {
            let log = self.log_file(node);
            return Err(ClusterError::BrokerExited {
                node,
                cause: process::failure_cause(&log),
                log,
            });
        }
        Ok(())
    }

    fn timeout_error(&self, node: u32) -> ClusterError {
        ClusterError::StartTimeout {
            node,
            secs: self.timeout.as_secs(),
            log: self.log_file(node),
        }
    }

    pub fn node_status(&self, node: u32) -> NodeStatus {
        let state = match self.proc_state(node) {
            ProcState::Running => "running",
            ProcState::Stopped => "paused",
            ProcState::Dead => "down",
        };
        NodeStatus {
            node,
            pid: self.pid(node).filter(|_| state != "down"),
            state,
            client_port: self.client_port(node),
            serving: state == "running" && process::port_open(self.client_port(node)),
        }
    }

    pub fn status(&self) -> Vec<NodeStatus> {
        self.nodes().map(|n| self.node_status(n)).collect()
    }

    /// Kafka's own view of the controller quorum (`MetadataQuorumCommand describe --status`).
    pub fn quorum(&self) -> Result<String, ClusterError> {
        let mut cmd = self.java("tools-logging.properties");
        cmd.arg("-Xmx256m")
            .arg("-cp")
            .arg(fetch::classpath(&self.state.lib))
            .args([
                "org.apache.kafka.tools.MetadataQuorumCommand",
                "--bootstrap-server",
                &self.bootstrap(),
            ]);
        if self.state.security.is_secure() {
            // The file holds the password; only its name is on the command line.
            cmd.arg("--command-config")
                .arg(self.material().client_java_properties());
        }
        let out = cmd
            .args(["describe", "--status"])
            .stdin(Stdio::null())
            .output()
            .map_err(|_| ClusterError::JavaMissing {
                cmd: fetch::java_cmd(),
            })?;
        if !out.status.success() {
            return Err(ClusterError::Kafka {
                bootstrap: self.bootstrap(),
                cause: String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("MetadataQuorumCommand failed")
                    .to_string(),
            });
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// SIGKILL one broker: a crash, no controlled shutdown.
    pub fn kill(&self, node: u32) -> Result<(), ClusterError> {
        self.check_node(node)?;
        if let Some(pid) = self.live_pid(node) {
            process::signal(pid, libc::SIGKILL);
            self.wait_dead(node, Duration::from_secs(10));
        }
        Ok(())
    }

    /// SIGTERM one broker (controlled shutdown: leadership moves first); SIGKILL after 30 s.
    pub fn stop(&self, node: u32) -> Result<(), ClusterError> {
        self.check_node(node)?;
        self.stop_nodes(&[node], Duration::from_secs(30))
    }

    /// Start one stopped broker and wait until it serves clients again.
    pub fn start(&self, node: u32) -> Result<(), ClusterError> {
        self.check_node(node)?;
        if self.proc_state(node) != ProcState::Dead {
            return Ok(());
        }
        self.check_ports(&[node])?;
        self.spawn_node(node)?;
        self.wait_ready(&[node])
    }

    /// SIGSTOP: the broker freezes with its sockets open, as in a long GC pause.
    pub fn pause(&self, node: u32) -> Result<(), ClusterError> {
        self.check_node(node)?;
        if let Some(pid) = self.live_pid(node) {
            process::signal(pid, libc::SIGSTOP);
            self.wait_state(node, ProcState::Stopped);
        }
        Ok(())
    }

    pub fn resume(&self, node: u32) -> Result<(), ClusterError> {
        self.check_node(node)?;
        if let Some(pid) = self.live_pid(node) {
            process::signal(pid, libc::SIGCONT);
            self.wait_state(node, ProcState::Running);
        }
        Ok(())
    }

    /// Signals are delivered asynchronously: wait (briefly) until the kernel shows the new state,
    /// so a caller that pauses a broker can rely on it being frozen when this returns.
    fn wait_state(&self, node: u32, want: ProcState) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.proc_state(node) != want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stop every node together (one at a time can leave the last waiting forever for a
    /// quorum), SIGKILL what is left after 30 s. `clean` also wipes data, logs and state.
    pub fn down(&self, clean: bool) -> Result<(), ClusterError> {
        let nodes: Vec<u32> = self.nodes().collect();
        self.stop_nodes(&nodes, Duration::from_secs(30))?;
        if clean {
            fs::remove_dir_all(&self.dir)
                .map_err(ClusterError::io(format!("removing {}", self.dir.display())))?;
        }
        Ok(())
    }

    fn live_pid(&self, node: u32) -> Option<i32> {
        self.pid(node)
            .filter(|_| self.proc_state(node) != ProcState::Dead)
    }

    fn stop_nodes(&self, nodes: &[u32], grace: Duration) -> Result<(), ClusterError> {
        for &n in nodes {
            if let Some(pid) = self.live_pid(n) {
                process::signal(pid, libc::SIGCONT); // a paused broker cannot shut down
                process::signal(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + grace;
        for &n in nodes {
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.wait_dead(n, left) {
                if let Some(pid) = self.live_pid(n) {
                    process::signal(pid, libc::SIGKILL);
                }
                self.wait_dead(n, Duration::from_secs(10));
            }
            let _ = fs::remove_file(self.pid_file(n));
        }
        Ok(())
    }

    fn wait_dead(&self, node: u32, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if self.proc_state(node) == ProcState::Dead {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn read_state(dir: &Path) -> Result<ClusterState, ClusterError> {
    let text =
        fs::read_to_string(dir.join("state.json")).map_err(|_| ClusterError::NotCreated {
            dir: dir.to_path_buf(),
        })?;
    serde_json::from_str(&text).map_err(|_| ClusterError::NotCreated {
        dir: dir.to_path_buf(),
    })
}

/// The cluster id to format (and record) with: `kept`, unless it is one Kafka's tools cannot
/// take and no node was formatted with it yet. A state directory from before ids were checked
/// can hold one starting with `-`: its format failed, so nothing holds that id and a new one
/// recovers it. A cluster already formatted keeps its id whatever it is (it is not formatted
/// again, so the id is never put on a command line).
fn cluster_id_to_format(kept: &str, formatted: bool, random: impl FnMut() -> [u8; 16]) -> String {
    if formatted || cfg::is_usable_cluster_id(kept) {
        kept.to_string()
    } else {
        cfg::new_cluster_id(random)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_dir_holding_a_dash_id_recovers_with_a_new_one() {
        let bad = "-oZZIDPBqLNbZJl2C2B83A";
        let id = cluster_id_to_format(bad, false, || [0x41; 16]);
        assert!(cfg::is_usable_cluster_id(&id) && id != bad, "{id}");
        // A usable id, or one a cluster was formatted with, is kept.
        assert_eq!(
            cluster_id_to_format("oZZIDPBqLNbZJl2C2B83Aw", false, rand::random),
            "oZZIDPBqLNbZJl2C2B83Aw"
        );
        assert_eq!(cluster_id_to_format(bad, true, rand::random), bad);
    }
}
