//! `/api/v1/me`, `/api/v1/tokens` and `/api/v1/users`: who you are, your API tokens, and (for
//! admins) the accounts.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use hindsight_domain::ValidationErrors;
use hindsight_domain::access::Permission::{Admin, Read};
use hindsight_domain::access::{
    ApiToken, ApiTokenDraft, ApiTokenId, Role, Team, TeamId, User, UserDraft, UserId,
    check_team_name,
};
use hindsight_store::UserChange;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::accounts;
use crate::audit::Auditor;
use crate::error::{ApiError, ErrorBody};
use crate::extract::ApiJson;
use crate::gate::CurrentActor;
use crate::routes::Routes;

pub fn routes() -> Routes {
    Routes::new()
        .get("/api/v1/me", Read, me)
        .get("/api/v1/tokens", Read, list_tokens)
        .post("/api/v1/tokens", Read, create_token)
        .delete("/api/v1/tokens/{id}", Read, revoke_token)
        .get("/api/v1/users", Admin, list_users)
        .post("/api/v1/users", Admin, create_user)
        .patch("/api/v1/users/{id}", Admin, update_user)
        .get("/api/v1/teams", Read, list_teams)
        .post("/api/v1/teams", Admin, create_team)
        .put(
            "/api/v1/teams/{id}/members/{user_id}",
            Admin,
            set_team_member,
        )
        .delete(
            "/api/v1/teams/{id}/members/{user_id}",
            Admin,
            remove_team_member,
        )
}

/// Every team and its members.
#[utoipa::path(get, path = "/api/v1/teams", tag = "accounts",
    responses((status = 200, body = Vec<Team>), (status = 401, body = ErrorBody)))]
