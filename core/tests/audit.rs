//! The audit log (issue 15): deploying a definition version, changing organisations and
//! people, and every operator control are recorded with who, when, and the record before and
//! after; a change that is refused leaves no entry. Conformance suite: runs on PostgreSQL
//! too (tests/pg.sh).
#![allow(clippy::unwrap_used)]

mod support;

use chrono::{Duration, NaiveDate};
use mentorflow::{AuditFilter, Clock, Engine, ManualClock, OrgPatch, Person, PersonPatch};
use serde_json::{json, Value};
use support::{err, t0, Fresh};

const FLOW: &str = r#"
workflow: paced
version: 1
roles:
  owner: {}
settings:
  max_pings: { type: int, default: 3 }
fields:
  pings: { type: int, default: 0 }
states:
  waiting:
    label: Waiting
    timers:
      - name: remind
        after: 1h
        run: 'fields.pings += 1;'
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner, run: 'assign("owner", actor.id)' }
  finish: { from: waiting, to: done, by: owner }
"#;

fn kinds_and_actors(e: &Engine, f: &AuditFilter) -> Vec<(String, String, String)> {
    e.audit(f)
        .unwrap()
        .into_iter()
        .map(|a| (a.kind, a.actor, a.subject))
        .collect()
}

fn row(kind: &str, actor: &str, subject: &str) -> (String, String, String) {
    (kind.into(), actor.into(), subject.into())
}

