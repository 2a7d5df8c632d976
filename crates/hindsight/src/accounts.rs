//! `hindsight user …` and `hindsight token …`: account administration from the command line,
//! straight on the database (the server need not run).

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::Subcommand;
use hindsight_domain::Clock;
use hindsight_domain::access::{ApiTokenDraft, ApiTokenId, NewAuditEvent, TokenScope, UserDraft};
use hindsight_http::{SystemClock, accounts};
use hindsight_store::{Store, StoreError, UserChange};

use crate::config::{DatabaseArgs, Settings};
use crate::serve::{init_logging, open_store};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user. Without --password-stdin, a strong password is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        /// The name shown to others; the part of the email before @ by default.
        #[arg(long)]
        name: Option<String>,
        /// viewer (reads), editor (also writes) or admin (also administers).
        #[arg(long, default_value = "viewer", conflicts_with = "admin")]
        role: String,
        /// Shorthand for --role admin.
        #[arg(long)]
        admin: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Disable a user: ends all their sessions and revokes all their tokens at once.
    Disable {
        #[arg(long)]
        email: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user; it is printed once and never shown again.
    Create {
        /// The user the token acts for.
        #[arg(long)]
        email: String,
        /// What the token is for, e.g. `ci`.
        #[arg(long)]
        name: String,
        /// read, write or admin; never more than the user's role allows.
        #[arg(long, default_value = "read")]
        scope: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List tokens: id, user, name, scope, last use, revocation.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Revoke a token by its id (see `hindsight token list`).
    Revoke {
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn open(database: &DatabaseArgs) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    let settings = Settings::load(database, None)?;
    init_logging(settings.log_format);
    open_store(&settings).await
}

/// Turns a refusal into a message that names the fields.
fn explain(error: StoreError) -> anyhow::Error {
    match error {
        StoreError::Invalid(errors) => anyhow::anyhow!("{}", errors.summary()),
        other => anyhow::Error::new(other),
    }
}

/// Records what the command line did; its actor is `cli`, as no account signed in.
pub async fn audit(store: &dyn Store, action: &'static str, target: String, detail: String) {
    let event = NewAuditEvent {
        occurred_at: SystemClock.now(),
        user_id: None,
        actor: "cli".into(),
        action,
        target,
        detail,
        address: None,
    };
    if let Err(error) = store.append_audit(event).await {
        eprintln!("hindsight: could not write to the audit log: {error}");
    }
}

fn read_password() -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as you type; at least 12 characters): ");
        std::io::stderr().flush()?;
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

pub async fn run_user(command: UserCommand) -> anyhow::Result<()> {
    let now = SystemClock.now();
    match command {
        UserCommand::Create {
            email,
            name,
            role,
            admin,
            password_stdin,
            database,
        } => {
            let store = open(&database).await?;
            let (password, generated) = if password_stdin {
                (read_password()?, false)
            } else {
                (
                    hindsight_http::credentials::new_secret("")
                        .chars()
                        .take(24)
                        .collect(),
                    true,
                )
            };
            let role = if admin { "admin".to_owned() } else { role };
            let draft = UserDraft {
                email: Some(email),
                display_name: name,
                role: Some(role),
                password: Some(password.clone()),
            };
            let user = accounts::create_user(&*store, draft, now)
                .await
                .map_err(explain)?;
            audit(
                &*store,
                "user.created",
                format!("user {}", user.id),
                format!("{} as {}", user.email, user.role),
            )
            .await;
            println!(
                "Created {} <{}> as {}.",
                user.display_name, user.email, user.role
            );
            if generated {
                println!("Password (shown once, keep it safe): {password}");
            }
        }
        UserCommand::List { database } => {
            let store = open(&database).await?;
            for user in store.list_users().await? {
                println!(
                    "{}\t{}\t{}\t{}{}",
                    user.id,
                    user.email,
                    user.display_name,
                    user.role,
                    if user.disabled { "\tdisabled" } else { "" }
                );
            }
        }
        UserCommand::Disable { email, database } => {
            let store = open(&database).await?;
            let user = accounts::user_by_email(&*store, &email)
                .await
                .map_err(explain)?;
            let change = UserChange {
                disabled: Some(true),
                ..UserChange::default()
            };
            store.update_user(user.id, change, now).await?;
            audit(
                &*store,
                "user.changed",
                format!("user {}", user.id),
                "disabled".into(),
            )
            .await;
            println!(
                "Disabled {}; their sessions and tokens no longer work.",
                user.email
            );
        }
    }
    Ok(())
}

pub async fn run_token(command: TokenCommand) -> anyhow::Result<()> {
    let now = SystemClock.now();
    match command {
        TokenCommand::Create {
            email,
            name,
            scope,
            database,
        } => {
            let store = open(&database).await?;
            let user = accounts::user_by_email(&*store, &email)
                .await
                .map_err(explain)?;
            if user.disabled {
                bail!("{} is disabled", user.email);
            }
            let draft = ApiTokenDraft {
                name: Some(name),
                scope: Some(scope),
            };
            let (_, requested) = draft.clone().validate().map_err(|e| explain(e.into()))?;
            if !user.role.may_hold(requested) {
                let widest = [TokenScope::Admin, TokenScope::Write, TokenScope::Read]
                    .into_iter()
                    .find(|scope| user.role.may_hold(*scope))
                    .unwrap_or(TokenScope::Read);
                bail!(
                    "{} is a {}, so their tokens can have the {widest} scope at most, not \
                     {requested} (the API refuses the same: {})",
                    user.email,
                    user.role,
                    requested.too_wide().summary()
                );
            }
            let (token, secret) = accounts::create_api_token(&*store, user.id, draft, now)
                .await
                .map_err(explain)?;
            audit(
                &*store,
                "token.created",
                format!("token {}", token.id),
                format!("{} ({}) for {}", token.name, token.scope, user.email),
            )
            .await;
            println!(
                "Created token {} ({}, {}) for {}.",
                token.id, token.name, token.scope, user.email
            );
            println!("Token (shown once): {secret}");
            println!("Use it as: Authorization: Bearer {secret}");
        }
        TokenCommand::List { database } => {
            let store = open(&database).await?;
            for token in store.list_api_tokens(None).await? {
                println!(
                    "{}\tuser {}\t{}\t{}\tlast used {}\t{}",
                    token.id,
                    token.user_id,
                    token.name,
                    token.scope,
                    token
                        .last_used_at
                        .map_or("never".to_owned(), |time| time.to_string()),
                    token
                        .revoked_at
                        .map_or("active".to_owned(), |time| format!("revoked {time}")),
                );
            }
        }
        TokenCommand::Revoke { id, database } => {
            let store = open(&database).await?;
            let id = ApiTokenId::new(id).context("token ids are positive numbers")?;
            match store.revoke_api_token(id, now).await {
                Ok(token) => {
                    audit(
                        &*store,
                        "token.revoked",
                        format!("token {}", token.id),
                        token.name.clone(),
                    )
                    .await;
                    println!("Revoked token {} ({}).", token.id, token.name)
                }
                Err(StoreError::NotFound) => bail!("there is no token {id}"),
                Err(error) => return Err(error.into()),
            }
        }
    }
    Ok(())
}
