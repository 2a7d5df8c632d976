//! Action items: what a postmortem asks someone to do, tracked until it ends.
//!
//! An item has an owner (a person or a team), a due date, a priority, an effort and an impact
//! (seed 004: "the best action items are low-effort and high-impact", so those rank first and
//! the default priority comes from them), a kind, and the failure it addresses. It moves
//! `open` → `in_progress` → `done` or `not_doing`, and it ends only with a note: how we know it
//! worked, or why we will not do it. An item outlives its incident: closing an incident never
//! touches its action items.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{TeamId, UserId};
use crate::document::PostmortemId;
use crate::incident::{IncidentId, present};
use crate::validation::ValidationErrors;

id_type!(
    /// An action item's identifier, shown to people as `AI-12`.
    ActionItemId
);

string_enum! {
    /// How urgent: P1 first.
    Priority { P1 => "P1", P2 => "P2", P3 => "P3" }
}

string_enum! {
    /// An effort or an impact.
    Scale { Low => "low", Medium => "medium", High => "high" }
}

string_enum! {
    /// What an action item does about the failure.
    ActionKind {
        Prevent => "prevent",
        Mitigate => "mitigate",
        Detect => "detect",
        Process => "process",
        Documentation => "documentation",
        Cleanup => "cleanup",
    }
}

string_enum! {
    /// Where an action item stands; `done` and `not_doing` end it.
    ActionStatus {
        Open => "open",
        InProgress => "in_progress",
        Done => "done",
        NotDoing => "not_doing",
    }
}

impl ActionStatus {
    pub fn is_finished(self) -> bool {
        matches!(self, ActionStatus::Done | ActionStatus::NotDoing)
    }
}

impl Scale {
    fn weight(self) -> i8 {
        match self {
            Scale::Low => 0,
            Scale::Medium => 1,
            Scale::High => 2,
        }
    }
}

/// The priority an item gets when none is given: impact minus effort. High impact for low or
/// medium effort (and medium impact for low effort) is P1; a balance is P2; more effort than
/// impact is P3.
pub fn derived_priority(effort: Scale, impact: Scale) -> Priority {
    match impact.weight() - effort.weight() {
        1.. => Priority::P1,
        0 => Priority::P2,
        _ => Priority::P3,
    }
}

/// Who does it: a person or a team. Written `user:3` or `team:2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Owner {
    User(UserId),
    Team(TeamId),
}

impl Owner {
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, id) = text.trim().split_once(':')?;
        match kind {
            "user" => id.parse().ok().map(Owner::User),
            "team" => id.parse().ok().map(Owner::Team),
            _ => None,
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::User(id) => write!(f, "user:{id}"),
            Owner::Team(id) => write!(f, "team:{id}"),
        }
    }
}

impl Serialize for Owner {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Days from creation to the default due date, by priority (`[action_items]` in the
/// configuration file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DueTargets {
    pub p1_days: u32,
    pub p2_days: u32,
    pub p3_days: u32,
}

impl Default for DueTargets {
    fn default() -> Self {
        Self {
            p1_days: 28,
            p2_days: 56,
            p3_days: 84,
        }
    }
}

impl DueTargets {
    pub fn due_on(&self, created: Date, priority: Priority) -> Date {
        let days = match priority {
            Priority::P1 => self.p1_days,
            Priority::P2 => self.p2_days,
            Priority::P3 => self.p3_days,
        };
        created
            .checked_add(jiff::Span::new().days(i64::from(days.min(3650))))
            .unwrap_or(created)
    }

