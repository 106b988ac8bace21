//! One shard of a distributed run (`kbench run --shard I/N --run-id ID`): this shard's slice
//! of every cell ([`crate::distributed::slice`]), in step with the other shards through the
//! control topic ([`crate::distributed::protocol`]).
//!
//! - Shard 0 creates the control topic `kbench-control-<run id>` (registered in its
//!   `topics.txt` like any topic of kbench's, deleted at the end); the others wait for it. A
//!   resumed run (`--resume`, [`super::shard_resume`]) is a new attempt with topics of its own.
//! - Every other shard measures its clock offset to shard 0 at the start and again before
//!   every cell (clocks drift), and stamps wall-clock time corrected by it; every row states
//!   the bound (`e2e_clock_bound_us`).
//! - Per cell, shard 0 alone creates (and deletes) the topic and carries out the faults; every
//!   shard starts its consumers and says it is ready; shard 0 gives the start time once every
//!   shard is ready and the groups' partitions are covered; the shards drain together (every
//!   shard's acks read by every group) and say done.
//! - A shard that is not ready, stops answering or is not done within `--barrier-timeout`
//!   is lost: the cell is flagged `shard-lost` (which: `shards_lost`), written as usual, and
//!   the run stops there (exit 1): a later cell without that shard would not offer the
//!   scenario's load, and a shard that died may be dying again. Finished cells are intact.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use super::cell::{run_on_topic, CellEnv, CellOutcome, DistributedFacts, Lockstep};
use super::{fault_target, finish_run, record_cell, shard_resume, RunOptions};
use crate::cluster::admin::{Admin, TOPIC_PREFIX};
use crate::cluster::Access;
use crate::distributed::clock::{self as dclock, Offset, Probe};
use crate::distributed::control::{Control, Received};
use crate::distributed::protocol::{cell_key, groups_covered, Message};
use crate::distributed::slice::{self, producer_bases};
use crate::distributed::ShardSpec;
use crate::error::UsageError;
use crate::fleet::{Fleet, FleetPlan};
use crate::metrics::cell::Flag;
use crate::metrics::delivery::GroupAccount;
use crate::metrics::Clock;
use crate::rundir::manifest::{Host, ShardInfo};
use crate::rundir::{CellFiles, RunDir};
use crate::scenario::{CellSpec, Scenario};
use crate::session::Session;

/// `--shard I/N` and its companions.
#[derive(Debug, Clone)]
pub struct ShardOptions {
    pub shard: ShardSpec,
    /// The id every shard of the run shares (`--run-id`): it names the control topic and the
    /// cells' topics, and seeds the stamps' run tags.
    pub run_id: String,
    /// The cluster carrying the control topic (`--control-bootstrap`); `None`: the cluster
    /// under test.
    pub control_bootstrap: Option<String>,
    /// How long a barrier waits for a shard before it counts as lost.
    pub barrier_timeout: Duration,
    /// Which attempt at the run this is: 1, or more once resumed (`shard_resume`).
    pub attempt: u32,
}

impl ShardOptions {
    /// The id of this attempt at the run: the run id for the first, `<run id>-a<k>` for
    /// attempt k. It names the attempt's control and cell topics and seeds its stamps' run
    /// tags, so nothing an earlier attempt left behind is ever read as this one's.
    pub fn attempt_id(&self) -> String {
        shard_resume::attempt_id(&self.run_id, self.attempt)
    }

    /// This attempt's control topic.
    pub fn control_topic(&self) -> String {
        format!("{TOPIC_PREFIX}control-{}", self.attempt_id())
    }
}

/// Clock probes per shard; the one with the smallest round trip is kept.
const PROBES: u32 = 8;
/// A probe after the first waits this long for its answer.
const PROBE_WAIT: Duration = Duration::from_secs(2);
/// Shard 0 sets the start this far after it says so, so every shard hears it in time.
const START_DELAY: Duration = Duration::from_millis(500);
/// How often a waiting shard looks again (and re-announces a changed assignment).
const POLL: Duration = Duration::from_millis(100);
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

/// `--run-id`: what the run's topic names can carry.
pub fn check_run_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "--run-id {id:?}: expected 1 to 100 characters of A-Z a-z 0-9 . _ -"
        ))
    }
}

