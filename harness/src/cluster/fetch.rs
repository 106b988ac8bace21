//! Apache Kafka's jars from Maven Central, fetched once with `mvn` into a cache directory.
//! A finished fetch leaves a `.complete` marker, so a half-done download (Ctrl-C, no network)
//! is never mistaken for a usable classpath.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::error::ClusterError;

/// The POM that declares the broker, the tools and a logging binding (see its comments).
const POM: &str = include_str!("../../resources/kafka-pom.xml");

/// The Kafka version kbench starts unless told otherwise; `docker-compose.yml` pins the same.
pub const DEFAULT_KAFKA_VERSION: &str = "4.3.0";

pub fn major(version: &str) -> u32 {
    version
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(4)
}

/// The java command: `KBENCH_JAVA`, else `$JAVA_HOME/bin/java`, else `java` on the PATH.
pub fn java_cmd() -> String {
    if let Ok(j) = std::env::var("KBENCH_JAVA") {
        return j;
    }
    if let Ok(home) = std::env::var("JAVA_HOME") {
        let p = Path::new(&home).join("bin/java");
        if p.exists() {
            return p.display().to_string();
        }
    }
    "java".into()
}

/// The maven command: `KBENCH_MVN`, else `mvn` on the PATH.
pub fn mvn_cmd() -> String {
    std::env::var("KBENCH_MVN").unwrap_or_else(|_| "mvn".into())
}

/// Fails with `JavaMissing` unless `java -version` runs.
pub fn check_java() -> Result<String, ClusterError> {
    let cmd = java_cmd();
    let out = Command::new(&cmd)
        .arg("-version")
        .stdin(Stdio::null())
        .output()
        .map_err(|_| ClusterError::JavaMissing { cmd: cmd.clone() })?;
    if !out.status.success() {
        return Err(ClusterError::JavaMissing { cmd });
    }
    // `java -version` prints to stderr: `openjdk version "17.0.15" ...`
    Ok(String::from_utf8_lossy(&out.stderr)
        .lines()
        .next()
        .unwrap_or("")
        .to_string())
}

/// The directory of jars for `version`, fetching them first if the cache lacks them.
/// Returns (lib dir, whether a download happened).
pub fn ensure_jars(cache_dir: &Path, version: &str) -> Result<(PathBuf, bool), ClusterError> {
    let dir = cache_dir.join(format!("kafka-{version}"));
    let lib = dir.join("lib");
    if dir.join(".complete").exists() {
        return Ok((lib, false));
    }
    let mvn = mvn_cmd();
    let probe = Command::new(&mvn)
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        return Err(ClusterError::MavenMissing { cmd: mvn });
    }
    fs::create_dir_all(&dir).map_err(ClusterError::io(format!("creating {}", dir.display())))?;
    let _ = fs::remove_dir_all(&lib);
    fs::write(dir.join("pom.xml"), POM).map_err(ClusterError::io("writing pom.xml"))?;
    let log = dir.join("fetch.log");
    let log_file = fs::File::create(&log).map_err(ClusterError::io("creating fetch.log"))?;
    let mut cmd = Command::new(&mvn);
    cmd.current_dir(&dir)
        .args(["-B", "-q"])
        .arg(format!("-Dkafka.version={version}"))
        .args([
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            "-DoutputDirectory=lib",
        ]);
    if major(version) < 4 {
        cmd.arg("-Pkafka39");
    }
    let status = cmd
        .stdin(Stdio::null())
        .stdout(
            log_file
                .try_clone()
                .map_err(ClusterError::io("fetch.log"))?,
        )
        .stderr(log_file)
        .status()
        .map_err(|_| ClusterError::MavenMissing { cmd: mvn.clone() })?;
    let broker_jar = lib.join(format!("kafka_2.13-{version}.jar"));
    if !status.success() || !broker_jar.exists() {
        return Err(ClusterError::Fetch {
            version: version.into(),
            cause: super::process::failure_cause(&log),
            log,
        });
    }
    fs::write(dir.join(".complete"), version).map_err(ClusterError::io("writing .complete"))?;
    Ok((lib, true))
}

/// `-cp` argument for a lib directory.
pub fn classpath(lib: &Path) -> String {
    format!("{}/*", lib.display())
}
