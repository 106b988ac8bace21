//! Values librdkafka sends straight from kbench's memory, without copying them.
//!
//! Every kbench value is different (its stamp), so by default librdkafka copies each one
//! (`RD_KAFKA_MSG_F_COPY`) into an allocation of its own, message header and value together.
//! At 1 KiB that allocation is above glibc's per-thread cache (1032 bytes), so every message
//! took malloc's slow path, and the copy came on top of kbench's own (the stamp and the random
//! body into a scratch buffer). `perf`, one producer of 1 KiB at max rate: librdkafka's
//! `rd_kafka_msg_new` was half of the send thread, malloc a quarter of it, copies a sixth;
//! librdkafka's own `rdkafka_performance` sends one static buffer with no copy at all.
//!
//! So a producer of generated values owns a ring of slots, each filled once, the first time it
//! is used, with the next bytes of the generator's random pool (so making a producer costs
//! nothing, memory is touched only as the ring is gone round, and the fill is a copy). Message `seq` is built in slot `seq % slots`: only
//! its stamp is written, and librdkafka is handed the slot itself (flags 0: no copy, no free).
//! librdkafka reads a message's value until its delivery report (a retry builds the batch
//! again from it), so a slot is taken only when the report of the message before it in that
//! slot has come; when it has not (a message stuck in retries, a ring smaller than what is in
//! flight), that one message is copied as before. Values stay incompressible: consecutive
//! messages use consecutive slots, and the ring is at least as long as the random pool
//! (`payload::MIN_POOL`), larger than any batch.
//!
//! The ring belongs to the producer's client context, which rdkafka drops after
//! `rd_kafka_destroy` has stopped librdkafka's threads: no librdkafka thread can read a slot
//! after it is freed, whatever way the send thread ends.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use super::payload::stamp::STAMP_LEN;

/// At least this much ring: as long as the random pool, so no batch repeats bytes.
const MIN_RING_BYTES: usize = 4 << 20;
/// At most this much per producer: a max-rate producer's queue (32 MiB) and a quarter more.
const MAX_RING_BYTES: usize = 40 << 20;
/// A fleet's producers share this much between them; a fleet so large that a producer's
/// share is below `MIN_RING_BYTES` (over 128 producers) copies its values instead, so the
/// rings never take more than this in all.
const FLEET_RING_BYTES: usize = 512 << 20;
/// Fewer slots than this is not worth a ring (values of megabytes): they are copied.
const MIN_SLOTS: usize = 64;
/// How many messages ahead `claim` prefetches a slot: far enough for a memory load to land
/// (librdkafka spends a microsecond or more on each message between two claims).
const PREFETCH_AHEAD: usize = 4;

/// One producer's ring. The send thread claims and writes slots; delivery reports release
/// them (on the send thread; see `recorder`); librdkafka's threads read held slots.
pub struct ValueSlots {
    /// `slots * slot_len` random bytes. Only a slot this producer has claimed, and librdkafka
    /// does not hold, is ever written.
    buf: UnsafeCell<Box<[u8]>>,
    slot_len: usize,
    slots: usize,
    /// Per slot, 1 + the sequence number of the message librdkafka holds there; 0 = free.
    held: Box<[AtomicU64]>,
    /// Slots below this have their random bytes (written by the sending thread only).
    filled: AtomicUsize,
    /// Where slots get their bytes: the payload generator's random pool (at least twice the
    /// largest value, and at least `MIN_RING_BYTES`), walked from `pool_pos`.
    pool: Arc<[u8]>,
    pool_pos: AtomicUsize,
}

// SAFETY: slots are written only through `claim`, by the one thread that sends, and only
// while no message holds them; librdkafka's threads read only slots held by a message they
// were given. `held` is atomic.
unsafe impl Sync for ValueSlots {}

