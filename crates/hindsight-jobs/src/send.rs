//! Sending one delivery: Slack incoming webhooks, signed generic webhooks and email over SMTP.
//! HTTP goes through the outbound client, which refuses internal addresses (and redirects into
//! them) unless allow-listed.

use std::sync::Arc;
use std::time::Duration;

use hindsight_store::{DeliveryTask, channel_of, event_id};
use hmac::{Hmac, Mac};
pub use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::message::{MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use rand_core::RngCore;
use sha2::Sha256;

use crate::settings::{ChannelKind, JobSettings, SmtpTls};

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("the SMTP settings are not usable: {0}")]
    Smtp(String),
}

/// Why a send did not get through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// 410 Gone: the endpoint is no more; its channel is disabled.
    #[error("410 Gone: the endpoint is no more; its channel is disabled")]
    Gone,
    /// 429: try again when the receiver said, in seconds.
    #[error("429 Too Many Requests")]
    RateLimited { retry_after: Option<u64> },
    /// Trying again will not help (an internal address, a bad address, no such channel).
    #[error("{0}")]
    Permanent(String),
    #[error("{0}")]
    Transient(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub http_status: Option<u16>,
    pub failure: Option<Failure>,
}

impl SendResult {
    fn failed(failure: Failure) -> Self {
        Self {
            http_status: None,
            failure: Some(failure),
        }
    }
}

/// A number in 0..1 for backoff jitter.
pub fn jitter() -> f64 {
    f64::from(rand_core::OsRng.next_u32()) / f64::from(u32::MAX)
}

/// `t=<unix seconds>,v1=<hex>` with one `v1` per secret, each an HMAC-SHA256 of
/// `"<t>.<body>"`: receivers check any `v1` against their secret and refuse an old `t`.
pub fn signature(secrets: &[String], timestamp: i64, body: &[u8]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        header.push_str(",v1=");
        header.push_str(&hex::encode(digest));
    }
    header
}

/// The body a generic webhook receives.
pub fn webhook_body(task: &DeliveryTask, public_url: &str) -> serde_json::Value {
    let notification = &task.notification;
    let message = &notification.message;
    serde_json::json!({
        "id": event_id(notification.id),
        "type": notification.kind,
        "created_at": notification.created_at,
        "subject": message.subject,
        "text": message.plain_text(public_url),
        "link": message.link.as_ref().map(|link| format!("{}{link}", public_url.trim_end_matches('/'))),
        "data": message.data,
    })
}

#[derive(Clone)]
pub struct Sender {
    settings: Arc<JobSettings>,
    outbound: hindsight_outbound::OutboundClient,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
}

