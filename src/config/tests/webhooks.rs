//! `[webhooks]` and `[[merchants.webhook_endpoints]]`: defaults, a full table, derived ids,
//! and every refusal under its key, all reported at once.
#![allow(clippy::panic, clippy::indexing_slicing)]

use super::*;
use sha2::Digest as _;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const OLD: &str = "whsec_dGhlIG9sZCBzZWNyZXQgYmVpbmcgcm90YXRlZA==";

/// The minimal file with one endpoint table appended; `body` holds its keys.
fn with_endpoint(body: &str) -> String {
    format!("{}[[merchants.webhook_endpoints]]\n{body}", minimal())
}

fn endpoint_at(url: &str, extra: &str) -> String {
    format!("url = \"{url}\"\nsecret = \"{SECRET}\"\n{extra}")
}

fn problems(text: &str, env: &[(&str, &str)]) -> Vec<String> {
    match load_text(text, env) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(err) => err.to_string().lines().map(str::to_owned).collect(),
    }
}

#[test]
fn defaults_without_a_webhooks_table() {
    let s = load_text(&minimal(), &[]).unwrap();
    let d = &s.webhooks;
    let secs: Vec<u64> = d.retry_schedule.iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    assert_eq!(d.timeout, Duration::from_secs(10));
    assert_eq!(d.max_response_bytes, 65536);
    assert_eq!(d.lease, Duration::from_secs(60));
    assert_eq!(d.log_retention, Duration::from_secs(720 * 3600));
    assert!(s.merchants[0].webhook_endpoints.is_empty());
}

#[test]
fn a_full_table_and_endpoint_are_read() {
    let text = format!(
        "[webhooks]\nretry_schedule_secs = [0, 1, 2]\ntimeout_secs = 3\nmax_response_bytes = 1024\n\
         lease_secs = 30\nlog_retention_hours = 48\n{}",
        with_endpoint(&format!(
            "id = \"orders\"\nurl = \"https://shop.example/paygate/hooks?token=t\"\nsecret_env = \"HOOK_SECRET\"\n\
             previous_secret = \"{OLD}\"\nevents = [\"payment.captured\", \"payment.refunded\"]\n\
             allow_private = true\nmax_concurrent = 2\n"
        ))
    );
    let s = load_text(&text, &[("HOOK_SECRET", SECRET)]).unwrap();
    let d = &s.webhooks;
    assert_eq!(d.retry_schedule, [0, 1, 2].map(Duration::from_secs));
    assert_eq!(d.timeout, Duration::from_secs(3));
    assert_eq!(d.max_response_bytes, 1024);
    assert_eq!(d.lease, Duration::from_secs(30));
    assert_eq!(d.log_retention, Duration::from_secs(48 * 3600));
    let e = &s.merchants[0].webhook_endpoints[0];
    assert_eq!(e.id, "orders");
    assert_eq!(e.merchant.as_str(), "a");
    assert_eq!(e.url.as_str(), "https://shop.example/paygate/hooks?token=t");
    assert_eq!(e.secrets.len(), 2, "current and previous");
    assert_eq!(e.events, ["payment.captured", "payment.refunded"]);
    assert!(!e.allow_loopback && e.allow_private);
    assert_eq!(e.max_concurrent, 2);

    // The current secret signs first; each one is the configured key.
    let sig = crate::standard_webhooks::sign(&e.secrets, "msg_1", 1, b"{}");
    let expect = |secret| {
        crate::standard_webhooks::sign(
            &[crate::standard_webhooks::WebhookSecret::parse(secret).unwrap()],
            "msg_1",
            1,
            b"{}",
        )
    };
    assert_eq!(sig, format!("{} {}", expect(SECRET), expect(OLD)));

    // check-config's summary: no query, no secret.
    let described = s.describe();
    assert!(
        described.contains("webhook endpoint orders: https://shop.example/paygate/hooks?***, events payment.captured, payment.refunded, secret ***, ***, 2 concurrent, allow_private"),
        "{described}"
    );
    assert!(described.contains("webhooks: retry schedule [0, 1, 2] s, timeout 3 s"));
    assert!(!described.contains("token=t") && !described.contains(SECRET));
}

#[test]
fn an_endpoint_without_id_gets_a_stable_derived_one() {
    let url = "https://shop.example/hooks";
    let s = load_text(&with_endpoint(&endpoint_at(url, "")), &[]).unwrap();
    let e = &s.merchants[0].webhook_endpoints[0];
    // "we_" + the first 12 hex digits of sha256("a\nhttps://shop.example/hooks").
    let digest = hex::encode(sha2::Sha256::digest(format!("a\n{url}").as_bytes()));
    assert_eq!(e.id, format!("we_{}", &digest[..12]));
    assert!(e.events.is_empty(), "all events");
    assert_eq!(e.max_concurrent, 8);
    assert_eq!(e.secrets.len(), 1);
    let again = load_text(&with_endpoint(&endpoint_at(url, "")), &[]).unwrap();
    assert_eq!(again.merchants[0].webhook_endpoints[0].id, e.id);
}

