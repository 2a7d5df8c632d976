//! The review meeting through the real binary: holidays read from an .ics file named in the
//! configuration, the invite downloaded and read by Python's icalendar, and meeting mode in a
//! browser.

use serde_json::{Value, json};

use crate::support::{ADMIN_EMAIL, ADMIN_PASSWORD, Browser, Server, http_with, icalendar};

/// London, 10:00, Mo as the only moderator, and the first business day after today a holiday
/// from `holidays.ics`. Answers the holiday and the day the review should be on.
fn configure(folder: &std::path::Path) -> (jiff::civil::Date, jiff::civil::Date) {
    use jiff::civil::Weekday;
    let london = jiff::tz::TimeZone::get("Europe/London").unwrap();
    let today = jiff::Timestamp::now().to_zoned(london).date();
    let next_weekday = |date: jiff::civil::Date| {
        let mut day = date.tomorrow().unwrap();
        while matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday) {
            day = day.tomorrow().unwrap();
        }
        day
    };
    let holiday = next_weekday(today);
    let review = next_weekday(holiday);
    let compact = |date: jiff::civil::Date| date.strftime("%Y%m%d").to_string();
    std::fs::write(
        folder.join("holidays.ics"),
        format!(
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//holidays//EN\r\nBEGIN:VEVENT\r\n\
             UID:h1@test\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:Company day\r\n\
             END:VEVENT\r\nEND:VCALENDAR\r\n",
            compact(holiday),
            compact(holiday.tomorrow().unwrap())
        ),
    )
    .unwrap();
    std::fs::write(
        folder.join("hindsight.toml"),
        r#"
[meetings]
organizer = "Reviews <reviews@example.com>"

[meetings.default]
time_zone = "Europe/London"
at = "10:00"
moderators = ["mo@example.com"]
holiday_files = ["holidays.ics"]
"#,
    )
    .unwrap();
    (holiday, review)
}

/// Ada owns an incident resolved an hour ago and its postmortem; Mo may moderate.
fn postmortem(server: &Server) -> i64 {
    let mut ids = Vec::new();
    for (email, name) in [("ada@example.com", "Ada"), ("mo@example.com", "Mo")] {
        let (status, user) = server.request(
            "POST",
            "/api/v1/users",
            Some(
                &json!({"email": email, "display_name": name, "role": "editor",
                         "password": "a long enough password"}),
            ),
        );
        assert_eq!(status, 201, "{user}");
        ids.push(user["id"].clone());
    }
    let resolved = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let (status, incident) = server.request(
        "POST",
        "/api/v1/incidents",
        Some(&json!({
            "title": "Checkout returns 502 for card payments",
            "severity": "SEV2",
            "status": "resolved",
            "owner": "Ada",
            "started_at": (resolved - jiff::SignedDuration::from_hours(2)).to_string(),
            "resolved_at": resolved.to_string(),
            "services": ["checkout"],
        })),
    );
    assert_eq!(status, 201, "{incident}");
    let (status, postmortem) = server.request(
        "POST",
        "/api/v1/postmortems",
        Some(&json!({"incidents": [incident["id"]], "owner": ids[0]})),
    );
    assert_eq!(status, 201, "{postmortem}");
    postmortem["id"].as_i64().unwrap()
}

fn ics(server: &Server, pm: i64) -> String {
    let (status, text) = http_with(
        server.address,
        "GET",
        &format!("/api/v1/postmortems/{pm}/meeting.ics"),
        None,
        "application/json",
        Some(&format!("Bearer {}", server.token)),
    );
    assert_eq!(status, 200, "{text}");
    text
}

