use super::*;
use crate::access::{TeamId, TeamMember};
use crate::document::PostmortemDocument;
use crate::incident::IncidentId;
use crate::postmortem::PostmortemStatus;
use crate::timeline::EventId;
use jiff::civil::date;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn user(id: i64) -> UserId {
    UserId::new(id).unwrap()
}

fn rules(zone: &str, holidays: &[Date]) -> MeetingRules {
    MeetingRules {
        time_zone: TimeZone::get(zone).unwrap(),
        time_zone_name: zone.into(),
        holidays: holidays.iter().copied().collect(),
        ..MeetingRules::default()
    }
}

/// The proposed start, shown in the zone as `2026-11-23T10:00:00+00:00[Europe/London]`.
fn start(resolved: &str, zone: &str, holidays: &[Date]) -> String {
    propose_start(at(resolved), 0, &rules(zone, holidays)).to_string()
}

#[test]
fn a_friday_afternoon_resolution_is_reviewed_on_monday_at_the_meeting_hour() {
    assert_eq!(
        start("2026-11-20T15:30:00Z", "Europe/London", &[]),
        "2026-11-23T10:00:00+00:00[Europe/London]"
    );
}

#[test]
fn a_holiday_monday_moves_the_review_to_tuesday() {
    // Easter Monday 2026 is 6 April.
    assert_eq!(
        start("2026-04-03T14:00:00Z", "Europe/London", &[date(2026, 4, 6)]),
        "2026-04-07T10:00:00+01:00[Europe/London]"
    );
}

#[test]
fn a_resolution_the_evening_before_a_holiday_counts_the_local_day_not_the_utc_one() {
    // 23:30 on Christmas Eve in New York is already the 25th in UTC. The local day is the 24th,
    // the 25th is a holiday, so the review is on Monday the 28th; counting the UTC day would skip
    // nothing more and give the same Monday only by luck, so the 26th being a Saturday matters:
    // the check below is the first business day after the local day.
    assert_eq!(
        start(
            "2026-12-25T04:30:00Z",
            "America/New_York",
            &[date(2026, 12, 25)]
        ),
        "2026-12-28T10:00:00-05:00[America/New_York]"
    );
    // A Wednesday evening before a Thursday holiday: Friday, not Thursday.
    assert_eq!(
        start(
            "2026-11-26T02:00:00Z",
            "America/New_York",
            &[date(2026, 11, 26)]
        ),
        "2026-11-27T10:00:00-05:00[America/New_York]"
    );
}

#[test]
fn the_meeting_keeps_its_local_hour_across_the_autumn_daylight_saving_change() {
    // London leaves summer time on Sunday 25 October 2026: the Friday is UTC+1, the Monday UTC+0.
    let monday = propose_start(at("2026-10-23T15:00:00Z"), 0, &rules("Europe/London", &[]));
    assert_eq!(
        monday.to_string(),
        "2026-10-26T10:00:00+00:00[Europe/London]"
    );
    assert_eq!(monday.timestamp(), at("2026-10-26T10:00:00Z"));
    // New York leaves it a week later, on Sunday 1 November.
    let monday = propose_start(
        at("2026-10-30T20:00:00Z"),
        0,
        &rules("America/New_York", &[]),
    );
    assert_eq!(monday.timestamp(), at("2026-11-02T15:00:00Z"));
    // A week before, the same local hour was 14:00 UTC.
    let before = propose_start(
        at("2026-10-23T20:00:00Z"),
        0,
        &rules("America/New_York", &[]),
    );
    assert_eq!(before.timestamp(), at("2026-10-26T14:00:00Z"));
}

#[test]
fn the_meeting_keeps_its_local_hour_across_the_spring_daylight_saving_change() {
    // New York enters summer time on Sunday 8 March 2026, London on Sunday 29 March.
    let ny = propose_start(
        at("2026-03-06T21:00:00Z"),
        0,
        &rules("America/New_York", &[]),
    );
    assert_eq!(ny.timestamp(), at("2026-03-09T14:00:00Z"));
    let london = propose_start(at("2026-03-27T16:00:00Z"), 0, &rules("Europe/London", &[]));
    assert_eq!(london.timestamp(), at("2026-03-30T09:00:00Z"));
}

