//! The files a local KRaft node needs: `server.properties` and the logging configuration.
//! Pure text generation, so the settings can be unit-tested and compared with
//! `docker-compose.yml` (see `tests/compose.rs`).

use std::path::Path;

use super::security::{scram_jaas, Material, SecurityMode, BROKER_USER, SCRAM_MECHANISM};

/// Client port of node `node` (1-based): 9092, 9192, 9292 for the default base. Kept below the
/// ephemeral range so the kernel never hands them to an outgoing connection.
pub fn client_port(base: u16, node: u32) -> u16 {
    base + 100 * (node as u16 - 1)
}

/// Controller (KRaft quorum) port of node `node`: the client port + 1.
pub fn controller_port(base: u16, node: u32) -> u16 {
    client_port(base, node) + 1
}

pub fn bootstrap(base: u16, brokers: u32) -> String {
    (1..=brokers)
        .map(|n| format!("127.0.0.1:{}", client_port(base, n)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Replication factor of internal topics and the `min.insync.replicas` that goes with it:
/// 3 and 2 on three brokers (so acks=all survives one broker down), 1 and 1 on one.
pub fn replication(brokers: u32) -> (u32, u32) {
    if brokers >= 3 {
        (3, 2)
    } else {
        (1, 1)
    }
}

/// The broker settings that make a cluster behave as kbench's tests and reports assume.
/// Shared by the local cluster and (by a test) `docker-compose.yml`.
pub fn cluster_settings(brokers: u32) -> Vec<(&'static str, String)> {
    let (rf, min_isr) = replication(brokers);
    vec![
        ("num.network.threads", "3".into()),
        ("num.io.threads", "4".into()),
        ("num.partitions", "1".into()),
        ("default.replication.factor", rf.to_string()),
        ("min.insync.replicas", min_isr.to_string()),
        ("offsets.topic.replication.factor", rf.to_string()),
        ("transaction.state.log.replication.factor", rf.to_string()),
        ("transaction.state.log.min.isr", min_isr.to_string()),
        (
            "share.coordinator.state.topic.replication.factor",
            rf.to_string(),
        ),
        ("share.coordinator.state.topic.min.isr", min_isr.to_string()),
        // Consumer groups form at once instead of waiting 3 s for more members.
        ("group.initial.rebalance.delay.ms", "0".into()),
        // A typo'd topic must be an error, not a silent one-partition topic.
        ("auto.create.topics.enable", "false".into()),
        ("delete.topic.enable", "true".into()),
    ]
}

/// Name of the listener clients and the other brokers use: the security protocol's own name
/// (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`).
pub fn client_listener(mode: SecurityMode) -> &'static str {
    mode.protocol()
}

/// The broker settings that secure `listeners` (all in `mode`), with the material below `m`
/// (see [`Material`]): PEM keystore and truststore for TLS, client certificates required for
/// mtls, SCRAM-SHA-512 for clients and between brokers for SASL. The brokers' own password is
/// read from its file through Kafka's DirectoryConfigProvider, so no password is in the
/// broker's configuration. Empty for plaintext. Shared by the local cluster and (by a test)
/// `docker-compose.sasl-ssl.yml`.
pub fn security_settings(
    mode: SecurityMode,
    listeners: &[&str],
    m: &Material,
) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = Vec::new();
    let mut set = |k: &str, v: String| s.push((k.to_string(), v));
    if mode.tls() {
        set("ssl.keystore.type", "PEM".into());
        set(
            "ssl.keystore.location",
            m.broker_keystore().display().to_string(),
        );
        set("ssl.truststore.type", "PEM".into());
        set("ssl.truststore.location", m.ca().display().to_string());
    }
    if mode.client_cert() {
        set("ssl.client.auth", "required".into());
    }
    if mode.sasl() {
        set("sasl.enabled.mechanisms", SCRAM_MECHANISM.into());
        set(
            "sasl.mechanism.inter.broker.protocol",
            SCRAM_MECHANISM.into(),
        );
        set("config.providers", "dir".into());
        set(
            "config.providers.dir.class",
            "org.apache.kafka.common.config.provider.DirectoryConfigProvider".into(),
        );
        let password = format!(
            "${{dir:{}:{}}}",
            m.secrets_dir().display(),
            Material::BROKER_PASSWORD
        );
        for l in listeners {
            set(
                &format!(
                    "listener.name.{}.{}.sasl.jaas.config",
                    l.to_lowercase(),
                    SCRAM_MECHANISM.to_lowercase()
                ),
                scram_jaas(BROKER_USER, &password),
            );
        }
    }
    s
}

pub struct NodeConfig<'a> {
    pub node: u32,
    pub brokers: u32,
    pub base_port: u16,
    pub data_dir: &'a Path,
    /// Extra `key=value` lines appended last (they win): for experiments and tests.
    pub overrides: &'a [(String, String)],
    /// Kafka major version: 3.9 does not know the share-group settings.
    pub kafka_major: u32,
    /// How the client listener (and the brokers among themselves) are secured.
    pub security: SecurityMode,
    /// Where the certificates and password files are (the state directory).
    pub material: &'a Material,
}

