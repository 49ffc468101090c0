//! Storage: the schema and its upgrade from the frozen v1, refusing newer, foreign and corrupt
//! files, pinned definition versions, WAL.
#![allow(clippy::unwrap_used)]
mod support;

use std::path::Path;

use mentorflow::definition::load_str;
use mentorflow::script::Scripts;
use mentorflow::store::schema::{SCHEMA_VERSION, V1};
use mentorflow::{Engine, Error, Limits, ManualClock, Person};
use rusqlite::Connection;
use serde_json::json;
use support::{err, people, t0, temp_db, REQUEST};

fn open(path: &Path) -> mentorflow::Result<Engine> {
    let e = Engine::builder()
        .database(path)
        .workflow_str("request.yaml", REQUEST)
        .clock(ManualClock::at(t0()))
        .build()?;
    e.put_people(&people())?;
    Ok(e)
}

/// Tables and indexes with their SQL, whitespace normalised, sorted.
fn schema_of(path: &Path) -> Vec<(String, String, String)> {
    let db = Connection::open(path).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT type, name, coalesce(sql, '') FROM sqlite_master
             WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .unwrap();
    rows.map(|r| {
        let (t, n, sql) = r.unwrap();
        (t, n, normalise(&sql))
    })
    .collect()
}

fn normalise(sql: &str) -> String {
    let words = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    words
        .replace("( ", "(")
        .replace(" )", ")")
        .replace(" ,", ",")
}

fn user_version(path: &Path) -> i64 {
    Connection::open(path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap()
}

fn storage_message(e: Error) -> String {
    match e {
        Error::Storage { message } => message,
        other => panic!("expected a storage error, got {other:?}"),
    }
}

#[test]
fn a_v1_database_is_upgraded_to_the_current_schema() {
    let (_dir, old) = temp_db();
    let hash = load_str(REQUEST, "request.yaml", &Scripts::new(Limits::default()))
        .unwrap()
        .hash;
    {
        let db = Connection::open(&old).unwrap();
        db.execute_batch(V1).unwrap();
        db.pragma_update(None, "user_version", 1).unwrap();
        db.execute(
            "INSERT INTO definitions (workflow, version, hash, file, source, deployed_at)
             VALUES ('request', 1, ?1, 'request.yaml', ?2, 0)",
            rusqlite::params![hash, REQUEST],
        )
        .unwrap();
        let t = t0().timestamp_micros();
        db.execute(
            "INSERT INTO cases (id, workflow, version, org, state, open, data, participants, revision, created_at, updated_at)
             VALUES (7, 'request', 1, 'ch1', 'pending', 1, ?1, ?2, 2, ?3, ?3)",
            rusqlite::params![
                r#"{"client_name":"Old","contacted":false,"sessions":0}"#,
                r#"{"client":["pat"],"mentor":["alice"]}"#,
                t
            ],
        )
        .unwrap();
        db.execute_batch(&format!(
            "INSERT INTO participants (case_id, role, person, since) VALUES (7, 'client', 'pat', {t});
             INSERT INTO participants (case_id, role, person, since) VALUES (7, 'mentor', 'alice', {t});"
        ))
        .unwrap();
    }
    let e = open(&old).unwrap();
    assert_eq!(user_version(&old), SCHEMA_VERSION);

    let (_dir2, fresh) = temp_db();
    drop(open(&fresh).unwrap());
    let upgraded = schema_of(&old);
    assert_eq!(upgraded, schema_of(&fresh));
    assert!(upgraded.iter().any(|(_, n, _)| n == "assignments"));

    // the old case still works, and the upgrade logged its role grants
    let c = e.get(7, Some("alice")).unwrap();
    assert_eq!(c.state, "pending");
    assert_eq!(c.data["client_name"], json!("Old"));
    let c = e.act(7, "accept", "alice", json!({"note": "Hi"})).unwrap();
    assert_eq!(c.revision, 3);
    let grants: i64 = Connection::open(&old)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM assignments WHERE case_id = 7",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(grants, 2);
    // opening it again changes nothing
    drop(e);
    drop(open(&old).unwrap());
    assert_eq!(schema_of(&old), schema_of(&fresh));
}

#[test]
fn a_database_with_a_newer_schema_is_refused() {
    let (_dir, path) = temp_db();
    {
        let db = Connection::open(&path).unwrap();
        db.execute_batch("CREATE TABLE future (x INTEGER);")
            .unwrap();
        db.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
    }
    let e = err(open(&path));
    assert_eq!(e.code(), "storage");
    let m = storage_message(e);
    assert!(m.contains("newer"), "{m}");
    assert!(
        m.contains(&format!("version {}", SCHEMA_VERSION + 1)),
        "{m}"
    );
    assert!(m.contains("upgrade mentorflow"), "{m}");
    assert_eq!(user_version(&path), SCHEMA_VERSION + 1, "left alone");
}

#[test]
fn an_sqlite_file_of_another_application_is_refused() {
    let (_dir, path) = temp_db();
    {
        let db = Connection::open(&path).unwrap();
        db.execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL);")
            .unwrap();
    }
    let m = storage_message(err(open(&path)));
    assert!(m.contains("not a mentorflow"), "{m}");
    let tables: i64 = Connection::open(&path)
        .unwrap()
        .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 1, "nothing was added to the foreign file");
}