#[test]
fn a_delay_for_investigation_counts_business_days_and_skips_holidays() {
    let rules = rules("Europe/London", &[date(2026, 11, 25)]);
    // Resolved Friday 20th: Monday 23rd, then two business days (Tuesday, Thursday: the
    // Wednesday is a holiday).
    let delayed = propose_start(at("2026-11-20T15:00:00Z"), 2, &rules);
    assert_eq!(delayed.date(), date(2026, 11, 26));
}

#[test]
fn configured_working_days_replace_the_weekend() {
    let mut rules = rules("Asia/Dubai", &[]);
    rules.working_days = vec![
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
    ];
    // Resolved on a Thursday: Friday to Sunday are off, so Monday.
    let start = propose_start(at("2026-11-19T12:00:00Z"), 0, &rules);
    assert_eq!(start.date(), date(2026, 11, 23));
}

fn person(id: i64, name: &str) -> Person {
    Person {
        id: user(id),
        name: name.into(),
        email: format!("{}@example.com", name.to_lowercase()),
    }
}

fn people() -> Vec<Person> {
    [
        "Ada", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Mo", "Nia", "Cs", "Pm",
    ]
    .iter()
    .enumerate()
    .map(|(index, name)| person(index as i64 + 1, name))
    .collect()
}

fn incident(json: serde_json::Value) -> Incident {
    let mut base = serde_json::json!({
        "id": 1, "title": "Checkout errors", "summary": "", "severity": "SEV2", "status": "resolved",
        "services": ["checkout"], "started_at": "2026-11-20T12:00:00Z", "detected_at": null,
        "acknowledged_at": null, "mitigated_at": null, "resolved_at": "2026-11-20T15:30:00Z",
        "detection": null, "cause_origin": null,
        "impact": {"user_visible_minutes": null, "users_affected": null, "requests_failed": null,
                   "data_loss": false, "security_breach": false, "business": {}},
        "owner": "Ada", "tags": [], "private": false, "members": {"users": [], "teams": []},
        "created_at": "2026-11-20T12:00:00Z", "updated_at": "2026-11-20T12:00:00Z"
    });
    for (key, value) in json.as_object().unwrap() {
        base[key] = value.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn event(id: i64, kind: &str, source: &str, author: &str) -> TimelineEvent {
    serde_json::from_value(serde_json::json!({
        "id": id, "incident_id": 1, "kind": kind, "occurred_at": "2026-11-20T12:30:00Z",
        "text": "", "key": false, "link": null, "source": source, "author": author,
        "external_id": null, "holds": null,
        "created_at": "2026-11-20T12:30:00Z", "updated_at": "2026-11-20T12:30:00Z"
    }))
    .unwrap()
}

fn postmortem(owner: Option<i64>) -> Postmortem {
    Postmortem {
        id: PostmortemId::new(7).unwrap(),
        version: 1,
        status: PostmortemStatus::Draft,
        document: PostmortemDocument {
            title: "Checkout errors, 20 November".into(),
            incidents: vec![IncidentId::new(1).unwrap()],
            template: "standard".into(),
            owner: owner.map(user),
            ..PostmortemDocument::default()
        },
        created_at: at("2026-11-20T16:00:00Z"),
        updated_at: at("2026-11-20T16:00:00Z"),
    }
}

fn settings() -> MeetingSettings {
    MeetingSettings {
        organizer: None,
        default: MeetingRules {
            moderators: vec![
                "mo@example.com".into(),
                "nia@example.com".into(),
                "ada@example.com".into(),
            ],
            customer_success: vec!["cs@example.com".into()],
            product: vec!["pm@example.com".into()],
            ..MeetingRules::default()
        },
        teams: BTreeMap::new(),
    }
}

struct World {
    postmortem: Postmortem,
    incidents: Vec<Incident>,
    events: Vec<TimelineEvent>,
    people: Vec<Person>,
    teams: Vec<Team>,
    moderated: BTreeMap<UserId, Timestamp>,
}

impl World {
    fn new(incident: Incident, events: Vec<TimelineEvent>) -> Self {
        Self {
            postmortem: postmortem(None),
            incidents: vec![incident],
            events,
            people: people(),
            teams: Vec::new(),
            moderated: BTreeMap::new(),
        }
    }

    fn facts(&self) -> Facts<'_> {
        Facts {
            postmortem: &self.postmortem,
            incidents: &self.incidents,
            events: &self.events,
            people: &self.people,
            teams: &self.teams,
            moderated: &self.moderated,
            now: at("2026-11-20T16:00:00Z"),
        }
    }
}

fn names(attendees: &[Attendee]) -> Vec<(String, AttendeeRole)> {
    attendees.iter().map(|a| (a.name.clone(), a.role)).collect()
}

#[test]
fn attendees_are_the_owner_the_engineer_on_duty_and_the_responders_by_activity() {
    let world = World::new(
        incident(serde_json::json!({})),
        vec![
            event(1, "alerted", "alert", "alertmanager"),
            event(2, "acknowledged", "manual", "bo@example.com"),
            event(3, "investigating", "chat", "Cy"),
            event(4, "communication", "chat", "Di"),
            event(5, "mitigated", "chat", "Di"),
            event(6, "investigating", "manual", "Somebody Unknown"),
        ],
    );
    let proposal = propose(&world.facts(), &settings(), 0);
    assert_eq!(
        names(&proposal.attendees),
        vec![
            ("Ada".into(), AttendeeRole::Owner),
            ("Bo".into(), AttendeeRole::OnDuty),
            ("Di".into(), AttendeeRole::Responder),
            ("Cy".into(), AttendeeRole::Responder),
        ]
    );
    assert_eq!(proposal.unmatched, vec!["Somebody Unknown".to_owned()]);
    assert_eq!(
        proposal.duration_minutes, 30,
        "{}",
        proposal.duration_reason
    );
    assert_eq!(proposal.local_start, "2026-11-23T10:00:00+00:00[UTC]");
}

#[test]
fn customer_success_and_product_join_when_customers_were_affected_within_the_cap() {
    let world = World::new(
        incident(
            serde_json::json!({"impact": {"user_visible_minutes": 40, "users_affected": 1200,
            "requests_failed": null, "data_loss": false, "security_breach": false, "business": {}}}),
        ),
        ["Bo", "Cy", "Di", "Ed", "Flo", "Gus"]
            .iter()
            .enumerate()
            .map(|(i, name)| event(i as i64 + 1, "investigating", "chat", name))
            .collect(),
    );
    let proposal = propose(&world.facts(), &settings(), 0);
    assert!(proposal.customers_affected);
    assert_eq!(proposal.attendees.len(), MAX_ATTENDEES);
    let roles: Vec<AttendeeRole> = proposal.attendees.iter().map(|a| a.role).collect();
    assert_eq!(
        roles,
        vec![
            AttendeeRole::Owner,
            AttendeeRole::CustomerSuccess,
            AttendeeRole::Product,
            AttendeeRole::Responder,
            AttendeeRole::Responder,
            AttendeeRole::Responder,
        ]
    );
    // The responders beyond the cap read the notes.
    let readers: Vec<&str> = proposal.readers.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(readers, vec!["Ed", "Flo", "Gus"]);
}

#[test]
fn a_postmortem_taken_up_late_is_proposed_from_now_not_in_the_past() {
    // Resolved on Tuesday 10 November; the proposal is made on Friday 20 November at 16:00.
    let world = World::new(
        incident(serde_json::json!({"resolved_at": "2026-11-10T12:00:00Z"})),
        Vec::new(),
    );
    let proposal = propose(&world.facts(), &settings(), 0);
    assert_eq!(proposal.starts_at, at("2026-11-23T10:00:00Z"));
}

#[test]
fn a_mild_single_service_incident_without_customers_gets_fifteen_minutes() {
    let world = World::new(
        incident(serde_json::json!({"severity": "SEV3"})),
        Vec::new(),
    );
    let proposal = propose(&world.facts(), &settings(), 0);
    assert_eq!(proposal.duration_minutes, 15);
    let world = World::new(
        incident(serde_json::json!({"severity": "SEV4", "services": ["a", "b"]})),
        Vec::new(),
    );
    let (minutes, why) = duration(&world.incidents, &settings().default);
    assert_eq!(
        (minutes, why.as_str()),
        (30, "Not straightforward: 2 services.")
    );
}

#[test]
fn a_seventh_attendee_is_refused_unless_an_editor_gives_a_reason() {
    let world = World::new(incident(serde_json::json!({})), Vec::new());
    let facts = world.facts();
    let proposal = propose(&facts, &settings(), 0);
    let seven = MeetingRequest {
        attendees: Some((1..=7).collect()),
        ..MeetingRequest::default()
    };
    let refused = apply(&seven, &proposal, None, &facts, &settings()).unwrap_err();
    let message = refused.message_for("attendees").unwrap();
    assert!(
        message.starts_with("7 attendees is more than 6"),
        "{message}"
    );
    let allowed = MeetingRequest {
        over_cap_reason: Some("Two teams shared the on-call".into()),
        ..seven
    };
    let plan = apply(&allowed, &proposal, None, &facts, &settings()).unwrap();
    assert_eq!(plan.attendees.len(), 7);
    assert_eq!(
        plan.over_cap_reason.as_deref(),
        Some("Two teams shared the on-call")
    );
}

#[test]
fn the_moderator_is_never_someone_involved_and_rotates_to_the_least_recent() {
    // Ada owns the incident and is in the pool; Mo and Nia are free.
    let mut world = World::new(
        incident(serde_json::json!({})),
        vec![event(1, "investigating", "chat", "Nia")],
    );
    let proposal = propose(&world.facts(), &settings(), 0);
    assert_eq!(proposal.moderator.as_ref().unwrap().name, "Mo");
    let candidates: Vec<&str> = proposal
        .moderator_candidates
        .iter()
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(candidates, vec!["Mo"], "Nia responded and Ada owns it");

    world.events.clear();
    world.moderated.insert(user(9), at("2026-11-01T10:00:00Z"));
    let proposal = propose(&world.facts(), &settings(), 0);
    assert_eq!(
        proposal.moderator.as_ref().unwrap().name,
        "Nia",
        "Mo moderated last"
    );
    world.moderated.insert(user(10), at("2026-10-01T10:00:00Z"));
    let proposal = propose(&world.facts(), &settings(), 0);
    assert_eq!(
        proposal.moderator.as_ref().unwrap().name,
        "Nia",
        "Nia's turn was longer ago"
    );
}

#[test]
fn a_moderator_changed_by_hand_must_be_in_the_pool_and_not_involved() {
    let world = World::new(incident(serde_json::json!({})), Vec::new());
    let facts = world.facts();
    let proposal = propose(&facts, &settings(), 0);
    let pick = |id| MeetingRequest {
        moderator: Some(id),
        ..MeetingRequest::default()
    };
    let owner = apply(&pick(1), &proposal, None, &facts, &settings()).unwrap_err();
    assert!(
        owner
            .message_for("moderator")
            .unwrap()
            .contains("Ada is involved")
    );
    let outsider = apply(&pick(2), &proposal, None, &facts, &settings()).unwrap_err();
    assert!(
        outsider
            .message_for("moderator")
            .unwrap()
            .contains("not in the moderator pool")
    );
    let nia = apply(&pick(10), &proposal, None, &facts, &settings()).unwrap();
    assert_eq!(nia.moderator.unwrap().name, "Nia");
    // Adding the moderator as an attendee is refused too.
    let both = MeetingRequest {
        moderator: Some(10),
        attendees: Some(vec![1, 10]),
        ..MeetingRequest::default()
    };
    assert!(apply(&both, &proposal, None, &facts, &settings()).is_err());
}

#[test]
fn a_delay_needs_a_reason_and_moves_the_start_by_business_days() {
    let world = World::new(incident(serde_json::json!({})), Vec::new());
    let facts = world.facts();
    let proposal = propose(&facts, &settings(), 0);
    let no_reason = MeetingRequest {
        delay_days: Some(2),
        ..MeetingRequest::default()
    };
    let refused = apply(&no_reason, &proposal, None, &facts, &settings()).unwrap_err();
    assert!(refused.message_for("delay_reason").is_some());
    let delayed = MeetingRequest {
        delay_days: Some(2),
        delay_reason: Some("Root cause still under investigation".into()),
        ..MeetingRequest::default()
    };
    let plan = apply(&delayed, &proposal, None, &facts, &settings()).unwrap();
    assert_eq!(plan.starts_at, at("2026-11-25T10:00:00Z"));
    let past = MeetingRequest {
        starts_at: Some("2026-11-19T10:00".into()),
        ..MeetingRequest::default()
    };
    assert!(apply(&past, &proposal, None, &facts, &settings()).is_err());
}

fn meeting() -> ReviewMeeting {
    let world = World::new(
        incident(serde_json::json!({})),
        vec![event(1, "acknowledged", "manual", "Bo")],
    );
    let facts = world.facts();
    let proposal = propose(&facts, &settings(), 0);
    apply(
        &MeetingRequest::default(),
        &proposal,
        None,
        &facts,
        &settings(),
    )
    .unwrap()
    .schedule(
        PostmortemId::new(7).unwrap(),
        "1795190400000000",
        "hindsight.example.com",
        at("2026-11-20T16:00:00Z"),
    )
}

#[test]
fn rescheduling_bumps_the_sequence_and_keeps_the_uid() {
    let first = meeting();
    let world = World::new(incident(serde_json::json!({})), Vec::new());
    let facts = world.facts();
    let proposal = propose(&facts, &settings(), 0);
    let moved = apply(
        &MeetingRequest {
            starts_at: Some("2026-11-24T14:00".into()),
            ..MeetingRequest::default()
        },
        &proposal,
        Some(&first),
        &facts,
        &settings(),
    )
    .unwrap()
    .reschedule(&first);
    assert_eq!(
        (moved.uid.as_str(), moved.sequence),
        (first.uid.as_str(), 1)
    );
    assert_eq!(moved.starts_at, at("2026-11-24T14:00:00Z"));
    let cancelled = cancel(&moved).unwrap();
    assert_eq!(
        (cancelled.sequence, cancelled.status),
        (2, MeetingStatus::Cancelled)
    );
    assert!(cancel(&cancelled).is_err());
}

#[test]
fn marking_a_meeting_held_records_who_came() {
    let meeting = meeting();
    let held = mark_held(
        &meeting,
        &HeldRequest { attended: vec![1] },
        at("2026-11-23T10:40:00Z"),
    )
    .unwrap();
    let attendance: Vec<(String, Option<bool>)> = held
        .attendees
        .iter()
        .map(|a| (a.name.clone(), a.attended))
        .collect();
    assert_eq!(
        attendance,
        vec![("Ada".into(), Some(true)), ("Bo".into(), Some(false))]
    );
    assert!(
        mark_held(
            &meeting,
            &HeldRequest { attended: vec![12] },
            at("2026-11-23T10:40:00Z")
        )
        .is_err()
    );
    assert!(mark_held(&held, &HeldRequest::default(), at("2026-11-23T10:40:00Z")).is_err());
    let organizer = organizer();
    let postmortem = postmortem(Some(1));
    let context = Context {
        postmortem: &postmortem,
        organizer: &organizer,
        public_url: "https://hindsight.example.com",
        private: false,
        now: at("2026-11-23T10:40:00Z"),
    };
    // Nobody is invited again; the readers hear where the notes are.
    let mut with_readers = held.clone();
    with_readers.readers = vec![person(3, "Cy")];
    let sent = notifications(&with_readers, Some(&meeting), &context);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].kind, NotificationKind::MeetingNotes);
    assert_eq!(sent[0].audience.people[0].name, "Cy");
    assert!(sent[0].message.calendar.is_none());
    assert!(notifications(&held, Some(&meeting), &context).is_empty());
}

