-- The audit log. Append-only: the trigger refuses every change and deletion, whoever asks.
create table audit_event (
    audit_event_id bigint generated always as identity primary key,
    occurred_at timestamptz not null,
    user_id bigint references user_account (user_id),
    actor text not null,
    action text not null,
    target text not null,
    detail text not null,
    address text,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create function audit_event_is_append_only() returns trigger language plpgsql as $$
begin
    raise exception 'the audit log is append-only';
end;
$$;

create trigger audit_event_append_only before update or delete on audit_event
    for each row execute function audit_event_is_append_only();
