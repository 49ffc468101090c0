//! Resuming where a run stopped (issue 18): time never runs backwards in a database, the last
//! committed instant, a case's pending timers with what they fire, its participants with
//! since-dates, and the health report.
#![allow(clippy::unwrap_used)]
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use mentorflow::{Engine, Error, Hook, HookError, ManualClock, Participant, SystemClock};
use serde_json::json;
use support::{err, people, t0, temp_db, REQUEST};

/// A mailer whose server is down while the flag is set.
struct Mailer(Arc<AtomicBool>);

impl Hook for Mailer {
    fn on_notification(&self, _: &mentorflow::Notification) -> Result<(), HookError> {
        if self.0.load(Ordering::SeqCst) {
            return Err("mail server down".into());
        }
        Ok(())
    }
}

fn open(path: &std::path::Path, at: DateTime<Utc>) -> mentorflow::Result<Engine> {
    Engine::builder()
        .database(path)
        .workflow_str("request.yaml", REQUEST)
        .clock(ManualClock::at(at))
        .build()
}

/// A file with one assigned request; the last event is one hour after t0.
fn assigned_file() -> (tempfile::TempDir, std::path::PathBuf, i64) {
    let (dir, path) = temp_db();
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .database(&path)
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    let c = e
        .start("request", "submit", "pat", json!({"client_name": "Pat"}))
        .unwrap();
    clock.advance(Duration::hours(1));
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    (dir, path, c.id)
}

#[test]
fn a_manual_clock_may_not_start_before_the_last_committed_event() {
    let (_dir, path, _) = assigned_file();
    let last = t0() + Duration::hours(1);
    let refused = err(open(&path, t0()));
    match &refused {
        Error::Validation { field, message, .. } => {
            assert_eq!(field.as_deref(), Some("clock"));
            assert!(
                message.contains("2026-11-20T10:00:00Z")
                    && message.contains("2026-11-20T11:00:00Z")
                    && message.contains(&path.display().to_string())
                    && message.contains("time cannot run backwards"),
                "{message}"
            );
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
    // Exactly at the last instant, or later, resumes.
    let e = open(&path, last).unwrap();
    assert_eq!(e.last_committed_at().unwrap(), Some(last));
    drop(e);
    let e = open(&path, last + Duration::days(3)).unwrap();
    assert_eq!(e.now(), last + Duration::days(3));
}

#[test]
fn the_system_clock_opens_a_database_written_in_the_future() {
    // A simulation wrote events years ahead; real time still reads it.
    let (_dir, path) = temp_db();
    let far = "2990-01-01T00:00:00Z".parse().unwrap();
    let e = open(&path, far).unwrap();
    e.put_people(&people()).unwrap();
    e.start("request", "submit", "pat", json!({"client_name": "Pat"}))
        .unwrap();
    drop(e);
    let e = Engine::builder()
        .database(&path)
        .workflow_str("request.yaml", REQUEST)
        .clock(SystemClock)
        .build()
        .unwrap();
    assert_eq!(e.last_committed_at().unwrap(), Some(far));
}

#[test]
fn last_committed_at_follows_every_commit_and_timer() {
    let (e, clock) = support::engine();
    assert_eq!(e.last_committed_at().unwrap(), None);
    let c = e
        .start("request", "submit", "pat", json!({"client_name": "Pat"}))
        .unwrap();
    assert_eq!(e.last_committed_at().unwrap(), Some(t0()));
    clock.advance(Duration::minutes(5));
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    assert_eq!(
        e.last_committed_at().unwrap(),
        Some(t0() + Duration::minutes(5))
    );
    // The 24 h reminder fires at its due time, which is then the last committed instant,
    // although the clock went on to the end of the advance.
    e.advance("30h").unwrap();
    assert_eq!(
        e.last_committed_at().unwrap(),
        Some(t0() + Duration::minutes(5) + Duration::hours(24))
    );
    assert!(e.now() > e.last_committed_at().unwrap().unwrap());
}

#[test]
fn pending_timers_say_what_they_fire() {
    let (e, _) = support::engine();
    let c = e
        .start("request", "submit", "pat", json!({"client_name": "Pat"}))
        .unwrap();
    assert!(e.timers(c.id).unwrap().is_empty());
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    let timers = e.timers(c.id).unwrap();
    let shape: Vec<_> = timers
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.state.as_str(),
                t.action.as_deref(),
                t.script,
                t.recurring,
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("reminder_24h", "pending", None, true, false),
            ("back_to_queue", "pending", Some("expire"), false, false),
        ]
    );
    assert_eq!(timers[0].due_at, t0() + Duration::hours(24));
    // 5 business days from Friday 2026-11-20 10:00 UTC: Friday 2026-11-27.
    assert_eq!(
        timers[1].due_at,
        "2026-11-27T10:00:00Z".parse::<DateTime<Utc>>().unwrap()
    );
    assert!(matches!(
        err(e.timers(999)),
        Error::NotFound { kind: "case", .. }
    ));
}

