//! `/api/v1/incidents/{id}/timeline`: the events of an incident, its metrics, and chat imports.

use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use hindsight_domain::timeline::{self, EventDraft, EventId, Metrics, TimelineEvent};
use hindsight_domain::{IncidentId, to_stored_precision};
use hindsight_store::ImportOutcome;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::CurrentActor;
use crate::lookup::parse_id;

/// An incident's timeline, oldest first, with the metrics its key times give.
#[derive(Debug, Serialize, ToSchema)]
pub struct Timeline {
    pub events: Vec<TimelineEvent>,
    pub metrics: MetricsView,
}

/// Each metric in seconds and in words; `null` and "unknown" when a time it needs is missing.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsView {
    pub time_to_detect: MetricValue,
    pub time_to_acknowledge: MetricValue,
    pub time_to_root_cause: MetricValue,
    pub time_to_mitigate: MetricValue,
    pub time_to_fix: MetricValue,
    pub time_to_resolve: MetricValue,
    pub impact_window: MetricValue,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MetricValue {
    pub seconds: Option<i64>,
    #[schema(example = "1 h 50 min")]
    pub text: String,
}

impl From<Metrics> for MetricsView {
    fn from(metrics: Metrics) -> Self {
        let value = |duration: Option<jiff::SignedDuration>| MetricValue {
            seconds: duration.map(|d| d.as_secs()),
            text: timeline::format_duration(duration),
        };
        Self {
            time_to_detect: value(metrics.time_to_detect),
            time_to_acknowledge: value(metrics.time_to_acknowledge),
            time_to_root_cause: value(metrics.time_to_root_cause),
            time_to_mitigate: value(metrics.time_to_mitigate),
            time_to_fix: value(metrics.time_to_fix),
            time_to_resolve: value(metrics.time_to_resolve),
            impact_window: value(metrics.impact_window),
        }
    }
}

pub(crate) fn parse_event_id(text: &str) -> Result<EventId, ApiError> {
    text.parse().map_err(|()| {
        ApiError::not_found(format!(
            "there is no event `{}`",
            text.chars().take(40).collect::<String>()
        ))
    })
}

fn no_such_event(incident: IncidentId, event: EventId) -> impl FnOnce() -> ApiError {
    move || ApiError::not_found(format!("incident {incident} has no event {event}"))
}

/// The timeline and metrics of an incident the reader may see.
pub(crate) async fn load_timeline(
    state: &AppState,
    incident: IncidentId,
    visibility: hindsight_domain::access::Visibility,
) -> Result<(hindsight_domain::Incident, Vec<TimelineEvent>), ApiError> {
    let missing = || ApiError::not_found(format!("there is no incident {incident}"));
    let found = state.store.get_incident(incident, visibility).await?;
    let events = state.store.list_events(incident, visibility).await?;
    match (found, events) {
        (Some(found), Some(events)) => Ok((found, events)),
        _ => Err(missing()),
    }
}

/// An incident's timeline and metrics.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/timeline", tag = "timeline",
    params(("id" = String, Path, description = "`42` or `INC-42`")),
    responses(
        (status = 200, body = Timeline),
        (status = 404, description = "No such incident, or hidden from the reader", body = ErrorBody),
    ))]
pub async fn get_timeline(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<Timeline>, ApiError> {
    let id = parse_id(&id)?;
    let (incident, events) = load_timeline(&state, id, actor.visibility()).await?;
    let metrics = Metrics::of(&incident.content, &events).into();
    Ok(ApiJson(Timeline { events, metrics }))
}

/// Add an event. An event of a key kind (`error_introduced`, `detected`, `alerted`, `reported`,
/// `acknowledged`, `mitigated`, `resolved`) sets the incident's key time when it is the first
/// sign (start, detection, acknowledgement) or the last word (mitigation, resolution), unless
/// `sets_key_time` is `false`.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/timeline", tag = "timeline",
    params(("id" = String, Path, description = "`42` or `INC-42`")),
    request_body = EventDraft,
    responses(
        (status = 201, description = "Added", body = TimelineEvent),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Fields are missing or invalid; `details` names each", body = ErrorBody),
    ))]
pub async fn add_event(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<EventDraft>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let now = state.clock.now();
    let confirm_early = draft.confirm_early;
    let checked = draft.validate(now).map_err(ApiError::invalid)?;
    let author = Some(actor.user.display_name.clone());
    let visibility = actor.visibility();
    let outcome = super::add_event(
        &state,
        id,
        visibility,
        super::PersonEvent::new(checked, confirm_early),
        author,
        now,
    )
    .await
    .map_err(ApiError::or_missing(|| {
        ApiError::not_found(format!("there is no incident {id}"))
    }))?;
    let event = outcome
        .inserted
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::internal(&"the event was not inserted"))?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/incidents/{id}/timeline/{}", event.id),
        )],
        ApiJson(event),
    ))
}

