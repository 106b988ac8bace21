//! How a local cluster is secured: the mode (`kbench cluster up --security`), the throwaway CA
//! and certificates, the SCRAM users' passwords, and the client settings files a user (or a
//! test) connects with.
//!
//! Everything secret is a file of mode 0600 under the state directory, and never printed or
//! passed on a command line:
//!
//! ```text
//! <state>/tls/ca.pem                the throwaway CA (its key is not kept)
//! <state>/tls/broker.pem            the brokers' PKCS#8 key and certificate chain (Kafka's PEM keystore)
//! <state>/tls/client.pem, client.key, client-keystore.pem   mtls: the client's certificate and key
//! <state>/secrets/broker.password   SCRAM-SHA-512 password of the brokers' own user
//! <state>/secrets/kbench.password   SCRAM-SHA-512 password of the client user `kbench`
//! <state>/client.properties         librdkafka names, for `kbench --client-config`
//! <state>/client-java.properties    Java client names, for Kafka's own tools (`--command-config`)
//! <state>/client.toml               the same as a scenario `[client]` snippet
//! ```
//!
//! The text of every file is made by pure functions (unit-tested); [`write_material`] and
//! [`write_client_files`] are the only I/O.

use std::fmt;
use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::error::ClusterError;

/// The SASL mechanism of the secured modes (users are made at format time).
pub const SCRAM_MECHANISM: &str = "SCRAM-SHA-512";
/// The SCRAM user the brokers authenticate to each other as.
pub const BROKER_USER: &str = "kbench-broker";
/// The SCRAM user for clients.
pub const CLIENT_USER: &str = "kbench";
/// Length of a generated password (alphanumerics: ~143 bits).
const PASSWORD_LEN: usize = 24;

/// How the brokers' client listener (and the inter-broker traffic on it) is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SecurityMode {
    #[default]
    Plaintext,
    /// TLS; the broker proves who it is, clients are anonymous.
    Ssl,
    /// TLS with client certificates (`ssl.client.auth=required`).
    Mtls,
    /// SASL SCRAM-SHA-512 over plain TCP.
    SaslPlaintext,
    /// SASL SCRAM-SHA-512 over TLS.
    SaslSsl,
}

impl SecurityMode {
    pub const ALL: [SecurityMode; 5] = [
        SecurityMode::Plaintext,
        SecurityMode::Ssl,
        SecurityMode::Mtls,
        SecurityMode::SaslPlaintext,
        SecurityMode::SaslSsl,
    ];

    /// The name on the command line and in `state.json`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityMode::Plaintext => "plaintext",
            SecurityMode::Ssl => "ssl",
            SecurityMode::Mtls => "mtls",
            SecurityMode::SaslPlaintext => "sasl_plaintext",
            SecurityMode::SaslSsl => "sasl_ssl",
        }
    }

    /// Kafka's `security.protocol` (the same name in librdkafka and the Java client).
    pub fn protocol(self) -> &'static str {
        match self {
            SecurityMode::Plaintext => "PLAINTEXT",
            SecurityMode::Ssl | SecurityMode::Mtls => "SSL",
            SecurityMode::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityMode::SaslSsl => "SASL_SSL",
        }
    }

    pub fn tls(self) -> bool {
        matches!(
            self,
            SecurityMode::Ssl | SecurityMode::Mtls | SecurityMode::SaslSsl
        )
    }

    pub fn sasl(self) -> bool {
        matches!(self, SecurityMode::SaslPlaintext | SecurityMode::SaslSsl)
    }

    /// Does the broker require a client certificate?
    pub fn client_cert(self) -> bool {
        self == SecurityMode::Mtls
    }

    pub fn is_secure(self) -> bool {
        self != SecurityMode::Plaintext
    }
}

