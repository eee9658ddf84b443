//! The per-IP request limit of the whole admin API (429 `rate_limited` with `retry-after` in
//! the API's error shape; forwarded addresses count only from the loopback front door), and
//! CORS: off by default, exactly the configured origins (with credentials) when set.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::Opts;
use reqwest::Method;

fn from_ip(ip: &str) -> Opts<'_> {
    Opts {
        ip: Some(ip),
        ..Default::default()
    }
}

app_test!(
    a_client_over_the_limit_gets_429_with_retry_after,
    config = |c| {
        c.admin.rate_limit_per_minute = 5;
    },
    |app| {
        for _ in 0..5 {
            app.send(Method::GET, "/status", None, from_ip("192.0.2.10"))
                .await
                .expect(200);
        }
        let r = app
            .send(Method::GET, "/status", None, from_ip("192.0.2.10"))
            .await
            .expect(429);
        assert_eq!(r.code(), "rate_limited");
        assert!(r.body["error"]["message"].is_string());
        let wait: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=12).contains(&wait), "{wait}");
        // Any route, signed in or not, counts against the same bucket.
        let r = app
            .send(Method::POST, "/auth/login", None, from_ip("192.0.2.10"))
            .await
            .expect(429);
        assert_eq!(r.code(), "rate_limited");
        // Another client is not affected.
        app.send(Method::GET, "/status", None, from_ip("192.0.2.11"))
            .await
            .expect(200);
    }
);

app_test!(
    a_zero_limit_turns_the_rate_limit_off,
    config = |c| {
        c.admin.rate_limit_per_minute = 0;
    },
    |app| {
        for _ in 0..40 {
            app.send(Method::GET, "/status", None, from_ip("192.0.2.12"))
                .await
                .expect(200);
        }
    }
);

app_test!(cors_is_off_by_default, |app| {
    let headers = [
        ("origin", "https://evil.example"),
        ("access-control-request-method", "POST"),
    ];
    let o = Opts {
        headers: &headers,
        ..Default::default()
    };
    let r = app
        .send(Method::OPTIONS, "/auth/login", None, o.clone())
        .await;
    assert!(r.headers.get("access-control-allow-origin").is_none());
    let r = app.send(Method::GET, "/status", None, o).await.expect(200);
    assert!(r.headers.get("access-control-allow-origin").is_none());
});

app_test!(
    cors_allows_exactly_the_configured_origins_with_credentials,
    config = |c| {
        c.admin.cors_allow_origins = vec!["https://console.example.com".into()];
    },
    |app| {
        let good = [
            ("origin", "https://console.example.com"),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type, x-requested-with",
            ),
        ];
        let o = Opts {
            headers: &good,
            ..Default::default()
        };
        let r = app
            .send(Method::OPTIONS, "/auth/login", None, o.clone())
            .await;
        assert!(r.status < 300, "{}", r.status);
        let h = |name: &str| {
            r.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        assert_eq!(
            h("access-control-allow-origin"),
            "https://console.example.com"
        );
        assert_eq!(h("access-control-allow-credentials"), "true");
        assert!(h("access-control-allow-methods").contains("POST"));
        assert!(h("access-control-allow-headers").contains("x-requested-with"));
        let r = app.send(Method::GET, "/status", None, o).await.expect(200);
        assert_eq!(
            r.headers["access-control-allow-origin"],
            "https://console.example.com"
        );

        let bad = [
            ("origin", "https://evil.example"),
            ("access-control-request-method", "POST"),
        ];
        let o = Opts {
            headers: &bad,
            ..Default::default()
        };
        let r = app
            .send(Method::OPTIONS, "/auth/login", None, o.clone())
            .await;
        assert!(r.headers.get("access-control-allow-origin").is_none());
        let r = app.send(Method::GET, "/status", None, o).await.expect(200);
        assert!(r.headers.get("access-control-allow-origin").is_none());
    }
);
