//! The command-line examples of docs/cli.md and the README, run as they are written.
//!
//! Every ` ```text ` block of a document is a transcript: a line `$ COMMAND` is run with
//! `sh -c` in one scratch folder (the blocks in the order of the document, so later examples
//! see what earlier ones did), and the lines under it are what it printed. A command must
//! exit as shown (an `error:` line means it fails, else it succeeds), and every shown line
//! must appear in what it printed, in order — whitespace runs are one space, and `...`
//! stands for anything (a whole line of it for any lines). `$ cat FILE` is not run: its
//! lines are written to FILE, so an example can show the file it works on; so is a
//! ` ```yaml ` block whose first line is `# FILE`.
//!
//! The commands run on the shipped workflows (`MENTORFLOW_WORKFLOWS`), on `mentorflow.db`,
//! and on the document's clock (`MENTORFLOW_NOW`), which starts at 2026-11-20 14:00 UTC and
//! moves to every `--now` a command gives. `DOCS_TEST_SHOW=1` prints what every example
//! printed, to bring a document up to date. HTML comments, invisible in the rendered page,
//! steer the run where a document only illustrates:
//!
//! - `<!-- docs-test: now INSTANT -->` moves the clock;
//! - `<!-- docs-test: run COMMAND -->` runs a command first, unseen (it must succeed; `$REPO`
//!   is the repository);
//! - `<!-- docs-test: skip REASON -->` does not run the next block (it would run for ever,
//!   needs a program the machine lacks, or writes outside the folder);
//! - `<!-- docs-test: status -->` checks only how the next block's commands exit.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

const START: &str = "2026-11-20T14:00:00Z";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One example command and what the document shows it printing.
#[derive(Debug)]
struct Example {
    line: usize,
    command: String,
    shown: Vec<String>,
}

#[derive(Debug)]
enum Step {
    Now(String),
    File {
        name: String,
        text: String,
    },
    Hidden {
        line: usize,
        command: String,
    },
    Block {
        examples: Vec<Example>,
        status_only: bool,
    },
}

/// The steps of a document, in order.
fn steps(text: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    let (mut skip, mut status_only) = (false, false);
    while let Some((i, line)) = lines.next() {
        let trimmed = line.trim();
        if let Some(directive) = trimmed
            .strip_prefix("<!-- docs-test:")
            .and_then(|d| d.strip_suffix("-->"))
        {
            let directive = directive.trim();
            let (word, rest) = directive.split_once(' ').unwrap_or((directive, ""));
            match word {
                "now" => steps.push(Step::Now(rest.trim().to_owned())),
                "run" => steps.push(Step::Hidden {
                    line: i + 1,
                    command: rest.trim().to_owned(),
                }),
                "skip" => skip = true,
                "status" => status_only = true,
                other => panic!("line {}: unknown docs-test directive `{other}`", i + 1),
            }
            continue;
        }
        if trimmed == "```yaml" || trimmed == "```csv" {
            // A file the examples use: its first line is `# NAME`.
            let body: Vec<&str> = lines
                .by_ref()
                .map(|(_, l)| l)
                .take_while(|l| !l.trim_start().starts_with("```"))
                .collect();
            if let Some(name) = body.first().and_then(|l| l.strip_prefix("# ")) {
                if !name.contains(' ') && name.contains('.') {
                    steps.push(Step::File {
                        name: name.to_owned(),
                        text: body[1..].join("\n") + "\n",
                    });
                }
            }
            continue;
        }
        if trimmed != "```text" {
            continue;
        }
        let mut examples: Vec<Example> = Vec::new();
        for (j, l) in lines.by_ref() {
            if l.trim_start().starts_with("```") {
                break;
            }
            if let Some(cmd) = l.strip_prefix("$ ") {
                examples.push(Example {
                    line: j + 1,
                    command: cmd.to_owned(),
                    shown: Vec::new(),
                });
            } else if let Some(e) = examples.last_mut() {
                e.shown.push(l.to_owned());
            }
        }
        if !skip && !examples.is_empty() {
            steps.push(Step::Block {
                examples,
                status_only,
            });
        }
        skip = false;
        status_only = false;
    }
    steps
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether `actual` (one line) is what `shown` shows, `...` matching anything.
fn line_matches(shown: &str, actual: &str) -> bool {
    let (shown, actual) = (squash(shown), squash(actual));
    let parts: Vec<&str> = shown.split("...").collect();
    if parts.len() == 1 {
        return shown == actual;
    }
    let mut rest = actual.as_str();
    for (k, part) in parts.iter().enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        match rest.find(part) {
            Some(at) if k > 0 || at == 0 => rest = &rest[at + part.len()..],
            _ => return false,
        }
    }
    parts.last().is_some_and(|p| p.trim().is_empty()) || rest.trim().is_empty()
}

/// The shown lines that are not in the output, in order.
fn missing(shown: &[String], output: &str) -> Vec<String> {
    let actual: Vec<&str> = output.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut at = 0;
    let mut missing = Vec::new();
    for s in shown {
        if s.trim().is_empty() || s.trim() == "..." || s.trim() == "^C" {
            continue;
        }
        match actual[at..].iter().position(|a| line_matches(s, a)) {
            Some(k) => at += k + 1,
            None => missing.push(s.clone()),
        }
    }
    missing
}

