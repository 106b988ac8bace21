//! Partition choice: the key hashes of the real clients, bit for bit, and the partitioners that
//! kbench applies itself.
//!
//! The hash functions exist so that kbench can predict where a keyed message lands (hot
//! partitions under a zipf key distribution, per-partition ordering checks) without asking the
//! client. They must agree exactly with:
//! - the Apache Kafka Java producer (`Utils.murmur2`, `BuiltInPartitioner.partitionForKey`),
//!   which librdkafka's `murmur2` / `murmur2_random` partitioners reproduce;
//! - librdkafka's `consistent` / `consistent_random` (CRC-32 of the key);
//! - librdkafka's `fnv1a` / `fnv1a_random` (32-bit FNV-1a with Sarama's absolute value).
//!
//! A message without a key never reaches these hashes in librdkafka: it goes to the sticky
//! partitioner whatever the `partitioner` setting (see [`librdkafka_partition`]).

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::scenario::Partitioner;

/// Seed of Kafka's murmur2 (`Utils.murmur2` and librdkafka's `rd_murmur2`).
const MURMUR2_SEED: u32 = 0x9747_b28c;
const MURMUR2_M: u32 = 0x5bd1_e995;
const MURMUR2_R: u32 = 24;

/// MurmurHash2 (32-bit) exactly as `org.apache.kafka.common.utils.Utils.murmur2`, returned as
/// the Java `int` it produces (so it may be negative).
///
/// Little-endian 4-byte blocks, then the 1-3 byte tail, then the final avalanche; all shifts
/// are logical (`>>>` in Java), which is why the arithmetic is done on `u32`.
pub fn murmur2(data: &[u8]) -> i32 {
    // Java uses the int length; keys longer than 2 GiB cannot exist in Kafka, and the
    // truncation matches what a Java array length would give for anything that can.
    let mut h: u32 = MURMUR2_SEED ^ (data.len() as u32);

    let mut blocks = data.chunks_exact(4);
    for block in &mut blocks {
        let mut k = u32::from_le_bytes([block[0], block[1], block[2], block[3]]);
        k = k.wrapping_mul(MURMUR2_M);
        k ^= k >> MURMUR2_R;
        k = k.wrapping_mul(MURMUR2_M);
        h = h.wrapping_mul(MURMUR2_M);
        h ^= k;
    }

    let tail = blocks.remainder();
    // The Java switch falls through from case 3 to case 1; spelled out here.
    if tail.len() >= 3 {
        h ^= u32::from(tail[2]) << 16;
    }
    if tail.len() >= 2 {
        h ^= u32::from(tail[1]) << 8;
    }
    if !tail.is_empty() {
        h ^= u32::from(tail[0]);
        h = h.wrapping_mul(MURMUR2_M);
    }

    h ^= h >> 13;
    h = h.wrapping_mul(MURMUR2_M);
    h ^= h >> 15;
    h as i32
}

/// `Utils.toPositive`: clears the sign bit. Not `abs`: `i32::MIN` maps to 0, and a negative
/// hash maps to `hash + 2^31`, which is what both the Java client and librdkafka do.
#[inline]
pub fn to_positive(n: i32) -> i32 {
    n & 0x7fff_ffff
}

/// The partition of a keyed record in the Java producer's default partitioner
/// (`BuiltInPartitioner.partitionForKey`) and in librdkafka's `murmur2` / `murmur2_random`:
/// `toPositive(murmur2(key)) % partitions`.
///
/// Returns 0 when `partitions < 1` (a topic without partitions has no answer; never panics).
pub fn java_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions < 1 {
        return 0;
    }
    to_positive(murmur2(key)) % partitions
}

/// CRC-32 (IEEE 802.3: reflected polynomial 0xEDB88320, init and final xor 0xFFFFFFFF), the
/// checksum of zlib's `crc32()` and of librdkafka's `rd_crc32`, which may use either.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = CRC32_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// Byte-at-a-time table for [`crc32`], built at compile time.
const CRC32_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
};

