//! Storage for Hindsight, behind one trait: [`Store`].
//!
//! Two backends implement it: SQLite (the default, embedded, one file) and PostgreSQL (for
//! several instances sharing one database). Each backend owns its SQL and its migrations; no
//! SQL leaves this crate, and nothing above it knows which backend it talks to. Backends store
//! only what the domain crate validated: the write methods take [`ValidIncident`]s.
//!
//! This crate must not know about HTTP, pages or the command line.

mod error;
mod jobs;
mod migration;
pub mod postgres;
pub mod sqlite;
#[cfg(feature = "test-support")]
pub mod testing;

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use hindsight_domain::access::{
    ApiToken, ApiTokenId, AuditEvent, NewAuditEvent, Role, Session, Team, TeamId, TokenScope, User,
    UserId, Visibility,
};
use hindsight_domain::action_item::{
    ActionItem, ActionItemContent, ActionItemFilter, ActionItemId,
};
use hindsight_domain::document::{Author, Postmortem, PostmortemId, Revision, ValidDocument};
use hindsight_domain::image::{ImageMeta, ImageType};
use hindsight_domain::meeting::ReviewMeeting;
use hindsight_domain::notify::NewNotification;
use hindsight_domain::policy::{
    PolicyDecision, PolicyOutcome, PolicyOverride, PolicyVerdict, PostmortemRequest,
};
use hindsight_domain::postmortem::{PostmortemStatus, Template};
use hindsight_domain::timeline::{EventId, NewEvent, TimelineEvent, TimelineWrite};
use hindsight_domain::{
    Incident, IncidentFilter, IncidentId, IncidentPage, ValidIncident, ValidationErrors,
};
use jiff::Timestamp;

pub use error::{Outage, StoreError};
pub use jobs::{
    Attempt, AttemptRecord, Delivery, DeliveryFilter, DeliveryTask, Job, NewJob, Notification,
    RouteFn, channel_of, event_id,
};
pub use migration::{Migration, MigrationReport};

/// The `updated_at` a meeting is saved with, both backends' one rule: a new meeting
/// (`previous` is `None`) may only replace a cancelled one, and a change must be made on the
/// version stored (`stored`: its status and `updated_at`).
pub(crate) fn meeting_version(
    previous: Option<Timestamp>,
    stored: Option<(&str, Timestamp)>,
    now: Timestamp,
) -> Result<Timestamp, StoreError> {
    use hindsight_domain::meeting::MeetingStatus;
    match (previous, stored) {
        (None, Some((status, _))) if status != MeetingStatus::Cancelled.as_str() => {
            Err(StoreError::Conflict(
                "this postmortem has a review meeting already: reschedule or cancel it instead"
                    .into(),
            ))
        }
        (None, _) => Ok(now),
        (Some(previous), Some((_, updated_at))) if previous == updated_at => {
            Ok(hindsight_domain::incident::next_updated_at(now, previous))
        }
        (Some(_), _) => Err(StoreError::Conflict(
            "the meeting changed since it was read: reload it and make the change again".into(),
        )),
    }
}

/// Turns the current incident into its new content; runs inside the store's write transaction,
/// so that two concurrent edits cannot overwrite each other.
pub type IncidentChange =
    Box<dyn FnOnce(&Incident) -> Result<ValidIncident, ValidationErrors> + Send + 'static>;

/// Turns the current postmortem into its next status and document; runs inside the store's write
/// transaction, after the version check.
pub type PostmortemChange = Box<
    dyn FnOnce(&Postmortem) -> Result<(PostmortemStatus, ValidDocument), ValidationErrors>
        + Send
        + 'static,
>;

/// Decides a change to an incident's timeline; runs inside the store's write transaction with
/// the incident and the events that hold its key times (and the event being changed, when the
/// change names one). The domain's timeline functions are what it calls.
pub type TimelineChange = Box<
    dyn FnOnce(&Incident, &[TimelineEvent]) -> Result<TimelineWrite, ValidationErrors>
        + Send
        + 'static,
