//! The postmortem pages: the list, the new-postmortem form, the editor (sections with guidance,
//! previews and lint findings, why chains, factors, lessons, action items, the readiness
//! checklist and the status buttons), the history with its diff, and the template form.
//! They work without JavaScript; `editor.js` only re-lints a section while the writer types.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::access::{Actor, User};
use hindsight_domain::document::{DiffLineKind, FieldDiff, Postmortem, PostmortemDocument};
use hindsight_domain::lint::FieldFinding;
use hindsight_domain::postmortem::{
    MissingPiece, PostmortemStatus, SectionTemplate, Template, missing_for,
};
use hindsight_domain::{IncidentId, ValidationErrors};
use hindsight_store::{PostmortemFilter, StoreError};
use serde::Deserialize;

use super::api::{PostmortemCreate, create_from, diff_between, parse_id, revisions};
use super::form::EditorForm;
use super::{
    all_templates, edit_document, lint_stored_postmortem, move_postmortem, template_named,
};
use crate::AppState;
use crate::gate::CurrentActor;
use crate::pages::{Nav, PageError, display_time, render};

const EDITOR_SCRIPT: &str = include_str!("../../assets/editor.js");

pub async fn editor_script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        EDITOR_SCRIPT,
    )
}

fn page_error(error: StoreError) -> PageError {
    match error {
        StoreError::NotFound => PageError::not_found("There is no such postmortem."),
        other => other.into(),
    }
}

async fn load(state: &AppState, actor: &Actor, id: &str) -> Result<Postmortem, PageError> {
    let id = parse_id(id).map_err(|_| PageError::not_found("There is no such postmortem."))?;
    state
        .store
        .get_postmortem(id, actor.visibility())
        .await?
        .ok_or_else(|| PageError::not_found("There is no such postmortem."))
}

struct Row {
    id: String,
    title: String,
    status: &'static str,
    incidents: String,
    updated: String,
}

#[derive(askama::Template)]
#[template(path = "postmortems/list.html")]
struct ListPage {
    nav: Nav,
    rows: Vec<Row>,
    status: String,
    statuses: &'static [PostmortemStatus],
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(query): Query<ListQuery>,
) -> Result<Response, PageError> {
    let status = query.status.as_deref().and_then(PostmortemStatus::parse);
    let items = state
        .store
        .list_postmortems(
            &PostmortemFilter {
                status,
                limit: 200,
                ..PostmortemFilter::default()
            },
            actor.visibility(),
        )
        .await?;
    let rows = items
        .iter()
        .map(|postmortem| Row {
            id: postmortem.id.to_string(),
            title: postmortem.document.title.clone(),
            status: postmortem.status.as_str(),
            incidents: postmortem
                .document
                .incidents
                .iter()
                .map(|id| format!("INC-{id}"))
                .collect::<Vec<_>>()
                .join(", "),
            updated: display_time(postmortem.updated_at),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &ListPage {
            nav: Nav::of(Some(&actor)),
            rows,
            status: status.map(|status| status.to_string()).unwrap_or_default(),
            statuses: PostmortemStatus::ALL,
        },
    ))
}

#[derive(askama::Template)]
#[template(path = "postmortems/new.html")]
struct NewPage {
    nav: Nav,
    incident: String,
    title: String,
    template: String,
    templates: Vec<Template>,
    errors: ValidationErrors,
}

impl NewPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.message_for(field)
    }
}

#[derive(Deserialize, Default)]
pub struct NewQuery {
    incident: Option<String>,
}

pub async fn new_postmortem(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(query): Query<NewQuery>,
) -> Result<Response, PageError> {
    Ok(render(
        StatusCode::OK,
        &NewPage {
            nav: Nav::of(Some(&actor)),
            incident: query.incident.unwrap_or_default(),
            title: String::new(),
            template: "default".into(),
            templates: all_templates(&*state.store).await?,
            errors: ValidationErrors::new(),
        },
    ))
}

#[derive(Deserialize)]
pub struct NewForm {
    #[serde(default)]
    incident: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    template: String,
}

pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    form: Result<Form<NewForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let mut errors = ValidationErrors::new();
    let incidents: Vec<IncidentId> = form
        .incident
        .split([',', ' '])
        .filter(|part| !part.trim().is_empty())
        .filter_map(|part| {
            let parsed = part.trim().parse().ok();
            if parsed.is_none() {
                errors.add(
                    "incidents",
                    format!("`{}` is not an incident id", part.trim()),
                );
            }
            parsed
        })
        .collect();
    let result = if errors.is_empty() {
        create_from(
            &state,
            &actor,
            PostmortemCreate {
                incidents,
                template: Some(form.template.clone()),
                title: Some(form.title.clone()).filter(|title| !title.trim().is_empty()),
                owner: None,
            },
        )
        .await
    } else {
        Err(StoreError::Invalid(errors))
    };
    match result {
        Ok(postmortem) => {
            Ok(Redirect::to(&format!("/postmortems/{}", postmortem.id)).into_response())
        }
        Err(StoreError::Invalid(errors)) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewPage {
                nav: Nav::of(Some(&actor)),
                incident: form.incident,
                title: form.title,
                template: form.template,
                templates: all_templates(&*state.store).await?,
                errors,
            },
        )),
        Err(error) => Err(page_error(error)),
    }
}

struct FindingView {
    field: String,
    rule: String,
    severity: &'static str,
    place: String,
    words: String,
    message: String,
    suggestion: String,
}

struct SectionView {
    /// `sections.<key>`: the form field, and what errors and findings name.
    field: String,
    section: SectionTemplate,
    text: String,
    html: String,
    required: &'static str,
}

struct WhyRow {
    question: String,
    answer: String,
}

struct ChainRow {
    problem: String,
    whys: Vec<WhyRow>,
    root_cause: String,
}

struct FactorRow {
    category: String,
    description: String,
}

/// An action item as the editor lists it; they are edited on their own page.
struct ItemRow {
    id: String,
    title: String,
    owner: String,
    due_on: String,
    status: String,
}

struct Move {
    to: &'static str,
    label: &'static str,
    missing: Vec<MissingPiece>,
}

#[derive(askama::Template)]
#[template(path = "postmortems/editor.html")]
struct EditorPage {
    nav: Nav,
    postmortem: Postmortem,
    /// The version the form is made on.
    version: u32,
    document: PostmortemDocument,
    template_name: String,
    sections: Vec<SectionView>,
    chains: Vec<ChainRow>,
    factors: Vec<FactorRow>,
    categories: Vec<String>,
    items: Vec<ItemRow>,
    lessons: [String; 3],
    users: Vec<User>,
    findings: Vec<FindingView>,
    missing_for_review: Vec<MissingPiece>,
    missing_for_publish: Vec<MissingPiece>,
    moves: Vec<Move>,
    errors: ValidationErrors,
    /// Why the page is shown again instead of saved.
    notice: Option<String>,
}

impl EditorPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.message_for(field)
    }

    fn findings_for(&self, field: &str) -> Vec<&FindingView> {
        self.findings
            .iter()
            .filter(|finding| finding.field == field)
            .collect()
    }

    fn findings_under(&self, prefix: &str) -> Vec<&FindingView> {
        self.findings
            .iter()
            .filter(|finding| finding.field.starts_with(prefix))
            .collect()
    }

    fn errors_under(&self, prefix: &str) -> Vec<String> {
        self.errors
            .0
            .iter()
            .filter(|error| error.field.starts_with(prefix))
            .map(|error| format!("{}: {}", error.field, error.message))
            .collect()
    }

    fn is_owner(&self, user: &User) -> bool {
        self.document.owner == Some(user.id)
    }
}

fn finding_view(text_of: impl Fn(&str) -> Option<String>, found: FieldFinding) -> FindingView {
    let finding = found.finding;
    let words = text_of(&found.field)
        .and_then(|text| text.get(finding.start..finding.end).map(str::to_owned))
        .unwrap_or_default();
    FindingView {
        place: if finding.end > finding.start {
            format!("line {}, column {}", finding.line, finding.column)
        } else {
            String::new()
        },
        field: found.field,
        rule: finding.rule.into_owned(),
        severity: finding.severity.as_str(),
        words,
        message: finding.message.into_owned(),
        suggestion: finding.suggestion.into_owned(),
    }
}

