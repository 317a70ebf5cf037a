//! The address and URL rules, table-driven: every range, every flag, every URL refusal.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use super::*;

const NONE: Policy = Policy::new(false, false, false);
const LOOPBACK: Policy = Policy::new(true, false, false);
const PRIVATE: Policy = Policy::new(false, true, false);
const BOTH: Policy = Policy::new(true, true, false);
const PLAIN_HTTP: Policy = Policy::new(true, true, true);

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn ranges_are_classified() {
    let cases: &[(&str, Range)] = &[
        ("93.184.216.34", Range::Public),
        ("8.8.8.8", Range::Public),
        ("2606:4700::1111", Range::Public),
        ("127.0.0.1", Range::Loopback),
        ("127.255.0.9", Range::Loopback),
        ("::1", Range::Loopback),
        ("::ffff:127.0.0.1", Range::Loopback),
        ("10.0.0.1", Range::Private),
        ("172.16.0.1", Range::Private),
        ("172.31.255.255", Range::Private),
        ("192.168.1.1", Range::Private),
        ("fc00::1", Range::Private),
        ("fd12:3456::1", Range::Private),
        ("::ffff:10.0.0.1", Range::Private),
        ("64:ff9b::a00:1", Range::Private),
        ("2002:c0a8:0101::1", Range::Private),
        ("172.15.0.1", Range::Public),
        ("172.32.0.1", Range::Public),
        ("100.63.255.255", Range::Public),
        ("100.128.0.1", Range::Public),
    ];
    for (text, expected) in cases {
        assert_eq!(classify(ip(text)), *expected, "{text}");
    }
    let refused = [
        "169.254.169.254",
        "::ffff:169.254.169.254",
        "64:ff9b::a9fe:a9fe",
        "0.0.0.0",
        "0.1.2.3",
        "::",
        "100.64.0.1",
        "100.127.255.254",
        "224.0.0.1",
        "239.255.255.250",
        "255.255.255.255",
        "240.0.0.1",
        "192.0.0.8",
        "192.0.2.1",
        "198.51.100.7",
        "203.0.113.9",
        "198.18.0.1",
        "198.19.255.1",
        "fe80::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "100::1",
        "::10.0.0.1",
    ];
    for text in refused {
        assert!(
            matches!(classify(ip(text)), Range::Refused(_)),
            "{text} should be refused, is {:?}",
            classify(ip(text))
        );
    }
}

#[test]
fn flags_open_only_their_own_range() {
    // (address, allowed under NONE, LOOPBACK, PRIVATE, BOTH, PLAIN_HTTP)
    let cases: &[(&str, [bool; 5])] = &[
        ("93.184.216.34", [true, true, true, true, false]),
        ("127.0.0.1", [false, true, false, true, true]),
        ("::1", [false, true, false, true, true]),
        ("10.0.0.1", [false, false, true, true, false]),
        ("::ffff:192.168.0.1", [false, false, true, true, false]),
        ("169.254.169.254", [false; 5]),
        ("100.64.0.1", [false; 5]),
        ("0.0.0.0", [false; 5]),
    ];
    for (text, expected) in cases {
        let got =
            [NONE, LOOPBACK, PRIVATE, BOTH, PLAIN_HTTP].map(|p| check_ip(ip(text), p).is_ok());
        assert_eq!(got, *expected, "{text}");
    }
}

#[test]
fn refusal_names_the_address_and_the_flag_that_opens_it() {
    let err = check_ip(ip("10.0.0.1"), NONE).unwrap_err().to_string();
    assert_eq!(
        err,
        "address 10.0.0.1 is private (allow_private = true allows it)"
    );
    let err = check_ip(ip("169.254.169.254"), BOTH)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("link-local") && err.contains("never allowed"),
        "{err}"
    );
}

