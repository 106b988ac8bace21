//! `kbench run --shard I/N --run-id ID --resume DIR`: finishing a distributed run that stopped
//! (a shard lost, shard 0 gone, an interrupt), every shard again from its own run directory.
//!
//! - **Which cells: the same on every shard.** The directories differ (a killed shard lacks
//!   the cell the others flagged `shard-lost`), so no shard decides alone. Each says `Todo`:
//!   the cells its directory lacks, or has interrupted or flagged `shard-lost`. Shard 0 waits
//!   for every shard's `Todo` and answers `Plan`, the union; every shard then drops its own
//!   rows of those cells and runs them again, in the scenario's order.
//! - **Each attempt its own topics.** A dead attempt's control topic may still exist, full of
//!   stale messages. Attempt 1 uses `kbench-control-<run id>`; attempt k > 1 uses
//!   `kbench-control-<run id>-a<k>`, and its cell topics and stamps' run tags carry the same
//!   attempt id ([`attempt_id`]), so nothing of an earlier attempt is ever read as this one's.
//! - **Who numbers the attempts.** Shard 0: its manifest's attempt + 1, written to its manifest
//!   before the topic is created, so a number is never used twice and shard 0's is the highest
//!   any shard has seen. Another shard joins the highest-numbered control topic above its own
//!   last attempt (an older one lingers only until shard 0 deletes it) and trusts it once
//!   shard 0's `Plan` names the nonce it joined with (a stale topic's `Plan` never does); it
//!   records the attempt only then. So a shard left out of one attempt joins the next all the
//!   same.
//! - **What the dead attempt left.** Shard 0 deletes the topics of its `topics.txt` that still
//!   exist (cell topics on the cluster under test, control topics where they live): kbench
//!   deletes only topics it created.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::shard::{create_control_topic, delete_control_topic, run_shard_cells, ResumeEnv, Shard};
use super::{RunOptions, ShardOptions};
use crate::cluster::admin::{Admin, TOPIC_PREFIX};
use crate::cluster::Access;
use crate::distributed::control::{Control, Received};
use crate::distributed::protocol::{cell_key, Message};
use crate::error::UsageError;
use crate::metrics::cell::Flag;
use crate::rundir::{self, RunDir};
use crate::scenario::Scenario;

/// How often a joining shard looks for a newer control topic while it waits for the plan.
const LOOK_AGAIN: Duration = Duration::from_millis(500);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// The id of attempt `attempt` at run `run_id` (see the module doc).
pub fn attempt_id(run_id: &str, attempt: u32) -> String {
    if attempt <= 1 {
        run_id.to_string()
    } else {
        format!("{run_id}-a{attempt}")
    }
}

/// The attempt a control topic of run `run_id` belongs to, if it is one of this run's
/// later attempts' (`kbench-control-<run id>-a<k>`, k > 1).
fn attempt_of(topic: &str, run_id: &str) -> Option<u32> {
    let k: u32 = topic
        .strip_prefix(&format!("{TOPIC_PREFIX}control-{run_id}-a"))?
        .parse()
        .ok()?;
    (k > 1).then_some(k)
}

/// Resume shard `s.shard` of a distributed run from `dir`. Returns the exit code, as
/// [`super::shard::run_sharded`] does.
pub(super) fn run_resumed(
    dir: &Path,
    s: &ShardOptions,
    env: &ResumeEnv<'_>,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let (scenario, session) = (env.scenario, env.session);
    let spec = s.shard;
    let (mut run, last, repeat) = reopen(dir, scenario, s)?;
    let here = todo_here(&run, scenario, repeat);
    writeln!(
        out,
        "resuming {} (shard {spec} of distributed run {}, last attempt {last}): {} of {} cell runs to do here",
        run.run_id,
        s.run_id,
        here.len(),
        scenario.cells.len() * repeat as usize
    )?;
    let admin = Admin::new(env.control_access, &BTreeMap::new())?;
    let (control, s, plan) = if spec.is_leader() {
        for t in session.delete_leftover_topics(&run.dir)? {
            writeln!(out, "deleted topic {t} left behind by an earlier attempt")?;
        }
        // Where the last attempt's control topic lived, read before this attempt's record.
        for t in cleanup_control_topics(&run.dir, session.access())? {
            writeln!(
                out,
                "deleted control topic {t} left behind by an earlier attempt"
            )?;
        }
        let s = ShardOptions {
            attempt: last + 1,
            ..s.clone()
        };
        create_control_topic(&admin, &run, &s)?;
        let control = Control::open(env.control_access, &s.control_topic(), 0, true, env.skew_ns)?;
        let plan = lead_plan(&control, &s, &here, session);
        match plan {
            Ok(plan) => (control, s, plan),
            Err(e) => {
                drop(control);
                delete_control_topic(&admin, &s.control_topic(), out)?;
                return Err(e);
            }
        }
    } else {
        join(&admin, s, last, &here, env)?
    };
    writeln!(
        out,
        "attempt {} (control topic {}): {} cell run{} to do on every shard{}",
        s.attempt,
        s.control_topic(),
        plan.len(),
        if plan.len() == 1 { "" } else { "s" },
        if plan.is_empty() {
            String::new()
        } else {
            format!(": {}", plan.iter().cloned().collect::<Vec<_>>().join(", "))
        }
    )?;
    forget(&mut run, &plan);
    let opts = RunOptions {
        repeat,
        ..env.opts.clone()
    };
    let shard = Shard::connect(session, &s, &run, control, admin, out)?;
    let result = run_shard_cells(
        scenario,
        session,
        &opts,
        &shard,
        &mut run,
        env.faults,
        Some(&plan),
        out,
    );
    shard.leave(out)?;
    result
}

