//! Secrets never leak: a run whose passwords come from `${env:..}` (in the scenario) and
//! `${file:..}` (in `--client-config`) leaves no trace of them in any file of its run
//! directory, its stdout or stderr, or any process's command line; a swept secret is refused
//! without echoing it.

mod common;
use common::{kbench, text};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn secret(tag: &str) -> String {
    format!("kbsecret{tag}{:016x}", rand::random::<u64>())
}

/// Every file under `dir` that contains `needle`.
fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                if bytes.windows(needle.len()).any(|w| w == needle.as_bytes()) {
                    hits.push(p.display().to_string());
                }
            }
        }
    }
    hits
}

/// Command lines of every process on the host that contain `needle`.
fn cmdlines_containing(needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(needle) {
                hits.push(c);
            }
        }
    }
    hits
}

#[test]
fn secrets_from_env_and_file_never_reach_files_output_or_command_lines() {
    let bootstrap = common::require_cluster!();
    let dir = tempfile::tempdir().unwrap();
    let (env_secret, file_secret) = (secret("env"), secret("file"));
    let secret_file = dir.path().join("password");
    std::fs::write(&secret_file, format!("{file_secret}\n")).unwrap();
    let client_config = dir.path().join("client.properties");
    // librdkafka ignores SASL settings on a plaintext connection: the run works on the
    // suite's cluster, and the values still pass through every path a secret could leak by.
    std::fs::write(
        &client_config,
        format!(
            "# test\nsasl.username=kbench\nsasl.password=${{file:{}}}\n",
            secret_file.display()
        ),
    )
    .unwrap();
    let scenario = dir.path().join("secrets.toml");
    std::fs::write(
        &scenario,
        "name = \"secrets\"\n[topic]\npartitions = 2\nreplication_factor = 1\n\
         [producers]\nrate = 300\nmessage_size = 100\n[run]\nwarmup = \"1s\"\nduration = \"2s\"\n\
         [client.producer]\n\"sasl.password\" = \"${env:KBENCH_TEST_SECRET}\"\n\
         [client.consumer]\n\"sasl.password\" = \"${env:KBENCH_TEST_SECRET}\"\n\
         [sweep]\nacks = [\"1\", \"all\"]\n",
    )
    .unwrap();
    let reports = dir.path().join("reports");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kbench"))
        .args(["run", scenario.to_str().unwrap(), "--bootstrap", &bootstrap])
        .arg("--client-config")
        .arg(&client_config)
        .arg("--reports")
        .arg(&reports)
        .env("KBENCH_TEST_SECRET", &env_secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // While it runs: no command line on the host holds either secret.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        for s in [&env_secret, &file_secret] {
            let hits = cmdlines_containing(s);
            assert!(hits.is_empty(), "a command line holds a secret: {hits:?}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let output = format!("{}{}", text(&o), "");
    for s in [&env_secret, &file_secret] {
        assert!(
            !output.contains(s.as_str()),
            "output holds a secret:\n{output}"
        );
        let hits = files_containing(&reports, s);
        assert!(hits.is_empty(), "files hold a secret: {hits:?}");
    }
    // The manifest says where the secret came from, not what it is.
    let run_dir = std::fs::read_dir(&reports)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let manifest = std::fs::read_to_string(run_dir.join("manifest.json")).unwrap();
    assert!(manifest.contains("${env:KBENCH_TEST_SECRET}"), "{manifest}");

    // A swept secret is refused, and the message does not echo it.
    let swept = dir.path().join("swept.toml");
    std::fs::write(
        &swept,
        format!("name = \"x\"\n[sweep]\n\"client.producer.sasl.password\" = [\"{env_secret}\", \"b\"]\n"),
    )
    .unwrap();
    let o = kbench(&["validate", swept.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("cannot be swept"), "{}", text(&o));
    assert!(!text(&o).contains(&env_secret), "{}", text(&o));

    // An unresolvable reference: exit 2 at once, naming the key and the variable.
    let o = kbench(
        &[
            "run",
            scenario.to_str().unwrap(),
            "--bootstrap",
            &bootstrap,
            "--reports",
            reports.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let e = text(&o);
    assert!(
        e.contains("client.producer.sasl.password") && e.contains("KBENCH_TEST_SECRET"),
        "{e}"
    );
}
