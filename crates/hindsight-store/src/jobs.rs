//! What the store keeps for background work: jobs, and the transactional outbox of
//! notifications with their deliveries.
//!
//! - A **job** is recurring work due at a slot (`reminders:2026-11-21`). Its dedupe key is unique:
//!   every instance may schedule the same slot, one row results. Instances claim jobs with a lease
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single writer serialises claims), and a job
//!   completes by storing the notifications it planned in the same transaction.
//! - A **notification** is the outbox row: written in the transaction of the change that causes
//!   it (publishing a postmortem) or of the job that planned it, unique by its dedupe key, so a
//!   reminder for one item and one period exists once however often it is planned.
//! - A notification is **routed** once into **deliveries**, one per target (`channel:NAME`,
//!   `email:ADDRESS`), unique per notification and target. Senders claim deliveries with a lease,
//!   and record every attempt.

use hindsight_domain::notify::{
    AttemptOutcome, Audience, DeliveryStatus, Message, NotificationKind,
};
use jiff::Timestamp;

/// Recurring work to schedule; a second job with the same key is not added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    pub kind: String,
    pub dedupe_key: String,
    pub run_at: Timestamp,
}

/// A job an instance has claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub dedupe_key: String,
    pub run_at: Timestamp,
    /// Attempts before this one.
    pub attempts: u32,
}

/// A stored notification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Notification {
    pub id: i64,
    pub dedupe_key: String,
    pub kind: NotificationKind,
    pub private: bool,
    #[serde(skip)]
    pub audience: Audience,
    #[serde(skip)]
    pub message: Message,
    pub created_at: Timestamp,
}

/// Where a routed notification goes: one target each.
pub type RouteFn = Box<dyn Fn(&Notification) -> Vec<String> + Send>;

/// A delivery a sender has claimed, with what it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTask {
    pub id: i64,
    pub target: String,
    /// Attempts before this one.
    pub attempts: u32,
    pub notification: Notification,
}

/// What one attempt came to, as the sender saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    pub worker: String,
    pub at: Timestamp,
    pub outcome: AttemptOutcome,
    /// For a retry: when to try again.
    pub retry_at: Option<Timestamp>,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// One attempt as the deliveries list shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct AttemptRecord {
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    pub worker: String,
    pub outcome: AttemptOutcome,
    pub http_status: Option<u16>,
    pub error: Option<String>,
}

/// A delivery as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub notification_id: i64,
    /// The notification's stable event id, as webhooks carry it.
    pub event_id: String,
    pub kind: NotificationKind,
    pub subject: String,
    pub target: String,
    pub status: DeliveryStatus,
    pub attempts: u32,
    #[schema(value_type = String, format = DateTime)]
    pub next_attempt_at: Timestamp,
    pub last_error: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub delivered_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Every attempt, oldest first.
    pub history: Vec<AttemptRecord>,
}

/// Which deliveries to list: newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub limit: u32,
}

/// The stable event id of a notification.
pub fn event_id(notification_id: i64) -> String {
    format!("evt_{notification_id}")
}

/// The channel a target names, if it names one.
pub fn channel_of(target: &str) -> Option<&str> {
    target.strip_prefix("channel:")
}