>;

/// What a timeline change wrote.
#[derive(Debug, Clone)]
pub struct TimelineOutcome {
    pub incident: Incident,
    /// The events inserted, in the order the change listed them.
    pub inserted: Vec<TimelineEvent>,
    pub updated: Vec<TimelineEvent>,
}

/// One alert delivery, parsed: where it belongs and what it adds.
#[derive(Debug, Clone)]
pub struct AlertIntake {
    /// `alertmanager`, `grafana`, `pagerduty`, `opsgenie`.
    pub source: &'static str,
    /// The id the sender gave this delivery; a delivery seen before adds nothing.
    pub delivery_id: Option<String>,
    /// Keys that find the incident the alert belongs to; all of them are linked to it.
    pub links: Vec<String>,
    /// The incident to open when no key finds one; `None` adds nothing then.
    pub open: Option<ValidIncident>,
    /// Events to add, each with an `external_id`: one the incident holds already is skipped.
    pub events: Vec<NewEvent>,
}

/// What an alert delivery did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct IntakeOutcome {
    pub incident_id: Option<IncidentId>,
    pub opened: bool,
    pub events_added: usize,
    /// The delivery was seen before and added nothing.
    pub duplicate: bool,
}

/// A batch of chat events streamed into an import, or why the import must stop.
pub type ImportBatch = Result<Vec<NewEvent>, String>;

/// What an import of events did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    pub added: u64,
    /// Events the incident held already (a repeated import).
    pub skipped: u64,
}

/// Gives the policy's verdict on an incident, from its requests and the override in force;
/// runs inside the store's write transaction (the domain's `policy::judge` is what it calls).
pub type PolicyJudgement = Box<
    dyn FnOnce(&Incident, &[PostmortemRequest], Option<&PolicyOverride>) -> PolicyVerdict
        + Send
        + 'static,
>;

/// Turns an action item into its new content; runs inside the store's write transaction.
pub type ActionItemChange =
    Box<dyn FnOnce(&ActionItem) -> Result<ActionItemContent, ValidationErrors> + Send + 'static>;

/// One decision the policy gave, as history keeps it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct DecisionRecord {
    #[serde(flatten)]
    pub decision: PolicyDecision,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A user as lists name them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct UserRef {
    pub id: UserId,
    pub name: String,
}

/// The postmortem a required decision asks for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PendingPostmortem {
    pub incident_id: IncidentId,
    pub incident_title: String,
    pub severity: hindsight_domain::Severity,
    #[schema(value_type = Option<String>, format = DateTime)]
    pub resolved_at: Option<Timestamp>,
    /// The incident's owner when they are a user, else the policy's fallback owner.
    pub owner: Option<UserRef>,
    /// Set once the incident is resolved.
    #[schema(value_type = Option<String>, format = Date)]
    pub due_on: Option<jiff::civil::Date>,
    /// The newest postmortem covering the incident, if one was started.
    pub postmortem_id: Option<PostmortemId>,
    pub postmortem_status: Option<PostmortemStatus>,
    #[schema(value_type = String, format = DateTime)]
    pub since: Timestamp,
}

/// Everything the policy knows about one incident.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct PolicyState {
    pub incident_id: IncidentId,
    /// What counts: the override's outcome when a person set one, else the decision's.
    pub outcome: Option<PolicyOutcome>,
    /// The policy's current decision; absent until it first ran.
    pub decision: Option<DecisionRecord>,
    /// The override in force, if any.
    #[serde(rename = "override")]
    pub override_: Option<PolicyOverride>,
    pub requests: Vec<PostmortemRequest>,
    /// Every decision the policy gave, oldest first.
    pub history: Vec<DecisionRecord>,
    /// Every override, oldest first (one with no outcome withdrew the one before).
    pub overrides: Vec<PolicyOverride>,
    /// The postmortem owed, while the outcome is `required` and none is published.
    pub pending: Option<PendingPostmortem>,
}

