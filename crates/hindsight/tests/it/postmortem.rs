//! The postmortem in a real browser, as a person writes, reviews and reads it: drafted from
//! the incident, edited, saved (and saved unchanged, and saved wrong), its timeline refreshed,
//! an image added, read as a document by a viewer, held back by a blocking lint rule and
//! published with a justification, and a second draft discarded.

use std::path::Path;

use serde_json::{Value, json};

use crate::browser::{screenshot_path, sign_in};
use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Browser, Server, png, run};

/// A Slack export of three messages in #incident-checkout, as Slack writes it.
fn slack_export(path: &Path) {
    use std::io::Write;
    let file = std::fs::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let options = zip::write::SimpleFileOptions::default();
    zip.start_file("users.json", options).unwrap();
    zip.write_all(br#"[{"id":"U1","name":"ada","profile":{"display_name":"Ada"}},{"id":"U2","name":"grace","real_name":"Grace Hopper","profile":{"display_name":""}}]"#).unwrap();
    zip.start_file("channels.json", options).unwrap();
    zip.write_all(br#"[{"id":"C1","name":"incident-checkout"}]"#)
        .unwrap();
    zip.start_file("incident-checkout/2026-11-20.json", options)
        .unwrap();
    // 12:32, 12:33 and 12:41 UTC on Friday 20 November 2026.
    zip.write_all(br#"[{"type":"message","user":"U1","text":"Checkout is down for card payments","ts":"1795177920.000100"},
        {"type":"message","user":"U2","text":"Rolling back 2.3 now","ts":"1795177980.000200"},
        {"type":"message","user":"U1","text":"Error rate back to normal","ts":"1795178460.000300"}]"#).unwrap();
    zip.finish().unwrap();
}

/// An incident owned by the admin, with key times, impact, manual events and three chat
/// messages from a Slack export: ten events on its timeline.
fn incident_with_a_timeline(server: &Server, folder: &Path) -> Value {
    let (status, incident) = server.request(
        "POST",
        "/api/v1/incidents",
        Some(&json!({
            "title": "Checkout returns 502 for card payments", "severity": "SEV2",
            "summary": "Card payments failed after the 2.3 deploy.",
            "services": ["checkout", "payments-api"], "owner": ADMIN_EMAIL,
            "started_at": "2026-11-20T12:20:00Z", "detected_at": "2026-11-20T12:31:00Z",
            "mitigated_at": "2026-11-20T12:40:00Z", "resolved_at": "2026-11-20T12:45:00Z",
            "impact": {"users_affected": 12000, "user_visible_minutes": 14}
        })),
    );
    assert_eq!(status, 201, "{incident}");
    let id = &incident["id"];
    for (kind, at, text) in [
        (
            "investigating",
            "2026-11-20T12:33:00Z",
            "Looking at the payments dashboard.",
        ),
        (
            "escalated",
            "2026-11-20T12:36:00Z",
            "Paged the payments team.",
        ),
        (
            "root_cause_identified",
            "2026-11-20T12:38:00Z",
            "The 2.3 migration holds a lock on the payments table.",
        ),
    ] {
        let (status, event) = server.request(
            "POST",
            &format!("/api/v1/incidents/{id}/timeline"),
            Some(&json!({"kind": kind, "occurred_at": at, "text": text})),
        );
        assert_eq!(status, 201, "{event}");
    }
    let export = folder.join("slack.zip");
    slack_export(&export);
    run(
        folder,
        &[
            "import",
            "slack",
            export.to_str().unwrap(),
            "--channel",
            "incident-checkout",
            "--incident",
            &id.to_string(),
        ],
        None,
    )
    .unwrap();
    let (_, timeline) = server.request("GET", &format!("/api/v1/incidents/{id}/timeline"), None);
    assert_eq!(
        timeline["events"].as_array().map(Vec::len),
        Some(10),
        "{timeline}"
    );
    incident
}

fn value_of(browser: &Browser, css: &str) -> String {
    browser
        .script(
            "return document.querySelector(arguments[0]).value;",
            json!([css]),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Screenshots of the page at 1400 px, at 390 px and in the dark scheme, named after `name`.
fn three_views(browser: &Browser, name: &str) {
    browser.set_size(1400, 1600);
    browser.screenshot(&screenshot_path(&format!("{name}-1400")));
    browser.set_size(390, 1600);
    browser.screenshot(&screenshot_path(&format!("{name}-390")));
    let overflow = browser.script(
        "const width = document.documentElement.clientWidth;          const wide = [...document.querySelectorAll('body *')]            .filter(e => e.getBoundingClientRect().right > width + 1)            .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id);          return [document.documentElement.scrollWidth - width, wide];",
        json!([]),
    );
    assert!(
        overflow[0].as_i64().unwrap_or(0) <= 1,
        "{name} scrolls sideways at 390 px: {overflow}"
    );
    browser.set_size(1400, 1600);
    browser.color_scheme("dark");
    browser.screenshot(&screenshot_path(&format!("{name}-dark")));
    browser.color_scheme("light");
}

#[test]
fn a_postmortem_is_drafted_from_its_incident_written_saved_and_read_in_the_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(folder.path(), "hindsight.db", &[]);
    let incident = incident_with_a_timeline(&server, folder.path());
    let id = incident["id"].clone();
    sign_in(&browser, &server, ADMIN_EMAIL, ADMIN_PASSWORD);
    browser.set_size(1400, 1000);

    // From the incident: one button, and the draft is the default start.
    browser.open(&server.url(&format!("/incidents/{id}")));
    browser.find("#start-postmortem").click_and_wait_for_page();
    assert_eq!(
        browser.script(
            "return document.querySelector('input[name=start_from][value=incidents]').checked;",
            json!([])
        ),
        json!(true)
    );
    browser
        .find("form[action='/postmortems'] button[type=submit]")
        .click_and_wait_for_page();
    assert!(browser.current_url().ends_with("/postmortems/1/edit"));

    // Pre-written from what Hindsight knows.
    let summary = value_of(&browser, "textarea[name='sections.summary']");
    assert!(summary.starts_with("Card payments failed after the 2.3 deploy."));
    let impact = value_of(&browser, "textarea[name='sections.impact']");
    assert!(impact.contains("12,000 users were affected."), "{impact}");
    let timeline = value_of(&browser, "textarea[name='sections.timeline']");
    for expected in [
        "Time to detect: 11 min",
        "#### Friday 20 November 2026",
        "Ada in chat:\n  > Checkout is down for card payments",
        "Grace Hopper in chat:\n  > Rolling back 2.3 now",
        "Root cause identified: The 2.3 migration holds a lock",
    ] {
        assert!(
            timeline.contains(expected),
            "{expected:?} not in {timeline}"
        );
    }
    assert_eq!(
        value_of(&browser, "#owner"),
        "1",
        "the incident's owner owns it"
    );
    three_views(&browser, "postmortem-editor-draft");

    // An unchanged save saves nothing, and says so.
    browser.find("#save").click_and_wait_for_page();
    assert_eq!(
        browser.find("#saved").text(),
        "Nothing changed, so nothing was saved."
    );
    // A why's question is a placeholder, never a value, and its answer box is wide enough.
    let boxes = browser.script(
        "const q = document.querySelector(\"input[name='why_chains[0].whys[0].question']\"); \
         const a = document.querySelector(\"input[name='why_chains[0].whys[0].answer']\"); \
         return [q.value, q.placeholder, a.getBoundingClientRect().width];",
        json!([]),
    );
    assert_eq!(boxes[0], "");
    assert_eq!(boxes[1], "Why?");
    assert!(boxes[2].as_f64().unwrap() > 300.0, "{boxes}");

    // An answer without its problem: refused, with the error beside the problem, and kept.
    browser
        .find("input[name='why_chains[0].whys[0].answer']")
        .type_text("A migration held a lock on the payments table.");
    browser
        .find("textarea[name='sections.conclusion']")
        .type_text("Lock checks before every deploy.");
    browser.find("#save").click_and_wait_for_page();
    assert!(browser.find("#notice").text().contains("Nothing was saved"));
    assert_eq!(
        browser.find("#chain-0 .field.invalid .error").text(),
        "must not be empty"
    );
    assert_eq!(
        value_of(&browser, "input[name='why_chains[0].whys[0].answer']"),
        "A migration held a lock on the payments table."
    );
    assert_eq!(
        value_of(&browser, "textarea[name='sections.conclusion']"),
        "Lock checks before every deploy."
    );
    browser.set_size(390, 1600);
    browser.script(
        "document.getElementById('chain-0').scrollIntoView();",
        json!([]),
    );
    browser.screenshot(&screenshot_path("postmortem-editor-failed-save-390"));
    browser.set_size(1400, 1000);

    // Completed, it saves.
    browser
        .find("input[name='why_chains[0].problem']")
        .type_text("Card payments failed");
    browser
        .find("input[name='why_chains[0].root_cause']")
        .type_text("Nothing checks migrations for long locks.");
    browser.find("#save").click_and_wait_for_page();
    assert_eq!(browser.find("#saved").text(), "Saved as version 2.");

    // A second chain, moved up, then the first removed.
    browser
        .find("input[name='why_chains[1].problem']")
        .type_text("Checkout pages were slow");
    browser
        .find("input[name='why_chains[1].whys[0].answer']")
        .type_text("Every request waited on the lock.");
    browser.find("#save").click_and_wait_for_page();
    browser
        .find("button[value='up:why_chains[1]']")
        .click_and_wait_for_page();
    assert_eq!(
        value_of(&browser, "input[name='why_chains[0].problem']"),
        "Checkout pages were slow"
    );
    browser
        .find("button[value='remove:why_chains[1]']")
        .click_and_wait_for_page();
    let (_, stored) = server.request("GET", "/api/v1/postmortems/1", None);
    assert_eq!(stored["why_chains"].as_array().unwrap().len(), 1);
    assert_eq!(
        stored["why_chains"][0]["problem"],
        "Checkout pages were slow"
    );
    assert_eq!(stored["why_chains"][0]["whys"][0]["question"], "Why?");

    // The preview follows the typing.
    browser
        .find("textarea[name='sections.resolution']")
        .type_text("Rolled back to **2.2**.");
    browser.wait_for_count("div[data-preview='sections.resolution'] strong", 1);

    // A later event, and a line of the writer's own: refreshing brings the event and keeps
    // the line.
    let (status, _) = server.request(
        "POST",
        &format!("/api/v1/incidents/{id}/timeline"),
        Some(
            &json!({"kind": "fixed", "occurred_at": "2026-11-20T13:30:00Z",
                     "text": "Lock timeout added to migrations."}),
        ),
    );
    assert_eq!(status, 201);
    browser
        .find("textarea[name='sections.timeline']")
        .type_text("\n\nRead it with the chat log.");
    browser.find("#save").click_and_wait_for_page();
    browser.find("#refresh-timeline").click_and_wait_for_page();
    assert!(browser.find("#saved").text().contains("refreshed"));
    let timeline = value_of(&browser, "textarea[name='sections.timeline']");
    assert!(timeline.contains("13:30 · Fixed: Lock timeout added to migrations."));
    assert!(timeline.trim_end().ends_with("Read it with the chat log."));

    // Typed and not saved, then refreshed: what was typed is saved first, not lost.
    browser
        .find("textarea[name='lessons.went_well']")
        .type_text("The alert fired within a minute.");
    browser.find("#refresh-timeline").click_and_wait_for_page();
    assert_eq!(
        value_of(&browser, "textarea[name='lessons.went_well']"),
        "The alert fired within a minute."
    );
    let (_, stored) = server.request("GET", "/api/v1/postmortems/1", None);
    assert_eq!(
        stored["lessons"]["went_well"],
        json!(["The alert fired within a minute."])
    );

    // An image: uploaded, pasted where it belongs, saved.
    let graph = folder.path().join("error-rate.png");
    std::fs::write(
        &graph,
        png(240, 120, |x, y| {
            if y > 110 - (x % 60) {
                [36, 86, 199]
            } else {
                [245, 247, 250]
            }
        }),
    )
    .unwrap();
    browser
        .find("#image-file")
        .type_text(graph.to_str().unwrap());
    browser.find("#upload").click_and_wait_for_page();
    let uploaded = browser.find("#uploaded code").text();
    assert!(
        uploaded.starts_with("![error-rate](/postmortems/1/images/"),
        "{uploaded}"
    );
    browser
        .find("textarea[name='sections.impact']")
        .type_text(&format!("\n\nThe error rate:\n\n{uploaded}"));
    browser.find("#save").click_and_wait_for_page();
    three_views(&browser, "postmortem-editor");

    // Read as a document: the image loads from Hindsight itself.
    browser.find("#read").click_and_wait_for_page();
    let loaded = browser.script(
        "const image = document.querySelector('#section-impact img'); \
         return image ? [image.complete, image.naturalWidth] : null;",
        json!([]),
    );
    assert_eq!(loaded, json!([true, 240]), "the image shows");
    assert!(browser.find("#owner").text().contains("admin"));
    three_views(&browser, "postmortem-reading");

    // A viewer reads it with no form control, and is refused the editor.
    run(
        folder.path(),
        &[
            "user",
            "create",
            "--email",
            "viewer@example.com",
            "--name",
            "Vera Viewer",
            "--password-stdin",
        ],
        Some("a long enough passphrase\n"),
    )
    .unwrap();
    browser
        .find("form.signout button")
        .click_and_wait_for_page();
    sign_in(
        &browser,
        &server,
        "viewer@example.com",
        "a long enough passphrase",
    );
    browser.open(&server.url("/postmortems/1"));
    let controls = browser.script(
        "return document.querySelectorAll('main input, main textarea, main select, main button, main form').length;",
        json!([]),
    );
    assert_eq!(controls, json!(0), "a viewer sees no form control");
    assert_eq!(browser.count("#edit"), 0);
    assert!(browser.page_text().contains("Checkout pages were slow"));
    browser.screenshot(&screenshot_path("postmortem-reading-viewer"));
    browser.open(&server.url("/postmortems/1/edit"));
    assert!(
        browser
            .page_text()
            .contains("Your role does not allow this."),
        "{}",
        browser.page_text()
    );
}

#[test]
fn a_blocking_lint_rule_holds_a_postmortem_back_until_an_editor_justifies_it() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("hindsight.toml"),
        "[lint]\nblock = [\"blame\"]\n",
    )
    .unwrap();
    let server = Server::start(
        folder.path(),
        "hindsight.db",
        &["--config", "hindsight.toml"],
    );
    let incident = incident_with_a_timeline(&server, folder.path());
    let id = incident["id"].clone();
    sign_in(&browser, &server, ADMIN_EMAIL, ADMIN_PASSWORD);
    browser.set_size(1400, 1000);
    browser.open(&server.url(&format!("/incidents/{id}")));
    browser.find("#start-postmortem").click_and_wait_for_page();
    browser
        .find("form[action='/postmortems'] button[type=submit]")
        .click_and_wait_for_page();

    // A blaming sentence: the count is on the button, and the move is held back.
    browser
        .find("textarea[name='sections.summary']")
        .type_text("\n\nHe failed to check the migration.");
    browser.find("#save").click_and_wait_for_page();
    let submit = browser.find("button[value='in_review']").text();
    assert!(
        submit.starts_with("Submit for review (") && submit.contains("finding"),
        "{submit}"
    );
    assert!(
        browser
            .find("#blocked-in_review")
            .text()
            .contains("blame in Summary: “He failed to”")
    );
    browser
        .find("button[value='in_review']")
        .click_and_wait_for_page();
    assert!(
        browser
            .find("#notice")
            .text()
            .contains("It cannot go to review yet"),
        "{}",
        browser.page_text()
    );
    assert_eq!(browser.find("#status").text(), "draft");
    browser.set_size(390, 1600);
    browser.screenshot(&screenshot_path("postmortem-lint-blocked-390"));
    browser.set_size(1400, 1000);

    // With a justification it goes, and the justification is kept.
    browser
        .find("#justification-in_review")
        .type_text("The sentence quotes the customer's complaint.");
    browser
        .find("button[value='in_review']")
        .click_and_wait_for_page();
    assert_eq!(browser.find("#status").text(), "in review");
    assert!(
        browser
            .find("#saved")
            .text()
            .starts_with("Submitted for review.")
    );
    let (_, stored) = server.request("GET", "/api/v1/postmortems/1", None);
    assert_eq!(
        stored["lint_exceptions"][0]["justification"],
        "The sentence quotes the customer's complaint."
    );

    // The rest of what publishing needs comes from another writer through the API; the
    // editor publishes, again past the rule, with a reason.
    let (status, body) = server.request(
        "PATCH",
        "/api/v1/postmortems/1",
        Some(&json!({"version": stored["version"], "sections": {
            "root_cause": "Migrations are not checked for long locks.",
            "contributing_factors": "Tests run on small data.",
            "resolution": "Rolled back to 2.2.",
            "lessons": "The alert fired within a minute.",
            "conclusion": "Lock checks before every deploy."},
            "why_chains": [{"problem": "Card payments failed", "whys": [],
                            "root_cause": "Nothing checks migrations for long locks."}],
            "no_action_items_reason": "The fix shipped during the incident."})),
    );
    assert_eq!(status, 200, "{body}");
    browser.open(&server.url("/postmortems/1/edit"));
    browser
        .find("#justification-published")
        .type_text("Reviewed: the quote stays.");
    browser
        .find("button[value='published']")
        .click_and_wait_for_page();
    assert!(
        browser
            .current_url()
            .ends_with("/postmortems/1?published=1"),
        "{}",
        browser.page_text()
    );
    assert_eq!(browser.find("#status").text(), "published");
    assert!(browser.find("#published").text().starts_with("Published."));
    assert!(
        browser
            .find("aside.exception")
            .text()
            .contains("despite 1 blocking lint finding")
    );
    three_views(&browser, "postmortem-published-with-justification");

    // Back on the incident: its postmortem, and a second one only by choice; that draft is
    // then discarded.
    browser.open(&server.url(&format!("/incidents/{id}")));
    assert!(browser.find("#postmortems").text().contains("published"));
    assert_eq!(browser.count("#start-postmortem"), 0);
    browser.screenshot(&screenshot_path("incident-with-postmortem"));
    browser
        .find("#postmortems a[href^='/postmortems/new']")
        .click_and_wait_for_page();
    assert!(browser.find("#existing").text().contains("PM-1"));
    browser
        .find("form[action='/postmortems'] button[type=submit]")
        .click_and_wait_for_page();
    assert!(
        browser
            .page_text()
            .contains("a postmortem already covers this incident")
    );
    browser.find("input[name=another]").click();
    browser
        .find("form[action='/postmortems'] button[type=submit]")
        .click_and_wait_for_page();
    assert!(browser.current_url().ends_with("/postmortems/2/edit"));
    browser.find("#read").click_and_wait_for_page();
    browser.find("details.discard summary").click();
    browser.find("#discard").click_and_wait_for_page();
    assert!(browser.current_url().contains("/postmortems"));
    assert!(
        browser
            .find("#discarded")
            .text()
            .starts_with("The draft was discarded.")
    );
    let (status, _) = server.request("GET", "/api/v1/postmortems/2", None);
    assert_eq!(status, 404);
    let (_, audit) = server.request("GET", "/api/v1/audit", None);
    assert!(audit.to_string().contains("postmortem.discarded"));
    assert!(audit.to_string().contains("postmortem.lint_exception"));
}
