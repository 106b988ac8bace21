//! Shared helpers for the integration tests: the real cluster's bootstrap servers, random
//! topic names, and running the `kbench` binary.
#![allow(dead_code, unused_macros, unused_imports)]

pub mod shards;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

/// First line of every test that needs the real cluster `scripts/test` starts:
///
/// ```ignore
/// let bootstrap = common::require_cluster!();
/// ```
///
/// evaluates to the cluster's bootstrap servers (`KBENCH_BOOTSTRAP`). Without them the test
/// says so in one line on stderr and returns: a plain `cargo test` skips the tests against
/// Kafka instead of failing in them. Tests against Kafka never fall back to a mock. With
/// `KBENCH_REQUIRE_CLUSTER=1` (as in CI) a missing cluster is a failure instead; see
/// [`cluster`].
macro_rules! require_cluster {
    () => {{
        fn here() {}
        let test = ::std::any::type_name_of_val(&here);
        match $crate::common::cluster(test.strip_suffix("::here").unwrap_or(test)) {
            Some(bootstrap) => bootstrap,
            None => return,
        }
    }};
}
pub(crate) use require_cluster;

/// The one line a test without its cluster prints (or panics with).
fn needs_a_cluster(test: &str) -> String {
    format!("{test}: needs a Kafka cluster (KBENCH_BOOTSTRAP unset); run scripts/test")
}

/// Bootstrap servers of the real cluster `scripts/test` starts, or `None` when
/// `KBENCH_BOOTSTRAP` is unset or empty: then `test` (its name) is reported as skipped, in one
/// line written straight to stderr (not through `eprintln!`, which the test harness captures
/// and only shows for failing tests). Use it through [`require_cluster!`].
///
/// # Panics
/// When `KBENCH_REQUIRE_CLUSTER` is set (to anything but empty or `0`) and there is no cluster,
/// so that a CI run whose cluster went missing fails loudly instead of skipping silently; and
/// when `KBENCH_BOOTSTRAP` is not valid Unicode. The panic names the line of the test.
#[track_caller]
pub fn cluster(test: &str) -> Option<String> {
    match std::env::var("KBENCH_BOOTSTRAP") {
        Ok(b) if !b.trim().is_empty() => return Some(b),
        Err(std::env::VarError::NotUnicode(b)) => {
            panic!("{test}: KBENCH_BOOTSTRAP is not valid Unicode: {b:?}")
        }
        _ => {}
    }
    let line = needs_a_cluster(test);
    if cluster_required() {
        panic!("{line} (KBENCH_REQUIRE_CLUSTER is set, so this is a failure, not a skip)");
    }
    // One write of the whole line, so that parallel tests do not interleave mid-line.
    let _ = std::io::stderr().write_all(format!("skipped {line}\n").as_bytes());
    None
}

/// `KBENCH_REQUIRE_CLUSTER` set to anything but empty or `0`.
fn cluster_required() -> bool {
    std::env::var_os("KBENCH_REQUIRE_CLUSTER").is_some_and(|v| !v.is_empty() && v != "0")
}

/// A topic name no other test (or run) uses.
pub fn random_topic(prefix: &str) -> String {
    format!("kbench-test-{prefix}-{:016x}", rand::random::<u64>())
}

pub fn kbench(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbench"));
    cmd.args(args).stdin(std::process::Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("running kbench")
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn workspace_root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A new topic (`random_topic(prefix)`) of `partitions` x `replication` on the test cluster,
/// its leaders elected; returns the admin client (to delete it afterwards) and the name.
pub fn new_topic(
    bootstrap: &str,
    prefix: &str,
    partitions: i32,
    replication: i32,
) -> (kbench::cluster::admin::Admin, String) {
    use std::collections::BTreeMap;
    use std::time::Duration;
    let access = kbench::cluster::Access::plaintext(bootstrap);
    let admin = kbench::cluster::admin::Admin::new(&access, &BTreeMap::new()).expect("admin");
    let topic = random_topic(prefix);
    let t = Duration::from_secs(30);
    admin
        .create_topic(&topic, partitions, replication, &BTreeMap::new(), t)
        .expect("create topic");
    admin
        .wait_for_leaders(&topic, partitions, replication, t)
        .expect("leaders");
    (admin, topic)
}
