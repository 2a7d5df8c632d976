//! Incidents: what broke, how badly, and the key times of the response.
//!
//! Input arrives as an [`IncidentDraft`] (strings as typed by a person or sent by a client) and
//! becomes a [`ValidIncident`] only through [`IncidentDraft::validate`], which reports every
//! problem at once, each naming its field. Storage accepts nothing else, so an invalid incident
//! cannot be written by any interface.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::access::{TeamId, UserId};
use crate::validation::ValidationErrors;

/// Longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Longest summary, in characters: a summary is a paragraph or two, the postmortem holds the rest.
pub const MAX_SUMMARY_CHARS: usize = 20_000;
/// Longest service name, tag, owner or business figure name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most services, tags or business figures on one incident.
pub const MAX_LIST_ITEMS: usize = 32;
/// How far in the future a time may lie before it is taken for a typo (clocks drift).
pub const FUTURE_TOLERANCE: SignedDuration = SignedDuration::from_secs(5 * 60);
/// Most incidents on one page of a list.
pub const MAX_PAGE_SIZE: u32 = 200;
pub const DEFAULT_PAGE_SIZE: u32 = 50;

/// The identifier of an incident: a positive integer, shown to people as `INC-42`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(transparent)]
pub struct IncidentId(i64);

impl IncidentId {
    pub fn new(value: i64) -> Option<Self> {
        (value > 0).then_some(Self(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for IncidentId {
    type Err = ();

    fn from_str(text: &str) -> Result<Self, ()> {
        let text = text.strip_prefix("INC-").unwrap_or(text);
        text.parse::<i64>().ok().and_then(Self::new).ok_or(())
    }
}

string_enum! {
    /// How bad it was; SEV1 is the worst.
    Severity { Sev1 => "SEV1", Sev2 => "SEV2", Sev3 => "SEV3", Sev4 => "SEV4" }
}

string_enum! {
    /// Where the response stands.
    IncidentStatus {
        Open => "open",
        Mitigated => "mitigated",
        Resolved => "resolved",
        Closed => "closed",
    }
}

string_enum! {
    /// Who noticed first: an alert, or a person (a customer, a colleague).
    Detection { Monitoring => "monitoring", Human => "human" }
}

string_enum! {
    /// Whether the cause lay with the team's own systems or outside its control.
    CauseOrigin { Internal => "internal", External => "external" }
}

/// What the incident cost. Counts are `None` when unknown, which is not the same as zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Impact {
    pub user_visible_minutes: Option<u64>,
    pub users_affected: Option<u64>,
    pub requests_failed: Option<u64>,
    pub data_loss: bool,
    pub security_breach: bool,
    /// Named business figures, e.g. `{"conversion_drop_percent": 12.5}`.
    pub business: BTreeMap<String, f64>,
}

/// Who may see a private incident besides admins: these users, and the members of these teams.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Members {
    pub users: Vec<UserId>,
    pub teams: Vec<TeamId>,
}

/// Members as submitted: ids as numbers, checked by [`IncidentDraft::validate`] (that they
/// exist is the store's to check).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembersDraft {
    #[serde(default)]
    pub users: Vec<i64>,
    #[serde(default)]
    pub teams: Vec<i64>,
}

/// Most members of each kind on one incident.
pub const MAX_MEMBERS: usize = 200;

/// Everything about an incident that people write; identity and bookkeeping times excluded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IncidentContent {
    pub title: String,
    pub summary: String,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub services: Vec<String>,
    /// When the error was introduced.
    #[schema(value_type = String, format = DateTime)]
    pub started_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub detected_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub mitigated_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    pub detection: Option<Detection>,
    pub cause_origin: Option<CauseOrigin>,
    pub impact: Impact,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    /// Seen only by its members and admins; to everyone else it does not exist.
    pub private: bool,
    pub members: Members,
}

