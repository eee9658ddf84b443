//! The OpenAPI 3 document of the admin API, built from the handlers' `#[utoipa::path]`
//! annotations and served at `GET /api/v1/openapi.json`.

use axum::Json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{accounts, admin_users, api_keys, auth, group_members, groups, user};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Claude Code Relay admin API",
        description = "Users, groups, API keys and upstream accounts of the relay. \
                       Errors are `{\"error\":{\"code\",\"message\",\"field\"?}}`; lists are \
                       `{items,total,page,page_size}`; times are RFC 3339 UTC; money is USD."
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
    ),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign in and out"),
        (name = "user", description = "The signed-in user"),
        (name = "admin-users", description = "User management (administrators)"),
        (name = "groups", description = "Groups of accounts and their members"),
        (name = "api-keys", description = "Relay API keys"),
        (name = "admin-accounts", description = "Upstream accounts (administrators)"),
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

/// `GET /api/v1/openapi.json`.
pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
