//! Storage for Hindsight, behind one trait: [`Store`].
//!
//! Two backends implement it: SQLite (the default, embedded, one file) and PostgreSQL (for
//! several instances sharing one database). Each backend owns its SQL and its migrations; no
//! SQL leaves this crate, and nothing above it knows which backend it talks to. Backends store
//! only what the domain crate validated: the write methods take [`ValidIncident`]s.
//!
//! This crate must not know about HTTP, pages or the command line.

mod error;
mod migration;
pub mod postgres;
pub mod sqlite;
#[cfg(feature = "test-support")]
pub mod testing;

use std::sync::Arc;

use async_trait::async_trait;
use hindsight_domain::{
    Incident, IncidentFilter, IncidentId, IncidentPage, ValidIncident, ValidationErrors,
};
use jiff::Timestamp;

pub use error::StoreError;
pub use migration::{Migration, MigrationReport};

/// Turns the current incident into its new content; runs inside the store's write transaction,
/// so that two concurrent edits cannot overwrite each other.
pub type IncidentChange =
    Box<dyn FnOnce(&Incident) -> Result<ValidIncident, ValidationErrors> + Send + 'static>;

/// Everything Hindsight keeps, whatever it is kept in.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and the health page.
    fn backend(&self) -> &'static str;

    /// Applies the migrations this binary knows and the database has not seen yet.
    async fn migrate(&self) -> Result<MigrationReport, StoreError>;

    /// Answers when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    async fn create_incident(
        &self,
        incident: ValidIncident,
        now: Timestamp,
    ) -> Result<Incident, StoreError>;

    async fn get_incident(&self, id: IncidentId) -> Result<Option<Incident>, StoreError>;

    /// Reads the incident, applies `change` to it and writes the result, atomically.
    /// [`StoreError::NotFound`] when there is no such incident, [`StoreError::Invalid`] when the
    /// change refuses; nothing is written in either case.
    async fn update_incident(
        &self,
        id: IncidentId,
        now: Timestamp,
        change: IncidentChange,
    ) -> Result<Incident, StoreError>;

    async fn list_incidents(&self, filter: &IncidentFilter) -> Result<IncidentPage, StoreError>;

    async fn count_incidents(&self) -> Result<u64, StoreError>;
}

/// Opens the store a database URL names: `postgres://…` or `postgresql://…` for PostgreSQL;
/// `sqlite:PATH`, `sqlite://PATH` or a plain file path for SQLite. Does not migrate.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PostgresStore::connect(database_url).await?,
        ))
    } else {
        let path = database_url
            .strip_prefix("sqlite://")
            .or_else(|| database_url.strip_prefix("sqlite:"))
            .unwrap_or(database_url);
        Ok(Arc::new(sqlite::SqliteStore::open(path.as_ref()).await?))
    }
}

/// The database URL with any password replaced, for logs and messages.
pub fn redact_url(database_url: &str) -> String {
    match (database_url.find("://"), database_url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &database_url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!(
                    "{}{}:***{}",
                    &database_url[..scheme_end + 3],
                    user,
                    &database_url[at..]
                ),
                None => database_url.to_owned(),
            }
        }
        _ => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/hindsight"),
            "postgres://app:***@db:5432/hindsight"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(redact_url("hindsight.db"), "hindsight.db");
    }
}
