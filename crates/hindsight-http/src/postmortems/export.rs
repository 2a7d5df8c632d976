//! Exports of one postmortem: one Markdown file (TOML front matter and sections), JSON with a
//! versioned schema, and a standalone printable HTML page.

use askama::Template as _;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hindsight_domain::Incident;
use hindsight_domain::access::Actor;
use hindsight_domain::document::Postmortem;
use hindsight_domain::markdown_file::{self, IncidentBrief, PostmortemFile};
use hindsight_domain::postmortem::Template;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::api::parse_id;
use super::template_named;
use crate::AppState;
use crate::error::ApiError;
use crate::gate::CurrentActor;
use crate::pages::display_time;

/// The JSON export's `schema_version`; raised when a field changes meaning or goes away (new
/// fields may appear without it).
pub const JSON_SCHEMA_VERSION: u32 = 1;

/// A postmortem as the JSON export writes it; `docs/export-format.md` describes each field.
#[derive(Debug, Serialize, ToSchema)]
pub struct PostmortemExport {
    /// Always `hindsight-postmortem`.
    pub format: &'static str,
    pub schema_version: u32,
    pub postmortem: Postmortem,
    /// The template it is written from, so the export reads without the server.
    pub template: Template,
    /// Title, severity and key times of each incident it covers.
    #[schema(value_type = Vec<Object>)]
    pub incidents: Vec<IncidentBrief>,
    pub action_items: Vec<hindsight_domain::action_item::ActionItem>,
    /// Its images: where each is served (`url`) and the Markdown that shows it; the bytes are
    /// not in the export.
    pub images: Vec<super::images::ImageView>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    /// `markdown` (the default), `json` or `html`.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
}

/// The formats an export comes in, for the document.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum ExportFormat {
    Markdown,
    Json,
    Html,
}

async fn gather(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<(Postmortem, Template, Vec<Incident>), ApiError> {
    let id = parse_id(id)?;
    let postmortem = state
        .store
        .get_postmortem(id, actor.visibility())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no postmortem {id}")))?;
    let template = template_named(state, &postmortem.document.template)
        .await?
        .ok_or_else(|| ApiError::internal(&"a postmortem names a template that is gone"))?;
    let mut incidents = Vec::new();
    for incident in &postmortem.document.incidents {
        if let Some(incident) = state
            .store
            .get_incident(*incident, actor.visibility())
            .await?
        {
            incidents.push(incident);
        }
    }
    Ok((postmortem, template, incidents))
}

/// The owner's display name, for people: never an id.
async fn owner_name(
    state: &AppState,
    postmortem: &Postmortem,
) -> Result<String, hindsight_store::StoreError> {
    Ok(match postmortem.document.owner {
        Some(owner) => state
            .store
            .get_user(owner)
            .await?
            .map_or_else(|| "a former user".to_owned(), |user| user.display_name),
        None => "nobody yet".to_owned(),
    })
}

fn attachment(name: String) -> HeaderValue {
    HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .expect("file names are ASCII")
}

/// Export a postmortem as Markdown, JSON or printable HTML.
#[utoipa::path(get, path = "/api/v1/postmortems/{id}/export", tag = "postmortems",
    params(("id" = i64, Path), ExportQuery),
    responses(
        (status = 200, description = "The postmortem in the format asked for", content(
            (String = "text/markdown", example = "+++\nformat = \"hindsight-postmortem/1\"\n…"),
            (PostmortemExport = "application/json"),
            (String = "text/html"),
        )),
        (status = 404, body = crate::error::ErrorBody),
        (status = 422, description = "An unknown format", body = crate::error::ErrorBody),
    ))]
