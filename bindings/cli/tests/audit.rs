//! `mentorflow audit`, `people forget` and `retention run`, run as a user runs them.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::Value;
use tempfile::TempDir;

/// Friday 2026-11-20, 10:00 UTC.
const T0: &str = "2026-11-20T10:00:00Z";
const T1: &str = "2026-11-20T11:00:00Z";

fn workflows() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/workflows")
}

struct Env {
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: TempDir::new().unwrap(),
        }
    }

    fn cmd(&self, now: &str, args: &[&str]) -> Command {
        let mut c = Command::cargo_bin("mentorflow").unwrap();
        c.current_dir(self.dir.path())
            .env_remove("MENTORFLOW_DB")
            .env_remove("MENTORFLOW_WORKFLOWS")
            .env_remove("MENTORFLOW_ACTOR")
            .env("NO_COLOR", "1")
            .args(["--db", "t.db", "--workflows"])
            .arg(workflows())
            .args(["--now", now])
            .args(args);
        c
    }

    fn ok(&self, now: &str, args: &[&str]) -> String {
        let out = self.cmd(now, args).assert().success().get_output().clone();
        String::from_utf8(out.stdout).unwrap()
    }

    fn fails(&self, now: &str, args: &[&str]) -> String {
        let out = self.cmd(now, args).assert().failure().get_output().clone();
        String::from_utf8(out.stderr).unwrap()
    }
}

#[test]
fn audit_lists_and_exports_who_changed_what() {
    let e = Env::new();
    e.ok(
        T0,
        &[
            "--actor", "hr", "people", "put", "olga", "--org", "ch1", "--role", "admin",
        ],
    );
    e.cmd(T0, &["people", "put", "pat", "--org", "ch1"])
        .env("MENTORFLOW_ACTOR", "cody")
        .assert()
        .success();
    e.ok(T0, &["orgs", "put", "ch1", "--timezone", "Europe/Zurich"]);
    let started = e.ok(
        T0,
        &[
            "--json",
            "start",
            "request",
            "--as",
            "pat",
            "--set",
            "client_name=Pat",
        ],
    );
    let id = serde_json::from_str::<Value>(&started).unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    e.ok(
        T1,
        &[
            "case", "suspend", &id, "--as", "olga", "--reason", "on hold",
        ],
    );

    let list: Value = serde_json::from_str(&e.ok(T1, &["--json", "audit", "list"])).unwrap();
    let got: Vec<(String, String, String)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap().to_owned(),
                a["actor"].as_str().unwrap().to_owned(),
                a["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let want: Vec<(String, String, String)> = [
        ("definition.deploy", "hr", "definition:request@1"),
        ("person.put", "hr", "person:olga"),
        ("person.put", "cody", "person:pat"),
        ("org.put", "system", "org:ch1"),
        ("case.suspend", "olga", &*format!("case:{id}")),
    ]
    .iter()
    .map(|(k, a, s)| ((*k).to_owned(), (*a).to_owned(), (*s).to_owned()))
    .collect();
    assert_eq!(got, want);

    // the human table: who, what kind, what changed
    let text = e.ok(T1, &["audit", "list", "--kind", "org"]);
    assert!(text.contains("org.put"), "{text}");
    assert!(text.contains("timezone"), "{text}");
    assert!(text.contains("Europe/Zurich"), "{text}");
    assert!(!text.contains("person.put"), "{text}");
    let text = e.ok(T1, &["audit", "list", "--since", T1]);
    assert!(text.contains("case.suspend"), "{text}");
    assert!(text.contains("on hold"), "{text}");
    assert!(!text.contains("person.put"), "{text}");
    assert!(e
        .ok(T1, &["audit", "--kind", "nothing"])
        .contains("no audit entries"));

    // export: JSON lines, one entry a line, to stdout or a file
    let lines = e.ok(T1, &["audit", "export", "--by", "hr"]);
    let parsed: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed.len(), 2);
    assert_eq!(parsed[1]["after"]["roles"], serde_json::json!(["admin"]));
    e.ok(T1, &["audit", "export", "--output", "audit.jsonl"]);
    let file = std::fs::read_to_string(e.dir.path().join("audit.jsonl")).unwrap();
    assert_eq!(file.lines().count(), 5);

    // bad input: a clear error
    let err = e.fails(T1, &["audit", "list", "--since", "yesterday"]);
    assert!(err.contains("--since"), "{err}");
}

