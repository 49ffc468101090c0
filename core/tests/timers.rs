//! Timers: after, every and at; business days in an organisation's time zone; due order;
//! cancellation; firing once, late after a restart, and once across two engines.
#![allow(clippy::unwrap_used)]
mod support;

use std::sync::{Arc, Barrier};
use std::thread;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use mentorflow::{Case, Effect, Engine, ManualClock, Org};
use serde_json::json;
use support::{assert_folds, people, t0, temp_db, REQUEST};

const CLOCKWORK: &str = r#"
workflow: clockwork
version: 1
roles:
  owner: {}
fields:
  due: { type: datetime }
  pings: { type: int, default: 0 }
  bad: { type: bool, default: false }
states:
  waiting:
    label: Waiting
    timers:
      - name: flaky
        after: 1h
        run: |
          if fields.bad { throw "flaky timer broke"; }
          fields.pings += 100;
      - name: deadline
        at: fields.due
        run: add_note("deadline")
      - name: daily
        every: 1 day
        run: fields.pings += 1
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner }
  snooze:
    from: waiting
    by: owner
    run: cancel_timer("flaky")
  finish: { from: waiting, to: done, by: owner }
"#;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn clockwork() -> (Engine, ManualClock) {
    support::engine_for("clockwork.yaml", CLOCKWORK)
}

fn assign(e: &Engine, org: Option<&str>) -> Case {
    let c = e
        .start_with(mentorflow::Start {
            workflow: "request".into(),
            actor: "pat".into(),
            org: org.map(str::to_owned),
            data: json!({"client_name": "Pat's Bakery"})
                .as_object()
                .unwrap()
                .clone(),
            ..Default::default()
        })
        .unwrap();
    let coordinator = if org == Some("ch2") { "zed" } else { "cody" };
    e.act(c.id, "assign", coordinator, json!({"mentor": "alice"}))
        .unwrap()
}

/// How many times a case's history records `action`.
fn fired(e: &Engine, id: i64, action: &str) -> usize {
    e.history(id, None)
        .unwrap()
        .iter()
        .filter(|ev| ev.action == action)
        .count()
}

fn due_of(e: &Engine, id: i64, name: &str) -> DateTime<Utc> {
    e.timers(id)
        .unwrap()
        .into_iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no timer {name} on case {id}"))
        .due_at
}

#[test]
fn an_after_timer_fires_once_at_its_time() {
    let (e, _) = support::engine();
    let c = assign(&e, None);
    assert_eq!(due_of(&e, c.id, "reminder_24h"), t0() + Duration::hours(24));
    assert_eq!(e.advance("23h").unwrap().fired, 0);
    assert!(e.notifications(&Default::default()).unwrap().len() == 1);
    let r = e.advance("2h").unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    assert_eq!(e.tick().unwrap().fired, 0, "not twice");
    assert_eq!(e.advance("1 day").unwrap().fired, 0);
    assert_eq!(fired(&e, c.id, "timer:reminder_24h"), 1);
    let reminders: Vec<_> = e
        .notifications(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|n| n.template == "reminder")
        .collect();
    assert_eq!(reminders.len(), 1);
    assert_eq!(reminders[0].to, "alice");
    assert_eq!(reminders[0].at, t0() + Duration::hours(24));
    assert_eq!(reminders[0].subject, "Reminder: Pat's Bakery is waiting");
    let ev = e.history(c.id, None).unwrap().pop().unwrap();
    assert_eq!(ev.actor, "system");
    assert_eq!(ev.at, t0() + Duration::hours(24));
    assert_eq!(ev.from_state.as_deref(), Some("pending"));
    assert_eq!(ev.to_state, "pending");
    assert_folds(&e, c.id);
}

