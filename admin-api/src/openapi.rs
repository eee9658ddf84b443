//! The OpenAPI 3 document of the admin API, built from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /api/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::docs;
use crate::routes::{
    account_probe, accounts, admin_users, api_keys, auth, group_members, groups, logs, oauth,
    pricing, public, stats, stats_dims, status, user,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Claude Code Relay admin API",
        description = "Users, groups, API keys, upstream accounts, usage logs and statistics \
                       of the relay. Errors are `{\"error\":{\"code\",\"message\",\"field\"?}}`; \
                       lists are `{items,total,page,page_size}`; times are RFC 3339 UTC; money \
                       is USD (and micro-USD where named so). Requests are limited per client \
                       IP (429 `rate_limited` with `retry-after`)."
    ),
    paths(
        auth::login, auth::logout, auth::logout_all, auth::register,
        user::get_profile, user::put_profile, user::put_password,
        admin_users::list, admin_users::create, admin_users::update, admin_users::delete,
        admin_users::reset_password,
        groups::list, groups::create, groups::get, groups::update, groups::delete,
        group_members::list, group_members::add, group_members::remove,
        api_keys::list, api_keys::create, api_keys::get, api_keys::update, api_keys::delete,
        api_keys::regenerate,
        accounts::list, accounts::create, accounts::get, accounts::update, accounts::delete,
        accounts::enable, accounts::disable, accounts::reset,
        account_probe::test, oauth::start, oauth::exchange,
        logs::list_own, logs::get_own, logs::export_own,
        logs::list_all, logs::get_any, logs::export_all,
        stats::overview, stats::trend, stats::trend_export,
        stats_dims::models, stats_dims::accounts, stats_dims::keys,
        stats_dims::models_export, stats_dims::accounts_export, stats_dims::keys_export,
        pricing::pricing, public::key_usage,
        status::status, openapi_json, docs::docs,
    ),
    modifiers(&Security, &OperationIds, &CommonResponses),
    tags(
        (name = "auth", description = "Sign in and out"),
        (name = "user", description = "The signed-in user"),
        (name = "admin-users", description = "User management (administrators)"),
        (name = "groups", description = "Groups of accounts and their members"),
        (name = "api-keys", description = "Relay API keys"),
        (name = "admin-accounts", description = "Upstream accounts (administrators)"),
        (name = "logs", description = "One row per relayed request"),
        (name = "stats", description = "Sums from the usage roll-ups, scoped by role"),
        (name = "pricing", description = "Model prices"),
        (name = "public", description = "Without sign-in"),
        (name = "meta", description = "Status and this document"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::cookie::COOKIE_NAME,
                "The console's session cookie; writes must also send X-Requested-With",
            ))),
        );
    }
}

/// Gives every operation a unique id made of its method and path (`get_admin_logs_id`):
/// handler names repeat across resources (`list`, `create`), and OpenAPI requires unique ids.
struct OperationIds;

impl Modify for OperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let slug: String = path
                .trim_start_matches("/api/v1")
                .trim_start_matches('/')
                .chars()
                .filter(|c| !matches!(c, '{' | '}'))
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let ops = [
                ("get", &mut item.get),
                ("put", &mut item.put),
                ("post", &mut item.post),
                ("delete", &mut item.delete),
                ("patch", &mut item.patch),
            ];
            for (method, op) in ops {
                if let Some(op) = op {
                    op.operation_id = Some(format!("{method}_{slug}"));
                }
            }
        }
    }
}

/// Adds to every operation the answers any handler can give, when its own annotation does not
/// already describe them: 400 (a bad path, query or body value), 429 (the per-IP rate limit)
/// and 503 (the database is unreachable) everywhere; 401 and 403 (not signed in, a token
/// revoked, a forced password change) where sign-in is required; 413 and 415 where a body is
/// read; 404 where the path names an object.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let names_object = path.contains('{');
            let ops = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in ops.into_iter().flatten() {
                let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let mut add = |status: &str, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error_response(description));
                };
                add(
                    "400",
                    "A path, query or body value is invalid (the error names it)",
                );
                add(
                    "429",
                    "Too many requests from this address (see `retry-after`)",
                );
                add("503", "The database cannot be reached");
                if signed_in {
                    add("401", "Not signed in, or the token is invalid or revoked");
                    add("403", "Not allowed, or a password change is required first");
                }
                if has_body {
                    add("413", "The body is too large");
                    add("415", "The body is not declared as JSON");
                }
                if names_object {
                    add("404", "No such object (or not yours)");
                }
            }
        }
    }
}

fn error_response(description: &str) -> RefOr<Response> {
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content("application/json", content)
            .build(),
    )
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json", body = Object)))]
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