#[test]
fn loopback_http_is_accepted_with_the_flag_and_warned_about_on_postgres() {
    let text = with_endpoint(&endpoint_at(
        "http://127.0.0.1:3000/hooks",
        "allow_loopback = true\n",
    ));
    let s = load_text(&text, &[]).unwrap();
    assert!(
        s.warnings()
            .iter()
            .all(|w| !w.key.contains("allow_loopback"))
    );
    let on_postgres = format!("[database]\nurl = \"postgres://db/paygate\"\n{text}");
    let s = load_text(&on_postgres, &[]).unwrap();
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.key == "merchants[0].webhook_endpoints[0].allow_loopback"),
        "{:?}",
        s.warnings()
    );
    let public = with_endpoint(&endpoint_at(
        "https://shop.example/",
        "allow_loopback = true\n",
    ));
    let s = load_text(&public, &[]).unwrap();
    assert!(
        s.warnings()
            .iter()
            .any(|w| w.key.ends_with("allow_loopback"))
    );
}

// One case per line reads best, so rustfmt leaves the table alone.
#[rustfmt::skip]
#[test]
fn each_bad_value_is_refused_with_its_key() {
    let at = "merchants[0].webhook_endpoints[0]";
    let cases: Vec<(&str, String, String)> = vec![
        ("http url", with_endpoint(&endpoint_at("http://shop.example/h", "")), format!("{at}.url: plain http:// is allowed only to a loopback host")),
        ("http loopback without flag", with_endpoint(&endpoint_at("http://127.0.0.1:3000/", "")), format!("{at}.url: plain http://")),
        ("credentials", with_endpoint(&endpoint_at("https://u:p@shop.example/", "")), format!("{at}.url: must not contain a user name or password")),
        ("fragment", with_endpoint(&endpoint_at("https://shop.example/#x", "")), format!("{at}.url: must not contain a #fragment")),
        ("private literal", with_endpoint(&endpoint_at("https://10.0.0.1/", "")), format!("{at}.url: address 10.0.0.1 is private (allow_private = true allows it)")),
        ("metadata literal", with_endpoint(&endpoint_at("https://169.254.169.254/", "allow_private = true\nallow_loopback = true\n")), format!("{at}.url: address 169.254.169.254 is link-local")),
        ("loopback literal", with_endpoint(&endpoint_at("https://127.0.0.1/", "")), format!("{at}.url: address 127.0.0.1 is loopback")),
        ("not a url", with_endpoint(&endpoint_at("shop.example/hooks", "")), format!("{at}.url: invalid URL")),
        ("missing url", with_endpoint(&format!("secret = \"{SECRET}\"\n")), format!("{at}.url: required key is missing")),
        ("missing secret", with_endpoint("url = \"https://shop.example/\"\n"), format!("{at}.secret: required: set secret_env, secret_file or secret")),
        ("secret not whsec", with_endpoint("url = \"https://shop.example/\"\nsecret = \"hunter2\"\n"), format!("{at}.secret: webhook secret is not padded standard Base64")),
        ("secret empty", with_endpoint("url = \"https://shop.example/\"\nsecret = \"whsec_\"\n"), format!("{at}.secret: webhook secret is empty")),
        ("previous secret bad", with_endpoint(&endpoint_at("https://shop.example/", "previous_secret = \"old!\"\n")), format!("{at}.previous_secret: webhook secret")),
        ("secret twice", with_endpoint(&endpoint_at("https://shop.example/", "secret_env = \"X\"\n")), format!("{at}.secret: conflicts with {at}.secret_env")),
        ("unknown event", with_endpoint(&endpoint_at("https://shop.example/", "events = [\"payment.captured\", \"payment.exploded\"]\n")), format!("{at}.events[1]: unknown event type \"payment.exploded\" (expected one of: payment.requires_action,")),
        ("empty events", with_endpoint(&endpoint_at("https://shop.example/", "events = []\n")), format!("{at}.events: is empty")),
        ("zero concurrency", with_endpoint(&endpoint_at("https://shop.example/", "max_concurrent = 0\n")), format!("{at}.max_concurrent: must be at least 1")),
        ("bad id", with_endpoint(&endpoint_at("https://shop.example/", "id = \"a b\"\n")), format!("{at}.id: must be 1 to 64")),
        ("unknown key", with_endpoint(&endpoint_at("https://shop.example/", "allow_everything = true\n")), format!("{at}.allow_everything: unknown key")),
        ("duplicate id", format!("{}[[merchants.webhook_endpoints]]\n{}", with_endpoint(&endpoint_at("https://a.example/", "id = \"x\"\n")), endpoint_at("https://b.example/", "id = \"x\"\n")), "merchants[0].webhook_endpoints[1].id: duplicate endpoint id \"x\" (first at merchants[0].webhook_endpoints[0].id".to_owned()),
        ("same id in two merchants", format!("{}[[merchants]]\nid = \"b\"\n[[merchants.clients]]\nname = \"c\"\napi_key_sha256 = \"{HASH_B}\"\n[merchants.providers.mock]\n[[merchants.webhook_endpoints]]\n{}", with_endpoint(&endpoint_at("https://a.example/", "id = \"orders\"\n")), endpoint_at("https://b.example/", "id = \"orders\"\n")), "merchants[1].webhook_endpoints[0].id: duplicate endpoint id \"orders\" (first at merchants[0].webhook_endpoints[0].id".to_owned()),
        ("duplicate derived id", format!("{}[[merchants.webhook_endpoints]]\n{}", with_endpoint(&endpoint_at("https://a.example/", "")), endpoint_at("https://a.example/", "")), "merchants[0].webhook_endpoints[1].id: duplicate endpoint id".to_owned()),
        ("empty schedule", before_minimal("[webhooks]\nretry_schedule_secs = []"), "webhooks.retry_schedule_secs: must list at least one attempt".to_owned()),
        ("zero timeout", before_minimal("[webhooks]\ntimeout_secs = 0"), "webhooks.timeout_secs: must be at least 1".to_owned()),
        ("zero response bytes", before_minimal("[webhooks]\nmax_response_bytes = 0"), "webhooks.max_response_bytes: must be at least 1".to_owned()),
        ("lease within timeout", before_minimal("[webhooks]\ntimeout_secs = 10\nlease_secs = 10"), "webhooks.lease_secs: must be longer than webhooks.timeout_secs (10 s)".to_owned()),
        ("zero retention", before_minimal("[webhooks]\nlog_retention_hours = 0"), "webhooks.log_retention_hours: must be at least 1".to_owned()),
        ("unknown webhooks key", before_minimal("[webhooks]\nretries = 3"), "webhooks.retries: unknown key".to_owned()),
    ];
    for (name, text, expected) in cases {
        let lines = problems(&text, &[]);
        assert!(
            lines.iter().any(|line| line.starts_with(&expected)),
            "{name}: expected a line starting {expected:?} in:\n{lines:#?}"
        );
    }
}

