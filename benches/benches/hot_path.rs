//! The per-message costs of kbench itself: what a producer spends on each message before
//! librdkafka sees it. These must stay far below a microsecond, or the load generator, not the
//! cluster, limits the measured throughput.
//!
//! Run with `cargo bench -p kbench-benches`; short measurement times keep the whole run under
//! two minutes. Targets (issue 6): recording a latency with its counters <= 50 ns; building a
//! 1 KiB message with its stamp <= 200 ns (issue 12: <= 60 ns). `docs/versus.md` has the
//! measured medians.

use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::BaseRecord;

use kbench::fleet::keys::KeyGen;
use kbench::fleet::opaque::DeliveryTag;
use kbench::fleet::pacing::Schedule;
use kbench::fleet::partition::{crc32_partition, fnv1a_partition, java_partition, murmur2};
use kbench::fleet::payload::stamp::{self, ProducerId, Stamp, StampClock};
use kbench::fleet::payload::PayloadGen;
use kbench::fleet::producer::ProducerShared;
use kbench::fleet::recorder;
use kbench::fleet::value_slots::ValueSlots;
use kbench::metrics::cell::{Interval, Phase};
use kbench::metrics::delivery::{GroupAccount, MemberDeliveries};
use kbench::metrics::{CellEnd, CellMetrics, ClientStats, Clock};
use kbench::rundir::rows::{to_csv, CellFacts, ResultRow};
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
    // The whole per-message pacing work of the send loop: read the clock, compare with the
    // schedule, compute the intended time and put it on the run's clock.
    let clock = Clock::new();
    let live = Schedule::new(Some(100_000.0), Instant::now()).expect("valid rate");
    let mut seq = 0u64;
    c.bench_function("pacing/loop turn (now + due + intended + clock.ns)", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1) & 0xf_ffff;
            let now = Instant::now();
            let due = live.due(now) > seq;
            let intended = live.intended(seq).unwrap_or(now);
            black_box((due, clock.ns(intended)))
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

fn stamp_of(seq: u64, intended_ns: u64) -> Stamp {
    Stamp {
        producer: ProducerId::new(0x1234_5678, 0, 3),
        seq,
        intended_ns,
        clock: StampClock::Monotonic,
    }
}

fn stamps(c: &mut Criterion) {
    let mut seq = 0u64;
    c.bench_function("stamp/encode", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            black_box(stamp_of(black_box(seq), black_box(123_456_789))).encode()
        })
    });
    // What a consumer does with a 1 KiB value: read the stamp in its first bytes.
    let mut value = vec![0x5au8; 1024];
    value[..stamp::STAMP_LEN].copy_from_slice(&stamp_of(42, 123_456_789).encode());
    c.bench_function("stamp/decode from a 1 KiB value", |b| {
        b.iter(|| Stamp::decode(black_box(&value[..])))
    });
    let foreign = vec![b'{'; 1024];
    c.bench_function("stamp/decode a foreign 1 KiB value (no magic)", |b| {
        b.iter(|| Stamp::decode(black_box(&foreign[..])))
    });
}

/// The delivery opaque: packed on send, unpacked by the delivery report (no header parsing).
fn opaques(c: &mut Criterion) {
    let clock = Clock::new();
    let start = Instant::now();
    for (name, rate) in [("paced", Some(100_000.0)), ("max rate", None)] {
        let tag = DeliveryTag::new(Schedule::new(rate, start).expect("valid rate"), clock);
        let mut seq = 0u64;
        c.bench_function(&format!("opaque/pack + unpack {name}"), |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1) & 0xf_ffff;
                let intended = 1_000_000 + seq * 10_000;
                let opaque = tag.pack(black_box(seq), black_box(intended));
                tag.unpack(black_box(opaque), seq + 100, intended + 2_000_000)
            })
        });
    }
}