    pub fn check(&self) -> Result<(), String> {
        if [self.p1_days, self.p2_days, self.p3_days]
            .iter()
            .any(|days| *days == 0 || *days > 3650)
        {
            return Err("action_items.p1_days, p2_days and p3_days must be 1 to 3650".into());
        }
        Ok(())
    }
}

pub const MAX_TITLE_CHARS: usize = 300;
pub const MAX_DESCRIPTION_CHARS: usize = 20_000;
pub const MAX_NOTE_CHARS: usize = 4_000;

/// What a writer sets on an action item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActionItemContent {
    pub title: String,
    /// Markdown.
    pub description: String,
    /// `user:3` or `team:2`; an item without one is shown as unowned until someone takes it.
    #[schema(value_type = Option<String>, example = "user:3")]
    pub owner: Option<Owner>,
    #[schema(value_type = String, format = Date)]
    pub due_on: Date,
    pub priority: Priority,
    pub effort: Scale,
    pub impact: Scale,
    pub kind: ActionKind,
    /// The failure it addresses in its postmortem: `why_chains[0]` or `factors[2]`.
    pub addresses: Option<String>,
    pub tracker_url: Option<String>,
    pub status: ActionStatus,
    /// For `done`: how we know it worked.
    pub verification: Option<String>,
    /// For `not_doing`: why not.
    pub not_doing_reason: Option<String>,
}

/// A stored action item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ActionItem {
    pub id: ActionItemId,
    pub postmortem_id: PostmortemId,
    #[serde(flatten)]
    pub content: ActionItemContent,
    /// The owner's display name or team name.
    pub owner_name: Option<String>,
    pub postmortem_title: String,
    /// The incidents its postmortem covers.
    pub incidents: Vec<IncidentId>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    /// When it became `done` or `not_doing`.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub finished_at: Option<Timestamp>,
}

impl ActionItem {
    /// Not finished, and its due date has passed.
    pub fn is_overdue(&self, today: Date) -> bool {
        !self.content.status.is_finished() && self.content.due_on < today
    }

    /// Days past the due date, for an overdue item.
    pub fn days_overdue(&self, today: Date) -> Option<i64> {
        if self.content.status.is_finished() {
            return None;
        }
        days_past(self.content.due_on, today)
    }

    /// Whole days since it was created.
    pub fn age_days(&self, today: Date) -> i64 {
        days_between(
            self.created_at.to_zoned(jiff::tz::TimeZone::UTC).date(),
            today,
        )
        .max(0)
    }
}

/// Whole days `today` is past `due`; `None` until then.
pub fn days_past(due: Date, today: Date) -> Option<i64> {
    (due < today).then(|| days_between(due, today))
}

/// Whole days from `from` to `to`.
pub fn days_between(from: Date, to: Date) -> i64 {
    i64::from(
        to.since((jiff::Unit::Day, from))
            .map(|span| span.get_days())
            .unwrap_or(0),
    )
}

/// The order lists show: unfinished first, then by priority, then low effort and high impact
/// first, then the earliest due.
pub fn rank(items: &mut [ActionItem]) {
    items.sort_by_key(|item| {
        let content = &item.content;
        (
            content.status.is_finished(),
            content.priority,
            content.effort.weight() - content.impact.weight(),
            content.due_on,
            item.id,
        )
    });
}

/// An action item as submitted: every field as text, checked by [`ActionItemDraft::validate`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionItemDraft {
    pub title: Option<String>,
    pub description: Option<String>,
    /// `user:3` or `team:2`.
    pub owner: Option<String>,
    /// `YYYY-MM-DD`; by default from the priority's target.
    pub due_on: Option<String>,
    /// `P1`, `P2` or `P3`; by default from effort and impact.
    pub priority: Option<String>,
    /// `low`, `medium` (default) or `high`.
    pub effort: Option<String>,
    /// `low`, `medium` (default) or `high`.
    pub impact: Option<String>,
    /// `prevent` (default), `mitigate`, `detect`, `process`, `documentation`, `cleanup`.
    pub kind: Option<String>,
    /// `why_chains[N]` or `factors[N]` of its postmortem.
    pub addresses: Option<String>,
    pub tracker_url: Option<String>,
    /// `open` (default), `in_progress`, `done`, `not_doing`.
    pub status: Option<String>,
    pub verification: Option<String>,
    pub not_doing_reason: Option<String>,
}

/// What validation needs to know beyond the draft.
#[derive(Debug, Clone, Copy)]
pub struct ItemContext {
    /// The day it is created on (today, for a new item): the default due date counts from it.
    pub created_on: Date,
    pub targets: DueTargets,
    /// How many why chains and factors its postmortem has, for `addresses`.
    pub why_chains: usize,
    pub factors: usize,
}

