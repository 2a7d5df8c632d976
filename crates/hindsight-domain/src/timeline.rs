//! The timeline of an incident: what happened when, from people, alerts, chat and Hindsight
//! itself, and how its events and the incident's key times stay consistent.
//!
//! The rule that keeps them consistent: every key time set on the incident (`started_at`,
//! `detected_at`, `acknowledged_at`, `mitigated_at`, `resolved_at`) is on the timeline as exactly
//! one event that *holds* it, and the holder's time is the key time.
//! - Setting a key time on the incident makes a `system` event hold it (or moves that event).
//! - An event of a key kind takes the key time over, unless its writer says otherwise, when it
//!   is the first sign (start, detection, acknowledgement: the earliest wins) or the last word
//!   (mitigation, resolution: the latest wins). The event it takes over from stays on the
//!   timeline without the key time, or goes when it was Hindsight's own.
//! - Moving a holder moves the key time; removing a manual holder hands the key time back to a
//!   `system` event, so the incident never records a time its timeline does not show.
//!
//! The functions here decide; the store applies what they decide in one transaction.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::incident::{
    IncidentContent, IncidentDraft, IncidentStatus, ValidIncident, parse_time, shorten,
};
use crate::validation::ValidationErrors;
use crate::{Incident, IncidentId};

/// Longest event text, in characters (a long chat message fits; a pasted log belongs in a link).
pub const MAX_EVENT_TEXT_CHARS: usize = 10_000;
/// Longest link, in characters.
pub const MAX_LINK_CHARS: usize = 2_000;
/// Longest author name or original id, in characters.
pub const MAX_EVENT_NAME_CHARS: usize = 200;

id_type! {
    /// The identifier of a timeline event.
    EventId
}

string_enum! {
    /// What happened.
    EventKind {
        ErrorIntroduced => "error_introduced",
        Detected => "detected",
        Alerted => "alerted",
        Reported => "reported",
        Acknowledged => "acknowledged",
        Escalated => "escalated",
        Investigating => "investigating",
        RootCauseIdentified => "root_cause_identified",
        Mitigated => "mitigated",
        Fixed => "fixed",
        Resolved => "resolved",
        Communication => "communication",
        Note => "note",
    }
}

string_enum! {
    /// Where an event came from.
    EventSource { Manual => "manual", Alert => "alert", Chat => "chat", System => "system" }
}

string_enum! {
    /// The incident's key times, named as its fields are.
    KeyTime {
        Started => "started_at",
        Detected => "detected_at",
        Acknowledged => "acknowledged_at",
        Mitigated => "mitigated_at",
        Resolved => "resolved_at",
    }
}

impl EventKind {
    /// The key time an event of this kind may set.
    pub fn key_time(self) -> Option<KeyTime> {
        match self {
            EventKind::ErrorIntroduced => Some(KeyTime::Started),
            EventKind::Detected | EventKind::Alerted | EventKind::Reported => {
                Some(KeyTime::Detected)
            }
            EventKind::Acknowledged => Some(KeyTime::Acknowledged),
            EventKind::Mitigated => Some(KeyTime::Mitigated),
            EventKind::Resolved => Some(KeyTime::Resolved),
            _ => None,
        }
    }

    /// For people: "Root cause identified".
    pub fn label(self) -> &'static str {
        match self {
            EventKind::ErrorIntroduced => "Error introduced",
            EventKind::Detected => "Detected",
            EventKind::Alerted => "Alerted",
            EventKind::Reported => "Reported",
            EventKind::Acknowledged => "Acknowledged",
            EventKind::Escalated => "Escalated",
            EventKind::Investigating => "Investigating",
            EventKind::RootCauseIdentified => "Root cause identified",
            EventKind::Mitigated => "Mitigated",
            EventKind::Fixed => "Fixed",
            EventKind::Resolved => "Resolved",
            EventKind::Communication => "Communication",
            EventKind::Note => "Note",
        }
    }
}

impl KeyTime {
    /// The kind of the `system` event that shows this key time.
    pub fn kind(self) -> EventKind {
        match self {
            KeyTime::Started => EventKind::ErrorIntroduced,
            KeyTime::Detected => EventKind::Detected,
            KeyTime::Acknowledged => EventKind::Acknowledged,
            KeyTime::Mitigated => EventKind::Mitigated,
            KeyTime::Resolved => EventKind::Resolved,
        }
    }

