//! How unevenly messages spread over partitions: what partitioner and key choice are about
//! (zipf keys make a hot partition; sticky batches and round-robin should not).

/// Skew of per-partition counts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Skew {
    /// The busiest partition's count over the mean: 1.0 is perfectly even, P when one of P
    /// partitions got everything.
    pub max_over_mean: f64,
    /// Coefficient of variation: standard deviation over the mean (0 = even).
    pub cv: f64,
}

impl Skew {
    /// `None` without partitions or messages.
    pub fn of(counts: &[u64]) -> Option<Skew> {
        let n = counts.len() as f64;
        let total: u64 = counts.iter().sum();
        if counts.is_empty() || total == 0 {
            return None;
        }
        let mean = total as f64 / n;
        let max = counts.iter().copied().max().unwrap_or(0) as f64;
        let var = counts
            .iter()
            .map(|&c| (c as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        Some(Skew {
            max_over_mean: max / mean,
            cv: var.sqrt() / mean,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Skew;

    #[test]
    fn even_hot_and_empty() {
        assert_eq!(
            Skew::of(&[10, 10, 10]),
            Some(Skew {
                max_over_mean: 1.0,
                cv: 0.0
            })
        );
        let hot = Skew::of(&[30, 0, 0]).unwrap();
        assert!((hot.max_over_mean - 3.0).abs() < 1e-12);
        assert!((hot.cv - 2f64.sqrt()).abs() < 1e-12);
        assert_eq!(Skew::of(&[]), None);
        assert_eq!(Skew::of(&[0, 0]), None);
    }
}
