//! Writing and reading the audit log. Entries are written where the action happens, with who,
//! what, when and from where; a failure to write one is logged, and does not undo the action.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use hindsight_domain::Incident;
use hindsight_domain::access::Permission::Admin;
use hindsight_domain::access::{Actor, AuditEvent, NewAuditEvent, UserId};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::MaybeActor;
use crate::pages::{Nav, PageError, display_time, render};
use crate::routes::Routes;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/audit", Admin, list_audit)
        .get("/admin/audit", Admin, audit_page)
}

/// The client's address, from the connection.
pub fn client_address(parts: &axum::http::Extensions) -> Option<String> {
    parts
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip().to_string())
}

/// Appends an entry; logs and carries on if the database refuses.
pub async fn record(state: &AppState, event: NewAuditEvent) {
    let action = event.action;
    if let Err(error) = state.store.append_audit(event).await {
        tracing::error!(error = %error, audit.action = action, "could not write to the audit log");
    }
}

/// Who is acting in this request and from where, ready to write audit entries.
pub struct Auditor {
    state: AppState,
    user_id: Option<UserId>,
    actor: String,
    address: Option<String>,
}

impl Auditor {
    pub async fn record(
        &self,
        action: &'static str,
        target: impl Into<String>,
        detail: impl Into<String>,
    ) {
        record(
            &self.state,
            NewAuditEvent {
                occurred_at: self.state.clock.now(),
                user_id: self.user_id,
                actor: self.actor.clone(),
                action,
                target: target.into(),
                detail: detail.into(),
                address: self.address.clone(),
            },
        )
        .await;
    }
}

impl Auditor {
    /// Records who may now see an incident, after a change that may have altered it.
    pub async fn incident_privacy(&self, incident: &Incident) {
        let content = &incident.content;
        let detail = if content.private {
            let count = |n: usize, one: &str, many: &str| {
                format!("{n} {}", if n == 1 { one } else { many })
            };
            format!(
                "private: {} and {} besides admins",
                count(content.members.users.len(), "user", "users"),
                count(content.members.teams.len(), "team", "teams")
            )
        } else {
            "public".to_owned()
        };
        self.record(
            "incident.private_changed",
            format!("incident {}", incident.id),
            detail,
        )
        .await;
    }
}

impl FromRequestParts<AppState> for Auditor {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let actor = parts.extensions.get::<Actor>();
        Ok(Self {
            state: state.clone(),
            user_id: actor.map(|actor| actor.user.id),
            actor: actor.map_or("anonymous".to_owned(), |actor| actor.user.email.clone()),
            address: client_address(&parts.extensions),
        })
    }
}

/// A page of the audit log: `before` is the id of the last entry of the previous page.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Only entries older than this id.
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// 1 to 500; 100 by default.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
}

fn page_of(
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<(Option<i64>, u32), ApiError> {
    let Query(query) = query?;
    let mut errors = hindsight_domain::ValidationErrors::new();
    let limit = query.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        errors.add("limit", "limit must be a whole number from 1 to 500");
    }
    if query.before.is_some_and(|before| before < 1) {
        errors.add("before", "before must be a positive id");
    }
    errors
        .into_result((query.before, limit))
        .map_err(ApiError::invalid)
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "accounts", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEvent>), (status = 403, body = ErrorBody)))]
pub async fn list_audit(
    State(state): State<AppState>,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<ApiJson<Vec<AuditEvent>>, ApiError> {
    let (before, limit) = page_of(query)?;
    Ok(ApiJson(state.store.list_audit(before, limit).await?))
}

struct AuditRow {
    when: String,
    actor: String,
    action: String,
    target: String,
    detail: String,
    address: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Nav,
    rows: Vec<AuditRow>,
    older: Option<i64>,
}

async fn audit_page(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let (before, limit) = page_of(query).map_err(|error| PageError {
        status: error.status,
        title: "Bad address",
        message: error.message,
    })?;
    let events = state.store.list_audit(before, limit).await?;
    let older = (events.len() == limit as usize)
        .then(|| events.last().map(|event| event.id))
        .flatten();
    let rows = events
        .into_iter()
        .map(|event| AuditRow {
            when: display_time(event.occurred_at),
            actor: event.actor,
            action: event.action,
            target: event.target,
            detail: event.detail,
            address: event.address.unwrap_or_default(),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &AuditPage {
            nav: Nav::of(actor.as_ref()),
            rows,
            older,
        },
    ))
}
