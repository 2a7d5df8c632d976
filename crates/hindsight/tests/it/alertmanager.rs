//! The real thing: Debian's `prometheus-alertmanager`, configured with a webhook receiver that
//! points at a real Hindsight on loopback, fires an alert and resolves it. The incident and
//! its events appear, once, however often Alertmanager repeats itself.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::{Server, free_port, http};

const REQUIRE_ENV: &str = "HINDSIGHT_REQUIRE_ALERTMANAGER";
const TOKEN: &str = "a-long-token-for-alertmanager";

struct Alertmanager(Child);

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn binary() -> Option<PathBuf> {
    let path = PathBuf::from(
        std::env::var("HINDSIGHT_ALERTMANAGER")
            .unwrap_or_else(|_| "/usr/bin/prometheus-alertmanager".into()),
    );
    if path.exists() {
        return Some(path);
    }
    if std::env::var(REQUIRE_ENV).is_ok_and(|value| value == "1") {
        panic!("{REQUIRE_ENV}=1 but {} is not installed", path.display());
    }
    eprintln!("skipped: apt-get install prometheus-alertmanager to run the Alertmanager test");
    None
}

/// Polls `check` every 100 ms until it answers `Some`, for at most `limit`.
fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_real_alertmanager_opens_an_incident_and_resolves_it_exactly_once() {
    let Some(binary) = binary() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let config = folder.path().join("hindsight.toml");
    std::fs::write(
        &config,
        format!("[intake.alertmanager]\ntoken = \"{TOKEN}\"\n"),
    )
    .unwrap();
    let server = Server::start(
        folder.path(),
        "hindsight.db",
        &["--config", config.to_str().unwrap()],
    );

    let port = free_port();
    let receiver = format!(
        r#"route:
  receiver: hindsight
  group_by: ['alertname', 'service']
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hindsight
    webhook_configs:
      - url: '{}'
        send_resolved: true
        http_config:
          authorization:
            credentials: '{TOKEN}'
"#,
        server.url("/api/v1/intake/alertmanager")
    );
    let am_config = folder.path().join("alertmanager.yml");
    std::fs::write(&am_config, receiver).unwrap();
    let data = folder.path().join("alertmanager-data");
    let _alertmanager = Alertmanager(
        Command::new(binary)
            .arg(format!("--config.file={}", am_config.display()))
            .arg(format!("--storage.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("alertmanager starts"),
    );
    let am: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    wait_for("Alertmanager to be ready", Duration::from_secs(30), || {
        std::net::TcpStream::connect(am).ok()?;
        (http(am, "GET", "/-/ready", None, "text/plain").0 == 200).then_some(())
    });

    let started = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(30);
    let mut alert = json!([{
        "labels": {"alertname": "CheckoutDown", "service": "checkout", "severity": "critical"},
        "annotations": {"summary": "Checkout answers 5xx"},
        "startsAt": started.to_string(),
        "generatorURL": "http://prometheus.local/graph?g0.expr=up"
    }]);
    let (status, _) = http(
        am,
        "POST",
        "/api/v2/alerts",
        Some(&alert.to_string()),
        "application/json",
    );
    assert_eq!(status, 200);

    let incidents = |server: &Server| -> Vec<Value> {
        let (_, list) = server.request("GET", "/api/v1/incidents", None);
        list["items"].as_array().cloned().unwrap_or_default()
    };
    let incident = wait_for("the incident", Duration::from_secs(30), || {
        incidents(&server).into_iter().next()
    });
    assert_eq!(incident["title"], "CheckoutDown: Checkout answers 5xx");
    assert_eq!(incident["detection"], "monitoring");
    assert_eq!(incident["severity"], "SEV1");
    let id = incident["id"].clone();

    alert[0]["endsAt"] = json!(jiff::Timestamp::now().to_string());
    let (status, _) = http(
        am,
        "POST",
        "/api/v2/alerts",
        Some(&alert.to_string()),
        "application/json",
    );
    assert_eq!(status, 200);
    let timeline = |server: &Server| -> Vec<Value> {
        let (_, timeline) =
            server.request("GET", &format!("/api/v1/incidents/{id}/timeline"), None);
        timeline["events"].as_array().cloned().unwrap_or_default()
    };
    wait_for("the resolution", Duration::from_secs(30), || {
        timeline(&server)
            .iter()
            .any(|event| event["kind"] == "resolved" && event["source"] == "alert")
            .then_some(())
    });
    // Alertmanager flushes the group again every group_interval; let it repeat itself, then
    // count: one incident, each event once.
    let repeated_until = Instant::now() + Duration::from_secs(3);
    wait_for("Alertmanager's repeats", Duration::from_secs(5), || {
        (Instant::now() >= repeated_until).then_some(())
    });
    assert_eq!(incidents(&server).len(), 1);
    let alert_events: Vec<String> = timeline(&server)
        .iter()
        .filter(|event| event["source"] == "alert")
        .map(|event| event["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(alert_events, ["alerted", "note", "resolved"]);
    let (_, incident) = server.request("GET", &format!("/api/v1/incidents/{id}"), None);
    assert!(incident["resolved_at"].is_string(), "{incident}");
}
