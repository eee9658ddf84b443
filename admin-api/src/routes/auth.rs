//! `/auth/*`: sign in (token + cookie), sign out, sign out everywhere, and registration when
//! the configuration allows it.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use relay_shared::db::users::{self, NewUser, UserRow};
use relay_shared::models::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::changed;
use crate::auth::client::{ClientHttps, ClientIp};
use crate::auth::{check_new_password, cookie, jwt, Session};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::time::rfc3339;
use crate::validate;
use crate::views::UserView;

/// `POST /auth/login` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// A token for the console and for scripts (`Authorization: Bearer <token>`).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// The JWT (also set as the `relay_session` cookie).
    pub token: String,
    /// When the token expires (RFC 3339 UTC).
    pub expires_at: String,
    /// The signed-in user.
    pub user: UserView,
}

/// `POST /auth/register` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Login name (3–64 letters, digits, `_`, `-`, `.`, `@`).
    pub username: String,
    /// Password (at least 8 characters).
    pub password: String,
    /// Optional e-mail.
    #[serde(default)]
    pub email: Option<String>,
}

/// Issues a token for `user` and answers it with the session cookie.
pub(crate) fn token_response(
    state: &AppState,
    user: &UserRow,
    https: bool,
    status: StatusCode,
) -> Result<Response, ApiError> {
    let ttl = state.config.auth.token_ttl;
    let issued = jwt::issue(&state.secrets.jwt_secret, user.id, user.token_version, ttl)?;
    let body = TokenResponse {
        expires_at: rfc3339(issued.expires_at_ms),
        user: UserView::from(user),
        token: issued.token.clone(),
    };
    let cookie = cookie::session_cookie(&issued.token, ttl, https);
    Ok((status, [(SET_COOKIE, cookie)], Json(body)).into_response())
}

fn cleared(https: bool) -> Response {
    let cookie: HeaderValue = cookie::clear_cookie(https);
    (StatusCode::NO_CONTENT, [(SET_COOKIE, cookie)]).into_response()
}

/// Signs in: answers a token and sets the `relay_session` cookie. Each attempt takes a slot
/// of the throttle before the password is checked (per (username, client IP), and per client
/// IP); an unknown or disabled user gets the same answer as a wrong password, after the same
/// hash.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 400, description = "Malformed body", body = ErrorBody),
        (status = 401, description = "Wrong username or password, or a disabled user", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 429, description = "Too many failed attempts (see `retry-after`)", body = ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ClientHttps(https): ClientHttps,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Response, ApiError> {
    let username = req.username.trim().to_string();
    let attempt = state
        .throttle
        .reserve(&username, &ip)
        .map_err(too_many_attempts)?;
    let user = match users::find_by_username(&state.db, &username).await {
        Ok(u) => u,
        Err(e) => {
            attempt.cancel();
            return Err(e.into());
        }
    };
    let phc = user.as_ref().map(|u| u.password_hash.clone());
    let ok = match state.hasher.verify(req.password, phc).await {
        Ok(ok) => ok,
        Err(e) => {
            attempt.cancel();
            return Err(e);
        }
    };
    let user = match user {
        Some(u) if ok && u.enabled => u,
        _ => {
            attempt.failed();
            tracing::info!(%ip, "failed console sign-in");
            return Err(invalid_credentials());
        }
    };
    attempt.succeeded();
    users::touch_login(&state.db, user.id).await?;
    let user = users::get(&state.db, user.id).await?;
    token_response(&state, &user, https, StatusCode::OK)
}

/// 401 `invalid_credentials`: the one answer for an unknown user, a wrong password and a
/// disabled user.
fn invalid_credentials() -> ApiError {
    ApiError::Unauthorized {
        code: "invalid_credentials",
        message: "wrong username or password".into(),
    }
}

/// 429 `too_many_attempts` for a throttled sign-in or password check.
pub(crate) fn too_many_attempts(wait: std::time::Duration) -> ApiError {
    ApiError::TooManyRequests {
        code: "too_many_attempts",
        message: "too many failed sign-in attempts; try again later".into(),
        retry_after: wait,
    }
}

/// Signs out of this browser: clears the session cookie (tokens stay valid until they expire;
/// use `logout-all` to revoke them).
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 204, description = "Cookie cleared")))]
pub async fn logout(ClientHttps(https): ClientHttps) -> Response {
    cleared(https)
}

/// Signs out everywhere: every token issued before is refused from now on.
#[utoipa::path(post, path = "/api/v1/auth/logout-all", tag = "auth",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 204, description = "Every earlier token revoked"),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn logout_all(
    State(state): State<AppState>,
    ClientHttps(https): ClientHttps,
    session: Session,
) -> Result<Response, ApiError> {
    users::bump_token_version(&state.db, session.user.id).await?;
    changed(&state.db).await?;
    Ok(cleared(https))
}

/// Creates a `user` account, when `auth.allow_registration` is on; answers like a login.
#[utoipa::path(post, path = "/api/v1/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in", body = TokenResponse),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 403, description = "Registration is disabled", body = ErrorBody),
        (status = 409, description = "Username or e-mail taken", body = ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    ClientHttps(https): ClientHttps,
    ApiJson(req): ApiJson<RegisterRequest>,
) -> Result<Response, ApiError> {
    if !state.config.auth.allow_registration {
        return Err(ApiError::forbidden(
            "registration_disabled",
            "registration is disabled on this relay; ask an administrator for an account",
        ));
    }
    let user = create_user(
        &state,
        &req.username,
        req.password,
        req.email.as_deref(),
        Role::User,
        false,
    )
    .await?;
    token_response(&state, &user, https, StatusCode::CREATED)
}

/// Validates and creates a user, adds them to the default group, and bumps the change
/// version. Shared by registration and `POST /admin/users`.
pub(crate) async fn create_user(
    state: &AppState,
    username: &str,
    password: String,
    email: Option<&str>,
    role: Role,
    must_change_password: bool,
) -> Result<UserRow, ApiError> {
    let username = validate::username(username)?;
    check_new_password("password", &password)?;
    let email = validate::email(email)?;
    ensure_unique(state, Some(&username), email.as_deref(), None).await?;
    let hash = state.hasher.hash(password).await?;
    let new = NewUser {
        username: &username,
        email: email.as_deref(),
        password_hash: &hash,
        role: role.as_str(),
        must_change_password,
    };
    let user = users::create(&state.db, &new).await?;
    let default = relay_shared::db::groups::ensure_default(&state.db).await?;
    relay_shared::db::groups::add_member(&state.db, default.id, user.id).await?;
    changed(&state.db).await?;
    Ok(user)
}

/// Refuses a username or an e-mail that another user (not `except`) already has.
pub(crate) async fn ensure_unique(
    state: &AppState,
    username: Option<&str>,
    email: Option<&str>,
    except: Option<i64>,
) -> Result<(), ApiError> {
    if let Some(name) = username {
        if let Some(u) = users::find_by_username(&state.db, name).await? {
            if Some(u.id) != except {
                return Err(ApiError::conflict(
                    "username_taken",
                    Some("username"),
                    "this username is taken",
                ));
            }
        }
    }
    if let Some(email) = email {
        if let Some(u) = users::find_by_email(&state.db, email).await? {
            if Some(u.id) != except {
                return Err(ApiError::conflict(
                    "email_taken",
                    Some("email"),
                    "this e-mail address is used by another user",
                ));
            }
        }
    }
    Ok(())
}
