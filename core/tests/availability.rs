//! What a person may do, asked before doing it (engine/availability.rs): the start actions
//! offered to them (their organisation, the start's role and its input-free guards) and, for a
//! case, every action of theirs with why it is not possible now (seed 001: a mentor must
//! accept before adding a session).
#![allow(clippy::unwrap_used)]

#[path = "support/backend.rs"]
mod backend;
use backend::Fresh;

use std::path::PathBuf;

use mentorflow::{Engine, Error, ManualClock, Org, Person, UnavailableReason, WORKFLOWS_SETTING};
use serde_json::json;

fn workflows_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workflows")
}

/// The shipped workflows with a SCORE chapter and a contact centre, neither naming the
/// workflows it uses (the directory decides).
fn engine() -> Engine {
    let clock = ManualClock::at("2026-11-20T15:00:00Z".parse().unwrap());
    let e = Engine::builder()
        .fresh()
        .workflows_dir(workflows_dir())
        .clock(clock)
        .build()
        .unwrap();
    e.replace_org(&Org::new("ch12").timezone("America/New_York"))
        .unwrap();
    e.replace_org(&Org::new("northwind").timezone("America/Chicago"))
        .unwrap();
    e.put_people(&[
        Person::new("pat").name("Pat Client").org("ch12"),
        Person::new("cody").org("ch12").role("coordinator"),
        Person::new("alice")
            .name("Alice Mentor")
            .org("ch12")
            .role("mentor")
            .attr("classification", "active"),
        Person::new("sam")
            .org("ch12")
            .role("mentor")
            .attr("classification", "sme"),
        Person::new("ana").org("northwind").role("agent"),
        Person::new("sue").org("northwind").role("supervisor"),
        Person::new("kim").org("guild"),
    ])
    .unwrap();
    e
}

fn starts(e: &Engine, who: &str) -> Vec<String> {
    e.start_actions_for(who)
        .unwrap()
        .into_iter()
        .map(|s| format!("{}.{}", s.workflow, s.action))
        .collect()
}

#[test]
fn a_contact_centre_agent_is_offered_only_the_contact_centres_start() {
    let e = engine();
    // northwind's people hold agent/supervisor: only agent_exception names those roles
    assert_eq!(starts(&e, "ana"), ["agent_exception.create"]);
    // the supervisor takes part in the workflow, but `create` is done by agents
    assert!(starts(&e, "sue").is_empty(), "{:?}", starts(&e, "sue"));
    // an organisation whose people hold no directory role a workflow names: nothing
    assert!(starts(&e, "kim").is_empty(), "{:?}", starts(&e, "kim"));
}

#[test]
fn a_start_guard_that_reads_no_inputs_decides_the_offer() {
    let e = engine();
    let alice = starts(&e, "alice");
    assert!(
        alice.contains(&"score_request.add_client".to_owned()),
        "{alice:?}"
    );
    // Sam is a subject matter expert: add_client's guard (active mentors only) refuses him
    let sam = starts(&e, "sam");
    assert!(
        !sam.contains(&"score_request.add_client".to_owned()),
        "{sam:?}"
    );
    assert!(sam.contains(&"score_request.submit".to_owned()), "{sam:?}");
    // and starting it anyway is refused by that same guard
    let refused = e.start(
        "score_request",
        "add_client",
        "sam",
        json!({"client_name": "Sam's client"}),
    );
    assert!(
        matches!(refused, Err(Error::GuardRejected { .. })),
        "{refused:?}"
    );
    // the client is offered the score_request starts; request_mentor's guard reads inputs,
    // so it is offered and judged when submitted
    let pat = starts(&e, "pat");
    for s in ["score_request.submit", "score_request.request_mentor"] {
        assert!(pat.contains(&s.to_owned()), "{pat:?}");
    }
    assert!(!pat.iter().any(|s| s.starts_with("agent_exception.")));
}

