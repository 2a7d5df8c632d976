//! The worker against real local receivers: an HTTP sink for Slack and webhooks, aiosmtpd for
//! email, with a fixed clock that the tests move.

mod support;

use std::sync::Arc;
use std::time::Duration;

use hindsight_domain::access::{Role, TeamId, Visibility};
use hindsight_domain::action_item::{
    ActionItemContent, ActionKind, ActionStatus, Owner, Priority, Scale,
};
use hindsight_domain::document::{Author, Postmortem, PostmortemDocument};
use hindsight_domain::notify::{DeliveryStatus, NotificationKind, Person};
use hindsight_domain::postmortem::{
    DEFAULT_FACTOR_CATEGORIES, PostmortemStatus, builtin_templates,
};
use hindsight_domain::{FixedClock, IncidentDraft, IncidentId};
use hindsight_jobs::{Channel, ChannelKind, JobSettings, Worker};
use hindsight_store::testing::TestDatabase;
use hindsight_store::{DeliveryFilter, NewPostmortem, NewUser, Store};
use jiff::{SignedDuration, Timestamp};
use support::{Sink, SmtpServer, icalendar};

fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

fn writer() -> Author {
    Author {
        user_id: None,
        name: "test".into(),
    }
}

struct World {
    store: Arc<dyn Store>,
    clock: Arc<FixedClock>,
    team: TeamId,
    ada: hindsight_domain::access::UserId,
}

impl World {
    /// Ada in team payments, whose lead is Lee; nobody else.
    async fn new(store: Arc<dyn Store>, now: Timestamp) -> Self {
        let user = |email: &str, name: &str| NewUser {
            email: email.into(),
            display_name: name.into(),
            role: Role::Editor,
            password_hash: "x".into(),
        };
        let ada = store
            .create_user(user("ada@example.com", "Ada"), now)
            .await
            .unwrap();
        let lee = store
            .create_user(user("lee@example.com", "Lee"), now)
            .await
            .unwrap();
        let team = store.create_team("payments".into(), now).await.unwrap();
        store
            .set_team_member(team.id, ada.id, false, now)
            .await
            .unwrap();
        store
            .set_team_member(team.id, lee.id, true, now)
            .await
            .unwrap();
        Self {
            store,
            clock: Arc::new(FixedClock::new(now)),
            team: team.id,
            ada: ada.id,
        }
    }

    async fn incident(&self, title: &str, private: bool) -> IncidentId {
        let draft = IncidentDraft {
            title: Some(title.into()),
            severity: Some("SEV2".into()),
            status: Some("closed".into()),
            started_at: Some(self.hours_ago(48)),
            resolved_at: Some(self.hours_ago(24)),
            private,
            members: hindsight_domain::MembersDraft {
                users: if private {
                    vec![self.ada.get()]
                } else {
                    vec![]
                },
                teams: vec![],
            },
            ..IncidentDraft::default()
        };
        let now = self.clock_now();
        self.store
            .create_incident(draft.validate(now).unwrap(), None, now)
            .await
            .unwrap()
            .id
    }

    fn hours_ago(&self, hours: i64) -> String {
        self.clock_now()
            .checked_sub(SignedDuration::from_hours(hours))
            .unwrap()
            .to_string()
    }

    fn clock_now(&self) -> Timestamp {
        use hindsight_domain::Clock;
        self.clock.now()
    }

