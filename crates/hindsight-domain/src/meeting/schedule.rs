//! Scheduling, moving, holding and cancelling a meeting: a request checked against the proposal and the meeting as it stands.

use super::*;

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
