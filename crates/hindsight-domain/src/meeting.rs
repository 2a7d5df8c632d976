//! The review meeting (seeds 000, 002 and 004; DESIGN step 4).
//!
//! - **When**: the next business day after resolution, at the team's meeting time in the team's
//!   time zone; weekends (the team's non-working days) and the team's holidays are skipped. A
//!   delay for investigation moves it by business days, with a reason ([`propose_start`]).
//! - **How long**: 15 minutes when straightforward by the team's rule, else 30 ([`duration`]).
//! - **Who**: the postmortem's owner, the incidents' owners, whoever acknowledged the page (the
//!   engineer on duty) and the responders on the timeline; a customer-success representative and
//!   a product manager or solutions architect when customers were affected. At most
//!   [`MAX_ATTENDEES`] besides the moderator; everyone else reads the notes ([`propose`]).
//! - **Moderator**: from the team's pool, never someone involved, the least recently moderated
//!   first ([`choose_moderator`]).
//!
//! The rules are pure: the caller brings the postmortem, its incidents and timelines, the people,
//! the moderators' history and the time. [`ics`] writes the calendar invite.

pub mod ics;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use jiff::civil::{Date, Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Team, UserId};
use crate::calendar::{WEEKDAYS, add_days_where};
use crate::document::{Postmortem, PostmortemId};
use crate::incident::{Incident, Severity};
use crate::notify::{
    Audience, CalendarPart, Message, MessageLine, MessageSection, NewNotification,
    NotificationKind, Person, parse_weekday,
};
use crate::timeline::{EventKind, EventSource, TimelineEvent};
use crate::validation::ValidationErrors;

/// Most attendees besides the moderator (seed 004: "no more than 6 people").
pub const MAX_ATTENDEES: usize = 6;
/// Longest delay for investigation, in business days (seed 004: "a few days").
pub const MAX_DELAY_DAYS: u32 = 10;
/// Longest meeting notes, in characters.
pub const MAX_NOTES_CHARS: usize = 100_000;
const MAX_REASON_CHARS: usize = 500;

/// The code of conduct the moderator keeps, shown on top of meeting mode.
pub const CODE_OF_CONDUCT: [&str; 3] = [
    "Blameless: we look for what in the system let this happen, not for who is to blame.",
    "No finger-pointing: people are named to credit what they noticed or did, never to blame.",
    "No guessing where facts can be collected: note the question and who will find the answer.",
];

/// The agenda of every review, in order (seeds 002 and 004).
pub const AGENDA: [(&str, &str); 5] = [
    (
        "Agree on summary, impact and timeline",
        "Read them together; correct what is wrong before analysing.",
    ),
    (
        "5 Whys",
        "From the impact down to causes; one chain per cause that contributed.",
    ),
    (
        "Points of failure",
        "Detection, first response, fallbacks, documentation, tests, debugging.",
    ),
    (
        "Action items",
        "Each failure becomes an item with an owner, a due date and a priority.",
    ),
    (
        "Close",
        "Confirm who writes up what, and that the notes are shared.",
    ),
];

string_enum! {
    /// Where a review meeting stands.
    MeetingStatus { Scheduled => "scheduled", Cancelled => "cancelled", Held => "held" }
}

string_enum! {
    /// Why someone is invited.
    AttendeeRole {
        Owner => "owner",
        OnDuty => "on_duty",
        Responder => "responder",
        CustomerSuccess => "customer_success",
        Product => "product",
        /// Added by hand.
        Invited => "invited",
    }
}

/// One team's meeting rules: `[meetings.default]` or `[meetings.teams.<name>]`, after checking.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRules {
    pub time_zone: TimeZone,
    /// The IANA name, as configured.
    pub time_zone_name: String,
    /// The meeting's local start time.
    pub at: Time,
    pub working_days: Vec<Weekday>,
    pub holidays: BTreeSet<Date>,
    pub short_minutes: u32,
    pub default_minutes: u32,
    /// A meeting is short when every incident is this severity or milder,
    pub short_max_severity: Severity,
    /// touches at most this many services, and no customers were affected.
    pub short_max_services: usize,
    /// Emails of the moderator pool.
    pub moderators: Vec<String>,
    /// Emails of the customer-success representatives, invited when customers were affected.
    pub customer_success: Vec<String>,
    /// Emails of the product managers or solutions architects, invited likewise.
    pub product: Vec<String>,
}

impl Default for MeetingRules {
    fn default() -> Self {
        Self {
            time_zone: TimeZone::UTC,
            time_zone_name: "UTC".into(),
            at: Time::constant(10, 0, 0, 0),
            working_days: WEEKDAYS.to_vec(),
            holidays: BTreeSet::new(),
            short_minutes: 15,
            default_minutes: 30,
            short_max_severity: Severity::Sev3,
            short_max_services: 1,
            moderators: Vec::new(),
            customer_success: Vec::new(),
            product: Vec::new(),
        }
    }
}

impl MeetingRules {
    pub fn is_business_day(&self, date: Date) -> bool {
        self.working_days.contains(&date.weekday()) && !self.holidays.contains(&date)
    }
}

/// Meeting rules as written in the configuration file; every field falls back to
/// `[meetings.default]`, then to the built-in default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    pub time_zone: Option<String>,
    /// `10:00`.
    pub at: Option<String>,
    /// Day names: `["monday", "tuesday", ...]`.
    pub working_days: Option<Vec<String>>,
    /// Dates: `["2026-12-25"]`.
    pub holidays: Option<Vec<String>>,
    /// iCalendar files of holidays, read when the configuration is loaded.
    pub holiday_files: Option<Vec<String>>,
    pub short_minutes: Option<u32>,
    pub default_minutes: Option<u32>,
    pub short_max_severity: Option<String>,
    pub short_max_services: Option<usize>,
    pub moderators: Option<Vec<String>>,
    pub customer_success: Option<Vec<String>>,
    pub product: Option<Vec<String>>,
}

