//! The review meeting over HTTP: the JSON API, the invite as `.ics`, and meeting mode. What the
//! API and the pages share lives here: gathering what the domain proposes from, and each change
//! (schedule, reschedule, cancel, held, notes) with the notifications it sends and its audit entry.

pub mod api;
mod pages;

use hindsight_domain::access::Permission::{Public, Read, Write};
use hindsight_domain::access::{Actor, Visibility};
use hindsight_domain::document::{Postmortem, PostmortemId};
use hindsight_domain::incident::Incident;
use hindsight_domain::meeting::{
    self, Context, Facts, HeldRequest, MeetingRequest, MeetingSettings, MeetingStatus, Organizer,
    Proposal, ReviewMeeting,
};
use hindsight_domain::notify::Person;
use hindsight_domain::timeline::TimelineEvent;
use hindsight_store::StoreError;

use crate::AppState;
use crate::audit::Auditor;
use crate::routes::Routes;

/// How meetings are run: every team's rules and who sends the invites.
#[derive(Debug, Clone)]
pub struct MeetingConfig {
    pub settings: MeetingSettings,
    pub organizer: Organizer,
}

impl Default for MeetingConfig {
    fn default() -> Self {
        Self {
            settings: MeetingSettings::default(),
            organizer: Organizer {
                name: "Hindsight".into(),
                email: "hindsight@localhost".into(),
            },
        }
    }
}

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/postmortems/{id}/meeting", Read, api::get)
        .post("/api/v1/postmortems/{id}/meeting", Write, api::schedule)
        .patch("/api/v1/postmortems/{id}/meeting", Write, api::reschedule)
        .get(
            "/api/v1/postmortems/{id}/meeting/proposal",
            Read,
            api::proposal,
        )
        .post(
            "/api/v1/postmortems/{id}/meeting/cancel",
            Write,
            api::cancel,
        )
        .post("/api/v1/postmortems/{id}/meeting/held", Write, api::held)
        .put("/api/v1/postmortems/{id}/meeting/notes", Write, api::notes)
        .get("/api/v1/postmortems/{id}/meeting.ics", Read, api::invite)
        .get("/postmortems/{id}/meeting", Read, pages::show)
        .post("/postmortems/{id}/meeting", Write, pages::schedule)
        .post(
            "/postmortems/{id}/meeting/reschedule",
            Write,
            pages::reschedule,
        )
        .post("/postmortems/{id}/meeting/cancel", Write, pages::cancel)
        .post("/postmortems/{id}/meeting/held", Write, pages::held)
        .post("/postmortems/{id}/meeting/notes", Write, pages::notes)
        .get("/assets/meeting.js", Public, pages::script)
}

/// What every meeting route reads: a postmortem the reader may see, its incidents and its
/// meeting.
pub(crate) struct Review {
    pub postmortem: Postmortem,
    pub incidents: Vec<Incident>,
    pub meeting: Option<ReviewMeeting>,
}

impl Review {
    /// Whether any of its incidents is private: then nothing is announced in public.
    fn private(&self) -> bool {
        self.incidents
            .iter()
            .any(|incident| incident.content.private)
    }
}

/// A review with what a proposal is made from besides: the timelines, the active people and
/// teams, and the moderators' rotation.
pub(crate) struct Loaded {
    pub review: Review,
    pub events: Vec<TimelineEvent>,
    pub people: Vec<Person>,
    pub teams: Vec<hindsight_domain::access::Team>,
    pub moderated: std::collections::BTreeMap<hindsight_domain::access::UserId, jiff::Timestamp>,
}

impl Loaded {
    pub fn facts(&self, now: jiff::Timestamp) -> Facts<'_> {
        Facts {
            postmortem: &self.review.postmortem,
            incidents: &self.review.incidents,
            events: &self.events,
            people: &self.people,
            teams: &self.teams,
            moderated: &self.moderated,
            now,
        }
    }
}

