//! Random input against the shipped workflows: sequences of `start`, `act` and clock moves with
//! actions, actors and inputs drawn at random — mostly well-typed values, often hostile ones
//! (wrong types, unknown names, control characters, SQL-looking text, dates out of range,
//! naive times, deep and large values), people who hold no role, ids nobody has.
//!
//! After every command: an accepted one bumped the revision by one and recorded exactly that
//! action by that person; a refused one is an ordinary answer (`validation`,
//! `guard_rejected`, `not_permitted`, `not_found`) and changed nothing; nothing is ever a
//! script or storage error — a shipped workflow must not break on what a caller sends. At the
//! end every history folds into its case and no notification carries a private value.
//!
//! `MF_LONG=1` runs many more sequences (`scripts/long-tests.sh`).
#![allow(clippy::unwrap_used)]

#[path = "support/backend.rs"]
mod backend;
use backend::Fresh;

use std::path::Path;

use mentorflow::definition::FieldType;
use mentorflow::{Engine, ManualClock, NotificationFilter, Org, Person, Start};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngSeed};
use serde_json::{json, Map, Value};

const PRIVATE: &str = "PRIVATE-MARKER";

fn t0() -> chrono::DateTime<chrono::Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

/// People of every kind the shipped flows know, in two organisations, plus odd ids.
fn people() -> Vec<Person> {
    let mentor = |id: &str, class: &str, areas: Value| {
        Person::new(id)
            .name(format!("Mentor {id}"))
            .org("ch1")
            .role("mentor")
            .attr("classification", class)
            .attr("focus_areas", areas)
            .attr("max_requests_per_week", 1000)
    };
    vec![
        Person::new("pat")
            .name("Pat")
            .org("ch1")
            .attr("manager", "max"),
        Person::new("max").name("Max Manager").org("ch1"),
        Person::new("cody").org("ch1").role("coordinator"),
        Person::new("pia").org("ch1").role("partner"),
        Person::new("ann").org("ch1").role("agent"),
        Person::new("bea").org("ch1").role("agent"),
        Person::new("sue").org("ch1").role("supervisor"),
        mentor("alice", "active", json!(["marketing", "finance"])),
        mentor("bob", "provisional", json!(["finance"])),
        mentor("sme", "sme", json!(["hr"])),
        mentor("carl", "active", json!(["hr", "marketing"])),
        Person::new("olga")
            .org("ch2")
            .role("coordinator")
            .role("agent")
            .role("supervisor")
            .role("mentor")
            .attr("classification", "active")
            .attr("focus_areas", json!(["marketing"])),
        Person::new("x'); DROP TABLE cases;--")
            .org("ch1")
            .role("agent"),
    ]
}

const ACTORS: &[&str] = &[
    "pat",
    "max",
    "cody",
    "pia",
    "ann",
    "bea",
    "sue",
    "alice",
    "bob",
    "sme",
    "carl",
    "olga",
    "x'); DROP TABLE cases;--",
    "nobody",
    "system",
    "",
];

fn engine() -> Engine {
    let e = Engine::builder()
        .fresh()
        .workflows_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows"))
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap();
    e.replace_org(
        &Org::new("ch1")
            .timezone("Europe/Paris")
            .setting("manager_validation", true),
    )
    .unwrap();
    e.put_people(&people()).unwrap();
    e
}

/// A hostile value: wrong types, odd text, odd dates, nesting.
fn hostile() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,12}".prop_map(Value::String),
        Just(json!("x'); DROP TABLE cases;--")),
        Just(json!("line\nbreak\u{0}nul\u{1b}[0m")),
        Just(json!("👩🏽‍💻 Zoë مرحبا")),
        Just(json!("2026-02-30")),
        Just(json!("-0001-01-01")),
        Just(json!("9999-12-31")),
        Just(json!("2026-11-20T10:00:00")),
        Just(json!("25:61")),
        Just(json!("")),
        Just(json!(" ")),
        Just(json!("in_progress")),
        Just(json!("complete")),
        Just(json!("y".repeat(6000))),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// What the generator knows of a field or an input.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    required: bool,
    /// Kept by the workflow's scripts: start data may not give it (refused as a validation).
    computed: bool,
    private: bool,
    kind: FieldType,
    of: Option<FieldType>,
}

