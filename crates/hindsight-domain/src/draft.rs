//! The first draft of a postmortem, written from what Hindsight already knows about its
//! incidents: the summary, the impact in words, and the timeline with the response metrics.
//! People edit from there instead of retyping what the tool holds.
//!
//! The timeline is written between two markers (HTML comments, which rendered Markdown does not
//! show). The opening one carries a fingerprint of what was generated, so that refreshing the
//! block after new events arrive can tell text it wrote from a person's edit inside the block,
//! and never drops such an edit without being told to. Text outside the markers is the
//! writer's and is never touched.

use std::collections::BTreeMap;

use jiff::tz::TimeZone;

use crate::document::normalize_text;
use crate::incident::Incident;
use crate::postmortem::Template;
use crate::timeline::{EventSource, Metrics, TimelineEvent, format_duration};

/// An incident with its timeline, as the draft reads it.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub incident: &'a Incident,
    /// Its events, in any order.
    pub events: &'a [TimelineEvent],
}

/// The zone times are written in, with the name readers see.
#[derive(Debug, Clone)]
pub struct Zone {
    pub zone: TimeZone,
    pub name: String,
}

impl Zone {
    pub fn utc() -> Self {
        Self {
            zone: TimeZone::UTC,
            name: "UTC".into(),
        }
    }
}

const BEGIN: &str = "<!-- hindsight:timeline ";
const BEGIN_END: &str = " -->";
const END: &str = "<!-- /hindsight:timeline -->";
/// Said once inside the opening marker, for whoever reads the Markdown source.
const MARKER_NOTE: &str =
    "generated from the incident timeline; refreshing rewrites what is between these markers";

/// The sections a new postmortem on `template` starts with, by key. Only sections the template
/// has are written: `summary` (or `what_went_wrong`), `impact` and `timeline` (or, where the
/// template has none, the timeline goes under the summary).
pub fn sections(template: &Template, sources: &[Source], zone: &Zone) -> BTreeMap<String, String> {
    let has = |key: &str| template.sections.iter().any(|section| section.key == key);
    let mut sections = BTreeMap::new();
    let summary_key = ["summary", "what_went_wrong"]
        .into_iter()
        .find(|key| has(key));
    let timeline = timeline_block(sources, zone);
    if let Some(key) = summary_key {
        let mut text = summary(sources, zone);
        if !has("timeline") {
            text = format!("{text}\n\n{timeline}");
        }
        sections.insert(key.to_owned(), text);
    }
    if has("impact") {
        sections.insert("impact".to_owned(), impact(sources));
    }
    if has("timeline") {
        sections.insert("timeline".to_owned(), timeline);
    }
    sections
}

/// The section a refreshed timeline block goes to when none is found: `timeline`, else the
/// section the draft put it in.
pub fn timeline_section(template: &Template) -> Option<&str> {
    ["timeline", "summary", "what_went_wrong"]
        .into_iter()
        .find(|key| template.sections.iter().any(|section| section.key == *key))
}

fn time_of_day(time: jiff::Timestamp, zone: &Zone) -> String {
    time.to_zoned(zone.zone.clone())
        .strftime("%H:%M")
        .to_string()
}

fn day_of(time: jiff::Timestamp, zone: &Zone) -> String {
    time.to_zoned(zone.zone.clone())
        .strftime("%A %-d %B %Y")
        .to_string()
}

/// "a, b and c", for sentences people read.
pub fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// "12,000".
fn thousands(number: u64) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The incidents' own summaries, each with a line of facts: severity, services and when.
pub fn summary(sources: &[Source], zone: &Zone) -> String {
    let several = sources.len() > 1;
    let mut parts = Vec::new();
    for source in sources {
        let content = &source.incident.content;
        let mut facts = vec![content.severity.as_str().to_owned()];
        if !content.services.is_empty() {
            facts.push(format!("services: {}", and_list(&content.services)));
        }
        facts.push(format!(
            "started {} at {} ({})",
            day_of(content.started_at, zone),
            time_of_day(content.started_at, zone),
            zone.name
        ));
        if let Some(resolved) = content.resolved_at {
            facts.push(format!(
                "resolved {} at {}",
                day_of(resolved, zone),
                time_of_day(resolved, zone)
            ));
        }
        if let Some(detection) = content.detection {
            facts.push(format!("detected by {}", detection.as_str()));
        }
        let mut text = String::new();
        if several {
            text.push_str(&format!(
                "**INC-{}: {}**\n\n",
                source.incident.id, content.title
            ));
        }
        if !content.summary.trim().is_empty() {
            text.push_str(content.summary.trim());
            text.push_str("\n\n");
        }
        text.push_str(&format!("_{}._", facts.join("; ")));
        parts.push(text);
    }
    parts.join("\n\n")
}

