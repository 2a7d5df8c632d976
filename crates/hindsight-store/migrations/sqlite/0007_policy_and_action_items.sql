-- The postmortem policy and follow-through.
-- `policy_decision` keeps every decision the policy gave an incident (a new row only when it
-- changed), `policy_override` every decision a person put in its place with why, and
-- `postmortem_request` every time someone asked for a postmortem. `pending_postmortem` is the
-- postmortem a required decision asks for: its owner and due date. It is owed until a
-- published postmortem covers the incident.
create table policy_decision (
    policy_decision_id integer primary key autoincrement,
    incident_id integer not null references incident (incident_id) on delete cascade,
    outcome text not null check (outcome in ('not_needed', 'recommended', 'required')),
    decision text not null,
    created_at integer not null,
    updated_at integer not null
) strict;

create index policy_decision_by_incident on policy_decision (incident_id, policy_decision_id);

create table policy_override (
    policy_override_id integer primary key autoincrement,
    incident_id integer not null references incident (incident_id) on delete cascade,
    outcome text check (outcome in ('not_needed', 'recommended', 'required')),
    justification text not null,
    author_id integer references user_account (user_id),
    author_name text not null,
    created_at integer not null,
    updated_at integer not null
) strict;

create index policy_override_by_incident on policy_override (incident_id, policy_override_id);

create table postmortem_request (
    postmortem_request_id integer primary key autoincrement,
    incident_id integer not null references incident (incident_id) on delete cascade,
    reason text not null,
    author_id integer references user_account (user_id),
    author_name text not null,
    created_at integer not null,
    updated_at integer not null
) strict;

create index postmortem_request_by_incident on postmortem_request (incident_id);

create table pending_postmortem (
    incident_id integer primary key references incident (incident_id) on delete cascade,
    owner_id integer references user_account (user_id),
    due_on text,
    created_at integer not null,
    updated_at integer not null
) strict;

-- Action items, out of the postmortem document: they outlive its versions and its incident.
create table action_item (
    action_item_id integer primary key autoincrement,
    postmortem_id integer not null references postmortem (postmortem_id),
    title text not null,
    description text not null default '',
    owner_user_id integer references user_account (user_id),
    owner_team_id integer references team (team_id),
    due_on text not null,
    priority text not null check (priority in ('P1', 'P2', 'P3')),
    effort text not null check (effort in ('low', 'medium', 'high')),
    impact text not null check (impact in ('low', 'medium', 'high')),
    kind text not null check (kind in ('prevent', 'mitigate', 'detect', 'process', 'documentation', 'cleanup')),
    addresses text,
    tracker_url text,
    status text not null check (status in ('open', 'in_progress', 'done', 'not_doing')),
    verification text,
    not_doing_reason text,
    created_by_id integer references user_account (user_id),
    created_by_name text not null,
    created_at integer not null,
    updated_at integer not null,
    finished_at integer,
    check (owner_user_id is null or owner_team_id is null),
    check (status <> 'done' or verification is not null),
    check (status <> 'not_doing' or not_doing_reason is not null)
) strict;

create index action_item_by_postmortem on action_item (postmortem_id);
create index action_item_by_due on action_item (status, due_on);
create index action_item_by_user on action_item (owner_user_id) where owner_user_id is not null;
create index action_item_by_team on action_item (owner_team_id) where owner_team_id is not null;

-- Items written in documents before now move here, open, owned by the user or team their
-- owner text names (the text is kept in the description when it names neither).
insert into action_item (postmortem_id, title, description, owner_user_id, owner_team_id,
    due_on, priority, effort, impact, kind, tracker_url, status, created_by_name, created_at,
    updated_at)
select p.postmortem_id,
    json_extract(j.value, '$.title'),
    case when json_extract(j.value, '$.owner') is null then ''
        else 'Owner as first written: ' || json_extract(j.value, '$.owner') end,
    (select u.user_id from user_account u
        where lower(u.display_name) = lower(json_extract(j.value, '$.owner'))
            or lower(u.email) = lower(json_extract(j.value, '$.owner'))
        order by u.user_id limit 1),
    case when not exists (select 1 from user_account u
            where lower(u.display_name) = lower(json_extract(j.value, '$.owner'))
                or lower(u.email) = lower(json_extract(j.value, '$.owner')))
        then (select t.team_id from team t
            where lower(t.name) = lower(json_extract(j.value, '$.owner')) limit 1) end,
    coalesce(json_extract(j.value, '$.due_on'),
        date(p.created_at / 1000000, 'unixepoch', '+56 days')),
    'P2', 'medium', 'medium', 'prevent',
    json_extract(j.value, '$.tracker_url'),
    'open', 'migration', p.updated_at, p.updated_at
from postmortem p, json_each(p.document, '$.action_items') j
order by p.postmortem_id, j.key;

update postmortem set document = json_remove(document, '$.action_items')
where json_type(document, '$.action_items') is not null;
