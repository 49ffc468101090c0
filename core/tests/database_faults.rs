//! The database file going wrong: a newer schema, corruption (damaged pages, truncation), a
//! read-only file, a full disk (a child process under a file-size limit). Each gives a clear
//! `Storage` error, never a panic, and nothing that was committed before is lost.
//!
//! `store.rs` covers refusing a newer schema on an empty file, another application's SQLite
//! file, a text file and a missing folder; this suite adds committed data to each story.
#![allow(clippy::unwrap_used)]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use mentorflow::store::schema::SCHEMA_VERSION;
use mentorflow::{Engine, Error, ManualClock};
use rusqlite::Connection;
use serde_json::json;
use support::{people, t0, temp_db, REQUEST};

fn open(path: &Path) -> mentorflow::Result<Engine> {
    open_uri(&path.display().to_string())
}

fn open_uri(target: &str) -> mentorflow::Result<Engine> {
    Engine::builder()
        .database(target)
        .workflow_str("request.yaml", REQUEST)
        .clock(ManualClock::at(t0()))
        .build()
}

/// A file database holding `n` committed cases (each with history, notes, a notification).
fn populated(n: usize) -> (tempfile::TempDir, PathBuf, Vec<i64>) {
    let (dir, path) = temp_db();
    let e = open(&path).unwrap();
    e.put_people(&people()).unwrap();
    let ids = (0..n)
        .map(|i| {
            let c = e
                .start(
                    "request",
                    "submit",
                    "pat",
                    json!({"client_name": format!("Client {i}")}),
                )
                .unwrap();
            e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
                .unwrap();
            c.id
        })
        .collect();
    drop(e);
    (dir, path, ids)
}

/// Whether a message says the file is damaged, in one of SQLite's or mentorflow's words.
fn damage_named(m: &str) -> bool {
    [
        "not a valid mentorflow database",
        "malformed",
        "damaged",
        "stored JSON could not be read",
    ]
    .iter()
    .any(|w| m.contains(w))
}

fn storage_message(e: Error) -> String {
    match e {
        Error::Storage { message } => message,
        other => panic!("expected a storage error, got {other:?}"),
    }
}

