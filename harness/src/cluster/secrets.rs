//! Secrets: which property names hold one, and references to them (`${env:NAME}`,
//! `${file:PATH}`) that are resolved only into a client's configuration. A resolved value is
//! never stored where a report, a log line, an error or a child's command line could show it:
//! what kbench carries around and writes is the reference as written.

use std::path::PathBuf;

/// A bad `--client-config` file or reference: exit 2. Messages name the file, line and key,
/// and the reference (an environment variable's name, a file's path), never a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("{}: {cause}", path.display())]
    File { path: PathBuf, cause: String },
    #[error("{}:{line}: {cause}", path.display())]
    Syntax {
        path: PathBuf,
        line: usize,
        cause: String,
    },
    #[error("{at}: {key}: {cause}")]
    Reference {
        at: String,
        key: String,
        cause: String,
    },
}

/// Does a property of this name hold a secret (a password, secret, token, key, JAAS or OAuth
/// configuration, credential)? Its value is never written anywhere, and it cannot be swept.
pub fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    const WORDS: [&str; 8] = [
        "password",
        "secret",
        "token",
        "key",
        "jaas",
        "oauth",
        "credential",
        "private",
    ];
    k.split(['.', '_', '-'])
        .any(|part| WORDS.iter().any(|w| part.contains(w)))
}

/// Is this value a reference (`${env:..}` or `${file:..}`)?
pub fn is_reference(value: &str) -> bool {
    let v = value.trim();
    (v.starts_with("${env:") || v.starts_with("${file:")) && v.ends_with('}')
}

/// The value a property stands for: a reference resolved, anything else as it is. The error
/// says what could not be resolved (a variable's name, a file's path), never a value.
pub fn resolve(value: &str) -> Result<String, String> {
    let v = value.trim();
    if let Some(name) = v.strip_prefix("${env:").and_then(|r| r.strip_suffix('}')) {
        return match std::env::var(name) {
            Ok(s) => Ok(s),
            Err(std::env::VarError::NotPresent) => Err(format!(
                "environment variable {name} is not set (${{env:{name}}})"
            )),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("environment variable {name} is not valid UTF-8"))
            }
        };
    }
    if let Some(path) = v.strip_prefix("${file:").and_then(|r| r.strip_suffix('}')) {
        // A secret file holds one value; its trailing newline is not part of it.
        return std::fs::read_to_string(path)
            .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
            .map_err(|e| format!("cannot read {path} (${{file:{path}}}): {e}"));
    }
    Ok(value.to_string())
}

/// A property's value as kbench may show it: a secret's is `<redacted>`, a reference stays
/// the reference (what was written, not what it stands for).
pub fn shown(key: &str, value: &str) -> String {
    if is_secret(key) && !is_reference(value) {
        "<redacted>".into()
    } else {
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_names() {
        for k in [
            "sasl.password",
            "ssl.key.password",
            "ssl.keystore.location",
            "ssl.key.pem",
            "sasl.oauthbearer.client.secret",
            "sasl.oauthbearer.config",
            "sasl.jaas.config",
            "ssl_key",
            "sasl.oauthbearer.token.endpoint.url",
        ] {
            assert!(is_secret(k), "{k}");
        }
        for k in [
            "linger.ms",
            "security.protocol",
            "sasl.mechanism",
            "sasl.username",
            "ssl.ca.location",
            "compression.type",
        ] {
            assert!(!is_secret(k), "{k}");
        }
    }

    #[test]
    fn references_resolve_and_failures_name_the_reference_only() {
        std::env::set_var("KBENCH_SECRETS_TEST_VAR", "s3cret");
        assert_eq!(resolve("${env:KBENCH_SECRETS_TEST_VAR}").unwrap(), "s3cret");
        assert_eq!(resolve("plain").unwrap(), "plain");
        let e = resolve("${env:KBENCH_SECRETS_TEST_UNSET}").unwrap_err();
        assert!(e.contains("KBENCH_SECRETS_TEST_UNSET"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "hunter2\n").unwrap();
        assert_eq!(
            resolve(&format!("${{file:{}}}", f.display())).unwrap(),
            "hunter2"
        );
        let e = resolve("${file:/no/such/kbench/file}").unwrap_err();
        assert!(e.contains("/no/such/kbench/file"), "{e}");
        assert_eq!(shown("sasl.password", "hunter2"), "<redacted>");
        assert_eq!(shown("sasl.password", "${env:PW}"), "${env:PW}");
        assert_eq!(shown("linger.ms", "5"), "5");
    }
}
