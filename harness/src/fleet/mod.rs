//! Producer and consumer fleets, and the pure per-message pieces they use.
pub mod consumer;
pub mod keys;
pub mod pacing;
pub mod partition;
pub mod payload;
pub mod producer;
pub mod wake;
