//! `hindsight backup FILE` and `hindsight restore FILE`, for SQLite databases. PostgreSQL has
//! its own tools, `pg_dump` and `pg_restore`, and the commands say so.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;
use hindsight_store::sqlite::backup::{self, Copied};

use crate::config::{DatabaseArgs, Settings};

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The file to write the copy to; it must not exist yet.
    pub file: PathBuf,
    /// The database to copy: a SQLite file (default `hindsight.db`), which must exist. With a
    /// `postgres://` URL, the command says how to use `pg_dump` instead.
    #[arg(long, env = "HINDSIGHT_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// A TOML configuration file that names the database.
    #[arg(long, env = "HINDSIGHT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore, as `hindsight backup` wrote it.
    pub file: PathBuf,
    /// The database to replace: a SQLite file (default `hindsight.db`; created when missing).
    /// What it held is kept beside it first.
    #[arg(long, env = "HINDSIGHT_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// A TOML configuration file that names the database.
    #[arg(long, env = "HINDSIGHT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

fn settings(database_url: &Option<String>, config: &Option<PathBuf>) -> anyhow::Result<Settings> {
    Settings::load(
        &DatabaseArgs {
            database_url: database_url.clone(),
            config: config.clone(),
            log_format: None,
        },
        None,
    )
}

/// What to do instead on PostgreSQL, with the database and file the person named.
fn postgres_advice(database_url: &str, file: &std::path::Path) -> String {
    let shown = hindsight_store::redact_url(database_url);
    format!(
        "PostgreSQL has its own tools, which take a consistent snapshot while Hindsight runs:\n  \
         pg_dump --format=custom --file={file} '{shown}'\n\
         and, with Hindsight stopped, to restore:\n  \
         pg_restore --clean --if-exists --no-owner --dbname='{shown}' {file}\n\
         (give the password through PGPASSWORD or ~/.pgpass rather than in the URL)",
        file = file.display()
    )
}

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let settings = settings(&args.database_url, &args.config)?;
    let Some(database) = hindsight_store::sqlite_path(&settings.database_url) else {
        bail!(
            "backup copies SQLite databases. {}",
            postgres_advice(&settings.database_url, &args.file)
        );
    };
    let copied = backup::backup(database, &args.file)?;
    println!(
        "Backed up {} to {}: {}, schema version {}, in {}; the copy passed SQLite's integrity check.",
        database.display(),
        args.file.display(),
        size(&copied),
        copied.schema_version,
        took(&copied)
    );
    Ok(())
}

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let settings = settings(&args.database_url, &args.config)?;
    let Some(database) = hindsight_store::sqlite_path(&settings.database_url) else {
        bail!(
            "restore restores SQLite databases. {}",
            postgres_advice(&settings.database_url, &args.file)
        );
    };
    let restored = backup::restore(&args.file, database)?;
    let copied = &restored.copied;
    println!(
        "Restored {} from {}: {}, schema version {}, in {}; it passed SQLite's integrity check.",
        database.display(),
        args.file.display(),
        size(copied),
        copied.schema_version,
        took(copied)
    );
    if let Some(kept) = &restored.kept {
        println!(
            "What the database held before is kept in {}; delete it once you are sure.",
            kept.display()
        );
    }
    Ok(())
}

fn size(copied: &Copied) -> String {
    let bytes = copied.bytes as f64;
    if bytes >= 1024.0 * 1024.0 {
        format!("{:.1} MiB", bytes / 1024.0 / 1024.0)
    } else {
        format!("{:.0} KiB", (bytes / 1024.0).ceil())
    }
}

fn took(copied: &Copied) -> String {
    format!("{:.2} s", copied.elapsed.as_secs_f64())
}
