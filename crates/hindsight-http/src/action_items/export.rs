//! Action items as CSV, and as JSON bodies that create issues in GitHub or Jira.

use serde_json::{Value, json};

use super::api::ActionItemView;

const CSV_COLUMNS: [&str; 16] = [
    "id",
    "title",
    "status",
    "priority",
    "effort",
    "impact",
    "kind",
    "owner",
    "due_on",
    "days_overdue",
    "age_days",
    "postmortem_id",
    "postmortem_title",
    "incidents",
    "tracker_url",
    "link",
];

/// One CSV field (RFC 4180 quoting). A field a spreadsheet would run as a formula (`=`, `+`,
/// `-`, `@`, tab, carriage return first) gets a leading `'`, as OWASP advises against CSV
/// injection.
fn field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn link(base: &str, view: &ActionItemView) -> String {
    format!(
        "{base}/postmortems/{}/action-items#item-{}",
        view.item.postmortem_id, view.item.id
    )
}

pub fn csv(items: &[ActionItemView], base: &str) -> String {
    let mut out = CSV_COLUMNS.join(",");
    out.push_str("\r\n");
    for view in items {
        let item = &view.item;
        let content = &item.content;
        let incidents: Vec<String> = item.incidents.iter().map(|id| id.to_string()).collect();
        let row = [
            item.id.to_string(),
            content.title.clone(),
            content.status.to_string(),
            content.priority.to_string(),
            content.effort.to_string(),
            content.impact.to_string(),
            content.kind.to_string(),
            item.owner_name.clone().unwrap_or_default(),
            content.due_on.to_string(),
            view.days_overdue
                .map(|days| days.to_string())
                .unwrap_or_default(),
            view.age_days.to_string(),
            item.postmortem_id.to_string(),
            item.postmortem_title.clone(),
            incidents.join(" "),
            content.tracker_url.clone().unwrap_or_default(),
            link(base, view),
        ];
        let row: Vec<String> = row.iter().map(|text| field(text)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

fn body(view: &ActionItemView, base: &str) -> String {
    let item = &view.item;
    let content = &item.content;
    let mut body = String::new();
    if !content.description.is_empty() {
        body.push_str(&content.description);
        body.push_str("\n\n");
    }
    body.push_str(&format!(
        "From postmortem PM-{} “{}”: {}\n\n",
        item.postmortem_id,
        item.postmortem_title,
        link(base, view)
    ));
    body.push_str(&format!(
        "- Priority: {} (effort {}, impact {})\n- Kind: {}\n- Due: {}\n",
        content.priority, content.effort, content.impact, content.kind, content.due_on
    ));
    if let Some(owner) = &item.owner_name {
        body.push_str(&format!("- Owner in Hindsight: {owner}\n"));
    }
    body
}

fn labels(view: &ActionItemView) -> Vec<String> {
    let content = &view.item.content;
    vec![
        "postmortem".into(),
        format!("priority:{}", content.priority),
        format!("kind:{}", content.kind),
    ]
}

/// Bodies for GitHub's "create an issue" (`POST /repos/{owner}/{repo}/issues`). GitHub issues
/// have no due date, so it is in the body; `assignees` takes GitHub logins, which Hindsight does
/// not know, so the owner is named in the body and `assignee` carries Hindsight's name for a
/// script to map.
pub fn github(items: &[ActionItemView], base: &str) -> Vec<Value> {
    items
        .iter()
        .map(|view| {
            json!({
                "title": view.item.content.title,
                "body": body(view, base),
                "labels": labels(view),
                "assignee": view.item.owner_name,
                "due_on": view.item.content.due_on.to_string(),
            })
        })
        .collect()
}

/// Bodies for Jira's "create issue" (`POST /rest/api/2/issue`), without the project and issue
/// type, which belong to the Jira site: a script adds `fields.project` and `fields.issuetype`.
pub fn jira(items: &[ActionItemView], base: &str) -> Vec<Value> {
    items
        .iter()
        .map(|view| {
            let content = &view.item.content;
            json!({
                "fields": {
                    "summary": content.title,
                    "description": body(view, base),
                    "labels": labels(view)
                        .into_iter()
                        .map(|label| label.replace(':', "-"))
                        .collect::<Vec<_>>(),
                    "duedate": content.due_on.to_string(),
                    "priority": { "name": content.priority.as_str() },
                    "assignee": view.item.owner_name.as_ref().map(|name| json!({ "name": name })),
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::field;

    #[test]
    fn csv_fields_are_quoted_and_formulas_are_defused() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(field("-1"), "'-1");
    }
}
