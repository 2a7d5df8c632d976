use super::*;
use jiff::civil::date;

fn context() -> ItemContext {
    ItemContext {
        created_on: date(2026, 11, 21),
        targets: DueTargets::default(),
        why_chains: 1,
        factors: 2,
    }
}

fn draft(json: &str) -> ActionItemDraft {
    serde_json::from_str(json).unwrap()
}

fn fields(errors: ValidationErrors) -> Vec<String> {
    errors.0.into_iter().map(|error| error.field).collect()
}

#[test]
fn low_effort_and_high_impact_is_p1_and_due_in_four_weeks() {
    let item = draft(
        r#"{"title":"Alert on replication lag","owner":"user:3","effort":"low","impact":"high"}"#,
    )
    .validate(&context())
    .unwrap();
    assert_eq!(item.priority, Priority::P1);
    assert_eq!(item.due_on, date(2026, 12, 19));
    assert_eq!(item.owner, Some(Owner::User(UserId::new(3).unwrap())));
    assert_eq!(item.status, ActionStatus::Open);
    assert_eq!(item.kind, ActionKind::Prevent);
}

#[test]
fn the_default_priority_follows_impact_against_effort() {
    use Priority::*;
    use Scale::*;
    for (effort, impact, priority) in [
        (Low, High, P1),
        (Medium, High, P1),
        (Low, Medium, P1),
        (High, High, P2),
        (Medium, Medium, P2),
        (Low, Low, P2),
        (High, Medium, P3),
        (High, Low, P3),
    ] {
        assert_eq!(
            derived_priority(effort, impact),
            priority,
            "{effort} {impact}"
        );
    }
}

#[test]
fn a_given_priority_and_due_date_win_over_the_defaults() {
    let item = draft(r#"{"title":"Runbook","priority":"p3","due_on":"2027-01-15","kind":"documentation","owner":"team:2"}"#)
        .validate(&context())
        .unwrap();
    assert_eq!(item.priority, Priority::P3);
    assert_eq!(item.due_on, date(2027, 1, 15));
    assert_eq!(item.owner, Some(Owner::Team(TeamId::new(2).unwrap())));
}

#[test]
fn every_bad_field_is_named_at_once() {
    let errors = draft(
        r#"{"title":" ","owner":"alex","due_on":"next week","priority":"P0","effort":"tiny",
            "kind":"blame","addresses":"factors[2]","tracker_url":"javascript:alert(1)","status":"closed"}"#,
    )
    .validate(&context())
    .unwrap_err();
    assert_eq!(
        fields(errors),
        [
            "title",
            "owner",
            "effort",
            "priority",
            "due_on",
            "kind",
            "addresses",
            "tracker_url",
            "status"
        ]
    );
}

