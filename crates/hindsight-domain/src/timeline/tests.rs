use super::*;
use crate::IncidentDraft;

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

const NOW: &str = "2026-11-21T18:00:00Z";

fn incident(detected_at: Option<&str>, resolved_at: Option<&str>) -> Incident {
    let content = IncidentDraft {
        title: Some("Checkout errors".into()),
        severity: Some("SEV2".into()),
        started_at: Some("2026-11-20T12:20:00Z".into()),
        detected_at: detected_at.map(str::to_owned),
        resolved_at: resolved_at.map(str::to_owned),
        ..Default::default()
    }
    .validate(at(NOW))
    .unwrap()
    .into_content();
    Incident {
        id: IncidentId::new(1).unwrap(),
        content,
        created_at: at("2026-11-20T14:00:00Z"),
        updated_at: at("2026-11-20T14:00:00Z"),
    }
}

/// Stores a write the way a store would: the incident's new content, events numbered on.
fn apply(incident: &mut Incident, events: &mut Vec<TimelineEvent>, write: TimelineWrite) {
    if let Some(content) = write.incident {
        incident.content = content.into_content();
    }
    events.retain(|event| !write.delete.contains(&event.id));
    for updated in write.update {
        let slot = events.iter_mut().find(|e| e.id == updated.id).unwrap();
        *slot = updated;
    }
    for new in write.insert {
        let id = EventId::new(events.iter().map(|e| e.id.get()).max().unwrap_or(0) + 1).unwrap();
        events.push(TimelineEvent {
            id,
            incident_id: incident.id,
            content: new.content,
            source: new.source,
            author: new.author,
            external_id: new.external_id,
            holds: new.holds,
            created_at: at(NOW),
            updated_at: at(NOW),
        });
    }
}

fn manual(kind: EventKind, time: &str, text: &str) -> NewEvent {
    NewEvent {
        content: EventContent {
            kind,
            occurred_at: at(time),
            text: text.into(),
            key: false,
            link: None,
        },
        source: EventSource::Manual,
        author: Some("Ada".into()),
        external_id: None,
        holds: None,
    }
}

fn holders(events: &[TimelineEvent]) -> Vec<(KeyTime, EventSource, Timestamp)> {
    let mut held: Vec<_> = events
        .iter()
        .filter_map(|e| e.holds.map(|key| (key, e.source, e.content.occurred_at)))
        .collect();
    held.sort();
    held
}

/// Adds one event that may set its key time, and stores the write.
fn add(incident: &mut Incident, events: &mut Vec<TimelineEvent>, event: NewEvent) {
    let write = add_events(incident, events, vec![(event, true)], at(NOW)).unwrap();
    apply(incident, events, write);
}

/// Creates an incident's timeline as the store does on create.
fn created(detected_at: Option<&str>, resolved_at: Option<&str>) -> (Incident, Vec<TimelineEvent>) {
    let mut incident = incident(detected_at, resolved_at);
    let mut events = Vec::new();
    let write = record_incident_change(None, &incident.content.clone(), &[], Some("Ada"), at(NOW));
    apply(&mut incident, &mut events, write);
    (incident, events)
}

#[test]
fn seed_003s_example_timeline_gives_one_hour_fifty_minutes_to_detect() {
    // Seed 003: error introduced 12:20, reported 14:10, investigation 14:35, root cause 15:15,
    // fix 15:17, recovery confirmed 15:25.
    let (mut incident, mut events) = created(None, None);
    let write = add_events(
        &incident,
        &events,
        vec![
            (
                manual(
                    EventKind::Reported,
                    "2026-11-20T14:10:00Z",
                    "A customer wrote in",
                ),
                true,
            ),
            (
                manual(EventKind::Investigating, "2026-11-20T14:35:00Z", "On it"),
                true,
            ),
            (
                manual(
                    EventKind::RootCauseIdentified,
                    "2026-11-20T15:15:00Z",
                    "Bad config",
                ),
                true,
            ),
            (
                manual(EventKind::Fixed, "2026-11-20T15:17:00Z", "Reverted"),
                true,
            ),
            (
                manual(
                    EventKind::Resolved,
                    "2026-11-20T15:25:00Z",
                    "Recovery confirmed",
                ),
                true,
            ),
        ],
        at(NOW),
    )
    .unwrap();
    apply(&mut incident, &mut events, write);
    assert_eq!(
        incident.content.detected_at,
        Some(at("2026-11-20T14:10:00Z"))
    );
    assert_eq!(
        incident.content.resolved_at,
        Some(at("2026-11-20T15:25:00Z"))
    );

    let metrics = Metrics::of(&incident.content, &events);
    assert_eq!(format_duration(metrics.time_to_detect), "1 h 50 min");
    assert_eq!(format_duration(metrics.time_to_root_cause), "1 h 5 min");
    assert_eq!(format_duration(metrics.time_to_resolve), "1 h 15 min");
    assert_eq!(format_duration(metrics.time_to_acknowledge), "unknown");
    assert_eq!(format_duration(metrics.time_to_mitigate), "unknown");
    assert_eq!(
        format_duration(metrics.time_to_fix),
        "1 h 7 min",
        "detection to the revert"
    );
    assert_eq!(format_duration(metrics.impact_window), "3 h 5 min");
    assert_eq!(
        incident.content.status,
        crate::incident::IncidentStatus::Resolved,
        "the resolution resolved it"
    );
}