    pub fn of(self, content: &IncidentContent) -> Option<Timestamp> {
        match self {
            KeyTime::Started => Some(content.started_at),
            KeyTime::Detected => content.detected_at,
            KeyTime::Acknowledged => content.acknowledged_at,
            KeyTime::Mitigated => content.mitigated_at,
            KeyTime::Resolved => content.resolved_at,
        }
    }

    fn set_in(self, draft: &mut IncidentDraft, time: Timestamp) {
        let text = Some(time.to_string());
        match self {
            KeyTime::Started => draft.started_at = text,
            KeyTime::Detected => draft.detected_at = text,
            KeyTime::Acknowledged => draft.acknowledged_at = text,
            KeyTime::Mitigated => draft.mitigated_at = text,
            KeyTime::Resolved => draft.resolved_at = text,
        }
    }

    /// Whether `candidate` should replace `current`: the first sign of trouble and of response,
    /// the last word on mitigation and resolution.
    fn prefers(self, candidate: Timestamp, current: Timestamp) -> bool {
        match self {
            KeyTime::Started | KeyTime::Detected | KeyTime::Acknowledged => candidate < current,
            KeyTime::Mitigated | KeyTime::Resolved => candidate > current,
        }
    }

    fn system_text(self) -> &'static str {
        match self {
            KeyTime::Started => "Error introduced (as recorded on the incident)",
            KeyTime::Detected => "Detected (as recorded on the incident)",
            KeyTime::Acknowledged => "Acknowledged (as recorded on the incident)",
            KeyTime::Mitigated => "Mitigated (as recorded on the incident)",
            KeyTime::Resolved => "Resolved (as recorded on the incident)",
        }
    }
}

/// What an event says: the part its writer chose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventContent {
    pub kind: EventKind,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Timestamp,
    /// Markdown.
    pub text: String,
    /// A key moment, highlighted on the timeline.
    pub key: bool,
    pub link: Option<String>,
}

/// An event to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub content: EventContent,
    pub source: EventSource,
    pub author: Option<String>,
    /// For imported events, the id the sender gave it; an incident holds each at most once.
    pub external_id: Option<String>,
    pub holds: Option<KeyTime>,
}

/// A stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEvent {
    pub id: EventId,
    pub incident_id: IncidentId,
    #[serde(flatten)]
    pub content: EventContent,
    pub source: EventSource,
    pub author: Option<String>,
    pub external_id: Option<String>,
    /// The incident's key time this event shows, if any.
    pub holds: Option<KeyTime>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// An event as a person or client sent it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventDraft {
    #[schema(value_type = Option<EventKind>)]
    pub kind: Option<String>,
    /// RFC 3339 with an offset: `2026-11-20T23:58:00+01:00`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurred_at: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub key: bool,
    pub link: Option<String>,
    /// Whether an event of a key kind may set the incident's key time; `true` unless sent.
    pub sets_key_time: Option<bool>,
    /// Confirms an event more than a year before the incident started, which is refused
    /// otherwise (more often a mistyped year than a cause found late).
    #[serde(default)]
    pub confirm_early: bool,
}

/// How far before its incident's start an event may lie unless the person confirms it.
pub const EARLY_LIMIT: SignedDuration = SignedDuration::from_hours(365 * 24);

/// Refuses an event [`EARLY_LIMIT`] or more before `incident` started, unless confirmed.
pub fn refuse_early(
    content: &EventContent,
    incident: &IncidentContent,
    confirmed: bool,
) -> Result<(), ValidationErrors> {
    let early = incident.started_at.duration_since(content.occurred_at) >= EARLY_LIMIT;
    if early && !confirmed {
        return Err(ValidationErrors::single(
            "occurred_at",
            format!(
                "{} is a year or more before the incident started ({}); check the year, or \
                 confirm that it is right (`\"confirm_early\": true`, or tick the box)",
                content.occurred_at, incident.started_at
            ),
        ));
    }
    Ok(())
}

