//! Migration of running cases from one version of a workflow to another, by a plan written
//! in YAML (`mentorflow migrate PLAN [--dry-run]`, [`Engine::migrate`]).
//!
//! ```yaml
//! workflow: request
//! from: 1
//! to: 2
//! states:                 # old state: new state (a state v2 also has needs no line)
//!   pending: assigned_pending
//! roles:                  # old case role: new role, or ~ to take its people off the case
//!   team: members
//! fields:
//!   rename: { sessions: session_count }   # old name: new name
//!   drop: [reason]                        # fields v2 does not have: their values go
//!   set:                                  # fields still unset: a constant, or an expression
//!     priority: normal
//!     level: { expr: 'fields.session_count * 2' }
//! timers:
//!   keep: [reminder_24h]  # keep the due time of these timers (the rest start again now)
//! run: |                  # a script over the migrated fields
//!   if fields.session_count > 3 { fields.priority = "high" }
//! ```
//!
//! A plan is checked as a definition is, every problem at once with file, line and column:
//! the versions exist, every name is one of the version it belongs to, every state of the old
//! version that v2 lacks and that holds open cases is mapped, every case role and field that
//! v2 lacks is renamed or dropped (nothing is thrown away unless the plan says so), constants
//! fit their field, scripts compile, and a field v2 requires has a value from somewhere.
//!
//! Each open case of the old version is then migrated in its own transaction: its state,
//! fields and participants change as the plan says, the new version's defaults fill fields
//! still unset, the `run` script runs, the result is checked against v2 (types, required
//! fields, `checks`), the timers of the case's state are dropped and the new state's timers
//! scheduled from the migration instant (or kept, for the timers the plan keeps), and one
//! history event (`migrate`, by `system`) records every change, so folding the history still
//! gives the snapshot. A case that cannot be migrated is refused with the reason and left
//! untouched on the old version; the others still move. A crash leaves every case either on
//! the old version or on the new one, never between. A dry run computes the same, per case,
//! and writes nothing.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use rhai::Dynamic;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::definition::Definition;
use crate::engine::step;
use crate::error::{Error, Problem, Result, ScriptPlace};
use crate::model::{
    Case, CaseFilter, Decision, Effect, Event, NewTimer, ParticipantChange, TimerPlan,
};
use crate::script::{self, bind, Kind, Script, Scripts, CTX};
use crate::store::Tx;
use crate::suggest;
use crate::yaml::{self, Spans};
use crate::Engine;

/// The keys of a plan, and of its `fields` and `timers` sections.
const PLAN_KEYS: &[&str] = &[
    "workflow",
    "from",
    "to",
    "description",
    "states",
    "roles",
    "fields",
    "timers",
    "run",
];
const FIELDS_KEYS: &[&str] = &["rename", "drop", "set"];
const TIMERS_KEYS: &[&str] = &["keep"];

/// The script functions that change a case: a migration script only reads and sets fields.
const CHANGING_FUNCTIONS: &[&str] = &[
    "notify",
    "notify_role",
    "assign",
    "unassign",
    "add_note",
    "signal",
    "spawn_copy",
    "schedule",
    "cancel_timer",
    "goto",
    "fail",
];

/// A value for a field still unset after renaming.
#[derive(Debug, Clone)]
pub enum FieldValue {
    /// A constant.
    Constant(Value),
    /// A rhai expression over the old case (`fields`, `case`, `settings`, `now`).
    Expr(String),
}

/// A migration plan, as written (see the [module](self) docs). Checked against the engine's
/// definitions by [`Engine::migrate`].
#[derive(Debug, Clone)]
pub struct MigrationPlan {
    /// The file it was read from (or the name given for a text).
    pub file: String,
    /// The workflow.
    pub workflow: String,
    /// The version the cases run on.
    pub from: u32,
    /// The version they move to.
    pub to: u32,
    /// What the plan is for.
    pub description: Option<String>,
    /// Old state → new state.
    pub states: BTreeMap<String, String>,
    /// Old case role → new case role (`None`: its people leave the case).
    pub roles: BTreeMap<String, Option<String>>,
    /// Old field name → new field name.
    pub rename: BTreeMap<String, String>,
    /// Fields whose values go.
    pub drop: Vec<String>,
    /// Values for fields still unset after renaming, in the plan's order.
    pub set: Vec<(String, FieldValue)>,
    /// Timers whose due time is kept.
    pub keep_timers: Vec<String>,
    /// A script run over the migrated fields.
    pub run: Option<String>,
    spans: Arc<Spans>,
}

