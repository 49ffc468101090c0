//! The `mentorflow` command line, run as a user runs it: every command, its human and JSON
//! output (insta snapshots) and its error paths.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;
use tempfile::TempDir;

/// Friday 2026-11-20, 10:00 UTC.
const T0: &str = "2026-11-20T10:00:00Z";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A temporary folder with a database, and the fixture workflows.
struct Env {
    dir: TempDir,
    /// The `--now` of `run`, `ok`, `json` and `fails`: T0 until `move_clock` moves it.
    now: std::cell::Cell<&'static str>,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: TempDir::new().unwrap(),
            now: std::cell::Cell::new(T0),
        }
    }

    /// Run the following commands at `now` (a database refuses a clock that starts before its
    /// last committed event).
    fn move_clock(&self, now: &'static str) {
        self.now.set(now);
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `mentorflow` in the temp folder, on the fixture workflows, without colours.
    fn bare(&self) -> Command {
        let mut c = Command::cargo_bin("mentorflow").unwrap();
        c.current_dir(self.dir.path())
            .env_remove("MENTORFLOW_DB")
            .env_remove("MENTORFLOW_WORKFLOWS")
            .env("NO_COLOR", "1");
        c
    }

    /// `mentorflow --db t.db --workflows FIXTURES --now T0 ARGS...`
    fn run(&self, args: &[&str]) -> Command {
        self.at(self.now.get(), args)
    }

    fn at(&self, now: &str, args: &[&str]) -> Command {
        let mut c = self.bare();
        // only the options the command takes (the others are ignored with a warning)
        let command = args.first().copied().unwrap_or_default();
        if command != "test" {
            c.arg("--db").arg("t.db");
        }
        c.arg("--workflows").arg(fixtures().join("workflows"));
        if !matches!(command, "test" | "validate") {
            c.arg("--now").arg(now);
        }
        c.args(args);
        c
    }

    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args).assert().success().get_output().clone();
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        serde_json::from_str(&self.ok(&all)).unwrap()
    }

    /// Runs and expects exit 1 with one `error:` line; returns that line.
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args).assert().code(1).get_output().clone();
        assert!(out.stdout.is_empty() || args.first() == Some(&"validate"));
        let err = String::from_utf8(out.stderr).unwrap();
        let last = err.lines().last().unwrap_or_default().to_owned();
        assert!(last.starts_with("error: "), "{err}");
        last
    }

    /// The directory of the REQUEST workflow.
    fn people(&self) {
        for args in [
            &[
                "people",
                "put",
                "pat",
                "--org",
                "ch1",
                "--name",
                "Pat Client",
            ][..],
            &[
                "people",
                "put",
                "cody",
                "--org",
                "ch1",
                "--name",
                "Cody Coordinator",
                "--role",
                "coordinator",
            ],
            &[
                "people",
                "put",
                "alice",
                "--org",
                "ch1",
                "--name",
                "Alice Mentor",
                "--role",
                "mentor",
                "--set",
                "classification=active",
                "--email",
                "alice@example.org",
            ],
            &[
                "people",
                "put",
                "bob",
                "--org",
                "ch1",
                "--name",
                "Bob Provisional",
                "--role",
                "mentor",
                "--set",
                "classification=provisional",
            ],
        ] {
            self.ok(args);
        }
    }

    /// People, and case 1 assigned to alice.
    fn assigned(&self) {
        self.people();
        self.ok(&[
            "start",
            "request",
            "--as",
            "pat",
            "--set",
            "client_name=Pat's Bakery",
        ]);
        self.ok(&[
            "act",
            "1",
            "assign",
            "--as",
            "cody",
            "--set",
            "mentor=alice",
        ]);
    }
}

