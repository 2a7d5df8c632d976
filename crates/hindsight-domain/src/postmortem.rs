//! The postmortem's rules: its templates, its structured analysis (5 Whys chains, contributing
//! factors, lessons), the moves between draft, review and published, and what each move needs.
//!
//! The stored document and its versions are in [`crate::document`]; these rules hold no IO.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validation::ValidationErrors;

string_enum! {
    /// Where a postmortem stands: written, reviewed in the meeting, shared with everyone.
    PostmortemStatus { Draft => "draft", InReview => "in_review", Published => "published" }
}

impl PostmortemStatus {
    /// Only a draft may be discarded: what went to review or was published is kept for good.
    pub fn may_discard(self) -> bool {
        self == Self::Draft
    }

    /// Draft → in review → published, and back from review to draft.
    pub fn can_move_to(self, next: PostmortemStatus) -> bool {
        matches!(
            (self, next),
            (Self::Draft, Self::InReview)
                | (Self::InReview, Self::Draft)
                | (Self::InReview, Self::Published)
        )
    }
}

/// One section of a template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SectionTemplate {
    /// Stable and lowercase, e.g. `root_cause`; what documents key their text by.
    pub key: String,
    pub title: String,
    /// Shown to the writer beside the section.
    #[serde(default)]
    pub guidance: String,
    #[serde(default)]
    pub required_before_review: bool,
    #[serde(default)]
    pub required_before_publish: bool,
}

/// An ordered list of sections a postmortem is written in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Lowercase letters, digits and `_`, e.g. `security_incident`.
    pub key: String,
    pub name: String,
    pub sections: Vec<SectionTemplate>,
}

const MAX_TEMPLATE_SECTIONS: usize = 40;
const MAX_KEY_CHARS: usize = 50;
const MAX_GUIDANCE_CHARS: usize = 4_000;

fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key.starts_with(|c: char| c.is_ascii_lowercase())
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl Template {
    /// Checks a template a team wrote; reports every problem, each naming its field.
    pub fn validate(mut self) -> Result<Template, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        if !is_key(&self.key) {
            errors.add(
                "key",
                "must be 1 to 50 lowercase letters, digits or `_`, starting with a letter",
            );
        }
        self.name = self.name.split_whitespace().collect::<Vec<_>>().join(" ");
        if self.name.is_empty() || self.name.chars().count() > 100 {
            errors.add("name", "must be 1 to 100 characters");
        }
        if self.sections.is_empty() || self.sections.len() > MAX_TEMPLATE_SECTIONS {
            errors.add(
                "sections",
                format!("a template has 1 to {MAX_TEMPLATE_SECTIONS} sections"),
            );
        }
        let mut keys = std::collections::BTreeSet::new();
        for (index, section) in self.sections.iter_mut().enumerate() {
            let field = format!("sections[{index}]");
            if !is_key(&section.key) {
                errors.add(
                    format!("{field}.key"),
                    "must be 1 to 50 lowercase letters, digits or `_`, starting with a letter",
                );
            } else if !keys.insert(section.key.clone()) {
                errors.add(
                    format!("{field}.key"),
                    format!("`{}` is used by an earlier section", section.key),
                );
            }
            section.title = section
                .title
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if section.title.is_empty() || section.title.chars().count() > 200 {
                errors.add(format!("{field}.title"), "must be 1 to 200 characters");
            }
            section.guidance = section.guidance.trim().to_owned();
            if section.guidance.chars().count() > MAX_GUIDANCE_CHARS {
                errors.add(
                    format!("{field}.guidance"),
                    format!("must be at most {MAX_GUIDANCE_CHARS} characters"),
                );
            }
        }
        errors.into_result(self)
    }
}

fn section(key: &str, title: &str, guidance: &str, review: bool, publish: bool) -> SectionTemplate {
    SectionTemplate {
        key: key.to_owned(),
        title: title.to_owned(),
        guidance: guidance.to_owned(),
        required_before_review: review,
        required_before_publish: publish,
    }
}

/// The questions every team should answer about how the failure got through, from the seeds.
pub const POINTS_OF_FAILURE: &[&str] = &[
    "Why did detection take so long? Was monitoring sufficient?",
    "Was the first responder the right one?",
    "Why was there no fallback? Were secondary systems resilient?",
    "Was documentation missing or stale?",
    "Why was it not caught by tests?",
    "Why was it painful to debug?",
];

