//! Request extractors with our own rejections: [`ApiJson`], [`MaybeJson`] and [`ApiQuery`]
//! answer malformed input with a 400 in the API's error shape, naming the field whenever
//! serde says which;
//! [`PageParams`] and [`Paged`] are the list contract (`?page=&page_size=` →
//! `{items,total,page,page_size}`).

use axum::body::Bytes;
use axum::extract::path::ErrorKind;
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use relay_shared::db::Page;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiError;

/// Largest `page_size` served; larger values are capped.
pub const MAX_PAGE_SIZE: u32 = 100;
/// `page_size` when none is given.
pub const DEFAULT_PAGE_SIZE: u32 = 20;

/// A JSON body. Requires a JSON content type; a syntax error, a wrong type, a missing or an
/// unknown field is a 400 that names the field.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers().get(CONTENT_TYPE)) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Invalid {
                    code: "invalid_body",
                    field: None,
                    message: e.body_text(),
                }
            }
        })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// An optional JSON body: no body (or only whitespace) is `None`; anything else is read as
/// [`ApiJson`] reads it.
#[derive(Debug, Clone, Default)]
pub struct MaybeJson<T>(pub Option<T>);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for MaybeJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json = is_json(req.headers().get(CONTENT_TYPE));
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::Invalid {
                    code: "invalid_body",
                    field: None,
                    message: e.body_text(),
                }
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(None));
        }
        if !json {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse_json(&bytes).map(|v| Self(Some(v)))
    }
}

fn is_json(ct: Option<&axum::http::HeaderValue>) -> bool {
    let Some(ct) = ct.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mime = ct.split(';').next().unwrap_or_default().trim();
    mime.eq_ignore_ascii_case("application/json")
        || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses `bytes` as `T`, turning serde's complaint into a 400 naming the field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let raw = strip_position(&inner.to_string());
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::Invalid {
                code: "invalid_json",
                field: None,
                message: format!("the body is not valid JSON: {raw}"),
            };
        }
        serde_error(&path, &raw)
    })
}

/// Builds the 400 for a serde error at `path` (`.` or empty for the root) with message `raw`.
fn serde_error(path: &str, raw: &str) -> ApiError {
    if let Some(name) = backticked(raw, "unknown field `") {
        // The path already ends with the unknown field's name.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.to_string()
        } else {
            join_path(path, &name)
        };
        return ApiError::Invalid {
            code: "unknown_field",
            message: format!("unknown field `{field}`"),
            field: Some(field),
        };
    }
    if let Some(name) = backticked(raw, "missing field `") {
        let field = join_path(path, &name);
        return ApiError::Invalid {
            code: "invalid_request",
            message: format!("`{field}` is required"),
            field: Some(field),
        };
    }
    let field = (!path.is_empty() && path != ".").then(|| path.to_string());
    let message = match &field {
        Some(f) => format!("`{f}`: {raw}"),
        None => raw.to_string(),
    };
    ApiError::Invalid {
        code: "invalid_request",
        field,
        message,
    }
}

fn join_path(parent: &str, name: &str) -> String {
    if parent.is_empty() || parent == "." {
        name.to_string()
    } else {
        format!("{parent}.{name}")
    }
}

fn backticked(msg: &str, start: &str) -> Option<String> {
    let rest = &msg[msg.find(start)? + start.len()..];
    Some(rest[..rest.find('`')?].to_string())
}

fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// Query-string parameters. Unknown parameters are ignored; a value of the wrong type is a
/// 400 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| {
                let path = e.path().to_string();
                serde_error(&path, &e.into_inner().to_string())
            })
    }
}

/// Path parameters; a value of the wrong type (`/users/abc`) is a 400 naming the parameter.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(PathRejection::FailedToDeserializePathParams(e)) => {
                let field = match e.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                    _ => None,
                };
                Err(ApiError::Invalid {
                    code: "invalid_request",
                    field,
                    message: e.body_text(),
                })
            }
            Err(other) => Err(ApiError::internal(other.body_text())),
        }
    }
}

/// `?page=1&page_size=20`: 1-based page; `page_size` at most [`MAX_PAGE_SIZE`] (larger values
/// are capped).
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1-based page number (default 1).
    pub page: Option<u32>,
    /// Items per page (default 20, at most 100).
    pub page_size: Option<u32>,
}

impl PageParams {
    /// The validated page.
    pub fn page(&self) -> Result<Page, ApiError> {
        let page = self.page.unwrap_or(1);
        if page == 0 {
            return Err(ApiError::invalid("page", "`page` starts at 1"));
        }
        let page_size = self.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
        if page_size == 0 {
            return Err(ApiError::invalid(
                "page_size",
                "`page_size` must be at least 1",
            ));
        }
        Ok(Page {
            page,
            page_size: page_size.min(MAX_PAGE_SIZE),
        })
    }
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paged<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: i64,
    /// This page's number (1-based).
    pub page: u32,
    /// Items per page.
    pub page_size: u32,
}

impl<T> Paged<T> {
    /// A page of `items` out of `total`.
    pub fn new(items: Vec<T>, total: i64, page: Page) -> Self {
        Self {
            items,
            total,
            page: page.page,
            page_size: page.page_size,
        }
    }

    /// Pages a complete in-memory list.
    pub fn slice(all: Vec<T>, page: Page) -> Self {
        let total = i64::try_from(all.len()).unwrap_or(i64::MAX);
        let skip = usize::try_from(page.offset()).unwrap_or(usize::MAX);
        let take = usize::try_from(page.limit()).unwrap_or(0);
        let items = all.into_iter().skip(skip).take(take).collect();
        Self::new(items, total, page)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        limit: Option<f64>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: i64,
    }

    fn err(body: &str) -> (String, Option<String>) {
        match parse_json::<Body>(body.as_bytes()).unwrap_err() {
            ApiError::Invalid { code, field, .. } => (code.to_string(), field),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn serde_errors_name_the_field() {
        assert_eq!(err("{"), ("invalid_json".into(), None));
        assert_eq!(
            err(r#"{"name":"a","bogus":1}"#),
            ("unknown_field".into(), Some("bogus".into()))
        );
        assert_eq!(err("{}"), ("invalid_request".into(), Some("name".into())));
        assert_eq!(
            err(r#"{"name":"a","limit":"x"}"#),
            ("invalid_request".into(), Some("limit".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":{"n":"x"}}"#),
            ("invalid_request".into(), Some("inner.n".into()))
        );
        assert_eq!(
            err(r#"{"name":"a","inner":{"m":1}}"#),
            ("unknown_field".into(), Some("inner.m".into()))
        );
    }

    #[test]
    fn page_size_is_capped_and_zero_refused() {
        let p = PageParams {
            page: None,
            page_size: Some(1000),
        };
        assert_eq!(p.page().unwrap().page_size, MAX_PAGE_SIZE);
        assert!(PageParams {
            page: Some(0),
            page_size: None
        }
        .page()
        .is_err());
        let paged = Paged::slice(
            (0..5).collect(),
            Page {
                page: 2,
                page_size: 2,
            },
        );
        assert_eq!((paged.items, paged.total), (vec![2, 3], 5));
    }
}
