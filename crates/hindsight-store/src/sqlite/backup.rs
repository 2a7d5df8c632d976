//! Backups of a SQLite database, and restoring one.
//!
//! A backup is one `VACUUM INTO`: it reads a single snapshot (a read transaction, which in WAL
//! mode neither waits for writers nor makes them wait) and writes it as a compact new file, so
//! it finishes however busy the server is. A step-wise copy (`sqlite3 .backup`) starts again
//! whenever a write lands, and under steady writes may never finish.
//!
//! A restore copies a checked backup over a database that nothing has open: every open
//! connection in WAL mode holds a shared lock on the file, so an exclusive lock that cannot be
//! had at once means a server, a worker or a command is using it.

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use super::{BUSY_TIMEOUT, MIGRATIONS};

/// A checked copy: its size, the schema version it holds, and how long it took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    pub bytes: u64,
    pub schema_version: i64,
    pub elapsed: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists; a backup never writes over a file, so name a new one")]
    Exists(String),
    #[error("there is no file at {0}")]
    Missing(String),
    #[error(
        "the database {0} is in use (a running `hindsight serve`, worker or command has it \
         open); stop it first, then restore"
    )]
    InUse(String),
    #[error("{0} is not a Hindsight database (it has no schema_migration table)")]
    NotHindsight(String),
    #[error("{path} is not a sound SQLite database: {problems}")]
    Corrupt { path: String, problems: String },
    #[error(
        "{path} holds schema version {version}, but this binary knows only up to version \
         {known}; restore it with a newer hindsight"
    )]
    Newer {
        path: String,
        version: i64,
        known: i64,
    },
    #[error("the folder {0} does not exist")]
    NoFolder(String),
    #[error("{0}: the path must be UTF-8 text")]
    NotUtf8(String),
    #[error("{0} is the database itself; restore from a backup kept elsewhere")]
    Itself(String),
    #[error("{}", plain(.0))]
    Sqlite(#[from] rusqlite::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Writes a consistent copy of the database at `source` to `target` (a new file), then checks
/// the copy. On any failure nothing is left at `target`, so the next run can use the name.
pub fn backup(source: &Path, target: &Path) -> Result<Copied, BackupError> {
    let started = Instant::now();
    if target.exists() {
        return Err(BackupError::Exists(target.display().to_string()));
    }
    if !source.is_file() {
        return Err(BackupError::Missing(source.display().to_string()));
    }
    if let Some(folder) = target
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(BackupError::NoFolder(folder.display().to_string()));
    }
    let copied = copy_into(source, target).and_then(|()| check(target));
    let schema_version = match copied {
        Ok(version) => version,
        Err(error) => {
            let _ = std::fs::remove_file(target);
            return Err(error);
        }
    };
    keep_private(target);
    Ok(Copied {
        bytes: std::fs::metadata(target)?.len(),
        schema_version,
        elapsed: started.elapsed(),
    })
}

fn copy_into(source: &Path, target: &Path) -> Result<(), BackupError> {
    let shown = source.display().to_string();
    // Opened without CREATE: a mistyped path is an error, not a new empty database.
    let connection = Connection::open_with_flags(
        source,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| BackupError::Corrupt {
        path: shown.clone(),
        problems: plain(&error),
    })?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    let is_hindsight: bool = connection
        .query_row(
            "select count(*) > 0 from sqlite_master where type = 'table' and name = 'schema_migration'",
            [],
            |row| row.get(0),
        )
        .map_err(|error| BackupError::Corrupt {
            path: shown.clone(),
            problems: plain(&error),
        })?;
    if !is_hindsight {
        return Err(BackupError::NotHindsight(shown));
    }
    let target_text = target
        .to_str()
        .ok_or_else(|| BackupError::NotUtf8(target.display().to_string()))?;
    connection.execute("vacuum into ?1", [target_text])?;
    Ok(())
}

/// A backup holds password and token hashes and private incidents: only its owner reads it.
fn keep_private(path: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
}

/// SQLite's words without its code and repetition.
fn plain(error: &rusqlite::Error) -> String {
    match error {
        rusqlite::Error::SqliteFailure(failure, Some(message)) => {
            let _ = failure;
            message.clone()
        }
        rusqlite::Error::SqliteFailure(failure, None) => failure.to_string(),
        other => other.to_string(),
    }
}

