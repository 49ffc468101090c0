//! Tests of the scenario runner itself, on the fixture workflow in
//! `tests/fixtures/scenario/workflows` (the REQUEST workflow of `support`, plus an action
//! that emits a signal and spawns a linked copy).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use mentorflow::scenario::{self, Failure, Report};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenario")
}

fn workflows() -> PathBuf {
    fixtures().join("workflows")
}

/// The setup every inline scenario below starts with.
const HEADER: &str = r#"name: inline scenario
start: 2026-11-20T10:00:00Z
orgs:
  ch1: { name: Chapter One }
people:
  pat:   { org: ch1, name: Pat Client }
  cody:  { org: ch1, name: Cody Coordinator, roles: [coordinator] }
  alice: { org: ch1, name: Alice Mentor, roles: [mentor], classification: active }
  bob:   { org: ch1, name: Bob Provisional, roles: [mentor], classification: provisional }
steps:
  - start: request
    as: pat
    data: { client_name: "Pat's Bakery" }
    save: req
"#;

/// HEADER, then `assign` to alice.
const ASSIGNED: &str = r#"  - act: assign
    as: cody
    inputs: { mentor: alice }
"#;

/// Runs scenario text from a temporary file against the fixture workflows.
fn run(text: &str) -> Report {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("inline.yaml");
    std::fs::write(&path, text).unwrap();
    scenario::run_file(&path, &workflows())
}

fn story(steps: &str) -> String {
    format!("{HEADER}{steps}")
}

/// The failure of a scenario that must fail.
fn failure(text: &str) -> Failure {
    let r = run(text);
    assert!(!r.passed, "expected a failure, the scenario passed: {r:?}");
    r.failure.unwrap()
}

/// The 1-based line of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in text"));
    text[..at].lines().count() + usize::from(text[..at].ends_with('\n') || at == 0)
}

#[test]
fn the_fixture_story_passes_and_records_coverage() {
    let r = scenario::run_file(&fixtures().join("story.yaml"), &workflows());
    if let Some(f) = &r.failure {
        panic!("{f}");
    }
    assert!(r.passed);
    assert_eq!(
        r.name,
        "A request is assigned, reminded, accepted and completed"
    );
    assert_eq!(r.steps_run, r.steps_total);
    assert!(r.steps_total > 15, "{}", r.steps_total);
    let c = &r.covered.workflows["request"];
    for a in [
        "submit",
        "assign",
        "accept",
        "log_session",
        "archive",
        "complete",
    ] {
        assert!(c.actions.contains(a), "{a} not covered: {c:?}");
    }
    assert!(!c.actions.contains("decline"), "{c:?}");
    assert!(c.states.contains("complete"), "{c:?}");
    assert!(c.timers.contains("pending.reminder_24h"), "{c:?}");
    assert!(!c.timers.contains("pending.back_to_queue"), "{c:?}");
}

#[test]
fn a_wrong_state_names_file_step_line_and_both_states() {
    let text = story(&format!("{ASSIGNED}    expect: {{ state: in_progress }}\n"));
    let f = failure(&text);
    assert_eq!(f.step, 2);
    assert_eq!(f.line, line_of(&text, "expect: { state"));
    assert_eq!(f.label, "act assign as cody");
    assert_eq!(f.expected, "state `in_progress`");
    assert_eq!(f.actual, "`pending`");
    let shown = f.to_string();
    assert!(
        shown.ends_with(&format!(
            "inline.yaml:{}: step 2 (act assign as cody): expected state `in_progress`, got `pending`",
            f.line
        )),
        "{shown}"
    );
}

#[test]
fn a_wrong_field_shows_the_expected_and_actual_values() {
    let text =
        story("    expect:\n      fields: { contacted: false, client_name: \"Pat's Cafe\" }\n");
    let f = failure(&text);
    assert_eq!(f.step, 1);
    assert_eq!(f.line, line_of(&text, "fields:"));
    assert_eq!(f.expected, "field `client_name` = \"Pat's Cafe\"");
    assert_eq!(f.actual, "\"Pat's Bakery\"");

    let f = failure(&story("    expect: { fields: { reason: \"x\" } }\n"));
    assert_eq!(f.expected, "field `reason` = \"x\"");
    assert!(
        f.actual.starts_with("no value (fields set:"),
        "{}",
        f.actual
    );

    let f = failure(&story("    expect: { fields: { client_name: null } }\n"));
    assert_eq!(f.expected, "field `client_name` absent or null");
}

#[test]
fn wrong_participants_are_listed() {
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ participants: {{ mentor: [bob] }} }}\n"
    )));
    assert_eq!(f.expected, "participants `mentor` = [bob]");
    assert_eq!(f.actual, "[alice]");
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ participants: {{ team: [alice] }} }}\n"
    )));
    assert_eq!(f.actual, "nobody");
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ participants: {{ mentor: [] }} }}\n"
    )));
    assert_eq!(f.expected, "participants `mentor` = nobody");
}

