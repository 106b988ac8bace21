//! The admin side of a cluster: broker list, and creating, checking and deleting kbench's
//! topics. Every call blocks the calling thread and has a deadline (librdkafka's request and
//! operation timeouts), so an unreachable cluster is an error, not a hang. rdkafka's admin
//! futures are completed by the client's own polling thread, so no async runtime is needed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::executor::block_on;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::RDKafkaErrorCode;
use rdkafka::ClientConfig;

use super::error::ClusterError;
use super::facts::{self, BrokerFacts, ClusterFacts};
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
    /// How the short-lived clients of [`Admin::describe_cluster`] connect.
    access: Access,
    client: AdminClient<DefaultClientContext>,
    /// For metadata requests (the admin client has no public metadata call of its own).
    meta: BaseConsumer<ConnContext>,
}

/// Keeps the errors librdkafka reports about connections (refused, TLS handshake, SASL),
/// which a timed-out metadata request does not carry, so the first contact can say why.
#[derive(Default)]
pub struct ConnContext {
    errors: std::sync::Mutex<Vec<String>>,
}

impl ConnContext {
    fn keep(&self, what: String) {
        if let Ok(mut e) = self.errors.lock() {
            if e.len() < 32 {
                e.push(what);
            }
        }
    }
}

impl rdkafka::ClientContext for ConnContext {
    fn error(&self, error: rdkafka::error::KafkaError, reason: &str) {
        self.keep(format!("{reason} ({error})"));
    }

    /// A connection's failure (`FAIL`) carries the telling reason ("Disconnected while
    /// requesting ApiVersion: might be caused by incorrect security.protocol ...") as a log
    /// line; the error event may say only that all brokers are down.
    fn log(&self, level: rdkafka::config::RDKafkaLogLevel, fac: &str, log_message: &str) {
        let _ = level; // librdkafka logs a connection failure at error or notice level
        if fac == "FAIL" {
            self.keep(log_message.to_string());
        }
    }
}
impl rdkafka::consumer::ConsumerContext for ConnContext {}

/// A bootstrap server whose TCP port accepts connections although no Kafka request was
/// answered: a listener speaking another security protocol (a plaintext client on a TLS port).
/// `None` when a connection was refused (the broker is down) or no port accepts one.
fn port_answers_but_not_kafka(bootstrap: &str, errors: &[String]) -> Option<String> {
    if errors.iter().any(|e| e.contains("Connection refused")) {
        return None;
    }
    use std::net::ToSocketAddrs;
    bootstrap.split(',').map(str::trim).find_map(|server| {
        let addr = server.to_socket_addrs().ok()?.next()?;
        std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .ok()
            .map(|_| server.to_string())
    })
}

/// Why a cluster cannot be reached, from librdkafka's connection errors: the kind, then the
/// first such error (it names the broker). `None` when nothing says more than a timeout.
pub fn connection_failure(errors: &[String]) -> Option<String> {
    let find = |needles: &[&str]| {
        errors
            .iter()
            .find(|e| needles.iter().any(|n| e.contains(n)))
            .cloned()
    };
    if let Some(e) = find(&[
        "SASL authentication",
        "Authentication failed",
        "SASL handshake",
    ]) {
        return Some(format!("authentication failed: {e}"));
    }
    if let Some(e) = find(&["SSL handshake failed", "certificate verify failed"]) {
        return Some(format!("TLS handshake failed: {e}"));
    }
    if let Some(e) = find(&[
        "incorrect security.protocol",
        "Disconnected while requesting ApiVersion",
    ]) {
        return Some(format!(
            "protocol mismatch (does security.protocol match the listener?): {e}"
        ));
    }
    errors.first().map(|e| format!("connection failed: {e}"))
}