#[test]
fn a_corrupt_file_is_refused_with_a_clear_error() {
    let (_dir, path) = temp_db();
    std::fs::write(&path, "this is a text file, not a database\n".repeat(200)).unwrap();
    let e = err(open(&path));
    assert_eq!(e.code(), "storage");
    let m = storage_message(e);
    assert!(m.contains("not a valid mentorflow database"), "{m}");
    assert!(
        m.contains(&path.display().to_string()),
        "names the file: {m}"
    );
}

#[test]
fn a_missing_folder_is_a_storage_error() {
    let (dir, _) = temp_db();
    let path = dir.path().join("no/such/folder/cases.db");
    let m = storage_message(err(open(&path)));
    assert!(m.contains("cannot open"), "{m}");
}

#[test]
fn wal_is_on_for_file_databases_and_cases_persist() {
    let (_dir, path) = temp_db();
    let e = open(&path).unwrap();
    let c = e
        .start("request", "submit", "pat", json!({"client_name": "Kept"}))
        .unwrap();
    let mode: String = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(e.database_path(), Some(path.as_path()));
    drop(e);
    let e = open(&path).unwrap();
    assert_eq!(e.get(c.id, None).unwrap(), c);
    assert_eq!(e.history(c.id, None).unwrap().len(), 1);
    assert_eq!(
        e.person("alice").unwrap().name.as_deref(),
        Some("Alice Mentor")
    );
}

const PINNED_V1: &str = r#"
workflow: pinned
version: 1
roles:
  owner: {}
states:
  draft: { label: Draft }
  sent: { label: Sent, final: true }
actions:
  create: { to: draft, by: owner }
  send: { from: draft, to: sent, by: owner }
"#;

const PINNED_V2: &str = r#"
workflow: pinned
version: 2
roles:
  owner: {}
states:
  draft: { label: Draft v2 }
  reviewed: { label: Reviewed }
  sent: { label: Sent, final: true }
actions:
  create: { to: draft, by: owner }
  review: { from: draft, to: reviewed, by: owner }
  send: { from: reviewed, to: sent, by: owner }
"#;

