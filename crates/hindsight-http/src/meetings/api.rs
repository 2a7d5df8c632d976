//! `/api/v1/postmortems/{id}/meeting` as JSON, and the invite as `.ics`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hindsight_domain::document::PostmortemId;
use hindsight_domain::meeting::{self, HeldRequest, MeetingRequest, Proposal, ReviewMeeting};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::{Change, load, propose, read};
use crate::AppState;
use crate::audit::Auditor;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::CurrentActor;

pub(crate) fn parse_postmortem(text: &str) -> Result<PostmortemId, ApiError> {
    text.parse().map_err(|()| {
        ApiError::not_found(format!(
            "there is no postmortem `{}`",
            text.chars().take(40).collect::<String>()
        ))
    })
}

/// The request's `Host`, when it is a plain host name or address (it goes into links).
pub(crate) fn host(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c))
        })
        .map(str::to_owned)
}

fn missing(id: PostmortemId) -> impl FnOnce() -> ApiError {
    move || {
        ApiError::not_found(format!(
            "postmortem {id} has no review meeting, or there is no postmortem {id}"
        ))
    }
}

/// The postmortem's review meeting.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/meeting", tag = "meetings",
    params(("id" = i64, Path)),
    responses((status = 200, body = ReviewMeeting),
        (status = 404, description = "No such postmortem, or no meeting yet", body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<ReviewMeeting>, ApiError> {
    let id = parse_postmortem(&id)?;
    let review = read(&state, &actor, id)
        .await
        .map_err(ApiError::or_missing(missing(id)))?;
    review.meeting.map(ApiJson).ok_or_else(missing(id))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ProposalQuery {
    /// Business days of delay for investigation, 0 to 10.
    #[param(maximum = 10)]
    pub delay_days: Option<u32>,
}

/// What Hindsight proposes: the next business day after resolution at the team's meeting time,
/// the length by the team's rule, the attendees (at most six), the readers and a moderator.
/// Nothing is stored.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/meeting/proposal", tag = "meetings",
    params(("id" = i64, Path), ProposalQuery),
    responses((status = 200, body = Proposal), (status = 404, body = ErrorBody)))]
pub async fn proposal(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    query: Result<Query<ProposalQuery>, QueryRejection>,
) -> Result<ApiJson<Proposal>, ApiError> {
    let id = parse_postmortem(&id)?;
    let Query(query) = query?;
    let delay_days = query.delay_days.unwrap_or(0);
    if delay_days > meeting::MAX_DELAY_DAYS {
        return Err(ApiError::invalid(
            hindsight_domain::ValidationErrors::single(
                "delay_days",
                format!(
                    "a delay for investigation is at most {} business days",
                    meeting::MAX_DELAY_DAYS
                ),
            ),
        ));
    }
    let loaded = load(&state, &actor, id)
        .await
        .map_err(ApiError::or_missing(missing(id)))?;
    Ok(ApiJson(propose(&state, &loaded, delay_days)))
}

/// Schedule the meeting: the proposal, with what the request changes. The invite goes by email
/// to the moderator and every attendee, and the announcement to the team's channel (not for a
/// postmortem of private incidents). 409 when a meeting is scheduled already.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/meeting", tag = "meetings",
    params(("id" = i64, Path)), request_body = MeetingRequest,
    responses((status = 201, body = ReviewMeeting), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody),
        (status = 422, description = "Fields are invalid (a seventh attendee without \
            `over_cap_reason`, a moderator who is involved, …); `details` names each",
            body = ErrorBody)))]
pub async fn schedule(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<MeetingRequest>,
) -> Result<Response, ApiError> {
    let id = parse_postmortem(&id)?;
    let host = host(&headers);
    let meeting = super::plan(
        &state,
        &actor,
        &auditor,
        id,
        request,
        Change::Schedule,
        host.as_deref(),
    )
    .await
    .map_err(ApiError::or_missing(missing(id)))?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/postmortems/{id}/meeting"),
        )],
        ApiJson(meeting),
    )
        .into_response())
}

