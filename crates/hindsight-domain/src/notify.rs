//! Follow-through: what Hindsight tells people, when, and to whom.
//!
//! Seed 004 asks for "gentle nags every few weeks" until an action item ends, seed 002 for a
//! bi-weekly meeting where owners report on their items, seed 000 to "share, share, and share".
//! This module decides all of it as pure functions of the data and the date:
//!
//! - [`Recurrence`]: when a recurring job (the daily reminder sweep, the agenda, the digest) is
//!   due, as the latest slot at or before now in a time zone, so that every instance computes the
//!   same slot and its key.
//! - [`plan_item_reminder`] and [`plan_postmortem_reminder`]: which reminder an item or a pending
//!   postmortem is owed today. Time is cut into periods (before the due date, on it, then one
//!   period every `overdue_every_days`); each period has its own dedupe key, so a sweep that runs
//!   twice, or on several instances, owes each period once.
//! - [`Agenda`] and [`Digest`]: the content of the bi-weekly review and the weekly digest.
//! - [`Message`]: one content rendered as plain text, HTML, Slack blocks or a webhook body.
//!
//! Links in messages are paths (`/postmortems/4`); the sender puts the public URL before them.

use std::collections::BTreeMap;

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};

use crate::access::{Team, UserId};
use crate::action_item::{ActionItem, ActionStatus, Owner, days_between};
use crate::document::Postmortem;
use crate::incident::{IncidentId, Severity};
use crate::validation::ValidationErrors;

string_enum! {
    /// What a notification is about; channels subscribe to kinds.
    NotificationKind {
        Reminder => "action_item.reminder",
        Escalation => "action_item.escalation",
        PostmortemReminder => "postmortem.reminder",
        Agenda => "review.agenda",
        Digest => "digest.weekly",
        Published => "postmortem.published",
        MeetingInvite => "review.invite",
        MeetingAnnouncement => "review.announcement",
        MeetingNotes => "review.notes",
    }
}

string_enum! {
    /// Where one delivery of a notification to one target stands.
    DeliveryStatus {
        Pending => "pending",
        Delivered => "delivered",
        /// Out of attempts; an admin may replay it.
        Dead => "dead",
        /// Its channel answered 410 Gone and was disabled; replaying enables it again.
        Disabled => "disabled",
    }
}

string_enum! {
    /// What one attempt to deliver came to.
    AttemptOutcome {
        Delivered => "delivered",
        Retry => "retry",
        RateLimited => "rate_limited",
        Dead => "dead",
        Disabled => "disabled",
    }
}

impl AttemptOutcome {
    /// Where a delivery stands after an attempt that came to this.
    pub fn leaves(self) -> DeliveryStatus {
        match self {
            AttemptOutcome::Delivered => DeliveryStatus::Delivered,
            AttemptOutcome::Retry | AttemptOutcome::RateLimited => DeliveryStatus::Pending,
            AttemptOutcome::Dead => DeliveryStatus::Dead,
            AttemptOutcome::Disabled => DeliveryStatus::Disabled,
        }
    }
}

/// A person a notification may be mailed to, or a meeting names: a user's id, name and email.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Person {
    #[schema(value_type = i64)]
    pub id: UserId,
    pub name: String,
    pub email: String,
}

/// Who a notification is for. People get it by email; teams through the channels configured for
/// them; a broadcast through the global channels. A private notification goes to people only,
/// and only to people who are members of its incidents: the planner leaves the others out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Audience {
    #[serde(default)]
    pub people: Vec<Person>,
    /// Team names.
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub broadcast: bool,
}

/// One line of a message, perhaps linking somewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageLine {
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageSection {
    pub heading: String,
    pub lines: Vec<MessageLine>,
}

/// What a notification says, independent of the channel that carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub subject: String,
    pub intro: String,
    #[serde(default)]
    pub sections: Vec<MessageSection>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The facts as data, for webhook receivers.
    #[serde(default)]
    pub data: serde_json::Value,
    /// An iCalendar invite; email carries it as a `text/calendar` part, other channels ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<CalendarPart>,
}