impl MigrationPlan {
    /// Read a plan file.
    pub fn load(path: impl AsRef<Path>) -> Result<MigrationPlan> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| Error::Definition {
            problems: vec![Problem {
                file: name.clone(),
                line: 1,
                column: 1,
                path: String::new(),
                message: format!("cannot read the migration plan: {e}"),
            }],
        })?;
        MigrationPlan::parse(&text, &name)
    }

    /// Read a plan from YAML text; `file` stands for the file in messages. Every problem of
    /// its shape is reported at once (names are checked against the definitions later, by
    /// [`Engine::migrate`]).
    pub fn parse(text: &str, file: &str) -> Result<MigrationPlan> {
        let (doc, spans) = yaml::parse(text).map_err(|e| Error::Definition {
            problems: vec![Problem::from_yaml(file, &e)],
        })?;
        let mut p = Problems::new(file, &spans);
        let mut plan = MigrationPlan {
            file: file.to_owned(),
            workflow: String::new(),
            from: 0,
            to: 0,
            description: None,
            states: BTreeMap::new(),
            roles: BTreeMap::new(),
            rename: BTreeMap::new(),
            drop: Vec::new(),
            set: Vec::new(),
            keep_timers: Vec::new(),
            run: None,
            spans: Arc::new(Spans::default()),
        };
        let Some(top) = doc.as_object() else {
            p.at(
                "",
                "a migration plan is a map with `workflow`, `from`, `to` and what to change",
            );
            return Err(p.into_error());
        };
        p.unknown_keys("", top, PLAN_KEYS);
        match top.get("workflow") {
            Some(Value::String(s)) if !s.trim().is_empty() => plan.workflow = s.clone(),
            Some(_) => p.at("workflow", "`workflow` must be a workflow id"),
            None => p.at("", "missing `workflow`: the workflow whose cases move"),
        }
        for (key, slot) in [("from", &mut plan.from), ("to", &mut plan.to)] {
            match top.get(key) {
                Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
                    Some(n) if n > 0 => *slot = n,
                    _ => p.at(
                        key,
                        format!("`{key}` must be a version number (1, 2, …), got {v}"),
                    ),
                },
                None => p.at(
                    "",
                    format!(
                        "missing `{key}`: the version the cases {}",
                        if key == "from" { "run on" } else { "move to" }
                    ),
                ),
            }
        }
        if plan.from > 0 && plan.from == plan.to {
            p.at(
                "to",
                format!("`to` is the same version as `from` ({})", plan.to),
            );
        }
        if let Some(v) = top.get("description") {
            match v {
                Value::String(s) => plan.description = Some(s.clone()),
                _ => p.at("description", "`description` must be text"),
            }
        }
        if let Some(v) = top.get("states") {
            plan.states = p
                .name_map("states", v, false)
                .into_iter()
                .map(|(k, v)| (k, v.unwrap_or_default()))
                .collect();
        }
        if let Some(v) = top.get("roles") {
            plan.roles = p.name_map("roles", v, true);
        }
        if let Some(v) = top.get("fields") {
            match v.as_object() {
                Some(m) => {
                    p.unknown_keys("fields", m, FIELDS_KEYS);
                    if let Some(r) = m.get("rename") {
                        plan.rename = p
                            .name_map("fields.rename", r, false)
                            .into_iter()
                            .map(|(k, v)| (k, v.unwrap_or_default()))
                            .collect();
                    }
                    if let Some(d) = m.get("drop") {
                        plan.drop = p.name_list("fields.drop", d);
                    }
                    if let Some(s) = m.get("set") {
                        match s.as_object() {
                            Some(items) => {
                                for (name, value) in items {
                                    let path = yaml::child_path("fields.set", name);
                                    let fv = match value {
                                        Value::Object(o) if o.contains_key("expr") => {
                                            p.unknown_keys(&path, o, &["expr"]);
                                            match o.get("expr") {
                                                Some(Value::String(e)) => {
                                                    FieldValue::Expr(e.clone())
                                                }
                                                _ => {
                                                    p.at(
                                                        &yaml::child_path(&path, "expr"),
                                                        "`expr` must be a script expression (text)",
                                                    );
                                                    continue;
                                                }
                                            }
                                        }
                                        Value::Null => {
                                            p.at(&path, format!("no value for `{name}`: give a constant or `{{ expr: '…' }}`"));
                                            continue;
                                        }
                                        other => FieldValue::Constant(other.clone()),
                                    };
                                    plan.set.push((name.clone(), fv));
                                }
                            }
                            None => p.at(
                                "fields.set",
                                "`set` must map field names to values (a constant, or `{ expr: '…' }`)",
                            ),
                        }
                    }
                }
                None => p.at(
                    "fields",
                    "`fields` must be a map with `rename`, `drop` and `set`",
                ),
            }
        }
        if let Some(v) = top.get("timers") {
            match v.as_object() {
                Some(m) => {
                    p.unknown_keys("timers", m, TIMERS_KEYS);
                    if let Some(k) = m.get("keep") {
                        plan.keep_timers = p.name_list("timers.keep", k);
                    }
                }
                None => p.at("timers", "`timers` must be a map with `keep: [names]`"),
            }
        }
        if let Some(v) = top.get("run") {
            match v {
                Value::String(s) => plan.run = Some(s.clone()),
                _ => p.at("run", "`run` must be a script (text)"),
            }
        }
        if !p.list.is_empty() {
            return Err(p.into_error());
        }
        plan.spans = Arc::new(spans);
        Ok(plan)
    }
}

/// Problems of one plan file, collected.
struct Problems<'a> {
    file: &'a str,
    spans: &'a Spans,
    list: Vec<Problem>,
}

impl<'a> Problems<'a> {
    fn new(file: &'a str, spans: &'a Spans) -> Self {
        Problems {
            file,
            spans,
            list: Vec::new(),
        }
    }

