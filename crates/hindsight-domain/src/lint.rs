//! The blameless lint: finds sentences that blame people rather than systems, judge them,
//! wish they had acted otherwise, or guess where facts could be collected.
//!
//! Precision matters as much as recall: a lint that cries wolf gets switched off. So a verb
//! that systems do too ("failed to", "broke", "didn't") counts as blame only when its subject
//! is surely a person (a known name, a role, he or she), while verbs only people do ("forgot",
//! "neglected") also count after a capitalized name. People credited for what they did are
//! never flagged. Code spans, code blocks and quoted lines (logs, chat) are not read.
//! Pure and linear in the input: no IO, no allocation per character.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::document::PostmortemDocument;
use crate::postmortem::Template;

string_enum! {
    /// How strongly a finding asks for a rewrite.
    LintSeverity { Error => "error", Warning => "warning" }
}

/// One thing the lint found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `blame`, `fault`, `judgement`, `counterfactual`, `speculation`, a completeness rule
    /// (`required_section`, `placeholder`, `timeline_times`) or an organisation's own.
    pub rule: Cow<'static, str>,
    pub severity: LintSeverity,
    /// 1-based line and column (in characters) where the finding starts.
    pub line: usize,
    pub column: usize,
    /// Byte range of the words that triggered it.
    pub start: usize,
    pub end: usize,
    pub message: Cow<'static, str>,
    pub suggestion: Cow<'static, str>,
}

/// What an organisation adds or turns off.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LintConfig {
    /// Names of people (incident participants, users), matched case-insensitively.
    pub people: Vec<String>,
    /// Rule ids not to report.
    pub disabled_rules: Vec<String>,
    /// Extra judgement words, reported by the `judgement` rule.
    pub judgement_terms: Vec<String>,
    /// The organisation's own rules.
    pub custom_rules: Vec<CustomRule>,
    /// Rule ids whose findings stop a postmortem from going to review or being published,
    /// unless an editor writes why it goes anyway (`[lint] block`). None by default.
    pub block: Vec<String>,
}

/// A rule an organisation adds: any of its phrases, in prose, is a finding.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRule {
    pub id: String,
    /// Words or phrases, matched whole and case-insensitively ("root cause was human").
    pub phrases: Vec<String>,
    pub message: String,
    #[serde(default)]
    pub suggestion: String,
    #[serde(default = "warning")]
    pub severity: LintSeverity,
}

fn warning() -> LintSeverity {
    LintSeverity::Warning
}

/// The rule ids the lint knows without configuration.
pub const RULES: &[&str] = &[
    "blame",
    "fault",
    "judgement",
    "counterfactual",
    "speculation",
    "required_section",
    "placeholder",
    "timeline_times",
];

const ROLES: &[&str] = &[
    "engineer",
    "engineers",
    "developer",
    "developers",
    "dev",
    "devs",
    "operator",
    "operators",
    "admin",
    "administrator",
    "sre",
    "sres",
    "intern",
    "on-call",
    "oncall",
    "responder",
    "reviewer",
    "manager",
    "employee",
    "contractor",
    "teammate",
    "colleague",
    "someone",
    "somebody",
    "person",
    "assignee",
    "author",
    "owner",
    "staff",
];
/// Words that may stand between a determiner and a role: "the new on-call engineer".
const ROLE_ADJECTIVES: &[&str] = &[
    "on-call",
    "oncall",
    "new",
    "junior",
    "senior",
    "backend",
    "frontend",
    "database",
    "release",
    "same",
    "responsible",
    "primary",
    "secondary",
    "other",
    "platform",
    "ops",
    "support",
];
const DETERMINERS: &[&str] = &[
    "the", "our", "a", "an", "that", "this", "their", "his", "her",
];
/// Verbs only people do.
const HUMAN_VERBS: &[&[&str]] = &[
    &["forgot"],
    &["forgets"],
    &["neglected"],
    &["overlooked"],
    &["ignored"],
    &["messed", "up"],
    &["screwed", "up"],
    &["botched"],
    &["fumbled"],
    &["didn't", "bother"],
    &["did", "not", "bother"],
    &["was", "careless"],
    &["carelessly"],
    &["mistakenly"],
    &["blindly"],
];
/// Verbs systems do too: blame only after a certain person.
const SHARED_VERBS: &[&[&str]] = &[
    &["failed", "to"],
    &["broke"],
    &["caused"],
    &["didn't"],
    &["did", "not"],
    &["missed"],
    &["deleted"],
    &["dropped"],
    &["pushed"],
    &["deployed"],
    &["misconfigured"],
    &["skipped"],
];
/// Words that may stand between a subject and its verb: "Alice just forgot".
const ADVERBS: &[&str] = &[
    "just",
    "simply",
    "again",
    "also",
    "then",
    "clearly",
    "obviously",
    "apparently",
];
const JUDGEMENTS: &[&str] = &[
    "careless",
    "carelessly",
    "carelessness",
    "negligent",
    "negligence",
    "negligently",
    "incompetent",
    "incompetence",
    "sloppy",
    "lazy",
    "stupid",
    "stupidity",
    "idiot",
    "idiotic",
    "dumb",
    "reckless",
    "recklessly",
    "irresponsible",
    "clueless",
];
const FAULT_PHRASES: &[&[&str]] = &[
    &["human", "error"],
    &["operator", "error"],
    &["user", "error"],
    &["pilot", "error"],
    &["to", "blame"],
    &["blamed"],
    &["blame", "on"],
];
const COUNTERFACTUALS: &[&[&str]] = &[
    &["should", "have"],
    &["should've"],
    &["could", "have"],
    &["could've"],
    &["ought", "to", "have"],
    &["would", "have", "known"],
    &["should", "know"],
];
const GUESSES: &[&[&str]] = &[
    &["i", "think"],
    &["i", "believe"],
    &["i", "guess"],
    &["i", "suppose"],
    &["i", "assume"],
    &["we", "think"],
    &["we", "believe"],
    &["we", "guess"],
    &["probably"],
    &["maybe"],
    &["perhaps"],
    &["presumably"],
    &["possibly"],
    &["might", "have", "been"],
    &["may", "have", "been"],
    &["must", "have", "been"],
    &["it", "seems"],
    &["seems", "like"],
    &["i'm", "guessing"],
];
/// Capitalized words that start sentences or name things, not people.
const NOT_NAMES: &[&str] = &[
    "the",
    "this",
    "that",
    "these",
    "those",
    "it",
    "we",
    "our",
    "a",
    "an",
    "i",
    "they",
    "there",
    "after",
    "before",
    "when",
    "then",
    "during",
    "at",
    "on",
    "in",
    "if",
    "because",
    "so",
    "but",
    "and",
    "or",
    "nobody",
    "everyone",
    "nothing",
    "monitoring",
    "alerting",
    "deploy",
    "deploys",
    "ci",
    "cd",
    "kubernetes",
    "postgres",
    "postgresql",
    "redis",
    "nginx",
    "terraform",
    "github",
    "jenkins",
    "pagerduty",
    "slack",
    "grafana",
    "prometheus",
    "aws",
    "gcp",
    "azure",
    "heroku",
];

