//! Fresh, migrated databases for tests, on either backend.
//!
//! PostgreSQL tests create their own database on the server named by
//! `HINDSIGHT_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`) and drop it when
//! done. Where no server answers they print that they were skipped, unless
//! `HINDSIGHT_REQUIRE_POSTGRES=1` is set, in which case a missing server fails the test.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::{Store, StoreError};

pub const POSTGRES_ENV: &str = "HINDSIGHT_TEST_POSTGRES";
pub const REQUIRE_POSTGRES_ENV: &str = "HINDSIGHT_REQUIRE_POSTGRES";
const DEFAULT_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";

pub fn postgres_server() -> String {
    std::env::var(POSTGRES_ENV).unwrap_or_else(|_| DEFAULT_POSTGRES.to_owned())
}

pub fn postgres_required() -> bool {
    std::env::var(REQUIRE_POSTGRES_ENV).is_ok_and(|value| value == "1")
}

enum Place {
    // Held so that the folder, and the database in it, is deleted with the test.
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { name: String },
}

/// A database that exists for one test.
pub struct TestDatabase {
    store: Option<Arc<dyn Store>>,
    url: String,
    place: Place,
}

impl TestDatabase {
    /// A migrated SQLite database in a fresh temporary folder.
    pub async fn sqlite() -> Self {
        let folder = tempfile::tempdir().expect("temporary folder");
        let url = folder.path().join("hindsight.db").display().to_string();
        let mut database = Self {
            store: None,
            url,
            place: Place::Sqlite(folder),
        };
        database.reopen().await;
        database
    }

    /// A migrated PostgreSQL database of its own, or `None` (after saying so) when no server
    /// answers and the environment does not require one.
    pub async fn postgres() -> Option<Self> {
        let mut database = Self::empty_postgres().await?;
        database.reopen().await;
        Some(database)
    }

    /// Like [`TestDatabase::postgres`], but with no schema and no store open: for tests of
    /// migration itself. [`TestDatabase::store`] panics until [`TestDatabase::reopen`].
    pub async fn empty_postgres() -> Option<Self> {
        let server = postgres_server();
        let admin = match connect_admin(&server).await {
            Ok(admin) => admin,
            Err(error) if postgres_required() => {
                panic!(
                    "{REQUIRE_POSTGRES_ENV}=1 but PostgreSQL at {server} does not answer: {error}"
                )
            }
            Err(error) => {
                eprintln!("skipped: no PostgreSQL at {server} ({error}); set {POSTGRES_ENV}");
                return None;
            }
        };
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "hindsight_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            jiff::Timestamp::now().as_microsecond() % 1_000_000
        );
        admin
            .batch_execute(&format!("create database {name}"))
            .await
            .expect("create test database");
        Some(Self {
            store: None,
            url: format!("{server}/{name}"),
            place: Place::Postgres { name },
        })
    }

    /// Both backends, PostgreSQL only where it answers.
    pub async fn each() -> Vec<Self> {
        let mut databases = vec![Self::sqlite().await];
        databases.extend(Self::postgres().await);
        databases
    }

    pub fn store(&self) -> Arc<dyn Store> {
        Arc::clone(self.store.as_ref().expect("the store is open"))
    }

    /// The URL `hindsight --database-url` takes for this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs SQL straight on the database, behind the store's back: for tests that the database
    /// itself refuses what the store never asks (changing the audit log, say).
    pub async fn try_raw_sql(&self, sql: &str) -> Result<(), String> {
        match &self.place {
            Place::Sqlite(_) => rusqlite::Connection::open(&self.url)
                .and_then(|connection| connection.execute_batch(sql))
                .map_err(|error| error.to_string()),
            Place::Postgres { .. } => {
                let (client, connection) =
                    tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
                        .await
                        .map_err(|error| error.to_string())?;
                tokio::spawn(connection);
                client
                    .batch_execute(sql)
                    .await
                    .map_err(|error| StoreError::from(error).to_string())
            }
        }
    }

    /// Closes the store and opens it again, as a restart would.
    pub async fn reopen(&mut self) {
        self.store = None;
        let store = crate::open(&self.url).await.expect("open test database");
        store.migrate().await.expect("migrate test database");
        self.store = Some(store);
    }
}

async fn connect_admin(server: &str) -> Result<tokio_postgres::Client, StoreError> {
    let url = format!("{server}/postgres");
    let connecting = tokio_postgres::connect(&url, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| StoreError::backend_message("connection timed out"))??;
    tokio::spawn(connection);
    Ok(client)
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        self.store = None;
        if let Place::Postgres { name } = &self.place {
            let name = name.clone();
            let server = postgres_server();
            // Drop runs outside any runtime we can block on, so the clean-up gets its own.
            let dropped = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime for clean-up");
                runtime.block_on(async {
                    let admin = connect_admin(&server).await?;
                    admin
                        .batch_execute(&format!("drop database if exists {name} with (force)"))
                        .await?;
                    Ok::<_, StoreError>(())
                })
            })
            .join();
            if let Ok(Err(error)) = dropped {
                eprintln!("could not drop test database: {error}");
            }
        }
    }
}
