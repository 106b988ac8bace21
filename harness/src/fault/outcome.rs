//! A cell's faults: what happened to each and what it did to the cell (first error,
//! unavailability, recovery), from the fleet's ack timeline.

use std::time::Duration;

use serde::Serialize;

use super::impact::{self, FaultImpact, ImpactParams};
use super::FaultEvent;
use crate::metrics::delivery::{ProducerLog, TIMELINE_BUCKET_NS};

/// One fault of one cell, as `faults.json` records it.
#[derive(Debug, Clone, Serialize)]
pub struct FaultOutcome {
    pub event: FaultEvent,
    /// `None` when the fault never started.
    pub impact: Option<FaultImpact>,
}

/// The fleet's ack timeline and first failure, cut at `until` (when the producers stopped:
/// later buckets are the drain, whose silence is not unavailability).
pub fn fleet_timeline(logs: &[ProducerLog], until: Duration) -> (Vec<u64>, Option<Duration>) {
    let mut fleet = ProducerLog::default();
    for l in logs {
        fleet.merge_timeline(l);
    }
    let buckets = (until.as_nanos() as u64).div_ceil(TIMELINE_BUCKET_NS) as usize;
    fleet.acks_per_bucket.resize(buckets, 0);
    (
        fleet.acks_per_bucket,
        fleet.first_failure_ns.map(Duration::from_nanos),
    )
}

pub fn outcomes(
    events: Vec<FaultEvent>,
    acks: &[u64],
    first_failure: Option<Duration>,
    warmup: Duration,
) -> Vec<FaultOutcome> {
    let params = ImpactParams::new(warmup);
    events
        .into_iter()
        .map(|event| {
            let impact = event
                .start
                .map(|start| impact::assess(acks, first_failure, start, &params));
            FaultOutcome { event, impact }
        })
        .collect()
}
