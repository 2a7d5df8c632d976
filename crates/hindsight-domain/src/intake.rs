//! Alerts from monitoring and paging tools, read into what Hindsight records: the incident an
//! alert opens, the keys that find it again, and the timeline events it adds.
//!
//! Readers are tolerant, as senders change: unknown fields are ignored, Go's zero time
//! (`0001-01-01T00:00:00Z`) means "not ended", fractional seconds may run to nanoseconds, and
//! an event type Hindsight does not record is [`Reading::Ignored`], not an error. What they
//! refuse is a body that is not the sender's shape at all.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Deserialize;

use crate::incident::{IncidentDraft, Severity};
use crate::timeline::{EventContent, EventKind, EventSource, NewEvent};
use crate::to_stored_precision;

/// How alert labels become incident fields; configurable, with defaults that fit the usual
/// Prometheus and Grafana labels.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntakeMapping {
    /// Labels whose values name services, first found first.
    pub service_labels: Vec<String>,
    /// The label that carries severity.
    pub severity_label: String,
    /// Label value (lower case) → severity.
    pub severities: BTreeMap<String, Severity>,
    /// When no label says.
    pub default_severity: Severity,
}

impl Default for IntakeMapping {
    fn default() -> Self {
        let severities = [
            ("critical", Severity::Sev1),
            ("p1", Severity::Sev1),
            ("sev1", Severity::Sev1),
            ("high", Severity::Sev2),
            ("error", Severity::Sev2),
            ("p2", Severity::Sev2),
            ("sev2", Severity::Sev2),
            ("warning", Severity::Sev3),
            ("medium", Severity::Sev3),
            ("p3", Severity::Sev3),
            ("sev3", Severity::Sev3),
            ("low", Severity::Sev4),
            ("info", Severity::Sev4),
            ("p4", Severity::Sev4),
            ("p5", Severity::Sev4),
            ("sev4", Severity::Sev4),
        ]
        .into_iter()
        .map(|(label, severity)| (label.to_owned(), severity))
        .collect();
        Self {
            service_labels: vec!["service".into(), "app".into(), "job".into()],
            severity_label: "severity".into(),
            severities,
            default_severity: Severity::Sev3,
        }
    }
}

impl IntakeMapping {
    fn severity(&self, value: Option<&str>) -> Severity {
        value
            .and_then(|value| self.severities.get(&value.trim().to_lowercase()))
            .copied()
            .unwrap_or(self.default_severity)
    }

    fn services<'a>(
        &self,
        label_sets: impl Iterator<Item = &'a BTreeMap<String, String>>,
    ) -> Vec<String> {
        let mut services = Vec::new();
        for labels in label_sets {
            if let Some(service) = self
                .service_labels
                .iter()
                .find_map(|label| labels.get(label))
                .filter(|service| !service.trim().is_empty())
                && !services.contains(service)
            {
                services.push(service.clone());
            }
        }
        services.truncate(crate::incident::MAX_LIST_ITEMS);
        services
    }
}

/// What one delivery says.
#[derive(Debug, Clone, PartialEq)]
pub enum Reading {
    Alert(Box<AlertReading>),
    /// A well-formed delivery of a kind Hindsight does not record, and why.
    Ignored(String),
}

/// An alert delivery, read.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertReading {
    /// Keys that find the incident again; the first is the most specific.
    pub links: Vec<String>,
    /// The incident to open when no key finds one (validated by the caller).
    pub open: IncidentDraft,
    pub events: Vec<NewEvent>,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IntakeError(pub String);

fn parse_body<'a, T: Deserialize<'a>>(body: &'a [u8], what: &str) -> Result<T, IntakeError> {
    serde_json::from_slice(body)
        .map_err(|error| IntakeError(format!("not a valid {what} payload: {error}")))
}

/// An RFC 3339 time, any fractional precision; Go's zero time and empty text are `None`.
fn time(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if text.is_empty() || text.starts_with("0001-01-01") {
        return None;
    }
    text.parse().ok().map(to_stored_precision)
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max - 1).chain(['…']).collect()
    }
}

fn http_link(url: &str) -> Option<String> {
    crate::timeline::check_link(url.trim())
        .ok()
        .map(|()| url.trim().to_owned())
}

