//! Hooks: notifications delivered after commit to every hook, failing and panicking hooks
//! (nothing rolled back, nothing lost, retried), ack, history events in order, signals, and
//! private fields kept out of notifications.
#![allow(clippy::unwrap_used)]
mod support;
use support::Fresh;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use mentorflow::{
    Effect, Engine, Event, Hook, HookError, ManualClock, Notification, NotificationFilter, Signal,
};
use serde_json::json;
use support::{err, people, t0, Recorder, REQUEST};

fn request(e: &Engine) -> i64 {
    let c = e
        .start(
            "request",
            "submit",
            "pat",
            json!({"client_name": "Pat's Bakery"}),
        )
        .unwrap();
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    c.id
}

fn build(hooks: Vec<Arc<dyn Hook>>) -> (Engine, ManualClock) {
    let clock = ManualClock::at(t0());
    let mut b = Engine::builder()
        .fresh()
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone());
    for h in hooks {
        b = b.hook_arc(h);
    }
    let e = b.build().unwrap();
    e.put_people(&people()).unwrap();
    (e, clock)
}

/// A hook that fails (or panics) while `broken` is set.
#[derive(Default)]
struct Flaky {
    broken: AtomicBool,
    panics: bool,
    seen: Mutex<Vec<i64>>,
}

impl Hook for Flaky {
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        self.seen.lock().unwrap().push(n.id);
        if self.broken.load(Ordering::SeqCst) {
            if self.panics {
                panic!("mailer exploded");
            }
            return Err("smtp server down".into());
        }
        Ok(())
    }
}

#[test]
fn notifications_reach_every_hook_with_rendered_text() {
    let (a, b) = (Recorder::default(), Recorder::default());
    let (e, _) = build(vec![Arc::new(a.clone()), Arc::new(b.clone())]);
    let id = request(&e);
    for rec in [&a, &b] {
        let got = rec.notifications.lock().unwrap().clone();
        assert_eq!(got.len(), 1);
        let n = &got[0];
        assert_eq!(n.case_id, Some(id));
        assert_eq!(n.to, "alice");
        assert_eq!(n.template, "assigned");
        assert_eq!(n.subject, "New request from Pat's Bakery");
        assert_eq!(
            n.body,
            format!("Hello Alice Mentor, open https://portal.example.org/requests/{id}")
        );
    }
    let stored = e.notifications(&NotificationFilter::default()).unwrap();
    assert_eq!(stored.len(), 1);
    assert!(stored[0].delivered_at.is_some());
    assert_eq!(stored[0].attempts, 1);
    assert_eq!(stored[0].last_error, None);
    let last = e.history(id, None).unwrap().pop().unwrap();
    assert!(last.effects.contains(&Effect::Notify {
        id: stored[0].id,
        to: "alice".into(),
        template: "assigned".into()
    }));
}

/// Reads the case's state from the file through its own connection while delivering.
struct CommitWitness {
    path: PathBuf,
    states: Mutex<Vec<String>>,
}

impl Hook for CommitWitness {
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        let db = rusqlite::Connection::open(&self.path)?;
        let state: String = db.query_row(
            "SELECT state FROM cases WHERE id = ?1",
            [n.case_id.unwrap_or_default()],
            |r| r.get(0),
        )?;
        self.states.lock().unwrap().push(state);
        Ok(())
    }
}

#[test]
fn notifications_are_delivered_after_the_commit() {
    let (_dir, path) = support::temp_db();
    let witness = Arc::new(CommitWitness {
        path: path.clone(),
        states: Mutex::new(Vec::new()),
    });
    let e = Engine::builder()
        .database(&path)
        .workflow_str("request.yaml", REQUEST)
        .clock(ManualClock::at(t0()))
        .hook_arc(witness.clone())
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    request(&e);
    assert_eq!(*witness.states.lock().unwrap(), ["pending"]);
}

