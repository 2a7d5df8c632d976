use super::*;
use crate::access::{TeamId, TeamMember};
use crate::action_item::{ActionItemContent, ActionItemId, ActionKind, Priority, Scale};
use crate::document::PostmortemId;
use jiff::civil::date;

fn user(id: i64) -> UserId {
    UserId::new(id).unwrap()
}

fn item(id: i64, owner: Option<Owner>, due_on: Date, status: ActionStatus) -> ActionItem {
    let at: Timestamp = "2026-10-01T10:00:00Z".parse().unwrap();
    ActionItem {
        id: ActionItemId::new(id).unwrap(),
        postmortem_id: PostmortemId::new(7).unwrap(),
        content: ActionItemContent {
            title: format!("Item {id}"),
            description: String::new(),
            owner,
            due_on,
            priority: Priority::P2,
            effort: Scale::Medium,
            impact: Scale::Medium,
            kind: ActionKind::Mitigate,
            addresses: None,
            tracker_url: None,
            status,
            verification: (status == ActionStatus::Done).then(|| "checked".into()),
            not_doing_reason: None,
        },
        owner_name: owner.map(|_| "Ada".into()),
        postmortem_title: "Checkout outage".into(),
        incidents: vec![IncidentId::new(3).unwrap()],
        created_at: at,
        updated_at: at,
        finished_at: (status == ActionStatus::Done).then_some(at),
    }
}

fn directory() -> Directory {
    let person = |id: i64, name: &str| {
        (
            user(id),
            Person {
                id: user(id),
                name: name.into(),
                email: format!("{}@example.com", name.to_lowercase()),
            },
        )
    };
    let at: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    Directory {
        people: [person(1, "Ada"), person(2, "Lead"), person(3, "Other")]
            .into_iter()
            .collect(),
        teams: vec![Team {
            id: TeamId::new(5).unwrap(),
            name: "payments".into(),
            members: vec![
                TeamMember {
                    user_id: user(1),
                    is_lead: false,
                },
                TeamMember {
                    user_id: user(2),
                    is_lead: true,
                },
            ],
            created_at: at,
            updated_at: at,
        }],
    }
}

fn keys(planned: &[NewNotification]) -> Vec<String> {
    planned.iter().map(|n| n.dedupe_key.clone()).collect()
}

#[test]
fn an_item_is_reminded_before_on_and_every_two_weeks_after_its_due_date() {
    let rules = ReminderRules::default();
    let due = date(2026, 12, 1);
    let owned = item(9, Some(Owner::User(user(1))), due, ActionStatus::Open);
    let on = |day: Date| {
        keys(&plan_item_reminder(
            &owned,
            false,
            day,
            &rules,
            &directory(),
        ))
    };
    assert!(
        on(date(2026, 11, 27)).is_empty(),
        "four days before: nothing"
    );
    assert_eq!(on(date(2026, 11, 28)), ["action_item:9:2026-12-01:before"]);
    assert_eq!(on(date(2026, 11, 30)), ["action_item:9:2026-12-01:before"]);
    assert_eq!(on(date(2026, 12, 1)), ["action_item:9:2026-12-01:due"]);
    assert_eq!(
        on(date(2026, 12, 14)),
        ["action_item:9:2026-12-01:due"],
        "13 days overdue is still the due period: one nag, not one a day"
    );
    assert_eq!(
        on(date(2026, 12, 15)),
        [
            "action_item:9:2026-12-01:overdue-1",
            "action_item:9:2026-12-01:escalation-overdue-1"
        ],
        "14 days overdue: the next nag, and the lead hears of it"
    );
    assert_eq!(
        on(date(2026, 12, 29))[0],
        "action_item:9:2026-12-01:overdue-2"
    );
    let reminder = &plan_item_reminder(&owned, false, date(2026, 12, 15), &rules, &directory());
    assert_eq!(reminder[0].audience.people[0].email, "ada@example.com");
    assert!(reminder[0].message.intro.contains("14 days overdue"));
    assert_eq!(reminder[1].kind, NotificationKind::Escalation);
    assert_eq!(reminder[1].audience.people.len(), 1);
    assert_eq!(reminder[1].audience.people[0].name, "Lead");
}

#[test]
fn moving_the_due_date_starts_the_reminders_over() {
    let rules = ReminderRules::default();
    let moved = item(
        9,
        Some(Owner::User(user(1))),
        date(2027, 1, 10),
        ActionStatus::InProgress,
    );
    assert_eq!(
        keys(&plan_item_reminder(
            &moved,
            false,
            date(2027, 1, 10),
            &rules,
            &directory()
        )),
        ["action_item:9:2027-01-10:due"]
    );
}