/// An iCalendar object and its method (`REQUEST`, `CANCEL`), for the email's content type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarPart {
    pub method: String,
    pub ics: String,
}

/// A notification to store; the dedupe key makes a second one with the same key a no-op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    pub dedupe_key: String,
    pub kind: NotificationKind,
    pub private: bool,
    pub audience: Audience,
    pub message: Message,
}

impl NewNotification {
    /// A notification for every global channel (agendas, digests): never private.
    pub fn broadcast(dedupe_key: String, kind: NotificationKind, message: Message) -> Self {
        Self {
            dedupe_key,
            kind,
            private: false,
            audience: Audience {
                broadcast: true,
                ..Audience::default()
            },
            message,
        }
    }
}

fn line(text: impl Into<String>, link: Option<String>) -> MessageLine {
    MessageLine {
        text: text.into(),
        link,
    }
}

fn absolute(base: &str, link: &str) -> String {
    if link.starts_with('/') {
        format!("{}{link}", base.trim_end_matches('/'))
    } else {
        link.to_owned()
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Slack's mrkdwn needs only these three escaped.
fn escape_slack(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Slack refuses a section whose text is longer than 3,000 characters.
const SLACK_SECTION_CHARS: usize = 2900;

fn cut(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

impl Message {
    pub fn plain_text(&self, base: &str) -> String {
        let mut out = format!("{}\n", self.intro);
        for section in &self.sections {
            out.push_str(&format!("\n{}\n", section.heading));
            for item in &section.lines {
                match &item.link {
                    Some(link) => {
                        out.push_str(&format!("- {} <{}>\n", item.text, absolute(base, link)))
                    }
                    None => out.push_str(&format!("- {}\n", item.text)),
                }
            }
        }
        if let Some(link) = &self.link {
            out.push_str(&format!("\n{}\n", absolute(base, link)));
        }
        out
    }

    pub fn html(&self, base: &str) -> String {
        let mut out = format!(
            "<!doctype html><html><body><p>{}</p>",
            escape_html(&self.intro)
        );
        for section in &self.sections {
            out.push_str(&format!("<h3>{}</h3><ul>", escape_html(&section.heading)));
            for item in &section.lines {
                match &item.link {
                    Some(link) => out.push_str(&format!(
                        "<li><a href=\"{}\">{}</a></li>",
                        escape_html(&absolute(base, link)),
                        escape_html(&item.text)
                    )),
                    None => out.push_str(&format!("<li>{}</li>", escape_html(&item.text))),
                }
            }
            out.push_str("</ul>");
        }
        if let Some(link) = &self.link {
            let link = escape_html(&absolute(base, link));
            out.push_str(&format!("<p><a href=\"{link}\">{link}</a></p>"));
        }
        out.push_str("</body></html>");
        out
    }

    /// A Slack incoming-webhook body: `text` for notifications and clients without blocks,
    /// `blocks` for the message itself.
    pub fn slack(&self, base: &str) -> serde_json::Value {
        let mut blocks = vec![serde_json::json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": cut(escape_slack(&self.intro), SLACK_SECTION_CHARS)},
        })];
        for section in &self.sections {
            let mut text = format!("*{}*", escape_slack(&section.heading));
            for item in &section.lines {
                let shown = escape_slack(&item.text).replace('|', "¦");
                match &item.link {
                    Some(link) => text.push_str(&format!(
                        "\n• <{}|{shown}>",
                        escape_slack(&absolute(base, link))
                    )),
                    None => text.push_str(&format!("\n• {shown}")),
                }
            }
            blocks.push(serde_json::json!({
                "type": "section",
                "text": {"type": "mrkdwn", "text": cut(text, SLACK_SECTION_CHARS)},
            }));
        }
        if let Some(link) = &self.link {
            blocks.push(serde_json::json!({
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": escape_slack(&absolute(base, link))}],
            }));
        }
        // Slack allows at most 50 blocks.
        blocks.truncate(50);
        serde_json::json!({"text": cut(escape_slack(&self.subject), 3000), "blocks": blocks})
    }
}

/// When a recurring job falls due: every `every_days` days or every `every_weeks` weeks on a
/// weekday, at a time of day in a time zone. Slots are counted from a fixed Monday so that every
/// instance finds the same ones, whenever it started.
#[derive(Debug, Clone, PartialEq)]
pub struct Recurrence {
    pub at: Time,
    pub time_zone: TimeZone,
    /// `None`: every day.
    pub weekly: Option<(Weekday, u32)>,
}

/// Slots are counted from here (a Monday).
const EPOCH: Date = Date::constant(2024, 1, 1);

impl Recurrence {
    /// The latest slot at or before `now`.
    pub fn latest_slot(&self, now: Timestamp) -> Zoned {
        let today = now.to_zoned(self.time_zone.clone()).date();
        let (first, step) = match self.weekly {
            None => (today, 1),
            Some((weekday, every)) => {
                let anchor = shift(EPOCH, i64::from(weekday.to_monday_zero_offset()));
                let step = 7 * i64::from(every.max(1));
                let days = days_between(anchor, today);
                let back = days.rem_euclid(step);
                (shift(today, -back), step)
            }
        };
        let slot = self.zoned(first);
        if slot.timestamp() <= now {
            slot
        } else {
            self.zoned(shift(first, -step))
        }
    }

    fn zoned(&self, date: Date) -> Zoned {
        date.to_datetime(self.at)
            .to_zoned(self.time_zone.clone())
            .unwrap_or_else(|_| now_fallback(date))
    }

    /// The slot before `slot`.
    pub fn previous_slot(&self, slot: &Zoned) -> Zoned {
        let step = match self.weekly {
            None => 1,
            Some((_, every)) => 7 * i64::from(every.max(1)),
        };
        self.zoned(shift(slot.date(), -step))
    }
}

fn now_fallback(date: Date) -> Zoned {
    date.to_zoned(TimeZone::UTC)
        .expect("a date at midnight UTC exists")
}

fn shift(date: Date, days: i64) -> Date {
    date.checked_add(jiff::Span::new().days(days))
        .unwrap_or(date)
}

/// Reads `"09:30"` and an IANA zone name into a daily or weekly recurrence.
pub fn recurrence(
    field: &str,
    weekday: Option<&str>,
    every_weeks: u32,
    at: &str,
    time_zone: &str,
) -> Result<Recurrence, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let time = at
        .parse::<Time>()
        .map_err(|_| errors.add(format!("{field}.time"), "time must look like 09:30"))
        .ok();
    let zone = TimeZone::get(time_zone)
        .map_err(|_| {
            errors.add(
                format!("{field}.time_zone"),
                format!("`{time_zone}` is not an IANA time zone such as Europe/London"),
            )
        })
        .ok();
    let weekly = match weekday {
        None => None,
        Some(name) => match parse_weekday(name) {
            Some(day) => Some((day, every_weeks)),
            None => {
                errors.add(
                    format!("{field}.weekday"),
                    "weekday must be a day name such as tuesday",
                );
                None
            }
        },
    };
    if weekday.is_some() && !(1..=8).contains(&every_weeks) {
        errors.add(format!("{field}.every_weeks"), "every_weeks must be 1 to 8");
    }
    errors.into_result(())?;
    Ok(Recurrence {
        at: time.expect("checked"),
        time_zone: zone.expect("checked"),
        weekly,
    })
}

pub fn parse_weekday(name: &str) -> Option<Weekday> {
    Some(match name.trim().to_ascii_lowercase().as_str() {
        "monday" => Weekday::Monday,
        "tuesday" => Weekday::Tuesday,
        "wednesday" => Weekday::Wednesday,
        "thursday" => Weekday::Thursday,
        "friday" => Weekday::Friday,
        "saturday" => Weekday::Saturday,
        "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

/// How often things are chased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReminderRules {
    /// A reminder this many days before the due date (0: none).
    pub before_days: u32,
    /// While overdue, one reminder every this many days ("gentle nags every few weeks").
    pub overdue_every_days: u32,
    /// From this many days overdue, each overdue reminder also goes to the owner's team lead.
    pub escalate_after_days: u32,
}

impl Default for ReminderRules {
    fn default() -> Self {
        Self {
            before_days: 3,
            overdue_every_days: 14,
            escalate_after_days: 14,
        }
    }
}

impl ReminderRules {
    pub fn check(&self) -> Result<(), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if !(1..=365).contains(&self.overdue_every_days) {
            errors.add(
                "reminders.overdue_every_days",
                "overdue_every_days must be 1 to 365",
            );
        }
        if self.before_days > 365 {
            errors.add("reminders.before_days", "before_days must be 0 to 365");
        }
        if self.escalate_after_days > 3650 {
            errors.add(
                "reminders.escalate_after_days",
                "escalate_after_days must be 0 to 3650",
            );
        }
        errors.into_result(())
    }

    /// Which period of the due date `today` falls in, if one that is owed a reminder.
    pub fn period(&self, due_on: Date, today: Date) -> Option<Period> {
        let until = days_between(today, due_on);
        if until > 0 {
            return (until <= i64::from(self.before_days)).then_some(Period::Before);
        }
        let overdue = -until;
        let every = i64::from(self.overdue_every_days.max(1));
        Some(match overdue / every {
            0 => Period::Due,
            nag => Period::Overdue { nag, days: overdue },
        })
    }

    /// Whether the lead hears of it: overdue at least `escalate_after_days`.
    fn escalates(&self, period: Period) -> bool {
        matches!(period, Period::Overdue { days, .. } if days >= i64::from(self.escalate_after_days))
            || (self.escalate_after_days == 0 && period == Period::Due)
    }
}

/// Where a date stands against a due date, for reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Before,
    /// On the due date, or overdue by less than one nag period.
    Due,
    /// The `nag`th overdue period; `days` past the due date.
    Overdue {
        nag: i64,
        days: i64,
    },
}

impl Period {
    fn key(self) -> String {
        match self {
            Period::Before => "before".into(),
            Period::Due => "due".into(),
            Period::Overdue { nag, .. } => format!("overdue-{nag}"),
        }
    }

    fn phrase(self, due_on: Date) -> String {
        match self {
            Period::Before => format!("is due on {due_on}"),
            Period::Due => format!("was due on {due_on}"),
            Period::Overdue { days, .. } => format!("is {days} days overdue (due {due_on})"),
        }
    }
}

/// Who is who, for turning owners into recipients.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    pub people: BTreeMap<UserId, Person>,
    pub teams: Vec<Team>,
}