/// librdkafka's `consistent` partitioner: `rd_crc32(key) % partition_cnt`.
///
/// The C expression mixes a `uint32_t` hash with an `int32_t` count, so the count is converted
/// to unsigned and the remainder is unsigned: no sign trick is involved. An empty key hashes to
/// 0 and so always lands on partition 0. Returns 0 when `partitions < 1`.
pub fn crc32_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions < 1 {
        return 0;
    }
    (crc32(key) % partitions as u32) as i32
}

/// librdkafka's `rd_fnv1a`: 32-bit FNV-1a, then the absolute value of the hash read as a signed
/// `int32_t`, to match Sarama's default hash partitioner.
///
/// `i32::MIN` has no positive counterpart: C's `-h` wraps (in practice) to itself, read back as
/// `2^31` unsigned; `wrapping_abs` reproduces that.
pub fn fnv1a(data: &[u8]) -> u32 {
    const PRIME: u32 = 0x0100_0193;
    const OFFSET: u32 = 0x811c_9dc5;
    let mut h = OFFSET;
    for &byte in data {
        h ^= u32::from(byte);
        h = h.wrapping_mul(PRIME);
    }
    (h as i32).wrapping_abs() as u32
}

/// librdkafka's `fnv1a` partitioner: `rd_fnv1a(key) % partition_cnt`, an unsigned remainder
/// of the already non-negative hash. Returns 0 when `partitions < 1`.
pub fn fnv1a_partition(key: &[u8], partitions: i32) -> i32 {
    if partitions < 1 {
        return 0;
    }
    (fnv1a(key) % partitions as u32) as i32
}

/// The partition librdkafka will choose for a message, when that is determined by the key.
///
/// `None` when the choice is not a function of the key: no key (librdkafka then uses its sticky
/// partitioner for every hash partitioner), an empty key under `consistent_random` (also
/// sticky), and the partitioners kbench applies itself ([`KbenchChooser`]). With `Some`
/// partitions below 1 the answer is 0.
pub fn librdkafka_partition(
    partitioner: &Partitioner,
    key: Option<&[u8]>,
    partitions: i32,
) -> Option<i32> {
    let key = key?;
    match partitioner {
        Partitioner::Murmur2 | Partitioner::Murmur2Random => Some(java_partition(key, partitions)),
        Partitioner::Consistent => Some(crc32_partition(key, partitions)),
        // librdkafka treats an empty key like a missing one only for consistent_random.
        Partitioner::ConsistentRandom if !key.is_empty() => Some(crc32_partition(key, partitions)),
        Partitioner::Fnv1a | Partitioner::Fnv1aRandom => Some(fnv1a_partition(key, partitions)),
        Partitioner::ConsistentRandom
        | Partitioner::Sticky
        | Partitioner::ExplicitPerProducer
        | Partitioner::ExplicitByIndex
        | Partitioner::RoundRobin
        | Partitioner::Random
        | Partitioner::Chosen(_) => None,
    }
}

/// The partition of each message for the partitioners kbench applies itself (those whose
/// [`Partitioner::librdkafka_name`] is `None`); for the others it answers `None`, meaning "leave
/// the partition unset and let librdkafka choose".
///
/// One chooser per producer: it holds that producer's round-robin position and random state,
/// so no state is shared between producers.
#[derive(Debug, Clone)]
pub struct KbenchChooser {
    rule: Rule,
}

#[derive(Debug, Clone)]
enum Rule {
    /// librdkafka decides (or there is nothing to decide: no partitions).
    Client,
    /// Always this partition.
    Fixed(i32),
    /// `seq mod partitions`.
    BySeq(u64),
    /// The next partition after the last one, wrapping.
    RoundRobin { next: i32, partitions: i32 },
    /// Uniform over `0..partitions`.
    Random { rng: SmallRng, partitions: i32 },
    /// The chosen partitions in turn (never empty).
    Chosen { list: Vec<i32>, next: usize },
}

