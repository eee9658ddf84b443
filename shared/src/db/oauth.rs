//! `oauth_sessions`: the short-lived state of an OAuth authorization started from the console
//! (PKCE verifier, encrypted, and the draft account), usable exactly once before it expires.

use sqlx::FromRow;

use super::{on_db, Db, DbError, DbResult};

/// A pending OAuth authorization.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct OAuthSessionRow {
    /// The `state` parameter sent to the provider (primary key).
    pub state: String,
    /// PKCE code verifier, AES-GCM encrypted.
    pub code_verifier_enc: String,
    /// Admin who started the flow.
    pub created_by: i64,
    /// The account being created, as JSON text.
    pub draft: String,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// After this instant (epoch ms) the session is refused.
    pub expires_at: i64,
}

const COLUMNS: &str = "state, code_verifier_enc, created_by, draft, created_at, expires_at";

/// Stores a new session; a reused `state` is a [`DbError::Conflict`].
pub async fn insert(db: &Db, s: &OAuthSessionRow) -> DbResult<()> {
    let sql = format!("INSERT INTO oauth_sessions ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)");
    on_db!(db, p => sqlx::query(&sql)
        .bind(s.state.as_str())
        .bind(s.code_verifier_enc.as_str())
        .bind(s.created_by)
        .bind(s.draft.as_str())
        .bind(s.created_at)
        .bind(s.expires_at)
        .execute(p)
        .await
        .map(|_| ())
        .map_err(DbError::from))
}

/// Removes the session `state` and returns it if it existed and had not expired at `now_ms`.
/// Read and delete share one transaction, and only the caller whose delete removed the row
/// gets it, so a state is usable once even when two callbacks race. An expired session is
/// deleted too.
pub async fn take(db: &Db, state: &str, now_ms: i64) -> DbResult<Option<OAuthSessionRow>> {
    let sql = format!("SELECT {COLUMNS} FROM oauth_sessions WHERE state = ?");
    let (row, deleted) = on_db!(db, p => {
        let mut tx = p.begin().await?;
        // Lock first (the write lock on SQLite, the row lock on MySQL), then read and delete.
        sqlx::query("UPDATE oauth_sessions SET expires_at = expires_at WHERE state = ?")
            .bind(state)
            .execute(&mut *tx)
            .await?;
        let row = sqlx::query_as::<_, OAuthSessionRow>(&sql)
            .bind(state)
            .fetch_optional(&mut *tx)
            .await?;
        let deleted = sqlx::query("DELETE FROM oauth_sessions WHERE state = ?")
            .bind(state)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        (row, deleted)
    });
    Ok(row.filter(|r| deleted == 1 && r.expires_at > now_ms))
}

/// Deletes every session expired at `now_ms`; returns how many.
pub async fn purge_expired(db: &Db, now_ms: i64) -> DbResult<u64> {
    on_db!(db, p => sqlx::query("DELETE FROM oauth_sessions WHERE expires_at <= ?")
        .bind(now_ms)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        .map_err(DbError::from))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::db_test;

    fn session(state: &str, expires_at: i64) -> OAuthSessionRow {
        OAuthSessionRow {
            state: state.into(),
            code_verifier_enc: "enc:verifier".into(),
            created_by: 7,
            draft: r#"{"name":"claude-1","group_id":1}"#.into(),
            created_at: 1_000,
            expires_at,
        }
    }

    db_test!(a_session_can_be_taken_only_once, |db| {
        let s = session("st-once", 10_000);
        insert(&db, &s).await.unwrap();
        assert_eq!(take(&db, "st-once", 5_000).await.unwrap(), Some(s));
        assert_eq!(take(&db, "st-once", 5_000).await.unwrap(), None);
        assert_eq!(take(&db, "never-stored", 5_000).await.unwrap(), None);
    });

    db_test!(racing_takes_of_one_state_have_a_single_winner, |db| {
        for round in 0..5 {
            let state = format!("st-race-{round}");
            insert(&db, &session(&state, 10_000)).await.unwrap();
            let takes: Vec<_> = (0..6)
                .map(|_| {
                    let (db, state) = (db.clone(), state.clone());
                    tokio::spawn(async move { take(&db, &state, 5_000).await })
                })
                .collect();
            let mut winners = 0;
            for t in takes {
                if t.await.unwrap().unwrap().is_some() {
                    winners += 1;
                }
            }
            assert_eq!(winners, 1, "round {round}");
        }
    });

    db_test!(an_expired_session_is_refused_and_removed, |db| {
        insert(&db, &session("st-old", 10_000)).await.unwrap();
        assert_eq!(take(&db, "st-old", 10_000).await.unwrap(), None);
        // The refused take removed it: re-inserting the same state is allowed.
        insert(&db, &session("st-old", 20_000)).await.unwrap();
        assert!(take(&db, "st-old", 19_999).await.unwrap().is_some());
    });

    db_test!(a_reused_state_is_a_conflict, |db| {
        insert(&db, &session("st-dup", 10_000)).await.unwrap();
        let err = insert(&db, &session("st-dup", 10_000)).await.unwrap_err();
        assert!(matches!(err, DbError::Conflict { .. }), "{err:?}");
    });

    db_test!(purge_removes_only_expired_sessions, |db| {
        insert(&db, &session("a", 1_000)).await.unwrap();
        insert(&db, &session("b", 2_000)).await.unwrap();
        insert(&db, &session("c", 3_000)).await.unwrap();
        assert_eq!(purge_expired(&db, 2_000).await.unwrap(), 2);
        assert_eq!(purge_expired(&db, 2_000).await.unwrap(), 0);
        assert!(take(&db, "a", 0).await.unwrap().is_none());
        assert!(take(&db, "c", 2_500).await.unwrap().is_some());
    });
}
