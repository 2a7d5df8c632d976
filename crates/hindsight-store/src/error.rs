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
    /// The database failed or could not be reached. Not the client's fault.
    #[error("database error: {0}")]
    Backend(Arc<dyn std::error::Error + Send + Sync>),
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
        Self::backend(error)
    }
}

impl From<tokio_postgres::Error> for StoreError {
    /// tokio-postgres shows a server error as "db error"; the server's own words are what an
    /// operator needs in the log.
    fn from(error: tokio_postgres::Error) -> Self {
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
        Self::backend(error)
    }
}