#[test]
fn finished_and_unowned_items_are_not_chased_and_team_items_go_to_the_team() {
    let rules = ReminderRules::default();
    let today = date(2026, 12, 20);
    let due = date(2026, 12, 1);
    let done = item(1, Some(Owner::User(user(1))), due, ActionStatus::Done);
    let unowned = item(2, None, due, ActionStatus::Open);
    assert!(plan_item_reminder(&done, false, today, &rules, &directory()).is_empty());
    assert!(plan_item_reminder(&unowned, false, today, &rules, &directory()).is_empty());
    let team_item = item(
        3,
        Some(Owner::Team(TeamId::new(5).unwrap())),
        due,
        ActionStatus::Open,
    );
    let planned = plan_item_reminder(&team_item, false, today, &rules, &directory());
    assert_eq!(planned[0].audience.teams, ["payments"]);
    assert_eq!(planned[1].audience.people[0].name, "Lead");
}

#[test]
fn a_lead_who_owns_the_item_is_not_escalated_to_themselves() {
    let rules = ReminderRules::default();
    let own = item(
        4,
        Some(Owner::User(user(2))),
        date(2026, 11, 1),
        ActionStatus::Open,
    );
    let planned = plan_item_reminder(&own, false, date(2026, 12, 1), &rules, &directory());
    assert_eq!(planned.len(), 1, "only the reminder: {planned:?}");
}

#[test]
fn a_postmortem_owner_is_reminded_of_a_required_postmortem() {
    let pending = PendingReview {
        incident_id: IncidentId::new(3).unwrap(),
        incident_title: "Checkout down".into(),
        severity: Severity::Sev2,
        owner: directory().people.get(&user(1)).cloned(),
        due_on: Some(date(2026, 11, 27)),
        postmortem_id: None,
        private: false,
    };
    let rules = ReminderRules::default();
    let planned = plan_postmortem_reminder(&pending, date(2026, 11, 30), &rules).unwrap();
    assert_eq!(planned.dedupe_key, "postmortem_due:3:2026-11-27:due");
    assert!(planned.message.intro.contains("has not been started"));
    assert_eq!(planned.message.link.as_deref(), Some("/incidents/3"));
    let nobody = PendingReview {
        owner: None,
        ..pending
    };
    assert!(plan_postmortem_reminder(&nobody, date(2026, 11, 30), &rules).is_none());
}

#[test]
fn the_biweekly_agenda_slot_is_the_same_whenever_it_is_asked() {
    let every_other_tuesday =
        recurrence("agenda", Some("tuesday"), 2, "10:00", "Europe/London").unwrap();
    let slot = |now: &str| {
        every_other_tuesday
            .latest_slot(now.parse().unwrap())
            .to_string()
    };
    let first = slot("2026-11-17T10:00:00Z");
    assert_eq!(first, "2026-11-17T10:00:00+00:00[Europe/London]");
    assert_eq!(slot("2026-11-30T23:00:00Z"), first);
    assert_eq!(
        slot("2026-11-17T09:59:00Z"),
        "2026-11-03T10:00:00+00:00[Europe/London]"
    );
    // Across the change to summer time the slot stays at ten o'clock local.
    assert_eq!(
        slot("2027-04-06T12:00:00Z"),
        "2027-04-06T10:00:00+01:00[Europe/London]"
    );
    let previous = every_other_tuesday
        .previous_slot(&every_other_tuesday.latest_slot("2027-04-06T12:00:00Z".parse().unwrap()));
    assert_eq!(
        previous.to_string(),
        "2027-03-23T10:00:00+00:00[Europe/London]"
    );
}

#[test]
fn a_daily_slot_is_today_once_its_time_has_come_in_the_zone() {
    let nine_in_new_york = recurrence("reminders", None, 1, "09:00", "America/New_York").unwrap();
    let slot = |now: &str| {
        nine_in_new_york
            .latest_slot(now.parse().unwrap())
            .date()
            .to_string()
    };
    assert_eq!(slot("2026-11-21T13:59:00Z"), "2026-11-20");
    assert_eq!(slot("2026-11-21T14:00:00Z"), "2026-11-21");
}

#[test]
fn recurrences_name_what_is_wrong_with_them() {
    let errors = recurrence("agenda", Some("someday"), 0, "25:00", "Mars/Olympus").unwrap_err();
    let fields: Vec<String> = errors.0.into_iter().map(|error| error.field).collect();
    assert_eq!(
        fields,
        [
            "agenda.time",
            "agenda.time_zone",
            "agenda.weekday",
            "agenda.every_weeks"
        ]
    );
}

