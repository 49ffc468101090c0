//! History is the truth: after any sequence of actions, refusals, timer firings, copies and
//! operator controls (suspend, resume, cancel, repair), folding a case's events gives exactly
//! its stored snapshot.
#![allow(clippy::unwrap_used)]
mod support;

use chrono::Duration;
use mentorflow::{Engine, Person};
use proptest::prelude::*;
use serde_json::{json, Value};

const STORY: &str = r#"
workflow: story
version: 1
roles:
  owner: {}
  lead: {}
  team: { many: true }
  coordinator: { directory: coordinator }
fields:
  count: { type: int, default: 0 }
  note: { type: string }
  tags: { type: list, of: string, default: [] }
  when: { type: date }
templates:
  poke:
    subject: "Poke ${fields.count}"
    body: "Hi ${recipient.id}"
states:
  open:
    label: Open
    on_enter: fields.count += 1
    timers:
      - name: nudge
        every: 1 day
        run: |
          fields.count += 10;
          notify(case.lead, "poke");
      - name: due
        at: fields.when
        action: lapse
  working:
    label: Working
    on_exit: fields.note = ()
    timers:
      - name: stall
        after: 2 business days
        action: stall
  closed: { label: Closed, final: true }
  copied: { label: Copied, final: true }
actions:
  create: { to: open, by: owner }
  take:
    from: open
    to: working
    by: [coordinator, owner]
    inputs:
      lead: { type: person, required: true }
    run: assign("lead", inputs.lead)
  join:
    from: [open, working]
    by: [lead, owner, team]
    inputs:
      who: { type: person, required: true }
    run: assign("team", inputs.who)
  leave:
    from: [open, working]
    by: [lead, owner, team]
    inputs:
      who: { type: person, required: true }
    run: unassign("team", inputs.who)
  write:
    from: [open, working]
    by: [lead, team, owner]
    inputs:
      text: { type: string, max_length: 5 }
    run: |
      fields.note = inputs.text;
      fields.tags.push("w");
      if inputs.text == "boom" { fail("no boom") }
  schedule:
    from: open
    by: owner
    inputs:
      when: { type: date }
    run: fields.when = inputs.when
  drop_lead:
    from: working
    to: open
    by: [lead, owner, coordinator]
    run: unassign("lead")
  copy:
    from: [open, working]
    by: owner
    run: 'spawn_copy(#{ state: "copied", fields: #{ note: "copy" } })'
  decide:
    from: working
    to: [open, closed]
    by: [lead, owner]
    inputs:
      done: { type: bool, required: true }
    run: if inputs.done { goto("closed") } else { goto("open") }
  lapse: { from: open, to: closed, by: system }
  stall: { from: working, to: open, by: system, run: 'unassign("lead")' }
"#;

const ACTORS: &[&str] = &["pat", "cody", "alice", "bob", "zed"];

const ACTIONS: &[&str] = &[
    "take",
    "join",
    "leave",
    "write",
    "schedule",
    "drop_lead",
    "copy",
    "decide",
    "lapse",
    "nonsense",
];

fn inputs(action: &str, variant: usize) -> Value {
    let options: Vec<Value> = match action {
        "take" => vec![
            json!({"lead": "alice"}),
            json!({"lead": "bob"}),
            json!({"lead": "ghost"}),
            json!({}),
        ],
        "join" | "leave" => vec![
            json!({"who": "alice"}),
            json!({"who": "bob"}),
            json!({"who": "zed"}),
        ],
        "write" => vec![
            json!({"text": "hi"}),
            json!({"text": "boom"}),
            json!({"text": "toolong"}),
            json!({}),
        ],
        "schedule" => vec![
            json!({"when": "2026-11-23"}),
            json!({"when": "2026-11-21"}),
            json!({"when": "someday"}),
            json!({}),
        ],
        "decide" => vec![json!({"done": true}), json!({"done": false})],
        _ => vec![json!({}), json!({"extra": 1})],
    };
    options[variant % options.len()].clone()
}

