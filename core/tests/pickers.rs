//! Person pickers (issue 12): `choices:` on a person input, `Engine::candidates` (by role,
//! by guard, bounded), `Engine::people_named`, and the loader's errors for a bad `choices`.
#![allow(clippy::unwrap_used)]

mod support;

use mentorflow::engine::CANDIDATE_LIMIT;
use mentorflow::{Engine, Error, OrgPatch, Person};
use serde_json::json;
use support::Fresh;

const FLOW: &str = r#"
workflow: pick
version: 1
roles:
  coordinator: { directory: coordinator }
  mentor: {}
states:
  queue: {}
  assigned: {}
  done: { final: true }
actions:
  open: { to: queue, by: coordinator }
  assign:
    from: queue
    to: assigned
    by: coordinator
    inputs:
      mentor: { type: person, required: true, choices: { role: mentor, guard: true } }
      note: { type: text }
    guard:
      - when: 'person(inputs.mentor).classification == "active"'
        message: Only active mentors.
      - when: 'inputs.note == () || inputs.mentor != ""'
        message: not judged for a candidate (reads another input)
    run: 'assign("mentor", inputs.mentor)'
  hand_over:
    from: queue
    to: queue
    by: coordinator
    inputs:
      to: { type: person, required: true, choices: { role: mentor } }
  anyone:
    from: queue
    by: coordinator
    inputs:
      who: { type: person }
  finish: { from: assigned, to: done, by: mentor }
"#;

fn engine() -> Engine {
    let e = Engine::builder()
        .fresh()
        .workflow_str("pick.yaml", FLOW)
        .build()
        .unwrap();
    e.put_org(OrgPatch::new("ch")).unwrap();
    e.put_org(OrgPatch::new("other")).unwrap();
    e.put_person(
        &Person::new("cora")
            .name("Cora")
            .org("ch")
            .role("coordinator"),
    )
    .unwrap();
    for (id, class) in [("m1", "active"), ("m2", "provisional"), ("m3", "active")] {
        e.put_person(
            &Person::new(id)
                .name(id.to_uppercase())
                .org("ch")
                .role("mentor")
                .attr("classification", class),
        )
        .unwrap();
    }
    // a mentor of another organisation is never a candidate here
    e.put_person(
        &Person::new("x1")
            .org("other")
            .role("mentor")
            .attr("classification", "active"),
    )
    .unwrap();
    e.put_person(&Person::new("client").org("ch")).unwrap();
    e
}

fn ids(c: &mentorflow::engine::Candidates) -> Vec<&str> {
    c.people.iter().map(|p| p.id.as_str()).collect()
}

#[test]
fn a_guarded_picker_offers_only_the_people_the_guard_accepts() {
    let e = engine();
    let case = e.start("pick", "open", "cora", json!({})).unwrap();
    let c = e.candidates(case.id, "assign", "mentor", "cora").unwrap();
    // by role, then by the guard that reads only `inputs.mentor`; the guard that also reads
    // `inputs.note` is not judged for a candidate
    assert_eq!(ids(&c), ["m1", "m3"]);
    assert!(!c.more);
    // what it offers, the engine accepts; what it leaves out, the engine refuses
    assert!(matches!(
        e.act(case.id, "assign", "cora", json!({"mentor": "m2"})),
        Err(Error::GuardRejected { .. })
    ));
    // judging the candidates changed nothing
    assert_eq!(e.get(case.id, None).unwrap().revision, case.revision);
    e.act(case.id, "assign", "cora", json!({"mentor": "m3"}))
        .unwrap();

    // by role only: every mentor of the organisation; without `choices`: all its people
    let case = e.start("pick", "open", "cora", json!({})).unwrap();
    let by_role = e.candidates(case.id, "hand_over", "to", "cora").unwrap();
    assert_eq!(ids(&by_role), ["m1", "m2", "m3"]);
    let all = e.candidates(case.id, "anyone", "who", "cora").unwrap();
    assert_eq!(ids(&all), ["client", "cora", "m1", "m2", "m3"]);
}

