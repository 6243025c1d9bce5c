//! GitLab host URLs: what a caller may connect to, and how API paths are joined onto it.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use url::{Host, Url};

/// Which hosts may be reached over plain http (a fake GitLab on loopback, locally).
#[derive(Debug, Clone, Default)]
pub struct HostPolicy {
    /// Allow `http://` to a loopback address (127.0.0.0/8, ::1, `localhost`).
    pub allow_http_loopback: bool,
    /// Host names (exact, lower case) that may be reached over plain http besides loopback.
    pub http_hosts: Vec<String>,
}

/// Why a host URL was refused; the message is shown to the caller as is.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HostUrlError {
    #[error("host_url must be an absolute URL such as https://gitlab.example.com")]
    Unparsable,
    #[error("host_url must use https (http is allowed only for configured local hosts)")]
    Scheme,
    #[error("host_url must not contain a user name or password")]
    Userinfo,
    #[error("host_url must not contain a query string or fragment")]
    QueryOrFragment,
    #[error("host_url must name a host")]
    NoHost,
    #[error("host_url points at a link-local, metadata or unspecified address, which is never reachable from here")]
    ForbiddenAddress,
}

/// A validated GitLab base URL: scheme, host, optional port and optional path prefix
/// (GitLab installed under a relative URL root such as `https://example.com/gitlab`).
/// Stored and shown without a trailing slash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct HostUrl(Url);

impl HostUrl {
    /// Parses and validates a caller-supplied host URL under `policy`.
    pub fn parse(input: &str, policy: &HostPolicy) -> Result<Self, HostUrlError> {
        let url = Url::parse(input.trim()).map_err(|_| HostUrlError::Unparsable)?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HostUrlError::Userinfo);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(HostUrlError::QueryOrFragment);
        }
        let host = url.host().ok_or(HostUrlError::NoHost)?;
        if let Some(ip) = host_ip(&host)
            && is_forbidden_ip(ip)
        {
            return Err(HostUrlError::ForbiddenAddress);
        }
        match url.scheme() {
            "https" => {}
            "http" if http_allowed(&host, policy) => {}
            "http" => return Err(HostUrlError::Scheme),
            _ => return Err(HostUrlError::Unparsable),
        }
        Ok(Self::normalised(url))
    }

    fn normalised(mut url: Url) -> Self {
        let path = url.path().trim_end_matches('/').to_string();
        url.set_path(&path);
        HostUrl(url)
    }

    /// The URL as shown to callers: no trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// The host part, for display names.
    pub fn host_label(&self) -> String {
        match self.0.port() {
            Some(port) => format!("{}:{port}", self.0.host_str().unwrap_or_default()),
            None => self.0.host_str().unwrap_or_default().to_string(),
        }
    }

    /// Joins a relative path (no leading slash) onto the base, keeping any path prefix:
    /// `https://h/gitlab` + `api/v4/user` = `https://h/gitlab/api/v4/user`.
    pub fn join(&self, relative: &str) -> Url {
        let mut base = self.0.clone();
        let prefix = base.path().trim_end_matches('/').to_string();
        base.set_path(&format!("{prefix}/{}", relative.trim_start_matches('/')));
        base
    }

    /// True when `url` lies on this host (same scheme, host and port), used before sending
    /// the GitLab token to a URL GitLab gave us (avatars).
    pub fn same_origin(&self, url: &Url) -> bool {
        self.0.origin() == url.origin()
    }
}

impl TryFrom<String> for HostUrl {
    type Error = HostUrlError;
    /// Used when reading stored values: they were validated when written.
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Url::parse(&value)
            .map(Self::normalised)
            .map_err(|_| HostUrlError::Unparsable)
    }
}

impl From<HostUrl> for String {
    fn from(value: HostUrl) -> Self {
        value.as_str().to_string()
    }
}

impl std::fmt::Display for HostUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

fn host_ip(host: &Host<&str>) -> Option<IpAddr> {
    match host {
        Host::Ipv4(ip) => Some(IpAddr::V4(*ip)),
        Host::Ipv6(ip) => Some(IpAddr::V6(*ip)),
        Host::Domain(_) => None,
    }
}

