//! `groups` and `group_members`: a group is a pool of accounts plus the users allowed to make
//! keys in it (SPEC §4). One group carries `is_default` and receives accounts and keys created
//! without a group. `groups` is a reserved word in MySQL, so it is always written in backticks.

use serde::Serialize;
use sqlx::FromRow;

use super::{insert_id, now_ms, on_db, Db, DbError, DbResult, Page};

/// Name of the group [`ensure_default`] creates.
pub const DEFAULT_GROUP_NAME: &str = "default";

/// A stored group.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct GroupRow {
    /// Id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Free text.
    pub description: String,
    /// Owning user, if any (cleared when that user is deleted).
    pub owner_id: Option<i64>,
    /// The group that receives accounts and keys created without a group.
    pub is_default: bool,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
}

/// Fields of a new group.
#[derive(Debug, Clone)]
pub struct NewGroup<'a> {
    /// Unique name.
    pub name: &'a str,
    /// Free text.
    pub description: &'a str,
    /// Owning user, if any.
    pub owner_id: Option<i64>,
}

/// A partial update; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct GroupPatch {
    /// New name.
    pub name: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New owner (`Some(None)` clears it).
    pub owner_id: Option<Option<i64>>,
}

/// A member of a group, with the user's name and role (`admin` or `user`).
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct MemberRow {
    /// Group id.
    pub group_id: i64,
    /// User id.
    pub user_id: i64,
    /// The user's login name.
    pub username: String,
    /// The user's role.
    pub role: String,
    /// When the user joined the group, epoch ms.
    pub created_at: i64,
}

const COLUMNS: &str = "id, name, description, owner_id, is_default, created_at, updated_at";

async fn insert(db: &Db, g: &NewGroup<'_>, is_default: bool) -> DbResult<GroupRow> {
    let now = now_ms();
    let id = insert_id!(
        db,
        sqlx::query(
            "INSERT INTO `groups` (name, description, owner_id, is_default, created_at, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?)"
        )
        .bind(g.name)
        .bind(g.description)
        .bind(g.owner_id)
        .bind(is_default)
        .bind(now)
        .bind(now)
    )?;
    get(db, id).await
}

/// Creates a group and returns it.
pub async fn create(db: &Db, g: &NewGroup<'_>) -> DbResult<GroupRow> {
    insert(db, g, false).await
}

/// The group with `id`.
pub async fn get(db: &Db, id: i64) -> DbResult<GroupRow> {
    let sql = format!("SELECT {COLUMNS} FROM `groups` WHERE id = ?");
    on_db!(db, p => sqlx::query_as::<_, GroupRow>(&sql).bind(id).fetch_one(p).await.map_err(DbError::from))
}

/// One page of groups by id, and the total count.
pub async fn list(db: &Db, page: Page) -> DbResult<(Vec<GroupRow>, i64)> {
    let sql = format!("SELECT {COLUMNS} FROM `groups` ORDER BY id LIMIT ? OFFSET ?");
    let rows = on_db!(db, p => sqlx::query_as::<_, GroupRow>(&sql).bind(page.limit()).bind(page.offset()).fetch_all(p).await)?;
    let total = on_db!(db, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM `groups`").fetch_one(p).await)?;
    Ok((rows, total))
}

/// Every group the user owns or is a member of, by id.
pub async fn list_for_user(db: &Db, user_id: i64) -> DbResult<Vec<GroupRow>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM `groups` WHERE owner_id = ? \
         OR id IN (SELECT group_id FROM group_members WHERE user_id = ?) ORDER BY id"
    );
    on_db!(db, p => sqlx::query_as::<_, GroupRow>(&sql).bind(user_id).bind(user_id).fetch_all(p).await.map_err(DbError::from))
}

/// Applies `patch` to the group and returns the result.
pub async fn update(db: &Db, id: i64, patch: &GroupPatch) -> DbResult<GroupRow> {
    let (set_owner, owner) = match patch.owner_id {
        Some(o) => (true, o),
        None => (false, None),
    };
    let done = on_db!(db, p => sqlx::query(
        "UPDATE `groups` SET name = COALESCE(?, name), description = COALESCE(?, description), \
         owner_id = CASE WHEN ? THEN ? ELSE owner_id END, updated_at = ? WHERE id = ?",
    )
    .bind(patch.name.as_deref())
    .bind(patch.description.as_deref())
    .bind(set_owner)
    .bind(owner)
    .bind(now_ms())
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    get(db, id).await
}

/// Deletes the group (its memberships go with it). A group that accounts or keys still use
/// is refused with [`DbError::Conflict`] (`group_in_use`).
pub async fn delete(db: &Db, id: i64) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query("DELETE FROM `groups` WHERE id = ?").bind(id).execute(p).await.map(|r| r.rows_affected()))
        .map_err(|e| match DbError::from(e) {
            DbError::Conflict { .. } => DbError::Conflict {
                constraint: "group_in_use".to_string(),
            },
            other => other,
        })?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// The default group, if one exists.
