//! The policy's rows and action items on PostgreSQL: decisions, overrides, requests, pending
//! postmortems and the items that follow a postmortem.

use deadpool_postgres::GenericClient;
use hindsight_domain::access::{TeamId, UserId, Visibility};
use hindsight_domain::action_item::{
    ActionItem, ActionItemContent, ActionItemFilter, ActionItemId, ActionKind, ActionStatus, Owner,
    Priority, Scale,
};
use hindsight_domain::document::{Author, PostmortemId};
use hindsight_domain::policy::{
    PolicyDecision, PolicyOutcome, PolicyOverride, PostmortemRequest, override_in_force,
};
use hindsight_domain::postmortem::PostmortemStatus;
use hindsight_domain::{IncidentId, Severity, ValidationErrors};
use jiff::Timestamp;
use jiff::civil::Date;
use tokio_postgres::Row;
use tokio_postgres::types::{Json, ToSql};

use super::{
    postmortem_visible, select_incident, select_postmortem, unexpected, visibility_values, visible,
};
use crate::{
    ActionItemChange, DecisionRecord, PendingPostmortem, PolicyJudgement, PolicyState, StoreError,
    UserRef,
};

fn author(row: &Row, id: usize, name: usize) -> Result<Author, StoreError> {
    Ok(Author {
        user_id: row.try_get::<_, Option<i64>>(id)?.and_then(UserId::new),
        name: row.try_get(name)?,
    })
}

fn parse<T>(column: &str, text: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| unexpected(column, text))
}

async fn requests(
    client: &impl GenericClient,
    incident: IncidentId,
) -> Result<Vec<PostmortemRequest>, StoreError> {
    let statement = client
        .prepare_cached(
            "select author_id, author_name, reason, created_at from postmortem_request \
             where incident_id = $1 order by postmortem_request_id",
        )
        .await?;
    client
        .query(&statement, &[&incident.get()])
        .await?
        .iter()
        .map(|row| {
            Ok(PostmortemRequest {
                requested_by: author(row, 0, 1)?,
                reason: row.try_get(2)?,
                at: row.try_get(3)?,
            })
        })
        .collect()
}

async fn overrides(
    client: &impl GenericClient,
    incident: IncidentId,
) -> Result<Vec<PolicyOverride>, StoreError> {
    let statement = client
        .prepare_cached(
            "select outcome, justification, author_id, author_name, created_at \
             from policy_override where incident_id = $1 order by policy_override_id",
        )
        .await?;
    client
        .query(&statement, &[&incident.get()])
        .await?
        .iter()
        .map(|row| {
            let outcome: Option<String> = row.try_get(0)?;
            Ok(PolicyOverride {
                outcome: outcome
                    .map(|text| parse("outcome", &text, PolicyOutcome::parse))
                    .transpose()?,
                justification: row.try_get(1)?,
                by: author(row, 2, 3)?,
                at: row.try_get(4)?,
            })
        })
        .collect()
}

async fn history(
    client: &impl GenericClient,
    incident: IncidentId,
) -> Result<Vec<DecisionRecord>, StoreError> {
    let statement = client
        .prepare_cached(
            "select decision, created_at from policy_decision where incident_id = $1 \
             order by policy_decision_id",
        )
        .await?;
    client
        .query(&statement, &[&incident.get()])
        .await?
        .iter()
        .map(|row| {
            let Json(decision): Json<PolicyDecision> = row.try_get(0)?;
            Ok(DecisionRecord {
                decision,
                at: row.try_get(1)?,
            })
        })
        .collect()
}