#[test]
fn business_days_skip_the_weekend_and_holidays_in_the_org_time_zone() {
    let (e, clock) = support::engine();
    e.replace_org(
        &Org::new("ch1")
            .timezone("America/New_York")
            .holiday(NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()),
    )
    .unwrap();
    // Friday 22:00 in New York, already Saturday 03:00 in UTC
    clock.set(at("2026-11-21T03:00:00Z"));
    let ny = assign(&e, None);
    let utc = assign(&e, Some("ch2"));
    assert_eq!(
        due_of(&e, ny.id, "reminder_24h"),
        at("2026-11-22T03:00:00Z")
    );
    // Mon 23, Tue 24, Wed 25, (Thanksgiving), Fri 27, Mon 30 — at 22:00 New York time
    assert_eq!(
        due_of(&e, ny.id, "back_to_queue"),
        at("2026-12-01T03:00:00Z")
    );
    // in UTC from Saturday: Mon 23 … Fri 27, same wall time
    assert_eq!(
        due_of(&e, utc.id, "back_to_queue"),
        at("2026-11-27T03:00:00Z")
    );

    e.advance_to(at("2026-12-01T02:59:00Z")).unwrap();
    assert_eq!(e.get(ny.id, None).unwrap().state, "pending");
    assert_eq!(e.get(utc.id, None).unwrap().state, "submitted");
    let r = e.advance_to(at("2026-12-01T03:00:00Z")).unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    let c = e.get(ny.id, None).unwrap();
    assert_eq!(c.state, "submitted");
    assert_eq!(c.participant("mentor"), None);
    let ev = e.history(ny.id, None).unwrap().pop().unwrap();
    assert_eq!(
        (ev.action.as_str(), ev.actor.as_str()),
        ("expire", "system")
    );
    assert_eq!(ev.at, at("2026-12-01T03:00:00Z"));
    assert!(ev.effects.contains(&Effect::Unassign {
        role: "mentor".into(),
        person: "alice".into()
    }));
    assert_folds(&e, ny.id);
}

#[test]
fn timers_fire_in_due_order_and_ties_in_creation_order() {
    let dues = [
        "2026-11-20T12:00:00Z",
        "2026-11-20T11:00:00Z",
        "2026-11-20T10:30:00Z",
        "2026-11-20T11:00:00Z",
        "2026-11-20T11:00:00Z",
    ];
    // the expected order: by due time, ties by creation (case 1, 3, 4 are due at 11:00)
    let want = [2, 1, 3, 4, 0];
    for sweep_at_once in [false, true] {
        let (e, clock) = clockwork();
        let ids: Vec<i64> = dues
            .iter()
            .map(|d| {
                e.start("clockwork", "create", "pat", json!({"due": d}))
                    .unwrap()
                    .id
            })
            .collect();
        let target = at("2026-11-20T12:30:00Z");
        if sweep_at_once {
            clock.set(target);
            assert_eq!(e.tick().unwrap().fired, 10, "deadline + flaky of each");
        } else {
            assert_eq!(e.advance_to(target).unwrap().fired, 10);
        }
        let mut firings: Vec<(i64, i64)> = ids
            .iter()
            .flat_map(|&id| {
                e.history(id, None)
                    .unwrap()
                    .into_iter()
                    .filter(|ev| ev.action == "timer:deadline")
                    .map(move |ev| (ev.id, id))
            })
            .collect();
        firings.sort();
        let order: Vec<i64> = firings.iter().map(|(_, id)| *id).collect();
        let expected: Vec<i64> = want.iter().map(|&i| ids[i]).collect();
        assert_eq!(order, expected, "sweep at once: {sweep_at_once}");
        if !sweep_at_once {
            for (i, &id) in ids.iter().enumerate() {
                let ev = e
                    .history(id, None)
                    .unwrap()
                    .into_iter()
                    .find(|ev| ev.action == "timer:deadline")
                    .unwrap();
                assert_eq!(ev.at, at(dues[i]), "fired at its own due time");
            }
        }
    }
}

#[test]
fn leaving_the_state_cancels_its_timers() {
    let (e, _) = support::engine();
    let c = assign(&e, None);
    assert_eq!(e.timers(c.id).unwrap().len(), 2);
    e.advance("3h").unwrap();
    let c = e
        .act(c.id, "accept", "alice", json!({"note": "On it"}))
        .unwrap();
    assert!(e.timers(c.id).unwrap().is_empty());
    assert_eq!(e.advance("10 days").unwrap().fired, 0);
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.state, "in_progress");
    assert_eq!(c.participant("mentor"), Some("alice"));
    assert!(!e
        .notifications(&Default::default())
        .unwrap()
        .iter()
        .any(|n| n.template == "reminder"));
}

#[test]
fn cancel_timer_removes_one_timer() {
    let (e, _) = clockwork();
    let c = e.start("clockwork", "create", "pat", json!({})).unwrap();
    let names: Vec<String> = e
        .timers(c.id)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        names,
        ["flaky", "daily"],
        "soonest first; no date, no deadline"
    );
    e.act(c.id, "snooze", "pat", json!({})).unwrap();
    let names: Vec<String> = e
        .timers(c.id)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["daily"]);
    let ev = e.history(c.id, None).unwrap().pop().unwrap();
    assert!(ev.effects.contains(&Effect::TimerCancelled {
        name: "flaky".into()
    }));
    assert_eq!(e.advance("2h").unwrap().fired, 0);
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(0));
}

