//! The OpenAPI 3 document, generated from the handlers' annotations and the domain's types.

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
            `{\"error\": {\"code\", \"message\", \"details\"}}` and a stable `code`. \
            Rules the schemas cannot state (a detection before the incident's start, an owner who \
            is no user, a NUL character in any text, a time outside 1970-01-01 to 9998-12-31) \
            are refused with 422 `invalid_fields`, whose `details` name each field.",
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
        crate::postmortems::api::discard,
        crate::postmortems::api::refresh_timeline,
        crate::postmortems::api::preview,
        crate::postmortems::images::upload,
        crate::postmortems::images::list,
        crate::postmortems::images::delete,
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
        crate::meetings::api::get,
        crate::meetings::api::proposal,
        crate::meetings::api::schedule,
        crate::meetings::api::reschedule,
        crate::meetings::api::cancel,
        crate::meetings::api::held,
        crate::meetings::api::notes,
        crate::meetings::api::invite,
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
        crate::incidents::api::IncidentView,
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
        crate::postmortems::export::ExportFormat,
        Binary,
        crate::postmortems::api::TimelineRefresh,
        crate::postmortems::api::TimelineRefreshed,
        crate::postmortems::api::PreviewRequest,
        crate::postmortems::api::Preview,
        crate::postmortems::images::ImageView,
        hindsight_domain::image::ImageMeta,
        hindsight_domain::image::ImageType,
        hindsight_domain::document::LintException,
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
        hindsight_domain::meeting::ReviewMeeting,
        hindsight_domain::meeting::Proposal,
        hindsight_domain::meeting::MeetingRequest,
        hindsight_domain::meeting::HeldRequest,
        hindsight_domain::meeting::Attendee,
        hindsight_domain::meeting::AttendeeRole,
        hindsight_domain::meeting::MeetingStatus,
        hindsight_domain::notify::Person,
        hindsight_domain::meeting::Delay,
        crate::meetings::api::Notes,
    )),
    tags(
        (name = "incidents", description = "What broke, how badly, and the key times"),
        (name = "postmortems", description = "The document: templates, sections, 5 Whys, factors, review workflow, history, lint and exports"),
        (name = "policy", description = "Whether an incident needs a postmortem: the decision with every rule that fired, requests, overrides, and postmortem debt"),
        (name = "meetings", description = "The review meeting: proposed for the next business day, attendees within six, a moderator not involved, iCalendar invites, notes and attendance"),
        (name = "action items", description = "What postmortems ask people to do, tracked until done or dropped with a reason; filters and exports"),
        (name = "accounts", description = "Who you are, your API tokens, and (admins) the users"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// A body that is the bytes themselves (an image, a zip file), not JSON.
pub struct Binary;

impl utoipa::PartialSchema for Binary {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::schema::SchemaFormat::KnownFormat(
                utoipa::openapi::schema::KnownFormat::Binary,
            )))
            .description(Some("The file's bytes, as the body itself"))
            .into()
    }
}

impl utoipa::ToSchema for Binary {}

/// The OpenAPI document as served at `/api/openapi.json`: what the handlers declare, completed
/// with the answers every route shares, which come from the gate and the extractors rather
/// than from any one handler.
pub fn openapi_document() -> serde_json::Value {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    DOCUMENT
        .get_or_init(|| {
            let mut document =
                serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
            complete(&mut document, &crate::route_rules());
            flatten_all_of(&mut document);
            document
        })
        .clone()
}

