//! Loading definitions: one file, a folder or text, and static validation that reports every
//! problem at once with file, line and column.
#![allow(clippy::unwrap_used)]
mod support;

use std::path::PathBuf;

use mentorflow::definition::{load_dir, load_file, load_str};
use mentorflow::script::Scripts;
use mentorflow::{Engine, Error, Limits, Problem};
use support::{line_of, problems_of};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

fn scripts() -> Scripts {
    Scripts::new(Limits::default())
}

fn problems(r: mentorflow::Result<impl std::fmt::Debug>) -> Vec<Problem> {
    match r {
        Err(Error::Definition { problems }) => problems,
        other => panic!("expected a definition error, got {other:?}"),
    }
}

/// The one problem whose message contains `needle`.
fn find<'a>(ps: &'a [Problem], needle: &str) -> &'a Problem {
    ps.iter()
        .find(|p| p.message.contains(needle))
        .unwrap_or_else(|| panic!("no problem mentions {needle:?}: {ps:#?}"))
}

/// The valid base workflow, to break in one place per test.
fn base() -> String {
    fixture_text("valid-hello.yaml")
}

/// `base()` with `from` replaced by `to` (which must occur exactly once).
fn base_with(from: &str, to: &str) -> String {
    let b = base();
    assert_eq!(b.matches(from).count(), 1, "{from:?} must occur once");
    b.replace(from, to)
}

#[test]
fn loads_one_file() {
    let d = load_file(&fixture("valid-hello.yaml"), &scripts()).unwrap();
    assert_eq!(d.id, "hello");
    assert_eq!(d.version, 1);
    assert_eq!(d.file, fixture("valid-hello.yaml").display().to_string());
    assert_eq!(
        d.states.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
        ["open", "done"]
    );
    assert!(d.is_final("done"));
    assert_eq!(d.default_start().unwrap().id, "ask");
    assert_eq!(d.state("open").unwrap().timers[0].name, "nudge");
    assert_eq!(d.hash.len(), 64);
}

#[test]
fn loads_a_folder_of_files() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["valid-hello.yaml", "valid-goodbye.yaml"] {
        std::fs::copy(fixture(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not a workflow").unwrap();
    let defs = load_dir(dir.path(), &scripts()).unwrap();
    let ids: Vec<(&str, u32)> = defs.iter().map(|d| (d.id.as_str(), d.version)).collect();
    assert_eq!(ids, [("goodbye", 3), ("hello", 1)]);

    let e = Engine::builder()
        .in_memory()
        .workflows_dir(dir.path())
        .build()
        .unwrap();
    let mut names: Vec<String> = e.definitions().iter().map(|d| d.id.clone()).collect();
    names.sort();
    assert_eq!(names, ["goodbye", "hello"]);
    assert_eq!(e.definition("goodbye").unwrap().version, 3);
}

#[test]
fn loads_text_and_names_it_in_messages() {
    let d = load_str(&base(), "inline.yaml", &scripts()).unwrap();
    assert_eq!(d.file, "inline.yaml");
    let ps = problems(load_str(
        &base_with("to: done", "to: nowhere"),
        "inline.yaml",
        &scripts(),
    ));
    assert!(ps.iter().all(|p| p.file == "inline.yaml"), "{ps:#?}");
}

#[test]
fn unknown_state_in_to_names_the_line_and_the_state() {
    let path = fixture("invalid-unknown-state.yaml");
    let text = fixture_text("invalid-unknown-state.yaml");
    let ps = problems(load_file(&path, &scripts()));
    let p = find(&ps, "nowhere");
    assert_eq!(p.file, path.display().to_string());
    assert_eq!(p.line, line_of(&text, "to: nowhere"), "{p}");
    assert_eq!(p.column, 9, "points at the value: {p}");
    assert_eq!(p.path, "actions.wander.to");
    let shown = Error::Definition {
        problems: ps.clone(),
    }
    .to_string();
    assert!(
        shown.contains(&format!("invalid-unknown-state.yaml:{}:", p.line)),
        "{shown}"
    );
    assert!(shown.contains("nowhere"), "{shown}");
}

#[test]
fn unknown_state_in_from_is_reported() {
    let text = base_with("from: open", "from: opn");
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "unknown state `opn`");
    assert_eq!(p.line, line_of(&text, "from: opn"));
    assert!(p.message.contains("did you mean `open`"), "{p}");
}

#[test]
fn unknown_role_in_by_and_in_viewer() {
    let text =
        base_with("by: helper", "by: helpr").replace("viewer: asker", "viewer: [asker, reader]");
    let ps = problems_of("t.yaml", &text);
    let by = find(&ps, "unknown role `helpr`");
    assert_eq!(by.line, line_of(&text, "by: helpr"));
    assert!(by.message.contains("did you mean `helper`"), "{by}");
    let viewer = find(&ps, "unknown role `reader`");
    assert_eq!(viewer.line, line_of(&text, "viewer: [asker, reader]"));
    assert_eq!(viewer.path, "views.mine.viewer");
}

#[test]
fn unknown_field_setting_and_input_in_scripts() {
    let text = base_with(
        "fields.answer = inputs.text;",
        "fields.answr = inputs.txt + settings.greting;",
    );
    let ps = problems_of("t.yaml", &text);
    let line = line_of(&text, "fields.answr");
    let f = find(&ps, "unknown field `answr`");
    // points at the name after `fields.`, inside the `run: |` block (indented by 6)
    assert_eq!((f.line, f.column), (line, 14), "{f}");
    assert!(f.message.contains("did you mean `answer`"), "{f}");
    let i = find(&ps, "unknown input `txt`");
    assert_eq!(i.line, line);
    assert!(i.column > f.column, "{i}");
    let s = find(&ps, "unknown setting `greting`");
    assert_eq!(s.line, line);
    assert!(s.column > i.column, "{s}");
}

#[test]
fn unknown_field_in_a_template_is_reported() {
    let text = base_with("Answered: ${fields.topic}", "Answered: ${fields.topik}");
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "unknown field `topik`");
    assert_eq!(p.line, line_of(&text, "fields.topik"));
}

