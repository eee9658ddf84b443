//! `/groups/{id}/members`: who may create keys in a group. Only administrators see every
//! member and add or remove members: a plain user who may see the group (its owner or a
//! member) sees their own membership only and may leave the group, so that nobody can learn
//! other users' names, ids or roles through memberships (by listing them, or by adding ids or
//! names one after another and reading the answers).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use relay_shared::db::groups::{self, MemberRow};
use relay_shared::db::{users, DbError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::changed;
use super::groups::{load, Need};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageParams, Paged};
use crate::state::AppState;
use crate::time::rfc3339;

/// A member of a group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberView {
    /// Group id.
    pub group_id: i64,
    /// User id.
    pub user_id: i64,
    /// The user's login name.
    pub username: String,
    /// The user's role.
    pub role: String,
    /// When the user joined (RFC 3339 UTC).
    pub created_at: String,
}

impl From<&MemberRow> for MemberView {
    fn from(m: &MemberRow) -> Self {
        Self {
            group_id: m.group_id,
            user_id: m.user_id,
            username: m.username.clone(),
            role: m.role.clone(),
            created_at: rfc3339(m.created_at),
        }
    }
}

/// `POST /groups/{id}/members` body: the user by id or by login name.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    /// The user's id.
    #[serde(default)]
    pub user_id: Option<i64>,
    /// The user's login name (instead of `user_id`).
    #[serde(default)]
    pub username: Option<String>,
}

/// The members of a group: all of them for administrators; for anyone else who may see the
/// group, their own membership only (none when they own it without being a member).
#[utoipa::path(get, path = "/api/v1/groups/{id}/members", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Group id"), PageParams),
    responses(
        (status = 200, description = "One page of members", body = Paged<MemberView>),
        (status = 400, description = "Invalid paging", body = ErrorBody),
        (status = 404, description = "No such group (or not yours)", body = ErrorBody),
    ))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<MemberView>>, ApiError> {
    let page = params.page()?;
    load(&state, &user, id, Need::Read).await?;
    let rows = groups::list_members(&state.db, id).await?;
    let visible = rows
        .iter()
        .filter(|m| user.is_admin() || m.user_id == user.id())
        .map(MemberView::from)
        .collect();
    Ok(Json(Paged::slice(visible, page)))
}

/// Adds a user to a group (adding a member again changes nothing). Administrators only.
#[utoipa::path(post, path = "/api/v1/groups/{id}/members", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Group id")),
    request_body = AddMember,
    responses(
        (status = 201, description = "The membership", body = MemberView),
        (status = 400, description = "Neither or both of `user_id` and `username`", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such group or user", body = ErrorBody),
    ))]
pub async fn add(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<AddMember>,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    load(&state, &user, id, Need::Read).await?;
    if !user.is_admin() {
        return Err(admins_only());
    }
    let member = match (req.user_id, req.username.as_deref()) {
        (Some(uid), None) => match users::get(&state.db, uid).await {
            Ok(u) => u,
            Err(DbError::NotFound) => {
                return Err(ApiError::not_found_field("user_id", "no such user"))
            }
            Err(e) => return Err(e.into()),
        },
        (None, Some(name)) => users::find_by_username(&state.db, name.trim())
            .await?
            .ok_or_else(|| ApiError::not_found_field("username", "no such user"))?,
        _ => {
            return Err(ApiError::invalid(
                "user_id",
                "give exactly one of `user_id` or `username`",
            ))
        }
    };
    groups::add_member(&state.db, id, member.id).await?;
    changed(&state.db).await?;
    let rows = groups::list_members(&state.db, id).await?;
    let row = rows
        .iter()
        .find(|m| m.user_id == member.id)
        .ok_or_else(|| ApiError::internal("membership missing right after insert"))?;
    Ok((StatusCode::CREATED, Json(MemberView::from(row))))
}

/// Removes a user from a group: administrators remove anyone, a user only themselves
/// (leaving the group).
#[utoipa::path(delete, path = "/api/v1/groups/{id}/members/{user_id}", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(
        ("id" = i64, Path, description = "Group id"),
        ("user_id" = i64, Path, description = "User id"),
    ),
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Not an administrator, and not your own membership", body = ErrorBody),
        (status = 404, description = "No such group, or not a member", body = ErrorBody),
    ))]
pub async fn remove(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath((id, user_id)): ApiPath<(i64, i64)>,
) -> Result<StatusCode, ApiError> {
    load(&state, &user, id, Need::Read).await?;
    if !user.is_admin() && user_id != user.id() {
        return Err(admins_only());
    }
    groups::remove_member(&state.db, id, user_id)
        .await
        .map_err(super::or_404("member"))?;
    changed(&state.db).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn admins_only() -> ApiError {
    ApiError::forbidden(
        "forbidden",
        "only an administrator may add or remove other members of a group",
    )
}