#[test]
fn a_recurring_timer_repeats_and_a_missed_stretch_fires_once() {
    let (e, clock) = clockwork();
    let c = e.start("clockwork", "create", "pat", json!({})).unwrap();
    e.act(c.id, "snooze", "pat", json!({})).unwrap();
    let r = e.advance("3 days").unwrap();
    assert_eq!(r.fired, 3, "{r:?}");
    assert_eq!(fired(&e, c.id, "timer:daily"), 3);
    assert_eq!(due_of(&e, c.id, "daily"), t0() + Duration::days(4));
    let times: Vec<DateTime<Utc>> = e
        .history(c.id, None)
        .unwrap()
        .into_iter()
        .filter(|ev| ev.action == "timer:daily")
        .map(|ev| ev.at)
        .collect();
    assert_eq!(
        times,
        [1, 2, 3].map(|d| t0() + Duration::days(d)).to_vec(),
        "each period at its own time"
    );

    // the engine was down from day 3 to day 7½: one late firing, then the next future period
    clock.set(t0() + Duration::days(7) + Duration::hours(12));
    assert_eq!(e.tick().unwrap().fired, 1);
    assert_eq!(e.tick().unwrap().fired, 0);
    assert_eq!(fired(&e, c.id, "timer:daily"), 4);
    assert_eq!(due_of(&e, c.id, "daily"), t0() + Duration::days(8));
    assert_eq!(e.advance("12h").unwrap().fired, 1);
    assert_eq!(due_of(&e, c.id, "daily"), t0() + Duration::days(9));
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(5));
    assert_folds(&e, c.id);
    // leaving the state stops it
    e.act(c.id, "finish", "pat", json!({})).unwrap();
    assert_eq!(e.advance("5 days").unwrap().fired, 0);
}

#[test]
fn after_a_restart_a_missed_timer_fires_late_and_once() {
    let (_dir, path) = temp_db();
    let build = |now: DateTime<Utc>| {
        let e = Engine::builder()
            .database(&path)
            .workflow_str("request.yaml", REQUEST)
            .clock(ManualClock::at(now))
            .build()
            .unwrap();
        e.put_people(&people()).unwrap();
        e
    };
    let e = build(t0());
    let c = assign(&e, None);
    drop(e);

    let later = t0() + Duration::days(10);
    let e = build(later);
    assert_eq!(
        e.timers(c.id).unwrap().len(),
        2,
        "timers survive the restart"
    );
    let r = e.tick().unwrap();
    assert_eq!(r.fired, 2, "{r:?}");
    assert_eq!(e.tick().unwrap().fired, 0);
    drop(e);
    let e = build(later + Duration::hours(1));
    assert_eq!(e.tick().unwrap().fired, 0, "never twice");
    assert_eq!(fired(&e, c.id, "timer:reminder_24h"), 1);
    assert_eq!(fired(&e, c.id, "expire"), 1);
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.state, "submitted");
    let h = e.history(c.id, None).unwrap();
    let late: Vec<_> = h.iter().filter(|ev| ev.actor == "system").collect();
    assert_eq!(late.len(), 2);
    assert!(
        late.iter().all(|ev| ev.at == later),
        "fired late, at restart"
    );
    assert_eq!(late[0].action, "timer:reminder_24h", "in due order");
    assert_folds(&e, c.id);
}

#[test]
fn two_engines_sweeping_one_file_fire_each_timer_once() {
    let (_dir, path) = temp_db();
    let build = |now: DateTime<Utc>| {
        let e = Engine::builder()
            .database(&path)
            .workflow_str("clockwork.yaml", CLOCKWORK)
            .clock(ManualClock::at(now))
            .build()
            .unwrap();
        e.put_people(&people()).unwrap();
        e
    };
    let setup = build(t0());
    let ids: Vec<i64> = (0..40)
        .map(|_| {
            setup
                .start("clockwork", "create", "pat", json!({}))
                .unwrap()
                .id
        })
        .collect();
    drop(setup);
    let when = t0() + Duration::hours(2);
    let engines = [build(when), build(when)];
    let barrier = Arc::new(Barrier::new(2));
    let handles: Vec<_> = engines
        .iter()
        .cloned()
        .map(|e| {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let mut n = 0;
                for _ in 0..3 {
                    n += e.tick().unwrap().fired;
                }
                n
            })
        })
        .collect();
    let total: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(total, ids.len(), "each `flaky` timer fired once in all");
    for &id in &ids {
        assert_eq!(fired(&engines[0], id, "timer:flaky"), 1, "case {id}");
        assert_eq!(engines[1].get(id, None).unwrap().data["pings"], json!(100));
    }
}

