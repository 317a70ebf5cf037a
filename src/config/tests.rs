//! Tests for loading settings: defaults, overrides, a full file, every refusal, and secret masking.

use super::*;
use std::collections::HashMap;
use std::io::Write as _;

const HASH_A: &str = "57c8139db7290a9064aa57837c951138a32df40cca3aca526319f55651368823";
const HASH_B: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| map.get(name).cloned()
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let file = toml_file(text);
    Settings::load_with_env(Some(file.path()), &env_of(env))
}

/// A minimal valid file: one merchant, one client, the in-process mock.
fn minimal() -> String {
    format!(
        "[[merchants]]\nid = \"a\"\n[[merchants.clients]]\nname = \"c\"\napi_key_sha256 = \"{HASH_A}\"\n\
         [merchants.providers.mock]\n"
    )
}

#[test]
fn no_file_runs_development_defaults() {
    let s = Settings::load_with_env(None, &env_of(&[])).unwrap();
    assert!(s.dev_mode);
    assert_eq!(s.server.grpc_addr.to_string(), "127.0.0.1:50051");
    assert_eq!(s.server.http_addr.to_string(), "127.0.0.1:8080");
    assert!(!s.server.require_auth);
    assert_eq!(s.database.url, "sqlite://paygate.db");
    assert_eq!(s.log.filter, "info");
    assert_eq!(s.log.format, LogFormat::Pretty);
    assert_eq!(s.idempotency.retention, Duration::from_secs(24 * 3600));
    assert_eq!(s.server.max_message_bytes, 1024 * 1024);
    assert_eq!(s.server.webhook_body_limit, 64 * 1024);
    assert_eq!(s.server.provider_timeout, Duration::from_secs(10));
    assert_eq!(s.merchants.len(), 1);
    let merchant = s.merchants.first().unwrap();
    assert_eq!(merchant.id.as_str(), "default");
    assert!(merchant.clients.is_empty());
    let mock = merchant.providers.mock.as_ref().unwrap();
    assert!(mock.base_url.is_none() && mock.webhook_secrets.is_empty());
    assert_eq!(merchant.providers.enabled(), vec![ProviderKind::Mock]);
    assert!(s.merchant(&MerchantId::parse("default").unwrap()).is_some());
    assert!(s.merchant(&MerchantId::parse("other").unwrap()).is_none());
}

#[test]
fn env_overrides_apply_to_development_mode_and_files() {
    let env = [
        ("PAYGATE_GRPC_ADDR", "0.0.0.0:0"),
        ("PAYGATE_HTTP_ADDR", "[::1]:9000"),
        ("PAYGATE_DATABASE_URL", "postgres://u:pw@db/paygate"),
        ("PAYGATE_LOG", "info,paygate=debug"),
        ("PAYGATE_LOG_FORMAT", "json"),
    ];
    let dev = Settings::load_with_env(None, &env_of(&env)).unwrap();
    let file = load_text(&format!("[server]\ngrpc_addr = \"127.0.0.1:1\"\n{}", minimal()), &env).unwrap();
    for s in [dev, file] {
        assert_eq!(s.server.grpc_addr.to_string(), "0.0.0.0:0");
        assert_eq!(s.server.http_addr.to_string(), "[::1]:9000");
        assert_eq!(s.database.url, "postgres://u:pw@db/paygate");
        assert_eq!(s.log.filter, "info,paygate=debug");
        assert_eq!(s.log.format, LogFormat::Json);
    }
}

#[test]
fn paygate_config_env_names_the_file_and_empty_vars_count_as_unset() {
    let file = toml_file(&minimal());
    let path = file.path().to_str().unwrap();
    let s = Settings::load_with_env(None, &env_of(&[("PAYGATE_CONFIG", path), ("PAYGATE_LOG", "")])).unwrap();
    assert!(!s.dev_mode);
    assert!(s.server.require_auth, "auth is on by default with a config file");
    assert_eq!(s.log.filter, "info");
}