#[test]
fn unknown_template_in_notify() {
    let text = base_with(
        "notify(case.asker, \"answered\");",
        "notify(case.asker, \"answred\");",
    );
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "unknown template `answred`");
    assert_eq!(p.line, line_of(&text, "\"answred\""));
    assert!(p.message.contains("did you mean `answered`"), "{p}");
}

#[test]
fn unknown_action_in_suggest_and_in_a_timer() {
    let text = base()
        .replace(
            "    run: |\n      fields.answer",
            "    guard:\n      - when: inputs.text != \"\"\n        message: Say something\n        suggest: [answr]\n    run: |\n      fields.answer",
        )
        .replace(
            "        run: notify(case.asker, \"answered\")",
            "        action: chase",
        );
    let ps = problems_of("t.yaml", &text);
    let s = find(&ps, "unknown action `answr`");
    assert_eq!(s.line, line_of(&text, "suggest: [answr]"));
    assert!(s.message.contains("did you mean `answer`"), "{s}");
    let t = find(&ps, "unknown action `chase`");
    assert_eq!(t.line, line_of(&text, "action: chase"));
}

#[test]
fn a_timer_action_must_start_from_the_timer_state() {
    let text = base()
        .replace(
            "        run: notify(case.asker, \"answered\")",
            "        action: close",
        )
        .replace("views:", "  close: { from: done, by: system }\nviews:");
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "does not start from state `open`");
    assert_eq!(p.line, line_of(&text, "action: close"));
}

#[test]
fn duplicate_keys_are_reported_with_both_lines() {
    let text = base_with(
        "  done: { label: Done, final: true }",
        "  done: { label: Done, final: true }\n  open: { label: Again }",
    );
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "duplicate key `open`");
    assert_eq!(p.line, line_of(&text, "open: { label: Again }"));
    assert!(
        p.message
            .contains(&format!("first at line {}", line_of(&text, "  open:"))),
        "{p}"
    );
}