/// The `updated_at` of a change made at `now` to a row last changed at `previous`: strictly
/// later than `previous` even when the clock stands still or steps back, so that it can serve
/// as the row's version for refusing stale edits.
pub fn next_updated_at(now: Timestamp, previous: Timestamp) -> Timestamp {
    let after_previous = Timestamp::from_microsecond(previous.as_microsecond() + 1)
        .expect("a stored time is far from the end of time");
    crate::clock::to_stored_precision(now).max(after_previous)
}

/// Incident content that passed validation. Only [`IncidentDraft::validate`] makes one.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidIncident(IncidentContent);

impl ValidIncident {
    pub fn into_content(self) -> IncidentContent {
        self.0
    }
}

impl std::ops::Deref for ValidIncident {
    type Target = IncidentContent;

    fn deref(&self) -> &IncidentContent {
        &self.0
    }
}

/// A stored incident.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Incident {
    pub id: IncidentId,
    #[serde(flatten)]
    pub content: IncidentContent,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Impact as submitted. Numbers are signed so that a negative count is reported, not rejected
/// by the parser with a less helpful message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactDraft {
    pub user_visible_minutes: Option<i64>,
    pub users_affected: Option<i64>,
    pub requests_failed: Option<i64>,
    #[serde(default)]
    pub data_loss: bool,
    #[serde(default)]
    pub security_breach: bool,
    #[serde(default)]
    pub business: BTreeMap<String, f64>,
}

/// An incident as submitted by a person or a client: nothing checked yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentDraft {
    /// One line, at most 200 characters.
    #[schema(example = "Checkout returns 502 for card payments", max_length = 200)]
    pub title: Option<String>,
    /// Markdown, at most 20,000 characters.
    #[schema(max_length = 20000)]
    pub summary: Option<String>,
    #[schema(value_type = Option<Severity>)]
    pub severity: Option<String>,
    /// Defaults to `open`.
    #[schema(value_type = Option<IncidentStatus>)]
    pub status: Option<String>,
    /// At most 32, each one line of at most 100 characters.
    #[serde(default)]
    #[schema(max_items = 32)]
    pub services: Vec<String>,
    #[schema(value_type = Option<String>, format = DateTime, example = "2026-11-20T14:10:00Z")]
    pub started_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub detected_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub mitigated_at: Option<String>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<String>,
    #[schema(value_type = Option<Detection>)]
    pub detection: Option<String>,
    #[schema(value_type = Option<CauseOrigin>)]
    pub cause_origin: Option<String>,
    #[serde(default)]
    pub impact: ImpactDraft,
    pub owner: Option<String>,
    /// At most 32.
    #[serde(default)]
    #[schema(max_items = 32)]
    pub tags: Vec<String>,
    /// Private incidents are seen only by their members and admins.
    #[serde(default)]
    pub private: bool,
    #[serde(default)]
    pub members: MembersDraft,
}

/// A partial change in JSON Merge Patch style: an absent field stays as it is, `null` clears it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IncidentPatch {
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 200)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(max_length = 20000)]
    pub summary: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Severity>)]
    pub severity: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<IncidentStatus>)]
    pub status: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub services: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub detected_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub acknowledged_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub mitigated_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Detection>)]
    pub detection: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<CauseOrigin>)]
    pub cause_origin: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub impact: Option<Option<ImpactPatch>>,
    #[serde(default, deserialize_with = "present")]
    pub owner: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub tags: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "present")]
    pub private: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub members: Option<Option<MembersDraft>>,
}

/// A partial change to the impact, with the same merge rules as [`IncidentPatch`].
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactPatch {
    #[serde(default, deserialize_with = "present")]
    pub user_visible_minutes: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub users_affected: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub requests_failed: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    pub data_loss: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub security_breach: Option<Option<bool>>,
    #[serde(default, deserialize_with = "present")]
    pub business: Option<Option<BTreeMap<String, f64>>>,
}

/// Tells a field that was sent as `null` (`Some(None)`) from one not sent at all (`None`).
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

fn overlay<T>(target: &mut Option<T>, change: Option<Option<T>>) {
    if let Some(value) = change {
        *target = value;
    }
}

