//! Meeting mode: `/postmortems/{id}/meeting`. Before a meeting exists it shows the proposal as
//! a form to schedule it; once scheduled, the code of conduct on top, the agenda, the notes
//! (saved as typed by `meeting.js`, or with the Save button without JavaScript), attendance and
//! the held button, and the forms to reschedule or cancel.

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::document::PostmortemId;
use hindsight_domain::meeting::{
    AGENDA, CODE_OF_CONDUCT, HeldRequest, MeetingRequest, MeetingStatus, Proposal, ReviewMeeting,
};
use hindsight_domain::notify::Person;

use super::api::host;
use super::{Change, load, propose};
use crate::AppState;
use crate::audit::Auditor;
use crate::gate::CurrentActor;
use crate::pages::{Nav, PageError, render};

const SCRIPT: &str = include_str!("../../assets/meeting.js");

pub async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        SCRIPT,
    )
}

/// One step of the agenda, with where the postmortem stands on it.
struct Step {
    title: &'static str,
    hint: &'static str,
    status: String,
}

/// A person a form may pick, and whether the proposal or the meeting picked them.
struct Choice {
    id: i64,
    name: String,
    role: String,
    chosen: bool,
}

#[derive(Template)]
#[template(path = "meetings/meeting.html")]
struct MeetingPage {
    nav: Nav,
    id: PostmortemId,
    title: String,
    conduct: [&'static str; 3],
    agenda: Vec<Step>,
    meeting: Option<ReviewMeeting>,
    /// The meeting's start as the team reads it.
    when: String,
    proposal: Proposal,
    /// The start and length the form shows: the meeting's, else the proposal's. The start is a
    /// `datetime-local` value; sent back unchanged, it is not a change.
    form_start: String,
    form_duration: u32,
    people: Vec<Choice>,
    moderators: Vec<Choice>,
}

fn parse(id: &str) -> Result<PostmortemId, PageError> {
    id.parse()
        .map_err(|()| PageError::not_found("There is no such postmortem."))
}

fn local_field(zoned: &jiff::Zoned) -> String {
    zoned.strftime("%Y-%m-%dT%H:%M").to_string()
}

pub async fn show(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse(&id)?;
    let loaded = load(&state, &actor, id).await?;
    let proposal = propose(&state, &loaded, 0);
    let document = &loaded.review.postmortem.document;
    let written = |key: &str| {
        if document
            .sections
            .get(key)
            .is_some_and(|text| !text.trim().is_empty())
        {
            "written"
        } else {
            "not written yet"
        }
    };
    let items = crate::action_items::counts(&state, id).await?.0;
    let agenda = AGENDA
        .iter()
        .zip([
            format!(
                "Summary {}, impact {}, timeline {}.",
                written("summary"),
                written("impact"),
                written("timeline")
            ),
            format!("{} chain(s) written.", document.why_chains.len()),
            format!(
                "{} contributing factor(s) recorded.",
                document.factors.len()
            ),
            format!("{items} action item(s)."),
            String::new(),
        ])
        .map(|((title, hint), status)| Step {
            title,
            hint,
            status,
        })
        .collect();
    let live = loaded
        .review
        .meeting
        .clone()
        .filter(|meeting| meeting.status != MeetingStatus::Cancelled);
    let chosen: Vec<i64> = match &live {
        Some(meeting) => meeting.attendees.iter().map(|a| a.user_id.get()).collect(),
        None => proposal.attendees.iter().map(|a| a.user_id.get()).collect(),
    };
    let role_of = |person: &Person| {
        live.iter()
            .flat_map(|m| m.attendees.iter())
            .chain(proposal.attendees.iter())
            .find(|a| a.user_id == person.id)
            .map(|a| a.role.words())
            .unwrap_or_default()
    };
    let people = loaded
        .people
        .iter()
        .map(|person| Choice {
            id: person.id.get(),
            name: person.name.clone(),
            role: role_of(person),
            chosen: chosen.contains(&person.id.get()),
        })
        .collect();
    let current_moderator = live
        .as_ref()
        .and_then(|m| m.moderator.as_ref())
        .or(proposal.moderator.as_ref())
        .map(|m| m.id);
    let moderators = proposal
        .moderator_candidates
        .iter()
        .map(|person| Choice {
            id: person.id.get(),
            name: person.name.clone(),
            role: String::new(),
            chosen: Some(person.id) == current_moderator,
        })
        .collect();
    let zone = jiff::tz::TimeZone::get(&proposal.time_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let form_start = match &live {
        Some(meeting) => local_field(&meeting.local_start()),
        None => local_field(&proposal.starts_at.to_zoned(zone)),
    };
    let form_duration = live
        .as_ref()
        .map_or(proposal.duration_minutes, |m| m.duration_minutes);
    let when = live
        .as_ref()
        .map(|m| {
            m.local_start()
                .strftime("%A %-d %B %Y, %H:%M %Z")
                .to_string()
        })
        .unwrap_or_default();
    Ok(render(
        axum::http::StatusCode::OK,
        &MeetingPage {
            nav: Nav::of(Some(&actor)),
            id,
            title: document.title.clone(),
            conduct: CODE_OF_CONDUCT,
            agenda,
            meeting: live,
            when,
            proposal,
            form_start,
            form_duration,
            people,
            moderators,
        },
    ))
}

/// The schedule and reschedule forms as sent: repeated `attendee` fields, so read as pairs.
fn request_of(pairs: &[(String, String)]) -> Result<MeetingRequest, PageError> {
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    };
    let number = |name: &str| -> Result<Option<i64>, PageError> {
        field(name)
            .map(|text| {
                text.parse::<i64>().map_err(|_| {
                    PageError::invalid(&hindsight_domain::ValidationErrors::single(
                        name,
                        format!("{name} must be a whole number"),
                    ))
                })
            })
            .transpose()
    };
    let attendees: Option<Vec<i64>> = if pairs.iter().any(|(key, _)| key == "attendees_sent") {
        Some(
            pairs
                .iter()
                .filter(|(key, _)| key == "attendee")
                .map(|(_, value)| value.parse::<i64>().unwrap_or(0))
                .collect(),
        )
    } else {
        None
    };
    let starts_at =
        field("starts_at").filter(|start| field("proposed_start").as_ref() != Some(start));
    Ok(MeetingRequest {
        starts_at,
        delay_days: number("delay_days")?.map(|days| days.clamp(0, 1000) as u32),
        delay_reason: field("delay_reason"),
        duration_minutes: number("duration_minutes")?
            .map(|minutes| minutes.clamp(0, 100_000) as u32),
        attendees,
        over_cap_reason: field("over_cap_reason"),
        moderator: number("moderator")?,
    })
}

fn back(id: PostmortemId) -> Response {
    Redirect::to(&format!("/postmortems/{id}/meeting")).into_response()
}

pub async fn schedule(
    state: State<AppState>,
    actor: CurrentActor,
    auditor: Auditor,
    headers: HeaderMap,
    id: Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    submit(state, actor, auditor, headers, id, form, Change::Schedule).await
}

pub async fn reschedule(
    state: State<AppState>,
    actor: CurrentActor,
    auditor: Auditor,
    headers: HeaderMap,
    id: Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    submit(state, actor, auditor, headers, id, form, Change::Reschedule).await
}

async fn submit(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    headers: HeaderMap,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
    change: Change,
) -> Result<Response, PageError> {
    let Form(pairs) = form?;
    let id = parse(&id)?;
    let request = request_of(&pairs)?;
    let host = host(&headers);
    super::plan(
        &state,
        &actor,
        &auditor,
        id,
        request,
        change,
        host.as_deref(),
    )
    .await?;
    Ok(back(id))
}

pub async fn cancel(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let id = parse(&id)?;
    super::cancel(&state, &actor, &auditor, id, host(&headers).as_deref()).await?;
    Ok(back(id))
}

pub async fn held(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(pairs) = form?;
    let id = parse(&id)?;
    let attended = pairs
        .iter()
        .filter(|(key, _)| key == "attended")
        .map(|(_, value)| value.parse::<i64>().unwrap_or(0))
        .collect();
    super::held(&state, &actor, &auditor, id, HeldRequest { attended }).await?;
    Ok(back(id))
}

#[derive(Debug, serde::Deserialize)]
pub struct NotesForm {
    notes: String,
}

pub async fn notes(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<NotesForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let id = parse(&id)?;
    super::save_notes(&state, &actor, id, form.notes).await?;
    Ok(Redirect::to(&format!("/postmortems/{id}/meeting#notes")).into_response())
}
