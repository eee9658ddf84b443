//! The data layer (SPEC §9): one [`Db`] handle over SQLite or MySQL/MariaDB, migrations, and
//! repository functions grouped by table (one module each). The same SQL text serves both
//! backends (both use `?` placeholders); dialect differences sit behind one `match` per
//! statement. Times are UTC epoch milliseconds, money micro-USD, both `BIGINT`.

pub mod accounts;
pub mod api_keys;
pub mod columns;
pub mod groups;
pub mod key_spend;
pub mod oauth;
pub mod settings;
pub mod usage;
mod usage_sql;
pub mod usage_stats;
mod usage_write;
pub mod users;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::ConnectOptions;

use crate::config::{redact_url, DatabaseConfig};

/// A pooled connection to the configured database.
#[derive(Clone, Debug)]
pub enum Db {
    /// Embedded SQLite file.
    Sqlite(SqlitePool),
    /// MySQL or MariaDB server.
    MySql(MySqlPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool of either backend. The body is
/// compiled once per backend, so it must be valid SQL for both.
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::MySql($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// Executes an `INSERT` built by `$query` and returns the new row's id.
macro_rules! insert_id {
    ($db:expr, $query:expr) => {
        match $db {
            $crate::db::Db::Sqlite(p) => $query
                .execute(p)
                .await
                .map(|r| r.last_insert_rowid())
                .map_err($crate::db::DbError::from),
            $crate::db::Db::MySql(p) => $query
                .execute(p)
                .await
                .map(|r| r.last_insert_id() as i64)
                .map_err($crate::db::DbError::from),
        }
    };
}
pub(crate) use insert_id;

/// Errors of the data layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// A unique or foreign-key constraint refused the write.
    #[error("conflict on {constraint}")]
    Conflict {
        /// The constraint (or index) named by the database.
        constraint: String,
    },
    /// Migrations could not be applied.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded (for example a JSON column).
    #[error("corrupt value in column {column}: {reason}")]
    Corrupt {
        /// Column holding the value.
        column: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Any other database error.
    #[error("database error: {0}")]
    Other(sqlx::Error),
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::Database(d) if d.is_unique_violation() || d.is_foreign_key_violation() => {
                Self::Conflict {
                    constraint: d.constraint().unwrap_or("unique key").to_string(),
                }
            }
            _ => Self::Other(e),
        }
    }
}

impl DbError {
    /// Whether the database refused the data itself (a value, a constraint), so that writing
    /// the same rows again can never succeed, as opposed to a failure of the connection, a
    /// lock or the server's state (worth retrying). Unknown database error codes count as
    /// refusals: a batch refused by them is split until the row is found, and only that row is
    /// set aside, so a wrong guess costs a few extra statements, never a lost row.
    pub fn is_rejection(&self) -> bool {
        match self {
            Self::Conflict { .. } | Self::Corrupt { .. } => true,
            Self::Other(sqlx::Error::Database(d)) => !transient_db_error(d.as_ref()),
            Self::Other(
                sqlx::Error::ColumnDecode { .. }
                | sqlx::Error::Encode(_)
                | sqlx::Error::TypeNotFound { .. },
            ) => true,
            _ => false,
        }
    }
}

/// Whether a database error says "try again later": MySQL/MariaDB server errors and SQLite
/// result codes about locks, connections, the server's state and the disk.
fn transient_db_error(d: &dyn sqlx::error::DatabaseError) -> bool {
    const MYSQL: &[u16] = &[
        1040, 1053, 1077, 1152, 1153, 1158, 1159, 1160, 1161, 1184, 1203, 1205, 1213, 1290, 1317,
        1836, 1927, 2002, 2003, 2006, 2013, 2055, 3024, 4031,
    ];
    if let Some(m) = d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return MYSQL.contains(&m.number());
    }
    if d.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
        // BUSY, LOCKED, NOMEM, READONLY, IOERR, CORRUPT, FULL, CANTOPEN, PROTOCOL, NOTADB:
        // the primary code is the low byte of an extended one.
        let code = d.code().and_then(|c| c.parse::<u32>().ok()).unwrap_or(0);
        return matches!(code & 0xff, 5 | 6 | 7 | 8 | 10 | 11 | 13 | 14 | 15 | 26);
    }
    true
}