fn pinned(path: &Path, files: &[(&str, &str)]) -> mentorflow::Result<Engine> {
    let dir = path.parent().unwrap().join(format!("wf{}", files.len()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let e = Engine::builder()
        .database(path)
        .workflows_dir(&dir)
        .clock(ManualClock::at(t0()))
        .build()?;
    e.put_people(&people())?;
    Ok(e)
}

#[test]
fn a_case_keeps_running_on_the_version_it_started_with() {
    let (_dir, path) = temp_db();
    let e = pinned(&path, &[("pinned.yaml", PINNED_V1)]).unwrap();
    let old = e.start("pinned", "create", "pat", json!({})).unwrap();
    assert_eq!(old.version, 1);
    drop(e);

    // the file now holds version 2 only
    let e = pinned(&path, &[("pinned.yaml", PINNED_V2)]).unwrap();
    assert_eq!(e.definition("pinned").unwrap().version, 2);
    let again = e.get(old.id, None).unwrap();
    assert_eq!(again.version, 1);
    assert_eq!(again.state_label, "Draft", "the v1 label");
    assert_eq!(e.actions(old.id, "pat").unwrap(), ["send"]);
    let error = err(e.act(old.id, "review", "pat", json!({})));
    assert!(
        matches!(&error, Error::NotFound { kind: "action", .. }),
        "{error:?}"
    );

    let new = e.start("pinned", "create", "pat", json!({})).unwrap();
    assert_eq!(new.version, 2);
    assert_eq!(new.state_label, "Draft v2");
    assert_eq!(e.actions(new.id, "pat").unwrap(), ["review"]);
    let error = err(e.act(new.id, "send", "pat", json!({})));
    assert_eq!(error.code(), "guard_rejected", "v2 sends from `reviewed`");

    let old = e.act(old.id, "send", "pat", json!({})).unwrap();
    assert_eq!((old.state.as_str(), old.version), ("sent", 1));
    let new = e.act(new.id, "review", "pat", json!({})).unwrap();
    let new = e.act(new.id, "send", "pat", json!({})).unwrap();
    assert_eq!((new.state.as_str(), new.version), ("sent", 2));
    assert_eq!(new.revision, 3);
}

#[test]
fn a_changed_meaning_under_a_version_with_cases_is_not_loaded_and_blocks_nothing_else() {
    let (_dir, path) = temp_db();
    let other = PINNED_V1.replace("workflow: pinned", "workflow: other");
    let e = pinned(&path, &[("pinned.yaml", PINNED_V1), ("other.yaml", &other)]).unwrap();
    let c = e.start("pinned", "create", "pat", json!({})).unwrap();
    drop(e);
    let changed = PINNED_V1.replace("label: Draft", "label: Rough draft");
    let e = pinned(&path, &[("pinned.yaml", &changed), ("other.yaml", &other)]).unwrap();
    let problems = e.refused_definitions();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    let p = &problems[0];
    assert!(
        p.message.contains("workflow `pinned` version 1 changed (at `states.draft.label`) since 1 case started on it"),
        "{p}"
    );
    assert!(
        p.message.contains("`version: 2`"),
        "says to bump the version: {p}"
    );
    assert_eq!(p.line, support::line_of(&changed, "version: 1"));
    assert!(p.file.ends_with("pinned.yaml"));
    // the stored version keeps serving its case; reads, the directory and other workflows work
    assert_eq!(e.get(c.id, None).unwrap().state_label, "Draft");
    assert_eq!(e.cases(&Default::default()).unwrap().len(), 1);
    e.put_person(&Person::new("new").org("ch1")).unwrap();
    e.start("other", "create", "pat", json!({})).unwrap();
    // starting a case on the refused text says what to do
    let error = err(e.start("pinned", "create", "pat", json!({})));
    let Error::Definition { problems: started } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(started, &problems);
    let sent = e.act(c.id, "send", "pat", json!({})).unwrap();
    assert_eq!((sent.state_label.as_str(), sent.version), ("Sent", 1));
    // the same check without deploying
    let defs = load_str(&changed, "pinned.yaml", e.scripts()).unwrap();
    let conflicts = e.deploy_conflicts(&[defs]).unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].message, p.message);
    drop(e);
    // the unchanged text still opens, and nothing is refused
    let e = pinned(&path, &[("pinned.yaml", PINNED_V1)]).unwrap();
    assert!(e.refused_definitions().is_empty());
}