impl KbenchChooser {
    /// A chooser for producer number `producer_index` (from 0) of a fleet writing to a topic of
    /// `partitions` partitions. `seed` feeds the `Random` partitioner; give each producer its
    /// own seed.
    ///
    /// With `partitions < 1` it always answers `None`: there is no valid partition to name.
    pub fn new(p: &Partitioner, producer_index: usize, partitions: i32, seed: u64) -> Self {
        let rule = if partitions < 1 {
            Rule::Client
        } else {
            let start = (producer_index as u64 % partitions as u64) as i32;
            match p {
                Partitioner::ExplicitPerProducer => Rule::Fixed(start),
                Partitioner::ExplicitByIndex => Rule::BySeq(partitions as u64),
                // Each producer starts its cycle at its own partition, so that a fleet of
                // producers spreads over the partitions from the first message on instead of
                // all hitting partition 0 together.
                Partitioner::RoundRobin => Rule::RoundRobin {
                    next: start,
                    partitions,
                },
                Partitioner::Random => Rule::Random {
                    rng: SmallRng::seed_from_u64(seed),
                    partitions,
                },
                // The scenario checks the list against the topic before any load; a partition
                // missing all the same is left out here, never sent to (librdkafka would fail
                // every such send with an unknown partition).
                Partitioner::Chosen(list) => {
                    let list: Vec<i32> = list.iter().copied().filter(|&c| c < partitions).collect();
                    if list.is_empty() {
                        Rule::Client
                    } else {
                        Rule::Chosen {
                            next: producer_index % list.len(),
                            list,
                        }
                    }
                }
                Partitioner::Murmur2
                | Partitioner::Murmur2Random
                | Partitioner::Consistent
                | Partitioner::ConsistentRandom
                | Partitioner::Fnv1a
                | Partitioner::Fnv1aRandom
                | Partitioner::Sticky => Rule::Client,
            }
        };
        KbenchChooser { rule }
    }

    /// The partition for the producer's message with sequence number `seq`, or `None` to let
    /// librdkafka choose. Only `ExplicitByIndex` looks at `seq`; the others depend on how many
    /// times `next` was called.
    #[inline]
    pub fn next(&mut self, seq: u64) -> Option<i32> {
        match &mut self.rule {
            Rule::Client => None,
            Rule::Fixed(p) => Some(*p),
            Rule::BySeq(partitions) => Some((seq % *partitions) as i32),
            Rule::RoundRobin { next, partitions } => {
                let p = *next;
                *next = if p + 1 >= *partitions { 0 } else { p + 1 };
                Some(p)
            }
            Rule::Random { rng, partitions } => Some(rng.gen_range(0..*partitions)),
            Rule::Chosen { list, next } => {
                let p = list[*next];
                *next = if *next + 1 >= list.len() {
                    0
                } else {
                    *next + 1
                };
                Some(p)
            }
        }
    }