#[test]
fn people_forget_lists_with_a_dry_run_then_blanks() {
    let e = Env::new();
    e.ok(
        T0,
        &["people", "put", "olga", "--org", "ch1", "--role", "admin"],
    );
    e.ok(
        T0,
        &[
            "people",
            "put",
            "pat",
            "--org",
            "ch1",
            "--name",
            "Pat Zqxmark",
            "--email",
            "pat@zqxmark.example",
        ],
    );
    let started = e.ok(
        T0,
        &[
            "--json",
            "start",
            "request",
            "--as",
            "pat",
            "--set",
            "client_name=Pat Zqxmark",
        ],
    );
    let id = serde_json::from_str::<Value>(&started).unwrap()["id"]
        .as_i64()
        .unwrap()
        .to_string();
    let dry = e.ok(
        T1,
        &[
            "people",
            "forget",
            "pat",
            "--as",
            "olga",
            "--reason",
            "request 7",
            "--dry-run",
        ],
    );
    assert!(
        dry.contains("dry run: pat would become forgotten-1"),
        "{dry}"
    );
    assert!(
        dry.contains("directory") && dry.contains("history"),
        "{dry}"
    );
    assert!(e.ok(T1, &["show", &id]).contains("Zqxmark"));

    let err = e.fails(
        T1,
        &["people", "forget", "pat", "--as", "pat", "--reason", "x"],
    );
    assert!(
        err.contains("not_permitted") || err.contains("may not"),
        "{err}"
    );

    let done: Value = serde_json::from_str(&e.ok(
        T1,
        &[
            "--json",
            "people",
            "forget",
            "pat",
            "--as",
            "olga",
            "--reason",
            "request 7",
        ],
    ))
    .unwrap();
    assert_eq!(done["pseudonym"], "forgotten-1");
    assert_eq!(
        done["cases"],
        serde_json::json!([id.parse::<i64>().unwrap()])
    );
    let show = e.ok(T1, &["show", &id]);
    assert!(!show.to_lowercase().contains("zqxmark"), "{show}");
    assert!(show.contains("forgotten-1"), "{show}");
    let log = e.ok(T1, &["audit", "export", "--kind", "person.forget"]);
    assert!(log.contains("\"actor\":\"olga\""), "{log}");
    assert!(!e
        .ok(T1, &["audit", "export"])
        .to_lowercase()
        .contains("zqxmark"));
}

#[test]
fn retention_run_needs_an_export_and_never_overwrites_one() {
    let e = Env::new();
    e.ok(
        T0,
        &[
            "orgs",
            "put",
            "ch1",
            "--set",
            r#"retention={"after_days": 730, "then": "purge"}"#,
        ],
    );
    let err = e.fails(
        T0,
        &[
            "orgs",
            "put",
            "ch1",
            "--set",
            r#"retention={"after_days": 0, "then": "purge"}"#,
        ],
    );
    assert!(err.contains("retention.after_days"), "{err}");
    assert!(e
        .ok(T0, &["retention", "run", "--dry-run"])
        .contains("no closed case is due"));
    let err = e.fails(T0, &["retention", "run"]);
    assert!(err.contains("--export"), "{err}");
    std::fs::write(e.dir.path().join("old.jsonl"), "keep me\n").unwrap();
    let err = e.fails(T0, &["retention", "run", "--export", "old.jsonl"]);
    assert!(err.contains("never overwrites"), "{err}");
    assert_eq!(
        std::fs::read_to_string(e.dir.path().join("old.jsonl")).unwrap(),
        "keep me\n"
    );
    let report: Value =
        serde_json::from_str(&e.ok(T0, &["--json", "retention", "run", "--export", "new.jsonl"]))
            .unwrap();
    assert_eq!(report["cases"], serde_json::json!([]));
    assert!(e.dir.path().join("new.jsonl").exists());
}