/// Reads the postmortem (`NotFound` when the reader may not see it), its incidents and its
/// meeting. The incidents are read as admins see them: the meeting is about all of them, and
/// the postmortem's own visibility was checked.
pub(crate) async fn read(
    state: &AppState,
    actor: &Actor,
    id: PostmortemId,
) -> Result<Review, StoreError> {
    let postmortem = state
        .store
        .get_postmortem(id, actor.visibility())
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut incidents = Vec::new();
    for incident in &postmortem.document.incidents {
        incidents.extend(
            state
                .store
                .get_incident(*incident, Visibility::Everything)
                .await?,
        );
    }
    Ok(Review {
        meeting: state.store.get_meeting(id).await?,
        postmortem,
        incidents,
    })
}

/// [`read`], with the timelines (so that a private incident's responders are proposed to its
/// members' meeting too), the active people, the teams and the rotation.
pub(crate) async fn load(
    state: &AppState,
    actor: &Actor,
    id: PostmortemId,
) -> Result<Loaded, StoreError> {
    let review = read(state, actor, id).await?;
    let mut events = Vec::new();
    for incident in &review.postmortem.document.incidents {
        events.extend(
            state
                .store
                .list_events(*incident, Visibility::Everything)
                .await?
                .unwrap_or_default(),
        );
    }
    let people = active_people(state).await?;
    Ok(Loaded {
        review,
        events,
        people,
        teams: state.store.list_teams().await?,
        moderated: state.store.moderator_history().await?,
    })
}

/// The users who are not disabled, as the rules that match names to people see them.
pub(crate) async fn active_people(state: &AppState) -> Result<Vec<Person>, StoreError> {
    Ok(state
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|user| !user.disabled)
        .map(|user| Person {
            id: user.id,
            name: user.display_name,
            email: user.email,
        })
        .collect())
}

/// The proposal for this reader, with a delay for investigation of `delay_days`.
pub(crate) fn propose(state: &AppState, loaded: &Loaded, delay_days: u32) -> Proposal {
    meeting::propose(
        &loaded.facts(state.clock.now()),
        &state.meetings.settings,
        delay_days.min(meeting::MAX_DELAY_DAYS),
    )
}

/// The public URL links in invites start with.
pub(crate) fn base_url(state: &AppState, host: Option<&str>) -> String {
    match (&state.follow_through.public_url, host) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(host)) => format!("http://{host}"),
        (None, None) => "http://localhost".to_owned(),
    }
}

fn uid_host(state: &AppState) -> String {
    state
        .follow_through
        .public_url
        .as_deref()
        .and_then(|url| url.split("://").nth(1))
        .and_then(|rest| rest.split(['/', ':']).next())
        .filter(|host| !host.is_empty())
        .unwrap_or("hindsight")
        .to_owned()
}

/// Stores `meeting`, made from `previous` (`None` for a new one), with its notifications, and
/// audits it. The store refuses a new meeting where a live one exists.
async fn save(
    state: &AppState,
    auditor: &Auditor,
    review: &Review,
    meeting: ReviewMeeting,
    previous: Option<&ReviewMeeting>,
    action: &'static str,
    host: Option<&str>,
) -> Result<ReviewMeeting, StoreError> {
    let now = state.clock.now();
    let base = base_url(state, host);
    let context = Context {
        postmortem: &review.postmortem,
        organizer: &state.meetings.organizer,
        public_url: &base,
        private: review.private(),
        now,
    };
    let notifications = meeting::notifications(&meeting, previous, &context);
    let saved = state
        .store
        .save_meeting(meeting, previous.map(|m| m.updated_at), notifications, now)
        .await?;
    let mut detail = format!(
        "{} at {} ({} min, sequence {})",
        saved.status, saved.starts_at, saved.duration_minutes, saved.sequence
    );
    if let Some(reason) = &saved.over_cap_reason {
        detail.push_str(&format!("; {} attendees: {reason}", saved.attendees.len()));
    }
    auditor
        .record(
            action,
            format!("postmortem:{}", saved.postmortem_id),
            detail,
        )
        .await;
    tracing::info!(postmortem.id = %saved.postmortem_id, meeting.status = %saved.status, action, "review meeting changed");
    Ok(saved)
}

/// Scheduling a new meeting, or changing the scheduled one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Schedule,
    Reschedule,
}

