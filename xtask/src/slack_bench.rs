//! Imports a generated Slack export of many messages into a fresh SQLite database and measures
//! the time and how much the peak resident memory grows while it runs (bounded: the export is
//! streamed, not loaded).

use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hindsight_domain::IncidentDraft;
use hindsight_domain::access::Visibility;

pub struct SlackMeasure {
    pub messages: usize,
    pub days: usize,
    pub zip_bytes: u64,
    pub elapsed: Duration,
    pub peak_rss_growth_kb: u64,
}

const PER_DAY: usize = 10_000;

fn status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(field))
                .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Writes the export straight to a file, one message at a time.
fn write_export(path: &std::path::Path, messages: usize) -> anyhow::Result<usize> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.start_file("users.json", options)?;
    let users: Vec<String> = (0..50)
        .map(|n| {
            format!(r#"{{"id":"U{n}","name":"user{n}","profile":{{"display_name":"Person {n}"}}}}"#)
        })
        .collect();
    write!(zip, "[{}]", users.join(","))?;
    zip.start_file("channels.json", options)?;
    write!(zip, r#"[{{"id":"C1","name":"incident-bench"}}]"#)?;
    let days = messages.div_ceil(PER_DAY);
    let start: i64 = 1_795_000_000;
    let mut written = 0;
    for day in 0..days {
        let date = jiff::Timestamp::from_second(start + day as i64 * 86_400)?
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        zip.start_file(format!("incident-bench/{date}.json"), options)?;
        zip.write_all(b"[")?;
        let today = PER_DAY.min(messages - written);
        for n in 0..today {
            let ts = start + day as i64 * 86_400 + (n as i64 * 8);
            if n > 0 {
                zip.write_all(b",")?;
            }
            let extra = match n % 50 {
                0 => r#","reply_count":3,"reactions":[{"name":"pushpin","count":1}]"#.to_owned(),
                1..=3 => format!(r#","thread_ts":"{}.000100""#, ts - (n as i64 % 50) * 8),
                _ => String::new(),
            };
            write!(
                zip,
                r#"{{"type":"message","user":"U{}","text":"Message {n} of day {day}: checking <@U{}> and <https://grafana.example/d/{n}|the dashboard> — ✓","ts":"{ts}.000100"{extra}}}"#,
                n % 50,
                (n + 1) % 50
            )?;
        }
        zip.write_all(b"]")?;
        written += today;
    }
    zip.finish()?.flush()?;
    Ok(days)
}

pub fn measure(messages: usize) -> anyhow::Result<SlackMeasure> {
    let folder = tempfile::tempdir()?;
    let export = folder.path().join("export.zip");
    let days = write_export(&export, messages)?;
    let zip_bytes = std::fs::metadata(&export)?.len();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let store =
            hindsight_store::open(&folder.path().join("slack.db").display().to_string()).await?;
        store.migrate().await?;
        let now = jiff::Timestamp::now();
        let incident = store
            .create_incident(
                IncidentDraft {
                    title: Some("Slack import benchmark".into()),
                    severity: Some("SEV2".into()),
                    started_at: Some("2026-11-20T10:00:00Z".into()),
                    ..IncidentDraft::default()
                }
                .validate(now)
                .map_err(|errors| anyhow::anyhow!("{errors}"))?,
                None,
                now,
            )
            .await?;
        // Linux: writing 5 resets the peak (VmHWM) to the current resident size.
        let _ = std::fs::write("/proc/self/clear_refs", "5");
        let before = status_kb("VmRSS:");
        let options = hindsight_http::timeline::slack::ImportOptions::parse(
            "incident-bench",
            None,
            None,
            vec!["pushpin".into()],
        )
        .map_err(|errors| anyhow::anyhow!("{errors}"))?;
        let started = Instant::now();
        let (summary, outcome) = hindsight_http::timeline::slack::import(
            &(Arc::clone(&store)),
            incident.id,
            Visibility::Everything,
            now,
            std::io::BufReader::new(std::fs::File::open(&export)?),
            options,
            None,
        )
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
        let elapsed = started.elapsed();
        let peak = status_kb("VmHWM:");
        anyhow::ensure!(
            outcome.added as usize == messages && summary.messages as usize == messages,
            "imported {} of {messages}",
            outcome.added
        );
        Ok(SlackMeasure {
            messages,
            days,
            zip_bytes,
            elapsed,
            peak_rss_growth_kb: peak.saturating_sub(before),
        })
    })
}
