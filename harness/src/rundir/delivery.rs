//! `cells/<id>/delivery.json`: a cell's delivery evidence ([`DeliveryEvidence`]), so that
//! the accounting (lost, duplicated, reordered) of a cell run by several shards can be
//! recomputed exactly from their run directories (`kbench merge`).
//!
//! Sets of sequence numbers are stored per producer in whichever of two forms is smaller:
//! `ranges` (`[[first, last], ...]`, inclusive: an acked set is one or a few long runs) or
//! `bitmap` (`{"base": seq of bit 0, "words": base64 of little-endian u64 words}`: a member
//! reading some partitions of a keyed or random partitioner sees every few seqs of a
//! producer, which as ranges would cost ~20 bytes a message, as bits 1 bit).

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::read::RunDirError;
use crate::metrics::delivery::{DeliveryEvidence, MemberEvidence, SeqSet};

pub const DELIVERY: &str = "delivery.json";

const VERSION: u32 = 1;

/// Sequence numbers at or above this are refused when read back: a set is a bitmap in
/// memory, and no producer sends 2^34 messages in a cell (10 minutes at 28 M msg/s).
const MAX_SEQ: u64 = 1 << 34;

#[derive(Debug, Serialize, Deserialize)]
struct DeliveryFile {
    version: u32,
    shard: u16,
    groups: usize,
    acked: Vec<SetEntry>,
    /// Messages of aborted transactions (absent without transactions, and in older files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    aborted: Vec<SetEntry>,
    members: Vec<MemberEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct MemberEntry {
    group: usize,
    member: usize,
    duplicated: u64,
    reordered: u64,
    redelivered: u64,
    seen: Vec<SetEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SetEntry {
    producer: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ranges: Option<Vec<[u64; 2]>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    bitmap: Option<Bitmap>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Bitmap {
    base: u64,
    words: String,
}

fn entry(producer: u64, set: &SeqSet) -> SetEntry {
    let ranges = set.ranges();
    let (base, words) = set.words_from();
    // ~20 bytes of JSON a range against ~11 of base64 a word.
    if ranges.len() * 20 <= words.len() * 11 {
        SetEntry {
            producer,
            ranges: Some(ranges.into_iter().map(|(a, b)| [a, b]).collect()),
            bitmap: None,
        }
    } else {
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        SetEntry {
            producer,
            ranges: None,
            bitmap: Some(Bitmap {
                base,
                words: base64_encode(&bytes),
            }),
        }
    }
}

fn set_of(e: &SetEntry) -> Result<SeqSet, String> {
    let p = e.producer;
    match (&e.ranges, &e.bitmap) {
        (Some(ranges), None) => {
            let mut set = SeqSet::default();
            let mut after = 0u64;
            for &[a, b] in ranges {
                if a > b || a < after || b >= MAX_SEQ {
                    return Err(format!(
                        "producer {p:#x}: range [{a}, {b}] is not sorted, disjoint and below {MAX_SEQ}"
                    ));
                }
                set.insert_range(a, b);
                after = b + 1;
            }
            Ok(set)
        }
        (None, Some(bm)) => {
            let bytes = super::read::base64_decode(&bm.words)
                .ok_or_else(|| format!("producer {p:#x}: bitmap words are not base64"))?;
            let end = bm.base.saturating_add(bytes.len() as u64 * 8);
            if bm.base % 64 != 0 || bytes.len() % 8 != 0 || end > MAX_SEQ {
                return Err(format!(
                    "producer {p:#x}: bitmap base {} / length {} bytes is not a whole number of words below {MAX_SEQ}",
                    bm.base,
                    bytes.len()
                ));
            }
            let words: Vec<u64> = bytes
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect();
            Ok(SeqSet::from_words(bm.base, &words))
        }
        _ => Err(format!(
            "producer {p:#x}: expected exactly one of \"ranges\" and \"bitmap\""
        )),
    }
}

/// The JSON of one cell's evidence.
pub fn render(e: &DeliveryEvidence) -> Vec<u8> {
    let file = DeliveryFile {
        version: VERSION,
        shard: e.shard,
        groups: e.groups,
        acked: e.acked.iter().map(|(p, s)| entry(*p, s)).collect(),
        aborted: e.aborted.iter().map(|(p, s)| entry(*p, s)).collect(),
        members: e
            .members
            .iter()
            .map(|m| MemberEntry {
                group: m.group,
                member: m.member,
                duplicated: m.duplicated,
                reordered: m.reordered,
                redelivered: m.redelivered,
                seen: m.seen.iter().map(|(p, s)| entry(*p, s)).collect(),
            })
            .collect(),
    };
    serde_json::to_vec(&file).unwrap_or_default()
}

/// Parse [`render`]'s output; the error says what is wrong (the caller names the file).
pub fn parse(bytes: &[u8]) -> Result<DeliveryEvidence, String> {
    let f: DeliveryFile =
        serde_json::from_slice(bytes).map_err(|e| format!("not a delivery evidence file: {e}"))?;
    if f.version != VERSION {
        return Err(format!(
            "version {} (this kbench reads version {VERSION})",
            f.version
        ));
    }
    let sets = |entries: &[SetEntry]| -> Result<Vec<(u64, SeqSet)>, String> {
        entries
            .iter()
            .map(|e| Ok((e.producer, set_of(e)?)))
            .collect()
    };
    let mut members = Vec::with_capacity(f.members.len());
    for m in &f.members {
        if m.group >= f.groups {
            return Err(format!(
                "member {} of group {}: the cell has {} groups",
                m.member, m.group, f.groups
            ));
        }
        members.push(MemberEvidence {
            group: m.group,
            member: m.member,
            seen: sets(&m.seen)?,
            duplicated: m.duplicated,
            reordered: m.reordered,
            redelivered: m.redelivered,
        });
    }
    Ok(DeliveryEvidence {
        shard: f.shard,
        groups: f.groups,
        acked: sets(&f.acked)?,
        aborted: sets(&f.aborted)?,
        members,
    })
}

/// Read `path`; errors name it.
pub fn read(path: &Path) -> Result<DeliveryEvidence, RunDirError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RunDirError::Missing {
            path: path.to_path_buf(),
            hint: " (written by kbench run since delivery evidence exists; rerun the shard with this kbench)",
        },
        _ => RunDirError::Io {
            path: path.to_path_buf(),
            source: e,
        },
    })?;
    parse(&bytes).map_err(|message| RunDirError::Corrupt {
        path: path.to_path_buf(),
        message,
    })
}

