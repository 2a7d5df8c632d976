//! Each team's meeting rules: as written in the configuration file, and checked.

use super::*;

/// One team's meeting rules: `[meetings.default]` or `[meetings.teams.<name>]`, after checking.
#[derive(Debug, Clone, PartialEq)]
pub struct MeetingRules {
    pub time_zone: TimeZone,
    /// The IANA name, as configured.
    pub time_zone_name: String,
    /// The meeting's local start time.
    pub at: Time,
    pub working_days: Vec<Weekday>,
    pub holidays: BTreeSet<Date>,
    pub short_minutes: u32,
    pub default_minutes: u32,
    /// A meeting is short when every incident is this severity or milder,
    pub short_max_severity: Severity,
    /// touches at most this many services, and no customers were affected.
    pub short_max_services: usize,
    /// Emails of the moderator pool.
    pub moderators: Vec<String>,
    /// Emails of the customer-success representatives, invited when customers were affected.
    pub customer_success: Vec<String>,
    /// Emails of the product managers or solutions architects, invited likewise.
    pub product: Vec<String>,
}

impl Default for MeetingRules {
    fn default() -> Self {
        Self {
            time_zone: TimeZone::UTC,
            time_zone_name: "UTC".into(),
            at: Time::constant(10, 0, 0, 0),
            working_days: WEEKDAYS.to_vec(),
            holidays: BTreeSet::new(),
            short_minutes: 15,
            default_minutes: 30,
            short_max_severity: Severity::Sev3,
            short_max_services: 1,
            moderators: Vec::new(),
            customer_success: Vec::new(),
            product: Vec::new(),
        }
    }
}

impl MeetingRules {
    pub fn is_business_day(&self, date: Date) -> bool {
        self.working_days.contains(&date.weekday()) && !self.holidays.contains(&date)
    }
}

/// Meeting rules as written in the configuration file; every field falls back to
/// `[meetings.default]`, then to the built-in default.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    pub time_zone: Option<String>,
    /// `10:00`.
    pub at: Option<String>,
    /// Day names: `["monday", "tuesday", ...]`.
    pub working_days: Option<Vec<String>>,
    /// Dates: `["2026-12-25"]`.
    pub holidays: Option<Vec<String>>,
    /// iCalendar files of holidays, read when the configuration is loaded.
    pub holiday_files: Option<Vec<String>>,
    pub short_minutes: Option<u32>,
    pub default_minutes: Option<u32>,
    pub short_max_severity: Option<String>,
    pub short_max_services: Option<usize>,
    pub moderators: Option<Vec<String>>,
    pub customer_success: Option<Vec<String>>,
    pub product: Option<Vec<String>>,
}

/// `[meetings]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MeetingsFile {
    /// Who invites: `Name <reviews@example.com>` or an address. Defaults to the SMTP sender.
    pub organizer: Option<String>,
    #[serde(default)]
    pub default: RulesFile,
    /// Team name → its rules.
    #[serde(default)]
    pub teams: BTreeMap<String, RulesFile>,
}

/// Every team's rules, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MeetingSettings {
    pub organizer: Option<String>,
    pub default: MeetingRules,
    pub teams: BTreeMap<String, MeetingRules>,
}

impl MeetingSettings {
    /// The rules of the team by this name, or the default ones.
    pub fn rules_for(&self, team: Option<&str>) -> &MeetingRules {
        team.and_then(|name| self.teams.get(name))
            .unwrap_or(&self.default)
    }
}

impl MeetingsFile {
    /// Checks every table. `holiday_file` reads a file named in `holiday_files` (the caller's IO).
    pub fn validate(
        &self,
        holiday_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> Result<MeetingSettings, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        let default = RulesFile::default().merged(&self.default).check(
            "meetings.default",
            &mut errors,
            holiday_file,
        );
        let mut teams = BTreeMap::new();
        for (name, file) in &self.teams {
            let rules = self.default.merged(file).check(
                &format!("meetings.teams.{name}"),
                &mut errors,
                holiday_file,
            );
            teams.insert(name.clone(), rules);
        }
        errors.into_result(())?;
        Ok(MeetingSettings {
            organizer: self.organizer.clone(),
            default,
            teams,
        })
    }
}

