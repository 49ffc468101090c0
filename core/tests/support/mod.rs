//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

mod backend;
pub mod copy;
#[allow(unused_imports)]
pub use backend::{fresh_database, fresh_postgres, postgres_url, Fresh};

use chrono::{DateTime, Utc};
use mentorflow::{Engine, Hook, HookError, ManualClock, Notification, Person, Signal};

/// 2026-11-20 was a Friday.
pub fn t0() -> DateTime<Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

/// A small request workflow shaped like score_request, used across the tests.
pub const REQUEST: &str = r#"
workflow: request
version: 1
title: Mentoring request
settings:
  portal_url: https://portal.example.org
  max_open: 3
roles:
  client: {}
  mentor: {}
  team: { many: true }
  coordinator: { directory: coordinator, sees: org }
fields:
  client_name: { type: string, required: true, max_length: 80 }
  contacted: { type: bool, default: false }
  sessions: { type: int, default: 0, min: 0 }
  reason: { type: text, private: true }
templates:
  assigned:
    subject: "New request from ${fields.client_name}"
    body: "Hello ${recipient.name}, open ${settings.portal_url}/requests/${case.id}"
  reminder:
    subject: "Reminder: ${fields.client_name} is waiting"
    body: "Please accept or decline."
  returned:
    subject: "Request returned to the queue"
    body: "Reason: ${fields.reason}"
states:
  submitted: { label: Submitted, tags: [cny] }
  pending:
    label: Assigned – Pending
    timers:
      - name: reminder_24h
        after: 24h
        run: notify(case.mentor, "reminder")
      - name: back_to_queue
        after: 5 business days
        action: expire
  in_progress: { label: In Progress }
  complete: { label: Complete, final: true }
actions:
  submit:
    to: submitted
    by: client
  assign:
    from: [submitted]
    to: pending
    by: coordinator
    inputs:
      mentor: { type: person, required: true }
    guard:
      - when: 'person(inputs.mentor).classification == "active"'
        message: Only active mentors can be assigned
    run: |
      assign("mentor", inputs.mentor);
      notify(inputs.mentor, "assigned");
  accept:
    from: pending
    to: in_progress
    by: mentor
    inputs:
      note: { type: text, required: true }
    run: |
      fields.contacted = true;
      add_note(inputs.note);
  decline:
    from: pending
    to: submitted
    by: mentor
    inputs:
      reason: { type: text, required: true, private: true }
    run: |
      fields.reason = inputs.reason;
      unassign("mentor");
      notify_role("coordinator", "returned");
  expire:
    from: pending
    to: submitted
    by: system
    run: unassign("mentor")
  log_session:
    from: [in_progress]
    by: [mentor, team]
    unavailable: You must accept or decline this request before adding a session.
    run: fields.sessions += 1
  complete:
    from: in_progress
    to: complete
    by: mentor
    guard:
      - when: 'fields.sessions >= 1 && fields.contacted'
        message: Log at least one session before completing
        suggest: [log_session]
views:
  need_action: { title: Need action, states: [pending], viewer: mentor }
  queue: { title: Intake queue, states: [submitted], viewer: coordinator, sort: created }
exports:
  requests:
    columns:
      id: case.id
      client: fields.client_name
      state: case.state_label
      mentor: case.mentor
"#;

/// Version 2 of [`REQUEST`] (migration tests): `pending` is now `assigned_pending`, `sessions` is
/// `session_count`, the `team` role is `members`, a required field `priority` and a state
/// `on_hold` are new.
pub fn request_v2() -> String {
    let s = REQUEST
        .replace("version: 1", "version: 2")
        .replace("  pending:\n", "  assigned_pending:\n")
        .replace("to: pending", "to: assigned_pending")
        .replace("from: pending", "from: assigned_pending")
        .replace("[pending]", "[assigned_pending]")
        .replace("sessions", "session_count")
        .replace("team: { many: true }", "members: { many: true }")
        .replace("by: [mentor, team]", "by: [mentor, members]")
        .replace(
            "  client_name: { type: string, required: true, max_length: 80 }\n",
            "  client_name: { type: string, required: true, max_length: 80 }\n  priority: { type: string, required: true, one_of: [low, normal, high] }\n",
        )
        .replace(
            "  complete: { label: Complete, final: true }\n",
            "  complete: { label: Complete, final: true }\n  on_hold: { label: On hold }\n",
        )
        .replace(
            "  complete:\n    from: in_progress",
            "  hold:\n    from: in_progress\n    to: on_hold\n    by: mentor\n  resume:\n    from: on_hold\n    to: in_progress\n    by: mentor\n  complete:\n    from: in_progress",
        );
    assert!(
        s.contains("assigned_pending:") && s.contains("on_hold"),
        "{s}"
    );
    s
}

/// A migration plan from [`REQUEST`] to [`request_v2`].
pub const REQUEST_PLAN: &str = r#"workflow: request
from: 1
to: 2
description: pending becomes assigned_pending; priorities
states:
  pending: assigned_pending
roles:
  team: members
fields:
  rename: { sessions: session_count }
  set:
    priority: { expr: 'if fields.client_name == "Urgent" { "high" } else if fields.client_name == "Bad" { "urgent" } else { "normal" }' }
timers:
  keep: [back_to_queue, reminder_24h]