/// `[meetings]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingsFile {
    /// Who invites: `Name <reviews@example.com>` or an address. Defaults to the SMTP sender.
    pub organizer: Option<String>,
    #[serde(default)]
    pub default: RulesFile,
    /// Team name → its rules.
    #[serde(default)]
    pub teams: BTreeMap<String, RulesFile>,
}

/// Every team's rules, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeetingSettings {
    pub organizer: Option<String>,
    pub default: MeetingRules,
    pub teams: BTreeMap<String, MeetingRules>,
}

impl MeetingSettings {
    /// The rules of the team by this name, or the default ones.
    pub fn rules_for(&self, team: Option<&str>) -> &MeetingRules {
        team.and_then(|name| self.teams.get(name))
            .unwrap_or(&self.default)
    }
}

impl MeetingsFile {
    /// Checks every table. `holiday_file` reads a file named in `holiday_files` (the caller's IO).
    pub fn validate(
        &self,
        holiday_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<MeetingSettings, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let default = RulesFile::default().merged(&self.default).check(
            "meetings.default",
            &mut errors,
            holiday_file,
        );
        let mut teams = BTreeMap::new();
        for (name, file) in &self.teams {
            let rules = self.default.merged(file).check(
                &format!("meetings.teams.{name}"),
                &mut errors,
                holiday_file,
            );
            teams.insert(name.clone(), rules);
        }
        errors.into_result(())?;
        Ok(MeetingSettings {
            organizer: self.organizer.clone(),
            default,
            teams,
        })
    }
}

impl RulesFile {
    /// These rules with `over`'s fields in front.
    fn merged(&self, over: &RulesFile) -> RulesFile {
        macro_rules! pick {
            ($($field:ident),+) => { RulesFile { $($field: over.$field.clone().or_else(|| self.$field.clone())),+ } };
        }
        pick!(
            time_zone,
            at,
            working_days,
            holidays,
            holiday_files,
            short_minutes,
            default_minutes,
            short_max_severity,
            short_max_services,
            moderators,
            customer_success,
            product
        )
    }

    fn check(
        self,
        table: &str,
        errors: &mut ValidationErrors,
        holiday_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> MeetingRules {
        let mut rules = MeetingRules::default();
        if let Some(name) = self.time_zone {
            match TimeZone::get(&name) {
                Ok(zone) => {
                    rules.time_zone = zone;
                    rules.time_zone_name = name;
                }
                Err(_) => errors.add(
                    format!("{table}.time_zone"),
                    format!("`{name}` is not an IANA time zone such as Europe/London"),
                ),
            }
        }
        if let Some(at) = self.at {
            match at.parse::<Time>() {
                Ok(time) => rules.at = time,
                Err(_) => errors.add(format!("{table}.at"), "at must look like 10:00"),
            }
        }
        if let Some(days) = self.working_days {
            rules.working_days.clear();
            for day in days {
                match parse_weekday(&day) {
                    Some(day) if !rules.working_days.contains(&day) => rules.working_days.push(day),
                    Some(_) => {}
                    None => errors.add(
                        format!("{table}.working_days"),
                        format!("`{day}` is not a day name such as monday"),
                    ),
                }
            }
            if rules.working_days.is_empty() {
                errors.add(
                    format!("{table}.working_days"),
                    "working_days needs at least one day",
                );
            }
        }
        for text in self.holidays.unwrap_or_default() {
            match text.parse::<Date>() {
                Ok(date) => {
                    rules.holidays.insert(date);
                }
                Err(_) => errors.add(
                    format!("{table}.holidays"),
                    format!("`{text}` is not a date such as 2026-12-25"),
                ),
            }
        }
        for path in self.holiday_files.unwrap_or_default() {
            match holiday_file(&path).and_then(|text| ics::holidays(&text)) {
                Ok(dates) => rules.holidays.extend(dates),
                Err(message) => errors.add(
                    format!("{table}.holiday_files"),
                    format!("{path}: {message}"),
                ),
            }
        }
        for (field, value, slot) in [
            (
                "short_minutes",
                self.short_minutes,
                &mut rules.short_minutes,
            ),
            (
                "default_minutes",
                self.default_minutes,
                &mut rules.default_minutes,
            ),
        ] {
            if let Some(minutes) = value {
                if (5..=240).contains(&minutes) {
                    *slot = minutes;
                } else {
                    errors.add(
                        format!("{table}.{field}"),
                        format!("{field} must be 5 to 240 minutes"),
                    );
                }
            }
        }
        if let Some(text) = self.short_max_severity {
            match Severity::parse(&text) {
                Some(severity) => rules.short_max_severity = severity,
                None => errors.add(
                    format!("{table}.short_max_severity"),
                    format!("short_max_severity must be one of {}", Severity::expected()),
                ),
            }
        }
        if let Some(services) = self.short_max_services {
            rules.short_max_services = services;
        }
        rules.moderators = emails(self.moderators);
        rules.customer_success = emails(self.customer_success);
        rules.product = emails(self.product);
        rules
    }
}

fn emails(list: Option<Vec<String>>) -> Vec<String> {
    list.unwrap_or_default()
        .into_iter()
        .map(|email| email.trim().to_lowercase())
        .filter(|email| !email.is_empty())
        .collect()
}

/// The proposed start: the first business day after the day of `resolved_at` (in the team's
/// zone), then `delay_days` further business days, at the team's meeting time. A local time that
/// does not exist that day (a daylight-saving gap) moves forward by the gap.
pub fn propose_start(resolved_at: Timestamp, delay_days: u32, rules: &MeetingRules) -> Zoned {
    let resolved_on = resolved_at.to_zoned(rules.time_zone.clone()).date();
    let day = add_days_where(resolved_on, 1 + delay_days, |date| {
        rules.is_business_day(date)
    });
    day.to_datetime(rules.at)
        .to_zoned(rules.time_zone.clone())
        .unwrap_or_else(|_| resolved_at.to_zoned(rules.time_zone.clone()))
}

/// The proposed start counted from the resolution, or from now when that start is already past
/// (a postmortem taken up late, or incidents not resolved yet): a meeting in the past helps
/// nobody.
pub fn start_after(
    resolved_at: Option<Timestamp>,
    now: Timestamp,
    delay_days: u32,
    rules: &MeetingRules,
) -> Zoned {
    let start = propose_start(resolved_at.unwrap_or(now), delay_days, rules);
    if start.timestamp() > now {
        start
    } else {
        propose_start(now, delay_days, rules)
    }
}

/// Whether any customer was affected: users affected or user-visible minutes recorded.
pub fn customers_affected(incidents: &[Incident]) -> bool {
    incidents.iter().any(|incident| {
        let impact = &incident.content.impact;
        impact.users_affected.unwrap_or(0) > 0 || impact.user_visible_minutes.unwrap_or(0) > 0
    })
}

/// The meeting's length by the team's rule, and why.
pub fn duration(incidents: &[Incident], rules: &MeetingRules) -> (u32, String) {
    let services: BTreeSet<&str> = incidents
        .iter()
        .flat_map(|incident| incident.content.services.iter().map(String::as_str))
        .collect();
    let mild = incidents
        .iter()
        .all(|incident| incident.content.severity >= rules.short_max_severity);
    let customers = customers_affected(incidents);
    if mild && services.len() <= rules.short_max_services && !customers {
        return (
            rules.short_minutes,
            format!(
                "Straightforward: {} or milder, {} service(s), no customers affected.",
                rules.short_max_severity,
                services.len()
            ),
        );
    }
    let mut why = Vec::new();
    if !mild {
        why.push(format!("severity above {}", rules.short_max_severity));
    }
    if services.len() > rules.short_max_services {
        why.push(format!("{} services", services.len()));
    }
    if customers {
        why.push("customers affected".to_owned());
    }
    (
        rules.default_minutes,
        format!("Not straightforward: {}.", why.join(", ")),
    )
}

/// Someone invited, and whether they came once the meeting was held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Attendee {
    #[schema(value_type = i64)]
    pub user_id: UserId,
    pub name: String,
    pub email: String,
    pub role: AttendeeRole,
    /// Set when the meeting is marked held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attended: Option<bool>,
}

