//! The benchmark harness.
//!
//! One process serves the real application (real store, durability on) and, beside it, bare
//! handlers that answer each operation with a fixed body of the same size: the ceiling of this
//! HTTP stack on this machine. A load generator in the same process (its own runtime, keep-alive
//! connections over loopback) drives each in turn for the same time, and the report gives each
//! operation's throughput as a ratio of its ceiling's. Absolute numbers vary between machines;
//! the ratios are what to compare.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hindsight_domain::{IncidentDraft, IncidentFilter};
use hindsight_http::{AppState, app};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;

struct Options {
    seconds: u64,
    connections: usize,
    incidents: usize,
    database_url: Option<String>,
    /// Run only the operations whose name contains this.
    only: Option<String>,
    /// Postmortems exported and imported by the CLI; 0 skips that measure.
    postmortems: usize,
    /// Messages of the generated Slack export imported; 0 skips that measure.
    slack_messages: usize,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut options = Options {
        seconds: 5,
        connections: 32,
        incidents: 10_000,
        database_url: None,
        only: None,
        postmortems: 10_000,
        slack_messages: 1_000_000,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seconds" => options.seconds = value.parse()?,
            "--connections" => options.connections = value.parse()?,
            "--incidents" => options.incidents = value.parse()?,
            "--database-url" => options.database_url = Some(value.clone()),
            "--only" => options.only = Some(value.clone()),
            "--postmortems" => options.postmortems = value.parse()?,
            "--slack-messages" => options.slack_messages = value.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(options)
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let options = parse(args)?;
    let idle_rss = measure_idle_rss()?;
    let (lint_bytes, lint_time, lint_findings) = measure_lint();
    let (hostile_bytes, hostile_time, hostile_findings) = measure_adversarial_lint();
    let transfer = if options.postmortems > 0 {
        Some(measure_transfer(options.postmortems)?)
    } else {
        None
    };
    let slack = if options.slack_messages > 0 {
        Some(crate::slack_bench::measure(options.slack_messages)?)
    } else {
        None
    };

    let folder = tempfile::tempdir()?;
    let database_url = options
        .database_url
        .clone()
        .unwrap_or_else(|| folder.path().join("bench.db").display().to_string());
    // The server gets the machine's cores, as `hindsight serve` does.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (address, ids, bodies, token, seeded) =
        server_runtime.block_on(start_server(&database_url, options.incidents))?;
    let reading_path: &'static str =
        Box::leak(format!("/postmortems/{}", seeded.postmortem).into_boxed_str());
    let incident_page_path: &'static str =
        Box::leak(format!("/incidents/{}", seeded.incident).into_boxed_str());
    let authorization: Arc<str> = Arc::from(format!("Bearer {token}"));

    let client_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let duration = Duration::from_secs(options.seconds);
    let create_body = Bytes::from(
        serde_json::json!({
            "title": "Benchmark incident",
            "severity": "SEV3",
            "services": ["bench"],
            "started_at": "2026-11-20T10:00:00Z",
        })
        .to_string(),
    );
    let ids = Arc::new(ids);
    let operations: Vec<(&str, Operation, Operation)> = vec![
        (
            "GET /api/v1/incidents/{id}",
            Operation::get_by_id(
                "/api/v1/incidents/",
                Arc::clone(&ids),
                Arc::clone(&authorization),
            ),
            Operation::get_by_id(
                "/bare/incident/",
                Arc::clone(&ids),
                Arc::clone(&authorization),
            ),
        ),
        (
            "GET /api/v1/incidents",
            Operation::get("/api/v1/incidents", Arc::clone(&authorization)),
            Operation::get("/bare/incidents", Arc::clone(&authorization)),
        ),
        (
            "POST /api/v1/incidents",
            Operation::post(
                "/api/v1/incidents",
                create_body.clone(),
                Arc::clone(&authorization),
            ),
            Operation::post("/bare/incidents", create_body, Arc::clone(&authorization)),
        ),
        (
            "GET /incidents/{id} (page, 200 events)",
            Operation::get(incident_page_path, Arc::clone(&authorization)),
            Operation::get("/bare/incident-page", Arc::clone(&authorization)),
        ),
        (
            "GET /postmortems/{id} (reading view, 20 sections, 200 events)",
            Operation::get(reading_path, Arc::clone(&authorization)),
            Operation::get("/bare/reading", Arc::clone(&authorization)),
        ),
        (
            "POST /api/v1/intake/alertmanager (a new alert each)",
            Operation::Intake {
                path: "/api/v1/intake/alertmanager",
                authorization: Arc::from(format!("Bearer {INTAKE_TOKEN}")),
            },
            Operation::Intake {
                path: "/bare/intake",
                authorization: Arc::from(format!("Bearer {INTAKE_TOKEN}")),
            },
        ),
    ];
    println!(
        "hindsight benchmark: {} connections, {} s per run, {} incidents in {}",
        options.connections,
        options.seconds,
        options.incidents,
        if options.database_url.is_some() {
            "the given database"
        } else {
            "SQLite (WAL, synchronous=FULL)"
        }
    );
    println!(
        "body sizes: incident {} B, list page {} B, created {} B\n",
        bodies.0, bodies.1, bodies.2
    );
    println!(
        "| operation | requests/s | p50 | p99 | ceiling requests/s | ceiling p50 | ceiling p99 | ratio |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
    let selected = operations.into_iter().filter(|(name, _, _)| {
        options
            .only
            .as_ref()
            .is_none_or(|only| name.contains(only.as_str()))
    });
    let mut throughputs: Vec<(&str, f64)> = Vec::new();
    for (name, real, bare) in selected {
        // Warm both up, then alternate short rounds of the ceiling and the real thing, so that
        // whatever else the machine does in the meantime weighs on both alike.
        client_runtime.block_on(load(
            address,
            &bare,
            options.connections,
            Duration::from_millis(500),
        ))?;
        client_runtime.block_on(load(
            address,
            &real,
            options.connections,
            Duration::from_millis(500),
        ))?;
        let round = duration / ROUNDS;
        let mut ceiling = Measured::default();
        let mut measured = Measured::default();
        for _ in 0..ROUNDS {
            ceiling.add(client_runtime.block_on(load(
                address,
                &bare,
                options.connections,
                round,
            ))?);
            measured.add(client_runtime.block_on(load(
                address,
                &real,
                options.connections,
                round,
            ))?);
        }
        let (ceiling, measured) = (ceiling.summary(), measured.summary());
        throughputs.push((name, measured.per_second));
        println!(
            "| {name} | {:.0} | {} | {} | {:.0} | {} | {} | {:.2} |",
            measured.per_second,
            show(measured.p50),
            show(measured.p99),
            ceiling.per_second,
            show(ceiling.p50),
            show(ceiling.p99),
            measured.per_second / ceiling.per_second
        );
    }
    let throughput = |prefix: &str| {
        throughputs
            .iter()
            .find(|(name, _)| name.starts_with(prefix))
            .map(|(_, per_second)| *per_second)
    };
    if let (Some(reading), Some(page)) = (
        throughput("GET /postmortems/{id}"),
        throughput("GET /incidents/{id} (page"),
    ) {
        println!(
            "\nreading view against the incident page, in this run: {:.2}× the requests/s",
            reading / page
        );
    }
    {
        let (median, slowest, bytes) = client_runtime.block_on(
            crate::postmortem_bench::measure_draft(address, &authorization, seeded.big_incident, 9),
        )?;
        println!(
            "draft from an incident with 10,000 events (POST /api/v1/postmortems, one at a time, \
             9 runs): median {}, slowest {}, answer {bytes} B",
            show(median),
            show(slowest)
        );
    }
    println!(
        "\nidle RSS of `hindsight serve` (release, SQLite, empty database): {:.1} MB",
        idle_rss as f64 / 1024.0
    );
    println!(
        "blameless lint: {:.2} MB document in {:.1} ms (median of 7), {lint_findings} findings",
        lint_bytes as f64 / 1_000_000.0,
        lint_time.as_secs_f64() * 1000.0
    );
    println!(
        "blameless lint, adversarial (one blaming sentence repeated on one line): {:.2} MB in \
         {:.1} ms (median of 7), {hostile_findings} findings; the API lists 1,000 of them",
        hostile_bytes as f64 / 1_000_000.0,
        hostile_time.as_secs_f64() * 1000.0
    );
    if let Some(slack) = slack {
        println!(
            "Slack export import (SQLite, one transaction): {} messages in {} day files ({:.1} MB zip) \
             in {:.2} s ({:.0} messages/s); peak RSS grew by {:.1} MB during the import",
            slack.messages,
            slack.days,
            slack.zip_bytes as f64 / 1_000_000.0,
            slack.elapsed.as_secs_f64(),
            slack.messages as f64 / slack.elapsed.as_secs_f64(),
            slack.peak_rss_growth_kb as f64 / 1024.0
        );
    }
    if let Some((count, export, import, bytes)) = transfer {
        println!(
            "postmortems as Markdown files (release binary, SQLite): export {count} in {:.2} s \
             ({:.0}/s, {:.1} MB), import them into a new database in {:.2} s ({:.0}/s)",
            export.as_secs_f64(),
            count as f64 / export.as_secs_f64(),
            bytes as f64 / 1_000_000.0,
            import.as_secs_f64(),
            count as f64 / import.as_secs_f64()
        );
    }
    Ok(())
}

/// Fills a database with `count` postmortems (sections of a few hundred words, a why chain,
/// factors, action items) over 100 incidents, then times `hindsight export DIR` and `hindsight
/// import DIR` into a second database holding the same incidents, as an operator runs them.
fn measure_transfer(count: usize) -> anyhow::Result<(usize, Duration, Duration, u64)> {
    use hindsight_domain::access::Visibility;
    use hindsight_domain::document::{Author, PostmortemDocument};
    use hindsight_domain::postmortem::{
        ContributingFactor, DEFAULT_FACTOR_CATEGORIES, PostmortemStatus, Why, WhyChain,
        builtin_templates,
    };
    use hindsight_store::NewPostmortem;

    let folder = tempfile::tempdir()?;
    let source = folder.path().join("source.db");
    let target = folder.path().join("target.db");
    let runtime = tokio::runtime::Runtime::new()?;
    let template = builtin_templates().remove(0);
    let categories: Vec<String> = DEFAULT_FACTOR_CATEGORIES
        .iter()
        .map(|category| (*category).to_owned())
        .collect();
    let paragraph = "The deploy at 14:02 UTC ran a migration that held a lock on the orders \
        table for eleven minutes. Checkout requests queued behind it and timed out; the alert \
        on error rate fired at 14:09 and the on-call engineer rolled the deploy back at 14:13.";
    runtime.block_on(async {
        for path in [&source, &target] {
            let store = hindsight_store::open(path.to_str().unwrap()).await?;
            store.migrate().await?;
            for n in 0..100 {
                let draft = IncidentDraft {
                    title: Some(format!("Incident {n}")),
                    severity: Some("SEV2".into()),
                    started_at: Some("2026-11-20T12:00:00Z".into()),
                    ..IncidentDraft::default()
                };
                let now = "2026-11-21T12:00:00Z".parse()?;
                store
                    .create_incident(
                        draft.validate(now).map_err(|e| anyhow::anyhow!("{e}"))?,
                        None,
                        now,
                    )
                    .await?;
            }
        }
        let store = hindsight_store::open(source.to_str().unwrap()).await?;
        let ids: Vec<_> = store
            .list_incidents(&IncidentFilter::default(), Visibility::Everything)
            .await?
            .items
            .into_iter()
            .map(|incident| incident.id)
            .collect();
        let mut writes = Vec::new();
        for n in 0..count {
            let document = PostmortemDocument {
                title: format!("Postmortem {n}: checkout timeouts"),
                incidents: vec![ids[n % ids.len()]],
                template: "default".into(),
                sections: template
                    .sections
                    .iter()
                    .take(8)
                    .map(|section| (section.key.clone(), format!("{paragraph}\n\n{paragraph}")))
                    .collect(),
                why_chains: vec![WhyChain {
                    problem: "Checkout timed out".into(),
                    whys: vec![Why {
                        question: "Why?".into(),
                        answer: "A migration held a lock.".into(),
                    }],
                    root_cause: Some("Nothing checks migrations for long locks.".into()),
                }],
                factors: vec![ContributingFactor {
                    category: "testing_gap".into(),
                    description: "Tests run on small tables.".into(),
                }],
                ..PostmortemDocument::default()
            }
            .validate(&template, &categories)
            .map_err(|errors| anyhow::anyhow!("{errors}"))?;
            let store = Arc::clone(&store);
            writes.push(tokio::spawn(async move {
                store
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
                        "2026-11-21T12:00:00Z".parse().unwrap(),
                    )
                    .await
            }));
        }
        for write in writes {
            write.await??;
        }
        anyhow::Ok(())
    })?;
    let binary = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("target/release/hindsight");
    let run = |args: &[&str]| -> anyhow::Result<Duration> {
        let started = Instant::now();
        let output = std::process::Command::new(&binary)
            .args(args)
            .current_dir(folder.path())
            .env("HINDSIGHT_LOG", "warn")
            .output()?;
        let elapsed = started.elapsed();
        if !output.status.success() {
            bail!(
                "hindsight {args:?} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(elapsed)
    };
    let export = run(&["export", "files", "--database-url", "source.db"])?;
    let files = folder.path().join("files");
    let mut bytes = 0;
    let mut written = 0;
    for entry in std::fs::read_dir(&files)? {
        bytes += entry?.metadata()?.len();
        written += 1;
    }
    if written != count {
        bail!("export wrote {written} files for {count} postmortems");
    }
    let import = run(&["import", "files", "--database-url", "target.db"])?;
    let imported = runtime.block_on(async {
        let store = hindsight_store::open(target.to_str().unwrap()).await?;
        anyhow::Ok(
            store
                .list_postmortems(
                    &hindsight_store::PostmortemFilter {
                        limit: 1000,
                        ..Default::default()
                    },
                    Visibility::Everything,
                )
                .await?
                .len(),
        )
    })?;
    if imported == 0 {
        bail!("the import created nothing");
    }
    Ok((count, export, import, bytes))
}

fn show(latency: Duration) -> String {
    format!("{:.2} ms", latency.as_secs_f64() * 1000.0)
}

/// Starts the real application and the bare handlers on one loopback port; fills the database.
async fn start_server(
    database_url: &str,
    incidents: usize,
) -> anyhow::Result<(
    std::net::SocketAddr,
    Vec<i64>,
    (usize, usize, usize),
    String,
    crate::postmortem_bench::Seeded,
)> {
    let store = hindsight_store::open(database_url).await?;
    store.migrate().await?;
    let now = jiff::Timestamp::now();
    // Requests carry a real API token, checked on every request as in production.
    let user = hindsight_http::accounts::create_user(
        &*store,
        hindsight_domain::access::UserDraft {
            email: Some(format!("bench-{}@example.com", now.as_microsecond())),
            display_name: None,
            role: Some("editor".into()),
            password: Some("benchmark passphrase".into()),
        },
        now,
    )
    .await?;
    let draft = hindsight_domain::access::ApiTokenDraft {
        name: Some("bench".into()),
        scope: Some("write".into()),
    };
    let (_, token) =
        hindsight_http::accounts::create_api_token(&*store, user.id, draft, now).await?;
    let mut ids = Vec::with_capacity(incidents);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..incidents {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            let severity = ["SEV1", "SEV2", "SEV3", "SEV4"][n % 4];
            let draft = IncidentDraft {
                title: Some(format!("Generated incident {n}: checkout latency above SLO")),
                summary: Some("Requests to the checkout service slowed down after a deploy; a rollback restored latency.".into()),
                severity: Some(severity.into()),
                status: Some(["open", "mitigated", "resolved", "closed"][n % 4].into()),
                services: vec!["checkout".into(), format!("service-{}", n % 20)],
                started_at: Some(now.checked_sub(jiff::SignedDuration::from_mins(n as i64)).unwrap().to_string()),
                owner: Some("on-call".into()),
                tags: vec!["generated".into()],
                ..IncidentDraft::default()
            };
            let incident = draft.validate(now).expect("generated incidents are valid");
            store.create_incident(incident, None, now).await.map(|incident| incident.id.get())
        });
        // Keep a bounded number in flight.
        if tasks.len() >= 512 {
            ids.push(tasks.join_next().await.unwrap()??);
        }
    }
    while let Some(id) = tasks.join_next().await {
        ids.push(id??);
    }

    // Bodies of the same size as the real answers, for the bare handlers.
    let sample = store
        .get_incident(
            ids[0].to_string().parse().unwrap(),
            hindsight_domain::access::Visibility::Everything,
        )
        .await?
        .unwrap();
    let incident_body = Bytes::from(serde_json::to_vec(&sample)?);
    let page = store
        .list_incidents(
            &IncidentFilter::default(),
            hindsight_domain::access::Visibility::Everything,
        )
        .await?;
    let list_body = Bytes::from(serde_json::to_vec(&serde_json::json!({
        "items": page.items,
        "next_cursor": page.next_cursor.map(|cursor| cursor.encode()),
    }))?);
    let created_body = incident_body.clone();
    let sizes = (incident_body.len(), list_body.len(), created_body.len());
    let seeded = crate::postmortem_bench::seed(&store, now).await?;

    let fixed = |body: Bytes, status: StatusCode| {
        move || {
            let body = body.clone();
            async move { (status, [(header::CONTENT_TYPE, "application/json")], body).into_response() }
        }
    };
    let bare = Router::new()
        .route(
            "/bare/incident/{id}",
            get(fixed(incident_body, StatusCode::OK)),
        )
        .route(
            "/bare/incidents",
            get(fixed(list_body, StatusCode::OK)).post({
                let body = created_body.clone();
                move |request_body: Bytes| {
                    let body = body.clone();
                    async move {
                        let _ = request_body;
                        (
                            StatusCode::CREATED,
                            [(header::CONTENT_TYPE, "application/json")],
                            body,
                        )
                            .into_response()
                    }
                }
            }),
        );
    let bare = bare.route(
        "/bare/intake",
        post(|request_body: Bytes| async move {
            let _ = request_body;
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"result":"recorded","incident_id":1,"opened":true,"events_added":1}"#,
            )
                .into_response()
        }),
    );
    let mut timeline = hindsight_http::timeline::TimelineSettings::default();
    timeline.intake.alertmanager = Some(hindsight_http::timeline::intake::SourceCredentials {
        token: Some(INTAKE_TOKEN.into()),
        ..Default::default()
    });
    let state = AppState::from_parts(hindsight_http::AppParts {
        store,
        clock: Arc::new(hindsight_http::SystemClock),
        metrics: hindsight_http::metrics::Metrics::default(),
        limits: hindsight_http::Limits::default(),
        secure_cookies: false,
        login_throttle: hindsight_http::signin::Throttle::default(),
        outbound: hindsight_http::default_outbound(),
        postmortems: hindsight_http::postmortems::PostmortemSettings::default(),
        timeline,
        follow_through: hindsight_http::policy::FollowThroughSettings::default(),
        meetings: hindsight_http::meetings::MeetingConfig::default(),
    });
    // The pages' ceilings answer HTML of the size the real pages answer.
    let probe = app(state.clone());
    let page_body = |path: String| {
        let probe = probe.clone();
        let authorization = format!("Bearer {token}");
        async move {
            use tower::ServiceExt;
            let response = probe
                .oneshot(
                    axum::http::Request::get(path)
                        .header(header::AUTHORIZATION, authorization)
                        .body(axum::body::Body::empty())?,
                )
                .await?;
            anyhow::ensure!(
                response.status() == StatusCode::OK,
                "a page answered {}",
                response.status()
            );
            Ok::<_, anyhow::Error>(response.into_body().collect().await?.to_bytes())
        }
    };
    let reading = page_body(format!("/postmortems/{}", seeded.postmortem)).await?;
    let incident_page = page_body(format!("/incidents/{}", seeded.incident)).await?;
    println!(
        "pages: reading view {} B (20 sections, 200 events), incident page {} B (200 events)",
        reading.len(),
        incident_page.len()
    );
    let html = |body: Bytes| {
        move || {
            let body = body.clone();
            async move {
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                    body,
                )
                    .into_response()
            }
        }
    };
    let bare = bare
        .route("/bare/reading", get(html(reading)))
        .route("/bare/incident-page", get(html(incident_page)));
    let router = bare.merge(app(state));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok((address, ids, sizes, token, seeded))
}

