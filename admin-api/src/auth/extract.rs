//! The logged-in user as an extractor. [`Session`] authenticates (bearer token or cookie,
//! signature, expiry, token version, enabled user, CSRF header for cookie writes);
//! [`CurrentUser`] also refuses users who must change their password first; [`AdminUser`]
//! also requires the `admin` role.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::Method;
use relay_shared::db::users::{self, UserRow};
use relay_shared::db::DbError;
use relay_shared::models::Role;

use super::{cookie, jwt};
use crate::error::ApiError;
use crate::state::AppState;

/// Header a cookie-authenticated write must carry (a cross-site form cannot set it).
pub const CSRF_HEADER: &str = "x-requested-with";

/// An authenticated user, whether or not they must change their password.
#[derive(Debug, Clone)]
pub struct Session {
    /// The user, as stored now.
    pub user: UserRow,
    /// Whether the token came from the cookie rather than `Authorization`.
    pub via_cookie: bool,
}

/// An authenticated user who may use the API (no pending forced password change).
#[derive(Debug, Clone)]
pub struct CurrentUser(pub UserRow);

/// An authenticated, unrestricted `admin`.
#[derive(Debug, Clone)]
pub struct AdminUser(pub UserRow);

impl CurrentUser {
    /// Whether the user is an admin.
    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin.as_str()
    }

    /// The user's id.
    pub fn id(&self) -> i64 {
        self.0.id
    }
}

fn bearer(parts: &Parts) -> Option<Result<String, ApiError>> {
    let value = parts.headers.get(AUTHORIZATION)?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_string())
        })
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("the Authorization header must be `Bearer <token>`"));
    Some(parsed)
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, via_cookie) = match bearer(parts) {
            Some(t) => (t?, false),
            None => match cookie::read(&parts.headers) {
                Some(t) => (t, true),
                None => return Err(ApiError::unauthorized("sign in first: no token was sent")),
            },
        };
        let expired = || ApiError::Unauthorized {
            code: "invalid_token",
            message: "the token is invalid, expired or revoked; sign in again".into(),
        };
        let claims = jwt::verify(&state.secrets.jwt_secret, &token).ok_or_else(expired)?;
        let user_id = claims.user_id().ok_or_else(expired)?;
        let user = match users::get(&state.db, user_id).await {
            Ok(u) => u,
            Err(DbError::NotFound) => return Err(expired()),
            Err(e) => return Err(e.into()),
        };
        if user.token_version != claims.ver {
            return Err(expired());
        }
        if !user.enabled {
            return Err(ApiError::Unauthorized {
                code: "user_disabled",
                message: "this user is disabled".into(),
            });
        }
        if via_cookie && is_write(&parts.method) && !parts.headers.contains_key(CSRF_HEADER) {
            return Err(ApiError::forbidden(
                "csrf_check_failed",
                "a cookie-authenticated request that changes data must carry X-Requested-With",
            ));
        }
        Ok(Self { user, via_cookie })
    }
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let session = Session::from_request_parts(parts, state).await?;
        if session.user.must_change_password {
            return Err(ApiError::forbidden(
                "password_change_required",
                "your password was set by an administrator: change it (PUT /api/v1/user/password) first",
            ));
        }
        Ok(Self(session.user))
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = CurrentUser::from_request_parts(parts, state).await?;
        if !user.is_admin() {
            return Err(ApiError::forbidden(
                "forbidden",
                "only administrators may do this",
            ));
        }
        Ok(Self(user.0))
    }
}
