//! Jobs, the outbox and deliveries on PostgreSQL (see `crate::jobs`). Claims select with
//! `FOR UPDATE SKIP LOCKED` and mark in the same statement, so instances sharing the database
//! never take the same row and never wait on each other's claims.

use std::time::Duration;

use deadpool_postgres::GenericClient;
use hindsight_domain::access::UserId;
use hindsight_domain::notify::{
    AttemptOutcome, DeliveryStatus, Message, NewNotification, NotificationKind, Person,
};
use jiff::Timestamp;
use tokio_postgres::Row;
use tokio_postgres::types::Json;

use super::unexpected;
use crate::StoreError;
use crate::jobs::{
    Attempt, AttemptRecord, Delivery, DeliveryFilter, DeliveryTask, Job, NewJob, Notification,
    RouteFn, channel_of, event_id,
};

fn until(now: Timestamp, lease: Duration) -> Timestamp {
    now.checked_add(jiff::SignedDuration::try_from(lease).unwrap_or(jiff::SignedDuration::MAX))
        .unwrap_or(now)
}

pub(super) async fn schedule_job(
    client: &impl GenericClient,
    job: &NewJob,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let added = client
        .execute(
            "insert into job (kind, dedupe_key, run_at, created_at) values ($1, $2, $3, $4) \
             on conflict (dedupe_key) do nothing",
            &[&job.kind, &job.dedupe_key, &job.run_at, &now],
        )
        .await?;
    Ok(added == 1)
}

pub(super) async fn claim_job(
    client: &impl GenericClient,
    worker: &str,
    now: Timestamp,
    lease: Duration,
) -> Result<Option<Job>, StoreError> {
    let row = client
        .query_opt(
            "update job set claimed_by = $1, claimed_until = $3 where job_id = (\
                 select job_id from job where status = 'pending' and run_at <= $2 \
                 and (claimed_until is null or claimed_until <= $2) \
                 order by run_at, job_id limit 1 for update skip locked) \
             returning job_id, kind, dedupe_key, run_at, attempts",
            &[&worker, &now, &until(now, lease)],
        )
        .await?;
    row.map(|row| {
        Ok(Job {
            id: row.try_get(0)?,
            kind: row.try_get(1)?,
            dedupe_key: row.try_get(2)?,
            run_at: row.try_get(3)?,
            attempts: row.try_get::<_, i32>(4)? as u32,
        })
    })
    .transpose()
}

pub(super) async fn insert_notifications(
    client: &impl GenericClient,
    notifications: &[NewNotification],
    now: Timestamp,
) -> Result<usize, StoreError> {
    let statement = client
        .prepare_cached(
            "insert into notification (dedupe_key, kind, private, audience, message, created_at) \
             values ($1, $2, $3, $4, $5, $6) on conflict (dedupe_key) do nothing",
        )
        .await?;
    let mut added = 0;
    for notification in notifications {
        added += client
            .execute(
                &statement,
                &[
                    &notification.dedupe_key,
                    &notification.kind.as_str(),
                    &notification.private,
                    &Json(&notification.audience),
                    &Json(&notification.message),
                    &now,
                ],
            )
            .await? as usize;
    }
    Ok(added)
}

pub(super) async fn complete_job(
    client: &impl GenericClient,
    job: i64,
    now: Timestamp,
    notifications: &[NewNotification],
) -> Result<usize, StoreError> {
    let added = insert_notifications(client, notifications, now).await?;
    client
        .execute(
            "update job set status = 'done', attempts = attempts + 1, finished_at = $2, \
             claimed_by = null, claimed_until = null, last_error = null where job_id = $1",
            &[&job, &now],
        )
        .await?;
    Ok(added)
}

pub(super) async fn fail_job(
    client: &impl GenericClient,
    job: i64,
    error: &str,
    retry_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    client
        .execute(
            "update job set attempts = attempts + 1, last_error = $2, claimed_by = null, \
             claimed_until = null, \
             status = case when $3::timestamptz is null then 'dead' else 'pending' end, \
             run_at = coalesce($3, run_at) where job_id = $1",
            &[&job, &error, &retry_at],
        )
        .await?;
    Ok(())
}

const NOTIFICATION_COLUMNS: &str =
    "n.notification_id, n.dedupe_key, n.kind, n.private, n.audience, n.message, n.created_at";

fn notification(row: &Row) -> Result<Notification, StoreError> {
    let kind: String = row.try_get(2)?;
    let Json(audience) = row.try_get(4)?;
    let Json(message) = row.try_get(5)?;
    Ok(Notification {
        id: row.try_get(0)?,
        dedupe_key: row.try_get(1)?,
        kind: NotificationKind::parse(&kind).ok_or_else(|| unexpected("kind", &kind))?,
        private: row.try_get(3)?,
        audience,
        message,
        created_at: row.try_get(6)?,
    })
}