#[test]
fn a_failing_timer_becomes_an_incident_without_blocking_others() {
    let (e, _) = clockwork();
    let bad = e
        .start("clockwork", "create", "pat", json!({"bad": true}))
        .unwrap();
    let good = e.start("clockwork", "create", "pat", json!({})).unwrap();
    let r = e.advance("2h").unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    // the first firing and its retries (1, 2, 4 and 8 minutes later) all failed
    let attempts = mentorflow::DEFAULT_INCIDENT_MAX_ATTEMPTS as usize;
    assert_eq!(r.failed.len(), attempts, "{r:?}");
    let f = &r.failed[0];
    assert!(f.contains("flaky"), "{f}");
    assert!(f.contains(&format!("case {}", bad.id)), "{f}");
    assert!(f.contains("flaky timer broke"), "{f}");
    assert!(f.contains("states.waiting.timers[0].run"), "{f}");
    // the failed firings changed nothing, the timer is consumed, the incident is left open
    assert_eq!(e.get(bad.id, None).unwrap(), bad);
    assert_eq!(e.history(bad.id, None).unwrap().len(), 1);
    let names: Vec<String> = e
        .timers(bad.id)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["daily"]);
    let open = e.incidents(&Default::default()).unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(open[0].case_id, bad.id);
    assert_eq!(open[0].attempts as usize, attempts);
    assert_eq!(open[0].next_attempt_at, None, "no automatic retry left");
    assert_eq!(e.get(good.id, None).unwrap().data["pings"], json!(100));
    let r = e.tick().unwrap();
    assert!(r.failed.is_empty() && r.fired == 0, "{r:?}");
}

const RELAY: &str = r#"
workflow: relay
version: 1
roles:
  owner: {}
fields:
  due: { type: date }
  laps: { type: int, default: 0 }
states:
  first:
    label: First
    timers:
      - name: hand_over
        after: 1h
        action: hand_over
  second:
    label: Second
    timers:
      - name: finish
        after: 1h
        action: finish
  snoozing:
    label: Snoozing
    timers:
      - name: wake
        at: fields.due
        run: |
          fields.laps += 1;
          if fields.laps < 3 { fields.due = add_span(fields.due, "1 day").sub_string(0, 10); }
  done: { label: Done, final: true }
actions:
  create: { to: first, by: owner }
  snooze: { to: snoozing, by: owner }
  hand_over: { from: first, to: second, by: system }
  finish: { from: second, to: done, by: system }
  stop: { from: snoozing, to: done, by: owner }
"#;

#[test]
fn a_timer_action_entering_a_state_with_timers_keeps_the_new_timers() {
    let (e, _) = support::engine_for("relay.yaml", RELAY);
    let c = e.start("relay", "create", "pat", json!({})).unwrap();
    let r = e.advance("1h").unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    assert_eq!(e.get(c.id, None).unwrap().state, "second");
    let names: Vec<String> = e
        .timers(c.id)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["finish"], "the new state's timer is scheduled");
    let r = e.advance("1h").unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    assert_eq!(e.get(c.id, None).unwrap().state, "done");
}

#[test]
fn an_at_timer_that_moves_its_own_date_fires_again_at_the_new_date() {
    let (e, _) = support::engine_for("relay.yaml", RELAY);
    let c = e
        .start("relay", "snooze", "pat", json!({"due": "2026-11-21"}))
        .unwrap();
    assert_eq!(due_of(&e, c.id, "wake"), at("2026-11-21T00:00:00Z"));
    let r = e.advance("2 days").unwrap();
    assert_eq!(r.fired, 2, "{r:?}");
    assert_eq!(due_of(&e, c.id, "wake"), at("2026-11-23T00:00:00Z"));
    let r = e.advance("2 days").unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.data["laps"], json!(3));
    assert_eq!(c.data["due"], json!("2026-11-23"));
    assert!(e.timers(c.id).unwrap().is_empty());
}