/// The templates every installation has: `default` and `six_questions`.
pub fn builtin_templates() -> Vec<Template> {
    let points_of_failure = format!(
        "List each point of failure and answer, for each that applies: {}",
        POINTS_OF_FAILURE.join(" ")
    );
    vec![
        Template {
            key: "default".into(),
            name: "Default".into(),
            sections: vec![
                section(
                    "summary",
                    "Summary",
                    "What happened, to whom, and for how long, in a few sentences.",
                    true,
                    true,
                ),
                section(
                    "impact",
                    "Impact",
                    "Users and customers affected, requests failed, data lost, business figures. Say what is unknown.",
                    true,
                    true,
                ),
                section(
                    "timeline",
                    "Timeline",
                    "Error introduced, detected, responded, mitigated, resolved; with times and time zones.",
                    true,
                    true,
                ),
                section(
                    "root_cause",
                    "Root cause",
                    "Ask why until the answer is a system or process, not a person (5 Whys).",
                    false,
                    true,
                ),
                section(
                    "contributing_factors",
                    "Contributing factors and points of failure",
                    &points_of_failure,
                    false,
                    true,
                ),
                section(
                    "resolution",
                    "How it was fixed",
                    "The steps that mitigated and then resolved it.",
                    false,
                    true,
                ),
                section(
                    "cleanup",
                    "Cleanup still needed",
                    "What is left to undo or repair after the incident.",
                    false,
                    false,
                ),
                section(
                    "lessons",
                    "Lessons learned",
                    "What went well, what went wrong, and where we got lucky.",
                    false,
                    true,
                ),
                section(
                    "action_items",
                    "Action items",
                    "Filled in during the review meeting: each with an owner, a due date and a priority.",
                    false,
                    false,
                ),
                section(
                    "conclusion",
                    "Conclusion",
                    "What changes so this does not happen again, in a sentence or two.",
                    false,
                    true,
                ),
            ],
        },
        Template {
            key: "six_questions".into(),
            name: "Six questions".into(),
            sections: vec![
                section(
                    "what_went_wrong",
                    "What went wrong?",
                    "The failure as users saw it, and when.",
                    true,
                    true,
                ),
                section(
                    "impact",
                    "What was the impact?",
                    "Who was affected and how much.",
                    true,
                    true,
                ),
                section(
                    "root_cause",
                    "What was the root cause?",
                    "Ask why until the answer is a system or process, not a person.",
                    false,
                    true,
                ),
                section(
                    "fix",
                    "How did we fix it?",
                    "Mitigation, then resolution.",
                    true,
                    true,
                ),
                section(
                    "prevention",
                    "How do we prevent it?",
                    "Changes that stop it from happening again.",
                    false,
                    true,
                ),
                section(
                    "faster",
                    "How do we find and fix it faster?",
                    &points_of_failure,
                    false,
                    true,
                ),
            ],
        },
    ]
}

/// The default taxonomy of contributing factors; organisations may configure their own.
pub const DEFAULT_FACTOR_CATEGORIES: &[&str] = &[
    "change_or_deploy",
    "configuration",
    "capacity",
    "dependency",
    "monitoring_gap",
    "testing_gap",
    "documentation_gap",
    "process",
    "external",
];

/// One step of a 5 Whys chain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Why {
    pub question: String,
    pub answer: String,
}

/// A problem asked "why?" until a root cause; a postmortem may hold several.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WhyChain {
    pub problem: String,
    #[serde(default)]
    pub whys: Vec<Why>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_cause: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContributingFactor {
    pub category: String,
    pub description: String,
}

/// Lessons learned, as three lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Lessons {
    #[serde(default)]
    pub went_well: Vec<String>,
    #[serde(default)]
    pub went_wrong: Vec<String>,
    #[serde(default)]
    pub got_lucky: Vec<String>,
}

/// What readiness reads of a postmortem.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostmortemContent {
    /// Section text by section key.
    pub sections: BTreeMap<String, String>,
    pub why_chains: Vec<WhyChain>,
    pub factors: Vec<ContributingFactor>,
    pub lessons: Lessons,
    pub action_items: usize,
    /// Action items nobody owns yet (seed 004: each needs a person or a team).
    pub unowned_action_items: usize,
    /// Why there are no action items, when the team decided there are none.
    pub no_action_items_reason: Option<String>,
}

