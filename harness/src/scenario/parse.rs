//! TOML -> Scenario. (placeholder, being written)
use std::path::Path;

use super::model::Scenario;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

pub fn load(_path: &Path) -> Result<Scenario, ScenarioError> {
    Err(ScenarioError("not yet implemented".into()))
}
