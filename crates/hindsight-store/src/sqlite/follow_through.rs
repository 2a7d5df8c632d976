//! The policy's rows and action items on SQLite: decisions, overrides, requests, pending
//! postmortems and the items that follow a postmortem.

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
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params, params_from_iter};

use super::{
    conversion, from_micros, json, optional_micros, parsed, postmortem_visible, select_incident,
    select_postmortem, to_json, to_micros, visibility_values, visible,
};
use crate::{
    ActionItemChange, DecisionRecord, PendingPostmortem, PolicyJudgement, PolicyState, StoreError,
    UserRef,
};

fn author(row: &Row<'_>, id: usize, name: usize) -> rusqlite::Result<Author> {
    Ok(Author {
        user_id: row.get::<_, Option<i64>>(id)?.and_then(UserId::new),
        name: row.get(name)?,
    })
}

fn date(index: usize, text: &str) -> rusqlite::Result<Date> {
    text.parse().map_err(|error| conversion(index, error))
}

fn requests(
    connection: &Connection,
    incident: IncidentId,
) -> Result<Vec<PostmortemRequest>, StoreError> {
    let mut statement = connection.prepare_cached(
        "select author_id, author_name, reason, created_at from postmortem_request \
         where incident_id = ?1 order by postmortem_request_id",
    )?;
    let rows = statement.query_map([incident.get()], |row| {
        Ok(PostmortemRequest {
            requested_by: author(row, 0, 1)?,
            reason: row.get(2)?,
            at: from_micros(row.get(3)?)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn overrides(
    connection: &Connection,
    incident: IncidentId,
) -> Result<Vec<PolicyOverride>, StoreError> {
    let mut statement = connection.prepare_cached(
        "select outcome, justification, author_id, author_name, created_at from policy_override \
         where incident_id = ?1 order by policy_override_id",
    )?;
    let rows = statement.query_map([incident.get()], |row| {
        let outcome: Option<String> = row.get(0)?;
        Ok(PolicyOverride {
            outcome: outcome
                .map(|text| parsed(0, &text, PolicyOutcome::parse))
                .transpose()?,
            justification: row.get(1)?,
            by: author(row, 2, 3)?,
            at: from_micros(row.get(4)?)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn history(
    connection: &Connection,
    incident: IncidentId,
) -> Result<Vec<DecisionRecord>, StoreError> {
    let mut statement = connection.prepare_cached(
        "select decision, created_at from policy_decision where incident_id = ?1 \
         order by policy_decision_id",
    )?;
    let rows = statement.query_map([incident.get()], |row| {
        let decision: String = row.get(0)?;
        Ok(DecisionRecord {
            decision: json::<PolicyDecision>(0, &decision)?,
            at: from_micros(row.get(1)?)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Pending postmortems not yet published, of one incident or all, that the reader may see.
fn pending(
    connection: &Connection,
    incident: Option<IncidentId>,
    visibility: Visibility,
) -> Result<Vec<PendingPostmortem>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "select incident.incident_id, incident.title, incident.severity, incident.resolved_at, \
         pp.owner_id, u.display_name, pp.due_on, pp.created_at, newest.postmortem_id, \
         newest.status \
         from pending_postmortem pp join incident on incident.incident_id = pp.incident_id \
         left join user_account u on u.user_id = pp.owner_id \
         left join postmortem newest on newest.postmortem_id = (select max(pi.postmortem_id) \
         from postmortem_incident pi where pi.incident_id = pp.incident_id) \
         where {} and (?3 is null or pp.incident_id = ?3) \
         and not exists (select 1 from postmortem_incident pi join postmortem p \
         on p.postmortem_id = pi.postmortem_id \
         where pi.incident_id = pp.incident_id and p.status = 'published') \
         order by pp.due_on is null, pp.due_on, pp.incident_id",
        visible(1, 2)
    ))?;
    let [everything, user] = visibility_values(visibility);
    let rows = statement.query_map(
        params![everything, user, incident.map(IncidentId::get)],
        |row| {
            let severity: String = row.get(2)?;
            let owner_id: Option<i64> = row.get(4)?;
            let due_on: Option<String> = row.get(6)?;
            let status: Option<String> = row.get(9)?;
            Ok(PendingPostmortem {
                incident_id: IncidentId::new(row.get(0)?).expect("positive"),
                incident_title: row.get(1)?,
                severity: parsed(2, &severity, Severity::parse)?,
                resolved_at: optional_micros(row.get(3)?)?,
                owner: match owner_id.and_then(UserId::new) {
                    Some(id) => Some(UserRef {
                        id,
                        name: row.get(5)?,
                    }),
                    None => None,
                },
                due_on: due_on.map(|text| date(6, &text)).transpose()?,
                since: from_micros(row.get(7)?)?,
                postmortem_id: row.get::<_, Option<i64>>(8)?.and_then(PostmortemId::new),
                postmortem_status: status
                    .map(|text| parsed(9, &text, PostmortemStatus::parse))
                    .transpose()?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn policy_state(
    connection: &Connection,
    incident: IncidentId,
    visibility: Visibility,
) -> Result<Option<PolicyState>, StoreError> {
    if select_incident(connection, incident, visibility)?.is_none() {
        return Ok(None);
    }
    Ok(Some(PolicyState::assemble(
        incident,
        history(connection, incident)?,
        overrides(connection, incident)?,
        requests(connection, incident)?,
        pending(connection, Some(incident), visibility)?
            .into_iter()
            .next(),
    )))
}

pub(super) fn judge_incident(
    connection: &Connection,
    id: IncidentId,
    now: Timestamp,
    judgement: PolicyJudgement,
) -> Result<PolicyState, StoreError> {
    let incident =
        select_incident(connection, id, Visibility::Everything)?.ok_or(StoreError::NotFound)?;
    let requests = requests(connection, id)?;
    let overrides = overrides(connection, id)?;
    let verdict = judgement(&incident, &requests, override_in_force(&overrides));
    let latest = history(connection, id)?.pop();
    if latest.is_none_or(|latest| latest.decision != verdict.decision) {
        connection
            .prepare_cached(
                "insert into policy_decision (incident_id, outcome, decision, created_at, \
                 updated_at) values (?1, ?2, ?3, ?4, ?4)",
            )?
            .execute(params![
                id.get(),
                verdict.decision.outcome.as_str(),
                to_json(&verdict.decision),
                to_micros(now)
            ])?;
    }
    match verdict.pending {
        Some(plan) => {
            let mut owner = None;
            for candidate in &plan.owner_candidates {
                owner = connection
                    .prepare_cached(
                        "select user_id from user_account where not disabled and \
                         (lower(email) = lower(?1) or lower(display_name) = lower(?1)) \
                         order by user_id limit 1",
                    )?
                    .query_row([candidate], |row| row.get::<_, i64>(0))
                    .optional()?;
                if owner.is_some() {
                    break;
                }
            }
            connection
                .prepare_cached(
                    "insert into pending_postmortem (incident_id, owner_id, due_on, created_at, \
                     updated_at) values (?1, ?2, ?3, ?4, ?4) on conflict (incident_id) do update \
                     set owner_id = coalesce(excluded.owner_id, pending_postmortem.owner_id), \
                     due_on = excluded.due_on, updated_at = excluded.updated_at \
                     where pending_postmortem.owner_id is not coalesce(excluded.owner_id, \
                     pending_postmortem.owner_id) or pending_postmortem.due_on is not \
                     excluded.due_on",
                )?
                .execute(params![
                    id.get(),
                    owner,
                    plan.due_on.map(|due| due.to_string()),
                    to_micros(now)
                ])?;
        }
        None => {
            connection
                .prepare_cached("delete from pending_postmortem where incident_id = ?1")?
                .execute([id.get()])?;
        }
    }
    policy_state(connection, id, Visibility::Everything)?.ok_or(StoreError::NotFound)
}

pub(super) fn request_postmortem(
    connection: &Connection,
    incident: IncidentId,
    visibility: Visibility,
    request: PostmortemRequest,
) -> Result<(), StoreError> {
    select_incident(connection, incident, visibility)?.ok_or(StoreError::NotFound)?;
    connection
        .prepare_cached(
            "insert into postmortem_request (incident_id, reason, author_id, author_name, \
             created_at, updated_at) values (?1, ?2, ?3, ?4, ?5, ?5)",
        )?
        .execute(params![
            incident.get(),
            request.reason,
            request.requested_by.user_id.map(UserId::get),
            request.requested_by.name,
            to_micros(request.at)
        ])?;
    Ok(())
}

pub(super) fn override_policy(
    connection: &Connection,
    incident: IncidentId,
    visibility: Visibility,
    override_: PolicyOverride,
) -> Result<(), StoreError> {
    select_incident(connection, incident, visibility)?.ok_or(StoreError::NotFound)?;
    connection
        .prepare_cached(
            "insert into policy_override (incident_id, outcome, justification, author_id, \
             author_name, created_at, updated_at) values (?1, ?2, ?3, ?4, ?5, ?6, ?6)",
        )?
        .execute(params![
            incident.get(),
            override_.outcome.map(PolicyOutcome::as_str),
            override_.justification,
            override_.by.user_id.map(UserId::get),
            override_.by.name,
            to_micros(override_.at)
        ])?;
    Ok(())
}

pub(super) fn list_debt(
    connection: &Connection,
    visibility: Visibility,
) -> Result<Vec<PendingPostmortem>, StoreError> {
    pending(connection, None, visibility)
}

const ITEM_SELECT: &str = "select a.action_item_id, a.postmortem_id, a.title, a.description, \
     a.owner_user_id, a.owner_team_id, a.due_on, a.priority, a.effort, a.impact, a.kind, \
     a.addresses, a.tracker_url, a.status, a.verification, a.not_doing_reason, \
     coalesce(u.display_name, t.name), postmortem.title, (select group_concat(pi.incident_id) \
     from postmortem_incident pi where pi.postmortem_id = a.postmortem_id), a.created_at, \
     a.updated_at, a.finished_at \
     from action_item a join postmortem on postmortem.postmortem_id = a.postmortem_id \
     left join user_account u on u.user_id = a.owner_user_id \
     left join team t on t.team_id = a.owner_team_id";

/// Unfinished first, then priority, then low effort and high impact, then the earliest due.
const ITEM_ORDER: &str = "a.status in ('done', 'not_doing'), a.priority, \
     (case a.effort when 'low' then 0 when 'medium' then 1 else 2 end) - \
     (case a.impact when 'low' then 0 when 'medium' then 1 else 2 end), a.due_on, \
     a.action_item_id";

fn item_from_row(row: &Row<'_>) -> rusqlite::Result<ActionItem> {
    let text = |index: usize| row.get::<_, String>(index);
    let owner = match (
        row.get::<_, Option<i64>>(4)?.and_then(UserId::new),
        row.get::<_, Option<i64>>(5)?.and_then(TeamId::new),
    ) {
        (Some(user), _) => Some(Owner::User(user)),
        (None, Some(team)) => Some(Owner::Team(team)),
        (None, None) => None,
    };
    let incidents: Option<String> = row.get(18)?;
    let mut incidents: Vec<IncidentId> = incidents
        .unwrap_or_default()
        .split(',')
        .filter_map(|id| id.parse().ok())
        .collect();
    incidents.sort();
    Ok(ActionItem {
        id: ActionItemId::new(row.get(0)?).expect("positive"),
        postmortem_id: PostmortemId::new(row.get(1)?).expect("positive"),
        content: ActionItemContent {
            title: text(2)?,
            description: text(3)?,
            owner,
            due_on: date(6, &text(6)?)?,
            priority: parsed(7, &text(7)?, Priority::parse)?,
            effort: parsed(8, &text(8)?, Scale::parse)?,
            impact: parsed(9, &text(9)?, Scale::parse)?,
            kind: parsed(10, &text(10)?, ActionKind::parse)?,
            addresses: row.get(11)?,
            tracker_url: row.get(12)?,
            status: parsed(13, &text(13)?, ActionStatus::parse)?,
            verification: row.get(14)?,
            not_doing_reason: row.get(15)?,
        },
        owner_name: row.get(16)?,
        postmortem_title: text(17)?,
        incidents,
        created_at: from_micros(row.get(19)?)?,
        updated_at: from_micros(row.get(20)?)?,
        finished_at: optional_micros(row.get(21)?)?,
    })
}

fn select_item(
    connection: &Connection,
    id: ActionItemId,
    visibility: Visibility,
) -> Result<Option<ActionItem>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{ITEM_SELECT} where a.action_item_id = ?3 and {}",
        postmortem_visible(1, 2)
    ))?;
    let [everything, user] = visibility_values(visibility);
    Ok(statement
        .query_row(params![everything, user, id.get()], item_from_row)
        .optional()?)
}

/// The item's row: its key (`?1`), then what a writer sets (`?2` to `?15`, in [`ITEM_CONTENT`]
/// order), then `rest`. Inserts and updates bind the same list.
fn item_values(key: i64, content: ActionItemContent, rest: Vec<Value>) -> Vec<Value> {
    let (user, team) = crate::owner_ids(content.owner);
    let text = |text: &str| Value::Text(text.to_owned());
    let optional = |text: Option<String>| text.map_or(Value::Null, Value::Text);
    let id = |id: Option<i64>| id.map_or(Value::Null, Value::Integer);
    let mut values = vec![
        Value::Integer(key),
        Value::Text(content.title),
        Value::Text(content.description),
        id(user),
        id(team),
        Value::Text(content.due_on.to_string()),
        text(content.priority.as_str()),
        text(content.effort.as_str()),
        text(content.impact.as_str()),
        text(content.kind.as_str()),
        optional(content.addresses),
        optional(content.tracker_url),
        text(content.status.as_str()),
        optional(content.verification),
        optional(content.not_doing_reason),
    ];
    values.extend(rest);
    values
}

/// The columns a writer sets, bound as `?2` to `?15`.
const ITEM_CONTENT: &str = "title, description, owner_user_id, owner_team_id, due_on, priority, \
     effort, impact, kind, addresses, tracker_url, status, verification, not_doing_reason";

/// The only references an item's row makes besides its postmortem are its owner.
fn owner_violation(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            StoreError::Invalid(ValidationErrors::single(
                "owner",
                "there is no such user or team",
            ))
        }
        _ => StoreError::from(error),
    }
}

pub(super) fn create_item(
    connection: &Connection,
    postmortem: PostmortemId,
    visibility: Visibility,
    content: ActionItemContent,
    author: Author,
    now: Timestamp,
) -> Result<ActionItem, StoreError> {
    select_postmortem(connection, postmortem, visibility)?.ok_or(StoreError::NotFound)?;
    let finished = content.status.is_finished().then(|| to_micros(now));
    let values = item_values(
        postmortem.get(),
        content,
        vec![
            author.user_id.map(UserId::get).into(),
            author.name.into(),
            to_micros(now).into(),
            finished.into(),
        ],
    );
    connection
        .prepare_cached(&format!(
            "insert into action_item (postmortem_id, {ITEM_CONTENT}, created_by_id, \
             created_by_name, created_at, updated_at, finished_at) values (?1, ?2, ?3, ?4, ?5, \
             ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?18, ?19)"
        ))?
        .execute(params_from_iter(values))
        .map_err(owner_violation)?;
    let id = ActionItemId::new(connection.last_insert_rowid()).expect("positive");
    select_item(connection, id, Visibility::Everything)?.ok_or(StoreError::NotFound)
}

pub(super) fn get_item(
    connection: &Connection,
    id: ActionItemId,
    visibility: Visibility,
) -> Result<Option<ActionItem>, StoreError> {
    select_item(connection, id, visibility)
}

pub(super) fn update_item(
    connection: &Connection,
    id: ActionItemId,
    visibility: Visibility,
    now: Timestamp,
    change: ActionItemChange,
) -> Result<ActionItem, StoreError> {
    let current = select_item(connection, id, visibility)?.ok_or(StoreError::NotFound)?;
    let content = change(&current)?;
    if content == current.content {
        return Ok(current);
    }
    let finished_at = match (current.content.status, content.status) {
        (before, after) if before == after => current.finished_at,
        (_, after) if after.is_finished() => Some(now),
        _ => None,
    };
    let values = item_values(
        id.get(),
        content,
        vec![to_micros(now).into(), finished_at.map(to_micros).into()],
    );
    connection
        .prepare_cached(&format!(
            "update action_item set ({ITEM_CONTENT}, updated_at, finished_at) = (?2, ?3, ?4, \
             ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, max(?16, updated_at + 1), ?17) \
             where action_item_id = ?1"
        ))?
        .execute(params_from_iter(values))
        .map_err(owner_violation)?;
    select_item(connection, id, Visibility::Everything)?.ok_or(StoreError::NotFound)
}

pub(super) fn list_items(
    connection: &Connection,
    filter: &ActionItemFilter,
    visibility: Visibility,
) -> Result<Vec<ActionItem>, StoreError> {
    let mut statement = connection.prepare_cached(&format!(
        "{ITEM_SELECT} where {} \
         and (?3 is null or a.owner_user_id = ?3) and (?4 is null or a.owner_team_id = ?4) \
         and (?5 is null or a.owner_team_id = ?5 or a.owner_user_id in \
         (select user_id from team_member where team_id = ?5)) \
         and (?6 is null or instr(?6, ',' || a.status || ',') > 0) \
         and (?7 is null or (a.status in ('open', 'in_progress') and a.due_on < ?7)) \
         and (?8 is null or a.due_on <= ?8) \
         and (?9 is null or exists (select 1 from postmortem_incident pi \
         where pi.postmortem_id = a.postmortem_id and pi.incident_id = ?9)) \
         and (?10 is null or a.postmortem_id = ?10) \
         and (?11 is null or exists (select 1 from postmortem_incident pi join incident_service s \
         on s.incident_id = pi.incident_id where pi.postmortem_id = a.postmortem_id \
         and s.service = ?11)) \
         order by {ITEM_ORDER} limit ?12",
        postmortem_visible(1, 2)
    ))?;
    let [everything, user] = visibility_values(visibility);
    let (owner_user, owner_team) = crate::owner_ids(filter.owner);
    let statuses = (!filter.statuses.is_empty()).then(|| {
        let names: Vec<&str> = filter
            .statuses
            .iter()
            .map(|status| status.as_str())
            .collect();
        format!(",{},", names.join(","))
    });
    let rows = statement.query_map(
        params![
            everything,
            user,
            owner_user,
            owner_team,
            filter.team.map(TeamId::get),
            statuses,
            filter.overdue_on.map(|date| date.to_string()),
            filter.due_before.map(|date| date.to_string()),
            filter.incident.map(IncidentId::get),
            filter.postmortem.map(PostmortemId::get),
            filter.service,
            filter.limit.clamp(1, 5000),
        ],
        item_from_row,
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}
