-- Postmortems: the document a team writes after an incident, every version of it, and the
-- templates teams add. The document (sections, why chains, factors, lessons, action items) is
-- one JSON value, written and read whole; the columns beside it are what lists filter and sort
-- on. `postmortem_revision` keeps each version as it was after a change, with who made it.
create table postmortem_template (
    template_key text primary key,
    name text not null,
    sections text not null,
    created_at integer not null,
    updated_at integer not null
) strict;

create table postmortem (
    postmortem_id integer primary key autoincrement,
    title text not null,
    status text not null check (status in ('draft', 'in_review', 'published')),
    template_key text not null,
    owner_id integer references user_account (user_id),
    version integer not null check (version > 0),
    document text not null,
    created_at integer not null,
    updated_at integer not null
) strict;

create table postmortem_incident (
    postmortem_id integer not null references postmortem (postmortem_id) on delete cascade,
    incident_id integer not null references incident (incident_id),
    primary key (postmortem_id, incident_id)
) strict, without rowid;

create index postmortem_incident_by_incident on postmortem_incident (incident_id);

create table postmortem_revision (
    postmortem_id integer not null references postmortem (postmortem_id) on delete cascade,
    version integer not null,
    status text not null,
    author_id integer references user_account (user_id),
    author_name text not null,
    changed text not null,
    document text not null,
    created_at integer not null,
    primary key (postmortem_id, version)
) strict, without rowid;

-- History is kept, not rewritten.
create trigger postmortem_revision_is_append_only_on_update
before update on postmortem_revision
begin
    select raise(abort, 'postmortem history is append-only');
end;
