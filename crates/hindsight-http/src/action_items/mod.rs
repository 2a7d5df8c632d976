//! Action items over HTTP: under a postmortem and across all of them, as JSON, pages, CSV and
//! issue-tracker JSON. What the API and the pages share lives here: validation against the
//! postmortem the item belongs to, and the store calls.

pub mod api;
mod export;
mod pages;

use hindsight_domain::access::Actor;
use hindsight_domain::access::Permission::{Read, Write};
use hindsight_domain::action_item::{
    ActionItem, ActionItemDraft, ActionItemId, ActionItemPatch, ItemContext,
};
use hindsight_domain::document::{Postmortem, PostmortemId};
use hindsight_store::StoreError;
use jiff::civil::Date;

use crate::AppState;
use crate::lookup::author_of;
use crate::routes::Routes;

pub fn routes() -> Routes {
    Routes::new()
        .get(
            "/api/v1/postmortems/{id}/action-items",
            Read,
            api::list_of_postmortem,
        )
        .post("/api/v1/postmortems/{id}/action-items", Write, api::create)
        .get("/api/v1/action-items", Read, api::list)
        .get("/api/v1/action-items/export/{format}", Read, api::export)
        .get("/api/v1/action-items/{id}", Read, api::get)
        .patch("/api/v1/action-items/{id}", Write, api::update)
        .get("/action-items", Read, pages::board)
        .post("/action-items/{id}", Write, pages::update)
        .get("/postmortems/{id}/action-items", Read, pages::of_postmortem)
        .post("/postmortems/{id}/action-items", Write, pages::create)
}

fn context(state: &AppState, postmortem: &Postmortem, created_on: Date) -> ItemContext {
    ItemContext {
        created_on,
        targets: state.follow_through.due_targets,
        why_chains: postmortem.document.why_chains.len(),
        factors: postmortem.document.factors.len(),
    }
}

/// Checks a new item against its postmortem and stores it.
pub(crate) async fn create_item(
    state: &AppState,
    actor: &Actor,
    postmortem: PostmortemId,
    draft: ActionItemDraft,
) -> Result<ActionItem, StoreError> {
    let visibility = actor.visibility();
    let stored = state
        .store
        .get_postmortem(postmortem, visibility)
        .await?
        .ok_or(StoreError::NotFound)?;
    let content = draft.validate(&context(state, &stored, state.today()))?;
    let item = state
        .store
        .create_action_item(
            postmortem,
            visibility,
            content,
            author_of(actor),
            state.clock.now(),
        )
        .await?;
    tracing::info!(action_item.id = %item.id, postmortem.id = %postmortem, "action item added");
    Ok(item)
}

/// Applies a change to an item, checked inside the store's transaction.
pub(crate) async fn update_item(
    state: &AppState,
    actor: &Actor,
    id: ActionItemId,
    patch: ActionItemPatch,
) -> Result<ActionItem, StoreError> {
    let visibility = actor.visibility();
    let current = state
        .store
        .get_action_item(id, visibility)
        .await?
        .ok_or(StoreError::NotFound)?;
    let postmortem = state
        .store
        .get_postmortem(current.postmortem_id, visibility)
        .await?
        .ok_or(StoreError::NotFound)?;
    let created_on = current.created_at.to_zoned(jiff::tz::TimeZone::UTC).date();
    let context = context(state, &postmortem, created_on);
    let item = state
        .store
        .update_action_item(
            id,
            visibility,
            state.clock.now(),
            Box::new(move |current| patch.apply(&current.content).validate(&context)),
        )
        .await?;
    tracing::info!(action_item.id = %id, status = %item.content.status, "action item changed");
    Ok(item)
}

/// A postmortem's action items, ranked.
pub(crate) async fn of_postmortem(
    state: &AppState,
    postmortem: PostmortemId,
) -> Result<Vec<ActionItem>, StoreError> {
    state
        .store
        .list_action_items(
            &hindsight_domain::action_item::ActionItemFilter {
                postmortem: Some(postmortem),
                limit: 5000,
                ..Default::default()
            },
            hindsight_domain::access::Visibility::Everything,
        )
        .await
}

/// How many action items a postmortem has, and how many of them nobody owns: what publishing
/// needs to know.
pub(crate) async fn counts(
    state: &AppState,
    postmortem: PostmortemId,
) -> Result<(usize, usize), StoreError> {
    Ok(readiness(&of_postmortem(state, postmortem).await?))
}

/// How many items there are, and how many unfinished ones nobody owns.
pub(crate) fn readiness(items: &[ActionItem]) -> (usize, usize) {
    let unowned = items
        .iter()
        .filter(|item| item.content.owner.is_none() && !item.content.status.is_finished())
        .count();
    (items.len(), unowned)
}
