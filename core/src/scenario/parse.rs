//! Reading a scenario file into its model. Every key is checked: an unknown key anywhere
//! (top level, a step, `expect`, `error`, a matcher) is an error naming the key, its line and
//! the keys allowed there, so a typo never silently passes.

use chrono::{DateTime, NaiveDate, Utc, Weekday};
use serde_json::{Map, Value};

use crate::definition::describe_value;
use crate::directory::{Org, OrgPatch, Person, PersonPatch};
use crate::time::{parse_instant, Span};
use crate::yaml::{self, child_path, index_path, Pos, Spans};

/// A problem in the scenario file itself (before anything runs).
#[derive(Debug, Clone)]
pub(crate) struct ParseError {
    pub pos: Pos,
    pub expected: String,
    pub actual: String,
}

pub(crate) type PResult<T> = Result<T, ParseError>;

/// A whole scenario file.
#[derive(Debug, Clone)]
pub(crate) struct Scenario {
    pub name: String,
    pub workflows: Option<String>,
    pub body: Body,
}

#[derive(Debug, Clone)]
pub(crate) enum Body {
    Story(Story),
    Invalid(InvalidDefinition),
}

/// A story: a start time, a directory and steps.
#[derive(Debug, Clone)]
pub(crate) struct Story {
    pub start: DateTime<Utc>,
    pub orgs: Vec<(Org, Pos)>,
    pub people: Vec<(Person, Pos)>,
    pub steps: Vec<Step>,
}

/// A definition that must fail to load with exactly these problems.
#[derive(Debug, Clone)]
pub(crate) struct InvalidDefinition {
    pub text: String,
    pub errors: Vec<ExpectedProblem>,
    pub errors_pos: Pos,
}

#[derive(Debug, Clone)]
pub(crate) struct ExpectedProblem {
    pub line: usize,
    pub column: Option<usize>,
    pub message: String,
    pub path: Option<String>,
    pub pos: Pos,
}

/// One step of a story.
#[derive(Debug, Clone)]
pub(crate) struct Step {
    /// 1-based.
    pub number: usize,
    pub line: usize,
    pub label: String,
    pub kind: StepKind,
    pub expect: Option<Expect>,
    pub error: Option<ExpectError>,
}

#[derive(Debug, Clone)]
pub(crate) enum StepKind {
    Start {
        workflow: String,
        actor: String,
        action: Option<String>,
        org: Option<String>,
        data: Map<String, Value>,
        inputs: Map<String, Value>,
        save: Option<String>,
    },
    Act {
        action: String,
        case: Option<CaseRef>,
        actor: String,
        inputs: Map<String, Value>,
        revision: Option<u64>,
        save: Option<String>,
    },
    Advance(Span),
    AdvanceTo(DateTime<Utc>),
    Tick,
    /// Close the engine, let this much time pass while it is down (timers do not fire), and
    /// reopen it on the same file.
    Restart(Option<Span>),
    PutPerson(PersonPatch),
    PutOrg(OrgPatch),
    RemovePerson(String),
    /// Replay a recorded history against the loaded definition.
    Replay(ReplayStep),
    Expect,
}

/// A `replay:` step: one recorded case, replayed against a version of its workflow.
#[derive(Debug, Clone)]
pub(crate) struct ReplayStep {
    pub workflow: String,
    pub version: Option<u32>,
    pub org: Option<String>,
    pub history: RecordedHistory,
    pub diverges: Option<ExpectDivergence>,
}

/// Where the recorded events are.
#[derive(Debug, Clone)]
pub(crate) enum RecordedHistory {
    /// Written in the scenario file (`history:`), at this line.
    Inline(Value, usize),
    /// A JSON file, relative to the scenario file (`file:`).
    File(String, usize),
}

/// `diverges:`: the replay must stop at this divergence.
#[derive(Debug, Clone)]
pub(crate) struct ExpectDivergence {
    pub event: Option<u64>,
    pub kind: Option<String>,
    pub message: Option<String>,
    pub line: usize,
}

/// A case named in a step: a saved name or a numeric id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CaseRef {
    Name(String),
    Id(i64),
}

/// How a step must fail.
#[derive(Debug, Clone)]
pub(crate) struct ExpectError {
    pub line: usize,
    pub kind: Option<String>,
    pub message: Option<String>,
    pub suggest: Option<Vec<String>>,
    pub field: Option<String>,
}

/// The `expect:` block of a step.
#[derive(Debug, Clone)]
pub(crate) struct Expect {
    pub case: Option<CaseRef>,
    pub checks: Vec<Check>,
}

/// One expectation, with the line it is written on.
#[derive(Debug, Clone)]
pub(crate) struct Check {
    pub line: usize,
    pub kind: CheckKind,
}

#[derive(Debug, Clone)]
pub(crate) enum CheckKind {
    State(String),
    StateLabel(String),
    Open(bool),
    Fields(Vec<(String, Value)>),
    Participants(Vec<(String, Vec<String>)>),
    TagsInclude(Vec<String>),
    TagsExclude(Vec<String>),
    Notified(Vec<(NotificationMatch, usize)>),
    NotNotified(Vec<(NotificationMatch, usize)>),
    NotifiedCount(usize),
    Signals(Vec<(SignalMatch, usize)>),
    SignalsCount(usize),
    Actions(ActionsCheck),
    View(ViewCheck),
    ViewCount {
        name: String,
        viewer: String,
        count: usize,
    },
    Visible {
        viewer: String,
        visible: bool,
    },
    History(HistoryCheck),
    Timers(Vec<String>),
    TimerDue(Vec<(String, DateTime<Utc>)>),
    Export(ExportCheck),
    Cases {
        workflow: Option<String>,
        state: Option<String>,
        org: Option<String>,
        count: Option<usize>,
    },
    Linked {
        workflow: Option<String>,
        state: Option<String>,
        count: Option<usize>,
        save: Option<String>,
    },
    Notes {
        count: Option<usize>,
        contains: Vec<String>,
    },
    Now(DateTime<Utc>),
}

