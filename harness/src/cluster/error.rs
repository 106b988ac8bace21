//! Errors of the local cluster and the admin client. Each says, in one line, what went wrong
//! and, where there is one, which log file to read.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error("Java not found ({cmd}): install Java 17 or set JAVA_HOME / KBENCH_JAVA")]
    JavaMissing { cmd: String },
    #[error("Maven not found ({cmd}): it is needed once to fetch Apache Kafka's jars; install Maven or set KBENCH_MVN")]
    MavenMissing { cmd: String },
    #[error("fetching Apache Kafka {version} with Maven failed: {cause} (log: {log})")]
    Fetch {
        version: String,
        cause: String,
        log: PathBuf,
    },
    #[error("port {port} on 127.0.0.1 is already in use (needed by node {node}); stop what holds it or pass --base-port")]
    PortInUse { port: u16, node: u32 },
    #[error("formatting storage for node {node} failed: {cause} (log: {log})")]
    Format {
        node: u32,
        cause: String,
        log: PathBuf,
    },
    #[error("broker {node} exited during start-up: {cause} (log: {log})")]
    BrokerExited {
        node: u32,
        cause: String,
        log: PathBuf,
    },
    #[error("broker {node} did not serve clients within {secs} s (log: {log})")]
    StartTimeout { node: u32, secs: u64, log: PathBuf },
    #[error("no local cluster in {dir}: run `kbench cluster up` first")]
    NotCreated { dir: PathBuf },
    #[error("node {node} is not part of this {brokers}-broker cluster")]
    NoSuchNode { node: u32, brokers: u32 },
    #[error("a {running}-broker cluster is running in {dir}; run `kbench cluster down` before asking for {wanted}")]
    ShapeMismatch {
        running: u32,
        wanted: u32,
        dir: PathBuf,
    },
    #[error("a cluster with security {running} is running in {dir}; run `kbench cluster down` before asking for --security {wanted}")]
    SecurityMismatch {
        running: crate::cluster::SecurityMode,
        wanted: crate::cluster::SecurityMode,
        dir: PathBuf,
    },
    #[error("broker {node} did not stop within {secs} s and was killed")]
    StopTimeout { node: u32, secs: u64 },
    #[error("cluster at {bootstrap}: {cause}")]
    Kafka { bootstrap: String, cause: String },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl ClusterError {
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
        let context = context.into();
        move |source| ClusterError::Io { context, source }
    }

    /// Process exit code for this error: 2 for a node that does not exist, 3 for a missing tool
    /// or a busy port (the machine is
    /// not ready), 4 for a cluster that failed to start or answer.
    pub fn exit_code(&self) -> i32 {
        match self {
            ClusterError::JavaMissing { .. }
            | ClusterError::MavenMissing { .. }
            | ClusterError::PortInUse { .. } => 3,
            ClusterError::NoSuchNode { .. } => 2,
            _ => 4,
        }
    }
}