#[test]
fn urls_are_checked_without_dns() {
    let check = |url: &str, loopback: bool, private: bool| {
        check_url(&url.parse().unwrap(), loopback, private)
    };
    assert_eq!(
        check("https://shop.example/hooks?t=1", false, false),
        Ok(())
    );
    assert_eq!(check("https://93.184.216.34/hooks", false, false), Ok(()));
    assert_eq!(
        check("http://shop.example/hooks", false, false),
        Err(Refused::PlainHttp)
    );
    assert_eq!(
        check("http://shop.example/hooks", true, false),
        Err(Refused::PlainHttp)
    );
    assert_eq!(
        check("http://127.0.0.1:3000/", false, false),
        Err(Refused::PlainHttp)
    );
    assert_eq!(check("http://127.0.0.1:3000/", true, false), Ok(()));
    assert_eq!(check("http://[::1]:3000/", true, false), Ok(()));
    assert_eq!(check("http://LOCALHOST:3000/", true, false), Ok(()));
    assert_eq!(
        check("http://10.0.0.1/", true, true),
        Err(Refused::PlainHttp)
    );
    assert_eq!(
        check("ftp://shop.example/", false, false),
        Err(Refused::Scheme("ftp".into()))
    );
    assert_eq!(
        check("https://u:p@shop.example/", false, false),
        Err(Refused::Credentials)
    );
    assert_eq!(
        check("https://u@shop.example/", false, false),
        Err(Refused::Credentials)
    );
    assert_eq!(
        check("https://shop.example/#x", false, false),
        Err(Refused::Fragment)
    );
    // IP literals are judged here: the client connects to them without a resolver.
    assert!(matches!(
        check("https://127.0.0.1/", false, false),
        Err(Refused::Address { .. })
    ));
    assert_eq!(check("https://127.0.0.1/", true, false), Ok(()));
    assert!(matches!(
        check("https://10.0.0.1/", false, false),
        Err(Refused::Address { .. })
    ));
    assert_eq!(check("https://10.0.0.1/", false, true), Ok(()));
    assert!(matches!(
        check("https://169.254.169.254/", true, true),
        Err(Refused::Address { .. })
    ));
    assert!(matches!(
        check("https://[::ffff:a9fe:a9fe]/", true, true),
        Err(Refused::Address { .. })
    ));
    // Odd IPv4 spellings are normalised by the URL parser before the check.
    assert!(matches!(
        check("https://2130706433/", false, false),
        Err(Refused::Address { .. })
    ));
    assert!(matches!(
        check("https://0x7f.1/", false, false),
        Err(Refused::Address { .. })
    ));
}

#[test]
fn refusal_never_quotes_the_url() {
    let url: Url = "http://shop.example/hooks?token=s3cr3t".parse().unwrap();
    let err = check_url(&url, false, false).unwrap_err().to_string();
    assert!(
        !err.contains("s3cr3t") && !err.contains("shop.example"),
        "{err}"
    );
}

#[tokio::test]
async fn guarded_resolver_refuses_a_name_with_any_refused_address() {
    let fixed = FixedResolver::default()
        .with("public.test", ip("93.184.216.34"))
        .with("mixed.test", ip("93.184.216.34"))
        .with("mixed.test", ip("169.254.169.254"))
        .with("inside.test", ip("10.0.0.1"));
    let guarded = |policy| GuardedResolver {
        policy,
        inner: Arc::new(fixed.clone()),
    };
    let resolve = |g: GuardedResolver, name: &str| {
        let name: Name = name.parse().unwrap();
        async move { g.resolve(name).await.map(|a| a.collect::<Vec<_>>()) }
    };
    let ok = resolve(guarded(NONE), "public.test").await.unwrap();
    assert_eq!(ok, vec![SocketAddr::new(ip("93.184.216.34"), 0)]);
    let err = resolve(guarded(BOTH), "mixed.test").await.unwrap_err();
    assert!(err.downcast_ref::<Refused>().is_some(), "{err}");
    assert!(resolve(guarded(NONE), "inside.test").await.is_err());
    assert!(resolve(guarded(PRIVATE), "inside.test").await.is_ok());
    assert!(resolve(guarded(NONE), "unknown.test").await.is_err());
}
