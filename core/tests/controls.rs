//! Operator controls: suspend and resume (actions refused, timers wait and fire late once),
//! cancel (the case ends where it is, timers dropped) and repair (moved to a state outside the
//! flow's actions, with that state's timers). Each is one transaction with a history event
//! naming the operator and the reason, and the fold still equals the snapshot. Conformance
//! suite: runs on PostgreSQL too (tests/pg.sh).
#![allow(clippy::unwrap_used)]

mod support;

use chrono::Duration;
use mentorflow::{
    Engine, Error, ManualClock, Person, CANCEL_ACTION, REPAIR_ACTION, RESUME_ACTION, SUSPEND_ACTION,
};
use serde_json::json;
use support::{assert_folds, err, people, t0, Fresh};

const FLOW: &str = r#"
workflow: paced
version: 1
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
        run: 'fields.pings += 1;'
      - name: daily
        every: 1 day
        run: 'fields.pings += 10;'
  review:
    label: Review
    timers:
      - name: nudge
        after: 2h
        run: 'fields.pings += 100;'
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner, run: 'assign("owner", actor.id)' }
  send: { from: waiting, to: review, by: owner }
  finish: { from: [waiting, review], to: done, by: owner }
"#;

fn setup() -> (Engine, ManualClock) {
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("paced.yaml", FLOW)
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

fn count(e: &Engine, case: i64, action: &str) -> usize {
    e.history(case, None)
        .unwrap()
        .iter()
        .filter(|ev| ev.action == action)
        .count()
}

fn timer_names(e: &Engine, case: i64) -> Vec<String> {
    let mut v: Vec<String> = e
        .timers(case)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    v.sort();
    v
}

#[test]
fn a_suspended_case_refuses_actions_and_its_timers_fire_late_once_on_resume() {
    let (e, clock) = setup();
    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    let s = e
        .suspend_case(c.id, "olga", "  waiting for the mentor's reply ")
        .unwrap();
    let m = s.suspended.clone().unwrap();
    assert_eq!(
        (m.by.as_str(), m.reason.as_str(), m.at),
        ("olga", "waiting for the mentor's reply", t0())
    );
    assert!(s.open, "a suspended case is still open");
    assert_eq!(s.revision, c.revision + 1);
    // still visible, with the mark
    assert_eq!(e.get(c.id, Some("pat")).unwrap().suspended, Some(m.clone()));
    // every action refused, naming the case and who suspended it
    let x = err(e.act(c.id, "send", "pat", json!({})));
    assert_eq!(x.code(), "suspended");
    let msg = x.to_string();
    assert!(
        msg.contains(&format!("case {}", c.id)) && msg.contains("olga"),
        "{msg}"
    );
    assert!(matches!(x, Error::Suspended { case_id, .. } if case_id == c.id));
    assert_eq!(
        err(e.act_at(c.id, s.revision, "finish", "pat", json!({}))).code(),
        "suspended"
    );
    assert!(e.actions(c.id, "pat").unwrap().is_empty());
    // timers wait: three days pass, nothing fires, nothing is overdue
    let r = e.advance_by(Duration::days(3)).unwrap();
    assert_eq!(r.fired, 0, "{r:?}");
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(0));
    assert_eq!(e.health(Duration::zero()).unwrap().overdue_timers, 0);
    assert_eq!(timer_names(&e, c.id), ["daily", "remind"]);
    // a second suspend is refused and changes nothing
    assert_eq!(
        err(e.suspend_case(c.id, "olga", "again")).code(),
        "validation"
    );
    // resume: the timers that fell due fire late, once each
    let r = e.resume_case(c.id, "olga", "the mentor answered").unwrap();
    assert_eq!(r.suspended, None);
    let t = e.tick().unwrap();
    assert_eq!(t.fired, 2, "{t:?}");
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(11));
    assert_eq!(count(&e, c.id, "timer:remind"), 1);
    assert_eq!(count(&e, c.id, "timer:daily"), 1);
    e.tick().unwrap();
    assert_eq!(
        e.get(c.id, None).unwrap().data["pings"],
        json!(11),
        "not again"
    );
    // the daily timer goes on from its schedule
    clock.advance(Duration::days(1));
    e.tick().unwrap();
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(21));
    // actions work again
    e.act(c.id, "send", "pat", json!({})).unwrap();
    // history names the operator and the reason
    let h = e.history(c.id, None).unwrap();
    let sus = h.iter().find(|ev| ev.action == SUSPEND_ACTION).unwrap();
    assert_eq!(sus.actor, "olga");
    assert_eq!(
        sus.inputs["reason"],
        json!("waiting for the mentor's reply")
    );
    let res = h.iter().find(|ev| ev.action == RESUME_ACTION).unwrap();
    assert_eq!(
        (res.actor.as_str(), res.inputs["reason"].as_str()),
        ("olga", Some("the mentor answered"))
    );
    assert_folds(&e, c.id);
}

