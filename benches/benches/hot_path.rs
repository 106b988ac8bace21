//! The per-message costs of kbench itself: what a producer spends on each message before
//! librdkafka sees it. These must stay far below a microsecond, or the load generator, not the
//! cluster, limits the measured throughput.
//!
//! Run with `cargo bench -p kbench-benches`; short measurement times keep the whole run under
//! a minute.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

use kbench::fleet::keys::KeyGen;
use kbench::fleet::pacing::Schedule;
use kbench::fleet::partition::{crc32_partition, fnv1a_partition, java_partition, murmur2};
use kbench::fleet::payload::{header, PayloadGen};
use kbench::scenario::{KeySpec, MessageSize};

fn pacing(c: &mut Criterion) {
    let start = Instant::now();
    let schedule = Schedule::new(Some(100_000.0), start).expect("valid rate");
    let now = start + Duration::from_secs(1);
    let mut n = 0u64;
    // One loop turn of a producer: how many are due, and the intended time of the next one.
    c.bench_function("pacing/tick (due + intended)", |b| {
        b.iter(|| {
            n = n.wrapping_add(1) & 0xf_ffff;
            let due = schedule.due(black_box(now));
            let at = schedule.intended(black_box(n));
            black_box((due, at))
        })
    });
}

fn keys(c: &mut Criterion) {
    let mut uniform = KeyGen::new(&KeySpec::Uniform { count: 1000 }, 1).expect("valid keys");
    c.bench_function("keys/uniform K=1000", |b| {
        b.iter(|| black_box(uniform.next_key()).map(<[u8]>::len))
    });
    let mut zipf = KeyGen::new(
        &KeySpec::Zipf {
            count: 1000,
            exponent: 1.1,
        },
        1,
    )
    .expect("valid keys");
    c.bench_function("keys/zipf K=1000 s=1.1", |b| {
        b.iter(|| black_box(zipf.next_key()).map(<[u8]>::len))
    });
}

fn partition(c: &mut Criterion) {
    // "key-100": the 7-byte keys of a K=1000 key space (4-byte block + 3-byte tail).
    let key = b"key-100";
    c.bench_function("partition/murmur2 7 B", |b| {
        b.iter(|| murmur2(black_box(key)))
    });
    c.bench_function("partition/murmur2 + modulo 7 B", |b| {
        b.iter(|| java_partition(black_box(key), black_box(24)))
    });
    c.bench_function("partition/crc32 7 B", |b| {
        b.iter(|| crc32_partition(black_box(key), black_box(24)))
    });
    c.bench_function("partition/fnv1a 7 B", |b| {
        b.iter(|| fnv1a_partition(black_box(key), black_box(24)))
    });
}

fn payload(c: &mut Criterion) {
    let mut fixed = PayloadGen::new(&MessageSize::Fixed(1024), 1).expect("valid size");
    c.bench_function("payload/next fixed 1 KiB", |b| {
        b.iter(|| black_box(fixed.next_payload()).len())
    });
}

fn headers(c: &mut Criterion) {
    let mut seq = 0u64;
    c.bench_function("header/encode", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            header::encode(black_box(3), black_box(seq), black_box(123_456_789))
        })
    });
    let value = header::encode(3, 42, 123_456_789);
    c.bench_function("header/decode", |b| {
        b.iter(|| header::decode(black_box(&value[..])))
    });
}

criterion_group! {
    name = hot_path;
    // No plots: criterion's plotters backend needs system fonts, which CI images and this
    // project's hosts do not have (it panics with FontUnavailable). The numbers are the point.
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .without_plots();
    targets = pacing, keys, partition, payload, headers
}
criterion_main!(hot_path);
