//! The PostgreSQL backend, for several Hindsight instances sharing one database.
//!
//! Every write is one transaction; read-modify-write changes lock their row (`for update`), so
//! instances never overwrite each other's edits. Migrations run under an advisory lock, so
//! instances starting together apply each migration once.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use hindsight_domain::incident::{IncidentContent, next_updated_at};
use hindsight_domain::to_stored_precision;
use hindsight_domain::{
    CauseOrigin, Detection, Impact, Incident, IncidentCursor, IncidentFilter, IncidentId,
    IncidentPage, IncidentStatus, Severity, ValidIncident,
};
use jiff::Timestamp;
use tokio_postgres::types::{Json, ToSql};
use tokio_postgres::{NoTls, Row};

use crate::migration::{Migration, MigrationReport, check_not_newer};
mod follow_through;
mod image;
mod jobs;
mod meeting;
mod timeline;

use hindsight_domain::timeline::{EventId, TimelineEvent};

use crate::{
    ActionItemChange, AlertIntake, Attempt, Delivery, DeliveryFilter, DeliveryTask, ImportBatch,
    ImportOutcome, IncidentChange, IntakeOutcome, Job, NewApiToken, NewJob, NewPostmortem, NewUser,
    PendingPostmortem, PolicyJudgement, PolicyState, PostmortemChange, PostmortemFilter, RouteFn,
    Store, StoreError, TimelineChange, TimelineOutcome, UserChange,
};
use hindsight_domain::Members;
use hindsight_domain::access::{
    ApiToken, ApiTokenId, AuditEvent, NewAuditEvent, Role, Session, Team, TeamId, TeamMember,
    TokenScope, User, UserId, Visibility,
};
use hindsight_domain::action_item::{
    ActionItem, ActionItemContent, ActionItemFilter, ActionItemId,
};
use hindsight_domain::document::{
    Author, Postmortem, PostmortemDocument, PostmortemId, Revision, changed_fields,
};
use hindsight_domain::meeting::ReviewMeeting;
use hindsight_domain::notify::NewNotification;
use hindsight_domain::policy::{PolicyOverride, PostmortemRequest};
use hindsight_domain::postmortem::{PostmortemStatus, Template};

const MIGRATIONS: &[Migration] = crate::migration::migrations!("postgres");

/// Any fixed number, shared by every Hindsight instance, so that migrations run one at a time.
const MIGRATION_LOCK: i64 = 0x6869_6e64_7369_6768;
const POOL_SIZE: usize = 16;

pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects to the database `url` names and checks that it answers.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let config: tokio_postgres::Config = url.parse().map_err(|error| {
            StoreError::backend_message(format!("invalid PostgreSQL URL: {error}"))
        })?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(Duration::from_secs(10)))
            .wait_timeout(Some(Duration::from_secs(30)))
            .build()
            .map_err(StoreError::backend)?;
        let store = Self { pool };
        store.ping().await.map_err(|error| match error {
            StoreError::Unavailable(outage, detail) => {
                StoreError::Unavailable(outage, format!("{detail} (at {})", crate::redact_url(url)))
            }
            other => StoreError::backend_message(format!(
                "cannot reach PostgreSQL at {}: {other}",
                crate::redact_url(url)
            )),
        })?;
        Ok(store)
    }
}

const INCIDENT_COLUMNS: &str = "incident_id, title, summary, severity, status, services, \
     started_at, detected_at, acknowledged_at, mitigated_at, resolved_at, detection, \
     cause_origin, user_visible_minutes, users_affected, requests_failed, data_loss, \
     security_breach, business, owner, tags, created_at, updated_at, private, members";

/// The condition that a reader may see an incident, with `$everything` true for admins and
/// `$user` the reader's user id.
fn visible(everything: usize, user: usize) -> String {
    format!(
        "(${everything}::boolean or not private or exists (select 1 from incident_member m \
         where m.incident_id = incident.incident_id and (m.user_id = ${user}::bigint or \
         m.team_id in (select team_id from team_member t where t.user_id = ${user}::bigint))))"
    )
}

fn visibility_values(visibility: Visibility) -> (bool, i64) {
    match visibility {
        Visibility::Everything => (true, 0),
        Visibility::MemberOf(user) => (false, user.get()),
        Visibility::PublicOnly => (false, 0),
    }
}

fn unexpected(column: &str, value: &str) -> StoreError {
    StoreError::backend_message(format!("unexpected value `{value}` in column {column}"))
}

