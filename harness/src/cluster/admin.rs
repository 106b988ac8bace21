//! The admin side of a cluster: broker list, and creating, checking and deleting kbench's
//! topics. Every call blocks the calling thread and has a deadline (librdkafka's request and
//! operation timeouts), so an unreachable cluster is an error, not a hang. rdkafka's admin
//! futures are completed by the client's own polling thread, so no async runtime is needed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use super::error::ClusterError;
use super::Access;

/// Prefix of every topic kbench creates; cleanup only ever considers topics it recorded itself.
pub const TOPIC_PREFIX: &str = "kbench-";

fn kafka_err(bootstrap: &str, cause: impl std::fmt::Display) -> ClusterError {
    ClusterError::Kafka {
        bootstrap: bootstrap.to_string(),
        cause: cause.to_string(),
    }
}

fn config(access: &Access, extra: &BTreeMap<String, String>) -> ClientConfig {
    let mut c = access.config();
    // A broker that is down is normal in fault tests; don't spam stderr about it.
    c.set("log_level", "3");
    Access::apply_extra(&mut c, extra);
    c
}

/// Ids of the brokers the cluster currently lists in its metadata (registered and unfenced).
pub fn broker_ids(access: &Access, timeout: Duration) -> Result<Vec<i32>, ClusterError> {
    let bootstrap = &access.bootstrap;
    let consumer: BaseConsumer = config(access, &BTreeMap::new())
        .create()
        .map_err(|e| kafka_err(bootstrap, e))?;
    let md = consumer
        .fetch_metadata(None, timeout)
        .map_err(|e| kafka_err(bootstrap, format!("unreachable: {e}")))?;
    Ok(md.brokers().iter().map(|b| b.id()).collect())
}

/// The shape of a topic as the cluster reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicShape {
    pub partitions: i32,
    pub replication_factor: i32,
    /// Partitions that currently have a leader.
    pub with_leader: i32,
}

pub struct Admin {
    bootstrap: String,
    client: AdminClient<DefaultClientContext>,
    /// For metadata requests (the admin client has no public metadata call of its own).
    meta: BaseConsumer,
}

impl Admin {
    pub fn new(access: &Access, extra: &BTreeMap<String, String>) -> Result<Admin, ClusterError> {
        let bootstrap = &access.bootstrap;
        let cfg = config(access, extra);
        Ok(Admin {
            bootstrap: bootstrap.to_string(),
            client: cfg.create().map_err(|e| kafka_err(bootstrap, e))?,
            meta: cfg.create().map_err(|e| kafka_err(bootstrap, e))?,
        })
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Number of brokers in the cluster; the first call on a run, so it also proves the
    /// cluster answers (within `timeout`).
    pub fn broker_count(&self, timeout: Duration) -> Result<usize, ClusterError> {
        let md = self
            .meta
            .fetch_metadata(None, timeout)
            .map_err(|e| kafka_err(&self.bootstrap, format!("unreachable: {e}")))?;
        Ok(md.brokers().len())
    }

    fn options(timeout: Duration) -> AdminOptions {
        AdminOptions::new()
            .request_timeout(Some(timeout))
            .operation_timeout(Some(timeout))
    }

    /// Create a topic with exactly the requested shape. An existing topic of that name is an
    /// error: kbench never writes into a topic it did not create.
    pub fn create_topic(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        configs: &BTreeMap<String, String>,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let mut topic = NewTopic::new(
            name,
            partitions,
            TopicReplication::Fixed(replication_factor),
        );
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let results = block_on(self.client.create_topics([&topic], &Self::options(timeout)))
            .map_err(|e| kafka_err(&self.bootstrap, format!("creating topic {name}: {e}")))?;
        for r in results {
            if let Err((t, code)) = r {
                return Err(kafka_err(
                    &self.bootstrap,
                    format!("creating topic {t}: {}", describe_code(code)),
                ));
            }
        }
        Ok(())
    }

    /// The topic's shape from fresh metadata, or `None` if the cluster does not know it.
    pub fn describe(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<Option<TopicShape>, ClusterError> {
        let md = self
            .meta
            .fetch_metadata(Some(name), timeout)
            .map_err(|e| kafka_err(&self.bootstrap, format!("metadata for {name}: {e}")))?;
        let Some(t) = md.topics().iter().find(|t| t.name() == name) else {
            return Ok(None);
        };
        if t.error().is_some() || t.partitions().is_empty() {
            return Ok(None);
        }
        Ok(Some(TopicShape {
            partitions: t.partitions().len() as i32,
            replication_factor: t
                .partitions()
                .iter()
                .map(|p| p.replicas().len() as i32)
                .max()
                .unwrap_or(0),
            with_leader: t.partitions().iter().filter(|p| p.leader() >= 0).count() as i32,
        }))
    }

    /// Wait until every partition of `name` has a leader, and check the shape is what was
    /// asked for (a topic auto-created with one partition would silently change the test).
    pub fn wait_for_leaders(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i32,
        timeout: Duration,
    ) -> Result<(), ClusterError> {
        let deadline = Instant::now() + timeout;
        loop {
            let shape = self.describe(name, Duration::from_secs(5))?;
            if let Some(s) = &shape {
                if s.partitions != partitions || s.replication_factor != replication_factor {
                    return Err(kafka_err(
                        &self.bootstrap,
                        format!(
                            "topic {name} has {} partitions x RF {}, the scenario asks for {partitions} x RF {replication_factor}",
                            s.partitions, s.replication_factor
                        ),
                    ));
                }
                if s.with_leader == partitions {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                return Err(kafka_err(
                    &self.bootstrap,
                    format!("topic {name}: not every partition had a leader after {timeout:?}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Delete topics. Callers pass only names kbench created and recorded.
    pub fn delete_topics(&self, names: &[&str], timeout: Duration) -> Result<(), ClusterError> {
        if names.is_empty() {
            return Ok(());
        }
        let results = block_on(self.client.delete_topics(names, &Self::options(timeout)))
            .map_err(|e| kafka_err(&self.bootstrap, format!("deleting topics: {e}")))?;
        for r in results {
            if let Err((t, code)) = r {
                if code != RDKafkaErrorCode::UnknownTopicOrPartition {
                    return Err(kafka_err(
                        &self.bootstrap,
                        format!("deleting topic {t}: {}", describe_code(code)),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn describe_code(code: RDKafkaErrorCode) -> String {
    match code {
        RDKafkaErrorCode::InvalidReplicationFactor => {
            "replication factor larger than the number of brokers".into()
        }
        RDKafkaErrorCode::TopicAlreadyExists => {
            "already exists (kbench only writes to topics it creates)".into()
        }
        other => other.to_string(),
    }
}