impl Attendee {
    fn new(person: &Person, role: AttendeeRole) -> Self {
        Self {
            user_id: person.id,
            name: person.name.clone(),
            email: person.email.clone(),
            role,
            attended: None,
        }
    }

    pub fn person(&self) -> Person {
        Person {
            id: self.user_id,
            name: self.name.clone(),
            email: self.email.clone(),
        }
    }
}

/// What the meeting is proposed from.
pub struct Facts<'a> {
    pub postmortem: &'a Postmortem,
    pub incidents: &'a [Incident],
    /// The timelines of all its incidents.
    pub events: &'a [TimelineEvent],
    /// Every active user.
    pub people: &'a [Person],
    pub teams: &'a [Team],
    /// When each user last moderated a meeting that was not cancelled.
    pub moderated: &'a BTreeMap<UserId, Timestamp>,
    pub now: Timestamp,
}

/// A proposal for a postmortem's review meeting: nothing stored yet.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Proposal {
    /// The team whose rules apply, if any has its own.
    pub team: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    /// The start in the team's zone, RFC 9557: `2026-11-23T10:00:00+00:00[Europe/London]`.
    pub local_start: String,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub duration_reason: String,
    /// When the last of its incidents was resolved; the proposal counts from now when none is.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    pub customers_affected: bool,
    pub attendees: Vec<Attendee>,
    /// Involved people beyond the cap and the team's other members: they read the notes.
    pub readers: Vec<Person>,
    pub moderator: Option<Person>,
    /// The pool the moderator is chosen from, without the people involved.
    pub moderator_candidates: Vec<Person>,
    /// Names on the timeline or as owners that match no user.
    pub unmatched: Vec<String>,
}

/// The user a name or email written somewhere (an owner, a timeline author) stands for.
pub fn find_person<'p>(people: &'p [Person], text: &str) -> Option<&'p Person> {
    let text = text.trim().trim_start_matches('@').to_lowercase();
    if text.is_empty() {
        return None;
    }
    people
        .iter()
        .find(|person| person.email.to_lowercase() == text)
        .or_else(|| {
            people
                .iter()
                .find(|person| person.name.trim().to_lowercase() == text)
        })
}

fn by_email<'p>(people: &'p [Person], emails: &[String]) -> Vec<&'p Person> {
    emails
        .iter()
        .filter_map(|email| {
            people
                .iter()
                .find(|person| person.email.to_lowercase() == *email)
        })
        .collect()
}

/// The team whose meeting rules apply: the first team (by id) of the postmortem's owner that has
/// rules of its own, else the first such team of any incident owner.
pub fn team_of(facts: &Facts, settings: &MeetingSettings) -> Option<String> {
    let mut candidates: Vec<UserId> = facts.postmortem.document.owner.into_iter().collect();
    candidates.extend(
        facts
            .incidents
            .iter()
            .filter_map(|incident| incident.content.owner.as_deref())
            .filter_map(|owner| find_person(facts.people, owner))
            .map(|person| person.id),
    );
    team_with_rules(&candidates, facts.teams, settings)
}

/// The first team (by id) of the first of `people` that has meeting rules of its own: whose
/// time zone and calendar a meeting or a drafted timeline follows.
pub fn team_with_rules(
    people: &[UserId],
    teams: &[Team],
    settings: &MeetingSettings,
) -> Option<String> {
    let mut teams: Vec<&Team> = teams.iter().collect();
    teams.sort_by_key(|team| team.id);
    people.iter().find_map(|user| {
        teams
            .iter()
            .filter(|team| settings.teams.contains_key(&team.name))
            .find(|team| team.members.iter().any(|member| member.user_id == *user))
            .map(|team| team.name.clone())
    })
}