pub async fn default_group(db: &Db) -> DbResult<Option<GroupRow>> {
    let sql = format!("SELECT {COLUMNS} FROM `groups` WHERE is_default = ? ORDER BY id LIMIT 1");
    on_db!(db, p => sqlx::query_as::<_, GroupRow>(&sql).bind(true).fetch_optional(p).await.map_err(DbError::from))
}

/// The default group, created (named [`DEFAULT_GROUP_NAME`]) when there is none. Safe to call
/// at every start and from several instances at once: a group already called `default` is
/// promoted rather than duplicated.
pub async fn ensure_default(db: &Db) -> DbResult<GroupRow> {
    if let Some(g) = default_group(db).await? {
        return Ok(g);
    }
    let new = NewGroup {
        name: DEFAULT_GROUP_NAME,
        description: "Default group",
        owner_id: None,
    };
    match insert(db, &new, true).await {
        Ok(g) => return Ok(g),
        Err(DbError::Conflict { .. }) => {}
        Err(e) => return Err(e),
    }
    // Another instance won the race, or a plain group already holds the name.
    if let Some(g) = default_group(db).await? {
        return Ok(g);
    }
    on_db!(db, p => sqlx::query("UPDATE `groups` SET is_default = ?, updated_at = ? WHERE name = ?")
        .bind(true)
        .bind(now_ms())
        .bind(DEFAULT_GROUP_NAME)
        .execute(p)
        .await
        .map(|_| ()))?;
    default_group(db).await?.ok_or(DbError::NotFound)
}

/// Adds the user to the group; adding a member twice is not an error, a missing group or
/// user is a [`DbError::Conflict`]. (MySQL's `INSERT IGNORE` would also swallow the
/// foreign-key error, hence `ON DUPLICATE KEY UPDATE` there.)
pub async fn add_member(db: &Db, group_id: i64, user_id: i64) -> DbResult<()> {
    let sql = match db {
        Db::Sqlite(_) => {
            "INSERT OR IGNORE INTO group_members (group_id, user_id, created_at) VALUES (?, ?, ?)"
        }
        Db::MySql(_) => {
            "INSERT INTO group_members (group_id, user_id, created_at) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE created_at = created_at"
        }
    };
    on_db!(db, p => sqlx::query(sql).bind(group_id).bind(user_id).bind(now_ms()).execute(p).await.map(|_| ()))?;
    Ok(())
}

/// Removes the user from the group; [`DbError::NotFound`] when they were not a member.
pub async fn remove_member(db: &Db, group_id: i64, user_id: i64) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query("DELETE FROM group_members WHERE group_id = ? AND user_id = ?")
        .bind(group_id)
        .bind(user_id)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// The members of the group, by user id.
pub async fn list_members(db: &Db, group_id: i64) -> DbResult<Vec<MemberRow>> {
    on_db!(db, p => sqlx::query_as::<_, MemberRow>(
        "SELECT m.group_id, m.user_id, u.username, u.role, m.created_at FROM group_members m \
         JOIN users u ON u.id = m.user_id WHERE m.group_id = ? ORDER BY m.user_id",
    )
    .bind(group_id)
    .fetch_all(p)
    .await
    .map_err(DbError::from))
}

/// Every (group, user) pair where the user may use the group's accounts through a key: its
/// members and its owner (administrators may use every group; the caller adds them).
pub async fn access_pairs(db: &Db) -> DbResult<Vec<(i64, i64)>> {
    on_db!(db, p => sqlx::query_as::<_, (i64, i64)>(
        "SELECT group_id, user_id FROM group_members \
         UNION SELECT id, owner_id FROM groups WHERE owner_id IS NOT NULL",
    )
    .fetch_all(p)
    .await
    .map_err(DbError::from))
}

/// Whether the user is a member of the group (owning it is not membership).
pub async fn is_member(db: &Db, group_id: i64, user_id: i64) -> DbResult<bool> {
    let n = on_db!(db, p => sqlx::query_scalar::<_, i64>(
        "SELECT COUNT(*) FROM group_members WHERE group_id = ? AND user_id = ?",
    )
    .bind(group_id)
    .bind(user_id)
    .fetch_one(p)
    .await)?;
    Ok(n > 0)
}

#[cfg(test)]
#[path = "tests/groups.rs"]
pub(crate) mod tests;