#[test]
fn the_invite_is_emailed_to_everyone_invited_and_announced_to_the_team() {
    let mut meeting = meeting();
    meeting.team = Some("payments".into());
    let organizer = organizer();
    let postmortem = postmortem(Some(1));
    let context = Context {
        postmortem: &postmortem,
        organizer: &organizer,
        public_url: "https://hindsight.example.com",
        private: false,
        now: at("2026-11-20T16:00:00Z"),
    };
    let sent = notifications(&meeting, None, &context);
    assert_eq!(sent.len(), 2);
    let invite = &sent[0];
    assert_eq!(invite.kind, NotificationKind::MeetingInvite);
    let emails: Vec<&str> = invite
        .audience
        .people
        .iter()
        .map(|p| p.email.as_str())
        .collect();
    assert_eq!(
        emails,
        vec!["mo@example.com", "ada@example.com", "bo@example.com"]
    );
    let calendar = invite.message.calendar.as_ref().unwrap();
    assert_eq!(calendar.method, "REQUEST");
    assert!(
        calendar
            .ics
            .contains("ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=CHAIR")
    );
    let announcement = &sent[1];
    assert_eq!(announcement.audience.teams, vec!["payments".to_owned()]);
    assert!(
        announcement
            .message
            .intro
            .contains("Anyone may read the notes")
    );
    assert!(
        announcement
            .message
            .intro
            .contains("Monday 23 November 2026, 10:00 UTC")
    );

    // A private postmortem is not announced.
    let private = Context {
        private: true,
        ..context
    };
    let sent = notifications(&meeting, None, &private);
    assert_eq!(sent.len(), 1);
    assert!(sent[0].private);
}