/// Everyone involved in the incidents, in order of who matters most to the review: owners, the
/// engineer on duty, then responders by how much they did. Names matching no user come back apart.
pub fn involved(facts: &Facts) -> (Vec<(Person, AttendeeRole)>, Vec<String>) {
    let mut found: Vec<(Person, AttendeeRole)> = Vec::new();
    let mut unmatched: Vec<String> = Vec::new();
    let mut add = |found: &mut Vec<(Person, AttendeeRole)>, text: &str, role: AttendeeRole| {
        match find_person(facts.people, text) {
            Some(person) if !found.iter().any(|(known, _)| known.id == person.id) => {
                found.push((person.clone(), role))
            }
            Some(_) => {}
            None => {
                let text = text.trim().to_owned();
                if !text.is_empty() && !unmatched.contains(&text) {
                    unmatched.push(text);
                }
            }
        }
    };
    if let Some(owner) = facts.postmortem.document.owner
        && let Some(person) = facts.people.iter().find(|person| person.id == owner)
    {
        found.push((person.clone(), AttendeeRole::Owner));
    }
    for incident in facts.incidents {
        if let Some(owner) = &incident.content.owner {
            add(&mut found, owner, AttendeeRole::Owner);
        }
    }
    for event in facts.events {
        if event.content.kind == EventKind::Acknowledged
            && let Some(author) = &event.author
        {
            add(&mut found, author, AttendeeRole::OnDuty);
        }
    }
    let mut activity: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for (position, event) in facts.events.iter().enumerate() {
        if matches!(event.source, EventSource::Manual | EventSource::Chat)
            && let Some(author) = &event.author
        {
            let entry = activity.entry(author.clone()).or_insert((0, position));
            entry.0 += 1;
        }
    }
    let mut responders: Vec<(String, (usize, usize))> = activity.into_iter().collect();
    responders.sort_by_key(|(_, (count, first))| (std::cmp::Reverse(*count), *first));
    for (author, _) in responders {
        add(&mut found, &author, AttendeeRole::Responder);
    }
    (found, unmatched)
}

/// Proposes the meeting: when, how long, who, and who moderates.
pub fn propose(facts: &Facts, settings: &MeetingSettings, delay_days: u32) -> Proposal {
    let team = team_of(facts, settings);
    let rules = settings.rules_for(team.as_deref());
    let resolved_at = facts
        .incidents
        .iter()
        .map(|incident| incident.content.resolved_at)
        .collect::<Option<Vec<Timestamp>>>()
        .and_then(|times| times.into_iter().max());
    let start = start_after(resolved_at, facts.now, delay_days, rules);
    let (duration_minutes, duration_reason) = duration(facts.incidents, rules);
    let customers = customers_affected(facts.incidents);

    let (involved, unmatched) = involved(facts);
    let mut wanted: Vec<Attendee> = Vec::new();
    let push = |person: &Person, role: AttendeeRole, wanted: &mut Vec<Attendee>| {
        if !wanted.iter().any(|known| known.user_id == person.id) {
            wanted.push(Attendee::new(person, role));
        }
    };
    // Owners and the engineer on duty first, then one customer-success representative and one
    // product person when customers were affected, then the responders.
    for (person, role) in involved
        .iter()
        .filter(|(_, role)| *role != AttendeeRole::Responder)
    {
        push(person, *role, &mut wanted);
    }
    if customers {
        for (emails, role) in [
            (&rules.customer_success, AttendeeRole::CustomerSuccess),
            (&rules.product, AttendeeRole::Product),
        ] {
            if let Some(person) = by_email(facts.people, emails)
                .into_iter()
                .find(|person| !wanted.iter().any(|known| known.user_id == person.id))
            {
                push(person, role, &mut wanted);
            }
        }
    }
    for (person, role) in involved
        .iter()
        .filter(|(_, role)| *role == AttendeeRole::Responder)
    {
        push(person, *role, &mut wanted);
    }
    let overflow = wanted.split_off(wanted.len().min(MAX_ATTENDEES));
    let attendees = wanted;

    let involved_ids: BTreeSet<UserId> = involved
        .iter()
        .map(|(person, _)| person.id)
        .chain(attendees.iter().map(|attendee| attendee.user_id))
        .collect();
    let candidates = moderator_candidates(facts.people, rules, &involved_ids);
    let moderator = choose_moderator(&candidates, facts.moderated).cloned();

    let mut readers: Vec<Person> = overflow.iter().map(|a| a.person()).collect();
    if let Some(team) = team
        .as_deref()
        .and_then(|name| facts.teams.iter().find(|team| team.name == name))
    {
        for member in &team.members {
            if let Some(person) = facts.people.iter().find(|p| p.id == member.user_id)
                && !attendees.iter().any(|a| a.user_id == person.id)
                && moderator.as_ref().is_none_or(|m| m.id != person.id)
                && !readers.iter().any(|r| r.id == person.id)
            {
                readers.push(person.clone());
            }
        }
    }
    Proposal {
        team,
        starts_at: start.timestamp(),
        local_start: start.to_string(),
        time_zone: rules.time_zone_name.clone(),
        duration_minutes,
        duration_reason,
        resolved_at,
        customers_affected: customers,
        attendees,
        readers,
        moderator,
        moderator_candidates: candidates.iter().map(|p| (*p).clone()).collect(),
        unmatched,
    }
}

/// The pool, without anyone involved.
pub fn moderator_candidates<'p>(
    people: &'p [Person],
    rules: &MeetingRules,
    involved: &BTreeSet<UserId>,
) -> Vec<&'p Person> {
    by_email(people, &rules.moderators)
        .into_iter()
        .filter(|person| !involved.contains(&person.id))
        .collect()
}

