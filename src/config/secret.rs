//! Secrets: a wrapper that cannot be printed, and the rules for taking a secret from the file,
//! an environment variable (`X_env`) or a file (`X_file`).

use super::Problem;
use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// A secret that cannot be printed: `Debug` and `Display` show `***`, so a derived `Debug` on a
/// settings struct or a stray `{:?}` in a log line cannot leak it. The value is zeroed on drop.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    pub fn new(value: String) -> Self {
        Self(SecretString::from(value))
    }

    /// The value, for the one place that signs or authenticates with it.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// The three ways one secret field `X` can be given: `X`, `X_env`, `X_file`.
pub(super) struct SecretSource {
    pub literal: Option<String>,
    pub env: Option<String>,
    pub file: Option<String>,
}

/// Resolves one secret whose key path is `key` (e.g. `merchants[0].providers.cmi.store_key`).
///
/// At most one source may be given, so it is never ambiguous which one wins. `Ok(None)` means
/// none was given; the caller decides whether that is allowed. A file's trailing newlines are
/// trimmed because `echo secret > file` adds one. An empty secret is refused: it would "verify"
/// signatures made with an empty key.
pub(super) fn resolve(
    key: &str,
    source: SecretSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Secret>, Problem> {
    let env_key = format!("{key}_env");
    let file_key = format!("{key}_file");
    let given: Vec<&str> = [
        source.literal.as_ref().map(|_| key),
        source.env.as_ref().map(|_| env_key.as_str()),
        source.file.as_ref().map(|_| file_key.as_str()),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let [first, second, ..] = given.as_slice() {
        return Err(problem(
            first,
            format!("conflicts with {second}: give only one of them"),
        ));
    }
    let value = if let Some(value) = source.literal {
        non_empty(value, || problem(key, "the secret is empty".to_owned()))?
    } else if let Some(name) = source.env {
        let Some(value) = env(&name) else {
            return Err(problem(
                &env_key,
                format!("environment variable {name} is not set"),
            ));
        };
        non_empty(value, || {
            problem(&env_key, format!("environment variable {name} is empty"))
        })?
    } else if let Some(path) = source.file {
        let text = std::fs::read_to_string(&path)
            .map_err(|err| problem(&file_key, format!("cannot read {path}: {err}")))?;
        let value = text.trim_end_matches(['\n', '\r']).to_owned();
        non_empty(value, || {
            problem(&file_key, format!("file {path} is empty"))
        })?
    } else {
        return Ok(None);
    };
    Ok(Some(Secret::new(value)))
}

fn non_empty(value: String, empty: impl FnOnce() -> Problem) -> Result<String, Problem> {
    if value.is_empty() {
        Err(empty())
    } else {
        Ok(value)
    }
}

/// Like [`resolve`], for a secret the provider cannot work without.
pub(super) fn require(
    key: &str,
    source: SecretSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Secret, Problem> {
    let name = key.rsplit('.').next().unwrap_or(key);
    resolve(key, source, env)?.ok_or_else(|| {
        problem(
            key,
            format!("required: set {name}_env, {name}_file or {name}"),
        )
    })
}

fn problem(key: &str, message: String) -> Problem {
    Problem {
        key: key.to_owned(),
        message,
    }
}
