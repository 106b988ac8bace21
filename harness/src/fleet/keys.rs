//! Message keys: none, one fixed key, or `key-<i>` drawn uniformly or from a zipf distribution.
//!
//! Keys decide partitions under the hash partitioners, so a skewed (zipf) key distribution is
//! how a scenario shows hot partitions. Sampling is on the per-message hot path: the key
//! strings are built once, and a zipf key costs one table look-up (an alias table, up to
//! [`PRECOMPUTE_MAX_KEYS`] keys) or a few `ln`/`exp` (rejection-inversion, above it).

use std::sync::Arc;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::scenario::KeySpec;

/// Up to this many distinct keys the strings (and the zipf alias table) are built once at
/// start, about 20 bytes per key; above it each key is formatted into a reused buffer and zipf
/// keys are drawn by rejection-inversion, which needs no memory per key.
pub const PRECOMPUTE_MAX_KEYS: u64 = 1_000_000;

/// A key specification that cannot be sampled.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum KeyError {
    #[error("keys: a key distribution needs at least one key (count = 0)")]
    NoKeys,
    #[error("keys: the zipf exponent must be a finite number above 0, not {0}")]
    BadExponent(f64),
}

/// The name of key number `index`: `key-<index>`. Key 0 is the hottest under zipf.
pub fn key_name(index: u64) -> String {
    format!("key-{index}")
}

/// Draws the key of each message. One per producer (it holds the producer's random state);
/// [`KeyGen::reseeded`] makes another that shares the precomputed keys.
#[derive(Debug, Clone)]
pub struct KeyGen {
    dist: Dist,
    /// Precomputed `key-<i>` strings, shared between the generators of a fleet.
    table: Option<Arc<KeyTable>>,
    /// The fixed key, or the formatting buffer when the keys are not precomputed.
    buf: Vec<u8>,
    rng: SmallRng,
}

#[derive(Debug, Clone)]
enum Dist {
    None,
    Fixed,
    Uniform {
        count: u64,
    },
    /// Small key spaces: O(1) draws from a table (shared between a fleet's generators).
    ZipfAlias(Arc<AliasTable>),
    /// Any key space, no table.
    Zipf(Zipf),
}

impl KeyGen {
    /// A generator for `spec`, deterministic given `seed`.
    pub fn new(spec: &KeySpec, seed: u64) -> Result<Self, KeyError> {
        let (dist, count) = match spec {
            KeySpec::None => (Dist::None, 0),
            KeySpec::Fixed(_) => (Dist::Fixed, 0),
            KeySpec::Uniform { count } => (Dist::Uniform { count: *count }, *count),
            KeySpec::Zipf { count, exponent } => {
                if *count == 0 {
                    return Err(KeyError::NoKeys);
                }
                let zipf = Zipf::new(*count, *exponent)?;
                let dist = if *count <= PRECOMPUTE_MAX_KEYS {
                    Dist::ZipfAlias(Arc::new(AliasTable::zipf(*count as usize, *exponent)))
                } else {
                    Dist::Zipf(zipf)
                };
                (dist, *count)
            }
        };
        if matches!(dist, Dist::Uniform { .. }) && count == 0 {
            return Err(KeyError::NoKeys);
        }
        let table =
            (count > 0 && count <= PRECOMPUTE_MAX_KEYS).then(|| Arc::new(KeyTable::new(count)));
        let buf = match spec {
            KeySpec::Fixed(key) => key.as_bytes().to_vec(),
            _ => Vec::with_capacity(24),
        };
        Ok(KeyGen {
            dist,
            table,
            buf,
            rng: SmallRng::seed_from_u64(seed),
        })
    }

    /// Another generator for the same keys with its own random state: for the next producer
    /// of a fleet, without building the key table again.
    pub fn reseeded(&self, seed: u64) -> Self {
        KeyGen {
            rng: SmallRng::seed_from_u64(seed),
            ..self.clone()
        }
    }

    /// The key of the next message: `None` for null keys.
    #[inline]
    pub fn next_key(&mut self) -> Option<&[u8]> {
        self.next_indexed().map(|(_, key)| key)
    }

