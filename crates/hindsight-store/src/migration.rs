//! Schema migrations: numbered SQL files per backend, applied in order, each in its own
//! transaction, and recorded in `schema_migration`. An applied migration is never edited;
//! a change to the schema is a new file.

use crate::StoreError;

/// One step of a backend's schema.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// What a run of the migrations did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    /// `(version, name)` of each migration applied by this run, in order.
    pub applied: Vec<(i64, String)>,
    /// The schema version after the run.
    pub current_version: i64,
}

/// Refuses a database whose schema is newer than what this binary knows: running old code on a
/// newer schema can write data the newer code does not expect.
pub(crate) fn check_not_newer(
    migrations: &[Migration],
    database_version: i64,
) -> Result<(), StoreError> {
    let known = migrations.last().map_or(0, |migration| migration.version);
    if database_version > known {
        return Err(StoreError::Schema(format!(
            "the database schema is at version {database_version}, but this binary knows only up \
             to version {known}; run a newer hindsight"
        )));
    }
    Ok(())
}
