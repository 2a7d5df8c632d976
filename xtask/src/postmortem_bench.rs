//! The postmortem in the browser (issue 16): what the benchmark seeds for the reading view
//! (a 20-section postmortem over an incident with 200 timeline events, beside that incident's
//! own page), and the time to draft a postmortem from an incident with 10,000 events.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use hindsight_domain::IncidentDraft;
use hindsight_domain::document::{Author, PostmortemDocument};
use hindsight_domain::postmortem::{
    ContributingFactor, DEFAULT_FACTOR_CATEGORIES, PostmortemStatus, SectionTemplate, Template,
    Why, WhyChain,
};
use hindsight_domain::timeline::{EventContent, EventKind, EventSource, NewEvent};
use hindsight_store::{NewPostmortem, Store};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

/// What the reading-view comparison reads.
pub struct Seeded {
    /// The incident with 200 events that the postmortem covers.
    pub incident: i64,
    pub postmortem: i64,
    /// An incident with 10,000 events, to draft from.
    pub big_incident: i64,
}

async fn incident_with_events(
    store: &Arc<dyn Store>,
    now: jiff::Timestamp,
    events: usize,
) -> anyhow::Result<i64> {
    let started = now.checked_sub(jiff::SignedDuration::from_hours(30))?;
    let incident = IncidentDraft {
        title: Some(format!("Checkout returns 502 ({events} events)")),
        summary: Some("Card payments failed after a deploy; a rollback restored them.".into()),
        severity: Some("SEV2".into()),
        services: vec!["checkout".into(), "payments-api".into()],
        started_at: Some(started.to_string()),
        detected_at: Some((started + jiff::SignedDuration::from_mins(11)).to_string()),
        resolved_at: Some((started + jiff::SignedDuration::from_hours(26)).to_string()),
        owner: Some("on-call".into()),
        ..IncidentDraft::default()
    }
    .validate(now)
    .map_err(|errors| anyhow::anyhow!("{}", errors.summary()))?;
    let incident = store.create_incident(incident, None, now).await?;
    let (sender, receiver) = tokio::sync::mpsc::channel(4);
    let step = 26 * 3600 / events.max(1) as i64;
    tokio::spawn(async move {
        let all: Vec<NewEvent> = (0..events)
            .map(|n| NewEvent {
                content: EventContent {
                    kind: if n % 10 == 0 {
                        EventKind::Investigating
                    } else {
                        EventKind::Communication
                    },
                    occurred_at: started + jiff::SignedDuration::from_secs(step * n as i64 + 60),
                    text: format!(
                        "Message {n}: the error rate on **checkout** is still above the SLO; \
                         looking at the payments dashboard."
                    ),
                    key: n % 50 == 0,
                    link: None,
                },
                source: if n % 3 == 0 {
                    EventSource::Manual
                } else {
                    EventSource::Chat
                },
                author: Some(["Ada", "Grace Hopper", "Sam"][n % 3].into()),
                external_id: Some(format!("bench-{n}")),
                holds: None,
            })
            .collect();
        for batch in all.chunks(5_000) {
            if sender.send(Ok(batch.to_vec())).await.is_err() {
                break;
            }
        }
    });
    store
        .import_events(
            incident.id,
            hindsight_domain::access::Visibility::Everything,
            now,
            receiver,
        )
        .await?;
    Ok(incident.id.get())
}