    /// The next key with its index (`key-<index>`; 0 for a fixed key), for callers that count
    /// per key. `None` for null keys.
    #[inline]
    pub fn next_indexed(&mut self) -> Option<(u64, &[u8])> {
        let index = self.key_index()?;
        let key = match (&self.dist, &self.table) {
            (Dist::Fixed, _) => &self.buf[..],
            (_, Some(table)) => table.get(index),
            (_, None) => {
                format_key(&mut self.buf, index);
                &self.buf[..]
            }
        };
        Some((index, key))
    }

    /// Draws the index of the next key without building its bytes: `None` for null keys, 0
    /// for a fixed key. Advances the random state like [`KeyGen::next_key`].
    #[inline]
    pub fn key_index(&mut self) -> Option<u64> {
        match &self.dist {
            Dist::None => None,
            Dist::Fixed => Some(0),
            Dist::Uniform { count } => Some(self.rng.gen_range(0..*count)),
            Dist::ZipfAlias(t) => Some(t.sample(&mut self.rng)),
            Dist::Zipf(z) => Some(z.sample(&mut self.rng)),
        }
    }

    /// How many distinct keys this generator can produce (0 for null keys, 1 for a fixed key).
    pub fn distinct_keys(&self) -> u64 {
        match &self.dist {
            Dist::None => 0,
            Dist::Fixed => 1,
            Dist::Uniform { count } => *count,
            Dist::ZipfAlias(t) => t.entries.len() as u64,
            Dist::Zipf(z) => z.count,
        }
    }
}

/// All `key-<i>` strings in one allocation, so that a key is one slice of a contiguous buffer
/// (better for the cache than a `Vec` per key, and one allocation instead of a million).
#[derive(Debug)]
struct KeyTable {
    bytes: Vec<u8>,
    /// `ends[i]` is where key `i` ends; it starts where key `i - 1` ends.
    ends: Vec<u32>,
}

impl KeyTable {
    fn new(count: u64) -> Self {
        // "key-" + at most 7 digits for count <= 1e6.
        let mut bytes = Vec::with_capacity(count as usize * 10);
        let mut ends = Vec::with_capacity(count as usize);
        let mut tmp = Vec::with_capacity(24);
        for i in 0..count {
            format_key(&mut tmp, i);
            bytes.extend_from_slice(&tmp);
            ends.push(bytes.len() as u32);
        }
        KeyTable { bytes, ends }
    }

    #[inline]
    fn get(&self, index: u64) -> &[u8] {
        let i = index as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }
}

/// Writes `key-<index>` into `buf` without going through `fmt` (this runs per message when
/// the keys are not precomputed).
#[inline]
fn format_key(buf: &mut Vec<u8>, mut index: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (index % 10) as u8;
        index /= 10;
        if index == 0 {
            break;
        }
    }
    buf.clear();
    buf.extend_from_slice(b"key-");
    buf.extend_from_slice(&digits[at..]);
}

/// A discrete distribution over `0..n` sampled in O(1) by Walker's alias method (Vose's
/// construction): pick a column uniformly, then keep it or take its alias by one coin flip.
/// Two random numbers and one 8-byte load per draw, against a handful of `ln`/`exp` for
/// rejection-inversion.
#[derive(Debug)]
struct AliasTable {
    /// (keep threshold as a fraction of 2^32, alias) per column.
    entries: Vec<(u32, u32)>,
}

impl AliasTable {
    /// The table for zipf over `n >= 1` keys with exponent `s`: weight of index `i` is
    /// `(i + 1)^-s`.
    fn zipf(n: usize, s: f64) -> Self {
        AliasTable::new((1..=n).map(|k| (k as f64).powf(-s)).collect())
    }