/// What `--shard` cannot do yet, for `run` and `find-max` alike (exit 2 before any load).
pub fn refuse_unsupported(scenario: &Scenario) -> Result<(), UsageError> {
    if scenario.cells.iter().any(|c| c.topic.existing.is_some()) {
        return Err(UsageError(format!(
            "{}: [topic] existing is not supported with --shard",
            scenario.path.display()
        )));
    }
    if scenario
        .cells
        .iter()
        .any(|c| c.topic.create == crate::scenario::TopicCreate::Auto)
    {
        // Every shard would race to be the first writer; shard 0 alone makes topics.
        return Err(UsageError(format!(
            "{}: [topic] create = \"auto\" is not supported with --shard",
            scenario.path.display()
        )));
    }
    if scenario.cells.iter().any(|c| !c.consumer_faults.is_empty()) {
        // Members are numbered per shard: "member 1 of group 0" would be one on every shard.
        return Err(UsageError(format!(
            "{}: [[fault]] action = \"leave\" / \"join\" is not supported with --shard",
            scenario.path.display()
        )));
    }
    Ok(())
}

/// Run `scenario` as shard `s.shard` of a distributed run. Returns the exit code: 0, 1 when a
/// shard was lost (the run stopped after that cell), 130 when interrupted.
pub(super) fn run_sharded(
    scenario: &Scenario,
    session: &Session,
    opts: &RunOptions,
    s: &ShardOptions,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    refuse_unsupported(scenario)?;
    check_run_id(&s.run_id).map_err(UsageError)?;
    let spec = s.shard;
    let skew_ns = dclock::test_skew_ns().map_err(UsageError)?;
    let faults = if spec.is_leader() {
        fault_target(scenario, session)?
    } else {
        None
    };
    if let Some(dir) = &opts.resume {
        let control_access = control_access(s.control_bootstrap.as_deref(), session.access())?;
        let env = ResumeEnv {
            scenario,
            session,
            opts,
            faults: faults.as_ref(),
            control_access: &control_access,
            skew_ns,
        };
        return shard_resume::run_resumed(dir, s, &env, out);
    }
    let mut run = session.create_run(
        &opts.reports_dir,
        &format!("{}-shard{}", scenario.name, spec.index),
        Some(scenario),
        opts.repeat,
        None,
    )?;
    writeln!(
        out,
        "run {} shard {spec} of distributed run {}: {} cells against {} (control topic {})",
        run.run_id,
        s.run_id,
        scenario.cells.len(),
        session.bootstrap(),
        s.control_topic(),
    )?;
    writeln!(out, "reports: {}", run.dir.display())?;
    let shard = Shard::join(session, s, &run, skew_ns, out)?;
    let result = run_shard_cells(
        scenario,
        session,
        opts,
        &shard,
        &mut run,
        faults.as_ref(),
        None,
        out,
    );
    shard.leave(out)?;
    result
}

/// What a resumed shard needs of its command besides the run directory.
pub(super) struct ResumeEnv<'a> {
    pub scenario: &'a Scenario,
    pub session: &'a Session,
    pub opts: &'a RunOptions,
    pub faults: Option<&'a crate::fault::Target>,
    pub control_access: &'a Access,
    pub skew_ns: i64,
}

/// The connection to the cluster carrying the control topic.
pub(super) fn control_access(
    control_bootstrap: Option<&str>,
    access: &Access,
) -> anyhow::Result<Access> {
    Ok(match control_bootstrap {
        None => access.clone(),
        Some(b) => match access.file() {
            Some(f) => Access::with_file(b, f)?,
            None => Access::plaintext(b),
        },
    })
}

/// Shard 0 creates this attempt's control topic and registers it in its `topics.txt`. Its
/// manifest's `shard` record (attempt, control cluster) is written first, so that whatever
/// happens next, the attempt's number is never used again and `kbench cleanup` knows where
/// the topic lives.
pub(super) fn create_control_topic(
    admin: &Admin,
    run: &RunDir,
    s: &ShardOptions,
) -> anyhow::Result<()> {
    record_shard_in_manifest(run, s, Offset::default())?;
    let control_topic = s.control_topic();
    let brokers = admin.broker_count(Duration::from_secs(10))?;
    admin
        .create_topic(
            &control_topic,
            1,
            brokers.min(3) as i32,
            &BTreeMap::new(),
            ADMIN_TIMEOUT,
        )
        .with_context(|| {
            format!(
                "creating the control topic {control_topic} (is --run-id {} already used?)",
                s.run_id
            )
        })?;
    run.register_topic(&control_topic)?;
    Ok(())
}

/// Shard 0, at the end: every shard said done (or was lost) before it got here.
pub(super) fn delete_control_topic(
    admin: &Admin,
    topic: &str,
    out: &mut impl Write,
) -> anyhow::Result<()> {
    if let Err(e) = admin.delete_topics(&[topic], ADMIN_TIMEOUT) {
        writeln!(
            out,
            "control topic {topic} not deleted: {e} (kbench cleanup deletes it)"
        )?;
    }
    Ok(())
}

