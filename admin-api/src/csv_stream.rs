//! CSV downloads streamed as they are read: the rows come from the database one page at a
//! time, each page is written by the `csv` crate (proper quoting) into a small buffer and sent
//! as one chunk of the body, so an export never holds more than a page in memory. Cells that
//! a spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return) get a leading `'`, so a model name or a key name cannot run in the reader's sheet.

use std::future::Future;

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;

use crate::error::ApiError;

/// One page of rows and where the next page starts (`None`: this was the last page).
pub type CsvPage<C> = (Vec<Vec<String>>, Option<C>);

enum Step<C> {
    Header(C),
    Page(C),
    Done,
}

/// `cell`, with a leading `'` when a spreadsheet would take it for a formula.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.as_bytes().first() {
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

/// Encodes `rows` as CSV text (RFC 4180 quoting, formula cells neutralised).
pub fn encode(rows: &[Vec<String>]) -> Result<Bytes, ApiError> {
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::with_capacity(rows.len() * 128));
    for r in rows {
        w.write_record(r.iter().map(|c| neutralise(c).into_owned()))
            .map_err(ApiError::internal)?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// A `200 text/csv` download named `filename`: the `header` line, then the pages `fetch`
/// returns, starting from `start`, until it says there is no next page. A failure after the
/// first byte ends the body early (the client sees a truncated download; the error is logged).
pub fn download<C, F, Fut>(filename: &str, header: &[&str], start: C, fetch: F) -> Response
where
    C: Send + 'static,
    F: Fn(C) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<CsvPage<C>, ApiError>> + Send + 'static,
{
    let head: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let body = stream::unfold((Step::Header(start), fetch), move |(step, fetch)| {
        let head = head.clone();
        async move {
            match step {
                Step::Done => None,
                Step::Header(c) => Some((encode(&[head]).map_err(io), (Step::Page(c), fetch))),
                Step::Page(c) => {
                    let out = match fetch(c).await {
                        Ok((rows, next)) => encode(&rows).map(|b| (b, next)),
                        Err(e) => Err(e),
                    };
                    match out {
                        Ok((bytes, Some(next))) => Some((Ok(bytes), (Step::Page(next), fetch))),
                        Ok((bytes, None)) => Some((Ok(bytes), (Step::Done, fetch))),
                        Err(e) => {
                            tracing::error!(error = %e, "CSV export stopped early");
                            Some((Err(io(e)), (Step::Done, fetch)))
                        }
                    }
                }
            }
        }
    });
    let disposition = format!("attachment; filename=\"{filename}\"");
    let mut resp = (StatusCode::OK, Body::from_stream(body)).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    resp
}

fn io(e: ApiError) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

/// An optional value as a CSV field (empty when absent).
pub fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn fields_are_quoted_when_they_need_it() {
        let rows = vec![
            vec!["a".to_string(), "b,c".into(), "say \"hi\"".into()],
            vec!["line\nbreak".into(), String::new(), "中文".into()],
        ];
        let text = String::from_utf8(encode(&rows).unwrap().to_vec()).unwrap();
        assert_eq!(
            text,
            "a,\"b,c\",\"say \"\"hi\"\"\"\n\"line\nbreak\",,中文\n"
        );
        assert_eq!(opt(Some(5)), "5");
    }

    #[test]
    fn formula_cells_get_a_leading_quote() {
        let rows = vec![vec![
            "=HYPERLINK(\"http://x\")".to_string(),
            "+1".into(),
            "-2+3".into(),
            "@SUM(A1)".into(),
            "\tcmd".into(),
            "\rx".into(),
            "claude-haiku-4-5".into(),
            "a=b".into(),
            "12.5".into(),
        ]];
        let text = String::from_utf8(encode(&rows).unwrap().to_vec()).unwrap();
        assert_eq!(
            text,
            "\"'=HYPERLINK(\"\"http://x\"\")\",'+1,'-2+3,'@SUM(A1),'\tcmd,\"'\rx\",claude-haiku-4-5,a=b,12.5\n"
        );
        assert_eq!(opt::<i64>(None), "");
    }
}