    fn at(&mut self, path: &str, message: impl Into<String>) {
        let pos = self.spans.nearest(path);
        self.list.push(Problem {
            file: self.file.to_owned(),
            line: pos.line,
            column: pos.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// At the key of `path` (a name written as a key).
    fn at_key(&mut self, path: &str, message: impl Into<String>) {
        let pos = self
            .spans
            .key(path)
            .unwrap_or_else(|| self.spans.nearest(path));
        self.list.push(Problem {
            file: self.file.to_owned(),
            line: pos.line,
            column: pos.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    fn unknown_keys(&mut self, path: &str, m: &Map<String, Value>, known: &[&str]) {
        for k in m.keys() {
            if !known.contains(&k.as_str()) {
                let hint = match suggest::closest(k, known.iter().copied()) {
                    Some(c) => format!("; did you mean `{c}`?"),
                    None => format!(" (known: {})", known.join(", ")),
                };
                let where_ = if path.is_empty() {
                    "a migration plan".to_owned()
                } else {
                    format!("`{path}`")
                };
                self.at_key(
                    &yaml::child_path(path, k),
                    format!("unknown key `{k}` in {where_}{hint}"),
                );
            }
        }
    }

    /// A map of names to names (`null` allowed when `nullable`).
    fn name_map(
        &mut self,
        path: &str,
        v: &Value,
        nullable: bool,
    ) -> BTreeMap<String, Option<String>> {
        let mut out = BTreeMap::new();
        let Some(m) = v.as_object() else {
            self.at(path, format!("`{path}` must map old names to new names"));
            return out;
        };
        for (k, v) in m {
            let at = yaml::child_path(path, k);
            match v {
                Value::String(s) if !s.trim().is_empty() => {
                    out.insert(k.clone(), Some(s.clone()));
                }
                Value::Null if nullable => {
                    out.insert(k.clone(), None);
                }
                Value::Null => self.at(&at, format!("no new name for `{k}`")),
                other => self.at(
                    &at,
                    format!(
                        "the new name for `{k}` must be a name, got {}",
                        crate::definition::describe_value(other)
                    ),
                ),
            }
        }
        out
    }

    fn name_list(&mut self, path: &str, v: &Value) -> Vec<String> {
        let items: Vec<Value> = match v {
            Value::Array(a) => a.clone(),
            Value::String(_) => vec![v.clone()],
            _ => {
                self.at(path, format!("`{path}` must be a list of names"));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.clone()),
                other => self.at(
                    &yaml::index_path(path, i),
                    format!(
                        "`{path}` must hold names, got {}",
                        crate::definition::describe_value(other)
                    ),
                ),
            }
        }
        out
    }

    fn into_error(mut self) -> Error {
        self.list.sort_by_key(|p| (p.line, p.column));
        Error::Definition {
            problems: self.list,
        }
    }
}

// ---- the report ---------------------------------------------------------------------------

/// What happened (or would happen) to one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationOutcome {
    /// Moved to the new version.
    Migrated,
    /// A dry run: would move.
    WouldMigrate,
    /// Cannot move; left untouched on the old version (see the reason).
    Refused,
}

/// A field a migration changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    /// The field (its new name).
    pub field: String,
    /// Its value before (`null`: unset), under the old name when renamed.
    pub before: Value,
    /// Its value after (`null`: removed).
    pub after: Value,
    /// The old name, when the plan renames it.
    pub renamed_from: Option<String>,
}

/// People whose case role a migration renames or takes away.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleChange {
    /// The old role.
    pub from: String,
    /// The new role (`None`: they leave the case).
    pub to: Option<String>,
    /// Who.
    pub people: Vec<String>,
}

/// What a migration does to a timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimerFate {
    /// Pending, and the new state has no timer of that name: removed.
    Dropped,
    /// Pending, kept with its due time (`timers.keep`).
    Kept,
    /// Scheduled from the migration instant.
    Scheduled,
    /// Kept by the plan but already fired in this visit of the state: not scheduled again.
    AlreadyFired,
}

/// A timer a migration drops, keeps or schedules.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimerChange {
    /// Timer name.
    pub name: String,
    /// What happens to it.
    pub fate: TimerFate,
    /// When it is due afterwards (kept or scheduled).
    pub due: Option<DateTime<Utc>>,
    /// When it was due before (a pending timer dropped or scheduled again).
    pub was_due: Option<DateTime<Utc>>,
}

/// One case of a migration.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseMigration {
    /// The case.
    pub case: i64,
    /// What happened.
    pub outcome: MigrationOutcome,
    /// Its state before.
    pub from_state: String,
    /// Its state after (refused: where it would have gone, when known).
    pub to_state: Option<String>,
    /// Fields that change.
    pub fields: Vec<FieldChange>,
    /// Roles renamed or taken away.
    pub roles: Vec<RoleChange>,
    /// Timers dropped, kept or scheduled.
    pub timers: Vec<TimerChange>,
    /// Why it is refused.
    pub reason: Option<String>,
}

/// The result of [`Engine::migrate`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MigrationReport {
    /// The plan file.
    pub plan: String,
    /// The workflow.
    pub workflow: String,
    /// The version the cases ran on.
    pub from: u32,
    /// The version they move to.
    pub to: u32,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// The instant of the migration (timers are scheduled from it).
    pub at: DateTime<Utc>,
    /// Per case, in id order.
    pub cases: Vec<CaseMigration>,
    /// Cases moved (or, in a dry run, that would move).
    pub migrated: usize,
    /// Cases refused.
    pub refused: usize,
    /// Closed cases of the old version, left on it.
    pub closed: usize,
}

/// Options of [`Engine::migrate`].
#[derive(Debug, Clone, Default)]
pub struct MigrateOptions {
    /// Compute and report, write nothing.
    pub dry_run: bool,
    /// Only these cases (each must be a case of the plan's workflow on its `from` version);
    /// every open case of that version when `None`.
    pub cases: Option<Vec<i64>>,
}

// ---- checking a plan against the definitions ---------------------------------------------------

/// A plan with its scripts compiled against its two versions.
struct Checked<'p> {
    plan: &'p MigrationPlan,
    old: Arc<Definition>,
    new: Arc<Definition>,
    exprs: BTreeMap<String, Script>,
    run: Option<Script>,
}

