//! The timeline's rows on SQLite: events, alert links and deliveries, and chat imports.

use hindsight_domain::incident::next_updated_at;
use hindsight_domain::timeline::{
    self, EventContent, EventId, EventKind, EventSource, KeyTime, NewEvent, TimelineEvent,
    TimelineWrite,
};
use hindsight_domain::{Incident, IncidentId, ValidationErrors};
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::{from_micros, parsed, to_micros};
use crate::{AlertIntake, ImportBatch, ImportOutcome, IntakeOutcome, StoreError, TimelineOutcome};

const EVENT_COLUMNS: &str = "event_id, incident_id, kind, source, occurred_at, author, text, \
     is_key, link, external_id, holds, created_at, updated_at";

fn event_from_row(row: &Row<'_>) -> rusqlite::Result<TimelineEvent> {
    let kind: String = row.get(2)?;
    let source: String = row.get(3)?;
    let holds: Option<String> = row.get(10)?;
    Ok(TimelineEvent {
        id: EventId::new(row.get(0)?).expect("sqlite row ids are positive"),
        incident_id: IncidentId::new(row.get(1)?).expect("sqlite row ids are positive"),
        content: EventContent {
            kind: parsed(2, &kind, EventKind::parse)?,
            occurred_at: from_micros(row.get(4)?)?,
            text: row.get(6)?,
            key: row.get(7)?,
            link: row.get(8)?,
        },
        source: parsed(3, &source, EventSource::parse)?,
        author: row.get(5)?,
        external_id: row.get(9)?,
        holds: holds
            .map(|holds| parsed(10, &holds, KeyTime::parse))
            .transpose()?,
        created_at: from_micros(row.get(11)?)?,
        updated_at: from_micros(row.get(12)?)?,
    })
}

pub(super) fn select_events(
    connection: &Connection,
    incident: IncidentId,
) -> Result<Vec<TimelineEvent>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "select {EVENT_COLUMNS} from timeline_event where incident_id = ?1 \
         order by occurred_at, event_id"
    ))?;
    let events = statement
        .query_map([incident.get()], event_from_row)?
        .collect::<Result<_, _>>()?;
    Ok(events)
}

/// The events holding the incident's key times, and `target` (`NotFound` when it is not one of
/// the incident's events).
pub(super) fn select_holders(
    connection: &Connection,
    incident: IncidentId,
    target: Option<EventId>,
) -> Result<Vec<TimelineEvent>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "select {EVENT_COLUMNS} from timeline_event where incident_id = ?1 \
         and (holds is not null or event_id = ?2)"
    ))?;
    let events: Vec<TimelineEvent> = statement
        .query_map(
            params![incident.get(), target.map(EventId::get)],
            event_from_row,
        )?
        .collect::<Result<_, _>>()?;
    if target.is_some_and(|target| !events.iter().any(|event| event.id == target)) {
        return Err(StoreError::NotFound);
    }
    Ok(events)
}

/// Inserts an event; `None` when the incident holds its `external_id` already.
fn insert_event(
    connection: &Connection,
    incident: IncidentId,
    event: &NewEvent,
    now: Timestamp,
) -> Result<Option<TimelineEvent>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "insert into timeline_event (incident_id, kind, source, occurred_at, author, text, \
         is_key, link, external_id, holds, created_at, updated_at) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) \
         on conflict (incident_id, external_id) where external_id is not null do nothing \
         returning {EVENT_COLUMNS}"
    ))?;
    let content = &event.content;
    Ok(statement
        .query_row(
            params![
                incident.get(),
                content.kind.as_str(),
                event.source.as_str(),
                to_micros(content.occurred_at),
                event.author,
                content.text,
                content.key,
                content.link,
                event.external_id,
                event.holds.map(KeyTime::as_str),
                to_micros(now),
            ],
            event_from_row,
        )
        .optional()?)
}

fn update_event(
    connection: &Connection,
    event: &TimelineEvent,
    now: Timestamp,
) -> Result<TimelineEvent, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "update timeline_event set kind = ?2, occurred_at = ?3, author = ?4, text = ?5, \
         is_key = ?6, link = ?7, holds = ?8, updated_at = ?9 where event_id = ?1 \
         returning {EVENT_COLUMNS}"
    ))?;
    let content = &event.content;
    let updated_at = next_updated_at(now, event.updated_at);
    Ok(statement.query_row(
        params![
            event.id.get(),
            content.kind.as_str(),
            to_micros(content.occurred_at),
            event.author,
            content.text,
            content.key,
            content.link,
            event.holds.map(KeyTime::as_str),
            to_micros(updated_at),
        ],
        event_from_row,
    )?)
}

