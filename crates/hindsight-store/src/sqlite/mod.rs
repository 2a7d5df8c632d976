//! The SQLite backend: one file, write-ahead log, `synchronous=FULL`.
//!
//! Writes go through one writer thread that owns the only writing connection. It commits in
//! groups: whatever writes are waiting when it starts a transaction go into that transaction,
//! each inside its own savepoint, so one failing write is rolled back alone while the others
//! share a single fsync. Callers hear back only after the commit is durable.
//! Reads run inline on the calling thread, each thread on a query-only connection of its own:
//! the reads Hindsight makes (a row by key, a bounded page of rows) take microseconds, less than
//! handing them to another thread would cost, threads never wait for each other's connection,
//! and WAL lets reads proceed while the writer writes.

use std::any::Any;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use async_trait::async_trait;
use hindsight_domain::incident::{IncidentContent, next_updated_at};
use hindsight_domain::to_stored_precision;
use hindsight_domain::{
    CauseOrigin, Detection, Impact, Incident, IncidentCursor, IncidentFilter, IncidentId,
    IncidentPage, IncidentStatus, Severity, ValidIncident,
};
use jiff::Timestamp;
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params, params_from_iter};
use tokio::sync::oneshot;

use crate::migration::{Migration, MigrationReport, check_not_newer};
pub mod backup;
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
use hindsight_domain::access::{
    ApiToken, ApiTokenId, AuditEvent, NewAuditEvent, Role, Session, Team, TeamId, TeamMember,
    TokenScope, User, UserId, Visibility,
};
use hindsight_domain::action_item::{
    ActionItem, ActionItemContent, ActionItemFilter, ActionItemId,
};
use hindsight_domain::document::{Author, Postmortem, PostmortemId, Revision, changed_fields};
use hindsight_domain::meeting::ReviewMeeting;
use hindsight_domain::notify::NewNotification;
use hindsight_domain::policy::{PolicyOverride, PostmortemRequest};
use hindsight_domain::postmortem::{PostmortemStatus, Template};
use hindsight_domain::{Members, ValidationErrors};

const MIGRATIONS: &[Migration] = crate::migration::migrations!("sqlite");

/// Writes committed together at most; bounds the latency a batch adds to its last member.
const MAX_BATCH: usize = 256;
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

type WriteResult = Result<Box<dyn Any + Send>, StoreError>;

struct WriteJob {
    work: Box<dyn FnOnce(&Connection) -> WriteResult + Send>,
    reply: oneshot::Sender<WriteResult>,
}

pub struct SqliteStore {
    /// Tells this store's read connections apart from another's on the same thread.
    id: u64,
    path: PathBuf,
    writer: Mutex<Option<mpsc::Sender<WriteJob>>>,
}

thread_local! {
    /// This thread's read connections, one per open store, closed when the store closes.
    static READERS: RefCell<Vec<(u64, Rc<Connection>)>> = const { RefCell::new(Vec::new()) };
}

/// Stores closed since a thread last read; their connections are dropped on its next read.
static CLOSED_STORES: Mutex<Vec<u64>> = Mutex::new(Vec::new());

fn configure(connection: &Connection) -> rusqlite::Result<()> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.execute_batch(
        "pragma journal_mode = wal;
         pragma synchronous = full;
         pragma foreign_keys = on;",
    )
}

impl SqliteStore {
    /// Opens (creating when missing) the database file at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&path))
            .await
            .map_err(StoreError::backend)?
    }

    fn open_blocking(path: &Path) -> Result<Self, StoreError> {
        let writer_connection = Connection::open(path).map_err(|error| {
            StoreError::backend_message(format!(
                "cannot open SQLite database {}: {error}",
                path.display()
            ))
        })?;
        configure(&writer_connection)?;
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        let (sender, receiver) = mpsc::channel::<WriteJob>();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run_writer(writer_connection, receiver))
            .map_err(StoreError::backend)?;
        Ok(Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            path: path.to_owned(),
            writer: Mutex::new(Some(sender)),
        })
    }

    /// Runs `work` in the writer's transaction; answers after the commit.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = WriteJob {
            work: Box::new(move |connection| {
                work(connection).map(|value| Box::new(value) as Box<dyn Any + Send>)
            }),
            reply,
        };
        self.writer
            .lock()
            .expect("writer lock")
            .as_ref()
            .ok_or_else(|| StoreError::backend_message("the SQLite store is closed"))?
            .send(job)
            .map_err(|_| StoreError::backend_message("the SQLite writer has stopped"))?;
        let value = answer
            .await
            .map_err(|_| StoreError::backend_message("the SQLite writer has stopped"))??;
        Ok(*value
            .downcast::<T>()
            .expect("a write answers with the type its work returned"))
    }

    /// Runs `work` on this thread's query-only connection (see the module's comment).
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let connection = READERS.with(|readers| {
            let mut readers = readers.borrow_mut();
            if let Some((_, connection)) = readers.iter().find(|(id, _)| *id == self.id) {
                return Ok(Rc::clone(connection));
            }
            let closed = CLOSED_STORES.lock().expect("closed stores lock");
            readers.retain(|(id, _)| !closed.contains(id));
            drop(closed);
            let connection = Rc::new(open_reader(&self.path)?);
            readers.push((self.id, Rc::clone(&connection)));
            Ok::<_, StoreError>(connection)
        })?;
        work(&connection)
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let reader = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    configure(&reader)?;
    reader.execute_batch("pragma query_only = on")?;
    Ok(reader)
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        if let Ok(mut closed) = CLOSED_STORES.lock() {
            closed.push(self.id);
        }
        READERS.with(|readers| readers.borrow_mut().retain(|(id, _)| *id != self.id));
        // Closing the channel lets the writer finish what it holds and stop.
        self.writer.lock().map(|mut writer| writer.take()).ok();
    }
}

fn run_writer(connection: Connection, receiver: mpsc::Receiver<WriteJob>) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&connection, batch);
    }
}