/// Criteria a notification must meet (all of them).
#[derive(Debug, Clone, Default)]
pub(crate) struct NotificationMatch {
    pub to: Option<String>,
    pub template: Option<String>,
    pub case: Option<CaseRef>,
    pub subject_contains: Vec<String>,
    pub subject_excludes: Vec<String>,
    pub body_contains: Vec<String>,
    pub body_excludes: Vec<String>,
    pub data: Vec<(String, Value)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct SignalMatch {
    pub kind: Option<String>,
    pub case: Option<CaseRef>,
    pub data: Vec<(String, Value)>,
}

#[derive(Debug, Clone)]
pub(crate) struct ActionsCheck {
    pub actor: String,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub exactly: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct ViewCheck {
    pub name: String,
    pub viewer: String,
    pub includes: Vec<CaseRef>,
    pub excludes: Vec<CaseRef>,
    /// Cases the view must list in this order (others may come between them).
    pub order: Vec<CaseRef>,
    pub count: Option<usize>,
    /// Cases the view must list with this status (`labels: { req: To-Do }`).
    pub labels: Vec<(CaseRef, String)>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct EventMatch {
    pub action: Option<String>,
    pub actor: Option<String>,
    pub from: Option<Option<String>>,
    pub to: Option<String>,
    pub inputs: Vec<(String, Value)>,
}

#[derive(Debug, Clone)]
pub(crate) struct HistoryCheck {
    pub count: Option<usize>,
    pub last: Option<EventMatch>,
    pub contains: Vec<EventMatch>,
}

#[derive(Debug, Clone)]
pub(crate) struct ExportCheck {
    pub name: String,
    pub actor: Option<String>,
    pub count: Option<usize>,
    pub contains: Vec<Vec<(String, Value)>>,
    pub excludes: Vec<Vec<(String, Value)>>,
}

// ---- keys ---------------------------------------------------------------------------------

const TOP_KEYS: &[&str] = &[
    "name",
    "description",
    "workflows",
    "start",
    "orgs",
    "people",
    "steps",
    "definition",
    "errors",
];
const STEP_VERBS: &[&str] = &[
    "start",
    "act",
    "advance",
    "advance_to",
    "tick",
    "restart",
    "put_person",
    "put_org",
    "remove_person",
    "replay",
];
const REPLAY_KEYS: &[&str] = &[
    "replay", "version", "org", "history", "file", "diverges", "note",
];
const DIVERGES_KEYS: &[&str] = &["event", "kind", "message"];
/// The kinds of [`crate::DivergenceKind`], as written.
pub(crate) const DIVERGENCE_KINDS: &[&str] = &[
    "refused",
    "state",
    "notifications",
    "effects",
    "action",
    "extra_event",
];
const START_KEYS: &[&str] = &[
    "start", "as", "action", "org", "data", "inputs", "save", "expect", "error", "note",
];
const ACT_KEYS: &[&str] = &[
    "act", "case", "as", "inputs", "revision", "save", "expect", "error", "note",
];
const CLOCK_KEYS: &[&str] = &["expect", "note"];
const DIRECTORY_KEYS: &[&str] = &["expect", "error", "note"];
const ERROR_KEYS: &[&str] = &["kind", "message", "suggest", "field"];
const ERROR_KINDS: &[&str] = &[
    "validation",
    "guard_rejected",
    "not_permitted",
    "not_found",
    "conflict",
    "script",
    "definition",
    "storage",
];
const EXPECT_KEYS: &[&str] = &[
    "case",
    "state",
    "state_label",
    "open",
    "fields",
    "participants",
    "tags_include",
    "tags_exclude",
    "notified",
    "not_notified",
    "notified_count",
    "signals",
    "signals_count",
    "actions",
    "view",
    "view_count",
    "visible",
    "history",
    "timers",
    "timer_due",
    "export",
    "cases",
    "linked",
    "notes",
    "now",
];
const NOTIFICATION_KEYS: &[&str] = &[
    "to",
    "template",
    "case",
    "subject_contains",
    "subject_excludes",
    "body_contains",
    "body_excludes",
    "data",
];
const SIGNAL_KEYS: &[&str] = &["kind", "case", "data"];
const ACTIONS_KEYS: &[&str] = &["as", "include", "exclude", "exactly"];
const VIEW_KEYS: &[&str] = &[
    "name", "as", "includes", "excludes", "order", "count", "labels",
];
const VIEW_COUNT_KEYS: &[&str] = &["name", "as", "count"];
const VISIBLE_KEYS: &[&str] = &["as", "visible"];
const HISTORY_KEYS: &[&str] = &["count", "last", "contains"];
const EVENT_KEYS: &[&str] = &["action", "actor", "from", "to", "inputs"];
const EXPORT_KEYS: &[&str] = &["name", "as", "count", "contains", "excludes"];
const CASES_KEYS: &[&str] = &["workflow", "state", "org", "count"];
const LINKED_KEYS: &[&str] = &["workflow", "state", "count", "save"];
const NOTES_KEYS: &[&str] = &["count", "contains"];
const ORG_KEYS: &[&str] = &["name", "timezone", "weekend", "holidays", "settings"];
const PUT_ORG_KEYS: &[&str] = &["id", "name", "timezone", "weekend", "holidays", "settings"];
/// The built-in keys of a person (every other key is an attribute).
const PERSON_KEYS: &[&str] = &["name", "email", "org", "roles"];
const INVALID_KEYS: &[&str] = &["line", "column", "message", "path"];

/// A "did you mean" hint for an unknown name.
pub(crate) fn hint(name: &str, known: &[&str]) -> String {
    crate::suggest::did_you_mean(name, known.iter().copied())
}

fn list_keys(keys: &[&str]) -> String {
    keys.iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// How a value reads in "got ..." messages.
pub(crate) fn describe(v: &Value) -> String {
    describe_value(v)
}

// ---- the reader ---------------------------------------------------------------------------

/// Reads values out of the parsed YAML, with positions for every problem.
pub(crate) struct Reader<'a> {
    pub spans: &'a Spans,
}

impl Reader<'_> {
    pub fn line(&self, path: &str) -> usize {
        self.spans.nearest(path).line
    }

    /// The position of the key at `path` (or of its value when it has no key).
    pub fn key_line(&self, path: &str) -> usize {
        self.spans
            .key(path)
            .unwrap_or_else(|| self.spans.nearest(path))
            .line
    }

    fn err(
        &self,
        path: &str,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> ParseError {
        ParseError {
            pos: self.spans.nearest(path),
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    fn key_err(
        &self,
        path: &str,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> ParseError {
        ParseError {
            pos: self
                .spans
                .key(path)
                .unwrap_or_else(|| self.spans.nearest(path)),
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    fn map<'v>(&self, v: &'v Value, path: &str, what: &str) -> PResult<&'v Map<String, Value>> {
        match v {
            Value::Object(m) => Ok(m),
            other => Err(self.err(path, format!("{what} to be a map"), describe(other))),
        }
    }

    /// Every key of `m` must be one of `allowed`.
    fn keys(
        &self,
        m: &Map<String, Value>,
        path: &str,
        allowed: &[&str],
        what: &str,
    ) -> PResult<()> {
        for k in m.keys() {
            if !allowed.contains(&k.as_str()) {
                return Err(self.key_err(
                    &child_path(path, k),
                    format!("a key of {what} ({})", list_keys(allowed)),
                    format!("unknown key `{k}`{}", hint(k, allowed)),
                ));
            }
        }
        Ok(())
    }

    /// An optional id under `key` of `m`; `at` gives a key's path.
    fn opt_id(
        &self,
        m: &Map<String, Value>,
        at: &dyn Fn(&str) -> String,
        key: &str,
    ) -> PResult<Option<String>> {
        m.get(key)
            .map(|v| self.id(v, &at(key), &format!("`{key}`")))
            .transpose()
    }

    /// An optional count under `key` of `m`; `at` gives a key's path.
    fn opt_count(
        &self,
        m: &Map<String, Value>,
        at: &dyn Fn(&str) -> String,
        key: &str,
    ) -> PResult<Option<usize>> {
        m.get(key)
            .map(|v| self.count(v, &at(key), &format!("`{key}`")))
            .transpose()
    }

    /// A name or id: a string, or a whole number written without quotes.
    fn id(&self, v: &Value, path: &str, what: &str) -> PResult<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.clone()),
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(n.to_string()),
            other => Err(self.err(path, format!("{what} (a name)"), describe(other))),
        }
    }

    fn text(&self, v: &Value, path: &str, what: &str) -> PResult<String> {
        match v {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            other => Err(self.err(path, format!("{what} (text)"), describe(other))),
        }
    }

    fn opt_text(&self, v: &Value, path: &str, what: &str) -> PResult<Option<String>> {
        if v.is_null() {
            Ok(None)
        } else {
            self.text(v, path, what).map(Some)
        }
    }

    /// One string or a list of strings.
    fn texts(&self, v: &Value, path: &str, what: &str) -> PResult<Vec<String>> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, it)| self.text(it, &index_path(path, i), what))
                .collect(),
            Value::Null => Ok(Vec::new()),
            other => self.text(other, path, what).map(|s| vec![s]),
        }
    }

    /// One id or a list of ids.
    fn ids(&self, v: &Value, path: &str, what: &str) -> PResult<Vec<String>> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, it)| self.id(it, &index_path(path, i), what))
                .collect(),
            Value::Null => Ok(Vec::new()),
            other => self.id(other, path, what).map(|s| vec![s]),
        }
    }

    fn count(&self, v: &Value, path: &str, what: &str) -> PResult<usize> {
        v.as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| self.err(path, format!("{what} (a whole number ≥ 0)"), describe(v)))
    }

    fn bool(&self, v: &Value, path: &str, what: &str) -> PResult<bool> {
        v.as_bool()
            .ok_or_else(|| self.err(path, format!("{what} (true or false)"), describe(v)))
    }

    fn instant(&self, v: &Value, path: &str, what: &str) -> PResult<DateTime<Utc>> {
        let s = self.text(v, path, what)?;
        parse_instant(&s).map_err(|e| self.err(path, format!("{what} (a date and time)"), e))
    }

    fn object(&self, v: &Value, path: &str, what: &str) -> PResult<Map<String, Value>> {
        match v {
            Value::Null => Ok(Map::new()),
            Value::Object(m) => Ok(m.clone()),
            other => Err(self.err(
                path,
                format!("{what} to be a map of names to values"),
                describe(other),
            )),
        }
    }

    /// A map whose keys are names and values expected values, in source order.
    fn pairs(&self, v: &Value, path: &str, what: &str) -> PResult<Vec<(String, Value)>> {
        Ok(self
            .map(v, path, what)?
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn case_ref(&self, v: &Value, path: &str) -> PResult<CaseRef> {
        match v {
            Value::Number(n) => n
                .as_i64()
                .map(CaseRef::Id)
                .ok_or_else(|| self.err(path, "a case (a saved name or a case id)", describe(v))),
            Value::String(s) if !s.trim().is_empty() => Ok(CaseRef::Name(s.clone())),
            other => Err(self.err(path, "a case (a saved name or a case id)", describe(other))),
        }
    }

    fn case_refs(&self, v: &Value, path: &str) -> PResult<Vec<CaseRef>> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, it)| self.case_ref(it, &index_path(path, i)))
                .collect(),
            Value::Null => Ok(Vec::new()),
            other => self.case_ref(other, path).map(|c| vec![c]),
        }
    }

    /// A required key.
    fn need<'v>(
        &self,
        m: &'v Map<String, Value>,
        path: &str,
        key: &str,
        what: &str,
    ) -> PResult<&'v Value> {
        m.get(key).ok_or_else(|| {
            self.err(
                path,
                format!("`{key}:` in {what}"),
                format!("no `{key}` (keys given: {})", {
                    let given: Vec<&str> = m.keys().map(String::as_str).collect();
                    if given.is_empty() {
                        "none".to_owned()
                    } else {
                        list_keys(&given)
                    }
                }),
            )
        })
    }

    /// A map or a list of maps, each read by `f` with its path.
    fn one_or_many<T>(
        &self,
        v: &Value,
        path: &str,
        mut f: impl FnMut(&Value, &str) -> PResult<T>,
    ) -> PResult<Vec<(T, usize)>> {
        match v {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, it)| {
                    let p = index_path(path, i);
                    f(it, &p).map(|t| (t, self.line(&p)))
                })
                .collect(),
            other => f(other, path).map(|t| vec![(t, self.key_line(path))]),
        }
    }
}

