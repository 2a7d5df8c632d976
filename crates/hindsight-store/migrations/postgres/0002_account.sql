-- Accounts, web sessions and API tokens. `user` is a reserved word, so the table is
-- `user_account`; its key keeps the vocabulary's name, `user_id`.
create table user_account (
    user_id bigint generated always as identity primary key,
    email text not null unique,
    display_name text not null,
    role text not null check (role in ('viewer', 'editor', 'admin')),
    password_hash text not null,
    disabled boolean not null default false,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

-- A session's key is the SHA-256 of the secret in the cookie, so a leaked table opens nothing.
create table session (
    session_id text primary key,
    user_id bigint not null references user_account (user_id) on delete cascade,
    last_seen_at timestamptz not null,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create index session_by_user on session (user_id);

create table api_token (
    api_token_id bigint generated always as identity primary key,
    user_id bigint not null references user_account (user_id) on delete cascade,
    name text not null,
    scope text not null check (scope in ('read', 'write', 'admin')),
    token_hash text not null unique,
    last_used_at timestamptz,
    revoked_at timestamptz,
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create index api_token_by_user on api_token (user_id);