fn commit_batch(connection: &Connection, batch: Vec<WriteJob>) {
    if let Err(error) = connection.execute_batch("begin immediate") {
        let error = StoreError::from(error);
        for job in batch {
            let _ = job.reply.send(Err(error.clone()));
        }
        return;
    }
    let mut done = Vec::with_capacity(batch.len());
    for job in batch {
        let result = connection
            .execute_batch("savepoint write")
            .map_err(StoreError::from)
            .and_then(|()| {
                catch_unwind(AssertUnwindSafe(|| (job.work)(connection))).unwrap_or_else(|_| {
                    Err(StoreError::backend_message("a database write panicked"))
                })
            });
        let closed = if result.is_ok() {
            connection.execute_batch("release write")
        } else {
            connection.execute_batch("rollback to write; release write")
        };
        let result = match closed {
            Ok(()) => result,
            Err(error) => Err(StoreError::from(error)),
        };
        done.push((job.reply, result));
    }
    match connection.execute_batch("commit") {
        Ok(()) => {
            for (reply, result) in done {
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            let error = StoreError::from(error);
            // An outage is reported, once in a while, where requests meet it.
            if !matches!(error, StoreError::Unavailable(..)) {
                tracing::error!(error = %error, "SQLite commit failed; the batch is rolled back");
            }
            let _ = connection.execute_batch("rollback");
            for (reply, _) in done {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

fn to_micros(time: Timestamp) -> i64 {
    time.as_microsecond()
}

fn from_micros(micros: i64) -> rusqlite::Result<Timestamp> {
    Timestamp::from_microsecond(micros)
        .map_err(|error| rusqlite::Error::ToSqlConversionFailure(Box::new(error)))
}

fn optional_micros(micros: Option<i64>) -> rusqlite::Result<Option<Timestamp>> {
    micros.map(from_micros).transpose()
}

fn conversion(
    index: usize,
    error: impl std::error::Error + Send + Sync + 'static,
) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, Box::new(error))
}

fn parsed<T>(index: usize, text: &str, parse: fn(&str) -> Option<T>) -> rusqlite::Result<T> {
    parse(text).ok_or_else(|| {
        conversion(
            index,
            StoreError::backend_message(format!("unexpected value `{text}` in column {index}")),
        )
    })
}

fn json<T: serde::de::DeserializeOwned>(index: usize, text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text).map_err(|error| conversion(index, error))
}

const INCIDENT_COLUMNS: &str = "incident_id, title, summary, severity, status, services, \
     started_at, detected_at, acknowledged_at, mitigated_at, resolved_at, detection, \
     cause_origin, user_visible_minutes, users_affected, requests_failed, data_loss, \
     security_breach, business, owner, tags, created_at, updated_at, private, members";

/// The condition that a reader may see an incident, with `?{everything}` true for admins and
/// `?{user}` the reader's user id.
fn visible(everything: usize, user: usize) -> String {
    format!(
        "(?{everything} or not private or exists (select 1 from incident_member m \
         where m.incident_id = incident.incident_id and (m.user_id = ?{user} or m.team_id in \
         (select team_id from team_member t where t.user_id = ?{user}))))"
    )
}

fn visibility_values(visibility: Visibility) -> [Value; 2] {
    match visibility {
        Visibility::Everything => [true.into(), 0i64.into()],
        Visibility::MemberOf(user) => [false.into(), user.get().into()],
        Visibility::PublicOnly => [false.into(), 0i64.into()],
    }
}

fn incident_from_row(row: &Row<'_>) -> rusqlite::Result<Incident> {
    let id: i64 = row.get(0)?;
    let count = |index: usize| -> rusqlite::Result<Option<u64>> {
        Ok(row.get::<_, Option<i64>>(index)?.map(|count| count as u64))
    };
    Ok(Incident {
        id: IncidentId::new(id)
            .ok_or_else(|| conversion(0, StoreError::backend_message("non-positive id")))?,
        content: IncidentContent {
            title: row.get(1)?,
            summary: row.get(2)?,
            severity: parsed(3, row.get_ref(3)?.as_str()?, Severity::parse)?,
            status: parsed(4, row.get_ref(4)?.as_str()?, IncidentStatus::parse)?,
            services: json(5, row.get_ref(5)?.as_str()?)?,
            started_at: from_micros(row.get(6)?)?,
            detected_at: optional_micros(row.get(7)?)?,
            acknowledged_at: optional_micros(row.get(8)?)?,
            mitigated_at: optional_micros(row.get(9)?)?,
            resolved_at: optional_micros(row.get(10)?)?,
            detection: row
                .get_ref(11)?
                .as_str_or_null()?
                .map(|text| parsed(11, text, Detection::parse))
                .transpose()?,
            cause_origin: row
                .get_ref(12)?
                .as_str_or_null()?
                .map(|text| parsed(12, text, CauseOrigin::parse))
                .transpose()?,
            impact: Impact {
                user_visible_minutes: count(13)?,
                users_affected: count(14)?,
                requests_failed: count(15)?,
                data_loss: row.get(16)?,
                security_breach: row.get(17)?,
                business: json(18, row.get_ref(18)?.as_str()?)?,
            },
            owner: row.get(19)?,
            tags: json(20, row.get_ref(20)?.as_str()?)?,
            private: row.get(23)?,
            members: json(24, row.get_ref(24)?.as_str()?)?,
        },
        created_at: from_micros(row.get(21)?)?,
        updated_at: from_micros(row.get(22)?)?,
    })
}

fn select_incident(
    connection: &Connection,
    id: IncidentId,
    visibility: Visibility,
) -> Result<Option<Incident>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "select {INCIDENT_COLUMNS} from incident where incident_id = ?1 and {}",
        visible(2, 3)
    ))?;
    let [everything, user] = visibility_values(visibility);
    Ok(statement
        .query_row(params![id.get(), everything, user], incident_from_row)
        .optional()?)
}

/// Rewrites the rows the visibility condition reads; an unknown user or team is the client's
/// mistake, reported by field.
fn replace_members(
    connection: &Connection,
    id: IncidentId,
    members: &Members,
    now: Timestamp,
) -> Result<(), StoreError> {
    connection
        .prepare_cached("delete from incident_member where incident_id = ?1")?
        .execute([id.get()])?;
    let mut insert = connection.prepare_cached(
        "insert into incident_member (incident_id, user_id, team_id, created_at, updated_at) \
         values (?1, ?2, ?3, ?4, ?4)",
    )?;
    let unknown = |error: rusqlite::Error, field: &str, what: String| match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            StoreError::Invalid(ValidationErrors::single(
                field,
                format!("there is no {what}"),
            ))
        }
        _ => StoreError::from(error),
    };
    for user in &members.users {
        insert
            .execute(params![id.get(), user.get(), None::<i64>, to_micros(now)])
            .map_err(|error| unknown(error, "members.users", format!("user {user}")))?;
    }
    for team in &members.teams {
        insert
            .execute(params![id.get(), None::<i64>, team.get(), to_micros(now)])
            .map_err(|error| unknown(error, "members.teams", format!("team {team}")))?;
    }
    Ok(())
}

/// Inserts an incident, with the events that show its key times.
fn insert_incident(
    connection: &Connection,
    incident: ValidIncident,
    author: Option<String>,
    now: Timestamp,
) -> Result<Incident, StoreError> {
    let now = to_stored_precision(now);
    let content = incident.into_content();
    let mut values = content_values(&content);
    values.push(to_micros(now).into());
    let id: i64 = connection
        .prepare_cached(
            "insert into incident (title, summary, severity, status, services, \
             started_at, detected_at, acknowledged_at, mitigated_at, resolved_at, \
             detection, cause_origin, user_visible_minutes, users_affected, \
             requests_failed, data_loss, security_breach, business, owner, tags, \
             private, members, created_at, updated_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, \
             ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?23) returning incident_id",
        )?
        .query_row(params_from_iter(values), |row| row.get(0))?;
    let id = IncidentId::new(id).expect("sqlite row ids are positive");
    insert_services(connection, id, &content.services, now)?;
    replace_members(connection, id, &content.members, now)?;
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
    timeline::apply(connection, &incident, write, now)?;
    Ok(incident)
}