#[test]
fn an_item_addresses_a_why_chain_or_factor_of_its_postmortem() {
    let item = draft(r#"{"title":"Fix","addresses":"factors[1]"}"#)
        .validate(&context())
        .unwrap();
    assert_eq!(item.addresses.as_deref(), Some("factors[1]"));
    let errors = draft(r#"{"title":"Fix","addresses":"why_chains[1]"}"#)
        .validate(&context())
        .unwrap_err();
    assert!(errors.0[0].message.contains("it has 1"), "{errors}");
}

#[test]
fn done_needs_a_verification_note_and_not_doing_needs_a_reason() {
    let open = draft(r#"{"title":"Add a canary"}"#)
        .validate(&context())
        .unwrap();
    let refused = ActionItemPatch {
        status: Some(Some("done".into())),
        ..Default::default()
    }
    .apply(&open)
    .validate(&context())
    .unwrap_err();
    assert_eq!(fields(refused), ["verification"]);
    let refused = ActionItemPatch {
        status: Some(Some("not_doing".into())),
        ..Default::default()
    }
    .apply(&open)
    .validate(&context())
    .unwrap_err();
    assert_eq!(fields(refused), ["not_doing_reason"]);

    let done: ActionItemPatch = serde_json::from_str(
        r#"{"status":"done","verification":"The canary caught a bad deploy on 2 Dec"}"#,
    )
    .unwrap();
    let done = done.apply(&open).validate(&context()).unwrap();
    assert_eq!(done.status, ActionStatus::Done);

    // Reopening drops the note: it no longer holds.
    let reopened: ActionItemPatch = serde_json::from_str(r#"{"status":"in_progress"}"#).unwrap();
    let reopened = reopened.apply(&done).validate(&context()).unwrap();
    assert_eq!(reopened.verification, None);
}

#[test]
fn a_note_for_another_status_is_refused() {
    let errors = draft(r#"{"title":"x","status":"open","verification":"it works"}"#)
        .validate(&context())
        .unwrap_err();
    assert_eq!(fields(errors), ["verification"]);
}

#[test]
fn a_patch_keeps_what_it_does_not_name_and_clears_what_it_nulls() {
    let item = draft(r#"{"title":"Canary","owner":"user:3","tracker_url":"https://t/1"}"#)
        .validate(&context())
        .unwrap();
    let patch: ActionItemPatch =
        serde_json::from_str(r#"{"tracker_url":null,"effort":"high"}"#).unwrap();
    let changed = patch.apply(&item).validate(&context()).unwrap();
    assert_eq!(changed.tracker_url, None);
    assert_eq!(changed.owner, item.owner);
    assert_eq!(changed.effort, Scale::High);
    assert_eq!(
        changed.priority, item.priority,
        "a derived priority stays put"
    );
    assert_eq!(changed.due_on, item.due_on);
}

#[test]
fn a_query_reads_owner_statuses_and_overdue() {
    let me = UserId::new(7);
    let today = date(2026, 11, 21);
    let query: ActionItemQuery =
        serde_json::from_str(r#"{"owner":"me","status":"unfinished,done","overdue":true}"#)
            .unwrap();
    let filter = query.validate(me, today).unwrap();
    assert_eq!(filter.owner, Some(Owner::User(UserId::new(7).unwrap())));
    assert_eq!(
        filter.statuses,
        [
            ActionStatus::Open,
            ActionStatus::InProgress,
            ActionStatus::Done
        ]
    );
    assert_eq!(filter.overdue_on, Some(today));
    let errors = ActionItemQuery {
        owner: Some("bob".into()),
        status: Some("closed".into()),
        due_before: Some("soon".into()),
        team: Some(0),
        limit: Some(0),
        ..Default::default()
    }
    .validate(me, today)
    .unwrap_err();
    assert_eq!(
        fields(errors),
        ["owner", "status", "due_before", "team", "limit"]
    );
}

#[test]
fn lists_rank_unfinished_then_priority_then_low_effort_high_impact() {
    let item = |id: i64, json: &str| ActionItem {
        id: ActionItemId::new(id).unwrap(),
        postmortem_id: PostmortemId::new(1).unwrap(),
        content: draft(json).validate(&context()).unwrap(),
        owner_name: None,
        postmortem_title: "PM".into(),
        incidents: vec![],
        created_at: "2026-11-21T10:00:00Z".parse().unwrap(),
        updated_at: "2026-11-21T10:00:00Z".parse().unwrap(),
        finished_at: None,
    };
    let mut items = vec![
        item(
            1,
            r#"{"title":"done","status":"done","verification":"ok","priority":"P1"}"#,
        ),
        item(
            2,
            r#"{"title":"p2 high effort","priority":"P2","effort":"high","impact":"high"}"#,
        ),
        item(
            3,
            r#"{"title":"p2 low effort","priority":"P2","effort":"low","impact":"high"}"#,
        ),
        item(4, r#"{"title":"p1","priority":"P1"}"#),
    ];
    rank(&mut items);
    let order: Vec<i64> = items.iter().map(|item| item.id.get()).collect();
    assert_eq!(order, [4, 3, 2, 1]);
    assert!(items[0].is_overdue(date(2027, 1, 1)));
    assert_eq!(items[0].days_overdue(date(2026, 12, 29)), Some(10));
    assert!(
        !items[3].is_overdue(date(2030, 1, 1)),
        "done is never overdue"
    );
    assert_eq!(items[0].age_days(date(2026, 11, 30)), 9);
}
