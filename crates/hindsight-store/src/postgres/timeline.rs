//! The timeline's rows on PostgreSQL: events, alert links and deliveries, and chat imports.

use deadpool_postgres::GenericClient;
use hindsight_domain::access::Visibility;
use hindsight_domain::incident::next_updated_at;
use hindsight_domain::timeline::{
    self, EventContent, EventId, EventKind, EventSource, KeyTime, NewEvent, TimelineEvent,
    TimelineWrite,
};
use hindsight_domain::{Incident, IncidentId, ValidationErrors};
use jiff::Timestamp;
use tokio_postgres::Row;

use super::unexpected;
use crate::{AlertIntake, ImportBatch, ImportOutcome, IntakeOutcome, StoreError, TimelineOutcome};

const EVENT_COLUMNS: &str = "event_id, incident_id, kind, source, occurred_at, author, text, \
     is_key, link, external_id, holds, created_at, updated_at";

fn event_from_row(row: &Row) -> Result<TimelineEvent, StoreError> {
    let kind: String = row.try_get("kind")?;
    let source: String = row.try_get("source")?;
    let holds: Option<String> = row.try_get("holds")?;
    let id: i64 = row.try_get("event_id")?;
    let incident: i64 = row.try_get("incident_id")?;
    Ok(TimelineEvent {
        id: EventId::new(id).ok_or_else(|| unexpected("event_id", &id.to_string()))?,
        incident_id: IncidentId::new(incident)
            .ok_or_else(|| unexpected("incident_id", &incident.to_string()))?,
        content: EventContent {
            kind: EventKind::parse(&kind).ok_or_else(|| unexpected("kind", &kind))?,
            occurred_at: row.try_get("occurred_at")?,
            text: row.try_get("text")?,
            key: row.try_get("is_key")?,
            link: row.try_get("link")?,
        },
        source: EventSource::parse(&source).ok_or_else(|| unexpected("source", &source))?,
        author: row.try_get("author")?,
        external_id: row.try_get("external_id")?,
        holds: holds
            .map(|holds| KeyTime::parse(&holds).ok_or_else(|| unexpected("holds", &holds)))
            .transpose()?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

pub(super) async fn select_events(
    client: &impl GenericClient,
    incident: IncidentId,
) -> Result<Vec<TimelineEvent>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "select {EVENT_COLUMNS} from timeline_event where incident_id = $1 \
             order by occurred_at, event_id"
        ))
        .await?;
    client
        .query(&statement, &[&incident.get()])
        .await?
        .iter()
        .map(event_from_row)
        .collect()
}

/// The events holding the incident's key times, and `target` (`NotFound` when it is not one of
/// the incident's events).
pub(super) async fn select_holders(
    client: &impl GenericClient,
    incident: IncidentId,
    target: Option<EventId>,
) -> Result<Vec<TimelineEvent>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "select {EVENT_COLUMNS} from timeline_event where incident_id = $1 \
             and (holds is not null or event_id = $2)"
        ))
        .await?;
    let events: Vec<TimelineEvent> = client
        .query(&statement, &[&incident.get(), &target.map(EventId::get)])
        .await?
        .iter()
        .map(event_from_row)
        .collect::<Result<_, _>>()?;
    if target.is_some_and(|target| !events.iter().any(|event| event.id == target)) {
        return Err(StoreError::NotFound);
    }
    Ok(events)
}

async fn insert_event(
    client: &impl GenericClient,
    incident: IncidentId,
    event: &NewEvent,
    now: Timestamp,
) -> Result<Option<TimelineEvent>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "insert into timeline_event (incident_id, kind, source, occurred_at, author, text, \
             is_key, link, external_id, holds, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) \
             on conflict (incident_id, external_id) where external_id is not null do nothing \
             returning {EVENT_COLUMNS}"
        ))
        .await?;
    let content = &event.content;
    client
        .query_opt(
            &statement,
            &[
                &incident.get(),
                &content.kind.as_str(),
                &event.source.as_str(),
                &content.occurred_at,
                &event.author,
                &content.text,
                &content.key,
                &content.link,
                &event.external_id,
                &event.holds.map(KeyTime::as_str),
                &now,
            ],
        )
        .await?
        .as_ref()
        .map(event_from_row)
        .transpose()
}

async fn update_event(
    client: &impl GenericClient,
    event: &TimelineEvent,
    now: Timestamp,
) -> Result<TimelineEvent, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "update timeline_event set kind = $2, occurred_at = $3, author = $4, text = $5, \
             is_key = $6, link = $7, holds = $8, updated_at = $9 where event_id = $1 \
             returning {EVENT_COLUMNS}"
        ))
        .await?;
    let content = &event.content;
    let updated_at = next_updated_at(now, event.updated_at);
    let row = client
        .query_one(
            &statement,
            &[
                &event.id.get(),
                &content.kind.as_str(),
                &content.occurred_at,
                &event.author,
                &content.text,
                &content.key,
                &content.link,
                &event.holds.map(KeyTime::as_str),
                &updated_at,
            ],
        )
        .await?;
    event_from_row(&row)
}

/// Writes what a timeline change decided, in an order the one-holder-per-key-time index
/// accepts: deletions, then events giving a key time up, then the rest.
pub(super) async fn apply(
    client: &impl GenericClient,
    current: &Incident,
    write: TimelineWrite,
    now: Timestamp,
) -> Result<TimelineOutcome, StoreError> {
    let mut incident = current.clone();
    if let Some(content) = write.incident {
        let content = content.into_content();
        let updated_at = next_updated_at(now, current.updated_at);
        super::write_incident_row(client, current.id, &content, updated_at).await?;
        incident.content = content;
        incident.updated_at = updated_at;
    }
    if !write.delete.is_empty() {
        let ids: Vec<i64> = write.delete.iter().map(|id| id.get()).collect();
        client
            .execute(
                "delete from timeline_event where event_id = any($1)",
                &[&ids],
            )
            .await?;
    }
    let mut updates = write.update;
    updates.sort_by_key(|event| event.holds.is_some());
    let mut updated = Vec::with_capacity(updates.len());
    for event in &updates {
        updated.push(update_event(client, event, now).await?);
    }
    let mut inserted = Vec::with_capacity(write.insert.len());
    for event in &write.insert {
        inserted.extend(insert_event(client, current.id, event, now).await?);
    }
    Ok(TimelineOutcome {
        incident,
        inserted,
        updated,
    })
}

