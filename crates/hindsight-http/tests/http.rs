//! The API and pages through the real router and a real database, as clients use them.

use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use hindsight_domain::FixedClock;
use hindsight_http::metrics::Metrics;
use hindsight_http::{AppParts, AppState, Limits, app};
use hindsight_store::testing::TestDatabase;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

struct TestApp {
    router: Router,
    database: TestDatabase,
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
        let state = AppState::from_parts(AppParts {
            store: database.store(),
            clock: Arc::new(FixedClock::new("2026-11-21T12:00:00Z".parse().unwrap())),
            metrics: Metrics::default(),
            limits: Limits {
                max_body_bytes: 64 * 1024,
            },
        });
        Self {
            router: app(state),
            database,
        }
    }

    async fn sqlite() -> Self {
        Self::on(TestDatabase::sqlite().await).await
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
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
    assert_eq!(read.json(), body);
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
    assert_eq!(app.count().await, 0);
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
    assert_eq!(app.get(&uri).await.json(), patched);
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
    assert_eq!(app.get(&uri).await.json(), created);
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

on_both_backends!(
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
);

#[tokio::test]
async fn the_openapi_document_describes_every_api_route() {
    let app = TestApp::sqlite().await;
    let document = app.get("/api/openapi.json").await.json();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
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
        .get_incident(id.to_string().parse().unwrap())
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
