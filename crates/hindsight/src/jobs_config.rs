//! The follow-through tables of the configuration file: `[jobs]`, `[reminders]`, `[agenda]`,
//! `[digest]`, `[smtp]` and `[[channels]]`, read into the worker's settings.

use std::time::Duration;

use anyhow::bail;
use hindsight_domain::notify::{NotificationKind, Recurrence, ReminderRules, recurrence};
use hindsight_jobs::send::Mailbox;
use hindsight_jobs::{Channel, ChannelKind, JobSettings, SmtpSettings, SmtpTls};
use serde::Deserialize;

/// Webhook secrets shorter than this are refused, as intake secrets are.
const MIN_SECRET_CHARS: usize = 16;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileJobs {
    poll_seconds: Option<u64>,
    lease_seconds: Option<u64>,
    max_attempts: Option<u32>,
    backoff_base_seconds: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileReminders {
    before_days: Option<u32>,
    overdue_every_days: Option<u32>,
    escalate_after_days: Option<u32>,
    time: Option<String>,
    time_zone: Option<String>,
}

/// `[agenda]` and `[digest]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileRecurring {
    enabled: Option<bool>,
    weekday: Option<String>,
    every_weeks: Option<u32>,
    time: Option<String>,
    time_zone: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSmtp {
    host: String,
    port: Option<u16>,
    /// `none`, `starttls` (default) or `tls`.
    tls: Option<String>,
    username: Option<String>,
    password: Option<String>,
    from: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileChannel {
    name: String,
    /// `slack`, `webhook` or `email`.
    kind: String,
    url: Option<String>,
    #[serde(default)]
    secrets: Vec<String>,
    #[serde(default)]
    to: Vec<String>,
    team: Option<String>,
    #[serde(default)]
    events: Vec<String>,
}

/// Everything the file says about follow-through.
#[derive(Debug, Default)]
pub struct FileFollowThrough {
    pub jobs: FileJobs,
    pub reminders: FileReminders,
    pub agenda: FileRecurring,
    pub digest: FileRecurring,
    pub smtp: Option<FileSmtp>,
    pub channels: Vec<FileChannel>,
}

fn checked<T>(result: Result<T, hindsight_domain::ValidationErrors>) -> anyhow::Result<T> {
    result.map_err(|errors| {
        anyhow::anyhow!(
            "{}",
            errors
                .0
                .iter()
                .map(|error| format!("{}: {}", error.field, error.message))
                .collect::<Vec<_>>()
                .join("; ")
        )
    })
}

fn recurring(
    table: &str,
    file: &FileRecurring,
    weekday: &str,
    every_weeks: u32,
    time: &str,
) -> anyhow::Result<Option<Recurrence>> {
    let found = checked(recurrence(
        table,
        Some(file.weekday.as_deref().unwrap_or(weekday)),
        file.every_weeks.unwrap_or(every_weeks),
        file.time.as_deref().unwrap_or(time),
        file.time_zone.as_deref().unwrap_or("UTC"),
    ))?;
    Ok(file.enabled.unwrap_or(true).then_some(found))
}

/// The worker's settings (its `worker_id` is set when it starts).
pub fn job_settings(
    file: FileFollowThrough,
    public_url: Option<&str>,
) -> anyhow::Result<JobSettings> {
    let mut settings = JobSettings::new("");
    let jobs = &file.jobs;
    settings.poll = Duration::from_secs(jobs.poll_seconds.unwrap_or(5).clamp(1, 3600));
    settings.lease = Duration::from_secs(jobs.lease_seconds.unwrap_or(60));
    if settings.lease < Duration::from_secs(30) {
        bail!("jobs.lease_seconds must be at least 30: a send may take up to 20 seconds");
    }
    settings.max_attempts = jobs.max_attempts.unwrap_or(8);
    if !(1..=50).contains(&settings.max_attempts) {
        bail!("jobs.max_attempts must be 1 to 50");
    }
    settings.backoff_base_seconds = jobs.backoff_base_seconds.unwrap_or(30).clamp(1, 3600);
    if let Some(url) = public_url {
        settings.public_url = url.to_owned();
    }

    let defaults = ReminderRules::default();
    let rules = &file.reminders;
    settings.reminders = ReminderRules {
        before_days: rules.before_days.unwrap_or(defaults.before_days),
        overdue_every_days: rules
            .overdue_every_days
            .unwrap_or(defaults.overdue_every_days),
        escalate_after_days: rules
            .escalate_after_days
            .unwrap_or(defaults.escalate_after_days),
    };
    checked(settings.reminders.check())?;
    settings.reminder_time = checked(recurrence(
        "reminders",
        None,
        1,
        file.reminders.time.as_deref().unwrap_or("09:00"),
        file.reminders.time_zone.as_deref().unwrap_or("UTC"),
    ))?;
    settings.agenda = recurring("agenda", &file.agenda, "tuesday", 2, "10:00")?;
    settings.digest = recurring("digest", &file.digest, "friday", 1, "15:00")?;

    settings.smtp = file.smtp.map(smtp).transpose()?;
    let mut names = Vec::new();
    for channel in file.channels {
        if names.contains(&channel.name) {
            bail!("channels: the name `{}` is used twice", channel.name);
        }
        names.push(channel.name.clone());
        settings.channels.push(self::channel(channel)?);
    }
    Ok(settings)
}

fn smtp(file: FileSmtp) -> anyhow::Result<SmtpSettings> {
    let tls = match file.tls.as_deref().unwrap_or("starttls") {
        "none" => SmtpTls::None,
        "starttls" => SmtpTls::StartTls,
        "tls" => SmtpTls::Tls,
        other => bail!("smtp.tls = {other:?}: use none, starttls or tls"),
    };
    if file.username.is_some() != file.password.is_some() {
        bail!("smtp: authentication needs both username and password");
    }
    if file.from.parse::<Mailbox>().is_err() {
        bail!(
            "smtp.from = {:?} is not an address like \"Hindsight <hindsight@example.com>\"",
            file.from
        );
    }
    Ok(SmtpSettings {
        port: file.port.unwrap_or(match tls {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        }),
        host: file.host,
        tls,
        username: file.username,
        password: file.password,
        from: file.from,
    })
}

fn channel(file: FileChannel) -> anyhow::Result<Channel> {
    let name = file.name.trim().to_owned();
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!(
            "channels: the name {:?} must be 1 to 64 letters, digits, `-` or `_`",
            file.name
        );
    }
    let url = |kind: &str| -> anyhow::Result<String> {
        match &file.url {
            Some(url) if url.starts_with("https://") || url.starts_with("http://") => {
                Ok(url.clone())
            }
            Some(url) => bail!("channels.{name}: url = {url:?} must start with https://"),
            None => bail!("channels.{name}: a {kind} channel needs a url"),
        }
    };
    let kind = match file.kind.as_str() {
        "slack" => ChannelKind::Slack { url: url("slack")? },
        "webhook" => {
            if file.secrets.is_empty() {
                bail!("channels.{name}: a webhook channel needs at least one secret to sign with");
            }
            if file
                .secrets
                .iter()
                .any(|secret| secret.chars().count() < MIN_SECRET_CHARS)
            {
                bail!("channels.{name}: every secret needs at least {MIN_SECRET_CHARS} characters");
            }
            ChannelKind::Webhook {
                url: url("webhook")?,
                secrets: file.secrets,
            }
        }
        "email" => {
            if file.to.is_empty() {
                bail!("channels.{name}: an email channel needs `to` addresses");
            }
            for address in &file.to {
                if address.parse::<Mailbox>().is_err() {
                    bail!("channels.{name}: {address:?} is not an email address");
                }
            }
            ChannelKind::Email { to: file.to }
        }
        other => bail!("channels.{name}: kind = {other:?}; use slack, webhook or email"),
    };
    let events = file
        .events
        .iter()
        .map(|event| {
            NotificationKind::parse(event).ok_or_else(|| {
                anyhow::anyhow!(
                    "channels.{name}: events: {event:?} is not one of {}",
                    NotificationKind::expected()
                )
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Channel {
        name,
        kind,
        team: file.team,
        events,
    })
}