// ---- the file -----------------------------------------------------------------------------

/// What could be read of a file that failed to parse: its name when there is one, and the
/// step the problem is in (0 outside the steps) with its label.
#[derive(Debug, Clone)]
pub(crate) struct FileError {
    pub name: Option<String>,
    pub step: usize,
    pub label: String,
    pub error: ParseError,
    pub steps_total: usize,
}

/// Parse a scenario file's text.
pub(crate) fn parse(text: &str) -> Result<(Scenario, Spans), Box<FileError>> {
    let (root, spans) = yaml::parse(text).map_err(|e| {
        Box::new(FileError {
            name: None,
            step: 0,
            label: "setup".into(),
            error: ParseError {
                pos: e.pos,
                expected: "valid YAML".into(),
                actual: e.message,
            },
            steps_total: 0,
        })
    })?;
    let r = Reader { spans: &spans };
    let name = match &root {
        Value::Object(m) => m.get("name").and_then(Value::as_str).map(str::to_owned),
        _ => None,
    };
    let fail = |step: usize, label: String, error: ParseError, total: usize| {
        Box::new(FileError {
            name: name.clone(),
            step,
            label,
            error,
            steps_total: total,
        })
    };
    let top = r
        .map(&root, "", "a scenario file")
        .map_err(|e| fail(0, "setup".into(), e, 0))?;
    let is_invalid = top.contains_key("definition") || top.contains_key("errors");
    let label0 = if is_invalid { "definition" } else { "setup" };
    let setup = |res: PResult<()>| res.map_err(|e| fail(0, label0.into(), e, 0));
    setup(r.keys(top, "", TOP_KEYS, "a scenario file"))?;
    let name_value = r
        .need(top, "", "name", "a scenario file")
        .and_then(|v| r.text(v, "name", "`name`"))
        .map_err(|e| fail(0, label0.into(), e, 0))?;
    if name_value.trim().is_empty() || name_value.contains('\n') {
        return Err(fail(
            0,
            label0.into(),
            r.err(
                "name",
                "`name` to be one line of text",
                format!("{name_value:?}"),
            ),
            0,
        ));
    }
    if let Some(d) = top.get("description") {
        setup(r.opt_text(d, "description", "`description`").map(|_| ()))?;
    }
    let workflows = match top.get("workflows") {
        Some(v) => Some(
            r.text(v, "workflows", "`workflows` (a folder)")
                .map_err(|e| fail(0, label0.into(), e, 0))?,
        ),
        None => None,
    };
    if is_invalid {
        for k in ["steps", "start", "orgs", "people", "workflows"] {
            if top.contains_key(k) {
                return Err(fail(
                    0,
                    label0.into(),
                    r.key_err(
                        k,
                        "either `steps` (a story) or `definition` + `errors` (an invalid definition)",
                        format!("`{k}` next to `definition`/`errors`"),
                    ),
                    0,
                ));
            }
        }
        let inv = invalid(&r, top).map_err(|e| fail(0, label0.into(), e, 0))?;
        return Ok((
            Scenario {
                name: name_value,
                workflows,
                body: Body::Invalid(inv),
            },
            spans,
        ));
    }
    let start = r
        .need(top, "", "start", "a scenario file")
        .and_then(|v| r.instant(v, "start", "`start`"))
        .map_err(|e| fail(0, label0.into(), e, 0))?;
    let orgs = match top.get("orgs") {
        Some(v) => orgs(&r, v).map_err(|e| fail(0, label0.into(), e, 0))?,
        None => Vec::new(),
    };
    let people = match top.get("people") {
        Some(v) => people(&r, v).map_err(|e| fail(0, label0.into(), e, 0))?,
        None => Vec::new(),
    };
    let steps_value = r
        .need(top, "", "steps", "a scenario file")
        .map_err(|e| fail(0, label0.into(), e, 0))?;
    let Value::Array(items) = steps_value else {
        return Err(fail(
            0,
            label0.into(),
            r.err(
                "steps",
                "`steps` to be a list of steps",
                describe(steps_value),
            ),
            0,
        ));
    };
    if items.is_empty() {
        return Err(fail(
            0,
            label0.into(),
            r.err("steps", "at least one step", "an empty list"),
            0,
        ));
    }
    let total = items.len();
    let mut steps = Vec::with_capacity(total);
    for (i, item) in items.iter().enumerate() {
        let path = index_path("steps", i);
        let label = step_label(item);
        let s = step(&r, item, &path, i + 1, label.clone())
            .map_err(|e| fail(i + 1, label, e, total))?;
        steps.push(s);
    }
    Ok((
        Scenario {
            name: name_value,
            workflows,
            body: Body::Story(Story {
                start,
                orgs,
                people,
                steps,
            }),
        },
        spans,
    ))
}

