use jiff::Timestamp;

use super::*;
use crate::ImpactDraft;
use crate::IncidentDraft;
use crate::IncidentId;
use crate::postmortem::builtin_templates;
use crate::timeline::{EventContent, EventId, EventKind, KeyTime};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn incident(id: i64) -> Incident {
    let content = IncidentDraft {
        title: Some("Checkout returns 502".into()),
        summary: Some("Card payments failed after a deploy.".into()),
        severity: Some("SEV2".into()),
        services: vec!["checkout".into(), "payments".into()],
        started_at: Some("2026-11-20T23:50:00Z".into()),
        detected_at: Some("2026-11-20T23:58:00Z".into()),
        mitigated_at: Some("2026-11-21T00:20:00Z".into()),
        resolved_at: Some("2026-11-21T00:30:00Z".into()),
        impact: ImpactDraft {
            user_visible_minutes: Some(30),
            users_affected: Some(12_000),
            business: [("conversion_drop_percent".to_owned(), 12.5)].into(),
            ..ImpactDraft::default()
        },
        ..Default::default()
    }
    .validate(at("2026-11-22T00:00:00Z"))
    .unwrap()
    .into_content();
    Incident {
        id: IncidentId::new(id).unwrap(),
        content,
        created_at: at("2026-11-21T01:00:00Z"),
        updated_at: at("2026-11-21T01:00:00Z"),
    }
}

fn event(
    id: i64,
    time: &str,
    kind: EventKind,
    source: EventSource,
    author: Option<&str>,
    text: &str,
) -> TimelineEvent {
    TimelineEvent {
        id: EventId::new(id).unwrap(),
        incident_id: IncidentId::new(1).unwrap(),
        content: EventContent {
            kind,
            occurred_at: at(time),
            text: text.into(),
            key: false,
            link: None,
        },
        source,
        author: author.map(str::to_owned),
        external_id: None,
        holds: None,
        created_at: at(time),
        updated_at: at(time),
    }
}

fn events() -> Vec<TimelineEvent> {
    let mut detected = event(
        2,
        "2026-11-20T23:58:00Z",
        EventKind::Alerted,
        EventSource::Alert,
        None,
        "HighErrorRate firing on checkout",
    );
    detected.holds = Some(KeyTime::Detected);
    vec![
        // Out of order on purpose: the draft sorts by time.
        event(
            3,
            "2026-11-21T00:05:00Z",
            EventKind::Communication,
            EventSource::Chat,
            Some("Dana Li"),
            "I see 502s on checkout\nrolling back now",
        ),
        detected,
        event(
            1,
            "2026-11-20T23:50:00Z",
            EventKind::ErrorIntroduced,
            EventSource::Manual,
            Some("Sam"),
            "Deploy of v2.3 started.",
        ),
    ]
}

fn london() -> Zone {
    Zone {
        zone: TimeZone::get("Europe/London").unwrap(),
        name: "Europe/London".into(),
    }
}

#[test]
fn a_draft_fills_summary_impact_and_timeline_of_the_default_template() {
    let incident = incident(1);
    let events = events();
    let template = &builtin_templates()[0];
    let sections = sections(
        template,
        &[Source {
            incident: &incident,
            events: &events,
        }],
        &london(),
    );
    assert_eq!(
        sections.keys().collect::<Vec<_>>(),
        ["impact", "summary", "timeline"]
    );
    let summary = &sections["summary"];
    assert!(summary.starts_with("Card payments failed after a deploy."));
    assert!(summary.contains("SEV2; services: checkout and payments"));
    assert!(summary.contains("started Friday 20 November 2026 at 23:50 (Europe/London)"));
    let impact = &sections["impact"];
    assert!(impact.contains("Users could see the failure for 30 minutes."));
    assert!(impact.contains("12,000 users were affected."));
    assert!(impact.contains("Conversion drop percent: 12.5."));
    assert!(impact.contains("was 30 min."), "{impact}");
    assert!(impact.contains("Not recorded yet: requests failed."));
}

#[test]
fn the_timeline_is_written_by_day_with_key_moments_bold_and_chat_quoted() {
    let incident = incident(1);
    let events = events();
    let block = timeline_block(
        &[Source {
            incident: &incident,
            events: &events,
        }],
        &london(),
    );
    assert!(block.starts_with("<!-- hindsight:timeline "));
    assert!(block.ends_with("<!-- /hindsight:timeline -->"));
    let expected = "Times are in Europe/London.\n\n\
        **Response:** Time to detect: 8 min · Time to acknowledge: unknown · Time to root cause: \
        unknown · Time to mitigate: 22 min · Time to fix: unknown · Time to resolve: 32 min · Impact window: 30 min.\n\n\
        #### Friday 20 November 2026\n\n\
        - 23:50 · Error introduced: Deploy of v2.3 started. (Sam)\n\
        - **23:58 · Alerted** (alert): HighErrorRate firing on checkout\n\n\
        #### Saturday 21 November 2026\n\n\
        - 00:05 · Communication, Dana Li in chat:\n  > I see 502s on checkout\n  > rolling back now\n";
    assert!(block.contains(expected), "{block}");
}

#[test]
fn a_template_without_a_timeline_section_gets_the_timeline_under_what_went_wrong() {
    let incident = incident(1);
    let events = events();
    let template = &builtin_templates()[1];
    let sections = sections(
        template,
        &[Source {
            incident: &incident,
            events: &events,
        }],
        &Zone::utc(),
    );
    assert_eq!(
        sections.keys().collect::<Vec<_>>(),
        ["impact", "what_went_wrong"]
    );
    assert!(has_timeline_block(&sections["what_went_wrong"]));
    assert_eq!(timeline_section(template), Some("what_went_wrong"));
}

