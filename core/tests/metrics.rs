//! Metrics: the engine's counters (commands by outcome, the latency histogram, firings and
//! deliveries) move with what it does, and the database's gauges (timers due and overdue,
//! outbox backlog and failures, dead letters, open incidents) say what is waiting; the
//! Prometheus text carries both.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::Duration;
use mentorflow::{Engine, Hook, HookError, ManualClock, Notification, Person};
use serde_json::json;
use support::{err, people, t0, Fresh};

const FLOW: &str = r#"
workflow: metered
version: 1
roles:
  owner: {}
settings:
  fail: { type: bool, default: false }
fields:
  pings: { type: int, default: 0 }
states:
  waiting:
    label: Waiting
    timers:
      - name: remind
        after: 1h
        run: 'if settings.fail { throw "reminder broke" } fields.pings += 1;'
  done: { label: Done, final: true }
templates:
  hello: { subject: Hello, body: Hello }
actions:
  create:
    to: waiting
    by: owner
    run: 'assign("owner", actor.id); notify(actor.id, "hello");'
  finish: { from: waiting, to: done, by: owner }
"#;

/// A hook that fails while `down` is set.
#[derive(Default, Clone)]
struct Flaky {
    down: Arc<AtomicBool>,
}

impl Hook for Flaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn on_notification(&self, _: &Notification) -> Result<(), HookError> {
        if self.down.load(Ordering::SeqCst) {
            Err("endpoint down".into())
        } else {
            Ok(())
        }
    }
}

fn setup() -> (Engine, ManualClock, Flaky) {
    let clock = ManualClock::at(t0());
    let flaky = Flaky::default();
    let e = Engine::builder()
        .fresh()
        .workflow_str("metered.yaml", FLOW)
        .clock(clock.clone())
        .hook(flaky.clone())
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    e.put_person(&Person::new("olga").org("ch1").role("admin"))
        .unwrap();
    (e, clock, flaky)
}

#[test]
fn commands_are_counted_by_outcome_with_their_latency() {
    let (e, _, _) = setup();
    let m0 = e.metrics().unwrap();
    assert_eq!(m0.step_latency.count, 0);
    assert!(m0.commands.is_empty(), "{:?}", m0.commands);

    let c = e.start("metered", "create", "pat", json!({})).unwrap();
    e.act(c.id, "finish", "pat", json!({})).unwrap();
    // refused: the case is closed now (guard), and an unknown case
    assert_eq!(
        err(e.act(c.id, "finish", "pat", json!({}))).code(),
        "guard_rejected"
    );
    assert_eq!(
        err(e.act(999, "finish", "pat", json!({}))).code(),
        "not_found"
    );
    let d = e.start("metered", "create", "pat", json!({})).unwrap();
    e.suspend_case(d.id, "olga", "on leave").unwrap();
    assert_eq!(
        err(e.act(d.id, "finish", "pat", json!({}))).code(),
        "suspended"
    );
    assert_eq!(
        err(e.suspend_case(d.id, "pat", "not an operator")).code(),
        "not_permitted"
    );

    let m = e.metrics().unwrap();
    assert_eq!(m.count("start", "ok"), 2);
    assert_eq!(m.count("act", "ok"), 1);
    assert_eq!(m.count("act", "guard_rejected"), 1);
    assert_eq!(m.count("act", "not_found"), 1);
    assert_eq!(m.count("act", "suspended"), 1);
    assert_eq!(m.count("suspend", "ok"), 1);
    // refused before its transaction: not a step, not counted
    assert_eq!(m.count("suspend", "not_permitted"), 0);
    assert_eq!(m.step_latency.count, 7);
    assert!(m.step_latency.sum_seconds > 0.0);
    let buckets = &m.step_latency.buckets;
    assert!(
        buckets.windows(2).all(|w| w[0].1 <= w[1].1),
        "cumulative: {buckets:?}"
    );

    let text = m.to_prometheus();
    assert!(
        text.contains("mentorflow_commands_total{command=\"act\",outcome=\"guard_rejected\"} 1\n"),
        "{text}"
    );
    assert!(text.contains("mentorflow_step_duration_seconds_count 7\n"));
    assert!(text.contains("# TYPE mentorflow_step_duration_seconds histogram\n"));

    // a clone shares the counters
    let twin = e.clone();
    twin.act(d.id, "finish", "pat", json!({})).unwrap_err();
    assert_eq!(e.metrics().unwrap().count("act", "suspended"), 2);
}

#[test]
fn gauges_follow_timers_the_outbox_and_incidents() {
    let (e, clock, flaky) = setup();
    flaky.down.store(true, Ordering::SeqCst);
    let c = e.start("metered", "create", "pat", json!({})).unwrap();
    let m = e.metrics().unwrap();
    assert_eq!((m.deliveries, m.delivery_failures), (0, 1));
    assert_eq!((m.gauges.outbox_backlog, m.gauges.outbox_failed), (1, 1));
    assert_eq!((m.gauges.timers_due, m.gauges.timers_overdue), (0, 0));

    // the reminder falls due; ten minutes later nobody fired it: overdue
    clock.set(t0() + Duration::minutes(70));
    let m = e.metrics().unwrap();
    assert_eq!((m.gauges.timers_due, m.gauges.timers_overdue), (1, 1));

    // the endpoint comes back: the retry delivers; the reminder fires
    flaky.down.store(false, Ordering::SeqCst);
    clock.set(t0() + Duration::hours(2));
    let r = e.tick().unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    let m = e.metrics().unwrap();
    assert_eq!((m.deliveries, m.delivery_failures), (1, 1));
    assert_eq!((m.gauges.outbox_backlog, m.gauges.outbox_failed), (0, 0));
    assert_eq!((m.timers_fired, m.timers_failed), (1, 0));
    assert_eq!(m.gauges.timers_due, 0);
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(1));

    // a firing that fails opens an incident
    e.put_org(mentorflow::OrgPatch::new("ch1").setting("fail", json!(true)))
        .unwrap();
    let d = e.start("metered", "create", "pat", json!({})).unwrap();
    clock.set(t0() + Duration::hours(4));
    let r = e.tick().unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let m = e.metrics().unwrap();
    assert_eq!(m.timers_failed, 1);
    assert_eq!(m.gauges.open_incidents, 1);
    let text = m.to_prometheus();
    assert!(text.contains("mentorflow_open_incidents 1\n"), "{text}");
    assert!(text.contains("mentorflow_timer_firings_total{outcome=\"failed\"} 1\n"));
    assert!(text.contains("mentorflow_deliveries_total{outcome=\"delivered\"} 2\n"));
    let _ = d;
}
