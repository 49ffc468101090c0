//! Organisations and people: settings over workflow defaults, checks on put_org, the stored
//! directory, visibility across organisations, and people supplied by a host hook.
#![allow(clippy::unwrap_used)]
mod support;
use support::Fresh;

use std::sync::Arc;

use mentorflow::{Engine, Error, Hook, ManualClock, Org, OrgPatch, Person, PersonPatch};
use serde_json::json;
use support::{err, t0};

const PROGRAMME: &str = r#"
workflow: programme
version: 1
settings:
  max_sessions: 2
  manager_validation: false
  kinds: [Coaching, Shadowing]
  greeting: { type: string, default: Welcome }
roles:
  member: {}
  team: { many: true }
  coordinator: { directory: coordinator }
fields:
  sessions: { type: int, default: 0 }
  kind: { type: string, one_of: settings.kinds }
  greeting: { type: string }
states:
  open: { label: Open }
  validating: { label: Validating }
  running: { label: Running }
  closed: { label: Closed, final: true }
actions:
  create:
    to: open
    by: member
    run: fields.greeting = settings.greeting
  enter:
    from: open
    to: [validating, running]
    by: member
    run: |
      if settings.manager_validation { goto("validating") } else { goto("running") }
  approve: { from: validating, to: running, by: coordinator }
  session:
    from: running
    by: [member, team]
    guard:
      - when: fields.sessions < settings.max_sessions
        message: No sessions left
    run: fields.sessions += 1
  add_team:
    from: [open, running]
    by: [member, team]
    inputs:
      who: { type: person, required: true }
    run: assign("team", inputs.who)
  close: { from: running, to: closed, by: member }
views:
  org_cases: { states: [open, validating, running], viewer: coordinator }
  my_team: { viewer: team }
"#;

fn directory() -> Vec<Person> {
    vec![
        Person::new("ann").name("Ann").org("acme"),
        Person::new("cora").org("acme").role("coordinator"),
        Person::new("gus").name("Gus").org("globex"),
        Person::new("gina").org("globex").role("coordinator"),
    ]
}

fn build(hook: Option<Arc<dyn Hook>>) -> Engine {
    let mut b = Engine::builder()
        .fresh()
        .workflow_str("programme.yaml", PROGRAMME)
        .clock(ManualClock::at(t0()));
    if let Some(h) = hook {
        b = b.hook_arc(h);
    }
    let e = b.build().unwrap();
    e.put_people(&directory()).unwrap();
    e
}

fn validation_field(e: &Error) -> String {
    match e {
        Error::Validation { field, .. } => field.clone().unwrap_or_default(),
        other => panic!("expected a validation error, got {other:?}"),
    }
}

#[test]
fn org_settings_override_the_workflow_defaults_per_case() {
    let e = build(None);
    e.replace_org(
        &Org::new("acme")
            .setting("manager_validation", true)
            .setting("max_sessions", 3)
            .setting("kinds", json!(["Mentoring"]))
            .setting("greeting", "Bienvenue"),
    )
    .unwrap();
    // globex has no org row at all: the defaults apply
    let a = e.start("programme", "create", "ann", json!({})).unwrap();
    let g = e.start("programme", "create", "gus", json!({})).unwrap();
    assert_eq!(a.data["greeting"], json!("Bienvenue"));
    assert_eq!(g.data["greeting"], json!("Welcome"));
    let a = e.act(a.id, "enter", "ann", json!({})).unwrap();
    let g = e.act(g.id, "enter", "gus", json!({})).unwrap();
    assert_eq!(a.state, "validating");
    assert_eq!(g.state, "running");
    let a = e.act(a.id, "approve", "cora", json!({})).unwrap();
    assert_eq!(a.state, "running");
    for _ in 0..3 {
        e.act(a.id, "session", "ann", json!({})).unwrap();
    }
    for _ in 0..2 {
        e.act(g.id, "session", "gus", json!({})).unwrap();
    }
    for (id, who) in [(a.id, "ann"), (g.id, "gus")] {
        let error = err(e.act(id, "session", who, json!({})));
        assert!(
            matches!(&error, Error::GuardRejected { message, .. } if message == "No sessions left"),
            "{error:?}"
        );
    }
    // a list setting restricts a field differently per organisation
    assert!(e
        .start("programme", "create", "ann", json!({"kind": "Mentoring"}))
        .is_ok());
    let error = err(e.start("programme", "create", "gus", json!({"kind": "Mentoring"})));
    assert_eq!(validation_field(&error), "fields.kind");
    assert!(e
        .start("programme", "create", "gus", json!({"kind": "Coaching"}))
        .is_ok());
}

