//! Whether an incident deserves a postmortem: the policy an organisation configures, and the
//! decision it gives with every rule that fired.
//!
//! Rules come from the seeds. Triggers: severity at or above a threshold; user-visible downtime
//! or degradation beyond a threshold; any data loss; on-call intervention; a monitoring failure
//! (a person found it); a security breach; harm to users or the business; slow resolution;
//! someone asked for one ("just bringing it up is reason enough"). Reasons against: minor with
//! no consequence, routine maintenance, an external cause beyond the team's control.
//!
//! How they combine, in full:
//! 1. Every trigger that fires counts at its configured level, `required` or `recommended`.
//! 2. When any reason against fires, every trigger that is not *firm* counts one step lower:
//!    `required` becomes `recommended`, `recommended` becomes `not_needed`. Several reasons
//!    against lower by one step, not more. Firm triggers (by default data loss, a security
//!    breach and a person's request) are never lowered.
//! 3. The decision is the highest level any trigger counts at; `not_needed` when none fired.
//!
//! So an external outage with two hours of downtime is `recommended`, data loss with an
//! external cause stays `required`, and a near miss someone asked about is `required`.
//! A person may override the decision with a written justification; both are kept.

use jiff::Timestamp;
use jiff::civil::Date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::calendar::{WEEKDAYS, add_business_days};
use crate::document::Author;
use crate::incident::{CauseOrigin, Detection, IncidentContent, Severity};
use crate::timeline::format_duration;
use crate::validation::ValidationErrors;

string_enum! {
    /// Whether a postmortem is needed, from least to most.
    PolicyOutcome {
        NotNeeded => "not_needed",
        Recommended => "recommended",
        Required => "required",
    }
}

string_enum! {
    /// A rule of the policy: the triggers, then the reasons against.
    PolicyRule {
        Severity => "severity",
        Downtime => "downtime",
        DataLoss => "data_loss",
        Intervention => "intervention",
        MonitoringFailure => "monitoring_failure",
        SecurityBreach => "security_breach",
        BusinessHarm => "business_harm",
        SlowResolution => "slow_resolution",
        Requested => "requested",
        Minor => "minor",
        Maintenance => "maintenance",
        ExternalCause => "external_cause",
    }
}

string_enum! {
    /// How much a trigger counts: a configuration value.
    TriggerLevel { Required => "required", Recommended => "recommended", Off => "off" }
}

impl PolicyRule {
    pub const TRIGGERS: [PolicyRule; 9] = [
        PolicyRule::Severity,
        PolicyRule::Downtime,
        PolicyRule::DataLoss,
        PolicyRule::Intervention,
        PolicyRule::MonitoringFailure,
        PolicyRule::SecurityBreach,
        PolicyRule::BusinessHarm,
        PolicyRule::SlowResolution,
        PolicyRule::Requested,
    ];

    pub fn is_trigger(self) -> bool {
        Self::TRIGGERS.contains(&self)
    }

    /// The rule as one sentence, with the configured thresholds.
    pub fn describe(self, config: &PolicyConfig) -> String {
        match self {
            PolicyRule::Severity => format!(
                "Severity at or above {}.",
                config.severity_at_or_above.as_str()
            ),
            PolicyRule::Downtime => format!(
                "User-visible downtime or degradation beyond {} minutes.",
                config.downtime_minutes
            ),
            PolicyRule::DataLoss => "Data loss of any kind.".into(),
            PolicyRule::Intervention => format!(
                "On-call engineer intervention (rollback, rerouting, manual repair): an incident \
                 tagged {}.",
                config.intervention_tags.join(", ")
            ),
            PolicyRule::MonitoringFailure => {
                "A monitoring failure: a person detected the incident, not an alert.".into()
            }
            PolicyRule::SecurityBreach => "A security breach.".into(),
            PolicyRule::BusinessHarm => format!(
                "Harm to users or the business: business figures recorded, at least {} users \
                 affected or at least {} requests failed.",
                config.users_affected, config.requests_failed
            ),
            PolicyRule::SlowResolution => format!(
                "Resolution slower than {} minutes after detection.",
                config.slow_resolution_minutes
            ),
            PolicyRule::Requested => {
                "Someone asked for a postmortem: bringing it up is reason enough.".into()
            }
            PolicyRule::Minor => format!(
                "Against: minor ({} or milder) with no user-visible impact, data loss or breach.",
                config.minor_severity.as_str()
            ),
            PolicyRule::Maintenance => format!(
                "Against: routine maintenance, an incident tagged {}.",
                config.maintenance_tags.join(", ")
            ),
            PolicyRule::ExternalCause => {
                "Against: an external cause beyond the team's control.".into()
            }
        }
    }
}

