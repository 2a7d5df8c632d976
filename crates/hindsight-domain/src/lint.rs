//! The blameless lint: finds sentences that blame people rather than systems, judge them,
//! wish they had acted otherwise, or guess where facts could be collected.
//!
//! Precision matters as much as recall: a lint that cries wolf gets switched off. So a verb
//! that systems do too ("failed to", "broke", "didn't") counts as blame only when its subject
//! is surely a person (a known name, a role, he or she), while verbs only people do ("forgot",
//! "neglected") also count after a capitalized name. People credited for what they did are
//! never flagged. Code spans, code blocks and quoted lines (logs, chat) are not read.
//! Pure and linear in the input: no IO, no allocation per character.

use serde::Serialize;

string_enum! {
    /// How strongly a finding asks for a rewrite.
    LintSeverity { Error => "error", Warning => "warning" }
}

/// One thing the lint found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// `blame`, `fault`, `judgement`, `counterfactual` or `speculation`.
    pub rule: &'static str,
    pub severity: LintSeverity,
    /// 1-based line and column (in characters) where the finding starts.
    pub line: usize,
    pub column: usize,
    /// Byte range of the words that triggered it.
    pub start: usize,
    pub end: usize,
    pub message: &'static str,
    pub suggestion: &'static str,
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
}

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
    /// Each known name as lower-case words.
    names: Vec<Vec<String>>,
}

impl People {
    /// A person phrase starting at `at`: its certainty and length in words.
    fn at(&self, words: &[Word], at: usize) -> Option<(Person, usize)> {
        let word = words.get(at)?;
        let lower = word.lower.trim_end_matches("'s");
        for name in &self.names {
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
const SPECULATION: Rule = Rule {
    id: "speculation",
    severity: LintSeverity::Warning,
    message: "guesses where facts could be collected",
    suggestion: "collect the fact (logs, metrics, timeline) or list it as an open question",
};

/// Lints a Markdown document.
pub fn lint(markdown: &str, config: &LintConfig) -> Vec<Finding> {
    let prose = prose_only(markdown);
    let people = People {
        names: config
            .people
            .iter()
            .map(|name| {
                name.split_whitespace()
                    .map(str::to_lowercase)
                    .collect::<Vec<_>>()
            })
            .filter(|name| !name.is_empty())
            .collect(),
    };
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
        let line = line_starts.partition_point(|line_start| *line_start <= start);
        let column = markdown[line_starts[line - 1]..start].chars().count() + 1;
        findings.push(Finding {
            rule: rule.id,
            severity: rule.severity,
            line,
            column,
            start,
            end,
            message: rule.message,
            suggestion: rule.suggestion,
        });
    };
    for (from, to) in sentences(&prose) {
        let words = words(markdown, &prose, from, to);
        let mut flagged: Vec<&'static str> = Vec::new();
        for at in 0..words.len() {
            let lower = words[at].lower.as_str();
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
    findings
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

    fn rules(text: &str) -> Vec<&'static str> {
        lint(text, &config())
            .into_iter()
            .map(|finding| finding.rule)
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
                Some(rule) if found.contains(rule) => true_positive += 1,
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
            (finding.rule, finding.line, finding.column),
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
        let found: Vec<&str> = lint("Maybe a cowboy change did it.", &config)
            .into_iter()
            .map(|finding| finding.rule)
            .collect();
        assert_eq!(found, ["judgement"]);
    }
}