#[test]
fn a_body_that_must_exclude_a_text_shows_the_body() {
    let text = story(&format!(
        "{ASSIGNED}    expect:\n      notified:\n        - to: alice\n          template: assigned\n          body_excludes: [portal.example]\n"
    ));
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "- to: alice"));
    assert_eq!(
        f.expected,
        "a notification to alice with template `assigned` whose body without \"portal.example\" created by the step"
    );
    assert!(
        f.actual.starts_with(
            "the notification to alice (assigned) has a body with \"portal.example\": \"Hello Alice Mentor, open https://portal.example.org/requests/"
        ),
        "{}",
        f.actual
    );
}

#[test]
fn a_missing_notification_lists_what_the_step_created() {
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ notified: [{{ to: bob }}] }}\n"
    )));
    assert_eq!(f.expected, "a notification to bob created by the step");
    assert_eq!(
        f.actual,
        "1 notification: to alice (assigned): \"New request from Pat's Bakery\""
    );
    // The start step created none.
    let f = failure(&story(
        "    expect: { notified: [{ template: assigned }] }\n",
    ));
    assert_eq!(f.actual, "no notification was created by the step");
    // A subject that does not match.
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ notified: [{{ to: alice, subject_contains: Cafe }}] }}\n"
    )));
    assert_eq!(
        f.actual,
        "the notification to alice (assigned) has the subject \"New request from Pat's Bakery\""
    );
}

#[test]
fn not_notified_and_notified_count_fail_with_the_notification() {
    let text = story(&format!(
        "{ASSIGNED}    expect:\n      not_notified: [{{ to: pat }}, {{ template: assigned }}]\n"
    ));
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "not_notified"));
    assert_eq!(
        f.expected,
        "no notification with template `assigned` created by the step"
    );
    assert_eq!(
        f.actual,
        "to alice (assigned): \"New request from Pat's Bakery\""
    );
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ notified_count: 2 }}\n"
    )));
    assert_eq!(f.expected, "2 notifications created by the step");
    assert!(
        f.actual.starts_with("1 notification: to alice"),
        "{}",
        f.actual
    );
}

#[test]
fn a_pure_expect_step_sees_the_previous_steps_notifications() {
    let r = run(&story(&format!(
        "{ASSIGNED}  - expect:\n      notified: [{{ to: alice, template: assigned }}]\n      notified_count: 1\n  - expect: {{ notified_count: 1 }}\n"
    )));
    assert!(r.passed, "{:?}", r.failure.map(|f| f.to_string()));
    assert_eq!(r.steps_run, 4);
}

#[test]
fn a_view_that_misses_a_case_lists_what_it_shows() {
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ view: {{ name: need_action, as: alice, excludes: [req] }} }}\n"
    )));
    assert_eq!(
        f.expected,
        "view `need_action` for alice not to include req (#1)"
    );
    assert_eq!(f.actual, "it lists [req (#1)]");
    let f = failure(&story(
        "    expect: { view: { name: need_action, as: alice, includes: [req] } }\n",
    ));
    assert_eq!(
        f.expected,
        "view `need_action` for alice to include req (#1)"
    );
    assert_eq!(f.actual, "it is empty");
    let f = failure(&story(
        "    expect: { view_count: { name: queue, as: cody, count: 2 } }\n",
    ));
    assert_eq!(f.expected, "view `queue` for cody to list 2 cases");
    assert_eq!(f.actual, "1: it lists [req (#1)]");
    let f = failure(&story(
        "    expect: { view: { name: nowhere, as: cody } }\n",
    ));
    assert!(
        f.actual
            .starts_with("`not_found`: view `nowhere` not found"),
        "{}",
        f.actual
    );
}

#[test]
fn visibility_is_checked_per_person() {
    let text = story(&format!(
        "{ASSIGNED}    expect:\n      visible: [{{ as: alice, visible: true }}, {{ as: bob, visible: true }}]\n"
    ));
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "{ as: alice"));
    assert_eq!(f.expected, "req (#1) visible to bob");
    assert_eq!(f.actual, "it is hidden from bob");
}

#[test]
fn available_actions_are_checked() {
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ actions: {{ as: alice, include: [log_session] }} }}\n"
    )));
    assert_eq!(f.expected, "alice may do `log_session` on req (#1)");
    assert_eq!(f.actual, "alice may do [accept, decline]");
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ actions: {{ as: alice, exclude: [decline] }} }}\n"
    )));
    assert_eq!(f.expected, "alice may not do `decline` on req (#1)");
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ actions: {{ as: alice, exactly: [accept] }} }}\n"
    )));
    assert_eq!(f.expected, "alice may do exactly [accept] on req (#1)");
}

