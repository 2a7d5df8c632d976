//! The postmortem as a stored document: what writers edit ([`PostmortemDocument`]), its checks
//! against its template, the versions it went through and the differences between two of them.
//!
//! Every change makes a new version and keeps the one before, so nothing is ever overwritten:
//! an edit made on an older version than the current one is refused, not merged.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::UserId;
use crate::incident::IncidentId;
use crate::postmortem::{
    ContributingFactor, Lessons, PostmortemContent, PostmortemStatus, Template, WhyChain,
};
use crate::validation::ValidationErrors;

id_type!(
    /// A postmortem's identifier, shown to people as `PM-7`.
    PostmortemId
);

pub const MAX_TITLE_CHARS: usize = 200;
/// Longest section, in characters: a long timeline fits, a pasted log dump does not.
pub const MAX_SECTION_CHARS: usize = 100_000;
/// Longest short text: a why, a factor, a lesson, an action item's title.
pub const MAX_ITEM_CHARS: usize = 2_000;
/// Most entries in any list of a postmortem (incidents, chains, whys, factors, lessons, items).
pub const MAX_LIST_ITEMS: usize = 100;

/// Everything a writer edits in a postmortem.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostmortemDocument {
    pub title: String,
    /// The incidents it covers; at least one.
    pub incidents: Vec<IncidentId>,
    /// The key of the template it is written from.
    pub template: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<UserId>,
    /// Section text (Markdown) by section key; a section not written yet is absent.
    #[serde(default)]
    pub sections: BTreeMap<String, String>,
    #[serde(default)]
    pub why_chains: Vec<WhyChain>,
    #[serde(default)]
    pub factors: Vec<ContributingFactor>,
    #[serde(default)]
    pub lessons: Lessons,
    /// Why the review decided on no action items, when it did. The items themselves are
    /// stored apart (`action_item.rs`): they outlive the document's versions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_action_items_reason: Option<String>,
    /// Moves made despite findings of the lint rules the organisation blocks on, each with its
    /// justification. Only a move adds one; edits keep them as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lint_exceptions: Vec<LintException>,
}

/// A move to review or publication made despite findings of blocking lint rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LintException {
    /// The status it moved to.
    pub to: PostmortemStatus,
    /// Each blocking finding it moved past, for people: `blame in sections.summary: “he failed to”`.
    pub findings: Vec<String>,
    pub justification: String,
    /// Who moved it.
    pub by: String,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

/// A stored postmortem at its current version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Postmortem {
    pub id: PostmortemId,
    /// Starts at 1 and grows by one with every change; edits name the version they were made on.
    pub version: u32,
    pub status: PostmortemStatus,
    #[serde(flatten)]
    pub document: PostmortemDocument,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// A document that passed [`PostmortemDocument::validate`]; what the store accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidDocument(PostmortemDocument);

impl ValidDocument {
    pub fn get(&self) -> &PostmortemDocument {
        &self.0
    }

    pub fn into_inner(self) -> PostmortemDocument {
        self.0
    }
}

/// Who made a change, as history shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Author {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    /// The user's name at the time, or `cli` / `import` for changes made outside a session.
    pub name: String,
}

/// One version of a postmortem, as it was after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Revision {
    pub version: u32,
    pub status: PostmortemStatus,
    pub author: Author,
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The fields this version changed, e.g. `["sections.summary", "status"]`.
    pub changed: Vec<String>,
    pub document: PostmortemDocument,
}

