//! `/user/*`: the signed-in user's own profile and password. These stay reachable while a
//! forced password change is pending (except `PUT /user/profile`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use relay_shared::db::users::{self, UserPatch};
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{ensure_unique, token_response, too_many_attempts, TokenResponse};
use super::changed;
use crate::auth::client::{ClientHttps, ClientIp};
use crate::auth::{check_new_password, CurrentUser, Session};
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::state::AppState;
use crate::validate;
use crate::views::UserView;

/// `PUT /user/profile` body (absent fields keep their value).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// New e-mail; `null` or `""` clears it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
}

/// `PUT /user/password` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The current password.
    pub old_password: String,
    /// The new password (at least 8 characters).
    pub new_password: String,
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/user/profile", tag = "user",
    security(("bearer" = []), ("cookie" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = UserView),
        (status = 401, description = "Not signed in", body = ErrorBody),
    ))]
pub async fn get_profile(session: Session) -> Json<UserView> {
    Json(UserView::from(&session.user))
}

/// Changes the signed-in user's e-mail.
#[utoipa::path(put, path = "/api/v1/user/profile", tag = "user",
    security(("bearer" = []), ("cookie" = [])),
    request_body = ProfileUpdate,
    responses(
        (status = 200, description = "Updated", body = UserView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 409, description = "E-mail used by another user", body = ErrorBody),
    ))]
pub async fn put_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<ProfileUpdate>,
) -> Result<Json<UserView>, ApiError> {
    let mut patch = UserPatch::default();
    if let Some(email) = req.email {
        let email = validate::email(email.as_deref())?;
        ensure_unique(&state, None, email.as_deref(), Some(user.id())).await?;
        patch.email = Some(email);
    }
    let row = users::update(&state.db, user.id(), &patch).await?;
    changed(&state.db).await?;
    Ok(Json(UserView::from(&row)))
}

/// Changes the signed-in user's password: every earlier token is revoked, a forced change
/// is satisfied, and a fresh token (and cookie) is answered so the console stays signed in.
#[utoipa::path(put, path = "/api/v1/user/password", tag = "user",
    security(("bearer" = []), ("cookie" = [])),
    request_body = PasswordChange,
    responses(
        (status = 200, description = "Changed; a fresh token", body = TokenResponse),
        (status = 400, description = "Wrong old password or too short a new one", body = ErrorBody),
        (status = 429, description = "Too many wrong old passwords (see `retry-after`)", body = ErrorBody),
    ))]
pub async fn put_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ClientHttps(https): ClientHttps,
    session: Session,
    ApiJson(req): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    let user = session.user;
    // A wrong old password counts as a failed sign-in of this user from this address.
    let attempt = state
        .throttle
        .reserve(&user.username, &ip)
        .map_err(too_many_attempts)?;
    let checked = state
        .hasher
        .verify(req.old_password.clone(), Some(user.password_hash.clone()))
        .await;
    let ok = match checked {
        Ok(ok) => ok,
        Err(e) => {
            attempt.cancel();
            return Err(e);
        }
    };
    if ok {
        attempt.succeeded();
    } else {
        attempt.failed();
        return Err(ApiError::Invalid {
            code: "wrong_password",
            field: Some("old_password".into()),
            message: "`old_password` is not the current password".into(),
        });
    }
    check_new_password("new_password", &req.new_password)?;
    if req.new_password == req.old_password {
        return Err(ApiError::invalid(
            "new_password",
            "`new_password` must differ from the current password",
        ));
    }
    let hash = state.hasher.hash(req.new_password).await?;
    users::set_password(&state.db, user.id, &hash, false).await?;
    changed(&state.db).await?;
    let user = users::get(&state.db, user.id).await?;
    token_response(&state, &user, https, StatusCode::OK)
}