#[test]
fn full_file_with_all_providers_and_secrets_from_env_and_file_parses() {
    let mut secret_file = tempfile::NamedTempFile::new().unwrap();
    secret_file.write_all(b"mock-secret-from-file\n").unwrap();
    let text = format!(
        r#"
[server]
grpc_addr = "0.0.0.0:50051"
http_addr = "0.0.0.0:8080"
public_base_url = "https://pay.example.ma/gw"
max_message_bytes = 2048
webhook_body_limit = 4096
max_concurrent_requests = 8
provider_timeout_ms = 2500
[database]
url = "postgresql://paygate@db/paygate"
[log]
filter = "warn"
format = "json"
[idempotency]
retention_hours = 48
reap_interval_secs = 30
[[merchants]]
id = "atlas-shop"
  [[merchants.clients]]
  name = "checkout"
  api_key_sha256 = "{HASH_A}"
  [[merchants.clients]]
  name = "backoffice"
  api_key_sha256 = "{HASH_B}"
  [merchants.providers.cmi]
  client_id = "600000000"
  store_key_env = "ATLAS_CMI_STORE_KEY"
  api_user = "api-user"
  api_password = "inline-password"
  base_url = "https://testpayment.cmi.co.ma"
  callback_reply = "approved"
  [merchants.providers.paypal]
  client_id = "pp-client"
  client_secret_env = "ATLAS_PAYPAL_SECRET"
  webhook_id = "WH-1"
  base_url = "https://api-m.sandbox.paypal.com"
  webhook_verification = "api"
  [merchants.providers.mock]
  base_url = "http://127.0.0.1:9090"
  webhook_secret_file = "{}"
"#,
        secret_file.path().display()
    );
    let env = [("ATLAS_CMI_STORE_KEY", "store-key-value"), ("ATLAS_PAYPAL_SECRET", "paypal-secret-value")];
    let s = load_text(&text, &env).unwrap();
    assert!(!s.dev_mode && s.server.require_auth);
    assert_eq!(s.server.public_base_url.as_ref().unwrap().as_str(), "https://pay.example.ma/gw/");
    assert_eq!((s.server.max_message_bytes, s.server.webhook_body_limit), (2048, 4096));
    assert_eq!(s.server.max_concurrent_requests, 8);
    assert_eq!(s.server.provider_timeout, Duration::from_millis(2500));
    assert_eq!(s.idempotency.retention, Duration::from_secs(48 * 3600));
    assert_eq!(s.idempotency.reap_interval, Duration::from_secs(30));
    assert_eq!((s.log.filter.as_str(), s.log.format), ("warn", LogFormat::Json));
    let m = s.merchant(&MerchantId::parse("atlas-shop").unwrap()).unwrap();
    assert_eq!(m.clients.len(), 2);
    assert_eq!(hex::encode(m.clients.first().unwrap().api_key_sha256), HASH_A);
    let cmi = m.providers.cmi.as_ref().unwrap();
    assert_eq!((cmi.store_key.expose(), cmi.api_password.expose()), ("store-key-value", "inline-password"));
    assert_eq!(cmi.callback_reply, CmiCallbackReply::Approved);
    let paypal = m.providers.paypal.as_ref().unwrap();
    assert_eq!(paypal.client_secret.expose(), "paypal-secret-value");
    assert_eq!(paypal.webhook_verification, PaypalVerification::Api);
    let mock = m.providers.mock.as_ref().unwrap();
    assert_eq!(mock.base_url.as_ref().unwrap().as_str(), "http://127.0.0.1:9090/");
    let secrets: Vec<&str> = mock.webhook_secrets.iter().map(Secret::expose).collect();
    assert_eq!(secrets, ["mock-secret-from-file"]);
    assert_eq!(m.providers.enabled(), ProviderKind::ALL.to_vec());

    let debug = format!("{s:?}");
    let described = s.describe();
    for secret in ["store-key-value", "inline-password", "paypal-secret-value", "mock-secret-from-file"] {
        assert!(!debug.contains(secret), "Debug leaks {secret}");
        assert!(!described.contains(secret), "describe() leaks {secret}");
    }
    assert!(described.contains("store_key ***") && described.contains("client_secret ***"), "{described}");
    assert!(described.contains("atlas-shop") && described.contains("checkout"), "{described}");
}

