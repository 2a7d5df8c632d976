//! Background jobs across processes: three `hindsight worker` instances on one PostgreSQL
//! database share 1,000 due reminders, also when one of them is killed midway.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hindsight_domain::access::Visibility;
use hindsight_domain::action_item::{
    ActionItemContent, ActionKind, ActionStatus, Owner, Priority, Scale,
};
use hindsight_domain::document::{Author, PostmortemDocument};
use hindsight_domain::notify::DeliveryStatus;
use hindsight_domain::postmortem::{
    DEFAULT_FACTOR_CATEGORIES, PostmortemStatus, builtin_templates,
};
use hindsight_store::{DeliveryFilter, NewPostmortem};

use crate::support::hindsight;

/// A webhook receiver on threads: answers 200, and counts each event id.
fn start_sink() -> (u16, Arc<Mutex<HashMap<String, usize>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let counts = Arc::clone(&seen);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let counts = Arc::clone(&counts);
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0usize;
                let mut event = String::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end().to_owned();
                    if line.is_empty() {
                        break;
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    if let Some(value) = lower.strip_prefix("hindsight-event-id:") {
                        event = value.trim().to_owned();
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                *counts.lock().unwrap().entry(event).or_default() += 1;
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    (port, seen)
}

async fn thousand_overdue_team_items(store: &dyn hindsight_store::Store) {
    let now = jiff::Timestamp::now();
    let team = store.create_team("payments".into(), now).await.unwrap();
    let draft = hindsight_domain::IncidentDraft {
        title: Some("Checkout outage".into()),
        severity: Some("SEV2".into()),
        started_at: Some("2020-01-01T10:00:00Z".into()),
        ..Default::default()
    };
    let incident = store
        .create_incident(draft.validate(now).unwrap(), None, now)
        .await
        .unwrap();
    let categories: Vec<String> = DEFAULT_FACTOR_CATEGORIES
        .iter()
        .map(|category| (*category).to_owned())
        .collect();
    let document = PostmortemDocument {
        title: "Checkout outage".into(),
        incidents: vec![incident.id],
        template: "default".into(),
        ..PostmortemDocument::default()
    };
    let author = Author {
        user_id: None,
        name: "test".into(),
    };
    let postmortem = store
        .create_postmortem(
            NewPostmortem {
                id: None,
                status: PostmortemStatus::Draft,
                document: document
                    .validate(&builtin_templates()[0], &categories)
                    .unwrap(),
            },
            author.clone(),
            now,
        )
        .await
        .unwrap();
    for n in 0..1000 {
        let content = ActionItemContent {
            title: format!("Item {n}"),
            description: String::new(),
            owner: Some(Owner::Team(team.id)),
            due_on: "2020-02-01".parse().unwrap(),
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
        store
            .create_action_item(
                postmortem.id,
                Visibility::Everything,
                content,
                author.clone(),
                now,
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_workers_on_postgres_deliver_a_thousand_reminders_once_each_despite_a_kill() {
    let Some(database) = hindsight_store::testing::TestDatabase::postgres().await else {
        return;
    };
    let store = database.store();
    thousand_overdue_team_items(&*store).await;
    let (port, seen) = start_sink();
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("hindsight.toml");
    std::fs::write(
        &config,
        format!(
            "outbound_allow = [\"127.0.0.1\"]\n\
             [jobs]\npoll_seconds = 1\nlease_seconds = 30\n\
             [reminders]\ntime = \"00:00\"\n\
             [agenda]\nenabled = false\n[digest]\nenabled = false\n\
             [[channels]]\nname = \"payments-hook\"\nkind = \"webhook\"\n\
             url = \"http://127.0.0.1:{port}/hook\"\nsecrets = [\"a-secret-of-enough-length\"]\n\
             team = \"payments\"\n"
        ),
    )
    .unwrap();
    let url = database.url().to_owned();
    let start = |_| {
        hindsight()
            .args(["worker", "--database-url", &url, "--config"])
            .arg(&config)
            .env("HINDSIGHT_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut workers: Vec<_> = (0..3).map(start).collect();
    let total = |seen: &Arc<Mutex<HashMap<String, usize>>>| -> (usize, usize) {
        let seen = seen.lock().unwrap();
        (seen.len(), seen.values().sum())
    };

    let deadline = Instant::now() + Duration::from_secs(150);
    let wait_until = |received: usize| {
        let seen = Arc::clone(&seen);
        async move {
            while total(&seen).1 < received {
                assert!(
                    Instant::now() < deadline,
                    "only {:?} received",
                    total(&seen)
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    // One instance is stopped midway as a deploy stops it (SIGTERM): it finishes the batch it
    // is sending, records it, and claims nothing more.
    wait_until(300).await;
    let terminated = std::process::Command::new("kill")
        .args(["-TERM", &workers[0].id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    assert!(workers[0].wait().unwrap().success(), "a clean exit");
    // Another dies mid-delivery with no chance to clean up (SIGKILL).
    wait_until(600).await;
    let before_kill = total(&seen);
    assert_eq!(
        before_kill.0, before_kill.1,
        "nothing was sent twice so far"
    );
    workers[1].kill().unwrap();
    workers[1].wait().unwrap();
    // What the dead instance held is sent again once its lease runs out.
    loop {
        let delivered = store
            .list_deliveries(&DeliveryFilter {
                status: Some(DeliveryStatus::Delivered),
                limit: 1000,
            })
            .await
            .unwrap()
            .len();
        if delivered == 1000 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{delivered} delivered, {:?} received",
            total(&seen)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    workers[2].kill().unwrap();
    workers[2].wait().unwrap();
    let (distinct, received) = total(&seen);
    let duplicates = received - distinct;
    eprintln!(
        "1,000 reminders on 3 workers: {distinct} distinct events in {received} requests; \
         SIGTERM after 300 (no duplicate); SIGKILL after {} requests: {duplicates} sent twice",
        before_kill.1
    );
    assert_eq!(distinct, 1000);
    assert!(
        !seen.lock().unwrap().contains_key(""),
        "every request carried its event id"
    );
    // Requests the killed instance had on the wire, whose answers it never recorded, are sent
    // again with the same event id: at most the one batch (20) it had claimed.
    assert!(duplicates <= 20, "{duplicates} duplicates");

    let delivered = store
        .list_deliveries(&DeliveryFilter {
            status: Some(DeliveryStatus::Delivered),
            limit: 1000,
        })
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1000);
    let mut workers_seen: Vec<String> = delivered
        .iter()
        .flat_map(|delivery| {
            delivery
                .history
                .iter()
                .map(|attempt| attempt.worker.clone())
        })
        .collect();
    workers_seen.sort();
    workers_seen.dedup();
    assert!(
        workers_seen.len() >= 2,
        "the work was shared: {workers_seen:?}"
    );
    assert!(
        delivered.iter().all(|delivery| delivery.attempts == 1),
        "a reclaimed delivery counts one recorded attempt"
    );
}
