//! Every refusal: each bad value, shape or secret yields a message that starts with its key path.

use super::*;

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

/// One refused configuration: the file, the environment, and how the message must begin.
struct Case {
    name: &'static str,
    text: String,
    env: &'static [(&'static str, &'static str)],
    expected: &'static str,
}

fn case(name: &'static str, text: String, expected: &'static str) -> Case {
    Case {
        name,
        text,
        env: &[],
        expected,
    }
}

fn with_env(
    name: &'static str,
    text: String,
    env: &'static [(&'static str, &'static str)],
    expected: &'static str,
) -> Case {
    Case {
        name,
        text,
        env,
        expected,
    }
}

/// Prepends a section to the minimal valid file.
fn before_minimal(section: &str) -> String {
    format!("{section}\n{}", minimal())
}

fn merchant(id: &str, body: &str) -> String {
    format!("[[merchants]]\nid = \"{id}\"\n{body}")
}

const MOCK: &str = "[merchants.providers.mock]\n";

// A table reads best one case per line, so rustfmt is told to leave it alone.
#[rustfmt::skip]
fn cases() -> Vec<Case> {
    let a_client = format!("{}{MOCK}", client("c", HASH_A));
    let paypal = "[merchants.providers.paypal]\nclient_id = \"x\"\nwebhook_id = \"w\"\nbase_url = \"https://p.example\"\n";
    vec![
        case("bad grpc addr", before_minimal("[server]\ngrpc_addr = \"x\""), "server.grpc_addr: invalid socket address \"x\""),
        case("bad http addr", before_minimal("[server]\nhttp_addr = \"localhost\""), "server.http_addr: invalid socket address"),
        with_env("bad env addr", minimal(), &[("PAYGATE_GRPC_ADDR", "nope")], "PAYGATE_GRPC_ADDR: invalid socket address"),
        with_env("bad env format", minimal(), &[("PAYGATE_LOG_FORMAT", "xml")], "PAYGATE_LOG_FORMAT: must be"),
        with_env("bad env db", minimal(), &[("PAYGATE_DATABASE_URL", "mysql://x")], "PAYGATE_DATABASE_URL: must start with"),
        with_env("bad env filter", minimal(), &[("PAYGATE_LOG", "x=loud")], "PAYGATE_LOG: invalid log filter"),
        case("bad db url", before_minimal("[database]\nurl = \"mysql://db\""), "database.url: must start with"),
        case("empty sqlite path", before_minimal("[database]\nurl = \"sqlite://\""), "database.url: is missing"),
        case("bad log filter", before_minimal("[log]\nfilter = \"paygate=loud\""), "log.filter: invalid log filter"),
        case("bad log format", before_minimal("[log]\nformat = \"xml\""), "log.format: unknown value \"xml\""),
        case("short retention", before_minimal("[idempotency]\nretention_hours = 1"), "idempotency.retention_hours: must be at least 24"),
        case("zero reap", before_minimal("[idempotency]\nreap_interval_secs = 0"), "idempotency.reap_interval_secs: must be at least 1"),
        case("zero timeout", before_minimal("[server]\nprovider_timeout_ms = 0"), "server.provider_timeout_ms: must be at least 1"),
        case("zero body limit", before_minimal("[server]\nwebhook_body_limit = 0"), "server.webhook_body_limit: must be at least 1"),
        case("zero concurrency", before_minimal("[server]\nmax_concurrent_requests = 0"), "server.max_concurrent_requests"),
        case("negative size", before_minimal("[server]\nmax_message_bytes = -1"), "server.max_message_bytes: invalid value"),
        case("base url not http", before_minimal("[server]\npublic_base_url = \"ftp://x\""), "server.public_base_url: must be an absolute"),
        case("base url relative", before_minimal("[server]\npublic_base_url = \"/pay\""), "server.public_base_url: invalid URL"),
        case("base url credentials", before_minimal("[server]\npublic_base_url = \"https://u:p@x\""), "server.public_base_url: must not contain"),
        case("unknown top key", before_minimal("[serverr]"), "serverr: unknown key"),
        case("unknown nested key", with_cmi("stor_key_env = \"K\"\n"), "merchants[0].providers.cmi.stor_key_env: unknown key"),
        case("unknown provider", format!("{}[merchants.providers.stripe]\n", minimal()), "merchants[0].providers.stripe: unknown key"),
        case("wrong type", before_minimal("[server]\nrequire_auth = \"yes\""), "server.require_auth: invalid type"),
        case("no merchants", "[server]\n".to_owned(), "merchants: at least one"),
        case("missing merchant id", format!("[[merchants]]\n{a_client}"), "merchants[0].id: required key is missing"),
        case("bad merchant id", merchant("Atlas Shop", &a_client), "merchants[0].id: invalid merchant id"),
        case("duplicate merchant", format!("{}{}", minimal(), merchant("a", &format!("{}{MOCK}", client("c", HASH_B)))), "merchants[1].id: duplicate merchant id \"a\""),
        case("duplicate client name", format!("{}{}", minimal(), client("c", HASH_B)), "merchants[0].clients[1].name: duplicate client name"),
        case("empty client name", merchant("a", &format!("{}{MOCK}", client(" ", HASH_A))), "merchants[0].clients[0].name: must not be empty"),
        case("short key hash", merchant("a", &format!("{}{MOCK}", client("c", "abc"))), "merchants[0].clients[0].api_key_sha256: must be 64 hex"),
        case("non-hex key hash", merchant("a", &format!("{}{MOCK}", client("c", &"zz".repeat(32)))), "merchants[0].clients[0].api_key_sha256: must be 64 hex"),
        case("key hash reused", format!("{}{}", minimal(), merchant("b", &a_client)), "merchants[1].clients[0].api_key_sha256: the same API key hash"),
        case("auth without clients", merchant("a", MOCK), "merchants[0].clients: at least one client"),
        case("no provider", merchant("a", &client("c", HASH_A)), "merchants[0].providers: at least one provider"),
        case("cmi secret missing", with_cmi(""), "merchants[0].providers.cmi.store_key: required"),
        case("cmi secret env unset", with_cmi("store_key_env = \"ATLAS_CMI_STORE_KEY\"\n"), "merchants[0].providers.cmi.store_key_env: environment variable ATLAS_CMI_STORE_KEY is not set"),
        with_env("cmi secret env empty", with_cmi("store_key_env = \"K\"\n"), &[("K", "")], "merchants[0].providers.cmi.store_key_env: environment variable K is empty"),
        with_env("cmi secret twice", with_cmi("store_key = \"s\"\nstore_key_env = \"K\"\n"), &[("K", "v")], "merchants[0].providers.cmi.store_key: conflicts with merchants[0].providers.cmi.store_key_env"),
        case("cmi secret empty", with_cmi("store_key = \"\"\n"), "merchants[0].providers.cmi.store_key: the secret is empty"),
        case("cmi secret file missing", with_cmi("store_key_file = \"/nonexistent/paygate-key\"\n"), "merchants[0].providers.cmi.store_key_file: cannot read /nonexistent/paygate-key"),
        case("cmi base url", with_cmi("store_key = \"s\"\n").replace("https://cmi.example", "cmi.example"), "merchants[0].providers.cmi.base_url: invalid URL"),
        case("cmi bad reply", with_cmi("store_key = \"s\"\ncallback_reply = \"ok\"\n"), "merchants[0].providers.cmi.callback_reply: unknown value"),
        case("cmi missing key", with_cmi("store_key = \"s\"\n").replace("api_user = \"u\"\n", ""), "merchants[0].providers.cmi.api_user: required key is missing"),
        case("cmi empty client id", with_cmi("store_key = \"s\"\n").replace("client_id = \"1\"", "client_id = \"\""), "merchants[0].providers.cmi.client_id: must not be empty"),
        case("paypal secret missing", format!("{}{paypal}", minimal()), "merchants[0].providers.paypal.client_secret: required"),
        case("paypal bad verification", format!("{}{paypal}client_secret = \"s\"\nwebhook_verification = \"none\"\n", minimal()), "merchants[0].providers.paypal.webhook_verification: unknown value"),
        case("mock base url", format!("{}base_url = \"unix:/tmp/s\"\n", minimal()), "merchants[0].providers.mock.base_url: must be an absolute"),
        case("mock secret not whsec", format!("{}webhook_secret = \"hunter2\"\n", minimal()), "merchants[0].providers.mock.webhook_secret: webhook secret"),
        case("mock secret not base64", format!("{}webhook_secret = \"whsec_notbase64!!\"\n", minimal()), "merchants[0].providers.mock.webhook_secret: webhook secret"),
        case("mock previous secret bad", format!("{}webhook_secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\nprevious_webhook_secret = \"old\"\n", minimal()), "merchants[0].providers.mock.previous_webhook_secret: webhook secret"),
        case("open access, two merchants", format!("[server]\nrequire_auth = false\n{}{}", merchant("a", MOCK), merchant("b", MOCK)), "server.require_auth: is false with 2 merchants"),
        case("missing client key hash", merchant("a", &format!("[[merchants.clients]]\nname = \"c\"\n{MOCK}")), "merchants[0].clients[0].api_key_sha256: required key is missing"),
        case("mock secret twice", format!("{}webhook_secret = \"a\"\nwebhook_secret_file = \"/f\"\n", minimal()), "merchants[0].providers.mock.webhook_secret: conflicts with merchants[0].providers.mock.webhook_secret_file"),
    ]
}

