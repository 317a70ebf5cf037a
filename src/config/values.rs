//! Parsers for single values (addresses, URLs, hashes, numbers). Each returns a [`Problem`]
//! naming `key` on failure, so a value from the file and one from `PAYGATE_*` report alike.

use super::{LogFormat, Problem};
use hex::FromHex;
use std::net::SocketAddr;

pub(super) fn problem(key: &str, message: String) -> Problem {
    Problem {
        key: key.to_owned(),
        message,
    }
}

pub(super) fn socket_addr(key: &str, text: &str) -> Result<SocketAddr, Problem> {
    text.parse().map_err(|_| {
        problem(
            key,
            format!("invalid socket address {text:?} (expected IP:PORT, e.g. 127.0.0.1:50051)"),
        )
    })
}

/// An absolute http(s) URL with a host and no credentials (they would be printed), kept exactly
/// as written; `example` shows the expected form in the message.
pub(super) fn absolute_http_url(
    key: &str,
    text: &str,
    example: &str,
) -> Result<reqwest::Url, Problem> {
    let url = reqwest::Url::parse(text).map_err(|e| {
        problem(
            key,
            format!("invalid URL {text:?}: {e} (expected e.g. {example})"),
        )
    })?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(problem(
            key,
            format!("must be an absolute http:// or https:// URL, got {text:?}"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(problem(
            key,
            "must not contain a user name or password".to_owned(),
        ));
    }
    Ok(url)
}

/// [`absolute_http_url`] with the path made to end with `/`, so that
/// `base.join("webhooks/...")` appends instead of replacing.
pub(super) fn http_url(key: &str, text: &str) -> Result<reqwest::Url, Problem> {
    let mut url = absolute_http_url(key, text, "https://host")?;
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// Checks the scheme without echoing the URL, which may hold a database password.
pub(super) fn database_url(key: &str, url: String) -> Result<String, Problem> {
    let rest = ["sqlite://", "postgres://", "postgresql://"]
        .into_iter()
        .find_map(|prefix| url.strip_prefix(prefix));
    match rest {
        Some(rest) if !rest.is_empty() => Ok(url),
        Some(_) => Err(problem(
            key,
            "is missing the database path or host after the scheme".to_owned(),
        )),
        None => {
            let scheme = url.split_once("://").map_or("none", |(scheme, _)| scheme);
            Err(problem(
                key,
                format!(
                    "must start with sqlite://, postgres:// or postgresql:// (scheme: {scheme})"
                ),
            ))
        }
    }
}

pub(super) fn log_filter(key: &str, filter: String) -> Result<String, Problem> {
    match tracing_subscriber::EnvFilter::builder().parse(&filter) {
        Ok(_) if !filter.trim().is_empty() => Ok(filter),
        Ok(_) => Err(problem(key, "must not be empty (e.g. \"info\")".to_owned())),
        Err(e) => Err(problem(key, format!("invalid log filter {filter:?}: {e}"))),
    }
}

pub(super) fn log_format(key: &str, text: &str) -> Result<LogFormat, Problem> {
    text.parse().map_err(|message| problem(key, message))
}

pub(super) fn key_hash(key: &str, text: &str) -> Result<[u8; 32], Problem> {
    let bad = || {
        problem(
            key,
            format!(
                "must be 64 hex characters (the SHA-256 of the API key), got {} characters",
                text.len()
            ),
        )
    };
    if text.len() != 64 {
        return Err(bad());
    }
    <[u8; 32]>::from_hex(text).map_err(|e| problem(key, format!("must be 64 hex characters: {e}")))
}

/// A key the table requires: missing and blank are both problems under the key's own name.
pub(super) fn required(key: &str, value: Option<String>) -> Result<String, Problem> {
    match value {
        Some(value) => non_empty(key, value),
        None => Err(problem(key, "required key is missing".to_owned())),
    }
}

pub(super) fn non_empty(key: &str, value: String) -> Result<String, Problem> {
    if value.trim().is_empty() {
        Err(problem(key, "must not be empty".to_owned()))
    } else {
        Ok(value)
    }
}

pub(super) fn at_least_one<T: PartialOrd + From<u8>>(key: &str, value: T) -> Result<T, Problem> {
    if value >= T::from(1) {
        Ok(value)
    } else {
        Err(problem(key, "must be at least 1".to_owned()))
    }
}

/// An on/off environment switch: `1`/`true` or `0`/`false`.
pub(super) fn switch(key: &str, text: &str) -> Result<bool, Problem> {
    match text {
        "1" | "true" => Ok(true),
        "0" | "false" => Ok(false),
        other => Err(problem(
            key,
            format!("must be 1 or 0 (true or false), got {other:?}"),
        )),
    }
}