#[test]
fn pending_timers_are_an_exact_set() {
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ timers: [reminder_24h] }}\n"
    )));
    assert_eq!(f.expected, "pending timers [reminder_24h]");
    assert_eq!(
        f.actual,
        "[reminder_24h (due 2026-11-21T10:00:00Z), back_to_queue (due 2026-11-27T10:00:00Z)]"
    );
    let f = failure(&story("    expect: { timers: [reminder_24h] }\n"));
    assert_eq!(f.actual, "none");
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ timer_due: {{ back_to_queue: 2026-11-30T10:00:00Z }} }}\n"
    )));
    assert_eq!(
        f.expected,
        "timer `back_to_queue` due at 2026-11-30T10:00:00Z"
    );
    assert_eq!(f.actual, "due at 2026-11-27T10:00:00Z");
}

#[test]
fn history_count_and_last_event_are_checked() {
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ history: {{ count: 3 }} }}\n"
    )));
    assert_eq!(f.expected, "3 events in the history");
    assert_eq!(f.actual, "2: [submit by pat, assign by cody]");
    let f = failure(&story(&format!(
        "{ASSIGNED}    expect: {{ history: {{ last: {{ action: assign, actor: alice }} }} }}\n"
    )));
    assert_eq!(f.expected, "the last event to be action `assign` by alice");
    assert_eq!(
        f.actual,
        "action `assign` by cody from `submitted` to `pending` with inputs {\"mentor\":\"alice\"}"
    );
}

#[test]
fn export_rows_are_matched_by_subset() {
    let text = story(
        "    expect:\n      export: { name: requests, contains: [{ client: \"Pat's Bakery\", state: Complete }] }\n",
    );
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "export:"));
    assert_eq!(
        f.expected,
        "export `requests` to have a row with {client: \"Pat's Bakery\", state: \"Complete\"}"
    );
    assert_eq!(
        f.actual,
        "1 row: {\"id\":1,\"client\":\"Pat's Bakery\",\"state\":\"Submitted\",\"mentor\":null}"
    );
    let f = failure(&story(
        "    expect: { export: { name: requests, contains: [{ nope: 1 }] } }\n",
    ));
    assert_eq!(f.expected, "export `requests` to have a column `nope`");
    let f = failure(&story(
        "    expect: { export: { name: requests, count: 0 } }\n",
    ));
    assert_eq!(f.expected, "export `requests` to have 0 rows");
}

#[test]
fn an_error_of_another_kind_is_a_failure() {
    let text = story("  - act: log_session\n    as: alice\n    error: { kind: not_permitted }\n");
    let f = failure(&text);
    assert_eq!(f.step, 2);
    assert_eq!(f.line, line_of(&text, "error:"));
    assert_eq!(f.expected, "an error `not_permitted`");
    assert!(
        f.actual.starts_with("`not_found`: case `1` not found"),
        "{}",
        f.actual
    );
    // Message and suggestions.
    let text = story(&format!(
        "{ASSIGNED}  - act: log_session\n    as: alice\n    error: {{ kind: guard_rejected, message: withdraw }}\n"
    ));
    let f = failure(&text);
    assert_eq!(f.expected, "an error message containing \"withdraw\"");
    assert_eq!(
        f.actual,
        "`guard_rejected`: You must accept or decline this request before adding a session. (suggests [accept, decline])"
    );
    let f = failure(&story(&format!(
        "{ASSIGNED}  - act: log_session\n    as: alice\n    error: {{ suggest: [accept] }}\n"
    )));
    assert_eq!(f.expected, "suggestions [accept]");
    assert_eq!(f.actual, "[accept, decline]");
    let f = failure(&story(&format!(
        "{ASSIGNED}  - act: accept\n    as: alice\n    error: {{ kind: validation, field: inputs.reason }}\n"
    )));
    assert_eq!(f.expected, "an error about field `inputs.reason`");
    assert!(f.actual.starts_with("field `inputs.note`"), "{}", f.actual);
}

#[test]
fn an_action_expected_to_fail_that_succeeds_is_a_failure() {
    let text = story(&format!(
        "{ASSIGNED}  - act: accept\n    as: alice\n    inputs: {{ note: hi }}\n    error: {{ kind: guard_rejected, message: accept first }}\n"
    ));
    let f = failure(&text);
    assert_eq!(f.step, 3);
    assert_eq!(f.label, "act accept as alice");
    assert_eq!(f.line, line_of(&text, "error: { kind: guard"));
    assert_eq!(
        f.expected,
        "the step to fail with `guard_rejected` (\"accept first\")"
    );
    assert_eq!(
        f.actual,
        "success: req (#1) is now in `in_progress` at revision 3"
    );
}

