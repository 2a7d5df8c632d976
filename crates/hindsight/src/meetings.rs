//! `hindsight meetings`: the review meeting rules as configured, and a holiday file checked
//! before it goes into the configuration.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use hindsight_domain::meeting::{MeetingRules, ics};

use crate::config::{DatabaseArgs, Settings};

#[derive(Debug, Subcommand)]
pub enum MeetingsCommand {
    /// Print every team's meeting rules as the configuration (`--config`) makes them: time zone,
    /// meeting time, working days, holidays, lengths, moderators and roles.
    Rules(RulesArgs),
    /// Read an iCalendar file of holidays, as `holiday_files` would, and print its dates.
    /// Exit 2, naming the line, when it cannot be used.
    Holidays(HolidaysArgs),
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Args)]
pub struct HolidaysArgs {
    #[arg(value_name = "HOLIDAYS.ics")]
    pub file: PathBuf,
}

pub fn run(command: MeetingsCommand) -> u8 {
    match command {
        MeetingsCommand::Rules(args) => match Settings::load(&args.database, None) {
            Ok(settings) => {
                let meetings = &settings.meetings;
                println!(
                    "organizer: {} <{}>",
                    meetings.organizer.name, meetings.organizer.email
                );
                print!("{}", describe("default", &meetings.settings.default));
                for (team, rules) in &meetings.settings.teams {
                    print!("{}", describe(&format!("team {team}"), rules));
                }
                0
            }
            Err(error) => {
                eprintln!("hindsight meetings rules: {error:#}");
                2
            }
        },
        MeetingsCommand::Holidays(args) => {
            let read = std::fs::read_to_string(&args.file)
                .map_err(|error| format!("cannot read {}: {error}", args.file.display()))
                .and_then(|text| ics::holidays(&text));
            match read {
                Ok(dates) => {
                    for date in &dates {
                        println!("{date} {}", date.strftime("%A"));
                    }
                    eprintln!("{} holiday(s)", dates.len());
                    0
                }
                Err(message) => {
                    eprintln!(
                        "hindsight meetings holidays: {}: {message}",
                        args.file.display()
                    );
                    2
                }
            }
        }
    }
}

fn describe(name: &str, rules: &MeetingRules) -> String {
    let list = |items: &[String]| {
        if items.is_empty() {
            "nobody".to_owned()
        } else {
            items.join(", ")
        }
    };
    let days: Vec<String> = rules
        .working_days
        .iter()
        .map(|day| format!("{day:?}").to_lowercase())
        .collect();
    format!(
        "\n[{name}]\n  meets at {} {}, on {}\n  holidays: {}\n  {} minutes when straightforward \
         ({} or milder, at most {} service(s), no customers affected), else {}\n  moderators: {}\n  \
         customer success: {}\n  product: {}\n",
        rules.at.strftime("%H:%M"),
        rules.time_zone_name,
        days.join(", "),
        if rules.holidays.is_empty() {
            "none".to_owned()
        } else {
            rules
                .holidays
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        },
        rules.short_minutes,
        rules.short_max_severity,
        rules.short_max_services,
        rules.default_minutes,
        list(&rules.moderators),
        list(&rules.customer_success),
        list(&rules.product),
    )
}