fn invalid(r: &Reader<'_>, top: &Map<String, Value>) -> PResult<InvalidDefinition> {
    let text = r
        .need(top, "", "definition", "an invalid-definition file")
        .and_then(|v| {
            r.text(
                v,
                "definition",
                "`definition` (the workflow YAML as a block `|`)",
            )
        })?;
    let errors_value = r.need(top, "", "errors", "an invalid-definition file")?;
    let Value::Array(items) = errors_value else {
        return Err(r.err(
            "errors",
            "`errors` to be a list of { line, column, message }",
            describe(errors_value),
        ));
    };
    if items.is_empty() {
        return Err(r.err(
            "errors",
            "at least one expected problem (a definition that loads is not a failure case)",
            "an empty list",
        ));
    }
    let mut errors = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = index_path("errors", i);
        let m = r.map(item, &path, "an expected problem")?;
        r.keys(m, &path, INVALID_KEYS, "an expected problem")?;
        let line_path = child_path(&path, "line");
        let line = r.count(
            r.need(m, &path, "line", "an expected problem")?,
            &line_path,
            "`line`",
        )?;
        let column = match m.get("column") {
            Some(v) => Some(r.count(v, &child_path(&path, "column"), "`column`")?),
            None => None,
        };
        let message = r.text(
            r.need(m, &path, "message", "an expected problem")?,
            &child_path(&path, "message"),
            "`message`",
        )?;
        let problem_path = match m.get("path") {
            Some(v) => Some(r.text(v, &child_path(&path, "path"), "`path`")?),
            None => None,
        };
        errors.push(ExpectedProblem {
            line,
            column,
            message,
            path: problem_path,
            pos: r.spans.nearest(&path),
        });
    }
    Ok(InvalidDefinition {
        text,
        errors,
        errors_pos: r
            .spans
            .key("errors")
            .unwrap_or_else(|| r.spans.nearest("errors")),
    })
}

fn weekday(r: &Reader<'_>, v: &Value, path: &str) -> PResult<Weekday> {
    let s = r.text(v, path, "a weekday")?;
    s.trim()
        .parse::<Weekday>()
        .map_err(|_| r.err(path, "a weekday (Mon, Tue, …, Sun)", format!("{s:?}")))
}

fn date(r: &Reader<'_>, v: &Value, path: &str) -> PResult<NaiveDate> {
    let s = r.text(v, path, "a date")?;
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .map_err(|_| r.err(path, "a date written YYYY-MM-DD", format!("{s:?}")))
}

/// The keys of an organisation (setup or `put_org`).
fn org_patch(r: &Reader<'_>, id: String, m: &Map<String, Value>, path: &str) -> PResult<OrgPatch> {
    let mut o = OrgPatch {
        id,
        ..OrgPatch::default()
    };
    if let Some(v) = m.get("name") {
        o.name = Some(r.opt_text(v, &child_path(path, "name"), "`name`")?);
    }
    if let Some(v) = m.get("timezone") {
        o.timezone = Some(r.text(
            v,
            &child_path(path, "timezone"),
            "`timezone` (e.g. Europe/Paris)",
        )?);
    }
    if let Some(v) = m.get("weekend") {
        let p = child_path(path, "weekend");
        let items = match v {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        o.weekend = Some(
            items
                .iter()
                .enumerate()
                .map(|(i, it)| weekday(r, it, &index_path(&p, i)))
                .collect::<PResult<_>>()?,
        );
    }
    if let Some(v) = m.get("holidays") {
        let p = child_path(path, "holidays");
        let items = match v {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        };
        o.holidays = Some(
            items
                .iter()
                .enumerate()
                .map(|(i, it)| date(r, it, &index_path(&p, i)))
                .collect::<PResult<_>>()?,
        );
    }
    if let Some(v) = m.get("settings") {
        o.settings = r.object(v, &child_path(path, "settings"), "`settings`")?;
    }
    Ok(o)
}

fn orgs(r: &Reader<'_>, v: &Value) -> PResult<Vec<(Org, Pos)>> {
    let m = r.map(v, "orgs", "`orgs` (organisation id → its settings)")?;
    let mut out = Vec::new();
    for (id, body) in m {
        let path = child_path("orgs", id);
        let empty = Map::new();
        let om = match body {
            Value::Null => &empty,
            other => r.map(other, &path, &format!("organisation `{id}`"))?,
        };
        r.keys(om, &path, ORG_KEYS, &format!("organisation `{id}`"))?;
        let patch = org_patch(r, id.clone(), om, &path)?;
        let pos = r.spans.key(&path).unwrap_or_else(|| r.spans.nearest(&path));
        out.push((patch.apply(None), pos));
    }
    Ok(out)
}

/// The keys of a person: id/name/email/org/roles, everything else an attribute.
fn person_patch(
    r: &Reader<'_>,
    id: String,
    m: &Map<String, Value>,
    path: &str,
) -> PResult<PersonPatch> {
    let mut p = PersonPatch {
        id,
        ..PersonPatch::default()
    };
    for (k, v) in m {
        let kp = child_path(path, k);
        match k.as_str() {
            "id" => {}
            "name" => p.name = Some(r.opt_text(v, &kp, "`name`")?),
            "email" => p.email = Some(r.opt_text(v, &kp, "`email`")?),
            "org" => {
                p.org = Some(if v.is_null() {
                    None
                } else {
                    Some(r.id(v, &kp, "`org` (an organisation id)")?)
                });
            }
            "roles" => p.roles = Some(r.ids(v, &kp, "`roles` (directory roles)")?),
            _ => {
                // Every other key is an attribute; one a letter away from a built-in key is
                // almost surely a typo (`role:` for `roles:`), which would silently pass.
                if let Some(builtin) = PERSON_KEYS
                    .iter()
                    .find(|b| crate::suggest::edits(k, b) <= 1 || k.eq_ignore_ascii_case(b))
                {
                    return Err(r.key_err(
                        &kp,
                        format!(
                            "`{builtin}` or an attribute name that does not look like it (`name`, `email`, `org` and `roles` are built in)"
                        ),
                        format!("`{k}`; did you mean `{builtin}`?"),
                    ));
                }
                p.attributes.insert(k.clone(), v.clone());
            }
        }
    }
    Ok(p)
}

fn people(r: &Reader<'_>, v: &Value) -> PResult<Vec<(Person, Pos)>> {
    let m = r.map(
        v,
        "people",
        "`people` (person id → name, org, roles, attributes)",
    )?;
    let mut out = Vec::new();
    for (id, body) in m {
        let path = child_path("people", id);
        let empty = Map::new();
        let pm = match body {
            Value::Null => &empty,
            other => r.map(other, &path, &format!("person `{id}`"))?,
        };
        if let Some(v) = pm.get("id") {
            if v.as_str() != Some(id.as_str()) {
                return Err(r.err(
                    &child_path(&path, "id"),
                    format!("no `id` (the key `{id}` is the id) or the same id"),
                    describe(v),
                ));
            }
        }
        let patch = person_patch(r, id.clone(), pm, &path)?;
        let pos = r.spans.key(&path).unwrap_or_else(|| r.spans.nearest(&path));
        out.push((patch.apply(None), pos));
    }
    Ok(out)
}

/// A short label for a step ("act assign as cody"), readable even when the step is broken.
fn step_label(v: &Value) -> String {
    let Value::Object(m) = v else {
        return "step".into();
    };
    let s = |k: &str| -> String {
        match m.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Object(o)) => o
                .get("id")
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    };
    let verb = STEP_VERBS.iter().find(|k| m.contains_key(**k));
    let mut label = match verb {
        Some(&"tick") => "tick".to_owned(),
        Some(&"restart") => "restart".to_owned(),
        Some(verb) => format!("{verb} {}", s(verb)).trim().to_owned(),
        None if m.contains_key("expect") => "expect".to_owned(),
        None => "step".to_owned(),
    };
    if matches!(verb, Some(&"start" | &"act")) {
        let actor = s("as");
        if !actor.is_empty() {
            label.push_str(" as ");
            label.push_str(&actor);
        }
    }
    label
}

