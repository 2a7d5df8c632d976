//! `/api/v1/postmortems` and `/api/v1/templates`: the document, its parts, its moves through
//! the process, its history, and the lint, as JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use hindsight_domain::IncidentId;
use hindsight_domain::access::UserId;
use hindsight_domain::document::{
    FieldDiff, Postmortem, PostmortemDocument, PostmortemId, PostmortemPatch, Revision,
    diff as diff_revisions,
};
use hindsight_domain::lint::{FieldFinding, Finding};
use hindsight_domain::markdown_file;
use hindsight_domain::postmortem::{
    ContributingFactor, MissingPiece, PostmortemStatus, SectionTemplate, Template, WhyChain,
    missing_for,
};
use hindsight_store::{NewPostmortem, PostmortemFilter, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{
    all_templates, check_references, edit_document, lint_stored_postmortem, move_postmortem,
    people, template_named,
};
use crate::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::CurrentActor;
use crate::lookup::author_of;

/// A store error from a postmortem route: a 404 that says what was missing.
fn postmortem_error(error: StoreError) -> ApiError {
    ApiError::or_missing(|| ApiError::not_found("there is no such postmortem"))(error)
}

pub(crate) fn parse_id(text: &str) -> Result<PostmortemId, ApiError> {
    text.strip_prefix("PM-")
        .unwrap_or(text)
        .parse()
        .map_err(|()| {
            ApiError::not_found(format!(
                "there is no postmortem `{}`",
                text.chars().take(40).collect::<String>()
            ))
        })
}

async fn read(
    state: &AppState,
    actor: &hindsight_domain::access::Actor,
    id: &str,
) -> Result<Postmortem, ApiError> {
    let id = parse_id(id)?;
    state
        .store
        .get_postmortem(id, actor.visibility())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no postmortem {id}")))
}

/// The built-in templates and those teams added.
#[utoipa::path(get, path = "/api/v1/templates", tag = "postmortems",
    responses((status = 200, body = [Template])))]
pub async fn list_templates(
    State(state): State<AppState>,
) -> Result<ApiJson<Vec<Template>>, ApiError> {
    Ok(ApiJson(all_templates(&*state.store).await?))
}

/// One template.
#[utoipa::path(get, path = "/api/v1/templates/{key}", tag = "postmortems",
    params(("key" = String, Path)),
    responses((status = 200, body = Template), (status = 404, body = ErrorBody)))]
pub async fn get_template(
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<ApiJson<Template>, ApiError> {
    template_named(&state, &key)
        .await?
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found(format!("there is no template `{key}`")))
}

/// Add a team's template: ordered sections, each with guidance and what it is required for.
/// Templates are not changed once added (postmortems written from one keep their meaning);
/// add a new one instead.
#[utoipa::path(post, path = "/api/v1/templates", tag = "postmortems",
    request_body = Template,
    responses(
        (status = 201, body = Template),
        (status = 409, description = "The key is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_template(
    State(state): State<AppState>,
    ApiJson(template): ApiJson<Template>,
) -> Result<impl IntoResponse, ApiError> {
    let template = template.validate().map_err(ApiError::invalid)?;
    if template_named(&state, &template.key).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "conflict",
            format!("a template with the key `{}` exists", template.key),
        ));
    }
    state
        .store
        .create_template(template.clone(), state.clock.now())
        .await?;
    Ok((StatusCode::CREATED, ApiJson(template)))
}

/// What a new postmortem starts from.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostmortemCreate {
    /// The incidents it covers; at least one.
    pub incidents: Vec<IncidentId>,
    /// A template key; `default` when absent.
    #[serde(default)]
    pub template: Option<String>,
    /// Defaults to "Postmortem: " and the first incident's title.
    #[serde(default)]
    pub title: Option<String>,
    /// Defaults to the user the first incident's owner names (by email or name), else to
    /// whoever creates it.
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub owner: Option<UserId>,
    /// Whether to write a first draft from the incidents (summary, impact in words, the
    /// timeline with the response metrics, in the owner's team time zone); `true` when absent.
    #[serde(default)]
    pub draft: Option<bool>,
}

