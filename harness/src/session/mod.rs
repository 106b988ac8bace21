//! One session per command that loads a cluster (`run`, `find-max`, `versus`): the connection
//! and its admin client, the broker count, the shutdown handle, the run directory with its
//! manifest, and the names of the topics it creates (registered before they are written to,
//! so `cleanup` can prove they are kbench's). A driver adds its own loop, not this plumbing.

mod connection;

pub use connection::{Connection, ConnectionOptions};

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::cluster::admin::{Admin, TopicShape, TOPIC_PREFIX};
use crate::cluster::facts::ClusterFacts;
use crate::rundir::manifest::{self, Manifest, ScenarioInfo};
use crate::rundir::RunDir;
use crate::scenario::Scenario;
use crate::shutdown::Shutdown;

/// How long topic creation, deletion and metadata calls may take before they are errors.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Session {
    pub conn: Connection,
    pub admin: Admin,
    /// Brokers the cluster listed when the session opened.
    pub brokers: usize,
    pub shutdown: Shutdown,
    /// Two runs of one scenario started in the same second (CI jobs, tests) get the same run
    /// id: a random tag per session keeps their topics apart.
    topic_tag: String,
    /// What the cluster says about itself, asked once (by the first run directory).
    facts: std::sync::OnceLock<ClusterFacts>,
}

impl Session {
    /// Connect: an admin client with `admin_props` (a scenario's `[client.admin]`), and the
    /// broker count, which also proves the cluster answers.
    pub fn open(
        conn: Connection,
        admin_props: &BTreeMap<String, String>,
        shutdown: Shutdown,
    ) -> anyhow::Result<Session> {
        let admin = Admin::new(&conn.access, admin_props)?;
        let brokers = admin
            .broker_count(Duration::from_secs(10))
            .context("is the cluster up? (`kbench cluster up`, or check --bootstrap)")?;
        Ok(Session {
            conn,
            admin,
            brokers,
            shutdown,
            topic_tag: format!("{:06x}", rand::random::<u32>() & 0xff_ffff),
            facts: std::sync::OnceLock::new(),
        })
    }

    /// Open a session for `scenario`'s cells: its `[client.admin]` properties, its
    /// replication factors checked against the broker count.
    pub fn for_scenario(
        conn: Connection,
        scenario: &Scenario,
        shutdown: Shutdown,
    ) -> anyhow::Result<Session> {
        let admin_props = scenario
            .cells
            .first()
            .map(|c| c.client.admin.clone())
            .unwrap_or_default();
        let session = Session::open(conn, &admin_props, shutdown)?;
        crate::scenario::parse::validate_against_cluster(scenario, session.brokers)?;
        Ok(session)
    }

    pub fn bootstrap(&self) -> &str {
        &self.conn.access.bootstrap
    }

    /// How every client of this session reaches the cluster.
    pub fn access(&self) -> &crate::cluster::Access {
        &self.conn.access
    }

    /// The cluster's own answers about itself ([`Admin::describe_cluster`]), asked on the
    /// first call. What it could not learn is in its `errors`, never a failed command.
    pub fn cluster_facts(&self) -> &ClusterFacts {
        self.facts.get_or_init(|| {
            self.admin
                .describe_cluster(Duration::from_secs(10))
                .unwrap_or_else(|e| ClusterFacts {
                    errors: vec![e.to_string()],
                    ..ClusterFacts::default()
                })
        })
    }

    /// A new run directory `<reports_dir>/<name>-<timestamp>` with its `manifest.json`.
    /// `find_max` is find-max's own settings section of the manifest.
    pub fn create_run(
        &self,
        reports_dir: &Path,
        name: &str,
        scenario: Option<&Scenario>,
        repeat: u32,
        find_max: Option<serde_json::Value>,
    ) -> anyhow::Result<RunDir> {
        let run = RunDir::create(reports_dir, name)?;
        let m = Manifest {
            run_id: run.run_id.clone(),
            started_at: chrono::Local::now().to_rfc3339(),
            kbench_version: env!("CARGO_PKG_VERSION").to_string(),
            kbench_git_revision: manifest::git_revision(),
            librdkafka_version: manifest::librdkafka_version(),
            kafka_version: self.conn.kafka_version.clone(),
            bootstrap: self.conn.access.bootstrap.clone(),
            security_protocol: self.conn.access.security_protocol(),
            brokers: self.brokers,
            local_cluster: self.conn.local,
            cluster: Some(self.cluster_facts().clone()),
            repeat,
            host: manifest::Host::this(),
            scenario: scenario.map(ScenarioInfo::of).unwrap_or_default(),
            shard: None,
            shards: Vec::new(),
            find_max,
        };
        run.write_manifest(&m)?;
        Ok(run)
    }

