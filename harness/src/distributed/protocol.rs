//! The control topic's messages: one JSON object per record, small and few (a handful per
//! cell per shard), so that a human can read the topic with any console consumer.
//!
//! The timeline of a run, shard 0 being the leader:
//! 1. every shard but 0 sends `Ping`s and shard 0 answers each with a `Pong` (clock offset);
//! 2. per cell: shard 0 creates the topic and says `Topic`; every shard starts its consumers
//!    and says `Ready` (again whenever its members' assignment changes); when every shard is
//!    ready and the groups' partitions are covered, shard 0 says `Go` with the start time;
//! 3. during the cell every shard says `Progress` once per interval (its heartbeat, and the
//!    drain's counts); at the end every shard says `Done` (find-max: after its `Share`, the
//!    probe's figures); shard 0 deletes the topic.
//!
//! A resumed run (`--resume`) starts with an agreement: every shard says `Todo` (what its
//! directory lacks), shard 0 answers `Plan` (the union), before the clock probes.
//!
//! A cell is named by its key (`<cell id>#<repeat>`), so every message says which cell it is
//! about and a late one is never taken for the next cell's.

use serde::{Deserialize, Serialize};

/// One control record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// Clock probe from `shard`, sent at `t0` on its wall clock (ns since the Unix epoch).
    Ping { shard: u16, seq: u32, t0: i64 },
    /// Shard 0's answer: the probe came at `t1` and the answer left at `t2`, shard 0's clock.
    Pong {
        shard: u16,
        seq: u32,
        t0: i64,
        t1: i64,
        t2: i64,
    },
    /// Shard 0 created the cell's topic (every partition has a leader).
    Topic { cell: String, topic: String },
    /// `shard`'s consumers are up: per group, the partitions its members hold now
    /// (`assigned` once every member has had its first assignment). `clock_bound_ns` is the
    /// bound on its clock offset estimate.
    Ready {
        cell: String,
        shard: u16,
        assigned: bool,
        partitions: Vec<Vec<i32>>,
        clock_bound_ns: u64,
    },
    /// Shard 0: the load starts at `start_ns` (shard 0's clock); `lost` shards never became
    /// ready and take no part in the cell.
    Go {
        cell: String,
        start_ns: i64,
        lost: Vec<u16>,
    },
    /// `shard`'s totals so far (warm-up included): acks of its producers, messages its
    /// members read per group; `producers_done` once they stopped and flushed.
    Progress {
        cell: String,
        shard: u16,
        acked: u64,
        consumed: Vec<u64>,
        producers_done: bool,
    },
    /// `shard`'s result of the cell, for a driver that judges the whole fleet (find-max:
    /// its counts and latency histograms, so every shard merges the probe exactly). Sent
    /// just before `Done`; the body is the driver's own.
    Share {
        cell: String,
        shard: u16,
        body: serde_json::Value,
    },
    /// `shard` finished the cell (its results are written).
    Done { cell: String, shard: u16 },
    /// Shard 0 could not set the cell up (or stops the run): the others stop too.
    Abort { cell: String, reason: String },
    /// A resumed shard joins the attempt: the cell keys its own directory lacks (missing,
    /// interrupted or flagged shard-lost), and a nonce of this process, which the `Plan` must
    /// name before the shard trusts the topic to be the current attempt's.
    Todo {
        shard: u16,
        nonce: u64,
        cells: Vec<String>,
    },
    /// Shard 0, once every shard said `Todo`: the cells every shard redoes (the union), and
    /// the nonce each shard joined with (index = shard).
    Plan {
        cells: Vec<String>,
        nonces: Vec<u64>,
    },
}

