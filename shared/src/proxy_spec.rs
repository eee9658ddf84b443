//! An account's outbound proxy (SPEC §3.8), parsed once from its `proxy_url`:
//! `http://` (HTTP CONNECT), `https://` (HTTP CONNECT over TLS to the proxy), `socks5://`
//! (the target resolved locally) or `socks5h://` (the proxy resolves it), with an optional
//! `user:password@`. The relay's upstream connections, the token refresh, the recovery probe
//! and the admin account test all go through the same [`ProxySpec`]; reqwest clients get it
//! from [`ProxySpec::reqwest_proxy`].
//!
//! The credentials are zeroized on drop, and neither `Debug` nor [`ProxySpec::redacted`]
//! ever shows the password.

use std::fmt;
use std::hash::{Hash, Hasher};

use percent_encoding::percent_decode_str;
use url::Url;
use zeroize::Zeroizing;

/// How the relay talks to the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProxyScheme {
    /// `http://`: HTTP CONNECT over plain TCP.
    Http,
    /// `https://`: HTTP CONNECT over TLS to the proxy (verified like any upstream).
    Https,
    /// `socks5://`: SOCKS5, the target host resolved by the relay.
    Socks5,
    /// `socks5h://`: SOCKS5, the target host name resolved by the proxy.
    Socks5h,
}

impl ProxyScheme {
    /// The URL scheme.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Socks5 => "socks5",
            Self::Socks5h => "socks5h",
        }
    }

    /// Whether this is a SOCKS5 proxy.
    pub fn is_socks(self) -> bool {
        matches!(self, Self::Socks5 | Self::Socks5h)
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
            Self::Socks5 | Self::Socks5h => 1080,
        }
    }
}

/// Why a proxy URL is unusable. The messages never quote the URL (it may hold a password).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ProxySpecError {
    /// Not a URL at all.
    #[error("the proxy URL cannot be parsed")]
    Invalid,
    /// A scheme other than http, https, socks5 or socks5h.
    #[error("the proxy URL's scheme must be http, https, socks5 or socks5h")]
    Scheme,
    /// No host.
    #[error("the proxy URL has no host")]
    NoHost,
    /// The user name or password is not valid UTF-8 once percent-decoded.
    #[error("the proxy URL's user name or password is not valid UTF-8")]
    Credentials,
}

/// A user name and password for the proxy, zeroized on drop.
#[derive(Clone)]
pub struct ProxyCredentials {
    user: Zeroizing<String>,
    password: Zeroizing<String>,
}

impl ProxyCredentials {
    /// The user name (percent-decoded).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password (percent-decoded; empty when the URL had none).
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyCredentials")
            .field("user", &self.user.as_str())
            .field("password", &"****")
            .finish()
    }
}

/// A parsed proxy URL.
#[derive(Clone, Debug)]
pub struct ProxySpec {
    scheme: ProxyScheme,
    host: String,
    port: u16,
    credentials: Option<ProxyCredentials>,
}

impl ProxySpec {
    /// Parses `http://`, `https://`, `socks5://` or `socks5h://` URLs such as
    /// `socks5h://user:p%40ss@10.0.0.1:1080` (the port defaults to 80, 443 or 1080). A path,
    /// query or fragment is ignored, as reqwest and curl do (the admin API accepts them).
    pub fn parse(url: &str) -> Result<Self, ProxySpecError> {
        let url = Url::parse(url.trim()).map_err(|_| ProxySpecError::Invalid)?;
        let scheme = match url.scheme() {
            "http" => ProxyScheme::Http,
            "https" => ProxyScheme::Https,
            "socks5" => ProxyScheme::Socks5,
            "socks5h" => ProxyScheme::Socks5h,
            _ => return Err(ProxySpecError::Scheme),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or(ProxySpecError::NoHost)?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let decode = |s: &str| {
            percent_decode_str(s)
                .decode_utf8()
                .map(|c| Zeroizing::new(c.into_owned()))
                .map_err(|_| ProxySpecError::Credentials)
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, password) => Some(ProxyCredentials {
                user: decode(user)?,
                password: decode(password.unwrap_or(""))?,
            }),
        };
        Ok(Self {
            scheme,
            port: url.port().unwrap_or(scheme.default_port()),
            host,
            credentials,
        })
    }

    /// The scheme.
    pub fn scheme(&self) -> ProxyScheme {
        self.scheme
    }

    /// The proxy's host name or IP address (without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The user name and password, if any.
    pub fn credentials(&self) -> Option<&ProxyCredentials> {
        self.credentials.as_ref()
    }

    /// `host:port`, bracketing an IPv6 address (for logs and error messages).
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The URL with the password replaced by `****` (safe to log or show).
    pub fn redacted(&self) -> String {
        let auth = match &self.credentials {
            Some(c) => format!("{}:****@", percent_encode_userinfo(c.user())),
            None => String::new(),
        };
        format!("{}://{auth}{}", self.scheme.as_str(), self.authority())
    }

