//! Who the client is when the service stands behind reverse proxies.
//!
//! The connection's peer is the client unless the peer is a configured trusted proxy. Then
//! the configured forwarding header (`X-Forwarded-For`, or RFC 7239 `Forwarded`) is read
//! from the right, hop by hop: each proxy appends the address it was connected from, so the
//! rightmost address that is not a trusted proxy is the first one no trusted proxy can vouch
//! for beyond, and is the client. Anything left of it was written by the client and may be
//! forged. Only the one configured header is read: a proxy that appends to
//! `X-Forwarded-For` passes a client's own `Forwarded` header on untouched.

use axum::http::HeaderMap;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};

/// Which header the trusted proxies write.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client;proto=https, for=proxy1` (RFC 7239).
    Forwarded,
}

/// The trusted proxies and the header they write.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    pub networks: Vec<IpNet>,
    pub header: ForwardedHeader,
}

impl TrustedProxies {
    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.networks.iter().any(|network| network.contains(&ip))
    }

    /// The client behind `peer`, as the module says. A hop that cannot be read (`unknown`,
    /// an obfuscated name, garbage) ends the walk at the trusted hop to its right: nothing
    /// further left can be believed.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        for hop in self.hops(headers).into_iter().rev() {
            match hop {
                Some(ip) if self.trusts(ip) => client = ip,
                Some(ip) => return ip,
                None => return client,
            }
        }
        client
    }

    /// The header's addresses, leftmost first, over all its lines; `None` for an unreadable
    /// one.
    fn hops(&self, headers: &HeaderMap) -> Vec<Option<IpAddr>> {
        let (name, parse): (&str, fn(&str) -> Option<IpAddr>) = match self.header {
            ForwardedHeader::XForwardedFor => ("x-forwarded-for", parse_address),
            ForwardedHeader::Forwarded => ("forwarded", forwarded_for),
        };
        headers
            .get_all(name)
            .iter()
            .flat_map(|line| line.to_str().unwrap_or(",").split(','))
            .map(|element| parse(element.trim()))
            .collect()
    }
}

/// The `for=` of one `Forwarded` element (`for=192.0.2.1;proto=https`).
fn forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (name, value) = pair.trim().split_once('=')?;
        name.eq_ignore_ascii_case("for")
            .then(|| parse_address(value.trim().trim_matches('"')))
            .flatten()
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`.
fn parse_address(text: &str) -> Option<IpAddr> {
    text.parse::<IpAddr>()
        .or_else(|_| text.parse::<SocketAddr>().map(|socket| socket.ip()))
        .or_else(|_| {
            text.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .ok_or(())
                .and_then(|inner| inner.parse::<IpAddr>().map_err(|_| ()))
        })
        .ok()
        .map(canonical)
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:192.0.2.1`) is the IPv4 address, so
/// that it matches IPv4 networks and shares one quota.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(networks: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies {
            networks: networks.iter().map(|n| n.parse().unwrap()).collect(),
            header,
        }
    }

    fn headers(name: &'static str, lines: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for line in lines {
            map.append(name, line.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let forged = headers("x-forwarded-for", &["1.2.3.4"]);
        assert_eq!(
            trusted.client(ip("203.0.113.9"), &forged),
            ip("203.0.113.9")
        );
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.1"), &forged), ip("10.0.0.1"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = proxies(
            &["10.0.0.0/8", "127.0.0.1/32"],
            ForwardedHeader::XForwardedFor,
        );
        // The client forged 1.2.3.4; its real address was appended by the first proxy.
        let chain = headers("x-forwarded-for", &["1.2.3.4, 198.51.100.7", "10.0.0.5"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &chain), ip("198.51.100.7"));
        // Every hop trusted: the leftmost one.
        let inside = headers("x-forwarded-for", &["10.0.0.9, 10.0.0.5"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &inside), ip("10.0.0.9"));
        // No header: the proxy itself.
        assert_eq!(
            trusted.client(ip("127.0.0.1"), &HeaderMap::new()),
            ip("127.0.0.1")
        );
        // Garbage stops the walk at the trusted hop to its right.
        let garbage = headers("x-forwarded-for", &["198.51.100.7, nonsense, 10.0.0.5"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &garbage), ip("10.0.0.5"));
    }

    #[test]
    fn forwarded_is_read_only_when_configured() {
        let trusted = proxies(&["127.0.0.1/32"], ForwardedHeader::Forwarded);
        let chain = headers(
            "forwarded",
            &["for=1.2.3.4, for=\"[2001:db8::7]:4711\";proto=https"],
        );
        assert_eq!(trusted.client(ip("127.0.0.1"), &chain), ip("2001:db8::7"));
        let other = headers("x-forwarded-for", &["198.51.100.7"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &other), ip("127.0.0.1"));
        let unknown = headers("forwarded", &["for=unknown"]);
        assert_eq!(trusted.client(ip("127.0.0.1"), &unknown), ip("127.0.0.1"));
    }

    #[test]
    fn ipv4_mapped_peers_match_ipv4_networks() {
        let trusted = proxies(&["127.0.0.1/32"], ForwardedHeader::XForwardedFor);
        let chain = headers("x-forwarded-for", &["198.51.100.7:5000"]);
        assert_eq!(
            trusted.client(ip("::ffff:127.0.0.1"), &chain),
            ip("198.51.100.7")
        );
    }
}
