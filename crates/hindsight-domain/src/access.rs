//! Who may do what: users, roles, API token scopes, and the actor behind a request.
//!
//! A request acts for one user, through a session (the web UI) or an API token (the API and
//! CLI). What it may do is what the user's role allows, narrowed by the token's scope.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::ValidationErrors;

/// Shortest password accepted. Long passphrases beat composition rules (NIST SP 800-63B).
pub const MIN_PASSWORD_CHARS: usize = 12;
/// Longest password accepted: hashing cost must not be the client's to choose.
pub const MAX_PASSWORD_BYTES: usize = 1024;
const MAX_EMAIL_CHARS: usize = 254;
const MAX_DISPLAY_NAME_CHARS: usize = 100;
const MAX_TOKEN_NAME_CHARS: usize = 100;

/// A web session ends after this long without a request…
pub const SESSION_IDLE_TIMEOUT: SignedDuration = SignedDuration::from_hours(12);
/// …and after this long in any case.
pub const SESSION_ABSOLUTE_TIMEOUT: SignedDuration = SignedDuration::from_hours(24 * 7);

id_type!(
    /// A user's identifier.
    UserId
);
id_type!(
    /// An API token's identifier (not the secret).
    ApiTokenId
);
id_type!(
    /// A team's identifier.
    TeamId
);

/// A team and its members; team leads are who overdue work escalates to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub members: Vec<TeamMember>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TeamMember {
    pub user_id: UserId,
    pub is_lead: bool,
}

/// Checks a team name: one line, 1 to 100 characters.
pub fn check_team_name(name: &str) -> Result<String, ValidationErrors> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ValidationErrors::single(
            "name",
            "name must be one line of 1 to 100 characters",
        ));
    }
    Ok(name.to_owned())
}

/// Which incidents a reader may see: admins every one; everyone else the public ones and the
/// private ones they are a member of, in person or through a team.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    Everything,
    MemberOf(UserId),
    /// Public incidents only: what a shared channel, a digest or an agenda may carry.
    PublicOnly,
}

string_enum! {
    /// What a user may do: viewers read, editors also write, admins also administer.
    Role { Viewer => "viewer", Editor => "editor", Admin => "admin" }
}

string_enum! {
    /// What an API token may do, within its user's role.
    TokenScope { Read => "read", Write => "write", Admin => "admin" }
}

/// What a route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Permission {
    /// Anyone, signed in or not: health checks, the login page, assets.
    Public,
    Read,
    Write,
    Admin,
}

impl Role {
    fn level(self) -> Permission {
        match self {
            Role::Viewer => Permission::Read,
            Role::Editor => Permission::Write,
            Role::Admin => Permission::Admin,
        }
    }
}

impl Role {
    /// Whether a token of `scope` stays within what this role may do; a token never carries
    /// more than its user.
    pub fn may_hold(self, scope: TokenScope) -> bool {
        self.level() >= scope.level()
    }
}

impl TokenScope {
    /// The refusal of a token wider than its holder may have, in the same words everywhere.
    pub fn too_wide(self) -> crate::ValidationErrors {
        crate::ValidationErrors::single(
            "scope",
            format!("you may not create a token with the {self} scope"),
        )
    }

    fn level(self) -> Permission {
        match self {
            TokenScope::Read => Permission::Read,
            TokenScope::Write => Permission::Write,
            TokenScope::Admin => Permission::Admin,
        }
    }
}

/// A user account. The password hash never leaves the store except to be verified.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub id: UserId,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// A disabled user cannot sign in, and has no sessions or tokens.
    pub disabled: bool,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// A user as submitted for creation.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserDraft {
    pub email: Option<String>,
    pub display_name: Option<String>,
    /// `viewer` (default), `editor` or `admin`.
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
    pub password: Option<String>,
}

/// A user ready to be stored, password still in the clear: hashing is the caller's work,
/// as it is slow on purpose and must not run on the domain's (pure, fast) side.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password: String,
}

/// Emails are compared in lower case: `Ana@Example.com` and `ana@example.com` are one person.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

