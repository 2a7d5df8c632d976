//! Incidents over HTTP: the JSON API and the pages, each next to its routes.

pub mod api;
mod form;
pub(crate) mod pages;

use hindsight_domain::access::Permission::{Read, Write};

use crate::routes::Routes;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/incidents", Read, api::list_incidents)
        .post("/api/v1/incidents", Write, api::create_incident)
        .get("/api/v1/incidents/{id}", Read, api::get_incident)
        .patch("/api/v1/incidents/{id}", Write, api::update_incident)
        .get("/incidents", Read, pages::list_incidents)
        .post("/incidents", Write, pages::create_incident)
        .get("/incidents/new", Write, pages::new_incident)
        .get("/incidents/{id}", Read, pages::show_incident)
        .post("/incidents/{id}", Write, pages::update_incident)
        .get("/incidents/{id}/edit", Write, pages::edit_incident)
}
