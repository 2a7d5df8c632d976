//! Real local receivers for the worker's tests: an HTTP sink that records what it receives and
//! answers from a script, and Python's aiosmtpd as the SMTP server.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// One request the sink received.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: serde_json::Value,
}

#[derive(Default)]
struct SinkState {
    received: Vec<Received>,
    /// Per path, the statuses to answer in turn (then 200): `429:120` answers 429 with
    /// `Retry-After: 120`.
    script: HashMap<String, Vec<String>>,
}

#[derive(Clone)]
pub struct Sink {
    pub address: SocketAddr,
    state: Arc<Mutex<SinkState>>,
}

impl Sink {
    pub async fn start() -> Self {
        let state = Arc::new(Mutex::new(SinkState::default()));
        let app = axum::Router::new()
            .route("/{path}", axum::routing::post(receive))
            .with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { address, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.address)
    }

    pub fn script(&self, path: &str, answers: &[&str]) {
        self.state.lock().unwrap().script.insert(
            path.to_owned(),
            answers.iter().map(|answer| (*answer).to_owned()).collect(),
        );
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        self.state
            .lock()
            .unwrap()
            .received
            .iter()
            .filter(|request| request.path == path)
            .cloned()
            .collect()
    }
}

async fn receive(
    State(state): State<Arc<Mutex<SinkState>>>,
    Path(path): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut state = state.lock().unwrap();
    state.received.push(Received {
        path: path.clone(),
        headers: headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    value.to_str().unwrap_or("").to_owned(),
                )
            })
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    });
    let answer = state
        .script
        .get_mut(&path)
        .and_then(|answers| (!answers.is_empty()).then(|| answers.remove(0)));
    match answer.as_deref().map(|answer| answer.split_once(':')) {
        None => StatusCode::OK.into_response(),
        Some(Some((status, retry_after))) => (
            StatusCode::from_u16(status.parse().unwrap()).unwrap(),
            [("retry-after", retry_after.to_owned())],
        )
            .into_response(),
        Some(None) => StatusCode::from_u16(answer.unwrap().parse().unwrap())
            .unwrap()
            .into_response(),
    }
}

/// aiosmtpd writing every message it accepts into a maildir.
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    maildir: tempfile::TempDir,
}

impl SmtpServer {
    /// `None` (after saying so) when Python's aiosmtpd is not installed and the environment
    /// does not require it (`HINDSIGHT_REQUIRE_SMTP=1`, as CI sets).
    pub async fn start() -> Option<Self> {
        let available = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !available {
            if std::env::var("HINDSIGHT_REQUIRE_SMTP").is_ok_and(|value| value == "1") {
                panic!("aiosmtpd is required (pip install aiosmtpd)");
            }
            eprintln!("skipped: Python's aiosmtpd is not installed (pip install aiosmtpd)");
            return None;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let maildir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir.path().join("mail"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Some(Self {
                    port,
                    child,
                    maildir,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start listening on port {port}");
    }

    /// The worker's settings for sending here, from `from`.
    pub fn settings(&self, from: &str) -> hindsight_jobs::SmtpSettings {
        hindsight_jobs::SmtpSettings {
            host: "127.0.0.1".into(),
            port: self.port,
            tls: hindsight_jobs::SmtpTls::None,
            username: None,
            password: None,
            from: from.into(),
        }
    }

    /// Every message received, as raw text.
    pub fn messages(&self) -> Vec<String> {
        let folder: PathBuf = self.maildir.path().join("mail").join("new");
        let mut messages: Vec<String> = std::fs::read_dir(folder)
            .map(|entries| {
                entries
                    .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
                    .collect()
            })
            .unwrap_or_default();
        messages.sort();
        messages
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What Python's `icalendar` (PyPI) reads in an invite, or in the calendar part of an email
/// with `--email`: `scripts/check_ics.py`. `None` (after saying so) when the package is not
/// installed and the environment does not require it (`HINDSIGHT_REQUIRE_ICALENDAR=1`).
pub fn icalendar(input: &[u8], args: &[&str]) -> Option<serde_json::Value> {
    let available = Command::new("python3")
        .args(["-c", "import icalendar"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !available {
        if std::env::var("HINDSIGHT_REQUIRE_ICALENDAR").is_ok_and(|value| value == "1") {
            panic!("Python's icalendar is required (pip install icalendar)");
        }
        eprintln!("skipped: Python's icalendar is not installed (pip install icalendar)");
        return None;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/check_ics.py");
    let mut child = Command::new("python3")
        .arg(script)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(input).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "icalendar refused the invite: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}
