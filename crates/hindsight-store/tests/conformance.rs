//! The stories every backend must tell the same way. Each story runs once on SQLite and once on
//! PostgreSQL (skipped with a message where no PostgreSQL answers, unless required).

use std::sync::Arc;

use hindsight_domain::access::{Role, Session, TokenScope, Visibility};
use hindsight_domain::action_item::{
    ActionItemContent, ActionItemDraft, ActionItemFilter, ActionStatus, DueTargets, ItemContext,
    Owner,
};
use hindsight_domain::document::{
    Author, Postmortem, PostmortemDocument, PostmortemId, ValidDocument,
};
use hindsight_domain::policy::{
    self, PolicyConfig, PolicyOutcome, PolicyOverride, PostmortemRequest,
};
use hindsight_domain::postmortem::{
    ContributingFactor, DEFAULT_FACTOR_CATEGORIES, PostmortemStatus, Why, WhyChain,
    builtin_templates,
};
use hindsight_domain::timeline::{
    self, EventContent, EventKind, EventSource, KeyTime, NewEvent, TimelineEvent,
};
use hindsight_domain::{
    IncidentDraft, IncidentFilter, IncidentId, IncidentPatch, IncidentQuery, IncidentStatus,
    Severity, ValidationErrors,
};
use hindsight_store::testing::TestDatabase;
use hindsight_store::{
    AlertIntake, NewApiToken, NewPostmortem, NewUser, PolicyJudgement, PostmortemChange,
    PostmortemFilter, Store, StoreError, UserChange,
};
use jiff::Timestamp;

fn now() -> Timestamp {
    "2026-11-21T12:00:00Z".parse().unwrap()
}

fn draft(title: &str, started_at: &str) -> IncidentDraft {
    IncidentDraft {
        title: Some(title.into()),
        severity: Some("SEV2".into()),
        started_at: Some(started_at.into()),
        ..IncidentDraft::default()
    }
}

async fn create(store: &dyn Store, draft: IncidentDraft) -> hindsight_domain::Incident {
    store
        .create_incident(draft.validate(now()).unwrap(), None, now())
        .await
        .unwrap()
}

fn filter(query: IncidentQuery) -> IncidentFilter {
    query.parse().unwrap()
}

async fn a_created_incident_reads_back_equal_in_every_field(database: TestDatabase) {
    let store = database.store();
    let mut full = draft("Checkout returns 502", "2026-11-20T12:20:00.123456Z");
    full.summary = Some("Card payments failed for *all* users.".into());
    full.status = Some("resolved".into());
    full.services = vec!["checkout".into(), "payments-api".into()];
    full.detected_at = Some("2026-11-20T14:10:00Z".into());
    full.acknowledged_at = Some("2026-11-20T14:12:00Z".into());
    full.mitigated_at = Some("2026-11-20T15:17:00Z".into());
    full.resolved_at = Some("2026-11-20T15:25:00Z".into());
    full.detection = Some("human".into());
    full.cause_origin = Some("internal".into());
    full.impact.user_visible_minutes = Some(185);
    full.impact.users_affected = Some(12_000);
    full.impact.requests_failed = Some(290_000);
    full.impact.data_loss = true;
    full.impact.business = [("conversion_drop_percent".to_owned(), 12.5)].into();
    full.owner = Some("Alex Kim".into());
    full.tags = vec!["payments".into(), "löwe 🦁".into()];
    let created = create(&*store, full).await;
    let read = store
        .get_incident(created.id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, created);
    assert_eq!(
        read.content.impact.business["conversion_drop_percent"],
        12.5
    );
}

async fn an_unknown_id_reads_as_none(database: TestDatabase) {
    let store = database.store();
    let missing = IncidentId::new(999_999).unwrap();
    assert!(
        store
            .get_incident(missing, Visibility::Everything)
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_update_changes_what_it_names_and_keeps_created_at(database: TestDatabase) {
    let store = database.store();
    let created = create(&*store, draft("Queue backlog", "2026-11-20T08:00:00Z")).await;
    let later: Timestamp = "2026-11-21T12:30:00Z".parse().unwrap();
    let updated = store
        .update_incident(
            created.id,
            Visibility::Everything,
            None,
            later,
            Box::new(|current| {
                let patch: IncidentPatch = serde_json::from_str(
                    r#"{"status":"mitigated","services":["queue"],"mitigated_at":"2026-11-20T09:00:00Z"}"#,
                )
                .unwrap();
                patch.apply_to(&current.content).validate(now())
            }),
        )
        .await
        .unwrap();
    assert_eq!(updated.content.status, IncidentStatus::Mitigated);
    assert_eq!(updated.created_at, created.created_at);
    assert_eq!(updated.updated_at, later);
    assert_eq!(
        store
            .get_incident(created.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap(),
        updated
    );
    let by_service = store
        .list_incidents(
            &filter(IncidentQuery {
                service: Some("queue".into()),
                ..IncidentQuery::default()
            }),
            Visibility::Everything,
        )
        .await
        .unwrap();
    assert_eq!(by_service.items, [updated]);
}

async fn an_update_of_a_missing_incident_is_not_found(database: TestDatabase) {
    let store = database.store();
    let result = store
        .update_incident(
            IncidentId::new(424_242).unwrap(),
            Visibility::Everything,
            None,
            now(),
            Box::new(|_| panic!("no incident, no change")),
        )
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)));
}

