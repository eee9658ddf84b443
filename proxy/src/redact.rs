//! No secret at any log level (SPEC §11), the framework's own lines included: every log line
//! passes through [`redact`] before it is written. Pingora's debug lines print request
//! headers and, for a malformed request, the raw bytes; our own lines never carry secrets, but
//! the filter does not rely on that. It removes API keys (`sk-…`), bearer tokens, JWTs and the
//! values of credential headers (`x-api-key`, `authorization`, `cookie`, `set-cookie`,
//! `proxy-authorization`), in the shapes they take in a header dump (`name: value`,
//! `"name": "value"`).

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

/// What replaces a secret.
pub const REDACTED: &str = "[redacted]";

fn patterns() -> &'static [Regex] {
    static PATTERNS: OnceLock<Vec<Regex>> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        [
            // Credential headers, as `name: value` (up to the end of the line or an escaped
            // CR/LF) or as `"name": "value"`.
            r#"(?i)((?:x-api-key|authorization|proxy-authorization|cookie|set-cookie)"?\s*[:=]\s*"?)[^"\r\n\\]+"#,
            // Bearer tokens anywhere.
            r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+",
            // JSON web tokens.
            r"()\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*",
            // Anthropic and relay keys, OAuth access and refresh tokens.
            r"()\bsk-[A-Za-z0-9_-]{8,}",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    })
}

/// `line` with every secret replaced by [`REDACTED`] (borrowed when there is none).
pub fn redact(line: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(line);
    for re in patterns() {
        if re.is_match(&out) {
            let replaced = re
                .replace_all(&out, format!("${{1}}{REDACTED}"))
                .into_owned();
            out = Cow::Owned(replaced);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_every_shape_are_removed() {
        let cases = [
            (
                r#"headers: {"x-api-key": "sk-relay-abcdef0123456789", "host": "a"}"#,
                r#"headers: {"x-api-key": "[redacted]", "host": "a"}"#,
            ),
            (
                "buf: POST / HTTP/1.1\\r\\nAuthorization: Bearer eyJhbGciOi.eyJzdWIi.sig\\r\\nHost: x",
                "buf: POST / HTTP/1.1\\r\\nAuthorization: [redacted]\\r\\nHost: x",
            ),
            (
                "cookie: relay_session=abc; other=1",
                "cookie: [redacted]",
            ),
            (
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOjF9.c2lnbmF0dXJl in text",
                "token [redacted] in text",
            ),
            (
                "secret sk-ant-api03-AbCdEfGh_123 used",
                "secret [redacted] used",
            ),
            ("send it as Bearer xyz.123", "send it as Bearer [redacted]"),
        ];
        for (line, want) in cases {
            assert_eq!(redact(line), want, "{line}");
        }
    }

    #[test]
    fn lines_without_secrets_are_left_alone() {
        let line = r#"relayed request_id=req_01 key_id=3 model=claude-sonnet-4-5 status=200"#;
        assert!(matches!(redact(line), Cow::Borrowed(_)));
        // Short "sk-" words are not keys.
        assert_eq!(redact("task-sk-1 done"), "task-sk-1 done");
    }
}
