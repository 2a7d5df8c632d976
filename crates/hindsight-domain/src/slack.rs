//! Slack messages as timeline events: the rules of a Slack export import, without the zip.
//!
//! A message's `ts` is read exactly, as two integers (seconds and microseconds), never as a
//! float, since it is also the message's id. Mentions, channel references and links become
//! readable text; thread replies name the message they answer, across day files; bots are named
//! as bots; joins and leaves are left out; pinned messages and messages carrying a configured
//! reaction become key events.

use std::collections::HashMap;

use jiff::Timestamp;
use serde::Deserialize;

use crate::timeline::{EventContent, EventKind, EventSource, MAX_EVENT_TEXT_CHARS, NewEvent};

/// One message of a day file; unknown fields are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SlackMessage {
    #[serde(default)]
    pub ts: String,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub bot_profile: Option<BotProfile>,
    #[serde(default)]
    pub subtype: Option<String>,
    #[serde(default)]
    pub text: String,
    #[serde(default)]
    pub thread_ts: Option<String>,
    #[serde(default)]
    pub reply_count: Option<u64>,
    #[serde(default)]
    pub pinned_to: Option<Vec<String>>,
    #[serde(default)]
    pub reactions: Option<Vec<Reaction>>,
    #[serde(default)]
    pub edited: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub files: Option<Vec<SharedFile>>,
    #[serde(default)]
    pub user_profile: Option<Profile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct BotProfile {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reaction {
    #[serde(default)]
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SharedFile {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
}

/// A user of `users.json` (or the profile a message carries).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SlackUser {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub real_name: Option<String>,
    #[serde(default)]
    pub profile: Option<Profile>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Profile {
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub real_name: Option<String>,
}

impl SlackUser {
    /// The name Slack shows: the display name, else the real name, else the handle.
    pub fn shown_name(&self) -> String {
        let profile = self.profile.as_ref();
        [
            profile.and_then(|p| p.display_name.as_deref()),
            profile.and_then(|p| p.real_name.as_deref()),
            self.real_name.as_deref(),
            Some(self.name.as_str()),
        ]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|name| !name.is_empty())
        .unwrap_or(&self.id)
        .to_owned()
    }
}

/// A channel of `channels.json`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SlackChannel {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
}

/// A message's `ts` as an instant, read exactly: `1700000000.000100` is 1,700,000,000 s and
/// 100 µs. `None` for anything else.
pub fn parse_ts(ts: &str) -> Option<Timestamp> {
    let (seconds, fraction) = ts.split_once('.').unwrap_or((ts, ""));
    if seconds.is_empty()
        || fraction.len() > 9
        || !seconds.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let seconds: i64 = seconds.parse().ok()?;
    let mut micros: i64 = 0;
    for (index, digit) in fraction.bytes().take(6).enumerate() {
        micros += i64::from(digit - b'0') * 10i64.pow(5 - index as u32);
    }
    Timestamp::from_microsecond(seconds.checked_mul(1_000_000)?.checked_add(micros)?).ok()
}

/// What the conversion knows beyond one message: names, the channel, and the threads seen.
#[derive(Debug, Default)]
pub struct Conversion {
    pub channel_id: String,
    pub users: HashMap<String, String>,
    pub channels: HashMap<String, String>,
    /// Reactions that make a message a key event, without colons: `pushpin`.
    pub key_reactions: Vec<String>,
    /// Thread parents seen so far, by `ts`: who wrote them and how they began.
    threads: HashMap<String, (String, String)>,
}

/// Why a message is not on the timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    /// Joins, leaves and deleted messages: noise, not history.
    Noise,
}

impl Conversion {
    pub fn new(
        channel_id: String,
        users: HashMap<String, String>,
        channels: HashMap<String, String>,
        key_reactions: Vec<String>,
    ) -> Self {
        Self {
            channel_id,
            users,
            channels,
            key_reactions,
            threads: HashMap::new(),
        }
    }

