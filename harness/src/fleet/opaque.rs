//! What a delivery report needs to know about its message (sequence number, intended send
//! time), carried in librdkafka's per-message opaque: the one machine word librdkafka hands
//! back with the report. The report never parses the record's headers or value, and nothing is
//! allocated per message.
//!
//! - **On a schedule** the opaque is the sequence number itself, all 64 bits, and the intended
//!   time is computed again from it ([`Schedule::intended`] is a pure function of the sequence
//!   number): exact, with no bound at all.
//! - **At max rate** the intended time is the moment of the send, known nowhere else, so the
//!   word holds the low [`SEQ_BITS`] bits of the sequence number and the low [`TIME_BITS`]
//!   bits of the intended time (ns). The report restores both from what it knows: the
//!   producer's next sequence number and the time now. That is exact as long as
//!   - fewer than 2^24 (16,777,216) messages were handed to the producer between a message and
//!     its report: librdkafka holds at most `queue.buffering.max.messages` undelivered
//!     messages (kbench sets 1,000,000; [`check_max_rate_bounds`] refuses a setting above
//!     2^24 - 1 or 0, unlimited), plus those it refused at once meanwhile (none in a healthy
//!     cell: a refused message has no report and fails the cell's error count);
//!   - the report comes less than 2^40 ns (1,099.5 s) after the intended time: librdkafka
//!     fails a message `message.timeout.ms` after it was handed over (kbench leaves the
//!     default, 300 s; [`check_max_rate_bounds`] refuses more than 1,000 s or 0, infinite),
//!     and the send thread serves reports at least every 64 sends.
//!
//! Measured (`cargo bench -p kbench-benches -- opaque/`): see `benches/benches/hot_path.rs`.

use std::time::Instant;

use super::pacing::Schedule;
use crate::metrics::Clock;

// The opaque is a usize: kbench packs 64 bits into it.
const _: () = assert!(usize::BITS == 64, "kbench needs a 64-bit target");

/// Bits of the sequence number a max-rate opaque keeps.
pub const SEQ_BITS: u32 = 24;
/// Bits of the intended time (ns) a max-rate opaque keeps.
pub const TIME_BITS: u32 = 64 - SEQ_BITS;
const SEQ_MASK: u64 = (1 << SEQ_BITS) - 1;
const TIME_MASK: u64 = (1 << TIME_BITS) - 1;

/// The most `queue.buffering.max.messages` may be at max rate.
pub const MAX_QUEUED_MESSAGES: u64 = SEQ_MASK;
/// The most `message.timeout.ms` may be at max rate: 1,000 s, below 2^40 ns with room for
/// a report served late.
pub const MAX_MESSAGE_TIMEOUT_MS: u64 = 1_000_000;

/// Packs and unpacks one producer's delivery opaques.
#[derive(Debug, Clone, Copy)]
pub struct DeliveryTag {
    schedule: Schedule,
    clock: Clock,
    /// When message 0 is due, in ns on the clock.
    start_ns: u64,
}

impl DeliveryTag {
    pub fn new(schedule: Schedule, clock: Clock) -> DeliveryTag {
        DeliveryTag {
            schedule,
            clock,
            start_ns: clock.ns(schedule.start()),
        }
    }

    /// The intended send time of message `seq` in ns on the clock: its place on the schedule,
    /// or `now` (the send) at max rate. The send loop and [`DeliveryTag::unpack`] both use
    /// this, so a paced report restores exactly the time the stamp carries.
    #[inline]
    pub fn intended_ns(&self, seq: u64, now: Instant) -> u64 {
        match self.paced_ns(seq) {
            Some(t) => t,
            None => self.clock.ns(now),
        }
    }

    /// The schedule's time for `seq` in ns on the clock (the same as `clock.ns(intended)` for
    /// a schedule starting after the clock's base, as every cell's does), `None` at max rate.
    #[inline]
    fn paced_ns(&self, seq: u64) -> Option<u64> {
        let offset = self.schedule.intended_offset(seq)?;
        Some(self.start_ns.saturating_add(offset.as_nanos() as u64))
    }

    /// The opaque of message `seq` intended at `intended_ns`.
    #[inline]
    pub fn pack(&self, seq: u64, intended_ns: u64) -> usize {
        if self.schedule.is_paced() {
            seq as usize
        } else {
            ((seq & SEQ_MASK) << TIME_BITS | intended_ns & TIME_MASK) as usize
        }
    }

    /// `(seq, intended_ns)` of the message whose report carries `opaque`, given the number of
    /// messages the producer has handed over so far (`next_seq`: every report is of an earlier
    /// one) and the time now (ns on the clock, at or after the intended time).
    #[inline]
    pub fn unpack(&self, opaque: usize, next_seq: u64, now_ns: u64) -> (u64, u64) {
        let word = opaque as u64;
        if let Some(intended) = self.paced_ns(word) {
            return (word, intended);
        }
        let last = next_seq.wrapping_sub(1);
        let seq = last.wrapping_sub(last.wrapping_sub(word >> TIME_BITS) & SEQ_MASK);
        let intended = now_ns.wrapping_sub(now_ns.wrapping_sub(word) & TIME_MASK);
        (seq, intended)
    }
}