/// A partial change of a document (JSON Merge Patch style: an absent field stays, `null`
/// clears; lists are replaced whole), made on `version`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PostmortemPatch {
    /// The version this change was made on; a stale one is refused with 409.
    pub version: u32,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "crate::incident::present")]
    #[schema(value_type = Option<i64>)]
    pub owner: Option<Option<UserId>>,
    #[serde(default)]
    pub incidents: Option<Vec<IncidentId>>,
    /// Section text by key; `null` empties a section; sections not named stay as they are.
    #[serde(default)]
    pub sections: Option<BTreeMap<String, Option<String>>>,
    #[serde(default)]
    pub why_chains: Option<Vec<WhyChain>>,
    #[serde(default)]
    pub factors: Option<Vec<ContributingFactor>>,
    #[serde(default)]
    pub lessons: Option<Lessons>,
    #[serde(default, deserialize_with = "crate::incident::present")]
    #[schema(value_type = Option<String>)]
    pub no_action_items_reason: Option<Option<String>>,
}

impl PostmortemPatch {
    /// Applies the change to a copy of the document; validation comes after.
    pub fn apply(self, document: &mut PostmortemDocument) {
        if let Some(title) = self.title {
            document.title = title;
        }
        if let Some(owner) = self.owner {
            document.owner = owner;
        }
        if let Some(incidents) = self.incidents {
            document.incidents = incidents;
        }
        for (key, text) in self.sections.unwrap_or_default() {
            match text {
                Some(text) => document.sections.insert(key, text),
                None => document.sections.remove(&key),
            };
        }
        if let Some(chains) = self.why_chains {
            document.why_chains = chains;
        }
        if let Some(factors) = self.factors {
            document.factors = factors;
        }
        if let Some(lessons) = self.lessons {
            document.lessons = lessons;
        }
        if let Some(reason) = self.no_action_items_reason {
            document.no_action_items_reason = reason;
        }
    }
}

fn check_text(errors: &mut ValidationErrors, field: &str, text: &str, max: usize, required: bool) {
    if required && text.trim().is_empty() {
        errors.add(field, "must not be empty");
    } else if text.chars().count() > max {
        errors.add(field, format!("must be at most {max} characters"));
    } else if text.contains('\0') {
        errors.add(field, "must not contain NUL characters");
    }
}

fn check_list<T>(errors: &mut ValidationErrors, field: &str, list: &[T]) {
    if list.len() > MAX_LIST_ITEMS {
        errors.add(field, format!("must have at most {MAX_LIST_ITEMS} entries"));
    }
}

/// Trims outer blank lines and trailing spaces so that the same text always compares equal,
/// whichever interface (form, API, Markdown file) it came through.
pub fn normalize_text(text: &str) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .skip_while(|line| line.is_empty())
        .collect();
    lines.join("\n").trim_end().to_owned()
}

