//! Message values, and the stamp kbench puts on every message ([`stamp`]).
//!
//! Values are slices of buffers built once, so producing a message allocates nothing. Random
//! values are incompressible, also across messages: a batch of identical (or overlapping)
//! values would let lz4/zstd compress the batch to almost nothing and flatter every
//! compression setting. Each generator therefore walks through a random pool several
//! megabytes long, one value after the other, so no two values in a batch share bytes.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, RngCore, SeedableRng};

use crate::scenario::MessageSize;

/// The largest value kbench generates: librdkafka's upper bound for `message.max.bytes`.
pub const MAX_VALUE_SIZE: usize = 1_000_000_000;

/// The random pool is at least this long: larger than librdkafka's default `batch.size`
/// (1,000,000 bytes) and than the match windows of lz4 (64 KiB) and of zstd at its default
/// levels on a batch of that size, so a batch never contains the same bytes twice.
const MIN_POOL: usize = 4 << 20;

/// A message size specification that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("message size: cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("message size: {} has no non-empty line to send", path.display())]
    NoLines { path: PathBuf },
    #[error("message size: uniform range {min}..={max} is empty (min above max)")]
    EmptyRange { min: usize, max: usize },
    #[error("message size: {size} bytes is above the {MAX_VALUE_SIZE} bytes librdkafka accepts")]
    TooLarge { size: usize },
}

/// Produces the value of each message. One per producer; [`PayloadGen::reseeded`] makes
/// another that shares the buffers.
#[derive(Debug, Clone)]
pub struct PayloadGen {
    source: Source,
    rng: SmallRng,
    /// Where [`PayloadGen::next_stamped`] builds a value: this producer's own, reused for
    /// every message (librdkafka copies the value when it is sent). It grows to the largest
    /// value once.
    scratch: Vec<u8>,
}

#[derive(Debug, Clone)]
enum Source {
    /// Sizes uniform over `min..=max` (a fixed size when equal), bytes from `pool`.
    Random {
        pool: Arc<[u8]>,
        min: usize,
        max: usize,
        /// Where the next value starts in `pool`.
        pos: usize,
    },
    /// The file's non-empty lines in order, cycling.
    Lines {
        data: Arc<[u8]>,
        /// (start, end) of each line in `data`.
        spans: Arc<[(usize, usize)]>,
        next: usize,
        min: usize,
        max: usize,
        mean: f64,
    },
}

impl PayloadGen {
    /// A generator for `size`, deterministic given `seed`. Reads a `FileLines` file once, here.
    pub fn new(size: &MessageSize, seed: u64) -> Result<Self, PayloadError> {
        let mut rng = SmallRng::seed_from_u64(seed);
        let source = match size {
            MessageSize::Fixed(n) => random_source(*n, *n, &mut rng)?,
            MessageSize::Uniform { min, max } => random_source(*min, *max, &mut rng)?,
            MessageSize::FileLines(path) => lines_source(path)?,
            // A followed file's lines come from `fleet::tail` as they are appended, not from
            // here: an empty value stands in (and `min_size` 0 refuses `stamp = "value"`).
            MessageSize::FollowLines { .. } => Source::Random {
                pool: Arc::from(vec![0u8]),
                min: 0,
                max: 0,
                pos: 0,
            },
        };
        Ok(PayloadGen {
            source,
            rng,
            scratch: Vec::new(),
        })
    }

    /// Another generator for the same sizes with its own random state, sharing the random pool
    /// or the file's lines: for the next producer of a fleet. It starts at its own place in
    /// the pool, so producers do not send the same bytes in lockstep; file lines still start
    /// from the first line.
    pub fn reseeded(&self, seed: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let mut source = self.source.clone();
        match &mut source {
            Source::Random { pool, pos, .. } => *pos = rng.gen_range(0..pool.len()),
            Source::Lines { next, .. } => *next = 0,
        }
        PayloadGen {
            source,
            rng,
            scratch: Vec::new(),
        }
    }