/// Writes what a timeline change decided, in an order the one-holder-per-key-time index
/// accepts: deletions, then events giving a key time up, then the rest.
pub(super) fn apply(
    connection: &Connection,
    current: &Incident,
    write: TimelineWrite,
    now: Timestamp,
) -> Result<TimelineOutcome, StoreError> {
    let mut incident = current.clone();
    if let Some(content) = write.incident {
        let content = content.into_content();
        let updated_at = next_updated_at(now, current.updated_at);
        super::write_incident_row(connection, current.id, &content, updated_at)?;
        incident.content = content;
        incident.updated_at = updated_at;
    }
    let mut delete = connection.prepare_cached("delete from timeline_event where event_id = ?1")?;
    for id in &write.delete {
        delete.execute([id.get()])?;
    }
    let mut updates = write.update;
    updates.sort_by_key(|event| event.holds.is_some());
    let mut updated = Vec::with_capacity(updates.len());
    for event in &updates {
        updated.push(update_event(connection, event, now)?);
    }
    let mut inserted = Vec::with_capacity(write.insert.len());
    for event in &write.insert {
        inserted.extend(insert_event(connection, current.id, event, now)?);
    }
    Ok(TimelineOutcome {
        incident,
        inserted,
        updated,
    })
}

pub(super) fn record_alert(
    connection: &Connection,
    intake: AlertIntake,
    now: Timestamp,
) -> Result<IntakeOutcome, StoreError> {
    let mut outcome = IntakeOutcome {
        incident_id: None,
        opened: false,
        events_added: 0,
        duplicate: false,
    };
    if let Some(delivery) = &intake.delivery_id {
        let fresh = connection
            .prepare_cached(
                "insert into intake_delivery (source, delivery_id, received_at) \
                 values (?1, ?2, ?3) on conflict do nothing",
            )?
            .execute(params![intake.source, delivery, to_micros(now)])?;
        if fresh == 0 {
            outcome.duplicate = true;
            return Ok(outcome);
        }
    }
    let mut find = connection.prepare_cached(
        "select incident_id from intake_link where source = ?1 and link_key = ?2",
    )?;
    let mut found = None;
    for key in &intake.links {
        found = find
            .query_row(params![intake.source, key], |row| row.get::<_, i64>(0))
            .optional()?;
        if found.is_some() {
            break;
        }
    }
    let incident = match found {
        Some(id) => {
            let id = IncidentId::new(id).expect("stored ids are positive");
            super::select_incident(
                connection,
                id,
                hindsight_domain::access::Visibility::Everything,
            )?
            .ok_or(StoreError::NotFound)?
        }
        None => match intake.open {
            None => return Ok(outcome),
            Some(open) => {
                outcome.opened = true;
                let author = Some(format!("{} alert", intake.source));
                super::insert_incident(connection, open, author, now)?
            }
        },
    };
    outcome.incident_id = Some(incident.id);
    let mut link = connection.prepare_cached(
        "insert into intake_link (source, link_key, incident_id, created_at) \
         values (?1, ?2, ?3, ?4) on conflict do nothing",
    )?;
    for key in &intake.links {
        link.execute(params![
            intake.source,
            key,
            incident.id.get(),
            to_micros(now)
        ])?;
    }
    let mut holds = connection.prepare_cached(
        "select 1 from timeline_event where incident_id = ?1 and external_id = ?2",
    )?;
    let mut held = Vec::new();
    for id in intake
        .events
        .iter()
        .filter_map(|event| event.external_id.as_ref())
    {
        if holds
            .query_row(params![incident.id.get(), id], |_| Ok(()))
            .optional()?
            .is_some()
        {
            held.push(id.clone());
        }
    }
    let holders = select_holders(connection, incident.id, None)?;
    let write = timeline::add_alert_events(&incident, &holders, intake.events, &held, now)?;
    if write.is_empty() {
        return Ok(outcome);
    }
    outcome.events_added = apply(connection, &incident, write, now)?.inserted.len();
    Ok(outcome)
}

pub(super) fn import_events(
    connection: &Connection,
    incident: IncidentId,
    visibility: hindsight_domain::access::Visibility,
    now: Timestamp,
    mut batches: tokio::sync::mpsc::Receiver<ImportBatch>,
) -> Result<ImportOutcome, StoreError> {
    super::select_incident(connection, incident, visibility)?.ok_or(StoreError::NotFound)?;
    let mut outcome = ImportOutcome::default();
    let mut insert = connection.prepare_cached(
        "insert into timeline_event (incident_id, kind, source, occurred_at, author, text, \
         is_key, link, external_id, created_at, updated_at) \
         values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?10) \
         on conflict (incident_id, external_id) where external_id is not null do nothing",
    )?;
    while let Some(batch) = batches.blocking_recv() {
        let events = batch.map_err(|message| ValidationErrors::single("file", message))?;
        for event in &events {
            let content = &event.content;
            let added = insert.execute(params![
                incident.get(),
                content.kind.as_str(),
                event.source.as_str(),
                to_micros(content.occurred_at),
                event.author,
                content.text,
                content.key,
                content.link,
                event.external_id,
                to_micros(now),
            ])?;
            if added == 1 {
                outcome.added += 1;
            } else {
                outcome.skipped += 1;
            }
        }
    }
    Ok(outcome)
}
