//! How every client kbench opens reaches the cluster: the bootstrap servers and the connection
//! properties (TLS, SASL) from `--client-config FILE`, Kafka's CLI convention
//! (`--command-config`). Producers, consumers, the admin client, fault target resolution and
//! the manifest's cluster query all start their configuration from [`Access::config`].
//!
//! Precedence, lowest first: kbench's own settings for a client, then `--client-config`, then
//! the scenario's `[client.producer|consumer|admin]` properties (the most specific wins).
//!
//! Values may be references, `${env:NAME}` or `${file:PATH}` ([`super::secrets`]): they are
//! kept as written and resolved only when a client's configuration is built, so the resolved
//! value never reaches a report, a log line or a child's command line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rdkafka::ClientConfig;

use super::secrets::{self, SecretError};

#[derive(Clone, Default)]
pub struct Access {
    pub bootstrap: String,
    /// Connection properties as written (references unresolved), in file order.
    props: Vec<(String, String)>,
    /// The file they came from, for messages and for child processes.
    file: Option<PathBuf>,
}

/// Shows the property names and what a value stands for (a reference as written, a secret
/// as `<redacted>`): an `Access` in a debug message must not carry a password written
/// literally in the file.
impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let props: Vec<(&str, String)> = self
            .props
            .iter()
            .map(|(k, v)| (k.as_str(), super::secrets::shown(k, v)))
            .collect();
        f.debug_struct("Access")
            .field("bootstrap", &self.bootstrap)
            .field("props", &props)
            .field("file", &self.file)
            .finish()
    }
}

impl Access {
    /// Plain bootstrap servers and no connection properties.
    pub fn plaintext(bootstrap: &str) -> Access {
        Access {
            bootstrap: bootstrap.to_string(),
            ..Access::default()
        }
    }

    /// `bootstrap` with the properties of a `--client-config` file. Every reference in it must
    /// resolve (checked now, so a bad one is refused before any load).
    pub fn with_file(bootstrap: &str, path: &Path) -> Result<Access, SecretError> {
        let text = std::fs::read_to_string(path).map_err(|e| SecretError::File {
            path: path.to_path_buf(),
            cause: e.to_string(),
        })?;
        let props = parse_properties(&text).map_err(|(line, cause)| SecretError::Syntax {
            path: path.to_path_buf(),
            line,
            cause,
        })?;
        for (line, (k, v)) in &props {
            secrets::resolve(v).map_err(|cause| SecretError::Reference {
                at: format!("{}:{line}", path.display()),
                key: k.clone(),
                cause,
            })?;
        }
        Ok(Access {
            bootstrap: bootstrap.to_string(),
            props: props.into_iter().map(|(_, kv)| kv).collect(),
            file: Some(path.to_path_buf()),
        })
    }

    /// The `--client-config` file, if any (child kbench processes get the same path).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// `security.protocol` as configured (librdkafka's default: plaintext).
    pub fn security_protocol(&self) -> String {
        self.props
            .iter()
            .rev()
            .find(|(k, _)| k == "security.protocol")
            .map(|(_, v)| v.to_ascii_uppercase())
            .unwrap_or_else(|| "PLAINTEXT".into())
    }

    /// A client configuration with the bootstrap servers and every connection property, on
    /// top of which a client sets its own.
    pub fn config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.props {
            // Checked when the file was read; an environment changed since then is the
            // only way this fails, and librdkafka then reports the missing setting.
            if let Ok(v) = secrets::resolve(v) {
                c.set(k, v);
            }
        }
        c
    }

    /// Apply `extra` (a scenario's pass-through properties) on top of `c`, resolving
    /// references.
    pub fn apply_extra(c: &mut ClientConfig, extra: &BTreeMap<String, String>) {
        for (k, v) in extra {
            if let Ok(v) = secrets::resolve(v) {
                c.set(k, v);
            }
        }
    }

    /// The connection properties resolved, for a configuration file a Kafka Java tool reads
    /// (`--command-config`): the caller writes them to a private file outside the run
    /// directory and deletes it afterwards.
    pub fn resolved(&self) -> Vec<(String, String)> {
        self.props
            .iter()
            .filter_map(|(k, v)| secrets::resolve(v).ok().map(|v| (k.clone(), v)))
            .collect()
    }
}

