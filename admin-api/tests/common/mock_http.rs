//! A small HTTP server for the admin API's outbound calls (the OAuth token endpoint, an
//! account's upstream): answers queued replies (else a fallback) and records every request.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::Value;

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Method.
    pub method: Method,
    /// Path and query.
    pub uri: String,
    /// Headers.
    pub headers: HeaderMap,
    /// The body as JSON (`Null` when not JSON).
    pub body: Value,
}

impl Seen {
    /// One header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

/// A queued reply: status, JSON body, `Location` header.
type Reply = (u16, Value, Option<String>);

#[derive(Clone, Default)]
struct Shared {
    seen: Arc<Mutex<Vec<Seen>>>,
    replies: Arc<Mutex<VecDeque<Reply>>>,
    fallback: Arc<Mutex<(u16, Value)>>,
}

/// The running mock (stops when dropped with the test's runtime).
pub struct MockHttp {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Shared,
}

async fn handle(
    State(s): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    s.seen.lock().unwrap().push(Seen {
        method,
        uri: uri.to_string(),
        headers,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    });
    let (status, body, location) = s.replies.lock().unwrap().pop_front().unwrap_or_else(|| {
        let (status, body) = s.fallback.lock().unwrap().clone();
        (status, body, None)
    });
    let mut resp = (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response();
    if let Some(l) = location {
        resp.headers_mut().insert("location", l.parse().unwrap());
    }
    resp
}

impl MockHttp {
    /// Starts a mock answering `status` and `body` to anything not queued.
    pub async fn start(status: u16, body: Value) -> Self {
        let shared = Shared {
            fallback: Arc::new(Mutex::new((status, body))),
            ..Default::default()
        };
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, shared }
    }

    /// Queues one reply for the next request.
    pub fn push(&self, status: u16, body: Value) {
        self.shared
            .replies
            .lock()
            .unwrap()
            .push_back((status, body, None));
    }

    /// Queues a redirect to `location` for the next request.
    pub fn push_redirect(&self, status: u16, location: &str) {
        self.shared.replies.lock().unwrap().push_back((
            status,
            Value::Null,
            Some(location.to_string()),
        ));
    }

    /// Requests received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().unwrap().clone()
    }
}
