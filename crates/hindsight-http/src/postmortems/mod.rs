//! Postmortems over HTTP: the JSON API, the editor pages and the exports, each next to its
//! routes, and what they share: finding templates, checking a change against the process's
//! rules and storing it with its author.

pub mod api;
pub mod export;
mod form;
pub mod images;
mod pages;
pub(crate) mod reading;

use hindsight_domain::access::Permission::{Read, Write};
use hindsight_domain::access::{Actor, UserId, Visibility};
use hindsight_domain::document::LintException;
use hindsight_domain::document::{Postmortem, PostmortemDocument, PostmortemId};
use hindsight_domain::draft::{self, Refresh, Zone};
use hindsight_domain::lint::{FieldFinding, Gate, KnownTimes, LintConfig, gate, lint_postmortem};
use hindsight_domain::postmortem::{
    DEFAULT_FACTOR_CATEGORIES, PostmortemStatus, Template, TransitionRefused, builtin_templates,
    transition,
};
use hindsight_domain::timeline::TimelineEvent;
use hindsight_domain::{Incident, ValidationErrors};
use hindsight_store::{PostmortemChange, Store, StoreError};

use crate::AppState;
use crate::lookup::author_of;
use crate::routes::Routes;

/// What an organisation configures about postmortems.
#[derive(Debug, Clone)]
pub struct PostmortemSettings {
    /// The contributing factor taxonomy.
    pub factor_categories: Vec<String>,
    /// Rules switched off, terms and rules added.
    pub lint: LintConfig,
    /// The largest image a postmortem takes, in bytes.
    pub max_image_bytes: u64,
}

impl Default for PostmortemSettings {
    fn default() -> Self {
        Self {
            factor_categories: DEFAULT_FACTOR_CATEGORIES
                .iter()
                .map(|category| (*category).to_owned())
                .collect(),
            lint: LintConfig::default(),
            max_image_bytes: hindsight_domain::image::DEFAULT_MAX_IMAGE_BYTES,
        }
    }
}

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/templates", Read, api::list_templates)
        .post("/api/v1/templates", Write, api::create_template)
        .get("/api/v1/templates/{key}", Read, api::get_template)
        .get("/api/v1/postmortems", Read, api::list_postmortems)
        .post("/api/v1/postmortems", Write, api::create_postmortem)
        .get("/api/v1/postmortems/{id}", Read, api::get_postmortem)
        .patch("/api/v1/postmortems/{id}", Write, api::update_postmortem)
        .get(
            "/api/v1/postmortems/{id}/sections",
            Read,
            api::list_sections,
        )
        .put(
            "/api/v1/postmortems/{id}/sections/{key}",
            Write,
            api::put_section,
        )
        .get(
            "/api/v1/postmortems/{id}/why-chains",
            Read,
            api::list_why_chains,
        )
        .post(
            "/api/v1/postmortems/{id}/why-chains",
            Write,
            api::add_why_chain,
        )
        .get(
            "/api/v1/postmortems/{id}/contributing-factors",
            Read,
            api::list_factors,
        )
        .post(
            "/api/v1/postmortems/{id}/contributing-factors",
            Write,
            api::add_factor,
        )
        .post(
            "/api/v1/postmortems/{id}/transitions",
            Write,
            api::transition,
        )
        .get("/api/v1/postmortems/{id}/lint", Read, api::lint_stored)
        .post("/api/v1/lint", Read, api::lint_posted)
        .get("/api/v1/postmortems/{id}/history", Read, api::history)
        .get(
            "/api/v1/postmortems/{id}/history/{version}",
            Read,
            api::revision,
        )
        .get("/api/v1/postmortems/{id}/diff", Read, api::diff)
        .get("/api/v1/postmortems/{id}/export", Read, export::export)
        .delete("/api/v1/postmortems/{id}", Write, api::discard)
        .post(
            "/api/v1/postmortems/{id}/timeline/refresh",
            Write,
            api::refresh_timeline,
        )
        .post("/api/v1/preview", Read, api::preview)
        .post_upload("/api/v1/postmortems/{id}/images", Write, images::upload)
        .get("/api/v1/postmortems/{id}/images", Read, images::list)
        .post_upload("/postmortems/{id}/images", Write, images::upload_page)
        .get("/postmortems/{id}/images/{image}", Read, images::serve)
        .delete(
            "/api/v1/postmortems/{id}/images/{image}",
            Write,
            images::delete,
        )
        .post(
            "/postmortems/{id}/images/{image}/delete",
            Write,
            images::delete_page,
        )
        .get("/postmortems", Read, pages::list)
        .get("/postmortems/new", Write, pages::new_postmortem)
        .post("/postmortems", Write, pages::create)
        .get("/postmortems/{id}", Read, reading::show)
        .get("/postmortems/{id}/edit", Write, pages::editor)
        .post("/postmortems/{id}", Write, pages::save)
        .post("/postmortems/{id}/transitions", Write, pages::move_to)
        .post("/postmortems/{id}/timeline/refresh", Write, pages::refresh)
        .post("/postmortems/{id}/discard", Write, pages::discard)
        .get("/postmortems/{id}/history", Read, pages::history)
        .get("/postmortems/{id}/print", Read, export::print)
        .get("/templates/new", Write, pages::new_template)
        .post("/templates", Write, pages::create_template)
        .get(
            "/assets/editor.js",
            hindsight_domain::access::Permission::Public,
            pages::editor_script,
        )
}