#[test]
fn the_fold_carries_the_suspended_mark() {
    let (e, _) = setup();
    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    let s = e.suspend_case(c.id, "olga", "audit").unwrap();
    let f = mentorflow::fold(&e.history(c.id, None).unwrap()).unwrap();
    assert_eq!(f.suspended, s.suspended);
    assert!(f.matches(&s));
    assert_folds(&e, c.id);
}

#[test]
fn controls_need_an_operator_and_a_reason_and_change_nothing_otherwise() {
    let (e, _) = setup();
    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    let before = e.get(c.id, None).unwrap();
    assert_eq!(
        err(e.suspend_case(c.id, "pat", "me")).code(),
        "not_permitted"
    );
    assert_eq!(err(e.suspend_case(c.id, "olga", "  ")).code(), "validation");
    assert_eq!(err(e.cancel_case(c.id, "pat", "x")).code(), "not_permitted");
    assert_eq!(
        err(e.repair_case(c.id, "review", "nobody", "x")).code(),
        "not_permitted"
    );
    assert_eq!(
        err(e.resume_case(c.id, "olga", "not suspended")).code(),
        "validation"
    );
    assert_eq!(err(e.suspend_case(999, "olga", "x")).code(), "not_found");
    assert_eq!(e.get(c.id, None).unwrap(), before);
    assert_eq!(e.history(c.id, None).unwrap().len() as u64, before.revision);
}

#[test]
fn a_cancelled_case_ends_where_it_is_without_timers_and_takes_no_action() {
    let (e, _) = setup();
    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    e.suspend_case(c.id, "olga", "checking").unwrap();
    let x = e
        .cancel_case(c.id, "olga", "the mentee left the programme")
        .unwrap();
    assert_eq!(x.state, "waiting", "keeps its last state");
    assert!(!x.open);
    assert_eq!(x.suspended, None);
    assert_eq!(x.cancelled.as_ref().unwrap().by, "olga");
    assert!(e.timers(c.id).unwrap().is_empty());
    let h = e.history(c.id, None).unwrap();
    let ev = h.last().unwrap();
    assert_eq!(
        (ev.action.as_str(), ev.actor.as_str()),
        (CANCEL_ACTION, "olga")
    );
    assert_eq!(
        ev.effects
            .iter()
            .filter(|f| matches!(f, mentorflow::Effect::TimerCancelled { .. }))
            .count(),
        2
    );
    let r = err(e.act(c.id, "send", "pat", json!({})));
    assert_eq!(r.code(), "cancelled");
    assert!(r.to_string().contains("olga"), "{r}");
    for refused in [
        e.suspend_case(c.id, "olga", "x"),
        e.resume_case(c.id, "olga", "x"),
        e.cancel_case(c.id, "olga", "x"),
        e.repair_case(c.id, "review", "olga", "x"),
    ] {
        assert_eq!(err(refused).code(), "cancelled");
    }
    e.advance_by(Duration::days(2)).unwrap();
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(0));
    assert!(!e.get(c.id, None).unwrap().open);
    assert_folds(&e, c.id);
    // a closed case cannot be cancelled or suspended
    let d = e.start("paced", "create", "pat", json!({})).unwrap();
    e.act(d.id, "finish", "pat", json!({})).unwrap();
    assert_eq!(err(e.cancel_case(d.id, "olga", "x")).code(), "validation");
    assert_eq!(err(e.suspend_case(d.id, "olga", "x")).code(), "validation");
}

