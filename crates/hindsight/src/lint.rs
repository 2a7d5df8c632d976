//! `hindsight lint PATH...`: the blameless lint on Markdown files and folders, offline (no
//! server, no database), for pre-commit hooks and CI. Exit 0 when clean, 1 with findings, 2 when
//! an input cannot be read.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use hindsight_domain::lint::{Finding, LintConfig};
use hindsight_domain::markdown_file::lint_file;
use hindsight_domain::postmortem::builtin_templates;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// `path:line:col rule message`, one finding a line.
    Text,
    /// One JSON document with every file's findings.
    Json,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Markdown files, or folders searched for `*.md` and `*.markdown`.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// A person's name to recognise (repeatable), e.g. the incident's participants.
    #[arg(long = "person", value_name = "NAME")]
    pub people: Vec<String>,
    /// A rule not to report (repeatable): blame, fault, judgement, counterfactual,
    /// speculation, placeholder, required_section, timeline_times, or one of the
    /// organisation's own.
    #[arg(long = "disable", value_name = "RULE")]
    pub disabled_rules: Vec<String>,
    /// A configuration file whose `[lint]` table (rules switched off, terms and rules added)
    /// applies.
    #[arg(long, env = "HINDSIGHT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
}

#[derive(Serialize)]
struct FileFindings<'a> {
    path: String,
    findings: &'a [Finding],
}

fn markdown_files(path: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)?
            .map(|entry| entry.map(|entry| entry.path()))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            let is_markdown = entry
                .extension()
                .is_some_and(|extension| extension == "md" || extension == "markdown");
            if entry.is_dir() || is_markdown {
                markdown_files(&entry, found)?;
            }
        }
    } else {
        std::fs::metadata(path)?;
        found.push(path.to_owned());
    }
    Ok(())
}

/// Runs the lint and gives the exit code.
pub fn run(args: LintArgs) -> u8 {
    let mut config = match &args.config {
        Some(path) => {
            let database = crate::config::DatabaseArgs {
                database_url: None,
                config: Some(path.clone()),
                log_format: None,
            };
            match crate::config::Settings::load(&database, None) {
                Ok(settings) => settings.lint,
                Err(error) => {
                    eprintln!("hindsight lint: {error:#}");
                    return 2;
                }
            }
        }
        None => LintConfig::default(),
    };
    config.people.extend(args.people);
    config.disabled_rules.extend(args.disabled_rules);
    let templates = builtin_templates();
    let mut unreadable = false;
    let mut files = Vec::new();
    for path in &args.paths {
        if let Err(error) = markdown_files(path, &mut files) {
            eprintln!("hindsight lint: cannot read {}: {error}", path.display());
            unreadable = true;
        }
    }
    let mut results: Vec<(String, Vec<Finding>)> = Vec::new();
    for file in files {
        match std::fs::read_to_string(&file) {
            Ok(text) => match lint_file(&text, &templates, &config) {
                Ok(findings) => results.push((file.display().to_string(), findings)),
                Err(error) => {
                    eprintln!("hindsight lint: {}:{error}", file.display());
                    unreadable = true;
                }
            },
            Err(error) => {
                eprintln!("hindsight lint: cannot read {}: {error}", file.display());
                unreadable = true;
            }
        }
    }
    match args.format {
        Format::Text => {
            for (path, findings) in &results {
                for finding in findings {
                    println!(
                        "{path}:{}:{} {} {}; {}",
                        finding.line,
                        finding.column,
                        finding.rule,
                        finding.message,
                        finding.suggestion
                    );
                }
            }
        }
        Format::Json => {
            let files: Vec<FileFindings> = results
                .iter()
                .map(|(path, findings)| FileFindings {
                    path: path.clone(),
                    findings,
                })
                .collect();
            println!("{}", serde_json::json!({ "version": 1, "files": files }));
        }
    }
    let any = results.iter().any(|(_, findings)| !findings.is_empty());
    if unreadable {
        2
    } else if any {
        1
    } else {
        0
    }
}