async fn pending(
    client: &impl GenericClient,
    incident: Option<IncidentId>,
    visibility: Visibility,
) -> Result<Vec<PendingPostmortem>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "select incident.incident_id, incident.title, incident.severity, \
             incident.resolved_at, pp.owner_id, u.display_name, pp.due_on, pp.created_at, \
             newest.postmortem_id, newest.status \
             from pending_postmortem pp join incident on incident.incident_id = pp.incident_id \
             left join user_account u on u.user_id = pp.owner_id \
             left join postmortem newest on newest.postmortem_id = (select max(pi.postmortem_id) \
             from postmortem_incident pi where pi.incident_id = pp.incident_id) \
             where {} and ($3::bigint is null or pp.incident_id = $3) \
             and not exists (select 1 from postmortem_incident pi join postmortem p \
             on p.postmortem_id = pi.postmortem_id \
             where pi.incident_id = pp.incident_id and p.status = 'published') \
             order by pp.due_on is null, pp.due_on, pp.incident_id",
            visible(1, 2)
        ))
        .await?;
    let (everything, user) = visibility_values(visibility);
    client
        .query(
            &statement,
            &[&everything, &user, &incident.map(IncidentId::get)],
        )
        .await?
        .iter()
        .map(|row| {
            let severity: String = row.try_get(2)?;
            let owner_id: Option<i64> = row.try_get(4)?;
            let status: Option<String> = row.try_get(9)?;
            Ok(PendingPostmortem {
                incident_id: IncidentId::new(row.try_get(0)?)
                    .ok_or_else(|| unexpected("incident_id", "0"))?,
                incident_title: row.try_get(1)?,
                severity: parse("severity", &severity, Severity::parse)?,
                resolved_at: row.try_get(3)?,
                owner: match owner_id.and_then(UserId::new) {
                    Some(id) => Some(UserRef {
                        id,
                        name: row.try_get(5)?,
                    }),
                    None => None,
                },
                due_on: row.try_get::<_, Option<Date>>(6)?,
                since: row.try_get(7)?,
                postmortem_id: row
                    .try_get::<_, Option<i64>>(8)?
                    .and_then(PostmortemId::new),
                postmortem_status: status
                    .map(|text| parse("status", &text, PostmortemStatus::parse))
                    .transpose()?,
            })
        })
        .collect()
}

pub(super) async fn policy_state(
    client: &impl GenericClient,
    incident: IncidentId,
    visibility: Visibility,
) -> Result<Option<PolicyState>, StoreError> {
    if select_incident(client, incident, visibility, false)
        .await?
        .is_none()
    {
        return Ok(None);
    }
    Ok(Some(PolicyState::assemble(
        incident,
        history(client, incident).await?,
        overrides(client, incident).await?,
        requests(client, incident).await?,
        pending(client, Some(incident), visibility)
            .await?
            .into_iter()
            .next(),
    )))
}

/// Runs in the caller's transaction; the incident's row lock makes concurrent judgements of one
/// incident take turns.
pub(super) async fn judge_incident(
    client: &impl GenericClient,
    id: IncidentId,
    now: Timestamp,
    judgement: PolicyJudgement,
) -> Result<PolicyState, StoreError> {
    let incident = select_incident(client, id, Visibility::Everything, true)
        .await?
        .ok_or(StoreError::NotFound)?;
    let requests = requests(client, id).await?;
    let overrides = overrides(client, id).await?;
    let verdict = judgement(&incident, &requests, override_in_force(&overrides));
    let latest = history(client, id).await?.pop();
    if latest.is_none_or(|latest| latest.decision != verdict.decision) {
        client
            .execute(
                "insert into policy_decision (incident_id, outcome, decision, created_at, \
                 updated_at) values ($1, $2, $3, $4, $4)",
                &[
                    &id.get(),
                    &verdict.decision.outcome.as_str(),
                    &Json(&verdict.decision),
                    &now,
                ],
            )
            .await?;
    }
    match verdict.pending {
        Some(plan) => {
            let mut owner: Option<i64> = None;
            for candidate in &plan.owner_candidates {
                owner = client
                    .query_opt(
                        "select user_id from user_account where not disabled and \
                         (lower(email) = lower($1) or lower(display_name) = lower($1)) \
                         order by user_id limit 1",
                        &[candidate],
                    )
                    .await?
                    .map(|row| row.try_get(0))
                    .transpose()?;
                if owner.is_some() {
                    break;
                }
            }
            client
                .execute(
                    "insert into pending_postmortem (incident_id, owner_id, due_on, created_at, \
                     updated_at) values ($1, $2, $3, $4, $4) on conflict (incident_id) do update \
                     set owner_id = coalesce(excluded.owner_id, pending_postmortem.owner_id), \
                     due_on = excluded.due_on, updated_at = excluded.updated_at \
                     where pending_postmortem.owner_id is distinct from \
                     coalesce(excluded.owner_id, pending_postmortem.owner_id) \
                     or pending_postmortem.due_on is distinct from excluded.due_on",
                    &[&id.get(), &owner, &plan.due_on, &now],
                )
                .await?;
        }
        None => {
            client
                .execute(
                    "delete from pending_postmortem where incident_id = $1",
                    &[&id.get()],
                )
                .await?;
        }
    }
    policy_state(client, id, Visibility::Everything)
        .await?
        .ok_or(StoreError::NotFound)
}

