//! Where a webhook to a shop may go: the one rule for endpoint URLs and the addresses they
//! reach, shared by `config` (refuses a bad URL at start) and the sender (refuses a bad
//! address at connect time).
//!
//! A webhook URL is written by a merchant's integrator, so paygate must not become a way to
//! reach its own network: the metadata service (169.254.169.254), the database on 10.x, an
//! admin port on 127.0.0.1. The URL is checked here; the addresses a name resolves to are
//! checked by [`GuardedResolver`], on the very addresses the connection then uses, so a name
//! that resolves to a public address for `check-config` and to 10.0.0.1 later (DNS rebinding)
//! is still refused.

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// What an endpoint may reach, from its `allow_loopback` / `allow_private` flags and its
/// scheme: plain `http://` may reach loopback only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    allow_loopback: bool,
    allow_private: bool,
    loopback_only: bool,
}

impl Policy {
    /// Every distinct policy, so the sender builds one client per policy up front.
    pub(crate) const ALL: [Policy; 5] = [
        Policy::new(false, false, false),
        Policy::new(true, false, false),
        Policy::new(false, true, false),
        Policy::new(true, true, false),
        Policy::new(true, false, true),
    ];

    /// `plain_http` narrows the policy to loopback addresses only (and needs `allow_loopback`,
    /// which [`check_url`] enforces); `allow_private` then no longer matters.
    pub const fn new(allow_loopback: bool, allow_private: bool, plain_http: bool) -> Self {
        Self {
            allow_loopback,
            allow_private: allow_private && !plain_http,
            loopback_only: plain_http,
        }
    }

    pub fn for_url(url: &Url, allow_loopback: bool, allow_private: bool) -> Self {
        Self::new(allow_loopback, allow_private, url.scheme() == "http")
    }
}

/// A range of addresses and whether any flag can open it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    Public,
    /// 127/8, ::1: open with `allow_loopback`.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, fc00::/7: open with `allow_private`.
    Private,
    /// Never reachable, whatever the flags: link-local (the cloud metadata service lives at
    /// 169.254.169.254), CGNAT, unspecified, multicast, broadcast, documentation, benchmarking
    /// and reserved ranges. The text names the range for the operator.
    Refused(&'static str),
}

/// Why a webhook may not be sent to a URL or an address. Messages name the rule and the flag
/// that would open it; they never quote the URL (its path or query may hold a token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the scheme must be https (got {0})")]
    Scheme(String),
    #[error(
        "plain http:// is allowed only to a loopback host (127.0.0.1, [::1], localhost) with allow_loopback = true; use https://"
    )]
    PlainHttp,
    #[error("must not contain a user name or password (put credentials in the secret)")]
    Credentials,
    #[error("must not contain a #fragment")]
    Fragment,
    #[error("has no host")]
    NoHost,
    #[error("address {ip} is {what}{hint}")]
    Address {
        ip: IpAddr,
        what: &'static str,
        hint: &'static str,
    },
    #[error("the host resolved to no address")]
    NoAddress,
}

/// Checks everything about `url` that does not need DNS: scheme, credentials, fragment, and an
/// IP-literal host (the HTTP client connects to a literal without asking a resolver).
pub fn check_url(url: &Url, allow_loopback: bool, allow_private: bool) -> Result<(), Refused> {
    let policy = Policy::for_url(url, allow_loopback, allow_private);
    match url.scheme() {
        "https" => {}
        "http" if allow_loopback && is_loopback_host(url) => {}
        "http" => return Err(Refused::PlainHttp),
        other => return Err(Refused::Scheme(other.to_owned())),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Refused::Credentials);
    }
    if url.fragment().is_some() {
        return Err(Refused::Fragment);
    }
    match url.host_str() {
        None | Some("") => Err(Refused::NoHost),
        Some(host) => ip_literal(host).map_or(Ok(()), |ip| check_ip(ip, policy)),
    }
}