impl Directory {
    fn leads_of(&self, owner: Owner) -> Vec<Person> {
        let mut leads: Vec<Person> = self
            .teams
            .iter()
            .filter(|team| match owner {
                Owner::Team(id) => team.id == id,
                Owner::User(user) => team.members.iter().any(|member| member.user_id == user),
            })
            .flat_map(|team| team.members.iter().filter(|member| member.is_lead))
            .filter(|member| owner != Owner::User(member.user_id))
            .filter_map(|member| self.people.get(&member.user_id).cloned())
            .collect();
        leads.sort_by_key(|person| person.id);
        leads.dedup();
        leads
    }

    fn audience_of(&self, owner: Owner) -> Audience {
        match owner {
            Owner::User(id) => Audience {
                people: self.people.get(&id).cloned().into_iter().collect(),
                ..Audience::default()
            },
            Owner::Team(id) => Audience {
                teams: self
                    .teams
                    .iter()
                    .filter(|team| team.id == id)
                    .map(|team| team.name.clone())
                    .collect(),
                ..Audience::default()
            },
        }
    }
}

fn item_link(item: &ActionItem) -> String {
    format!("/postmortems/{}/action-items", item.postmortem_id)
}

/// What an unfinished, owned action item is owed today: a reminder to its owner, and from
/// `escalate_after_days` overdue an escalation to the owner's team lead. Whether its incident
/// and postmortem are closed does not matter; only the item's own end stops the reminders.
pub fn plan_item_reminder(
    item: &ActionItem,
    private: bool,
    today: Date,
    rules: &ReminderRules,
    directory: &Directory,
) -> Vec<NewNotification> {
    let Some(owner) = item.content.owner else {
        return Vec::new();
    };
    if item.content.status.is_finished() {
        return Vec::new();
    }
    let due_on = item.content.due_on;
    let Some(period) = rules.period(due_on, today) else {
        return Vec::new();
    };
    let owner_name = item.owner_name.clone().unwrap_or_else(|| owner.to_string());
    let data = serde_json::json!({
        "action_item_id": item.id,
        "postmortem_id": item.postmortem_id,
        "title": item.content.title,
        "owner": owner,
        "due_on": due_on,
        "status": item.content.status,
        "priority": item.content.priority,
        "incidents": item.incidents,
    });
    let about = vec![MessageSection {
        heading: "The item".into(),
        lines: vec![
            line(
                format!(
                    "{} ({}, {})",
                    item.content.title,
                    item.content.priority,
                    item.content.status.words()
                ),
                Some(item_link(item)),
            ),
            line(format!("From: {}", item.postmortem_title), None),
        ],
    }];
    let mut planned = vec![NewNotification {
        dedupe_key: format!("action_item:{}:{due_on}:{}", item.id, period.key()),
        kind: NotificationKind::Reminder,
        private,
        audience: directory.audience_of(owner),
        message: Message {
            subject: format!(
                "Action item {}: {}",
                period.phrase(due_on),
                item.content.title
            ),
            intro: format!(
                "{owner_name}, the action item \"{}\" {}. Mark it done with how it was verified, \
                 move its due date, or say why it will not be done.",
                item.content.title,
                period.phrase(due_on)
            ),
            sections: about.clone(),
            calendar: None,
            link: Some(item_link(item)),
            data: data.clone(),
        },
    }];
    if rules.escalates(period) {
        let leads = directory.leads_of(owner);
        if !leads.is_empty() {
            planned.push(NewNotification {
                dedupe_key: format!(
                    "action_item:{}:{due_on}:escalation-{}",
                    item.id,
                    period.key()
                ),
                kind: NotificationKind::Escalation,
                private,
                audience: Audience {
                    people: leads,
                    ..Audience::default()
                },
                message: Message {
                    subject: format!(
                        "Escalation: action item owned by {owner_name} {}",
                        period.phrase(due_on)
                    ),
                    intro: format!(
                        "The action item \"{}\" owned by {owner_name} {}. As their team lead, \
                         please help it along: agree a new date, find it another owner, or \
                         decide not to do it and say why.",
                        item.content.title,
                        period.phrase(due_on)
                    ),
                    sections: about,
                    calendar: None,
                    link: Some(item_link(item)),
                    data,
                },
            });
        }
    }
    planned
}

