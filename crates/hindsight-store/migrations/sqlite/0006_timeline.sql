-- The timeline: what happened when, from people, alerts, chat and Hindsight itself. An event
-- that `holds` a key time shows that time of its incident; each key time set on an incident has
-- exactly one holder (the domain's timeline rule), which the unique index backs.
-- `external_id` is the id an alert or chat export gave the event: an incident holds each once,
-- so that a retried delivery or a repeated import adds nothing.
create table timeline_event (
    event_id integer primary key autoincrement,
    incident_id integer not null references incident (incident_id) on delete cascade,
    kind text not null check (kind in ('error_introduced', 'detected', 'alerted', 'reported', 'acknowledged', 'escalated', 'investigating', 'root_cause_identified', 'mitigated', 'fixed', 'resolved', 'communication', 'note')),
    source text not null check (source in ('manual', 'alert', 'chat', 'system')),
    occurred_at integer not null,
    author text,
    text text not null,
    is_key integer not null,
    link text,
    external_id text,
    holds text check (holds in ('started_at', 'detected_at', 'acknowledged_at', 'mitigated_at', 'resolved_at')),
    created_at integer not null,
    updated_at integer not null
) strict;

create index timeline_event_by_time on timeline_event (incident_id, occurred_at, event_id);
create unique index timeline_event_external on timeline_event (incident_id, external_id)
    where external_id is not null;
create unique index timeline_event_holder on timeline_event (incident_id, holds)
    where holds is not null;

-- Which incident an alert belongs to: Alertmanager and Grafana group keys and fingerprints,
-- PagerDuty incident ids, Opsgenie alert ids and aliases.
create table intake_link (
    source text not null,
    link_key text not null,
    incident_id integer not null references incident (incident_id) on delete cascade,
    created_at integer not null,
    primary key (source, link_key)
) strict;

-- Deliveries already handled, by the id their sender gave them (PagerDuty's X-Webhook-Id).
create table intake_delivery (
    source text not null,
    delivery_id text not null,
    received_at integer not null,
    primary key (source, delivery_id)
) strict;

-- Incidents recorded before the timeline existed get their key times shown on it.
insert into timeline_event (incident_id, kind, source, occurred_at, text, is_key, holds,
    created_at, updated_at)
select incident_id, 'error_introduced', 'system', started_at, 'Error introduced (as recorded on the incident)', 1,
    'started_at', updated_at, updated_at
from incident where started_at is not null;
insert into timeline_event (incident_id, kind, source, occurred_at, text, is_key, holds,
    created_at, updated_at)
select incident_id, 'detected', 'system', detected_at, 'Detected (as recorded on the incident)', 1,
    'detected_at', updated_at, updated_at
from incident where detected_at is not null;
insert into timeline_event (incident_id, kind, source, occurred_at, text, is_key, holds,
    created_at, updated_at)
select incident_id, 'acknowledged', 'system', acknowledged_at, 'Acknowledged (as recorded on the incident)', 1,
    'acknowledged_at', updated_at, updated_at
from incident where acknowledged_at is not null;
insert into timeline_event (incident_id, kind, source, occurred_at, text, is_key, holds,
    created_at, updated_at)
select incident_id, 'mitigated', 'system', mitigated_at, 'Mitigated (as recorded on the incident)', 1,
    'mitigated_at', updated_at, updated_at
from incident where mitigated_at is not null;
insert into timeline_event (incident_id, kind, source, occurred_at, text, is_key, holds,
    created_at, updated_at)
select incident_id, 'resolved', 'system', resolved_at, 'Resolved (as recorded on the incident)', 1,
    'resolved_at', updated_at, updated_at
from incident where resolved_at is not null;
