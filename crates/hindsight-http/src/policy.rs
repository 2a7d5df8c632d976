//! Whether an incident deserves a postmortem, over HTTP: its decision with every rule that
//! fired, requests, overrides, and the list of postmortems owed ("postmortem debt").
//!
//! The policy runs again after every change to an incident (its API, its pages, its timeline,
//! alert intake), through [`rejudge`]; the store keeps a decision only when it changed.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::IncidentId;
use hindsight_domain::access::Actor;
use hindsight_domain::access::Permission::{Read, Write};
use hindsight_domain::action_item::{DueTargets, days_past};
use hindsight_domain::policy::{
    self, PolicyConfig, PolicyOutcome, PolicyOverride, PostmortemRequest, check_justification,
};
use hindsight_store::{PendingPostmortem, PolicyJudgement, PolicyState, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::{CurrentActor, MaybeActor};
use crate::lookup::author_of;
use crate::lookup::parse_id;
use crate::lookup::{load, visibility};
use crate::pages::{Nav, PageError, render};
use crate::routes::Routes;

/// The organisation's policy and follow-through settings.
#[derive(Debug, Clone, Default)]
pub struct FollowThroughSettings {
    pub policy: PolicyConfig,
    /// Default due dates of action items, by priority.
    pub due_targets: DueTargets,
    /// Where people reach Hindsight (`https://hindsight.example.com`), for links in exports
    /// that leave it; relative links when unset.
    pub public_url: Option<String>,
    /// When the action item review meets; the agenda lists what finished since the last one.
    pub agenda: Option<hindsight_domain::notify::Recurrence>,
}

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/incidents/{id}/policy", Read, get_policy)
        .post(
            "/api/v1/incidents/{id}/policy/override",
            Write,
            override_api,
        )
        // Anyone who can see an incident may ask for a postmortem on it (seed 000: "just
        // bringing it up is reason enough"), viewers included.
        .post(
            "/api/v1/incidents/{id}/postmortem-requests",
            Read,
            request_api,
        )
        .get("/api/v1/postmortem-debt", Read, debt_api)
        .post("/incidents/{id}/postmortem-requests", Read, request_page)
        .post("/incidents/{id}/policy/override", Write, override_page)
        .get("/postmortems/debt", Read, debt_page)
}

/// The judgement the store runs, with the configured policy.
pub fn judgement(config: &PolicyConfig) -> PolicyJudgement {
    let config = config.clone();
    Box::new(move |incident, requests, override_| {
        policy::judge(&config, &incident.content, requests, override_)
    })
}

/// Runs the policy on an incident after a change to it. The change is committed already, so a
/// failure here is logged, not reported to the person who made the change; the next change or
/// read runs it again.
pub(crate) async fn rejudge(state: &AppState, incident: IncidentId) -> Option<PolicyState> {
    match state
        .store
        .judge_incident(
            incident,
            state.clock.now(),
            judgement(&state.follow_through.policy),
        )
        .await
    {
        Ok(policy) => Some(policy),
        Err(error) => {
            tracing::error!(incident.id = %incident, %error, "the policy could not run");
            None
        }
    }
}

/// The incident's policy state. One that was never judged (an incident from before the policy
/// existed, or whose judgement failed after a change) is judged here in memory, for this
/// answer only: a read never writes, and the next change to the incident stores a decision.
pub(crate) async fn current(
    state: &AppState,
    incident: &hindsight_domain::Incident,
    visibility: hindsight_domain::access::Visibility,
) -> Result<Option<PolicyState>, StoreError> {
    let Some(mut policy) = state.store.get_policy(incident.id, visibility).await? else {
        return Ok(None);
    };
    if policy.decision.is_none() {
        let verdict = policy::judge(
            &state.follow_through.policy,
            &incident.content,
            &policy.requests,
            policy.override_.as_ref(),
        );
        policy.outcome = Some(verdict.outcome);
        policy.decision = Some(hindsight_store::DecisionRecord {
            decision: verdict.decision,
            at: state.clock.now(),
        });
    }
    Ok(Some(policy))
}

/// The decision on an incident, every rule that fired, requests, overrides and history.
#[utoipa::path(get, path = "/api/v1/incidents/{id}/policy", tag = "policy",
    params(("id" = String, Path, description = "The incident: `42` or `INC-42`")),
    responses((status = 200, body = PolicyState), (status = 404, body = ErrorBody)))]
