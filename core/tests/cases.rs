//! Cases: start, act and the queries; the order of checks with distinct errors; refusals
//! that change nothing; spawned copies, goto, state hooks and `at` timers.
#![allow(clippy::unwrap_used)]
mod support;

use mentorflow::{Case, CaseFilter, Effect, Engine, Error, Start};
use serde_json::{json, Map, Value};
use support::{assert_folds, err, snapshot};

const CASEWORK: &str = r#"
workflow: casework
version: 1
settings:
  kinds: [Coaching, Shadowing]
roles:
  requester: {}
  coordinator: { directory: coordinator }
fields:
  title: { type: string, required: true, max_length: 40 }
  due: { type: date }
  entered: { type: int, default: 0 }
  exits: { type: int, default: 0 }
  rating: { type: int }
  kind: { type: string }
checks:
  - when: 'fields.kind != "Shadowing" || fields.rating != ()'
    message: A shadowing case needs a rating
templates:
  rejected:
    subject: "Rejected: ${fields.title}"
    body: "Sorry, ${recipient.name}"
states:
  pending:
    label: Pending
    on_exit: fields.exits += 1
    timers:
      - name: deadline
        at: fields.due
        offset: -1 day
        run: add_note("due tomorrow")
  review:
    label: Review
    on_enter: fields.entered += 1
  approved: { label: Approved, final: true }
  denied: { label: Denied, final: true }