#[test]
fn each_invalid_setting_is_reported_with_its_key() {
    for Case {
        name,
        text,
        env,
        expected,
    } in cases()
    {
        let err = load_text(&text, env).expect_err(name).to_string();
        let found = err.lines().any(|line| line.starts_with(expected));
        assert!(
            found,
            "{name}: expected a line starting {expected:?} in:\n{err}"
        );
    }
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = format!(
        "[server]\ngrpc_addr = \"x\"\n[database]\nurl = \"x\"\n{}",
        minimal()
    );
    let err = load_text(&text, &[]).unwrap_err();
    let keys: Vec<&str> = match &err {
        ConfigError::Invalid(problems) => problems.iter().map(|p| p.key.as_str()).collect(),
        other => unreachable!("{other}"),
    };
    assert_eq!(keys, ["server.grpc_addr", "database.url"]);
}

/// A missing required key used to be a shape error that stopped loading, hiding every later
/// problem (here a bad PayPal `base_url` and a malformed mock secret).
#[test]
fn a_missing_key_does_not_hide_the_other_problems() {
    let text = format!(
        "{}webhook_secret = \"hunter2\"\n[merchants.providers.paypal]\nclient_id = \"x\"\n\
         client_secret = \"s\"\nbase_url = \"ftp://nope\"\n[[merchants]]\n{}{MOCK}",
        minimal(),
        client("d", HASH_B)
    );
    let err = load_text(&text, &[]).unwrap_err();
    let keys: Vec<&str> = match &err {
        ConfigError::Invalid(problems) => problems.iter().map(|p| p.key.as_str()).collect(),
        other => unreachable!("{other}"),
    };
    assert_eq!(
        keys,
        [
            "merchants[0].providers.mock.webhook_secret",
            "merchants[0].providers.paypal.webhook_id",
            "merchants[0].providers.paypal.base_url",
            "merchants[1].id",
        ]
    );
}

