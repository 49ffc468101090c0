//! Hostile and bad input: scripts that misbehave in every kind of script (guards, checks,
//! templates, state hooks, timers, view filters, export columns), scripts that try to change
//! what they may only read or to reach past the API, and bad values given to `start` and `act`
//! (wrong types, missing and unknown names, oversize text, unicode and control characters,
//! SQL-looking strings, dates out of range, naive times, values nested too deeply).
//!
//! Each one is refused with a clear error — `ScriptError` for scripts, `Validation` for
//! values — or stored verbatim, never a panic, and never a changed case on refusal. The
//! endless loop, recursion and oversize data of an action's `run` are in `scripts.rs`; this
//! suite covers the other kinds of scripts and the values.
#![allow(clippy::unwrap_used)]
mod support;

use mentorflow::{Case, Engine, Error, ManualClock, Person};
use serde_json::{json, Value};
use support::{err, snapshot, t0};

const HOSTILE_TEXT: &str = r#"
workflow: hostile
version: 1
settings:
  limit: 5
roles:
  owner: {}
  mentor: {}
  watcher: { directory: watcher }
fields:
  count: { type: int, default: 0 }
  title: { type: string, max_length: 20 }
  body: { type: text }
  tags: { type: list, of: string }
  meta: { type: map }
  day: { type: date }
  at: { type: time }
  when: { type: datetime }
  score: { type: float }
  flag: { type: bool }
  who: { type: person }
  secret: { type: text, private: true }
templates:
  plain:
    subject: "Count ${fields.count}"
    body: "Hello"
  spin:
    subject: '${ SPIN }'
    body: "x"
  grab:
    subject: "${ assign(\"mentor\", \"alice\") }"
    body: "x"
  huge:
    subject: "${ \"x\".pad(100000000, \"x\") }"
    body: "x"
states:
  open:
    label: Open
    timers:
      - name: spin
        after: 1h
        run: |
          fields.count = 99;
          loop { }
      - name: ok
        after: 2h
        run: fields.count += 1
  spinning_entry:
    label: Spinning on entry
    on_enter: |
      fields.count = 5;
      let i = 0;
      loop { i += 1; }
  closed: { label: Closed, final: true }
checks:
  - when: 'fields.count < 1000 || SPIN > 0'
    message: count is too big
