//! Runs a cell's faults on its clock: one thread per fault sleeps until `at`, finds its node,
//! does the action, holds it (pause / down for `duration`, or until the end of the cell) and
//! undoes it, recording when each step happened. [`FaultRunner::stop`] ends it early and
//! brings back whatever is still down, so the next cell starts on a full cluster.
//!
//! Threads, not tasks: the local cluster's control calls block (a controlled shutdown, a start
//! that waits until the broker serves clients), and the fault clock must not depend on how
//! busy the runner's runtime is.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Serialize, Serializer};

use super::resolve::Resolver;
use super::target::{Step, Target};
use crate::cluster::Access;
use crate::scenario::{BrokerRef, FaultAction, FaultSpec};

/// Default for [`FaultSetup::ready_timeout`].
pub const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// Everything a cell's faults need.
#[derive(Debug, Clone)]
pub struct FaultSetup {
    /// The cell's faults (`CellSpec::faults`), in scenario order: event `i` is fault `i`.
    pub faults: Vec<FaultSpec>,
    pub target: Target,
    /// The cluster, to find `leader-of` / `controller` nodes and (for [`Target::Commands`]) to
    /// wait until a started broker is listed again. `None`: only node ids can be faulted, and
    /// a started broker is not waited for.
    pub access: Option<Access>,
    /// librdkafka properties of the metadata client (the scenario's `[client.admin]`).
    pub client_props: crate::scenario::Props,
    /// The cell's topic (for `leader-of:<partition>`).
    pub topic: String,
    /// When the cell's producers started: `at` counts from here (warm-up included), and so do
    /// the events' offsets.
    pub cell_start: Instant,
    /// [`Target::Commands`]: how long to wait, after `start`, for the broker to be listed.
    pub ready_timeout: Duration,
}

impl FaultSetup {
    pub fn new(
        faults: Vec<FaultSpec>,
        target: Target,
        access: Option<Access>,
        topic: &str,
        cell_start: Instant,
    ) -> FaultSetup {
        FaultSetup {
            faults,
            target,
            access,
            client_props: Default::default(),
            topic: topic.to_string(),
            cell_start,
            ready_timeout: READY_TIMEOUT,
        }
    }
}

/// Where a fault is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FaultStatus {
    /// Its time has not come.
    Pending,
    /// The broker is down or frozen (or being brought back).
    Active,
    /// Done and undone: the broker is back.
    Done,
    /// A step failed (see `error`); the broker may still be down.
    Failed,
    /// The cell ended before its time.
    NotRun,
}

/// What happened to one fault. Offsets are since the cell start (the producers' start).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FaultEvent {
    /// Position in the scenario's `[[fault]]` list, from 0.
    pub index: usize,
    pub action: FaultAction,
    /// As written in the scenario.
    pub broker: BrokerRef,
    /// The node it hit (`leader-of` and `controller` resolved when it fired).
    pub node: Option<i32>,
    pub status: FaultStatus,
    /// When the action was issued: the fault's start, for charts and impact.
    #[serde(serialize_with = "secs")]
    pub start: Option<Duration>,
    /// When the action had taken effect: the process dead (kill, stop, restart's stop) or
    /// frozen (pause). A controlled shutdown takes a while, so this can be seconds after start.
    #[serde(serialize_with = "secs")]
    pub acted: Option<Duration>,
    /// When the broker was back: serving clients after a start, or resumed after a pause. The
    /// fault's end, for charts.
    #[serde(serialize_with = "secs")]
    pub end: Option<Duration>,
    /// Brought back because the cell ended (a kill / stop without duration, or cut short by
    /// [`FaultRunner::stop`]) rather than after its own duration.
    pub restored_at_cell_end: bool,
    /// What went wrong, when a step failed. Never a panic.
    pub error: Option<String>,
}

