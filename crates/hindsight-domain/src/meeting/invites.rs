//! What a meeting's changes send: the invite or cancellation by email, the announcement, and word that the notes are ready.

use super::*;

/// Who sends invites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organizer {
    pub name: String,
    pub email: String,
}

/// What the notifications of a meeting need besides the meeting.
pub struct Context<'a> {
    pub postmortem: &'a Postmortem,
    pub organizer: &'a Organizer,
    /// The public URL, for links inside the invite.
    pub public_url: &'a str,
    /// Whether any incident is private: no public announcement then.
    pub private: bool,
    pub now: Timestamp,
}

fn when(meeting: &ReviewMeeting) -> String {
    let start = meeting.local_start();
    format!(
        "{} ({}, {} minutes)",
        start.strftime("%A %-d %B %Y, %H:%M %Z"),
        meeting.time_zone,
        meeting.duration_minutes
    )
}

fn line(text: impl Into<String>, link: Option<String>) -> MessageLine {
    MessageLine {
        text: text.into(),
        link,
    }
}

/// When the meeting was held, the people who read the notes are told where they are (not for a
/// postmortem of private incidents: its readers need not be its members).
fn notes_ready(meeting: &ReviewMeeting, context: &Context) -> Option<NewNotification> {
    if context.private || meeting.readers.is_empty() {
        return None;
    }
    let title = &context.postmortem.document.title;
    let link = format!("/postmortems/{}/meeting", context.postmortem.id);
    Some(NewNotification {
        dedupe_key: format!("meeting:{}:{}:held", context.postmortem.id, meeting.uid),
        kind: NotificationKind::MeetingNotes,
        private: false,
        audience: Audience {
            people: meeting.readers.clone(),
            ..Audience::default()
        },
        message: Message {
            subject: format!("Review notes: {title}"),
            intro: format!(
                "The review meeting of \"{title}\" was held. You were not in the room; the notes \
                 and the postmortem are there to read, and questions are welcome."
            ),
            sections: Vec::new(),
            link: Some(link),
            data: serde_json::json!({
                "postmortem_id": context.postmortem.id.get(),
                "uid": meeting.uid,
                "status": meeting.status.as_str(),
            }),
            calendar: None,
        },
    })
}

