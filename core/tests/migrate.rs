//! Migration plans: running cases moved from one version of their workflow to another.
#![allow(clippy::unwrap_used)]

mod support;

use chrono::Duration;
use mentorflow::{
    Effect, Engine, Error, ManualClock, MigrateOptions, MigrationOutcome, MigrationPlan, TimerFate,
};
use serde_json::json;
use support::{assert_folds, people, request_v2 as v2, t0, REQUEST, REQUEST_PLAN as PLAN};

fn v1_engine(db: &std::path::Path, clock: &ManualClock) -> Engine {
    Engine::builder()
        .database(db)
        .workflow_str("request.yaml", REQUEST)
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn both(db: &std::path::Path, clock: &ManualClock) -> Engine {
    Engine::builder()
        .database(db)
        .workflow_str("request.yaml", REQUEST)
        .workflow_str("request-v2.yaml", v2())
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// Cases on v1: 1 submitted, 2 pending (reminder fired), 3 in progress with a team member
/// and a session, 4 complete, 5 pending (fresh), 6 "Bad" (its priority would not fit).
fn record(db: &std::path::Path, clock: &ManualClock) {
    let e = v1_engine(db, clock);
    e.put_people(&people()).unwrap();
    let start = |name: &str| {
        e.start("request", "submit", "pat", json!({ "client_name": name }))
            .unwrap()
            .id
    };
    let a = start("A");
    assert_eq!(a, 1);
    let b = start("Urgent");
    e.act(b, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
    e.advance("25h").unwrap(); // b's reminder fires
    let c = start("C");
    e.act(c, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
    e.act(c, "accept", "alice", json!({ "note": "Hello" }))
        .unwrap();
    e.act(c, "log_session", "alice", json!({})).unwrap();
    let d = start("D");
    e.act(d, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
    e.act(d, "accept", "alice", json!({ "note": "Hi" }))
        .unwrap();
    e.act(d, "log_session", "alice", json!({})).unwrap();
    e.act(d, "complete", "alice", json!({})).unwrap();
    let f = start("E");
    e.act(f, "assign", "cody", json!({ "mentor": "alice" }))
        .unwrap();
    let g = start("Bad");
    assert_eq!(g, 6);
    clock.advance(Duration::hours(1));
}

#[test]
fn a_plan_moves_every_open_case_and_a_dry_run_writes_nothing() {
    let (_dir, db) = support::temp_db();
    let clock = ManualClock::at(t0());
    record(&db, &clock);
    // Case 3 gets a team member (the v1 role that v2 renames).
    {
        let e = v1_engine(&db, &clock);
        e.act(3, "log_session", "alice", json!({})).unwrap();
    }
    let e = both(&db, &clock);
    let plan = MigrationPlan::parse(PLAN, "plan.yaml").unwrap();
    let before: Vec<_> = (1..=6).map(|id| support::snapshot(&e, id)).collect();
    let b_timers = e.timers(2).unwrap();
    assert_eq!(
        b_timers.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["back_to_queue"],
        "the reminder of case 2 fired on v1"
    );

    let dry = e
        .migrate(
            &plan,
            &MigrateOptions {
                dry_run: true,
                cases: None,
            },
        )
        .unwrap();
    let after: Vec<_> = (1..=6).map(|id| support::snapshot(&e, id)).collect();
    assert_eq!(before, after, "a dry run writes nothing");
    assert!(dry.dry_run);
    assert_eq!(
        (dry.migrated, dry.refused, dry.closed),
        (4, 1, 1),
        "{dry:#?}"
    );
    let ids: Vec<i64> = dry.cases.iter().map(|c| c.case).collect();
    assert_eq!(
        ids,
        [1, 2, 3, 5, 6],
        "open cases of v1, the closed one left"
    );
    let two = &dry.cases[1];
    assert_eq!(two.outcome, MigrationOutcome::WouldMigrate);
    assert_eq!(
        (two.from_state.as_str(), two.to_state.as_deref()),
        ("pending", Some("assigned_pending"))
    );
    // back_to_queue keeps its due time; reminder_24h already fired, so it is not scheduled
    let fates: Vec<_> = two
        .timers
        .iter()
        .map(|t| (t.name.as_str(), t.fate, t.due))
        .collect();
    assert_eq!(
        fates,
        [
            ("reminder_24h", TimerFate::AlreadyFired, None),
            ("back_to_queue", TimerFate::Kept, Some(b_timers[0].due_at)),
        ]
    );
    let prio: Vec<_> = two
        .fields
        .iter()
        .map(|f| (f.field.as_str(), f.after.clone()))
        .collect();
    assert!(prio.contains(&("priority", json!("high"))), "{prio:?}");
    let six = &dry.cases[4];
    assert_eq!(six.outcome, MigrationOutcome::Refused);
    let why = six.reason.as_deref().unwrap();
    assert!(why.contains("priority") && why.contains("urgent"), "{why}");

    // The real run.
    let run = e.migrate(&plan, &MigrateOptions::default()).unwrap();
    assert!(!run.dry_run);
    assert_eq!(
        (run.migrated, run.refused, run.closed),
        (4, 1, 1),
        "{run:#?}"
    );
    for c in &run.cases {
        let case = e.get(c.case, None).unwrap();
        if c.outcome == MigrationOutcome::Refused {
            assert_eq!(case.version, 1);
            assert_eq!(support::snapshot(&e, c.case).history, before[5].history);
        } else {
            assert_eq!(c.outcome, MigrationOutcome::Migrated);
            assert_eq!(case.version, 2, "case {}", c.case);
            assert_folds(&e, c.case);
            let last = e.history(c.case, None).unwrap().pop().unwrap();
            assert_eq!(
                (last.action.as_str(), last.actor.as_str()),
                ("migrate", "system")
            );
            assert!(last.effects.contains(&Effect::Migrated {
                from_version: 1,
                to_version: 2,
                plan: "plan.yaml".into()
            }));
        }
    }
    // the dry run said what the real run did, but for the outcome
    for (d, r) in dry.cases.iter().zip(&run.cases) {
        assert_eq!(
            (&d.to_state, &d.fields, &d.timers),
            (&r.to_state, &r.fields, &r.timers)
        );
    }
    let c1 = e.get(1, None).unwrap();
    assert_eq!(
        (c1.state.as_str(), c1.data["priority"].clone()),
        ("submitted", json!("normal"))
    );
    let c2 = e.get(2, None).unwrap();
    assert_eq!(c2.state, "assigned_pending");
    assert_eq!(c2.state_label, "Assigned – Pending");
    assert_eq!(e.timers(2).unwrap()[0].due_at, b_timers[0].due_at);
    assert_eq!(e.timers(2).unwrap()[0].state, "assigned_pending");
    let c3 = e.get(3, None).unwrap();
    assert_eq!(c3.data["session_count"], json!(2));
    assert!(!c3.data.contains_key("sessions"));
    assert_eq!(
        c3.data["priority"],
        json!("low"),
        "the run script saw the renamed field"
    );
    // case 5's reminder is kept at its v1 due time
    let c5_timers = e.timers(5).unwrap();
    assert_eq!(c5_timers.len(), 2);
    assert_eq!(c5_timers[0].name, "reminder_24h");
    let closed = e.get(4, None).unwrap();
    assert_eq!((closed.version, closed.state.as_str()), (1, "complete"));

    // v2 runs the moved cases: its new action, its timers, its renamed field.
    e.act(3, "hold", "alice", json!({})).unwrap();
    assert_eq!(e.get(3, None).unwrap().state, "on_hold");
    e.advance("5 business days").unwrap();
    let c2 = e.get(2, None).unwrap();
    assert_eq!(
        c2.state, "submitted",
        "the kept back_to_queue timer fired on v2"
    );
    assert_folds(&e, 2);
    // A migrated history spans two versions: replay says so instead of a false divergence.
    let r = e.replay("request", 2, Some(&[2])).unwrap();
    assert_eq!(r.cases[0].outcome, mentorflow::ReplayOutcome::NotReplayable);
    assert!(
        r.cases[0].reason.as_deref().unwrap().contains("migration"),
        "{r:#?}"
    );
    // Nothing left to move; running again changes nothing.
    let again = e.migrate(&plan, &MigrateOptions::default()).unwrap();
    assert_eq!((again.migrated, again.refused), (0, 1));
}

#[test]
fn role_renames_move_the_people_and_their_access() {
    let (_dir, db) = support::temp_db();
    let clock = ManualClock::at(t0());
    record(&db, &clock);
    let team_v1 = REQUEST.replace(
        "  log_session:\n",
        "  add_member:\n    from: [in_progress]\n    by: mentor\n    inputs:\n      member: { type: person, required: true }\n    run: assign(\"team\", inputs.member)\n  log_session:\n",
    );
    {
        let e = Engine::builder()
            .database(&db)
            .workflow_str("request.yaml", REQUEST)
            .workflow_str(
                "request-v1b.yaml",
                team_v1.replace("version: 1", "version: 3"),
            )
            .clock(clock.clone())
            .build()
            .unwrap();
        let c = e
            .start("request", "submit", "pat", json!({ "client_name": "T" }))
            .unwrap();
        e.act(c.id, "assign", "cody", json!({ "mentor": "alice" }))
            .unwrap();
        e.act(c.id, "accept", "alice", json!({ "note": "Hi" }))
            .unwrap();
        e.act(c.id, "add_member", "alice", json!({ "member": "bob" }))
            .unwrap();
        assert_eq!(c.version, 3);
    }
    let v4 = v2().replace("version: 2", "version: 4");
    let e = Engine::builder()
        .database(&db)
        .workflow_str("request.yaml", REQUEST)
        .workflow_str(
            "request-v1b.yaml",
            team_v1.replace("version: 1", "version: 3"),
        )
        .workflow_str("request-v4.yaml", v4)
        .clock(clock.clone())
        .build()
        .unwrap();
    let plan = MigrationPlan::parse(
        &PLAN.replace("from: 1", "from: 3").replace("to: 2", "to: 4"),
        "p.yaml",
    )
    .unwrap();
    let r = e.migrate(&plan, &MigrateOptions::default()).unwrap();
    assert_eq!((r.migrated, r.refused), (1, 0), "{r:#?}");
    let c = e.get(r.cases[0].case, None).unwrap();
    assert_eq!(c.participants.get("members"), Some(&vec!["bob".to_owned()]));
    assert!(!c.participants.contains_key("team"));
    assert_eq!(r.cases[0].roles[0].people, ["bob"]);
    let roles: Vec<_> = e
        .participants(c.id, None)
        .unwrap()
        .into_iter()
        .map(|p| (p.role, p.person))
        .collect();
    assert!(
        roles.contains(&("members".into(), "bob".into())),
        "{roles:?}"
    );
    assert!(!roles.iter().any(|(r, _)| r == "team"), "{roles:?}");
    assert_folds(&e, c.id);
    // bob now logs sessions as a member on v4 (he could as team on v3; v4 names the role)
    e.act(c.id, "log_session", "bob", json!({})).unwrap();
}

#[test]
fn a_plan_with_problems_names_each_at_its_line_and_changes_nothing() {
    let (_dir, db) = support::temp_db();
    let clock = ManualClock::at(t0());
    record(&db, &clock);
    let e = both(&db, &clock);
    let before = support::snapshot(&e, 2);
    let text = r#"workflow: request
from: 1
to: 2
states:
  pendng: assigned_pending
  submitted: queue
roles:
  team: members
fields:
  rename: { sessions: session_count, client: name }
  set:
    priority: urgent
  drop: [reasn]
timers:
  keep: [reminder]
run: |
  notify(case.mentor, "assigned")
colour: blue
"#;
    let plan = MigrationPlan::parse(text, "bad.yaml");
    // `colour` is a shape problem: reported before the definitions are looked at
    let Err(Error::Definition { problems }) = plan else {
        panic!("{plan:?}")
    };
    let got: Vec<String> = problems.iter().map(ToString::to_string).collect();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].starts_with("bad.yaml:18:1"), "{got:#?}");
    assert!(got[0].contains("unknown key `colour`"), "{got:#?}");

    let plan = MigrationPlan::parse(&text.replace("colour: blue\n", ""), "bad.yaml").unwrap();
    let Err(Error::Definition { problems }) = e.migrate(&plan, &MigrateOptions::default()) else {
        panic!("the plan must be refused")
    };
    let got: Vec<(usize, String, String)> = problems
        .iter()
        .map(|p| (p.line, p.path.clone(), p.message.clone()))
        .collect();
    let has = |line: usize, path: &str, words: &[&str]| {
        assert!(
            got.iter()
                .any(|(l, p, m)| *l == line && p == path && words.iter().all(|w| m.contains(w))),
            "no problem at line {line} `{path}` with {words:?} in {got:#?}"
        );
    };
    assert!(problems.iter().all(|p| p.file == "bad.yaml"));
    has(
        5,
        "states.pendng",
        &["`pendng` is not a state of v1", "did you mean `pending`"],
    );
    has(6, "states.submitted", &["`queue` is not a state of v2"]);
    has(
        4,
        "states",
        &["state `pending` of v1 holds 2 open cases", "map it"],
    );
    has(
        10,
        "fields.rename.client",
        &["`client` is not a field of v1"],
    );
    has(10, "fields.rename.client", &["`name` is not a field of v2"]);
    has(
        12,
        "fields.set.priority",
        &["priority", "urgent", "not one of"],
    );
    has(
        13,
        "fields.drop[0]",
        &["`reasn` is not a field of v1", "did you mean `reason`"],
    );
    has(
        15,
        "timers.keep[0]",
        &["v2 has no timer `reminder`", "did you mean `reminder_24h`"],
    );
    has(16, "run", &["`notify` changes the case"]);
    assert_eq!(got.len(), 9, "only the real problems: {got:#?}");
    assert_eq!(support::snapshot(&e, 2), before, "nothing changed");

    // Unknown version, unknown workflow.
    let p = MigrationPlan::parse(&PLAN.replace("to: 2", "to: 7"), "p.yaml").unwrap();
    let err = e
        .migrate(&p, &MigrateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("p.yaml:3:") && err.contains("no version 7"),
        "{err}"
    );
    let p = MigrationPlan::parse(
        &PLAN.replace("workflow: request", "workflow: reqest"),
        "p.yaml",
    )
    .unwrap();
    let err = e
        .migrate(&p, &MigrateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("p.yaml:1:") && err.contains("did you mean `request`"),
        "{err}"
    );
    // A required v2 field nobody gives.
    let p = MigrationPlan::parse(
        "workflow: request\nfrom: 1\nto: 2\nstates: { pending: assigned_pending }\nroles: { team: members }\nfields:\n  rename: { sessions: session_count }\n",
        "p.yaml",
    )
    .unwrap();
    let err = e
        .migrate(&p, &MigrateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("p.yaml:6:") && err.contains("field `priority` is required in v2"),
        "{err}"
    );
    // A v1 field v2 lacks must be renamed or dropped: nothing is thrown away silently.
    let p = MigrationPlan::parse(
        "workflow: request\nfrom: 1\nto: 2\nstates: { pending: assigned_pending }\nroles: { team: members }\nfields:\n  set: { priority: low }\n",
        "p.yaml",
    )
    .unwrap();
    let err = e
        .migrate(&p, &MigrateOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("field `sessions` of v1 is not in v2") && err.contains("drop"),
        "{err}"
    );
    assert_eq!(support::snapshot(&e, 2), before, "nothing changed");
    // Chosen cases must be cases of the plan's version.
    let plan = MigrationPlan::parse(PLAN, "plan.yaml").unwrap();
    let err = e
        .migrate(
            &plan,
            &MigrateOptions {
                dry_run: false,
                cases: Some(vec![99]),
            },
        )
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");
    let only = e
        .migrate(
            &plan,
            &MigrateOptions {
                dry_run: false,
                cases: Some(vec![4, 1]),
            },
        )
        .unwrap();
    assert_eq!(only.cases.len(), 2);
    assert_eq!(only.cases[0].case, 1);
    assert_eq!(only.cases[0].outcome, MigrationOutcome::Migrated);
    assert_eq!(only.cases[1].outcome, MigrationOutcome::Refused);
    assert!(
        only.cases[1].reason.as_deref().unwrap().contains("closed"),
        "{only:#?}"
    );
    assert_eq!(
        e.get(2, None).unwrap().version,
        1,
        "only the chosen cases move"
    );
}

#[test]
fn timers_not_kept_start_again_from_the_migration_instant() {
    let (_dir, db) = support::temp_db();
    let clock = ManualClock::at(t0());
    record(&db, &clock);
    let e = both(&db, &clock);
    let plan = MigrationPlan::parse(
        &PLAN.replace("  keep: [back_to_queue, reminder_24h]\n", "  keep: []\n"),
        "p.yaml",
    )
    .unwrap();
    let r = e
        .migrate(
            &plan,
            &MigrateOptions {
                dry_run: false,
                cases: Some(vec![2]),
            },
        )
        .unwrap();
    let now = e.now();
    let fates: Vec<_> = r.cases[0]
        .timers
        .iter()
        .map(|t| (t.name.as_str(), t.fate))
        .collect();
    assert_eq!(
        fates,
        [
            ("reminder_24h", TimerFate::Scheduled),
            ("back_to_queue", TimerFate::Scheduled),
        ]
    );
    let old_due = r.cases[0].timers[1].was_due.unwrap();
    assert_eq!(
        r.cases[0].timers[1].due,
        Some(now + Duration::days(6)),
        "5 business days from Saturday noon: Friday noon"
    );
    assert!(old_due < now + Duration::days(6));
    let timers = e.timers(2).unwrap();
    assert_eq!(timers[0].name, "reminder_24h");
    assert_eq!(timers[0].due_at, now + Duration::hours(24));
    let h = e.history(2, None).unwrap();
    let last = h.last().unwrap();
    assert!(last.effects.contains(&Effect::TimerCancelled {
        name: "back_to_queue".into()
    }));
    assert!(last.effects.contains(&Effect::TimerScheduled {
        name: "reminder_24h".into(),
        due: now + Duration::hours(24)
    }));
    // The rescheduled reminder fires on v2 24h after the migration.
    e.advance("24h").unwrap();
    let n = e.notifications(&Default::default()).unwrap();
    assert_eq!(
        n.iter()
            .filter(|n| n.case_id == Some(2) && n.template == "reminder")
            .count(),
        2
    );
    assert_folds(&e, 2);
}