/// Durations in reports are seconds (3 decimals), not serde's `{secs, nanos}`.
pub(crate) fn secs<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64((d.as_secs_f64() * 1e3).round() / 1e3),
        None => s.serialize_none(),
    }
}

impl FaultEvent {
    fn pending(index: usize, spec: &FaultSpec) -> FaultEvent {
        FaultEvent {
            index,
            action: spec.action,
            broker: spec.broker,
            node: None,
            status: FaultStatus::Pending,
            start: None,
            acted: None,
            end: None,
            restored_at_cell_end: false,
            error: None,
        }
    }
}

/// The faults of one running cell. Dropping it without [`stop`](FaultRunner::stop) stops it
/// the same way (blocking), so an error path cannot leave a broker down.
pub struct FaultRunner {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

struct Shared {
    setup: FaultSetup,
    resolver: Option<Result<Resolver, String>>,
    events: Mutex<Vec<FaultEvent>>,
    stopped: Mutex<bool>,
    wake: Condvar,
    /// Node -> the fault holding it now (down or frozen).
    held: Mutex<HashMap<i32, usize>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl FaultRunner {
    /// Starts the faults' clock: returns at once; each fault fires at `cell_start + at`. An
    /// empty fault list starts nothing.
    pub fn start(setup: FaultSetup) -> FaultRunner {
        let events = setup
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| FaultEvent::pending(i, f))
            .collect();
        let resolver = setup
            .access
            .as_ref()
            .map(|a| Resolver::new(a, &setup.client_props));
        let shared = Arc::new(Shared {
            resolver,
            events: Mutex::new(events),
            stopped: Mutex::new(false),
            wake: Condvar::new(),
            held: Mutex::new(HashMap::new()),
            setup,
        });
        let mut threads = Vec::new();
        for i in 0..shared.setup.faults.len() {
            let s = shared.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kb-fault{i}"))
                .spawn(move || run_fault(&s, i));
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => shared.update(i, |ev| {
                    ev.status = FaultStatus::Failed;
                    ev.error = Some(format!("cannot start a thread: {e}"));
                }),
            }
        }
        FaultRunner { shared, threads }
    }

    /// What happened so far (for live progress); the final list comes from `stop`.
    pub fn events(&self) -> Vec<FaultEvent> {
        lock(&self.shared.events).clone()
    }

    /// Have all faults run their course (none pending or active)?
    pub fn finished(&self) -> bool {
        self.threads.iter().all(JoinHandle::is_finished)
    }

    /// Ends the faults: those not yet fired never will (`NotRun`); a broker that is down or
    /// frozen is brought back now (a local `start` waits until it serves clients: this can
    /// take as long as a broker start). Blocking; returns one event per fault, in order.
    pub fn stop(mut self) -> Vec<FaultEvent> {
        self.finish()
    }

    fn finish(&mut self) -> Vec<FaultEvent> {
        *lock(&self.shared.stopped) = true;
        self.shared.wake.notify_all();
        for (i, t) in std::mem::take(&mut self.threads).into_iter().enumerate() {
            if t.join().is_err() {
                self.shared.update(i, |ev| {
                    ev.status = FaultStatus::Failed;
                    ev.error = Some("the fault's thread panicked".into());
                });
            }
        }
        lock(&self.shared.events).clone()
    }
}

impl Drop for FaultRunner {
    fn drop(&mut self) {
        if !self.threads.is_empty() {
            self.finish();
        }
    }
}

impl Shared {
    fn update(&self, i: usize, f: impl FnOnce(&mut FaultEvent)) {
        if let Some(ev) = lock(&self.events).get_mut(i) {
            f(ev);
        }
    }

    fn offset(&self) -> Duration {
        self.setup.cell_start.elapsed()
    }

    /// Sleeps until `deadline` or until stopped; true when stopped.
    fn wait_until(&self, deadline: Option<Instant>) -> bool {
        let mut stopped = lock(&self.stopped);
        loop {
            if *stopped {
                return true;
            }
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(w) if !w.is_zero() => w,
                    _ => return false,
                },
                None => Duration::from_secs(3600),
            };
            stopped = self
                .wake
                .wait_timeout(stopped, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
    }

