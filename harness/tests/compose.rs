//! `docker-compose.yml` must describe the cluster `kbench cluster up --brokers 3` starts: the
//! same Kafka version, broker settings, node ids, quorum and host ports; and
//! `docker-compose.sasl-ssl.yml` the same cluster as `kbench cluster up --security sasl_ssl`
//! (the listeners, security settings, users and the files `kbench cluster certs` writes). Pure:
//! parses the files, needs neither Docker nor a network.

use std::collections::{BTreeMap, BTreeSet};

use kbench::cluster::fetch::DEFAULT_KAFKA_VERSION;
use kbench::cluster::kafka_config::{
    client_listener, client_port, cluster_settings, controller_port, security_settings,
};
use kbench::cluster::security::{
    Material, BROKER_USER, CLIENT_USER, COMPOSE_CONTAINER_CLIENT, COMPOSE_MOUNT, SCRAM_MECHANISM,
};
use kbench::cluster::SecurityMode;
use serde_yaml::Value;

const BROKERS: u32 = 3;
const BASE_PORT: u16 = 9092;
const COMPOSE_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docker-compose.yml");
const SECURE_COMPOSE_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../docker-compose.sasl-ssl.yml"
);
/// Both files: what every compose cluster must share with the local one.
const FILES: [&str; 2] = [COMPOSE_FILE, SECURE_COMPOSE_FILE];

/// One service of the compose file, reduced to what these tests look at.
struct Node {
    service: String,
    spec: Value,
    env: BTreeMap<String, String>,
}

impl Node {
    fn env(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("service {} has no {key} in its environment", self.service))
    }

    fn node_id(&self) -> u32 {
        let id = self.env("KAFKA_NODE_ID");
        id.parse().unwrap_or_else(|_| {
            panic!(
                "service {}: KAFKA_NODE_ID {id:?} is not a number",
                self.service
            )
        })
    }

    /// The name other containers reach it by: `hostname`, else the service name.
    fn hostname(&self) -> &str {
        self.spec["hostname"].as_str().unwrap_or(&self.service)
    }

    /// Listener name -> (host, port) from KAFKA_LISTENERS or KAFKA_ADVERTISED_LISTENERS.
    fn listeners(&self, key: &str) -> BTreeMap<String, (String, u16)> {
        self.env(key)
            .split(',')
            .map(|l| {
                let (name, addr) = l.trim().split_once("://").unwrap_or_else(|| {
                    panic!(
                        "service {}: {key} entry {l:?} is not NAME://host:port",
                        self.service
                    )
                });
                (
                    name.to_string(),
                    host_port(addr, &format!("service {} {key}", self.service)),
                )
            })
            .collect()
    }

    /// Host ports the service publishes, each with the container port it maps to.
    fn published_ports(&self) -> Vec<(u16, u16)> {
        let Some(ports) = self.spec.get("ports") else {
            return vec![];
        };
        let ports = ports
            .as_sequence()
            .unwrap_or_else(|| panic!("service {}: `ports` is not a list", self.service));
        ports
            .iter()
            .filter_map(|p| published_port(p, &self.service))
            .collect()
    }
}

fn compose(file: &str) -> Value {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
    let mut doc: Value =
        serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{file} is not valid YAML: {e}"));
    // Compose resolves `<<: *anchor` merge keys; so must we.
    doc.apply_merge()
        .unwrap_or_else(|e| panic!("{file}: bad merge key: {e}"));
    doc
}