/// Checks that `path` is a sound Hindsight database this binary can use: SQLite's integrity
/// check passes, and its schema is not newer than this binary's. Gives its schema version.
pub fn check(path: &Path) -> Result<i64, BackupError> {
    let shown = path.display().to_string();
    if !path.is_file() {
        return Err(BackupError::Missing(shown));
    }
    check_file(path, &shown).map_err(|error| match error {
        BackupError::Sqlite(error) => BackupError::Corrupt {
            path: shown.clone(),
            problems: error.to_string(),
        },
        other => other,
    })
}

fn check_file(path: &Path, shown: &str) -> Result<i64, BackupError> {
    let shown = shown.to_owned();
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let problems: Vec<String> = {
        let mut statement = connection.prepare("pragma integrity_check")?;
        let rows = statement.query_map([], |row| row.get::<_, String>(0));
        match rows {
            Ok(rows) => rows.collect::<Result<_, _>>()?,
            Err(error) => vec![error.to_string()],
        }
    };
    if problems != ["ok"] {
        return Err(BackupError::Corrupt {
            path: shown,
            problems: problems.join("; "),
        });
    }
    let has_table: bool = connection.query_row(
        "select count(*) > 0 from sqlite_master where type = 'table' and name = 'schema_migration'",
        [],
        |row| row.get(0),
    )?;
    if !has_table {
        return Err(BackupError::NotHindsight(shown));
    }
    let version: i64 = connection.query_row(
        "select coalesce(max(version), 0) from schema_migration",
        [],
        |row| row.get(0),
    )?;
    let known = MIGRATIONS.last().map_or(0, |migration| migration.version);
    if version > known {
        return Err(BackupError::Newer {
            path: shown,
            version,
            known,
        });
    }
    Ok(version)
}

/// Replaces the database at `target` (created when missing) with the backup at `source`, after
/// checking the backup, and refuses while anything has `target` open. What was there is kept
/// first as a copy beside it (`<target>.before-restore-<time>`), named in the answer.
pub fn restore(source: &Path, target: &Path) -> Result<Restored, BackupError> {
    let started = Instant::now();
    let schema_version = check(source)?;
    let shown = target.display().to_string();
    if let (Ok(source), Ok(target)) = (source.canonicalize(), target.canonicalize())
        && source == target
    {
        return Err(BackupError::Itself(shown));
    }
    if let Some(folder) = target
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
        && !folder.is_dir()
    {
        return Err(BackupError::NoFolder(folder.display().to_string()));
    }
    let existed = target.is_file();
    let mut connection = Connection::open(target)?;
    // No waiting: a lock someone holds now is a server using the database.
    connection.busy_timeout(Duration::ZERO)?;
    connection.pragma_update(None, "locking_mode", "exclusive")?;
    let locked = connection.execute_batch("begin exclusive; commit;");
    if let Err(error) = locked {
        return match error.sqlite_error_code() {
            Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                Err(BackupError::InUse(shown))
            }
            _ => Err(error.into()),
        };
    }
    let kept = if existed {
        let stamp = jiff::Timestamp::now()
            .strftime("%Y%m%dT%H%M%SZ")
            .to_string();
        let kept = std::path::PathBuf::from(format!("{shown}.before-restore-{stamp}"));
        let kept_text = kept
            .to_str()
            .ok_or_else(|| BackupError::NotUtf8(kept.display().to_string()))?
            .to_owned();
        connection.execute("vacuum into ?1", [kept_text])?;
        keep_private(&kept);
        Some(kept)
    } else {
        None
    };
    connection.restore(
        rusqlite::MAIN_DB,
        source,
        None::<fn(rusqlite::backup::Progress)>,
    )?;
    drop(connection);
    check(target)?;
    keep_private(target);
    Ok(Restored {
        copied: Copied {
            bytes: std::fs::metadata(target)?.len(),
            schema_version,
            elapsed: started.elapsed(),
        },
        kept,
    })
}

/// A restore: the copy, and where what it replaced was kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restored {
    pub copied: Copied,
    pub kept: Option<std::path::PathBuf>,
}
