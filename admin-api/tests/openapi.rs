//! `GET /api/v1/openapi.json` documents every route.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

app_test!(the_openapi_document_lists_every_path, |app| {
    let r = app.openapi().await.expect(200);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = r.body["paths"].as_object().unwrap();
    let expected = [
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/logout-all", "post"),
        ("/api/v1/auth/register", "post"),
        ("/api/v1/user/profile", "get"),
        ("/api/v1/user/profile", "put"),
        ("/api/v1/user/password", "put"),
        ("/api/v1/admin/users", "get"),
        ("/api/v1/admin/users", "post"),
        ("/api/v1/admin/users/{id}", "put"),
        ("/api/v1/admin/users/{id}", "delete"),
        ("/api/v1/admin/users/{id}/reset-password", "post"),
        ("/api/v1/groups", "get"),
        ("/api/v1/groups", "post"),
        ("/api/v1/groups/{id}", "get"),
        ("/api/v1/groups/{id}", "put"),
        ("/api/v1/groups/{id}", "delete"),
        ("/api/v1/groups/{id}/members", "get"),
        ("/api/v1/groups/{id}/members", "post"),
        ("/api/v1/groups/{id}/members/{user_id}", "delete"),
        ("/api/v1/api-keys", "get"),
        ("/api/v1/api-keys", "post"),
        ("/api/v1/api-keys/{id}", "get"),
        ("/api/v1/api-keys/{id}", "put"),
        ("/api/v1/api-keys/{id}", "delete"),
        ("/api/v1/api-keys/{id}/regenerate", "post"),
        ("/api/v1/admin/accounts", "get"),
        ("/api/v1/admin/accounts", "post"),
        ("/api/v1/admin/accounts/{id}", "get"),
        ("/api/v1/admin/accounts/{id}", "put"),
        ("/api/v1/admin/accounts/{id}", "delete"),
        ("/api/v1/admin/accounts/{id}/enable", "post"),
        ("/api/v1/admin/accounts/{id}/disable", "post"),
        ("/api/v1/admin/accounts/{id}/reset", "post"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    let schemas = r.body["components"]["schemas"].as_object().unwrap();
    for s in [
        "ApiKeyView",
        "CreatedKey",
        "AccountView",
        "ErrorBody",
        "UserView",
        "TokenResponse",
    ] {
        assert!(schemas.contains_key(s), "schema {s} missing");
    }
    assert!(r.body["components"]["securitySchemes"]["bearer"].is_object());
});