/// The built-in templates, then the ones teams added.
pub async fn all_templates(store: &dyn Store) -> Result<Vec<Template>, StoreError> {
    let mut templates = builtin_templates();
    templates.extend(store.list_templates().await?);
    Ok(templates)
}

/// The template a postmortem names. A template is never changed once stored, so the one read
/// here is the one the postmortem was written from.
pub async fn template_named(state: &AppState, key: &str) -> Result<Option<Template>, StoreError> {
    Ok(all_templates(&*state.store)
        .await?
        .into_iter()
        .find(|template| template.key == key))
}

/// Checks that every incident exists for this reader and the owner exists; the store would
/// refuse them too, but without saying which.
pub async fn check_references(
    state: &AppState,
    visibility: Visibility,
    document: &PostmortemDocument,
) -> Result<Vec<Incident>, StoreError> {
    let mut errors = ValidationErrors::new();
    let mut incidents = Vec::new();
    for (index, id) in document.incidents.iter().enumerate() {
        match state.store.get_incident(*id, visibility).await? {
            Some(incident) => incidents.push(incident),
            None => errors.add(
                format!("incidents[{index}]"),
                format!("there is no incident {id}"),
            ),
        }
    }
    if let Some(owner) = document.owner
        && state.store.get_user(owner).await?.is_none()
    {
        errors.add("owner", format!("there is no user {owner}"));
    }
    errors.into_result(incidents).map_err(StoreError::Invalid)
}

/// The postmortem as this reader sees it, if it is still at `version` (any when `None`), with
/// its template.
async fn current_with_template(
    state: &AppState,
    visibility: Visibility,
    id: PostmortemId,
    version: Option<u32>,
) -> Result<(Postmortem, Template), StoreError> {
    let current = state
        .store
        .get_postmortem(id, visibility)
        .await?
        .ok_or(StoreError::NotFound)?;
    if let Some(version) = version
        && version != current.version
    {
        return Err(StoreError::VersionConflict(current.version));
    }
    let template = template_named(state, &current.document.template)
        .await?
        .ok_or_else(|| {
            StoreError::Invalid(ValidationErrors::single(
                "template",
                format!("the template `{}` is gone", current.document.template),
            ))
        })?;
    Ok((current, template))
}

/// The functions below answer with the store's errors: `NotFound`, `VersionConflict` with the
/// current version, `Invalid` naming each field; the API and the pages each say them their way.
///
/// Edits a postmortem's document on `version`: `edit` changes a copy of the current document;
/// the result is validated against the postmortem's template and stored as the next version.
pub async fn edit_document(
    state: &AppState,
    actor: &Actor,
    id: PostmortemId,
    version: Option<u32>,
    edit: impl FnOnce(&mut PostmortemDocument) + Send + 'static,
) -> Result<Postmortem, StoreError> {
    let visibility = actor.visibility();
    let (current, template) = current_with_template(state, visibility, id, version).await?;
    let mut preview = current.document.clone();
    edit(&mut preview);
    let categories = state.postmortems.factor_categories.clone();
    let checked = preview
        .clone()
        .validate(&template, &categories)
        .map_err(StoreError::Invalid)?;
    // Only new references need a look; the ones already there were checked when they came.
    let document = checked.get();
    if document.incidents != current.document.incidents || document.owner != current.document.owner
    {
        check_references(state, visibility, document).await?;
    }
    // The store applies it only if the postmortem is still at the version it was made on.
    let change: PostmortemChange =
        Box::new(move |stored: &Postmortem| Ok((stored.status, checked)));
    state
        .store
        .update_postmortem(
            id,
            visibility,
            Some(current.version),
            author_of(actor),
            state.clock.now(),
            change,
        )
        .await
}