impl EventDraft {
    /// Checks every field, reporting every problem at once.
    pub fn validate(self, now: Timestamp) -> Result<(EventContent, bool), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let kind = match self.kind.as_deref().map(str::trim) {
            None | Some("") => {
                errors.add("kind", "kind is required");
                None
            }
            Some(text) => EventKind::parse(text).or_else(|| {
                errors.add(
                    "kind",
                    format!(
                        "unknown kind `{}`; expected one of {}",
                        shorten(text),
                        EventKind::expected()
                    ),
                );
                None
            }),
        };
        let occurred_at = match self.occurred_at.as_deref().map(str::trim) {
            None | Some("") => {
                errors.add("occurred_at", "occurred_at is required");
                None
            }
            Some(text) => match parse_time(text) {
                Ok(time)
                    if time
                        > now
                            .saturating_add(crate::incident::FUTURE_TOLERANCE)
                            .expect("fits") =>
                {
                    errors.add("occurred_at", "occurred_at is in the future");
                    None
                }
                Ok(time) => Some(time),
                Err(message) => {
                    errors.add("occurred_at", message);
                    None
                }
            },
        };
        let text = clean_text(&self.text);
        if text.chars().count() > MAX_EVENT_TEXT_CHARS {
            errors.add(
                "text",
                format!("text is longer than {MAX_EVENT_TEXT_CHARS} characters"),
            );
        } else if text.contains('\0') {
            errors.add("text", crate::validation::NUL_MESSAGE);
        }
        let link = self
            .link
            .as_deref()
            .map(str::trim)
            .filter(|link| !link.is_empty())
            .map(str::to_owned);
        if let Some(Err(message)) = link.as_deref().map(check_link) {
            errors.add("link", message);
        }
        match (kind, occurred_at) {
            (Some(kind), Some(occurred_at)) if errors.is_empty() => {
                if text.is_empty() && kind == EventKind::Note {
                    return Err(ValidationErrors::single("text", "a note needs text"));
                }
                Ok((
                    EventContent {
                        kind,
                        occurred_at,
                        text,
                        key: self.key,
                        link,
                    },
                    self.sets_key_time.unwrap_or(true),
                ))
            }
            _ => Err(errors),
        }
    }
}

/// Event text in canonical form: line endings as `\n`, no trailing blanks.
pub fn clean_text(text: &str) -> String {
    text.replace("\r\n", "\n")
        .replace('\r', "\n")
        .trim()
        .to_owned()
}

/// A link must be http or https and short.
pub fn check_link(link: &str) -> Result<(), String> {
    if link.chars().count() > MAX_LINK_CHARS {
        return Err(format!("link is longer than {MAX_LINK_CHARS} characters"));
    }
    let lower = link.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://"))
        || link.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err("link must be an http:// or https:// address without spaces".into());
    }
    Ok(())
}

/// What one change to a timeline writes, all in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineWrite {
    /// The incident's new content, when its key times changed.
    pub incident: Option<ValidIncident>,
    pub insert: Vec<NewEvent>,
    /// Stored events to overwrite with these values.
    pub update: Vec<TimelineEvent>,
    pub delete: Vec<EventId>,
}

impl TimelineWrite {
    pub fn is_empty(&self) -> bool {
        self.incident.is_none()
            && self.insert.is_empty()
            && self.update.is_empty()
            && self.delete.is_empty()
    }
}

/// The state a timeline change works on: the incident's content and the events that hold its
/// key times (plus the event being changed, when there is one). Changes accumulate in `write`.
struct Working<'a> {
    content: IncidentContent,
    holders: Vec<Holder<'a>>,
    write: TimelineWrite,
    now: Timestamp,
}

/// Who holds a key time: a stored event or one about to be inserted.
#[derive(Clone, Copy)]
enum Holder<'a> {
    Stored(&'a TimelineEvent),
    Inserted(usize),
}

impl<'a> Working<'a> {
    fn new(incident: &Incident, events: &'a [TimelineEvent], now: Timestamp) -> Self {
        Self {
            content: incident.content.clone(),
            holders: events
                .iter()
                .filter(|event| event.holds.is_some())
                .map(Holder::Stored)
                .collect(),
            write: TimelineWrite::default(),
            now,
        }
    }