/// How much each trigger counts; `off` switches it off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TriggerLevels {
    pub severity: TriggerLevel,
    pub downtime: TriggerLevel,
    pub data_loss: TriggerLevel,
    pub intervention: TriggerLevel,
    pub monitoring_failure: TriggerLevel,
    pub security_breach: TriggerLevel,
    pub business_harm: TriggerLevel,
    pub slow_resolution: TriggerLevel,
    pub requested: TriggerLevel,
}

impl Default for TriggerLevels {
    fn default() -> Self {
        Self {
            severity: TriggerLevel::Required,
            downtime: TriggerLevel::Required,
            data_loss: TriggerLevel::Required,
            intervention: TriggerLevel::Required,
            monitoring_failure: TriggerLevel::Required,
            security_breach: TriggerLevel::Required,
            business_harm: TriggerLevel::Required,
            slow_resolution: TriggerLevel::Recommended,
            requested: TriggerLevel::Required,
        }
    }
}

impl TriggerLevels {
    fn of(&self, rule: PolicyRule) -> TriggerLevel {
        match rule {
            PolicyRule::Severity => self.severity,
            PolicyRule::Downtime => self.downtime,
            PolicyRule::DataLoss => self.data_loss,
            PolicyRule::Intervention => self.intervention,
            PolicyRule::MonitoringFailure => self.monitoring_failure,
            PolicyRule::SecurityBreach => self.security_breach,
            PolicyRule::BusinessHarm => self.business_harm,
            PolicyRule::SlowResolution => self.slow_resolution,
            PolicyRule::Requested => self.requested,
            _ => TriggerLevel::Off,
        }
    }
}

/// The organisation's policy, `[policy]` in the configuration file. Every threshold has a
/// default from the seeds; every rule can be switched off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// This severity or worse triggers.
    pub severity_at_or_above: Severity,
    /// More user-visible downtime or degradation than this, in minutes, triggers.
    pub downtime_minutes: u64,
    /// At least this many users affected is harm to users.
    pub users_affected: u64,
    /// At least this many failed requests is harm to users.
    pub requests_failed: u64,
    /// Resolution more than this many minutes after detection triggers.
    pub slow_resolution_minutes: u64,
    /// This severity or milder, with no consequence, is minor.
    pub minor_severity: Severity,
    /// Incident tags that mean on-call engineers intervened.
    pub intervention_tags: Vec<String>,
    /// Incident tags that mean routine maintenance.
    pub maintenance_tags: Vec<String>,
    pub levels: TriggerLevels,
    /// Triggers no reason against lowers.
    pub firm: Vec<PolicyRule>,
    /// The reasons against in force.
    pub reasons_against: Vec<PolicyRule>,
    /// A required postmortem is due this many business days (Monday to Friday) after the
    /// incident's resolution, as a UTC date.
    pub due_business_days: u32,
    /// Who owns a required postmortem when the incident's owner is not a user: an email or a
    /// display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback_owner: Option<String>,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            severity_at_or_above: Severity::Sev2,
            downtime_minutes: 30,
            users_affected: 100,
            requests_failed: 10_000,
            slow_resolution_minutes: 240,
            minor_severity: Severity::Sev4,
            intervention_tags: ["rollback", "reroute", "manual-repair", "intervention"]
                .map(String::from)
                .to_vec(),
            maintenance_tags: vec!["maintenance".into()],
            levels: TriggerLevels::default(),
            firm: vec![
                PolicyRule::DataLoss,
                PolicyRule::SecurityBreach,
                PolicyRule::Requested,
            ],
            reasons_against: vec![
                PolicyRule::Minor,
                PolicyRule::Maintenance,
                PolicyRule::ExternalCause,
            ],
            due_business_days: 5,
            fallback_owner: None,
        }
    }
}