/// The candidate who moderated least recently (never first), the pool's order breaking ties.
pub fn choose_moderator<'p>(
    candidates: &[&'p Person],
    moderated: &BTreeMap<UserId, Timestamp>,
) -> Option<&'p Person> {
    candidates
        .iter()
        .enumerate()
        .min_by_key(|(position, person)| (moderated.get(&person.id).copied(), *position))
        .map(|(_, person)| *person)
}

/// A delay for investigation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Delay {
    pub business_days: u32,
    pub reason: String,
}

/// A review meeting as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReviewMeeting {
    #[schema(value_type = i64)]
    pub postmortem_id: PostmortemId,
    /// The invite's `UID`: the same for every version of this meeting.
    pub uid: String,
    /// The invite's `SEQUENCE`: one more with every reschedule and the cancellation.
    pub sequence: u32,
    pub status: MeetingStatus,
    pub team: Option<String>,
    #[schema(value_type = String, format = DateTime)]
    pub starts_at: Timestamp,
    pub time_zone: String,
    pub duration_minutes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    pub moderator: Option<Person>,
    pub attendees: Vec<Attendee>,
    /// Why more than six attend, when an editor allowed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub over_cap_reason: Option<String>,
    /// Everyone else: they are told to read the notes.
    pub readers: Vec<Person>,
    /// The moderator's notes, saved as they are typed.
    pub notes: String,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub held_at: Option<Timestamp>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// The meeting's version: a change names the one it was made on.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl ReviewMeeting {
    /// The start in the meeting's own zone.
    pub fn local_start(&self) -> Zoned {
        let zone = TimeZone::get(&self.time_zone).unwrap_or(TimeZone::UTC);
        self.starts_at.to_zoned(zone)
    }

    pub fn ends_at(&self) -> Timestamp {
        self.starts_at
            .checked_add(jiff::SignedDuration::from_mins(i64::from(
                self.duration_minutes,
            )))
            .unwrap_or(self.starts_at)
    }

    /// Everyone the invite goes to: the moderator first, then the attendees.
    pub fn invitees(&self) -> Vec<Person> {
        self.moderator
            .iter()
            .cloned()
            .chain(self.attendees.iter().map(Attendee::person))
            .collect()
    }
}

/// A request to schedule or change a meeting. Everything is optional: what is absent is taken
/// from the proposal (scheduling) or left as it is (a change).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingRequest {
    /// RFC 3339 with an offset (`2026-11-23T10:00:00+00:00`), or a local time in the meeting's
    /// zone (`2026-11-23T10:00`).
    pub starts_at: Option<String>,
    /// Business days of delay for investigation; needs `delay_reason`.
    pub delay_days: Option<u32>,
    pub delay_reason: Option<String>,
    pub duration_minutes: Option<u32>,
    /// The attendees' user ids, replacing the list.
    #[schema(value_type = Option<Vec<i64>>)]
    pub attendees: Option<Vec<i64>>,
    /// Allows more than six attendees; editors only.
    pub over_cap_reason: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub moderator: Option<i64>,
}

/// Why a meeting request is refused, field by field.
fn reason(errors: &mut ValidationErrors, field: &str, text: Option<&str>) -> Option<String> {
    let text = text.map(str::trim).filter(|text| !text.is_empty())?;
    if text.chars().count() > MAX_REASON_CHARS || text.chars().any(|c| c.is_control()) {
        errors.add(
            field,
            format!("{field} must be one line of at most {MAX_REASON_CHARS} characters"),
        );
        return None;
    }
    Some(text.to_owned())
}

/// Reads a start: RFC 3339 with an offset, or a civil time in `zone`.
pub fn parse_start(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let text = text.trim();
    if let Ok(timestamp) = text.parse::<Timestamp>() {
        return Some(timestamp).filter(|time| crate::clock::in_range(*time));
    }
    let civil = text.parse::<jiff::civil::DateTime>().ok()?;
    civil
        .to_zoned(zone.clone())
        .ok()
        .map(|zoned| zoned.timestamp())
        .filter(|time| crate::clock::in_range(*time))
}

