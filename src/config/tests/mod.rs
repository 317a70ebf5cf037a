//! Tests for loading settings: defaults, overrides, a full file, every refusal, and secret masking.

use super::*;
use std::collections::HashMap;
use std::io::Write as _;

mod connections;
mod errors;
mod telemetry;
mod webhooks;

const HASH_A: &str = "57c8139db7290a9064aa57837c951138a32df40cca3aca526319f55651368823";
const HASH_B: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
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
    assert_eq!(s.server.mock_processor_addr.to_string(), "127.0.0.1:9090");
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
        ("PAYGATE_MOCK_PROCESSOR_ADDR", "127.0.0.1:0"),
        ("PAYGATE_DATABASE_URL", "postgres://u:pw@db/paygate"),
        ("PAYGATE_LOG", "info,paygate=debug"),
        ("PAYGATE_LOG_FORMAT", "json"),
    ];
    let dev = Settings::load_with_env(None, &env_of(&env)).unwrap();
    let file = load_text(
        &format!("[server]\ngrpc_addr = \"127.0.0.1:1\"\n{}", minimal()),
        &env,
    )
    .unwrap();
    for s in [dev, file] {
        assert_eq!(s.server.grpc_addr.to_string(), "0.0.0.0:0");
        assert_eq!(s.server.http_addr.to_string(), "[::1]:9000");
        assert_eq!(s.server.mock_processor_addr.to_string(), "127.0.0.1:0");
        assert_eq!(s.database.url, "postgres://u:pw@db/paygate");
        assert_eq!(s.log.filter, "info,paygate=debug");
        assert_eq!(s.log.format, LogFormat::Json);
    }
}

#[test]
fn paygate_config_env_names_the_file_and_empty_vars_count_as_unset() {
    let file = toml_file(&minimal());
    let path = file.path().to_str().unwrap();
    let s = Settings::load_with_env(
        None,
        &env_of(&[("PAYGATE_CONFIG", path), ("PAYGATE_LOG", "")]),
    )
    .unwrap();
    assert!(!s.dev_mode);
    assert!(
        s.server.require_auth,
        "auth is on by default with a config file"
    );
    assert_eq!(s.log.filter, "info");
    assert_eq!(
        s.server.mock_processor_addr.port(),
        0,
        "the fixed mock processor port is development mode's alone"
    );
}

#[test]
fn full_file_with_all_providers_and_secrets_from_env_and_file_parses() {
    let mut secret_file = tempfile::NamedTempFile::new().unwrap();
    secret_file
        .write_all(b"whsec_bW9jay1zZWNyZXQtZnJvbS1maWxl\n")
        .unwrap();
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
    let env = [
        ("ATLAS_CMI_STORE_KEY", "store-key-value"),
        ("ATLAS_PAYPAL_SECRET", "paypal-secret-value"),
    ];
    let s = load_text(&text, &env).unwrap();
    assert!(!s.dev_mode && s.server.require_auth);
    assert_eq!(
        s.server.public_base_url.as_ref().unwrap().as_str(),
        "https://pay.example.ma/gw/"
    );
    assert_eq!(
        (s.server.max_message_bytes, s.server.webhook_body_limit),
        (2048, 4096)
    );
    assert_eq!(s.server.max_concurrent_requests, 8);
    assert_eq!(s.server.provider_timeout, Duration::from_millis(2500));
    assert_eq!(s.idempotency.retention, Duration::from_secs(48 * 3600));
    assert_eq!(s.idempotency.reap_interval, Duration::from_secs(30));
    assert_eq!(
        (s.log.filter.as_str(), s.log.format),
        ("warn", LogFormat::Json)
    );
    let m = s
        .merchant(&MerchantId::parse("atlas-shop").unwrap())
        .unwrap();
    assert_eq!(m.clients.len(), 2);
    assert_eq!(
        hex::encode(m.clients.first().unwrap().api_key_sha256),
        HASH_A
    );
    let cmi = m.providers.cmi.as_ref().unwrap();
    assert_eq!(
        (cmi.store_key.expose(), cmi.api_password.expose()),
        ("store-key-value", "inline-password")
    );
    assert_eq!(cmi.callback_reply, CmiCallbackReply::Approved);
    let paypal = m.providers.paypal.as_ref().unwrap();
    assert_eq!(paypal.client_secret.expose(), "paypal-secret-value");
    assert_eq!(paypal.webhook_verification, PaypalVerification::Api);
    let mock = m.providers.mock.as_ref().unwrap();
    assert_eq!(
        mock.base_url.as_ref().unwrap().as_str(),
        "http://127.0.0.1:9090/"
    );
    let secrets: Vec<&str> = mock.webhook_secrets.iter().map(Secret::expose).collect();
    assert_eq!(secrets, ["whsec_bW9jay1zZWNyZXQtZnJvbS1maWxl"]);
    assert_eq!(m.providers.enabled(), ProviderKind::ALL.to_vec());

    let debug = format!("{s:?}");
    let described = s.describe();
    for secret in [
        "store-key-value",
        "inline-password",
        "paypal-secret-value",
        "whsec_bW9jay1zZWNyZXQtZnJvbS1maWxl",
    ] {
        assert!(!debug.contains(secret), "Debug leaks {secret}");
        assert!(!described.contains(secret), "describe() leaks {secret}");
    }
    assert!(
        described.contains("store_key ***") && described.contains("client_secret ***"),
        "{described}"
    );
    assert!(
        described.contains("atlas-shop") && described.contains("checkout"),
        "{described}"
    );
}

#[test]
fn require_auth_false_allows_merchants_without_clients() {
    let s = load_text(
        "[server]\nrequire_auth = false\n[[merchants]]\nid = \"a\"\n[merchants.providers.mock]\n",
        &[],
    )
    .unwrap();
    assert!(!s.server.require_auth && !s.dev_mode);
}

