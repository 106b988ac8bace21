//! Faults in a scenario: `[[fault]]` entries (parsed in [`crate::scenario`]) carried out
//! against a running cell, and what they did to the load.
//!
//! - [`FaultRunner`]: started when a cell's producers start, fires each fault at its `at`
//!   (since that start, warm-up included) through a [`Target`] (the local cluster's control
//!   API, or `[fault_commands]` shell commands), records a [`FaultEvent`] per fault (node hit,
//!   when it went down, when it was back, or the error), and on [`FaultRunner::stop`] brings
//!   back anything still down so the next cell starts on a full cluster.
//! - [`impact`]: pure functions from the fleet's ack timeline to time to first error,
//!   unavailability window and time to recover.
//! - [`outcome`]: each fault's event with its impact, as `faults.json` records it.
//!
//! A fault that cannot be carried out is reported in its event, never a panic.
mod executor;
pub mod impact;
pub mod outcome;
pub mod resolve;
pub mod target;

pub use executor::{FaultEvent, FaultRunner, FaultSetup, FaultStatus, READY_TIMEOUT};
pub use impact::{FaultImpact, ImpactParams};
pub use outcome::FaultOutcome;
pub use target::Target;