/// One kind of request, with the `Authorization` header every request carries (the bare
/// handlers ignore it; both get it so that both read the same bytes).
#[derive(Clone)]
enum Operation {
    GetById {
        prefix: &'static str,
        ids: Arc<Vec<i64>>,
        authorization: Arc<str>,
    },
    Get {
        path: &'static str,
        authorization: Arc<str>,
    },
    Post {
        path: &'static str,
        body: Bytes,
        authorization: Arc<str>,
    },
    /// An Alertmanager notification of a new alert group each time.
    Intake {
        path: &'static str,
        authorization: Arc<str>,
    },
}

const INTAKE_TOKEN: &str = "benchmark-intake-token";

impl Operation {
    fn get_by_id(prefix: &'static str, ids: Arc<Vec<i64>>, authorization: Arc<str>) -> Self {
        Self::GetById {
            prefix,
            ids,
            authorization,
        }
    }

    fn get(path: &'static str, authorization: Arc<str>) -> Self {
        Self::Get {
            path,
            authorization,
        }
    }

    fn post(path: &'static str, body: Bytes, authorization: Arc<str>) -> Self {
        Self::Post {
            path,
            body,
            authorization,
        }
    }

    fn authorization(&self) -> &str {
        match self {
            Self::GetById { authorization, .. }
            | Self::Get { authorization, .. }
            | Self::Post { authorization, .. }
            | Self::Intake { authorization, .. } => authorization,
        }
    }

