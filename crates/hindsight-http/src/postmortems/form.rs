//! The editor's form: one POST carries the whole document, with fields named as the API names
//! them (`sections.summary`, `why_chains[0].whys[1].answer`), so that an error from validation
//! lands beside the input it concerns. Blank rows (the empty chain, why and factor offered for
//! adding one) are dropped. A why left without a question asks the placeholder's "Why?".
//!
//! The buttons beside each chain and factor (`row_action=remove:why_chains[1]`,
//! `up:why_chains[2]`, `down:…`) save the form with that row moved or removed, so rows are
//! reordered and removed without JavaScript.

use std::collections::BTreeMap;

use hindsight_domain::ValidationErrors;
use hindsight_domain::document::PostmortemDocument;
use hindsight_domain::postmortem::{ContributingFactor, Lessons, Why, WhyChain};

/// The question a why asks when its writer left the box as its placeholder shows it.
pub const DEFAULT_QUESTION: &str = "Why?";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Remove,
    Up,
    Down,
}

/// A button beside a row: `remove:why_chains[1]`.
struct RowAction {
    list: &'static str,
    index: usize,
    action: Action,
}

impl RowAction {
    fn parse(value: &str) -> Option<Self> {
        let (action, row) = value.split_once(':')?;
        let action = match action {
            "remove" => Action::Remove,
            "up" => Action::Up,
            "down" => Action::Down,
            _ => return None,
        };
        let (list, index, rest) = indexed(row)?;
        let list = match list {
            "why_chains" => "why_chains",
            "factors" => "factors",
            _ => return None,
        };
        rest.is_empty().then_some(Self {
            list,
            index,
            action,
        })
    }
}

impl Action {
    /// Removes the row at `index` or swaps it with its neighbour, in form order.
    fn apply<T>(self, rows: &mut BTreeMap<usize, T>, index: usize) {
        let keys: Vec<usize> = rows.keys().copied().collect();
        let Some(position) = keys.iter().position(|key| *key == index) else {
            return;
        };
        let other = match self {
            Action::Remove => {
                rows.remove(&index);
                return;
            }
            Action::Up => position.checked_sub(1).map(|at| keys[at]),
            Action::Down => keys.get(position + 1).copied(),
        };
        if let Some(other) = other {
            let first = rows.remove(&index).expect("the key was listed");
            let second = rows.remove(&other).expect("the key was listed");
            rows.insert(index, second);
            rows.insert(other, first);
        }
    }
}

/// What the form sent, read into a document; `version` is the version it was made on.
pub struct EditorForm {
    pub version: Option<u32>,
    pub document: PostmortemDocument,
    /// Problems only the form can have (a date that is not a date).
    pub errors: ValidationErrors,
}

/// `name[3].rest` → (`name`, 3, `rest`).
fn indexed(key: &str) -> Option<(&str, usize, &str)> {
    let open = key.find('[')?;
    let close = key[open..].find(']')? + open;
    let index = key[open + 1..close].parse().ok()?;
    let rest = key[close + 1..]
        .strip_prefix('.')
        .unwrap_or(&key[close + 1..]);
    Some((&key[..open], index, rest))
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect()
}

fn blank_to_none(text: String) -> Option<String> {
    (!text.trim().is_empty()).then_some(text)
}