async fn a_refused_change_writes_nothing(database: TestDatabase) {
    let store = database.store();
    let created = create(&*store, draft("DNS flaps", "2026-11-20T08:00:00Z")).await;
    let result = store
        .update_incident(
            created.id,
            Visibility::Everything,
            None,
            now(),
            Box::new(|_| Err(ValidationErrors::single("title", "title is required"))),
        )
        .await;
    assert!(matches!(result, Err(StoreError::Invalid(_))));
    assert_eq!(
        store
            .get_incident(created.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap(),
        created
    );
}

async fn the_list_is_newest_first_and_pages_without_gaps_or_repeats(database: TestDatabase) {
    let store = database.store();
    let mut expected = Vec::new();
    for hour in 0..7 {
        // Two incidents share each start time, so the id must break ties.
        for copy in 0..2 {
            let started = format!("2026-11-20T{:02}:00:00Z", hour);
            let incident =
                create(&*store, draft(&format!("incident {hour}.{copy}"), &started)).await;
            expected.push(incident);
        }
    }
    expected.sort_by_key(|incident| std::cmp::Reverse((incident.content.started_at, incident.id)));
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_incidents(
                &IncidentFilter {
                    limit: 4,
                    cursor,
                    ..IncidentFilter::default()
                },
                Visibility::Everything,
            )
            .await
            .unwrap();
        assert!(page.items.len() <= 4);
        seen.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

async fn the_list_filters_by_status_severity_service_and_start(database: TestDatabase) {
    let store = database.store();
    let mut a = draft("a", "2026-11-01T10:00:00Z");
    a.services = vec!["api".into()];
    let a = create(&*store, a).await;
    let mut b = draft("b", "2026-11-10T10:00:00Z");
    b.severity = Some("SEV1".into());
    b.status = Some("resolved".into());
    b.services = vec!["api".into(), "db".into()];
    let b = create(&*store, b).await;
    let mut c = draft("c", "2026-11-15T10:00:00Z");
    c.status = Some("closed".into());
    let c = create(&*store, c).await;

    let titles = |page: hindsight_domain::IncidentPage| -> Vec<String> {
        page.items
            .into_iter()
            .map(|incident| incident.content.title)
            .collect()
    };
    let list = |query: IncidentQuery| {
        let store = Arc::clone(&store);
        async move {
            titles(
                store
                    .list_incidents(&filter(query), Visibility::Everything)
                    .await
                    .unwrap(),
            )
        }
    };
    assert_eq!(list(IncidentQuery::default()).await, ["c", "b", "a"]);
    assert_eq!(
        list(IncidentQuery {
            status: Some("open,closed".into()),
            ..Default::default()
        })
        .await,
        ["c", "a"]
    );
    assert_eq!(
        list(IncidentQuery {
            severity: Some("SEV1".into()),
            ..Default::default()
        })
        .await,
        ["b"]
    );
    assert_eq!(
        list(IncidentQuery {
            service: Some("api".into()),
            ..Default::default()
        })
        .await,
        ["b", "a"]
    );
    assert_eq!(
        list(IncidentQuery {
            service: Some("ap".into()),
            ..Default::default()
        })
        .await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(IncidentQuery {
            started_after: Some("2026-11-10T10:00:00Z".into()),
            started_before: Some("2026-11-15T10:00:00Z".into()),
            ..Default::default()
        })
        .await,
        ["b"]
    );
    let _ = (a, b, c);
    assert_eq!(store.count_incidents().await.unwrap(), 3);
}

async fn concurrent_updates_of_one_incident_lose_nothing(database: TestDatabase) {
    let store = database.store();
    let created = create(&*store, draft("Hot row", "2026-11-20T08:00:00Z")).await;
    let mut tasks = Vec::new();
    for n in 0..20 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .update_incident(
                    created.id,
                    Visibility::Everything,
                    None,
                    now(),
                    Box::new(move |current| {
                        let mut draft = IncidentDraft::from(&current.content);
                        draft.tags.push(format!("tag-{n}"));
                        draft.validate(now())
                    }),
                )
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let tags = store
        .get_incident(created.id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap()
        .content
        .tags;
    assert_eq!(tags.len(), 20, "{tags:?}");
}

async fn concurrent_creates_get_distinct_ids_and_a_failure_among_them_is_alone(
    database: TestDatabase,
) {
    let store = database.store();
    let victim = create(&*store, draft("victim", "2026-11-20T08:00:00Z")).await;
    let mut tasks = Vec::new();
    for n in 0..100 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            if n == 50 {
                // A refused change committed in the same group as the creates.
                let result = store
                    .update_incident(
                        victim.id,
                        Visibility::Everything,
                        None,
                        now(),
                        Box::new(|_| Err(ValidationErrors::single("title", "no"))),
                    )
                    .await;
                assert!(matches!(result, Err(StoreError::Invalid(_))));
                None
            } else {
                Some(
                    create(&*store, draft(&format!("n{n}"), "2026-11-20T09:00:00Z"))
                        .await
                        .id,
                )
            }
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        ids.extend(task.await.unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 99);
    assert_eq!(store.count_incidents().await.unwrap(), 100);
    for id in ids {
        assert!(
            store
                .get_incident(id, Visibility::Everything)
                .await
                .unwrap()
                .is_some()
        );
    }
}

async fn data_survives_a_restart_and_migrations_run_once(mut database: TestDatabase) {
    let created = create(
        &*database.store(),
        draft("Persisted", "2026-11-20T08:00:00Z"),
    )
    .await;
    database.reopen().await;
    let store = database.store();
    assert_eq!(
        store
            .get_incident(created.id, Visibility::Everything)
            .await
            .unwrap(),
        Some(created)
    );
    let again = store.migrate().await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.current_version, 10);
    store.ping().await.unwrap();
}

async fn severity_and_status_survive_every_value(database: TestDatabase) {
    let store = database.store();
    for severity in Severity::ALL {
        for status in IncidentStatus::ALL {
            let mut incident = draft("combo", "2026-11-20T08:00:00Z");
            incident.severity = Some(severity.as_str().into());
            incident.status = Some(status.as_str().into());
            let created = create(&*store, incident).await;
            let read = store
                .get_incident(created.id, Visibility::Everything)
                .await
                .unwrap()
                .unwrap();
            assert_eq!(
                (read.content.severity, read.content.status),
                (*severity, *status)
            );
        }
    }
}

async fn times_written_at_any_precision_read_back_equal(database: TestDatabase) {
    let store = database.store();
    let instant: Timestamp = "2026-11-21T11:59:59.123456789Z".parse().unwrap();
    let draft = draft("Precise", "2026-11-20T08:00:00Z")
        .validate(now())
        .unwrap();
    let created = store.create_incident(draft, None, instant).await.unwrap();
    assert_eq!(
        created.created_at.to_string(),
        "2026-11-21T11:59:59.123456Z"
    );
    assert_eq!(
        store
            .get_incident(created.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap(),
        created
    );
    let updated = store
        .update_incident(
            created.id,
            Visibility::Everything,
            None,
            instant,
            Box::new(|current| IncidentDraft::from(&current.content).validate(now())),
        )
        .await
        .unwrap();
    assert!(updated.updated_at > created.updated_at);
    assert_eq!(
        store
            .get_incident(created.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap(),
        updated
    );
}

/// A session that starts and was last seen now.
fn session_of(id_hash: &str, user_id: hindsight_domain::access::UserId) -> Session {
    Session {
        id_hash: id_hash.into(),
        user_id,
        created_at: now(),
        last_seen_at: now(),
    }
}

fn new_user(email: &str, role: Role) -> NewUser {
    NewUser {
        email: email.into(),
        display_name: email.split('@').next().unwrap().into(),
        role,
        password_hash: format!("hash-of-{email}"),
    }
}

async fn a_user_is_created_found_by_email_and_listed(database: TestDatabase) {
    let store = database.store();
    assert_eq!(store.count_users().await.unwrap(), 0);
    let ana = store
        .create_user(new_user("ana@example.com", Role::Admin), now())
        .await
        .unwrap();
    let bo = store
        .create_user(new_user("bo@example.com", Role::Viewer), now())
        .await
        .unwrap();
    assert_eq!(store.get_user(ana.id).await.unwrap(), Some(ana.clone()));
    let (found, hash) = store
        .find_user_by_email("ana@example.com")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found, hash.as_str()),
        (ana.clone(), "hash-of-ana@example.com")
    );
    assert!(
        store
            .find_user_by_email("nobody@example.com")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.list_users().await.unwrap(), [ana, bo]);
    assert_eq!(store.count_users().await.unwrap(), 2);
}

async fn a_taken_email_is_a_conflict_and_writes_nothing(database: TestDatabase) {
    let store = database.store();
    store
        .create_user(new_user("ana@example.com", Role::Admin), now())
        .await
        .unwrap();
    let again = store
        .create_user(new_user("ana@example.com", Role::Viewer), now())
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.count_users().await.unwrap(), 1);
}

async fn disabling_a_user_ends_their_sessions_and_revokes_their_tokens(database: TestDatabase) {
    let store = database.store();
    let ana = store
        .create_user(new_user("ana@example.com", Role::Editor), now())
        .await
        .unwrap();
    let session = session_of("s1", ana.id);
    store.create_session(session.clone()).await.unwrap();
    let token = store
        .create_api_token(
            NewApiToken {
                user_id: ana.id,
                name: "ci".into(),
                scope: TokenScope::Write,
                token_hash: "t1".into(),
            },
            now(),
        )
        .await
        .unwrap();
    let promoted = store
        .update_user(
            ana.id,
            UserChange {
                role: Some(Role::Admin),
                ..UserChange::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Admin);
    assert!(promoted.updated_at > ana.updated_at);
    assert!(store.find_session("s1").await.unwrap().is_some());
    let disabled = store
        .update_user(
            ana.id,
            UserChange {
                disabled: Some(true),
                ..UserChange::default()
            },
            now(),
        )
        .await
        .unwrap();
    assert!(disabled.disabled && disabled.role == Role::Admin);
    assert!(store.find_session("s1").await.unwrap().is_none());
    assert!(store.find_api_token("t1").await.unwrap().is_none());
    let listed = store.list_api_tokens(Some(ana.id)).await.unwrap();
    assert_eq!(listed[0].id, token.id);
    assert!(listed[0].revoked_at.is_some());
    let missing = store
        .update_user(
            hindsight_domain::access::UserId::new(999).unwrap(),
            UserChange::default(),
            now(),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

async fn a_token_works_until_revoked_and_records_its_last_use(database: TestDatabase) {
    let store = database.store();
    let ana = store
        .create_user(new_user("ana@example.com", Role::Editor), now())
        .await
        .unwrap();
    let bo = store
        .create_user(new_user("bo@example.com", Role::Viewer), now())
        .await
        .unwrap();
    let token = store
        .create_api_token(
            NewApiToken {
                user_id: ana.id,
                name: "ci".into(),
                scope: TokenScope::Read,
                token_hash: "secret-hash".into(),
            },
            now(),
        )
        .await
        .unwrap();
    store
        .create_api_token(
            NewApiToken {
                user_id: bo.id,
                name: "laptop".into(),
                scope: TokenScope::Read,
                token_hash: "other".into(),
            },
            now(),
        )
        .await
        .unwrap();
    let (found, user) = store.find_api_token("secret-hash").await.unwrap().unwrap();
    assert_eq!((found.clone(), user), (token.clone(), ana.clone()));
    let later: Timestamp = "2026-11-21T13:00:00Z".parse().unwrap();
    store.touch_api_token(token.id, later).await.unwrap();
    let (found, _) = store.find_api_token("secret-hash").await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(later));
    assert_eq!(store.list_api_tokens(Some(ana.id)).await.unwrap().len(), 1);
    assert_eq!(store.list_api_tokens(None).await.unwrap().len(), 2);
    let revoked = store.revoke_api_token(token.id, later).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(later));
    assert!(store.find_api_token("secret-hash").await.unwrap().is_none());
    let duplicate = store
        .create_api_token(
            NewApiToken {
                user_id: bo.id,
                name: "dup".into(),
                scope: TokenScope::Read,
                token_hash: "other".into(),
            },
            now(),
        )
        .await;
    assert!(matches!(duplicate, Err(StoreError::Conflict(_))));
    let missing = store
        .revoke_api_token(
            hindsight_domain::access::ApiTokenId::new(999).unwrap(),
            later,
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

async fn a_session_is_found_touched_and_deleted(database: TestDatabase) {
    let store = database.store();
    let ana = store
        .create_user(new_user("ana@example.com", Role::Viewer), now())
        .await
        .unwrap();
    let session = session_of("abc", ana.id);
    store.create_session(session.clone()).await.unwrap();
    assert_eq!(
        store.find_session("abc").await.unwrap(),
        Some((session.clone(), ana.clone()))
    );
    let later: Timestamp = "2026-11-21T12:30:00Z".parse().unwrap();
    store.touch_session("abc", later).await.unwrap();
    let (touched, _) = store.find_session("abc").await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, later);
    store.delete_session("abc").await.unwrap();
    assert!(store.find_session("abc").await.unwrap().is_none());
}

async fn a_private_incident_exists_only_for_its_members_and_admins(database: TestDatabase) {
    let store = database.store();
    let member = store
        .create_user(new_user("member@example.com", Role::Viewer), now())
        .await
        .unwrap();
    let via_team = store
        .create_user(new_user("team@example.com", Role::Viewer), now())
        .await
        .unwrap();
    let outsider = store
        .create_user(new_user("out@example.com", Role::Editor), now())
        .await
        .unwrap();
    let team = store.create_team("Payments".into(), now()).await.unwrap();
    let team = store
        .set_team_member(team.id, via_team.id, true, now())
        .await
        .unwrap();
    assert_eq!(
        team.members,
        [hindsight_domain::access::TeamMember {
            user_id: via_team.id,
            is_lead: true
        }]
    );
    let public = create(&*store, draft("Public", "2026-11-20T08:00:00Z")).await;
    let mut secret = draft("Breach", "2026-11-20T09:00:00Z");
    secret.private = true;
    secret.members.users = vec![member.id.get()];
    secret.members.teams = vec![team.id.get()];
    let secret = create(&*store, secret).await;

    let sees = |visibility: Visibility| {
        let store = Arc::clone(&store);
        async move {
            let page = store
                .list_incidents(&IncidentFilter::default(), visibility)
                .await
                .unwrap();
            let titles: Vec<String> = page
                .items
                .into_iter()
                .map(|incident| incident.content.title)
                .collect();
            let direct = store
                .get_incident(secret.id, visibility)
                .await
                .unwrap()
                .is_some();
            (titles, direct)
        }
    };
    let both = vec!["Breach".to_owned(), "Public".to_owned()];
    assert_eq!(sees(Visibility::Everything).await, (both.clone(), true));
    assert_eq!(
        sees(Visibility::MemberOf(member.id)).await,
        (both.clone(), true)
    );
    assert_eq!(sees(Visibility::MemberOf(via_team.id)).await, (both, true));
    assert_eq!(
        sees(Visibility::MemberOf(outsider.id)).await,
        (vec!["Public".to_owned()], false)
    );

    let hidden = store
        .update_incident(
            secret.id,
            Visibility::MemberOf(outsider.id),
            None,
            now(),
            Box::new(|_| panic!("hidden")),
        )
        .await;
    assert!(matches!(hidden, Err(StoreError::NotFound)));
    // Leaving the team ends the access through it.
    store
        .remove_team_member(team.id, via_team.id, now())
        .await
        .unwrap();
    assert!(
        store
            .get_incident(secret.id, Visibility::MemberOf(via_team.id))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_incident(public.id, Visibility::MemberOf(outsider.id))
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(store.list_teams().await.unwrap().len(), 1);
    let taken = store.create_team("Payments".into(), now()).await;
    assert!(matches!(taken, Err(StoreError::Conflict(_))));
}

async fn an_unknown_member_is_refused_by_field_and_writes_nothing(database: TestDatabase) {
    let store = database.store();
    let mut secret = draft("Breach", "2026-11-20T09:00:00Z");
    secret.private = true;
    secret.members.users = vec![4242];
    let result = store
        .create_incident(secret.validate(now()).unwrap(), None, now())
        .await;
    match result {
        Err(StoreError::Invalid(errors)) => {
            assert_eq!(
                errors.message_for("members.users"),
                Some("there is no user 4242")
            )
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(store.count_incidents().await.unwrap(), 0);
    let missing_team = store
        .set_team_member(
            hindsight_domain::access::TeamId::new(9).unwrap(),
            hindsight_domain::access::UserId::new(9).unwrap(),
            false,
            now(),
        )
        .await;
    assert!(matches!(missing_team, Err(StoreError::NotFound)));
}

async fn the_audit_log_is_append_only_and_newest_first(database: TestDatabase) {
    use hindsight_domain::access::NewAuditEvent;
    let store = database.store();
    for n in 0..5 {
        store
            .append_audit(NewAuditEvent {
                occurred_at: now(),
                user_id: None,
                actor: "cli".into(),
                action: "user.created",
                target: format!("user {n}"),
                detail: String::new(),
                address: None,
            })
            .await
            .unwrap();
    }
    let newest = store.list_audit(None, 2).await.unwrap();
    let targets: Vec<&str> = newest.iter().map(|event| event.target.as_str()).collect();
    assert_eq!(targets, ["user 4", "user 3"]);
    let older = store.list_audit(Some(newest[1].id), 10).await.unwrap();
    assert_eq!(older.len(), 3);
    assert_eq!(older[0].occurred_at, now());
    for sql in [
        "update audit_event set actor = 'someone else'",
        "delete from audit_event",
    ] {
        let refused = database.try_raw_sql(sql).await.unwrap_err();
        assert!(refused.contains("append-only"), "{sql}: {refused}");
    }
    assert_eq!(store.list_audit(None, 100).await.unwrap().len(), 5);
}

macro_rules! conformance {
    ($($story:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    super::$story(hindsight_store::testing::TestDatabase::sqlite().await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $story() {
                    if let Some(database) = hindsight_store::testing::TestDatabase::postgres().await {
                        super::$story(database).await;
                    }
                }
            )+
        }
    };
}

fn postmortem_document(incidents: &[IncidentId]) -> PostmortemDocument {
    PostmortemDocument {
        title: "Checkout outage".into(),
        incidents: incidents.to_vec(),
        template: "default".into(),
        ..PostmortemDocument::default()
    }
}

fn valid(document: PostmortemDocument) -> ValidDocument {
    let categories: Vec<String> = DEFAULT_FACTOR_CATEGORIES
        .iter()
        .map(|category| (*category).to_owned())
        .collect();
    document
        .validate(&builtin_templates()[0], &categories)
        .unwrap()
}

fn writer() -> Author {
    Author {
        user_id: None,
        name: "cli".into(),
    }
}

async fn new_postmortem(store: &dyn Store, incidents: &[IncidentId]) -> Postmortem {
    store
        .create_postmortem(
            NewPostmortem {
                id: None,
                status: PostmortemStatus::Draft,
                document: valid(postmortem_document(incidents)),
            },
            writer(),
            now(),
        )
        .await
        .unwrap()
}

fn set_section(key: &'static str, text: &'static str) -> PostmortemChange {
    Box::new(move |current: &Postmortem| {
        let mut document = current.document.clone();
        document.sections.insert(key.into(), text.into());
        Ok((current.status, valid(document)))
    })
}

async fn a_postmortem_keeps_every_version_and_refuses_a_stale_edit(database: TestDatabase) {
    let store = database.store();
    let incident = create(&*store, draft("Checkout 502", "2026-11-20T08:00:00Z")).await;
    let mut document = postmortem_document(&[incident.id]);
    document.why_chains.push(WhyChain {
        problem: "Checkout failed".into(),
        whys: vec![Why {
            question: "Why?".into(),
            answer: "A migration held a lock.".into(),
        }],
        root_cause: Some("No lock check.".into()),
    });
    document.factors.push(ContributingFactor {
        category: "testing_gap".into(),
        description: "No production-sized data in tests.".into(),
    });
    let created = store
        .create_postmortem(
            NewPostmortem {
                id: None,
                status: PostmortemStatus::Draft,
                document: valid(document),
            },
            writer(),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(created.version, 1);
    let read = store
        .get_postmortem(created.id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, created);

    let edited = store
        .update_postmortem(
            created.id,
            Visibility::Everything,
            Some(1),
            writer(),
            now(),
            set_section("summary", "Checkout failed for 14 minutes."),
        )
        .await
        .unwrap();
    assert_eq!(edited.version, 2);
    assert!(edited.updated_at > created.updated_at);

    let stale = store
        .update_postmortem(
            created.id,
            Visibility::Everything,
            Some(1),
            writer(),
            now(),
            set_section("summary", "Someone else's older text."),
        )
        .await;
    assert!(
        matches!(stale, Err(StoreError::VersionConflict(2))),
        "{stale:?}"
    );
    let unchanged = store
        .update_postmortem(
            created.id,
            Visibility::Everything,
            Some(2),
            writer(),
            now(),
            set_section("summary", "Checkout failed for 14 minutes."),
        )
        .await
        .unwrap();
    assert_eq!(
        unchanged.version, 2,
        "a change that alters nothing is no version"
    );

    let history = store
        .list_revisions(created.id, Visibility::Everything)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[0].document, created.document);
    assert_eq!(history[1].changed, ["sections.summary"]);
    assert_eq!(
        history[1].document.sections["summary"],
        "Checkout failed for 14 minutes."
    );
    assert_eq!(history[1].author, writer());
}

async fn concurrent_postmortem_edits_on_one_version_let_exactly_one_through(
    database: TestDatabase,
) {
    let store = database.store();
    let incident = create(&*store, draft("Checkout 502", "2026-11-20T08:00:00Z")).await;
    let postmortem = new_postmortem(&*store, &[incident.id]).await;
    let texts = [
        "one", "two", "three", "four", "five", "six", "seven", "eight",
    ];
    let edits = texts.map(|text| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .update_postmortem(
                    postmortem.id,
                    Visibility::Everything,
                    Some(1),
                    writer(),
                    now(),
                    set_section("summary", text),
                )
                .await
        })
    });
    let mut won = Vec::new();
    for edit in edits {
        match edit.await.unwrap() {
            Ok(postmortem) => won.push(postmortem),
            Err(StoreError::VersionConflict(2)) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!(won.len(), 1);
    let history = store
        .list_revisions(postmortem.id, Visibility::Everything)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].document, won[0].document);
}

async fn a_postmortem_is_hidden_with_its_private_incident_and_refuses_unknown_incidents(
    database: TestDatabase,
) {
    let store = database.store();
    let outsider = store
        .create_user(new_user("out@example.com", Role::Editor), now())
        .await
        .unwrap();
    let public = create(&*store, draft("Public", "2026-11-20T08:00:00Z")).await;
    let mut secret = draft("Breach", "2026-11-20T09:00:00Z");
    secret.private = true;
    let secret = create(&*store, secret).await;
    let open = new_postmortem(&*store, &[public.id]).await;
    let hidden = new_postmortem(&*store, &[public.id, secret.id]).await;
    let outside = Visibility::MemberOf(outsider.id);
    let listed = store
        .list_postmortems(
            &PostmortemFilter {
                limit: 50,
                ..PostmortemFilter::default()
            },
            outside,
        )
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|p| p.id).collect::<Vec<_>>(), [open.id]);
    assert!(
        store
            .get_postmortem(hidden.id, outside)
            .await
            .unwrap()
            .is_none()
    );
    let edit = store
        .update_postmortem(
            hidden.id,
            outside,
            None,
            writer(),
            now(),
            set_section("summary", "x"),
        )
        .await;
    assert!(matches!(edit, Err(StoreError::NotFound)));
    let by_incident = store
        .list_postmortems(
            &PostmortemFilter {
                incident: Some(secret.id),
                limit: 50,
                ..PostmortemFilter::default()
            },
            Visibility::Everything,
        )
        .await
        .unwrap();
    assert_eq!(by_incident.len(), 1);

    let before = store
        .list_postmortems(
            &PostmortemFilter {
                limit: 50,
                ..PostmortemFilter::default()
            },
            Visibility::Everything,
        )
        .await
        .unwrap();
    let unknown = store
        .create_postmortem(
            NewPostmortem {
                id: None,
                status: PostmortemStatus::Draft,
                document: valid(postmortem_document(&[IncidentId::new(424_242).unwrap()])),
            },
            writer(),
            now(),
        )
        .await;
    assert!(
        matches!(unknown, Err(StoreError::Invalid(_))),
        "{unknown:?}"
    );
    let after = store
        .list_postmortems(
            &PostmortemFilter {
                limit: 50,
                ..PostmortemFilter::default()
            },
            Visibility::Everything,
        )
        .await
        .unwrap();
    assert_eq!(before, after, "nothing half-written");
}

async fn an_imported_postmortem_keeps_its_id_and_new_ones_do_not_collide(database: TestDatabase) {
    let store = database.store();
    let incident = create(&*store, draft("Checkout 502", "2026-11-20T08:00:00Z")).await;
    let imported = store
        .create_postmortem(
            NewPostmortem {
                id: PostmortemId::new(40),
                status: PostmortemStatus::Published,
                document: valid(postmortem_document(&[incident.id])),
            },
            writer(),
            now(),
        )
        .await
        .unwrap();
    assert_eq!(imported.id.get(), 40);
    let again = store
        .create_postmortem(
            NewPostmortem {
                id: PostmortemId::new(40),
                status: PostmortemStatus::Draft,
                document: valid(postmortem_document(&[incident.id])),
            },
            writer(),
            now(),
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let next = new_postmortem(&*store, &[incident.id]).await;
    assert!(next.id.get() > 40);
}

async fn a_team_template_is_stored_once_per_key(database: TestDatabase) {
    let store = database.store();
    let mut template = builtin_templates().remove(1);
    template.key = "security".into();
    store
        .create_template(template.clone(), now())
        .await
        .unwrap();
    let again = store.create_template(template.clone(), now()).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(store.list_templates().await.unwrap(), [template]);
}

fn event(kind: EventKind, at: &str, text: &str, external_id: Option<&str>) -> NewEvent {
    NewEvent {
        content: EventContent {
            kind,
            occurred_at: at.parse().unwrap(),
            text: text.into(),
            key: false,
            link: None,
        },
        source: if external_id.is_some() {
            EventSource::Alert
        } else {
            EventSource::Manual
        },
        author: Some("Ada".into()),
        external_id: external_id.map(str::to_owned),
        holds: None,
    }
}

fn held(events: &[TimelineEvent]) -> Vec<(KeyTime, EventSource, String)> {
    let mut held: Vec<_> = events
        .iter()
        .filter_map(|e| {
            e.holds
                .map(|k| (k, e.source, e.content.occurred_at.to_string()))
        })
        .collect();
    held.sort();
    held
}

async fn an_incidents_key_times_are_on_its_timeline_and_move_with_it(database: TestDatabase) {
    let store = database.store();
    let mut first = draft("Checkout 502s", "2026-11-20T12:20:00Z");
    first.detected_at = Some("2026-11-20T14:10:00Z".into());
    let created = store
        .create_incident(first.validate(now()).unwrap(), Some("Ada".into()), now())
        .await
        .unwrap();
    let events = store
        .list_events(created.id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        held(&events),
        [
            (
                KeyTime::Started,
                EventSource::System,
                "2026-11-20T12:20:00Z".into()
            ),
            (
                KeyTime::Detected,
                EventSource::System,
                "2026-11-20T14:10:00Z".into()
            ),
        ]
    );
    assert_eq!(events[0].author.as_deref(), Some("Ada"));

    store
        .update_incident(
            created.id,
            Visibility::Everything,
            Some("Grace".into()),
            now(),
            Box::new(|current| {
                let patch: IncidentPatch = serde_json::from_str(
                    r#"{"detected_at":"2026-11-20T14:00:00Z","severity":"SEV1"}"#,
                )
                .unwrap();
                patch.apply_to(&current.content).validate(now())
            }),
        )
        .await
        .unwrap();
    let events = store
        .list_events(created.id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(held(&events)[1].2, "2026-11-20T14:00:00Z");
    let note = events
        .iter()
        .find(|e| e.content.kind == EventKind::Note)
        .unwrap();
    assert_eq!(note.content.text, "Severity changed from SEV2 to SEV1.");
    assert_eq!(note.author.as_deref(), Some("Grace"));
}

async fn a_timeline_change_writes_events_and_key_times_together(database: TestDatabase) {
    let store = database.store();
    let incident = create(&*store, draft("Queue stuck", "2026-11-20T08:00:00Z")).await;
    let added = store
        .change_timeline(
            incident.id,
            Visibility::Everything,
            None,
            now(),
            Box::new(|incident, events| {
                timeline::add_events(
                    incident,
                    events,
                    vec![(
                        event(EventKind::Resolved, "2026-11-20T09:30:00Z", "Drained", None),
                        true,
                    )],
                    now(),
                )
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        added.incident.content.resolved_at,
        Some("2026-11-20T09:30:00Z".parse().unwrap())
    );
    let resolved = added.inserted[0].clone();
    assert_eq!(resolved.holds, Some(KeyTime::Resolved));

    // A change the rules refuse writes nothing.
    let refused = store
        .change_timeline(
            incident.id,
            Visibility::Everything,
            Some(resolved.id),
            now(),
            Box::new(move |incident, events| {
                let target = events.iter().find(|e| e.id == resolved.id).unwrap();
                let mut content = target.content.clone();
                content.occurred_at = "2026-11-20T07:00:00Z".parse().unwrap();
                timeline::edit_event(incident, events, target, content, true, None, now())
            }),
        )
        .await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );

    let removed_id = added.inserted[0].id;
    let removed = store
        .change_timeline(
            incident.id,
            Visibility::Everything,
            Some(removed_id),
            now(),
            Box::new(move |incident, events| {
                let target = events.iter().find(|e| e.id == removed_id).unwrap();
                timeline::remove_event(incident, events, target, Some("Ada"), now())
            }),
        )
        .await
        .unwrap();
    assert_eq!(removed.inserted[0].holds, Some(KeyTime::Resolved));
    let events = store
        .list_events(incident.id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        held(&events),
        [
            (
                KeyTime::Started,
                EventSource::System,
                "2026-11-20T08:00:00Z".into()
            ),
            (
                KeyTime::Resolved,
                EventSource::System,
                "2026-11-20T09:30:00Z".into()
            ),
        ]
    );
    let stored = store
        .get_incident(incident.id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        stored.content.resolved_at,
        Some("2026-11-20T09:30:00Z".parse().unwrap())
    );

    let missing = store
        .change_timeline(
            incident.id,
            Visibility::Everything,
            Some(removed_id),
            now(),
            Box::new(|_, _| panic!("no such event")),
        )
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

fn alert(delivery: Option<&str>) -> AlertIntake {
    AlertIntake {
        source: "alertmanager",
        delivery_id: delivery.map(str::to_owned),
        links: vec![
            "group:{}:{alertname=\"HighErrorRate\"}".into(),
            "fp:7d2d332feada5c59".into(),
        ],
        open: Some(
            IncidentDraft {
                detection: Some("monitoring".into()),
                detected_at: Some("2026-11-20T12:30:00Z".into()),
                ..draft("HighErrorRate", "2026-11-20T12:30:00Z")
            }
            .validate(now())
            .unwrap(),
        ),
        events: vec![event(
            EventKind::Alerted,
            "2026-11-20T12:30:00Z",
            "HighErrorRate firing",
            Some("am:7d2d332feada5c59:firing:1"),
        )],
    }
}

async fn an_alert_delivered_again_or_concurrently_opens_one_incident_with_its_events_once(
    database: TestDatabase,
) {
    let store = database.store();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.record_alert(alert(None), now()).await.unwrap()
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_eq!(outcomes.iter().filter(|o| o.opened).count(), 1);
    assert_eq!(outcomes.iter().map(|o| o.events_added).sum::<usize>(), 1);
    let id = outcomes[0].incident_id.unwrap();
    assert!(outcomes.iter().all(|o| o.incident_id == Some(id)));
    assert_eq!(store.count_incidents().await.unwrap(), 1);

    // Resolved: found by its fingerprint alone, resolution set on the incident.
    let mut resolved = alert(Some("delivery-1"));
    resolved.links = vec!["fp:7d2d332feada5c59".into()];
    resolved.events = vec![event(
        EventKind::Resolved,
        "2026-11-20T13:00:00Z",
        "HighErrorRate resolved",
        Some("am:7d2d332feada5c59:resolved:1"),
    )];
    let outcome = store.record_alert(resolved.clone(), now()).await.unwrap();
    assert_eq!(
        (outcome.incident_id, outcome.opened, outcome.events_added),
        (Some(id), false, 1)
    );
    let again = store.record_alert(resolved, now()).await.unwrap();
    assert!(again.duplicate);
    assert_eq!(again.events_added, 0);

    let incident = store
        .get_incident(id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        incident.content.resolved_at,
        Some("2026-11-20T13:00:00Z".parse().unwrap())
    );
    let events = store
        .list_events(id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    let kinds: Vec<_> = events.iter().map(|e| (e.content.kind, e.source)).collect();
    assert_eq!(
        kinds,
        [
            (EventKind::ErrorIntroduced, EventSource::System),
            (EventKind::Detected, EventSource::System),
            (EventKind::Alerted, EventSource::Alert),
            (EventKind::Resolved, EventSource::Alert),
        ]
    );
}

async fn an_import_adds_each_event_once_and_a_bad_batch_keeps_nothing(database: TestDatabase) {
    let store = database.store();
    let incident = create(&*store, draft("Chat import", "2026-11-20T08:00:00Z")).await;
    let batches = |fail: bool| {
        let (sender, receiver) = tokio::sync::mpsc::channel(2);
        tokio::spawn(async move {
            for batch in 0..3 {
                let events = (0..100)
                    .map(|n| {
                        let mut chat = event(
                            EventKind::Communication,
                            "2026-11-20T09:00:00Z",
                            &format!("message {batch}/{n} ✓"),
                            Some(&format!("slack:C1:{batch}.{n}")),
                        );
                        chat.source = EventSource::Chat;
                        chat
                    })
                    .collect();
                sender.send(Ok(events)).await.unwrap();
            }
            if fail {
                sender
                    .send(Err("day 2026-11-21.json: not JSON".into()))
                    .await
                    .unwrap();
            }
        });
        receiver
    };
    let failed = store
        .import_events(incident.id, Visibility::Everything, now(), batches(true))
        .await;
    match failed {
        Err(StoreError::Invalid(errors)) => assert!(errors.summary().contains("2026-11-21.json")),
        other => panic!("expected the batch's error, got {other:?}"),
    }
    let count = |store: Arc<dyn Store>| async move {
        store
            .list_events(incident.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap()
            .len()
    };
    assert_eq!(
        count(Arc::clone(&store)).await,
        1,
        "only the start is on the timeline"
    );

    let first = store
        .import_events(incident.id, Visibility::Everything, now(), batches(false))
        .await
        .unwrap();
    assert_eq!((first.added, first.skipped), (300, 0));
    let again = store
        .import_events(incident.id, Visibility::Everything, now(), batches(false))
        .await
        .unwrap();
    assert_eq!((again.added, again.skipped), (0, 300));
    assert_eq!(count(Arc::clone(&store)).await, 301);
}

async fn a_private_incidents_timeline_does_not_exist_for_outsiders(database: TestDatabase) {
    let store = database.store();
    let outsider = store
        .create_user(
            NewUser {
                email: "out@example.com".into(),
                display_name: "Out".into(),
                role: Role::Editor,
                password_hash: "x".into(),
            },
            now(),
        )
        .await
        .unwrap();
    let mut secret = draft("Breach", "2026-11-20T08:00:00Z");
    secret.private = true;
    let secret = create(&*store, secret).await;
    let hidden = Visibility::MemberOf(outsider.id);
    assert!(
        store
            .list_events(secret.id, hidden)
            .await
            .unwrap()
            .is_none()
    );
    let change = store
        .change_timeline(
            secret.id,
            hidden,
            None,
            now(),
            Box::new(|_, _| panic!("hidden")),
        )
        .await;
    assert!(matches!(change, Err(StoreError::NotFound)), "{change:?}");
    let (sender, receiver) = tokio::sync::mpsc::channel(1);
    drop(sender);
    let import = store
        .import_events(secret.id, hidden, now(), receiver)
        .await;
    assert!(matches!(import, Err(StoreError::NotFound)), "{import:?}");
}

fn judgement(config: &PolicyConfig) -> PolicyJudgement {
    let config = config.clone();
    Box::new(move |incident, requests, override_| {
        policy::judge(&config, &incident.content, requests, override_)
    })
}

fn person(user: Option<hindsight_domain::access::UserId>, name: &str) -> Author {
    Author {
        user_id: user,
        name: name.into(),
    }
}

async fn the_policy_keeps_each_changed_decision_and_the_pending_postmortem_follows_it(
    database: TestDatabase,
) {
    let store = database.store();
    let alex = store
        .create_user(new_user("alex@example.com", Role::Editor), now())
        .await
        .unwrap();
    let mut sev1 = draft("Checkout down", "2026-11-20T08:00:00Z");
    sev1.severity = Some("SEV1".into());
    sev1.owner = Some("ALEX".into());
    sev1.resolved_at = Some("2026-11-20T09:00:00Z".into());
    let incident = create(&*store, sev1).await;
    let config = PolicyConfig::default();

    let state = store
        .judge_incident(incident.id, now(), judgement(&config))
        .await
        .unwrap();
    assert_eq!(state.outcome, Some(PolicyOutcome::Required));
    assert_eq!(state.history.len(), 1);
    let pending = state.pending.unwrap();
    assert_eq!(pending.owner.unwrap().id, alex.id, "found by display name");
    assert_eq!(pending.due_on, Some(jiff::civil::date(2026, 11, 27)));

    // Nothing changed: no new decision in the history.
    let again = store
        .judge_incident(incident.id, now(), judgement(&config))
        .await
        .unwrap();
    assert_eq!(again.history.len(), 1);

    store
        .override_policy(
            incident.id,
            Visibility::Everything,
            PolicyOverride {
                outcome: Some(PolicyOutcome::NotNeeded),
                justification: "A drill, announced in advance".into(),
                by: person(Some(alex.id), "alex"),
                at: now(),
            },
        )
        .await
        .unwrap();
    let overridden = store
        .judge_incident(incident.id, now(), judgement(&config))
        .await
        .unwrap();
    assert_eq!(overridden.outcome, Some(PolicyOutcome::NotNeeded));
    assert_eq!(
        overridden.decision.as_ref().unwrap().decision.outcome,
        PolicyOutcome::Required,
        "the policy's own decision is kept beside the override"
    );
    assert_eq!(overridden.pending, None);
    assert_eq!(
        overridden.override_.unwrap().justification,
        "A drill, announced in advance"
    );

    store
        .request_postmortem(
            incident.id,
            Visibility::Everything,
            PostmortemRequest {
                requested_by: person(None, "Sam"),
                reason: "I want to know why the drill paged".into(),
                at: now(),
            },
        )
        .await
        .unwrap();
    store
        .override_policy(
            incident.id,
            Visibility::Everything,
            PolicyOverride {
                outcome: None,
                justification: "Sam asked; back to the policy".into(),
                by: person(Some(alex.id), "alex"),
                at: now(),
            },
        )
        .await
        .unwrap();
    let state = store
        .judge_incident(incident.id, now(), judgement(&config))
        .await
        .unwrap();
    assert_eq!(state.outcome, Some(PolicyOutcome::Required));
    assert_eq!(state.history.len(), 2, "the request changed the reasons");
    assert_eq!(state.requests.len(), 1);
    assert_eq!(state.overrides.len(), 2);
    assert!(state.override_.is_none());
    assert!(state.pending.is_some());
    assert_eq!(
        store
            .get_policy(incident.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap(),
        state
    );
}

async fn postmortem_debt_lists_unpublished_required_postmortems_earliest_due_first(
    database: TestDatabase,
) {
    let store = database.store();
    let outsider = store
        .create_user(new_user("out@example.com", Role::Editor), now())
        .await
        .unwrap();
    let config = PolicyConfig::default();
    let mut ids = Vec::new();
    for (title, resolved, private) in [
        ("Later", Some("2026-11-19T09:00:00Z"), false),
        ("Unresolved", None, false),
        ("Earlier", Some("2026-11-02T09:00:00Z"), false),
        ("Published", Some("2026-11-01T09:00:00Z"), false),
        ("Secret", Some("2026-11-03T09:00:00Z"), true),
    ] {
        let mut incident = draft(title, "2026-11-01T08:00:00Z");
        incident.severity = Some("SEV1".into());
        incident.resolved_at = resolved.map(str::to_owned);
        incident.private = private;
        let incident = create(&*store, incident).await;
        store
            .judge_incident(incident.id, now(), judgement(&config))
            .await
            .unwrap();
        ids.push(incident.id);
    }
    let published = new_postmortem(&*store, &[ids[3]]).await;
    store
        .update_postmortem(
            published.id,
            Visibility::Everything,
            None,
            writer(),
            now(),
            Box::new(|current: &Postmortem| {
                Ok((PostmortemStatus::Published, valid(current.document.clone())))
            }),
        )
        .await
        .unwrap();
    let draft_pm = new_postmortem(&*store, &[ids[0]]).await;

    let titles = |debt: Vec<hindsight_store::PendingPostmortem>| {
        debt.into_iter()
            .map(|pending| pending.incident_title)
            .collect::<Vec<_>>()
    };
    let debt = store
        .list_postmortem_debt(Visibility::Everything)
        .await
        .unwrap();
    assert_eq!(debt[2].postmortem_id, Some(draft_pm.id));
    assert_eq!(
        debt[2].postmortem_status,
        Some(PostmortemStatus::Draft),
        "a draft does not settle the debt"
    );
    assert_eq!(titles(debt), ["Earlier", "Secret", "Later", "Unresolved"]);
    assert_eq!(
        titles(
            store
                .list_postmortem_debt(Visibility::MemberOf(outsider.id))
                .await
                .unwrap()
        ),
        ["Earlier", "Later", "Unresolved"]
    );
}

fn item(title: &str, owner: Option<Owner>, due_on: &str) -> ActionItemContent {
    ActionItemDraft {
        title: Some(title.into()),
        owner: owner.map(|owner| owner.to_string()),
        due_on: Some(due_on.into()),
        ..Default::default()
    }
    .validate(&ItemContext {
        created_on: jiff::civil::date(2026, 11, 21),
        targets: DueTargets::default(),
        why_chains: 0,
        factors: 0,
    })
    .unwrap()
}

async fn action_items_are_filtered_by_owner_team_status_due_incident_and_service(
    database: TestDatabase,
) {
    let store = database.store();
    let lead = store
        .create_user(new_user("lead@example.com", Role::Editor), now())
        .await
        .unwrap();
    let member = store
        .create_user(new_user("member@example.com", Role::Editor), now())
        .await
        .unwrap();
    let outsider = store
        .create_user(new_user("out@example.com", Role::Editor), now())
        .await
        .unwrap();
    let team = store.create_team("Payments".into(), now()).await.unwrap();
    store
        .set_team_member(team.id, member.id, false, now())
        .await
        .unwrap();
    let mut checkout = draft("Checkout", "2026-11-01T08:00:00Z");
    checkout.services = vec!["checkout".into()];
    checkout.status = Some("closed".into());
    checkout.resolved_at = Some("2026-11-01T09:00:00Z".into());
    let checkout = create(&*store, checkout).await;
    let mut secret = draft("Secret", "2026-11-02T08:00:00Z");
    secret.services = vec!["vault".into()];
    secret.private = true;
    secret.members.users = vec![lead.id.get()];
    let secret = create(&*store, secret).await;
    let public_pm = new_postmortem(&*store, &[checkout.id]).await;
    let secret_pm = new_postmortem(&*store, &[secret.id]).await;

    let add = |postmortem: PostmortemId, content: ActionItemContent| {
        let store = Arc::clone(&store);
        async move {
            store
                .create_action_item(postmortem, Visibility::Everything, content, writer(), now())
                .await
                .unwrap()
        }
    };
    let by_lead = add(
        public_pm.id,
        item("Alert on lag", Some(Owner::User(lead.id)), "2026-11-10"),
    )
    .await;
    let by_member = add(
        public_pm.id,
        item("Runbook", Some(Owner::User(member.id)), "2026-12-10"),
    )
    .await;
    let by_team = add(
        public_pm.id,
        item("Canary", Some(Owner::Team(team.id)), "2027-01-10"),
    )
    .await;
    let hidden = add(
        secret_pm.id,
        item("Rotate keys", Some(Owner::User(lead.id)), "2026-11-01"),
    )
    .await;
    assert_eq!(by_lead.owner_name.as_deref(), Some("lead"));
    assert_eq!(by_team.owner_name.as_deref(), Some("Payments"));
    assert_eq!(by_lead.incidents, [checkout.id]);
    assert_eq!(by_lead.postmortem_title, "Checkout outage");

    let done = store
        .update_action_item(
            by_member.id,
            Visibility::Everything,
            now(),
            Box::new(|current| {
                let mut content = current.content.clone();
                content.status = ActionStatus::Done;
                content.verification = Some("Used in the drill of 20 Nov".into());
                Ok(content)
            }),
        )
        .await
        .unwrap();
    assert_eq!(done.finished_at, Some(now()));

    let ids = |filter: ActionItemFilter, visibility: Visibility| {
        let store = Arc::clone(&store);
        async move {
            store
                .list_action_items(
                    &ActionItemFilter {
                        limit: 100,
                        ..filter
                    },
                    visibility,
                )
                .await
                .unwrap()
                .into_iter()
                .map(|item| item.id)
                .collect::<Vec<_>>()
        }
    };
    let all = Visibility::Everything;
    assert_eq!(
        ids(ActionItemFilter::default(), all).await,
        [hidden.id, by_lead.id, by_team.id, by_member.id],
        "unfinished first, then the earliest due"
    );
    assert_eq!(
        ids(
            ActionItemFilter::default(),
            Visibility::MemberOf(outsider.id)
        )
        .await,
        [by_lead.id, by_team.id, by_member.id],
        "a private incident's items are hidden with it"
    );
    assert_eq!(
        ids(
            ActionItemFilter {
                owner: Some(Owner::User(lead.id)),
                ..Default::default()
            },
            all
        )
        .await,
        [hidden.id, by_lead.id]
    );
    assert_eq!(
        ids(
            ActionItemFilter {
                team: Some(team.id),
                ..Default::default()
            },
            all
        )
        .await,
        [by_team.id, by_member.id],
        "a team's items include its members'"
    );
    assert_eq!(
        ids(
            ActionItemFilter {
                statuses: vec![ActionStatus::Done],
                ..Default::default()
            },
            all
        )
        .await,
        [by_member.id]
    );
    assert_eq!(
        ids(
            ActionItemFilter {
                overdue_on: Some(jiff::civil::date(2026, 12, 20)),
                ..Default::default()
            },
            all
        )
        .await,
        [hidden.id, by_lead.id],
        "done is never overdue"
    );
    assert_eq!(
        ids(
            ActionItemFilter {
                due_before: Some(jiff::civil::date(2026, 12, 10)),
                ..Default::default()
            },
            all
        )
        .await,
        [hidden.id, by_lead.id, by_member.id]
    );
    assert_eq!(
        ids(
            ActionItemFilter {
                incident: Some(secret.id),
                ..Default::default()
            },
            all
        )
        .await,
        [hidden.id]
    );
    assert_eq!(
        ids(
            ActionItemFilter {
                service: Some("checkout".into()),
                postmortem: Some(public_pm.id),
                ..Default::default()
            },
            all
        )
        .await,
        [by_lead.id, by_team.id, by_member.id]
    );
    assert_eq!(
        store
            .get_action_item(hidden.id, Visibility::MemberOf(outsider.id))
            .await
            .unwrap(),
        None
    );
}

async fn an_action_item_change_is_checked_and_an_unknown_owner_changes_nothing(
    database: TestDatabase,
) {
    let store = database.store();
    let incident = create(&*store, draft("Checkout", "2026-11-01T08:00:00Z")).await;
    let postmortem = new_postmortem(&*store, &[incident.id]).await;
    let created = store
        .create_action_item(
            postmortem.id,
            Visibility::Everything,
            item("Canary", None, "2026-12-01"),
            writer(),
            now(),
        )
        .await
        .unwrap();
    let unknown = hindsight_domain::access::UserId::new(999).unwrap();
    let refused = store
        .update_action_item(
            created.id,
            Visibility::Everything,
            now(),
            Box::new(move |current| {
                let mut content = current.content.clone();
                content.owner = Some(Owner::User(unknown));
                Ok(content)
            }),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, StoreError::Invalid(errors) if errors.0[0].field == "owner"),
        "{refused:?}"
    );
    let refused = store
        .create_action_item(
            postmortem.id,
            Visibility::Everything,
            item("Orphan", Some(Owner::User(unknown)), "2026-12-01"),
            writer(),
            now(),
        )
        .await
        .unwrap_err();
    assert!(matches!(refused, StoreError::Invalid(_)), "{refused:?}");
    assert_eq!(
        store
            .get_action_item(created.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap(),
        created
    );
    let later: Timestamp = "2026-11-22T12:00:00Z".parse().unwrap();
    let finished = store
        .update_action_item(
            created.id,
            Visibility::Everything,
            later,
            Box::new(|current| {
                let mut content = current.content.clone();
                content.status = ActionStatus::NotDoing;
                content.not_doing_reason = Some("The service is being retired".into());
                Ok(content)
            }),
        )
        .await
        .unwrap();
    assert_eq!(finished.finished_at, Some(later));
    let reopened = store
        .update_action_item(
            created.id,
            Visibility::Everything,
            later,
            Box::new(|current| {
                let mut content = current.content.clone();
                content.status = ActionStatus::Open;
                content.not_doing_reason = None;
                Ok(content)
            }),
        )
        .await
        .unwrap();
    assert_eq!(reopened.finished_at, None);
    // The database refuses a done item without its note, whoever writes it.
    let sql = format!(
        "update action_item set status = 'done' where action_item_id = {}",
        created.id
    );
    assert!(database.try_raw_sql(&sql).await.is_err());
}

async fn a_version_written_with_action_items_in_its_document_still_reads(database: TestDatabase) {
    let store = database.store();
    let incident = create(&*store, draft("Checkout", "2026-11-01T08:00:00Z")).await;
    let postmortem = new_postmortem(&*store, &[incident.id]).await;
    let document = serde_json::json!({
        "title": "Checkout outage",
        "incidents": [incident.id],
        "template": "default",
        "action_items": [{"title": "Add a lock timeout", "owner": "Payments"}],
    });
    let at = if database.url().starts_with("postgres") {
        "'2026-11-21T12:00:00Z'".to_owned()
    } else {
        now().as_microsecond().to_string()
    };
    database
        .try_raw_sql(&format!(
            "insert into postmortem_revision (postmortem_id, version, status, author_name,              changed, document, created_at) values ({}, 2, 'draft', 'old', '[]', '{}', {at})",
            postmortem.id, document
        ))
        .await
        .unwrap();
    let revisions = store
        .list_revisions(postmortem.id, Visibility::Everything)
        .await
        .unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[1].document.title, "Checkout outage");
}

fn reminder(key: &str) -> hindsight_domain::notify::NewNotification {
    use hindsight_domain::notify::{Audience, Message, NewNotification, NotificationKind};
    NewNotification {
        dedupe_key: key.into(),
        kind: NotificationKind::Reminder,
        private: false,
        audience: Audience {
            teams: vec!["payments".into()],
            ..Audience::default()
        },
        message: Message {
            subject: format!("Reminder {key}"),
            intro: "Please".into(),
            sections: Vec::new(),
            link: None,
            calendar: None,
            data: serde_json::json!({"key": key}),
        },
    }
}

async fn a_job_is_scheduled_once_claimed_by_one_worker_and_its_notifications_kept_once(
    database: TestDatabase,
) {
    use hindsight_store::NewJob;
    use std::time::Duration;
    let store = database.store();
    let job = NewJob {
        kind: "reminders".into(),
        dedupe_key: "reminders:2026-11-21".into(),
        run_at: now(),
    };
    assert!(store.schedule_job(job.clone(), now()).await.unwrap());
    assert!(
        !store.schedule_job(job, now()).await.unwrap(),
        "a second instance scheduling the same slot adds nothing"
    );
    let early = now()
        .checked_sub(jiff::SignedDuration::from_secs(1))
        .unwrap();
    assert!(
        store
            .claim_job("a", early, Duration::from_secs(60))
            .await
            .unwrap()
            .is_none(),
        "not due yet"
    );

    let lease = Duration::from_secs(60);
    let claims = claim_concurrently(&store, lease).await;
    assert_eq!(
        claims.iter().filter(|claim| claim.is_some()).count(),
        1,
        "one of eight claims wins"
    );
    let claimed = claims.into_iter().flatten().next().unwrap();
    assert_eq!(claimed.kind, "reminders");

    // The holder dies; after its lease another instance takes the job over.
    let later = now()
        .checked_add(jiff::SignedDuration::from_secs(61))
        .unwrap();
    let again = store.claim_job("b", later, lease).await.unwrap().unwrap();
    assert_eq!(again.id, claimed.id);

    let planned = vec![reminder("item:1:due"), reminder("item:2:due")];
    assert_eq!(
        store
            .complete_job(again.id, later, planned.clone())
            .await
            .unwrap(),
        2
    );
    // The first holder wakes up and completes too: its notifications exist already.
    assert_eq!(
        store
            .complete_job(claimed.id, later, planned)
            .await
            .unwrap(),
        0
    );
    assert!(
        store.claim_job("c", later, lease).await.unwrap().is_none(),
        "done"
    );

    // A failing job is retried at the given time, then given up on.
    store
        .schedule_job(
            NewJob {
                kind: "digest".into(),
                dedupe_key: "digest:2026-11-20".into(),
                run_at: now(),
            },
            now(),
        )
        .await
        .unwrap();
    let digest = store.claim_job("a", later, lease).await.unwrap().unwrap();
    let retry_at = later
        .checked_add(jiff::SignedDuration::from_secs(30))
        .unwrap();
    store
        .fail_job(digest.id, "boom".into(), Some(retry_at))
        .await
        .unwrap();
    assert!(
        store.claim_job("a", later, lease).await.unwrap().is_none(),
        "backing off"
    );
    let retried = store
        .claim_job("a", retry_at, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(retried.attempts, 1);
    store
        .fail_job(retried.id, "boom again".into(), None)
        .await
        .unwrap();
    let far = retry_at
        .checked_add(jiff::SignedDuration::from_hours(48))
        .unwrap();
    assert!(
        store.claim_job("a", far, lease).await.unwrap().is_none(),
        "dead"
    );
}

async fn claim_concurrently(
    store: &Arc<dyn Store>,
    lease: std::time::Duration,
) -> Vec<Option<hindsight_store::Job>> {
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.claim_job(&format!("w{n}"), now(), lease).await })
        })
        .collect();
    let mut claims = Vec::new();
    for task in tasks {
        claims.push(task.await.unwrap().unwrap());
    }
    claims
}

async fn a_notification_is_routed_once_delivered_retried_and_a_gone_channel_disabled(
    database: TestDatabase,
) {
    use hindsight_domain::notify::{AttemptOutcome, DeliveryStatus};
    use hindsight_store::{Attempt, DeliveryFilter};
    use std::time::Duration;
    let store = database.store();
    let lease = Duration::from_secs(60);
    store
        .schedule_job(
            hindsight_store::NewJob {
                kind: "x".into(),
                dedupe_key: "x".into(),
                run_at: now(),
            },
            now(),
        )
        .await
        .unwrap();
    let job = store.claim_job("w", now(), lease).await.unwrap().unwrap();
    store
        .complete_job(job.id, now(), vec![reminder("a"), reminder("b")])
        .await
        .unwrap();

    let route = || -> hindsight_store::RouteFn {
        Box::new(|notification| {
            assert_eq!(notification.audience.teams, ["payments"]);
            vec!["channel:hook".into(), "email:ada@example.com".into()]
        })
    };
    assert_eq!(
        store
            .route_notifications(now(), 100, route())
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .route_notifications(now(), 100, route())
            .await
            .unwrap(),
        0,
        "routed once"
    );

    let first = store.claim_deliveries("w1", now(), lease, 3).await.unwrap();
    let rest = store
        .claim_deliveries("w2", now(), lease, 10)
        .await
        .unwrap();
    assert_eq!((first.len(), rest.len()), (3, 1), "claims do not overlap");
    assert_eq!(first[0].notification.message.subject, "Reminder a");

    let attempt = |outcome, retry_at, status: Option<u16>| Attempt {
        worker: "w1".into(),
        at: now(),
        outcome,
        retry_at,
        http_status: status,
        error: (outcome != AttemptOutcome::Delivered).then(|| format!("HTTP {status:?}")),
    };
    let soon = now()
        .checked_add(jiff::SignedDuration::from_secs(30))
        .unwrap();
    store
        .record_attempt(
            first[0].id,
            attempt(AttemptOutcome::Delivered, None, Some(200)),
        )
        .await
        .unwrap();
    store
        .record_attempt(
            first[1].id,
            attempt(AttemptOutcome::Retry, Some(soon), Some(500)),
        )
        .await
        .unwrap();
    store
        .record_attempt(
            first[2].id,
            attempt(AttemptOutcome::Disabled, None, Some(410)),
        )
        .await
        .unwrap();
    store
        .record_attempt(rest[0].id, attempt(AttemptOutcome::Dead, None, Some(500)))
        .await
        .unwrap();
    assert_eq!(store.disabled_channels().await.unwrap(), ["hook"]);

    let all = store
        .list_deliveries(&DeliveryFilter {
            status: None,
            limit: 100,
        })
        .await
        .unwrap();
    let status_of = |id: i64| all.iter().find(|d| d.id == id).unwrap().clone();
    assert_eq!(status_of(first[0].id).status, DeliveryStatus::Delivered);
    assert!(status_of(first[0].id).delivered_at.is_some());
    assert_eq!(status_of(first[1].id).status, DeliveryStatus::Pending);
    assert_eq!(status_of(first[1].id).history[0].http_status, Some(500));
    assert_eq!(status_of(first[2].id).status, DeliveryStatus::Disabled);
    let dead = status_of(rest[0].id);
    assert_eq!((dead.status, dead.attempts), (DeliveryStatus::Dead, 1));
    assert_eq!(dead.event_id, format!("evt_{}", dead.notification_id));

    // Due again after the backoff, unless its channel is disabled.
    let retry = store.claim_deliveries("w1", soon, lease, 10).await.unwrap();
    let ids: Vec<i64> = retry.iter().map(|task| task.id).collect();
    let retried = status_of(first[1].id);
    if retried.target.starts_with("channel:") {
        assert!(ids.is_empty(), "the hook is disabled: {ids:?}");
    } else {
        assert_eq!(ids, [first[1].id]);
        assert_eq!(retry[0].attempts, 1);
    }

    let dead_only = store
        .list_deliveries(&DeliveryFilter {
            status: Some(DeliveryStatus::Dead),
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(dead_only.len(), 1);
    assert!(matches!(
        store.replay_delivery(first[0].id, soon).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        store.replay_delivery(999_999, soon).await,
        Err(StoreError::NotFound)
    ));
    let replayed = store.replay_delivery(first[2].id, soon).await.unwrap();
    assert_eq!(
        (replayed.status, replayed.attempts),
        (DeliveryStatus::Pending, 0)
    );
    assert!(
        store.disabled_channels().await.unwrap().is_empty(),
        "replaying enables the channel"
    );
    assert_eq!(replayed.history.len(), 1, "the earlier attempt is kept");
}

async fn publishing_writes_its_notification_with_the_change_and_a_private_one_only_to_members(
    database: TestDatabase,
) {
    use hindsight_domain::notify::NotificationKind;
    let store = database.store();
    let public = create(&*store, draft("Public outage", "2026-11-20T10:00:00Z")).await;
    let postmortem = new_postmortem(&*store, &[public.id]).await;
    let publish = || -> PostmortemChange {
        Box::new(|current: &Postmortem| {
            Ok((PostmortemStatus::Published, valid(current.document.clone())))
        })
    };
    store
        .update_postmortem(
            postmortem.id,
            Visibility::Everything,
            None,
            writer(),
            now(),
            publish(),
        )
        .await
        .unwrap();
    // Publishing again changes nothing and tells nobody twice.
    store
        .update_postmortem(
            postmortem.id,
            Visibility::Everything,
            None,
            writer(),
            now(),
            publish(),
        )
        .await
        .unwrap();

    let member = store
        .create_user(
            NewUser {
                email: "ada@example.com".into(),
                display_name: "Ada".into(),
                role: Role::Editor,
                password_hash: "x".into(),
            },
            now(),
        )
        .await
        .unwrap();
    let private = create(
        &*store,
        IncidentDraft {
            private: true,
            members: hindsight_domain::MembersDraft {
                users: vec![member.id.get()],
                teams: vec![],
            },
            ..draft("Private breach", "2026-11-20T10:00:00Z")
        },
    )
    .await;
    let secret = new_postmortem(&*store, &[private.id]).await;
    store
        .update_postmortem(
            secret.id,
            Visibility::Everything,
            None,
            writer(),
            now(),
            publish(),
        )
        .await
        .unwrap();

    let mut seen = Vec::new();
    let route: hindsight_store::RouteFn = Box::new(move |notification| {
        vec![format!(
            "{}|{}|{}|{}",
            notification.kind,
            notification.private,
            notification.audience.broadcast,
            notification
                .audience
                .people
                .iter()
                .map(|p| p.email.as_str())
                .collect::<Vec<_>>()
                .join(",")
        )]
    });
    store.route_notifications(now(), 100, route).await.unwrap();
    for delivery in store
        .list_deliveries(&hindsight_store::DeliveryFilter {
            status: None,
            limit: 10,
        })
        .await
        .unwrap()
    {
        assert_eq!(delivery.kind, NotificationKind::Published);
        seen.push(delivery.target);
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            "postmortem.published|false|true|",
            "postmortem.published|true|false|ada@example.com"
        ]
    );
}

fn review(
    postmortem: PostmortemId,
    moderator: hindsight_domain::access::UserId,
    at: &str,
) -> hindsight_domain::meeting::ReviewMeeting {
    use hindsight_domain::meeting::{MeetingStatus, ReviewMeeting};
    use hindsight_domain::notify::Person;
    ReviewMeeting {
        postmortem_id: postmortem,
        uid: format!("review-{postmortem}-{at}@test"),
        sequence: 0,
        status: MeetingStatus::Scheduled,
        team: None,
        starts_at: at.parse().unwrap(),
        time_zone: "Europe/London".into(),
        duration_minutes: 30,
        delay: None,
        moderator: Some(Person {
            id: moderator,
            name: "Mo".into(),
            email: "mo@example.com".into(),
        }),
        attendees: Vec::new(),
        over_cap_reason: None,
        readers: Vec::new(),
        notes: String::new(),
        held_at: None,
        created_at: now(),
        updated_at: now(),
    }
}

async fn a_meeting_is_stored_with_its_invites_keeps_its_notes_and_refuses_stale_changes(
    database: TestDatabase,
) {
    use hindsight_domain::meeting::MeetingStatus;
    let store = database.store();
    let incident = create(
        store.as_ref(),
        draft("Checkout errors", "2026-11-20T12:00:00Z"),
    )
    .await;
    let postmortem = new_postmortem(store.as_ref(), &[incident.id]).await;
    let mo = store
        .create_user(new_user("mo@example.com", Role::Editor), now())
        .await
        .unwrap();
    assert!(store.get_meeting(postmortem.id).await.unwrap().is_none());
    assert!(
        !store
            .save_meeting_notes(postmortem.id, "x".into(), now())
            .await
            .unwrap()
    );

    let first = review(postmortem.id, mo.id, "2026-11-23T10:00:00Z");
    let saved = store
        .save_meeting(first.clone(), None, vec![reminder("invite-0")], now())
        .await
        .unwrap();
    assert_eq!(saved.uid, first.uid);
    assert_eq!(
        store.get_meeting(postmortem.id).await.unwrap(),
        Some(saved.clone())
    );
    // A second first scheduling is refused, and its notification is not kept.
    let again = store
        .save_meeting(first.clone(), None, vec![reminder("invite-again")], now())
        .await
        .unwrap_err();
    assert!(matches!(again, StoreError::Conflict(_)), "{again:?}");

    assert!(
        store
            .save_meeting_notes(
                postmortem.id,
                "Agreed the timeline.\nWhy 1: ...".into(),
                now()
            )
            .await
            .unwrap()
    );
    // A reschedule made on the version read keeps the notes typed meanwhile.
    let mut moved = saved.clone();
    moved.starts_at = "2026-11-24T10:00:00Z".parse().unwrap();
    moved.sequence = 1;
    let moved = store
        .save_meeting(
            moved,
            Some(saved.updated_at),
            vec![reminder("invite-1")],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(moved.notes, "Agreed the timeline.\nWhy 1: ...");
    assert!(moved.updated_at > saved.updated_at);
    // A change made on the older version is refused.
    let stale = store
        .save_meeting(saved.clone(), Some(saved.updated_at), Vec::new(), now())
        .await
        .unwrap_err();
    assert!(matches!(stale, StoreError::Conflict(_)), "{stale:?}");
    assert_eq!(
        store.moderator_history().await.unwrap().get(&mo.id),
        Some(&moved.starts_at)
    );

    // Cancelled: its moderator's turn no longer counts, notes cannot be saved, and a new
    // meeting may replace it.
    let mut cancelled = moved.clone();
    cancelled.status = MeetingStatus::Cancelled;
    cancelled.sequence = 2;
    store
        .save_meeting(cancelled, Some(moved.updated_at), Vec::new(), now())
        .await
        .unwrap();
    assert!(store.moderator_history().await.unwrap().is_empty());
    assert!(
        !store
            .save_meeting_notes(postmortem.id, "late".into(), now())
            .await
            .unwrap()
    );
    let replacement = review(postmortem.id, mo.id, "2026-11-25T10:00:00Z");
    let replaced = store
        .save_meeting(replacement, None, Vec::new(), now())
        .await
        .unwrap();
    assert_eq!(replaced.status, MeetingStatus::Scheduled);
    assert_eq!(replaced.notes, "");

    // Exactly the invites of the successful saves are in the outbox.
    let routed = store
        .route_notifications(now(), 100, Box::new(|_| vec!["channel:hook".into()]))
        .await
        .unwrap();
    assert_eq!(routed, 2);
}

async fn images_are_kept_with_their_postmortem_and_a_discarded_draft_takes_everything_with_it(
    database: TestDatabase,
) {
    let store = database.store();
    let outsider = store
        .create_user(new_user("out@example.com", Role::Editor), now())
        .await
        .unwrap();
    let mut secret = draft("Breach", "2026-11-20T09:00:00Z");
    secret.private = true;
    let secret = create(&*store, secret).await;
    let postmortem = new_postmortem(&*store, &[secret.id]).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0".to_vec();
    let image = |postmortem| hindsight_store::NewImage {
        postmortem,
        name: "p99.png".into(),
        content_type: hindsight_domain::image::ImageType::Png,
        sha256: "ab".repeat(32),
        bytes: png.clone(),
        created_by: None,
    };
    let stored = store
        .add_image(image(postmortem.id), Visibility::Everything, now())
        .await
        .unwrap();
    assert_eq!(stored.byte_size, png.len() as u64);
    assert_eq!(stored.created_at, now());
    let read = store
        .get_image(postmortem.id, stored.id, Visibility::Everything)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.bytes, png);
    assert_eq!(read.meta, stored);
    assert_eq!(
        store
            .list_images(postmortem.id, Visibility::Everything)
            .await
            .unwrap(),
        std::slice::from_ref(&stored)
    );
    // The postmortem has not changed: an image is not a version.
    assert_eq!(
        store
            .get_postmortem(postmortem.id, Visibility::Everything)
            .await
            .unwrap()
            .unwrap()
            .version,
        1
    );
    // To an outsider the private postmortem's image does not exist, and none can be added.
    let outside = Visibility::MemberOf(outsider.id);
    assert!(
        store
            .get_image(postmortem.id, stored.id, outside)
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store.add_image(image(postmortem.id), outside, now()).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.discard_postmortem(postmortem.id, outside).await,
        Err(StoreError::NotFound)
    ));
    // An image is removed by a reader of its postmortem only.
    let second = store
        .add_image(image(postmortem.id), Visibility::Everything, now())
        .await
        .unwrap();
    assert!(matches!(
        store.delete_image(postmortem.id, second.id, outside).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .delete_image(postmortem.id, second.id, Visibility::Everything)
            .await
            .unwrap(),
        second
    );
    assert!(matches!(
        store
            .delete_image(postmortem.id, second.id, Visibility::Everything)
            .await,
        Err(StoreError::NotFound)
    ));
    // An image of one postmortem is not found under another.
    let other = new_postmortem(&*store, &[secret.id]).await;
    assert!(
        store
            .get_image(other.id, stored.id, Visibility::Everything)
            .await
            .unwrap()
            .is_none()
    );

    // Discarding the draft deletes it with its history and images; the other is untouched.
    let discarded = store
        .discard_postmortem(postmortem.id, Visibility::Everything)
        .await
        .unwrap();
    assert_eq!(discarded.id, postmortem.id);
    assert!(
        store
            .get_postmortem(postmortem.id, Visibility::Everything)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_image(postmortem.id, stored.id, Visibility::Everything)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_postmortem(other.id, Visibility::Everything)
            .await
            .unwrap()
            .is_some()
    );

    // Nothing that left the draft is ever deleted.
    let moved = store
        .update_postmortem(
            other.id,
            Visibility::Everything,
            None,
            writer(),
            now(),
            Box::new(|current: &Postmortem| {
                Ok((PostmortemStatus::InReview, valid(current.document.clone())))
            }),
        )
        .await
        .unwrap();
    assert_eq!(moved.status, PostmortemStatus::InReview);
    assert!(matches!(
        store
            .discard_postmortem(other.id, Visibility::Everything)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        store
            .list_revisions(other.id, Visibility::Everything)
            .await
            .unwrap()
            .len(),
        2
    );
}

conformance!(
    images_are_kept_with_their_postmortem_and_a_discarded_draft_takes_everything_with_it,
    a_job_is_scheduled_once_claimed_by_one_worker_and_its_notifications_kept_once,
    a_notification_is_routed_once_delivered_retried_and_a_gone_channel_disabled,
    publishing_writes_its_notification_with_the_change_and_a_private_one_only_to_members,
    a_meeting_is_stored_with_its_invites_keeps_its_notes_and_refuses_stale_changes,
    the_policy_keeps_each_changed_decision_and_the_pending_postmortem_follows_it,
    postmortem_debt_lists_unpublished_required_postmortems_earliest_due_first,
    action_items_are_filtered_by_owner_team_status_due_incident_and_service,
    an_action_item_change_is_checked_and_an_unknown_owner_changes_nothing,
    a_version_written_with_action_items_in_its_document_still_reads,
    a_created_incident_reads_back_equal_in_every_field,
    an_unknown_id_reads_as_none,
    an_update_changes_what_it_names_and_keeps_created_at,
    an_update_of_a_missing_incident_is_not_found,
    a_refused_change_writes_nothing,
    the_list_is_newest_first_and_pages_without_gaps_or_repeats,
    the_list_filters_by_status_severity_service_and_start,
    concurrent_updates_of_one_incident_lose_nothing,
    concurrent_creates_get_distinct_ids_and_a_failure_among_them_is_alone,
    data_survives_a_restart_and_migrations_run_once,
    severity_and_status_survive_every_value,
    times_written_at_any_precision_read_back_equal,
    a_user_is_created_found_by_email_and_listed,
    a_taken_email_is_a_conflict_and_writes_nothing,
    disabling_a_user_ends_their_sessions_and_revokes_their_tokens,
    a_token_works_until_revoked_and_records_its_last_use,
    a_session_is_found_touched_and_deleted,
    a_private_incident_exists_only_for_its_members_and_admins,
    an_unknown_member_is_refused_by_field_and_writes_nothing,
    the_audit_log_is_append_only_and_newest_first,
    a_postmortem_keeps_every_version_and_refuses_a_stale_edit,
    concurrent_postmortem_edits_on_one_version_let_exactly_one_through,
    a_postmortem_is_hidden_with_its_private_incident_and_refuses_unknown_incidents,
    an_imported_postmortem_keeps_its_id_and_new_ones_do_not_collide,
    a_team_template_is_stored_once_per_key,
    an_incidents_key_times_are_on_its_timeline_and_move_with_it,
    a_timeline_change_writes_events_and_key_times_together,
    an_alert_delivered_again_or_concurrently_opens_one_incident_with_its_events_once,
    an_import_adds_each_event_once_and_a_bad_batch_keeps_nothing,
    a_private_incidents_timeline_does_not_exist_for_outsiders,
);
