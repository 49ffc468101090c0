//! Per-consumer outbox delivery: every hook has its own cursor and delivery records, so a
//! failing hook never holds back or repeats rows for the others; retries back off with
//! jitter and end in a dead letter that an operator retries or drops.
#![allow(clippy::unwrap_used)]
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use mentorflow::{
    Clock, DeliveryFilter, DeliveryPolicy, DeliveryStatus, Engine, Event, Hook, HookError,
    ManualClock, Notification,
};
use serde_json::json;
use support::{err, people, t0, Fresh, Recorder, REQUEST};

/// A hook that fails while `broken` is set, recording every attempt (id, instant, outcome).
struct Mailer {
    name: &'static str,
    broken: AtomicBool,
    clock: ManualClock,
    attempts: Mutex<Vec<(i64, DateTime<Utc>, bool)>>,
}

impl Mailer {
    fn new(name: &'static str, clock: &ManualClock, broken: bool) -> Arc<Mailer> {
        Arc::new(Mailer {
            name,
            broken: AtomicBool::new(broken),
            clock: clock.clone(),
            attempts: Mutex::new(Vec::new()),
        })
    }

    fn accepted(&self) -> Vec<i64> {
        let a = self.attempts.lock().unwrap();
        a.iter().filter(|x| x.2).map(|x| x.0).collect()
    }

    fn tries_of(&self, id: i64) -> Vec<DateTime<Utc>> {
        let a = self.attempts.lock().unwrap();
        a.iter().filter(|x| x.0 == id).map(|x| x.1).collect()
    }
}

impl Hook for Mailer {
    fn name(&self) -> &str {
        self.name
    }
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        let ok = !self.broken.load(Ordering::SeqCst);
        self.attempts
            .lock()
            .unwrap()
            .push((n.id, self.clock.now(), ok));
        if ok {
            Ok(())
        } else {
            Err(format!("{} is down", self.name).into())
        }
    }
}

/// A database several engines in turn open (a restart): a file, or a fresh PostgreSQL schema
/// when the suite runs on PostgreSQL.
fn shared_database() -> (tempfile::TempDir, String) {
    let (dir, path) = support::temp_db();
    let url = match support::postgres_url() {
        Some(base) => support::fresh_postgres(&base),
        None => path.display().to_string(),
    };
    (dir, url)
}

fn engine_with(clock: &ManualClock, hooks: Vec<Arc<dyn Hook>>, policy: DeliveryPolicy) -> Engine {
    let mut b = Engine::builder()
        .fresh()
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .delivery_policy(policy);
    for h in hooks {
        b = b.hook_arc(h);
    }
    let e = b.build().unwrap();
    e.put_people(&people()).unwrap();
    e
}

/// Start a request and assign it: one notification to alice.
fn assigned(e: &Engine, n: usize) -> i64 {
    let c = e
        .start(
            "request",
            "submit",
            "pat",
            json!({"client_name": format!("Client {n}")}),
        )
        .unwrap();
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    c.id
}

fn all_ids(e: &Engine) -> Vec<i64> {
    e.notifications(&Default::default())
        .unwrap()
        .iter()
        .map(|n| n.id)
        .collect()
}