/// Moves a postmortem to `to`, if the process allows it, the document is ready, and the lint
/// finds nothing the organisation blocks on (or `justification` says why it moves anyway; the
/// exception is kept in the document's history and in the audit log through `auditor`).
pub async fn move_postmortem(
    state: &AppState,
    actor: &Actor,
    auditor: &crate::audit::Auditor,
    id: PostmortemId,
    version: Option<u32>,
    to: PostmortemStatus,
    justification: Option<&str>,
) -> Result<Postmortem, StoreError> {
    let visibility = actor.visibility();
    let (current, template) = current_with_template(state, visibility, id, version).await?;
    let mut exception = None;
    let block = &state.postmortems.lint.block;
    if !block.is_empty()
        && matches!(to, PostmortemStatus::InReview | PostmortemStatus::Published)
        && to != current.status
    {
        let findings = lint_stored_postmortem(state, &current, &template, visibility).await?;
        match gate(&current.document, &findings, block, justification) {
            Err(message) => {
                return Err(StoreError::Invalid(ValidationErrors::single(
                    "justification",
                    message,
                )));
            }
            Ok(Gate::Clear) => {}
            Ok(Gate::Blocked(named)) => {
                let mut errors = ValidationErrors::new();
                for finding in named {
                    errors.add("lint", finding);
                }
                let before = if to == PostmortemStatus::Published {
                    "publishing"
                } else {
                    "review"
                };
                errors.add(
                    "justification",
                    format!(
                        "the organisation blocks these lint findings before {before}: reword \
                         them, or write why it goes on anyway"
                    ),
                );
                return Err(StoreError::Invalid(errors));
            }
            Ok(Gate::Excepted {
                findings,
                justification,
            }) => {
                exception = Some(LintException {
                    to,
                    findings,
                    justification,
                    by: actor.user.display_name.clone(),
                    at: hindsight_domain::to_stored_precision(state.clock.now()),
                });
            }
        }
    }
    let categories = state.postmortems.factor_categories.clone();
    // Items are never deleted, so a count read before the transaction can only be low: the
    // check errs on the side of refusing.
    let (items, unowned) = crate::action_items::counts(state, id).await?;
    let recorded = exception.clone();
    let change: PostmortemChange = Box::new(move |stored: &Postmortem| {
        let content = stored.document.content(items, unowned);
        let status =
            transition(&template, &content, stored.status, to).map_err(
                |refused| match refused {
                    TransitionRefused::NotAllowed { from, to } => ValidationErrors::single(
                        "to",
                        format!("a postmortem cannot move from {from} to {to}"),
                    ),
                    TransitionRefused::NotReady(missing) => {
                        let mut errors = ValidationErrors::new();
                        for piece in missing {
                            errors.add(piece.field, piece.message);
                        }
                        errors
                    }
                },
            )?;
        let mut document = stored.document.clone();
        document.lint_exceptions.extend(recorded);
        let document = document.validate(&template, &categories)?;
        Ok((status, document))
    });
    let moved = state
        .store
        .update_postmortem(
            id,
            visibility,
            version,
            author_of(actor),
            state.clock.now(),
            change,
        )
        .await?;
    if let Some(exception) = exception {
        auditor
            .record(
                "postmortem.lint_exception",
                format!("postmortem:{id}"),
                format!(
                    "moved to {} despite {}; justification: {}",
                    exception.to,
                    exception.findings.join("; "),
                    exception.justification
                ),
            )
            .await;
    }
    Ok(moved)
}

/// The lint on a stored postmortem, with the names of its incidents' people and Hindsight's
/// users, and the key times its incidents record.
pub async fn lint_stored_postmortem(
    state: &AppState,
    postmortem: &Postmortem,
    template: &Template,
    visibility: Visibility,
) -> Result<Vec<FieldFinding>, StoreError> {
    let mut known = KnownTimes::default();
    let mut config = state.postmortems.lint.clone();
    for id in &postmortem.document.incidents {
        if let Some(incident) = state.store.get_incident(*id, visibility).await? {
            known.detected |= incident.content.detected_at.is_some();
            known.resolved |= incident.content.resolved_at.is_some();
            config.people.extend(incident.content.owner.clone());
        }
    }
    config.people.extend(people(state).await?);
    Ok(lint_postmortem(
        template,
        &postmortem.document,
        known,
        &config,
    ))
}

/// The names of Hindsight's users, for the lint to recognise.
pub async fn people(state: &AppState) -> Result<Vec<String>, StoreError> {
    Ok(state
        .store
        .list_users()
        .await?
        .into_iter()
        .map(|user| user.display_name)
        .collect())
}

