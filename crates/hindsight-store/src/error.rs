use std::sync::Arc;

use hindsight_domain::ValidationErrors;

/// What can go wrong in storage, sorted by what a caller does about it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The change was refused by the domain's rules; nothing was written.
    #[error("invalid: {0}")]
    Invalid(#[from] ValidationErrors),
    /// The write would duplicate something that must be unique (an email, say).
    #[error("{0}")]
    Conflict(String),
    /// The edit was made on an older version than the current one, given here; nothing was
    /// written.
    #[error("the document changed since; it is now at version {0}")]
    VersionConflict(u32),
    /// The database's schema is newer than this binary, or otherwise not one it can use.
    #[error("{0}")]
    Schema(String),
    /// The database cannot do this now, for a reason an operator can name and fix (a full
    /// disk, a lock, read-only, unreachable); nothing was written. A client may retry later.
    #[error("{what}: {detail}", what = .0.describe(), detail = .1)]
    Unavailable(Outage, String),
    /// The database failed in a way Hindsight does not recognise. Not the client's fault.
    #[error("database error: {0}")]
    Backend(Arc<dyn std::error::Error + Send + Sync>),
}

/// A state of the database that stops it working for now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outage {
    /// The disk holding the database is full.
    DiskFull,
    /// Another process holds a lock on the database, or it has no connection to spare.
    Busy,
    /// The database, or its file, is read-only.
    ReadOnly,
    /// The database server cannot be reached, or the connection was lost.
    Unreachable,
    /// The disk failed to read or write.
    Io,
}

impl Outage {
    /// What an operator reads in the log.
    pub fn describe(self) -> &'static str {
        match self {
            Outage::DiskFull => "the disk holding the database is full",
            Outage::Busy => {
                "the database is locked by another process or has no connection to spare"
            }
            Outage::ReadOnly => "the database is read-only",
            Outage::Unreachable => "the database cannot be reached",
            Outage::Io => "the disk holding the database failed to read or write",
        }
    }

    /// SQLite's error codes that are outages.
    fn of_sqlite(code: rusqlite::ErrorCode) -> Option<Self> {
        use rusqlite::ErrorCode;
        match code {
            ErrorCode::DiskFull => Some(Outage::DiskFull),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => Some(Outage::Busy),
            ErrorCode::ReadOnly => Some(Outage::ReadOnly),
            ErrorCode::CannotOpen => Some(Outage::Unreachable),
            ErrorCode::SystemIoFailure => Some(Outage::Io),
            _ => None,
        }
    }

    /// PostgreSQL's SQLSTATE codes that are outages.
    fn of_sqlstate(code: &str) -> Option<Self> {
        match code {
            "53100" => Some(Outage::DiskFull),
            "25006" => Some(Outage::ReadOnly),
            "53300" | "55P03" => Some(Outage::Busy),
            "57P01" | "57P02" | "57P03" => Some(Outage::Unreachable),
            code if code.starts_with("08") => Some(Outage::Unreachable),
            _ => None,
        }
    }
}

impl StoreError {
    pub fn backend(error: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend(Arc::new(error))
    }

    pub fn backend_message(message: impl Into<String>) -> Self {
        Self::Backend(Arc::new(MessageError(message.into())))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct MessageError(String);

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        match error.sqlite_error_code().and_then(Outage::of_sqlite) {
            Some(outage) => Self::Unavailable(outage, error.to_string()),
            None => Self::backend(error),
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    /// tokio-postgres shows a server error as "db error"; the server's own words are what an
    /// operator needs in the log.
    fn from(error: tokio_postgres::Error) -> Self {
        if let Some(outage) = error
            .as_db_error()
            .and_then(|db| Outage::of_sqlstate(db.code().code()))
        {
            return Self::Unavailable(outage, error.to_string());
        }
        if error.is_closed()
            || std::error::Error::source(&error).is_some_and(|source| source.is::<std::io::Error>())
        {
            // tokio-postgres leaves the cause ("Connection refused") to its source.
            let mut detail = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                detail.push_str(": ");
                detail.push_str(&cause.to_string());
                source = cause.source();
            }
            return Self::Unavailable(Outage::Unreachable, detail);
        }
        match error.as_db_error() {
            Some(db) => Self::backend_message(format!(
                "PostgreSQL {}: {} ({})",
                db.severity(),
                db.message(),
                db.code().code()
            )),
            None => Self::backend(error),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => error.into(),
            deadpool_postgres::PoolError::Timeout(_) => {
                Self::Unavailable(Outage::Busy, error.to_string())
            }
            other => Self::Unavailable(Outage::Unreachable, other.to_string()),
        }
    }
}