fn event(
    kind: EventKind,
    occurred_at: Timestamp,
    text: String,
    link: Option<String>,
    author: Option<String>,
    external_id: String,
) -> NewEvent {
    NewEvent {
        content: EventContent {
            kind,
            occurred_at,
            text: clip(&text, crate::timeline::MAX_EVENT_TEXT_CHARS),
            key: false,
            link,
        },
        source: EventSource::Alert,
        author: author.map(|author| clip(&author, crate::timeline::MAX_EVENT_NAME_CHARS)),
        external_id: Some(clip(&external_id, crate::timeline::MAX_EVENT_NAME_CHARS)),
        holds: None,
    }
}

fn draft(
    title: &str,
    summary: &str,
    severity: Severity,
    services: Vec<String>,
    started_at: Timestamp,
    resolved_at: Option<Timestamp>,
) -> IncidentDraft {
    IncidentDraft {
        title: Some(clip(title.trim(), crate::incident::MAX_TITLE_CHARS)),
        summary: Some(clip(summary.trim(), crate::incident::MAX_SUMMARY_CHARS)),
        severity: Some(severity.as_str().into()),
        status: Some(
            if resolved_at.is_some() {
                "resolved"
            } else {
                "open"
            }
            .into(),
        ),
        services,
        started_at: Some(started_at.to_string()),
        detected_at: Some(started_at.to_string()),
        resolved_at: resolved_at.map(|time| time.to_string()),
        detection: Some("monitoring".into()),
        ..IncidentDraft::default()
    }
}

/// The notification Alertmanager's webhook receiver sends (version 4), which Grafana's webhook
/// contact point also sends with a few fields more.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Notification {
    #[serde(default)]
    status: String,
    alerts: Vec<Alert>,
    #[serde(default)]
    group_key: String,
    #[serde(default)]
    common_labels: BTreeMap<String, String>,
    #[serde(default)]
    common_annotations: BTreeMap<String, String>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Alert {
    #[serde(default)]
    status: String,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    ends_at: String,
    #[serde(default, rename = "generatorURL")]
    generator_url: String,
    #[serde(default)]
    fingerprint: String,
}

/// Reads an Alertmanager (or Grafana) notification. `source` prefixes the keys and ids.
/// `received` stands in for a start time the sender left out.
pub fn read_alertmanager(
    source: &str,
    body: &[u8],
    mapping: &IntakeMapping,
    received: Timestamp,
) -> Result<Reading, IntakeError> {
    let notification: Notification = parse_body(body, source)?;
    if notification.alerts.is_empty() {
        return Ok(Reading::Ignored("the notification holds no alerts".into()));
    }
    let mut links = Vec::new();
    if !notification.group_key.is_empty() {
        links.push(format!("group:{}", notification.group_key));
    }
    let mut events = Vec::new();
    let mut earliest: Option<Timestamp> = None;
    let mut latest_end: Option<Timestamp> = None;
    for alert in &notification.alerts {
        let name = alert
            .labels
            .get("alertname")
            .map_or("Alert", String::as_str);
        let fingerprint = if alert.fingerprint.is_empty() {
            // Grafana's test notification and old senders leave it out; the labels identify it.
            format!("{:?}", alert.labels)
        } else {
            alert.fingerprint.clone()
        };
        links.push(format!("fp:{fingerprint}"));
        let started = time(&alert.starts_at).unwrap_or(received);
        earliest = Some(earliest.map_or(started, |e| e.min(started)));
        let summary = alert
            .annotations
            .get("summary")
            .or_else(|| alert.annotations.get("description"))
            .map(|text| format!(": {text}"))
            .unwrap_or_default();
        let labels = alert
            .labels
            .iter()
            .filter(|(label, _)| *label != "alertname")
            .map(|(label, value)| format!("{label}={value}"))
            .collect::<Vec<_>>()
            .join(", ");
        let link = http_link(&alert.generator_url);
        events.push(event(
            EventKind::Alerted,
            started,
            format!("**{name}** firing{summary} ({labels})"),
            link.clone(),
            Some(source.to_owned()),
            format!("{source}:{fingerprint}:{}:firing", started.as_microsecond()),
        ));
        if alert.status == "resolved" {
            let ended = time(&alert.ends_at).unwrap_or(received).max(started);
            latest_end = Some(latest_end.map_or(ended, |l| l.max(ended)));
            events.push(event(
                EventKind::Note,
                ended,
                format!("**{name}** resolved ({labels})"),
                link,
                Some(source.to_owned()),
                format!("{source}:{fingerprint}:{}:ended", started.as_microsecond()),
            ));
        }
    }
    let started = earliest.expect("there is at least one alert");
    let resolved = (notification.status == "resolved")
        .then_some(latest_end)
        .flatten();
    if let Some(resolved) = resolved {
        events.push(event(
            EventKind::Resolved,
            resolved,
            "Every alert of the group resolved".into(),
            None,
            Some(source.to_owned()),
            format!(
                "{source}:{}:resolved:{}",
                notification.group_key,
                resolved.as_microsecond()
            ),
        ));
    }
    let labels = &notification.common_labels;
    let name = labels.get("alertname").map_or("Alert", String::as_str);
    let title = match (
        &notification.title,
        notification.common_annotations.get("summary"),
    ) {
        (_, Some(summary)) => format!("{name}: {summary}"),
        (Some(title), None) if !title.is_empty() => title.clone(),
        _ => format!("{name} firing"),
    };
    let summary = notification
        .common_annotations
        .get("description")
        .cloned()
        .unwrap_or_default();
    let severity = mapping.severity(
        labels
            .get(&mapping.severity_label)
            .or_else(|| {
                notification
                    .alerts
                    .iter()
                    .find_map(|alert| alert.labels.get(&mapping.severity_label))
            })
            .map(String::as_str),
    );
    let services = mapping.services(notification.alerts.iter().map(|alert| &alert.labels));
    Ok(Reading::Alert(Box::new(AlertReading {
        links,
        open: draft(&title, &summary, severity, services, started, resolved),
        events,
    })))
}

