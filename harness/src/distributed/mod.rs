//! Distributed load: one scenario run by N kbench processes (shards), usually on N hosts.
//!
//! kbench never starts processes on other hosts: whatever starts N copies (a Kubernetes
//! Indexed Job, a compose profile, a CI matrix, `ssh`) gives each `--shard I/N`. Shard I runs
//! a deterministic, disjoint slice of every cell's producers, consumer-group members and
//! offered rate, so the N shards together offer exactly the scenario's load. Each shard writes
//! an ordinary run directory (its manifest says which shard it is); `kbench merge` turns the
//! shards' directories into one.

pub mod clock;
pub mod control;
pub mod protocol;
pub mod slice;

use std::fmt;
use std::str::FromStr;

/// `--shard I/N`: this process is shard `index` (0-based) of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ShardSpec {
    pub index: u16,
    pub count: u16,
}

impl ShardSpec {
    /// One process running the whole scenario.
    pub const WHOLE: ShardSpec = ShardSpec { index: 0, count: 1 };

    /// Shard 0 alone creates and deletes topics and carries out faults.
    pub fn is_leader(self) -> bool {
        self.index == 0
    }

    pub fn is_distributed(self) -> bool {
        self.count > 1
    }
}

impl fmt::Display for ShardSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for ShardSpec {
    type Err = String;

    /// `I/N` with 0 <= I < N <= 1024 (the stamp has 16 bits for the shard; 1024 is a sane cap).
    fn from_str(s: &str) -> Result<ShardSpec, String> {
        let bad = || format!("--shard {s:?}: expected I/N with 0 <= I < N, e.g. 0/3");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u16 = i.trim().parse().map_err(|_| bad())?;
        let count: u16 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        if count > MAX_SHARDS {
            return Err(format!("--shard {s:?}: at most {MAX_SHARDS} shards"));
        }
        Ok(ShardSpec { index, count })
    }
}

pub const MAX_SHARDS: u16 = 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_specs_parse_and_refuse() {
        assert_eq!(
            "2/3".parse::<ShardSpec>(),
            Ok(ShardSpec { index: 2, count: 3 })
        );
        for bad in ["3/3", "0/0", "a/3", "1", "-1/3", "1/2000"] {
            assert!(bad.parse::<ShardSpec>().is_err(), "{bad}");
        }
        assert!(!ShardSpec::WHOLE.is_distributed() && ShardSpec::WHOLE.is_leader());
    }
}