    fn holds(&self, holder: Holder<'a>) -> Option<KeyTime> {
        match holder {
            Holder::Stored(event) => self
                .write
                .update
                .iter()
                .find(|updated| updated.id == event.id)
                .map_or(event.holds, |updated| updated.holds),
            Holder::Inserted(index) => self.write.insert[index].holds,
        }
    }

    fn holder_of(&self, key: KeyTime) -> Option<Holder<'a>> {
        self.holders
            .iter()
            .copied()
            .find(|holder| self.holds(*holder) == Some(key))
    }

    /// The stored event as this change leaves it.
    fn current(&self, event: &TimelineEvent) -> TimelineEvent {
        self.write
            .update
            .iter()
            .find(|updated| updated.id == event.id)
            .cloned()
            .unwrap_or_else(|| event.clone())
    }

    fn put_update(&mut self, event: TimelineEvent) {
        self.write.update.retain(|updated| updated.id != event.id);
        self.write.update.push(event);
    }

    /// Takes the key time away from whoever holds it: Hindsight's own event goes, another
    /// stays on the timeline without it.
    fn release(&mut self, key: KeyTime) {
        let Some(holder) = self.holder_of(key) else {
            return;
        };
        match holder {
            Holder::Stored(event) => {
                let mut event = self.current(event);
                if event.source == EventSource::System {
                    self.write.delete.push(event.id);
                    self.write.update.retain(|updated| updated.id != event.id);
                    self.holders
                        .retain(|h| !matches!(h, Holder::Stored(e) if e.id == event.id));
                } else {
                    event.holds = None;
                    self.put_update(event);
                }
            }
            Holder::Inserted(index) => self.write.insert[index].holds = None,
        }
    }

    fn system_holder(&mut self, key: KeyTime, time: Timestamp, author: Option<&str>) {
        self.write.insert.push(NewEvent {
            content: EventContent {
                kind: key.kind(),
                occurred_at: time,
                text: key.system_text().to_owned(),
                key: true,
                link: None,
            },
            source: EventSource::System,
            author: author.map(str::to_owned),
            external_id: None,
            holds: Some(key),
        });
        self.holders
            .push(Holder::Inserted(self.write.insert.len() - 1));
    }

    /// Sets a key time on the incident, re-checking the incident as a whole (a resolution
    /// before the start is refused). Errors name `occurred_at`, the field the writer chose.
    fn set_key_time(&mut self, key: KeyTime, time: Timestamp) -> Result<(), ValidationErrors> {
        if key.of(&self.content) == Some(time) {
            return Ok(());
        }
        let mut draft = IncidentDraft::from(&self.content);
        key.set_in(&mut draft, time);
        // The last word moves the status on: a resolution resolves an incident still open or
        // mitigated, a mitigation mitigates an open one. Never back, and never past closed.
        let status = match (key, self.content.status) {
            (KeyTime::Resolved, IncidentStatus::Open | IncidentStatus::Mitigated) => {
                Some(IncidentStatus::Resolved)
            }
            (KeyTime::Mitigated, IncidentStatus::Open) => Some(IncidentStatus::Mitigated),
            _ => None,
        };
        if let Some(status) = status {
            draft.status = Some(status.as_str().to_owned());
        }
        let valid = draft.validate(self.now).map_err(|errors| {
            ValidationErrors(
                errors
                    .0
                    .into_iter()
                    .map(|error| crate::FieldError {
                        field: "occurred_at".into(),
                        message: format!(
                            "as the incident's {}, this time is refused: {}",
                            key.as_str(),
                            error.message
                        ),
                    })
                    .collect(),
            )
        })?;
        self.content = (*valid).clone();
        self.write.incident = Some(valid);
        Ok(())
    }

    /// Whether an event of this content takes the key time over.
    fn takes_over(&self, content: &EventContent, sets_key_time: bool) -> Option<KeyTime> {
        let key = content.kind.key_time().filter(|_| sets_key_time)?;
        match key.of(&self.content) {
            None => Some(key),
            Some(current) => key.prefers(content.occurred_at, current).then_some(key),
        }
    }

    fn add(&mut self, mut event: NewEvent, sets_key_time: bool) -> Result<(), ValidationErrors> {
        event.holds = None;
        if self.fires_again(&event) {
            self.reopen()?;
        }
        if let Some(key) = self.takes_over(&event.content, sets_key_time) {
            self.set_key_time(key, event.content.occurred_at)?;
            self.release(key);
            event.holds = Some(key);
        }
        self.write.insert.push(event);
        if self.write.insert.last().and_then(|e| e.holds).is_some() {
            self.holders
                .push(Holder::Inserted(self.write.insert.len() - 1));
        }
        Ok(())
    }

    /// An alert that fires after its incident was resolved: the trouble is back.
    fn fires_again(&self, event: &NewEvent) -> bool {
        event.source == EventSource::Alert
            && event.content.kind == EventKind::Alerted
            && self.content.status == IncidentStatus::Resolved
            && self
                .content
                .resolved_at
                .is_some_and(|resolved| event.content.occurred_at > resolved)
    }

    /// Sets a resolved incident's status back to open; its key times stay as they were, and
    /// the timeline shows the firing that reopened it.
    fn reopen(&mut self) -> Result<(), ValidationErrors> {
        let mut draft = IncidentDraft::from(&self.content);
        draft.status = Some(IncidentStatus::Open.as_str().to_owned());
        let valid = draft.validate(self.now)?;
        self.content = (*valid).clone();
        self.write.incident = Some(valid);
        Ok(())
    }

    fn finish(self) -> TimelineWrite {
        self.write
    }
}