#[derive(Debug, Clone)]
enum Step {
    Start {
        actor: usize,
    },
    Act {
        case: usize,
        action: usize,
        actor: usize,
        variant: usize,
    },
    Advance {
        hours: i64,
    },
    /// An operator control: suspend, resume, cancel, or repair to one of [`REPAIR_TO`].
    Control {
        case: usize,
        kind: usize,
    },
}

const REPAIR_TO: &[&str] = &["open", "working", "closed", "nowhere"];

/// Mostly the owner and the mentor, who can do the most.
fn actor() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 3 => Just(2usize), 2 => Just(3usize), 2 => Just(1usize), 1 => Just(4usize)]
}

/// Weighted towards the actions that change the case.
fn action() -> impl Strategy<Value = usize> {
    let weights = [3u32, 3, 2, 3, 1, 2, 1, 2, 1, 1];
    prop::sample::select(
        weights
            .iter()
            .enumerate()
            .flat_map(|(i, w)| std::iter::repeat_n(i, *w as usize))
            .collect::<Vec<usize>>(),
    )
}

/// Mostly the first (valid) input variant.
fn variant() -> impl Strategy<Value = usize> {
    prop_oneof![4 => Just(0usize), 2 => 0..4usize]
}

/// Mostly the first case (copies are final and refuse everything).
fn case() -> impl Strategy<Value = usize> {
    prop_oneof![6 => Just(0usize), 2 => 0..8usize]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => actor().prop_map(|actor| Step::Start { actor }),
        8 => (case(), action(), actor(), variant()).prop_map(
            |(case, action, actor, variant)| Step::Act { case, action, actor, variant }
        ),
        2 => (1..80i64).prop_map(|hours| Step::Advance { hours }),
        2 => (case(), 0..7usize).prop_map(|(case, kind)| Step::Control { case, kind }),
    ]
}

fn engine() -> Engine {
    let (e, _) = support::engine_for("story.yaml", STORY);
    e.put_person(&Person::new("ghost_free").org("ch1")).unwrap();
    e.put_person(&Person::new("olga").org("ch1").role("admin"))
        .unwrap();
    e
}