#[test]
fn every_problem_is_reported_at_once_and_no_secret_or_query_is_quoted() {
    let text = format!(
        "[webhooks]\nretry_schedule_secs = []\n{}[[merchants.webhook_endpoints]]\n\
         url = \"http://shop.example/h?token=tok123\"\nsecret = \"whsec_hunter2!!\"\nevents = [\"payment.nope\"]\nmax_concurrent = 0\n",
        minimal()
    );
    let lines = problems(&text, &[]);
    let at = "merchants[0].webhook_endpoints[0]";
    for key in [
        "webhooks.retry_schedule_secs:".to_owned(),
        format!("{at}.url:"),
        format!("{at}.secret:"),
        format!("{at}.events[0]:"),
        format!("{at}.max_concurrent:"),
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(&key)),
            "{key} in {lines:#?}"
        );
    }
    let all = lines.join("\n");
    assert!(!all.contains("hunter2") && !all.contains("tok123"), "{all}");
}

/// Prepends a section to the minimal valid file.
fn before_minimal(section: &str) -> String {
    format!("{section}\n{}", minimal())
}

/// The README's example under "### Configuring endpoints" loads as written (with a client and
/// a provider added, and its secrets set), so the documentation cannot drift from the parser.
#[test]
fn the_readme_example_loads() {
    let readme = include_str!("../../../README.md");
    let section = readme
        .split("### Configuring endpoints")
        .nth(1)
        .expect("the README section");
    let example = section
        .split("```toml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a toml block");
    let text = format!(
        "{example}  [[merchants.clients]]\n  name = \"c\"\n  api_key_sha256 = \"{HASH_A}\"\n  [merchants.providers.mock]\n"
    );
    let env = [
        ("ATLAS_SHOP_WEBHOOK_SECRET", SECRET),
        ("ATLAS_SHOP_WEBHOOK_SECRET_OLD", OLD),
    ];
    let s = load_text(&text, &env).unwrap();
    let e = &s.merchants[0].webhook_endpoints[0];
    assert_eq!(e.id, "orders");
    assert_eq!(e.secrets.len(), 2);
    assert_eq!(s.webhooks.retry_schedule.len(), 8);
}
