//! The incident form as a browser posts it: every value a string, times in UTC without an
//! offset (what `<input type="datetime-local">` sends), lists comma-separated.

use std::collections::BTreeMap;

use hindsight_domain::{ImpactDraft, Incident, IncidentContent, IncidentDraft, ValidationErrors};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct IncidentForm {
    pub title: String,
    pub summary: String,
    pub severity: String,
    pub status: String,
    pub services: String,
    pub started_at: String,
    pub detected_at: String,
    pub acknowledged_at: String,
    pub mitigated_at: String,
    pub resolved_at: String,
    pub detection: String,
    pub cause_origin: String,
    pub user_visible_minutes: String,
    pub users_affected: String,
    pub requests_failed: String,
    pub data_loss: Option<String>,
    pub security_breach: Option<String>,
    pub business: String,
    pub owner: String,
    pub tags: String,
    pub private: Option<String>,
    /// The `updated_at` of the incident the edit form was loaded from, to refuse stale edits.
    pub updated_at: String,
}

/// A time as the form shows it: UTC, to the second.
pub fn form_time(time: Option<Timestamp>) -> String {
    time.map(|time| {
        time.to_zoned(TimeZone::UTC)
            .strftime("%Y-%m-%dT%H:%M:%S")
            .to_string()
    })
    .unwrap_or_default()
}

fn join(items: &[String]) -> String {
    items.join(", ")
}

fn split(text: &str) -> Vec<String> {
    text.split(',')
        .map(|item| item.trim().to_owned())
        .filter(|item| !item.is_empty())
        .collect()
}

impl IncidentForm {
    /// A blank form, started now, as a person opening "New incident" expects.
    pub fn blank(now: Timestamp) -> Self {
        Self {
            severity: "SEV3".into(),
            status: "open".into(),
            started_at: form_time(Some(now)),
            ..Self::default()
        }
    }

    pub fn from_incident(incident: &Incident) -> Self {
        let content = &incident.content;
        let number = |value: Option<u64>| value.map(|value| value.to_string()).unwrap_or_default();
        let checked = |value: bool| value.then(|| "on".to_owned());
        Self {
            title: content.title.clone(),
            summary: content.summary.clone(),
            severity: content.severity.as_str().into(),
            status: content.status.as_str().into(),
            services: join(&content.services),
            started_at: form_time(Some(content.started_at)),
            detected_at: form_time(content.detected_at),
            acknowledged_at: form_time(content.acknowledged_at),
            mitigated_at: form_time(content.mitigated_at),
            resolved_at: form_time(content.resolved_at),
            detection: content
                .detection
                .map(|value| value.as_str().into())
                .unwrap_or_default(),
            cause_origin: content
                .cause_origin
                .map(|value| value.as_str().into())
                .unwrap_or_default(),
            user_visible_minutes: number(content.impact.user_visible_minutes),
            users_affected: number(content.impact.users_affected),
            requests_failed: number(content.impact.requests_failed),
            data_loss: checked(content.impact.data_loss),
            security_breach: checked(content.impact.security_breach),
            business: content
                .impact
                .business
                .iter()
                .map(|(name, value)| format!("{name} = {value}"))
                .collect::<Vec<_>>()
                .join("\n"),
            owner: content.owner.clone().unwrap_or_default(),
            tags: join(&content.tags),
            private: checked(content.private),
            updated_at: incident.updated_at.as_microsecond().to_string(),
        }
    }

