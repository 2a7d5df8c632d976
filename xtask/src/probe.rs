pub fn run() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let folder = tempfile::tempdir()?;
        let store = hindsight_store::open(folder.path().join("p.db").to_str().unwrap()).await?;
        store.migrate().await?;
        let now = jiff::Timestamp::now();
        let draft = hindsight_domain::IncidentDraft {
            title: Some("Generated incident 1: checkout latency above SLO".into()),
            summary: Some("Requests to the checkout service slowed down after a deploy; a rollback restored latency.".into()),
            severity: Some("SEV2".into()),
            services: vec!["checkout".into(), "service-1".into()],
            started_at: Some("2026-11-20T10:00:00Z".into()),
            owner: Some("on-call".into()),
            tags: vec!["generated".into()],
            ..Default::default()
        };
        let incident = store.create_incident(draft.validate(now).unwrap(), now).await?;
        let n: u32 = std::env::var("PROBE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
        let t = std::time::Instant::now();
        for _ in 0..n { std::hint::black_box(store.get_incident(incident.id).await?); }
        println!("store.get_incident: {:.2} us", t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
        let t = std::time::Instant::now();
        for _ in 0..n { std::hint::black_box(serde_json::to_vec(&incident)?); }
        println!("serialize incident: {:.2} us", t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
        Ok(())
    })
}

pub fn run_router() -> anyhow::Result<()> {
    use tower::ServiceExt;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let folder = tempfile::tempdir()?;
        let store = hindsight_store::open(folder.path().join("p.db").to_str().unwrap()).await?;
        store.migrate().await?;
        let now = jiff::Timestamp::now();
        let draft = hindsight_domain::IncidentDraft {
            title: Some("x".into()), severity: Some("SEV2".into()),
            started_at: Some("2026-11-20T10:00:00Z".into()), ..Default::default()
        };
        let incident = store.create_incident(draft.validate(now).unwrap(), now).await?;
        let app = hindsight_http::app(hindsight_http::AppState::new(store));
        let bare = axum::Router::new().route("/bare/{id}", axum::routing::get(|| async { "x" }));
        for (name, router, uri) in [("bare", bare, "/bare/1".to_owned()), ("app healthz", app.clone(), "/healthz".to_owned()), ("app get", app, format!("/api/v1/incidents/{}", incident.id))] {
            let n: u32 = std::env::var("PROBE_N").ok().and_then(|v| v.parse().ok()).unwrap_or(200_000);
            let t = std::time::Instant::now();
            for _ in 0..n {
                let request = axum::http::Request::get(&uri).body(axum::body::Body::empty()).unwrap();
                let response = router.clone().oneshot(request).await.unwrap();
                std::hint::black_box(http_body_util::BodyExt::collect(response.into_body()).await.unwrap());
            }
            println!("{name}: {:.2} us", t.elapsed().as_secs_f64() * 1e6 / f64::from(n));
        }
        Ok(())
    })
}