#[test]
fn the_invite_skips_the_configured_holiday_and_icalendar_reads_every_version_of_it() {
    let folder = tempfile::tempdir().unwrap();
    let (holiday, review) = configure(folder.path());
    let server = Server::start(
        folder.path(),
        "hindsight.db",
        &["--config", "hindsight.toml"],
    );
    let pm = postmortem(&server);
    let base = format!("/api/v1/postmortems/{pm}/meeting");

    let (status, proposal) = server.request("GET", &format!("{base}/proposal"), None);
    assert_eq!(status, 200, "{proposal}");
    let local = proposal["local_start"].as_str().unwrap();
    assert!(
        local.starts_with(&format!("{review}T10:00:00")),
        "the holiday {holiday} is skipped: {local}"
    );
    assert_eq!(proposal["moderator"]["name"], "Mo");

    let (status, meeting) = server.request("POST", &base, Some(&json!({})));
    assert_eq!(status, 201, "{meeting}");
    let Some(read) = icalendar(&ics(&server, pm)) else {
        return;
    };
    assert_eq!(read["errors"], json!([]), "{read}");
    assert_eq!(read["method"], "REQUEST");
    assert_eq!(
        read["prodid"],
        "-//Hindsight//Hindsight postmortem reviews//EN"
    );
    assert_eq!(read["uid"], meeting["uid"]);
    assert_eq!(read["sequence"], 0);
    assert_eq!(read["tzid"], "Europe/London");
    assert_eq!(read["timezones"], json!(["Europe/London"]));
    assert_eq!(read["start_utc"].as_str(), meeting["starts_at"].as_str());
    assert_eq!(read["minutes"], 30);
    assert_eq!(read["organizer"], "mailto:reviews@example.com");
    let attendees: Vec<(&str, &str, &str)> = read["attendees"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["address"].as_str().unwrap(),
                a["role"].as_str().unwrap(),
                a["rsvp"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attendees,
        [
            ("mailto:mo@example.com", "CHAIR", "TRUE"),
            ("mailto:ada@example.com", "REQ-PARTICIPANT", "TRUE")
        ]
    );
    assert!(
        read["url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/postmortems/{pm}"))
    );

    // Moved a day: the same UID, the next SEQUENCE.
    let later = format!("{}T14:30", review.tomorrow().unwrap());
    let (status, moved) = server.request("PATCH", &base, Some(&json!({"starts_at": later})));
    assert_eq!(status, 200, "{moved}");
    let read = icalendar(&ics(&server, pm)).unwrap();
    assert_eq!(
        (read["uid"].clone(), read["sequence"].clone()),
        (meeting["uid"].clone(), json!(1))
    );
    assert_eq!(read["errors"], json!([]));

    // Cancelled: METHOD:CANCEL, STATUS:CANCELLED, the next SEQUENCE again.
    let (status, _) = server.request("POST", &format!("{base}/cancel"), None);
    assert_eq!(status, 200);
    let read = icalendar(&ics(&server, pm)).unwrap();
    assert_eq!(
        (
            read["method"].as_str(),
            read["status"].as_str(),
            read["sequence"].as_i64()
        ),
        (Some("CANCEL"), Some("CANCELLED"), Some(2))
    );
}

#[test]
fn a_bad_holiday_file_stops_the_server_with_the_file_and_line() {
    let folder = tempfile::tempdir().unwrap();
    configure(folder.path());
    std::fs::write(
        folder.path().join("holidays.ics"),
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\nDTSTART:next friday\nEND:VEVENT\nEND:VCALENDAR\n",
    )
    .unwrap();
    let error = crate::support::run(
        folder.path(),
        &[
            "serve",
            "--config",
            "hindsight.toml",
            "--database-url",
            "hindsight.db",
        ],
        None,
    )
    .unwrap_err();
    assert!(error.contains("meetings.default.holiday_files"), "{error}");
    assert!(error.contains("holidays.ics: line 3:"), "{error}");
}

fn sign_in(browser: &Browser, server: &Server) {
    browser.open(&server.url("/login"));
    browser.find("#email").type_text(ADMIN_EMAIL);
    browser.find("#password").type_text(ADMIN_PASSWORD);
    browser
        .find("form.signin button[type=submit]")
        .click_and_wait_for_page();
}

