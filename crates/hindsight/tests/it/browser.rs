//! The web UI in headless Chromium, against the real binary on a loopback port. Later features
//! add their stories here, using [`Browser`] and [`Server`].

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Browser, Server};

/// Signs in through the login page, as a person would.
pub(crate) fn sign_in(browser: &Browser, server: &Server, email: &str, password: &str) {
    browser.open(&server.url("/login"));
    browser.find("#email").type_text(email);
    browser.find("#password").type_text(password);
    browser
        .find("form.signin button[type=submit]")
        .click_and_wait_for_page();
}

pub(crate) fn screenshot_path(name: &str) -> std::path::PathBuf {
    let folder = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots");
    std::fs::create_dir_all(&folder).unwrap();
    folder.join(format!("{name}.png"))
}

#[test]
fn an_incident_recorded_through_the_form_appears_in_the_list() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(folder.path(), "hindsight.db", &[]);
    sign_in(&browser, &server, ADMIN_EMAIL, ADMIN_PASSWORD);

    // An empty title is refused, with the message beside the field, and nothing is saved.
    browser.open(&server.url("/incidents/new"));
    browser
        .find("form.incident button[type=submit]")
        .click_and_wait_for_page();
    assert_eq!(browser.find("#title-error").text(), "title is required");
    browser.screenshot(&screenshot_path("form-errors"));

    browser
        .find("#title")
        .type_text("Search returns stale results");
    browser.find("#severity option[value=SEV1]").click();
    browser.find("#services").type_text("search, indexer");
    browser
        .find("#summary")
        .type_text("The indexer stopped; results were hours old.");
    browser
        .find("form.incident button[type=submit]")
        .click_and_wait_for_page();

    let page = browser.current_url();
    assert!(
        page.contains("/incidents/"),
        "{page}: {}",
        browser.page_text()
    );
    assert_eq!(browser.find("h1").text(), "Search returns stale results");
    assert!(
        browser
            .page_text()
            .contains("The indexer stopped; results were hours old.")
    );
    browser.screenshot(&screenshot_path("incident"));

    browser.open(&server.url("/incidents"));
    assert_eq!(browser.count("table.incidents tbody tr"), 1);
    let row = browser.find("table.incidents tbody tr").text();
    assert!(
        row.contains("Search returns stale results") && row.contains("SEV1"),
        "{row}"
    );
    assert!(row.contains("search, indexer"), "{row}");

    // The filters narrow the list without JavaScript.
    browser
        .find("select[name=severity] option[value=SEV4]")
        .click();
    browser
        .find("form.filters button[type=submit]")
        .click_and_wait_for_page();
    assert_eq!(browser.count("table.incidents tbody tr"), 0);
    assert!(browser.page_text().contains("No incidents match"));
    browser
        .find("select[name=severity] option[value=SEV1]")
        .click();
    browser
        .find("form.filters button[type=submit]")
        .click_and_wait_for_page();
    assert_eq!(browser.count("table.incidents tbody tr"), 1);
    browser.screenshot(&screenshot_path("list"));
}

#[test]
fn an_incident_is_edited_through_the_form() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(folder.path(), "hindsight.db", &["--demo"]);
    sign_in(&browser, &server, ADMIN_EMAIL, ADMIN_PASSWORD);
    browser.open(&server.url("/incidents"));
    browser
        .find("table.incidents tbody tr a")
        .click_and_wait_for_page();
    browser
        .find("a.button[href$='/edit']")
        .click_and_wait_for_page();
    browser.find("#status option[value=resolved]").click();
    let owner = browser.find("#owner");
    owner.clear();
    owner.type_text("Dana");
    browser
        .find("form.incident button[type=submit]")
        .click_and_wait_for_page();
    let text = browser.page_text();
    assert!(text.contains("resolved") && text.contains("Dana"), "{text}");
}