pub async fn get_policy(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<PolicyState>, ApiError> {
    let id = parse_id(&id)?;
    let missing = || ApiError::not_found(format!("there is no incident {id}"));
    let incident = state
        .store
        .get_incident(id, actor.visibility())
        .await?
        .ok_or_else(missing)?;
    current(&state, &incident, actor.visibility())
        .await?
        .map(ApiJson)
        .ok_or_else(missing)
}

/// A person's decision in place of the policy's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideRequest {
    /// `required`, `recommended`, `not_needed`, or `null` to withdraw an override.
    #[schema(value_type = Option<PolicyOutcome>)]
    pub outcome: Option<String>,
    /// Why, in a sentence or more; kept and shown beside the decision.
    pub justification: Option<String>,
}

fn check_override(
    outcome: Option<&str>,
    justification: Option<&str>,
) -> Result<(Option<PolicyOutcome>, String), hindsight_domain::ValidationErrors> {
    let mut errors = hindsight_domain::ValidationErrors::new();
    let outcome = match outcome.map(str::trim).filter(|text| !text.is_empty()) {
        None | Some("none") => None,
        Some(text) => PolicyOutcome::parse(text).or_else(|| {
            errors.add(
                "outcome",
                format!(
                    "`{text}` is not an outcome: {} (or null to withdraw)",
                    PolicyOutcome::expected()
                ),
            );
            None
        }),
    };
    let justification = check_justification("justification", justification);
    match justification {
        Ok(text) => errors.into_result((outcome, text)),
        Err(more) => {
            errors.0.extend(more.0);
            Err(errors)
        }
    }
}

/// Override the policy's decision, with a written justification.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/policy/override", tag = "policy",
    params(("id" = String, Path, description = "The incident: `42` or `INC-42`")), request_body = OverrideRequest,
    responses((status = 200, body = PolicyState), (status = 404, body = ErrorBody),
        (status = 422, description = "No justification, or an unknown outcome", body = ErrorBody)))]
pub async fn override_api(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<OverrideRequest>,
) -> Result<ApiJson<PolicyState>, ApiError> {
    let id = parse_id(&id)?;
    let (outcome, justification) =
        check_override(request.outcome.as_deref(), request.justification.as_deref())
            .map_err(ApiError::invalid)?;
    save_override(&state, &actor, id, outcome, justification)
        .await
        .map_err(ApiError::or_missing(|| {
            ApiError::not_found(format!("there is no incident {id}"))
        }))?
        .map(ApiJson)
        .ok_or_else(|| ApiError::internal(&"the policy did not run after an override"))
}

async fn save_override(
    state: &AppState,
    actor: &Actor,
    id: IncidentId,
    outcome: Option<PolicyOutcome>,
    justification: String,
) -> Result<Option<PolicyState>, StoreError> {
    state
        .store
        .override_policy(
            id,
            actor.visibility(),
            PolicyOverride {
                outcome,
                justification,
                by: author_of(actor),
                at: state.clock.now(),
            },
        )
        .await?;
    tracing::info!(incident.id = %id, outcome = ?outcome, "policy overridden");
    Ok(rejudge(state, id).await)
}

/// Someone asking for a postmortem.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostmortemRequestBody {
    /// Why you are asking; bringing it up is reason enough, but say what you want to learn.
    pub reason: Option<String>,
}

/// Ask for a postmortem on an incident; the request counts as a trigger.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/postmortem-requests", tag = "policy",
    params(("id" = String, Path, description = "The incident: `42` or `INC-42`")), request_body = PostmortemRequestBody,
    responses((status = 201, body = PolicyState), (status = 404, body = ErrorBody),
        (status = 422, description = "No reason given", body = ErrorBody)))]
pub async fn request_api(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PostmortemRequestBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let reason =
        check_justification("reason", body.reason.as_deref()).map_err(ApiError::invalid)?;
    let policy = save_request(&state, &actor, id, reason)
        .await
        .map_err(ApiError::or_missing(|| {
            ApiError::not_found(format!("there is no incident {id}"))
        }))?
        .ok_or_else(|| ApiError::internal(&"the policy did not run after a request"))?;
    Ok((StatusCode::CREATED, ApiJson(policy)))
}

async fn save_request(
    state: &AppState,
    actor: &Actor,
    id: IncidentId,
    reason: String,
) -> Result<Option<PolicyState>, StoreError> {
    state
        .store
        .request_postmortem(
            id,
            actor.visibility(),
            PostmortemRequest {
                requested_by: author_of(actor),
                reason,
                at: state.clock.now(),
            },
        )
        .await?;
    tracing::info!(incident.id = %id, user.id = %actor.user.id, "postmortem requested");
    Ok(rejudge(state, id).await)
}

/// A postmortem owed, with how late it is.
#[derive(Debug, Serialize, ToSchema)]
pub struct DebtRow {
    #[serde(flatten)]
    pub pending: PendingPostmortem,
    /// Days past the due date; absent when not due yet or not resolved.
    pub days_overdue: Option<i64>,
}

