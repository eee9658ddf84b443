//! `users`: admins and users of the console, with argon2id hashes and a token version that
//! revokes earlier logins when it changes.

use serde::Serialize;
use sqlx::FromRow;

use super::{insert_id, now_ms, on_db, Db, DbError, DbResult, Page};

/// A stored user. `password_hash` never leaves the server.
#[derive(Debug, Clone, FromRow, Serialize)]
pub struct UserRow {
    /// Id.
    pub id: i64,
    /// Unique login name.
    pub username: String,
    /// Optional unique e-mail.
    pub email: Option<String>,
    /// argon2id PHC string.
    #[serde(skip)]
    pub password_hash: String,
    /// `admin` or `user`.
    pub role: String,
    /// Disabled users cannot log in and their keys stop working.
    pub enabled: bool,
    /// Set when an admin chose the password; the user must change it before anything else.
    pub must_change_password: bool,
    /// Bumped to revoke every token issued before.
    #[serde(skip)]
    pub token_version: i64,
    /// Last successful login, epoch ms.
    pub last_login_at: Option<i64>,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last change, epoch ms.
    pub updated_at: i64,
}

/// Fields of a new user.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Unique login name.
    pub username: &'a str,
    /// Optional e-mail.
    pub email: Option<&'a str>,
    /// argon2id PHC string (hash before calling).
    pub password_hash: &'a str,
    /// `admin` or `user`.
    pub role: &'a str,
    /// Must change the password at next login.
    pub must_change_password: bool,
}

/// A partial update; `None` keeps the stored value.
#[derive(Debug, Clone, Default)]
pub struct UserPatch {
    /// New e-mail (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// New role.
    pub role: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

const COLUMNS: &str = "id, username, email, password_hash, role, enabled, must_change_password, \
                       token_version, last_login_at, created_at, updated_at";

/// Creates a user and returns it.
pub async fn create(db: &Db, u: &NewUser<'_>) -> DbResult<UserRow> {
    let now = now_ms();
    let id = insert_id!(
        db,
        sqlx::query(
            "INSERT INTO users (username, email, password_hash, role, enabled, must_change_password, \
             token_version, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)"
        )
        .bind(u.username)
        .bind(u.email)
        .bind(u.password_hash)
        .bind(u.role)
        .bind(true)
        .bind(u.must_change_password)
        .bind(now)
        .bind(now)
    )?;
    get(db, id).await
}

/// The user with `id`.
pub async fn get(db: &Db, id: i64) -> DbResult<UserRow> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = ?");
    on_db!(db, p => sqlx::query_as::<_, UserRow>(&sql).bind(id).fetch_one(p).await.map_err(DbError::from))
}

/// The user called `username`, if any.
pub async fn find_by_username(db: &Db, username: &str) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE username = ?");
    on_db!(db, p => sqlx::query_as::<_, UserRow>(&sql).bind(username).fetch_optional(p).await.map_err(DbError::from))
}

/// The user whose e-mail is `email`, if any.
pub async fn find_by_email(db: &Db, email: &str) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = ?");
    on_db!(db, p => sqlx::query_as::<_, UserRow>(&sql).bind(email).fetch_optional(p).await.map_err(DbError::from))
}

/// One page of users by id, and the total count.
pub async fn list(db: &Db, page: Page) -> DbResult<(Vec<UserRow>, i64)> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id LIMIT ? OFFSET ?");
    let rows = on_db!(db, p => sqlx::query_as::<_, UserRow>(&sql).bind(page.limit()).bind(page.offset()).fetch_all(p).await)?;
    Ok((rows, count(db).await?))
}

/// Every user (for the in-memory snapshot of the front door).
pub async fn list_all(db: &Db) -> DbResult<Vec<UserRow>> {
    let sql = format!("SELECT {COLUMNS} FROM users ORDER BY id");
    on_db!(db, p => sqlx::query_as::<_, UserRow>(&sql).fetch_all(p).await.map_err(DbError::from))
}