#[test]
fn an_unexpected_error_is_a_failure_at_the_steps_line() {
    let text = story("  - act: log_session\n    case: req\n    as: alice\n");
    let f = failure(&text);
    assert_eq!(f.step, 2);
    assert_eq!(f.line, line_of(&text, "- act: log_session"));
    assert_eq!(f.expected, "the step to succeed");
    assert!(f.actual.starts_with("`not_found`"), "{}", f.actual);
    let f = failure(&story(&format!(
        "{ASSIGNED}  - act: log_session\n    as: alice\n"
    )));
    assert_eq!(
        f.actual,
        "`guard_rejected`: You must accept or decline this request before adding a session. (suggests [accept, decline])"
    );
}

#[test]
fn restart_keeps_cases_timers_and_the_clock() {
    let text = story(&format!(
        "{ASSIGNED}  - restart: true
    expect:
      state: pending
      timers: [reminder_24h, back_to_queue]
      now: 2026-11-20T10:00:00Z
  - advance: 5 business days
    expect:
      state: submitted
      participants: {{ mentor: [] }}
      notified: [{{ to: alice, template: reminder }}]
      history: {{ last: {{ action: expire, actor: system, from: pending, to: submitted }} }}
      timers: []
  - restart: true
  - expect:
      state: submitted
      notified_count: 0
      view: {{ name: queue, as: cody, includes: [req] }}
"
    ));
    let r = run(&text);
    if let Some(f) = &r.failure {
        panic!("{f}");
    }
    let c = &r.covered.workflows["request"];
    assert!(c.timers.contains("pending.back_to_queue"), "{c:?}");
    assert!(c.timers.contains("pending.reminder_24h"), "{c:?}");
    assert!(c.actions.contains("expire"), "{c:?}");
}

#[test]
fn an_unknown_key_in_a_step_is_reported_with_its_line() {
    let text = story("  - act: assign\n    as: cody\n    inptus: { mentor: alice }\n");
    let r = run(&text);
    assert!(!r.passed);
    assert_eq!(r.steps_run, 0, "nothing runs when the file is broken");
    let f = r.failure.unwrap();
    assert_eq!(f.step, 2);
    assert_eq!(f.line, line_of(&text, "inptus"));
    assert_eq!(f.label, "act assign as cody");
    assert!(
        f.expected.starts_with("a key of a `act` step"),
        "{}",
        f.expected
    );
    assert_eq!(f.actual, "unknown key `inptus`; did you mean `inputs`?");
}

#[test]
fn unknown_keys_in_expect_error_and_matchers_are_reported() {
    let text = story("    expect:\n      state: submitted\n      notifed: []\n");
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "notifed"));
    assert_eq!(f.actual, "unknown key `notifed`; did you mean `notified`?");

    let text =
        story("    expect:\n      notified:\n        - to: pat\n          body_contain: x\n");
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "body_contain"));
    assert!(
        f.actual.starts_with("unknown key `body_contain`"),
        "{}",
        f.actual
    );

    let text =
        story("  - act: assign\n    as: cody\n    error: { kind: guard_rejected, mesage: x }\n");
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "error:"));
    assert_eq!(f.actual, "unknown key `mesage`; did you mean `message`?");

    let text = story("  - act: assign\n    as: cody\n    error: { kind: guard_rejectd }\n");
    let f = failure(&text);
    assert!(
        f.expected.starts_with("an error kind (`validation`"),
        "{}",
        f.expected
    );
    assert_eq!(f.actual, "`guard_rejectd`; did you mean `guard_rejected`?");

    let text = story("  - advance: 2 fortnights\n");
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "2 fortnights"));
    assert!(f.actual.contains("fortnights"), "{}", f.actual);

    let text = format!("{HEADER}  - tick: true\n    advance: 1h\n");
    let f = failure(&text);
    assert_eq!(f.expected, "one thing per step");

    let text = HEADER.replace("start: 2026", "strat: 2026");
    let f = failure(&text);
    assert_eq!(f.step, 0);
    assert_eq!(f.label, "setup");
    assert_eq!(f.line, 2);
    assert_eq!(f.actual, "unknown key `strat`; did you mean `start`?");
}

#[test]
fn the_invalid_definition_fixture_matches() {
    let r = scenario::run_file(&fixtures().join("invalid-unknown-state.yaml"), &workflows());
    if let Some(f) = &r.failure {
        panic!("{f}");
    }
    assert!(r.passed);
    assert_eq!(r.steps_run, 1);
}

