//! Running a parsed scenario against an engine on a temporary SQLite file.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};

use super::parse::{
    self, ActionsCheck, Body, CaseRef, Check, CheckKind, EventMatch, ExpectError, ExportCheck,
    HistoryCheck, InvalidDefinition, NotificationMatch, RecordedHistory, ReplayStep, SignalMatch,
    Step, StepKind, Story, ViewCheck,
};
use super::{stem, Coverage, Failure, Report};
use crate::engine::{Case, CaseFilter, Engine, Event, Notification, Signal, Start};
use crate::error::Error;
use crate::script::{Limits, Scripts};
use crate::store::NotificationFilter;
use crate::time::{BusinessCalendar, ManualClock};
use crate::yaml::Spans;

/// A problem found while running a step: what was expected and what happened. `line`
/// overrides the step's line (an expectation's own line).
#[derive(Debug)]
struct Fail {
    line: Option<usize>,
    expected: String,
    actual: String,
}

fn fail(expected: impl Into<String>, actual: impl Into<String>) -> Fail {
    Fail {
        line: None,
        expected: expected.into(),
        actual: actual.into(),
    }
}

impl Fail {
    fn at(mut self, line: usize) -> Fail {
        if self.line.is_none() {
            self.line = Some(line);
        }
        self
    }
}

type Checked<T = ()> = Result<T, Fail>;

/// An engine error as it reads in a failure: its code, message, suggestions and field.
fn error_text(e: &Error) -> String {
    let mut s = format!("`{}`: {e}", e.code());
    match e {
        Error::GuardRejected { suggest, .. } if !suggest.is_empty() => {
            let _ = write!(s, " (suggests {})", list(suggest));
        }
        Error::Validation { field: Some(f), .. } => {
            let _ = write!(s, " (field `{f}`)");
        }
        _ => {}
    }
    s
}

fn engine_error(what: &str, e: &Error) -> Fail {
    fail(what.to_owned(), error_text(e))
}

fn list<S: AsRef<str>>(items: &[S]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn json(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| v.to_string())
}

/// A quoted excerpt of a text (long texts are cut).
fn quote(s: &str) -> String {
    const MAX: usize = 160;
    let mut out: String = s.chars().take(MAX).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    format!("{out:?}")
}

fn instant(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_lowercase().contains(&needle.to_lowercase())
}

/// Whether an actual value is the expected one: JSON equality, except that numbers compare
/// by value (1 = 1.0) and two RFC 3339 texts compare as instants.
pub(crate) fn same_value(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => a.as_f64() == b.as_f64(),
        },
        (Value::String(a), Value::String(b)) => {
            a == b
                || match (
                    DateTime::parse_from_rfc3339(a.trim()),
                    DateTime::parse_from_rfc3339(b.trim()),
                ) {
                    (Ok(x), Ok(y)) => x == y,
                    _ => false,
                }
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| same_value(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, x)| b.get(k).is_some_and(|y| same_value(x, y)))
        }
        _ => expected == actual,
    }
}

/// Whether `actual` holds every expected key with the expected value (`null`: absent or null).
fn subset(expected: &[(String, Value)], actual: &Map<String, Value>) -> bool {
    expected.iter().all(|(k, v)| match actual.get(k) {
        None | Some(Value::Null) => v.is_null(),
        Some(a) => !v.is_null() && same_value(v, a),
    })
}