/// The notifications a change of the meeting sends: the invite (or cancellation) by email to
/// everyone invited, a cancellation to anyone no longer invited, and the announcement to the
/// team's public channel. `previous` is the meeting before the change. A meeting marked held
/// tells the readers where the notes are; a change that leaves the invite as it was repeats the previous keys, which
/// the outbox keeps once.
pub fn notifications(
    meeting: &ReviewMeeting,
    previous: Option<&ReviewMeeting>,
    context: &Context,
) -> Vec<NewNotification> {
    if meeting.status == MeetingStatus::Held {
        return notes_ready(meeting, context).into_iter().collect();
    }
    let postmortem = context.postmortem;
    let title = &postmortem.document.title;
    let pre_read = format!("/postmortems/{}", postmortem.id);
    let key = format!(
        "meeting:{}:{}:{}",
        postmortem.id, meeting.uid, meeting.sequence
    );
    let mut out = Vec::new();
    let cancelled = meeting.status == MeetingStatus::Cancelled;
    let pre_read_url = format!("{}{}", context.public_url.trim_end_matches('/'), pre_read);
    // The invite with its method (a cancelled meeting cancels), for the email's content type.
    let invite = |meeting: &ReviewMeeting| CalendarPart {
        method: ics::Method::of(meeting).as_str().into(),
        ics: ics::write(&ics::Invite {
            meeting,
            title,
            organizer: context.organizer,
            pre_read: &pre_read_url,
            now: context.now,
        }),
    };
    let data = serde_json::json!({
        "postmortem_id": postmortem.id.get(),
        "uid": meeting.uid,
        "sequence": meeting.sequence,
        "status": meeting.status.as_str(),
        "starts_at": meeting.starts_at.to_string(),
        "duration_minutes": meeting.duration_minutes,
        "time_zone": meeting.time_zone,
    });
    let invitees = meeting.invitees();
    if !invitees.is_empty() {
        let subject = if cancelled {
            format!("Cancelled: postmortem review of {title}")
        } else if previous.is_some() {
            format!("Moved: postmortem review of {title}")
        } else {
            format!("Invitation: postmortem review of {title}")
        };
        out.push(NewNotification {
            dedupe_key: format!("{key}:invite"),
            kind: NotificationKind::MeetingInvite,
            private: context.private,
            audience: Audience {
                people: invitees.clone(),
                ..Audience::default()
            },
            message: Message {
                subject,
                intro: if cancelled {
                    format!(
                        "The review meeting of \"{title}\" on {} is cancelled.",
                        when(meeting)
                    )
                } else {
                    format!(
                        "You are invited to the review meeting of \"{title}\": {}. Please read the \
                         postmortem before it; the meeting is blameless.",
                        when(meeting)
                    )
                },
                sections: vec![MessageSection {
                    heading: "Pre-read".into(),
                    lines: vec![line(title.clone(), Some(pre_read.clone()))],
                }],
                link: Some(format!("{pre_read}/meeting")),
                data: data.clone(),
                calendar: Some(invite(meeting)),
            },
        });
    }
    if let Some(previous) = previous {
        let removed: Vec<Person> = previous
            .invitees()
            .into_iter()
            .filter(|person| !invitees.iter().any(|kept| kept.id == person.id))
            .collect();
        if !removed.is_empty() && !cancelled {
            // The cancellation names only them, at the meeting's new sequence (RFC 5546).
            let mut theirs = meeting.clone();
            theirs.status = MeetingStatus::Cancelled;
            theirs.moderator = previous
                .moderator
                .clone()
                .filter(|moderator| removed.iter().any(|person| person.id == moderator.id));
            theirs.attendees = previous
                .attendees
                .iter()
                .filter(|attendee| removed.iter().any(|person| person.id == attendee.user_id))
                .cloned()
                .collect();
            out.push(NewNotification {
                dedupe_key: format!("{key}:uninvite"),
                kind: NotificationKind::MeetingInvite,
                private: context.private,
                audience: Audience {
                    people: removed.clone(),
                    ..Audience::default()
                },
                message: Message {
                    subject: format!("Cancelled for you: postmortem review of {title}"),
                    intro: format!(
                        "You are no longer on the invite for the review of \"{title}\"; you can \
                         read the notes afterwards."
                    ),
                    sections: Vec::new(),
                    link: Some(pre_read.clone()),
                    data: data.clone(),
                    calendar: Some(invite(&theirs)),
                },
            });
        }
    }
    let announce_changed = previous.is_none_or(|previous| {
        previous.starts_at != meeting.starts_at || previous.status != meeting.status
    });
    if !context.private && announce_changed && meeting.status != MeetingStatus::Held {
        let names = |list: Vec<String>| {
            if list.is_empty() {
                "nobody yet".to_owned()
            } else {
                list.join(", ")
            }
        };
        let intro = if cancelled {
            format!(
                "The review meeting of \"{title}\" on {} is cancelled.",
                when(meeting)
            )
        } else {
            format!(
                "Postmortem review of \"{title}\": {}. The pre-read is the postmortem. Anyone may \
                 read the notes afterwards.",
                when(meeting)
            )
        };
        out.push(NewNotification {
            dedupe_key: format!("{key}:announce"),
            kind: NotificationKind::MeetingAnnouncement,
            private: false,
            audience: Audience {
                teams: meeting.team.iter().cloned().collect(),
                broadcast: meeting.team.is_none(),
                ..Audience::default()
            },
            message: Message {
                subject: if cancelled {
                    format!("Review cancelled: {title}")
                } else {
                    format!("Review meeting: {title}")
                },
                intro,
                sections: vec![MessageSection {
                    heading: "Who".into(),
                    lines: vec![
                        line(
                            format!(
                                "Attending: {}",
                                names(meeting.attendees.iter().map(|a| a.name.clone()).collect())
                            ),
                            None,
                        ),
                        line(
                            format!(
                                "Moderator: {}",
                                meeting
                                    .moderator
                                    .as_ref()
                                    .map_or("to be found".into(), |m| m.name.clone())
                            ),
                            None,
                        ),
                        line("Everyone else: read the notes", Some(pre_read.clone())),
                    ],
                }],
                link: Some(pre_read),
                data,
                calendar: None,
            },
        });
    }
    out
}