pub fn server_properties(c: &NodeConfig) -> String {
    let voters = (1..=c.brokers)
        .map(|n| format!("{n}@127.0.0.1:{}", controller_port(c.base_port, n)))
        .collect::<Vec<_>>()
        .join(",");
    let client = client_port(c.base_port, c.node);
    let controller = controller_port(c.base_port, c.node);
    let listener = client_listener(c.security);
    let protocol = c.security.protocol();
    // The controller listener stays PLAINTEXT: it is bound to 127.0.0.1 and only the nodes
    // themselves talk on it.
    let mut s = format!(
        "# written by kbench: a combined broker+controller KRaft node on 127.0.0.1\n\
         # security: {mode} (client and inter-broker listener {listener})\n\
         process.roles=broker,controller\n\
         node.id={node}\n\
         controller.quorum.voters={voters}\n\
         listeners={listener}://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}\n\
         advertised.listeners={listener}://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}\n\
         listener.security.protocol.map=CONTROLLER:PLAINTEXT,{listener}:{protocol}\n\
         inter.broker.listener.name={listener}\n\
         controller.listener.names=CONTROLLER\n\
         log.dirs={data}\n\
         num.recovery.threads.per.data.dir=1\n",
        mode = c.security,
        node = c.node,
        data = c.data_dir.display(),
    );
    for (k, v) in security_settings(c.security, &[listener], c.material) {
        s.push_str(&format!("{k}={v}\n"));
    }
    for (k, v) in cluster_settings(c.brokers) {
        if c.kafka_major < 4 && k.starts_with("share.") {
            continue;
        }
        s.push_str(&format!("{k}={v}\n"));
    }
    for (k, v) in c.overrides {
        s.push_str(&format!("{k}={v}\n"));
    }
    s
}

/// log4j2 (Kafka 4.x) or log4j 1 (3.9) configuration: brokers log INFO to stdout (redirected
/// to `server.out`), the tools WARN to stderr.
pub fn logging_config(kafka_major: u32, for_tools: bool) -> String {
    match (kafka_major >= 4, for_tools) {
        (true, false) => "status = warn\n\
            appender.out.type = Console\nappender.out.name = STDOUT\n\
            appender.out.layout.type = PatternLayout\nappender.out.layout.pattern = [%d] %p %m (%c)%n\n\
            rootLogger.level = info\nrootLogger.appenderRef.out.ref = STDOUT\n\
            logger.req.name = kafka.request.logger\nlogger.req.level = warn\n"
            .into(),
        (true, true) => "status = warn\n\
            appender.err.type = Console\nappender.err.name = STDERR\nappender.err.target = SYSTEM_ERR\n\
            appender.err.layout.type = PatternLayout\nappender.err.layout.pattern = [%d] %p %m (%c)%n\n\
            rootLogger.level = warn\nrootLogger.appenderRef.err.ref = STDERR\n"
            .into(),
        (false, false) => "log4j.rootLogger=INFO, stdout\n\
            log4j.appender.stdout=org.apache.log4j.ConsoleAppender\n\
            log4j.appender.stdout.layout=org.apache.log4j.PatternLayout\n\
            log4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n\
            log4j.logger.kafka.request.logger=WARN\n"
            .into(),
        (false, true) => "log4j.rootLogger=WARN, stderr\n\
            log4j.appender.stderr=org.apache.log4j.ConsoleAppender\n\
            log4j.appender.stderr.Target=System.err\n\
            log4j.appender.stderr.layout=org.apache.log4j.PatternLayout\n\
            log4j.appender.stderr.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
            .into(),
    }
}