/// Reopen `dir` as shard `s.shard` of run `s.run_id`: anything else is a usage error naming
/// the manifest. The run directory (interrupted rows already dropped), the last attempt it
/// took part in, and the run's passes (`--repeat` as first given).
fn reopen(dir: &Path, scenario: &Scenario, s: &ShardOptions) -> anyhow::Result<(RunDir, u32, u32)> {
    let path = dir.join(rundir::MANIFEST);
    let manifest = rundir::read::read_manifest(&path)?;
    let refuse = |why: String| -> anyhow::Error {
        UsageError(format!("--resume {}: {why}", path.display())).into()
    };
    let Some(info) = manifest.shard else {
        return Err(refuse(
            "not a shard's run directory (no \"shard\" record): resume it without --shard".into(),
        ));
    };
    if info.distributed_run_id != s.run_id {
        return Err(refuse(format!(
            "belongs to distributed run {:?}, not --run-id {:?}",
            info.distributed_run_id, s.run_id
        )));
    }
    if (info.index, info.count) != (s.shard.index, s.shard.count) {
        return Err(refuse(format!(
            "was written by shard {}/{}, not --shard {}: give each shard its own directory",
            info.index, info.count, s.shard
        )));
    }
    // The scenario check (and dropping interrupted rows) is the one a plain resume makes.
    let (run, repeat) = RunDir::resume(dir, scenario)?;
    Ok((run, info.attempt.max(1), repeat))
}

/// The cell keys this directory lacks, or holds flagged `shard-lost` (interrupted rows were
/// dropped when it was reopened), in run order.
fn todo_here(run: &RunDir, scenario: &Scenario, repeat: u32) -> Vec<String> {
    let lost = Flag::ShardLost.name();
    let flagged = |cell: &str, r: u32| {
        run.rows.iter().any(|row| {
            row.cell == cell && row.repeat == r && row.flags.split(';').any(|f| f == lost)
        })
    };
    (1..=repeat)
        .flat_map(|r| scenario.cells.iter().map(move |c| (r, c)))
        .filter(|(r, c)| !run.done(&c.id, *r) || flagged(&c.id, *r))
        .map(|(r, c)| cell_key(&c.id, r))
        .collect()
}

/// Drop every row of the cells about to run again (the files on disk follow at the next
/// cell's write; the cell's own files are cleared just before its new ones are written).
fn forget(run: &mut RunDir, plan: &BTreeSet<String>) {
    run.rows
        .retain(|r| !plan.contains(&cell_key(&r.cell, r.repeat)));
    run.series
        .retain(|r| !plan.contains(&cell_key(&r.cell, r.repeat)));
}

/// Remove the files (not the `repeat-<r>/` or `probe-<n>/` folders) of a cell's directory.
pub(super) fn clear_cell_files(dir: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for e in entries {
        let e = e?;
        if e.file_type()?.is_file() {
            std::fs::remove_file(e.path())?;
        }
    }
    Ok(())
}

/// Every shard's latest `Todo` on the topic: shard -> (nonce, cells).
fn todos(log: &[Received]) -> BTreeMap<u16, (u64, Vec<String>)> {
    let mut t = BTreeMap::new();
    for r in log {
        if let Message::Todo {
            shard,
            nonce,
            cells,
        } = &r.message
        {
            t.insert(*shard, (*nonce, cells.clone()));
        }
    }
    t
}

