//! The action item pages: a postmortem's items with their forms, the board of open items by
//! owner, and "my action items" (the board with `owner=me`).

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use hindsight_domain::access::Actor;
use hindsight_domain::action_item::{
    ActionItemDraft, ActionItemFilter, ActionItemPatch, ActionItemQuery, ActionKind, ActionStatus,
    Priority, Scale,
};
use hindsight_domain::document::{Postmortem, PostmortemId};
use serde::Deserialize;

use super::api::{ActionItemView, filtered};
use super::{create_item, update_item};
use crate::AppState;
use crate::gate::CurrentActor;
use crate::pages::{Nav, PageError, render};

/// An owner a form may pick.
struct OwnerChoice {
    value: String,
    label: String,
}

async fn owner_choices(state: &AppState) -> Result<Vec<OwnerChoice>, PageError> {
    let mut choices: Vec<OwnerChoice> = state
        .store
        .list_users()
        .await?
        .into_iter()
        .filter(|user| !user.disabled)
        .map(|user| OwnerChoice {
            value: format!("user:{}", user.id),
            label: user.display_name,
        })
        .collect();
    choices.extend(
        state
            .store
            .list_teams()
            .await?
            .into_iter()
            .map(|team| OwnerChoice {
                value: format!("team:{}", team.id),
                label: format!("{} (team)", team.name),
            }),
    );
    Ok(choices)
}

#[derive(Template)]
#[template(path = "action_items/postmortem.html")]
struct PostmortemItemsPage {
    nav: Nav,
    postmortem: Postmortem,
    items: Vec<ActionItemView>,
    owners: Vec<OwnerChoice>,
    /// (value, label) of the why chains and factors an item may address.
    addresses: Vec<(String, String)>,
    priorities: &'static [Priority],
    scales: &'static [Scale],
    kinds: &'static [ActionKind],
    statuses: &'static [ActionStatus],
}

async fn load_postmortem(
    state: &AppState,
    actor: &Actor,
    id: &str,
) -> Result<Postmortem, PageError> {
    let missing = || PageError::not_found("There is no such postmortem.");
    let id: PostmortemId = id.parse().map_err(|()| missing())?;
    state
        .store
        .get_postmortem(id, actor.visibility())
        .await?
        .ok_or_else(missing)
}

pub async fn of_postmortem(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let postmortem = load_postmortem(&state, &actor, &id).await?;
    let items = filtered(
        &state,
        &actor,
        &ActionItemFilter {
            postmortem: Some(postmortem.id),
            limit: 5000,
            ..Default::default()
        },
    )
    .await
    .map_err(|error| PageError::internal(&error.message))?;
    let mut addresses = Vec::new();
    for (index, chain) in postmortem.document.why_chains.iter().enumerate() {
        addresses.push((
            format!("why_chains[{index}]"),
            format!("Why chain {}: {}", index + 1, chain.problem),
        ));
    }
    for (index, factor) in postmortem.document.factors.iter().enumerate() {
        addresses.push((
            format!("factors[{index}]"),
            format!("Factor {}: {}", index + 1, factor.description),
        ));
    }
    Ok(render(
        StatusCode::OK,
        &PostmortemItemsPage {
            nav: Nav::of(Some(&actor)),
            owners: owner_choices(&state).await?,
            postmortem,
            items,
            addresses,
            priorities: Priority::ALL,
            scales: Scale::ALL,
            kinds: ActionKind::ALL,
            statuses: ActionStatus::ALL,
        },
    ))
}

pub async fn create(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<ActionItemDraft>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(draft) = form?;
    let postmortem = load_postmortem(&state, &actor, &id).await?;
    let item = create_item(&state, &actor, postmortem.id, draft).await?;
    Ok(Redirect::to(&format!(
        "/postmortems/{}/action-items#item-{}",
        postmortem.id, item.id
    ))
    .into_response())
}