impl fmt::Display for SecurityMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecurityMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        SecurityMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = SecurityMode::ALL.iter().map(|m| m.name()).collect();
                format!(
                    "unknown security mode {s:?}: expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// Where the security material of a cluster lives, below one base directory (the state dir
/// locally, the mounted directory in the secure compose file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    pub base: PathBuf,
}

impl Material {
    pub fn new(base: impl Into<PathBuf>) -> Material {
        Material { base: base.into() }
    }
    pub fn tls_dir(&self) -> PathBuf {
        self.base.join("tls")
    }
    pub fn secrets_dir(&self) -> PathBuf {
        self.base.join("secrets")
    }
    pub fn ca(&self) -> PathBuf {
        self.tls_dir().join("ca.pem")
    }
    /// The brokers' key and certificate chain in one PEM file (Kafka's PEM keystore).
    pub fn broker_keystore(&self) -> PathBuf {
        self.tls_dir().join("broker.pem")
    }
    pub fn client_cert(&self) -> PathBuf {
        self.tls_dir().join("client.pem")
    }
    pub fn client_key(&self) -> PathBuf {
        self.tls_dir().join("client.key")
    }
    /// The client's key and certificate in one PEM file, for the Java client's keystore.
    pub fn client_keystore(&self) -> PathBuf {
        self.tls_dir().join("client-keystore.pem")
    }
    /// File name of the brokers' password in [`Material::secrets_dir`] (the broker reads it
    /// through Kafka's DirectoryConfigProvider, so it never is in server.properties).
    pub const BROKER_PASSWORD: &'static str = "broker.password";
    pub const CLIENT_PASSWORD: &'static str = "kbench.password";
    pub fn broker_password(&self) -> PathBuf {
        self.secrets_dir().join(Self::BROKER_PASSWORD)
    }
    pub fn client_password(&self) -> PathBuf {
        self.secrets_dir().join(Self::CLIENT_PASSWORD)
    }
    pub fn client_properties(&self) -> PathBuf {
        self.base.join("client.properties")
    }
    pub fn client_java_properties(&self) -> PathBuf {
        self.base.join("client-java.properties")
    }
    pub fn client_toml(&self) -> PathBuf {
        self.base.join("client.toml")
    }
}

/// The passwords of a secured cluster's two SCRAM users.
#[derive(Clone, PartialEq, Eq)]
pub struct Passwords {
    pub broker: String,
    pub client: String,
}

impl fmt::Debug for Passwords {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Passwords(<redacted>)")
    }
}

impl Passwords {
    pub fn generate() -> Passwords {
        Passwords {
            broker: random_password(),
            client: random_password(),
        }
    }

    pub fn read(m: &Material) -> Result<Passwords, ClusterError> {
        let read = |p: PathBuf| {
            fs::read_to_string(&p)
                .map(|s| s.trim().to_string())
                .map_err(ClusterError::io(format!("reading {}", p.display())))
        };
        Ok(Passwords {
            broker: read(m.broker_password())?,
            client: read(m.client_password())?,
        })
    }
}

