//! The web UI in headless Chromium, against the real binary on a loopback port. Later features
//! add their stories here, using [`Browser`] and [`Server`].

use crate::support::{Browser, Server};

fn screenshot_path(name: &str) -> std::path::PathBuf {
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