#[test]
fn unreachable_state_and_dead_end_state() {
    let text = base_with(
        "  done: { label: Done, final: true }",
        "  done: { label: Done, final: true }\n  limbo: { label: Limbo }",
    );
    let ps = problems_of("t.yaml", &text);
    let line = line_of(&text, "limbo:");
    let unreachable = find(&ps, "state `limbo` cannot be reached");
    assert_eq!((unreachable.line, unreachable.column), (line, 3));
    let dead_end = find(
        &ps,
        "state `limbo` is not final but no action leads out of it",
    );
    assert_eq!(dead_end.line, line);
    assert_eq!(ps.len(), 2, "{ps:#?}");
}

#[test]
fn a_workflow_needs_a_start_action() {
    let text = base_with("  ask: { to: open, by: asker }\n", "");
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "no start action");
    // the `actions` block (its first entry)
    let line = line_of(&text, "actions:");
    assert!(p.line == line || p.line == line + 1, "{p}");
}

#[test]
fn a_script_that_does_not_compile_points_into_the_run_block() {
    let path = fixture("invalid-script.yaml");
    let text = fixture_text("invalid-script.yaml");
    let ps = problems(load_file(&path, &scripts()));
    assert_eq!(ps.len(), 1, "{ps:#?}");
    let p = &ps[0];
    assert!(p.message.starts_with("script does not compile"), "{p}");
    assert_eq!(p.line, line_of(&text, "n +* 2"), "{p}");
    assert!(p.column > 7, "the column is inside the script line: {p}");
    assert_eq!(p.path, "actions.send.run");
}

#[test]
fn an_undeclared_variable_is_a_load_error() {
    let text = base_with(
        "fields.answer = inputs.text;",
        "fields.answer = answer_text;",
    );
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "answer_text");
    assert!(p.message.contains("script does not compile"), "{p}");
    assert_eq!(p.line, line_of(&text, "answer_text"));
}

#[test]
fn a_timer_on_a_final_state() {
    let text = base_with(
        "  done: { label: Done, final: true }",
        "  done:\n    label: Done\n    final: true\n    timers:\n      - after: 1 day\n        run: notify(case.asker, \"answered\")",
    );
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "final state `done` cannot have timers");
    assert_eq!(p.line, line_of(&text, "- after: 1 day"));
}

#[test]
fn a_bad_duration_names_its_line() {
    let text = base_with("after: 24h", "after: 5 bizness days");
    let ps = problems_of("t.yaml", &text);
    assert_eq!(ps.len(), 1, "{ps:#?}");
    let p = &ps[0];
    assert!(p.message.contains("5 bizness days"), "{p}");
    assert!(p.message.contains("unknown unit"), "{p}");
    assert_eq!(p.line, line_of(&text, "after: 5 bizness days"));
    assert_eq!(p.column, 16);
}

#[test]
fn an_unknown_top_level_key_suggests_the_right_one() {
    let text = base_with("title: Hello", "titel: Hello");
    let ps = problems_of("t.yaml", &text);
    let p = find(&ps, "unknown key `titel`");
    assert!(p.message.contains("did you mean `title`"), "{p}");
    assert_eq!((p.line, p.column), (line_of(&text, "titel"), 1));
}

#[test]
fn wrong_types_are_reported() {
    let text = base_with(
        "  done: { label: Done, final: true }",
        "  done: { label: Done, final: maybe }",
    )
    .replace("version: 1", "version: one");
    let ps = problems_of("t.yaml", &text);
    let f = find(&ps, "`final` must be true or false");
    assert!(f.message.contains("got the text \"maybe\""), "{f}");
    assert_eq!(f.line, line_of(&text, "final: maybe"));
    let v = find(&ps, "`version` must be a whole number");
    assert_eq!(v.line, line_of(&text, "version: one"));
}