#[test]
fn the_audit_lists_exactly_the_changes_made_with_their_authors() {
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("paced.yaml", FLOW)
        .clock(clock.clone())
        .actor("deployer")
        .build()
        .unwrap();
    assert_eq!(e.actor(), "deployer");

    e.set_actor("hr").unwrap();
    e.put_org(OrgPatch::new("ch1").name("Chapter One")).unwrap();
    e.put_person(&Person::new("olga").name("Olga").org("ch1").role("admin"))
        .unwrap();
    e.put_person(&Person::new("pat").name("Pat").org("ch1"))
        .unwrap();
    // the same record again changes nothing: no entry
    e.put_person(&Person::new("pat").name("Pat").org("ch1"))
        .unwrap();
    clock.advance(Duration::hours(1));
    let later = clock.now();
    e.acting_as("cody", || {
        e.put_org(
            OrgPatch::new("ch1")
                .timezone("Europe/Zurich")
                .holiday(NaiveDate::from_ymd_opt(2026, 12, 25).unwrap())
                .setting("max_pings", 5),
        )
        .unwrap();
        e.put_person(PersonPatch::new("pat").role("mentor"))
            .unwrap();
    });
    assert_eq!(e.actor(), "hr", "acting_as ends with its closure");
    // refused changes leave no entry
    assert_eq!(
        err(e.put_org(OrgPatch::new("ch1").setting("max_pongs", 1))).code(),
        "validation"
    );
    assert_eq!(
        err(e.put_person(&Person::new("sam").org("ch1").role(" "))).code(),
        "validation"
    );

    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    e.suspend_case(c.id, "olga", "mentor on leave").unwrap();
    e.resume_case(c.id, "olga", "back").unwrap();
    assert!(e.remove_person("olga").unwrap());
    assert!(
        !e.remove_person("olga").unwrap(),
        "nothing removed: no entry"
    );

    let case = format!("case:{}", c.id);
    assert_eq!(
        kinds_and_actors(&e, &AuditFilter::default()),
        vec![
            row("definition.deploy", "deployer", "definition:paced@1"),
            row("org.put", "hr", "org:ch1"),
            row("person.put", "hr", "person:olga"),
            row("person.put", "hr", "person:pat"),
            row("org.put", "cody", "org:ch1"),
            row("person.put", "cody", "person:pat"),
            row("case.suspend", "olga", &case),
            row("case.resume", "olga", &case),
            row("person.remove", "hr", "person:olga"),
        ]
    );

    let all = e.audit(&AuditFilter::default()).unwrap();
    // what changed: before and after
    let calendar = &all[4];
    assert_eq!(calendar.at, later);
    assert_eq!(calendar.before["timezone"], json!("UTC"));
    assert_eq!(calendar.after["timezone"], json!("Europe/Zurich"));
    assert_eq!(calendar.after["holidays"], json!(["2026-12-25"]));
    assert_eq!(calendar.after["settings"], json!({ "max_pings": 5 }));
    assert_eq!(all[1].before, Value::Null, "added");
    assert_eq!(all[5].before["roles"], json!([]));
    assert_eq!(all[5].after["roles"], json!(["mentor"]));
    let suspend = &all[6];
    assert_eq!(suspend.reason.as_deref(), Some("mentor on leave"));
    assert_eq!(suspend.before["suspended"], Value::Null);
    assert_eq!(suspend.after["suspended"]["by"], json!("olga"));
    assert_eq!(all[8].after, Value::Null, "removed");
    assert_eq!(all[8].before["name"], json!("Olga"));
    let ids: Vec<i64> = all.iter().map(|a| a.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");

    // filters: a kind, a family, an actor, a subject, an instant
    let f = |kind: Option<&str>, actor: Option<&str>, subject: Option<&str>| AuditFilter {
        kind: kind.map(str::to_owned),
        actor: actor.map(str::to_owned),
        subject: subject.map(str::to_owned),
        ..AuditFilter::default()
    };
    assert_eq!(e.audit(&f(Some("person"), None, None)).unwrap().len(), 4);
    assert_eq!(
        e.audit(&f(Some("person.put"), None, None)).unwrap().len(),
        3
    );
    assert_eq!(e.audit(&f(Some("pers"), None, None)).unwrap().len(), 0);
    assert_eq!(e.audit(&f(Some("case"), None, None)).unwrap().len(), 2);
    assert_eq!(e.audit(&f(None, Some("cody"), None)).unwrap().len(), 2);
    assert_eq!(e.audit(&f(None, None, Some("org:ch1"))).unwrap().len(), 2);
    let since = e
        .audit(&AuditFilter {
            since: Some(later),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(since.len(), 5);
    assert_eq!(
        e.audit(&AuditFilter {
            limit: Some(2),
            ..AuditFilter::default()
        })
        .unwrap()
        .len(),
        2
    );
    assert_eq!(err(e.audit(&f(Some(" "), None, None))).code(), "validation");
    assert_eq!(err(e.set_actor("  ")).code(), "validation");
}

#[test]
fn incidents_outbox_and_reassignments_are_audited_by_their_operator() {
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("paced.yaml", FLOW)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.put_people(&[
        Person::new("olga").org("ch1").role("admin"),
        Person::new("pat").org("ch1"),
        Person::new("kim").org("ch1"),
    ])
    .unwrap();
    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    let report = e
        .reassign_participant(
            &mentorflow::ReassignOptions {
                from: "pat".into(),
                to: Some("kim".into()),
                ..Default::default()
            },
            "olga",
            "pat moved away",
        )
        .unwrap();
    assert_eq!(report.cases.len(), 1);
    e.cancel_case(c.id, "olga", "duplicate").unwrap();
    let entries = e
        .audit(&AuditFilter {
            kind: Some("case".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].kind, "case.reassign");
    assert_eq!(entries[0].actor, "olga");
    assert_eq!(
        entries[0].before["participants"],
        json!({ "owner": ["pat"] })
    );
    assert_eq!(
        entries[0].after["participants"],
        json!({ "owner": ["kim"] })
    );
    assert_eq!(entries[1].kind, "case.cancel");
    assert_eq!(entries[1].reason.as_deref(), Some("duplicate"));
    // a refused control (not an operator) leaves no entry
    let c2 = e.start("paced", "create", "pat", json!({})).unwrap();
    assert_eq!(
        err(e.suspend_case(c2.id, "pat", "no")).code(),
        "not_permitted"
    );
    assert_eq!(
        e.audit(&AuditFilter {
            kind: Some("case".into()),
            ..AuditFilter::default()
        })
        .unwrap()
        .len(),
        2
    );
    // the default actor
    assert_eq!(
        e.audit(&AuditFilter {
            kind: Some("person.put".into()),
            ..AuditFilter::default()
        })
        .unwrap()[0]
            .actor,
        "system"
    );
}

#[test]
fn a_blank_builder_actor_is_refused() {
    let r = Engine::builder()
        .fresh()
        .workflow_str("paced.yaml", FLOW)
        .actor(" ")
        .build();
    assert_eq!(err(r).code(), "validation");
}

#[test]
fn a_schema_7_file_gets_the_audit_log_on_upgrade() {
    let (_dir, path) = support::temp_db();
    let open = || {
        Engine::builder()
            .database(&path)
            .workflow_str("paced.yaml", FLOW)
            .clock(ManualClock::at(t0()))
            .build()
            .unwrap()
    };
    let e = open();
    e.put_person(&Person::new("pat").org("ch1")).unwrap();
    drop(e);
    // back to schema 7
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE audit; PRAGMA user_version = 7;")
        .unwrap();
    let e = open();
    assert_eq!(
        e.health(Duration::minutes(5)).unwrap().schema_version,
        mentorflow::store::schema::SCHEMA_VERSION
    );
    assert!(e.audit(&AuditFilter::default()).unwrap().is_empty());
    e.put_person(&Person::new("kim").org("ch1")).unwrap();
    assert_eq!(
        kinds_and_actors(&e, &AuditFilter::default()),
        vec![row("person.put", "system", "person:kim")]
    );
}