fn nodes(file: &str) -> Vec<Node> {
    let doc = compose(file);
    let services = doc["services"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{file} has no `services` mapping"));
    services
        .iter()
        // Services of a profile (the `distributed` load containers, tests/placement.rs) are
        // not part of the cluster `docker compose up` starts.
        .filter(|(_, spec)| spec.get("profiles").is_none())
        .map(|(name, spec)| {
            let service = name
                .as_str()
                .expect("service names are strings")
                .to_string();
            let env = environment(&service, spec);
            Node {
                service,
                spec: spec.clone(),
                env,
            }
        })
        .collect()
}

/// A service's `environment`, either form compose accepts: a mapping, or a list of `K=V`.
fn environment(service: &str, spec: &Value) -> BTreeMap<String, String> {
    match &spec["environment"] {
        Value::Mapping(map) => map
            .iter()
            .map(|(k, v)| {
                let k = k
                    .as_str()
                    .expect("environment keys are strings")
                    .to_string();
                let v = scalar(v).unwrap_or_else(|| {
                    panic!("service {service}: {k} has no scalar value ({v:?})")
                });
                (k, unescape_dollars(&v))
            })
            .collect(),
        Value::Sequence(list) => list
            .iter()
            .map(|entry| {
                let entry = entry.as_str().unwrap_or_else(|| {
                    panic!("service {service}: environment entry {entry:?} is not a string")
                });
                let (k, v) = entry.split_once('=').unwrap_or_else(|| {
                    panic!("service {service}: environment entry {entry:?} is not K=V")
                });
                (k.to_string(), unescape_dollars(v))
            })
            .collect(),
        Value::Null => panic!("service {service} has no environment"),
        other => panic!("service {service}: environment is neither a map nor a list: {other:?}"),
    }
}

/// Compose substitutes `${VAR}` in values and turns `$$` into a literal `$`. The files use no
/// variables in environments, so a single `$` is a mistake.
fn unescape_dollars(v: &str) -> String {
    let single = v.replace("$$", "");
    assert!(
        !single.contains('$'),
        "{v:?}: a single '$' would be substituted by compose; write '$$'"
    );
    v.replace("$$", "$")
}

/// A YAML scalar as compose passes it to the container (`0`, `false` and `"0"` alike).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `host:port` (host may be empty, as in `PLAINTEXT://:19092`).
fn host_port(addr: &str, what: &str) -> (String, u16) {
    let (host, port) = addr
        .rsplit_once(':')
        .unwrap_or_else(|| panic!("{what}: {addr:?} is not host:port"));
    let port = port
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {addr:?} has no numeric port"));
    (host.to_string(), port)
}

/// (host port, container port) of one `ports` entry, short (`"9092:9092"`,
/// `"127.0.0.1:9092:9092/tcp"`) or long (`{published, target}`) syntax; None when it
/// publishes no fixed host port.
fn published_port(entry: &Value, service: &str) -> Option<(u16, u16)> {
    let parse = |s: &str| -> u16 {
        s.parse().unwrap_or_else(|_| {
            panic!("service {service}: port {s:?} in {entry:?} is not a number")
        })
    };
    match entry {
        Value::Mapping(_) => {
            let published = scalar(&entry["published"])?;
            let target = scalar(&entry["target"])
                .unwrap_or_else(|| panic!("service {service}: port {entry:?} has no target"));
            Some((parse(&published), parse(&target)))
        }
        _ => {
            let spec = scalar(entry)
                .unwrap_or_else(|| panic!("service {service}: port {entry:?} is not a scalar"));
            let spec = spec.split('/').next().unwrap(); // drop "/tcp"
            let parts: Vec<&str> = spec.rsplitn(3, ':').collect(); // container, host, ip
            match parts.as_slice() {
                [_container_only] => None,
                [container, host, ..] => Some((parse(host), parse(container))),
                [] => unreachable!(),
            }
        }
    }
}

/// The variable the apache/kafka image turns into `property`: `KAFKA_` + upper case, with
/// '.' -> '_', '_' -> '__', '-' -> '___'.
fn env_var(property: &str) -> String {
    let escaped = property
        .replace('_', "__")
        .replace('-', "___")
        .replace('.', "_");
    format!("KAFKA_{}", escaped.to_uppercase())
}

#[test]
fn env_var_names_follow_the_image_convention() {
    assert_eq!(env_var("min.insync.replicas"), "KAFKA_MIN_INSYNC_REPLICAS");
    assert_eq!(env_var("abc_def"), "KAFKA_ABC__DEF");
    assert_eq!(env_var("abc-def"), "KAFKA_ABC___DEF");
}

#[test]
fn three_kafka_nodes_on_the_pinned_image() {
    FILES
        .iter()
        .for_each(|f| three_kafka_nodes_on_the_pinned_image_in(f));
}

fn three_kafka_nodes_on_the_pinned_image_in(file: &str) {
    let nodes = nodes(file);
    let names: Vec<&str> = nodes.iter().map(|n| n.service.as_str()).collect();
    assert_eq!(
        nodes.len(),
        BROKERS as usize,
        "expected {BROKERS} services, found {names:?}"
    );
    let expected = format!("apache/kafka:{DEFAULT_KAFKA_VERSION}");
    for node in &nodes {
        let image = node.spec["image"].as_str();
        assert_eq!(
            image,
            Some(expected.as_str()),
            "service {}: the image must be pinned to DEFAULT_KAFKA_VERSION \
             (harness/src/cluster/fetch.rs)",
            node.service
        );
        assert_eq!(
            node.env("KAFKA_PROCESS_ROLES"),
            "broker,controller",
            "service {}: every node is a combined broker+controller, as locally",
            node.service
        );
    }
}

#[test]
fn every_cluster_setting_is_in_every_environment() {
    let settings = cluster_settings(BROKERS);
    assert!(!settings.is_empty());
    for node in FILES.iter().flat_map(|f| nodes(f)) {
        for (property, value) in &settings {
            let var = env_var(property);
            assert_eq!(
                node.env.get(&var).map(String::as_str),
                Some(value.as_str()),
                "service {}: {property}={value} (cluster_settings({BROKERS})) needs {var}={value:?}",
                node.service
            );
        }
        assert_eq!(
            node.env("KAFKA_HEAP_OPTS"),
            "-Xms1g -Xmx1g",
            "service {}: heap as the local cluster",
            node.service
        );
    }
}

#[test]
fn node_ids_and_quorum_voters_agree() {
    FILES
        .iter()
        .for_each(|f| node_ids_and_quorum_voters_agree_in(f));
}

fn node_ids_and_quorum_voters_agree_in(file: &str) {
    let nodes = nodes(file);
    let mut ids: Vec<u32> = nodes.iter().map(Node::node_id).collect();
    ids.sort();
    assert_eq!(
        ids,
        (1..=BROKERS).collect::<Vec<_>>(),
        "KAFKA_NODE_IDs must be 1..={BROKERS}"
    );

    let voters = nodes[0].env("KAFKA_CONTROLLER_QUORUM_VOTERS").to_string();
    let cluster_id = nodes[0].env("CLUSTER_ID").to_string();
    for node in &nodes {
        assert_eq!(
            node.env("KAFKA_CONTROLLER_QUORUM_VOTERS"),
            voters,
            "service {}: every node needs the same quorum voters",
            node.service
        );
        assert_eq!(
            node.env("CLUSTER_ID"),
            cluster_id,
            "service {}: one cluster id",
            node.service
        );
    }

    // id -> (host, port)
    let parsed: BTreeMap<u32, (String, u16)> = voters
        .split(',')
        .map(|v| {
            let (id, addr) = v
                .split_once('@')
                .unwrap_or_else(|| panic!("voter {v:?} in {voters:?} is not id@host:port"));
            let id = id
                .parse()
                .unwrap_or_else(|_| panic!("voter {v:?}: id is not a number"));
            (id, host_port(addr, "KAFKA_CONTROLLER_QUORUM_VOTERS"))
        })
        .collect();
    assert_eq!(
        parsed.len(),
        BROKERS as usize,
        "expected {BROKERS} distinct voters in {voters:?}"
    );

    for node in &nodes {
        let id = node.node_id();
        let (host, port) = parsed.get(&id).unwrap_or_else(|| {
            panic!(
                "node id {id} ({}) is not among the voters {voters:?}",
                node.service
            )
        });
        assert_eq!(
            host,
            node.hostname(),
            "voter {id} must name the host of service {}",
            node.service
        );
        assert_eq!(
            *port,
            controller_port(BASE_PORT, id),
            "voter {id}: controller port as the local cluster (client port + 1)"
        );
        let controller = node
            .listeners("KAFKA_LISTENERS")
            .get("CONTROLLER")
            .map(|(_, p)| *p);
        assert_eq!(
            controller,
            Some(*port),
            "service {}: its CONTROLLER listener must be on its voter port",
            node.service
        );
    }
}

#[test]
fn host_ports_match_the_local_cluster() {
    FILES
        .iter()
        .for_each(|f| host_ports_match_the_local_cluster_in(f));
}

fn host_ports_match_the_local_cluster_in(file: &str) {
    let nodes = nodes(file);
    let mut all = BTreeSet::new();
    for node in &nodes {
        let port = client_port(BASE_PORT, node.node_id());
        let published = node.published_ports();
        assert!(
            published.contains(&(port, port)),
            "service {} (node {}) must publish host port {port} as container port {port}; \
             it publishes {published:?}",
            node.service,
            node.node_id()
        );
        all.extend(published.iter().map(|(host, _)| *host));

        // Clients on the host are sent back to localhost:<that port>.
        let name = node.env("KAFKA_INTER_BROKER_LISTENER_NAME").to_string();
        let advertised = node.listeners("KAFKA_ADVERTISED_LISTENERS");
        let host_listener = advertised
            .iter()
            .find(|(_, (_, p))| *p == port)
            .unwrap_or_else(|| {
                panic!(
                    "service {}: no advertised listener on port {port}: {advertised:?}",
                    node.service
                )
            });
        assert_eq!(
            host_listener.1 .0, "localhost",
            "service {}: the listener on {port} must be advertised as localhost:{port}",
            node.service
        );
        assert_ne!(
            host_listener.0, &name,
            "service {}: the host listener cannot also be the inter-broker listener",
            node.service
        );
        let listening = node.listeners("KAFKA_LISTENERS");
        assert_eq!(
            listening.get(host_listener.0).map(|(_, p)| *p),
            Some(port),
            "service {}: listener {} must listen on {port} in the container",
            node.service,
            host_listener.0
        );
    }
    let expected: BTreeSet<u16> = (1..=BROKERS).map(|n| client_port(BASE_PORT, n)).collect();
    assert_eq!(
        all, expected,
        "host ports published by the compose file, all services together"
    );
}

#[test]
fn every_node_has_a_healthcheck() {
    // `docker compose up --wait` returns as soon as containers run unless they have one.
    for node in FILES.iter().flat_map(|f| nodes(f)) {
        let check = &node.spec["healthcheck"];
        assert!(
            check.is_mapping(),
            "service {} has no healthcheck, so `docker compose up --wait` cannot wait for it",
            node.service
        );
        assert_ne!(
            check["disable"].as_bool(),
            Some(true),
            "service {}: healthcheck disabled",
            node.service
        );
        let test = &check["test"];
        let has_command = match test {
            Value::String(s) => !s.trim().is_empty(),
            Value::Sequence(parts) => parts.len() >= 2 && parts[0].as_str() != Some("NONE"),
            _ => false,
        };
        assert!(
            has_command,
            "service {}: healthcheck has no test command: {test:?}",
            node.service
        );
    }
}

/// The protocol of each listener of a node, from KAFKA_LISTENER_SECURITY_PROTOCOL_MAP.
fn protocols(node: &Node) -> BTreeMap<String, String> {
    node.env("KAFKA_LISTENER_SECURITY_PROTOCOL_MAP")
        .split(',')
        .map(|e| {
            let (name, protocol) = e.split_once(':').unwrap_or_else(|| {
                panic!(
                    "service {}: protocol map entry {e:?} is not NAME:PROTOCOL",
                    node.service
                )
            });
            (name.to_string(), protocol.to_string())
        })
        .collect()
}

#[test]
fn the_secure_file_secures_every_broker_listener_as_cluster_up_does() {
    let mode = SecurityMode::SaslSsl;
    for node in nodes(SECURE_COMPOSE_FILE) {
        let protocols = protocols(&node);
        let listeners = node.listeners("KAFKA_LISTENERS");
        let inter = node.env("KAFKA_INTER_BROKER_LISTENER_NAME");
        assert_eq!(
            inter,
            client_listener(mode),
            "service {}: the inter-broker listener is named as the local cluster's",
            node.service
        );
        let mut broker_listeners = Vec::new();
        for name in listeners.keys() {
            let protocol = protocols.get(name).unwrap_or_else(|| {
                panic!(
                    "service {}: listener {name} is not in the protocol map",
                    node.service
                )
            });
            if name == "CONTROLLER" {
                assert_eq!(protocol, "PLAINTEXT", "the quorum listener, as locally");
            } else {
                assert_eq!(
                    protocol,
                    mode.protocol(),
                    "service {}: listener {name} must be {}",
                    node.service,
                    mode.protocol()
                );
                broker_listeners.push(name.as_str());
            }
        }
        assert!(broker_listeners.contains(&inter));
        let material = Material::new(COMPOSE_MOUNT);
        let settings = security_settings(mode, &broker_listeners, &material);
        assert!(!settings.is_empty());
        for (property, value) in &settings {
            let var = env_var(property);
            assert_eq!(
                node.env.get(&var).map(String::as_str),
                Some(value.as_str()),
                "service {}: {property}={value} (security_settings(sasl_ssl)) needs {var}",
                node.service
            );
        }
    }
}

#[test]
fn the_secure_file_mounts_the_certs_and_makes_both_users_without_a_command_line() {
    let doc = compose(SECURE_COMPOSE_FILE);
    for node in nodes(SECURE_COMPOSE_FILE) {
        let service = &node.service;
        let volumes: Vec<&str> = node.spec["volumes"]
            .as_sequence()
            .unwrap_or_else(|| panic!("service {service} mounts nothing"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            volumes
                .iter()
                .any(|v| v.ends_with(&format!(":{COMPOSE_MOUNT}:ro"))),
            "service {service}: the directory of `kbench cluster certs` must be mounted \
             read-only at {COMPOSE_MOUNT}: {volumes:?}"
        );
        let entrypoint: Vec<&str> = node.spec["entrypoint"]
            .as_sequence()
            .unwrap_or_else(|| panic!("service {service} has no entrypoint list"))
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let script = entrypoint.last().copied().unwrap_or_default();
        let script = unescape_dollars(script);
        for user in [BROKER_USER, CLIENT_USER] {
            assert!(
                script.contains(&format!("{SCRAM_MECHANISM}=[name={user},password=$(cat ")),
                "service {service}: the entrypoint must create user {user} from its file"
            );
        }
        assert!(
            script.contains("kafka-run-class.sh @/tmp/kbench/format.args"),
            "service {service}: StorageTool's arguments (with the passwords) go in an @argfile"
        );
        assert!(script.contains("rm -f /tmp/kbench/format.args"));
        let health = serde_yaml::to_string(&node.spec["healthcheck"]["test"]).unwrap();
        assert!(
            health.contains(&format!(
                "--command-config {COMPOSE_MOUNT}/{COMPOSE_CONTAINER_CLIENT}"
            )),
            "service {service}: the healthcheck must authenticate: {health}"
        );
    }
    assert!(
        doc["name"].as_str().is_some_and(|n| n != "kbench"),
        "a project name of its own, so it never replaces the plain compose cluster"
    );
}

/// `docker-compose.auto-create.yml` is an override of `docker-compose.yml` that turns topic
/// auto-creation on, as `kbench cluster up --broker-prop auto.create.topics.enable=true` does:
/// that one variable on every node, nothing else (so the rest stays in step by construction).
#[test]
fn the_auto_create_override_changes_only_auto_creation_on_every_node() {
    let file = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docker-compose.auto-create.yml"
    );
    let overrides = nodes(file);
    let base: Vec<String> = nodes(COMPOSE_FILE).into_iter().map(|n| n.service).collect();
    let services: Vec<String> = overrides.iter().map(|n| n.service.clone()).collect();
    assert_eq!(
        services, base,
        "the override names every node of {COMPOSE_FILE}"
    );
    let var = env_var("auto.create.topics.enable");
    for node in &overrides {
        let keys: Vec<&str> = node
            .spec
            .as_mapping()
            .map(|m| m.keys().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(keys, ["environment"], "service {}", node.service);
        assert_eq!(
            node.env.iter().collect::<Vec<_>>(),
            [(&var, &"true".to_string())],
            "service {}",
            node.service
        );
    }
}