impl UserDraft {
    pub fn validate(self) -> Result<ValidUser, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let email = normalize_email(self.email.as_deref().unwrap_or_default());
        let valid_email = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
        if email.is_empty() {
            errors.add("email", "email is required");
        } else if !valid_email
            || email.chars().count() > MAX_EMAIL_CHARS
            || email.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            errors.add("email", "email is not an address like ana@example.com");
        }
        let display_name = self
            .display_name
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        let display_name = if display_name.is_empty() {
            email.split('@').next().unwrap_or_default().to_owned()
        } else {
            display_name.to_owned()
        };
        if display_name.chars().count() > MAX_DISPLAY_NAME_CHARS
            || display_name.chars().any(char::is_control)
        {
            errors.add(
                "display_name",
                format!(
                    "display_name must be one line of at most {MAX_DISPLAY_NAME_CHARS} characters"
                ),
            );
        }
        let role = match self.role.as_deref().map(str::trim) {
            None | Some("") => Some(Role::Viewer),
            Some(text) => Role::parse(text).or_else(|| {
                errors.add(
                    "role",
                    format!("unknown role; expected one of {}", Role::expected()),
                );
                None
            }),
        };
        let password = self.password.unwrap_or_default();
        if let Err(message) = check_password(&password) {
            errors.add("password", message);
        }
        match role {
            Some(role) if errors.is_empty() => Ok(ValidUser {
                email,
                display_name,
                role,
                password,
            }),
            _ => Err(errors),
        }
    }
}

/// Length is the rule that matters; every character counts, spaces included.
pub fn check_password(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        Err(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters long"
        ))
    } else if password.len() > MAX_PASSWORD_BYTES {
        Err(format!(
            "password must be at most {MAX_PASSWORD_BYTES} bytes long"
        ))
    } else {
        Ok(())
    }
}

/// An API token as listed; the secret itself is shown once, at creation, and never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ApiToken {
    pub id: ApiTokenId,
    pub user_id: UserId,
    pub name: String,
    pub scope: TokenScope,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub last_used_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<Timestamp>,
}

/// A token as requested.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenDraft {
    /// What it is for, e.g. `ci` or `alertmanager`.
    pub name: Option<String>,
    /// `read` (default), `write` or `admin`.
    #[schema(value_type = Option<TokenScope>)]
    pub scope: Option<String>,
}

impl ApiTokenDraft {
    pub fn validate(self) -> Result<(String, TokenScope), ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let name = self
            .name
            .as_deref()
            .map(str::trim)
            .unwrap_or_default()
            .to_owned();
        if name.is_empty() {
            errors.add("name", "name is required: say what the token is for");
        } else if name.chars().count() > MAX_TOKEN_NAME_CHARS || name.chars().any(char::is_control)
        {
            errors.add(
                "name",
                format!("name must be one line of at most {MAX_TOKEN_NAME_CHARS} characters"),
            );
        }
        let scope = match self.scope.as_deref().map(str::trim) {
            None | Some("") => Some(TokenScope::Read),
            Some(text) => TokenScope::parse(text).or_else(|| {
                errors.add(
                    "scope",
                    format!("unknown scope; expected one of {}", TokenScope::expected()),
                );
                None
            }),
        };
        match scope {
            Some(scope) if errors.is_empty() => Ok((name, scope)),
            _ => Err(errors),
        }
    }
}

/// A web session, by the hash of its secret.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub id_hash: String,
    pub user_id: UserId,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
}

impl Session {
    /// Whether the session has ended, by idleness or by age, at `now`.
    pub fn expired(&self, now: Timestamp) -> bool {
        let idle = now.duration_since(self.last_seen_at);
        let age = now.duration_since(self.created_at);
        idle > SESSION_IDLE_TIMEOUT || age > SESSION_ABSOLUTE_TIMEOUT
    }
}

/// How a request proved who it acts for.
#[derive(Debug, Clone, PartialEq)]
pub enum Credential {
    Session { id_hash: String },
    Token { id: ApiTokenId, scope: TokenScope },
}

/// The user a request acts for, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct Actor {
    pub user: User,
    pub credential: Credential,
}

impl Actor {
    /// Whether this actor may do what needs `permission`.
    pub fn can(&self, permission: Permission) -> bool {
        let by_role = self.user.role.level() >= permission;
        let by_scope = match &self.credential {
            Credential::Session { .. } => true,
            Credential::Token { scope, .. } => scope.level() >= permission,
        };
        !self.user.disabled && by_role && by_scope
    }