/// What the request makes of the meeting: the meeting with the request applied, checked.
/// `current` is the meeting being changed, or `None` when scheduling from `proposal`.
pub fn apply(
    request: &MeetingRequest,
    proposal: &Proposal,
    current: Option<&ReviewMeeting>,
    facts: &Facts,
    settings: &MeetingSettings,
) -> Result<Plan, ValidationErrors> {
    let mut errors = ValidationErrors::new();
    let team = current.map_or(proposal.team.clone(), |meeting| meeting.team.clone());
    let rules = settings.rules_for(team.as_deref());
    let delay_reason = reason(&mut errors, "delay_reason", request.delay_reason.as_deref());
    let delay = match request.delay_days {
        None => current.and_then(|meeting| meeting.delay.clone()),
        Some(0) => None,
        Some(days) if days > MAX_DELAY_DAYS => {
            errors.add(
                "delay_days",
                format!("a delay for investigation is at most {MAX_DELAY_DAYS} business days"),
            );
            None
        }
        Some(days) => match delay_reason {
            Some(reason) => Some(Delay {
                business_days: days,
                reason,
            }),
            None => {
                errors.add(
                    "delay_reason",
                    "a delay for investigation needs a reason, e.g. `root cause still under investigation`",
                );
                None
            }
        },
    };
    let starts_at = match &request.starts_at {
        Some(text) => match parse_start(text, &rules.time_zone) {
            Some(start) if start <= facts.now => {
                errors.add("starts_at", "the meeting must start in the future");
                None
            }
            Some(start) => Some(start),
            None => {
                errors.add(
                    "starts_at",
                    "starts_at must be RFC 3339 (2026-11-23T10:00:00Z) or a local time (2026-11-23T10:00)",
                );
                None
            }
        },
        None if request.delay_days.is_some() => {
            let days = delay.as_ref().map_or(0, |d| d.business_days);
            Some(start_after(proposal.resolved_at, facts.now, days, rules).timestamp())
        }
        None => Some(current.map_or(proposal.starts_at, |meeting| meeting.starts_at)),
    };
    let duration_minutes = match request.duration_minutes {
        Some(minutes) if !(5..=240).contains(&minutes) => {
            errors.add("duration_minutes", "duration_minutes must be 5 to 240");
            0
        }
        Some(minutes) => minutes,
        None => current.map_or(proposal.duration_minutes, |m| m.duration_minutes),
    };

    let known_roles: Vec<Attendee> = current
        .map(|meeting| meeting.attendees.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(proposal.attendees.iter().cloned())
        .collect();
    let attendees: Vec<Attendee> = match &request.attendees {
        None => current.map_or(proposal.attendees.clone(), |m| m.attendees.clone()),
        Some(ids) => {
            let mut list: Vec<Attendee> = Vec::new();
            for (position, id) in ids.iter().enumerate() {
                let Some(person) = facts.people.iter().find(|p| p.id.get() == *id) else {
                    errors.add(
                        format!("attendees[{position}]"),
                        format!("there is no active user {id}"),
                    );
                    continue;
                };
                if list.iter().any(|a| a.user_id == person.id) {
                    continue;
                }
                let role = known_roles
                    .iter()
                    .find(|a| a.user_id == person.id)
                    .map_or(AttendeeRole::Invited, |a| a.role);
                list.push(Attendee::new(person, role));
            }
            list
        }
    };
    let over_cap_reason = reason(
        &mut errors,
        "over_cap_reason",
        request.over_cap_reason.as_deref(),
    )
    .or_else(|| current.and_then(|m| m.over_cap_reason.clone()));
    if attendees.len() > MAX_ATTENDEES && over_cap_reason.is_none() {
        errors.add(
            "attendees",
            format!(
                "{} attendees is more than {MAX_ATTENDEES}: a review works with at most six people \
                 besides the moderator, and everyone else reads the notes. An editor may invite more \
                 with `over_cap_reason`",
                attendees.len()
            ),
        );
    }

    let (involved, _) = involved(facts);
    let involved_ids: BTreeSet<UserId> = involved
        .iter()
        .map(|(person, _)| person.id)
        .chain(attendees.iter().map(|attendee| attendee.user_id))
        .collect();
    let candidates = moderator_candidates(facts.people, rules, &involved_ids);
    let moderator = match request.moderator {
        Some(id) => match facts.people.iter().find(|p| p.id.get() == id) {
            None => {
                errors.add("moderator", format!("there is no active user {id}"));
                None
            }
            Some(person) if involved_ids.contains(&person.id) => {
                errors.add(
                    "moderator",
                    format!(
                        "{} is involved in the incident (an owner, responder or attendee); the \
                         moderator must not be",
                        person.name
                    ),
                );
                None
            }
            Some(person) if !candidates.iter().any(|c| c.id == person.id) => {
                errors.add(
                    "moderator",
                    format!(
                        "{} is not in the moderator pool of {}; ask an admin to add them to \
                         `moderators`",
                        person.name,
                        team.as_deref().unwrap_or("the default rules")
                    ),
                );
                None
            }
            Some(person) => Some(person.clone()),
        },
        None => {
            let kept = current
                .and_then(|meeting| meeting.moderator.clone())
                .or_else(|| proposal.moderator.clone());
            // A moderator who is now an attendee gives way to the next in the rotation.
            match kept {
                Some(moderator) if !involved_ids.contains(&moderator.id) => Some(moderator),
                _ => choose_moderator(&candidates, facts.moderated).cloned(),
            }
        }
    };
    errors.into_result(())?;
    // Whoever the proposal named and the meeting leaves out reads the notes.
    let mut readers: Vec<Person> = Vec::new();
    for reader in proposal
        .readers
        .iter()
        .cloned()
        .chain(proposal.attendees.iter().map(Attendee::person))
    {
        let invited = attendees.iter().any(|a| a.user_id == reader.id)
            || moderator.as_ref().is_some_and(|m| m.id == reader.id);
        if !invited && !readers.iter().any(|known| known.id == reader.id) {
            readers.push(reader);
        }
    }
    Ok(Plan {
        team,
        starts_at: starts_at.expect("checked above"),
        time_zone: rules.time_zone_name.clone(),
        duration_minutes,
        delay,
        moderator,
        attendees,
        over_cap_reason,
        readers,
    })
}

/// A checked schedule: what a meeting will be.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub team: Option<String>,
    pub starts_at: Timestamp,
    pub time_zone: String,
    pub duration_minutes: u32,
    pub delay: Option<Delay>,
    pub moderator: Option<Person>,
    pub attendees: Vec<Attendee>,
    pub over_cap_reason: Option<String>,
    pub readers: Vec<Person>,
}

impl Plan {
    /// A new meeting from this plan. `unique` makes its invite's `UID` unique (random text from
    /// the caller: the domain draws no random numbers).
    pub fn schedule(
        self,
        postmortem: PostmortemId,
        unique: &str,
        host: &str,
        now: Timestamp,
    ) -> ReviewMeeting {
        ReviewMeeting {
            postmortem_id: postmortem,
            uid: format!("review-{postmortem}-{unique}@{host}"),
            sequence: 0,
            status: MeetingStatus::Scheduled,
            team: self.team,
            starts_at: self.starts_at,
            time_zone: self.time_zone,
            duration_minutes: self.duration_minutes,
            delay: self.delay,
            moderator: self.moderator,
            attendees: self.attendees,
            over_cap_reason: self.over_cap_reason,
            readers: self.readers,
            notes: String::new(),
            held_at: None,
            created_at: now,
            updated_at: now,
        }
    }