/// Adds events to an incident's timeline. `events` are the stored events that hold key times.
/// Each event of a key kind sets its key time when `sets_key_time` and it is the first sign or
/// last word (see the module's rule).
pub fn add_events(
    incident: &Incident,
    events: &[TimelineEvent],
    new: Vec<(NewEvent, bool)>,
    now: Timestamp,
) -> Result<TimelineWrite, ValidationErrors> {
    let mut working = Working::new(incident, events, now);
    for (event, sets_key_time) in new {
        working.add(event, sets_key_time)?;
    }
    Ok(working.finish())
}

/// Adds alert events to an incident's timeline, less those it holds already (`held`: their
/// `external_id`s) and repeats within `new`. An alert whose times contradict the incident's
/// still goes on the timeline, without moving the incident's key times.
pub fn add_alert_events(
    incident: &Incident,
    events: &[TimelineEvent],
    new: Vec<NewEvent>,
    held: &[String],
    now: Timestamp,
) -> Result<TimelineWrite, ValidationErrors> {
    let mut fresh: Vec<NewEvent> = Vec::with_capacity(new.len());
    for event in new {
        let seen = event
            .external_id
            .as_ref()
            .is_some_and(|id| held.contains(id));
        if !seen
            && !fresh
                .iter()
                .any(|other| other.external_id == event.external_id)
        {
            fresh.push(event);
        }
    }
    let with = |sets: bool| fresh.iter().cloned().map(|event| (event, sets)).collect();
    add_events(incident, events, with(true), now)
        .or_else(|_| add_events(incident, events, with(false), now))
}

/// Changes what a stored event says. `events` holds the key-time holders and `target`.
pub fn edit_event(
    incident: &Incident,
    events: &[TimelineEvent],
    target: &TimelineEvent,
    content: EventContent,
    sets_key_time: bool,
    author: Option<&str>,
    now: Timestamp,
) -> Result<TimelineWrite, ValidationErrors> {
    if target.source == EventSource::System && target.holds.is_some() {
        return Err(held_by_system(target));
    }
    let mut working = Working::new(incident, events, now);
    let mut edited = target.clone();
    edited.content = content;
    match target.holds {
        Some(key) if edited.content.kind.key_time() == Some(key) && sets_key_time => {
            working.set_key_time(key, edited.content.occurred_at)?;
        }
        Some(key) => {
            // The event gives the key time up; the incident keeps it, shown by Hindsight.
            edited.holds = None;
            let time = key.of(&working.content).expect("a held key time is set");
            working.system_holder(key, time, author);
        }
        None => {
            if let Some(key) = working.takes_over(&edited.content, sets_key_time) {
                working.set_key_time(key, edited.content.occurred_at)?;
                working.release(key);
                edited.holds = Some(key);
            }
        }
    }
    working.put_update(edited);
    Ok(working.finish())
}

