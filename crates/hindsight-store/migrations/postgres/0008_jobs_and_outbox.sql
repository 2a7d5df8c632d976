-- Background work and the transactional outbox (see src/jobs.rs).
-- `job`: recurring work due at a slot, unique by its dedupe key, claimed with a lease.
-- `notification`: the outbox; written in the transaction that causes it, unique by dedupe key.
-- `delivery`: one per notification and target, claimed with a lease; `delivery_attempt` keeps
-- every attempt; `channel_state` the channels disabled after a 410 Gone.
create table job (
    job_id bigint generated always as identity primary key,
    kind text not null,
    dedupe_key text not null unique,
    run_at timestamptz not null,
    status text not null default 'pending' check (status in ('pending', 'done', 'dead')),
    attempts integer not null default 0,
    claimed_by text,
    claimed_until timestamptz,
    last_error text,
    created_at timestamptz not null,
    finished_at timestamptz
);

create index job_due on job (status, run_at);

create table notification (
    notification_id bigint generated always as identity primary key,
    dedupe_key text not null unique,
    kind text not null,
    private boolean not null,
    audience jsonb not null,
    message jsonb not null,
    routed boolean not null default false,
    created_at timestamptz not null
);

create index notification_unrouted on notification (notification_id) where not routed;

create table delivery (
    delivery_id bigint generated always as identity primary key,
    notification_id bigint not null references notification (notification_id) on delete cascade,
    target text not null,
    status text not null default 'pending'
        check (status in ('pending', 'delivered', 'dead', 'disabled')),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null,
    claimed_by text,
    claimed_until timestamptz,
    last_error text,
    delivered_at timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null,
    unique (notification_id, target)
);

create index delivery_due on delivery (status, next_attempt_at);

create table delivery_attempt (
    delivery_attempt_id bigint generated always as identity primary key,
    delivery_id bigint not null references delivery (delivery_id) on delete cascade,
    attempted_at timestamptz not null,
    worker text not null,
    outcome text not null
        check (outcome in ('delivered', 'retry', 'rate_limited', 'dead', 'disabled')),
    http_status integer,
    error text
);

create index delivery_attempt_by_delivery on delivery_attempt (delivery_id);

create table channel_state (
    name text primary key,
    disabled_at timestamptz not null,
    reason text not null
);
