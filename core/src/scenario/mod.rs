//! The scenario runner: language-neutral story files that test workflows.
//!
//! A scenario file (`tests/scenarios/*.yaml`) sets a start time, organisations and people,
//! then runs steps — start a case, act on it, move the clock, restart the engine, change the
//! directory — and checks after each step what must be true: the state, fields,
//! participants, notifications sent by that step, views, exports, timers, history. A step
//! may also have to fail in a given way (`error:`); then the runner also checks that the
//! refusal changed nothing. The format is documented key by key in
//! `tests/scenarios/README.md`.
//!
//! Each scenario runs on a fresh SQLite file in the system's temporary folder (deleted
//! afterwards) with a [`ManualClock`](crate::ManualClock) standing at the scenario's `start`,
//! so `restart` exercises the real durable path: timers and cases survive it.
//!
//! Files whose top level has `definition:` and `errors:` instead of `steps:` check that a
//! broken definition is refused with exactly the listed problems (line, column and a piece of
//! the message, in order).
//!
//! # API
//!
//! * [`run_file`] runs one file and returns its [`Report`]; it never panics, and a file that
//!   cannot be read or parsed is a failed report (with the line of the problem).
//! * [`run_str`] does the same for text (bindings, tests).
//! * [`run_paths`] runs files and folders (each folder's `*.yaml`, sorted by name);
//!   [`scenario_files`] lists a folder's scenario files the same way.
//! * [`uncovered`] lists, per workflow, the actions, states and timers that no report's
//!   cases exercised (`mentorflow test --coverage`).
//!
//! A failed report carries one [`Failure`]: the first thing that went wrong. Its display is
//! `FILE:LINE: step N (LABEL): expected …, got …`, for example:
//!
//! ```text
//! tests/scenarios/x.yaml:42: step 5 (act assign as cody): expected state `assigned_pending`, got `submitted`
//! ```
//!
//! ```no_run
//! use std::path::{Path, PathBuf};
//! let reports = mentorflow::scenario::run_paths(
//!     &[PathBuf::from("tests/scenarios")],
//!     Path::new("workflows"),
//! );
//! for r in &reports {
//!     match &r.failure {
//!         None => println!("ok   {} ({} steps)", r.name, r.steps_run),
//!         Some(f) => println!("FAIL {f}"),
//!     }
//! }
//! ```
//!
//! Every type here is [`serde::Serialize`], so a CLI can print reports as JSON.

mod coverage;
mod parse;
mod run;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

pub use coverage::{below_threshold, uncovered, Coverage, Transition, Uncovered, WorkflowCoverage};

/// The outcome of one scenario file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// The file, as given.
    pub file: String,
    /// The scenario's `name` (the file's stem when it could not be read).
    pub name: String,
    /// Whether every step and expectation held.
    pub passed: bool,
    /// Steps started, the failing one included (for an invalid-definition file: 1 once the
    /// definition was loaded).
    pub steps_run: usize,
    /// Steps in the file (0 when it could not be parsed that far).
    pub steps_total: usize,
    /// The first failure, when `passed` is false.
    pub failure: Option<Failure>,
    /// What the scenario's cases exercised (also filled for a failed run, up to the failure).
    pub covered: Coverage,
}

/// What went wrong, where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The scenario file.
    pub file: String,
    /// The step, 1-based; 0 for the file's setup (its top-level keys, organisations, people,
    /// engine start) and for invalid-definition files.
    pub step: usize,
    /// The line in the scenario file: the expectation, `error:` or step concerned.
    pub line: usize,
    /// A short label of the step (`act assign as cody`, `advance 24h`, `setup`).
    pub label: String,
    /// What was expected (``state `assigned_pending` ``).
    pub expected: String,
    /// What happened (`` `submitted` ``).
    pub actual: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.file, self.line)?;
        if self.step == 0 {
            write!(f, "{}", self.label)?;
        } else {
            write!(f, "step {} ({})", self.step, self.label)?;
        }
        write!(f, ": expected {}, got {}", self.expected, self.actual)
    }
}

impl Report {
    fn failed(file: &str, name: String, failure: Failure) -> Report {
        Report {
            file: file.to_owned(),
            name,
            passed: false,
            steps_run: 0,
            steps_total: 0,
            failure: Some(failure),
            covered: Coverage::default(),
        }
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Run one scenario file. Relative `workflows:` paths are resolved against the file's folder;
/// without `workflows:`, `default_workflows` is used. Never panics.
pub fn run_file(path: &Path, default_workflows: &Path) -> Report {
    let file = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => run_str(&text, &file, default_workflows),
        Err(e) => Report::failed(
            &file,
            stem(path),
            Failure {
                file: file.clone(),
                step: 0,
                line: 1,
                label: "setup".into(),
                expected: "a readable scenario file".into(),
                actual: format!("cannot read it: {e}"),
            },
        ),
    }
}

/// Run a scenario from text. `file` names it in reports, and its folder is where a relative
/// `workflows:` is resolved. Never panics.
pub fn run_str(text: &str, file: &str, default_workflows: &Path) -> Report {
    let guarded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run::run(text, file, default_workflows)
    }));
    match guarded {
        Ok(report) => report,
        Err(panic) => {
            let message = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Report::failed(
                file,
                stem(Path::new(file)),
                Failure {
                    file: file.to_owned(),
                    step: 0,
                    line: 1,
                    label: "setup".into(),
                    expected: "the scenario to run".into(),
                    actual: format!(
                        "an internal error in mentorflow (please report it): {message}"
                    ),
                },
            )
        }
    }
}

/// Run scenario files and folders. A folder contributes its `*.yaml` and `*.yml` files
/// (not its subfolders), sorted by name; files are run in the order given. A path that does
/// not exist gives a failed report.
pub fn run_paths(paths: &[PathBuf], default_workflows: &Path) -> Vec<Report> {
    let mut reports = Vec::new();
    for p in paths {
        if p.is_dir() {
            match scenario_files(p) {
                Ok(files) => reports.extend(files.iter().map(|f| run_file(f, default_workflows))),
                Err(e) => {
                    let file = p.display().to_string();
                    reports.push(Report::failed(
                        &file,
                        stem(p),
                        Failure {
                            file: file.clone(),
                            step: 0,
                            line: 1,
                            label: "setup".into(),
                            expected: "a readable folder of scenarios".into(),
                            actual: format!("cannot list it: {e}"),
                        },
                    ));
                }
            }
        } else {
            reports.push(run_file(p, default_workflows));
        }
    }
    reports
}

/// [`run_paths`] with every scenario on a new, empty schema of a PostgreSQL server (`server`, a
/// `postgres://` URL that sets no `search_path`), dropped when the scenario ends; `None` is
/// [`run_paths`] itself (a temporary SQLite file per scenario).
pub fn run_paths_on(
    paths: &[PathBuf],
    default_workflows: &Path,
    server: Option<&str>,
) -> Vec<Report> {
    match server {
        Some(url) => run::SERVER.set(&url.to_owned(), || run_paths(paths, default_workflows)),
        None => run_paths(paths, default_workflows),
    }
}

/// The scenario files of a folder: `*.yaml` and `*.yml`, sorted by name.
pub fn scenario_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.is_file()
                && p.extension().is_some_and(|x| {
                    x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml")
                })
        })
        .collect();
    files.sort();
    Ok(files)
}
