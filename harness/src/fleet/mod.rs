//! Producer and consumer fleets, and the pure per-message pieces they use.
//!
//! [`Fleet`] is the worker API the runner drives; `producer` and `consumer` are one client
//! each on its own thread; the rest is per-message arithmetic (pacing, keys, payloads,
//! partition choice) with no I/O. A producer that follows a file (`follow.rs`, its send loop)
//! reads it through `tail`; `librdkafka_stats` appends a client's statistics, when a scenario
//! asks for them, to the run directory.
pub mod batch;
pub mod consumer;
pub mod first_write;
mod follow;
pub mod keys;
pub mod librdkafka_stats;
pub mod opaque;
pub mod pacing;
pub mod partition;
pub mod payload;
pub mod producer;
pub mod recorder;
pub mod tail;
mod topic_handle;
pub mod transaction;
pub mod value_slots;
pub mod wake;
mod worker;

pub use worker::{Fleet, FleetPlan, FleetReport, GroupPauses, MemberReport, RebalanceReport};