/// Change the scheduled meeting. A new start, length, attendee list or moderator bumps the
/// invite's `SEQUENCE` and sends it again; anyone taken off the list gets a cancellation.
#[utoipa::path(patch, path = "/api/v1/postmortems/{id}/meeting", tag = "meetings",
    params(("id" = i64, Path)), request_body = MeetingRequest,
    responses((status = 200, body = ReviewMeeting), (status = 404, body = ErrorBody),
        (status = 409, description = "The meeting is cancelled or held, or changed meanwhile",
            body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn reschedule(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<MeetingRequest>,
) -> Result<ApiJson<ReviewMeeting>, ApiError> {
    let id = parse_postmortem(&id)?;
    let host = host(&headers);
    let meeting = super::plan(
        &state,
        &actor,
        &auditor,
        id,
        request,
        Change::Reschedule,
        host.as_deref(),
    )
    .await
    .map_err(ApiError::or_missing(missing(id)))?;
    Ok(ApiJson(meeting))
}

/// Cancel the meeting: `METHOD:CANCEL` goes to everyone invited.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/meeting/cancel", tag = "meetings",
    params(("id" = i64, Path)),
    responses((status = 200, body = ReviewMeeting), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<ApiJson<ReviewMeeting>, ApiError> {
    let id = parse_postmortem(&id)?;
    let meeting = super::cancel(&state, &actor, &auditor, id, host(&headers).as_deref())
        .await
        .map_err(ApiError::or_missing(missing(id)))?;
    Ok(ApiJson(meeting))
}

/// Mark the meeting held, with who came.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/meeting/held", tag = "meetings",
    params(("id" = i64, Path)), request_body = HeldRequest,
    responses((status = 200, body = ReviewMeeting), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn held(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<HeldRequest>,
) -> Result<ApiJson<ReviewMeeting>, ApiError> {
    let id = parse_postmortem(&id)?;
    let meeting = super::held(&state, &actor, &auditor, id, request)
        .await
        .map_err(ApiError::or_missing(missing(id)))?;
    Ok(ApiJson(meeting))
}

/// The moderator's notes.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Notes {
    pub notes: String,
}

/// Save the moderator's notes, whole, as they are typed.
#[utoipa::path(put, path = "/api/v1/postmortems/{id}/meeting/notes", tag = "meetings",
    params(("id" = i64, Path)), request_body = Notes,
    responses((status = 204, description = "Saved"), (status = 404, body = ErrorBody),
        (status = 409, description = "The meeting is cancelled", body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn notes(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Notes>,
) -> Result<StatusCode, ApiError> {
    let id = parse_postmortem(&id)?;
    super::save_notes(&state, &actor, id, body.notes)
        .await
        .map_err(ApiError::or_missing(missing(id)))?;
    Ok(StatusCode::NO_CONTENT)
}

/// The invite as an iCalendar file: `METHOD:REQUEST`, or `METHOD:CANCEL` once cancelled.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/meeting.ics", tag = "meetings",
    params(("id" = i64, Path)),
    responses((status = 200, description = "The invite", content_type = "text/calendar"),
        (status = 404, body = ErrorBody)))]
pub async fn invite(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_postmortem(&id)?;
    let review = read(&state, &actor, id)
        .await
        .map_err(ApiError::or_missing(missing(id)))?;
    let meeting = review.meeting.as_ref().ok_or_else(missing(id))?;
    let ics = super::invite(
        &state,
        &review.postmortem,
        meeting,
        host(&headers).as_deref(),
    );
    let method = hindsight_domain::meeting::ics::Method::of(meeting).as_str();
    Ok((
        [
            (
                header::CONTENT_TYPE,
                format!("text/calendar; charset=utf-8; method={method}"),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"review-PM-{id}.ics\""),
            ),
        ],
        ics,
    )
        .into_response())
}
