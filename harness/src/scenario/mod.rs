//! Scenario files: parsing, validation and sweep expansion.
pub mod model;
pub mod parse;
pub mod sweep;

pub use model::*;
pub use parse::{load, ScenarioError};
