//! Schema migrations: numbered SQL files per backend, applied in order, each in its own
//! transaction, and recorded in `schema_migration`. An applied migration is never edited;
//! a change to the schema is a new file.

use crate::StoreError;

/// Every migration in order, for the backend whose folder under `migrations/` is named. One list
/// serves both backends, so a migration written for one and not the other does not compile.
macro_rules! migrations {
    ($backend:literal) => {
        &[
            $crate::migration::Migration {
                version: 1,
                name: "incident",
                sql: include_str!(concat!("../../migrations/", $backend, "/0001_incident.sql")),
            },
            $crate::migration::Migration {
                version: 2,
                name: "account",
                sql: include_str!(concat!("../../migrations/", $backend, "/0002_account.sql")),
            },
            $crate::migration::Migration {
                version: 3,
                name: "private_incident",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0003_private_incident.sql"
                )),
            },
            $crate::migration::Migration {
                version: 4,
                name: "audit_event",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0004_audit_event.sql"
                )),
            },
            $crate::migration::Migration {
                version: 5,
                name: "postmortem",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0005_postmortem.sql"
                )),
            },
            $crate::migration::Migration {
                version: 6,
                name: "timeline",
                sql: include_str!(concat!("../../migrations/", $backend, "/0006_timeline.sql")),
            },
            $crate::migration::Migration {
                version: 7,
                name: "policy_and_action_items",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0007_policy_and_action_items.sql"
                )),
            },
            $crate::migration::Migration {
                version: 8,
                name: "jobs_and_outbox",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0008_jobs_and_outbox.sql"
                )),
            },
            $crate::migration::Migration {
                version: 9,
                name: "review_meeting",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0009_review_meeting.sql"
                )),
            },
            $crate::migration::Migration {
                version: 10,
                name: "postmortem_image",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $backend,
                    "/0010_postmortem_image.sql"
                )),
            },
        ]
    };
}
pub(crate) use migrations;

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
