//! The reading view: a postmortem as a document for everyone allowed to read it. Sections as
//! Markdown, the 5 Whys as chains, factors, lessons, action items with their owners, the
//! response metrics, the incidents it covers, the review meeting and its notes, who wrote it
//! and when. It holds no form control for readers; editors get an Edit button. It prints as
//! it reads, and it is the page a publication links to.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hindsight_domain::access::Visibility;
use hindsight_domain::document::{LintException, Postmortem};
use hindsight_domain::draft;
use hindsight_domain::meeting::MeetingStatus;
use hindsight_domain::postmortem::PostmortemStatus;
use hindsight_domain::timeline::{self, Metrics};
use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::template_named;
use crate::AppState;
use crate::gate::CurrentActor;
use crate::pages::{Nav, PageError, render};

/// What the reading view renders of one version of a postmortem: its sections as HTML, who
/// wrote it and when it was published. A version never changes, so this is kept and shared by
/// every reader of that version (whose right to read it is checked before each lookup), up
/// to [`DocumentCache::MAX_BYTES`] of HTML.
struct Rendered {
    sections: Vec<SectionRow>,
    authors: String,
    published: Option<String>,
    bytes: usize,
}

/// A version is named by its postmortem, its number and the instant it was written, so that a
/// postmortem made again under a discarded draft's id is never mistaken for it.
type VersionKey = (i64, u32, i64);

#[derive(Default)]
pub(crate) struct DocumentCache {
    entries: std::sync::Mutex<DocumentEntries>,
}

#[derive(Default)]
struct DocumentEntries {
    by_version: std::collections::HashMap<VersionKey, Arc<Rendered>>,
    /// Oldest first: what goes when the cache is full.
    order: std::collections::VecDeque<VersionKey>,
    bytes: usize,
}

impl DocumentCache {
    const MAX_BYTES: usize = 32 * 1024 * 1024;

    fn get(&self, key: VersionKey) -> Option<Arc<Rendered>> {
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        entries.by_version.get(&key).cloned()
    }

    fn put(&self, key: VersionKey, rendered: Arc<Rendered>) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if rendered.bytes > Self::MAX_BYTES || entries.by_version.contains_key(&key) {
            return;
        }
        while entries.bytes + rendered.bytes > Self::MAX_BYTES {
            let Some(oldest) = entries.order.pop_front() else {
                break;
            };
            if let Some(gone) = entries.by_version.remove(&oldest) {
                entries.bytes -= gone.bytes;
            }
        }
        entries.bytes += rendered.bytes;
        entries.order.push_back(key);
        entries.by_version.insert(key, rendered);
    }
}

