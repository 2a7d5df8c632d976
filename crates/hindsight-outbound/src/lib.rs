//! The one HTTP client for every request Hindsight makes to the outside world (webhooks, Slack,
//! and whatever later features send).
//!
//! A server that fetches URLs its users give it can be turned against the network it runs in
//! (server-side request forgery). This client refuses every range the IANA special-purpose
//! registries (IPv4 and IPv6) say is not globally reachable: loopback, private, link-local
//! (where cloud metadata services answer), unspecified, shared (CGNAT), benchmarking,
//! documentation, multicast, broadcast and reserved. It refuses them whether the URL names them
//! directly, a DNS name resolves to them (even to one of several addresses), or a redirect leads
//! to them; IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) are
//! judged by that address. A refusal is [`OutboundError::Refused`], which senders record at
//! once rather than retry. An admin may allow-list ranges (tests allow-list their loopback
//! sinks this way).
//!
//! It must not know about HTTP serving, storage or the domain.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;

/// Redirects followed at most.
const MAX_REDIRECTS: usize = 5;

/// A range of addresses, as `10.0.0.0/8`, `fd00::/8` or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr(ipnet::IpNet);

impl std::str::FromStr for Cidr {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not an address or a range like 10.0.0.0/8"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => prefix
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|prefix| *prefix <= max)
                .ok_or_else(|| format!("`{text}` has a prefix length outside 0 to {max}"))?,
        };
        ipnet::IpNet::new(network, prefix)
            .map(|net| Self(net.trunc()))
            .map_err(|_| format!("`{text}` has a prefix length outside 0 to {max}"))
    }
}

impl Cidr {
    /// Whether `address`, in any of its spellings (an IPv4-mapped IPv6 address is its IPv4
    /// address), lies in the range.
    pub fn contains(&self, address: IpAddr) -> bool {
        self.0.contains(&canonical(address))
    }
}

/// An IPv6 address that carries an IPv4 one (mapped, compatible, NAT64) as that IPv4 address.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let segments = v6.segments();
            let embedded = Ipv4Addr::from((u128::from(v6) & 0xffff_ffff) as u32);
            let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
            let compatible = segments[..6] == [0; 6] && u32::from(embedded) > 1;
            if nat64 || compatible {
                IpAddr::V4(embedded)
            } else {
                address
            }
        }
        v4 => v4,
    }
}

/// The IPv4 ranges of the IANA IPv4 Special-Purpose Address Registry that are not globally
/// reachable, with multicast and the reserved 240/4: none of them is the internet.
const INTERNAL_V4: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8, "this network"
    (0x0a00_0000, 8),  // 10.0.0.0/8, private
    (0x6440_0000, 10), // 100.64.0.0/10, shared address space (CGNAT)
    (0x7f00_0000, 8),  // 127.0.0.0/8, loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16, link-local (cloud metadata)
    (0xac10_0000, 12), // 172.16.0.0/12, private
    (0xc000_0000, 24), // 192.0.0.0/24, IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24, documentation (TEST-NET-1)
    (0xc058_6300, 24), // 192.88.99.0/24, the retired 6to4 relay anycast
    (0xc0a8_0000, 16), // 192.168.0.0/16, private
    (0xc612_0000, 15), // 198.18.0.0/15, benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24, documentation (TEST-NET-2)
    (0xcb00_7100, 24), // 203.0.113.0/24, documentation (TEST-NET-3)
    (0xe000_0000, 4),  // 224.0.0.0/4, multicast
    (0xf000_0000, 4),  // 240.0.0.0/4, reserved, and 255.255.255.255, broadcast
];

/// The IPv6 ranges of the IANA IPv6 Special-Purpose Address Registry that are not globally
/// reachable, with multicast and the retired site-local range. The forms that carry an IPv4
/// address (mapped, compatible, NAT64, 6to4, Teredo) are judged by what they carry instead.
const INTERNAL_V6: &[(u128, u8)] = &[
    (0, 128),                          // ::, unspecified
    (1, 128),                          // ::1, loopback
    (0x0064_ff9b_0001 << 80, 48),      // 64:ff9b:1::/48, local-use translation
    (0x0100 << 112, 64),               // 100::/64, discard-only
    (0x0100_0000_0000_0001 << 64, 64), // 100:0:0:1::/64, dummy prefix
    (0x2001 << 112, 23),               // 2001::/23, IETF protocol assignments
    (0x2001_0db8 << 96, 32),           // 2001:db8::/32, documentation
    (0x3fff << 112, 20),               // 3fff::/20, documentation
    (0x5f00 << 112, 16),               // 5f00::/16, segment routing SIDs
    (0xfc00 << 112, 7),                // fc00::/7, unique local
    (0xfe80 << 112, 10),               // fe80::/10, link-local
    (0xfec0 << 112, 10),               // fec0::/10, site-local (retired)
    (0xff00 << 112, 8),                // ff00::/8, multicast
];