#[test]
fn every_problem_of_a_file_is_listed_at_once() {
    let path = fixture("invalid-many.yaml");
    let text = fixture_text("invalid-many.yaml");
    let ps = problems(load_file(&path, &scripts()));
    let expect = [
        ("unknown key `titel`", "titel:"),
        ("maybe", "final: maybe"),
        ("bizness", "5 bizness days"),
        ("final state `end` cannot have timers", "- after: 1 day"),
        ("unknown role `stranger`", "by: stranger"),
        ("unknown field `colour`", "fields.colour"),
        ("unknown action `grow`", "suggest: [grow]"),
        ("unknown template `no_such_template`", "no_such_template"),
        ("unknown role `ghost`", "viewer: [member, ghost]"),
        ("state `orphan` cannot be reached", "orphan:"),
        ("state `orphan` is not final", "orphan:"),
    ];
    for (needle, line) in expect {
        let p = find(&ps, needle);
        assert_eq!(p.line, line_of(&text, line), "{needle}: {p}");
        assert_eq!(p.file, path.display().to_string());
    }
    // sorted by position
    let positions: Vec<(usize, usize)> = ps.iter().map(|p| (p.line, p.column)).collect();
    let mut sorted = positions.clone();
    sorted.sort();
    assert_eq!(positions, sorted);
    let shown = Error::Definition {
        problems: ps.clone(),
    }
    .to_string();
    assert!(
        shown.starts_with(&format!("{} problems in definition:", ps.len())),
        "{shown}"
    );
}

#[test]
fn problems_of_several_files_are_reported_together() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "valid-hello.yaml",
        "invalid-unknown-state.yaml",
        "invalid-script.yaml",
    ] {
        std::fs::copy(fixture(f), dir.path().join(f)).unwrap();
    }
    let e = Engine::builder()
        .in_memory()
        .workflows_dir(dir.path())
        .workflow_str("inline.yaml", base_with("to: done", "to: gone"))
        .build()
        .unwrap_err();
    let Error::Definition { problems } = &e else {
        panic!("{e:?}")
    };
    for file in [
        "invalid-unknown-state.yaml",
        "invalid-script.yaml",
        "inline.yaml",
    ] {
        assert!(
            problems.iter().any(|p| p.file.ends_with(file)),
            "{file} missing: {problems:#?}"
        );
    }
    assert!(!problems
        .iter()
        .any(|p| p.file.ends_with("valid-hello.yaml")));
    assert_eq!(e.code(), "definition");
}

#[test]
fn the_same_workflow_version_twice_in_a_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("valid-hello.yaml"), dir.path().join("a.yaml")).unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        base_with("title: Hello", "title: Hello again"),
    )
    .unwrap();
    let ps = problems(load_dir(dir.path(), &scripts()));
    let p = find(&ps, "defined by more than one file");
    assert!(p.message.contains("`hello` version 1"), "{p}");
}

#[test]
fn a_missing_file_or_folder_is_a_definition_error() {
    let ps = problems(load_file(&fixture("no-such-file.yaml"), &scripts()));
    assert!(ps[0].message.contains("cannot read the file"), "{ps:#?}");
    let ps = problems(load_dir(&fixture("no-such-folder"), &scripts()));
    assert!(ps[0].message.contains("cannot read"), "{ps:#?}");
}