fn spec(f: &mentorflow::definition::Field) -> Spec {
    Spec {
        name: f.name.clone(),
        required: f.required,
        computed: f.computed,
        private: f.private,
        kind: f.kind,
        of: f.of,
    }
}

fn person() -> BoxedStrategy<Value> {
    prop::sample::select(vec!["alice", "carl", "bob", "sme", "olga", "pat", "max"])
        .prop_map(|p| json!(p))
        .boxed()
}

fn date() -> BoxedStrategy<Value> {
    prop::sample::select(vec!["2026-11-23", "2026-12-01", "2027-01-15", "2027-06-30"])
        .prop_map(|d| json!(d))
        .boxed()
}

/// A well-typed value of a type.
fn typed(kind: FieldType, of: Option<FieldType>) -> BoxedStrategy<Value> {
    match kind {
        FieldType::String | FieldType::Text => {
            prop::sample::select(vec!["Hello", "Call on Monday", "Intro call"])
                .prop_map(|s| json!(s))
                .boxed()
        }
        FieldType::Int => (0i64..5).prop_map(Value::from).boxed(),
        FieldType::Float => (0.0f64..10.0).prop_map(|f| json!(f)).boxed(),
        FieldType::Bool => any::<bool>().prop_map(Value::Bool).boxed(),
        FieldType::Date => date(),
        FieldType::Time => prop::sample::select(vec!["09:00", "10:00", "11:30"])
            .prop_map(|s| json!(s))
            .boxed(),
        FieldType::DateTime => Just(json!("2026-12-01T10:00:00Z")).boxed(),
        FieldType::Person => person(),
        FieldType::List => {
            let item = of.map_or_else(|| typed(FieldType::String, None), |t| typed(t, None));
            prop::collection::vec(item, 0..3)
                .prop_map(Value::Array)
                .boxed()
        }
        FieldType::Map => Just(json!({})).boxed(),
    }
}

/// A plausible value for a field or input of the shipped flows: its type, and the values
/// the flows look for by name.
fn plausible(s: &Spec) -> BoxedStrategy<Value> {
    match s.name.as_str() {
        "status" => prop::sample::select(vec![
            "in_progress",
            "no_response",
            "withdrawn",
            "complete",
            "no_show",
            "incorrect_contact",
        ])
        .prop_map(|s| json!(s))
        .boxed(),
        "end_time" => prop::sample::select(vec!["09:00", "11:30"])
            .prop_map(|s| json!(s))
            .boxed(),
        "exception_type" => prop::sample::select(vec!["Coaching", "Shadowing", "Dancing"])
            .prop_map(|s| json!(s))
            .boxed(),
        "focus_areas" => prop::sample::select(vec![
            json!(["marketing"]),
            json!(["hr"]),
            json!(["finance", "hr"]),
            json!(["astronomy"]),
        ])
        .boxed(),
        "title" => Just(json!("Intro call")).boxed(),
        _ => typed(s.kind, s.of),
    }
}

