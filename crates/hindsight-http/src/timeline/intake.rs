//! `POST /api/v1/intake/{source}`: alerts from Alertmanager, Grafana, PagerDuty and Opsgenie.
//!
//! The gate lets these requests through without a Hindsight session or token; each source is
//! authenticated here, by what its sender can send: a bearer token or basic auth (Alertmanager,
//! Opsgenie, Grafana), or an HMAC-SHA256 signature of the raw body (PagerDuty, Grafana),
//! compared in constant time, several secrets accepted while one is rotated. A source with no
//! credentials configured is not open at all. Nothing is stored before the credential checks.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use hindsight_domain::intake::{self, IntakeMapping, Reading};
use hindsight_store::{AlertIntake, IntakeOutcome};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;

/// The largest delivery taken; senders stay far below it.
pub const MAX_INTAKE_BYTES: usize = 1024 * 1024;

/// The sources Hindsight reads.
pub const SOURCES: [&str; 4] = ["alertmanager", "grafana", "pagerduty", "opsgenie"];

/// How one source authenticates. Secrets are kept as given; compare only through [`verify`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SourceCredentials {
    /// `Authorization: Bearer TOKEN`.
    pub token: Option<String>,
    /// `Authorization: Basic …`.
    pub username: Option<String>,
    pub password: Option<String>,
    /// HMAC-SHA256 secrets; any one of them signs validly (for rotation).
    pub secrets: Vec<String>,
    /// Grafana: the header carrying the hex signature.
    pub signature_header: Option<String>,
    /// Grafana: when set, the signature covers `TIMESTAMP:BODY` with this header's timestamp.
    pub timestamp_header: Option<String>,
}

impl SourceCredentials {
    fn is_empty(&self) -> bool {
        self.token.is_none() && self.username.is_none() && self.secrets.is_empty()
    }
}

/// `[intake]` of the configuration.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeSettings {
    pub mapping: IntakeMapping,
    pub alertmanager: Option<SourceCredentials>,
    pub grafana: Option<SourceCredentials>,
    pub pagerduty: Option<SourceCredentials>,
    pub opsgenie: Option<SourceCredentials>,
}

impl IntakeSettings {
    /// The source's table, as configured.
    fn table(&self, source: &str) -> Option<&SourceCredentials> {
        match source {
            "alertmanager" => self.alertmanager.as_ref(),
            "grafana" => self.grafana.as_ref(),
            "pagerduty" => self.pagerduty.as_ref(),
            "opsgenie" => self.opsgenie.as_ref(),
            _ => None,
        }
    }

    /// The credentials of an open source; `None` leaves it closed.
    fn credentials(&self, source: &str) -> Option<&SourceCredentials> {
        self.table(source)
            .filter(|credentials| !credentials.is_empty())
    }

    /// Refuses settings that would leave a source open or unusable.
    pub fn check(&self) -> Result<(), String> {
        for source in SOURCES {
            let Some(credentials) = self.table(source) else {
                continue;
            };
            if credentials.is_empty() {
                return Err(format!(
                    "[intake.{source}] needs a token, a username and password, or secrets"
                ));
            }
            if credentials.username.is_some() != credentials.password.is_some() {
                return Err(format!(
                    "[intake.{source}] needs both username and password"
                ));
            }
            if source == "pagerduty" && credentials.secrets.is_empty() {
                return Err(
                    "[intake.pagerduty] needs `secrets`: PagerDuty signs its webhooks".into(),
                );
            }
            if credentials
                .token
                .iter()
                .chain(&credentials.secrets)
                .chain(&credentials.password)
                .any(|secret| secret.len() < 16)
            {
                return Err(format!(
                    "[intake.{source}] secrets must be at least 16 characters long"
                ));
            }
        }
        Ok(())
    }
}

/// Equal in time whatever the inputs: both sides are hashed first, so neither their lengths
/// nor their first differing byte show.
fn same(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let (a, b) = (Sha256::digest(given), Sha256::digest(expected));
    a.ct_eq(&b).into()
}