struct Word {
    start: usize,
    end: usize,
    lower: String,
    capitalized: bool,
}

/// The text with code, quoted lines and HTML comments blanked to spaces, byte for byte, so that
/// every offset still points into the original.
fn prose_only(text: &str) -> Vec<u8> {
    let mut out = text.as_bytes().to_vec();
    let blank = |from: usize, to: usize, out: &mut Vec<u8>| {
        for byte in &mut out[from..to] {
            if *byte != b'\n' {
                *byte = b' ';
            }
        }
    };
    let mut offset = 0;
    let mut fence: Option<&str> = None;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let line_end = offset + line.len();
        if let Some(marker) = fence {
            blank(offset, line_end, &mut out);
            if trimmed.starts_with(marker) {
                fence = None;
            }
        } else if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            blank(offset, line_end, &mut out);
        } else if trimmed.starts_with('>') || line.starts_with("    ") || line.starts_with('\t') {
            blank(offset, line_end, &mut out);
        } else {
            // Inline code spans.
            let bytes = line.as_bytes();
            let mut index = 0;
            while let Some(open) = bytes[index..].iter().position(|byte| *byte == b'`') {
                let open = index + open;
                match bytes[open + 1..].iter().position(|byte| *byte == b'`') {
                    Some(close) => {
                        let close = open + 1 + close;
                        blank(offset + open, offset + close + 1, &mut out);
                        index = close + 1;
                    }
                    None => break,
                }
            }
        }
        offset = line_end;
    }
    // HTML comments.
    let mut search = 0;
    while let Some(open) = find(&out, b"<!--", search) {
        let close = find(&out, b"-->", open + 4).map_or(out.len(), |close| close + 3);
        blank(open, close, &mut out);
        search = close;
    }
    out
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|position| from + position)
}

/// Sentences as byte ranges: split at `.`, `!` or `?` before white space, at blank lines, and
/// before lines that start a list item, a heading or a table row.
fn sentences(prose: &[u8]) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut index = 0;
    while index < prose.len() {
        let byte = prose[index];
        let next = prose.get(index + 1).copied();
        let ends_sentence = matches!(byte, b'.' | b'!' | b'?')
            && next.is_none_or(|next| next.is_ascii_whitespace());
        let new_block = byte == b'\n' && {
            let rest = &prose[index + 1..];
            let line = rest.split(|byte| *byte == b'\n').next().unwrap_or_default();
            let trimmed = line.trim_ascii_start();
            trimmed.is_empty()
                || trimmed.starts_with(b"#")
                || trimmed.starts_with(b"- ")
                || trimmed.starts_with(b"* ")
                || trimmed.starts_with(b"+ ")
                || trimmed.starts_with(b"|")
                || trimmed.first().is_some_and(u8::is_ascii_digit)
        };
        if ends_sentence || new_block {
            ranges.push((start, index + 1));
            start = index + 1;
        }
        index += 1;
    }
    if start < prose.len() {
        ranges.push((start, prose.len()));
    }
    ranges
}

fn words(text: &str, prose: &[u8], from: usize, to: usize) -> Vec<Word> {
    let mut found = Vec::new();
    let mut index = from;
    let is_word =
        |byte: u8| byte.is_ascii_alphanumeric() || byte == b'\'' || byte == b'-' || byte >= 0x80;
    while index < to {
        if !is_word(prose[index]) || prose[index] == b'\'' || prose[index] == b'-' {
            index += 1;
            continue;
        }
        let start = index;
        while index < to && is_word(prose[index]) {
            index += 1;
        }
        let mut end = index;
        // "Alice's" keeps its apostrophe; a trailing one ("engineers'") does too.
        while end > start && prose[end - 1] == b'-' {
            end -= 1;
        }
        let Some(word) = text.get(start..end) else {
            continue;
        };
        let word = word.replace('\u{2019}', "'");
        found.push(Word {
            start,
            end,
            capitalized: word.chars().next().is_some_and(char::is_uppercase),
            lower: word.to_lowercase(),
        });
    }
    found
}

