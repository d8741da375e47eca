//! Where webhooks may go: a subscription URL whose host is, or resolves to, a loopback, private,
//! link-local, unspecified or other non-public address (`domain::network`) is refused unless
//! the admin setting `HWT_WEBHOOK_ALLOW_PRIVATE` allows it. Checked when a subscription is
//! created (422 at `/url`) and again before every delivery, whose connections moreover go only to
//! the public addresses the name resolves to at that moment ([`PublicOnly`]), so a name that
//! starts pointing inward later (DNS rebinding) gets nothing.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use crate::domain::Invalid;
use crate::domain::network;

/// The longest a subscription waits for its host's name to resolve.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the URL's host is not a public destination, when it is not one. A name that does not
/// resolve now is let through (it reaches nothing now, and every delivery checks again).
pub async fn refusal(url: &str, allow_private: bool) -> Option<Invalid> {
    if allow_private {
        return None;
    }
    let url = reqwest::Url::parse(url).ok()?;
    let port = url.port_or_known_default().unwrap_or(443);
    let host = url.host_str()?;
    let literal = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let kinds: Vec<&'static str> = match literal {
        Some(ip) => network::refusal(ip).into_iter().collect(),
        None => match tokio::time::timeout(LOOKUP_TIMEOUT, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(addrs)) => addrs.filter_map(|a| network::refusal(a.ip())).collect(),
            _ => Vec::new(),
        },
    };
    let first = kinds.first()?;
    Some(Invalid::new(
        "webhook.address",
        format!(
            "the host is or resolves to a {first} address; webhooks go to public addresses only (an admin may allow \
             others with HWT_WEBHOOK_ALLOW_PRIVATE)"
        ),
    ))
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A resolver for the delivery client that hands out only the public addresses of a name.
pub struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| network::refusal(a.ip()).is_none())
                .collect();
            if public.is_empty() {
                return Err::<reqwest::dns::Addrs, BoxError>("the host resolves to no public address".into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn non_public_hosts_are_refused_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/h",
            "https://10.0.0.8/h",
            "https://[::1]/h",
            "https://[fd00::1]/h",
            "https://169.254.169.254/latest",
            "https://localhost/h",
        ] {
            let why = refusal(url, false)
                .await
                .unwrap_or_else(|| panic!("{url} must be refused"));
            assert_eq!(why.code, "webhook.address");
            assert!(why.message.contains("HWT_WEBHOOK_ALLOW_PRIVATE"), "{}", why.message);
            assert!(refusal(url, true).await.is_none(), "{url} allowed by the setting");
        }
        assert!(refusal("https://8.8.8.8/h", false).await.is_none());
        let why = refusal("https://localhost/h", false).await.unwrap();
        assert!(why.message.contains("loopback"), "{}", why.message);
    }
}