    /// A postmortem of the incident, published when asked.
    async fn postmortem(&self, incident: IncidentId, title: &str, publish: bool) -> Postmortem {
        let categories: Vec<String> = DEFAULT_FACTOR_CATEGORIES
            .iter()
            .map(|category| (*category).to_owned())
            .collect();
        let document = PostmortemDocument {
            title: title.into(),
            incidents: vec![incident],
            template: "default".into(),
            sections: [
                (
                    "summary".to_owned(),
                    format!("{title}: checkout failed for an hour."),
                ),
                (
                    "impact".to_owned(),
                    "4,000 orders could not be paid.".to_owned(),
                ),
            ]
            .into_iter()
            .collect(),
            ..PostmortemDocument::default()
        };
        let valid = document
            .validate(&builtin_templates()[0], &categories)
            .unwrap();
        let now = self.clock_now();
        let postmortem = self
            .store
            .create_postmortem(
                NewPostmortem {
                    id: None,
                    status: PostmortemStatus::Draft,
                    document: valid,
                },
                writer(),
                now,
            )
            .await
            .unwrap();
        if !publish {
            return postmortem;
        }
        self.store
            .update_postmortem(
                postmortem.id,
                Visibility::Everything,
                None,
                writer(),
                now,
                Box::new(move |current: &Postmortem| {
                    let document = current
                        .document
                        .clone()
                        .validate(&builtin_templates()[0], &categories)
                        .unwrap();
                    Ok((PostmortemStatus::Published, document))
                }),
            )
            .await
            .unwrap()
    }

    async fn item(&self, postmortem: &Postmortem, title: &str, owner: Owner, due_on: &str) {
        let content = ActionItemContent {
            title: title.into(),
            description: String::new(),
            owner: Some(owner),
            due_on: due_on.parse().unwrap(),
            priority: Priority::P2,
            effort: Scale::Medium,
            impact: Scale::Medium,
            kind: ActionKind::Mitigate,
            addresses: None,
            tracker_url: None,
            status: ActionStatus::Open,
            verification: None,
            not_doing_reason: None,
        };
        self.store
            .create_action_item(
                postmortem.id,
                Visibility::Everything,
                content,
                writer(),
                self.clock_now(),
            )
            .await
            .unwrap();
    }

    fn worker(&self, settings: JobSettings) -> Worker {
        let outbound = hindsight_outbound::OutboundClient::new(
            hindsight_outbound::OutboundPolicy {
                allow: vec!["127.0.0.1".parse().unwrap()],
            },
            Duration::from_secs(5),
        )
        .unwrap();
        Worker::new(
            Arc::clone(&self.store),
            self.clock.clone(),
            settings,
            outbound,
        )
        .unwrap()
    }

    fn advance(&self, by: SignedDuration) {
        self.clock.set(self.clock_now().checked_add(by).unwrap());
    }
}

fn settings() -> JobSettings {
    let mut settings = JobSettings::new("test-worker");
    settings.public_url = "https://hindsight.example.com".into();
    settings.reminder_time =
        hindsight_domain::notify::recurrence("reminders", None, 1, "09:00", "UTC").unwrap();
    settings.agenda = None;
    settings.digest = None;
    settings
}