/// Overwrites an incident's content columns.
fn write_incident_row(
    connection: &Connection,
    id: IncidentId,
    content: &IncidentContent,
    updated_at: Timestamp,
) -> Result<(), StoreError> {
    let mut values = vec![Value::from(id.get())];
    values.extend(content_values(content));
    values.push(to_micros(updated_at).into());
    connection
        .prepare_cached(
            "update incident set title = ?2, summary = ?3, severity = ?4, status = ?5, \
             services = ?6, started_at = ?7, detected_at = ?8, acknowledged_at = ?9, \
             mitigated_at = ?10, resolved_at = ?11, detection = ?12, cause_origin = ?13, \
             user_visible_minutes = ?14, users_affected = ?15, requests_failed = ?16, \
             data_loss = ?17, security_breach = ?18, business = ?19, owner = ?20, \
             tags = ?21, private = ?22, members = ?23, updated_at = ?24 \
             where incident_id = ?1",
        )?
        .execute(params_from_iter(values))?;
    Ok(())
}

fn to_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("lists and maps of strings and numbers serialize")
}

/// The values bound for `?2` to `?21` of an insert or update, in column order.
fn content_values(content: &IncidentContent) -> Vec<Value> {
    let micros = |time: Option<Timestamp>| time.map(to_micros);
    let count = |count: Option<u64>| count.map(|count| count as i64);
    vec![
        content.title.clone().into(),
        content.summary.clone().into(),
        content.severity.as_str().to_owned().into(),
        content.status.as_str().to_owned().into(),
        to_json(&content.services).into(),
        to_micros(content.started_at).into(),
        micros(content.detected_at).into(),
        micros(content.acknowledged_at).into(),
        micros(content.mitigated_at).into(),
        micros(content.resolved_at).into(),
        content
            .detection
            .map(|value| value.as_str().to_owned())
            .into(),
        content
            .cause_origin
            .map(|value| value.as_str().to_owned())
            .into(),
        count(content.impact.user_visible_minutes).into(),
        count(content.impact.users_affected).into(),
        count(content.impact.requests_failed).into(),
        content.impact.data_loss.into(),
        content.impact.security_breach.into(),
        to_json(&content.impact.business).into(),
        content.owner.clone().into(),
        to_json(&content.tags).into(),
        content.private.into(),
        to_json(&content.members).into(),
    ]
}

fn delete_services(connection: &Connection, id: IncidentId) -> Result<(), StoreError> {
    connection
        .prepare_cached("delete from incident_service where incident_id = ?1")?
        .execute([id.get()])?;
    Ok(())
}

fn insert_services(
    connection: &Connection,
    id: IncidentId,
    services: &[String],
    now: Timestamp,
) -> Result<(), StoreError> {
    let mut insert = connection.prepare_cached(
        "insert into incident_service (incident_id, service, created_at, updated_at) \
         values (?1, ?2, ?3, ?3)",
    )?;
    for service in services {
        insert.execute(params![id.get(), service, to_micros(now)])?;
    }
    Ok(())
}

const USER_COLUMNS: &str = "user_account.user_id, email, display_name, role, disabled, user_account.created_at, \
     user_account.updated_at";

/// A user from the first seven columns of `row`, starting at `at`.
const POSTMORTEM_COLUMNS: &str = "postmortem_id, version, status, document, created_at, updated_at";

/// A reader sees a postmortem when they see every incident it covers.
fn postmortem_visible(everything: usize, user: usize) -> String {
    format!(
        "(?{everything} or not exists (select 1 from postmortem_incident pi join incident \
         on incident.incident_id = pi.incident_id where pi.postmortem_id = \
         postmortem.postmortem_id and not {}))",
        visible(everything, user)
    )
}

fn postmortem_from_row(row: &Row<'_>) -> rusqlite::Result<Postmortem> {
    let id: i64 = row.get(0)?;
    let version: i64 = row.get(1)?;
    let status: String = row.get(2)?;
    let document: String = row.get(3)?;
    Ok(Postmortem {
        id: PostmortemId::new(id)
            .ok_or_else(|| conversion(0, StoreError::backend_message("non-positive id")))?,
        version: u32::try_from(version).map_err(|error| conversion(1, error))?,
        status: parsed(2, &status, PostmortemStatus::parse)?,
        document: json(3, &document)?,
        created_at: from_micros(row.get(4)?)?,
        updated_at: from_micros(row.get(5)?)?,
    })
}

fn select_postmortem(
    connection: &Connection,
    id: PostmortemId,
    visibility: Visibility,
) -> Result<Option<Postmortem>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "select {POSTMORTEM_COLUMNS} from postmortem where postmortem_id = ?1 and {}",
        postmortem_visible(2, 3)
    ))?;
    let [everything, user] = visibility_values(visibility);
    Ok(statement
        .query_row(params![id.get(), everything, user], postmortem_from_row)
        .optional()?)
}

/// An unknown incident or owner is the client's doing.
fn reference_violation(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            StoreError::Invalid(ValidationErrors::single(
                "incidents",
                "an incident or the owner does not exist",
            ))
        }
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
        {
            StoreError::Conflict("a postmortem with this id exists".into())
        }
        _ => StoreError::from(error),
    }
}

fn write_postmortem_rows(
    connection: &Connection,
    postmortem: &Postmortem,
    previous: Option<&Postmortem>,
    author: &Author,
) -> Result<(), StoreError> {
    let document = &postmortem.document;
    let id = postmortem.id.get();
    let values = params![
        id,
        document.title,
        postmortem.status.as_str(),
        document.template,
        document.owner.map(|owner| owner.get()),
        postmortem.version,
        to_json(document),
        to_micros(postmortem.created_at),
        to_micros(postmortem.updated_at),
    ];
    if previous.is_none() {
        connection
            .prepare_cached(
                "insert into postmortem (postmortem_id, title, status, template_key, owner_id, \
                 version, document, created_at, updated_at) \
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?
            .execute(values)
            .map_err(reference_violation)?;
    } else {
        connection
            .prepare_cached(
                "update postmortem set title = ?2, status = ?3, template_key = ?4, \
                 owner_id = ?5, version = ?6, document = ?7, created_at = ?8, updated_at = ?9 \
                 where postmortem_id = ?1",
            )?
            .execute(values)
            .map_err(reference_violation)?;
    }
    let incidents_changed =
        previous.is_none_or(|previous| previous.document.incidents != document.incidents);
    if incidents_changed {
        connection
            .prepare_cached("delete from postmortem_incident where postmortem_id = ?1")?
            .execute([id])?;
        let mut insert = connection.prepare_cached(
            "insert into postmortem_incident (postmortem_id, incident_id) values (?1, ?2)",
        )?;
        for incident in &document.incidents {
            insert
                .execute([id, incident.get()])
                .map_err(reference_violation)?;
        }
    }
    let changed = changed_fields(
        previous.map(|previous| (&previous.document, previous.status)),
        (document, postmortem.status),
    );
    connection
        .prepare_cached(
            "insert into postmortem_revision (postmortem_id, version, status, author_id, \
             author_name, changed, document, created_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            id,
            postmortem.version,
            postmortem.status.as_str(),
            author.user_id.map(|user| user.get()),
            author.name,
            to_json(&changed),
            to_json(document),
            to_micros(postmortem.updated_at),
        ])
        .map_err(reference_violation)?;
    Ok(())
}