#[test]
fn a_comment_or_reformatting_under_a_version_with_cases_changes_nothing() {
    let (_dir, path) = temp_db();
    let e = pinned(&path, &[("pinned.yaml", PINNED_V1)]).unwrap();
    let c = e.start("pinned", "create", "pat", json!({})).unwrap();
    drop(e);
    let commented = format!(
        "# edited by hand\n{}\n# a comment at the end\n",
        PINNED_V1.replace("{ to: draft, by: owner }", "{ by: owner, to: \"draft\" }")
    );
    let e = pinned(&path, &[("pinned.yaml", &commented)]).unwrap();
    assert!(e.refused_definitions().is_empty());
    assert_eq!(
        e.start("pinned", "create", "pat", json!({}))
            .unwrap()
            .version,
        1
    );
    assert_eq!(e.act(c.id, "send", "pat", json!({})).unwrap().state, "sent");
}

#[test]
fn a_version_without_cases_may_change() {
    let (_dir, path) = temp_db();
    drop(pinned(&path, &[("pinned.yaml", PINNED_V1)]).unwrap());
    let changed = PINNED_V1.replace("label: Draft", "label: Rough draft");
    let e = pinned(&path, &[("pinned.yaml", &changed)]).unwrap();
    let c = e.start("pinned", "create", "pat", json!({})).unwrap();
    assert_eq!(c.state_label, "Rough draft");
}

#[test]
fn both_versions_may_be_loaded_side_by_side() {
    let (_dir, path) = temp_db();
    let e = pinned(
        &path,
        &[("pinned-1.yaml", PINNED_V1), ("pinned-2.yaml", PINNED_V2)],
    )
    .unwrap();
    assert_eq!(e.definition("pinned").unwrap().version, 2);
    assert_eq!(
        e.definitions().len(),
        1,
        "the latest version of each workflow"
    );
    let c = e.start("pinned", "create", "pat", json!({})).unwrap();
    assert_eq!(c.version, 2, "new cases start on the latest version");
}

#[test]
fn an_unreachable_postgres_server_is_a_storage_error_that_hides_the_password() {
    let before: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    // port 9 (discard) on loopback: nothing listens there
    for url in [
        "postgres://mentor:secret@127.0.0.1:9/cases?connect_timeout=2",
        "postgresql://mentor:secret@127.0.0.1:9/cases?connect_timeout=2",
    ] {
        let e = Engine::builder()
            .database(url)
            .workflow_str("request.yaml", REQUEST)
            .build()
            .unwrap_err();
        let m = storage_message(e);
        assert!(m.contains("cannot connect to postgres"), "{m}");
        assert!(m.contains("127.0.0.1:9"), "the server is named: {m}");
        assert!(!m.contains("secret"), "the password is not repeated: {m}");
    }
    let after: Vec<_> = std::fs::read_dir(".")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(before, after, "no file was created");
}