    /// The draft this form describes, and the problems only the form can have (a count that is
    /// not a number, a business line without `=`). `current` is the incident being edited: a
    /// time the person left as shown keeps its full precision.
    pub fn to_draft(&self, current: Option<&IncidentContent>) -> (IncidentDraft, ValidationErrors) {
        let mut errors = ValidationErrors::new();
        let time = |text: &str, current: Option<Timestamp>| -> Option<String> {
            let text = text.trim();
            if text.is_empty() {
                return None;
            }
            if current.is_some_and(|time| form_time(Some(time)) == text) {
                return current.map(|time| time.to_string());
            }
            Some(with_utc_offset(text))
        };
        let mut count = |field: &str, text: &str| -> Option<i64> {
            let text = text.trim().replace([',', '_'], "");
            if text.is_empty() {
                return None;
            }
            text.parse::<i64>()
                .map_err(|_| {
                    errors.add(
                        format!("impact.{field}"),
                        format!("{field} must be a whole number"),
                    )
                })
                .ok()
        };
        let user_visible_minutes = count("user_visible_minutes", &self.user_visible_minutes);
        let users_affected = count("users_affected", &self.users_affected);
        let requests_failed = count("requests_failed", &self.requests_failed);
        let business = parse_business(&self.business, &mut errors);
        let optional = |text: &str| Some(text.trim().to_owned()).filter(|text| !text.is_empty());
        let draft = IncidentDraft {
            title: Some(self.title.clone()),
            summary: Some(self.summary.clone()),
            severity: optional(&self.severity),
            status: optional(&self.status),
            services: split(&self.services),
            started_at: time(&self.started_at, current.map(|c| c.started_at)),
            detected_at: time(&self.detected_at, current.and_then(|c| c.detected_at)),
            acknowledged_at: time(
                &self.acknowledged_at,
                current.and_then(|c| c.acknowledged_at),
            ),
            mitigated_at: time(&self.mitigated_at, current.and_then(|c| c.mitigated_at)),
            resolved_at: time(&self.resolved_at, current.and_then(|c| c.resolved_at)),
            detection: optional(&self.detection),
            cause_origin: optional(&self.cause_origin),
            impact: ImpactDraft {
                user_visible_minutes,
                users_affected,
                requests_failed,
                data_loss: self.data_loss.is_some(),
                security_breach: self.security_breach.is_some(),
                business,
            },
            owner: optional(&self.owner),
            tags: split(&self.tags),
            private: self.private.is_some(),
            // The form does not list members; an edit keeps the ones the incident has.
            members: current
                .map(|content| IncidentDraft::from(content).members)
                .unwrap_or_default(),
        };
        (draft, errors)
    }
}

/// `2026-11-20T14:10` (what datetime-local sends) is read as UTC; a value with an offset is
/// taken as written.
fn with_utc_offset(text: &str) -> String {
    // Only a date and time gets the offset; anything else is passed on as typed, so that the
    // error message quotes what the person wrote.
    let bytes = text.as_bytes();
    let looks_like_date_time = bytes.len() >= 16
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && matches!(bytes[10], b'T' | b't' | b' ');
    if !looks_like_date_time {
        return text.to_owned();
    }
    let has_offset = text.ends_with('Z')
        || text.ends_with('z')
        || text.rfind(['+', '-']).is_some_and(|index| index > 10);
    if has_offset {
        return text.to_owned();
    }
    let text = text.replacen(' ', "T", 1);
    if text.len() == 16 {
        format!("{text}:00Z")
    } else {
        format!("{text}Z")
    }
}

/// One `name = value` per line.
fn parse_business(text: &str, errors: &mut ValidationErrors) -> BTreeMap<String, f64> {
    let mut figures = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|line| !line.is_empty()) {
        match line.split_once('=') {
            Some((name, value)) => match value.trim().parse::<f64>() {
                Ok(value) => {
                    figures.insert(name.trim().to_owned(), value);
                }
                Err(_) => errors.add(
                    "impact.business",
                    format!(
                        "`{}` is not a number",
                        value.trim().chars().take(40).collect::<String>()
                    ),
                ),
            },
            None => errors.add(
                "impact.business",
                "write one figure per line, as `name = number`",
            ),
        }
    }
    figures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_are_read_as_utc() {
        assert_eq!(with_utc_offset("2026-11-20T14:10"), "2026-11-20T14:10:00Z");
        assert_eq!(
            with_utc_offset("2026-11-20T14:10:05"),
            "2026-11-20T14:10:05Z"
        );
        assert_eq!(
            with_utc_offset("2026-11-20T14:10:00+01:00"),
            "2026-11-20T14:10:00+01:00"
        );
        assert_eq!(with_utc_offset("yesterday"), "yesterday");
    }

    #[test]
    fn a_count_that_is_not_a_number_is_reported_by_field() {
        let form = IncidentForm {
            users_affected: "many".into(),
            business: "conversion = low".into(),
            ..IncidentForm::default()
        };
        let (_, errors) = form.to_draft(None);
        assert_eq!(
            errors.message_for("impact.users_affected"),
            Some("users_affected must be a whole number")
        );
        assert_eq!(
            errors.message_for("impact.business"),
            Some("`low` is not a number")
        );
    }
}
