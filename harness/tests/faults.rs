//! Faults against real Apache Kafka: a three-broker local cluster of this test's own (base
//! port 23092, its own state directory; the jar cache is shared), never the suite's cluster.
//! `leader-of:0` and `controller` resolve to the nodes Kafka itself reports; a kill without a
//! duration is undone when the runner stops (the broker serves clients again); a pause with a
//! duration resumes on its own. The command-template target needs no cluster.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kbench::cluster::admin::Admin;
use kbench::cluster::{LocalCluster, LocalClusterOpts};
use kbench::fault::resolve::{parse_quorum_leader, Resolver};
use kbench::fault::{FaultRunner, FaultSetup, FaultStatus, Target};
use kbench::scenario::{BrokerRef, FaultAction, FaultCommands, FaultSpec};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;

fn fault(
    at_ms: u64,
    action: FaultAction,
    duration_ms: Option<u64>,
    broker: BrokerRef,
) -> FaultSpec {
    FaultSpec {
        at: Duration::from_millis(at_ms),
        action,
        duration: duration_ms.map(Duration::from_millis),
        broker,
    }
}

/// The leader of `partition` as an independent client sees it.
fn leader(bootstrap: &str, topic: &str, partition: i32) -> i32 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .create()
        .unwrap();
    let md = c
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    md.topics()[0]
        .partitions()
        .iter()
        .find(|p| p.id() == partition)
        .map(|p| p.leader())
        .unwrap()
}

fn wait_for(what: &str, within: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn faults_on_a_real_cluster() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let opts = LocalClusterOpts {
        brokers: 3,
        base_port: 23092,
        state_dir: dir.path().join("state"),
        heap: vec!["-Xms512m".into(), "-Xmx512m".into()],
        ..LocalClusterOpts::default()
    };
    let (cluster, report) = LocalCluster::up(&opts).expect("cluster up");
    let _guard = Down(cluster.clone());
    let bootstrap = report.bootstrap.clone();
    eprintln!("cluster up in {:.1} s", report.elapsed.as_secs_f64());

    let admin = Admin::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &BTreeMap::new(),
    )
    .unwrap();
    let topic = common::random_topic("faults");
    let configs = BTreeMap::from([("min.insync.replicas".to_string(), "2".to_string())]);
    admin
        .create_topic(&topic, 3, 3, &configs, Duration::from_secs(30))
        .unwrap();
    admin
        .wait_for_leaders(&topic, 3, 3, Duration::from_secs(30))
        .unwrap();

    // Resolution: what Kafka reports.
    let resolver = Resolver::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &BTreeMap::new(),
    )
    .unwrap();
    for p in 0..3 {
        assert_eq!(
            resolver.leader_of(&topic, p),
            Ok(leader(&bootstrap, &topic, p))
        );
    }
    assert!(resolver.leader_of(&topic, 3).is_err());
    let quorum = cluster.quorum().expect("quorum tool");
    let controller = parse_quorum_leader(&quorum).expect("LeaderId");
    assert_eq!(resolver.controller(None), Ok(controller), "{quorum}");
    assert_eq!(resolver.controller(Some(&cluster)), Ok(controller));
    let mut ids = resolver.broker_ids().unwrap();
    ids.sort_unstable();
    assert_eq!(ids, [1, 2, 3]);

    // Kill the leader of partition 0 with no duration: down until the runner stops, then
    // started again (and serving) before stop returns.
    let leader0 = leader(&bootstrap, &topic, 0);
    let t = Instant::now();
    let runner = FaultRunner::start(FaultSetup::new(
        vec![fault(300, FaultAction::Kill, None, BrokerRef::LeaderOf(0))],
        Target::Local(cluster.clone()),
        Some(kbench::cluster::Access::plaintext(&bootstrap)),
        &topic,
        Instant::now(),
    ));
    wait_for("the kill", Duration::from_secs(15), || {
        runner.events()[0].acted.is_some() || runner.events()[0].error.is_some()
    });
    let ev = runner.events()[0].clone();
    assert_eq!(ev.error, None);
    assert_eq!(ev.node, Some(leader0));
    assert_eq!(ev.status, FaultStatus::Active);
    assert!(ev.start.unwrap() >= Duration::from_millis(300), "{ev:?}");
    assert_eq!(cluster.node_status(leader0 as u32).state, "down");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(runner.events()[0].status, FaultStatus::Active, "stays down");
    let events = runner.stop();
    let ev = &events[0];
    assert_eq!(ev.status, FaultStatus::Done, "{ev:?}");
    assert!(ev.restored_at_cell_end);
    assert!(ev.end.unwrap() > ev.acted.unwrap() + Duration::from_millis(500));
    let status = cluster.node_status(leader0 as u32);
    assert!(status.state == "running" && status.serving, "{status:?}");
    eprintln!("kill + restore in {:.1} s", t.elapsed().as_secs_f64());

    // Pause the active controller for 1.5 s: frozen, then resumed by the runner on its own.
    wait_for("all three brokers listed", Duration::from_secs(30), || {
        resolver.broker_ids().is_ok_and(|ids| ids.len() == 3)
    });
    let controller = resolver.controller(None).expect("controller");
    let t = Instant::now();
    let runner = FaultRunner::start(FaultSetup::new(
        vec![fault(
            200,
            FaultAction::Pause,
            Some(1500),
            BrokerRef::Controller,
        )],
        Target::Local(cluster.clone()),
        Some(kbench::cluster::Access::plaintext(&bootstrap)),
        &topic,
        Instant::now(),
    ));
    wait_for("the pause", Duration::from_secs(10), || {
        runner.events()[0].acted.is_some() || runner.events()[0].error.is_some()
    });
    assert_eq!(runner.events()[0].node, Some(controller));
    assert_eq!(cluster.node_status(controller as u32).state, "paused");
    wait_for("the resume", Duration::from_secs(10), || runner.finished());
    let ev = runner.stop().remove(0);
    assert_eq!((ev.status, ev.error.as_deref()), (FaultStatus::Done, None));
    assert!(!ev.restored_at_cell_end);
    assert!(
        ev.end.unwrap() >= ev.acted.unwrap() + Duration::from_millis(1500),
        "{ev:?}"
    );
    assert_eq!(cluster.node_status(controller as u32).state, "running");
    eprintln!("pause + resume in {:.1} s", t.elapsed().as_secs_f64());

    admin
        .delete_topics(&[&topic], Duration::from_secs(30))
        .unwrap();

    // A whole run with a fault: acks=all + idempotence loses, duplicates, reorders nothing
    // while the leader of partition 0 is killed and restarted (failover-idempotent.toml, shortened).
    let t = Instant::now();
    failover_run_loses_nothing(&bootstrap, &dir.path().join("state"), dir.path());
    eprintln!("failover run in {:.1} s", t.elapsed().as_secs_f64());

    cluster.down(false).unwrap();
    eprintln!("whole test {:.1} s", t0.elapsed().as_secs_f64());
}