    /// The event a message becomes; `Err` with a reason when the message is not read as one
    /// (a `ts` that is not a time is the file's fault and reported as such).
    pub fn event(&mut self, message: &SlackMessage) -> Result<Result<NewEvent, LeftOut>, String> {
        let occurred_at = parse_ts(&message.ts).ok_or_else(|| {
            format!(
                "a message has `ts` {:?}, which is not a Slack timestamp like 1700000000.000100",
                message.ts.chars().take(40).collect::<String>()
            )
        })?;
        if let Some(
            "channel_join" | "channel_leave" | "group_join" | "group_leave" | "message_deleted"
            | "tombstone",
        ) = message.subtype.as_deref()
        {
            return Ok(Err(LeftOut::Noise));
        }
        let author = self.author(message);
        let mut text = self.readable(&message.text);
        if let Some(files) = &message.files {
            for file in files {
                let name = file
                    .title
                    .as_deref()
                    .or(file.name.as_deref())
                    .unwrap_or("a file");
                text.push_str(&format!("\n\n[shared a file: {name}]"));
            }
        }
        if message.edited.is_some() {
            text.push_str(" _(edited)_");
        }
        match message.thread_ts.as_deref() {
            Some(parent) if parent != message.ts => {
                let answered = match self.threads.get(parent) {
                    Some((who, start)) => format!("↪ in the thread of {who} (“{start}”): "),
                    None => "↪ in a thread: ".to_owned(),
                };
                text.insert_str(0, &answered);
            }
            Some(_) | None if message.reply_count.unwrap_or(0) > 0 => {
                let start: String = text.chars().take(60).collect();
                let start = if start.len() < text.len() {
                    format!("{start}…")
                } else {
                    start
                };
                self.threads
                    .insert(message.ts.clone(), (author.clone(), start));
            }
            _ => {}
        }
        let pinned = message.pinned_to.as_ref().is_some_and(|p| !p.is_empty());
        let reacted = message.reactions.as_ref().is_some_and(|reactions| {
            reactions
                .iter()
                .any(|reaction| self.key_reactions.contains(&reaction.name))
        });
        if text.chars().count() > MAX_EVENT_TEXT_CHARS {
            text = text
                .chars()
                .take(MAX_EVENT_TEXT_CHARS - 1)
                .chain(['…'])
                .collect();
        }
        Ok(Ok(NewEvent {
            content: EventContent {
                kind: EventKind::Communication,
                occurred_at: crate::to_stored_precision(occurred_at),
                text,
                key: pinned || reacted,
                link: None,
            },
            source: EventSource::Chat,
            author: Some(author),
            external_id: Some(format!("slack:{}:{}", self.channel_id, message.ts)),
            holds: None,
        }))
    }