pub(super) async fn route_notifications(
    client: &impl GenericClient,
    now: Timestamp,
    limit: u32,
    route: RouteFn,
) -> Result<usize, StoreError> {
    let rows = client
        .query(
            &format!(
                "select {NOTIFICATION_COLUMNS} from notification n where not n.routed \
                 order by n.notification_id limit $1 for update skip locked"
            ),
            &[&i64::from(limit)],
        )
        .await?;
    let insert = client
        .prepare_cached(
            "insert into delivery (notification_id, target, next_attempt_at, created_at, \
             updated_at) values ($1, $2, $3, $3, $3) \
             on conflict (notification_id, target) do nothing",
        )
        .await?;
    for row in &rows {
        let notification = notification(row)?;
        for target in route(&notification) {
            client
                .execute(&insert, &[&notification.id, &target, &now])
                .await?;
        }
        client
            .execute(
                "update notification set routed = true where notification_id = $1",
                &[&notification.id],
            )
            .await?;
    }
    Ok(rows.len())
}

pub(super) async fn claim_deliveries(
    client: &impl GenericClient,
    worker: &str,
    now: Timestamp,
    lease: Duration,
    limit: u32,
) -> Result<Vec<DeliveryTask>, StoreError> {
    let rows = client
        .query(
            &format!(
                "with claimed as (\
                     update delivery set claimed_by = $1, claimed_until = $3 \
                     where delivery_id in (\
                         select d.delivery_id from delivery d where d.status = 'pending' \
                         and d.next_attempt_at <= $2 \
                         and (d.claimed_until is null or d.claimed_until <= $2) \
                         and not exists (select 1 from channel_state c \
                                         where d.target = 'channel:' || c.name) \
                         order by d.next_attempt_at, d.delivery_id limit $4 \
                         for update skip locked) \
                     returning delivery_id, notification_id, target, attempts) \
                 select {NOTIFICATION_COLUMNS}, c.delivery_id, c.target, c.attempts \
                 from claimed c join notification n on n.notification_id = c.notification_id \
                 order by c.delivery_id"
            ),
            &[&worker, &now, &until(now, lease), &i64::from(limit)],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(DeliveryTask {
                id: row.try_get(7)?,
                target: row.try_get(8)?,
                attempts: row.try_get::<_, i32>(9)? as u32,
                notification: notification(row)?,
            })
        })
        .collect()
}

pub(super) async fn record_attempt(
    client: &impl GenericClient,
    delivery: i64,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    let status = attempt.outcome.leaves();
    let target: String = client
        .query_opt(
            "update delivery set status = $2, attempts = attempts + 1, \
             next_attempt_at = coalesce($3, next_attempt_at), last_error = $4, \
             delivered_at = case when $2 = 'delivered' then $5 else delivered_at end, \
             claimed_by = null, claimed_until = null, updated_at = $5 \
             where delivery_id = $1 returning target",
            &[
                &delivery,
                &status.as_str(),
                &attempt.retry_at,
                &attempt.error,
                &attempt.at,
            ],
        )
        .await?
        .ok_or(StoreError::NotFound)?
        .try_get(0)?;
    client
        .execute(
            "insert into delivery_attempt (delivery_id, attempted_at, worker, outcome, \
             http_status, error) values ($1, $2, $3, $4, $5, $6)",
            &[
                &delivery,
                &attempt.at,
                &attempt.worker,
                &attempt.outcome.as_str(),
                &attempt.http_status.map(i32::from),
                &attempt.error,
            ],
        )
        .await?;
    if attempt.outcome == AttemptOutcome::Disabled
        && let Some(channel) = channel_of(&target)
    {
        client
            .execute(
                "insert into channel_state (name, disabled_at, reason) values ($1, $2, $3) \
                 on conflict (name) do nothing",
                &[
                    &channel,
                    &attempt.at,
                    &attempt.error.as_deref().unwrap_or("410 Gone"),
                ],
            )
            .await?;
    }
    Ok(())
}

