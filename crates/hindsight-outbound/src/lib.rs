//! The one HTTP client for every request Hindsight makes to the outside world (webhooks, Slack,
//! and whatever later features send).
//!
//! A server that fetches URLs its users give it can be turned against the network it runs in
//! (server-side request forgery). This client refuses internal addresses: loopback, private,
//! link-local (where cloud metadata services answer), unspecified, shared (CGNAT), multicast and
//! broadcast, whether the URL names them directly, a DNS name resolves to them, or a redirect
//! leads to them; IPv6 forms that embed an IPv4 address are judged by that address. An admin
//! may allow-list ranges (tests allow-list their loopback sinks this way).
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
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

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
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, canonical(address)) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(network) & mask == u32::from(address) & mask
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(network) & mask == u128::from(address) & mask
            }
            _ => false,
        }
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

/// Whether an address lies inside the network Hindsight runs in, rather than on the internet.
pub fn is_internal(address: IpAddr) -> bool {
    match canonical(address) {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && v4.octets()[2] == 0)
                || a >= 240
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first & 0xffc0) == 0xfec0
                || v6 == Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0)
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

/// Resolves names like the system does, then keeps only permitted addresses; a name with none
/// left is an error that says why.
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
            let permitted: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|address| policy.permits(address.ip()))
                .collect();
            if permitted.is_empty() {
                let shown: Vec<String> = found
                    .iter()
                    .map(|address| address.ip().to_string())
                    .collect();
                return Err(format!(
                    "{host} resolves to an internal address ({}), which outbound requests may not reach",
                    shown.join(", ")
                )
                .into());
            }
            Ok(Box::new(permitted.into_iter()) as Addrs)
        })
    }
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
        Ok(request.send().await?)
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
        ] {
            assert!(is_internal(ip(internal)), "{internal} should be internal");
        }
        for public in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_internal(ip(public)), "{public} should be public");
        }
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