/// Replace what an event says (kind, time, text, key, link). Moving an event that holds a key
/// time moves the incident's key time. Events Hindsight made to show a key time change only
/// with the incident.
#[utoipa::path(put, path = "/api/v1/incidents/{id}/timeline/{event}", tag = "timeline",
    params(("id" = String, Path), ("event" = i64, Path)),
    request_body = EventDraft,
    responses(
        (status = 200, body = TimelineEvent),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn edit_event(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((id, event)): Path<(String, String)>,
    ApiJson(draft): ApiJson<EventDraft>,
) -> Result<ApiJson<TimelineEvent>, ApiError> {
    let id = parse_id(&id)?;
    let event = parse_event_id(&event)?;
    let now = state.clock.now();
    let confirm_early = draft.confirm_early;
    let checked = draft.validate(now).map_err(ApiError::invalid)?;
    let author = Some(actor.user.display_name.clone());
    let visibility = actor.visibility();
    let outcome = super::edit_event(
        &state,
        id,
        visibility,
        event,
        super::PersonEvent::new(checked, confirm_early),
        author,
        now,
    )
    .await
    .map_err(ApiError::or_missing(no_such_event(id, event)))?;
    outcome
        .updated
        .into_iter()
        .find(|updated| updated.id == event)
        .map(ApiJson)
        .ok_or_else(|| ApiError::internal(&"the edited event was not written"))
}

/// Remove an event. A key time it held stays on the incident, shown by a `system` event.
#[utoipa::path(delete, path = "/api/v1/incidents/{id}/timeline/{event}", tag = "timeline",
    params(("id" = String, Path), ("event" = i64, Path)),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, body = ErrorBody),
        (status = 422, description = "Hindsight's own key-time event: change the incident instead", body = ErrorBody),
    ))]
pub async fn delete_event(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((id, event)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let event = parse_event_id(&event)?;
    let now = state.clock.now();
    let author = Some(actor.user.display_name.clone());
    super::remove_event(&state, id, actor.visibility(), event, author, now)
        .await
        .map_err(ApiError::or_missing(no_such_event(id, event)))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Which part of a Slack export to import.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SlackImportQuery {
    /// The channel's name, as in `channels.json` (with or without `#`).
    pub channel: String,
    /// Only messages at or after this time (RFC 3339).
    pub from: Option<String>,
    /// Only messages before this time (RFC 3339).
    pub to: Option<String>,
}

/// What an import added.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlackImportSummary {
    pub added: u64,
    /// Messages the timeline holds already (a repeated import).
    pub skipped: u64,
    /// Messages left out: joins, leaves, outside the window.
    pub left_out: u64,
}

/// Import a channel of a Slack workspace export (the `.zip` Slack makes) as `chat` events.
/// All or nothing: a malformed file is named and nothing from the import is kept.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/timeline/imports/slack", tag = "timeline",
    params(("id" = String, Path), SlackImportQuery),
    request_body(description = "The export Slack made, as a `.zip` file", content(
        (crate::openapi::Binary = "application/zip"),
        (crate::openapi::Binary = "application/octet-stream"),
    )),
    responses(
        (status = 200, body = SlackImportSummary),
        (status = 404, body = ErrorBody),
        (status = 413, body = ErrorBody),
        (status = 415, body = ErrorBody),
        (status = 422, description = "The export or a file in it is malformed, or the channel is not in it", body = ErrorBody),
    ))]
pub async fn import_slack(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    query: Result<Query<SlackImportQuery>, QueryRejection>,
    request: axum::extract::Request,
) -> Result<ApiJson<SlackImportSummary>, ApiError> {
    let id = parse_id(&id)?;
    let Query(query) = query?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/zip")
        && !content_type.starts_with("application/octet-stream")
    {
        return Err(ApiError::unsupported_media_type(
            "send the export as `Content-Type: application/zip`",
        ));
    }
    let options = super::slack::ImportOptions::parse(
        &query.channel,
        query.from.as_deref(),
        query.to.as_deref(),
        state.timeline.slack_key_reactions.clone(),
    )
    .map_err(ApiError::invalid)?;
    let file = spool(request.into_body(), state.timeline.max_import_bytes).await?;
    let (summary, outcome) = super::slack::import(
        &state.store,
        id,
        actor.visibility(),
        to_stored_precision(state.clock.now()),
        file,
        options,
        None,
    )
    .await
    .map_err(|error| match error {
        super::slack::ImportError::Store(hindsight_store::StoreError::NotFound) => {
            ApiError::not_found(format!("there is no incident {id}"))
        }
        other => other.into(),
    })?;
    let ImportOutcome { added, skipped } = outcome;
    Ok(ApiJson(SlackImportSummary {
        added,
        skipped,
        left_out: summary.left_out,
    }))
}

/// Writes an upload to a temporary file (a zip is read from its end), within `limit` bytes.
async fn spool(body: Body, limit: u64) -> Result<std::fs::File, ApiError> {
    use http_body_util::BodyExt;
    use std::io::Write;
    let mut file = tempfile::tempfile().map_err(|error| ApiError::internal(&error))?;
    let mut body = body;
    let mut written = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|error| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                format!("could not read the upload: {error}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            written += data.len() as u64;
            if written > limit {
                return Err(ApiError::payload_too_large(limit as usize));
            }
            file.write_all(&data)
                .map_err(|error| ApiError::internal(&error))?;
        }
    }
    Ok(file)
}
