//! The console's session cookie: `relay_session`, HttpOnly, SameSite=Strict, Path=/, holding
//! the same JWT the login answer carries (`Secure` when the client came over HTTPS).

use std::time::Duration;

use axum::http::header::COOKIE;
use axum::http::{HeaderMap, HeaderValue};

/// Name of the session cookie.
pub const COOKIE_NAME: &str = "relay_session";

/// `Set-Cookie` value holding `token` for `max_age`.
pub fn session_cookie(token: &str, max_age: Duration, secure: bool) -> HeaderValue {
    build(token, max_age.as_secs(), secure)
}

/// `Set-Cookie` value that deletes the session cookie.
pub fn clear_cookie(secure: bool) -> HeaderValue {
    build("", 0, secure)
}

fn build(value: &str, max_age: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{COOKIE_NAME}={value}; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}{secure}"
    );
    // A JWT is base64url and dots, so the value is always a valid header value.
    HeaderValue::from_str(&text)
        .unwrap_or_else(|_| HeaderValue::from_static("relay_session=; Max-Age=0"))
}

/// The session cookie's value in the request, if any (and not empty).
pub fn read(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, value)| *name == COOKIE_NAME && !value.is_empty())
        .map(|(_, value)| value.trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_cookie_is_strict_http_only_and_readable() {
        let c = session_cookie("a.b.c", Duration::from_secs(60), false);
        let s = c.to_str().unwrap();
        assert!(s.starts_with("relay_session=a.b.c;"));
        for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=60"] {
            assert!(s.contains(attr), "{s}");
        }
        assert!(!s.contains("Secure"));
        assert!(clear_cookie(true)
            .to_str()
            .unwrap()
            .contains("Max-Age=0; Secure"));
        let mut h = HeaderMap::new();
        h.insert(COOKIE, "theme=dark; relay_session=x.y.z".parse().unwrap());
        assert_eq!(read(&h).as_deref(), Some("x.y.z"));
        h.insert(COOKIE, "relay_session=".parse().unwrap());
        assert_eq!(read(&h), None);
    }
}