/// Result of a repository call.
pub type DbResult<T> = Result<T, DbError>;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static MYSQL_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/mysql");

impl Db {
    /// Opens the pool named by `cfg.url`. A SQLite file and its folder are created; a MySQL
    /// database that does not exist yet is created (utf8mb4).
    pub async fn connect(cfg: &DatabaseConfig) -> DbResult<Self> {
        if let Some(rest) = cfg.url.strip_prefix("sqlite://") {
            let path = rest.split('?').next().unwrap_or_default();
            if let Some(parent) = Path::new(path).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent)
                        .map_err(|e| DbError::Other(sqlx::Error::Io(e)))?;
                }
            }
            let opts = SqliteConnectOptions::from_str(&cfg.url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .disable_statement_logging();
            let pool = SqlitePoolOptions::new()
                .max_connections(cfg.max_connections)
                .min_connections(cfg.min_connections)
                .acquire_timeout(cfg.connect_timeout)
                .connect_with(opts)
                .await?;
            return Ok(Self::Sqlite(pool));
        }
        let url = cfg.url.replacen("mariadb://", "mysql://", 1);
        let opts = MySqlConnectOptions::from_str(&url)?
            .charset("utf8mb4")
            .disable_statement_logging();
        ensure_mysql_database(&opts, cfg.connect_timeout).await?;
        let pool = MySqlPoolOptions::new()
            .max_connections(cfg.max_connections)
            .min_connections(cfg.min_connections)
            .acquire_timeout(cfg.connect_timeout)
            .connect_with(opts)
            .await?;
        Ok(Self::MySql(pool))
    }

    /// Applies every pending migration of this backend.
    pub async fn migrate(&self) -> DbResult<()> {
        match self {
            Self::Sqlite(p) => SQLITE_MIGRATIONS.run(p).await?,
            Self::MySql(p) => MYSQL_MIGRATIONS.run(p).await?,
        }
        Ok(())
    }

    /// Checks that the database answers.
    pub async fn ping(&self) -> DbResult<()> {
        on_db!(self, p => sqlx::query("SELECT 1").execute(p).await.map(|_| ()).map_err(DbError::from))
    }

    /// Closes every connection of the pool.
    pub async fn close(&self) {
        on_db!(self, p => p.close().await)
    }

    /// `"sqlite"` or `"mysql"`, for logs and metrics.
    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::MySql(_) => "mysql",
        }
    }
}

async fn ensure_mysql_database(opts: &MySqlConnectOptions, timeout: Duration) -> DbResult<()> {
    let Some(name) = opts.get_database().map(str::to_owned) else {
        return Ok(());
    };
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(DbError::Other(sqlx::Error::Configuration(
            format!("database name `{name}` may hold only letters, digits, `_` and `-`").into(),
        )));
    }
    let server = opts.clone().database("");
    let mut conn = tokio::time::timeout(timeout, server.connect())
        .await
        .map_err(|_| DbError::Other(sqlx::Error::PoolTimedOut))??;
    sqlx::query(&format!(
        "CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
    ))
    .execute(&mut conn)
    .await?;
    Ok(())
}

/// The current time as UTC epoch milliseconds, the unit of every time column.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A page request: 1-based page number and page size.
#[derive(Debug, Clone, Copy)]
pub struct Page {
    /// 1-based page number.
    pub page: u32,
    /// Rows per page.
    pub page_size: u32,
}

impl Page {
    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        i64::from(self.page.saturating_sub(1)) * i64::from(self.page_size)
    }

    /// Rows to return.
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }
}

/// Redacts the password of a database URL for logging.
pub fn display_url(url: &str) -> String {
    redact_url(url)
}

#[cfg(test)]
mod secrets_at_rest_tests;