/// Inside 2001::/23 but globally reachable, by the same registry.
const GLOBAL_IN_IETF_V6: &[(u128, u8)] = &[
    ((0x2001_0001 << 96) | 1, 128), // 2001:1::1, port control protocol anycast
    ((0x2001_0001 << 96) | 2, 128), // 2001:1::2, traversal using relays anycast
    (0x2001_0003 << 96, 32),        // 2001:3::/32, AMT
    (0x2001_0004_0112 << 80, 48),   // 2001:4:112::/48, AS112-v6
    (0x2001_0020 << 96, 28),        // 2001:20::/28, ORCHIDv2
    (0x2001_0030 << 96, 28),        // 2001:30::/28, drone remote ID
];

fn in_v4(address: u32, ranges: &[(u32, u8)]) -> bool {
    ranges.iter().any(|(network, prefix)| {
        let mask = u32::MAX.checked_shl(32 - u32::from(*prefix)).unwrap_or(0);
        address & mask == network & mask
    })
}

fn in_v6(address: u128, ranges: &[(u128, u8)]) -> bool {
    ranges.iter().any(|(network, prefix)| {
        let mask = u128::MAX.checked_shl(128 - u32::from(*prefix)).unwrap_or(0);
        address & mask == network & mask
    })
}

/// The IPv4 addresses a 6to4 (`2002:V4ADDR::/48`) or Teredo (`2001:0:SERVER:…:!CLIENT`)
/// address carries; empty for any other.
fn tunnelled_v4(v6: Ipv6Addr) -> Vec<Ipv4Addr> {
    let bits = u128::from(v6);
    let segments = v6.segments();
    if segments[0] == 0x2002 {
        vec![Ipv4Addr::from((bits >> 80) as u32)]
    } else if segments[0] == 0x2001 && segments[1] == 0 {
        let server = Ipv4Addr::from((bits >> 64) as u32);
        let client = Ipv4Addr::from(!(bits as u32));
        vec![server, client]
    } else {
        Vec::new()
    }
}

/// Whether an address lies inside the network Hindsight runs in, or in a range the IANA
/// registries say is not globally reachable, rather than on the internet.
pub fn is_internal(address: IpAddr) -> bool {
    match canonical(address) {
        IpAddr::V4(v4) => in_v4(u32::from(v4), INTERNAL_V4),
        IpAddr::V6(v6) => {
            let tunnelled = tunnelled_v4(v6);
            if tunnelled.iter().any(|v4| is_internal(IpAddr::V4(*v4))) {
                return true;
            }
            // Teredo (2001::/32) sits inside 2001::/23, but is judged by what it carries.
            let teredo = v6.segments()[..2] == [0x2001, 0];
            let bits = u128::from(v6);
            !teredo && in_v6(bits, INTERNAL_V6) && !in_v6(bits, GLOBAL_IN_IETF_V6)
        }
    }
}

/// Which addresses outbound requests may reach.
#[derive(Debug, Clone, Default)]
pub struct OutboundPolicy {
    /// Internal ranges an admin has opened anyway.
    pub allow: Vec<Cidr>,
}

impl OutboundPolicy {
    pub fn permits(&self, address: IpAddr) -> bool {
        !is_internal(address) || self.allow.iter().any(|cidr| cidr.contains(address))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Request(#[from] reqwest::Error),
}

/// A name that resolves to an address outbound requests may not reach. A name that resolves
/// to both internal and public addresses is refused too: which one a connection would use is
/// not ours to choose, and DNS rebinding counts on it.
#[derive(Debug)]
struct RefusedName(String);

impl std::fmt::Display for RefusedName {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl std::error::Error for RefusedName {}

/// Resolves names like the system does, then refuses the name if any address it gave is not
/// permitted.
struct CheckedResolver {
    policy: Arc<OutboundPolicy>,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = Arc::clone(&self.policy);
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(reason) = refusal_of_name(&policy, &host, &found) {
                return Err(
                    Box::new(RefusedName(reason)) as Box<dyn std::error::Error + Send + Sync>
                );
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Why a name that resolved to `found` may not be called, if it may not.
fn refusal_of_name(policy: &OutboundPolicy, host: &str, found: &[SocketAddr]) -> Option<String> {
    let refused: Vec<String> = found
        .iter()
        .filter(|address| !policy.permits(address.ip()))
        .map(|address| address.ip().to_string())
        .collect();
    if refused.is_empty() {
        None
    } else if refused.len() == found.len() {
        Some(format!(
            "{host} resolves to an internal address ({}), which outbound requests may not reach",
            refused.join(", ")
        ))
    } else {
        Some(format!(
            "{host} resolves to internal addresses ({}) as well as public ones, which outbound \
             requests may not reach",
            refused.join(", ")
        ))
    }
}

/// The refusal inside a request error, if the resolver refused the name.
fn refused_name(error: &reqwest::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = source {
        if let Some(refused) = error.downcast_ref::<RefusedName>() {
            return Some(refused.0.clone());
        }
        source = error.source();
    }
    None
}

/// The outbound client. Every request goes through [`OutboundClient::send`].
#[derive(Clone)]
pub struct OutboundClient {
    client: reqwest::Client,
    policy: Arc<OutboundPolicy>,
}

fn literal_refusal(policy: &OutboundPolicy, url: &reqwest::Url) -> Option<String> {
    let address = match url.host()? {
        url::Host::Ipv4(v4) => IpAddr::V4(v4),
        url::Host::Ipv6(v6) => IpAddr::V6(v6),
        url::Host::Domain(_) => return None,
    };
    (!policy.permits(address))
        .then(|| format!("{address} is an internal address, which outbound requests may not reach"))
}

impl OutboundClient {
    pub fn new(policy: OutboundPolicy, timeout: Duration) -> Result<Self, OutboundError> {
        let policy = Arc::new(policy);
        let for_redirects = Arc::clone(&policy);
        let redirects = redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match literal_refusal(&for_redirects, attempt.url()) {
                Some(reason) => attempt.error(format!("redirect refused: {reason}")),
                None => attempt.follow(),
            }
        });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver {
                policy: Arc::clone(&policy),
            }))
            .redirect(redirects)
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("Hindsight/", env!("CARGO_PKG_VERSION")))
            .no_proxy()
            .build()?;
        Ok(Self { client, policy })
    }

