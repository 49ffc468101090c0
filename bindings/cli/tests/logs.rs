//! Logs go to stderr through `tracing`, chosen by `RUST_LOG`, as text or JSON lines; stdout
//! (the command's output) is the same with or without them.
#![allow(clippy::unwrap_used)]

use mentorflow::{Engine, Person};

const FLOW: &str = r#"
workflow: note
version: 1
roles:
  owner: {}
states:
  open: { label: Open }
  done: { label: Done, final: true }
actions:
  create: { to: open, by: owner, run: 'assign("owner", actor.id)' }
  finish: { from: open, to: done, by: owner }
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("workflows")).unwrap();
    std::fs::write(dir.path().join("workflows/note.yaml"), FLOW).unwrap();
    let e = Engine::builder()
        .database(dir.path().join("t.db"))
        .workflows_dir(dir.path().join("workflows"))
        .build()
        .unwrap();
    e.put_person(&Person::new("pat").org("ch1")).unwrap();
    dir
}

fn run(dir: &std::path::Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("mentorflow"));
    c.current_dir(dir)
        .args([
            "--db",
            "t.db",
            "--workflows",
            "workflows",
            "--now",
            "2026-11-20T10:00:00Z",
        ])
        .args(args)
        .env_remove("RUST_LOG")
        .env_remove("MENTORFLOW_LOG_FORMAT");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn commands_log_to_stderr_only_when_asked_and_stdout_stays_the_same() {
    let quiet = setup();
    let loud = setup();
    let (ok, out_quiet, err_quiet) = run(quiet.path(), &[], &["start", "note", "--as", "pat"]);
    assert!(ok && err_quiet.is_empty(), "{err_quiet}");
    let debug = [("RUST_LOG", "mentorflow=debug")];
    let (ok, out_loud, err_loud) = run(loud.path(), &debug, &["start", "note", "--as", "pat"]);
    assert!(ok);
    assert_eq!(out_loud, out_quiet, "logs never reach stdout");
    assert!(
        err_loud.contains("command done")
            && err_loud.contains("command=\"start\"")
            && err_loud.contains("case=1")
            && err_loud.contains("outcome=\"ok\""),
        "{err_loud}"
    );

    // a refused act, as JSON lines
    let json = [
        ("RUST_LOG", "mentorflow=info"),
        ("MENTORFLOW_LOG_FORMAT", "json"),
    ];
    let args = ["act", "1", "nope", "--as", "pat"];
    let (ok, _, err) = run(loud.path(), &json, &args);
    assert!(!ok);
    let line = err
        .lines()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON log line in {err}"));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(v["level"], "INFO");
    assert_eq!(v["fields"]["message"], "command refused");
    assert_eq!(v["fields"]["command"], "act");
    assert_eq!(v["fields"]["case"], 1);
    assert_eq!(v["fields"]["outcome"], "not_found");
    // the error itself is still printed as before
    assert!(err.lines().any(|l| l.starts_with("error:")), "{err}");

    // a RUST_LOG that is no filter is refused, naming it
    let (ok, _, err) = run(loud.path(), &[("RUST_LOG", "mentorflow=loud")], &["list"]);
    assert!(!ok);
    assert!(err.contains("RUST_LOG"), "{err}");
}