impl PolicyState {
    /// The state from what each backend reads: the current decision, the override in force and
    /// the outcome that counts are derived here, once.
    pub(crate) fn assemble(
        incident_id: IncidentId,
        history: Vec<DecisionRecord>,
        overrides: Vec<PolicyOverride>,
        requests: Vec<PostmortemRequest>,
        pending: Option<PendingPostmortem>,
    ) -> Self {
        let override_ = hindsight_domain::policy::override_in_force(&overrides).cloned();
        let decision = history.last().cloned();
        Self {
            incident_id,
            outcome: override_
                .as_ref()
                .and_then(|in_force| in_force.outcome)
                .or(decision.as_ref().map(|record| record.decision.outcome)),
            decision,
            override_,
            requests,
            history,
            overrides,
            pending,
        }
    }
}

/// An action item's owner as the two columns that hold it, a user's id or a team's.
pub(crate) fn owner_ids(
    owner: Option<hindsight_domain::action_item::Owner>,
) -> (Option<i64>, Option<i64>) {
    use hindsight_domain::action_item::Owner;
    match owner {
        Some(Owner::User(user)) => (Some(user.get()), None),
        Some(Owner::Team(team)) => (None, Some(team.get())),
        None => (None, None),
    }
}

/// A postmortem to store.
#[derive(Debug, Clone)]
pub struct NewPostmortem {
    /// Set when importing a file that names its postmortem; new ones get the next id.
    pub id: Option<PostmortemId>,
    pub status: PostmortemStatus,
    pub document: ValidDocument,
}

/// Which postmortems a list holds: newest first, older than `before` when given.
#[derive(Debug, Clone, Default)]
pub struct PostmortemFilter {
    pub status: Option<PostmortemStatus>,
    pub incident: Option<IncidentId>,
    pub before: Option<PostmortemId>,
    /// At most this many; 1 to 1000.
    pub limit: u32,
}

/// An image to store, checked to be what its type says.
#[derive(Debug, Clone)]
pub struct NewImage {
    pub postmortem: PostmortemId,
    pub name: String,
    pub content_type: ImageType,
    pub sha256: String,
    pub bytes: Vec<u8>,
    pub created_by: Option<UserId>,
}

/// A stored image with its bytes.
#[derive(Debug, Clone)]
pub struct Image {
    pub meta: ImageMeta,
    pub bytes: Vec<u8>,
}

/// Why a postmortem cannot be discarded, for [`Store::discard_postmortem`].
pub fn refuse_discard(postmortem: &Postmortem) -> Result<(), StoreError> {
    if postmortem.status.may_discard() {
        Ok(())
    } else {
        Err(StoreError::Conflict(format!(
            "only a draft can be discarded; PM-{} is {}, and is kept",
            postmortem.id,
            postmortem.status.words()
        )))
    }
}

/// A user to store: validated, password already hashed.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// A change to a user; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub role: Option<Role>,
    pub disabled: Option<bool>,
}

/// A token to store: the hash of its secret, never the secret.
#[derive(Debug, Clone)]
pub struct NewApiToken {
    pub user_id: UserId,
    pub name: String,
    pub scope: TokenScope,
    pub token_hash: String,
}