#[test]
fn an_invalid_definition_that_does_not_match_is_reported() {
    let base = std::fs::read_to_string(fixtures().join("invalid-unknown-state.yaml")).unwrap();
    // Wrong line.
    let text = base.replace("line: 10, column: 29", "line: 11, column: 29");
    let f = failure(&text);
    assert_eq!(f.step, 0);
    assert_eq!(f.label, "definition");
    assert_eq!(f.line, line_of(&text, "- { line: 11"));
    assert_eq!(
        f.expected,
        "problem 1 at line 11, column 29 with a message containing \"unknown state `nowhere`\""
    );
    assert!(
        f.actual.starts_with("10:29: unknown state `nowhere`"),
        "{}",
        f.actual
    );
    assert!(f.actual.ends_with("(line 12 of this file)"), "{}", f.actual);
    // Wrong count.
    let text = base.replace(
        "  - { line: 10",
        "  - { line: 3, message: x }\n  - { line: 10",
    );
    let f = failure(&text);
    assert_eq!(f.expected, "2 problems");
    assert!(
        f.actual.starts_with("1 problem:\n    10:29:"),
        "{}",
        f.actual
    );
    // Wrong message.
    let f = failure(&base.replace("unknown state `nowhere`", "unknown role"));
    assert!(f.expected.contains("\"unknown role\""), "{}", f.expected);
    // A definition that loads.
    let f = failure(&base.replace("to: nowhere", "to: done"));
    assert_eq!(f.expected, "the definition to be refused with 1 problem");
    assert_eq!(f.actual, "it loaded (workflow `broken` version 1)");
}

#[test]
fn broken_files_are_failed_reports_not_panics() {
    for text in [
        "",
        "just text",
        "- a\n- b\n",
        "name: x\nsteps: [",
        "name: x\nstart: yesterday\nsteps: [{ tick: true }]\n",
        "name: x\nstart: 2026-11-20T10:00:00Z\nsteps: []\n",
        "name: x\nstart: 2026-11-20T10:00:00Z\nsteps: [3, 4]\n",
        "name: x\nstart: 2026-11-20T10:00:00Z\nsteps: [{ act: a }]\n",
        "name: x\nstart: 2026-11-20T10:00:00Z\npeople: [pat]\nsteps: [{ tick: true }]\n",
        "name: x\ndefinition: 3\nerrors: []\n",
        "name: x\ndefinition: \"workflow: [\"\nerrors: [{ line: 1, message: zzz }]\n",
        "name: x\nstart: 2026-11-20T10:00:00Z\nsteps: [{ expect: { state: s } }]\n",
        "name: x\nstart: 2026-11-20T10:00:00Z\nsteps: [{ act: x, as: y, case: nope }]\n",
    ] {
        let r = run(text);
        assert!(!r.passed, "{text:?} passed");
        let f = r.failure.unwrap();
        assert!(f.line >= 1, "{f}");
        assert!(!f.expected.is_empty() && !f.actual.is_empty(), "{f}");
    }
    let r = scenario::run_file(&fixtures().join("does-not-exist.yaml"), &workflows());
    assert!(!r.passed);
    assert_eq!(r.name, "does-not-exist");
    assert!(r.failure.unwrap().actual.starts_with("cannot read it"));
}

#[test]
fn an_unknown_saved_name_lists_the_saved_ones() {
    let f = failure(&story("  - expect: { case: reqq, state: submitted }\n"));
    assert_eq!(f.expected, "a case saved as `reqq`");
    assert_eq!(f.actual, "no such name (saved: req); did you mean `req`?");
    let text = "name: x\nstart: 2026-11-20T10:00:00Z\nsteps:\n  - expect: { state: s }\n";
    let f = failure(text);
    assert_eq!(f.expected, "a current case");
}

#[test]
fn setup_problems_point_at_their_line() {
    let text = HEADER.replace(
        "ch1: { name: Chapter One }",
        "ch1: { settings: { nope: 1 } }",
    );
    let f = failure(&text);
    assert_eq!(f.step, 0);
    assert_eq!(f.line, line_of(&text, "ch1: { settings"));
    assert!(f.actual.contains("unknown setting `nope`"), "{}", f.actual);

    let text = format!("workflows: no-such-folder\n{HEADER}");
    let f = failure(&text);
    assert_eq!(f.step, 0);
    assert_eq!(f.line, 1);
    assert!(
        f.actual.contains("no-such-folder` is not a folder"),
        "{}",
        f.actual
    );
}

#[test]
fn directory_changes_merge_into_the_stored_entries() {
    // Bob becomes active: the guard that refused him lets him through; his name stays.
    let r = run(&story(
        "  - act: assign
    as: cody
    inputs: { mentor: bob }
    error: { kind: guard_rejected, message: only active mentors }
  - put_person: { id: bob, classification: active }
  - act: assign
    as: cody
    inputs: { mentor: bob }
    expect:
      notified: [{ to: bob, body_contains: Hello Bob Provisional }]
  - put_org: { id: ch1, settings: { max_open: 5 } }
  - remove_person: dan
    error: not_found
",
    ));
    if let Some(f) = &r.failure {
        panic!("{f}");
    }
}