    /// The random pool and where this generator is in it, when the values are generated
    /// (`None` for a file's lines): `value_slots` fills its ring from there.
    pub fn random_pool(&self) -> Option<(Arc<[u8]>, usize)> {
        match &self.source {
            Source::Random { pool, pos, .. } => Some((pool.clone(), *pos)),
            Source::Lines { .. } => None,
        }
    }

    /// The size of the next generated value, drawn now; `None` for a file's lines, which have
    /// their own. The value itself then comes from [`PayloadGen::stamped_of_len`] (or from
    /// `value_slots`, which builds it in place).
    #[inline]
    pub fn next_len(&mut self) -> Option<usize> {
        match &self.source {
            Source::Random { min, max, .. } if min == max => Some(*min),
            Source::Random { min, max, .. } => Some(self.rng.gen_range(*min..=*max)),
            Source::Lines { .. } => None,
        }
    }

    /// The value of the next message.
    #[inline]
    pub fn next_payload(&mut self) -> &[u8] {
        let len = self.next_len();
        self.value_of(len)
    }

    /// `len` bytes of the random pool, or a file's next line (`len` is `None` for files).
    #[inline]
    fn value_of(&mut self, len: Option<usize>) -> &[u8] {
        match &mut self.source {
            Source::Random { pool, pos, .. } => {
                let len = len.unwrap_or(0);
                // The pool is at least twice the largest value, so a value always fits after
                // wrapping to the start.
                if *pos + len > pool.len() {
                    *pos = 0;
                }
                let start = *pos;
                *pos += len;
                &pool[start..start + len]
            }
            Source::Lines {
                data, spans, next, ..
            } => {
                let (start, end) = spans[*next];
                *next += 1;
                if *next == spans.len() {
                    *next = 0;
                }
                &data[start..end]
            }
        }
    }

    /// The value of the next message with `stamp` in its first bytes: the generated value's
    /// first [`stamp::STAMP_LEN`] bytes are replaced, so the value keeps its size (and a
    /// file's line keeps every byte after the stamp). A value shorter than the stamp (which
    /// scenarios refuse, see [`PayloadGen::min_size`]) is the stamp's first bytes only.
    #[inline]
    pub fn next_stamped(&mut self, stamp: &[u8; stamp::STAMP_LEN]) -> &[u8] {
        let len = self.next_len();
        self.stamped_of_len(len, stamp)
    }

    /// [`PayloadGen::next_stamped`] for a size already drawn with [`PayloadGen::next_len`]
    /// (`None` for a file's lines).
    #[inline]
    pub fn stamped_of_len(&mut self, len: Option<usize>, stamp: &[u8; stamp::STAMP_LEN]) -> &[u8] {
        let mut scratch = std::mem::take(&mut self.scratch);
        let body = self.value_of(len);
        let len = body.len();
        let head = len.min(stamp::STAMP_LEN);
        if scratch.len() < len {
            scratch.resize(len, 0);
        }
        scratch[..head].copy_from_slice(&stamp[..head]);
        scratch[head..len].copy_from_slice(&body[head..]);
        self.scratch = scratch;
        &self.scratch[..len]
    }

    /// The smallest value this generator can produce, in bytes.
    pub fn min_size(&self) -> usize {
        match &self.source {
            Source::Random { min, .. } => *min,
            Source::Lines { min, .. } => *min,
        }
    }

    /// The largest value this generator can produce, in bytes.
    pub fn max_size(&self) -> usize {
        match &self.source {
            Source::Random { max, .. } => *max,
            Source::Lines { max, .. } => *max,
        }
    }

    /// The mean value size in bytes over many messages (exact for fixed sizes and for a whole
    /// cycle of a file's lines).
    pub fn mean_size(&self) -> f64 {
        match &self.source {
            Source::Random { min, max, .. } => (*min as f64 + *max as f64) / 2.0,
            Source::Lines { mean, .. } => *mean,
        }
    }
}

