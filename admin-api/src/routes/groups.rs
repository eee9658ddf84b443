//! `/groups`: pools of accounts and their members. Administrators see and manage every
//! group; a user sees the groups they own or belong to, manages the ones they own, and gets
//! 404 for any other (never the object).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use relay_shared::db::groups::{self, GroupPatch, GroupRow, NewGroup};
use relay_shared::db::{users, DbError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{changed, or_404};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageParams, Paged};
use crate::state::AppState;
use crate::time::rfc3339;
use crate::validate;

/// A group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct GroupView {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Owning user, if any.
    pub owner_id: Option<i64>,
    /// Accounts and keys created without a group join this one.
    pub is_default: bool,
    /// Creation time (RFC 3339 UTC).
    pub created_at: String,
    /// Last change (RFC 3339 UTC).
    pub updated_at: String,
}

impl From<&GroupRow> for GroupView {
    fn from(g: &GroupRow) -> Self {
        Self {
            id: g.id,
            name: g.name.clone(),
            description: g.description.clone(),
            owner_id: g.owner_id,
            is_default: g.is_default,
            created_at: rfc3339(g.created_at),
            updated_at: rfc3339(g.updated_at),
        }
    }
}

/// `POST /groups` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGroupRequest {
    /// Unique name (at most 64 characters).
    pub name: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Owner; administrators may name any user, a user creates groups they own.
    #[serde(default)]
    pub owner_id: Option<i64>,
}

/// `PUT /groups/{id}` body (absent fields keep their value).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupUpdate {
    /// New name.
    #[serde(default)]
    pub name: Option<String>,
    /// New description.
    #[serde(default)]
    pub description: Option<String>,
    /// New owner (administrators only); `null` clears it.
    #[serde(default, deserialize_with = "super::double_option")]
    #[schema(value_type = Option<i64>)]
    pub owner_id: Option<Option<i64>>,
}

/// What a caller wants to do with a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// See it (owner, member or admin).
    Read,
    /// Change it or its members (owner or admin).
    Manage,
}

/// The group if `user` may `need` it: 404 when they cannot see it, 403 when a member asks
/// to manage it.
pub(crate) async fn load(
    state: &AppState,
    user: &CurrentUser,
    id: i64,
    need: Need,
) -> Result<GroupRow, ApiError> {
    let g = groups::get(&state.db, id).await.map_err(or_404("group"))?;
    if user.is_admin() || g.owner_id == Some(user.id()) {
        return Ok(g);
    }
    if !groups::is_member(&state.db, id, user.id()).await? {
        return Err(ApiError::not_found("no such group"));
    }
    match need {
        Need::Read => Ok(g),
        Need::Manage => Err(ApiError::forbidden(
            "forbidden",
            "only the group's owner or an administrator may change it",
        )),
    }
}

/// The group a key or an account will use: the one named (which `user` must own or belong
/// to, else 404 naming `group_id`), or the default group.
pub(crate) async fn usable(
    state: &AppState,
    user: &CurrentUser,
    group_id: Option<i64>,
) -> Result<GroupRow, ApiError> {
    let (g, missing) = match group_id {
        // The default group, too, is only for its members (a user removed from it cannot
        // keep making keys there by leaving `group_id` out).
        None => (
            groups::ensure_default(&state.db).await?,
            ApiError::forbidden(
                "not_a_member",
                "you are not a member of the default group: name a group you belong to",
            ),
        ),
        Some(id) => {
            let missing =
                ApiError::not_found_field("group_id", format!("no group {id} you can use"));
            match groups::get(&state.db, id).await {
                Ok(g) => (g, missing),
                Err(DbError::NotFound) => return Err(missing),
                Err(e) => return Err(e.into()),
            }
        }
    };
    let id = g.id;
    if user.is_admin()
        || g.owner_id == Some(user.id())
        || groups::is_member(&state.db, id, user.id()).await?
    {
        Ok(g)
    } else {
        Err(missing)
    }
}

fn name_conflict(e: DbError) -> ApiError {
    match e {
        DbError::Conflict { .. } => {
            ApiError::conflict("name_taken", Some("name"), "a group with this name exists")
        }
        other => other.into(),
    }
}

async fn check_owner(state: &AppState, owner: i64) -> Result<(), ApiError> {
    match users::get(&state.db, owner).await {
        Ok(_) => Ok(()),
        Err(DbError::NotFound) => Err(ApiError::not_found_field("owner_id", "no such user")),
        Err(e) => Err(e.into()),
    }
}

