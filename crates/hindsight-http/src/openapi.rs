//! The OpenAPI 3 document, generated from the handlers' annotations and the domain's types.

use axum::Json;
use hindsight_domain::access::Permission::Public;
use utoipa::OpenApi;

use crate::routes::Routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Hindsight",
        description = "Self-hosted blameless postmortems. Authenticate with \
            `Authorization: Bearer <token>` (create one with `hindsight token create` or \
            `POST /api/v1/tokens`). Every error answers with \
            `{\"error\": {\"code\", \"message\", \"details\"}}` and a stable `code`.",
        license(name = "AGPL-3.0-or-later"),
    ),
    paths(
        crate::incidents::api::create_incident,
        crate::incidents::api::get_incident,
        crate::incidents::api::update_incident,
        crate::incidents::api::list_incidents,
        crate::users::me,
        crate::users::list_tokens,
        crate::users::create_token,
        crate::users::revoke_token,
        crate::users::list_users,
        crate::users::create_user,
        crate::users::update_user,
        crate::audit::list_audit,
        crate::users::list_teams,
        crate::users::create_team,
        crate::users::set_team_member,
        crate::users::remove_team_member,
        crate::postmortems::api::list_templates,
        crate::postmortems::api::get_template,
        crate::postmortems::api::create_template,
        crate::postmortems::api::create_postmortem,
        crate::postmortems::api::get_postmortem,
        crate::postmortems::api::list_postmortems,
        crate::postmortems::api::update_postmortem,
        crate::postmortems::api::list_sections,
        crate::postmortems::api::put_section,
        crate::postmortems::api::list_why_chains,
        crate::postmortems::api::add_why_chain,
        crate::postmortems::api::list_factors,
        crate::postmortems::api::add_factor,
        crate::postmortems::api::transition,
        crate::postmortems::api::lint_stored,
        crate::postmortems::api::lint_posted,
        crate::postmortems::api::history,
        crate::postmortems::api::revision,
        crate::postmortems::api::diff,
        crate::postmortems::export::export,
        crate::timeline::api::get_timeline,
        crate::timeline::api::add_event,
        crate::timeline::api::edit_event,
        crate::timeline::api::delete_event,
        crate::timeline::api::import_slack,
        crate::timeline::intake::receive,
        crate::policy::get_policy,
        crate::policy::override_api,
        crate::policy::request_api,
        crate::policy::debt_api,
        crate::action_items::api::list,
        crate::action_items::api::list_of_postmortem,
        crate::action_items::api::create,
        crate::action_items::api::get,
        crate::action_items::api::update,
        crate::action_items::api::export,
        crate::follow_up::agenda_api,
        crate::follow_up::list_api,
        crate::follow_up::replay_api,
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
        hindsight_domain::timeline::TimelineEvent,
        hindsight_domain::timeline::EventDraft,
        crate::timeline::api::Timeline,
        crate::timeline::api::SlackImportSummary,
        crate::timeline::intake::IntakeAnswer,
        crate::users::CreatedToken,
        crate::users::UserPatch,
        crate::users::TeamDraft,
        crate::users::MembershipDraft,
        crate::error::ErrorBody,
        hindsight_domain::document::Postmortem,
        hindsight_domain::document::PostmortemPatch,
        hindsight_domain::document::Revision,
        hindsight_domain::document::FieldDiff,
        hindsight_domain::postmortem::Template,
        crate::postmortems::api::PostmortemCreate,
        crate::postmortems::api::PostmortemList,
        crate::postmortems::api::Section,
        crate::postmortems::api::SectionWrite,
        crate::postmortems::api::WhyChainAdd,
        crate::postmortems::api::FactorAdd,
        crate::postmortems::api::TransitionRequest,
        crate::postmortems::api::LintReport,
        crate::postmortems::api::LintRequest,
        crate::postmortems::api::PostedLint,
        crate::postmortems::api::RevisionSummary,
        crate::postmortems::export::PostmortemExport,
        hindsight_store::PolicyState,
        hindsight_store::Delivery,
        hindsight_store::AttemptRecord,
        hindsight_domain::notify::Agenda,
        hindsight_domain::notify::AgendaOwner,
        hindsight_domain::notify::AgendaItem,
        hindsight_domain::notify::DeliveryStatus,
        hindsight_domain::notify::AttemptOutcome,
        hindsight_domain::notify::NotificationKind,
        crate::policy::OverrideRequest,
        crate::policy::PostmortemRequestBody,
        crate::policy::DebtRow,
        hindsight_domain::action_item::ActionItem,
        hindsight_domain::action_item::ActionItemDraft,
        hindsight_domain::action_item::ActionItemPatch,
        crate::action_items::api::ActionItemList,
        crate::action_items::api::ActionItemView,
    )),
    tags(
        (name = "incidents", description = "What broke, how badly, and the key times"),
        (name = "postmortems", description = "The document: templates, sections, 5 Whys, factors, review workflow, history, lint and exports"),
        (name = "policy", description = "Whether an incident needs a postmortem: the decision with every rule that fired, requests, overrides, and postmortem debt"),
        (name = "action items", description = "What postmortems ask people to do, tracked until done or dropped with a reason; filters and exports"),
        (name = "accounts", description = "Who you are, your API tokens, and (admins) the users"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// The OpenAPI document as served at `/api/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn routes() -> Routes {
    Routes::new().get("/api/openapi.json", Public, || async {
        Json(openapi_document())
    })
}