fn hmac_hex_matches(secret: &str, message: &[&[u8]], signature_hex: &str) -> bool {
    let Some(signature) = decode_hex(signature_hex.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    for part in message {
        mac.update(part);
    }
    mac.verify_slice(&signature).is_ok()
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    // No signature Hindsight checks is longer; a longer one is not decoded at all.
    if text.len() > 256 {
        return None;
    }
    hex::decode(text).ok()
}

/// Whether the request carries a valid credential for the source.
pub fn verify(
    source: &str,
    credentials: &SourceCredentials,
    headers: &HeaderMap,
    body: &[u8],
) -> bool {
    let header_text = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(authorization) = header_text(header::AUTHORIZATION.as_str()) {
        if let (Some(token), Some(given)) =
            (&credentials.token, authorization.strip_prefix("Bearer "))
            && same(given.trim().as_bytes(), token.as_bytes())
        {
            return true;
        }
        if let (Some(username), Some(password), Some(given)) = (
            &credentials.username,
            &credentials.password,
            authorization.strip_prefix("Basic "),
        ) {
            let expected = format!("{username}:{password}");
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(given.trim())
                .unwrap_or_default();
            if same(&decoded, expected.as_bytes()) {
                return true;
            }
        }
    }
    if credentials.secrets.is_empty() {
        return false;
    }
    match source {
        // `X-PagerDuty-Signature: v1=HEX,v1=HEX` — one per active secret during rotation.
        "pagerduty" => header_text("x-pagerduty-signature").is_some_and(|signatures| {
            signatures
                .split(',')
                .filter_map(|s| s.trim().strip_prefix("v1="))
                .any(|signature| {
                    credentials
                        .secrets
                        .iter()
                        .any(|secret| hmac_hex_matches(secret, &[body], signature))
                })
        }),
        _ => {
            let name = credentials
                .signature_header
                .as_deref()
                .unwrap_or("x-grafana-alerting-signature");
            let Some(signature) = header_text(name) else {
                return false;
            };
            let timestamp = match &credentials.timestamp_header {
                Some(timestamp_header) => match header_text(timestamp_header) {
                    Some(timestamp) => Some(timestamp),
                    None => return false,
                },
                None => None,
            };
            credentials.secrets.iter().any(|secret| match timestamp {
                Some(timestamp) => {
                    hmac_hex_matches(secret, &[timestamp.as_bytes(), b":", body], signature)
                }
                None => hmac_hex_matches(secret, &[body], signature),
            })
        }
    }
}

/// What a delivery did.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeAnswer {
    /// `recorded`, `duplicate` (seen before; nothing added) or `ignored` (not an event
    /// Hindsight records).
    pub result: &'static str,
    pub incident_id: Option<i64>,
    pub opened: bool,
    pub events_added: usize,
    /// Why an ignored delivery was ignored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Receive an alert delivery. Authenticated per source (see the configuration's `[intake]`),
/// not with a Hindsight token. Idempotent: a delivery seen before (PagerDuty's
/// `X-Webhook-Id`, or the same alert events again) adds nothing.
#[utoipa::path(post, path = "/api/v1/intake/{source}", tag = "intake",
    params(("source" = String, Path, description = "`alertmanager`, `grafana`, `pagerduty` or `opsgenie`")),
    request_body(content = serde_json::Value, description = "The sender's own payload", content_type = "application/json"),
    responses(
        (status = 200, description = "Recorded, a duplicate, or ignored", body = IntakeAnswer),
        (status = 400, description = "Not the sender's payload", body = ErrorBody),
        (status = 401, description = "Missing or wrong credential; nothing stored", body = ErrorBody),
        (status = 404, description = "Unknown source, or none configured for it", body = ErrorBody),
        (status = 413, description = "Over 1 MiB", body = ErrorBody),
    ),
    security(()))]
pub async fn receive(
    State(state): State<AppState>,
    Path(source): Path<String>,
    headers: HeaderMap,
    request: axum::extract::Request,
) -> Result<(StatusCode, ApiJson<IntakeAnswer>), ApiError> {
    let source = SOURCES
        .into_iter()
        .find(|known| *known == source)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "there is no intake source `{}`; Hindsight reads {}",
                source.chars().take(40).collect::<String>(),
                SOURCES.join(", ")
            ))
        })?;
    let settings = &state.timeline.intake;
    let credentials = settings.credentials(source).ok_or_else(|| {
        ApiError::not_found(format!(
            "intake from {source} is not configured; add [intake.{source}] to the configuration"
        ))
    })?;
    let body: Bytes = crate::extract::read_body(request.into_body(), MAX_INTAKE_BYTES).await?;
    if !verify(source, credentials, &headers, &body) {
        tracing::warn!(
            intake.source = source,
            "intake refused: bad or missing credential"
        );
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            format!("the {source} delivery has no valid credential"),
        ));
    }
    let now = state.clock.now();
    let mapping = &settings.mapping;
    let reading = match source {
        "alertmanager" | "grafana" => intake::read_alertmanager(source, &body, mapping, now),
        "pagerduty" => intake::read_pagerduty(&body, mapping, now),
        _ => intake::read_opsgenie(&body, mapping, now),
    }
    .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, "malformed_payload", error.0))?;
    let alert = match reading {
        Reading::Ignored(reason) => {
            return Ok((
                StatusCode::OK,
                ApiJson(IntakeAnswer {
                    result: "ignored",
                    incident_id: None,
                    opened: false,
                    events_added: 0,
                    reason: Some(reason),
                }),
            ));
        }
        Reading::Alert(alert) => *alert,
    };
    let open = alert.open.validate(now).map_err(|errors| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_payload",
            format!(
                "the alert does not make a valid incident: {}",
                errors.summary()
            ),
        )
    })?;
    let delivery_id = headers
        .get("x-webhook-id")
        .and_then(|value| value.to_str().ok())
        .filter(|id| !id.is_empty() && id.len() <= 200)
        .map(str::to_owned);
    let outcome: IntakeOutcome = state
        .store
        .record_alert(
            AlertIntake {
                source,
                delivery_id,
                links: alert.links,
                open: Some(open),
                events: alert.events,
            },
            now,
        )
        .await?;
    if let Some(incident) = outcome.incident_id
        && (outcome.opened || outcome.events_added > 0)
    {
        crate::policy::rejudge(&state, incident).await;
    }
    tracing::info!(
        intake.source = source,
        incident.id = ?outcome.incident_id.map(|id| id.get()),
        opened = outcome.opened,
        events_added = outcome.events_added,
        "alert received"
    );
    Ok((
        StatusCode::OK,
        ApiJson(IntakeAnswer {
            // A retried delivery, or the same alert events again: nothing was added.
            result: if outcome.duplicate || (!outcome.opened && outcome.events_added == 0) {
                "duplicate"
            } else {
                "recorded"
            },
            incident_id: outcome.incident_id.map(|id| id.get()),
            opened: outcome.opened,
            events_added: outcome.events_added,
            reason: None,
        }),
    ))
}