/// One thing a move needs and the postmortem lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct MissingPiece {
    /// What is missing, as the API names it: `sections.summary`, `why_chains`, `action_items`.
    pub field: String,
    pub message: String,
}

/// Why a move was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransitionRefused {
    /// The move does not exist (published → draft, say).
    NotAllowed {
        from: PostmortemStatus,
        to: PostmortemStatus,
    },
    /// The move exists but the postmortem is not ready: every missing piece.
    NotReady(Vec<MissingPiece>),
}

/// Text left as the template's guidance, or a placeholder, is not an answer.
fn filled(text: Option<&String>, guidance: &str) -> bool {
    let Some(text) = text.map(|text| text.trim()) else {
        return false;
    };
    let placeholder = [
        "tbd",
        "todo",
        "tba",
        "n/a",
        "...",
        "…",
        "fill in",
        "coming soon",
    ]
    .iter()
    .any(|placeholder| text.eq_ignore_ascii_case(placeholder));
    !text.is_empty() && !placeholder && text != guidance.trim()
}

/// Every piece `content` lacks for a postmortem written from `template` to reach `target`.
pub fn missing_for(
    template: &Template,
    content: &PostmortemContent,
    target: PostmortemStatus,
) -> Vec<MissingPiece> {
    let mut missing = Vec::new();
    let publishing = target == PostmortemStatus::Published;
    for section in &template.sections {
        let required =
            section.required_before_review || (publishing && section.required_before_publish);
        if required && !filled(content.sections.get(&section.key), &section.guidance) {
            missing.push(MissingPiece {
                field: format!("sections.{}", section.key),
                message: format!("the section \u{201c}{}\u{201d} is empty", section.title),
            });
        }
    }
    if publishing {
        let has_root_cause = content.why_chains.iter().any(|chain| {
            chain
                .root_cause
                .as_deref()
                .is_some_and(|cause| !cause.trim().is_empty())
        });
        if !has_root_cause {
            missing.push(MissingPiece {
                field: "why_chains".into(),
                message: "at least one 5 Whys chain needs a root cause".into(),
            });
        }
        let reason = content
            .no_action_items_reason
            .as_deref()
            .is_some_and(|reason| !reason.trim().is_empty());
        if content.action_items == 0 && !reason {
            missing.push(MissingPiece {
                field: "action_items".into(),
                message: "add an action item, or say why there are none".into(),
            });
        }
        if content.unowned_action_items > 0 {
            missing.push(MissingPiece {
                field: "action_items".into(),
                message: format!(
                    "{} action item(s) have no owner: give each a person or a team",
                    content.unowned_action_items
                ),
            });
        }
    }
    missing
}

