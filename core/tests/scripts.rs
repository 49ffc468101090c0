//! The rhai sandbox: limits, strict variables, read-only guards, rollback of failing effects,
//! `fail`, host functions and configurable limits.
#![allow(clippy::unwrap_used)]
mod support;
use support::Fresh;

use std::sync::Arc;

use mentorflow::{Case, Engine, Error, Limits, ManualClock, ScriptPlace};
use serde_json::{json, Value};
use support::{err, line_of, snapshot, t0};

const SANDBOX: &str = r#"
workflow: sandbox
version: 1
roles:
  owner: {}
  mentor: {}
fields:
  count: { type: int, default: 0 }
  label: { type: string }
templates:
  ping:
    subject: "Ping ${fields.count}"
    body: "Count is ${fields.count}"
states:
  open:
    label: Open
    timers:
      - name: tick
        after: 1 day
        run: fields.count += 100
  moved:
    label: Moved
    on_enter: |
      if fields.count > 10 {
        let broken = fields.count / 0;
      }
  closed: { label: Closed, final: true }
actions:
  create: { to: open, by: owner }
  spin:
    from: open
    by: owner
    run: |
      let i = 0;
      loop { i += 1; }
  recurse:
    from: open
    by: owner
    run: |
      fn down(n) { down(n + 1) }
      down(0);
  big_string:
    from: open
    by: owner
    run: |
      let s = "xxxxxxxx";
      loop { s += s; }
  big_array:
    from: open
    by: owner
    run: |
      let a = [];
      loop { a.push(1); }
  big_map:
    from: open
    by: owner
    run: |
      let m = #{};
      let i = 0;
      loop { m.set("k" + i, i); i += 1; }
  big_map_index:
    from: open
    by: owner
    run: |
      let m = #{};
      let i = 0;
      loop { m["k" + i] = i; i += 1; }
  undefined_fn:
    from: open
    by: owner
    run: |
      fields.count = 1;
      fields.count = no_such_function(fields.count);
  grab:
    from: open
    by: owner
    guard:
      - when: 'assign("mentor", actor.id) == ()'
        message: never shown
    run: fields.count = 1
  partial:
    from: open
    to: moved
    by: owner
    run: |
      fields.count = 50;
      add_note("half way");
      notify(actor.id, "ping");
      assign("mentor", "alice");
      emit("partial", #{ n: 1 });
  refuse:
    from: open
    by: owner
    run: |
      fields.count = 7;
      fail("Not today", ["close"]);
  refuse_plain:
    from: open
    by: owner
    run: fail("Not now")
  copies:
    from: open
    by: owner
    inputs:
      n: { type: int, required: true }
    run: |
      let m = [];
      m.pad(5000, [1]);
      for i in 0..inputs.n { let copy = m; }
      fields.count = inputs.n;
  count:
    from: open
    by: owner
    run: |
      let i = 0;
      while i < 500 { i += 1; }
      fields.count = i;
  host:
    from: open
    by: owner
    run: fields.label = chapter_name(case.org)
  dynamic:
    from: open
    by: owner
    run: fields.count = double(21)
  close: { from: [open, moved], to: closed, by: owner }
"#;

fn engine_with(limits: Limits) -> Engine {
    let e = Engine::builder()
        .fresh()
        .workflow_str("sandbox.yaml", SANDBOX)
        .clock(ManualClock::at(t0()))
        .limits(limits)
        .functions(|e| {
            e.register_fn("chapter_name", |id: &str| format!("Chapter {id}"));
        })
        .build()
        .unwrap();
    e.put_people(&support::people()).unwrap();
    e
}

fn setup() -> (Engine, Case) {
    let e = engine_with(Limits::default());
    let c = e.start("sandbox", "create", "pat", json!({})).unwrap();
    (e, c)
}

/// The place of a script error, checking it names the sandbox workflow and the path.
fn script_place(e: &Error, path: &str) -> (ScriptPlace, String) {
    match e {
        Error::Script { place, message } => {
            assert_eq!(place.workflow, "sandbox", "{e}");
            assert_eq!(place.version, 1, "{e}");
            assert_eq!(place.path, path, "{e}");
            assert_eq!(place.file, "sandbox.yaml", "{e}");
            ((**place).clone(), message.clone())
        }
        other => panic!("expected a script error at {path}, got {other:?}"),
    }
}

/// Run an action that must fail with a script error and leave everything unchanged.
fn fails_cleanly(e: &Engine, c: &Case, action: &str) -> Error {
    let before = snapshot(e, c.id);
    let error = err(e.act(c.id, action, "pat", json!({})));
    assert_eq!(snapshot(e, c.id), before, "{action} changed something");
    error
}

#[test]
fn an_endless_loop_is_stopped_by_max_operations() {
    let (e, c) = setup();
    let error = fails_cleanly(&e, &c, "spin");
    assert_eq!(error.code(), "script");
    let (place, message) = script_place(&error, "actions.spin.run");
    assert!(message.contains("ran too long"), "{message}");
    assert!(message.contains("200000"), "{message}");
    assert_eq!(place.line, line_of(SANDBOX, "loop { i += 1; }"), "{error}");
    assert!(place.column >= 7, "{error}");
    assert!(
        error.to_string().contains("sandbox.yaml:"),
        "the message says where: {error}"
    );
}

#[test]
fn deep_recursion_is_stopped() {
    let (e, c) = setup();
    let error = fails_cleanly(&e, &c, "recurse");
    let (place, message) = script_place(&error, "actions.recurse.run");
    assert!(message.contains("nest too deeply"), "{message}");
    let start = line_of(SANDBOX, "fn down(n)");
    assert!(place.line == start || place.line == start + 1, "{error}");
}

#[test]
fn huge_strings_arrays_and_maps_are_stopped() {
    let (e, c) = setup();
    for action in ["big_string", "big_array", "big_map", "big_map_index"] {
        let error = fails_cleanly(&e, &c, action);
        let (_, message) = script_place(&error, &format!("actions.{action}.run"));
        assert!(
            message.contains("exceeds the sandbox limit"),
            "{action}: {message}"
        );
    }
}

#[test]
fn an_undefined_variable_is_refused_when_the_definition_loads() {
    let yaml = SANDBOX.replace(
        "fields.count = double(21)",
        "fields.count = doubled_count + 1",
    );
    let ps = support::problems_of("sandbox.yaml", &yaml);
    assert_eq!(ps.len(), 1, "{ps:#?}");
    assert!(ps[0].message.contains("doubled_count"), "{}", ps[0]);
    assert_eq!(ps[0].line, line_of(&yaml, "doubled_count"));
}

#[test]
fn an_undefined_function_fails_at_run_time_with_a_script_error() {
    let (e, c) = setup();
    let error = fails_cleanly(&e, &c, "undefined_fn");
    let (place, message) = script_place(&error, "actions.undefined_fn.run");
    assert!(message.contains("no_such_function"), "{message}");
    assert_eq!(place.line, line_of(SANDBOX, "no_such_function"));
}

#[test]
fn eval_is_not_available() {
    let yaml = SANDBOX.replace("fields.count = double(21)", "fields.count = eval(\"21\")");
    let ps = support::problems_of("sandbox.yaml", &yaml);
    assert!(
        ps.iter()
            .any(|p| p.message.contains("eval") && p.line == line_of(&yaml, "eval(")),
        "{ps:#?}"
    );
}

#[test]
fn a_guard_cannot_change_the_case() {
    let (e, c) = setup();
    let error = fails_cleanly(&e, &c, "grab");
    let (_, message) = script_place(&error, "actions.grab.guard[0].when");
    assert!(message.contains("cannot be used in a guard"), "{message}");
    let now = e.get(c.id, None).unwrap();
    assert_eq!(now.participant("mentor"), None);
    assert_eq!(now.data["count"], json!(0));
}

#[test]
fn a_failing_effect_rolls_back_the_whole_action() {
    let (e, c) = setup();
    assert_eq!(e.timers(c.id).unwrap().len(), 1);
    let before = snapshot(&e, c.id);
    let error = err(e.act(c.id, "partial", "pat", json!({})));
    let (place, _) = script_place(&error, "states.moved.on_enter");
    assert_eq!(place.line, line_of(SANDBOX, "let broken"));
    let after = snapshot(&e, c.id);
    assert_eq!(after, before);
    // in detail: state, data, participants, history, outbox, signals and timers
    let now = e.get(c.id, None).unwrap();
    assert_eq!(now.state, "open");
    assert_eq!(now.revision, 1);
    assert_eq!(now.data["count"], json!(0));
    assert!(!now.participants.contains_key("mentor"));
    assert_eq!(e.history(c.id, None).unwrap().len(), 1);
    assert!(e.notifications(&Default::default()).unwrap().is_empty());
    assert!(e.signals(None).unwrap().is_empty());
    assert_eq!(e.timers(c.id).unwrap()[0].name, "tick");
    assert!(e.notes(c.id, None).unwrap().is_empty());
}

#[test]
fn fail_gives_guard_rejected_with_its_message() {
    let (e, c) = setup();
    let before = snapshot(&e, c.id);
    match err(e.act(c.id, "refuse", "pat", json!({}))) {
        Error::GuardRejected {
            message,
            suggest,
            rule,
            action,
            state,
            ..
        } => {
            assert_eq!(message, "Not today");
            assert_eq!(suggest, ["close"]);
            assert_eq!(rule, "fail");
            assert_eq!(action, "refuse");
            assert_eq!(state, "open");
        }
        other => panic!("{other:?}"),
    }
    match err(e.act(c.id, "refuse_plain", "pat", json!({}))) {
        Error::GuardRejected {
            message, suggest, ..
        } => {
            assert_eq!(message, "Not now");
            assert!(suggest.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(snapshot(&e, c.id), before);
}

#[test]
fn host_functions_from_the_builder_are_callable() {
    let (e, c) = setup();
    let c = e.act(c.id, "host", "pat", json!({})).unwrap();
    assert_eq!(c.data["label"], json!("Chapter ch1"));
}

#[test]
fn register_dynamic_adds_a_function_after_build() {
    let (e, c) = setup();
    let error = err(e.act(c.id, "dynamic", "pat", json!({})));
    assert_eq!(error.code(), "script", "not registered yet: {error}");
    e.scripts().register_dynamic(
        "double",
        1,
        Arc::new(|args: &[Value]| {
            args[0]
                .as_i64()
                .map(|n| json!(n * 2))
                .ok_or_else(|| "double needs a number".to_owned())
        }),
    );
    let c = e.act(c.id, "dynamic", "pat", json!({})).unwrap();
    assert_eq!(c.data["count"], json!(42));
}

#[test]
fn a_host_function_error_is_a_script_error() {
    let (e, c) = setup();
    e.scripts().register_dynamic(
        "double",
        1,
        Arc::new(|_: &[Value]| Err("the doubling service is down".to_owned())),
    );
    let error = fails_cleanly(&e, &c, "dynamic");
    let (_, message) = script_place(&error, "actions.dynamic.run");
    assert!(
        message.contains("the doubling service is down"),
        "{message}"
    );
}

/// Operations do not bound time: copying a list of 5,000 lists is one operation. 30,000 copies
/// stay far inside 200,000 operations but take many seconds; the time limit stops them.
#[test]
fn copying_large_values_over_and_over_is_stopped_by_the_time_limit() {
    let e = engine_with(Limits {
        max_run_time: std::time::Duration::from_millis(100),
        ..Limits::default()
    });
    let c = e.start("sandbox", "create", "pat", json!({})).unwrap();
    let c = e.act(c.id, "copies", "pat", json!({"n": 2})).unwrap();
    assert_eq!(c.data["count"], json!(2));
    let before = snapshot(&e, c.id);
    let error = err(e.act(c.id, "copies", "pat", json!({"n": 30_000})));
    assert_eq!(
        snapshot(&e, c.id),
        before,
        "a stopped script changed something"
    );
    let (_, message) = script_place(&error, "actions.copies.run");
    assert!(message.contains("more than 100 ms"), "{message}");
}

#[test]
fn limits_are_configurable() {
    let (e, c) = setup();
    let c = e.act(c.id, "count", "pat", json!({})).unwrap();
    assert_eq!(c.data["count"], json!(500));

    let strict = engine_with(Limits {
        max_operations: 300,
        ..Limits::default()
    });
    assert_eq!(strict.scripts().limits().max_operations, 300);
    let c = strict.start("sandbox", "create", "pat", json!({})).unwrap();
    let error = fails_cleanly(&strict, &c, "count");
    let (_, message) = script_place(&error, "actions.count.run");
    assert!(message.contains("more than 300 operations"), "{message}");

    let small = engine_with(Limits {
        max_call_levels: 4,
        max_string_size: 64,
        ..Limits::default()
    });
    let c = small.start("sandbox", "create", "pat", json!({})).unwrap();
    let (_, message) = script_place(
        &err(small.act(c.id, "big_string", "pat", json!({}))),
        "actions.big_string.run",
    );
    assert!(message.contains("strings 64 bytes"), "{message}");
    let (_, message) = script_place(
        &err(small.act(c.id, "recurse", "pat", json!({}))),
        "actions.recurse.run",
    );
    assert!(message.contains("more than 4 levels"), "{message}");
}

#[test]
fn a_timer_script_runs_in_the_sandbox_too() {
    let (e, c) = setup();
    let r = e.advance("25h").unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.data["count"], json!(100));
    let h = e.history(c.id, None).unwrap();
    assert_eq!(h.last().unwrap().action, "timer:tick");
    assert_eq!(h.last().unwrap().actor, "system");
}
