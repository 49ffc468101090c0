//! Lists of typed records (`type: list, of: { fields: … }`): each item is checked like a
//! case's fields, whoever writes it (start data, an action's input, a script), and the
//! definition's own mistakes are reported at their place.
#![allow(clippy::unwrap_used)]

use mentorflow::script::Scripts;
use mentorflow::{Engine, Error, Limits, ManualClock};
use serde_json::json;

const W: &str = r#"
workflow: log
version: 1
roles:
  mentor: {}
fields:
  sessions:
    type: list
    of:
      fields:
        date: { type: date, required: true }
        minutes: { type: int, required: true, min: 1, max: 1440 }
        kind: { type: string, one_of: [phone, video] , default: phone }
        summary: { type: text, max_length: 20 }
    computed: true
  planned:
    type: list
    of: { fields: { date: { type: date, required: true } } }
states:
  open: {}
  done: { final: true }
actions:
  start: { to: open, by: mentor }
  finish: { from: open, to: done, by: mentor }
  log:
    from: open
    by: mentor
    inputs:
      date: { type: date, required: true }
      minutes: { type: int, required: true }
      kind: { type: string }
    run: |
      let r = #{ date: inputs.date, minutes: inputs.minutes };
      if inputs.kind != () { r.kind = inputs.kind; }
      let all = fields.sessions ?? [];
      all.push(r);
      fields.sessions = all;
  plan:
    from: open
    by: mentor
    inputs:
      planned:
        type: list
        of: { fields: { date: { type: date, required: true } } }
    run: fields.planned = inputs.planned;
"#;

fn engine() -> Engine {
    let e = Engine::builder()
        .in_memory()
        .workflow_str("log.yaml", W)
        .clock(ManualClock::at("2026-11-20T10:00:00Z".parse().unwrap()))
        .build()
        .unwrap();
    e.put_org(&mentorflow::OrgPatch {
        id: "o".into(),
        ..Default::default()
    })
    .unwrap();
    e.put_person(&mentorflow::PersonPatch {
        id: "m".into(),
        org: Some(Some("o".into())),
        roles: Some(vec!["mentor".into()]),
        ..Default::default()
    })
    .unwrap();
    e
}

fn message(e: Error) -> String {
    e.to_string()
}

#[test]
fn records_are_typed_normalised_and_defaulted_whoever_writes_them() {
    let e = engine();
    let c = e.start("log", "start", "m", json!({})).unwrap();
    let c2 = e
        .act(
            c.id,
            "log",
            "m",
            json!({"date": "2026-11-19", "minutes": 45}),
        )
        .unwrap();
    assert_eq!(
        c2.data["sessions"],
        json!([{ "date": "2026-11-19", "minutes": 45, "kind": "phone" }])
    );
    // a value the record refuses fails the action and changes nothing
    let err = e
        .act(
            c.id,
            "log",
            "m",
            json!({"date": "2026-11-19", "minutes": 0}),
        )
        .unwrap_err();
    assert!(
        message(err).contains("item 2: `minutes` must be at least 1, got 0"),
        "the item and the field are named"
    );
    let err = e
        .act(
            c.id,
            "log",
            "m",
            json!({"date": "2026-11-19", "minutes": 5, "kind": "fax"}),
        )
        .unwrap_err();
    let m = message(err);
    assert!(
        m.contains("item 2: `kind`") && m.contains("not one of the allowed values"),
        "{m}"
    );
    assert_eq!(e.get(c.id, None).unwrap().revision, c2.revision);
    // an input that is a list of records: unknown keys and missing required fields
    let err = e
        .act(
            c.id,
            "plan",
            "m",
            json!({"planned": [{"date": "2026-12-01"}, {"dat": "2026-12-08"}]}),
        )
        .unwrap_err();
    assert!(message(err).contains("item 2 has an unknown key `dat`; did you mean `date`?"),);
    let err = e
        .act(c.id, "plan", "m", json!({"planned": [{}]}))
        .unwrap_err();
    assert!(message(err).contains("item 1: `date` is required"));
    let err = e
        .act(c.id, "plan", "m", json!({"planned": ["2026-12-01"]}))
        .unwrap_err();
    let m = message(err);
    assert!(
        m.contains("planned") && m.contains("2026-12-01"),
        "a bare date is not a record: {m}"
    );
    let ok = e
        .act(
            c.id,
            "plan",
            "m",
            json!({"planned": [{"date": "2026-12-01"}]}),
        )
        .unwrap();
    assert_eq!(ok.data["planned"], json!([{ "date": "2026-12-01" }]));
}

#[test]
fn a_records_definition_mistakes_are_reported_at_their_place() {
    let scripts = Scripts::new(Limits::default());
    let bad = r#"
workflow: bad
version: 1
roles: { a: {} }
fields:
  one: { type: string, of: { fields: { x: { type: int } } } }
  two: { type: list, of: { feilds: { x: { type: int } } } }
  three: { type: list, of: { fields: { x: { type: dat } } } }
  four: { type: list, of: { fields: {} } }
states: { s: {} }
actions: { go: { to: s, by: a } }
"#;
    let Err(Error::Definition { problems }) =
        mentorflow::definition::load_str(bad, "bad.yaml", &scripts)
    else {
        panic!("the definition must be refused")
    };
    let got: Vec<(usize, String)> = problems
        .iter()
        .map(|p| (p.line, p.message.clone()))
        .collect();
    let has = |line: usize, piece: &str| got.iter().any(|(l, m)| *l == line && m.contains(piece));
    assert!(has(6, "`of` is only for lists"), "{got:#?}");
    assert!(
        has(7, "unknown key `feilds` in `of`; did you mean `fields`?"),
        "{got:#?}"
    );
    assert!(
        has(8, "unknown type `dat`; did you mean `date`?"),
        "{got:#?}"
    );
    assert!(has(9, "a record needs at least one field"), "{got:#?}");
}
