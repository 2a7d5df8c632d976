//! Account operations shared by the API, the pages and the command line: each validates with
//! the domain's rules, hashes what must be hashed, and stores.

use hindsight_domain::ValidationErrors;
use hindsight_domain::access::{ApiToken, ApiTokenDraft, User, UserDraft, UserId};
use hindsight_store::{NewApiToken, NewUser, Store, StoreError};
use jiff::Timestamp;

use crate::credentials;

/// Validates and creates a user; the password is hashed off the async threads.
pub async fn create_user(
    store: &dyn Store,
    draft: UserDraft,
    now: Timestamp,
) -> Result<User, StoreError> {
    let user = draft.validate()?;
    let password_hash = credentials::hash_password(user.password)
        .await
        .map_err(StoreError::backend_message)?;
    store
        .create_user(
            NewUser {
                email: user.email,
                display_name: user.display_name,
                role: user.role,
                password_hash,
            },
            now,
        )
        .await
}

/// Creates an API token for a user and gives back its secret, which is not kept: this is the
/// only time anyone sees it.
pub async fn create_api_token(
    store: &dyn Store,
    user_id: UserId,
    draft: ApiTokenDraft,
    now: Timestamp,
) -> Result<(ApiToken, String), StoreError> {
    let (name, scope) = draft.validate()?;
    let secret = credentials::new_secret(credentials::TOKEN_PREFIX);
    let token = store
        .create_api_token(
            NewApiToken {
                user_id,
                name,
                scope,
                token_hash: credentials::hash_secret(&secret),
            },
            now,
        )
        .await?;
    Ok((token, secret))
}

/// The user with this email, or a validation error naming the field.
pub async fn user_by_email(store: &dyn Store, email: &str) -> Result<User, StoreError> {
    let email = hindsight_domain::access::normalize_email(email);
    store
        .find_user_by_email(&email)
        .await?
        .map(|(user, _)| user)
        .ok_or_else(|| {
            StoreError::Invalid(ValidationErrors::single(
                "email",
                format!("there is no user with email {email}"),
            ))
        })
}