/// The JVM flag that points Kafka at a logging configuration file.
pub fn logging_flag(kafka_major: u32, file: &Path) -> String {
    if kafka_major >= 4 {
        format!("-Dlog4j2.configurationFile={}", file.display())
    } else {
        format!("-Dlog4j.configuration=file:{}", file.display())
    }
}

/// A new KRaft cluster id, as Kafka's `Uuid.randomUuid().toString()` makes them (saves a JVM
/// start for `StorageTool random-uuid`): 16 random bytes from `random`, URL-safe base64
/// without padding, drawn again while the id is one Kafka never hands out
/// ([`is_usable_cluster_id`]). One random id in 64 starts with `-`, which `kafka-storage
/// format -t` reads as a flag.
pub fn new_cluster_id(mut random: impl FnMut() -> [u8; 16]) -> String {
    loop {
        let id = encode_uuid(random());
        if is_usable_cluster_id(&id) {
            return id;
        }
    }
}

/// Whether Kafka's own generator could have made `id`: it never starts with `-` (a command
/// line would read it as a flag) and is not one of the reserved UUIDs (zero, and the metadata
/// topic's `0:1`).
pub fn is_usable_cluster_id(id: &str) -> bool {
    const RESERVED: [&str; 2] = ["AAAAAAAAAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAAAAAAQ"];
    !id.is_empty() && !id.starts_with('-') && !RESERVED.contains(&id)
}