fn hook(name: &str, url: String, team: Option<&str>, events: &[NotificationKind]) -> Channel {
    Channel {
        name: name.into(),
        kind: ChannelKind::Webhook {
            url,
            secrets: vec![
                "current-secret-0123456789".into(),
                "previous-secret-0123456".into(),
            ],
        },
        team: team.map(str::to_owned),
        events: events.to_vec(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_item_of_a_closed_incident_is_emailed_to_its_owner_and_escalated_to_the_lead() {
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let database = TestDatabase::sqlite().await;
    let world = World::new(database.store(), at("2026-11-21T09:30:00Z")).await;
    let incident = world.incident("Checkout outage", false).await;
    let postmortem = world.postmortem(incident, "Checkout outage", true).await;
    world
        .item(
            &postmortem,
            "Alert on card errors",
            Owner::User(world.ada),
            "2026-11-01",
        )
        .await;
    world
        .item(
            &postmortem,
            "Runbook for the payment switch",
            Owner::User(world.ada),
            "2026-12-31",
        )
        .await;
    let mut settings = settings();
    settings.smtp = Some(smtp.settings("Hindsight <hindsight@example.com>"));
    let worker = world.worker(settings);

    let report = worker.tick().await.unwrap();
    let deliveries = world
        .store
        .list_deliveries(&DeliveryFilter {
            status: None,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(report.jobs_run, 1, "{report:?} {deliveries:?}");
    assert_eq!(report.delivered, 2, "{report:?} {deliveries:?}");
    let messages = smtp.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    let to_ada = messages
        .iter()
        .find(|m| m.contains("To: ada@example.com"))
        .unwrap();
    assert!(
        to_ada.contains("Subject: Action item is 20 days overdue (due 2026-11-01): Alert on"),
        "{to_ada}"
    );
    assert!(to_ada.contains("Content-Type: text/plain"), "{to_ada}");
    assert!(to_ada.contains("Content-Type: text/html"), "{to_ada}");
    assert!(
        to_ada.contains("https://hindsight.example.com/postmortems/"),
        "{to_ada}"
    );
    let to_lee = messages
        .iter()
        .find(|m| m.contains("To: lee@example.com"))
        .unwrap();
    assert!(to_lee.contains("Subject: Escalation"), "{to_lee}");

    // The same day again, or a second instance's sweep: nobody is told twice.
    assert_eq!(worker.tick().await.unwrap().delivered, 0);
    // An item added overdue later that day is reminded within the hour, not tomorrow.
    world
        .item(
            &postmortem,
            "Fix the retry storm",
            Owner::User(world.ada),
            "2026-11-20",
        )
        .await;
    world.advance(SignedDuration::from_hours(1));
    assert_eq!(worker.tick().await.unwrap().delivered, 1);
    assert_eq!(smtp.messages().len(), 3);
    world.advance(SignedDuration::from_hours(23));
    assert_eq!(
        worker.tick().await.unwrap().delivered,
        0,
        "within the nag period"
    );
    assert_eq!(smtp.messages().len(), 3);

    // Two weeks later: the next gentle nag and the lead again, for both overdue items.
    world.advance(SignedDuration::from_hours(24 * 13));
    let report = worker.tick().await.unwrap();
    assert_eq!(report.delivered, 4, "{report:?}");
    assert!(
        smtp.messages()
            .iter()
            .any(|m| m.contains("34 days overdue"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_honour_retry_after_back_off_on_errors_disable_a_gone_endpoint_and_replay() {
    let sink = Sink::start().await;
    sink.script("slack", &["429:120"]);
    sink.script("hook", &["500"]);
    sink.script("gone", &["410"]);
    sink.script("broken", &["500", "503", "500"]);
    let database = TestDatabase::sqlite().await;
    let world = World::new(database.store(), at("2026-11-21T08:00:00Z")).await;
    let mut settings = settings();
    settings.max_attempts = 3;
    settings.channels = vec![
        Channel {
            name: "slack".into(),
            kind: ChannelKind::Slack {
                url: sink.url("slack"),
            },
            team: None,
            events: vec![],
        },
        hook(
            "hook",
            sink.url("hook"),
            None,
            &[NotificationKind::Published],
        ),
        hook("gone", sink.url("gone"), None, &[]),
        hook("broken", sink.url("broken"), None, &[]),
        hook(
            "agenda-only",
            sink.url("agenda-only"),
            None,
            &[NotificationKind::Agenda],
        ),
    ];
    let worker = world.worker(settings);
    let incident = world.incident("Checkout outage", false).await;
    world.postmortem(incident, "Checkout <outage>", true).await;

    let report = worker.tick().await.unwrap();
    assert_eq!(
        (report.routed, report.attempts, report.delivered),
        (1, 4, 0),
        "{report:?}"
    );
    assert!(
        sink.received("agenda-only").is_empty(),
        "it takes agendas only"
    );

    world.advance(SignedDuration::from_secs(31));
    let report = worker.tick().await.unwrap();
    assert_eq!(
        report.delivered, 1,
        "the webhook, after its backoff: {report:?}"
    );
    let hook_requests = sink.received("hook");
    assert_eq!(hook_requests.len(), 2);
    let event = &hook_requests[1].headers["hindsight-event-id"];
    assert_eq!(
        event, &hook_requests[0].headers["hindsight-event-id"],
        "the event id is stable"
    );
    let signature = &hook_requests[1].headers["hindsight-signature"];
    assert!(
        signature.starts_with("t=") && signature.matches(",v1=").count() == 2,
        "{signature}"
    );
    let body = &hook_requests[1].body;
    assert_eq!(body["type"], "postmortem.published");
    assert_eq!(body["id"], event.as_str());
    assert!(
        body["text"]
            .as_str()
            .unwrap()
            .contains("4,000 orders could not be paid.")
    );
    assert!(
        sink.received("slack").len() == 1,
        "Slack asked for 120 seconds"
    );

    world.advance(SignedDuration::from_secs(90));
    worker.tick().await.unwrap();
    let slack = sink.received("slack");
    assert_eq!(slack.len(), 2, "sent again once Retry-After passed");
    assert!(
        slack[1].body["text"]
            .as_str()
            .unwrap()
            .contains("Checkout &lt;outage&gt;")
    );
    assert!(slack[1].body["blocks"].as_array().unwrap().len() >= 2);

    world.advance(SignedDuration::from_hours(2));
    worker.tick().await.unwrap();
    let deliveries = world
        .store
        .list_deliveries(&DeliveryFilter {
            status: None,
            limit: 100,
        })
        .await
        .unwrap();
    let of = |target: &str| {
        deliveries
            .iter()
            .find(|d| d.target == target)
            .unwrap()
            .clone()
    };
    assert_eq!(of("channel:gone").status, DeliveryStatus::Disabled);
    assert_eq!(
        sink.received("gone").len(),
        1,
        "a gone endpoint is not called again"
    );
    let broken = of("channel:broken");
    assert_eq!(
        (broken.status, broken.attempts),
        (DeliveryStatus::Dead, 3),
        "{broken:?}"
    );
    assert_eq!(broken.history.len(), 3);
    assert_eq!(broken.history[1].http_status, Some(503));
    assert_eq!(
        of("channel:slack").history[0].outcome.as_str(),
        "rate_limited"
    );
    assert_eq!(world.store.disabled_channels().await.unwrap(), ["gone"]);

    // The endpoint is fixed; the admin replays. The channel is enabled and the delivery made.
    world
        .store
        .replay_delivery(of("channel:gone").id, world.clock_now())
        .await
        .unwrap();
    world
        .store
        .replay_delivery(broken.id, world.clock_now())
        .await
        .unwrap();
    let report = worker.tick().await.unwrap();
    assert_eq!(report.delivered, 2, "{report:?}");
    assert_eq!(sink.received("gone").len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notification_committed_before_a_crash_is_delivered_after_the_restart() {
    let sink = Sink::start().await;
    let mut database = TestDatabase::sqlite().await;
    let world = World::new(database.store(), at("2026-11-21T08:00:00Z")).await;
    let incident = world.incident("Checkout outage", false).await;
    world.postmortem(incident, "Checkout outage", true).await;
    let mut settings = settings();
    settings.channels = vec![hook("hook", sink.url("hook"), None, &[])];

    // An instance routes and claims the delivery, then dies before sending.
    let doomed = world.worker(settings.clone());
    let store = world.store.clone();
    store
        .route_notifications(
            world.clock_now(),
            10,
            hindsight_jobs::route::router(&Arc::new(settings.clone())),
        )
        .await
        .unwrap();
    let claimed = store
        .claim_deliveries("doomed", world.clock_now(), settings.lease, 10)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    drop(doomed);
    drop(store);
    drop(world);
    database.reopen().await;

    // After the restart, once the dead instance's lease has run out, it is delivered.
    let world = World {
        store: database.store(),
        clock: Arc::new(FixedClock::new(at("2026-11-21T08:00:30Z"))),
        team: TeamId::new(1).unwrap(),
        ada: hindsight_domain::access::UserId::new(1).unwrap(),
    };
    let worker = world.worker(settings);
    assert_eq!(worker.tick().await.unwrap().delivered, 0, "still leased");
    world.advance(SignedDuration::from_secs(31));
    assert_eq!(worker.tick().await.unwrap().delivered, 1);
    assert_eq!(sink.received("hook").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agenda_and_the_digest_go_out_on_their_slots_without_private_incidents() {
    let sink = Sink::start().await;
    let database = TestDatabase::sqlite().await;
    // Friday 2025-11-21: a postmortem a year ago this week, for "this week in history".
    let world = World::new(database.store(), at("2025-11-19T10:00:00Z")).await;
    let old = world.incident("Old DNS outage", false).await;
    world.postmortem(old, "Old DNS outage", true).await;
    world.clock.set(at("2026-11-17T09:00:00Z"));
    let public = world.incident("Checkout outage", false).await;
    let secret = world.incident("Secret breach", true).await;
    let public_pm = world.postmortem(public, "Checkout outage", true).await;
    let secret_pm = world.postmortem(secret, "Secret breach", true).await;
    world
        .item(
            &public_pm,
            "Alert on card errors",
            Owner::User(world.ada),
            "2026-11-10",
        )
        .await;
    world
        .item(
            &public_pm,
            "Team runbook",
            Owner::Team(world.team),
            "2026-12-20",
        )
        .await;
    world
        .item(
            &secret_pm,
            "Rotate the leaked key",
            Owner::User(world.ada),
            "2026-11-10",
        )
        .await;

    let mut settings = settings();
    settings.agenda = Some(
        hindsight_domain::notify::recurrence(
            "agenda",
            Some("tuesday"),
            2,
            "10:00",
            "Europe/London",
        )
        .unwrap(),
    );
    settings.digest = Some(
        hindsight_domain::notify::recurrence("digest", Some("friday"), 1, "15:00", "UTC").unwrap(),
    );
    settings.channels = vec![
        hook(
            "all",
            sink.url("all"),
            None,
            &[NotificationKind::Agenda, NotificationKind::Digest],
        ),
        hook("payments", sink.url("payments"), Some("payments"), &[]),
    ];
    let worker = world.worker(settings);

    // Tuesday 17 November 2026, 10:00 in London: an agenda slot.
    world.clock.set(at("2026-11-17T10:00:00Z"));
    worker.tick().await.unwrap();
    let agenda = sink.received("all");
    assert_eq!(agenda.len(), 1, "{agenda:?}");
    assert_eq!(agenda[0].body["type"], "review.agenda");
    let text = agenda[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("Ada\n- Alert on card errors: open, due 2026-11-10, 7 days overdue"),
        "{text}"
    );
    assert!(text.contains("payments\n- Team runbook"), "{text}");
    assert!(
        !text.contains("Rotate the leaked key"),
        "a private item stays out of a channel: {text}"
    );
    assert_eq!(agenda[0].body["data"]["open"].as_array().unwrap().len(), 2);

    // Friday 15:00: the digest.
    world.clock.set(at("2026-11-20T15:00:00Z"));
    worker.tick().await.unwrap();
    let digest = sink.received("all");
    assert_eq!(digest.len(), 2);
    assert_eq!(digest[1].body["type"], "digest.weekly");
    let text = digest[1].body["text"].as_str().unwrap();
    assert!(
        text.contains("Published this week\n- Checkout outage: Checkout outage: checkout failed"),
        "{text}"
    );
    assert!(
        text.contains("This week in postmortem history\n- Old DNS outage (2025)"),
        "{text}"
    );
    assert!(
        text.contains("Alert on card errors (Ada, 10 days overdue)"),
        "{text}"
    );
    assert!(!text.contains("Secret"), "{text}");
    // The team's own channel heard of nothing addressed to everyone.
    assert!(
        sink.received("payments")
            .iter()
            .all(|r| r.body["type"] != "review.agenda")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meeting_invite_reaches_the_mail_server_as_a_calendar_part_that_icalendar_reads() {
    use hindsight_domain::meeting::{
        Attendee, AttendeeRole, Context, MeetingStatus, Organizer, ReviewMeeting, notifications,
    };
    let Some(smtp) = SmtpServer::start().await else {
        return;
    };
    let database = TestDatabase::sqlite().await;
    let world = World::new(database.store(), at("2026-11-20T16:00:00Z")).await;
    let incident = world.incident("Checkout outage", false).await;
    let postmortem = world.postmortem(incident, "Checkout outage", false).await;
    let (lee, _) = world
        .store
        .find_user_by_email("lee@example.com")
        .await
        .unwrap()
        .unwrap();
    let meeting = ReviewMeeting {
        postmortem_id: postmortem.id,
        uid: format!("review-{}-test@hindsight.example.com", postmortem.id),
        sequence: 0,
        status: MeetingStatus::Scheduled,
        team: Some("payments".into()),
        starts_at: at("2026-11-23T15:00:00Z"),
        time_zone: "America/New_York".into(),
        duration_minutes: 30,
        delay: None,
        moderator: Some(Person {
            id: lee.id,
            name: "Lee".into(),
            email: "lee@example.com".into(),
        }),
        attendees: vec![Attendee {
            user_id: world.ada,
            name: "Ada".into(),
            email: "ada@example.com".into(),
            role: AttendeeRole::Owner,
            attended: None,
        }],
        over_cap_reason: None,
        readers: Vec::new(),
        notes: String::new(),
        held_at: None,
        created_at: world.clock_now(),
        updated_at: world.clock_now(),
    };
    let organizer = Organizer {
        name: "Reviews".into(),
        email: "reviews@example.com".into(),
    };
    let sent = notifications(
        &meeting,
        None,
        &Context {
            postmortem: &postmortem,
            organizer: &organizer,
            public_url: "https://hindsight.example.com",
            private: false,
            now: world.clock_now(),
        },
    );
    world
        .store
        .save_meeting(meeting, None, sent, world.clock_now())
        .await
        .unwrap();
    let mut settings = settings();
    settings.smtp = Some(smtp.settings("Reviews <reviews@example.com>"));
    let payments = hook(
        "payments-hook",
        "http://127.0.0.1:9/unused".into(),
        Some("payments"),
        &[],
    );
    settings.channels = vec![Channel {
        kind: ChannelKind::Email {
            to: vec!["payments-team@example.com".into()],
        },
        ..payments
    }];
    let report = world.worker(settings).tick().await.unwrap();
    // The invite to Lee and Ada, and the announcement to the team's list.
    assert_eq!(report.delivered, 3, "{report:?}");
    let messages = smtp.messages();
    let invites: Vec<&String> = messages
        .iter()
        .filter(|m| m.contains("Subject: Invitation: postmortem review of Checkout outage"))
        .collect();
    assert_eq!(invites.len(), 2, "{messages:?}");
    for invite in &invites {
        assert!(invite.contains("text/calendar; method=REQUEST"), "{invite}");
        let Some(read) = icalendar(invite.as_bytes(), &["--email"]) else {
            return;
        };
        assert_eq!(read["errors"], serde_json::json!([]), "{read}");
        assert_eq!(read["content_method"], "REQUEST");
        assert_eq!(read["method"], "REQUEST");
        assert_eq!(read["tzid"], "America/New_York");
        assert_eq!(read["start_utc"], "2026-11-23T15:00:00Z");
        assert_eq!(read["organizer"], "mailto:reviews@example.com");
        let roles: Vec<&str> = read["attendees"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["role"].as_str().unwrap())
            .collect();
        assert_eq!(roles, ["CHAIR", "REQ-PARTICIPANT"]);
    }
    let announcement = messages
        .iter()
        .find(|m| m.contains("To: payments-team@example.com"))
        .unwrap();
    assert!(
        announcement.contains("Subject: Review meeting: Checkout outage"),
        "{announcement}"
    );
    assert!(
        !announcement.contains("text/calendar"),
        "an announcement carries no invite"
    );
}