impl PolicyConfig {
    /// Refuses a configuration that names a trigger as a reason against or the other way.
    pub fn check(&self) -> Result<(), String> {
        if let Some(rule) = self.firm.iter().find(|rule| !rule.is_trigger()) {
            return Err(format!(
                "policy.firm lists `{rule}`, which is a reason against; firm takes triggers: {}",
                trigger_names()
            ));
        }
        if let Some(rule) = self.reasons_against.iter().find(|rule| rule.is_trigger()) {
            return Err(format!(
                "policy.reasons_against lists `{rule}`, which is a trigger; it takes minor, \
                 maintenance, external_cause"
            ));
        }
        if self.due_business_days > 250 {
            return Err("policy.due_business_days must be 250 or fewer".into());
        }
        Ok(())
    }

    /// The date a required postmortem is due, once the incident is resolved.
    pub fn due_on(&self, resolved_at: Option<Timestamp>) -> Option<Date> {
        let resolved = resolved_at?.to_zoned(jiff::tz::TimeZone::UTC).date();
        Some(add_business_days(
            resolved,
            self.due_business_days,
            &WEEKDAYS,
        ))
    }
}

fn trigger_names() -> String {
    PolicyRule::TRIGGERS
        .iter()
        .map(|rule| rule.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Someone asking for a postmortem on an incident, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PostmortemRequest {
    pub requested_by: Author,
    pub reason: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A person's decision in place of the policy's, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PolicyOverride {
    /// `None` withdraws an earlier override: the policy's decision counts again.
    pub outcome: Option<PolicyOutcome>,
    pub justification: String,
    pub by: Author,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// The override in force among all of them, oldest first: the last one, unless it withdrew.
pub fn override_in_force(overrides: &[PolicyOverride]) -> Option<&PolicyOverride> {
    overrides.last().filter(|last| last.outcome.is_some())
}

/// The longest request reason or override justification, in characters.
pub const MAX_JUSTIFICATION_CHARS: usize = 2_000;

/// A reason or justification: trimmed, not empty, not too long.
pub fn check_justification(field: &str, text: Option<&str>) -> Result<String, ValidationErrors> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() {
        return Err(ValidationErrors::single(
            field,
            format!("{field} is required: say why, in a sentence"),
        ));
    }
    if text.chars().count() > MAX_JUSTIFICATION_CHARS {
        return Err(ValidationErrors::single(
            field,
            format!("{field} is longer than {MAX_JUSTIFICATION_CHARS} characters"),
        ));
    }
    Ok(text.to_owned())
}

/// A rule that fired, with why, and what it counted for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FiredRule {
    pub rule: PolicyRule,
    /// Why it fired, for this incident.
    pub reason: String,
    /// For a trigger: the level it counted at after reasons against; absent for a reason
    /// against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counts_as: Option<PolicyOutcome>,
    /// A trigger that was lowered by a reason against.
    #[serde(default)]
    pub lowered: bool,
    #[serde(default)]
    pub firm: bool,
}

impl FiredRule {
    /// What the rule counted for, as pages and the CLI show it: `recommended (lowered)`,
    /// `required (firm)`, `argues against`.
    pub fn counts_as_words(&self) -> String {
        match self.counts_as {
            Some(level) if self.lowered => format!("{} (lowered)", level.words()),
            Some(level) if self.firm => format!("{} (firm)", level.words()),
            Some(level) => level.words(),
            None => "argues against".into(),
        }
    }
}

/// What the policy decided for an incident, and every rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PolicyDecision {
    pub outcome: PolicyOutcome,
    pub rules: Vec<FiredRule>,
    /// How the rules combined, in a sentence.
    pub explanation: String,
}

/// What the policy reads of an incident.
#[derive(Debug, Clone, Copy)]
pub struct PolicyFacts<'a> {
    pub incident: &'a IncidentContent,
    pub requests: &'a [PostmortemRequest],
}