async fn debt(state: &AppState, actor: &Option<Actor>) -> Result<Vec<DebtRow>, StoreError> {
    let today = state.today();
    Ok(state
        .store
        .list_postmortem_debt(visibility(actor))
        .await?
        .into_iter()
        .map(|pending| DebtRow {
            days_overdue: pending.due_on.and_then(|due| days_past(due, today)),
            pending,
        })
        .collect())
}

/// Required postmortems not yet published, the earliest due first.
#[utoipa::path(get, path = "/api/v1/postmortem-debt", tag = "policy",
    responses((status = 200, body = Vec<DebtRow>)))]
pub async fn debt_api(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiJson<Vec<DebtRow>>, ApiError> {
    Ok(ApiJson(debt(&state, &Some(actor)).await?))
}

#[derive(Debug, Deserialize)]
pub struct RequestForm {
    pub reason: Option<String>,
}

pub async fn request_page(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<RequestForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let incident = load(&state, &Some(actor.clone()), &id).await?;
    let reason = check_justification("reason", form.reason.as_deref())
        .map_err(|errors| PageError::invalid(&errors))?;
    save_request(&state, &actor, incident.id, reason).await?;
    Ok(Redirect::to(&format!("/incidents/{}#policy", incident.id)).into_response())
}

#[derive(Debug, Deserialize)]
pub struct OverrideForm {
    pub outcome: Option<String>,
    pub justification: Option<String>,
}

pub async fn override_page(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<OverrideForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let incident = load(&state, &Some(actor.clone()), &id).await?;
    let (outcome, justification) =
        check_override(form.outcome.as_deref(), form.justification.as_deref())
            .map_err(|errors| PageError::invalid(&errors))?;
    save_override(&state, &actor, incident.id, outcome, justification).await?;
    Ok(Redirect::to(&format!("/incidents/{}#policy", incident.id)).into_response())
}

/// The incident page's policy panel.
#[derive(Debug, Clone)]
pub struct PolicyView {
    pub incident: IncidentId,
    pub outcome: String,
    /// The outcome as a CSS class.
    pub outcome_class: &'static str,
    pub decision_outcome: String,
    pub explanation: String,
    /// (rule, kind, why, counts as)
    pub rules: Vec<(String, &'static str, String, String)>,
    pub override_: Option<PolicyOverride>,
    pub requests: Vec<PostmortemRequest>,
    pub pending_owner: Option<String>,
    pub pending_due: Option<String>,
    pub history: Vec<(String, String)>,
    pub outcomes: &'static [PolicyOutcome],
}

impl PolicyView {
    pub fn of(policy: &PolicyState) -> Self {
        let decision = policy.decision.as_ref().map(|record| &record.decision);
        Self {
            incident: policy.incident_id,
            outcome: policy
                .outcome
                .map(PolicyOutcome::words)
                .unwrap_or_else(|| "unknown".into()),
            outcome_class: policy.outcome.map_or("unknown", PolicyOutcome::as_str),
            decision_outcome: decision
                .map(|decision| decision.outcome.words())
                .unwrap_or_default(),
            explanation: decision
                .map(|decision| decision.explanation.clone())
                .unwrap_or_default(),
            rules: decision
                .map(|decision| {
                    decision
                        .rules
                        .iter()
                        .map(|fired| {
                            (
                                fired.rule.words(),
                                if fired.rule.is_trigger() {
                                    "trigger"
                                } else {
                                    "against"
                                },
                                fired.reason.clone(),
                                fired.counts_as_words(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            override_: policy.override_.clone(),
            requests: policy.requests.clone(),
            pending_owner: policy.pending.as_ref().map(|pending| {
                pending
                    .owner
                    .as_ref()
                    .map_or("nobody yet".into(), |owner| owner.name.clone())
            }),
            pending_due: policy.pending.as_ref().map(|pending| {
                pending
                    .due_on
                    .map_or("once resolved".into(), |due| due.to_string())
            }),
            history: policy
                .history
                .iter()
                .map(|record| {
                    (
                        crate::pages::display_time(record.at),
                        record.decision.outcome.words(),
                    )
                })
                .collect(),
            outcomes: PolicyOutcome::ALL,
        }
    }
}

#[derive(Template)]
#[template(path = "policy/debt.html")]
struct DebtPage {
    nav: Nav,
    rows: Vec<DebtRow>,
}

pub async fn debt_page(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
) -> Result<Response, PageError> {
    let rows = debt(&state, &actor).await?;
    Ok(render(
        StatusCode::OK,
        &DebtPage {
            nav: Nav::of(actor.as_ref()),
            rows,
        },
    ))
}
