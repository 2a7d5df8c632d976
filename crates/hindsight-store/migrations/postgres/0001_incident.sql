create table incident (
    incident_id bigint generated always as identity primary key,
    title text not null,
    summary text not null default '',
    severity text not null check (severity in ('SEV1', 'SEV2', 'SEV3', 'SEV4')),
    status text not null check (status in ('open', 'mitigated', 'resolved', 'closed')),
    services text[] not null default '{}',
    started_at timestamptz not null,
    detected_at timestamptz,
    acknowledged_at timestamptz,
    mitigated_at timestamptz,
    resolved_at timestamptz,
    detection text check (detection in ('monitoring', 'human')),
    cause_origin text check (cause_origin in ('internal', 'external')),
    user_visible_minutes bigint check (user_visible_minutes >= 0),
    users_affected bigint check (users_affected >= 0),
    requests_failed bigint check (requests_failed >= 0),
    data_loss boolean not null default false,
    security_breach boolean not null default false,
    business jsonb not null default '{}',
    owner text,
    tags text[] not null default '{}',
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create index incident_started_at on incident (started_at desc, incident_id desc);
create index incident_services on incident using gin (services);