fn failover_run_loses_nothing(bootstrap: &str, state_dir: &std::path::Path, tmp: &std::path::Path) {
    let full = std::fs::read_to_string(
        common::workspace_root().join("scenarios/failover-idempotent.toml"),
    )
    .unwrap();
    let short = full
        .replace("duration = \"20s\"", "duration = \"8s\"")
        .replace("warmup = \"3s\"", "warmup = \"2s\"")
        .replace("at = \"8s\"", "at = \"4s\"")
        .replace("duration = \"10s\"", "duration = \"3s\"");
    assert_ne!(short, full, "the shortening must apply");
    let file = tmp.join("failover.toml");
    std::fs::write(&file, short).unwrap();
    let reports = tmp.join("reports");
    let o = common::kbench(
        &[
            "run",
            file.to_str().unwrap(),
            "--bootstrap",
            bootstrap,
            "--reports",
            reports.to_str().unwrap(),
            "--state-dir",
            state_dir.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::text(&o));
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let rows: Vec<kbench::rundir::rows::ResultRow> =
        kbench::rundir::rows::read_csv(&run_dir.join("results.csv")).unwrap();
    let r = &rows[0];
    eprintln!(
        "failover: acked {} lost {} dup {} reordered {} unavailable {:?} ms first error {:?} ms recover {:?} ms",
        r.acked, r.lost, r.duplicated, r.reordered, r.fault_unavailable_ms, r.fault_first_error_ms, r.fault_recover_ms
    );
    assert_eq!(r.faults, 1, "{r:?}");
    assert!(r.acked > 10_000, "{r:?}");
    assert_eq!((r.lost, r.duplicated, r.reordered), (0, 0, 0), "{r:?}");
    assert!(r.fault_unavailable_ms.is_some(), "{r:?}");
    let faults: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("cells/base/faults.json")).unwrap())
            .unwrap();
    assert_eq!(faults[0]["event"]["status"], "done", "{faults}");
    assert!(faults[0]["event"]["node"].as_i64().is_some(), "{faults}");
}

/// The `[fault_commands]` target: each step runs its template with `{node}` replaced; no
/// cluster needed (no bootstrap, so no waiting for the started broker to be listed).
#[test]
fn command_templates_run_per_step() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("steps");
    let log = |what: &str| Some(format!("echo {what} {{node}} >> '{}'", file.display()));
    let target = Target::Commands(FaultCommands {
        kill: log("kill"),
        stop: log("stop"),
        start: log("start"),
        pause: log("pause"),
        resume: log("resume"),
    });
    let runner = FaultRunner::start(FaultSetup::new(
        vec![
            fault(0, FaultAction::Kill, Some(300), BrokerRef::Node(2)),
            fault(500, FaultAction::Pause, Some(200), BrokerRef::Node(3)),
            fault(900, FaultAction::Restart, None, BrokerRef::Node(1)),
        ],
        target,
        None,
        "unused",
        Instant::now(),
    ));
    wait_for("all three faults", Duration::from_secs(10), || {
        runner.finished()
    });
    let events = runner.stop();
    // Each node's steps in order (the faults overlap in time, so nodes may interleave).
    let text = std::fs::read_to_string(&file).unwrap();
    let steps = |node: &str| -> Vec<&str> {
        text.lines()
            .filter_map(|l| l.strip_suffix(node).map(str::trim))
            .collect()
    };
    assert_eq!(steps(" 2"), ["kill", "start"], "{text}");
    assert_eq!(steps(" 3"), ["pause", "resume"], "{text}");
    assert_eq!(steps(" 1"), ["stop", "start"], "{text}");
    for (e, at) in events.iter().zip([0, 500, 900]) {
        assert!(e.start.unwrap() >= Duration::from_millis(at), "{e:?}");
        assert!(e.end.unwrap() >= e.acted.unwrap(), "{e:?}");
    }
    assert!(events[0].end.unwrap() >= events[0].acted.unwrap() + Duration::from_millis(300));
    assert!(events[1].end.unwrap() >= events[1].acted.unwrap() + Duration::from_millis(200));
    assert!(events
        .iter()
        .all(|e| e.status == FaultStatus::Done && e.error.is_none()));
    assert_eq!(
        events.iter().map(|e| e.node).collect::<Vec<_>>(),
        [Some(2), Some(3), Some(1)]
    );
}

/// Stops the cluster if the test fails half-way.
struct Down(LocalCluster);

impl Drop for Down {
    fn drop(&mut self) {
        let _ = self.0.down(true);
    }
}