#[test]
fn changing_an_org_setting_changes_the_next_decision() {
    let e = build(None);
    e.replace_org(&Org::new("acme").setting("max_sessions", 1))
        .unwrap();
    let a = e.start("programme", "create", "ann", json!({})).unwrap();
    e.act(a.id, "enter", "ann", json!({})).unwrap();
    e.act(a.id, "session", "ann", json!({})).unwrap();
    assert_eq!(
        err(e.act(a.id, "session", "ann", json!({}))).code(),
        "guard_rejected"
    );
    e.replace_org(&Org::new("acme").setting("max_sessions", 5))
        .unwrap();
    e.act(a.id, "session", "ann", json!({})).unwrap();
    assert_eq!(e.get(a.id, None).unwrap().data["sessions"], json!(2));
}

#[test]
fn put_org_refuses_unknown_settings_and_wrong_types() {
    let e = build(None);
    let error = err(e.replace_org(&Org::new("acme").setting("max_sesions", 3)));
    assert_eq!(validation_field(&error), "settings.max_sesions");
    assert!(error.to_string().contains("unknown setting"), "{error}");
    assert!(
        error.to_string().contains("max_sessions"),
        "lists the known: {error}"
    );
    let error = err(e.replace_org(&Org::new("acme").setting("max_sessions", "three")));
    assert_eq!(validation_field(&error), "settings.max_sessions");
    assert!(error.to_string().contains("whole number"), "{error}");
    let error = err(e.replace_org(&Org::new("acme").setting("manager_validation", "yes")));
    assert_eq!(validation_field(&error), "settings.manager_validation");
    let error = err(e.replace_org(&Org::new("acme").setting("kinds", "Coaching")));
    assert_eq!(validation_field(&error), "settings.kinds");
    let error = err(e.replace_org(&Org::new("acme").timezone("Mars/Olympus")));
    assert_eq!(validation_field(&error), "timezone");
    assert_eq!(err(e.org("acme")).code(), "not_found", "nothing was stored");
}

#[test]
fn people_are_put_read_listed_and_removed() {
    let e = build(None);
    let p = Person::new("lee")
        .name("Lee")
        .email("lee@example.org")
        .org("acme")
        .role("mentor")
        .attr("classification", "active")
        .attr("focus_areas", json!(["marketing", "finance"]));
    e.put_person(&p).unwrap();
    assert_eq!(e.person("lee").unwrap(), p);
    let acme: Vec<String> = e
        .people(Some("acme"))
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(acme, ["ann", "cora", "lee"]);
    assert_eq!(e.people(None).unwrap().len(), 5);
    // replace
    e.replace_person(&Person::new("lee").org("globex")).unwrap();
    assert_eq!(e.person("lee").unwrap().org.as_deref(), Some("globex"));
    assert!(e.person("lee").unwrap().roles.is_empty());
    assert!(e.remove_person("lee").unwrap());
    assert!(!e.remove_person("lee").unwrap());
    assert!(matches!(
        err(e.person("lee")),
        Error::NotFound { kind: "person", .. }
    ));
    // invalid people are refused
    for bad in [
        Person::new(""),
        Person::new("system"),
        Person::new(" padded"),
        Person::new("x").attr("name", "Not an attribute"),
    ] {
        assert_eq!(err(e.put_person(&bad)).code(), "validation", "{bad:?}");
    }
    assert_eq!(e.people(None).unwrap().len(), 4);
}