fn format_time(time: Option<Timestamp>) -> Option<String> {
    time.map(|time| time.to_string())
}

impl From<&IncidentContent> for IncidentDraft {
    fn from(content: &IncidentContent) -> Self {
        let to_signed = |count: Option<u64>| count.map(|count| count as i64);
        Self {
            title: Some(content.title.clone()),
            summary: Some(content.summary.clone()),
            severity: Some(content.severity.as_str().to_owned()),
            status: Some(content.status.as_str().to_owned()),
            services: content.services.clone(),
            started_at: Some(content.started_at.to_string()),
            detected_at: format_time(content.detected_at),
            acknowledged_at: format_time(content.acknowledged_at),
            mitigated_at: format_time(content.mitigated_at),
            resolved_at: format_time(content.resolved_at),
            detection: content.detection.map(|value| value.as_str().to_owned()),
            cause_origin: content.cause_origin.map(|value| value.as_str().to_owned()),
            impact: ImpactDraft {
                user_visible_minutes: to_signed(content.impact.user_visible_minutes),
                users_affected: to_signed(content.impact.users_affected),
                requests_failed: to_signed(content.impact.requests_failed),
                data_loss: content.impact.data_loss,
                security_breach: content.impact.security_breach,
                business: content.impact.business.clone(),
            },
            owner: content.owner.clone(),
            tags: content.tags.clone(),
            private: content.private,
            members: MembersDraft {
                users: content.members.users.iter().map(|id| id.get()).collect(),
                teams: content.members.teams.iter().map(|id| id.get()).collect(),
            },
        }
    }
}