#[test]
fn several_incidents_are_each_named() {
    let first = incident(1);
    let second = incident(2);
    let events = events();
    let sources = [
        Source {
            incident: &first,
            events: &events,
        },
        Source {
            incident: &second,
            events: &[],
        },
    ];
    let text = summary(&sources, &Zone::utc());
    assert!(text.contains("**INC-1: Checkout returns 502**"));
    assert!(text.contains("**INC-2: Checkout returns 502**"));
    let block = timeline_block(&sources, &Zone::utc());
    assert!(block.contains("**Response, INC-2:**"));
    assert!(block.contains("23:58 · Alerted (INC-1)"));
}

#[test]
fn refreshing_replaces_the_block_and_keeps_the_writers_text_around_it() {
    let incident = incident(1);
    let mut events = events();
    let sources = |events: &[TimelineEvent]| {
        timeline_block(
            &[Source {
                incident: &incident,
                events,
            }],
            &Zone::utc(),
        )
    };
    let first = sources(&events);
    // What the textarea sends back: CRLF, trailing spaces; a person's text before and after.
    let section = format!(
        "Read with the chat log.\r\n\r\n{}\r\n\r\nMore later.",
        first
    )
    .replace('\n', "  \n");
    assert_eq!(
        refresh_timeline(&section, &sources(&events), false),
        Refresh::Unchanged
    );
    events.push(event(
        9,
        "2026-11-21T00:20:00Z",
        EventKind::Mitigated,
        EventSource::Manual,
        None,
        "Rolled back to v2.2.",
    ));
    let Refresh::Updated { text, added } = refresh_timeline(&section, &sources(&events), false)
    else {
        panic!("not updated");
    };
    assert!(!added);
    assert!(text.starts_with("Read with the chat log."));
    assert!(text.trim_end().ends_with("More later."));
    assert!(text.contains("00:20 · Mitigated: Rolled back to v2.2."));
}

#[test]
fn a_block_edited_by_hand_is_not_replaced_unless_asked() {
    let incident = incident(1);
    let events = events();
    let block = timeline_block(
        &[Source {
            incident: &incident,
            events: &events,
        }],
        &Zone::utc(),
    );
    let edited = block.replace(
        "Deploy of v2.3 started.",
        "Deploy of v2.3 started by the pipeline.",
    );
    let fresh = timeline_block(
        &[Source {
            incident: &incident,
            events: &events[..2],
        }],
        &Zone::utc(),
    );
    let Refresh::Edited { edited: kept, .. } = refresh_timeline(&edited, &fresh, false) else {
        panic!("an edit was about to be dropped");
    };
    assert!(kept.contains("started by the pipeline"));
    let Refresh::Updated { text, .. } = refresh_timeline(&edited, &fresh, true) else {
        panic!("not replaced when asked");
    };
    assert!(!text.contains("by the pipeline"));
}

#[test]
fn a_section_without_the_block_gets_it_at_its_end() {
    let incident = incident(1);
    let block = timeline_block(
        &[Source {
            incident: &incident,
            events: &[],
        }],
        &Zone::utc(),
    );
    assert!(block.contains("No events are on the timeline yet."));
    let Refresh::Updated { text, added } = refresh_timeline("Our notes.", &block, false) else {
        panic!("not added");
    };
    assert!(added);
    assert!(text.starts_with("Our notes.\n\n<!-- hindsight:timeline"));
}

#[test]
fn a_timeline_too_long_for_a_section_keeps_its_key_moments_and_says_what_it_left_out() {
    let incident = incident(1);
    let mut events: Vec<TimelineEvent> = (0..10_000)
        .map(|index| {
            event(
                index + 10,
                &Timestamp::from_second(1_795_176_000 + index * 8)
                    .unwrap()
                    .to_string(),
                EventKind::Communication,
                EventSource::Chat,
                Some("Ada"),
                "still looking at the payments dashboard",
            )
        })
        .collect();
    let mut mitigated = event(
        1,
        "2026-11-21T00:20:00Z",
        EventKind::Mitigated,
        EventSource::Manual,
        Some("Sam"),
        "Rolled back to 2.2.",
    );
    mitigated.holds = Some(KeyTime::Mitigated);
    events.push(mitigated);
    let block = timeline_block(
        &[Source {
            incident: &incident,
            events: &events,
        }],
        &Zone::utc(),
    );
    assert!(
        block.chars().count() <= MAX_TIMELINE_CHARS + 2_000,
        "{}",
        block.len()
    );
    assert!(block.contains("**00:20 · Mitigated**: Rolled back to 2.2. (Sam)"));
    assert!(block.contains("chat messages) are on the timeline of [INC-1](/incidents/1)"));
}

#[test]
fn ten_thousand_events_draft_in_one_pass() {
    let incident = incident(1);
    let events: Vec<TimelineEvent> = (0..10_000)
        .map(|index| {
            event(
                index + 1,
                &Timestamp::from_second(1_763_600_000 + index * 30)
                    .unwrap()
                    .to_string(),
                EventKind::Note,
                EventSource::Chat,
                Some("bot"),
                "a line",
            )
        })
        .collect();
    let block = timeline_block(
        &[Source {
            incident: &incident,
            events: &events,
        }],
        &Zone::utc(),
    );
    assert!(block.matches("bot in chat").count() > 100);
    assert!(block.contains("more events (") && block.len() < 60_000);
}