    /// A request to build; send it with [`OutboundClient::send`].
    pub fn request(
        &self,
        method: reqwest::Method,
        url: &str,
    ) -> Result<reqwest::RequestBuilder, OutboundError> {
        let url: reqwest::Url = url
            .parse()
            .map_err(|error| OutboundError::Refused(format!("`{url}` is not a URL: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(OutboundError::Refused(format!(
                "only http and https URLs may be called, not {}",
                url.scheme()
            )));
        }
        if let Some(reason) = literal_refusal(&self.policy, &url) {
            return Err(OutboundError::Refused(reason));
        }
        Ok(self.client.request(method, url))
    }

    pub async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, OutboundError> {
        request
            .send()
            .await
            .map_err(|error| match refused_name(&error) {
                Some(reason) => OutboundError::Refused(reason),
                None => OutboundError::Request(error),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_recognized_in_every_spelling() {
        for internal in [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "::127.0.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.200",
            "192.0.0.8",
            "192.88.99.1",
            "240.0.0.1",
            "2001:db8::1",
            "2001:db8:ffff::1",
            "3fff::1",
            "100::1",
            "64:ff9b:1::a",
            "2001:2::1",
            "5f00::1",
            "fec0::1",
            "ff02::1",
            // 6to4 and Teredo carrying internal IPv4 addresses.
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2002:0a00:0001::",
            "2001:0:4136:e378:8000:63bf:f5ff:fffe", // Teredo client 10.0.0.1
            "2001:0:7f00:1:8000:63bf:3fff:fdd2",    // Teredo server 127.0.0.1
        ] {
            assert!(is_internal(ip(internal)), "{internal} should be internal");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "2002:0808:0808::1",
            "2001:4:112::1",
            "2001:0:4136:e378:8000:63bf:f7f7:f7f7", // Teredo, both ends public
            "192.31.196.1",
            "198.20.0.1",
        ] {
            assert!(!is_internal(ip(public)), "{public} should be public");
        }
    }

    #[test]
    fn a_name_is_refused_when_any_address_it_resolves_to_is_internal() {
        let policy = OutboundPolicy::default();
        let at = |text: &str| SocketAddr::new(ip(text), 0);
        assert_eq!(
            refusal_of_name(&policy, "hooks.example", &[at("93.184.216.34")]),
            None
        );
        let mixed = refusal_of_name(
            &policy,
            "rebind.example",
            &[at("93.184.216.34"), at("10.0.0.7")],
        )
        .unwrap();
        assert!(
            mixed.contains("(10.0.0.7) as well as public ones"),
            "{mixed}"
        );
        let inside = refusal_of_name(&policy, "db.internal", &[at("10.0.0.7")]).unwrap();
        assert!(
            inside.contains("db.internal resolves to an internal address"),
            "{inside}"
        );
    }

    #[test]
    fn an_allow_list_opens_exactly_its_ranges() {
        let policy = OutboundPolicy {
            allow: vec![
                "127.0.0.1".parse().unwrap(),
                "10.20.0.0/16".parse().unwrap(),
            ],
        };
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::ffff:127.0.0.1")));
        assert!(!policy.permits(ip("127.0.0.2")));
        assert!(policy.permits(ip("10.20.3.4")));
        assert!(!policy.permits(ip("10.21.0.1")));
        assert!("10.0.0.0/33".parse::<Cidr>().is_err());
        assert!("nonsense".parse::<Cidr>().is_err());
    }
}