impl Sender {
    pub fn new(
        settings: Arc<JobSettings>,
        outbound: hindsight_outbound::OutboundClient,
    ) -> Result<Self, SendError> {
        let smtp = match &settings.smtp {
            None => None,
            Some(smtp) => {
                let builder = match smtp.tls {
                    SmtpTls::None => {
                        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host)
                    }
                    SmtpTls::StartTls => {
                        AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                            .map_err(|error| SendError::Smtp(error.to_string()))?
                    }
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
                        .map_err(|error| SendError::Smtp(error.to_string()))?,
                };
                let mut builder = builder.port(smtp.port).timeout(Some(SMTP_TIMEOUT));
                if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
                    builder =
                        builder.credentials(Credentials::new(username.clone(), password.clone()));
                }
                smtp.from
                    .parse::<Mailbox>()
                    .map_err(|error| SendError::Smtp(format!("`from`: {error}")))?;
                Some(builder.build())
            }
        };
        Ok(Self {
            settings,
            outbound,
            smtp,
        })
    }

    pub async fn deliver(&self, task: &DeliveryTask) -> SendResult {
        if let Some(address) = task.target.strip_prefix("email:") {
            return self.email(task, &[address.to_owned()]).await;
        }
        let Some(channel) = channel_of(&task.target)
            .and_then(|name| self.settings.channels.iter().find(|c| c.name == name))
        else {
            return SendResult::failed(Failure::Permanent(format!(
                "no channel `{}` is configured any more",
                task.target
            )));
        };
        let public_url = &self.settings.public_url;
        match &channel.kind {
            ChannelKind::Slack { url } => {
                let body = task.notification.message.slack(public_url);
                self.post(url, body.to_string().into_bytes(), Vec::new())
                    .await
            }
            ChannelKind::Webhook { url, secrets } => {
                let body = webhook_body(task, public_url).to_string().into_bytes();
                let now = jiff::Timestamp::now().as_second();
                let headers = vec![
                    ("Hindsight-Event-Id", event_id(task.notification.id)),
                    (
                        "Hindsight-Event-Type",
                        task.notification.kind.as_str().to_owned(),
                    ),
                    ("Hindsight-Signature", signature(secrets, now, &body)),
                ];
                self.post(url, body, headers).await
            }
            ChannelKind::Email { to } => self.email(task, to).await,
        }
    }

    async fn post(
        &self,
        url: &str,
        body: Vec<u8>,
        headers: Vec<(&'static str, String)>,
    ) -> SendResult {
        let request = match self.outbound.request(reqwest::Method::POST, url) {
            Ok(request) => request,
            Err(error) => return SendResult::failed(Failure::Permanent(error.to_string())),
        };
        let mut request = request
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let response = match self.outbound.send(request).await {
            Ok(response) => response,
            Err(hindsight_outbound::OutboundError::Refused(reason)) => {
                return SendResult::failed(Failure::Permanent(reason));
            }
            Err(error) => return SendResult::failed(Failure::Transient(error.to_string())),
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let failure = match status.as_u16() {
            200..=299 => None,
            410 => Some(Failure::Gone),
            429 => Some(Failure::RateLimited { retry_after }),
            code => {
                let text = response.text().await.unwrap_or_default();
                let text: String = text.chars().take(200).collect();
                Some(Failure::Transient(format!("HTTP {code}: {text}")))
            }
        };
        SendResult {
            http_status: Some(status.as_u16()),
            failure,
        }
    }

    async fn email(&self, task: &DeliveryTask, to: &[String]) -> SendResult {
        let (Some(transport), Some(smtp)) = (&self.smtp, &self.settings.smtp) else {
            return SendResult::failed(Failure::Permanent(
                "email is not configured: add an [smtp] table".into(),
            ));
        };
        let message = &task.notification.message;
        let public_url = &self.settings.public_url;
        let mut builder = lettre::Message::builder()
            .from(
                smtp.from
                    .parse()
                    .expect("checked when the sender was built"),
            )
            .subject(message.subject.clone())
            .message_id(Some(format!(
                "<{}.{}@hindsight>",
                event_id(task.notification.id),
                task.id
            )));
        for address in to {
            match address.parse::<Mailbox>() {
                Ok(mailbox) => builder = builder.to(mailbox),
                Err(error) => {
                    return SendResult::failed(Failure::Permanent(format!(
                        "`{address}` is not an email address: {error}"
                    )));
                }
            }
        }
        let body = MultiPart::alternative_plain_html(
            message.plain_text(public_url),
            message.html(public_url),
        );
        // An invite is a third alternative, `text/calendar; method=REQUEST` (or CANCEL), which
        // mail clients show as a meeting to accept (RFC 6047).
        let body = match &message.calendar {
            None => body,
            Some(calendar) => {
                let content_type = ContentType::parse(&format!(
                    "text/calendar; method={}; charset=utf-8",
                    calendar.method
                ));
                match content_type {
                    Ok(content_type) => body.singlepart(
                        SinglePart::builder()
                            .header(content_type)
                            .body(calendar.ics.clone()),
                    ),
                    Err(error) => {
                        return SendResult::failed(Failure::Permanent(format!(
                            "the invite's method `{}` is not usable: {error}",
                            calendar.method
                        )));
                    }
                }
            }
        };
        let email = match builder.multipart(body) {
            Ok(email) => email,
            Err(error) => return SendResult::failed(Failure::Permanent(error.to_string())),
        };
        match transport.send(email).await {
            Ok(_) => SendResult {
                http_status: None,
                failure: None,
            },
            Err(error) if error.is_permanent() => {
                SendResult::failed(Failure::Permanent(format!("SMTP: {error}")))
            }
            Err(error) => SendResult::failed(Failure::Transient(format!("SMTP: {error}"))),
        }
    }
}

/// `Retry-After` in seconds; an HTTP date is read as seconds from now.
fn parse_retry_after(value: &str) -> Option<u64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(seconds);
    }
    let at = jiff::fmt::rfc2822::parse(value).ok()?;
    let seconds = at.timestamp().as_second() - jiff::Timestamp::now().as_second();
    Some(seconds.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_carries_one_value_per_secret_over_the_timestamp_and_body() {
        let header = signature(
            &["first-secret-0123".into(), "second-secret-456".into()],
            1_700_000_000,
            b"{}",
        );
        let parts: Vec<&str> = header.split(',').collect();
        assert_eq!(parts[0], "t=1700000000");
        assert_eq!(parts.len(), 3);
        let mut mac = Hmac::<Sha256>::new_from_slice(b"first-secret-0123").unwrap();
        mac.update(b"1700000000.{}");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(parts[1], format!("v1={expected}"));
        assert_ne!(parts[1], parts[2]);
    }

    #[test]
    fn retry_after_is_read_in_seconds() {
        assert_eq!(parse_retry_after("120"), Some(120));
        assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
