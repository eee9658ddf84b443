//! The request body (SPEC §2.3): the fields that decide routing (`model`, `stream`,
//! `metadata.user_id`) read in one pass that also validates the JSON, and the one rewrite the
//! relay ever makes (the `model` value, for accounts with a model mapping).

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use relay_shared::db::columns;
use serde::Deserialize;
use serde_json::value::RawValue;

/// What routing needs from a Messages request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    /// Requested model.
    pub model: String,
    /// `stream: true`.
    pub stream: bool,
    /// Claude Code session from `metadata.user_id` (JSON form or legacy `…_session_<uuid>`).
    pub session_id: Option<String>,
    model_span: Range<usize>,
}

/// Why a body was refused (400 `invalid_request_error`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BodyError {
    /// Not JSON, or not an object.
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    /// No `model`.
    #[error("model: field required")]
    MissingModel,
    /// `model` is not a non-empty string.
    #[error("model: must be a non-empty string")]
    BadModel,
    /// `model` is longer than [`columns::MODEL`] bytes.
    #[error("model: longer than the maximum of {} bytes", columns::MODEL)]
    ModelTooLong,
    /// `stream` is not a boolean.
    #[error("stream: must be a boolean")]
    BadStream,
    /// The session id in `metadata.user_id` is longer than [`columns::SESSION_ID`] bytes.
    #[error(
        "metadata.user_id: the session id is longer than the maximum of {} bytes",
        columns::SESSION_ID
    )]
    SessionTooLong,
}

#[derive(Deserialize)]
struct Probe<'a> {
    #[serde(borrow, default)]
    model: Option<&'a RawValue>,
    #[serde(borrow, default)]
    stream: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct Metadata {
    #[serde(default)]
    user_id: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct UserIdJson {
    #[serde(default)]
    session_id: Option<String>,
}

/// Parses and validates a Messages body.
pub fn parse(body: &[u8]) -> Result<RequestMeta, BodyError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first.is_some_and(|&b| b != b'{') {
        return Err(BodyError::InvalidJson(
            "the body must be a JSON object".into(),
        ));
    }
    let probe: Probe<'_> = serde_json::from_slice(body).map_err(|e| {
        let msg = e.to_string();
        if msg.contains("expected struct Probe") {
            BodyError::InvalidJson("the body must be a JSON object".into())
        } else {
            BodyError::InvalidJson(msg)
        }
    })?;
    let raw = probe.model.ok_or(BodyError::MissingModel)?;
    // The raw text is never shorter than the value, so a long one is refused before it is
    // copied.
    if raw.get().len() > columns::MODEL * 6 + 2 {
        return Err(BodyError::ModelTooLong);
    }
    let model: String = serde_json::from_str(raw.get()).map_err(|_| BodyError::BadModel)?;
    if model.trim().is_empty() {
        return Err(BodyError::BadModel);
    }
    if model.len() > columns::MODEL {
        return Err(BodyError::ModelTooLong);
    }
    let start = (raw.get().as_ptr() as usize).wrapping_sub(body.as_ptr() as usize);
    let model_span = start..start + raw.get().len();
    let stream = match probe.stream.map(|r| r.get()) {
        None | Some("null") => false,
        Some("true") => true,
        Some("false") => false,
        Some(_) => return Err(BodyError::BadStream),
    };
    let session_id = probe.metadata.and_then(|m| session_from_metadata(m.get()));
    if session_id
        .as_ref()
        .is_some_and(|s| s.len() > columns::SESSION_ID)
    {
        return Err(BodyError::SessionTooLong);
    }
    Ok(RequestMeta {
        model,
        stream,
        session_id,
        model_span,
    })
}

fn session_from_metadata(raw: &str) -> Option<String> {
    let meta: Metadata = serde_json::from_str(raw).ok()?;
    let user_id = match meta.user_id? {
        serde_json::Value::String(s) => s,
        _ => return None,
    };
    if user_id.trim_start().starts_with('{') {
        let parsed: UserIdJson = serde_json::from_str(&user_id).ok()?;
        return parsed.session_id.filter(|s| !s.is_empty());
    }
    user_id
        .rsplit_once("_session_")
        .map(|(_, s)| s.to_string())
        .filter(|s| !s.is_empty())
}

