//! iCalendar (RFC 5545, with the scheduling methods of RFC 5546): the meeting invite we write,
//! and the holidays we read from a calendar file.
//!
//! The invite names its time zone (`DTSTART;TZID=Europe/London:20261123T100000`) and carries
//! the `VTIMEZONE` that defines it: the zone's transitions around the meeting, taken from the
//! time zone database, so that a client without that zone still places the meeting right.

use std::collections::BTreeSet;

use jiff::civil::Date;
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::{MeetingStatus, Organizer, ReviewMeeting};

/// Our `PRODID`.
pub const PRODID: &str = "-//Hindsight//Hindsight postmortem reviews//EN";

/// The scheduling method of an invite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Request,
    Cancel,
}

impl Method {
    /// A cancelled meeting's invite cancels; every other one requests.
    pub fn of(meeting: &ReviewMeeting) -> Self {
        if meeting.status == MeetingStatus::Cancelled {
            Method::Cancel
        } else {
            Method::Request
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
        }
    }
}

/// What an invite is written from.
pub struct Invite<'a> {
    pub meeting: &'a ReviewMeeting,
    pub title: &'a str,
    pub organizer: &'a Organizer,
    /// The absolute URL of the pre-read.
    pub pre_read: &'a str,
    /// `DTSTAMP`.
    pub now: Timestamp,
}

/// The invite as an iCalendar object, CRLF line ends, folded at 75 octets.
pub fn write(invite: &Invite) -> String {
    let meeting = invite.meeting;
    let zone = TimeZone::get(&meeting.time_zone).unwrap_or(TimeZone::UTC);
    let tzid = param_value(&meeting.time_zone);
    let mut out = Lines::default();
    out.line("BEGIN:VCALENDAR");
    out.line(&format!("PRODID:{PRODID}"));
    out.line("VERSION:2.0");
    out.line("CALSCALE:GREGORIAN");
    let method = Method::of(meeting);
    out.line(&format!("METHOD:{}", method.as_str()));
    timezone(&mut out, &tzid, &zone, meeting.starts_at);
    out.line("BEGIN:VEVENT");
    out.line(&format!("UID:{}", text(&meeting.uid)));
    out.line(&format!("DTSTAMP:{}", utc(invite.now)));
    out.line(&format!("SEQUENCE:{}", meeting.sequence));
    out.line(&format!(
        "DTSTART;TZID={tzid}:{}",
        local(meeting.starts_at, &zone)
    ));
    out.line(&format!(
        "DTEND;TZID={tzid}:{}",
        local(meeting.ends_at(), &zone)
    ));
    out.line(&format!(
        "SUMMARY:{}",
        text(&format!("Postmortem review: {}", invite.title))
    ));
    let mut description = format!(
        "Review meeting of the postmortem \"{}\".\nPre-read: {}\n\nThe meeting is blameless: no \
         finger-pointing, no guessing where facts can be collected.",
        invite.title, invite.pre_read
    );
    if let Some(moderator) = &meeting.moderator {
        description.push_str(&format!("\nModerator: {}", moderator.name));
    }
    out.line(&format!("DESCRIPTION:{}", text(&description)));
    out.line(&format!("URL:{}", text(invite.pre_read)));
    out.line(&format!(
        "ORGANIZER;CN={}:mailto:{}",
        param_value(&invite.organizer.name),
        invite.organizer.email
    ));
    if let Some(moderator) = &meeting.moderator {
        out.line(&attendee(&moderator.name, &moderator.email, "CHAIR"));
    }
    for person in &meeting.attendees {
        out.line(&attendee(&person.name, &person.email, "REQ-PARTICIPANT"));
    }
    out.line(if method == Method::Cancel {
        "STATUS:CANCELLED"
    } else {
        "STATUS:CONFIRMED"
    });
    out.line("TRANSP:OPAQUE");
    out.line("END:VEVENT");
    out.line("END:VCALENDAR");
    out.0
}

fn attendee(name: &str, email: &str, role: &str) -> String {
    format!(
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE={role};PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN={}:mailto:{}",
        param_value(name),
        email
    )
}

