//! Embedding mentorflow in a Rust service.
//!
//! This host:
//! - adds its own function to the script sandbox (`chapter_name`, used by a template),
//! - plugs in a "mailer" hook that receives every notification after commit,
//! - listens to signals (typed events that are not messages),
//! - moves a mentoring request through its flow and lets a reminder timer fire on a manual
//!   clock, the way a test or a simulation would.
//!
//! Run it with `cargo run -p rust-host`.

use std::sync::{Arc, Mutex};

use mentorflow::{Engine, Hook, HookError, ManualClock, Notification, Org, Person, Signal};
use serde_json::json;

const WORKFLOW: &str = r#"
workflow: request
version: 1
title: Mentoring request
roles:
  client: {}
  mentor: {}
  coordinator: { directory: coordinator, sees: org }
fields:
  client_name: { type: string, required: true }
templates:
  assigned:
    subject: "New request from ${fields.client_name} (${chapter_name(case.org)})"
    body: "Hello ${recipient.name}, please accept or decline within 24 hours."
  reminder:
    subject: "Reminder: ${fields.client_name} is waiting"
    body: "Please accept or decline the request."
  accepted:
    subject: "Your mentor is ${actor.name}"
    body: "${actor.name} will contact you soon."
states:
  submitted: { label: Submitted }
  pending:
    label: Assigned – Pending
    timers:
      - name: reminder_24h
        after: 24h
        run: notify(case.mentor, "reminder")
  in_progress: { label: In Progress, final: true }
actions:
  submit: { to: submitted, by: client }
  assign:
    from: submitted
    to: pending
    by: coordinator
    inputs: { mentor: { type: person, required: true } }
    run: |
      assign("mentor", inputs.mentor);
      notify(inputs.mentor, "assigned");
  accept:
    from: pending
    to: in_progress
    by: mentor
    run: |
      notify(case.client, "accepted");
      emit("calendar_invite", #{ mentor: actor.id, client: case.client });
"#;

/// A stand-in for an SMTP client: it records what it would send.
#[derive(Clone, Default)]
struct Mailer {
    outbox: Arc<Mutex<Vec<String>>>,
}

impl Hook for Mailer {
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        // A real mailer would look up `n.to` and send `n.subject` / `n.body`;
        // `n.id` is the idempotency key for dropping a duplicate delivery.
        let line = format!("#{} to {}: {}", n.id, n.to, n.subject);
        println!("  mailer  {line}");
        self.outbox
            .lock()
            .map_err(|_| "mailer lock poisoned")?
            .push(line);
        Ok(())
    }

    fn on_signal(&self, s: &Signal) -> Result<(), HookError> {
        println!(
            "  signal  {} {}",
            s.kind,
            serde_json::Value::Object(s.data.clone())
        );
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let t0 = "2026-11-20T10:00:00Z".parse()?;
    let clock = ManualClock::at(t0);
    let mailer = Mailer::default();
    let engine = Engine::builder()
        .in_memory()
        .workflow_str("request.yaml", WORKFLOW)
        .clock(clock.clone())
        .functions(|e| {
            e.register_fn("chapter_name", |id: &str| format!("SCORE chapter {id}"));
        })
        .hook(mailer.clone())
        .build()?;

    engine.replace_org(&Org::new("ch12").timezone("America/New_York"))?;
    engine.put_people(&[
        Person::new("pat").name("Pat Client").org("ch12"),
        Person::new("cody")
            .name("Cody")
            .org("ch12")
            .role("coordinator"),
        Person::new("alice")
            .name("Alice Mentor")
            .org("ch12")
            .role("mentor"),
    ])?;

    let case = engine.start(
        "request",
        "submit",
        "pat",
        json!({"client_name": "Pat's Bakery"}),
    )?;
    println!("{} started: {}", case.id, case.state_label);
    let case = engine.act(case.id, "assign", "cody", json!({"mentor": "alice"}))?;
    println!("{} assigned: {}", case.id, case.state_label);

    // A day passes: the reminder timer fires on the manual clock.
    let report = engine.advance("25h")?;
    println!("advanced 25h: {} timer(s) fired", report.fired);

    let case = engine.act(case.id, "accept", "alice", json!({}))?;
    println!("{} accepted: {}", case.id, case.state_label);

    // The history replays to the same snapshot.
    let history = engine.history(case.id, None)?;
    let folded = mentorflow::fold(&history).ok_or("empty history")?;
    assert!(folded.matches(&case), "history does not replay to the case");

    let sent = mailer.outbox.lock().map_err(|_| "lock")?.clone();
    assert_eq!(
        sent.len(),
        3,
        "assignment, reminder and acceptance emails: {sent:?}"
    );
    assert!(sent[0].contains("SCORE chapter ch12"), "{}", sent[0]);
    assert!(sent[1].contains("Reminder"), "{}", sent[1]);
    println!(
        "ok: {} emails sent, {} events in the history",
        sent.len(),
        history.len()
    );
    Ok(())
}
