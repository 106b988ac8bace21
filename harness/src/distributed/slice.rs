//! Which part of a cell's load a shard runs: pure arithmetic, the same on every shard, so the
//! N shards agree on their slices without telling each other.
//!
//! Producers and the members of every consumer group are dealt out in contiguous blocks, the
//! first `count % N` shards taking one more (k6's execution segments, on whole clients): shard
//! I's producers are the scenario's global producers `first_producer .. first_producer +
//! producers`. A shard with no producer (more shards than producers) still takes part in every
//! barrier. The offered rate and a `messages` budget follow the producers, so every producer
//! offers what it would offer in one process and the slices add up to the scenario's load.

use super::ShardSpec;

/// One shard's slice of a cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Slice {
    /// Producers this shard runs, and the global index of its first one.
    pub producers: usize,
    pub first_producer: usize,
    /// Members of each consumer group this shard runs (the same for every group).
    pub members: usize,
    /// This shard's part of the fleet's rate (msg/s); `None` at max rate.
    pub rate: Option<f64>,
    /// This shard's part of a `[run] messages` budget.
    pub messages: Option<u64>,
}

/// `(start, len)` of part `index` of `total` things dealt out in `parts` contiguous blocks.
pub fn block(total: usize, parts: u16, index: u16) -> (usize, usize) {
    let (parts, index) = (parts as usize, index as usize);
    let (base, extra) = (total / parts, total % parts);
    let len = base + usize::from(index < extra);
    let start = index * base + index.min(extra);
    (start, len)
}

/// Shard `shard`'s slice of a cell of `producers` producers offering `rate` msg/s in total
/// (or `messages` in all), and consumer groups of `members` members each.
pub fn slice(
    shard: ShardSpec,
    producers: usize,
    members: usize,
    rate: Option<f64>,
    messages: Option<u64>,
) -> Slice {
    let (first_producer, mine) = block(producers, shard.count, shard.index);
    let (_, members_here) = block(members, shard.count, shard.index);
    let share = |total: f64| {
        if producers == 0 {
            0.0
        } else {
            total * mine as f64 / producers as f64
        }
    };
    // The budget is dealt per global producer (each its ceiling share, the last ones what
    // is left), so a shard's part is the sum of its producers' parts and the parts add up
    // to exactly the budget.
    let messages = messages.map(|m| {
        let per = m.div_ceil(producers.max(1) as u64);
        (first_producer..first_producer + mine)
            .map(|p| per.min(m.saturating_sub(per * p as u64)))
            .sum()
    });
    Slice {
        producers: mine,
        first_producer,
        members: members_here,
        rate: rate.map(share),
        messages,
    }
}

/// The global index of every shard's first producer, in shard order: a consumer turns a
/// stamp's (shard, local index) into the global producer index with it.
pub fn producer_bases(count: u16, producers: usize) -> Vec<u32> {
    (0..count)
        .map(|i| block(producers, count, i).0 as u32)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(index: u16, count: u16) -> ShardSpec {
        ShardSpec { index, count }
    }

    #[test]
    fn blocks_are_disjoint_contiguous_and_cover_everything() {
        for total in 0..20 {
            for parts in 1..8u16 {
                let mut next = 0;
                for i in 0..parts {
                    let (start, len) = block(total, parts, i);
                    assert_eq!(start, next, "total {total} parts {parts} shard {i}");
                    next += len;
                }
                assert_eq!(next, total);
            }
        }
    }

    #[test]
    fn slices_add_up_to_the_scenario() {
        for (producers, members, n) in [(3, 3, 3), (4, 2, 3), (1, 1, 3), (7, 5, 2), (2, 0, 4)] {
            let slices: Vec<Slice> = (0..n)
                .map(|i| slice(spec(i, n), producers, members, Some(3000.0), Some(1000)))
                .collect();
            assert_eq!(slices.iter().map(|s| s.producers).sum::<usize>(), producers);
            assert_eq!(slices.iter().map(|s| s.members).sum::<usize>(), members);
            let rate: f64 = slices.iter().filter_map(|s| s.rate).sum();
            assert!((rate - 3000.0).abs() < 1e-6, "{rate}");
            let one = slice(ShardSpec::WHOLE, producers, members, None, Some(1000));
            let total: u64 = slices.iter().filter_map(|s| s.messages).sum();
            assert_eq!(Some(total), one.messages);
            assert_eq!(one.messages, Some(1000));
        }
    }

    #[test]
    fn a_shard_beyond_the_producers_gets_none_and_no_rate() {
        let s = slice(spec(2, 3), 2, 1, Some(100.0), Some(10));
        assert_eq!(
            (s.producers, s.members, s.rate, s.messages),
            (0, 0, Some(0.0), Some(0))
        );
        assert_eq!(s.first_producer, 2);
        assert_eq!(producer_bases(3, 2), vec![0, 1, 2]);
        assert_eq!(producer_bases(3, 7), vec![0, 3, 5]);
    }

    #[test]
    fn max_rate_stays_max_rate() {
        assert_eq!(slice(spec(0, 2), 4, 2, None, None).rate, None);
    }
}
