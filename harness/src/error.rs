//! The exit code of every command, from one mapping. Library code returns typed errors
//! ([`UsageError`], [`crate::scenario::ScenarioError`], [`crate::cluster::ClusterError`],
//! [`crate::rundir::read::RunDirError`]); only `main.rs` turns them into a code.

/// Input kbench cannot use (a run directory that does not match, a missing file, a flag out
/// of range): exit 2, like a bad scenario.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit codes: 0 ok, 1 other failure (or a regression found by `compare`), 2 bad scenario or
/// arguments, 3 machine not ready (Java / Maven missing, port in use), 4 cluster failed,
/// 130 interrupted.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if cause
            .downcast_ref::<crate::scenario::ScenarioError>()
            .is_some()
            || cause.downcast_ref::<UsageError>().is_some()
            || cause
                .downcast_ref::<crate::cluster::secrets::SecretError>()
                .is_some()
            || cause
                .downcast_ref::<crate::rundir::read::RunDirError>()
                .is_some()
        {
            return 2;
        }
        if let Some(c) = cause.downcast_ref::<crate::cluster::ClusterError>() {
            return c.exit_code();
        }
    }
    1
}