/// Create a postmortem for one or more incidents, from a template, as a draft. Unless
/// `"draft": false`, its summary, impact and timeline are written from the incidents.
#[utoipa::path(post, path = "/api/v1/postmortems", tag = "postmortems",
    request_body = PostmortemCreate,
    responses(
        (status = 201, description = "Created; `Location` names it", body = Postmortem),
        (status = 422, description = "An unknown incident, template or owner; `details` names each", body = ErrorBody),
    ))]
pub async fn create_postmortem(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    ApiJson(create): ApiJson<PostmortemCreate>,
) -> Result<impl IntoResponse, ApiError> {
    let postmortem = create_from(&state, &actor, create)
        .await
        .map_err(postmortem_error)?;
    Ok((
        StatusCode::CREATED,
        [(
            header::LOCATION,
            format!("/api/v1/postmortems/{}", postmortem.id),
        )],
        ApiJson(postmortem),
    ))
}

pub(crate) async fn create_from(
    state: &AppState,
    actor: &hindsight_domain::access::Actor,
    create: PostmortemCreate,
) -> Result<Postmortem, StoreError> {
    let key = create.template.unwrap_or_else(|| "default".to_owned());
    // Every problem at once: the template, then each incident and the owner.
    let mut errors = hindsight_domain::ValidationErrors::new();
    let template = template_named(state, &key).await?;
    if template.is_none() {
        let known: Vec<String> = all_templates(&*state.store)
            .await?
            .into_iter()
            .map(|template| template.key)
            .collect();
        errors.add(
            "template",
            format!(
                "there is no template `{key}`; there are: {}",
                known.join(", ")
            ),
        );
    }
    let mut document = PostmortemDocument {
        title: create.title.unwrap_or_default(),
        incidents: create.incidents,
        template: key.clone(),
        owner: create.owner,
        ..PostmortemDocument::default()
    };
    let incidents = match check_references(state, actor.visibility(), &document).await {
        Ok(incidents) => incidents,
        Err(StoreError::Invalid(more)) => {
            errors.0.extend(more.0);
            Vec::new()
        }
        Err(error) => return Err(error),
    };
    let Some(template) = template.filter(|_| errors.is_empty()) else {
        return Err(StoreError::Invalid(errors));
    };
    if document.owner.is_none() {
        let named = match incidents
            .first()
            .and_then(|first| first.content.owner.as_deref())
        {
            Some(owner) => super::user_named(state, owner).await?,
            None => None,
        };
        document.owner = named.or(Some(actor.user.id));
    }
    if document.title.trim().is_empty() {
        document.title = match incidents.first() {
            Some(first) => format!("Postmortem: {}", first.content.title),
            None => "Postmortem".to_owned(),
        };
    }
    if create.draft.unwrap_or(true) {
        let sources = super::draft_sources(state, actor.visibility(), &incidents).await?;
        let sources: Vec<hindsight_domain::draft::Source> = sources
            .iter()
            .map(|(incident, events)| hindsight_domain::draft::Source { incident, events })
            .collect();
        let zone = super::draft_zone(state, document.owner).await?;
        document.sections = hindsight_domain::draft::sections(&template, &sources, &zone);
    }
    let document = document
        .validate(&template, &state.postmortems.factor_categories)
        .map_err(StoreError::Invalid)?;
    let postmortem = state
        .store
        .create_postmortem(
            NewPostmortem {
                id: None,
                status: PostmortemStatus::Draft,
                document,
            },
            author_of(actor),
            state.clock.now(),
        )
        .await?;
    tracing::info!(postmortem.id = %postmortem.id, "postmortem created");
    Ok(postmortem)
}

/// Read one postmortem.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}", tag = "postmortems",
    params(("id" = i64, Path)),
    responses((status = 200, body = Postmortem), (status = 404, body = ErrorBody)))]