fn revision_from_row(row: &Row<'_>) -> rusqlite::Result<Revision> {
    let version: i64 = row.get(0)?;
    let status: String = row.get(1)?;
    let author_id: Option<i64> = row.get(2)?;
    let changed: String = row.get(4)?;
    let document: String = row.get(5)?;
    Ok(Revision {
        version: u32::try_from(version).map_err(|error| conversion(0, error))?,
        status: parsed(1, &status, PostmortemStatus::parse)?,
        author: Author {
            user_id: author_id.and_then(UserId::new),
            name: row.get(3)?,
        },
        changed: json(4, &changed)?,
        document: crate::revision_document(json(5, &document)?)
            .map_err(|error| conversion(5, error))?,
        at: from_micros(row.get(6)?)?,
    })
}

fn user_from_row(row: &Row<'_>, at: usize) -> rusqlite::Result<User> {
    Ok(User {
        id: UserId::new(row.get(at)?)
            .ok_or_else(|| conversion(at, StoreError::backend_message("non-positive id")))?,
        email: row.get(at + 1)?,
        display_name: row.get(at + 2)?,
        role: parsed(at + 3, row.get_ref(at + 3)?.as_str()?, Role::parse)?,
        disabled: row.get(at + 4)?,
        created_at: from_micros(row.get(at + 5)?)?,
        updated_at: from_micros(row.get(at + 6)?)?,
    })
}

const TOKEN_COLUMNS: &str = "api_token_id, api_token.user_id, name, scope, \
     api_token.created_at, last_used_at, revoked_at";

fn token_from_row(row: &Row<'_>) -> rusqlite::Result<ApiToken> {
    Ok(ApiToken {
        id: ApiTokenId::new(row.get(0)?)
            .ok_or_else(|| conversion(0, StoreError::backend_message("non-positive id")))?,
        user_id: UserId::new(row.get(1)?)
            .ok_or_else(|| conversion(1, StoreError::backend_message("non-positive id")))?,
        name: row.get(2)?,
        scope: parsed(3, row.get_ref(3)?.as_str()?, TokenScope::parse)?,
        created_at: from_micros(row.get(4)?)?,
        last_used_at: optional_micros(row.get(5)?)?,
        revoked_at: optional_micros(row.get(6)?)?,
    })
}

fn select_user(connection: &Connection, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "select {USER_COLUMNS} from user_account where user_id = ?1"
        ))?
        .query_row([id.get()], |row| user_from_row(row, 0))
        .optional()?)
}

fn select_token(connection: &Connection, id: ApiTokenId) -> Result<Option<ApiToken>, StoreError> {
    Ok(connection
        .prepare_cached(&format!(
            "select {TOKEN_COLUMNS} from api_token where api_token_id = ?1"
        ))?
        .query_row([id.get()], token_from_row)
        .optional()?)
}

/// Unique-constraint violations are the client's doing; they become [`StoreError::Conflict`]
/// here, where the query runs, not by matching messages later.
fn unique_violation(error: rusqlite::Error, message: &str) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
        {
            StoreError::Conflict(message.to_owned())
        }
        _ => StoreError::from(error),
    }
}

