//! The incident pages: list with filters, one incident, and the form to create or edit one.
//! They work without JavaScript: plain links, GET forms for filters, POST forms for changes,
//! and a redirect after every successful POST.

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::access::Visibility;
use hindsight_domain::{
    Incident, IncidentId, IncidentQuery, IncidentStatus, Severity, ValidationErrors,
};
use hindsight_store::StoreError;

use super::form::IncidentForm;
use crate::AppState;
use crate::audit::Auditor;
use crate::gate::MaybeActor;
use crate::lookup::{load, visibility};
use crate::pages::{Nav, PageError, display_time, render};

/// An incident as a row of the list.
struct IncidentRow {
    id: IncidentId,
    title: String,
    severity: &'static str,
    status: &'static str,
    services: String,
    started: String,
    owner: String,
    /// The newest postmortem covering it: its id and status, in words.
    postmortem: Option<(String, String)>,
}

impl From<&Incident> for IncidentRow {
    fn from(incident: &Incident) -> Self {
        let content = &incident.content;
        Self {
            id: incident.id,
            title: content.title.clone(),
            severity: content.severity.as_str(),
            status: content.status.as_str(),
            services: content.services.join(", "),
            started: display_time(content.started_at),
            owner: content.owner.clone().unwrap_or_default(),
            postmortem: None,
        }
    }
}

/// A postmortem as the incident page shows it.
pub struct PostmortemBrief {
    pub id: String,
    pub title: String,
    pub status: String,
    pub status_key: &'static str,
    pub owner: String,
    pub items_total: usize,
    pub items_done: usize,
}

/// The postmortems covering `incident` that this reader may see, newest first.
async fn postmortems_of(
    state: &AppState,
    visibility: hindsight_domain::access::Visibility,
    incident: IncidentId,
    limit: u32,
) -> Result<Vec<hindsight_domain::document::Postmortem>, hindsight_store::StoreError> {
    state
        .store
        .list_postmortems(
            &hindsight_store::PostmortemFilter {
                incident: Some(incident),
                limit,
                ..Default::default()
            },
            visibility,
        )
        .await
}

#[derive(Template)]
#[template(path = "incidents/list.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<IncidentRow>,
    query: IncidentQuery,
    errors: ValidationErrors,
    next_href: Option<String>,
    severities: &'static [Severity],
    statuses: &'static [IncidentStatus],
}

impl ListPage {
    fn selected_status(&self, status: &IncidentStatus) -> bool {
        self.query.status.as_deref() == Some(status.as_str())
    }

    fn selected_severity(&self, severity: &Severity) -> bool {
        self.query.severity.as_deref() == Some(severity.as_str())
    }
}

pub async fn list_incidents(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    query: Result<Query<IncidentQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let query = query.map(|Query(query)| query).unwrap_or_default();
    let (rows, errors, next_href) = match query.parse() {
        Ok(filter) => {
            let page = state
                .store
                .list_incidents(&filter, visibility(&actor))
                .await?;
            let next_href = page.next_cursor.map(|cursor| {
                let next = IncidentQuery {
                    cursor: Some(cursor.encode()),
                    ..query.clone()
                };
                format!(
                    "/incidents?{}",
                    serde_urlencoded::to_string(&next).expect("strings encode")
                )
            });
            let mut rows: Vec<IncidentRow> = page.items.iter().map(IncidentRow::from).collect();
            for row in &mut rows {
                row.postmortem = postmortems_of(&state, visibility(&actor), row.id, 1)
                    .await?
                    .first()
                    .map(|postmortem| (postmortem.id.to_string(), postmortem.status.words()));
            }
            (rows, ValidationErrors::new(), next_href)
        }
        Err(errors) => (Vec::new(), errors, None),
    };
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    Ok(render(
        status,
        &ListPage {
            nav: Nav::of(actor.as_ref()),
            rows,
            query,
            errors,
            next_href,
            severities: Severity::ALL,
            statuses: IncidentStatus::ALL,
        },
    ))
}

