//! A postmortem as one Markdown file, for teams that keep postmortems in git: TOML front matter
//! between `+++` lines with the structured fields, then one `## Title {#key}` heading per
//! section of the template. [`parse`] of [`render`] gives back the same postmortem.
//!
//! ```text
//! +++
//! format = "hindsight-postmortem/1"
//! id = 12
//! status = "draft"
//! title = "Checkout outage"
//! template = "default"
//! incidents = [4]
//! [[why_chains]]
//! problem = "Checkout failed"
//! …
//! +++
//!
//! # Checkout outage
//!
//! ## Summary {#summary}
//!
//! Checkout failed for 14 minutes…
//! ```
//!
//! The `# Title` line is for readers; the title in the front matter is the one that counts.
//! `[[incident]]` tables repeat each incident's title, severity and key times for readers of the
//! file and are not read back. A heading without `{#key}` is a section when its title is one of
//! the template's; other headings are text of the section they are in. Headings inside fenced
//! code blocks are text.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::access::UserId;
use crate::action_item::ActionItemDraft;
use crate::document::{PostmortemDocument, PostmortemId, normalize_text};
use crate::incident::{IncidentId, Severity};
use crate::lint::{Finding, KnownTimes, LintConfig, completeness, lint};
use crate::postmortem::{ContributingFactor, Lessons, PostmortemStatus, Template, WhyChain};

/// The front matter's `format`; a new one is made when a change would misread older files.
pub const FORMAT: &str = "hindsight-postmortem/1";

/// A postmortem as a file holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostmortemFile {
    /// Absent in a file written by hand; importing it creates a new postmortem.
    pub id: Option<PostmortemId>,
    pub status: PostmortemStatus,
    pub document: PostmortemDocument,
    /// When it was created and last changed, as exported; informative, not read back into the
    /// database (the database keeps its own history).
    pub created_at: Option<Timestamp>,
    pub updated_at: Option<Timestamp>,
    /// The postmortem's action items as exported. Like the times above, they are for readers
    /// of the file: action items live in the database with their own history, and importing a
    /// file does not read them back.
    pub action_items: Vec<ActionItemDraft>,
}

impl PostmortemFile {
    /// A stored postmortem as its file holds it.
    pub fn of(postmortem: &crate::document::Postmortem) -> Self {
        Self {
            id: Some(postmortem.id),
            status: postmortem.status,
            document: postmortem.document.clone(),
            created_at: Some(postmortem.created_at),
            updated_at: Some(postmortem.updated_at),
            action_items: Vec::new(),
        }
    }
}

impl IncidentBrief {
    pub fn of(incident: &crate::incident::Incident) -> Self {
        Self {
            id: incident.id,
            title: incident.content.title.clone(),
            severity: incident.content.severity,
            started_at: Some(incident.content.started_at),
            detected_at: incident.content.detected_at,
            resolved_at: incident.content.resolved_at,
        }
    }
}

/// What a file repeats of an incident for its readers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentBrief {
    pub id: IncidentId,
    pub title: String,
    pub severity: Severity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<Timestamp>,
}

/// Why a file could not be read, with the 1-based line it concerns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct FileError {
    pub line: usize,
    pub message: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FrontMatter {
    format: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<PostmortemId>,
    status: PostmortemStatus,
    title: String,
    template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<UserId>,
    incidents: Vec<IncidentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    created_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    updated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    no_action_items_reason: Option<String>,
    #[serde(default)]
    lessons: Lessons,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    why_chains: Vec<WhyChain>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    factors: Vec<ContributingFactor>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    action_items: Vec<ActionItemDraft>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    incident: Vec<IncidentBrief>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    lint_exceptions: Vec<crate::document::LintException>,
}

