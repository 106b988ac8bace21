//! Producer and consumer fleets, and the pure per-message pieces they use.
pub mod keys;
pub mod pacing;
pub mod partition;
pub mod payload;
