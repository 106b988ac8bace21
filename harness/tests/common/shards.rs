//! Shard processes of a distributed run (`kbench run|find-max ... --shard I/N --run-id ID`),
//! started side by side against the real cluster, and what they wrote.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One shard process: its child, its reports directory and its captured output.
pub struct Shard {
    pub child: Child,
    pub reports: PathBuf,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// The command's arguments, so it can be started again with `--resume`.
    pub args: Vec<String>,
}

/// Start `count` shards of `kbench <command> SCENARIO <extra...>` (the scenario's text is
/// written to `dir`), sharing one fresh run id, each with its own reports directory
/// (`dir/shard<i>`). `env` sets (shard, name, value) variables on single shards.
#[allow(clippy::too_many_arguments)]
pub fn start(
    bootstrap: &str,
    dir: &Path,
    command: &str,
    extra: &[&str],
    scenario: &str,
    count: u16,
    barrier_timeout: &str,
    env: &[(u16, &str, &str)],
) -> Vec<Shard> {
    let each = vec![extra; count as usize];
    start_each(
        bootstrap,
        dir,
        command,
        &each,
        scenario,
        barrier_timeout,
        env,
    )
}

/// [`start`] with each shard's own extra arguments (`extra[i]` for shard i of `extra.len()`).
pub fn start_each(
    bootstrap: &str,
    dir: &Path,
    command: &str,
    extra: &[&[&str]],
    scenario: &str,
    barrier_timeout: &str,
    env: &[(u16, &str, &str)],
) -> Vec<Shard> {
    let count = extra.len() as u16;
    let file = dir.join("scenario.toml");
    std::fs::write(&file, scenario).unwrap();
    let run_id = format!("test-{:08x}", rand::random::<u32>());
    (0..count)
        .map(|i| {
            let reports = dir.join(format!("shard{i}"));
            let (stdout, stderr) = (dir.join(format!("out{i}")), dir.join(format!("err{i}")));
            let mut args: Vec<String> = [command, file.to_str().unwrap()]
                .iter()
                .chain(extra[i as usize])
                .map(|a| a.to_string())
                .collect();
            args.extend(
                [
                    "--bootstrap",
                    bootstrap,
                    "--reports",
                    reports.to_str().unwrap(),
                    "--shard",
                    &format!("{i}/{count}"),
                    "--run-id",
                    &run_id,
                    "--barrier-timeout",
                    barrier_timeout,
                ]
                .map(String::from),
            );
            let env: Vec<(&str, &str)> = env
                .iter()
                .filter(|(shard, _, _)| *shard == i)
                .map(|(_, k, v)| (*k, *v))
                .collect();
            Shard::spawn(args, reports, (stdout, stderr), &env)
        })
        .collect()
}

impl Shard {
    fn spawn(
        args: Vec<String>,
        reports: PathBuf,
        (stdout, stderr): (PathBuf, PathBuf),
        env: &[(&str, &str)],
    ) -> Shard {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kbench"));
        cmd.args(&args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).unwrap())
            .stderr(std::fs::File::create(&stderr).unwrap());
        Shard {
            child: cmd.spawn().expect("starting kbench"),
            reports,
            stdout,
            stderr,
            args,
        }
    }

    /// The value given to `--NAME` on this shard's command line.
    pub fn arg(&self, name: &str) -> &str {
        let at = self.args.iter().position(|a| a == name).unwrap();
        &self.args[at + 1]
    }

    /// The same shard started again with `--resume` of its run directory (output to files
    /// named `<name>-resumed`).
    pub fn resumed(&self) -> Shard {
        let mut args = self.args.clone();
        args.extend(["--resume".into(), self.run_dir().to_str().unwrap().into()]);
        let again = |p: &Path| PathBuf::from(format!("{}-resumed", p.display()));
        Shard::spawn(
            args,
            self.reports.clone(),
            (again(&self.stdout), again(&self.stderr)),
            &[],
        )
    }

    /// Wait until the shard measures its first cell (its progress line says so).
    pub fn wait_for_measure(&self) {
        self.wait_for_output(" measure ");
    }

    /// Wait (at most 60 s) until the shard's output (stdout or stderr) contains `needle`.
    pub fn wait_for_output(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.output().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "the shard never printed {needle:?}: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait for the process at most `limit`; its exit code and output.
    pub fn wait(&mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        let code = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status.code();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        (code, self.output())
    }

    pub fn output(&self) -> String {
        format!(
            "--- stdout\n{}--- stderr\n{}",
            std::fs::read_to_string(&self.stdout).unwrap_or_default(),
            std::fs::read_to_string(&self.stderr).unwrap_or_default()
        )
    }

    /// The one run directory the shard wrote.
    pub fn run_dir(&self) -> PathBuf {
        std::fs::read_dir(&self.reports)
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path()
    }

    /// results.csv as (column -> value) maps, one per row.
    pub fn rows(&self) -> Vec<HashMap<String, String>> {
        self.table("results.csv")
    }

    /// A CSV file of the run directory as (column -> value) maps, one per row.
    pub fn table(&self, file: &str) -> Vec<HashMap<String, String>> {
        read_table(&self.run_dir().join(file))
    }

    pub fn manifest(&self) -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(self.run_dir().join("manifest.json")).unwrap())
            .unwrap()
    }
}

/// A CSV file as (column -> value) maps, one per row.
pub fn read_table(path: &Path) -> Vec<HashMap<String, String>> {
    let mut csv =
        csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let headers = csv.headers().unwrap().clone();
    csv.records()
        .map(|r| {
            let r = r.unwrap();
            headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A whole-number column of a row.
pub fn num(row: &HashMap<String, String>, k: &str) -> u64 {
    row.get(k)
        .unwrap_or_else(|| panic!("column {k}"))
        .parse()
        .unwrap_or_else(|_| panic!("{k} = {:?}", row[k]))
}
