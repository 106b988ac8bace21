//! Where a fault is carried out: the local cluster's control API (signals to the broker
//! processes kbench started), or shell commands from `[fault_commands]` (Docker, or any
//! cluster with a way to stop a node).

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::LocalCluster;
use crate::scenario::FaultCommands;

/// How long one `[fault_commands]` command may run before it is killed and counted as failed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// One step of a fault; each fault is one or two of these, then the step that undoes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Kill,
    Stop,
    Start,
    Pause,
    Resume,
}

impl Step {
    /// The `[fault_commands]` key of this step.
    pub fn name(self) -> &'static str {
        match self {
            Step::Kill => "kill",
            Step::Stop => "stop",
            Step::Start => "start",
            Step::Pause => "pause",
            Step::Resume => "resume",
        }
    }
}

/// What carries faults out.
#[derive(Debug, Clone)]
pub enum Target {
    /// A local cluster (`kbench cluster up`, `kbench run --local`): SIGKILL, SIGTERM, SIGSTOP,
    /// SIGCONT to the broker's process; `start` waits until the broker serves clients.
    Local(LocalCluster),
    /// `[fault_commands]`: `sh -c TEMPLATE` with `{node}` replaced by the node id. After
    /// `start`, the executor waits until the node is listed in the cluster's metadata (when it
    /// has a bootstrap to ask).
    Commands(FaultCommands),
}

impl Target {
    /// The local cluster whose state is in `state_dir` (see `LocalCluster::open`).
    pub fn local(state_dir: &Path) -> Result<Target, String> {
        LocalCluster::open(state_dir)
            .map(Target::Local)
            .map_err(|e| e.to_string())
    }

    /// The commands when the scenario has `[fault_commands]`, else the local cluster in
    /// `state_dir` (an error when there is none: faults then have no way to run).
    pub fn for_scenario(
        commands: Option<&FaultCommands>,
        state_dir: &Path,
    ) -> Result<Target, String> {
        match commands {
            Some(c) => Ok(Target::Commands(c.clone())),
            None => Target::local(state_dir).map_err(|e| {
                format!(
                    "the scenario has faults but no [fault_commands], and there is no local \
                     cluster to fault ({e}); run with --local, or add [fault_commands]"
                )
            }),
        }
    }

    /// Carries out one step on `node`. Blocking: a local `stop` waits for the controlled
    /// shutdown (at most 30 s, then SIGKILL), a local `start` until the broker serves clients.
    pub(crate) fn run(&self, step: Step, node: i32) -> Result<(), String> {
        match self {
            Target::Local(cluster) => {
                let n = u32::try_from(node)
                    .map_err(|_| format!("node {node} is not a node of the local cluster"))?;
                let result = match step {
                    Step::Kill => cluster.kill(n),
                    Step::Stop => cluster.stop(n),
                    Step::Start => cluster.start(n),
                    Step::Pause => cluster.pause(n),
                    Step::Resume => cluster.resume(n),
                };
                result.map_err(|e| e.to_string())
            }
            Target::Commands(commands) => {
                let template = commands
                    .get(step.name())
                    .ok_or_else(|| format!("[fault_commands] has no {} command", step.name()))?;
                run_command(template, node, COMMAND_TIMEOUT)
            }
        }
    }
}

/// Runs `sh -c template` with `{node}` replaced; fails on a non-zero exit (with the last line
/// it printed) or after `timeout`.
pub fn run_command(template: &str, node: i32, timeout: Duration) -> Result<(), String> {
    let cmd = template.replace("{node}", &node.to_string());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("`{cmd}`: cannot run sh: {e}"))?;
    // Drain the pipes on threads so a chatty command cannot block on a full pipe.
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_string(&mut text);
            }
            text
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`{cmd}` did not finish within {} s and was killed",
                    timeout.as_secs()
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("`{cmd}`: {e}")),
        }
    };
    let out = out.join().unwrap_or_default();
    let err = err.join().unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    let said = err
        .lines()
        .chain(out.lines())
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("no output");
    Err(format!(
        "`{cmd}` failed ({}): {said}",
        match status.code() {
            Some(c) => format!("exit {c}"),
            None => "killed by a signal".to_string(),
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_replace_the_node_and_report_failures() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("log");
        let template = format!("echo kill {{node}} >> '{}'", file.display());
        run_command(&template, 2, Duration::from_secs(10)).expect("runs");
        run_command(&template, 3, Duration::from_secs(10)).expect("runs");
        assert_eq!(
            std::fs::read_to_string(&file).expect("written"),
            "kill 2\nkill 3\n"
        );

        let e =
            run_command("echo oops >&2; exit 3", 1, Duration::from_secs(10)).expect_err("exit 3");
        assert_eq!(e, "`echo oops >&2; exit 3` failed (exit 3): oops");
        let e = run_command("sleep 5", 1, Duration::from_millis(200)).expect_err("timeout");
        assert!(e.contains("did not finish within 0 s"), "{e}");
    }

    #[test]
    fn a_missing_command_is_an_error_not_a_panic() {
        let t = Target::Commands(FaultCommands {
            kill: Some("true".into()),
            ..FaultCommands::default()
        });
        assert_eq!(t.run(Step::Kill, 1), Ok(()));
        assert_eq!(
            t.run(Step::Start, 1),
            Err("[fault_commands] has no start command".to_string())
        );
    }

    #[test]
    fn for_scenario_needs_commands_or_a_local_cluster() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = Target::for_scenario(None, dir.path()).expect_err("no cluster");
        assert!(e.contains("no [fault_commands]"), "{e}");
        let c = FaultCommands::default();
        assert!(matches!(
            Target::for_scenario(Some(&c), dir.path()),
            Ok(Target::Commands(_))
        ));
    }
}