impl ValueSlots {
    /// A ring for values of at most `max_len` bytes, sized from librdkafka's queue bound
    /// (`queue_bytes`: what can be in flight) and the fleet's size, filled from `pool` (the
    /// payload generator's, from `pool_pos`); `None` when the values are too large for
    /// `MIN_SLOTS` slots.
    pub fn new(
        pool: Arc<[u8]>,
        pool_pos: usize,
        max_len: usize,
        queue_bytes: usize,
        producers: usize,
    ) -> Option<Self> {
        // Whole cache lines, so a stamp never straddles two slots' lines.
        let slot_len = max_len.max(STAMP_LEN).next_multiple_of(64);
        let share = FLEET_RING_BYTES / producers.max(1);
        if share < MIN_RING_BYTES {
            return None;
        }
        let want = queue_bytes.saturating_add(queue_bytes / 4);
        let ring = want.min(share).clamp(MIN_RING_BYTES, MAX_RING_BYTES);
        let slots = ring / slot_len;
        if slots < MIN_SLOTS || pool.len() < slot_len {
            return None;
        }
        // Zeroed memory the kernel maps only when a slot is first written.
        let buf = vec![0u8; slots * slot_len].into_boxed_slice();
        Some(ValueSlots {
            buf: UnsafeCell::new(buf),
            slot_len,
            slots,
            held: (0..slots).map(|_| AtomicU64::new(0)).collect(),
            filled: AtomicUsize::new(0),
            pool,
            pool_pos: AtomicUsize::new(pool_pos),
        })
    }

    /// Give every slot up to `i` its random bytes (the first time round the ring): the
    /// pool's next `slot_len` bytes, as the copy path walks it.
    #[cold]
    fn fill_to(&self, i: usize) {
        let mut pos = self.pool_pos.load(Ordering::Relaxed);
        let mut next = self.filled.load(Ordering::Relaxed);
        while next <= i {
            if pos + self.slot_len > self.pool.len() {
                pos = 0;
            }
            // SAFETY: a slot not yet filled has never been claimed, so librdkafka does not
            // read it; only the sending thread fills.
            unsafe {
                let base = (*self.buf.get()).as_mut_ptr().add(next * self.slot_len);
                std::ptr::copy_nonoverlapping(self.pool[pos..].as_ptr(), base, self.slot_len);
            }
            pos += self.slot_len;
            next += 1;
        }
        self.pool_pos.store(pos, Ordering::Relaxed);
        self.filled.store(next, Ordering::Relaxed);
    }

    /// Message `seq`'s value, `len` bytes with `stamp` first, built in its slot and held for
    /// it until [`release`](Self::release); `None` when the slot is still held (copy the value).
    /// The slice stays valid while `self` lives; librdkafka may read it until the release.
    #[inline]
    pub fn claim(&self, seq: u64, stamp: &[u8; STAMP_LEN], len: usize) -> Option<&[u8]> {
        if len > self.slot_len {
            return None;
        }
        let i = (seq % self.slots as u64) as usize;
        let held = &self.held[i];
        // Acquire: pairs with the release of the report that freed it.
        if held.load(Ordering::Acquire) != 0 {
            return None;
        }
        held.store(seq + 1, Ordering::Relaxed);
        if i >= self.filled.load(Ordering::Relaxed) {
            self.fill_to(i);
        }
        let at = i * self.slot_len;
        self.prefetch_ahead(i);
        let head = len.min(STAMP_LEN);
        // SAFETY: slot `i` is free (no message holds it, so librdkafka no longer reads it)
        // and only this thread claims slots; the write stays inside it.
        unsafe {
            let base = (*self.buf.get()).as_mut_ptr().add(at);
            std::ptr::copy_nonoverlapping(stamp.as_ptr(), base, head);
            Some(std::slice::from_raw_parts(base, len))
        }
    }