/// Writes the file. Sections follow the template's order, the empty ones included so that a
/// writer sees what is left to write; sections the template lacks are not written.
pub fn render(file: &PostmortemFile, template: &Template, incidents: &[IncidentBrief]) -> String {
    let document = &file.document;
    let front = FrontMatter {
        format: FORMAT.to_owned(),
        id: file.id,
        status: file.status,
        title: document.title.clone(),
        template: document.template.clone(),
        owner: document.owner,
        incidents: document.incidents.clone(),
        created_at: file.created_at,
        updated_at: file.updated_at,
        no_action_items_reason: document.no_action_items_reason.clone(),
        lint_exceptions: document.lint_exceptions.clone(),
        lessons: document.lessons.clone(),
        why_chains: document.why_chains.clone(),
        factors: document.factors.clone(),
        action_items: file.action_items.clone(),
        incident: incidents.to_vec(),
    };
    let toml = toml::to_string(&front).expect("front matter serializes");
    let mut out = format!("+++\n{toml}+++\n\n# {}\n", document.title);
    for section in &template.sections {
        out.push_str(&format!("\n## {} {{#{}}}\n", section.title, section.key));
        if let Some(text) = document.sections.get(&section.key) {
            out.push('\n');
            out.push_str(text);
            out.push('\n');
        }
    }
    out
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Splits the front matter off: the first `+++` line after which the TOML before it parses (a
/// `+++` line can sit inside a multi-line string). Gives the front matter, the line the body
/// starts on, and the body.
fn split_front_matter(text: &str) -> Result<(FrontMatter, usize, &str), FileError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let Some(rest) = text
        .strip_prefix("+++\n")
        .or_else(|| text.strip_prefix("+++\r\n"))
    else {
        return Err(FileError {
            line: 1,
            message: "a postmortem file starts with a `+++` line, then its TOML front matter"
                .into(),
        });
    };
    let mut first_error = None;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "+++" {
            let toml_text = &rest[..offset];
            match toml::from_str::<FrontMatter>(toml_text) {
                Ok(front) => {
                    let body = &rest[offset + line.len()..];
                    return Ok((front, line_of(rest, offset) + 2, body));
                }
                Err(error) => {
                    if first_error.is_none() {
                        let line = error
                            .span()
                            .map_or(1, |span| line_of(toml_text, span.start));
                        first_error = Some(FileError {
                            line: line + 1,
                            message: format!(
                                "front matter: {}",
                                error.message().trim_end().replace('\n', " ")
                            ),
                        });
                    }
                }
            }
        }
        offset += line.len();
    }
    Err(first_error.unwrap_or(FileError {
        line: line_of(text, text.len()),
        message: "the front matter has no closing `+++` line".into(),
    }))
}

/// `## Title {#key}` gives the key; `## Title` gives the key of the template section with that
/// title, if any.
fn section_heading(line: &str, template: Option<&Template>) -> Option<String> {
    let heading = line.trim_end().strip_prefix("## ")?.trim();
    if let Some(open) = heading.rfind(" {#")
        && let Some(key) = heading[open + 3..].strip_suffix('}')
        && !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Some(key.to_owned());
    }
    template?
        .sections
        .iter()
        .find(|section| section.title.eq_ignore_ascii_case(heading))
        .map(|section| section.key.clone())
}

/// Reads a file. `templates` resolves headings written without `{#key}`; the document is not
/// validated here (the caller validates it against its template and reports by field).
pub fn parse(text: &str, templates: &[Template]) -> Result<PostmortemFile, FileError> {
    if let Some(line) = text.lines().position(|line| line.contains('\0')) {
        return Err(FileError {
            line: line + 1,
            message: format!("the file {}", crate::validation::NUL_MESSAGE),
        });
    }
    let (front, body_line, body) = split_front_matter(text)?;
    if front.format != FORMAT {
        return Err(FileError {
            line: 2,
            message: format!(
                "format `{}` is not one this version reads (`{FORMAT}`)",
                front.format
            ),
        });
    }
    let template = templates
        .iter()
        .find(|template| template.key == front.template);
    let mut sections = std::collections::BTreeMap::new();
    let mut current: Option<(String, usize, Vec<&str>)> = None;
    let mut fence: Option<&str> = None;
    let mut seen_title = false;
    for (index, line) in body.lines().enumerate() {
        let number = body_line + index;
        let trimmed = line.trim_start();
        if let Some(open) = fence {
            if trimmed.starts_with(open) {
                fence = None;
            }
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
        } else if let Some(key) = section_heading(line, template) {
            if let Some((key, _, lines)) = current.take() {
                sections.insert(key, lines);
            }
            if sections.contains_key(&key) {
                return Err(FileError {
                    line: number,
                    message: format!("the section `{key}` appears twice"),
                });
            }
            current = Some((key, number, Vec::new()));
            continue;
        }
        match &mut current {
            Some((_, _, lines)) => lines.push(line),
            None if line.trim().is_empty() => {}
            None if line.starts_with("# ") && !seen_title => seen_title = true,
            None => {
                return Err(FileError {
                    line: number,
                    message: "text before the first section heading (`## Title {#key}`)".into(),
                });
            }
        }
    }
    if let Some((key, _, lines)) = current {
        sections.insert(key, lines);
    }
    let sections = sections
        .into_iter()
        .map(|(key, lines)| (key, normalize_text(&lines.join("\n"))))
        .filter(|(_, text)| !text.is_empty())
        .collect();
    Ok(PostmortemFile {
        id: front.id,
        status: front.status,
        created_at: front.created_at,
        updated_at: front.updated_at,
        action_items: front.action_items,
        document: PostmortemDocument {
            title: front.title,
            incidents: front.incidents,
            template: front.template,
            owner: front.owner,
            sections,
            why_chains: front.why_chains,
            factors: front.factors,
            lessons: front.lessons,
            no_action_items_reason: front.no_action_items_reason,
            lint_exceptions: front.lint_exceptions,
        },
    })
}