/// A PagerDuty webhook (v3) delivery.
#[derive(Debug, Deserialize)]
struct PagerDutyDelivery {
    event: PagerDutyEvent,
}

#[derive(Debug, Deserialize)]
struct PagerDutyEvent {
    id: String,
    event_type: String,
    #[serde(default)]
    occurred_at: String,
    #[serde(default)]
    agent: Option<PagerDutyReference>,
    data: serde_json::Value,
}

#[derive(Debug, Deserialize)]
struct PagerDutyReference {
    #[serde(default)]
    summary: Option<String>,
}

/// Reads a PagerDuty v3 webhook delivery: incident events only.
pub fn read_pagerduty(
    body: &[u8],
    mapping: &IntakeMapping,
    received: Timestamp,
) -> Result<Reading, IntakeError> {
    let delivery: PagerDutyDelivery = parse_body(body, "PagerDuty webhook v3")?;
    let event_type = delivery.event.event_type.as_str();
    let kind = match event_type {
        "incident.triggered" => EventKind::Alerted,
        "incident.acknowledged" => EventKind::Acknowledged,
        "incident.resolved" => EventKind::Resolved,
        "incident.escalated" => EventKind::Escalated,
        "incident.reassigned"
        | "incident.priority_updated"
        | "incident.annotated"
        | "incident.reopened"
        | "incident.responder.added"
        | "incident.status_update_published" => EventKind::Note,
        other => {
            return Ok(Reading::Ignored(format!(
                "event type `{}` is not recorded",
                clip(other, 60)
            )));
        }
    };
    let data = &delivery.event.data;
    let text_of = |value: &serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    let incident_id = match data.get("type").and_then(|t| t.as_str()) {
        Some("incident_note") => data.get("incident").and_then(|i| i.get("id")),
        _ => data.get("id"),
    }
    .map(text_of)
    .filter(|id| !id.is_empty())
    .ok_or_else(|| IntakeError("the event names no incident (`event.data.id`)".into()))?;
    let title = data.get("title").map(text_of).unwrap_or_default();
    let occurred = time(&delivery.event.occurred_at).unwrap_or(received);
    let agent = delivery.event.agent.and_then(|agent| agent.summary);
    let html_url = data
        .get("html_url")
        .map(text_of)
        .and_then(|url| http_link(&url));
    let service = data
        .get("service")
        .and_then(|s| s.get("summary"))
        .map(text_of)
        .filter(|s| !s.is_empty());
    let priority = data
        .get("priority")
        .and_then(|p| p.get("summary"))
        .and_then(|p| p.as_str())
        .map(str::to_owned)
        .or_else(|| {
            data.get("urgency")
                .and_then(|u| u.as_str())
                .map(str::to_owned)
        });
    let what = match event_type {
        "incident.triggered" => format!("PagerDuty incident triggered: {title}"),
        "incident.acknowledged" => "Acknowledged in PagerDuty".to_owned(),
        "incident.resolved" => "Resolved in PagerDuty".to_owned(),
        "incident.escalated" => "Escalated in PagerDuty".to_owned(),
        "incident.annotated" => format!(
            "Note in PagerDuty: {}",
            data.get("content").map(text_of).unwrap_or_default()
        ),
        other => format!(
            "PagerDuty: {}",
            other
                .trim_start_matches("incident.")
                .replace(['.', '_'], " ")
        ),
    };
    let created = data
        .get("created_at")
        .map(text_of)
        .and_then(|text| time(&text))
        .unwrap_or(occurred);
    let resolved = (kind == EventKind::Resolved).then_some(occurred);
    Ok(Reading::Alert(Box::new(AlertReading {
        links: vec![format!("incident:{incident_id}")],
        open: draft(
            if title.is_empty() {
                "PagerDuty incident"
            } else {
                &title
            },
            "",
            mapping.severity(priority.as_deref()),
            service.into_iter().collect(),
            created.min(occurred),
            resolved,
        ),
        events: vec![event(
            kind,
            occurred,
            what,
            html_url,
            agent,
            format!("pagerduty:{}", delivery.event.id),
        )],
    })))
}