#[test]
fn risky_but_legal_settings_are_warnings_with_their_keys() {
    let zeros = format!("{}1", "0".repeat(63));
    let text = format!(
        "[[merchants]]\nid = \"a\"\n{}{}[merchants.providers.mock]\nbase_url = \"http://127.0.0.1:9090\"\n",
        client("c", HASH_A),
        client("d", &zeros)
    );
    let settings = load_text(&text, &[]).expect("legal");
    let warnings: Vec<String> = settings
        .warnings()
        .iter()
        .map(ToString::to_string)
        .collect();
    let starts = [
        "merchants[0].providers.mock.webhook_secret: not set, with an external mock processor",
        "merchants[0].clients[0].api_key_sha256: is the SHA-256 of the example key \"dev-key-change-me\"",
        "merchants[0].clients[1].api_key_sha256: looks like a placeholder",
    ];
    assert_eq!(warnings.len(), starts.len(), "{warnings:#?}");
    for (warning, start) in warnings.iter().zip(starts) {
        assert!(
            warning.starts_with(start),
            "{warning:?} should start {start:?}"
        );
    }
    // A real hash and a configured secret: nothing to warn about.
    let clean = format!(
        "[[merchants]]\nid = \"a\"\n{}[merchants.providers.mock]\nbase_url = \"http://127.0.0.1:9090\"\n\
         webhook_secret = \"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\"\n",
        client(
            "c",
            "887091cc80e1e6bf839969ea1d1bf9c5d6c89b8a7ec5a80ac5313109f01e2a3f"
        )
    );
    assert!(load_text(&clean, &[]).expect("legal").warnings().is_empty());
}

