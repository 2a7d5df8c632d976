//! Schemathesis, a property-based API tester, against a real `hindsight serve` with data: it
//! reads `/api/openapi.json`, generates requests for every operation (valid and invalid,
//! alone and chained), and checks every answer against the document. The run is bounded and
//! reproducible (a fixed seed and example count) and must end with no failure.

use std::path::PathBuf;
use std::process::Command;

use crate::support::Server;

const REQUIRE_ENV: &str = "HINDSIGHT_REQUIRE_SCHEMATHESIS";

fn binary() -> Option<PathBuf> {
    let configured = std::env::var("HINDSIGHT_SCHEMATHESIS")
        .ok()
        .map(PathBuf::from);
    let found = configured.or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("schemathesis"))
                .find(|path| path.is_file())
        })
    });
    if found.is_none() && std::env::var(REQUIRE_ENV).is_ok_and(|value| value == "1") {
        panic!("{REQUIRE_ENV}=1 but schemathesis is not installed (pip install schemathesis)");
    }
    if found.is_none() {
        eprintln!("skipped: pip install schemathesis to check the API against its document");
    }
    found
}

/// 422 is how the API refuses data that its schema allows but its rules do not (a detection
/// before the start, an owner who is no user, demoting yourself): rules across fields and
/// stored data, which JSON Schema cannot state. Every other answer is checked as it comes.
const CONFIG: &str = r#"
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "401", "403", "404", "409", "422"]
"#;

#[test]
fn every_api_operation_answers_as_the_openapi_document_says() {
    let Some(schemathesis) = binary() else {
        return;
    };
    let folder = tempfile::tempdir().unwrap();
    let server = Server::start(
        folder.path(),
        "sqlite://hindsight.db",
        &["--demo", "--no-jobs"],
    );
    std::fs::write(folder.path().join("schemathesis.toml"), CONFIG).unwrap();
    let examples = std::env::var("HINDSIGHT_SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "50".into());
    let run = |filter: &[&str]| {
        let output = Command::new(&schemathesis)
            .current_dir(folder.path())
            .args(["run", &server.url("/api/openapi.json")])
            .args([
                "--header",
                &format!("Authorization: Bearer {}", server.token),
            ])
            .args(["--seed", "20261202", "--max-examples", &examples])
            .args([
                "--checks",
                "all",
                "--phases",
                "examples,coverage,fuzzing,stateful",
            ])
            // NUL is refused in every text (422 naming the field), a rule the document states
            // once, in its description, rather than on each string.
            .args(["--generation-allow-x00", "false"])
            .args(["--workers", "1", "--request-timeout", "30", "--no-color"])
            // Hypothesis's health checks judge how fast data is generated, not the API; on a
            // machine busy with the rest of the suite they fail a run that found nothing.
            .args(["--suppress-health-check", "all"])
            .args(filter)
            .output()
            .expect("schemathesis runs");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let summary = text
            .find("SUMMARY")
            .map_or(text.as_str(), |at| &text[at.saturating_sub(40)..]);
        println!("{summary}");
        assert!(
            output.status.success(),
            "schemathesis found answers the document does not describe:\n{text}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    // Revoking a token could revoke the one the run itself uses, so that operation runs on its
    // own, last.
    run(&["--exclude-path-regex", r"^/api/v1/tokens/\{id\}$"]);
    run(&["--include-path-regex", r"^/api/v1/tokens/\{id\}$"]);
}
