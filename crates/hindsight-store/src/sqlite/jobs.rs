//! Jobs, the outbox and deliveries on SQLite (see `crate::jobs`). Claims run in the single
//! writer's transaction, which SQLite's lock serialises across processes too: a claim reads and
//! marks in one statement, so two claims never take the same row.

use std::time::Duration;

use hindsight_domain::access::UserId;
use hindsight_domain::notify::{AttemptOutcome, DeliveryStatus, NewNotification, Person};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{from_micros, json, optional_micros, parsed, to_json, to_micros};
use crate::StoreError;
use crate::jobs::{
    Attempt, AttemptRecord, Delivery, DeliveryFilter, DeliveryTask, Job, NewJob, Notification,
    RouteFn, channel_of, event_id,
};

fn until(now: Timestamp, lease: Duration) -> i64 {
    to_micros(now).saturating_add(i64::try_from(lease.as_micros()).unwrap_or(i64::MAX))
}

pub(super) fn schedule_job(
    connection: &Connection,
    job: &NewJob,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let added = connection
        .prepare_cached(
            "insert into job (kind, dedupe_key, run_at, created_at) values (?1, ?2, ?3, ?4) \
             on conflict (dedupe_key) do nothing",
        )?
        .execute(params![
            job.kind,
            job.dedupe_key,
            to_micros(job.run_at),
            to_micros(now)
        ])?;
    Ok(added == 1)
}

pub(super) fn claim_job(
    connection: &Connection,
    worker: &str,
    now: Timestamp,
    lease: Duration,
) -> Result<Option<Job>, StoreError> {
    Ok(connection
        .prepare_cached(
            "update job set claimed_by = ?1, claimed_until = ?3 where job_id = (\
                 select job_id from job where status = 'pending' and run_at <= ?2 \
                 and (claimed_until is null or claimed_until <= ?2) \
                 order by run_at, job_id limit 1) \
             returning job_id, kind, dedupe_key, run_at, attempts",
        )?
        .query_row(params![worker, to_micros(now), until(now, lease)], |row| {
            Ok(Job {
                id: row.get(0)?,
                kind: row.get(1)?,
                dedupe_key: row.get(2)?,
                run_at: from_micros(row.get(3)?)?,
                attempts: row.get(4)?,
            })
        })
        .optional()?)
}

pub(super) fn insert_notifications(
    connection: &Connection,
    notifications: &[NewNotification],
    now: Timestamp,
) -> Result<usize, StoreError> {
    let mut statement = connection.prepare_cached(
        "insert into notification (dedupe_key, kind, private, audience, message, created_at) \
         values (?1, ?2, ?3, ?4, ?5, ?6) on conflict (dedupe_key) do nothing",
    )?;
    let mut added = 0;
    for notification in notifications {
        added += statement.execute(params![
            notification.dedupe_key,
            notification.kind.as_str(),
            notification.private,
            to_json(&notification.audience),
            to_json(&notification.message),
            to_micros(now),
        ])?;
    }
    Ok(added)
}

pub(super) fn complete_job(
    connection: &Connection,
    job: i64,
    now: Timestamp,
    notifications: &[NewNotification],
) -> Result<usize, StoreError> {
    let added = insert_notifications(connection, notifications, now)?;
    connection
        .prepare_cached(
            "update job set status = 'done', attempts = attempts + 1, finished_at = ?2, \
             claimed_by = null, claimed_until = null, last_error = null where job_id = ?1",
        )?
        .execute(params![job, to_micros(now)])?;
    Ok(added)
}

pub(super) fn fail_job(
    connection: &Connection,
    job: i64,
    error: &str,
    retry_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "update job set attempts = attempts + 1, last_error = ?2, claimed_by = null, \
             claimed_until = null, status = case when ?3 is null then 'dead' else 'pending' end, \
             run_at = coalesce(?3, run_at) where job_id = ?1",
        )?
        .execute(params![job, error, retry_at.map(to_micros)])?;
    Ok(())
}

fn notification(row: &Row<'_>, first: usize) -> rusqlite::Result<Notification> {
    let kind: String = row.get(first + 2)?;
    Ok(Notification {
        id: row.get(first)?,
        dedupe_key: row.get(first + 1)?,
        kind: parsed(
            first + 2,
            &kind,
            hindsight_domain::notify::NotificationKind::parse,
        )?,
        private: row.get(first + 3)?,
        audience: json(first + 4, &row.get::<_, String>(first + 4)?)?,
        message: json(first + 5, &row.get::<_, String>(first + 5)?)?,
        created_at: from_micros(row.get(first + 6)?)?,
    })
}

const NOTIFICATION_COLUMNS: &str =
    "n.notification_id, n.dedupe_key, n.kind, n.private, n.audience, n.message, n.created_at";

