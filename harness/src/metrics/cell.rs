//! Per-cell collection (being written).
pub use super::histogram::Percentiles;
pub struct CellMetrics;
pub struct CellSummary;
pub enum Phase { Warmup, Measure, Drain }