/// The cells of the run, in step through `shard`: every cell, or only the cell keys of `plan`
/// (a resumed run; their earlier rows already dropped).
#[allow(clippy::too_many_arguments)]
pub(super) fn run_shard_cells(
    scenario: &Scenario,
    session: &Session,
    opts: &RunOptions,
    shard: &Shard<'_>,
    run: &mut RunDir,
    faults: Option<&crate::fault::Target>,
    plan: Option<&BTreeSet<String>>,
    out: &mut impl Write,
) -> anyhow::Result<i32> {
    let spec = shard.spec();
    let todo = (1..=opts.repeat).flat_map(|r| scenario.cells.iter().map(move |c| (r, c)));
    let mut lost_in = None;
    for (repeat, cell) in todo {
        if session.shutdown.is_triggered() {
            break;
        }
        let key = cell_key(&cell.id, repeat);
        if plan.is_some_and(|p| !p.contains(&key)) {
            continue;
        }
        let files = CellFiles::new(&run.dir, &cell.id, repeat);
        let topic = shard.cell_topic(&format!("{}{}", cell.id, files.suffix));
        let mine = sliced(cell, spec);
        let env = CellEnv {
            session,
            run: &*run,
            quiet: opts.quiet,
            faults,
            client_stats: Some(files.librdkafka_dir()),
        };
        let outcome = match shard.run_cell(cell, &mine, &key, &topic, &env, None) {
            Ok(o) => o.outcome,
            Err(e) => {
                writeln!(out, "cell {}: failed: {e:#}", cell.id)?;
                return Err(e.context(format!("cell {}", cell.id)));
            }
        };
        if plan.is_some() {
            // A cell done again: no file of the earlier attempt may stay beside the new ones.
            shard_resume::clear_cell_files(&files.dir)?;
        }
        record_cell(run, &mine, repeat, &files, &outcome, out)?;
        let lost = outcome
            .distributed
            .as_ref()
            .map(|d| d.shards_lost.clone())
            .unwrap_or_default();
        if !lost.is_empty() {
            lost_in = Some((cell.id.clone(), lost));
            break;
        }
    }
    let code = finish_run(run, session, out)?;
    if let Some((cell, lost)) = lost_in {
        writeln!(
            out,
            "run stopped after cell {cell}: shard(s) {lost:?} lost (flagged shard-lost); finished cells are in {}",
            run.dir.display()
        )?;
        return Ok(1);
    }
    Ok(code)
}

/// The manifest's `shard` record: which shard, of which run, with what clock offset.
fn record_shard_in_manifest(run: &RunDir, s: &ShardOptions, offset: Offset) -> anyhow::Result<()> {
    let mut m = crate::rundir::read::read_manifest(&run.dir.join(crate::rundir::MANIFEST))?;
    m.shard = Some(ShardInfo {
        index: s.shard.index,
        count: s.shard.count,
        distributed_run_id: s.run_id.clone(),
        host: Host::this(),
        // The manifest states this shard's clock minus shard 0's.
        clock_offset_ns: -offset.offset_ns,
        clock_offset_bound_ns: offset.bound_ns,
        attempt: s.attempt,
        control_bootstrap: s.control_bootstrap.clone(),
    });
    run.write_manifest(&m)
}

/// This shard's slice of `cell`: its producers, members and rate.
pub fn sliced(cell: &CellSpec, shard: ShardSpec) -> CellSpec {
    let s = slice::slice(
        shard,
        cell.producers.count,
        cell.consumers.members,
        cell.producers.rate,
        cell.run.messages,
    );
    let mut mine = cell.clone();
    mine.producers.count = s.producers;
    mine.producers.rate = s.rate;
    mine.consumers.members = s.members;
    mine.run.messages = s.messages;
    mine
}

/// The stamps' run tag of a cell: the same on every shard (FNV-1a of the run id and the
/// cell's key, stable across builds), different for every run and cell.
fn run_tag(run_id: &str, key: &str) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in run_id.bytes().chain([0]).chain(key.bytes()) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h
}

fn wait_for_topic(
    admin: &Admin,
    topic: &str,
    s: &ShardOptions,
    session: &Session,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + s.barrier_timeout;
    loop {
        if admin.describe(topic, Duration::from_secs(10))?.is_some() {
            return Ok(());
        }
        if session.shutdown.is_triggered() {
            bail!("interrupted while waiting for the control topic {topic}");
        }
        if Instant::now() >= deadline {
            bail!(
                "shard 0 did not create the control topic {topic} within {:?} (--barrier-timeout): is shard 0 running with --run-id {}?",
                s.barrier_timeout,
                s.run_id
            );
        }
        std::thread::sleep(POLL * 2);
    }
}