impl Message {
    pub fn encode(&self) -> Vec<u8> {
        // A message of plain fields always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// `None` for a record that is not a control message of this kbench (another version's,
    /// or something a person wrote to the topic): ignored, never an error.
    pub fn decode(bytes: &[u8]) -> Option<Message> {
        serde_json::from_slice(bytes).ok()
    }

    /// The cell the message is about, if any.
    pub fn cell(&self) -> Option<&str> {
        match self {
            Message::Ping { .. }
            | Message::Pong { .. }
            | Message::Todo { .. }
            | Message::Plan { .. } => None,
            Message::Topic { cell, .. }
            | Message::Ready { cell, .. }
            | Message::Go { cell, .. }
            | Message::Progress { cell, .. }
            | Message::Share { cell, .. }
            | Message::Done { cell, .. }
            | Message::Abort { cell, .. } => Some(cell),
        }
    }
}

/// The key naming a cell in control messages.
pub fn cell_key(cell_id: &str, repeat: u32) -> String {
    format!("{cell_id}#{repeat}")
}

/// Is every group's partition set covered exactly once by the shards' members? `ready` holds
/// each shard's latest `Ready` partitions (per group). An incomplete or overlapping cover
/// means a rebalance is still under way.
pub fn groups_covered(ready: &[&[Vec<i32>]], groups: usize, partitions: i32) -> bool {
    (0..groups).all(|g| {
        let mut got: Vec<i32> = ready
            .iter()
            .flat_map(|r| r.get(g).cloned().unwrap_or_default())
            .collect();
        got.sort_unstable();
        got == (0..partitions).collect::<Vec<i32>>()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip_and_name_their_cell() {
        let all = [
            Message::Ping {
                shard: 2,
                seq: 7,
                t0: -5,
            },
            Message::Pong {
                shard: 2,
                seq: 7,
                t0: 1,
                t1: 2,
                t2: 3,
            },
            Message::Topic {
                cell: "c#1".into(),
                topic: "kbench-x".into(),
            },
            Message::Ready {
                cell: "c#1".into(),
                shard: 1,
                assigned: true,
                partitions: vec![vec![0, 2], vec![]],
                clock_bound_ns: 1500,
            },
            Message::Go {
                cell: "c#1".into(),
                start_ns: 1_700_000_000_000_000_000,
                lost: vec![2],
            },
            Message::Progress {
                cell: "c#1".into(),
                shard: 1,
                acked: 10,
                consumed: vec![10, 9],
                producers_done: false,
            },
            Message::Share {
                cell: "c#1".into(),
                shard: 2,
                body: serde_json::json!({"offered": 10, "publish": "SGlzdA=="}),
            },
            Message::Done {
                cell: "c#1".into(),
                shard: 0,
            },
            Message::Abort {
                cell: "c#1".into(),
                reason: "no topic".into(),
            },
            Message::Todo {
                shard: 2,
                nonce: u64::MAX,
                cells: vec!["c#1".into()],
            },
            Message::Plan {
                cells: vec!["c#1".into()],
                nonces: vec![0, 7, u64::MAX],
            },
        ];
        for m in all {
            let bytes = m.encode();
            assert_eq!(
                Message::decode(&bytes),
                Some(m.clone()),
                "{}",
                String::from_utf8_lossy(&bytes)
            );
            if !matches!(
                m,
                Message::Ping { .. }
                    | Message::Pong { .. }
                    | Message::Todo { .. }
                    | Message::Plan { .. }
            ) {
                assert_eq!(m.cell(), Some("c#1"));
            }
        }
        let ping = String::from_utf8(
            Message::Ping {
                shard: 1,
                seq: 0,
                t0: 9,
            }
            .encode(),
        )
        .unwrap();
        assert_eq!(ping, r#"{"kind":"ping","shard":1,"seq":0,"t0":9}"#);
    }

    #[test]
    fn anything_else_is_ignored() {
        for junk in [
            &b""[..],
            b"hello",
            b"{\"kind\":\"dance\"}",
            b"{\"kind\":\"done\"}",
        ] {
            assert_eq!(Message::decode(junk), None);
        }
    }

    #[test]
    fn covered_only_when_exactly_once() {
        let a = vec![vec![0, 1], vec![0]];
        let b = vec![vec![2], vec![1, 2]];
        assert!(groups_covered(&[&a, &b], 2, 3));
        let stale = vec![vec![0, 1, 2], vec![0, 1, 2]];
        assert!(
            !groups_covered(&[&stale, &b], 2, 3),
            "an overlap is a rebalance in flight"
        );
        assert!(!groups_covered(&[&a], 2, 3));
        assert!(
            groups_covered(&[&a, &b], 0, 3),
            "no groups: nothing to cover"
        );
    }
}