    /// Whether kbench sets the partition itself (`next` never answers `None`).
    pub fn is_explicit(&self) -> bool {
        !matches!(self.rule, Rule::Client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `UtilsTest.testMurmur2` in apache/kafka (clients/src/test/java/org/apache/kafka/common/
    /// utils/UtilsTest.java). Lengths 2, 3, 6, 24, 26, 48 cover every tail length.
    const KAFKA_UTILS_TEST: [(&str, i32); 6] = [
        ("21", -973_932_308),
        ("foobar", -790_332_482),
        ("a-little-bit-long-string", -985_981_536),
        ("a-little-bit-longer-string", -1_486_304_829),
        (
            "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
            -58_897_971,
        ),
        ("abc", 479_470_107),
    ];

    /// Printed by `harness/tests/java/Murmur2Vectors.java` run against kafka-clients 4.3.0:
    /// (key, Utils.murmur2, BuiltInPartitioner.partitionForKey(key, 6), (key, 24)).
    const JAVA_CLIENT_4_3_0: [(&str, i32, i32, i32); 22] = [
        ("key-0", 29_210_041, 1, 1),
        ("key-3", -1_839_136_101, 5, 11),
        ("key-5", -1_698_326_880, 2, 8),
        ("key-6", -758_453_868, 2, 20),
        ("key-7", 713_419_675, 1, 19),
        ("key-10", 1_368_331_310, 2, 14),
        ("key-53", 1_396_115_892, 0, 12),
        ("key-100", -1_916_771_722, 4, 22),
        ("key-106", -1_830_662_590, 4, 10),
        ("key-159", 1_335_052_757, 5, 5),
        ("key-212", -1_491_900_831, 5, 17),
        ("key-265", 589_586_772, 0, 12),
        ("key-318", -1_537_404_796, 4, 4),
        ("key-424", 747_153_911, 5, 23),
        ("key-530", -1_858_138_084, 4, 4),
        ("key-583", -1_571_474_912, 0, 0),
        ("key-689", -1_034_064_076, 4, 4),
        ("key-742", 824_166_862, 4, 22),
        ("key-848", 1_091_690_655, 3, 15),
        ("key-901", -1_280_854_457, 3, 15),
        ("key-954", -440_438_355, 5, 5),
        ("key-999", -1_349_681_240, 0, 0),
    ];

    /// librdkafka's `unittest_murmur2` (src/rdmurmur2.c): the Java results as int32 bit
    /// patterns. "1234"[n..] and the "PreAmble..." suffixes exercise every tail length.
    const LIBRDKAFKA_MURMUR2: [(&str, u32); 11] = [
        ("kafka", 0xd067_cf64),
        ("giberish123456789", 0x8f55_2b0c),
        ("1234", 0x9fc9_7b14),
        ("234", 0xe7c0_09ca),
        ("34", 0x8739_30da),
        ("4", 0x5a4b_5ca1),
        ("PreAmbleWillBeRemoved,ThePrePartThatIs", 0x7842_4f1c),
        ("reAmbleWillBeRemoved,ThePrePartThatIs", 0x4a62_b377),
        ("eAmbleWillBeRemoved,ThePrePartThatIs", 0xe0e4_e09e),
        ("AmbleWillBeRemoved,ThePrePartThatIs", 0x62b8_b43f),
        ("", 0x106e_08d9),
    ];

    /// librdkafka's `unittest_fnv1a` (src/rdfnv1a.c), values from Go's hash/fnv plus abs.
    const LIBRDKAFKA_FNV1A: [(&str, u32); 11] = [
        ("kafka", 0x0d33_c4e1),
        ("giberish123456789", 0x77a5_8295),
        ("1234", 0x023b_dd03),
        ("234", 0x2dea_3cd2),
        ("34", 0x740f_a83e),
        ("4", 0x310c_a263),
        ("PreAmbleWillBeRemoved,ThePrePartThatIs", 0x65cb_d69c),
        ("reAmbleWillBeRemoved,ThePrePartThatIs", 0x6e49_c79a),
        ("eAmbleWillBeRemoved,ThePrePartThatIs", 0x69ee_d356),
        ("AmbleWillBeRemoved,ThePrePartThatIs", 0x6abc_c023),
        ("", 0x7ee3_623b),
    ];

    /// librdkafka 2.12.1 (the version rdkafka-sys vendors) asked directly: its public
    /// `rd_kafka_msg_partitioner_{murmur2,consistent,fnv1a}` on these keys, from a small C
    /// program linked against the built library.
    /// (key, partitions, murmur2, consistent, fnv1a)
    const LIBRDKAFKA_2_12_1: [(&str, i32, i32, i32, i32); 13] = [
        ("key-0", 7, 0, 6, 6),
        ("key-0", 1000, 41, 940, 857),
        ("key-1", 7, 5, 0, 1),
        ("key-1", 1000, 640, 538, 238),
        ("key-42", 7, 3, 0, 5),
        ("key-42", 1000, 127, 989, 309),
        ("key-777", 7, 5, 5, 4),
        ("key-777", 1000, 259, 387, 6),
        ("key-1999", 7, 0, 0, 5),
        ("key-1999", 1000, 354, 587, 241),
        ("lllllllllllll", 1000, 67, 848, 21),
        ("", 7, 2, 0, 2),
        ("", 1000, 681, 0, 35),
    ];

    #[test]
    fn partitions_match_librdkafka() {
        for (key, n, murmur, consistent, fnv) in LIBRDKAFKA_2_12_1 {
            let k = key.as_bytes();
            assert_eq!(java_partition(k, n), murmur, "murmur2 {key:?} over {n}");
            assert_eq!(
                crc32_partition(k, n),
                consistent,
                "consistent {key:?} over {n}"
            );
            assert_eq!(fnv1a_partition(k, n), fnv, "fnv1a {key:?} over {n}");
        }
    }

    #[test]
    fn murmur2_matches_kafka_utils_test() {
        for (key, want) in KAFKA_UTILS_TEST {
            assert_eq!(murmur2(key.as_bytes()), want, "murmur2({key:?})");
        }
    }

    #[test]
    fn murmur2_and_partition_match_the_java_client() {
        for (key, hash, p6, p24) in JAVA_CLIENT_4_3_0 {
            assert_eq!(murmur2(key.as_bytes()), hash, "murmur2({key:?})");
            assert_eq!(java_partition(key.as_bytes(), 6), p6, "{key:?} over 6");
            assert_eq!(java_partition(key.as_bytes(), 24), p24, "{key:?} over 24");
        }
    }

    #[test]
    fn murmur2_matches_librdkafka_unit_test() {
        for (key, want) in LIBRDKAFKA_MURMUR2 {
            assert_eq!(murmur2(key.as_bytes()) as u32, want, "murmur2({key:?})");
        }
    }

    #[test]
    fn fnv1a_matches_librdkafka_unit_test() {
        for (key, want) in LIBRDKAFKA_FNV1A {
            assert_eq!(fnv1a(key.as_bytes()), want, "fnv1a({key:?})");
        }
    }

    #[test]
    fn crc32_matches_the_standard_check_values() {
        // The CRC catalogue's check value for CRC-32/ISO-HDLC, and zlib's crc32 of "kafka"
        // (also java.util.zip.CRC32).
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414f_a339
        );
    }

    #[test]
    fn to_positive_clears_only_the_sign_bit() {
        assert_eq!(to_positive(i32::MIN), 0);
        assert_eq!(to_positive(-1), i32::MAX);
        assert_eq!(
            i64::from(to_positive(-973_932_308)),
            -973_932_308 + (1i64 << 31)
        );
        assert_eq!(to_positive(42), 42);
    }

    #[test]
    fn fnv1a_of_int_min_keeps_the_c_wraparound() {
        // (i32::MIN).wrapping_abs() read as unsigned is 2^31, like librdkafka's -h.
        assert_eq!((i32::MIN).wrapping_abs() as u32, 1 << 31);
        assert_eq!(fnv1a_partition(b"kafka", 7), (0x0d33_c4e1u32 % 7) as i32);
    }

    #[test]
    fn partitions_are_in_range_and_never_panic() {
        for i in 0..2000u32 {
            let key = format!("key-{i}");
            for n in [1, 2, 3, 6, 7, 24, 1000, i32::MAX] {
                for p in [
                    java_partition(key.as_bytes(), n),
                    crc32_partition(key.as_bytes(), n),
                    fnv1a_partition(key.as_bytes(), n),
                ] {
                    assert!((0..n).contains(&p), "{key} over {n}: {p}");
                }
            }
        }
        for n in [0, -1, i32::MIN] {
            assert_eq!(java_partition(b"k", n), 0);
            assert_eq!(crc32_partition(b"k", n), 0);
            assert_eq!(fnv1a_partition(b"k", n), 0);
        }
    }

    #[test]
    fn librdkafka_partition_follows_the_null_and_empty_key_rules() {
        let k = Some(&b"key-100"[..]);
        assert_eq!(librdkafka_partition(&Partitioner::Murmur2, k, 6), Some(4));
        assert_eq!(
            librdkafka_partition(&Partitioner::Murmur2Random, k, 24),
            Some(22)
        );
        assert_eq!(
            librdkafka_partition(&Partitioner::Fnv1a, k, 6),
            Some(fnv1a_partition(b"key-100", 6))
        );
        assert_eq!(
            librdkafka_partition(&Partitioner::Consistent, k, 6),
            Some(crc32_partition(b"key-100", 6))
        );
        // Null keys: sticky, whatever the partitioner.
        for p in Partitioner::ALL {
            assert_eq!(librdkafka_partition(&p, None, 6), None, "{p:?}");
        }
        // Empty keys: hashed, except under consistent_random.
        assert_eq!(
            librdkafka_partition(&Partitioner::Consistent, Some(b""), 6),
            Some(0)
        );
        assert_eq!(
            librdkafka_partition(&Partitioner::ConsistentRandom, Some(b""), 6),
            None
        );
        assert_eq!(
            librdkafka_partition(&Partitioner::Murmur2, Some(b""), 6),
            Some(to_positive(0x106e_08d9) % 6)
        );
        assert_eq!(librdkafka_partition(&Partitioner::Sticky, k, 6), None);
        assert_eq!(librdkafka_partition(&Partitioner::Random, k, 6), None);
    }

    #[test]
    fn chooser_leaves_client_partitioners_to_librdkafka() {
        for p in Partitioner::ALL {
            let mut c = KbenchChooser::new(&p, 3, 6, 1);
            assert_eq!(c.is_explicit(), p.librdkafka_name().is_none(), "{p:?}");
            assert_eq!(c.next(0).is_some(), p.librdkafka_name().is_none(), "{p:?}");
        }
    }

    #[test]
    fn chooser_explicit_per_producer_and_by_index() {
        let mut c = KbenchChooser::new(&Partitioner::ExplicitPerProducer, 7, 6, 0);
        assert!((0..10).all(|seq| c.next(seq) == Some(1)));
        let mut c = KbenchChooser::new(&Partitioner::ExplicitByIndex, 7, 6, 0);
        let got: Vec<_> = (0..8).map(|seq| c.next(seq).unwrap_or(-1)).collect();
        assert_eq!(got, [0, 1, 2, 3, 4, 5, 0, 1]);
        assert_eq!(c.next(u64::MAX), Some((u64::MAX % 6) as i32));
    }

    #[test]
    fn chooser_round_robin_cycles_from_the_producer_offset() {
        let mut c = KbenchChooser::new(&Partitioner::RoundRobin, 4, 6, 0);
        let got: Vec<_> = (0..8).map(|seq| c.next(seq).unwrap_or(-1)).collect();
        assert_eq!(got, [4, 5, 0, 1, 2, 3, 4, 5]);
        let mut one = KbenchChooser::new(&Partitioner::RoundRobin, 0, 1, 0);
        assert!((0..5).all(|seq| one.next(seq) == Some(0)));
    }

    #[test]
    fn chooser_random_is_uniform_and_deterministic() {
        let mut a = KbenchChooser::new(&Partitioner::Random, 0, 6, 42);
        let mut b = KbenchChooser::new(&Partitioner::Random, 0, 6, 42);
        let mut counts = [0u32; 6];
        for seq in 0..60_000 {
            let p = a.next(seq).unwrap_or(-1);
            assert_eq!(Some(p), b.next(seq));
            counts[p as usize] += 1;
        }
        // 10_000 expected each; sd ~91, so +-500 is over 5 sd.
        assert!(
            counts.iter().all(|&c| (9_500..=10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn chooser_chosen_cycles_the_list_from_the_producer_offset() {
        let mut one = KbenchChooser::new(&Partitioner::Chosen(vec![3]), 5, 6, 0);
        assert!((0..10).all(|seq| one.next(seq) == Some(3)));
        assert!(one.is_explicit());
        let mut two = KbenchChooser::new(&Partitioner::Chosen(vec![0, 2]), 1, 6, 0);
        let got: Vec<_> = (0..5).map(|seq| two.next(seq).unwrap_or(-1)).collect();
        assert_eq!(got, [2, 0, 2, 0, 2]);
        // A partition the topic lacks is never named (the scenario refuses it before).
        let mut gone = KbenchChooser::new(&Partitioner::Chosen(vec![1, 7]), 0, 6, 0);
        assert!((0..4).all(|seq| gone.next(seq) == Some(1)));
        assert!(!KbenchChooser::new(&Partitioner::Chosen(vec![9]), 0, 6, 0).is_explicit());
    }

    #[test]
    fn chooser_without_partitions_answers_none() {
        for p in Partitioner::ALL {
            let mut c = KbenchChooser::new(&p, 0, 0, 0);
            assert_eq!(c.next(0), None, "{p:?}");
            assert!(!c.is_explicit());
        }
    }
}