    /// The same proxy for a reqwest client (`ClientBuilder::proxy`): every request of that
    /// client goes through it, with the credentials for HTTP(S) and SOCKS5 alike. reqwest
    /// needs its `socks` feature for `socks5`/`socks5h` (this crate enables it).
    pub fn reqwest_proxy(&self) -> Result<reqwest::Proxy, reqwest::Error> {
        let proxy =
            reqwest::Proxy::all(format!("{}://{}", self.scheme.as_str(), self.authority()))?;
        Ok(match &self.credentials {
            Some(c) => proxy.basic_auth(c.user(), c.password()),
            None => proxy,
        })
    }
}

/// Two specs are equal when they name the same proxy with the same credentials.
impl PartialEq for ProxySpec {
    fn eq(&self, other: &Self) -> bool {
        fn creds(s: &ProxySpec) -> Option<(&str, &str)> {
            s.credentials.as_ref().map(|c| (c.user(), c.password()))
        }
        self.scheme == other.scheme
            && self.host == other.host
            && self.port == other.port
            && creds(self) == creds(other)
    }
}

impl Eq for ProxySpec {}

/// Hashes what [`PartialEq`] compares (credentials included: connections opened with one
/// password must not serve another).
impl Hash for ProxySpec {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.scheme.hash(state);
        self.host.hash(state);
        self.port.hash(state);
        self.credentials
            .as_ref()
            .map(|c| (c.user(), c.password()))
            .hash(state);
    }
}

/// Percent-encodes what may not stand in a URL's user name.
fn percent_encode_userinfo(s: &str) -> String {
    use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
    const USERINFO: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'%')
        .add(b'/')
        .add(b':')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'@')
        .add(b'[')
        .add(b'\\')
        .add(b']')
        .add(b'^')
        .add(b'`')
        .add(b'{')
        .add(b'|')
        .add(b'}');
    utf8_percent_encode(s, USERINFO).to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_scheme_parses_with_its_default_port() {
        let cases = [
            ("http://proxy.example", ProxyScheme::Http, 80),
            ("https://proxy.example", ProxyScheme::Https, 443),
            ("socks5://proxy.example", ProxyScheme::Socks5, 1080),
            (
                "socks5h://proxy.example/ignored",
                ProxyScheme::Socks5h,
                1080,
            ),
            ("http://127.0.0.1:3128", ProxyScheme::Http, 3128),
        ];
        for (url, scheme, port) in cases {
            let p = ProxySpec::parse(url).unwrap();
            assert_eq!((p.scheme(), p.port()), (scheme, port), "{url}");
            assert!(p.credentials().is_none());
        }
        let v6 = ProxySpec::parse("socks5://[::1]:1081").unwrap();
        assert_eq!((v6.host(), v6.authority().as_str()), ("::1", "[::1]:1081"));
    }

    #[test]
    fn credentials_are_percent_decoded() {
        let p = ProxySpec::parse("socks5h://us%40er:p%3Ass%20w@10.0.0.1:1080").unwrap();
        let c = p.credentials().unwrap();
        assert_eq!((c.user(), c.password()), ("us@er", "p:ss w"));
        let only_user = ProxySpec::parse("http://alice@h:1").unwrap();
        assert_eq!(only_user.credentials().unwrap().password(), "");
    }

    #[test]
    fn unusable_urls_are_refused_without_quoting_them() {
        let cases = [
            ("not a url", ProxySpecError::Invalid),
            ("ftp://u:secret@h:21", ProxySpecError::Scheme),
            ("socks4://h:1080", ProxySpecError::Scheme),
            ("socks5:secret", ProxySpecError::NoHost),
            ("http://u:%FF@h:1", ProxySpecError::Credentials),
        ];
        for (url, want) in cases {
            let e = ProxySpec::parse(url).unwrap_err();
            assert_eq!(e, want, "{url}");
            assert!(!e.to_string().contains("secret"));
        }
    }

    #[test]
    fn neither_debug_nor_redacted_shows_the_password() {
        let p = ProxySpec::parse("http://bob:hunter2-secret@proxy.example:8080").unwrap();
        let debug = format!("{p:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("bob"), "{debug}");
        assert_eq!(p.redacted(), "http://bob:****@proxy.example:8080");
    }

    #[test]
    fn specs_differ_by_credentials() {
        let a = ProxySpec::parse("socks5://u:one@h:1080").unwrap();
        let b = ProxySpec::parse("socks5://u:two@h:1080").unwrap();
        assert_ne!(a, b);
        assert_eq!(a, ProxySpec::parse("socks5://u:one@h:1080/").unwrap());
    }

    #[test]
    fn reqwest_clients_take_every_kind_of_proxy() {
        for url in [
            "http://u:p@127.0.0.1:3128",
            "https://127.0.0.1:443",
            "socks5://u:p%40@127.0.0.1:1080",
            "socks5h://127.0.0.1:1080",
        ] {
            let proxy = ProxySpec::parse(url).unwrap().reqwest_proxy().unwrap();
            assert!(
                reqwest::Client::builder().proxy(proxy).build().is_ok(),
                "{url}"
            );
        }
    }
}
