//! The API and pages through the real router and a real database, as clients use them.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use hindsight_domain::FixedClock;
use hindsight_domain::access::{ApiTokenDraft, Role};
use hindsight_http::metrics::Metrics;
use hindsight_http::signin::Throttle;
use hindsight_http::{AppParts, AppState, Limits, accounts, app};
use hindsight_store::NewUser;
use hindsight_store::testing::TestDatabase;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

#[path = "http/contract.rs"]
mod contract;

struct TestApp {
    router: Router,
    database: TestDatabase,
    /// Sent as `Authorization: Bearer` unless a test asks otherwise: an admin's write token.
    token: Option<String>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn error_code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap().to_owned()
    }
}

impl TestApp {
    async fn on(database: TestDatabase) -> Self {
        Self::configured(database, |_| {}).await
    }

    /// The same database behind a router whose settings `change` altered: for stories about
    /// what an organisation configures.
    async fn reconfigured(self, change: impl FnOnce(&mut AppParts)) -> Self {
        let token = self.token.clone();
        let mut app = Self::configured(self.database, change).await;
        app.token = token;
        app
    }

    async fn configured(database: TestDatabase, change: impl FnOnce(&mut AppParts)) -> Self {
        let mut parts = AppParts {
            store: database.store(),
            clock: Arc::new(FixedClock::new("2026-11-21T12:00:00Z".parse().unwrap())),
            metrics: Metrics::default(),
            limits: Limits {
                max_body_bytes: 64 * 1024,
            },
            secure_cookies: false,
            login_throttle: Throttle::default(),
            outbound: hindsight_http::default_outbound(),
            postmortems: hindsight_http::postmortems::PostmortemSettings::default(),
            timeline: timeline_settings(),
            follow_through: hindsight_http::policy::FollowThroughSettings {
                public_url: Some("https://hindsight.example.com".into()),
                ..Default::default()
            },
            meetings: meeting_config(),
        };
        change(&mut parts);
        let state = AppState::from_parts(parts);
        let mut app = Self {
            router: app(state),
            database,
            token: None,
        };
        app.token = Some(
            app.token_for("admin@example.com", Role::Admin, "admin")
                .await,
        );
        app
    }

    /// Creates a user (with a password hash nobody can match) and a token of `scope` for them.
    async fn token_for(&self, email: &str, role: Role, scope: &str) -> String {
        let store = self.database.store();
        let now = "2026-11-21T11:00:00Z".parse().unwrap();
        let user = match store.find_user_by_email(email).await.unwrap() {
            Some((user, _)) => user,
            None => store
                .create_user(
                    NewUser {
                        email: email.into(),
                        display_name: email.split('@').next().unwrap().into(),
                        role,
                        password_hash: "no password".into(),
                    },
                    now,
                )
                .await
                .unwrap(),
        };
        let draft = ApiTokenDraft {
            name: Some(format!("{scope} token")),
            scope: Some(scope.into()),
        };
        accounts::create_api_token(&*store, user.id, draft, now)
            .await
            .unwrap()
            .1
    }