/// The policy's decision on an incident.
pub fn evaluate(config: &PolicyConfig, facts: PolicyFacts<'_>) -> PolicyDecision {
    let incident = facts.incident;
    let impact = &incident.impact;
    let mut fired: Vec<(PolicyRule, String)> = Vec::new();

    if incident.severity <= config.severity_at_or_above {
        fired.push((
            PolicyRule::Severity,
            format!(
                "Severity {} is at or above the {} threshold.",
                incident.severity.as_str(),
                config.severity_at_or_above.as_str()
            ),
        ));
    }
    if let Some(minutes) = impact.user_visible_minutes
        && minutes > config.downtime_minutes
    {
        fired.push((
            PolicyRule::Downtime,
            format!(
                "User-visible downtime or degradation of {minutes} minutes is beyond the {} \
                 minute threshold.",
                config.downtime_minutes
            ),
        ));
    }
    if impact.data_loss {
        fired.push((PolicyRule::DataLoss, "Data was lost.".into()));
    }
    let tagged = |tags: &[String]| {
        incident
            .tags
            .iter()
            .filter(|tag| tags.iter().any(|wanted| wanted.eq_ignore_ascii_case(tag)))
            .cloned()
            .collect::<Vec<_>>()
    };
    let intervention = tagged(&config.intervention_tags);
    if !intervention.is_empty() {
        fired.push((
            PolicyRule::Intervention,
            format!(
                "On-call engineers intervened (tagged {}).",
                intervention.join(", ")
            ),
        ));
    }
    if incident.detection == Some(Detection::Human) {
        fired.push((
            PolicyRule::MonitoringFailure,
            "A person detected it, not monitoring.".into(),
        ));
    }
    if impact.security_breach {
        fired.push((
            PolicyRule::SecurityBreach,
            "It was a security breach.".into(),
        ));
    }
    let mut harm = Vec::new();
    if let Some(users) = impact.users_affected
        && users >= config.users_affected
    {
        harm.push(format!("{users} users affected"));
    }
    if let Some(requests) = impact.requests_failed
        && requests >= config.requests_failed
    {
        harm.push(format!("{requests} requests failed"));
    }
    if !impact.business.is_empty() {
        let names: Vec<&str> = impact.business.keys().map(String::as_str).collect();
        harm.push(format!("business figures recorded ({})", names.join(", ")));
    }
    if !harm.is_empty() {
        fired.push((
            PolicyRule::BusinessHarm,
            format!("It harmed users or the business: {}.", harm.join("; ")),
        ));
    }
    if let Some(resolved) = incident.resolved_at {
        let from = incident.detected_at.unwrap_or(incident.started_at);
        let taken = resolved.duration_since(from);
        let limit = jiff::SignedDuration::from_mins(
            i64::try_from(config.slow_resolution_minutes).unwrap_or(i64::MAX / 60),
        );
        if taken > limit {
            fired.push((
                PolicyRule::SlowResolution,
                format!(
                    "Resolution took {} after {}, beyond the {} minute threshold.",
                    format_duration(Some(taken)),
                    if incident.detected_at.is_some() {
                        "detection"
                    } else {
                        "the start"
                    },
                    config.slow_resolution_minutes
                ),
            ));
        }
    }
    if !facts.requests.is_empty() {
        let who: Vec<String> = facts
            .requests
            .iter()
            .map(|request| format!("{} (“{}”)", request.requested_by.name, request.reason))
            .collect();
        fired.push((
            PolicyRule::Requested,
            format!("Asked for by {}.", who.join(", ")),
        ));
    }

    let consequence = impact.user_visible_minutes.unwrap_or(0) > 0
        || impact.users_affected.unwrap_or(0) > 0
        || impact.requests_failed.unwrap_or(0) > 0
        || impact.data_loss
        || impact.security_breach
        || !impact.business.is_empty();
    if incident.severity >= config.minor_severity && !consequence {
        fired.push((
            PolicyRule::Minor,
            format!(
                "Minor: {} with no user-visible impact, data loss or breach recorded.",
                incident.severity.as_str()
            ),
        ));
    }
    let maintenance = tagged(&config.maintenance_tags);
    if !maintenance.is_empty() {
        fired.push((
            PolicyRule::Maintenance,
            format!("Routine maintenance (tagged {}).", maintenance.join(", ")),
        ));
    }
    if incident.cause_origin == Some(CauseOrigin::External) {
        fired.push((
            PolicyRule::ExternalCause,
            "The cause was external, beyond the team's control.".into(),
        ));
    }

    combine(config, fired)
}