#[test]
fn an_attendee_dropped_on_reschedule_gets_a_cancellation_of_their_own() {
    let first = meeting();
    let mut second = first.clone();
    second.attendees.retain(|a| a.name != "Bo");
    second.sequence += 1;
    let organizer = organizer();
    let postmortem = postmortem(Some(1));
    let context = Context {
        postmortem: &postmortem,
        organizer: &organizer,
        public_url: "https://hindsight.example.com",
        private: false,
        now: at("2026-11-21T09:00:00Z"),
    };
    let sent = notifications(&second, Some(&first), &context);
    let uninvite = sent
        .iter()
        .find(|n| n.dedupe_key.ends_with(":uninvite"))
        .unwrap();
    assert_eq!(uninvite.audience.people.len(), 1);
    let ics = uninvite
        .message
        .calendar
        .as_ref()
        .unwrap()
        .ics
        .replace("\r\n ", "");
    assert!(ics.contains("METHOD:CANCEL") && ics.contains("mailto:bo@example.com"));
    assert!(!ics.contains("mailto:ada@example.com\r\n"));
    // Same start: nothing to announce again.
    assert!(!sent.iter().any(|n| n.dedupe_key.ends_with(":announce")));
}

fn organizer() -> Organizer {
    Organizer {
        name: "Hindsight".into(),
        email: "reviews@example.com".into(),
    }
}

