//! CLI.
pub fn run() -> anyhow::Result<i32> { Ok(0) }
