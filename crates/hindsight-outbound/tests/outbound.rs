//! The outbound client against real HTTP servers on loopback, which record what reaches them.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hindsight_outbound::{OutboundClient, OutboundError, OutboundPolicy};
use reqwest::Method;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A server on `ip` that answers every request with `answer` and records each request line.
async fn sink(ip: &str, answer: String) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind((ip, 0)).await.unwrap();
    let address = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buffer = vec![0u8; 8192];
            let read = stream.read(&mut buffer).await.unwrap_or(0);
            let head = String::from_utf8_lossy(&buffer[..read]).into_owned();
            record
                .lock()
                .unwrap()
                .push(head.lines().next().unwrap_or_default().to_owned());
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    (address, seen)
}

fn ok() -> String {
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok".to_owned()
}

fn redirect_to(location: &str) -> String {
    format!(
        "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
}

fn client(allow: &[&str]) -> OutboundClient {
    let policy = OutboundPolicy {
        allow: allow.iter().map(|range| range.parse().unwrap()).collect(),
    };
    OutboundClient::new(policy, Duration::from_secs(5)).unwrap()
}

async fn get(client: &OutboundClient, url: &str) -> Result<u16, String> {
    let request = client
        .request(Method::GET, url)
        .map_err(|error| error.to_string())?;
    match client.send(request).await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(OutboundError::Request(error)) => {
            // reqwest wraps the resolver's and the redirect policy's words; show them all.
            let mut message = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(cause) = source {
                message.push_str(": ");
                message.push_str(&cause.to_string());
                source = cause.source();
            }
            Err(message)
        }
        Err(error) => Err(error.to_string()),
    }
}

#[tokio::test]
async fn a_loopback_address_is_refused_unless_allow_listed_and_nothing_reaches_it() {
    let (address, seen) = sink("127.0.0.1", ok()).await;
    let url = format!("http://{address}/hook");
    let refused = get(&client(&[]), &url).await.unwrap_err();
    assert!(
        refused.contains("127.0.0.1 is an internal address"),
        "{refused}"
    );
    assert!(seen.lock().unwrap().is_empty());
    assert_eq!(get(&client(&["127.0.0.1/32"]), &url).await, Ok(200));
    assert_eq!(seen.lock().unwrap().as_slice(), ["GET /hook HTTP/1.1"]);
}

#[tokio::test]
async fn a_name_that_resolves_inside_is_refused_after_resolution() {
    let (address, seen) = sink("127.0.0.1", ok()).await;
    let client = client(&[]);
    let request = client
        .request(
            Method::GET,
            &format!("http://localhost:{}/", address.port()),
        )
        .unwrap();
    let refused = match client.send(request).await {
        // A refusal, which a sender records at once, not a network error it would retry.
        Err(OutboundError::Refused(reason)) => reason,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert!(
        refused.contains("localhost resolves to an internal address"),
        "{refused}"
    );
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_redirect_into_the_network_is_refused() {
    let (inner, inner_seen) = sink("127.0.0.2", ok()).await;
    let (outer, _) = sink(
        "127.0.0.1",
        redirect_to(&format!("http://{inner}/metadata")),
    )
    .await;
    let refused = get(&client(&["127.0.0.1/32"]), &format!("http://{outer}/"))
        .await
        .unwrap_err();
    assert!(
        refused.contains("redirect refused: 127.0.0.2 is an internal address"),
        "{refused}"
    );
    assert!(inner_seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn metadata_mapped_and_odd_urls_are_refused_before_any_connection() {
    let client = client(&[]);
    for (url, expected) in [
        (
            "http://169.254.169.254/latest/meta-data/",
            "169.254.169.254 is an internal address",
        ),
        (
            "http://[::ffff:127.0.0.1]:9/",
            "::ffff:127.0.0.1 is an internal address",
        ),
        ("http://[::1]:9/", "::1 is an internal address"),
        ("http://0.0.0.0:9/", "0.0.0.0 is an internal address"),
        (
            "file:///etc/passwd",
            "only http and https URLs may be called",
        ),
        (
            "gopher://example.com/",
            "only http and https URLs may be called",
        ),
        ("not a url", "is not a URL"),
    ] {
        let refused = get(&client, url).await.unwrap_err();
        assert!(refused.contains(expected), "{url}: {refused}");
    }
}
