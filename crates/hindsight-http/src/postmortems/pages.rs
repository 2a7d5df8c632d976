//! The postmortem pages for writers: the list, the new-postmortem form, the editor (sections
//! with guidance, previews and lint findings, why chains, factors, lessons, action items, the
//! readiness checklist and the status buttons), refreshing the generated timeline, discarding
//! a draft, the history with its diff, and the template form. They work without JavaScript;
//! `editor.js` re-lints and re-previews a section while the writer types. Readers get the
//! document itself (`reading.rs`).

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
    discarded: bool,
    status: String,
    statuses: &'static [PostmortemStatus],
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
    discarded: Option<String>,
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
            discarded: query.discarded.is_some(),
            status: status.map(|status| status.to_string()).unwrap_or_default(),
            statuses: PostmortemStatus::ALL,
        },
    ))
}

/// A postmortem that already covers an incident someone is about to start another for.
struct Existing {
    id: String,
    title: String,
    status: String,
}

#[derive(askama::Template)]
#[template(path = "postmortems/new.html")]
struct NewPage {
    nav: Nav,
    incident: String,
    title: String,
    template: String,
    templates: Vec<Template>,
    /// Whether to write a first draft from the incidents.
    draft: bool,
    /// Postmortems that already cover the incidents: starting another is a choice to make.
    existing: Vec<Existing>,
    another: bool,
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

/// Reads `INC-3, 4` into incident ids, naming each part that is not one.
fn incident_ids(text: &str, errors: &mut ValidationErrors) -> Vec<IncidentId> {
    text.split([',', ' '])
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .filter_map(|part| {
            let parsed = part
                .strip_prefix("INC-")
                .or_else(|| part.strip_prefix("inc-"))
                .unwrap_or(part)
                .parse()
                .ok();
            if parsed.is_none() {
                errors.add(
                    "incidents",
                    format!(
                        "`{}` is not an incident id",
                        part.chars().take(40).collect::<String>()
                    ),
                );
            }
            parsed
        })
        .collect()
}

/// The postmortems this reader can see that cover any of `incidents`.
async fn covering(
    state: &AppState,
    actor: &Actor,
    incidents: &[IncidentId],
) -> Result<Vec<Existing>, StoreError> {
    let mut existing: Vec<Existing> = Vec::new();
    for incident in incidents {
        let found = state
            .store
            .list_postmortems(
                &PostmortemFilter {
                    incident: Some(*incident),
                    limit: 50,
                    ..PostmortemFilter::default()
                },
                actor.visibility(),
            )
            .await?;
        for postmortem in found {
            let id = postmortem.id.to_string();
            if !existing.iter().any(|known| known.id == id) {
                existing.push(Existing {
                    id,
                    title: postmortem.document.title,
                    status: postmortem.status.words(),
                });
            }
        }
    }
    Ok(existing)
}

pub async fn new_postmortem(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Query(query): Query<NewQuery>,
) -> Result<Response, PageError> {
    let incident = query.incident.unwrap_or_default();
    let mut ignored = ValidationErrors::new();
    let existing = covering(&state, &actor, &incident_ids(&incident, &mut ignored)).await?;
    Ok(render(
        StatusCode::OK,
        &NewPage {
            nav: Nav::of(Some(&actor)),
            incident,
            title: String::new(),
            template: "default".into(),
            templates: all_templates(&*state.store).await?,
            draft: true,
            existing,
            another: false,
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
    /// `incidents` (the default) or `blank`.
    #[serde(default)]
    start_from: String,
    /// `yes` when the writer chose to start another postmortem for a covered incident.
    #[serde(default)]
    another: String,
}

pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    form: Result<Form<NewForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let mut errors = ValidationErrors::new();
    let incidents = incident_ids(&form.incident, &mut errors);
    let draft = form.start_from != "blank";
    let another = form.another == "yes";
    let existing = covering(&state, &actor, &incidents).await?;
    if !existing.is_empty() && !another {
        errors.add(
            "another",
            "a postmortem already covers this incident: open it, or tick the box to start \
             another one",
        );
    }
    let result = if errors.is_empty() {
        create_from(
            &state,
            &actor,
            PostmortemCreate {
                incidents,
                template: Some(form.template.clone()),
                title: Some(form.title.clone()).filter(|title| !title.trim().is_empty()),
                owner: None,
                draft: Some(draft),
            },
        )
        .await
    } else {
        Err(StoreError::Invalid(errors))
    };
    match result {
        Ok(postmortem) => {
            Ok(Redirect::to(&format!("/postmortems/{}/edit", postmortem.id)).into_response())
        }
        Err(StoreError::Invalid(errors)) => Ok(render(
            StatusCode::UNPROCESSABLE_ENTITY,
            &NewPage {
                nav: Nav::of(Some(&actor)),
                incident: form.incident,
                title: form.title,
                template: form.template,
                templates: all_templates(&*state.store).await?,
                draft,
                existing,
                another,
                errors,
            },
        )),
        Err(error) => Err(page_error(error)),
    }
}

pub(crate) struct FindingView {
    pub field: String,
    pub rule: String,
    pub severity: &'static str,
    pub place: String,
    pub words: String,
    pub message: String,
    pub suggestion: String,
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
    error: Option<String>,
}

struct ChainRow {
    /// `why_chains[2]`.
    field: String,
    problem: String,
    problem_error: Option<String>,
    whys: Vec<WhyRow>,
    root_cause: String,
    root_cause_error: Option<String>,
    /// The empty chain offered for adding one.
    blank: bool,
    first: bool,
    last: bool,
}

struct FactorRow {
    field: String,
    category: String,
    description: String,
    error: Option<String>,
    blank: bool,
}

/// A field as people name it, with the id of where it is on the page: "Chain 2, why 3"
/// for `why_chains[1].whys[2].answer`.
fn field_label(sections: &[SectionView], field: &str) -> (String, String) {
    if let Some(key) = field.strip_prefix("sections.") {
        let title = sections
            .iter()
            .find(|section| section.section.key == key)
            .map_or_else(|| key.to_owned(), |section| section.section.title.clone());
        return (title, format!("section-{key}"));
    }
    if let Some(rest) = field.strip_prefix("why_chains[")
        && let Some((chain, part)) = index(rest)
    {
        let anchor = format!("chain-{chain}");
        let what = if let Some(why) = part.strip_prefix("whys[")
            && let Some((step, _)) = index(why)
        {
            format!("why {}", step + 1)
        } else {
            part.replace('_', " ")
        };
        let label = if what.is_empty() {
            format!("5 Whys, chain {}", chain + 1)
        } else {
            format!("5 Whys, chain {}, {what}", chain + 1)
        };
        return (label, anchor);
    }
    if let Some(rest) = field.strip_prefix("factors[")
        && let Some((factor, _)) = index(rest)
    {
        return (
            format!("Contributing factor {}", factor + 1),
            "factors".to_owned(),
        );
    }
    match field {
        "title" => ("Title".to_owned(), "title".to_owned()),
        "why_chains" => ("5 Whys".to_owned(), "why-chains".to_owned()),
        "factors" => ("Contributing factors".to_owned(), "factors".to_owned()),
        "lint" => ("Blocked by the lint".to_owned(), "readiness".to_owned()),
        "justification" => ("Justification".to_owned(), "readiness".to_owned()),
        "action_items" | "no_action_items_reason" => {
            ("Action items".to_owned(), "action-items".to_owned())
        }
        other if other.starts_with("lessons") => {
            ("Lessons learned".to_owned(), "lessons".to_owned())
        }
        other => (other.replace('_', " "), String::new()),
    }
}

/// `3].rest` → (3, `rest`).
fn index(text: &str) -> Option<(usize, &str)> {
    let (number, rest) = text.split_once(']')?;
    Some((number.parse().ok()?, rest.trim_start_matches('.')))
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
    /// "before review", "before publishing".
    before: &'static str,
    label: &'static str,
    missing: Vec<MissingPiece>,
    /// Findings of blocking lint rules: the move needs a justification.
    blocked: Vec<String>,
}

/// Refreshing the timeline found a person's edit inside the generated block.
struct RefreshConflict {
    section: String,
    diff: Vec<hindsight_domain::document::DiffLine>,
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
    /// Findings about the language, counted on the buttons that move the postmortem on.
    language_findings: usize,
    missing_for_review: Vec<MissingPiece>,
    missing_for_publish: Vec<MissingPiece>,
    moves: Vec<Move>,
    errors: ValidationErrors,
    /// Why the page is shown again instead of saved.
    notice: Option<String>,
    /// What the last save did, said after the redirect.
    saved: Option<String>,
    /// Whether the template has a place for the generated timeline.
    can_refresh: bool,
    refresh_conflict: Option<RefreshConflict>,
    images: Vec<super::images::ImageView>,
    /// The image just uploaded, whose Markdown to paste is shown first.
    uploaded: Option<i64>,
    max_image_bytes: u64,
}

impl EditorPage {
    fn error(&self, field: &str) -> Option<&str> {
        self.errors.message_for(field)
    }

    /// The messages of every error on `prefix` and the fields under it (`lessons.went_well`
    /// and `lessons.went_well[2]`), for the boxes whose lines are items.
    fn errors_under(&self, prefix: &str) -> Vec<String> {
        self.errors
            .0
            .iter()
            .filter(|error| error.field == prefix || error.field.starts_with(&format!("{prefix}[")))
            .map(|error| error.message.clone())
            .collect()
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

    fn is_owner(&self, user: &User) -> bool {
        self.document.owner == Some(user.id)
    }

    fn just_uploaded(&self) -> Option<&super::images::ImageView> {
        self.images
            .iter()
            .find(|image| Some(image.image.id) == self.uploaded)
    }

    fn is_uploaded(&self, id: &i64) -> bool {
        self.uploaded == Some(*id)
    }

    fn max_image_size(&self) -> String {
        let bytes = self.max_image_bytes;
        if bytes >= 1024 * 1024 {
            format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0)).replace(".0 ", " ")
        } else {
            format!("{} KiB", bytes.div_ceil(1024))
        }
    }

    fn field_label(&self, field: &str) -> (String, String) {
        field_label(&self.sections, field)
    }

    /// How many blocking findings hold the move to `to` back.
    fn blocked_count(&self, to: &str) -> usize {
        self.moves
            .iter()
            .find(|step| step.to == to)
            .map_or(0, |step| step.blocked.len())
    }

    fn findings_label(&self) -> String {
        match self.language_findings {
            0 => String::new(),
            1 => " (1 finding)".to_owned(),
            n => format!(" ({n} findings)"),
        }
    }
}

pub(crate) fn finding_view(
    text_of: impl Fn(&str) -> Option<String>,
    found: FieldFinding,
) -> FindingView {
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

/// The chains as the form shows them, each with the errors of its fields, and one blank chain
/// to add another. Every chain offers five whys to start with, and always one more to add.
fn chain_rows(document: &PostmortemDocument, errors: &ValidationErrors) -> Vec<ChainRow> {
    let error = |field: &str| errors.message_for(field).map(str::to_owned);
    let mut chains: Vec<ChainRow> = document
        .why_chains
        .iter()
        .enumerate()
        .map(|(index, chain)| {
            let field = format!("why_chains[{index}]");
            ChainRow {
                problem: chain.problem.clone(),
                problem_error: error(&format!("{field}.problem")),
                whys: chain
                    .whys
                    .iter()
                    .enumerate()
                    .map(|(step, why)| WhyRow {
                        question: why.question.clone(),
                        answer: why.answer.clone(),
                        error: error(&format!("{field}.whys[{step}].question"))
                            .or_else(|| error(&format!("{field}.whys[{step}].answer"))),
                    })
                    .collect(),
                root_cause: chain.root_cause.clone().unwrap_or_default(),
                root_cause_error: error(&format!("{field}.root_cause")),
                blank: false,
                first: index == 0,
                last: index + 1 == document.why_chains.len(),
                field,
            }
        })
        .collect();
    chains.push(ChainRow {
        field: format!("why_chains[{}]", chains.len()),
        problem: String::new(),
        problem_error: None,
        whys: Vec::new(),
        root_cause: String::new(),
        root_cause_error: None,
        blank: true,
        first: false,
        last: true,
    });
    for chain in &mut chains {
        let rows = (chain.whys.len() + 1).max(5);
        while chain.whys.len() < rows {
            chain.whys.push(WhyRow {
                question: String::new(),
                answer: String::new(),
                error: None,
            });
        }
    }
    chains
}

fn factor_rows(document: &PostmortemDocument, errors: &ValidationErrors) -> Vec<FactorRow> {
    let mut factors: Vec<FactorRow> = document
        .factors
        .iter()
        .enumerate()
        .map(|(index, factor)| {
            let field = format!("factors[{index}]");
            FactorRow {
                category: factor.category.clone(),
                description: factor.description.clone(),
                error: errors
                    .message_for(&format!("{field}.category"))
                    .or_else(|| errors.message_for(&format!("{field}.description")))
                    .map(str::to_owned),
                blank: false,
                field,
            }
        })
        .collect();
    factors.push(FactorRow {
        field: format!("factors[{}]", factors.len()),
        category: String::new(),
        description: String::new(),
        error: None,
        blank: true,
    });
    factors
}

/// What the editor says after a save: `?saved=7`, or `?saved=unchanged`.
#[derive(Deserialize, Default)]
pub struct EditorQuery {
    saved: Option<String>,
    moved: Option<String>,
    refreshed: Option<String>,
    uploaded: Option<i64>,
}

impl EditorQuery {
    fn notice(&self) -> Option<String> {
        if let Some(saved) = &self.saved {
            return Some(match saved.as_str() {
                "unchanged" => "Nothing changed, so nothing was saved.".to_owned(),
                version => format!(
                    "Saved as version {}.",
                    version.chars().take(10).collect::<String>()
                ),
            });
        }
        if let Some(moved) = &self.moved {
            return Some(match moved.as_str() {
                "in_review" => "Submitted for review. Reviewers can read it now; it can go back \
                                to draft for more work."
                    .to_owned(),
                _ => "Back to draft.".to_owned(),
            });
        }
        self.refreshed.as_deref().map(|refreshed| match refreshed {
            "unchanged" => "The timeline block already matches the incident timeline.".to_owned(),
            "added" => "The timeline had no generated block; it was added at the end of the \
                        section."
                .to_owned(),
            _ => "The generated timeline was refreshed from the incident timeline; your text \
                  around it is as it was."
                .to_owned(),
        })
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
    let postmortem_id = postmortem.id;
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
    let found = lint_stored_postmortem(state, &shown, &template, actor.visibility()).await?;
    let language_findings = found
        .iter()
        .filter(|finding| hindsight_domain::lint::is_language(finding))
        .count();
    let block = &state.postmortems.lint.block;
    // What blocks the next move, said as the page says fields: the stored version is the one
    // that moves.
    let stored_texts = hindsight_domain::lint::document_texts(&postmortem.document);
    let blocking: Vec<(String, String, String)> = if document == postmortem.document {
        hindsight_domain::lint::blocking(&found, block)
            .map(|found| {
                let words = stored_texts
                    .iter()
                    .find(|(field, _)| *field == found.field)
                    .and_then(|(_, text)| text.get(found.finding.start..found.finding.end))
                    .unwrap_or_default()
                    .to_owned();
                (found.finding.rule.to_string(), found.field.clone(), words)
            })
            .collect()
    } else {
        Vec::new()
    };
    let findings = found
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
    let sections: Vec<SectionView> = template
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
    let blocked: Vec<String> = blocking
        .iter()
        .map(|(rule, field, words)| {
            let (label, _) = field_label(&sections, field);
            if words.is_empty() {
                format!("{rule} in {label}")
            } else {
                format!("{rule} in {label}: \u{201c}{words}\u{201d}")
            }
        })
        .collect();
    let moves = match postmortem.status {
        PostmortemStatus::Draft => vec![Move {
            to: "in_review",
            before: "before review",
            label: "Submit for review",
            missing: missing_for_review.clone(),
            blocked: blocked.clone(),
        }],
        PostmortemStatus::InReview => vec![
            Move {
                to: "published",
                before: "before publishing",
                label: "Publish",
                missing: missing_for_publish.clone(),
                blocked,
            },
            Move {
                to: "draft",
                before: "",
                label: "Back to draft",
                missing: Vec::new(),
                blocked: Vec::new(),
            },
        ],
        PostmortemStatus::Published => Vec::new(),
    };
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
        // Who may own it: people who can write, and whoever owns it now.
        users: state
            .store
            .list_users()
            .await?
            .into_iter()
            .filter(|user| {
                document.owner == Some(user.id)
                    || (!user.disabled && user.role != hindsight_domain::access::Role::Viewer)
            })
            .collect(),
        categories: state.postmortems.factor_categories.clone(),
        chains: chain_rows(&document, &errors),
        factors: factor_rows(&document, &errors),
        can_refresh: hindsight_domain::draft::timeline_section(&template).is_some(),
        postmortem,
        document,
        sections,
        items,
        findings,
        language_findings,
        missing_for_review,
        missing_for_publish,
        moves,
        errors,
        notice,
        saved: None,
        refresh_conflict: None,
        images: state
            .store
            .list_images(postmortem_id, actor.visibility())
            .await?
            .into_iter()
            .map(super::images::ImageView::from)
            .collect(),
        uploaded: None,
        max_image_bytes: state.postmortems.max_image_bytes,
    })
}

/// The editor with `notice` on top, for what happened outside the editor's own form (an
/// image that was not added).
pub(super) async fn editor_with_notice(
    state: &AppState,
    actor: &Actor,
    id: hindsight_domain::document::PostmortemId,
    status: StatusCode,
    notice: String,
) -> Result<Response, PageError> {
    let postmortem = state
        .store
        .get_postmortem(id, actor.visibility())
        .await?
        .ok_or_else(|| PageError::not_found("There is no such postmortem."))?;
    let document = postmortem.document.clone();
    let page = editor_page(
        state,
        actor,
        postmortem,
        document,
        ValidationErrors::new(),
        Some(notice),
    )
    .await?;
    Ok(render(status, &page))
}

pub async fn editor(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    query: Result<Query<EditorQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, PageError> {
    let postmortem = load(&state, &actor, &id).await?;
    let document = postmortem.document.clone();
    let mut page = editor_page(
        &state,
        &actor,
        postmortem,
        document,
        ValidationErrors::new(),
        None,
    )
    .await?;
    let query = query.map(|Query(query)| query).unwrap_or_default();
    page.saved = query.notice();
    page.uploaded = query
        .uploaded
        .filter(|id| page.images.iter().any(|image| image.image.id == *id));
    Ok(render(StatusCode::OK, &page))
}

pub async fn save(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(pairs) = form?;
    match save_form(&state, &actor, &id, pairs).await? {
        Ok((saved, made_on)) => {
            let said = if Some(saved.version) == made_on {
                "unchanged".to_owned()
            } else {
                saved.version.to_string()
            };
            Ok(Redirect::to(&format!(
                "/postmortems/{}/edit?saved={said}#saved",
                saved.id
            ))
            .into_response())
        }
        Err(refused) => Ok(refused),
    }
}

/// Whether a form carries the editor's fields: the buttons that move a postmortem or refresh
/// its timeline send the editor's form, so that what was typed is saved first.
fn carries_editor(pairs: &[(String, String)]) -> bool {
    pairs.iter().any(|(key, _)| key == "title")
}

/// The last value of `name` in a form.
fn field(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// Saves the editor's form: the postmortem as saved (or as it was, when nothing changed) with
/// the version the form was made on, or the page that says why nothing was saved.
async fn save_form(
    state: &AppState,
    actor: &Actor,
    id: &str,
    pairs: Vec<(String, String)>,
) -> Result<Result<(Postmortem, Option<u32>), Response>, PageError> {
    let (state, actor) = (state.clone(), actor.clone());
    let current = load(&state, &actor, id).await?;
    let form = EditorForm::read(pairs, &current.document);
    let sent = form.document.clone();
    let made_on = form.version;
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
        Ok(saved) => return Ok(Ok((saved, made_on))),
        Err(StoreError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            Some("Nothing was saved: some fields need a change, each is marked below.".into()),
        ),
        Err(StoreError::VersionConflict(now)) => {
            // Laid over the version saved meanwhile, field by field, so that saving again
            // keeps the other person's changes wherever this writer did not change the same.
            let latest = load(&state, &actor, id).await?;
            let base = match made_on {
                Some(version) => revisions(&state, &actor, latest.id)
                    .await
                    .ok()
                    .and_then(|all| all.into_iter().find(|revision| revision.version == version)),
                None => None,
            };
            let Some(base) = base else {
                let notice = format!(
                    "Nothing was saved: someone saved version {now} while you were editing. \
                     Your text is below, unsaved; compare it with the history, then save \
                     again to make it version {}.",
                    now + 1
                );
                let page = editor_page(
                    &state,
                    &actor,
                    latest,
                    sent,
                    ValidationErrors::new(),
                    Some(notice),
                )
                .await?;
                return Ok(Err(render(StatusCode::CONFLICT, &page)));
            };
            let rebased =
                hindsight_domain::document::rebase(&base.document, &sent, &latest.document);
            let mut page = editor_page(
                &state,
                &actor,
                latest,
                rebased.document,
                ValidationErrors::new(),
                None,
            )
            .await?;
            let names = |fields: &[String]| -> String {
                fields
                    .iter()
                    .map(|field| page.field_label(field).0)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let mut notice = format!(
                "Nothing was saved: someone saved version {now} while you were editing. The \
                 form below is that version with your changes laid over it; check it, then \
                 save to make it version {}.",
                now + 1
            );
            if !rebased.theirs.is_empty() {
                notice.push_str(&format!(" Their changes kept: {}.", names(&rebased.theirs)));
            }
            if !rebased.conflicts.is_empty() {
                notice.push_str(&format!(
                    " Both of you changed {}: yours is shown, theirs is in the history.",
                    names(&rebased.conflicts)
                ));
            }
            page.notice = Some(notice);
            return Ok(Err(render(StatusCode::CONFLICT, &page)));
        }
        Err(error) => return Err(page_error(error)),
    };
    // Show what the writer sent, made on the current version so that saving again is a choice.
    let latest = load(&state, &actor, id).await?;
    let page = editor_page(&state, &actor, latest, sent, errors, notice).await?;
    Ok(Err(render(status, &page)))
}

pub async fn move_to(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: crate::audit::Auditor,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(pairs) = form?;
    let to_text = field(&pairs, "to").unwrap_or_default();
    let justification = field(&pairs, "justification");
    let mut version = field(&pairs, "version").and_then(|version| version.trim().parse().ok());
    let current = load(&state, &actor, &id).await?;
    let Some(to) = PostmortemStatus::parse(&to_text) else {
        return Err(PageError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            title: "No such status",
            message: format!(
                "`{}` is not a status of a postmortem.",
                to_text.chars().take(40).collect::<String>()
            ),
        });
    };
    if carries_editor(&pairs) {
        match save_form(&state, &actor, &id, pairs).await? {
            Ok((saved, _)) => version = Some(saved.version),
            Err(refused) => return Ok(refused),
        }
    }
    let moved = move_postmortem(
        &state,
        &actor,
        &auditor,
        current.id,
        version,
        to,
        justification.as_deref(),
    )
    .await;
    let (status, errors, notice) = match moved {
        Ok(moved) => {
            let path = if moved.status == PostmortemStatus::Published {
                format!("/postmortems/{}?published=1", moved.id)
            } else {
                format!(
                    "/postmortems/{}/edit?moved={}#saved",
                    moved.id, moved.status
                )
            };
            return Ok(Redirect::to(&path).into_response());
        }
        Err(StoreError::Invalid(errors)) => {
            let goal = match to {
                PostmortemStatus::Draft => "go back to draft",
                PostmortemStatus::InReview => "go to review",
                PostmortemStatus::Published => "be published",
            };
            // What the lint holds back is listed, in the page's words, beside the button.
            let errors = ValidationErrors(
                errors
                    .0
                    .into_iter()
                    .filter(|error| error.field != "lint")
                    .collect(),
            );
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                errors,
                Some(format!("It cannot {goal} yet; nothing changed:")),
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

/// Rewrites the generated timeline block from the incidents' timelines. When a person edited
/// inside the block, the editor shows what would be lost and asks before replacing it.
pub async fn refresh(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(pairs) = form?;
    let replace = field(&pairs, "replace_edits").as_deref() == Some("yes");
    let mut version = field(&pairs, "version").and_then(|version| version.trim().parse().ok());
    let current = load(&state, &actor, &id).await?;
    if carries_editor(&pairs) {
        match save_form(&state, &actor, &id, pairs).await? {
            Ok((saved, _)) => version = Some(saved.version),
            Err(refused) => return Ok(refused),
        }
    }
    let refreshed = super::refresh_timeline(&state, &actor, current.id, version, replace).await;
    let (status, errors, notice, conflict) = match refreshed {
        Ok(super::Refreshed::Updated {
            postmortem, added, ..
        }) => {
            let said = if added { "added" } else { "updated" };
            return Ok(Redirect::to(&format!(
                "/postmortems/{}/edit?refreshed={said}#saved",
                postmortem.id
            ))
            .into_response());
        }
        Ok(super::Refreshed::Unchanged(postmortem)) => {
            return Ok(Redirect::to(&format!(
                "/postmortems/{}/edit?refreshed=unchanged#saved",
                postmortem.id
            ))
            .into_response());
        }
        Ok(super::Refreshed::Edited {
            section,
            edited,
            generated,
            ..
        }) => (
            StatusCode::CONFLICT,
            ValidationErrors::new(),
            Some(
                "Nothing was changed: the generated timeline was edited by hand. Below is what \
                 refreshing would change; move your edits outside the markers to keep them, or \
                 replace the block anyway."
                    .to_owned(),
            ),
            Some(RefreshConflict {
                section,
                diff: hindsight_domain::document::diff_lines(&edited, &generated),
            }),
        ),
        Err(StoreError::VersionConflict(now)) => (
            StatusCode::CONFLICT,
            ValidationErrors::new(),
            Some(format!(
                "Nothing changed: someone saved version {now} since this page was loaded. \
                 Check it, then try again."
            )),
            None,
        ),
        Err(StoreError::Invalid(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors,
            Some("The timeline could not be refreshed.".to_owned()),
            None,
        ),
        Err(error) => return Err(page_error(error)),
    };
    let latest = load(&state, &actor, &id).await?;
    let document = latest.document.clone();
    let mut page = editor_page(&state, &actor, latest, document, errors, notice).await?;
    page.refresh_conflict = conflict.map(|mut conflict| {
        conflict.section = field_label(&page.sections, &format!("sections.{}", conflict.section)).0;
        conflict
    });
    Ok(render(status, &page))
}

/// Discards a draft: it and its history are deleted, with an audit entry. Published and
/// in-review postmortems are never deleted.
pub async fn discard(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: crate::audit::Auditor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let current = load(&state, &actor, &id).await?;
    match super::discard_postmortem(&state, &actor, &auditor, current.id).await {
        Ok(()) => Ok(Redirect::to("/postmortems?discarded=1").into_response()),
        Err(StoreError::Conflict(message)) => Err(PageError {
            status: StatusCode::CONFLICT,
            title: "Not discarded",
            message,
        }),
        Err(error) => Err(page_error(error)),
    }
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