/// NTP-style probes of shard 0's clock through the control topic; the best one is kept.
/// The first probe waits up to `first_wait` (shard 0 may not have started yet).
fn measure_offset(
    control: &Control,
    s: &ShardOptions,
    session: &Session,
    first_wait: Duration,
) -> anyhow::Result<Offset> {
    let shard = s.shard.index;
    let mut probes = Vec::new();
    // The first answer may wait for shard 0 to start; the others come within ms.
    let first_deadline = Instant::now() + first_wait;
    for seq in 0..PROBES {
        if session.shutdown.is_triggered() {
            bail!("interrupted while measuring the clock offset");
        }
        let t0 = control.wall_ns();
        control.send(&Message::Ping { shard, seq, t0 })?;
        let deadline = if probes.is_empty() {
            first_deadline
        } else {
            Instant::now() + PROBE_WAIT
        };
        let answer = control.wait_for(deadline, |log| {
            log.iter().find_map(|r| match r.message {
                Message::Pong {
                    shard: to,
                    seq: q,
                    t0: sent,
                    t1,
                    t2,
                } if to == shard && q == seq && sent == t0 => Some(Probe {
                    t0,
                    t1,
                    t2,
                    t3: r.at_ns,
                }),
                _ => None,
            })
        });
        match answer {
            Some(p) => probes.push(p),
            None if probes.is_empty() => bail!(
                "shard 0 answered no clock probe within {:?} (--barrier-timeout): is it running with --run-id {}?",
                first_wait,
                s.run_id
            ),
            None => {}
        }
    }
    dclock::best(&probes).ok_or_else(|| anyhow!("no clock probe answered"))
}

/// A shard's side of a distributed run, for every driver (`run`, `find-max`): the control
/// topic and its client, and the clock offset to shard 0.
pub struct Shard<'a> {
    control: Control,
    opts: &'a ShardOptions,
    /// The latest estimate (measured again before every cell).
    offset: Cell<Offset>,
    session: &'a Session,
    admin: Admin,
    control_topic: String,
}

/// A cell run in step: this shard's outcome and what each shard published about it.
pub struct ShardedCell {
    pub outcome: CellOutcome,
    /// Per shard (this one included, as read back from the control topic), the body of its
    /// `Share` for the cell; only when the driver asked for shares.
    pub shares: BTreeMap<u16, serde_json::Value>,
}