    fn request(&self, address: std::net::SocketAddr, random: u64) -> Request<Full<Bytes>> {
        let builder = Request::builder()
            .header(header::HOST, address.to_string())
            .header(header::AUTHORIZATION, self.authorization());
        match self {
            Self::GetById { prefix, ids, .. } => {
                let id = ids[(random % ids.len() as u64) as usize];
                builder.uri(format!("{prefix}{id}")).body(Full::default())
            }
            Self::Get { path, .. } => builder.uri(*path).body(Full::default()),
            Self::Post { path, body, .. } => builder
                .method("POST")
                .uri(*path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(body.clone())),
            Self::Intake { path, .. } => builder
                .method("POST")
                .uri(*path)
                .header(header::CONTENT_TYPE, "application/json")
                .body(Full::new(Bytes::from(format!(
                    r#"{{"receiver":"hindsight","status":"firing","alerts":[{{"status":"firing","labels":{{"alertname":"Bench{random:x}","service":"checkout","severity":"warning"}},"annotations":{{"summary":"benchmark alert"}},"startsAt":"2026-11-20T10:00:00.123456789Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus.local/x","fingerprint":"{random:016x}"}}],"groupLabels":{{"alertname":"Bench{random:x}"}},"commonLabels":{{"alertname":"Bench{random:x}","service":"checkout","severity":"warning"}},"commonAnnotations":{{"summary":"benchmark alert"}},"externalURL":"http://am:9093","version":"4","groupKey":"{{}}:{{alertname=\"Bench{random:x}\"}}","truncatedAlerts":0}}"#
                )))),
        }
        .expect("a valid request")
    }