#[test]
fn database_password_is_redacted_in_debug_and_describe() {
    let s = Settings::load_with_env(
        None,
        &env_of(&[("PAYGATE_DATABASE_URL", "postgres://u:s3cret@db/pg")]),
    )
    .unwrap();
    assert_eq!(s.database.redacted_url(), "postgres://u:***@db/pg");
    assert!(!format!("{s:?}").contains("s3cret"));
    assert!(!s.describe().contains("s3cret"));
    assert!(s.describe().contains("mode: development"));
}

#[test]
fn deploy_local_example_loads() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/config/local.toml"
    ));
    let s = Settings::load_with_env(Some(path), &env_of(&[])).unwrap();
    let m = s
        .merchant(&MerchantId::parse("atlas-shop").unwrap())
        .unwrap();
    assert_eq!(m.clients.len(), 1);
    let client = m.clients.first().unwrap();
    assert_eq!(
        hex::encode(client.api_key_sha256),
        HASH_A,
        "sha256 of dev-key-change-me"
    );
    assert!(m.providers.mock.as_ref().unwrap().base_url.is_none());
    assert!(s.database.url.starts_with("sqlite://") && s.server.require_auth);
}

/// deploy/compose.yaml mounts this file into both replicas and sets these variables.
#[test]
fn deploy_compose_example_loads_with_its_secrets_set() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/config/compose.toml"
    ));
    let env = [
        (
            "PAYGATE_DATABASE_URL",
            "postgres://paygate:pw@postgres:5432/paygate",
        ),
        ("ATLAS_MOCK_WEBHOOK_SECRET", "whsec_dGVzdA=="),
    ];
    let s = Settings::load_with_env(Some(path), &env_of(&env)).unwrap();
    assert_eq!(
        s.database.redacted_url(),
        "postgres://paygate:***@postgres:5432/paygate"
    );
    assert!(s.server.require_auth && !s.dev_mode);
    assert_eq!(s.server.http_addr.to_string(), "0.0.0.0:8080");
    let m = s.merchants.first().unwrap();
    let mock = m.providers.mock.as_ref().unwrap();
    assert_eq!(
        mock.base_url.as_ref().map(|u| u.as_str()),
        Some("http://mock-processor:9090/"),
        "both replicas must share the external mock processor"
    );
    assert_eq!(
        hex::encode(m.clients.first().unwrap().api_key_sha256),
        HASH_A
    );
}

#[test]
fn deploy_production_example_loads_with_its_secrets_set() {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/config/production.toml"
    ));
    let env = [
        ("ATLAS_CMI_STORE_KEY", "k"),
        ("ATLAS_CMI_API_PASSWORD", "p"),
        ("ATLAS_PAYPAL_SECRET", "s"),
        ("ATLAS_MOCK_WEBHOOK_SECRET", "whsec_dGVzdA=="),
    ];
    let s = Settings::load_with_env(Some(path), &env_of(&env)).unwrap();
    assert!(s.database.url.starts_with("postgres://"));
    assert_eq!(s.merchants.first().unwrap().providers.enabled().len(), 3);
    let err = Settings::load_with_env(Some(path), &env_of(&[]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("store_key_env: environment variable ATLAS_CMI_STORE_KEY is not set"),
        "{err}"
    );
}

#[test]
fn a_rotation_lists_the_current_then_the_previous_webhook_secret() {
    let text = r#"
[server]
require_auth = false
[[merchants]]
id = "shop"
  [merchants.providers.mock]
  webhook_secret = "whsec_bmV3LXNlY3JldA=="
  previous_webhook_secret_env = "OLD_SECRET"
"#;
    let s = load_text(text, &[("OLD_SECRET", "whsec_b2xkLXNlY3JldA==")]).unwrap();
    let mock = s
        .merchants
        .first()
        .unwrap()
        .providers
        .mock
        .as_ref()
        .unwrap();
    let secrets: Vec<&str> = mock.webhook_secrets.iter().map(Secret::expose).collect();
    assert_eq!(
        secrets,
        ["whsec_bmV3LXNlY3JldA==", "whsec_b2xkLXNlY3JldA=="]
    );
    assert!(!s.describe().contains("whsec_b2xkLXNlY3JldA=="));

    let only_previous = r#"
[server]
require_auth = false
[[merchants]]
id = "shop"
  [merchants.providers.mock]
  previous_webhook_secret = "whsec_b2xkLXNlY3JldA=="
"#;
    let err = load_text(only_previous, &[]).unwrap_err().to_string();
    assert!(
        err.contains("merchants[0].providers.mock.previous_webhook_secret"),
        "{err}"
    );
}

#[test]
fn a_merchant_names_its_shop_for_the_customer_pages() {
    let text = minimal().replace(
        "id = \"a\"\n",
        "id = \"a\"\ndisplay_name = \" Atlas Shop \"\nshop_url = \"https://atlas.example.ma/boutique\"\n",
    );
    let s = load_text(&text, &[]).unwrap();
    let shop = &s.merchants.first().unwrap().storefront;
    assert_eq!(shop.display_name.as_deref(), Some("Atlas Shop"));
    assert_eq!(
        shop.shop_url.as_ref().map(|u| u.as_str()),
        Some("https://atlas.example.ma/boutique")
    );
    assert!(s.describe().contains("display_name: \"Atlas Shop\""));

    let bad = minimal().replace(
        "id = \"a\"\n",
        "id = \"a\"\nshop_url = \"atlas.example.ma\"\n",
    );
    let error = load_text(&bad, &[]).unwrap_err().to_string();
    assert!(error.contains("merchants[0].shop_url"), "{error}");
}