/// Applies the combination rules (see the module's documentation) to the rules that fired.
fn combine(config: &PolicyConfig, fired: Vec<(PolicyRule, String)>) -> PolicyDecision {
    let against: Vec<PolicyRule> = fired
        .iter()
        .map(|(rule, _)| *rule)
        .filter(|rule| !rule.is_trigger() && config.reasons_against.contains(rule))
        .collect();
    let mut rules = Vec::new();
    for (rule, reason) in fired {
        if rule.is_trigger() {
            let level = match config.levels.of(rule) {
                TriggerLevel::Off => continue,
                TriggerLevel::Required => PolicyOutcome::Required,
                TriggerLevel::Recommended => PolicyOutcome::Recommended,
            };
            let firm = config.firm.contains(&rule);
            let lowered = !firm && !against.is_empty();
            let counts_as = if lowered {
                match level {
                    PolicyOutcome::Required => PolicyOutcome::Recommended,
                    _ => PolicyOutcome::NotNeeded,
                }
            } else {
                level
            };
            rules.push(FiredRule {
                rule,
                reason,
                counts_as: Some(counts_as),
                lowered,
                firm,
            });
        } else if against.contains(&rule) {
            rules.push(FiredRule {
                rule,
                reason,
                counts_as: None,
                lowered: false,
                firm: false,
            });
        }
    }
    let outcome = rules
        .iter()
        .filter_map(|rule| rule.counts_as)
        .max()
        .unwrap_or(PolicyOutcome::NotNeeded);
    let explanation = explain(outcome, &rules, &against);
    PolicyDecision {
        outcome,
        rules,
        explanation,
    }
}

fn explain(outcome: PolicyOutcome, rules: &[FiredRule], against: &[PolicyRule]) -> String {
    let names = |rules: Vec<PolicyRule>| {
        rules
            .iter()
            .map(|rule| rule.as_str().replace('_', " "))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let triggers: Vec<&FiredRule> = rules.iter().filter(|rule| rule.rule.is_trigger()).collect();
    if triggers.is_empty() {
        return if against.is_empty() {
            "No trigger fired: a postmortem is not needed.".into()
        } else {
            format!(
                "No trigger fired ({} also argues against): a postmortem is not needed.",
                names(against.to_vec())
            )
        };
    }
    let deciding = names(
        triggers
            .iter()
            .filter(|rule| rule.counts_as == Some(outcome))
            .map(|rule| rule.rule)
            .collect(),
    );
    let mut sentence = match outcome {
        PolicyOutcome::Required => format!("Required by {deciding}."),
        PolicyOutcome::Recommended => format!("Recommended by {deciding}."),
        PolicyOutcome::NotNeeded => "Not needed.".into(),
    };
    let lowered: Vec<PolicyRule> = triggers
        .iter()
        .filter(|rule| rule.lowered)
        .map(|rule| rule.rule)
        .collect();
    if !lowered.is_empty() {
        sentence.push_str(&format!(
            " {} lowered {} by one step",
            capitalize(&names(against.to_vec())),
            names(lowered)
        ));
        let firm: Vec<PolicyRule> = triggers
            .iter()
            .filter(|rule| rule.firm)
            .map(|rule| rule.rule)
            .collect();
        if firm.is_empty() {
            sentence.push('.');
        } else {
            sentence.push_str(&format!("; {} is firm and counts in full.", names(firm)));
        }
    }
    sentence
}

fn capitalize(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// What the store does with a decision: the decision, the outcome in force (a person's
/// override, else the decision), and, when a postmortem is required, when it is due and who
/// should own it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyVerdict {
    pub decision: PolicyDecision,
    pub outcome: PolicyOutcome,
    pub pending: Option<PendingPlan>,
}

/// A required postmortem's due date and owner, as names to look up among users (the incident's
/// owner first, then the policy's fallback).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingPlan {
    pub due_on: Option<Date>,
    pub owner_candidates: Vec<String>,
}

/// The decision on an incident and what follows from it.
pub fn judge(
    config: &PolicyConfig,
    incident: &IncidentContent,
    requests: &[PostmortemRequest],
    override_: Option<&PolicyOverride>,
) -> PolicyVerdict {
    let decision = evaluate(config, PolicyFacts { incident, requests });
    let outcome = override_
        .and_then(|override_| override_.outcome)
        .unwrap_or(decision.outcome);
    let pending = (outcome == PolicyOutcome::Required).then(|| PendingPlan {
        due_on: config.due_on(incident.resolved_at),
        owner_candidates: incident
            .owner
            .iter()
            .chain(config.fallback_owner.iter())
            .cloned()
            .collect(),
    });
    PolicyVerdict {
        decision,
        outcome,
        pending,
    }
}

#[cfg(test)]
mod tests;