#[test]
fn candidates_refuse_what_the_viewer_may_not_see_or_what_is_not_a_person_input() {
    let e = engine();
    let case = e.start("pick", "open", "cora", json!({})).unwrap();
    // a person who may not see the case is told it does not exist
    assert!(matches!(
        e.candidates(case.id, "assign", "mentor", "client"),
        Err(Error::NotFound { .. })
    ));
    for (action, input) in [
        ("assign", "note"),
        ("assign", "nobody"),
        ("nope", "mentor"),
        ("open", "mentor"),
    ] {
        assert!(
            matches!(
                e.candidates(case.id, action, input, "cora"),
                Err(Error::NotFound { .. })
            ),
            "{action}.{input}"
        );
    }
    assert!(matches!(
        e.candidates(999, "assign", "mentor", "cora"),
        Err(Error::NotFound { .. })
    ));
}

#[test]
fn candidates_are_bounded_and_say_so() {
    let e = engine();
    for i in 0..CANDIDATE_LIMIT + 5 {
        e.put_person(
            &Person::new(format!("n{i:04}"))
                .org("ch")
                .role("mentor")
                .attr("classification", "active"),
        )
        .unwrap();
    }
    let case = e.start("pick", "open", "cora", json!({})).unwrap();
    let c = e.candidates(case.id, "hand_over", "to", "cora").unwrap();
    assert_eq!(c.people.len(), CANDIDATE_LIMIT);
    assert!(c.more);
    let g = e.candidates(case.id, "assign", "mentor", "cora").unwrap();
    assert!(g.more);
    assert!(g.people.len() <= CANDIDATE_LIMIT);
    assert!(g.people.iter().all(|p| p.id != "m2"));
}

#[test]
fn people_named_loads_only_those_asked_for_in_order_once() {
    let e = engine();
    let got = e.people_named(&["m3", "nobody", "cora", "m3"]).unwrap();
    let got: Vec<&str> = got.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(got, ["m3", "cora"]);
    assert!(e.people_named::<&str>(&[]).unwrap().is_empty());
}

#[test]
fn a_bad_choices_is_refused_with_where_and_why() {
    let bad = |input: &str, guard: &str| -> String {
        let src = format!(
            "workflow: b\nversion: 1\nroles: {{ a: {{}} }}\nstates:\n  s: {{}}\n  d: {{ final: true }}\nactions:\n  go:\n    to: s\n    by: a\n    inputs:\n      {input}\n{guard}  end: {{ from: s, to: d, by: a }}\n"
        );
        match Engine::builder()
            .in_memory()
            .workflow_str("b.yaml", &src)
            .build()
        {
            Ok(_) => panic!("accepted: {src}"),
            Err(e) => e.to_string(),
        }
    };
    let m = bad("who: { type: string, choices: guard }", "");
    assert!(
        m.contains("`choices` is only for inputs of type `person`"),
        "{m}"
    );
    let m = bad("who: { type: person, choices: everyone }", "");
    assert!(m.contains("`choices` must be `guard` or"), "{m}");
    assert!(m.contains("choices"), "{m}");
    let m = bad(
        "who: { type: person, choices: { role: mentor, gaurd: true } }",
        "",
    );
    assert!(m.contains("unknown key `gaurd` in `choices`"), "{m}");
    let m = bad("who: { type: person, choices: { guard: yes please } }", "");
    assert!(
        m.contains("`guard` in `choices` must be true or false"),
        "{m}"
    );
    let m = bad("who: { type: person, choices: guard }", "");
    assert!(
        m.contains("no guard of action `go` reads `inputs.who`"),
        "{m}"
    );
    // a guard that reads the input makes it good
    let src = "workflow: b\nversion: 1\nroles: { a: {} }\nstates:\n  s: {}\n  d: { final: true }\nactions:\n  go:\n    to: s\n    by: a\n    inputs:\n      who: { type: person, choices: guard }\n    guard: 'inputs.who != actor.id'\n  end: { from: s, to: d, by: a }\n";
    Engine::builder()
        .in_memory()
        .workflow_str("b.yaml", src)
        .build()
        .unwrap();
}