impl<'a> Shard<'a> {
    /// Join the distributed run `s` from `run` (this shard's run directory): shard 0 creates
    /// the control topic (registered in `run`'s `topics.txt`), the others wait for it; every
    /// shard but 0 measures its clock offset; the manifest records the shard.
    pub fn join(
        session: &'a Session,
        s: &'a ShardOptions,
        run: &RunDir,
        skew_ns: i64,
        out: &mut impl Write,
    ) -> anyhow::Result<Shard<'a>> {
        let spec = s.shard;
        let control_access = control_access(s.control_bootstrap.as_deref(), session.access())?;
        let control_topic = s.control_topic();
        let admin = Admin::new(&control_access, &BTreeMap::new())?;
        if spec.is_leader() {
            create_control_topic(&admin, run, s)?;
        } else {
            wait_for_topic(&admin, &control_topic, s, session)?;
        }
        let opened = Control::open(
            &control_access,
            &control_topic,
            spec.index,
            spec.is_leader(),
            skew_ns,
        );
        match opened {
            Ok(control) => Shard::connect(session, s, run, control, admin, out),
            Err(e) => {
                if spec.is_leader() {
                    let _ = admin.delete_topics(&[control_topic.as_str()], ADMIN_TIMEOUT);
                }
                Err(e.into())
            }
        }
    }

    /// Join on `control`, already open on this attempt's control topic (`admin` reaches its
    /// cluster): every shard but 0 measures its clock offset; the manifest records the shard.
    /// On failure shard 0 deletes the control topic.
    pub(super) fn connect(
        session: &'a Session,
        s: &'a ShardOptions,
        run: &RunDir,
        control: Control,
        admin: Admin,
        out: &mut impl Write,
    ) -> anyhow::Result<Shard<'a>> {
        let spec = s.shard;
        let control_topic = s.control_topic();
        let measured = (|| {
            let offset = if spec.is_leader() {
                Offset::default()
            } else {
                measure_offset(&control, s, session, s.barrier_timeout)?
            };
            writeln!(
                out,
                "shard {spec}: clock offset to shard 0 {:+.3} ms, known within {:.3} ms",
                offset.offset_ns as f64 / 1e6,
                offset.bound_ns as f64 / 1e6
            )?;
            record_shard_in_manifest(run, s, offset)?;
            anyhow::Ok(offset)
        })();
        match measured {
            Ok(offset) => Ok(Shard {
                control,
                opts: s,
                offset: Cell::new(offset),
                session,
                admin,
                control_topic,
            }),
            Err(e) => {
                drop(control);
                if spec.is_leader() {
                    let _ = admin.delete_topics(&[control_topic.as_str()], ADMIN_TIMEOUT);
                }
                Err(e)
            }
        }
    }

    /// Leave the run: shard 0 deletes the control topic (every shard said done, or was lost,
    /// before shard 0 gets here).
    pub fn leave(self, out: &mut impl Write) -> anyhow::Result<()> {
        let Shard {
            control,
            opts,
            admin,
            control_topic,
            ..
        } = self;
        drop(control);
        if opts.shard.is_leader() {
            if let Err(e) = admin.delete_topics(&[control_topic.as_str()], ADMIN_TIMEOUT) {
                writeln!(
                    out,
                    "control topic {control_topic} not deleted: {e} (kbench cleanup deletes it)"
                )?;
            }
        }
        Ok(())
    }

    pub fn spec(&self) -> ShardSpec {
        self.opts.shard
    }

    /// Before a cell (shards but 0): the offset to shard 0 measured again. Clocks without NTP
    /// drift by tens of ppm (36-180 ms an hour), so a bound measured once at the start would
    /// not hold through a long run. Costs a few round trips on the control topic (about 20
    /// ms on one host); if shard 0 answers none, the last estimate stays (the barrier that
    /// follows finds a lost shard 0).
    fn measure_clock_again(&self) {
        if let Ok(o) = measure_offset(&self.control, self.opts, self.session, PROBE_WAIT) {
            self.offset.set(o);
        }
    }

    /// The name of a cell's topic in this run: `kbench-<run id>-<name>`, the same on every
    /// shard.
    pub fn cell_topic(&self, name: &str) -> String {
        format!("{TOPIC_PREFIX}{}-{name}", self.opts.attempt_id())
    }

    /// Make sure every shard runs with shard 0's `settings` (a driver's options that decide
    /// what the shards do, e.g. find-max's search): shard 0 announces them under `topic`; any
    /// other shard waits for them and refuses to go on with different ones (exit 2), naming
    /// both. Shard 0 does not wait: a shard that refuses never becomes ready, and is lost.
    pub fn agree(&self, topic: &str, settings: &serde_json::Value) -> anyhow::Result<()> {
        let spec = self.spec();
        if spec.is_leader() {
            self.control.send(&Message::Share {
                cell: topic.to_string(),
                shard: 0,
                body: settings.clone(),
            })?;
            return Ok(());
        }
        // Compared as shard 0's would read back: the same JSON text parses to the same value
        // (a float parsed from text may differ from the one that was written).
        let settings: serde_json::Value = serde_json::from_slice(&serde_json::to_vec(settings)?)?;
        let settings = &settings;
        let deadline = Instant::now() + self.opts.barrier_timeout;
        let leaders = self
            .control
            .wait_for(deadline, |log| shares_of(log, topic).remove(&0));
        match leaders {
            None => bail!(
                "shard 0 did not announce its {topic} settings within {:?} (--barrier-timeout): is it running with --run-id {}?",
                self.opts.barrier_timeout,
                self.opts.run_id
            ),
            Some(theirs) if &theirs != settings => Err(UsageError(format!(
                "shard {spec} runs with other {topic} settings than shard 0: shard 0 {theirs}, this shard {settings}; give every shard the same options"
            ))
            .into()),
            Some(_) => Ok(()),
        }
    }

    /// One cell: topic (shard 0 creates it, the others hear of it), the timeline in step,
    /// the done barrier, the topic deleted (shard 0). `cell` is the whole fleet's cell,
    /// `mine` this shard's slice of it ([`sliced`]), `key` names it on the control topic.
    /// With `share`, every shard publishes what it makes of its outcome before it says done,
    /// and the result holds every shard's share (a driver that judges the whole fleet, such
    /// as find-max, merges them).
    pub fn run_cell(
        &self,
        cell: &CellSpec,
        mine: &CellSpec,
        key: &str,
        topic: &str,
        env: &CellEnv<'_>,
        share: Option<&dyn Fn(&CellOutcome) -> serde_json::Value>,
    ) -> anyhow::Result<ShardedCell> {
        let leader = self.spec().is_leader();
        if leader {
            let t = &cell.topic;
            let created = self
                .session
                .create_topic(
                    env.run,
                    topic,
                    t.partitions,
                    t.replication_factor,
                    &t.configs,
                )
                .and_then(|()| {
                    self.session
                        .wait_for_leaders(topic, t.partitions, t.replication_factor)
                });
            if let Err(e) = created {
                let _ = self.control.send(&Message::Abort {
                    cell: key.to_string(),
                    reason: format!("{e:#}"),
                });
                return Err(e);
            }
            self.control.send(&Message::Topic {
                cell: key.to_string(),
                topic: topic.to_string(),
            })?;
        } else {
            self.wait_for_topic_word(key, topic)?;
            self.measure_clock_again();
        }
        let lock = CellLockstep::new(self, cell, key);
        let result = run_on_topic(mine, topic, env, Some(&lock));
        let mut outcome = match result {
            Ok(o) => o,
            Err(e) => {
                if leader {
                    let _ = self.control.send(&Message::Abort {
                        cell: key.to_string(),
                        reason: format!("{e:#}"),
                    });
                    let _ = self.session.delete_topics(&[topic]);
                }
                return Err(e);
            }
        };
        // The fleet's own lag and delivery account know only this shard's producers; the
        // lag across shards is what the progress messages add up to. Lost, duplicated and
        // reordered need every shard's acks and reads: only `kbench merge` can count them,
        // so a shard's row (and its share) leaves them 0.
        if let Some(lag) = lock.state.borrow().lag {
            outcome.consumer_lag = lag;
        }
        outcome.delivery = GroupAccount::default();
        if let Some(share) = share {
            // Before `Done`, from the same producer to the one partition: whoever hears a
            // shard's `Done` has its share already.
            self.control.send(&Message::Share {
                cell: key.to_string(),
                shard: self.spec().index,
                body: share(&outcome),
            })?;
        }
        self.control.send(&Message::Done {
            cell: key.to_string(),
            shard: self.spec().index,
        })?;
        let lost = self.done_barrier(key, &lock.state.borrow().lost);
        let shares = if share.is_some() {
            self.control.peek(|log| shares_of(log, key))
        } else {
            BTreeMap::new()
        };
        if leader {
            // Every shard is done with the topic (or lost).
            self.session.delete_topics(&[topic])?;
        }
        let state = lock.state.into_inner();
        let e2e_clock_bound_ns = dclock::e2e_bound_ns(&state.bounds);
        if e2e_clock_bound_ns > dclock::MAX_E2E_BOUND_NS {
            outcome.summary.flags.push(Flag::ClockBound);
        }
        if !lost.is_empty() {
            outcome.summary.flags.push(Flag::ShardLost);
        }
        outcome.distributed = Some(DistributedFacts {
            e2e_clock_bound_ns,
            shards_lost: lost.into_iter().collect(),
        });
        Ok(ShardedCell { outcome, shares })
    }

    /// A shard other than 0 waits for shard 0's word that the cell's topic exists.
    fn wait_for_topic_word(&self, key: &str, topic: &str) -> anyhow::Result<()> {
        let deadline = Instant::now() + self.opts.barrier_timeout;
        loop {
            let word = self.control.wait_for(Instant::now() + POLL, |log| {
                log.iter().find_map(|r| match &r.message {
                    Message::Topic { cell, topic: t } if cell == key => Some(Ok(t.clone())),
                    Message::Abort { cell, reason } if cell == key => Some(Err(reason.clone())),
                    _ => None,
                })
            });
            match word {
                Some(Ok(t)) if t == topic => return Ok(()),
                Some(Ok(t)) => bail!(
                    "shard 0 created topic {t} for cell {key}, this shard expected {topic}: are both the same kbench with the same scenario?"
                ),
                Some(Err(reason)) => bail!("shard 0 could not set up cell {key}: {reason}"),
                None => {}
            }
            if self.session.shutdown.is_triggered() {
                bail!("interrupted while waiting for shard 0");
            }
            if Instant::now() >= deadline {
                bail!(
                    "shard 0 did not create the topic of cell {key} within {:?} (--barrier-timeout): shard 0 lost; this shard stops",
                    self.opts.barrier_timeout
                );
            }
        }
    }

    /// Wait until every shard not yet lost said done with `key`, or the barrier timeout; the
    /// shards lost in the cell, all told.
    fn done_barrier(&self, key: &str, lost: &BTreeSet<u16>) -> BTreeSet<u16> {
        let count = self.spec().count;
        let deadline = Instant::now() + self.opts.barrier_timeout;
        let done = |log: &[Received]| -> BTreeSet<u16> {
            log.iter()
                .filter_map(|r| match &r.message {
                    Message::Done { cell, shard } if cell == key => Some(*shard),
                    _ => None,
                })
                .collect()
        };
        let waited = self.control.wait_for(deadline, |log| {
            let d = done(log);
            (0..count)
                .all(|i| {
                    lost.contains(&i) || d.contains(&i) || self.session.shutdown.is_triggered()
                })
                .then_some(())
        });
        let d = self.control.peek(done);
        let mut all = lost.clone();
        if waited.is_none() || self.session.shutdown.is_triggered() {
            all.extend((0..count).filter(|i| !d.contains(i)));
        }
        all
    }
}