/// Whether `phrase` stands at `at`; gives its length in words.
fn phrase_at(words: &[Word], at: usize, phrase: &[&str]) -> Option<usize> {
    let matches = phrase.iter().enumerate().all(|(offset, part)| {
        words
            .get(at + offset)
            .is_some_and(|word| word.lower == *part)
    });
    matches.then_some(phrase.len())
}

fn any_phrase_at(words: &[Word], at: usize, phrases: &[&[&str]]) -> Option<usize> {
    phrases
        .iter()
        .find_map(|phrase| phrase_at(words, at, phrase))
}

/// How sure a subject is to be a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Person {
    /// A known name, a role, he or she.
    Surely,
    /// A capitalized word that could be a name.
    Maybe,
}

struct People {
    /// Each known name as lower-case words, under its first word: a word is compared only with
    /// the names it could start, however many people there are.
    names: std::collections::HashMap<String, Vec<Vec<String>>>,
}

impl People {
    fn new(names: &[String]) -> Self {
        let mut by_first: std::collections::HashMap<String, Vec<Vec<String>>> =
            std::collections::HashMap::new();
        for name in names {
            let parts: Vec<String> = name.split_whitespace().map(str::to_lowercase).collect();
            if let Some(first) = parts.first() {
                by_first.entry(first.clone()).or_default().push(parts);
            }
        }
        Self { names: by_first }
    }

    /// A person phrase starting at `at`: its certainty and length in words.
    fn at(&self, words: &[Word], at: usize) -> Option<(Person, usize)> {
        let word = words.get(at)?;
        let lower = word.lower.trim_end_matches("'s");
        for name in self.names.get(lower).into_iter().flatten() {
            let matches = name.iter().enumerate().all(|(offset, part)| {
                words
                    .get(at + offset)
                    .is_some_and(|word| word.lower.trim_end_matches("'s") == part.as_str())
            });
            if matches {
                return Some((Person::Surely, name.len()));
            }
        }
        if matches!(lower, "he" | "she") {
            return Some((Person::Surely, 1));
        }
        let mut index = at;
        if DETERMINERS.contains(&lower) {
            index += 1;
        }
        while words
            .get(index)
            .is_some_and(|word| ROLE_ADJECTIVES.contains(&word.lower.as_str()))
            && words.get(index + 1).is_some_and(|next| {
                let next = next.lower.trim_end_matches("'s");
                ROLES.contains(&next) || ROLE_ADJECTIVES.contains(&next)
            })
        {
            index += 1;
        }
        if let Some(role) = words.get(index)
            && ROLES.contains(&role.lower.trim_end_matches("'s").trim_end_matches('\''))
            && (index > at || !DETERMINERS.contains(&lower))
        {
            return Some((Person::Surely, index - at + 1));
        }
        let name_like = word.capitalized
            && word.lower.chars().all(|c| c.is_alphabetic() || c == '\'')
            && !NOT_NAMES.contains(&lower)
            && !ROLES.contains(&lower);
        name_like.then_some((Person::Maybe, 1))
    }
}

struct Rule {
    id: &'static str,
    severity: LintSeverity,
    message: &'static str,
    suggestion: &'static str,
}

const BLAME: Rule = Rule {
    id: "blame",
    severity: LintSeverity::Error,
    message: "blames a person for what the system let happen",
    suggestion: "describe what happened and what allowed it, e.g. 'the migration was not run before the deploy, and nothing checked for it'",
};
const FAULT: Rule = Rule {
    id: "fault",
    severity: LintSeverity::Error,
    message: "attributes fault to a person",
    suggestion: "name the condition that made the mistake possible, not who made it",
};
const JUDGEMENT: Rule = Rule {
    id: "judgement",
    severity: LintSeverity::Error,
    message: "judges a person",
    suggestion: "describe the action and its context without judging anyone",
};
const COUNTERFACTUAL: Rule = Rule {
    id: "counterfactual",
    severity: LintSeverity::Warning,
    message: "says what a person should have done, with hindsight",
    suggestion: "say what was missing (a check, a guard, a runbook step) rather than what someone should have known",
};
const PLACEHOLDER: Rule = Rule {
    id: "placeholder",
    severity: LintSeverity::Warning,
    message: "placeholder text left in",
    suggestion: "write what is known, or say plainly that it is not known yet",
};
/// Words that mark text as not written yet, when written in capitals.
const PLACEHOLDER_WORDS: &[&str] = &["TODO", "TBD", "TBA", "FIXME", "XXX", "TKTK"];
/// Markers that are placeholders in any case.
const PLACEHOLDER_MARKERS: &[&[u8]] = &[
    b"[fill in",
    b"<fill in",
    b"[insert",
    b"<insert",
    b"lorem ipsum",
    b"{{",
];
const SPECULATION: Rule = Rule {
    id: "speculation",
    severity: LintSeverity::Warning,
    message: "guesses where facts could be collected",
    suggestion: "collect the fact (logs, metrics, timeline) or list it as an open question",
};