/// Inputs (or start data): mostly plausible values, sometimes hostile ones, some names left
/// out (often, for the optional fields of a start), sometimes an unknown name added. A private
/// value is marked, so that it can be looked for in notifications.
fn values_for(specs: Vec<Spec>, start: bool) -> BoxedStrategy<Map<String, Value>> {
    let per_name: Vec<BoxedStrategy<Option<(String, Value)>>> = specs
        .into_iter()
        .map(|s| {
            let (good, bad, none) = match (start, s.required) {
                // rarely, so that most starts are not refused for it
                (true, _) if s.computed => (1, 1, 78),
                (true, false) => (3, 1, 16),
                (true, true) => (18, 1, 1),
                _ => (15, 3, 2),
            };
            let good_value = if s.private {
                Just(json!(format!("{PRIVATE} {}", s.name))).boxed()
            } else {
                plausible(&s)
            };
            let (n1, n2) = (s.name.clone(), s.name.clone());
            prop_oneof![
                good => good_value.prop_map(move |v| Some((n1.clone(), v))),
                bad => hostile().prop_map(move |v| Some((n2.clone(), v))),
                none => Just(None),
            ]
            .boxed()
        })
        .collect();
    (
        per_name,
        prop::option::weighted(0.05, ("[a-z_]{1,8}", hostile())),
    )
        .prop_map(|(pairs, extra)| {
            let mut m: Map<String, Value> = pairs.into_iter().flatten().collect();
            if let Some((k, v)) = extra {
                m.insert(k, v);
            }
            m
        })
        .boxed()
}

#[derive(Debug, Clone)]
enum Command {
    Start {
        action: String,
        actor: String,
        data: Map<String, Value>,
    },
    Act {
        pick: usize,
        action: String,
        actor: String,
        inputs: Map<String, Value>,
    },
    /// An action the engine offers someone now (`actions()`), picked when the command runs,
    /// with inputs drawn for every input name of the workflow and kept to the action's own.
    Guided {
        pick: usize,
        pair: usize,
        inputs: Map<String, Value>,
    },
    Advance(u32),
}

/// Who may be offered actions: everyone of the directory (the case's participants among them).
const CANDIDATES: &[&str] = &[
    "pat", "max", "cody", "pia", "ann", "bea", "sue", "alice", "bob", "sme", "carl", "olga",
];

fn commands(workflow: &'static str) -> BoxedStrategy<Vec<Command>> {
    let e = engine();
    let def = e.definition(workflow).unwrap();
    let named = |fields: &[mentorflow::definition::Field]| -> Vec<Spec> {
        fields.iter().map(spec).collect()
    };
    let mut actions: Vec<(String, Vec<Spec>, bool)> = def
        .actions
        .iter()
        .map(|a| {
            let mut names = named(&a.inputs);
            if a.is_start() {
                // every field, `computed` ones included (rarely: the start refuses those)
                names.extend(named(&def.fields));
            }
            (a.id.clone(), names, a.is_start())
        })
        .collect();
    actions.push(("no_such_action".into(), vec![], false));
    let starts: Vec<(String, Vec<Spec>)> = actions
        .iter()
        .filter(|a| a.2)
        .map(|a| (a.0.clone(), a.1.clone()))
        .collect();
    let acts: Vec<(String, Vec<Spec>)> = actions
        .iter()
        .filter(|a| !a.2)
        .map(|a| (a.0.clone(), a.1.clone()))
        .collect();
    // someone who may start this flow, often (pat has the manager company_initiative asks for)
    let starter = if workflow == "agent_exception" {
        "ann"
    } else {
        "pat"
    };
    let actor = prop_oneof![
        1 => Just(starter.to_owned()),
        2 => prop::sample::select(ACTORS.to_vec()).prop_map(str::to_owned),
    ];
    let start = (prop::sample::select(starts), actor.clone()).prop_flat_map(|((a, names), who)| {
        values_for(names, true).prop_map(move |data| Command::Start {
            action: a.clone(),
            actor: who.clone(),
            data,
        })
    });
    // half the time, someone already on the case (resolved when the command runs)
    let act_actor = prop_oneof![actor.clone(), (0usize..8).prop_map(|k| format!("@{k}")),];
    let act = (prop::sample::select(acts), act_actor, any::<usize>()).prop_flat_map(
        |((a, names), who, pick)| {
            values_for(names, false).prop_map(move |inputs| Command::Act {
                pick,
                action: a.clone(),
                actor: who.clone(),
                inputs,
            })
        },
    );
    let mut all_inputs: Vec<Spec> = Vec::new();
    for a in def.actions.iter().filter(|a| !a.is_start()) {
        for f in &a.inputs {
            if !all_inputs.iter().any(|s| s.name == f.name) {
                all_inputs.push(spec(f));
            }
        }
    }
    let guided = (
        any::<usize>(),
        any::<usize>(),
        values_for(all_inputs, false),
    )
        .prop_map(|(pick, pair, inputs)| Command::Guided { pick, pair, inputs });
    let command = prop_oneof![
        2 => start,
        4 => act,
        12 => guided,
        1 => prop_oneof![1u32..72, 72u32..2000].prop_map(Command::Advance),
    ];
    prop::collection::vec(command, 1..60).boxed()
}