fn team_members(connection: &Connection, team: TeamId) -> Result<Vec<TeamMember>, StoreError> {
    let members = connection
        .prepare_cached(
            "select user_id, is_lead from team_member where team_id = ?1 order by user_id",
        )?
        .query_map([team.get()], |row| {
            Ok(TeamMember {
                user_id: UserId::new(row.get(0)?).expect("sqlite row ids are positive"),
                is_lead: row.get(1)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(members)
}

fn select_team(connection: &Connection, team: TeamId) -> Result<Team, StoreError> {
    let mut found = connection
        .prepare_cached("select name, created_at, updated_at from team where team_id = ?1")?
        .query_row([team.get()], |row| {
            Ok(Team {
                id: team,
                name: row.get(0)?,
                members: Vec::new(),
                created_at: from_micros(row.get(1)?)?,
                updated_at: from_micros(row.get(2)?)?,
            })
        })
        .optional()?
        .ok_or(StoreError::NotFound)?;
    found.members = team_members(connection, team)?;
    Ok(found)
}

fn apply_migrations(connection: &Connection) -> Result<MigrationReport, StoreError> {
    connection.execute_batch(
        "create table if not exists schema_migration (
             version integer primary key,
             name text not null,
             created_at integer not null,
             updated_at integer not null
         ) strict",
    )?;
    let current: i64 = connection.query_row(
        "select coalesce(max(version), 0) from schema_migration",
        [],
        |row| row.get(0),
    )?;
    check_not_newer(MIGRATIONS, current)?;
    let mut report = MigrationReport {
        applied: Vec::new(),
        current_version: current,
    };
    for migration in MIGRATIONS
        .iter()
        .filter(|migration| migration.version > current)
    {
        let now = to_micros(Timestamp::now());
        connection.execute_batch(migration.sql).map_err(|error| {
            StoreError::Schema(format!(
                "migration {} ({}) failed: {error}",
                migration.version, migration.name
            ))
        })?;
        connection.execute(
            "insert into schema_migration (version, name, created_at, updated_at) \
             values (?1, ?2, ?3, ?3)",
            params![migration.version, migration.name, now],
        )?;
        report
            .applied
            .push((migration.version, migration.name.to_owned()));
        report.current_version = migration.version;
    }
    Ok(report)
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn free_bytes(&self) -> Option<u64> {
        crate::free_bytes_at(&self.path)
    }

    async fn migrate(&self) -> Result<MigrationReport, StoreError> {
        // Each write runs in a savepoint of the writer's transaction, so the migrations either
        // all land or none do.
        self.write(apply_migrations).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read(|connection| {
            connection.query_row("select 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn create_incident(
        &self,
        incident: ValidIncident,
        author: Option<String>,
        now: Timestamp,
    ) -> Result<Incident, StoreError> {
        self.write(move |connection| insert_incident(connection, incident, author, now))
            .await
    }

    async fn get_incident(
        &self,
        id: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<Incident>, StoreError> {
        self.read(move |connection| select_incident(connection, id, visibility))
            .await
    }

    async fn update_incident(
        &self,
        id: IncidentId,
        visibility: Visibility,
        author: Option<String>,
        now: Timestamp,
        change: IncidentChange,
    ) -> Result<Incident, StoreError> {
        self.write(move |connection| {
            let current =
                select_incident(connection, id, visibility)?.ok_or(StoreError::NotFound)?;
            let content = change(&current)?.into_content();
            let updated_at = next_updated_at(now, current.updated_at);
            write_incident_row(connection, id, &content, updated_at)?;
            if content.services != current.content.services {
                delete_services(connection, id)?;
                insert_services(connection, id, &content.services, now)?;
            }
            if content.members != current.content.members {
                replace_members(connection, id, &content.members, now)?;
            }
            let holders = timeline::select_holders(connection, id, None)?;
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
            timeline::apply(connection, &incident, write, now)?;
            Ok(incident)
        })
        .await
    }

    async fn list_events(
        &self,
        incident: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<Vec<TimelineEvent>>, StoreError> {
        self.read(move |connection| {
            if select_incident(connection, incident, visibility)?.is_none() {
                return Ok(None);
            }
            timeline::select_events(connection, incident).map(Some)
        })
        .await
    }

    async fn change_timeline(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        target: Option<EventId>,
        now: Timestamp,
        change: TimelineChange,
    ) -> Result<TimelineOutcome, StoreError> {
        self.write(move |connection| {
            let current =
                select_incident(connection, incident, visibility)?.ok_or(StoreError::NotFound)?;
            let events = timeline::select_holders(connection, incident, target)?;
            let write = change(&current, &events)?;
            timeline::apply(connection, &current, write, now)
        })
        .await
    }

    async fn record_alert(
        &self,
        intake: AlertIntake,
        now: Timestamp,
    ) -> Result<IntakeOutcome, StoreError> {
        self.write(move |connection| timeline::record_alert(connection, intake, now))
            .await
    }

    async fn import_events(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        now: Timestamp,
        batches: tokio::sync::mpsc::Receiver<ImportBatch>,
    ) -> Result<ImportOutcome, StoreError> {
        self.write(move |connection| {
            timeline::import_events(connection, incident, visibility, now, batches)
        })
        .await
    }

    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        visibility: Visibility,
    ) -> Result<IncidentPage, StoreError> {
        let filter = filter.clone();
        self.read(move |connection| {
            let mut sql = format!(
                "select {INCIDENT_COLUMNS} from incident where {}",
                visible(1, 2)
            );
            let mut values: Vec<Value> = visibility_values(visibility).into();
            let placeholders = |values: &mut Vec<Value>, new: Vec<Value>| -> String {
                let start = values.len() + 1;
                let count = new.len();
                values.extend(new);
                (start..start + count)
                    .map(|index| format!("?{index}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if !filter.statuses.is_empty() {
                let new = filter.statuses.iter().map(|s| s.as_str().to_owned().into()).collect();
                sql += &format!(" and status in ({})", placeholders(&mut values, new));
            }
            if !filter.severities.is_empty() {
                let new = filter.severities.iter().map(|s| s.as_str().to_owned().into()).collect();
                sql += &format!(" and severity in ({})", placeholders(&mut values, new));
            }
            if let Some(service) = &filter.service {
                let holder = placeholders(&mut values, vec![service.clone().into()]);
                sql += &format!(
                    " and incident_id in (select incident_id from incident_service \
                     where service = {holder})"
                );
            }
            if let Some(after) = filter.started_after {
                let holder = placeholders(&mut values, vec![to_micros(after).into()]);
                sql += &format!(" and started_at >= {holder}");
            }
            if let Some(before) = filter.started_before {
                let holder = placeholders(&mut values, vec![to_micros(before).into()]);
                sql += &format!(" and started_at < {holder}");
            }
            if let Some(cursor) = filter.cursor {
                let started = placeholders(&mut values, vec![to_micros(cursor.started_at).into()]);
                let id = placeholders(&mut values, vec![cursor.id.get().into()]);
                sql += &format!(
                    " and (started_at < {started} or (started_at = {started} and incident_id < {id}))"
                );
            }
            let limit = placeholders(&mut values, vec![i64::from(filter.limit + 1).into()]);
            sql += &format!(" order by started_at desc, incident_id desc limit {limit}");
            let mut statement = connection.prepare_cached(&sql)?;
            let mut items = statement
                .query_map(params_from_iter(values), incident_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let next_cursor = if items.len() > filter.limit as usize {
                items.truncate(filter.limit as usize);
                items.last().map(IncidentCursor::after)
            } else {
                None
            };
            Ok(IncidentPage { items, next_cursor })
        })
        .await
    }

    async fn count_incidents(&self) -> Result<u64, StoreError> {
        self.read(|connection| {
            let count: i64 =
                connection.query_row("select count(*) from incident", [], |row| row.get(0))?;
            Ok(count as u64)
        })
        .await
    }
    async fn count_users(&self) -> Result<u64, StoreError> {
        self.read(|connection| {
            let count: i64 =
                connection.query_row("select count(*) from user_account", [], |row| row.get(0))?;
            Ok(count as u64)
        })
        .await
    }

    async fn create_user(&self, user: NewUser, now: Timestamp) -> Result<User, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| {
            let id: i64 = connection
                .prepare_cached(
                    "insert into user_account (email, display_name, role, password_hash, \
                     created_at, updated_at) values (?1, ?2, ?3, ?4, ?5, ?5) returning user_id",
                )?
                .query_row(
                    params![
                        user.email,
                        user.display_name,
                        user.role.as_str(),
                        user.password_hash,
                        to_micros(now)
                    ],
                    |row| row.get(0),
                )
                .map_err(|error| {
                    unique_violation(error, &format!("a user with email {} exists", user.email))
                })?;
            Ok(User {
                id: UserId::new(id).expect("sqlite row ids are positive"),
                email: user.email,
                display_name: user.display_name,
                role: user.role,
                disabled: false,
                created_at: now,
                updated_at: now,
            })
        })
        .await
    }

    async fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(move |connection| select_user(connection, id))
            .await
    }

    async fn find_user_by_email(&self, email: &str) -> Result<Option<(User, String)>, StoreError> {
        let email = email.to_owned();
        self.read(move |connection| {
            Ok(connection
                .prepare_cached(&format!(
                    "select {USER_COLUMNS}, password_hash from user_account where email = ?1"
                ))?
                .query_row([email], |row| Ok((user_from_row(row, 0)?, row.get(7)?)))
                .optional()?)
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(&format!(
                "select {USER_COLUMNS} from user_account order by email"
            ))?;
            let users = statement
                .query_map([], |row| user_from_row(row, 0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(users)
        })
        .await
    }

    async fn update_user(
        &self,
        id: UserId,
        change: UserChange,
        now: Timestamp,
    ) -> Result<User, StoreError> {
        self.write(move |connection| {
            let current = select_user(connection, id)?.ok_or(StoreError::NotFound)?;
            let updated_at = next_updated_at(now, current.updated_at);
            let role = change.role.unwrap_or(current.role);
            let disabled = change.disabled.unwrap_or(current.disabled);
            connection
                .prepare_cached(
                    "update user_account set role = ?2, disabled = ?3, updated_at = ?4 \
                     where user_id = ?1",
                )?
                .execute(params![
                    id.get(),
                    role.as_str(),
                    disabled,
                    to_micros(updated_at)
                ])?;
            if disabled {
                connection
                    .prepare_cached("delete from session where user_id = ?1")?
                    .execute([id.get()])?;
                connection
                    .prepare_cached(
                        "update api_token set revoked_at = ?2, updated_at = ?2 \
                         where user_id = ?1 and revoked_at is null",
                    )?
                    .execute(params![id.get(), to_micros(updated_at)])?;
            }
            Ok(User {
                role,
                disabled,
                updated_at,
                ..current
            })
        })
        .await
    }

    async fn create_session(&self, session: Session) -> Result<(), StoreError> {
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "insert into session (session_id, user_id, last_seen_at, created_at, \
                     updated_at) values (?1, ?2, ?3, ?4, ?3)",
                )?
                .execute(params![
                    session.id_hash,
                    session.user_id.get(),
                    to_micros(to_stored_precision(session.last_seen_at)),
                    to_micros(to_stored_precision(session.created_at)),
                ])?;
            Ok(())
        })
        .await
    }

    async fn find_session(&self, id_hash: &str) -> Result<Option<(Session, User)>, StoreError> {
        let id_hash = id_hash.to_owned();
        self.read(move |connection| {
            Ok(connection
                .prepare_cached(&format!(
                    "select session.created_at, session.last_seen_at, {USER_COLUMNS} \
                     from session join user_account using (user_id) where session_id = ?1"
                ))?
                .query_row([&id_hash], |row| {
                    let user = user_from_row(row, 2)?;
                    let session = Session {
                        id_hash: id_hash.clone(),
                        user_id: user.id,
                        created_at: from_micros(row.get(0)?)?,
                        last_seen_at: from_micros(row.get(1)?)?,
                    };
                    Ok((session, user))
                })
                .optional()?)
        })
        .await
    }

    async fn touch_session(&self, id_hash: &str, now: Timestamp) -> Result<(), StoreError> {
        let id_hash = id_hash.to_owned();
        let now = to_micros(to_stored_precision(now));
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "update session set last_seen_at = ?2, updated_at = ?2 where session_id = ?1",
                )?
                .execute(params![id_hash, now])?;
            Ok(())
        })
        .await
    }

    async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let id_hash = id_hash.to_owned();
        self.write(move |connection| {
            connection
                .prepare_cached("delete from session where session_id = ?1")?
                .execute([id_hash])?;
            Ok(())
        })
        .await
    }

    async fn create_api_token(
        &self,
        token: NewApiToken,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| {
            let id: i64 = connection
                .prepare_cached(
                    "insert into api_token (user_id, name, scope, token_hash, created_at, \
                     updated_at) values (?1, ?2, ?3, ?4, ?5, ?5) returning api_token_id",
                )?
                .query_row(
                    params![
                        token.user_id.get(),
                        token.name,
                        token.scope.as_str(),
                        token.token_hash,
                        to_micros(now)
                    ],
                    |row| row.get(0),
                )
                .map_err(|error| unique_violation(error, "token collision; try again"))?;
            Ok(ApiToken {
                id: ApiTokenId::new(id).expect("sqlite row ids are positive"),
                user_id: token.user_id,
                name: token.name,
                scope: token.scope,
                created_at: now,
                last_used_at: None,
                revoked_at: None,
            })
        })
        .await
    }

    async fn find_api_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<(ApiToken, User)>, StoreError> {
        let token_hash = token_hash.to_owned();
        self.read(move |connection| {
            Ok(connection
                .prepare_cached(&format!(
                    "select {TOKEN_COLUMNS}, {USER_COLUMNS} from api_token \
                     join user_account using (user_id) \
                     where token_hash = ?1 and revoked_at is null"
                ))?
                .query_row([token_hash], |row| {
                    Ok((token_from_row(row)?, user_from_row(row, 7)?))
                })
                .optional()?)
        })
        .await
    }

    async fn touch_api_token(&self, id: ApiTokenId, now: Timestamp) -> Result<(), StoreError> {
        let now = to_micros(to_stored_precision(now));
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "update api_token set last_used_at = ?2, updated_at = ?2 \
                     where api_token_id = ?1",
                )?
                .execute(params![id.get(), now])?;
            Ok(())
        })
        .await
    }

    async fn list_api_tokens(&self, user_id: Option<UserId>) -> Result<Vec<ApiToken>, StoreError> {
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&format!(
                "select {TOKEN_COLUMNS} from api_token \
                 where ?1 is null or user_id = ?1 order by api_token_id desc"
            ))?;
            let tokens = statement
                .query_map([user_id.map(UserId::get)], token_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(tokens)
        })
        .await
    }

    async fn revoke_api_token(
        &self,
        id: ApiTokenId,
        now: Timestamp,
    ) -> Result<ApiToken, StoreError> {
        let now = to_micros(to_stored_precision(now));
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "update api_token set revoked_at = ?2, updated_at = ?2 \
                     where api_token_id = ?1 and revoked_at is null",
                )?
                .execute(params![id.get(), now])?;
            select_token(connection, id)?.ok_or(StoreError::NotFound)
        })
        .await
    }
    async fn create_template(&self, template: Template, now: Timestamp) -> Result<(), StoreError> {
        let now = to_micros(to_stored_precision(now));
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "insert into postmortem_template (template_key, name, sections, created_at, \
                     updated_at) values (?1, ?2, ?3, ?4, ?4)",
                )?
                .execute(params![
                    template.key,
                    template.name,
                    to_json(&template.sections),
                    now
                ])
                .map_err(|error| match &error {
                    rusqlite::Error::SqliteFailure(failure, _)
                        if failure.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        StoreError::Conflict("a template with this key exists".into())
                    }
                    _ => StoreError::from(error),
                })?;
            Ok(())
        })
        .await
    }

    async fn list_templates(&self) -> Result<Vec<Template>, StoreError> {
        self.read(|connection| {
            let mut statement = connection.prepare_cached(
                "select template_key, name, sections from postmortem_template \
                 order by template_key",
            )?;
            let rows = statement.query_map([], |row| {
                let sections: String = row.get(2)?;
                Ok(Template {
                    key: row.get(0)?,
                    name: row.get(1)?,
                    sections: json(2, &sections)?,
                })
            })?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn create_postmortem(
        &self,
        postmortem: NewPostmortem,
        author: Author,
        now: Timestamp,
    ) -> Result<Postmortem, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| {
            let id = match postmortem.id {
                Some(id) => id,
                None => {
                    let next: i64 = connection
                        .prepare_cached(
                            "select coalesce((select seq from sqlite_sequence where \
                             name = 'postmortem'), 0) + 1",
                        )?
                        .query_row([], |row| row.get(0))?;
                    let taken: i64 = connection
                        .prepare_cached(
                            "select coalesce(max(postmortem_id), 0) + 1 from postmortem",
                        )?
                        .query_row([], |row| row.get(0))?;
                    PostmortemId::new(next.max(taken)).expect("positive")
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
            write_postmortem_rows(connection, &stored, None, &author)?;
            Ok(stored)
        })
        .await
    }

    async fn get_postmortem(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Option<Postmortem>, StoreError> {
        self.read(move |connection| select_postmortem(connection, id, visibility))
            .await
    }

    async fn list_postmortems(
        &self,
        filter: &PostmortemFilter,
        visibility: Visibility,
    ) -> Result<Vec<Postmortem>, StoreError> {
        let filter = filter.clone();
        self.read(move |connection| {
            let mut statement = connection.prepare_cached(&format!(
                "select {POSTMORTEM_COLUMNS} from postmortem where {} \
                 and (?3 is null or status = ?3) and (?4 is null or postmortem_id < ?4) \
                 and (?5 is null or exists (select 1 from postmortem_incident f \
                 where f.postmortem_id = postmortem.postmortem_id and f.incident_id = ?5)) \
                 order by postmortem_id desc limit ?6",
                postmortem_visible(1, 2)
            ))?;
            let [everything, user] = visibility_values(visibility);
            let rows = statement.query_map(
                params![
                    everything,
                    user,
                    filter.status.map(|status| status.as_str()),
                    filter.before.map(|id| id.get()),
                    filter.incident.map(|id| id.get()),
                    filter.limit.clamp(1, 1000),
                ],
                postmortem_from_row,
            )?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
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
        self.write(move |connection| {
            let current =
                select_postmortem(connection, id, visibility)?.ok_or(StoreError::NotFound)?;
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
                updated_at: next_updated_at(now, current.updated_at),
            };
            write_postmortem_rows(connection, &next, Some(&current), &author)?;
            if next.status == PostmortemStatus::Published
                && current.status != PostmortemStatus::Published
            {
                let notification = jobs::publish_notification(connection, &next)?;
                jobs::insert_notifications(connection, &[notification], now)?;
            }
            Ok(next)
        })
        .await
    }

    async fn discard_postmortem(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Postmortem, StoreError> {
        self.write(move |connection| {
            let current =
                select_postmortem(connection, id, visibility)?.ok_or(StoreError::NotFound)?;
            crate::refuse_discard(&current)?;
            connection
                .prepare_cached("delete from action_item where postmortem_id = ?1")?
                .execute(params![id.get()])?;
            connection
                .prepare_cached("delete from postmortem where postmortem_id = ?1")?
                .execute(params![id.get()])?;
            Ok(current)
        })
        .await
    }

    async fn add_image(
        &self,
        image: crate::NewImage,
        visibility: Visibility,
        now: Timestamp,
    ) -> Result<hindsight_domain::image::ImageMeta, StoreError> {
        self.write(move |connection| image::add(connection, image, visibility, now))
            .await
    }

    async fn get_image(
        &self,
        postmortem: PostmortemId,
        id: i64,
        visibility: Visibility,
    ) -> Result<Option<crate::Image>, StoreError> {
        self.read(move |connection| image::get(connection, postmortem, id, visibility))
            .await
    }

    async fn delete_image(
        &self,
        postmortem: PostmortemId,
        id: i64,
        visibility: Visibility,
    ) -> Result<hindsight_domain::image::ImageMeta, StoreError> {
        self.write(move |connection| image::delete(connection, postmortem, id, visibility))
            .await
    }

    async fn list_images(
        &self,
        postmortem: PostmortemId,
        visibility: Visibility,
    ) -> Result<Vec<hindsight_domain::image::ImageMeta>, StoreError> {
        self.read(move |connection| image::list(connection, postmortem, visibility))
            .await
    }

    async fn list_revisions(
        &self,
        id: PostmortemId,
        visibility: Visibility,
    ) -> Result<Vec<Revision>, StoreError> {
        self.read(move |connection| {
            if select_postmortem(connection, id, visibility)?.is_none() {
                return Err(StoreError::NotFound);
            }
            let mut statement = connection.prepare_cached(
                "select version, status, author_id, author_name, changed, document, created_at \
                 from postmortem_revision where postmortem_id = ?1 order by version",
            )?;
            let rows = statement.query_map([id.get()], revision_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn judge_incident(
        &self,
        incident: IncidentId,
        now: Timestamp,
        judgement: PolicyJudgement,
    ) -> Result<PolicyState, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| {
            follow_through::judge_incident(connection, incident, now, judgement)
        })
        .await
    }

    async fn get_policy(
        &self,
        incident: IncidentId,
        visibility: Visibility,
    ) -> Result<Option<PolicyState>, StoreError> {
        self.read(move |connection| follow_through::policy_state(connection, incident, visibility))
            .await
    }

    async fn request_postmortem(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        request: PostmortemRequest,
    ) -> Result<(), StoreError> {
        self.write(move |connection| {
            follow_through::request_postmortem(connection, incident, visibility, request)
        })
        .await
    }

    async fn override_policy(
        &self,
        incident: IncidentId,
        visibility: Visibility,
        override_: PolicyOverride,
    ) -> Result<(), StoreError> {
        self.write(move |connection| {
            follow_through::override_policy(connection, incident, visibility, override_)
        })
        .await
    }

    async fn list_postmortem_debt(
        &self,
        visibility: Visibility,
    ) -> Result<Vec<PendingPostmortem>, StoreError> {
        self.read(move |connection| follow_through::list_debt(connection, visibility))
            .await
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
        self.write(move |connection| {
            follow_through::create_item(connection, postmortem, visibility, content, author, now)
        })
        .await
    }

    async fn get_action_item(
        &self,
        id: ActionItemId,
        visibility: Visibility,
    ) -> Result<Option<ActionItem>, StoreError> {
        self.read(move |connection| follow_through::get_item(connection, id, visibility))
            .await
    }

    async fn update_action_item(
        &self,
        id: ActionItemId,
        visibility: Visibility,
        now: Timestamp,
        change: ActionItemChange,
    ) -> Result<ActionItem, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| {
            follow_through::update_item(connection, id, visibility, now, change)
        })
        .await
    }

    async fn list_action_items(
        &self,
        filter: &ActionItemFilter,
        visibility: Visibility,
    ) -> Result<Vec<ActionItem>, StoreError> {
        let filter = filter.clone();
        self.read(move |connection| follow_through::list_items(connection, &filter, visibility))
            .await
    }

    async fn schedule_job(&self, job: NewJob, now: Timestamp) -> Result<bool, StoreError> {
        self.write(move |connection| jobs::schedule_job(connection, &job, now))
            .await
    }

    async fn claim_job(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
    ) -> Result<Option<Job>, StoreError> {
        let worker = worker.to_owned();
        self.write(move |connection| jobs::claim_job(connection, &worker, now, lease))
            .await
    }

    async fn complete_job(
        &self,
        job: i64,
        now: Timestamp,
        notifications: Vec<NewNotification>,
    ) -> Result<usize, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| jobs::complete_job(connection, job, now, &notifications))
            .await
    }

    async fn fail_job(
        &self,
        job: i64,
        error: String,
        retry_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        self.write(move |connection| jobs::fail_job(connection, job, &error, retry_at))
            .await
    }

    async fn route_notifications(
        &self,
        now: Timestamp,
        limit: u32,
        route: RouteFn,
    ) -> Result<usize, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| jobs::route_notifications(connection, now, limit, route))
            .await
    }

    async fn claim_deliveries(
        &self,
        worker: &str,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<DeliveryTask>, StoreError> {
        let worker = worker.to_owned();
        self.write(move |connection| jobs::claim_deliveries(connection, &worker, now, lease, limit))
            .await
    }

    async fn record_attempt(&self, delivery: i64, attempt: Attempt) -> Result<(), StoreError> {
        let attempt = Attempt {
            at: to_stored_precision(attempt.at),
            ..attempt
        };
        self.write(move |connection| jobs::record_attempt(connection, delivery, &attempt))
            .await
    }

    async fn list_deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>, StoreError> {
        let filter = filter.clone();
        self.read(move |connection| jobs::list_deliveries(connection, &filter, None))
            .await
    }

    async fn replay_delivery(&self, id: i64, now: Timestamp) -> Result<Delivery, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| jobs::replay_delivery(connection, id, now))
            .await
    }

    async fn disabled_channels(&self) -> Result<Vec<String>, StoreError> {
        self.read(jobs::disabled_channels).await
    }

    async fn get_meeting(
        &self,
        postmortem: PostmortemId,
    ) -> Result<Option<ReviewMeeting>, StoreError> {
        self.read(move |connection| meeting::get(connection, postmortem))
            .await
    }

    async fn save_meeting(
        &self,
        review: ReviewMeeting,
        previous: Option<Timestamp>,
        notifications: Vec<NewNotification>,
        now: Timestamp,
    ) -> Result<ReviewMeeting, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| {
            meeting::save(connection, review, previous, &notifications, now)
        })
        .await
    }

    async fn save_meeting_notes(
        &self,
        postmortem: PostmortemId,
        notes: String,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| meeting::save_notes(connection, postmortem, &notes, now))
            .await
    }

    async fn moderator_history(&self) -> Result<BTreeMap<UserId, Timestamp>, StoreError> {
        self.read(meeting::moderated).await
    }

    async fn create_team(&self, name: String, now: Timestamp) -> Result<Team, StoreError> {
        let now = to_stored_precision(now);
        self.write(move |connection| {
            let id: i64 = connection
                .prepare_cached(
                    "insert into team (name, created_at, updated_at) values (?1, ?2, ?2) \
                     returning team_id",
                )?
                .query_row(params![name, to_micros(now)], |row| row.get(0))
                .map_err(|error| unique_violation(error, &format!("a team named {name} exists")))?;
            Ok(Team {
                id: TeamId::new(id).expect("sqlite row ids are positive"),
                name,
                members: Vec::new(),
                created_at: now,
                updated_at: now,
            })
        })
        .await
    }

    async fn list_teams(&self) -> Result<Vec<Team>, StoreError> {
        self.read(|connection| {
            let mut teams = connection
                .prepare_cached(
                    "select team_id, name, created_at, updated_at from team order by name",
                )?
                .query_map([], |row| {
                    Ok(Team {
                        id: TeamId::new(row.get(0)?).expect("sqlite row ids are positive"),
                        name: row.get(1)?,
                        members: Vec::new(),
                        created_at: from_micros(row.get(2)?)?,
                        updated_at: from_micros(row.get(3)?)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            for team in &mut teams {
                team.members = team_members(connection, team.id)?;
            }
            Ok(teams)
        })
        .await
    }

    async fn set_team_member(
        &self,
        team: TeamId,
        user: UserId,
        is_lead: bool,
        now: Timestamp,
    ) -> Result<Team, StoreError> {
        let now = to_micros(to_stored_precision(now));
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "insert into team_member (team_id, user_id, is_lead, created_at, updated_at) \
                     values (?1, ?2, ?3, ?4, ?4) on conflict (team_id, user_id) \
                     do update set is_lead = excluded.is_lead, updated_at = excluded.updated_at",
                )?
                .execute(params![team.get(), user.get(), is_lead, now])
                .map_err(|error| match &error {
                    rusqlite::Error::SqliteFailure(failure, _)
                        if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
                    {
                        StoreError::NotFound
                    }
                    _ => StoreError::from(error),
                })?;
            select_team(connection, team)
        })
        .await
    }

    async fn remove_team_member(
        &self,
        team: TeamId,
        user: UserId,
        _now: Timestamp,
    ) -> Result<Team, StoreError> {
        self.write(move |connection| {
            connection
                .prepare_cached("delete from team_member where team_id = ?1 and user_id = ?2")?
                .execute(params![team.get(), user.get()])?;
            select_team(connection, team)
        })
        .await
    }
    async fn append_audit(&self, event: NewAuditEvent) -> Result<(), StoreError> {
        let at = to_micros(to_stored_precision(event.occurred_at));
        self.write(move |connection| {
            connection
                .prepare_cached(
                    "insert into audit_event (occurred_at, user_id, actor, action, target, \
                     detail, address, created_at, updated_at) \
                     values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?1, ?1)",
                )?
                .execute(params![
                    at,
                    event.user_id.map(UserId::get),
                    event.actor,
                    event.action,
                    event.target,
                    event.detail,
                    event.address,
                ])?;
            Ok(())
        })
        .await
    }

    async fn list_audit(
        &self,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.read(move |connection| {
            let events = connection
                .prepare_cached(
                    "select audit_event_id, occurred_at, user_id, actor, action, target, detail, \
                     address from audit_event where ?1 is null or audit_event_id < ?1 \
                     order by audit_event_id desc limit ?2",
                )?
                .query_map(params![before, i64::from(limit)], |row| {
                    Ok(AuditEvent {
                        id: row.get(0)?,
                        occurred_at: from_micros(row.get(1)?)?,
                        user_id: row.get::<_, Option<i64>>(2)?.and_then(UserId::new),
                        actor: row.get(3)?,
                        action: row.get(4)?,
                        target: row.get(5)?,
                        detail: row.get(6)?,
                        address: row.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(events)
        })
        .await
    }
}