const INVITE_SNAPSHOT: &str = include_str!("invite.snapshot.ics");

fn invite_ics(zone: &str) -> String {
    let mut meeting = meeting();
    meeting.time_zone = zone.into();
    meeting.starts_at = at("2026-10-26T10:00:00Z");
    let organizer = Organizer {
        name: "Hindsight, reviews".into(),
        email: "reviews@example.com".into(),
    };
    ics::write(&ics::Invite {
        meeting: &meeting,
        title: "Checkout errors; 20 November, card payments \\ the long title that needs folding",
        organizer: &organizer,
        pre_read: "https://hindsight.example.com/postmortems/7",
        now: at("2026-11-20T16:00:00Z"),
    })
}

#[test]
fn the_invite_matches_its_snapshot() {
    let ics = invite_ics("Europe/London");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/src/meeting/invite.snapshot.ics"
            ),
            &ics,
        )
        .unwrap();
    }
    assert_eq!(ics, INVITE_SNAPSHOT);
}

#[test]
fn every_invite_line_is_at_most_75_octets_and_ends_in_crlf() {
    let ics = invite_ics("America/New_York");
    assert!(ics.ends_with("\r\n"));
    for line in ics.split("\r\n") {
        assert!(line.len() <= 75, "{line}");
        assert!(!line.contains('\n'));
    }
    assert!(ics.contains("DTSTART;TZID=America/New_York:20261026T060000"));
    assert!(ics.contains(
        "BEGIN:STANDARD\r\nDTSTART:20261101T020000\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500"
    ));
}