/// Builds the editor for `postmortem`, showing `document` in the form (what is stored, or what
/// the writer sent when it could not be saved).
async fn editor_page(
    state: &AppState,
    actor: &Actor,
    postmortem: Postmortem,
    document: PostmortemDocument,
    errors: ValidationErrors,
    notice: Option<String>,
) -> Result<EditorPage, PageError> {
    let template = template_named(state, &postmortem.document.template)
        .await?
        .ok_or_else(|| PageError::internal(&"a postmortem names a template that is gone"))?;
    let shown = Postmortem {
        document: document.clone(),
        ..postmortem.clone()
    };
    let texts: Vec<(String, String)> = hindsight_domain::lint::document_texts(&document)
        .into_iter()
        .map(|(field, text)| (field, text.to_owned()))
        .collect();
    let findings = lint_stored_postmortem(state, &shown, &template, actor.visibility())
        .await?
        .into_iter()
        .map(|found| {
            finding_view(
                |field| {
                    texts
                        .iter()
                        .find(|(name, _)| name == field)
                        .map(|(_, text)| text.clone())
                },
                found,
            )
        })
        .collect();
    let action_items = crate::action_items::of_postmortem(state, postmortem.id).await?;
    let (total, unowned) = crate::action_items::readiness(&action_items);
    let content = postmortem.document.content(total, unowned);
    let missing_for_review = missing_for(&template, &content, PostmortemStatus::InReview);
    let missing_for_publish = missing_for(&template, &content, PostmortemStatus::Published);
    let moves = match postmortem.status {
        PostmortemStatus::Draft => vec![Move {
            to: "in_review",
            label: "Submit for review",
            missing: missing_for_review.clone(),
        }],
        PostmortemStatus::InReview => vec![
            Move {
                to: "published",
                label: "Publish",
                missing: missing_for_publish.clone(),
            },
            Move {
                to: "draft",
                label: "Back to draft",
                missing: Vec::new(),
            },
        ],
        PostmortemStatus::Published => Vec::new(),
    };
    let sections = template
        .sections
        .iter()
        .map(|section| {
            let text = document
                .sections
                .get(&section.key)
                .cloned()
                .unwrap_or_default();
            SectionView {
                field: format!("sections.{}", section.key),
                html: crate::markdown::render(&text),
                required: if section.required_before_review {
                    "required before review"
                } else if section.required_before_publish {
                    "required before publishing"
                } else {
                    ""
                },
                section: section.clone(),
                text,
            }
        })
        .collect();
    let mut chains: Vec<ChainRow> = document
        .why_chains
        .iter()
        .map(|chain| ChainRow {
            problem: chain.problem.clone(),
            whys: chain
                .whys
                .iter()
                .map(|why| WhyRow {
                    question: why.question.clone(),
                    answer: why.answer.clone(),
                })
                .collect(),
            root_cause: chain.root_cause.clone().unwrap_or_default(),
        })
        .collect();
    chains.push(ChainRow {
        problem: String::new(),
        whys: Vec::new(),
        root_cause: String::new(),
    });
    for chain in &mut chains {
        // Five whys to start with, and always one more to add.
        let rows = (chain.whys.len() + 1).max(5);
        while chain.whys.len() < rows {
            chain.whys.push(WhyRow {
                question: "Why?".into(),
                answer: String::new(),
            });
        }
    }
    let mut factors: Vec<FactorRow> = document
        .factors
        .iter()
        .map(|factor| FactorRow {
            category: factor.category.clone(),
            description: factor.description.clone(),
        })
        .collect();
    factors.push(FactorRow {
        category: String::new(),
        description: String::new(),
    });
    let items: Vec<ItemRow> = action_items
        .iter()
        .map(|item| ItemRow {
            id: item.id.to_string(),
            title: item.content.title.clone(),
            owner: item
                .owner_name
                .clone()
                .unwrap_or_else(|| "nobody yet".into()),
            due_on: item.content.due_on.to_string(),
            status: item.content.status.words(),
        })
        .collect();
    Ok(EditorPage {
        nav: Nav::of(Some(actor)),
        version: postmortem.version,
        template_name: template.name.clone(),
        lessons: [
            document.lessons.went_well.join("\n"),
            document.lessons.went_wrong.join("\n"),
            document.lessons.got_lucky.join("\n"),
        ],
        users: state.store.list_users().await?,
        categories: state.postmortems.factor_categories.clone(),
        postmortem,
        document,
        sections,
        chains,
        factors,
        items,
        findings,
        missing_for_review,
        missing_for_publish,
        moves,
        errors,
        notice,
    })
}