pub(super) fn route_notifications(
    connection: &Connection,
    now: Timestamp,
    limit: u32,
    route: RouteFn,
) -> Result<usize, StoreError> {
    let unrouted: Vec<Notification> = connection
        .prepare_cached(&format!(
            "select {NOTIFICATION_COLUMNS} from notification n where not n.routed \
             order by n.notification_id limit ?1"
        ))?
        .query_map([limit], |row| notification(row, 0))?
        .collect::<Result<_, _>>()?;
    let mut insert = connection.prepare_cached(
        "insert into delivery (notification_id, target, next_attempt_at, created_at, updated_at) \
         values (?1, ?2, ?3, ?3, ?3) on conflict (notification_id, target) do nothing",
    )?;
    let mut mark = connection
        .prepare_cached("update notification set routed = 1 where notification_id = ?1")?;
    for notification in &unrouted {
        for target in route(notification) {
            insert.execute(params![notification.id, target, to_micros(now)])?;
        }
        mark.execute([notification.id])?;
    }
    Ok(unrouted.len())
}

pub(super) fn claim_deliveries(
    connection: &Connection,
    worker: &str,
    now: Timestamp,
    lease: Duration,
    limit: u32,
) -> Result<Vec<DeliveryTask>, StoreError> {
    let claimed: Vec<(i64, i64, String, u32)> = connection
        .prepare_cached(
            "update delivery set claimed_by = ?1, claimed_until = ?3 where delivery_id in (\
                 select d.delivery_id from delivery d where d.status = 'pending' \
                 and d.next_attempt_at <= ?2 \
                 and (d.claimed_until is null or d.claimed_until <= ?2) \
                 and not exists (select 1 from channel_state c \
                                 where d.target = 'channel:' || c.name) \
                 order by d.next_attempt_at, d.delivery_id limit ?4) \
             returning delivery_id, notification_id, target, attempts",
        )?
        .query_map(
            params![worker, to_micros(now), until(now, lease), limit],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
        )?
        .collect::<Result<_, _>>()?;
    let mut select = connection.prepare_cached(&format!(
        "select {NOTIFICATION_COLUMNS} from notification n where n.notification_id = ?1"
    ))?;
    let mut tasks = Vec::with_capacity(claimed.len());
    for (id, notification_id, target, attempts) in claimed {
        tasks.push(DeliveryTask {
            id,
            target,
            attempts,
            notification: select.query_row([notification_id], |row| notification(row, 0))?,
        });
    }
    tasks.sort_by_key(|task| task.id);
    Ok(tasks)
}

pub(super) fn record_attempt(
    connection: &Connection,
    delivery: i64,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    let status = attempt.outcome.leaves();
    let at = to_micros(attempt.at);
    let target: String = connection
        .prepare_cached(
            "update delivery set status = ?2, attempts = attempts + 1, \
             next_attempt_at = coalesce(?3, next_attempt_at), last_error = ?4, \
             delivered_at = case when ?2 = 'delivered' then ?5 else delivered_at end, \
             claimed_by = null, claimed_until = null, updated_at = ?5 \
             where delivery_id = ?1 returning target",
        )?
        .query_row(
            params![
                delivery,
                status.as_str(),
                attempt.retry_at.map(to_micros),
                attempt.error,
                at
            ],
            |row| row.get(0),
        )
        .optional()?
        .ok_or(StoreError::NotFound)?;
    connection
        .prepare_cached(
            "insert into delivery_attempt (delivery_id, attempted_at, worker, outcome, \
             http_status, error) values (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            delivery,
            at,
            attempt.worker,
            attempt.outcome.as_str(),
            attempt.http_status,
            attempt.error
        ])?;
    if attempt.outcome == AttemptOutcome::Disabled
        && let Some(channel) = channel_of(&target)
    {
        connection
            .prepare_cached(
                "insert into channel_state (name, disabled_at, reason) values (?1, ?2, ?3) \
                 on conflict (name) do nothing",
            )?
            .execute(params![
                channel,
                at,
                attempt.error.as_deref().unwrap_or("410 Gone")
            ])?;
    }
    Ok(())
}