/// Seeds the reading view's postmortem and the incident to draft from.
pub async fn seed(store: &Arc<dyn Store>, now: jiff::Timestamp) -> anyhow::Result<Seeded> {
    let incident = incident_with_events(store, now, 200).await?;
    let big_incident = incident_with_events(store, now, 10_000).await?;
    let template = Template {
        key: "bench_twenty".into(),
        name: "Twenty sections".into(),
        sections: (0..20)
            .map(|n| SectionTemplate {
                key: if n == 2 {
                    "timeline".into()
                } else {
                    format!("part_{n}")
                },
                title: format!("Part {n}"),
                guidance: "What happened here.".into(),
                required_before_review: false,
                required_before_publish: false,
            })
            .collect(),
    }
    .validate()
    .map_err(|errors| anyhow::anyhow!("{}", errors.summary()))?;
    store.create_template(template.clone(), now).await.ok();
    let covered = store
        .get_incident(
            incident.to_string().parse().expect("an id"),
            hindsight_domain::access::Visibility::Everything,
        )
        .await?
        .expect("just created");
    let events = store
        .list_events(covered.id, hindsight_domain::access::Visibility::Everything)
        .await?
        .unwrap_or_default();
    let timeline = hindsight_domain::draft::timeline_block(
        &[hindsight_domain::draft::Source {
            incident: &covered,
            events: &events,
        }],
        &hindsight_domain::draft::Zone::utc(),
    );
    let prose = "The deploy of 2.3 ran a migration that held a lock on the payments table for \
        fourteen minutes. Card payments waited on the lock and timed out; **checkout** answered \
        502. The alert on the error rate fired within a minute, and the rollback restored \
        payments. Nothing checks migrations for long locks before a deploy.\n\n- one\n- two\n";
    let mut document = PostmortemDocument {
        title: "Postmortem: checkout returns 502".into(),
        incidents: vec![covered.id],
        template: template.key.clone(),
        ..PostmortemDocument::default()
    };
    for section in &template.sections {
        let text = if section.key == "timeline" {
            timeline.clone()
        } else {
            prose.to_owned()
        };
        document.sections.insert(section.key.clone(), text);
    }
    document.why_chains = vec![WhyChain {
        problem: "Card payments failed".into(),
        whys: (0..5)
            .map(|n| Why {
                question: "Why?".into(),
                answer: format!("Because of step {n} of the chain."),
            })
            .collect(),
        root_cause: Some("Nothing checks migrations for long locks.".into()),
    }];
    document.factors = vec![ContributingFactor {
        category: "testing_gap".into(),
        description: "Tests run on small data.".into(),
    }];
    let categories: Vec<String> = DEFAULT_FACTOR_CATEGORIES
        .iter()
        .map(|category| (*category).to_owned())
        .collect();
    let document = document
        .validate(&template, &categories)
        .map_err(|errors| anyhow::anyhow!("{}", errors.summary()))?;
    let postmortem = store
        .create_postmortem(
            NewPostmortem {
                id: None,
                status: PostmortemStatus::Published,
                document,
            },
            Author {
                user_id: None,
                name: "bench".into(),
            },
            now,
        )
        .await?;
    Ok(Seeded {
        incident,
        postmortem: postmortem.id.get(),
        big_incident,
    })
}

/// Times `POST /api/v1/postmortems` drafting from the incident with 10,000 events, over real
/// HTTP, one request at a time: the median and the slowest of `runs`.
pub async fn measure_draft(
    address: std::net::SocketAddr,
    authorization: &str,
    incident: i64,
    runs: usize,
) -> anyhow::Result<(Duration, Duration, usize)> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(driver);
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for _ in 0..runs {
        let body = Bytes::from(format!(r#"{{"incidents":[{incident}]}}"#));
        let request = Request::builder()
            .method("POST")
            .uri("/api/v1/postmortems")
            .header(hyper::header::HOST, address.to_string())
            .header(hyper::header::AUTHORIZATION, authorization)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))?;
        let started = Instant::now();
        sender.ready().await?;
        let response = sender.send_request(request).await?;
        let status = response.status();
        let answer = response.into_body().collect().await?.to_bytes();
        times.push(started.elapsed());
        anyhow::ensure!(
            status == hyper::StatusCode::CREATED,
            "drafting answered {status}: {}",
            String::from_utf8_lossy(&answer)
        );
        bytes = answer.len();
    }
    times.sort_unstable();
    Ok((times[times.len() / 2], times[times.len() - 1], bytes))
}
