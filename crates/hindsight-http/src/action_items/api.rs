//! `/api/v1/action-items` and `/api/v1/postmortems/{id}/action-items` as JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hindsight_domain::access::Actor;
use hindsight_domain::action_item::{
    ActionItem, ActionItemDraft, ActionItemFilter, ActionItemId, ActionItemPatch, ActionItemQuery,
};
use hindsight_domain::document::PostmortemId;
use serde::Serialize;
use utoipa::ToSchema;

use super::{create_item, export as exports, update_item};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::CurrentActor;

/// Action items, ranked: unfinished first, then priority, then low effort and high impact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionItemList {
    pub items: Vec<ActionItemView>,
}

/// An action item with what the reader's today makes of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActionItemView {
    #[serde(flatten)]
    pub item: ActionItem,
    pub overdue: bool,
    /// Days past the due date, while overdue.
    pub days_overdue: Option<i64>,
    /// Whole days since it was added.
    pub age_days: i64,
}

pub(crate) fn view(item: ActionItem, today: jiff::civil::Date) -> ActionItemView {
    ActionItemView {
        overdue: item.is_overdue(today),
        days_overdue: item.days_overdue(today),
        age_days: item.age_days(today),
        item,
    }
}

fn parse_postmortem(text: &str) -> Result<PostmortemId, ApiError> {
    text.parse().map_err(|()| {
        ApiError::not_found(format!(
            "there is no postmortem `{}`",
            text.chars().take(40).collect::<String>()
        ))
    })
}

fn parse_item(text: &str) -> Result<ActionItemId, ApiError> {
    text.parse().map_err(|()| {
        ApiError::not_found(format!(
            "there is no action item `{}`",
            text.chars().take(40).collect::<String>()
        ))
    })
}

pub(crate) async fn filtered(
    state: &AppState,
    actor: &Actor,
    filter: &ActionItemFilter,
) -> Result<Vec<ActionItemView>, ApiError> {
    let today = state.today();
    Ok(state
        .store
        .list_action_items(filter, actor.visibility())
        .await?
        .into_iter()
        .map(|item| view(item, today))
        .collect())
}

fn filter_of(
    state: &AppState,
    actor: &Actor,
    query: Result<Query<ActionItemQuery>, QueryRejection>,
) -> Result<ActionItemFilter, ApiError> {
    let Query(query) = query?;
    query
        .validate(Some(actor.user.id), state.today())
        .map_err(ApiError::invalid)
}

/// Every action item the reader may see that passes the filters.
#[utoipa::path(get, path = "/api/v1/action-items", tag = "action items",
    params(ActionItemQuery),
    responses((status = 200, body = ActionItemList),
        (status = 422, description = "A filter is invalid; `details` names it", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    query: Result<Query<ActionItemQuery>, QueryRejection>,
) -> Result<ApiJson<ActionItemList>, ApiError> {
    let filter = filter_of(&state, &actor, query)?;
    Ok(ApiJson(ActionItemList {
        items: filtered(&state, &actor, &filter).await?,
    }))
}

/// A postmortem's action items.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/action-items", tag = "action items",
    params(("id" = i64, Path)),
    responses((status = 200, body = ActionItemList), (status = 404, body = ErrorBody)))]
pub async fn list_of_postmortem(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<ActionItemList>, ApiError> {
    let id = parse_postmortem(&id)?;
    if state
        .store
        .get_postmortem(id, actor.visibility())
        .await?
        .is_none()
    {
        return Err(ApiError::not_found(format!("there is no postmortem {id}")));
    }
    let filter = ActionItemFilter {
        postmortem: Some(id),
        limit: 5000,
        ..Default::default()
    };
    Ok(ApiJson(ActionItemList {
        items: filtered(&state, &actor, &filter).await?,
    }))
}

/// Add an action item to a postmortem. Priority defaults from effort and impact, the due date
/// from the priority's target.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/action-items", tag = "action items",
    params(("id" = i64, Path)), request_body = ActionItemDraft,
    responses((status = 201, body = ActionItem), (status = 404, body = ErrorBody),
        (status = 422, description = "Fields are invalid; `details` names each", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(draft): ApiJson<ActionItemDraft>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_postmortem(&id)?;
    let item = create_item(&state, &actor, id, draft)
        .await
        .map_err(ApiError::or_missing(|| {
            ApiError::not_found(format!("there is no postmortem {id}"))
        }))?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/action-items/{}", item.id),
        )],
        ApiJson(item),
    ))
}

/// Read one action item.
#[utoipa::path(get, path = "/api/v1/action-items/{id}", tag = "action items",
    params(("id" = i64, Path)),
    responses((status = 200, body = ActionItemView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<ActionItemView>, ApiError> {
    let id = parse_item(&id)?;
    let item = state
        .store
        .get_action_item(id, actor.visibility())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no action item {id}")))?;
    Ok(ApiJson(view(item, state.today())))
}

/// Change an action item (JSON Merge Patch). `done` needs `verification`, `not_doing` needs
/// `not_doing_reason`; moving back to `open` or `in_progress` drops them.
#[utoipa::path(patch, path = "/api/v1/action-items/{id}", tag = "action items",
    params(("id" = i64, Path)), request_body = ActionItemPatch,
    responses((status = 200, body = ActionItem), (status = 404, body = ErrorBody),
        (status = 422, description = "Fields are invalid; `details` names each", body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ActionItemPatch>,
) -> Result<ApiJson<ActionItem>, ApiError> {
    let id = parse_item(&id)?;
    let item = update_item(&state, &actor, id, patch)
        .await
        .map_err(ApiError::or_missing(|| {
            ApiError::not_found(format!("there is no action item {id}"))
        }))?;
    Ok(ApiJson(item))
}

/// Export the filtered list: `csv`, or JSON ready to create issues in `github` or `jira`.
#[utoipa::path(get, path = "/api/v1/action-items/export/{format}", tag = "action items",
    params(("format" = String, Path, description = "`csv`, `github` or `jira`"), ActionItemQuery),
    responses((status = 200, description = "The list in that format", content(
            (String = "text/csv"),
            (Vec<Object> = "application/json"),
        )),
        (status = 404, description = "An unknown format", body = ErrorBody),
        (status = 422, description = "A filter is invalid", body = ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(format): Path<String>,
    query: Result<Query<ActionItemQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let filter = filter_of(&state, &actor, query)?;
    let items = filtered(&state, &actor, &filter).await?;
    let base = state
        .follow_through
        .public_url
        .as_deref()
        .unwrap_or_default()
        .trim_end_matches('/')
        .to_owned();
    match format.as_str() {
        "csv" => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"action-items.csv\"",
                ),
            ],
            exports::csv(&items, &base),
        )
            .into_response()),
        "github" => Ok(ApiJson(exports::github(&items, &base)).into_response()),
        "jira" => Ok(ApiJson(exports::jira(&items, &base)).into_response()),
        other => Err(ApiError::not_found(format!(
            "there is no export format `{}`: use csv, github or jira",
            other.chars().take(40).collect::<String>()
        ))),
    }
}
