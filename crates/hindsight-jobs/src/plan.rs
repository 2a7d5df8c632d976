//! What a job plans: the store is read, the domain decides. Nothing here sends anything; the
//! notifications planned are stored with the job's completion.

use std::collections::{BTreeMap, HashSet};

use hindsight_domain::IncidentId;
use hindsight_domain::access::{UserId, Visibility};
use hindsight_domain::action_item::{ActionItemFilter, ActionStatus};
use hindsight_domain::notify::{
    self, Directory, NewNotification, NotificationKind, PendingReview, Person, Recurrence,
};
use hindsight_domain::postmortem::PostmortemStatus;
use hindsight_store::{Job, PostmortemFilter, Store, StoreError};
use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp, Zoned};

use crate::settings::JobSettings;

/// The most items a sweep reads (the store's own cap on one list).
const MAX_ITEMS: u32 = 5000;

pub async fn run(
    store: &dyn Store,
    settings: &JobSettings,
    job: &Job,
    now: Timestamp,
) -> Result<Vec<NewNotification>, StoreError> {
    let slot = |recurrence: &Recurrence| job.run_at.to_zoned(recurrence.time_zone.clone());
    match job.kind.as_str() {
        crate::REMINDERS => {
            // An hourly sweep belongs to the day of the daily slot before it.
            let today = settings.reminder_time.latest_slot(job.run_at).date();
            reminders(store, settings, today).await
        }
        crate::AGENDA => {
            let Some(recurrence) = &settings.agenda else {
                return Ok(Vec::new());
            };
            let slot = slot(recurrence);
            let since = recurrence.previous_slot(&slot).timestamp();
            let agenda = agenda(store, slot.date(), since, Visibility::PublicOnly).await?;
            Ok(vec![NewNotification::broadcast(
                job.dedupe_key.clone(),
                NotificationKind::Agenda,
                agenda.message(),
            )])
        }
        crate::DIGEST => {
            let today = match &settings.digest {
                Some(recurrence) => slot(recurrence).date(),
                None => return Ok(Vec::new()),
            };
            let digest = digest(store, today, job.run_at.min(now)).await?;
            Ok(vec![NewNotification::broadcast(
                job.dedupe_key.clone(),
                NotificationKind::Digest,
                digest.message(today),
            )])
        }
        other => Err(StoreError::backend_message(format!(
            "no job of kind `{other}` is known"
        ))),
    }
}

/// Everyone who can be told something, and the teams with their leads.
pub async fn directory(store: &dyn Store) -> Result<Directory, StoreError> {
    let people: BTreeMap<UserId, Person> = store
        .list_users()
        .await?
        .into_iter()
        .filter(|user| !user.disabled)
        .map(|user| {
            (
                user.id,
                Person {
                    id: user.id,
                    name: user.display_name,
                    email: user.email,
                },
            )
        })
        .collect();
    Ok(Directory {
        people,
        teams: store.list_teams().await?,
    })
}

fn unfinished() -> ActionItemFilter {
    ActionItemFilter {
        statuses: vec![ActionStatus::Open, ActionStatus::InProgress],
        limit: MAX_ITEMS,
        ..ActionItemFilter::default()
    }
}

