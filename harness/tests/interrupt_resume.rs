//! The harness never loses results: SIGINT mid-sweep keeps finished cells and marks the running
//! one interrupted; `kill -9` leaves valid files; `--resume` runs only what is missing and
//! removes the topic a killed run left behind. And kbench deletes only topics it created.

mod common;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{kbench, random_topic, text};
use kbench::cluster::admin::Admin;
use kbench::rundir::rows::{read_csv, ResultRow};

const SCENARIO: &str = r#"name = "resume"
[topic]
partitions = 3
replication_factor = 3
[producers]
rate = 500
message_size = 100
acks = "all"
[consumers]
groups = 1
members = 1
[run]
warmup = "1s"
duration = "5s"
[sweep]
partitions = [1, 2, 3]
"#;

fn start(bootstrap: &str, scenario: &Path, reports: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kbench"))
        .args(["run", scenario.to_str().unwrap(), "--bootstrap", bootstrap])
        .args(["--reports", reports.to_str().unwrap(), "--quiet"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// The run directory, once `results.csv` has at least `rows` rows.
fn wait_for_rows(child: &mut Child, reports: &Path, rows: usize, timeout: Duration) -> PathBuf {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("kbench exited early: {status}");
        }
        if let Some(Ok(e)) = std::fs::read_dir(reports).ok().and_then(|mut d| d.next()) {
            let csv = e.path().join("results.csv");
            if csv.exists() && read_csv::<ResultRow>(&csv).unwrap().len() >= rows {
                return e.path();
            }
        }
        assert!(Instant::now() < deadline, "no {rows} rows in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, sig) };
}

fn wait_exit(child: &mut Child, timeout: Duration) -> Option<i32> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code();
        }
        assert!(Instant::now() < deadline, "kbench did not exit in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn resume(bootstrap: &str, scenario: &Path, run_dir: &Path) -> std::process::Output {
    kbench(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--bootstrap",
            bootstrap,
            "--resume",
            run_dir.to_str().unwrap(),
            "--quiet",
        ],
        &[],
    )
}

fn cells(run_dir: &Path) -> Vec<(String, String)> {
    read_csv::<ResultRow>(&run_dir.join("results.csv"))
        .unwrap()
        .into_iter()
        .map(|r| (r.cell, r.flags))
        .collect()
}

#[test]
fn sigint_keeps_finished_cells_marks_the_running_one_and_resume_completes_the_sweep() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("resume.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let reports = dir.path().join("reports");
    let mut child = start(&bootstrap, &scenario, &reports);
    let run_dir = wait_for_rows(&mut child, &reports, 1, Duration::from_secs(120));
    // The second cell is now setting up; 3 s later it is warming up or measuring.
    std::thread::sleep(Duration::from_secs(3));
    signal(&child, libc::SIGINT);
    assert_eq!(wait_exit(&mut child, Duration::from_secs(30)), Some(130));

    let got = cells(&run_dir);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, "partitions-1");
    assert!(!got[0].1.contains("interrupted"), "{got:?}");
    assert_eq!(got[1].0, "partitions-2");
    assert!(got[1].1.contains("interrupted"), "{got:?}");
    assert!(run_dir.join("cells/partitions-1/publish.hlog").exists());

    let o = resume(&bootstrap, &scenario, &run_dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("1 of 3 cell runs already done"), "{stdout}");
    let got = cells(&run_dir);
    let ids: Vec<&str> = got.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(ids, ["partitions-1", "partitions-2", "partitions-3"]);
    assert!(
        got.iter().all(|(_, f)| !f.contains("interrupted")),
        "{got:?}"
    );
    // The time series holds each cell once (the interrupted attempt's rows were dropped).
    let ts = std::fs::read_to_string(run_dir.join("timeseries.csv")).unwrap();
    let warmups = ts
        .lines()
        .filter(|l| l.starts_with("partitions-2,") && l.contains(",warmup,"))
        .count();
    assert!((1..=2).contains(&warmups), "{ts}");
}

#[test]
fn kill_9_leaves_valid_files_and_resume_removes_the_orphaned_topic() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("resume.toml");
    std::fs::write(&scenario, SCENARIO).unwrap();
    let reports = dir.path().join("reports");
    let mut child = start(&bootstrap, &scenario, &reports);
    let run_dir = wait_for_rows(&mut child, &reports, 1, Duration::from_secs(120));
    // Wait until the second cell's topic is registered, then kill without warning.
    let deadline = Instant::now() + Duration::from_secs(30);
    while kbench::rundir::registered_topics(&run_dir).unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "second topic never registered");
        std::thread::sleep(Duration::from_millis(50));
    }
    signal(&child, libc::SIGKILL);
    wait_exit(&mut child, Duration::from_secs(10));

    // Whatever was on disk is complete: one valid row, no temp files in the way.
    assert_eq!(cells(&run_dir).len(), 1);
    let orphan = kbench::rundir::registered_topics(&run_dir).unwrap()[1].clone();
    let admin = Admin::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &BTreeMap::new(),
    )
    .unwrap();
    assert!(
        admin
            .describe(&orphan, Duration::from_secs(10))
            .unwrap()
            .is_some(),
        "the killed cell's topic is still there"
    );

    let o = resume(&bootstrap, &scenario, &run_dir);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(&format!("deleted topic {orphan}")),
        "{}",
        text(&o)
    );
    assert_eq!(cells(&run_dir).len(), 3);
    assert!(admin
        .describe(&orphan, Duration::from_secs(10))
        .unwrap()
        .is_none());
}