/// A definition an author might write on a first try, with typos in every kind of item and
/// in nested items (timers, inputs, guards). Each typo is reported once, at its key, with the
/// key meant; the items are kept, so nothing that refers to them is reported, and nothing
/// else is.
#[test]
fn typos_are_reported_at_their_keys_and_nothing_else() {
    let text = r#"workflow: typos
version: 1
settings:
  limit: { defualt: 3 }
  tone: { type: string, default: calm, descripton: How we speak }
roles:
  asker: { mnay: true }
  helper: { directry: helper }
fields:
  due: { type: dat }
  topic: { type: string, requried: true, lable: Topic }
templates:
  hello: { subjet: "Hi", body: "Hello ${fields.topic}" }
states:
  waiting:
    label: Waiting
    final: maybe
    on_entr: add_note("waiting")
    timers:
      - { name: nudge, at: due, rnu: 'notify(case.asker, "hello")' }
  done: { label: Done, final: true }
actions:
  ask:
    to: waiting
    by: asker
    inputs:
      topic: { type: string, requird: true }
      when: { type: datee }
    guard:
      - { wen: 'inputs.topic != ""', mesage: Say something }
      - { when: 'settings.limit > 0 && inputs.when != ()', message: ok }
    run: fields.topic = inputs.topic; notify(case.asker, "hello")
  finish: { form: waiting, to: done, by: helper, gaurd: 'true' }
  drop: { from: waiting, to: done, by: asker, suggest: [finish] }
views:
  mine: { states: [waiting], veiwer: asker, sort: due }
exports:
  all: { states: [waiting, done], column: { topic: fields.topic } }
"#;
    let ps = problems_of("typos.yaml", text);
    let got: Vec<(usize, usize, &str, &str)> = ps
        .iter()
        .map(|p| (p.line, p.column, p.path.as_str(), p.message.as_str()))
        .collect();
    let expect: Vec<(usize, usize, &str, &str)> = vec![
        (4, 12, "settings.limit.defualt", "unknown key `defualt` in setting `limit`; did you mean `default`?"),
        (5, 40, "settings.tone.descripton", "unknown key `descripton` in setting `tone`; did you mean `description`?"),
        (7, 12, "roles.asker.mnay", "unknown key `mnay` in role `asker`; did you mean `many`?"),
        (8, 13, "roles.helper.directry", "unknown key `directry` in role `helper`; did you mean `directory`?"),
        (10, 16, "fields.due.type", "unknown type `dat`; did you mean `date`?"),
        (11, 26, "fields.topic.requried", "unknown key `requried` in field `topic`; did you mean `required`?"),
        (11, 42, "fields.topic.lable", "unknown key `lable` in field `topic`; did you mean `label`?"),
        (13, 12, "templates.hello.subjet", "unknown key `subjet` in template `hello`; did you mean `subject`?"),
        (17, 12, "states.waiting.final", "`final` must be true or false, got the text \"maybe\""),
        (18, 5, "states.waiting.on_entr", "unknown key `on_entr` in state `waiting`; did you mean `on_enter`?"),
        (20, 33, "states.waiting.timers[0].rnu", "unknown key `rnu` in timer `nudge` of state `waiting`; did you mean `run`?"),
        (27, 30, "actions.ask.inputs.topic.requird", "unknown key `requird` in input `topic`; did you mean `required`?"),
        (28, 21, "actions.ask.inputs.when.type", "unknown type `datee`; did you mean `date`?"),
        (30, 11, "actions.ask.guard[0].wen", "unknown key `wen` in guard 1 of action `ask`; did you mean `when`?"),
        (30, 38, "actions.ask.guard[0].mesage", "unknown key `mesage` in guard 1 of action `ask`; did you mean `message`?"),
        (33, 13, "actions.finish.form", "unknown key `form` in action `finish`; did you mean `from`?"),
        (33, 50, "actions.finish.gaurd", "unknown key `gaurd` in action `finish`; did you mean `guard`?"),
        (34, 47, "actions.drop.suggest", "unknown key `suggest` in action `drop` (known keys: label, description, from, to, by, default, inputs, guard, run, unavailable, shows)"),
        (36, 30, "views.mine.veiwer", "unknown key `veiwer` in view `mine`; did you mean `viewer`?"),
        (38, 35, "exports.all.column", "unknown key `column` in export `all`; did you mean `columns`?"),
    ];
    assert_eq!(got, expect, "{ps:#?}");
    // no path is written twice in a problem's display
    for p in &ps {
        let shown = p.to_string();
        assert_eq!(shown.matches(&p.path).count(), 1, "{shown}");
    }
}

/// One typo does not hide the others of the same item, and the item still counts: the
/// action with three misspelt keys is still the start action, so its state is reachable.
#[test]
fn every_unknown_key_of_one_item_is_reported_and_the_item_kept() {
    let text = base_with(
        "  ask: { to: open, by: asker }",
        "  ask: { to: open, by: asker, lable: Ask, descripion: x, rn: 'add_note(\"a\")' }",
    );
    let ps = problems_of("t.yaml", &text);
    let msgs: Vec<&str> = ps.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        msgs,
        [
            "unknown key `lable` in action `ask`; did you mean `label`?",
            "unknown key `descripion` in action `ask`; did you mean `description`?",
            "unknown key `rn` in action `ask` (known keys: label, description, from, to, by, default, inputs, guard, run, unavailable, shows)",
        ]
    );
    let line = line_of(&text, "lable: Ask");
    assert!(ps.iter().all(|p| p.line == line), "{ps:#?}");
}