#[test]
fn holidays_are_read_from_a_calendar_file() {
    let file = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//gov.uk//bank holidays//EN\r\n\
        BEGIN:VEVENT\r\nDTEND;VALUE=DATE:20261226\r\nDTSTART;VALUE=DATE:20261225\r\n\
        SUMMARY:Christmas Day\r\nUID:a@gov.uk\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20261228\r\nSUMMARY:Boxing Day (substitute \r\n day)\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20270101\r\nDTEND;VALUE=DATE:20270103\r\nSUMMARY:New Year\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nDTSTART;VALUE=DATE:20260704\r\nRRULE:FREQ=YEARLY;COUNT=2\r\nSUMMARY:Fourth\r\nEND:VEVENT\r\n\
        END:VCALENDAR\r\n";
    let dates: Vec<String> = ics::holidays(file)
        .unwrap()
        .iter()
        .map(Date::to_string)
        .collect();
    assert_eq!(
        dates,
        vec![
            "2026-07-04",
            "2026-12-25",
            "2026-12-28",
            "2027-01-01",
            "2027-01-02",
            "2027-07-04"
        ]
    );
}

#[test]
fn a_file_that_is_not_a_holiday_calendar_is_refused_with_the_line() {
    assert!(
        ics::holidays("hello")
            .unwrap_err()
            .contains("BEGIN:VCALENDAR")
    );
    let bad = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:2026-12-25\nEND:VEVENT\nEND:VCALENDAR\n";
    assert!(ics::holidays(bad).unwrap_err().starts_with("line 3:"));
    let weekly = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261225\nRRULE:FREQ=WEEKLY\nEND:VEVENT\nEND:VCALENDAR\n";
    assert!(ics::holidays(weekly).unwrap_err().contains("not supported"));
    let open = "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:20261225\n";
    assert!(ics::holidays(open).unwrap_err().contains("not closed"));
}

