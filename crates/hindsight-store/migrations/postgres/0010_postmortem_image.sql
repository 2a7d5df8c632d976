-- Images a postmortem carries (graphs, screenshots), stored in the database so that a backup
-- holds them and they are served only to those who may read the postmortem. The type is the
-- one the bytes were checked to be; an image goes with its postmortem.
create table postmortem_image (
    postmortem_image_id bigint generated always as identity primary key,
    postmortem_id bigint not null references postmortem (postmortem_id) on delete cascade,
    name text not null,
    content_type text not null check (content_type in ('image/png', 'image/jpeg', 'image/webp')),
    byte_size bigint not null check (byte_size > 0),
    sha256 text not null,
    bytes bytea not null,
    created_by_id bigint references user_account (user_id),
    created_at timestamptz not null,
    updated_at timestamptz not null
);

create index postmortem_image_by_postmortem on postmortem_image (postmortem_id);
