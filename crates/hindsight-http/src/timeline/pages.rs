//! The timeline on the incident page: events in order with key moments marked, the metrics
//! panel, adding and editing events, and the Slack import form. Times are shown in the
//! viewer's zone: `?tz=Europe/London` chooses it without JavaScript, and `localtime.js` picks
//! the browser's.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::access::Actor;
use hindsight_domain::timeline::{
    self, EventContent, EventDraft, EventKind, EventSource, Metrics, TimelineEvent,
};
use hindsight_domain::{Incident, IncidentId, ValidationErrors};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use serde::Deserialize;

use crate::AppState;
use crate::gate::MaybeActor;
use crate::lookup::{load, visibility};
use crate::pages::{Nav, PageError, render};

pub const LOCALTIME_SCRIPT: &str = include_str!("../../assets/localtime.js");

/// The zone times are shown in: a valid IANA name from `?tz=`, else UTC.
pub fn viewer_zone(tz: Option<&str>) -> TimeZone {
    tz.and_then(|name| TimeZone::get(name.trim()).ok())
        .unwrap_or(TimeZone::UTC)
}

/// One day of the timeline as shown: incidents span midnight, so every day is headed.
pub struct Day {
    /// "Friday 20 November 2026", in the viewer's zone.
    pub heading: String,
    pub events: Vec<Row>,
}

/// One event as shown.
pub struct Row {
    pub id: i64,
    pub time: String,
    pub datetime: String,
    pub kind: &'static str,
    pub kind_label: &'static str,
    pub source: &'static str,
    pub author: String,
    pub html: String,
    pub link: Option<String>,
    pub key: bool,
    /// The key time it shows, for people: "resolved_at".
    pub holds: Option<&'static str>,
    /// Hindsight's own key-time events change only with the incident.
    pub editable: bool,
}

/// The timeline section of the incident page.
pub struct TimelineView {
    pub days: Vec<Day>,
    pub metrics: Vec<(&'static str, String)>,
    pub zone: String,
    pub kinds: &'static [EventKind],
    pub incident: i64,
}

impl TimelineView {
    pub fn new(incident: &Incident, events: &[TimelineEvent], zone: &TimeZone) -> Self {
        let metrics = Metrics::of(&incident.content, events)
            .named()
            .into_iter()
            .map(|(name, value)| (name, timeline::format_duration(value)))
            .collect();
        let zoned = |time: Timestamp| -> Zoned { time.to_zoned(zone.clone()) };
        let mut days: Vec<Day> = Vec::new();
        let mut current_date = None;
        for event in events {
            let at = zoned(event.content.occurred_at);
            if current_date != Some(at.date()) {
                current_date = Some(at.date());
                days.push(Day {
                    heading: at.strftime("%A %-d %B %Y").to_string(),
                    events: Vec::new(),
                });
            }
            let holds = event.holds.map(|key| key.as_str());
            days.last_mut().expect("a day was pushed").events.push(Row {
                id: event.id.get(),
                time: at.strftime("%H:%M").to_string(),
                datetime: event.content.occurred_at.to_string(),
                kind: event.content.kind.as_str(),
                kind_label: event.content.kind.label(),
                source: event.source.as_str(),
                author: event.author.clone().unwrap_or_default(),
                html: crate::markdown::render(&event.content.text),
                link: event.content.link.clone(),
                key: event.content.key || holds.is_some(),
                holds,
                editable: !(event.source == EventSource::System && holds.is_some()),
            });
        }
        let zone_name = zone.iana_name().unwrap_or("UTC").to_owned();
        Self {
            days,
            metrics,
            zone: zone_name,
            kinds: EventKind::ALL,
            incident: incident.id.get(),
        }
    }
}

/// The add and edit form's fields, named as the API names them, plus the zone a time without
/// an offset is read in.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EventForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub occurred_at: String,
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub link: String,
    /// Checked: leave the incident's key times as they are.
    #[serde(default)]
    pub keep_key_time: Option<String>,
    /// Checked: the event really is more than a year before the incident started.
    #[serde(default)]
    pub confirm_early: Option<String>,
}