impl EditorForm {
    /// Reads the form over `current`: what the form does not carry (incidents, template,
    /// owner) stays as it is.
    pub fn read(pairs: Vec<(String, String)>, current: &PostmortemDocument) -> Self {
        let errors = ValidationErrors::new();
        let mut document = PostmortemDocument {
            title: current.title.clone(),
            incidents: current.incidents.clone(),
            template: current.template.clone(),
            owner: current.owner,
            lint_exceptions: current.lint_exceptions.clone(),
            ..PostmortemDocument::default()
        };
        let mut version = None;
        let mut chains: BTreeMap<usize, (WhyChain, BTreeMap<usize, Why>)> = BTreeMap::new();
        let mut factors: BTreeMap<usize, ContributingFactor> = BTreeMap::new();
        let mut lessons = Lessons::default();
        let mut row_action = None;
        for (key, value) in pairs {
            if key == "row_action" {
                row_action = RowAction::parse(&value);
            } else if key == "version" {
                version = value.trim().parse().ok();
            } else if key == "title" {
                document.title = value;
            } else if key == "owner" {
                document.owner = value.trim().parse().ok();
            } else if let Some(section) = key.strip_prefix("sections.") {
                document.sections.insert(section.to_owned(), value);
            } else if key == "lessons.went_well" {
                lessons.went_well = lines(&value);
            } else if key == "lessons.went_wrong" {
                lessons.went_wrong = lines(&value);
            } else if key == "lessons.got_lucky" {
                lessons.got_lucky = lines(&value);
            } else if key == "no_action_items_reason" {
                document.no_action_items_reason = blank_to_none(value);
            } else if let Some((list, index, rest)) = indexed(&key) {
                match list {
                    "why_chains" => {
                        let (chain, whys) = chains.entry(index).or_default();
                        if rest == "problem" {
                            chain.problem = value;
                        } else if rest == "root_cause" {
                            chain.root_cause = blank_to_none(value);
                        } else if let Some(("whys", step, part)) = indexed(rest) {
                            let why = whys.entry(step).or_default();
                            match part {
                                "question" => why.question = value,
                                "answer" => why.answer = value,
                                _ => {}
                            }
                        }
                    }
                    "factors" => {
                        let factor = factors.entry(index).or_insert(ContributingFactor {
                            category: String::new(),
                            description: String::new(),
                        });
                        match rest {
                            "category" => factor.category = value,
                            "description" => factor.description = value,
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
        }
        document.lessons = lessons;
        match row_action {
            Some(RowAction {
                list: "why_chains",
                index,
                action,
            }) => action.apply(&mut chains, index),
            Some(RowAction {
                list: _,
                index,
                action,
            }) => action.apply(&mut factors, index),
            None => {}
        }
        for (_, (mut chain, whys)) in chains {
            chain.whys = whys
                .into_values()
                .filter(|why| !(why.question.trim().is_empty() && why.answer.trim().is_empty()))
                .map(|mut why| {
                    if why.question.trim().is_empty() {
                        why.question = DEFAULT_QUESTION.to_owned();
                    }
                    why
                })
                .collect();
            let blank = chain.problem.trim().is_empty()
                && chain.whys.is_empty()
                && chain.root_cause.is_none();
            if !blank {
                document.why_chains.push(chain);
            }
        }
        document.factors = factors
            .into_values()
            .filter(|factor| !factor.description.trim().is_empty())
            .collect();
        Self {
            version,
            document,
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn the_form_reads_into_a_document_and_drops_blank_rows() {
        let form = EditorForm::read(
            pairs(&[
                ("version", "3"),
                ("title", "Checkout outage"),
                ("sections.summary", "It broke."),
                ("why_chains[0].problem", "Checkout failed"),
                ("why_chains[0].whys[0].question", "Why?"),
                ("why_chains[0].whys[0].answer", "A lock."),
                ("why_chains[0].whys[1].question", ""),
                ("why_chains[0].whys[1].answer", ""),
                ("why_chains[0].root_cause", "No lock check."),
                ("why_chains[1].problem", ""),
                ("why_chains[1].root_cause", ""),
                ("factors[0].category", "testing_gap"),
                ("factors[0].description", "No big data in tests."),
                ("factors[1].category", "process"),
                ("factors[1].description", ""),
                ("lessons.went_well", "Alert fired\n\n  Rollback was quick "),
            ]),
            &PostmortemDocument::default(),
        );
        assert_eq!(form.version, Some(3));
        let document = form.document;
        assert_eq!(document.why_chains.len(), 1);
        assert_eq!(document.why_chains[0].whys.len(), 1);
        assert_eq!(document.factors.len(), 1);
        assert_eq!(
            document.lessons.went_well,
            ["Alert fired", "Rollback was quick"]
        );
        assert!(form.errors.is_empty());
    }

    #[test]
    fn a_blank_form_saves_as_an_empty_document_and_a_why_without_question_asks_why() {
        let blank = EditorForm::read(
            pairs(&[
                ("why_chains[0].problem", ""),
                ("why_chains[0].whys[0].question", ""),
                ("why_chains[0].whys[0].answer", ""),
                ("why_chains[0].root_cause", ""),
                ("factors[0].category", "process"),
                ("factors[0].description", ""),
            ]),
            &PostmortemDocument::default(),
        );
        assert!(blank.document.why_chains.is_empty());
        assert!(blank.document.factors.is_empty());
        let answered = EditorForm::read(
            pairs(&[
                ("why_chains[0].problem", "Payments failed"),
                ("why_chains[0].whys[0].question", " "),
                ("why_chains[0].whys[0].answer", "A lock."),
            ]),
            &PostmortemDocument::default(),
        );
        assert_eq!(answered.document.why_chains[0].whys[0].question, "Why?");
    }

    #[test]
    fn row_buttons_move_and_remove_chains_and_factors() {
        let chains = |action: &str| {
            EditorForm::read(
                pairs(&[
                    ("why_chains[0].problem", "first"),
                    ("why_chains[1].problem", "second"),
                    ("why_chains[2].problem", "third"),
                    ("why_chains[3].problem", ""),
                    ("factors[0].category", "process"),
                    ("factors[0].description", "one"),
                    ("factors[1].category", "process"),
                    ("factors[1].description", "two"),
                    ("row_action", action),
                ]),
                &PostmortemDocument::default(),
            )
            .document
        };
        let problems = |document: &PostmortemDocument| -> Vec<String> {
            document
                .why_chains
                .iter()
                .map(|chain| chain.problem.clone())
                .collect()
        };
        assert_eq!(
            problems(&chains("up:why_chains[1]")),
            ["second", "first", "third"]
        );
        assert_eq!(
            problems(&chains("down:why_chains[2]")),
            ["first", "second", "third"]
        );
        assert_eq!(
            problems(&chains("remove:why_chains[0]")),
            ["second", "third"]
        );
        assert_eq!(
            problems(&chains("up:why_chains[0]")),
            ["first", "second", "third"]
        );
        assert_eq!(problems(&chains("nonsense")).len(), 3);
        let factors = chains("remove:factors[0]").factors;
        assert_eq!(factors.len(), 1);
        assert_eq!(factors[0].description, "two");
    }
}