/// Removes a stored event. The key time it held stays on the incident and on the timeline, shown
/// by Hindsight; Hindsight's own key-time events go only by clearing the time on the incident.
pub fn remove_event(
    incident: &Incident,
    events: &[TimelineEvent],
    target: &TimelineEvent,
    author: Option<&str>,
    now: Timestamp,
) -> Result<TimelineWrite, ValidationErrors> {
    if target.source == EventSource::System && target.holds.is_some() {
        return Err(held_by_system(target));
    }
    let mut working = Working::new(incident, events, now);
    working.write.delete.push(target.id);
    if let Some(key) = target.holds {
        let time = key.of(&working.content).expect("a held key time is set");
        working.system_holder(key, time, author);
    }
    Ok(working.finish())
}

fn held_by_system(target: &TimelineEvent) -> ValidationErrors {
    let key = target.holds.map_or("", |key| key.as_str());
    ValidationErrors::single(
        "event",
        format!("this event shows the incident's {key}; change or clear {key} on the incident"),
    )
}

/// The events that record a change of the incident: key times moved, set or cleared, and
/// changes of severity, status, owner, detection and cause origin as `system` notes.
/// `before` is `None` for a new incident. `events` are the stored key-time holders.
pub fn record_incident_change(
    before: Option<&Incident>,
    after: &IncidentContent,
    events: &[TimelineEvent],
    author: Option<&str>,
    now: Timestamp,
) -> TimelineWrite {
    let mut write = TimelineWrite::default();
    for key in KeyTime::ALL.iter().copied() {
        let old = before.and_then(|before| key.of(&before.content));
        let new = key.of(after);
        let holder = events.iter().find(|event| event.holds == Some(key));
        if old == new && (new.is_none() || holder.is_some()) {
            continue;
        }
        match (new, holder) {
            (None, None) => {}
            (None, Some(holder)) if holder.source == EventSource::System => {
                write.delete.push(holder.id)
            }
            (None, Some(holder)) => {
                let mut holder = holder.clone();
                holder.holds = None;
                write.update.push(holder);
            }
            (Some(time), Some(holder)) if holder.content.occurred_at == time => {}
            (Some(time), Some(holder)) if holder.source == EventSource::System => {
                let mut holder = holder.clone();
                holder.content.occurred_at = time;
                holder.author = author.map(str::to_owned);
                write.update.push(holder);
            }
            (Some(time), holder) => {
                if let Some(holder) = holder {
                    let mut holder = holder.clone();
                    holder.holds = None;
                    write.update.push(holder);
                }
                write.insert.push(NewEvent {
                    content: EventContent {
                        kind: key.kind(),
                        occurred_at: time,
                        text: key.system_text().to_owned(),
                        key: true,
                        link: None,
                    },
                    source: EventSource::System,
                    author: author.map(str::to_owned),
                    external_id: None,
                    holds: Some(key),
                });
            }
        }
    }
    if let Some(before) = before {
        let before = &before.content;
        let mut notes = Vec::new();
        let mut change = |field: &str, old: Option<&str>, new: Option<&str>| {
            if old != new {
                notes.push(format!(
                    "{field} changed from {} to {}",
                    old.unwrap_or("none"),
                    new.unwrap_or("none")
                ));
            }
        };
        change(
            "Severity",
            Some(before.severity.as_str()),
            Some(after.severity.as_str()),
        );
        change(
            "Status",
            Some(before.status.as_str()),
            Some(after.status.as_str()),
        );
        change("Owner", before.owner.as_deref(), after.owner.as_deref());
        change(
            "Detection",
            before.detection.map(|d| d.as_str()),
            after.detection.map(|d| d.as_str()),
        );
        change(
            "Cause origin",
            before.cause_origin.map(|c| c.as_str()),
            after.cause_origin.map(|c| c.as_str()),
        );
        if !notes.is_empty() {
            write.insert.push(NewEvent {
                content: EventContent {
                    kind: EventKind::Note,
                    occurred_at: crate::clock::to_stored_precision(now),
                    text: notes.join("; ") + ".",
                    key: false,
                    link: None,
                },
                source: EventSource::System,
                author: author.map(str::to_owned),
                external_id: None,
                holds: None,
            });
        }
    }
    write
}