pub(super) async fn list_deliveries(
    client: &impl GenericClient,
    filter: &DeliveryFilter,
    only: Option<i64>,
) -> Result<Vec<Delivery>, StoreError> {
    let rows = client
        .query(
            "select d.delivery_id, d.target, d.status, d.attempts, d.next_attempt_at, \
             d.last_error, d.delivered_at, d.created_at, n.notification_id, n.kind, n.message \
             from delivery d join notification n on n.notification_id = d.notification_id \
             where ($1::text is null or d.status = $1) and ($2::bigint is null or d.delivery_id = $2) \
             order by d.delivery_id desc limit $3",
            &[
                &filter.status.map(|status| status.as_str()),
                &only,
                &i64::from(filter.limit.clamp(1, 1000)),
            ],
        )
        .await?;
    let ids: Vec<i64> = rows
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    let attempts = client
        .query(
            "select delivery_id, attempted_at, worker, outcome, http_status, error \
             from delivery_attempt where delivery_id = any($1) order by delivery_attempt_id",
            &[&ids],
        )
        .await?;
    let mut deliveries = Vec::with_capacity(rows.len());
    for row in rows {
        let id: i64 = row.try_get(0)?;
        let status: String = row.try_get(2)?;
        let kind: String = row.try_get(9)?;
        let Json(message): Json<Message> = row.try_get(10)?;
        let notification_id: i64 = row.try_get(8)?;
        let mut history = Vec::new();
        for attempt in attempts
            .iter()
            .filter(|attempt| attempt.get::<_, i64>(0) == id)
        {
            let outcome: String = attempt.try_get(3)?;
            history.push(AttemptRecord {
                at: attempt.try_get(1)?,
                worker: attempt.try_get(2)?,
                outcome: AttemptOutcome::parse(&outcome)
                    .ok_or_else(|| unexpected("outcome", &outcome))?,
                http_status: attempt
                    .try_get::<_, Option<i32>>(4)?
                    .map(|status| status as u16),
                error: attempt.try_get(5)?,
            });
        }
        deliveries.push(Delivery {
            id,
            notification_id,
            event_id: event_id(notification_id),
            kind: NotificationKind::parse(&kind).ok_or_else(|| unexpected("kind", &kind))?,
            subject: message.subject,
            target: row.try_get(1)?,
            status: DeliveryStatus::parse(&status).ok_or_else(|| unexpected("status", &status))?,
            attempts: row.try_get::<_, i32>(3)? as u32,
            next_attempt_at: row.try_get(4)?,
            last_error: row.try_get(5)?,
            delivered_at: row.try_get(6)?,
            created_at: row.try_get(7)?,
            history,
        });
    }
    Ok(deliveries)
}

pub(super) async fn replay_delivery(
    client: &impl GenericClient,
    id: i64,
    now: Timestamp,
) -> Result<Delivery, StoreError> {
    let found = list_deliveries(client, &DeliveryFilter::default(), Some(id))
        .await?
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
    client
        .execute(
            "update delivery set status = 'pending', attempts = 0, next_attempt_at = $2, \
             claimed_by = null, claimed_until = null, updated_at = $2 where delivery_id = $1",
            &[&id, &now],
        )
        .await?;
    if let Some(channel) = channel_of(&found.target) {
        client
            .execute("delete from channel_state where name = $1", &[&channel])
            .await?;
    }
    list_deliveries(client, &DeliveryFilter::default(), Some(id))
        .await?
        .pop()
        .ok_or(StoreError::NotFound)
}

pub(super) async fn disabled_channels(
    client: &impl GenericClient,
) -> Result<Vec<String>, StoreError> {
    let rows = client
        .query("select name from channel_state order by name", &[])
        .await?;
    Ok(rows
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?)
}

/// The publish notification, with the members of each private incident it covers (see the
/// SQLite twin).
pub(super) async fn publish_notification(
    client: &impl GenericClient,
    postmortem: &hindsight_domain::document::Postmortem,
) -> Result<NewNotification, StoreError> {
    let mut private_members: Vec<Vec<Person>> = Vec::new();
    for incident in &postmortem.document.incidents {
        let private: bool = client
            .query_opt(
                "select private from incident where incident_id = $1",
                &[&incident.get()],
            )
            .await?
            .map(|row| row.try_get(0))
            .transpose()?
            .unwrap_or(false);
        if !private {
            continue;
        }
        let rows = client
            .query(
                "select u.user_id, u.display_name, u.email from user_account u \
                 where not u.disabled and u.user_id in (\
                     select m.user_id from incident_member m where m.incident_id = $1 \
                     union select t.user_id from incident_member m \
                     join team_member t on t.team_id = m.team_id where m.incident_id = $1) \
                 order by u.user_id",
                &[&incident.get()],
            )
            .await?;
        let mut people = Vec::with_capacity(rows.len());
        for row in rows {
            let id: i64 = row.try_get(0)?;
            people.push(Person {
                id: UserId::new(id).ok_or_else(|| unexpected("user_id", &id.to_string()))?,
                name: row.try_get(1)?,
                email: row.try_get(2)?,
            });
        }
        private_members.push(people);
    }
    Ok(hindsight_domain::notify::published(
        postmortem,
        private_members,
    ))
}
