//! Review meetings on PostgreSQL.

use std::collections::BTreeMap;

use deadpool_postgres::GenericClient;
use hindsight_domain::access::UserId;
use hindsight_domain::document::PostmortemId;
use hindsight_domain::meeting::ReviewMeeting;
use hindsight_domain::notify::NewNotification;
use jiff::Timestamp;
use tokio_postgres::types::Json;

use super::jobs;
use crate::{StoreError, meeting_version};

pub(super) async fn get(
    client: &impl GenericClient,
    postmortem: PostmortemId,
) -> Result<Option<ReviewMeeting>, StoreError> {
    let row = client
        .query_opt(
            "select meeting, notes from review_meeting where postmortem_id = $1",
            &[&postmortem.get()],
        )
        .await?;
    row.map(|row| {
        let Json(meeting): Json<ReviewMeeting> = row.try_get(0)?;
        Ok(ReviewMeeting {
            notes: row.try_get(1)?,
            ..meeting
        })
    })
    .transpose()
}

/// Runs inside a transaction; the meeting's row is locked while it is checked and written.
pub(super) async fn save(
    client: &impl GenericClient,
    meeting: ReviewMeeting,
    previous: Option<Timestamp>,
    notifications: &[NewNotification],
    now: Timestamp,
) -> Result<ReviewMeeting, StoreError> {
    let id = meeting.postmortem_id.get();
    // A postmortem's row serialises two first schedulings of the same meeting.
    client
        .execute(
            "select 1 from postmortem where postmortem_id = $1 for update",
            &[&id],
        )
        .await?;
    let stored = client
        .query_opt(
            "select status, updated_at from review_meeting where postmortem_id = $1 for update",
            &[&id],
        )
        .await?
        .map(|row| -> Result<(String, Timestamp), StoreError> {
            Ok((row.try_get(0)?, row.try_get(1)?))
        })
        .transpose()?;
    let mut meeting = meeting;
    meeting.updated_at = meeting_version(
        previous,
        stored.as_ref().map(|(status, at)| (status.as_str(), *at)),
        now,
    )?;
    let notes = std::mem::take(&mut meeting.notes);
    let moderator = meeting.moderator.as_ref().map(|m| m.id.get());
    client
        .execute(
            "insert into review_meeting (postmortem_id, uid, sequence, status, starts_at, \
             moderator_id, meeting, notes, created_at, updated_at) \
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             on conflict (postmortem_id) do update set uid = excluded.uid, \
             sequence = excluded.sequence, status = excluded.status, \
             starts_at = excluded.starts_at, moderator_id = excluded.moderator_id, \
             meeting = excluded.meeting, \
             notes = case when $11 then review_meeting.notes else excluded.notes end, \
             created_at = excluded.created_at, updated_at = excluded.updated_at",
            &[
                &id,
                &meeting.uid,
                &(meeting.sequence as i32),
                &meeting.status.as_str(),
                &meeting.starts_at,
                &moderator,
                &Json(&meeting),
                &notes,
                &meeting.created_at,
                &meeting.updated_at,
                &previous.is_some(),
            ],
        )
        .await
        .map_err(|error| super::unique_violation(error, "a meeting with this uid exists"))?;
    jobs::insert_notifications(client, notifications, now).await?;
    Ok(get(client, meeting.postmortem_id)
        .await?
        .expect("just written"))
}

pub(super) async fn save_notes(
    client: &impl GenericClient,
    postmortem: PostmortemId,
    notes: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    Ok(client
        .execute(
            "update review_meeting set notes = $2, notes_updated_at = $3 \
             where postmortem_id = $1 and status <> 'cancelled'",
            &[&postmortem.get(), &notes, &now],
        )
        .await?
        == 1)
}

pub(super) async fn moderated(
    client: &impl GenericClient,
) -> Result<BTreeMap<UserId, Timestamp>, StoreError> {
    let rows = client
        .query(
            "select moderator_id, max(starts_at) from review_meeting \
             where moderator_id is not null and status <> 'cancelled' group by moderator_id",
            &[],
        )
        .await?;
    let mut out = BTreeMap::new();
    for row in rows {
        if let Some(id) = UserId::new(row.try_get(0)?) {
            out.insert(id, row.try_get(1)?);
        }
    }
    Ok(out)
}
