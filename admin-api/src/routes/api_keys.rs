//! `/api-keys`: relay keys. Users see and manage only their own (another user's key is a
//! 404); administrators see every key and may filter by `user_id`. The full key appears
//! only in the answer to create and regenerate.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use relay_shared::crypto;
use relay_shared::db::api_keys::{self, ApiKeyFilter, ApiKeyRow};
use serde::Deserialize;
use utoipa::IntoParams;

pub use super::api_keys_body::{ApiKeyView, CreatedKey, KeyUpdate, NewKeyRequest};
use super::groups::usable;
use super::{changed, key_spend_view, or_404};
use crate::auth::CurrentUser;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiPath, ApiQuery, PageParams, Paged};
use crate::state::AppState;

/// Filters of `GET /api-keys`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyFilter {
    /// Only keys of this user (administrators; users always see only their own).
    pub user_id: Option<i64>,
    /// Only keys of this group.
    pub group_id: Option<i64>,
}

/// The key if `user` may see it (an administrator, or its owner); 404 otherwise.
async fn load(state: &AppState, user: &CurrentUser, id: i64) -> Result<ApiKeyRow, ApiError> {
    let found = if user.is_admin() {
        api_keys::get(&state.db, id).await
    } else {
        api_keys::get_for_user(&state.db, id, user.id()).await
    };
    found.map_err(or_404("API key"))
}

/// API keys: the caller's own, or (administrators) everyone's.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    params(PageParams, KeyFilter),
    responses((status = 200, description = "One page of keys", body = Paged<ApiKeyView>)))]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiQuery(params): ApiQuery<PageParams>,
    ApiQuery(filter): ApiQuery<KeyFilter>,
) -> Result<Json<Paged<ApiKeyView>>, ApiError> {
    let page = params.page()?;
    let filter = ApiKeyFilter {
        user_id: if user.is_admin() {
            filter.user_id
        } else {
            Some(user.id())
        },
        group_id: filter.group_id,
    };
    let (rows, total) = api_keys::list(&state.db, filter, page).await?;
    let mut spend = key_spend_view::of_rows(&state.db, &rows, state.config.tz()).await?;
    let items = rows
        .iter()
        .map(|r| {
            let mut v = ApiKeyView::from_row(r)?;
            v.spend = spend.remove(&r.id);
            Ok(v)
        })
        .collect::<Result<_, ApiError>>()?;
    Ok(Json(Paged::new(items, total, page)))
}

/// Creates a key for the caller. Limits and allowed models are saved as given; without
/// `group_id` the key joins the default group.
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    request_body = NewKeyRequest,
    responses(
        (status = 201, description = "Created; `key` is shown only now", body = CreatedKey),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such group you can use", body = ErrorBody),
    ))]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(req): ApiJson<NewKeyRequest>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    let group = usable(&state, &user, req.group_id).await?;
    let key = crypto::generate_relay_key();
    let new = req.into_new_key(
        state.config.tz(),
        user.id(),
        group.id,
        crypto::hash_relay_key(&key),
        crypto::relay_key_prefix(&key),
    )?;
    let row = api_keys::create(&state.db, &new).await?;
    changed(&state.db).await?;
    let created = CreatedKey {
        api_key: ApiKeyView::from_row(&row)?,
        key,
    };
    Ok((StatusCode::CREATED, Json(created)))
}

/// One key.
#[utoipa::path(get, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Key id")),
    responses(
        (status = 200, description = "The key", body = ApiKeyView),
        (status = 404, description = "No such key (or not yours)", body = ErrorBody),
    ))]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<ApiKeyView>, ApiError> {
    let row = load(&state, &user, id).await?;
    Ok(Json(with_spend(&state, &row).await?))
}

/// Changes a key (absent fields keep their value).
#[utoipa::path(put, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Key id")),
    request_body = KeyUpdate,
    responses(
        (status = 200, description = "Updated", body = ApiKeyView),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 404, description = "No such key (or not yours), or no such group", body = ErrorBody),
    ))]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(req): ApiJson<KeyUpdate>,
) -> Result<Json<ApiKeyView>, ApiError> {
    load(&state, &user, id).await?;
    let mut patch = req.patch(state.config.tz())?;
    if let Some(g) = req.group_id {
        patch.group_id = Some(usable(&state, &user, Some(g)).await?.id);
    }
    let row = api_keys::update(&state.db, id, &patch)
        .await
        .map_err(or_404("API key"))?;
    changed(&state.db).await?;
    Ok(Json(with_spend(&state, &row).await?))
}

/// The view of `row` with its spend against each limit.
async fn with_spend(state: &AppState, row: &ApiKeyRow) -> Result<ApiKeyView, ApiError> {
    let mut v = ApiKeyView::from_row(row)?;
    let mut spend =
        key_spend_view::of_rows(&state.db, std::slice::from_ref(row), state.config.tz()).await?;
    v.spend = spend.remove(&row.id);
    Ok(v)
}

/// Deletes a key.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Key id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such key (or not yours)", body = ErrorBody),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, ApiError> {
    load(&state, &user, id).await?;
    api_keys::delete(&state.db, id)
        .await
        .map_err(or_404("API key"))?;
    changed(&state.db).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a key's material: the old key stops working, the new one is shown only now.
#[utoipa::path(post, path = "/api/v1/api-keys/{id}/regenerate", tag = "api-keys",
    security(("bearer" = []), ("cookie" = [])),
    params(("id" = i64, Path, description = "Key id")),
    responses(
        (status = 201, description = "Regenerated; `key` is shown only now", body = CreatedKey),
        (status = 404, description = "No such key (or not yours)", body = ErrorBody),
    ))]
pub async fn regenerate(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<CreatedKey>), ApiError> {
    load(&state, &user, id).await?;
    let key = crypto::generate_relay_key();
    let row = api_keys::regenerate(
        &state.db,
        id,
        &crypto::hash_relay_key(&key),
        &crypto::relay_key_prefix(&key),
    )
    .await
    .map_err(or_404("API key"))?;
    changed(&state.db).await?;
    let created = CreatedKey {
        api_key: ApiKeyView::from_row(&row)?,
        key,
    };
    Ok((StatusCode::CREATED, Json(created)))
}