/// Adds to each operation the answers it can give without its handler saying so:
/// - behind a rule that needs a credential: 401 (none, or one that does not work), 403 (a role
///   or token scope too narrow) and 503 (the database did not answer while checking it);
/// - with a JSON body: 400 (not JSON), 413 (over the size limit), 415 (not
///   `application/json`) and 422 (a field missing, of the wrong type, or invalid);
/// - with a query string: 400 (a value of the wrong type) and 422 (a value out of range);
/// - with an id in the path: 404 (no such thing, or one the caller may not see).
fn complete(document: &mut serde_json::Value, rules: &[crate::routes::RouteRule]) {
    use serde_json::json;
    let Some(paths) = document["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, operation) in item.iter_mut() {
            let needs = rules
                .iter()
                .find(|rule| rule.path == path && rule.method.eq_ignore_ascii_case(method))
                .map(|rule| rule.permission);
            let Some(needs) = needs else {
                continue;
            };
            let parameters = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let in_place =
                |place: &str| parameters.iter().any(|parameter| parameter["in"] == place);
            let json_body = operation["requestBody"]["content"]["application/json"].is_object();
            let mut shared: Vec<(&str, &str)> = Vec::new();
            if needs != Public {
                shared.push(("401", "No credentials, or ones that do not work"));
                shared.push(("403", "Your role or your token's scope does not allow this"));
                shared.push((
                    "503",
                    "The database did not answer while checking your credentials; try again (see `Retry-After`)",
                ));
            }
            if json_body {
                shared.push(("400", "The body is not JSON"));
                shared.push(("413", "The body is larger than the limit"));
                shared.push(("415", "The body is not `application/json`"));
                shared.push((
                    "422",
                    "A field is missing, of the wrong type, or invalid; `details` names each",
                ));
            }
            if in_place("query") {
                shared.push(("400", "A query parameter is of the wrong type"));
                shared.push(("422", "A query parameter is invalid; `details` names it"));
            }
            if in_place("path") {
                shared.push(("404", "There is no such thing, or you may not see it"));
            }
            let responses = operation["responses"]
                .as_object_mut()
                .expect("every operation declares its answers");
            for (status, description) in shared {
                responses.entry(status).or_insert_with(|| {
                    json!({
                        "description": description,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
                    })
                });
            }
        }
    }
}

/// A type that flattens another into itself (`#[serde(flatten)]`) comes out as `allOf` the
/// two, and when the inner one refuses unknown fields (`additionalProperties: false`), no
/// answer can match both. Each such schema is rewritten as the one object it is on the wire:
/// the members' properties and required fields together, closed if any member was.
fn flatten_all_of(document: &mut serde_json::Value) {
    let Some(schemas) = document["components"]["schemas"].as_object().cloned() else {
        return;
    };
    fn merged(
        schema: &serde_json::Value,
        schemas: &serde_json::Map<String, serde_json::Value>,
        depth: usize,
    ) -> Option<serde_json::Value> {
        let members = schema["allOf"].as_array()?;
        let mut properties = serde_json::Map::new();
        let mut required: Vec<serde_json::Value> = Vec::new();
        let mut closed = false;
        for member in members {
            let member = match member["$ref"].as_str() {
                Some(reference) => {
                    let name = reference.strip_prefix("#/components/schemas/")?;
                    let target = schemas.get(name)?;
                    if target.get("allOf").is_some() && depth < 8 {
                        merged(target, schemas, depth + 1)?
                    } else {
                        target.clone()
                    }
                }
                None => member.clone(),
            };
            if member["type"] != "object" {
                return None;
            }
            for (name, property) in member["properties"].as_object().into_iter().flatten() {
                properties.insert(name.clone(), property.clone());
            }
            for name in member["required"].as_array().into_iter().flatten() {
                if !required.contains(name) {
                    required.push(name.clone());
                }
            }
            closed |= member["additionalProperties"] == false;
        }
        let mut object = serde_json::json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            object["required"] = required.into();
        }
        if closed {
            object["additionalProperties"] = false.into();
        }
        if let Some(description) = schema.get("description") {
            object["description"] = description.clone();
        }
        Some(object)
    }
    for (name, schema) in &schemas {
        if let Some(object) = merged(schema, &schemas, 0) {
            document["components"]["schemas"][name] = object;
        }
    }
}

pub fn routes() -> Routes {
    Routes::new().get("/api/openapi.json", Public, || async {
        crate::extract::ApiJson(openapi_document())
    })
}