    /// Vose's construction from non-negative weights with a positive sum; `n <= u32::MAX`.
    fn new(weights: Vec<f64>) -> Self {
        let n = weights.len();
        let sum: f64 = weights.iter().sum();
        // Each column holds probability mass 1/n; scaled[i] is index i's mass in columns.
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / sum).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) =
            (0..n).partition(|&i| scaled[i] < 1.0);
        // A full column keeps itself: threshold at the top, alias to itself.
        let mut entries: Vec<(u32, u32)> = (0..n as u32).map(|i| (u32::MAX, i)).collect();
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            // Column s keeps s with probability scaled[s], otherwise gives l.
            entries[s] = ((scaled[s] * 4_294_967_296.0) as u32, l as u32);
            scaled[l] = (scaled[l] + scaled[s]) - 1.0;
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // Whatever is left is 1.0 up to rounding: full columns, as initialised.
        AliasTable { entries }
    }

    #[inline]
    fn sample<R: Rng>(&self, rng: &mut R) -> u64 {
        let column = rng.gen_range(0..self.entries.len());
        let (threshold, alias) = self.entries[column];
        if rng.next_u32() < threshold {
            column as u64
        } else {
            u64::from(alias)
        }
    }
}

/// Zipf over ranks `1..=n` with `P(k) ∝ k^-s`, any `s > 0`, by rejection-inversion
/// (W. Hörmann and G. Derflinger, "Rejection-inversion to generate variates from monotone
/// discrete distributions", ACM TOMACS 6(3), 1996).
///
/// It inverts the integral of the continuous hat `h(x) = x^-s` and accepts the rounded point
/// unless it falls in the small gap between the hat and the step function, so a sample costs a
/// few `ln`/`exp` and about one iteration, for any `n`, with O(1) memory. The helper functions
/// use `ln_1p`/`exp_m1` so that `s` at or near 1 (where `x^(1-s)/(1-s)` becomes `ln x`) is exact.
#[derive(Debug, Clone)]
struct Zipf {
    count: u64,
    n: f64,
    s: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    /// Accept without evaluating `h_integral` when `k - x <= accept_width` (the squeeze).
    accept_width: f64,
}

impl Zipf {
    fn new(count: u64, s: f64) -> Result<Self, KeyError> {
        if !(s.is_finite() && s > 0.0) {
            return Err(KeyError::BadExponent(s));
        }
        let n = count as f64;
        let mut z = Zipf {
            count,
            n,
            s,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            accept_width: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n + 0.5);
        z.accept_width = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        Ok(z)
    }

    /// A key index in `0..n` (rank - 1): index 0 is the most frequent.
    #[inline]
    fn sample<R: Rng>(&self, rng: &mut R) -> u64 {
        loop {
            // u is uniform over (h_integral_x1, h_integral_n].
            let u = self.h_integral_n + rng.gen::<f64>() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.accept_width || u >= self.h_integral(k + 0.5) - self.h(k) {
                // k is an integer in 1..=n; the min guards counts above 2^53, where n as f64
                // may round up past the real count.
                return (k as u64 - 1).min(self.count - 1);
            }
        }
    }