impl Admin {
    pub fn new(access: &Access, extra: &BTreeMap<String, String>) -> Result<Admin, ClusterError> {
        let bootstrap = &access.bootstrap;
        let cfg = config(access, extra);
        Ok(Admin {
            bootstrap: bootstrap.to_string(),
            access: access.clone(),
            client: cfg.create().map_err(|e| kafka_err(bootstrap, e))?,
            meta: cfg
                .create_with_context(ConnContext::default())
                .map_err(|e| kafka_err(bootstrap, e))?,
        })
    }

    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }

    /// Number of brokers in the cluster; the first call on a run, so it also proves the
    /// cluster answers (within `timeout`).
    /// A failed authentication or TLS handshake ends the wait at once, with its cause.
    pub fn broker_count(&self, timeout: Duration) -> Result<usize, ClusterError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let attempt = self
                .meta
                .fetch_metadata(None, left.min(Duration::from_secs(1)));
            // Connection errors reach the context only when the client's queue is served.
            let _ = self.meta.poll(Duration::from_millis(50));
            let errors = self
                .meta
                .context()
                .errors
                .lock()
                .map(|e| e.clone())
                .unwrap_or_default();
            match attempt {
                Ok(md) => return Ok(md.brokers().len()),
                Err(e) => {
                    let fatal =
                        connection_failure(&errors).filter(|f| !f.starts_with("connection failed"));
                    if let Some(why) = fatal {
                        return Err(kafka_err(&self.bootstrap, why));
                    }
                    if Instant::now() >= deadline {
                        let why = match connection_failure(&errors) {
                            Some(f) if f.starts_with("connection failed") => {
                                match port_answers_but_not_kafka(&self.bootstrap, &errors) {
                                    Some(addr) => format!(
                                        "unreachable: protocol mismatch (does security.protocol match the listener?): {addr} accepts connections but does not answer as Kafka over this client's security.protocol; {f}"
                                    ),
                                    None => format!("unreachable: {f}"),
                                }
                            }
                            Some(f) => format!("unreachable: {f}"),
                            None => format!("unreachable: {e}"),
                        };
                        return Err(kafka_err(&self.bootstrap, why));
                    }
                }
            }
        }
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

    /// Asks the cluster, without creating anything (CreateTopics with `validate_only`), whether
    /// it accepts each topic config: one probe topic per (name, value), so a refusal names its
    /// config (librdkafka's result carries the error code, not the broker's message). Returns
    /// the refused pairs with the cluster's reason.
    pub fn refused_topic_configs(
        &self,
        configs: &[(String, String)],
        timeout: Duration,
    ) -> Result<Vec<(String, String, String)>, ClusterError> {
        if configs.is_empty() {
            return Ok(Vec::new());
        }
        // Never created (validate_only), but named like kbench's own all the same.
        let names: Vec<String> = (0..configs.len())
            .map(|i| format!("{TOPIC_PREFIX}config-check-{i}"))
            .collect();
        let topics: Vec<NewTopic> = configs
            .iter()
            .zip(&names)
            .map(|((k, v), name)| NewTopic::new(name, 1, TopicReplication::Fixed(1)).set(k, v))
            .collect();
        let opts = Self::options(timeout).validate_only(true);
        let results = block_on(self.client.create_topics(&topics, &opts))
            .map_err(|e| kafka_err(&self.bootstrap, format!("checking topic configs: {e}")))?;
        let mut refused = Vec::new();
        for r in results {
            if let Err((t, code)) = r {
                // A probe that failed for a reason other than its config says nothing about it.
                if !matches!(
                    code,
                    RDKafkaErrorCode::InvalidConfig | RDKafkaErrorCode::PolicyViolation
                ) {
                    return Err(kafka_err(
                        &self.bootstrap,
                        format!("checking topic configs: {}", describe_code(code)),
                    ));
                }
                if let Some(i) = names.iter().position(|n| *n == t) {
                    let (k, v) = &configs[i];
                    refused.push((k.clone(), v.clone(), code.to_string()));
                }
            }
        }
        Ok(refused)
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

    /// The names of the cluster's topics that start with `prefix` (one metadata request).
    pub fn topics_starting_with(
        &self,
        prefix: &str,
        timeout: Duration,
    ) -> Result<Vec<String>, ClusterError> {
        let md = self
            .meta
            .fetch_metadata(None, timeout)
            .map_err(|e| kafka_err(&self.bootstrap, format!("metadata: {e}")))?;
        Ok(md
            .topics()
            .iter()
            .map(|t| t.name())
            .filter(|n| n.starts_with(prefix))
            .map(String::from)
            .collect())
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

    /// What the cluster says about itself ([`ClusterFacts`]): brokers from fresh metadata,
    /// the controller that metadata names, each broker's rack and auto-creation settings
    /// (DescribeConfigs of every broker), and a lower bound on the Kafka version from the
    /// brokers' ApiVersions answers. Only the metadata is required; whatever else the cluster
    /// refuses (an ACL on DescribeConfigs, a broker that does not answer) is left `None` and
    /// named in `errors`.
    pub fn describe_cluster(&self, timeout: Duration) -> Result<ClusterFacts, ClusterError> {
        let md = self
            .meta
            .fetch_metadata(None, timeout)
            .map_err(|e| kafka_err(&self.bootstrap, format!("metadata: {e}")))?;
        let mut f = ClusterFacts::default();
        let mut brokers: Vec<BrokerFacts> = md
            .brokers()
            .iter()
            .map(|b| BrokerFacts {
                id: b.id(),
                address: format!("{}:{}", b.host(), b.port()),
                ..BrokerFacts::default()
            })
            .collect();
        brokers.sort_by_key(|b| b.id);
        // SAFETY: the pointer is this live client's; librdkafka answers from the metadata
        // just fetched (waiting at most the timeout), and returns -1 when it knows none.
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let controller = unsafe {
            rdkafka::bindings::rd_kafka_controllerid(self.meta.client().native_ptr(), ms)
        };
        f.metadata_controller_id = (controller >= 0).then_some(controller);

        // One request per broker: librdkafka sends a broker resource to that broker, and
        // refuses two in one call ("Conflicting use").
        let opts = Self::options(timeout);
        let specs: Vec<[ResourceSpecifier; 1]> = brokers
            .iter()
            .map(|b| [ResourceSpecifier::Broker(b.id)])
            .collect();
        let asks = specs
            .iter()
            .map(|spec| self.client.describe_configs(spec, &opts));
        let answers = block_on(futures::future::join_all(asks));
        for (b, answer) in brokers.iter_mut().zip(answers) {
            match answer.map(|mut r| r.pop()) {
                Ok(Some(Ok(res))) => b.apply_configs(
                    res.entries
                        .iter()
                        .filter(|e| facts::BROKER_CONFIGS.contains(&e.name.as_str()))
                        .map(|e| (e.name.as_str(), e.value.as_deref())),
                ),
                Ok(Some(Err(code))) => f
                    .errors
                    .push(format!("DescribeConfigs of broker {}: {code}", b.id)),
                Ok(None) => f
                    .errors
                    .push(format!("DescribeConfigs of broker {}: no answer", b.id)),
                Err(e) => f
                    .errors
                    .push(format!("DescribeConfigs of broker {}: {e}", b.id)),
            }
        }
        let ids: Vec<i32> = brokers.iter().map(|b| b.id).collect();
        f.brokers = brokers;

        match api_versions(&self.access, &ids, timeout.min(Duration::from_secs(5))) {
            Ok(per_broker) => {
                let (v, basis) = facts::cluster_version_at_least(&per_broker);
                f.kafka_version_at_least = v;
                f.kafka_version_basis = basis;
            }
            Err(e) => f.errors.push(format!("ApiVersions: {e}")),
        }
        Ok(f)
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

/// librdkafka's debug lines about ApiVersions ("... ApiKey Produce (0) Versions 0..13").
#[derive(Default)]
struct ApiVersionsLog {
    lines: std::sync::Mutex<Vec<String>>,
}

impl rdkafka::ClientContext for ApiVersionsLog {
    fn log(&self, _level: rdkafka::config::RDKafkaLogLevel, fac: &str, line: &str) {
        if fac == "APIVERSION" && line.contains("ApiKey ") {
            if let Ok(mut l) = self.lines.lock() {
                l.push(line.to_string());
            }
        }
    }
    // Connection errors belong to the session's own client; stay quiet here.
    fn error(&self, _error: rdkafka::error::KafkaError, _reason: &str) {}
}
impl rdkafka::consumer::ConsumerContext for ApiVersionsLog {}

/// Each broker's ApiVersions answer, keyed by librdkafka's broker name ("host:port/id").
/// librdkafka makes the request on every connection but has no public call that returns
/// it; its `debug=feature` log lists it, so a short-lived client with that log, connected to
/// every broker (`enable.sparse.connections=false`), reads it there. Waits until each of
/// `ids` answered, or `timeout`.
fn api_versions(
    access: &Access,
    ids: &[i32],
    timeout: Duration,
) -> Result<BTreeMap<String, Vec<facts::ApiRange>>, ClusterError> {
    let bootstrap = &access.bootstrap;
    let mut c = config(access, &BTreeMap::new());
    c.set("debug", "feature")
        .set("log_level", "7")
        .set("enable.sparse.connections", "false")
        .set_log_level(rdkafka::config::RDKafkaLogLevel::Debug);
    let client: BaseConsumer<ApiVersionsLog> = c
        .create_with_context(ApiVersionsLog::default())
        .map_err(|e| kafka_err(bootstrap, e))?;
    let deadline = Instant::now() + timeout;
    client
        .fetch_metadata(None, timeout)
        .map_err(|e| kafka_err(bootstrap, format!("metadata: {e}")))?;
    let read = || {
        let lines = client
            .context()
            .lines
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        facts::parse_api_versions(lines.iter().map(String::as_str))
    };
    let answered = |m: &BTreeMap<String, Vec<facts::ApiRange>>| {
        ids.iter()
            .all(|id| m.keys().any(|k| k.ends_with(&format!("/{id}"))))
    };
    loop {
        // The log reaches the context only when the client's queue is served.
        let _ = client.poll(Duration::from_millis(100));
        if answered(&read()) || Instant::now() >= deadline {
            break;
        }
    }
    // A broker logs its whole list at once; one more serve takes in its tail.
    let _ = client.poll(Duration::from_millis(100));
    let mut m = read();
    // Bootstrap connections ("host:port/bootstrap") repeat a broker that also has its id.
    if m.keys().any(|k| !k.ends_with("/bootstrap")) {
        m.retain(|k, _| !k.ends_with("/bootstrap"));
    }
    if m.is_empty() {
        return Err(kafka_err(
            bootstrap,
            "no broker's ApiVersions seen in the client log",
        ));
    }
    Ok(m)
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

#[cfg(test)]
mod tests {
    use super::connection_failure;

    #[test]
    fn connection_errors_are_classified() {
        let auth = "sasl_ssl://127.0.0.1:25092/bootstrap: SASL authentication error: Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512";
        let tls = "ssl://127.0.0.1:25092/bootstrap: SSL handshake failed: error:0A000086:SSL routines::certificate verify failed";
        let proto = "127.0.0.1:25092/bootstrap: Disconnected while requesting ApiVersion: might be caused by incorrect security.protocol configuration (connecting to a SSL listener?)";
        let refused =
            "127.0.0.1:1/bootstrap: Connect to ipv4#127.0.0.1:1 failed: Connection refused";
        let c =
            |e: &[&str]| connection_failure(&e.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert!(c(&[refused, auth])
            .unwrap()
            .starts_with("authentication failed: sasl_ssl://127.0.0.1:25092"));
        assert!(c(&[tls])
            .unwrap()
            .starts_with("TLS handshake failed: ssl://127.0.0.1:25092"));
        assert!(c(&[proto]).unwrap().starts_with("protocol mismatch"));
        assert!(c(&[refused])
            .unwrap()
            .starts_with("connection failed: 127.0.0.1:1"));
        assert_eq!(c(&[]), None);
    }
}