/// Everything Hindsight keeps, whatever it is kept in.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and the health page.
    fn backend(&self) -> &'static str;

    /// Applies the migrations this binary knows and the database has not seen yet.
    async fn migrate(&self) -> Result<MigrationReport, StoreError>;

    /// Answers when the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Bytes free on the disk that holds the database, where the store can tell (SQLite);
    /// readiness turns false before writes start failing.
    fn free_bytes(&self) -> Option<u64> {
        None
    }

    /// Stores a new incident, and an event for each key time it records (by `author`).
    async fn create_incident(
        &self,
        incident: ValidIncident,
        author: Option<String>,
        now: Timestamp,
    ) -> Result<Incident, StoreError>;

    /// The incident, if it exists and `visibility` lets the reader see it: a private incident
    /// the reader is not a member of does not exist for them.
    async fn get_incident(
        &self,
        id: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<Incident>, StoreError>;

    /// Reads the incident, applies `change` to it and writes the result, atomically, with the
    /// timeline events that record the change (by `author`).
    /// [`StoreError::NotFound`] when there is no such incident or `visibility` hides it,
    /// [`StoreError::Invalid`] when the change refuses; nothing is written in either case.
    async fn update_incident(
        &self,
        id: IncidentId,
        visibility: Visibility,
        author: Option<String>,
        now: Timestamp,
        change: IncidentChange,
    ) -> Result<Incident, StoreError>;

    /// The incident's timeline, oldest first (ties in insertion order); `None` when there is
    /// no such incident or `visibility` hides it.
    async fn list_events(
        &self,
        incident: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<Vec<TimelineEvent>>, StoreError>;

    /// Applies `change` to the incident's timeline atomically: the events it inserts, updates
    /// and deletes, and the incident's key times. `target` is the event the change is about;
    /// [`StoreError::NotFound`] when it or the incident does not exist or is hidden.
    async fn change_timeline(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        target: Option<EventId>,
        now: Timestamp,
        change: TimelineChange,
    ) -> Result<TimelineOutcome, StoreError>;

    /// Records one alert delivery atomically: opens or finds the incident, links it, adds the
    /// events it does not hold yet. Concurrent deliveries of the same alert add it once.
    async fn record_alert(
        &self,
        intake: AlertIntake,
        now: Timestamp,
    ) -> Result<IntakeOutcome, StoreError>;

    /// Adds the events `batches` streams to the incident, in one transaction: all of them
    /// (less those the incident holds already) or, when a batch is an error or the incident
    /// is hidden, none ([`StoreError::Invalid`] with the batch's message under `file`).
    async fn import_events(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        now: Timestamp,
        batches: tokio::sync::mpsc::Receiver<ImportBatch>,
    ) -> Result<ImportOutcome, StoreError>;

    /// The incidents `visibility` lets the reader see that match `filter`.
    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        visibility: Visibility,
    ) -> Result<IncidentPage, StoreError>;

    /// Every incident, private ones included: for operators (the demo loader), never for
    /// answers to a reader.
    async fn count_incidents(&self) -> Result<u64, StoreError>;

    /// Stores a team's template. [`StoreError::Conflict`] when its key is taken.
    async fn create_template(&self, template: Template, now: Timestamp) -> Result<(), StoreError>;

    /// The templates teams added, by key (the built-in ones are not stored).
    async fn list_templates(&self) -> Result<Vec<Template>, StoreError>;

    /// Stores a new postmortem at version 1, and that version in its history.
    /// [`StoreError::Conflict`] when `id` is given and taken; [`StoreError::Invalid`] when an
    /// incident or the owner does not exist.
    async fn create_postmortem(
        &self,
        postmortem: NewPostmortem,
        author: Author,
        now: Timestamp,
    ) -> Result<Postmortem, StoreError>;

    /// The postmortem, if `visibility` lets the reader see every incident it covers.
    async fn get_postmortem(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Option<Postmortem>, StoreError>;

    async fn list_postmortems(
        &self,
        filter: &PostmortemFilter,
        visibility: Visibility,
    ) -> Result<Vec<Postmortem>, StoreError>;

    /// Applies `change` to the postmortem at `expected_version` (any version when `None`) and
    /// stores the result as the next version, with its author, atomically.
    /// [`StoreError::VersionConflict`] with the current version when it moved on;
    /// a change that alters nothing makes no new version.
    async fn update_postmortem(
        &self,
        id: PostmortemId,
        visibility: Visibility,
        expected_version: Option<u32>,
        author: Author,
        now: Timestamp,
        change: PostmortemChange,
    ) -> Result<Postmortem, StoreError>;

    /// Deletes a draft postmortem with its history, incident links, meeting and action items,
    /// atomically, and answers it as it was. [`StoreError::NotFound`] when the reader may not
    /// see it; [`StoreError::Conflict`] when it is not a draft (the domain's `may_discard`).
    async fn discard_postmortem(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Postmortem, StoreError>;

    /// Stores an image of a postmortem the reader may see ([`StoreError::NotFound`] otherwise).
    /// It is not part of the document, so it makes no new version.
    async fn add_image(
        &self,
        image: NewImage,
        visibility: Visibility,
        now: Timestamp,
    ) -> Result<ImageMeta, StoreError>;

    /// An image with its bytes, if the reader may see its postmortem.
    async fn get_image(
        &self,
        postmortem: PostmortemId,
        image: i64,
        visibility: Visibility,
    ) -> Result<Option<Image>, StoreError>;

    /// Deletes an image of a postmortem the reader may see, and answers it as it was.
    /// [`StoreError::NotFound`] when either is not there for this reader.
    async fn delete_image(
        &self,
        postmortem: PostmortemId,
        image: i64,
        visibility: Visibility,
    ) -> Result<ImageMeta, StoreError>;

    /// A postmortem's images, oldest first, if the reader may see it.
    async fn list_images(
        &self,
        postmortem: PostmortemId,
        visibility: Visibility,
    ) -> Result<Vec<ImageMeta>, StoreError>;

    /// Every version of a postmortem, oldest first.
    async fn list_revisions(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Vec<Revision>, StoreError>;

    /// Runs the policy on an incident inside a write transaction and keeps what follows: a new
    /// decision in the history when it changed, and the pending postmortem (owner, due date)
    /// while the outcome in force is `required`, removed when it no longer is.
    async fn judge_incident(
        &self,
        incident: IncidentId,
        now: Timestamp,
        judgement: PolicyJudgement,
    ) -> Result<PolicyState, StoreError>;

    /// Everything the policy knows about an incident the reader may see.
    async fn get_policy(
        &self,
        incident: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<PolicyState>, StoreError>;

    /// Records that someone asked for a postmortem. `NotFound` for an incident the reader may
    /// not see.
    async fn request_postmortem(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        request: PostmortemRequest,
    ) -> Result<(), StoreError>;

    /// Puts a person's decision in place of the policy's (or withdraws one, with no outcome).
    async fn override_policy(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        override_: PolicyOverride,
    ) -> Result<(), StoreError>;

    /// Required postmortems not yet published, for incidents the reader may see: the earliest
    /// due first, those without a due date (unresolved) last.
    async fn list_postmortem_debt(
        &self,
        visibility: Visibility,
    ) -> Result<Vec<PendingPostmortem>, StoreError>;

    /// Stores a new action item of a postmortem the reader may see (`NotFound` otherwise);
    /// [`StoreError::Invalid`] naming `owner` when the user or team does not exist.
    async fn create_action_item(
        &self,
        postmortem: PostmortemId,
        visibility: Visibility,
        content: ActionItemContent,
        author: Author,
        now: Timestamp,
    ) -> Result<ActionItem, StoreError>;

    async fn get_action_item(
        &self,
        id: ActionItemId,
        visibility: Visibility,
    ) -> Result<Option<ActionItem>, StoreError>;

    /// Applies `change` to the item atomically; `finished_at` follows the status.
    async fn update_action_item(
        &self,
        id: ActionItemId,
        visibility: Visibility,
        now: Timestamp,
        change: ActionItemChange,
    ) -> Result<ActionItem, StoreError>;

    /// The items that pass the filter, of postmortems the reader may see, ranked: unfinished
    /// first, then priority, then low effort and high impact, then the earliest due.
    async fn list_action_items(
        &self,
        filter: &ActionItemFilter,
        visibility: Visibility,
    ) -> Result<Vec<ActionItem>, StoreError>;

    /// Adds a job unless one with its dedupe key exists; whether it was added.
    async fn schedule_job(&self, job: NewJob, now: Timestamp) -> Result<bool, StoreError>;

    /// Claims the earliest due job no one holds, for `lease`; a job whose holder's lease ran
    /// out (the instance died) is claimable again.
    async fn claim_job(
        &self,
        worker: &str,
        now: Timestamp,
        lease: std::time::Duration,
    ) -> Result<Option<Job>, StoreError>;

    /// Marks a job done and stores what it planned, in one transaction; notifications whose
    /// dedupe key exists are left out. How many were new.
    async fn complete_job(
        &self,
        job: i64,
        now: Timestamp,
        notifications: Vec<NewNotification>,
    ) -> Result<usize, StoreError>;

    /// Records a failed run: to run again at `retry_at`, or given up on when `None`.
    async fn fail_job(
        &self,
        job: i64,
        error: String,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError>;

    /// Turns up to `limit` notifications not yet routed into deliveries, one per target `route`
    /// names, in one transaction. How many notifications were routed.
    async fn route_notifications(
        &self,
        now: Timestamp,
        limit: u32,
        route: RouteFn,
    ) -> Result<usize, StoreError>;

    /// Claims up to `limit` deliveries due now, for `lease`, skipping disabled channels.
    async fn claim_deliveries(
        &self,
        worker: &str,
        now: Timestamp,
        lease: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<DeliveryTask>, StoreError>;

    /// Keeps an attempt and moves the delivery on: delivered, due again, dead, or disabled with
    /// its channel.
    async fn record_attempt(&self, delivery: i64, attempt: Attempt) -> Result<(), StoreError>;

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError>;

    /// Makes a dead or disabled delivery due now with fresh attempts, enabling its channel.
    /// `NotFound`; `Conflict` when it is pending or delivered.
    async fn replay_delivery(&self, id: i64, now: Timestamp) -> Result<Delivery, StoreError>;

    /// The channels disabled after answering 410 Gone.
    async fn disabled_channels(&self) -> Result<Vec<String>, StoreError>;

    /// A postmortem's review meeting, if one was ever scheduled. The caller has checked that
    /// the reader may see the postmortem.
    async fn get_meeting(
        &self,
        postmortem: PostmortemId,
    ) -> Result<Option<ReviewMeeting>, StoreError>;

    /// Stores a meeting with the notifications it sends, in one transaction. `previous` is the
    /// `updated_at` of the version the change was made on, `None` for a new meeting, which may
    /// only replace a cancelled one. [`StoreError::Conflict`] when a live meeting exists or the
    /// meeting changed meanwhile. The stored notes are kept: they change only by
    /// [`Store::save_meeting_notes`].
    async fn save_meeting(
        &self,
        meeting: ReviewMeeting,
        previous: Option<Timestamp>,
        notifications: Vec<NewNotification>,
        now: Timestamp,
    ) -> Result<ReviewMeeting, StoreError>;

    /// Saves the moderator's notes as typed; `false` when there is no meeting that is not
    /// cancelled.
    async fn save_meeting_notes(
        &self,
        postmortem: PostmortemId,
        notes: String,
        now: Timestamp,
    ) -> Result<bool, StoreError>;

    /// When each user last moderated a meeting that was not cancelled: the rotation's memory.
    async fn moderator_history(&self) -> Result<BTreeMap<UserId, Timestamp>, StoreError>;

    /// [`StoreError::Conflict`] when the name is taken.
    async fn create_team(&self, name: String, now: Timestamp) -> Result<Team, StoreError>;

    async fn list_teams(&self) -> Result<Vec<Team>, StoreError>;

    /// Adds a user to a team, or changes whether they lead it. `NotFound` for an unknown team
    /// or user.
    async fn set_team_member(
        &self,
        team: TeamId,
        user: UserId,
        is_lead: bool,
        now: Timestamp,
    ) -> Result<Team, StoreError>;

    async fn remove_team_member(
        &self,
        team: TeamId,
        user: UserId,
        now: Timestamp,
    ) -> Result<Team, StoreError>;

    /// Adds an entry to the audit log; there is no way to change or remove one.
    async fn append_audit(&self, event: NewAuditEvent) -> Result<(), StoreError>;

    /// The newest entries first, older than `before` (an entry id) when given.
    async fn list_audit(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    async fn count_users(&self) -> Result<u64, StoreError>;

    /// [`StoreError::Conflict`] when the email is taken.
    async fn create_user(&self, user: NewUser, now: Timestamp) -> Result<User, StoreError>;

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError>;

    /// The user with this (normalized) email, and their password hash.
    async fn find_user_by_email(&self, email: &str) -> Result<Option<(User, String)>, StoreError>;

    async fn list_users(&self) -> Result<Vec<User>, StoreError>;

    /// Changes a user. Disabling one ends all their sessions and revokes all their tokens in
    /// the same transaction.
    async fn update_user(
        &self,
        id: UserId,
        change: UserChange,
        now: Timestamp,
    ) -> Result<User, StoreError>;

    async fn create_session(&self, session: Session) -> Result<(), StoreError>;

    /// The session with this hash and its user, whatever their state; the caller decides.
    async fn find_session(&self, id_hash: &str) -> Result<Option<(Session, User)>, StoreError>;

    async fn touch_session(&self, id_hash: &str, now: Timestamp) -> Result<(), StoreError>;

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError>;

    async fn create_api_token(
        &self,
        token: NewApiToken,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError>;

    /// The unrevoked token with this hash and its user.
    async fn find_api_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, User)>, StoreError>;

    async fn touch_api_token(&self, id: ApiTokenId, now: Timestamp) -> Result<(), StoreError>;

    /// Tokens of one user, or of everyone; newest first.
    async fn list_api_tokens(&self, user_id: Option<UserId>) -> Result<Vec<ApiToken>, StoreError>;

    /// Revokes a token (already revoked ones stay as they were); `NotFound` if there is none.
    async fn revoke_api_token(
        &self,
        id: ApiTokenId,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError>;
}

/// A stored version's document. Versions written before action items had their own table
/// still hold them in the document; they are read without them (the items themselves moved to
/// `action_item` in migration 7).
pub(crate) fn revision_document(
    mut value: serde_json::Value,
) -> Result<hindsight_domain::document::PostmortemDocument, serde_json::Error> {
    if let Some(object) = value.as_object_mut() {
        object.remove("action_items");
    }
    serde_json::from_value(value)
}

/// Opens the store a database URL names: `postgres://…` or `postgresql://…` for PostgreSQL;
/// `sqlite:PATH`, `sqlite://PATH` or a plain file path for SQLite. Does not migrate.
pub async fn open(database_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    match sqlite_path(database_url) {
        None => Ok(Arc::new(
            postgres::PostgresStore::connect(database_url).await?,
        )),
        Some(path) => Ok(Arc::new(sqlite::SqliteStore::open(path).await?)),
    }
}

/// Bytes free on the disk that holds `file` (a SQLite database), where it can be told.
pub fn free_bytes_at(file: &std::path::Path) -> Option<u64> {
    let folder = match file.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => std::path::Path::new("."),
    };
    let stats = rustix::fs::statvfs(folder).ok()?;
    Some(stats.f_bavail.saturating_mul(stats.f_frsize))
}

/// The SQLite file a database URL names, or `None` for a PostgreSQL URL.
pub fn sqlite_path(database_url: &str) -> Option<&std::path::Path> {
    if database_url.starts_with("postgres://") || database_url.starts_with("postgresql://") {
        return None;
    }
    let path = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))
        .unwrap_or(database_url);
    Some(path.as_ref())
}

/// The database URL with any password replaced, for logs and messages.
pub fn redact_url(database_url: &str) -> String {
    match (database_url.find("://"), database_url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &database_url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!(
                    "{}{}:***{}",
                    &database_url[..scheme_end + 3],
                    user,
                    &database_url[at..]
                ),
                None => database_url.to_owned(),
            }
        }
        _ => database_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/hindsight"),
            "postgres://app:***@db:5432/hindsight"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(redact_url("hindsight.db"), "hindsight.db");
    }
}