fn step(r: &Reader<'_>, v: &Value, path: &str, number: usize, label: String) -> PResult<Step> {
    let m = r.map(v, path, "a step")?;
    let verbs: Vec<&str> = STEP_VERBS
        .iter()
        .copied()
        .filter(|k| m.contains_key(*k))
        .collect();
    let verb = match verbs.as_slice() {
        [] => {
            if !m.contains_key("expect") {
                // Point at the first unknown key when there is one: it is likely a typo.
                if let Some(k) = m.keys().find(|k| !CLOCK_KEYS.contains(&k.as_str())) {
                    let mut known: Vec<&str> = STEP_VERBS.to_vec();
                    known.push("expect");
                    return Err(r.key_err(
                        &child_path(path, k),
                        format!("a step: one of {}", list_keys(&known)),
                        format!("unknown key `{k}`{}", hint(k, &known)),
                    ));
                }
                return Err(r.err(
                    path,
                    format!("a step: one of {} or `expect`", list_keys(STEP_VERBS)),
                    "a step without any of them",
                ));
            }
            "expect"
        }
        [one] => *one,
        many => {
            return Err(r.err(
                path,
                "one thing per step",
                format!(
                    "{} in one step; split it into several steps",
                    list_keys(many)
                ),
            ))
        }
    };
    let allowed: &[&str] = match verb {
        "start" => START_KEYS,
        "act" => ACT_KEYS,
        "put_person" | "put_org" | "remove_person" => DIRECTORY_KEYS,
        "replay" => REPLAY_KEYS,
        _ => CLOCK_KEYS,
    };
    let what = format!("a `{verb}` step");
    for k in m.keys() {
        if k != verb && !allowed.contains(&k.as_str()) {
            let mut known: Vec<&str> = vec![verb];
            known.extend(allowed.iter().copied());
            return Err(r.key_err(
                &child_path(path, k),
                format!("a key of {what} ({})", list_keys(&known)),
                format!("unknown key `{k}`{}", hint(k, &known)),
            ));
        }
    }
    let p = |k: &str| child_path(path, k);
    let verb_value = m.get(verb).unwrap_or(&Value::Null);
    if let Some(v) = m.get("note") {
        r.opt_text(v, &p("note"), "`note` (a comment)")?;
    }
    let opt_id = |k: &str, what: &str| -> PResult<Option<String>> {
        match m.get(k) {
            Some(Value::Null) | None => Ok(None),
            Some(v) => r.id(v, &p(k), what).map(Some),
        }
    };
    let kind = match verb {
        "start" => StepKind::Start {
            workflow: r.id(verb_value, &p("start"), "`start` (a workflow id)")?,
            actor: r.id(
                r.need(m, path, "as", &what)?,
                &p("as"),
                "`as` (a person id)",
            )?,
            action: opt_id("action", "`action` (a start action id)")?,
            org: opt_id("org", "`org` (an organisation id)")?,
            data: match m.get("data") {
                Some(v) => r.object(v, &p("data"), "`data`")?,
                None => Map::new(),
            },
            inputs: match m.get("inputs") {
                Some(v) => r.object(v, &p("inputs"), "`inputs`")?,
                None => Map::new(),
            },
            save: opt_id("save", "`save` (a name for the case)")?,
        },
        "act" => StepKind::Act {
            action: r.id(verb_value, &p("act"), "`act` (an action id)")?,
            case: match m.get("case") {
                Some(v) => Some(r.case_ref(v, &p("case"))?),
                None => None,
            },
            actor: r.id(
                r.need(m, path, "as", &what)?,
                &p("as"),
                "`as` (a person id)",
            )?,
            inputs: match m.get("inputs") {
                Some(v) => r.object(v, &p("inputs"), "`inputs`")?,
                None => Map::new(),
            },
            revision: match m.get("revision") {
                Some(v) => Some(r.count(v, &p("revision"), "`revision`")? as u64),
                None => None,
            },
            save: opt_id("save", "`save` (a name for the case)")?,
        },
        "advance" => {
            let s = r.text(
                verb_value,
                &p("advance"),
                "`advance` (a duration such as 24h or 5 business days)",
            )?;
            StepKind::Advance(s.parse::<Span>().map_err(|e| {
                r.err(
                    &p("advance"),
                    "a duration such as 30m, 24h, 2 days, 5 business days or 1 month",
                    e.to_string(),
                )
            })?)
        }
        "advance_to" => {
            StepKind::AdvanceTo(r.instant(verb_value, &p("advance_to"), "`advance_to`")?)
        }
        "restart" if verb_value.is_object() => {
            let rp = p("restart");
            let rm = r.map(verb_value, &rp, "`restart: { after: DURATION }`")?;
            r.keys(rm, &rp, &["after"], "`restart`")?;
            let ap = child_path(&rp, "after");
            let s = r.text(
                r.need(rm, &rp, "after", "`restart`")?,
                &ap,
                "`after` (how long the engine stays down, e.g. 6 days)",
            )?;
            StepKind::Restart(Some(s.parse::<Span>().map_err(|e| {
                r.err(
                    &ap,
                    "a duration such as 30m, 24h, 2 days, 5 business days or 1 month",
                    e.to_string(),
                )
            })?))
        }
        "tick" | "restart" => {
            if !r.bool(verb_value, &p(verb), &format!("`{verb}: true`"))? {
                return Err(r.err(&p(verb), format!("`{verb}: true`"), "false"));
            }
            if verb == "tick" {
                StepKind::Tick
            } else {
                StepKind::Restart(None)
            }
        }
        "put_person" => {
            let pp = p("put_person");
            let pm = r.map(verb_value, &pp, "`put_person` (id, org, roles, attributes)")?;
            let id = r.id(
                r.need(pm, &pp, "id", "`put_person`")?,
                &child_path(&pp, "id"),
                "`id`",
            )?;
            StepKind::PutPerson(person_patch(r, id, pm, &pp)?)
        }
        "put_org" => {
            let po = p("put_org");
            let om = r.map(verb_value, &po, "`put_org` (id and the keys to change)")?;
            r.keys(om, &po, PUT_ORG_KEYS, "`put_org`")?;
            let id = r.id(
                r.need(om, &po, "id", "`put_org`")?,
                &child_path(&po, "id"),
                "`id`",
            )?;
            StepKind::PutOrg(org_patch(r, id, om, &po)?)
        }
        "remove_person" => StepKind::RemovePerson(r.id(
            verb_value,
            &p("remove_person"),
            "`remove_person` (a person id)",
        )?),
        "replay" => StepKind::Replay(replay_step(r, m, path, verb_value)?),
        _ => StepKind::Expect,
    };
    let error = match m.get("error") {
        Some(v) => Some(expect_error(r, v, &p("error"))?),
        None => None,
    };
    let expect = match m.get("expect") {
        Some(v) => Some(expect(r, v, &p("expect"))?),
        None => None,
    };
    Ok(Step {
        number,
        line: r.line(path),
        label,
        kind,
        expect,
        error,
    })
}

