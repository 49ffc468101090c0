//! What front ends such as the portal need from the engine: acting with a revision and an
//! idempotency key, sign-in material kept as hashes, paged views with totals, the views and
//! start actions a person may use, and the next due timer.
#![allow(clippy::unwrap_used)]
mod support;

use chrono::Duration;
use mentorflow::{ActOptions, CredentialKind, Error, Person, Start, ViewQuery};
use rusqlite::Connection;
use serde_json::json;
use support::{engine, err, t0, temp_db, REQUEST};

const SECRET: &str = "s3cr3t-abcdefghijklmnopqrstuvwxyz";

fn submitted(e: &mentorflow::Engine, name: &str) -> i64 {
    e.start("request", "submit", "pat", json!({ "client_name": name }))
        .unwrap()
        .id
}

#[test]
fn act_with_a_key_acts_once_and_refuses_the_key_for_another_command() {
    let (e, _) = engine();
    let id = submitted(&e, "Pat's Bakery");
    let opts = ActOptions {
        revision: Some(1),
        idempotency_key: Some("form-1".into()),
    };
    let c = e
        .act_with(id, "assign", "cody", json!({"mentor": "alice"}), &opts)
        .unwrap();
    assert_eq!((c.state.as_str(), c.revision), ("pending", 2));
    // the double submit: same key, same stale revision — the case as it is, not a conflict
    let again = e
        .act_with(id, "assign", "cody", json!({"mentor": "alice"}), &opts)
        .unwrap();
    assert_eq!(again.revision, 2);
    assert_eq!(e.history(id, None).unwrap().len(), 2, "acted once");
    // the same key for another command is refused, and changes nothing
    let other = e.act_with(id, "assign", "cody", json!({"mentor": "bob"}), &opts);
    match err(other) {
        Error::Validation { field, message, .. } => {
            assert_eq!(field.as_deref(), Some("idempotency_key"));
            assert!(message.contains("different command"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // another person may use the same key for their own command
    let c = e
        .act_with(
            id,
            "accept",
            "alice",
            json!({"note": "Hello"}),
            &ActOptions {
                revision: Some(2),
                idempotency_key: Some("form-1".into()),
            },
        )
        .unwrap();
    assert_eq!(c.state, "in_progress");
}

#[test]
fn act_with_a_stale_revision_is_a_conflict_and_changes_nothing() {
    let (e, _) = engine();
    let id = submitted(&e, "A");
    e.act(id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    let r = e.act_with(
        id,
        "accept",
        "alice",
        json!({"note": "hi"}),
        &ActOptions {
            revision: Some(1),
            idempotency_key: Some("k".into()),
        },
    );
    assert!(matches!(
        err(r),
        Error::Conflict {
            expected: 1,
            actual: 2,
            ..
        }
    ));
    assert_eq!(e.get(id, None).unwrap().revision, 2);
    // the refused command did not use the key up
    let c = e
        .act_with(
            id,
            "accept",
            "alice",
            json!({"note": "hi"}),
            &ActOptions {
                revision: Some(2),
                idempotency_key: Some("k".into()),
            },
        )
        .unwrap();
    assert_eq!(c.revision, 3);
}

#[test]
fn start_with_a_key_starts_one_case() {
    let (e, _) = engine();
    let start = |name: &str| Start {
        workflow: "request".into(),
        action: Some("submit".into()),
        actor: "pat".into(),
        data: json!({"client_name": name}).as_object().cloned().unwrap(),
        idempotency_key: Some("start-1".into()),
        ..Start::default()
    };
    let a = e.start_with(start("One")).unwrap();
    let b = e.start_with(start("One")).unwrap();
    assert_eq!(a.id, b.id);
    assert_eq!(e.cases(&Default::default()).unwrap().len(), 1);
    assert!(matches!(
        err(e.start_with(start("Two"))),
        Error::Validation { .. }
    ));
    assert_eq!(e.cases(&Default::default()).unwrap().len(), 1);
}

#[test]
fn tokens_are_single_use_expiring_and_purpose_bound_and_stored_as_hashes() {
    let (dir, path) = temp_db();
    let clock = mentorflow::ManualClock::at(t0());
    let e = mentorflow::Engine::builder()
        .database(&path)
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.put_people(&support::people()).unwrap();
    let t = e
        .issue_token(
            SECRET,
            "sign_in",
            "alice",
            json!({"next": "/requests/1"}),
            Duration::minutes(15),
        )
        .unwrap();
    assert_eq!(t.expires_at, t0() + Duration::minutes(15));
    // the wrong purpose does not use it up
    assert_eq!(e.redeem_token(SECRET, "set_password").unwrap(), None);
    assert_eq!(
        e.peek_token(SECRET, "sign_in").unwrap().unwrap().person,
        "alice"
    );
    let got = e.redeem_token(SECRET, "sign_in").unwrap().unwrap();
    assert_eq!(got.payload, json!({"next": "/requests/1"}));
    assert_eq!(
        e.redeem_token(SECRET, "sign_in").unwrap(),
        None,
        "single use"
    );
    // expiry
    let other = "another-secret-0123456789abcdef";
    e.issue_token(other, "sign_in", "alice", json!({}), Duration::minutes(15))
        .unwrap();
    clock.advance(Duration::minutes(16));
    assert_eq!(e.redeem_token(other, "sign_in").unwrap(), None, "expired");
    // refusals: short secrets, unknown people, large payloads
    assert!(matches!(
        err(e.issue_token("short", "sign_in", "alice", json!({}), Duration::minutes(1))),
        Error::Validation { .. }
    ));
    assert!(matches!(
        err(e.issue_token(SECRET, "sign_in", "ghost", json!({}), Duration::minutes(1))),
        Error::NotFound { .. }
    ));
    let big = json!({ "x": "y".repeat(5000) });
    assert!(matches!(
        err(e.issue_token(SECRET, "sign_in", "alice", big, Duration::minutes(1))),
        Error::Validation { .. }
    ));
    // no secret is in the file
    drop(e);
    let raw = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(SECRET) && !text.contains(other));
    }
    let db = Connection::open(&path).unwrap();
    let n: i64 = db
        .query_row("SELECT count(*) FROM auth_tokens", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 2);
    drop(dir);
}

#[test]
fn sessions_and_api_tokens_expire_slide_and_are_revoked() {
    let (e, clock) = engine();
    let s = e
        .create_credential(
            SECRET,
            CredentialKind::Session,
            "alice",
            "browser",
            Some(Duration::hours(8)),
        )
        .unwrap();
    assert_eq!(s.id, mentorflow::auth::hash_secret(SECRET));
    assert!(e
        .credential(SECRET, CredentialKind::ApiToken, None)
        .unwrap()
        .is_none());
    clock.advance(Duration::hours(7));
    let seen = e
        .credential(SECRET, CredentialKind::Session, Some(Duration::hours(8)))
        .unwrap()
        .unwrap();
    assert_eq!(seen.person, "alice");
    assert_eq!(seen.expires_at, Some(t0() + Duration::hours(15)), "slid");
    clock.advance(Duration::hours(7));
    assert!(e
        .credential(SECRET, CredentialKind::Session, None)
        .unwrap()
        .is_some());
    clock.advance(Duration::hours(2));
    assert!(e
        .credential(SECRET, CredentialKind::Session, None)
        .unwrap()
        .is_none());

    let api = "api-token-abcdefghijklmnopqrstuvwxyz";
    let t = e
        .create_credential(api, CredentialKind::ApiToken, "cody", "reports", None)
        .unwrap();
    assert_eq!(
        e.credentials("cody", CredentialKind::ApiToken)
            .unwrap()
            .len(),
        1
    );
    assert!(e.revoke_credential(&t.id).unwrap());
    assert!(e
        .credential(api, CredentialKind::ApiToken, None)
        .unwrap()
        .is_none());
    assert!(e.purge_auth().unwrap() >= 1, "the expired session went");
}

#[test]
fn password_hashes_are_argon2id_strings_and_setting_one_ends_sessions() {
    let (e, _) = engine();
    e.create_credential(
        SECRET,
        CredentialKind::Session,
        "alice",
        "",
        Some(Duration::hours(1)),
    )
    .unwrap();
    assert!(matches!(
        err(e.set_password_hash("alice", "hunter2")),
        Error::Validation { .. }
    ));
    assert_eq!(e.password_hash("alice").unwrap(), None);
    e.set_password_hash("alice", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        .unwrap();
    assert!(e
        .password_hash("alice")
        .unwrap()
        .unwrap()
        .starts_with("$argon2id$"));
    assert!(e
        .credential(SECRET, CredentialKind::Session, None)
        .unwrap()
        .is_none());
}

#[test]
fn people_are_found_by_email_ignoring_case() {
    let (e, _) = engine();
    e.put_person(&Person::new("eve").org("ch1").email("Eve@Example.org"))
        .unwrap();
    let found = e.people_by_email(" eve@example.ORG ").unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].id, "eve");
    assert!(e.people_by_email("nobody@example.org").unwrap().is_empty());
}

#[test]
fn view_pages_are_sorted_filtered_and_counted() {
    let (e, _) = engine();
    let ids: Vec<i64> = (0..30)
        .map(|i| submitted(&e, &format!("Client {i:02}")))
        .collect();
    let q = ViewQuery {
        limit: 10,
        ..ViewQuery::default()
    };
    let p = e.view_page("queue", "cody", &q).unwrap();
    assert_eq!(p.total, 30);
    assert_eq!(p.cases.len(), 10);
    assert_eq!(
        p.cases[0].id, ids[0],
        "the view's own sort: created, oldest first"
    );
    let p3 = e
        .view_page(
            "queue",
            "cody",
            &ViewQuery {
                offset: 25,
                ..q.clone()
            },
        )
        .unwrap();
    assert_eq!(p3.cases.len(), 5);
    let by_name = e
        .view_page(
            "queue",
            "cody",
            &ViewQuery {
                sort: Some("client_name".into()),
                descending: Some(true),
                ..q.clone()
            },
        )
        .unwrap();
    assert_eq!(by_name.cases[0].data["client_name"], json!("Client 29"));
    let found = e
        .view_page(
            "queue",
            "cody",
            &ViewQuery {
                search: Some("client 07".into()),
                ..q.clone()
            },
        )
        .unwrap();
    assert_eq!((found.total, found.cases[0].id), (1, ids[7]));
    let field = e
        .view_page(
            "queue",
            "cody",
            &ViewQuery {
                fields: vec![("client_name".into(), json!("Client 03"))],
                ..q.clone()
            },
        )
        .unwrap();
    assert_eq!(field.total, 1);
    // assigning moves a case out of the queue and into the mentor's need-action view
    e.act(ids[3], "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    assert_eq!(e.view_page("queue", "cody", &q).unwrap().total, 29);
    let mine = e.view_page("need_action", "alice", &q).unwrap();
    assert_eq!((mine.total, mine.cases[0].id), (1, ids[3]));
    // another chapter's coordinator sees none of it
    assert_eq!(e.view_page("queue", "zed", &q).unwrap().total, 0);
    // bad queries name what is wrong
    for bad in [
        ViewQuery {
            sort: Some("nope".into()),
            ..q.clone()
        },
        ViewQuery {
            states: vec!["complete".into()],
            ..q.clone()
        },
        ViewQuery {
            fields: vec![("nope".into(), json!(1))],
            ..q.clone()
        },
    ] {
        assert!(matches!(
            err(e.view_page("queue", "cody", &bad)),
            Error::Validation { .. }
        ));
    }
    // the whole view equals the pages put together
    let all = e.view("queue", "cody").unwrap();
    assert_eq!(all.len(), 29);
}

#[test]
fn a_filtered_view_pages_and_counts_after_its_filter() {
    let yaml = REQUEST.replace(
        "  queue: { title: Intake queue, states: [submitted], viewer: coordinator, sort: created }",
        "  queue: { title: Intake queue, states: [submitted], viewer: coordinator, sort: created }\n  odd: { title: Odd, viewer: coordinator, filter: 'case.id % 2 == 1', sort: id }",
    );
    let (e, _) = support::engine_for("request.yaml", &yaml);
    for i in 0..9 {
        submitted(&e, &format!("C{i}"));
    }
    let p = e
        .view_page(
            "odd",
            "cody",
            &ViewQuery {
                offset: 1,
                limit: 2,
                ..ViewQuery::default()
            },
        )
        .unwrap();
    assert_eq!(p.total, 5);
    let ids: Vec<i64> = p.cases.iter().map(|c| c.id).collect();
    assert_eq!(ids, [3, 5]);
}

#[test]
fn the_views_and_start_actions_a_person_may_use() {
    let (e, _) = engine();
    let names = |who: &str| -> Vec<(String, Option<usize>)> {
        e.view_counts(who)
            .unwrap()
            .into_iter()
            .map(|v| (v.name, v.count))
            .collect()
    };
    submitted(&e, "A");
    assert_eq!(names("cody"), [("queue".to_string(), Some(1))]);
    // a mentor (directory role named like the case role) sees need_action, empty at first
    assert_eq!(names("alice"), [("need_action".to_string(), Some(0))]);
    // the client holds no role that a view names
    assert!(names("pat").is_empty());
    assert_eq!(e.views_for("alice").unwrap()[0].count, None);
    let starts: Vec<String> = e
        .start_actions_for("pat")
        .unwrap()
        .into_iter()
        .map(|s| s.action)
        .collect();
    assert_eq!(starts, ["submit"], "a case role starts: anyone may");
    assert!(matches!(
        err(e.view_counts("ghost")),
        Error::NotFound { .. }
    ));
}

#[test]
fn next_due_is_the_earliest_pending_timer() {
    let (e, _) = engine();
    assert_eq!(e.next_due().unwrap(), None);
    let id = submitted(&e, "A");
    e.act(id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    assert_eq!(e.next_due().unwrap(), Some(t0() + Duration::hours(24)));
}
