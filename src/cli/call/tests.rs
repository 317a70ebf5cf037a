use super::*;
use clap::Parser;
use tonic::service::Interceptor;

#[derive(clap::Parser, Debug)]
struct TestCli {
    #[command(flatten)]
    call: CallArgs,
}

fn parse(args: &[&str]) -> CallArgs {
    let argv = std::iter::once("call").chain(args.iter().copied());
    TestCli::try_parse_from(argv).unwrap().call
}

fn build(args: &[&str]) -> Result<Call, UsageError> {
    Call::build(parse(args).command)
}

#[test]
fn the_command_line_is_consistent() {
    <TestCli as clap::CommandFactory>::command().debug_assert();
}

#[test]
fn authorize_converts_the_amount_exactly() {
    let Call::Unary(Unary::Authorize(r)) = build(&[
        "authorize",
        "--amount",
        "100.5",
        "--metadata",
        "cart=17",
        "--metadata",
        "a=b=c",
    ])
    .unwrap() else {
        panic!("not an authorize");
    };
    assert_eq!(
        r.amount,
        Some(proto::Money {
            currency: "MAD".into(),
            minor_units: 10050
        })
    );
    assert_eq!(r.provider, "mock");
    assert_eq!(r.capture_mode, i32::from(proto::CaptureMode::Manual));
    assert_eq!(r.metadata.get("a").map(String::as_str), Some("b=c"));
    assert_eq!(r.metadata.get("cart").map(String::as_str), Some("17"));
    assert!(
        uuid::Uuid::parse_str(&r.idempotency_key).is_ok(),
        "fresh uuid key"
    );
}

#[test]
fn amounts_the_currency_cannot_hold_are_usage_errors() {
    let jpy = build(&["authorize", "--amount", "1.5", "--currency", "JPY"]);
    assert!(matches!(jpy, Err(UsageError::Amount(_))));
    let lower = build(&["capture", "p1", "--amount", "1.00", "--currency", "mad"]);
    assert!(matches!(lower, Err(UsageError::Currency(_))));
    assert!(matches!(
        build(&["refund", "p1", "--amount", "abc"]),
        Err(UsageError::Amount(_))
    ));
}

#[test]
fn capture_without_amount_captures_everything() {
    let Call::Unary(Unary::Capture(r)) =
        build(&["capture", "p1", "--final", "--idempotency-key", "k1"]).unwrap()
    else {
        panic!("not a capture");
    };
    assert_eq!(
        (r.amount, r.final_capture, r.idempotency_key.as_str()),
        (None, true, "k1")
    );
}

#[test]
fn list_accepts_status_names_as_printed() {
    for spelling in ["partially_captured", "partially-captured"] {
        let Call::Unary(Unary::List(r)) = build(&["list", "--status", spelling]).unwrap() else {
            panic!("not a list");
        };
        assert_eq!(r.status, i32::from(proto::PaymentStatus::PartiallyCaptured));
    }
    let too_big = TestCli::try_parse_from(["call", "list", "--page-size", "501"]);
    assert!(too_big.is_err());
}

#[test]
fn metadata_needs_a_key() {
    assert!(parse_key_value("=v").is_err());
    assert!(parse_key_value("novalue").is_err());
    assert_eq!(parse_key_value("k=").unwrap(), ("k".into(), String::new()));
}

#[test]
fn the_api_key_is_never_in_debug_output() {
    let args = parse(&["--api-key", "sk_live_secret", "get", "p1"]);
    assert!(!format!("{args:?}").contains("sk_live_secret"));
    let auth = BearerAuth::new(args.connection.api_key.as_deref()).unwrap();
    assert!(!format!("{auth:?}").contains("sk_live_secret"));
}

#[test]
fn the_interceptor_sends_a_bearer_header_only_with_a_key() {
    let mut with_key = BearerAuth::new(Some("k123")).unwrap();
    let request = with_key.call(tonic::Request::new(())).unwrap();
    assert_eq!(
        request.metadata().get("authorization").unwrap(),
        "Bearer k123"
    );
    for none in [None, Some("")] {
        let mut without = BearerAuth::new(none).unwrap();
        let request = without.call(tonic::Request::new(())).unwrap();
        assert!(request.metadata().get("authorization").is_none());
    }
    assert!(BearerAuth::new(Some("bad\nkey")).is_err());
}

#[test]
fn customer_flags_become_a_customer_only_when_given() {
    let customer = |args: &[&str]| {
        let mut argv = vec!["authorize", "--amount", "1"];
        argv.extend_from_slice(args);
        let Call::Unary(Unary::Authorize(r)) = build(&argv).unwrap() else {
            panic!("not an authorize");
        };
        r.customer
    };
    assert_eq!(customer(&[]), None);
    let named = customer(&["--customer-name", "Amina Benali", "--email", "a@b.ma"]).unwrap();
    assert_eq!(
        (
            named.name.as_str(),
            named.email.as_str(),
            named.phone.as_str()
        ),
        ("Amina Benali", "a@b.ma", "")
    );
    assert_eq!(named.billing_address, None);
    let addressed = customer(&["--city", "Rabat", "--country", "MA"]).unwrap();
    assert_eq!(addressed.name, "");
    let address = addressed.billing_address.unwrap();
    assert_eq!(
        (
            address.city.as_str(),
            address.country.as_str(),
            address.line1.as_str()
        ),
        ("Rabat", "MA", "")
    );
}

#[test]
fn id_only_is_accepted_before_or_after_the_subcommand() {
    assert!(parse(&["--id-only", "get", "p1"]).id_only);
    assert!(parse(&["get", "p1", "--id-only"]).id_only);
    assert!(parse(&["authorize", "--amount", "1", "-q"]).id_only);
    assert!(!parse(&["get", "p1"]).id_only);
}

#[test]
fn every_argument_has_help() {
    fn check(command: &clap::Command, path: &str) {
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            if id == "help" || id == "version" {
                continue;
            }
            assert!(arg.get_help().is_some(), "{path} {id} has no help text");
        }
        for sub in command.get_subcommands() {
            check(sub, &format!("{path} {}", sub.get_name()));
        }
    }
    check(&<TestCli as clap::CommandFactory>::command(), "call");
    check(
        &<crate::cli::Cli as clap::CommandFactory>::command(),
        "paygate",
    );
}
