//! `/api/v1/incidents`: create, read, change and list incidents as JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use hindsight_domain::{Incident, IncidentDraft, IncidentId, IncidentPatch, IncidentQuery};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::audit::Auditor;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::CurrentActor;
use crate::lookup::parse_id;
use hindsight_domain::access::Visibility;

/// One page of incidents, newest start first.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    pub items: Vec<Incident>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

fn no_such_incident(id: IncidentId) -> ApiError {
    ApiError::not_found(format!("there is no incident {id}"))
}

/// Record an incident.
#[utoipa::path(post, path = "/api/v1/incidents", tag = "incidents",
    request_body = IncidentDraft,
    responses(
        (status = 201, description = "Created; `Location` names it", body = Incident),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "Fields are missing or invalid; `details` names each", body = ErrorBody),
    ))]
pub async fn create_incident(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    ApiJson(mut draft): ApiJson<IncidentDraft>,
) -> Result<impl IntoResponse, ApiError> {
    let now = state.clock.now();
    draft.keep_author_in(
        actor.user.id,
        actor.visibility() == Visibility::Everything,
        false,
    );
    let incident = draft.validate(now).map_err(ApiError::invalid)?;
    let incident = state
        .store
        .create_incident(incident, Some(actor.user.display_name.clone()), now)
        .await?;
    if incident.content.private {
        auditor.incident_privacy(&incident).await;
    }
    crate::policy::rejudge(&state, incident.id).await;
    tracing::info!(incident.id = %incident.id, "incident created");
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/incidents/{}", incident.id),
        )],
        ApiJson(incident),
    ))
}

/// An incident with the postmortems that cover it.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    #[serde(flatten)]
    pub incident: Incident,
    /// The ids of the postmortems covering it that the reader may see, newest first.
    #[schema(value_type = Vec<i64>)]
    pub postmortems: Vec<hindsight_domain::document::PostmortemId>,
}

/// Read one incident, with the ids of the postmortems that cover it.
#[utoipa::path(get, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "The incident: `42` or `INC-42`")),
    responses(
        (status = 200, body = IncidentView),
        (status = 404, description = "No such incident", body = ErrorBody),
    ))]
pub async fn get_incident(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<IncidentView>, ApiError> {
    let id = parse_id(&id)?;
    let incident = state
        .store
        .get_incident(id, actor.visibility())
        .await?
        .ok_or_else(|| no_such_incident(id))?;
    let postmortems = state
        .store
        .list_postmortems(
            &hindsight_store::PostmortemFilter {
                incident: Some(incident.id),
                limit: 1000,
                ..Default::default()
            },
            actor.visibility(),
        )
        .await?
        .into_iter()
        .map(|postmortem| postmortem.id)
        .collect();
    Ok(ApiJson(IncidentView {
        incident,
        postmortems,
    }))
}

/// Change some fields of an incident (JSON Merge Patch: absent stays, `null` clears).
#[utoipa::path(patch, path = "/api/v1/incidents/{id}", tag = "incidents",
    params(("id" = String, Path, description = "The incident: `42` or `INC-42`")),
    request_body(content = IncidentPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, description = "The incident as changed", body = Incident),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 413, description = "The body is over the limit", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The result would be invalid; `details` names each field", body = ErrorBody),
    ))]
pub async fn update_incident(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<IncidentPatch>,
) -> Result<ApiJson<Incident>, ApiError> {
    let id = parse_id(&id)?;
    if patch.is_empty() {
        let incident = state
            .store
            .get_incident(id, actor.visibility())
            .await?
            .ok_or_else(|| no_such_incident(id))?;
        return Ok(ApiJson(incident));
    }
    let changes_privacy = patch.private.is_some() || patch.members.is_some();
    let now = state.clock.now();
    let visibility = actor.visibility();
    let author = actor.user.id;
    let incident = state
        .store
        .update_incident(
            id,
            visibility,
            Some(actor.user.display_name.clone()),
            now,
            Box::new(move |current| {
                let mut draft = patch.apply_to(&current.content);
                draft.keep_author_in(
                    author,
                    visibility == Visibility::Everything,
                    current.content.private,
                );
                draft.validate(now)
            }),
        )
        .await
        .map_err(ApiError::or_missing(|| no_such_incident(id)))?;
    crate::policy::rejudge(&state, id).await;
    if changes_privacy {
        auditor.incident_privacy(&incident).await;
    }
    tracing::info!(incident.id = %incident.id, "incident updated");
    Ok(ApiJson(incident))
}

/// List incidents, newest start first, filtered and a page at a time.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "incidents",
    params(IncidentQuery),
    responses(
        (status = 200, body = IncidentList),
        (status = 422, description = "A filter is invalid; `details` names it", body = ErrorBody),
    ))]
pub async fn list_incidents(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    query: Result<Query<IncidentQuery>, QueryRejection>,
) -> Result<ApiJson<IncidentList>, ApiError> {
    let Query(query) = query?;
    let filter = query.parse().map_err(ApiError::invalid)?;
    let page = state
        .store
        .list_incidents(&filter, actor.visibility())
        .await?;
    Ok(ApiJson(IncidentList {
        items: page.items,
        next_cursor: page.next_cursor.map(|cursor| cursor.encode()),
    }))
}
