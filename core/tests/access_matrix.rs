//! Access matrix for every shipped workflow.
//!
//! For each workflow, a case is brought into every state by a recipe of real actions, with
//! every case role held by someone where the flow allows it. Then every action is tried by
//! every kind of person — each case role, each directory role, a person of another
//! organisation holding every directory role, and a stranger of the same organisation — on a
//! fresh case in that state, with valid inputs, and the outcome (`allow` or the error code) is
//! compared with the expected table kept as data in `core/tests/access/<workflow>.csv`.
//! Visibility through `get`, `history`, `actions`, every view and every export is compared
//! with `core/tests/access/<workflow>-visibility.csv`.
//!
//! Beyond the tables, rules checked independently of them: an allowed action is done by a
//! holder of one of its roles from one of its states; nobody of another organisation sees or
//! touches a case; a stranger only starts cases; a refusal changes nothing; `actions()` lists
//! every allowed action and nothing its caller may not do; no notification carries a private
//! value. Set `MF_BLESS=1` to rewrite the tables after an intended change, then review every
//! `allow` line of the diff.
#![allow(clippy::unwrap_used)]

#[path = "support/backend.rs"]
mod backend;
use backend::Fresh;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use mentorflow::{Engine, Error, ManualClock, Org, Person, Start};
use serde_json::{json, Map, Value};

/// A marker put in every private value; no notification may contain it.
const PRIVATE: &str = "PRIVATE-MARKER";

fn t0() -> chrono::DateTime<chrono::Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

fn access_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/access")
}

/// One step of a recipe: an action by a person with inputs (start actions carry data).
#[derive(Clone)]
struct Step {
    action: &'static str,
    actor: &'static str,
    values: Value,
}

fn step(action: &'static str, actor: &'static str, values: Value) -> Step {
    Step {
        action,
        actor,
        values,
    }
}

