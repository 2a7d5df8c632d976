//! `hindsight deliveries …`: the notifications sent to Slack, webhooks and email, straight on
//! the database (the server need not run).

use clap::Subcommand;
use hindsight_domain::Clock;
use hindsight_domain::notify::DeliveryStatus;
use hindsight_http::SystemClock;
use hindsight_store::{DeliveryFilter, StoreError};

use crate::accounts::{audit, open};
use crate::config::DatabaseArgs;

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// List deliveries, newest first, with their last error.
    List {
        /// Only those in this state: pending, delivered, dead or disabled.
        #[arg(long)]
        status: Option<String>,
        /// At most this many (1 to 1000).
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// Print JSON, with every attempt.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Send a dead or disabled delivery again, with fresh attempts. A delivery disabled by a
    /// 410 Gone enables its channel again: replay once the endpoint is fixed.
    Replay {
        /// The delivery's id, from `hindsight deliveries list`.
        id: i64,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

pub async fn run(command: DeliveriesCommand) -> anyhow::Result<()> {
    match command {
        DeliveriesCommand::List {
            status,
            limit,
            json,
            database,
        } => {
            let status = match status.as_deref() {
                None => None,
                Some(text) => Some(DeliveryStatus::parse(text).ok_or_else(|| {
                    anyhow::anyhow!(
                        "--status {text:?} is not one of {}",
                        DeliveryStatus::expected()
                    )
                })?),
            };
            if !(1..=1000).contains(&limit) {
                anyhow::bail!("--limit must be 1 to 1000");
            }
            let store = open(&database).await?;
            let deliveries = store
                .list_deliveries(&DeliveryFilter { status, limit })
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&deliveries)?);
                return Ok(());
            }
            if deliveries.is_empty() {
                println!("No deliveries.");
            }
            for delivery in deliveries {
                println!(
                    "{:>6}  {:<9}  {:>2} attempts  {}  {}  {}{}",
                    delivery.id,
                    delivery.status.as_str(),
                    delivery.attempts,
                    delivery.kind,
                    delivery.target,
                    delivery.subject,
                    delivery
                        .last_error
                        .map(|error| format!("\n        last error: {error}"))
                        .unwrap_or_default()
                );
            }
            Ok(())
        }
        DeliveriesCommand::Replay { id, database } => {
            let store = open(&database).await?;
            let delivery = match store.replay_delivery(id, SystemClock.now()).await {
                Ok(delivery) => delivery,
                Err(StoreError::NotFound) => anyhow::bail!("there is no delivery {id}"),
                Err(StoreError::Conflict(message)) => anyhow::bail!("{message}"),
                Err(error) => return Err(error.into()),
            };
            audit(
                &*store,
                "delivery.replay",
                format!("delivery:{id}"),
                delivery.target.clone(),
            )
            .await;
            println!(
                "Delivery {id} to {} is due again; a running server or worker sends it within \
                 seconds.",
                delivery.target
            );
            Ok(())
        }
    }
}