pub(super) async fn request_postmortem(
    client: &impl GenericClient,
    incident: IncidentId,
    visibility: Visibility,
    request: PostmortemRequest,
) -> Result<(), StoreError> {
    select_incident(client, incident, visibility, false)
        .await?
        .ok_or(StoreError::NotFound)?;
    client
        .execute(
            "insert into postmortem_request (incident_id, reason, author_id, author_name, \
             created_at, updated_at) values ($1, $2, $3, $4, $5, $5)",
            &[
                &incident.get(),
                &request.reason,
                &request.requested_by.user_id.map(UserId::get),
                &request.requested_by.name,
                &request.at,
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn override_policy(
    client: &impl GenericClient,
    incident: IncidentId,
    visibility: Visibility,
    override_: PolicyOverride,
) -> Result<(), StoreError> {
    select_incident(client, incident, visibility, false)
        .await?
        .ok_or(StoreError::NotFound)?;
    client
        .execute(
            "insert into policy_override (incident_id, outcome, justification, author_id, \
             author_name, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $6)",
            &[
                &incident.get(),
                &override_.outcome.map(PolicyOutcome::as_str),
                &override_.justification,
                &override_.by.user_id.map(UserId::get),
                &override_.by.name,
                &override_.at,
            ],
        )
        .await?;
    Ok(())
}

pub(super) async fn list_debt(
    client: &impl GenericClient,
    visibility: Visibility,
) -> Result<Vec<PendingPostmortem>, StoreError> {
    pending(client, None, visibility).await
}

const ITEM_SELECT: &str = "select a.action_item_id, a.postmortem_id, a.title, a.description, \
     a.owner_user_id, a.owner_team_id, a.due_on, a.priority, a.effort, a.impact, a.kind, \
     a.addresses, a.tracker_url, a.status, a.verification, a.not_doing_reason, \
     coalesce(u.display_name, t.name), postmortem.title, array(select pi.incident_id \
     from postmortem_incident pi where pi.postmortem_id = a.postmortem_id \
     order by pi.incident_id), a.created_at, a.updated_at, a.finished_at \
     from action_item a join postmortem on postmortem.postmortem_id = a.postmortem_id \
     left join user_account u on u.user_id = a.owner_user_id \
     left join team t on t.team_id = a.owner_team_id";

/// Unfinished first, then priority, then low effort and high impact, then the earliest due.
const ITEM_ORDER: &str = "a.status in ('done', 'not_doing'), a.priority, \
     (case a.effort when 'low' then 0 when 'medium' then 1 else 2 end) - \
     (case a.impact when 'low' then 0 when 'medium' then 1 else 2 end), a.due_on, \
     a.action_item_id";

fn item_from_row(row: &Row) -> Result<ActionItem, StoreError> {
    let text = |index: usize| -> Result<String, StoreError> { Ok(row.try_get(index)?) };
    let owner = match (
        row.try_get::<_, Option<i64>>(4)?.and_then(UserId::new),
        row.try_get::<_, Option<i64>>(5)?.and_then(TeamId::new),
    ) {
        (Some(user), _) => Some(Owner::User(user)),
        (None, Some(team)) => Some(Owner::Team(team)),
        (None, None) => None,
    };
    let incidents: Vec<i64> = row.try_get(18)?;
    Ok(ActionItem {
        id: ActionItemId::new(row.try_get(0)?).ok_or_else(|| unexpected("action_item_id", "0"))?,
        postmortem_id: PostmortemId::new(row.try_get(1)?)
            .ok_or_else(|| unexpected("postmortem_id", "0"))?,
        content: ActionItemContent {
            title: text(2)?,
            description: text(3)?,
            owner,
            due_on: row.try_get(6)?,
            priority: parse("priority", &text(7)?, Priority::parse)?,
            effort: parse("effort", &text(8)?, Scale::parse)?,
            impact: parse("impact", &text(9)?, Scale::parse)?,
            kind: parse("kind", &text(10)?, ActionKind::parse)?,
            addresses: row.try_get(11)?,
            tracker_url: row.try_get(12)?,
            status: parse("status", &text(13)?, ActionStatus::parse)?,
            verification: row.try_get(14)?,
            not_doing_reason: row.try_get(15)?,
        },
        owner_name: row.try_get(16)?,
        postmortem_title: text(17)?,
        incidents: incidents.into_iter().filter_map(IncidentId::new).collect(),
        created_at: row.try_get(19)?,
        updated_at: row.try_get(20)?,
        finished_at: row.try_get(21)?,
    })
}

async fn select_item(
    client: &impl GenericClient,
    id: ActionItemId,
    visibility: Visibility,
    lock: bool,
) -> Result<Option<ActionItem>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "{ITEM_SELECT} where a.action_item_id = $3 and {}{}",
            postmortem_visible(1, 2),
            if lock { " for update of a" } else { "" }
        ))
        .await?;
    let (everything, user) = visibility_values(visibility);
    client
        .query_opt(&statement, &[&everything, &user, &id.get()])
        .await?
        .map(|row| item_from_row(&row))
        .transpose()
}

