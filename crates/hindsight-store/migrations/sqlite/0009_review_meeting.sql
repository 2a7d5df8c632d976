-- Review meetings: at most one per postmortem (a meeting scheduled after a cancellation
-- replaces the cancelled one). The meeting is one JSON value, written and read whole; the
-- columns beside it are what is looked up: its status and start, and who moderated it, for
-- the moderator rotation. The notes are apart: they are saved as the moderator types, without
-- making a new version of the meeting.
create table review_meeting (
    postmortem_id integer primary key references postmortem (postmortem_id) on delete cascade,
    uid text not null unique,
    sequence integer not null check (sequence >= 0),
    status text not null check (status in ('scheduled', 'cancelled', 'held')),
    starts_at integer not null,
    moderator_id integer references user_account (user_id),
    meeting text not null,
    notes text not null default '',
    notes_updated_at integer,
    created_at integer not null,
    updated_at integer not null
) strict;

create index review_meeting_by_moderator on review_meeting (moderator_id, starts_at);
