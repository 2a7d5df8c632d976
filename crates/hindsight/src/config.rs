//! Settings, from (highest precedence first) command-line flags, `HINDSIGHT_*` environment
//! variables, an optional TOML file, and built-in defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde::Deserialize;

use crate::jobs_config;

pub const DEFAULT_CONFIG: &str = include_str!("../hindsight.example.toml");
const DEFAULT_LISTEN: &str = "127.0.0.1:7878";
const DEFAULT_DATABASE: &str = "hindsight.db";
const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Where the data lives, shared by every command that opens the database.
#[derive(Debug, Args)]
pub struct DatabaseArgs {
    /// The database: a SQLite file path (default `hindsight.db`, created when missing) or a
    /// `postgres://user:password@host:port/database` URL.
    #[arg(long, env = "HINDSIGHT_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,

    /// A TOML configuration file; `hindsight config default` prints an example.
    #[arg(long, env = "HINDSIGHT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// How to write logs (to standard error). The level comes from `HINDSIGHT_LOG`
    /// (e.g. `info`, `debug`, `hindsight_http=debug`).
    #[arg(long, env = "HINDSIGHT_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address and port to listen on; port 0 picks a free one.
    #[arg(long, env = "HINDSIGHT_LISTEN", value_name = "ADDRESS:PORT")]
    pub listen: Option<SocketAddr>,

    /// Load example incidents into an empty database, so there is something to look at, and
    /// create a demo admin (its random password is printed once) if there are no users.
    #[arg(long)]
    pub demo: bool,

    /// Hindsight is served over HTTPS (directly or by a proxy): the session cookie is then
    /// `Secure` and `__Host-` prefixed. Leave off for plain HTTP on loopback.
    #[arg(long, env = "HINDSIGHT_SECURE_COOKIES")]
    pub secure_cookies: bool,

    /// Do not run background jobs (reminders, agenda, digest, notification delivery) in this
    /// process; run `hindsight worker` for them instead.
    #[arg(long, env = "HINDSIGHT_NO_JOBS")]
    pub no_jobs: bool,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// The configuration file. Every key is optional; unknown keys are an error, so that a typo
/// does not silently fall back to a default.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    database_url: Option<String>,
    log_format: Option<LogFormat>,
    max_body_bytes: Option<usize>,
    /// How long clients may take, how many may connect, how long a stop waits.
    #[serde(default)]
    server: FileServer,
    secure_cookies: Option<bool>,
    #[serde(default)]
    outbound_allow: Vec<String>,
    /// The contributing factor taxonomy, replacing the default one.
    factor_categories: Option<Vec<String>>,
    /// The largest image a postmortem takes, in bytes (5 MiB when absent).
    max_image_bytes: Option<u64>,
    #[serde(default)]
    lint: FileLint,
    #[serde(default)]
    intake: hindsight_http::timeline::intake::IntakeSettings,
    #[serde(default)]
    timeline: FileTimeline,
    /// Where people reach Hindsight, for links in exports that leave it.
    public_url: Option<String>,
    /// The postmortem policy: thresholds, levels, firm triggers, reasons against.
    #[serde(default)]
    policy: hindsight_domain::policy::PolicyConfig,
    /// Default due dates of action items by priority.
    #[serde(default)]
    action_items: hindsight_domain::action_item::DueTargets,
    /// Background work: poll interval, leases, delivery attempts.
    #[serde(default)]
    jobs: jobs_config::FileJobs,
    /// When action items and owed postmortems are chased.
    #[serde(default)]
    reminders: jobs_config::FileReminders,
    /// The bi-weekly action item review.
    #[serde(default)]
    agenda: jobs_config::FileRecurring,
    /// The weekly digest.
    #[serde(default)]
    digest: jobs_config::FileRecurring,
    smtp: Option<jobs_config::FileSmtp>,
    /// Where notifications go: Slack, signed webhooks, email lists; global or per team.
    #[serde(default)]
    channels: Vec<jobs_config::FileChannel>,
    /// Review meetings: time zones, meeting hours, working days, holidays, roles, moderators.
    #[serde(default)]
    meetings: hindsight_domain::meeting::MeetingsFile,
}