#[test]
fn a_missing_or_backwards_time_gives_unknown_never_a_number() {
    let metrics = Metrics::from_times(KeyTimes {
        started: Some(at("2026-11-20T12:00:00Z")),
        detected: None,
        acknowledged: Some(at("2026-11-20T12:10:00Z")),
        root_cause: Some(at("2026-11-20T11:00:00Z")),
        fixed: None,
        mitigated: None,
        resolved: Some(at("2026-11-22T14:00:00Z")),
    });
    assert_eq!(metrics.time_to_detect, None);
    assert_eq!(metrics.time_to_acknowledge, None);
    assert_eq!(metrics.time_to_resolve, None);
    assert_eq!(format_duration(metrics.impact_window), "2 d 2 h");
    let backwards = Metrics::from_times(KeyTimes {
        started: Some(at("2026-11-20T12:00:00Z")),
        detected: Some(at("2026-11-20T13:00:00Z")),
        root_cause: Some(at("2026-11-20T12:30:00Z")),
        ..Default::default()
    });
    assert_eq!(backwards.time_to_root_cause, None);
    assert_eq!(format_duration(backwards.time_to_detect), "1 h");
}

#[test]
fn every_key_time_set_on_a_new_incident_is_on_its_timeline_once() {
    let (_, events) = created(Some("2026-11-20T14:10:00Z"), None);
    assert_eq!(
        holders(&events),
        vec![
            (
                KeyTime::Started,
                EventSource::System,
                at("2026-11-20T12:20:00Z")
            ),
            (
                KeyTime::Detected,
                EventSource::System,
                at("2026-11-20T14:10:00Z")
            ),
        ]
    );
}

#[test]
fn a_resolved_event_sets_resolved_at_unless_its_writer_says_otherwise() {
    let (incident, events) = created(None, None);
    let write = add_events(
        &incident,
        &events,
        vec![(
            manual(EventKind::Resolved, "2026-11-20T16:00:00Z", "Back"),
            false,
        )],
        at(NOW),
    )
    .unwrap();
    assert!(write.incident.is_none());
    assert_eq!(write.insert[0].holds, None);

    let write = add_events(
        &incident,
        &events,
        vec![(
            manual(EventKind::Resolved, "2026-11-20T16:00:00Z", "Back"),
            true,
        )],
        at(NOW),
    )
    .unwrap();
    assert_eq!(
        write.incident.unwrap().resolved_at,
        Some(at("2026-11-20T16:00:00Z"))
    );
    assert_eq!(write.insert[0].holds, Some(KeyTime::Resolved));
}

#[test]
fn the_first_sign_of_detection_wins_and_the_last_resolution_wins() {
    let (mut incident, mut events) = created(None, None);
    for (kind, time) in [
        (EventKind::Alerted, "2026-11-20T14:00:00Z"),
        (EventKind::Reported, "2026-11-20T14:30:00Z"),
        (EventKind::Resolved, "2026-11-20T15:00:00Z"),
        (EventKind::Resolved, "2026-11-20T16:00:00Z"),
        (EventKind::Resolved, "2026-11-20T15:30:00Z"),
    ] {
        add(&mut incident, &mut events, manual(kind, time, "x"));
    }
    assert_eq!(
        incident.content.detected_at,
        Some(at("2026-11-20T14:00:00Z"))
    );
    assert_eq!(
        incident.content.resolved_at,
        Some(at("2026-11-20T16:00:00Z"))
    );
    assert_eq!(
        holders(&events),
        vec![
            (
                KeyTime::Started,
                EventSource::System,
                at("2026-11-20T12:20:00Z")
            ),
            (
                KeyTime::Detected,
                EventSource::Manual,
                at("2026-11-20T14:00:00Z")
            ),
            (
                KeyTime::Resolved,
                EventSource::Manual,
                at("2026-11-20T16:00:00Z")
            ),
        ]
    );
    assert_eq!(events.len(), 6, "the events that lost stay on the timeline");
}

#[test]
fn an_event_taking_a_key_time_over_replaces_hindsights_own_event_for_it() {
    let (mut incident, mut events) = created(Some("2026-11-20T14:10:00Z"), None);
    add(
        &mut incident,
        &mut events,
        manual(EventKind::Detected, "2026-11-20T14:00:00Z", "Pager"),
    );
    assert_eq!(events.len(), 2);
    assert_eq!(
        holders(&events)[1],
        (
            KeyTime::Detected,
            EventSource::Manual,
            at("2026-11-20T14:00:00Z")
        )
    );
}