#[test]
fn repair_moves_a_case_with_the_new_states_timers() {
    let (e, _) = setup();
    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    let x = err(e.repair_case(c.id, "reveiw", "olga", "typo"));
    assert_eq!(x.code(), "not_found");
    assert!(x.to_string().contains("did you mean `review`"), "{x}");
    let r = e
        .repair_case(c.id, "review", "olga", "stuck after the mail outage")
        .unwrap();
    assert_eq!(
        (r.state.as_str(), r.state_label.as_str(), r.open),
        ("review", "Review", true)
    );
    assert_eq!(timer_names(&e, c.id), ["nudge"]);
    let ev = e.history(c.id, None).unwrap().pop().unwrap();
    assert_eq!(ev.action, REPAIR_ACTION);
    assert_eq!(
        (ev.from_state.as_deref(), ev.to_state.as_str()),
        (Some("waiting"), "review")
    );
    assert_eq!(ev.inputs["reason"], json!("stuck after the mail outage"));
    e.advance_by(Duration::hours(3)).unwrap();
    assert_eq!(
        e.get(c.id, None).unwrap().data["pings"],
        json!(100),
        "only the new state's timer fired"
    );
    // into a final state: closed; and back out of it
    let d = e
        .repair_case(c.id, "done", "olga", "finished on paper")
        .unwrap();
    assert!(!d.open);
    assert!(e.timers(c.id).unwrap().is_empty());
    let w = e
        .repair_case(c.id, "waiting", "olga", "closed by mistake")
        .unwrap();
    assert!(w.open);
    assert_eq!(timer_names(&e, c.id), ["daily", "remind"]);
    e.act(c.id, "finish", "pat", json!({})).unwrap();
    assert_folds(&e, c.id);
}

#[test]
fn a_replay_repeats_the_operators_controls_and_reproduces_the_case() {
    let (e, clock) = setup();
    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    e.suspend_case(c.id, "olga", "checking").unwrap();
    clock.advance(Duration::days(2));
    e.tick().unwrap();
    e.resume_case(c.id, "olga", "checked").unwrap();
    e.tick().unwrap();
    e.repair_case(c.id, "review", "olga", "fix").unwrap();
    e.advance_by(Duration::hours(3)).unwrap();
    let d = e.start("paced", "create", "pat", json!({})).unwrap();
    e.cancel_case(d.id, "olga", "withdrawn").unwrap();
    let r = e.replay("paced", 1, None).unwrap();
    for case in &r.cases {
        assert_eq!(
            case.outcome,
            mentorflow::ReplayOutcome::Identical,
            "{case:?}"
        );
        assert_eq!(case.matched, case.events, "{case:?}");
    }
    assert_eq!(r.cases.len(), 2);
}

#[test]
fn an_incident_of_a_suspended_case_waits_for_the_resume() {
    let flow = FLOW.replace(
        "run: 'fields.pings += 1;'",
        "run: 'if fields.pings == 0 && settings.strict { throw \"not yet\"; } fields.pings += 1;'",
    )
    .replace("roles:\n", "settings:\n  strict: true\nroles:\n");
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("paced.yaml", &flow)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    e.put_person(&Person::new("olga").org("ch1").role("admin"))
        .unwrap();
    let c = e.start("paced", "create", "pat", json!({})).unwrap();
    e.advance_by(Duration::hours(1)).unwrap();
    let open = e.incidents(&mentorflow::IncidentFilter::default()).unwrap();
    assert_eq!(open.len(), 1, "{open:?}");
    let before = open[0].clone();
    e.suspend_case(c.id, "olga", "checking").unwrap();
    e.put_org(mentorflow::OrgPatch::new("ch1").setting("strict", json!(false)))
        .unwrap();
    // neither the automatic retries nor an operator's retry fire while suspended
    e.advance_by(Duration::hours(2)).unwrap();
    assert_eq!(e.incident(before.id).unwrap(), before);
    assert_eq!(
        err(e.retry_incident_as(before.id, "olga")).code(),
        "suspended"
    );
    assert_eq!(e.incident(before.id).unwrap(), before, "nothing changed");
    e.resume_case(c.id, "olga", "checked").unwrap();
    e.tick().unwrap();
    let after = e.incident(before.id).unwrap();
    assert_eq!(
        after.status,
        mentorflow::IncidentStatus::Resolved,
        "{after:?}"
    );
    assert_eq!(e.get(c.id, None).unwrap().data["pings"], json!(1));
    assert_folds(&e, c.id);
}