#[test]
fn signals_and_linked_cases_are_checked() {
    let steps = format!(
        "{ASSIGNED}  - act: accept\n    as: alice\n    inputs: {{ note: hi }}\n  - act: archive\n    as: alice\n    expect:\n"
    );
    let f = failure(&story(&format!(
        "{steps}      signals: [{{ kind: archived, data: {{ client: nobody }} }}]\n"
    )));
    assert_eq!(
        f.expected,
        "a signal `archived` with data {client: \"nobody\"} emitted by the step"
    );
    assert_eq!(
        f.actual,
        "1 signal: `archived` {\"client\":\"Pat's Bakery\"}"
    );
    let f = failure(&story(&format!(
        "{steps}      linked: {{ state: in_progress }}\n"
    )));
    assert_eq!(
        f.expected,
        "at least one case in `in_progress` linked to req (#1)"
    );
    assert_eq!(f.actual, "linked: #2 in `complete`");
}

#[test]
fn run_paths_runs_folders_sorted_and_reports_serialize() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.yaml"),
        story("    expect: { state: submitted }\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("a.yaml"),
        story("    expect: { state: pending }\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("notes.md"), "not a scenario").unwrap();
    let reports = scenario::run_paths(&[dir.path().to_path_buf()], &workflows());
    assert_eq!(reports.len(), 2);
    assert!(reports[0].file.ends_with("a.yaml"));
    assert!(!reports[0].passed);
    assert!(reports[1].passed);
    let json = serde_json::to_value(&reports).unwrap();
    assert_eq!(json[0]["failure"]["expected"], "state `pending`");
    assert_eq!(json[0]["failure"]["step"], 1);
    assert_eq!(json[1]["passed"], true);
    assert_eq!(json[1]["covered"]["request"]["actions"][0], "submit");
}

#[test]
fn uncovered_lists_what_no_scenario_exercised() {
    let reports = vec![run(&story(ASSIGNED))];
    let engine = mentorflow::Engine::builder()
        .in_memory()
        .workflows_dir(workflows())
        .build()
        .unwrap();
    let u = scenario::uncovered(&reports, &engine.definitions());
    assert_eq!(u.len(), 1);
    let u = &u[0];
    assert_eq!(u.workflow, "request");
    assert!(!u.is_complete());
    assert!(!u.actions.contains(&"assign".to_owned()), "{u:?}");
    assert!(u.actions.contains(&"accept".to_owned()), "{u:?}");
    assert!(u.states.contains(&"in_progress".to_owned()), "{u:?}");
    assert!(!u.states.contains(&"pending".to_owned()), "{u:?}");
    assert_eq!(
        u.timers,
        vec!["pending.reminder_24h", "pending.back_to_queue"]
    );
    assert_eq!(u.total, 8 + 4 + 2);
    assert_eq!(u.covered, 2 + 2);
    // Transitions: the start action and `assign` from `submitted` were taken, nothing else.
    assert_eq!(u.transitions_covered, 2, "{u:?}");
    let shown: Vec<String> = u.transitions.iter().map(|t| t.to_string()).collect();
    assert!(
        !shown.iter().any(|t| t.contains("--assign-->")),
        "{shown:?}"
    );
    assert!(
        !shown.contains(&"(start) --submit-->".to_owned()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"pending --accept-->".to_owned()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"pending --decline-->".to_owned()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"pending --timer back_to_queue (expire)-->".to_owned()),
        "{shown:?}"
    );
    assert!(
        shown.contains(&"pending --timer reminder_24h-->".to_owned()),
        "{shown:?}"
    );
    assert_eq!(
        u.transitions_total,
        u.transitions_covered + u.transitions.len()
    );
    assert_eq!(u.percent as usize, 200 / u.transitions_total);
    // The threshold names the workflow and what is missing; a low one passes.
    let below = scenario::below_threshold(std::slice::from_ref(u), 50.0);
    assert_eq!(below.len(), 1, "{below:?}");
    assert!(below[0].starts_with("request v1: "), "{}", below[0]);
    assert!(below[0].contains("below 50%"), "{}", below[0]);
    assert!(below[0].contains("pending --accept-->"), "{}", below[0]);
    assert!(scenario::below_threshold(std::slice::from_ref(u), u.ratio()).is_empty());
}

#[test]
fn transition_coverage_tells_an_action_from_each_of_its_states_and_timer_firings() {
    let r = scenario::run_file(&fixtures().join("story.yaml"), &workflows());
    assert!(r.passed, "{:?}", r.failure.map(|f| f.to_string()));
    let c = &r.covered.workflows["request"];
    assert!(c.transitions.contains(":submit"), "{c:?}");
    assert!(c.transitions.contains("submitted:assign"), "{c:?}");
    assert!(c.transitions.contains("pending.reminder_24h"), "{c:?}");
    assert!(!c.transitions.contains("pending.back_to_queue"), "{c:?}");
    assert!(!c.transitions.contains("pending:decline"), "{c:?}");
}

/// The complete example of `tests/scenarios/README.md`, run against the shipped workflows.
#[test]
fn the_readme_example_runs_against_the_shipped_workflows() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = core.parent().unwrap();
    let readme = std::fs::read_to_string(repo.join("tests/scenarios/README.md")).unwrap();
    let section = &readme[readme.find("## A complete example").unwrap()..];
    let start = section.find("```yaml\n").unwrap() + "```yaml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let r = scenario::run_str(
        example,
        "tests/scenarios/README.md (example)",
        &repo.join("workflows"),
    );
    if let Some(f) = &r.failure {
        panic!("{f}");
    }
    assert_eq!(r.steps_run, 7);
}