/// The status form on each item.
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    pub status: Option<String>,
    pub verification: Option<String>,
    pub not_doing_reason: Option<String>,
    pub owner: Option<String>,
}

pub async fn update(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    Path(id): Path<String>,
    form: Result<Form<StatusForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form?;
    let id = id
        .parse()
        .map_err(|()| PageError::not_found("There is no such action item."))?;
    let present = |text: Option<String>| text.filter(|text| !text.trim().is_empty()).map(Some);
    let patch = ActionItemPatch {
        status: present(form.status),
        verification: present(form.verification),
        not_doing_reason: present(form.not_doing_reason),
        owner: present(form.owner),
        ..Default::default()
    };
    let item = update_item(&state, &actor, id, patch).await?;
    Ok(Redirect::to(&format!(
        "/postmortems/{}/action-items#item-{}",
        item.postmortem_id, item.id
    ))
    .into_response())
}

/// One owner's items on the board.
struct OwnerGroup {
    owner: String,
    items: Vec<ActionItemView>,
}

#[derive(Template)]
#[template(path = "action_items/board.html")]
struct BoardPage {
    nav: Nav,
    heading: String,
    groups: Vec<OwnerGroup>,
    total: usize,
    overdue: usize,
    export_query: String,
}

pub async fn board(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    query: Result<Query<ActionItemQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let Query(mut query) = query.map_err(|rejection| PageError {
        status: StatusCode::BAD_REQUEST,
        title: "The filters could not be read",
        message: rejection.body_text(),
    })?;
    // The board shows what is still to do unless asked otherwise.
    query.status.get_or_insert_with(|| "unfinished".into());
    let mine = query.owner.as_deref() == Some("me");
    let export_query = serde_urlencoded_query(&query);
    let filter = query
        .validate(Some(actor.user.id), state.today())
        .map_err(|errors| PageError::invalid(&errors))?;
    let items = filtered(&state, &actor, &filter)
        .await
        .map_err(|error| PageError::internal(&error.message))?;
    let total = items.len();
    let overdue = items.iter().filter(|view| view.overdue).count();
    let mut groups: Vec<OwnerGroup> = Vec::new();
    for view in items {
        let owner = view
            .item
            .owner_name
            .clone()
            .unwrap_or_else(|| "Nobody yet".into());
        match groups.iter_mut().find(|group| group.owner == owner) {
            Some(group) => group.items.push(view),
            None => groups.push(OwnerGroup {
                owner,
                items: vec![view],
            }),
        }
    }
    // Unowned work first: it is what most needs someone.
    groups.sort_by(|a, b| {
        (a.owner != "Nobody yet", a.owner.to_lowercase())
            .cmp(&(b.owner != "Nobody yet", b.owner.to_lowercase()))
    });
    Ok(render(
        StatusCode::OK,
        &BoardPage {
            nav: Nav::of(Some(&actor)),
            heading: if mine {
                "My action items".into()
            } else {
                "Action items".into()
            },
            groups,
            total,
            overdue,
            export_query,
        },
    ))
}

/// The query again, for the export links.
fn serde_urlencoded_query(query: &ActionItemQuery) -> String {
    let mut parts = Vec::new();
    let mut add = |name: &str, value: Option<String>| {
        if let Some(value) = value {
            let encoded: String = value
                .bytes()
                .map(|byte| match byte {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b',' | b':' => {
                        (byte as char).to_string()
                    }
                    _ => format!("%{byte:02X}"),
                })
                .collect();
            parts.push(format!("{name}={encoded}"));
        }
    };
    add("owner", query.owner.clone());
    add("team", query.team.map(|team| team.to_string()));
    add("status", query.status.clone());
    add("overdue", query.overdue.map(|flag| flag.to_string()));
    add("due_before", query.due_before.clone());
    add("incident", query.incident.map(|id| id.to_string()));
    add("postmortem", query.postmortem.map(|id| id.to_string()));
    add("service", query.service.clone());
    parts.join("&")
}