#[test]
fn reassigning_a_participant_moves_every_open_case_of_theirs_after_a_dry_run() {
    let (e, _) = setup();
    e.put_person(&Person::new("quinn").org("ch1")).unwrap();
    let a = e.start("paced", "create", "pat", json!({})).unwrap();
    let b = e.start("paced", "create", "pat", json!({})).unwrap();
    let closed = e.start("paced", "create", "pat", json!({})).unwrap();
    e.act(closed.id, "finish", "pat", json!({})).unwrap();
    let other = e.start("paced", "create", "quinn", json!({})).unwrap();
    let mut o = mentorflow::ReassignOptions {
        from: "pat".into(),
        to: Some("quinn".into()),
        role: None,
        workflow: None,
        dry_run: true,
    };
    let before: Vec<_> = [a.id, b.id, closed.id, other.id]
        .iter()
        .map(|id| e.get(*id, None).unwrap())
        .collect();
    let dry = e
        .reassign_participant(&o, "olga", "pat left the programme")
        .unwrap();
    let ids: Vec<i64> = dry.cases.iter().map(|c| c.case).collect();
    assert_eq!(ids, [a.id, b.id]);
    assert!(dry
        .cases
        .iter()
        .all(|c| c.outcome == "would_reassign" && c.roles == ["owner"]));
    for c in &before {
        assert_eq!(&e.get(c.id, None).unwrap(), c, "a dry run changes nothing");
    }
    assert_eq!(
        err(e.reassign_participant(&o, "pat", "x")).code(),
        "not_permitted"
    );
    o.to = Some("ghost".into());
    assert_eq!(
        err(e.reassign_participant(&o, "olga", "x")).code(),
        "not_found"
    );
    o.to = Some("quinn".into());
    o.dry_run = false;
    let done = e
        .reassign_participant(&o, "olga", "pat left the programme")
        .unwrap();
    assert!(
        done.cases.iter().all(|c| c.outcome == "reassigned"),
        "{done:?}"
    );
    for id in [a.id, b.id] {
        let c = e.get(id, None).unwrap();
        assert_eq!(c.participants["owner"], ["quinn"]);
        let ev = e.history(id, None).unwrap().pop().unwrap();
        assert_eq!(
            (ev.action.as_str(), ev.actor.as_str()),
            (mentorflow::REASSIGN_ACTION, "olga")
        );
        assert_eq!(ev.inputs["reason"], json!("pat left the programme"));
        assert_folds(&e, id);
        e.act(id, "send", "quinn", json!({})).unwrap();
    }
    assert_eq!(
        e.get(closed.id, None).unwrap(),
        before[2],
        "closed cases are history"
    );
    assert_eq!(e.get(other.id, None).unwrap(), before[3]);
    let r = e.replay("paced", 1, None).unwrap();
    assert!(
        r.cases
            .iter()
            .all(|c| c.outcome == mentorflow::ReplayOutcome::Identical),
        "{r:?}"
    );
}

