//! The HTTP CONNECT handshake (RFC 9110 §9.3.6) over any stream, plain or TLS: one request
//! with `Proxy-Authorization: Basic` when the proxy has credentials, then the answer's header
//! read to its end and nothing more, so the stream is the tunnel afterwards.

use base64::Engine;
use relay_shared::proxy_spec::ProxyCredentials;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

use super::ProxyError;

/// Longest answer header accepted from a proxy.
const MAX_HEAD: usize = 8 * 1024;

/// Asks the proxy at `proxy` (for messages) over `io` for a tunnel to `host:port`.
pub(super) async fn handshake<S>(
    io: &mut S,
    proxy: &str,
    host: &str,
    port: u16,
    credentials: Option<&ProxyCredentials>,
) -> Result<(), ProxyError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    // The request holds the credentials: wiped once sent.
    let mut req = Zeroizing::new(format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
    ));
    if let Some(c) = credentials {
        let pair = Zeroizing::new(format!("{}:{}", c.user(), c.password()));
        let token =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(pair.as_bytes()));
        req.push_str("Proxy-Authorization: Basic ");
        req.push_str(&token);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    let broken = |e: std::io::Error| ProxyError::Protocol {
        proxy: proxy.to_string(),
        detail: e.to_string(),
    };
    io.write_all(req.as_bytes()).await.map_err(broken)?;
    io.flush().await.map_err(broken)?;

    let mut head = Vec::with_capacity(256);
    let end = loop {
        let mut buf = [0u8; 1024];
        let n = io.read(&mut buf).await.map_err(broken)?;
        if n == 0 {
            return Err(ProxyError::Protocol {
                proxy: proxy.to_string(),
                detail: "the proxy closed the connection before answering".into(),
            });
        }
        head.extend_from_slice(&buf[..n]);
        if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if head.len() > MAX_HEAD {
            return Err(ProxyError::Protocol {
                proxy: proxy.to_string(),
                detail: "the proxy's answer header is too long".into(),
            });
        }
    };
    let (status, reason) = status_line(&head).ok_or_else(|| ProxyError::Protocol {
        proxy: proxy.to_string(),
        detail: "the proxy's answer is not HTTP".into(),
    })?;
    let detail = format!("HTTP {status} {reason}").trim_end().to_string();
    match status {
        200..=299 if head.len() > end => Err(ProxyError::Protocol {
            proxy: proxy.to_string(),
            detail: "the proxy sent data before the tunnel was used".into(),
        }),
        200..=299 => Ok(()),
        407 => Err(ProxyError::AuthRejected {
            proxy: proxy.to_string(),
            detail,
        }),
        _ => Err(ProxyError::Refused {
            proxy: proxy.to_string(),
            detail,
        }),
    }
}

/// The status code and (printable, shortened) reason phrase of an HTTP answer.
fn status_line(head: &[u8]) -> Option<(u16, String)> {
    let line = head.split(|b| *b == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let mut parts = line.splitn(3, ' ');
    if !parts.next()?.starts_with("HTTP/1.") {
        return None;
    }
    let status = parts.next()?.parse().ok()?;
    let reason: String = parts
        .next()
        .unwrap_or("")
        .chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect();
    Some((status, reason))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use relay_shared::proxy_spec::ProxySpec;

    /// Runs the handshake against a scripted proxy; returns the outcome and what it was sent.
    async fn against(answer: &'static [u8], url: &str) -> (Result<(), ProxyError>, String) {
        let (mut ours, mut theirs) = tokio::io::duplex(64 * 1024);
        let proxy = tokio::spawn(async move {
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let mut buf = [0u8; 512];
                let n = theirs.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            theirs.write_all(answer).await.unwrap();
            String::from_utf8(got).unwrap()
        });
        let spec = ProxySpec::parse(url).unwrap();
        let r = handshake(&mut ours, "p:1", "api.example", 443, spec.credentials()).await;
        (r, proxy.await.unwrap())
    }

    #[tokio::test]
    async fn a_200_opens_the_tunnel_and_credentials_go_as_basic_auth() {
        let (r, sent) = against(
            b"HTTP/1.1 200 Connection established\r\n\r\n",
            "http://al%40ice:s3cret@p:1",
        )
        .await;
        r.unwrap();
        assert!(sent.starts_with("CONNECT api.example:443 HTTP/1.1\r\nHost: api.example:443\r\n"));
        // base64("al@ice:s3cret")
        assert!(
            sent.contains("Proxy-Authorization: Basic YWxAaWNlOnMzY3JldA==\r\n"),
            "{sent}"
        );
    }

    #[tokio::test]
    async fn without_credentials_no_authorization_is_sent() {
        let (r, sent) = against(b"HTTP/1.0 200 OK\r\nVia: x\r\n\r\n", "http://p:1").await;
        r.unwrap();
        assert!(!sent.to_ascii_lowercase().contains("proxy-authorization"));
    }

    #[tokio::test]
    async fn a_407_says_the_credentials_were_refused() {
        let (r, _) = against(
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n",
            "http://u:wrong@p:1",
        )
        .await;
        let e = r.unwrap_err();
        assert!(matches!(e, ProxyError::AuthRejected { .. }), "{e}");
        assert!(
            e.to_string().contains("407 Proxy Authentication Required"),
            "{e}"
        );
        assert!(!e.to_string().contains("wrong"));
    }

    #[tokio::test]
    async fn other_statuses_and_garbage_are_errors() {
        let (r, _) = against(b"HTTP/1.1 502 Bad Gateway\r\n\r\n", "http://p:1").await;
        assert!(
            matches!(r, Err(ProxyError::Refused { ref detail, .. }) if detail == "HTTP 502 Bad Gateway")
        );
        let (r, _) = against(b"SSH-2.0-OpenSSH\r\n\r\n", "http://p:1").await;
        assert!(matches!(r, Err(ProxyError::Protocol { .. })));
        let (r, _) = against(b"HTTP/1.1 200 OK\r\n\r\nearly", "http://p:1").await;
        assert!(matches!(r, Err(ProxyError::Protocol { .. })));
    }

    #[tokio::test]
    async fn an_ipv6_target_is_bracketed() {
        let (mut ours, mut theirs) = tokio::io::duplex(4096);
        let task = tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let n = theirs.read(&mut buf).await.unwrap();
            theirs.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        handshake(&mut ours, "p:1", "::1", 8443, None)
            .await
            .unwrap();
        assert!(task
            .await
            .unwrap()
            .starts_with("CONNECT [::1]:8443 HTTP/1.1\r\n"));
    }

    #[tokio::test]
    async fn a_proxy_that_hangs_up_is_an_error() {
        let (mut ours, theirs) = tokio::io::duplex(4096);
        drop(theirs);
        let r = handshake(&mut ours, "p:1", "h", 1, None).await;
        assert!(matches!(r, Err(ProxyError::Protocol { .. })));
    }
}