/// One message as `fleet/producer.rs` builds it, before `send`: the stamp, the next payload
/// with the stamp in its first bytes (`stamp = "value"`, the default) or beside it in a
/// librdkafka header (`stamp = "header"`, allocated by librdkafka), the opaque and the record.
/// Dropping the record frees the headers, as librdkafka does once the message is delivered.
fn message(c: &mut Criterion) {
    let topic = String::from("kbench-bench");
    let tag = DeliveryTag::new(
        Schedule::new(Some(100_000.0), Instant::now()).expect("valid rate"),
        Clock::new(),
    );
    for size in [100usize, 1024] {
        let mut payloads = PayloadGen::new(&MessageSize::Fixed(size), 1).expect("valid size");
        let mut seq = 0u64;
        c.bench_function(
            &format!("message/build {size} B (payload + stamp in value + record)"),
            |b| {
                b.iter(|| {
                    seq = seq.wrapping_add(1);
                    let intended_ns = 1_000_000 + seq * 10_000;
                    let st = stamp_of(black_box(seq), intended_ns).encode();
                    let payload = payloads.next_stamped(&st);
                    let record: BaseRecord<'_, [u8], [u8], usize> =
                        BaseRecord::with_opaque_to(&topic, tag.pack(seq, intended_ns))
                            .payload(payload);
                    black_box(&record);
                })
            },
        );
    }
    // The send loop's path for generated values: the stamp written into the message's own
    // slot of the ring (`fleet::value_slots`), which librdkafka sends without a copy; the
    // slot released again as its delivery report would.
    let mut payloads = PayloadGen::new(&MessageSize::Fixed(1024), 1).expect("valid size");
    let (pool, pos) = payloads.random_pool().expect("generated values");
    let slots = ValueSlots::new(pool, pos, 1024, 32 << 20, 1).expect("a ring for 1 KiB values");
    let mut seq = 0u64;
    c.bench_function(
        "message/build 1024 B in a value slot (stamp + slot + record)",
        |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                let intended_ns = 1_000_000 + seq * 10_000;
                let st = stamp_of(black_box(seq), intended_ns).encode();
                let len = payloads.next_len().expect("generated");
                let payload = slots.claim(seq, &st, len).expect("a free slot");
                let record: BaseRecord<'_, [u8], [u8], usize> =
                    BaseRecord::with_opaque_to(&topic, tag.pack(seq, intended_ns)).payload(payload);
                black_box(&record);
                slots.release(seq);
            })
        },
    );
    let mut payloads = PayloadGen::new(&MessageSize::Fixed(1024), 1).expect("valid size");
    let mut seq = 0u64;
    c.bench_function(
        "message/build 1024 B stamp=header (payload + header + record)",
        |b| {
            b.iter(|| {
                seq = seq.wrapping_add(1);
                let intended_ns = 1_000_000 + seq * 10_000;
                let st = stamp_of(black_box(seq), intended_ns).encode();
                let payload = payloads.next_payload();
                let record: BaseRecord<'_, [u8], [u8], usize> =
                    BaseRecord::with_opaque_to(&topic, tag.pack(seq, intended_ns))
                        .payload(payload)
                        .headers(OwnedHeaders::new_with_capacity(1).insert(Header {
                            key: stamp::HEADER_KEY,
                            value: Some(&st[..]),
                        }));
                black_box(&record);
            })
        },
    );
}

/// Recording one message's figures, as the producer thread (after `send`) and the delivery
/// callback (on `poll`) do: into the thread's own figures, with no lock and no atomic
/// read-modify-write (three plain stores publish the counts), the opaque unpacked (paced),
/// the publish histogram and the delivery log.
fn record(c: &mut Criterion) {
    let shared = Arc::new(ProducerShared::new(6));
    let start_ns = 1_000u64;
    let clock = Clock::new();
    let tag = DeliveryTag::new(
        Schedule::new(Some(100_000.0), clock.instant(start_ns)).expect("valid rate"),
        clock,
    );
    let _recording = recorder::install(shared.clone());
    let mut seq = 0u64;
    c.bench_function("record/producer send + ack + delivery log", |b| {
        b.iter(|| {
            seq += 1;
            let intended = start_ns + seq * 10_000;
            // Producer thread, after send.
            recorder::with(|r| {
                r.stats.record_send(true, 1024, black_box(2_000));
                r.sent += 1;
                r.publish_counts();
            });
            // Delivery callback.
            let now = intended + 500_000 + (seq % 4096) * 1_000;
            recorder::with(|r| {
                let (seq_of, intended) = tag.unpack(black_box(seq as usize), r.sent, now);
                r.acked += 1;
                r.stats
                    .record_ack(true, intended, now, 1024, (seq % 6) as i32);
                r.log.ack(seq_of, now - start_ns);
                r.completed += 1;
                r.publish_counts();
            });
        })
    });
    // The parts.
    let mut stats = ClientStats::new(6);
    let mut n = 0u64;
    c.bench_function("record/ClientStats::record_ack alone", |b| {
        b.iter(|| {
            n += 1;
            stats.record_ack(
                true,
                n,
                n + 500_000 + (n % 4096) * 1_000,
                1024,
                (n % 6) as i32,
            );
        })
    });
    let mut h = kbench::metrics::histogram::new_histogram();
    c.bench_function("record/hdrhistogram record alone", |b| {
        b.iter(|| {
            n += 1;
            let _ = h.record(black_box(500 + (n % 4096)));
        })
    });
    // What the hot path paid per message before the hand-over: an uncontended lock.
    let locked = std::sync::Mutex::new(ClientStats::new(6));
    c.bench_function("record/Mutex::lock + record_send (the old way)", |b| {
        b.iter(|| {
            locked
                .lock()
                .unwrap()
                .record_send(true, 1024, black_box(2_000))
        })
    });
}