/// A required postmortem not yet published, as the planner needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReview {
    pub incident_id: IncidentId,
    pub incident_title: String,
    pub severity: Severity,
    pub owner: Option<Person>,
    pub due_on: Option<Date>,
    pub postmortem_id: Option<crate::document::PostmortemId>,
    pub private: bool,
}

/// A reminder to the owner of a required postmortem, before and on its due date and every
/// nag period after it.
pub fn plan_postmortem_reminder(
    pending: &PendingReview,
    today: Date,
    rules: &ReminderRules,
) -> Option<NewNotification> {
    let owner = pending.owner.clone()?;
    let due_on = pending.due_on?;
    let period = rules.period(due_on, today)?;
    let link = match pending.postmortem_id {
        Some(id) => format!("/postmortems/{id}"),
        None => format!("/incidents/{}", pending.incident_id),
    };
    Some(NewNotification {
        dedupe_key: format!(
            "postmortem_due:{}:{due_on}:{}",
            pending.incident_id,
            period.key()
        ),
        kind: NotificationKind::PostmortemReminder,
        private: pending.private,
        message: Message {
            subject: format!(
                "Postmortem {}: {}",
                period.phrase(due_on),
                pending.incident_title
            ),
            intro: format!(
                "{}, the postmortem of \"{}\" ({}) {}. {}",
                owner.name,
                pending.incident_title,
                pending.severity,
                period.phrase(due_on),
                if pending.postmortem_id.is_some() {
                    "Its draft is waiting."
                } else {
                    "It has not been started yet."
                }
            ),
            sections: Vec::new(),
            calendar: None,
            link: Some(link),
            data: serde_json::json!({
                "incident_id": pending.incident_id,
                "postmortem_id": pending.postmortem_id,
                "due_on": due_on,
            }),
        },
        audience: Audience {
            people: vec![owner],
            ..Audience::default()
        },
    })
}