fn random_source(min: usize, max: usize, rng: &mut SmallRng) -> Result<Source, PayloadError> {
    if min > max {
        return Err(PayloadError::EmptyRange { min, max });
    }
    if max > MAX_VALUE_SIZE {
        return Err(PayloadError::TooLarge { size: max });
    }
    let mut pool = vec![0u8; MIN_POOL.max(2 * max)];
    rng.fill_bytes(&mut pool);
    let pos = rng.gen_range(0..pool.len());
    Ok(Source::Random {
        pool: pool.into(),
        min,
        max,
        pos,
    })
}

fn lines_source(path: &Path) -> Result<Source, PayloadError> {
    // Bounded like the scenario's own check: a regular file, never a pipe or a device.
    let data =
        crate::scenario::input::read_bounded(path, crate::scenario::input::MAX_MESSAGE_FILE_BYTES)
            .map_err(|m| PayloadError::Read {
                path: path.to_path_buf(),
                source: std::io::Error::other(m),
            })?;
    let mut spans = Vec::new();
    let mut start = 0;
    for line in data.split(|&b| b == b'\n') {
        let end = start + line.len();
        // A file written on Windows ends its lines with "\r\n": the '\r' is not content.
        let content_end = if line.last() == Some(&b'\r') {
            end - 1
        } else {
            end
        };
        if content_end > start {
            spans.push((start, content_end));
        }
        start = end + 1;
    }
    if spans.is_empty() {
        return Err(PayloadError::NoLines {
            path: path.to_path_buf(),
        });
    }
    let max = spans.iter().map(|(s, e)| e - s).max().unwrap_or(0);
    let min = spans.iter().map(|(s, e)| e - s).min().unwrap_or(0);
    if max > MAX_VALUE_SIZE {
        return Err(PayloadError::TooLarge { size: max });
    }
    let total: usize = spans.iter().map(|(s, e)| e - s).sum();
    let mean = total as f64 / spans.len() as f64;
    Ok(Source::Lines {
        data: data.into(),
        spans: spans.into(),
        next: 0,
        min,
        max,
        mean,
    })
}

/// The stamp kbench puts on every message, so that a consumer can tell which producer sent it,
/// its place in that producer's sequence (loss, duplicates, reordering) and when it was meant
/// to be sent (end-to-end latency).
///
/// It lives in the first [`STAMP_LEN`](stamp::STAMP_LEN) bytes of the value (`[producers]
/// stamp = "value"`, the default), overwriting that many bytes of the generated (or the file's)
/// value, so a message is exactly `message_size` bytes on the wire and on disk; or, with
/// `stamp = "header"`, the same bytes are the value of a record header named
/// [`HEADER_KEY`](stamp::HEADER_KEY) and the value is left intact (payload files that must
/// stay as they are), at the cost of the header (6 + 28 bytes and its framing) on every record.
///
/// Layout, version 1, 28 bytes, integers little-endian:
///
/// | offset | bytes | field |
/// |---:|---:|---|
/// | 0 | 2 | magic `0x8B 0x4B` |
/// | 2 | 1 | version, `1` |
/// | 3 | 1 | flags: bit 0 = the clock of `intended_ns` (0: the cell's monotonic clock, one host; 1: wall clock, ns since the Unix epoch); bits 1-7 reserved, 0 |
/// | 4 | 8 | producer id: run tag (bits 63-32), shard (31-16), producer index (15-0) |
/// | 12 | 8 | sequence number of the message within its producer, from 0 |
/// | 20 | 8 | intended send time, ns on the clock the flags name |
///
/// Why this shape:
/// - **Magic and version first**, so a consumer tells kbench's messages from anything else on
///   the topic by two bytes: `0x8B` is a UTF-8 continuation byte, so no text value (JSON, CSV,
///   log lines) starts with it, and it is not `0x00`, the Confluent schema-registry framing. A
///   stamp of another version, or with a reserved flag set, is not decoded (it would mean
///   something this build does not know); consumers count such messages as foreign.
/// - **A flags byte** for the clock: today every stamp carries the cell's monotonic clock
///   (producers and consumers in one process); distributed runs (issue 11) stamp wall-clock
///   time and say so here, so a consumer never subtracts times of two different clocks.
/// - **A 64-bit producer id that is unique across runs and shards**: a random 32-bit run tag
///   drawn for each cell (so a stamp from another run, or another cell on an existing topic,
///   is foreign: two runs share a tag with probability 2^-32), the shard (16 bits: the slice of
///   a distributed run, 0 in one process; issue 11 hands every shard the same run tag) and the
///   producer's index in its shard (16 bits: a process holds at most 1000 producers). 64 bits
///   rather than a 128-bit UUID: consumers key their per-producer sequence sets by it, one
///   machine word, and 8 more bytes on every message would buy nothing this id lacks.
/// - **A 64-bit sequence and 64-bit nanoseconds**: no wrap in any run (a wall-clock time in ns
///   needs 61 bits), fixed offsets, so building and reading it is a few stores and loads.
///
/// 28 bytes is the least a `stamp = "value"` message can be; scenarios asking less are refused
/// when they are loaded.
pub mod stamp {
    /// The record header's key in `stamp = "header"` mode.
    pub const HEADER_KEY: &str = "kbench";