/// Checks a move: allowed at all, and everything it needs present. Moving back to draft never
/// needs anything.
pub fn transition(
    template: &Template,
    content: &PostmortemContent,
    from: PostmortemStatus,
    to: PostmortemStatus,
) -> Result<PostmortemStatus, TransitionRefused> {
    if !from.can_move_to(to) {
        return Err(TransitionRefused::NotAllowed { from, to });
    }
    let missing = if to == PostmortemStatus::Draft {
        Vec::new()
    } else {
        missing_for(template, content, to)
    };
    if missing.is_empty() {
        Ok(to)
    } else {
        Err(TransitionRefused::NotReady(missing))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_template() -> Template {
        builtin_templates()
            .into_iter()
            .find(|template| template.key == "default")
            .unwrap()
    }

    fn with_sections(keys: &[&str]) -> PostmortemContent {
        PostmortemContent {
            sections: keys
                .iter()
                .map(|key| ((*key).to_owned(), format!("Text for {key}.")))
                .collect(),
            ..PostmortemContent::default()
        }
    }

    fn fields(refused: TransitionRefused) -> Vec<String> {
        match refused {
            TransitionRefused::NotReady(missing) => {
                missing.into_iter().map(|piece| piece.field).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_default_template_has_the_seeds_sections_and_asks_the_points_of_failure() {
        let template = default_template();
        let keys: Vec<&str> = template
            .sections
            .iter()
            .map(|section| section.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "summary",
                "impact",
                "timeline",
                "root_cause",
                "contributing_factors",
                "resolution",
                "cleanup",
                "lessons",
                "action_items",
                "conclusion"
            ]
        );
        let before_review: Vec<&str> = template
            .sections
            .iter()
            .filter(|section| section.required_before_review)
            .map(|section| section.key.as_str())
            .collect();
        assert_eq!(before_review, ["summary", "impact", "timeline"]);
        let factors = &template.sections[4].guidance;
        for question in POINTS_OF_FAILURE {
            assert!(factors.contains(question), "{question}");
        }
        let six = &builtin_templates()[1];
        assert_eq!(six.sections.len(), 6);
    }

    #[test]
    fn review_needs_summary_impact_and_timeline_and_names_each_missing_one() {
        let template = default_template();
        let refused = transition(
            &template,
            &with_sections(&["impact"]),
            PostmortemStatus::Draft,
            PostmortemStatus::InReview,
        );
        assert_eq!(
            fields(refused.unwrap_err()),
            ["sections.summary", "sections.timeline"]
        );
        let ready = with_sections(&["summary", "impact", "timeline"]);
        assert_eq!(
            transition(
                &template,
                &ready,
                PostmortemStatus::Draft,
                PostmortemStatus::InReview
            ),
            Ok(PostmortemStatus::InReview)
        );
    }

    #[test]
    fn placeholders_and_untouched_guidance_do_not_count_as_written() {
        let template = default_template();
        let mut content = with_sections(&["impact", "timeline"]);
        content.sections.insert("summary".into(), "  TBD ".into());
        assert_eq!(
            fields(
                transition(
                    &template,
                    &content,
                    PostmortemStatus::Draft,
                    PostmortemStatus::InReview
                )
                .unwrap_err()
            ),
            ["sections.summary"]
        );
        content
            .sections
            .insert("summary".into(), template.sections[0].guidance.clone());
        assert!(
            transition(
                &template,
                &content,
                PostmortemStatus::Draft,
                PostmortemStatus::InReview
            )
            .is_err()
        );
    }

    #[test]
    fn publishing_needs_a_root_cause_and_action_items_or_a_reason_for_none() {
        let template = default_template();
        let keys: Vec<&str> = template
            .sections
            .iter()
            .filter(|section| section.required_before_publish)
            .map(|section| section.key.as_str())
            .collect();
        let mut content = with_sections(&keys);
        let refused = transition(
            &template,
            &content,
            PostmortemStatus::InReview,
            PostmortemStatus::Published,
        );
        assert_eq!(fields(refused.unwrap_err()), ["why_chains", "action_items"]);
        content.why_chains.push(WhyChain {
            problem: "Checkout failed".into(),
            whys: vec![Why {
                question: "Why?".into(),
                answer: "A migration held a lock.".into(),
            }],
            root_cause: Some("Migrations are not checked for long locks before deploy.".into()),
        });
        content.no_action_items_reason =
            Some("The provider fixed it; nothing of ours to change.".into());
        assert_eq!(
            transition(
                &template,
                &content,
                PostmortemStatus::InReview,
                PostmortemStatus::Published
            ),
            Ok(PostmortemStatus::Published)
        );
    }

    #[test]
    fn only_the_process_moves_exist() {
        let template = default_template();
        let empty = PostmortemContent::default();
        assert_eq!(
            transition(
                &template,
                &empty,
                PostmortemStatus::InReview,
                PostmortemStatus::Draft
            ),
            Ok(PostmortemStatus::Draft)
        );
        for (from, to) in [
            (PostmortemStatus::Draft, PostmortemStatus::Published),
            (PostmortemStatus::Published, PostmortemStatus::Draft),
            (PostmortemStatus::Published, PostmortemStatus::InReview),
        ] {
            assert_eq!(
                transition(&template, &empty, from, to),
                Err(TransitionRefused::NotAllowed { from, to })
            );
        }
    }

    #[test]
    fn a_team_template_needs_keys_titles_and_no_repeated_section() {
        let mut template = default_template();
        template.key = "Security Incident".into();
        template.sections[1].key = "summary".into();
        template.sections[2].title = "  ".into();
        let errors = template.validate().unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(fields, ["key", "sections[1].key", "sections[2].title"]);
        let mut ours = default_template();
        ours.key = "security".into();
        assert!(ours.validate().is_ok());
    }
}