    fn author(&self, message: &SlackMessage) -> String {
        let bot = message.bot_id.is_some() || message.subtype.as_deref() == Some("bot_message");
        let name = message
            .user
            .as_ref()
            .and_then(|user| self.users.get(user).cloned())
            .or_else(|| {
                let profile = message.user_profile.as_ref()?;
                profile
                    .display_name
                    .clone()
                    .filter(|n| !n.is_empty())
                    .or_else(|| profile.real_name.clone())
            })
            .or_else(|| message.username.clone())
            .or_else(|| message.bot_profile.as_ref().and_then(|b| b.name.clone()))
            .or_else(|| message.user.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let name: String = name
            .chars()
            .take(crate::timeline::MAX_EVENT_NAME_CHARS - 6)
            .collect();
        if bot
            && message
                .user
                .as_ref()
                .is_none_or(|u| !self.users.contains_key(u))
        {
            format!("{name} (bot)")
        } else {
            name
        }
    }

    /// Slack's markup as readable Markdown: `<@U1>` → `@Ada`, `<#C1|ops>` → `#ops`,
    /// `<https://x|label>` → `[label](https://x)`, `<!here>` → `@here`, entities decoded.
    pub fn readable(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(open) = rest.find('<') {
            out.push_str(&decode(&rest[..open]));
            let after = &rest[open + 1..];
            let Some(close) = after.find('>') else {
                out.push_str(&decode(&rest[open..]));
                rest = "";
                break;
            };
            let inner = &after[..close];
            let (target, label) = match inner.split_once('|') {
                Some((target, label)) => (target, Some(label)),
                None => (inner, None),
            };
            let rendered = if let Some(user) = target.strip_prefix('@') {
                let name = label
                    .map(str::to_owned)
                    .or_else(|| self.users.get(user).cloned())
                    .unwrap_or_else(|| user.to_owned());
                format!("@{}", name.trim_start_matches('@'))
            } else if let Some(channel) = target.strip_prefix('#') {
                let name = label
                    .map(str::to_owned)
                    .or_else(|| self.channels.get(channel).cloned())
                    .unwrap_or_else(|| channel.to_owned());
                format!("#{name}")
            } else if let Some(special) = target.strip_prefix('!') {
                match label {
                    Some(label) => label.to_owned(),
                    None => format!("@{}", special.split('^').next().unwrap_or(special)),
                }
            } else if let Some(mail) = target.strip_prefix("mailto:") {
                label.unwrap_or(mail).to_owned()
            } else {
                let target = decode(target);
                match label {
                    Some(label) if label != target => format!("[{}]({target})", decode(label)),
                    _ => target,
                }
            };
            out.push_str(&rendered);
            rest = &after[close + 1..];
        }
        out.push_str(&decode(rest));
        out
    }
}

fn decode(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversion() -> Conversion {
        Conversion::new(
            "C024BE91L".into(),
            [
                ("U1".to_owned(), "Ada".to_owned()),
                ("U2".to_owned(), "Grace Hopper".to_owned()),
            ]
            .into(),
            [("C9".to_owned(), "ops".to_owned())].into(),
            vec!["pushpin".into()],
        )
    }

    fn message(json: &str) -> SlackMessage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn ts_is_read_exactly_as_integers_never_as_a_float() {
        let time = parse_ts("1700000000.000100").unwrap();
        assert_eq!(time.as_microsecond(), 1_700_000_000_000_100);
        // As an f64 this ts would round to ...000099; read as integers it does not.
        assert_eq!(
            parse_ts("1700000000.123457").unwrap().as_microsecond(),
            1_700_000_000_123_457
        );
        assert_eq!(
            parse_ts("1700000000").unwrap().as_microsecond(),
            1_700_000_000_000_000
        );
        for bad in ["", "abc", "1.2.3", "-5.0", "1e9", "1700000000.0001000000"] {
            assert_eq!(parse_ts(bad), None, "{bad}");
        }
    }

    #[test]
    fn mentions_channels_and_links_are_rendered_readable() {
        let c = conversion();
        assert_eq!(
            c.readable("<@U1> see <#C9> and <#C1|general>, <https://status.example/x?a=1&amp;b=2|status page> &lt;3 <!here> <@U7|sam> <mailto:a@b.c|a@b.c> <https://plain.example>"),
            "@Ada see #ops and #general, [status page](https://status.example/x?a=1&b=2) <3 @here @sam a@b.c https://plain.example"
        );
        assert_eq!(c.readable("unclosed <@U1"), "unclosed <@U1");
    }

    #[test]
    fn threads_bots_edits_files_pins_and_joins_are_handled() {
        let mut c = conversion();
        let parent = c
            .event(&message(r#"{"ts":"1700000000.000100","user":"U1","text":"DB is down 🔥","reply_count":2,"thread_ts":"1700000000.000100","reactions":[{"name":"pushpin","count":1}]}"#))
            .unwrap()
            .unwrap();
        assert!(parent.content.key);
        assert_eq!(parent.author.as_deref(), Some("Ada"));
        assert_eq!(
            parent.external_id.as_deref(),
            Some("slack:C024BE91L:1700000000.000100")
        );
        let reply = c
            .event(&message(r#"{"ts":"1700086400.000200","user":"U2","text":"Failing over","thread_ts":"1700000000.000100","edited":{"user":"U2","ts":"1"}}"#))
            .unwrap()
            .unwrap();
        assert_eq!(
            reply.content.text,
            "↪ in the thread of Ada (“DB is down 🔥”): Failing over _(edited)_"
        );
        assert!(!reply.content.key);
        let bot = c
            .event(&message(r#"{"ts":"1700000001.000000","subtype":"bot_message","bot_id":"B1","username":"PagerDuty","text":"Triggered","pinned_to":["C024BE91L"]}"#))
            .unwrap()
            .unwrap();
        assert_eq!(bot.author.as_deref(), Some("PagerDuty (bot)"));
        assert!(bot.content.key);
        let file = c
            .event(&message(r#"{"ts":"1700000002.000000","user":"U1","text":"graph","files":[{"name":"cpu.png","title":"CPU"}]}"#))
            .unwrap()
            .unwrap();
        assert_eq!(file.content.text, "graph\n\n[shared a file: CPU]");
        let join = c
            .event(&message(r#"{"ts":"1700000003.000000","user":"U1","subtype":"channel_join","text":"<@U1> has joined"}"#))
            .unwrap();
        assert_eq!(join, Err(LeftOut::Noise));
        let broken = c.event(&message(r#"{"ts":"yesterday","user":"U1","text":"x"}"#));
        assert!(broken.unwrap_err().contains("not a Slack timestamp"));
    }
}