    /// The length of a stamp: the smallest value `stamp = "value"` can send.
    pub const STAMP_LEN: usize = 28;
    // Scenarios refuse smaller values with their own copy of the length.
    const _: () = assert!(STAMP_LEN == crate::scenario::StampPlace::MIN_VALUE_SIZE);

    /// The first two bytes of every stamp.
    pub const MAGIC: [u8; 2] = [0x8B, 0x4B];

    /// The layout described in [the module](self).
    pub const VERSION: u8 = 1;

    /// Flags bit 0: `intended_ns` is wall-clock time (ns since the Unix epoch).
    const FLAG_WALL_CLOCK: u8 = 1;

    /// A producer's identity in the stamp: run tag, shard, index.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct ProducerId(u64);

    impl ProducerId {
        pub const fn new(run_tag: u32, shard: u16, index: u16) -> ProducerId {
            ProducerId((run_tag as u64) << 32 | (shard as u64) << 16 | index as u64)
        }

        pub const fn from_u64(id: u64) -> ProducerId {
            ProducerId(id)
        }

        pub const fn as_u64(self) -> u64 {
            self.0
        }

        /// The random tag of the run (cell) the producer belongs to.
        pub const fn run_tag(self) -> u32 {
            (self.0 >> 32) as u32
        }

        /// The shard of a distributed run (0 in one process).
        pub const fn shard(self) -> u16 {
            (self.0 >> 16) as u16
        }

        /// The producer's index within its shard.
        pub const fn index(self) -> u16 {
            self.0 as u16
        }
    }