/// What the matrix needs to know about one workflow.
struct World {
    workflow: &'static str,
    /// (kind, person id): `case:ROLE`, `dir:ROLE`, `other_org`, `stranger`.
    kinds: Vec<(&'static str, &'static str)>,
    /// The start step every recipe begins with.
    start: Step,
    /// State → the steps after the start that lead there.
    recipes: Vec<(&'static str, Vec<Step>)>,
    /// Valid inputs (data for start actions) per action.
    inputs: BTreeMap<&'static str, Value>,
}

fn people() -> Vec<Person> {
    let active = |id: &str, org: &str| {
        Person::new(id)
            .name(format!("Person {id}"))
            .org(org)
            .role("mentor")
            .attr("classification", "active")
            .attr("max_requests_per_week", 100_000)
    };
    vec![
        // score_request
        Person::new("pat").org("ch1").email("pat@example.org"),
        Person::new("cody").org("ch1").role("coordinator"),
        active("alice", "ch1").attr("focus_areas", json!(["marketing"])),
        active("tina", "ch1"),
        active("rita", "ch1"),
        active("nina", "ch1").attr("focus_areas", json!(["finance"])),
        // engagement
        Person::new("cli").org("ch1"),
        active("carl", "ch1").attr("focus_areas", json!(["finance"])),
        Person::new("cora").org("ch1").role("coordinator"),
        // company_initiative
        Person::new("vic").org("ch1").attr("manager", "max"),
        Person::new("max").org("ch1"),
        Person::new("coco").org("ch1").role("coordinator"),
        Person::new("pia").org("ch1").role("partner"),
        Person::new("pete")
            .org("ch2")
            .name("Pete of the partner organisation"),
        // agent_exception
        Person::new("ann").org("ch1").role("agent"),
        Person::new("bea").org("ch1").role("agent"),
        Person::new("cat").org("ch1").role("agent"),
        Person::new("dan").org("ch1").role("agent"),
        Person::new("sue").org("ch1").role("supervisor"),
        // everyone's stranger and outsider
        active("sam", "ch1").attr("focus_areas", json!(["hr"])),
        active("olga", "ch2")
            .role("coordinator")
            .role("partner")
            .role("agent")
            .role("supervisor")
            .role("administrator")
            .attr("focus_areas", json!(["marketing", "finance"])),
    ]
}

fn engine() -> Engine {
    let e = Engine::builder()
        .fresh()
        .workflows_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows"))
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap();
    e.replace_org(&Org::new("ch1").setting("manager_validation", true))
        .unwrap();
    e.replace_org(&Org::new("ch2").setting("manager_validation", true))
        .unwrap();
    e.put_people(&people()).unwrap();
    e
}

fn score_request() -> World {
    let accepted = vec![
        step("assign", "cody", json!({"mentor": "alice"})),
        step("accept", "alice", json!({"note": "Hello Pat"})),
        step("add_team_member", "alice", json!({"member": "tina"})),
        step(
            "refer",
            "alice",
            json!({"mentor": "rita", "reason": format!("{PRIVATE} refer")}),
        ),
    ];
    let with = |extra: Step| {
        let mut v = accepted.clone();
        v.push(extra);
        v
    };
    let status = |s: &str| {
        step(
            "update_status",
            "alice",
            json!({"status": s, "contacted": true}),
        )
    };
    World {
        workflow: "score_request",
        kinds: vec![
            ("case:client", "pat"),
            ("case:mentor", "alice"),
            ("case:team", "tina"),
            ("case:referred", "rita"),
            ("dir:coordinator", "cody"),
            ("other_org", "olga"),
            ("stranger", "sam"),
        ],
        start: step("submit", "pat", json!({"client_name": "Pat's Bakery"})),
        recipes: vec![
            ("submitted", vec![]),
            (
                "assigned_pending",
                vec![step("assign", "cody", json!({"mentor": "alice"}))],
            ),
            ("in_progress", accepted.clone()),
            (
                "pending_reassignment",
                with(step(
                    "transfer_to_queue",
                    "alice",
                    json!({"reason": "moving"}),
                )),
            ),
            ("no_response", with(status("no_response"))),
            ("withdrawn", with(status("withdrawn"))),
            ("complete", with(status("complete"))),
            ("no_show", with(status("no_show"))),
            ("incorrect_contact", with(status("incorrect_contact"))),
        ],
        inputs: BTreeMap::from([
            ("submit", json!({"client_name": "Another client"})),
            (
                "request_mentor",
                json!({"client_name": "Direct", "mentor": "nina"}),
            ),
            ("assign", json!({"mentor": "nina"})),
            ("accept", json!({"note": "Hi"})),
            ("decline", json!({"reason": "busy"})),
            ("add_client", json!({"client_name": "Added by a mentor"})),
            ("return_to_queue", json!({})),
            ("log_session", json!({"duration": 30, "kind": "phone"})),
            (
                "send_email",
                json!({"subject": "Hello", "body": "Shall we meet?"}),
            ),
            ("transfer_to_queue", json!({"reason": "moving"})),
            ("add_team_member", json!({"member": "nina"})),
            (
                "refer",
                json!({"mentor": "nina", "reason": format!("{PRIVATE} again")}),
            ),
            ("accept_referral", json!({})),
            ("decline_referral", json!({"reason": "no time"})),
            (
                "update_status",
                json!({"status": "complete", "contacted": true}),
            ),
            ("add_note", json!({"text": "a note"})),
        ]),
    }
}

fn engagement() -> World {
    let co = step("add_co_mentor", "alice", json!({"mentor": "carl"}));
    let accept = step("accept", "alice", json!({}));
    World {
        workflow: "engagement",
        kinds: vec![
            ("case:client", "cli"),
            ("case:mentor", "alice"),
            ("case:co_mentor", "carl"),
            ("dir:coordinator", "cora"),
            ("other_org", "olga"),
            ("stranger", "sam"),
        ],
        start: step("create", "cli", json!({"focus_areas": ["marketing"]})),
        recipes: vec![
            ("pending_acceptance", vec![co.clone()]),
            ("assigned", vec![co.clone(), accept.clone()]),
            (
                "assignment_declined",
                vec![
                    co.clone(),
                    step("decline", "alice", json!({"reason": "full"})),
                ],
            ),
            (
                "active",
                vec![
                    co.clone(),
                    accept.clone(),
                    step("log_session", "alice", json!({})),
                ],
            ),
            (
                "closed",
                vec![co, accept, step("close", "alice", json!({"note": "done"}))],
            ),
        ],
        inputs: BTreeMap::from([
            ("create", json!({"focus_areas": ["marketing"]})),
            ("accept", json!({})),
            ("decline", json!({"reason": "full"})),
            ("log_session", json!({})),
            ("add_co_mentor", json!({"mentor": "nina"})),
            (
                "add_contact",
                json!({"name": "Dana Doe", "email": "dana@example.org"}),
            ),
            ("remove_contact", json!({"name": "Nobody"})),
            ("close", json!({"note": "done"})),
            ("add_note", json!({"text": "a note"})),
        ]),
    }
}

fn company_initiative() -> World {
    let to_manager = vec![
        step("add_task", "coco", json!({"title": "Intro call"})),
        step("post_message", "vic", json!({"text": "Hello"})),
        step("validate", "coco", json!({})),
        step(
            "enter_engagement",
            "vic",
            json!({"mentee": "Mo", "start": "2026-12-01", "end": "2027-03-01", "dates": ["2026-12-02"], "partner_contact": "pete"}),
        ),
    ];
    let with = |extra: &[Step]| {
        let mut v = to_manager.clone();
        v.extend(extra.iter().cloned());
        v
    };
    let approve = step("manager_approve", "max", json!({}));
    let end = step("end_mission", "vic", json!({}));
    World {
        workflow: "company_initiative",
        kinds: vec![
            ("case:volunteer", "vic"),
            ("case:manager", "max"),
            ("dir:coordinator", "coco"),
            ("dir:partner", "pia"),
            ("case:partner_contact", "pete"),
            ("other_org", "olga"),
            ("stranger", "sam"),
        ],
        start: step("register", "vic", json!({"motivation": "I like it"})),
        recipes: vec![
            (
                "application",
                vec![step("add_task", "coco", json!({"title": "Intro call"}))],
            ),
            ("search_mentee", to_manager[..3].to_vec()),
            ("manager_validation", to_manager.clone()),
            ("in_progress", with(std::slice::from_ref(&approve))),
            (
                "awaiting_confirmation",
                with(&[approve.clone(), end.clone()]),
            ),
            (
                "confirmed",
                with(&[approve.clone(), end, step("confirm", "vic", json!({}))]),
            ),
            (
                "withdrawn",
                with(&[approve, step("withdraw", "vic", json!({"reason": "moved"}))]),
            ),
        ],
        inputs: BTreeMap::from([
            ("register", json!({})),
            ("post_message", json!({"text": "Hello"})),
            ("add_task", json!({"title": "Another task"})),
            ("complete_task", json!({"title": "Intro call"})),
            ("validate", json!({})),
            (
                "enter_engagement",
                json!({"mentee": "Mo", "start": "2026-12-01", "end": "2027-03-01"}),
            ),
            ("manager_approve", json!({})),
            ("manager_reject", json!({"reason": "busy quarter"})),
            ("add_dates", json!({"dates": ["2026-12-15"]})),
            ("end_mission", json!({})),
            ("mission_over", json!({})),
            ("confirm", json!({})),
            ("withdraw", json!({"reason": "moved"})),
        ]),
    }
}

fn agent_exception() -> World {
    let pending = vec![
        step("accept", "cat", json!({})),
        step("reject", "ann", json!({})),
    ];
    let with = |extra: &[Step]| {
        let mut v = pending.clone();
        v.extend(extra.iter().cloned());
        v
    };
    let accept = step("accept", "bea", json!({}));
    let confirm = step("confirm", "ann", json!({}));
    let data = json!({
        "mentoring_date": "2026-12-01",
        "exception_type": "Coaching",
        "start_time": "10:00",
        "end_time": "11:00",
        "description": "Help with escalations"
    });
    World {
        workflow: "agent_exception",
        kinds: vec![
            ("case:requester", "ann"),
            ("case:mentor", "bea"),
            ("case:rejected_mentor", "cat"),
            ("dir:agent", "dan"),
            ("dir:supervisor", "sue"),
            ("other_org", "olga"),
            ("stranger", "sam"),
        ],
        start: step("create", "ann", data.clone()),
        recipes: vec![
            ("pending", pending.clone()),
            ("awaiting_confirmation", with(std::slice::from_ref(&accept))),
            ("submitted", with(&[accept.clone(), confirm.clone()])),
            (
                "approved",
                with(&[
                    accept.clone(),
                    confirm.clone(),
                    step("approve", "sue", json!({"note": "ok"})),
                ]),
            ),
            (
                "denied",
                with(&[accept, confirm, step("deny", "sue", json!({"note": "no"}))]),
            ),
        ],
        inputs: BTreeMap::from([
            ("create", data),
            ("accept", json!({})),
            ("confirm", json!({})),
            ("reject", json!({})),
            ("approve", json!({"note": "ok"})),
            ("deny", json!({"note": "no"})),
            ("expire", json!({})),
        ]),
    }
}

fn object(v: &Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

/// Start a case (organisation ch1).
fn start(
    e: &Engine,
    w: &World,
    action: &str,
    actor: &str,
    values: &Value,
) -> mentorflow::Result<mentorflow::Case> {
    let def = e.definition(w.workflow).unwrap();
    let a = def.action(action).unwrap();
    // A start action's values are the case's fields, except declared inputs.
    let (mut data, mut inputs) = (Map::new(), Map::new());
    for (k, v) in object(values) {
        if a.inputs.iter().any(|f| f.name == k) {
            inputs.insert(k, v);
        } else {
            data.insert(k, v);
        }
    }
    e.start_with(Start {
        workflow: w.workflow.to_owned(),
        action: Some(action.to_owned()),
        actor: actor.to_owned(),
        org: Some("ch1".to_owned()),
        data,
        inputs,
        idempotency_key: None,
    })
}

/// A fresh case in `state`.
fn make(e: &Engine, w: &World, state: &str) -> i64 {
    let (_, steps) = w.recipes.iter().find(|(s, _)| *s == state).unwrap();
    let c = start(e, w, w.start.action, w.start.actor, &w.start.values).unwrap();
    for s in steps {
        e.act(c.id, s.action, s.actor, s.values.clone())
            .unwrap_or_else(|err| {
                panic!("{}: recipe for {state}: {}: {err}", w.workflow, s.action)
            });
    }
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.state, state, "{}: the recipe reaches {state}", w.workflow);
    c.id
}

fn outcome<T>(r: &mentorflow::Result<T>) -> String {
    match r {
        Ok(_) => "allow".to_owned(),
        Err(e) => e.code().to_owned(),
    }
}

/// Whether a person holds one of the roles an action names, on a case (the rule).
fn holds(def: &mentorflow::Definition, action: &str, c: &mentorflow::Case, p: &Person) -> bool {
    let a = def.action(action).unwrap();
    a.by.iter().any(|r| {
        r == "anyone"
            || c.has_participant(&p.id, Some(r))
            || def.role(r).is_some_and(|role| {
                !role.directory.is_empty()
                    && p.org.as_deref() == Some(c.org.as_str())
                    && role.directory.iter().any(|d| p.has_role(d))
            })
    })
}

type Table = BTreeMap<Vec<String>, Vec<String>>;

fn read_table(path: &Path, key: usize) -> Option<(Vec<String>, Table)> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut lines = text.lines();
    let header: Vec<String> = lines.next()?.split(',').map(str::to_owned).collect();
    let mut t = Table::new();
    for l in lines.filter(|l| !l.trim().is_empty()) {
        let cells: Vec<String> = l.split(',').map(str::to_owned).collect();
        let k = key.min(cells.len());
        t.insert(cells[..k].to_vec(), cells[k..].to_vec());
    }
    Some((header, t))
}

