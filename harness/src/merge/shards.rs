//! The shards' run directories, read and checked: they must be shards of one distributed run
//! of one scenario, each index at most once. A directory that is not a shard, or belongs to
//! another run, is refused with its path and the reason (exit 2), before anything is written.

use std::path::{Path, PathBuf};

use crate::error::UsageError;
use crate::rundir::manifest::ShardInfo;
use crate::rundir::read::{self, RunData};

/// One shard's run directory, loaded.
#[derive(Debug, Clone)]
pub struct Shard {
    pub dir: PathBuf,
    pub info: ShardInfo,
    pub data: RunData,
}

/// The shards of one run, in shard order, and the indexes of `0..count` that no directory
/// was given for.
#[derive(Debug, Clone)]
pub struct ShardSet {
    pub shards: Vec<Shard>,
    pub count: u16,
    pub missing: Vec<u16>,
}

/// Load every directory and check that they fit together. Missing shard indexes are refused
/// unless `allow_missing` (then they are listed, and every merged cell is flagged): a shard
/// left out by mistake would silently lower every figure by its share.
pub fn load(dirs: &[PathBuf], allow_missing: bool) -> anyhow::Result<ShardSet> {
    if dirs.is_empty() {
        return Err(UsageError("kbench merge: no shard directories given".into()).into());
    }
    let mut shards = Vec::with_capacity(dirs.len());
    for dir in dirs {
        let data = read::load(dir)?;
        let Some(info) = data.info.shard.clone() else {
            return Err(UsageError(format!(
                "{}: not a shard of a distributed run (its manifest.json has no \"shard\" record; `kbench run --shard I/N` writes one)",
                dir.join(crate::rundir::MANIFEST).display()
            ))
            .into());
        };
        shards.push(Shard {
            dir: dir.clone(),
            info,
            data,
        });
    }
    check_same_run(&shards)?;
    shards.sort_by_key(|s| s.info.index);
    if let Some(w) = shards
        .windows(2)
        .find(|w| w[0].info.index == w[1].info.index)
    {
        return Err(UsageError(format!(
            "{} and {} are both shard {}/{}",
            w[0].dir.display(),
            w[1].dir.display(),
            w[0].info.index,
            w[0].info.count
        ))
        .into());
    }
    let count = shards[0].info.count;
    let missing: Vec<u16> = (0..count)
        .filter(|i| !shards.iter().any(|s| s.info.index == *i))
        .collect();
    if !missing.is_empty() && !allow_missing {
        return Err(UsageError(format!(
            "shard{} {} of {count} missing: give every shard's directory, or pass --allow-missing to merge what there is (every cell is then flagged shard-lost)",
            if missing.len() > 1 { "s" } else { "" },
            list(&missing)
        ))
        .into());
    }
    Ok(ShardSet {
        shards,
        count,
        missing,
    })
}

/// Same shard count, same distributed run id, same scenario as the first directory.
fn check_same_run(shards: &[Shard]) -> anyhow::Result<()> {
    let first = &shards[0];
    let manifest = |s: &Shard| s.dir.join(crate::rundir::MANIFEST);
    for s in &shards[1..] {
        let why = if s.info.count != first.info.count {
            Some(format!(
                "is shard {}/{} but {} is shard {}/{}",
                s.info.index,
                s.info.count,
                first.dir.display(),
                first.info.index,
                first.info.count
            ))
        } else if s.info.distributed_run_id != first.info.distributed_run_id {
            Some(format!(
                "belongs to distributed run {:?}, {} to {:?}",
                s.info.distributed_run_id,
                first.dir.display(),
                first.info.distributed_run_id
            ))
        } else if !s.data.info.scenario.same_as(&first.data.info.scenario) {
            Some(format!(
                "ran a different scenario ({:?}) than {} ({:?}), or the file changed between them",
                s.data.info.scenario.name,
                first.dir.display(),
                first.data.info.scenario.name
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Err(UsageError(format!("{}: {why}", manifest(s).display())).into());
        }
    }
    Ok(())
}

pub fn list(indexes: &[u16]) -> String {
    indexes
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The directory a shard keeps one cell run's files in.
pub fn cell_dir(dir: &Path, cell: &str, repeat: u32) -> PathBuf {
    crate::rundir::CellFiles::new(dir, cell, repeat).dir
}