struct IncidentRow {
    id: i64,
    title: String,
    severity: &'static str,
    status: &'static str,
    /// Each response metric, for people.
    metrics: Vec<(&'static str, String)>,
}

#[derive(Clone)]
struct SectionRow {
    key: String,
    title: String,
    html: String,
}

struct ChainView {
    problem: String,
    whys: Vec<(String, String)>,
    root_cause: String,
}

struct ItemRow {
    title: String,
    owner: String,
    status: String,
    finished: bool,
    due_on: String,
    overdue: bool,
    priority: &'static str,
    html: String,
}

struct EventLine {
    time: String,
    incident: i64,
    kind: &'static str,
    author: String,
    html: String,
    key: bool,
}

struct MeetingView {
    status: &'static str,
    when: String,
    duration_minutes: u32,
    moderator: String,
    attendees: Vec<String>,
    notes_html: String,
}

#[derive(askama::Template)]
#[template(path = "postmortems/read.html")]
struct ReadingPage {
    nav: Nav,
    postmortem: Postmortem,
    status_words: String,
    owner: String,
    incidents: Vec<IncidentRow>,
    sections: Vec<SectionRow>,
    chains: Vec<ChainView>,
    factors: Vec<(String, String)>,
    lessons: Vec<(&'static str, Vec<String>)>,
    items: Vec<ItemRow>,
    items_done: usize,
    no_action_items_reason: Option<String>,
    /// The incidents' events, shown when no section carries the generated timeline.
    events: Vec<EventLine>,
    meeting: Option<MeetingView>,
    authors: String,
    started: String,
    updated: String,
    published: Option<String>,
    exceptions: Vec<LintException>,
    discardable: bool,
    /// Just published: say so, and where readers are told.
    just_published: bool,
}

#[derive(serde::Deserialize, Default)]
pub struct ReadingQuery {
    published: Option<String>,
}

fn day(time: Timestamp) -> String {
    time.to_zoned(TimeZone::UTC)
        .strftime("%-d %B %Y")
        .to_string()
}

/// Renders a version's sections and reads who wrote it, for [`DocumentCache`].
async fn render_version(
    state: &AppState,
    postmortem: &Postmortem,
    template: &hindsight_domain::postmortem::Template,
) -> Result<Rendered, PageError> {
    let sections: Vec<SectionRow> = template
        .sections
        .iter()
        .filter_map(|section| {
            let text = postmortem.document.sections.get(&section.key)?;
            (!text.trim().is_empty()).then(|| SectionRow {
                key: section.key.clone(),
                title: section.title.clone(),
                html: crate::markdown::render(text),
            })
        })
        .collect();
    // The history as of this version: later versions do not change who wrote this one.
    let revisions = state
        .store
        .list_revisions(postmortem.id, Visibility::Everything)
        .await?;
    let mut authors: Vec<String> = Vec::new();
    for revision in revisions
        .iter()
        .filter(|revision| revision.version <= postmortem.version)
    {
        if !authors.contains(&revision.author.name) {
            authors.push(revision.author.name.clone());
        }
    }
    let published = revisions
        .iter()
        .find(|revision| revision.status == PostmortemStatus::Published)
        .map(|revision| day(revision.at));
    let bytes = sections
        .iter()
        .map(|section| section.html.len() + section.title.len() + section.key.len())
        .sum::<usize>()
        + 256;
    Ok(Rendered {
        sections,
        authors: draft::and_list(&authors),
        published,
        bytes,
    })
}

pub async fn show(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    query: Result<axum::extract::Query<ReadingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let just_published = query.is_ok_and(|query| query.published.is_some());
    let not_found = || PageError::not_found("There is no such postmortem.");
    let id = super::api::parse_id(&id).map_err(|_| not_found())?;
    let visibility = actor.visibility();
    let postmortem = state
        .store
        .get_postmortem(id, visibility)
        .await?
        .ok_or_else(not_found)?;
    let template = template_named(&state, &postmortem.document.template)
        .await?
        .ok_or_else(|| PageError::internal(&"a postmortem names a template that is gone"))?;
    let users = state.store.list_users().await?;
    let user_name = |id| {
        users
            .iter()
            .find(|user| user.id == id)
            .map(|user| user.display_name.clone())
    };
    let document = &postmortem.document;

    let mut incidents = Vec::new();
    let mut events = Vec::new();
    for incident_id in &document.incidents {
        // The postmortem is visible, so every incident it covers is too.
        let Some(incident) = state.store.get_incident(*incident_id, visibility).await? else {
            continue;
        };
        let timeline = state
            .store
            .list_events(incident.id, Visibility::Everything)
            .await?
            .unwrap_or_default();
        incidents.push(IncidentRow {
            id: incident.id.get(),
            title: incident.content.title.clone(),
            severity: incident.content.severity.as_str(),
            status: incident.content.status.as_str(),
            metrics: Metrics::of(&incident.content, &timeline)
                .named()
                .into_iter()
                .map(|(name, value)| (name, timeline::format_duration(value)))
                .collect(),
        });
        events.extend(timeline);
    }

    let key = (
        postmortem.id.get(),
        postmortem.version,
        postmortem.updated_at.as_microsecond(),
    );
    let rendered = match state.documents().get(key) {
        Some(rendered) => rendered,
        None => {
            let rendered = Arc::new(render_version(&state, &postmortem, &template).await?);
            state.documents().put(key, Arc::clone(&rendered));
            rendered
        }
    };
    let has_block = document
        .sections
        .values()
        .any(|text| draft::has_timeline_block(text));
    let events = if has_block {
        Vec::new()
    } else {
        events.sort_by_key(|event| (event.content.occurred_at, event.id));
        events
            .iter()
            .map(|event| EventLine {
                time: event
                    .content
                    .occurred_at
                    .to_zoned(TimeZone::UTC)
                    .strftime("%Y-%m-%d %H:%M UTC")
                    .to_string(),
                incident: event.incident_id.get(),
                kind: event.content.kind.label(),
                author: event.author.clone().unwrap_or_default(),
                html: crate::markdown::render(&event.content.text),
                key: event.content.key || event.holds.is_some(),
            })
            .collect()
    };

    let action_items = crate::action_items::of_postmortem(&state, postmortem.id).await?;
    let today = state.clock.now().to_zoned(TimeZone::UTC).date();
    let items: Vec<ItemRow> = action_items
        .iter()
        .map(|item| ItemRow {
            title: item.content.title.clone(),
            owner: item
                .owner_name
                .clone()
                .unwrap_or_else(|| "nobody yet".into()),
            status: item.content.status.words(),
            finished: item.content.status.is_finished(),
            due_on: item.content.due_on.strftime("%-d %B %Y").to_string(),
            overdue: item.is_overdue(today),
            priority: item.content.priority.as_str(),
            html: crate::markdown::render(&item.content.description),
        })
        .collect();
    let items_done = items.iter().filter(|item| item.finished).count();

    let meeting = state
        .store
        .get_meeting(postmortem.id)
        .await?
        .filter(|meeting| meeting.status != MeetingStatus::Cancelled)
        .map(|meeting| MeetingView {
            status: meeting.status.as_str(),
            when: meeting
                .local_start()
                .strftime("%A %-d %B %Y, %H:%M %Z")
                .to_string(),
            duration_minutes: meeting.duration_minutes,
            moderator: meeting
                .moderator
                .as_ref()
                .map(|person| person.name.clone())
                .unwrap_or_else(|| "nobody yet".into()),
            attendees: meeting
                .attendees
                .iter()
                .map(|attendee| match attendee.attended {
                    Some(false) => format!("{} (absent)", attendee.name),
                    _ => attendee.name.clone(),
                })
                .collect(),
            notes_html: crate::markdown::render(&meeting.notes),
        });

    let lessons: Vec<(&'static str, Vec<String>)> = [
        ("What went well", &document.lessons.went_well),
        ("What went wrong", &document.lessons.went_wrong),
        ("Where we got lucky", &document.lessons.got_lucky),
    ]
    .into_iter()
    .filter(|(_, list)| !list.is_empty())
    .map(|(title, list)| (title, list.clone()))
    .collect();

    let page = ReadingPage {
        nav: Nav::of(Some(&actor)),
        status_words: postmortem.status.words(),
        owner: document
            .owner
            .and_then(user_name)
            .unwrap_or_else(|| "nobody yet".into()),
        incidents,
        sections: rendered.sections.clone(),
        chains: document
            .why_chains
            .iter()
            .map(|chain| ChainView {
                problem: chain.problem.clone(),
                whys: chain
                    .whys
                    .iter()
                    .map(|why| (why.question.clone(), why.answer.clone()))
                    .collect(),
                root_cause: chain.root_cause.clone().unwrap_or_default(),
            })
            .collect(),
        factors: document
            .factors
            .iter()
            .map(|factor| {
                (
                    factor.category.replace('_', " "),
                    factor.description.clone(),
                )
            })
            .collect(),
        lessons,
        items,
        items_done,
        no_action_items_reason: document.no_action_items_reason.clone(),
        events,
        meeting,
        authors: rendered.authors.clone(),
        started: day(postmortem.created_at),
        updated: day(postmortem.updated_at),
        published: rendered.published.clone(),
        exceptions: document.lint_exceptions.clone(),
        discardable: postmortem.status.may_discard(),
        just_published: just_published && postmortem.status == PostmortemStatus::Published,
        postmortem,
    };
    Ok(render(StatusCode::OK, &page))
}