fn incident_from_row(row: &Row) -> Result<Incident, StoreError> {
    let text = |column: &str| -> Result<String, StoreError> { Ok(row.try_get(column)?) };
    let count = |column: &str| -> Result<Option<u64>, StoreError> {
        Ok(row
            .try_get::<_, Option<i64>>(column)?
            .map(|count| count as u64))
    };
    let severity = text("severity")?;
    let status = text("status")?;
    let detection: Option<String> = row.try_get("detection")?;
    let cause_origin: Option<String> = row.try_get("cause_origin")?;
    let id: i64 = row.try_get("incident_id")?;
    let Json(business): Json<BTreeMap<String, f64>> = row.try_get("business")?;
    let members: Json<Members> = row.try_get("members")?;
    Ok(Incident {
        id: IncidentId::new(id).ok_or_else(|| unexpected("incident_id", &id.to_string()))?,
        content: IncidentContent {
            title: row.try_get("title")?,
            summary: row.try_get("summary")?,
            severity: Severity::parse(&severity)
                .ok_or_else(|| unexpected("severity", &severity))?,
            status: IncidentStatus::parse(&status).ok_or_else(|| unexpected("status", &status))?,
            services: row.try_get("services")?,
            started_at: row.try_get("started_at")?,
            detected_at: row.try_get("detected_at")?,
            acknowledged_at: row.try_get("acknowledged_at")?,
            mitigated_at: row.try_get("mitigated_at")?,
            resolved_at: row.try_get("resolved_at")?,
            detection: detection
                .map(|value| {
                    Detection::parse(&value).ok_or_else(|| unexpected("detection", &value))
                })
                .transpose()?,
            cause_origin: cause_origin
                .map(|value| {
                    CauseOrigin::parse(&value).ok_or_else(|| unexpected("cause_origin", &value))
                })
                .transpose()?,
            impact: Impact {
                user_visible_minutes: count("user_visible_minutes")?,
                users_affected: count("users_affected")?,
                requests_failed: count("requests_failed")?,
                data_loss: row.try_get("data_loss")?,
                security_breach: row.try_get("security_breach")?,
                business,
            },
            owner: row.try_get("owner")?,
            tags: row.try_get("tags")?,
            private: row.try_get("private")?,
            members: members.0,
        },
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The incident's columns as SQL parameters, in the order of [`CONTENT_COLUMNS`].
struct ContentParams<'a> {
    content: &'a IncidentContent,
    severity: &'static str,
    status: &'static str,
    detection: Option<&'static str>,
    cause_origin: Option<&'static str>,
    user_visible_minutes: Option<i64>,
    users_affected: Option<i64>,
    requests_failed: Option<i64>,
    business: Json<&'a BTreeMap<String, f64>>,
    members: Json<&'a Members>,
}

const CONTENT_COLUMNS: &str = "title, summary, severity, status, services, started_at, \
     detected_at, acknowledged_at, mitigated_at, resolved_at, detection, cause_origin, \
     user_visible_minutes, users_affected, requests_failed, data_loss, security_breach, \
     business, owner, tags, private, members";

impl<'a> ContentParams<'a> {
    fn new(content: &'a IncidentContent) -> Self {
        let count = |count: Option<u64>| count.map(|count| count as i64);
        Self {
            content,
            severity: content.severity.as_str(),
            status: content.status.as_str(),
            detection: content.detection.map(Detection::as_str),
            cause_origin: content.cause_origin.map(CauseOrigin::as_str),
            user_visible_minutes: count(content.impact.user_visible_minutes),
            users_affected: count(content.impact.users_affected),
            requests_failed: count(content.impact.requests_failed),
            business: Json(&content.impact.business),
            members: Json(&content.members),
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        let content = self.content;
        vec![
            &content.title,
            &content.summary,
            &self.severity,
            &self.status,
            &content.services,
            &content.started_at,
            &content.detected_at,
            &content.acknowledged_at,
            &content.mitigated_at,
            &content.resolved_at,
            &self.detection,
            &self.cause_origin,
            &self.user_visible_minutes,
            &self.users_affected,
            &self.requests_failed,
            &content.impact.data_loss,
            &content.impact.security_breach,
            &self.business,
            &content.owner,
            &content.tags,
            &content.private,
            &self.members,
        ]
    }
}

/// Adds a parameter and gives its placeholder.
/// Inserts an incident, with the events that show its key times.
async fn insert_incident(
    client: &impl GenericClient,
    incident: ValidIncident,
    author: Option<String>,
    now: Timestamp,
) -> Result<Incident, StoreError> {
    let now = to_stored_precision(now);
    let content = incident.into_content();
    let statement = client
        .prepare_cached(&format!(
            "insert into incident ({CONTENT_COLUMNS}, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
             $16, $17, $18, $19, $20, $21, $22, $23, $23) returning incident_id"
        ))
        .await?;
    let values = ContentParams::new(&content);
    let mut params = values.params();
    params.push(&now);
    let id: i64 = client.query_one(&statement, &params).await?.get(0);
    let id = IncidentId::new(id).ok_or_else(|| unexpected("incident_id", &id.to_string()))?;
    replace_members(client, id, &content.members, now).await?;
    let write = hindsight_domain::timeline::record_incident_change(
        None,
        &content,
        &[],
        author.as_deref(),
        now,
    );
    let incident = Incident {
        id,
        content,
        created_at: now,
        updated_at: now,
    };
    timeline::apply(client, &incident, write, now).await?;
    Ok(incident)
}

/// Overwrites an incident's content columns.
async fn write_incident_row(
    client: &impl GenericClient,
    id: IncidentId,
    content: &IncidentContent,
    updated_at: Timestamp,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "update incident set title = $1, summary = $2, severity = $3, status = $4, \
             services = $5, started_at = $6, detected_at = $7, acknowledged_at = $8, \
             mitigated_at = $9, resolved_at = $10, detection = $11, cause_origin = $12, \
             user_visible_minutes = $13, users_affected = $14, requests_failed = $15, \
             data_loss = $16, security_breach = $17, business = $18, owner = $19, \
             tags = $20, private = $21, members = $22, updated_at = $23 \
             where incident_id = $24",
        )
        .await?;
    let values = ContentParams::new(content);
    let id_value = id.get();
    let mut params = values.params();
    params.push(&updated_at);
    params.push(&id_value);
    client.execute(&statement, &params).await?;
    Ok(())
}

fn bind<'a>(params: &mut Vec<&'a (dyn ToSql + Sync)>, value: &'a (dyn ToSql + Sync)) -> String {
    params.push(value);
    format!("${}", params.len())
}

async fn select_incident(
    client: &impl GenericClient,
    id: IncidentId,
    visibility: Visibility,
    lock: bool,
) -> Result<Option<Incident>, StoreError> {
    let sql = format!(
        "select {INCIDENT_COLUMNS} from incident where incident_id = $1 and {}{}",
        visible(2, 3),
        if lock { " for update" } else { "" }
    );
    let statement = client.prepare_cached(&sql).await?;
    let (everything, user) = visibility_values(visibility);
    client
        .query_opt(&statement, &[&id.get(), &everything, &user])
        .await?
        .map(|row| incident_from_row(&row))
        .transpose()
}

const POSTMORTEM_COLUMNS: &str = "postmortem_id, version, status, document, created_at, updated_at";

/// A reader sees a postmortem when they see every incident it covers.
fn postmortem_visible(everything: usize, user: usize) -> String {
    format!(
        "(${everything}::boolean or not exists (select 1 from postmortem_incident pi join \
         incident on incident.incident_id = pi.incident_id where pi.postmortem_id = \
         postmortem.postmortem_id and not {}))",
        visible(everything, user)
    )
}

fn postmortem_from_row(row: &Row) -> Result<Postmortem, StoreError> {
    let id: i64 = row.try_get(0)?;
    let version: i32 = row.try_get(1)?;
    let status: String = row.try_get(2)?;
    let Json(document): Json<PostmortemDocument> = row.try_get(3)?;
    Ok(Postmortem {
        id: PostmortemId::new(id).ok_or_else(|| unexpected("postmortem_id", &id.to_string()))?,
        version: u32::try_from(version).map_err(|_| unexpected("version", &version.to_string()))?,
        status: PostmortemStatus::parse(&status).ok_or_else(|| unexpected("status", &status))?,
        document,
        created_at: row.try_get(4)?,
        updated_at: row.try_get(5)?,
    })
}