macro_rules! snap {
    ($name:expr, $value:expr) => {
        insta::with_settings!({
            filters => vec![
                (r"/tmp/[^\s:]+/", "[TMP]/"),
                (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "[TIME]"),
            ],
            prepend_module_to_snapshot => false,
        }, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

// ---- authoring ------------------------------------------------------------------------------

#[test]
fn validate_counts_valid_workflows() {
    let e = Env::new();
    let out = e.ok(&["validate"]);
    assert_eq!(out, "1 workflow valid\n");
    let v = e.json(&["validate"]);
    assert_eq!(v["valid"][0]["workflow"], "request");
    assert_eq!(v["problems"], serde_json::json!([]));
}

#[test]
fn validate_prints_every_problem_with_file_line_and_column() {
    let e = Env::new();
    std::fs::write(
        e.path("broken.yaml"),
        "workflow: broken\nversion: 1\nroles: { a: {} }\nstates:\n  open: {}\nactions:\n  go: { to: nowhere, by: a }\n  stop: { from: open, to: closed, by: b }\n",
    )
    .unwrap();
    let out = e
        .run(&["validate", "broken.yaml"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    snap!("validate_broken", stdout);
    assert!(
        stdout.contains("broken.yaml:7:13: unknown state `nowhere` in `to` of action `go`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("broken.yaml:8:39: unknown role `b`"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains("in 1 file"), "{stderr}");
}

#[test]
fn a_broken_workflows_folder_fails_every_command_with_its_problems() {
    let e = Env::new();
    std::fs::create_dir(e.path("wf")).unwrap();
    std::fs::write(
        e.path("wf/bad.yaml"),
        "workflow: bad\nversion: 1\nstates:\n  a: {}\nactions:\n  go: { to: b, by: x }\n",
    )
    .unwrap();
    let out = e
        .bare()
        .args(["--workflows", "wf", "list"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = err.lines().collect();
    assert!(lines.len() >= 2, "{err}");
    assert!(lines[0].starts_with("wf/bad.yaml:4:3: "), "{err}");
    assert!(err.contains("wf/bad.yaml:6:13: unknown state `b`"), "{err}");
    assert!(lines.last().unwrap().starts_with("error: "), "{err}");
    assert!(err.contains("mentorflow validate"), "{err}");
}

#[test]
fn graph_draws_mermaid_and_dot() {
    let e = Env::new();
    snap!("graph_mermaid", e.ok(&["graph", "request"]));
    let dot = e.ok(&["graph", "request", "--format", "dot"]);
    snap!("graph_dot", dot);
    let svg = e.ok(&["graph", "request", "--format", "svg"]);
    assert!(
        svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"flow-svg\""),
        "{svg}"
    );
    assert!(svg.contains("role=\"img\""), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    assert!(!e.path("t.db").exists(), "drawing needs no database");
}

#[test]
fn graph_with_a_case_highlights_its_path() {
    let e = Env::new();
    e.assigned();
    let text = e.ok(&["graph", "request", "--case", "1"]);
    assert!(text.contains("class s_pending current"), "{text}");
    assert!(text.contains("class s_submitted visited"), "{text}");
    assert!(text.contains("linkStyle 0,1 stroke:#e65100"), "{text}");
    let svg = e.ok(&["graph", "request", "--case", "1", "--format", "svg"]);
    assert_eq!(svg.matches(" current\"").count(), 1, "{svg}");
    assert!(svg.contains("The case is now in"), "{svg}");
    let dot = e.ok(&["graph", "request", "--case", "1", "--format", "dot"]);
    assert!(
        dot.contains("\"submitted\" -> \"pending\" [label=\"assign · coordinator\", color=\"#e65100\", penwidth=3]"),
        "{dot}"
    );
    let err = e.fails(&["graph", "other", "--case", "1"]);
    assert!(err.contains("runs workflow `request`"), "{err}");
}

#[test]
fn graph_of_an_unknown_workflow_names_the_loaded_ones() {
    let e = Env::new();
    let err = e.fails(&["graph", "nope"]);
    assert!(err.contains("workflow `nope` not found"), "{err}");
    assert!(err.contains("request"), "{err}");
}

/// A tiny JSON Schema checker for the keywords the language schema uses.
fn check(schema: &Value, root: &Value, v: &Value, path: &str, errors: &mut Vec<String>) {
    let resolve = |s: &Value| -> Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.trim_start_matches("#/$defs/");
                let mut target = root["$defs"][name].clone();
                if let (Value::Object(t), Value::Object(orig)) = (&mut target, s) {
                    for (k, val) in orig {
                        if k != "$ref" {
                            t.entry(k.clone()).or_insert(val.clone());
                        }
                    }
                }
                target
            }
            None => s.clone(),
        }
    };
    let s = resolve(schema);
    let type_ok = |t: &str| match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => false,
    };
    if let Some(t) = s.get("type") {
        let ok = match t {
            Value::String(t) => type_ok(t),
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).any(type_ok),
            _ => true,
        };
        if !ok {
            errors.push(format!("{path}: expected type {t}, got {v}"));
            return;
        }
    }
    if let Some(Value::Array(e)) = s.get("enum") {
        if !e.contains(v) {
            errors.push(format!("{path}: {v} not in enum"));
        }
    }
    if let (Some(Value::String(p)), Value::String(text)) = (s.get("pattern"), v) {
        let ident = p == "^[A-Za-z_][A-Za-z0-9_]*$";
        if ident
            && !text
                .chars()
                .enumerate()
                .all(|(i, c)| c == '_' || c.is_ascii_alphabetic() || (i > 0 && c.is_ascii_digit()))
        {
            errors.push(format!("{path}: `{text}` does not match {p}"));
        }
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(alts)) = s.get(key) {
            let passing = alts
                .iter()
                .filter(|alt| {
                    let mut e = Vec::new();
                    check(alt, root, v, path, &mut e);
                    e.is_empty()
                })
                .count();
            if (key == "anyOf" && passing == 0) || (key == "oneOf" && passing != 1) {
                errors.push(format!("{path}: {passing} alternatives of {key} match"));
            }
        }
    }
    if let Some(Value::Object(not)) = s.get("not") {
        let mut e = Vec::new();
        check(&Value::Object(not.clone()), root, v, path, &mut e);
        if e.is_empty() {
            errors.push(format!("{path}: matches `not`"));
        }
    }
    if let Value::Object(m) = v {
        if let Some(Value::Array(req)) = s.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !m.contains_key(r) {
                    errors.push(format!("{path}: missing `{r}`"));
                }
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        for (k, val) in m {
            let p = format!("{path}.{k}");
            if let Some(names) = s.get("propertyNames") {
                check(names, root, &Value::String(k.clone()), &p, errors);
            }
            match props.and_then(|ps| ps.get(k)) {
                Some(ps) => check(ps, root, val, &p, errors),
                None => match s.get("additionalProperties") {
                    Some(Value::Bool(false)) => errors.push(format!("{p}: unknown key")),
                    Some(extra @ Value::Object(_)) => check(extra, root, val, &p, errors),
                    _ => {}
                },
            }
        }
    }
    if let (Value::Array(items), Some(item_schema)) = (v, s.get("items")) {
        for (i, it) in items.iter().enumerate() {
            check(item_schema, root, it, &format!("{path}[{i}]"), errors);
        }
    }
}

fn yaml_value(text: &str) -> Value {
    mentorflow::yaml::parse(text).unwrap().0
}

#[test]
fn schema_accepts_the_workflows_and_flags_unknown_keys() {
    let e = Env::new();
    let schema = e.json(&["schema"]);
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let mut files = vec![fixtures().join("workflows/request.yaml")];
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows");
    for f in std::fs::read_dir(&shipped).unwrap() {
        files.push(f.unwrap().path());
    }
    assert!(files.len() >= 5, "{files:?}");
    for f in &files {
        let v = yaml_value(&std::fs::read_to_string(f).unwrap());
        let mut errors = Vec::new();
        check(&schema, &schema, &v, "", &mut errors);
        assert!(errors.is_empty(), "{}: {errors:#?}", f.display());
    }
    let bad = yaml_value(
        "workflow: w\nversion: 1\nstates: { a: { lable: A } }\nactions:\n  go: { to: a, by: x, guard: { message: No } }\n",
    );
    let mut errors = Vec::new();
    check(&schema, &schema, &bad, "", &mut errors);
    // `lable` is no key of a state; a guard map needs `when`.
    assert!(
        errors.iter().any(|e| e.starts_with(".states.a:")),
        "{errors:#?}"
    );
    assert!(
        errors.iter().any(|e| e.starts_with(".actions.go.guard:")),
        "{errors:#?}"
    );
    assert_eq!(errors.len(), 2, "{errors:#?}");
    let mut detail = Vec::new();
    check(
        &schema["$defs"]["state_map"],
        &schema,
        &bad["states"]["a"],
        "",
        &mut detail,
    );
    assert_eq!(detail, vec![".lable: unknown key".to_owned()]);
}

#[test]
fn scenario_tests_report_each_scenario_and_a_final_count() {
    let e = Env::new();
    let out = e
        .run(&[
            "test",
            fixtures().join("scenarios").to_str().unwrap(),
            "--coverage",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let root = fixtures().display().to_string();
    let stdout = stdout.replace(&root, "[FIXTURES]");
    snap!("test_report", stdout);
    assert!(
        stdout.lines().any(|l| l == "1 passed, 1 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok      The coordinator assigns"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED  A scenario that expects the wrong state"),
        "{stdout}"
    );
    assert!(
        stdout.contains("request-wrong-state.yaml:12: step 1 (start request as pat)"),
        "{stdout}"
    );
    assert!(stdout.contains("expected: state `pending`"), "{stdout}");
    assert!(stdout.contains("not reached actions:"), "{stdout}");
    assert_eq!(stderr, "error: 1 scenario failed\n");
    let passing = fixtures().join("scenarios/request-accept.yaml");
    let ok = e.ok(&["test", passing.to_str().unwrap()]);
    assert!(ok.ends_with("\n1 passed, 0 failed\n"), "{ok}");
    let v = e.json(&["test", passing.to_str().unwrap()]);
    assert_eq!(v["passed"], 1);
    assert_eq!(v["reports"][0]["passed"], true);
}

#[test]
fn test_min_coverage_fails_below_the_threshold_naming_what_is_not_reached() {
    let e = Env::new();
    let passing = fixtures().join("scenarios/request-accept.yaml");
    let p = passing.to_str().unwrap();
    // The one scenario takes submit, assign and accept: 3 of the 9 transitions.
    let v = e.json(&["test", p, "--coverage"]);
    let u = &v["uncovered"][0];
    assert_eq!(u["transitions_total"], 9, "{u}");
    assert_eq!(u["transitions_covered"], 3, "{u}");
    assert_eq!(u["percent"], 33, "{u}");
    let out = e
        .run(&["test", p, "--min-coverage", "50"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stdout.contains("1 passed, 0 failed"), "{stdout}");
    assert!(
        stdout.contains("request v1: 3/9 transitions taken (33.3%)"),
        "{stdout}"
    );
    assert!(
        stderr.contains("request v1: 33.3% of transitions covered (3 of 9), below 50%"),
        "{stderr}"
    );
    assert!(stderr.contains("pending --decline-->"), "{stderr}");
    assert!(stderr.contains("in_progress --complete-->"), "{stderr}");
    assert!(!stderr.contains("--accept-->"), "{stderr}");
    // At or under the coverage reached, the run passes.
    e.ok(&["test", p, "--min-coverage", "33"]);
    let bad = e
        .run(&["test", p, "--min-coverage", "150"])
        .assert()
        .failure()
        .get_output()
        .clone();
    let bad = String::from_utf8(bad.stderr).unwrap();
    assert!(bad.contains("`150` is not between 0 and 100"), "{bad}");
}

#[test]
fn replay_reports_identical_cases_and_the_first_divergence_of_a_changed_version() {
    let e = Env::new();
    e.people();
    e.ok(&["start", "request", "--as", "pat", "--set", "client_name=A"]);
    e.ok(&[
        "act",
        "1",
        "assign",
        "--as",
        "cody",
        "--set",
        "mentor=alice",
    ]);
    e.ok(&[
        "act",
        "1",
        "decline",
        "--as",
        "alice",
        "--set",
        "reason=busy",
    ]);
    let same = e.ok(&["replay", "request", "--version", "1"]);
    assert!(
        same.starts_with("identical  case 1 (v1, 3 events)\n"),
        "{same}"
    );
    assert!(
        same.ends_with("request v1: 1 identical, 0 diverged, 0 not replayable\n"),
        "{same}"
    );
    // Version 2 sends a declined request to `complete`.
    let w2 = e.path("w2");
    std::fs::create_dir(&w2).unwrap();
    let v1 = std::fs::read_to_string(fixtures().join("workflows/request.yaml")).unwrap();
    std::fs::write(w2.join("request.yaml"), &v1).unwrap();
    let v2 = v1.replace("version: 1", "version: 2").replace(
        "  decline:\n    from: pending\n    to: submitted",
        "  decline:\n    from: pending\n    to: complete",
    );
    assert_ne!(v1.replace("version: 1", "version: 2"), v2);
    std::fs::write(w2.join("request-v2.yaml"), &v2).unwrap();
    let history_before = e.ok(&["history", "1"]);
    let replay = |json: bool| {
        let mut c = e.bare();
        c.args(["--db", "t.db", "--workflows"])
            .arg(&w2)
            .args(["--now", T0]);
        if json {
            c.arg("--json");
        }
        c.args(["replay", "request", "--version", "2", "--cases", "1"]);
        c.assert().code(1).get_output().clone()
    };
    let out = replay(false);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("diverged   case 1 (v1, 3 events)\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("event 3 (decline by alice at 2026-11-20T10:00:00+00:00): another state: recorded state `submitted`, replayed state `complete`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("request v2: 0 identical, 1 diverged"),
        "{stdout}"
    );
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: 1 case diverged on request v2\n"
    );
    let v: Value = serde_json::from_slice(&replay(true).stdout).unwrap();
    assert_eq!(v["diverged"], 1);
    assert_eq!(v["cases"][0]["divergence"]["kind"], "state");
    assert_eq!(v["cases"][0]["divergence"]["seq"], 3);
    // Nothing changed in the database.
    assert_eq!(e.ok(&["history", "1"]), history_before);
    let unknown = e.fails(&["replay", "request", "--version", "7"]);
    assert!(unknown.contains("request v7"), "{unknown}");
}

#[test]
fn migrate_dry_run_says_what_would_change_and_the_real_run_moves_the_cases() {
    let e = Env::new();
    e.people();
    e.ok(&["start", "request", "--as", "pat", "--set", "client_name=A"]);
    e.ok(&["start", "request", "--as", "pat", "--set", "client_name=B"]);
    e.ok(&[
        "act",
        "2",
        "assign",
        "--as",
        "cody",
        "--set",
        "mentor=alice",
    ]);
    // v2: `pending` is `assigned_pending`, and a required `priority`.
    let w2 = e.path("w2");
    std::fs::create_dir(&w2).unwrap();
    let v1 = std::fs::read_to_string(fixtures().join("workflows/request.yaml")).unwrap();
    std::fs::write(w2.join("request.yaml"), &v1).unwrap();
    let v2 = v1
        .replace("version: 1", "version: 2")
        .replace("  pending:\n", "  assigned_pending:\n")
        .replace("to: pending", "to: assigned_pending")
        .replace("from: pending", "from: assigned_pending")
        .replace("[pending]", "[assigned_pending]")
        .replace(
            "  sessions: { type: int, default: 0, min: 0 }\n",
            "  sessions: { type: int, default: 0, min: 0 }\n  priority: { type: string, required: true, one_of: [low, high] }\n",
        );
    std::fs::write(w2.join("request-v2.yaml"), &v2).unwrap();
    std::fs::write(
        e.path("plan.yaml"),
        "workflow: request\nfrom: 1\nto: 2\nstates:\n  pending: assigned_pending\nfields:\n  set:\n    priority: { expr: 'if fields.client_name == \"B\" { \"high\" } else { \"low\" }' }\ntimers:\n  keep: [back_to_queue]\n",
    )
    .unwrap();
    let migrate = |args: &[&str], code: i32| {
        let mut c = e.bare();
        c.args(["--db", "t.db", "--workflows"])
            .arg(&w2)
            .args(["--now", "2026-11-20T12:00:00Z"])
            .args(args);
        let out = c.assert().code(code).get_output().clone();
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let history_before = e.ok(&["history", "2"]);
    let (dry, _) = migrate(&["migrate", "plan.yaml", "--dry-run"], 0);
    assert!(
        dry.starts_with("would migrate  case 1: submitted → submitted\n"),
        "{dry}"
    );
    assert!(
        dry.contains("would migrate  case 2: pending → assigned_pending\n"),
        "{dry}"
    );
    assert!(dry.contains("field priority: (unset) → \"high\""), "{dry}");
    assert!(
        dry.contains("timer back_to_queue: kept, due 2026-11-27T10:00:00Z"),
        "{dry}"
    );
    assert!(dry.contains("timer reminder_24h: scheduled again, due 2026-11-21T12:00:00Z (was 2026-11-21T10:00:00Z)"), "{dry}");
    assert!(
        dry.ends_with(
            "request v1 → v2 (dry run): 2 would migrate, 0 refused, 0 closed cases left on v1\n"
        ),
        "{dry}"
    );
    assert_eq!(
        e.ok(&["history", "2"]),
        history_before,
        "a dry run writes nothing"
    );
    // JSON
    let (json, _) = migrate(
        &[
            "--json",
            "migrate",
            "plan.yaml",
            "--dry-run",
            "--cases",
            "2",
        ],
        0,
    );
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["dry_run"], true);
    assert_eq!(v["cases"][0]["outcome"], "would_migrate");
    assert_eq!(v["cases"][0]["to_state"], "assigned_pending");
    // A plan with problems: every one, at its line, and nothing changes.
    std::fs::write(
        e.path("bad.yaml"),
        "workflow: request\nfrom: 1\nto: 2\nstates:\n  pendng: assigned_pending\n",
    )
    .unwrap();
    let (_, err) = migrate(&["migrate", "bad.yaml"], 1);
    assert!(
        err.contains("bad.yaml:5:3: `pendng` is not a state of v1; did you mean `pending`?"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:4:1: state `pending` of v1 holds 1 open case"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:3:1: field `priority` is required in v2"),
        "{err}"
    );
    assert!(
        err.ends_with(
            "error: 3 problems in the migration plan bad.yaml; fix them (nothing was migrated)\n"
        ),
        "{err}"
    );
    assert_eq!(e.ok(&["history", "2"]), history_before);
    let (_, err) = migrate(&["migrate", "missing.yaml"], 1);
    assert!(
        err.contains("missing.yaml") && err.contains("cannot read the migration plan"),
        "{err}"
    );
    // The real run.
    let (real, _) = migrate(&["migrate", "plan.yaml"], 0);
    assert!(
        real.contains("migrated       case 2: pending → assigned_pending\n"),
        "{real}"
    );
    assert!(
        real.ends_with("request v1 → v2: 2 migrated, 0 refused, 0 closed cases left on v1\n"),
        "{real}"
    );
    let shown: Value = {
        let mut c = e.bare();
        c.args(["--db", "t.db", "--workflows"]).arg(&w2).args([
            "--now",
            "2026-11-20T12:00:00Z",
            "--json",
            "show",
            "2",
        ]);
        serde_json::from_slice(&c.assert().success().get_output().stdout).unwrap()
    };
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["state"], "assigned_pending");
    assert_eq!(shown["data"]["priority"], "high");
    // Again: nothing left on v1.
    let (again, _) = migrate(&["migrate", "plan.yaml"], 0);
    assert_eq!(
        again,
        "request v1 → v2: 0 migrated, 0 refused, 0 closed cases left on v1\n"
    );
}

// ---- cases ------------------------------------------------------------------------------------

#[test]
fn a_request_goes_through_start_act_show_history_list_view_and_export() {
    let e = Env::new();
    e.people();
    let started = e.ok(&[
        "start",
        "request",
        "--as",
        "pat",
        "--set",
        "client_name=Pat's Bakery",
    ]);
    snap!("start", started);
    let assigned = e.ok(&[
        "act",
        "1",
        "assign",
        "--as",
        "cody",
        "--set",
        "mentor=alice",
    ]);
    snap!("act_assign", assigned);
    snap!("actions_alice", e.ok(&["actions", "1", "--as", "alice"]));
    let names: Vec<Value> = e
        .json(&["actions", "1", "--as", "alice"])
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].clone())
        .collect();
    assert_eq!(
        names,
        [serde_json::json!("accept"), serde_json::json!("decline")]
    );
    snap!("show", e.ok(&["show", "1", "--as", "alice"]));
    let shown = e.json(&["show", "1"]);
    for key in [
        "id",
        "workflow",
        "version",
        "state",
        "data",
        "participants",
        "org",
        "revision",
    ] {
        assert!(shown.get(key).is_some(), "{key} missing in {shown}");
    }
    assert_eq!(shown["state"], "pending");
    assert_eq!(
        shown["participants"]["mentor"],
        serde_json::json!(["alice"])
    );
    assert_eq!(shown["data"]["client_name"], "Pat's Bakery");
    assert_eq!(shown["timers"][0]["name"], "reminder_24h");
    e.ok(&[
        "act",
        "1",
        "accept",
        "--as",
        "alice",
        "--set",
        "note=Hi Pat, see you Monday",
    ]);
    e.ok(&["act", "1", "log_session", "--as", "alice"]);
    let done = e.json(&["act", "1", "complete", "--as", "alice"]);
    assert_eq!(done["state"], "complete");
    assert_eq!(done["data"]["sessions"], 1);
    snap!("history", e.ok(&["history", "1"]));
    let history = e.json(&["history", "1"]);
    assert_eq!(history.as_array().unwrap().len(), 5);
    e.ok(&[
        "start",
        "request",
        "--as",
        "pat",
        "--data",
        r#"{"client_name": "Second"}"#,
    ]);
    snap!("list", e.ok(&["list"]));
    assert_eq!(
        e.json(&["list", "--state", "submitted"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(e.json(&["list", "--limit", "1"])[0]["id"], 2);
    let err = e.fails(&["list", "--workflow", "nothing"]);
    assert!(
        err.contains("workflow `nothing` not found (known: request)"),
        "{err}"
    );
    snap!("view_queue", e.ok(&["view", "queue", "--as", "cody"]));
    assert_eq!(
        e.json(&["view", "request.queue", "--as", "cody"])[0]["id"],
        2
    );
    let csv = e.ok(&["export", "requests"]);
    assert_eq!(
        csv,
        "id,client,state,mentor\r\n1,Pat's Bakery,Complete,alice\r\n2,Second,Submitted,\r\n"
    );
    let rows = e.json(&["export", "requests"]);
    assert_eq!(rows[0]["client"], "Pat's Bakery");
    e.ok(&[
        "export", "requests", "--format", "json", "--output", "out.json",
    ]);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(e.path("out.json")).unwrap()).unwrap();
    assert_eq!(written, rows);
}

#[test]
fn set_values_are_json_when_they_parse_and_text_for_text_fields() {
    let e = Env::new();
    e.people();
    // client_name is a string field: "123" stays text; sessions is an int: 2 is a number.
    let c = e.json(&[
        "start",
        "request",
        "--as",
        "pat",
        "--set",
        "client_name=123",
        "--set",
        "sessions=2",
    ]);
    assert_eq!(c["data"]["client_name"], "123");
    assert_eq!(c["data"]["sessions"], 2);
    let err = e.fails(&[
        "start",
        "request",
        "--as",
        "pat",
        "--set",
        "client_name=X",
        "--set",
        "sessions=two",
    ]);
    assert!(err.contains("sessions"), "{err}");
}

#[test]
fn tick_fires_due_timers_at_now() {
    let e = Env::new();
    e.assigned();
    let out = e
        .at("2026-11-21T11:00:00Z", &["tick"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "fired 1 timer at 2026-11-21 11:00 UTC\n"
    );
    let out = e
        .at("2026-11-30T11:00:00Z", &["--json", "tick"])
        .assert()
        .success()
        .get_output()
        .clone();
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["fired"], 1);
    e.move_clock("2026-11-30T11:00:00Z");
    let c = e.json(&["show", "1"]);
    assert_eq!(c["state"], "submitted");
    assert!(c["participants"].get("mentor").is_none());
}

#[test]
fn notifications_list_filter_and_acknowledge() {
    let e = Env::new();
    e.assigned();
    e.move_clock("2026-11-21T11:00:00Z");
    e.ok(&["tick"]);
    snap!("notifications", e.ok(&["notifications"]));
    let all = e.json(&["notifications", "--to", "alice"]);
    assert_eq!(all.as_array().unwrap().len(), 2);
    assert_eq!(all[0]["subject"], "New request from Pat's Bakery");
    assert_eq!(
        e.json(&["notifications", "--case", "2"]),
        serde_json::json!([])
    );
    assert_eq!(
        e.ok(&["notifications", "--ack", "1"]),
        "acknowledged 1 notification\n"
    );
    assert_eq!(e.json(&["notifications"]).as_array().unwrap().len(), 1);
    assert_eq!(
        e.json(&["notifications", "--all"])
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let err = e.fails(&["notifications", "--ack", "99"]);
    assert!(err.contains("notification `99` not found"), "{err}");
}

// ---- errors -----------------------------------------------------------------------------------

#[test]
fn errors_are_one_line_with_a_way_forward() {
    let e = Env::new();
    e.assigned();
    let unknown = e.fails(&["show", "99"]);
    snap!("error_unknown_case", unknown);
    let refused = e.fails(&["act", "1", "log_session", "--as", "alice"]);
    snap!("error_refused", refused);
    let guard = e.fails(&["act", "1", "complete", "--as", "alice"]);
    assert!(guard.contains("refused"), "{guard}");
    let not_permitted = e.fails(&["act", "1", "accept", "--as", "cody", "--set", "note=x"]);
    assert!(
        not_permitted.contains("mentorflow actions CASE --as cody"),
        "{not_permitted}"
    );
    let missing = e.fails(&["act", "1", "accept", "--as", "alice"]);
    assert!(missing.contains("note"), "{missing}");
    let nobody = e.fails(&[
        "start",
        "request",
        "--as",
        "ghost",
        "--set",
        "client_name=X",
    ]);
    assert!(nobody.contains("ghost"), "{nobody}");
    let no_workflow = e.fails(&["start", "nope", "--as", "pat"]);
    assert!(
        no_workflow.contains("workflow `nope` not found"),
        "{no_workflow}"
    );
    // Nothing changed.
    assert_eq!(e.json(&["show", "1"])["revision"], 2);
    // Without a workflows folder, cases still run on their stored definitions, and what
    // needs the files says where they are expected.
    let shown = e
        .bare()
        .args(["--db", "t.db", "--json", "show", "1"])
        .assert()
        .success();
    let shown: Value = serde_json::from_slice(&shown.get_output().stdout).unwrap();
    assert_eq!(shown["state"], "pending");
    let out = e
        .bare()
        .args(["--db", "t.db", "view", "queue", "--as", "cody"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("no workflows are loaded here"), "{err}");
}

#[test]
fn json_errors_are_one_json_line_on_stderr() {
    let e = Env::new();
    e.assigned();
    let out = e
        .run(&["--json", "act", "1", "log_session", "--as", "alice"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    let v: Value = serde_json::from_str(&err).unwrap();
    assert_eq!(v["error"]["code"], "guard_rejected");
    assert_eq!(
        v["error"]["suggest"],
        serde_json::json!(["accept", "decline"])
    );
    assert_eq!(v["error"]["state"], "pending");
}

#[test]
fn script_limit_changes_the_sandbox_and_names_what_is_wrong() {
    let e = Env::new();
    e.people();
    e.ok(&[
        "start",
        "request",
        "--as",
        "pat",
        "--set",
        "client_name=Pat",
    ]);
    // the assign guard and effect take more than 3 operations
    let mut tight = vec![
        "--script-limit",
        "max_operations=3",
        "--script-limit",
        "max_run_time=2s",
    ];
    tight.extend_from_slice(&[
        "act",
        "1",
        "assign",
        "--as",
        "cody",
        "--set",
        "mentor=alice",
    ]);
    let line = e.fails(&tight);
    assert!(line.contains("more than 3 operations"), "{line}");
    assert_eq!(
        e.json(&["show", "1"])["state"],
        "submitted",
        "nothing changed"
    );
    e.ok(&[
        "act",
        "1",
        "assign",
        "--as",
        "cody",
        "--set",
        "mentor=alice",
    ]);
    for (arg, needle) in [
        ("max_operationz=3", "unknown limit `max_operationz`"),
        ("max_operations=-3", "max_operations must be a whole number"),
        ("max_run_time=soon", "max_run_time must be seconds"),
        ("max_operations", "expected NAME=VALUE"),
    ] {
        let out = e
            .run(&["--script-limit", arg, "list"])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(needle), "{arg}: {err}");
    }
}

#[test]
fn bad_usage_exits_with_2() {
    let e = Env::new();
    for args in [
        &["act", "1", "accept", "--as", "alice", "--set", "note"][..],
        &["start", "request", "--as", "pat", "--data", "[1]"],
        &["start", "request", "--as", "pat", "--data", "{nope"],
        &["start", "request"],
        &["act", "one", "accept", "--as", "alice"],
        &["fly"],
        &["graph", "request", "--format", "png"],
        &["run", "--interval", "0"],
    ] {
        let out = e.run(args).assert().code(2).get_output().clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    e.bare().assert().code(2);
    e.bare()
        .args(["--now", "yesterday", "list"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid instant"));
    e.bare()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("validate"));
}

// ---- directory --------------------------------------------------------------------------------

#[test]
fn people_put_get_list_remove() {
    let e = Env::new();
    e.people();
    snap!("people_list", e.ok(&["people", "list"]));
    assert_eq!(
        e.json(&["people", "list", "--org", "ch2"]),
        serde_json::json!([])
    );
    let alice = e.json(&["people", "get", "alice"]);
    assert_eq!(alice["attributes"]["classification"], "active");
    assert_eq!(alice["roles"], serde_json::json!(["mentor"]));
    e.ok(&[
        "people",
        "put",
        "zoe",
        "--org",
        "ch1",
        "--set",
        r#"focus_areas=["marketing","finance"]"#,
        "--set",
        "max=2",
    ]);
    let zoe = e.json(&["people", "get", "zoe"]);
    assert_eq!(
        zoe["attributes"]["focus_areas"],
        serde_json::json!(["marketing", "finance"])
    );
    assert_eq!(zoe["attributes"]["max"], 2);
    assert_eq!(e.ok(&["people", "remove", "zoe"]), "removed person zoe\n");
    let err = e.fails(&["people", "get", "zoe"]);
    assert!(err.contains("person `zoe` not found"), "{err}");
    let err = e.fails(&["people", "remove", "zoe"]);
    assert!(err.contains("mentorflow people list"), "{err}");
}

#[test]
fn orgs_put_get_list_remove() {
    let e = Env::new();
    e.ok(&[
        "orgs",
        "put",
        "ch1",
        "--name",
        "Chapter 1",
        "--timezone",
        "America/New_York",
        "--holiday",
        "2026-11-26",
        "--set",
        "max_open=5",
    ]);
    snap!("orgs_get", e.ok(&["orgs", "get", "ch1"]));
    let o = e.json(&["orgs", "get", "ch1"]);
    assert_eq!(o["settings"]["max_open"], 5);
    assert_eq!(o["holidays"], serde_json::json!(["2026-11-26"]));
    assert_eq!(e.json(&["orgs", "list"]).as_array().unwrap().len(), 1);
    let err = e.fails(&["orgs", "put", "ch2", "--set", "colour=blue"]);
    assert!(err.contains("unknown setting `colour`"), "{err}");
    let err = e.fails(&["orgs", "put", "ch2", "--timezone", "Mars/Olympus"]);
    assert!(err.contains("Mars/Olympus"), "{err}");
    assert_eq!(
        e.ok(&["orgs", "remove", "ch1"]),
        "removed organisation ch1\n"
    );
    e.fails(&["orgs", "get", "ch1"]);
}

#[test]
fn import_reads_yaml_and_csv() {
    let e = Env::new();
    std::fs::write(
        e.path("dir.yaml"),
        "orgs:\n  ch1: { name: Chapter 1, timezone: Europe/Paris, holidays: [2026-12-25], settings: { max_open: 2 } }\npeople:\n  pat: { org: ch1, name: Pat }\n  alice: { org: ch1, roles: [mentor], classification: active, focus_areas: [marketing] }\n",
    )
    .unwrap();
    assert_eq!(
        e.ok(&["import", "dir.yaml"]),
        "imported 1 organisation and 2 people from dir.yaml\n"
    );
    assert_eq!(e.json(&["orgs", "get", "ch1"])["timezone"], "Europe/Paris");
    let alice = e.json(&["people", "get", "alice"]);
    assert_eq!(
        alice["attributes"]["focus_areas"],
        serde_json::json!(["marketing"])
    );
    std::fs::write(
        e.path("people.csv"),
        "id,name,email,org,roles,attr.classification,attr.capacity\r\ncody,\"Cody, C.\",cody@x.org,ch1,coordinator;mentor,active,3\r\nbob,Bob,,ch1,,,\r\n",
    )
    .unwrap();
    let v = e.json(&["import", "people.csv"]);
    assert_eq!(v["people"], serde_json::json!(["cody", "bob"]));
    let cody = e.json(&["people", "get", "cody"]);
    assert_eq!(cody["name"], "Cody, C.");
    assert_eq!(cody["roles"], serde_json::json!(["coordinator", "mentor"]));
    assert_eq!(cody["attributes"]["capacity"], 3);
    assert!(e.json(&["people", "get", "bob"])["attributes"]
        .as_object()
        .unwrap()
        .is_empty());
}

#[test]
fn a_bad_import_names_the_line_and_imports_nothing() {
    let e = Env::new();
    std::fs::write(
        e.path("bad.yaml"),
        "people:\n  pat: { org: ch1 }\n  al: { org: ch1, roles: 3 }\n",
    )
    .unwrap();
    let out = e
        .run(&["import", "bad.yaml"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.starts_with("bad.yaml:3:"), "{err}");
    assert!(err.contains("nothing was imported"), "{err}");
    assert!(!e.path("t.db").exists(), "nothing was written");
    std::fs::write(e.path("bad.csv"), "name,org\nPat,ch1\n").unwrap();
    let err = e.fails(&["import", "bad.csv"]);
    assert!(err.contains("problem"), "{err}");
}

// ---- the worker -------------------------------------------------------------------------------

#[test]
fn run_once_prints_pending_notifications_as_json_lines() {
    let e = Env::new();
    e.assigned();
    let out = e.ok(&["run", "--once"]);
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert_eq!(lines[0]["type"], "notification");
    assert_eq!(lines[0]["to"], "alice");
    assert_eq!(lines[0]["template"], "assigned");
    // Delivered: not offered again.
    assert_eq!(e.ok(&["run", "--once"]), "");
    let n = e.json(&["notifications"]);
    assert!(n[0]["delivered_at"].is_string(), "{n}");
}

/// A loopback HTTP endpoint answering 200 to every request; each request's head
/// (lowercase) and body arrive on the channel.
fn endpoint() -> (String, std::sync::mpsc::Receiver<(String, Vec<u8>)>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line.to_ascii_lowercase());
            }
            let len = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if tx.send((head, body)).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

#[test]
fn run_with_a_config_posts_to_its_webhooks_and_runs_retention_on_its_schedule() {
    const VAR: &str = "MF_TEST_RUN_WEBHOOK_SECRET";
    const SECRET: &str = "a-secret-of-sixteen-or-more";
    let e = Env::new();
    e.assigned();
    let (url, got) = endpoint();
    std::fs::write(
        e.path("mf.toml"),
        format!(
            "[[webhooks]]\nname = \"crm\"\nurl = \"{url}\"\nsecret_env = \"{VAR}\"\n\n[retention]\nevery = \"1 day\"\nexport_dir = \"exports\"\n"
        ),
    )
    .unwrap();
    // the variable is missing: refused, naming it, nothing delivered
    let out = e
        .run(&["run", "--once", "--config", "mf.toml"])
        .env_remove(VAR)
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains(VAR));

    let run = |e: &Env| {
        e.run(&["run", "--once", "--config", "mf.toml"])
            .env(VAR, SECRET)
            .assert()
            .success()
            .get_output()
            .clone()
    };
    let out = run(&e);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "the JSON lines go on: {stdout}");
    let (head, body) = got
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("the webhook was posted");
    let sent: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        (sent["type"].as_str(), sent["template"].as_str()),
        (Some("notification"), Some("assigned"))
    );
    assert!(
        head.contains(&format!("idempotency-key: {}", sent["id"])),
        "{head}"
    );
    let sig = mentorflow_server::webhook::signature(SECRET.as_bytes(), &body);
    assert!(
        head.contains(&format!("x-mentorflow-signature: {sig}")),
        "{head}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("no closed case is due"), "{stderr}");
    assert!(!e.path("exports").exists(), "no case due: no file");
    // delivered to the webhook: not posted again
    run(&e);
    assert!(got
        .recv_timeout(std::time::Duration::from_millis(300))
        .is_err());

    // a cancelled (closed) case two days later is exported, then purged, by the schedule
    e.ok(&["people", "put", "olga", "--org", "ch1", "--role", "admin"]);
    e.ok(&[
        "case", "cancel", "1", "--as", "olga", "--reason", "withdrew",
    ]);
    e.ok(&[
        "orgs",
        "put",
        "ch1",
        "--set",
        "retention={\"after_days\": 1, \"then\": \"purge\"}",
    ]);
    e.move_clock("2026-11-23T10:00:00Z");
    let stderr = String::from_utf8(run(&e).stderr).unwrap();
    assert!(stderr.contains("1 case exported"), "{stderr}");
    let files: Vec<_> = std::fs::read_dir(e.path("exports"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&files[0]).unwrap().trim()).unwrap();
    assert_eq!(line["case"]["id"], 1);
    assert!(e.fails(&["show", "1"]).contains("not found"));

    // `enabled = false` turns it off
    let text = std::fs::read_to_string(e.path("mf.toml")).unwrap();
    std::fs::write(e.path("mf.toml"), format!("{text}enabled = false\n")).unwrap();
    let stderr = String::from_utf8(run(&e).stderr).unwrap();
    assert!(!stderr.contains("retention"), "{stderr}");
}

#[test]
fn health_reports_the_database_and_fails_on_overdue_timers() {
    let e = Env::new();
    let missing = e.fails(&["health"]);
    assert!(missing.contains("database `t.db` not found"), "{missing}");
    assert!(
        !e.path("t.db").exists(),
        "health must not create the database"
    );
    e.assigned();
    let h = e.json(&["health"]);
    assert_eq!(h["database"], "t.db");
    assert_eq!(
        h["schema_version"],
        mentorflow::store::schema::SCHEMA_VERSION
    );
    assert_eq!(h["last_committed_at"], T0);
    assert_eq!(h["next_due"], "2026-11-21T10:00:00Z");
    assert_eq!(h["overdue_timers"], 0);
    assert_eq!(h["outbox_backlog"], 1);
    assert_eq!(h["healthy"], true);
    assert_eq!(e.json(&["show", "1"])["timers"][1]["action"], "expire");
    let text = e.ok(&["health"]);
    assert!(
        text.contains("last committed  2026-11-20 10:00 UTC"),
        "{text}"
    );
    assert!(text.ends_with("healthy\n"), "{text}");
    // A day later without a worker: the reminder is overdue, exit 1, the report still printed.
    let late = e
        .at("2026-11-21T11:00:00Z", &["--json", "health"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let h: Value = serde_json::from_slice(&late.stdout).unwrap();
    assert_eq!(
        (h["overdue_timers"].clone(), h["healthy"].clone()),
        (1.into(), false.into())
    );
    let err = String::from_utf8(late.stderr).unwrap();
    assert!(
        err.contains("\"code\":\"unhealthy\"") && err.contains("1 timer(s) due"),
        "{err}"
    );
    // Within a longer grace period it is healthy.
    e.at("2026-11-21T11:00:00Z", &["health", "--grace", "7200"])
        .assert()
        .success();
}

#[test]
fn a_clock_before_the_last_committed_event_is_refused() {
    let e = Env::new();
    e.assigned();
    e.at("2026-11-21T11:00:00Z", &["tick"]).assert().success();
    let out = e.run(&["show", "1"]).assert().code(1).get_output().clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains(
            "the manual clock starts at 2026-11-20T10:00:00Z, before the last committed event"
        ) && err.contains("2026-11-21T11:00:00Z"),
        "{err}"
    );
}

#[cfg(unix)]
#[test]
fn run_exec_feeds_a_command_and_retries_failures() {
    let e = Env::new();
    e.assigned();
    // A failing command: the notification stays undelivered, with the error recorded.
    e.ok(&["run", "--once", "--exec", "cat > /dev/null; exit 3"]);
    let n = e.json(&["notifications"]);
    assert!(n[0]["delivered_at"].is_null(), "{n}");
    assert!(
        n[0]["last_error"]
            .as_str()
            .unwrap()
            .contains("exit status: 3"),
        "{n}"
    );
    // not retried before its backoff (30 to 60 s)
    e.ok(&["run", "--once", "--exec", "cat >> delivered.jsonl"]);
    assert!(!e.path("delivered.jsonl").exists());
    e.move_clock("2026-11-20T10:01:00Z");
    e.ok(&["run", "--once", "--exec", "cat >> delivered.jsonl"]);
    let text = std::fs::read_to_string(e.path("delivered.jsonl")).unwrap();
    let v: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(v["subject"], "New request from Pat's Bakery");
    assert!(e.json(&["notifications"])[0]["delivered_at"].is_string());
}

#[cfg(unix)]
#[test]
fn outbox_lists_retries_and_drops_failed_deliveries() {
    let e = Env::new();
    e.assigned();
    assert_eq!(
        e.ok(&["outbox"]),
        "no failed deliveries (--all lists delivered and dropped ones too)\n"
    );
    e.ok(&["run", "--once", "--exec", "cat > /dev/null; exit 3"]);
    let list = e.json(&["outbox", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let d = &list[0];
    assert_eq!(
        (
            &d["outbox_id"],
            &d["consumer"],
            &d["status"],
            &d["attempts"],
            &d["to"]
        ),
        (
            &1.into(),
            &"run".into(),
            &"retry".into(),
            &1.into(),
            &"alice".into()
        )
    );
    assert!(
        d["last_error"].as_str().unwrap().contains("exit status: 3"),
        "{d}"
    );
    let next = d["next_attempt_at"].as_str().unwrap();
    assert!(
        next > "2026-11-20T10:00:30" && next <= "2026-11-20T10:01:00Z",
        "{next}"
    );
    let text = e.ok(&["outbox"]);
    assert!(
        text.contains("run") && text.contains("retry") && text.contains("exit status: 3"),
        "{text}"
    );
    assert!(e
        .json(&["outbox", "list", "--status", "dead"])
        .as_array()
        .unwrap()
        .is_empty());
    // unhealthy while it fails
    let out = e.run(&["health"]).assert().code(1).get_output().clone();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("failed delivery (`mentorflow outbox list`)"),
        "{err}"
    );
    // bad input: a clear error, nothing changed
    let missing = e.fails(&["outbox", "retry", "99"]);
    assert!(missing.contains("outbox row `99` not found"), "{missing}");
    let consumer = e.fails(&["outbox", "drop", "1", "--consumer", "smtp"]);
    assert!(
        consumer.contains("smtp") && consumer.contains("run"),
        "{consumer}"
    );
    assert_eq!(e.json(&["outbox", "list"]), list);
    // dropped: out of the backlog, healthy again; retry undoes it
    assert_eq!(
        e.json(&["outbox", "drop", "1"]),
        serde_json::json!({"id": 1, "dropped": 1})
    );
    assert_eq!(
        e.json(&["outbox", "list", "--status", "dropped"])[0]["outbox_id"],
        1
    );
    assert_eq!(e.json(&["health"])["outbox_backlog"], 0);
    let again = e.fails(&["outbox", "drop", "1"]);
    assert!(again.contains("no delivery left to drop"), "{again}");
    let text = e.ok(&["outbox", "retry", "1"]);
    assert!(text.contains("1 delivery put back for retry now"), "{text}");
    e.ok(&["run", "--once", "--exec", "cat >> delivered.jsonl"]);
    assert!(e.path("delivered.jsonl").exists());
    assert_eq!(
        e.json(&["outbox", "list", "--all"])[0]["status"],
        "delivered"
    );
    e.ok(&["health"]);
}

#[cfg(unix)]
#[test]
fn run_stops_cleanly_on_sigterm() {
    use std::time::{Duration, Instant};
    let e = Env::new();
    e.assigned();
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("mentorflow"))
        .current_dir(e.dir.path())
        .args(["--db", "t.db", "--workflows"])
        .arg(fixtures().join("workflows"))
        .args(["--now", T0, "run", "--interval", "0.2"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first tick delivered the notification.
    let started = Instant::now();
    loop {
        let n = e.json(&["notifications"]);
        if n[0]["delivered_at"].is_string() || started.elapsed() > Duration::from_secs(20) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.trim_end().ends_with("mentorflow run: stopped"),
        "{stderr}"
    );
}

// ---- the rest ---------------------------------------------------------------------------------

#[test]
fn completions_are_printed_for_a_shell() {
    let e = Env::new();
    let out = e.ok(&["completions", "bash"]);
    assert!(out.contains("_mentorflow()"), "{out}");
    e.run(&["completions", "tcsh"]).assert().code(2);
}

#[test]
fn the_demo_tells_the_story_deterministically() {
    let e = Env::new();
    let run = || {
        let out = e.bare().arg("demo").assert().success().get_output().clone();
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    for needle in [
        "Fri 2026-11-20 09:00",
        "submit #1",
        "assign #1",
        "timer reminder_24h",
        "timer reminder_48h",
        "Assigned – Pending → Pending Reassignment",
        "✗ log_session refused",
        "✗ refer refused",
        "accept_referral #1",
        "Complete",
        "→ Pending Acceptance",
        "+ Omar Haddad as mentor",
        "manager_approve",
        "⧉ copy",
        "⚡ signal schedule_exception",
        "Explore it:",
        "mentorflow --db mentorflow-demo.db history 1",
    ] {
        assert!(first.contains(needle), "missing `{needle}` in:\n{first}");
    }
    // The return to the queue: 5 business days after Friday 09:40, skipping the weekend and
    // Thanksgiving (Thursday 26th), on the chapter's New York calendar.
    assert!(
        first
            .lines()
            .any(|l| l.starts_with("Mon 2026-11-30 09:40  ⏱ system")
                && l.contains("return_to_queue #1")
                && l.contains("Assigned – Pending → Pending Reassignment")),
        "{first}"
    );
    assert!(
        first.contains("⚡ signal schedule_exception for the host: agents=ana,cam"),
        "{first}"
    );
    assert_eq!(first, run(), "the demo is deterministic");
    let listed = e
        .bare()
        .args(["--db", "mentorflow-demo.db", "--json", "list"])
        .assert()
        .success()
        .get_output()
        .clone();
    let cases: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert!(cases.as_array().unwrap().len() >= 5, "{cases}");
}

/// The standard error of a finished command.
fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

#[test]
fn the_demo_never_replaces_a_database_it_did_not_write() {
    let e = Env::new();
    // the user's own database, named by MENTORFLOW_DB and by --db
    e.ok(&["people", "put", "dana", "--org", "ch1"]);
    let mine = || std::fs::read(e.path("t.db")).unwrap();
    let before = mine();
    e.bare()
        .arg("demo")
        .env("MENTORFLOW_DB", "t.db")
        .assert()
        .success();
    assert!(
        e.path("mentorflow-demo.db").exists(),
        "the demo writes its own file"
    );
    assert_eq!(e.json(&["people", "get", "dana"])["id"], "dana");
    let out = e
        .bare()
        .args(["--db", "t.db", "demo"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let err = stderr_of(&out);
    assert!(err.contains("`t.db` holds 0 cases, 1 person"), "{err}");
    assert!(err.contains("--force") && err.contains(":memory:"), "{err}");
    assert_eq!(mine(), before, "refused: the file is untouched");
    // not a database at all
    std::fs::write(e.path("notes.db"), "my notes").unwrap();
    let out = e
        .bare()
        .args(["--db", "notes.db", "demo"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(stderr_of(&out).contains("cannot be read as a mentorflow database"));
    assert_eq!(
        std::fs::read_to_string(e.path("notes.db")).unwrap(),
        "my notes"
    );
    // an earlier demo's file is replaced; --force replaces anything; :memory: writes nothing
    e.bare().arg("demo").assert().success();
    e.bare()
        .args(["--db", "t.db", "demo", "--force"])
        .assert()
        .success();
    let files = || std::fs::read_dir(e.dir.path()).unwrap().count();
    let n = files();
    let out = e
        .bare()
        .args(["--db", ":memory:", "demo"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert!(String::from_utf8(out.stdout)
        .unwrap()
        .contains("nothing was written"));
    assert_eq!(files(), n);
    let help = e
        .bare()
        .args(["demo", "--help"])
        .assert()
        .success()
        .get_output()
        .clone();
    let help = String::from_utf8(help.stdout).unwrap();
    assert!(
        help.contains("mentorflow-demo.db") && help.contains("--force"),
        "{help}"
    );
}

#[test]
fn commands_that_only_read_never_create_a_database() {
    let e = Env::new();
    for args in [
        &["list"][..],
        &["show", "1"],
        &["history", "1"],
        &["actions", "1", "--as", "pat"],
        &["view", "need_action", "--as", "alice"],
        &["export", "requests"],
        &["notifications"],
        &["notifications", "--ack", "1"],
        &["people", "list"],
        &["people", "get", "pat"],
        &["people", "remove", "pat"],
        &["orgs", "list"],
        &["orgs", "get", "ch1"],
        &["graph", "request", "--case", "1"],
    ] {
        let err = e.fails(args);
        assert!(
            err.contains("database `t.db` not found") && err.contains("never create"),
            "{args:?}: {err}"
        );
        assert!(!e.path("t.db").exists(), "{args:?} created the database");
    }
    let out = e
        .run(&["--json", "list"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let v: Value = serde_json::from_str(stderr_of(&out).trim()).unwrap();
    assert_eq!(v["error"]["code"], "not_found");
    assert_eq!(v["error"]["kind"], "database");
    assert_eq!(v["error"]["id"], "t.db");
}

#[test]
fn people_put_merges_what_is_given_and_replace_replaces() {
    let e = Env::new();
    e.people();
    e.ok(&["people", "put", "alice", "--email", "alice@new.org"]);
    let alice = e.json(&["people", "get", "alice"]);
    assert_eq!(alice["email"], "alice@new.org");
    assert_eq!(alice["name"], "Alice Mentor");
    assert_eq!(alice["org"], "ch1");
    assert_eq!(alice["roles"], serde_json::json!(["mentor"]));
    assert_eq!(alice["attributes"]["classification"], "active");
    e.ok(&[
        "people",
        "put",
        "alice",
        "--set",
        "focus=tax",
        "--set",
        "classification=null",
    ]);
    let alice = e.json(&["people", "get", "alice"]);
    assert_eq!(alice["attributes"], serde_json::json!({ "focus": "tax" }));
    e.ok(&[
        "people",
        "put",
        "alice",
        "--role",
        "coordinator",
        "--role",
        "mentor",
    ]);
    assert_eq!(
        e.json(&["people", "get", "alice"])["roles"],
        serde_json::json!(["coordinator", "mentor"])
    );
    let replaced = e.json(&["people", "put", "alice", "--org", "ch2", "--replace"]);
    assert_eq!(
        replaced,
        serde_json::json!({ "id": "alice", "name": null, "email": null, "org": "ch2", "roles": [], "attributes": {} })
    );
    assert_eq!(e.json(&["people", "get", "alice"]), replaced);
    let help = e.ok(&["people", "put", "--help"]);
    assert!(
        help.contains("Examples:") && help.contains("--replace"),
        "{help}"
    );
}

#[test]
fn orgs_put_merges_what_is_given_and_replace_replaces() {
    let e = Env::new();
    e.ok(&[
        "orgs",
        "put",
        "ch1",
        "--name",
        "Chapter 1",
        "--timezone",
        "America/New_York",
        "--holiday",
        "2026-11-26",
        "--set",
        "max_open=5",
    ]);
    e.ok(&["orgs", "put", "ch1", "--set", "max_open=7"]);
    let o = e.json(&["orgs", "get", "ch1"]);
    assert_eq!(o["timezone"], "America/New_York");
    assert_eq!(o["name"], "Chapter 1");
    assert_eq!(o["holidays"], serde_json::json!(["2026-11-26"]));
    assert_eq!(o["settings"]["max_open"], 7);
    e.ok(&["orgs", "put", "ch1", "--set", "max_open=null"]);
    assert_eq!(
        e.json(&["orgs", "get", "ch1"])["settings"],
        serde_json::json!({})
    );
    let o = e.json(&["orgs", "put", "ch1", "--weekend", "Fri", "--replace"]);
    assert_eq!(o["timezone"], "UTC");
    assert_eq!(o["name"], Value::Null);
    assert_eq!(o["weekend"], serde_json::json!(["Fri"]));
    let help = e.ok(&["orgs", "put", "--help"]);
    assert!(
        help.contains("Examples:") && help.contains("--replace"),
        "{help}"
    );
}

#[test]
fn a_malformed_csv_names_each_line_and_imports_nothing() {
    let e = Env::new();
    e.people();
    let before = e.json(&["people", "list"]);
    let import_err = |csv: &str| {
        std::fs::write(e.path("p.csv"), csv).unwrap();
        let out = e
            .run(&["import", "p.csv"])
            .assert()
            .code(1)
            .get_output()
            .clone();
        stderr_of(&out)
    };
    // a misspelt header
    let err = import_err(
        "id,name,emial
zed,Zed,z@x.org
",
    );
    assert!(
        err.contains("p.csv:1:1: unknown column `emial`; did you mean `email`?"),
        "{err}"
    );
    assert!(err.contains("nothing was imported"), "{err}");
    // an attribute without the attr. prefix
    let err = import_err(
        "id,classification
zed,active
",
    );
    assert!(err.contains("`attr.classification`"), "{err}");
    // ragged rows: an extra cell on line 3, a short row on line 4, one bad id on line 5
    let err = import_err(
        "id,name,org,attr.classification
zed,Zed,ch1,active
yan,Yan,ch1,active,extra
xia,Xia
system,Sys,ch1,
",
    );
    assert!(
        err.contains("p.csv:3:1: 5 cells, but the header has 4 columns"),
        "{err}"
    );
    assert!(
        err.contains("p.csv:4:1: 2 cells, but the header has 4 columns"),
        "{err}"
    );
    assert!(err.contains("p.csv:5:1: `system` is reserved"), "{err}");
    assert!(err.contains("3 problems in the import file"), "{err}");
    // a repeated id
    let err = import_err(
        "id,name
zed,Zed
zed,Zed again
",
    );
    assert!(
        err.contains("p.csv:3:1: person `zed` appears twice"),
        "{err}"
    );
    assert_eq!(e.json(&["people", "list"]), before, "nothing was imported");
    // a good file merges into the stored people
    std::fs::write(
        e.path("p.csv"),
        "id,email,attr.capacity
alice,alice@new.org,3
",
    )
    .unwrap();
    e.ok(&["import", "p.csv"]);
    let alice = e.json(&["people", "get", "alice"]);
    assert_eq!(alice["email"], "alice@new.org");
    assert_eq!(alice["name"], "Alice Mentor");
    assert_eq!(alice["attributes"]["classification"], "active");
    assert_eq!(alice["attributes"]["capacity"], 3);
}

#[test]
fn editing_a_deployed_flow_blocks_only_what_the_change_concerns() {
    let e = Env::new();
    let wf = e.path("wf");
    std::fs::create_dir(&wf).unwrap();
    let original = std::fs::read_to_string(fixtures().join("workflows/request.yaml")).unwrap();
    std::fs::write(wf.join("request.yaml"), &original).unwrap();
    let run = |args: &[&str]| {
        let mut c = e.bare();
        c.args(["--db", "t.db", "--workflows", "wf", "--now", T0])
            .args(args);
        c
    };
    e.people();
    run(&[
        "start",
        "request",
        "--as",
        "pat",
        "--set",
        "client_name=Pat",
    ])
    .assert()
    .success();
    // a comment appended changes nothing
    std::fs::write(wf.join("request.yaml"), format!("{original}\n# reviewed\n")).unwrap();
    let out = run(&["list"]).assert().success().get_output().clone();
    assert_eq!(stderr_of(&out), "");
    run(&["validate"]).assert().success();
    // a changed meaning under the same version: reads, acts and the directory still work
    let changed = original.replacen("label: Submitted", "label: In the queue", 1);
    assert_ne!(changed, original);
    std::fs::write(wf.join("request.yaml"), &changed).unwrap();
    let out = run(&["show", "1"]).assert().success().get_output().clone();
    let warning = stderr_of(&out);
    assert!(
        warning.starts_with("warning: wf/request.yaml:") && warning.contains("`version: 2`"),
        "{warning}"
    );
    assert!(String::from_utf8(out.stdout).unwrap().contains("Submitted"));
    run(&["people", "put", "pat", "--email", "pat@x.org"])
        .assert()
        .success();
    run(&[
        "act",
        "1",
        "assign",
        "--as",
        "cody",
        "--set",
        "mentor=alice",
    ])
    .assert()
    .success();
    let out = run(&[
        "start",
        "request",
        "--as",
        "pat",
        "--set",
        "client_name=Sam",
    ])
    .assert()
    .code(1)
    .get_output()
    .clone();
    assert!(
        stderr_of(&out).contains("give the file a new version"),
        "{}",
        stderr_of(&out)
    );
    let out = run(&["validate"]).assert().code(1).get_output().clone();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("changed (at `states.submitted.label`) since 1 case started"),
        "{text}"
    );
    // bumping the version deploys it beside the old one
    std::fs::write(
        wf.join("request.yaml"),
        changed.replacen("version: 1", "version: 2", 1),
    )
    .unwrap();
    let out = run(&[
        "--json",
        "start",
        "request",
        "--as",
        "pat",
        "--set",
        "client_name=Sam",
    ])
    .assert()
    .success()
    .get_output()
    .clone();
    let case: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (case["version"].as_u64(), case["state_label"].as_str()),
        (Some(2), Some("In the queue"))
    );
}

#[test]
fn unknown_names_anywhere_are_errors_with_a_did_you_mean() {
    let e = Env::new();
    e.assigned();
    let err = e.fails(&["list", "--state", "submited"]);
    assert!(
        err.contains("state `submited` not found (did you mean `submitted`?)"),
        "{err}"
    );
    let err = e.fails(&["list", "--state", "nope"]);
    assert!(err.contains("state `nope` not found (known: "), "{err}");
    let err = e.fails(&["list", "--workflow", "requets"]);
    assert!(err.contains("did you mean `request`?"), "{err}");
    let err = e.fails(&["list", "--org", "ch2x"]);
    assert!(
        err.contains("organisation `ch2x` not found (did you mean `ch1`?)")
            || err.contains("did you mean `ch2`?"),
        "{err}"
    );
    // a known state with no cases is an empty list, not an error
    assert_eq!(e.ok(&["list", "--state", "complete"]), "no cases\n");
    let err = e.fails(&["view", "need_acton", "--as", "alice"]);
    assert!(
        err.contains("view `need_acton` not found (did you mean `need_action`?)"),
        "{err}"
    );
    let err = e.fails(&["export", "request"]);
    assert!(err.contains("did you mean `requests`?"), "{err}");
    let err = e.fails(&["act", "1", "acept", "--as", "alice"]);
    assert!(err.contains("did you mean `accept`?"), "{err}");
    let err = e.fails(&["start", "requst", "--as", "pat"]);
    assert!(err.contains("did you mean `request`?"), "{err}");
}

#[test]
fn json_is_everywhere_usage_conflicts_and_version() {
    let e = Env::new();
    e.assigned();
    let out = e
        .run(&["--json", "act", "1"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let v: Value = serde_json::from_str(stderr_of(&out).trim()).unwrap();
    assert_eq!(v["error"]["code"], "usage", "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("required"),
        "{v}"
    );
    let out = e
        .run(&[
            "--json",
            "act",
            "1",
            "accept",
            "--as",
            "alice",
            "--revision",
            "1",
            "--set",
            "note=hi",
        ])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let v: Value = serde_json::from_str(stderr_of(&out).trim()).unwrap();
    assert_eq!(v["error"]["code"], "conflict");
    assert_eq!(
        (
            v["error"]["expected"].as_u64(),
            v["error"]["actual"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(v["error"]["case_id"], 1);
    assert_eq!(
        e.bare()
            .arg("version")
            .assert()
            .success()
            .get_output()
            .stdout,
        format!("mentorflow {}\n", env!("CARGO_PKG_VERSION")).as_bytes()
    );
    let v = e
        .bare()
        .args(["--json", "version"])
        .assert()
        .success()
        .get_output()
        .clone();
    let v: Value = serde_json::from_slice(&v.stdout).unwrap();
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    let help = e.ok(&["act", "--help"]);
    assert!(help.contains("Examples:"), "{help}");
    // The options every command takes stand under their own heading, after the command's own.
    let (own, global) = help
        .split_once("Global options:")
        .expect("a Global options heading");
    assert!(
        own.contains("--revision") && !own.contains("--db"),
        "{help}"
    );
    for option in ["--db", "--workflows", "--json", "--now", "--script-limit"] {
        assert!(
            global.contains(option),
            "{option} not under Global options: {help}"
        );
    }
    let help = e.ok(&["import", "--help"]);
    assert!(
        help.contains("Examples:") && help.contains("attr.classification"),
        "{help}"
    );
}

/// The global options under a command's "Global options" heading.
fn globals_offered(help: &str) -> Vec<&'static str> {
    let global = help.split_once("Global options:").map_or("", |(_, g)| g);
    ["--db", "--workflows", "--json", "--now", "--script-limit"]
        .into_iter()
        .filter(|o| global.contains(o))
        .collect()
}

#[test]
fn a_command_offers_only_the_global_options_that_do_something_for_it() {
    let e = Env::new();
    let help = |args: &[&str]| {
        let out = e.bare().args(args).assert().success().get_output().clone();
        String::from_utf8(out.stdout).unwrap()
    };
    let all = ["--db", "--workflows", "--json", "--now", "--script-limit"];
    for cmd in ["list", "act", "tick", "serve", "people"] {
        assert_eq!(globals_offered(&help(&[cmd, "--help"])), all, "{cmd}");
    }
    for cmd in ["schema", "version", "completions", "bench"] {
        assert_eq!(
            globals_offered(&help(&[cmd, "--help"])),
            ["--json"],
            "{cmd}"
        );
    }
    assert_eq!(
        globals_offered(&help(&["test", "--help"])),
        ["--workflows", "--json", "--script-limit"]
    );
    assert_eq!(
        globals_offered(&help(&["demo", "--help"])),
        ["--db", "--workflows", "--json"]
    );
    assert_eq!(
        globals_offered(&help(&["validate", "--help"])),
        ["--db", "--workflows", "--json", "--script-limit"]
    );
    // Given anyway (before or after the command), such an option is named in a warning and
    // the command runs as without it: the database it names is not created.
    for args in [
        &["--db", "nothere.db", "schema"][..],
        &["schema", "--db", "nothere.db"][..],
    ] {
        let out = e.bare().args(args).assert().success().get_output().clone();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            err.trim(),
            "warning: --db does nothing for `schema`; it was ignored",
            "{args:?}"
        );
        assert!(!out.stdout.is_empty());
        assert!(!e.dir.path().join("nothere.db").exists());
    }
    let out = e
        .bare()
        .args([
            "--json",
            "test",
            "--now",
            "2026-01-01T00:00:00Z",
            "--db",
            "x.db",
            "nothing.yaml",
        ])
        .assert()
        .get_output()
        .clone();
    let err = String::from_utf8(out.stderr).unwrap();
    let warnings: Vec<Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("warning").cloned())
        .collect();
    assert_eq!(
        warnings,
        [
            serde_json::json!({"message": "--db does nothing for `test`; it was ignored"}),
            serde_json::json!({"message": "--now does nothing for `test`; it was ignored"}),
        ],
        "{err}"
    );
    // an environment variable is not a thing the user typed for this command
    e.bare()
        .env("MENTORFLOW_NOW", "2026-01-01T00:00:00Z")
        .args(["version"])
        .assert()
        .success()
        .stderr("");
}

#[test]
fn run_interval_takes_durations_and_refuses_absurd_values() {
    let e = Env::new();
    for bad in ["1e308", "0", "30 fortnights", "nan", "25h"] {
        let out = e
            .run(&["run", "--once", "--interval", bad])
            .assert()
            .code(2)
            .get_output()
            .clone();
        let err = stderr_of(&out);
        assert!(
            err.contains("interval") && !err.contains("panicked"),
            "{bad}: {err}"
        );
    }
    let out = e
        .run(&["run", "--once", "--interval", "1e308"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(
        stderr_of(&out).contains("at most 24h"),
        "{}",
        stderr_of(&out)
    );
    for good in ["30", "0.5", "30s", "5m", "1h 30m"] {
        e.run(&["run", "--once", "--interval", good])
            .assert()
            .success();
    }
}

#[test]
fn tables_line_up_wide_characters() {
    let e = Env::new();
    e.ok(&[
        "people",
        "put",
        "li",
        "--org",
        "ch1",
        "--name",
        "李小龍",
        "--role",
        "mentor",
    ]);
    e.ok(&[
        "people",
        "put",
        "zoe",
        "--org",
        "ch1",
        "--name",
        "Zoé 🎉 Lin",
        "--role",
        "mentor",
    ]);
    e.ok(&[
        "people", "put", "ann", "--org", "ch1", "--name", "Ann", "--role", "mentor",
    ]);
    let text = e.ok(&["people", "list"]);
    let columns: Vec<usize> = text
        .lines()
        .map(|l| {
            let at = l.find("ch1").or_else(|| l.find("ORG")).unwrap();
            unicode_width::UnicodeWidthStr::width(&l[..at])
        })
        .collect();
    assert!(columns.windows(2).all(|w| w[0] == w[1]), "{text}");
}

#[test]
fn graph_and_actions_json_carry_what_the_text_shows() {
    let e = Env::new();
    e.assigned();
    let g = e.json(&["graph", "request"]);
    assert_eq!(g["workflow"], "request");
    let nodes: Vec<&str> = g["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        nodes.contains(&"submitted") && nodes.contains(&"complete"),
        "{g}"
    );
    let edges = g["edges"].as_array().unwrap();
    assert!(
        edges.iter().any(|x| x["from"].is_null()
            && x["action"] == "submit"
            && x["to"] == serde_json::json!(["submitted"])),
        "{g}"
    );
    assert!(
        edges.iter().any(|x| x["from"] == "submitted"
            && x["action"] == "assign"
            && x["by"] == serde_json::json!(["coordinator"])),
        "{g}"
    );
    let traced = e.json(&["graph", "request", "--case", "1"]);
    assert_eq!(traced["current"], "pending");
    assert_eq!(traced["path"].as_array().unwrap().len(), 2);
    let acts = e.json(&["actions", "1", "--as", "alice"]);
    let accept = acts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["action"] == "accept")
        .unwrap();
    assert_eq!(accept["to"], serde_json::json!(["in_progress"]));
    assert!(accept["inputs"].is_array(), "{acts}");
}

/// Colours follow the conventions (anstream): none on a pipe, forced by `CLICOLOR_FORCE`,
/// never with `NO_COLOR`; a coloured table keeps its columns aligned.
#[test]
fn colours_follow_the_terminal_conventions() {
    let e = Env::new();
    e.people();
    e.ok(&[
        "start",
        "request",
        "--as",
        "pat",
        "--data",
        r#"{"client_name": "Pat's Bakery"}"#,
    ]);
    let list = |env: &[(&str, &str)], remove: &[&str]| -> String {
        let mut c = e.run(&["list"]);
        for k in remove {
            c.env_remove(k);
        }
        for (k, v) in env {
            c.env(k, v);
        }
        String::from_utf8(c.assert().success().get_output().stdout.clone()).unwrap()
    };
    let plain = list(&[], &["NO_COLOR", "CLICOLOR_FORCE"]);
    assert!(
        !plain.contains('\u{1b}'),
        "a pipe gets no colour: {plain:?}"
    );
    let forced = list(&[("CLICOLOR_FORCE", "1")], &["NO_COLOR"]);
    assert!(
        forced.contains("\u{1b}["),
        "CLICOLOR_FORCE colours: {forced:?}"
    );
    let stripped = anstream::adapter::strip_str(&forced).to_string();
    assert_eq!(stripped, plain, "colour codes do not move the columns");
    let refused = e
        .run(&["show", "99"])
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .assert()
        .failure()
        .get_output()
        .stderr
        .clone();
    let refused = String::from_utf8(refused).unwrap();
    assert!(refused.contains("\u{1b}["), "{refused:?}");
    assert!(refused.contains("error:"), "{refused:?}");
}

#[test]
fn serve_config_mistakes_are_named_with_file_and_line_and_nothing_starts() {
    let env = Env::new();
    std::fs::write(
        env.path("portal.toml"),
        "addr = \"127.0.0.1:0\"\nadr = \"x\"\n",
    )
    .unwrap();
    let err = env.fails(&["serve", "--config", "portal.toml"]);
    assert!(
        err.contains("portal.toml: line 2:") && err.contains("adr"),
        "{err}"
    );
    std::fs::write(
        env.path("mail.toml"),
        "[mail]\nhost = \"127.0.0.1\"\nfrom = \"not an address\"\n",
    )
    .unwrap();
    let err = env.fails(&["serve", "--config", "mail.toml"]);
    assert!(err.contains("mail.from:"), "{err}");
    let err = env.fails(&["serve", "--config", "missing.toml"]);
    assert!(err.contains("missing.toml"), "{err}");
    // nothing was created
    assert!(!env.path("t.db").exists());
}

/// The JSON contract: each command's `--json` output, snapshotted (a change to a shape shows
/// up as a snapshot diff to review, not as a silent break for scripts).
#[test]
fn json_outputs_are_snapshotted() {
    let e = Env::new();
    e.people();
    e.assigned();
    let json_snap = |name: &str, v: Value| {
        insta::with_settings!({ prepend_module_to_snapshot => false }, {
            insta::assert_json_snapshot!(name, v);
        });
    };
    json_snap("json_show", e.json(&["show", "1", "--as", "alice"]));
    json_snap("json_history", e.json(&["history", "1"]));
    json_snap("json_actions", e.json(&["actions", "1", "--as", "alice"]));
    json_snap("json_list", e.json(&["list"]));
    json_snap("json_view", e.json(&["view", "queue", "--as", "cody"]));
    json_snap("json_notifications", e.json(&["notifications"]));
    json_snap("json_graph", e.json(&["graph", "request"]));
    json_snap("json_people", e.json(&["people", "list"]));
    json_snap("json_tick", e.json(&["tick"]));
    let mut health = e.json(&["health"]);
    health["database"] = Value::String("[DB]".into());
    // The schema number moves with every schema step; its type is the contract.
    assert!(
        health["schema_version"].as_u64().is_some_and(|v| v >= 5),
        "{health}"
    );
    health["schema_version"] = Value::String("[N]".into());
    json_snap("json_health", health);
    let refused = e
        .run(&["--json", "act", "1", "complete", "--as", "alice"])
        .assert()
        .code(1)
        .get_output()
        .stderr
        .clone();
    let refused: Value = serde_json::from_slice(&refused).unwrap();
    json_snap("json_error_refused", refused);
}

const FLAKY: &str = r#"
workflow: flaky
version: 1
settings:
  ready: false
roles:
  owner: {}
fields:
  pings: { type: int, default: 0 }
states:
  waiting:
    label: Waiting
    timers:
      - name: remind
        after: 1h
        run: |
          if !settings.ready { throw "the mail template is not ready"; }
          fields.pings += 1;
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner, run: 'assign("owner", actor.id)' }
  finish: { from: waiting, to: done, by: owner }
"#;

#[test]
fn incidents_are_listed_retried_and_resolved_by_operators() {
    let e = Env::new();
    std::fs::create_dir(e.path("wf")).unwrap();
    std::fs::write(e.path("wf/flaky.yaml"), FLAKY).unwrap();
    let cmd = |now: &str, args: &[&str]| {
        let mut c = e.bare();
        c.args(["--db", "t.db", "--workflows", "wf", "--now", now]);
        c.args(args);
        c
    };
    let ok = |now: &str, args: &[&str]| {
        let out = cmd(now, args).assert().success().get_output().clone();
        String::from_utf8(out.stdout).unwrap()
    };
    let fails = |now: &str, args: &[&str]| {
        let out = cmd(now, args).assert().code(1).get_output().clone();
        String::from_utf8(out.stderr).unwrap()
    };
    ok(T0, &["people", "put", "pat", "--org", "ch1"]);
    ok(
        T0,
        &["people", "put", "olga", "--org", "ch1", "--role", "admin"],
    );
    ok(
        T0,
        &["people", "put", "otto", "--org", "ch1", "--role", "ops"],
    );
    ok(
        T0,
        &["orgs", "put", "ch1", "--set", "incident_max_attempts=1"],
    );
    ok(T0, &["start", "flaky", "--as", "pat"]);
    ok(T0, &["start", "flaky", "--as", "pat"]);
    assert_eq!(
        ok(T0, &["incidents"]),
        "no open incidents (--all lists resolved ones too)\n"
    );
    let t1 = "2026-11-20T11:00:00Z";
    ok(t1, &["tick"]);
    let list: Value = serde_json::from_str(&ok(t1, &["--json", "incidents", "list"])).unwrap();
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["case_id"], 1);
    assert_eq!(list[0]["timer"], "remind");
    assert_eq!(list[0]["status"], "open");
    assert_eq!(list[0]["attempts"], 1);
    assert!(list[0]["next_attempt_at"].is_null());
    assert!(
        list[0]["error"]
            .as_str()
            .unwrap()
            .contains("states.waiting.timers[0].run"),
        "{list:?}"
    );
    let text = ok(t1, &["incidents"]);
    assert!(text.contains("waiting.remind"), "{text}");
    assert!(
        text.contains("waiting since 2026-11-20 11:00 UTC"),
        "{text}"
    );
    let err = fails(t1, &["health"]);
    assert!(err.contains("2 open incident(s)"), "{err}");
    // not an operator
    let err = fails(t1, &["incidents", "retry", "1", "--as", "pat"]);
    assert!(
        err.contains("not_permitted") || err.contains("may not"),
        "{err}"
    );
    // still broken: rolled back, exit 1, still open
    let err = fails(t1, &["incidents", "retry", "1", "--as", "olga"]);
    assert!(err.contains("failed again (attempt 2)"), "{err}");
    // fixed: the retry fires
    ok(t1, &["orgs", "put", "ch1", "--set", "ready=true"]);
    let text = ok(t1, &["incidents", "retry", "1", "--as", "olga"]);
    assert!(
        text.starts_with("incident 1 resolved: retried: the timer fired"),
        "{text}"
    );
    let case: Value = serde_json::from_str(&ok(t1, &["--json", "show", "1"])).unwrap();
    assert_eq!(case["data"]["pings"], 1, "{case}");
    // other operator roles: olga is no longer one, otto is
    let err = fails(
        t1,
        &[
            "--operator-role",
            "ops",
            "incidents",
            "resolve",
            "2",
            "--as",
            "olga",
            "--note",
            "x",
        ],
    );
    assert!(err.contains("ops"), "{err}");
    let text = ok(
        t1,
        &[
            "--operator-role",
            "ops",
            "incidents",
            "resolve",
            "2",
            "--as",
            "otto",
            "--note",
            "not needed",
        ],
    );
    assert_eq!(text, "incident 2 resolved without firing: not needed\n");
    let all: Value =
        serde_json::from_str(&ok(t1, &["--json", "incidents", "list", "--all"])).unwrap();
    assert_eq!(all[0]["resolved_by"], "olga");
    assert_eq!(all[1]["resolved_by"], "otto");
    assert_eq!(all[1]["note"], "not needed");
    let err = fails(t1, &["incidents", "resolve", "2", "--note", "again"]);
    assert!(err.contains("already resolved"), "{err}");
    ok(t1, &["health"]);
}

#[test]
fn case_controls_suspend_resume_cancel_and_repair_with_an_operator_and_a_reason() {
    let e = Env::new();
    std::fs::create_dir(e.path("wf")).unwrap();
    std::fs::write(
        e.path("wf/flaky.yaml"),
        FLAKY.replace("settings:\n  ready: false\n", "settings:\n  ready: true\n"),
    )
    .unwrap();
    let cmd = |now: &str, args: &[&str]| {
        let mut c = e.bare();
        c.args(["--db", "t.db", "--workflows", "wf", "--now", now]);
        c.args(args);
        c
    };
    let ok = |now: &str, args: &[&str]| {
        let out = cmd(now, args).assert().success().get_output().clone();
        String::from_utf8(out.stdout).unwrap()
    };
    let fails = |now: &str, args: &[&str]| {
        let out = cmd(now, args).assert().code(1).get_output().clone();
        String::from_utf8(out.stderr).unwrap()
    };
    ok(T0, &["people", "put", "pat", "--org", "ch1"]);
    ok(
        T0,
        &["people", "put", "olga", "--org", "ch1", "--role", "admin"],
    );
    ok(T0, &["start", "flaky", "--as", "pat"]);
    let err = fails(
        T0,
        &["case", "suspend", "1", "--as", "pat", "--reason", "x"],
    );
    assert!(err.contains("may not"), "{err}");
    let text = ok(
        T0,
        &[
            "case", "suspend", "1", "--as", "olga", "--reason", "on leave",
        ],
    );
    assert!(text.contains("operator:suspend by olga"), "{text}");
    let show = ok(T0, &["show", "1"]);
    assert!(
        show.contains("suspended") && show.contains("by olga"),
        "{show}"
    );
    let err = fails(T0, &["act", "1", "finish", "--as", "pat"]);
    assert!(err.contains("is suspended by olga"), "{err}");
    // the timer waits while suspended, then fires once after the resume
    let t1 = "2026-11-20T13:00:00Z";
    ok(t1, &["tick"]);
    let case: Value = serde_json::from_str(&ok(t1, &["--json", "show", "1"])).unwrap();
    assert_eq!(case["data"]["pings"], 0, "{case}");
    assert_eq!(case["suspended"]["by"], "olga", "{case}");
    let case: Value = serde_json::from_str(&ok(
        t1,
        &[
            "--json", "case", "resume", "1", "--as", "olga", "--reason", "back",
        ],
    ))
    .unwrap();
    assert!(case["suspended"].is_null(), "{case}");
    ok(t1, &["tick"]);
    let case: Value = serde_json::from_str(&ok(t1, &["--json", "show", "1"])).unwrap();
    assert_eq!(case["data"]["pings"], 1, "{case}");
    // repair: an unknown state is refused with a suggestion
    let err = fails(
        t1,
        &[
            "case", "repair", "1", "don", "--as", "olga", "--reason", "x",
        ],
    );
    assert!(err.contains("did you mean `done`"), "{err}");
    let text = ok(
        t1,
        &[
            "case",
            "repair",
            "1",
            "done",
            "--as",
            "olga",
            "--reason",
            "done by phone",
        ],
    );
    assert!(text.contains("repaired case 1"), "{text}");
    // cancel: a second case ends where it is
    ok(t1, &["start", "flaky", "--as", "pat"]);
    let case: Value = serde_json::from_str(&ok(
        t1,
        &[
            "--json", "case", "cancel", "2", "--as", "olga", "--reason", "withdrew",
        ],
    ))
    .unwrap();
    assert_eq!(
        (case["state"].as_str(), case["open"].as_bool()),
        (Some("waiting"), Some(false))
    );
    assert_eq!(case["cancelled"]["reason"], "withdrew");
    let show = ok(t1, &["show", "2"]);
    assert!(
        show.contains("cancelled") && show.contains("withdrew"),
        "{show}"
    );
    let err = fails(t1, &["act", "2", "finish", "--as", "pat"]);
    assert!(err.contains("was cancelled by olga"), "{err}");
    let history = ok(t1, &["history", "2"]);
    assert!(history.contains("operator:cancel"), "{history}");
    // reassign: pat's open cases go to quinn, after a dry run
    ok(t1, &["people", "put", "quinn", "--org", "ch1"]);
    ok(t1, &["start", "flaky", "--as", "pat"]);
    let args = [
        "case", "reassign", "pat", "--to", "quinn", "--as", "olga", "--reason", "pat left",
    ];
    let dry = ok(t1, &[&args[..], &["--dry-run"]].concat());
    assert!(
        dry.contains("case 3 (flaky): would reassign to quinn as owner"),
        "{dry}"
    );
    assert!(
        dry.contains("1 case(s) of pat would be reassigned (dry run"),
        "{dry}"
    );
    let case: Value = serde_json::from_str(&ok(t1, &["--json", "show", "3"])).unwrap();
    assert_eq!(case["participants"]["owner"][0], "pat");
    let done = ok(t1, &args);
    assert!(done.contains("1 case(s) of pat reassigned"), "{done}");
    let case: Value = serde_json::from_str(&ok(t1, &["--json", "show", "3"])).unwrap();
    assert_eq!(case["participants"]["owner"][0], "quinn", "{case}");
}