fn replay_step(
    r: &Reader<'_>,
    m: &Map<String, Value>,
    path: &str,
    verb_value: &Value,
) -> PResult<ReplayStep> {
    let p = |k: &str| child_path(path, k);
    let workflow = r.id(verb_value, &p("replay"), "`replay` (a workflow id)")?;
    let version = match m.get("version") {
        Some(v) => {
            let n = r.count(v, &p("version"), "`version` (a version number)")?;
            Some(
                u32::try_from(n)
                    .map_err(|_| r.err(&p("version"), "a version number", n.to_string()))?,
            )
        }
        None => None,
    };
    let org = match m.get("org") {
        Some(Value::Null) | None => None,
        Some(v) => Some(r.id(v, &p("org"), "`org` (an organisation id)")?),
    };
    let history = match (m.get("history"), m.get("file")) {
        (Some(h), None) => {
            if !h.is_array() {
                return Err(r.err(
                    &p("history"),
                    "`history` to be the list of events `mentorflow history CASE --json` prints",
                    describe(h),
                ));
            }
            RecordedHistory::Inline(h.clone(), r.line(&p("history")))
        }
        (None, Some(f)) => RecordedHistory::File(
            r.text(f, &p("file"), "`file` (a JSON file of events, relative to this file)")?,
            r.line(&p("file")),
        ),
        (Some(_), Some(_)) => {
            return Err(r.key_err(
                &p("file"),
                "either `history` (the events) or `file` (a JSON file of them)",
                "both",
            ))
        }
        (None, None) => {
            return Err(r.err(
                path,
                "`history` (the events, as `mentorflow history CASE --json` prints them) or `file` (a JSON file of them)",
                "neither",
            ))
        }
    };
    let diverges = match m.get("diverges") {
        Some(v) => {
            let dp = p("diverges");
            let dm = r.map(v, &dp, "`diverges` ({ event, kind, message })")?;
            r.keys(dm, &dp, DIVERGES_KEYS, "`diverges`")?;
            let event = match dm.get("event") {
                Some(v) => {
                    Some(r.count(v, &child_path(&dp, "event"), "`event` (an event number)")? as u64)
                }
                None => None,
            };
            let kind = match dm.get("kind") {
                Some(v) => {
                    let kp = child_path(&dp, "kind");
                    let k = r.id(v, &kp, "`kind`")?;
                    if !DIVERGENCE_KINDS.contains(&k.as_str()) {
                        return Err(r.err(
                            &kp,
                            format!("a kind of divergence: {}", list_keys(DIVERGENCE_KINDS)),
                            format!("`{k}`{}", hint(&k, DIVERGENCE_KINDS)),
                        ));
                    }
                    Some(k)
                }
                None => None,
            };
            let message = match dm.get("message") {
                Some(v) => Some(r.text(v, &child_path(&dp, "message"), "`message`")?),
                None => None,
            };
            Some(ExpectDivergence {
                event,
                kind,
                message,
                line: r.key_line(&dp),
            })
        }
        None => None,
    };
    Ok(ReplayStep {
        workflow,
        version,
        org,
        history,
        diverges,
    })
}

fn expect_error(r: &Reader<'_>, v: &Value, path: &str) -> PResult<ExpectError> {
    let line = r.key_line(path);
    // `error: guard_rejected` is short for `error: { kind: guard_rejected }`.
    if let Value::String(s) = v {
        return error_kind(r, s, path).map(|kind| ExpectError {
            line,
            kind: Some(kind),
            message: None,
            suggest: None,
            field: None,
        });
    }
    let m = r.map(v, path, "`error` (kind, message, suggest, field)")?;
    r.keys(m, path, ERROR_KEYS, "`error`")?;
    let p = |k: &str| child_path(path, k);
    Ok(ExpectError {
        line,
        kind: match m.get("kind") {
            Some(v) => {
                let s = r.text(v, &p("kind"), "`kind`")?;
                Some(error_kind(r, &s, &p("kind"))?)
            }
            None => None,
        },
        message: match m.get("message") {
            Some(v) => Some(r.text(v, &p("message"), "`message`")?),
            None => None,
        },
        suggest: match m.get("suggest") {
            Some(v) => Some(r.ids(v, &p("suggest"), "`suggest` (action ids)")?),
            None => None,
        },
        field: match m.get("field") {
            Some(v) => Some(r.text(v, &p("field"), "`field`")?),
            None => None,
        },
    })
}

fn error_kind(r: &Reader<'_>, s: &str, path: &str) -> PResult<String> {
    if ERROR_KINDS.contains(&s) {
        Ok(s.to_owned())
    } else {
        Err(r.err(
            path,
            format!("an error kind ({})", list_keys(ERROR_KINDS)),
            format!("`{s}`{}", hint(s, ERROR_KINDS)),
        ))
    }
}

fn notification_match(r: &Reader<'_>, v: &Value, path: &str) -> PResult<NotificationMatch> {
    let m = r.map(
        v,
        path,
        "a notification (to, template, subject_contains, body_contains, …)",
    )?;
    r.keys(m, path, NOTIFICATION_KEYS, "a notification")?;
    let p = |k: &str| child_path(path, k);
    let mut n = NotificationMatch::default();
    if let Some(v) = m.get("to") {
        n.to = Some(r.id(v, &p("to"), "`to` (a person id)")?);
    }
    if let Some(v) = m.get("template") {
        n.template = Some(r.id(v, &p("template"), "`template`")?);
    }
    if let Some(v) = m.get("case") {
        n.case = Some(r.case_ref(v, &p("case"))?);
    }
    for (k, slot) in [
        ("subject_contains", &mut n.subject_contains),
        ("subject_excludes", &mut n.subject_excludes),
        ("body_contains", &mut n.body_contains),
        ("body_excludes", &mut n.body_excludes),
    ] {
        if let Some(v) = m.get(k) {
            *slot = r.texts(v, &p(k), &format!("`{k}`"))?;
        }
    }
    if let Some(v) = m.get("data") {
        n.data = r.pairs(v, &p("data"), "`data`")?;
    }
    Ok(n)
}