async fn select_postmortem(
    client: &impl GenericClient,
    id: PostmortemId,
    visibility: Visibility,
    lock: bool,
) -> Result<Option<Postmortem>, StoreError> {
    let sql = format!(
        "select {POSTMORTEM_COLUMNS} from postmortem where postmortem_id = $1 and {}{}",
        postmortem_visible(2, 3),
        if lock { " for update" } else { "" }
    );
    let statement = client.prepare_cached(&sql).await?;
    let (everything, user) = visibility_values(visibility);
    client
        .query_opt(&statement, &[&id.get(), &everything, &user])
        .await?
        .map(|row| postmortem_from_row(&row))
        .transpose()
}

/// An unknown incident or owner is the client's doing; so is an id that is taken.
fn reference_violation(error: tokio_postgres::Error) -> StoreError {
    use tokio_postgres::error::SqlState;
    if error.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION) {
        StoreError::Invalid(hindsight_domain::ValidationErrors::single(
            "incidents",
            "an incident or the owner does not exist",
        ))
    } else if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict("a postmortem with this id exists".into())
    } else {
        StoreError::from(error)
    }
}

async fn write_postmortem_rows(
    client: &impl GenericClient,
    postmortem: &Postmortem,
    previous: Option<&Postmortem>,
    author: &Author,
) -> Result<(), StoreError> {
    let document = &postmortem.document;
    let id = postmortem.id.get();
    let owner = document.owner.map(|owner| owner.get());
    let version = postmortem.version as i32;
    let status = postmortem.status.as_str();
    let sql = if previous.is_none() {
        "insert into postmortem (postmortem_id, title, status, template_key, owner_id, version, \
         document, created_at, updated_at) overriding system value \
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
    } else {
        "update postmortem set title = $2, status = $3, template_key = $4, owner_id = $5, \
         version = $6, document = $7, created_at = $8, updated_at = $9 where postmortem_id = $1"
    };
    let statement = client.prepare_cached(sql).await?;
    client
        .execute(
            &statement,
            &[
                &id,
                &document.title,
                &status,
                &document.template,
                &owner,
                &version,
                &Json(document),
                &postmortem.created_at,
                &postmortem.updated_at,
            ],
        )
        .await
        .map_err(reference_violation)?;
    if previous.is_none_or(|previous| previous.document.incidents != document.incidents) {
        client
            .execute(
                "delete from postmortem_incident where postmortem_id = $1",
                &[&id],
            )
            .await?;
        let incidents: Vec<i64> = document.incidents.iter().map(|id| id.get()).collect();
        client
            .execute(
                "insert into postmortem_incident (postmortem_id, incident_id) \
                 select $1, unnest($2::bigint[])",
                &[&id, &incidents],
            )
            .await
            .map_err(reference_violation)?;
    }
    let changed = changed_fields(
        previous.map(|previous| (&previous.document, previous.status)),
        (document, postmortem.status),
    );
    let author_id = author.user_id.map(|user| user.get());
    let statement = client
        .prepare_cached(
            "insert into postmortem_revision (postmortem_id, version, status, author_id, \
             author_name, changed, document, created_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .await?;
    client
        .execute(
            &statement,
            &[
                &id,
                &version,
                &status,
                &author_id,
                &author.name,
                &Json(&changed),
                &Json(document),
                &postmortem.updated_at,
            ],
        )
        .await
        .map_err(reference_violation)?;
    Ok(())
}

const USER_COLUMNS: &str = "user_account.user_id, email, display_name, role, disabled, \
     user_account.created_at as user_created_at, user_account.updated_at as user_updated_at";

fn user_from_row(row: &Row) -> Result<User, StoreError> {
    let id: i64 = row.try_get("user_id")?;
    let role: String = row.try_get("role")?;
    Ok(User {
        id: UserId::new(id).ok_or_else(|| unexpected("user_id", &id.to_string()))?,
        email: row.try_get("email")?,
        display_name: row.try_get("display_name")?,
        role: Role::parse(&role).ok_or_else(|| unexpected("role", &role))?,
        disabled: row.try_get("disabled")?,
        created_at: row.try_get("user_created_at")?,
        updated_at: row.try_get("user_updated_at")?,
    })
}

const TOKEN_COLUMNS: &str = "api_token_id, api_token.user_id, name, scope, \
     api_token.created_at as token_created_at, last_used_at, revoked_at";

fn token_from_row(row: &Row) -> Result<ApiToken, StoreError> {
    let id: i64 = row.try_get("api_token_id")?;
    let user_id: i64 = row.try_get("user_id")?;
    let scope: String = row.try_get("scope")?;
    Ok(ApiToken {
        id: ApiTokenId::new(id).ok_or_else(|| unexpected("api_token_id", &id.to_string()))?,
        user_id: UserId::new(user_id).ok_or_else(|| unexpected("user_id", &user_id.to_string()))?,
        name: row.try_get("name")?,
        scope: TokenScope::parse(&scope).ok_or_else(|| unexpected("scope", &scope))?,
        created_at: row.try_get("token_created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        revoked_at: row.try_get("revoked_at")?,
    })
}

/// Unique-constraint violations are the client's doing; they become [`StoreError::Conflict`]
/// here, where the query runs, not by matching messages later.
fn unique_violation(error: tokio_postgres::Error, message: &str) -> StoreError {
    if error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(message.to_owned())
    } else {
        StoreError::from(error)
    }
}

async fn select_user(
    client: &impl GenericClient,
    id: UserId,
    lock: bool,
) -> Result<Option<User>, StoreError> {
    let sql = format!(
        "select {USER_COLUMNS} from user_account where user_id = $1{}",
        if lock { " for update" } else { "" }
    );
    let statement = client.prepare_cached(&sql).await?;
    client
        .query_opt(&statement, &[&id.get()])
        .await?
        .map(|row| user_from_row(&row))
        .transpose()
}

/// Rewrites the rows the visibility condition reads; an unknown user or team is the client's
/// mistake, reported by field.
async fn replace_members(
    client: &impl GenericClient,
    id: IncidentId,
    members: &Members,
    now: Timestamp,
) -> Result<(), StoreError> {
    client
        .execute(
            "delete from incident_member where incident_id = $1",
            &[&id.get()],
        )
        .await?;
    let insert = client
        .prepare_cached(
            "insert into incident_member (incident_id, user_id, team_id, created_at, updated_at) \
             values ($1, $2, $3, $4, $4)",
        )
        .await?;
    let unknown = |error: tokio_postgres::Error, field: &str, what: String| {
        if error.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) {
            StoreError::Invalid(hindsight_domain::ValidationErrors::single(
                field,
                format!("there is no {what}"),
            ))
        } else {
            StoreError::from(error)
        }
    };
    for user in &members.users {
        client
            .execute(&insert, &[&id.get(), &Some(user.get()), &None::<i64>, &now])
            .await
            .map_err(|error| unknown(error, "members.users", format!("user {user}")))?;
    }
    for team in &members.teams {
        client
            .execute(&insert, &[&id.get(), &None::<i64>, &Some(team.get()), &now])
            .await
            .map_err(|error| unknown(error, "members.teams", format!("team {team}")))?;
    }
    Ok(())
}