/// What a refused command must leave alone.
fn state_of(e: &Engine, id: i64) -> (mentorflow::Case, usize, usize, usize) {
    (
        e.get(id, None).unwrap(),
        e.history(id, None).unwrap().len(),
        e.timers(id).unwrap().len(),
        e.notifications(&NotificationFilter {
            case_id: Some(id),
            ..Default::default()
        })
        .unwrap()
        .len(),
    )
}

const REFUSALS: &[&str] = &["validation", "guard_rejected", "not_permitted", "not_found"];

fn run(workflow: &str, cmds: &[Command]) -> Result<(), TestCaseError> {
    let e = engine();
    let mut ids: Vec<i64> = Vec::new();
    let mut accepted = 0usize; // reported with MF_PROPS_DEBUG
    for cmd in cmds {
        match cmd {
            Command::Start {
                action,
                actor,
                data,
            } => {
                let def = e.definition(workflow).unwrap();
                let a = def.action(action).unwrap();
                let (mut fields, mut inputs) = (Map::new(), Map::new());
                for (k, v) in data {
                    if a.inputs.iter().any(|f| &f.name == k) {
                        inputs.insert(k.clone(), v.clone());
                    } else {
                        fields.insert(k.clone(), v.clone());
                    }
                }
                let before = e.cases(&Default::default()).unwrap().len();
                match e.start_with(Start {
                    workflow: workflow.to_owned(),
                    action: Some(action.clone()),
                    actor: actor.clone(),
                    org: None,
                    data: fields,
                    inputs,
                    idempotency_key: None,
                }) {
                    Ok(c) => {
                        prop_assert_eq!(c.revision, 1);
                        ids.push(c.id);
                    }
                    Err(err) => {
                        if std::env::var("MF_PROPS_DEBUG").is_ok() {
                            eprintln!("START-ERR {workflow} {} {}", err.code(), err);
                        }
                        prop_assert!(
                            REFUSALS.contains(&err.code()),
                            "start {} by {:?}: {}",
                            action,
                            actor,
                            err
                        );
                        let after = e.cases(&Default::default()).unwrap().len();
                        prop_assert_eq!(before, after, "a refused start left a case");
                    }
                }
            }
            Command::Act {
                pick,
                action,
                actor,
                inputs,
            } => {
                if ids.is_empty() {
                    continue;
                }
                let id = ids[pick % ids.len()];
                let before = state_of(&e, id);
                let actor = match actor.strip_prefix('@') {
                    Some(k) => {
                        let on_case: Vec<&String> =
                            before.0.participants.values().flatten().collect();
                        let k: usize = k.parse().unwrap();
                        on_case
                            .get(k % on_case.len().max(1))
                            .map_or_else(|| "pat".to_owned(), |p| (*p).clone())
                    }
                    None => actor.clone(),
                };
                let actor = &actor;
                match e.act(id, action, actor, Value::Object(inputs.clone())) {
                    Ok(c) => {
                        accepted += 1;
                        prop_assert_eq!(c.revision, before.0.revision + 1);
                        let h = e.history(id, None).unwrap();
                        let last = h.last().unwrap();
                        prop_assert_eq!(&last.action, action);
                        prop_assert_eq!(&last.actor, actor);
                        prop_assert_eq!(last.seq, c.revision);
                    }
                    Err(err) => {
                        prop_assert!(
                            REFUSALS.contains(&err.code()),
                            "{} by {:?} with {}: {}",
                            action,
                            actor,
                            Value::Object(inputs.clone()),
                            err
                        );
                        prop_assert!(
                            state_of(&e, id) == before,
                            "a refused {} changed case {}",
                            action,
                            id
                        );
                    }
                }
            }
            Command::Guided { pick, pair, inputs } => {
                if ids.is_empty() {
                    continue;
                }
                let id = ids[pick % ids.len()];
                let mut pairs = Vec::new();
                for who in CANDIDATES {
                    if let Ok(actions) = e.actions(id, who) {
                        pairs.extend(actions.into_iter().map(|a| (who.to_string(), a)));
                    }
                }
                if pairs.is_empty() {
                    continue;
                }
                let (actor, action) = pairs[pair % pairs.len()].clone();
                let def = e.definition(workflow).unwrap();
                let declared: Vec<String> = def
                    .action(&action)
                    .unwrap()
                    .inputs
                    .iter()
                    .map(|f| f.name.clone())
                    .collect();
                let inputs: Map<String, Value> = inputs
                    .iter()
                    .filter(|(k, _)| declared.contains(k))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let before = state_of(&e, id);
                match e.act(id, &action, &actor, Value::Object(inputs.clone())) {
                    Ok(c) => {
                        accepted += 1;
                        prop_assert_eq!(c.revision, before.0.revision + 1);
                        let h = e.history(id, None).unwrap();
                        prop_assert_eq!(&h.last().unwrap().action, &action);
                    }
                    Err(err) => {
                        prop_assert!(
                            REFUSALS.contains(&err.code()),
                            "{} by {:?} with {}: {}",
                            action,
                            actor,
                            Value::Object(inputs.clone()),
                            err
                        );
                        prop_assert!(
                            state_of(&e, id) == before,
                            "a refused {} changed case {}",
                            action,
                            id
                        );
                    }
                }
            }
            Command::Advance(hours) => {
                let r = e
                    .advance_by(chrono::Duration::hours(i64::from(*hours)))
                    .unwrap();
                prop_assert!(r.failed.is_empty(), "timer failures: {:?}", r.failed);
            }
        }
    }
    let cases = e.cases(&Default::default()).unwrap();
    let events: usize = cases.iter().map(|c| c.revision as usize).sum();
    let states: std::collections::BTreeSet<String> = cases
        .iter()
        .flat_map(|c| e.history(c.id, None).unwrap())
        .map(|ev| ev.to_state)
        .collect();
    if std::env::var("MF_PROPS_DEBUG").is_ok() {
        eprintln!(
            "STATS {workflow} commands={} accepted={accepted} cases={} events={events} states={states:?}",
            cmds.len(),
            cases.len()
        );
    }
    for c in cases {
        let h = e.history(c.id, None).unwrap();
        prop_assert!(
            mentorflow::fold(&h).unwrap().matches(&c),
            "case {} does not fold",
            c.id
        );
    }
    for n in e.notifications(&Default::default()).unwrap() {
        let text = format!("{} {} {}", n.subject, n.body, Value::Object(n.data.clone()));
        prop_assert!(
            !text.contains(PRIVATE),
            "notification {} ({}) carries a private value",
            n.id,
            n.template
        );
    }
    Ok(())
}

fn config() -> Config {
    let long = std::env::var("MF_LONG").is_ok_and(|v| v == "1");
    Config {
        cases: std::env::var("MF_PROPS_CASES")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(if long { 1000 } else { 16 }),
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        rng_seed: RngSeed::Fixed(
            std::env::var("MF_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0x5EED),
        ),
        ..Config::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn score_request_takes_any_input(cmds in commands("score_request")) {
        run("score_request", &cmds)?;
    }

    #[test]
    fn engagement_takes_any_input(cmds in commands("engagement")) {
        run("engagement", &cmds)?;
    }

    #[test]
    fn company_initiative_takes_any_input(cmds in commands("company_initiative")) {
        run("company_initiative", &cmds)?;
    }

    #[test]
    fn agent_exception_takes_any_input(cmds in commands("agent_exception")) {
        run("agent_exception", &cmds)?;
    }
}