run: |
  if fields.session_count > 0 { fields.priority = "low" }
"#;

/// Records what hooks receive.
#[derive(Default, Clone)]
pub struct Recorder {
    pub notifications: Arc<Mutex<Vec<Notification>>>,
    pub signals: Arc<Mutex<Vec<Signal>>>,
    pub events: Arc<Mutex<Vec<i64>>>,
}

impl Hook for Recorder {
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        self.notifications.lock().unwrap().push(n.clone());
        Ok(())
    }
    fn on_signal(&self, s: &Signal) -> Result<(), HookError> {
        self.signals.lock().unwrap().push(s.clone());
        Ok(())
    }
    fn on_event(&self, e: &mentorflow::Event) -> Result<(), HookError> {
        self.events.lock().unwrap().push(e.id);
        Ok(())
    }
}

pub fn people() -> Vec<Person> {
    vec![
        Person::new("pat").name("Pat Client").org("ch1"),
        Person::new("cody")
            .name("Cody Coordinator")
            .org("ch1")
            .role("coordinator"),
        Person::new("alice")
            .name("Alice Mentor")
            .org("ch1")
            .role("mentor")
            .attr("classification", "active"),
        Person::new("bob")
            .name("Bob Provisional")
            .org("ch1")
            .role("mentor")
            .attr("classification", "provisional"),
        Person::new("zed")
            .name("Zed Elsewhere")
            .org("ch2")
            .role("coordinator"),
    ]
}

/// An in-memory engine with the request workflow, the people and a manual clock at t0.
pub fn engine() -> (Engine, ManualClock) {
    let clock = ManualClock::at(t0());
    let engine = Engine::builder()
        .fresh()
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .build()
        .unwrap();
    engine.put_people(&people()).unwrap();
    (engine, clock)
}

/// Same, with a recording hook.
pub fn engine_with_hook() -> (Engine, ManualClock, Recorder) {
    let clock = ManualClock::at(t0());
    let rec = Recorder::default();
    let engine = Engine::builder()
        .fresh()
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .hook(rec.clone())
        .build()
        .unwrap();
    engine.put_people(&people()).unwrap();
    (engine, clock, rec)
}

// ---- Helpers for the topic suites (definitions, scripts, cases, store, timers, …) ----------

/// An in-memory engine running one workflow text, with [`people`] and a manual clock at t0.
pub fn engine_for(file: &str, yaml: &str) -> (Engine, ManualClock) {
    let clock = ManualClock::at(t0());
    let engine = Engine::builder()
        .fresh()
        .workflow_str(file, yaml)
        .clock(clock.clone())
        .build()
        .unwrap_or_else(|e| panic!("{file} should load: {e}"));
    engine.put_people(&people()).unwrap();
    (engine, clock)
}

/// Same, with a recording hook.
pub fn engine_for_with_hook(file: &str, yaml: &str) -> (Engine, ManualClock, Recorder) {
    let clock = ManualClock::at(t0());
    let rec = Recorder::default();
    let engine = Engine::builder()
        .fresh()
        .workflow_str(file, yaml)
        .clock(clock.clone())
        .hook(rec.clone())
        .build()
        .unwrap_or_else(|e| panic!("{file} should load: {e}"));
    engine.put_people(&people()).unwrap();
    (engine, clock, rec)
}

/// The problems of a definition text that must fail to load.
pub fn problems_of(file: &str, yaml: &str) -> Vec<mentorflow::Problem> {
    match Engine::builder().fresh().workflow_str(file, yaml).build() {
        Ok(_) => panic!("{file} should not load"),
        Err(mentorflow::Error::Definition { problems }) => problems,
        Err(other) => panic!("{file}: expected a definition error, got {other:?}"),
    }
}

/// The 1-based number of the first line of `text` containing `needle`.
pub fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} is not in the text"))
}

/// The error of a result that must fail.
pub fn err<T: std::fmt::Debug>(r: mentorflow::Result<T>) -> mentorflow::Error {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e,
    }
}

/// Everything a command may change, to compare before and after a refused command.
#[derive(Debug, PartialEq)]
pub struct Snapshot {
    pub cases: Vec<mentorflow::Case>,
    pub history: Vec<mentorflow::Event>,
    pub notifications: Vec<Notification>,
    pub signals: Vec<Signal>,
    pub timers: Vec<mentorflow::PendingTimer>,
}

/// A snapshot of every case and of one case's history, outbox and timers.
pub fn snapshot(engine: &Engine, case_id: i64) -> Snapshot {
    Snapshot {
        cases: engine.cases(&Default::default()).unwrap(),
        history: engine.history(case_id, None).unwrap(),
        notifications: engine.notifications(&Default::default()).unwrap(),
        signals: engine.signals(None).unwrap(),
        timers: engine.timers(case_id).unwrap(),
    }
}

/// A fresh temporary folder and a database path inside it.
pub fn temp_db() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cases.db");
    (dir, path)
}

/// Check that folding a case's history gives its stored snapshot.
pub fn assert_folds(engine: &Engine, case_id: i64) {
    let h = engine.history(case_id, None).unwrap();
    let c = engine.get(case_id, None).unwrap();
    let f = mentorflow::fold(&h).unwrap();
    assert!(f.matches(&c), "fold {f:?}\n!= case {c:?}");
}
