//! Reading a Slack workspace export (`users.json`, `channels.json`, one folder per channel with
//! a JSON file per day) into an incident's timeline, for the API and `hindsight import slack`.
//!
//! The zip is read on a blocking thread, one day file at a time and one message at a time
//! (never a whole file in memory), and the events go to the store in batches over a bounded
//! channel, inside one transaction: a malformed file stops the import, is named, and nothing
//! from it is kept.

use std::collections::HashMap;
use std::fmt;
use std::io::{BufReader, Read, Seek};
use std::sync::Arc;

use hindsight_domain::access::Visibility;
use hindsight_domain::incident::parse_time;
use hindsight_domain::slack::{Conversion, SlackChannel, SlackMessage, SlackUser};
use hindsight_domain::timeline::NewEvent;
use hindsight_domain::{IncidentId, ValidationErrors};
use hindsight_store::{ImportBatch, ImportOutcome, Store, StoreError};
use jiff::Timestamp;
use serde::de::{DeserializeSeed, SeqAccess, Visitor};

use crate::error::ApiError;

/// Events sent to the store at a time.
const BATCH: usize = 5_000;
/// Most bytes `users.json` or `channels.json` may hold when inflated.
const MAX_INDEX_BYTES: u64 = 256 * 1024 * 1024;

/// Which part of an export to import, checked.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub channel: String,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub key_reactions: Vec<String>,
}

impl ImportOptions {
    pub fn parse(
        channel: &str,
        from: Option<&str>,
        to: Option<&str>,
        key_reactions: Vec<String>,
    ) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let channel = channel.trim().trim_start_matches('#').to_owned();
        if channel.is_empty() {
            errors.add("channel", "name the channel to import");
        }
        let mut time = |field: &str, text: Option<&str>| {
            text.map(str::trim)
                .filter(|t| !t.is_empty())
                .and_then(|text| match parse_time(text) {
                    Ok(time) => Some(time),
                    Err(message) => {
                        errors.add(field, message);
                        None
                    }
                })
        };
        let from = time("from", from);
        let to = time("to", to);
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            errors.add("to", "`to` must be after `from`");
        }
        errors.into_result(Self {
            channel,
            from,
            to,
            key_reactions,
        })
    }
}

/// What reading the export found beyond the events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadSummary {
    pub day_files: u64,
    pub messages: u64,
    /// Joins, leaves, deleted messages, and messages outside the window.
    pub left_out: u64,
}

#[derive(Debug)]
pub enum ImportError {
    /// The export is not one, or a file in it is malformed: the message names the file.
    Malformed(String),
    Store(StoreError),
}

impl fmt::Display for ImportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ImportError::Malformed(message) => f.write_str(message),
            ImportError::Store(StoreError::Invalid(errors)) => {
                let messages: Vec<_> = errors.0.iter().map(|e| e.message.as_str()).collect();
                f.write_str(&messages.join("; "))
            }
            ImportError::Store(error) => error.fmt(f),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Malformed(message) => {
                ApiError::invalid(ValidationErrors::single("file", message))
            }
            ImportError::Store(error) => error.into(),
        }
    }
}

/// Reports progress: day files read, of how many.
pub type Progress = Box<dyn Fn(u64, u64) + Send>;

/// Imports the channel `options` names from the export in `file` into the incident's timeline.
pub async fn import<R: Read + Seek + Send + 'static>(
    store: &Arc<dyn Store>,
    incident: IncidentId,
    visibility: Visibility,
    now: Timestamp,
    file: R,
    options: ImportOptions,
    progress: Option<Progress>,
) -> Result<(ReadSummary, ImportOutcome), ImportError> {
    // The index files are read first, so that a wrong channel or a file that is no export is
    // reported before the store is asked for anything.
    let (opened, ready) = tokio::sync::oneshot::channel();
    let (sender, receiver) = tokio::sync::mpsc::channel::<ImportBatch>(4);
    let reader = tokio::task::spawn_blocking(move || -> Result<ReadSummary, ImportError> {
        let export = match Export::open(file, &options) {
            Ok(export) => {
                let _ = opened.send(Ok(()));
                export
            }
            Err(error) => {
                let _ = opened.send(Err(error));
                return Ok(ReadSummary::default());
            }
        };
        match export.read(&options, &sender, progress) {
            Ok(summary) => Ok(summary),
            Err(message) => {
                let _ = sender.blocking_send(Err(message.clone()));
                Err(ImportError::Malformed(message))
            }
        }
    });
    ready
        .await
        .map_err(|_| ImportError::Malformed("the export could not be read".into()))??;
    let stored = store
        .import_events(incident, visibility, now, receiver)
        .await;
    let read = reader
        .await
        .map_err(|error| ImportError::Malformed(format!("reading the export failed: {error}")))?;
    match (read, stored) {
        (Err(error), _) => Err(error),
        (Ok(_), Err(error)) => Err(ImportError::Store(error)),
        (Ok(summary), Ok(outcome)) => Ok((summary, outcome)),
    }
}

struct Export<R: Read + Seek> {
    archive: zip::ZipArchive<R>,
    conversion: Conversion,
    /// The channel's day files, in date order.
    days: Vec<String>,
}