    /// The name of a topic this session creates: prefixed (cleanup only ever considers
    /// kbench's own), the run, the session's tag, then `what` (a cell id, a probe, ...).
    pub fn topic_name(&self, run_id: &str, what: &str) -> String {
        format!("{TOPIC_PREFIX}{run_id}-{}-{what}", self.topic_tag)
    }

    /// Create `topic` with exactly this shape and record it in the run directory's
    /// `topics.txt`. Recorded only after the creation succeeded: a name that already existed
    /// (someone else's topic) is never recorded, so never deleted.
    pub fn create_topic(
        &self,
        run: &RunDir,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
        configs: &BTreeMap<String, String>,
    ) -> anyhow::Result<()> {
        let started = std::time::Instant::now();
        let created = self.admin.create_topic(
            topic,
            partitions,
            replication_factor,
            configs,
            ADMIN_TIMEOUT,
        );
        if let Err(e) = created {
            let waited = started.elapsed();
            return Err(anyhow::anyhow!(
                "{e}; after {:.1} s, {}; this run stops (finished cells are on disk)",
                waited.as_secs_f64(),
                self.brokers_against(replication_factor)
            ));
        }
        run.register_topic(topic)?;
        Ok(())
    }

    /// The (name, value) topic configs the cluster refuses, with why; nothing is created.
    pub fn refused_topic_configs(
        &self,
        configs: &[(String, String)],
    ) -> anyhow::Result<Vec<(String, String, String)>> {
        Ok(self.admin.refused_topic_configs(configs, ADMIN_TIMEOUT)?)
    }

    /// Delete topics this session created (callers pass only such names).
    pub fn delete_topics(&self, topics: &[&str]) -> anyhow::Result<()> {
        Ok(self.admin.delete_topics(topics, ADMIN_TIMEOUT)?)
    }

    /// Wait until every partition of `topic` has a leader, with the shape asked for.
    pub fn wait_for_leaders(
        &self,
        topic: &str,
        partitions: i32,
        replication_factor: i32,
    ) -> anyhow::Result<()> {
        let waited =
            self.admin
                .wait_for_leaders(topic, partitions, replication_factor, ADMIN_TIMEOUT);
        waited.map_err(|e| {
            let leaderless = self
                .describe(topic)
                .ok()
                .flatten()
                .map(|s| {
                    format!(
                        "; {} of {partitions} partitions have a leader",
                        s.with_leader
                    )
                })
                .unwrap_or_default();
            anyhow::anyhow!(
                "{e}{leaderless}; {}; this run stops (finished cells are on disk)",
                self.brokers_against(replication_factor)
            )
        })
    }

    /// How many brokers the cluster lists now, against what a replication factor needs: the
    /// first thing to know when a topic cannot be created or has no leaders.
    fn brokers_against(&self, replication_factor: i32) -> String {
        match self.admin.broker_count(Duration::from_secs(5)) {
            Ok(n) => format!(
                "the cluster lists {n} of the {} brokers it had at the start (replication factor {replication_factor} needs {replication_factor})",
                self.brokers
            ),
            Err(e) => format!("the cluster does not answer: {e}"),
        }
    }

    /// A topic's shape as the cluster reports it; `None` if it does not exist.
    pub fn describe(&self, topic: &str) -> anyhow::Result<Option<TopicShape>> {
        Ok(self.admin.describe(topic, Duration::from_secs(10))?)
    }

    /// Delete the topics `run_dir` records that still exist (left behind by a killed run).
    /// Never touches a topic the directory does not list, whatever its name.
    pub fn delete_leftover_topics(&self, run_dir: &Path) -> anyhow::Result<Vec<String>> {
        let mut left = Vec::new();
        for t in crate::rundir::registered_topics(run_dir)? {
            if self.describe(&t)?.is_some() {
                left.push(t);
            }
        }
        let names: Vec<&str> = left.iter().map(String::as_str).collect();
        self.delete_topics(&names)?;
        Ok(left)
    }

    /// Stop the local cluster if this session's command started it.
    pub fn close(self, out: &mut impl std::io::Write) -> anyhow::Result<()> {
        self.conn.close(out)
    }
}