impl ActionItemDraft {
    /// The draft checked, every problem named at once.
    pub fn validate(self, context: &ItemContext) -> Result<ActionItemContent, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let title = one_line(self.title.as_deref());
        if title.is_empty() {
            errors.add("title", "title is required: what will be done");
        } else if title.chars().count() > MAX_TITLE_CHARS {
            errors.add(
                "title",
                format!("title is longer than {MAX_TITLE_CHARS} characters"),
            );
        }
        let description = self
            .description
            .as_deref()
            .map(|text| text.replace("\r\n", "\n").trim().to_owned())
            .unwrap_or_default();
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            errors.add(
                "description",
                format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"),
            );
        }
        let owner = match blank_to_none(self.owner.as_deref()) {
            None => None,
            Some(text) => Owner::parse(text).or_else(|| {
                errors.add(
                    "owner",
                    format!("`{text}` is not an owner: write user:ID or team:ID"),
                );
                None
            }),
        };
        let effort = scale(&mut errors, "effort", self.effort.as_deref());
        let impact = scale(&mut errors, "impact", self.impact.as_deref());
        let priority = match blank_to_none(self.priority.as_deref()) {
            None => derived_priority(effort, impact),
            Some(text) => Priority::parse(&text.to_ascii_uppercase()).unwrap_or_else(|| {
                errors.add(
                    "priority",
                    format!("`{text}` is not a priority: {}", Priority::expected()),
                );
                Priority::P2
            }),
        };
        let due_on = match blank_to_none(self.due_on.as_deref()) {
            None => context.targets.due_on(context.created_on, priority),
            Some(text) => match text.parse::<Date>() {
                Ok(date) if (2000..=2199).contains(&date.year()) => date,
                _ => {
                    errors.add("due_on", format!("`{text}` is not a date like 2026-12-31"));
                    context.created_on
                }
            },
        };
        let kind = match blank_to_none(self.kind.as_deref()) {
            None => ActionKind::Prevent,
            Some(text) => ActionKind::parse(text).unwrap_or_else(|| {
                errors.add(
                    "kind",
                    format!("`{text}` is not a kind: {}", ActionKind::expected()),
                );
                ActionKind::Prevent
            }),
        };
        let addresses = blank_to_none(self.addresses.as_deref()).and_then(|text| {
            let found = parse_reference(text).filter(|(list, index)| match *list {
                "why_chains" => *index < context.why_chains,
                _ => *index < context.factors,
            });
            if found.is_none() {
                errors.add(
                    "addresses",
                    format!(
                        "`{text}` is not in this postmortem: write why_chains[N] (it has {}) or \
                         factors[N] (it has {}), counting from 0",
                        context.why_chains, context.factors
                    ),
                );
            }
            found.map(|(list, index)| format!("{list}[{index}]"))
        });
        let tracker_url = blank_to_none(self.tracker_url.as_deref()).map(str::to_owned);
        if let Some(url) = &tracker_url
            && (!(url.starts_with("https://") || url.starts_with("http://"))
                || url.chars().any(char::is_whitespace)
                || url.len() > 2_000)
        {
            errors.add(
                "tracker_url",
                "tracker_url must be an http:// or https:// address",
            );
        }
        let status = match blank_to_none(self.status.as_deref()) {
            None => ActionStatus::Open,
            Some(text) => ActionStatus::parse(text).unwrap_or_else(|| {
                errors.add(
                    "status",
                    format!("`{text}` is not a status: {}", ActionStatus::expected()),
                );
                ActionStatus::Open
            }),
        };
        let verification = note(&mut errors, "verification", self.verification.as_deref());
        let not_doing_reason = note(
            &mut errors,
            "not_doing_reason",
            self.not_doing_reason.as_deref(),
        );
        match status {
            ActionStatus::Done if verification.is_none() => errors.add(
                "verification",
                "a done action item needs a verification note: how do we know it worked?",
            ),
            ActionStatus::NotDoing if not_doing_reason.is_none() => errors.add(
                "not_doing_reason",
                "an action item we are not doing needs the reason why not",
            ),
            _ => {}
        }
        if verification.is_some() && status != ActionStatus::Done {
            errors.add(
                "verification",
                "a verification note belongs to a done action item",
            );
        }
        if not_doing_reason.is_some() && status != ActionStatus::NotDoing {
            errors.add(
                "not_doing_reason",
                "a reason for not doing it belongs to a not_doing action item",
            );
        }
        errors.into_result(ActionItemContent {
            title,
            description,
            owner,
            due_on,
            priority,
            effort,
            impact,
            kind,
            addresses,
            tracker_url,
            status,
            verification,
            not_doing_reason,
        })
    }
}

