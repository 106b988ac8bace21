//! Message values, and the header kbench puts on every message.
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
        };
        Ok(PayloadGen { source, rng })
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
        PayloadGen { source, rng }
    }

    /// The value of the next message.
    #[inline]
    pub fn next_payload(&mut self) -> &[u8] {
        match &mut self.source {
            Source::Random {
                pool,
                min,
                max,
                pos,
            } => {
                let len = if min == max {
                    *min
                } else {
                    self.rng.gen_range(*min..=*max)
                };
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
    if max > MAX_VALUE_SIZE {
        return Err(PayloadError::TooLarge { size: max });
    }
    let total: usize = spans.iter().map(|(s, e)| e - s).sum();
    let mean = total as f64 / spans.len() as f64;
    Ok(Source::Lines {
        data: data.into(),
        spans: spans.into(),
        next: 0,
        max,
        mean,
    })
}

/// The record header kbench puts on every message, so that a consumer can tell which producer
/// sent it, its place in that producer's sequence (loss, duplicates, reordering) and when it was
/// meant to be sent (end-to-end latency).
///
/// The value is 24 bytes, little-endian: `[producer_id u64][seq u64][intended_ns u64]`. A fixed
/// binary layout costs nothing to build or parse on the hot path, unlike text.
pub mod header {
    /// The header's key.
    pub const HEADER_KEY: &str = "kbench";

    /// The length of the header's value.
    pub const HEADER_LEN: usize = 24;

    /// The header value for message `seq` of producer `producer_id`, meant to be sent at
    /// `intended_ns` nanoseconds on a clock the consumers share (same host, same epoch).
    #[inline]
    pub fn encode(producer_id: u64, seq: u64, intended_ns: u64) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..8].copy_from_slice(&producer_id.to_le_bytes());
        out[8..16].copy_from_slice(&seq.to_le_bytes());
        out[16..24].copy_from_slice(&intended_ns.to_le_bytes());
        out
    }

    /// `(producer_id, seq, intended_ns)` from a header value, or `None` when it is not exactly
    /// [`HEADER_LEN`] bytes (not a kbench header, or another version of it).
    #[inline]
    pub fn decode(value: &[u8]) -> Option<(u64, u64, u64)> {
        let value: &[u8; HEADER_LEN] = value.try_into().ok()?;
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&value[i * 8..i * 8 + 8]);
            u64::from_le_bytes(b)
        };
        Some((word(0), word(1), word(2)))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips() {
            for (p, s, t) in [
                (0, 0, 0),
                (7, 123_456, 9_876_543_210),
                (u64::MAX, 1, u64::MAX),
            ] {
                assert_eq!(decode(&encode(p, s, t)), Some((p, s, t)));
            }
        }

        #[test]
        fn layout_is_little_endian_in_field_order() {
            let v = encode(1, 0x0203, 0x0405_0607_0809_0a0b);
            assert_eq!(&v[0..8], &[1, 0, 0, 0, 0, 0, 0, 0]);
            assert_eq!(&v[8..16], &[3, 2, 0, 0, 0, 0, 0, 0]);
            assert_eq!(&v[16..24], &[0x0b, 0x0a, 9, 8, 7, 6, 5, 4]);
        }

        #[test]
        fn wrong_lengths_are_rejected() {
            let v = encode(1, 2, 3);
            assert_eq!(decode(&v[..23]), None);
            assert_eq!(decode(&[0u8; 25]), None);
            assert_eq!(decode(&[]), None);
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
}