/// Schedules the meeting from the proposal and the request, or changes the scheduled one (a
/// new time, length, attendees or moderator).
pub(crate) async fn plan(
    state: &AppState,
    actor: &Actor,
    auditor: &Auditor,
    id: PostmortemId,
    request: MeetingRequest,
    change: Change,
    host: Option<&str>,
) -> Result<ReviewMeeting, StoreError> {
    let loaded = load(state, actor, id).await?;
    let current = match change {
        Change::Schedule => None,
        Change::Reschedule => Some(scheduled(&loaded.review, "rescheduled")?),
    };
    let proposal = propose(state, &loaded, request.delay_days.unwrap_or(0));
    let facts = loaded.facts(state.clock.now());
    let plan = meeting::apply(
        &request,
        &proposal,
        current,
        &facts,
        &state.meetings.settings,
    )?;
    let (meeting, action) = match current {
        None => (
            plan.schedule(id, &unique(), &uid_host(state), state.clock.now()),
            "meeting.schedule",
        ),
        Some(current) => (plan.reschedule(current), "meeting.reschedule"),
    };
    save(
        state,
        auditor,
        &loaded.review,
        meeting,
        current,
        action,
        host,
    )
    .await
}

/// Random text that makes a new invite's `UID` unique.
fn unique() -> String {
    use rand_core::RngCore;
    let mut bytes = [0u8; 8];
    rand_core::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn scheduled<'a>(review: &'a Review, verb: &str) -> Result<&'a ReviewMeeting, StoreError> {
    match &review.meeting {
        Some(meeting) if meeting.status == MeetingStatus::Scheduled => Ok(meeting),
        Some(meeting) => Err(StoreError::Conflict(format!(
            "the meeting is {}; only a scheduled meeting can be {verb}",
            meeting.status
        ))),
        None => Err(StoreError::NotFound),
    }
}

pub(crate) async fn cancel(
    state: &AppState,
    actor: &Actor,
    auditor: &Auditor,
    id: PostmortemId,
    host: Option<&str>,
) -> Result<ReviewMeeting, StoreError> {
    let review = read(state, actor, id).await?;
    let current = scheduled(&review, "cancelled")?;
    let meeting = meeting::cancel(current)?;
    save(
        state,
        auditor,
        &review,
        meeting,
        Some(current),
        "meeting.cancel",
        host,
    )
    .await
}

pub(crate) async fn held(
    state: &AppState,
    actor: &Actor,
    auditor: &Auditor,
    id: PostmortemId,
    request: HeldRequest,
) -> Result<ReviewMeeting, StoreError> {
    let review = read(state, actor, id).await?;
    let current = scheduled(&review, "marked held")?;
    let meeting = meeting::mark_held(current, &request, state.clock.now())?;
    save(
        state,
        auditor,
        &review,
        meeting,
        Some(current),
        "meeting.held",
        None,
    )
    .await
}

/// Saves the notes as typed. `NotFound` without a meeting; a cancelled one takes no notes.
pub(crate) async fn save_notes(
    state: &AppState,
    actor: &Actor,
    id: PostmortemId,
    notes: String,
) -> Result<(), StoreError> {
    meeting::check_notes(&notes)?;
    state
        .store
        .get_postmortem(id, actor.visibility())
        .await?
        .ok_or(StoreError::NotFound)?;
    if state
        .store
        .save_meeting_notes(id, notes, state.clock.now())
        .await?
    {
        Ok(())
    } else {
        match state.store.get_meeting(id).await? {
            None => Err(StoreError::NotFound),
            Some(_) => Err(StoreError::Conflict(
                "the meeting is cancelled; its notes can no longer change".into(),
            )),
        }
    }
}

/// The meeting's invite as it stands, for download.
pub(crate) fn invite(
    state: &AppState,
    postmortem: &Postmortem,
    meeting: &ReviewMeeting,
    host: Option<&str>,
) -> String {
    let base = base_url(state, host);
    meeting::ics::write(&meeting::ics::Invite {
        meeting,
        title: &postmortem.document.title,
        organizer: &state.meetings.organizer,
        pre_read: &format!("{base}/postmortems/{}", postmortem.id),
        now: meeting.updated_at,
    })
}