#[test]
fn a_viewer_signs_in_sees_only_what_the_role_allows_and_signs_out() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(folder.path(), "hindsight.db", &["--demo"]);
    crate::support::run(
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

    // Signed out, the incidents send you to the login page, and back after signing in.
    browser.open(&server.url("/incidents?status=open"));
    assert!(
        browser.current_url().contains("/login?next="),
        "{}",
        browser.current_url()
    );
    browser.find("#email").type_text("viewer@example.com");
    browser.find("#password").type_text("not the password");
    browser
        .find("form.signin button[type=submit]")
        .click_and_wait_for_page();
    assert!(
        browser
            .page_text()
            .contains("The email or the password is wrong.")
    );
    browser
        .find("#password")
        .type_text("a long enough passphrase");
    browser
        .find("form.signin button[type=submit]")
        .click_and_wait_for_page();
    assert!(
        browser.current_url().ends_with("/incidents?status=open"),
        "{}",
        browser.current_url()
    );
    let text = browser.page_text();
    assert!(
        text.contains("Vera Viewer") && !text.contains("Record an incident"),
        "{text}"
    );
    browser.screenshot(&screenshot_path("viewer"));

    // A viewer reads an incident but gets no way to edit it, and the edit page is refused.
    browser
        .find("table.incidents tbody tr a")
        .click_and_wait_for_page();
    assert_eq!(browser.count("a.button[href$='/edit']"), 0);
    let incident_url = browser.current_url();
    browser.open(&format!("{incident_url}/edit"));
    assert!(browser.page_text().contains("Not allowed"));

    // Signing out ends the session: the incidents are behind the login page again.
    browser.open(&server.url("/incidents"));
    browser
        .find("form.signout button")
        .click_and_wait_for_page();
    assert!(browser.current_url().ends_with("/login"));
    browser.open(&server.url("/incidents"));
    assert!(browser.current_url().contains("/login?next="));
}

#[test]
fn a_postmortem_is_written_linted_as_typed_and_published() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(folder.path(), "hindsight.db", &[]);
    let (status, incident) = server.request(
        "POST",
        "/api/v1/incidents",
        Some(
            &serde_json::json!({"title": "Checkout returns 502", "severity": "SEV2",
            "started_at": "2026-11-20T12:20:00Z", "detected_at": "2026-11-20T12:31:00Z",
            "resolved_at": "2026-11-20T12:45:00Z"}),
        ),
    );
    assert_eq!(status, 201);
    sign_in(&browser, &server, ADMIN_EMAIL, ADMIN_PASSWORD);

    // From the incident to a new postmortem on the default template.
    browser.open(&server.url(&format!("/incidents/{}", incident["id"])));
    browser
        .find("a[href^='/postmortems/new']")
        .click_and_wait_for_page();
    browser
        .find("form[action='/postmortems'] button[type=submit]")
        .click_and_wait_for_page();
    assert!(
        browser.current_url().contains("/postmortems/"),
        "{}",
        browser.page_text()
    );
    assert_eq!(browser.find("#status").text(), "draft");
    assert!(
        browser
            .page_text()
            .contains("Was the first responder the right one?")
    );

    // A blaming sentence is flagged while it is typed; the rewording makes it go.
    let summary = "textarea[name='sections.summary']";
    let blame = "ul[data-findings='sections.summary'] li[data-rule='blame']";
    browser
        .find(summary)
        .type_text("The on-call engineer forgot to run the migration.");
    browser.wait_for_count(blame, 1);
    assert!(browser.find(blame).text().contains("forgot"));
    browser.screenshot(&screenshot_path("postmortem-finding"));
    browser.find(summary).clear();
    browser
        .find(summary)
        .type_text("The migration was not run before the deploy, and nothing checked for it.");
    browser.wait_for_count(blame, 0);

    // Every section the process needs and a 5 Whys chain, then save; the action item is added
    // through the API, as a tracker integration would.
    for (key, text) in [
        (
            "impact",
            "About 12,000 card payments failed over 14 minutes.",
        ),
        (
            "timeline",
            "- 12:20 UTC deploy\n- 12:31 UTC alert fired\n- 12:45 UTC resolved",
        ),
        (
            "root_cause",
            "Migrations are not checked for long locks before a deploy.",
        ),
        ("contributing_factors", "Tests run on small data."),
        ("resolution", "Rolled back the deploy."),
        ("lessons", "Alerting worked."),
        ("conclusion", "Lock checks before deploys."),
    ] {
        browser
            .find(&format!("textarea[name='sections.{key}']"))
            .type_text(text);
    }
    browser
        .find("input[name='why_chains[0].problem']")
        .type_text("Card payments failed");
    browser
        .find("input[name='why_chains[0].whys[0].answer']")
        .type_text("A migration held a lock on the payments table.");
    browser
        .find("input[name='why_chains[0].root_cause']")
        .type_text("Nothing checks migrations for long locks.");
    let (_, list) = server.request("GET", "/api/v1/postmortems", None);
    let postmortem = list["items"][0]["id"].clone();
    let (_, me) = server.request("GET", "/api/v1/me", None);
    let (status, item) = server.request(
        "POST",
        &format!("/api/v1/postmortems/{postmortem}/action-items"),
        Some(&serde_json::json!({
            "title": "Add a lock timeout to migrations",
            "owner": format!("user:{}", me["id"]),
        })),
    );
    assert_eq!(status, 201, "{item}");
    browser.find("#save").click_and_wait_for_page();
    assert!(
        browser.page_text().contains("Ready to publish"),
        "{}",
        browser.page_text()
    );
    assert_eq!(browser.count("li[data-rule='blame']"), 0);

    browser
        .find("button[value='in_review']")
        .click_and_wait_for_page();
    assert_eq!(browser.find("#status").text(), "in review");
    browser
        .find("button[value='published']")
        .click_and_wait_for_page();
    assert_eq!(browser.find("#status").text(), "published");
    browser.screenshot(&screenshot_path("postmortem-published"));

    let (_, stored) = server.request("GET", "/api/v1/postmortems?status=published", None);
    assert_eq!(
        stored["items"][0]["why_chains"][0]["root_cause"],
        "Nothing checks migrations for long locks."
    );
}