#[test]
fn participants_carry_the_time_they_were_given_the_role() {
    let (e, clock) = support::engine();
    let c = e
        .start("request", "submit", "pat", json!({"client_name": "Pat"}))
        .unwrap();
    clock.advance(Duration::hours(2));
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    let p = |role: &str, person: &str, since| Participant {
        role: role.into(),
        person: person.into(),
        since,
    };
    assert_eq!(
        e.participants(c.id, None).unwrap(),
        [
            p("client", "pat", t0()),
            p("mentor", "alice", t0() + Duration::hours(2))
        ]
    );
    // A declined mentor is gone; a reassigned one starts again.
    clock.advance(Duration::hours(1));
    e.act(c.id, "decline", "alice", json!({"reason": "busy"}))
        .unwrap();
    clock.advance(Duration::hours(1));
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    assert_eq!(
        e.participants(c.id, None).unwrap()[1],
        p("mentor", "alice", t0() + Duration::hours(4))
    );
    // With an actor, only for someone who may see the case.
    assert_eq!(e.participants(c.id, Some("alice")).unwrap().len(), 2);
    assert!(matches!(
        err(e.participants(c.id, Some("zed"))),
        Error::NotFound { kind: "case", .. }
    ));
}

#[test]
fn health_reports_overdue_timers_and_the_outbox_backlog() {
    let (dir, path, _) = assigned_file();
    let _dir = dir;
    let last = t0() + Duration::hours(1);
    let e = open(&path, last).unwrap();
    let h = e.health(Duration::minutes(5)).unwrap();
    assert_eq!(h.schema_version, mentorflow::store::schema::SCHEMA_VERSION);
    assert_eq!(h.last_committed_at, Some(last));
    assert_eq!(h.next_due, Some(last + Duration::hours(24)));
    assert_eq!(h.overdue_timers, 0);
    // The "assigned" notification waits: no hook took it, no host acknowledged it.
    assert_eq!((h.outbox_backlog, h.failed_deliveries), (1, 0));
    assert!(h.healthy());
    drop(e);

    // Two days later, with no worker running, the reminder is overdue.
    let e = open(&path, last + Duration::days(2)).unwrap();
    let h = e.health(Duration::minutes(5)).unwrap();
    assert_eq!(h.overdue_timers, 1);
    assert!(!h.healthy());
    // Within the grace period it is not.
    assert_eq!(e.health(Duration::days(3)).unwrap().overdue_timers, 0);

    // A delivery that failed makes it unhealthy until it is delivered.
    let down = Arc::new(AtomicBool::new(true));
    e.add_hook(Arc::new(Mailer(Arc::clone(&down))));
    e.deliver().unwrap();
    let h = e.health(Duration::days(3)).unwrap();
    assert_eq!((h.outbox_backlog, h.failed_deliveries), (1, 1));
    assert!(!h.healthy());
    down.store(false, Ordering::SeqCst);
    // retried once its backoff passed (the clock is manual and stands still: an operator
    // retries it now)
    e.deliver().unwrap();
    assert_eq!(e.health(Duration::days(3)).unwrap().failed_deliveries, 1);
    let id = e.notifications(&Default::default()).unwrap()[0].id;
    assert_eq!(e.retry_delivery(id, None).unwrap(), 1);
    let h = e.health(Duration::days(3)).unwrap();
    assert_eq!((h.outbox_backlog, h.failed_deliveries), (0, 0));
    assert!(h.healthy());
}