fn hook_failure_is_recorded_and_retried(panics: bool) {
    let flaky = Arc::new(Flaky {
        panics,
        ..Flaky::default()
    });
    flaky.broken.store(true, Ordering::SeqCst);
    let rec = Recorder::default();
    let (e, clock) = build(vec![flaky.clone(), Arc::new(rec.clone())]);
    let id = request(&e);
    // the action committed
    let c = e.get(id, None).unwrap();
    assert_eq!(c.state, "pending");
    assert_eq!(c.participant("mentor"), Some("alice"));
    let n = &e.notifications(&Default::default()).unwrap()[0];
    assert_eq!(n.delivered_at, None);
    assert_eq!(n.attempts, 1);
    let error = n.last_error.clone().unwrap();
    if panics {
        assert!(error.contains("hook panicked: mailer exploded"), "{error}");
    } else {
        assert_eq!(error, "smtp server down");
    }
    // not retried before its backoff (the first retry waits 30 to 60 s)
    let r = e.tick().unwrap();
    assert_eq!((r.delivered, r.delivery_failures), (0, 0), "{r:?}");
    // still failing: another attempt once it is due
    clock.advance(chrono::Duration::seconds(60));
    let r = e.tick().unwrap();
    assert_eq!((r.delivered, r.delivery_failures), (0, 1), "{r:?}");
    assert_eq!(e.notifications(&Default::default()).unwrap()[0].attempts, 2);
    // repaired: delivered on the first tick after the next wait (60 to 120 s)
    flaky.broken.store(false, Ordering::SeqCst);
    clock.advance(chrono::Duration::seconds(120));
    let r = e.tick().unwrap();
    assert_eq!((r.delivered, r.delivery_failures), (1, 0), "{r:?}");
    let n = &e.notifications(&Default::default()).unwrap()[0];
    assert!(n.delivered_at.is_some());
    assert_eq!(n.attempts, 3);
    assert_eq!(n.last_error, None);
    assert_eq!(*flaky.seen.lock().unwrap(), [n.id, n.id, n.id]);
    // the healthy hook got it once: a failing hook never makes the others receive it again
    let ids: Vec<i64> = rec
        .notifications
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(ids, [n.id]);
    clock.advance(chrono::Duration::hours(1));
    assert_eq!(
        e.tick().unwrap().delivered,
        0,
        "delivered once it succeeded"
    );
}

#[test]
fn a_failing_hook_keeps_the_action_and_the_notification() {
    hook_failure_is_recorded_and_retried(false);
}

#[test]
fn a_panicking_hook_keeps_the_action_and_the_notification() {
    hook_failure_is_recorded_and_retried(true);
}

#[test]
fn ack_marks_a_notification_handled_once() {
    let (e, clock) = support::engine();
    request(&e);
    let n = e.notifications(&Default::default()).unwrap().remove(0);
    assert_eq!(n.acked_at, None);
    let pending = NotificationFilter {
        pending: true,
        ..Default::default()
    };
    assert_eq!(e.notifications(&pending).unwrap().len(), 1);
    e.ack(n.id).unwrap();
    let first = e.notifications(&Default::default()).unwrap()[0].acked_at;
    assert_eq!(first, Some(t0()));
    assert!(e.notifications(&pending).unwrap().is_empty());
    clock.advance(chrono::Duration::hours(1));
    e.ack(n.id).unwrap();
    assert_eq!(
        e.notifications(&Default::default()).unwrap()[0].acked_at,
        first,
        "the first ack stands"
    );
    assert_eq!(err(e.ack(9999)).code(), "not_found");
    let to_alice = NotificationFilter {
        to: Some("alice".into()),
        ..Default::default()
    };
    assert_eq!(e.notifications(&to_alice).unwrap().len(), 1);
    let to_bob = NotificationFilter {
        to: Some("bob".into()),
        ..Default::default()
    };
    assert!(e.notifications(&to_bob).unwrap().is_empty());
}

/// Records every event; fails while `broken` is set.
#[derive(Default)]
struct Audit {
    broken: AtomicBool,
    events: Mutex<Vec<Event>>,
}

impl Hook for Audit {
    fn on_event(&self, e: &Event) -> Result<(), HookError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err("audit sink offline".into());
        }
        self.events.lock().unwrap().push(e.clone());
        Ok(())
    }
}

fn all_events(e: &Engine) -> Vec<Event> {
    let mut all: Vec<Event> = e
        .cases(&Default::default())
        .unwrap()
        .iter()
        .flat_map(|c| e.history(c.id, None).unwrap())
        .collect();
    all.sort_by_key(|ev| ev.id);
    all
}

