//! Follow-through over HTTP: the action item review's agenda (for the meeting itself), and the
//! deliveries of notifications with their attempts, for admins, with replay of a dead one.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::access::Permission::{Admin, Read};
use hindsight_domain::access::Visibility;
use hindsight_domain::notify::{Agenda, DeliveryStatus};
use hindsight_store::{Delivery, DeliveryFilter};
use jiff::Timestamp;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::audit::Auditor;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::CurrentActor;
use crate::pages::{Nav, PageError, display_time, render};
use crate::routes::Routes;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/reviews/agenda", Read, agenda_api)
        .get("/reviews/agenda", Read, agenda_page)
        .get("/api/v1/deliveries", Admin, list_api)
        .post("/api/v1/deliveries/{id}/replay", Admin, replay_api)
        .get("/admin/deliveries", Admin, list_page)
        .post("/admin/deliveries/{id}/replay", Admin, replay_page)
}

/// Since when finished items are shown: the review before today's on a meeting day, else the
/// last one; two weeks when no review is scheduled.
fn since(state: &AppState, now: Timestamp) -> Timestamp {
    match &state.follow_through.agenda {
        Some(recurrence) => {
            let slot = recurrence.latest_slot(now);
            let today = now.to_zoned(recurrence.time_zone.clone()).date();
            if slot.date() == today {
                recurrence.previous_slot(&slot).timestamp()
            } else {
                slot.timestamp()
            }
        }
        None => now
            .checked_sub(jiff::SignedDuration::from_hours(24 * 14))
            .unwrap_or(now),
    }
}

async fn agenda_for(state: &AppState, visibility: Visibility) -> Result<Agenda, ApiError> {
    let now = state.clock.now();
    Ok(
        hindsight_jobs::plan::agenda(&*state.store, state.today(), since(state, now), visibility)
            .await?,
    )
}

/// The action item review: every open item grouped by owner (nobody's first, then the owners
/// with the most overdue), with age, due date, status and last update, and the items finished
/// since the last review.
#[utoipa::path(get, path = "/api/v1/reviews/agenda", tag = "action items",
    responses((status = 200, body = Agenda), (status = 401, body = ErrorBody)))]
pub async fn agenda_api(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiJson<Agenda>, ApiError> {
    Ok(ApiJson(agenda_for(&state, actor.visibility()).await?))
}

#[derive(Template)]
#[template(path = "follow_up/agenda.html")]
struct AgendaPage {
    nav: Nav,
    agenda: Agenda,
    since: String,
    open_count: usize,
}

async fn agenda_page(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<Response, PageError> {
    let agenda = agenda_for(&state, actor.visibility())
        .await
        .map_err(|error| PageError::internal(&error.message))?;
    Ok(render(
        StatusCode::OK,
        &AgendaPage {
            nav: Nav::of(Some(&actor)),
            since: display_time(agenda.since),
            open_count: agenda.open.iter().map(|group| group.items.len()).sum(),
            agenda,
        },
    ))
}

/// Which deliveries to list, newest first.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// pending, delivered, dead or disabled.
    pub status: Option<String>,
    /// 1 to 1000; 100 by default.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<u32>,
}

fn filter_of(
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<DeliveryFilter, ApiError> {
    let Query(query) = query?;
    let mut errors = hindsight_domain::ValidationErrors::new();
    let status = match query.status.as_deref().filter(|text| !text.is_empty()) {
        None => None,
        Some(text) => DeliveryStatus::parse(text).or_else(|| {
            errors.add(
                "status",
                format!("status must be one of {}", DeliveryStatus::expected()),
            );
            None
        }),
    };
    let limit = query.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        errors.add("limit", "limit must be 1 to 1000");
    }
    errors
        .into_result(DeliveryFilter { status, limit })
        .map_err(ApiError::invalid)
}

/// Deliveries of notifications to Slack, webhooks and email, newest first, each with every
/// attempt: when, by which instance, what came back.
#[utoipa::path(get, path = "/api/v1/deliveries", tag = "accounts", params(DeliveryQuery),
    responses((status = 200, body = Vec<Delivery>), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn list_api(
    State(state): State<AppState>,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<ApiJson<Vec<Delivery>>, ApiError> {
    let filter = filter_of(query)?;
    Ok(ApiJson(state.store.list_deliveries(&filter).await?))
}

fn delivery_id(id: &str) -> Result<i64, ApiError> {
    id.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::not_found("There is no such delivery."))
}

async fn replay(state: &AppState, auditor: &Auditor, id: &str) -> Result<Delivery, ApiError> {
    let id = delivery_id(id)?;
    let delivery = state.store.replay_delivery(id, state.clock.now()).await?;
    auditor
        .record(
            "delivery.replay",
            format!("delivery:{id}"),
            delivery.target.clone(),
        )
        .await;
    Ok(delivery)
}

/// Makes a dead or disabled delivery due again with fresh attempts; a channel disabled by a
/// 410 Gone is enabled again. 409 when the delivery is pending or delivered.
#[utoipa::path(post, path = "/api/v1/deliveries/{id}/replay", tag = "accounts",
    params(("id" = i64, Path)),
    responses((status = 200, body = Delivery), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody)))]
pub async fn replay_api(
    State(state): State<AppState>,
    auditor: Auditor,
    Path(id): Path<String>,
) -> Result<ApiJson<Delivery>, ApiError> {
    Ok(ApiJson(replay(&state, &auditor, &id).await?))
}

struct DeliveryRow {
    delivery: Delivery,
    created: String,
    next: String,
    replayable: bool,
}

#[derive(Template)]
#[template(path = "follow_up/deliveries.html")]
struct DeliveriesPage {
    nav: Nav,
    rows: Vec<DeliveryRow>,
    disabled: Vec<String>,
    statuses: &'static [DeliveryStatus],
    status: String,
}

async fn list_page(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    query: Result<Query<DeliveryQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let filter = filter_of(query).map_err(|error| PageError {
        status: error.status,
        title: "The filters could not be read",
        message: error.message,
    })?;
    let rows = state
        .store
        .list_deliveries(&filter)
        .await?
        .into_iter()
        .map(|delivery| DeliveryRow {
            created: display_time(delivery.created_at),
            next: display_time(delivery.next_attempt_at),
            replayable: matches!(
                delivery.status,
                DeliveryStatus::Dead | DeliveryStatus::Disabled
            ),
            delivery,
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &DeliveriesPage {
            nav: Nav::of(Some(&actor)),
            rows,
            disabled: state.store.disabled_channels().await?,
            statuses: DeliveryStatus::ALL,
            status: filter
                .status
                .map(|s| s.as_str().to_owned())
                .unwrap_or_default(),
        },
    ))
}

async fn replay_page(
    State(state): State<AppState>,
    auditor: Auditor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    replay(&state, &auditor, &id)
        .await
        .map_err(|error| PageError {
            status: error.status,
            title: "The delivery could not be replayed",
            message: error.message,
        })?;
    Ok(Redirect::to("/admin/deliveries").into_response())
}