#[test]
fn the_successor_must_hold_the_directory_role_the_case_roles_holders_have() {
    const TEAM: &str = r#"
workflow: mentoring
version: 1
roles:
  client: {}
  mentor: {}
states:
  open: { label: Open }
  done: { label: Done, final: true }
actions:
  create:
    to: open
    by: client
    inputs:
      mentor: { type: person, required: true }
    run: 'assign("client", actor.id); assign("mentor", inputs.mentor);'
  finish: { from: open, to: done, by: mentor }
"#;
    let e = Engine::builder()
        .fresh()
        .workflow_str("mentoring.yaml", TEAM)
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    for p in [
        Person::new("olga").org("ch1").role("admin"),
        Person::new("mia").org("ch1").role("mentor"),
        Person::new("max").org("ch1").role("mentor"),
        Person::new("pete").org("ch1"),
    ] {
        e.put_person(&p).unwrap();
    }
    let a = e
        .start_with(mentorflow::Start {
            workflow: "mentoring".into(),
            action: Some("create".into()),
            actor: "pat".into(),
            inputs: json!({"mentor": "mia"}).as_object().cloned().unwrap(),
            ..Default::default()
        })
        .unwrap();
    let before = e.get(a.id, None).unwrap();
    let mut o = mentorflow::ReassignOptions {
        from: "mia".into(),
        to: Some("pete".into()),
        dry_run: true,
        ..Default::default()
    };
    // pete is no mentor in the directory: refused, dry run or not, naming role, org and case
    for dry in [true, false] {
        o.dry_run = dry;
        let x = err(e.reassign_participant(&o, "olga", "mia left"));
        assert_eq!(x.code(), "validation");
        let msg = x.to_string();
        assert!(
            msg.contains("`pete`")
                && msg.contains("`mentor`")
                && msg.contains("`ch1`")
                && msg.contains(&format!("case {}", a.id)),
            "{msg}"
        );
        assert_eq!(e.get(a.id, None).unwrap(), before, "nothing changed");
    }
    // max is: done
    o.to = Some("max".into());
    let done = e.reassign_participant(&o, "olga", "mia left").unwrap();
    assert_eq!(done.cases.len(), 1);
    assert_eq!(e.get(a.id, None).unwrap().participants["mentor"], ["max"]);
    // a case role nobody holds in the directory (client) may go to anyone
    let o = mentorflow::ReassignOptions {
        from: "pat".into(),
        to: Some("pete".into()),
        ..Default::default()
    };
    e.reassign_participant(&o, "olga", "the client's colleague takes over")
        .unwrap();
    assert_eq!(e.get(a.id, None).unwrap().participants["client"], ["pete"]);
}

const BATCH: &str = r#"
workflow: batch
version: 1
roles:
  owner: {}
  staff: { directory: admin }
fields:
  topic: { type: string }
states:
  waiting:
    label: Waiting
    timers:
      - name: remind
        after: 1h
        run: 'fields.topic = "reminded";'
  done: { label: Done, final: true }
actions:
  create:
    to: waiting
    by: owner
    run: 'assign("owner", actor.id);'
  finish: { from: waiting, to: done, by: owner }
views:
  waiting_cases:
    title: Waiting cases
    states: [waiting]
    viewer: [staff]
"#;

fn batch() -> (Engine, ManualClock) {
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("paced.yaml", FLOW)
        .workflow_str("batch.yaml", BATCH)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    e.put_person(&Person::new("olga").org("ch1").role("admin"))
        .unwrap();
    (e, clock)
}