/// The byte offset where each section's text starts in a file, by key: lets findings on a
/// section's text point at the file's lines.
pub fn section_offsets(text: &str, templates: &[Template]) -> Vec<(String, usize)> {
    let Ok((front, _, body)) = split_front_matter(text) else {
        return Vec::new();
    };
    let template = templates
        .iter()
        .find(|template| template.key == front.template);
    let body_start = text.len() - body.len();
    let mut offsets = Vec::new();
    let mut offset = body_start;
    let mut fence: Option<String> = None;
    for line in body.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(open) = &fence {
            if trimmed.starts_with(open.as_str()) {
                fence = None;
            }
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(trimmed[..3].to_owned());
        } else if let Some(key) = section_heading(line, template) {
            offsets.push((key, offset + line.len()));
        }
        offset += line.len();
    }
    offsets
}

/// The file as the language lint should read it, byte for byte the same length: the front
/// matter blanked except the text inside its strings (each ended like a sentence), so that
/// findings in a why chain or a factor point at their line in the front matter, while keys,
/// times and ids are not read as prose.
pub fn prose_of(text: &str) -> String {
    let Ok((_, _, body)) = split_front_matter(text) else {
        return text.to_owned();
    };
    let front_end = text.len() - body.len();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, c: char| {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    };
    #[derive(PartialEq)]
    enum State {
        Outside,
        Comment,
        Basic,
        Literal,
        MultiBasic,
        MultiLiteral,
    }
    let front = &text[..front_end];
    let mut state = State::Outside;
    let mut chars = front.char_indices().peekable();
    // Skip the opening `+++` line.
    for (_, c) in chars.by_ref() {
        blank(&mut out, c);
        if c == '\n' {
            break;
        }
    }
    while let Some((at, c)) = chars.next() {
        let rest = &front[at..];
        match state {
            State::Outside => {
                if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
                    state = if c == '"' {
                        State::MultiBasic
                    } else {
                        State::MultiLiteral
                    };
                    out.push_str("   ");
                    chars.next();
                    chars.next();
                } else if c == '"' {
                    state = State::Basic;
                    out.push(' ');
                } else if c == '\'' {
                    state = State::Literal;
                    out.push(' ');
                } else if c == '#' {
                    state = State::Comment;
                    out.push(' ');
                } else {
                    blank(&mut out, c);
                }
            }
            State::Comment => {
                if c == '\n' {
                    state = State::Outside;
                }
                blank(&mut out, c);
            }
            State::Basic | State::MultiBasic if c == '\\' => {
                out.push(' ');
                if let Some((_, escaped)) = chars.next() {
                    blank(&mut out, escaped);
                }
            }
            State::Basic if c == '"' => {
                state = State::Outside;
                out.push('.');
            }
            State::Literal if c == '\'' => {
                state = State::Outside;
                out.push('.');
            }
            State::MultiBasic if rest.starts_with("\"\"\"") => {
                state = State::Outside;
                out.push_str(".  ");
                chars.next();
                chars.next();
            }
            State::MultiLiteral if rest.starts_with("'''") => {
                state = State::Outside;
                out.push_str(".  ");
                chars.next();
                chars.next();
            }
            _ => out.push(c),
        }
    }
    out.push_str(body);
    debug_assert_eq!(out.len(), text.len());
    out
}