/// Groups: every group for an administrator, the ones a user owns or belongs to otherwise.
#[utoipa::path(get, path = "/api/v1/groups", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams),
    responses((status = 200, description = "One page of groups", body = Paged<GroupView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(params): ApiQuery<PageParams>,
) -> Result<Json<Paged<GroupView>>, ApiError> {
    let page = params.page()?;
    if user.is_admin() {
        let (rows, total) = groups::list(&state.db, page).await?;
        let items = rows.iter().map(GroupView::from).collect();
        return Ok(Json(Paged::new(items, total, page)));
    }
    let rows = groups::list_for_user(&state.db, user.id()).await?;
    Ok(Json(Paged::slice(
        rows.iter().map(GroupView::from).collect(),
        page,
    )))
}

/// Creates a group. A user creates a group they own; an administrator may name an owner.
#[utoipa::path(post, path = "/api/v1/groups", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    request_body = NewGroupRequest,
    responses(
        (status = 201, description = "Created", body = GroupView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 403, description = "A user named another owner", body = ErrorBody),
        (status = 404, description = "No such owner (`owner_id`)", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewGroupRequest>,
) -> Result<(StatusCode, Json<GroupView>), ApiError> {
    let name = validate::text("name", &req.name, 64)?;
    let description =
        validate::optional_text("description", req.description.as_deref().unwrap_or(""), 255)?;
    let owner_id = if user.is_admin() {
        if let Some(o) = req.owner_id {
            check_owner(&state, o).await?;
        }
        req.owner_id
    } else {
        match req.owner_id {
            Some(o) if o != user.id() => {
                return Err(ApiError::Forbidden {
                    code: "forbidden",
                    message: "you can only create groups that you own".into(),
                    field: Some("owner_id".into()),
                })
            }
            _ => Some(user.id()),
        }
    };
    let new = NewGroup {
        name: &name,
        description: &description,
        owner_id,
    };
    let g = groups::create(&state.db, &new)
        .await
        .map_err(name_conflict)?;
    changed(&state.db).await?;
    Ok((StatusCode::CREATED, Json(GroupView::from(&g))))
}

/// One group (owner, member or administrator).
#[utoipa::path(get, path = "/api/v1/groups/{id}", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Group id")),
    responses(
        (status = 200, description = "The group", body = GroupView),
        (status = 404, description = "No such group (or not yours)", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<GroupView>, ApiError> {
    let g = load(&state, &user, id, Need::Read).await?;
    Ok(Json(GroupView::from(&g)))
}

/// Renames or re-describes a group (owner or administrator); only administrators change the
/// owner.
#[utoipa::path(put, path = "/api/v1/groups/{id}", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Group id")),
    request_body = GroupUpdate,
    responses(
        (status = 200, description = "Updated", body = GroupView),
        (status = 404, description = "No such group (or not yours)", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<GroupUpdate>,
) -> Result<Json<GroupView>, ApiError> {
    load(&state, &user, id, Need::Manage).await?;
    let mut patch = GroupPatch::default();
    if let Some(name) = &req.name {
        patch.name = Some(validate::text("name", name, 64)?);
    }
    if let Some(d) = &req.description {
        patch.description = Some(validate::optional_text("description", d, 255)?);
    }
    if let Some(owner) = req.owner_id {
        if !user.is_admin() {
            return Err(ApiError::Forbidden {
                code: "forbidden",
                message: "only administrators change a group's owner".into(),
                field: Some("owner_id".into()),
            });
        }
        if let Some(o) = owner {
            check_owner(&state, o).await?;
        }
        patch.owner_id = Some(owner);
    }
    let g = groups::update(&state.db, id, &patch)
        .await
        .map_err(name_conflict)?;
    changed(&state.db).await?;
    Ok(Json(GroupView::from(&g)))
}

/// Deletes a group (owner or administrator). The default group and groups that accounts or
/// keys still use cannot be deleted.
#[utoipa::path(delete, path = "/api/v1/groups/{id}", tag = "groups",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Group id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such group (or not yours)", body = ErrorBody),
        (status = 409, description = "Default group, or still used by accounts or keys", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    let g = load(&state, &user, id, Need::Manage).await?;
    if g.is_default {
        return Err(ApiError::conflict(
            "default_group",
            None,
            "the default group cannot be deleted",
        ));
    }
    groups::delete(&state.db, id).await.map_err(|e| match e {
        DbError::Conflict { .. } => ApiError::conflict(
            "group_in_use",
            None,
            "accounts or API keys still use this group; move or delete them first",
        ),
        other => other.into(),
    })?;
    changed(&state.db).await?;
    Ok(StatusCode::NO_CONTENT)
}