fn write_table(path: &Path, header: &[&str], t: &Table) {
    let mut out = header.join(",");
    out.push('\n');
    for (k, v) in t {
        out.push_str(
            &k.iter()
                .chain(v.iter())
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    std::fs::write(path, out).unwrap();
}

/// Compare actual with expected; on `MF_BLESS=1` write the actual table instead.
fn compare(path: &Path, header: &[&str], key: usize, actual: &Table, what: &str) {
    if std::env::var("MF_BLESS").is_ok_and(|v| v == "1") {
        write_table(path, header, actual);
        return;
    }
    let (h, expected) = read_table(path, key)
        .unwrap_or_else(|| panic!("{} is missing (run with MF_BLESS=1)", path.display()));
    assert_eq!(h, header, "{}: header", path.display());
    let mut problems = Vec::new();
    for (k, v) in actual {
        match expected.get(k) {
            None => problems.push(format!(
                "  not in the table: {} -> {}",
                k.join(","),
                v.join(",")
            )),
            Some(want) if want != v => {
                let flag = if v.first().is_some_and(|x| x == "allow") {
                    "UNEXPECTED ALLOW"
                } else {
                    "changed"
                };
                problems.push(format!(
                    "  {flag}: {} expected {} got {}",
                    k.join(","),
                    want.join(","),
                    v.join(",")
                ));
            }
            _ => {}
        }
    }
    for k in expected.keys() {
        if !actual.contains_key(k) {
            problems.push(format!("  no longer tried: {}", k.join(",")));
        }
    }
    assert!(
        problems.is_empty(),
        "{what} differs from {} ({} lines):\n{}",
        path.display(),
        problems.len(),
        problems.join("\n")
    );
}

/// The rows of an export that belong to one case (the column computing `case.id`).
fn export_has(def: &mentorflow::Definition, name: &str, t: &mentorflow::Table, id: i64) -> bool {
    let x = def.export(name).unwrap();
    let col = x
        .columns
        .iter()
        .find(|(_, s)| s.source().trim() == "case.id")
        .map(|(c, _)| c.clone())
        .unwrap_or_else(|| panic!("export {name} has no case.id column"));
    t.rows.iter().any(|r| r.get(&col) == Some(&json!(id)))
}

fn matrix(w: &World) {
    let e = engine();
    let def = e.definition(w.workflow).unwrap();
    let directory: BTreeMap<String, Person> =
        people().into_iter().map(|p| (p.id.clone(), p)).collect();
    // every action, every state and every role has a place in the world
    for a in &def.actions {
        assert!(
            w.inputs.contains_key(a.id.as_str()),
            "{}: inputs for {}",
            w.workflow,
            a.id
        );
    }
    let states: Vec<&str> = w.recipes.iter().map(|(s, _)| *s).collect();
    let declared: BTreeSet<&str> = def.states.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        states.iter().copied().collect::<BTreeSet<_>>(),
        declared,
        "{}: a recipe per state",
        w.workflow
    );
    for r in &def.roles {
        let kind = if r.is_case_role() {
            format!("case:{}", r.name)
        } else {
            format!("dir:{}", r.name)
        };
        assert!(
            w.kinds.iter().any(|(k, _)| *k == kind),
            "{}: a person for {kind}",
            w.workflow
        );
    }

    let mut acts = Table::new();
    let mut seen = Table::new();
    // start actions: who may start a case (in organisation ch1)
    for a in def.actions.iter().filter(|a| a.is_start()) {
        for (kind, who) in &w.kinds {
            let r = start(&e, w, &a.id, who, &w.inputs[a.id.as_str()]);
            if *kind == "stranger" || *kind == "other_org" {
                // only a case role (taken by whoever starts) lets an outsider start
                if r.is_ok() {
                    assert!(
                        a.by.iter().any(|b| b == "anyone" || def.role(b).is_some_and(|x| x.is_case_role())),
                        "{}: {kind} started {}", w.workflow, a.id
                    );
                }
            }
            acts.insert(
                vec!["(start)".into(), a.id.clone(), (*kind).into()],
                vec![outcome(&r)],
            );
        }
    }
    for state in &states {
        let mut id = make(&e, w, state);
        for a in def.actions.iter().filter(|a| !a.is_start()) {
            for (kind, who) in &w.kinds {
                let before = e.get(id, None).unwrap();
                let listed = e.actions(id, who);
                let r = e.act(id, &a.id, who, w.inputs[a.id.as_str()].clone());
                let got = outcome(&r);
                let p = &directory[*who];
                match &r {
                    Ok(_) => {
                        assert!(
                            holds(&def, &a.id, &before, p),
                            "{}: {kind} did {} on {state} without a role",
                            w.workflow,
                            a.id
                        );
                        assert!(
                            a.starts_from(state),
                            "{}: {} allowed from {state}",
                            w.workflow,
                            a.id
                        );
                        assert!(
                            !matches!(*kind, "other_org" | "stranger"),
                            "{}: {kind} did {} on {state}",
                            w.workflow,
                            a.id
                        );
                        assert!(
                            listed.as_ref().is_ok_and(|l| l.contains(&a.id)),
                            "{}: {} allowed for {kind} on {state} but actions() gave {listed:?}",
                            w.workflow,
                            a.id
                        );
                        id = make(&e, w, state);
                    }
                    Err(err) => {
                        assert_eq!(
                            e.get(id, None).unwrap(),
                            before,
                            "{}: refused {} changed the case",
                            w.workflow,
                            a.id
                        );
                        assert!(
                            !matches!(
                                err,
                                Error::Script { .. }
                                    | Error::Storage { .. }
                                    | Error::Definition { .. }
                            ),
                            "{}: {} by {kind} on {state}: {err}",
                            w.workflow,
                            a.id
                        );
                        if matches!(err, Error::NotPermitted { .. } | Error::NotFound { .. }) {
                            assert!(
                                !listed.as_ref().is_ok_and(|l| l.contains(&a.id)),
                                "{}: actions() offers {} to {kind} on {state}, act says {err}",
                                w.workflow,
                                a.id
                            );
                        }
                    }
                }
                acts.insert(
                    vec![(*state).into(), a.id.clone(), (*kind).into()],
                    vec![got],
                );
            }
        }
        // visibility on a fresh case of this state
        let id = make(&e, w, state);
        for (kind, who) in &w.kinds {
            let get = outcome(&e.get(id, Some(who)));
            let history = outcome(&e.history(id, Some(who)));
            let actions = match e.actions(id, who) {
                Ok(l) if l.is_empty() => "-".to_owned(),
                Ok(l) => l.join(" "),
                Err(err) => err.code().to_owned(),
            };
            let views: Vec<String> = def
                .views
                .iter()
                .filter(|v| {
                    e.view(&format!("{}.{}", w.workflow, v.name), who)
                        .unwrap()
                        .iter()
                        .any(|c| c.id == id)
                })
                .map(|v| v.name.clone())
                .collect();
            let exports: Vec<String> = def
                .exports
                .iter()
                .filter(|x| {
                    let t = e
                        .export(&format!("{}.{}", w.workflow, x.name), Some(who))
                        .unwrap();
                    export_has(&def, &x.name, &t, id)
                })
                .map(|x| x.name.clone())
                .collect();
            if *kind == "other_org" {
                assert_eq!(
                    (get.as_str(), history.as_str()),
                    ("not_found", "not_found"),
                    "{}: {kind} on {state}",
                    w.workflow
                );
                assert!(
                    views.is_empty() && exports.is_empty(),
                    "{}: {kind} sees {views:?} {exports:?}",
                    w.workflow
                );
            }
            if get != "allow" {
                assert!(
                    views.is_empty() && exports.is_empty(),
                    "{}: {kind} lists an invisible case on {state}: {views:?} {exports:?}",
                    w.workflow
                );
                assert_eq!(history, get);
            }
            let join = |v: Vec<String>| {
                if v.is_empty() {
                    "-".to_owned()
                } else {
                    v.join(" ")
                }
            };
            seen.insert(
                vec![(*state).into(), (*kind).into()],
                vec![get, history, actions, join(views), join(exports)],
            );
        }
    }
    // no notification, anywhere in the run, carries a private value
    for n in e.notifications(&Default::default()).unwrap() {
        let text = format!("{} {} {}", n.subject, n.body, Value::Object(n.data.clone()));
        assert!(
            !text.contains(PRIVATE),
            "{}: notification {} ({}) carries a private value: {text}",
            w.workflow,
            n.id,
            n.template
        );
    }
    for s in e.signals(None).unwrap() {
        assert!(!Value::Object(s.data.clone()).to_string().contains(PRIVATE));
    }
    let dir = access_dir();
    compare(
        &dir.join(format!("{}.csv", w.workflow)),
        &["state", "action", "person", "result"],
        3,
        &acts,
        "the action matrix",
    );
    compare(
        &dir.join(format!("{}-visibility.csv", w.workflow)),
        &[
            "state", "person", "get", "history", "actions", "views", "exports",
        ],
        2,
        &seen,
        "visibility",
    );
}

#[test]
fn score_request_access() {
    matrix(&score_request());
}

#[test]
fn engagement_access() {
    matrix(&engagement());
}

#[test]
fn company_initiative_access() {
    matrix(&company_initiative());
}

#[test]
fn agent_exception_access() {
    matrix(&agent_exception());
}

#[test]
fn a_declined_referral_loses_access_at_once() {
    let e = engine();
    let w = score_request();
    let id = make(&e, &w, "in_progress");
    let sees = |who: &str| -> [bool; 6] {
        let def = e.definition("score_request").unwrap();
        let exported = e
            .export("score_request.client_requests", Some(who))
            .map(|t| export_has(&def, "client_requests", &t, id))
            .unwrap();
        [
            e.get(id, Some(who)).is_ok(),
            e.history(id, Some(who)).is_ok(),
            e.notes(id, Some(who)).is_ok(),
            e.actions(id, who).is_ok(),
            e.view("team_requests", who)
                .unwrap()
                .iter()
                .any(|c| c.id == id),
            exported,
        ]
    };
    assert_eq!(sees("rita"), [true; 6], "a pending referral sees the case");
    e.act(id, "decline_referral", "rita", json!({"reason": "no time"}))
        .unwrap();
    assert_eq!(sees("rita"), [false; 6], "declining removes every access");
    let error = e
        .act(id, "add_note", "rita", json!({"text": "still here?"}))
        .unwrap_err();
    assert_eq!(error.code(), "not_found", "{error}");
    assert!(error.to_string().contains("not visible to you"), "{error}");
    // the others keep theirs, and the referring mentor was told
    assert_eq!(sees("tina"), [true; 6]);
    let told: Vec<String> = e
        .notifications(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|n| n.template == "referral_declined")
        .map(|n| n.to)
        .collect();
    assert_eq!(told, ["alice"]);
}

#[test]
fn a_participant_of_another_organisation_sees_only_that_case() {
    // score_request lets a lead mentor add anyone of any chapter to the team
    let e = engine();
    let w = score_request();
    let id = make(&e, &w, "in_progress");
    let other = make(&e, &w, "in_progress");
    e.act(id, "add_team_member", "alice", json!({"member": "olga"}))
        .unwrap();
    assert!(e.get(id, Some("olga")).is_ok());
    assert_eq!(e.get(other, Some("olga")).unwrap_err().code(), "not_found");
    let team: Vec<i64> = e
        .view("team_requests", "olga")
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(team, [id]);
    // olga is a coordinator in her own chapter: that gives nothing in ch1
    assert!(e.view("intake_queue", "olga").unwrap().is_empty());
    let t = e
        .export("score_request.client_requests", Some("olga"))
        .unwrap();
    let ids: Vec<&Value> = t.rows.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&json!(id)]);
}