/// Lints Markdown; a postmortem file (starting `+++`) is also checked for completeness, with
/// findings placed at its section headings.
pub fn lint_file(
    text: &str,
    templates: &[Template],
    config: &LintConfig,
) -> Result<Vec<Finding>, FileError> {
    if !text.starts_with("+++") {
        return Ok(lint(text, config));
    }
    let file = parse(text, templates)?;
    let masked = prose_of(text);
    let mut findings = lint(&masked, config);
    if let Some(template) = templates
        .iter()
        .find(|template| template.key == file.document.template)
    {
        let offsets = section_offsets(text, templates);
        for found in completeness(template, &file.document, KnownTimes::default(), config) {
            let key = found.field.strip_prefix("sections.").unwrap_or_default();
            let at = offsets
                .iter()
                .find(|(section, _)| section == key)
                .map_or(0, |(_, offset)| *offset);
            let heading = text[..at].trim_end_matches('\n');
            let start = heading.rfind('\n').map_or(0, |newline| newline + 1);
            let mut finding = found.finding;
            finding.line = text[..start].matches('\n').count() + 1;
            finding.column = 1;
            finding.start = start;
            finding.end = heading.len();
            findings.push(finding);
        }
    }
    findings.sort_by_key(|finding| (finding.line, finding.column));
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::PostmortemDocument;
    use crate::postmortem::{DEFAULT_FACTOR_CATEGORIES, Why, builtin_templates};
    use proptest::prelude::*;

    fn sample() -> PostmortemFile {
        PostmortemFile {
            id: PostmortemId::new(12),
            status: PostmortemStatus::InReview,
            created_at: Some("2026-11-20T10:00:00Z".parse().unwrap()),
            updated_at: Some("2026-11-21T09:30:00.123456Z".parse().unwrap()),
            document: PostmortemDocument {
                title: "Checkout outage".into(),
                incidents: vec![IncidentId::new(4).unwrap()],
                template: "default".into(),
                owner: UserId::new(3),
                sections: [
                    ("summary".to_owned(), "Checkout failed.\n\n+++\n## Not a section\n\n```\n## Summary {#summary}\n```".to_owned()),
                    ("timeline".to_owned(), "- 10:02 UTC deploy\n- 10:05 UTC alert".to_owned()),
                ]
                .into(),
                why_chains: vec![WhyChain {
                    problem: "Checkout failed\n+++\nfor everyone".into(),
                    whys: vec![Why {
                        question: "Why did it fail?".into(),
                        answer: "A migration held a lock.".into(),
                    }],
                    root_cause: Some("No check for long locks.".into()),
                }],
                factors: vec![ContributingFactor {
                    category: "testing_gap".into(),
                    description: "Migrations are not tested on production-sized data.".into(),
                }],
                lessons: Lessons {
                    went_well: vec!["Alert fired in 3 minutes".into()],
                    went_wrong: vec![],
                    got_lucky: vec!["Low traffic".into()],
                },
                no_action_items_reason: None,
                lint_exceptions: Vec::new(),
            },
            action_items: vec![ActionItemDraft {
                title: Some("Add a lock timeout".into()),
                owner: Some("team:2".into()),
                due_on: Some("2026-12-15".into()),
                status: Some("open".into()),
                ..Default::default()
            }],
        }
    }

    #[test]
    fn a_file_reads_back_as_the_postmortem_it_was_written_from() {
        let templates = builtin_templates();
        let file = sample();
        let text = render(&file, &templates[0], &[]);
        assert!(text.contains("\n## Summary {#summary}\n\nCheckout failed."));
        assert!(text.contains("\n## Impact {#impact}\n"));
        assert_eq!(parse(&text, &templates).unwrap(), file);
    }

    #[test]
    fn headings_without_keys_are_matched_by_title_and_other_headings_are_text() {
        let templates = builtin_templates();
        let text = "+++\nformat = \"hindsight-postmortem/1\"\nstatus = \"draft\"\ntitle = \"T\"\ntemplate = \"default\"\nincidents = [1]\n+++\n# T\n\n## summary\nShort.\n\n## Details\nMore.\n## Impact\nNone.\n";
        let file = parse(text, &templates).unwrap();
        assert_eq!(file.id, None);
        assert_eq!(
            file.document.sections["summary"],
            "Short.\n\n## Details\nMore."
        );
        assert_eq!(file.document.sections["impact"], "None.");
    }

    #[test]
    fn malformed_front_matter_names_the_line() {
        let templates = builtin_templates();
        let text = "+++\nformat = \"hindsight-postmortem/1\"\nstatus = \"draft\"\ntitle = \"T\ntemplate = \"default\"\n+++\n";
        let error = parse(text, &templates).unwrap_err();
        assert_eq!(error.line, 4, "{error}");
        let text = "+++\nformat = \"hindsight-postmortem/1\"\nstatus = \"drafty\"\ntitle = \"T\"\ntemplate = \"default\"\nincidents = [1]\n+++\n";
        let error = parse(text, &templates).unwrap_err();
        assert_eq!(error.line, 3, "{error}");
        assert!(error.message.contains("drafty"), "{error}");
        assert_eq!(parse("# Just notes\n", &templates).unwrap_err().line, 1);
        let unclosed = "+++\nformat = \"hindsight-postmortem/1\"\n";
        assert!(
            parse(unclosed, &templates)
                .unwrap_err()
                .message
                .contains("closing")
        );
        let stray = "+++\nformat = \"hindsight-postmortem/1\"\nstatus = \"draft\"\ntitle = \"T\"\ntemplate = \"default\"\nincidents = [1]\n+++\n\nstray words\n## Summary {#summary}\n";
        assert_eq!(parse(stray, &templates).unwrap_err().line, 9);
    }

    fn line() -> impl Strategy<Value = String> {
        // Ordinary prose and Markdown, without lines that are themselves section headings.
        "[a-zA-Z0-9 .,:;!?'\"*_`()\\[\\]<>/+=#-]{0,40}".prop_filter("not a heading", |line| {
            !line.starts_with("## ") && !line.trim_start().starts_with("```")
        })
    }

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(line(), 0..6).prop_map(|lines| normalize_text(&lines.join("\n")))
    }

    fn one_line() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9][a-zA-Z0-9 .,:'\"#+=-]{0,30}[a-zA-Z0-9.]"
            .prop_map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    fn document() -> impl Strategy<Value = PostmortemFile> {
        let template = builtin_templates().remove(0);
        let keys: Vec<String> = template.sections.iter().map(|s| s.key.clone()).collect();
        (
            one_line(),
            prop::collection::vec(1i64..1_000_000, 1..4),
            prop::option::of(1i64..1000),
            prop::collection::btree_map(prop::sample::select(keys), text(), 0..6),
            prop::collection::vec(
                (
                    text(),
                    prop::collection::vec((text(), text()), 0..4),
                    prop::option::of(text()),
                ),
                0..3,
            ),
            prop::collection::vec(
                (prop::sample::select(DEFAULT_FACTOR_CATEGORIES), text()),
                0..3,
            ),
            prop::collection::vec(one_line(), 0..3),
            prop::collection::vec(
                (
                    one_line(),
                    prop::option::of(one_line()),
                    prop::option::of(0i32..3000),
                ),
                0..3,
            ),
            prop::option::of(text()),
            prop::sample::select(PostmortemStatus::ALL),
        )
            .prop_map(
                |(
                    title,
                    incidents,
                    owner,
                    sections,
                    chains,
                    factors,
                    lessons,
                    items,
                    reason,
                    status,
                )| {
                    PostmortemFile {
                        id: PostmortemId::new(incidents[0]),
                        status,
                        created_at: None,
                        updated_at: None,
                        action_items: items
                            .into_iter()
                            .map(|(title, owner, days)| ActionItemDraft {
                                title: Some(title),
                                owner,
                                due_on: days.map(|days| {
                                    jiff::civil::date(2026, 1, 1)
                                        .checked_add(jiff::Span::new().days(days))
                                        .unwrap()
                                        .to_string()
                                }),
                                ..Default::default()
                            })
                            .collect(),
                        document: PostmortemDocument {
                            title,
                            incidents: incidents.into_iter().filter_map(IncidentId::new).collect(),
                            template: "default".into(),
                            owner: owner.and_then(UserId::new),
                            sections: sections
                                .into_iter()
                                .filter(|(_, text)| !text.is_empty())
                                .collect(),
                            why_chains: chains
                                .into_iter()
                                .map(|(problem, whys, root_cause)| WhyChain {
                                    problem,
                                    whys: whys
                                        .into_iter()
                                        .map(|(question, answer)| Why { question, answer })
                                        .collect(),
                                    root_cause,
                                })
                                .collect(),
                            factors: factors
                                .into_iter()
                                .map(|(category, description)| ContributingFactor {
                                    category: category.to_owned(),
                                    description,
                                })
                                .collect(),
                            lessons: Lessons {
                                went_well: lessons.clone(),
                                went_wrong: Vec::new(),
                                got_lucky: lessons,
                            },
                            no_action_items_reason: reason,
                            lint_exceptions: Vec::new(),
                        },
                    }
                },
            )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]
        #[test]
        fn any_postmortem_survives_a_round_trip_through_markdown(file in document()) {
            let templates = builtin_templates();
            let text = render(&file, &templates[0], &[]);
            prop_assert_eq!(parse(&text, &templates).unwrap(), file);
        }
    }

    #[test]
    fn the_prose_of_a_file_keeps_string_text_in_place_and_blanks_the_rest() {
        let templates = builtin_templates();
        let text = render(&sample(), &templates[0], &[]);
        let prose = prose_of(&text);
        assert_eq!(prose.len(), text.len());
        let at = text.find("A migration held a lock.").unwrap();
        assert_eq!(&prose[at..at + 24], "A migration held a lock.");
        assert!(!prose.contains("format"));
        assert!(!prose.contains("template ="));
        assert!(prose.ends_with(&text[text.find("\n# Checkout").unwrap()..]));
    }
}
