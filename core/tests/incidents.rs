//! Incidents: a timer firing that fails is rolled back and stored as an incident, retried with
//! backoff up to the organisation's `incident_max_attempts`, then left open; operators list,
//! retry and resolve incidents; a recurring timer keeps its schedule meanwhile; a retry after
//! deploying a fix and migrating the case fires on the new version. Conformance suite: runs on
//! PostgreSQL too (tests/pg.sh).
#![allow(clippy::unwrap_used)]

mod support;

use chrono::Duration;
use mentorflow::{
    Engine, IncidentFilter, IncidentStatus, ManualClock, MigrateOptions, MigrationPlan, OrgPatch,
    Person, DEFAULT_INCIDENT_MAX_ATTEMPTS, INCIDENT_MAX_ATTEMPTS_SETTING,
};
use serde_json::json;
use support::{assert_folds, err, people, t0, Fresh};

const FLAKY: &str = r#"
workflow: flaky
version: 1
settings:
  ready: false
roles:
  owner: {}
fields:
  pings: { type: int, default: 0 }
states:
  waiting:
    label: Waiting
    timers:
      - name: remind
        after: 1h
        run: |
          if !settings.ready { throw "the mail template is not ready"; }
          fields.pings += 1;
      - name: daily
        every: 1 day
        run: |
          if !settings.ready { throw "the daily digest is not ready"; }
          fields.pings += 10;
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner, run: 'assign("owner", actor.id)' }
  finish: { from: waiting, to: done, by: owner }
"#;

fn flaky_engine() -> (Engine, ManualClock) {
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("flaky.yaml", FLAKY)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    e.put_person(
        &Person::new("olga")
            .name("Olga Operator")
            .org("ch1")
            .role("admin"),
    )
    .unwrap();
    (e, clock)
}

fn set(e: &Engine, name: &str, value: serde_json::Value) {
    e.put_org(OrgPatch::new("ch1").setting(name, value))
        .unwrap();
}

fn timer_events(e: &Engine, case: i64, action: &str) -> usize {
    e.history(case, None)
        .unwrap()
        .iter()
        .filter(|ev| ev.action == action)
        .count()
}

fn open(e: &Engine) -> Vec<mentorflow::Incident> {
    e.incidents(&IncidentFilter::default()).unwrap()
}

#[test]
fn a_timer_that_fails_twice_then_succeeds_after_a_settings_change_fires_once() {
    let (e, _) = flaky_engine();
    let c = e.start("flaky", "create", "pat", json!({})).unwrap();
    // first firing, 1 h after the start: fails and becomes an incident
    let r = e.advance_by(Duration::hours(1)).unwrap();
    assert_eq!((r.fired, r.failed.len()), (0, 1), "{r:?}");
    let i = open(&e);
    assert_eq!(i.len(), 1, "{i:?}");
    let i = &i[0];
    assert_eq!(
        (i.case_id, i.timer.as_str(), i.state.as_str()),
        (c.id, "remind", "waiting")
    );
    assert_eq!((i.kind.as_str(), i.code.as_str()), ("timer", "script"));
    assert!(
        i.error.contains("the mail template is not ready"),
        "{}",
        i.error
    );
    assert!(
        i.error.contains("states.waiting.timers[0].run"),
        "the place: {}",
        i.error
    );
    assert_eq!(i.attempts, 1);
    assert_eq!(i.first_at, t0() + Duration::hours(1));
    assert_eq!(
        i.next_attempt_at,
        Some(t0() + Duration::hours(1) + Duration::minutes(1))
    );
    // the failed firing left no trace on the case, and its timer is consumed
    assert_eq!(e.get(c.id, None).unwrap(), c);
    assert!(e.timers(c.id).unwrap().iter().all(|t| t.name != "remind"));
    // the automatic retry a minute later fails again
    let r = e.advance_by(Duration::minutes(1)).unwrap();
    assert_eq!((r.fired, r.failed.len()), (0, 1), "{r:?}");
    let i = e.incident(i.id).unwrap();
    assert_eq!(i.attempts, 2);
    assert_eq!(i.status, IncidentStatus::Open);
    assert_eq!(i.last_at, t0() + Duration::hours(1) + Duration::minutes(1));
    assert_eq!(i.next_attempt_at, Some(i.last_at + Duration::minutes(2)));
    // the organisation fixes its settings; the next retry (2 min later) fires
    set(&e, "ready", json!(true));
    let r = e.advance_by(Duration::minutes(2)).unwrap();
    assert_eq!((r.fired, r.failed.len()), (1, 0), "{r:?}");
    let i = e.incident(i.id).unwrap();
    assert_eq!(i.status, IncidentStatus::Resolved);
    assert_eq!(i.attempts, 3);
    assert_eq!(i.next_attempt_at, None);
    assert_eq!(i.resolved_by, None);
    assert!(i.note.as_deref().unwrap().contains("fired"), "{:?}", i.note);
    // fired once in the end, and never again
    e.advance_by(Duration::hours(20)).unwrap();
    assert_eq!(timer_events(&e, c.id, "timer:remind"), 1);
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(1));
    assert!(open(&e).is_empty());
    assert_folds(&e, c.id);
}