#[test]
fn moving_a_holder_moves_the_key_time_and_a_time_before_the_start_is_refused() {
    let (mut incident, mut events) = created(None, None);
    add(
        &mut incident,
        &mut events,
        manual(EventKind::Resolved, "2026-11-20T16:00:00Z", "Back"),
    );
    let target = events
        .iter()
        .find(|e| e.source == EventSource::Manual)
        .unwrap()
        .clone();

    let mut content = target.content.clone();
    content.occurred_at = at("2026-11-20T17:00:00Z");
    let write = edit_event(&incident, &events, &target, content, true, None, at(NOW)).unwrap();
    apply(&mut incident, &mut events, write);
    assert_eq!(
        incident.content.resolved_at,
        Some(at("2026-11-20T17:00:00Z"))
    );

    let target = events
        .iter()
        .find(|e| e.source == EventSource::Manual)
        .unwrap()
        .clone();
    let mut content = target.content.clone();
    content.occurred_at = at("2026-11-20T10:00:00Z");
    let refused =
        edit_event(&incident, &events, &target, content, true, None, at(NOW)).unwrap_err();
    assert_eq!(refused.0[0].field, "occurred_at");
    assert!(
        refused.0[0]
            .message
            .contains("resolved_at is before started_at"),
        "{refused}"
    );
}

#[test]
fn removing_a_manual_holder_hands_its_key_time_back_to_hindsight() {
    let (mut incident, mut events) = created(None, None);
    add(
        &mut incident,
        &mut events,
        manual(EventKind::Resolved, "2026-11-20T16:00:00Z", "Back"),
    );
    let target = events
        .iter()
        .find(|e| e.source == EventSource::Manual)
        .unwrap()
        .clone();
    let write = remove_event(&incident, &events, &target, Some("Ada"), at(NOW)).unwrap();
    apply(&mut incident, &mut events, write);
    assert_eq!(
        incident.content.resolved_at,
        Some(at("2026-11-20T16:00:00Z"))
    );
    assert_eq!(
        holders(&events)[1],
        (
            KeyTime::Resolved,
            EventSource::System,
            at("2026-11-20T16:00:00Z")
        )
    );

    let system = events
        .iter()
        .find(|e| e.holds == Some(KeyTime::Resolved))
        .unwrap()
        .clone();
    let refused = remove_event(&incident, &events, &system, None, at(NOW)).unwrap_err();
    assert!(
        refused.0[0]
            .message
            .contains("clear resolved_at on the incident"),
        "{refused}"
    );
}

#[test]
fn changing_the_incident_moves_clears_and_notes_on_the_timeline() {
    let (mut incident, mut events) = created(Some("2026-11-20T14:10:00Z"), None);
    let before = incident.clone();
    let mut after = incident.content.clone();
    after.detected_at = Some(at("2026-11-20T14:05:00Z"));
    after.severity = crate::Severity::Sev1;
    let write = record_incident_change(Some(&before), &after, &events, Some("Grace"), at(NOW));
    incident.content = after.clone();
    apply(&mut incident, &mut events, write);
    assert_eq!(
        holders(&events)[1],
        (
            KeyTime::Detected,
            EventSource::System,
            at("2026-11-20T14:05:00Z")
        )
    );
    let note = events
        .iter()
        .find(|e| e.content.kind == EventKind::Note)
        .unwrap();
    assert_eq!(note.content.text, "Severity changed from SEV2 to SEV1.");
    assert_eq!(note.author.as_deref(), Some("Grace"));

    let before = incident.clone();
    let mut after = incident.content.clone();
    after.detected_at = None;
    let write = record_incident_change(Some(&before), &after, &events, None, at(NOW));
    apply(&mut incident, &mut events, write);
    assert_eq!(holders(&events).len(), 1, "only the start is left");
}

#[test]
fn drafts_name_every_bad_field() {
    let errors = EventDraft {
        kind: Some("exploded".into()),
        occurred_at: Some("14:10".into()),
        text: "x".repeat(MAX_EVENT_TEXT_CHARS + 1),
        link: Some("javascript:alert(1)".into()),
        ..Default::default()
    }
    .validate(at(NOW))
    .unwrap_err();
    let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["kind", "occurred_at", "text", "link"]);
    assert!(errors.0[1].message.contains("with an offset"));

    let (content, sets) = EventDraft {
        kind: Some("detected".into()),
        occurred_at: Some("2026-11-20T23:58:00+01:00".into()),
        text: "Pager went off\r\n".into(),
        ..Default::default()
    }
    .validate(at(NOW))
    .unwrap();
    assert_eq!(content.occurred_at, at("2026-11-20T22:58:00Z"));
    assert_eq!(content.text, "Pager went off");
    assert!(sets);
}
