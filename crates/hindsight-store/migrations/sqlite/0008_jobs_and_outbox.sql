-- Background work and the transactional outbox (see src/jobs.rs).
-- `job`: recurring work due at a slot, unique by its dedupe key, claimed with a lease.
-- `notification`: the outbox; written in the transaction that causes it, unique by dedupe key.
-- `delivery`: one per notification and target, claimed with a lease; `delivery_attempt` keeps
-- every attempt; `channel_state` the channels disabled after a 410 Gone.
create table job (
    job_id integer primary key autoincrement,
    kind text not null,
    dedupe_key text not null unique,
    run_at integer not null,
    status text not null default 'pending' check (status in ('pending', 'done', 'dead')),
    attempts integer not null default 0,
    claimed_by text,
    claimed_until integer,
    last_error text,
    created_at integer not null,
    finished_at integer
) strict;

create index job_due on job (status, run_at);

create table notification (
    notification_id integer primary key autoincrement,
    dedupe_key text not null unique,
    kind text not null,
    private integer not null,
    audience text not null,
    message text not null,
    routed integer not null default 0,
    created_at integer not null
) strict;

create index notification_unrouted on notification (notification_id) where routed = 0;

create table delivery (
    delivery_id integer primary key autoincrement,
    notification_id integer not null references notification (notification_id) on delete cascade,
    target text not null,
    status text not null default 'pending'
        check (status in ('pending', 'delivered', 'dead', 'disabled')),
    attempts integer not null default 0,
    next_attempt_at integer not null,
    claimed_by text,
    claimed_until integer,
    last_error text,
    delivered_at integer,
    created_at integer not null,
    updated_at integer not null,
    unique (notification_id, target)
) strict;

create index delivery_due on delivery (status, next_attempt_at);

create table delivery_attempt (
    delivery_attempt_id integer primary key autoincrement,
    delivery_id integer not null references delivery (delivery_id) on delete cascade,
    attempted_at integer not null,
    worker text not null,
    outcome text not null
        check (outcome in ('delivered', 'retry', 'rate_limited', 'dead', 'disabled')),
    http_status integer,
    error text
) strict;

create index delivery_attempt_by_delivery on delivery_attempt (delivery_id);

create table channel_state (
    name text primary key,
    disabled_at integer not null,
    reason text not null
) strict;
