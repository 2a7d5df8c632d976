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
//! the moderators' history and the time. `rules` reads each team's rules from the configuration,
//! `schedule` checks a request to schedule, move, hold or cancel, `invites` says what each change
//! sends, and [`ics`] writes the calendar invite.

pub mod ics;
mod invites;
mod rules;
mod schedule;
#[cfg(test)]
mod tests;

pub use invites::*;
pub use rules::*;
pub use schedule::*;

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
