//! Incidents over HTTP: the JSON API and the pages, each next to its routes.

pub mod api;
mod form;
mod pages;

use axum::Router;
use axum::routing::get;

use crate::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/incidents",
            get(api::list_incidents).post(api::create_incident),
        )
        .route(
            "/api/v1/incidents/{id}",
            get(api::get_incident).patch(api::update_incident),
        )
        .route(
            "/incidents",
            get(pages::list_incidents).post(pages::create_incident),
        )
        .route("/incidents/new", get(pages::new_incident))
        .route(
            "/incidents/{id}",
            get(pages::show_incident).post(pages::update_incident),
        )
        .route("/incidents/{id}/edit", get(pages::edit_incident))
}
