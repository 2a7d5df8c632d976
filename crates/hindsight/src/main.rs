//! `hindsight`: parses the command line, loads configuration, wires the parts and dispatches.

mod accounts;
mod backup;
mod config;
mod deliveries;
mod demo;
mod jobs_config;
mod lint;
mod meetings;
mod policy;
mod serve;
mod transfer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use config::{DatabaseArgs, ServeArgs};

/// Self-hosted blameless postmortems: from the incident to the last action item done.
#[derive(Debug, Parser)]
#[command(name = "hindsight", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the web UI and the API (applies pending migrations first).
    Serve(ServeArgs),
    /// Run the background jobs only (reminders, escalation, the review agenda, the digest, and
    /// delivery of notifications), for deployments that keep them apart from `serve --no-jobs`.
    /// Any number of workers and servers may share one PostgreSQL database: each job and each
    /// delivery is claimed by one of them.
    Worker(DatabaseArgs),
    /// Notifications sent to Slack, webhooks and email: list them with their attempts, and
    /// replay a dead one.
    Deliveries {
        #[command(subcommand)]
        command: deliveries::DeliveriesCommand,
    },
    /// Apply pending database migrations and exit.
    Migrate(DatabaseArgs),
    /// Copy a SQLite database to FILE while Hindsight runs: one consistent snapshot, checked
    /// for integrity, with its size and time printed. For PostgreSQL it prints how to use
    /// `pg_dump` instead.
    Backup(backup::BackupArgs),
    /// Replace the SQLite database with a backup. The backup is checked first (integrity,
    /// schema version), and a database that a running Hindsight has open is refused: stop it
    /// first.
    Restore(backup::RestoreArgs),
    /// Manage user accounts.
    User {
        #[command(subcommand)]
        command: accounts::UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: accounts::TokenCommand,
    },
    /// Check Markdown postmortems for blaming, counterfactual and speculative language, offline.
    /// Exit 0 when clean, 1 with findings, 2 when a path cannot be read.
    Lint(lint::LintArgs),
    /// Write every postmortem to a folder as Markdown files (`pm-<id>.md`), e.g. to keep them
    /// in git.
    Export(transfer::ExportArgs),
    /// Read a folder of postmortem Markdown files into the database, each file in its own
    /// transaction; prints what was created, updated, skipped and refused. Exit 1 when a file
    /// was refused. `hindsight import slack EXPORT.zip --channel NAME --incident ID` imports a
    /// Slack channel into an incident's timeline.
    Import(transfer::ImportArgs),
    /// Postmortem policy tools. `hindsight policy check INCIDENT.json` decides, offline and with
    /// the configured policy, whether an incident needs a postmortem, and prints every rule that
    /// fired.
    Policy {
        #[command(subcommand)]
        command: policy::PolicyCommand,
    },
    /// Review meeting tools. `hindsight meetings rules` prints every team's meeting rules as
    /// configured; `hindsight meetings holidays FILE.ics` checks a holiday calendar.
    Meetings {
        #[command(subcommand)]
        command: meetings::MeetingsCommand,
    },
    /// Work with the configuration file.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print a commented example configuration file with every setting and its default.
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Config {
            command: ConfigCommand::Default,
        } => {
            print!("{}", config::DEFAULT_CONFIG);
            Ok(())
        }
        Command::Serve(args) => {
            config::Settings::load(&args.database, Some(&args)).and_then(|settings| {
                runtime().block_on(serve::serve(settings, args.demo, !args.no_jobs))
            })
        }
        Command::Worker(args) => config::Settings::load(&args, None)
            .and_then(|settings| runtime().block_on(serve::worker(settings))),
        Command::Backup(args) => backup::backup(args),
        Command::Restore(args) => backup::restore(args),
        Command::Deliveries { command } => runtime().block_on(deliveries::run(command)),
        Command::Migrate(args) => config::Settings::load(&args, None)
            .and_then(|settings| runtime().block_on(serve::migrate(settings))),
        Command::Lint(args) => return ExitCode::from(lint::run(args)),
        Command::Export(args) => runtime().block_on(transfer::export(args)),
        Command::Import(args) => match runtime().block_on(transfer::import(args)) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(error) => Err(error),
        },
        Command::Policy { command } => return ExitCode::from(policy::run(command)),
        Command::Meetings { command } => return ExitCode::from(meetings::run(command)),
        Command::User { command } => runtime().block_on(accounts::run_user(command)),
        Command::Token { command } => runtime().block_on(accounts::run_token(command)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hindsight: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts")
}
