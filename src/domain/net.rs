//! Which network addresses count as private, for SSRF protection of the
//! outbound evaluation callback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// True for addresses a request from our servers must not reach unless
/// private callbacks are allowed: loopback, private, link-local, carrier-grade
/// NAT, unspecified, multicast, documentation and reserved ranges, and the
/// IPv6 forms that embed them.
pub fn is_private_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240 // reserved
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_private_v4(v4);
    }
    let seg = ip.segments();
    ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (seg[0] & 0xfe00) == 0xfc00 // unique local
        || (seg[0] & 0xffc0) == 0xfe80 // link-local
        || (seg[0] == 0x2001 && seg[1] == 0x0db8) // documentation
        || (seg[0] == 0x0064 && seg[1] == 0xff9b) // NAT64, embeds IPv4
        || seg[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
}

/// True when a URL host is obviously private without resolving it: an IP
/// literal in a private range, or a `localhost` name. Domain names are
/// checked again after resolution when the request is made.
pub fn is_private_host(host: &url::Host<&str>) -> bool {
    match host {
        url::Host::Ipv4(ip) => is_private_v4(*ip),
        url::Host::Ipv6(ip) => is_private_v6(*ip),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_private() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "64:ff9b::a00:1",
            "::10.0.0.1",
        ] {
            assert!(is_private_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn public_addresses_are_not() {
        for ip in ["8.8.8.8", "1.1.1.1", "140.82.112.3", "2606:4700:4700::1111"] {
            assert!(!is_private_ip(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn localhost_names_are_private_hosts() {
        let url = url::Url::parse("http://api.localhost:8080/x").unwrap();
        assert!(is_private_host(&url.host().unwrap()));
        let url = url::Url::parse("https://example.com/x").unwrap();
        assert!(!is_private_host(&url.host().unwrap()));
    }
}
