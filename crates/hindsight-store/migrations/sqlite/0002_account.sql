-- Accounts, web sessions and API tokens. `user` is a reserved word in PostgreSQL, so the table
-- is `user_account` on both backends; its key keeps the vocabulary's name, `user_id`.
create table user_account (
    user_id integer primary key autoincrement,
    email text not null unique,
    display_name text not null,
    role text not null check (role in ('viewer', 'editor', 'admin')),
    password_hash text not null,
    disabled integer not null default 0 check (disabled in (0, 1)),
    created_at integer not null,
    updated_at integer not null
) strict;

-- A session's key is the SHA-256 of the secret in the cookie, so a leaked table opens nothing.
create table session (
    session_id text primary key,
    user_id integer not null references user_account (user_id) on delete cascade,
    last_seen_at integer not null,
    created_at integer not null,
    updated_at integer not null
) strict;

create index session_by_user on session (user_id);

create table api_token (
    api_token_id integer primary key autoincrement,
    user_id integer not null references user_account (user_id) on delete cascade,
    name text not null,
    scope text not null check (scope in ('read', 'write', 'admin')),
    token_hash text not null unique,
    last_used_at integer,
    revoked_at integer,
    created_at integer not null,
    updated_at integer not null
) strict;

create index api_token_by_user on api_token (user_id);
