-- Teams, and private incidents seen only by their members (users, or members of teams) and
-- admins. `members` on the incident is what is read; `incident_member` is what queries filter on.
create table team (
    team_id bigint generated always as identity primary key,
    name text not null unique,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create table team_member (
    team_id bigint not null references team (team_id) on delete cascade,
    user_id bigint not null references user_account (user_id) on delete cascade,
    is_lead boolean not null default false,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    primary key (team_id, user_id)
);

create index team_member_by_user on team_member (user_id);

alter table incident add column private boolean not null default false;
alter table incident add column members jsonb not null default '{"users":[],"teams":[]}';

create table incident_member (
    incident_id bigint not null references incident (incident_id) on delete cascade,
    user_id bigint references user_account (user_id) on delete cascade,
    team_id bigint references team (team_id) on delete cascade,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    check ((user_id is null) <> (team_id is null))
);

create index incident_member_by_incident on incident_member (incident_id);
