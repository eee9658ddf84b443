//! `settings`: named text values, and the change version every admin write bumps so that
//! proxies notice and refresh their snapshot.

use super::{now_ms, on_db, Db, DbError, DbResult};

/// Name of the row whose `version` is the change version.
pub const CHANGE_VERSION: &str = "change_version";

/// The value of setting `name`, if set.
pub async fn get(db: &Db, name: &str) -> DbResult<Option<String>> {
    on_db!(db, p => sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = ?")
        .bind(name)
        .fetch_optional(p)
        .await
        .map_err(DbError::from))
}

/// Sets `name` to `value`, creating the row if needed (its `version` is left alone).
pub async fn set(db: &Db, name: &str, value: &str) -> DbResult<()> {
    let sql = match db {
        Db::Sqlite(_) => {
            "INSERT INTO settings (name, value, version, updated_at) VALUES (?, ?, 0, ?) \
             ON CONFLICT(name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"
        }
        Db::MySql(_) => {
            "INSERT INTO settings (name, value, version, updated_at) VALUES (?, ?, 0, ?) \
             ON DUPLICATE KEY UPDATE value = VALUES(value), updated_at = VALUES(updated_at)"
        }
    };
    on_db!(db, p => sqlx::query(sql)
        .bind(name)
        .bind(value)
        .bind(now_ms())
        .execute(p)
        .await
        .map(|_| ())
        .map_err(DbError::from))
}

/// The current change version (seeded to 1 by the first migration).
pub async fn change_version(db: &Db) -> DbResult<i64> {
    on_db!(db, p => sqlx::query_scalar::<_, i64>("SELECT version FROM settings WHERE name = ?")
        .bind(CHANGE_VERSION)
        .fetch_one(p)
        .await
        .map_err(DbError::from))
}

/// Adds one to the change version and returns the new value. Increment and read share a
/// transaction, so concurrent callers each get a distinct version.
pub async fn bump_change_version(db: &Db) -> DbResult<i64> {
    let v = bump(db).await?;
    crate::changes::announce();
    Ok(v)
}

async fn bump(db: &Db) -> DbResult<i64> {
    on_db!(db, p => {
        let mut tx = p.begin().await?;
        let done = sqlx::query(
            "UPDATE settings SET version = version + 1, updated_at = ? WHERE name = ?",
        )
        .bind(now_ms())
        .bind(CHANGE_VERSION)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if done == 0 {
            return Err(DbError::NotFound);
        }
        let v = sqlx::query_scalar::<_, i64>("SELECT version FROM settings WHERE name = ?")
            .bind(CHANGE_VERSION)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(v)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db_test;

    db_test!(set_inserts_then_overwrites_a_value, |db| {
        assert_eq!(get(&db, "motd").await.unwrap(), None);
        set(&db, "motd", "hello").await.unwrap();
        assert_eq!(get(&db, "motd").await.unwrap().as_deref(), Some("hello"));
        set(&db, "motd", "").await.unwrap();
        assert_eq!(get(&db, "motd").await.unwrap().as_deref(), Some(""));
        set(&db, "other", "x").await.unwrap();
        assert_eq!(get(&db, "motd").await.unwrap().as_deref(), Some(""));
    });

    db_test!(change_version_starts_at_one_and_bumps_by_one, |db| {
        assert_eq!(change_version(&db).await.unwrap(), 1);
        assert_eq!(bump_change_version(&db).await.unwrap(), 2);
        assert_eq!(bump_change_version(&db).await.unwrap(), 3);
        assert_eq!(change_version(&db).await.unwrap(), 3);
        set(&db, "motd", "x").await.unwrap();
        assert_eq!(change_version(&db).await.unwrap(), 3, "set leaves it alone");
    });

    db_test!(concurrent_bumps_each_get_a_distinct_version, |db| {
        let bumps = (0..8).map(|_| {
            let db = db.clone();
            tokio::spawn(async move { bump_change_version(&db).await.unwrap() })
        });
        let mut seen = Vec::new();
        for b in bumps.collect::<Vec<_>>() {
            seen.push(b.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (2..10).collect::<Vec<_>>());
        assert_eq!(change_version(&db).await.unwrap(), 9);
    });
}
