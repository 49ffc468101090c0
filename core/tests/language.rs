//! Pieces of the workflow language beyond the basics: guard and check messages that
//! interpolate values, lists of records, conditional timers, and load-time type checks of
//! host function results.
#![allow(clippy::unwrap_used)]
mod support;

use mentorflow::Error;
use serde_json::json;
use support::{engine_for, err, line_of, problems_of};

const CAPACITY: &str = r#"
workflow: capacity
version: 1
settings:
  max_mentees: 1
roles:
  coordinator: { directory: coordinator }
  mentor: {}
fields:
  note: text
checks:
  - when: 'fields.note == () || fields.note.len() <= 5'
    message: "The note has ${fields.note.len()} characters; at most 5 are allowed"
states:
  open: { label: Open }
  assigned: { label: Assigned }
  done: { label: Done, final: true }
actions:
  create: { to: open, by: coordinator }
  assign:
    from: open
    to: assigned
    by: coordinator
    inputs: { mentor: { type: person, required: true } }
    guard:
      - when: |
          let n = open_cases(inputs.mentor, "mentor");
          n < settings.max_mentees
        message: "${person(inputs.mentor).name} already has ${n} open cases; the limit is ${settings.max_mentees}"
    run: assign("mentor", inputs.mentor)
  write:
    from: [open, assigned]
    by: coordinator
    inputs: { text: { type: text, required: true } }
    run: fields.note = inputs.text
  finish: { from: assigned, to: done, by: coordinator }
"#;

/// The first YAML block of the section `heading` of docs/language.md, so that the
/// examples there are run here and cannot drift.
fn doc_yaml(heading: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/language.md");
    let doc = std::fs::read_to_string(path).unwrap();
    let section = doc
        .split_once(&format!("{heading}\n"))
        .unwrap_or_else(|| panic!("no section {heading:?} in docs/language.md"))
        .1;
    let block = section.split_once("```yaml\n").unwrap().1;
    block.split_once("```").unwrap().0.to_owned()
}