/// An Opsgenie webhook integration delivery.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpsgenieDelivery {
    action: String,
    alert: OpsgenieAlert,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct OpsgenieAlert {
    alert_id: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    updated_at: Option<i64>,
}

/// Opsgenie times are milliseconds since the epoch; nanoseconds and microseconds are taken by
/// their size, so a sender that switches precision is still read right.
fn epoch(value: i64) -> Option<Timestamp> {
    let value = value.max(0);
    let time = if value > 100_000_000_000_000_000 {
        Timestamp::from_nanosecond(value.into())
    } else if value > 100_000_000_000_000 {
        Timestamp::from_microsecond(value)
    } else {
        Timestamp::from_millisecond(value)
    };
    time.ok()
        .filter(|time| time.as_second() > 0)
        .map(to_stored_precision)
}

/// Reads an Opsgenie webhook delivery.
pub fn read_opsgenie(
    body: &[u8],
    mapping: &IntakeMapping,
    received: Timestamp,
) -> Result<Reading, IntakeError> {
    let delivery: OpsgenieDelivery = parse_body(body, "Opsgenie webhook")?;
    let alert = &delivery.alert;
    if alert.alert_id.trim().is_empty() {
        return Err(IntakeError("the alert has no `alertId`".into()));
    }
    let kind = match delivery.action.as_str() {
        "Create" => EventKind::Alerted,
        "Acknowledge" => EventKind::Acknowledged,
        "Close" => EventKind::Resolved,
        "Escalate" | "EscalateToNext" => EventKind::Escalated,
        "AddNote" | "AssignOwnership" | "UpdatePriority" | "TakeOwnership" | "AddResponder" => {
            EventKind::Note
        }
        other => {
            return Ok(Reading::Ignored(format!(
                "action `{}` is not recorded",
                clip(other, 60)
            )));
        }
    };
    let occurred = alert
        .updated_at
        .or(alert.created_at)
        .and_then(epoch)
        .unwrap_or(received);
    let created = alert
        .created_at
        .and_then(epoch)
        .unwrap_or(occurred)
        .min(occurred);
    let mut links = vec![format!("id:{}", alert.alert_id)];
    if !alert.alias.trim().is_empty() {
        links.push(format!("alias:{}", alert.alias));
    }
    let text = match kind {
        EventKind::Alerted => format!("Opsgenie alert: {}", alert.message),
        EventKind::Note if !alert.note.is_empty() => format!("Opsgenie note: {}", alert.note),
        _ => format!("Opsgenie: {}", delivery.action),
    };
    let services = alert
        .tags
        .iter()
        .find_map(|tag| tag.strip_prefix("service:"))
        .map(|service| vec![service.to_owned()])
        .unwrap_or_default();
    Ok(Reading::Alert(Box::new(AlertReading {
        links,
        open: draft(
            if alert.message.is_empty() {
                "Opsgenie alert"
            } else {
                &alert.message
            },
            &alert.description,
            mapping.severity(Some(&alert.priority)),
            services,
            created,
            (kind == EventKind::Resolved).then_some(occurred),
        ),
        events: vec![event(
            kind,
            occurred,
            text,
            None,
            (!alert.username.is_empty()).then(|| alert.username.clone()),
            format!(
                "opsgenie:{}:{}:{}",
                alert.alert_id,
                delivery.action,
                occurred.as_microsecond()
            ),
        )],
    })))
}

#[cfg(test)]
mod tests;