/// 16 bytes as URL-safe base64 without padding (22 characters), like Kafka's `Uuid.toString()`.
fn encode_uuid(random: [u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = String::with_capacity(22);
    for b in random {
        bits = (bits << 8) | b as u32;
        nbits += 8;
        while nbits >= 6 {
            nbits -= 6;
            out.push(ALPHABET[((bits >> nbits) & 63) as usize] as char);
        }
    }
    if nbits > 0 {
        out.push(ALPHABET[((bits << (6 - nbits)) & 63) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_follow_the_documented_layout() {
        assert_eq!(client_port(9092, 1), 9092);
        assert_eq!(controller_port(9092, 3), 9293);
        assert_eq!(
            bootstrap(9092, 3),
            "127.0.0.1:9092,127.0.0.1:9192,127.0.0.1:9292"
        );
    }

    #[test]
    fn three_brokers_get_rf3_min_isr2_and_one_gets_1() {
        let dir = Path::new("/tmp/x");
        let three = server_properties(&NodeConfig {
            node: 2,
            brokers: 3,
            base_port: 9092,
            data_dir: dir,
            overrides: &[],
            kafka_major: 4,
            security: SecurityMode::Plaintext,
            material: &Material::new("/tmp/x"),
        });
        assert!(three.contains("node.id=2\n"));
        assert!(three.contains(
            "controller.quorum.voters=1@127.0.0.1:9093,2@127.0.0.1:9193,3@127.0.0.1:9293\n"
        ));
        assert!(
            three.contains("listeners=PLAINTEXT://127.0.0.1:9192,CONTROLLER://127.0.0.1:9193\n")
        );
        assert!(three.contains("offsets.topic.replication.factor=3\n"));
        assert!(three.contains("min.insync.replicas=2\n"));
        assert!(three.contains("auto.create.topics.enable=false\n"));
        assert!(three.contains("group.initial.rebalance.delay.ms=0\n"));
        let one = server_properties(&NodeConfig {
            node: 1,
            brokers: 1,
            base_port: 9092,
            data_dir: dir,
            overrides: &[("num.io.threads".into(), "8".into())],
            kafka_major: 3,
            security: SecurityMode::Plaintext,
            material: &Material::new("/tmp/x"),
        });
        assert!(one.contains("offsets.topic.replication.factor=1\n"));
        assert!(one.contains("transaction.state.log.min.isr=1\n"));
        assert!(
            !one.contains("share.coordinator"),
            "3.9 does not know share groups"
        );
        assert!(
            one.ends_with("num.io.threads=8\n"),
            "overrides come last and win"
        );
    }

    fn node(security: SecurityMode) -> String {
        server_properties(&NodeConfig {
            node: 1,
            brokers: 1,
            base_port: 9092,
            data_dir: Path::new("/tmp/x/data"),
            overrides: &[],
            kafka_major: 4,
            security,
            material: &Material::new("/st"),
        })
    }

    #[test]
    fn plaintext_listeners_are_unchanged_and_carry_no_security() {
        let p = node(SecurityMode::Plaintext);
        assert!(p.contains("listeners=PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"));
        assert!(
            p.contains("listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT\n")
        );
        assert!(p.contains("inter.broker.listener.name=PLAINTEXT\n"));
        assert!(!p.contains("ssl.") && !p.contains("sasl."));
    }

    #[test]
    fn tls_modes_use_pem_files_and_mtls_requires_client_certs() {
        for mode in [SecurityMode::Ssl, SecurityMode::Mtls] {
            let p = node(mode);
            assert!(
                p.contains("listeners=SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"),
                "{p}"
            );
            assert!(p.contains("advertised.listeners=SSL://127.0.0.1:9092,"));
            assert!(p.contains("listener.security.protocol.map=CONTROLLER:PLAINTEXT,SSL:SSL\n"));
            assert!(p.contains("inter.broker.listener.name=SSL\n"));
            assert!(p.contains("ssl.keystore.type=PEM\nssl.keystore.location=/st/tls/broker.pem\n"));
            assert!(p.contains("ssl.truststore.type=PEM\nssl.truststore.location=/st/tls/ca.pem\n"));
            assert_eq!(
                p.contains("ssl.client.auth=required\n"),
                mode == SecurityMode::Mtls
            );
            assert!(!p.contains("sasl."));
        }
    }

    #[test]
    fn sasl_modes_use_scram_between_brokers_with_the_password_by_reference() {
        let p = node(SecurityMode::SaslSsl);
        assert!(p.contains("listeners=SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093\n"));
        assert!(
            p.contains("listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL\n")
        );
        assert!(p.contains("inter.broker.listener.name=SASL_SSL\n"));
        assert!(p.contains("ssl.truststore.location=/st/tls/ca.pem\n"));
        assert!(p.contains("sasl.enabled.mechanisms=SCRAM-SHA-512\n"));
        assert!(p.contains("sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512\n"));
        assert!(p.contains(
            "config.providers.dir.class=org.apache.kafka.common.config.provider.DirectoryConfigProvider\n"
        ));
        assert!(
            p.contains(
                "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=\
             org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"kbench-broker\" password=\"${dir:/st/secrets:broker.password}\";\n"
            ),
            "{p}"
        );
        let p = node(SecurityMode::SaslPlaintext);
        assert!(p.contains(
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT\n"
        ));
        assert!(p.contains("listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config="));
        assert!(!p.contains("ssl."));
    }

    #[test]
    fn cluster_ids_look_like_kafka_uuids() {
        assert_eq!(encode_uuid([0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        let id = new_cluster_id(|| [0xff; 16]);
        assert_eq!(id, "_____________________w");
        assert_eq!(id.len(), 22);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn cluster_ids_never_start_with_a_dash_nor_are_reserved() {
        // 0xf8 = 0b111110..: the first base64 digit is 62, '-'. Then the zero UUID, then the
        // metadata topic's id (0:1), then a usable one.
        let mut metadata_topic = [0; 16];
        metadata_topic[15] = 1;
        let mut draws = vec![[0xf8; 16], [0; 16], metadata_topic, [0x41; 16]].into_iter();
        let id = new_cluster_id(|| draws.next().expect("drawn again"));
        assert_eq!(id, encode_uuid([0x41; 16]));
        assert!(encode_uuid([0xf8; 16]).starts_with('-'));
        assert_eq!(encode_uuid(metadata_topic), "AAAAAAAAAAAAAAAAAAAAAQ");
        assert!(!is_usable_cluster_id("-oZZIDPBqLNbZJl2C2B83A"));
        assert!(is_usable_cluster_id("oZZIDPBqLNbZJl2C2B83A-"));
        // Many draws from the real generator: none starts with '-' (1 in 64 would unchecked).
        for _ in 0..5000 {
            assert!(!new_cluster_id(rand::random).starts_with('-'));
        }
    }
}