/// What a writer sets on an item, as the values bound to `$2` to `$15` (in [`ITEM_CONTENT`]
/// order); inserts and updates bind the same list.
struct ItemValues {
    title: String,
    description: String,
    owner_user: Option<i64>,
    owner_team: Option<i64>,
    due_on: Date,
    words: [&'static str; 5],
    addresses: Option<String>,
    tracker_url: Option<String>,
    verification: Option<String>,
    not_doing_reason: Option<String>,
}

impl ItemValues {
    fn of(content: ActionItemContent) -> Self {
        let (owner_user, owner_team) = crate::owner_ids(content.owner);
        Self {
            title: content.title,
            description: content.description,
            owner_user,
            owner_team,
            due_on: content.due_on,
            words: [
                content.priority.as_str(),
                content.effort.as_str(),
                content.impact.as_str(),
                content.kind.as_str(),
                content.status.as_str(),
            ],
            addresses: content.addresses,
            tracker_url: content.tracker_url,
            verification: content.verification,
            not_doing_reason: content.not_doing_reason,
        }
    }

    /// `key` as `$1`, these as `$2` to `$15`, then `rest`.
    fn bind<'a>(
        &'a self,
        key: &'a i64,
        rest: &[&'a (dyn ToSql + Sync)],
    ) -> Vec<&'a (dyn ToSql + Sync)> {
        let [priority, effort, impact, kind, status] = &self.words;
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![
            key,
            &self.title,
            &self.description,
            &self.owner_user,
            &self.owner_team,
            &self.due_on,
            priority,
            effort,
            impact,
            kind,
            &self.addresses,
            &self.tracker_url,
            status,
            &self.verification,
            &self.not_doing_reason,
        ];
        values.extend_from_slice(rest);
        values
    }
}

/// The columns a writer sets, bound as `$2` to `$15`.
const ITEM_CONTENT: &str = "title, description, owner_user_id, owner_team_id, due_on, priority, \
     effort, impact, kind, addresses, tracker_url, status, verification, not_doing_reason";

/// The only references an item's row makes besides its postmortem are its owner.
fn owner_violation(error: tokio_postgres::Error) -> StoreError {
    if error.code() == Some(&tokio_postgres::error::SqlState::FOREIGN_KEY_VIOLATION) {
        StoreError::Invalid(ValidationErrors::single(
            "owner",
            "there is no such user or team",
        ))
    } else {
        StoreError::from(error)
    }
}