#[test]
fn after_the_organisations_limit_the_incident_waits_for_a_person() {
    let (e, _) = flaky_engine();
    set(&e, INCIDENT_MAX_ATTEMPTS_SETTING, json!(3));
    let c = e.start("flaky", "create", "pat", json!({})).unwrap();
    let r = e.advance_by(Duration::hours(2)).unwrap();
    assert_eq!(r.failed.len(), 3, "the first firing and two retries: {r:?}");
    let i = &open(&e)[0];
    assert_eq!((i.attempts, i.next_attempt_at), (3, None));
    // nothing more happens by itself
    let r = e.advance_by(Duration::hours(3)).unwrap();
    assert!(r.failed.iter().all(|f| !f.contains("remind")), "{r:?}");
    assert_eq!(e.incident(i.id).unwrap().attempts, 3);
    assert_eq!(timer_events(&e, c.id, "timer:remind"), 0);
    // the default, and bad values of the setting
    assert_eq!(DEFAULT_INCIDENT_MAX_ATTEMPTS, 5);
    for bad in [json!(0), json!(101), json!("3"), json!(1.5)] {
        let x = err(e.put_org(OrgPatch::new("ch1").setting(INCIDENT_MAX_ATTEMPTS_SETTING, bad)));
        assert_eq!(x.code(), "validation");
        assert!(x.to_string().contains(INCIDENT_MAX_ATTEMPTS_SETTING), "{x}");
    }
}

#[test]
fn a_recurring_timer_goes_on_after_a_failed_firing() {
    let (e, _) = flaky_engine();
    set(&e, INCIDENT_MAX_ATTEMPTS_SETTING, json!(1));
    let c = e.start("flaky", "create", "pat", json!({})).unwrap();
    // day 1: the daily firing fails (and the one-shot reminder too)
    let r = e.advance_by(Duration::days(1)).unwrap();
    assert_eq!(r.failed.len(), 2, "{r:?}");
    let daily: Vec<_> = open(&e)
        .into_iter()
        .filter(|i| i.timer == "daily")
        .collect();
    assert_eq!(daily.len(), 1);
    // the timer kept its schedule: due again on day 2
    let pending = e.timers(c.id).unwrap();
    let t = pending.iter().find(|t| t.name == "daily").unwrap();
    assert_eq!(t.due_at, t0() + Duration::days(2));
    // fixed; day 2 fires by itself
    set(&e, "ready", json!(true));
    let r = e.advance_by(Duration::days(1)).unwrap();
    assert_eq!((r.fired, r.failed.len()), (1, 0), "{r:?}");
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(10));
    // the missed firing of day 1 is still an open incident; a retry fires it once
    let i = e.retry_incident(daily[0].id).unwrap();
    assert_eq!(i.status, IncidentStatus::Resolved);
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(20));
    // and the schedule is untouched by the retry: day 3 fires as planned
    let r = e.advance_by(Duration::days(1)).unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(30));
    assert_eq!(timer_events(&e, c.id, "timer:daily"), 3);
    assert_folds(&e, c.id);
}

