//! Shared helpers for the integration tests: the real cluster's bootstrap servers, random
//! topic names, and running the `kbench` binary.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Output};

/// Bootstrap servers of the real cluster `scripts/test` starts. Tests against Kafka never fall
/// back to a mock: without a cluster they fail and say how to get one.
pub fn bootstrap() -> String {
    std::env::var("KBENCH_BOOTSTRAP").unwrap_or_else(|_| {
        panic!("KBENCH_BOOTSTRAP is not set: run the suite with scripts/test (it starts a local Kafka cluster)")
    })
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