/// One action item as the review meeting goes through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgendaItem {
    pub id: crate::action_item::ActionItemId,
    pub title: String,
    pub postmortem_id: crate::document::PostmortemId,
    pub postmortem_title: String,
    pub status: ActionStatus,
    #[schema(value_type = String, format = Date)]
    pub due_on: Date,
    pub age_days: i64,
    pub days_overdue: Option<i64>,
    /// When the item last changed.
    #[schema(value_type = String, format = DateTime)]
    pub last_update: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AgendaOwner {
    /// The owner's name, or "Nobody yet".
    pub owner: String,
    pub items: Vec<AgendaItem>,
}

/// The bi-weekly review: every open action item grouped by owner (owners with the most overdue
/// first, unowned first of all), and the items finished since the last review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Agenda {
    #[schema(value_type = String, format = Date)]
    pub on: Date,
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
    pub open: Vec<AgendaOwner>,
    pub finished: Vec<AgendaItem>,
}

const NOBODY: &str = "Nobody yet";

fn agenda_item(item: &ActionItem, today: Date) -> AgendaItem {
    AgendaItem {
        id: item.id,
        title: item.content.title.clone(),
        postmortem_id: item.postmortem_id,
        postmortem_title: item.postmortem_title.clone(),
        status: item.content.status,
        due_on: item.content.due_on,
        age_days: item.age_days(today),
        days_overdue: item.days_overdue(today),
        last_update: item.updated_at,
    }
}