fn one_line(text: Option<&str>) -> String {
    text.unwrap_or_default()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

fn blank_to_none(text: Option<&str>) -> Option<&str> {
    text.map(str::trim).filter(|text| !text.is_empty())
}

fn scale(errors: &mut ValidationErrors, field: &str, text: Option<&str>) -> Scale {
    match blank_to_none(text) {
        None => Scale::Medium,
        Some(text) => Scale::parse(text).unwrap_or_else(|| {
            errors.add(
                field,
                format!("`{text}` is not an {field}: {}", Scale::expected()),
            );
            Scale::Medium
        }),
    }
}

fn note(errors: &mut ValidationErrors, field: &str, text: Option<&str>) -> Option<String> {
    let text = blank_to_none(text)?;
    if text.chars().count() > MAX_NOTE_CHARS {
        errors.add(
            field,
            format!("{field} is longer than {MAX_NOTE_CHARS} characters"),
        );
    }
    Some(text.to_owned())
}

fn parse_reference(text: &str) -> Option<(&'static str, usize)> {
    let (list, rest) = text.split_once('[')?;
    let index = rest.strip_suffix(']')?.parse().ok()?;
    match list {
        "why_chains" => Some(("why_chains", index)),
        "factors" => Some(("factors", index)),
        _ => None,
    }
}

/// A change to an action item (JSON Merge Patch: an absent field stays, `null` clears).
/// Moving to `open` or `in_progress` drops the verification note or the reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionItemPatch {
    #[serde(default, deserialize_with = "present")]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub owner: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub due_on: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub priority: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub effort: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub impact: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub kind: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub addresses: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub tracker_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub status: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub verification: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub not_doing_reason: Option<Option<String>>,
}

impl ActionItemContent {
    /// The content as a draft, to change and validate again.
    pub fn to_draft(&self) -> ActionItemDraft {
        ActionItemDraft {
            title: Some(self.title.clone()),
            description: Some(self.description.clone()),
            owner: self.owner.map(|owner| owner.to_string()),
            due_on: Some(self.due_on.to_string()),
            priority: Some(self.priority.as_str().into()),
            effort: Some(self.effort.as_str().into()),
            impact: Some(self.impact.as_str().into()),
            kind: Some(self.kind.as_str().into()),
            addresses: self.addresses.clone(),
            tracker_url: self.tracker_url.clone(),
            status: Some(self.status.as_str().into()),
            verification: self.verification.clone(),
            not_doing_reason: self.not_doing_reason.clone(),
        }
    }
}

impl ActionItemPatch {
    /// The item's content with this change laid over it. A derived field (priority, due date)
    /// keeps its value unless the change sets it: changing effort later does not move a date
    /// people planned around.
    pub fn apply(self, current: &ActionItemContent) -> ActionItemDraft {
        let mut draft = current.to_draft();
        let status_moves = self.status.is_some();
        for (slot, value) in [
            (&mut draft.title, self.title),
            (&mut draft.description, self.description),
            (&mut draft.owner, self.owner),
            (&mut draft.due_on, self.due_on),
            (&mut draft.priority, self.priority),
            (&mut draft.effort, self.effort),
            (&mut draft.impact, self.impact),
            (&mut draft.kind, self.kind),
            (&mut draft.addresses, self.addresses),
            (&mut draft.tracker_url, self.tracker_url),
            (&mut draft.status, self.status),
        ] {
            if let Some(value) = value {
                *slot = value;
            }
        }
        if status_moves {
            let status = draft.status.as_deref().and_then(ActionStatus::parse);
            if status != Some(ActionStatus::Done) {
                draft.verification = None;
            }
            if status != Some(ActionStatus::NotDoing) {
                draft.not_doing_reason = None;
            }
        }
        if let Some(value) = self.verification {
            draft.verification = value;
        }
        if let Some(value) = self.not_doing_reason {
            draft.not_doing_reason = value;
        }
        draft
    }
}