#[test]
fn a_person_key_that_looks_like_a_typo_is_refused() {
    let text = HEADER.replace("roles: [coordinator]", "role: [coordinator]");
    let f = failure(&text);
    assert_eq!(f.step, 0);
    assert_eq!(f.line, line_of(&text, "role: [coordinator]"));
    assert_eq!(f.actual, "`role`; did you mean `roles`?");
    // Other keys are attributes.
    let r = run(&story(
        "  - put_person: { id: eve, org: ch1, roles: [mentor], classification: active, focus_areas: [tax] }\n",
    ));
    assert!(r.passed, "{:?}", r.failure.map(|f| f.to_string()));
}

#[test]
fn act_at_a_stale_revision_is_a_conflict_and_error_has_a_short_form() {
    let r = run(&story(&format!(
        "{ASSIGNED}  - act: accept\n    as: alice\n    revision: 1\n    inputs: {{ note: hi }}\n    error: conflict\n  - act: accept\n    as: alice\n    revision: 2\n    inputs: {{ note: hi }}\n    expect: {{ state: in_progress }}\n"
    )));
    if let Some(f) = &r.failure {
        panic!("{f}");
    }
    let f = failure(&story(
        "  - act: assign\n    as: cody\n    error: guard_rejectd\n",
    ));
    assert_eq!(f.actual, "`guard_rejectd`; did you mean `guard_rejected`?");
}

#[test]
fn a_view_order_is_checked_and_a_wrong_one_shows_the_order_listed() {
    let three = "  - advance: 1h\n  - start: request\n    as: pat\n    data: { client_name: B }\n    save: second\n  - advance: 1h\n  - start: request\n    as: pat\n    data: { client_name: C }\n    save: third\n";
    // the intake queue is sorted by creation, oldest first
    let ok = run(&story(&format!(
        "{three}    expect: {{ view: {{ name: queue, as: cody, order: [req, second, third] }} }}\n  - expect: {{ view: {{ name: queue, as: cody, order: [req, third] }} }}\n"
    )));
    assert!(ok.passed, "{:?}", ok.failure);
    let text = story(&format!(
        "{three}    expect: {{ view: {{ name: queue, as: cody, order: [third, req] }} }}\n"
    ));
    let f = failure(&text);
    assert_eq!(
        f.expected,
        "view `queue` for cody to list third (#3), req (#1) in that order"
    );
    assert_eq!(
        f.actual,
        "req (#1), third (#3); it lists [req (#1), second (#2), third (#3)]"
    );
    assert_eq!(
        f.line,
        line_of(
            &text,
            "    expect: { view: { name: queue, as: cody, order: [third"
        )
    );
    // a case the view does not list
    let f = failure(&story(
        "    expect: { view: { name: need_action, as: alice, order: [req] } }\n",
    ));
    assert_eq!(
        f.expected,
        "view `need_action` for alice to include req (#1)"
    );
    // `order` is a known key; a typo next to it is reported
    let f = failure(&story(
        "    expect: { view: { name: queue, as: cody, ordr: [req] } }\n",
    ));
    assert!(f.actual.contains("did you mean `order`"), "{f:?}");
}

/// The history of a case recorded on the fixture workflow (submit, assign, the 24h reminder,
/// accept), as `mentorflow history CASE --json` prints it.
fn recorded_history() -> serde_json::Value {
    use mentorflow::{Engine, ManualClock};
    let clock = ManualClock::at("2026-11-20T10:00:00Z".parse().unwrap());
    let e = Engine::builder()
        .in_memory()
        .workflows_dir(workflows())
        .clock(clock)
        .build()
        .unwrap();
    e.put_org(&mentorflow::OrgPatch {
        id: "ch1".into(),
        name: Some(Some("Chapter One".into())),
        ..Default::default()
    })
    .unwrap();
    for (id, roles, class) in [
        ("pat", vec![], None),
        ("cody", vec!["coordinator".to_owned()], None),
        ("alice", vec!["mentor".to_owned()], Some("active")),
    ] {
        let mut attributes = serde_json::Map::new();
        if let Some(c) = class {
            attributes.insert("classification".into(), c.into());
        }
        e.put_person(&mentorflow::PersonPatch {
            id: id.into(),
            org: Some(Some("ch1".into())),
            roles: Some(roles),
            attributes,
            ..Default::default()
        })
        .unwrap();
    }
    let c = e
        .start(
            "request",
            "submit",
            "pat",
            serde_json::json!({ "client_name": "Pat's Bakery" }),
        )
        .unwrap();
    e.act(
        c.id,
        "assign",
        "cody",
        serde_json::json!({ "mentor": "alice" }),
    )
    .unwrap();
    e.advance("25h").unwrap();
    e.act(
        c.id,
        "accept",
        "alice",
        serde_json::json!({ "note": "Hi Pat" }),
    )
    .unwrap();
    serde_json::to_value(e.history(c.id, None).unwrap()).unwrap()
}