    fn expected(&self) -> StatusCode {
        match self {
            Self::Post { .. } => StatusCode::CREATED,
            _ => StatusCode::OK,
        }
    }
}

/// Rounds of alternating measurement per operation.
const ROUNDS: u32 = 4;

/// Latencies of every request in one or more runs, and the time the runs took.
#[derive(Default)]
struct Measured {
    latencies: Vec<Duration>,
    elapsed: Duration,
}

struct Summary {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

impl Measured {
    fn add(&mut self, other: Measured) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
    }

    fn summary(mut self) -> Summary {
        self.latencies.sort_unstable();
        let latencies = &self.latencies;
        let at = |quantile: f64| {
            latencies[((latencies.len() as f64 * quantile) as usize).min(latencies.len() - 1)]
        };
        Summary {
            per_second: latencies.len() as f64 / self.elapsed.as_secs_f64(),
            p50: at(0.50),
            p99: at(0.99),
        }
    }
}

/// Keeps `connections` keep-alive connections busy for `duration`; every answer is checked.
async fn load(
    address: std::net::SocketAddr,
    operation: &Operation,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..connections {
        let operation = operation.clone();
        tasks.spawn(async move {
            let stream = tokio::net::TcpStream::connect(address).await?;
            stream.set_nodelay(true)?;
            let (mut sender, driver) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(driver);
            let mut latencies = Vec::with_capacity(64 * 1024);
            let mut random = 0x9e37_79b9_7f4a_7c15_u64 ^ (connection as u64 + 1);
            while Instant::now() < deadline {
                random ^= random << 13;
                random ^= random >> 7;
                random ^= random << 17;
                let request = operation.request(address, random);
                let sent = Instant::now();
                sender.ready().await?;
                let response = sender.send_request(request).await?;
                let status = response.status();
                response.into_body().collect().await?;
                latencies.push(sent.elapsed());
                if status != operation.expected() {
                    bail!("unexpected status {status}");
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        });
    }
    let mut latencies = Vec::new();
    while let Some(result) = tasks.join_next().await {
        latencies.extend(result??);
    }
    Ok(Measured {
        latencies,
        elapsed: started.elapsed(),
    })
}

/// Lints a 1 MB postmortem made of ordinary prose, blaming sentences, code blocks and quotes.
fn measure_lint() -> (usize, Duration, usize) {
    let section = "## Timeline\n\nThe deploy failed because a migration held a lock on the orders table. \
        Priya noticed the spike and paged on-call. Sam forgot to run the migration before the \
        deploy. I think the cache was probably misconfigured.\n\n```\nERROR lock timeout after 30s\n```\n\n\
        > 14:10 someone says the site is down\n\n- The health check failed to respond.\n- \
        Error rates returned to normal at 15:25.\n\n";
    let document = section.repeat(1_000_000 / section.len() + 1);
    median_lint(&document, &["Priya", "Sam"])
}

/// Lints a document written to provoke: one blaming sentence repeated on a single 1 MB line,
/// the input that once took time growing with its square.
fn measure_adversarial_lint() -> (usize, Duration, usize) {
    let sentence = "it was Bob's fault, he should have known. ";
    let document = sentence.repeat(1_000_000 / sentence.len() + 1);
    median_lint(&document, &["Bob"])
}

fn median_lint(document: &str, people: &[&str]) -> (usize, Duration, usize) {
    let config = hindsight_domain::lint::LintConfig {
        people: people.iter().map(|name| (*name).to_owned()).collect(),
        ..Default::default()
    };
    let mut times = Vec::new();
    let mut findings = 0;
    for _ in 0..7 {
        let started = Instant::now();
        findings = hindsight_domain::lint::lint(document, &config).len();
        times.push(started.elapsed());
    }
    times.sort();
    (document.len(), times[3], findings)
}

/// Starts the release binary on an empty SQLite database and reads its resident memory as soon
/// as it says it is serving.
fn measure_idle_rss() -> anyhow::Result<u64> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "-p", "hindsight"])
        .status()?;
    if !status.success() {
        bail!("cannot build the hindsight binary");
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    let binary = root.join("target/release/hindsight");
    let folder = tempfile::tempdir()?;
    let mut child = std::process::Command::new(binary)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .current_dir(folder.path())
        .env("HINDSIGHT_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().unwrap();
    let started = std::io::BufRead::lines(std::io::BufReader::new(stdout))
        .map_while(Result::ok)
        .any(|line| line.starts_with("Hindsight is serving at "));
    if !started {
        bail!("hindsight serve ended without starting");
    }
    // The start line comes after migrating and binding; from then on the server does nothing
    // until a request comes, so this is its idle size.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id()))?;
    let _ = child.kill();
    let _ = child.wait();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .context("no VmRSS in /proc")
}