/// Every case's history folds into its stored snapshot, with contiguous sequence numbers.
fn check_all(e: &Engine) -> Result<(), TestCaseError> {
    for c in e.cases(&Default::default()).unwrap() {
        let h = e.history(c.id, None).unwrap();
        let seqs: Vec<u64> = h.iter().map(|ev| ev.seq).collect();
        prop_assert_eq!(seqs, (1..=h.len() as u64).collect::<Vec<_>>());
        let folded = mentorflow::fold(&h).unwrap();
        prop_assert!(
            folded.matches(&c),
            "case {}: fold {:?}\n!= stored {:?}",
            c.id,
            folded,
            c
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn folding_the_history_gives_the_stored_case(
        taken in any::<bool>(),
        steps in prop::collection::vec(step(), 1..40),
    ) {
        let e = engine();
        let first = e.start("story", "create", "pat", json!({})).unwrap();
        if taken {
            e.act(first.id, "join", "pat", json!({"who": "bob"})).unwrap();
            e.act(first.id, "take", "cody", json!({"lead": "alice"})).unwrap();
        }
        for s in &steps {
            match s {
                Step::Start { actor } => {
                    // only people with an organisation may start (zed's is another one)
                    e.start("story", "create", ACTORS[*actor], json!({})).unwrap();
                }
                Step::Act { case, action, actor, variant } => {
                    let mut ids: Vec<i64> = e.cases(&Default::default()).unwrap().iter().map(|c| c.id).collect();
                    ids.sort_unstable();
                    let id = ids[case % ids.len()];
                    let action = ACTIONS[*action];
                    let before = e.get(id, None).unwrap();
                    let before_events = e.history(id, None).unwrap().len();
                    match e.act(id, action, ACTORS[*actor], inputs(action, *variant)) {
                        Ok(after) => {
                            prop_assert_eq!(after.revision, before.revision + 1);
                            prop_assert_eq!(e.history(id, None).unwrap().len(), before_events + 1);
                        }
                        Err(err) => {
                            prop_assert!(
                                matches!(err.code(), "not_found" | "not_permitted" | "guard_rejected" | "validation" | "suspended" | "cancelled"),
                                "unexpected error: {:?}", err
                            );
                            prop_assert_eq!(e.get(id, None).unwrap(), before);
                            prop_assert_eq!(e.history(id, None).unwrap().len(), before_events);
                        }
                    }
                }
                Step::Advance { hours } => {
                    let r = e.advance_by(Duration::hours(*hours)).unwrap();
                    prop_assert!(r.failed.is_empty(), "{:?}", r);
                }
                Step::Control { case, kind } => {
                    let mut ids: Vec<i64> = e.cases(&Default::default()).unwrap().iter().map(|c| c.id).collect();
                    ids.sort_unstable();
                    let id = ids[case % ids.len()];
                    let before = e.get(id, None).unwrap();
                    let before_events = e.history(id, None).unwrap().len();
                    let r = match kind {
                        0 => e.suspend_case(id, "olga", "checking"),
                        1 => e.resume_case(id, "olga", "checked"),
                        2 => e.cancel_case(id, "olga", "withdrawn"),
                        k => e.repair_case(id, REPAIR_TO[k - 3], "olga", "fix"),
                    };
                    match r {
                        Ok(after) => {
                            prop_assert_eq!(after.revision, before.revision + 1);
                            prop_assert_eq!(e.history(id, None).unwrap().len(), before_events + 1);
                        }
                        Err(err) => {
                            prop_assert!(
                                matches!(err.code(), "not_found" | "validation" | "cancelled"),
                                "unexpected error: {:?}", err
                            );
                            prop_assert_eq!(e.get(id, None).unwrap(), before);
                            prop_assert_eq!(e.history(id, None).unwrap().len(), before_events);
                        }
                    }
                }
            }
            check_all(&e)?;
        }
    }
}

#[test]
fn a_long_scripted_story_folds() {
    let e = engine();
    let c = e.start("story", "create", "pat", json!({})).unwrap();
    e.act(c.id, "schedule", "pat", json!({"when": "2026-11-26"}))
        .unwrap();
    e.act(c.id, "join", "pat", json!({"who": "bob"})).unwrap();
    e.act(c.id, "take", "cody", json!({"lead": "alice"}))
        .unwrap();
    e.act(c.id, "write", "bob", json!({"text": "hi"})).unwrap();
    e.act(c.id, "copy", "pat", json!({})).unwrap();
    e.advance("3 days").unwrap();
    e.act(c.id, "leave", "pat", json!({"who": "bob"})).unwrap();
    let r = e.advance("4 days").unwrap();
    assert_eq!(r.fired, 3, "{r:?}");
    let c = e.get(c.id, None).unwrap();
    // stalled back to open on Tue 24, nudged on Wed 25, lapsed on Thu 26
    assert_eq!(c.state, "closed");
    assert_eq!(c.data["count"], json!(12), "entered open twice, one nudge");
    let h = e.history(c.id, None).unwrap();
    let actions: Vec<&str> = h.iter().map(|ev| ev.action.as_str()).collect();
    assert!(actions.contains(&"stall"), "{actions:?}");
    assert!(actions.contains(&"lapse"), "{actions:?}");
    assert!(actions.contains(&"timer:nudge"), "{actions:?}");
    assert!(
        !c.data.contains_key("note"),
        "cleared when leaving `working`"
    );
    assert_eq!(c.data["tags"], json!(["w"]));
    assert_eq!(c.participant("lead"), None);
    assert_eq!(c.participants.get("team"), None);
    for case in e.cases(&Default::default()).unwrap() {
        support::assert_folds(&e, case.id);
    }
    assert_eq!(e.cases(&Default::default()).unwrap().len(), 2);
}
