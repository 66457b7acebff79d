//! Which hosts a route's requests may reach (POLICY.md 2.8), decided before anything is sent.
//!
//! A route that declares `hosts` in the registry reaches those hosts (on their scheme's default
//! port) and the hosts of the URLs the operator configured for the call: its base-URL settings
//! and its secrets whose value is an `http(s)` URL (webhooks). Loopback, private, link-local and
//! unspecified addresses are reached only when the operator configured them. A route without
//! declared hosts is not held to a list.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::{Host, Url};

use super::{HttpFailure, OutboundRequest};
use crate::route::RouteSpec;

/// Where a request that passed the check may connect once its host name is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reach {
    /// Any address: the operator configured the host, or the route declares no hosts.
    Any,
    /// Public addresses only: a declared name that resolves to a non-public address is refused.
    Public,
}

/// Why a request was refused; the text is the reason of the `egress_denied` problem.
pub(crate) const UNDECLARED: &str = "not a host the route declares nor one the operator configured";
pub(crate) const NON_PUBLIC: &str =
    "a loopback, private, link-local or unspecified address the operator did not configure";

/// The check for one request of a call: `Ok` with how far it may reach, or the failure `send`
/// returns (logged with the route, trace id and host only). `configured` is what the operator
/// pointed the call at: the values of its secrets and of its base-URL settings.
pub(crate) fn check_call<'a>(
    route: &RouteSpec,
    trace_id: &str,
    configured: impl IntoIterator<Item = &'a str>,
    request: &OutboundRequest,
) -> Result<Reach, HttpFailure> {
    check(route.hosts, configured, request.url()).map_err(|reason| {
        let failure = HttpFailure::egress_denied(request, reason);
        tracing::warn!(
            route = route.id,
            trace_id,
            host = %request.host(),
            "egress denied"
        );
        failure
    })
}

/// The rule of POLICY.md 2.8 for `url`, given the route's declared hosts and the values the
/// operator configured (only those that parse as `http(s)` URLs count). `Err` is the reason.
pub(crate) fn check<'a>(
    declared: Option<&[&str]>,
    configured: impl IntoIterator<Item = &'a str>,
    url: &Url,
) -> Result<Reach, &'static str> {
    // Unrestricted routes keep the behaviour they had before hosts were declared.
    let Some(declared) = declared else {
        return Ok(Reach::Any);
    };
    let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
        return Err(UNDECLARED);
    };
    let origin = (host.to_owned(), port);
    if configured
        .into_iter()
        .filter_map(configured_origin)
        .any(|configured| configured == origin)
    {
        return Ok(Reach::Any);
    }
    if !is_public_host(&host) {
        return Err(NON_PUBLIC);
    }
    // A declared host is a bare name: it stands for its scheme's default port only.
    let name = url.host_str().unwrap_or_default();
    let is_declared = url.port().is_none()
        && matches!(url.scheme(), "http" | "https")
        && declared.iter().any(|d| d.eq_ignore_ascii_case(name));
    if is_declared {
        Ok(Reach::Public)
    } else {
        Err(UNDECLARED)
    }
}

/// The host and port of a configured value, when it is an absolute `http(s)` URL.
fn configured_origin(value: &str) -> Option<(Host<String>, u16)> {
    let url = Url::parse(value).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    Some((url.host()?.to_owned(), url.port_or_known_default()?))
}

/// Whether a URL's host may be reached without the operator configuring it: not `localhost`
/// (RFC 6761 names resolve to loopback) and not a non-public address literal.
fn is_public_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name != "localhost" && !name.ends_with(".localhost")
        }
        Host::Ipv4(ip) => is_public_ip(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => is_public_ip(IpAddr::V6(*ip)),
    }
}

/// Not loopback (127/8, ::1), private (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
/// (169.254/16 with the cloud metadata service, fe80::/10) or unspecified; IPv4-mapped IPv6
/// addresses are judged as IPv4.
pub(crate) fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_loopback() || ip.is_private() || ip.is_link_local() || ip.is_unspecified())
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    let unique_local = first & 0xfe00 == 0xfc00;
    let link_local = first & 0xffc0 == 0xfe80;
    !(ip.is_loopback() || ip.is_unspecified() || unique_local || link_local)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DECLARED: Option<&[&str]> = Some(&["hooks.slack.com", "api.stripe.com"]);

    fn judge(configured: &[&str], url: &str) -> Result<Reach, &'static str> {
        let url = Url::parse(url).expect("url");
        check(DECLARED, configured.iter().copied(), &url)
    }

    #[test]
    fn declared_hosts_are_reached_on_public_addresses_only() {
        assert_eq!(
            judge(&[], "https://hooks.slack.com/services/x"),
            Ok(Reach::Public)
        );
        assert_eq!(judge(&[], "http://API.Stripe.com/v1"), Ok(Reach::Public));
        assert_eq!(
            judge(&[], "https://api.stripe.com:8443/v1"),
            Err(UNDECLARED)
        );
        assert_eq!(judge(&[], "https://evil.example/"), Err(UNDECLARED));
        assert_eq!(
            judge(&[], "https://api.stripe.com.evil.example/"),
            Err(UNDECLARED)
        );
    }

    #[test]
    fn configured_urls_are_reached_on_their_host_and_port() {
        let configured = ["http://127.0.0.1:9000/proxy/stripe", "sk_live_not_a_url"];
        assert_eq!(
            judge(&configured, "http://127.0.0.1:9000/proxy/stripe/v1"),
            Ok(Reach::Any)
        );
        assert_eq!(
            judge(&configured, "http://127.0.0.1:9001/"),
            Err(NON_PUBLIC)
        );
        let proxy = ["https://proxy.corp.example/stripe"];
        assert_eq!(
            judge(&proxy, "https://proxy.corp.example:443/x"),
            Ok(Reach::Any)
        );
        assert_eq!(
            judge(&proxy, "http://proxy.corp.example/x"),
            Err(UNDECLARED)
        );
        assert_eq!(
            judge(&["http://localhost:8080/"], "http://localhost:8080/a"),
            Ok(Reach::Any)
        );
    }

    #[test]
    fn non_public_literals_and_localhost_are_refused_unless_configured() {
        for url in [
            "http://169.254.169.254/latest/meta-data",
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[::]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:169.254.169.254]/",
            "http://localhost/",
            "http://api.localhost./",
        ] {
            assert_eq!(judge(&[], url), Err(NON_PUBLIC), "{url}");
        }
        assert_eq!(judge(&[], "http://8.8.8.8/"), Err(UNDECLARED));
        assert_eq!(judge(&[], "http://172.32.0.1/"), Err(UNDECLARED));
    }

    #[test]
    fn routes_without_declared_hosts_are_unrestricted() {
        let url = Url::parse("http://169.254.169.254/").expect("url");
        assert_eq!(check(None, [], &url), Ok(Reach::Any));
        let none_declared: Option<&[&str]> = Some(&[]);
        assert_eq!(check(none_declared, [], &url), Err(NON_PUBLIC));
    }
}