fn normalize_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl PostmortemDocument {
    /// Checks the document against its template and the factor taxonomy, and puts its text in
    /// canonical form. Reports every problem at once, each naming its field.
    pub fn validate(
        mut self,
        template: &Template,
        factor_categories: &[String],
    ) -> Result<ValidDocument, ValidationErrors> {
        let mut errors = ValidationErrors::new();
        self.title = normalize_line(&self.title);
        check_text(&mut errors, "title", &self.title, MAX_TITLE_CHARS, true);
        if self.template != template.key {
            errors.add("template", format!("no template `{}`", self.template));
        }
        if self.incidents.is_empty() {
            errors.add("incidents", "a postmortem covers at least one incident");
        }
        check_list(&mut errors, "incidents", &self.incidents);
        let mut seen = std::collections::BTreeSet::new();
        self.incidents.retain(|id| seen.insert(*id));

        let sections = std::mem::take(&mut self.sections);
        for (key, text) in sections {
            let field = format!("sections.{key}");
            if !template.sections.iter().any(|section| section.key == key) {
                errors.add(
                    &field,
                    format!(
                        "no section `{key}` in the template `{}`; it has: {}",
                        template.key,
                        template
                            .sections
                            .iter()
                            .map(|section| section.key.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
                continue;
            }
            let text = normalize_text(&text);
            check_text(&mut errors, &field, &text, MAX_SECTION_CHARS, false);
            if !text.is_empty() {
                self.sections.insert(key, text);
            }
        }

        check_list(&mut errors, "why_chains", &self.why_chains);
        for (index, chain) in self.why_chains.iter_mut().enumerate() {
            let field = format!("why_chains[{index}]");
            chain.problem = normalize_text(&chain.problem);
            check_text(
                &mut errors,
                &format!("{field}.problem"),
                &chain.problem,
                MAX_ITEM_CHARS,
                true,
            );
            check_list(&mut errors, &format!("{field}.whys"), &chain.whys);
            for (step, why) in chain.whys.iter_mut().enumerate() {
                why.question = normalize_text(&why.question);
                why.answer = normalize_text(&why.answer);
                check_text(
                    &mut errors,
                    &format!("{field}.whys[{step}].question"),
                    &why.question,
                    MAX_ITEM_CHARS,
                    true,
                );
                check_text(
                    &mut errors,
                    &format!("{field}.whys[{step}].answer"),
                    &why.answer,
                    MAX_ITEM_CHARS,
                    false,
                );
            }
            chain.root_cause = chain
                .root_cause
                .as_deref()
                .map(normalize_text)
                .filter(|cause| !cause.is_empty());
            if let Some(cause) = &chain.root_cause {
                check_text(
                    &mut errors,
                    &format!("{field}.root_cause"),
                    cause,
                    MAX_ITEM_CHARS,
                    false,
                );
            }
        }

        check_list(&mut errors, "factors", &self.factors);
        for (index, factor) in self.factors.iter_mut().enumerate() {
            if !factor_categories.contains(&factor.category) {
                errors.add(
                    format!("factors[{index}].category"),
                    format!(
                        "`{}` is not a contributing factor category; expected one of: {}",
                        factor.category,
                        factor_categories.join(", ")
                    ),
                );
            }
            factor.description = normalize_text(&factor.description);
            check_text(
                &mut errors,
                &format!("factors[{index}].description"),
                &factor.description,
                MAX_ITEM_CHARS,
                true,
            );
        }

        for (name, list) in [
            ("went_well", &mut self.lessons.went_well),
            ("went_wrong", &mut self.lessons.went_wrong),
            ("got_lucky", &mut self.lessons.got_lucky),
        ] {
            let field = format!("lessons.{name}");
            check_list(&mut errors, &field, list);
            for item in list.iter_mut() {
                *item = normalize_line(item);
            }
            list.retain(|item| !item.is_empty());
            for (index, item) in list.iter().enumerate() {
                check_text(
                    &mut errors,
                    &format!("{field}[{index}]"),
                    item,
                    MAX_ITEM_CHARS,
                    true,
                );
            }
        }

        self.no_action_items_reason = self
            .no_action_items_reason
            .as_deref()
            .map(normalize_text)
            .filter(|reason| !reason.is_empty());
        if let Some(reason) = &self.no_action_items_reason {
            check_text(
                &mut errors,
                "no_action_items_reason",
                reason,
                MAX_ITEM_CHARS,
                false,
            );
        }
        errors.into_result(ValidDocument(self))
    }

    /// What readiness checks read of the document, with how many action items it has and how
    /// many of those nobody owns.
    pub fn content(&self, action_items: usize, unowned_action_items: usize) -> PostmortemContent {
        PostmortemContent {
            sections: self.sections.clone(),
            why_chains: self.why_chains.clone(),
            factors: self.factors.clone(),
            lessons: self.lessons.clone(),
            action_items,
            unowned_action_items,
            no_action_items_reason: self.no_action_items_reason.clone(),
        }
    }

    /// Every field as lines of text, keyed as the API names it: what history compares.
    pub fn field_texts(&self, status: PostmortemStatus) -> BTreeMap<String, String> {
        let mut fields = BTreeMap::new();
        fields.insert("title".to_owned(), self.title.clone());
        fields.insert("status".to_owned(), status.as_str().to_owned());
        fields.insert("template".to_owned(), self.template.clone());
        fields.insert(
            "owner".to_owned(),
            self.owner.map(|id| id.to_string()).unwrap_or_default(),
        );
        fields.insert(
            "incidents".to_owned(),
            self.incidents
                .iter()
                .map(|id| format!("INC-{id}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        for (key, text) in &self.sections {
            fields.insert(format!("sections.{key}"), text.clone());
        }
        let mut chains = Vec::new();
        for chain in &self.why_chains {
            chains.push(format!("Problem: {}", chain.problem));
            for why in &chain.whys {
                chains.push(format!("Why? {} {}", why.question, why.answer));
            }
            chains.push(format!(
                "Root cause: {}",
                chain.root_cause.as_deref().unwrap_or("(none yet)")
            ));
        }
        fields.insert("why_chains".to_owned(), chains.join("\n"));
        fields.insert(
            "factors".to_owned(),
            self.factors
                .iter()
                .map(|factor| format!("{}: {}", factor.category, factor.description))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        for (name, list) in [
            ("went_well", &self.lessons.went_well),
            ("went_wrong", &self.lessons.went_wrong),
            ("got_lucky", &self.lessons.got_lucky),
        ] {
            fields.insert(format!("lessons.{name}"), list.join("\n"));
        }
        fields.insert(
            "no_action_items_reason".to_owned(),
            self.no_action_items_reason.clone().unwrap_or_default(),
        );
        if !self.lint_exceptions.is_empty() {
            fields.insert(
                "lint_exceptions".to_owned(),
                self.lint_exceptions
                    .iter()
                    .map(|exception| {
                        format!(
                            "{} by {} despite {}: {}",
                            exception.to,
                            exception.by,
                            exception.findings.join("; "),
                            exception.justification
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
        fields.retain(|_, text| !text.is_empty());
        fields
    }
}

/// The fields that differ between two states, in the API's names.
pub fn changed_fields(
    before: Option<(&PostmortemDocument, PostmortemStatus)>,
    after: (&PostmortemDocument, PostmortemStatus),
) -> Vec<String> {
    let after = after.0.field_texts(after.1);
    let Some((document, status)) = before else {
        return after.into_keys().collect();
    };
    let before = document.field_texts(status);
    let mut keys: Vec<String> = before.keys().chain(after.keys()).cloned().collect();
    keys.sort();
    keys.dedup();
    keys.retain(|key| before.get(key) != after.get(key));
    keys
}

string_enum! {
    /// What a line of a diff is.
    DiffLineKind { Same => "same", Added => "added", Removed => "removed" }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct DiffLine {
    pub kind: DiffLineKind,
    pub text: String,
}

/// How one field changed between two versions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldDiff {
    pub field: String,
    pub lines: Vec<DiffLine>,
}

/// Above this many line pairs a field is shown as removed and added in whole: however the
/// two texts differ, the diff stays fast on the largest sections.
const MAX_DIFF_CELLS: usize = 4_000_000;

/// A line diff of two texts (Myers' algorithm, from the `similar` crate: memory in proportion
/// to the texts, not to their product). A changed run shows its removed lines, then its added.
pub fn diff_lines(before: &str, after: &str) -> Vec<DiffLine> {
    let old: Vec<&str> = before.lines().collect();
    let new: Vec<&str> = after.lines().collect();
    let line = |kind, text: &str| DiffLine {
        kind,
        text: text.to_owned(),
    };
    if old.len().saturating_mul(new.len()) > MAX_DIFF_CELLS {
        let (head, tail) = common_ends(&old, &new);
        let mut lines: Vec<DiffLine> = old[..head]
            .iter()
            .map(|text| line(DiffLineKind::Same, text))
            .collect();
        lines.extend(
            old[head..old.len() - tail]
                .iter()
                .map(|text| line(DiffLineKind::Removed, text)),
        );
        lines.extend(
            new[head..new.len() - tail]
                .iter()
                .map(|text| line(DiffLineKind::Added, text)),
        );
        lines.extend(
            old[old.len() - tail..]
                .iter()
                .map(|text| line(DiffLineKind::Same, text)),
        );
        return lines;
    }
    let mut lines = Vec::with_capacity(old.len().max(new.len()));
    for operation in similar::capture_diff_slices(similar::Algorithm::Myers, &old, &new) {
        for change in operation.iter_changes(&old, &new) {
            let kind = match change.tag() {
                similar::ChangeTag::Equal => DiffLineKind::Same,
                similar::ChangeTag::Delete => DiffLineKind::Removed,
                similar::ChangeTag::Insert => DiffLineKind::Added,
            };
            lines.push(line(kind, change.value()));
        }
    }
    lines
}

/// How many lines two texts share at their start and, after that, at their end.
fn common_ends(old: &[&str], new: &[&str]) -> (usize, usize) {
    let head = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    let tail = old[head..]
        .iter()
        .rev()
        .zip(new[head..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    (head, tail)
}

/// Every field that differs between two versions, with a line diff of each.
pub fn diff(before: &Revision, after: &Revision) -> Vec<FieldDiff> {
    let old = before.document.field_texts(before.status);
    let new = after.document.field_texts(after.status);
    let mut keys: Vec<&String> = old.keys().chain(new.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|key| old.get(*key) != new.get(*key))
        .map(|key| FieldDiff {
            field: key.clone(),
            lines: diff_lines(
                old.get(key).map_or("", String::as_str),
                new.get(key).map_or("", String::as_str),
            ),
        })
        .collect()
}

/// What a writer's edit comes to when someone saved while they were writing: their edit laid
/// over the current version, field by field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebased {
    /// The current version with every field the writer changed taken from the writer.
    pub document: PostmortemDocument,
    /// Fields both changed, each differently: the writer's text is in `document`, the other
    /// change is in the history.
    pub conflicts: Vec<String>,
    /// Fields only the other person changed: theirs are in `document`.
    pub theirs: Vec<String>,
}

/// Lays the writer's edit (`mine`, made on `base`) over the current version (`theirs`), field
/// by field (title, owner, each section, the chains, the factors, each list of lessons, the
/// reason for no action items), so that saving again keeps what the other person changed
/// wherever the writer did not change it too. Nothing is written here: the writer sees the
/// result and decides.
pub fn rebase(
    base: &PostmortemDocument,
    mine: &PostmortemDocument,
    theirs: &PostmortemDocument,
) -> Rebased {
    let mut document = theirs.clone();
    let mut conflicts = Vec::new();
    let mut changed_by_them = Vec::new();
    fn pick<T: Clone + PartialEq>(
        field: &str,
        base: &T,
        mine: &T,
        theirs: &T,
        into: &mut T,
        conflicts: &mut Vec<String>,
        changed_by_them: &mut Vec<String>,
    ) {
        let i_changed = mine != base;
        let they_changed = theirs != base;
        if i_changed {
            *into = mine.clone();
            if they_changed && theirs != mine {
                conflicts.push(field.to_owned());
            }
        } else if they_changed {
            changed_by_them.push(field.to_owned());
        }
    }
    let (c, t) = (&mut conflicts, &mut changed_by_them);
    pick(
        "title",
        &base.title,
        &mine.title,
        &theirs.title,
        &mut document.title,
        c,
        t,
    );
    pick(
        "owner",
        &base.owner,
        &mine.owner,
        &theirs.owner,
        &mut document.owner,
        c,
        t,
    );
    let mut keys: Vec<&String> = base
        .sections
        .keys()
        .chain(mine.sections.keys())
        .chain(theirs.sections.keys())
        .collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let text = |document: &PostmortemDocument| document.sections.get(key).cloned();
        let mut merged = text(theirs);
        pick(
            &format!("sections.{key}"),
            &text(base),
            &text(mine),
            &text(theirs),
            &mut merged,
            c,
            t,
        );
        match merged {
            Some(text) => document.sections.insert(key.clone(), text),
            None => document.sections.remove(key),
        };
    }
    pick(
        "why_chains",
        &base.why_chains,
        &mine.why_chains,
        &theirs.why_chains,
        &mut document.why_chains,
        c,
        t,
    );
    pick(
        "factors",
        &base.factors,
        &mine.factors,
        &theirs.factors,
        &mut document.factors,
        c,
        t,
    );
    pick(
        "lessons.went_well",
        &base.lessons.went_well,
        &mine.lessons.went_well,
        &theirs.lessons.went_well,
        &mut document.lessons.went_well,
        c,
        t,
    );
    pick(
        "lessons.went_wrong",
        &base.lessons.went_wrong,
        &mine.lessons.went_wrong,
        &theirs.lessons.went_wrong,
        &mut document.lessons.went_wrong,
        c,
        t,
    );
    pick(
        "lessons.got_lucky",
        &base.lessons.got_lucky,
        &mine.lessons.got_lucky,
        &theirs.lessons.got_lucky,
        &mut document.lessons.got_lucky,
        c,
        t,
    );
    pick(
        "no_action_items_reason",
        &base.no_action_items_reason,
        &mine.no_action_items_reason,
        &theirs.no_action_items_reason,
        &mut document.no_action_items_reason,
        c,
        t,
    );
    Rebased {
        document,
        conflicts,
        theirs: changed_by_them,
    }
}

#[cfg(test)]
mod rebase_tests {
    use super::*;

    fn document(summary: &str, impact: &str, lessons: &[&str]) -> PostmortemDocument {
        PostmortemDocument {
            title: "Outage".into(),
            template: "default".into(),
            sections: [
                ("summary".to_owned(), summary.to_owned()),
                ("impact".to_owned(), impact.to_owned()),
            ]
            .into(),
            lessons: crate::postmortem::Lessons {
                went_well: lessons.iter().map(|lesson| (*lesson).to_owned()).collect(),
                ..Default::default()
            },
            ..PostmortemDocument::default()
        }
    }

    #[test]
    fn an_edit_on_an_old_version_keeps_what_the_other_person_changed_elsewhere() {
        let base = document("It broke.", "Some users.", &[]);
        let theirs = document("It broke.", "Some users.", &["The alert fired."]);
        let mine = document("It broke at noon.", "Some users.", &[]);
        let rebased = rebase(&base, &mine, &theirs);
        assert_eq!(rebased.document.sections["summary"], "It broke at noon.");
        assert_eq!(rebased.document.lessons.went_well, ["The alert fired."]);
        assert!(rebased.conflicts.is_empty());
        assert_eq!(rebased.theirs, ["lessons.went_well"]);
    }

    #[test]
    fn both_changing_one_field_is_a_conflict_and_the_writers_text_is_shown() {
        let base = document("It broke.", "Some users.", &[]);
        let theirs = document("It broke badly.", "Some users.", &[]);
        let mine = document("It broke at noon.", "Many users.", &[]);
        let rebased = rebase(&base, &mine, &theirs);
        assert_eq!(rebased.document.sections["summary"], "It broke at noon.");
        assert_eq!(rebased.document.sections["impact"], "Many users.");
        assert_eq!(rebased.conflicts, ["sections.summary"]);
        let same = rebase(&base, &theirs, &theirs);
        assert!(
            same.conflicts.is_empty(),
            "the same change twice is no conflict"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::postmortem::{Why, builtin_templates};

    fn categories() -> Vec<String> {
        crate::postmortem::DEFAULT_FACTOR_CATEGORIES
            .iter()
            .map(|category| (*category).to_owned())
            .collect()
    }

    fn document() -> PostmortemDocument {
        PostmortemDocument {
            title: "  Checkout   outage ".into(),
            incidents: vec![IncidentId::new(4).unwrap(), IncidentId::new(4).unwrap()],
            template: "default".into(),
            sections: [
                (
                    "summary".to_owned(),
                    "\n\nCheckout failed.  \n\n".to_owned(),
                ),
                ("impact".to_owned(), "   ".to_owned()),
            ]
            .into(),
            ..PostmortemDocument::default()
        }
    }

    #[test]
    fn validation_puts_text_in_canonical_form_and_drops_empty_sections_and_repeats() {
        let template = &builtin_templates()[0];
        let valid = document().validate(template, &categories()).unwrap();
        let valid = valid.get();
        assert_eq!(valid.title, "Checkout outage");
        assert_eq!(valid.incidents.len(), 1);
        assert_eq!(
            valid.sections,
            BTreeMap::from([("summary".to_owned(), "Checkout failed.".to_owned())])
        );
    }

    #[test]
    fn validation_names_every_unknown_section_category_and_empty_field() {
        let template = &builtin_templates()[0];
        let mut document = document();
        document.title = " ".into();
        document.incidents.clear();
        document
            .sections
            .insert("epilogue".into(), "The end.".into());
        document.factors.push(ContributingFactor {
            category: "gremlins".into(),
            description: "Something.".into(),
        });
        document.why_chains.push(WhyChain {
            problem: String::new(),
            whys: vec![Why::default()],
            root_cause: None,
        });
        let errors = document.validate(template, &categories()).unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|error| error.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "title",
                "incidents",
                "sections.epilogue",
                "why_chains[0].problem",
                "why_chains[0].whys[0].question",
                "factors[0].category",
            ]
        );
        assert!(errors.0[2].message.contains("summary, impact"));
    }

    #[test]
    fn canonical_text_has_no_blank_lines_around_it_and_stays_as_it_is() {
        assert_eq!(normalize_text(" \n\t\na  \n\n b\n \n"), "a\n\n b");
        let once = normalize_text(" \na");
        assert_eq!(normalize_text(&once), once);
    }

    #[test]
    fn a_diff_shows_removed_and_added_lines_between_kept_ones() {
        let lines = diff_lines("a\nb\nc\nd", "a\nc\nx\nd");
        let shown: Vec<String> = lines
            .iter()
            .map(|line| format!("{}{}", &line.kind.as_str()[..1], line.text))
            .collect();
        assert_eq!(shown, ["sa", "rb", "sc", "ax", "sd"]);
        assert!(diff_lines("", "").is_empty());
        assert_eq!(diff_lines("", "new").len(), 1);
    }

    #[test]
    fn a_diff_of_two_long_texts_keeps_what_they_share() {
        let before: String = (0..3000).map(|n| format!("line {n}\n")).collect();
        let after = before.replace("line 1500\n", "line 1500, reworded\n");
        let lines = diff_lines(&before, &after);
        let changed: Vec<String> = lines
            .iter()
            .filter(|line| line.kind != DiffLineKind::Same)
            .map(|line| format!("{}{}", &line.kind.as_str()[..1], line.text))
            .collect();
        assert_eq!(changed, ["rline 1500", "aline 1500, reworded"]);
        assert_eq!(lines.len(), 3001);
        // Two long texts with nothing in common are shown removed and added in whole.
        let other: String = (0..3000).map(|n| format!("other {n}\n")).collect();
        let whole = diff_lines(&before, &other);
        assert_eq!(whole.len(), 6000);
        assert_eq!(whole[0].kind, DiffLineKind::Removed);
        assert_eq!(whole[5999].kind, DiffLineKind::Added);
    }

    #[test]
    fn history_names_the_fields_a_change_touched() {
        let template = &builtin_templates()[0];
        let before = document().validate(template, &categories()).unwrap();
        let mut after = before.get().clone();
        after
            .sections
            .insert("impact".into(), "All checkouts for 14 minutes.".into());
        assert_eq!(
            changed_fields(
                Some((before.get(), PostmortemStatus::Draft)),
                (&after, PostmortemStatus::InReview)
            ),
            ["sections.impact", "status"]
        );
    }
}