/// 24 random alphanumerics from the operating system's generator.
pub fn random_password() -> String {
    rand::rngs::OsRng
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// The `--add-scram` arguments of Kafka's StorageTool that create both users. They hold the
/// passwords: pass them only through a file ([`java_argfile`]), never on a command line.
pub fn scram_format_args(p: &Passwords) -> Vec<String> {
    [(BROKER_USER, &p.broker), (CLIENT_USER, &p.client)]
        .into_iter()
        .flat_map(|(user, password)| {
            [
                "--add-scram".to_string(),
                format!("{SCRAM_MECHANISM}=[name={user},password={password}]"),
            ]
        })
        .collect()
}

/// A Java launcher @argfile (`java ... @file`): one argument per line, each quoted, so that
/// `/proc/<pid>/cmdline` shows only the file's name.
pub fn java_argfile(args: &[String]) -> String {
    args.iter()
        .map(|a| format!("\"{}\"\n", a.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect()
}

/// The certificates of a throwaway CA, in PEM.
pub struct Certificates {
    pub ca: String,
    /// PKCS#8 key, then the broker's certificate, then the CA's.
    pub broker_keystore: String,
    pub client_cert: String,
    pub client_key: String,
}

/// Make a throwaway CA, a broker certificate valid for `localhost`, `127.0.0.1` and
/// `extra_hosts` (server and client auth: the brokers are each other's clients), and a client
/// certificate for `CN=kbench`. The CA's key is dropped: nothing else can be signed with it.
pub fn make_certificates(extra_hosts: &[&str]) -> Result<Certificates, rcgen::Error> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, SanType,
    };
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(DnType::CommonName, "kbench throwaway CA");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_key = KeyPair::generate()?;
    let ca_cert = ca.self_signed(&ca_key)?;

    let mut broker = CertificateParams::new(Vec::<String>::new())?;
    broker
        .distinguished_name
        .push(DnType::CommonName, BROKER_USER);
    broker.subject_alt_names = vec![
        SanType::DnsName("localhost".try_into()?),
        SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
    ];
    for h in extra_hosts {
        broker
            .subject_alt_names
            .push(SanType::DnsName((*h).try_into()?));
    }
    broker.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let broker_key = KeyPair::generate()?;
    let broker_cert = broker.signed_by(&broker_key, &ca_cert, &ca_key)?;

    let mut client = CertificateParams::new(Vec::<String>::new())?;
    client
        .distinguished_name
        .push(DnType::CommonName, CLIENT_USER);
    client.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = KeyPair::generate()?;
    let client_cert = client.signed_by(&client_key, &ca_cert, &ca_key)?;

    Ok(Certificates {
        ca: ca_cert.pem(),
        broker_keystore: format!(
            "{}{}{}",
            broker_key.serialize_pem(),
            broker_cert.pem(),
            ca_cert.pem()
        ),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    })
}

/// Create (or replace) `path` with `text`, readable by its owner only.
pub fn write_private(path: &Path, text: &str) -> Result<(), ClusterError> {
    let what = || format!("writing {}", path.display());
    // Remove first: an existing file keeps its mode when truncated.
    let _ = fs::remove_file(path);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(ClusterError::io(what()))?;
    f.write_all(text.as_bytes())
        .map_err(ClusterError::io(what()))?;
    Ok(())
}

fn private_dir(dir: &Path) -> Result<(), ClusterError> {
    fs::create_dir_all(dir).map_err(ClusterError::io(format!("creating {}", dir.display())))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
        .map_err(ClusterError::io(format!("chmod {}", dir.display())))
}

/// Write fresh certificates (for TLS modes) and fresh passwords (for SASL modes) below `m`,
/// replacing what was there. Returns the passwords (empty strings when the mode has no SASL).
pub fn write_material(
    m: &Material,
    mode: SecurityMode,
    extra_hosts: &[&str],
) -> Result<Passwords, ClusterError> {
    let _ = fs::remove_dir_all(m.tls_dir());
    let _ = fs::remove_dir_all(m.secrets_dir());
    if mode.tls() {
        let certs = make_certificates(extra_hosts).map_err(|e| ClusterError::Io {
            context: "making the throwaway certificates".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        private_dir(&m.tls_dir())?;
        write_private(&m.ca(), &certs.ca)?;
        write_private(&m.broker_keystore(), &certs.broker_keystore)?;
        if mode.client_cert() {
            write_private(&m.client_cert(), &certs.client_cert)?;
            write_private(&m.client_key(), &certs.client_key)?;
            write_private(
                &m.client_keystore(),
                &format!("{}{}", certs.client_key, certs.client_cert),
            )?;
        }
    }
    let passwords = if mode.sasl() {
        let p = Passwords::generate();
        private_dir(&m.secrets_dir())?;
        write_private(&m.broker_password(), &p.broker)?;
        write_private(&m.client_password(), &p.client)?;
        p
    } else {
        Passwords {
            broker: String::new(),
            client: String::new(),
        }
    };
    Ok(passwords)
}

/// The librdkafka properties a client of a cluster in `mode` needs (beside
/// `bootstrap.servers`), with the password itself: for kbench's own clients and
/// `client.properties`.
pub fn librdkafka_properties(
    mode: SecurityMode,
    m: &Material,
    client_password: &str,
) -> Vec<(String, String)> {
    let mut p = vec![("security.protocol".to_string(), mode.protocol().to_string())];
    let path = |p: PathBuf| p.display().to_string();
    if mode.tls() {
        p.push(("ssl.ca.location".into(), path(m.ca())));
    }
    if mode.client_cert() {
        p.push(("ssl.certificate.location".into(), path(m.client_cert())));
        p.push(("ssl.key.location".into(), path(m.client_key())));
    }
    if mode.sasl() {
        p.push(("sasl.mechanism".into(), SCRAM_MECHANISM.into()));
        p.push(("sasl.username".into(), CLIENT_USER.into()));
        p.push(("sasl.password".into(), client_password.into()));
    }
    p
}

/// The Java client's equivalent of [`librdkafka_properties`] (for `--command-config`).
pub fn java_client_properties(
    mode: SecurityMode,
    m: &Material,
    client_password: &str,
) -> Vec<(String, String)> {
    let mut p = vec![("security.protocol".to_string(), mode.protocol().to_string())];
    let path = |p: PathBuf| p.display().to_string();
    if mode.tls() {
        p.push(("ssl.truststore.type".into(), "PEM".into()));
        p.push(("ssl.truststore.location".into(), path(m.ca())));
    }
    if mode.client_cert() {
        p.push(("ssl.keystore.type".into(), "PEM".into()));
        p.push(("ssl.keystore.location".into(), path(m.client_keystore())));
    }
    if mode.sasl() {
        p.push(("sasl.mechanism".into(), SCRAM_MECHANISM.into()));
        p.push((
            "sasl.jaas.config".into(),
            scram_jaas(CLIENT_USER, client_password),
        ));
    }
    p
}

/// A ScramLoginModule JAAS line (for a client, or a broker listener).
pub fn scram_jaas(user: &str, password: &str) -> String {
    format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required \
         username=\"{user}\" password=\"{password}\";"
    )
}

/// A value as a Java properties file reads it back (backslashes escaped; a leading space
/// kept).
fn java_properties_value(v: &str) -> String {
    let escaped = v
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('\r', "\\r");
    match escaped.strip_prefix(' ') {
        Some(rest) => format!("\\ {rest}"),
        None => escaped,
    }
}

/// `key=value` lines under a comment header.
pub fn properties_text(header: &str, props: &[(String, String)]) -> String {
    let mut s: String = header.lines().map(|l| format!("# {l}\n")).collect();
    for (k, v) in props {
        s.push_str(&format!("{k}={}\n", java_properties_value(v)));
    }
    s
}

/// The scenario `[client]` snippet: the same settings as `client.properties` for each of
/// kbench's clients (`[client.producer]`, `[client.consumer]`, `[client.admin]`), with the
/// password by reference (`${file:...}`) instead of its value.
pub fn client_toml_text(mode: SecurityMode, m: &Material, bootstrap: &str) -> String {
    let reference = format!("${{file:{}}}", m.client_password().display());
    let mut s = format!(
        "# kbench scenario snippet for the cluster at {bootstrap} (security: {mode});\n\
         # written by kbench. Paste it into a scenario, or pass\n\
         # --client-config {} instead.\n",
        m.client_properties().display()
    );
    for client in ["producer", "consumer", "admin"] {
        s.push_str(&format!("\n[client.{client}]\n"));
        for (k, v) in librdkafka_properties(mode, m, &reference) {
            s.push_str(&format!(
                "{} = {}\n",
                toml_edit::Value::from(k.as_str()),
                toml_edit::Value::from(v.as_str())
            ));
        }
    }
    s
}

/// Write `client.properties`, `client-java.properties` and `client.toml` (mode 0600) for a
/// cluster in `mode` at `bootstrap`.
pub fn write_client_files(
    m: &Material,
    mode: SecurityMode,
    bootstrap: &str,
    client_password: &str,
) -> Result<(), ClusterError> {
    let header = |what: &str| {
        format!(
            "{what} for the cluster at {bootstrap} (security: {mode}),\n\
             written by kbench; it may hold a password: keep it private.\n\
             bootstrap.servers={bootstrap}"
        )
    };
    write_private(
        &m.client_properties(),
        &properties_text(
            &header("librdkafka client settings (kbench --client-config)"),
            &librdkafka_properties(mode, m, client_password),
        ),
    )?;
    write_private(
        &m.client_java_properties(),
        &properties_text(
            &header("Java client settings (Kafka's tools: --command-config)"),
            &java_client_properties(mode, m, client_password),
        ),
    )?;
    write_private(&m.client_toml(), &client_toml_text(mode, m, bootstrap))
}

/// Where `docker-compose.sasl-ssl.yml` mounts the directory `kbench cluster certs` writes.
pub const COMPOSE_MOUNT: &str = "/etc/kafka/kbench";
/// The host names of the compose file's brokers (in their certificate beside localhost).
pub const COMPOSE_HOSTS: [&str; 3] = ["kafka-1", "kafka-2", "kafka-3"];
/// The bootstrap of the compose cluster as seen from the host.
pub const COMPOSE_BOOTSTRAP: &str = "localhost:9092,localhost:9192,localhost:9292";
/// Java client settings with the paths inside the containers (for their healthcheck).
pub const COMPOSE_CONTAINER_CLIENT: &str = "container-client.properties";

/// `kbench cluster certs DIR`: the material of `docker-compose.sasl-ssl.yml` (SASL_SSL, the
/// same users as `cluster up --security sasl_ssl`) and the host's client settings for it.
/// Returns the client settings files written.
pub fn write_compose_material(dir: &Path) -> Result<Vec<PathBuf>, ClusterError> {
    let mode = SecurityMode::SaslSsl;
    fs::create_dir_all(dir).map_err(ClusterError::io(format!("creating {}", dir.display())))?;
    let dir = dir
        .canonicalize()
        .map_err(ClusterError::io(format!("resolving {}", dir.display())))?;
    let host = Material::new(&dir);
    let passwords = write_material(&host, mode, &COMPOSE_HOSTS)?;
    write_client_files(&host, mode, COMPOSE_BOOTSTRAP, &passwords.client)?;
    let inside = Material::new(COMPOSE_MOUNT);
    let container = dir.join(COMPOSE_CONTAINER_CLIENT);
    write_private(
        &container,
        &properties_text(
            "Java client settings inside the compose containers (their healthcheck)",
            &java_client_properties(mode, &inside, &passwords.client),
        ),
    )?;
    Ok(vec![
        host.client_properties(),
        host.client_java_properties(),
        host.client_toml(),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build (rdkafka's `ssl-vendored` feature: OpenSSL from source) gives librdkafka
    /// TLS and every SASL mechanism a managed cluster asks for.
    #[test]
    fn librdkafka_speaks_tls_and_every_sasl_mechanism() {
        use rdkafka::producer::BaseProducer;
        use rdkafka::ClientConfig;
        let features = ClientConfig::new()
            .create_native_config()
            .unwrap()
            .get("builtin.features")
            .unwrap();
        let features: Vec<&str> = features.split(',').collect();
        for f in [
            "ssl",
            "sasl_plain",
            "sasl_scram",
            "sasl_oauthbearer",
            "zstd",
        ] {
            assert!(
                features.contains(&f),
                "builtin.features lacks {f}: {features:?}"
            );
        }
        let cases = [
            ("SSL", None),
            ("SASL_PLAINTEXT", Some("PLAIN")),
            ("SASL_SSL", Some("PLAIN")),
            ("SASL_SSL", Some("SCRAM-SHA-256")),
            ("SASL_SSL", Some("SCRAM-SHA-512")),
            ("SASL_SSL", Some("OAUTHBEARER")),
        ];
        for (protocol, mechanism) in cases {
            let mut c = ClientConfig::new();
            // Never reached: creating the client is what checks the settings.
            c.set("bootstrap.servers", "127.0.0.1:1")
                .set("log_level", "0")
                .set("security.protocol", protocol);
            match mechanism {
                Some("OAUTHBEARER") => {
                    c.set("sasl.mechanism", "OAUTHBEARER")
                        .set("enable.sasl.oauthbearer.unsecure.jwt", "true")
                        .set("sasl.oauthbearer.config", "principal=kbench");
                }
                Some(m) => {
                    c.set("sasl.mechanism", m)
                        .set("sasl.username", "u")
                        .set("sasl.password", "p");
                }
                None => {}
            }
            let made: Result<BaseProducer, _> = c.create();
            assert!(
                made.is_ok(),
                "{protocol} {mechanism:?}: {}",
                made.err().map(|e| e.to_string()).unwrap_or_default()
            );
        }
    }

    #[test]
    fn modes_parse_and_print_their_names() {
        for m in SecurityMode::ALL {
            assert_eq!(m.name().parse::<SecurityMode>(), Ok(m));
            assert_eq!(m.to_string(), m.name());
        }
        let err = "tls".parse::<SecurityMode>().unwrap_err();
        assert!(
            err.contains("plaintext, ssl, mtls, sasl_plaintext, sasl_ssl"),
            "{err}"
        );
        assert_eq!(SecurityMode::Mtls.protocol(), "SSL");
        assert!(SecurityMode::SaslSsl.tls() && SecurityMode::SaslSsl.sasl());
        assert!(!SecurityMode::SaslPlaintext.tls());
        assert_eq!(
            serde_json::to_string(&SecurityMode::SaslSsl).unwrap(),
            "\"sasl_ssl\""
        );
    }

    #[test]
    fn passwords_are_random_alphanumerics_and_never_debug_printed() {
        let p = Passwords::generate();
        assert_eq!(p.broker.len(), 24);
        assert!(p.broker.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(p.broker, p.client);
        assert!(!format!("{p:?}").contains(&p.broker));
    }

    #[test]
    fn scram_users_go_into_an_argfile() {
        let p = Passwords {
            broker: "B1".into(),
            client: "C2".into(),
        };
        let args = scram_format_args(&p);
        assert_eq!(
            args,
            [
                "--add-scram",
                "SCRAM-SHA-512=[name=kbench-broker,password=B1]",
                "--add-scram",
                "SCRAM-SHA-512=[name=kbench,password=C2]"
            ]
        );
        let file = java_argfile(&["kafka.tools.StorageTool".into(), "a \"b\\c".into()]);
        assert_eq!(file, "\"kafka.tools.StorageTool\"\n\"a \\\"b\\\\c\"\n");
    }

    #[test]
    fn client_settings_per_mode() {
        let m = Material::new("/s");
        let keys = |mode| -> Vec<String> {
            librdkafka_properties(mode, &m, "pw")
                .into_iter()
                .map(|(k, _)| k)
                .collect()
        };
        assert_eq!(keys(SecurityMode::Plaintext), ["security.protocol"]);
        assert_eq!(
            keys(SecurityMode::Ssl),
            ["security.protocol", "ssl.ca.location"]
        );
        assert_eq!(
            keys(SecurityMode::Mtls),
            [
                "security.protocol",
                "ssl.ca.location",
                "ssl.certificate.location",
                "ssl.key.location"
            ]
        );
        assert_eq!(
            librdkafka_properties(SecurityMode::SaslSsl, &m, "pw"),
            [
                ("security.protocol", "SASL_SSL"),
                ("ssl.ca.location", "/s/tls/ca.pem"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "kbench"),
                ("sasl.password", "pw"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        let java = java_client_properties(SecurityMode::Mtls, &m, "pw");
        assert!(java.contains(&("ssl.keystore.type".into(), "PEM".into())));
        assert!(java.contains(&(
            "ssl.keystore.location".into(),
            "/s/tls/client-keystore.pem".into()
        )));
        let java = java_client_properties(SecurityMode::SaslPlaintext, &m, "pw");
        assert!(java.contains(&(
            "sasl.jaas.config".into(),
            "org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"kbench\" password=\"pw\";"
                .into()
        )));
    }

    #[test]
    fn the_toml_snippet_refers_to_the_password_file() {
        let m = Material::new("/s");
        let text = client_toml_text(SecurityMode::SaslSsl, &m, "127.0.0.1:9092");
        let doc: toml::Table = toml::from_str(&text).unwrap();
        for kind in ["producer", "consumer", "admin"] {
            let client = doc["client"][kind].as_table().unwrap();
            assert_eq!(
                client["sasl.password"].as_str(),
                Some("${file:/s/secrets/kbench.password}")
            );
            assert_eq!(client["security.protocol"].as_str(), Some("SASL_SSL"));
        }
    }

    #[test]
    fn properties_text_escapes_what_java_would_misread() {
        let t = properties_text(
            "a\nb",
            &[("k".into(), "C:\\x".into()), ("l".into(), " lead".into())],
        );
        assert_eq!(t, "# a\n# b\nk=C:\\\\x\nl=\\ lead\n");
    }

    #[test]
    fn certificates_name_the_hosts_librdkafka_checks() {
        let c = make_certificates(&["kafka-1"]).unwrap();
        assert!(c.ca.starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(c.broker_keystore.starts_with("-----BEGIN PRIVATE KEY-----"));
        assert_eq!(c.broker_keystore.matches("BEGIN CERTIFICATE").count(), 2);
        assert!(c.client_key.contains("BEGIN PRIVATE KEY"));
    }

    #[test]
    fn compose_material_has_host_and_container_settings() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_compose_material(dir.path()).unwrap();
        let base = dir.path().canonicalize().unwrap();
        let host = Material::new(&base);
        assert_eq!(files[0], host.client_properties());
        for f in [host.ca(), host.broker_keystore(), host.broker_password()] {
            assert!(f.exists(), "{}", f.display());
        }
        let props = fs::read_to_string(host.client_properties()).unwrap();
        assert!(props.contains(&format!("ssl.ca.location={}\n", host.ca().display())));
        assert!(props.contains("# bootstrap.servers=localhost:9092,localhost:9192,localhost:9292"));
        let inside = fs::read_to_string(base.join(COMPOSE_CONTAINER_CLIENT)).unwrap();
        assert!(inside.contains("ssl.truststore.location=/etc/kafka/kbench/tls/ca.pem\n"));
        assert!(inside.contains("security.protocol=SASL_SSL\n"));
    }

    #[test]
    fn private_files_are_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let m = Material::new(dir.path());
        let p = write_material(&m, SecurityMode::SaslSsl, &[]).unwrap();
        write_client_files(&m, SecurityMode::SaslSsl, "127.0.0.1:9092", &p.client).unwrap();
        for f in [
            m.ca(),
            m.broker_keystore(),
            m.broker_password(),
            m.client_password(),
            m.client_properties(),
            m.client_java_properties(),
            m.client_toml(),
        ] {
            let mode = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
        assert_eq!(Passwords::read(&m).unwrap(), p);
        let toml = fs::read_to_string(m.client_toml()).unwrap();
        assert!(
            !toml.contains(&p.client),
            "the snippet holds a reference only"
        );
        let props = fs::read_to_string(m.client_properties()).unwrap();
        assert!(props.contains(&format!("sasl.password={}\n", p.client)));
    }
}