#[test]
fn cleanup_deletes_only_registered_topics_even_among_same_prefix_names() {
    let bootstrap = common::require_cluster!();
    let admin = Admin::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &BTreeMap::new(),
    )
    .unwrap();
    let ours = random_topic("ours");
    let foreign = format!("kbench-{}", random_topic("foreign")); // same prefix, not ours
    for t in [&ours, &foreign] {
        admin
            .create_topic(t, 1, 1, &BTreeMap::new(), Duration::from_secs(30))
            .unwrap();
    }
    let run_dir = tempfile::tempdir().unwrap();
    std::fs::write(run_dir.path().join("topics.txt"), format!("{ours}\n")).unwrap();
    // Through the command: not a run directory yet, refused; then only `ours` goes.
    let dir = run_dir.path().to_str().unwrap();
    let o = kbench(&["cleanup", dir, "--bootstrap", &bootstrap], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    std::fs::write(run_dir.path().join("manifest.json"), "{}").unwrap();
    let o = kbench(&["cleanup", dir, "--bootstrap", &bootstrap], &[]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains(&format!("deleted {ours}")), "{stdout}");
    assert!(!stdout.contains(&foreign), "{stdout}");
    let exists = |t: &str| {
        admin
            .describe(t, Duration::from_secs(10))
            .unwrap()
            .is_some()
    };
    // Deletion is asynchronous on the brokers: give the metadata a moment.
    let deadline = Instant::now() + Duration::from_secs(15);
    while exists(&ours) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!exists(&ours));
    assert!(exists(&foreign), "a topic kbench did not create survives");
    admin
        .delete_topics(&[foreign.as_str()], Duration::from_secs(30))
        .unwrap();
}

#[test]
fn a_cell_never_runs_on_or_deletes_a_topic_that_already_exists() {
    let bootstrap = common::require_cluster!();
    let admin = Admin::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &BTreeMap::new(),
    )
    .unwrap();
    let existing = format!("kbench-{}", random_topic("existing"));
    admin
        .create_topic(&existing, 1, 1, &BTreeMap::new(), Duration::from_secs(30))
        .unwrap();
    let scenario = kbench::scenario::parse_str(SCENARIO, Path::new("resume.toml")).unwrap();
    let reports = tempfile::tempdir().unwrap();
    let conn = kbench::session::ConnectionOptions {
        bootstrap: Some(bootstrap.clone()),
        ..Default::default()
    };
    let conn = kbench::session::Connection::open(&conn, &mut std::io::sink()).unwrap();
    let session =
        kbench::session::Session::open(conn, &BTreeMap::new(), kbench::shutdown::Shutdown::new())
            .unwrap();
    let run = kbench::rundir::RunDir::create(reports.path(), "existing").unwrap();
    let env = kbench::runner::CellEnv {
        session: &session,
        run: &run,
        quiet: true,
        faults: None,
        client_stats: None,
    };
    let result = kbench::runner::run_cell(&scenario.cells[0], &existing, &env);
    let run_dir = &run.dir;
    let err = format!("{:#}", result.err().expect("must refuse an existing topic"));
    assert!(err.contains("already exists"), "{err}");
    assert!(admin
        .describe(&existing, Duration::from_secs(10))
        .unwrap()
        .is_some());
    assert!(kbench::rundir::registered_topics(run_dir)
        .unwrap()
        .is_empty());
    admin
        .delete_topics(&[existing.as_str()], Duration::from_secs(30))
        .unwrap();
}

#[test]
fn an_existing_topic_needs_the_flag_is_never_deleted_and_old_data_is_not_read() {
    let bootstrap = common::require_cluster!();
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let admin = Admin::new(
        &kbench::cluster::Access::plaintext(&bootstrap),
        &BTreeMap::new(),
    )
    .unwrap();
    let existing = random_topic("theirs");
    admin
        .create_topic(&existing, 2, 1, &BTreeMap::new(), Duration::from_secs(30))
        .unwrap();
    // Somebody's data, already in the topic.
    let p: BaseProducer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &bootstrap)
        .create()
        .unwrap();
    for i in 0..50 {
        p.send(BaseRecord::<(), _>::to(&existing).payload(&format!("old-{i}")))
            .unwrap();
    }
    p.flush(Duration::from_secs(30)).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("existing.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"existing\"\n[topic]\nexisting = \"{existing}\"\n[producers]\nrate = 500\nmessage_size = 100\n[consumers]\ngroups = 1\nmembers = 1\nstart_from = \"earliest\"\n[run]\nwarmup = \"1s\"\nduration = \"2s\"\n"
        ),
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let args = |extra: &[&'static str]| {
        let mut a = vec![
            "run".to_string(),
            file.to_str().unwrap().to_string(),
            "--bootstrap".into(),
            bootstrap.clone(),
            "--reports".into(),
            reports.to_str().unwrap().to_string(),
            "--quiet".into(),
        ];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let refused = kbench(
        &args(&[]).iter().map(String::as_str).collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--allow-existing-topic"),
        "{}",
        text(&refused)
    );

    let o = kbench(
        &args(&["--allow-existing-topic"])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        &[],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("results.csv").exists())
        .unwrap();
    let r = &read_csv::<ResultRow>(&run_dir.join("results.csv")).unwrap()[0];
    assert_eq!((r.topic.as_str(), r.partitions), (existing.as_str(), 2));
    assert!(r.acked > 500, "{r:?}");
    assert_eq!(r.lost, 0, "{r:?}");
    assert_eq!(r.consumed, r.acked, "old messages are not read: {r:?}");
    assert!(kbench::rundir::registered_topics(&run_dir)
        .unwrap()
        .is_empty());
    assert!(
        admin
            .describe(&existing, Duration::from_secs(10))
            .unwrap()
            .is_some(),
        "kbench never deletes an existing topic"
    );
    admin
        .delete_topics(&[existing.as_str()], Duration::from_secs(30))
        .unwrap();
}