/// Builds the agenda from every item (the order of `items` is kept within an owner).
pub fn agenda(items: &[ActionItem], today: Date, since: Timestamp) -> Agenda {
    let mut open: Vec<AgendaOwner> = Vec::new();
    let mut finished = Vec::new();
    for item in items {
        if item.content.status.is_finished() {
            if item.finished_at.is_some_and(|at| at >= since) {
                finished.push(agenda_item(item, today));
            }
            continue;
        }
        let owner = match (&item.content.owner, &item.owner_name) {
            (None, _) => NOBODY.to_owned(),
            (Some(_), Some(name)) => name.clone(),
            (Some(owner), None) => owner.to_string(),
        };
        match open.iter_mut().find(|group| group.owner == owner) {
            Some(group) => group.items.push(agenda_item(item, today)),
            None => open.push(AgendaOwner {
                owner,
                items: vec![agenda_item(item, today)],
            }),
        }
    }
    let most_overdue = |group: &AgendaOwner| {
        group
            .items
            .iter()
            .filter_map(|item| item.days_overdue)
            .max()
            .unwrap_or(-1)
    };
    open.sort_by(|a, b| {
        (b.owner == NOBODY)
            .cmp(&(a.owner == NOBODY))
            .then(most_overdue(b).cmp(&most_overdue(a)))
            .then(a.owner.cmp(&b.owner))
    });
    Agenda {
        on: today,
        since,
        open,
        finished,
    }
}