actions:
  create: { to: open, by: owner }
  set:
    from: open
    by: owner
    inputs:
      count: { type: int }
      title: { type: string, max_length: 20 }
      body: { type: text }
      tags: { type: list, of: string }
      meta: { type: map }
      day: { type: date }
      at: { type: time }
      when: { type: datetime }
      score: { type: float }
      flag: { type: bool }
      who: { type: person }
    run: |
      for k in inputs.keys() {
        if inputs[k] != () { fields[k] = inputs[k]; }
      }
  need:
    from: open
    by: owner
    inputs:
      note: { type: text, required: true, min_length: 1 }
    run: fields.body = inputs.note
  guard_spins:
    from: open
    by: owner
    guard:
      - when: 'SPIN > 0'
        message: never
    run: fields.count = 1
  guard_pushes:
    from: open
    by: owner
    guard:
      - when: 'fields.tags.push("guard") == () && case.participants.owner.push("mallory") == () && fields.count == 0'
        message: never
    run: fields.count += 1
  guard_notifies:
    from: open
    by: owner
    guard:
      - when: 'notify(actor.id, "plain") == ()'
        message: never
  template_spins:
    from: open
    by: owner
    run: fields.count = 7; notify(actor.id, "spin")
  template_grabs:
    from: open
    by: owner
    run: fields.count = 7; notify(actor.id, "grab")
  template_huge:
    from: open
    by: owner
    run: fields.count = 7; notify(actor.id, "huge")
  enter_spinning:
    from: open
    to: spinning_entry
    by: owner
    run: fields.count = 3
  check_spins:
    from: open
    by: owner
    run: fields.count = 5000
  pretend:
    from: open
    by: owner
    inputs:
      x: { type: int }
    run: |
      case.state = "closed";
      case.participants.mentor = ["mallory"];
      case.revision = 999;
      actor.roles.push("watcher");
      settings.limit = 1;
      inputs.x = 1;
      fields.count += 1;
  deep_field:
    from: open
    by: owner
    inputs:
      depth: { type: int, required: true }
    run: |
      let m = #{};
      for i in 0..inputs.depth { m = #{ a: m }; }
      fields.meta = m;
  deep_notify:
    from: open
    by: owner
    inputs:
      depth: { type: int, required: true }
    run: |
      let m = #{};
      for i in 0..inputs.depth { m = #{ a: m }; }
      notify(actor.id, "plain", #{ m: m });
  deep_emit:
    from: open
    by: owner
    inputs:
      depth: { type: int, required: true }
    run: |
      let m = [];
      for i in 0..inputs.depth { m = [m]; }
      emit("deep", #{ m: m });
  deep_build:
    from: open
    by: owner
    inputs:
      how: { type: string, required: true }
      depth: { type: int, required: true }
    run: |
      fn wrap(x) { [[[[x]]]] }
      fields.count = 1;
      let n = inputs.depth;
      if inputs.how == "literal" { let m = #{}; for i in 0..n { m = #{ a: m }; } }
      if inputs.how == "index" { let m = #{}; for i in 0..n { m["a"] = m; } }
      if inputs.how == "element" { let a = [[]]; for i in 0..n { a[0] = a; } }
      if inputs.how == "closure" { let m = []; let f = || { m = [m]; }; for i in 0..n { f.call(); } }
      if inputs.how == "function" { let a = []; for i in 0..n { a = wrap(a); } }
      if inputs.how == "field" { for i in 0..n { fields.meta = #{ a: fields.meta }; } }
      if inputs.how == "caught" { try { let m = []; for i in 0..n { m = [m]; } } catch (e) { } }
  whoami:
    from: open
    by: owner
    inputs:
      id: { type: string, required: true }
    run: |
      emit("person", #{ p: person(inputs.id), all: people(#{}), other: people(#{ org: "ch2" }) });
  close: { from: [open, spinning_entry], to: closed, by: owner }
views:
  spinning_view:
    title: Spinning
    viewer: watcher
    filter: 'SPIN > 0'
  writing_view:
    title: Writing
    viewer: watcher
    filter: 'add_note("from a view") == ()'
exports:
  spinning_export:
    columns:
      id: case.id
      slow: 'SPIN'
  writing_export:
    columns:
      id: case.id
      grab: 'assign("mentor", "alice")'
"#;

/// An expression (guards, checks, filters and templates take no statements) that runs far
/// past the operation limit: 600 × 600 closure calls.
fn spin() -> String {
    let list = format!("\"{}\".split(\",\")", vec!["x"; 600].join(","));
    format!("{list}.map(|a| {list}.map(|b| b + a).len()).len()")
}

fn hostile() -> String {
    HOSTILE_TEXT.replace("SPIN", &spin())
}

fn engine() -> Engine {
    let e = Engine::builder()
        .in_memory()
        .workflow_str("hostile.yaml", hostile())
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut people = support::people();
    people.push(Person::new("wanda").org("ch1").role("watcher"));
    e.put_people(&people).unwrap();
    e
}

fn setup() -> (Engine, Case) {
    let e = engine();
    let c = e.start("hostile", "create", "pat", json!({})).unwrap();
    (e, c)
}

/// The script error of a command that must fail and change nothing.
fn refused(e: &Engine, c: &Case, action: &str, inputs: Value) -> Error {
    let before = snapshot(e, c.id);
    let error = err(e.act(c.id, action, "pat", inputs));
    assert_eq!(snapshot(e, c.id), before, "{action} changed something");
    error
}

fn script_error(e: &Error, path: &str, needle: &str) {
    match e {
        Error::Script { place, message } => {
            assert_eq!(place.path, path, "{e}");
            assert_eq!(place.file, "hostile.yaml", "{e}");
            assert!(place.line > 1, "{e}");
            assert!(message.contains(needle), "{needle:?} not in {message:?}");
        }
        other => panic!("expected a script error at {path}, got {other:?}"),
    }
}

// ---- scripts ------------------------------------------------------------------------------------

#[test]
fn every_kind_of_script_is_stopped_by_the_operation_limit() {
    let (e, c) = setup();
    script_error(
        &refused(&e, &c, "guard_spins", json!({})),
        "actions.guard_spins.guard[0].when",
        "ran too long",
    );
    script_error(
        &refused(&e, &c, "template_spins", json!({})),
        "templates.spin.subject",
        "ran too long",
    );
    script_error(
        &refused(&e, &c, "enter_spinning", json!({})),
        "states.spinning_entry.on_enter",
        "ran too long",
    );
    script_error(
        &refused(&e, &c, "check_spins", json!({})),
        "checks[0].when",
        "ran too long",
    );
    let v = e.view("spinning_view", "wanda").unwrap_err();
    script_error(&v, "views.spinning_view.filter", "ran too long");
    let x = e.export("spinning_export", None).unwrap_err();
    script_error(&x, "exports.spinning_export.columns.slow", "ran too long");
}

#[test]
fn a_spinning_timer_fails_alone_and_is_reported() {
    let (e, c) = setup();
    let before = e.get(c.id, None).unwrap();
    let report = e.advance("3h").unwrap();
    assert_eq!(report.fired, 1, "{report:?}");
    // the firing and its automatic retries (an incident), each stopped
    let attempts = mentorflow::DEFAULT_INCIDENT_MAX_ATTEMPTS as usize;
    assert_eq!(report.failed.len(), attempts, "{report:?}");
    for f in &report.failed {
        assert!(f.contains("`spin`"), "{report:?}");
        assert!(f.contains("ran too long"), "{report:?}");
    }
    let after = e.get(c.id, None).unwrap();
    // the failing timer's `fields.count = 99` was rolled back; the other timer fired
    assert_eq!(after.data["count"], json!(1));
    assert_eq!(after.revision, before.revision + 1);
    assert!(e.timers(c.id).unwrap().is_empty(), "both consumed");
    let r = e.advance("1 day").unwrap();
    assert_eq!(
        (r.fired, r.failed.len()),
        (0, 0),
        "not retried after the limit"
    );
    assert_eq!(
        e.incidents(&Default::default()).unwrap().len(),
        1,
        "left open"
    );
    support::assert_folds(&e, c.id);
}

#[test]
fn oversize_template_output_is_stopped() {
    let (e, c) = setup();
    script_error(
        &refused(&e, &c, "template_huge", json!({})),
        "templates.huge.subject",
        "exceeds the sandbox limit",
    );
}

#[test]
fn read_only_scripts_cannot_change_anything() {
    let (e, c) = setup();
    // a template, a guard, a view filter and an export column that try to write
    script_error(
        &refused(&e, &c, "template_grabs", json!({})),
        "templates.grab.subject",
        "cannot be used in a guard",
    );
    script_error(
        &refused(&e, &c, "guard_notifies", json!({})),
        "actions.guard_notifies.guard[0].when",
        "cannot be used in a guard",
    );
    let before = snapshot(&e, c.id);
    script_error(
        &e.view("writing_view", "wanda").unwrap_err(),
        "views.writing_view.filter",
        "cannot be used",
    );
    script_error(
        &e.export("writing_export", None).unwrap_err(),
        "exports.writing_export.columns.grab",
        "cannot be used",
    );
    assert_eq!(snapshot(&e, c.id), before);
    // a guard that mutates its copies passes, but the case keeps its own values
    let c = e.act(c.id, "set", "pat", json!({"tags": ["a"]})).unwrap();
    let done = e.act(c.id, "guard_pushes", "pat", json!({})).unwrap();
    assert_eq!(
        done.data["tags"],
        json!(["a"]),
        "the guard's push did not reach the case"
    );
    assert_eq!(done.participants["owner"], ["pat"]);
    assert_eq!(done.data["count"], json!(1));
    support::assert_folds(&e, c.id);
}

#[test]
fn an_assignment_in_a_guard_is_refused_when_the_definition_loads() {
    let yaml = hostile().replace("'notify(actor.id, \"plain\") == ()'", "'fields.count = 5'");
    let ps = support::problems_of("hostile.yaml", &yaml);
    assert!(
        ps.iter()
            .any(|p| p.path.starts_with("actions.guard_notifies.guard")),
        "{ps:#?}"
    );
}

#[test]
fn effects_change_fields_only() {
    let (e, c) = setup();
    let after = e.act(c.id, "pretend", "pat", json!({})).unwrap();
    assert_eq!(after.state, "open");
    assert_eq!(after.revision, c.revision + 1);
    assert_eq!(after.data["count"], json!(1));
    assert!(!after.participants.contains_key("mentor"));
    // the actor's pushed role granted nothing: the watcher view stays out of reach
    assert!(e.view("spinning_view", "pat").unwrap().is_empty());
    support::assert_folds(&e, c.id);
    let h = e.history(c.id, None).unwrap();
    assert_eq!(
        h.last().unwrap().effects,
        [mentorflow::Effect::Set {
            field: "count".into(),
            value: json!(1)
        }]
    );
}

#[test]
fn values_nested_too_deeply_are_refused_wherever_they_come_from() {
    let (e, c) = setup();
    // from a script: a field, notification data, signal data
    let c = e
        .act(c.id, "deep_field", "pat", json!({"depth": 20}))
        .unwrap();
    assert_eq!(e.get(c.id, None).unwrap().revision, c.revision, "readable");
    script_error(
        &refused(&e, &c, "deep_field", json!({"depth": 40})),
        "actions.deep_field.run",
        "levels deep",
    );
    let error = refused(&e, &c, "deep_field", json!({"depth": 33}));
    assert_eq!(error.code(), "validation", "{error}");
    assert!(
        error.to_string().contains("more than 32 levels deep"),
        "{error}"
    );
    script_error(
        &refused(&e, &c, "deep_notify", json!({"depth": 60})),
        "actions.deep_notify.run",
        "levels deep",
    );
    script_error(
        &refused(&e, &c, "deep_emit", json!({"depth": 60})),
        "actions.deep_emit.run",
        "levels deep",
    );
    e.act(c.id, "deep_emit", "pat", json!({"depth": 20}))
        .unwrap();
    assert_eq!(e.signals(None).unwrap().len(), 1, "readable");
    // from the caller: an input, start data, a person's attribute, an org setting
    let mut deep = json!("leaf");
    for _ in 0..200 {
        deep = json!({ "a": deep });
    }
    let before = snapshot(&e, c.id);
    let error = err(e.act(c.id, "set", "pat", json!({"meta": deep.clone()})));
    assert_eq!(error.code(), "validation");
    assert!(error.to_string().contains("levels deep"), "{error}");
    let error = err(e.start("hostile", "create", "pat", json!({"meta": deep.clone()})));
    assert_eq!(error.code(), "validation");
    let error = err(e.put_person(&Person::new("deep").org("ch1").attr("x", deep.clone())));
    assert_eq!(error.code(), "validation");
    assert!(e.person("deep").is_err());
    assert_eq!(snapshot(&e, c.id), before);
}

/// rhai clones, drops and sizes values recursively, so a value nested thousands of levels deep
/// would exhaust the thread stack and abort the process (these ran out of a test thread's 2 MB
/// at under 1,000 levels in a debug build). Scripts are stopped at 64 levels instead.
#[test]
fn scripts_cannot_nest_values_deep_enough_to_exhaust_the_stack() {
    let (e, c) = setup();
    for how in [
        "literal", "index", "element", "closure", "function", "field", "caught",
    ] {
        let error = refused(&e, &c, "deep_build", json!({"how": how, "depth": 20_000}));
        script_error(&error, "actions.deep_build.run", "more than 64 levels deep");
    }
    // deeper than a stored value may be is fine inside a script, as long as it is not stored
    let c = e
        .act(
            c.id,
            "deep_build",
            "pat",
            json!({"how": "literal", "depth": 50}),
        )
        .unwrap();
    assert_eq!(c.data["count"], json!(1));
    // `this` is read without passing the check, so it is refused when the script compiles
    let text = hostile().replace(
        "fn wrap(x) { [[[[x]]]] }",
        "fn wrap(x) { this = [this]; x }",
    );
    let error = Engine::builder()
        .in_memory()
        .workflow_str("hostile.yaml", text)
        .build()
        .expect_err("`this` is refused");
    let message = error.to_string();
    assert!(message.contains("hostile.yaml:"), "{message}");
    assert!(
        message.contains("`this` is not available in workflow scripts"),
        "{message}"
    );
}

#[test]
fn scripts_see_the_directory_as_the_api_shows_it_and_nothing_else() {
    let (e, c) = setup();
    e.put_person(
        &Person::new("olga")
            .org("ch2")
            .role("mentor")
            .attr("classification", "active"),
    )
    .unwrap();
    e.act(c.id, "whoami", "pat", json!({"id": "alice"}))
        .unwrap();
    let s = e.signals(None).unwrap().pop().unwrap();
    // person(): exactly the fields the API gives for that person
    let api = e.person("alice").unwrap().to_script_map();
    assert_eq!(s.data["p"], Value::Object(api));
    // people(): the case's organisation by default
    let all: Vec<&str> = s.data["all"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    let api: Vec<String> = e
        .people(Some("ch1"))
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(all, api);
    // naming another organisation is the host-level view `Engine::people(Some(org))` gives
    let other: Vec<&str> = s.data["other"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(other, ["olga", "zed"]);
    // an unknown person is (), not an error and not a guess
    e.act(c.id, "whoami", "pat", json!({"id": "nobody' OR '1'='1"}))
        .unwrap();
    let s = e.signals(None).unwrap().pop().unwrap();
    assert_eq!(s.data["p"], Value::Null);
}

#[test]
fn no_script_function_reaches_cases_the_outbox_files_or_the_database() {
    let attempts = [
        "let c = cases()",
        "let c = case_by_id(1)",
        "let h = history(1)",
        "let n = notifications()",
        "let q = sql(\"SELECT * FROM cases\")",
        "let f = open(\"/etc/passwd\")",
        "let f = read_file(\"/etc/passwd\")",
        "let t = timestamp()",
        "let x = system(\"ls\")",
        "let x = env(\"HOME\")",
    ];
    for attempt in attempts {
        let yaml = hostile().replace(
            "run: fields.body = inputs.note",
            &format!("run: '{attempt}; fields.body = inputs.note'"),
        );
        let e = Engine::builder()
            .in_memory()
            .workflow_str("hostile.yaml", yaml)
            .clock(ManualClock::at(t0()))
            .build();
        match e {
            Err(Error::Definition { problems }) => assert!(!problems.is_empty()),
            Err(other) => panic!("{attempt}: {other}"),
            Ok(e) => {
                e.put_people(&support::people()).unwrap();
                let c = e.start("hostile", "create", "pat", json!({})).unwrap();
                let error = refused(&e, &c, "need", json!({"note": "x"}));
                script_error(&error, "actions.need.run", "there is no function");
            }
        }
    }
    for attempt in ["import \"fs\" as fs;", "eval(\"1\");"] {
        let yaml = hostile().replace(
            "run: fields.body = inputs.note",
            &format!("run: '{attempt} fields.body = inputs.note'"),
        );
        let r = Engine::builder()
            .in_memory()
            .workflow_str("hostile.yaml", yaml)
            .build();
        assert!(matches!(r, Err(Error::Definition { .. })), "{attempt}");
    }
}

// ---- values -------------------------------------------------------------------------------------

/// Run `set` with one input and expect a validation error naming it.
fn invalid(e: &Engine, c: &Case, input: &str, value: Value, needle: &str) {
    let before = snapshot(e, c.id);
    let error = err(e.act(c.id, "set", "pat", json!({ input: value.clone() })));
    match &error {
        Error::Validation { field, message, .. } => {
            assert_eq!(
                field.as_deref(),
                Some(format!("inputs.{input}").as_str()),
                "{error}"
            );
            assert!(
                message.contains(needle),
                "{input} = {value}: {needle:?} not in {message:?}"
            );
        }
        other => panic!("{input} = {value}: expected a validation error, got {other:?}"),
    }
    assert_eq!(
        snapshot(e, c.id),
        before,
        "{input} = {value} changed the case"
    );
}

/// Run `set` with one input and expect it stored exactly as normalised.
fn stored(e: &Engine, c: &Case, input: &str, value: Value, want: Value) {
    let after = e
        .act(c.id, "set", "pat", json!({ input: value.clone() }))
        .unwrap_or_else(|err| panic!("{input} = {value}: {err}"));
    assert_eq!(after.data[input], want, "{input} = {value}");
    assert_eq!(e.get(c.id, None).unwrap().data[input], want, "read back");
    let h = e.history(c.id, None).unwrap();
    assert_eq!(h.last().unwrap().inputs[input], want, "in the history");
}

#[test]
fn wrong_types_are_validation_errors() {
    let (e, c) = setup();
    invalid(&e, &c, "count", json!("3"), "whole number");
    invalid(&e, &c, "count", json!(2.5), "whole number");
    invalid(&e, &c, "count", json!(true), "whole number");
    invalid(&e, &c, "count", json!(1e300), "whole number");
    invalid(&e, &c, "title", json!(42), "must be a string");
    invalid(&e, &c, "title", json!(["a"]), "must be a string");
    invalid(&e, &c, "body", json!({"a": 1}), "must be text");
    invalid(&e, &c, "tags", json!("a,b"), "must be a list");
    invalid(&e, &c, "tags", json!([1, 2]), "item 1");
    invalid(&e, &c, "tags", json!(["a", null]), "item 2 is empty");
    invalid(&e, &c, "meta", json!([1]), "must be a map");
    invalid(&e, &c, "flag", json!("true"), "true or false");
    invalid(&e, &c, "flag", json!(1), "true or false");
    invalid(&e, &c, "score", json!("1.5"), "must be a number");
    invalid(&e, &c, "who", json!("nobody"), "no person `nobody`");
    invalid(&e, &c, "who", json!(""), "person id");
    invalid(&e, &c, "who", json!(7), "must be a person");
}

#[test]
fn missing_and_unknown_names_are_validation_errors() {
    let (e, c) = setup();
    let before = snapshot(&e, c.id);
    let m = err(e.act(c.id, "need", "pat", json!({}))).to_string();
    assert!(m.contains("`note`") && m.contains("required"), "{m}");
    // a text of nothing but spaces is as good as missing
    for blank in ["", "   ", "\t\n"] {
        let m = err(e.act(c.id, "need", "pat", json!({ "note": blank }))).to_string();
        assert!(m.contains("`note`") && m.contains("required"), "{m}");
    }
    let m = err(e.act(c.id, "need", "pat", json!({"note": "x", "nope": 1}))).to_string();
    assert!(m.contains("unknown input `nope`"), "{m}");
    let m = err(e.act(c.id, "close", "pat", json!({"anything": 1}))).to_string();
    assert!(m.contains("are not taken here"), "{m}");
    let m = err(e.act(c.id, "need", "pat", json!(["note"]))).to_string();
    assert!(m.contains("must be a map"), "{m}");
    let m = err(e.act(c.id, "need", "pat", json!("note"))).to_string();
    assert!(m.contains("must be a map"), "{m}");
    let m = err(e.act(c.id, "no_such_action", "pat", json!({}))).to_string();
    assert!(m.contains("no_such_action"), "{m}");
    let m = err(e.act(c.id + 1000, "need", "pat", json!({"note": "x"}))).to_string();
    assert!(m.contains("not found"), "{m}");
    let m = err(e.act(c.id, "need", "nobody", json!({"note": "x"}))).to_string();
    assert!(m.contains("nobody"), "{m}");
    assert_eq!(
        err(e.act(c.id, "need", "system", json!({"note": "x"}))).code(),
        "not_permitted"
    );
    let m = err(e.start("hostile", "create", "pat", json!({"nope": 1}))).to_string();
    assert!(m.contains("unknown field `nope`"), "{m}");
    let m = err(e.start("hostile", "create", "pat", json!([1]))).to_string();
    assert!(m.contains("must be a map"), "{m}");
    assert_eq!(snapshot(&e, c.id), before);
    assert_eq!(e.cases(&Default::default()).unwrap().len(), 1);
}

#[test]
fn a_blank_optional_text_counts_as_not_given() {
    let (e, c) = setup();
    let c = e
        .act(c.id, "set", "pat", json!({"title": "  ", "body": ""}))
        .unwrap();
    assert!(
        !c.data.contains_key("title") && !c.data.contains_key("body"),
        "{:?}",
        c.data
    );
    let h = e.history(c.id, None).unwrap();
    assert!(h.last().unwrap().inputs.is_empty());
}

#[test]
fn oversize_text_is_refused_at_its_limit_and_stored_verbatim_below_it() {
    let (e, c) = setup();
    stored(
        &e,
        &c,
        "title",
        json!("x".repeat(20)),
        json!("x".repeat(20)),
    );
    invalid(&e, &c, "title", json!("x".repeat(21)), "at most 20");
    // limits count characters, not bytes
    stored(
        &e,
        &c,
        "title",
        json!("é".repeat(20)),
        json!("é".repeat(20)),
    );
    stored(
        &e,
        &c,
        "title",
        json!("🦀".repeat(20)),
        json!("🦀".repeat(20)),
    );
    invalid(&e, &c, "title", json!("🦀".repeat(21)), "21 characters");
    // a field without a limit keeps a long text exactly, and the case still moves
    let big: String = (0..400_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let long = big[..200_000].to_owned();
    stored(&e, &c, "body", json!(long.clone()), json!(long.clone()));
    let c = e.act(c.id, "pretend", "pat", json!({})).unwrap();
    assert_eq!(c.data["body"], json!(long));
    // more than a script may hold is refused up front, with the limit named
    let too_big = |error: Error, what: &str| {
        assert_eq!(error.code(), "validation", "{error}");
        let m = error.to_string();
        assert!(m.contains(&format!("the {what} would hold")), "{m}");
        assert!(m.contains("Limits::max_string_size"), "{m}");
    };
    let before = snapshot(&e, c.id);
    too_big(
        err(e.act(c.id, "set", "pat", json!({"body": big.clone()}))),
        "inputs",
    );
    too_big(
        err(e.start("hostile", "create", "pat", json!({"body": big.repeat(3)}))),
        "fields",
    );
    // the limit is on all the case's text together, as scripts count it
    let half = big[..150_000].to_owned();
    too_big(
        err(e.start(
            "hostile",
            "create",
            "pat",
            json!({"body": half.clone(), "secret": half}),
        )),
        "fields",
    );
    too_big(
        err(e.start(
            "hostile",
            "create",
            "pat",
            json!({"tags": vec![&big[..1000]; 300]}),
        )),
        "fields",
    );
    assert_eq!(snapshot(&e, c.id), before);
    assert_eq!(e.cases(&Default::default()).unwrap().len(), 1);
}

#[test]
fn unicode_is_stored_verbatim_and_control_characters_are_refused() {
    let (e, c) = setup();
    for s in [
        "Zoë Ångström",
        "مرحبا بالعالم",
        "👩🏽‍💻 + 🇫🇷",
        "e\u{301} (combining)",
        "zero\u{200b}width",
        "\u{feff}bom",
        "tab\there",
    ] {
        stored(&e, &c, "title", json!(s), json!(s));
    }
    stored(
        &e,
        &c,
        "body",
        json!("two\nlines\r\n"),
        json!("two\nlines\r\n"),
    );
    for (input, bad) in [
        ("title", "nul\u{0}"),
        ("title", "bell\u{7}"),
        ("title", "line\nbreak"),
        ("title", "esc\u{1b}[31m"),
        ("body", "nul\u{0}"),
        ("body", "esc\u{1b}[31m"),
        ("tags", "del\u{7f}"),
    ] {
        let value = if input == "tags" {
            json!([bad])
        } else {
            json!(bad)
        };
        invalid(&e, &c, input, value, "control characters");
    }
}

#[test]
fn sql_looking_strings_are_plain_data() {
    let (e, c) = setup();
    let nasty = "x'); DROP TABLE cases; --";
    stored(
        &e,
        &c,
        "title",
        json!("'; DROP TABLE x;--"),
        json!("'; DROP TABLE x;--"),
    );
    stored(
        &e,
        &c,
        "tags",
        json!([nasty, "\" OR 1=1 --"]),
        json!([nasty, "\" OR 1=1 --"]),
    );
    stored(
        &e,
        &c,
        "meta",
        json!({ nasty: nasty }),
        json!({ nasty: nasty }),
    );
    // as ids: a person, an organisation, a role
    let p = Person::new(nasty).org("o'rg; --").role("watcher' --");
    e.put_person(&p).unwrap();
    assert_eq!(e.person(nasty).unwrap(), p);
    stored(&e, &c, "who", json!(nasty), json!(nasty));
    let mine = e.start("hostile", "create", nasty, json!({})).unwrap();
    assert_eq!(mine.org, "o'rg; --");
    assert_eq!(e.get(mine.id, Some(nasty)).unwrap().id, mine.id);
    assert_eq!(e.people(Some("o'rg; --")).unwrap(), [p]);
    assert_eq!(err(e.get(c.id, Some(nasty))).code(), "not_found");
    // as names of views and exports
    for name in ["spinning_view' --", "x; DROP TABLE cases"] {
        assert_eq!(err(e.view(name, "wanda")).code(), "not_found");
        assert_eq!(err(e.export(name, None)).code(), "not_found");
    }
    assert_eq!(
        e.cases(&Default::default()).unwrap().len(),
        2,
        "nothing dropped"
    );
}

#[test]
fn dates_and_times_out_of_range_or_naive_are_refused() {
    let (e, c) = setup();
    for bad in [
        "2026-13-01",
        "2026-02-29",
        "2026-11-31",
        "20261120",
        "11/20/2026",
        "2026-11-20T10:00:00Z",
        "+275760-01-01",
        "",
    ] {
        invalid(&e, &c, "day", json!(bad), "YYYY-MM-DD");
    }
    for bad in ["-0001-01-01", "0000-12-31", "+10000-01-01"] {
        invalid(
            &e,
            &c,
            "day",
            json!(bad),
            "between 0001-01-01 and 9999-12-31",
        );
    }
    stored(&e, &c, "day", json!("2028-02-29"), json!("2028-02-29"));
    stored(&e, &c, "day", json!("9999-12-31"), json!("9999-12-31"));
    stored(&e, &c, "day", json!("0001-01-01"), json!("0001-01-01"));
    for bad in ["24:00", "10:60", "9h30", "10:00 PM", "10"] {
        invalid(&e, &c, "at", json!(bad), "HH:MM");
    }
    stored(&e, &c, "at", json!("23:59:59"), json!("23:59:59"));
    invalid(&e, &c, "when", json!("2026-11-20T10:00:00"), "no time zone");
    invalid(&e, &c, "when", json!("2026-11-20 10:00:00"), "no time zone");
    invalid(&e, &c, "when", json!("2026-11-20"), "time zone");
    invalid(&e, &c, "when", json!("2026-11-20T25:00:00Z"), "time zone");
    invalid(
        &e,
        &c,
        "when",
        json!("0000-06-01T00:00:00Z"),
        "between the years",
    );
    invalid(
        &e,
        &c,
        "when",
        json!("0001-01-01T00:00:00+01:00"),
        "between the years",
    );
    stored(
        &e,
        &c,
        "when",
        json!("2026-11-20T10:00:00+05:30"),
        json!("2026-11-20T04:30:00Z"),
    );
    stored(
        &e,
        &c,
        "when",
        json!("9999-12-31T23:59:59Z"),
        json!("9999-12-31T23:59:59Z"),
    );
}

#[test]
fn dates_at_the_edges_of_the_calendar_drive_timers_without_panicking() {
    // company_initiative's `mission_end` timer is due the day after the engagement's `end`
    let e = Engine::builder()
        .in_memory()
        .workflows_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../workflows"))
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap();
    e.put_people(&[
        Person::new("vic").org("acme"),
        Person::new("coco").org("acme").role("coordinator"),
    ])
    .unwrap();
    for (start, end) in [("0001-01-01", "9999-12-31"), ("2026-12-01", "9999-12-31")] {
        let c = e
            .start("company_initiative", "register", "vic", json!({}))
            .unwrap();
        e.act(c.id, "post_message", "vic", json!({"text": "Hello"}))
            .unwrap();
        e.act(c.id, "validate", "coco", json!({})).unwrap();
        let c = e
            .act(
                c.id,
                "enter_engagement",
                "vic",
                json!({"mentee": "Mo", "start": start, "end": end}),
            )
            .unwrap();
        assert_eq!(c.state, "in_progress");
        let due: Vec<String> = e
            .timers(c.id)
            .unwrap()
            .iter()
            .filter(|t| t.name == "mission_end")
            .map(|t| t.due_at.to_rfc3339())
            .collect();
        assert_eq!(due.len(), 1, "{due:?}");
        assert!(due[0].contains("10000-01-01"), "{due:?}");
        e.advance("400 days").unwrap();
        assert_eq!(e.get(c.id, None).unwrap().state, "in_progress");
    }
}