#[test]
fn on_event_receives_every_committed_event_in_order() {
    let audit = Arc::new(Audit::default());
    let (e, _) = build(vec![audit.clone()]);
    let a = request(&e);
    let b = request(&e);
    // a refused action commits nothing and sends no event
    assert!(e.act(a, "log_session", "alice", json!({})).is_err());
    e.act(b, "accept", "alice", json!({"note": "Hi"})).unwrap();
    e.advance("25h").unwrap();
    let got = audit.events.lock().unwrap().clone();
    assert_eq!(got, all_events(&e));
    assert_eq!(got.len(), 6, "2 starts, 2 assigns, 1 accept, 1 reminder");
    assert_eq!(got.last().unwrap().action, "timer:reminder_24h");

    // an offline sink gets the events it missed, in order, once it is back
    audit.broken.store(true, Ordering::SeqCst);
    e.act(b, "log_session", "alice", json!({})).unwrap();
    e.act(b, "log_session", "alice", json!({})).unwrap();
    assert_eq!(audit.events.lock().unwrap().len(), 6);
    audit.broken.store(false, Ordering::SeqCst);
    e.tick().unwrap();
    let got = audit.events.lock().unwrap().clone();
    assert_eq!(got, all_events(&e));
    let ids: Vec<i64> = got.iter().map(|ev| ev.id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

const EXCEPTION: &str = r#"
workflow: exception
version: 1
roles:
  requester: {}
  supervisor: { directory: coordinator }
fields:
  date: { type: date, required: true }
  secret: { type: text, private: true }
templates:
  approved:
    subject: "Approved for ${fields.date}"
    body: "Secret: [${fields.secret}] Why: [${inputs.why}] Note: [${data.note}] Case secret: [${case.fields.secret}]"
states:
  pending: { label: Pending }
  approved: { label: Approved, final: true }
actions:
  create: { to: pending, by: requester }
  approve:
    from: pending
    to: approved
    by: supervisor
    inputs:
      why: { type: text, private: true }
    run: |
      emit("schedule_exception", #{ agent: case.requester, date: fields.date });
      notify(case.requester, "approved", #{ note: "plain" });
      notify(case.requester, "approved", #{ note: "explicit", secret: fields.secret });
"#;

#[test]
fn emitted_signals_reach_on_signal() {
    let (e, _, rec) = support::engine_for_with_hook("exception.yaml", EXCEPTION);
    let c = e
        .start("exception", "create", "pat", json!({"date": "2026-12-01"}))
        .unwrap();
    e.act(c.id, "approve", "cody", json!({"why": "fine"}))
        .unwrap();
    let got: Vec<Signal> = rec.signals.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let s = &got[0];
    assert_eq!(s.kind, "schedule_exception");
    assert_eq!(s.case_id, Some(c.id));
    assert_eq!(s.data["agent"], json!("pat"));
    assert_eq!(s.data["date"], json!("2026-12-01"));
    assert_eq!(e.signals(Some(c.id)).unwrap(), got);
    assert!(e.signals(Some(c.id + 1)).unwrap().is_empty());
    let last = e.history(c.id, None).unwrap().pop().unwrap();
    assert!(last.effects.contains(&Effect::Signal {
        id: s.id,
        kind: "schedule_exception".into()
    }));
    // signals are not notifications
    assert_eq!(e.notifications(&Default::default()).unwrap().len(), 2);
}

#[test]
fn private_fields_and_inputs_stay_out_of_notifications() {
    let (e, _, rec) = support::engine_for_with_hook("exception.yaml", EXCEPTION);
    let c = e
        .start(
            "exception",
            "create",
            "pat",
            json!({"date": "2026-12-01", "secret": "salary 90k"}),
        )
        .unwrap();
    e.act(
        c.id,
        "approve",
        "cody",
        json!({"why": "confidential reason"}),
    )
    .unwrap();
    let got = rec.notifications.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    for n in &got {
        assert_eq!(n.subject, "Approved for 2026-12-01");
        assert!(!n.body.contains("salary"), "{}", n.body);
        assert!(!n.body.contains("confidential"), "{}", n.body);
        assert!(
            n.body.starts_with("Secret: [] Why: [] Note: ["),
            "{}",
            n.body
        );
    }
    assert!(!got[0].data.contains_key("secret"));
    assert_eq!(got[0].data["note"], json!("plain"));
    // passed explicitly by the workflow: the author chose to send it
    assert_eq!(got[1].data["secret"], json!("salary 90k"));
    let stored: Vec<_> = e
        .notifications(&Default::default())
        .unwrap()
        .into_iter()
        .map(|n| (n.id, n.body, n.data))
        .collect();
    let seen: Vec<_> = got.into_iter().map(|n| (n.id, n.body, n.data)).collect();
    assert_eq!(stored, seen);
}

#[test]
fn a_private_input_is_not_rendered_in_the_request_flow() {
    let (e, _, rec) = support::engine_with_hook();
    let id = request(&e);
    e.act(
        id,
        "decline",
        "alice",
        json!({"reason": "a private matter"}),
    )
    .unwrap();
    let returned: Vec<Notification> = rec
        .notifications
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n.template == "returned")
        .cloned()
        .collect();
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0].to, "cody");
    assert_eq!(returned[0].body, "Reason: ");
    assert!(!returned[0].data.values().any(|v| v == "a private matter"));
    // the case itself keeps the value
    assert_eq!(
        e.get(id, None).unwrap().data["reason"],
        json!("a private matter")
    );
}
