//! Views: per-viewer lists by case role or directory role (limited to the viewer's
//! organisation), filter scripts, sorting, and names shared by several workflows.
#![allow(clippy::unwrap_used)]
mod support;
use support::Fresh;

use chrono::Duration;
use mentorflow::{Case, Engine, Error, ManualClock, Person};
use serde_json::json;
use support::{err, t0, REQUEST};

const BOARD: &str = r#"
workflow: board
version: 1
roles:
  owner: {}
  helper: { many: true }
  manager: { directory: [manager, director] }
  staff: { directory: staff, sees: org }
fields:
  title: { type: string, required: true }
  priority: { type: int, default: 0 }
  flagged: { type: bool, default: false }
states:
  todo: { label: To do }
  doing: { label: Doing }
  done: { label: Done, final: true }
actions:
  create: { to: todo, by: owner }
  start: { from: todo, to: doing, by: [owner, helper] }
  finish: { from: doing, to: done, by: [owner, helper] }
  help:
    from: [todo, doing]
    by: owner
    inputs:
      who: { type: person, required: true }
    run: assign("helper", inputs.who)
  flag:
    from: [todo, doing]
    by: [owner, manager]
    run: fields.flagged = true
  prioritise:
    from: [todo, doing]
    by: [owner, manager]
    inputs:
      priority: { type: int, required: true }
    run: fields.priority = inputs.priority
views:
  mine: { title: Mine, viewer: owner, sort: created }
  helping: { states: [todo, doing], viewer: helper }
  by_priority: { states: [todo, doing], viewer: manager, sort: -priority }
  flagged_open: { states: [todo, doing], viewer: manager, filter: fields.flagged }
  not_mine: { viewer: [helper, staff], filter: 'case.owner != viewer.id', sort: -created }
  recent: { viewer: staff, sort: -updated }
  queue: { states: [todo], viewer: staff }
"#;

fn board() -> (Engine, ManualClock) {
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("board.yaml", BOARD)
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.put_people(&[
        Person::new("o1").org("a"),
        Person::new("o2").org("a"),
        Person::new("o3").org("b"),
        Person::new("h1").org("b"),
        Person::new("m1").org("a").role("manager"),
        Person::new("d2").org("b").role("director"),
        Person::new("s1").org("a").role("staff"),
        Person::new("nobody_special").org("a"),
    ])
    .unwrap();
    (e, clock)
}

/// Start a card a minute after the previous one.
fn card(e: &Engine, clock: &ManualClock, owner: &str, title: &str) -> Case {
    clock.advance(Duration::minutes(1));
    e.start("board", "create", owner, json!({"title": title}))
        .unwrap()
}

fn titles(cases: &[Case]) -> Vec<String> {
    cases
        .iter()
        .map(|c| c.data["title"].as_str().unwrap().to_owned())
        .collect()
}

fn view(e: &Engine, name: &str, viewer: &str) -> Vec<String> {
    titles(&e.view(name, viewer).unwrap())
}

#[test]
fn case_role_views_show_each_viewer_their_own_cases() {
    let (e, clock) = board();
    let a1 = card(&e, &clock, "o1", "a1");
    card(&e, &clock, "o2", "b1");
    card(&e, &clock, "o1", "a2");
    let c1 = card(&e, &clock, "o3", "c1");
    assert_eq!(view(&e, "mine", "o1"), ["a1", "a2"]);
    assert_eq!(view(&e, "mine", "o2"), ["b1"]);
    assert_eq!(view(&e, "mine", "o3"), ["c1"]);
    assert!(view(&e, "mine", "m1").is_empty(), "a manager owns nothing");
    // a helper from another organisation sees the cases they help on, in the view's states
    e.act(a1.id, "help", "o1", json!({"who": "h1"})).unwrap();
    e.act(c1.id, "help", "o3", json!({"who": "h1"})).unwrap();
    assert_eq!(
        view(&e, "helping", "h1"),
        ["c1", "a1"],
        "updated, newest first"
    );
    e.act(a1.id, "start", "h1", json!({})).unwrap();
    e.act(a1.id, "finish", "h1", json!({})).unwrap();
    assert_eq!(view(&e, "helping", "h1"), ["c1"], "done is not in the view");
    assert_eq!(
        view(&e, "mine", "o1"),
        ["a1", "a2"],
        "`mine` has every state"
    );
}

