-- The postmortem policy and follow-through.
-- `policy_decision` keeps every decision the policy gave an incident (a new row only when it
-- changed), `policy_override` every decision a person put in its place with why, and
-- `postmortem_request` every time someone asked for a postmortem. `pending_postmortem` is the
-- postmortem a required decision asks for: its owner and due date. It is owed until a
-- published postmortem covers the incident.
create table policy_decision (
    policy_decision_id bigint generated always as identity primary key,
    incident_id bigint not null references incident (incident_id) on delete cascade,
    outcome text not null check (outcome in ('not_needed', 'recommended', 'required')),
    decision jsonb not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create index policy_decision_by_incident on policy_decision (incident_id, policy_decision_id);

create table policy_override (
    policy_override_id bigint generated always as identity primary key,
    incident_id bigint not null references incident (incident_id) on delete cascade,
    outcome text check (outcome in ('not_needed', 'recommended', 'required')),
    justification text not null,
    author_id bigint references user_account (user_id),
    author_name text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create index policy_override_by_incident on policy_override (incident_id, policy_override_id);

create table postmortem_request (
    postmortem_request_id bigint generated always as identity primary key,
    incident_id bigint not null references incident (incident_id) on delete cascade,
    reason text not null,
    author_id bigint references user_account (user_id),
    author_name text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create index postmortem_request_by_incident on postmortem_request (incident_id);

create table pending_postmortem (
    incident_id bigint primary key references incident (incident_id) on delete cascade,
    owner_id bigint references user_account (user_id),
    due_on date,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

-- Action items, out of the postmortem document: they outlive its versions and its incident.
create table action_item (
    action_item_id bigint generated always as identity primary key,
    postmortem_id bigint not null references postmortem (postmortem_id),
    title text not null,
    description text not null default '',
    owner_user_id bigint references user_account (user_id),
    owner_team_id bigint references team (team_id),
    due_on date not null,
    priority text not null check (priority in ('P1', 'P2', 'P3')),
    effort text not null check (effort in ('low', 'medium', 'high')),
    impact text not null check (impact in ('low', 'medium', 'high')),
    kind text not null check (kind in ('prevent', 'mitigate', 'detect', 'process', 'documentation', 'cleanup')),
    addresses text,
    tracker_url text,
    status text not null check (status in ('open', 'in_progress', 'done', 'not_doing')),
    verification text,
    not_doing_reason text,
    created_by_id bigint references user_account (user_id),
    created_by_name text not null,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    finished_at timestamptz,
    check (owner_user_id is null or owner_team_id is null),
    check (status <> 'done' or verification is not null),
    check (status <> 'not_doing' or not_doing_reason is not null)
);

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
    j.value ->> 'title',
    case when j.value ->> 'owner' is null then ''
        else 'Owner as first written: ' || (j.value ->> 'owner') end,
    owner_user.user_id,
    case when owner_user.user_id is null then owner_team.team_id end,
    coalesce((j.value ->> 'due_on')::date, (p.created_at + interval '56 days')::date),
    'P2', 'medium', 'medium', 'prevent',
    j.value ->> 'tracker_url',
    'open', 'migration', p.updated_at, p.updated_at
from postmortem p
cross join lateral jsonb_array_elements(coalesce(p.document -> 'action_items', '[]'::jsonb))
    with ordinality as j (value, n)
left join lateral (select u.user_id from user_account u
    where lower(u.display_name) = lower(j.value ->> 'owner')
        or lower(u.email) = lower(j.value ->> 'owner')
    order by u.user_id limit 1) owner_user on true
left join lateral (select t.team_id from team t
    where lower(t.name) = lower(j.value ->> 'owner') limit 1) owner_team on true
order by p.postmortem_id, j.n;

update postmortem set document = document - 'action_items' where document ? 'action_items';