/// `[server]`: every figure in seconds but `max_connections`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileServer {
    header_timeout_seconds: Option<u64>,
    body_idle_timeout_seconds: Option<u64>,
    body_timeout_seconds: Option<u64>,
    max_connections: Option<usize>,
    shutdown_grace_seconds: Option<u64>,
    database_wait_seconds: Option<u64>,
}

impl FileServer {
    fn limits(&self) -> anyhow::Result<hindsight_http::ServeLimits> {
        let defaults = hindsight_http::ServeLimits::default();
        let seconds = |name: &str, value: Option<u64>, default: std::time::Duration| match value {
            None => Ok(default),
            Some(0) => bail!("server.{name} must be at least 1"),
            Some(value) if value > 3600 => bail!("server.{name} must be at most 3600"),
            Some(value) => Ok(std::time::Duration::from_secs(value)),
        };
        let max_connections = self.max_connections.unwrap_or(defaults.max_connections);
        if !(1..=100_000).contains(&max_connections) {
            bail!("server.max_connections must be 1 to 100000");
        }
        Ok(hindsight_http::ServeLimits {
            header_timeout: seconds(
                "header_timeout_seconds",
                self.header_timeout_seconds,
                defaults.header_timeout,
            )?,
            body_idle_timeout: seconds(
                "body_idle_timeout_seconds",
                self.body_idle_timeout_seconds,
                defaults.body_idle_timeout,
            )?,
            body_timeout: seconds(
                "body_timeout_seconds",
                self.body_timeout_seconds,
                defaults.body_timeout,
            )?,
            max_connections,
            shutdown_grace: seconds(
                "shutdown_grace_seconds",
                self.shutdown_grace_seconds,
                defaults.shutdown_grace,
            )?,
        })
    }
}

/// `[timeline]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTimeline {
    /// Reactions that make an imported Slack message a key event.
    slack_key_reactions: Option<Vec<String>>,
    /// The largest Slack export the API and the import form take, in bytes.
    max_import_bytes: Option<u64>,
}

/// `[lint]`: what the organisation adds to the blameless lint or switches off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLint {
    #[serde(default)]
    disabled_rules: Vec<String>,
    #[serde(default)]
    judgement_terms: Vec<String>,
    #[serde(default)]
    people: Vec<String>,
    #[serde(default)]
    rules: Vec<hindsight_domain::lint::CustomRule>,
    /// Rules whose findings stop review and publishing unless an editor justifies the move.
    #[serde(default)]
    block: Vec<String>,
}

/// The settings in force, every source applied.
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub log_format: LogFormat,
    pub max_body_bytes: usize,
    pub server: hindsight_http::ServeLimits,
    /// How long the start waits for a PostgreSQL server that cannot be reached yet.
    pub database_wait: std::time::Duration,
    pub secure_cookies: bool,
    /// Internal address ranges that outbound requests (webhooks, Slack) may reach anyway.
    pub outbound_allow: Vec<hindsight_outbound::Cidr>,
    pub factor_categories: Vec<String>,
    pub max_image_bytes: u64,
    pub lint: hindsight_domain::lint::LintConfig,
    pub timeline: hindsight_http::timeline::TimelineSettings,
    pub follow_through: hindsight_http::policy::FollowThroughSettings,
    /// The background worker's settings; its id is given when it starts.
    pub jobs: hindsight_jobs::JobSettings,
    pub meetings: hindsight_http::meetings::MeetingConfig,
}