    /// The meeting changed by this plan: its sequence grows when what the invite says changed.
    pub fn reschedule(self, current: &ReviewMeeting) -> ReviewMeeting {
        let mut meeting = current.clone();
        let invite_changed = meeting.starts_at != self.starts_at
            || meeting.duration_minutes != self.duration_minutes
            || meeting.moderator != self.moderator
            || meeting
                .attendees
                .iter()
                .map(|a| a.user_id)
                .collect::<Vec<_>>()
                != self.attendees.iter().map(|a| a.user_id).collect::<Vec<_>>();
        if invite_changed {
            meeting.sequence += 1;
        }
        meeting.starts_at = self.starts_at;
        meeting.time_zone = self.time_zone;
        meeting.duration_minutes = self.duration_minutes;
        meeting.delay = self.delay;
        meeting.moderator = self.moderator;
        meeting.attendees = self.attendees;
        meeting.over_cap_reason = self.over_cap_reason;
        meeting.readers = self.readers;
        meeting
    }
}

/// Checks notes as typed.
pub fn check_notes(notes: &str) -> Result<(), ValidationErrors> {
    if notes.chars().count() > MAX_NOTES_CHARS {
        return Err(ValidationErrors::single(
            "notes",
            format!("notes are at most {MAX_NOTES_CHARS} characters"),
        ));
    }
    if notes
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(ValidationErrors::single(
            "notes",
            "notes must not contain control characters",
        ));
    }
    Ok(())
}

/// Marking a meeting held: who came.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HeldRequest {
    /// User ids of the attendees who came; the others are recorded absent.
    #[schema(value_type = Vec<i64>)]
    #[serde(default)]
    pub attended: Vec<i64>,
}

/// The meeting marked held, with attendance.
pub fn mark_held(
    current: &ReviewMeeting,
    request: &HeldRequest,
    now: Timestamp,
) -> Result<ReviewMeeting, ValidationErrors> {
    if current.status != MeetingStatus::Scheduled {
        return Err(ValidationErrors::single(
            "status",
            format!(
                "the meeting is {}; only a scheduled meeting can be held",
                current.status
            ),
        ));
    }
    let mut errors = ValidationErrors::new();
    for (position, id) in request.attended.iter().enumerate() {
        if !current.attendees.iter().any(|a| a.user_id.get() == *id) {
            errors.add(
                format!("attended[{position}]"),
                format!("user {id} is not an attendee of this meeting"),
            );
        }
    }
    errors.into_result(())?;
    let mut meeting = current.clone();
    for attendee in &mut meeting.attendees {
        attendee.attended = Some(request.attended.contains(&attendee.user_id.get()));
    }
    meeting.status = MeetingStatus::Held;
    meeting.held_at = Some(now);
    Ok(meeting)
}

/// The meeting cancelled; its sequence grows so that calendars take the cancellation.
pub fn cancel(current: &ReviewMeeting) -> Result<ReviewMeeting, ValidationErrors> {
    if current.status != MeetingStatus::Scheduled {
        return Err(ValidationErrors::single(
            "status",
            format!(
                "the meeting is {}; only a scheduled meeting can be cancelled",
                current.status
            ),
        ));
    }
    let mut meeting = current.clone();
    meeting.status = MeetingStatus::Cancelled;
    meeting.sequence += 1;
    Ok(meeting)
}

/// Who sends invites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organizer {
    pub name: String,
    pub email: String,
}

/// What the notifications of a meeting need besides the meeting.
pub struct Context<'a> {
    pub postmortem: &'a Postmortem,
    pub organizer: &'a Organizer,
    /// The public URL, for links inside the invite.
    pub public_url: &'a str,
    /// Whether any incident is private: no public announcement then.
    pub private: bool,
    pub now: Timestamp,
}

fn when(meeting: &ReviewMeeting) -> String {
    let start = meeting.local_start();
    format!(
        "{} ({}, {} minutes)",
        start.strftime("%A %-d %B %Y, %H:%M %Z"),
        meeting.time_zone,
        meeting.duration_minutes
    )
}

fn line(text: impl Into<String>, link: Option<String>) -> MessageLine {
    MessageLine {
        text: text.into(),
        link,
    }
}

/// When the meeting was held, the people who read the notes are told where they are (not for a
/// postmortem of private incidents: its readers need not be its members).
fn notes_ready(meeting: &ReviewMeeting, context: &Context) -> Option<NewNotification> {
    if context.private || meeting.readers.is_empty() {
        return None;
    }
    let title = &context.postmortem.document.title;
    let link = format!("/postmortems/{}/meeting", context.postmortem.id);
    Some(NewNotification {
        dedupe_key: format!("meeting:{}:{}:held", context.postmortem.id, meeting.uid),
        kind: NotificationKind::MeetingNotes,
        private: false,
        audience: Audience {
            people: meeting.readers.clone(),
            ..Audience::default()
        },
        message: Message {
            subject: format!("Review notes: {title}"),
            intro: format!(
                "The review meeting of \"{title}\" was held. You were not in the room; the notes \
                 and the postmortem are there to read, and questions are welcome."
            ),
            sections: Vec::new(),
            link: Some(link),
            data: serde_json::json!({
                "postmortem_id": context.postmortem.id.get(),
                "uid": meeting.uid,
                "status": meeting.status.as_str(),
            }),
            calendar: None,
        },
    })
}

