//! The OpenAPI 3 document, generated from the handlers' annotations and the domain's types.

use axum::Json;
use axum::Router;
use axum::routing::get;
use utoipa::OpenApi;

use crate::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hindsight",
        description = "Self-hosted blameless postmortems. Every error answers with \
            `{\"error\": {\"code\", \"message\", \"details\"}}` and a stable `code`.",
        license(name = "AGPL-3.0-or-later"),
    ),
    paths(
        crate::incidents::api::create_incident,
        crate::incidents::api::get_incident,
        crate::incidents::api::update_incident,
        crate::incidents::api::list_incidents,
        crate::ops::healthz,
        crate::ops::readyz,
        crate::ops::metrics,
    ),
    components(schemas(
        hindsight_domain::Incident,
        hindsight_domain::IncidentDraft,
        hindsight_domain::IncidentPatch,
        hindsight_domain::ImpactPatch,
        crate::incidents::api::IncidentList,
        crate::error::ErrorBody,
    )),
    tags(
        (name = "incidents", description = "What broke, how badly, and the key times"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// The OpenAPI document as served at `/api/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/api/openapi.json",
        get(|| async { Json(openapi_document()) }),
    )
}
