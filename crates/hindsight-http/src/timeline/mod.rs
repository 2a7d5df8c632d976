//! The timeline over HTTP: its JSON API, the alert intake, Slack imports, and the timeline's
//! part of the incident page.

pub mod api;
pub mod intake;
pub(crate) mod pages;
pub mod slack;

use hindsight_domain::IncidentId;
use hindsight_domain::access::Permission::{Public, Read, Write};
use hindsight_domain::access::Visibility;
use hindsight_domain::timeline::{self, EventContent, EventId, EventSource, NewEvent};
use hindsight_store::{StoreError, TimelineOutcome};
use jiff::Timestamp;

use crate::AppState;
use crate::routes::Routes;

/// Applies a timeline change, then runs the policy: a key time the change moved (a
/// resolution, say) can change the decision or the due date.
async fn change_timeline(
    state: &AppState,
    incident: IncidentId,
    visibility: Visibility,
    target: Option<EventId>,
    now: Timestamp,
    change: hindsight_store::TimelineChange,
) -> Result<TimelineOutcome, StoreError> {
    let outcome = state
        .store
        .change_timeline(incident, visibility, target, now, change)
        .await?;
    crate::policy::rejudge(state, incident).await;
    Ok(outcome)
}

/// A person's event as checked: what it says, whether it may set a key time, and whether they
/// confirmed a time more than a year before the incident's start.
pub(crate) struct PersonEvent {
    pub content: EventContent,
    pub sets_key_time: bool,
    pub confirm_early: bool,
}

impl PersonEvent {
    pub fn new((content, sets_key_time): (EventContent, bool), confirm_early: bool) -> Self {
        Self {
            content,
            sets_key_time,
            confirm_early,
        }
    }
}

/// Adds a person's event to the timeline: what the API and the form share.
pub(crate) async fn add_event(
    state: &AppState,
    incident: IncidentId,
    visibility: Visibility,
    PersonEvent {
        content,
        sets_key_time,
        confirm_early,
    }: PersonEvent,
    author: Option<String>,
    now: Timestamp,
) -> Result<TimelineOutcome, StoreError> {
    change_timeline(
        state,
        incident,
        visibility,
        None,
        now,
        Box::new(move |incident, events| {
            timeline::refuse_early(&content, &incident.content, confirm_early)?;
            let event = NewEvent {
                content,
                source: EventSource::Manual,
                author,
                external_id: None,
                holds: None,
            };
            timeline::add_events(incident, events, vec![(event, sets_key_time)], now)
        }),
    )
    .await
}

/// Changes what an event says.
pub(crate) async fn edit_event(
    state: &AppState,
    incident: IncidentId,
    visibility: Visibility,
    event: EventId,
    PersonEvent {
        content,
        sets_key_time,
        confirm_early,
    }: PersonEvent,
    author: Option<String>,
    now: Timestamp,
) -> Result<TimelineOutcome, StoreError> {
    change_timeline(
        state,
        incident,
        visibility,
        Some(event),
        now,
        Box::new(move |incident, events| {
            let target = events
                .iter()
                .find(|e| e.id == event)
                .expect("the store loads it");
            // A time confirmed once stays confirmed: only a moved event is checked again.
            let moved = target.content.occurred_at != content.occurred_at;
            timeline::refuse_early(&content, &incident.content, confirm_early || !moved)?;
            timeline::edit_event(
                incident,
                events,
                target,
                content,
                sets_key_time,
                author.as_deref(),
                now,
            )
        }),
    )
    .await
}

/// Removes an event.
pub(crate) async fn remove_event(
    state: &AppState,
    incident: IncidentId,
    visibility: Visibility,
    event: EventId,
    author: Option<String>,
    now: Timestamp,
) -> Result<TimelineOutcome, StoreError> {
    change_timeline(
        state,
        incident,
        visibility,
        Some(event),
        now,
        Box::new(move |incident, events| {
            let target = events
                .iter()
                .find(|e| e.id == event)
                .expect("the store loads it");
            timeline::remove_event(incident, events, target, author.as_deref(), now)
        }),
    )
    .await
}

/// What the timeline features are configured with.
#[derive(Debug, Clone)]
pub struct TimelineSettings {
    pub intake: intake::IntakeSettings,
    /// Reactions that make an imported message a key event (names without colons).
    pub slack_key_reactions: Vec<String>,
    /// The largest Slack export the API takes.
    pub max_import_bytes: u64,
}

impl Default for TimelineSettings {
    fn default() -> Self {
        Self {
            intake: intake::IntakeSettings::default(),
            slack_key_reactions: vec!["pushpin".into()],
            max_import_bytes: 512 * 1024 * 1024,
        }
    }
}

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/incidents/{id}/timeline", Read, api::get_timeline)
        .post("/api/v1/incidents/{id}/timeline", Write, api::add_event)
        .put(
            "/api/v1/incidents/{id}/timeline/{event}",
            Write,
            api::edit_event,
        )
        .delete(
            "/api/v1/incidents/{id}/timeline/{event}",
            Write,
            api::delete_event,
        )
        .post(
            "/api/v1/incidents/{id}/timeline/imports/slack",
            Write,
            api::import_slack,
        )
        // Each source authenticates itself (see `intake`), so the gate lets it through.
        .post("/api/v1/intake/{source}", Public, intake::receive)
        .post("/incidents/{id}/timeline", Write, pages::add_event)
        .get(
            "/incidents/{id}/timeline/{event}/edit",
            Write,
            pages::edit_event_form,
        )
        .post("/incidents/{id}/timeline/{event}", Write, pages::edit_event)
        .post(
            "/incidents/{id}/timeline/{event}/delete",
            Write,
            pages::delete_event,
        )
        // The form streams the export to a file within `max_import_bytes`.
        .post_upload(
            "/incidents/{id}/timeline/import",
            Write,
            pages::import_slack,
        )
        .get("/assets/localtime.js", Public, pages::localtime_script)
}
