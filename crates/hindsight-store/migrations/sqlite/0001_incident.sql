-- Incidents. Times are microseconds since the Unix epoch, UTC; lists are JSON arrays.
create table incident (
    incident_id integer primary key autoincrement,
    title text not null,
    summary text not null default '',
    severity text not null check (severity in ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
    status text not null check (status in ('open', 'mitigated', 'resolved', 'closed')),
    services text not null default '[]',
    started_at integer not null,
    detected_at integer,
    acknowledged_at integer,
    mitigated_at integer,
    resolved_at integer,
    detection text check (detection in ('monitoring', 'human')),
    cause_origin text check (cause_origin in ('internal', 'external')),
    user_visible_minutes integer check (user_visible_minutes >= 0),
    users_affected integer check (users_affected >= 0),
    requests_failed integer check (requests_failed >= 0),
    data_loss integer not null default 0 check (data_loss in (0, 1)),
    security_breach integer not null default 0 check (security_breach in (0, 1)),
    business text not null default '{}',
    owner text,
    tags text not null default '[]',
    created_at integer not null,
    updated_at integer not null
) strict;

create index incident_started_at on incident (started_at desc, incident_id desc);

-- One row per service an incident lists, so that the list filter can use an index.
create table incident_service (
    incident_id integer not null references incident (incident_id) on delete cascade,
    service text not null,
    created_at integer not null,
    updated_at integer not null,
    primary key (service, incident_id)
) strict, without rowid;

create index incident_service_incident on incident_service (incident_id);
