//! Forgetting a person (issue 15): a dry run lists every place their data lives and changes
//! nothing; the real run blanks it everywhere in one transaction — the directory, case data,
//! participants, history (inputs, effects, actors), outbox, audit and exports — so that a
//! marker put into their name, e-mail and notes is nowhere in the database file afterwards
//! (SQLite: the file's bytes after a checkpoint and VACUUM; PostgreSQL: every row, copied
//! into an SQLite file). Conformance suite: runs on PostgreSQL too (tests/pg.sh).
#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use mentorflow::{AuditFilter, Engine, ManualClock, Person, FORGET_ACTION};
use serde_json::json;
use support::{assert_folds, err, people, t0, REQUEST};
use support::{fresh_postgres, postgres_url};

const MARK: &str = "zqxmark";

fn open(db: &str, clock: &ManualClock) -> Engine {
    Engine::builder()
        .database(db)
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// Every byte of an SQLite file (and its WAL) after a checkpoint and VACUUM, lowercased.
fn file_text(path: &Path) -> String {
    let db = rusqlite::Connection::open(path).unwrap();
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM;")
        .unwrap();
    drop(db);
    let mut bytes = std::fs::read(path).unwrap();
    for ext in ["-wal", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(ext);
        if let Ok(b) = std::fs::read(&p) {
            bytes.extend(b);
        }
    }
    String::from_utf8_lossy(&bytes).to_lowercase()
}

#[test]
fn a_forgotten_person_leaves_no_trace_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("cases.db");
    let db = match postgres_url() {
        Some(base) => fresh_postgres(&base),
        None => file.to_string_lossy().into_owned(),
    };
    let clock = ManualClock::at(t0());
    let e = open(&db, &clock);
    e.put_people(&people()).unwrap();
    e.put_person(&Person::new("olga").org("ch1").role("admin"))
        .unwrap();
    // alice, with the marker in her name, e-mail and notes
    e.put_person(
        &Person::new("alice")
            .name("Alice Zqxmark")
            .email("alice.ZQXMARK@example.org")
            .org("ch1")
            .role("mentor")
            .attr("classification", "active")
            .attr("notes", "prefers mornings; zqxmark family"),
    )
    .unwrap();
    let mine = e
        .start(
            "request",
            "submit",
            "pat",
            json!({ "client_name": "Referred by Alice Zqxmark" }),
        )
        .unwrap();
    e.act(mine.id, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
    e.act(
        mine.id,
        "accept",
        "alice",
        json!({ "note": "Alice Zqxmark here: write to alice.zqxmark@example.org" }),
    )
    .unwrap();
    e.act(mine.id, "log_session", "alice", json!({})).unwrap();
    let other = e
        .start("request", "submit", "pat", json!({ "client_name": "Pat" }))
        .unwrap();
    let before_other = e.get(other.id, None).unwrap();
    let history_other = e.history(other.id, None).unwrap();
    let export_before = e.export("requests", None).unwrap();
    assert!(format!("{export_before:?}")
        .to_lowercase()
        .contains("alice"));

    // a dry run: every place, nothing changed
    let dry = e
        .forget_person("alice", "olga", "erasure request #7", true)
        .unwrap();
    assert!(dry.dry_run);
    assert_eq!(dry.pseudonym, "forgotten-1");
    assert_eq!(dry.cases, vec![mine.id]);
    let places: Vec<&str> = dry.places.iter().map(|p| p.place.as_str()).collect();
    for want in ["directory", "case", "history", "outbox", "audit", "sign-in"] {
        assert!(places.contains(&want), "{want} in {places:?}");
    }
    assert_eq!(
        e.person("alice").unwrap().name.as_deref(),
        Some("Alice Zqxmark")
    );
    assert_eq!(e.get(mine.id, None).unwrap().revision, 4);
    assert!(e
        .audit(&AuditFilter {
            kind: Some("person.forget".into()),
            ..AuditFilter::default()
        })
        .unwrap()
        .is_empty());

    // refused: not an operator, no reason, unknown person; nothing changes
    assert_eq!(
        err(e.forget_person("alice", "pat", "x", false)).code(),
        "not_permitted"
    );
    assert_eq!(
        err(e.forget_person("alice", "olga", " ", false)).code(),
        "validation"
    );
    assert_eq!(
        err(e.forget_person("nobody", "olga", "x", false)).code(),
        "not_found"
    );

    let done = e
        .forget_person("alice", "olga", "erasure request #7", false)
        .unwrap();
    assert!(!done.dry_run);
    assert_eq!(done.places, dry.places);
    assert_eq!(err(e.person("alice")).code(), "not_found");
    let p = e.person("forgotten-1").unwrap();
    assert_eq!(
        (p.name, p.email, p.org.as_deref()),
        (None, None, Some("ch1"))
    );
    assert!(p.attributes.is_empty());

    // the case: data, participants and history name the pseudonym; it still folds
    let c = e.get(mine.id, None).unwrap();
    assert_eq!(c.revision, 5);
    assert_eq!(c.data["client_name"], json!("Referred by forgotten-1"));
    assert_eq!(c.participants["mentor"], vec!["forgotten-1".to_owned()]);
    let h = e.history(mine.id, None).unwrap();
    let last = h.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        (FORGET_ACTION, "olga")
    );
    assert_eq!(last.inputs["person"], json!("forgotten-1"));
    assert!(h.iter().any(|ev| ev.actor == "forgotten-1"));
    assert_folds(&e, mine.id);
    // the other case is untouched
    assert_eq!(e.get(other.id, None).unwrap(), before_other);
    assert_eq!(e.history(other.id, None).unwrap(), history_other);
    // exports and notifications
    let export = format!("{:?}", e.export("requests", None).unwrap()).to_lowercase();
    assert!(
        !export.contains(MARK) && !export.contains("alice"),
        "{export}"
    );
    assert!(export.contains("forgotten-1"));
    let notes = format!("{:?}", e.notifications(&Default::default()).unwrap()).to_lowercase();
    assert!(!notes.contains(MARK), "{notes}");
    // the audit: one entry, by the operator, naming only the pseudonym
    let log = e
        .audit(&AuditFilter {
            kind: Some("person.forget".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].actor.as_str(), log[0].subject.as_str()),
        ("olga", "person:forgotten-1")
    );
    let audit = format!("{:?}", e.audit(&AuditFilter::default()).unwrap()).to_lowercase();
    assert!(!audit.contains(MARK), "{audit}");
    assert!(!audit.contains("person:alice"), "{audit}");
    // forgetting another person takes the next pseudonym
    assert_eq!(
        e.forget_person("bob", "olga", "left", true)
            .unwrap()
            .pseudonym,
        "forgotten-2"
    );
    drop(e);

    // the whole database: not a byte of the marker
    let text = match postgres_url() {
        Some(_) => {
            let copy = dir.path().join("copy.db");
            mentorflow::store::copy::copy(&db, &copy.to_string_lossy()).unwrap();
            file_text(&copy)
        }
        None => file_text(&file),
    };
    assert!(text.contains("forgotten-1"), "the file was read");
    assert!(!text.contains(MARK), "the marker is still in the database");
}
