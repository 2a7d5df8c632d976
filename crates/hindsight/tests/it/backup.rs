//! `hindsight backup` and `hindsight restore` as an operator runs them: while the server takes
//! writes, and then onto a server that must serve every write it acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::support::{Server, run};

#[test]
fn a_backup_under_writes_restores_into_a_server_that_serves_every_acknowledged_write() {
    let folder = tempfile::tempdir().unwrap();
    let database = ["--database-url", "sqlite://hindsight.db"];
    let server = Server::start(folder.path(), "sqlite://hindsight.db", &["--no-jobs"]);
    let address = server.address;
    let token = server.token.clone();
    // Four writers create incidents as fast as they are acknowledged, until told to stop.
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<(i64, std::time::Instant)>>> = Arc::default();
    let writers: Vec<_> = (0..4)
        .map(|writer| {
            let stop = Arc::clone(&stop);
            let acknowledged = Arc::clone(&acknowledged);
            let token = token.clone();
            std::thread::spawn(move || {
                let mut count = 0;
                while !stop.load(Ordering::Relaxed) {
                    let body =
                        json!({"title": format!("Write {writer}-{count}"), "severity": "SEV3",
                                      "started_at": "2026-11-20T10:00:00Z"})
                        .to_string();
                    let (status, text) = crate::support::http_with(
                        address,
                        "POST",
                        "/api/v1/incidents",
                        Some(&body),
                        "application/json",
                        Some(&format!("Bearer {token}")),
                    );
                    if status == 201 {
                        let id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["id"]
                            .as_i64()
                            .unwrap();
                        acknowledged
                            .lock()
                            .unwrap()
                            .push((id, std::time::Instant::now()));
                    }
                    count += 1;
                }
            })
        })
        .collect();
    let acknowledged_count = |acknowledged: &Arc<Mutex<Vec<(i64, std::time::Instant)>>>| {
        acknowledged.lock().unwrap().len()
    };
    // Writes are under way before the backup starts …
    while acknowledged_count(&acknowledged) < 20 {
        std::thread::yield_now();
    }
    let before_backup = std::time::Instant::now();
    let printed = run(
        folder.path(),
        &[&["backup", "backup.db"][..], &database].concat(),
        None,
    )
    .expect("the backup finishes under writes");
    let after_backup = std::time::Instant::now();
    assert!(
        printed.contains("Backed up")
            && printed.contains("integrity check")
            && printed.contains(" s"),
        "it prints size and time: {printed}"
    );
    // … and go on after it.
    let after = acknowledged_count(&acknowledged);
    while acknowledged_count(&acknowledged) < after + 10 {
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let in_backup: Vec<i64> = acknowledged
        .iter()
        .filter(|(_, at)| *at < before_backup)
        .map(|(id, _)| *id)
        .collect();
    assert!(
        in_backup.len() > 10,
        "writes were under way: {}",
        in_backup.len()
    );
    assert!(
        acknowledged.len() > in_backup.len(),
        "writes went on during and after the backup"
    );

    // A second backup to the same file is refused; nothing is written over it.
    let again = run(
        folder.path(),
        &[&["backup", "backup.db"][..], &database].concat(),
        None,
    )
    .unwrap_err();
    assert!(again.contains("already exists"), "{again}");

    // Restoring over the database the server has open is refused, and changes nothing.
    let busy = run(
        folder.path(),
        &[&["restore", "backup.db"][..], &database].concat(),
        None,
    )
    .unwrap_err();
    assert!(busy.contains("is in use"), "{busy}");
    let (_, page) = server.request("GET", "/api/v1/incidents?limit=1", None);
    assert_eq!(
        page["items"][0]["id"],
        acknowledged.iter().map(|(id, _)| *id).max().unwrap()
    );
    drop(server);

    // A file that is no database, and one that is not Hindsight's, are refused before anything
    // is touched.
    std::fs::write(
        folder.path().join("junk.db"),
        b"not a database at all, just bytes".repeat(200),
    )
    .unwrap();
    let junk = run(
        folder.path(),
        &[&["restore", "junk.db"][..], &database].concat(),
        None,
    )
    .unwrap_err();
    assert!(junk.contains("junk.db"), "{junk}");

    let restored = run(
        folder.path(),
        &[&["restore", "backup.db"][..], &database].concat(),
        None,
    )
    .expect("the restore runs once the server has stopped");
    assert!(
        restored.contains("Restored") && restored.contains("schema version"),
        "{restored}"
    );
    let server = Server::start(folder.path(), "sqlite://hindsight.db", &["--no-jobs"]);
    for id in &in_backup {
        let (status, incident) = server.request("GET", &format!("/api/v1/incidents/{id}"), None);
        assert_eq!(
            status, 200,
            "incident {id}, acknowledged before the backup, is served"
        );
        assert!(incident["title"].as_str().unwrap().starts_with("Write "));
    }
    // What was written after the backup is gone: the database is the backup, not a mix.
    let later: Vec<i64> = acknowledged
        .iter()
        .filter(|(_, at)| *at > after_backup)
        .map(|(id, _)| *id)
        .collect();
    assert!(!later.is_empty());
    for id in later {
        let (status, _) = server.request("GET", &format!("/api/v1/incidents/{id}"), None);
        assert_eq!(status, 404, "incident {id} came after the backup");
    }
}

#[test]
fn backup_on_postgres_says_to_use_pg_dump() {
    let folder = tempfile::tempdir().unwrap();
    let said = run(
        folder.path(),
        &[
            "backup",
            "x.dump",
            "--database-url",
            "postgres://postgres@127.0.0.1:5432/none",
        ],
        None,
    )
    .unwrap_err();
    assert!(
        said.contains("pg_dump") && said.contains("pg_restore"),
        "{said}"
    );
    assert!(!folder.path().join("x.dump").exists());
}