/// `--now X` in a command.
fn now_of(command: &str) -> Option<String> {
    let mut words = command.split_whitespace();
    while let Some(w) = words.next() {
        if w == "--now" {
            return words.next().map(str::to_owned);
        }
        if let Some(v) = w.strip_prefix("--now=") {
            return Some(v.to_owned());
        }
    }
    None
}

struct Runner {
    dir: TempDir,
    now: String,
    failures: Vec<String>,
    ran: usize,
    doc: String,
}

impl Runner {
    fn new(doc: &str) -> Runner {
        Runner {
            dir: TempDir::new().unwrap(),
            now: START.to_owned(),
            failures: Vec::new(),
            ran: 0,
            doc: doc.to_owned(),
        }
    }

    fn sh(&self, command: &str) -> (bool, String) {
        let bin = Path::new(env!("CARGO_BIN_EXE_mentorflow"));
        let path = format!(
            "{}:{}",
            bin.parent().unwrap().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let out = Command::new("timeout")
            .args(["120", "sh", "-c"])
            .arg(command)
            .current_dir(self.dir.path())
            .env("PATH", path)
            .env("MENTORFLOW_WORKFLOWS", repo().join("workflows"))
            .env("MENTORFLOW_NOW", &self.now)
            .env("NO_COLOR", "1")
            .env("REPO", repo())
            .env_remove("MENTORFLOW_DB")
            .env_remove("CLICOLOR_FORCE")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    fn run(&mut self, steps: &[Step]) {
        for step in steps {
            match step {
                Step::Now(t) => self.now = t.clone(),
                Step::File { name, text } => {
                    std::fs::write(self.dir.path().join(name), text).unwrap();
                }
                Step::Hidden { line, command } => {
                    if let Some(t) = now_of(command) {
                        self.now = t;
                    }
                    let (ok, out) = self.sh(command);
                    if !ok {
                        self.failures.push(format!(
                            "{}:{line}: hidden `{command}` failed:\n{out}",
                            self.doc
                        ));
                    }
                }
                Step::Block {
                    examples,
                    status_only,
                } => {
                    for e in examples {
                        self.example(e, *status_only);
                    }
                }
            }
        }
    }

    fn example(&mut self, e: &Example, status_only: bool) {
        if let Some(file) = e.command.strip_prefix("cat ") {
            let mut text = e.shown.join("\n");
            text.push('\n');
            std::fs::write(self.dir.path().join(file.trim()), text).unwrap();
            return;
        }
        if let Some(t) = now_of(&e.command) {
            self.now = t;
        }
        self.ran += 1;
        let (ok, out) = self.sh(&e.command);
        if std::env::var_os("DOCS_TEST_SHOW").is_some() {
            eprintln!("=== {}:{} $ {}\n{out}", self.doc, e.line, e.command);
        }
        let should_fail = e.shown.iter().any(|l| l.starts_with("error:"));
        let place = format!("{}:{}: `$ {}`", self.doc, e.line, e.command);
        if ok == should_fail {
            let expected = if should_fail { "fail" } else { "succeed" };
            self.failures
                .push(format!("{place}: should {expected}; it printed:\n{out}"));
            return;
        }
        if status_only {
            return;
        }
        let missing = missing(&e.shown, &out);
        if !missing.is_empty() {
            self.failures.push(format!(
                "{place}: not printed:\n  {}\nit printed:\n{out}",
                missing.join("\n  ")
            ));
        }
    }
}

fn check_document(doc: &str, at_least: usize) {
    let text = std::fs::read_to_string(repo().join(doc)).unwrap();
    let steps = steps(&text);
    let mut runner = Runner::new(doc);
    runner.run(&steps);
    assert!(
        runner.failures.is_empty(),
        "{} of {} examples differ from what they show:\n\n{}",
        runner.failures.len(),
        runner.ran,
        runner.failures.join("\n\n")
    );
    assert!(runner.ran >= at_least, "only {} examples ran", runner.ran);
}

#[test]
fn the_cli_guide_examples_run_as_shown() {
    check_document("docs/cli.md", 40);
}

#[test]
fn the_matcher_finds_what_differs() {
    assert!(line_matches("case 1 ... v2)", "case 1 (score_request v2)"));
    assert!(!line_matches("case 1 ... v2)", "case 1 (score_request v1)"));
    assert!(line_matches("a   b", "a b"));
    assert!(line_matches(
        "{ \"id\": 1, ... }",
        "{ \"id\": 1, \"x\": 2 }"
    ));
    let shown = vec!["one".to_owned(), "...".to_owned(), "three".to_owned()];
    assert!(missing(&shown, "one\ntwo\nthree\n").is_empty());
    assert_eq!(missing(&shown, "three\none\n"), vec!["three".to_owned()]);
    assert_eq!(
        now_of("mentorflow --now 2026-11-21T15:00:00Z tick").as_deref(),
        Some("2026-11-21T15:00:00Z")
    );
    let steps = steps("<!-- docs-test: skip forever -->\n```text\n$ mentorflow run\n```\n```text\n$ mentorflow list\nID\n```\n");
    assert_eq!(steps.len(), 1, "{steps:?}");
}
