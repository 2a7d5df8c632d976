//! Finding what a request names, for whom: shared by the API, the pages and every feature
//! that hangs off an incident, so that no feature reaches into another's handler files.

use hindsight_domain::Incident;
use hindsight_domain::IncidentId;
use hindsight_domain::access::{Actor, UserId, Visibility};
use hindsight_domain::document::Author;

use crate::AppState;
use crate::error::ApiError;
use crate::pages::PageError;

/// An incident id from a path, `42` or `INC-42`; anything else is "no such incident".
pub(crate) fn parse_id(text: &str) -> Result<IncidentId, ApiError> {
    text.parse()
        .map_err(|()| ApiError::not_found(format!("there is no incident `{}`", short(text))))
}

fn short(text: &str) -> String {
    text.chars().take(40).collect()
}

/// What the reader may see; the gate lets no one without an actor reach these pages, and
/// nobody would see a private incident if one did.
pub(crate) fn visibility(actor: &Option<Actor>) -> Visibility {
    match actor {
        Some(actor) => actor.visibility(),
        None => Visibility::MemberOf(UserId::new(i64::MAX).expect("positive")),
    }
}

/// The incident a page names, if the reader may see it.
pub(crate) async fn load(
    state: &AppState,
    actor: &Option<Actor>,
    id: &str,
) -> Result<Incident, PageError> {
    let missing = || {
        PageError::not_found(format!(
            "There is no incident {}.",
            id.chars().take(40).collect::<String>()
        ))
    };
    let id: IncidentId = id.parse().map_err(|()| missing())?;
    state
        .store
        .get_incident(id, visibility(actor))
        .await?
        .ok_or_else(missing)
}

/// The author of a change, as history records it.
pub fn author_of(actor: &Actor) -> Author {
    Author {
        user_id: Some(actor.user.id),
        name: actor.user.display_name.clone(),
    }
}