/// Every shard's latest `Share` about the cell `key`, by shard.
fn shares_of(log: &[Received], key: &str) -> BTreeMap<u16, serde_json::Value> {
    log.iter()
        .filter_map(|r| match &r.message {
            Message::Share { cell, shard, body } if cell == key => Some((*shard, body.clone())),
            _ => None,
        })
        .collect()
}

/// What a shard learns about a cell while it runs.
#[derive(Default)]
struct LockState {
    /// The last assignment this shard announced.
    announced: Option<(Vec<Vec<i32>>, bool)>,
    lost: BTreeSet<u16>,
    /// Every shard's clock bound, as its `Ready` said.
    bounds: Vec<u64>,
    /// When the load started, on this shard's control clock (skew applied).
    started_at_ns: i64,
    /// Acked messages across shards the slowest group had not read, at the last look.
    lag: Option<u64>,
    /// Shard 0 has said `Go` (it hears its own word a round trip later).
    go_sent: bool,
}

/// The [`Lockstep`] of one cell on one shard.
struct CellLockstep<'a> {
    shard: &'a Shard<'a>,
    key: &'a str,
    partitions: i32,
    groups: usize,
    producers: usize,
    clock: Clock,
    state: RefCell<LockState>,
}

impl<'a> CellLockstep<'a> {
    fn new(shard: &'a Shard<'a>, cell: &CellSpec, key: &'a str) -> CellLockstep<'a> {
        let corrected = shard
            .control
            .wall_ns()
            .saturating_add(shard.offset.get().offset_ns);
        CellLockstep {
            shard,
            key,
            partitions: cell.topic.partitions,
            groups: cell.consumers.groups,
            producers: cell.producers.count,
            clock: Clock::wall(corrected.max(1) as u64),
            state: RefCell::new(LockState::default()),
        }
    }

    fn opts(&self) -> &ShardOptions {
        self.shard.opts
    }

    /// Per shard, its latest `Ready` for this cell: (assigned, partitions, clock bound).
    fn latest_ready(&self, log: &[Received]) -> BTreeMap<u16, (bool, Vec<Vec<i32>>, u64)> {
        let mut ready = BTreeMap::new();
        for r in log {
            if let Message::Ready {
                cell,
                shard,
                assigned,
                partitions,
                clock_bound_ns,
            } = &r.message
            {
                if cell == self.key {
                    ready.insert(*shard, (*assigned, partitions.clone(), *clock_bound_ns));
                }
            }
        }
        ready
    }

    /// Shard 0: start when every shard is ready and the groups are covered, or when the
    /// barrier timeout passed (the missing shards are lost).
    fn maybe_go(&self, deadline: Instant) -> anyhow::Result<()> {
        if self.state.borrow().go_sent {
            return Ok(());
        }
        let count = self.opts().shard.count;
        let ready = self.shard.control.peek(|log| self.latest_ready(log));
        let all_ready = (0..count).all(|i| ready.get(&i).is_some_and(|r| r.0));
        let parts: Vec<&[Vec<i32>]> = ready.values().map(|r| r.1.as_slice()).collect();
        let covered = groups_covered(&parts, self.groups, self.partitions);
        if !(all_ready && covered) && Instant::now() < deadline {
            return Ok(());
        }
        let lost = (0..count)
            .filter(|i| !ready.get(i).is_some_and(|r| r.0))
            .collect();
        let start_ns = self.clock.now_ns() + START_DELAY.as_nanos() as u64;
        self.shard.control.send(&Message::Go {
            cell: self.key.to_string(),
            start_ns: start_ns as i64,
            lost,
        })?;
        self.state.borrow_mut().go_sent = true;
        Ok(())
    }
}

impl Lockstep for CellLockstep<'_> {
    fn clock(&self) -> Clock {
        self.clock
    }