#[test]
fn settings_built_in_code_with_open_access_and_two_merchants_cannot_run() {
    let mut settings = Settings::development();
    assert!(settings.check_runnable().is_ok());
    let second = settings.merchants.first().cloned().unwrap();
    settings.merchants.push(second);
    let problem = settings.check_runnable().unwrap_err();
    assert_eq!(problem.key, "server.require_auth");
}

#[test]
fn corrupt_toml_reports_the_line() {
    let err = load_text(
        "[server]\ngrpc_addr = \"127.0.0.1:1\"\nhttp_addr = = 3\n",
        &[],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("TOML syntax error at line 3"), "{err}");
    assert!(err.starts_with("config file "), "{err}");
}

#[test]
fn missing_file_names_the_path() {
    let err = Settings::load_with_env(Some(Path::new("/nonexistent/paygate.toml")), &env_of(&[]))
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("config file /nonexistent/paygate.toml: cannot read: "),
        "{err}"
    );
}

#[test]
fn secrets_never_print() {
    let secret = Secret::new("hunter2".to_owned());
    assert_eq!(format!("{secret:?} {secret}"), "*** ***");
    assert_eq!(secret.clone().expose(), "hunter2");
    let text = with_cmi("store_key = \"12345\"\n")
        .replace("api_password = \"p\"", "api_password = 987654");
    let err = load_text(&text, &[]).unwrap_err().to_string();
    assert!(
        err.contains("merchants[0].providers.cmi.api_password") && !err.contains("987654"),
        "{err}"
    );
}

/// The container image sets `PAYGATE_GRPC_ADDR=0.0.0.0:50051`: run with no config file, that
/// must not open development mode (no API keys) to the network without an explicit opt-in.
#[test]
fn an_api_without_keys_beyond_loopback_needs_an_explicit_opt_in() {
    let image = [("PAYGATE_GRPC_ADDR", "0.0.0.0:50051")];
    let dev = Settings::load_with_env(None, &env_of(&image)).expect("loads");
    assert!(dev.dev_mode);
    let problem = dev.check_runnable().unwrap_err();
    assert_eq!(problem.key, "server.grpc_addr");
    assert!(
        problem.message.contains("PAYGATE_DEV_ALLOW_REMOTE=1"),
        "{problem}"
    );

    let opted_in = [image[0], ("PAYGATE_DEV_ALLOW_REMOTE", "1")];
    let dev = Settings::load_with_env(None, &env_of(&opted_in)).expect("loads");
    assert!(dev.check_runnable().is_ok());

    // Loopback needs nothing; neither does a file that requires keys, on any address.
    let local = Settings::load_with_env(None, &env_of(&[])).expect("loads");
    assert!(local.check_runnable().is_ok());
    let file = load_text(&minimal(), &image).expect("loads");
    assert!(file.server.require_auth);
    assert!(file.check_runnable().is_ok());

    // A file that turns keys off is held to the same rule.
    let open = format!("[server]\nrequire_auth = false\n{}", minimal());
    let problem = load_text(&open, &image)
        .unwrap()
        .check_runnable()
        .unwrap_err();
    assert_eq!(problem.key, "server.grpc_addr");

    let bad = Settings::load_with_env(None, &env_of(&[("PAYGATE_DEV_ALLOW_REMOTE", "yes")]));
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("PAYGATE_DEV_ALLOW_REMOTE")
    );
}
