//! Review meetings on SQLite.

use std::collections::BTreeMap;

use hindsight_domain::access::UserId;
use hindsight_domain::document::PostmortemId;
use hindsight_domain::meeting::ReviewMeeting;
use hindsight_domain::notify::NewNotification;
use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};

use super::{from_micros, jobs, json, to_json, to_micros};
use crate::StoreError;
use crate::meeting_version;

pub(super) fn get(
    connection: &Connection,
    postmortem: PostmortemId,
) -> Result<Option<ReviewMeeting>, StoreError> {
    let row = connection
        .prepare_cached("select meeting, notes from review_meeting where postmortem_id = ?1")?
        .query_row(params![postmortem.get()], |row| {
            let meeting: ReviewMeeting = json(0, &row.get::<_, String>(0)?)?;
            Ok(ReviewMeeting {
                notes: row.get(1)?,
                ..meeting
            })
        })
        .optional()?;
    Ok(row)
}

pub(super) fn save(
    connection: &Connection,
    meeting: ReviewMeeting,
    previous: Option<Timestamp>,
    notifications: &[NewNotification],
    now: Timestamp,
) -> Result<ReviewMeeting, StoreError> {
    let id = meeting.postmortem_id.get();
    let stored: Option<(String, Timestamp)> = connection
        .prepare_cached("select status, updated_at from review_meeting where postmortem_id = ?1")?
        .query_row(params![id], |row| {
            Ok((row.get(0)?, from_micros(row.get(1)?)?))
        })
        .optional()?;
    let mut meeting = meeting;
    meeting.updated_at = meeting_version(
        previous,
        stored.as_ref().map(|(status, at)| (status.as_str(), *at)),
        now,
    )?;
    let notes = std::mem::take(&mut meeting.notes);
    connection
        .prepare_cached(
            "insert into review_meeting (postmortem_id, uid, sequence, status, starts_at, \
             moderator_id, meeting, notes, created_at, updated_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
             on conflict (postmortem_id) do update set uid = excluded.uid, \
             sequence = excluded.sequence, status = excluded.status, \
             starts_at = excluded.starts_at, moderator_id = excluded.moderator_id, \
             meeting = excluded.meeting, \
             notes = case when ?11 then review_meeting.notes else excluded.notes end, \
             created_at = excluded.created_at, updated_at = excluded.updated_at",
        )?
        .execute(params![
            id,
            meeting.uid,
            meeting.sequence,
            meeting.status.as_str(),
            to_micros(meeting.starts_at),
            meeting.moderator.as_ref().map(|m| m.id.get()),
            to_json(&meeting),
            notes,
            to_micros(meeting.created_at),
            to_micros(meeting.updated_at),
            previous.is_some(),
        ])
        .map_err(|error| super::unique_violation(error, "a meeting with this uid exists"))?;
    jobs::insert_notifications(connection, notifications, now)?;
    Ok(get(connection, meeting.postmortem_id)?.expect("just written"))
}

pub(super) fn save_notes(
    connection: &Connection,
    postmortem: PostmortemId,
    notes: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    Ok(connection
        .prepare_cached(
            "update review_meeting set notes = ?2, notes_updated_at = ?3 \
             where postmortem_id = ?1 and status <> 'cancelled'",
        )?
        .execute(params![postmortem.get(), notes, to_micros(now)])?
        == 1)
}

pub(super) fn moderated(
    connection: &Connection,
) -> Result<BTreeMap<UserId, Timestamp>, StoreError> {
    let mut statement = connection.prepare_cached(
        "select moderator_id, max(starts_at) from review_meeting \
         where moderator_id is not null and status <> 'cancelled' group by moderator_id",
    )?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, i64>(0)?, from_micros(row.get(1)?)?))
    })?;
    let mut out = BTreeMap::new();
    for row in rows {
        let (id, at) = row?;
        if let Some(id) = UserId::new(id) {
            out.insert(id, at);
        }
    }
    Ok(out)
}