pub async fn editor(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let postmortem = load(&state, &actor, &id).await?;
    let document = postmortem.document.clone();
    let page = editor_page(
        &state,
        &actor,
        postmortem,
        document,
        ValidationErrors::new(),
        None,
    )
    .await?;
    Ok(render(StatusCode::OK, &page))
}

pub async fn save(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(pairs) = form?;
    let current = load(&state, &actor, &id).await?;
    let form = EditorForm::read(pairs, &current.document);
    let sent = form.document.clone();
    let result = if form.errors.is_empty() {
        let document = form.document;
        edit_document(&state, &actor, current.id, form.version, move |edited| {
            *edited = document;
        })
        .await
    } else {
        Err(StoreError::Invalid(form.errors))
    };
    let (status, errors, notice) = match result {
        Ok(saved) => {
            return Ok(Redirect::to(&format!("/postmortems/{}#saved", saved.id)).into_response());
        }
        Err(StoreError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            Some("Nothing was saved: some fields need a change, each is marked below.".into()),
        ),
        Err(StoreError::VersionConflict(now)) => (
            StatusCode::CONFLICT,
            ValidationErrors::new(),
            Some(format!(
                "Nothing was saved: someone saved version {now} while you were editing. Your \
                 text is below, unsaved; compare it with the history, then save again to \
                 make it version {}.",
                now + 1
            )),
        ),
        Err(error) => return Err(page_error(error)),
    };
    // Show what the writer sent, made on the current version so that saving again is a choice.
    let latest = load(&state, &actor, &id).await?;
    let page = editor_page(&state, &actor, latest, sent, errors, notice).await?;
    Ok(render(status, &page))
}

#[derive(Deserialize)]
pub struct MoveForm {
    version: Option<u32>,
    to: String,
}

pub async fn move_to(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<MoveForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let current = load(&state, &actor, &id).await?;
    let Some(to) = PostmortemStatus::parse(&form.to) else {
        return Err(PageError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: "No such status",
            message: format!("`{}` is not a status of a postmortem.", form.to),
        });
    };
    let (status, errors, notice) =
        match move_postmortem(&state, &actor, current.id, form.version, to).await {
            Ok(moved) => {
                return Ok(Redirect::to(&format!("/postmortems/{}", moved.id)).into_response());
            }
            Err(StoreError::Invalid(errors)) => {
                let list: Vec<String> =
                    errors.0.iter().map(|error| error.message.clone()).collect();
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    errors,
                    Some(format!("It cannot move to {to} yet: {}.", list.join("; "))),
                )
            }
            Err(StoreError::VersionConflict(now)) => (
                StatusCode::CONFLICT,
                ValidationErrors::new(),
                Some(format!(
                    "Nothing changed: someone saved version {now} since this page was loaded. \
                     Check it, then try again."
                )),
            ),
            Err(error) => return Err(page_error(error)),
        };
    let latest = load(&state, &actor, &id).await?;
    let document = latest.document.clone();
    let page = editor_page(&state, &actor, latest, document, errors, notice).await?;
    Ok(render(status, &page))
}

struct RevisionRow {
    version: u32,
    status: &'static str,
    author: String,
    at: String,
    changed: String,
}

#[derive(askama::Template)]
#[template(path = "postmortems/history.html")]
struct HistoryPage {
    nav: Nav,
    postmortem: Postmortem,
    rows: Vec<RevisionRow>,
    from: u32,
    to: u32,
    diff: Vec<FieldDiff>,
}

impl HistoryPage {
    fn mark(kind: &DiffLineKind) -> &'static str {
        match kind {
            DiffLineKind::Same => " ",
            DiffLineKind::Added => "+",
            DiffLineKind::Removed => "-",
        }
    }
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    from: Option<u32>,
    to: Option<u32>,
}