#[test]
fn orgs_are_put_read_listed_and_removed() {
    let e = build(None);
    let acme = Org::new("acme")
        .name("Acme")
        .timezone("Europe/Paris")
        .holiday(chrono::NaiveDate::from_ymd_opt(2026, 12, 25).unwrap())
        .setting("max_sessions", 4);
    e.replace_org(&acme).unwrap();
    e.replace_org(&Org::new("globex")).unwrap();
    assert_eq!(e.org("acme").unwrap(), acme);
    let ids: Vec<String> = e.orgs().unwrap().into_iter().map(|o| o.id).collect();
    assert_eq!(ids, ["acme", "globex"]);
    e.replace_org(&Org::new("acme").name("Acme Corp")).unwrap();
    assert_eq!(e.org("acme").unwrap().name.as_deref(), Some("Acme Corp"));
    assert!(e.org("acme").unwrap().settings.is_empty());
    assert!(e.remove_org("acme").unwrap());
    assert!(!e.remove_org("acme").unwrap());
    assert!(matches!(
        err(e.org("acme")),
        Error::NotFound {
            kind: "organisation",
            ..
        }
    ));
    assert_eq!(e.orgs().unwrap().len(), 1);
}

#[test]
fn people_see_their_org_cases_unless_they_take_part() {
    let e = build(None);
    let a = e.start("programme", "create", "ann", json!({})).unwrap();
    // the acme coordinator sees it; globex's does not, nor does gus
    assert!(e.get(a.id, Some("cora")).is_ok());
    for who in ["gina", "gus"] {
        assert!(
            matches!(
                err(e.get(a.id, Some(who))),
                Error::NotFound { kind: "case", .. }
            ),
            "{who}"
        );
    }
    assert_eq!(e.view("org_cases", "cora").unwrap().len(), 1);
    assert!(e.view("org_cases", "gina").unwrap().is_empty());
    // a team member from another organisation takes part, so sees and works the case
    e.act(a.id, "add_team", "ann", json!({"who": "gina"}))
        .unwrap();
    assert_eq!(e.get(a.id, Some("gina")).unwrap().id, a.id);
    assert_eq!(e.history(a.id, Some("gina")).unwrap().len(), 2);
    let team: Vec<i64> = e
        .view("my_team", "gina")
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(team, [a.id]);
    e.act(a.id, "enter", "ann", json!({})).unwrap();
    e.act(a.id, "session", "gina", json!({})).unwrap();
    // but her coordinator role is of globex: it does not count in acme
    assert!(e.view("org_cases", "gina").unwrap().is_empty());
    let b = e.start("programme", "create", "ann", json!({})).unwrap();
    assert_eq!(err(e.get(b.id, Some("gina"))).code(), "not_found");
    assert_eq!(e.actions(a.id, "gina").unwrap(), ["session", "add_team"]);
}

#[derive(Debug)]
struct HostDirectory;

impl Hook for HostDirectory {
    fn person(&self, id: &str) -> Option<Person> {
        match id {
            "guest" => Some(Person::new("guest").name("Guest From Host").org("acme")),
            "ann" => Some(Person::new("ann").name("Shadowed").org("globex")),
            _ => None,
        }
    }
}