/// Lints a Markdown document.
pub fn lint(markdown: &str, config: &LintConfig) -> Vec<Finding> {
    let prose = prose_only(markdown);
    let people = People::new(&config.people);
    let judgement_terms: Vec<String> = JUDGEMENTS
        .iter()
        .map(|term| (*term).to_owned())
        .chain(
            config
                .judgement_terms
                .iter()
                .map(|term| term.to_lowercase()),
        )
        .collect();
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(markdown.match_indices('\n').map(|(index, _)| index + 1))
        .collect();
    let mut findings = Vec::new();
    let mut report = |rule: &Rule, words: &[Word], first: usize, last: usize| {
        if config
            .disabled_rules
            .iter()
            .any(|disabled| disabled == rule.id)
        {
            return;
        }
        let (start, end) = (words[first].start, words[last].end);
        findings.push(Finding {
            rule: Cow::Borrowed(rule.id),
            severity: rule.severity,
            line: 0,
            column: 0,
            start,
            end,
            message: Cow::Borrowed(rule.message),
            suggestion: Cow::Borrowed(rule.suggestion),
        });
    };
    let custom: Vec<(&CustomRule, Vec<Vec<String>>)> = config
        .custom_rules
        .iter()
        .filter(|rule| !config.disabled_rules.contains(&rule.id))
        .map(|rule| {
            let phrases = rule
                .phrases
                .iter()
                .map(|phrase| phrase.split_whitespace().map(str::to_lowercase).collect())
                .filter(|phrase: &Vec<String>| !phrase.is_empty())
                .collect();
            (rule, phrases)
        })
        .collect();
    let mut custom_findings = Vec::new();
    if !config
        .disabled_rules
        .iter()
        .any(|rule| rule == PLACEHOLDER.id)
    {
        // One pass: only a byte that can start a marker is looked at further.
        for (at, byte) in prose.iter().enumerate() {
            if !matches!(byte, b'[' | b'<' | b'{' | b'l' | b'L') {
                continue;
            }
            let rest = &prose[at..];
            let marker = PLACEHOLDER_MARKERS.iter().find(|marker| {
                rest.len() >= marker.len() && rest[..marker.len()].eq_ignore_ascii_case(marker)
            });
            if let Some(marker) = marker
                && markdown.is_char_boundary(at)
                && markdown.is_char_boundary(at + marker.len())
            {
                custom_findings.push((None, at, at + marker.len()));
            }
        }
    }
    for (from, to) in sentences(&prose) {
        let words = words(markdown, &prose, from, to);
        let mut flagged: Vec<&'static str> = Vec::new();
        let mut custom_flagged: Vec<&str> = Vec::new();
        for at in 0..words.len() {
            let lower = words[at].lower.as_str();
            if words[at].capitalized
                && !flagged.contains(&"placeholder")
                && PLACEHOLDER_WORDS.contains(&&markdown[words[at].start..words[at].end])
            {
                report(&PLACEHOLDER, &words, at, at);
                flagged.push("placeholder");
            }
            for (rule, phrases) in &custom {
                if custom_flagged.contains(&rule.id.as_str()) {
                    continue;
                }
                let matched = phrases.iter().find(|phrase| {
                    phrase.iter().enumerate().all(|(offset, part)| {
                        words
                            .get(at + offset)
                            .is_some_and(|word| &word.lower == part)
                    })
                });
                if let Some(phrase) = matched {
                    custom_flagged.push(&rule.id);
                    custom_findings.push((
                        Some(*rule),
                        words[at].start,
                        words[at + phrase.len() - 1].end,
                    ));
                }
            }
            if !flagged.contains(&"judgement") && judgement_terms.iter().any(|term| term == lower) {
                report(&JUDGEMENT, &words, at, at);
                flagged.push("judgement");
            }
            if !flagged.contains(&"fault") {
                let possessive_fault = lower == "fault"
                    && at > 0
                    && (words[at - 1].lower.ends_with("'s")
                        || matches!(words[at - 1].lower.as_str(), "his" | "her" | "their"));
                if let Some(length) = any_phrase_at(&words, at, FAULT_PHRASES) {
                    report(&FAULT, &words, at, at + length - 1);
                    flagged.push("fault");
                } else if possessive_fault {
                    report(&FAULT, &words, at - 1, at);
                    flagged.push("fault");
                }
            }
            if !flagged.contains(&"speculation")
                && let Some(length) = any_phrase_at(&words, at, GUESSES)
            {
                report(&SPECULATION, &words, at, at + length - 1);
                flagged.push("speculation");
            }
            // "if only <person> had …"
            if !flagged.contains(&"counterfactual")
                && lower == "if"
                && words.get(at + 1).is_some_and(|word| word.lower == "only")
                && let Some((_, length)) = people.at(&words, at + 2)
            {
                report(&COUNTERFACTUAL, &words, at, at + 1 + length);
                flagged.push("counterfactual");
            }
            let Some((certainty, length)) = people.at(&words, at) else {
                continue;
            };
            let mut verb_at = at + length;
            while words
                .get(verb_at)
                .is_some_and(|word| ADVERBS.contains(&word.lower.as_str()))
            {
                verb_at += 1;
            }
            if !flagged.contains(&"counterfactual")
                && certainty == Person::Surely
                && let Some(verb) = any_phrase_at(&words, verb_at, COUNTERFACTUALS)
            {
                report(&COUNTERFACTUAL, &words, at, verb_at + verb - 1);
                flagged.push("counterfactual");
            }
            if flagged.contains(&"blame") {
                continue;
            }
            let human = any_phrase_at(&words, verb_at, HUMAN_VERBS);
            let shared = (certainty == Person::Surely)
                .then(|| any_phrase_at(&words, verb_at, SHARED_VERBS))
                .flatten();
            if let Some(verb) = human.or(shared) {
                report(&BLAME, &words, at, verb_at + verb - 1);
                flagged.push("blame");
            }
        }
    }
    for (rule, start, end) in custom_findings {
        let (rule, severity, message, suggestion) = match rule {
            Some(rule) => (
                Cow::Owned(rule.id.clone()),
                rule.severity,
                Cow::Owned(rule.message.clone()),
                Cow::Owned(rule.suggestion.clone()),
            ),
            None => (
                Cow::Borrowed(PLACEHOLDER.id),
                PLACEHOLDER.severity,
                Cow::Borrowed(PLACEHOLDER.message),
                Cow::Borrowed(PLACEHOLDER.suggestion),
            ),
        };
        findings.push(Finding {
            rule,
            severity,
            line: 0,
            column: 0,
            start,
            end,
            message,
            suggestion,
        });
    }
    findings.sort_by_key(|finding| finding.start);
    place(markdown, &line_starts, &mut findings);
    findings
}