#[test]
fn an_event_is_added_to_the_timeline_and_edited_in_the_browser() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(folder.path(), "hindsight.db", &[]);
    let (status, incident) = server.request(
        "POST",
        "/api/v1/incidents",
        Some(&serde_json::json!({
            "title": "Checkout answers 502",
            "severity": "SEV2",
            "started_at": "2026-11-20T12:20:00Z",
            "detected_at": "2026-11-20T14:10:00Z",
        })),
    );
    assert_eq!(status, 201);
    let id = incident["id"].clone();
    sign_in(&browser, &server, ADMIN_EMAIL, ADMIN_PASSWORD);
    browser.open(&server.url(&format!("/incidents/{id}?tz=Europe/London")));
    assert!(browser.page_text().contains("1 h 50 min"), "time to detect");

    browser.find("details.add-event summary").click();
    browser
        .find("details.add-event select[name=kind] option[value=resolved]")
        .click();
    browser
        .find("details.add-event input[name=occurred_at]")
        .type_text("2026-11-21T00:30");
    browser
        .find("details.add-event textarea[name=text]")
        .type_text("Recovery **confirmed** after midnight");
    browser
        .find("details.add-event button[type=submit]")
        .click_and_wait_for_page();
    let text = browser.page_text();
    assert!(text.contains("Saturday 21 November 2026"), "{text}");
    assert!(text.contains("Recovery confirmed after midnight"), "{text}");
    let (_, incident) = server.request("GET", &format!("/api/v1/incidents/{id}"), None);
    assert_eq!(incident["resolved_at"], "2026-11-21T00:30:00Z");
    browser.screenshot(&screenshot_path("timeline"));

    browser
        .find("li.event.resolved.manual a.edit")
        .click_and_wait_for_page();
    let text_field = browser.find("textarea[name=text]");
    text_field.clear();
    text_field.type_text("Recovery confirmed by the payments team");
    browser
        .find("form.event-form button[type=submit]")
        .click_and_wait_for_page();
    assert!(
        browser
            .page_text()
            .contains("Recovery confirmed by the payments team")
    );
}

#[test]
fn an_incidents_decision_shows_its_reasons_a_request_counts_and_an_action_item_is_finished() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(folder.path(), "hindsight.db", &[]);
    let (status, severe) = server.request(
        "POST",
        "/api/v1/incidents",
        Some(&serde_json::json!({
            "title": "Payments down",
            "severity": "SEV1",
            "started_at": "2026-11-20T12:20:00Z",
            "cause_origin": "external",
            "impact": {"user_visible_minutes": 95, "data_loss": true},
        })),
    );
    assert_eq!(status, 201);
    let (_, near_miss) = server.request(
        "POST",
        "/api/v1/incidents",
        Some(&serde_json::json!({
            "title": "Disk almost full",
            "severity": "SEV4",
            "started_at": "2026-11-20T09:00:00Z",
        })),
    );
    sign_in(&browser, &server, ADMIN_EMAIL, ADMIN_PASSWORD);

    // The decision, and every rule with why it fired and what it counted for.
    browser.open(&server.url(&format!("/incidents/{}", severe["id"])));
    assert_eq!(browser.find("#policy h2 .outcome").text(), "required");
    let panel = browser.find("#policy").text();
    assert!(panel.contains("Data was lost."), "{panel}");
    assert!(panel.contains("recommended (lowered)"), "{panel}");
    assert!(panel.contains("data loss is firm"), "{panel}");
    browser.screenshot(&screenshot_path("policy-decision"));

    // A near miss is not needed, until someone asks.
    browser.open(&server.url(&format!("/incidents/{}", near_miss["id"])));
    assert_eq!(browser.find("#policy h2 .outcome").text(), "not needed");
    browser.find("details.request summary").click();
    browser
        .find("details.request textarea[name=reason]")
        .type_text("The same disk filled up last month");
    browser
        .find("details.request button[type=submit]")
        .click_and_wait_for_page();
    assert_eq!(browser.find("#policy h2 .outcome").text(), "required");
    assert!(
        browser
            .find("#policy ul.requests")
            .text()
            .contains("The same disk filled up last month")
    );

    // An action item on its postmortem, added and finished through the page.
    let (_, postmortem) = server.request(
        "POST",
        "/api/v1/postmortems",
        Some(&serde_json::json!({"incidents": [near_miss["id"]]})),
    );
    browser.open(&server.url(&format!("/postmortems/{}/action-items", postmortem["id"])));
    browser
        .find("section.add-item input[name=title]")
        .type_text("Alert at 80% disk");
    browser
        .find("section.add-item select[name=owner] option[value='user:1']")
        .click();
    browser
        .find("section.add-item select[name=impact] option[value=high]")
        .click();
    browser
        .find("section.add-item button[type=submit]")
        .click_and_wait_for_page();
    let item = browser.find("li.action-item").text();
    assert!(item.contains("Alert at 80% disk"), "{item}");
    assert!(item.contains("P1"), "medium effort, high impact: {item}");
    browser
        .find("li.action-item select[name=status] option[value=done]")
        .click();
    browser
        .find("li.action-item input[name=verification]")
        .type_text("The alert fired in the test on 1 December");
    browser
        .find("li.action-item form.status-form button[type=submit]")
        .click_and_wait_for_page();
    assert!(
        browser
            .find("li.action-item")
            .text()
            .contains("The alert fired in the test on 1 December")
    );
    browser.screenshot(&screenshot_path("action-item-done"));
    let (_, items) = server.request(
        "GET",
        &format!("/api/v1/postmortems/{}/action-items", postmortem["id"]),
        None,
    );
    assert_eq!(items["items"][0]["status"], "done");
}