/// Every committed case is there, whole.
fn all_there(path: &Path, ids: &[i64]) {
    let ok: String = Connection::open(path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let e = open(path).unwrap();
    for &id in ids {
        let c = e.get(id, None).unwrap();
        assert_eq!(c.state, "pending", "case {id}");
        support::assert_folds(&e, id);
    }
}

#[test]
fn a_newer_schema_is_refused_and_its_data_left_intact() {
    let (_dir, path, ids) = populated(3);
    let before = std::fs::read(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let m = storage_message(support::err(open(&path)));
    assert!(
        m.contains("newer") && m.contains("upgrade mentorflow"),
        "{m}"
    );
    // nothing was written: put the version back and every case is there
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION)
        .unwrap();
    assert_eq!(std::fs::read(&path).unwrap().len(), before.len());
    all_there(&path, &ids);
}

/// Every read the API offers, on a damaged file: an error or a value, never a panic.
fn read_everything(e: &Engine, ids: &[i64]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut note = |r: mentorflow::Result<()>| {
        if let Err(err) = r {
            assert_eq!(err.code(), "storage", "{err:?}");
            assert!(damage_named(&err.to_string()), "{err}");
            errors.push(err.to_string());
        }
    };
    note(e.cases(&Default::default()).map(drop));
    note(e.people(None).map(drop));
    note(e.notifications(&Default::default()).map(drop));
    note(e.view("queue", "cody").map(drop));
    note(e.export("requests", None).map(drop));
    note(e.tick().map(drop));
    for &id in ids {
        note(e.get(id, None).map(drop));
        note(e.history(id, None).map(drop));
        note(e.timers(id).map(drop));
    }
    note(
        e.start("request", "submit", "pat", json!({"client_name": "New"}))
            .map(drop),
    );
    errors
}

#[test]
fn damaged_pages_give_storage_errors_not_panics() {
    let (_dir, path, ids) = populated(40);
    let len = std::fs::metadata(&path).unwrap().len() as usize;
    assert!(len > 8 * 4096, "enough pages to damage ({len} bytes)");
    // overwrite every page but the first (the header) with a pattern, page by page
    let mut seen_errors = 0;
    for page in 1..(len / 4096) {
        let copy = path.with_extension(format!("damaged{page}"));
        let mut bytes = std::fs::read(&path).unwrap();
        for b in &mut bytes[page * 4096..(page + 1) * 4096] {
            *b = 0xA5;
        }
        std::fs::write(&copy, bytes).unwrap();
        match open(&copy) {
            Ok(e) => seen_errors += read_everything(&e, &ids).len(),
            Err(err) => {
                let m = storage_message(err);
                assert!(damage_named(&m), "{m}");
                seen_errors += 1;
            }
        }
    }
    assert!(seen_errors > 0, "damage was noticed somewhere");
    // the original is untouched
    all_there(&path, &ids);
}

#[test]
fn a_truncated_file_gives_a_storage_error() {
    let (_dir, path, ids) = populated(40);
    let bytes = std::fs::read(&path).unwrap();
    for keep in [bytes.len() / 2, bytes.len() - 4096, 100] {
        let copy = path.with_extension(format!("cut{keep}"));
        std::fs::write(&copy, &bytes[..keep]).unwrap();
        match open(&copy) {
            Ok(e) => {
                let errors = read_everything(&e, &ids);
                assert!(!errors.is_empty(), "a file cut to {keep} bytes read clean");
            }
            Err(err) => {
                let m = storage_message(err);
                assert!(damage_named(&m), "{m}");
            }
        }
    }
}

#[test]
fn a_read_only_file_reads_and_refuses_writes_clearly() {
    let (_dir, path, ids) = populated(3);
    let uri = format!("file:{}?mode=ro", path.display());
    let e = match open_uri(&uri) {
        Ok(e) => e,
        Err(err) => panic!("a read-only file whose definitions are deployed opens: {err}"),
    };
    for &id in &ids {
        assert_eq!(e.get(id, None).unwrap().state, "pending");
        assert!(!e.history(id, None).unwrap().is_empty());
    }
    assert_eq!(e.view("queue", "cody").unwrap().len(), 0);
    let before = std::fs::read(&path).unwrap();
    for r in [
        e.start("request", "submit", "pat", json!({"client_name": "New"}))
            .map(drop),
        e.act(ids[0], "accept", "alice", json!({"note": "hi"}))
            .map(drop),
        e.put_person(&mentorflow::Person::new("new").org("ch1"))
            .map(drop),
    ] {
        let m = storage_message(r.unwrap_err());
        assert!(m.contains("read-only"), "{m}");
    }
    // a sweep with nothing due reads only; one with timers due says read-only too
    assert_eq!(e.tick().unwrap().fired, 0);
    drop(e);
    assert_eq!(std::fs::read(&path).unwrap(), before, "nothing was written");
    // a read-only file that still needs a definition deployed is refused when it opens
    let changed = REQUEST.replace("title: Mentoring request", "title: Changed request");
    let r = Engine::builder()
        .database(&uri)
        .workflow_str("request.yaml", changed.replace("version: 1", "version: 2"))
        .build();
    let m = storage_message(r.unwrap_err());
    assert!(m.contains("read-only"), "{m}");
    all_there(&path, &ids);
}

// ---- a full disk --------------------------------------------------------------------------------

/// Started under a file-size limit by `a_full_disk_refuses_the_write_and_keeps_what_was_committed`:
/// commit cases until the file cannot grow, then report.
#[test]
fn full_disk_child() {
    let Ok(db) = std::env::var("MF_FULL_CHILD") else {
        return;
    };
    let e = open(Path::new(&db)).unwrap();
    let text = "x".repeat(3000);
    for i in 0..100_000 {
        match e.start(
            "request",
            "submit",
            "pat",
            json!({"client_name": format!("Full {i}"), "reason": text}),
        ) {
            Ok(c) => println!("COMMITTED {}", c.id),
            Err(err) => {
                println!("ERROR {} {err}", err.code());
                // reads still work on the same engine
                let n = e.cases(&Default::default()).unwrap().len();
                println!("READABLE {n}");
                return;
            }
        }
    }
    println!("NEVER FULL");
}

#[test]
fn a_full_disk_refuses_the_write_and_keeps_what_was_committed() {
    if std::env::var("MF_FULL_CHILD").is_ok() {
        return;
    }
    let (_dir, path, ids) = populated(5);
    let size = std::fs::metadata(&path).unwrap().len();
    // bash's `ulimit -f` counts 1024-byte blocks; SIGXFSZ is ignored so writes fail with EFBIG
    let limit_kb = size / 1024 + 64;
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {limit_kb}; exec \"$0\" full_disk_child --exact --nocapture --test-threads=1"
        ))
        .arg(&exe)
        .env("MF_FULL_CHILD", &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the child crashed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let committed: Vec<i64> = stdout
        .lines()
        .filter_map(|l| l.find("COMMITTED ").map(|i| &l[i + 10..]))
        .map(|id| id.parse().unwrap())
        .collect();
    let error = stdout
        .lines()
        .find_map(|l| l.find("ERROR ").map(|i| &l[i + 6..]))
        .unwrap_or_else(|| panic!("the file never filled up:\n{stdout}"));
    assert!(error.starts_with("storage "), "{error}");
    assert!(
        error.contains("full") || error.contains("could not be written"),
        "a clear message: {error}"
    );
    assert!(stdout.contains("READABLE"), "{stdout}");
    assert!(!committed.is_empty(), "some cases fitted before the limit");
    // without the limit: everything committed is there, and the engine goes on
    let mut all = ids.clone();
    all.extend(&committed);
    let e = open(&path).unwrap();
    for &id in &all {
        let c = e.get(id, None).unwrap();
        support::assert_folds(&e, id);
        assert!(c.revision >= 1);
    }
    let count = e.cases(&Default::default()).unwrap().len();
    assert_eq!(count, all.len(), "no half-written case:\n{stdout}");
    e.start("request", "submit", "pat", json!({"client_name": "After"}))
        .unwrap();
    drop(e);
    let ok: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    eprintln!(
        "full disk: {} cases committed under a {limit_kb} KiB limit, then: {error}",
        committed.len()
    );
}
