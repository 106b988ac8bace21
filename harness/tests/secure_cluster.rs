//! `kbench cluster up --security MODE` against real Apache Kafka, one single-broker cluster per
//! secure mode (its own state directory and ports, base 25092 + 100 per mode; never the suite's
//! cluster), one after another: librdkafka connects with nothing but the `client.properties`
//! kbench wrote, creates a topic through kbench's admin client, produces and consumes 100
//! messages; a plaintext client on the secured port fails within 15 s instead of hanging; and
//! no process's command line holds a generated password while the cluster runs. The sasl_ssl
//! cluster is started through the `kbench` binary, to check what `cluster up` and `status`
//! print (the mode and the files, never a password; the bootstrap last).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use kbench::cluster::admin::Admin;
use kbench::cluster::{LocalCluster, LocalClusterOpts, SecurityMode};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

const MESSAGES: usize = 100;

/// `client.properties` as a map (a minimal Java-properties reader: `#` comments, `k=v`,
/// backslash escapes).
fn read_properties(path: &Path) -> BTreeMap<String, String> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("{}: {l:?} is not key=value", path.display()));
            let mut value = String::new();
            let mut chars = v.chars();
            while let Some(c) = chars.next() {
                match (c, c == '\\') {
                    (_, true) => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(other) => value.push(other),
                        None => {}
                    },
                    (c, false) => value.push(c),
                }
            }
            (k.trim().to_string(), value)
        })
        .collect()
}

fn client(bootstrap: &str, props: &BTreeMap<String, String>) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap).set("log_level", "3");
    for (k, v) in props {
        c.set(k, v);
    }
    c
}

async fn produce(cfg: &ClientConfig, topic: &str) {
    let p: FutureProducer = cfg
        .clone()
        .set("acks", "all")
        .set("message.timeout.ms", "20000")
        .create()
        .expect("producer");
    for i in 0..MESSAGES {
        let payload = format!("m{i}");
        p.send(
            FutureRecord::<(), _>::to(topic).payload(&payload),
            Duration::from_secs(20),
        )
        .await
        .unwrap_or_else(|(e, _)| panic!("producing message {i}: {e}"));
    }
}

fn consume(cfg: &ClientConfig, topic: &str) -> usize {
    let c: BaseConsumer = cfg
        .clone()
        .set("group.id", common::random_topic("g"))
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut got = 0;
    while got < MESSAGES && Instant::now() < deadline {
        match c.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                assert!(m.payload().is_some());
                got += 1;
            }
            Some(Err(e)) => panic!("consuming: {e}"),
            None => {}
        }
    }
    got
}

/// A client with `props` must fail to fetch metadata, and within 15 s.
fn refused(bootstrap: &str, props: &BTreeMap<String, String>, what: &str) {
    let t0 = Instant::now();
    let c: BaseConsumer = client(bootstrap, props)
        .set("socket.connection.setup.timeout.ms", "10000")
        .create()
        .expect("client");
    let md = c.fetch_metadata(None, Duration::from_secs(5));
    assert!(md.is_err(), "{what} was served");
    assert!(
        t0.elapsed() < Duration::from_secs(15),
        "{what}: failing took {:?}",
        t0.elapsed()
    );
}