    fn fleet_plan(&self, mut plan: FleetPlan) -> FleetPlan {
        let spec = self.opts().shard;
        // The attempt's id, not the run's: a cell done again stamps with a new tag.
        plan.run_tag = run_tag(&self.opts().attempt_id(), self.key);
        plan.shard = spec.index;
        plan.producer_bases = Arc::new(producer_bases(spec.count, self.producers));
        plan.whole_groups = false;
        plan
    }

    fn ready(&self, fleet: &Fleet) -> anyhow::Result<Instant> {
        let control = &self.shard.control;
        let spec = self.opts().shard;
        let timeout = self.opts().barrier_timeout;
        let deadline = Instant::now() + timeout;
        // Shard 0 decides within the timeout; a shard that hears nothing for twice as long
        // has lost shard 0.
        let give_up = deadline + timeout;
        loop {
            let (partitions, assigned) = fleet.assignments();
            let now_announced = Some((partitions.clone(), assigned));
            if self.state.borrow().announced != now_announced {
                control.send(&Message::Ready {
                    cell: self.key.to_string(),
                    shard: spec.index,
                    assigned,
                    partitions,
                    clock_bound_ns: self.shard.offset.get().bound_ns,
                })?;
                self.state.borrow_mut().announced = now_announced;
            }
            if spec.is_leader() {
                self.maybe_go(deadline)?;
            }
            let go = control.wait_for(Instant::now() + POLL, |log| {
                log.iter().find_map(|r| match &r.message {
                    Message::Go {
                        cell,
                        start_ns,
                        lost,
                    } if cell == self.key => Some((*start_ns, lost.clone(), r.at_ns)),
                    _ => None,
                })
            });
            if let Some((start_ns, lost, at_ns)) = go {
                let ready = control.peek(|log| self.latest_ready(log));
                let mut st = self.state.borrow_mut();
                st.lost.extend(lost);
                st.bounds = ready.values().map(|r| r.2).collect();
                st.started_at_ns = at_ns;
                let start = self.clock.instant(start_ns.max(0) as u64);
                return Ok(start.max(Instant::now()));
            }
            if self.shard.session.shutdown.is_triggered() {
                bail!("interrupted while waiting for the other shards");
            }
            if Instant::now() >= give_up {
                bail!(
                    "shard 0 gave no start for cell {} within {:?}: shard 0 lost; this shard stops",
                    self.key,
                    timeout * 2
                );
            }
        }
    }