    /// The clock `intended_ns` is read on.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum StampClock {
        /// The cell's monotonic clock ([`crate::metrics::Clock`]): only a consumer in the
        /// same process can subtract it from its own reading.
        Monotonic,
        /// Wall-clock time, ns since the Unix epoch (distributed runs).
        Wall,
    }

    /// What a stamp says about its message.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Stamp {
        pub producer: ProducerId,
        pub seq: u64,
        pub intended_ns: u64,
        pub clock: StampClock,
    }

    impl Stamp {
        /// The stamp's bytes.
        #[inline]
        pub fn encode(&self) -> [u8; STAMP_LEN] {
            let mut out = [0u8; STAMP_LEN];
            out[0..2].copy_from_slice(&MAGIC);
            out[2] = VERSION;
            out[3] = match self.clock {
                StampClock::Monotonic => 0,
                StampClock::Wall => FLAG_WALL_CLOCK,
            };
            out[4..12].copy_from_slice(&self.producer.0.to_le_bytes());
            out[12..20].copy_from_slice(&self.seq.to_le_bytes());
            out[20..28].copy_from_slice(&self.intended_ns.to_le_bytes());
            out
        }

        /// The stamp at the start of `bytes` (a value, or a header value), or `None` when
        /// `bytes` does not start with a version-1 kbench stamp: too short, another magic
        /// (not kbench's), another version, or a reserved flag set.
        #[inline]
        pub fn decode(bytes: &[u8]) -> Option<Stamp> {
            let b: &[u8; STAMP_LEN] = bytes.get(..STAMP_LEN)?.try_into().ok()?;
            // Magic, version and flags in one comparison: every bit but the clock flag's.
            let head = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            let want = u32::from_le_bytes([MAGIC[0], MAGIC[1], VERSION, 0]);
            let clock_bit = u32::from(FLAG_WALL_CLOCK) << 24;
            if head & !clock_bit != want {
                return None;
            }
            let word = |at: usize| {
                let mut w = [0u8; 8];
                w.copy_from_slice(&b[at..at + 8]);
                u64::from_le_bytes(w)
            };
            Some(Stamp {
                producer: ProducerId(word(4)),
                seq: word(12),
                intended_ns: word(20),
                clock: if head & clock_bit != 0 {
                    StampClock::Wall
                } else {
                    StampClock::Monotonic
                },
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn stamp(producer: ProducerId, seq: u64, intended_ns: u64, clock: StampClock) -> Stamp {
            Stamp {
                producer,
                seq,
                intended_ns,
                clock,
            }
        }

        #[test]
        fn round_trips_including_edge_values() {
            let ids = [
                ProducerId::new(0, 0, 0),
                ProducerId::new(0xdead_beef, 3, 999),
                ProducerId::new(u32::MAX, u16::MAX, u16::MAX),
                ProducerId::from_u64(u64::MAX),
                ProducerId::from_u64(1),
            ];
            for id in ids {
                for (seq, t) in [
                    (0, 0),
                    (1, 9_876_543_210),
                    (u64::MAX, u64::MAX),
                    (u64::MAX, 0),
                ] {
                    for clock in [StampClock::Monotonic, StampClock::Wall] {
                        let s = stamp(id, seq, t, clock);
                        let bytes = s.encode();
                        assert_eq!(Stamp::decode(&bytes), Some(s));
                        // As the first bytes of a longer value.
                        let mut value = bytes.to_vec();
                        value.extend_from_slice(&[0xff; 1000]);
                        assert_eq!(Stamp::decode(&value), Some(s));
                    }
                }
            }
        }

        #[test]
        fn producer_id_fields_are_where_the_layout_says() {
            let id = ProducerId::new(0x0102_0304, 0x0506, 0x0708);
            assert_eq!(id.as_u64(), 0x0102_0304_0506_0708);
            assert_eq!(
                (id.run_tag(), id.shard(), id.index()),
                (0x0102_0304, 0x0506, 0x0708)
            );
            let max = ProducerId::new(u32::MAX, u16::MAX, u16::MAX);
            assert_eq!(max.as_u64(), u64::MAX);
            assert_eq!(
                (max.run_tag(), max.shard(), max.index()),
                (u32::MAX, u16::MAX, u16::MAX)
            );
        }

        #[test]
        fn layout_is_little_endian_in_field_order() {
            let s = stamp(
                ProducerId::from_u64(0x0102),
                0x0304,
                0x0405_0607_0809_0a0b,
                StampClock::Wall,
            );
            let v = s.encode();
            assert_eq!(&v[0..4], &[0x8B, 0x4B, 1, 1]);
            assert_eq!(&v[4..12], &[2, 1, 0, 0, 0, 0, 0, 0]);
            assert_eq!(&v[12..20], &[4, 3, 0, 0, 0, 0, 0, 0]);
            assert_eq!(&v[20..28], &[0x0b, 0x0a, 9, 8, 7, 6, 5, 4]);
            let mono = Stamp {
                clock: StampClock::Monotonic,
                ..s
            };
            assert_eq!(mono.encode()[3], 0);
        }

        #[test]
        fn anything_else_is_not_a_stamp() {
            let good = stamp(ProducerId::new(7, 0, 1), 2, 3, StampClock::Monotonic).encode();
            assert_eq!(Stamp::decode(&good[..STAMP_LEN - 1]), None, "too short");
            assert_eq!(Stamp::decode(&[]), None);
            for (at, byte, why) in [
                (0, 0x00, "magic"),
                (1, b'k', "magic"),
                (2, 0, "version 0"),
                (2, 2, "version 2"),
                (3, 0x02, "reserved flag"),
                (3, 0x80, "reserved flag"),
            ] {
                let mut bad = good;
                bad[at] = byte;
                assert_eq!(Stamp::decode(&bad), None, "{why}: {bad:?}");
            }
            // Text and JSON values (foreign messages) never start with the magic.
            assert_eq!(Stamp::decode(&[b'{'; 64]), None);
            assert_eq!(
                Stamp::decode("ünïcödé text value, long enough".as_bytes()),
                None
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A file with `content` in a fresh temporary directory, removed when the guard drops.
    fn temp_file(content: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("values.txt");
        let mut f = std::fs::File::create(&path).expect("create");
        f.write_all(content).expect("write");
        (dir, path)
    }

    #[test]
    fn fixed_size_values_differ_and_do_not_repeat_within_a_batch() {
        let mut g = PayloadGen::new(&MessageSize::Fixed(1024), 1).unwrap();
        assert_eq!(g.max_size(), 1024);
        assert_eq!(g.mean_size(), 1024.0);
        let first = g.next_payload().to_vec();
        assert_eq!(first.len(), 1024);
        // 1000 values = about 1 MB, one default batch: none equal to the first.
        for _ in 0..1000 {
            let v = g.next_payload();
            assert_eq!(v.len(), 1024);
            assert_ne!(v, &first[..]);
        }
    }

    #[test]
    fn random_values_are_incompressible_looking() {
        let mut g = PayloadGen::new(&MessageSize::Fixed(1 << 16), 2).unwrap();
        let v = g.next_payload();
        let mut counts = [0u32; 256];
        for &b in v {
            counts[b as usize] += 1;
        }
        // 256 expected per byte value; a constant or text payload would be far off.
        assert!(
            counts.iter().all(|&c| (150..=370).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn uniform_sizes_cover_the_range() {
        let mut g = PayloadGen::new(&MessageSize::Uniform { min: 10, max: 20 }, 3).unwrap();
        assert_eq!(g.max_size(), 20);
        assert_eq!(g.mean_size(), 15.0);
        let mut seen = [false; 21];
        let mut total = 0usize;
        for _ in 0..10_000 {
            let n = g.next_payload().len();
            assert!((10..=20).contains(&n));
            seen[n] = true;
            total += n;
        }
        assert!(seen[10..].iter().all(|&s| s));
        assert!((total as f64 / 10_000.0 - 15.0).abs() < 0.2);
    }

    #[test]
    fn the_pool_wraps_without_running_off_its_end() {
        let mut g = PayloadGen::new(&MessageSize::Fixed(3_000_000), 4).unwrap();
        for _ in 0..20 {
            assert_eq!(g.next_payload().len(), 3_000_000);
        }
        let mut z = PayloadGen::new(&MessageSize::Fixed(0), 4).unwrap();
        assert!(z.next_payload().is_empty());
    }

    #[test]
    fn deterministic_given_the_seed_and_reseeded_shares_the_pool() {
        let size = MessageSize::Uniform { min: 1, max: 100 };
        let mut a = PayloadGen::new(&size, 5).unwrap();
        let mut b = PayloadGen::new(&size, 5).unwrap();
        for _ in 0..100 {
            assert_eq!(a.next_payload(), b.next_payload());
        }
        let mut c = a.reseeded(6);
        match (&a.source, &c.source) {
            (Source::Random { pool: p, .. }, Source::Random { pool: q, .. }) => {
                assert!(Arc::ptr_eq(p, q))
            }
            _ => panic!("random sources expected"),
        }
        assert_ne!(a.next_payload().to_vec(), c.next_payload().to_vec());
    }

    #[test]
    fn file_lines_cycle_in_order_without_newlines_or_empty_lines() {
        let (_dir, path) = temp_file(b"alpha\n\nbeta\r\ngamma-delta\n\n");
        let mut g = PayloadGen::new(&MessageSize::FileLines(path), 0).unwrap();
        let got: Vec<Vec<u8>> = (0..7).map(|_| g.next_payload().to_vec()).collect();
        let want: Vec<&[u8]> = vec![
            b"alpha",
            b"beta",
            b"gamma-delta",
            b"alpha",
            b"beta",
            b"gamma-delta",
            b"alpha",
        ];
        assert_eq!(got, want);
        assert_eq!(g.max_size(), 11);
        assert!((g.mean_size() - 20.0 / 3.0).abs() < 1e-12);
        // No trailing newline on the last line.
        let (_dir2, path) = temp_file(b"one\ntwo");
        let mut g = PayloadGen::new(&MessageSize::FileLines(path), 0).unwrap();
        assert_eq!(g.next_payload(), b"one");
        assert_eq!(g.next_payload(), b"two");
    }

    #[test]
    fn file_problems_name_the_path() {
        let missing = PathBuf::from("/nonexistent/kbench/values.txt");
        let err = PayloadGen::new(&MessageSize::FileLines(missing), 0).unwrap_err();
        assert!(matches!(err, PayloadError::Read { .. }));
        assert!(
            err.to_string().contains("/nonexistent/kbench/values.txt"),
            "{err}"
        );

        let (_dir, empty) = temp_file(b"\n\r\n\n");
        let err = PayloadGen::new(&MessageSize::FileLines(empty.clone()), 0).unwrap_err();
        assert!(matches!(err, PayloadError::NoLines { .. }));
        assert!(err.to_string().contains(&*empty.to_string_lossy()), "{err}");
    }

    #[test]
    fn a_device_is_refused_not_read_until_memory_runs_out() {
        let err = PayloadGen::new(&MessageSize::FileLines("/dev/zero".into()), 0).unwrap_err();
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn invalid_sizes_are_errors_not_panics() {
        assert!(matches!(
            PayloadGen::new(&MessageSize::Uniform { min: 5, max: 4 }, 0),
            Err(PayloadError::EmptyRange { min: 5, max: 4 })
        ));
        assert!(matches!(
            PayloadGen::new(&MessageSize::Fixed(usize::MAX), 0),
            Err(PayloadError::TooLarge { .. })
        ));
    }

    #[test]
    fn stamped_values_keep_their_size_and_bytes_after_the_stamp() {
        use stamp::{ProducerId, Stamp, StampClock, STAMP_LEN};
        let st = |seq| Stamp {
            producer: ProducerId::new(9, 0, 2),
            seq,
            intended_ns: 1_000 + seq,
            clock: StampClock::Monotonic,
        };
        let mut plain = PayloadGen::new(&MessageSize::Uniform { min: 28, max: 2000 }, 11).unwrap();
        let mut stamped =
            PayloadGen::new(&MessageSize::Uniform { min: 28, max: 2000 }, 11).unwrap();
        assert_eq!(stamped.min_size(), 28);
        for seq in 0..2000 {
            let want = plain.next_payload().to_vec();
            let got = stamped.next_stamped(&st(seq).encode());
            assert_eq!(got.len(), want.len(), "exactly the generated size");
            assert_eq!(&got[STAMP_LEN..], &want[STAMP_LEN..], "the rest untouched");
            assert_eq!(Stamp::decode(got), Some(st(seq)));
        }
        // A file's lines: the stamp replaces each line's first bytes, nothing is appended.
        let line = "x".repeat(40);
        let (_dir, path) = temp_file(format!("{line}\n{}\n", "y".repeat(30)).as_bytes());
        let mut g = PayloadGen::new(&MessageSize::FileLines(path), 0).unwrap();
        assert_eq!((g.min_size(), g.max_size()), (30, 40));
        let v = g.next_stamped(&st(0).encode()).to_vec();
        assert_eq!(v.len(), 40);
        assert_eq!(&v[STAMP_LEN..], &line.as_bytes()[STAMP_LEN..]);
        assert_eq!(g.next_stamped(&st(1).encode()).len(), 30);
        // Shorter than the stamp (refused by scenarios): truncated, never a panic.
        let mut tiny = PayloadGen::new(&MessageSize::Fixed(5), 0).unwrap();
        assert_eq!(tiny.next_stamped(&st(0).encode()), &st(0).encode()[..5]);
    }
}