/// Label and value pairs, for the definition lists of the incident page.
type Facts = Vec<(&'static str, String)>;

#[derive(Template)]
#[template(path = "incidents/show.html")]
struct ShowPage {
    nav: Nav,
    incident: Incident,
    /// The summary's Markdown, rendered and sanitized.
    summary_html: String,
    times: Facts,
    impact: Facts,
    facts: Facts,
    timeline: crate::timeline::pages::TimelineView,
    policy: Option<crate::policy::PolicyView>,
    postmortems: Vec<PostmortemBrief>,
}

pub async fn show_incident(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    Path(id): Path<String>,
    Query(zone): Query<crate::timeline::pages::ZoneQuery>,
) -> Result<Response, PageError> {
    let incident = load(&state, &actor, &id).await?;
    let events = state
        .store
        .list_events(incident.id, visibility(&actor))
        .await?
        .unwrap_or_default();
    let timeline = crate::timeline::pages::TimelineView::new(
        &incident,
        &events,
        &crate::timeline::pages::viewer_zone(zone.tz.as_deref()),
    );
    let policy = crate::policy::current(&state, &incident, visibility(&actor))
        .await?
        .map(|policy| crate::policy::PolicyView::of(&policy));
    let mut postmortems = Vec::new();
    if let Some(actor) = &actor {
        let users = state.store.list_users().await?;
        for postmortem in postmortems_of(&state, actor.visibility(), incident.id, 20).await? {
            let items = crate::action_items::of_postmortem(&state, postmortem.id).await?;
            postmortems.push(PostmortemBrief {
                id: postmortem.id.to_string(),
                title: postmortem.document.title.clone(),
                status: postmortem.status.words(),
                status_key: postmortem.status.as_str(),
                owner: postmortem
                    .document
                    .owner
                    .and_then(|owner| users.iter().find(|user| user.id == owner))
                    .map_or_else(|| "nobody yet".to_owned(), |user| user.display_name.clone()),
                items_done: items
                    .iter()
                    .filter(|item| item.content.status.is_finished())
                    .count(),
                items_total: items.len(),
            });
        }
    }
    let content = &incident.content;
    let time = |time: Option<jiff::Timestamp>| time.map_or("unknown".to_owned(), display_time);
    let count = |count: Option<u64>| count.map_or("unknown".to_owned(), |count| count.to_string());
    let yes_no = |flag: bool| if flag { "yes" } else { "no" }.to_owned();
    let times = vec![
        (
            "Started (error introduced)",
            display_time(content.started_at),
        ),
        ("Detected", time(content.detected_at)),
        ("Acknowledged", time(content.acknowledged_at)),
        ("Mitigated", time(content.mitigated_at)),
        ("Resolved", time(content.resolved_at)),
    ];
    let mut impact = vec![
        (
            "User-visible minutes",
            count(content.impact.user_visible_minutes),
        ),
        ("Users affected", count(content.impact.users_affected)),
        ("Requests failed", count(content.impact.requests_failed)),
        ("Data lost", yes_no(content.impact.data_loss)),
        ("Security breach", yes_no(content.impact.security_breach)),
    ];
    for (name, value) in &content.impact.business {
        impact.push(("Business", format!("{name}: {value}")));
    }
    let known = |value: Option<&str>| value.unwrap_or("unknown").to_owned();
    let facts = vec![
        ("Owner", known(content.owner.as_deref())),
        ("Services", content.services.join(", ")),
        (
            "Detected by",
            known(content.detection.map(|value| value.as_str())),
        ),
        (
            "Cause",
            known(content.cause_origin.map(|value| value.as_str())),
        ),
        ("Tags", content.tags.join(", ")),
        ("Recorded", display_time(incident.created_at)),
        ("Last changed", display_time(incident.updated_at)),
    ];
    Ok(render(
        StatusCode::OK,
        &ShowPage {
            nav: Nav::of(actor.as_ref()),
            summary_html: crate::markdown::render(&incident.content.summary),
            incident,
            times,
            impact,
            facts,
            timeline,
            policy,
            postmortems,
        },
    ))
}

#[derive(Template)]
#[template(path = "incidents/form.html")]
struct FormPage {
    nav: Nav,
    /// `None` for a new incident.
    id: Option<IncidentId>,
    form: IncidentForm,
    errors: ValidationErrors,
    severities: &'static [Severity],
    statuses: &'static [IncidentStatus],
}

impl FormPage {
    fn new(nav: Nav, id: Option<IncidentId>, form: IncidentForm, errors: ValidationErrors) -> Self {
        Self {
            nav,
            id,
            form,
            errors,
            severities: Severity::ALL,
            statuses: IncidentStatus::ALL,
        }
    }

    fn error(&self, field: &str) -> Option<&str> {
        self.errors.message_for(field)
    }

    fn action(&self) -> String {
        match self.id {
            Some(id) => format!("/incidents/{id}"),
            None => "/incidents".to_owned(),
        }
    }
}

pub async fn new_incident(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
) -> Response {
    let form = IncidentForm::blank(state.clock.now());
    let nav = Nav::of(actor.as_ref());
    render(
        StatusCode::OK,
        &FormPage::new(nav, None, form, ValidationErrors::new()),
    )
}

pub async fn edit_incident(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let incident = load(&state, &actor, &id).await?;
    let form = IncidentForm::from_incident(&incident);
    Ok(render(
        StatusCode::OK,
        &FormPage::new(
            Nav::of(actor.as_ref()),
            Some(incident.id),
            form,
            ValidationErrors::new(),
        ),
    ))
}

pub async fn create_incident(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    auditor: Auditor,
    form: Result<Form<IncidentForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let now = state.clock.now();
    let (mut draft, mut errors) = form.to_draft(None);
    if let Some(actor) = &actor {
        draft.keep_author_in(
            actor.user.id,
            actor.visibility() == Visibility::Everything,
            false,
        );
    }
    let incident = match draft.validate(now) {
        Ok(incident) if errors.is_empty() => incident,
        Ok(_) => return Ok(invalid_form(Nav::of(actor.as_ref()), None, form, errors)),
        Err(more) => {
            errors.0.extend(more.0);
            return Ok(invalid_form(Nav::of(actor.as_ref()), None, form, errors));
        }
    };
    let incident = state
        .store
        .create_incident(
            incident,
            actor.as_ref().map(|a| a.user.display_name.clone()),
            now,
        )
        .await?;
    if incident.content.private {
        auditor.incident_privacy(&incident).await;
    }
    crate::policy::rejudge(&state, incident.id).await;
    tracing::info!(incident.id = %incident.id, "incident created");
    Ok(Redirect::to(&format!("/incidents/{}", incident.id)).into_response())
}

const STALE_EDIT: &str = "Someone changed this incident after you opened this form. Your \
    changes are below and were not saved; open the incident again to see theirs.";

pub async fn update_incident(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    auditor: Auditor,
    Path(id): Path<String>,
    form: Result<Form<IncidentForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let current = load(&state, &actor, &id).await?;
    let (mut draft, errors) = form.to_draft(Some(&current.content));
    if let Some(actor) = &actor {
        draft.keep_author_in(
            actor.user.id,
            actor.visibility() == Visibility::Everything,
            current.content.private,
        );
    }
    if !errors.is_empty() {
        return Ok(invalid_form(
            Nav::of(actor.as_ref()),
            Some(current.id),
            form,
            errors,
        ));
    }
    let now = state.clock.now();
    let loaded_version = form.updated_at.clone();
    let result = state
        .store
        .update_incident(
            current.id,
            visibility(&actor),
            actor.as_ref().map(|a| a.user.display_name.clone()),
            now,
            Box::new(move |latest| {
                if latest.updated_at.as_microsecond().to_string() != loaded_version {
                    return Err(ValidationErrors::single("updated_at", STALE_EDIT));
                }
                draft.validate(now)
            }),
        )
        .await;
    match result {
        Ok(incident) => {
            crate::policy::rejudge(&state, incident.id).await;
            if incident.content.private != current.content.private {
                auditor.incident_privacy(&incident).await;
            }
            tracing::info!(incident.id = %incident.id, "incident updated");
            Ok(Redirect::to(&format!("/incidents/{}", incident.id)).into_response())
        }
        Err(StoreError::Invalid(errors)) => Ok(invalid_form(
            Nav::of(actor.as_ref()),
            Some(current.id),
            form,
            errors,
        )),
        Err(error) => Err(error.into()),
    }
}

fn invalid_form(
    nav: Nav,
    id: Option<IncidentId>,
    form: IncidentForm,
    errors: ValidationErrors,
) -> Response {
    let status = if errors.message_for("updated_at").is_some() {
        StatusCode::CONFLICT
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(status, &FormPage::new(nav, id, form, errors))
}