/// The body with its `model` value replaced by `new_model` (everything else byte-identical).
pub fn with_model(body: &Bytes, meta: &RequestMeta, new_model: &str) -> Bytes {
    let quoted = serde_json::Value::String(new_model.to_string()).to_string();
    let span = meta.model_span.clone();
    if span.end > body.len() {
        return body.clone();
    }
    let mut out = BytesMut::with_capacity(body.len() - span.len() + quoted.len());
    out.extend_from_slice(&body[..span.start]);
    out.extend_from_slice(quoted.as_bytes());
    out.extend_from_slice(&body[span.end..]);
    out.freeze()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn routing_fields_are_read_and_validated() {
        let m = parse(br#"{"max_tokens":5,"messages":[],"model":"claude-opus-4-8","stream":true}"#)
            .unwrap();
        assert_eq!(
            (m.model.as_str(), m.stream, m.session_id.as_deref()),
            ("claude-opus-4-8", true, None)
        );
        assert!(!parse(br#"{"model":"m","stream":null}"#).unwrap().stream);
        assert_eq!(parse(br#"{"messages":[]}"#), Err(BodyError::MissingModel));
        assert_eq!(parse(br#"{"model":5}"#), Err(BodyError::BadModel));
        assert_eq!(parse(br#"{"model":""}"#), Err(BodyError::BadModel));
        assert_eq!(
            parse(br#"{"model":"m","stream":"yes"}"#),
            Err(BodyError::BadStream)
        );
        assert!(matches!(
            parse(b"{\"model\":"),
            Err(BodyError::InvalidJson(_))
        ));
        assert!(matches!(parse(b"not json"), Err(BodyError::InvalidJson(_))));
        assert_eq!(
            parse(b"[1,2]"),
            Err(BodyError::InvalidJson(
                "the body must be a JSON object".into()
            ))
        );
    }

    #[test]
    fn identifiers_past_their_documented_maximum_are_refused() {
        let at_max = format!(r#"{{"model":"{}"}}"#, "m".repeat(columns::MODEL));
        assert_eq!(
            parse(at_max.as_bytes()).unwrap().model.len(),
            columns::MODEL
        );
        let over = format!(r#"{{"model":"{}"}}"#, "m".repeat(columns::MODEL + 1));
        assert_eq!(parse(over.as_bytes()), Err(BodyError::ModelTooLong));
        let huge = format!(r#"{{"model":"{}"}}"#, "m".repeat(4 << 20));
        assert_eq!(parse(huge.as_bytes()), Err(BodyError::ModelTooLong));
        // Escapes make the raw text longer than the value: the value is what counts.
        let escaped = format!(r#"{{"model":"{}"}}"#, "\\u0041".repeat(columns::MODEL));
        assert_eq!(
            parse(escaped.as_bytes()).unwrap().model.len(),
            columns::MODEL
        );
        let session = format!(
            r#"{{"model":"m","metadata":{{"user_id":"user_a_account__session_{}"}}}}"#,
            "s".repeat(columns::SESSION_ID + 1)
        );
        assert_eq!(parse(session.as_bytes()), Err(BodyError::SessionTooLong));
    }

    #[test]
    fn session_ids_come_from_both_user_id_forms() {
        let json_form = r#"{"model":"m","metadata":{"user_id":"{\"device_id\":\"ab\",\"account_uuid\":\"\",\"session_id\":\"5f1c\"}"}}"#;
        assert_eq!(
            parse(json_form.as_bytes()).unwrap().session_id.as_deref(),
            Some("5f1c")
        );
        let legacy = r#"{"model":"m","metadata":{"user_id":"user_abc_account__session_9e2d-11"}}"#;
        assert_eq!(
            parse(legacy.as_bytes()).unwrap().session_id.as_deref(),
            Some("9e2d-11")
        );
        assert_eq!(
            parse(br#"{"model":"m","metadata":{"user_id":"plain"}}"#)
                .unwrap()
                .session_id,
            None
        );
    }

    #[test]
    fn only_the_model_value_is_rewritten() {
        let body = Bytes::from_static(
            br#"{"model" : "claude-sonnet-4-5", "messages":[{"role":"user","content":"model"}]}"#,
        );
        let meta = parse(&body).unwrap();
        let out = with_model(&body, &meta, "glm-4.6");
        assert_eq!(
            &out[..],
            br#"{"model" : "glm-4.6", "messages":[{"role":"user","content":"model"}]}"#
        );
    }
}