fn compile(
    scripts: &Scripts,
    plan: &MigrationPlan,
    new: &Definition,
    path: &str,
    source: &str,
    kind: Kind,
    p: &mut Problems<'_>,
) -> Option<Script> {
    let pos = plan.spans.nearest(path);
    let place = ScriptPlace {
        workflow: new.id.clone(),
        version: new.version,
        path: path.to_owned(),
        file: plan.file.clone(),
        line: pos.line,
        column: pos.column,
    };
    for r in script::references(source) {
        if let script::Reference::Call { name, .. } = r {
            if CHANGING_FUNCTIONS.contains(&name.as_str()) {
                p.at(
                    path,
                    format!("`{name}` changes the case: a migration script only reads the case and sets `fields`"),
                );
                return None;
            }
        }
    }
    match scripts.compile(source, kind, place, Arc::clone(&plan.spans), &[]) {
        Ok(s) => Some(s),
        Err((line, column, message)) => {
            p.list.push(Problem {
                file: plan.file.clone(),
                line,
                column,
                path: path.to_owned(),
                message: format!("script does not compile: {message}"),
            });
            None
        }
    }
}

impl Engine {
    fn check_plan<'p>(
        &self,
        db: &dyn Tx,
        plan: &'p MigrationPlan,
        open_states: &BTreeMap<String, usize>,
    ) -> Result<Checked<'p>> {
        let spans = Arc::clone(&plan.spans);
        let mut p = Problems::new(&plan.file, &spans);
        let known: Vec<String> = self.definitions().iter().map(|d| d.id.clone()).collect();
        if !known.contains(&plan.workflow)
            && db
                .stored_definitions()?
                .iter()
                .all(|s| s.workflow != plan.workflow)
        {
            p.at(
                "workflow",
                format!(
                    "unknown workflow `{}`{}",
                    plan.workflow,
                    suggest::did_you_mean(&plan.workflow, known.iter().map(String::as_str))
                ),
            );
            return Err(p.into_error());
        }
        let mut version = |key: &str, v: u32| match self.definition_at(db, &plan.workflow, v) {
            Ok(d) => Some(d),
            Err(Error::NotFound { .. }) => {
                p.at(
                    key,
                    format!(
                        "`{}` has no version {v}: neither loaded (--workflows) nor stored in the database",
                        plan.workflow
                    ),
                );
                None
            }
            Err(e) => {
                p.at(key, format!("version {v} cannot be loaded: {e}"));
                None
            }
        };
        let (old, new) = (version("from", plan.from), version("to", plan.to));
        let (Some(old), Some(new)) = (old, new) else {
            return Err(p.into_error());
        };
        let (a, b) = (plan.from, plan.to);
        let state_ids = |d: &Definition| d.states.iter().map(|s| s.id.clone()).collect::<Vec<_>>();
        let (old_states, new_states) = (state_ids(&old), state_ids(&new));
        for (from, to) in &plan.states {
            let at = yaml::child_path("states", from);
            if old.state(from).is_none() {
                p.at_key(&at, not_in(from, "state", a, &old_states));
            }
            if new.state(to).is_none() {
                p.at(&at, not_in(to, "state", b, &new_states));
            }
        }
        for (state, n) in open_states {
            if new.state(state).is_none() && !plan.states.contains_key(state) {
                let path = if plan.spans.contains("states") {
                    "states"
                } else {
                    "to"
                };
                p.at_key(
                    path,
                    format!(
                        "state `{state}` of v{a} holds {n} open case{} and v{b} has no state `{state}`: map it (`states: {{ {state}: … }}`; v{b} has {})",
                        if *n == 1 { "" } else { "s" },
                        new_states.join(", ")
                    ),
                );
            }
        }
        // roles
        let case_roles = |d: &Definition| {
            d.roles
                .iter()
                .filter(|r| r.is_case_role())
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        };
        let (old_roles, new_roles) = (case_roles(&old), case_roles(&new));
        for (from, to) in &plan.roles {
            let at = yaml::child_path("roles", from);
            if !old_roles.contains(from) {
                p.at_key(&at, not_in(from, "case role", a, &old_roles));
            }
            if let Some(to) = to {
                if !new_roles.contains(to) {
                    p.at(&at, not_in(to, "case role", b, &new_roles));
                }
            }
        }
        for r in &old_roles {
            if !new_roles.contains(r) && !plan.roles.contains_key(r) {
                let path = if plan.spans.contains("roles") {
                    "roles"
                } else {
                    "to"
                };
                p.at_key(
                    path,
                    format!(
                        "case role `{r}` of v{a} is not in v{b}: rename it (`roles: {{ {r}: … }}`) or take its people off the cases (`roles: {{ {r}: ~ }}`)"
                    ),
                );
            }
        }
        // fields
        let field_names =
            |d: &Definition| d.fields.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        let (old_fields, new_fields) = (field_names(&old), field_names(&new));
        for (from, to) in &plan.rename {
            let at = yaml::child_path("fields.rename", from);
            if !old_fields.contains(from) {
                p.at_key(&at, not_in(from, "field", a, &old_fields));
            }
            if !new_fields.contains(to) {
                p.at(&at, not_in(to, "field", b, &new_fields));
            }
        }
        let mut targets: BTreeMap<&str, &str> = BTreeMap::new();
        for (from, to) in &plan.rename {
            if let Some(other) = targets.insert(to, from) {
                p.at(
                    &yaml::child_path("fields.rename", from),
                    format!("`{other}` and `{from}` are both renamed to `{to}`"),
                );
            }
        }
        for (i, d) in plan.drop.iter().enumerate() {
            let at = yaml::index_path("fields.drop", i);
            if !old_fields.contains(d) {
                p.at(&at, not_in(d, "field", a, &old_fields));
            } else if plan.rename.contains_key(d) {
                p.at(&at, format!("`{d}` is both renamed and dropped"));
            }
        }
        for f in &old_fields {
            if !new_fields.contains(f) && !plan.rename.contains_key(f) && !plan.drop.contains(f) {
                let path = if plan.spans.contains("fields") {
                    "fields"
                } else {
                    "to"
                };
                p.at_key(
                    path,
                    format!(
                        "field `{f}` of v{a} is not in v{b}: rename it (`fields: {{ rename: {{ {f}: … }} }}`) or drop its values (`fields: {{ drop: [{f}] }}`)"
                    ),
                );
            }
        }
        let scripts = self.scripts();
        let defaults = new.default_settings();
        let mut exprs = BTreeMap::new();
        for (name, value) in &plan.set {
            let at = yaml::child_path("fields.set", name);
            let Some(field) = new.field(name) else {
                p.at_key(&at, not_in(name, "field", b, &new_fields));
                continue;
            };
            match value {
                FieldValue::Constant(v) => {
                    if let Err(m) = field.check(v, &defaults) {
                        p.at(&at, format!("field `{name}`: {m}"));
                    }
                }
                FieldValue::Expr(src) => {
                    let path = yaml::child_path(&at, "expr");
                    if let Some(s) = compile(scripts, plan, &new, &path, src, Kind::Expr, &mut p) {
                        exprs.insert(name.clone(), s);
                    }
                }
            }
        }
        let run = match &plan.run {
            Some(src) => compile(scripts, plan, &new, "run", src, Kind::Effect, &mut p),
            None => None,
        };
        // a field v2 requires must get a value from somewhere
        if plan.run.is_none() {
            for f in new
                .fields
                .iter()
                .filter(|f| f.required && f.default.is_none())
            {
                let carried = old_fields.contains(&f.name)
                    && !plan.drop.contains(&f.name)
                    && !plan.rename.contains_key(&f.name)
                    || plan.rename.values().any(|t| t == &f.name);
                let set = plan.set.iter().any(|(n, _)| n == &f.name);
                if !carried && !set {
                    let path = if plan.spans.contains("fields") {
                        "fields"
                    } else {
                        "to"
                    };
                    p.at_key(
                        path,
                        format!(
                            "field `{}` is required in v{b} and nothing gives it a value: add `fields: {{ set: {{ {}: … }} }}`",
                            f.name, f.name
                        ),
                    );
                }
            }
        }
        for (i, t) in plan.keep_timers.iter().enumerate() {
            let declared = |d: &Definition| {
                d.states
                    .iter()
                    .any(|s| s.timers.iter().any(|x| &x.name == t))
            };
            if !declared(&new) {
                let names: BTreeSet<&str> = new
                    .states
                    .iter()
                    .flat_map(|s| s.timers.iter().map(|x| x.name.as_str()))
                    .collect();
                p.at(
                    &yaml::index_path("timers.keep", i),
                    format!(
                        "v{b} has no timer `{t}`{}",
                        suggest::did_you_mean(t, names.iter().copied())
                    ),
                );
            } else if !declared(&old) {
                p.at(
                    &yaml::index_path("timers.keep", i),
                    format!("v{a} has no timer `{t}`: there is no due time to keep"),
                );
            }
        }
        if !p.list.is_empty() {
            return Err(p.into_error());
        }
        Ok(Checked {
            plan,
            old,
            new,
            exprs,
            run,
        })
    }

    /// Migrate the open cases of a plan's workflow from its `from` version to its `to`
    /// version (see [`crate::migrate`]), each case in its own transaction, or with
    /// `dry_run` only say what would happen. A plan with problems is an
    /// [`Error::Definition`] naming the plan file, line and field, and nothing changes; a
    /// case that cannot move is reported `refused` with the reason, and left untouched.
    pub fn migrate(
        &self,
        plan: &MigrationPlan,
        options: &MigrateOptions,
    ) -> Result<MigrationReport> {
        let at = self.now();
        let all = self.cases(&CaseFilter {
            workflow: Some(plan.workflow.clone()),
            ..CaseFilter::default()
        })?;
        let on_from: Vec<&Case> = all.iter().filter(|c| c.version == plan.from).collect();
        let closed = on_from.iter().filter(|c| !c.open).count();
        let mut chosen: Vec<i64> = match &options.cases {
            Some(ids) => {
                for id in ids {
                    match all.iter().find(|c| c.id == *id) {
                        Some(c) if c.version == plan.from => {}
                        Some(c) => {
                            return Err(Error::validation(
                                "cases",
                                format!(
                                    "case {id} runs on {} v{}, not on v{}",
                                    c.workflow, c.version, plan.from
                                ),
                            ))
                        }
                        None => {
                            return Err(match self.get(*id, None) {
                                Ok(c) => Error::validation(
                                    "cases",
                                    format!(
                                        "case {id} is a case of `{}`, not of `{}`",
                                        c.workflow, plan.workflow
                                    ),
                                ),
                                Err(e) => e,
                            })
                        }
                    }
                }
                ids.clone()
            }
            None => on_from.iter().filter(|c| c.open).map(|c| c.id).collect(),
        };
        chosen.sort_unstable();
        chosen.dedup();
        let mut open_states: BTreeMap<String, usize> = BTreeMap::new();
        for c in on_from.iter().filter(|c| c.open && chosen.contains(&c.id)) {
            *open_states.entry(c.state.clone()).or_default() += 1;
        }
        let checked = self.read(|db| self.check_plan(db, plan, &open_states))?;
        let mut out = Vec::with_capacity(chosen.len());
        for id in chosen {
            let one = if options.dry_run {
                self.read(|db| self.migrate_case(db, &checked, id, at, false))?
            } else {
                self.write(|db| self.migrate_case(db, &checked, id, at, true))?
            };
            out.push(one);
        }
        let migrated = out
            .iter()
            .filter(|c| c.outcome != MigrationOutcome::Refused)
            .count();
        Ok(MigrationReport {
            plan: plan.file.clone(),
            workflow: plan.workflow.clone(),
            from: plan.from,
            to: plan.to,
            dry_run: options.dry_run,
            at,
            refused: out.len() - migrated,
            migrated,
            closed,
            cases: out,
        })
    }

    /// Compute one case's migration and, when `write`, apply it (inside the caller's
    /// transaction). A refusal writes nothing.
    fn migrate_case(
        &self,
        db: &dyn Tx,
        c: &Checked<'_>,
        id: i64,
        now: DateTime<Utc>,
        write: bool,
    ) -> Result<CaseMigration> {
        let plan = c.plan;
        let row = db
            .load_case(id)?
            .ok_or_else(|| Error::not_found("case", id.to_string()))?;
        let old_case = step::to_case(&c.old, row);
        let mut report = CaseMigration {
            case: id,
            outcome: if write {
                MigrationOutcome::Migrated
            } else {
                MigrationOutcome::WouldMigrate
            },
            from_state: old_case.state.clone(),
            to_state: None,
            fields: Vec::new(),
            roles: Vec::new(),
            timers: Vec::new(),
            reason: None,
        };
        let refuse = |mut r: CaseMigration, why: String| {
            r.outcome = MigrationOutcome::Refused;
            r.reason = Some(why);
            Ok(r)
        };
        if old_case.version != plan.from {
            return refuse(
                report,
                format!(
                    "it runs on v{} now, not on v{}",
                    old_case.version, plan.from
                ),
            );
        }
        if !old_case.open {
            return refuse(
                report,
                format!(
                    "it is closed (state `{}` is final); closed cases stay on v{}",
                    old_case.state, plan.from
                ),
            );
        }
        let new_state = match plan.states.get(&old_case.state) {
            Some(s) => s.clone(),
            None if c.new.state(&old_case.state).is_some() => old_case.state.clone(),
            None => {
                return refuse(
                    report,
                    format!(
                        "state `{}` is not in v{} and the plan does not map it",
                        old_case.state, plan.to
                    ),
                )
            }
        };
        report.to_state = Some(new_state.clone());
        let info = self.org_info(db, &old_case.org)?;
        let settings = info.settings(&c.new);
        let cal = Arc::clone(&info.cal);
        // fields: rename, drop, set, v2 defaults, run
        let mut data = old_case.data.clone();
        for (from, to) in &plan.rename {
            if let Some(v) = data.remove(from) {
                data.insert(to.clone(), v);
            }
        }
        for d in &plan.drop {
            data.remove(d);
        }
        let cell = RefCell::new(script::Ctx::new(
            &old_case.org,
            &c.new.id,
            Some(id),
            now,
            Arc::clone(&cal),
        ));
        let scope_for = |fields: &Map<String, Value>| -> Result<rhai::Scope<'static>> {
            let mut s = Scripts::empty_scope();
            let conv = |m: &Map<String, Value>| {
                script::map_to_rhai(m)
                    .map(Dynamic::from_map)
                    .map_err(Error::storage)
            };
            bind(&mut s, "fields", conv(fields)?);
            bind(&mut s, "case", case_map(&old_case, &c.old)?);
            bind(&mut s, "settings", conv(&settings)?);
            bind(
                &mut s,
                "now",
                Dynamic::from(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
            Ok(s)
        };
        let script_result = CTX.set(
            &cell,
            || -> Result<std::result::Result<Map<String, Value>, String>> {
                let before_set = data.clone();
                for (name, value) in &plan.set {
                    if data.get(name).is_some_and(|v| !v.is_null()) {
                        continue;
                    }
                    let v = match value {
                        FieldValue::Constant(v) => v.clone(),
                        FieldValue::Expr(_) => {
                            let Some(s) = c.exprs.get(name) else { continue };
                            let mut scope = scope_for(&before_set)?;
                            match self.scripts().run(s, &mut scope) {
                                Ok(d) => match script::to_json(&d) {
                                    Ok(v) => v,
                                    Err(e) => {
                                        return Ok(Err(format!(
                                            "`fields.set.{name}` gave no field value: {e}"
                                        )))
                                    }
                                },
                                Err(e) => return Ok(Err(e.to_string())),
                            }
                        }
                    };
                    if !v.is_null() {
                        data.insert(name.clone(), v);
                    }
                }
                for f in &c.new.fields {
                    if let Some(d) = &f.default {
                        if !data.contains_key(&f.name) {
                            data.insert(f.name.clone(), d.clone());
                        }
                    }
                }
                if let Some(s) = &c.run {
                    let mut scope = scope_for(&data)?;
                    if let Err(e) = self.scripts().run(s, &mut scope) {
                        return Ok(Err(e.to_string()));
                    }
                    let fields = scope
                        .get_value::<Dynamic>("fields")
                        .unwrap_or(Dynamic::UNIT);
                    let Some(map) = fields.try_cast::<rhai::Map>() else {
                        return Ok(Err("the `run` script must leave `fields` a map".into()));
                    };
                    let mut next = Map::new();
                    for (k, v) in map {
                        match script::to_json(&v) {
                            Ok(Value::Null) => {}
                            Ok(v) => {
                                next.insert(k.to_string(), v);
                            }
                            Err(e) => return Ok(Err(format!("`run` set `fields.{k}`: {e}"))),
                        }
                    }
                    return Ok(Ok(next));
                }
                Ok(Ok(data.clone()))
            },
        )?;
        let mut data = match script_result {
            Ok(d) => d,
            Err(why) => return refuse(report, why),
        };
        // check against v2
        for (k, v) in data.clone() {
            let Some(f) = c.new.field(&k) else {
                return refuse(
                    report,
                    format!("field `{k}` is not a field of v{}", plan.to),
                );
            };
            match f.check(&v, &settings) {
                Ok(v) => {
                    data.insert(k, v);
                }
                Err(m) => return refuse(report, format!("field `{k}` {m} in v{}", plan.to)),
            }
        }
        for f in c.new.fields.iter().filter(|f| f.required) {
            if !data.contains_key(&f.name) {
                return refuse(
                    report,
                    format!(
                        "field `{}` is required in v{} and has no value",
                        f.name, plan.to
                    ),
                );
            }
        }
        // participants
        let mut participants = old_case.participants.clone();
        let mut role_moves: Vec<(String, Option<String>, Vec<String>)> = Vec::new();
        for (from, to) in &plan.roles {
            if let Some(people) = participants.remove(from) {
                if let Some(to) = to {
                    let ids = participants.entry(to.clone()).or_default();
                    for p in &people {
                        if !ids.contains(p) {
                            ids.push(p.clone());
                        }
                    }
                }
                report.roles.push(RoleChange {
                    from: from.clone(),
                    to: to.clone(),
                    people: people.clone(),
                });
                role_moves.push((from.clone(), to.clone(), people));
            }
        }
        let mut new_case = old_case.clone();
        new_case.version = plan.to;
        new_case.state = new_state.clone();
        new_case.data = data;
        new_case.participants = participants;
        let st = c.new.state(&new_state);
        new_case.open = !st.is_some_and(|s| s.is_final);
        new_case.state_label = c.new.state_label(&new_state).to_owned();
        new_case.tags = st.map(|s| s.tags.clone()).unwrap_or_default();
        new_case.revision = old_case.revision + 1;
        new_case.updated_at = now;
        // v2's checks across fields
        let check = CTX.set(&cell, || -> Result<Option<String>> {
            let mut s = Scripts::empty_scope();
            bind(
                &mut s,
                "fields",
                Dynamic::from_map(script::map_to_rhai(&new_case.data).map_err(Error::storage)?),
            );
            bind(&mut s, "case", case_map(&new_case, &c.new)?);
            bind(
                &mut s,
                "settings",
                Dynamic::from_map(script::map_to_rhai(&settings).map_err(Error::storage)?),
            );
            bind(
                &mut s,
                "now",
                Dynamic::from(now.to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
            for ch in &c.new.checks {
                match self.scripts().test(&ch.when, &mut s) {
                    Ok(true) => {}
                    Ok(false) => {
                        let msg = match &ch.message_script {
                            Some(m) => self
                                .scripts()
                                .render(m, &mut s)
                                .unwrap_or_else(|_| ch.message.clone()),
                            None => ch.message.clone(),
                        };
                        return Ok(Some(format!("v{} check fails: {msg}", plan.to)));
                    }
                    Err(e) => return Ok(Some(format!("v{} check fails: {e}", plan.to))),
                }
            }
            Ok(None)
        })?;
        if let Some(why) = check {
            return refuse(report, why);
        }
        // field changes, in name order
        let mut names: BTreeSet<&String> = old_case.data.keys().collect();
        names.extend(new_case.data.keys());
        let renamed_to: BTreeMap<&String, &String> =
            plan.rename.iter().map(|(a, b)| (b, a)).collect();
        let mut effects = vec![Effect::Migrated {
            from_version: plan.from,
            to_version: plan.to,
            plan: plan.file.clone(),
        }];
        for name in names {
            let before = old_case.data.get(name).cloned().unwrap_or(Value::Null);
            let after = new_case.data.get(name).cloned().unwrap_or(Value::Null);
            if let Some(old_name) = renamed_to.get(name) {
                let was = old_case.data.get(*old_name).cloned().unwrap_or(Value::Null);
                if was != Value::Null || after != Value::Null {
                    report.fields.push(FieldChange {
                        field: name.clone(),
                        before: was,
                        after: after.clone(),
                        renamed_from: Some((*old_name).clone()),
                    });
                }
            } else if plan.rename.contains_key(name) {
                // reported under its new name
            } else if before != after {
                report.fields.push(FieldChange {
                    field: name.clone(),
                    before: before.clone(),
                    after: after.clone(),
                    renamed_from: None,
                });
            }
            if before != after {
                effects.push(Effect::Set {
                    field: name.clone(),
                    value: after,
                });
            }
        }
        for (from, to, people) in &role_moves {
            for p in people {
                effects.push(Effect::Unassign {
                    role: from.clone(),
                    person: p.clone(),
                });
            }
            if let Some(to) = to {
                for p in people {
                    effects.push(Effect::Assign {
                        role: to.clone(),
                        person: p.clone(),
                    });
                }
            }
        }
        // timers
        let pending = db.case_timers(id)?;
        let old_declared: Vec<String> = c
            .old
            .state(&old_case.state)
            .map(|s| s.timers.iter().map(|t| t.name.clone()).collect())
            .unwrap_or_default();
        let mut writes: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = Vec::new();
        let new_timers = st.map(|s| s.timers.as_slice()).unwrap_or_default();
        for t in new_timers {
            let keep = plan.keep_timers.contains(&t.name) && old_declared.contains(&t.name);
            let row = pending.iter().find(|r| r.name == t.name);
            match (keep, row) {
                (true, Some(r)) => {
                    report.timers.push(TimerChange {
                        name: t.name.clone(),
                        fate: TimerFate::Kept,
                        due: Some(r.due_at),
                        was_due: Some(r.due_at),
                    });
                    writes.push((t.name.clone(), r.due_at, r.anchor));
                }
                (true, None) => report.timers.push(TimerChange {
                    name: t.name.clone(),
                    fate: TimerFate::AlreadyFired,
                    due: None,
                    was_due: None,
                }),
                (false, row) => {
                    if let Some(due) = step::timer_due(&cal, t, &new_case.data, now) {
                        report.timers.push(TimerChange {
                            name: t.name.clone(),
                            fate: TimerFate::Scheduled,
                            due: Some(due),
                            was_due: row.map(|r| r.due_at),
                        });
                        writes.push((t.name.clone(), due, now));
                    }
                }
            }
        }
        for r in &pending {
            if !writes.iter().any(|(n, ..)| n == &r.name) {
                report.timers.push(TimerChange {
                    name: r.name.clone(),
                    fate: TimerFate::Dropped,
                    due: None,
                    was_due: Some(r.due_at),
                });
            }
        }
        for r in &pending {
            let kept = report
                .timers
                .iter()
                .any(|t| t.name == r.name && t.fate == TimerFate::Kept);
            if !kept {
                effects.push(Effect::TimerCancelled {
                    name: r.name.clone(),
                });
            }
        }
        for t in &report.timers {
            if t.fate == TimerFate::Scheduled {
                if let Some(due) = t.due {
                    effects.push(Effect::TimerScheduled {
                        name: t.name.clone(),
                        due,
                    });
                }
            }
        }
        if !write {
            return Ok(report);
        }
        let mut participant_changes = Vec::new();
        for (from, to, people) in &role_moves {
            for p in people {
                participant_changes.push(ParticipantChange {
                    added: false,
                    role: from.clone(),
                    person: p.clone(),
                    log: false,
                });
            }
            if let Some(to) = to {
                for p in people {
                    participant_changes.push(ParticipantChange {
                        added: true,
                        role: to.clone(),
                        person: p.clone(),
                        log: false,
                    });
                }
            }
        }
        let mut inputs = Map::new();
        inputs.insert("plan".into(), Value::String(plan.file.clone()));
        inputs.insert("from_version".into(), Value::from(plan.from));
        inputs.insert("to_version".into(), Value::from(plan.to));
        let event = Event {
            id: 0,
            case_id: id,
            seq: new_case.revision,
            at: now,
            actor: "system".into(),
            action: MIGRATE_ACTION.into(),
            from_state: Some(old_case.state.clone()),
            to_state: new_state.clone(),
            inputs,
            effects,
        };
        db.apply(Decision {
            case: new_case,
            expected_revision: Some(old_case.revision),
            participants: participant_changes,
            timers: TimerPlan {
                clear: true,
                remove: Vec::new(),
                schedule: writes
                    .into_iter()
                    .map(|(name, due, anchor)| NewTimer {
                        state: new_state.clone(),
                        name,
                        due,
                        anchor,
                    })
                    .collect(),
            },
            outbox: Vec::new(),
            copies: Vec::new(),
            event,
        })?;
        Ok(report)
    }
}

/// The action of a migration's history event.
pub const MIGRATE_ACTION: &str = "migrate";

/// A case as scripts see it (`case.id`, `case.state`, `case.org`, `case.participants`,
/// `case.<role>` for each case role, `case.fields`).
fn case_map(c: &Case, def: &Definition) -> Result<Dynamic> {
    let mut m = rhai::Map::new();
    m.insert("id".into(), Dynamic::from_int(c.id));
    m.insert("workflow".into(), Dynamic::from(c.workflow.clone()));
    m.insert("version".into(), Dynamic::from_int(i64::from(c.version)));
    m.insert("state".into(), Dynamic::from(c.state.clone()));
    m.insert("state_label".into(), Dynamic::from(c.state_label.clone()));
    m.insert("org".into(), Dynamic::from(c.org.clone()));
    m.insert("revision".into(), Dynamic::from_int(c.revision as i64));
    let ts = |t: DateTime<Utc>| Dynamic::from(t.to_rfc3339_opts(SecondsFormat::Secs, true));
    m.insert("created_at".into(), ts(c.created_at));
    m.insert("updated_at".into(), ts(c.updated_at));
    m.insert(
        "participants".into(),
        Dynamic::from_map(script::participants_dynamic(&c.participants)),
    );
    m.insert(
        "fields".into(),
        Dynamic::from_map(script::map_to_rhai(&c.data).map_err(Error::storage)?),
    );
    for r in def.roles.iter().filter(|r| r.is_case_role()) {
        let first = c
            .participant(&r.name)
            .map_or(Dynamic::UNIT, |p| Dynamic::from(p.to_owned()));
        m.insert(r.name.as_str().into(), first);
    }
    Ok(Dynamic::from_map(m))
}

/// "`name` is not a WHAT of vN", with a "did you mean" among the names that version has.
fn not_in(name: &str, what: &str, version: u32, known: &[String]) -> String {
    format!(
        "`{name}` is not a {what} of v{version}{}",
        suggest::did_you_mean(name, known.iter().map(String::as_str))
    )
}