impl IncidentPatch {
    /// Applies the patch to an incident's current content, giving the draft to validate.
    pub fn apply_to(self, current: &IncidentContent) -> IncidentDraft {
        let mut draft = IncidentDraft::from(current);
        overlay(&mut draft.title, self.title);
        overlay(&mut draft.summary, self.summary);
        overlay(&mut draft.severity, self.severity);
        overlay(&mut draft.status, self.status);
        overlay(&mut draft.started_at, self.started_at);
        overlay(&mut draft.detected_at, self.detected_at);
        overlay(&mut draft.acknowledged_at, self.acknowledged_at);
        overlay(&mut draft.mitigated_at, self.mitigated_at);
        overlay(&mut draft.resolved_at, self.resolved_at);
        overlay(&mut draft.detection, self.detection);
        overlay(&mut draft.cause_origin, self.cause_origin);
        overlay(&mut draft.owner, self.owner);
        if let Some(services) = self.services {
            draft.services = services.unwrap_or_default();
        }
        if let Some(tags) = self.tags {
            draft.tags = tags.unwrap_or_default();
        }
        if let Some(private) = self.private {
            draft.private = private.unwrap_or(false);
        }
        if let Some(members) = self.members {
            draft.members = members.unwrap_or_default();
        }
        match self.impact {
            None => {}
            Some(None) => draft.impact = ImpactDraft::default(),
            Some(Some(impact)) => {
                let target = &mut draft.impact;
                overlay(
                    &mut target.user_visible_minutes,
                    impact.user_visible_minutes,
                );
                overlay(&mut target.users_affected, impact.users_affected);
                overlay(&mut target.requests_failed, impact.requests_failed);
                if let Some(value) = impact.data_loss {
                    target.data_loss = value.unwrap_or(false);
                }
                if let Some(value) = impact.security_breach {
                    target.security_breach = value.unwrap_or(false);
                }
                if let Some(value) = impact.business {
                    target.business = value.unwrap_or_default();
                }
            }
        }
        draft
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl IncidentDraft {
    /// Whoever makes an incident private (creating it private, or switching it to private) joins
    /// its members, admins too, so the member list names them. Later, someone who is not an
    /// admin cannot take themselves off: they would lose sight of what they are editing.
    pub fn keep_author_in(&mut self, author: UserId, author_is_admin: bool, was_private: bool) {
        let makes_private = self.private && !was_private;
        if self.private
            && (makes_private || !author_is_admin)
            && !self.members.users.contains(&author.get())
        {
            self.members.users.push(author.get());
        }
    }

    /// Checks every field, reporting every problem found, and gives the incident to store.
    /// `now` decides what counts as a time in the future.
    pub fn validate(self, now: Timestamp) -> Result<ValidIncident, ValidationErrors> {
        let mut errors = ValidationErrors::new();

        let title = self.title.as_deref().map(str::trim).unwrap_or_default();
        if title.is_empty() {
            errors.add("title", "title is required");
        } else if title.chars().count() > MAX_TITLE_CHARS {
            errors.add(
                "title",
                format!("title is longer than {MAX_TITLE_CHARS} characters"),
            );
        } else if title.chars().any(char::is_control) {
            errors.add("title", "title must be a single line of text");
        }

        let summary = self.summary.as_deref().map(str::trim).unwrap_or_default();
        if summary.chars().count() > MAX_SUMMARY_CHARS {
            errors.add(
                "summary",
                format!("summary is longer than {MAX_SUMMARY_CHARS} characters"),
            );
        }

        let severity = match self.severity.as_deref().map(str::trim) {
            None | Some("") => {
                errors.add("severity", "severity is required");
                None
            }
            Some(text) => Severity::parse(text).or_else(|| {
                errors.add(
                    "severity",
                    format!(
                        "unknown severity `{}`; expected one of {}",
                        shorten(text),
                        Severity::expected()
                    ),
                );
                None
            }),
        };
        let status = parse_choice::<IncidentStatus>(
            "status",
            self.status.as_deref(),
            IncidentStatus::parse,
            IncidentStatus::expected,
            &mut errors,
        )
        .map(|status| status.unwrap_or(IncidentStatus::Open));
        let detection = parse_choice(
            "detection",
            self.detection.as_deref(),
            Detection::parse,
            Detection::expected,
            &mut errors,
        )
        .flatten();
        let cause_origin = parse_choice(
            "cause_origin",
            self.cause_origin.as_deref(),
            CauseOrigin::parse,
            CauseOrigin::expected,
            &mut errors,
        )
        .flatten();

        let services = clean_names("services", self.services, &mut errors);
        let tags = clean_names("tags", self.tags, &mut errors);

        let owner = self
            .owner
            .as_deref()
            .map(str::trim)
            .filter(|owner| !owner.is_empty());
        if let Some(owner) = owner {
            if owner.chars().count() > MAX_NAME_CHARS {
                errors.add(
                    "owner",
                    format!("owner is longer than {MAX_NAME_CHARS} characters"),
                );
            } else if owner.chars().any(char::is_control) {
                errors.add("owner", "owner must be a single line of text");
            }
        }

        let latest_allowed = now
            .saturating_add(FUTURE_TOLERANCE)
            .expect("tolerance fits");
        let mut time = |field: &str, text: Option<&str>| -> Option<Timestamp> {
            let text = text.map(str::trim).filter(|text| !text.is_empty())?;
            match parse_time(text) {
                Ok(time) if time > latest_allowed => {
                    errors.add(field, format!("{field} is in the future"));
                    None
                }
                Ok(time) => Some(time),
                Err(message) => {
                    errors.add(field, message);
                    None
                }
            }
        };
        let started_at = time("started_at", self.started_at.as_deref());
        let detected_at = time("detected_at", self.detected_at.as_deref());
        let acknowledged_at = time("acknowledged_at", self.acknowledged_at.as_deref());
        let mitigated_at = time("mitigated_at", self.mitigated_at.as_deref());
        let resolved_at = time("resolved_at", self.resolved_at.as_deref());
        if started_at.is_none() && !errors.0.iter().any(|error| error.field == "started_at") {
            errors.add(
                "started_at",
                "started_at is required: when the error was introduced, as best known",
            );
        }
        if let Some(started_at) = started_at {
            for (field, time) in [
                ("detected_at", detected_at),
                ("acknowledged_at", acknowledged_at),
                ("mitigated_at", mitigated_at),
                ("resolved_at", resolved_at),
            ] {
                if time.is_some_and(|time| time < started_at) {
                    errors.add(field, format!("{field} is before started_at"));
                }
            }
        }
        if let (Some(detected), Some(acknowledged)) = (detected_at, acknowledged_at)
            && acknowledged < detected
        {
            errors.add("acknowledged_at", "acknowledged_at is before detected_at");
        }
        if let (Some(mitigated), Some(resolved)) = (mitigated_at, resolved_at)
            && resolved < mitigated
        {
            errors.add("resolved_at", "resolved_at is before mitigated_at");
        }

        let impact = validate_impact(self.impact, &mut errors);
        let members = validate_members(self.members, &mut errors);

        match (severity, status, started_at) {
            (Some(severity), Some(status), Some(started_at)) if errors.is_empty() => {
                Ok(ValidIncident(IncidentContent {
                    title: title.to_owned(),
                    summary: summary.to_owned(),
                    severity,
                    status,
                    services,
                    started_at,
                    detected_at,
                    acknowledged_at,
                    mitigated_at,
                    resolved_at,
                    detection,
                    cause_origin,
                    impact,
                    owner: owner.map(str::to_owned),
                    tags,
                    private: self.private,
                    members,
                }))
            }
            _ => Err(errors),
        }
    }
}

/// Parses an optional choice; `Some(None)` when absent, `None` when invalid (error recorded).
fn parse_choice<T>(
    field: &str,
    text: Option<&str>,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
    errors: &mut ValidationErrors,
) -> Option<Option<T>> {
    match text.map(str::trim) {
        None | Some("") => Some(None),
        Some(text) => match parse(text) {
            Some(value) => Some(Some(value)),
            None => {
                errors.add(
                    field,
                    format!(
                        "unknown {field} `{}`; expected one of {}",
                        shorten(text),
                        expected()
                    ),
                );
                None
            }
        },
    }
}

/// Trims, drops blanks and duplicates, and checks the length of a list of short names.
fn clean_names(field: &str, names: Vec<String>, errors: &mut ValidationErrors) -> Vec<String> {
    let mut cleaned: Vec<String> = Vec::with_capacity(names.len());
    for name in names {
        let name = name.trim();
        if name.is_empty() || cleaned.iter().any(|seen| seen == name) {
            continue;
        }
        if name.chars().count() > MAX_NAME_CHARS {
            errors.add(
                field,
                format!(
                    "`{}` is longer than {MAX_NAME_CHARS} characters",
                    shorten(name)
                ),
            );
        } else if name.chars().any(char::is_control) {
            errors.add(field, "names must be single lines of text");
        }
        cleaned.push(name.to_owned());
    }
    if cleaned.len() > MAX_LIST_ITEMS {
        errors.add(
            field,
            format!("at most {MAX_LIST_ITEMS} {field} are allowed"),
        );
    }
    cleaned
}

fn validate_members(members: MembersDraft, errors: &mut ValidationErrors) -> Members {
    fn ids<T: Copy + PartialEq>(
        field: &str,
        raw: Vec<i64>,
        make: fn(i64) -> Option<T>,
        errors: &mut ValidationErrors,
    ) -> Vec<T> {
        let mut ids = Vec::with_capacity(raw.len());
        for value in raw {
            match make(value) {
                Some(id) if !ids.contains(&id) => ids.push(id),
                Some(_) => {}
                None => errors.add(field, format!("{value} is not an id")),
            }
        }
        if ids.len() > MAX_MEMBERS {
            errors.add(field, format!("at most {MAX_MEMBERS} are allowed"));
        }
        ids
    }
    Members {
        users: ids("members.users", members.users, UserId::new, errors),
        teams: ids("members.teams", members.teams, TeamId::new, errors),
    }
}

fn validate_impact(impact: ImpactDraft, errors: &mut ValidationErrors) -> Impact {
    let mut count = |field: &str, value: Option<i64>| -> Option<u64> {
        let value = value?;
        if value < 0 {
            errors.add(
                format!("impact.{field}"),
                format!("{field} must not be negative"),
            );
            None
        } else {
            Some(value as u64)
        }
    };
    let user_visible_minutes = count("user_visible_minutes", impact.user_visible_minutes);
    let users_affected = count("users_affected", impact.users_affected);
    let requests_failed = count("requests_failed", impact.requests_failed);

    let mut business = BTreeMap::new();
    for (name, value) in impact.business {
        let name = name.trim();
        if name.is_empty() {
            errors.add("impact.business", "business figures need a name");
        } else if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
            errors.add(
                "impact.business",
                format!("`{}` is not a usable figure name", shorten(name)),
            );
        } else if !value.is_finite() {
            errors.add(
                "impact.business",
                format!("`{name}` must be a finite number"),
            );
        } else {
            business.insert(name.to_owned(), value);
        }
    }
    if business.len() > MAX_LIST_ITEMS {
        errors.add(
            "impact.business",
            format!("at most {MAX_LIST_ITEMS} business figures are allowed"),
        );
    }

    Impact {
        user_visible_minutes,
        users_affected,
        requests_failed,
        data_loss: impact.data_loss,
        security_breach: impact.security_breach,
        business,
    }
}

/// Parses an RFC 3339 time with its offset, kept to the microsecond (what both databases keep).
/// Times outside [`crate::clock::in_range`] are refused with the range in the message.
pub fn parse_time(text: &str) -> Result<Timestamp, String> {
    let outside = || {
        format!(
            "`{}` is outside the times Hindsight keeps, {}",
            shorten(text),
            crate::clock::RANGE_TEXT
        )
    };
    let time: Timestamp = match text.parse() {
        Ok(time) => time,
        // Well-formed, but beyond what a timestamp holds (year 9999's last days, or years
        // written with a sign and six digits).
        Err(_)
            if jiff::fmt::temporal::Pieces::parse(text)
                .is_ok_and(|pieces| pieces.offset().is_some()) =>
        {
            return Err(outside());
        }
        Err(_) => {
            return Err(format!(
                "`{}` is not an RFC 3339 time with an offset, like 2026-11-20T14:10:00Z",
                shorten(text)
            ));
        }
    };
    if !crate::clock::in_range(time) {
        return Err(outside());
    }
    Ok(crate::clock::to_stored_precision(time))
}

/// Cuts an echoed input short, so that a hostile value cannot flood an error message.
pub(crate) fn shorten(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(MAX).collect();
        short.push('…');
        short
    }
}