/// The most findings an answer lists; a document written to provoke more (the same blaming
/// sentence a hundred thousand times) says how many more there are instead.
pub const MAX_FINDINGS: usize = 1_000;

/// The first [`MAX_FINDINGS`] of `findings`, and how many were left out.
pub fn capped<T>(mut findings: Vec<T>) -> (Vec<T>, usize) {
    let more = findings.len().saturating_sub(MAX_FINDINGS);
    findings.truncate(MAX_FINDINGS);
    (findings, more)
}

/// Sets each finding's line and column from its byte offset. The findings are in order, so the
/// columns are counted in one walk through the text: on a single long line, counting from the
/// line's start for every finding would take time that grows with the square of the input.
fn place(markdown: &str, line_starts: &[usize], findings: &mut [Finding]) {
    let (mut line, mut at, mut column) = (0usize, 0usize, 1usize);
    for finding in findings {
        let found_line = line_starts.partition_point(|line_start| *line_start <= finding.start);
        if found_line != line {
            line = found_line;
            at = line_starts[line - 1];
            column = 1;
        }
        column += markdown[at..finding.start].chars().count();
        at = finding.start;
        finding.line = line;
        finding.column = column;
    }
}

/// A finding in a postmortem: the field it concerns (`sections.summary`,
/// `why_chains[0].root_cause`), and where in that field's text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldFinding {
    pub field: String,
    #[serde(flatten)]
    pub finding: Finding,
}

/// Which key times the postmortem's incidents already record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KnownTimes {
    pub detected: bool,
    pub resolved: bool,
}

const DETECTION_WORDS: &[&str] = &[
    "detected",
    "detect",
    "detection",
    "alert",
    "alerted",
    "alerts",
    "paged",
    "page",
    "noticed",
    "reported",
    "fired",
];
const RESOLUTION_WORDS: &[&str] = &[
    "resolved",
    "resolution",
    "recovered",
    "restored",
    "fixed",
    "normal",
    "closed",
    "mitigated",
];

/// A timeline line names a time when it holds `hh:mm`.
fn has_time(line: &str) -> bool {
    let bytes = line.as_bytes();
    bytes.windows(3).enumerate().any(|(at, window)| {
        window[0].is_ascii_digit()
            && window[1] == b':'
            && window[2].is_ascii_digit()
            && bytes.get(at + 3).is_some_and(u8::is_ascii_digit)
    })
}

fn timeline_mentions(timeline: &str, words: &[&str]) -> bool {
    timeline.lines().any(|line| {
        let lower = line.to_lowercase();
        has_time(line)
            && lower
                .split(|c: char| !c.is_alphanumeric())
                .any(|word| words.contains(&word))
    })
}

fn document_finding(
    field: String,
    rule: &'static str,
    message: String,
    suggestion: &'static str,
) -> FieldFinding {
    FieldFinding {
        field,
        finding: Finding {
            rule: Cow::Borrowed(rule),
            severity: LintSeverity::Warning,
            line: 1,
            column: 1,
            start: 0,
            end: 0,
            message: Cow::Owned(message),
            suggestion: Cow::Borrowed(suggestion),
        },
    }
}

/// What the document lacks: required sections left empty (or holding the template's guidance),
/// and a timeline without a detection or a resolution time. These findings concern a whole
/// field, so they point at its start.
pub fn completeness(
    template: &Template,
    document: &PostmortemDocument,
    known: KnownTimes,
    config: &LintConfig,
) -> Vec<FieldFinding> {
    let disabled = |rule: &str| config.disabled_rules.iter().any(|off| off == rule);
    let mut findings = Vec::new();
    for section in &template.sections {
        let field = format!("sections.{}", section.key);
        let text = document.sections.get(&section.key).map(|text| text.trim());
        let required = section.required_before_review || section.required_before_publish;
        if text == Some(section.guidance.trim()) && !disabled("placeholder") {
            findings.push(document_finding(
                field,
                "placeholder",
                format!(
                    "the section \u{201c}{}\u{201d} still holds the template's guidance",
                    section.title
                ),
                "replace the guidance with what happened",
            ));
        } else if required && text.is_none_or(str::is_empty) && !disabled("required_section") {
            let when = if section.required_before_review {
                "review"
            } else {
                "publishing"
            };
            findings.push(document_finding(
                field,
                "required_section",
                format!(
                    "the section \u{201c}{}\u{201d} is required before {when} and is empty",
                    section.title
                ),
                "write it, or say what is not known yet",
            ));
        }
    }
    let timeline = document.sections.get("timeline");
    if let Some(timeline) = timeline
        && !disabled("timeline_times")
    {
        for (known, words, what) in [
            (known.detected, DETECTION_WORDS, "detection"),
            (known.resolved, RESOLUTION_WORDS, "resolution"),
        ] {
            if !known && !timeline_mentions(timeline, words) {
                findings.push(document_finding(
                    "sections.timeline".to_owned(),
                    "timeline_times",
                    format!("the timeline has no {what} time"),
                    "add the time (with its time zone) as a line of the timeline, or set it on the incident",
                ));
            }
        }
    }
    findings
}