/// Which action items a list holds. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActionItemQuery {
    /// `user:3` or `team:2` owns it, or `me`.
    pub owner: Option<String>,
    /// Owned by this team or by one of its members.
    #[param(minimum = 1)]
    pub team: Option<i64>,
    /// Comma-separated statuses; `unfinished` means `open,in_progress`.
    pub status: Option<String>,
    /// `true`: only unfinished items past their due date.
    pub overdue: Option<bool>,
    /// Due on or before this date, like `2026-12-31` (empty means no bound).
    pub due_before: Option<String>,
    /// From postmortems of this incident.
    #[param(minimum = 1)]
    pub incident: Option<i64>,
    /// From this postmortem.
    #[param(minimum = 1)]
    pub postmortem: Option<i64>,
    /// Its incident touched this service.
    pub service: Option<String>,
    /// At most this many, 1 to 5000 (default 500).
    #[param(minimum = 1, maximum = 5000)]
    pub limit: Option<u32>,
}

/// A checked [`ActionItemQuery`], what the store filters by.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActionItemFilter {
    pub owner: Option<Owner>,
    pub team: Option<TeamId>,
    pub statuses: Vec<ActionStatus>,
    /// Unfinished and due before this date.
    pub overdue_on: Option<Date>,
    pub due_before: Option<Date>,
    pub incident: Option<IncidentId>,
    pub postmortem: Option<PostmortemId>,
    pub service: Option<String>,
    pub limit: u32,
}

impl ActionItemQuery {
    /// The query checked; `me` is the reader, `today` makes `overdue` concrete.
    pub fn validate(
        self,
        me: Option<UserId>,
        today: Date,
    ) -> Result<ActionItemFilter, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let owner = match blank_to_none(self.owner.as_deref()) {
            None => None,
            Some("me") => me.map(Owner::User).or_else(|| {
                errors.add("owner", "`me` needs a signed-in user");
                None
            }),
            Some(text) => Owner::parse(text).or_else(|| {
                errors.add(
                    "owner",
                    format!("`{text}` is not an owner: write user:ID, team:ID or me"),
                );
                None
            }),
        };
        let mut statuses = Vec::new();
        for part in self
            .status
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
        {
            if part == "unfinished" {
                statuses.extend([ActionStatus::Open, ActionStatus::InProgress]);
            } else if let Some(status) = ActionStatus::parse(part) {
                statuses.push(status);
            } else {
                errors.add(
                    "status",
                    format!(
                        "`{part}` is not a status: {}, unfinished",
                        ActionStatus::expected()
                    ),
                );
            }
        }
        statuses.sort();
        statuses.dedup();
        let due_before = blank_to_none(self.due_before.as_deref()).and_then(|text| {
            text.parse::<Date>().ok().or_else(|| {
                errors.add(
                    "due_before",
                    format!("`{text}` is not a date like 2026-12-31"),
                );
                None
            })
        });
        let positive = |errors: &mut ValidationErrors, field: &str, value: Option<i64>| {
            value.and_then(|value| {
                (value > 0).then_some(value).or_else(|| {
                    errors.add(field, format!("{field} must be a positive id"));
                    None
                })
            })
        };
        let team = positive(&mut errors, "team", self.team).and_then(TeamId::new);
        let incident = positive(&mut errors, "incident", self.incident).and_then(IncidentId::new);
        let postmortem =
            positive(&mut errors, "postmortem", self.postmortem).and_then(PostmortemId::new);
        let limit = self.limit.unwrap_or(500);
        if !(1..=5000).contains(&limit) {
            errors.add("limit", "limit must be 1 to 5000");
        }
        let service = blank_to_none(self.service.as_deref()).map(str::to_owned);
        errors.into_result(ActionItemFilter {
            owner,
            team,
            statuses,
            overdue_on: self.overdue.unwrap_or(false).then_some(today),
            due_before,
            incident,
            postmortem,
            service,
            limit,
        })
    }
}

#[cfg(test)]
mod tests;