impl RulesFile {
    /// These rules with `over`'s fields in front.
    fn merged(&self, over: &RulesFile) -> RulesFile {
        macro_rules! pick {
            ($($field:ident),+) => { RulesFile { $($field: over.$field.clone().or_else(|| self.$field.clone())),+ } };
        }
        pick!(
            time_zone,
            at,
            working_days,
            holidays,
            holiday_files,
            short_minutes,
            default_minutes,
            short_max_severity,
            short_max_services,
            moderators,
            customer_success,
            product
        )
    }

    fn check(
        self,
        table: &str,
        errors: &mut ValidationErrors,
        holiday_file: &dyn Fn(&str) -> Result<String, String>,
    ) -> MeetingRules {
        let mut rules = MeetingRules::default();
        if let Some(name) = self.time_zone {
            match TimeZone::get(&name) {
                Ok(zone) => {
                    rules.time_zone = zone;
                    rules.time_zone_name = name;
                }
                Err(_) => errors.add(
                    format!("{table}.time_zone"),
                    format!("`{name}` is not an IANA time zone such as Europe/London"),
                ),
            }
        }
        if let Some(at) = self.at {
            match at.parse::<Time>() {
                Ok(time) => rules.at = time,
                Err(_) => errors.add(format!("{table}.at"), "at must look like 10:00"),
            }
        }
        if let Some(days) = self.working_days {
            rules.working_days.clear();
            for day in days {
                match parse_weekday(&day) {
                    Some(day) if !rules.working_days.contains(&day) => rules.working_days.push(day),
                    Some(_) => {}
                    None => errors.add(
                        format!("{table}.working_days"),
                        format!("`{day}` is not a day name such as monday"),
                    ),
                }
            }
            if rules.working_days.is_empty() {
                errors.add(
                    format!("{table}.working_days"),
                    "working_days needs at least one day",
                );
            }
        }
        for text in self.holidays.unwrap_or_default() {
            match text.parse::<Date>() {
                Ok(date) => {
                    rules.holidays.insert(date);
                }
                Err(_) => errors.add(
                    format!("{table}.holidays"),
                    format!("`{text}` is not a date such as 2026-12-25"),
                ),
            }
        }
        for path in self.holiday_files.unwrap_or_default() {
            match holiday_file(&path).and_then(|text| ics::holidays(&text)) {
                Ok(dates) => rules.holidays.extend(dates),
                Err(message) => errors.add(
                    format!("{table}.holiday_files"),
                    format!("{path}: {message}"),
                ),
            }
        }
        for (field, value, slot) in [
            (
                "short_minutes",
                self.short_minutes,
                &mut rules.short_minutes,
            ),
            (
                "default_minutes",
                self.default_minutes,
                &mut rules.default_minutes,
            ),
        ] {
            if let Some(minutes) = value {
                if (5..=240).contains(&minutes) {
                    *slot = minutes;
                } else {
                    errors.add(
                        format!("{table}.{field}"),
                        format!("{field} must be 5 to 240 minutes"),
                    );
                }
            }
        }
        if let Some(text) = self.short_max_severity {
            match Severity::parse(&text) {
                Some(severity) => rules.short_max_severity = severity,
                None => errors.add(
                    format!("{table}.short_max_severity"),
                    format!("short_max_severity must be one of {}", Severity::expected()),
                ),
            }
        }
        if let Some(services) = self.short_max_services {
            rules.short_max_services = services;
        }
        rules.moderators = emails(self.moderators);
        rules.customer_success = emails(self.customer_success);
        rules.product = emails(self.product);
        rules
    }
}

fn emails(list: Option<Vec<String>>) -> Vec<String> {
    list.unwrap_or_default()
        .into_iter()
        .map(|email| email.trim().to_lowercase())
        .filter(|email| !email.is_empty())
        .collect()
}