/// Every text a writer wrote in the document, by field, in reading order.
pub fn document_texts(document: &PostmortemDocument) -> Vec<(String, &str)> {
    let mut texts: Vec<(String, &str)> = Vec::new();
    for (key, text) in &document.sections {
        texts.push((format!("sections.{key}"), text));
    }
    for (index, chain) in document.why_chains.iter().enumerate() {
        texts.push((format!("why_chains[{index}].problem"), &chain.problem));
        for (step, why) in chain.whys.iter().enumerate() {
            texts.push((
                format!("why_chains[{index}].whys[{step}].question"),
                &why.question,
            ));
            texts.push((
                format!("why_chains[{index}].whys[{step}].answer"),
                &why.answer,
            ));
        }
        if let Some(cause) = &chain.root_cause {
            texts.push((format!("why_chains[{index}].root_cause"), cause));
        }
    }
    for (index, factor) in document.factors.iter().enumerate() {
        texts.push((format!("factors[{index}].description"), &factor.description));
    }
    for (name, list) in [
        ("went_well", &document.lessons.went_well),
        ("went_wrong", &document.lessons.went_wrong),
        ("got_lucky", &document.lessons.got_lucky),
    ] {
        for (index, item) in list.iter().enumerate() {
            texts.push((format!("lessons.{name}[{index}]"), item));
        }
    }
    if let Some(reason) = &document.no_action_items_reason {
        texts.push(("no_action_items_reason".to_owned(), reason));
    }
    texts
}

/// The whole lint on a postmortem: completeness, then the language of every text in it.
pub fn lint_postmortem(
    template: &Template,
    document: &PostmortemDocument,
    known: KnownTimes,
    config: &LintConfig,
) -> Vec<FieldFinding> {
    let mut findings = completeness(template, document, known, config);
    for (field, text) in document_texts(document) {
        findings.extend(lint(text, config).into_iter().map(|finding| FieldFinding {
            field: field.clone(),
            finding,
        }));
    }
    findings
}

/// The rules that judge whether a document is complete rather than how it is written.
pub const COMPLETENESS_RULES: &[&str] = &["required_section", "timeline_times"];

/// Whether a finding is about the document's language (blame, judgement, a placeholder, an
/// organisation's phrase), as counted on the buttons that move a postmortem.
pub fn is_language(finding: &FieldFinding) -> bool {
    !COMPLETENESS_RULES.contains(&finding.finding.rule.as_ref())
}

/// Longest justification for moving past blocking findings, in characters.
pub const MAX_JUSTIFICATION_CHARS: usize = 2_000;

/// What the lint says about moving a postmortem on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// No finding of a blocking rule.
    Clear,
    /// Findings of blocking rules, each described for people, and no justification.
    Blocked(Vec<String>),
    /// Findings of blocking rules, moved past with this justification.
    Excepted {
        findings: Vec<String>,
        justification: String,
    },
}

/// The findings of rules the organisation blocks on.
pub fn blocking<'a>(
    findings: &'a [FieldFinding],
    block: &'a [String],
) -> impl Iterator<Item = &'a FieldFinding> {
    findings
        .iter()
        .filter(move |found| block.iter().any(|rule| *rule == found.finding.rule))
}

/// `blame in sections.summary, line 2, column 5: “he failed to”`.
pub fn describe(document: &PostmortemDocument, found: &FieldFinding) -> String {
    let finding = &found.finding;
    let words = document_texts(document)
        .into_iter()
        .find(|(field, _)| *field == found.field)
        .and_then(|(_, text)| text.get(finding.start..finding.end).map(str::to_owned))
        .unwrap_or_default();
    let mut text = format!("{} in {}", finding.rule, found.field);
    if finding.end > finding.start {
        text.push_str(&format!(
            ", line {}, column {}",
            finding.line, finding.column
        ));
    }
    if !words.is_empty() {
        text.push_str(&format!(": \u{201c}{words}\u{201d}"));
    }
    text
}