#[test]
fn a_hook_failing_on_every_row_delays_no_row_to_another_hook() {
    let clock = ManualClock::at(t0());
    let broken = Mailer::new("broken", &clock, true);
    let mail = Recorder::default();
    let e = Engine::builder()
        .fresh()
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .hook_arc(broken.clone())
        .hook_named("mail", Arc::new(mail.clone()))
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    assert_eq!(e.consumers(), ["broken", "mail"]);
    // more rows than one delivery page, each delivered to `mail` by the command that wrote it
    for n in 0..130 {
        assigned(&e, n);
        let got: Vec<i64> = mail
            .notifications
            .lock()
            .unwrap()
            .iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(got, all_ids(&e), "after request {n}");
        clock.advance(chrono::Duration::seconds(20));
    }
    // the broken hook was offered each row once per due retry, never holding the others back
    let records = e
        .deliveries(&DeliveryFilter {
            consumer: Some("broken".into()),
            all: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(records.len(), 130);
    assert!(records
        .iter()
        .all(|d| d.status == DeliveryStatus::Retry
            && d.last_error.as_deref() == Some("broken is down")));
    let mail_records = e
        .deliveries(&DeliveryFilter {
            consumer: Some("mail".into()),
            all: true,
            ..Default::default()
        })
        .unwrap();
    assert!(mail_records.is_empty(), "{mail_records:?}");
    // more ticks while `broken` keeps failing: `mail` never receives a row twice
    for _ in 0..50 {
        clock.advance(chrono::Duration::minutes(5));
        e.tick().unwrap();
    }
    let got: Vec<i64> = mail
        .notifications
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(got, all_ids(&e));
    // a row waits for the broken hook: not delivered, its error shown
    let n = &e.notifications(&Default::default()).unwrap()[0];
    assert_eq!(n.delivered_at, None);
    assert_eq!(n.last_error.as_deref(), Some("broken is down"));
    let h = e.health(chrono::Duration::minutes(5)).unwrap();
    assert_eq!(h.outbox_backlog, 130);
    assert!(!h.healthy());
}

#[test]
fn retries_are_spaced_by_the_backoff_and_end_in_a_dead_letter() {
    let clock = ManualClock::at(t0());
    let mailer = Mailer::new("smtp", &clock, true);
    let policy = DeliveryPolicy {
        first_retry: Duration::from_secs(60),
        max_delay: Duration::from_secs(600),
        max_attempts: 6,
    };
    let e = engine_with(&clock, vec![mailer.clone()], policy);
    let a = assigned(&e, 1);
    let b = assigned(&e, 2);
    let ids = all_ids(&e);
    assert_eq!(ids.len(), 2);
    // the worker ticks every 5 s for an hour
    let step = chrono::Duration::seconds(5);
    for _ in 0..720 {
        clock.advance(step);
        e.tick().unwrap();
    }
    for id in &ids {
        let tries = mailer.tries_of(*id);
        assert_eq!(tries.len(), 6, "row {id}: {tries:?}");
        for (n, w) in tries.windows(2).enumerate() {
            let full = (60 * (1i64 << n)).min(600);
            let gap = (w[1] - w[0]).num_milliseconds();
            assert!(
                gap >= full * 500 && gap <= full * 1000 + step.num_milliseconds(),
                "row {id} retry {}: waited {gap} ms, backoff {full} s",
                n + 1
            );
        }
        let d = &e
            .deliveries(&DeliveryFilter {
                outbox_id: Some(*id),
                ..Default::default()
            })
            .unwrap()[0];
        assert_eq!(d.status, DeliveryStatus::Dead);
        assert_eq!(d.attempts, 6);
        assert_eq!(d.consumer, "smtp");
        assert_eq!(d.next_attempt_at, None);
        assert_eq!(d.first_failed_at, Some(tries[0]));
        assert_eq!(d.last_attempt_at, Some(tries[5]));
    }
    // jitter: the two rows did not retry in lockstep
    assert_ne!(mailer.tries_of(ids[0]), mailer.tries_of(ids[1]));
    assert!(a != b);
    // the next attempt time is the policy's delay after the last attempt
    let d = policy.delay(ids[0], "smtp", 3);
    assert!(d >= chrono::Duration::seconds(120) && d <= chrono::Duration::seconds(240));
    // dead letters are counted, and nothing is tried any more
    let h = e.health(chrono::Duration::minutes(5)).unwrap();
    assert_eq!(h.dead_letters, 2);
    assert!(!h.healthy());
    clock.advance(chrono::Duration::days(3));
    e.tick().unwrap();
    for id in &ids {
        assert_eq!(
            mailer.tries_of(*id).len(),
            6,
            "a dead letter is not tried again"
        );
    }
}

#[test]
fn the_last_failure_allowed_is_reported_as_a_dead_letter() {
    let clock = ManualClock::at(t0());
    let mailer = Mailer::new("smtp", &clock, true);
    let policy = DeliveryPolicy {
        max_attempts: 2,
        ..DeliveryPolicy::default()
    };
    let e = engine_with(&clock, vec![mailer.clone()], policy);
    assigned(&e, 1);
    let pending = e.deliveries(&Default::default()).unwrap();
    assert_eq!(pending[0].status, DeliveryStatus::Retry);
    let next = pending[0].next_attempt_at.unwrap();
    assert_eq!(
        next,
        pending[0].last_attempt_at.unwrap() + policy.delay(pending[0].outbox_id, "smtp", 1)
    );
    assert_eq!(
        e.next_due().unwrap(),
        Some(next),
        "a worker wakes for the retry"
    );
    clock.set(next);
    let r = e.tick().unwrap();
    assert_eq!((r.delivery_failures, r.dead_letters), (1, 1), "{r:?}");
    assert_eq!(
        e.next_due().unwrap(),
        Some(t0() + chrono::Duration::hours(24)),
        "the reminder"
    );
}

#[test]
fn an_operator_retries_or_drops_a_dead_letter() {
    let clock = ManualClock::at(t0());
    let mailer = Mailer::new("smtp", &clock, true);
    let other = Recorder::default();
    let policy = DeliveryPolicy {
        max_attempts: 1,
        ..DeliveryPolicy::default()
    };
    let e = engine_with(
        &clock,
        vec![mailer.clone(), Arc::new(other.clone())],
        policy,
    );
    assert_eq!(e.consumers(), ["smtp", "hook-2"]);
    assigned(&e, 1);
    assigned(&e, 2);
    let ids = all_ids(&e);
    let dead = e.deliveries(&Default::default()).unwrap();
    assert_eq!(dead.len(), 2);
    assert!(dead.iter().all(|d| d.status == DeliveryStatus::Dead));
    assert_eq!(dead[0].to.as_deref(), Some("alice"));
    assert_eq!(dead[0].template, "assigned");

    // bad input changes nothing
    assert_eq!(err(e.retry_delivery(9999, None)).code(), "not_found");
    let unknown = err(e.drop_delivery(ids[0], Some("smpt")));
    assert_eq!(unknown.code(), "not_found");
    assert!(unknown.to_string().contains("smtp"), "{unknown}");
    assert_eq!(e.deliveries(&Default::default()).unwrap(), dead);

    // retried once the mail server is back: delivered at once by this engine's hook
    mailer.broken.store(false, Ordering::SeqCst);
    assert_eq!(e.retry_delivery(ids[0], None).unwrap(), 1);
    assert_eq!(mailer.accepted(), [ids[0]]);
    let n = &e.notifications(&Default::default()).unwrap()[0];
    assert!(n.delivered_at.is_some());
    assert_eq!(n.last_error, None);
    let done = e
        .deliveries(&DeliveryFilter {
            outbox_id: Some(ids[0]),
            all: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(done[0].status, DeliveryStatus::Delivered);
    assert!(done[0].delivered_at.is_some());
    // nothing left to retry on that row
    let again = err(e.retry_delivery(ids[0], None));
    assert_eq!(again.code(), "validation");

    // dropped: out of the backlog, kept in the outbox
    assert_eq!(e.drop_delivery(ids[1], Some("smtp")).unwrap(), 1);
    assert_eq!(err(e.drop_delivery(ids[1], None)).code(), "validation");
    let h = e.health(chrono::Duration::minutes(5)).unwrap();
    assert_eq!((h.outbox_backlog, h.dead_letters), (0, 0), "{h:?}");
    assert!(h.healthy());
    assert_eq!(e.notifications(&Default::default()).unwrap().len(), 2);
    let dropped = e
        .deliveries(&DeliveryFilter {
            status: Some(DeliveryStatus::Dropped),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(dropped.len(), 1);
    assert_eq!(dropped[0].outbox_id, ids[1]);
    // the other hook had both rows once, whatever smtp did
    let got: Vec<i64> = other
        .notifications
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(got, ids);
    // a dropped row can be retried too
    assert_eq!(e.retry_delivery(ids[1], Some("smtp")).unwrap(), 1);
    assert_eq!(mailer.accepted(), ids);
    let got: Vec<i64> = other
        .notifications
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(got, ids, "the other hook is not offered it again");
}

/// Fails the first attempt of every other row, accepts the rest.
struct HalfFlaky {
    tried: Mutex<HashMap<i64, u32>>,
    accepted: Mutex<Vec<i64>>,
}

impl Hook for HalfFlaky {
    fn name(&self) -> &str {
        "flaky"
    }
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        let mut tried = self.tried.lock().unwrap();
        let t = tried.entry(n.id).or_default();
        *t += 1;
        if n.id % 2 == 0 && *t == 1 {
            return Err("try again".into());
        }
        self.accepted.lock().unwrap().push(n.id);
        Ok(())
    }
}

#[test]
fn a_consumer_that_accepted_a_row_never_gets_it_again_even_after_a_restart() {
    let (_dir, path) = shared_database();
    let clock = ManualClock::at(t0());
    let flaky = Arc::new(HalfFlaky {
        tried: Mutex::new(HashMap::new()),
        accepted: Mutex::new(Vec::new()),
    });
    let mail = Recorder::default();
    let build = |hooks: Vec<(&str, Arc<dyn Hook>)>| {
        let mut b = Engine::builder()
            .database(&path)
            .workflow_str("request.yaml", REQUEST)
            .clock(clock.clone());
        for (name, h) in hooks {
            b = b.hook_named(name, h);
        }
        b.build().unwrap()
    };
    {
        let e = build(vec![
            ("flaky", flaky.clone()),
            ("mail", Arc::new(mail.clone())),
        ]);
        e.put_people(&people()).unwrap();
        for n in 0..10 {
            assigned(&e, n);
        }
        for _ in 0..5 {
            clock.advance(chrono::Duration::minutes(3));
            e.tick().unwrap();
        }
        let ids = all_ids(&e);
        let mut accepted = flaky.accepted.lock().unwrap().clone();
        accepted.sort_unstable();
        assert_eq!(accepted, ids, "each row accepted exactly once");
        let got: Vec<i64> = mail
            .notifications
            .lock()
            .unwrap()
            .iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(got, ids);
        assert!(e
            .notifications(&Default::default())
            .unwrap()
            .iter()
            .all(|n| n.delivered_at.is_some()));
    }
    // the same consumers in a new process: nothing is offered again; a new row is
    let flaky2 = Arc::new(HalfFlaky {
        tried: Mutex::new(HashMap::new()),
        accepted: Mutex::new(Vec::new()),
    });
    let mail2 = Recorder::default();
    let late = Recorder::default();
    let e = build(vec![
        ("flaky", flaky2.clone()),
        ("mail", Arc::new(mail2.clone())),
        ("late", Arc::new(late.clone())),
    ]);
    e.tick().unwrap();
    assert!(flaky2.tried.lock().unwrap().is_empty());
    assert!(mail2.notifications.lock().unwrap().is_empty());
    assert!(
        late.notifications.lock().unwrap().is_empty(),
        "a new consumer does not receive rows every hook already had"
    );
    assigned(&e, 99);
    let newest = *all_ids(&e).last().unwrap();
    for rec in [&mail2, &late] {
        let got: Vec<i64> = rec
            .notifications
            .lock()
            .unwrap()
            .iter()
            .map(|x| x.id)
            .collect();
        assert_eq!(got, [newest]);
    }
}

#[test]
fn a_new_consumer_receives_what_is_still_waiting() {
    let (_dir, path) = shared_database();
    let clock = ManualClock::at(t0());
    // written by a process without hooks (the CLI)
    {
        let e = Engine::builder()
            .database(&path)
            .workflow_str("request.yaml", REQUEST)
            .clock(clock.clone())
            .build()
            .unwrap();
        e.put_people(&people()).unwrap();
        assigned(&e, 1);
        assigned(&e, 2);
    }
    let mail = Recorder::default();
    let e = Engine::builder()
        .database(&path)
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .hook_named("smtp", Arc::new(mail.clone()))
        .build()
        .unwrap();
    e.tick().unwrap();
    let got: Vec<i64> = mail
        .notifications
        .lock()
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(got, all_ids(&e));
}

#[test]
fn hook_names_are_checked() {
    let named = |n: &str| {
        Engine::builder()
            .fresh()
            .hook_named(n, Arc::new(Recorder::default()))
            .hook_named("smtp", Arc::new(Recorder::default()))
            .build()
    };
    let dup = err(named("smtp"));
    assert_eq!(dup.code(), "validation");
    assert!(
        dup.to_string().contains("two hooks are named `smtp`"),
        "{dup}"
    );
    let bad = err(named("has space"));
    assert!(
        bad.to_string()
            .contains("`has space` is not a valid hook name"),
        "{bad}"
    );
    // a positional name never takes an explicit one
    let e = Engine::builder()
        .fresh()
        .hook(Recorder::default())
        .hook_named("hook-1", Arc::new(Recorder::default()))
        .build()
        .unwrap();
    assert_eq!(e.consumers(), ["hook-2", "hook-1"]);
    assert_eq!(e.add_hook(Arc::new(Recorder::default())), "hook-3");
    assert_eq!(
        err(e.add_named_hook("hook-1", Arc::new(Recorder::default()))).code(),
        "validation"
    );
}

/// An event sink that is offline.
struct OfflineAudit;

impl Hook for OfflineAudit {
    fn name(&self) -> &str {
        "audit"
    }
    fn on_event(&self, _: &Event) -> Result<(), HookError> {
        Err("offline".into())
    }
}

#[test]
fn a_failing_event_sink_does_not_hold_back_the_events_of_another() {
    let (e, _clock) = {
        let clock = ManualClock::at(t0());
        let rec = Recorder::default();
        let e = Engine::builder()
            .fresh()
            .workflow_str("request.yaml", REQUEST)
            .clock(clock.clone())
            .hook(OfflineAudit)
            .hook_named("log", Arc::new(rec.clone()))
            .build()
            .unwrap();
        e.put_people(&people()).unwrap();
        let id = assigned(&e, 1);
        let events: Vec<i64> = e.history(id, None).unwrap().iter().map(|x| x.id).collect();
        assert_eq!(*rec.events.lock().unwrap(), events);
        ((e, rec), clock)
    };
    let (e, rec) = e;
    e.tick().unwrap();
    assert_eq!(rec.events.lock().unwrap().len(), 2, "each event once");
}