fn http_allowed(host: &Host<&str>, policy: &HostPolicy) -> bool {
    let loopback = match host {
        Host::Domain(name) => name.eq_ignore_ascii_case("localhost"),
        other => host_ip(other).is_some_and(|ip| ip.is_loopback()),
    };
    (policy.allow_http_loopback && loopback)
        || matches!(host, Host::Domain(name) if policy.http_hosts.iter().any(|h| h.eq_ignore_ascii_case(name)))
}

/// Addresses no GitLab lives at and that an SSRF would aim for: link-local (cloud metadata at
/// 169.254.169.254 and fd00:ec2::254), unspecified, broadcast and multicast.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return forbidden_v4(v4);
            }
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

fn forbidden_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local() || v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast() || v4.octets()[0] == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict() -> HostPolicy {
        HostPolicy::default()
    }

    fn local() -> HostPolicy {
        HostPolicy {
            allow_http_loopback: true,
            http_hosts: vec![],
        }
    }

    #[test]
    fn keeps_a_path_prefix_and_joins_under_it() {
        let host = HostUrl::parse("https://example.com/gitlab/", &strict()).unwrap();
        assert_eq!(host.as_str(), "https://example.com/gitlab");
        assert_eq!(
            host.join("api/v4/user").as_str(),
            "https://example.com/gitlab/api/v4/user"
        );
        let bare = HostUrl::parse("https://gitlab.com", &strict()).unwrap();
        assert_eq!(bare.as_str(), "https://gitlab.com");
        assert_eq!(bare.join("/api/v4/user").as_str(), "https://gitlab.com/api/v4/user");
    }

    #[test]
    fn refuses_what_the_contract_refuses() {
        let p = strict();
        assert_eq!(HostUrl::parse("gitlab.com", &p), Err(HostUrlError::Unparsable));
        assert_eq!(HostUrl::parse("ftp://gitlab.com", &p), Err(HostUrlError::Unparsable));
        assert_eq!(
            HostUrl::parse("https://u:p@gitlab.com", &p),
            Err(HostUrlError::Userinfo)
        );
        assert_eq!(
            HostUrl::parse("https://gitlab.com/?a=1", &p),
            Err(HostUrlError::QueryOrFragment)
        );
        assert_eq!(
            HostUrl::parse("https://gitlab.com/#x", &p),
            Err(HostUrlError::QueryOrFragment)
        );
        assert_eq!(HostUrl::parse("http://gitlab.com", &p), Err(HostUrlError::Scheme));
        assert_eq!(
            HostUrl::parse("https://169.254.169.254", &p),
            Err(HostUrlError::ForbiddenAddress)
        );
        assert_eq!(
            HostUrl::parse("https://[fe80::1]", &p),
            Err(HostUrlError::ForbiddenAddress)
        );
        assert_eq!(
            HostUrl::parse("https://[::ffff:169.254.169.254]", &p),
            Err(HostUrlError::ForbiddenAddress)
        );
        assert_eq!(
            HostUrl::parse("https://0.0.0.0", &p),
            Err(HostUrlError::ForbiddenAddress)
        );
    }

    #[test]
    fn plain_http_only_to_allowed_hosts() {
        assert_eq!(
            HostUrl::parse("http://127.0.0.1:9000", &strict()),
            Err(HostUrlError::Scheme)
        );
        assert!(HostUrl::parse("http://127.0.0.1:9000", &local()).is_ok());
        assert!(HostUrl::parse("http://localhost:9000", &local()).is_ok());
        assert!(HostUrl::parse("http://[::1]:9000", &local()).is_ok());
        assert_eq!(HostUrl::parse("http://10.0.0.5", &local()), Err(HostUrlError::Scheme));
        let named = HostPolicy {
            allow_http_loopback: false,
            http_hosts: vec!["gitlab.internal".into()],
        };
        assert!(HostUrl::parse("http://gitlab.internal", &named).is_ok());
    }

    #[test]
    fn same_origin_compares_scheme_host_and_port() {
        let host = HostUrl::parse("https://example.com/gitlab", &strict()).unwrap();
        assert!(host.same_origin(&Url::parse("https://example.com/uploads/a.png").unwrap()));
        assert!(!host.same_origin(&Url::parse("https://evil.example/a.png").unwrap()));
        assert!(!host.same_origin(&Url::parse("http://example.com/a.png").unwrap()));
    }
}