pub async fn history(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    query: Result<Query<HistoryQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let postmortem = load(&state, &actor, &id).await?;
    let revisions = revisions(&state, &actor, postmortem.id)
        .await
        .map_err(|_| PageError::not_found("There is no such postmortem."))?;
    let latest = revisions.last().map_or(1, |last| last.version);
    let query = query.ok().map(|Query(query)| query);
    let to = query
        .as_ref()
        .and_then(|query| query.to)
        .unwrap_or(latest)
        .clamp(1, latest);
    let from = query
        .as_ref()
        .and_then(|query| query.from)
        .unwrap_or(to.saturating_sub(1).max(1))
        .clamp(1, latest);
    let diff = diff_between(&revisions, from, Some(to)).unwrap_or_default();
    let rows = revisions
        .iter()
        .rev()
        .map(|revision| RevisionRow {
            version: revision.version,
            status: revision.status.as_str(),
            author: revision.author.name.clone(),
            at: display_time(revision.at),
            changed: revision.changed.join(", "),
        })
        .collect();
    Ok(render(
        StatusCode::OK,
        &HistoryPage {
            nav: Nav::of(Some(&actor)),
            postmortem,
            rows,
            from,
            to,
            diff,
        },
    ))
}

#[derive(askama::Template)]
#[template(path = "postmortems/template.html")]
struct TemplatePage {
    nav: Nav,
    key: String,
    name: String,
    sections: String,
    errors: ValidationErrors,
}

impl TemplatePage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.message_for(field)
    }
}

const SECTIONS_EXAMPLE: &str = "summary | Summary | What happened, in a few sentences. | review\n\
impact | Impact | Who was affected, and how much. | review\n\
root_cause | Root cause | Ask why until the answer is a system. | publish";

pub async fn new_template(CurrentActor(actor): CurrentActor) -> Response {
    render(
        StatusCode::OK,
        &TemplatePage {
            nav: Nav::of(Some(&actor)),
            key: String::new(),
            name: String::new(),
            sections: SECTIONS_EXAMPLE.into(),
            errors: ValidationErrors::new(),
        },
    )
}

#[derive(Deserialize)]
pub struct TemplateForm {
    #[serde(default)]
    key: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    sections: String,
}

/// One section a line: `key | Title | guidance | review or publish`.
fn sections_from_lines(text: &str, errors: &mut ValidationErrors) -> Vec<SectionTemplate> {
    let mut sections = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let parts: Vec<&str> = line.split('|').map(str::trim).collect();
        if parts.len() < 2 || parts.len() > 4 {
            errors.add(
                "sections",
                format!(
                    "line {}: write `key | Title | guidance | review or publish`",
                    number + 1
                ),
            );
            continue;
        }
        let required = parts.get(3).copied().unwrap_or("");
        if !matches!(required, "" | "review" | "publish") {
            errors.add(
                "sections",
                format!(
                    "line {}: the last part is `review`, `publish` or nothing, not `{required}`",
                    number + 1
                ),
            );
        }
        sections.push(SectionTemplate {
            key: parts[0].to_owned(),
            title: parts[1].to_owned(),
            guidance: parts.get(2).copied().unwrap_or("").to_owned(),
            required_before_review: required == "review",
            required_before_publish: !required.is_empty(),
        });
    }
    sections
}

pub async fn create_template(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    form: Result<Form<TemplateForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let mut errors = ValidationErrors::new();
    let sections = sections_from_lines(&form.sections, &mut errors);
    let template = Template {
        key: form.key.trim().to_owned(),
        name: form.name.clone(),
        sections,
    }
    .validate();
    let result = match (template, errors.is_empty()) {
        (Ok(template), true) => {
            if template_named(&state, &template.key).await?.is_some() {
                Err(ValidationErrors::single(
                    "key",
                    "a template with this key exists",
                ))
            } else {
                match state
                    .store
                    .create_template(template, state.clock.now())
                    .await
                {
                    Ok(()) => Ok(()),
                    Err(StoreError::Conflict(message)) => {
                        Err(ValidationErrors::single("key", message))
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
        (Ok(_), false) => Err(errors),
        (Err(mut more), _) => {
            more.0.extend(errors.0);
            Err(more)
        }
    };
    match result {
        Ok(()) => Ok(Redirect::to("/postmortems/new").into_response()),
        Err(errors) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &TemplatePage {
                nav: Nav::of(Some(&actor)),
                key: form.key,
                name: form.name,
                sections: form.sections,
                errors,
            },
        )),
    }
}