fn agenda_line(item: &AgendaItem) -> MessageLine {
    let overdue = match item.days_overdue {
        Some(days) => format!(", {days} days overdue"),
        None => String::new(),
    };
    line(
        format!(
            "{}: {}, due {}{overdue}, {} days old, last update {} ({})",
            item.title,
            item.status.words(),
            item.due_on,
            item.age_days,
            item.last_update.to_zoned(TimeZone::UTC).date(),
            item.postmortem_title
        ),
        Some(format!("/postmortems/{}/action-items", item.postmortem_id)),
    )
}

impl Agenda {
    pub fn message(&self) -> Message {
        let open_count: usize = self.open.iter().map(|group| group.items.len()).sum();
        let mut sections: Vec<MessageSection> = self
            .open
            .iter()
            .map(|group| MessageSection {
                heading: group.owner.clone(),
                lines: group.items.iter().map(agenda_line).collect(),
            })
            .collect();
        if !self.finished.is_empty() {
            sections.push(MessageSection {
                heading: "Finished since the last review".into(),
                lines: self.finished.iter().map(agenda_line).collect(),
            });
        }
        Message {
            subject: format!("Action item review, {}", self.on),
            intro: format!(
                "Action item review for {}: {open_count} open items across {} owners, {} finished \
                 since {}. Owners, please say where each of yours stands.",
                self.on,
                self.open.len(),
                self.finished.len(),
                self.since.to_zoned(TimeZone::UTC).date()
            ),
            sections,
            calendar: None,
            link: Some("/reviews/agenda".into()),
            data: serde_json::to_value(self).unwrap_or_default(),
        }
    }
}

/// The first paragraph of a section, shortened for a digest.
pub fn summary_of(postmortem: &Postmortem) -> String {
    let text = postmortem
        .document
        .sections
        .get("summary")
        .map(String::as_str)
        .unwrap_or("");
    let first = text.split("\n\n").next().unwrap_or("").trim();
    cut(first.replace('\n', " "), 300)
}

/// The weekly digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub week_of: Date,
    pub published: Vec<Postmortem>,
    pub overdue: Vec<ActionItem>,
    pub debt: Vec<PendingReview>,
    /// Postmortems from the same week of earlier years.
    pub history: Vec<Postmortem>,
}

impl Digest {
    pub fn message(&self, today: Date) -> Message {
        let postmortem_line = |postmortem: &Postmortem, with_year: bool| {
            let summary = summary_of(postmortem);
            let year = if with_year {
                format!(
                    " ({})",
                    postmortem.created_at.to_zoned(TimeZone::UTC).year()
                )
            } else {
                String::new()
            };
            line(
                if summary.is_empty() {
                    format!("{}{year}", postmortem.document.title)
                } else {
                    format!("{}{year}: {summary}", postmortem.document.title)
                },
                Some(format!("/postmortems/{}", postmortem.id)),
            )
        };
        let sections = vec![
            MessageSection {
                heading: "Published this week".into(),
                lines: self
                    .published
                    .iter()
                    .map(|postmortem| postmortem_line(postmortem, false))
                    .collect(),
            },
            MessageSection {
                heading: "Action items past their due date".into(),
                lines: self
                    .overdue
                    .iter()
                    .map(|item| {
                        line(
                            format!(
                                "{} ({}, {} days overdue)",
                                item.content.title,
                                item.owner_name.as_deref().unwrap_or(NOBODY),
                                item.days_overdue(today).unwrap_or(0)
                            ),
                            Some(item_link(item)),
                        )
                    })
                    .collect(),
            },
            MessageSection {
                heading: "Postmortems owed".into(),
                lines: self
                    .debt
                    .iter()
                    .map(|pending| {
                        line(
                            format!(
                                "{} ({}, {})",
                                pending.incident_title,
                                pending
                                    .owner
                                    .as_ref()
                                    .map_or(NOBODY, |owner| owner.name.as_str()),
                                pending
                                    .due_on
                                    .map_or("not resolved yet".into(), |due| format!("due {due}"))
                            ),
                            Some(format!("/incidents/{}", pending.incident_id)),
                        )
                    })
                    .collect(),
            },
            MessageSection {
                heading: "This week in postmortem history".into(),
                lines: self
                    .history
                    .iter()
                    .map(|postmortem| postmortem_line(postmortem, true))
                    .collect(),
            },
        ]
        .into_iter()
        .filter(|section| !section.lines.is_empty())
        .collect();
        Message {
            subject: format!("Postmortem digest, week of {}", self.week_of),
            intro: format!(
                "This week: {} postmortems published, {} action items overdue, {} postmortems owed.",
                self.published.len(),
                self.overdue.len(),
                self.debt.len()
            ),
            sections,
            calendar: None,
            link: Some("/postmortems".into()),
            data: serde_json::json!({
                "week_of": self.week_of,
                "published": self.published.iter().map(|p| p.id).collect::<Vec<_>>(),
                "overdue_action_items": self.overdue.iter().map(|i| i.id).collect::<Vec<_>>(),
                "debt": self.debt.iter().map(|p| p.incident_id).collect::<Vec<_>>(),
                "history": self.history.iter().map(|p| p.id).collect::<Vec<_>>(),
            }),
        }
    }
}