/// The consumer's per-message work after `poll`: the group offset watermark, the delivery
/// record (loss / duplicates / order), the counter and the end-to-end histogram.
fn consume(c: &mut Criterion) {
    let mut deliveries = MemberDeliveries::default();
    let mut seq = 0u64;
    c.bench_function("consume/MemberDeliveries::record", |b| {
        b.iter(|| {
            seq += 1;
            deliveries.record((seq % 6) as i32, true, seq % 4, seq);
        })
    });
    let offsets: Vec<AtomicI64> = (0..6).map(|_| AtomicI64::new(-1)).collect();
    let mut stats = ClientStats::new(6);
    let mut deliveries = MemberDeliveries::default();
    let mut seq = 0u64;
    c.bench_function("consume/full record (offset + deliveries + stats)", |b| {
        b.iter(|| {
            seq += 1;
            let partition = (seq % 6) as i32;
            let offset = (seq / 6) as i64;
            let new = offsets[partition as usize].fetch_max(offset, Ordering::Relaxed) < offset;
            deliveries.record(partition, new, seq % 4, seq);
            let intended = seq * 10_000;
            stats.record_consume(true, intended, intended + 2_000_000, 1024, partition);
        })
    });
}

/// One producer's realistic 1 s interval at 100k msg/s: latencies spread over 0.5..50 ms.
fn busy_interval(partitions: usize) -> ClientStats {
    let mut s = ClientStats::new(partitions);
    for i in 0..100_000u64 {
        // A skewed spread: most near 2 ms, a tail to ~50 ms.
        let us = 500 + (i * 7919 % 2000) + if i % 100 == 0 { i % 50_000 } else { 0 };
        s.record_send(true, 1024, 1_000);
        s.record_ack(true, 0, us * 1_000, 1024, (i % partitions as u64) as i32);
        s.record_consume(
            true,
            0,
            (us + 300) * 1_000,
            1024,
            (i % partitions as u64) as i32,
        );
    }
    s
}

/// Once per interval per client: swap the stats out and merge them into the cell's.
fn interval(c: &mut Criterion) {
    let one = busy_interval(6);
    let mut total = ClientStats::new(6);
    c.bench_function(
        "interval/ClientStats::merge of a 1 s, 100k msg interval",
        |b| b.iter(|| total.merge(black_box(&one))),
    );
    let mut spare = ClientStats::new(6);
    c.bench_function("interval/ClientStats::take (swap + reset)", |b| {
        b.iter_batched_ref(
            || one.clone(),
            |live| live.take(&mut spare),
            BatchSize::LargeInput,
        )
    });
}

/// Once per run: `results.csv` of 50 cells.
fn csv_rows(c: &mut Criterion) {
    let scenario = kbench::scenario::parse_str(
        "name = \"bench\"\n[sweep]\nacks = [\"1\", \"all\"]\n",
        Path::new("bench.toml"),
    )
    .expect("valid scenario");
    let mut metrics = CellMetrics::new(6);
    metrics.add_interval(Interval {
        start_s: 0.0,
        end_s: 1.0,
        phase: Phase::Measure,
        producers: busy_interval(6),
        consumers: busy_interval(6),
        consumer_lag: 0,
    });
    let summary = metrics.summary(&CellEnd::default());
    let facts = CellFacts {
        topic: "kbench-bench",
        partitions: 6,
        replication_factor: 3,
        repeat: 1,
        consumer_lag: 0,
        idle_members: 0,
        delivery: GroupAccount::default(),
        faults: &[],
        origin: Default::default(),
        rebalance: &Default::default(),
    };
    let rows: Vec<ResultRow> = (0..50)
        .map(|i| {
            let mut r = ResultRow::new(&scenario.cells[i % 2], &summary, &facts);
            r.cell = format!("{}-{i}", r.cell);
            r
        })
        .collect();
    c.bench_function("report/to_csv 50 result rows", |b| {
        b.iter(|| to_csv(black_box(&rows)).expect("csv").len())
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
    targets = pacing, keys, partition, payload, stamps, opaques, message, record, consume, interval, csv_rows
}
criterion_main!(hot_path);
