//! Measurement: latency histograms, counters, and CPU use computed from samples. Pure: no
//! files, no network, no system calls, no clocks of its own except [`Clock`], so everything
//! here is unit-tested with synthetic times. The CPU samplers that read `/proc` and
//! `getrusage` are in [`crate::sys`]; [`cpu`] only does the arithmetic on their samples.
//!
//! Each client (producer or consumer) owns a [`ClientStats`] for the current interval. The
//! cell's collector swaps every client's stats out once per interval and merges them into a
//! [`cell::CellMetrics`], which keeps the per-interval series and the cell's totals.
pub mod cell;
pub mod client;
pub mod clock;
pub mod cpu;
pub mod delivery;
pub mod histogram;
pub mod rebalance;
pub mod skew;

pub use cell::{CellEnd, CellMetrics, CellSummary, Phase};
pub use client::{ClientStats, Counters, Handover, TxOutcome};
pub use clock::Clock;
pub use histogram::{new_histogram, Percentiles};