/// How long each part of the response took. `None` is "unknown": a time it needs is missing,
/// or the times recorded run backwards. Never a guessed number.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Metrics {
    /// Started → detected.
    #[schema(value_type = Option<String>)]
    pub time_to_detect: Option<SignedDuration>,
    /// Detected → acknowledged.
    #[schema(value_type = Option<String>)]
    pub time_to_acknowledge: Option<SignedDuration>,
    /// Detected → the first `root_cause_identified` event.
    #[schema(value_type = Option<String>)]
    pub time_to_root_cause: Option<SignedDuration>,
    /// Detected → mitigated.
    #[schema(value_type = Option<String>)]
    pub time_to_mitigate: Option<SignedDuration>,
    /// Detected → the first `fixed` event: when the cause itself was repaired, which often
    /// comes after the mitigation that stopped the harm.
    #[schema(value_type = Option<String>)]
    pub time_to_fix: Option<SignedDuration>,
    /// Detected → resolved.
    #[schema(value_type = Option<String>)]
    pub time_to_resolve: Option<SignedDuration>,
    /// Started → mitigated (resolved when nothing mitigated it first): how long users could
    /// see it.
    #[schema(value_type = Option<String>)]
    pub impact_window: Option<SignedDuration>,
}

impl Metrics {
    /// The metrics of an incident with these events (only `root_cause_identified` and `fixed`
    /// events are read from them; every other time is the incident's own).
    pub fn of(content: &IncidentContent, events: &[TimelineEvent]) -> Self {
        let first = |kind: EventKind| {
            events
                .iter()
                .filter(|event| event.content.kind == kind)
                .map(|event| event.content.occurred_at)
                .min()
        };
        Self::from_times(KeyTimes {
            started: Some(content.started_at),
            detected: content.detected_at,
            acknowledged: content.acknowledged_at,
            root_cause: first(EventKind::RootCauseIdentified),
            fixed: first(EventKind::Fixed),
            mitigated: content.mitigated_at,
            resolved: content.resolved_at,
        })
    }

    pub fn from_times(times: KeyTimes) -> Self {
        let span = |from: Option<Timestamp>, to: Option<Timestamp>| -> Option<SignedDuration> {
            let duration = to?.duration_since(from?);
            (!duration.is_negative()).then_some(duration)
        };
        Self {
            time_to_detect: span(times.started, times.detected),
            time_to_acknowledge: span(times.detected, times.acknowledged),
            time_to_root_cause: span(times.detected, times.root_cause),
            time_to_mitigate: span(times.detected, times.mitigated),
            time_to_fix: span(times.detected, times.fixed),
            time_to_resolve: span(times.detected, times.resolved),
            impact_window: span(times.started, times.mitigated.or(times.resolved)),
        }
    }

    /// Each metric with its name, for pages.
    pub fn named(&self) -> [(&'static str, Option<SignedDuration>); 7] {
        [
            ("Time to detect", self.time_to_detect),
            ("Time to acknowledge", self.time_to_acknowledge),
            ("Time to root cause", self.time_to_root_cause),
            ("Time to mitigate", self.time_to_mitigate),
            ("Time to fix", self.time_to_fix),
            ("Time to resolve", self.time_to_resolve),
            ("Impact window", self.impact_window),
        ]
    }
}

/// The times the metrics are measured between.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyTimes {
    pub started: Option<Timestamp>,
    pub detected: Option<Timestamp>,
    pub acknowledged: Option<Timestamp>,
    pub root_cause: Option<Timestamp>,
    pub fixed: Option<Timestamp>,
    pub mitigated: Option<Timestamp>,
    pub resolved: Option<Timestamp>,
}

/// "1 h 50 min", "3 d 2 h", "45 s"; "unknown" for `None`.
pub fn format_duration(duration: Option<SignedDuration>) -> String {
    let Some(duration) = duration else {
        return "unknown".into();
    };
    let seconds = duration.as_secs();
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

#[cfg(test)]
mod tests;