/// Every generated password of the cluster in `state` (none for TLS-only modes).
fn passwords(state: &Path) -> Vec<String> {
    ["broker.password", "kbench.password"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(state.join("secrets").join(f)).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

/// No process's command line (java's above all) holds one of `secrets`.
fn no_secret_on_a_command_line(secrets: &[String]) {
    let mut javas = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if cmdline.contains("java") {
            javas += 1;
        }
        for s in secrets {
            assert!(
                !cmdline.contains(s.as_str()),
                "a password is on the command line of {}",
                entry.path().display()
            );
        }
    }
    assert!(javas > 0, "no java process seen: is the broker running?");
}

fn exercise(cluster: &LocalCluster, mode: SecurityMode) {
    let bootstrap = cluster.bootstrap();
    let state = cluster.dir();
    let props = read_properties(&state.join("client.properties"));
    assert_eq!(props["security.protocol"], mode.protocol());

    // kbench's own way in: the same file through --client-config's reader.
    let access = cluster.access().expect("access from client.properties");
    assert_eq!(access.security_protocol(), mode.protocol());
    let admin = Admin::new(&access, &BTreeMap::new()).expect("admin client");
    assert_eq!(admin.broker_count(Duration::from_secs(10)).unwrap(), 1);
    let topic = common::random_topic(mode.name());
    admin
        .create_topic(&topic, 1, 1, &BTreeMap::new(), Duration::from_secs(30))
        .unwrap_or_else(|e| panic!("{mode}: creating {topic}: {e}"));

    let cfg = client(&bootstrap, &props);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(produce(&cfg, &topic));
    assert_eq!(consume(&cfg, &topic), MESSAGES, "{mode}: consumed");

    refused(
        &bootstrap,
        &BTreeMap::new(),
        &format!("{mode}: a plaintext client"),
    );
    if mode.client_cert() {
        let mut no_cert = props.clone();
        no_cert.remove("ssl.certificate.location");
        no_cert.remove("ssl.key.location");
        refused(&bootstrap, &no_cert, "mtls: a client without a certificate");
    }
    if mode.sasl() {
        let mut wrong = props.clone();
        wrong.insert("sasl.password".into(), "not-the-password".into());
        refused(&bootstrap, &wrong, &format!("{mode}: a wrong password"));
    }

    assert!(cluster.status().iter().all(|n| n.serving), "{mode}: status");
    let quorum = cluster
        .quorum()
        .unwrap_or_else(|e| panic!("{mode}: quorum: {e}"));
    assert!(quorum.contains("CurrentVoters"), "{mode}: {quorum}");

    let secrets = passwords(state);
    assert_eq!(secrets.len(), if mode.sasl() { 2 } else { 0 }, "{mode}");
    no_secret_on_a_command_line(&secrets);
    admin.delete_topics(&[&topic], Duration::from_secs(30)).ok();
    kbench_commands(cluster, mode, &secrets);
}

/// kbench's own commands over the secured connection: a run (topic created and deleted by
/// the admin client, produce, consume, a `leader-of` fault resolved through the metadata
/// client), `cleanup` of a leftover topic, and each kind of refused connection as one line
/// with its cause and exit code 4.
fn kbench_commands(cluster: &LocalCluster, mode: SecurityMode, secrets: &[String]) {
    let bootstrap = cluster.bootstrap();
    let state = cluster.dir();
    let config = state.join("client.properties");
    let work = tempfile::tempdir().unwrap();
    let scenario = work.path().join("secure.toml");
    std::fs::write(
        &scenario,
        "name = \"secure\"\n[topic]\npartitions = 1\nreplication_factor = 1\n\
         [producers]\nrate = 500\nmessage_size = 100\nacks = \"all\"\n\
         [consumers]\ngroups = 1\nmembers = 1\n\
         [run]\nwarmup = \"1s\"\nduration = \"3s\"\ndrain_timeout = \"20s\"\n\
         [[fault]]\nat = \"2s\"\naction = \"pause\"\nbroker = \"leader-of:0\"\nduration = \"500ms\"\n",
    )
    .unwrap();
    let reports = work.path().join("reports");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["run", scenario.to_str().unwrap(), "--bootstrap", &bootstrap]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(["--reports".into(), reports.display().to_string()]);
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    let state_arg = state.display().to_string();
    let config_arg = config.display().to_string();
    let run = |extra: &[&str]| {
        let a = args(extra);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        common::kbench(&a, &[("KBENCH_STATE_DIR", &state_arg)])
    };
    let o = run(&["--client-config", &config_arg, "--quiet"]);
    let out = common::text(&o);
    assert_eq!(o.status.code(), Some(0), "{mode}: kbench run\n{out}");
    for s in secrets {
        assert!(
            !out.contains(s.as_str()),
            "{mode}: a password in the output"
        );
    }
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let results = std::fs::read_to_string(run_dir.join("results.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(results.as_bytes());
    let h = rows.headers().unwrap().clone();
    let row = rows.records().next().unwrap().unwrap();
    let col = |k: &str| row[h.iter().position(|x| x == k).unwrap()].to_string();
    assert_eq!(col("acked"), col("consumed"), "{mode}: {row:?}");
    assert_eq!(col("lost"), "0", "{mode}: {row:?}");
    assert!(col("acked").parse::<u64>().unwrap() > 0, "{mode}: {row:?}");
    let faults = std::fs::read_to_string(run_dir.join("cells/base/faults.json")).unwrap();
    let faults: serde_json::Value = serde_json::from_str(&faults).unwrap();
    assert_eq!(
        faults[0]["event"]["node"], 1,
        "{mode}: leader-of:0 resolved: {faults}"
    );

    // cleanup deletes a registered leftover over the same connection.
    let access = cluster.access().unwrap();
    let admin = Admin::new(&access, &BTreeMap::new()).unwrap();
    let leftover = format!("kbench-{}", common::random_topic("leftover"));
    admin
        .create_topic(&leftover, 1, 1, &BTreeMap::new(), Duration::from_secs(30))
        .unwrap();
    std::fs::write(run_dir.join("topics.txt"), format!("{leftover}\n")).unwrap();
    let dir_arg = run_dir.display().to_string();
    let o = common::kbench(
        &[
            "cleanup",
            &dir_arg,
            "--bootstrap",
            &bootstrap,
            "--client-config",
            &config_arg,
        ],
        &[],
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{mode}: cleanup\n{}",
        common::text(&o)
    );
    assert!(
        common::text(&o).contains(&format!("deleted {leftover}")),
        "{}",
        common::text(&o)
    );

    // Refused connections: one line, the cause, exit 4, well within 15 s.
    let refused_with = |config: Option<&Path>, kinds: &[&str], what: &str| {
        let t0 = Instant::now();
        let c = config.map(|c| c.display().to_string());
        let mut extra = vec!["--quiet"];
        if let Some(c) = &c {
            extra.extend(["--client-config", c.as_str()]);
        }
        let o = run(&extra);
        let err = String::from_utf8_lossy(&o.stderr).to_string();
        assert_eq!(
            o.status.code(),
            Some(4),
            "{mode}: {what}\n{}",
            common::text(&o)
        );
        assert!(
            kinds.iter().any(|k| err.contains(k)),
            "{mode}: {what}: expected one of {kinds:?} in\n{err}"
        );
        assert!(
            err.contains("127.0.0.1"),
            "{mode}: {what}: the broker is named\n{err}"
        );
        assert_eq!(
            err.trim().lines().count(),
            1,
            "{mode}: {what}: one line\n{err}"
        );
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "{mode}: {what}: {:?}",
            t0.elapsed()
        );
    };
    let variant = |name: &str, edit: &dyn Fn(&mut Vec<String>)| -> std::path::PathBuf {
        let mut lines: Vec<String> = std::fs::read_to_string(&config)
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        edit(&mut lines);
        let p = work.path().join(name);
        std::fs::write(&p, lines.join("\n") + "\n").unwrap();
        p
    };
    // On a TLS port the handshake gives it away; on a SASL_PLAINTEXT port the broker just
    // drops the unauthenticated connection.
    let plaintext: &[&str] = if mode.tls() {
        &["protocol mismatch"]
    } else {
        &["protocol mismatch", "connection failed"]
    };
    refused_with(None, plaintext, "a plaintext client");
    if mode.sasl() {
        let wrong = variant("wrong.properties", &|l| {
            l.retain(|x| !x.starts_with("sasl.password"));
            l.push("sasl.password=not-the-password".into());
        });
        refused_with(Some(&wrong), &["authentication failed"], "a wrong password");
        let unknown = variant("unknown.properties", &|l| {
            l.retain(|x| !x.starts_with("sasl.username"));
            l.push("sasl.username=nobody".into());
        });
        refused_with(
            Some(&unknown),
            &["authentication failed"],
            "an unknown user",
        );
    }
    if mode.tls() {
        // A CA that did not sign the broker's certificate: this host's default store.
        let other_ca = work.path().join("other-ca.pem");
        std::fs::write(&other_ca, OTHER_CA).unwrap();
        let path = other_ca.display().to_string();
        let mismatch = variant("ca.properties", &|l| {
            l.retain(|x| !x.starts_with("ssl.ca.location"));
            l.push(format!("ssl.ca.location={path}"));
        });
        refused_with(
            Some(&mismatch),
            &["TLS handshake failed"],
            "a CA that does not match",
        );
    }
    if mode.client_cert() {
        let no_cert = variant("nocert.properties", &|l| {
            l.retain(|x| {
                !x.starts_with("ssl.certificate.location") && !x.starts_with("ssl.key.location")
            });
        });
        refused_with(
            Some(&no_cert),
            &[
                "TLS handshake failed",
                "protocol mismatch",
                "connection failed",
            ],
            "a client without a certificate",
        );
    }
}

/// A self-signed CA unrelated to any cluster (made once with openssl for this test).
const OTHER_CA: &str = include_str!("fixtures/other-ca.pem");

struct Down(Option<LocalCluster>);

impl Drop for Down {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            let _ = c.down(true);
        }
    }
}