pub async fn list_teams(State(state): State<AppState>) -> Result<ApiJson<Vec<Team>>, ApiError> {
    Ok(ApiJson(state.store.list_teams().await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamDraft {
    pub name: Option<String>,
}

/// Create a team.
#[utoipa::path(post, path = "/api/v1/teams", tag = "accounts",
    request_body = TeamDraft,
    responses(
        (status = 201, body = Team),
        (status = 403, body = ErrorBody),
        (status = 409, description = "The name is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_team(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    ApiJson(draft): ApiJson<TeamDraft>,
) -> Result<impl IntoResponse, ApiError> {
    let name =
        check_team_name(draft.name.as_deref().unwrap_or_default()).map_err(ApiError::invalid)?;
    let team = state.store.create_team(name, state.clock.now()).await?;
    auditor
        .record(
            "team.created",
            format!("team {}", team.id),
            team.name.clone(),
        )
        .await;
    tracing::info!(user.id = %actor.user.id, team.id = %team.id, "team created");
    Ok((StatusCode::CREATED, ApiJson(team)))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipDraft {
    /// Team leads are who overdue work escalates to.
    #[serde(default)]
    pub is_lead: bool,
}

fn team_and_user(team: &str, user: &str) -> Result<(TeamId, UserId), ApiError> {
    let team = team
        .parse()
        .map_err(|()| ApiError::not_found("there is no such team"))?;
    let user = user
        .parse()
        .map_err(|()| ApiError::not_found("there is no such user"))?;
    Ok((team, user))
}

/// Add a user to a team, or change whether they lead it.
#[utoipa::path(put, path = "/api/v1/teams/{id}/members/{user_id}", tag = "accounts",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    request_body = MembershipDraft,
    responses((status = 200, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set_team_member(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    Path((team, user)): Path<(String, String)>,
    ApiJson(draft): ApiJson<MembershipDraft>,
) -> Result<ApiJson<Team>, ApiError> {
    let (team, user) = team_and_user(&team, &user)?;
    let team = state
        .store
        .set_team_member(team, user, draft.is_lead, state.clock.now())
        .await
        .map_err(ApiError::or_missing(|| {
            ApiError::not_found("there is no such team or user")
        }))?;
    auditor
        .record(
            "team.member_set",
            format!("team {}", team.id),
            format!("user {user}{}", if draft.is_lead { " as lead" } else { "" }),
        )
        .await;
    tracing::info!(user.id = %actor.user.id, team.id = %team.id, member.id = %user, lead = draft.is_lead, "team membership changed");
    Ok(ApiJson(team))
}

/// Remove a user from a team.
#[utoipa::path(delete, path = "/api/v1/teams/{id}/members/{user_id}", tag = "accounts",
    params(("id" = i64, Path), ("user_id" = i64, Path)),
    responses((status = 200, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn remove_team_member(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    Path((team, user)): Path<(String, String)>,
) -> Result<ApiJson<Team>, ApiError> {
    let (team, user) = team_and_user(&team, &user)?;
    let team = state
        .store
        .remove_team_member(team, user, state.clock.now())
        .await
        .map_err(ApiError::or_missing(|| {
            ApiError::not_found("there is no such team")
        }))?;
    auditor
        .record(
            "team.member_removed",
            format!("team {}", team.id),
            format!("user {user}"),
        )
        .await;
    tracing::info!(user.id = %actor.user.id, team.id = %team.id, member.id = %user, "team member removed");
    Ok(ApiJson(team))
}

/// The user this request acts for.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, body = User), (status = 401, body = ErrorBody)))]
pub async fn me(CurrentActor(actor): CurrentActor) -> ApiJson<User> {
    ApiJson(actor.user)
}

/// Your API tokens, newest first (secrets are never shown again).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts",
    responses((status = 200, body = Vec<ApiToken>), (status = 401, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
) -> Result<ApiJson<Vec<ApiToken>>, ApiError> {
    Ok(ApiJson(
        state.store.list_api_tokens(Some(actor.user.id)).await?,
    ))
}

/// A new token and its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: ApiToken,
    /// Send as `Authorization: Bearer <secret>`. It is not stored and cannot be shown again.
    pub secret: String,
}

/// Create an API token for yourself, of a scope no wider than what you may do.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts",
    request_body = ApiTokenDraft,
    responses(
        (status = 201, body = CreatedToken),
        (status = 401, body = ErrorBody),
        (status = 422, description = "Invalid name, or a scope wider than yours", body = ErrorBody),
    ))]
pub async fn create_token(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    ApiJson(draft): ApiJson<ApiTokenDraft>,
) -> Result<impl IntoResponse, ApiError> {
    let requested = draft.clone().validate().map_err(ApiError::invalid)?.1;
    if !actor.can_grant(requested) {
        return Err(ApiError::invalid(requested.too_wide()));
    }
    let now = state.clock.now();
    let (token, secret) =
        accounts::create_api_token(&*state.store, actor.user.id, draft, now).await?;
    auditor
        .record(
            "token.created",
            format!("token {}", token.id),
            format!("{} ({})", token.name, token.scope),
        )
        .await;
    tracing::info!(user.id = %actor.user.id, token.id = %token.id, "API token created");
    Ok((StatusCode::CREATED, ApiJson(CreatedToken { token, secret })))
}

/// Revoke one of your tokens (admins: anyone's).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "accounts",
    params(("id" = i64, Path, description = "The token's id")),
    responses(
        (status = 200, body = ApiToken),
        (status = 404, description = "No such token of yours", body = ErrorBody),
    ))]
pub async fn revoke_token(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    Path(id): Path<String>,
) -> Result<ApiJson<ApiToken>, ApiError> {
    let missing = || {
        ApiError::not_found(format!(
            "you have no token {}",
            id.chars().take(20).collect::<String>()
        ))
    };
    let token_id: ApiTokenId = id.parse().map_err(|()| missing())?;
    let mine = state
        .store
        .list_api_tokens(if actor.can(Admin) {
            None
        } else {
            Some(actor.user.id)
        })
        .await?
        .into_iter()
        .any(|token| token.id == token_id);
    if !mine {
        return Err(missing());
    }
    let token = state
        .store
        .revoke_api_token(token_id, state.clock.now())
        .await?;
    auditor
        .record(
            "token.revoked",
            format!("token {}", token.id),
            token.name.clone(),
        )
        .await;
    tracing::info!(user.id = %actor.user.id, token.id = %token.id, "API token revoked");
    Ok(ApiJson(token))
}

/// Every account.
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts",
    responses((status = 200, body = Vec<User>), (status = 403, body = ErrorBody)))]
pub async fn list_users(State(state): State<AppState>) -> Result<ApiJson<Vec<User>>, ApiError> {
    Ok(ApiJson(state.store.list_users().await?))
}

/// Create an account.
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts",
    request_body = UserDraft,
    responses(
        (status = 201, body = User),
        (status = 403, body = ErrorBody),
        (status = 409, description = "The email is taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn create_user(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    ApiJson(draft): ApiJson<UserDraft>,
) -> Result<impl IntoResponse, ApiError> {
    let user = accounts::create_user(&*state.store, draft, state.clock.now()).await?;
    auditor
        .record(
            "user.created",
            format!("user {}", user.id),
            format!("{} as {}", user.email, user.role),
        )
        .await;
    tracing::info!(user.id = %actor.user.id, created.user.id = %user.id, role = %user.role, "user created");
    Ok((StatusCode::CREATED, ApiJson(user)))
}

/// What an admin may change about an account.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
    /// Disabling ends the user's sessions and revokes their tokens at once.
    pub disabled: Option<bool>,
}

/// Change an account's role, or disable or enable it.
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "accounts",
    params(("id" = i64, Path, description = "The user's id")),
    request_body = UserPatch,
    responses(
        (status = 200, body = User),
        (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody),
    ))]
pub async fn update_user(
    State(state): State<AppState>,
    CurrentActor(actor): CurrentActor,
    auditor: Auditor,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<UserPatch>,
) -> Result<ApiJson<User>, ApiError> {
    let missing = || {
        ApiError::not_found(format!(
            "there is no user {}",
            id.chars().take(20).collect::<String>()
        ))
    };
    let user_id: UserId = id.parse().map_err(|()| missing())?;
    let role = match patch.role.as_deref() {
        None => None,
        Some(text) => Some(Role::parse(text).ok_or_else(|| {
            ApiError::invalid(ValidationErrors::single(
                "role",
                format!("unknown role; expected one of {}", Role::expected()),
            ))
        })?),
    };
    if user_id == actor.user.id
        && (patch.disabled == Some(true) || role.is_some_and(|role| role != Role::Admin))
    {
        return Err(ApiError::invalid(ValidationErrors::single(
            "id",
            "you cannot disable or demote yourself; another admin can",
        )));
    }
    let change = UserChange {
        role,
        disabled: patch.disabled,
    };
    let user = state
        .store
        .update_user(user_id, change, state.clock.now())
        .await
        .map_err(ApiError::or_missing(missing))?;
    auditor
        .record(
            "user.changed",
            format!("user {}", user.id),
            format!(
                "role {}, {}",
                user.role,
                if user.disabled { "disabled" } else { "enabled" }
            ),
        )
        .await;
    tracing::info!(user.id = %actor.user.id, changed.user.id = %user.id, role = %user.role, disabled = user.disabled, "user changed");
    Ok(ApiJson(user))
}