/// The `VTIMEZONE` for `zone` around `at`: the transition in force and the next ones within a
/// year, each as its own observance. A zone without transitions is one `STANDARD` observance.
fn timezone(out: &mut Lines, tzid: &str, zone: &TimeZone, at: Timestamp) {
    out.line("BEGIN:VTIMEZONE");
    out.line(&format!("TZID:{tzid}"));
    let horizon = at
        .checked_add(SignedDuration::from_hours(24 * 366))
        .unwrap_or(at);
    let mut transitions: Vec<_> = zone.preceding(at).take(1).collect();
    transitions.extend(
        zone.following(at)
            .take_while(|t| t.timestamp() <= horizon)
            .take(4),
    );
    if transitions.is_empty() {
        let offset = zone.to_offset(at);
        out.line("BEGIN:STANDARD");
        out.line("DTSTART:19700101T000000");
        out.line(&format!("TZOFFSETFROM:{}", offset_text(offset)));
        out.line(&format!("TZOFFSETTO:{}", offset_text(offset)));
        out.line("END:STANDARD");
    }
    for transition in transitions {
        let before = zone.to_offset(transition.timestamp() - SignedDuration::from_secs(1));
        let kind = if transition.dst().is_dst() {
            "DAYLIGHT"
        } else {
            "STANDARD"
        };
        out.line(&format!("BEGIN:{kind}"));
        out.line(&format!(
            "DTSTART:{}",
            before
                .to_datetime(transition.timestamp())
                .strftime("%Y%m%dT%H%M%S")
        ));
        out.line(&format!("TZOFFSETFROM:{}", offset_text(before)));
        out.line(&format!("TZOFFSETTO:{}", offset_text(transition.offset())));
        let abbreviation = transition.abbreviation();
        if !abbreviation.is_empty() {
            out.line(&format!("TZNAME:{}", text(abbreviation)));
        }
        out.line(&format!("END:{kind}"));
    }
    out.line("END:VTIMEZONE");
}

fn offset_text(offset: Offset) -> String {
    let seconds = offset.seconds();
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if rest == 0 {
        format!("{sign}{hours:02}{minutes:02}")
    } else {
        format!("{sign}{hours:02}{minutes:02}{rest:02}")
    }
}

fn utc(at: Timestamp) -> String {
    at.strftime("%Y%m%dT%H%M%SZ").to_string()
}

fn local(at: Timestamp, zone: &TimeZone) -> String {
    at.to_zoned(zone.clone())
        .strftime("%Y%m%dT%H%M%S")
        .to_string()
}

/// A TEXT value: backslash, semicolon, comma and newlines escaped; other controls dropped.
fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value: quoted when it holds `:`, `;` or `,`; double quotes and controls, which
/// a parameter cannot hold, dropped.
fn param_value(value: &str) -> String {
    let clean: String = value
        .chars()
        .filter(|c| *c != '"' && !c.is_control())
        .collect();
    if clean.contains([':', ';', ',']) {
        format!("\"{clean}\"")
    } else {
        clean
    }
}

/// Content lines, folded at 75 octets without splitting a character.
#[derive(Default)]
struct Lines(String);

impl Lines {
    fn line(&mut self, line: &str) {
        let mut width = 0;
        for c in line.chars() {
            let size = c.len_utf8();
            if width + size > 75 {
                self.0.push_str("\r\n ");
                width = 1;
            }
            self.0.push(c);
            width += size;
        }
        self.0.push_str("\r\n");
    }
}

/// Most holidays one file may hold.
const MAX_HOLIDAYS: usize = 5_000;