impl Settings {
    pub fn load(database: &DatabaseArgs, serve: Option<&ServeArgs>) -> anyhow::Result<Self> {
        let file = match &database.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let listen = match serve.and_then(|serve| serve.listen) {
            Some(listen) => listen,
            None => {
                let text = file.listen.as_deref().unwrap_or(DEFAULT_LISTEN);
                text.parse()
                    .with_context(|| format!("listen = {text:?} is not an ADDRESS:PORT"))?
            }
        };
        let max_body_bytes = file.max_body_bytes.unwrap_or(DEFAULT_MAX_BODY_BYTES);
        let server = file.server.limits()?;
        let database_wait = match file.server.database_wait_seconds {
            None => std::time::Duration::from_secs(60),
            Some(seconds) if seconds <= 3600 => std::time::Duration::from_secs(seconds),
            Some(_) => bail!("server.database_wait_seconds must be at most 3600"),
        };
        if max_body_bytes < 1024 {
            bail!("max_body_bytes = {max_body_bytes} is too small; use at least 1024");
        }
        let outbound_allow = file
            .outbound_allow
            .iter()
            .map(|range| {
                range
                    .parse()
                    .map_err(|message: String| anyhow::anyhow!("outbound_allow: {message}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let factor_categories = match file.factor_categories {
            Some(categories) => {
                if categories.is_empty()
                    || categories.iter().any(|category| {
                        category.is_empty()
                            || !category
                                .chars()
                                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                    })
                {
                    bail!(
                        "factor_categories: list at least one, each lowercase letters, digits and `_`"
                    );
                }
                categories
            }
            None => hindsight_domain::postmortem::DEFAULT_FACTOR_CATEGORIES
                .iter()
                .map(|category| (*category).to_owned())
                .collect(),
        };
        for rule in &file.lint.rules {
            if rule.phrases.iter().all(|phrase| phrase.trim().is_empty())
                || rule.id.trim().is_empty()
            {
                bail!(
                    "lint.rules: the rule `{}` needs an id and at least one phrase",
                    rule.id
                );
            }
        }
        for rule in &file.lint.block {
            let known = hindsight_domain::lint::RULES.contains(&rule.as_str())
                || file.lint.rules.iter().any(|custom| custom.id == *rule);
            if !known {
                bail!(
                    "lint.block: `{rule}` is not a lint rule; the rules are {} and the ids of \
                     [[lint.rules]]",
                    hindsight_domain::lint::RULES.join(", ")
                );
            }
        }
        let lint = hindsight_domain::lint::LintConfig {
            people: file.lint.people,
            disabled_rules: file.lint.disabled_rules,
            judgement_terms: file.lint.judgement_terms,
            custom_rules: file.lint.rules,
            block: file.lint.block,
        };
        file.intake
            .check()
            .map_err(|message| anyhow::anyhow!("{message}"))?;
        let defaults = hindsight_http::timeline::TimelineSettings::default();
        let timeline = hindsight_http::timeline::TimelineSettings {
            intake: file.intake,
            slack_key_reactions: file
                .timeline
                .slack_key_reactions
                .map(|reactions| {
                    reactions
                        .into_iter()
                        .map(|reaction| reaction.trim().trim_matches(':').to_owned())
                        .filter(|reaction| !reaction.is_empty())
                        .collect()
                })
                .unwrap_or(defaults.slack_key_reactions),
            max_import_bytes: file
                .timeline
                .max_import_bytes
                .unwrap_or(defaults.max_import_bytes),
        };
        file.policy
            .check()
            .map_err(|message| anyhow::anyhow!("{message}"))?;
        file.action_items
            .check()
            .map_err(|message| anyhow::anyhow!("{message}"))?;
        let public_url = file
            .public_url
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty());
        if let Some(url) = &public_url
            && !(url.starts_with("https://") || url.starts_with("http://"))
        {
            bail!("public_url = {url:?} must start with https:// or http://");
        }
        let jobs = jobs_config::job_settings(
            jobs_config::FileFollowThrough {
                jobs: file.jobs,
                reminders: file.reminders,
                agenda: file.agenda,
                digest: file.digest,
                smtp: file.smtp,
                channels: file.channels,
            },
            public_url.as_deref(),
        )?;
        let meetings = meeting_config(
            &file.meetings,
            jobs.smtp.as_ref().map(|smtp| smtp.from.as_str()),
            database.config.as_deref(),
        )?;
        let follow_through = hindsight_http::policy::FollowThroughSettings {
            policy: file.policy,
            due_targets: file.action_items,
            public_url,
            agenda: jobs.agenda.clone(),
        };
        Ok(Self {
            jobs,
            meetings,
            follow_through,
            factor_categories,
            max_image_bytes: match file.max_image_bytes {
                Some(0) => bail!("max_image_bytes: must be at least 1"),
                Some(bytes) => bytes,
                None => hindsight_domain::image::DEFAULT_MAX_IMAGE_BYTES,
            },
            lint,
            timeline,
            outbound_allow,
            listen,
            database_url: database
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or_else(|| DEFAULT_DATABASE.to_owned()),
            log_format: database
                .log_format
                .or(file.log_format)
                .unwrap_or(LogFormat::Text),
            max_body_bytes,
            server,
            database_wait,
            secure_cookies: serve.is_some_and(|serve| serve.secure_cookies)
                || file.secure_cookies.unwrap_or(false),
        })
    }
}

fn read_file(path: &Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("in the configuration file {}", path.display()))
}

/// The largest holiday calendar file read, in bytes.
const MAX_HOLIDAY_FILE_BYTES: u64 = 1024 * 1024;

/// `[meetings]`, checked: holiday files are read relative to the configuration file, and the
/// organizer defaults to the SMTP sender.
fn meeting_config(
    file: &hindsight_domain::meeting::MeetingsFile,
    smtp_from: Option<&str>,
    config_path: Option<&std::path::Path>,
) -> anyhow::Result<hindsight_http::meetings::MeetingConfig> {
    let folder = config_path
        .and_then(std::path::Path::parent)
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let read = |name: &str| -> Result<String, String> {
        let path = folder.join(name);
        let size = std::fs::metadata(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))?
            .len();
        if size > MAX_HOLIDAY_FILE_BYTES {
            return Err(format!(
                "{} is {size} bytes; a holiday calendar is at most {MAX_HOLIDAY_FILE_BYTES}",
                path.display()
            ));
        }
        std::fs::read_to_string(&path)
            .map_err(|error| format!("cannot read {}: {error}", path.display()))
    };
    let settings = file
        .validate(&read)
        .map_err(|errors| anyhow::anyhow!("{}", errors.summary()))?;
    let text = file
        .organizer
        .as_deref()
        .or(smtp_from)
        .unwrap_or("Hindsight <hindsight@localhost>");
    let mailbox: hindsight_jobs::send::Mailbox = text.parse().map_err(|_| {
        anyhow::anyhow!(
            "meetings.organizer = {text:?} is not an address like \"Reviews <reviews@example.com>\""
        )
    })?;
    Ok(hindsight_http::meetings::MeetingConfig {
        settings,
        organizer: hindsight_domain::meeting::Organizer {
            name: mailbox.name.unwrap_or_else(|| "Hindsight".to_owned()),
            email: mailbox.email.to_string(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(config: Option<PathBuf>, database_url: Option<&str>) -> DatabaseArgs {
        DatabaseArgs {
            database_url: database_url.map(str::to_owned),
            config,
            log_format: None,
        }
    }

    #[test]
    fn the_printed_default_configuration_parses_and_changes_nothing() {
        let file: FileConfig = toml::from_str(DEFAULT_CONFIG).unwrap();
        assert!(file.listen.is_none() && file.database_url.is_none());
    }

    #[test]
    fn the_commented_intake_and_timeline_examples_work_once_uncommented() {
        // Uncomment the example's intake and timeline tables, as an admin would.
        let start = DEFAULT_CONFIG.find("# [intake.alertmanager]").unwrap();
        let example: String = DEFAULT_CONFIG[start..]
            .lines()
            .filter(|line| {
                line.strip_prefix("# ")
                    .is_some_and(|toml| toml.starts_with('[') || toml.contains(" = "))
            })
            .map(|line| format!("{}\n", &line[2..]))
            .collect();
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("hindsight.toml");
        std::fs::write(&path, &example).unwrap();
        std::fs::write(
            folder.path().join("holidays.ics"),
            "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART;VALUE=DATE:20270101\nEND:VEVENT\nEND:VCALENDAR\n",
        )
        .unwrap();
        let settings = Settings::load(&args(Some(path.clone()), None), None)
            .unwrap_or_else(|error| panic!("{error:#}\n{example}"));
        let intake = &settings.timeline.intake;
        assert!(intake.alertmanager.is_some() && intake.pagerduty.is_some());
        assert_eq!(settings.timeline.slack_key_reactions, ["pushpin", "key"]);
        let policy = &settings.follow_through.policy;
        assert_eq!(policy.downtime_minutes, 30);
        assert_eq!(
            policy.levels.slow_resolution,
            hindsight_domain::policy::TriggerLevel::Recommended
        );
        assert_eq!(settings.follow_through.due_targets.p1_days, 28);
        let jobs = &settings.jobs;
        assert_eq!(jobs.channels.len(), 4);
        assert_eq!(jobs.channels[1].team.as_deref(), Some("payments"));
        assert_eq!(jobs.reminders.overdue_every_days, 14);
        assert_eq!(
            jobs.agenda.as_ref().unwrap().time_zone.iana_name(),
            Some("Europe/London")
        );
        assert!(jobs.smtp.is_some());
        let meetings = &settings.meetings;
        assert_eq!(meetings.organizer.email, "reviews@example.com");
        let payments = meetings.settings.rules_for(Some("payments"));
        assert_eq!(payments.time_zone_name, "America/New_York");
        assert_eq!(payments.moderators, ["mo@example.com", "nia@example.com"]);
        assert_eq!(
            payments.holidays.len(),
            3,
            "two dates and one from the file"
        );

        for (bad, expected) in [
            (
                "[[channels]]\nname = \"x\"\nkind = \"webhook\"\nurl = \"https://h.example\"\nsecrets = [\"short\"]\n",
                "at least 16 characters",
            ),
            (
                "[[channels]]\nname = \"x\"\nkind = \"pager\"\n",
                "use slack, webhook or email",
            ),
            (
                "[[channels]]\nname = \"x\"\nkind = \"slack\"\nurl = \"https://h.example\"\nevents = [\"everything\"]\n",
                "is not one of",
            ),
            (
                "[agenda]\nweekday = \"someday\"\ntime_zone = \"Mars/Base\"\n",
                "agenda.time_zone",
            ),
            (
                "[smtp]\nhost = \"h\"\nfrom = \"not an address\"\n",
                "smtp.from",
            ),
            (
                "[reminders]\noverdue_every_days = 0\n",
                "overdue_every_days must be 1 to 365",
            ),
        ] {
            std::fs::write(&path, bad).unwrap();
            let error = Settings::load(&args(Some(path.clone()), None), None).unwrap_err();
            assert!(format!("{error:#}").contains(expected), "{bad}: {error:#}");
        }

        std::fs::write(&path, "[intake.pagerduty]\nsecrets = [\"short\"]\n").unwrap();
        let error = Settings::load(&args(Some(path.clone()), None), None).unwrap_err();
        assert!(
            format!("{error:#}").contains("at least 16 characters"),
            "{error:#}"
        );
        std::fs::write(&path, "[intake.alertmanager]\nusername = \"am\"\n").unwrap();
        let error = Settings::load(&args(Some(path), None), None).unwrap_err();
        assert!(
            format!("{error:#}").contains("needs both username and password"),
            "{error:#}"
        );
    }

    #[test]
    fn flags_win_over_the_file_and_the_file_over_defaults() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("hindsight.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\ndatabase_url = \"from-file.db\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let from_file = Settings::load(&args(Some(path.clone()), None), None).unwrap();
        assert_eq!(from_file.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(from_file.database_url, "from-file.db");
        assert_eq!(from_file.log_format, LogFormat::Json);
        let flagged = Settings::load(&args(Some(path), Some("flag.db")), None).unwrap();
        assert_eq!(flagged.database_url, "flag.db");
        let defaults = Settings::load(&args(None, None), None).unwrap();
        assert_eq!(defaults.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!(defaults.database_url, DEFAULT_DATABASE);
    }

    #[test]
    fn an_outbound_allow_list_entry_that_is_not_a_range_is_an_error() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("hindsight.toml");
        std::fs::write(&path, "outbound_allow = [\"10.0.0.0/8\", \"intranet\"]\n").unwrap();
        let error = Settings::load(&args(Some(path.clone()), None), None).unwrap_err();
        assert!(
            format!("{error:#}").contains("outbound_allow: `intranet` is not an address"),
            "{error:#}"
        );
        std::fs::write(&path, "outbound_allow = [\"10.0.0.0/8\"]\n").unwrap();
        assert_eq!(
            Settings::load(&args(Some(path), None), None)
                .unwrap()
                .outbound_allow
                .len(),
            1
        );
    }

    #[test]
    fn the_factor_taxonomy_and_lint_rules_come_from_the_file() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("hindsight.toml");
        std::fs::write(
            &path,
            "factor_categories = [\"code\", \"people_process\"]\n[lint]\ndisabled_rules = [\"speculation\"]\n[[lint.rules]]\nid = \"human_error\"\nphrases = [\"human error\"]\nmessage = \"ask what made it possible\"\n",
        )
        .unwrap();
        let settings = Settings::load(&args(Some(path.clone()), None), None).unwrap();
        assert_eq!(settings.factor_categories, ["code", "people_process"]);
        assert_eq!(settings.lint.disabled_rules, ["speculation"]);
        assert_eq!(settings.lint.custom_rules[0].id, "human_error");
        std::fs::write(&path, "factor_categories = [\"Bad One\"]\n").unwrap();
        assert!(Settings::load(&args(Some(path.clone()), None), None).is_err());
    }

    #[test]
    fn blocking_lint_rules_and_the_image_cap_come_from_the_file_and_unknown_ones_are_named() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("hindsight.toml");
        std::fs::write(
            &path,
            "max_image_bytes = 1000\n[lint]\nblock = [\"blame\", \"human_error\"]\n[[lint.rules]]\nid = \"human_error\"\nphrases = [\"human error\"]\nmessage = \"ask what made it possible\"\n",
        )
        .unwrap();
        let settings = Settings::load(&args(Some(path.clone()), None), None).unwrap();
        assert_eq!(settings.lint.block, ["blame", "human_error"]);
        assert_eq!(settings.max_image_bytes, 1000);
        std::fs::write(&path, "[lint]\nblock = [\"blam\"]\n").unwrap();
        let error = Settings::load(&args(Some(path.clone()), None), None).unwrap_err();
        assert!(
            format!("{error:#}").contains("lint.block: `blam` is not a lint rule"),
            "{error:#}"
        );
        std::fs::write(&path, "max_image_bytes = 0\n").unwrap();
        assert!(Settings::load(&args(Some(path), None), None).is_err());
    }

    #[test]
    fn a_typo_in_the_file_is_an_error_that_names_it() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("hindsight.toml");
        std::fs::write(&path, "databse_url = \"x.db\"\n").unwrap();
        let error = Settings::load(&args(Some(path), None), None).unwrap_err();
        assert!(
            format!("{error:#}").contains("unknown field `databse_url`"),
            "{error:#}"
        );
    }
}