pub(super) async fn create_item(
    client: &impl GenericClient,
    postmortem: PostmortemId,
    visibility: Visibility,
    content: ActionItemContent,
    author: Author,
    now: Timestamp,
) -> Result<ActionItem, StoreError> {
    select_postmortem(client, postmortem, visibility, false)
        .await?
        .ok_or(StoreError::NotFound)?;
    let finished = content.status.is_finished().then_some(now);
    let values = ItemValues::of(content);
    let author_id = author.user_id.map(UserId::get);
    let row = client
        .query_one(
            &format!(
                "insert into action_item (postmortem_id, {ITEM_CONTENT}, created_by_id, \
                 created_by_name, created_at, updated_at, finished_at) values ($1, $2, $3, $4, \
                 $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18, $19) \
                 returning action_item_id"
            ),
            &values.bind(
                &postmortem.get(),
                &[&author_id, &author.name, &now, &finished],
            ),
        )
        .await
        .map_err(owner_violation)?;
    let id = ActionItemId::new(row.try_get(0)?).ok_or_else(|| unexpected("action_item_id", "0"))?;
    select_item(client, id, Visibility::Everything, false)
        .await?
        .ok_or(StoreError::NotFound)
}

pub(super) async fn get_item(
    client: &impl GenericClient,
    id: ActionItemId,
    visibility: Visibility,
) -> Result<Option<ActionItem>, StoreError> {
    select_item(client, id, visibility, false).await
}

pub(super) async fn update_item(
    client: &impl GenericClient,
    id: ActionItemId,
    visibility: Visibility,
    now: Timestamp,
    change: ActionItemChange,
) -> Result<ActionItem, StoreError> {
    let current = select_item(client, id, visibility, true)
        .await?
        .ok_or(StoreError::NotFound)?;
    let content = change(&current)?;
    if content == current.content {
        return Ok(current);
    }
    let finished_at = match (current.content.status, content.status) {
        (before, after) if before == after => current.finished_at,
        (_, after) if after.is_finished() => Some(now),
        _ => None,
    };
    let values = ItemValues::of(content);
    client
        .execute(
            &format!(
                "update action_item set ({ITEM_CONTENT}, updated_at, finished_at) = ($2, $3, $4, \
                 $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, greatest($16, updated_at + \
                 interval '1 microsecond'), $17) where action_item_id = $1"
            ),
            &values.bind(&id.get(), &[&now, &finished_at]),
        )
        .await
        .map_err(owner_violation)?;
    select_item(client, id, Visibility::Everything, false)
        .await?
        .ok_or(StoreError::NotFound)
}

pub(super) async fn list_items(
    client: &impl GenericClient,
    filter: &ActionItemFilter,
    visibility: Visibility,
) -> Result<Vec<ActionItem>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "{ITEM_SELECT} where {} \
             and ($3::bigint is null or a.owner_user_id = $3) \
             and ($4::bigint is null or a.owner_team_id = $4) \
             and ($5::bigint is null or a.owner_team_id = $5 or a.owner_user_id in \
             (select user_id from team_member where team_id = $5)) \
             and ($6::text[] is null or a.status = any($6)) \
             and ($7::date is null or (a.status in ('open', 'in_progress') and a.due_on < $7)) \
             and ($8::date is null or a.due_on <= $8) \
             and ($9::bigint is null or exists (select 1 from postmortem_incident pi \
             where pi.postmortem_id = a.postmortem_id and pi.incident_id = $9)) \
             and ($10::bigint is null or a.postmortem_id = $10) \
             and ($11::text is null or exists (select 1 from postmortem_incident pi \
             join incident i on i.incident_id = pi.incident_id \
             where pi.postmortem_id = a.postmortem_id and $11 = any(i.services))) \
             order by {ITEM_ORDER} limit $12",
            postmortem_visible(1, 2)
        ))
        .await?;
    let (everything, user) = visibility_values(visibility);
    let (owner_user, owner_team) = crate::owner_ids(filter.owner);
    let statuses: Option<Vec<&str>> = (!filter.statuses.is_empty()).then(|| {
        filter
            .statuses
            .iter()
            .map(|status| status.as_str())
            .collect()
    });
    client
        .query(
            &statement,
            &[
                &everything,
                &user,
                &owner_user,
                &owner_team,
                &filter.team.map(TeamId::get),
                &statuses,
                &filter.overdue_on,
                &filter.due_before,
                &filter.incident.map(IncidentId::get),
                &filter.postmortem.map(PostmortemId::get),
                &filter.service,
                &i64::from(filter.limit.clamp(1, 5000)),
            ],
        )
        .await?
        .iter()
        .map(item_from_row)
        .collect()
}