actions:
  create: { to: pending, by: requester }
  rate:
    from: pending
    by: coordinator
    inputs:
      score: { type: int, required: true, min: 1, max: 5 }
      comment: { type: string, max_length: 10 }
      kind: { type: string, one_of: settings.kinds }
      buddy: { type: person }
    guard:
      - when: 'inputs.score != 3'
        message: Three is not a rating
        suggest: [submit]
    run: |
      fields.rating = inputs.score;
      if inputs.kind != () { fields.kind = inputs.kind; }
  reschedule:
    from: pending
    by: requester
    inputs:
      due: { type: date, required: true }
    run: fields.due = inputs.due
  submit: { from: pending, to: review, by: requester }
  wipe:
    from: pending
    by: requester
    run: fields.title = ()
  set_kind:
    from: pending
    by: requester
    inputs:
      kind: { type: string, required: true }
    run: fields.kind = inputs.kind
  decide:
    from: review
    to: [approved, denied]
    by: coordinator
    inputs:
      ok: { type: bool, required: true }
    run: |
      if inputs.ok { goto("approved") } else { goto("denied") }
  reject:
    from: review
    to: pending
    by: coordinator
    run: |
      spawn_copy(#{ state: "denied", fields: #{ title: fields.title + " (copy)" } });
      notify(case.requester, "rejected");
"#;

fn request(e: &Engine) -> Case {
    e.start(
        "request",
        "submit",
        "pat",
        json!({"client_name": "Pat's Bakery"}),
    )
    .unwrap()
}

fn assigned(e: &Engine) -> Case {
    let c = request(e);
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap()
}

fn casework() -> (Engine, Case) {
    let (e, _) = support::engine_for("casework.yaml", CASEWORK);
    let c = e
        .start(
            "casework",
            "create",
            "pat",
            json!({"title": "Shadowing week"}),
        )
        .unwrap();
    (e, c)
}

/// Act, expect a refusal, and check nothing changed.
fn refused(e: &Engine, id: i64, action: &str, actor: &str, inputs: Value) -> Error {
    let before = snapshot(e, id);
    let error = err(e.act(id, action, actor, inputs));
    assert_eq!(
        snapshot(e, id),
        before,
        "refused `{action}` by {actor} changed the case: {error}"
    );
    error
}

fn validation_field(e: &Error) -> String {
    match e {
        Error::Validation { field, .. } => field.clone().unwrap_or_default(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

// ---- the commands and queries ----------------------------------------------------------------

#[test]
fn start_records_the_case_and_its_first_event() {
    let (e, _) = support::engine();
    let c = request(&e);
    assert_eq!(c.workflow, "request");
    assert_eq!(c.version, 1);
    assert_eq!(c.org, "ch1");
    assert_eq!(c.state, "submitted");
    assert_eq!(c.state_label, "Submitted");
    assert_eq!(c.tags, ["cny"]);
    assert!(c.open);
    assert_eq!(c.revision, 1);
    assert_eq!(c.created_at, support::t0());
    assert_eq!(
        c.data,
        json!({"client_name": "Pat's Bakery", "contacted": false, "sessions": 0})
            .as_object()
            .unwrap()
            .clone()
    );
    assert_eq!(c.participant("client"), Some("pat"));
    assert_eq!(e.get(c.id, None).unwrap(), c);
    let h = e.history(c.id, None).unwrap();
    assert_eq!(h.len(), 1);
    assert_eq!(h[0].seq, 1);
    assert_eq!(h[0].actor, "pat");
    assert_eq!(h[0].action, "submit");
    assert_eq!(h[0].from_state, None);
    assert_eq!(h[0].to_state, "submitted");
    assert_folds(&e, c.id);
}

#[test]
fn start_with_names_the_organisation_and_validates_data() {
    let (e, _) = support::engine();
    let mut data = Map::new();
    data.insert("client_name".into(), json!("Elsewhere Ltd"));
    let c = e
        .start_with(Start {
            workflow: "request".into(),
            action: None,
            actor: "pat".into(),
            org: Some("ch2".into()),
            data,
            inputs: Map::new(),
            idempotency_key: None,
        })
        .unwrap();
    assert_eq!(c.org, "ch2");
    assert_eq!(c.state, "submitted", "the only start action is the default");

    let long = "x".repeat(81);
    let error = err(e.start("request", "submit", "pat", json!({"client_name": long})));
    assert_eq!(validation_field(&error), "fields.client_name");
    assert!(error.to_string().contains("at most 80"), "{error}");
    let error = err(e.start("request", "submit", "pat", json!({})));
    assert_eq!(validation_field(&error), "fields.client_name");
    let error = err(e.start("request", "submit", "pat", json!({"colour": "red"})));
    assert_eq!(validation_field(&error), "fields.colour");
    let error = err(e.start("request", "assign", "pat", json!({"client_name": "X"})));
    assert_eq!(validation_field(&error), "action");
    let error = err(e.start("nope", "submit", "pat", json!({})));
    assert!(
        matches!(
            error,
            Error::NotFound {
                kind: "workflow",
                ..
            }
        ),
        "{error:?}"
    );
    let error = err(e.start("request", "submit", "nobody", json!({"client_name": "X"})));
    assert!(
        matches!(error, Error::NotFound { kind: "person", .. }),
        "{error:?}"
    );
    assert_eq!(e.cases(&CaseFilter::default()).unwrap().len(), 1);
}

#[test]
fn act_moves_the_case_and_records_the_event() {
    let (e, clock) = support::engine();
    let c = request(&e);
    clock.advance(chrono::Duration::hours(2));
    let c = e
        .act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    assert_eq!(c.state, "pending");
    assert_eq!(c.revision, 2);
    assert_eq!(c.participant("mentor"), Some("alice"));
    assert_eq!(c.updated_at, support::t0() + chrono::Duration::hours(2));
    let h = e.history(c.id, None).unwrap();
    let last = h.last().unwrap();
    assert_eq!(
        (last.seq, last.actor.as_str(), last.action.as_str()),
        (2, "cody", "assign")
    );
    assert_eq!(last.from_state.as_deref(), Some("submitted"));
    assert_eq!(last.to_state, "pending");
    assert_eq!(last.inputs["mentor"], json!("alice"));
    assert!(last.effects.contains(&Effect::Assign {
        role: "mentor".into(),
        person: "alice".into()
    }));
    assert!(last
        .effects
        .iter()
        .any(|f| matches!(f, Effect::TimerScheduled { name, .. } if name == "back_to_queue")));
    let c = e
        .act(c.id, "accept", "alice", json!({"note": "Hello Pat"}))
        .unwrap();
    let notes = e.notes(c.id, None).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].1, "Hello Pat");
    assert_eq!(notes[0].0.action, "accept");
    assert_folds(&e, c.id);
}

#[test]
fn actions_lists_what_a_person_may_do_now() {
    let (e, _) = support::engine();
    let c = request(&e);
    assert_eq!(e.actions(c.id, "cody").unwrap(), ["assign"]);
    assert!(e.actions(c.id, "pat").unwrap().is_empty());
    let c = e
        .act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    assert_eq!(e.actions(c.id, "alice").unwrap(), ["accept", "decline"]);
    assert!(e.actions(c.id, "cody").unwrap().is_empty());
    let error = err(e.actions(c.id, "zed"));
    assert_eq!(error.code(), "not_found");
    let c = e
        .act(c.id, "accept", "alice", json!({"note": "Hi"}))
        .unwrap();
    // `complete`'s guard (no inputs) is false until a session is logged
    assert_eq!(e.actions(c.id, "alice").unwrap(), ["log_session"]);
    e.act(c.id, "log_session", "alice", json!({})).unwrap();
    assert_eq!(
        e.actions(c.id, "alice").unwrap(),
        ["log_session", "complete"]
    );
}

#[test]
fn get_and_history_respect_visibility() {
    let (e, _) = support::engine();
    let c = assigned(&e);
    for who in ["pat", "cody", "alice"] {
        assert_eq!(e.get(c.id, Some(who)).unwrap().id, c.id, "{who}");
        assert_eq!(e.history(c.id, Some(who)).unwrap().len(), 2, "{who}");
    }
    for who in ["zed", "bob"] {
        let error = err(e.get(c.id, Some(who)));
        assert!(
            matches!(&error, Error::NotFound { kind: "case", hint: Some(h), .. } if h.contains("not visible")),
            "{who}: {error:?}"
        );
        assert_eq!(err(e.history(c.id, Some(who))).code(), "not_found");
        assert_eq!(err(e.notes(c.id, Some(who))).code(), "not_found");
    }
    assert_eq!(err(e.get(424242, None)).code(), "not_found");
}

#[test]
fn cases_filters_by_workflow_state_and_organisation() {
    let (e, _) = support::engine();
    let a = request(&e);
    let b = assigned(&e);
    let mut data = Map::new();
    data.insert("client_name".into(), json!("Far away"));
    let c = e
        .start_with(Start {
            workflow: "request".into(),
            actor: "pat".into(),
            org: Some("ch2".into()),
            data,
            ..Start::default()
        })
        .unwrap();
    let ids = |f: CaseFilter| -> Vec<i64> { e.cases(&f).unwrap().iter().map(|c| c.id).collect() };
    assert_eq!(
        ids(CaseFilter::default()),
        [c.id, b.id, a.id],
        "newest first"
    );
    assert_eq!(
        ids(CaseFilter {
            state: Some("submitted".into()),
            ..Default::default()
        }),
        [c.id, a.id]
    );
    assert_eq!(
        ids(CaseFilter {
            org: Some("ch1".into()),
            ..Default::default()
        }),
        [b.id, a.id]
    );
    assert_eq!(
        ids(CaseFilter {
            limit: Some(1),
            ..Default::default()
        }),
        [c.id]
    );
    assert!(ids(CaseFilter {
        workflow: Some("other".into()),
        ..Default::default()
    })
    .is_empty());
}

#[test]
fn view_and_export_show_the_cases() {
    let (e, _) = support::engine();
    let a = assigned(&e);
    let b = request(&e);
    let need: Vec<i64> = e
        .view("need_action", "alice")
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(need, [a.id]);
    let queue: Vec<i64> = e
        .view("queue", "cody")
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(queue, [b.id]);
    let t = e.export("requests", None).unwrap();
    assert_eq!(t.columns, ["id", "client", "state", "mentor"]);
    assert_eq!(t.rows.len(), 2);
    assert_eq!(t.rows[0]["id"], json!(a.id));
    assert_eq!(t.rows[0]["state"], json!("Assigned – Pending"));
    assert_eq!(t.rows[0]["mentor"], json!("alice"));
    assert_eq!(t.rows[1]["mentor"], Value::Null);
    let csv = t.to_csv();
    assert!(csv.starts_with("id,client,state,mentor\r\n"), "{csv}");
    assert!(
        csv.contains(&format!(
            "{},Pat's Bakery,Assigned – Pending,alice\r\n",
            a.id
        )),
        "{csv}"
    );
    // an export for a person keeps the cases they may see
    assert_eq!(e.export("requests", Some("alice")).unwrap().rows.len(), 1);
    assert_eq!(e.export("requests", Some("zed")).unwrap().rows.len(), 0);
    assert_eq!(err(e.view("nope", "alice")).code(), "not_found");
    assert_eq!(err(e.export("nope", None)).code(), "not_found");
}

// ---- the order of checks ---------------------------------------------------------------------

#[test]
fn an_unknown_case_is_not_found() {
    let (e, _) = support::engine();
    let error = err(e.act(999, "assign", "cody", json!({"mentor": "alice"})));
    assert!(
        matches!(&error, Error::NotFound { kind: "case", id, .. } if id == "999"),
        "{error:?}"
    );
}

#[test]
fn a_case_of_another_organisation_is_not_found() {
    let (e, _) = support::engine();
    let c = request(&e);
    // zed is a coordinator, but of ch2; even an unknown action says "case not found" first
    for action in ["assign", "no_such_action"] {
        let error = refused(&e, c.id, action, "zed", json!({"mentor": "alice"}));
        assert!(
            matches!(&error, Error::NotFound { kind: "case", .. }),
            "{action}: {error:?}"
        );
    }
}

#[test]
fn an_unknown_action_is_not_found() {
    let (e, _) = support::engine();
    let c = request(&e);
    let error = refused(&e, c.id, "fly", "cody", json!({"wings": 2}));
    match error {
        Error::NotFound { kind, id, hint } => {
            assert_eq!((kind, id.as_str()), ("action", "fly"));
            assert!(hint.unwrap().contains("assign"));
        }
        other => panic!("{other:?}"),
    }
    // a start action is not done on an existing case
    let error = refused(&e, c.id, "submit", "pat", json!({}));
    assert_eq!(validation_field(&error), "action");
}

#[test]
fn a_person_without_the_role_is_not_permitted() {
    let (e, _) = support::engine();
    let c = request(&e);
    let error = refused(&e, c.id, "assign", "pat", json!({"mentor": "alice"}));
    match &error {
        Error::NotPermitted {
            workflow,
            action,
            actor,
            ..
        } => assert_eq!(
            (workflow.as_str(), action.as_str(), actor.as_str()),
            ("request", "assign", "pat")
        ),
        other => panic!("{other:?}"),
    }
    // the role is checked before the state: accept is from pending, the case is submitted
    let error = refused(&e, c.id, "accept", "cody", json!({}));
    assert_eq!(error.code(), "not_permitted", "{error:?}");
    // nobody acts as `system`
    let error = refused(&e, c.id, "expire", "system", json!({}));
    assert_eq!(error.code(), "not_permitted", "{error:?}");
}

#[test]
fn the_wrong_state_gives_the_unavailable_message_and_suggestions() {
    let (e, _) = support::engine();
    let c = assigned(&e);
    // bad inputs too: the state is checked first
    let error = refused(&e, c.id, "log_session", "alice", json!({"bogus": 1}));
    match error {
        Error::GuardRejected {
            workflow,
            action,
            state,
            message,
            suggest,
            rule,
        } => {
            assert_eq!(workflow, "request");
            assert_eq!(action, "log_session");
            assert_eq!(state, "pending");
            assert_eq!(
                message,
                "You must accept or decline this request before adding a session."
            );
            assert_eq!(suggest, ["accept", "decline"]);
            assert_eq!(rule, "state");
        }
        other => panic!("{other:?}"),
    }
    // without `unavailable`, the message names the action and the state label
    let error = refused(&e, c.id, "complete", "alice", json!({}));
    match error {
        Error::GuardRejected { message, rule, .. } => {
            assert_eq!(rule, "state");
            assert!(message.contains("Assigned – Pending"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn invalid_inputs_name_the_input() {
    let (e, _) = support::engine();
    let c = request(&e);
    let cases = [
        (json!({}), "inputs.mentor", "required"),
        (json!({"mentor": 5}), "inputs.mentor", "must be a person"),
        (
            json!({"mentor": "ghost"}),
            "inputs.mentor",
            "no person `ghost`",
        ),
        (
            json!({"mentor": "alice", "urgent": true}),
            "inputs.urgent",
            "unknown input",
        ),
    ];
    for (inputs, field, needle) in cases {
        let error = refused(&e, c.id, "assign", "cody", inputs.clone());
        assert_eq!(validation_field(&error), field, "{inputs}");
        assert!(error.to_string().contains(needle), "{inputs}: {error}");
    }
    // inputs are checked before the guard: bob is not active, but the input is unknown
    let error = refused(&e, c.id, "assign", "cody", json!({"mentor": "bob", "x": 1}));
    assert_eq!(validation_field(&error), "inputs.x");
}

#[test]
fn inputs_are_checked_against_their_declaration() {
    let (e, c) = casework();
    let cases = [
        (json!({"score": "five"}), "inputs.score", "whole number"),
        (json!({"score": 9}), "inputs.score", "at most 5"),
        (
            json!({"score": 4, "comment": "far too long a comment"}),
            "inputs.comment",
            "at most 10",
        ),
        (
            json!({"score": 4, "kind": "Juggling"}),
            "inputs.kind",
            "Coaching, Shadowing",
        ),
        (
            json!({"score": 4, "buddy": "nobody"}),
            "inputs.buddy",
            "no person `nobody`",
        ),
    ];
    for (inputs, field, needle) in cases {
        let error = refused(&e, c.id, "rate", "cody", inputs.clone());
        assert_eq!(validation_field(&error), field, "{inputs}");
        assert!(error.to_string().contains(needle), "{inputs}: {error}");
    }
    let c = e
        .act(
            c.id,
            "rate",
            "cody",
            json!({"score": 4, "comment": "good", "kind": "Shadowing", "buddy": "alice"}),
        )
        .unwrap();
    assert_eq!(c.data["rating"], json!(4));
    assert_eq!(c.data["kind"], json!("Shadowing"));
}

#[test]
fn a_false_guard_gives_its_message_and_suggestions() {
    let (e, _) = support::engine();
    let c = request(&e);
    let error = refused(&e, c.id, "assign", "cody", json!({"mentor": "bob"}));
    match error {
        Error::GuardRejected {
            message,
            rule,
            suggest,
            ..
        } => {
            assert_eq!(message, "Only active mentors can be assigned");
            assert_eq!(rule, "guard[0]");
            assert!(suggest.is_empty());
        }
        other => panic!("{other:?}"),
    }
    let c = e
        .act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    let c = e
        .act(c.id, "accept", "alice", json!({"note": "Hi"}))
        .unwrap();
    let error = refused(&e, c.id, "complete", "alice", json!({}));
    match error {
        Error::GuardRejected {
            message, suggest, ..
        } => {
            assert_eq!(message, "Log at least one session before completing");
            assert_eq!(suggest, ["log_session"]);
        }
        other => panic!("{other:?}"),
    }
    let (e, c) = casework();
    match refused(&e, c.id, "rate", "cody", json!({"score": 3})) {
        Error::GuardRejected {
            message, suggest, ..
        } => {
            assert_eq!(message, "Three is not a rating");
            assert_eq!(suggest, ["submit"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn act_at_checks_the_revision() {
    let (e, _) = support::engine();
    let c = request(&e);
    let c = e
        .act_at(c.id, 1, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    assert_eq!(c.revision, 2);
    let before = snapshot(&e, c.id);
    match err(e.act_at(c.id, 1, "accept", "alice", json!({"note": "Hi"}))) {
        Error::Conflict {
            case_id,
            expected,
            actual,
        } => assert_eq!((case_id, expected, actual), (c.id, 1, 2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&e, c.id), before);
}

// ---- copies, goto, hooks, `at` timers --------------------------------------------------------

#[test]
fn spawn_copy_creates_a_linked_copy() {
    let (e, c) = casework();
    let c = e.act(c.id, "submit", "pat", json!({})).unwrap();
    let c = e.act(c.id, "reject", "cody", json!({})).unwrap();
    assert_eq!(c.state, "pending");
    let last = e.history(c.id, None).unwrap().pop().unwrap();
    let copy_id = last
        .effects
        .iter()
        .find_map(|f| match f {
            Effect::Spawn { case, state } => {
                assert_eq!(state, "denied");
                Some(*case)
            }
            _ => None,
        })
        .expect("a spawn effect");
    let copy = e.get(copy_id, None).unwrap();
    assert_eq!(copy.parent, Some(c.id));
    assert_eq!(copy.state, "denied");
    assert!(!copy.open);
    assert_eq!(copy.org, c.org);
    assert_eq!(copy.data["title"], json!("Shadowing week (copy)"));
    assert_eq!(c.data["title"], json!("Shadowing week"));
    assert_eq!(copy.participant("requester"), Some("pat"));
    assert_eq!(copy.revision, 1);
    let h = e.history(copy_id, None).unwrap();
    assert_eq!(h.len(), 1);
    assert!(h[0].effects.contains(&Effect::CopiedFrom { case: c.id }));
    assert_folds(&e, copy_id);
    assert_folds(&e, c.id);
    let n = e.notifications(&Default::default()).unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].subject, "Rejected: Shadowing week");
    assert_eq!(n[0].body, "Sorry, Pat Client");
    // the requester sees the copy
    assert_eq!(e.get(copy_id, Some("pat")).unwrap().id, copy_id);
}

#[test]
fn goto_picks_one_of_the_listed_targets() {
    let (e, c) = casework();
    e.act(c.id, "submit", "pat", json!({})).unwrap();
    let c = e.act(c.id, "decide", "cody", json!({"ok": true})).unwrap();
    assert_eq!(c.state, "approved");
    let d = e
        .start("casework", "create", "pat", json!({"title": "Other"}))
        .unwrap();
    e.act(d.id, "submit", "pat", json!({})).unwrap();
    let d = e.act(d.id, "decide", "cody", json!({"ok": false})).unwrap();
    assert_eq!(d.state, "denied");
    let h = e.history(d.id, None).unwrap();
    assert_eq!(h.last().unwrap().to_state, "denied");
    assert_folds(&e, d.id);
}

#[test]
fn on_enter_and_on_exit_run_on_transitions() {
    let (e, c) = casework();
    assert_eq!(
        (c.data["entered"].clone(), c.data["exits"].clone()),
        (json!(0), json!(0))
    );
    let c = e.act(c.id, "submit", "pat", json!({})).unwrap();
    assert_eq!(c.data["exits"], json!(1), "on_exit of pending");
    assert_eq!(c.data["entered"], json!(1), "on_enter of review");
    let c = e.act(c.id, "reject", "cody", json!({})).unwrap();
    assert_eq!(
        (c.data["entered"].clone(), c.data["exits"].clone()),
        (json!(1), json!(1))
    );
    // staying in a state runs neither
    let c = e.act(c.id, "rate", "cody", json!({"score": 5})).unwrap();
    assert_eq!(c.data["exits"], json!(1));
    let c = e.act(c.id, "submit", "pat", json!({})).unwrap();
    assert_eq!(
        (c.data["entered"].clone(), c.data["exits"].clone()),
        (json!(2), json!(2))
    );
    assert_folds(&e, c.id);
}

#[test]
fn an_at_timer_follows_its_date_field() {
    let (e, _) = support::engine_for("casework.yaml", CASEWORK);
    let c = e
        .start(
            "casework",
            "create",
            "pat",
            json!({"title": "Dated", "due": "2026-12-10"}),
        )
        .unwrap();
    let timers = e.timers(c.id).unwrap();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].name, "deadline");
    assert_eq!(timers[0].due_at.to_rfc3339(), "2026-12-09T00:00:00+00:00");
    e.act(c.id, "reschedule", "pat", json!({"due": "2026-12-20"}))
        .unwrap();
    let timers = e.timers(c.id).unwrap();
    assert_eq!(timers.len(), 1);
    assert_eq!(timers[0].due_at.to_rfc3339(), "2026-12-19T00:00:00+00:00");
    let r = e
        .advance_to("2026-12-12T00:00:00Z".parse().unwrap())
        .unwrap();
    assert_eq!(r.fired, 0, "the old date no longer fires");
    let r = e
        .advance_to("2026-12-19T00:00:00Z".parse().unwrap())
        .unwrap();
    assert_eq!(r.fired, 1);
    let notes = e.notes(c.id, None).unwrap();
    assert_eq!(notes.len(), 1);
    assert_eq!(notes[0].1, "due tomorrow");
    assert_eq!(notes[0].0.actor, "system");
    assert!(e.timers(c.id).unwrap().is_empty());
    // a case without the date has no timer
    let d = e
        .start("casework", "create", "pat", json!({"title": "Undated"}))
        .unwrap();
    assert!(e.timers(d.id).unwrap().is_empty());
    e.act(d.id, "reschedule", "pat", json!({"due": "2027-01-05"}))
        .unwrap();
    assert_eq!(e.timers(d.id).unwrap().len(), 1);
}

#[test]
fn required_fields_and_checks_hold_after_every_action() {
    let (e, c) = casework();
    let error = refused(&e, c.id, "wipe", "pat", json!({}));
    assert_eq!(validation_field(&error), "fields.title");
    let error = refused(&e, c.id, "set_kind", "pat", json!({"kind": "Shadowing"}));
    match error {
        Error::Validation { field, message, .. } => {
            assert_eq!(field, None);
            assert_eq!(message, "A shadowing case needs a rating");
        }
        other => panic!("{other:?}"),
    }
    let c = e
        .act(c.id, "set_kind", "pat", json!({"kind": "Coaching"}))
        .unwrap();
    assert_eq!(c.data["kind"], json!("Coaching"));
    e.act(c.id, "rate", "cody", json!({"score": 4})).unwrap();
    let c = e
        .act(c.id, "set_kind", "pat", json!({"kind": "Shadowing"}))
        .unwrap();
    assert_eq!(c.data["kind"], json!("Shadowing"));
}

const HANDOVER: &str = r#"
workflow: handover
version: 1
roles:
  client: {}
  mentor: {}
fields:
  greeted: { type: string }
  seen_by_exit: { type: string }
templates:
  hello:
    subject: "Hello ${case.mentor} from ${fields.greeted}"
    body: "state ${case.state}"
states:
  waiting:
    label: Waiting
    on_exit: fields.seen_by_exit = case.state + "/" + fields.greeted
  matched:
    label: Matched
    on_enter: |
      fields.greeted = case.mentor;
      notify(case.mentor, "hello");
  done: { label: Done, final: true }
actions:
  ask:
    to: waiting
    by: client
    run: fields.greeted = "nobody"
  match:
    from: waiting
    to: matched
    by: client
    inputs:
      mentor: { type: person, required: true }
    run: |
      fields.greeted = "run";
      assign("mentor", inputs.mentor);
  finish: { from: matched, to: done, by: [client, mentor] }
"#;

#[test]
fn state_hooks_and_templates_see_what_the_run_changed() {
    let (e, _) = support::engine_for("handover.yaml", HANDOVER);
    let c = e.start("handover", "ask", "pat", json!({})).unwrap();
    let c = e
        .act(c.id, "match", "pat", json!({"mentor": "alice"}))
        .unwrap();
    // on_exit ran after the run: it saw the field the run set
    assert_eq!(c.data["seen_by_exit"], json!("waiting/run"));
    // on_enter saw the new participant, and the template the final snapshot
    assert_eq!(c.data["greeted"], json!("alice"));
    let n = e.notifications(&Default::default()).unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].to, "alice");
    assert_eq!(n[0].subject, "Hello alice from alice");
    assert_eq!(n[0].body, "state matched");
    assert_folds(&e, c.id);
}

/// A start's scripts and notifications know the new case's id (it is taken before the row is
/// written), and so does a case started in the same engine next.
#[test]
fn a_start_knows_its_case_id_in_scripts_and_notifications() {
    let (e, _clock) = support::engine_for(
        "hello.yaml",
        r#"
workflow: hello
version: 1
roles:
  client: {}
fields:
  seen_id: { type: int }
templates:
  welcome:
    subject: "Case ${case.id}"
    body: "Open /requests/${case.id}"
states:
  open: {}
  done: { final: true }
actions:
  submit:
    to: open
    by: client
    run: |
      fields.seen_id = case.id;
      notify(actor.id, "welcome");
  finish: { from: open, to: done, by: client }
"#,
    );
    for _ in 0..3 {
        let c = e.start("hello", "submit", "pat", json!({})).unwrap();
        assert_eq!(c.data["seen_id"], json!(c.id));
        let n = e
            .notifications(&mentorflow::NotificationFilter {
                case_id: Some(c.id),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].subject, format!("Case {}", c.id));
        assert_eq!(n[0].body, format!("Open /requests/{}", c.id));
        assert_folds(&e, c.id);
    }
}