#[test]
fn a_meeting_is_scheduled_its_invite_downloaded_and_held_with_notes_in_meeting_mode() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    configure(folder.path());
    let server = Server::start(
        folder.path(),
        "hindsight.db",
        &["--config", "hindsight.toml"],
    );
    let pm = postmortem(&server);
    sign_in(&browser, &server);

    browser.open(&server.url(&format!("/postmortems/{pm}/meeting")));
    assert!(
        browser
            .find("section.conduct")
            .text()
            .contains("No finger-pointing")
    );
    browser
        .find("form.schedule-form button[type=submit]")
        .click_and_wait_for_page();
    let when = browser.find("dd.when").text();
    assert!(
        when.contains("10:00") && when.contains("30 minutes"),
        "{when}"
    );
    assert_eq!(browser.find("dd.moderator").text(), "Mo");

    // The invite link downloads the calendar file, as the browser fetches it.
    let download: Value = browser.run_async(
        "const done = arguments[arguments.length - 1]; \
         fetch(document.querySelector('a.invite').href, {credentials: 'same-origin'}) \
           .then(r => r.text().then(text => done({status: r.status, type: r.headers.get('content-type'), \
                  disposition: r.headers.get('content-disposition'), text: text})));",
        json!([]),
    );
    assert_eq!(download["status"], 200, "{download}");
    assert_eq!(
        download["type"],
        "text/calendar; charset=utf-8; method=REQUEST"
    );
    assert!(
        download["disposition"]
            .as_str()
            .unwrap()
            .contains(&format!("review-PM-{pm}.ics"))
    );
    if let Some(read) = icalendar(download["text"].as_str().unwrap()) {
        assert_eq!(read["errors"], json!([]), "{read}");
        assert_eq!(read["method"], "REQUEST");
    }

    // Notes are saved as they are typed, without pressing Save.
    browser
        .find("textarea[data-notes]")
        .type_text("Timeline agreed. Why 1: the connection pool was too small.");
    browser.wait_for_text(".save-state", "Saved");
    browser.screenshot(&crate::browser::screenshot_path("meeting-mode"));
    browser.open(&server.url(&format!("/postmortems/{pm}/meeting")));
    assert_eq!(
        browser.find("textarea[data-notes]").text(),
        "Timeline agreed. Why 1: the connection pool was too small."
    );

    browser
        .find("form.held-form button[type=submit]")
        .click_and_wait_for_page();
    assert_eq!(browser.find("section.meeting h2").text(), "Held");
    let (_, meeting) = server.request("GET", &format!("/api/v1/postmortems/{pm}/meeting"), None);
    assert_eq!(meeting["status"], "held");
    assert_eq!(meeting["attendees"][0]["attended"], true);
    assert_eq!(
        meeting["notes"],
        "Timeline agreed. Why 1: the connection pool was too small."
    );
}

#[test]
fn the_cli_checks_a_holiday_file_and_prints_the_meeting_rules() {
    let folder = tempfile::tempdir().unwrap();
    let (holiday, _) = configure(folder.path());
    let dates = crate::support::run(
        folder.path(),
        &["meetings", "holidays", "holidays.ics"],
        None,
    )
    .unwrap();
    assert_eq!(
        dates.trim(),
        format!("{holiday} {}", holiday.strftime("%A"))
    );
    std::fs::write(
        folder.path().join("bad.ics"),
        "BEGIN:VCALENDAR\nBEGIN:VEVENT\n",
    )
    .unwrap();
    let error =
        crate::support::run(folder.path(), &["meetings", "holidays", "bad.ics"], None).unwrap_err();
    assert!(error.contains("bad.ics: an event is not closed"), "{error}");

    let rules = crate::support::run(
        folder.path(),
        &["meetings", "rules", "--config", "hindsight.toml"],
        None,
    )
    .unwrap();
    assert!(
        rules.contains("organizer: Reviews <reviews@example.com>"),
        "{rules}"
    );
    assert!(
        rules.contains("meets at 10:00 Europe/London, on monday, tuesday"),
        "{rules}"
    );
    assert!(rules.contains(&format!("holidays: {holiday}")), "{rules}");
    assert!(rules.contains("moderators: mo@example.com"), "{rules}");
}