    /// Which incidents this actor may see.
    pub fn visibility(&self) -> Visibility {
        if self.user.role == Role::Admin {
            Visibility::Everything
        } else {
            Visibility::MemberOf(self.user.id)
        }
    }

    /// Whether this actor may create a token of `scope`: never more than it may do itself.
    pub fn can_grant(&self, scope: TokenScope) -> bool {
        self.can(scope.level())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, credential: Credential) -> Actor {
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().unwrap();
        Actor {
            user: User {
                id: UserId::new(1).unwrap(),
                email: "ana@example.com".into(),
                display_name: "Ana".into(),
                role,
                disabled: false,
                created_at: now,
                updated_at: now,
            },
            credential,
        }
    }

    fn session() -> Credential {
        Credential::Session {
            id_hash: "x".into(),
        }
    }

    fn token(scope: TokenScope) -> Credential {
        Credential::Token {
            id: ApiTokenId::new(1).unwrap(),
            scope,
        }
    }

    #[test]
    fn roles_grant_what_they_say_and_no_more() {
        let viewer = actor(Role::Viewer, session());
        assert!(viewer.can(Permission::Read) && !viewer.can(Permission::Write));
        let editor = actor(Role::Editor, session());
        assert!(editor.can(Permission::Write) && !editor.can(Permission::Admin));
        assert!(actor(Role::Admin, session()).can(Permission::Admin));
    }

    #[test]
    fn a_token_is_limited_by_its_scope_and_by_its_users_role() {
        assert!(!actor(Role::Admin, token(TokenScope::Read)).can(Permission::Write));
        assert!(!actor(Role::Viewer, token(TokenScope::Admin)).can(Permission::Write));
        assert!(actor(Role::Editor, token(TokenScope::Write)).can(Permission::Write));
    }

    #[test]
    fn a_disabled_user_can_do_nothing() {
        let mut admin = actor(Role::Admin, session());
        admin.user.disabled = true;
        assert!(!admin.can(Permission::Read));
    }

    #[test]
    fn a_user_draft_reports_each_problem() {
        let errors = UserDraft {
            email: Some("not-an-address".into()),
            role: Some("owner".into()),
            password: Some("short".into()),
            ..UserDraft::default()
        }
        .validate()
        .unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["email", "role", "password"]);
    }

    #[test]
    fn emails_are_kept_in_lower_case_and_names_default_from_them() {
        let user = UserDraft {
            email: Some(" Ana.Kim@Example.COM ".into()),
            password: Some("correct horse battery".into()),
            ..UserDraft::default()
        }
        .validate()
        .unwrap();
        assert_eq!(user.email, "ana.kim@example.com");
        assert_eq!(user.display_name, "ana.kim");
        assert_eq!(user.role, Role::Viewer);
    }

    #[test]
    fn sessions_end_when_idle_or_old() {
        let start: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
        let mut session = Session {
            id_hash: "x".into(),
            user_id: UserId::new(1).unwrap(),
            created_at: start,
            last_seen_at: start,
        };
        let later = |hours: i64| {
            start
                .checked_add(SignedDuration::from_hours(hours))
                .unwrap()
        };
        assert!(!session.expired(later(11)));
        assert!(session.expired(later(13)));
        session.last_seen_at = later(24 * 7);
        assert!(session.expired(later(24 * 7 + 1)));
    }
}

/// One entry of the audit log: who did what to what, when, and from where. Entries are only
/// ever added.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    pub id: i64,
    #[schema(value_type = String, format = DateTime)]
    pub occurred_at: Timestamp,
    /// The user who acted, when one did (not for a failed sign-in, nor the command line).
    pub user_id: Option<UserId>,
    /// Who acted, as people read it: an email, `cli`, or `anonymous`.
    pub actor: String,
    /// What happened, as a dotted name: `signin.succeeded`, `permission.denied`, …
    pub action: String,
    /// What it happened to, e.g. `user 4`, `incident 12`, `POST /api/v1/users`.
    pub target: String,
    pub detail: String,
    /// The client's address, when known.
    pub address: Option<String>,
}

/// An entry to append; the store gives it its id.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEvent {
    pub occurred_at: Timestamp,
    pub user_id: Option<UserId>,
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub detail: String,
    pub address: Option<String>,
}