#[test]
fn directory_role_views_are_limited_to_the_viewers_organisation() {
    let (e, clock) = board();
    card(&e, &clock, "o1", "a1");
    card(&e, &clock, "o2", "a2");
    card(&e, &clock, "o3", "b1");
    let mut m1 = view(&e, "by_priority", "m1");
    m1.sort();
    assert_eq!(m1, ["a1", "a2"]);
    assert_eq!(
        view(&e, "by_priority", "d2"),
        ["b1"],
        "any of the directory roles"
    );
    assert!(
        view(&e, "by_priority", "s1").is_empty(),
        "staff is not a manager"
    );
    assert!(view(&e, "by_priority", "nobody_special").is_empty());
    assert!(matches!(
        err(e.view("by_priority", "ghost")),
        Error::NotFound { kind: "person", .. }
    ));
    // moving the manager to another organisation changes what they see
    e.put_person(&Person::new("m1").org("b").role("manager"))
        .unwrap();
    assert_eq!(view(&e, "by_priority", "m1"), ["b1"]);
}

#[test]
fn a_filter_script_keeps_matching_cases() {
    let (e, clock) = board();
    let a1 = card(&e, &clock, "o1", "a1");
    card(&e, &clock, "o1", "a2");
    let a3 = card(&e, &clock, "o2", "a3");
    assert!(view(&e, "flagged_open", "m1").is_empty());
    e.act(a1.id, "flag", "m1", json!({})).unwrap();
    e.act(a3.id, "flag", "o2", json!({})).unwrap();
    let mut got = view(&e, "flagged_open", "m1");
    got.sort();
    assert_eq!(got, ["a1", "a3"]);
    // the filter sees the viewer: staff see the cases they do not own
    e.put_person(&Person::new("o1").org("a").role("staff"))
        .unwrap();
    assert_eq!(view(&e, "not_mine", "o1"), ["a3"]);
    assert_eq!(view(&e, "not_mine", "s1"), ["a3", "a2", "a1"]);
}

#[test]
fn views_sort_by_a_field_or_by_time() {
    let (e, clock) = board();
    let a = card(&e, &clock, "o1", "a");
    let b = card(&e, &clock, "o1", "b");
    let c = card(&e, &clock, "o1", "c");
    let d = card(&e, &clock, "o1", "d");
    for (case, p) in [(&a, 2), (&b, 9), (&c, 2), (&d, 5)] {
        e.act(case.id, "prioritise", "m1", json!({"priority": p}))
            .unwrap();
    }
    // priority descending; equal priorities keep a stable order by id
    assert_eq!(view(&e, "by_priority", "m1"), ["b", "d", "c", "a"]);
    assert_eq!(
        view(&e, "mine", "o1"),
        ["a", "b", "c", "d"],
        "created ascending"
    );
    assert_eq!(view(&e, "recent", "s1"), ["d", "c", "b", "a"]);
    clock.advance(Duration::minutes(5));
    e.act(b.id, "flag", "o1", json!({})).unwrap();
    assert_eq!(
        view(&e, "recent", "s1"),
        ["b", "d", "c", "a"],
        "updated descending"
    );
    assert_eq!(
        view(&e, "not_mine", "s1"),
        ["d", "c", "b", "a"],
        "created descending"
    );
}

#[test]
fn a_view_name_shared_by_two_workflows_must_be_qualified() {
    let (e, clock) = board();
    card(&e, &clock, "o1", "a1");
    let error = err(e.view("queue", "s1"));
    assert_eq!(error.code(), "validation");
    assert!(error.to_string().contains("`board.queue`"), "{error}");
    assert!(error.to_string().contains("`request.queue`"), "{error}");
    assert_eq!(view(&e, "board.queue", "s1"), ["a1"]);
    assert!(e.view("request.queue", "s1").unwrap().is_empty());
    assert_eq!(err(e.view("board.nope", "s1")).code(), "not_found");
    assert_eq!(err(e.view("nope.queue", "s1")).code(), "not_found");
}

#[test]
fn view_results_are_full_cases() {
    let (e, clock) = board();
    let a = card(&e, &clock, "o1", "a1");
    let got = e.view("mine", "o1").unwrap();
    assert_eq!(got, [e.get(a.id, None).unwrap()]);
    assert_eq!(got[0].state_label, "To do");
    assert_eq!(got[0].participant("owner"), Some("o1"));
}
