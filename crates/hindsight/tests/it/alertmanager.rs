//! The real thing: Debian's `prometheus-alertmanager`, configured with a webhook receiver that
//! points at a real Hindsight on loopback, fires an alert and resolves it. The incident and
//! its events appear, once, however often Alertmanager repeats itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, free_port, http, http_with};

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

/// Reads Alertmanager's log until it says it listens, so the test sends nothing earlier.
fn wait_until_listening(child: &mut Child) {
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        if line.expect("readable log").contains("msg=\"Listening on\"") {
            // Keep draining, so Alertmanager never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return;
        }
    }
    panic!("Alertmanager ended before listening");
}

/// A relay between Alertmanager and Hindsight that records each delivery's body after
/// Hindsight answered it, so the test waits for deliveries instead of polling.
fn relay(hindsight: SocketAddr) -> (SocketAddr, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let (mut head, mut length) = (String::new(), 0usize);
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
                head.push_str(&line);
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue;
            }
            let body = String::from_utf8_lossy(&body).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let authorization = head
                .lines()
                .find_map(|line| line.strip_prefix("Authorization: "))
                .map(str::trim);
            let (status, answer) = http_with(
                hindsight,
                "POST",
                &path,
                Some(&body),
                "application/json",
                authorization,
            );
            let mut stream = reader.into_inner();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
            if sender.send(body).is_err() {
                return;
            }
        }
    });
    (address, receiver)
}

/// The next delivery whose body contains `marker`; Alertmanager sends within seconds.
fn next_delivery(deliveries: &mpsc::Receiver<String>, marker: &str) -> String {
    loop {
        let body = deliveries
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no delivery with {marker:?} within 30 s"));
        if body.contains(marker) {
            return body;
        }
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
    let (relay_address, deliveries) = relay(server.address);
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
      - url: 'http://{relay_address}/api/v1/intake/alertmanager'
        send_resolved: true
        http_config:
          authorization:
            credentials: '{TOKEN}'
"#
    );
    let am_config = folder.path().join("alertmanager.yml");
    std::fs::write(&am_config, receiver).unwrap();
    let data = folder.path().join("alertmanager-data");
    let mut alertmanager = Alertmanager(
        Command::new(binary)
            .arg(format!("--config.file={}", am_config.display()))
            .arg(format!("--storage.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("alertmanager starts"),
    );
    wait_until_listening(&mut alertmanager.0);
    let am: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();

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
    next_delivery(&deliveries, "\"status\":\"firing\"");
    let incident = incidents(&server).into_iter().next().expect("the incident");
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
    next_delivery(&deliveries, "\"status\":\"resolved\"");
    // Alertmanager may deliver the group again; take what it sends within 3 s, then count: one
    // incident, each event once.
    while deliveries.recv_timeout(Duration::from_secs(3)).is_ok() {}
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