pub async fn export(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    query: Result<Query<ExportQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query?;
    let format = query.format.unwrap_or_else(|| "markdown".to_owned());
    if !matches!(format.as_str(), "markdown" | "json" | "html") {
        return Err(ApiError::invalid(
            hindsight_domain::ValidationErrors::single(
                "format",
                format!("`{format}` is not a format; expected one of: markdown, json, html"),
            ),
        ));
    }
    let (postmortem, template, incidents) = gather(&state, &actor, &id).await?;
    let briefs: Vec<IncidentBrief> = incidents.iter().map(IncidentBrief::of).collect();
    let name = format!("pm-{}", postmortem.id);
    let action_items = crate::action_items::of_postmortem(&state, postmortem.id).await?;
    Ok(match format.as_str() {
        "json" => {
            let images = state
                .store
                .list_images(postmortem.id, actor.visibility())
                .await?
                .into_iter()
                .map(super::images::ImageView::from)
                .collect();
            let body = PostmortemExport {
                images,
                format: "hindsight-postmortem",
                schema_version: JSON_SCHEMA_VERSION,
                postmortem,
                template,
                incidents: briefs,
                action_items,
            };
            let mut response = axum::Json(body).into_response();
            response.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                attachment(format!("{name}.json")),
            );
            response
        }
        "html" => {
            let owner = owner_name(&state, &postmortem).await?;
            let mut response =
                print_response(&postmortem, &template, &incidents, &action_items, owner);
            response.headers_mut().insert(
                header::CONTENT_DISPOSITION,
                attachment(format!("{name}.html")),
            );
            response
        }
        _ => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/markdown; charset=utf-8"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    attachment(format!("{name}.md")),
                ),
            ],
            markdown_file::render(
                &PostmortemFile {
                    action_items: action_items
                        .iter()
                        .map(|item| item.content.to_draft())
                        .collect(),
                    ..PostmortemFile::of(&postmortem)
                },
                &template,
                &briefs,
            ),
        )
            .into_response(),
    })
}

pub struct PrintSection {
    pub title: String,
    pub html: String,
}

#[derive(askama::Template)]
#[template(path = "postmortems/print.html")]
struct PrintPage<'a> {
    postmortem: &'a Postmortem,
    incidents: Vec<(String, String, String)>,
    sections: Vec<PrintSection>,
    owner: String,
    updated: String,
    action_items: &'a [hindsight_domain::action_item::ActionItem],
}

/// The standalone page: its own inline stylesheet and no script, so it prints and reads the
/// same when saved to a file.
pub fn print_response(
    postmortem: &Postmortem,
    template: &Template,
    incidents: &[Incident],
    action_items: &[hindsight_domain::action_item::ActionItem],
    owner: String,
) -> Response {
    let sections = template
        .sections
        .iter()
        .filter_map(|section| {
            postmortem
                .document
                .sections
                .get(&section.key)
                .map(|text| PrintSection {
                    title: section.title.clone(),
                    html: crate::markdown::render(text),
                })
        })
        .collect();
    let page = PrintPage {
        postmortem,
        action_items,
        incidents: incidents
            .iter()
            .map(|incident| {
                (
                    format!("INC-{}", incident.id),
                    incident.content.title.clone(),
                    incident.content.severity.as_str().to_owned(),
                )
            })
            .collect(),
        sections,
        owner,
        updated: display_time(postmortem.updated_at),
    };
    match page.render() {
        Ok(html) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                ),
                (
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; \
                         frame-ancestors 'none'",
                    ),
                ),
            ],
            html,
        )
            .into_response(),
        Err(error) => ApiError::internal(&error).into_response(),
    }
}

/// The printable view, as a page of the site.
pub async fn print(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<Response, crate::pages::PageError> {
    let (postmortem, template, incidents) = gather(&state, &actor, &id)
        .await
        .map_err(|_| crate::pages::PageError::not_found("There is no such postmortem."))?;
    let action_items = crate::action_items::of_postmortem(&state, postmortem.id).await?;
    let owner = owner_name(&state, &postmortem).await?;
    Ok(print_response(
        &postmortem,
        &template,
        &incidents,
        &action_items,
        owner,
    ))
}