    /// The hat function, `x^-s`.
    #[inline]
    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// `∫_1^x h = (x^(1-s) - 1) / (1-s)`, or `ln x` for `s = 1`, computed stably for both.
    #[inline]
    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.s) * log_x) * log_x
    }

    /// The inverse of [`Zipf::h_integral`].
    #[inline]
    fn h_integral_inverse(&self, x: f64) -> f64 {
        // Rounding can push t just below -1 where ln(1 + t) is undefined; -1 maps to x = 0,
        // which is then clamped to rank 1 by the caller.
        let t = (x * (1.0 - self.s)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// `ln(1 + x) / x`, continuous at 0.
#[inline]
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1) / x`, continuous at 0.
#[inline]
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x * (1.0 / 3.0) * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(spec: &KeySpec, seed: u64, draws: usize) -> Vec<u64> {
        let mut g = KeyGen::new(spec, seed).expect("valid spec");
        let mut c = vec![0u64; g.distinct_keys() as usize];
        for _ in 0..draws {
            let (i, key) = g.next_indexed().expect("keyed");
            assert_eq!(key, key_name(i).as_bytes());
            c[i as usize] += 1;
        }
        c
    }

    /// Pearson's chi-square of observed counts against expected probabilities.
    fn chi_square(observed: &[u64], probs: &[f64]) -> f64 {
        let total: u64 = observed.iter().sum();
        observed
            .iter()
            .zip(probs)
            .map(|(&o, &p)| {
                let e = p * total as f64;
                (o as f64 - e).powi(2) / e
            })
            .sum()
    }

    fn zipf_pmf(n: usize, s: f64) -> Vec<f64> {
        let w: Vec<f64> = (1..=n).map(|k| (k as f64).powf(-s)).collect();
        let h: f64 = w.iter().sum();
        w.iter().map(|x| x / h).collect()
    }

    #[test]
    fn none_gives_null_keys() {
        let mut g = KeyGen::new(&KeySpec::None, 1).unwrap();
        assert_eq!(g.next_key(), None);
        assert_eq!(g.key_index(), None);
        assert_eq!(g.distinct_keys(), 0);
    }

    #[test]
    fn fixed_gives_the_same_key() {
        let mut g = KeyGen::new(&KeySpec::Fixed("order-42".into()), 1).unwrap();
        for _ in 0..10 {
            assert_eq!(g.next_key(), Some(&b"order-42"[..]));
        }
        assert_eq!(g.next_indexed(), Some((0, &b"order-42"[..])));
    }

    #[test]
    fn uniform_covers_all_keys_evenly() {
        let k = 100;
        let c = counts(&KeySpec::Uniform { count: k }, 7, 200_000);
        assert!(c.iter().all(|&n| n > 0));
        // 99 degrees of freedom: mean 99, sd 14; 160 is beyond the 99.99th percentile.
        let chi = chi_square(&c, &vec![1.0 / k as f64; k as usize]);
        assert!(chi < 160.0, "chi-square {chi}");
    }

    #[test]
    fn zipf_key_0_frequency_is_1_over_h() {
        let (k, s) = (100usize, 1.1);
        let c = counts(
            &KeySpec::Zipf {
                count: k as u64,
                exponent: s,
            },
            11,
            400_000,
        );
        let h: f64 = (1..=k).map(|i| (i as f64).powf(-s)).sum();
        let want = 1.0 / h;
        let got = c[0] as f64 / 400_000.0;
        // p ~ 0.2; sd of the estimate ~ 0.00063; 0.004 is over 6 sd.
        assert!((got - want).abs() < 0.004, "key-0 {got}, want {want}");
        // Ranks are monotone in expectation: the head is clearly ordered.
        assert!(c[0] > c[1] && c[1] > c[2] && c[2] > c[9]);
    }

    /// Asserts that `draw` follows zipf(n, s) by a chi-square test over 300,000 draws.
    fn assert_zipf(n: usize, s: f64, mut draw: impl FnMut() -> u64) {
        let mut c = vec![0u64; n];
        for _ in 0..300_000 {
            c[draw() as usize] += 1;
        }
        // Merge the sparse tail (expected < 50 draws per key) into one bin.
        let pmf = zipf_pmf(n, s);
        let (mut obs, mut probs) = (Vec::new(), Vec::new());
        let (mut tail_o, mut tail_p) = (0u64, 0.0);
        for (o, p) in c.iter().zip(&pmf) {
            if p * 300_000.0 >= 50.0 {
                obs.push(*o);
                probs.push(*p);
            } else {
                tail_o += o;
                tail_p += p;
            }
        }
        if tail_p > 0.0 {
            obs.push(tail_o);
            probs.push(tail_p);
        }
        let dof = obs.len() as f64 - 1.0;
        let chi = chi_square(&obs, &probs);
        // Mean dof, sd sqrt(2 dof): dof + 6 sd + 10 is far out in the tail.
        let bound = dof + 6.0 * (2.0 * dof).sqrt() + 10.0;
        assert!(chi < bound, "n={n} s={s}: chi-square {chi} over {dof} dof");
    }

    const EXPONENTS: [f64; 7] = [0.05, 0.3, 0.99, 1.0, 1.01, 1.5, 3.0];

    #[test]
    fn zipf_keys_match_the_pmf_for_exponents_below_at_and_above_1() {
        for (i, s) in EXPONENTS.into_iter().enumerate() {
            let spec = KeySpec::Zipf {
                count: 50,
                exponent: s,
            };
            let mut g = KeyGen::new(&spec, 100 + i as u64).unwrap();
            assert!(matches!(g.dist, Dist::ZipfAlias(_)));
            assert_zipf(50, s, || g.key_index().unwrap());
        }
    }

    #[test]
    fn rejection_inversion_matches_the_pmf_too() {
        // The sampler used above PRECOMPUTE_MAX_KEYS, checked on a key space small enough to
        // count.
        for (i, s) in EXPONENTS.into_iter().enumerate() {
            let z = Zipf::new(50, s).unwrap();
            let mut rng = SmallRng::seed_from_u64(200 + i as u64);
            assert_zipf(50, s, || z.sample(&mut rng));
        }
    }

    #[test]
    fn alias_table_is_exact_for_simple_weights() {
        let t = AliasTable::new(vec![1.0, 2.0, 0.0, 1.0]);
        let mut rng = SmallRng::seed_from_u64(1);
        let mut c = [0u64; 4];
        for _ in 0..400_000 {
            c[t.sample(&mut rng) as usize] += 1;
        }
        assert_eq!(c[2], 0, "zero weight never drawn");
        let chi = chi_square(&[c[0], c[1], c[3]], &[0.25, 0.5, 0.25]);
        assert!(chi < 25.0, "{c:?}");
    }

    #[test]
    fn zipf_stays_in_range_for_huge_and_tiny_counts() {
        let mut one = KeyGen::new(
            &KeySpec::Zipf {
                count: 1,
                exponent: 0.5,
            },
            3,
        )
        .unwrap();
        assert!((0..1000).all(|_| one.next_key() == Some(&b"key-0"[..])));

        // Not precomputed: formatted per message.
        let n = 10_000_000_000u64;
        let mut big = KeyGen::new(
            &KeySpec::Zipf {
                count: n,
                exponent: 0.8,
            },
            3,
        )
        .unwrap();
        for _ in 0..10_000 {
            let (i, key) = big.next_indexed().unwrap();
            assert!(i < n);
            assert_eq!(key, key_name(i).as_bytes());
        }
    }

    #[test]
    fn uniform_above_the_precompute_limit_formats_keys() {
        let n = PRECOMPUTE_MAX_KEYS + 1;
        let mut g = KeyGen::new(&KeySpec::Uniform { count: n }, 5).unwrap();
        assert!(g.table.is_none());
        for _ in 0..1000 {
            let (i, key) = g.next_indexed().unwrap();
            assert!(i < n);
            assert_eq!(key, key_name(i).as_bytes());
        }
    }

    #[test]
    fn deterministic_given_the_seed_and_reseeded_shares_keys() {
        let spec = KeySpec::Zipf {
            count: 1000,
            exponent: 1.1,
        };
        let mut a = KeyGen::new(&spec, 9).unwrap();
        let mut b = KeyGen::new(&spec, 9).unwrap();
        let sa: Vec<_> = (0..100).map(|_| a.key_index()).collect();
        let sb: Vec<_> = (0..100).map(|_| b.key_index()).collect();
        assert_eq!(sa, sb);

        let mut c = a.reseeded(10);
        assert!(Arc::ptr_eq(
            a.table.as_ref().unwrap(),
            c.table.as_ref().unwrap()
        ));
        let sc: Vec<_> = (0..100).map(|_| c.key_index()).collect();
        assert_ne!(sa, sc);
    }

    #[test]
    fn invalid_specs_are_errors_not_panics() {
        assert_eq!(
            KeyGen::new(&KeySpec::Uniform { count: 0 }, 0).unwrap_err(),
            KeyError::NoKeys
        );
        assert_eq!(
            KeyGen::new(
                &KeySpec::Zipf {
                    count: 0,
                    exponent: 1.0
                },
                0
            )
            .unwrap_err(),
            KeyError::NoKeys
        );
        for s in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                KeyGen::new(
                    &KeySpec::Zipf {
                        count: 10,
                        exponent: s
                    },
                    0
                ),
                Err(KeyError::BadExponent(_))
            ));
        }
    }

    #[test]
    fn key_table_and_formatting_agree() {
        let t = KeyTable::new(1234);
        let mut buf = Vec::new();
        for i in [0u64, 1, 9, 10, 99, 100, 1233] {
            format_key(&mut buf, i);
            assert_eq!(t.get(i), key_name(i).as_bytes());
            assert_eq!(buf, key_name(i).as_bytes());
        }
        format_key(&mut buf, u64::MAX);
        assert_eq!(buf, key_name(u64::MAX).as_bytes());
    }
}
