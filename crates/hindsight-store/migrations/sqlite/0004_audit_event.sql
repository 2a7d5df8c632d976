-- The audit log. Append-only: the triggers refuse every change and deletion, whoever asks.
create table audit_event (
    audit_event_id integer primary key autoincrement,
    occurred_at integer not null,
    user_id integer references user_account (user_id),
    actor text not null,
    action text not null,
    target text not null,
    detail text not null,
    address text,
    created_at integer not null,
    updated_at integer not null
) strict;

create trigger audit_event_no_update before update on audit_event
begin
    select raise(abort, 'the audit log is append-only');
end;

create trigger audit_event_no_delete before delete on audit_event
begin
    select raise(abort, 'the audit log is append-only');
end;