#[test]
fn an_event_years_before_the_start_is_confirmed_with_a_box_and_what_was_typed_stays() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(folder.path(), "hindsight.db", &[]);
    let (status, incident) = server.request(
        "POST",
        "/api/v1/incidents",
        Some(&serde_json::json!({
            "title": "Certificates expired on the edge",
            "severity": "SEV2",
            "started_at": "2026-11-20T12:20:00Z",
        })),
    );
    assert_eq!(status, 201);
    let id = incident["id"].clone();
    sign_in(&browser, &server, ADMIN_EMAIL, ADMIN_PASSWORD);
    browser.open(&server.url(&format!("/incidents/{id}")));
    browser.find("details.add-event summary").click();
    browser
        .find("details.add-event input[name=occurred_at]")
        .type_text("2024-11-20T09:00");
    browser
        .find("details.add-event textarea[name=text]")
        .type_text("The certificate was issued for two years");
    browser
        .find("details.add-event button[type=submit]")
        .click_and_wait_for_page();
    // Refused: the form says why, shows the box, and keeps what was typed.
    let refused = browser.page_text();
    assert!(
        refused.contains("a year or more before the incident started"),
        "{refused}"
    );
    assert_eq!(
        browser.find("textarea[name=text]").text(),
        "The certificate was issued for two years"
    );
    assert_eq!(browser.count("input[name=confirm_early]"), 1);
    browser.screenshot(&screenshot_path("early-event-refused"));
    browser.set_size(390, 900);
    browser.screenshot(&screenshot_path("early-event-refused-390"));
    browser.set_size(1400, 900);
    browser.color_scheme("dark");
    browser.screenshot(&screenshot_path("early-event-refused-dark"));
    browser.color_scheme("light");

    browser.find("input[name=confirm_early]").click();
    browser
        .find("form.event-form button[type=submit]")
        .click_and_wait_for_page();
    let saved = browser.page_text();
    assert!(
        saved.contains("The certificate was issued for two years"),
        "{saved}"
    );
    assert!(saved.contains("20 November 2024"), "{saved}");
    // Still there after a reload, and saving it unchanged needs no second confirmation.
    browser.open(&server.url(&format!("/incidents/{id}")));
    assert!(
        browser
            .page_text()
            .contains("The certificate was issued for two years")
    );
    browser
        .find("li.event.note.manual a.edit")
        .click_and_wait_for_page();
    browser
        .find("form.event-form button[type=submit]")
        .click_and_wait_for_page();
    let after = browser.page_text();
    assert!(
        !after.contains("a year or more") && after.contains("Certificates expired on the edge"),
        "the unchanged save went through: {after}"
    );
    let (_, timeline) = server.request("GET", &format!("/api/v1/incidents/{id}/timeline"), None);
    let early = timeline["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["text"] == "The certificate was issued for two years")
        .count();
    assert_eq!(early, 1);
}
