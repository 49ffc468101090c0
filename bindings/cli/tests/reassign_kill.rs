//! SIGKILL during a bulk operation: `mentorflow case reassign` and `mentorflow case
//! suspend|resume|cancel` with a filter change each case in its own transaction, so a
//! process killed in the middle leaves every case either done (one more revision, the
//! operator's event) or untouched; running it again finishes the rest.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use mentorflow::{Case, Engine, Person, Start, REASSIGN_ACTION, SUSPEND_ACTION};
use serde_json::json;

const TEAM: &str = r#"
workflow: team
version: 1
roles:
  client: {}
  mentor: {}
states:
  open: { label: Open }
  done: { label: Done, final: true }
actions:
  create:
    to: open
    by: client
    inputs:
      mentor: { type: person, required: true }
    run: 'assign("client", actor.id); assign("mentor", inputs.mentor);'
  finish: { from: open, to: done, by: mentor }
"#;

const CASES: usize = 3000;

fn cli(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("mentorflow"));
    c.current_dir(dir)
        .args(["--db", "t.db", "--workflows", "workflows"]);
    c
}

/// The database of `CASES` open cases of mia's, as stored.
fn setup(dir: &std::path::Path) -> (Engine, Vec<Case>) {
    std::fs::create_dir(dir.join("workflows")).unwrap();
    std::fs::write(dir.join("workflows/team.yaml"), TEAM).unwrap();
    let e = Engine::builder()
        .database(dir.join("t.db"))
        .workflows_dir(dir.join("workflows"))
        .build()
        .unwrap();
    for p in [
        Person::new("pat").org("ch1"),
        Person::new("olga").org("ch1").role("admin"),
        Person::new("mia").org("ch1").role("mentor"),
        Person::new("max").org("ch1").role("mentor"),
    ] {
        e.put_person(&p).unwrap();
    }
    let start = Start {
        workflow: "team".into(),
        action: Some("create".into()),
        actor: "pat".into(),
        inputs: json!({"mentor": "mia"}).as_object().cloned().unwrap(),
        ..Default::default()
    };
    // as stored (the database keeps microseconds)
    let before: Vec<_> = e
        .start_many(&vec![start; CASES])
        .unwrap()
        .iter()
        .map(|c| e.get(c.id, None).unwrap())
        .collect();
    (e, before)
}

#[test]
fn a_killed_bulk_reassignment_leaves_every_case_done_or_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (e, before) = setup(dir.path());
    let child = cli(dir.path())
        .args(["case", "reassign", "mia", "--to", "max", "--as", "olga"])
        .args(["--reason", "mia left"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // kill it once a few cases are done
    let watched = before[10].id;
    let t = Instant::now();
    while e.get(watched, None).unwrap().participants["mentor"] != ["max"] {
        assert!(t.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut child = child;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut done, mut untouched) = (0, 0);
    for old in &before {
        let now = e.get(old.id, None).unwrap();
        let last = e.history(old.id, None).unwrap().pop().unwrap();
        if now.participants["mentor"] == ["max"] {
            assert_eq!(now.revision, old.revision + 1, "case {}", old.id);
            assert_eq!(last.action, REASSIGN_ACTION, "case {}", old.id);
            assert_eq!(last.actor, "olga");
            done += 1;
        } else {
            assert_eq!(&now, old, "case {} is half done", old.id);
            assert_ne!(last.action, REASSIGN_ACTION);
            untouched += 1;
        }
    }
    assert!(
        done > 10 && untouched > 0,
        "done {done}, untouched {untouched}"
    );
    // the cases are taken in id order: the done ones are a prefix
    assert!(before[..done]
        .iter()
        .all(|c| e.get(c.id, None).unwrap().participants["mentor"] == ["max"]));

    // run again: the rest are done, none twice
    let out = cli(dir.path())
        .args(["case", "reassign", "mia", "--to", "max", "--as", "olga"])
        .args(["--reason", "mia left", "--json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["cases"].as_array().unwrap().len(), untouched);
    for old in &before {
        let now = e.get(old.id, None).unwrap();
        assert_eq!(now.participants["mentor"], ["max"]);
        assert_eq!(now.revision, old.revision + 1);
    }
}

#[test]
fn a_killed_bulk_suspend_leaves_every_case_done_or_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (e, before) = setup(dir.path());
    let args = [
        "case",
        "suspend",
        "--workflow",
        "team",
        "--state",
        "open",
        "--as",
        "olga",
        "--reason",
        "audit",
    ];
    let child = cli(dir.path())
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let watched = before[10].id;
    let t = Instant::now();
    while e.get(watched, None).unwrap().suspended.is_none() {
        assert!(t.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut child = child;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut done, mut untouched) = (0, 0);
    for old in &before {
        let now = e.get(old.id, None).unwrap();
        let last = e.history(old.id, None).unwrap().pop().unwrap();
        if let Some(mark) = &now.suspended {
            assert_eq!(mark.by, "olga");
            assert_eq!(now.revision, old.revision + 1, "case {}", old.id);
            assert_eq!(last.action, SUSPEND_ACTION, "case {}", old.id);
            assert_eq!(last.inputs["reason"], json!("audit"));
            done += 1;
        } else {
            assert_eq!(&now, old, "case {} is half done", old.id);
            assert_ne!(last.action, SUSPEND_ACTION);
            untouched += 1;
        }
    }
    assert!(
        done > 10 && untouched > 0,
        "done {done}, untouched {untouched}"
    );
    assert!(before[..done]
        .iter()
        .all(|c| e.get(c.id, None).unwrap().suspended.is_some()));

    // the dry run lists exactly the rest; running again suspends them, none twice
    let dry = cli(dir.path())
        .args(args)
        .args(["--dry-run", "--json"])
        .output()
        .unwrap();
    assert!(dry.status.success(), "{dry:?}");
    let report: serde_json::Value = serde_json::from_slice(&dry.stdout).unwrap();
    assert_eq!(report["cases"].as_array().unwrap().len(), untouched);
    let out = cli(dir.path()).args(args).arg("--json").output().unwrap();
    assert!(out.status.success(), "{out:?}");
    for old in &before {
        let now = e.get(old.id, None).unwrap();
        assert!(now.suspended.is_some());
        assert_eq!(now.revision, old.revision + 1);
    }
}