/// Whether `then` fell in the same ISO week as `today`, in an earlier year.
pub fn same_week_earlier_year(then: Date, today: Date) -> bool {
    let (then, now) = (then.iso_week_date(), today.iso_week_date());
    then.week() == now.week() && then.year() < now.year()
}

/// The notification sent when a postmortem is published: its summary, impact and a link.
/// `private_members` has the members of each private incident it covers; with any, it is
/// private and goes only to the people who are members of every one of them.
pub fn published(postmortem: &Postmortem, private_members: Vec<Vec<Person>>) -> NewNotification {
    let private = !private_members.is_empty();
    let mut lists = private_members.into_iter();
    let members: Vec<Person> = match lists.next() {
        None => Vec::new(),
        Some(first) => lists.fold(first, |kept, next| {
            kept.into_iter()
                .filter(|person| next.contains(person))
                .collect()
        }),
    };
    let section = |key: &str| {
        postmortem
            .document
            .sections
            .get(key)
            .map(|text| cut(text.trim().to_owned(), 1500))
            .unwrap_or_default()
    };
    let mut sections = Vec::new();
    for (key, heading) in [("summary", "Summary"), ("impact", "Impact")] {
        let text = section(key);
        if !text.is_empty() {
            sections.push(MessageSection {
                heading: heading.into(),
                lines: vec![line(text, None)],
            });
        }
    }
    NewNotification {
        dedupe_key: format!(
            "postmortem:{}:published:{}",
            postmortem.id, postmortem.version
        ),
        kind: NotificationKind::Published,
        private,
        audience: Audience {
            people: if private { members } else { Vec::new() },
            teams: Vec::new(),
            broadcast: !private,
        },
        message: Message {
            subject: format!("Postmortem published: {}", postmortem.document.title),
            intro: format!(
                "The postmortem \"{}\" is published. Anyone may read it; questions and comments \
                 are welcome.",
                postmortem.document.title
            ),
            sections,
            calendar: None,
            link: Some(format!("/postmortems/{}", postmortem.id)),
            data: serde_json::json!({
                "postmortem_id": postmortem.id,
                "version": postmortem.version,
                "title": postmortem.document.title,
                "incidents": postmortem.document.incidents,
                "summary": section("summary"),
                "impact": section("impact"),
            }),
        },
    }
}

/// Delivery backoff: exponential from `base_seconds`, capped at an hour, with up to a fifth
/// taken off at random (`jitter` in 0..1) so that retries from many senders spread out.
pub fn backoff_seconds(attempt: u32, base_seconds: u64, jitter: f64) -> u64 {
    let exponential = base_seconds.saturating_mul(1u64 << attempt.saturating_sub(1).min(20));
    let capped = exponential.min(3600) as f64;
    (capped * (1.0 - 0.2 * jitter.clamp(0.0, 1.0))).max(1.0) as u64
}

#[cfg(test)]
mod tests;