async fn select_team(client: &impl GenericClient, team: TeamId) -> Result<Team, StoreError> {
    let row = client
        .query_opt(
            "select name, created_at, updated_at from team where team_id = $1",
            &[&team.get()],
        )
        .await?
        .ok_or(StoreError::NotFound)?;
    let members = client
        .query(
            "select user_id, is_lead from team_member where team_id = $1 order by user_id",
            &[&team.get()],
        )
        .await?
        .iter()
        .map(|member| {
            let id: i64 = member.try_get("user_id")?;
            Ok(TeamMember {
                user_id: UserId::new(id).ok_or_else(|| unexpected("user_id", &id.to_string()))?,
                is_lead: member.try_get("is_lead")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Team {
        id: team,
        name: row.try_get("name")?,
        members,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        transaction
            .execute("select pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        transaction
            .batch_execute(
                "create table if not exists schema_migration (
                     version bigint primary key,
                     name text not null,
                     created_at timestamptz not null default now(),
                     updated_at timestamptz not null default now()
                 )",
            )
            .await?;
        let current: i64 = transaction
            .query_one(
                "select coalesce(max(version), 0)::bigint from schema_migration",
                &[],
            )
            .await?
            .get(0);
        check_not_newer(MIGRATIONS, current)?;
        let mut report = MigrationReport {
            applied: Vec::new(),
            current_version: current,
        };
        for migration in MIGRATIONS
            .iter()
            .filter(|migration| migration.version > current)
        {
            transaction
                .batch_execute(migration.sql)
                .await
                .map_err(|error| {
                    StoreError::Schema(format!(
                        "migration {} ({}) failed: {}",
                        migration.version,
                        migration.name,
                        StoreError::from(error)
                    ))
                })?;
            transaction
                .execute(
                    "insert into schema_migration (version, name) values ($1, $2)",
                    &[&migration.version, &migration.name],
                )
                .await?;
            report
                .applied
                .push((migration.version, migration.name.to_owned()));
            report.current_version = migration.version;
        }
        transaction.commit().await?;
        Ok(report)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client.query_one("select 1", &[]).await?;
        Ok(())
    }

    async fn create_incident(
        &self,
        incident: ValidIncident,
        author: Option<String>,
        now: Timestamp,
    ) -> Result<Incident, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let incident = insert_incident(&transaction, incident, author, now).await?;
        transaction.commit().await?;
        Ok(incident)
    }

    async fn get_incident(
        &self,
        id: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<Incident>, StoreError> {
        let client = self.pool.get().await?;
        select_incident(&client, id, visibility, false).await
    }

    async fn update_incident(
        &self,
        id: IncidentId,
        visibility: Visibility,
        author: Option<String>,
        now: Timestamp,
        change: IncidentChange,
    ) -> Result<Incident, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let current = select_incident(&transaction, id, visibility, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        let content = change(&current)?.into_content();
        let updated_at = next_updated_at(now, current.updated_at);
        write_incident_row(&transaction, id, &content, updated_at).await?;
        if content.members != current.content.members {
            replace_members(&transaction, id, &content.members, now).await?;
        }
        let holders = timeline::select_holders(&transaction, id, None).await?;
        let write = hindsight_domain::timeline::record_incident_change(
            Some(&current),
            &content,
            &holders,
            author.as_deref(),
            now,
        );
        let incident = Incident {
            id,
            content,
            created_at: current.created_at,
            updated_at,
        };
        timeline::apply(&transaction, &incident, write, now).await?;
        transaction.commit().await?;
        Ok(incident)
    }

    async fn list_events(
        &self,
        incident: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<Vec<TimelineEvent>>, StoreError> {
        let client = self.pool.get().await?;
        if select_incident(&client, incident, visibility, false)
            .await?
            .is_none()
        {
            return Ok(None);
        }
        timeline::select_events(&client, incident).await.map(Some)
    }

    async fn change_timeline(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        target: Option<EventId>,
        now: Timestamp,
        change: TimelineChange,
    ) -> Result<TimelineOutcome, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let current = select_incident(&transaction, incident, visibility, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        let events = timeline::select_holders(&transaction, incident, target).await?;
        let write = change(&current, &events)?;
        let outcome = timeline::apply(&transaction, &current, write, now).await?;
        transaction.commit().await?;
        Ok(outcome)
    }

    async fn record_alert(
        &self,
        intake: AlertIntake,
        now: Timestamp,
    ) -> Result<IntakeOutcome, StoreError> {
        let now = to_stored_precision(now);
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let outcome = timeline::record_alert(&transaction, intake, now).await?;
        transaction.commit().await?;
        Ok(outcome)
    }

    async fn import_events(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        now: Timestamp,
        batches: tokio::sync::mpsc::Receiver<ImportBatch>,
    ) -> Result<ImportOutcome, StoreError> {
        let now = to_stored_precision(now);
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let outcome =
            timeline::import_events(&transaction, incident, visibility, now, batches).await?;
        transaction.commit().await?;
        Ok(outcome)
    }

    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        visibility: Visibility,
    ) -> Result<IncidentPage, StoreError> {
        let (everything, user) = visibility_values(visibility);
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        let severities: Vec<&str> = filter.severities.iter().map(|s| s.as_str()).collect();
        let cursor_started = filter.cursor.map(|cursor| cursor.started_at);
        let cursor_id = filter.cursor.map(|cursor| cursor.id.get());
        let limit = i64::from(filter.limit) + 1;
        let mut sql = format!(
            "select {INCIDENT_COLUMNS} from incident where {}",
            visible(1, 2)
        );
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&everything, &user];
        if !statuses.is_empty() {
            sql += &format!(
                " and status = any({}::text[])",
                bind(&mut params, &statuses)
            );
        }
        if !severities.is_empty() {
            sql += &format!(
                " and severity = any({}::text[])",
                bind(&mut params, &severities)
            );
        }
        if let Some(service) = &filter.service {
            sql += &format!(
                " and services @> array[{}::text]",
                bind(&mut params, service)
            );
        }
        if let Some(after) = &filter.started_after {
            sql += &format!(" and started_at >= {}", bind(&mut params, after));
        }
        if let Some(before) = &filter.started_before {
            sql += &format!(" and started_at < {}", bind(&mut params, before));
        }
        if let (Some(started), Some(id)) = (&cursor_started, &cursor_id) {
            let started = bind(&mut params, started);
            let id = bind(&mut params, id);
            sql += &format!(
                " and (started_at < {started} or (started_at = {started} and incident_id < {id}))"
            );
        }
        sql += &format!(
            " order by started_at desc, incident_id desc limit {}",
            bind(&mut params, &limit)
        );
        let client = self.pool.get().await?;
        let statement = client.prepare_cached(&sql).await?;
        let mut items = client
            .query(&statement, &params)
            .await?
            .iter()
            .map(incident_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = if items.len() > filter.limit as usize {
            items.truncate(filter.limit as usize);
            items.last().map(IncidentCursor::after)
        } else {
            None
        };
        Ok(IncidentPage { items, next_cursor })
    }

    async fn count_incidents(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let count: i64 = client
            .query_one("select count(*) from incident", &[])
            .await?
            .get(0);
        Ok(count as u64)
    }
    async fn count_users(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let count: i64 = client
            .query_one("select count(*) from user_account", &[])
            .await?
            .get(0);
        Ok(count as u64)
    }

    async fn create_user(&self, user: NewUser, now: Timestamp) -> Result<User, StoreError> {
        let now = to_stored_precision(now);
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "insert into user_account (email, display_name, role, password_hash, \
                 created_at, updated_at) values ($1, $2, $3, $4, $5, $5) returning user_id",
            )
            .await?;
        let id: i64 = client
            .query_one(
                &statement,
                &[
                    &user.email,
                    &user.display_name,
                    &user.role.as_str(),
                    &user.password_hash,
                    &now,
                ],
            )
            .await
            .map_err(|error| {
                unique_violation(error, &format!("a user with email {} exists", user.email))
            })?
            .get(0);
        Ok(User {
            id: UserId::new(id).ok_or_else(|| unexpected("user_id", &id.to_string()))?,
            email: user.email,
            display_name: user.display_name,
            role: user.role,
            disabled: false,
            created_at: now,
            updated_at: now,
        })
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let client = self.pool.get().await?;
        select_user(&client, id, false).await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "select {USER_COLUMNS}, password_hash from user_account where email = $1"
            ))
            .await?;
        client
            .query_opt(&statement, &[&email])
            .await?
            .map(|row| Ok((user_from_row(&row)?, row.try_get("password_hash")?)))
            .transpose()
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "select {USER_COLUMNS} from user_account order by email"
            ))
            .await?;
        client
            .query(&statement, &[])
            .await?
            .iter()
            .map(user_from_row)
            .collect()
    }

    async fn update_user(
        &self,
        id: UserId,
        change: UserChange,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let current = select_user(&transaction, id, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        let updated_at = next_updated_at(now, current.updated_at);
        let role = change.role.unwrap_or(current.role);
        let disabled = change.disabled.unwrap_or(current.disabled);
        transaction
            .execute(
                "update user_account set role = $2, disabled = $3, updated_at = $4 \
                 where user_id = $1",
                &[&id.get(), &role.as_str(), &disabled, &updated_at],
            )
            .await?;
        if disabled {
            transaction
                .execute("delete from session where user_id = $1", &[&id.get()])
                .await?;
            transaction
                .execute(
                    "update api_token set revoked_at = $2, updated_at = $2 \
                     where user_id = $1 and revoked_at is null",
                    &[&id.get(), &updated_at],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(User {
            role,
            disabled,
            updated_at,
            ..current
        })
    }

    async fn create_session(&self, session: Session) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "insert into session (session_id, user_id, last_seen_at, created_at, updated_at) \
                 values ($1, $2, $3, $4, $3)",
            )
            .await?;
        client
            .execute(
                &statement,
                &[
                    &session.id_hash,
                    &session.user_id.get(),
                    &to_stored_precision(session.last_seen_at),
                    &to_stored_precision(session.created_at),
                ],
            )
            .await?;
        Ok(())
    }

    async fn find_session(&self, id_hash: &str) -> Result<Option<(Session, User)>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "select session.created_at as session_created_at, session.last_seen_at, \
                 {USER_COLUMNS} from session join user_account using (user_id) \
                 where session_id = $1"
            ))
            .await?;
        client
            .query_opt(&statement, &[&id_hash])
            .await?
            .map(|row| {
                let user = user_from_row(&row)?;
                let session = Session {
                    id_hash: id_hash.to_owned(),
                    user_id: user.id,
                    created_at: row.try_get("session_created_at")?,
                    last_seen_at: row.try_get("last_seen_at")?,
                };
                Ok((session, user))
            })
            .transpose()
    }

    async fn touch_session(&self, id_hash: &str, now: Timestamp) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "update session set last_seen_at = $2, updated_at = $2 where session_id = $1",
                &[&id_hash, &to_stored_precision(now)],
            )
            .await?;
        Ok(())
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute("delete from session where session_id = $1", &[&id_hash])
            .await?;
        Ok(())
    }

    async fn create_api_token(
        &self,
        token: NewApiToken,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        let now = to_stored_precision(now);
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "insert into api_token (user_id, name, scope, token_hash, created_at, updated_at) \
                 values ($1, $2, $3, $4, $5, $5) returning api_token_id",
            )
            .await?;
        let id: i64 = client
            .query_one(
                &statement,
                &[
                    &token.user_id.get(),
                    &token.name,
                    &token.scope.as_str(),
                    &token.token_hash,
                    &now,
                ],
            )
            .await
            .map_err(|error| unique_violation(error, "token collision; try again"))?
            .get(0);
        Ok(ApiToken {
            id: ApiTokenId::new(id).ok_or_else(|| unexpected("api_token_id", &id.to_string()))?,
            user_id: token.user_id,
            name: token.name,
            scope: token.scope,
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        })
    }

    async fn find_api_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, User)>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "select {TOKEN_COLUMNS}, {USER_COLUMNS} from api_token \
                 join user_account using (user_id) \
                 where token_hash = $1 and revoked_at is null"
            ))
            .await?;
        client
            .query_opt(&statement, &[&token_hash])
            .await?
            .map(|row| Ok((token_from_row(&row)?, user_from_row(&row)?)))
            .transpose()
    }

    async fn touch_api_token(&self, id: ApiTokenId, now: Timestamp) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "update api_token set last_used_at = $2, updated_at = $2 where api_token_id = $1",
                &[&id.get(), &to_stored_precision(now)],
            )
            .await?;
        Ok(())
    }

    async fn list_api_tokens(&self, user_id: Option<UserId>) -> Result<Vec<ApiToken>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(&format!(
                "select {TOKEN_COLUMNS} from api_token \
                 where $1::bigint is null or user_id = $1 order by api_token_id desc"
            ))
            .await?;
        client
            .query(&statement, &[&user_id.map(UserId::get)])
            .await?
            .iter()
            .map(token_from_row)
            .collect()
    }

    async fn revoke_api_token(
        &self,
        id: ApiTokenId,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        let client = self.pool.get().await?;
        let now = to_stored_precision(now);
        client
            .execute(
                "update api_token set revoked_at = $2, updated_at = $2 \
                 where api_token_id = $1 and revoked_at is null",
                &[&id.get(), &now],
            )
            .await?;
        let statement = client
            .prepare_cached(&format!(
                "select {TOKEN_COLUMNS} from api_token where api_token_id = $1"
            ))
            .await?;
        client
            .query_opt(&statement, &[&id.get()])
            .await?
            .map(|row| token_from_row(&row))
            .transpose()?
            .ok_or(StoreError::NotFound)
    }
    async fn create_template(&self, template: Template, now: Timestamp) -> Result<(), StoreError> {
        let now = to_stored_precision(now);
        let client = self.pool.get().await?;
        client
            .execute(
                "insert into postmortem_template (template_key, name, sections, created_at, \
                 updated_at) values ($1, $2, $3, $4, $4)",
                &[
                    &template.key,
                    &template.name,
                    &Json(&template.sections),
                    &now,
                ],
            )
            .await
            .map_err(|error| unique_violation(error, "a template with this key exists"))?;
        Ok(())
    }

    async fn list_templates(&self) -> Result<Vec<Template>, StoreError> {
        let client = self.pool.get().await?;
        client
            .query(
                "select template_key, name, sections from postmortem_template \
                 order by template_key",
                &[],
            )
            .await?
            .iter()
            .map(|row| {
                let Json(sections) = row.try_get(2)?;
                Ok(Template {
                    key: row.try_get(0)?,
                    name: row.try_get(1)?,
                    sections,
                })
            })
            .collect()
    }

    async fn create_postmortem(
        &self,
        postmortem: NewPostmortem,
        author: Author,
        now: Timestamp,
    ) -> Result<Postmortem, StoreError> {
        let now = to_stored_precision(now);
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let id = match postmortem.id {
            Some(id) => id,
            None => {
                let next: i64 = transaction
                    .query_one(
                        "select nextval(pg_get_serial_sequence('postmortem', 'postmortem_id'))",
                        &[],
                    )
                    .await?
                    .get(0);
                PostmortemId::new(next)
                    .ok_or_else(|| unexpected("postmortem_id", &next.to_string()))?
            }
        };
        let stored = Postmortem {
            id,
            version: 1,
            status: postmortem.status,
            document: postmortem.document.into_inner(),
            created_at: now,
            updated_at: now,
        };
        write_postmortem_rows(&transaction, &stored, None, &author).await?;
        if postmortem.id.is_some() {
            // An imported id must not be handed out again.
            transaction
                .execute(
                    "select setval(pg_get_serial_sequence('postmortem', 'postmortem_id'), \
                     greatest((select max(postmortem_id) from postmortem), \
                     (select last_value from postmortem_postmortem_id_seq)))",
                    &[],
                )
                .await?;
        }
        transaction.commit().await?;
        Ok(stored)
    }

    async fn get_postmortem(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Option<Postmortem>, StoreError> {
        let client = self.pool.get().await?;
        select_postmortem(&client, id, visibility, false).await
    }

    async fn list_postmortems(
        &self,
        filter: &PostmortemFilter,
        visibility: Visibility,
    ) -> Result<Vec<Postmortem>, StoreError> {
        let client = self.pool.get().await?;
        let sql = format!(
            "select {POSTMORTEM_COLUMNS} from postmortem where {} \
             and ($3::text is null or status = $3) and ($4::bigint is null or postmortem_id < $4) \
             and ($5::bigint is null or exists (select 1 from postmortem_incident f \
             where f.postmortem_id = postmortem.postmortem_id and f.incident_id = $5)) \
             order by postmortem_id desc limit $6",
            postmortem_visible(1, 2)
        );
        let statement = client.prepare_cached(&sql).await?;
        let (everything, user) = visibility_values(visibility);
        let status = filter.status.map(|status| status.as_str());
        let before = filter.before.map(|id| id.get());
        let incident = filter.incident.map(|id| id.get());
        let limit = i64::from(filter.limit.clamp(1, 1000));
        client
            .query(
                &statement,
                &[&everything, &user, &status, &before, &incident, &limit],
            )
            .await?
            .iter()
            .map(postmortem_from_row)
            .collect()
    }

    async fn update_postmortem(
        &self,
        id: PostmortemId,
        visibility: Visibility,
        expected_version: Option<u32>,
        author: Author,
        now: Timestamp,
        change: PostmortemChange,
    ) -> Result<Postmortem, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let current = select_postmortem(&transaction, id, visibility, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        if expected_version.is_some_and(|expected| expected != current.version) {
            return Err(StoreError::VersionConflict(current.version));
        }
        let (status, document) = change(&current)?;
        let document = document.into_inner();
        if status == current.status && document == current.document {
            return Ok(current);
        }
        let next = Postmortem {
            id,
            version: current.version + 1,
            status,
            document,
            created_at: current.created_at,
            updated_at: next_updated_at(to_stored_precision(now), current.updated_at),
        };
        write_postmortem_rows(&transaction, &next, Some(&current), &author).await?;
        if next.status == PostmortemStatus::Published
            && current.status != PostmortemStatus::Published
        {
            let notification = jobs::publish_notification(&transaction, &next).await?;
            jobs::insert_notifications(&transaction, &[notification], next.updated_at).await?;
        }
        transaction.commit().await?;
        Ok(next)
    }

    async fn discard_postmortem(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Postmortem, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let current = select_postmortem(&transaction, id, visibility, true)
            .await?
            .ok_or(StoreError::NotFound)?;
        crate::refuse_discard(&current)?;
        transaction
            .execute(
                "delete from action_item where postmortem_id = $1",
                &[&id.get()],
            )
            .await?;
        transaction
            .execute(
                "delete from postmortem where postmortem_id = $1",
                &[&id.get()],
            )
            .await?;
        transaction.commit().await?;
        Ok(current)
    }

    async fn add_image(
        &self,
        image: crate::NewImage,
        visibility: Visibility,
        now: Timestamp,
    ) -> Result<hindsight_domain::image::ImageMeta, StoreError> {
        let client = self.pool.get().await?;
        image::add(&client, image, visibility, to_stored_precision(now)).await
    }

    async fn get_image(
        &self,
        postmortem: PostmortemId,
        id: i64,
        visibility: Visibility,
    ) -> Result<Option<crate::Image>, StoreError> {
        let client = self.pool.get().await?;
        image::get(&client, postmortem, id, visibility).await
    }

    async fn delete_image(
        &self,
        postmortem: PostmortemId,
        id: i64,
        visibility: Visibility,
    ) -> Result<hindsight_domain::image::ImageMeta, StoreError> {
        let client = self.pool.get().await?;
        image::delete(&client, postmortem, id, visibility).await
    }

    async fn list_images(
        &self,
        postmortem: PostmortemId,
        visibility: Visibility,
    ) -> Result<Vec<hindsight_domain::image::ImageMeta>, StoreError> {
        let client = self.pool.get().await?;
        image::list(&client, postmortem, visibility).await
    }

    async fn list_revisions(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Vec<Revision>, StoreError> {
        let client = self.pool.get().await?;
        if select_postmortem(&client, id, visibility, false)
            .await?
            .is_none()
        {
            return Err(StoreError::NotFound);
        }
        client
            .query(
                "select version, status, author_id, author_name, changed, document, created_at \
                 from postmortem_revision where postmortem_id = $1 order by version",
                &[&id.get()],
            )
            .await?
            .iter()
            .map(|row| {
                let version: i32 = row.try_get(0)?;
                let status: String = row.try_get(1)?;
                let author_id: Option<i64> = row.try_get(2)?;
                let Json(changed) = row.try_get(4)?;
                let Json(document): Json<serde_json::Value> = row.try_get(5)?;
                let document = crate::revision_document(document)
                    .map_err(|error| unexpected("document", &error.to_string()))?;
                Ok(Revision {
                    version: u32::try_from(version)
                        .map_err(|_| unexpected("version", &version.to_string()))?,
                    status: PostmortemStatus::parse(&status)
                        .ok_or_else(|| unexpected("status", &status))?,
                    author: Author {
                        user_id: author_id.and_then(UserId::new),
                        name: row.try_get(3)?,
                    },
                    changed,
                    document,
                    at: row.try_get(6)?,
                })
            })
            .collect()
    }

    async fn judge_incident(
        &self,
        incident: IncidentId,
        now: Timestamp,
        judgement: PolicyJudgement,
    ) -> Result<PolicyState, StoreError> {
        let now = to_stored_precision(now);
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let state = follow_through::judge_incident(&transaction, incident, now, judgement).await?;
        transaction.commit().await?;
        Ok(state)
    }

    async fn get_policy(
        &self,
        incident: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<PolicyState>, StoreError> {
        let client = self.pool.get().await?;
        follow_through::policy_state(&client, incident, visibility).await
    }

    async fn request_postmortem(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        request: PostmortemRequest,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        follow_through::request_postmortem(&client, incident, visibility, request).await
    }

    async fn override_policy(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        override_: PolicyOverride,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        follow_through::override_policy(&client, incident, visibility, override_).await
    }

    async fn list_postmortem_debt(
        &self,
        visibility: Visibility,
    ) -> Result<Vec<PendingPostmortem>, StoreError> {
        let client = self.pool.get().await?;
        follow_through::list_debt(&client, visibility).await
    }

    async fn create_action_item(
        &self,
        postmortem: PostmortemId,
        visibility: Visibility,
        content: ActionItemContent,
        author: Author,
        now: Timestamp,
    ) -> Result<ActionItem, StoreError> {
        let now = to_stored_precision(now);
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let item =
            follow_through::create_item(&transaction, postmortem, visibility, content, author, now)
                .await?;
        transaction.commit().await?;
        Ok(item)
    }

    async fn get_action_item(
        &self,
        id: ActionItemId,
        visibility: Visibility,
    ) -> Result<Option<ActionItem>, StoreError> {
        let client = self.pool.get().await?;
        follow_through::get_item(&client, id, visibility).await
    }

    async fn update_action_item(
        &self,
        id: ActionItemId,
        visibility: Visibility,
        now: Timestamp,
        change: ActionItemChange,
    ) -> Result<ActionItem, StoreError> {
        let now = to_stored_precision(now);
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let item = follow_through::update_item(&transaction, id, visibility, now, change).await?;
        transaction.commit().await?;
        Ok(item)
    }

    async fn list_action_items(
        &self,
        filter: &ActionItemFilter,
        visibility: Visibility,
    ) -> Result<Vec<ActionItem>, StoreError> {
        let client = self.pool.get().await?;
        follow_through::list_items(&client, filter, visibility).await
    }

    async fn schedule_job(&self, job: NewJob, now: Timestamp) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        jobs::schedule_job(&client, &job, to_stored_precision(now)).await
    }

    async fn claim_job(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        let client = self.pool.get().await?;
        jobs::claim_job(&client, worker, to_stored_precision(now), lease).await
    }

    async fn complete_job(
        &self,
        job: i64,
        now: Timestamp,
        notifications: Vec<NewNotification>,
    ) -> Result<usize, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let added =
            jobs::complete_job(&transaction, job, to_stored_precision(now), &notifications).await?;
        transaction.commit().await?;
        Ok(added)
    }

    async fn fail_job(
        &self,
        job: i64,
        error: String,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        jobs::fail_job(&client, job, &error, retry_at).await
    }

    async fn route_notifications(
        &self,
        now: Timestamp,
        limit: u32,
        route: RouteFn,
    ) -> Result<usize, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let routed =
            jobs::route_notifications(&transaction, to_stored_precision(now), limit, route).await?;
        transaction.commit().await?;
        Ok(routed)
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<DeliveryTask>, StoreError> {
        let client = self.pool.get().await?;
        jobs::claim_deliveries(&client, worker, to_stored_precision(now), lease, limit).await
    }

    async fn record_attempt(&self, delivery: i64, attempt: Attempt) -> Result<(), StoreError> {
        let attempt = Attempt {
            at: to_stored_precision(attempt.at),
            ..attempt
        };
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        jobs::record_attempt(&transaction, delivery, &attempt).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        let client = self.pool.get().await?;
        jobs::list_deliveries(&client, filter, None).await
    }

    async fn replay_delivery(&self, id: i64, now: Timestamp) -> Result<Delivery, StoreError> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let delivery = jobs::replay_delivery(&transaction, id, to_stored_precision(now)).await?;
        transaction.commit().await?;
        Ok(delivery)
    }

    async fn disabled_channels(&self) -> Result<Vec<String>, StoreError> {
        let client = self.pool.get().await?;
        jobs::disabled_channels(&client).await
    }

    async fn get_meeting(
        &self,
        postmortem: PostmortemId,
    ) -> Result<Option<ReviewMeeting>, StoreError> {
        let client = self.pool.get().await?;
        meeting::get(&client, postmortem).await
    }

    async fn save_meeting(
        &self,
        review: ReviewMeeting,
        previous: Option<Timestamp>,
        notifications: Vec<NewNotification>,
        now: Timestamp,
    ) -> Result<ReviewMeeting, StoreError> {
        let now = to_stored_precision(now);
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let saved = meeting::save(&transaction, review, previous, &notifications, now).await?;
        transaction.commit().await?;
        Ok(saved)
    }

    async fn save_meeting_notes(
        &self,
        postmortem: PostmortemId,
        notes: String,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        meeting::save_notes(&client, postmortem, &notes, to_stored_precision(now)).await
    }

    async fn moderator_history(&self) -> Result<BTreeMap<UserId, Timestamp>, StoreError> {
        let client = self.pool.get().await?;
        meeting::moderated(&client).await
    }

    async fn create_team(&self, name: String, now: Timestamp) -> Result<Team, StoreError> {
        let now = to_stored_precision(now);
        let client = self.pool.get().await?;
        let id: i64 = client
            .query_one(
                "insert into team (name, created_at, updated_at) values ($1, $2, $2) \
                 returning team_id",
                &[&name, &now],
            )
            .await
            .map_err(|error| unique_violation(error, &format!("a team named {name} exists")))?
            .get(0);
        Ok(Team {
            id: TeamId::new(id).ok_or_else(|| unexpected("team_id", &id.to_string()))?,
            name,
            members: Vec::new(),
            created_at: now,
            updated_at: now,
        })
    }

    async fn list_teams(&self) -> Result<Vec<Team>, StoreError> {
        let client = self.pool.get().await?;
        let ids: Vec<i64> = client
            .query("select team_id from team order by name", &[])
            .await?
            .iter()
            .map(|row| row.get(0))
            .collect();
        let mut teams = Vec::with_capacity(ids.len());
        for id in ids {
            let id = TeamId::new(id).ok_or_else(|| unexpected("team_id", &id.to_string()))?;
            teams.push(select_team(&client, id).await?);
        }
        Ok(teams)
    }

    async fn set_team_member(
        &self,
        team: TeamId,
        user: UserId,
        is_lead: bool,
        now: Timestamp,
    ) -> Result<Team, StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "insert into team_member (team_id, user_id, is_lead, created_at, updated_at) \
                 values ($1, $2, $3, $4, $4) on conflict (team_id, user_id) \
                 do update set is_lead = excluded.is_lead, updated_at = excluded.updated_at",
                &[
                    &team.get(),
                    &user.get(),
                    &is_lead,
                    &to_stored_precision(now),
                ],
            )
            .await
            .map_err(|error| {
                if error.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) {
                    StoreError::NotFound
                } else {
                    StoreError::from(error)
                }
            })?;
        select_team(&client, team).await
    }

    async fn remove_team_member(
        &self,
        team: TeamId,
        user: UserId,
        _now: Timestamp,
    ) -> Result<Team, StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "delete from team_member where team_id = $1 and user_id = $2",
                &[&team.get(), &user.get()],
            )
            .await?;
        select_team(&client, team).await
    }
    async fn append_audit(&self, event: NewAuditEvent) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        let at = to_stored_precision(event.occurred_at);
        let statement = client
            .prepare_cached(
                "insert into audit_event (occurred_at, user_id, actor, action, target, detail, \
                 address, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $1, $1)",
            )
            .await?;
        client
            .execute(
                &statement,
                &[
                    &at,
                    &event.user_id.map(UserId::get),
                    &event.actor,
                    &event.action,
                    &event.target,
                    &event.detail,
                    &event.address,
                ],
            )
            .await?;
        Ok(())
    }

    async fn list_audit(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "select audit_event_id, occurred_at, user_id, actor, action, target, detail, \
                 address from audit_event where $1::bigint is null or audit_event_id < $1 \
                 order by audit_event_id desc limit $2",
            )
            .await?;
        client
            .query(&statement, &[&before, &i64::from(limit)])
            .await?
            .iter()
            .map(|row| {
                Ok(AuditEvent {
                    id: row.try_get("audit_event_id")?,
                    occurred_at: row.try_get("occurred_at")?,
                    user_id: row
                        .try_get::<_, Option<i64>>("user_id")?
                        .and_then(UserId::new),
                    actor: row.try_get("actor")?,
                    action: row.try_get("action")?,
                    target: row.try_get("target")?,
                    detail: row.try_get("detail")?,
                    address: row.try_get("address")?,
                })
            })
            .collect()
    }
}