#[test]
fn the_agenda_groups_open_items_by_owner_with_nobody_and_the_most_overdue_first() {
    let today = date(2026, 12, 20);
    let since: Timestamp = "2026-09-01T00:00:00Z".parse().unwrap();
    let mut late = item(
        1,
        Some(Owner::User(user(3))),
        date(2026, 12, 1),
        ActionStatus::Open,
    );
    late.owner_name = Some("Zed".into());
    let items = vec![
        item(
            2,
            Some(Owner::User(user(1))),
            date(2027, 1, 1),
            ActionStatus::Open,
        ),
        late,
        item(3, None, date(2027, 1, 1), ActionStatus::Open),
        item(
            4,
            Some(Owner::User(user(1))),
            date(2026, 12, 10),
            ActionStatus::InProgress,
        ),
        item(
            5,
            Some(Owner::User(user(1))),
            date(2026, 12, 10),
            ActionStatus::Done,
        ),
    ];
    let agenda = agenda(&items, today, since);
    let owners: Vec<&str> = agenda.open.iter().map(|g| g.owner.as_str()).collect();
    assert_eq!(owners, ["Nobody yet", "Zed", "Ada"]);
    assert_eq!(agenda.open[2].items.len(), 2);
    assert_eq!(agenda.open[1].items[0].days_overdue, Some(19));
    assert_eq!(agenda.open[1].items[0].age_days, 80);
    assert_eq!(
        agenda.finished.len(),
        1,
        "item 5 finished since the last review"
    );
    let later = super::agenda(&items, today, "2026-10-02T00:00:00Z".parse().unwrap());
    assert!(later.finished.is_empty(), "finished before the last review");
    let text = agenda.message().plain_text("https://h.example");
    assert!(
        text.contains("4 open items across 3 owners, 1 finished"),
        "{text}"
    );
    assert!(
        text.contains(
            "Item 1: open, due 2026-12-01, 19 days overdue, 80 days old, last update 2026-10-01"
        ),
        "{text}"
    );
    assert!(text.contains("<https://h.example/postmortems/7/action-items>"));
}

#[test]
fn messages_escape_what_each_channel_would_read_as_markup() {
    let message = Message {
        calendar: None,
        subject: "Fix <b>&</b>".into(),
        intro: "Intro <script>".into(),
        sections: vec![MessageSection {
            heading: "A|B".into(),
            lines: vec![line("x|y <z>", Some("/postmortems/1".into()))],
        }],
        link: Some("/postmortems/1".into()),
        data: serde_json::Value::Null,
    };
    let html = message.html("https://h.example/");
    assert!(html.contains("Intro &lt;script&gt;"));
    assert!(html.contains("href=\"https://h.example/postmortems/1\""));
    let slack = message.slack("https://h.example");
    assert_eq!(slack["text"], "Fix &lt;b&gt;&amp;&lt;/b&gt;");
    let section = slack["blocks"][1]["text"]["text"].as_str().unwrap();
    assert_eq!(
        section,
        "*A|B*\n• <https://h.example/postmortems/1|x¦y &lt;z&gt;>"
    );
}

#[test]
fn a_published_postmortem_is_broadcast_unless_private() {
    let document = crate::document::PostmortemDocument {
        title: "Checkout outage".into(),
        incidents: vec![IncidentId::new(3).unwrap()],
        template: "default".into(),
        sections: [
            ("summary".to_owned(), "Checkout failed.\n\nMore.".to_owned()),
            ("impact".to_owned(), "4,000 orders".to_owned()),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let postmortem = Postmortem {
        id: PostmortemId::new(4).unwrap(),
        version: 6,
        status: crate::postmortem::PostmortemStatus::Published,
        document,
        created_at: "2026-11-01T00:00:00Z".parse().unwrap(),
        updated_at: "2026-11-01T00:00:00Z".parse().unwrap(),
    };
    let public = published(&postmortem, Vec::new());
    assert!(public.audience.broadcast);
    assert_eq!(public.dedupe_key, "postmortem:4:published:6");
    let text = public.message.plain_text("https://h.example");
    assert!(text.contains("Impact\n- 4,000 orders"), "{text}");
    assert!(text.contains("https://h.example/postmortems/4"));
    assert_eq!(summary_of(&postmortem), "Checkout failed.");
    let member = directory().people.get(&user(1)).cloned().unwrap();
    let other = directory().people.get(&user(3)).cloned().unwrap();
    let private = published(&postmortem, vec![vec![member.clone(), other], vec![member]]);
    assert!(!private.audience.broadcast);
    assert_eq!(private.audience.people.len(), 1);
}

#[test]
fn history_is_the_same_iso_week_of_an_earlier_year() {
    assert!(same_week_earlier_year(
        date(2025, 11, 18),
        date(2026, 11, 19)
    ));
    assert!(!same_week_earlier_year(
        date(2026, 11, 18),
        date(2026, 11, 19)
    ));
    assert!(!same_week_earlier_year(
        date(2025, 11, 25),
        date(2026, 11, 19)
    ));
}

#[test]
fn backoff_doubles_to_an_hour_and_jitter_only_shortens_it() {
    assert_eq!(backoff_seconds(1, 30, 0.0), 30);
    assert_eq!(backoff_seconds(2, 30, 0.0), 60);
    assert_eq!(backoff_seconds(4, 30, 0.0), 240);
    assert_eq!(backoff_seconds(30, 30, 0.0), 3600);
    assert_eq!(backoff_seconds(2, 30, 1.0), 48);
}
