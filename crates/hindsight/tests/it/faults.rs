//! Clients that misbehave and stops under load, against the real binary: a head sent byte by
//! byte, a body that trickles, one connection too many, SIGTERM while a body is still coming,
//! and a refused change whose body was never read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::Server;

/// A server whose limits are short enough for a test to meet them.
fn server(folder: &std::path::Path, limits: &str) -> Server {
    let config = folder.join("hindsight.toml");
    std::fs::write(&config, format!("[server]\n{limits}")).unwrap();
    Server::start(
        folder,
        "sqlite://hindsight.db",
        &["--no-jobs", "--config", config.to_str().unwrap()],
    )
}

/// Reads what the server sends until it closes the connection, or `limit` passes.
fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let started = Instant::now();
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while started.elapsed() < limit {
        match stream.read(&mut buffer) {
            Ok(0) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(read) => seen.extend_from_slice(&buffer[..read]),
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), true),
        }
    }
    (String::from_utf8_lossy(&seen).into_owned(), false)
}

#[test]
fn a_request_head_sent_byte_by_byte_is_cut_at_the_header_timeout() {
    let folder = tempfile::tempdir().unwrap();
    let server = server(folder.path(), "header_timeout_seconds = 1\n");
    let mut stream = TcpStream::connect(server.address).unwrap();
    let started = Instant::now();
    let head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    // One byte every 100 ms: the head would take 4 s; the server stops listening after 1.
    let mut closed_after = None;
    for byte in head
        .iter()
        .chain(b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    {
        if stream.write_all(&[*byte]).is_err() {
            closed_after = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        stream.set_nonblocking(true).unwrap();
        let mut probe = [0u8; 512];
        let gone = matches!(stream.read(&mut probe), Ok(0) | Ok(_));
        stream.set_nonblocking(false).unwrap();
        if gone {
            closed_after = Some(started.elapsed());
            break;
        }
    }
    let closed_after = closed_after.expect("the server closed the slow connection");
    assert!(
        closed_after < Duration::from_secs(4),
        "closed after {closed_after:?}, before the head was complete"
    );
}

#[test]
fn a_body_that_pauses_or_trickles_too_long_is_answered_408_and_the_connection_closes() {
    let folder = tempfile::tempdir().unwrap();
    let server = server(
        folder.path(),
        "body_idle_timeout_seconds = 1\nbody_timeout_seconds = 3\n",
    );
    let head = |length: usize| {
        format!(
            "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n",
            server.token
        )
    };
    // A pause longer than the idle limit.
    let mut paused = TcpStream::connect(server.address).unwrap();
    paused.write_all(head(100).as_bytes()).unwrap();
    paused.write_all(b"{\"title\": ").unwrap();
    let (answer, closed) = read_until_closed(&mut paused, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
    assert!(closed, "the connection closes after the 408");
    // A steady trickle, each pause within the idle limit, that takes longer than the total.
    let mut trickle = TcpStream::connect(server.address).unwrap();
    trickle.write_all(head(100).as_bytes()).unwrap();
    let started = Instant::now();
    let mut answered = String::new();
    while started.elapsed() < Duration::from_secs(8) {
        if trickle.write_all(b" ").is_err() {
            break;
        }
        let (seen, closed) = read_until_closed(&mut trickle, Duration::from_millis(400));
        answered.push_str(&seen);
        if closed || !seen.is_empty() {
            break;
        }
    }
    assert!(answered.starts_with("HTTP/1.1 408"), "{answered}");
    assert!(started.elapsed() < Duration::from_secs(6));
    // Nothing was stored, and the server serves others as before.
    let (status, list) = server.request("GET", "/api/v1/incidents", None);
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
}

#[test]
fn one_connection_over_the_limit_is_answered_503_and_closed() {
    let folder = tempfile::tempdir().unwrap();
    let server = server(folder.path(), "max_connections = 2\n");
    // Two keep-alive connections, each answered once: both are held by the server now.
    let held = || {
        let mut stream = TcpStream::connect(server.address).unwrap();
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut answer = [0u8; 512];
        let read = stream.read(&mut answer).unwrap();
        assert!(answer[..read].starts_with(b"HTTP/1.1 200"));
        stream
    };
    let _first = held();
    let _second = held();
    let mut third = TcpStream::connect(server.address).unwrap();
    let _ = third.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    let (answer, closed) = read_until_closed(&mut third, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 1"),
        "{answer}"
    );
    assert!(closed);
    drop(_first);
    drop(_second);
    // The server notices the closed connections as soon as it reads from them.
    let started = Instant::now();
    let mut status = 0;
    while status != 200 && started.elapsed() < Duration::from_secs(5) {
        status = crate::support::http(server.address, "GET", "/healthz", None, "text/plain").0;
    }
    assert_eq!(status, 200, "a freed connection is served again");
}

#[test]
fn sigterm_while_a_body_is_still_coming_exits_within_the_grace_period() {
    let folder = tempfile::tempdir().unwrap();
    let mut server = server(
        folder.path(),
        "shutdown_grace_seconds = 2\nbody_idle_timeout_seconds = 60\nbody_timeout_seconds = 600\n",
    );
    let mut slow = TcpStream::connect(server.address).unwrap();
    slow.write_all(
        format!(
            "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
             Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{{",
            server.token
        )
        .as_bytes(),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let took = server
        .terminate(Duration::from_secs(10))
        .expect("the server exits although a client is still sending");
    assert!(took < Duration::from_secs(5), "it took {took:?}");
}

#[test]
fn a_refused_change_whose_body_was_not_read_says_connection_close() {
    let folder = tempfile::tempdir().unwrap();
    let server = server(folder.path(), "");
    let mut stream = TcpStream::connect(server.address).unwrap();
    let body = "{\"title\": \"x\"}";
    stream
        .write_all(
            format!(
                "POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer hs_wrong\r\n\
                 Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
        .unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("connection: close"),
        "{answer}"
    );
}

/// One request over a fresh connection; the whole answer, head and body, as text.
fn raw(server: &Server, method: &str, path: &str, body: Option<&str>) -> String {
    let mut stream = TcpStream::connect(server.address).unwrap();
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        server.token,
        body.len()
    )
    .unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(30));
    answer
}

/// A small filesystem of its own, mounted for the test when it runs as root; unmounted after.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(path).unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        if !mounted {
            eprintln!("skipped: mounting a small filesystem needs root");
            return None;
        }
        Some(Self(path.to_owned()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

#[test]
fn a_full_disk_answers_507_turns_readiness_off_and_keeps_every_acknowledged_write() {
    let folder = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(&folder.path().join("disk"), "2m") else {
        return;
    };
    let database = format!("sqlite://{}/hindsight.db", disk.0.display());
    let server = Server::start(folder.path(), &database, &["--no-jobs"]);
    let summary = "The queue grew while the consumers waited on a lock. ".repeat(350);
    let mut acknowledged = Vec::new();
    let mut refusal = None;
    for number in 0..400 {
        let body = serde_json::json!({
            "title": format!("Incident {number}"), "severity": "SEV3",
            "started_at": "2026-11-20T10:00:00Z", "summary": summary,
        })
        .to_string();
        let answer = raw(&server, "POST", "/api/v1/incidents", Some(&body));
        if answer.starts_with("HTTP/1.1 201") {
            let json = &answer[answer.find("\r\n\r\n").unwrap() + 4..];
            let id = serde_json::from_str::<serde_json::Value>(json).unwrap()["id"]
                .as_i64()
                .unwrap();
            acknowledged.push(id);
        } else {
            refusal = Some(answer);
            break;
        }
    }
    let refusal = refusal.expect("the disk filled up");
    assert!(refusal.starts_with("HTTP/1.1 507"), "{refusal}");
    assert!(refusal.contains("insufficient_storage"), "{refusal}");
    assert!(refusal.contains("the server's disk is full"), "{refusal}");
    assert!(
        refusal.to_ascii_lowercase().contains("retry-after: 60"),
        "{refusal}"
    );
    assert!(
        acknowledged.len() > 5,
        "{} writes before the disk was full",
        acknowledged.len()
    );
    let ready = raw(&server, "GET", "/readyz", None);
    assert!(
        ready.starts_with("HTTP/1.1 503"),
        "readiness tells: {ready}"
    );
    for id in &acknowledged {
        let answer = raw(&server, "GET", &format!("/api/v1/incidents/{id}"), None);
        assert!(
            answer.starts_with("HTTP/1.1 200"),
            "incident {id}: {answer}"
        );
    }
}

#[test]
fn a_database_locked_by_another_process_answers_503_with_retry_after() {
    let folder = tempfile::tempdir().unwrap();
    let server = server(folder.path(), "");
    let path = folder.path().join("hindsight.db");
    // Another process takes the write lock and holds it past the 5 s busy timeout.
    let mut holder = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import sqlite3, sys, time\n\
             c = sqlite3.connect(sys.argv[1], isolation_level=None)\n\
             c.execute('begin exclusive')\n\
             print('locked', flush=True)\n\
             time.sleep(8)\n",
        )
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(holder.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert_eq!(line.trim(), "locked");
    let body =
        r#"{"title": "During the lock", "severity": "SEV3", "started_at": "2026-11-20T10:00:00Z"}"#;
    let answer = raw(&server, "POST", "/api/v1/incidents", Some(body));
    let _ = holder.kill();
    let _ = holder.wait();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.contains("\"unavailable\"") && answer.contains("locked by another process"),
        "{answer}"
    );
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );
    // Once the lock is gone, the same write goes through.
    let ready = raw(&server, "GET", "/readyz", None);
    assert!(
        ready.starts_with("HTTP/1.1 503"),
        "not ready after the failed write: {ready}"
    );
    let again = raw(&server, "POST", "/api/v1/incidents", Some(body));
    assert!(again.starts_with("HTTP/1.1 201"), "{again}");
    let ready = raw(&server, "GET", "/readyz", None);
    assert!(
        ready.starts_with("HTTP/1.1 200"),
        "ready once a write went through: {ready}"
    );
}

#[test]
fn a_postgres_that_cannot_be_reached_at_start_is_waited_for_then_named_with_its_cause() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("hindsight.toml"),
        "[server]\ndatabase_wait_seconds = 2\n",
    )
    .unwrap();
    // Nothing listens on a port just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let started = Instant::now();
    let output = crate::support::hindsight()
        .args(["serve", "--config", "hindsight.toml", "--database-url"])
        .arg(format!("postgres://postgres@127.0.0.1:{port}/hindsight"))
        .current_dir(folder.path())
        .env("HINDSIGHT_LOG", "warn")
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    assert!(stderr.contains("waiting for the database"), "{stderr}");
    assert!(
        stderr.contains("could not be reached for 2 s") && stderr.contains("Connection refused"),
        "the cause is named: {stderr}"
    );
    assert_eq!(stderr.matches("database error:").count(), 0, "{stderr}");
}
