//! `/admin/users`: user management for administrators. A password set here must be changed
//! by its user at the next sign-in.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use relay_shared::db::users::{self, UserPatch};
use relay_shared::models::Role;
use serde::Deserialize;
use utoipa::ToSchema;

use super::auth::{create_user, ensure_unique};
use super::{changed, or_404};
use crate::auth::{check_new_password, AdminUser};
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageParams, Paged};
use crate::state::AppState;
use crate::validate;
use crate::views::UserView;

/// `POST /admin/users` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserRequest {
    /// Login name.
    pub username: String,
    /// First password; the user must change it at the next sign-in.
    pub password: String,
    /// Optional e-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// `admin` or `user` (default `user`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub role: Option<String>,
}

/// `PUT /admin/users/{id}` body (absent fields keep their value).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    /// New e-mail; `null` or `""` clears it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// `admin` or `user`.
    #[serde(default)]
    pub role: Option<String>,
    /// Enable or disable the user (a disabled user's keys stop working).
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// `POST /admin/users/{id}/reset-password` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPassword {
    /// The new password; the user must change it at the next sign-in.
    pub password: String,
}

fn role(value: &str) -> Result<Role, ApiError> {
    Role::parse(value.trim()).ok_or_else(|| {
        ApiError::invalid(
            "role",
            format!("`role` must be one of: {}", Role::allowed()),
        )
    })
}

/// Every user, by id.
#[utoipa::path(get, path = "/api/v1/admin/users", tag = "admin-users",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams),
    responses(
        (status = 200, description = "One page of users", body = Paged<UserView>),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<UserView>>, ApiError> {
    let page = params.page()?;
    let (rows, total) = users::list(&state.db, page).await?;
    let items = rows.iter().map(UserView::from).collect();
    Ok(Json(Paged::new(items, total, page)))
}

/// Creates a user (a member of the default group) who must change the password at the
/// first sign-in.
#[utoipa::path(post, path = "/api/v1/admin/users", tag = "admin-users",
    security(("bearer" = []), ("cookie" = [])),
    request_body = NewUserRequest,
    responses(
        (status = 201, description = "Created", body = UserView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 409, description = "Username or e-mail taken", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    _admin: AdminUser,
    ApiJson(req): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    let role = match req.role.as_deref() {
        Some(r) => role(r)?,
        None => Role::User,
    };
    let user = create_user(
        &state,
        &req.username,
        req.password,
        req.email.as_deref(),
        role,
        true,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// Changes a user's e-mail, role or switch. An administrator cannot disable or demote
/// themselves.
#[utoipa::path(put, path = "/api/v1/admin/users/{id}", tag = "admin-users",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = UserUpdate,
    responses(
        (status = 200, description = "Updated", body = UserView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<UserUpdate>,
) -> Result<Json<UserView>, ApiError> {
    users::get(&state.db, id).await.map_err(or_404("user"))?;
    let mut patch = UserPatch::default();
    if let Some(email) = req.email {
        let email = validate::email(email.as_deref())?;
        ensure_unique(&state, None, email.as_deref(), Some(id)).await?;
        patch.email = Some(email);
    }
    if let Some(r) = req.role.as_deref() {
        let r = role(r)?;
        if id == admin.id && r != Role::Admin {
            return Err(ApiError::invalid(
                "role",
                "you cannot remove your own admin role",
            ));
        }
        patch.role = Some(r.as_str().to_string());
    }
    if let Some(enabled) = req.enabled {
        if id == admin.id && !enabled {
            return Err(ApiError::invalid("enabled", "you cannot disable yourself"));
        }
        patch.enabled = Some(enabled);
    }
    let row = users::update(&state.db, id, &patch).await?;
    changed(&state.db).await?;
    Ok(Json(UserView::from(&row)))
}

/// Deletes a user with their keys and memberships (groups they own lose their owner).
#[utoipa::path(delete, path = "/api/v1/admin/users/{id}", tag = "admin-users",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "You cannot delete yourself", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    if id == admin.id {
        return Err(ApiError::Invalid {
            code: "cannot_delete_self",
            field: Some("id".into()),
            message: "you cannot delete yourself".into(),
        });
    }
    users::delete(&state.db, id).await.map_err(or_404("user"))?;
    changed(&state.db).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sets a new password for a user, revokes their tokens, and makes them change it at the
/// next sign-in.
#[utoipa::path(post, path = "/api/v1/admin/users/{id}/reset-password", tag = "admin-users",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "User id")),
    request_body = ResetPassword,
    responses(
        (status = 200, description = "Password replaced", body = UserView),
        (status = 400, description = "Password too short, or your own id", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody),
    ))]
pub async fn reset_password(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<ResetPassword>,
) -> Result<Json<UserView>, ApiError> {
    if id == admin.id {
        // Changing one's own password needs the old one (PUT /user/password): a stolen
        // token alone must not take the account over.
        return Err(ApiError::Invalid {
            code: "cannot_reset_self",
            field: Some("id".into()),
            message: "use PUT /user/password to change your own password".into(),
        });
    }
    users::get(&state.db, id).await.map_err(or_404("user"))?;
    check_new_password("password", &req.password)?;
    let hash = state.hasher.hash(req.password).await?;
    users::set_password(&state.db, id, &hash, true).await?;
    changed(&state.db).await?;
    Ok(Json(UserView::from(&users::get(&state.db, id).await?)))
}