fn pairs_text(pairs: &[(String, Value)]) -> String {
    format!(
        "{{{}}}",
        pairs
            .iter()
            .map(|(k, v)| format!("{k}: {}", json(v)))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

// ---- the temporary database -------------------------------------------------------------

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh database file in the temporary folder, removed (with its WAL files) on drop.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> std::io::Result<TempDb> {
        let dir = std::env::temp_dir();
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = dir.join(format!("mentorflow-scenario-{}-{n}.db", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(_) => return Ok(TempDb { path }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = self.path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(PathBuf::from(p));
        }
    }
}

scoped_tls::scoped_thread_local!(
    /// The PostgreSQL server scenarios run on, when set (`super::run_paths_on`).
    pub(super) static SERVER: String
);

/// A new, empty schema on a PostgreSQL server for one scenario, dropped on drop.
struct TempSchema {
    server: String,
    schema: String,
    url: String,
}

impl TempSchema {
    fn new(server: &str) -> std::result::Result<TempSchema, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or_default();
        let schema = format!("scenario_{}_{nanos}_{n}", std::process::id());
        let mut client = postgres::Client::connect(server, postgres::NoTls)
            .map_err(|e| format!("cannot reach {}: {e}", crate::store::redact(server)))?;
        client
            .batch_execute(&format!("CREATE SCHEMA {schema}"))
            .map_err(|e| format!("cannot create a schema: {e}"))?;
        let sep = if server.contains('?') { '&' } else { '?' };
        Ok(TempSchema {
            url: format!("{server}{sep}options=-csearch_path%3D{schema}"),
            server: server.to_owned(),
            schema,
        })
    }
}

impl Drop for TempSchema {
    fn drop(&mut self) {
        if let Ok(mut client) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = client.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
    }
}

/// A scenario's fresh database: a temporary file, or a schema on the server of
/// `super::run_paths_on`.
enum ScenarioDb {
    File(TempDb),
    Schema(TempSchema),
}

impl ScenarioDb {
    fn new() -> std::result::Result<ScenarioDb, Fail> {
        if SERVER.is_set() {
            return SERVER.with(|server| {
                TempSchema::new(server)
                    .map(ScenarioDb::Schema)
                    .map_err(|e| fail("a new schema on the PostgreSQL server", e))
            });
        }
        TempDb::new().map(ScenarioDb::File).map_err(|e| {
            fail(
                "a temporary database file",
                format!(
                    "cannot create one in {}: {e}",
                    std::env::temp_dir().display()
                ),
            )
        })
    }

    fn location(&self) -> PathBuf {
        match self {
            ScenarioDb::File(f) => f.path.clone(),
            ScenarioDb::Schema(s) => PathBuf::from(&s.url),
        }
    }
}

// ---- entry --------------------------------------------------------------------------------

pub(super) fn run(text: &str, file: &str, default_workflows: &Path) -> Report {
    let (scenario, spans) = match parse::parse(text) {
        Ok(x) => x,
        Err(fe) => {
            return Report {
                file: file.to_owned(),
                name: fe.name.unwrap_or_else(|| stem(Path::new(file))),
                passed: false,
                steps_run: 0,
                steps_total: fe.steps_total,
                failure: Some(Failure {
                    file: file.to_owned(),
                    step: fe.step,
                    line: fe.error.pos.line,
                    label: fe.label,
                    expected: fe.error.expected,
                    actual: fe.error.actual,
                }),
                covered: Coverage::default(),
            }
        }
    };
    let workflows = match &scenario.workflows {
        Some(w) => Path::new(file)
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(w),
        None => default_workflows.to_path_buf(),
    };
    let (steps_run, steps_total, failure, covered) = match &scenario.body {
        Body::Invalid(inv) => {
            let failure = run_invalid(file, inv, &spans);
            (1, 1, failure, Coverage::default())
        }
        Body::Story(story) => run_story(file, story, &workflows, &spans),
    };
    Report {
        file: file.to_owned(),
        name: scenario.name,
        passed: failure.is_none(),
        steps_run,
        steps_total,
        failure,
        covered,
    }
}

// ---- invalid definitions ------------------------------------------------------------------

fn run_invalid(file: &str, inv: &InvalidDefinition, spans: &Spans) -> Option<Failure> {
    let failure = |line: usize, expected: String, actual: String| Failure {
        file: file.to_owned(),
        step: 0,
        line,
        label: "definition".into(),
        expected,
        actual,
    };
    let scripts = Scripts::new(Limits::default());
    let n = inv.errors.len();
    let problems = match crate::definition::load_str(&inv.text, "definition", &scripts) {
        Ok(d) => {
            return Some(failure(
                inv.errors_pos.line,
                format!(
                    "the definition to be refused with {}",
                    plural(n, "problem", "problems")
                ),
                format!("it loaded (workflow `{}` version {})", d.id, d.version),
            ))
        }
        Err(Error::Definition { problems }) => problems,
        Err(e) => {
            return Some(failure(
                inv.errors_pos.line,
                format!("{} in the definition", plural(n, "problem", "problems")),
                error_text(&e),
            ))
        }
    };
    let describe = |p: &crate::error::Problem| {
        let in_file = spans.script_pos("definition", p.line, p.column);
        format!(
            "{}:{}: {} (line {} of this file)",
            p.line, p.column, p.message, in_file.line
        )
    };
    if problems.len() != n {
        let listed: Vec<String> = problems.iter().map(&describe).collect();
        return Some(failure(
            inv.errors_pos.line,
            plural(n, "problem", "problems"),
            format!(
                "{}:\n    {}",
                plural(problems.len(), "problem", "problems"),
                listed.join("\n    ")
            ),
        ));
    }
    for (i, (want, got)) in inv.errors.iter().zip(&problems).enumerate() {
        let ok = want.line == got.line
            && want.column.is_none_or(|c| c == got.column)
            && contains_ci(&got.message, &want.message)
            && want.path.as_ref().is_none_or(|p| *p == got.path);
        if !ok {
            let mut expected = format!("problem {} at line {}", i + 1, want.line);
            if let Some(c) = want.column {
                let _ = write!(expected, ", column {c}");
            }
            let _ = write!(
                expected,
                " with a message containing {}",
                quote(&want.message)
            );
            if let Some(p) = &want.path {
                let _ = write!(expected, " at `{p}`");
            }
            let mut actual = describe(got);
            if want.path.is_some() {
                let _ = write!(actual, " at `{}`", got.path);
            }
            return Some(failure(want.pos.line, expected, actual));
        }
    }
    None
}

// ---- stories ------------------------------------------------------------------------------

fn run_story(
    file: &str,
    story: &Story,
    workflows: &Path,
    spans: &Spans,
) -> (usize, usize, Option<Failure>, Coverage) {
    let total = story.steps.len();
    let setup_failure = |line: usize, f: Fail| Failure {
        file: file.to_owned(),
        step: 0,
        line: f.line.unwrap_or(line),
        label: "setup".into(),
        expected: f.expected,
        actual: f.actual,
    };
    let db = match ScenarioDb::new() {
        Ok(db) => db,
        Err(f) => return (0, total, Some(setup_failure(1, f)), Coverage::default()),
    };
    let mut runner = Runner {
        db: db.location(),
        base: Path::new(file)
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .to_path_buf(),
        workflows: workflows.to_path_buf(),
        clock: ManualClock::at(story.start),
        engine: None,
        saved: BTreeMap::new(),
        current: None,
        created_notifications: Vec::new(),
        created_signals: Vec::new(),
    };
    let workflows_line = spans
        .key("workflows")
        .or_else(|| spans.key("start"))
        .map_or(1, |p| p.line);
    if let Err(f) = runner.open() {
        return (
            0,
            total,
            Some(setup_failure(workflows_line, f)),
            Coverage::default(),
        );
    }
    let mut failure = None;
    let mut steps_run = 0;
    if let Err(f) = runner.setup(story) {
        failure = Some(setup_failure(1, f));
    } else {
        for step in &story.steps {
            steps_run += 1;
            if let Err(f) = runner.step(step) {
                failure = Some(Failure {
                    file: file.to_owned(),
                    step: step.number,
                    line: f.line.unwrap_or(step.line),
                    label: step.label.clone(),
                    expected: f.expected,
                    actual: f.actual,
                });
                break;
            }
        }
    }
    let covered = runner.coverage();
    drop(runner);
    drop(db);
    (steps_run, total, failure, covered)
}

/// What a refused step must leave unchanged.
struct Snapshot {
    case: Option<Case>,
    cases: usize,
    notifications: Vec<Notification>,
    signals: usize,
}

struct Runner {
    db: PathBuf,
    /// The scenario file's folder (`file:` of a `replay` step is relative to it).
    base: PathBuf,
    workflows: PathBuf,
    clock: ManualClock,
    engine: Option<Engine>,
    saved: BTreeMap<String, i64>,
    current: Option<i64>,
    created_notifications: Vec<Notification>,
    created_signals: Vec<Signal>,
}

impl Runner {
    fn open(&mut self) -> Checked {
        if !self.workflows.is_dir() {
            return Err(fail(
                "a folder of workflow files",
                format!(
                    "`{}` is not a folder (set `workflows:` relative to the scenario file)",
                    self.workflows.display()
                ),
            ));
        }
        let engine = Engine::builder()
            .database(&self.db)
            .workflows_dir(&self.workflows)
            .clock(self.clock.clone())
            .build()
            .map_err(|e| {
                engine_error(
                    &format!("the workflows of `{}` to load", self.workflows.display()),
                    &e,
                )
            })?;
        self.engine = Some(engine);
        Ok(())
    }

    fn engine(&self) -> Checked<Engine> {
        self.engine
            .clone()
            .ok_or_else(|| fail("a running engine", "none (it failed to start)"))
    }

    fn setup(&mut self, story: &Story) -> Checked {
        let engine = self.engine()?;
        for (org, pos) in &story.orgs {
            engine.replace_org(org).map_err(|e| {
                engine_error(&format!("organisation `{}` to be accepted", org.id), &e).at(pos.line)
            })?;
        }
        for (person, pos) in &story.people {
            engine.put_person(person).map_err(|e| {
                engine_error(&format!("person `{}` to be accepted", person.id), &e).at(pos.line)
            })?;
        }
        Ok(())
    }

    /// The coverage of every case in the database.
    fn coverage(&self) -> Coverage {
        let mut c = Coverage::default();
        let Some(engine) = &self.engine else {
            return c;
        };
        let Ok(cases) = engine.cases(&CaseFilter::default()) else {
            return c;
        };
        for case in cases {
            if let Ok(events) = engine.history(case.id, None) {
                let def = engine.definition(&case.workflow).ok();
                c.add_history(&case.workflow, def.as_deref(), &events);
            }
        }
        c
    }

    // ---- cases ----------------------------------------------------------------------------

    fn resolve(&self, r: Option<&CaseRef>) -> Checked<i64> {
        match r {
            Some(CaseRef::Id(id)) => Ok(*id),
            Some(CaseRef::Name(name)) => self.saved.get(name).copied().ok_or_else(|| {
                let known: Vec<&str> = self.saved.keys().map(String::as_str).collect();
                fail(
                    format!("a case saved as `{name}`"),
                    if known.is_empty() {
                        "no case saved yet (use `save: NAME` on a start step)".to_owned()
                    } else {
                        format!(
                            "no such name (saved: {}){}",
                            known.join(", "),
                            parse::hint(name, &known)
                        )
                    },
                )
            }),
            None => self.current.ok_or_else(|| {
                fail(
                    "a current case",
                    "none yet: start a case first or name one with `case:`",
                )
            }),
        }
    }

    /// `req (#3)` for saved cases, `#3` otherwise.
    fn case_name(&self, id: i64) -> String {
        match self.saved.iter().find(|(_, v)| **v == id) {
            Some((name, _)) => format!("{name} (#{id})"),
            None => format!("#{id}"),
        }
    }

    fn case_list(&self, cases: &[Case]) -> String {
        if cases.is_empty() {
            "it is empty".to_owned()
        } else {
            format!(
                "it lists {}",
                list(
                    &cases
                        .iter()
                        .map(|c| self.case_name(c.id))
                        .collect::<Vec<_>>()
                )
            )
        }
    }

    // ---- steps ----------------------------------------------------------------------------

    fn step(&mut self, step: &Step) -> Checked {
        if !matches!(step.kind, StepKind::Expect) {
            let target = match &step.kind {
                StepKind::Act { case, .. } => Some(self.resolve(case.as_ref())?),
                _ => None,
            };
            // The engine handle is dropped before the command runs, so that `restart`
            // really closes the only connection to the database.
            let (before_notification, before_signal, snapshot) = {
                let engine = self.engine()?;
                let before_notification = max_id(&all_notifications(&engine)?);
                let before_signal = engine
                    .signals(None)
                    .map_err(|e| engine_error("the signals to be readable", &e))?
                    .iter()
                    .map(|s| s.id)
                    .max()
                    .unwrap_or(0);
                let snapshot = match &step.error {
                    Some(_) => Some(self.snapshot(&engine, target)?),
                    None => None,
                };
                (before_notification, before_signal, snapshot)
            };
            let outcome = self.execute(step, target)?;
            match (&step.error, outcome) {
                (None, Ok(_)) => {}
                (None, Err(e)) => return Err(fail("the step to succeed", error_text(&e))),
                (Some(want), Ok(case)) => {
                    let what = match &want.kind {
                        Some(k) => format!("the step to fail with `{k}`"),
                        None => "the step to fail".to_owned(),
                    };
                    let what = match &want.message {
                        Some(m) => format!("{what} ({})", quote(m)),
                        None => what,
                    };
                    let got = match case {
                        Some(c) => format!(
                            "success: {} is now in `{}` at revision {}",
                            self.case_name(c.id),
                            c.state,
                            c.revision
                        ),
                        None => "success".to_owned(),
                    };
                    return Err(fail(what, got).at(want.line));
                }
                (Some(want), Err(e)) => {
                    check_error(want, &e).map_err(|f| f.at(want.line))?;
                    if let Some(snap) = snapshot {
                        let engine = self.engine()?;
                        self.unchanged(&engine, &snap)
                            .map_err(|f| f.at(want.line))?;
                    }
                }
            }
            let engine = self.engine()?;
            self.created_notifications = all_notifications(&engine)?
                .into_iter()
                .filter(|n| n.id > before_notification)
                .collect();
            self.created_signals = engine
                .signals(None)
                .map_err(|e| engine_error("the signals to be readable", &e))?
                .into_iter()
                .filter(|s| s.id > before_signal)
                .collect();
        }
        if let Some(expect) = &step.expect {
            let engine = self.engine()?;
            for check in &expect.checks {
                self.check(&engine, check, expect.case.as_ref())
                    .map_err(|f| f.at(check.line))?;
            }
        }
        Ok(())
    }

    /// Run the step's command. The outer error is a problem of the scenario (an unknown case
    /// name, a timer that failed); the inner one is the engine's answer, which `error:` may
    /// expect. On success, the case the step acted on, if any.
    fn execute(
        &mut self,
        step: &Step,
        target: Option<i64>,
    ) -> Checked<Result<Option<Case>, Error>> {
        let engine = self.engine()?;
        Ok(match &step.kind {
            StepKind::Start {
                workflow,
                actor,
                action,
                org,
                data,
                inputs,
                save,
            } => {
                let r = engine.start_with(Start {
                    workflow: workflow.clone(),
                    action: action.clone(),
                    actor: actor.clone(),
                    org: org.clone(),
                    data: data.clone(),
                    inputs: inputs.clone(),
                    idempotency_key: None,
                });
                if let Ok(c) = &r {
                    self.current = Some(c.id);
                    if let Some(name) = save {
                        self.saved.insert(name.clone(), c.id);
                    }
                }
                r.map(Some)
            }
            StepKind::Act {
                action,
                actor,
                inputs,
                revision,
                save,
                ..
            } => {
                let id = match target {
                    Some(id) => id,
                    None => self.resolve(None)?,
                };
                self.current = Some(id);
                if let Some(name) = save {
                    self.saved.insert(name.clone(), id);
                }
                let inputs = Value::Object(inputs.clone());
                match revision {
                    Some(rev) => engine.act_at(id, *rev, action, actor, inputs),
                    None => engine.act(id, action, actor, inputs),
                }
                .map(Some)
            }
            StepKind::Advance(span) => {
                let target = BusinessCalendar::default().add(engine.now(), *span);
                let r = engine.advance_to(target);
                timer_failures(r)?.map(|()| None)
            }
            StepKind::AdvanceTo(t) => {
                let now = engine.now();
                if *t < now {
                    return Err(fail(
                        format!("a time after the clock ({})", instant(now)),
                        instant(*t),
                    ));
                }
                timer_failures(engine.advance_to(*t))?.map(|()| None)
            }
            StepKind::Tick => timer_failures(engine.tick())?.map(|()| None),
            StepKind::Restart(down) => {
                self.engine = None;
                drop(engine);
                if let Some(span) = down {
                    // time passes while nothing runs: no timer fires until the next sweep
                    let now = crate::time::Clock::now(&self.clock);
                    self.clock
                        .set(crate::time::BusinessCalendar::default().add(now, *span));
                }
                self.open()?;
                Ok(None)
            }
            StepKind::PutPerson(patch) => engine.put_person(patch).map(|_| None),
            StepKind::PutOrg(patch) => engine.put_org(patch).map(|_| None),
            StepKind::RemovePerson(id) => match engine.remove_person(id) {
                Ok(true) => Ok(None),
                Ok(false) => Err(Error::NotFound {
                    kind: "person",
                    id: id.clone(),
                    hint: None,
                }),
                Err(e) => Err(e),
            },
            StepKind::Replay(r) => {
                self.replay(&engine, r)?;
                Ok(None)
            }
            StepKind::Expect => Ok(None),
        })
    }

    /// A `replay` step: the recorded case replayed against the version (default: the loaded
    /// one); identical passes, unless `diverges:` wants the replay to stop at a difference.
    fn replay(&self, engine: &Engine, step: &ReplayStep) -> Checked {
        let (value, line, what) = match &step.history {
            RecordedHistory::Inline(v, line) => (v.clone(), *line, "history".to_owned()),
            RecordedHistory::File(f, line) => {
                let path = self.base.join(f);
                let text = std::fs::read_to_string(&path).map_err(|e| {
                    fail(
                        "a recorded history (a JSON file of events)",
                        format!("cannot read `{}`: {e}", path.display()),
                    )
                    .at(*line)
                })?;
                let v: Value = serde_json::from_str(&text).map_err(|e| {
                    fail(
                        "a recorded history (a JSON file of events)",
                        format!("`{}` is not JSON: {e}", path.display()),
                    )
                    .at(*line)
                })?;
                (v, *line, f.clone())
            }
        };
        let events = crate::replay::read_history(&value, &what)
            .map_err(|e| fail("a recorded history", e.to_string()).at(line))?;
        let version = match step.version {
            Some(v) => v,
            None => {
                engine
                    .definition(&step.workflow)
                    .map_err(|e| {
                        engine_error(&format!("workflow `{}` to be loaded", step.workflow), &e)
                    })?
                    .version
            }
        };
        let first = &events[0];
        let org = match &step.org {
            Some(o) => o.clone(),
            None => engine
                .person(&first.actor)
                .map_err(|e| {
                    engine_error(
                        &format!(
                            "the case's starter `{}` in the directory (or `org:` on the step)",
                            first.actor
                        ),
                        &e,
                    )
                })?
                .org
                .ok_or_else(|| {
                    fail(
                        "`org:` on the step",
                        format!(
                            "the case's starter `{}` belongs to no organisation",
                            first.actor
                        ),
                    )
                })?,
        };
        let recorded = crate::replay::RecordedCase {
            case: first.case_id,
            version,
            org,
            events,
        };
        let report = engine
            .replay_recorded(&step.workflow, version, vec![recorded])
            .map_err(|e| engine_error("the history to replay", &e))?;
        let Some(case) = report.cases.first() else {
            return Err(fail("one replayed case", "none"));
        };
        let got = match (&case.divergence, &case.reason) {
            (Some(d), _) => format!("a divergence at {d}"),
            (None, Some(reason)) => format!("no replay: {reason}"),
            (None, None) => format!(
                "identical ({} events reproduced on v{version})",
                case.matched
            ),
        };
        match &step.diverges {
            None => {
                if case.outcome == crate::ReplayOutcome::Identical {
                    Ok(())
                } else {
                    Err(fail(
                        format!("the recorded history reproduced on v{version}"),
                        got,
                    ))
                }
            }
            Some(want) => {
                let mut expected = "a divergence".to_owned();
                if let Some(n) = want.event {
                    let _ = write!(expected, " at event {n}");
                }
                if let Some(k) = &want.kind {
                    let _ = write!(expected, " of kind `{k}`");
                }
                if let Some(m) = &want.message {
                    let _ = write!(expected, " mentioning {}", quote(m));
                }
                let ok = case.divergence.as_ref().is_some_and(|d| {
                    let kind = serde_json::to_value(d.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    want.event.is_none_or(|n| n == d.seq)
                        && want.kind.as_ref().is_none_or(|k| *k == kind)
                        && want
                            .message
                            .as_ref()
                            .is_none_or(|m| contains_ci(&d.to_string(), m))
                });
                if ok {
                    Ok(())
                } else {
                    Err(fail(expected, got).at(want.line))
                }
            }
        }
    }

    fn snapshot(&self, engine: &Engine, target: Option<i64>) -> Checked<Snapshot> {
        let case = match target {
            Some(id) => engine.get(id, None).ok(),
            None => None,
        };
        Ok(Snapshot {
            case,
            cases: engine
                .cases(&CaseFilter::default())
                .map_err(|e| engine_error("the cases to be readable", &e))?
                .len(),
            notifications: all_notifications(engine)?,
            signals: engine
                .signals(None)
                .map_err(|e| engine_error("the signals to be readable", &e))?
                .len(),
        })
    }

    /// After a refused step: nothing may have changed.
    fn unchanged(&self, engine: &Engine, before: &Snapshot) -> Checked {
        let expected = "the refused step to change nothing";
        if let Some(c) = &before.case {
            let now = engine
                .get(c.id, None)
                .map_err(|e| engine_error("the case to be readable", &e))?;
            if now.revision != c.revision || now.state != c.state {
                return Err(fail(
                    expected,
                    format!(
                        "{} went from `{}` at revision {} to `{}` at revision {}",
                        self.case_name(c.id),
                        c.state,
                        c.revision,
                        now.state,
                        now.revision
                    ),
                ));
            }
        }
        let cases = engine
            .cases(&CaseFilter::default())
            .map_err(|e| engine_error("the cases to be readable", &e))?
            .len();
        if cases != before.cases {
            return Err(fail(
                expected,
                format!("the number of cases went from {} to {cases}", before.cases),
            ));
        }
        let after = all_notifications(engine)?;
        if after.len() != before.notifications.len() {
            let max = max_id(&before.notifications);
            let new: Vec<String> = after
                .iter()
                .filter(|n| n.id > max)
                .map(notification_text)
                .collect();
            return Err(fail(
                expected,
                format!(
                    "{} queued: {}",
                    plural(new.len(), "notification was", "notifications were"),
                    new.join("; ")
                ),
            ));
        }
        let signals = engine
            .signals(None)
            .map_err(|e| engine_error("the signals to be readable", &e))?
            .len();
        if signals != before.signals {
            return Err(fail(
                expected,
                format!(
                    "the number of signals went from {} to {signals}",
                    before.signals
                ),
            ));
        }
        Ok(())
    }

    // ---- expectations ---------------------------------------------------------------------

    fn case(&self, engine: &Engine, r: Option<&CaseRef>) -> Checked<Case> {
        let id = self.resolve(r)?;
        engine
            .get(id, None)
            .map_err(|e| engine_error(&format!("case {}", self.case_name(id)), &e))
    }

    fn check(&mut self, engine: &Engine, check: &Check, case_ref: Option<&CaseRef>) -> Checked {
        match &check.kind {
            CheckKind::State(want) => {
                let c = self.case(engine, case_ref)?;
                if c.state != *want {
                    return Err(fail(format!("state `{want}`"), format!("`{}`", c.state)));
                }
            }
            CheckKind::StateLabel(want) => {
                let c = self.case(engine, case_ref)?;
                if c.state_label != *want {
                    return Err(fail(
                        format!("state label {}", quote(want)),
                        format!("{} (state `{}`)", quote(&c.state_label), c.state),
                    ));
                }
            }
            CheckKind::Open(want) => {
                let c = self.case(engine, case_ref)?;
                if c.open != *want {
                    let word = |open: bool| {
                        if open {
                            "open"
                        } else {
                            "closed (in a final state)"
                        }
                    };
                    return Err(fail(
                        format!("the case to be {}", word(*want)),
                        format!("{} (state `{}`)", word(c.open), c.state),
                    ));
                }
            }
            CheckKind::Fields(fields) => {
                let c = self.case(engine, case_ref)?;
                for (name, want) in fields {
                    let got = c.data.get(name);
                    let ok = match got {
                        None | Some(Value::Null) => want.is_null(),
                        Some(g) => !want.is_null() && same_value(want, g),
                    };
                    if !ok {
                        let expected = if want.is_null() {
                            format!("field `{name}` absent or null")
                        } else {
                            format!("field `{name}` = {}", json(want))
                        };
                        let actual = match got {
                            Some(g) if !g.is_null() => json(g),
                            _ => {
                                let set: Vec<&str> = c.data.keys().map(String::as_str).collect();
                                format!("no value (fields set: {})", set.join(", "))
                            }
                        };
                        return Err(fail(expected, actual));
                    }
                }
            }
            CheckKind::Participants(roles) => {
                let c = self.case(engine, case_ref)?;
                for (role, want) in roles {
                    let got = c.participants.get(role).cloned().unwrap_or_default();
                    let (mut a, mut b) = (want.clone(), got.clone());
                    a.sort();
                    b.sort();
                    if a != b {
                        let show = |ids: &[String]| {
                            if ids.is_empty() {
                                "nobody".to_owned()
                            } else {
                                list(ids)
                            }
                        };
                        return Err(fail(
                            format!("participants `{role}` = {}", show(want)),
                            show(&got),
                        ));
                    }
                }
            }
            CheckKind::TagsInclude(tags) => {
                let c = self.case(engine, case_ref)?;
                for t in tags {
                    if !c.tags.contains(t) {
                        return Err(fail(
                            format!("the state's tags to include `{t}`"),
                            format!("tags {} (state `{}`)", list(&c.tags), c.state),
                        ));
                    }
                }
            }
            CheckKind::TagsExclude(tags) => {
                let c = self.case(engine, case_ref)?;
                for t in tags {
                    if c.tags.contains(t) {
                        return Err(fail(
                            format!("the state's tags not to include `{t}`"),
                            format!("tags {} (state `{}`)", list(&c.tags), c.state),
                        ));
                    }
                }
            }
            CheckKind::Notified(items) => {
                let mut used = vec![false; self.created_notifications.len()];
                for (m, line) in items {
                    let case = m.case.as_ref().map(|r| self.resolve(Some(r))).transpose()?;
                    let found = self
                        .created_notifications
                        .iter()
                        .enumerate()
                        .find(|(i, n)| {
                            !used.get(*i).copied().unwrap_or(true)
                                && notification_matches(m, case, n)
                        });
                    match found {
                        Some((i, _)) => {
                            if let Some(u) = used.get_mut(i) {
                                *u = true;
                            }
                        }
                        None => {
                            return Err(fail(
                                format!("{} created by the step", describe_notification(m)),
                                self.explain_notification(m, case),
                            )
                            .at(*line))
                        }
                    }
                }
            }
            CheckKind::NotNotified(items) => {
                for (m, line) in items {
                    let case = m.case.as_ref().map(|r| self.resolve(Some(r))).transpose()?;
                    if let Some(n) = self
                        .created_notifications
                        .iter()
                        .find(|n| notification_matches(m, case, n))
                    {
                        return Err(fail(
                            format!(
                                "no {} created by the step",
                                describe_notification(m).trim_start_matches("a ")
                            ),
                            notification_text(n),
                        )
                        .at(*line));
                    }
                }
            }
            CheckKind::NotifiedCount(want) => {
                let got = &self.created_notifications;
                if got.len() != *want {
                    return Err(fail(
                        format!(
                            "{} created by the step",
                            plural(*want, "notification", "notifications")
                        ),
                        notifications_text(got),
                    ));
                }
            }
            CheckKind::Signals(items) => {
                let mut used = vec![false; self.created_signals.len()];
                for (m, line) in items {
                    let case = m.case.as_ref().map(|r| self.resolve(Some(r))).transpose()?;
                    let found = self.created_signals.iter().enumerate().find(|(i, s)| {
                        !used.get(*i).copied().unwrap_or(true) && signal_matches(m, case, s)
                    });
                    match found {
                        Some((i, _)) => {
                            if let Some(u) = used.get_mut(i) {
                                *u = true;
                            }
                        }
                        None => {
                            return Err(fail(
                                format!("{} emitted by the step", describe_signal(m)),
                                signals_text(&self.created_signals),
                            )
                            .at(*line))
                        }
                    }
                }
            }
            CheckKind::SignalsCount(want) => {
                if self.created_signals.len() != *want {
                    return Err(fail(
                        format!("{} emitted by the step", plural(*want, "signal", "signals")),
                        signals_text(&self.created_signals),
                    ));
                }
            }
            CheckKind::Actions(a) => self.check_actions(engine, a, case_ref)?,
            CheckKind::View(v) => self.check_view(engine, v)?,
            CheckKind::ViewCount {
                name,
                viewer,
                count,
            } => {
                let cases = engine
                    .view(name, viewer)
                    .map_err(|e| engine_error(&format!("view `{name}` for {viewer}"), &e))?;
                if cases.len() != *count {
                    return Err(fail(
                        format!(
                            "view `{name}` for {viewer} to list {}",
                            plural(*count, "case", "cases")
                        ),
                        format!("{}: {}", cases.len(), self.case_list(&cases)),
                    ));
                }
            }
            CheckKind::Visible { viewer, visible } => {
                let id = self.resolve(case_ref)?;
                let name = self.case_name(id);
                let seen = match engine.get(id, Some(viewer)) {
                    Ok(_) => true,
                    Err(Error::NotFound { kind: "case", .. }) => false,
                    Err(e) => {
                        return Err(engine_error(
                            &format!("to ask whether {viewer} sees {name}"),
                            &e,
                        ))
                    }
                };
                if seen != *visible {
                    let word = |v: bool| if v { "visible to" } else { "hidden from" };
                    return Err(fail(
                        format!("{name} {} {viewer}", word(*visible)),
                        format!("it is {} {viewer}", word(seen)),
                    ));
                }
            }
            CheckKind::History(h) => self.check_history(engine, h, case_ref)?,
            CheckKind::Timers(want) => {
                let id = self.resolve(case_ref)?;
                let timers = engine
                    .timers(id)
                    .map_err(|e| engine_error("the case's timers", &e))?;
                let mut got: Vec<String> = timers.iter().map(|t| t.name.clone()).collect();
                let mut w = want.clone();
                got.sort();
                got.dedup();
                w.sort();
                w.dedup();
                if got != w {
                    let shown: Vec<String> = timers
                        .iter()
                        .map(|t| format!("{} (due {})", t.name, instant(t.due_at)))
                        .collect();
                    return Err(fail(
                        if want.is_empty() {
                            "no pending timers".to_owned()
                        } else {
                            format!("pending timers {}", list(want))
                        },
                        if shown.is_empty() {
                            "none".to_owned()
                        } else {
                            list(&shown)
                        },
                    ));
                }
            }
            CheckKind::TimerDue(due) => {
                let id = self.resolve(case_ref)?;
                let timers = engine
                    .timers(id)
                    .map_err(|e| engine_error("the case's timers", &e))?;
                for (name, at) in due {
                    match timers.iter().find(|t| t.name == *name) {
                        Some(t) if t.due_at == *at => {}
                        Some(t) => {
                            return Err(fail(
                                format!("timer `{name}` due at {}", instant(*at)),
                                format!("due at {}", instant(t.due_at)),
                            ))
                        }
                        None => {
                            let names: Vec<&str> = timers.iter().map(|t| t.name.as_str()).collect();
                            return Err(fail(
                                format!("timer `{name}` pending, due at {}", instant(*at)),
                                format!("no such timer (pending: {})", list(&names)),
                            ));
                        }
                    }
                }
            }
            CheckKind::Export(x) => check_export(engine, x)?,
            CheckKind::Cases {
                workflow,
                state,
                org,
                count,
            } => {
                let cases = engine
                    .cases(&CaseFilter {
                        workflow: workflow.clone(),
                        state: state.clone(),
                        org: org.clone(),
                        limit: None,
                    })
                    .map_err(|e| engine_error("the cases", &e))?;
                let mut filter = Vec::new();
                for (k, v) in [("workflow", workflow), ("state", state), ("org", org)] {
                    if let Some(v) = v {
                        filter.push(format!("{k} `{v}`"));
                    }
                }
                let filter = if filter.is_empty() {
                    String::new()
                } else {
                    format!(" with {}", filter.join(", "))
                };
                let ok = match count {
                    Some(n) => cases.len() == *n,
                    None => !cases.is_empty(),
                };
                if !ok {
                    return Err(fail(
                        match count {
                            Some(n) => format!("{}{filter}", plural(*n, "case", "cases")),
                            None => format!("at least one case{filter}"),
                        },
                        format!(
                            "{}: {}",
                            cases.len(),
                            list(
                                &cases
                                    .iter()
                                    .map(|c| self.case_name(c.id))
                                    .collect::<Vec<_>>()
                            )
                        ),
                    ));
                }
            }
            CheckKind::Linked {
                workflow,
                state,
                count,
                save,
            } => {
                let id = self.resolve(case_ref)?;
                let name = self.case_name(id);
                let cases: Vec<Case> = engine
                    .cases(&CaseFilter {
                        workflow: workflow.clone(),
                        ..CaseFilter::default()
                    })
                    .map_err(|e| engine_error("the cases", &e))?
                    .into_iter()
                    .filter(|c| c.parent == Some(id))
                    .collect();
                let matching: Vec<&Case> = cases
                    .iter()
                    .filter(|c| state.as_ref().is_none_or(|s| *s == c.state))
                    .collect();
                let ok = match count {
                    Some(n) => matching.len() == *n,
                    None => !matching.is_empty(),
                };
                let in_state = state
                    .as_ref()
                    .map(|s| format!(" in `{s}`"))
                    .unwrap_or_default();
                if !ok {
                    let shown: Vec<String> = cases
                        .iter()
                        .map(|c| format!("{} in `{}`", self.case_name(c.id), c.state))
                        .collect();
                    return Err(fail(
                        match count {
                            Some(n) => format!(
                                "{}{in_state} linked to {name}",
                                plural(*n, "case", "cases")
                            ),
                            None => format!("at least one case{in_state} linked to {name}"),
                        },
                        if shown.is_empty() {
                            "no linked case".to_owned()
                        } else {
                            format!("linked: {}", shown.join(", "))
                        },
                    ));
                }
                if let Some(save) = save {
                    match matching.as_slice() {
                        [one] => {
                            self.saved.insert(save.clone(), one.id);
                        }
                        many => {
                            return Err(fail(
                                format!("exactly one linked case{in_state} to save as `{save}`"),
                                format!("{}", many.len()),
                            ))
                        }
                    }
                }
            }
            CheckKind::Notes { count, contains } => {
                let id = self.resolve(case_ref)?;
                let notes: Vec<String> = engine
                    .notes(id, None)
                    .map_err(|e| engine_error("the case's notes", &e))?
                    .into_iter()
                    .map(|(_, text)| text)
                    .collect();
                let shown = || {
                    if notes.is_empty() {
                        "no notes".to_owned()
                    } else {
                        notes
                            .iter()
                            .map(|n| quote(n))
                            .collect::<Vec<_>>()
                            .join(", ")
                    }
                };
                if let Some(n) = count {
                    if notes.len() != *n {
                        return Err(fail(
                            plural(*n, "note", "notes"),
                            format!("{}: {}", notes.len(), shown()),
                        ));
                    }
                }
                for want in contains {
                    if !notes.iter().any(|n| contains_ci(n, want)) {
                        return Err(fail(format!("a note containing {}", quote(want)), shown()));
                    }
                }
            }
            CheckKind::Now(at) => {
                let now = engine.now();
                if now != *at {
                    return Err(fail(format!("the clock at {}", instant(*at)), instant(now)));
                }
            }
        }
        Ok(())
    }

    fn explain_notification(&self, m: &NotificationMatch, case: Option<i64>) -> String {
        let created = &self.created_notifications;
        if created.is_empty() {
            return "no notification was created by the step".to_owned();
        }
        // A notification to the right person with the right template that fails on its
        // contents: say which part.
        let close = created.iter().find(|n| {
            m.to.as_ref().is_none_or(|t| *t == n.to)
                && m.template.as_ref().is_none_or(|t| *t == n.template)
                && case.is_none_or(|c| n.case_id == Some(c))
        });
        if let Some(n) = close {
            let head = format!("the notification to {} ({})", n.to, n.template);
            for s in &m.subject_contains {
                if !contains_ci(&n.subject, s) {
                    return format!("{head} has the subject {}", quote(&n.subject));
                }
            }
            for s in &m.subject_excludes {
                if contains_ci(&n.subject, s) {
                    return format!("{head} has the subject {}", quote(&n.subject));
                }
            }
            for s in &m.body_contains {
                if !contains_ci(&n.body, s) {
                    return format!("{head} has a body without {}: {}", quote(s), quote(&n.body));
                }
            }
            for s in &m.body_excludes {
                if contains_ci(&n.body, s) {
                    return format!("{head} has a body with {}: {}", quote(s), quote(&n.body));
                }
            }
            if !subset(&m.data, &n.data) {
                return format!(
                    "{head} has the data {}",
                    json(&Value::Object(n.data.clone()))
                );
            }
        }
        notifications_text(created)
    }

    fn check_actions(
        &self,
        engine: &Engine,
        a: &ActionsCheck,
        case_ref: Option<&CaseRef>,
    ) -> Checked {
        let id = self.resolve(case_ref)?;
        let name = self.case_name(id);
        let got = engine
            .actions(id, &a.actor)
            .map_err(|e| engine_error(&format!("the actions {} may do on {name}", a.actor), &e))?;
        let shown = || {
            if got.is_empty() {
                format!("{} may do nothing on {name}", a.actor)
            } else {
                format!("{} may do {}", a.actor, list(&got))
            }
        };
        for want in &a.include {
            if !got.contains(want) {
                return Err(fail(
                    format!("{} may do `{want}` on {name}", a.actor),
                    shown(),
                ));
            }
        }
        for not in &a.exclude {
            if got.contains(not) {
                return Err(fail(
                    format!("{} may not do `{not}` on {name}", a.actor),
                    shown(),
                ));
            }
        }
        if let Some(exact) = &a.exactly {
            let (mut x, mut y) = (exact.clone(), got.clone());
            x.sort();
            y.sort();
            if x != y {
                return Err(fail(
                    format!("{} may do exactly {} on {name}", a.actor, list(exact)),
                    shown(),
                ));
            }
        }
        Ok(())
    }

    fn check_view(&self, engine: &Engine, v: &ViewCheck) -> Checked {
        let cases = engine
            .view(&v.name, &v.viewer)
            .map_err(|e| engine_error(&format!("view `{}` for {}", v.name, v.viewer), &e))?;
        let head = format!("view `{}` for {}", v.name, v.viewer);
        for r in &v.includes {
            let id = self.resolve(Some(r))?;
            if !cases.iter().any(|c| c.id == id) {
                return Err(fail(
                    format!("{head} to include {}", self.case_name(id)),
                    self.case_list(&cases),
                ));
            }
        }
        for r in &v.excludes {
            let id = self.resolve(Some(r))?;
            if cases.iter().any(|c| c.id == id) {
                return Err(fail(
                    format!("{head} not to include {}", self.case_name(id)),
                    self.case_list(&cases),
                ));
            }
        }
        if !v.order.is_empty() {
            let mut ids = Vec::with_capacity(v.order.len());
            for r in &v.order {
                let id = self.resolve(Some(r))?;
                if !cases.iter().any(|c| c.id == id) {
                    return Err(fail(
                        format!("{head} to include {}", self.case_name(id)),
                        self.case_list(&cases),
                    ));
                }
                ids.push(id);
            }
            let listed: Vec<i64> = cases
                .iter()
                .map(|c| c.id)
                .filter(|id| ids.contains(id))
                .collect();
            if listed != ids {
                let names = |v: &[i64]| {
                    v.iter()
                        .map(|id| self.case_name(*id))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                return Err(fail(
                    format!("{head} to list {} in that order", names(&ids)),
                    format!("{}; {}", names(&listed), self.case_list(&cases)),
                ));
            }
        }
        if let Some(n) = v.count {
            if cases.len() != n {
                return Err(fail(
                    format!("{head} to list {}", plural(n, "case", "cases")),
                    format!("{}: {}", cases.len(), self.case_list(&cases)),
                ));
            }
        }
        for (r, label) in &v.labels {
            let id = self.resolve(Some(r))?;
            let expected = format!("{head} to list {} as \"{label}\"", self.case_name(id));
            match cases.iter().find(|c| c.id == id) {
                None => return Err(fail(expected, self.case_list(&cases))),
                Some(c) if c.state_label != *label => {
                    return Err(fail(
                        expected,
                        format!("\"{}\" (state `{}`)", c.state_label, c.state),
                    ))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn check_history(
        &self,
        engine: &Engine,
        h: &HistoryCheck,
        case_ref: Option<&CaseRef>,
    ) -> Checked {
        let id = self.resolve(case_ref)?;
        let events = engine
            .history(id, None)
            .map_err(|e| engine_error("the case's history", &e))?;
        let summary = || {
            list(
                &events
                    .iter()
                    .map(|e| format!("{} by {}", e.action, e.actor))
                    .collect::<Vec<_>>(),
            )
        };
        if let Some(n) = h.count {
            if events.len() != n {
                return Err(fail(
                    format!("{} in the history", plural(n, "event", "events")),
                    format!("{}: {}", events.len(), summary()),
                ));
            }
        }
        if let Some(last) = &h.last {
            match events.last() {
                Some(e) if event_matches(last, e) => {}
                Some(e) => {
                    return Err(fail(
                        format!("the last event to be {}", describe_event(last)),
                        event_text(e),
                    ))
                }
                None => {
                    return Err(fail(
                        format!("the last event to be {}", describe_event(last)),
                        "an empty history",
                    ))
                }
            }
        }
        for want in &h.contains {
            if !events.iter().any(|e| event_matches(want, e)) {
                return Err(fail(
                    format!("an event {} in the history", describe_event(want)),
                    summary(),
                ));
            }
        }
        Ok(())
    }
}

fn all_notifications(engine: &Engine) -> Checked<Vec<Notification>> {
    engine
        .notifications(&NotificationFilter::default())
        .map_err(|e| engine_error("the notifications to be readable", &e))
}

fn max_id(ns: &[Notification]) -> i64 {
    ns.iter().map(|n| n.id).max().unwrap_or(0)
}

/// Timer firings that failed make the step fail: a workflow's timer script is broken.
fn timer_failures(r: Result<crate::engine::TickReport, Error>) -> Checked<Result<(), Error>> {
    match r {
        Ok(report) if !report.failed.is_empty() => Err(fail(
            "every due timer to fire",
            format!(
                "{} failed: {}",
                plural(report.failed.len(), "timer", "timers"),
                report.failed.join("; ")
            ),
        )),
        Ok(_) => Ok(Ok(())),
        Err(e) => Ok(Err(e)),
    }
}

fn check_error(want: &ExpectError, e: &Error) -> Checked {
    if let Some(kind) = &want.kind {
        if e.code() != kind {
            return Err(fail(format!("an error `{kind}`"), error_text(e)));
        }
    }
    if let Some(m) = &want.message {
        if !contains_ci(&e.to_string(), m) {
            return Err(fail(
                format!("an error message containing {}", quote(m)),
                error_text(e),
            ));
        }
    }
    if let Some(s) = &want.suggest {
        let got: Vec<String> = match e {
            Error::GuardRejected { suggest, .. } => suggest.clone(),
            _ => Vec::new(),
        };
        let (mut a, mut b) = (s.clone(), got.clone());
        a.sort();
        a.dedup();
        b.sort();
        b.dedup();
        if a != b {
            return Err(fail(
                format!("suggestions {}", list(s)),
                if got.is_empty() {
                    format!("no suggestions ({})", error_text(e))
                } else {
                    list(&got)
                },
            ));
        }
    }
    if let Some(f) = &want.field {
        let got = match e {
            Error::Validation { field, .. } => field.clone(),
            _ => None,
        };
        if got.as_deref() != Some(f.as_str()) {
            return Err(fail(
                format!("an error about field `{f}`"),
                match got {
                    Some(g) => format!("field `{g}` ({})", error_text(e)),
                    None => format!("no field ({})", error_text(e)),
                },
            ));
        }
    }
    Ok(())
}

fn check_export(engine: &Engine, x: &ExportCheck) -> Checked {
    let table = engine
        .export(&x.name, x.actor.as_deref())
        .map_err(|e| engine_error(&format!("export `{}`", x.name), &e))?;
    let rows_text = || {
        if table.rows.is_empty() {
            return "no rows".to_owned();
        }
        const MAX: usize = 6;
        let mut s: Vec<String> = table
            .rows
            .iter()
            .take(MAX)
            .map(|r| json(&Value::Object(r.clone())))
            .collect();
        if table.rows.len() > MAX {
            s.push(format!("… and {} more", table.rows.len() - MAX));
        }
        format!(
            "{}: {}",
            plural(table.rows.len(), "row", "rows"),
            s.join("; ")
        )
    };
    if let Some(n) = x.count {
        if table.rows.len() != n {
            return Err(fail(
                format!("export `{}` to have {}", x.name, plural(n, "row", "rows")),
                rows_text(),
            ));
        }
    }
    for want in &x.contains {
        if let Some((col, _)) = want.iter().find(|(c, _)| !table.columns.contains(c)) {
            return Err(fail(
                format!("export `{}` to have a column `{col}`", x.name),
                format!("columns {}", list(&table.columns)),
            ));
        }
        if !table.rows.iter().any(|r| subset(want, r)) {
            return Err(fail(
                format!(
                    "export `{}` to have a row with {}",
                    x.name,
                    pairs_text(want)
                ),
                rows_text(),
            ));
        }
    }
    for not in &x.excludes {
        if let Some(r) = table.rows.iter().find(|r| subset(not, r)) {
            return Err(fail(
                format!(
                    "export `{}` to have no row with {}",
                    x.name,
                    pairs_text(not)
                ),
                format!("the row {}", json(&Value::Object(r.clone()))),
            ));
        }
    }
    Ok(())
}

fn notification_matches(m: &NotificationMatch, case: Option<i64>, n: &Notification) -> bool {
    m.to.as_ref().is_none_or(|t| *t == n.to)
        && m.template.as_ref().is_none_or(|t| *t == n.template)
        && case.is_none_or(|c| n.case_id == Some(c))
        && m.subject_contains
            .iter()
            .all(|s| contains_ci(&n.subject, s))
        && !m
            .subject_excludes
            .iter()
            .any(|s| contains_ci(&n.subject, s))
        && m.body_contains.iter().all(|s| contains_ci(&n.body, s))
        && !m.body_excludes.iter().any(|s| contains_ci(&n.body, s))
        && subset(&m.data, &n.data)
}

fn describe_notification(m: &NotificationMatch) -> String {
    let mut s = "a notification".to_owned();
    if let Some(t) = &m.to {
        let _ = write!(s, " to {t}");
    }
    if let Some(t) = &m.template {
        let _ = write!(s, " with template `{t}`");
    }
    if let Some(c) = &m.case {
        let _ = write!(
            s,
            " about case {}",
            match c {
                CaseRef::Name(n) => n.clone(),
                CaseRef::Id(i) => format!("#{i}"),
            }
        );
    }
    let mut parts = Vec::new();
    for (what, items) in [
        ("subject containing", &m.subject_contains),
        ("subject without", &m.subject_excludes),
        ("body containing", &m.body_contains),
        ("body without", &m.body_excludes),
    ] {
        if !items.is_empty() {
            parts.push(format!(
                "{what} {}",
                items
                    .iter()
                    .map(|i| quote(i))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
        }
    }
    if !m.data.is_empty() {
        parts.push(format!("data {}", pairs_text(&m.data)));
    }
    if !parts.is_empty() {
        let _ = write!(s, " whose {}", parts.join(", "));
    }
    s
}

fn notification_text(n: &Notification) -> String {
    format!("to {} ({}): {}", n.to, n.template, quote(&n.subject))
}

fn notifications_text(ns: &[Notification]) -> String {
    if ns.is_empty() {
        return "no notification was created by the step".to_owned();
    }
    format!(
        "{}: {}",
        plural(ns.len(), "notification", "notifications"),
        ns.iter()
            .map(notification_text)
            .collect::<Vec<_>>()
            .join("; ")
    )
}

fn signal_matches(m: &SignalMatch, case: Option<i64>, s: &Signal) -> bool {
    m.kind.as_ref().is_none_or(|k| *k == s.kind)
        && case.is_none_or(|c| s.case_id == Some(c))
        && subset(&m.data, &s.data)
}

fn describe_signal(m: &SignalMatch) -> String {
    let mut s = "a signal".to_owned();
    if let Some(k) = &m.kind {
        let _ = write!(s, " `{k}`");
    }
    if !m.data.is_empty() {
        let _ = write!(s, " with data {}", pairs_text(&m.data));
    }
    s
}

fn signals_text(ss: &[Signal]) -> String {
    if ss.is_empty() {
        return "no signal was emitted by the step".to_owned();
    }
    format!(
        "{}: {}",
        plural(ss.len(), "signal", "signals"),
        ss.iter()
            .map(|s| format!("`{}` {}", s.kind, json(&Value::Object(s.data.clone()))))
            .collect::<Vec<_>>()
            .join("; ")
    )
}

fn event_matches(m: &EventMatch, e: &Event) -> bool {
    m.action.as_ref().is_none_or(|a| *a == e.action)
        && m.actor.as_ref().is_none_or(|a| *a == e.actor)
        && m.from.as_ref().is_none_or(|f| *f == e.from_state)
        && m.to.as_ref().is_none_or(|t| *t == e.to_state)
        && subset(&m.inputs, &e.inputs)
}

fn describe_event(m: &EventMatch) -> String {
    let mut parts = Vec::new();
    if let Some(a) = &m.action {
        parts.push(format!("action `{a}`"));
    }
    if let Some(a) = &m.actor {
        parts.push(format!("by {a}"));
    }
    match &m.from {
        Some(Some(f)) => parts.push(format!("from `{f}`")),
        Some(None) => parts.push("starting the case".to_owned()),
        None => {}
    }
    if let Some(t) = &m.to {
        parts.push(format!("to `{t}`"));
    }
    if !m.inputs.is_empty() {
        parts.push(format!("with inputs {}", pairs_text(&m.inputs)));
    }
    if parts.is_empty() {
        "any event".to_owned()
    } else {
        parts.join(" ")
    }
}

fn event_text(e: &Event) -> String {
    let from = e.from_state.as_deref().unwrap_or("(start)");
    let mut s = format!(
        "action `{}` by {} from `{from}` to `{}`",
        e.action, e.actor, e.to_state
    );
    if !e.inputs.is_empty() {
        let _ = write!(s, " with inputs {}", json(&Value::Object(e.inputs.clone())));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_compare_loosely_where_it_helps() {
        assert!(same_value(&json!(1), &json!(1.0)));
        assert!(same_value(
            &json!("2026-11-20T11:00:00+01:00"),
            &json!("2026-11-20T10:00:00Z")
        ));
        assert!(!same_value(&json!("1"), &json!(1)));
        assert!(!same_value(&json!([1, 2]), &json!([2, 1])));
        assert!(same_value(&json!({"a": [1]}), &json!({"a": [1.0]})));
    }

    #[test]
    fn subsets_treat_null_as_absent() {
        let row = json!({"a": 1, "b": null});
        let Value::Object(row) = row else {
            return;
        };
        assert!(subset(&[("a".into(), json!(1))], &row));
        assert!(subset(&[("b".into(), Value::Null)], &row));
        assert!(subset(&[("c".into(), Value::Null)], &row));
        assert!(!subset(&[("a".into(), Value::Null)], &row));
        assert!(!subset(&[("c".into(), json!(0))], &row));
    }

    #[test]
    fn temp_databases_are_unique_and_removed() {
        let a = TempDb::new().ok();
        let b = TempDb::new().ok();
        let (Some(a), Some(b)) = (a, b) else {
            panic!("no temporary files");
        };
        assert_ne!(a.path, b.path);
        let p = a.path.clone();
        assert!(p.exists());
        drop(a);
        assert!(!p.exists());
    }
}