impl EventForm {
    fn of(event: &TimelineEvent, zone: &TimeZone) -> Self {
        Self {
            kind: event.content.kind.as_str().into(),
            occurred_at: event
                .content
                .occurred_at
                .to_zoned(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S")
                .to_string(),
            time_zone: zone.iana_name().unwrap_or("UTC").into(),
            text: event.content.text.clone(),
            key: event.content.key.then(|| "on".into()),
            link: event.content.link.clone().unwrap_or_default(),
            keep_key_time: None,
            confirm_early: None,
        }
    }

    /// The API's draft, and what the form itself finds wrong: a time without an offset is
    /// read in the form's zone, and a zone that is not one is reported beside the draft's own
    /// errors, so every bad field shows at once.
    fn to_draft(&self) -> (EventDraft, ValidationErrors) {
        let mut errors = ValidationErrors::new();
        let text = self.occurred_at.trim();
        let has_offset = text.ends_with('Z')
            || text.ends_with('z')
            || text
                .rsplit_once('T')
                .is_some_and(|(_, time)| time.contains('+') || time.contains('-'));
        let zone_name = match self.time_zone.trim() {
            "" => "UTC",
            name => name,
        };
        let zone = TimeZone::get(zone_name).map_err(|_| {
            errors.add(
                "time_zone",
                format!(
                    "`{}` is not a time zone name like Europe/London",
                    zone_name.chars().take(40).collect::<String>()
                ),
            )
        });
        let civil = (!text.is_empty() && !has_offset)
            .then(|| text.parse::<jiff::civil::DateTime>().ok())
            .flatten();
        let occurred_at = match (civil, zone) {
            (Some(civil), Ok(zone)) => match civil.to_zoned(zone) {
                Ok(zoned) => zoned.timestamp().to_string(),
                Err(error) => {
                    errors.add("occurred_at", error.to_string());
                    String::new()
                }
            },
            // A time with an offset, an empty one, or one that is no time: the draft's own
            // check reports it.
            _ => text.to_owned(),
        };
        let draft = EventDraft {
            kind: Some(self.kind.clone()),
            occurred_at: Some(occurred_at),
            text: self.text.clone(),
            key: self.key.is_some(),
            link: Some(self.link.clone()),
            sets_key_time: Some(self.keep_key_time.is_none()),
            confirm_early: self.confirm_early.is_some(),
        };
        (draft, errors)
    }

    /// The form checked whole: the event, or every problem with it.
    fn check(&self, now: Timestamp) -> Result<(EventContent, bool), ValidationErrors> {
        let (draft, mut errors) = self.to_draft();
        match draft.validate(now) {
            Ok(valid) if errors.is_empty() => Ok(valid),
            Ok(_) => Err(errors),
            Err(more) => {
                errors.0.extend(more.0);
                Err(errors)
            }
        }
    }
}

#[derive(Template)]
#[template(path = "timeline/event.html")]
struct EventPage {
    nav: Nav,
    incident: Incident,
    /// `None` when adding.
    event: Option<i64>,
    form: EventForm,
    errors: ValidationErrors,
    kinds: &'static [EventKind],
}

fn author(actor: &Option<Actor>) -> Option<String> {
    actor.as_ref().map(|actor| actor.user.display_name.clone())
}

fn form_page(
    actor: &Option<Actor>,
    incident: Incident,
    event: Option<i64>,
    form: EventForm,
    errors: ValidationErrors,
) -> Response {
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    render(
        status,
        &EventPage {
            nav: Nav::of(actor.as_ref()),
            incident,
            event,
            form,
            errors,
            kinds: EventKind::ALL,
        },
    )
}

/// Back to the incident's timeline, in the zone the writer worked in.
fn back_to(incident: IncidentId, zone: &str) -> Response {
    let zone = zone.trim();
    let query = if zone.is_empty() || zone == "UTC" || TimeZone::get(zone).is_err() {
        String::new()
    } else {
        format!("?tz={}", zone.replace('+', "%2B"))
    };
    Redirect::to(&format!("/incidents/{incident}{query}#timeline")).into_response()
}

pub async fn add_event(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    Path(id): Path<String>,
    form: Result<Form<EventForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let incident = load(&state, &actor, &id).await?;
    let now = state.clock.now();
    let checked = form.check(now);
    let checked = match checked {
        Ok(valid) => valid,
        Err(errors) => return Ok(form_page(&actor, incident, None, form, errors)),
    };
    let result = super::add_event(
        &state,
        incident.id,
        visibility(&actor),
        super::PersonEvent::new(checked, form.confirm_early.is_some()),
        author(&actor),
        now,
    )
    .await;
    match result {
        Ok(_) => Ok(back_to(incident.id, &form.time_zone)),
        Err(hindsight_store::StoreError::Invalid(errors)) => {
            Ok(form_page(&actor, incident, None, form, errors))
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Debug, Deserialize)]
pub struct ZoneQuery {
    pub tz: Option<String>,
}

pub async fn edit_event_form(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    Path((id, event)): Path<(String, String)>,
    Query(query): Query<ZoneQuery>,
) -> Result<Response, PageError> {
    let incident = load(&state, &actor, &id).await?;
    let events = state
        .store
        .list_events(incident.id, visibility(&actor))
        .await?
        .unwrap_or_default();
    let found = event
        .parse::<i64>()
        .ok()
        .and_then(|event| events.iter().find(|e| e.id.get() == event))
        .ok_or_else(|| PageError::not_found("This incident has no such event."))?;
    let zone = viewer_zone(query.tz.as_deref());
    let form = EventForm::of(found, &zone);
    Ok(form_page(
        &actor,
        incident,
        Some(found.id.get()),
        form,
        ValidationErrors::new(),
    ))
}

pub async fn edit_event(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    Path((id, event)): Path<(String, String)>,
    form: Result<Form<EventForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let incident = load(&state, &actor, &id).await?;
    let event_id: timeline::EventId = event
        .parse()
        .map_err(|()| PageError::not_found("This incident has no such event."))?;
    let now = state.clock.now();
    let checked = match form.check(now) {
        Ok(valid) => valid,
        Err(errors) => {
            return Ok(form_page(
                &actor,
                incident,
                Some(event_id.get()),
                form,
                errors,
            ));
        }
    };
    let result = super::edit_event(
        &state,
        incident.id,
        visibility(&actor),
        event_id,
        super::PersonEvent::new(checked, form.confirm_early.is_some()),
        author(&actor),
        now,
    )
    .await;
    match result {
        Ok(_) => Ok(back_to(incident.id, &form.time_zone)),
        Err(hindsight_store::StoreError::Invalid(errors)) => Ok(form_page(
            &actor,
            incident,
            Some(event_id.get()),
            form,
            errors,
        )),
        Err(hindsight_store::StoreError::NotFound) => {
            Err(PageError::not_found("This incident has no such event."))
        }
        Err(error) => Err(error.into()),
    }
}

pub async fn delete_event(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    Path((id, event)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let incident = load(&state, &actor, &id).await?;
    let event_id: timeline::EventId = event
        .parse()
        .map_err(|()| PageError::not_found("This incident has no such event."))?;
    let now = state.clock.now();
    let result = super::remove_event(
        &state,
        incident.id,
        visibility(&actor),
        event_id,
        author(&actor),
        now,
    )
    .await;
    match result {
        Ok(_) => Ok(back_to(incident.id, "")),
        Err(hindsight_store::StoreError::Invalid(errors)) => Err(PageError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: "This event stays",
            message: errors
                .0
                .first()
                .map(|e| e.message.clone())
                .unwrap_or_default(),
        }),
        Err(hindsight_store::StoreError::NotFound) => {
            Err(PageError::not_found("This incident has no such event."))
        }
        Err(error) => Err(error.into()),
    }
}

#[derive(Template)]
#[template(path = "timeline/imported.html")]
struct ImportedPage {
    nav: Nav,
    incident: Incident,
    error: Option<String>,
    added: u64,
    skipped: u64,
    left_out: u64,
}

/// The import form posts `multipart/form-data`: `export` (the zip), `channel`, `from`, `to`.
pub async fn import_slack(
    State(state): State<AppState>,
    MaybeActor(actor): MaybeActor,
    Path(id): Path<String>,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Result<Response, PageError> {
    let incident = load(&state, &actor, &id).await?;
    let page = |error: Option<String>, outcome: (u64, u64, u64)| {
        let status = if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        render(
            status,
            &ImportedPage {
                nav: Nav::of(actor.as_ref()),
                incident: incident.clone(),
                error,
                added: outcome.0,
                skipped: outcome.1,
                left_out: outcome.2,
            },
        )
    };
    let mut multipart = match multipart {
        Ok(multipart) => multipart,
        Err(rejection) => return Ok(page(Some(rejection.body_text()), (0, 0, 0))),
    };
    let (mut channel, mut from, mut to, mut file) = (String::new(), None, None, None);
    let limit = state.timeline.max_import_bytes;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(error) => {
                return Ok(page(
                    Some(format!("The upload broke off: {error}")),
                    (0, 0, 0),
                ));
            }
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "export" {
            use std::io::Write;
            let mut spooled = tempfile::tempfile().map_err(|error| PageError::internal(&error))?;
            let mut field = field;
            let mut written = 0u64;
            loop {
                match field.chunk().await {
                    Ok(Some(chunk)) => {
                        written += chunk.len() as u64;
                        if written > limit {
                            return Ok(page(
                                Some(format!(
                                    "The export is larger than the limit of {limit} bytes."
                                )),
                                (0, 0, 0),
                            ));
                        }
                        spooled
                            .write_all(&chunk)
                            .map_err(|error| PageError::internal(&error))?;
                    }
                    Ok(None) => break,
                    Err(error) => {
                        return Ok(page(
                            Some(format!("The upload broke off: {error}")),
                            (0, 0, 0),
                        ));
                    }
                }
            }
            if written > 0 {
                file = Some(spooled);
            }
        } else {
            let value = field.text().await.unwrap_or_default();
            match name.as_str() {
                "channel" => channel = value,
                "from" => from = Some(value),
                "to" => to = Some(value),
                _ => {}
            }
        }
    }
    let Some(file) = file else {
        return Ok(page(
            Some("Choose the export's .zip file to import.".into()),
            (0, 0, 0),
        ));
    };
    let options = match super::slack::ImportOptions::parse(
        &channel,
        from.as_deref(),
        to.as_deref(),
        state.timeline.slack_key_reactions.clone(),
    ) {
        Ok(options) => options,
        Err(errors) => return Ok(page(Some(errors.summary()), (0, 0, 0))),
    };
    let result = super::slack::import(
        &state.store,
        incident.id,
        visibility(&actor),
        state.clock.now(),
        file,
        options,
        None,
    )
    .await;
    Ok(match result {
        Ok((summary, outcome)) => page(None, (outcome.added, outcome.skipped, summary.left_out)),
        Err(error) => page(Some(error.to_string()), (0, 0, 0)),
    })
}

pub async fn localtime_script() -> impl IntoResponse {
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "text/javascript; charset=utf-8",
            ),
            (axum::http::header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        LOCALTIME_SCRIPT,
    )
}
