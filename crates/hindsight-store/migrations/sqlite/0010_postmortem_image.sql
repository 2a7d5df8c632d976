-- Images a postmortem carries (graphs, screenshots), stored in the database so that a backup
-- holds them and they are served only to those who may read the postmortem. The type is the
-- one the bytes were checked to be; an image goes with its postmortem.
create table postmortem_image (
    postmortem_image_id integer primary key autoincrement,
    postmortem_id integer not null references postmortem (postmortem_id) on delete cascade,
    name text not null,
    content_type text not null check (content_type in ('image/png', 'image/jpeg', 'image/webp')),
    byte_size integer not null check (byte_size > 0),
    sha256 text not null,
    bytes blob not null,
    created_by_id integer references user_account (user_id),
    created_at integer not null,
    updated_at integer not null
) strict;

create index postmortem_image_by_postmortem on postmortem_image (postmortem_id);