/// A property of a file and its line: `(line, (key, value))`.
pub type Property = (usize, (String, String));

/// Java properties syntax (what Kafka's `--command-config` files use): `key=value`,
/// `key: value` or `key value`; `#` and `!` start comments; a line ending in `\` continues on
/// the next. Returns `(line, (key, value))` in file order, or `(line, why)`.
pub fn parse_properties(text: &str) -> Result<Vec<Property>, (usize, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((i, raw)) = lines.next() {
        let line_no = i + 1;
        let mut line = raw.trim_start().to_string();
        if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
            continue;
        }
        while line.ends_with('\\') && !line.ends_with("\\\\") {
            line.pop();
            match lines.next() {
                Some((_, next)) => line.push_str(next.trim_start()),
                None => return Err((line_no, "the last line ends in a continuation `\\`".into())),
            }
        }
        let sep = line
            .char_indices()
            .find(|(_, c)| matches!(c, '=' | ':') || c.is_whitespace())
            .map(|(i, _)| i);
        let (key, value) = match sep {
            Some(i) => {
                let rest = line[i..].trim_start();
                let rest = rest
                    .strip_prefix('=')
                    .or_else(|| rest.strip_prefix(':'))
                    .unwrap_or(rest);
                (line[..i].to_string(), rest.trim().to_string())
            }
            None => (line.clone(), String::new()),
        };
        if key.is_empty() {
            return Err((line_no, "a property without a name".into()));
        }
        out.push((line_no, (key, value)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_properties_syntax() {
        let text =
            "# comment\n! also\n\nsecurity.protocol=SASL_SSL\nsasl.mechanism : SCRAM-SHA-512\n\
                    sasl.username kbench\nssl.ca.location=/a/\\\n  b.pem\nempty=\n";
        let p = parse_properties(text).unwrap();
        let kv: Vec<(&str, &str)> = p
            .iter()
            .map(|(_, (k, v))| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            kv,
            [
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanism", "SCRAM-SHA-512"),
                ("sasl.username", "kbench"),
                ("ssl.ca.location", "/a/b.pem"),
                ("empty", "")
            ]
        );
        assert_eq!(
            p[3].0, 7,
            "a continued property is reported at its first line"
        );
        assert_eq!(parse_properties("=x\n").unwrap_err().0, 1);
    }

    #[test]
    fn a_file_with_an_unresolvable_reference_names_the_key_and_line_never_a_value() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("client.properties");
        std::fs::write(
            &p,
            "security.protocol=SASL_SSL\nsasl.password=${env:KBENCH_TEST_NO_SUCH_VAR_7}\n",
        )
        .unwrap();
        let e = Access::with_file("b:9092", &p).unwrap_err().to_string();
        assert!(e.contains("client.properties:2"), "{e}");
        assert!(e.contains("sasl.password"), "{e}");
        assert!(e.contains("KBENCH_TEST_NO_SUCH_VAR_7"), "{e}");
    }

    #[test]
    fn references_resolve_only_into_the_client_config() {
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("pw");
        std::fs::write(&secret, "hunter2\n").unwrap();
        let p = dir.path().join("c.properties");
        std::fs::write(
            &p,
            format!(
                "security.protocol=sasl_ssl\nsasl.password=${{file:{}}}\n",
                secret.display()
            ),
        )
        .unwrap();
        let a = Access::with_file("b:9092", &p).unwrap();
        assert_eq!(a.security_protocol(), "SASL_SSL");
        assert_eq!(a.config().get("sasl.password"), Some("hunter2"));
        assert_eq!(a.config().get("bootstrap.servers"), Some("b:9092"));
        assert!(!format!("{a:?}").contains("hunter2"), "{a:?}");
        std::fs::write(&p, "sasl.password=hunter3\n").unwrap();
        let literal = Access::with_file("b:9092", &p).unwrap();
        assert!(!format!("{literal:?}").contains("hunter3"), "{literal:?}");
    }
}