/// A CMI table for the error cases; `extra` replaces or adds keys.
fn with_cmi(extra: &str) -> String {
    format!(
        "[[merchants]]\nid = \"a\"\n[[merchants.clients]]\nname = \"c\"\napi_key_sha256 = \"{HASH_A}\"\n\
         [merchants.providers.cmi]\nclient_id = \"1\"\napi_user = \"u\"\napi_password = \"p\"\n\
         base_url = \"https://cmi.example\"\n{extra}"
    )
}

fn client(name: &str, hash: &str) -> String {
    format!("[[merchants.clients]]\nname = \"{name}\"\napi_key_sha256 = \"{hash}\"\n")
}

#[test]
fn each_invalid_setting_is_reported_with_its_key() {
    let mock = "[merchants.providers.mock]\n";
    let merchant = |id: &str, body: &str| format!("[[merchants]]\nid = \"{id}\"\n{body}");
    let cases: Vec<(&str, String, &[(&str, &str)], &str)> = vec![
        ("bad grpc addr", format!("[server]\ngrpc_addr = \"x\"\n{}", minimal()), &[], "server.grpc_addr: invalid socket address \"x\""),
        ("bad http addr", format!("[server]\nhttp_addr = \"localhost\"\n{}", minimal()), &[], "server.http_addr"),
        ("bad env addr", minimal(), &[("PAYGATE_GRPC_ADDR", "nope")], "PAYGATE_GRPC_ADDR: invalid socket address"),
        ("bad env format", minimal(), &[("PAYGATE_LOG_FORMAT", "xml")], "PAYGATE_LOG_FORMAT"),
        ("bad env db", minimal(), &[("PAYGATE_DATABASE_URL", "mysql://x")], "PAYGATE_DATABASE_URL"),
        ("bad db url", format!("[database]\nurl = \"mysql://db\"\n{}", minimal()), &[], "database.url: must start with"),
        ("empty sqlite path", format!("[database]\nurl = \"sqlite://\"\n{}", minimal()), &[], "database.url"),
        ("bad log filter", format!("[log]\nfilter = \"paygate=loud\"\n{}", minimal()), &[], "log.filter"),
        ("bad log format", format!("[log]\nformat = \"xml\"\n{}", minimal()), &[], "log.format"),
        ("short retention", format!("[idempotency]\nretention_hours = 1\n{}", minimal()), &[], "idempotency.retention_hours"),
        ("zero reap", format!("[idempotency]\nreap_interval_secs = 0\n{}", minimal()), &[], "idempotency.reap_interval_secs"),
        ("zero timeout", format!("[server]\nprovider_timeout_ms = 0\n{}", minimal()), &[], "server.provider_timeout_ms"),
        ("zero body limit", format!("[server]\nwebhook_body_limit = 0\n{}", minimal()), &[], "server.webhook_body_limit"),
        ("negative size", format!("[server]\nmax_message_bytes = -1\n{}", minimal()), &[], "server.max_message_bytes"),
        ("base url not http", format!("[server]\npublic_base_url = \"ftp://x\"\n{}", minimal()), &[], "server.public_base_url"),
        ("base url relative", format!("[server]\npublic_base_url = \"/pay\"\n{}", minimal()), &[], "server.public_base_url"),
        ("unknown top key", format!("[serverr]\n{}", minimal()), &[], "serverr: unknown key"),
        ("unknown nested key", with_cmi("stor_key_env = \"K\"\n"), &[], "merchants[0].providers.cmi.stor_key_env: unknown key"),
        ("unknown provider", format!("{}[merchants.providers.stripe]\n", minimal()), &[], "merchants[0].providers.stripe"),
        ("wrong type", format!("[server]\nrequire_auth = \"yes\"\n{}", minimal()), &[], "server.require_auth"),
        ("no merchants", "[server]\n".to_owned(), &[], "merchants: at least one"),
        ("missing merchant id", format!("[[merchants]]\n{}{mock}", client("c", HASH_A)), &[], "merchants[0].id: required key is missing"),
        ("bad merchant id", merchant("Atlas Shop", &format!("{}{mock}", client("c", HASH_A))), &[], "merchants[0].id: invalid merchant id"),
        ("duplicate merchant", format!("{}{}", minimal(), merchant("a", &format!("{}{mock}", client("c", HASH_B)))), &[], "merchants[1].id: duplicate merchant id \"a\""),
        ("duplicate client name", format!("{}{}", minimal(), client("c", HASH_B)), &[], "merchants[0].clients[1].name: duplicate client name"),
        ("empty client name", merchant("a", &format!("{}{mock}", client(" ", HASH_A))), &[], "merchants[0].clients[0].name"),
        ("short key hash", merchant("a", &format!("{}{mock}", client("c", "abc"))), &[], "merchants[0].clients[0].api_key_sha256: must be 64 hex"),
        ("non-hex key hash", merchant("a", &format!("{}{mock}", client("c", &"zz".repeat(32)))), &[], "merchants[0].clients[0].api_key_sha256"),
        ("key hash reused across merchants", format!("{}{}", minimal(), merchant("b", &format!("{}{mock}", client("c", HASH_A)))), &[], "merchants[1].clients[0].api_key_sha256: the same API key hash"),
        ("auth without clients", merchant("a", mock), &[], "merchants[0].clients: at least one client"),
        ("no provider", merchant("a", &client("c", HASH_A)), &[], "merchants[0].providers: at least one provider"),
        ("cmi secret missing", with_cmi(""), &[], "merchants[0].providers.cmi.store_key: required"),
        ("cmi secret env unset", with_cmi("store_key_env = \"ATLAS_CMI_STORE_KEY\"\n"), &[], "merchants[0].providers.cmi.store_key_env: environment variable ATLAS_CMI_STORE_KEY is not set"),
        ("cmi secret env empty", with_cmi("store_key_env = \"K\"\n"), &[("K", "")], "merchants[0].providers.cmi.store_key_env: environment variable K is empty"),
        ("cmi secret twice", with_cmi("store_key = \"s\"\nstore_key_env = \"K\"\n"), &[("K", "v")], "merchants[0].providers.cmi.store_key: conflicts with merchants[0].providers.cmi.store_key_env"),
        ("cmi secret empty", with_cmi("store_key = \"\"\n"), &[], "merchants[0].providers.cmi.store_key: the secret is empty"),
        ("cmi secret file missing", with_cmi("store_key_file = \"/nonexistent/paygate-key\"\n"), &[], "merchants[0].providers.cmi.store_key_file: cannot read /nonexistent/paygate-key"),
        ("cmi base url", with_cmi("store_key = \"s\"\n").replace("https://cmi.example", "cmi.example"), &[], "merchants[0].providers.cmi.base_url"),
        ("cmi bad reply", with_cmi("store_key = \"s\"\ncallback_reply = \"ok\"\n"), &[], "merchants[0].providers.cmi.callback_reply"),
        ("cmi missing key", with_cmi("store_key = \"s\"\n").replace("api_user = \"u\"\n", ""), &[], "merchants[0].providers.cmi.api_user: required key is missing"),
        ("paypal secret missing", format!("{}[merchants.providers.paypal]\nclient_id = \"x\"\nwebhook_id = \"w\"\nbase_url = \"https://p.example\"\n", minimal()), &[], "merchants[0].providers.paypal.client_secret: required"),
        ("mock base url", format!("{}base_url = \"unix:/tmp/s\"\n", minimal()), &[], "merchants[0].providers.mock.base_url"),
        ("mock secret twice", format!("{}webhook_secret = \"a\"\nwebhook_secret_file = \"/f\"\n", minimal()), &[], "merchants[0].providers.mock.webhook_secret: conflicts with merchants[0].providers.mock.webhook_secret_file"),
    ];
    for (name, text, env, expected) in cases {
        let err = load_text(&text, env).expect_err(name).to_string();
        assert!(err.lines().any(|line| line.starts_with(expected)), "{name}: expected {expected:?} in:\n{err}");
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = format!("[server]\ngrpc_addr = \"x\"\n[database]\nurl = \"x\"\n{}", minimal());
    let err = load_text(&text, &[]).unwrap_err();
    let keys: Vec<&str> = match &err {
        ConfigError::Invalid(problems) => problems.iter().map(|p| p.key.as_str()).collect(),
        other => unreachable!("{other}"),
    };
    assert_eq!(keys, ["server.grpc_addr", "database.url"]);
}

#[test]
fn require_auth_false_allows_merchants_without_clients() {
    let s = load_text("[server]\nrequire_auth = false\n[[merchants]]\nid = \"a\"\n[merchants.providers.mock]\n", &[]).unwrap();
    assert!(!s.server.require_auth && !s.dev_mode);
}

#[test]
fn corrupt_toml_reports_the_line() {
    let err = load_text("[server]\ngrpc_addr = \"127.0.0.1:1\"\nhttp_addr = = 3\n", &[]).unwrap_err().to_string();
    assert!(err.contains("TOML syntax error at line 3"), "{err}");
    assert!(err.starts_with("config file "), "{err}");
}

#[test]
fn missing_file_names_the_path() {
    let err = Settings::load_with_env(Some(Path::new("/nonexistent/paygate.toml")), &env_of(&[])).unwrap_err();
    assert!(err.to_string().starts_with("config file /nonexistent/paygate.toml: cannot read: "), "{err}");
}

#[test]
fn secrets_never_print() {
    let secret = Secret::new("hunter2".to_owned());
    assert_eq!(format!("{secret:?} {secret}"), "*** ***");
    assert_eq!(secret.clone().expose(), "hunter2");
    let text = with_cmi("store_key = \"12345\"\n").replace("api_password = \"p\"", "api_password = 987654");
    let err = load_text(&text, &[]).unwrap_err().to_string();
    assert!(err.contains("merchants[0].providers.cmi.api_password") && !err.contains("987654"), "{err}");
}

#[test]
fn database_password_is_redacted_in_debug_and_describe() {
    let s = Settings::load_with_env(None, &env_of(&[("PAYGATE_DATABASE_URL", "postgres://u:s3cret@db/pg")])).unwrap();
    assert_eq!(s.database.redacted_url(), "postgres://u:***@db/pg");
    assert!(!format!("{s:?}").contains("s3cret"));
    assert!(!s.describe().contains("s3cret"));
    assert!(s.describe().contains("mode: development"));
}

#[test]
fn deploy_local_example_loads() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/config/local.toml"));
    let s = Settings::load_with_env(Some(path), &env_of(&[])).unwrap();
    let m = s.merchant(&MerchantId::parse("atlas-shop").unwrap()).unwrap();
    assert_eq!(m.clients.len(), 1);
    let client = m.clients.first().unwrap();
    assert_eq!(hex::encode(client.api_key_sha256), HASH_A, "sha256 of dev-key-change-me");
    assert!(m.providers.mock.as_ref().unwrap().base_url.is_none());
    assert!(s.database.url.starts_with("sqlite://") && s.server.require_auth);
}

#[test]
fn deploy_production_example_loads_with_its_secrets_set() {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/config/production.toml"));
    let env = [
        ("ATLAS_CMI_STORE_KEY", "k"),
        ("ATLAS_CMI_API_PASSWORD", "p"),
        ("ATLAS_PAYPAL_SECRET", "s"),
        ("ATLAS_MOCK_WEBHOOK_SECRET", "w"),
    ];
    let s = Settings::load_with_env(Some(path), &env_of(&env)).unwrap();
    assert!(s.database.url.starts_with("postgres://"));
    assert_eq!(s.merchants.first().unwrap().providers.enabled().len(), 3);
    let err = Settings::load_with_env(Some(path), &env_of(&[])).unwrap_err().to_string();
    assert!(err.contains("store_key_env: environment variable ATLAS_CMI_STORE_KEY is not set"), "{err}");
}