pub(super) async fn record_alert(
    client: &impl GenericClient,
    intake: AlertIntake,
    now: Timestamp,
) -> Result<IntakeOutcome, StoreError> {
    let mut outcome = IntakeOutcome {
        incident_id: None,
        opened: false,
        events_added: 0,
        duplicate: false,
    };
    // Deliveries of one source are handled one at a time across instances, so two copies of
    // the same alert arriving together cannot both open an incident.
    client
        .execute(
            "select pg_advisory_xact_lock(hashtext('hindsight intake ' || $1))",
            &[&intake.source],
        )
        .await?;
    if let Some(delivery) = &intake.delivery_id {
        let fresh = client
            .execute(
                "insert into intake_delivery (source, delivery_id, received_at) \
                 values ($1, $2, $3) on conflict do nothing",
                &[&intake.source, delivery, &now],
            )
            .await?;
        if fresh == 0 {
            outcome.duplicate = true;
            return Ok(outcome);
        }
    }
    let found: Option<i64> = client
        .query_opt(
            "select incident_id from intake_link where source = $1 and link_key = any($2) \
             order by array_position($2, link_key) limit 1",
            &[&intake.source, &intake.links],
        )
        .await?
        .map(|row| row.get(0));
    let incident = match found {
        Some(id) => {
            let id =
                IncidentId::new(id).ok_or_else(|| unexpected("incident_id", &id.to_string()))?;
            super::select_incident(client, id, Visibility::Everything, true)
                .await?
                .ok_or(StoreError::NotFound)?
        }
        None => match intake.open {
            None => return Ok(outcome),
            Some(open) => {
                outcome.opened = true;
                let author = Some(format!("{} alert", intake.source));
                super::insert_incident(client, open, author, now).await?
            }
        },
    };
    outcome.incident_id = Some(incident.id);
    let link = client
        .prepare_cached(
            "insert into intake_link (source, link_key, incident_id, created_at) \
             values ($1, $2, $3, $4) on conflict do nothing",
        )
        .await?;
    for key in &intake.links {
        client
            .execute(&link, &[&intake.source, key, &incident.id.get(), &now])
            .await?;
    }
    let external: Vec<Option<String>> = intake
        .events
        .iter()
        .map(|event| event.external_id.clone())
        .collect();
    let held: Vec<String> = client
        .query(
            "select external_id from timeline_event where incident_id = $1 \
             and external_id = any($2)",
            &[&incident.id.get(), &external],
        )
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let holders = select_holders(client, incident.id, None).await?;
    let write = timeline::add_alert_events(&incident, &holders, intake.events, &held, now)?;
    if write.is_empty() {
        return Ok(outcome);
    }
    outcome.events_added = apply(client, &incident, write, now).await?.inserted.len();
    Ok(outcome)
}

pub(super) async fn import_events(
    client: &impl GenericClient,
    incident: IncidentId,
    visibility: Visibility,
    now: Timestamp,
    mut batches: tokio::sync::mpsc::Receiver<ImportBatch>,
) -> Result<ImportOutcome, StoreError> {
    super::select_incident(client, incident, visibility, false)
        .await?
        .ok_or(StoreError::NotFound)?;
    let statement = client
        .prepare_cached(
            "insert into timeline_event (incident_id, kind, source, occurred_at, author, text, \
             is_key, link, external_id, created_at, updated_at) \
             select $1, kind, source, occurred_at, author, text, is_key, link, external_id, \
             $2, $2 from unnest($3::text[], $4::text[], $5::timestamptz[], $6::text[], \
             $7::text[], $8::boolean[], $9::text[], $10::text[]) \
             as t(kind, source, occurred_at, author, text, is_key, link, external_id) \
             on conflict (incident_id, external_id) where external_id is not null do nothing",
        )
        .await?;
    let mut outcome = ImportOutcome::default();
    while let Some(batch) = batches.recv().await {
        let events = batch.map_err(|message| ValidationErrors::single("file", message))?;
        let kinds: Vec<&str> = events.iter().map(|e| e.content.kind.as_str()).collect();
        let sources: Vec<&str> = events.iter().map(|e| e.source.as_str()).collect();
        let times: Vec<Timestamp> = events.iter().map(|e| e.content.occurred_at).collect();
        let authors: Vec<Option<&str>> = events.iter().map(|e| e.author.as_deref()).collect();
        let texts: Vec<&str> = events.iter().map(|e| e.content.text.as_str()).collect();
        let keys: Vec<bool> = events.iter().map(|e| e.content.key).collect();
        let links: Vec<Option<&str>> = events.iter().map(|e| e.content.link.as_deref()).collect();
        let ids: Vec<Option<&str>> = events.iter().map(|e| e.external_id.as_deref()).collect();
        let added = client
            .execute(
                &statement,
                &[
                    &incident.get(),
                    &now,
                    &kinds,
                    &sources,
                    &times,
                    &authors,
                    &texts,
                    &keys,
                    &links,
                    &ids,
                ],
            )
            .await?;
        outcome.added += added;
        outcome.skipped += events.len() as u64 - added;
    }
    Ok(outcome)
}