/// Shard 0: wait for every other shard's `Todo`, then say and return the union of all.
fn lead_plan(
    control: &Control,
    s: &ShardOptions,
    here: &[String],
    session: &crate::session::Session,
) -> anyhow::Result<BTreeSet<String>> {
    let count = s.shard.count;
    let deadline = Instant::now() + s.barrier_timeout;
    let all = control.wait_for(deadline, |log| {
        let t = todos(log);
        let joined = (1..count).all(|i| t.contains_key(&i));
        (joined || session.shutdown.is_triggered()).then_some(t)
    });
    if session.shutdown.is_triggered() {
        bail!("interrupted while waiting for the other shards to join");
    }
    let Some(all) = all else {
        let t = control.peek(todos);
        let missing: Vec<String> = (1..count)
            .filter(|i| !t.contains_key(i))
            .map(|i| i.to_string())
            .collect();
        bail!(
            "shard(s) {} did not join attempt {} of run {} within {:?} (--barrier-timeout): start every shard with --resume of its own directory",
            missing.join(", "),
            s.attempt,
            s.run_id,
            s.barrier_timeout
        );
    };
    let cells = union(here, all.values().map(|(_, c)| c.as_slice()));
    let mut nonces = vec![0u64; count as usize];
    for (i, (nonce, _)) in &all {
        if let Some(n) = nonces.get_mut(*i as usize) {
            *n = *nonce;
        }
    }
    control.send(&Message::Plan {
        cells: cells.iter().cloned().collect(),
        nonces,
    })?;
    Ok(cells)
}

/// The cells to run again: everything any shard lacks.
fn union<'a>(here: &[String], others: impl Iterator<Item = &'a [String]>) -> BTreeSet<String> {
    let mut all: BTreeSet<String> = here.iter().cloned().collect();
    for cells in others {
        all.extend(cells.iter().cloned());
    }
    all
}

/// A shard other than 0: find this attempt's control topic, say `Todo`, and wait for the plan
/// that names this process's nonce. Returns the open control client, the options of the
/// attempt joined, and the plan.
fn join(
    admin: &Admin,
    s: &ShardOptions,
    last: u32,
    here: &[String],
    env: &ResumeEnv<'_>,
) -> anyhow::Result<(Control, ShardOptions, BTreeSet<String>)> {
    let session = env.session;
    let me = s.shard.index;
    let nonce = rand::random::<u64>();
    let deadline = Instant::now() + s.barrier_timeout;
    let prefix = format!("{TOPIC_PREFIX}control-{}-a", s.run_id);
    let mut joined: Option<(u32, Control)> = None;
    loop {
        if session.shutdown.is_triggered() {
            bail!("interrupted while joining the resumed run");
        }
        // The newest attempt's topic: shard 0's current one is numbered above any older.
        let newest = admin
            .topics_starting_with(&prefix, ADMIN_TIMEOUT)?
            .iter()
            .filter_map(|t| attempt_of(t, &s.run_id))
            .filter(|k| *k > last)
            .max();
        if let Some(k) = newest.filter(|k| joined.as_ref().is_none_or(|(j, _)| k > j)) {
            let topic = format!("{prefix}{k}");
            let control = Control::open(env.control_access, &topic, me, false, env.skew_ns)?;
            let said = control.send(&Message::Todo {
                shard: me,
                nonce,
                cells: here.to_vec(),
            });
            // A send that fails is most likely to a stale attempt's topic that shard 0 has
            // just deleted: look again rather than give up.
            if said.is_ok() {
                joined = Some((k, control));
            }
        }
        let wait = (Instant::now() + LOOK_AGAIN).min(deadline);
        if let Some((k, control)) = &joined {
            let plan = control.wait_for(wait, |log| {
                log.iter().find_map(|r| match &r.message {
                    Message::Plan { cells, nonces } if nonces.get(me as usize) == Some(&nonce) => {
                        Some(cells.clone())
                    }
                    _ => None,
                })
            });
            if let Some(cells) = plan {
                let s = ShardOptions {
                    attempt: *k,
                    ..s.clone()
                };
                let (_, control) = joined.take().expect("joined");
                return Ok((control, s, cells.into_iter().collect()));
            }
        } else {
            std::thread::sleep(wait.saturating_duration_since(Instant::now()));
        }
        if Instant::now() >= deadline {
            bail!(
                "no plan from shard 0 for a new attempt at run {} within {:?} (--barrier-timeout): is shard 0 resumed too (--resume of its own directory)?",
                s.run_id,
                s.barrier_timeout
            );
        }
    }
}