/// Number of users.
pub async fn count(db: &Db) -> DbResult<i64> {
    on_db!(db, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users").fetch_one(p).await.map_err(DbError::from))
}

/// Applies `patch` to the user and returns the result.
pub async fn update(db: &Db, id: i64, patch: &UserPatch) -> DbResult<UserRow> {
    let (set_email, email) = match &patch.email {
        Some(e) => (true, e.clone()),
        None => (false, None),
    };
    let done = on_db!(db, p => sqlx::query(
        "UPDATE users SET email = CASE WHEN ? THEN ? ELSE email END, role = COALESCE(?, role), \
         enabled = COALESCE(?, enabled), updated_at = ? WHERE id = ?",
    )
    .bind(set_email)
    .bind(email)
    .bind(patch.role.as_deref())
    .bind(patch.enabled)
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

/// Replaces the password hash, sets whether it must be changed at next login, and bumps the
/// token version so that every earlier token is refused.
pub async fn set_password(
    db: &Db,
    id: i64,
    password_hash: &str,
    must_change: bool,
) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query(
        "UPDATE users SET password_hash = ?, must_change_password = ?, token_version = token_version + 1, \
         updated_at = ? WHERE id = ?",
    )
    .bind(password_hash)
    .bind(must_change)
    .bind(now_ms())
    .bind(id)
    .execute(p)
    .await
    .map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

/// Bumps the token version (logout everywhere).
pub async fn bump_token_version(db: &Db, id: i64) -> DbResult<i64> {
    on_db!(db, p => sqlx::query("UPDATE users SET token_version = token_version + 1, updated_at = ? WHERE id = ?")
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
    Ok(get(db, id).await?.token_version)
}

/// Records a successful login.
pub async fn touch_login(db: &Db, id: i64) -> DbResult<()> {
    on_db!(db, p => sqlx::query("UPDATE users SET last_login_at = ? WHERE id = ?")
        .bind(now_ms())
        .bind(id)
        .execute(p)
        .await
        .map(|_| ()))?;
    Ok(())
}

/// Deletes the user (their keys and memberships go with them).
pub async fn delete(db: &Db, id: i64) -> DbResult<()> {
    let done = on_db!(db, p => sqlx::query("DELETE FROM users WHERE id = ?").bind(id).execute(p).await.map(|r| r.rows_affected()))?;
    if done == 0 {
        return Err(DbError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db_test;

    fn new_user(name: &str) -> NewUser<'_> {
        NewUser {
            username: name,
            email: None,
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
            role: "user",
            must_change_password: false,
        }
    }

    db_test!(create_get_update_delete, |db| {
        let u = create(&db, &new_user("alice")).await.unwrap();
        assert_eq!(u.username, "alice");
        assert!(u.enabled);
        assert_eq!(
            find_by_username(&db, "alice").await.unwrap().unwrap().id,
            u.id
        );
        assert!(find_by_username(&db, "bob").await.unwrap().is_none());

        let patch = UserPatch {
            email: Some(Some("a@example.com".into())),
            enabled: Some(false),
            ..Default::default()
        };
        let u2 = update(&db, u.id, &patch).await.unwrap();
        assert_eq!(u2.email.as_deref(), Some("a@example.com"));
        assert!(!u2.enabled);
        assert_eq!(u2.role, "user", "absent fields keep their value");

        let u3 = update(
            &db,
            u.id,
            &UserPatch {
                email: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(u3.email, None);
        assert!(!u3.enabled);

        delete(&db, u.id).await.unwrap();
        assert!(matches!(get(&db, u.id).await, Err(DbError::NotFound)));
        assert!(matches!(delete(&db, u.id).await, Err(DbError::NotFound)));
    });

    db_test!(duplicate_username_is_a_conflict, |db| {
        create(&db, &new_user("carol")).await.unwrap();
        let err = create(&db, &new_user("carol")).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
    });

    db_test!(password_change_bumps_token_version, |db| {
        let u = create(&db, &new_user("dave")).await.unwrap();
        set_password(&db, u.id, "$argon2id$new", true)
            .await
            .unwrap();
        let after = get(&db, u.id).await.unwrap();
        assert_eq!(after.token_version, u.token_version + 1);
        assert!(after.must_change_password);
        assert_eq!(after.password_hash, "$argon2id$new");
        assert_eq!(
            bump_token_version(&db, u.id).await.unwrap(),
            u.token_version + 2
        );
    });

    db_test!(find_by_email_finds_only_that_address, |db| {
        let mut u = new_user("erin");
        u.email = Some("erin@example.com");
        let erin = create(&db, &u).await.unwrap();
        create(&db, &new_user("frank")).await.unwrap();
        let found = find_by_email(&db, "erin@example.com").await.unwrap();
        assert_eq!(found.map(|f| f.id), Some(erin.id));
        assert!(find_by_email(&db, "nobody@example.com")
            .await
            .unwrap()
            .is_none());
    });

    db_test!(list_pages_and_counts, |db| {
        for i in 0..5 {
            create(&db, &new_user(&format!("u{i}"))).await.unwrap();
        }
        let (rows, total) = list(
            &db,
            Page {
                page: 2,
                page_size: 2,
            },
        )
        .await
        .unwrap();
        assert_eq!(total, 5);
        assert_eq!(
            rows.iter().map(|r| r.username.as_str()).collect::<Vec<_>>(),
            ["u2", "u3"]
        );
        assert_eq!(list_all(&db).await.unwrap().len(), 5);
    });
}