#[test]
fn team_rules_inherit_the_default_table_and_report_every_bad_field() {
    let file: MeetingsFile = toml::from_str(
        r#"
        [default]
        time_zone = "Europe/London"
        at = "11:30"
        holidays = ["2026-12-25"]
        [teams.payments]
        time_zone = "America/New_York"
        [teams.broken]
        time_zone = "Mars/Olympus"
        at = "25:00"
        working_days = ["funday"]
        short_minutes = 1
        "#,
    )
    .unwrap();
    let refused = file.validate(&|_| Err("unused".into())).unwrap_err();
    for field in [
        "meetings.teams.broken.time_zone",
        "meetings.teams.broken.at",
        "meetings.teams.broken.working_days",
        "meetings.teams.broken.short_minutes",
    ] {
        assert!(refused.message_for(field).is_some(), "{field}: {refused:?}");
    }
    let mut file = file;
    file.teams.remove("broken");
    let settings = file.validate(&|_| Err("unused".into())).unwrap();
    let payments = settings.rules_for(Some("payments"));
    assert_eq!(payments.time_zone_name, "America/New_York");
    assert_eq!(payments.at, Time::constant(11, 30, 0, 0));
    assert!(payments.holidays.contains(&date(2026, 12, 25)));
    assert_eq!(
        settings.rules_for(Some("other")).time_zone_name,
        "Europe/London"
    );
}

#[test]
fn the_team_is_the_postmortem_owners_team_with_rules_of_its_own() {
    let mut world = World::new(incident(serde_json::json!({})), Vec::new());
    world.postmortem = postmortem(Some(2));
    let team = |id: i64, name: &str, members: &[i64]| Team {
        id: TeamId::new(id).unwrap(),
        name: name.into(),
        members: members
            .iter()
            .map(|m| TeamMember {
                user_id: user(*m),
                is_lead: false,
            })
            .collect(),
        created_at: at("2026-01-01T00:00:00Z"),
        updated_at: at("2026-01-01T00:00:00Z"),
    };
    world.teams = vec![team(1, "platform", &[2]), team(2, "payments", &[2, 3])];
    let mut settings = settings();
    settings.teams.insert(
        "payments".into(),
        MeetingRules {
            time_zone: TimeZone::get("America/New_York").unwrap(),
            time_zone_name: "America/New_York".into(),
            ..settings.default.clone()
        },
    );
    let proposal = propose(&world.facts(), &settings, 0);
    assert_eq!(proposal.team.as_deref(), Some("payments"));
    assert_eq!(proposal.time_zone, "America/New_York");
    // Cy, a payments member not involved, reads the notes.
    assert!(proposal.readers.iter().any(|r| r.name == "Cy"));
    let _ = EventId::new(1);
}