#[test]
fn bulk_controls_take_a_filter_or_a_view_and_show_a_dry_run_first() {
    use mentorflow::{BulkControl, BulkOptions};
    let (e, clock) = batch();
    let start = |topic: &str| {
        e.start("batch", "create", "pat", json!({ "topic": topic }))
            .unwrap()
    };
    let (a, b, c) = (start("tax"), start("tax"), start("hiring"));
    let closed = start("tax");
    e.act(closed.id, "finish", "pat", json!({})).unwrap();
    let other = e.start("paced", "create", "pat", json!({})).unwrap();
    let all = [a.id, b.id, c.id, closed.id, other.id];
    let snapshot = || -> Vec<_> { all.iter().map(|id| e.get(*id, None).unwrap()).collect() };
    let before = snapshot();

    let mut o = BulkOptions::new(BulkControl::Suspend);
    assert_eq!(
        err(e.control_cases(&o, "olga", "audit week")).code(),
        "validation",
        "a selection naming nothing is refused"
    );
    // names that do not exist are mistakes, not empty selections
    for bad in [
        BulkOptions {
            state: Some("nowhere".into()),
            ..o.clone()
        },
        BulkOptions {
            fields: vec![("colour".into(), json!("red"))],
            ..o.clone()
        },
        BulkOptions {
            workflow: Some("nope".into()),
            ..o.clone()
        },
    ] {
        assert_eq!(
            err(e.control_cases(&bad, "olga", "audit week")).code(),
            "not_found",
            "{bad:?}"
        );
    }
    o.workflow = Some("batch".into());
    o.fields = vec![("topic".into(), json!("tax"))];
    o.dry_run = true;
    assert_eq!(
        err(e.control_cases(&o, "pat", "audit week")).code(),
        "not_permitted"
    );
    assert_eq!(err(e.control_cases(&o, "olga", " ")).code(), "validation");
    let dry = e.control_cases(&o, "olga", "audit week").unwrap();
    let ids: Vec<i64> = dry.cases.iter().map(|c| c.case).collect();
    assert_eq!(ids, [a.id, b.id], "open cases of the filter, in id order");
    assert!(dry.cases.iter().all(|c| c.outcome == "would_suspend"));
    assert_eq!(snapshot(), before, "a dry run changes nothing");

    o.dry_run = false;
    let done = e.control_cases(&o, "olga", "audit week").unwrap();
    assert_eq!(done.changed(), 2);
    assert!(done.cases.iter().all(|c| c.outcome == "suspended"));
    for id in [a.id, b.id] {
        let s = e.get(id, None).unwrap();
        assert_eq!(s.suspended.as_ref().unwrap().by, "olga");
        let ev = e.history(id, None).unwrap().pop().unwrap();
        assert_eq!(
            (ev.action.as_str(), ev.actor.as_str()),
            (SUSPEND_ACTION, "olga")
        );
        assert_eq!(ev.inputs["reason"], json!("audit week"));
        assert_folds(&e, id);
    }
    assert_eq!(e.get(c.id, None).unwrap(), before[2]);
    // again: nothing left to suspend
    assert!(e
        .control_cases(&o, "olga", "audit week")
        .unwrap()
        .cases
        .is_empty());
    // their timers wait while suspended
    clock.advance(Duration::hours(2));
    e.tick().unwrap();
    assert_eq!(e.get(a.id, None).unwrap().data["topic"], json!("tax"));
    assert_eq!(e.get(c.id, None).unwrap().data["topic"], json!("reminded"));

    // resume by the view, as the operator sees it: only the suspended ones of it
    let mut r = BulkOptions::new(BulkControl::Resume);
    r.view = Some("batch.waiting_cases".into());
    let done = e.control_cases(&r, "olga", "audit over").unwrap();
    let ids: Vec<i64> = done.cases.iter().map(|c| c.case).collect();
    assert_eq!(ids, [a.id, b.id]);
    e.tick().unwrap();
    assert_eq!(e.get(a.id, None).unwrap().data["topic"], json!("reminded"));
    assert_eq!(
        err(e.control_cases(
            &BulkOptions {
                view: Some("batch.nope".into()),
                ..r.clone()
            },
            "olga",
            "x"
        ))
        .code(),
        "not_found"
    );

    // cancel by state and organisation: every open case of both workflows there
    let mut k = BulkOptions::new(BulkControl::Cancel);
    k.org = Some("ch1".into());
    k.state = Some("waiting".into());
    let done = e.control_cases(&k, "olga", "programme closed").unwrap();
    let ids: Vec<i64> = done.cases.iter().map(|c| c.case).collect();
    assert_eq!(ids, [a.id, b.id, c.id, other.id]);
    for id in ids {
        assert!(e.get(id, None).unwrap().cancelled.is_some());
        assert_eq!(count(&e, id, CANCEL_ACTION), 1);
        assert_folds(&e, id);
    }
    assert_eq!(e.get(closed.id, None).unwrap(), before[3], "closed stays");
    let audit = e
        .audit(&mentorflow::AuditFilter::default())
        .unwrap()
        .into_iter()
        .filter(|x| x.kind == "case.cancel")
        .count();
    assert_eq!(audit, 4, "one audit entry per case");
}
