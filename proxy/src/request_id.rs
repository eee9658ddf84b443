//! Request ids: the client's `x-request-id` when it is short and printable, else a new
//! `req_` + 24 hex digits: 12 of the current time in milliseconds, then 12 random. Time-ordered
//! ids keep the usage table's unique index on `request_id` appending at its end instead of
//! writing random pages (measured by the benchmark).

use rand::RngCore;

/// Longest client-supplied id that is echoed (the width of `usage_logs.request_id`); a longer
/// one is replaced by a generated id.
const MAX_LEN: usize = relay_shared::db::columns::REQUEST_ID;

/// The id for a request given the client's `x-request-id` header, if any.
pub fn request_id(client: Option<&[u8]>) -> String {
    if let Some(raw) = client {
        if !raw.is_empty()
            && raw.len() <= MAX_LEN
            && raw
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        {
            return String::from_utf8_lossy(raw).into_owned();
        }
    }
    let mut bytes = [0u8; 12];
    let ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
    bytes[..6].copy_from_slice(&ms.to_be_bytes()[2..]);
    rand::thread_rng().fill_bytes(&mut bytes[6..]);
    format!("req_{}", hex_lower(&bytes))
}

fn hex_lower(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn client_ids_are_echoed_only_when_safe() {
        assert_eq!(request_id(Some(b"abc-123")), "abc-123");
        let generated = request_id(Some(b"bad id\r\n"));
        assert!(
            generated.starts_with("req_") && generated.len() == 28,
            "{generated}"
        );
        assert_ne!(request_id(None), request_id(None));
        let (a, b) = (request_id(None), request_id(None));
        assert!(a[..16] <= b[..16], "ids sort by time: {a} {b}");
        assert!(request_id(Some(&[b'a'; 200])).starts_with("req_"));
        assert_eq!(request_id(Some(&[b'a'; 64])), "a".repeat(64));
        assert!(request_id(Some(&[b'a'; 65])).starts_with("req_"));
    }
}
