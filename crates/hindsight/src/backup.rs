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
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup to restore, as `hindsight backup` wrote it.
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

const POSTGRES: &str = "for PostgreSQL, use its own tools, which take a consistent snapshot \
    while Hindsight runs:\n  back up:  pg_dump --format=custom --file=hindsight.dump \"$HINDSIGHT_DATABASE_URL\"\n  \
    restore:  pg_restore --clean --if-exists --no-owner --dbname=\"$HINDSIGHT_DATABASE_URL\" hindsight.dump\n\
    (stop Hindsight before restoring; it migrates an older schema when it starts)";

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let settings = Settings::load(&args.database, None)?;
    let Some(database) = hindsight_store::sqlite_path(&settings.database_url) else {
        bail!("hindsight backup copies SQLite databases; {POSTGRES}");
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
    let settings = Settings::load(&args.database, None)?;
    let Some(database) = hindsight_store::sqlite_path(&settings.database_url) else {
        bail!("hindsight restore restores SQLite databases; {POSTGRES}");
    };
    let copied = backup::restore(&args.file, database)?;
    println!(
        "Restored {} from {}: {}, schema version {}, in {}; it passed SQLite's integrity check. \
         Start Hindsight on it as before.",
        database.display(),
        args.file.display(),
        size(&copied),
        copied.schema_version,
        took(&copied)
    );
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