/// Java (and Kafka's jars, or Maven to fetch them) are needed; without them, one line.
fn kafka_available() -> bool {
    let java = kbench::cluster::fetch::check_java();
    let jars = LocalClusterOpts::default()
        .cache_dir
        .join(format!(
            "kafka-{}/.complete",
            kbench::cluster::fetch::DEFAULT_KAFKA_VERSION
        ))
        .exists();
    let mvn = std::process::Command::new(kbench::cluster::fetch::mvn_cmd())
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if java.is_err() || !(jars || mvn) {
        use std::io::Write;
        let _ = std::io::stderr().write_all(
            b"skipped secure_cluster: needs Java 17 and Maven (or Kafka's jars in the cache)\n",
        );
        return false;
    }
    true
}

#[test]
fn every_secure_mode_serves_its_own_client_settings_and_refuses_plaintext() {
    if !kafka_available() {
        return;
    }
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let modes = [
        SecurityMode::Ssl,
        SecurityMode::Mtls,
        SecurityMode::SaslPlaintext,
        SecurityMode::SaslSsl,
    ];
    for (i, mode) in modes.into_iter().enumerate() {
        let t = Instant::now();
        let base_port = 25092 + 100 * i as u16;
        let state = dir.path().join(mode.name());
        let mut guard = Down(None);
        let cluster = if mode == SecurityMode::SaslSsl {
            let state_arg = state.display().to_string();
            let port = base_port.to_string();
            let up = common::kbench(
                &[
                    "cluster",
                    "up",
                    "--brokers",
                    "1",
                    "--base-port",
                    &port,
                    "--security",
                    "sasl_ssl",
                    "--state-dir",
                    &state_arg,
                ],
                &[],
            );
            // Stop it even if an assertion below fails.
            guard.0 = LocalCluster::open(&state).ok();
            let out = common::text(&up);
            assert!(up.status.success(), "{out}");
            let stdout = String::from_utf8_lossy(&up.stdout);
            assert_eq!(
                stdout.lines().last(),
                Some(format!("127.0.0.1:{base_port}").as_str()),
                "{out}"
            );
            assert!(stdout.contains("security sasl_ssl (SASL_SSL)"), "{out}");
            assert!(stdout.contains("client.properties"), "{out}");
            for p in passwords(&state) {
                assert!(!out.contains(&p), "cluster up printed a password:\n{out}");
            }
            let status = common::kbench(&["cluster", "status", "--state-dir", &state_arg], &[]);
            let status_out = common::text(&status);
            assert!(status.status.success(), "{status_out}");
            assert!(status_out.contains("security sasl_ssl"), "{status_out}");
            LocalCluster::open(&state).expect("state of the cluster the binary started")
        } else {
            let opts = LocalClusterOpts {
                brokers: 1,
                base_port,
                state_dir: state.clone(),
                heap: vec!["-Xms256m".into(), "-Xmx512m".into()],
                security: mode,
                ..LocalClusterOpts::default()
            };
            let (cluster, _) =
                LocalCluster::up(&opts).unwrap_or_else(|e| panic!("{mode}: cluster up: {e}"));
            guard.0 = Some(cluster.clone());
            cluster
        };
        assert_eq!(cluster.security(), mode);
        exercise(&cluster, mode);
        drop(guard);
        eprintln!("{mode}: {:.1} s", t.elapsed().as_secs_f64());
    }
    eprintln!("all modes: {:.1} s", t0.elapsed().as_secs_f64());
}