fn list_of<T>(
    r: &Reader<'_>,
    v: &Value,
    path: &str,
    what: &str,
    mut f: impl FnMut(&Value, &str) -> PResult<T>,
) -> PResult<Vec<(T, usize)>> {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, it)| {
                let p = index_path(path, i);
                f(it, &p).map(|t| (t, r.line(&p)))
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        Value::Object(_) => f(v, path).map(|t| vec![(t, r.key_line(path))]),
        other => Err(r.err(path, format!("{what} (a list of maps)"), describe(other))),
    }
}

fn event_match(r: &Reader<'_>, v: &Value, path: &str) -> PResult<EventMatch> {
    let m = r.map(v, path, "an event (action, actor, from, to, inputs)")?;
    r.keys(m, path, EVENT_KEYS, "an event")?;
    let p = |k: &str| child_path(path, k);
    Ok(EventMatch {
        action: r.opt_id(m, &p, "action")?,
        actor: r.opt_id(m, &p, "actor")?,
        from: match m.get("from") {
            Some(Value::Null) => Some(None),
            Some(v) => Some(Some(r.id(v, &p("from"), "`from` (a state)")?)),
            None => None,
        },
        to: m
            .get("to")
            .map(|v| r.id(v, &p("to"), "`to` (a state)"))
            .transpose()?,
        inputs: match m.get("inputs") {
            Some(v) => r.pairs(v, &p("inputs"), "`inputs`")?,
            None => Vec::new(),
        },
    })
}

fn rows(r: &Reader<'_>, v: &Value, path: &str) -> PResult<Vec<Vec<(String, Value)>>> {
    Ok(list_of(r, v, path, "rows", |v, p| {
        r.pairs(v, p, "a row (column → value)")
    })?
    .into_iter()
    .map(|(row, _)| row)
    .collect())
}