/// The recorded impact in words, and what was not recorded, so the writer knows what to find.
pub fn impact(sources: &[Source]) -> String {
    let several = sources.len() > 1;
    let mut parts = Vec::new();
    for source in sources {
        let content = &source.incident.content;
        let impact = &content.impact;
        let mut said = Vec::new();
        let mut unknown = Vec::new();
        match impact.user_visible_minutes {
            Some(1) => said.push("Users could see the failure for 1 minute.".to_owned()),
            Some(minutes) => said.push(format!(
                "Users could see the failure for {} minutes.",
                thousands(minutes)
            )),
            None => unknown.push("user-visible minutes".to_owned()),
        }
        match impact.users_affected {
            Some(1) => said.push("1 user was affected.".to_owned()),
            Some(users) => said.push(format!("{} users were affected.", thousands(users))),
            None => unknown.push("users affected".to_owned()),
        }
        match impact.requests_failed {
            Some(1) => said.push("1 request failed.".to_owned()),
            Some(requests) => said.push(format!("{} requests failed.", thousands(requests))),
            None => unknown.push("requests failed".to_owned()),
        }
        said.push(if impact.data_loss {
            "Data was lost.".to_owned()
        } else {
            "No data loss was recorded.".to_owned()
        });
        if impact.security_breach {
            said.push("It was a security breach.".to_owned());
        }
        for (name, value) in &impact.business {
            said.push(format!(
                "{}: {value}.",
                sentence_case(&name.replace('_', " "))
            ));
        }
        let metrics = Metrics::of(content, source.events);
        if metrics.impact_window.is_some() {
            said.push(format!(
                "The impact window, from the error to its mitigation, was {}.",
                format_duration(metrics.impact_window)
            ));
        }
        let mut text = String::new();
        if several {
            text.push_str(&format!("**INC-{}**\n\n", source.incident.id));
        }
        text.push_str(&said.join(" "));
        if !unknown.is_empty() {
            text.push_str(&format!("\n\nNot recorded yet: {}.", and_list(&unknown)));
        }
        parts.push(text);
    }
    parts.join("\n\n")
}

fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Indents every line after the first by `indent`, so that Markdown keeps it in its list item.
fn continued(text: &str, indent: &str) -> String {
    text.lines()
        .enumerate()
        .map(|(index, line)| {
            if index == 0 || line.trim().is_empty() {
                line.trim_end().to_owned()
            } else {
                format!("{indent}{}", line.trim_end())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The most text the generated timeline takes, in characters: a section holds 100,000, and
/// the writer needs room of their own. An incident whose events would write more gets its key
/// moments and its people's and alerts' events first, and a line that says what was left out.
pub const MAX_TIMELINE_CHARS: usize = 50_000;

/// How much an event matters to the timeline, lower first: key moments, then what people and
/// alerts recorded, then notes, then chat.
fn rank(event: &TimelineEvent) -> u8 {
    if event.content.key || event.holds.is_some() {
        0
    } else {
        match (event.source, event.content.kind) {
            (EventSource::Chat, _) => 3,
            (_, crate::timeline::EventKind::Note) => 2,
            _ => 1,
        }
    }
}

/// One event as a Markdown list item: key moments in bold, chat quoted with its author.
fn event_line(event: &TimelineEvent, zone: &Zone, several: bool) -> String {
    let time = time_of_day(event.content.occurred_at, zone);
    let key = event.content.key || event.holds.is_some();
    let mut head = format!("{time} · {}", event.content.kind.label());
    if several {
        head = format!("{head} (INC-{})", event.incident_id);
    }
    if key {
        head = format!("**{head}**");
    }
    let text = event.content.text.trim();
    let mut line = match event.source {
        // Hindsight's own key-time events say no more than their kind.
        EventSource::System => format!("- {head}"),
        EventSource::Chat => {
            let author = event.author.as_deref().unwrap_or("someone");
            let quoted: Vec<String> = text
                .lines()
                .map(|line| format!("  > {}", line.trim_end()).trim_end().to_owned())
                .collect();
            format!("- {head}, {author} in chat:\n{}", quoted.join("\n"))
        }
        EventSource::Alert => format!("- {head} (alert): {}", continued(text, "  ")),
        EventSource::Manual => match event.author.as_deref() {
            Some(author) if !author.is_empty() => {
                format!("- {head}: {} ({author})", continued(text, "  "))
            }
            _ => format!("- {head}: {}", continued(text, "  ")),
        },
    };
    if let Some(link) = &event.content.link {
        line.push_str(&format!(" [link](<{link}>)"));
    }
    line
}

/// The body of the timeline block: the response metrics, then the events by day in `zone`,
/// within [`MAX_TIMELINE_CHARS`].
fn timeline_body(sources: &[Source], zone: &Zone) -> String {
    let several = sources.len() > 1;
    let mut out = format!("Times are in {}.\n\n", zone.name);
    for source in sources {
        let metrics = Metrics::of(&source.incident.content, source.events);
        let named: Vec<String> = metrics
            .named()
            .into_iter()
            .map(|(name, value)| format!("{name}: {}", format_duration(value)))
            .collect();
        let label = if several {
            format!("Response, INC-{}", source.incident.id)
        } else {
            "Response".to_owned()
        };
        out.push_str(&format!("**{label}:** {}.\n\n", named.join(" · ")));
    }
    let mut events: Vec<&TimelineEvent> = sources
        .iter()
        .flat_map(|source| source.events.iter())
        .collect();
    events.sort_by_key(|event| (event.content.occurred_at, event.id));
    if events.is_empty() {
        out.push_str("No events are on the timeline yet.");
        return out;
    }
    let lines: Vec<String> = events
        .iter()
        .map(|event| event_line(event, zone, several))
        .collect();
    // Which events are written: all of them when they fit, else the most telling first.
    let total: usize = lines.iter().map(|line| line.len() + 1).sum();
    let mut keep = vec![true; lines.len()];
    let mut left_out = (0usize, 0usize);
    if total > MAX_TIMELINE_CHARS {
        let mut order: Vec<usize> = (0..lines.len()).collect();
        order.sort_by_key(|index| (rank(events[*index]), *index));
        let mut used = 0;
        for index in order {
            let cost = lines[index].len() + 1;
            if used + cost <= MAX_TIMELINE_CHARS {
                used += cost;
            } else {
                keep[index] = false;
                left_out.0 += 1;
                if events[index].source == EventSource::Chat {
                    left_out.1 += 1;
                }
            }
        }
    }
    let mut day = String::new();
    for (index, event) in events.iter().enumerate() {
        if !keep[index] {
            continue;
        }
        let this_day = day_of(event.content.occurred_at, zone);
        if this_day != day {
            if !day.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("#### {this_day}\n\n"));
            day = this_day;
        }
        out.push_str(&lines[index]);
        out.push('\n');
    }
    if left_out.0 > 0 {
        let links: Vec<String> = sources
            .iter()
            .map(|source| format!("[INC-{0}](/incidents/{0})", source.incident.id))
            .collect();
        out.push_str(&format!(
            "\n_{} more events ({} of them chat messages) are on the timeline of {} and are \
             not copied here; the key moments are._\n",
            left_out.0,
            left_out.1,
            and_list(&links)
        ));
    }
    normalize_text(&out)
}

/// 64-bit FNV-1a of the canonical text, as 16 hex digits: a fingerprint, not a secret.
fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in normalize_text(text).bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The timeline between its markers, ready to stand in a section.
pub fn timeline_block(sources: &[Source], zone: &Zone) -> String {
    let body = timeline_body(sources, zone);
    format!(
        "{BEGIN}{} {MARKER_NOTE}{BEGIN_END}\n{body}\n{END}",
        fingerprint(&body)
    )
}

/// Where a generated block stands in a text.
struct Found {
    /// Byte range of the whole block, markers included.
    start: usize,
    end: usize,
    body: String,
    fingerprint: String,
}

fn find_block(text: &str) -> Option<Found> {
    let start = text.find(BEGIN)?;
    let marker_end = start + text[start..].find(BEGIN_END)? + BEGIN_END.len();
    let marker = &text[start + BEGIN.len()..marker_end - BEGIN_END.len()];
    let fingerprint = marker.split_whitespace().next()?.to_owned();
    let end_start = marker_end + text[marker_end..].find(END)?;
    Some(Found {
        start,
        end: end_start + END.len(),
        body: text[marker_end..end_start].to_owned(),
        fingerprint,
    })
}

/// Whether `text` holds a generated timeline block.
pub fn has_timeline_block(text: &str) -> bool {
    find_block(text).is_some()
}

/// What refreshing a section's generated timeline comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refresh {
    /// The block was replaced (or added, when the section had none); the section's new text.
    Updated { text: String, added: bool },
    /// Nothing new: the block already says what the timeline says.
    Unchanged,
    /// Someone edited inside the block: refreshing would drop their edit. `edited` is the
    /// block's text as it stands, `generated` what refreshing would put instead.
    Edited { edited: String, generated: String },
}

/// Refreshes the generated block in `text` (a section's Markdown) with `block` (from
/// [`timeline_block`]). Text outside the markers stays as it is. A block edited by hand is
/// replaced only when `replace_edits` is set. A section without a block gets it at its end.
pub fn refresh_timeline(text: &str, block: &str, replace_edits: bool) -> Refresh {
    let Some(new) = find_block(block) else {
        return Refresh::Unchanged;
    };
    let Some(found) = find_block(text) else {
        let text = if text.trim().is_empty() {
            block.to_owned()
        } else {
            format!("{}\n\n{block}", text.trim_end())
        };
        return Refresh::Updated { text, added: true };
    };
    if normalize_text(&found.body) == normalize_text(&new.body) {
        return Refresh::Unchanged;
    }
    let edited = fingerprint(&found.body) != found.fingerprint;
    if edited && !replace_edits {
        return Refresh::Edited {
            edited: normalize_text(&found.body),
            generated: normalize_text(&new.body),
        };
    }
    let mut updated = String::with_capacity(text.len() + block.len());
    updated.push_str(&text[..found.start]);
    updated.push_str(block);
    updated.push_str(&text[found.end..]);
    Refresh::Updated {
        text: updated,
        added: false,
    }
}

#[cfg(test)]
mod tests;