#[test]
fn a_host_hook_supplies_people_the_directory_lacks() {
    let e = build(Some(Arc::new(HostDirectory)));
    let guest = e.person("guest").unwrap();
    assert_eq!(guest.name.as_deref(), Some("Guest From Host"));
    assert_eq!(
        e.person("ann").unwrap().name.as_deref(),
        Some("Ann"),
        "stored wins"
    );
    assert!(e.people(None).unwrap().iter().all(|p| p.id != "guest"));
    assert_eq!(err(e.person("nobody")).code(), "not_found");

    // a hosted person can start cases, be named in inputs, and act
    let g = e.start("programme", "create", "guest", json!({})).unwrap();
    assert_eq!(g.org, "acme");
    let a = e.start("programme", "create", "ann", json!({})).unwrap();
    e.act(a.id, "add_team", "ann", json!({"who": "guest"}))
        .unwrap();
    e.act(a.id, "enter", "ann", json!({})).unwrap();
    let a = e.act(a.id, "session", "guest", json!({})).unwrap();
    assert_eq!(a.data["sessions"], json!(1));
    assert_eq!(a.participants["team"], ["guest"]);
    let error = err(e.act(a.id, "add_team", "ann", json!({"who": "nobody"})));
    assert_eq!(validation_field(&error), "inputs.who");
}

fn file_engine(path: &std::path::Path) -> Engine {
    Engine::builder()
        .database(path)
        .workflow_str("programme.yaml", PROGRAMME)
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap()
}

#[test]
fn directory_changes_are_seen_at_once_by_this_and_other_engines() {
    let (_dir, path) = support::temp_db();
    let (a, b) = (file_engine(&path), file_engine(&path));
    a.put_people(&directory()).unwrap();
    let c = b.start("programme", "create", "ann", json!({})).unwrap();
    b.act(c.id, "enter", "ann", json!({})).unwrap();
    b.act(c.id, "session", "ann", json!({})).unwrap();
    // b has read ann and acme; a changes both
    a.replace_org(&Org::new("acme").setting("max_sessions", 1))
        .unwrap();
    let error = err(b.act(c.id, "session", "ann", json!({})));
    assert_eq!(
        error.code(),
        "guard_rejected",
        "b sees the new setting: {error:?}"
    );
    a.replace_person(&Person::new("ann").org("globex")).unwrap();
    let d = b.start("programme", "create", "ann", json!({})).unwrap();
    assert_eq!(d.org, "globex", "b sees ann's new organisation");
    // and the engine that made the change sees it too
    a.replace_person(&Person::new("cora").org("acme")).unwrap();
    let e2 = b.start("programme", "create", "gus", json!({})).unwrap();
    assert!(
        b.get(e2.id, Some("gina")).is_ok(),
        "gina is globex's coordinator"
    );
    a.replace_person(&Person::new("gina").org("globex"))
        .unwrap();
    assert_eq!(err(b.get(e2.id, Some("gina"))).code(), "not_found");
    assert_eq!(err(a.get(e2.id, Some("gina"))).code(), "not_found");
    a.remove_person("gus").unwrap();
    assert!(matches!(
        err(b.start("programme", "create", "gus", json!({}))),
        Error::NotFound { kind: "person", .. }
    ));
}

#[test]
fn a_directory_change_through_the_same_engine_applies_to_the_next_command() {
    let e = build(None);
    let c = e.start("programme", "create", "ann", json!({})).unwrap();
    e.replace_org(&Org::new("acme").setting("manager_validation", true))
        .unwrap();
    let c = e.act(c.id, "enter", "ann", json!({})).unwrap();
    assert_eq!(c.state, "validating");
    assert_eq!(e.actions(c.id, "cora").unwrap(), ["approve"]);
    e.replace_person(&Person::new("cora").org("acme")).unwrap();
    assert_eq!(
        err(e.act(c.id, "approve", "cora", json!({}))).code(),
        "not_found"
    );
    e.put_person(&Person::new("cora").org("acme").role("coordinator"))
        .unwrap();
    assert_eq!(
        e.act(c.id, "approve", "cora", json!({})).unwrap().state,
        "running"
    );
    e.remove_org("acme").unwrap();
    let d = e.start("programme", "create", "ann", json!({})).unwrap();
    assert_eq!(
        e.act(d.id, "enter", "ann", json!({})).unwrap().state,
        "running"
    );
}

