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