fn malformed(name: &str, error: impl fmt::Display) -> ImportError {
    ImportError::Malformed(format!("{name}: {error}"))
}

impl<R: Read + Seek> Export<R> {
    fn open(file: R, options: &ImportOptions) -> Result<Self, ImportError> {
        let mut archive = zip::ZipArchive::new(file).map_err(|error| {
            ImportError::Malformed(format!("the upload is not a zip archive: {error}"))
        })?;
        let users: Vec<SlackUser> = read_index(&mut archive, "users.json")?;
        let channels: Vec<SlackChannel> = read_index(&mut archive, "channels.json")?;
        let channel = channels
            .iter()
            .find(|channel| channel.name == options.channel)
            .ok_or_else(|| {
                let mut names: Vec<&str> = channels.iter().map(|c| c.name.as_str()).collect();
                names.sort_unstable();
                names.truncate(20);
                ImportError::Malformed(format!(
                    "channels.json has no channel `{}`; it has: {}",
                    options.channel,
                    names.join(", ")
                ))
            })?;
        let prefix = format!("{}/", channel.name);
        let mut days: Vec<String> = archive
            .file_names()
            .filter(|name| {
                name.strip_prefix(&prefix)
                    .is_some_and(|day| day.ends_with(".json") && !day.contains('/'))
            })
            .map(str::to_owned)
            .collect();
        days.sort();
        let conversion = Conversion::new(
            channel.id.clone(),
            users
                .iter()
                .map(|user| (user.id.clone(), user.shown_name()))
                .collect(),
            channels
                .iter()
                .map(|channel| (channel.id.clone(), channel.name.clone()))
                .collect::<HashMap<_, _>>(),
            options.key_reactions.clone(),
        );
        Ok(Self {
            archive,
            conversion,
            days,
        })
    }

    fn read(
        mut self,
        options: &ImportOptions,
        sender: &tokio::sync::mpsc::Sender<ImportBatch>,
        progress: Option<Progress>,
    ) -> Result<ReadSummary, String> {
        let mut summary = ReadSummary {
            day_files: self.days.len() as u64,
            ..ReadSummary::default()
        };
        let mut batch: Vec<NewEvent> = Vec::with_capacity(BATCH);
        let total = self.days.len() as u64;
        for (index, name) in std::mem::take(&mut self.days).iter().enumerate() {
            let entry = self
                .archive
                .by_name(name)
                .map_err(|error| format!("{name}: {error}"))?;
            let mut deserializer =
                serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, entry));
            let mut failure: Option<String> = None;
            let mut stopped = false;
            let mut each = |message: SlackMessage| -> bool {
                summary.messages += 1;
                match self.conversion.event(&message) {
                    Err(reason) => {
                        failure = Some(reason);
                        false
                    }
                    Ok(Err(_)) => {
                        summary.left_out += 1;
                        true
                    }
                    Ok(Ok(event)) => {
                        let at = event.content.occurred_at;
                        if options.from.is_some_and(|from| at < from)
                            || options.to.is_some_and(|to| at >= to)
                        {
                            summary.left_out += 1;
                            return true;
                        }
                        batch.push(event);
                        if batch.len() == BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            // A closed channel means the store gave up; its error is reported.
                            stopped = sender.blocking_send(Ok(full)).is_err();
                            return !stopped;
                        }
                        true
                    }
                }
            };
            let read = EachMessage(&mut each).deserialize(&mut deserializer);
            if let Some(reason) = failure {
                return Err(format!("{name}: {reason}"));
            }
            if stopped {
                return Ok(summary);
            }
            read.and_then(|()| deserializer.end())
                .map_err(|error| format!("{name} is not a JSON array of messages: {error}"))?;
            if let Some(progress) = &progress {
                progress(index as u64 + 1, total);
            }
        }
        if !batch.is_empty() {
            let _ = sender.blocking_send(Ok(batch));
        }
        Ok(summary)
    }
}

fn read_index<R: Read + Seek, T: serde::de::DeserializeOwned>(
    archive: &mut zip::ZipArchive<R>,
    name: &str,
) -> Result<Vec<T>, ImportError> {
    let entry = archive.by_name(name).map_err(|_| {
        ImportError::Malformed(format!(
            "the archive has no {name}; is it a Slack workspace export?"
        ))
    })?;
    let reader = BufReader::new(entry.take(MAX_INDEX_BYTES));
    serde_json::from_reader(reader).map_err(|error| malformed(name, error))
}

/// Deserializes a JSON array one message at a time, handing each to a closure that answers
/// whether to go on.
struct EachMessage<'a, F: FnMut(SlackMessage) -> bool>(&'a mut F);

impl<'de, F: FnMut(SlackMessage) -> bool> DeserializeSeed<'de> for EachMessage<'_, F> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de, F: FnMut(SlackMessage) -> bool> Visitor<'de> for EachMessage<'_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of Slack messages")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(message) = seq.next_element::<SlackMessage>()? {
            if !(self.0)(message) {
                // Stop reading; the caller reports why.
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                return Ok(());
            }
        }
        Ok(())
    }
}