#[test]
fn put_merges_what_is_given_and_replace_stores_the_whole_record() {
    let e = build(None);
    let full = Person::new("mia")
        .name("Mia")
        .email("mia@acme.example")
        .org("acme")
        .role("coordinator")
        .attr("classification", "active")
        .attr("manager", "ravi");
    e.put_person(&full).unwrap();
    // a Person gives only what it has: the email changes, the rest is kept
    let mia = e
        .put_person(&Person::new("mia").email("mia@new.example"))
        .unwrap();
    assert_eq!(mia, e.person("mia").unwrap());
    assert_eq!(mia.name.as_deref(), Some("Mia"));
    assert_eq!(mia.roles, ["coordinator"]);
    assert_eq!(mia.attributes["manager"], "ravi");
    // a patch can clear a property and remove an attribute
    let mut change = PersonPatch::new("mia").attr("manager", serde_json::Value::Null);
    change.name = Some(None);
    let mia = e.put_person(change).unwrap();
    assert_eq!(mia.name, None);
    assert!(!mia.attributes.contains_key("manager"));
    assert_eq!(mia.attributes["classification"], "active");
    e.replace_person(&Person::new("mia").org("globex")).unwrap();
    assert_eq!(e.person("mia").unwrap(), Person::new("mia").org("globex"));

    e.replace_org(
        &Org::new("acme")
            .timezone("Europe/Paris")
            .setting("max_sessions", 2),
    )
    .unwrap();
    let acme = e.put_org(OrgPatch::new("acme").name("Acme")).unwrap();
    assert_eq!(acme.timezone, "Europe/Paris");
    assert_eq!(acme.settings["max_sessions"], 2);
    let acme = e
        .put_org(OrgPatch::new("acme").setting("max_sessions", serde_json::Value::Null))
        .unwrap();
    assert!(acme.settings.is_empty());
    assert_eq!(e.org("acme").unwrap(), acme);
    // settings are checked before anything is written
    let error = err(e.put_org(OrgPatch::new("acme").setting("max_sesions", 3)));
    assert_eq!(error.code(), "validation");
    assert_eq!(e.org("acme").unwrap(), acme);
}

#[test]
fn open_existing_refuses_a_missing_database_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.db");
    let error = err(Engine::builder().database(&path).open_existing().build());
    assert!(
        matches!(&error, Error::NotFound { kind: "database", id, .. } if id == &path.display().to_string()),
        "{error:?}"
    );
    assert!(!path.exists());
    Engine::builder().database(&path).build().unwrap();
    Engine::builder()
        .database(&path)
        .open_existing()
        .build()
        .unwrap();
}

#[test]
fn operators_are_the_holders_of_the_named_directory_roles() {
    let e = build(None);
    e.put_person(&Person::new("olga").org("acme").role("admin"))
        .unwrap();
    e.put_person(&Person::new("ivan").org("acme").role("it-ops"))
        .unwrap();
    assert_eq!(e.operator_roles(), [mentorflow::DEFAULT_OPERATOR_ROLE]);
    assert!(e.is_operator("olga").unwrap());
    assert!(!e.is_operator("ivan").unwrap());
    assert!(
        !e.is_operator("ann").unwrap(),
        "a member is not an operator"
    );
    assert!(
        !e.is_operator("nobody").unwrap(),
        "an unknown person is not"
    );

    let named = Engine::builder()
        .fresh()
        .workflow_str("programme.yaml", PROGRAMME)
        .clock(ManualClock::at(t0()))
        .operator_roles(["it-ops"])
        .build()
        .unwrap();
    named
        .put_people(&[
            Person::new("olga").org("acme").role("admin"),
            Person::new("ivan").org("acme").role("it-ops"),
        ])
        .unwrap();
    assert!(named.is_operator("ivan").unwrap());
    assert!(
        !named.is_operator("olga").unwrap(),
        "admin is not named here"
    );
}