    async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite().await).await
    }

    async fn send(&self, mut request: Request<Body>) -> Answer {
        if let Some(token) = &self.token
            && !request.headers().contains_key(header::AUTHORIZATION)
        {
            request.headers_mut().insert(
                header::AUTHORIZATION,
                format!("Bearer {token}").parse().unwrap(),
            );
        }
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        contract::check(&method, &path, status, &headers, &body);
        Answer {
            status,
            headers,
            body,
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Body::empty()).unwrap())
            .await
    }

    async fn send_body(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> Answer {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    async fn post_json(&self, uri: &str, body: Value) -> Answer {
        self.send_body(
            Method::POST,
            uri,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    async fn patch_json(&self, uri: &str, body: Value) -> Answer {
        self.send_body(
            Method::PATCH,
            uri,
            Some("application/json"),
            body.to_string(),
        )
        .await
    }

    async fn post_form(&self, uri: &str, fields: &[(&str, &str)]) -> Answer {
        let body = serde_urlencoded::to_string(fields).unwrap();
        self.send_body(
            Method::POST,
            uri,
            Some("application/x-www-form-urlencoded"),
            body,
        )
        .await
    }

    async fn count(&self) -> u64 {
        self.database.store().count_incidents().await.unwrap()
    }

    async fn create(&self, body: Value) -> Value {
        let answer = self.post_json("/api/v1/incidents", body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
        answer.json()
    }
}

/// Every intake source open, with the credentials the intake stories send.
fn timeline_settings() -> hindsight_http::timeline::TimelineSettings {
    let settings: hindsight_http::timeline::intake::IntakeSettings = toml::from_str(
        r#"
        [alertmanager]
        token = "test-intake-token"
        [pagerduty]
        secrets = ["old-pagerduty-secret-1", "new-pagerduty-secret-2"]
        [grafana]
        secrets = ["grafana-hmac-secret-123"]
        [opsgenie]
        username = "opsgenie"
        password = "opsgenie-password-1234"
        "#,
    )
    .unwrap();
    settings.check().unwrap();
    hindsight_http::timeline::TimelineSettings {
        intake: settings,
        ..Default::default()
    }
}

fn incident() -> Value {
    json!({
        "title": "Checkout returns 502 for card payments",
        "severity": "SEV2",
        "started_at": "2026-11-20T12:20:00Z",
        "services": ["checkout", "payments-api"],
    })
}

async fn creating_an_incident_answers_201_with_its_location_and_body(app: TestApp) {
    let answer = app.post_json("/api/v1/incidents", incident()).await;
    assert_eq!(answer.status, StatusCode::CREATED);
    let body = answer.json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(
        answer.headers[header::LOCATION],
        format!("/api/v1/incidents/{id}").as_str()
    );
    assert_eq!(body["status"], "open");
    assert_eq!(body["created_at"], "2026-11-21T12:00:00Z");
    assert_eq!(body["impact"]["users_affected"], Value::Null);
    let read = app.get(&format!("/api/v1/incidents/{id}")).await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.json()["postmortems"], json!([]));
    assert_eq!(without_postmortems(read.json()), body);
}

async fn malformed_json_is_400_and_stores_nothing(app: TestApp) {
    let answer = app
        .send_body(
            Method::POST,
            "/api/v1/incidents",
            Some("application/json"),
            r#"{"title": "unterminated"#,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.error_code(), "malformed_json");
    for body in ["", "   ", "nul", "[1,"] {
        let answer = app
            .send_body(
                Method::POST,
                "/api/v1/incidents",
                Some("application/json"),
                body,
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body:?}");
    }
    let deep = format!(
        "{}{}",
        "{\"a\":".repeat(40),
        "1".to_owned() + &"}".repeat(40)
    );
    let answer = app
        .send_body(
            Method::POST,
            "/api/v1/incidents",
            Some("application/json"),
            deep,
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.text().contains("nests deeper than 32 levels"));
    let in_strings = json!({"title": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", "severity": "SEV1", "started_at": "2026-11-20T10:00:00Z"});
    assert_eq!(
        app.post_json("/api/v1/incidents", in_strings).await.status,
        StatusCode::CREATED
    );
    app.database.store().count_incidents().await.unwrap();
    for body in [r#"["Title", "", "SEV1"]"#, "42", r#""text""#, "null"] {
        let answer = app
            .send_body(
                Method::POST,
                "/api/v1/incidents",
                Some("application/json"),
                body,
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body:?}");
        assert!(answer.text().contains("the body must be a JSON object"));
    }
    assert_eq!(
        app.count().await,
        1,
        "only the incident with brackets in its title"
    );
}

async fn invalid_fields_are_422_naming_every_field_and_store_nothing(app: TestApp) {
    let answer = app
        .post_json(
            "/api/v1/incidents",
            json!({
                "title": "",
                "severity": "SEV9",
                "started_at": "2026-11-20T12:20:00Z",
                "resolved_at": "2026-11-20T11:00:00Z",
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = answer.json();
    assert_eq!(body["error"]["code"], "invalid_fields");
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "severity", "resolved_at"]);
    assert_eq!(app.count().await, 0);
}

async fn a_field_of_the_wrong_type_or_unknown_name_is_422_naming_it(app: TestApp) {
    let wrong_type = app
        .post_json("/api/v1/incidents", json!({"title": 5, "severity": "SEV1"}))
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(wrong_type.json()["error"]["details"][0]["field"], "title");
    let unknown = app
        .post_json(
            "/api/v1/incidents",
            json!({"title": "x", "sevrity": "SEV1"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unknown.text().contains("unknown field `sevrity`"),
        "{}",
        unknown.text()
    );
    let nested = app
        .post_json(
            "/api/v1/incidents",
            json!({"title": "x", "impact": {"users_affected": "lots"}}),
        )
        .await;
    assert_eq!(
        nested.json()["error"]["details"][0]["field"],
        "impact.users_affected"
    );
    assert_eq!(app.count().await, 0);
}

async fn a_body_over_the_limit_is_413_and_stores_nothing(app: TestApp) {
    let mut big = incident();
    big["summary"] = json!("x".repeat(70 * 1024));
    let answer = app.post_json("/api/v1/incidents", big).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.error_code(), "payload_too_large");
    assert_eq!(app.count().await, 0);
}

async fn a_wrong_or_missing_content_type_is_415_and_stores_nothing(app: TestApp) {
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let answer = app
            .send_body(
                Method::POST,
                "/api/v1/incidents",
                content_type,
                incident().to_string(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(answer.error_code(), "unsupported_media_type");
    }
    assert_eq!(app.count().await, 0);
}

async fn an_unknown_incident_is_404_for_reads_and_changes(app: TestApp) {
    for uri in [
        "/api/v1/incidents/999",
        "/api/v1/incidents/abc",
        "/api/v1/incidents/-1",
    ] {
        let answer = app.get(uri).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{uri}");
        assert_eq!(answer.error_code(), "not_found");
        let patch = app.patch_json(uri, json!({"status": "resolved"})).await;
        assert_eq!(patch.status, StatusCode::NOT_FOUND, "{uri}");
    }
}

async fn a_patch_changes_only_the_fields_it_names(app: TestApp) {
    let created = app.create(incident()).await;
    let uri = format!("/api/v1/incidents/{}", created["id"]);
    let answer = app
        .patch_json(
            &uri,
            json!({"status": "resolved", "resolved_at": "2026-11-20T15:25:00Z", "impact": {"users_affected": 120}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let patched = answer.json();
    assert_eq!(patched["status"], "resolved");
    assert_eq!(patched["impact"]["users_affected"], 120);
    assert_eq!(patched["title"], created["title"]);
    assert_eq!(patched["services"], created["services"]);
    assert_eq!(without_postmortems(app.get(&uri).await.json()), patched);
}

async fn an_invalid_patch_is_refused_and_changes_nothing(app: TestApp) {
    let created = app.create(incident()).await;
    let uri = format!("/api/v1/incidents/{}", created["id"]);
    for (body, code) in [
        (
            json!({"resolved_at": "2026-11-19T00:00:00Z"}),
            "invalid_fields",
        ),
        (json!({"title": null}), "invalid_fields"),
        (json!({"severity": "critical"}), "invalid_fields"),
        (json!({"colour": "red"}), "invalid_fields"),
    ] {
        let answer = app.patch_json(&uri, body.clone()).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(answer.error_code(), code);
    }
    let garbled = app
        .send_body(
            Method::PATCH,
            &uri,
            Some("application/json"),
            "{status: resolved}",
        )
        .await;
    assert_eq!(garbled.status, StatusCode::BAD_REQUEST);
    assert_eq!(without_postmortems(app.get(&uri).await.json()), created);
}

async fn the_list_filters_and_pages_with_a_cursor(app: TestApp) {
    for day in 1..=5 {
        let mut body = incident();
        body["title"] = json!(format!("day {day}"));
        body["started_at"] = json!(format!("2026-11-0{day}T10:00:00Z"));
        body["severity"] = json!(if day % 2 == 0 { "SEV1" } else { "SEV3" });
        app.create(body).await;
    }
    let first = app.get("/api/v1/incidents?limit=2").await.json();
    let titles = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(titles(&first), ["day 5", "day 4"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/api/v1/incidents?limit=2&cursor={cursor}"))
        .await
        .json();
    assert_eq!(titles(&second), ["day 3", "day 2"]);
    let sev1 = app.get("/api/v1/incidents?severity=SEV1").await.json();
    assert_eq!(titles(&sev1), ["day 4", "day 2"]);
    assert_eq!(sev1["next_cursor"], Value::Null);
    let window = app
        .get("/api/v1/incidents?started_after=2026-11-02T00:00:00Z&started_before=2026-11-04T00:00:00Z&service=checkout")
        .await
        .json();
    assert_eq!(titles(&window), ["day 3", "day 2"]);
}

async fn a_bad_list_filter_is_422_naming_it(app: TestApp) {
    let answer = app
        .get("/api/v1/incidents?status=gone&limit=0&cursor=zzz&started_after=monday")
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<String> = answer.json()["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["status", "started_after", "limit", "cursor"]);
}

async fn an_incidents_policy_follows_its_changes_requests_and_overrides(mut app: TestApp) {
    let mut quiet = incident();
    quiet["severity"] = json!("SEV3");
    let created = app.create(quiet).await;
    let id = created["id"].as_i64().unwrap();
    let policy_uri = format!("/api/v1/incidents/{id}/policy");
    let policy = app.get(&policy_uri).await.json();
    assert_eq!(policy["outcome"], "not_needed");
    assert_eq!(policy["pending"], Value::Null);

    // A customer found it and it was resolved on Friday: required, owed by next Friday.
    let changed = app
        .patch_json(
            &format!("/api/v1/incidents/{id}"),
            json!({"detection": "human", "resolved_at": "2026-11-20T16:00:00Z"}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text());
    let policy = app.get(&policy_uri).await.json();
    assert_eq!(policy["outcome"], "required");
    assert_eq!(policy["decision"]["rules"][0]["rule"], "monitoring_failure");
    assert_eq!(policy["pending"]["due_on"], "2026-11-27");
    assert_eq!(policy["history"].as_array().unwrap().len(), 2);
    let debt = app.get("/api/v1/postmortem-debt").await.json();
    assert_eq!(debt[0]["incident_id"], id);
    assert_eq!(
        debt[0]["days_overdue"],
        Value::Null,
        "not due yet on the 21st"
    );

    let no_reason = app
        .post_json(
            &format!("/api/v1/incidents/{id}/postmortem-requests"),
            json!({"reason": "  "}),
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_names(&no_reason), ["reason"]);
    let unjustified = app
        .post_json(
            &format!("/api/v1/incidents/{id}/policy/override"),
            json!({"outcome": "never"}),
        )
        .await;
    assert_eq!(
        field_names(&unjustified),
        ["outcome", "justification"],
        "both problems at once"
    );
    assert_eq!(
        app.get(&policy_uri).await.json()["overrides"],
        json!([]),
        "nothing kept"
    );

    let overridden = app
        .post_json(
            &format!("/api/v1/incidents/{id}/policy/override"),
            json!({"outcome": "not_needed", "justification": "The customer was our own load test"}),
        )
        .await;
    assert_eq!(overridden.status, StatusCode::OK, "{}", overridden.text());
    let policy = overridden.json();
    assert_eq!(policy["outcome"], "not_needed");
    assert_eq!(policy["decision"]["outcome"], "required");
    assert_eq!(
        policy["override"]["justification"],
        "The customer was our own load test"
    );
    assert_eq!(policy["pending"], Value::Null);

    // A viewer may ask for a postmortem, not override the decision.
    app.token = Some(
        app.token_for("viewer@example.com", Role::Viewer, "read")
            .await,
    );
    let asked = app
        .post_json(
            &format!("/api/v1/incidents/{id}/postmortem-requests"),
            json!({"reason": "The same cache failed last month"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.text());
    assert_eq!(
        asked.json()["requests"][0]["requested_by"]["name"],
        "viewer"
    );
    let refused = app
        .post_json(
            &format!("/api/v1/incidents/{id}/policy/override"),
            json!({"outcome": "required", "justification": "I think so"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let page = app.get(&format!("/incidents/{id}")).await.text();
    assert!(page.contains("id=\"policy\""), "{page}");
    assert!(page.contains("The customer was our own load test"));
    assert!(page.contains("Ask for a postmortem"));
    assert!(!page.contains("Override the decision"), "viewers cannot");
}

async fn postmortem_debt_is_oldest_first_with_days_overdue(app: TestApp) {
    for (title, resolved) in [
        ("Late", "2026-11-02T10:00:00Z"),
        ("Later", "2026-11-09T10:00:00Z"),
    ] {
        let mut body = incident();
        body["title"] = json!(title);
        body["severity"] = json!("SEV1");
        body["started_at"] = json!("2026-11-01T10:00:00Z");
        body["resolved_at"] = json!(resolved);
        app.create(body).await;
    }
    let debt = app.get("/api/v1/postmortem-debt").await.json();
    let rows: Vec<(String, String, i64)> = debt
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["incident_title"].as_str().unwrap().to_owned(),
                row["due_on"].as_str().unwrap().to_owned(),
                row["days_overdue"].as_i64().unwrap(),
            )
        })
        .collect();
    // The clock says 2026-11-21: Monday 2 Nov + 5 business days is Monday 9 Nov.
    assert_eq!(
        rows,
        [
            ("Late".to_owned(), "2026-11-09".to_owned(), 12),
            ("Later".to_owned(), "2026-11-16".to_owned(), 5),
        ]
    );
    let page = app.get("/postmortems/debt").await.text();
    assert!(page.contains("12 days"), "{page}");
}

async fn action_items_end_only_with_a_note_and_are_listed_filtered_and_exported(app: TestApp) {
    let (incident, postmortem) = postmortem_for(&app).await;
    let pm = postmortem["id"].as_i64().unwrap();
    let items_uri = format!("/api/v1/postmortems/{pm}/action-items");
    let bad = app
        .post_json(
            &items_uri,
            json!({"title": "", "owner": "bob", "effort": "tiny", "tracker_url": "ftp://x"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_names(&bad),
        ["title", "owner", "effort", "tracker_url"]
    );
    let unknown_owner = app
        .post_json(&items_uri, json!({"title": "Canary", "owner": "user:999"}))
        .await;
    assert_eq!(field_names(&unknown_owner), ["owner"]);
    assert_eq!(
        app.get(&items_uri).await.json()["items"],
        json!([]),
        "nothing kept"
    );

    let me = app.get("/api/v1/me").await.json();
    let owner = format!("user:{}", me["id"]);
    let created = app
        .post_json(
            &items_uri,
            json!({"title": "Alert on replication lag", "owner": owner, "effort": "low",
                   "impact": "high", "kind": "detect", "description": "=cmd|' /C calc'!A0"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let item = created.json();
    assert_eq!(item["priority"], "P1");
    assert_eq!(item["due_on"], "2026-12-19", "P1 is due in four weeks");
    assert_eq!(item["status"], "open");
    let item_uri = format!("/api/v1/action-items/{}", item["id"]);
    let slow = app
        .post_json(
            &items_uri,
            json!({"title": "Rewrite the queue", "owner": owner, "effort": "high",
                   "impact": "medium", "due_on": "2026-11-01"}),
        )
        .await
        .json();
    assert_eq!(slow["priority"], "P3");

    let refused = app.patch_json(&item_uri, json!({"status": "done"})).await;
    assert_eq!(field_names(&refused), ["verification"]);
    let refused = app
        .patch_json(&item_uri, json!({"status": "not_doing"}))
        .await;
    assert_eq!(field_names(&refused), ["not_doing_reason"]);
    assert_eq!(app.get(&item_uri).await.json()["status"], "open");
    let started = app
        .patch_json(&item_uri, json!({"status": "in_progress"}))
        .await;
    assert_eq!(started.json()["status"], "in_progress");

    // Closing the incident leaves its action items as they are.
    app.patch_json(
        &format!("/api/v1/incidents/{}", incident["id"]),
        json!({"status": "closed", "resolved_at": "2026-11-20T18:00:00Z"}),
    )
    .await;
    assert_eq!(app.get(&item_uri).await.json()["status"], "in_progress");

    let done = app
        .patch_json(
            &item_uri,
            json!({"status": "done", "verification": "Fired in the drill on 2 December"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text());
    assert_eq!(done.json()["finished_at"], "2026-11-21T12:00:00Z");

    let ids = |answer: Answer| -> Vec<Value> {
        answer.json()["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].clone())
            .collect()
    };
    assert_eq!(
        ids(app.get("/api/v1/action-items?status=unfinished").await),
        [slow["id"].clone()]
    );
    let overdue = app.get("/api/v1/action-items?overdue=true").await.json();
    assert_eq!(overdue["items"][0]["days_overdue"], 20);
    assert_eq!(
        ids(app
            .get("/api/v1/action-items?owner=me&service=checkout")
            .await),
        [slow["id"].clone(), item["id"].clone()]
    );
    assert_eq!(
        ids(app
            .get(&format!("/api/v1/action-items?incident={}", incident["id"]))
            .await)
        .len(),
        2
    );
    let bad_filter = app
        .get("/api/v1/action-items?status=closed&due_before=soon")
        .await;
    assert_eq!(field_names(&bad_filter), ["status", "due_before"]);

    let csv = app.get("/api/v1/action-items/export/csv?status=done").await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = csv.text();
    assert!(text.starts_with("id,title,status,priority"), "{text}");
    assert!(
        text.contains("Alert on replication lag,done,P1,low,high,detect"),
        "{text}"
    );
    let github = app.get("/api/v1/action-items/export/github").await.json();
    assert_eq!(github[0]["title"], "Rewrite the queue");
    assert!(
        github[0]["body"].as_str().unwrap().contains(&format!(
            "https://hindsight.example.com/postmortems/{pm}/action-items#item-"
        )),
        "{github}"
    );
    assert_eq!(
        github[0]["labels"],
        json!(["postmortem", "priority:P3", "kind:prevent"])
    );
    let jira = app.get("/api/v1/action-items/export/jira").await.json();
    assert_eq!(jira[1]["fields"]["duedate"], "2026-12-19");
    assert_eq!(jira[1]["fields"]["priority"]["name"], "P1");
    assert_eq!(
        app.get("/api/v1/action-items/export/xlsx").await.status,
        StatusCode::NOT_FOUND
    );

    let board = app.get("/action-items?owner=me").await.text();
    assert!(board.contains("My action items"), "{board}");
    assert!(board.contains("Rewrite the queue"));
    assert!(board.contains("20 days overdue"));
    assert!(
        !board.contains("Alert on replication lag"),
        "done items leave the board"
    );
}

async fn action_items_are_added_and_finished_through_the_pages(app: TestApp) {
    let (_, postmortem) = postmortem_for(&app).await;
    let pm = postmortem["id"].as_i64().unwrap();
    let added = app
        .post_form(
            &format!("/postmortems/{pm}/action-items"),
            &[
                ("title", "Add a canary stage"),
                ("owner", ""),
                ("effort", "low"),
                ("impact", "high"),
                ("priority", ""),
                ("kind", "prevent"),
                ("due_on", ""),
                ("addresses", ""),
                ("tracker_url", ""),
                ("description", ""),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let items = app
        .get(&format!("/api/v1/postmortems/{pm}/action-items"))
        .await
        .json();
    let id = items["items"][0]["id"].as_i64().unwrap();
    let refused = app
        .post_form(&format!("/action-items/{id}"), &[("status", "done")])
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text().contains("how do we know it worked"),
        "{}",
        refused.text()
    );
    let finished = app
        .post_form(
            &format!("/action-items/{id}"),
            &[
                ("status", "done"),
                ("verification", "Caught a bad build on 1 Dec"),
            ],
        )
        .await;
    assert_eq!(finished.status, StatusCode::SEE_OTHER);
    let page = app
        .get(&format!("/postmortems/{pm}/action-items"))
        .await
        .text();
    assert!(page.contains("Caught a bad build on 1 Dec"), "{page}");
}

macro_rules! on_both_backends {
    ($($story:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $story() {
                    super::$story(super::TestApp::sqlite().await).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $story() {
                    if let Some(database) = super::TestDatabase::postgres().await {
                        super::$story(super::TestApp::on(database).await).await;
                    }
                }
            )+
        }
    };
}

async fn the_agenda_lists_open_items_by_owner_and_deliveries_are_listed_and_replayed(app: TestApp) {
    let (_, postmortem) = postmortem_for(&app).await;
    let pm = postmortem["id"].as_i64().unwrap();
    let me = app.get("/api/v1/me").await.json();
    app.post_json(
        &format!("/api/v1/postmortems/{pm}/action-items"),
        json!({"title": "Alert on replication lag", "owner": format!("user:{}", me["id"]),
               "due_on": "2026-11-10"}),
    )
    .await;
    app.post_json(
        &format!("/api/v1/postmortems/{pm}/action-items"),
        json!({"title": "Find an owner for me"}),
    )
    .await;
    let agenda = app.get("/api/v1/reviews/agenda").await;
    assert_eq!(agenda.status, StatusCode::OK, "{}", agenda.text());
    let agenda = agenda.json();
    assert_eq!(agenda["on"], "2026-11-21");
    assert_eq!(agenda["open"][0]["owner"], "Nobody yet");
    assert_eq!(agenda["open"][1]["items"][0]["days_overdue"], 11);
    let page = app.get("/reviews/agenda").await;
    assert!(page.text().contains("Alert on replication lag"));
    assert!(page.text().contains("11 days overdue"));

    // A job planned a reminder and a worker routed it.
    let store = app.database.store();
    let now: jiff::Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
    store
        .schedule_job(
            hindsight_store::NewJob {
                kind: "reminders".into(),
                dedupe_key: "r".into(),
                run_at: now,
            },
            now,
        )
        .await
        .unwrap();
    let job = store
        .claim_job("w", now, std::time::Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let reminder = hindsight_domain::notify::NewNotification {
        dedupe_key: "reminder".into(),
        kind: hindsight_domain::notify::NotificationKind::Reminder,
        private: false,
        audience: hindsight_domain::notify::Audience::default(),
        message: hindsight_domain::notify::Message {
            subject: "Please <finish>".into(),
            intro: String::new(),
            sections: vec![],
            link: None,
            data: Value::Null,
            calendar: None,
        },
    };
    store
        .complete_job(job.id, now, vec![reminder])
        .await
        .unwrap();
    store
        .route_notifications(
            "2026-11-21T12:00:00Z".parse().unwrap(),
            10,
            Box::new(|_| vec!["channel:eng".into()]),
        )
        .await
        .unwrap();
    let listed = app.get("/api/v1/deliveries").await.json();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["status"], "pending");
    assert_eq!(listed[0]["kind"], "action_item.reminder");
    let bad = app.get("/api/v1/deliveries?status=lost&limit=0").await;
    assert_eq!(field_names(&bad), ["status", "limit"]);
    assert_eq!(
        app.post_json("/api/v1/deliveries/999/replay", json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post_json("/api/v1/deliveries/nope/replay", json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let id = listed[0]["id"].as_i64().unwrap();
    let pending = app
        .post_json(&format!("/api/v1/deliveries/{id}/replay"), json!({}))
        .await;
    assert_eq!(
        pending.status,
        StatusCode::CONFLICT,
        "only dead ones are replayed"
    );
    let page = app.get("/admin/deliveries").await.text();
    assert!(
        page.contains("channel:eng") && page.contains("Please &#60;finish&#62;"),
        "{page}"
    );
}

/// An incident as `GET /api/v1/incidents/{id}` answers it, less the postmortems it names: what
/// a create or an update answers.
fn without_postmortems(mut incident: Value) -> Value {
    incident
        .as_object_mut()
        .expect("an incident is an object")
        .remove("postmortems");
    incident
}

async fn postmortem_for(app: &TestApp) -> (Value, Value) {
    let incident = app.create(incident()).await;
    let answer = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [incident["id"]], "draft": false}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    (incident, answer.json())
}

fn field_names(answer: &Answer) -> Vec<String> {
    answer.json()["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|detail| detail["field"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_postmortem_moves_to_review_and_publication_only_when_ready(app: TestApp) {
    let (_, postmortem) = postmortem_for(&app).await;
    let id = postmortem["id"].as_i64().unwrap();
    assert_eq!(postmortem["status"], "draft");
    assert_eq!(postmortem["version"], 1);
    assert_eq!(
        postmortem["title"],
        "Postmortem: Checkout returns 502 for card payments"
    );
    let base = format!("/api/v1/postmortems/{id}");
    let refused = app
        .post_json(
            &format!("{base}/transitions"),
            json!({"version": 1, "to": "in_review"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_names(&refused),
        ["sections.summary", "sections.impact", "sections.timeline"]
    );
    let mut version = 1;
    for (key, text) in [
        ("summary", "Card payments failed for 14 minutes."),
        ("impact", "12,000 users could not pay."),
        (
            "timeline",
            "- 12:20 UTC deploy\n- 12:31 UTC alert fired\n- 12:45 UTC resolved",
        ),
    ] {
        let answer = app
            .send_body(
                Method::PUT,
                &format!("{base}/sections/{key}"),
                Some("application/json"),
                json!({"version": version, "text": text}).to_string(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        version = answer.json()["version"].as_i64().unwrap();
    }
    let review = app
        .post_json(
            &format!("{base}/transitions"),
            json!({"version": version, "to": "in_review"}),
        )
        .await;
    assert_eq!(review.status, StatusCode::OK, "{}", review.text());
    version = review.json()["version"].as_i64().unwrap();
    let publish = app
        .post_json(
            &format!("{base}/transitions"),
            json!({"version": version, "to": "published"}),
        )
        .await;
    assert_eq!(publish.status, StatusCode::UNPROCESSABLE_ENTITY);
    let missing = field_names(&publish);
    assert!(missing.contains(&"why_chains".to_owned()), "{missing:?}");
    assert!(missing.contains(&"action_items".to_owned()));
    assert!(missing.contains(&"sections.root_cause".to_owned()));

    let chain = app
        .post_json(
            &format!("{base}/why-chains"),
            json!({"version": version, "chain": {
                "problem": "Checkout failed",
                "whys": [{"question": "Why?", "answer": "A migration held a lock."}],
                "root_cause": "Migrations are not checked for long locks."}}),
        )
        .await;
    assert_eq!(chain.status, StatusCode::CREATED, "{}", chain.text());
    version = chain.json()["version"].as_i64().unwrap();
    let factor = app
        .post_json(
            &format!("{base}/contributing-factors"),
            json!({"version": version, "factor": {"category": "testing_gap", "description": "No production-sized data."}}),
        )
        .await;
    assert_eq!(factor.status, StatusCode::CREATED, "{}", factor.text());
    version = factor.json()["version"].as_i64().unwrap();
    let mut sections = serde_json::Map::new();
    for key in [
        "root_cause",
        "contributing_factors",
        "resolution",
        "lessons",
        "conclusion",
    ] {
        sections.insert(key.into(), json!(format!("Written: {key}.")));
    }
    let patched = app
        .patch_json(&base, json!({"version": version, "sections": sections}))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    version = patched.json()["version"].as_i64().unwrap();
    // An action item nobody owns holds publication back (seed 004: each needs an owner).
    let item = app
        .post_json(
            &format!("{base}/action-items"),
            json!({"title": "Add a lock timeout to migrations", "due_on": "2026-12-15"}),
        )
        .await;
    assert_eq!(item.status, StatusCode::CREATED, "{}", item.text());
    let unowned = app
        .post_json(
            &format!("{base}/transitions"),
            json!({"version": version, "to": "published"}),
        )
        .await;
    assert_eq!(unowned.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unowned.text().contains("have no owner"),
        "{}",
        unowned.text()
    );
    let me = app.get("/api/v1/me").await.json();
    let owned = app
        .patch_json(
            &format!("/api/v1/action-items/{}", item.json()["id"]),
            json!({"owner": format!("user:{}", me["id"])}),
        )
        .await;
    assert_eq!(owned.status, StatusCode::OK, "{}", owned.text());
    let published = app
        .post_json(
            &format!("{base}/transitions"),
            json!({"version": version, "to": "published"}),
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.text());
    assert_eq!(published.json()["status"], "published");
    let back = app
        .post_json(
            &format!("{base}/transitions"),
            json!({"version": version + 1, "to": "draft"}),
        )
        .await;
    assert_eq!(back.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(back.text().contains("cannot move from published to draft"));
    let listed = app.get("/api/v1/postmortems?status=published").await.json();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

async fn a_stale_edit_is_409_with_the_current_version_and_loses_nothing(app: TestApp) {
    let (_, postmortem) = postmortem_for(&app).await;
    let base = format!("/api/v1/postmortems/{}", postmortem["id"]);
    let first = app
        .patch_json(
            &base,
            json!({"version": 1, "sections": {"summary": "Alex's text."}}),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    let second = app
        .patch_json(
            &base,
            json!({"version": 1, "sections": {"summary": "Sam's text."}}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CONFLICT);
    assert_eq!(second.error_code(), "stale_version");
    assert_eq!(second.json()["error"]["details"]["current_version"], 2);
    let now = app.get(&base).await.json();
    assert_eq!(now["sections"]["summary"], "Alex's text.");
    let history = app.get(&format!("{base}/history")).await.json();
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[1]["changed"], json!(["sections.summary"]));
    assert_eq!(history[1]["author"]["name"], "admin");
    let diff = app.get(&format!("{base}/diff?from=1&to=2")).await.json();
    assert_eq!(diff[0]["field"], "sections.summary");
    assert_eq!(
        diff[0]["lines"][0],
        json!({"kind": "added", "text": "Alex's text."})
    );
    let old = app.get(&format!("{base}/history/1")).await.json();
    assert!(old["document"]["sections"].as_object().unwrap().is_empty());
}

async fn unknown_templates_sections_statuses_and_categories_are_422_and_store_nothing(
    app: TestApp,
) {
    let incident = app.create(incident()).await;
    let unknown_template = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [incident["id"]], "template": "nope"}),
        )
        .await;
    assert_eq!(unknown_template.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown_template.text().contains("default, six_questions"));
    let everything_wrong = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [999999], "template": "nope", "owner": 999999}),
        )
        .await;
    assert_eq!(everything_wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        field_names(&everything_wrong),
        ["template", "incidents[0]", "owner"],
        "every problem is named at once"
    );
    let unknown_incident = app
        .post_json("/api/v1/postmortems", json!({"incidents": [999999]}))
        .await;
    assert_eq!(field_names(&unknown_incident), ["incidents[0]"]);
    assert_eq!(
        app.get("/api/v1/postmortems").await.json()["items"],
        json!([])
    );
    let (_, postmortem) = postmortem_for(&app).await;
    let base = format!("/api/v1/postmortems/{}", postmortem["id"]);
    let section = app
        .send_body(
            Method::PUT,
            &format!("{base}/sections/epilogue"),
            Some("application/json"),
            json!({"version": 1, "text": "x"}).to_string(),
        )
        .await;
    assert_eq!(field_names(&section), ["sections.epilogue"]);
    let status = app
        .post_json(
            &format!("{base}/transitions"),
            json!({"version": 1, "to": "done"}),
        )
        .await;
    assert_eq!(field_names(&status), ["to"]);
    let factor = app
        .post_json(
            &format!("{base}/contributing-factors"),
            json!({"version": 1, "factor": {"category": "gremlins", "description": "x"}}),
        )
        .await;
    assert_eq!(field_names(&factor), ["factors[0].category"]);
    let unversioned = app.patch_json(&base, json!({"title": "No version"})).await;
    assert_eq!(field_names(&unversioned), ["version"]);
    // Action items have their own API now; the document no longer takes them.
    let items_in_document = app
        .patch_json(
            &base,
            json!({"version": 1, "action_items": [{"title": "x"}]}),
        )
        .await;
    assert_eq!(items_in_document.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(items_in_document.text().contains("action_items"));
    let extra = app
        .patch_json(&base, json!({"version": 1, "colour": "red"}))
        .await;
    assert_eq!(extra.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.get(&base).await.json()["version"], 1, "nothing written");
    let history = app.get(&format!("{base}/history")).await.json();
    assert_eq!(history.as_array().unwrap().len(), 1);
}

async fn the_lint_finds_blame_in_stored_and_posted_text(app: TestApp) {
    let (_, postmortem) = postmortem_for(&app).await;
    let base = format!("/api/v1/postmortems/{}", postmortem["id"]);
    let patched = app
        .patch_json(
            &base,
            json!({"version": 1,
                   "sections": {"summary": "The on-call engineer forgot to run the migration. TODO"},
                   "why_chains": [{"problem": "Checkout failed", "whys": [], "root_cause": "It was admin's fault."}]}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text());
    let report = app.get(&format!("{base}/lint")).await.json();
    let found: Vec<(String, String)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"].as_str().unwrap().to_owned(),
                f["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("sections.summary", "blame"),
        ("sections.summary", "placeholder"),
        ("why_chains[0].root_cause", "fault"),
        ("sections.impact", "required_section"),
    ] {
        assert!(
            found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} not in {found:?}"
        );
    }
    assert_eq!(report["missing_for_review"][0]["field"], "sections.impact");

    let text = "All fine.\nThen admin forgot to rotate the key.";
    let posted = app
        .post_json("/api/v1/lint", json!({"markdown": text}))
        .await
        .json();
    let finding = &posted["findings"][0];
    assert_eq!(finding["rule"], "blame");
    assert_eq!(
        (finding["line"].as_i64(), finding["column"].as_i64()),
        (Some(2), Some(6))
    );
    let (start, end) = (
        finding["start"].as_u64().unwrap() as usize,
        finding["end"].as_u64().unwrap() as usize,
    );
    assert_eq!(&text[start..end], "admin forgot");
    let clean = app
        .post_json(
            "/api/v1/lint",
            json!({"markdown": "The health check failed to respond."}),
        )
        .await
        .json();
    assert_eq!(clean["findings"], json!([]));
    let broken = app
        .post_json("/api/v1/lint", json!({"markdown": "+++\nformat = \"hindsight-postmortem/1\"\nstatus = \"nope\"\n+++\n"}))
        .await;
    assert_eq!(broken.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(broken.text().contains("line 3"), "{}", broken.text());
}

async fn exports_read_back_and_the_printable_page_runs_no_script(app: TestApp) {
    let (incident, postmortem) = postmortem_for(&app).await;
    let base = format!("/api/v1/postmortems/{}", postmortem["id"]);
    app.patch_json(
        &base,
        json!({"version": 1, "sections": {"summary": "It broke <script>alert(1)</script> **badly**."},
               "lessons": {"went_well": ["Alert fired"], "went_wrong": [], "got_lucky": []}}),
    )
    .await;
    let markdown = app.get(&format!("{base}/export?format=markdown")).await;
    assert_eq!(markdown.status, StatusCode::OK);
    assert!(
        markdown.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/markdown")
    );
    let file = hindsight_domain::markdown_file::parse(
        &markdown.text(),
        &hindsight_domain::postmortem::builtin_templates(),
    )
    .unwrap();
    let stored = app.get(&base).await.json();
    assert_eq!(
        serde_json::to_value(&file.document).unwrap()["sections"],
        stored["sections"]
    );
    assert_eq!(file.status.as_str(), "draft");
    assert!(markdown.text().contains(&format!(
        "title = \"{}\"",
        incident["title"].as_str().unwrap()
    )));
    let exported = app.get(&format!("{base}/export?format=json")).await.json();
    assert_eq!(exported["format"], "hindsight-postmortem");
    assert_eq!(exported["schema_version"], 1);
    assert_eq!(exported["postmortem"], stored);
    assert_eq!(exported["incidents"][0]["severity"], "SEV2");
    let html = app.get(&format!("{base}/export?format=html")).await;
    let page = html.text();
    assert!(page.contains("<strong>badly</strong>"));
    assert!(!page.contains("<script"));
    assert!(
        html.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .starts_with("default-src 'none'")
    );
    let unknown = app.get(&format!("{base}/export?format=docx")).await;
    assert_eq!(field_names(&unknown), ["format"]);
}

async fn a_team_template_is_added_once_and_used(app: TestApp) {
    let template = json!({"key": "security", "name": "Security incident", "sections": [
        {"key": "summary", "title": "Summary", "guidance": "What happened.", "required_before_review": true, "required_before_publish": true},
        {"key": "exposure", "title": "Data exposed", "guidance": "Which data, whose, for how long."}]});
    let created = app.post_json("/api/v1/templates", template.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(
        app.post_json("/api/v1/templates", template).await.status,
        StatusCode::CONFLICT
    );
    let bad = app
        .post_json(
            "/api/v1/templates",
            json!({"key": "Bad Key", "name": "", "sections": []}),
        )
        .await;
    assert_eq!(field_names(&bad), ["key", "name", "sections"]);
    let builtin = app
        .post_json(
            "/api/v1/templates",
            json!({"key": "default", "name": "Mine", "sections": [{"key": "a", "title": "A"}]}),
        )
        .await;
    assert_eq!(builtin.status, StatusCode::CONFLICT);
    let keys: Vec<String> = app
        .get("/api/v1/templates")
        .await
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["key"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["default", "six_questions", "security"]);
    let incident = app.create(incident()).await;
    let postmortem = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [incident["id"]], "template": "security"}),
        )
        .await
        .json();
    let sections = app
        .get(&format!(
            "/api/v1/postmortems/{}/sections",
            postmortem["id"]
        ))
        .await
        .json();
    assert_eq!(sections[1]["title"], "Data exposed");
    assert_eq!(sections[1]["guidance"], "Which data, whose, for how long.");
}

async fn a_postmortem_of_a_private_incident_is_hidden_from_outsiders(mut app: TestApp) {
    let mut private = incident();
    private["private"] = json!(true);
    let secret = app.create(private).await;
    let postmortem = app
        .post_json("/api/v1/postmortems", json!({"incidents": [secret["id"]]}))
        .await
        .json();
    app.token = Some(
        app.token_for("viewer@example.com", Role::Viewer, "read")
            .await,
    );
    let path = format!("/api/v1/postmortems/{}", postmortem["id"]);
    assert_eq!(app.get(&path).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("{path}/export?format=json")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("{path}/history")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/postmortems").await.json()["items"],
        json!([])
    );
}

async fn the_editor_page_saves_shows_findings_and_keeps_input_on_a_stale_save(app: TestApp) {
    let (_, postmortem) = postmortem_for(&app).await;
    let id = postmortem["id"].as_i64().unwrap();
    let page = app.get(&format!("/postmortems/{id}/edit")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains("Why did detection take so long?"),
        "guidance is shown"
    );
    assert!(html.contains("required before review"));
    let saved = app
        .post_form(
            &format!("/postmortems/{id}"),
            &[
                ("version", "1"),
                ("title", "Checkout outage"),
                (
                    "sections.summary",
                    "The on-call engineer forgot to run the migration.",
                ),
                ("why_chains[0].problem", "Checkout failed"),
                ("why_chains[0].whys[0].question", "Why?"),
                ("why_chains[0].whys[0].answer", "A lock."),
                ("why_chains[0].root_cause", "No lock check."),
                ("factors[0].category", "testing_gap"),
                ("factors[0].description", "No big data in tests."),
            ],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    let stored = app.get(&format!("/api/v1/postmortems/{id}")).await.json();
    assert_eq!(stored["version"], 2);
    assert_eq!(stored["why_chains"][0]["root_cause"], "No lock check.");
    let page = app.get(&format!("/postmortems/{id}/edit")).await.text();
    assert!(page.contains("data-rule=\"blame\""), "the finding is shown");
    assert!(page.contains("forgot"));
    let stale = app
        .post_form(
            &format!("/postmortems/{id}"),
            &[
                ("version", "1"),
                ("title", "Checkout outage"),
                ("sections.summary", "My unsaved words."),
            ],
        )
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert!(stale.text().contains("My unsaved words."));
    assert!(stale.text().contains("someone saved version 2"));
    // Laid over version 2: its chain and factor are kept, and the summary both changed is named.
    assert!(
        stale.text().contains("value=\"Checkout failed\""),
        "the other change is kept"
    );
    assert!(
        stale
            .text()
            .contains("Both of you changed Summary: yours is shown, theirs is in the history."),
        "{}",
        stale.text()
    );
    let bad_date = app
        .post_form(
            &format!("/postmortems/{id}"),
            &[
                ("version", "2"),
                ("title", "Checkout outage"),
                ("factors[0].category", "gremlins"),
                ("factors[0].description", "x"),
            ],
        )
        .await;
    assert_eq!(bad_date.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_date.text().contains("gremlins"));
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{id}")).await.json()["version"],
        2
    );
    let refused = app
        .post_form(
            &format!("/postmortems/{id}/transitions"),
            &[("version", "2"), ("to", "in_review")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("the section “Impact” is empty"));
    let history = app.get(&format!("/postmortems/{id}/history")).await.text();
    assert!(history.contains("sections.summary"));
}

/// An incident with a summary, impact figures, key times, an owner who is a user, manual
/// events and a Slack export of three chat messages.
async fn incident_with_a_timeline(app: &TestApp) -> Value {
    let mut body = incident();
    body["summary"] = json!("Card payments failed after the 2.3 deploy.");
    body["owner"] = json!("admin@example.com");
    body["detected_at"] = json!("2026-11-20T12:31:00Z");
    body["mitigated_at"] = json!("2026-11-20T12:40:00Z");
    body["resolved_at"] = json!("2026-11-20T12:45:00Z");
    body["impact"] = json!({"users_affected": 12000, "user_visible_minutes": 14,
                            "business": {"conversion_drop_percent": 12.5}});
    let created = app.create(body).await;
    let id = &created["id"];
    for (kind, at, text) in [
        (
            "investigating",
            "2026-11-20T12:33:00Z",
            "Looking at the payments dashboard.",
        ),
        (
            "note",
            "2026-11-20T12:35:00Z",
            "Error rate **40%** on card payments.",
        ),
        (
            "escalated",
            "2026-11-20T12:36:00Z",
            "Paged the payments team.",
        ),
        (
            "root_cause_identified",
            "2026-11-20T12:38:00Z",
            "The migration holds a table lock.",
        ),
    ] {
        let answer = app
            .post_json(
                &format!("/api/v1/incidents/{id}/timeline"),
                json!({"kind": kind, "occurred_at": at, "text": text}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    }
    let day = r#"[{"type":"message","user":"U1","text":"Checkout is down for card payments","ts":"1795177920.000100"},
        {"type":"message","user":"U2","text":"Rolling back 2.3 now","ts":"1795177980.000200"},
        {"type":"message","user":"U1","text":"Error rate back to normal","ts":"1795178460.000300"}]"#;
    let export = slack_export(&[("incident-checkout/2026-11-20.json", day)]);
    let imported = app
        .send_body(
            Method::POST,
            &format!("/api/v1/incidents/{id}/timeline/imports/slack?channel=incident-checkout"),
            Some("application/zip"),
            export,
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
    assert_eq!(imported.json()["added"], 3);
    created
}

async fn a_postmortem_starts_as_a_draft_written_from_its_incident_and_refreshes_its_timeline(
    app: TestApp,
) {
    let incident = incident_with_a_timeline(&app).await;
    let events = app.timeline(&incident["id"]).await;
    // Four key times, four manual events and three chat messages.
    assert_eq!(
        events["events"].as_array().map(Vec::len),
        Some(11),
        "{events}"
    );
    let created = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [incident["id"]]}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let postmortem = created.json();
    let me = app.get("/api/v1/me").await.json();
    assert_eq!(
        postmortem["owner"], me["id"],
        "the incident's owner is matched to a user"
    );
    let sections = &postmortem["sections"];
    let summary = sections["summary"].as_str().unwrap();
    assert!(summary.starts_with("Card payments failed after the 2.3 deploy."));
    assert!(
        summary.contains("services: checkout and payments-api"),
        "{summary}"
    );
    let impact = sections["impact"].as_str().unwrap();
    assert!(impact.contains("12,000 users were affected."), "{impact}");
    assert!(impact.contains("Users could see the failure for 14 minutes."));
    assert!(impact.contains("Conversion drop percent: 12.5."));
    assert!(impact.contains("Not recorded yet: requests failed."));
    let timeline = sections["timeline"].as_str().unwrap();
    for expected in [
        "Times are in Europe/London.",
        "Time to detect: 11 min",
        "Impact window: 20 min",
        "#### Friday 20 November 2026",
        "- **12:31 · Detected**",
        "- 12:38 · Root cause identified: The migration holds a table lock. (admin)",
        "12:32 · Communication, Ada in chat:\n  > Checkout is down for card payments",
        "Grace Hopper in chat:\n  > Rolling back 2.3 now",
    ] {
        assert!(
            timeline.contains(expected),
            "{expected:?} not in:\n{timeline}"
        );
    }
    // The draft is only a start: what it wrote counts as written, so review is close.
    let id = postmortem["id"].as_i64().unwrap();
    let base = format!("/api/v1/postmortems/{id}");
    let lint = app.get(&format!("{base}/lint")).await.json();
    assert!(
        lint["missing_for_review"].as_array().unwrap().is_empty(),
        "{lint}"
    );

    // The incident names its postmortem, and an empty start is still possible.
    let read = app
        .get(&format!("/api/v1/incidents/{}", incident["id"]))
        .await
        .json();
    assert_eq!(read["postmortems"], json!([id]));
    let blank = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [incident["id"]], "draft": false}),
        )
        .await
        .json();
    assert!(blank["sections"].as_object().unwrap().is_empty());
    let bad = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [incident["id"]], "draft": "yes"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The writer adds a line before the block; an event comes later; refresh keeps the line.
    let with_note = format!("Read with the chat log.\n\n{timeline}");
    let edited = app
        .patch_json(
            &base,
            json!({"version": 1, "sections": {"timeline": with_note}}),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    let unchanged = app
        .post_json(&format!("{base}/timeline/refresh"), json!({"version": 2}))
        .await;
    assert_eq!(
        unchanged.json()["outcome"],
        "unchanged",
        "{}",
        unchanged.text()
    );
    app.post_json(
        &format!("/api/v1/incidents/{}/timeline", incident["id"]),
        json!({"kind": "fixed", "occurred_at": "2026-11-20T13:30:00Z", "text": "Lock timeout added to migrations."}),
    )
    .await;
    let refreshed = app
        .post_json(&format!("{base}/timeline/refresh"), json!({"version": 2}))
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.text());
    assert_eq!(refreshed.json()["outcome"], "updated");
    let text = refreshed.json()["postmortem"]["sections"]["timeline"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.starts_with("Read with the chat log."));
    assert!(text.contains("13:30 · Fixed: Lock timeout added to migrations."));

    // An edit inside the block is never dropped silently.
    let inside = text.replace(
        "Paged the payments team.",
        "Paged the payments team (Dana).",
    );
    app.patch_json(
        &base,
        json!({"version": 3, "sections": {"timeline": inside}}),
    )
    .await;
    app.post_json(
        &format!("/api/v1/incidents/{}/timeline", incident["id"]),
        json!({"kind": "note", "occurred_at": "2026-11-20T14:00:00Z", "text": "Customers told."}),
    )
    .await;
    let refused = app
        .post_json(&format!("{base}/timeline/refresh"), json!({"version": 4}))
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.error_code(), "timeline_edited");
    assert!(
        refused.json()["error"]["details"]["edited"]
            .as_str()
            .unwrap()
            .contains("(Dana)")
    );
    assert_eq!(
        app.get(&base).await.json()["version"],
        4,
        "nothing was written"
    );
    let stale = app
        .post_json(&format!("{base}/timeline/refresh"), json!({"version": 3}))
        .await;
    assert_eq!(stale.status, StatusCode::CONFLICT);
    assert_eq!(stale.error_code(), "stale_version");
    let unknown = app
        .post_json(
            &format!("{base}/timeline/refresh"),
            json!({"version": 4, "force": true}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    let replaced = app
        .post_json(
            &format!("{base}/timeline/refresh"),
            json!({"version": 4, "replace_edits": true}),
        )
        .await;
    assert_eq!(replaced.status, StatusCode::OK, "{}", replaced.text());
    let text = replaced.json()["postmortem"]["sections"]["timeline"].to_string();
    assert!(!text.contains("(Dana)") && text.contains("Customers told."));
}

async fn a_draft_is_discarded_with_an_audit_entry_and_nothing_reviewed_is_ever_deleted(
    mut app: TestApp,
) {
    let (covered, postmortem) = postmortem_for(&app).await;
    let id = postmortem["id"].as_i64().unwrap();
    app.post_json(
        &format!("/api/v1/postmortems/{id}/action-items"),
        json!({"title": "Add a lock timeout"}),
    )
    .await;
    let discarded = app
        .send_body(
            Method::DELETE,
            &format!("/api/v1/postmortems/{id}"),
            None,
            "",
        )
        .await;
    assert_eq!(
        discarded.status,
        StatusCode::NO_CONTENT,
        "{}",
        discarded.text()
    );
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{}", covered["id"]))
            .await
            .json()["postmortems"],
        json!([])
    );
    let audit = app.get("/api/v1/audit").await.text();
    assert!(audit.contains("postmortem.discarded"), "{audit}");
    let again = app
        .send_body(
            Method::DELETE,
            &format!("/api/v1/postmortems/{id}"),
            None,
            "",
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);

    // In review: kept, and the answer says why.
    let (_, kept) = postmortem_for(&app).await;
    let kept_id = kept["id"].as_i64().unwrap();
    let mut version = 1;
    for (key, text) in [
        ("summary", "Card payments failed."),
        ("impact", "12,000 users."),
        ("timeline", "- 12:31 UTC alert\n- 12:45 UTC resolved"),
    ] {
        let answer = app
            .patch_json(
                &format!("/api/v1/postmortems/{kept_id}"),
                json!({"version": version, "sections": {key: text}}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        version += 1;
    }
    let moved = app
        .post_json(
            &format!("/api/v1/postmortems/{kept_id}/transitions"),
            json!({"version": version, "to": "in_review"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    let refused = app
        .send_body(
            Method::DELETE,
            &format!("/api/v1/postmortems/{kept_id}"),
            None,
            "",
        )
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text().contains("only a draft can be discarded"));
    let page = app
        .post_form(&format!("/postmortems/{kept_id}/discard"), &[])
        .await;
    assert_eq!(page.status, StatusCode::CONFLICT);
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{kept_id}"))
            .await
            .status,
        StatusCode::OK
    );

    // A viewer may not discard, and a private draft does not exist for outsiders.
    let mut private = incident();
    private["private"] = json!(true);
    let secret = app.create(private).await;
    let hidden = app
        .post_json("/api/v1/postmortems", json!({"incidents": [secret["id"]]}))
        .await
        .json();
    let admin = app.token.clone();
    app.token = Some(
        app.token_for("editor@example.com", Role::Editor, "write")
            .await,
    );
    let outsider = app
        .send_body(
            Method::DELETE,
            &format!("/api/v1/postmortems/{}", hidden["id"]),
            None,
            "",
        )
        .await;
    assert_eq!(outsider.status, StatusCode::NOT_FOUND);
    app.token = Some(
        app.token_for("viewer@example.com", Role::Viewer, "read")
            .await,
    );
    let viewer = app
        .send_body(
            Method::DELETE,
            &format!("/api/v1/postmortems/{kept_id}"),
            None,
            "",
        )
        .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    app.token = admin;
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{}", hidden["id"]))
            .await
            .status,
        StatusCode::OK
    );
}

/// Writes every section a review needs, with `summary` as given.
async fn ready_for_review(app: &TestApp, summary: &str) -> (i64, u32) {
    let (_, postmortem) = postmortem_for(app).await;
    let id = postmortem["id"].as_i64().unwrap();
    let answer = app
        .patch_json(
            &format!("/api/v1/postmortems/{id}"),
            json!({"version": 1, "sections": {
                "summary": summary,
                "impact": "12,000 users could not pay.",
                "timeline": "- 12:31 UTC alert\n- 12:45 UTC resolved"}}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    (id, 2)
}

async fn blocking_lint_rules_stop_review_until_reworded_or_justified(app: TestApp) {
    // Without `[lint] block`, the lint advises and never stands in the way.
    let (free, version) = ready_for_review(&app, "He failed to run the migration. TBD").await;
    let moved = app
        .post_json(
            &format!("/api/v1/postmortems/{free}/transitions"),
            json!({"version": version, "to": "in_review"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());

    let app = app
        .reconfigured(|parts| {
            parts.postmortems.lint.block = vec!["blame".into(), "placeholder".into()];
        })
        .await;
    let (id, version) = ready_for_review(
        &app,
        "The cache went cold.\nHe failed to warm it. Root cause TBD.",
    )
    .await;
    let transitions = format!("/api/v1/postmortems/{id}/transitions");
    let refused = app
        .post_json(&transitions, json!({"version": version, "to": "in_review"}))
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let details = refused.json()["error"]["details"].clone();
    let lint: Vec<String> = details
        .as_array()
        .unwrap()
        .iter()
        .filter(|error| error["field"] == "lint")
        .map(|error| error["message"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(lint.len(), 2, "{details}");
    assert!(
        lint[0].starts_with("blame in sections.summary, line 2, column 1"),
        "{lint:?}"
    );
    assert!(
        lint.iter().any(|finding| finding.contains("TBD")),
        "{lint:?}"
    );
    assert_eq!(field_names(&refused).last().unwrap(), "justification");

    // The editor page says so beside the button.
    let page = app.get(&format!("/postmortems/{id}/edit")).await.text();
    assert!(
        page.contains("id=\"blocked-in_review\""),
        "the block is shown"
    );
    assert!(
        page.contains("Submit for review (3 findings)")
            || page.contains("Submit for review (2 findings)"),
        "the count is on the button"
    );

    let too_long = app
        .post_json(
            &transitions,
            json!({"version": version, "to": "in_review", "justification": "x".repeat(2001)}),
        )
        .await;
    assert_eq!(too_long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_names(&too_long), ["justification"]);
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{id}")).await.json()["version"],
        2
    );

    let justified = app
        .post_json(
            &transitions,
            json!({"version": version, "to": "in_review",
                   "justification": "The sentence quotes the customer's complaint; reviewed with legal."}),
        )
        .await;
    assert_eq!(justified.status, StatusCode::OK, "{}", justified.text());
    let moved = justified.json();
    assert_eq!(moved["status"], "in_review");
    assert_eq!(moved["lint_exceptions"][0]["to"], "in_review");
    assert_eq!(moved["lint_exceptions"][0]["by"], "admin");
    assert_eq!(
        moved["lint_exceptions"][0]["findings"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let history = app
        .get(&format!("/api/v1/postmortems/{id}/history"))
        .await
        .json();
    assert_eq!(history[2]["changed"], json!(["lint_exceptions", "status"]));
    let audit = app.get("/api/v1/audit").await.text();
    assert!(audit.contains("postmortem.lint_exception"));
    assert!(audit.contains("reviewed with legal"));

    // A later edit through the API keeps the exception; the reading view shows it.
    let edited = app
        .patch_json(
            &format!("/api/v1/postmortems/{id}"),
            json!({"version": 3, "title": "Cache outage"}),
        )
        .await
        .json();
    assert_eq!(edited["lint_exceptions"].as_array().unwrap().len(), 1);
    let page = app.get(&format!("/postmortems/{id}")).await.text();
    assert!(page.contains("despite 2 blocking lint findings"));
}

async fn the_reading_view_reads_as_a_document_with_names_and_no_form_for_viewers(mut app: TestApp) {
    let incident = incident_with_a_timeline(&app).await;
    let postmortem = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [incident["id"]]}),
        )
        .await
        .json();
    let id = postmortem["id"].as_i64().unwrap();
    let me = app.get("/api/v1/me").await.json();
    app.patch_json(
        &format!("/api/v1/postmortems/{id}"),
        json!({"version": 1,
               "why_chains": [{"problem": "Card payments failed", "whys": [{"question": "Why?", "answer": "A lock."}], "root_cause": "Nothing checks migrations for locks."}],
               "factors": [{"category": "testing_gap", "description": "Tests run on small data."}],
               "lessons": {"went_well": ["The alert fired within a minute."]}}),
    )
    .await;
    app.post_json(
        &format!("/api/v1/postmortems/{id}/action-items"),
        json!({"title": "Add a lock timeout", "owner": format!("user:{}", me["id"]), "due_on": "2026-12-15"}),
    )
    .await;
    app.token = Some(
        app.token_for("viewer@example.com", Role::Viewer, "read")
            .await,
    );
    let page = app.get(&format!("/postmortems/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    let main = &html[html.find("<main>").unwrap()..html.find("</main>").unwrap()];
    for control in ["<input", "<textarea", "<select", "<button", "<form"] {
        assert!(!main.contains(control), "a viewer sees {control}");
    }
    for expected in [
        "Owner: <strong id=\"owner\">admin</strong>",
        "Card payments failed after the 2.3 deploy.",
        "Checkout is down for card payments",
        "Nothing checks migrations for locks.",
        "testing gap",
        "The alert fired within a minute.",
        "Add a lock timeout",
        "0 of 1 finished",
        "15 December 2026",
        "Time to detect",
    ] {
        assert!(main.contains(expected), "{expected:?} is not on the page");
    }
    assert!(
        !main.contains("user 1") && !main.contains("user:"),
        "names, never ids"
    );
    assert!(!main.contains("Edit</a>"));
    assert_eq!(
        app.get(&format!("/postmortems/{id}/edit")).await.status,
        StatusCode::FORBIDDEN
    );
    let print = app.get(&format!("/postmortems/{id}/print")).await.text();
    assert!(print.contains("admin") && !print.contains("user 1"));
}

async fn the_editor_saves_an_unchanged_form_as_nothing_and_keeps_input_beside_each_error(
    app: TestApp,
) {
    let incident = app.create(incident()).await;
    // Starting from the page: the draft from the incident, then the editor.
    let started = app
        .post_form(
            "/postmortems",
            &[
                ("incident", &incident["id"].to_string()),
                ("template", "default"),
                ("start_from", "incidents"),
            ],
        )
        .await;
    assert_eq!(started.status, StatusCode::SEE_OTHER, "{}", started.text());
    let location = started.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(location.ends_with("/edit"), "{location}");
    let id = location.split('/').nth(2).unwrap().to_owned();
    let again = app
        .post_form(
            "/postmortems",
            &[
                ("incident", &incident["id"].to_string()),
                ("template", "default"),
            ],
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        again
            .text()
            .contains("a postmortem already covers this incident")
    );
    let stored = app.get(&format!("/api/v1/postmortems/{id}")).await.json();
    // What the editor's form sends untouched: every section, the blank chain and factor.
    let mut fields: Vec<(String, String)> = vec![
        ("version".into(), "1".into()),
        ("title".into(), stored["title"].as_str().unwrap().into()),
        ("owner".into(), stored["owner"].to_string()),
    ];
    for (key, text) in stored["sections"].as_object().unwrap() {
        fields.push((
            format!("sections.{key}"),
            text.as_str().unwrap().replace('\n', "\r\n"),
        ));
    }
    for key in [
        "root_cause",
        "contributing_factors",
        "resolution",
        "cleanup",
        "lessons",
        "action_items",
        "conclusion",
    ] {
        fields.push((format!("sections.{key}"), String::new()));
    }
    fields.push(("why_chains[0].problem".into(), String::new()));
    for step in 0..5 {
        fields.push((
            format!("why_chains[0].whys[{step}].question"),
            String::new(),
        ));
        fields.push((format!("why_chains[0].whys[{step}].answer"), String::new()));
    }
    fields.push(("why_chains[0].root_cause".into(), String::new()));
    fields.push(("factors[0].category".into(), "change_or_deploy".into()));
    fields.push(("factors[0].description".into(), String::new()));
    for key in [
        "lessons.went_well",
        "lessons.went_wrong",
        "lessons.got_lucky",
        "no_action_items_reason",
    ] {
        fields.push((key.into(), String::new()));
    }
    let borrowed: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let unchanged = app
        .post_form(&format!("/postmortems/{id}"), &borrowed)
        .await;
    assert_eq!(
        unchanged.status,
        StatusCode::SEE_OTHER,
        "{}",
        unchanged.text()
    );
    assert_eq!(
        unchanged.headers[header::LOCATION],
        format!("/postmortems/{id}/edit?saved=unchanged#saved").as_str()
    );
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{id}")).await.json()["version"],
        1
    );
    let page = app
        .get(&format!("/postmortems/{id}/edit?saved=unchanged"))
        .await
        .text();
    assert!(page.contains("Nothing changed, so nothing was saved."));

    // A why without its problem: the error stands beside the problem, and what was typed stays.
    let mut broken = borrowed.clone();
    broken.retain(|(key, _)| !key.starts_with("why_chains[0].whys[0]"));
    broken.push(("why_chains[0].whys[0].question", ""));
    broken.push((
        "why_chains[0].whys[0].answer",
        "A lock on the payments table.",
    ));
    broken.push(("sections.conclusion", "Lock checks before deploys."));
    let failed = app.post_form(&format!("/postmortems/{id}"), &broken).await;
    assert_eq!(failed.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = failed.text();
    assert!(
        html.contains("value=\"A lock on the payments table.\""),
        "the answer is kept"
    );
    assert!(
        html.contains("Lock checks before deploys."),
        "the section is kept"
    );
    let problem = html.find("id=\"why_chains[0].problem\"").unwrap();
    let error = html[problem..]
        .find("<p class=\"error\">must not be empty</p>")
        .unwrap();
    assert!(error < 400, "the error stands beside the problem");
    assert_eq!(
        html.matches("value=\"Why?\"").count(),
        1,
        "only the answered why asks Why?; a placeholder is never a value"
    );
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{id}")).await.json()["version"],
        1
    );

    // A lesson too long is named beside the lessons, not only at the top.
    let long_lesson = "x".repeat(2_001);
    let mut lessons = borrowed.clone();
    lessons.retain(|(key, _)| *key != "lessons.went_well");
    lessons.push(("lessons.went_well", &long_lesson));
    let refused = app.post_form(&format!("/postmortems/{id}"), &lessons).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    let box_at = html.find("name=\"lessons.went_well\"").unwrap();
    assert!(
        html[box_at..box_at + 2_400].contains("<p class=\"error\">must be at most"),
        "the error stands beside the box"
    );

    // Rows move and go with their buttons.
    let mut two = borrowed.clone();
    two.retain(|(key, _)| !key.starts_with("why_chains"));
    two.extend([
        ("why_chains[0].problem", "first"),
        ("why_chains[1].problem", "second"),
        ("why_chains[2].problem", ""),
        ("row_action", "up:why_chains[1]"),
    ]);
    let moved = app.post_form(&format!("/postmortems/{id}"), &two).await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.text());
    let chains = app.get(&format!("/api/v1/postmortems/{id}")).await.json()["why_chains"].clone();
    assert_eq!(chains[0]["problem"], "second");
    assert_eq!(chains[1]["problem"], "first");

    // Submitting for review from the editor saves what was typed first, then moves.
    let mut submit: Vec<(&str, &str)> = borrowed
        .iter()
        .filter(|(key, _)| *key != "version" && !key.starts_with("why_chains"))
        .copied()
        .collect();
    let version = app.get(&format!("/api/v1/postmortems/{id}")).await.json()["version"].to_string();
    submit.push(("version", &version));
    submit.push(("lessons.went_well", "The alert fired within a minute."));
    submit.push(("to", "in_review"));
    let moved = app
        .post_form(&format!("/postmortems/{id}/transitions"), &submit)
        .await;
    assert_eq!(moved.status, StatusCode::SEE_OTHER, "{}", moved.text());
    let stored = app.get(&format!("/api/v1/postmortems/{id}")).await.json();
    assert_eq!(stored["status"], "in_review");
    assert_eq!(
        stored["lessons"]["went_well"],
        json!(["The alert fired within a minute."])
    );

    // The preview renders Markdown as the page does, sanitized.
    let preview = app
        .post_json(
            "/api/v1/preview",
            json!({"markdown": "**bold** <script>alert(1)</script>"}),
        )
        .await
        .json();
    let html = preview["html"].as_str().unwrap();
    assert!(
        html.starts_with("<p><strong>bold</strong>") && !html.contains("<script"),
        "{html}"
    );
    let huge = app
        .post_json("/api/v1/preview", json!({"markdown": "x".repeat(100_001)}))
        .await;
    assert!(huge.status.is_client_error());
}

/// The smallest PNG there is: one transparent pixel.
const PIXEL_PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\x0f\0\0\x01\x01\0\x05\x18\xd8N\0\0\0\0IEND\xaeB`\x82";

async fn an_image_is_uploaded_checked_by_its_bytes_and_shown_only_to_readers(mut app: TestApp) {
    let mut private = incident();
    private["private"] = json!(true);
    let secret = app.create(private).await;
    let postmortem = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [secret["id"]], "draft": false}),
        )
        .await
        .json();
    let id = postmortem["id"].as_i64().unwrap();
    let upload = format!("/api/v1/postmortems/{id}/images?name=p99%20latency.png");
    let added = app
        .send_body(Method::POST, &upload, Some("image/png"), PIXEL_PNG.to_vec())
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let image = added.json();
    let url = image["url"].as_str().unwrap().to_owned();
    assert_eq!(url, format!("/postmortems/{id}/images/{}", image["id"]));
    assert_eq!(image["name"], "p99-latency.png");
    assert_eq!(image["markdown"], format!("![p99-latency]({url})"));
    assert_eq!(image["byte_size"], PIXEL_PNG.len());
    let served = app.get(&url).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.headers[header::CONTENT_TYPE], "image/png");
    assert_eq!(served.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(served.body, PIXEL_PNG);

    // Refused, each with what is wrong, and nothing stored.
    for (content_type, body, expected) in [
        (
            "image/png",
            b"<html><script>alert(1)</script></html>".to_vec(),
            "not a PNG, JPEG or WebP",
        ),
        (
            "image/svg+xml",
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
            "SVG images are refused",
        ),
        ("image/jpeg", PIXEL_PNG.to_vec(), "sent as image/jpeg"),
        ("image/png", Vec::new(), "the file is empty"),
    ] {
        let refused = app
            .send_body(Method::POST, &upload, Some(content_type), body)
            .await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{content_type}"
        );
        assert!(refused.text().contains(expected), "{}", refused.text());
    }
    let listed = app
        .get(&format!("/api/v1/postmortems/{id}/images"))
        .await
        .json();
    assert_eq!(listed.as_array().unwrap().len(), 1);

    // Shown where the writer puts it, in the editor's preview and the reading view.
    let version = postmortem["version"].as_i64().unwrap();
    app.patch_json(
        &format!("/api/v1/postmortems/{id}"),
        json!({"version": version, "sections": {"impact": format!("The graph:\n\n{}", image["markdown"].as_str().unwrap())}}),
    )
    .await;
    let page = app.get(&format!("/postmortems/{id}")).await.text();
    assert!(
        page.contains(&format!("<img src=\"{url}\" alt=\"p99-latency\">")),
        "{page}"
    );
    let export = app
        .get(&format!("/api/v1/postmortems/{id}/export?format=json"))
        .await
        .json();
    assert_eq!(export["images"][0]["url"], url);

    // The editor's form uploads a file as a browser sends it.
    let boundary = "XhindsightX";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"graph.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(PIXEL_PNG);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let posted = app
        .send_body(
            Method::POST,
            &format!("/postmortems/{id}/images"),
            Some(&format!("multipart/form-data; boundary={boundary}")),
            form,
        )
        .await;
    assert_eq!(posted.status, StatusCode::SEE_OTHER, "{}", posted.text());
    let location = posted.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    // The same bytes again are the same image.
    assert!(
        location.contains(&format!("uploaded={}", image["id"])),
        "{location}"
    );
    let editor = app.get(&location).await.text();
    assert!(
        editor.contains("Uploaded p99-latency.png."),
        "the Markdown to paste is shown"
    );
    let mut html_form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"graph.png\"\r\nContent-Type: image/png\r\n\r\n<html>"
    )
    .into_bytes();
    html_form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let refused = app
        .send_body(
            Method::POST,
            &format!("/postmortems/{id}/images"),
            Some(&format!("multipart/form-data; boundary={boundary}")),
            html_form,
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .contains("The image was not added: the file is not a PNG")
    );
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{id}/images"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // To an outsider, the private postmortem's image does not exist.
    let admin = app.token.clone();
    app.token = Some(
        app.token_for("outsider@example.com", Role::Editor, "write")
            .await,
    );
    assert_eq!(app.get(&url).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{id}/images"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let outside = app
        .send_body(Method::POST, &upload, Some("image/png"), PIXEL_PNG.to_vec())
        .await;
    assert_eq!(outside.status, StatusCode::NOT_FOUND);
    app.token = Some(
        app.token_for("viewer@example.com", Role::Viewer, "read")
            .await,
    );
    let viewer = app
        .send_body(Method::POST, &upload, Some("image/png"), PIXEL_PNG.to_vec())
        .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN);
    app.token = admin;

    // Over the configured cap: 413 before the rest is read, nothing stored.
    let app = app
        .reconfigured(|parts| parts.postmortems.max_image_bytes = 64)
        .await;
    let big = app
        .send_body(
            Method::POST,
            &upload,
            Some("image/png"),
            PIXEL_PNG.repeat(2),
        )
        .await;
    assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", big.text());
    assert_eq!(
        app.get(&format!("/api/v1/postmortems/{id}/images"))
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Removed (an image uploaded by mistake): gone from the list and the URL, and audited.
    let one = format!("/api/v1/postmortems/{id}/images/{}", image["id"]);
    let removed = app.send_body(Method::DELETE, &one, None, "").await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text());
    assert_eq!(app.get(&url).await.status, StatusCode::NOT_FOUND);
    let again = app.send_body(Method::DELETE, &one, None, "").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(
        app.get("/api/v1/audit")
            .await
            .text()
            .contains("postmortem.image_removed")
    );
}

/// Meetings in London at 10:00, with Mo and Nia as the moderator pool.
fn meeting_config() -> hindsight_http::meetings::MeetingConfig {
    let file: hindsight_domain::meeting::MeetingsFile = toml::from_str(
        r#"
        organizer = "Reviews <reviews@example.com>"
        [default]
        time_zone = "Europe/London"
        at = "10:00"
        moderators = ["mo@example.com", "nia@example.com"]
        "#,
    )
    .unwrap();
    hindsight_http::meetings::MeetingConfig {
        settings: file.validate(&|_| Err("no files".into())).unwrap(),
        organizer: hindsight_domain::meeting::Organizer {
            name: "Reviews".into(),
            email: "reviews@example.com".into(),
        },
    }
}

/// A postmortem of an incident resolved on Friday 20 November at 15:30 UTC, owned by Ada, with
/// Bo on duty and Cy responding; Mo and Nia may moderate.
async fn meeting_world(app: &TestApp) -> (i64, Vec<i64>) {
    let mut ids = Vec::new();
    for (email, name) in [
        ("ada@example.com", "Ada"),
        ("bo@example.com", "Bo"),
        ("cy@example.com", "Cy"),
        ("mo@example.com", "Mo"),
        ("nia@example.com", "Nia"),
    ] {
        let answer = app
            .post_json(
                "/api/v1/users",
                json!({"email": email, "display_name": name, "role": "editor",
                       "password": "a long enough password"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
        ids.push(answer.json()["id"].as_i64().unwrap());
    }
    let mut body = incident();
    body["owner"] = json!("Ada");
    body["status"] = json!("resolved");
    body["resolved_at"] = json!("2026-11-20T15:30:00Z");
    let incident = app.create(body).await;
    let id = incident["id"].as_i64().unwrap();
    // Bo acknowledges the page and Cy investigates, each writing their own event.
    for (kind, email) in [
        ("acknowledged", "bo@example.com"),
        ("investigating", "cy@example.com"),
    ] {
        let token = app.token_for(email, Role::Editor, "write").await;
        let request = Request::post(format!("/api/v1/incidents/{id}/timeline"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"kind": kind, "occurred_at": "2026-11-20T13:00:00Z", "text": "x"})
                    .to_string(),
            ))
            .unwrap();
        let answer = app.send(request).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    }
    let answer = app
        .post_json(
            "/api/v1/postmortems",
            json!({"incidents": [id], "owner": ids[0]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    (answer.json()["id"].as_i64().unwrap(), ids)
}

async fn a_review_meeting_is_proposed_scheduled_moved_and_cancelled_with_its_invite(app: TestApp) {
    let (pm, _) = meeting_world(&app).await;
    let base = format!("/api/v1/postmortems/{pm}/meeting");
    assert_eq!(app.get(&base).await.status, StatusCode::NOT_FOUND);

    let proposal = app.get(&format!("{base}/proposal")).await.json();
    assert_eq!(proposal["starts_at"], "2026-11-23T10:00:00Z");
    assert_eq!(
        proposal["local_start"],
        "2026-11-23T10:00:00+00:00[Europe/London]"
    );
    let names: Vec<&str> = proposal["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Ada", "Bo", "Cy"]);
    assert_eq!(proposal["moderator"]["name"], "Mo");
    let delayed = app
        .get(&format!("{base}/proposal?delay_days=2"))
        .await
        .json();
    assert_eq!(delayed["starts_at"], "2026-11-25T10:00:00Z");

    let answer = app.post_json(&base, json!({})).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    let meeting = answer.json();
    assert_eq!(
        (meeting["status"].as_str(), meeting["sequence"].as_i64()),
        (Some("scheduled"), Some(0))
    );
    let again = app.post_json(&base, json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let invite = app.get(&format!("{base}.ics")).await;
    assert_eq!(invite.status, StatusCode::OK);
    assert_eq!(
        invite.headers[header::CONTENT_TYPE],
        "text/calendar; charset=utf-8; method=REQUEST"
    );
    let ics = invite.text().replace("\r\n ", "");
    assert!(
        ics.contains("METHOD:REQUEST") && ics.contains("SEQUENCE:0"),
        "{ics}"
    );
    assert!(
        ics.contains("DTSTART;TZID=Europe/London:20261123T100000"),
        "{ics}"
    );
    assert!(ics.contains(&format!(
        "URL:https://hindsight.example.com/postmortems/{pm}"
    )));
    assert!(ics.contains("ORGANIZER;CN=Reviews:mailto:reviews@example.com"));

    let moved = app
        .patch_json(&base, json!({"starts_at": "2026-11-24T14:00"}))
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    let moved = moved.json();
    assert_eq!(moved["sequence"], 1);
    assert_eq!(moved["uid"], meeting["uid"]);
    assert_eq!(moved["starts_at"], "2026-11-24T14:00:00Z");

    let cancelled = app
        .post_json(&format!("{base}/cancel"), json!({}))
        .await
        .json();
    assert_eq!(
        (cancelled["status"].as_str(), cancelled["sequence"].as_i64()),
        (Some("cancelled"), Some(2))
    );
    let ics = app.get(&format!("{base}.ics")).await.text();
    assert!(ics.contains("METHOD:CANCEL") && ics.contains("STATUS:CANCELLED"));
    assert_eq!(
        app.post_json(&format!("{base}/cancel"), json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    // A new meeting after a cancellation has an invite of its own.
    let renewed = app.post_json(&base, json!({})).await.json();
    assert_ne!(renewed["uid"], meeting["uid"]);

    // The invites and announcements are in the outbox: scheduled, moved, cancelled, renewed.
    let mut kinds = Vec::new();
    let store = app.database.store();
    let recorded = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = recorded.clone();
    store
        .route_notifications(
            "2026-11-21T12:00:00Z".parse().unwrap(),
            100,
            Box::new(move |n| {
                sink.lock().unwrap().push((
                    n.kind.as_str().to_owned(),
                    n.message.calendar.as_ref().map(|c| c.method.clone()),
                ));
                Vec::new()
            }),
        )
        .await
        .unwrap();
    kinds.extend(recorded.lock().unwrap().iter().cloned());
    let invites: Vec<Option<String>> = kinds
        .iter()
        .filter(|(kind, _)| kind == "review.invite")
        .map(|(_, method)| method.clone())
        .collect();
    assert_eq!(
        invites,
        [
            Some("REQUEST".to_owned()),
            Some("REQUEST".into()),
            Some("CANCEL".into()),
            Some("REQUEST".into())
        ]
    );
    assert_eq!(
        kinds
            .iter()
            .filter(|(kind, _)| kind == "review.announcement")
            .count(),
        4
    );
}

async fn a_seventh_attendee_or_an_involved_moderator_is_refused_and_nothing_is_stored(
    app: TestApp,
) {
    let (pm, ids) = meeting_world(&app).await;
    let base = format!("/api/v1/postmortems/{pm}/meeting");
    let mut seven: Vec<i64> = ids[..3].to_vec();
    for n in 0..4 {
        let answer = app
            .post_json(
                "/api/v1/users",
                json!({"email": format!("extra{n}@example.com"), "display_name": format!("Extra {n}"),
                       "role": "viewer", "password": "a long enough password"}),
            )
            .await;
        seven.push(answer.json()["id"].as_i64().unwrap());
    }
    let refused = app.post_json(&base, json!({"attendees": seven})).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(field_names(&refused), ["attendees"]);
    assert!(
        refused.text().contains("7 attendees is more than 6"),
        "{}",
        refused.text()
    );
    assert_eq!(app.get(&base).await.status, StatusCode::NOT_FOUND);

    let involved = app.post_json(&base, json!({"moderator": ids[2]})).await;
    assert_eq!(involved.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        involved.text().contains("Cy is involved"),
        "{}",
        involved.text()
    );
    for bad in [
        json!({"duration_minutes": 1000}),
        json!({"starts_at": "tomorrow"}),
        json!({"starts_at": "2020-01-01T10:00:00Z"}),
        json!({"delay_days": 3}),
        json!({"attendees": [999999]}),
        json!({"colour": "blue"}),
    ] {
        let answer = app.post_json(&base, bad.clone()).await;
        assert!(answer.status.is_client_error(), "{bad}: {}", answer.status);
        assert!(answer.json()["error"]["message"].as_str().is_some());
    }
    assert_eq!(app.get(&base).await.status, StatusCode::NOT_FOUND);

    let allowed = app
        .post_json(
            &base,
            json!({"attendees": seven, "over_cap_reason": "Two teams shared the on-call"}),
        )
        .await;
    assert_eq!(allowed.status, StatusCode::CREATED, "{}", allowed.text());
    assert_eq!(allowed.json()["attendees"].as_array().unwrap().len(), 7);
    let audit = app.get("/api/v1/audit").await.json();
    assert!(audit.to_string().contains("Two teams shared the on-call"));
}

async fn notes_are_saved_as_typed_and_a_held_meeting_records_attendance(app: TestApp) {
    let (pm, ids) = meeting_world(&app).await;
    let base = format!("/api/v1/postmortems/{pm}/meeting");
    let notes_uri = format!("{base}/notes");
    let put = |notes: String| {
        app.send_body(
            Method::PUT,
            &notes_uri,
            Some("application/json"),
            json!({ "notes": notes }).to_string(),
        )
    };
    assert_eq!(put("early".into()).await.status, StatusCode::NOT_FOUND);
    app.post_json(&base, json!({})).await;
    assert_eq!(
        put("Timeline agreed.\nWhy 1: the pool ran out.".into())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let too_long = put("x".repeat(100_001)).await;
    assert!(too_long.status.is_client_error());
    // A reschedule keeps the notes.
    app.patch_json(&base, json!({"duration_minutes": 45})).await;
    let meeting = app.get(&base).await.json();
    assert_eq!(
        meeting["notes"],
        "Timeline agreed.\nWhy 1: the pool ran out."
    );
    assert_eq!(meeting["duration_minutes"], 45);

    let stranger = app
        .post_json(&format!("{base}/held"), json!({"attended": [ids[4]]}))
        .await;
    assert_eq!(stranger.status, StatusCode::UNPROCESSABLE_ENTITY);
    let held = app
        .post_json(
            &format!("{base}/held"),
            json!({"attended": [ids[0], ids[2]]}),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text());
    let held = held.json();
    assert_eq!(held["status"], "held");
    let attendance: Vec<(String, bool)> = held["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_owned(),
                a["attended"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attendance,
        [
            ("Ada".into(), true),
            ("Bo".into(), false),
            ("Cy".into(), true)
        ]
    );
    assert_eq!(
        app.patch_json(&base, json!({"duration_minutes": 30}))
            .await
            .status,
        StatusCode::CONFLICT
    );
    // Notes can still be finished after the meeting.
    assert_eq!(
        put("Final notes".into()).await.status,
        StatusCode::NO_CONTENT
    );
}

async fn meeting_mode_schedules_from_the_form_and_shows_the_code_of_conduct(app: TestApp) {
    let (pm, ids) = meeting_world(&app).await;
    let page = app.get(&format!("/postmortems/{pm}/meeting")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("No finger-pointing") && html.contains("Schedule and send the invite"));
    let ada = ids[0].to_string();
    let bo = ids[1].to_string();
    let answer = app
        .post_form(
            &format!("/postmortems/{pm}/meeting"),
            &[
                ("proposed_start", "2026-11-23T10:00"),
                ("starts_at", "2026-11-23T10:00"),
                ("duration_minutes", "15"),
                ("attendees_sent", "1"),
                ("attendee", &ada),
                ("attendee", &bo),
                ("moderator", &ids[4].to_string()),
                ("delay_days", "0"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    let meeting = app
        .get(&format!("/api/v1/postmortems/{pm}/meeting"))
        .await
        .json();
    assert_eq!(meeting["duration_minutes"], 15);
    assert_eq!(meeting["moderator"]["name"], "Nia");
    assert_eq!(meeting["attendees"].as_array().unwrap().len(), 2);
    let page = app.get(&format!("/postmortems/{pm}/meeting")).await.text();
    assert!(
        page.contains("Monday 23 November 2026, 10:00 GMT"),
        "{page}"
    );
    assert!(page.contains("Mark the meeting held") && page.contains("meeting.ics"));
    // Cy, taken off the list, reads the notes.
    assert!(page.contains("reads the notes: Cy"), "{page}");
}

async fn a_nul_in_any_text_is_422_naming_the_field_and_stores_nothing(app: TestApp) {
    let (incident, postmortem) = postmortem_for(&app).await;
    let id = incident["id"].as_i64().unwrap();
    let pm = postmortem["id"].as_i64().unwrap();
    let before = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    let events_before = app
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .json();
    let items_before = app.get("/api/v1/action-items").await.json();
    let nul = "a\u{0}b";
    let refused = [
        (
            "POST",
            "/api/v1/incidents".to_owned(),
            json!({"title": "T", "severity": "SEV2", "started_at": "2026-11-20T12:20:00Z", "summary": nul}),
            "summary",
        ),
        (
            "PATCH",
            format!("/api/v1/incidents/{id}"),
            json!({"summary": nul}),
            "summary",
        ),
        (
            "POST",
            format!("/api/v1/incidents/{id}/timeline"),
            json!({"kind": "note", "occurred_at": "2026-11-20T12:30:00Z", "text": nul}),
            "text",
        ),
        (
            "POST",
            format!("/api/v1/postmortems/{pm}/action-items"),
            json!({"title": nul}),
            "title",
        ),
        (
            "POST",
            format!("/api/v1/postmortems/{pm}/action-items"),
            json!({"title": "Fine", "description": nul}),
            "description",
        ),
        (
            "POST",
            "/api/v1/templates".to_owned(),
            json!({"key": "k", "name": nul, "sections": []}),
            "name",
        ),
        (
            "POST",
            "/api/v1/incidents".to_owned(),
            json!({"title": "T", "severity": "SEV2", "started_at": "2026-11-20T12:20:00Z", "services": ["ok", nul]}),
            "services[1]",
        ),
    ];
    for (method, uri, body, field) in refused {
        let answer = app
            .send_body(
                method.parse().unwrap(),
                &uri,
                Some("application/json"),
                body.to_string(),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{method} {uri}: {}",
            answer.text()
        );
        assert_eq!(
            field_names(&answer),
            vec![field.to_owned()],
            "{method} {uri}"
        );
        assert!(answer.text().contains("NUL"), "{}", answer.text());
    }
    for uri in [
        "/api/v1/incidents?service=a%00b",
        "/api/v1/action-items?owner=a%00b",
    ] {
        let answer = app.get(uri).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{uri}: {}",
            answer.text()
        );
    }
    let page = app.get("/incidents?service=a%00b").await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.text().contains("service"), "the page names the field");
    let form = app
        .post_form(
            &format!("/incidents/{id}"),
            &[
                ("title", "a\u{0}b"),
                ("severity", "SEV2"),
                ("status", "open"),
                ("started_at", "2026-11-20T12:20"),
            ],
        )
        .await;
    assert_eq!(form.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{id}")).await.json(),
        before
    );
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{id}/timeline"))
            .await
            .json(),
        events_before
    );
    assert_eq!(app.get("/api/v1/action-items").await.json(), items_before);
    assert_eq!(app.count().await, 1);
    // A backslash followed by `u0000` is text, not a NUL, and is kept as written.
    let literal = app
        .patch_json(
            &format!("/api/v1/incidents/{id}"),
            json!({"summary": "see \\u0000 in the log"}),
        )
        .await;
    assert_eq!(literal.status, StatusCode::OK, "{}", literal.text());
    assert_eq!(literal.json()["summary"], "see \\u0000 in the log");
}

async fn reading_an_incident_never_writes_even_one_the_policy_never_judged(app: TestApp) {
    // An incident stored before the policy existed: no decision on record.
    let draft: hindsight_domain::IncidentDraft = serde_json::from_value(json!({
        "title": "Older than the policy", "severity": "SEV1",
        "started_at": "2026-11-20T12:20:00Z"
    }))
    .unwrap();
    let now: jiff::Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
    let store = app.database.store();
    let stored = store
        .create_incident(draft.validate(now).unwrap(), None, now)
        .await
        .unwrap();
    let id = stored.id;
    let unjudged = || async {
        store
            .get_policy(id, hindsight_domain::access::Visibility::Everything)
            .await
            .unwrap()
            .unwrap()
    };
    assert!(unjudged().await.decision.is_none());
    let policy = app.get(&format!("/api/v1/incidents/{id}/policy")).await;
    assert_eq!(policy.status, StatusCode::OK);
    assert_eq!(
        policy.json()["outcome"],
        "required",
        "a SEV1 is judged for the answer"
    );
    for uri in [
        format!("/incidents/{id}"),
        format!("/api/v1/incidents/{id}"),
    ] {
        for method in [Method::GET, Method::HEAD] {
            let answer = app
                .send(
                    Request::builder()
                        .method(method)
                        .uri(&uri)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{uri}");
        }
    }
    let after = unjudged().await;
    assert!(
        after.decision.is_none() && after.history.is_empty(),
        "reads stored no decision"
    );
    // The next change judges it and stores the decision.
    app.patch_json(
        &format!("/api/v1/incidents/{id}"),
        json!({"summary": "now judged"}),
    )
    .await;
    assert_eq!(unjudged().await.history.len(), 1);
}

async fn times_outside_1970_to_9998_are_422_and_an_event_years_early_needs_confirming(
    app: TestApp,
) {
    let with_start =
        |start: &str| json!({"title": "Dates", "severity": "SEV3", "started_at": start});
    for start in [
        "0000-01-01T00:00:00Z",
        "-000001-06-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "9999-01-01T00:00:00Z",
        "9999-12-31T00:00:00Z",
    ] {
        let answer = app.post_json("/api/v1/incidents", with_start(start)).await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{start}: {}",
            answer.text()
        );
        assert_eq!(field_names(&answer), vec!["started_at"], "{start}");
        assert!(
            answer
                .text()
                .contains("from 1970-01-01 to 9998-12-31 (UTC)"),
            "{start}: the message states the range: {}",
            answer.text()
        );
    }
    assert_eq!(app.count().await, 0);
    let list = app
        .get("/api/v1/incidents?started_after=0000-01-01T00:00:00Z")
        .await;
    assert_eq!(
        list.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        list.text()
    );
    let first = app.create(with_start("1970-01-01T00:00:00Z")).await;
    assert_eq!(first["started_at"], "1970-01-01T00:00:00Z");
    let incident = app.create(incident()).await;
    let id = incident["id"].as_i64().unwrap();
    let early =
        json!({"kind": "note", "occurred_at": "2024-11-20T12:00:00Z", "text": "the config change"});
    let refused = app
        .post_json(&format!("/api/v1/incidents/{id}/timeline"), early.clone())
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text()
    );
    assert_eq!(field_names(&refused), vec!["occurred_at"]);
    assert!(
        refused
            .text()
            .contains("a year or more before the incident started")
    );
    let timeline = app
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .json();
    let mut confirmed = early.clone();
    confirmed["confirm_early"] = json!(true);
    let added = app
        .post_json(&format!("/api/v1/incidents/{id}/timeline"), confirmed)
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let after = app
        .get(&format!("/api/v1/incidents/{id}/timeline"))
        .await
        .json();
    assert_eq!(
        after["events"].as_array().unwrap().len(),
        timeline["events"].as_array().unwrap().len() + 1
    );
    // The form shows the box to tick once the time is refused, and keeps what was typed.
    let form = [
        ("kind", "note"),
        ("occurred_at", "2024-11-20T12:00"),
        ("time_zone", "UTC"),
        ("text", "the earlier change"),
    ];
    let page = app
        .post_form(&format!("/incidents/{id}/timeline"), &form)
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let text = page.text();
    assert!(
        text.contains("name=\"confirm_early\"") && text.contains("the earlier change"),
        "{text}"
    );
    let mut ticked = form.to_vec();
    ticked.push(("confirm_early", "on"));
    let saved = app
        .post_form(&format!("/incidents/{id}/timeline"), &ticked)
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
}

async fn a_resolved_or_mitigated_event_moves_the_status_unless_told_to_leave_key_times(
    app: TestApp,
) {
    let incident = app.create(incident()).await;
    let id = incident["id"].as_i64().unwrap();
    let event = |kind: &str, at: &str, sets: bool| json!({"kind": kind, "occurred_at": at, "text": kind, "sets_key_time": sets});
    let timeline = format!("/api/v1/incidents/{id}/timeline");
    let status = || async {
        app.get(&format!("/api/v1/incidents/{id}")).await.json()["status"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let left = app
        .post_json(&timeline, event("mitigated", "2026-11-20T13:00:00Z", false))
        .await;
    assert_eq!(left.status, StatusCode::CREATED);
    assert_eq!(
        status().await,
        "open",
        "told to leave the key times, it leaves the status too"
    );
    app.post_json(&timeline, event("mitigated", "2026-11-20T13:05:00Z", true))
        .await;
    assert_eq!(status().await, "mitigated");
    app.post_json(&timeline, event("resolved", "2026-11-20T14:00:00Z", true))
        .await;
    let resolved = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_at"], "2026-11-20T14:00:00Z");
    // A `fixed` event is measured from detection as the time to fix.
    app.post_json(&timeline, event("detected", "2026-11-20T12:30:00Z", true))
        .await;
    app.post_json(&timeline, event("fixed", "2026-11-20T13:45:00Z", true))
        .await;
    let metrics = app.get(&timeline).await.json()["metrics"].clone();
    assert_eq!(metrics["time_to_fix"]["seconds"], 4500);
    assert_eq!(metrics["time_to_fix"]["text"], "1 h 15 min");
    // A closed incident stays closed, whatever comes later.
    app.patch_json(
        &format!("/api/v1/incidents/{id}"),
        json!({"status": "closed"}),
    )
    .await;
    app.post_json(&timeline, event("resolved", "2026-11-20T15:00:00Z", true))
        .await;
    assert_eq!(status().await, "closed");
}

async fn a_database_failure_while_checking_credentials_is_503_not_401(app: TestApp) {
    app.create(incident()).await;
    app.database
        .try_raw_sql("alter table api_token rename to api_token_away")
        .await
        .unwrap();
    let answer = app.get("/api/v1/incidents").await;
    assert_eq!(
        answer.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        answer.text()
    );
    assert_eq!(answer.error_code(), "unavailable");
    assert_eq!(answer.headers[header::RETRY_AFTER], "5");
    let page = app.get("/incidents").await;
    assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(page.text().contains("cannot reach its database"));
    // Public routes still answer.
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    app.database
        .try_raw_sql("alter table api_token_away rename to api_token")
        .await
        .unwrap();
    assert_eq!(app.get("/api/v1/incidents").await.status, StatusCode::OK);
}

on_both_backends!(
    a_nul_in_any_text_is_422_naming_the_field_and_stores_nothing,
    a_database_failure_while_checking_credentials_is_503_not_401,
    a_resolved_or_mitigated_event_moves_the_status_unless_told_to_leave_key_times,
    times_outside_1970_to_9998_are_422_and_an_event_years_early_needs_confirming,
    reading_an_incident_never_writes_even_one_the_policy_never_judged,
    a_review_meeting_is_proposed_scheduled_moved_and_cancelled_with_its_invite,
    a_seventh_attendee_or_an_involved_moderator_is_refused_and_nothing_is_stored,
    notes_are_saved_as_typed_and_a_held_meeting_records_attendance,
    meeting_mode_schedules_from_the_form_and_shows_the_code_of_conduct,
    the_agenda_lists_open_items_by_owner_and_deliveries_are_listed_and_replayed,
    an_incidents_policy_follows_its_changes_requests_and_overrides,
    postmortem_debt_is_oldest_first_with_days_overdue,
    action_items_end_only_with_a_note_and_are_listed_filtered_and_exported,
    action_items_are_added_and_finished_through_the_pages,
    a_postmortem_moves_to_review_and_publication_only_when_ready,
    a_stale_edit_is_409_with_the_current_version_and_loses_nothing,
    unknown_templates_sections_statuses_and_categories_are_422_and_store_nothing,
    the_lint_finds_blame_in_stored_and_posted_text,
    a_postmortem_starts_as_a_draft_written_from_its_incident_and_refreshes_its_timeline,
    a_draft_is_discarded_with_an_audit_entry_and_nothing_reviewed_is_ever_deleted,
    blocking_lint_rules_stop_review_until_reworded_or_justified,
    the_reading_view_reads_as_a_document_with_names_and_no_form_for_viewers,
    the_editor_saves_an_unchanged_form_as_nothing_and_keeps_input_beside_each_error,
    an_image_is_uploaded_checked_by_its_bytes_and_shown_only_to_readers,
    exports_read_back_and_the_printable_page_runs_no_script,
    a_team_template_is_added_once_and_used,
    a_postmortem_of_a_private_incident_is_hidden_from_outsiders,
    the_editor_page_saves_shows_findings_and_keeps_input_on_a_stale_save,
    creating_an_incident_answers_201_with_its_location_and_body,
    malformed_json_is_400_and_stores_nothing,
    invalid_fields_are_422_naming_every_field_and_store_nothing,
    a_field_of_the_wrong_type_or_unknown_name_is_422_naming_it,
    a_body_over_the_limit_is_413_and_stores_nothing,
    a_wrong_or_missing_content_type_is_415_and_stores_nothing,
    an_unknown_incident_is_404_for_reads_and_changes,
    a_patch_changes_only_the_fields_it_names,
    an_invalid_patch_is_refused_and_changes_nothing,
    the_list_filters_and_pages_with_a_cursor,
    a_bad_list_filter_is_422_naming_it,
    every_route_is_in_the_authorization_matrix_and_enforced,
    a_private_incident_is_404_on_every_route_for_non_members_and_absent_from_lists,
    sign_ins_refusals_and_account_changes_reach_the_audit_log,
    a_wrong_or_missing_token_is_401_and_a_revoked_or_disabled_one_stops_at_once,
    the_timeline_api_adds_edits_and_removes_events_and_keeps_key_times,
    an_alertmanager_delivery_opens_one_incident_and_a_retry_adds_nothing,
    pagerduty_signatures_are_checked_on_the_raw_body_and_rotation_works,
    grafana_and_opsgenie_deliveries_authenticate_their_own_way,
    a_slack_export_imports_once_and_a_malformed_day_keeps_nothing,
    the_incident_page_shows_the_timeline_and_metrics_and_adds_events_by_form,
);

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let app = TestApp::sqlite().await;
    let document = app.get("/api/openapi.json").await.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    let mut undocumented = Vec::new();
    for rule in hindsight_http::route_rules() {
        if rule.path.starts_with("/api/v1/")
            && !paths
                .get(rule.path)
                .is_some_and(|path| path[rule.method.to_lowercase()].is_object())
        {
            undocumented.push(format!("{} {}", rule.method, rule.path));
        }
    }
    assert!(
        undocumented.is_empty(),
        "not in the OpenAPI document: {undocumented:?}"
    );
    for (path, method) in [
        ("/api/v1/incidents", "get"),
        ("/api/v1/incidents", "post"),
        ("/api/v1/incidents/{id}", "get"),
        ("/api/v1/incidents/{id}", "patch"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            paths[path][method].is_object(),
            "{method} {path} is missing"
        );
    }
    let schemas = &document["components"]["schemas"];
    for schema in [
        "Incident",
        "IncidentContent",
        "Impact",
        "IncidentDraft",
        "IncidentPatch",
        "ErrorBody",
    ] {
        assert!(schemas[schema].is_object(), "schema {schema} is missing");
    }
    assert!(
        schemas["Impact"]
            .to_string()
            .contains("user_visible_minutes")
    );
}

#[tokio::test]
async fn unknown_api_routes_and_methods_answer_with_the_error_shape() {
    let app = TestApp::sqlite().await;
    let missing = app.get("/api/v1/nothing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "not_found");
    let wrong = app
        .send_body(Method::DELETE, "/api/v1/incidents", None, "")
        .await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.error_code(), "method_not_allowed");
    let page = app.get("/nowhere").await;
    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.text().contains("There is no page at this address."));
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = TestApp::sqlite().await;
    assert_eq!(app.get("/healthz").await.status, StatusCode::OK);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["database"], "sqlite");
    app.get("/api/v1/incidents/12345").await;
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains(
            r#"hindsight_http_requests_total{method="GET",route="/api/v1/incidents/{id}",status="404"} 1"#
        ),
        "{metrics}"
    );
    assert!(metrics.contains("hindsight_http_request_duration_seconds_bucket"));
}

#[tokio::test]
async fn pages_and_api_answers_carry_security_headers() {
    let app = TestApp::sqlite().await;
    let page = app.get("/incidents").await;
    assert_eq!(page.status, StatusCode::OK);
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
    assert_eq!(page.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    let api = app.get("/api/v1/incidents").await;
    assert_eq!(api.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(
        api.headers[header::CONTENT_SECURITY_POLICY],
        "frame-ancestors 'none'"
    );
    let missing = app.get("/no/such/page").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
}

#[tokio::test]
async fn the_form_creates_an_incident_and_redirects_to_it() {
    let app = TestApp::sqlite().await;
    let answer = app
        .post_form(
            "/incidents",
            &[
                ("title", "Login page times out"),
                ("severity", "SEV2"),
                ("status", "open"),
                ("services", "auth, web"),
                ("started_at", "2026-11-20T09:30"),
                ("users_affected", "1,200"),
                ("data_loss", "on"),
                ("business", "signups_lost = 40"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    let location = answer.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let page = app.get(&location).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("Login page times out"));
    assert!(html.contains("2026-11-20 09:30 UTC"));
    let id = location.rsplit('/').next().unwrap();
    let stored = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(stored["services"], json!(["auth", "web"]));
    assert_eq!(stored["impact"]["users_affected"], 1200);
    assert_eq!(stored["impact"]["data_loss"], true);
    assert_eq!(stored["impact"]["business"]["signups_lost"], 40.0);
    let list = app.get("/incidents?service=auth").await.text();
    assert!(list.contains("Login page times out"));
}

#[tokio::test]
async fn an_invalid_form_shows_each_error_beside_its_field_and_keeps_the_input() {
    let app = TestApp::sqlite().await;
    let answer = app
        .post_form(
            "/incidents",
            &[
                ("title", ""),
                ("severity", "SEV2"),
                ("summary", "kept <b>as typed</b>"),
                ("started_at", "2026-11-20T09:30"),
                ("resolved_at", "2026-11-20T08:00"),
                ("users_affected", "many"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = answer.text();
    assert!(
        html.contains(r#"<p class="error" id="title-error">title is required</p>"#),
        "{html}"
    );
    assert!(html.contains("resolved_at is before started_at"));
    assert!(html.contains("users_affected must be a whole number"));
    assert!(
        html.contains("kept &#60;b&#62;as typed&#60;/b&#62;")
            || html.contains("kept &lt;b&gt;as typed&lt;/b&gt;"),
        "{html}"
    );
    assert_eq!(app.count().await, 0);
}

#[tokio::test]
async fn an_edit_from_a_stale_form_is_refused_and_loses_nothing() {
    let app = TestApp::sqlite().await;
    let created = app.create(incident()).await;
    let id = created["id"].as_i64().unwrap();
    let edit = app.get(&format!("/incidents/{id}/edit")).await.text();
    let marker = r#"name="updated_at" value=""#;
    let start = edit.find(marker).unwrap() + marker.len();
    let version = &edit[start..start + edit[start..].find('"').unwrap()];
    // Someone else changes the incident through the API meanwhile.
    app.patch_json(
        &format!("/api/v1/incidents/{id}"),
        json!({"status": "mitigated"}),
    )
    .await;
    let form = [
        ("title", "Edited in a stale form"),
        ("severity", "SEV2"),
        ("status", "open"),
        ("started_at", "2026-11-20T12:20:00"),
        ("updated_at", version),
    ];
    let answer = app.post_form(&format!("/incidents/{id}"), &form).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    assert!(answer.text().contains("Edited in a stale form"));
    let stored = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(stored["status"], "mitigated");
    assert_eq!(stored["title"], created["title"]);
}

#[tokio::test]
async fn an_edit_keeps_times_the_person_did_not_touch_to_the_microsecond() {
    let app = TestApp::sqlite().await;
    let mut body = incident();
    body["started_at"] = json!("2026-11-20T12:20:00.123456Z");
    let created = app.create(body).await;
    let id = created["id"].as_i64().unwrap();
    let version = app
        .database
        .store()
        .get_incident(
            id.to_string().parse().unwrap(),
            hindsight_domain::access::Visibility::Everything,
        )
        .await
        .unwrap()
        .unwrap()
        .updated_at
        .as_microsecond()
        .to_string();
    let answer = app
        .post_form(
            &format!("/incidents/{id}"),
            &[
                ("title", "Renamed"),
                ("severity", "SEV2"),
                ("status", "open"),
                ("started_at", "2026-11-20T12:20:00"),
                ("updated_at", &version),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.text());
    let stored = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(stored["title"], "Renamed");
    assert_eq!(stored["started_at"], "2026-11-20T12:20:00.123456Z");
}

#[tokio::test]
async fn an_unknown_incident_page_is_a_404_page() {
    let app = TestApp::sqlite().await;
    let answer = app.get("/incidents/77").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.text().contains("There is no incident 77."));
}

/// Every route and what it needs. A route added without a line here fails
/// `every_route_is_in_the_authorization_matrix_and_enforced`.
const MATRIX: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/incidents", "read"),
    ("POST", "/api/v1/incidents", "write"),
    ("GET", "/api/v1/incidents/{id}", "read"),
    ("PATCH", "/api/v1/incidents/{id}", "write"),
    ("GET", "/incidents", "read"),
    ("POST", "/incidents", "write"),
    ("GET", "/incidents/new", "write"),
    ("GET", "/incidents/{id}", "read"),
    ("POST", "/incidents/{id}", "write"),
    ("GET", "/incidents/{id}/edit", "write"),
    ("GET", "/api/v1/incidents/{id}/timeline", "read"),
    ("POST", "/api/v1/incidents/{id}/timeline", "write"),
    ("PUT", "/api/v1/incidents/{id}/timeline/{event}", "write"),
    ("DELETE", "/api/v1/incidents/{id}/timeline/{event}", "write"),
    (
        "POST",
        "/api/v1/incidents/{id}/timeline/imports/slack",
        "write",
    ),
    ("POST", "/api/v1/intake/{source}", "public"),
    ("POST", "/incidents/{id}/timeline", "write"),
    ("GET", "/incidents/{id}/timeline/{event}/edit", "write"),
    ("POST", "/incidents/{id}/timeline/{event}", "write"),
    ("POST", "/incidents/{id}/timeline/{event}/delete", "write"),
    ("POST", "/incidents/{id}/timeline/import", "write"),
    ("GET", "/assets/localtime.js", "public"),
    ("GET", "/api/v1/me", "read"),
    ("GET", "/api/v1/tokens", "read"),
    ("POST", "/api/v1/tokens", "read"),
    ("DELETE", "/api/v1/tokens/{id}", "read"),
    ("GET", "/api/v1/users", "admin"),
    ("POST", "/api/v1/users", "admin"),
    ("PATCH", "/api/v1/users/{id}", "admin"),
    ("GET", "/api/v1/audit", "admin"),
    ("GET", "/admin/audit", "admin"),
    ("GET", "/api/v1/reviews/agenda", "read"),
    ("GET", "/reviews/agenda", "read"),
    ("GET", "/api/v1/deliveries", "admin"),
    ("POST", "/api/v1/deliveries/{id}/replay", "admin"),
    ("GET", "/admin/deliveries", "admin"),
    ("POST", "/admin/deliveries/{id}/replay", "admin"),
    ("GET", "/api/v1/teams", "read"),
    ("POST", "/api/v1/teams", "admin"),
    ("PUT", "/api/v1/teams/{id}/members/{user_id}", "admin"),
    ("DELETE", "/api/v1/teams/{id}/members/{user_id}", "admin"),
    ("GET", "/login", "public"),
    ("POST", "/login", "public"),
    ("POST", "/logout", "public"),
    ("GET", "/", "public"),
    ("GET", "/assets/hindsight.css", "public"),
    ("GET", "/healthz", "public"),
    ("GET", "/readyz", "public"),
    ("GET", "/metrics", "public"),
    ("GET", "/api/openapi.json", "public"),
    ("GET", "/api/v1/templates", "read"),
    ("POST", "/api/v1/templates", "write"),
    ("GET", "/api/v1/templates/{key}", "read"),
    ("GET", "/api/v1/postmortems", "read"),
    ("POST", "/api/v1/postmortems", "write"),
    ("GET", "/api/v1/postmortems/{id}", "read"),
    ("PATCH", "/api/v1/postmortems/{id}", "write"),
    ("GET", "/api/v1/postmortems/{id}/sections", "read"),
    ("PUT", "/api/v1/postmortems/{id}/sections/{key}", "write"),
    ("GET", "/api/v1/postmortems/{id}/why-chains", "read"),
    ("POST", "/api/v1/postmortems/{id}/why-chains", "write"),
    (
        "GET",
        "/api/v1/postmortems/{id}/contributing-factors",
        "read",
    ),
    (
        "POST",
        "/api/v1/postmortems/{id}/contributing-factors",
        "write",
    ),
    ("POST", "/api/v1/postmortems/{id}/transitions", "write"),
    ("GET", "/api/v1/postmortems/{id}/lint", "read"),
    ("POST", "/api/v1/lint", "read"),
    ("GET", "/api/v1/postmortems/{id}/history", "read"),
    ("GET", "/api/v1/postmortems/{id}/history/{version}", "read"),
    ("GET", "/api/v1/postmortems/{id}/diff", "read"),
    ("GET", "/api/v1/postmortems/{id}/export", "read"),
    ("GET", "/postmortems", "read"),
    ("GET", "/postmortems/new", "write"),
    ("POST", "/postmortems", "write"),
    ("GET", "/postmortems/{id}", "read"),
    ("GET", "/postmortems/{id}/edit", "write"),
    ("POST", "/postmortems/{id}/timeline/refresh", "write"),
    ("POST", "/postmortems/{id}/discard", "write"),
    ("DELETE", "/api/v1/postmortems/{id}", "write"),
    ("POST", "/api/v1/postmortems/{id}/timeline/refresh", "write"),
    ("POST", "/api/v1/preview", "read"),
    ("POST", "/api/v1/postmortems/{id}/images", "write"),
    ("GET", "/api/v1/postmortems/{id}/images", "read"),
    ("POST", "/postmortems/{id}/images", "write"),
    ("GET", "/postmortems/{id}/images/{image}", "read"),
    ("DELETE", "/api/v1/postmortems/{id}/images/{image}", "write"),
    ("POST", "/postmortems/{id}/images/{image}/delete", "write"),
    ("POST", "/postmortems/{id}", "write"),
    ("POST", "/postmortems/{id}/transitions", "write"),
    ("GET", "/postmortems/{id}/history", "read"),
    ("GET", "/postmortems/{id}/print", "read"),
    ("GET", "/templates/new", "write"),
    ("POST", "/templates", "write"),
    ("GET", "/assets/editor.js", "public"),
    ("GET", "/api/v1/incidents/{id}/policy", "read"),
    ("POST", "/api/v1/incidents/{id}/policy/override", "write"),
    ("POST", "/api/v1/incidents/{id}/postmortem-requests", "read"),
    ("GET", "/api/v1/postmortem-debt", "read"),
    ("POST", "/incidents/{id}/postmortem-requests", "read"),
    ("POST", "/incidents/{id}/policy/override", "write"),
    ("GET", "/postmortems/debt", "read"),
    ("GET", "/api/v1/postmortems/{id}/action-items", "read"),
    ("POST", "/api/v1/postmortems/{id}/action-items", "write"),
    ("GET", "/api/v1/action-items", "read"),
    ("GET", "/api/v1/action-items/export/{format}", "read"),
    ("GET", "/api/v1/action-items/{id}", "read"),
    ("PATCH", "/api/v1/action-items/{id}", "write"),
    ("GET", "/action-items", "read"),
    ("POST", "/action-items/{id}", "write"),
    ("GET", "/postmortems/{id}/action-items", "read"),
    ("POST", "/postmortems/{id}/action-items", "write"),
    ("GET", "/api/v1/postmortems/{id}/meeting", "read"),
    ("POST", "/api/v1/postmortems/{id}/meeting", "write"),
    ("PATCH", "/api/v1/postmortems/{id}/meeting", "write"),
    ("GET", "/api/v1/postmortems/{id}/meeting/proposal", "read"),
    ("POST", "/api/v1/postmortems/{id}/meeting/cancel", "write"),
    ("POST", "/api/v1/postmortems/{id}/meeting/held", "write"),
    ("PUT", "/api/v1/postmortems/{id}/meeting/notes", "write"),
    ("GET", "/api/v1/postmortems/{id}/meeting.ics", "read"),
    ("GET", "/postmortems/{id}/meeting", "read"),
    ("POST", "/postmortems/{id}/meeting", "write"),
    ("POST", "/postmortems/{id}/meeting/reschedule", "write"),
    ("POST", "/postmortems/{id}/meeting/cancel", "write"),
    ("POST", "/postmortems/{id}/meeting/held", "write"),
    ("POST", "/postmortems/{id}/meeting/notes", "write"),
    ("GET", "/assets/meeting.js", "public"),
];

fn level(name: &str) -> u8 {
    match name {
        "public" => 0,
        "read" | "viewer" => 1,
        "write" | "editor" => 2,
        "admin" => 3,
        other => panic!("unknown level {other}"),
    }
}

async fn every_route_is_in_the_authorization_matrix_and_enforced(mut app: TestApp) {
    use hindsight_domain::access::Permission;
    let rules: Vec<(String, String, String)> = hindsight_http::route_rules()
        .into_iter()
        .map(|rule| {
            let needs = match rule.permission {
                Permission::Public => "public",
                Permission::Read => "read",
                Permission::Write => "write",
                Permission::Admin => "admin",
            };
            (
                rule.method.to_owned(),
                rule.path.to_owned(),
                needs.to_owned(),
            )
        })
        .collect();
    let mut expected: Vec<(String, String, String)> = MATRIX
        .iter()
        .map(|(method, path, needs)| (method.to_string(), path.to_string(), needs.to_string()))
        .collect();
    let mut actual = rules.clone();
    expected.sort();
    actual.sort();
    assert_eq!(
        actual, expected,
        "the router's rules and the test's matrix differ"
    );

    let created = app.create(incident()).await;
    let id = created["id"].to_string();
    let team = app
        .post_json("/api/v1/teams", json!({"name": "Matrix"}))
        .await
        .json();
    let team_id = team["id"].to_string();
    let mut actors: Vec<(&str, Option<String>)> = vec![("anonymous", None)];
    for role in ["viewer", "editor", "admin"] {
        let token = app
            .token_for(
                &format!("{role}@example.com"),
                Role::parse(role).unwrap(),
                "admin",
            )
            .await;
        actors.push((role, Some(token)));
    }
    app.token = None;
    let mut checked = 0;
    let mut mismatches = Vec::new();
    for (method, path, needs) in MATRIX {
        for (actor, token) in &actors {
            // Each request gets a target of its own, so that one that changes or revokes
            // something does not spoil the next.
            let target_token = app
                .token_for("target@example.com", Role::Viewer, "read")
                .await;
            let target_token_id = app
                .database
                .store()
                .list_api_tokens(None)
                .await
                .unwrap()
                .into_iter()
                .find(|token| token.revoked_at.is_none() && token.name == "read token")
                .unwrap()
                .id;
            let _ = target_token;
            let target_user = app
                .database
                .store()
                .find_user_by_email("target@example.com")
                .await
                .unwrap()
                .unwrap()
                .0
                .id;
            let uri = path
                .replace(
                    "/teams/{id}/members/{user_id}",
                    &format!("/teams/{team_id}/members/{target_user}"),
                )
                .replace("/tokens/{id}", &format!("/tokens/{target_token_id}"))
                .replace("/users/{id}", &format!("/users/{target_user}"))
                .replace("{id}", &id);
            let (content_type, body) = match (*method, *path) {
                ("POST", "/api/v1/incidents") => ("application/json", incident().to_string()),
                ("PATCH", "/api/v1/incidents/{id}") => {
                    ("application/json", r#"{"status":"mitigated"}"#.to_owned())
                }
                ("POST", "/api/v1/tokens") => {
                    ("application/json", r#"{"name":"matrix"}"#.to_owned())
                }
                ("POST", "/api/v1/users") => (
                    "application/json",
                    format!(
                        r#"{{"email":"new-{checked}@example.com","password":"a long enough passphrase"}}"#
                    ),
                ),
                ("PATCH", "/api/v1/users/{id}") => {
                    ("application/json", r#"{"role":"editor"}"#.to_owned())
                }
                ("POST", "/incidents") | ("POST", "/incidents/{id}") => (
                    "application/x-www-form-urlencoded",
                    "title=Matrix&severity=SEV3&status=open&started_at=2026-11-20T10%3A00"
                        .to_owned(),
                ),
                ("POST", "/login") => (
                    "application/x-www-form-urlencoded",
                    "email=x%40example.com&password=y".to_owned(),
                ),
                _ => ("application/json", String::new()),
            };
            let mut request = Request::builder()
                .method(*method)
                .uri(&uri)
                .header(header::CONTENT_TYPE, content_type);
            if let Some(token) = token {
                request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
            }
            let answer = app.send(request.body(Body::from(body)).unwrap()).await;
            let status = answer.status.as_u16();
            let allowed = level(actor_level(actor)) >= level(needs);
            let is_page = !path.starts_with("/api/") && *needs != "public";
            let sent_to_login = status == 303
                && answer.headers[header::LOCATION]
                    .to_str()
                    .unwrap()
                    .starts_with("/login?next=");
            let ok = if *needs == "public" {
                // Not refused by the gate (a wrong password on /login is the page's own 401).
                status != 403 && !sent_to_login && !(status == 401 && uri.starts_with("/api/"))
            } else if *actor == "anonymous" {
                if is_page {
                    status == 303
                        && answer.headers[header::LOCATION]
                            .to_str()
                            .unwrap()
                            .starts_with("/login?next=")
                } else {
                    status == 401
                }
            } else if allowed {
                status != 401 && status != 403
            } else {
                status == 403
            };
            checked += 1;
            if !ok {
                mismatches.push(format!("{method} {uri} as {actor}: {status}"));
            }
        }
    }
    // Methods the table does not list: HEAD follows GET's rule, and every other method (the
    // CORS preflight's OPTIONS, one HTTP does not define) is refused before anything runs.
    let mut paths: Vec<&str> = MATRIX.iter().map(|(_, path, _)| *path).collect();
    paths.sort_unstable();
    paths.dedup();
    let incidents_before = app.count().await;
    for path in paths {
        let get_rule = MATRIX
            .iter()
            .find(|(method, known, _)| *method == "GET" && *known == path)
            .map(|(_, _, needs)| *needs);
        let uri = path.replace("{user_id}", "1").replace("{id}", &id);
        // Every method: the ones the table lists were sent above; HEAD follows GET; every
        // other is refused before anything runs.
        let unlisted: Vec<&str> = ["GET", "POST", "PUT", "PATCH", "DELETE"]
            .into_iter()
            .filter(|method| {
                !MATRIX
                    .iter()
                    .any(|(listed, known, _)| listed == method && *known == path)
            })
            .chain(["HEAD", "OPTIONS", "BREW"])
            .collect();
        for method in unlisted {
            for (actor, token) in &actors {
                let mut request = Request::builder().method(method).uri(&uri);
                if let Some(token) = token {
                    request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
                }
                let answer = app.send(request.body(Body::empty()).unwrap()).await;
                let status = answer.status.as_u16();
                let ok = match (method, get_rule) {
                    ("HEAD", Some(needs)) => {
                        if needs == "public" {
                            status != 401 && status != 403
                        } else if *actor == "anonymous" {
                            if path.starts_with("/api/") {
                                status == 401
                            } else {
                                status == 303
                            }
                        } else if level(actor_level(actor)) >= level(needs) {
                            status != 401 && status != 403 && status != 405
                        } else {
                            status == 403
                        }
                    }
                    _ => status == 405,
                };
                checked += 1;
                if !ok {
                    mismatches.push(format!("{method} {uri} as {actor}: {status}"));
                }
            }
        }
    }
    assert_eq!(
        app.count().await,
        incidents_before,
        "no HEAD, OPTIONS or unknown method wrote anything"
    );
    println!(
        "authorization matrix: {checked} checks, {} mismatches",
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}

fn actor_level(actor: &str) -> &str {
    if actor == "anonymous" {
        "public"
    } else {
        actor
    }
}

#[tokio::test]
async fn a_token_is_limited_by_its_scope() {
    let mut app = TestApp::sqlite().await;
    app.token = Some(
        app.token_for("admin@example.com", Role::Admin, "read")
            .await,
    );
    assert_eq!(app.get("/api/v1/incidents").await.status, StatusCode::OK);
    let write = app.post_json("/api/v1/incidents", incident()).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    assert_eq!(write.error_code(), "forbidden");
    let wider = app
        .post_json(
            "/api/v1/tokens",
            json!({"name": "sneaky", "scope": "write"}),
        )
        .await;
    assert_eq!(wider.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.count().await, 0);
}

async fn a_wrong_or_missing_token_is_401_and_a_revoked_or_disabled_one_stops_at_once(
    mut app: TestApp,
) {
    app.token = Some("hst_0000".into());
    let wrong = app.get("/api/v1/incidents").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.headers[header::WWW_AUTHENTICATE], "Bearer");
    app.token = None;
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);

    let admin = app
        .token_for("admin@example.com", Role::Admin, "admin")
        .await;
    let editor = app.token_for("ed@example.com", Role::Editor, "write").await;
    app.token = Some(editor.clone());
    let me = app.get("/api/v1/me").await.json();
    assert_eq!(me["email"], "ed@example.com");
    app.token = Some(admin);
    let disabled = app
        .patch_json(
            &format!("/api/v1/users/{}", me["id"]),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    app.token = Some(editor);
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_user_creates_lists_and_revokes_their_own_tokens() {
    let mut app = TestApp::sqlite().await;
    app.token = Some(app.token_for("ed@example.com", Role::Editor, "write").await);
    let created = app
        .post_json("/api/v1/tokens", json!({"name": "ci", "scope": "write"}))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    let created = created.json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("hst_"));
    let listed = app.get("/api/v1/tokens").await;
    assert!(
        !listed.text().contains(&secret),
        "a secret is shown only once"
    );
    app.token = Some(secret.clone());
    assert_eq!(
        app.get("/api/v1/me").await.json()["email"],
        "ed@example.com"
    );
    let revoked = app
        .send_body(
            Method::DELETE,
            &format!("/api/v1/tokens/{}", created["token"]["id"]),
            None,
            "",
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(app.get("/api/v1/me").await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_admin_cannot_lock_themselves_out_through_the_api() {
    let app = TestApp::sqlite().await;
    let me = app.get("/api/v1/me").await.json();
    let answer = app
        .patch_json(
            &format!("/api/v1/users/{}", me["id"]),
            json!({"role": "viewer"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let taken = app
        .post_json(
            "/api/v1/users",
            json!({"email": "ADMIN@example.com", "password": "a long enough passphrase"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.error_code(), "conflict");
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> Answer {
    app.post_form(
        "/login",
        &[
            ("email", email),
            ("password", password),
            ("next", "/incidents?status=open"),
        ],
    )
    .await
}

fn cookie_of(answer: &Answer) -> String {
    let set = answer.headers[header::SET_COOKIE].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

async fn user_with_password(app: &TestApp, email: &str, role: &str) {
    let draft = hindsight_domain::access::UserDraft {
        email: Some(email.into()),
        display_name: None,
        role: Some(role.into()),
        password: Some("correct horse battery staple".into()),
    };
    accounts::create_user(
        &*app.database.store(),
        draft,
        "2026-11-21T11:00:00Z".parse().unwrap(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn signing_in_sets_a_session_cookie_that_signing_out_ends() {
    let mut app = TestApp::sqlite().await;
    app.token = None;
    user_with_password(&app, "ana@example.com", "editor").await;
    let wrong = sign_in(&app, "ana@example.com", "wrong password here").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.headers.get(header::SET_COOKIE).is_none());
    let answer = sign_in(&app, "Ana@Example.com", "correct horse battery staple").await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.headers[header::LOCATION], "/incidents?status=open");
    let set_cookie = answer.headers[header::SET_COOKIE].to_str().unwrap();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    let cookie = cookie_of(&answer);
    let with_cookie = |uri: &str| {
        Request::get(uri)
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap()
    };
    let page = app.send(with_cookie("/incidents")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text().contains("ana"),
        "the layout names who is signed in"
    );
    let logout = app
        .send(
            Request::post("/logout")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(logout.status, StatusCode::SEE_OTHER);
    assert!(
        logout.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    let after = app.send(with_cookie("/incidents")).await;
    assert_eq!(
        after.status,
        StatusCode::SEE_OTHER,
        "the old cookie no longer works"
    );
}

#[tokio::test]
async fn a_change_from_another_site_with_the_session_cookie_is_refused() {
    let mut app = TestApp::sqlite().await;
    app.token = None;
    user_with_password(&app, "ana@example.com", "editor").await;
    let cookie = cookie_of(&sign_in(&app, "ana@example.com", "correct horse battery staple").await);
    let form = "title=Forged&severity=SEV1&status=open&started_at=2026-11-20T10%3A00";
    let post = |site: Option<&str>, origin: Option<&str>| {
        let mut request = Request::post("/incidents")
            .header(header::COOKIE, &cookie)
            .header(header::HOST, "hindsight.example")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(site) = site {
            request = request.header("sec-fetch-site", site);
        }
        if let Some(origin) = origin {
            request = request.header(header::ORIGIN, origin);
        }
        request.body(Body::from(form)).unwrap()
    };
    let forged = app
        .send(post(Some("cross-site"), Some("https://evil.example")))
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let old_browser = app.send(post(None, Some("https://evil.example"))).await;
    assert_eq!(old_browser.status, StatusCode::FORBIDDEN);
    let neither = app.send(post(None, None)).await;
    assert_eq!(
        neither.status,
        StatusCode::FORBIDDEN,
        "every browser says where a change came from; a cookie change that does not is refused"
    );
    assert_eq!(app.count().await, 0);
    let ours = app
        .send(post(Some("same-origin"), Some("http://hindsight.example")))
        .await;
    assert_eq!(ours.status, StatusCode::SEE_OTHER);
    assert_eq!(app.count().await, 1);
}

#[tokio::test]
async fn the_eleventh_sign_in_attempt_in_a_minute_is_429_and_refusals_look_alike() {
    let mut app = TestApp::sqlite().await;
    app.token = None;
    user_with_password(&app, "ana@example.com", "viewer").await;
    let unknown = sign_in(&app, "nobody@example.com", "whatever it is").await;
    let wrong = sign_in(&app, "ana@example.com", "whatever it is").await;
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(
        unknown.text().replace("nobody@example.com", "EMAIL"),
        wrong.text().replace("ana@example.com", "EMAIL")
    );
    for _ in 0..8 {
        sign_in(&app, "ana@example.com", "whatever it is").await;
    }
    let limited = sign_in(&app, "ana@example.com", "correct horse battery staple").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn a_viewer_sees_incidents_but_no_way_to_change_them() {
    let mut app = TestApp::sqlite().await;
    app.create(incident()).await;
    app.token = None;
    user_with_password(&app, "vi@example.com", "viewer").await;
    let cookie = cookie_of(&sign_in(&app, "vi@example.com", "correct horse battery staple").await);
    let page = app
        .send(
            Request::get("/incidents/1")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        !html.contains("/edit") && !html.contains("Record an incident"),
        "{html}"
    );
    let edit = app
        .send(
            Request::get("/incidents/1/edit")
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(edit.status, StatusCode::FORBIDDEN);
}

async fn a_private_incident_is_404_on_every_route_for_non_members_and_absent_from_lists(
    mut app: TestApp,
) {
    let admin = app.token.clone().unwrap();
    let member = app
        .token_for("member@example.com", Role::Viewer, "admin")
        .await;
    let via_team = app
        .token_for("team@example.com", Role::Viewer, "admin")
        .await;
    let outsider = app
        .token_for("outsider@example.com", Role::Editor, "admin")
        .await;
    let users = app.get("/api/v1/users").await.json();
    let id_of = |email: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|user| user["email"] == email)
            .unwrap()["id"]
            .clone()
    };
    let team = app
        .post_json("/api/v1/teams", json!({"name": "Security"}))
        .await
        .json();
    let added = app
        .send_body(
            Method::PUT,
            &format!(
                "/api/v1/teams/{}/members/{}",
                team["id"],
                id_of("team@example.com")
            ),
            Some("application/json"),
            r#"{"is_lead": false}"#,
        )
        .await;
    assert_eq!(added.status, StatusCode::OK, "{}", added.text());
    let mut body = incident();
    body["title"] = json!("Customer data exposed");
    body["private"] = json!(true);
    body["members"] = json!({"users": [id_of("member@example.com")], "teams": [team["id"]]});
    let secret = app.create(body).await;
    let me = app.get("/api/v1/me").await.json();
    assert!(
        secret["members"]["users"]
            .as_array()
            .unwrap()
            .contains(&me["id"]),
        "the admin who made it private is listed among its members: {}",
        secret["members"]
    );
    app.create(incident()).await;
    let id = secret["id"].to_string();

    let mut matrix = 0;
    for (who, token, sees) in [
        ("admin", &admin, true),
        ("member", &member, true),
        ("team member", &via_team, true),
        ("outsider", &outsider, false),
    ] {
        app.token = Some(token.clone());
        for uri in [
            format!("/api/v1/incidents/{id}"),
            format!("/incidents/{id}"),
        ] {
            let status = app.get(&uri).await.status;
            assert_eq!(status == StatusCode::OK, sees, "{who} GET {uri}: {status}");
            if !sees {
                assert_eq!(
                    status,
                    StatusCode::NOT_FOUND,
                    "never 403, which would confirm it exists"
                );
            }
            matrix += 1;
        }
        let list = app.get("/api/v1/incidents").await.json();
        let listed = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|item| item["id"] == secret["id"]);
        assert_eq!(listed, sees, "{who} list");
        let page = app.get("/incidents").await.text();
        assert_eq!(
            page.contains("Customer data exposed"),
            sees,
            "{who} list page"
        );
        matrix += 2;
    }
    app.token = Some(outsider.clone());
    for (method, uri) in [
        (Method::PATCH, format!("/api/v1/incidents/{id}")),
        (Method::GET, format!("/incidents/{id}/edit")),
        (Method::POST, format!("/incidents/{id}")),
    ] {
        let (content_type, body) = if method == Method::PATCH {
            ("application/json", r#"{"status":"closed"}"#)
        } else {
            (
                "application/x-www-form-urlencoded",
                "title=Mine&severity=SEV1&started_at=2026-11-20T10%3A00",
            )
        };
        let answer = app
            .send_body(method.clone(), &uri, Some(content_type), body)
            .await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{method} {uri}");
        matrix += 1;
    }
    println!("private incident matrix: {matrix} checks, 0 mismatches");
    app.token = Some(admin);
    let unchanged = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(without_postmortems(unchanged), secret);
}

#[tokio::test]
async fn whoever_makes_an_incident_private_stays_able_to_see_it() {
    let mut app = TestApp::sqlite().await;
    app.token = Some(app.token_for("ed@example.com", Role::Editor, "write").await);
    let mut body = incident();
    body["private"] = json!(true);
    let created = app.create(body).await;
    assert_eq!(created["members"]["users"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.get(&format!("/api/v1/incidents/{}", created["id"]))
            .await
            .status,
        StatusCode::OK
    );
    let unknown = app
        .post_json("/api/v1/incidents", json!({"title": "x", "severity": "SEV1", "started_at": "2026-11-20T10:00:00Z", "private": true, "members": {"users": [999]}}))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        unknown.json()["error"]["details"][0]["field"],
        "members.users"
    );
}

async fn sign_ins_refusals_and_account_changes_reach_the_audit_log(mut app: TestApp) {
    let admin = app.token.clone().unwrap();
    user_with_password(&app, "ana@example.com", "viewer").await;
    app.token = None;
    sign_in(&app, "ana@example.com", "wrong password here").await;
    sign_in(&app, "ana@example.com", "correct horse battery staple").await;
    app.token = Some(app.token_for("vi@example.com", Role::Viewer, "read").await);
    assert_eq!(
        app.post_json("/api/v1/incidents", incident()).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(app.get("/api/v1/audit").await.status, StatusCode::FORBIDDEN);
    app.token = Some(admin);
    let created = app.post_json("/api/v1/tokens", json!({"name": "ci"})).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let mut private = incident();
    private["private"] = json!(true);
    app.create(private).await;

    let log = app.get("/api/v1/audit?limit=50").await.json();
    let actions: Vec<String> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|event| {
            format!(
                "{} {} {}",
                event["action"].as_str().unwrap(),
                event["actor"].as_str().unwrap(),
                event["detail"].as_str().unwrap()
            )
        })
        .collect();
    let expected = [
        "incident.private_changed admin@example.com private: 1 user and 0 teams besides admins",
        "token.created admin@example.com ci (read)",
        "permission.denied vi@example.com role or token scope too narrow",
        "permission.denied vi@example.com role or token scope too narrow",
        "signin.succeeded ana@example.com ",
        "signin.failed ana@example.com wrong password",
    ];
    assert_eq!(actions, expected);
    let page = app.get("/admin/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text().contains("signin.failed"));
    assert_eq!(
        app.get("/api/v1/audit?limit=0").await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[tokio::test]
async fn a_summary_renders_as_markdown_and_script_in_it_does_not() {
    let app = TestApp::sqlite().await;
    let mut body = incident();
    body["summary"] = json!("**Bold** move.\n\n<script>alert(1)</script> [x](javascript:alert(1))");
    let created = app.create(body).await;
    let html = app
        .get(&format!("/incidents/{}", created["id"]))
        .await
        .text();
    assert!(html.contains("<strong>Bold</strong>"), "{html}");
    assert!(
        !html.contains("<script>alert") && !html.contains("javascript:alert"),
        "{html}"
    );
}

// ---- The timeline, alert intake and Slack imports ----

const AM_FIRING: &str =
    include_str!("../../../fixtures/alertmanager/alertmanager-0.25-firing.http");
const AM_RESOLVED: &str =
    include_str!("../../../fixtures/alertmanager/alertmanager-0.25-resolved.http");

fn capture_body(capture: &str) -> String {
    capture.split_once("\n\n").unwrap().1.trim_end().to_owned()
}

impl TestApp {
    async fn deliver(
        &self,
        source: &str,
        headers: &[(&str, &str)],
        body: impl Into<Body>,
    ) -> Answer {
        let mut request = Request::post(format!("/api/v1/intake/{source}"))
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(body.into()).unwrap()).await
    }

    async fn timeline(&self, id: &Value) -> Value {
        let answer = self.get(&format!("/api/v1/incidents/{id}/timeline")).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
        answer.json()
    }
}

fn hex_hmac(secret: &str, parts: &[&[u8]]) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    for part in parts {
        mac.update(part);
    }
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

async fn the_timeline_api_adds_edits_and_removes_events_and_keeps_key_times(app: TestApp) {
    let created = app.create(incident()).await;
    let id = &created["id"];
    let base = format!("/api/v1/incidents/{id}/timeline");
    // Seed 003's example, with the report written in another zone.
    for (kind, at, text) in [
        (
            "reported",
            "2026-11-20T15:10:00+01:00",
            "A customer wrote in",
        ),
        ("investigating", "2026-11-20T14:35:00Z", "Looking"),
        (
            "root_cause_identified",
            "2026-11-20T15:15:00Z",
            "A bad config push",
        ),
        ("fixed", "2026-11-20T15:17:00Z", "Reverted"),
        ("resolved", "2026-11-20T15:25:00Z", "Recovery confirmed"),
    ] {
        let answer = app
            .post_json(
                &base,
                json!({"kind": kind, "occurred_at": at, "text": text}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text());
    }
    let timeline = app.timeline(id).await;
    assert_eq!(timeline["metrics"]["time_to_detect"]["text"], "1 h 50 min");
    assert_eq!(timeline["metrics"]["time_to_detect"]["seconds"], 6600);
    assert_eq!(
        timeline["metrics"]["time_to_acknowledge"]["text"],
        "unknown"
    );
    assert_eq!(
        timeline["metrics"]["time_to_acknowledge"]["seconds"],
        Value::Null
    );
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(incident["detected_at"], "2026-11-20T14:10:00Z");
    assert_eq!(incident["resolved_at"], "2026-11-20T15:25:00Z");

    // Moving the resolution moves the incident's; a time before the start is refused.
    let events = timeline["events"].as_array().unwrap();
    let resolved = events.iter().find(|e| e["kind"] == "resolved").unwrap();
    let uri = format!("{base}/{}", resolved["id"]);
    let moved = app
        .send_body(
            Method::PUT,
            &uri,
            Some("application/json"),
            json!({"kind": "resolved", "occurred_at": "2026-11-20T15:40:00Z", "text": "Confirmed"})
                .to_string(),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(incident["resolved_at"], "2026-11-20T15:40:00Z");
    let refused = app
        .send_body(
            Method::PUT,
            &uri,
            Some("application/json"),
            json!({"kind": "resolved", "occurred_at": "2026-11-20T01:00:00Z"}).to_string(),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text().contains("resolved_at is before started_at"),
        "{}",
        refused.text()
    );

    // Bad input names its fields and stores nothing.
    let before = app.timeline(id).await["events"].as_array().unwrap().len();
    let bad = app
        .post_json(
            &base,
            json!({"kind": "boom", "occurred_at": "14:10", "link": "ftp://x"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<_> = bad.json()["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(fields, ["kind", "occurred_at", "link"]);
    let unknown = app
        .post_json(&base, json!({"kind": "note", "when": "x"}))
        .await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.timeline(id).await["events"].as_array().unwrap().len(),
        before
    );

    // Removing the manual resolution keeps the incident's time, shown by Hindsight.
    assert_eq!(
        app.send(Request::delete(&uri).body(Body::empty()).unwrap())
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let timeline = app.timeline(id).await;
    let holder = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["holds"] == "resolved_at")
        .unwrap()
        .clone();
    assert_eq!(holder["source"], "system");
    assert_eq!(holder["occurred_at"], "2026-11-20T15:40:00Z");
    let system = app
        .send(
            Request::delete(format!("{base}/{}", holder["id"]))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(system.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.send(
            Request::delete(format!("{base}/999999"))
                .body(Body::empty())
                .unwrap()
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
}

async fn an_alertmanager_delivery_opens_one_incident_and_a_retry_adds_nothing(app: TestApp) {
    let bearer = [("authorization", "Bearer test-intake-token")];
    let firing = capture_body(AM_FIRING);
    // A bad or missing credential is 401 and stores nothing.
    for headers in [
        &[][..],
        &[("authorization", "Bearer wrong-token-xxxxxxxx")][..],
    ] {
        let refused = app.deliver("alertmanager", headers, firing.clone()).await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.count().await, 0);

    // Concurrent copies of the same notification open one incident.
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let router = app.router.clone();
        let request = Request::post("/api/v1/intake/alertmanager")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, bearer[0].1)
            .body(Body::from(firing.clone()))
            .unwrap();
        tasks.push(tokio::spawn(async move {
            router.oneshot(request).await.unwrap()
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        answers.push(serde_json::from_slice::<Value>(&body).unwrap());
    }
    assert_eq!(answers.iter().filter(|a| a["opened"] == true).count(), 1);
    assert_eq!(app.count().await, 1);
    let id = answers[0]["incident_id"].clone();
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(incident["detection"], "monitoring");
    assert_eq!(incident["severity"], "SEV1");
    assert_eq!(incident["services"], json!(["checkout"]));

    let resolved = app
        .deliver("alertmanager", &bearer, capture_body(AM_RESOLVED))
        .await;
    assert_eq!(resolved.json()["incident_id"], id);
    let again = app
        .deliver("alertmanager", &bearer, capture_body(AM_RESOLVED))
        .await;
    assert_eq!(again.json()["events_added"], 0);
    assert_eq!(again.json()["result"], "duplicate");
    let kinds: Vec<String> = app.timeline(&id).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["kind"].as_str().unwrap(),
                e["source"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "error_introduced/system",
            "detected/system",
            "alerted/alert",
            "note/alert",
            "resolved/alert"
        ]
    );
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(incident["resolved_at"], "2026-11-21T04:21:17Z");
    assert_eq!(
        incident["status"], "resolved",
        "the resolve resolves the incident"
    );

    // The same alert firing again after the resolution reopens its incident (no new one).
    let mut refire: Value = serde_json::from_str(&firing).unwrap();
    for alert in refire["alerts"].as_array_mut().unwrap() {
        alert["startsAt"] = json!("2026-11-21T06:00:00Z");
        alert["status"] = json!("firing");
    }
    let reopened = app
        .deliver("alertmanager", &bearer, refire.to_string())
        .await;
    assert_eq!(reopened.json()["incident_id"], id, "{}", reopened.text());
    assert_eq!(reopened.json()["opened"], false);
    assert_eq!(app.count().await, 1);
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(incident["status"], "open");
    assert_eq!(
        incident["resolved_at"], "2026-11-21T04:21:17Z",
        "its key times stay"
    );

    // Over 1 MiB is 413; not the sender's shape is 400; neither stores anything.
    let huge = format!("{{\"alerts\":[],\"pad\":\"{}\"}}", "x".repeat(1024 * 1024));
    assert_eq!(
        app.deliver("alertmanager", &bearer, huge).await.status,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let malformed = app
        .deliver("alertmanager", &bearer, "{\"alerts\":{}}")
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.error_code(), "malformed_payload");
    assert_eq!(app.count().await, 1);
    assert_eq!(
        app.deliver("nagios", &bearer, "{}").await.status,
        StatusCode::NOT_FOUND
    );
}

const PAGERDUTY: &str = r#"{"event":{"id":"01DEN4HPBQAJ7RP0VHXX2JQGYK","event_type":"incident.triggered","resource_type":"incident","occurred_at":"2026-11-20T18:45:22.169Z","agent":{"summary":"Tenex Engineer","type":"user_reference"},"data":{"id":"PGR0VU2","type":"incident","html_url":"https://acme.pagerduty.com/incidents/PGR0VU2","number":2,"status":"triggered","created_at":"2026-11-20T18:45:02Z","title":"A little bump in the road","service":{"summary":"API Service"},"priority":{"summary":"P2"},"urgency":"high"}}}"#;

async fn pagerduty_signatures_are_checked_on_the_raw_body_and_rotation_works(app: TestApp) {
    let body = PAGERDUTY.to_owned();
    let good = format!(
        "v1={}",
        hex_hmac("new-pagerduty-secret-2", &[body.as_bytes()])
    );
    let stale = format!(
        "v1={}",
        hex_hmac("retired-secret-000000", &[body.as_bytes()])
    );
    for signature in ["", "v1=zz", stale.as_str()] {
        let refused = app
            .deliver(
                "pagerduty",
                &[("x-pagerduty-signature", signature)],
                body.clone(),
            )
            .await;
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED, "{signature}");
    }
    // A body changed after signing is refused.
    let tampered = body.replace("P2", "P1");
    assert_eq!(
        app.deliver("pagerduty", &[("x-pagerduty-signature", &good)], tampered)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.count().await, 0);
    // During rotation PagerDuty sends one signature per secret; one valid one is enough.
    let rotated = format!("{stale}, {good}");
    let headers = [
        ("x-pagerduty-signature", rotated.as_str()),
        ("x-webhook-id", "delivery-1"),
    ];
    let first = app.deliver("pagerduty", &headers, body.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["opened"], true);
    let retry = app.deliver("pagerduty", &headers, body.clone()).await;
    assert_eq!(retry.json()["result"], "duplicate");

    let acknowledged = body
        .replace("incident.triggered", "incident.acknowledged")
        .replace("01DEN4HPBQAJ7RP0VHXX2JQGYK", "01DEN4HPBQAJ7RP0VHXX2JQGYL")
        .replace("18:45:22.169Z", "18:50:00Z");
    let signature = format!(
        "v1={}",
        hex_hmac("old-pagerduty-secret-1", &[acknowledged.as_bytes()])
    );
    let answer = app
        .deliver(
            "pagerduty",
            &[("x-pagerduty-signature", &signature)],
            acknowledged,
        )
        .await;
    assert_eq!(answer.json()["incident_id"], first.json()["incident_id"]);
    let incident = app
        .get(&format!(
            "/api/v1/incidents/{}",
            first.json()["incident_id"]
        ))
        .await
        .json();
    assert_eq!(incident["acknowledged_at"], "2026-11-20T18:50:00Z");
    assert_eq!(incident["severity"], "SEV2");

    let unknown = body.replace("incident.triggered", "service.created");
    let signature = format!(
        "v1={}",
        hex_hmac("new-pagerduty-secret-2", &[unknown.as_bytes()])
    );
    let ignored = app
        .deliver(
            "pagerduty",
            &[("x-pagerduty-signature", &signature)],
            unknown,
        )
        .await;
    assert_eq!(ignored.status, StatusCode::OK);
    assert_eq!(ignored.json()["result"], "ignored");
    assert_eq!(app.count().await, 1);
}

async fn grafana_and_opsgenie_deliveries_authenticate_their_own_way(app: TestApp) {
    let body =
        capture_body(AM_FIRING).replace("\"version\":\"4\"", "\"version\":\"1\",\"orgId\":1");
    let signature = hex_hmac("grafana-hmac-secret-123", &[body.as_bytes()]);
    assert_eq!(
        app.deliver(
            "grafana",
            &[("x-grafana-alerting-signature", "00")],
            body.clone()
        )
        .await
        .status,
        StatusCode::UNAUTHORIZED
    );
    let answer = app
        .deliver(
            "grafana",
            &[("x-grafana-alerting-signature", &signature)],
            body,
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.json()["opened"], true);

    let opsgenie = r#"{"action":"Create","alert":{"alertId":"70413a06","message":"CPU high on db1","alias":"db1-cpu","createdAt":1795234567000,"priority":"P3"}}"#;
    use base64::Engine;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("opsgenie:opsgenie-password-1234")
    );
    let wrong = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("opsgenie:guess")
    );
    assert_eq!(
        app.deliver("opsgenie", &[("authorization", &wrong)], opsgenie)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let created = app
        .deliver("opsgenie", &[("authorization", &basic)], opsgenie)
        .await;
    assert_eq!(created.json()["opened"], true);
    // Closed, found by its alias alone.
    let closed = r#"{"action":"Close","alert":{"alertId":"other-id","alias":"db1-cpu","updatedAt":1795238167000}}"#;
    let answer = app
        .deliver("opsgenie", &[("authorization", &basic)], closed)
        .await;
    assert_eq!(answer.json()["incident_id"], created.json()["incident_id"]);
    assert_eq!(app.count().await, 2);
}

/// A Slack export as Slack makes it, with the files the test chooses.
fn slack_export(days: &[(&str, &str)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("users.json", options).unwrap();
    zip.write_all(br#"[{"id":"U1","name":"ada","profile":{"display_name":"Ada"}},{"id":"U2","name":"grace","real_name":"Grace Hopper","profile":{"display_name":""}}]"#).unwrap();
    zip.start_file("channels.json", options).unwrap();
    zip.write_all(br#"[{"id":"C1","name":"incident-checkout"},{"id":"C2","name":"general"}]"#)
        .unwrap();
    for (name, content) in days {
        zip.start_file(*name, options).unwrap();
        zip.write_all(content.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

async fn a_slack_export_imports_once_and_a_malformed_day_keeps_nothing(app: TestApp) {
    let created = app.create(incident()).await;
    let id = &created["id"];
    let uri = format!("/api/v1/incidents/{id}/timeline/imports/slack?channel=incident-checkout");
    let day1 = r#"[{"type":"message","user":"U1","text":"Checkout is down <!here> :fire:","ts":"1795262400.000100","reply_count":1,"thread_ts":"1795262400.000100","reactions":[{"name":"pushpin","count":1,"users":["U2"]}]},
        {"type":"message","subtype":"channel_join","user":"U2","text":"<@U2> has joined","ts":"1795262401.000000"},
        {"type":"message","subtype":"bot_message","bot_id":"B1","username":"Grafana","text":"Alert firing","ts":"1795262460.000000"}]"#;
    let day2 = r#"[{"type":"message","user":"U2","text":"Rolled back, see <https://deploys.example/42|deploy 42> — löwe 🦁","ts":"1795305600.000200","thread_ts":"1795262400.000100"}]"#;
    let export = slack_export(&[
        ("incident-checkout/2026-11-21.json", day1),
        ("incident-checkout/2026-11-22.json", day2),
        ("general/2026-11-21.json", "[]"),
    ]);
    let first = app
        .send_body(Method::POST, &uri, Some("application/zip"), export.clone())
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    assert_eq!(first.json()["added"], 3);
    assert_eq!(first.json()["left_out"], 1);
    let again = app
        .send_body(Method::POST, &uri, Some("application/zip"), export)
        .await;
    assert_eq!(
        (
            again.json()["added"].clone(),
            again.json()["skipped"].clone()
        ),
        (json!(0), json!(3))
    );

    let timeline = app.timeline(id).await;
    let chat: Vec<&Value> = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["source"] == "chat")
        .collect();
    assert_eq!(chat.len(), 3);
    assert_eq!(chat[0]["author"], "Ada");
    assert_eq!(chat[0]["key"], true);
    assert_eq!(chat[0]["occurred_at"], "2026-11-21T12:00:00.0001Z");
    assert_eq!(chat[1]["author"], "Grafana (bot)");
    assert_eq!(
        chat[2]["text"],
        "↪ in the thread of Ada (“Checkout is down @here :fire:”): Rolled back, see [deploy 42](https://deploys.example/42) — löwe 🦁"
    );
    assert_eq!(chat[2]["author"], "Grace Hopper");

    // A malformed day file is named and nothing of that import is kept.
    let created = app.create(incident()).await;
    let id = &created["id"];
    let uri = format!("/api/v1/incidents/{id}/timeline/imports/slack?channel=incident-checkout");
    let broken = slack_export(&[
        ("incident-checkout/2026-11-21.json", day1),
        (
            "incident-checkout/2026-11-22.json",
            "[{\"ts\": \"1795305600.1\", \"text\": ",
        ),
    ]);
    let refused = app
        .send_body(Method::POST, &uri, Some("application/zip"), broken)
        .await;
    assert_eq!(
        refused.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        refused.text()
    );
    assert!(
        refused.text().contains("incident-checkout/2026-11-22.json"),
        "{}",
        refused.text()
    );
    let sources: Vec<Value> = app.timeline(id).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].clone())
        .collect();
    assert_eq!(sources, [json!("system")]);

    let wrong_channel = app
        .send_body(
            Method::POST,
            &format!("/api/v1/incidents/{id}/timeline/imports/slack?channel=nope"),
            Some("application/zip"),
            slack_export(&[]),
        )
        .await;
    assert_eq!(wrong_channel.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong_channel.text().contains("incident-checkout"),
        "{}",
        wrong_channel.text()
    );
    let not_zip = app
        .send_body(Method::POST, &uri, Some("application/zip"), "hello")
        .await;
    assert_eq!(not_zip.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(not_zip.text().contains("not a zip"), "{}", not_zip.text());
}

async fn the_incident_page_shows_the_timeline_and_metrics_and_adds_events_by_form(app: TestApp) {
    let mut body = incident();
    body["detected_at"] = json!("2026-11-20T14:10:00Z");
    let created = app.create(body).await;
    let id = &created["id"];
    let added = app
        .post_form(
            &format!("/incidents/{id}/timeline"),
            &[
                ("kind", "resolved"),
                ("occurred_at", "2026-11-21T00:30"),
                ("time_zone", "Europe/Berlin"),
                ("text", "All **green**"),
                ("key", "on"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let incident = app.get(&format!("/api/v1/incidents/{id}")).await.json();
    assert_eq!(incident["resolved_at"], "2026-11-20T23:30:00Z");

    let page = app
        .get(&format!("/incidents/{id}?tz=Europe/Berlin"))
        .await
        .text();
    assert!(page.contains("Times in Europe/Berlin"), "{page}");
    assert!(
        page.contains("Friday 20 November 2026") && page.contains("Saturday 21 November 2026"),
        "{page}"
    );
    assert!(page.contains("<strong>green</strong>"), "{page}");
    assert!(page.contains("1 h 50 min"), "time to detect: {page}");
    assert!(page.contains("unknown"), "{page}");

    let refused = app
        .post_form(
            &format!("/incidents/{id}/timeline"),
            &[
                ("kind", "note"),
                ("occurred_at", "yesterday"),
                ("text", "x"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.text().contains("Nothing was saved"),
        "{}",
        refused.text()
    );
    // Every bad field at once, the zone among them.
    let refused = app
        .post_form(
            &format!("/incidents/{id}/timeline"),
            &[
                ("kind", "boom"),
                ("occurred_at", "yesterday"),
                ("time_zone", "Mars/Base"),
            ],
        )
        .await
        .text();
    for field in ["time_zone", "kind", "occurred_at"] {
        assert!(
            refused.contains(&format!("<strong>{field}</strong>")),
            "{field}: {refused}"
        );
    }

    // The import form takes an export larger than the limit on other request bodies.
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    let filler: String = (0..6000)
        .map(|n| {
            random ^= random << 13;
            random ^= random >> 7;
            random ^= random << 17;
            format!(
                r#"{{"user":"U1","text":"line {n}: {random:016x}","ts":"1795262{n:04}.000100"}}"#
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let export = slack_export(&[("incident-checkout/2026-11-21.json", &format!("[{filler}]"))]);
    assert!(
        export.len() > 64 * 1024,
        "bigger than the test app's body limit: {}",
        export.len()
    );
    let boundary = "hindsight-boundary";
    let mut body = Vec::new();
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"channel\"\r\n\r\nincident-checkout\r\n").as_bytes());
    body.extend(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"export\"; filename=\"export.zip\"\r\nContent-Type: application/zip\r\n\r\n").as_bytes());
    body.extend(&export);
    body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
    let imported = app
        .send_body(
            Method::POST,
            &format!("/incidents/{id}/timeline/import"),
            Some(&format!("multipart/form-data; boundary={boundary}")),
            body,
        )
        .await;
    assert_eq!(imported.status, StatusCode::OK, "{}", imported.text());
    assert!(
        imported.text().contains("Added <strong>6000</strong>"),
        "{}",
        imported.text()
    );
}

#[tokio::test]
async fn the_lint_of_a_provoking_document_lists_a_thousand_findings_and_counts_the_rest() {
    let app = TestApp::sqlite()
        .await
        .reconfigured(|parts| parts.limits.max_body_bytes = 8 * 1024 * 1024)
        .await;
    let sentence = "it was Bob's fault, he should have known. ";
    let markdown = sentence.repeat(970_000 / sentence.len());
    let answer = app
        .post_json(
            "/api/v1/lint",
            json!({"markdown": markdown, "people": ["Bob"]}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    let body = answer.json();
    assert_eq!(body["findings"].as_array().unwrap().len(), 1_000);
    let more = body["more"].as_u64().unwrap();
    assert!(more > 40_000, "the rest are counted: {more}");
    // Columns still count characters on the one long line.
    assert_eq!(body["findings"][0]["column"], 8);
    assert_eq!(body["findings"][0]["line"], 1);
    let third = &body["findings"][2];
    assert_eq!(
        third["column"].as_u64().unwrap() as usize,
        8 + sentence.len()
    );
    // However large the server lets other bodies be, the lint takes at most 1 MiB.
    let too_big = "a".repeat(1024 * 1024 + 1);
    let refused = app
        .post_json("/api/v1/lint", json!({"markdown": too_big}))
        .await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(refused.error_code(), "payload_too_large");
}

/// A TCP proxy to PostgreSQL that a test can cut and restore, as a network or a restart would.
struct CuttableProxy {
    address: std::net::SocketAddr,
    open: Arc<std::sync::atomic::AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
}

impl CuttableProxy {
    async fn start(target: &str) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let open = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let target = target.to_owned();
        let accepting = Arc::clone(&open);
        let watcher = cuts.clone();
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accepting.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused at once
                }
                let mut cut = watcher.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut server) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self {
            address,
            open,
            cuts,
        }
    }

    /// Every connection through the proxy ends, and new ones are refused.
    async fn cut(&self) {
        self.open.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|generation| *generation += 1);
        // Let the forwarding tasks drop their sockets.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    fn restore(&self) {
        self.open.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test]
async fn a_lost_postgres_connection_answers_503_turns_readiness_off_and_recovers() {
    let Some(database) = TestDatabase::postgres().await else {
        return;
    };
    let url = database.url().to_owned();
    let target = url
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .to_owned();
    let proxy = CuttableProxy::start(&target).await;
    let proxied_url = url.replacen(&target, &proxy.address.to_string(), 1);
    let proxied = hindsight_store::open(&proxied_url).await.unwrap();
    let app = TestApp::on(database)
        .await
        .reconfigured(move |parts| parts.store = proxied)
        .await;
    let first = app.create(incident()).await;
    proxy.cut().await;
    let write = app.post_json("/api/v1/incidents", incident()).await;
    assert_eq!(
        write.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        write.text()
    );
    assert_eq!(write.error_code(), "unavailable");
    assert_eq!(write.headers[header::RETRY_AFTER], "5");
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    proxy.restore();
    let mut recovered = None;
    for _ in 0..50 {
        let answer = app.post_json("/api/v1/incidents", incident()).await;
        if answer.status == StatusCode::CREATED {
            recovered = Some(answer.json());
            break;
        }
        assert_eq!(
            answer.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            answer.text()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let recovered = recovered.expect("writes work again once the database is back");
    assert_eq!(
        app.get("/readyz").await.status,
        StatusCode::OK,
        "ready again"
    );
    for id in [&first["id"], &recovered["id"]] {
        assert_eq!(
            app.get(&format!("/api/v1/incidents/{id}")).await.status,
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_a_sensible_given_one_is_kept() {
    let app = TestApp::sqlite().await;
    let first = app.get("/healthz").await;
    let second = app.get("/healthz").await;
    let id = first.headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 16);
    assert_ne!(id, second.headers["x-request-id"].to_str().unwrap());
    let given = app
        .send(
            Request::get("/api/v1/incidents")
                .header("x-request-id", "lb-7f3a.42")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(given.headers["x-request-id"], "lb-7f3a.42");
    let hostile = app
        .send(
            Request::get("/healthz")
                .header("x-request-id", "a b<script>")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_ne!(hostile.headers["x-request-id"], "a b<script>");
}
