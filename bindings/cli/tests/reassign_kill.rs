//! SIGKILL during a bulk reassignment: `mentorflow case reassign` moves each case in its own
//! transaction, so a process killed in the middle leaves every case either done (the new
//! mentor, one more revision, an `operator:reassign` event) or untouched; running it again
//! finishes the rest.
#![cfg(unix)]
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use mentorflow::{Engine, Person, Start, REASSIGN_ACTION};
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

#[test]
fn a_killed_bulk_reassignment_leaves_every_case_done_or_untouched() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("workflows")).unwrap();
    std::fs::write(dir.path().join("workflows/team.yaml"), TEAM).unwrap();
    let e = Engine::builder()
        .database(dir.path().join("t.db"))
        .workflows_dir(dir.path().join("workflows"))
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