#[test]
fn an_incident_is_opened_listed_retried_and_resolved() {
    let (e, _) = flaky_engine();
    set(&e, INCIDENT_MAX_ATTEMPTS_SETTING, json!(1));
    let a = e.start("flaky", "create", "pat", json!({})).unwrap();
    let b = e.start("flaky", "create", "pat", json!({})).unwrap();
    e.advance_by(Duration::hours(1)).unwrap();
    // open: one per case, listed oldest first
    let list = open(&e);
    assert_eq!(
        list.iter().map(|i| i.case_id).collect::<Vec<_>>(),
        [a.id, b.id]
    );
    let by_case = e
        .incidents(&IncidentFilter {
            case_id: Some(b.id),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(by_case.len(), 1);
    assert_eq!(by_case[0].case_id, b.id);
    let health = e.health(Duration::minutes(5)).unwrap();
    assert_eq!(health.open_incidents, 2);
    assert!(!health.healthy());
    // a retry that fails again: rolled back, counted, still open, no automatic retry
    let i = e.retry_incident(list[0].id).unwrap();
    assert_eq!(
        (i.status, i.attempts, i.next_attempt_at),
        (IncidentStatus::Open, 2, None)
    );
    assert_eq!(e.get(a.id, None).unwrap(), a);
    // only an operator may retry or resolve in a person's name
    let x = err(e.retry_incident_as(list[0].id, "pat"));
    assert_eq!(x.code(), "not_permitted");
    assert!(x.to_string().contains("admin"), "{x}");
    let x = err(e.resolve_incident_as(list[0].id, "no", "cody"));
    assert_eq!(x.code(), "not_permitted");
    // fixed: an operator's retry fires it and resolves the incident in their name
    set(&e, "ready", json!(true));
    let i = e.retry_incident_as(list[0].id, "olga").unwrap();
    assert_eq!(i.status, IncidentStatus::Resolved);
    assert_eq!(i.resolved_by.as_deref(), Some("olga"));
    assert_eq!(e.get(a.id, None).unwrap().data["pings"], json!(1));
    // resolve without firing: a note is required, then the firing is given up
    let x = err(e.resolve_incident(list[1].id, "   "));
    assert_eq!(x.code(), "validation");
    assert_eq!(open(&e).len(), 1, "a refused resolve changes nothing");
    let i = e
        .resolve_incident_as(list[1].id, "client phoned; reminder not needed", "olga")
        .unwrap();
    assert_eq!(i.status, IncidentStatus::Resolved);
    assert_eq!(
        i.note.as_deref(),
        Some("client phoned; reminder not needed")
    );
    assert_eq!(timer_events(&e, b.id, "timer:remind"), 0);
    // nothing open; all of them with `all`; resolved ones refuse retry and resolve
    assert!(open(&e).is_empty());
    let all = e
        .incidents(&IncidentFilter {
            all: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.iter().all(|i| i.status == IncidentStatus::Resolved));
    let x = err(e.retry_incident(list[1].id));
    assert_eq!(x.code(), "validation");
    assert!(x.to_string().contains("already resolved"), "{x}");
    assert_eq!(err(e.resolve_incident(999, "x")).code(), "not_found");
    assert_eq!(err(e.incident(999)).code(), "not_found");
    assert!(e.health(Duration::minutes(5)).unwrap().healthy());
}

#[test]
fn an_incident_of_a_case_that_left_the_state_resolves_without_firing() {
    let (e, _) = flaky_engine();
    set(&e, INCIDENT_MAX_ATTEMPTS_SETTING, json!(1));
    let c = e.start("flaky", "create", "pat", json!({})).unwrap();
    e.advance_by(Duration::hours(1)).unwrap();
    let id = open(&e)[0].id;
    e.act(c.id, "finish", "pat", json!({})).unwrap();
    set(&e, "ready", json!(true));
    let i = e.retry_incident(id).unwrap();
    assert_eq!(i.status, IncidentStatus::Resolved);
    assert!(
        i.note.as_deref().unwrap().contains("left state"),
        "{:?}",
        i.note
    );
    assert_eq!(timer_events(&e, c.id, "timer:remind"), 0);
}

const V1: &str = r#"
workflow: digest
version: 1
roles:
  owner: {}
fields:
  pings: { type: int, default: 0 }
states:
  waiting:
    label: Waiting
    timers:
      - name: daily
        every: 1 day
        run: |
          throw "version 1 cannot count";
          fields.pings += 1;
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner }
  finish: { from: waiting, to: done, by: owner }
"#;

const PLAN: &str = r#"workflow: digest
from: 1
to: 2
timers:
  keep: [daily]
"#;

#[test]
fn a_retry_after_deploying_a_fix_and_migrating_the_case_uses_the_new_version() {
    let v2 = V1
        .replace("version: 1", "version: 2")
        .replace("throw \"version 1 cannot count\";\n", "");
    let v2 = v2.replace("fields.pings += 1;", "fields.pings += 100;");
    let (_dir, db) = match support::postgres_url() {
        Some(base) => (None, support::fresh_postgres(&base)),
        None => {
            let (dir, path) = support::temp_db();
            (Some(dir), path.display().to_string())
        }
    };
    let clock = ManualClock::at(t0());
    let c = {
        let e = Engine::builder()
            .database(&db)
            .workflow_str("digest.yaml", V1)
            .clock(clock.clone())
            .build()
            .unwrap();
        e.put_people(&people()).unwrap();
        e.put_org(OrgPatch::new("ch1").setting(INCIDENT_MAX_ATTEMPTS_SETTING, json!(2)))
            .unwrap();
        let c = e.start("digest", "create", "pat", json!({})).unwrap();
        e.advance_by(Duration::days(1) + Duration::minutes(5))
            .unwrap();
        let i = &open(&e)[0];
        assert_eq!((i.attempts, i.next_attempt_at), (2, None));
        c
    };
    // deploy v2 beside v1, migrate the case, retry
    let e = Engine::builder()
        .database(&db)
        .workflow_str("digest.yaml", V1)
        .workflow_str("digest-v2.yaml", v2)
        .clock(clock.clone())
        .build()
        .unwrap();
    let plan = MigrationPlan::parse(PLAN, "plan.yaml").unwrap();
    e.migrate(&plan, &MigrateOptions::default()).unwrap();
    assert_eq!(e.get(c.id, None).unwrap().version, 2);
    let i = e.retry_incident(open(&e)[0].id).unwrap();
    assert_eq!(i.status, IncidentStatus::Resolved, "{i:?}");
    assert_eq!(
        e.get(c.id, None).unwrap().data["pings"],
        json!(100),
        "v2's script ran"
    );
    assert_folds(&e, c.id);
}

/// Schema step 6 on its own: a database at version 5 gets the incidents table and the cases'
/// operator marks (suspended, cancelled), and keeps its cases and timers.
#[test]
fn a_version_6_database_is_upgraded_with_the_incidents_table() {
    let build = |db: &str| {
        Engine::builder()
            .database(db)
            .workflow_str("flaky.yaml", FLAKY)
            .clock(ManualClock::at(t0()))
            .build()
            .unwrap()
    };
    let (_dir, db) = match support::postgres_url() {
        Some(base) => (None, support::fresh_postgres(&base)),
        None => {
            let (dir, path) = support::temp_db();
            (Some(dir), path.display().to_string())
        }
    };
    let c = {
        let e = build(&db);
        e.put_people(&people()).unwrap();
        e.start("flaky", "create", "pat", json!({})).unwrap()
    };
    // take the database back to version 6 (undo steps 8 and 7)
    if support::postgres_url().is_some() {
        let mut pg = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        pg.batch_execute(
            "DROP TABLE audit; DROP INDEX cases_suspended;
             CREATE INDEX cases_by_org_state ON cases (workflow, org, state);
             DROP TABLE incidents; ALTER TABLE cases DROP COLUMN suspended;
             ALTER TABLE cases DROP COLUMN cancelled; UPDATE mentorflow_meta SET schema_version = 6",
        )
            .unwrap();
    } else {
        let sq = rusqlite::Connection::open(&db).unwrap();
        sq.execute_batch(
            "DROP TABLE audit; DROP INDEX cases_suspended;
             CREATE INDEX cases_by_org_state ON cases (workflow, org, state);
             DROP TABLE incidents; ALTER TABLE cases DROP COLUMN suspended;
             ALTER TABLE cases DROP COLUMN cancelled; PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    let e = build(&db);
    let h = e.health(Duration::minutes(5)).unwrap();
    assert_eq!(h.schema_version, mentorflow::store::schema::SCHEMA_VERSION);
    assert_eq!(h.open_incidents, 0);
    assert_eq!(e.get(c.id, None).unwrap(), c);
    e.advance_by(Duration::hours(1)).unwrap();
    assert_eq!(open(&e).len(), 1, "the upgraded database stores incidents");
    e.put_person(&Person::new("olga").org("ch1").role("admin"))
        .unwrap();
    let s = e.suspend_case(c.id, "olga", "upgrade check").unwrap();
    assert_eq!(e.get(c.id, None).unwrap().suspended, s.suspended);
    assert!(
        s.suspended.is_some(),
        "the upgraded database stores the operator marks"
    );
}

#[test]
fn a_workflow_cannot_declare_the_engines_setting() {
    let yaml = FLAKY.replace(
        "settings:\n  ready: false\n",
        "settings:\n  ready: false\n  incident_max_attempts: 3\n",
    );
    let problems = support::problems_of("flaky.yaml", &yaml);
    assert!(
        problems
            .iter()
            .any(|p| p.path == "settings.incident_max_attempts"
                && p.message.contains("engine's own organisation setting")),
        "{problems:?}"
    );
}