fn history(connection: &Connection, delivery: i64) -> Result<Vec<AttemptRecord>, StoreError> {
    let mut statement = connection.prepare_cached(
        "select attempted_at, worker, outcome, http_status, error from delivery_attempt \
         where delivery_id = ?1 order by delivery_attempt_id",
    )?;
    let rows = statement.query_map([delivery], |row| {
        let outcome: String = row.get(2)?;
        Ok(AttemptRecord {
            at: from_micros(row.get(0)?)?,
            worker: row.get(1)?,
            outcome: parsed(2, &outcome, AttemptOutcome::parse)?,
            http_status: row.get(3)?,
            error: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

const DELIVERY_COLUMNS: &str = "d.delivery_id, d.target, d.status, d.attempts, \
     d.next_attempt_at, d.last_error, d.delivered_at, d.created_at, n.notification_id, n.kind, \
     n.message";

fn delivery(connection: &Connection, row: &Row<'_>) -> Result<Delivery, StoreError> {
    let status: String = row.get(2)?;
    let kind: String = row.get(9)?;
    let message: hindsight_domain::notify::Message = json(10, &row.get::<_, String>(10)?)?;
    let id = row.get(0)?;
    let notification_id = row.get(8)?;
    Ok(Delivery {
        id,
        notification_id,
        event_id: event_id(notification_id),
        kind: parsed(9, &kind, hindsight_domain::notify::NotificationKind::parse)?,
        subject: message.subject,
        target: row.get(1)?,
        status: parsed(2, &status, DeliveryStatus::parse)?,
        attempts: row.get(3)?,
        next_attempt_at: from_micros(row.get(4)?)?,
        last_error: row.get(5)?,
        delivered_at: optional_micros(row.get(6)?)?,
        created_at: from_micros(row.get(7)?)?,
        history: history(connection, id)?,
    })
}

pub(super) fn list_deliveries(
    connection: &Connection,
    filter: &DeliveryFilter,
    only: Option<i64>,
) -> Result<Vec<Delivery>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "select {DELIVERY_COLUMNS} from delivery d \
         join notification n on n.notification_id = d.notification_id \
         where (?1 is null or d.status = ?1) and (?2 is null or d.delivery_id = ?2) \
         order by d.delivery_id desc limit ?3"
    ))?;
    let mut rows = statement.query(params![
        filter.status.map(|status| status.as_str()),
        only,
        filter.limit.clamp(1, 1000)
    ])?;
    let mut deliveries = Vec::new();
    while let Some(row) = rows.next()? {
        deliveries.push(delivery(connection, row)?);
    }
    Ok(deliveries)
}

pub(super) fn replay_delivery(
    connection: &Connection,
    id: i64,
    now: Timestamp,
) -> Result<Delivery, StoreError> {
    let found = list_deliveries(connection, &DeliveryFilter::default(), Some(id))?
        .pop()
        .ok_or(StoreError::NotFound)?;
    if !matches!(
        found.status,
        DeliveryStatus::Dead | DeliveryStatus::Disabled
    ) {
        return Err(StoreError::Conflict(format!(
            "delivery {id} is {}; only dead or disabled deliveries are replayed",
            found.status
        )));
    }
    connection
        .prepare_cached(
            "update delivery set status = 'pending', attempts = 0, next_attempt_at = ?2, \
             claimed_by = null, claimed_until = null, updated_at = ?2 where delivery_id = ?1",
        )?
        .execute(params![id, to_micros(now)])?;
    if let Some(channel) = channel_of(&found.target) {
        connection
            .prepare_cached("delete from channel_state where name = ?1")?
            .execute([channel])?;
    }
    list_deliveries(connection, &DeliveryFilter::default(), Some(id))?
        .pop()
        .ok_or(StoreError::NotFound)
}

pub(super) fn disabled_channels(connection: &Connection) -> Result<Vec<String>, StoreError> {
    let mut statement =
        connection.prepare_cached("select name from channel_state order by name")?;
    let rows = statement.query_map([], |row| row.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The publish notification, with the members (in person or through a team) of each private
/// incident the postmortem covers; the domain decides who of them is told.
pub(super) fn publish_notification(
    connection: &Connection,
    postmortem: &hindsight_domain::document::Postmortem,
) -> Result<NewNotification, StoreError> {
    let mut private_members: Vec<Vec<Person>> = Vec::new();
    let mut is_private =
        connection.prepare_cached("select private from incident where incident_id = ?1")?;
    let mut members = connection.prepare_cached(
        "select u.user_id, u.display_name, u.email from user_account u \
         where u.disabled = 0 and u.user_id in (\
             select m.user_id from incident_member m where m.incident_id = ?1 \
             union select t.user_id from incident_member m \
             join team_member t on t.team_id = m.team_id where m.incident_id = ?1) \
         order by u.user_id",
    )?;
    for incident in &postmortem.document.incidents {
        let private: bool = is_private
            .query_row([incident.get()], |row| row.get(0))
            .optional()?
            .unwrap_or(false);
        if !private {
            continue;
        }
        let people = members
            .query_map([incident.get()], |row| {
                Ok(Person {
                    id: UserId::new(row.get(0)?).expect("sqlite row ids are positive"),
                    name: row.get(1)?,
                    email: row.get(2)?,
                })
            })?
            .collect::<Result<_, _>>()?;
        private_members.push(people);
    }
    Ok(hindsight_domain::notify::published(
        postmortem,
        private_members,
    ))
}