/// Where a page of a list ends: the list is ordered by `started_at` then `id`, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentCursor {
    pub started_at: Timestamp,
    pub id: IncidentId,
}

impl IncidentCursor {
    pub fn after(incident: &Incident) -> Self {
        Self {
            started_at: incident.content.started_at,
            id: incident.id,
        }
    }

    /// The cursor as clients see it; they should treat it as opaque.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.started_at.as_microsecond(), self.id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('.')?;
        Some(Self {
            started_at: Timestamp::from_microsecond(micros.parse().ok()?).ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// The query string of an incident list, as typed: every value a string.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct IncidentQuery {
    /// Comma-separated statuses, e.g. `open,mitigated`.
    pub status: Option<String>,
    /// Comma-separated severities, e.g. `SEV1,SEV2`.
    pub severity: Option<String>,
    /// Incidents that list this service.
    pub service: Option<String>,
    /// Incidents that started at or after this RFC 3339 time (empty means no bound).
    pub started_after: Option<String>,
    /// Incidents that started before this RFC 3339 time (empty means no bound).
    pub started_before: Option<String>,
    /// Page size, 1 to 200; 50 by default.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 200)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Which incidents to list, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFilter {
    pub statuses: Vec<IncidentStatus>,
    pub severities: Vec<Severity>,
    pub service: Option<String>,
    pub started_after: Option<Timestamp>,
    pub started_before: Option<Timestamp>,
    pub limit: u32,
    pub cursor: Option<IncidentCursor>,
}

impl Default for IncidentFilter {
    fn default() -> Self {
        Self {
            statuses: Vec::new(),
            severities: Vec::new(),
            service: None,
            started_after: None,
            started_before: None,
            limit: DEFAULT_PAGE_SIZE,
            cursor: None,
        }
    }
}

impl IncidentQuery {
    pub fn parse(&self) -> Result<IncidentFilter, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let statuses = parse_list(
            "status",
            self.status.as_deref(),
            IncidentStatus::parse,
            IncidentStatus::expected,
            &mut errors,
        );
        let severities = parse_list(
            "severity",
            self.severity.as_deref(),
            Severity::parse,
            Severity::expected,
            &mut errors,
        );
        let mut time = |field: &str, text: Option<&str>| {
            let text = text.map(str::trim).filter(|text| !text.is_empty())?;
            parse_time(text)
                .map_err(|message| errors.add(field, message))
                .ok()
        };
        let started_after = time("started_after", self.started_after.as_deref());
        let started_before = time("started_before", self.started_before.as_deref());
        let limit = match self.limit.as_deref().map(str::trim) {
            None | Some("") => DEFAULT_PAGE_SIZE,
            Some(text) => match text.parse::<u32>() {
                Ok(limit) if (1..=MAX_PAGE_SIZE).contains(&limit) => limit,
                _ => {
                    errors.add(
                        "limit",
                        format!("limit must be a whole number from 1 to {MAX_PAGE_SIZE}"),
                    );
                    DEFAULT_PAGE_SIZE
                }
            },
        };
        let cursor = match self.cursor.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => IncidentCursor::decode(text).or_else(|| {
                errors.add("cursor", "cursor is not one this server gave out");
                None
            }),
        };
        let service = self
            .service
            .as_deref()
            .map(str::trim)
            .filter(|service| !service.is_empty())
            .map(str::to_owned);
        errors.into_result(IncidentFilter {
            statuses,
            severities,
            service,
            started_after,
            started_before,
            limit,
            cursor,
        })
    }
}