#[test]
fn the_documented_guard_message_reads_as_documented() {
    let guard = doc_yaml("### Guard messages");
    let text = CAPACITY.replace(
        &CAPACITY
            [CAPACITY.find("    guard:\n").unwrap()..CAPACITY.find("    run: assign").unwrap()],
        &guard,
    );
    let text = text.replace(
        "  finish: {",
        "  decline: { from: open, by: coordinator }\n  finish: {",
    );
    let (engine, _) = engine_for("capacity.yaml", &text);
    let first = engine
        .start("capacity", "create", "cody", json!({}))
        .unwrap();
    let second = engine
        .start("capacity", "create", "cody", json!({}))
        .unwrap();
    engine
        .act(first.id, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
    let e = err(engine.act(second.id, "assign", "cody", json!({ "mentor": "alice" })));
    assert_eq!(
        e.to_string(),
        "Alice Mentor already has 1 open cases; the limit is 1"
    );
}

#[test]
fn a_guard_message_interpolates_values_from_the_guards_scope() {
    let (engine, _) = engine_for("capacity.yaml", CAPACITY);
    let first = engine
        .start("capacity", "create", "cody", json!({}))
        .unwrap();
    let second = engine
        .start("capacity", "create", "cody", json!({}))
        .unwrap();
    engine
        .act(first.id, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
    let e = err(engine.act(second.id, "assign", "cody", json!({ "mentor": "alice" })));
    match &e {
        Error::GuardRejected { message, rule, .. } => {
            assert_eq!(
                message,
                "Alice Mentor already has 1 open cases; the limit is 1"
            );
            assert_eq!(rule, "guard[0]");
        }
        other => panic!("expected guard_rejected, got {other:?}"),
    }
    // once the first case is closed, the guard passes
    engine.act(first.id, "finish", "cody", json!({})).unwrap();
    engine
        .act(second.id, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
}

#[test]
fn a_check_message_interpolates_the_fields() {
    let (engine, _) = engine_for("capacity.yaml", CAPACITY);
    let case = engine
        .start("capacity", "create", "cody", json!({}))
        .unwrap();
    let e = err(engine.act(case.id, "write", "cody", json!({ "text": "far too long" })));
    assert_eq!(e.code(), "validation");
    assert_eq!(
        e.to_string(),
        "The note has 12 characters; at most 5 are allowed"
    );
}

#[test]
fn a_message_is_checked_when_the_definition_loads() {
    let text = CAPACITY.replace(
        "the limit is ${settings.max_mentees}",
        "the limit is ${settings.max_mentes} (${m})",
    );
    let ps = problems_of("capacity.yaml", &text);
    let msgs: Vec<(usize, &str)> = ps.iter().map(|p| (p.line, p.message.as_str())).collect();
    let line = line_of(&text, "already has ${n}");
    assert_eq!(msgs.len(), 1, "{ps:#?}");
    assert_eq!(msgs[0].0, line);
    assert_eq!(msgs[0].1, "script does not compile: Undefined variable: m");
    let at_m = text.lines().nth(line - 1).unwrap().find("${m}").unwrap() + 3;
    assert_eq!(ps[0].column, at_m, "{ps:#?}");
    let text = CAPACITY.replace(
        "the limit is ${settings.max_mentees}",
        "the limit is ${settings.max_mentes}",
    );
    let ps = problems_of("capacity.yaml", &text);
    assert_eq!(ps.len(), 1, "{ps:#?}");
    assert_eq!(
        ps[0].message,
        "unknown setting `max_mentes`; did you mean `max_mentees`?"
    );
    assert_eq!(ps[0].path, "actions.assign.guard[0].message");
    assert_eq!(ps[0].line, line);
}

// ---- what host functions give ---------------------------------------------------------------

const TYPES: &str = r#"
workflow: types
version: 1
roles:
  owner: {}
fields:
  count: { type: int, default: 0 }
states:
  open: { label: Open }
  done: { label: Done, final: true }
actions:
  create: { to: open, by: owner }
  check:
    from: open
    by: owner
    guard: 'GUARD'
  finish: { from: open, to: done, by: owner }
"#;

fn types_with(guard: &str) -> String {
    TYPES.replace("GUARD", guard)
}

#[test]
fn a_method_a_host_functions_result_lacks_is_a_load_error_at_the_method() {
    for guard in [
        "open_cases(actor.id).len() < 3",
        "let n = open_cases(actor.id); n.len() < 3",
    ] {
        let text = types_with(guard);
        let ps = problems_of("types.yaml", &text);
        assert_eq!(ps.len(), 1, "{guard}: {ps:#?}");
        assert_eq!(
            ps[0].message,
            "`open_cases(…)` gives a whole number (how many cases of this workflow that are not in a final state the person holds a case role in (that role)); a whole number has no `.len()`"
        );
        let line = line_of(&text, guard);
        let column = text.lines().nth(line - 1).unwrap().find(".len").unwrap() + 2;
        assert_eq!((ps[0].line, ps[0].column), (line, column), "{guard}");
    }
}

#[test]
fn methods_the_results_have_pass() {
    for guard in [
        "today().sub_string(0, 4) == \"2026\" || true",
        "people(#{ role: \"mentor\" }).len() >= 0",
        "open_cases(actor.id).to_string() != \"\" && open_cases(actor.id).abs() >= 0",
        "let when = add_span(now, \"2 days\"); when.len() > 0",
    ] {
        let (engine, _) = engine_for("types.yaml", &types_with(guard));
        let case = engine.start("types", "create", "alice", json!({})).unwrap();
        engine.act(case.id, "check", "alice", json!({})).unwrap();
    }
}

#[test]
fn a_missing_method_at_run_time_names_the_type_in_words_and_the_function() {
    let (engine, _) = engine_for("types.yaml", &types_with("person(\"nobody\").len() > 0"));
    let case = engine.start("types", "create", "alice", json!({})).unwrap();
    let e = err(engine.act(case.id, "check", "alice", json!({})));
    let Error::Script { message, place } = &e else {
        panic!("expected a script error, got {e:?}")
    };
    assert_eq!(
        message,
        "nothing (`()`, an empty value) has no `.len()` (`person(…)` gives a map or nothing: the person as a map (`id`, `name`, `email`, `org`, `roles` and their attributes), or `()` when there is no such person)"
    );
    assert_eq!(place.path, "actions.check.guard");

    let (engine, _) = engine_for("types.yaml", &types_with("fields.count.len() > 0"));
    let case = engine.start("types", "create", "alice", json!({})).unwrap();
    let e = err(engine.act(case.id, "check", "alice", json!({})));
    assert_eq!(
        e.to_string().split(": ").last(),
        Some("a whole number has no `.len()`"),
        "{e}"
    );
}