#[test]
fn every_offered_start_really_starts() {
    let e = engine();
    for who in ["pat", "alice", "sam", "ana", "cody"] {
        for s in e.start_actions_for(who).unwrap() {
            // without data: refused for its data (a required field), never for who asks
            match e.start(&s.workflow, &s.action, who, json!({})) {
                Ok(_) => {}
                Err(Error::Validation { .. }) => {}
                Err(other) => panic!("{who} was offered {}.{}: {other}", s.workflow, s.action),
            }
        }
    }
}

#[test]
fn the_workflows_setting_names_what_an_organisation_uses_and_start_obeys_it() {
    let e = engine();
    e.put_org(
        mentorflow::OrgPatch::new("ch12").setting(WORKFLOWS_SETTING, json!(["score_request"])),
    )
    .unwrap();
    let pat = starts(&e, "pat");
    assert!(
        pat.iter().all(|s| s.starts_with("score_request.")),
        "{pat:?}"
    );
    assert!(!pat.is_empty());
    // a start of a workflow the organisation does not use is refused, and creates nothing
    let before = e.cases(&Default::default()).unwrap().len();
    let refused = e.start(
        "engagement",
        "create",
        "pat",
        json!({"focus_areas": ["finance"]}),
    );
    match refused {
        Err(Error::NotPermitted { message, .. }) => {
            assert!(
                message.contains("does not use workflow `engagement`"),
                "{message}"
            );
            assert!(message.contains("score_request"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.cases(&Default::default()).unwrap().len(), before);
    // the setting is checked: a list of loaded workflow ids
    match e.put_org(
        mentorflow::OrgPatch::new("ch12").setting(WORKFLOWS_SETTING, json!(["score_reqest"])),
    ) {
        Err(Error::Validation { field, message, .. }) => {
            assert_eq!(field.as_deref(), Some("settings.workflows"));
            assert!(message.contains("score_request"), "did you mean: {message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        e.put_org(
            mentorflow::OrgPatch::new("ch12").setting(WORKFLOWS_SETTING, json!("score_request"))
        ),
        Err(Error::Validation { .. })
    ));
    // null removes it: the directory decides again
    e.put_org(mentorflow::OrgPatch::new("ch12").setting(WORKFLOWS_SETTING, json!(null)))
        .unwrap();
    assert!(starts(&e, "pat")
        .iter()
        .any(|s| s.starts_with("engagement.")));
}

fn available(e: &Engine, id: i64, who: &str) -> Vec<String> {
    e.action_availability(id, who)
        .unwrap()
        .into_iter()
        .filter(|a| a.available())
        .map(|a| a.action)
        .collect()
}

#[test]
fn a_mentor_is_told_to_accept_before_adding_a_session() {
    let e = engine();
    let id = e
        .start(
            "score_request",
            "submit",
            "pat",
            json!({"client_name": "Pat's Bakery"}),
        )
        .unwrap()
        .id;
    e.act(id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    let list = e.action_availability(id, "alice").unwrap();
    let log = list.iter().find(|a| a.action == "log_session").unwrap();
    let why = log
        .unavailable
        .as_ref()
        .expect("log_session is not possible yet");
    assert_eq!(why.reason, UnavailableReason::State);
    assert!(
        why.message.starts_with(
            "You must accept or decline this mentoring request before adding a session"
        ),
        "{}",
        why.message
    );
    assert_eq!(why.possible_in, ["In Progress"]);
    for s in ["accept", "decline"] {
        assert!(why.suggest.contains(&s.to_owned()), "{:?}", why.suggest);
    }
    // an action without an `unavailable:` text gets one that names the state
    let refer = list.iter().find(|a| a.action == "refer").unwrap();
    let msg = &refer.unavailable.as_ref().unwrap().message;
    assert!(
        msg.contains("Refer Mentor") && msg.contains("Assigned"),
        "{msg}"
    );
    // what is possible now is exactly `actions()`
    assert_eq!(available(&e, id, "alice"), e.actions(id, "alice").unwrap());
    assert!(available(&e, id, "alice").contains(&"accept".to_owned()));
    // the message is the one a refused act gives
    match e.act(
        id,
        "log_session",
        "alice",
        json!({"duration": 30, "kind": "phone"}),
    ) {
        Err(Error::GuardRejected { message, .. }) => assert_eq!(message, why.message),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_guard_that_reads_no_inputs_refuses_with_its_message() {
    let e = engine();
    let id = e
        .start(
            "score_request",
            "submit",
            "pat",
            json!({"client_name": "Pat's Bakery"}),
        )
        .unwrap()
        .id;
    e.act(id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    e.act(id, "accept", "alice", json!({"note": "Hello"}))
        .unwrap();
    e.act(id, "add_team_member", "alice", json!({"member": "sam"}))
        .unwrap();
    let sam = e.action_availability(id, "sam").unwrap();
    let log = sam.iter().find(|a| a.action == "log_session").unwrap();
    let why = log
        .unavailable
        .as_ref()
        .expect("an SME cannot log sessions");
    assert_eq!(why.reason, UnavailableReason::Guard);
    assert!(
        why.message
            .starts_with("Only active mentors can add sessions."),
        "{}",
        why.message
    );
    assert_eq!(available(&e, id, "sam"), e.actions(id, "sam").unwrap());
    // Alice, the lead mentor, may log one
    assert!(available(&e, id, "alice").contains(&"log_session".to_owned()));
    // a person who may not see the case: not found, like a missing case
    assert!(matches!(
        e.action_availability(id, "kim"),
        Err(Error::NotFound { .. })
    ));
    assert!(matches!(
        e.action_availability(999, "alice"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn an_agent_is_told_she_cannot_accept_her_own_request_and_a_closed_case_offers_nothing_more() {
    let e = engine();
    e.put_people(&[Person::new("ben").org("northwind").role("agent")])
        .unwrap();
    let id = e
        .start(
            "agent_exception",
            "create",
            "ana",
            json!({"mentoring_date": "2026-12-12", "exception_type": "Coaching", "start_time": "10:00",
                   "end_time": "11:00", "description": "Side-by-side on escalations."}),
        )
        .unwrap()
        .id;
    let ana = e.action_availability(id, "ana").unwrap();
    let accept = ana.iter().find(|a| a.action == "accept").unwrap();
    let why = accept.unavailable.as_ref().unwrap();
    assert_eq!(why.reason, UnavailableReason::Guard);
    assert_eq!(why.message, "You cannot accept your own request");
    assert!(available(&e, id, "ben").contains(&"accept".to_owned()));
    e.act(id, "accept", "ben", json!({})).unwrap();
    e.act(id, "confirm", "ana", json!({})).unwrap();
    e.act(id, "approve", "sue", json!({})).unwrap();
    // Approved is final: nothing is listed as "not possible now" any more
    for who in ["ana", "ben", "sue"] {
        let list = e.action_availability(id, who).unwrap();
        assert!(list.iter().all(|a| a.available()), "{who}: {list:?}");
        assert_eq!(available(&e, id, who), e.actions(id, who).unwrap());
    }
}

/// A description is shown to the people who use the flow (start buttons, forms, the case
/// page's "Coming up"): notes for authors belong in YAML comments.
#[test]
fn the_shipped_workflows_descriptions_speak_to_their_users() {
    let e = engine();
    for def in e.definitions() {
        let mut texts: Vec<(String, &str)> = Vec::new();
        for a in &def.actions {
            if let Some(d) = &a.description {
                texts.push((format!("action {}", a.id), d));
            }
            for i in &a.inputs {
                if let Some(d) = &i.description {
                    texts.push((format!("input {}.{}", a.id, i.name), d));
                }
            }
        }
        for v in &def.views {
            if let Some(d) = &v.description {
                texts.push((format!("view {}", v.name), d));
            }
        }
        for s in &def.states {
            for t in &s.timers {
                if let Some(d) = &t.description {
                    texts.push((format!("timer {}.{}", s.id, t.name), d));
                }
            }
        }
        for (what, text) in texts {
            let lower = text.to_lowercase();
            assert!(
                !lower.contains("seed ") && !text.contains('`'),
                "{}: {what}'s description reads like a note for authors: {text}",
                def.id
            );
        }
    }
}

const TINY: &str = r#"
workflow: tiny
version: 1
roles:
  client: {}
states:
  open: { label: Open }
  done: { label: Done, final: true }
templates:
  hello:
    actions: [finish, finsh, begin, tick]
    subject: "Hi"
    body: "Hello"
actions:
  begin: { to: open, by: client }
  finish: { from: open, to: done, by: client }
  tick: { from: open, to: done, by: system }
"#;

#[test]
fn a_templates_actions_must_be_actions_people_do_on_a_case() {
    let err = Engine::builder()
        .in_memory()
        .workflow_str("tiny.yaml", TINY)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("templates.hello.actions[1]") && err.contains("unknown action `finsh`"),
        "{err}"
    );
    assert!(err.contains("did you mean `finish`"), "{err}");
    assert!(
        err.contains("templates.hello.actions[2]") && err.contains("cannot invite `begin`"),
        "{err}"
    );
    assert!(
        err.contains("templates.hello.actions[3]") && err.contains("cannot invite `tick`"),
        "{err}"
    );
    assert!(!err.contains("actions[0]"), "{err}");
    // `workflows` is the engine's own organisation setting
    let reserved = TINY.replace("roles:", "settings:\n  workflows: [tiny]\nroles:");
    let reserved = reserved.replace("[finish, finsh, begin, tick]", "[finish]");
    let err = Engine::builder()
        .in_memory()
        .workflow_str("tiny.yaml", &reserved)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("settings.workflows") && err.contains("engine's own"),
        "{err}"
    );
}

#[test]
fn views_of_a_workflow_the_organisation_does_not_take_part_in_are_not_offered() {
    let e = engine();
    let workflows = |who: &str| -> Vec<String> {
        let mut w: Vec<String> = e
            .views_for(who)
            .unwrap()
            .into_iter()
            .map(|v| v.workflow)
            .collect();
        w.dedup();
        w
    };
    // agent_exception has a case role `mentor`, but no chapter person works in a contact centre
    assert!(
        !workflows("alice").contains(&"agent_exception".to_owned()),
        "{:?}",
        workflows("alice")
    );
    assert!(workflows("alice").contains(&"score_request".to_owned()));
    assert_eq!(workflows("ana"), ["agent_exception"]);
    // exports follow the views
    let exports: Vec<String> = e
        .exports_for("alice")
        .unwrap()
        .into_iter()
        .map(|x| x.workflow)
        .collect();
    assert!(
        exports.iter().all(|w| workflows("alice").contains(w)),
        "{exports:?}"
    );
    assert!(exports.contains(&"score_request".to_owned()));
    assert!(e.exports_for("kim").unwrap().is_empty());
    // a mentor of another organisation on this chapter's case keeps that workflow's views
    e.put_people(&[Person::new("omar")
        .org("guild")
        .role("mentor")
        .attr("classification", "active")])
        .unwrap();
    assert!(!workflows("omar").contains(&"score_request".to_owned()));
    let id = e
        .start(
            "score_request",
            "submit",
            "pat",
            json!({"client_name": "Team case"}),
        )
        .unwrap()
        .id;
    e.act(id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    e.act(id, "accept", "alice", json!({"note": "hi"})).unwrap();
    e.act(id, "add_team_member", "alice", json!({"member": "omar"}))
        .unwrap();
    assert!(
        workflows("omar").contains(&"score_request".to_owned()),
        "{:?}",
        workflows("omar")
    );
}
