//! The binary as an operator meets it: help, configuration, start, restart.

use serde_json::json;

use crate::support::{Server, hindsight};

#[test]
fn every_command_has_help() {
    for command in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["backup", "--help"],
        &["restore", "--help"],
        &["config", "default", "--help"],
        &["export", "--help"],
        &["import", "--help"],
        &["lint", "--help"],
        &["policy", "check", "--help"],
        &["policy", "rules", "--help"],
    ] {
        let output = hindsight().args(command).output().unwrap();
        assert!(output.status.success(), "{command:?}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(text.contains("Usage: hindsight"), "{command:?}: {text}");
    }
    let serve = hindsight().args(["serve", "--help"]).output().unwrap();
    let text = String::from_utf8(serve.stdout).unwrap();
    for flag in [
        "--listen",
        "--database-url",
        "--config",
        "--log-format",
        "--demo",
        "HINDSIGHT_DATABASE_URL",
    ] {
        assert!(text.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn config_default_prints_a_file_that_serve_accepts() {
    let folder = tempfile::tempdir().unwrap();
    let output = hindsight().args(["config", "default"]).output().unwrap();
    assert!(output.status.success());
    let path = folder.path().join("hindsight.toml");
    std::fs::write(&path, &output.stdout).unwrap();
    let migrate = hindsight()
        .args(["migrate", "--config", path.to_str().unwrap()])
        .current_dir(folder.path())
        .env("HINDSIGHT_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(folder.path().join("hindsight.db").exists());
}

#[test]
fn a_bad_configuration_stops_the_start_with_a_message_that_names_it() {
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("hindsight.toml");
    std::fs::write(&path, "listen = \"nowhere\"\n").unwrap();
    let output = hindsight()
        .args(["serve", "--config", path.to_str().unwrap()])
        .current_dir(folder.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(
        message.contains("listen = \"nowhere\" is not an ADDRESS:PORT"),
        "{message}"
    );
    let missing = hindsight()
        .args(["serve", "--config", "/nonexistent/hindsight.toml"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("cannot read the configuration file")
    );
    let unreachable = hindsight()
        .args([
            "migrate",
            "--database-url",
            "postgres://postgres@127.0.0.1:1/none",
        ])
        .env("HINDSIGHT_LOG", "off")
        .output()
        .unwrap();
    assert!(!unreachable.status.success());
    assert!(String::from_utf8_lossy(&unreachable.stderr).contains("cannot open the database"));
}

fn an_incident_created_over_http_is_there_after_a_restart(database_url: &str) {
    let folder = tempfile::tempdir().unwrap();
    let created = {
        let server = Server::start(folder.path(), database_url, &[]);
        let (status, body) = server.request(
            "POST",
            "/api/v1/incidents",
            Some(&json!({"title": "Survives restarts", "severity": "SEV3", "started_at": "2026-11-20T10:00:00Z"})),
        );
        assert_eq!(status, 201, "{body}");
        body
    };
    let server = Server::start(folder.path(), database_url, &[]);
    let (status, body) =
        server.request("GET", &format!("/api/v1/incidents/{}", created["id"]), None);
    assert_eq!(status, 200);
    let mut body = body;
    // A read also names the postmortems that cover it; a create answers the incident alone.
    assert_eq!(
        body.as_object_mut().unwrap().remove("postmortems"),
        Some(json!([]))
    );
    assert_eq!(body, created);
    let (status, ready) = server.request("GET", "/readyz", None);
    assert_eq!((status, ready["status"].as_str()), (200, Some("ready")));
}

#[test]
fn on_sqlite_an_incident_created_over_http_is_there_after_a_restart() {
    an_incident_created_over_http_is_there_after_a_restart("hindsight.db");
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgres_an_incident_created_over_http_is_there_after_a_restart() {
    let Some(database) = hindsight_store::testing::TestDatabase::postgres().await else {
        return;
    };
    let url = database.url().to_owned();
    tokio::task::spawn_blocking(move || {
        an_incident_created_over_http_is_there_after_a_restart(&url)
    })
    .await
    .unwrap();
    drop(database);
}

#[test]
fn demo_data_fills_an_empty_database_once() {
    let folder = tempfile::tempdir().unwrap();
    let count = |server: &Server| {
        let (_, body) = server.request("GET", "/api/v1/incidents?limit=200", None);
        body["items"].as_array().unwrap().len()
    };
    let first = Server::start(folder.path(), "hindsight.db", &["--demo"]);
    let loaded = count(&first);
    assert!(loaded >= 5, "{loaded}");
    drop(first);
    let second = Server::start(folder.path(), "hindsight.db", &["--demo"]);
    assert_eq!(count(&second), loaded);
    let (_, postmortems) = second.request("GET", "/api/v1/postmortems", None);
    assert_eq!(postmortems["items"].as_array().unwrap().len(), 1);
    let id = &postmortems["items"][0]["id"];
    let (_, lint) = second.request("GET", &format!("/api/v1/postmortems/{id}/lint"), None);
    assert!(
        lint["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|finding| finding["rule"] == "blame"),
        "the demo shows the lint at work: {lint}"
    );
}

#[test]
fn json_logs_are_one_object_per_line() {
    let folder = tempfile::tempdir().unwrap();
    let output = hindsight()
        .args(["migrate", "--log-format", "json"])
        .current_dir(folder.path())
        .env("HINDSIGHT_LOG", "info")
        .output()
        .unwrap();
    assert!(output.status.success());
    let logs = String::from_utf8(output.stderr).unwrap();
    let line = logs
        .lines()
        .find(|line| line.contains("migration applied"))
        .unwrap_or_else(|| panic!("no migration log in {logs:?}"));
    let entry: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(entry["level"], "INFO");
    assert_eq!(entry["migration.name"], "incident");
}

#[tokio::test(flavor = "multi_thread")]
async fn several_instances_share_one_postgres_database() {
    let Some(database) = hindsight_store::testing::TestDatabase::empty_postgres().await else {
        return;
    };
    // The database is empty: the three migrations below race to create the schema.
    let url = database.url().to_owned();
    tokio::task::spawn_blocking(move || {
        let folder = tempfile::tempdir().unwrap();
        let migrations: Vec<_> = (0..3)
            .map(|_| {
                hindsight()
                    .args(["migrate", "--database-url", &url])
                    .env("HINDSIGHT_LOG", "warn")
                    .spawn()
                    .unwrap()
            })
            .collect();
        for mut migration in migrations {
            assert!(migration.wait().unwrap().success());
        }
        let first = Server::start(folder.path(), &url, &[]);
        let second = Server::start(folder.path(), &url, &[]);
        let (status, created) = first.request(
            "POST",
            "/api/v1/incidents",
            Some(&json!({"title": "Seen by both", "severity": "SEV2", "started_at": "2026-11-20T10:00:00Z"})),
        );
        assert_eq!(status, 201);
        let uri = format!("/api/v1/incidents/{}", created["id"]);
        let (status, patched) = second.request("PATCH", &uri, Some(&json!({"status": "resolved"})));
        assert_eq!(status, 200);
        let (_, mut read) = first.request("GET", &uri, None);
        read.as_object_mut().unwrap().remove("postmortems");
        assert_eq!(read, patched);
    })
    .await
    .unwrap();
    drop(database);
}

#[test]
fn lint_reports_findings_by_file_line_and_column_and_exits_by_outcome() {
    let folder = tempfile::tempdir().unwrap();
    let postmortems = folder.path().join("postmortems");
    std::fs::create_dir(&postmortems).unwrap();
    std::fs::write(
        postmortems.join("inc-7.md"),
        "# Summary\n\nPriya forgot to run the migration.\n\n```\nSam forgot\n```\n",
    )
    .unwrap();
    std::fs::write(
        postmortems.join("clean.md"),
        "The health check failed to respond.\n",
    )
    .unwrap();
    std::fs::write(
        postmortems.join("notes.txt"),
        "Priya forgot, but this is not Markdown.\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        let output = hindsight()
            .args(args)
            .current_dir(folder.path())
            .output()
            .unwrap();
        (
            output.status.code().unwrap(),
            String::from_utf8(output.stdout).unwrap(),
        )
    };
    let (code, text) = run(&["lint", "postmortems", "--person", "Priya"]);
    assert_eq!(code, 1);
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("postmortems/inc-7.md:3:1 blame "),
        "{text}"
    );
    assert_eq!(run(&["lint", "postmortems/clean.md"]).0, 0);
    assert_eq!(run(&["lint", "postmortems/absent.md"]).0, 2);
    let (code, json) = run(&[
        "lint",
        "postmortems",
        "--person",
        "Priya",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let document: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(document["version"], 1);
    assert_eq!(document["files"][1]["findings"][0]["rule"], "blame");
}

fn run_code(folder: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let output = hindsight()
        .args(args)
        .current_dir(folder)
        .env("HINDSIGHT_LOG", "warn")
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

#[test]
fn postmortems_export_to_a_folder_and_import_back_file_by_file() {
    let folder = tempfile::tempdir().unwrap();
    let database = "hindsight.db";
    let server = Server::start(folder.path(), database, &[]);
    let (_, incident) = server.request(
        "POST",
        "/api/v1/incidents",
        Some(&json!({"title": "Checkout 502", "severity": "SEV2", "started_at": "2026-11-20T10:00:00Z"})),
    );
    let (status, postmortem) = server.request(
        "POST",
        "/api/v1/postmortems",
        Some(&json!({"incidents": [incident["id"]]})),
    );
    assert_eq!(status, 201, "{postmortem}");
    let id = postmortem["id"].as_i64().unwrap();
    let (status, _) = server.request(
        "PATCH",
        &format!("/api/v1/postmortems/{id}"),
        Some(&json!({"version": 1, "sections": {"summary": "Checkout failed."}})),
    );
    assert_eq!(status, 200);

    let (code, out, err) = run_code(
        folder.path(),
        &["export", "exported", "--database-url", database],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Exported 1 postmortems"), "{out}");
    let path = folder.path().join(format!("exported/pm-{id}.md"));
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("## Summary {#summary}\n\nCheckout failed."));

    // The same files read back change nothing.
    let (code, out, err) = run_code(
        folder.path(),
        &["import", "exported", "--database-url", database],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0 created, 0 updated, 1 skipped"), "{out}");

    // An edited file updates; a broken one and one naming an unknown incident are refused
    // with their reasons, and the good one still lands.
    std::fs::write(
        &path,
        text.replace("Checkout failed.", "Checkout failed for 14 minutes."),
    )
    .unwrap();
    std::fs::write(
        folder.path().join("exported/broken.md"),
        "+++\nformat = \"hindsight-postmortem/1\"\nstatus = \"draft\"\ntitle = \"Broken\ntemplate = \"default\"\n+++\n",
    )
    .unwrap();
    std::fs::write(
        folder.path().join("exported/unknown.md"),
        "+++\nformat = \"hindsight-postmortem/1\"\nstatus = \"draft\"\ntitle = \"Other\"\ntemplate = \"default\"\nincidents = [4242]\n+++\n",
    )
    .unwrap();
    let (code, out, _) = run_code(
        folder.path(),
        &["import", "exported", "--database-url", database],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("0 created, 1 updated, 0 skipped (unchanged), 2 refused"),
        "{out}"
    );
    assert!(out.contains("broken.md: line 4:"), "{out}");
    assert!(
        out.contains("unknown.md: incidents: there is no incident 4242"),
        "{out}"
    );
    let (_, stored) = server.request("GET", &format!("/api/v1/postmortems/{id}"), None);
    assert_eq!(
        stored["sections"]["summary"],
        "Checkout failed for 14 minutes."
    );
    assert_eq!(stored["version"], 3);
    let (_, history) = server.request("GET", &format!("/api/v1/postmortems/{id}/history"), None);
    assert_eq!(history[2]["author"]["name"], "import");
    let (_, list) = server.request("GET", "/api/v1/postmortems", None);
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing half-written"
    );

    // The offline lint reads the same files, front matter and all.
    let (code, out, err) = run_code(folder.path(), &["lint", path.to_str().unwrap()]);
    assert_eq!(code, 1, "{err}");
    assert!(out.contains("required_section"), "{out}");
    let (code, _, err) = run_code(folder.path(), &["lint", "exported/broken.md"]);
    assert_eq!(code, 2);
    assert!(err.contains("broken.md:line 4:"), "{err}");
}

#[test]
fn policy_check_prints_the_decision_with_every_rule_and_refuses_a_bad_file() {
    let folder = tempfile::tempdir().unwrap();
    std::fs::write(
        folder.path().join("incident.json"),
        r#"{"id": 7, "title": "Payments down", "severity": "SEV3", "started_at": "2026-11-20T12:00:00Z",
            "resolved_at": "2026-11-20T15:00:00Z", "cause_origin": "external",
            "impact": {"user_visible_minutes": 120, "data_loss": true},
            "created_at": "2026-11-20T12:05:00Z", "updated_at": "2026-11-20T15:00:00Z"}"#,
    )
    .unwrap();
    let (code, out, err) = run_code(folder.path(), &["policy", "check", "incident.json"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Payments down: required\n"), "{out}");
    assert!(out.contains("data loss is firm"), "{out}");
    assert!(out.contains("recommended (lowered)"), "{out}");
    assert!(out.contains("external_cause"), "{out}");
    assert!(out.contains("due on 2026-11-27"), "{out}");

    // The configured policy decides: without firm data loss, the external cause lowers it.
    std::fs::write(
        folder.path().join("hindsight.toml"),
        "[policy]\nfirm = []\n",
    )
    .unwrap();
    let (code, out, _) = run_code(
        folder.path(),
        &[
            "policy",
            "check",
            "incident.json",
            "--config",
            "hindsight.toml",
            "--json",
        ],
    );
    assert_eq!(code, 0);
    let decision: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(decision["outcome"], "recommended");

    std::fs::write(
        folder.path().join("bad.json"),
        r#"{"title": "x", "severity": "SEV9"}"#,
    )
    .unwrap();
    let (code, _, err) = run_code(folder.path(), &["policy", "check", "bad.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("severity"), "{err}");
    assert!(err.contains("started_at"), "{err}");
    let (code, _, err) = run_code(folder.path(), &["policy", "check", "missing.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read missing.json"), "{err}");
}

#[test]
fn the_cli_refuses_a_token_wider_than_its_users_role_as_the_api_does() {
    let folder = tempfile::tempdir().unwrap();
    let database = ["--database-url", "sqlite://hindsight.db"];
    crate::support::run(
        folder.path(),
        &[
            &[
                "user",
                "create",
                "--email",
                "vi@example.com",
                "--password-stdin",
            ][..],
            &database,
        ]
        .concat(),
        Some("a long enough passphrase\n"),
    )
    .expect("the viewer is created");
    let token = |scope: &str| {
        run_code(
            folder.path(),
            &[
                &[
                    "token",
                    "create",
                    "--email",
                    "vi@example.com",
                    "--name",
                    "ci",
                    "--scope",
                    scope,
                ][..],
                &database,
            ]
            .concat(),
        )
    };
    let (code, stdout, stderr) = token("admin");
    assert_ne!(code, 0, "{stdout}");
    assert!(
        stderr.contains(
            "vi@example.com is a viewer, so their tokens can have the read scope at most"
        ) && stderr.contains("you may not create a token with the admin scope"),
        "{stderr}"
    );
    assert!(!stdout.contains("Token (shown once)"));
    let (code, _, stderr) = token("write");
    assert_ne!(code, 0, "{stderr}");
    let (code, stdout, stderr) = token("read");
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("Token (shown once)"));
    let (_, list, _) = run_code(folder.path(), &[&["token", "list"][..], &database].concat());
    let tokens: Vec<&str> = list.lines().collect();
    assert_eq!(tokens.len(), 1, "only the read token was made: {list}");
    assert!(tokens[0].contains("\tci\tread\t"), "{list}");
}