/// Decides whether `findings` (of `document`) let it move on, given the rules `block`ed and a
/// justification, if one was written. A blank justification counts as none; one that is too
/// long or holds NUL is refused with the reason.
pub fn gate(
    document: &PostmortemDocument,
    findings: &[FieldFinding],
    block: &[String],
    justification: Option<&str>,
) -> Result<Gate, String> {
    let blocking: Vec<String> = blocking(findings, block)
        .map(|found| describe(document, found))
        .collect();
    if blocking.is_empty() {
        return Ok(Gate::Clear);
    }
    let justification = justification.map(str::trim).unwrap_or_default();
    if justification.is_empty() {
        return Ok(Gate::Blocked(blocking));
    }
    if justification.chars().count() > MAX_JUSTIFICATION_CHARS {
        return Err(format!(
            "must be at most {MAX_JUSTIFICATION_CHARS} characters"
        ));
    }
    if justification.contains('\0') {
        return Err("must not contain NUL characters".to_owned());
    }
    Ok(Gate::Excepted {
        findings: blocking,
        justification: crate::document::normalize_text(justification),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> LintConfig {
        LintConfig {
            people: vec!["Alex Kim".into(), "Priya".into(), "Sam".into()],
            ..LintConfig::default()
        }
    }

    fn rules(text: &str) -> Vec<String> {
        lint(text, &config())
            .into_iter()
            .map(|finding| finding.rule.into_owned())
            .collect()
    }

    /// Labelled sentences: the rule each should trigger, or none.
    const CORPUS: &[(&str, Option<&str>)] = &[
        (
            "Priya forgot to run the migration before the deploy.",
            Some("blame"),
        ),
        ("Alex Kim failed to check the replica lag.", Some("blame")),
        (
            "The on-call engineer ignored the first page.",
            Some("blame"),
        ),
        (
            "Sam broke the build by pushing directly to main.",
            Some("blame"),
        ),
        ("Our new developer didn't test the change.", Some("blame")),
        ("Jordan neglected to update the runbook.", Some("blame")),
        ("The intern deleted the production table.", Some("blame")),
        ("He just forgot to renew the certificate.", Some("blame")),
        ("Someone overlooked the warning in the logs.", Some("blame")),
        (
            "The operator misconfigured the load balancer.",
            Some("blame"),
        ),
        (
            "It was Priya's fault that the backup was not taken.",
            Some("fault"),
        ),
        (
            "The outage was caused by human error by the on-call engineer.",
            Some("fault"),
        ),
        (
            "Operator error led to the wrong region being drained.",
            Some("fault"),
        ),
        ("Sam is to blame for the missed alert.", Some("fault")),
        ("The rollout was careless.", Some("judgement")),
        (
            "This was a negligent change to production.",
            Some("judgement"),
        ),
        (
            "An incompetent review let the bug through.",
            Some("judgement"),
        ),
        (
            "Sloppy work on the config file took the site down.",
            Some("judgement"),
        ),
        (
            "Priya should have known the index was missing.",
            Some("counterfactual"),
        ),
        (
            "If only Sam had read the runbook, we would have recovered sooner.",
            Some("counterfactual"),
        ),
        (
            "The engineer should have checked the dashboard first.",
            Some("counterfactual"),
        ),
        (
            "Alex Kim could have rolled back earlier.",
            Some("counterfactual"),
        ),
        (
            "She ought to have escalated to the database team.",
            Some("counterfactual"),
        ),
        (
            "I think the cache was probably misconfigured.",
            Some("speculation"),
        ),
        (
            "Maybe the disk filled up before the alert fired.",
            Some("speculation"),
        ),
        (
            "The queue must have been full at the time.",
            Some("speculation"),
        ),
        (
            "It seems the retry storm started in the EU region.",
            Some("speculation"),
        ),
        (
            "We believe the certificate expired overnight.",
            Some("speculation"),
        ),
        (
            "The health check failed to respond within the timeout.",
            None,
        ),
        ("The deploy failed because a migration held a lock.", None),
        ("Priya noticed the spike and paged on-call.", None),
        ("Alex Kim rolled back the release at 15:17.", None),
        (
            "The on-call engineer acknowledged the page within two minutes.",
            None,
        ),
        ("Kubernetes failed to schedule the new pods.", None),
        (
            "The job didn't run because the cron entry was removed.",
            None,
        ),
        (
            "Monitoring missed the spike because the threshold was too high.",
            None,
        ),
        (
            "Sam restored the backup and confirmed the data was intact.",
            None,
        ),
        (
            "The alert should have fired at 12:20 but its query was wrong.",
            None,
        ),
        ("The runbook did not cover a full disk.", None),
        ("Error rates returned to normal at 15:25.", None),
        (
            "We added a check that blocks deploys with pending migrations.",
            None,
        ),
        (
            "The migration took a lock on the orders table for ten minutes.",
            None,
        ),
        (
            "Priya and Sam paired on the fix and shipped it at 15:17.",
            None,
        ),
        ("The fault was in the payment provider's API.", None),
        ("A typo in the product identifier broke purchases.", None),
        // Added after the rules were written, and kept whatever they scored.
        (
            "Dana carelessly restarted the primary instead of the replica.",
            Some("blame"),
        ),
        (
            "The release manager skipped the canary stage.",
            Some("blame"),
        ),
        (
            "They forgot to drain the node before the upgrade.",
            Some("blame"),
        ),
        (
            "Honestly, the reviewer should have caught this.",
            Some("counterfactual"),
        ),
        (
            "The root cause is probably a race in the scheduler.",
            Some("speculation"),
        ),
        ("It was the contractor's fault.", Some("fault")),
        (
            "Dana spotted the error budget burn and opened the incident.",
            None,
        ),
        ("The certificate expired because renewal was manual.", None),
        (
            "Support escalated after three customers reported failed payments.",
            None,
        ),
        ("Grafana showed the latency climbing from 12:20.", None),
        ("The database team restored service by failing over.", None),
        (
            "Nobody was paged because the alert routed to an old channel.",
            None,
        ),
    ];

    #[test]
    fn the_corpus_is_flagged_with_high_precision_and_recall() {
        assert!(CORPUS.len() >= 40);
        let (mut true_positive, mut false_positive, mut false_negative) = (0, 0, 0);
        let mut wrong = Vec::new();
        for (sentence, expected) in CORPUS {
            let found = rules(sentence);
            match expected {
                Some(rule) if found.iter().any(|found| found == rule) => true_positive += 1,
                Some(rule) => {
                    false_negative += 1;
                    wrong.push(format!("missed {rule}: {sentence} (found {found:?})"));
                }
                None if found.is_empty() => {}
                None => {
                    false_positive += 1;
                    wrong.push(format!("false alarm {found:?}: {sentence}"));
                }
            }
        }
        let precision = f64::from(true_positive) / f64::from(true_positive + false_positive);
        let recall = f64::from(true_positive) / f64::from(true_positive + false_negative);
        println!(
            "lint corpus: {} sentences, precision {precision:.2}, recall {recall:.2}",
            CORPUS.len()
        );
        for line in &wrong {
            println!("  {line}");
        }
        assert!(precision >= 0.95 && recall >= 0.9, "{wrong:#?}");
    }

    #[test]
    fn code_quotes_and_comments_are_not_read() {
        let text = "Fine text.\n\n`Priya forgot`\n\n```\nSam forgot the flag\n```\n\n> I think the disk is full\n\n    he forgot\n\n<!-- maybe later -->\n";
        assert_eq!(rules(text), Vec::<&str>::new());
    }

    #[test]
    fn a_finding_points_at_its_words() {
        let text = "# Summary\n\nAll good.  Then Priya forgot to rotate the key.\n";
        let findings = lint(text, &config());
        assert_eq!(findings.len(), 1);
        let finding = &findings[0];
        assert_eq!(
            (finding.rule.as_ref(), finding.line, finding.column),
            ("blame", 3, 17)
        );
        assert_eq!(&text[finding.start..finding.end], "Priya forgot");
        assert!(!finding.suggestion.is_empty());
    }

    #[test]
    fn rules_can_be_switched_off_and_terms_added() {
        let config = LintConfig {
            disabled_rules: vec!["speculation".into()],
            judgement_terms: vec!["cowboy".into()],
            ..config()
        };
        let found: Vec<String> = lint("Maybe a cowboy change did it.", &config)
            .into_iter()
            .map(|finding| finding.rule.into_owned())
            .collect();
        assert_eq!(found, ["judgement"]);
    }

    #[test]
    fn an_organisation_adds_its_own_rules_and_switches_them_off() {
        let rule = CustomRule {
            id: "human_error".into(),
            phrases: vec!["human error".into(), "PEBKAC".into()],
            message: "'human error' ends the analysis where it should start".into(),
            suggestion: "ask what made the error possible".into(),
            severity: LintSeverity::Warning,
        };
        let config = LintConfig {
            custom_rules: vec![rule],
            ..config()
        };
        let text = "The root cause was Human  Error.\n\n`human error` in code is fine.";
        let findings = lint(text, &config);
        let custom: Vec<&str> = findings
            .iter()
            .filter(|finding| finding.rule == "human_error")
            .map(|finding| &text[finding.start..finding.end])
            .collect();
        assert_eq!(custom, ["Human  Error"]);
        let off = LintConfig {
            disabled_rules: vec!["human_error".into()],
            ..config
        };
        assert!(
            lint(text, &off)
                .iter()
                .all(|finding| finding.rule != "human_error")
        );
    }

    #[test]
    fn placeholders_are_found_but_not_in_code() {
        let text =
            "Impact: TODO.\n\n[Fill in the timeline]\n\n`TODO` in code and the word todo are fine.";
        let found: Vec<&str> = lint(text, &config())
            .iter()
            .filter(|finding| finding.rule == "placeholder")
            .map(|finding| &text[finding.start..finding.end])
            .collect();
        assert_eq!(found, ["TODO", "[Fill in"]);
    }

    #[test]
    fn a_postmortem_is_checked_for_empty_sections_timeline_times_and_language_in_every_field() {
        use crate::postmortem::{WhyChain, builtin_templates};
        let template = &builtin_templates()[0];
        let mut document = PostmortemDocument {
            title: "Checkout outage".into(),
            template: "default".into(),
            sections: [
                ("summary".to_owned(), template.sections[0].guidance.clone()),
                (
                    "timeline".to_owned(),
                    "- 10:02 UTC deploy started\n- 10:05 UTC alert fired".to_owned(),
                ),
            ]
            .into(),
            ..PostmortemDocument::default()
        };
        document.why_chains.push(WhyChain {
            problem: "Checkout failed.".into(),
            whys: Vec::new(),
            root_cause: Some("Sam forgot to run the migration.".into()),
        });
        let findings = lint_postmortem(template, &document, KnownTimes::default(), &config());
        let shown: Vec<(String, String)> = findings
            .iter()
            .map(|found| (found.field.clone(), found.finding.rule.to_string()))
            .collect();
        let expect = |field: &str, rule: &str| (field.to_owned(), rule.to_owned());
        assert!(
            shown.contains(&expect("sections.summary", "placeholder")),
            "{shown:?}"
        );
        assert!(shown.contains(&expect("sections.impact", "required_section")));
        assert!(shown.contains(&expect("sections.timeline", "timeline_times")));
        assert!(shown.contains(&expect("why_chains[0].root_cause", "blame")));
        let timeline: Vec<&FieldFinding> = findings
            .iter()
            .filter(|found| found.finding.rule == "timeline_times")
            .collect();
        assert_eq!(timeline.len(), 1, "detection is there, resolution is not");
        assert!(timeline[0].finding.message.contains("resolution"));
        let known = KnownTimes {
            detected: true,
            resolved: true,
        };
        assert!(
            lint_postmortem(template, &document, known, &config())
                .iter()
                .all(|found| found.finding.rule != "timeline_times")
        );
    }

    #[test]
    fn blocking_rules_stop_a_move_unless_justified_and_name_each_finding() {
        let document = PostmortemDocument {
            title: "Outage".into(),
            template: "default".into(),
            sections: [(
                "summary".to_owned(),
                "The cache went cold.\nHe failed to warm it. Root cause TBD.".to_owned(),
            )]
            .into(),
            ..PostmortemDocument::default()
        };
        let findings: Vec<FieldFinding> = document_texts(&document)
            .into_iter()
            .flat_map(|(field, text)| {
                lint(text, &LintConfig::default())
                    .into_iter()
                    .map(move |finding| FieldFinding {
                        field: field.clone(),
                        finding,
                    })
            })
            .collect();
        assert!(findings.iter().all(is_language));
        assert_eq!(gate(&document, &findings, &[], None), Ok(Gate::Clear));
        let block = vec!["blame".to_owned()];
        let Ok(Gate::Blocked(named)) = gate(&document, &findings, &block, Some("  ")) else {
            panic!("a blame finding should block");
        };
        assert_eq!(
            named,
            ["blame in sections.summary, line 2, column 1: \u{201c}He failed to\u{201d}"]
        );
        assert!(matches!(
            gate(
                &document,
                &findings,
                &block,
                Some("Quoted from the customer's report.")
            ),
            Ok(Gate::Excepted { .. })
        ));
        assert!(gate(&document, &findings, &block, Some(&"x".repeat(2_001))).is_err());
    }
}