/// The daily sweep: every unfinished owned action item and every owed postmortem, whatever
/// became of its incident, gets the reminder its period is owed. A private one is told only to
/// people who may see it.
pub async fn reminders(
    store: &dyn Store,
    settings: &JobSettings,
    today: Date,
) -> Result<Vec<NewNotification>, StoreError> {
    let directory = directory(store).await?;
    let filter = unfinished();
    let items = store
        .list_action_items(&filter, Visibility::Everything)
        .await?;
    let public: HashSet<_> = store
        .list_action_items(&filter, Visibility::PublicOnly)
        .await?
        .into_iter()
        .map(|item| item.id)
        .collect();
    let mut planned = Vec::new();
    for item in &items {
        let private = !public.contains(&item.id);
        for mut notification in
            notify::plan_item_reminder(item, private, today, &settings.reminders, &directory)
        {
            if private {
                let mut members = Vec::new();
                for person in notification.audience.people {
                    if store
                        .get_action_item(item.id, Visibility::MemberOf(person.id))
                        .await?
                        .is_some()
                    {
                        members.push(person);
                    }
                }
                notification.audience.people = members;
            }
            planned.push(notification);
        }
    }
    for pending in owed(store, &directory, Visibility::Everything).await? {
        if let Some(notification) =
            notify::plan_postmortem_reminder(&pending, today, &settings.reminders)
        {
            let allowed = match (&pending.owner, pending.private) {
                (Some(owner), true) => store
                    .get_incident(pending.incident_id, Visibility::MemberOf(owner.id))
                    .await?
                    .is_some(),
                _ => true,
            };
            if allowed {
                planned.push(notification);
            }
        }
    }
    Ok(planned)
}

/// Postmortems owed, as the planner sees them.
async fn owed(
    store: &dyn Store,
    directory: &Directory,
    visibility: Visibility,
) -> Result<Vec<PendingReview>, StoreError> {
    let public: HashSet<IncidentId> = store
        .list_postmortem_debt(Visibility::PublicOnly)
        .await?
        .into_iter()
        .map(|pending| pending.incident_id)
        .collect();
    Ok(store
        .list_postmortem_debt(visibility)
        .await?
        .into_iter()
        .map(|pending| PendingReview {
            incident_id: pending.incident_id,
            incident_title: pending.incident_title,
            severity: pending.severity,
            owner: pending
                .owner
                .and_then(|owner| directory.people.get(&owner.id).cloned()),
            due_on: pending.due_on,
            postmortem_id: pending.postmortem_id,
            private: !public.contains(&pending.incident_id),
        })
        .collect())
}

/// The review agenda as of `today`, with items finished since `since`.
pub async fn agenda(
    store: &dyn Store,
    today: Date,
    since: Timestamp,
    visibility: Visibility,
) -> Result<notify::Agenda, StoreError> {
    let items = store
        .list_action_items(
            &ActionItemFilter {
                limit: MAX_ITEMS,
                ..ActionItemFilter::default()
            },
            visibility,
        )
        .await?;
    Ok(notify::agenda(&items, today, since))
}

/// The weekly digest, of public postmortems only: it goes to shared channels.
pub async fn digest(
    store: &dyn Store,
    today: Date,
    now: Timestamp,
) -> Result<notify::Digest, StoreError> {
    let week_ago = now
        .checked_sub(SignedDuration::from_hours(24 * 7))
        .unwrap_or(now);
    let visibility = Visibility::PublicOnly;
    let published_ones = store
        .list_postmortems(
            &PostmortemFilter {
                status: Some(PostmortemStatus::Published),
                limit: 1000,
                ..PostmortemFilter::default()
            },
            visibility,
        )
        .await?;
    let mut published = Vec::new();
    let mut history = Vec::new();
    for postmortem in published_ones {
        if postmortem.updated_at >= week_ago {
            let revisions = store.list_revisions(postmortem.id, visibility).await?;
            let published_at = revisions
                .iter()
                .find(|revision| revision.status == PostmortemStatus::Published)
                .map(|revision| revision.at);
            if published_at.is_some_and(|at| at >= week_ago && at <= now) {
                published.push(postmortem);
                continue;
            }
        }
        let created = Zoned::new(postmortem.created_at, jiff::tz::TimeZone::UTC).date();
        if notify::same_week_earlier_year(created, today) {
            history.push(postmortem);
        }
    }
    let overdue = store
        .list_action_items(
            &ActionItemFilter {
                overdue_on: Some(today),
                limit: MAX_ITEMS,
                ..ActionItemFilter::default()
            },
            visibility,
        )
        .await?;
    let directory = directory(store).await?;
    let debt = owed(store, &directory, visibility).await?;
    Ok(notify::Digest {
        week_of: today,
        published,
        overdue,
        debt,
        history,
    })
}