/// The dates of the all-day events of an iCalendar file: a holiday calendar as published by
/// governments and calendar services. Multi-day events count every day; a yearly recurrence
/// (`RRULE:FREQ=YEARLY`, with `COUNT` or `UNTIL`, or ten years) counts every year.
pub fn holidays(ics: &str) -> Result<BTreeSet<Date>, String> {
    let lines = unfold(ics);
    if !lines
        .first()
        .is_some_and(|line| line.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
    {
        return Err("not an iCalendar file: it must start with BEGIN:VCALENDAR".into());
    }
    let mut dates = BTreeSet::new();
    let mut event: Option<(Option<Date>, Option<Date>, Option<String>)> = None;
    for (number, line) in lines.iter().enumerate() {
        let number = number + 1;
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value),
            None if line.is_empty() => continue,
            None => {
                return Err(format!(
                    "line {number}: `{}` is not `NAME:value`",
                    cut(line)
                ));
            }
        };
        let property = name.split(';').next().unwrap_or("").to_ascii_uppercase();
        match (property.as_str(), &mut event) {
            ("BEGIN", None) if value.eq_ignore_ascii_case("VEVENT") => {
                event = Some((None, None, None))
            }
            ("END", Some(_)) if value.eq_ignore_ascii_case("VEVENT") => {
                let (start, end, rule) = event.take().expect("matched Some");
                let start = start.ok_or(format!("line {number}: an event has no DTSTART"))?;
                let end = end.unwrap_or_else(|| start.tomorrow().unwrap_or(start));
                let years = match rule {
                    None => 1,
                    Some(rule) => yearly_count(&rule, start)
                        .map_err(|message| format!("line {number}: {message}"))?,
                };
                for year in 0..years {
                    let mut day =
                        start
                            .checked_add(jiff::Span::new().years(year))
                            .map_err(|_| {
                                format!("line {number}: the recurrence runs past the calendar")
                            })?;
                    let last = end
                        .checked_add(jiff::Span::new().years(year))
                        .unwrap_or(day);
                    while day < last {
                        dates.insert(day);
                        if dates.len() > MAX_HOLIDAYS {
                            return Err(format!("more than {MAX_HOLIDAYS} holidays"));
                        }
                        day = day
                            .tomorrow()
                            .map_err(|_| "a date past the calendar".to_owned())?;
                    }
                }
            }
            ("DTSTART", Some(current)) => current.0 = Some(date(value, number)?),
            ("DTEND", Some(current)) => current.1 = Some(date(value, number)?),
            ("RRULE", Some(current)) => current.2 = Some(value.to_owned()),
            _ => {}
        }
    }
    if event.is_some() {
        return Err("an event is not closed with END:VEVENT".into());
    }
    Ok(dates)
}

fn cut(line: &str) -> String {
    line.chars().take(60).collect()
}

/// `20261225` or `20261225T000000Z`: the date.
fn date(value: &str, number: usize) -> Result<Date, String> {
    let digits = value.trim().get(..8).unwrap_or("");
    let parsed = (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| {
            Date::new(
                digits[..4].parse().ok()?,
                digits[4..6].parse().ok()?,
                digits[6..8].parse().ok()?,
            )
            .ok()
        })
        .flatten();
    parsed.ok_or(format!(
        "line {number}: `{}` is not a date such as 20261225",
        cut(value)
    ))
}

/// How many years a yearly rule covers.
fn yearly_count(rule: &str, start: Date) -> Result<i16, String> {
    let mut yearly = false;
    let mut count: Option<i16> = None;
    for part in rule.split(';') {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        match key.to_ascii_uppercase().as_str() {
            "FREQ" if value.eq_ignore_ascii_case("YEARLY") => yearly = true,
            "COUNT" => count = value.parse::<i16>().ok().map(|c| c.clamp(1, 100)),
            "UNTIL" => {
                let until = date(value, 0)?;
                count = Some((until.year() - start.year() + 1).clamp(1, 100));
            }
            "INTERVAL" if value == "1" => {}
            "WKST" => {}
            _ => {
                return Err(format!(
                    "the recurrence `{}` is not supported: only a plain yearly one is; list each holiday instead",
                    cut(rule)
                ));
            }
        }
    }
    if !yearly {
        return Err(format!("the recurrence `{}` is not yearly", cut(rule)));
    }
    Ok(count.unwrap_or(10))
}

/// Lines with folding undone; CRLF or LF line ends.
fn unfold(ics: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for raw in ics.split('\n') {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t'])
            && let Some(last) = lines.last_mut()
        {
            last.push_str(rest);
        } else {
            lines.push(raw.trim_start_matches('\u{feff}').to_owned());
        }
    }
    while lines.last().is_some_and(|line| line.is_empty()) {
        lines.pop();
    }
    lines
}
