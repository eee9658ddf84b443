//! Client authentication (SPEC §2.2): the relay key from `x-api-key`, else
//! `Authorization: Bearer`, looked up by SHA-256 in the snapshot.

use std::sync::Arc;

use pingora::http::RequestHeader;

use crate::error::ErrorKind;
use crate::snapshot::{key_digest, KeyEntry, Snapshot};

/// Why a request was not authenticated; each maps to `401 authentication_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No key in either header.
    Missing,
    /// No such key, sent in `x-api-key`.
    UnknownApiKey,
    /// No such key, sent as `Authorization: Bearer`.
    UnknownBearer,
    /// The key is disabled.
    Disabled,
    /// The key has expired.
    Expired,
    /// The key's owner is disabled.
    OwnerDisabled,
    /// The key's owner may no longer use its group (403, not 401).
    NotInGroup,
}

impl AuthError {
    /// The answer's kind: 401, or 403 when the key is valid but may not use its group.
    pub fn kind(self) -> ErrorKind {
        match self {
            Self::NotInGroup => ErrorKind::Permission,
            _ => ErrorKind::Authentication,
        }
    }

    /// The message sent to the client.
    pub fn message(self) -> &'static str {
        match self {
            Self::Missing => {
                "missing API key: send it in the x-api-key header or as Authorization: Bearer"
            }
            Self::UnknownApiKey => "invalid x-api-key",
            Self::UnknownBearer => "invalid bearer token in the Authorization header",
            Self::Disabled => "this API key is disabled",
            Self::Expired => "this API key has expired",
            Self::OwnerDisabled => "the owner of this API key is disabled",
            Self::NotInGroup => {
                "the owner of this API key is no longer a member of the key's group"
            }
        }
    }
}

/// The presented key, if any: `x-api-key` first, then `Authorization: Bearer`.
pub fn presented_key(req: &RequestHeader) -> Option<&[u8]> {
    presented(req).map(|(k, _)| k)
}

/// The presented key and whether it came as a bearer token.
fn presented(req: &RequestHeader) -> Option<(&[u8], bool)> {
    if let Some(v) = req.headers.get("x-api-key") {
        let v = v.as_bytes().trim_ascii();
        if !v.is_empty() {
            return Some((v, false));
        }
    }
    let auth = req
        .headers
        .get(http::header::AUTHORIZATION)?
        .as_bytes()
        .trim_ascii();
    let (scheme, rest) = auth.split_at(auth.iter().position(|&b| b == b' ')?);
    if scheme.eq_ignore_ascii_case(b"bearer") {
        let token = rest.trim_ascii();
        (!token.is_empty()).then_some((token, true))
    } else {
        None
    }
}

/// Authenticates the request against the snapshot at time `now_ms`.
pub fn authenticate(
    snap: &Snapshot,
    req: &RequestHeader,
    now_ms: i64,
) -> Result<Arc<KeyEntry>, AuthError> {
    let (key, bearer) = presented(req).ok_or(AuthError::Missing)?;
    let unknown = if bearer {
        AuthError::UnknownBearer
    } else {
        AuthError::UnknownApiKey
    };
    let entry = snap.key(&key_digest(key)).ok_or(unknown)?;
    if !entry.enabled {
        return Err(AuthError::Disabled);
    }
    if !entry.owner_enabled {
        return Err(AuthError::OwnerDisabled);
    }
    if entry.expires_at.is_some_and(|t| t <= now_ms) {
        return Err(AuthError::Expired);
    }
    if !entry.owner_in_group {
        return Err(AuthError::NotInGroup);
    }
    Ok(entry.clone())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(headers: &[(&str, &str)]) -> RequestHeader {
        let mut r = RequestHeader::build("POST", b"/v1/messages", None).unwrap();
        for (k, v) in headers {
            r.append_header(k.to_string(), *v).unwrap();
        }
        r
    }

    #[test]
    fn the_key_comes_from_x_api_key_then_bearer() {
        assert_eq!(
            presented_key(&req(&[("x-api-key", "k1"), ("authorization", "Bearer k2")])),
            Some(&b"k1"[..])
        );
        assert_eq!(
            presented_key(&req(&[("authorization", "Bearer  k2 ")])),
            Some(&b"k2"[..])
        );
        assert_eq!(
            presented_key(&req(&[("authorization", "bearer k3")])),
            Some(&b"k3"[..])
        );
        assert_eq!(presented_key(&req(&[("authorization", "Basic abc")])), None);
        assert_eq!(presented_key(&req(&[("x-api-key", " ")])), None);
        assert_eq!(presented_key(&req(&[])), None);
    }
}