/// `kbench cleanup`'s and a resumed shard 0's half for a run whose control topic lived on
/// another cluster (`--control-bootstrap`, recorded in the manifest): the run's registered
/// control topics that still exist there, deleted; their names. Nothing for a run whose
/// control topic was on the cluster under test (the usual cleanup finds it there). `access`
/// is the connection to the cluster under test, whose client config the control cluster
/// shares, as in the run.
pub fn cleanup_control_topics(run_dir: &Path, access: &Access) -> anyhow::Result<Vec<String>> {
    let m = rundir::read::read_manifest(&run_dir.join(rundir::MANIFEST))?;
    // A shard's own record, or (a merged directory) its shards'.
    let recorded = m
        .shard
        .into_iter()
        .chain(m.shards)
        .find_map(|s| s.control_bootstrap);
    let Some(bootstrap) = recorded else {
        return Ok(Vec::new());
    };
    let control = super::shard::control_access(Some(&bootstrap), access)?;
    delete_leftover_control_topics(run_dir, &control)
}

/// The run's registered control topics that still exist on `control`, deleted; their names.
fn delete_leftover_control_topics(run_dir: &Path, control: &Access) -> anyhow::Result<Vec<String>> {
    let control_prefix = format!("{TOPIC_PREFIX}control-");
    let ours: Vec<String> = rundir::registered_topics(run_dir)?
        .into_iter()
        .filter(|t| t.starts_with(&control_prefix))
        .collect();
    if ours.is_empty() {
        return Ok(Vec::new());
    }
    let admin = Admin::new(control, &BTreeMap::new())?;
    let there = admin.topics_starting_with(&control_prefix, ADMIN_TIMEOUT)?;
    let left: Vec<String> = ours.into_iter().filter(|t| there.contains(t)).collect();
    let names: Vec<&str> = left.iter().map(String::as_str).collect();
    admin.delete_topics(&names, ADMIN_TIMEOUT)?;
    Ok(left)
}

/// A plain `--resume` (no `--shard`) of a shard's directory is refused: it would run every
/// cell whole, alone, in a directory that holds one shard's slice.
pub(super) fn refuse_shard_dir_without_shard(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(rundir::MANIFEST);
    let m = rundir::read::read_manifest(&path)?;
    match m.shard {
        Some(info) => Err(UsageError(format!(
            "--resume {}: shard {}/{} of distributed run {:?}: resume it with --shard {}/{} --run-id {}",
            path.display(),
            info.index,
            info.count,
            info.distributed_run_id,
            info.index,
            info.count,
            info.distributed_run_id
        ))
        .into()),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_have_their_own_ids_and_topics_are_read_back() {
        assert_eq!(attempt_id("r1", 0), "r1");
        assert_eq!(attempt_id("r1", 1), "r1");
        assert_eq!(attempt_id("r1", 3), "r1-a3");
        assert_eq!(attempt_of("kbench-control-r1-a3", "r1"), Some(3));
        assert_eq!(attempt_of("kbench-control-r1", "r1"), None);
        assert_eq!(attempt_of("kbench-control-r1-a1", "r1"), None);
        assert_eq!(attempt_of("kbench-control-r1-ax", "r1"), None);
        assert_eq!(attempt_of("kbench-control-r2-a3", "r1"), None);
    }

    #[test]
    fn the_plan_is_the_union_of_every_shards_todo() {
        let here = vec!["b#1".to_string()];
        let one = vec!["a#1".to_string(), "b#1".to_string()];
        let two: Vec<String> = Vec::new();
        let u = union(&here, [one.as_slice(), two.as_slice()].into_iter());
        assert_eq!(u.into_iter().collect::<Vec<_>>(), ["a#1", "b#1"]);
        assert!(union(&[], std::iter::empty()).is_empty());
    }

    #[test]
    fn only_a_cells_files_are_cleared() {
        let dir = tempfile::tempdir().unwrap();
        let cell = dir.path().join("c");
        std::fs::create_dir_all(cell.join("repeat-2")).unwrap();
        std::fs::write(cell.join("e2e.hlog"), "x").unwrap();
        std::fs::write(cell.join("repeat-2/e2e.hlog"), "x").unwrap();
        clear_cell_files(&cell).unwrap();
        assert!(!cell.join("e2e.hlog").exists());
        assert!(cell.join("repeat-2/e2e.hlog").exists());
        clear_cell_files(&dir.path().join("absent")).unwrap();
    }
}