    fn resolve(&self, broker: BrokerRef) -> Result<i32, String> {
        if let BrokerRef::Node(n) = broker {
            return Ok(n);
        }
        let resolver = match &self.resolver {
            Some(Ok(r)) => r,
            Some(Err(e)) => return Err(e.clone()),
            None => return Err(format!("{broker} needs the cluster's bootstrap servers")),
        };
        match broker {
            BrokerRef::LeaderOf(p) => resolver.leader_of(&self.setup.topic, p),
            BrokerRef::Controller => {
                let local = match &self.setup.target {
                    Target::Local(c) => Some(c),
                    Target::Commands(_) => None,
                };
                resolver.controller(local)
            }
            BrokerRef::Node(n) => Ok(n),
        }
    }

    /// One step on the target; after a command target's `start`, wait until the node is listed.
    fn step(&self, step: Step, node: i32) -> Result<(), String> {
        self.setup.target.run(step, node)?;
        if step != Step::Start || !matches!(self.setup.target, Target::Commands(_)) {
            return Ok(());
        }
        let Some(Ok(resolver)) = &self.resolver else {
            return Ok(());
        };
        let deadline = Instant::now() + self.setup.ready_timeout;
        loop {
            if resolver.broker_ids().is_ok_and(|ids| ids.contains(&node)) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "node {node} was not listed in the cluster's metadata within {} s of starting",
                    self.setup.ready_timeout.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    fn fail(&self, i: usize, error: String) {
        self.update(i, |ev| {
            ev.status = FaultStatus::Failed;
            ev.error = Some(error);
        });
    }
}

fn run_fault(s: &Shared, i: usize) {
    let spec = s.setup.faults[i].clone();
    if s.wait_until(Some(s.setup.cell_start + spec.at)) {
        s.update(i, |ev| ev.status = FaultStatus::NotRun);
        return;
    }
    let node = match s.resolve(spec.broker) {
        Ok(n) => n,
        Err(e) => return s.fail(i, format!("finding the broker: {e}")),
    };
    s.update(i, |ev| ev.node = Some(node));
    {
        let mut held = lock(&s.held);
        if let Some(other) = held.get(&node) {
            let e = format!("node {node} is already down or frozen by fault[{other}]");
            drop(held);
            return s.fail(i, e);
        }
        held.insert(node, i);
    }
    run_steps(s, i, &spec, node);
    lock(&s.held).remove(&node);
}

fn run_steps(s: &Shared, i: usize, spec: &FaultSpec, node: i32) {
    let (action, undo) = match spec.action {
        FaultAction::Kill => (Step::Kill, Step::Start),
        FaultAction::Stop | FaultAction::Restart => (Step::Stop, Step::Start),
        FaultAction::Pause => (Step::Pause, Step::Resume),
    };
    let start = s.offset();
    s.update(i, |ev| {
        ev.status = FaultStatus::Active;
        ev.start = Some(start);
    });
    if let Err(e) = s.step(action, node) {
        // The broker may be half-way (e.g. a stop command that timed out): try to undo.
        let undone = s.step(undo, node);
        return s.fail(
            i,
            match undone {
                Ok(()) => format!("{}: {e}", action.name()),
                Err(u) => format!("{}: {e}; then {}: {u}", action.name(), undo.name()),
            },
        );
    }
    let acted = Instant::now();
    s.update(i, |ev| {
        ev.acted = Some(acted.duration_since(s.setup.cell_start))
    });
    // Without a duration, a kill or stop waits for the end of the cell: always "cut short".
    let cut_short = match (spec.action, spec.duration) {
        (FaultAction::Restart, _) => false,
        (_, Some(d)) => s.wait_until(Some(acted + d)),
        (_, None) => s.wait_until(None),
    };
    match s.step(undo, node) {
        Ok(()) => {
            let end = s.offset();
            s.update(i, |ev| {
                ev.status = FaultStatus::Done;
                ev.end = Some(end);
                ev.restored_at_cell_end = cut_short;
            })
        }
        Err(e) => s.fail(
            i,
            format!("bringing node {node} back ({}): {e}", undo.name()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::FaultCommands;

    fn commands(file: &std::path::Path) -> Target {
        let log = |what: &str| Some(format!("echo {what} {{node}} >> '{}'", file.display()));
        Target::Commands(FaultCommands {
            kill: log("kill"),
            stop: log("stop"),
            start: log("start"),
            pause: log("pause"),
            resume: log("resume"),
        })
    }

    fn fault(at_ms: u64, action: FaultAction, duration_ms: Option<u64>, node: i32) -> FaultSpec {
        FaultSpec {
            at: Duration::from_millis(at_ms),
            action,
            duration: duration_ms.map(Duration::from_millis),
            broker: BrokerRef::Node(node),
        }
    }

    fn read(file: &std::path::Path) -> String {
        std::fs::read_to_string(file).unwrap_or_default()
    }

    /// Polls the events until `ok` (the machine may be busy: no fixed sleeps).
    #[track_caller]
    fn wait_for(runner: &FaultRunner, ok: impl Fn(&[FaultEvent]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ok(&runner.events()) {
            assert!(
                Instant::now() < deadline,
                "timed out: {:?}",
                runner.events()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn faults_fire_on_the_cell_clock_and_are_undone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("log");
        let start = Instant::now();
        let runner = FaultRunner::start(FaultSetup::new(
            vec![
                fault(100, FaultAction::Pause, Some(200), 2),
                fault(150, FaultAction::Kill, None, 3),
                fault(200, FaultAction::Restart, None, 1),
                fault(600_000, FaultAction::Stop, Some(1000), 1),
            ],
            commands(&file),
            None,
            "t",
            start,
        ));
        wait_for(&runner, |ev| {
            ev[0].status == FaultStatus::Done
                && ev[1].acted.is_some()
                && ev[2].status == FaultStatus::Done
        });
        let mid = runner.events();
        assert_eq!(mid[1].status, FaultStatus::Active, "{mid:?}");
        assert_eq!(mid[3].status, FaultStatus::Pending, "{mid:?}");
        let log = read(&file);
        assert!(
            log.contains("pause 2\n") && log.contains("resume 2\n"),
            "{log}"
        );
        assert!(
            log.contains("kill 3\n") && !log.contains("start 3"),
            "{log}"
        );
        // One thread per fault: lines of different nodes may interleave, so check node 1's
        // own order (a restart is a stop then a start).
        let node1: Vec<&str> = log.lines().filter(|l| l.ends_with(" 1")).collect();
        assert_eq!(node1, ["stop 1", "start 1"], "{log}");

        let events = runner.stop();
        assert!(read(&file).ends_with("start 3\n"), "{}", read(&file));

        let pause = &events[0];
        assert_eq!(pause.node, Some(2));
        let (s, a, e) = (
            pause.start.unwrap(),
            pause.acted.unwrap(),
            pause.end.unwrap(),
        );
        assert!(s >= Duration::from_millis(100) && a >= s, "{pause:?}");
        assert!(e >= a + Duration::from_millis(200), "{pause:?}");
        assert!(!pause.restored_at_cell_end);
        let kill = &events[1];
        assert_eq!(kill.status, FaultStatus::Done);
        assert!(kill.restored_at_cell_end, "{kill:?}");
        assert!(kill.start.unwrap() >= Duration::from_millis(150));
        assert_eq!(events[2].status, FaultStatus::Done);
        assert!(!events[2].restored_at_cell_end);
        assert_eq!(events[3].status, FaultStatus::NotRun);
        assert_eq!(events[3].start, None);
        assert!(events.iter().all(|e| e.error.is_none()), "{events:?}");

        let json = serde_json::to_value(&events[1]).expect("json");
        assert_eq!(json["status"], "done");
        assert_eq!(json["action"], "kill");
        assert!(json["start"].as_f64().unwrap() >= 0.15, "{json}");
        assert!(json["end"].as_f64().is_some());
        assert_eq!(
            serde_json::to_value(&events[3]).unwrap()["status"],
            "not-run"
        );
    }

    #[test]
    fn a_pause_cut_short_is_resumed_at_stop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("log");
        let runner = FaultRunner::start(FaultSetup::new(
            vec![fault(0, FaultAction::Pause, Some(600_000), 2)],
            commands(&file),
            None,
            "t",
            Instant::now(),
        ));
        wait_for(&runner, |ev| ev[0].acted.is_some());
        let events = runner.stop();
        assert_eq!(read(&file), "pause 2\nresume 2\n");
        assert_eq!(events[0].status, FaultStatus::Done);
        assert!(events[0].restored_at_cell_end);
    }

    #[test]
    fn failures_are_reported_not_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("log");
        let mut target = FaultCommands {
            kill: Some("echo no such container >&2; exit 1".into()),
            start: Some(format!("echo start {{node}} >> '{}'", file.display())),
            ..FaultCommands::default()
        };
        let runner = FaultRunner::start(FaultSetup::new(
            vec![
                fault(0, FaultAction::Kill, None, 1),
                FaultSpec {
                    broker: BrokerRef::LeaderOf(0),
                    ..fault(0, FaultAction::Kill, None, 0)
                },
            ],
            Target::Commands(target.clone()),
            None,
            "t",
            Instant::now(),
        ));
        wait_for(&runner, |ev| {
            ev.iter().all(|e| e.status == FaultStatus::Failed)
        });
        let events = runner.stop();
        assert_eq!(
            events[0].error.as_deref(),
            Some("kill: `echo no such container >&2; exit 1` failed (exit 1): no such container")
        );
        // The failed kill was undone, in case it half happened.
        assert_eq!(read(&file), "start 1\n");
        assert!(
            events[1]
                .error
                .as_deref()
                .unwrap()
                .contains("leader-of:0 needs the cluster"),
            "{events:?}"
        );

        // Two faults on one node at once: the second is refused, the first undone.
        target.kill = Some(format!("echo kill {{node}} >> '{}'", file.display()));
        std::fs::remove_file(&file).expect("rm");
        let runner = FaultRunner::start(FaultSetup::new(
            vec![
                fault(0, FaultAction::Kill, None, 1),
                fault(100, FaultAction::Kill, None, 1),
            ],
            Target::Commands(target),
            None,
            "t",
            Instant::now(),
        ));
        wait_for(&runner, |ev| ev[1].status == FaultStatus::Failed);
        let events = runner.stop();
        assert_eq!(events[0].status, FaultStatus::Done);
        assert_eq!(
            events[1].error.as_deref(),
            Some("node 1 is already down or frozen by fault[0]")
        );
        assert_eq!(read(&file), "kill 1\nstart 1\n");
    }

    #[test]
    fn dropping_the_runner_restores_too() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("log");
        let runner = FaultRunner::start(FaultSetup::new(
            vec![fault(0, FaultAction::Stop, None, 3)],
            commands(&file),
            None,
            "t",
            Instant::now(),
        ));
        wait_for(&runner, |ev| ev[0].acted.is_some());
        assert!(!runner.finished());
        drop(runner);
        assert_eq!(read(&file), "stop 3\nstart 3\n");
        // No faults: nothing to do, stop returns at once.
        let runner = FaultRunner::start(FaultSetup::new(
            Vec::new(),
            commands(&file),
            None,
            "t",
            Instant::now(),
        ));
        assert!(runner.finished());
        assert!(runner.stop().is_empty());
    }
}