    /// Start loading the stamp line of the slot `PREFETCH_AHEAD` messages on: on a ring far
    /// larger than the caches every slot is cold when its turn comes, and writing its stamp
    /// would wait for memory. A hint only: it reads nothing and changes nothing.
    #[inline]
    fn prefetch_ahead(&self, i: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let next = (i + PREFETCH_AHEAD) % self.slots;
            // SAFETY: the address is inside the ring; a prefetch never faults nor writes.
            unsafe {
                let p = (*self.buf.get()).as_ptr().add(next * self.slot_len);
                std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = i;
    }

    /// The delivery report of message `seq` came (or it never reached librdkafka): its slot
    /// is free again. A `seq` that does not hold its slot (it was copied) changes nothing.
    #[inline]
    pub fn release(&self, seq: u64) {
        let held = &self.held[(seq % self.slots as u64) as usize];
        if held.load(Ordering::Relaxed) == seq + 1 {
            held.store(0, Ordering::Release);
        }
    }

    pub fn slots(&self) -> usize {
        self.slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(b: u8) -> [u8; STAMP_LEN] {
        [b; STAMP_LEN]
    }

    /// A pool as `payload` makes one: random bytes, `MIN_RING_BYTES` long.
    fn pool() -> Arc<[u8]> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..MIN_RING_BYTES)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    fn ring(max: usize, queue: usize, producers: usize) -> Option<ValueSlots> {
        ValueSlots::new(pool(), 0, max, queue, producers)
    }

    #[test]
    fn a_slot_is_reused_only_after_its_message_is_released() {
        let r = ring(1024, 0, 1).unwrap();
        let n = r.slots() as u64;
        assert_eq!(n, (MIN_RING_BYTES / 1024) as u64);
        let v0 = r.claim(0, &stamp(1), 1024).unwrap().as_ptr();
        // Message n maps to slot 0, which message 0 still holds: copied instead.
        assert!(r.claim(n, &stamp(2), 1024).is_none());
        // A release of another sequence number (a copied message) frees nothing.
        r.release(n);
        assert!(r.claim(n, &stamp(2), 1024).is_none());
        r.release(0);
        let again = r.claim(n, &stamp(2), 1024).unwrap();
        assert_eq!(again.as_ptr(), v0);
        assert_eq!(&again[..STAMP_LEN], &stamp(2));
    }

    #[test]
    fn values_are_their_size_stamped_and_differ_after_the_stamp() {
        let r = ring(1024, 32 << 20, 1).unwrap();
        let a = r.claim(1, &stamp(9), 1000).unwrap().to_vec();
        let b = r.claim(2, &stamp(9), 100).unwrap().to_vec();
        assert_eq!((a.len(), b.len()), (1000, 100));
        assert_eq!(&a[..STAMP_LEN], &stamp(9));
        assert_ne!(a[STAMP_LEN..100], b[STAMP_LEN..]);
        // Larger than a slot: copied.
        assert!(r.claim(3, &stamp(9), 1025).is_none());
    }

    #[test]
    fn the_ring_follows_the_queue_and_the_fleet_and_skips_huge_values() {
        let slots = |max, queue, producers| ring(max, queue, producers).map(|r| r.slots());
        // A max-rate producer's 32 MiB queue and a quarter: 40 MiB of 1 KiB slots.
        assert_eq!(slots(1024, 32 << 20, 1), Some(40 * 1024));
        // 100 producers share 512 MiB: 5.12 MiB each.
        assert_eq!(slots(1024, 32 << 20, 100), Some((512 << 20) / 100 / 1024));
        // A paced producer's 1 GiB queue: capped at 40 MiB.
        assert_eq!(slots(1024, 1 << 30, 1), Some(40 * 1024));
        // 1000 producers: 512 KiB each is below the 4 MiB a ring needs: copied.
        assert_eq!(slots(1024, 32 << 20, 1000), None);
        // 1 MB values: fewer than 64 slots fit, no ring.
        assert_eq!(slots(1_000_000, 32 << 20, 1), None);
    }

    #[test]
    fn slots_are_filled_when_first_used_even_when_one_is_skipped() {
        let r = ring(100, 0, 1).unwrap();
        // Message 0 too large for a slot (copied), message 1 in slot 1: slot 0 is filled too.
        assert!(r.claim(0, &stamp(1), 1000).is_none());
        let one = r.claim(1, &stamp(1), 100).unwrap().to_vec();
        r.release(1);
        let zero = r.claim(r.slots() as u64, &stamp(1), 100).unwrap().to_vec();
        for v in [&zero, &one] {
            assert!(
                v[STAMP_LEN..].iter().filter(|&&b| b == 0).count() < 10,
                "random bytes"
            );
        }
        assert_ne!(zero[STAMP_LEN..], one[STAMP_LEN..]);
    }
}
