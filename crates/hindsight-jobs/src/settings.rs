//! What the worker is configured with; the binary reads it from the TOML file.

use std::time::Duration;

use hindsight_domain::notify::{NotificationKind, Recurrence, ReminderRules};

/// A place notifications are sent to, global or for one team.
#[derive(Debug, Clone, PartialEq)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// A team's channel gets what is addressed to that team (by name); a global channel gets
    /// broadcasts (publications, agendas, digests).
    pub team: Option<String>,
    /// The kinds it receives; empty for every kind.
    pub events: Vec<NotificationKind>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    /// A Slack incoming webhook.
    Slack { url: String },
    /// A generic webhook: JSON, signed with HMAC-SHA256 by every secret (the first is current;
    /// the others are kept while receivers rotate).
    Webhook { url: String, secrets: Vec<String> },
    /// A mailing list or shared inbox, by SMTP.
    Email { to: Vec<String> },
}

impl Channel {
    pub fn wants(&self, kind: NotificationKind) -> bool {
        self.events.is_empty() || self.events.contains(&kind)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP, for a relay on the same host or network.
    None,
    /// STARTTLS on the submission port (587), required.
    StartTls,
    /// TLS from the first byte (465).
    Tls,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `Hindsight <hindsight@example.com>`.
    pub from: String,
}

#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Names this instance in claims and attempts.
    pub worker_id: String,
    pub poll: Duration,
    /// How long a claim holds before another instance may take the work over.
    pub lease: Duration,
    /// Deliveries claimed and sent at once.
    pub batch: u32,
    /// Attempts of a delivery before it is dead.
    pub max_attempts: u32,
    pub backoff_base_seconds: u64,
    /// Put before links in messages.
    pub public_url: String,
    pub reminders: ReminderRules,
    /// When the daily reminder sweep runs.
    pub reminder_time: Recurrence,
    pub agenda: Option<Recurrence>,
    pub digest: Option<Recurrence>,
    pub channels: Vec<Channel>,
    /// Without it, nothing is emailed (people hear through their team's channels only).
    pub smtp: Option<SmtpSettings>,
}

impl JobSettings {
    /// Defaults for everything, with no channel and no SMTP: jobs run and notifications are
    /// kept (and listed), but go nowhere until channels are configured.
    pub fn new(worker_id: impl Into<String>) -> Self {
        Self {
            worker_id: worker_id.into(),
            poll: Duration::from_secs(5),
            lease: Duration::from_secs(60),
            batch: 20,
            max_attempts: 8,
            backoff_base_seconds: 30,
            // The server sets this to `public_url`, or to the address it listens on.
            public_url: "http://127.0.0.1:7878".into(),
            reminders: ReminderRules::default(),
            reminder_time: hindsight_domain::notify::recurrence(
                "reminders",
                None,
                1,
                "09:00",
                "UTC",
            )
            .expect("the default recurrence is valid"),
            agenda: Some(
                hindsight_domain::notify::recurrence("agenda", Some("tuesday"), 2, "10:00", "UTC")
                    .expect("the default recurrence is valid"),
            ),
            digest: Some(
                hindsight_domain::notify::recurrence("digest", Some("friday"), 1, "15:00", "UTC")
                    .expect("the default recurrence is valid"),
            ),
            channels: Vec::new(),
            smtp: None,
        }
    }
}