/// A scenario whose one step replays `history` (written inline, as JSON: it is YAML too).
fn replay_story(history: &serde_json::Value, extra: &str) -> String {
    let head = HEADER.split("steps:\n").next().unwrap();
    format!("{head}steps:\n  - replay: request\n    history: {history}\n{extra}")
}

#[test]
fn a_replay_step_passes_on_the_same_flow_and_fails_at_the_first_event_that_differs() {
    let h = recorded_history();
    assert_eq!(h.as_array().unwrap().len(), 4, "{h:#}");
    let ok = run(&replay_story(&h, ""));
    assert!(ok.passed, "{:?}", ok.failure);
    // the recorded accept led elsewhere: the replay stops there, as a failure of the step
    let mut changed = h.clone();
    changed[3]["to_state"] = "complete".into();
    let text = replay_story(&changed, "");
    let f = failure(&text);
    assert_eq!(f.step, 1, "{f:?}");
    assert_eq!(f.line, line_of(&text, "  - replay: request"));
    assert_eq!(f.expected, "the recorded history reproduced on v1");
    assert!(
        f.actual
            .starts_with("a divergence at event 4 (accept by alice")
            && f.actual.ends_with(
                "another state: recorded state `complete`, replayed state `in_progress`"
            ),
        "{f:?}"
    );
    // ... which `diverges:` may expect
    let want = "    diverges: { event: 4, kind: state, message: complete }\n";
    assert!(run(&replay_story(&changed, want)).passed);
    // a divergence expected where there is none fails at `diverges:`
    let text = replay_story(&h, want);
    let f = failure(&text);
    assert_eq!(f.line, line_of(&text, "    diverges:"));
    assert_eq!(
        f.expected,
        "a divergence at event 4 of kind `state` mentioning \"complete\""
    );
    assert_eq!(f.actual, "identical (4 events reproduced on v1)");
    // a recorded notification the flow no longer sends
    let mut other = h.clone();
    other[1]["effects"]
        .as_array_mut()
        .unwrap()
        .retain(|x| x["type"] != "notify");
    let f = failure(&replay_story(&other, ""));
    assert!(
        f.actual.contains("event 2 (assign by cody")
            && f.actual
                .contains("other notifications: recorded none, replayed assigned to alice"),
        "{f:?}"
    );
}

#[test]
fn a_replay_step_refuses_a_broken_history_and_bad_keys_with_their_place() {
    let h = recorded_history();
    // a gap in the numbering
    let mut gap = h.clone();
    gap.as_array_mut().unwrap().remove(1);
    let text = replay_story(&gap, "");
    let f = failure(&text);
    assert_eq!(f.expected, "a recorded history");
    assert!(
        f.actual.contains("event 2 has seq 3") && f.actual.contains("without gaps"),
        "{f:?}"
    );
    assert_eq!(f.line, line_of(&text, "    history:"));
    // an event with an unknown key
    let mut typo = h.clone();
    typo[0]["actr"] = "pat".into();
    let f = failure(&replay_story(&typo, ""));
    assert!(
        f.actual.contains("event 1") && f.actual.contains("unknown field `actr`"),
        "{f:?}"
    );
    // a missing file, relative to the scenario
    let head = HEADER.split("steps:\n").next().unwrap();
    let f = failure(&format!(
        "{head}steps:\n  - replay: request\n    file: recorded/none.json\n"
    ));
    assert!(
        f.actual.contains("cannot read") && f.actual.contains("recorded/none.json"),
        "{f:?}"
    );
    // both `history` and `file`; neither; an unknown kind of divergence
    let f = failure(&replay_story(&h, "    file: x.json\n"));
    assert_eq!(
        f.expected,
        "either `history` (the events) or `file` (a JSON file of them)"
    );
    let f = failure(&format!("{head}steps:\n  - replay: request\n"));
    assert!(f.expected.contains("`history`"), "{f:?}");
    let f = failure(&replay_story(&h, "    diverges: { kind: refuse }\n"));
    assert!(f.actual.contains("did you mean `refused`"), "{f:?}");
    let f = failure(&replay_story(&h, "    diverge: { kind: refused }\n"));
    assert!(f.actual.contains("did you mean `diverges`"), "{f:?}");
}
