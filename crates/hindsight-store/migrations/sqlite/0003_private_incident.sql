-- Teams, and private incidents seen only by their members (users, or members of teams) and
-- admins. `members` on the incident is what is read; `incident_member` is what queries filter on.
create table team (
    team_id integer primary key autoincrement,
    name text not null unique,
    created_at integer not null,
    updated_at integer not null
) strict;

create table team_member (
    team_id integer not null references team (team_id) on delete cascade,
    user_id integer not null references user_account (user_id) on delete cascade,
    is_lead integer not null default 0 check (is_lead in (0, 1)),
    created_at integer not null,
    updated_at integer not null,
    primary key (team_id, user_id)
) strict, without rowid;

create index team_member_by_user on team_member (user_id);

alter table incident add column private integer not null default 0 check (private in (0, 1));
alter table incident add column members text not null default '{"users":[],"teams":[]}';

create table incident_member (
    incident_id integer not null references incident (incident_id) on delete cascade,
    user_id integer references user_account (user_id) on delete cascade,
    team_id integer references team (team_id) on delete cascade,
    created_at integer not null,
    updated_at integer not null,
    check ((user_id is null) <> (team_id is null))
) strict;

create index incident_member_by_incident on incident_member (incident_id);
