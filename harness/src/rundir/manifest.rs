//! `manifest.json`: exactly what ran. Pass-through client properties that look like secrets
//! (passwords, keys, tokens, JAAS configs) are redacted before they are written.

use serde::{Deserialize, Serialize};

use crate::cluster::facts::ClusterFacts;
use crate::cluster::secrets;
use crate::scenario::Scenario;

/// `manifest.json`. Every field has a default, so a manifest from an older or newer kbench
/// still loads.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Manifest {
    pub run_id: String,
    pub started_at: String,
    pub kbench_version: String,
    /// `git rev-parse --short HEAD` of the tree kbench was built from; "unknown" without git.
    pub kbench_git_revision: String,
    pub librdkafka_version: String,
    /// The exact Kafka version, known only when kbench started the cluster (`--local`); for
    /// any cluster, `cluster.kafka_version_at_least` is what the brokers' answers prove.
    pub kafka_version: Option<String>,
    pub bootstrap: String,
    /// `security.protocol` of the connection (from `--client-config`), e.g. `SASL_SSL`.
    pub security_protocol: String,
    pub brokers: usize,
    pub local_cluster: bool,
    /// What the cluster said about itself when the run started: brokers, racks, the
    /// controller, auto-creation settings, a Kafka version bound. `None` in older manifests.
    pub cluster: Option<ClusterFacts>,
    /// Passes over the sweep (`--repeat`).
    pub repeat: u32,
    pub host: Host,
    /// The scenario as resolved, secrets redacted.
    pub scenario: ScenarioInfo,
    /// Which shard of a distributed run wrote this directory (`--shard I/N`); `None` for one
    /// process. A merged directory has `None` here and lists its shards in `shards`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardInfo>,
    /// The shards a merged run directory was made from (`kbench merge`), in shard order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardInfo>,
    /// find-max's own settings (SLOs, search parameters); absent for other commands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub find_max: Option<serde_json::Value>,
}

/// The resolved scenario: the parts the reports read typed (its name and the sweep axes in
/// file order, which gives the order of the values on every chart), the rest as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScenarioInfo {
    pub name: String,
    pub path: String,
    pub axes: Vec<AxisInfo>,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, serde_json::Value>,
}

impl ScenarioInfo {
    /// `s` as the manifest records it, secrets redacted.
    pub fn of(s: &Scenario) -> ScenarioInfo {
        serde_json::from_value(redacted_scenario(s)).unwrap_or_default()
    }

    /// The same scenario, wherever its file lives (a resumed run may name it differently).
    pub fn same_as(&self, other: &ScenarioInfo) -> bool {
        ScenarioInfo {
            path: String::new(),
            ..self.clone()
        } == ScenarioInfo {
            path: String::new(),
            ..other.clone()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AxisInfo {
    pub name: String,
    pub values: Vec<String>,
}

/// One shard of a distributed run, as its manifest records it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShardInfo {
    pub index: u16,
    pub count: u16,
    /// The id all shards of one run share (`--run-id`); it names the control topic.
    pub distributed_run_id: String,
    pub host: Host,
    /// This shard's wall clock minus shard 0's, ns, as measured through the control topic,
    /// and the bound on that estimate's error (half the best round trip), ns.
    pub clock_offset_ns: i64,
    pub clock_offset_bound_ns: u64,
    /// Which attempt at the run this directory last took part in: 1 for the first, one more
    /// for each `--resume` (older manifests: 0, read as 1). Every attempt has its own control
    /// topic (`runner::shard_resume`).
    pub attempt: u32,
    /// The cluster carrying the control topic (`--control-bootstrap`) when it is not the
    /// cluster under test, so `kbench cleanup` finds a control topic left there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub control_bootstrap: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Host {
    pub hostname: String,
    pub cpus: usize,
    pub os: String,
    pub arch: String,
}

impl Host {
    pub fn this() -> Host {
        Host {
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .map(|s| s.trim().to_string())
                .unwrap_or_default(),
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            os: std::env::consts::OS.to_string(),
            arch: std::env::consts::ARCH.to_string(),
        }
    }
}

/// kbench's git revision, embedded by `harness/build.rs`.
pub fn git_revision() -> String {
    env!("KBENCH_GIT_REVISION").to_string()
}

pub fn librdkafka_version() -> String {
    rdkafka::util::get_rdkafka_version().1
}

/// The scenario as JSON with secret-looking values replaced by "<redacted>".
fn redacted_scenario(s: &Scenario) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or(serde_json::Value::Null);
    redact(&mut v);
    v
}

fn redact(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, val) in map.iter_mut() {
                if let Some(text) = val.as_str().filter(|_| secrets::is_secret(k)) {
                    *val = serde_json::Value::String(secrets::shown(k, text));
                } else {
                    redact(val);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_manifest_without_cluster_facts_still_loads() {
        let m: Manifest =
            serde_json::from_str(r#"{"run_id": "r", "kafka_version": null, "brokers": 3}"#)
                .unwrap();
        assert_eq!((m.cluster, m.kbench_git_revision.as_str()), (None, ""));
        let m: Manifest = serde_json::from_str(
            r#"{"cluster": {"brokers": [{"id": 1}], "metadata_controller_id": 1}}"#,
        )
        .unwrap();
        let c = m.cluster.unwrap();
        assert_eq!(
            (c.broker_ids(), c.metadata_controller_id),
            (vec![1], Some(1))
        );
        assert_eq!(c.brokers[0].rack, None);
    }

    #[test]
    fn the_git_revision_is_embedded() {
        assert!(!git_revision().is_empty());
    }

    #[test]
    fn secrets_are_redacted_anywhere_in_the_tree() {
        let mut v = serde_json::json!({
            "client": {"producer": {"sasl.password": "hunter2", "linger.ms": "5"}},
            "list": [{"ssl.key.pem": "-----BEGIN"}]
        });
        redact(&mut v);
        let text = v.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("BEGIN"),
            "{text}"
        );
        assert!(text.contains("\"linger.ms\":\"5\""));
    }
}