/// The host as an IP address, if it is one (`[::1]` keeps its brackets in a URL). The URL
/// parser has already normalised odd IPv4 spellings (`0x7f.1`, `2130706433`) to dotted form.
fn ip_literal(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// A loopback IP literal or the name `localhost`: the only hosts plain http may name.
pub fn is_loopback_host(url: &Url) -> bool {
    match url.host_str() {
        Some(host) => match ip_literal(host) {
            Some(ip) => classify(ip) == Range::Loopback,
            None => host.eq_ignore_ascii_case("localhost"),
        },
        None => false,
    }
}

/// Whether `policy` lets a connection go to `ip`.
pub fn check_ip(ip: IpAddr, policy: Policy) -> Result<(), Refused> {
    let refuse = |what, hint| Err(Refused::Address { ip, what, hint });
    match classify(ip) {
        Range::Public if policy.loopback_only => {
            refuse("not loopback", " (plain http:// may only reach loopback)")
        }
        Range::Public => Ok(()),
        Range::Loopback if policy.allow_loopback => Ok(()),
        Range::Loopback => refuse("loopback", " (allow_loopback = true allows it)"),
        Range::Private if policy.allow_private => Ok(()),
        Range::Private if policy.loopback_only => {
            refuse("private", " (plain http:// may only reach loopback)")
        }
        Range::Private => refuse("private", " (allow_private = true allows it)"),
        Range::Refused(what) => refuse(what, " (never allowed)"),
    }
}

/// The range `ip` falls in. IPv6 forms that carry an IPv4 address (mapped `::ffff:a.b.c.d`,
/// NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) are judged by that address, so `::ffff:10.0.0.1`
/// is as private as `10.0.0.1`.
pub fn classify(ip: IpAddr) -> Range {
    match ip {
        IpAddr::V4(ip) => classify_v4(ip),
        IpAddr::V6(ip) => classify_v6(ip),
    }
}

fn classify_v4(ip: Ipv4Addr) -> Range {
    let [a, b, c, _] = ip.octets();
    match (a, b, c) {
        (127, _, _) => Range::Loopback,
        (10, _, _) | (192, 168, _) => Range::Private,
        (172, 16..=31, _) => Range::Private,
        (0, _, _) => Range::Refused("unspecified (0.0.0.0/8)"),
        (169, 254, _) => Range::Refused("link-local (169.254/16, the cloud metadata range)"),
        (100, 64..=127, _) => Range::Refused("shared address space (CGNAT, 100.64/10)"),
        (192, 0, 0) => Range::Refused("IETF protocol assignments (192.0.0/24)"),
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => Range::Refused("documentation"),
        (198, 18..=19, _) => Range::Refused("benchmarking (198.18/15)"),
        _ if ip.is_broadcast() => Range::Refused("broadcast"),
        (224..=239, _, _) => Range::Refused("multicast"),
        (240..=255, _, _) => Range::Refused("reserved (240/4)"),
        _ => Range::Public,
    }
}

fn classify_v6(ip: Ipv6Addr) -> Range {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4);
    }
    let s = ip.segments();
    let embedded = |high: u16, low: u16| {
        let [h1, h2] = high.to_be_bytes();
        let [l1, l2] = low.to_be_bytes();
        Ipv4Addr::new(h1, h2, l1, l2)
    };
    match s {
        [0, 0, 0, 0, 0, 0, 0, 1] => Range::Loopback,
        [0, 0, 0, 0, 0, 0, 0, 0] => Range::Refused("unspecified (::)"),
        // NAT64: the IPv4 address is the last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, h, l] => classify_v4(embedded(h, l)),
        // 6to4: the IPv4 address follows the prefix.
        [0x2002, h, l, ..] => classify_v4(embedded(h, l)),
        // IPv4-compatible (deprecated): refused rather than guessed at.
        [0, 0, 0, 0, 0, 0, _, _] => Range::Refused("IPv4-compatible IPv6 (::/96)"),
        [first, ..] if first & 0xfe00 == 0xfc00 => Range::Private,
        [first, ..] if first & 0xffc0 == 0xfe80 => Range::Refused("link-local (fe80::/10)"),
        [first, ..] if first & 0xffc0 == 0xfec0 => Range::Refused("site-local (fec0::/10)"),
        [first, ..] if first & 0xff00 == 0xff00 => Range::Refused("multicast"),
        [0x2001, 0x0db8, ..] => Range::Refused("documentation (2001:db8::/32)"),
        [0x0100, 0, 0, 0, ..] => Range::Refused("discard-only (100::/64)"),
        _ => Range::Public,
    }
}

/// Resolves with `inner`, then refuses the name if ANY address it gave is outside `policy`:
/// the HTTP client connects only to addresses that passed. Refusing the whole name rather
/// than dropping the bad addresses keeps the outcome the same whichever address comes first.
pub(crate) struct GuardedResolver {
    pub policy: Policy,
    pub inner: Arc<dyn Resolve>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let resolving = self.inner.resolve(name);
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = resolving.await?.collect();
            if addrs.is_empty() {
                return Err(Refused::NoAddress.into());
            }
            for addr in &addrs {
                check_ip(addr.ip(), policy)?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The system resolver (getaddrinfo, through tokio's blocking pool).
pub struct SystemResolver;

impl Resolve for SystemResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in.
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// A resolver answering from a fixed table, for tests and local tools: `hooks.test` can be
/// made to resolve to 10.0.0.1 or 169.254.169.254 without touching DNS. A name not in the
/// table fails to resolve.
#[derive(Debug, Clone, Default)]
pub struct FixedResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl FixedResolver {
    pub fn with(mut self, name: &str, ip: IpAddr) -> Self {
        self.names
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(ip);
        self
    }
}

impl Resolve for FixedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let found = self.names.get(&name.as_str().to_ascii_lowercase()).cloned();
        Box::pin(async move {
            let ips = found.ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "name not in the fixed table")
            })?;
            let addrs: Addrs = Box::new(ips.into_iter().map(|ip| SocketAddr::new(ip, 0)));
            Ok(addrs)
        })
    }
}

#[cfg(test)]
#[path = "address_tests.rs"]
mod tests;
