//! The built web console as the admin sidecar serves it: hashed assets cached for a year,
//! `index.html` and the SPA fallback revalidated on every load, a missing asset a 404 (never
//! the page), and without a build the "not built" page naming the command that builds it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::TestApp;
use reqwest::header::CACHE_CONTROL;
use reqwest::StatusCode;

const INDEX: &str =
    "<!doctype html><div id=app></div><script src=/assets/index-AbC123.js></script>";
const SCRIPT: &str = "console.log('console')";

/// A `web/dist` as `npm run build` lays it out.
fn write_build(dir: &Path) {
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("assets/index-AbC123.js"), SCRIPT).unwrap();
    std::fs::write(dir.join("favicon.svg"), "<svg/>").unwrap();
}

struct Console {
    app: TestApp,
    root: String,
    client: reqwest::Client,
    _web: tempfile::TempDir,
}

impl Console {
    async fn start(built: bool) -> Self {
        let web = tempfile::tempdir().unwrap();
        if built {
            write_build(web.path());
        }
        let web_dir = web.path().to_path_buf();
        let db = relay_shared::testing::sqlite().await;
        let app = TestApp::spawn(db, move |c| c.admin.web_dir = web_dir).await;
        let root = app.base.trim_end_matches("/api/v1").to_string();
        Self {
            app,
            root,
            client: reqwest::Client::new(),
            _web: web,
        }
    }

    async fn get(&self, path: &str) -> (StatusCode, String, String) {
        let resp = self
            .client
            .get(format!("{}{path}", self.root))
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let cache = resp
            .headers()
            .get(CACHE_CONTROL)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, cache, resp.text().await.unwrap())
    }
}

#[tokio::test]
async fn hashed_assets_are_cached_for_a_year_as_immutable() {
    let c = Console::start(true).await;
    let (status, cache, body) = c.get("/assets/index-AbC123.js").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, SCRIPT);
    assert_eq!(cache, "public, max-age=31536000, immutable");
}

#[tokio::test]
async fn index_html_and_the_spa_fallback_are_revalidated_on_every_load() {
    let c = Console::start(true).await;
    for path in [
        "/",
        "/index.html",
        "/dashboard",
        "/api-keys",
        "/logs?api_key_id=3",
    ] {
        let (status, cache, body) = c.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(body, INDEX, "{path} answers the console's page");
        assert_eq!(cache, "no-cache", "{path}");
    }
    let (status, cache, body) = c.get("/favicon.svg").await;
    assert_eq!(
        (status, cache.as_str(), body.as_str()),
        (StatusCode::OK, "no-cache", "<svg/>")
    );
}

#[tokio::test]
async fn a_missing_asset_is_a_404_and_never_the_page_cached_forever() {
    let c = Console::start(true).await;
    let (status, cache, body) = c.get("/assets/index-Gone99.js").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_ne!(body, INDEX);
    assert_eq!(cache, "no-cache");
}

#[tokio::test]
async fn the_api_keeps_its_own_answers_beside_the_console() {
    let c = Console::start(true).await;
    let status = c.app.get("/status", "").await;
    assert_eq!(status.status, 200);
    assert_eq!(status.body["status"], "ok");
    for path in ["/api/v1/no-such-route", "/api/unknown"] {
        let (code, _, body) = c.get(path).await;
        assert_eq!(code, StatusCode::NOT_FOUND, "{path}");
        assert!(body.contains("\"not_found\""), "{path}: {body}");
    }
}

#[tokio::test]
async fn without_a_build_every_page_says_how_to_build_the_console() {
    let c = Console::start(false).await;
    for path in ["/", "/dashboard"] {
        let (status, cache, body) = c.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(cache, "no-cache", "{path}");
        assert!(body.contains("has not been built"), "{body}");
        assert!(
            body.contains("cd web &amp;&amp; npm ci &amp;&amp; npm run build"),
            "{body}"
        );
    }
    let (status, _, body) = c.get("/api/unknown").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.contains("\"error\""), "{body}");
}