pub async fn get_postmortem(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<Postmortem>, ApiError> {
    Ok(ApiJson(read(&state, &actor, &id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PostmortemQuery {
    /// `draft`, `in_review` or `published`.
    pub status: Option<String>,
    /// Only postmortems covering this incident.
    #[param(minimum = 1)]
    pub incident: Option<i64>,
    /// Only postmortems older than this id (the `next_before` of the previous page).
    #[param(minimum = 1)]
    pub before: Option<i64>,
    /// 1 to 200; 50 when absent.
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostmortemList {
    pub items: Vec<Postmortem>,
    /// Pass as `before` for the next page; absent on the last one.
    pub next_before: Option<PostmortemId>,
}

/// List postmortems, newest first.
#[utoipa::path(get, path = "/api/v1/postmortems", tag = "postmortems",
    params(PostmortemQuery),
    responses((status = 200, body = PostmortemList), (status = 422, body = ErrorBody)))]
pub async fn list_postmortems(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    query: Result<Query<PostmortemQuery>, QueryRejection>,
) -> Result<ApiJson<PostmortemList>, ApiError> {
    let Query(query) = query?;
    let mut errors = hindsight_domain::ValidationErrors::new();
    let status = query.status.as_deref().and_then(|status| {
        let parsed = PostmortemStatus::parse(status);
        if parsed.is_none() {
            errors.add(
                "status",
                format!("expected one of: {}", PostmortemStatus::expected()),
            );
        }
        parsed
    });
    let limit = query.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        errors.add("limit", "must be 1 to 200");
    }
    let incident = query.incident.map(IncidentId::new);
    if incident == Some(None) {
        errors.add("incident", "must be a positive id");
    }
    let before = query.before.map(PostmortemId::new);
    if before == Some(None) {
        errors.add("before", "must be a positive id");
    }
    if !errors.is_empty() {
        return Err(ApiError::invalid(errors));
    }
    let items = state
        .store
        .list_postmortems(
            &PostmortemFilter {
                status,
                incident: incident.flatten(),
                before: before.flatten(),
                limit,
            },
            actor.visibility(),
        )
        .await?;
    let next_before = (items.len() == limit as usize)
        .then(|| items.last().map(|last| last.id))
        .flatten();
    Ok(ApiJson(PostmortemList { items, next_before }))
}

/// Change a postmortem (JSON Merge Patch; lists are replaced whole). `version` is the version
/// the change was made on: if the postmortem has moved on, nothing is written and the answer is
/// 409 with the current version.
#[utoipa::path(patch, path = "/api/v1/postmortems/{id}", tag = "postmortems",
    params(("id" = i64, Path)),
    request_body = PostmortemPatch,
    responses(
        (status = 200, body = Postmortem),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`stale_version`: `details.current_version` is the current one", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update_postmortem(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<PostmortemPatch>,
) -> Result<ApiJson<Postmortem>, ApiError> {
    let id = parse_id(&id)?;
    let version = Some(patch.version);
    let postmortem = edit_document(&state, &actor, id, version, move |document| {
        patch.apply(document)
    })
    .await
    .map_err(postmortem_error)?;
    Ok(ApiJson(postmortem))
}

/// A section as the writer sees it: the template's title and guidance beside the text.
#[derive(Debug, Serialize, ToSchema)]
pub struct Section {
    #[serde(flatten)]
    pub template: SectionTemplate,
    pub text: String,
}

/// The sections of a postmortem, in the template's order.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/sections", tag = "postmortems",
    params(("id" = i64, Path)),
    responses((status = 200, body = [Section]), (status = 404, body = ErrorBody)))]
pub async fn list_sections(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<Section>>, ApiError> {
    let postmortem = read(&state, &actor, &id).await?;
    let template = template_named(&state, &postmortem.document.template)
        .await?
        .ok_or_else(|| ApiError::internal(&"a postmortem names a template that is gone"))?;
    Ok(ApiJson(
        template
            .sections
            .into_iter()
            .map(|section| Section {
                text: postmortem
                    .document
                    .sections
                    .get(&section.key)
                    .cloned()
                    .unwrap_or_default(),
                template: section,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionWrite {
    pub version: u32,
    /// Markdown; empty empties the section.
    pub text: String,
}

/// Write one section.
#[utoipa::path(put, path = "/api/v1/postmortems/{id}/sections/{key}", tag = "postmortems",
    params(("id" = i64, Path), ("key" = String, Path)),
    request_body = SectionWrite,
    responses(
        (status = 200, body = Postmortem),
        (status = 409, body = ErrorBody),
        (status = 422, description = "No such section in the postmortem's template", body = ErrorBody),
    ))]
pub async fn put_section(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((id, key)): Path<(String, String)>,
    ApiJson(write): ApiJson<SectionWrite>,
) -> Result<ApiJson<Postmortem>, ApiError> {
    let id = parse_id(&id)?;
    let postmortem = edit_document(&state, &actor, id, Some(write.version), move |document| {
        document.sections.insert(key, write.text);
    })
    .await
    .map_err(postmortem_error)?;
    Ok(ApiJson(postmortem))
}

/// The 5 Whys chains.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/why-chains", tag = "postmortems",
    params(("id" = i64, Path)),
    responses((status = 200, body = [WhyChain]), (status = 404, body = ErrorBody)))]
pub async fn list_why_chains(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<WhyChain>>, ApiError> {
    Ok(ApiJson(
        read(&state, &actor, &id).await?.document.why_chains,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhyChainAdd {
    pub version: u32,
    pub chain: WhyChain,
}

/// Add a 5 Whys chain (replace or remove chains with PATCH `why_chains`).
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/why-chains", tag = "postmortems",
    params(("id" = i64, Path)),
    request_body = WhyChainAdd,
    responses((status = 201, body = Postmortem), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_why_chain(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(add): ApiJson<WhyChainAdd>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let postmortem = edit_document(&state, &actor, id, Some(add.version), move |document| {
        document.why_chains.push(add.chain);
    })
    .await
    .map_err(postmortem_error)?;
    Ok((StatusCode::CREATED, ApiJson(postmortem)))
}

/// The contributing factors.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/contributing-factors", tag = "postmortems",
    params(("id" = i64, Path)),
    responses((status = 200, body = [ContributingFactor]), (status = 404, body = ErrorBody)))]
pub async fn list_factors(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<ContributingFactor>>, ApiError> {
    Ok(ApiJson(read(&state, &actor, &id).await?.document.factors))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactorAdd {
    pub version: u32,
    pub factor: ContributingFactor,
}

/// Add a contributing factor; its category comes from the configured taxonomy.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/contributing-factors", tag = "postmortems",
    params(("id" = i64, Path)),
    request_body = FactorAdd,
    responses((status = 201, body = Postmortem), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_factor(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(add): ApiJson<FactorAdd>,
) -> Result<impl IntoResponse, ApiError> {
    let id = parse_id(&id)?;
    let postmortem = edit_document(&state, &actor, id, Some(add.version), move |document| {
        document.factors.push(add.factor);
    })
    .await
    .map_err(postmortem_error)?;
    Ok((StatusCode::CREATED, ApiJson(postmortem)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionRequest {
    pub version: u32,
    /// `draft`, `in_review` or `published`.
    pub to: String,
    /// Why it moves despite findings of the lint rules the organisation blocks on
    /// (`[lint] block`); kept in the postmortem's `lint_exceptions` and the audit log.
    #[serde(default)]
    pub justification: Option<String>,
}

/// Move a postmortem: draft → in_review → published, or in_review → draft. A move the
/// postmortem is not ready for answers 422 with every missing piece in `details`; so does a
/// move to review or publication while the lint finds what the organisation blocks on
/// (`details` names each finding under `lint`), unless a `justification` is given.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/transitions", tag = "postmortems",
    params(("id" = i64, Path)),
    request_body = TransitionRequest,
    responses(
        (status = 200, body = Postmortem),
        (status = 409, body = ErrorBody),
        (status = 422, description = "Not allowed, or not ready: `details` lists each missing piece", body = ErrorBody),
    ))]
pub async fn transition(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: crate::audit::Auditor,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<TransitionRequest>,
) -> Result<ApiJson<Postmortem>, ApiError> {
    let id = parse_id(&id)?;
    let to = PostmortemStatus::parse(&request.to).ok_or_else(|| {
        ApiError::invalid(hindsight_domain::ValidationErrors::single(
            "to",
            format!(
                "`{}` is not a status; expected one of: {}",
                request.to,
                PostmortemStatus::expected()
            ),
        ))
    })?;
    let postmortem = move_postmortem(
        &state,
        &actor,
        &auditor,
        id,
        Some(request.version),
        to,
        request.justification.as_deref(),
    )
    .await
    .map_err(postmortem_error)?;
    tracing::info!(postmortem.id = %postmortem.id, status = %postmortem.status, "postmortem moved");
    Ok(ApiJson(postmortem))
}

/// What the lint found in a postmortem, and what each next move still needs.
#[derive(Debug, Serialize, ToSchema)]
pub struct LintReport {
    /// At most 1,000, in order of the document.
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<FieldFinding>,
    /// How many findings there were beyond the first 1,000, which are not listed.
    pub more: usize,
    pub missing_for_review: Vec<MissingPiece>,
    pub missing_for_publish: Vec<MissingPiece>,
}

/// Lint a stored postmortem: completeness and blameless language, each finding with its field.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/lint", tag = "postmortems",
    params(("id" = i64, Path)),
    responses((status = 200, body = LintReport), (status = 404, body = ErrorBody)))]
pub async fn lint_stored(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<LintReport>, ApiError> {
    let postmortem = read(&state, &actor, &id).await?;
    let template = template_named(&state, &postmortem.document.template)
        .await?
        .ok_or_else(|| ApiError::internal(&"a postmortem names a template that is gone"))?;
    let findings =
        lint_stored_postmortem(&state, &postmortem, &template, actor.visibility()).await?;
    let (items, unowned) = crate::action_items::counts(&state, postmortem.id).await?;
    let content = postmortem.document.content(items, unowned);
    let missing = |target| missing_for(&template, &content, target);
    let (findings, more) = hindsight_domain::lint::capped(findings);
    Ok(ApiJson(LintReport {
        findings,
        more,
        missing_for_review: missing(PostmortemStatus::InReview),
        missing_for_publish: missing(PostmortemStatus::Published),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LintRequest {
    /// Markdown: a section's text, or a whole postmortem file (front matter and sections).
    pub markdown: String,
    /// More names of people to recognise, besides Hindsight's users.
    #[serde(default)]
    pub people: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostedLint {
    /// Lines and columns are those of the posted text; at most 1,000, in order.
    #[schema(value_type = Vec<Object>)]
    pub findings: Vec<Finding>,
    /// How many findings there were beyond the first 1,000, which are not listed.
    pub more: usize,
}

/// The largest body `POST /api/v1/lint` takes, whatever the server's general limit: enough for
/// any postmortem, and a bound on the work one request can ask for.
pub const MAX_LINT_BODY_BYTES: usize = 1024 * 1024;

/// Lint posted Markdown, as the editor does while the writer types. A whole postmortem file is
/// also checked for completeness. The body may be at most 1 MiB; at most 1,000 findings are
/// listed, and `more` counts the rest.
#[utoipa::path(post, path = "/api/v1/lint", tag = "postmortems",
    request_body = LintRequest,
    responses((status = 200, body = PostedLint),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 413, description = "The body is larger than 1 MiB", body = ErrorBody),
        (status = 415, description = "The body is not `application/json`", body = ErrorBody),
        (status = 422, description = "A postmortem file whose front matter is malformed", body = ErrorBody)))]
pub async fn lint_posted(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<ApiJson<PostedLint>, ApiError> {
    let limit = MAX_LINT_BODY_BYTES.min(state.limits.max_body_bytes);
    let request: LintRequest = crate::extract::json_within(request, limit).await?;
    let mut config = state.postmortems.lint.clone();
    config.people.extend(request.people);
    config.people.extend(people(&state).await?);
    let templates = all_templates(&*state.store).await?;
    // The lint is CPU work: it runs beside the threads that answer requests, not on them.
    let findings = tokio::task::spawn_blocking(move || {
        markdown_file::lint_file(&request.markdown, &templates, &config)
    })
    .await
    .map_err(|error| ApiError::internal(&error))?
    .map_err(|error| {
        ApiError::invalid(hindsight_domain::ValidationErrors::single(
            "markdown",
            error.to_string(),
        ))
    })?;
    let (findings, more) = hindsight_domain::lint::capped(findings);
    Ok(ApiJson(PostedLint { findings, more }))
}

/// A version without its document, for the history list.
#[derive(Debug, Serialize, ToSchema)]
pub struct RevisionSummary {
    pub version: u32,
    pub status: PostmortemStatus,
    pub author: hindsight_domain::document::Author,
    #[schema(value_type = String, format = DateTime)]
    pub at: jiff::Timestamp,
    pub changed: Vec<String>,
}

/// Every version: who changed what, and when. Oldest first.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/history", tag = "postmortems",
    params(("id" = i64, Path)),
    responses((status = 200, body = [RevisionSummary]), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<ApiJson<Vec<RevisionSummary>>, ApiError> {
    let id = parse_id(&id)?;
    Ok(ApiJson(
        revisions(&state, &actor, id)
            .await?
            .into_iter()
            .map(|revision| RevisionSummary {
                version: revision.version,
                status: revision.status,
                author: revision.author,
                at: revision.at,
                changed: revision.changed,
            })
            .collect(),
    ))
}

pub(crate) async fn revisions(
    state: &AppState,
    actor: &hindsight_domain::access::Actor,
    id: PostmortemId,
) -> Result<Vec<Revision>, ApiError> {
    state
        .store
        .list_revisions(id, actor.visibility())
        .await
        .map_err(ApiError::or_missing(|| {
            ApiError::not_found(format!("there is no postmortem {id}"))
        }))
}

/// One version as it was, whole.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/history/{version}", tag = "postmortems",
    params(("id" = i64, Path), ("version" = u32, Path)),
    responses((status = 200, body = Revision), (status = 404, body = ErrorBody)))]
pub async fn revision(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path((id, version)): Path<(String, String)>,
) -> Result<ApiJson<Revision>, ApiError> {
    let id = parse_id(&id)?;
    let version: Option<u32> = version.parse().ok();
    revisions(&state, &actor, id)
        .await?
        .into_iter()
        .find(|revision| Some(revision.version) == version)
        .map(ApiJson)
        .ok_or_else(|| ApiError::not_found("there is no such version of this postmortem"))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DiffQuery {
    /// The older version.
    pub from: u32,
    /// The newer version; the current one when absent.
    pub to: Option<u32>,
}

/// What changed between two versions, field by field, line by line.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/diff", tag = "postmortems",
    params(("id" = i64, Path), DiffQuery),
    responses((status = 200, body = [FieldDiff]), (status = 404, body = ErrorBody)))]
pub async fn diff(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    query: Result<Query<DiffQuery>, QueryRejection>,
) -> Result<ApiJson<Vec<FieldDiff>>, ApiError> {
    let Query(query) = query?;
    let id = parse_id(&id)?;
    let revisions = revisions(&state, &actor, id).await?;
    Ok(ApiJson(diff_between(&revisions, query.from, query.to)?))
}

pub(crate) fn diff_between(
    revisions: &[Revision],
    from: u32,
    to: Option<u32>,
) -> Result<Vec<FieldDiff>, ApiError> {
    let find = |version: u32| {
        revisions
            .iter()
            .find(|revision| revision.version == version)
            .ok_or_else(|| ApiError::not_found(format!("there is no version {version}")))
    };
    let to = to.unwrap_or_else(|| revisions.last().map_or(1, |last| last.version));
    Ok(diff_revisions(find(from)?, find(to)?))
}

/// Discard a draft postmortem: it, its history and its action items are deleted, and the
/// audit log keeps that it was. A postmortem in review or published is never deleted (409).
#[utoipa::path(delete, path = "/api/v1/postmortems/{id}", tag = "postmortems",
    params(("id" = i64, Path)),
    responses(
        (status = 204, description = "Discarded"),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`conflict`: it is not a draft", body = ErrorBody),
    ))]
pub async fn discard(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: crate::audit::Auditor,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    super::discard_postmortem(&state, &actor, &auditor, id)
        .await
        .map_err(postmortem_error)?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineRefresh {
    /// The version the refresh is made on; a stale one is refused with 409.
    pub version: u32,
    /// Replace the generated block even where someone edited inside it.
    #[serde(default)]
    pub replace_edits: bool,
}

/// What a refresh did.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimelineRefreshed {
    /// `updated`, `added` (the section had no generated block: it was added at its end) or
    /// `unchanged`.
    pub outcome: &'static str,
    /// The section that holds the block.
    pub section: Option<String>,
    pub postmortem: Postmortem,
}

/// Rewrite the generated timeline block (between its `<!-- hindsight:timeline … -->` markers)
/// from the incidents' current timelines. Text outside the markers is never touched. When
/// someone edited inside the block, nothing is written and the answer is 409
/// `timeline_edited` with `details.edited` and `details.generated`, unless `replace_edits`.
#[utoipa::path(post, path = "/api/v1/postmortems/{id}/timeline/refresh", tag = "postmortems",
    params(("id" = i64, Path)),
    request_body = TimelineRefresh,
    responses(
        (status = 200, body = TimelineRefreshed),
        (status = 404, body = ErrorBody),
        (status = 409, description = "`stale_version`, or `timeline_edited`", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn refresh_timeline(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    ApiJson(request): ApiJson<TimelineRefresh>,
) -> Result<ApiJson<TimelineRefreshed>, ApiError> {
    let id = parse_id(&id)?;
    let refreshed = super::refresh_timeline(
        &state,
        &actor,
        id,
        Some(request.version),
        request.replace_edits,
    )
    .await
    .map_err(postmortem_error)?;
    Ok(ApiJson(match refreshed {
        super::Refreshed::Updated {
            postmortem,
            section,
            added,
        } => TimelineRefreshed {
            outcome: if added { "added" } else { "updated" },
            section: Some(section),
            postmortem,
        },
        super::Refreshed::Unchanged(postmortem) => TimelineRefreshed {
            outcome: "unchanged",
            section: None,
            postmortem,
        },
        super::Refreshed::Edited {
            section,
            edited,
            generated,
            ..
        } => {
            let mut error = ApiError::new(
                StatusCode::CONFLICT,
                "timeline_edited",
                format!(
                    "the generated timeline in sections.{section} was edited by hand; move the \
                     edits outside its markers, or send `replace_edits: true` to drop them"
                ),
            );
            error.details = Some(serde_json::json!({
                "section": section,
                "edited": edited,
                "generated": generated,
            }));
            return Err(error);
        }
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// Markdown, at most 100,000 characters.
    pub markdown: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// The Markdown as the pages show it: sanitized HTML.
    pub html: String,
}

/// Render Markdown as the pages do (sanitized), for a live preview while writing.
#[utoipa::path(post, path = "/api/v1/preview", tag = "postmortems",
    request_body = PreviewRequest,
    responses((status = 200, body = Preview), (status = 422, body = ErrorBody)))]
pub async fn preview(
    ApiJson(request): ApiJson<PreviewRequest>,
) -> Result<ApiJson<Preview>, ApiError> {
    if request.markdown.chars().count() > 100_000 {
        return Err(ApiError::invalid(
            hindsight_domain::ValidationErrors::single(
                "markdown",
                "must be at most 100000 characters",
            ),
        ));
    }
    Ok(ApiJson(Preview {
        html: crate::markdown::render(&request.markdown),
    }))
}