/// The incidents a draft is written from, each with its timeline, as this reader sees them.
pub async fn draft_sources(
    state: &AppState,
    visibility: Visibility,
    incidents: &[Incident],
) -> Result<Vec<(Incident, Vec<TimelineEvent>)>, StoreError> {
    let mut sources = Vec::with_capacity(incidents.len());
    for incident in incidents {
        let events = state
            .store
            .list_events(incident.id, visibility)
            .await?
            .unwrap_or_default();
        sources.push((incident.clone(), events));
    }
    Ok(sources)
}

/// The zone a draft's times are written in: that of the owner's first team (by id) with
/// meeting rules of its own, else the default rules' zone (UTC unless configured).
pub async fn draft_zone(state: &AppState, owner: Option<UserId>) -> Result<Zone, StoreError> {
    let settings = &state.meetings.settings;
    let team_name = match owner {
        Some(owner) => hindsight_domain::meeting::team_with_rules(
            &[owner],
            &state.store.list_teams().await?,
            settings,
        ),
        None => None,
    };
    let rules = settings.rules_for(team_name.as_deref());
    Ok(Zone {
        zone: rules.time_zone.clone(),
        name: rules.time_zone_name.clone(),
    })
}

/// The user an incident's owner text names (by email, then by name), for a draft's owner.
pub async fn user_named(state: &AppState, owner: &str) -> Result<Option<UserId>, StoreError> {
    let people = crate::meetings::active_people(state).await?;
    Ok(hindsight_domain::meeting::find_person(&people, owner).map(|person| person.id))
}

/// What refreshing a postmortem's generated timeline came to.
pub enum Refreshed {
    /// The block was rewritten (`added`: there was none, so it was added to `section`).
    Updated {
        postmortem: Postmortem,
        section: String,
        added: bool,
    },
    /// The block already says what the timeline says.
    Unchanged(Postmortem),
    /// Someone edited inside the block; nothing was written.
    Edited {
        postmortem: Postmortem,
        section: String,
        edited: String,
        generated: String,
    },
}

/// Rewrites the generated timeline block from the incidents' current timelines, on `version`.
/// Text outside the block is never touched; an edit inside it is kept unless `replace_edits`.
pub async fn refresh_timeline(
    state: &AppState,
    actor: &Actor,
    id: PostmortemId,
    version: Option<u32>,
    replace_edits: bool,
) -> Result<Refreshed, StoreError> {
    let visibility = actor.visibility();
    let (current, template) = current_with_template(state, visibility, id, version).await?;
    let mut incidents = Vec::new();
    for incident in &current.document.incidents {
        incidents.extend(state.store.get_incident(*incident, visibility).await?);
    }
    let sources = draft_sources(state, visibility, &incidents).await?;
    let sources: Vec<draft::Source> = sources
        .iter()
        .map(|(incident, events)| draft::Source { incident, events })
        .collect();
    let zone = draft_zone(state, current.document.owner).await?;
    let block = draft::timeline_block(&sources, &zone);
    let section = current
        .document
        .sections
        .iter()
        .find(|(_, text)| draft::has_timeline_block(text))
        .map(|(key, _)| key.clone())
        .or_else(|| draft::timeline_section(&template).map(str::to_owned))
        .ok_or_else(|| {
            StoreError::Invalid(ValidationErrors::single(
                "sections",
                "the template has no section for a timeline",
            ))
        })?;
    let text = current
        .document
        .sections
        .get(&section)
        .cloned()
        .unwrap_or_default();
    match draft::refresh_timeline(&text, &block, replace_edits) {
        Refresh::Unchanged => Ok(Refreshed::Unchanged(current)),
        Refresh::Edited { edited, generated } => Ok(Refreshed::Edited {
            postmortem: current,
            section,
            edited,
            generated,
        }),
        Refresh::Updated { text, added } => {
            let key = section.clone();
            let postmortem =
                edit_document(state, actor, id, Some(current.version), move |document| {
                    document.sections.insert(key, text);
                })
                .await?;
            Ok(Refreshed::Updated {
                postmortem,
                section,
                added,
            })
        }
    }
}

/// Discards a draft postmortem (`Conflict` for any other), and audits it with its title.
pub async fn discard_postmortem(
    state: &AppState,
    actor: &Actor,
    auditor: &crate::audit::Auditor,
    id: PostmortemId,
) -> Result<(), StoreError> {
    let discarded = state
        .store
        .discard_postmortem(id, actor.visibility())
        .await?;
    auditor
        .record(
            "postmortem.discarded",
            format!("postmortem:{id}"),
            format!(
                "draft \u{201c}{}\u{201d} at version {}, covering {}",
                discarded.document.title,
                discarded.version,
                discarded
                    .document
                    .incidents
                    .iter()
                    .map(|incident| format!("INC-{incident}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )
        .await;
    tracing::info!(postmortem.id = %id, "draft postmortem discarded");
    Ok(())
}