fn parse_list<T>(
    field: &str,
    text: Option<&str>,
    parse: fn(&str) -> Option<T>,
    expected: fn() -> String,
    errors: &mut ValidationErrors,
) -> Vec<T> {
    let mut values = Vec::new();
    for part in text.unwrap_or_default().split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match parse(part) {
            Some(value) => values.push(value),
            None => errors.add(
                field,
                format!(
                    "unknown {field} `{}`; expected one of {}",
                    shorten(part),
                    expected()
                ),
            ),
        }
    }
    values
}

/// One page of a list, and where the next one starts.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentPage {
    pub items: Vec<Incident>,
    pub next_cursor: Option<IncidentCursor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-21T12:00:00Z".parse().unwrap()
    }

    fn draft() -> IncidentDraft {
        IncidentDraft {
            title: Some("Checkout returns 502".into()),
            severity: Some("SEV2".into()),
            started_at: Some("2026-11-20T12:20:00Z".into()),
            ..IncidentDraft::default()
        }
    }

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.0.iter().map(|error| error.field.as_str()).collect()
    }

    #[test]
    fn a_minimal_draft_becomes_an_open_incident() {
        let incident = draft().validate(now()).unwrap();
        assert_eq!(incident.status, IncidentStatus::Open);
        assert_eq!(incident.severity, Severity::Sev2);
        assert_eq!(incident.impact, Impact::default());
    }

    #[test]
    fn an_empty_title_is_rejected_by_name() {
        let errors = IncidentDraft {
            title: Some("   ".into()),
            ..draft()
        }
        .validate(now())
        .unwrap_err();
        assert_eq!(errors.message_for("title"), Some("title is required"));
    }

    #[test]
    fn an_unknown_severity_names_the_accepted_ones() {
        let errors = IncidentDraft {
            severity: Some("SEV5".into()),
            ..draft()
        }
        .validate(now())
        .unwrap_err();
        assert_eq!(
            errors.message_for("severity"),
            Some("unknown severity `SEV5`; expected one of SEV1, SEV2, SEV3, SEV4")
        );
    }

    #[test]
    fn a_resolution_before_the_start_is_rejected() {
        let errors = IncidentDraft {
            resolved_at: Some("2026-11-20T12:00:00Z".into()),
            ..draft()
        }
        .validate(now())
        .unwrap_err();
        assert_eq!(
            errors.message_for("resolved_at"),
            Some("resolved_at is before started_at")
        );
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let errors = IncidentDraft {
            title: None,
            severity: Some("major".into()),
            status: Some("done".into()),
            started_at: Some("yesterday".into()),
            impact: ImpactDraft {
                users_affected: Some(-3),
                ..ImpactDraft::default()
            },
            ..IncidentDraft::default()
        }
        .validate(now())
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "title",
                "severity",
                "status",
                "started_at",
                "impact.users_affected"
            ]
        );
    }

    #[test]
    fn times_far_in_the_future_are_taken_for_typos() {
        let errors = IncidentDraft {
            detected_at: Some("2027-11-20T12:20:00Z".into()),
            ..draft()
        }
        .validate(now())
        .unwrap_err();
        assert_eq!(
            errors.message_for("detected_at"),
            Some("detected_at is in the future")
        );
    }

    #[test]
    fn times_keep_their_instant_whatever_the_offset_and_lose_only_nanoseconds() {
        let incident = IncidentDraft {
            started_at: Some("2026-11-20T13:20:00.123456789+01:00".into()),
            ..draft()
        }
        .validate(now())
        .unwrap();
        assert_eq!(
            incident.started_at.to_string(),
            "2026-11-20T12:20:00.123456Z"
        );
    }

    #[test]
    fn services_and_tags_are_trimmed_and_deduplicated() {
        let incident = IncidentDraft {
            services: vec![
                " payments ".into(),
                "payments".into(),
                "".into(),
                "api".into(),
            ],
            ..draft()
        }
        .validate(now())
        .unwrap();
        assert_eq!(incident.services, ["payments", "api"]);
    }

    #[test]
    fn a_patch_changes_only_what_it_names_and_null_clears() {
        let mut content = draft().validate(now()).unwrap().into_content();
        content.owner = Some("alex".into());
        let patch: IncidentPatch =
            serde_json::from_str(r#"{"status":"mitigated","owner":null}"#).unwrap();
        let patched = patch.apply_to(&content).validate(now()).unwrap();
        assert_eq!(patched.status, IncidentStatus::Mitigated);
        assert_eq!(patched.owner, None);
        assert_eq!(patched.title, content.title);
    }

    #[test]
    fn a_patch_with_an_unknown_field_does_not_parse() {
        let result = serde_json::from_str::<IncidentPatch>(r#"{"sevrity":"SEV1"}"#);
        assert!(
            result
                .unwrap_err()
                .to_string()
                .contains("unknown field `sevrity`")
        );
    }

    #[test]
    fn updated_at_moves_forward_even_when_the_clock_does_not() {
        let previous = now();
        assert!(next_updated_at(now(), previous) > previous);
        let later = now().checked_add(SignedDuration::from_secs(1)).unwrap();
        assert_eq!(next_updated_at(later, previous), later);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = IncidentCursor {
            started_at: now(),
            id: IncidentId::new(7).unwrap(),
        };
        assert_eq!(IncidentCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(IncidentCursor::decode("abc"), None);
        assert_eq!(IncidentCursor::decode("1.-4"), None);
    }

    #[test]
    fn a_list_query_with_bad_values_names_each() {
        let query = IncidentQuery {
            status: Some("open,gone".into()),
            limit: Some("1000".into()),
            ..IncidentQuery::default()
        };
        let errors = query.parse().unwrap_err();
        assert_eq!(fields(&errors), ["status", "limit"]);
    }
}