    fn tick(&self, fleet: &Fleet, draining: bool) -> bool {
        let control = &self.shard.control;
        let spec = self.opts().shard;
        let acked = fleet.acked();
        let consumed = fleet.consumed_by_group();
        let done_here = draining && fleet.producers_done();
        // A heartbeat that does not get through makes this shard look lost to the others,
        // which is what it is then.
        let _ = control.send(&Message::Progress {
            cell: self.key.to_string(),
            shard: spec.index,
            acked,
            consumed: consumed.clone(),
            producers_done: done_here,
        });
        let now_ns = control.wall_ns();
        let timeout_ns = self.opts().barrier_timeout.as_nanos() as i64;
        let mut st = self.state.borrow_mut();
        // Every other shard's latest progress, and when it was last heard of in this cell.
        let latest = control.peek(|log| {
            let mut latest: BTreeMap<u16, (u64, Vec<u64>, bool, i64)> = BTreeMap::new();
            for r in log {
                if let Message::Progress {
                    cell,
                    shard,
                    acked,
                    consumed,
                    producers_done,
                } = &r.message
                {
                    if cell == self.key && *shard != spec.index {
                        latest.insert(*shard, (*acked, consumed.clone(), *producers_done, r.at_ns));
                    }
                }
            }
            latest
        });
        let (mut acked_all, mut consumed_all, mut all_done) = (acked, consumed, done_here);
        for i in (0..spec.count).filter(|i| *i != spec.index) {
            let heard = latest.get(&i).map_or(st.started_at_ns, |p| p.3);
            if let Some((a, c, done, _)) = latest.get(&i) {
                acked_all += a;
                for (sum, n) in consumed_all.iter_mut().zip(c) {
                    *sum += n;
                }
                if *done {
                    continue;
                }
            }
            if st.lost.contains(&i) {
                continue;
            }
            if draining && now_ns - heard > timeout_ns {
                st.lost.insert(i);
            } else {
                all_done = false;
            }
        }
        let slowest = consumed_all.iter().copied().min().unwrap_or(acked_all);
        st.lag = Some(acked_all.saturating_sub(slowest));
        draining && all_done && slowest >= acked_all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_checked_and_run_tags_stable() {
        assert!(check_run_id("nightly-42.a_b").is_ok());
        let long = "a".repeat(101);
        for bad in ["", "a b", "x/y", long.as_str()] {
            assert!(check_run_id(bad).is_err(), "{bad:?}");
        }
        assert_eq!(run_tag("r1", "c#1"), run_tag("r1", "c#1"));
        assert_ne!(run_tag("r1", "c#1"), run_tag("r1", "c#2"));
        assert_ne!(run_tag("r1", "c#1"), run_tag("r2", "c#1"));
    }
}
