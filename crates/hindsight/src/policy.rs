//! `hindsight policy check`: the policy's decision on an incident, offline.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use hindsight_domain::IncidentDraft;
use hindsight_domain::policy::{self, PolicyFacts, PolicyRule};

use crate::config::{DatabaseArgs, Settings};

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Decide whether an incident needs a postmortem, with the configured policy (`--config`),
    /// and print the decision with every rule that fired and why. The file is an incident as
    /// the API takes it (`POST /api/v1/incidents`) or returns it (`GET /api/v1/incidents/{id}`).
    /// Exit 0 with a decision, 2 when the file or the configuration cannot be used.
    Check(CheckArgs),
    /// Print every rule of the configured policy, with its thresholds.
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The incident, as JSON.
    #[arg(value_name = "INCIDENT.json")]
    pub file: PathBuf,

    /// Print the decision as JSON, as `GET /api/v1/incidents/{id}/policy` shows it.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

pub fn run(command: PolicyCommand) -> u8 {
    match command {
        PolicyCommand::Check(args) => match check(&args) {
            Ok(text) => {
                print!("{text}");
                0
            }
            Err(message) => {
                eprintln!("hindsight policy check: {message}");
                2
            }
        },
        PolicyCommand::Rules(args) => match Settings::load(&args.database, None) {
            Ok(settings) => {
                let config = &settings.follow_through.policy;
                for rule in PolicyRule::ALL {
                    println!("{:<20} {}", rule.as_str(), rule.describe(config));
                }
                0
            }
            Err(error) => {
                eprintln!("hindsight policy rules: {error:#}");
                2
            }
        },
    }
}

fn check(args: &CheckArgs) -> Result<String, String> {
    let settings = Settings::load(&args.database, None).map_err(|error| format!("{error:#}"))?;
    let text = std::fs::read_to_string(&args.file)
        .map_err(|error| format!("cannot read {}: {error}", args.file.display()))?;
    let mut value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| format!("{} is not JSON: {error}", args.file.display()))?;
    // An incident as the API returns it carries what the store adds; the policy ignores those.
    if let Some(object) = value.as_object_mut() {
        for key in ["id", "created_at", "updated_at"] {
            object.remove(key);
        }
    }
    let draft: IncidentDraft = serde_json::from_value(value)
        .map_err(|error| format!("{} is not an incident: {error}", args.file.display()))?;
    let now = hindsight_domain::to_stored_precision(jiff::Timestamp::now());
    let incident = draft
        .validate(now)
        .map_err(|errors| format!("{} is not a valid incident: {errors}", args.file.display()))?
        .into_content();
    let config = &settings.follow_through.policy;
    let decision = policy::evaluate(
        config,
        PolicyFacts {
            incident: &incident,
            requests: &[],
        },
    );
    if args.json {
        return Ok(format!(
            "{}\n",
            serde_json::to_string_pretty(&decision).expect("a decision serializes")
        ));
    }
    let mut out = format!(
        "{}: {}\n{}\n",
        incident.title,
        decision.outcome.words(),
        decision.explanation
    );
    for fired in &decision.rules {
        let counts = fired.counts_as_words();
        out.push_str(&format!(
            "  {:<20} {:<24} {}\n",
            fired.rule.as_str(),
            counts,
            fired.reason
        ));
    }
    if let Some(due) = config.due_on(incident.resolved_at)
        && decision.outcome == policy::PolicyOutcome::Required
    {
        out.push_str(&format!("The postmortem would be due on {due}.\n"));
    }
    Ok(out)
}