pub(crate) fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(seqs: impl IntoIterator<Item = u64>) -> SeqSet {
        let mut s = SeqSet::default();
        for q in seqs {
            s.insert(q);
        }
        s
    }

    #[test]
    fn evidence_round_trips_in_both_forms() {
        let e = DeliveryEvidence {
            shard: 2,
            groups: 1,
            acked: vec![(7, set(0..10_000)), (8, set((0..5000).chain(6000..7000)))],
            aborted: vec![(8, set(5000..6000))],
            members: vec![MemberEvidence {
                group: 0,
                member: 1,
                seen: vec![(7, set((0..10_000).step_by(3))), (8, set([5, 6]))],
                duplicated: 1,
                reordered: 2,
                redelivered: 3,
            }],
        };
        let bytes = render(&e);
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.contains("\"ranges\":[[0,9999]]"), "{text}");
        assert!(text.contains("\"bitmap\""), "a fragmented set is a bitmap");
        assert!(bytes.len() < 2_100, "{} bytes", bytes.len());
        // The same sets (a bitmap read back carries no spare capacity, so compare ranges).
        let ranges = |e: &DeliveryEvidence| -> Vec<Vec<(u64, u64)>> {
            let members = e.members.iter().flat_map(|m| &m.seen);
            e.acked
                .iter()
                .chain(&e.aborted)
                .chain(members)
                .map(|(p, s)| {
                    let mut r = s.ranges();
                    r.insert(0, (*p, s.len()));
                    r
                })
                .collect()
        };
        let back = parse(&bytes).unwrap();
        assert_eq!(ranges(&back), ranges(&e));
        assert_eq!(
            (back.shard, back.groups, back.members[0].reordered),
            (2, 1, 2)
        );
    }

    #[test]
    fn bad_evidence_says_why() {
        for (bad, why) in [
            ("{", "not a delivery evidence file"),
            (
                r#"{"version":9,"shard":0,"groups":0,"acked":[],"members":[]}"#,
                "version 9",
            ),
            (
                r#"{"version":1,"shard":0,"groups":1,"acked":[{"producer":1,"ranges":[[5,2]]}],"members":[]}"#,
                "not sorted",
            ),
            (
                r#"{"version":1,"shard":0,"groups":1,"acked":[{"producer":1,"ranges":[[0,99999999999999]]}],"members":[]}"#,
                "below",
            ),
            (
                r#"{"version":1,"shard":0,"groups":1,"acked":[{"producer":1}],"members":[]}"#,
                "exactly one",
            ),
            (
                r#"{"version":1,"shard":0,"groups":1,"acked":[],"members":[{"group":3,"member":0,"duplicated":0,"reordered":0,"redelivered":0,"seen":[]}]}"#,
                "has 1 groups",
            ),
        ] {
            let e = parse(bad.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