/// The notifications a change of the meeting sends: the invite (or cancellation) by email to
/// everyone invited, a cancellation to anyone no longer invited, and the announcement to the
/// team's public channel. `previous` is the meeting before the change. A meeting marked held
/// tells the readers where the notes are; a change that leaves the invite as it was repeats the previous keys, which
/// the outbox keeps once.
pub fn notifications(
    meeting: &ReviewMeeting,
    previous: Option<&ReviewMeeting>,
    context: &Context,
) -> Vec<NewNotification> {
    if meeting.status == MeetingStatus::Held {
        return notes_ready(meeting, context).into_iter().collect();
    }
    let postmortem = context.postmortem;
    let title = &postmortem.document.title;
    let pre_read = format!("/postmortems/{}", postmortem.id);
    let key = format!(
        "meeting:{}:{}:{}",
        postmortem.id, meeting.uid, meeting.sequence
    );
    let mut out = Vec::new();
    let cancelled = meeting.status == MeetingStatus::Cancelled;
    let pre_read_url = format!("{}{}", context.public_url.trim_end_matches('/'), pre_read);
    // The invite with its method (a cancelled meeting cancels), for the email's content type.
    let invite = |meeting: &ReviewMeeting| CalendarPart {
        method: ics::Method::of(meeting).as_str().into(),
        ics: ics::write(&ics::Invite {
            meeting,
            title,
            organizer: context.organizer,
            pre_read: &pre_read_url,
            now: context.now,
        }),
    };
    let data = serde_json::json!({
        "postmortem_id": postmortem.id.get(),
        "uid": meeting.uid,
        "sequence": meeting.sequence,
        "status": meeting.status.as_str(),
        "starts_at": meeting.starts_at.to_string(),
        "duration_minutes": meeting.duration_minutes,
        "time_zone": meeting.time_zone,
    });
    let invitees = meeting.invitees();
    if !invitees.is_empty() {
        let subject = if cancelled {
            format!("Cancelled: postmortem review of {title}")
        } else if previous.is_some() {
            format!("Moved: postmortem review of {title}")
        } else {
            format!("Invitation: postmortem review of {title}")
        };
        out.push(NewNotification {
            dedupe_key: format!("{key}:invite"),
            kind: NotificationKind::MeetingInvite,
            private: context.private,
            audience: Audience {
                people: invitees.clone(),
                ..Audience::default()
            },
            message: Message {
                subject,
                intro: if cancelled {
                    format!(
                        "The review meeting of \"{title}\" on {} is cancelled.",
                        when(meeting)
                    )
                } else {
                    format!(
                        "You are invited to the review meeting of \"{title}\": {}. Please read the \
                         postmortem before it; the meeting is blameless.",
                        when(meeting)
                    )
                },
                sections: vec![MessageSection {
                    heading: "Pre-read".into(),
                    lines: vec![line(title.clone(), Some(pre_read.clone()))],
                }],
                link: Some(format!("{pre_read}/meeting")),
                data: data.clone(),
                calendar: Some(invite(meeting)),
            },
        });
    }
    if let Some(previous) = previous {
        let removed: Vec<Person> = previous
            .invitees()
            .into_iter()
            .filter(|person| !invitees.iter().any(|kept| kept.id == person.id))
            .collect();
        if !removed.is_empty() && !cancelled {
            // The cancellation names only them, at the meeting's new sequence (RFC 5546).
            let mut theirs = meeting.clone();
            theirs.status = MeetingStatus::Cancelled;
            theirs.moderator = previous
                .moderator
                .clone()
                .filter(|moderator| removed.iter().any(|person| person.id == moderator.id));
            theirs.attendees = previous
                .attendees
                .iter()
                .filter(|attendee| removed.iter().any(|person| person.id == attendee.user_id))
                .cloned()
                .collect();
            out.push(NewNotification {
                dedupe_key: format!("{key}:uninvite"),
                kind: NotificationKind::MeetingInvite,
                private: context.private,
                audience: Audience {
                    people: removed.clone(),
                    ..Audience::default()
                },
                message: Message {
                    subject: format!("Cancelled for you: postmortem review of {title}"),
                    intro: format!(
                        "You are no longer on the invite for the review of \"{title}\"; you can \
                         read the notes afterwards."
                    ),
                    sections: Vec::new(),
                    link: Some(pre_read.clone()),
                    data: data.clone(),
                    calendar: Some(invite(&theirs)),
                },
            });
        }
    }
    let announce_changed = previous.is_none_or(|previous| {
        previous.starts_at != meeting.starts_at || previous.status != meeting.status
    });
    if !context.private && announce_changed && meeting.status != MeetingStatus::Held {
        let names = |list: Vec<String>| {
            if list.is_empty() {
                "nobody yet".to_owned()
            } else {
                list.join(", ")
            }
        };
        let intro = if cancelled {
            format!(
                "The review meeting of \"{title}\" on {} is cancelled.",
                when(meeting)
            )
        } else {
            format!(
                "Postmortem review of \"{title}\": {}. The pre-read is the postmortem. Anyone may \
                 read the notes afterwards.",
                when(meeting)
            )
        };
        out.push(NewNotification {
            dedupe_key: format!("{key}:announce"),
            kind: NotificationKind::MeetingAnnouncement,
            private: false,
            audience: Audience {
                teams: meeting.team.iter().cloned().collect(),
                broadcast: meeting.team.is_none(),
                ..Audience::default()
            },
            message: Message {
                subject: if cancelled {
                    format!("Review cancelled: {title}")
                } else {
                    format!("Review meeting: {title}")
                },
                intro,
                sections: vec![MessageSection {
                    heading: "Who".into(),
                    lines: vec![
                        line(
                            format!(
                                "Attending: {}",
                                names(meeting.attendees.iter().map(|a| a.name.clone()).collect())
                            ),
                            None,
                        ),
                        line(
                            format!(
                                "Moderator: {}",
                                meeting
                                    .moderator
                                    .as_ref()
                                    .map_or("to be found".into(), |m| m.name.clone())
                            ),
                            None,
                        ),
                        line("Everyone else: read the notes", Some(pre_read.clone())),
                    ],
                }],
                link: Some(pre_read),
                data,
                calendar: None,
            },
        });
    }
    out
}