#[test]
fn store_copy_moves_a_file_whole_and_refuses_a_non_empty_target() {
    use mentorflow::store::copy::copy;
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.db"), dir.path().join("b.db"));
    let clock = support::copy::populate(&a);
    let (a, b) = (a.to_string_lossy(), b.to_string_lossy());
    let report = copy(&a, &b).unwrap();
    let rows = |t: &str| report.tables.iter().find(|(n, _)| n == t).unwrap().1;
    assert_eq!(rows("cases"), 6);
    assert_eq!(rows("people"), people().len());
    assert!(rows("events") > 6 && rows("timers") > 0 && rows("outbox") > 0);
    let (source, target) = (
        support::copy::open(&a, &clock),
        support::copy::open(&b, &clock),
    );
    assert_eq!(
        support::copy::snapshot(&source),
        support::copy::snapshot(&target)
    );
    // the copy goes on where the source left off
    let next = target
        .start("request", "submit", "pat", json!({ "client_name": "Next" }))
        .unwrap();
    assert_eq!(next.id, 7);
    drop((source, target));

    // a target with rows is refused, and left as it was
    let before = schema_of(Path::new(&*b));
    match copy(&a, &b) {
        Err(Error::Validation { message, .. }) => {
            assert!(message.contains("not empty"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(schema_of(Path::new(&*b)), before);
    let target = support::copy::open(&b, &clock);
    assert_eq!(target.cases(&Default::default()).unwrap().len(), 7);
    // the same file, :memory:, or a missing source: refused, nothing written
    assert!(matches!(copy(&a, &a), Err(Error::Validation { .. })));
    assert!(matches!(
        copy(&a, ":memory:"),
        Err(Error::Validation { .. })
    ));
    let missing = dir.path().join("missing.db");
    let fresh = dir.path().join("fresh.db");
    assert!(matches!(
        copy(&missing.to_string_lossy(), &fresh.to_string_lossy()),
        Err(Error::NotFound { .. })
    ));
    assert!(!missing.exists() && !fresh.exists());
}

#[test]
fn a_schema_5_file_is_upgraded_to_the_current_schema() {
    let (_dir, path) = temp_db();
    drop(open(&path).unwrap());
    // tables, indexes and every table's columns (ALTER TABLE writes a column's SQL text
    // differently from CREATE TABLE, so the texts are not compared)
    let shape = |path: &Path| -> Vec<(String, String, Vec<String>)> {
        let db = Connection::open(path).unwrap();
        let mut out = Vec::new();
        for (kind, name, _) in schema_of(path) {
            let mut columns: Vec<String> = if kind == "table" {
                db.prepare(&format!("PRAGMA table_info({name})"))
                    .unwrap()
                    .query_map([], |r| r.get::<_, String>(1))
                    .unwrap()
                    .map(Result::unwrap)
                    .collect()
            } else {
                Vec::new()
            };
            columns.sort();
            out.push((kind, name, columns));
        }
        out
    };
    let current = shape(&path);
    // back to schema 5: undo steps 9, 8 and 7 (step 6 changes nothing on SQLite, see its
    // comment)
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TABLE audit; DROP INDEX cases_suspended;
             CREATE INDEX cases_by_org_state ON cases (workflow, org, state);
             DROP TABLE incidents; ALTER TABLE cases DROP COLUMN suspended;
             ALTER TABLE cases DROP COLUMN cancelled; PRAGMA user_version = 5;",
        )
        .unwrap();
    assert_ne!(shape(&path), current);
    let e = open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(SCHEMA_VERSION, 9);
    assert_eq!(
        shape(&path),
        current,
        "the upgraded file has a new file's schema"
    );
    e.start("request", "submit", "pat", json!({ "client_name": "Pat" }))
        .unwrap();
}

#[test]
fn a_schema_7_file_gets_the_write_path_indexes_and_keeps_its_cases() {
    let (_dir, path) = temp_db();
    let index_names = |path: &Path| -> Vec<String> {
        schema_of(path)
            .into_iter()
            .filter(|(kind, name, _)| kind == "index" && name.starts_with("cases_"))
            .map(|(_, name, _)| name)
            .collect()
    };
    let id = {
        let e = open(&path).unwrap();
        e.start("request", "submit", "pat", json!({ "client_name": "Pat" }))
            .unwrap()
            .id
    };
    let fresh = index_names(&path);
    assert!(fresh.contains(&"cases_suspended".to_owned()), "{fresh:?}");
    assert!(
        !fresh.contains(&"cases_by_org_state".to_owned()),
        "{fresh:?}"
    );
    // back to schema 7: the indexes before step 9
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "DROP TABLE audit; DROP INDEX cases_suspended;
             CREATE INDEX cases_by_org_state ON cases (workflow, org, state);
             PRAGMA user_version = 7;",
        )
        .unwrap();
    assert_ne!(index_names(&path), fresh);
    let e = open(&path).unwrap();
    assert_eq!(user_version(&path), SCHEMA_VERSION);
    assert_eq!(
        index_names(&path),
        fresh,
        "the upgraded file has a new file's indexes"
    );
    assert_eq!(e.get(id, None).unwrap().data["client_name"], json!("Pat"));
    e.act(id, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
}