/// The librdkafka settings a max-rate producer's opaque relies on (see the module): `None` for
/// a setting left at librdkafka's default. Returns what is wrong, naming the property.
pub fn check_max_rate_bounds(
    queue_max_messages: Option<&str>,
    message_timeouts: &[(&str, Option<&str>)],
) -> Result<(), String> {
    if let Some(v) = queue_max_messages {
        match v.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_QUEUED_MESSAGES).contains(&n) => {}
            _ => {
                return Err(format!(
                    "queue.buffering.max.messages = {v:?}: at max rate kbench needs 1..={MAX_QUEUED_MESSAGES} \
                     (its delivery reports carry 24 bits of the sequence number)"
                ))
            }
        }
    }
    for (name, v) in message_timeouts {
        let Some(v) = v else { continue };
        match v.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_MESSAGE_TIMEOUT_MS).contains(&n) => {}
            _ => {
                return Err(format!(
                    "{name} = {v:?}: at max rate kbench needs 1..={MAX_MESSAGE_TIMEOUT_MS} ms \
                     (its delivery reports carry 40 bits of the intended time in ns, 1,099 s)"
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn tags(rate: Option<f64>) -> (DeliveryTag, Clock, Instant) {
        let clock = Clock::new();
        let start = clock.base() + Duration::from_millis(50);
        let schedule = Schedule::for_producer(rate, 3, 1, start).unwrap();
        (DeliveryTag::new(schedule, clock), clock, start)
    }

    #[test]
    fn paced_opaques_are_the_whole_sequence_number_and_restore_the_exact_time() {
        let (tag, clock, start) = tags(Some(30_000.0));
        for seq in [0, 1, 12_345, 1 << 40, u64::MAX / 4] {
            let sent_at = start + Duration::from_secs(1);
            let intended = tag.intended_ns(seq, sent_at);
            // The schedule's own time, to the nanosecond (until the offset saturates, 584
            // years after the start; u64::MAX / 4 is past that).
            let schedule = Schedule::for_producer(Some(30_000.0), 3, 1, start).unwrap();
            if seq < 1 << 50 {
                assert_eq!(intended, clock.ns(schedule.intended(seq).unwrap()));
            }
            let opaque = tag.pack(seq, intended);
            assert_eq!(opaque as u64, seq);
            // Whatever the report knows of the producer and the time, it is not needed.
            assert_eq!(tag.unpack(opaque, 0, 0), (seq, intended));
            assert_eq!(tag.unpack(opaque, u64::MAX, u64::MAX), (seq, intended));
        }
    }

    #[test]
    fn max_rate_opaques_restore_seq_and_time_within_their_windows() {
        let (tag, _, _) = tags(None);
        let window = 1u64 << SEQ_BITS;
        let span = 1u64 << TIME_BITS;
        for seq in [
            0u64,
            1,
            window - 1,
            window,
            window + 7,
            5 * window + 3,
            u64::MAX / 2,
        ] {
            for intended in [
                0u64,
                1,
                123_456_789,
                span - 1,
                span,
                3 * span + 17,
                u64::MAX / 2,
            ] {
                let opaque = tag.pack(seq, intended);
                // The report comes right away, or as late as the windows allow.
                for (ahead, delay) in [(1u64, 0u64), (2, 1), (window, span - 1), (1000, 5_000)] {
                    let (next, now) = (seq + ahead, intended + delay);
                    assert_eq!(
                        tag.unpack(opaque, next, now),
                        (seq, intended),
                        "seq {seq} intended {intended} next {next} now {now}"
                    );
                }
            }
        }
    }

    #[test]
    fn max_rate_opaques_beyond_their_windows_are_wrong_as_documented() {
        let (tag, _, _) = tags(None);
        let opaque = tag.pack(10, 1_000);
        // 2^24 messages later the sequence number aliases; 2^40 ns later the time does.
        assert_eq!(
            tag.unpack(opaque, 11 + (1 << SEQ_BITS), 1_000).0,
            10 + (1 << SEQ_BITS)
        );
        assert_eq!(
            tag.unpack(opaque, 11, 1_000 + (1 << TIME_BITS)).1,
            1_000 + (1 << TIME_BITS)
        );
    }

    #[test]
    fn max_rate_bounds_are_checked_by_name() {
        assert!(check_max_rate_bounds(None, &[("message.timeout.ms", None)]).is_ok());
        assert!(
            check_max_rate_bounds(Some("1000000"), &[("message.timeout.ms", Some("300000"))])
                .is_ok()
        );
        assert!(check_max_rate_bounds(
            Some("16777215"),
            &[("delivery.timeout.ms", Some("1000000"))]
        )
        .is_ok());
        for q in ["0", "16777216", "2147483647", "lots"] {
            let e = check_max_rate_bounds(Some(q), &[]).unwrap_err();
            assert!(e.contains("queue.buffering.max.messages"), "{e}");
        }
        for t in ["0", "1000001", "2147483647"] {
            let e = check_max_rate_bounds(None, &[("delivery.timeout.ms", Some(t))]).unwrap_err();
            assert!(e.contains("delivery.timeout.ms"), "{e}");
        }
    }
}