fn expect(r: &Reader<'_>, v: &Value, path: &str) -> PResult<Expect> {
    let m = r.map(v, path, "`expect` (state, fields, notified, …)")?;
    r.keys(m, path, EXPECT_KEYS, "`expect`")?;
    let mut out = Expect {
        case: None,
        checks: Vec::new(),
    };
    for (k, v) in m {
        let kp = child_path(path, k);
        let line = r.key_line(&kp);
        let mut push = |kind: CheckKind| out.checks.push(Check { line, kind });
        match k.as_str() {
            "case" => out.case = Some(r.case_ref(v, &kp)?),
            "state" => push(CheckKind::State(r.id(v, &kp, "`state` (a state id)")?)),
            "state_label" => push(CheckKind::StateLabel(r.text(v, &kp, "`state_label`")?)),
            "open" => push(CheckKind::Open(r.bool(v, &kp, "`open`")?)),
            "fields" => push(CheckKind::Fields(r.pairs(
                v,
                &kp,
                "`fields` (field → value)",
            )?)),
            "participants" => {
                let pm = r.map(v, &kp, "`participants` (role → person ids)")?;
                let mut roles = Vec::new();
                for (role, ids) in pm {
                    roles.push((
                        role.clone(),
                        r.ids(ids, &child_path(&kp, role), "person ids")?,
                    ));
                }
                push(CheckKind::Participants(roles));
            }
            "tags_include" => push(CheckKind::TagsInclude(r.ids(v, &kp, "tags")?)),
            "tags_exclude" => push(CheckKind::TagsExclude(r.ids(v, &kp, "tags")?)),
            "notified" => push(CheckKind::Notified(list_of(
                r,
                v,
                &kp,
                "`notified`",
                |v, p| notification_match(r, v, p),
            )?)),
            "not_notified" => push(CheckKind::NotNotified(list_of(
                r,
                v,
                &kp,
                "`not_notified`",
                |v, p| notification_match(r, v, p),
            )?)),
            "notified_count" => push(CheckKind::NotifiedCount(r.count(
                v,
                &kp,
                "`notified_count`",
            )?)),
            "signals" => push(CheckKind::Signals(list_of(
                r,
                v,
                &kp,
                "`signals`",
                |v, p| {
                    let sm = r.map(v, p, "a signal (kind, case, data)")?;
                    r.keys(sm, p, SIGNAL_KEYS, "a signal")?;
                    let sp = |k: &str| child_path(p, k);
                    Ok(SignalMatch {
                        kind: r.opt_id(sm, &sp, "kind")?,
                        case: sm
                            .get("case")
                            .map(|v| r.case_ref(v, &sp("case")))
                            .transpose()?,
                        data: match sm.get("data") {
                            Some(v) => r.pairs(v, &sp("data"), "`data`")?,
                            None => Vec::new(),
                        },
                    })
                },
            )?)),
            "signals_count" => push(CheckKind::SignalsCount(r.count(
                v,
                &kp,
                "`signals_count`",
            )?)),
            "actions" => {
                for (c, l) in r.one_or_many(v, &kp, |v, p| {
                    let am = r.map(v, p, "`actions` (as, include, exclude)")?;
                    r.keys(am, p, ACTIONS_KEYS, "`actions`")?;
                    let ap = |k: &str| child_path(p, k);
                    Ok(ActionsCheck {
                        actor: r.id(r.need(am, p, "as", "`actions`")?, &ap("as"), "`as`")?,
                        include: am
                            .get("include")
                            .map(|v| r.ids(v, &ap("include"), "action ids"))
                            .transpose()?
                            .unwrap_or_default(),
                        exclude: am
                            .get("exclude")
                            .map(|v| r.ids(v, &ap("exclude"), "action ids"))
                            .transpose()?
                            .unwrap_or_default(),
                        exactly: am
                            .get("exactly")
                            .map(|v| r.ids(v, &ap("exactly"), "action ids"))
                            .transpose()?,
                    })
                })? {
                    out.checks.push(Check {
                        line: l,
                        kind: CheckKind::Actions(c),
                    });
                }
            }
            "view" => {
                for (c, l) in r.one_or_many(v, &kp, |v, p| {
                    let vm = r.map(v, p, "`view` (name, as, includes, excludes)")?;
                    r.keys(vm, p, VIEW_KEYS, "`view`")?;
                    let vp = |k: &str| child_path(p, k);
                    Ok(ViewCheck {
                        name: r.id(
                            r.need(vm, p, "name", "`view`")?,
                            &vp("name"),
                            "`name` (a view)",
                        )?,
                        viewer: r.id(
                            r.need(vm, p, "as", "`view`")?,
                            &vp("as"),
                            "`as` (the viewer)",
                        )?,
                        includes: vm
                            .get("includes")
                            .map(|v| r.case_refs(v, &vp("includes")))
                            .transpose()?
                            .unwrap_or_default(),
                        excludes: vm
                            .get("excludes")
                            .map(|v| r.case_refs(v, &vp("excludes")))
                            .transpose()?
                            .unwrap_or_default(),
                        order: vm
                            .get("order")
                            .map(|v| r.case_refs(v, &vp("order")))
                            .transpose()?
                            .unwrap_or_default(),
                        count: r.opt_count(vm, &vp, "count")?,
                        labels: match vm.get("labels") {
                            None => Vec::new(),
                            Some(Value::Object(m)) => {
                                let mut labels = Vec::new();
                                for (case, label) in m {
                                    let lp = child_path(&vp("labels"), case);
                                    let case = match case.parse::<i64>() {
                                        Ok(id) => CaseRef::Id(id),
                                        Err(_) => CaseRef::Name(case.clone()),
                                    };
                                    match label {
                                        Value::String(s) => labels.push((case, s.clone())),
                                        other => {
                                            return Err(r.err(
                                                &lp,
                                                "a status (text)",
                                                describe(other),
                                            ))
                                        }
                                    }
                                }
                                labels
                            }
                            Some(other) => {
                                return Err(r.err(
                                    &vp("labels"),
                                    "a map of cases to the status the view shows",
                                    describe(other),
                                ))
                            }
                        },
                    })
                })? {
                    out.checks.push(Check {
                        line: l,
                        kind: CheckKind::View(c),
                    });
                }
            }
            "view_count" => {
                for (c, l) in r.one_or_many(v, &kp, |v, p| {
                    let vm = r.map(v, p, "`view_count` (name, as, count)")?;
                    r.keys(vm, p, VIEW_COUNT_KEYS, "`view_count`")?;
                    let vp = |k: &str| child_path(p, k);
                    Ok(CheckKind::ViewCount {
                        name: r.id(
                            r.need(vm, p, "name", "`view_count`")?,
                            &vp("name"),
                            "`name` (a view)",
                        )?,
                        viewer: r.id(
                            r.need(vm, p, "as", "`view_count`")?,
                            &vp("as"),
                            "`as` (the viewer)",
                        )?,
                        count: r.count(
                            r.need(vm, p, "count", "`view_count`")?,
                            &vp("count"),
                            "`count`",
                        )?,
                    })
                })? {
                    out.checks.push(Check { line: l, kind: c });
                }
            }
            "visible" => {
                for (c, l) in r.one_or_many(v, &kp, |v, p| {
                    let vm = r.map(v, p, "`visible` (as, visible)")?;
                    r.keys(vm, p, VISIBLE_KEYS, "`visible`")?;
                    let vp = |k: &str| child_path(p, k);
                    Ok(CheckKind::Visible {
                        viewer: r.id(r.need(vm, p, "as", "`visible`")?, &vp("as"), "`as`")?,
                        visible: r.bool(
                            r.need(vm, p, "visible", "`visible`")?,
                            &vp("visible"),
                            "`visible`",
                        )?,
                    })
                })? {
                    out.checks.push(Check { line: l, kind: c });
                }
            }
            "history" => {
                let hm = r.map(v, &kp, "`history` (count, last, contains)")?;
                r.keys(hm, &kp, HISTORY_KEYS, "`history`")?;
                let hp = |k: &str| child_path(&kp, k);
                push(CheckKind::History(HistoryCheck {
                    count: r.opt_count(hm, &hp, "count")?,
                    last: hm
                        .get("last")
                        .map(|v| event_match(r, v, &hp("last")))
                        .transpose()?,
                    contains: match hm.get("contains") {
                        Some(v) => list_of(r, v, &hp("contains"), "`contains`", |v, p| {
                            event_match(r, v, p)
                        })?
                        .into_iter()
                        .map(|(e, _)| e)
                        .collect(),
                        None => Vec::new(),
                    },
                }));
            }
            "timers" => push(CheckKind::Timers(r.ids(v, &kp, "timer names")?)),
            "timer_due" => {
                let tm = r.map(v, &kp, "`timer_due` (timer name → date and time)")?;
                let mut due = Vec::new();
                for (name, at) in tm {
                    due.push((
                        name.clone(),
                        r.instant(at, &child_path(&kp, name), "a due time")?,
                    ));
                }
                push(CheckKind::TimerDue(due));
            }
            "export" => {
                for (c, l) in r.one_or_many(v, &kp, |v, p| {
                    let em = r.map(v, p, "`export` (name, count, contains)")?;
                    r.keys(em, p, EXPORT_KEYS, "`export`")?;
                    let ep = |k: &str| child_path(p, k);
                    Ok(ExportCheck {
                        name: r.id(
                            r.need(em, p, "name", "`export`")?,
                            &ep("name"),
                            "`name` (an export)",
                        )?,
                        actor: r.opt_id(em, &ep, "as")?,
                        count: r.opt_count(em, &ep, "count")?,
                        contains: em
                            .get("contains")
                            .map(|v| rows(r, v, &ep("contains")))
                            .transpose()?
                            .unwrap_or_default(),
                        excludes: em
                            .get("excludes")
                            .map(|v| rows(r, v, &ep("excludes")))
                            .transpose()?
                            .unwrap_or_default(),
                    })
                })? {
                    out.checks.push(Check {
                        line: l,
                        kind: CheckKind::Export(c),
                    });
                }
            }
            "cases" => {
                for (c, l) in r.one_or_many(v, &kp, |v, p| {
                    let cm = r.map(v, p, "`cases` (workflow, state, org, count)")?;
                    r.keys(cm, p, CASES_KEYS, "`cases`")?;
                    let cp = |k: &str| child_path(p, k);
                    Ok(CheckKind::Cases {
                        workflow: r.opt_id(cm, &cp, "workflow")?,
                        state: r.opt_id(cm, &cp, "state")?,
                        org: r.opt_id(cm, &cp, "org")?,
                        count: r.opt_count(cm, &cp, "count")?,
                    })
                })? {
                    out.checks.push(Check { line: l, kind: c });
                }
            }
            "linked" => {
                for (c, l) in r.one_or_many(v, &kp, |v, p| {
                    let lm = r.map(v, p, "`linked` (workflow, state, count, save)")?;
                    r.keys(lm, p, LINKED_KEYS, "`linked`")?;
                    let lp = |k: &str| child_path(p, k);
                    Ok(CheckKind::Linked {
                        workflow: r.opt_id(lm, &lp, "workflow")?,
                        state: r.opt_id(lm, &lp, "state")?,
                        count: r.opt_count(lm, &lp, "count")?,
                        save: r.opt_id(lm, &lp, "save")?,
                    })
                })? {
                    out.checks.push(Check { line: l, kind: c });
                }
            }
            "notes" => {
                let nm = r.map(v, &kp, "`notes` (count, contains)")?;
                r.keys(nm, &kp, NOTES_KEYS, "`notes`")?;
                let np = |k: &str| child_path(&kp, k);
                push(CheckKind::Notes {
                    count: r.opt_count(nm, &np, "count")?,
                    contains: nm
                        .get("contains")
                        .map(|v| r.texts(v, &np("contains"), "texts"))
                        .transpose()?
                        .unwrap_or_default(),
                });
            }
            "now" => push(CheckKind::Now(r.instant(v, &kp, "`now`")?)),
            _ => {
                return Err(r.key_err(
                    &kp,
                    format!("a key of `expect` ({})", list_keys(EXPECT_KEYS)),
                    format!("unknown key `{k}`"),
                ))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_find_close_names() {
        assert_eq!(hint("inptus", ACT_KEYS), "; did you mean `inputs`?");
        assert_eq!(hint("notifed", EXPECT_KEYS), "; did you mean `notified`?");
        assert_eq!(hint("zzzzzz", EXPECT_KEYS), "");
    }

    #[test]
    fn labels_read_well() {
        let v = serde_json::json!({"act": "assign", "as": "cody"});
        assert_eq!(step_label(&v), "act assign as cody");
        let v = serde_json::json!({"advance": "24h"});
        assert_eq!(step_label(&v), "advance 24h");
        let v = serde_json::json!({"put_person": {"id": "dan"}});
        assert_eq!(step_label(&v), "put_person dan");
        let v = serde_json::json!({"expect": {}});
        assert_eq!(step_label(&v), "expect");
        assert_eq!(step_label(&serde_json::json!(3)), "step");
    }
}
