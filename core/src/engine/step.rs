//! One command: checks in order (visible, action exists, role, state, inputs, guards), then
//! effects, transition, state hooks, field checks, and the writes — inside the caller's
//! transaction.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use rhai::{Dynamic, Scope};
use serde_json::{Map, Value};

use super::{Case, Effect, Engine, Event, Start};
use crate::definition::{Action, Check, Definition, Field, Schedule, Script, State, Target, Timer};
use crate::directory::{Org, Person};
use crate::error::{Error, Result};
use crate::model::{Decision, NewTimer, OutboxEntry, OutboxKind, ParticipantChange, TimerPlan};
use crate::script::{self, bind, Mode, Op, Scripts, Uses, CTX};
use crate::store::{self, TimerRow, Tx};
use crate::time::{BusinessCalendar, Span};

/// Who acts: a person, or the system (timers).
#[derive(Debug, Clone)]
pub(crate) struct Actor {
    pub id: String,
    pub person: Option<Person>,
}

impl Actor {
    fn system() -> Self {
        Actor {
            id: "system".into(),
            person: None,
        }
    }
}

pub(crate) fn resolve_actor(engine: &Engine, db: &dyn Tx, id: &str) -> Result<Actor> {
    if id == "system" {
        return Err(Error::NotPermitted {
            workflow: String::new(),
            action: String::new(),
            actor: id.to_owned(),
            message: "`system` is reserved for timers; act as a person".into(),
        });
    }
    let person = match engine.stored_person(db, id)? {
        Some(p) => p,
        None => engine
            .hooks()
            .iter()
            .find_map(|h| h.person(id))
            .ok_or_else(|| Error::NotFound {
                kind: "person",
                id: id.to_owned(),
                hint: Some("add them to the directory first".into()),
            })?,
    };
    Ok(Actor {
        id: id.to_owned(),
        person: Some(person),
    })
}

fn lookup_person(engine: &Engine, db: &dyn Tx, id: &str) -> Result<Option<Person>> {
    Ok(match engine.stored_person(db, id)? {
        Some(p) => Some(p),
        None => engine.hooks().iter().find_map(|h| h.person(id)),
    })
}

/// The organisation's settings over the workflow's defaults.
pub(crate) fn settings_for(def: &Definition, org: &Org) -> Map<String, Value> {
    let mut s = def.default_settings();
    for (k, v) in &org.settings {
        if s.contains_key(k) && !v.is_null() {
            s.insert(k.clone(), v.clone());
        }
    }
    s
}

pub(crate) fn to_case(def: &Definition, row: store::CaseRow) -> Case {
    let st = def.state(&row.state);
    Case {
        id: row.id,
        workflow: row.workflow,
        version: row.version,
        org: row.org,
        state_label: st.map_or_else(|| row.state.clone(), |s| s.label.clone()),
        tags: st.map(|s| s.tags.clone()).unwrap_or_default(),
        open: !st.is_some_and(|s| s.is_final) && row.cancelled.is_none(),
        state: row.state,
        data: row.data,
        participants: row.participants,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
        parent: row.parent,
        suspended: row.suspended,
        cancelled: row.cancelled,
    }
}

fn has_directory_role(def: &Definition, role: &str, person: &Person, org: &str) -> bool {
    def.role(role).is_some_and(|r| {
        !r.directory.is_empty()
            && person.org.as_deref() == Some(org)
            && r.directory.iter().any(|d| person.has_role(d))
    })
}

/// Whether a person may see a case: a participant; or, in the case's organisation, a holder
/// of a directory role that sees the whole organisation, that a view of the current state
/// names, or that an action from the current state names.
pub(crate) fn can_see(def: &Definition, case: &Case, person: Option<&Person>) -> bool {
    let Some(person) = person else { return true };
    if case.has_participant(&person.id, None) {
        return true;
    }
    if person.org.as_deref() != Some(case.org.as_str()) {
        return false;
    }
    def.roles.iter().any(|r| {
        !r.directory.is_empty()
            && r.directory.iter().any(|d| person.has_role(d))
            && (r.sees_org
                || def.views.iter().any(|v| {
                    v.viewer.contains(&r.name)
                        && (v.states.is_empty() || v.states.contains(&case.state))
                })
                || def
                    .actions
                    .iter()
                    .any(|a| a.starts_from(&case.state) && a.by.contains(&r.name)))
    })
}

/// Whether a person holds a role the action names.
pub(crate) fn holds(def: &Definition, action: &Action, case: &Case, person: &Person) -> bool {
    action.by.iter().any(|r| {
        r == "anyone"
            || (r != "system"
                && (case.has_participant(&person.id, Some(r))
                    || has_directory_role(def, r, person, &case.org)))
    })
}

pub(crate) fn not_visible(case_id: i64) -> Error {
    Error::NotFound {
        kind: "case",
        id: case_id.to_string(),
        hint: Some("or not visible to you".into()),
    }
}

pub(crate) fn get(engine: &Engine, db: &dyn Tx, id: i64, actor: Option<&str>) -> Result<Case> {
    let row = db
        .load_case(id)?
        .ok_or_else(|| Error::not_found("case", id.to_string()))?;
    let def = engine.definition_at(db, &row.workflow, row.version)?;
    let case = to_case(&def, row);
    if let Some(a) = actor {
        let actor = resolve_actor(engine, db, a)?;
        if !can_see(&def, &case, actor.person.as_ref()) {
            return Err(not_visible(id));
        }
    }
    Ok(case)
}

/// Check and normalise inputs (or start data) against declared fields.
#[allow(clippy::too_many_arguments)]
fn validate_values(
    engine: &Engine,
    db: &dyn Tx,
    declared: &[Field],
    given: &Map<String, Value>,
    settings: &Map<String, Value>,
    prefix: &str,
    what: &str,
    workflow: &str,
    apply_defaults: bool,
    check_required: bool,
) -> Result<Map<String, Value>> {
    for k in given.keys() {
        if let Some(f) = declared.iter().find(|f| &f.name == k && f.computed) {
            return Err(Error::Validation {
                workflow: Some(workflow.to_owned()),
                field: Some(format!("{prefix}.{k}")),
                message: format!(
                    "{what} `{}` is kept by the workflow itself and cannot be given",
                    f.name
                ),
            });
        }
        if !declared.iter().any(|f| &f.name == k) {
            let names: Vec<&str> = declared.iter().map(|f| f.name.as_str()).collect();
            return Err(Error::Validation {
                workflow: Some(workflow.to_owned()),
                field: Some(format!("{prefix}.{k}")),
                message: if names.is_empty() {
                    format!("unknown {what} `{k}`: {what}s are not taken here")
                } else {
                    format!(
                        "unknown {what} `{k}`; expected one of: {}",
                        names.join(", ")
                    )
                },
            });
        }
    }
    let mut out = Map::new();
    for f in declared {
        // a text of nothing but spaces is as good as missing (a form's empty box)
        let text = matches!(
            f.kind,
            crate::definition::FieldType::String | crate::definition::FieldType::Text
        );
        let blank = |v: &Value| text && matches!(v, Value::String(s) if s.trim().is_empty());
        let v = match given.get(&f.name) {
            Some(v) if !v.is_null() && !blank(v) => v.clone(),
            _ if apply_defaults => f.default.clone().unwrap_or(Value::Null),
            _ => Value::Null,
        };
        let label = f.label.as_deref().unwrap_or(&f.name);
        if v.is_null() {
            if f.required && check_required {
                return Err(Error::Validation {
                    workflow: Some(workflow.to_owned()),
                    field: Some(format!("{prefix}.{}", f.name)),
                    message: format!("{what} `{}` ({label}) is required", f.name),
                });
            }
            out.insert(f.name.clone(), Value::Null);
            continue;
        }
        let v = f.check(&v, settings).map_err(|m| Error::Validation {
            workflow: Some(workflow.to_owned()),
            field: Some(format!("{prefix}.{}", f.name)),
            message: format!("{what} `{}` {m}", f.name),
        })?;
        if f.kind == crate::definition::FieldType::Person {
            if let Value::String(id) = &v {
                if lookup_person(engine, db, id)?.is_none() {
                    return Err(Error::Validation {
                        workflow: Some(workflow.to_owned()),
                        field: Some(format!("{prefix}.{}", f.name)),
                        message: format!("{what} `{}`: no person `{id}` in the directory", f.name),
                    });
                }
            }
        }
        out.insert(f.name.clone(), v);
    }
    Ok(out)
}

fn context(
    engine: &Engine,
    case: &Case,
    workflow: &str,
    now: DateTime<Utc>,
    cal: &Arc<BusinessCalendar>,
) -> RefCell<script::Ctx> {
    let mut ctx = script::Ctx::new(
        &case.org,
        workflow,
        (case.id > 0).then_some(case.id),
        now,
        cal.clone(),
    );
    ctx.engine = Some(engine.clone());
    RefCell::new(ctx)
}

/// The sizes the sandbox counts in a map of values (see [`crate::Limits`]): items of every
/// list, entries of every map (this one's included) and bytes of every string, nested ones
/// included.
fn sizes(m: &Map<String, Value>) -> (usize, usize, usize) {
    let (mut items, mut entries, mut bytes) = (0, m.len(), 0);
    let mut stack: Vec<&Value> = m.values().collect();
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => bytes += s.len(),
            Value::Array(a) => {
                items += a.len();
                stack.extend(a);
            }
            Value::Object(o) => {
                entries += o.len();
                stack.extend(o.values());
            }
            _ => {}
        }
    }
    (items, entries, bytes)
}

/// Refuse inputs, or a case's fields, larger than the sandbox lets a script hold: stored,
/// they would make every later effect on the case fail.
fn within_limits(
    engine: &Engine,
    values: &Map<String, Value>,
    what: &str,
    workflow: &str,
) -> Result<()> {
    let l = engine.inner.scripts.limits();
    let (items, entries, bytes) = sizes(values);
    let over = if bytes > l.max_string_size {
        Some(format!(
            "{bytes} bytes of text, more than the {} scripts may hold (Limits::max_string_size)",
            l.max_string_size
        ))
    } else if items > l.max_array_size {
        Some(format!(
            "{items} list items, more than the {} scripts may hold (Limits::max_array_size)",
            l.max_array_size
        ))
    } else if entries > l.max_map_size {
        Some(format!(
            "{entries} map entries, more than the {} scripts may hold (Limits::max_map_size)",
            l.max_map_size
        ))
    } else {
        None
    };
    match over {
        None => Ok(()),
        Some(o) => Err(Error::Validation {
            workflow: Some(workflow.to_owned()),
            field: Some(what.to_owned()),
            message: format!("the {what} would hold {o}"),
        }),
    }
}

/// Actions a person may do now: those of the case's state that they hold a role for and that
/// no input-free guard refuses (the same judge as the availability lists).
pub(crate) fn available(engine: &Engine, db: &dyn Tx, id: i64, actor: &str) -> Result<Vec<String>> {
    let row = db
        .load_case(id)?
        .ok_or_else(|| Error::not_found("case", id.to_string()))?;
    let def = engine.definition_at(db, &row.workflow, row.version)?;
    let case = to_case(&def, row);
    let actor = resolve_actor(engine, db, actor)?;
    if !can_see(&def, &case, actor.person.as_ref()) {
        return Err(not_visible(id));
    }
    let Some(person) = actor.person.clone() else {
        return Ok(Vec::new());
    };
    if case.suspended.is_some() || case.cancelled.is_some() {
        return Ok(Vec::new());
    }
    probe_guards(engine, db, &def, &case, &actor, false, |judge| {
        Ok(def
            .actions
            .iter()
            .filter(|a| !a.is_start() && !a.system_only() && a.starts_from(&case.state))
            .filter(|a| holds(&def, a, &case, &person) && judge(a).is_none())
            .map(|a| a.id.clone())
            .collect())
    })
}

/// Why an action cannot be done in the case's state: its `unavailable:` text, or one naming
/// the action and the state.
pub(crate) fn state_refusal(action: &Action, case: &Case) -> String {
    let declared = action.unavailable.as_deref().map(str::trim);
    declared.map(str::to_owned).unwrap_or_else(|| {
        format!(
            "{} is not possible while the case is {}",
            action.label.as_deref().unwrap_or(&action.id),
            case.state_label
        )
    })
}

/// What [`probe_guards`] hands its caller: judge an action's guards that do not read
/// `inputs` for the probed person; `Some((index, message, suggestions))` for the first that
/// refuses. A guard that errors without inputs is left for the command to judge.
pub(crate) type GuardJudge<'r> = dyn Fn(&Action) -> Option<(usize, String, Vec<String>)> + 'r;

/// Judge guards without inputs for one person on one case (for a start: a blank case of the
/// organisation it would be in), as `actions()` does: the availability lists use it.
pub(crate) fn probe_guards<T>(
    engine: &Engine,
    db: &dyn Tx,
    def: &Definition,
    case: &Case,
    actor: &Actor,
    is_new: bool,
    f: impl FnOnce(&GuardJudge<'_>) -> Result<T>,
) -> Result<T> {
    let info = engine.org_info(db, &case.org)?;
    let cal = Arc::clone(&info.cal);
    let settings = info.settings(def);
    let now = engine.now();
    let cell = context(engine, case, &def.id, now, &cal);
    CTX.set(&cell, || {
        let run = Run::new(
            engine,
            db,
            def,
            now,
            cal.clone(),
            settings.clone(),
            actor.clone(),
            case.clone(),
            is_new,
            "",
        );
        let judge = |a: &Action| {
            run.set_mode(Mode::Read);
            a.guards
                .iter()
                .enumerate()
                .filter(|(_, g)| !g.uses_inputs)
                .find_map(|(i, g)| match run.refusal(g) {
                    Ok(Some(message)) => Some((i, message, g.suggest.clone())),
                    _ => None,
                })
        };
        f(&judge)
    })
}

/// For each candidate value of one input, whether every guard of the action that reads that
/// input (and no other) passes with it as the input, judged read-only for `actor` on `case`
/// ([`crate::Engine::candidates`]). A guard that fails with an error refuses the candidate.
#[allow(clippy::too_many_arguments)]
pub(crate) fn judge_input(
    engine: &Engine,
    db: &dyn Tx,
    def: &Definition,
    case: &Case,
    actor: &Actor,
    action: &Action,
    input: &str,
    values: &[Value],
) -> Result<Vec<bool>> {
    let guards: Vec<&Check> = action
        .guards
        .iter()
        .filter(|g| g.reads_only_input(input))
        .collect();
    if guards.is_empty() {
        return Ok(vec![true; values.len()]);
    }
    let info = engine.org_info(db, &case.org)?;
    let cal = Arc::clone(&info.cal);
    let settings = info.settings(def);
    let now = engine.now();
    let cell = context(engine, case, &def.id, now, &cal);
    CTX.set(&cell, || {
        let mut run = Run::new(
            engine,
            db,
            def,
            now,
            cal.clone(),
            settings.clone(),
            actor.clone(),
            case.clone(),
            false,
            &action.id,
        );
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            run.inputs = Map::from_iter([(input.to_owned(), v.clone())]);
            run.cache.borrow_mut().inputs = None;
            let ok = guards.iter().all(|g| {
                run.set_mode(Mode::Read);
                matches!(run.refusal(g), Ok(None))
            });
            out.push(ok);
        }
        Ok(out)
    })
}

/// Actions leading out of the current state that the person may do: suggestions.
pub(crate) fn suggestions(def: &Definition, case: &Case, person: Option<&Person>) -> Vec<String> {
    let Some(person) = person else {
        return Vec::new();
    };
    def.actions
        .iter()
        .filter(|a| {
            !a.is_start()
                && !a.system_only()
                && a.starts_from(&case.state)
                && holds(def, a, case, person)
                && a.to.states().iter().any(|t| *t != case.state)
        })
        .map(|a| a.id.clone())
        .collect()
}

pub(crate) fn start(
    engine: &Engine,
    db: &dyn Tx,
    def: &std::sync::Arc<Definition>,
    start: &Start,
) -> Result<Case> {
    let decision = decide_start(engine, db, def, start)?;
    db.apply(decision)
}

/// Decide a start: every check, then the new case's plan ([`Decision`]), writing nothing.
/// The case's id is the one `db` would give next ([`Tx::new_case_id`]).
pub(crate) fn decide_start(
    engine: &Engine,
    db: &dyn Tx,
    def: &std::sync::Arc<Definition>,
    start: &Start,
) -> Result<Decision> {
    let action = match &start.action {
        Some(a) => {
            let action = def.action(a).ok_or_else(|| {
                Error::not_found_among("action", a, def.start_actions().map(|a| a.id.as_str()))
            })?;
            if !action.is_start() {
                return Err(Error::Validation {
                    workflow: Some(def.id.clone()),
                    field: Some("action".into()),
                    message: format!(
                        "`{a}` acts on an existing case; start a case with one of: {}",
                        start_names(def)
                    ),
                });
            }
            action
        }
        None => def.default_start().ok_or_else(|| Error::Validation {
            workflow: Some(def.id.clone()),
            field: Some("action".into()),
            message: format!(
                "workflow `{}` has several start actions and none is marked default; name one of: {}",
                def.id,
                start_names(def)
            ),
        })?,
    };
    let actor = resolve_actor(engine, db, &start.actor)?;
    let person = actor
        .person
        .as_ref()
        .ok_or_else(|| Error::validation("actor", "a person must start a case"))?;
    let starter = person.id.clone();
    let org_id = match (&start.org, &person.org) {
        (Some(o), _) => o.clone(),
        (None, Some(o)) => o.clone(),
        (None, None) => {
            return Err(Error::Validation {
                workflow: Some(def.id.clone()),
                field: Some("org".into()),
                message: format!(
                    "`{}` belongs to no organisation; say which organisation the case is for",
                    person.id
                ),
            })
        }
    };
    let allowed = action.by.iter().any(|r| {
        r == "anyone"
            || def.role(r).is_some_and(|role| role.is_case_role())
            || (person.org.as_deref() == Some(org_id.as_str())
                && def
                    .role(r)
                    .is_some_and(|role| role.directory.iter().any(|d| person.has_role(d))))
    });
    if !allowed {
        return Err(Error::NotPermitted {
            workflow: def.id.clone(),
            action: action.id.clone(),
            actor: person.id.clone(),
            message: format!(
                "{} cannot `{}`: it is done by {} of organisation `{org_id}`",
                person.id,
                action.id,
                action.by.join(" or ")
            ),
        });
    }
    let info = engine.org_info(db, &org_id)?;
    super::availability::check_org_uses(def, action, &info.org, &person.id)?;
    let cal = Arc::clone(&info.cal);
    let settings = info.settings(def);
    let data = validate_values(
        engine,
        db,
        &def.fields,
        &start.data,
        &settings,
        "fields",
        "field",
        &def.id,
        true,
        false,
    )?;
    let inputs = validate_values(
        engine,
        db,
        &action.inputs,
        &start.inputs,
        &settings,
        "inputs",
        "input",
        &def.id,
        true,
        true,
    )?;
    within_limits(engine, &inputs, "inputs", &def.id)?;
    let now = engine.now();
    let case = Case {
        // known before the row is written: the start's scripts and notifications use it
        id: db.new_case_id()?,
        workflow: def.id.clone(),
        version: def.version,
        org: org_id,
        state: String::new(),
        state_label: String::new(),
        tags: Vec::new(),
        open: true,
        data: Map::new(),
        participants: BTreeMap::new(),
        revision: 0,
        created_at: now,
        updated_at: now,
        parent: None,
        suspended: None,
        cancelled: None,
    };
    let cell = context(engine, &case, &def.id, now, &cal);
    CTX.set(&cell, || {
        let mut run = Run::new(
            engine,
            db,
            def,
            now,
            cal.clone(),
            settings,
            actor,
            case,
            true,
            &action.id,
        );
        run.inputs = inputs;
        for (k, v) in data {
            if !v.is_null() {
                run.set_field(&k, v, None)?;
            }
        }
        for r in &action.by {
            if def.role(r).is_some_and(|role| role.is_case_role()) {
                run.assign(r, &starter, false)?;
            }
        }
        run.execute(Some(action), None)
    })
}

fn start_names(def: &Definition) -> String {
    def.start_actions()
        .map(|a| a.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) fn act(
    engine: &Engine,
    db: &dyn Tx,
    case_id: i64,
    action_id: &str,
    actor_id: &str,
    inputs: Map<String, Value>,
    expected: Option<u64>,
) -> Result<Case> {
    let decision = decide_act(engine, db, case_id, action_id, actor_id, inputs, expected)?;
    db.apply(decision)
}

/// Decide an action on a case: every check, then the plan ([`Decision`]) against the case's
/// revision as `db` shows it, writing nothing.
pub(crate) fn decide_act(
    engine: &Engine,
    db: &dyn Tx,
    case_id: i64,
    action_id: &str,
    actor_id: &str,
    inputs: Map<String, Value>,
    expected: Option<u64>,
) -> Result<Decision> {
    let row = db
        .load_case(case_id)?
        .ok_or_else(|| Error::not_found("case", case_id.to_string()))?;
    let def = engine.definition_at(db, &row.workflow, row.version)?;
    let case = to_case(&def, row);
    let actor = resolve_actor(engine, db, actor_id)?;
    let person = actor.person.as_ref();
    if !can_see(&def, &case, person) {
        return Err(not_visible(case_id));
    }
    let action = def.action(action_id).ok_or_else(|| {
        let known = def.actions.iter().filter(|a| !a.is_start());
        Error::not_found_among("action", action_id, known.map(|a| a.id.as_str()))
    })?;
    if action.is_start() {
        return Err(Error::Validation {
            workflow: Some(def.id.clone()),
            field: Some("action".into()),
            message: format!("`{action_id}` starts new cases; it cannot be done on case {case_id}"),
        });
    }
    if let Some(e) = Error::held(&case) {
        return Err(e);
    }
    if let Some(p) = person {
        if !holds(&def, action, &case, p) {
            let roles: Vec<String> = action
                .by
                .iter()
                .map(|r| {
                    def.role(r)
                        .and_then(|x| x.label.clone())
                        .unwrap_or_else(|| r.clone())
                })
                .collect();
            return Err(Error::NotPermitted {
                workflow: def.id.clone(),
                action: action.id.clone(),
                actor: p.id.clone(),
                message: format!(
                    "{} cannot `{}` on case {case_id}: only the {} may",
                    p.id,
                    action.id,
                    roles.join(" or ")
                ),
            });
        }
    }
    if !action.starts_from(&case.state) {
        return Err(Error::GuardRejected {
            workflow: def.id.clone(),
            action: action.id.clone(),
            state: case.state.clone(),
            message: state_refusal(action, &case),
            suggest: suggestions(&def, &case, person),
            rule: "state".into(),
        });
    }
    if let Some(exp) = expected {
        if exp != case.revision {
            return Err(Error::Conflict {
                case_id,
                expected: exp,
                actual: case.revision,
            });
        }
    }
    let info = engine.org_info(db, &case.org)?;
    let cal = Arc::clone(&info.cal);
    let settings = info.settings(&def);
    let inputs = validate_values(
        engine,
        db,
        &action.inputs,
        &inputs,
        &settings,
        "inputs",
        "input",
        &def.id,
        true,
        true,
    )?;
    within_limits(engine, &inputs, "inputs", &def.id)?;
    let now = engine.now();
    let cell = context(engine, &case, &def.id, now, &cal);
    CTX.set(&cell, || {
        let mut run = Run::new(
            engine,
            db,
            &def,
            now,
            cal.clone(),
            settings,
            actor,
            case,
            false,
            &action.id,
        );
        run.inputs = inputs;
        run.execute(Some(action), None)
    })
}

/// Fire one due timer. Returns whether it fired (a stale timer is just removed).
pub(crate) fn fire_timer(
    engine: &Engine,
    db: &dyn Tx,
    t: &TimerRow,
    now: DateTime<Utc>,
    retry: bool,
) -> Result<Firing> {
    let Some(row) = db.load_case(t.case_id)? else {
        if !retry {
            db.delete_timer_id(t.id)?;
        }
        return Ok(Firing::Gone);
    };
    let def = engine.definition_at(db, &row.workflow, row.version)?;
    let case = to_case(&def, row);
    if case.cancelled.is_some() {
        // a cancelled case has no timers: nothing to fire (an incident retry resolves)
        return Ok(Firing::Gone);
    }
    if retry {
        if let Some(e) = Error::held(&case) {
            return Err(e);
        }
    }
    let timer = def
        .state(&t.state)
        .and_then(|s| s.timers.iter().find(|x| x.name == t.name))
        .filter(|_| case.state == t.state);
    let Some(timer) = timer else {
        if !retry {
            db.delete_timer_id(t.id)?;
        }
        return Ok(Firing::Gone);
    };
    if retry
        && !matches!(timer.schedule, Schedule::Every(_))
        && db.case_timers(case.id)?.iter().any(|r| r.name == t.name)
    {
        // the one-shot timer is pending again (its state entered anew, or a migration
        // scheduled it): that firing replaces the failed one
        return Ok(Firing::Superseded);
    }
    let info = engine.org_info(db, &case.org)?;
    let cal = Arc::clone(&info.cal);
    let settings = info.settings(&def);
    let action = timer.action.as_deref().and_then(|a| def.action(a));
    let action_id = timer
        .action
        .clone()
        .unwrap_or_else(|| format!("timer:{}", timer.name));
    let cell = context(engine, &case, &def.id, now, &cal);
    // `None`: the timer's `when` was false, so the firing is skipped (no event).
    let fired = CTX.set(&cell, || -> Result<Option<bool>> {
        let mut run = Run::new(
            engine,
            db,
            &def,
            now,
            cal.clone(),
            settings.clone(),
            Actor::system(),
            case,
            false,
            &action_id,
        );
        if let Some(a) = action {
            run.inputs = validate_values(
                engine,
                db,
                &a.inputs,
                &Map::new(),
                &settings,
                "inputs",
                "input",
                &def.id,
                true,
                true,
            )?;
        }
        if let Some(when) = &timer.when {
            if !run.holds(when)? {
                return Ok(None);
            }
        }
        let decision = run.execute(action, timer.run.as_ref())?;
        db.apply(decision)?;
        Ok(Some(run.state_changed))
    })?;
    let state_changed = fired.unwrap_or(false);
    if retry {
        // an incident's firing: the timer's own row keeps its schedule
    } else {
        match &timer.schedule {
            Schedule::Every(span) if !state_changed => next_period(db, &cal, t, *span, now)?,
            // Entering another state already removed every timer of the case.
            _ if state_changed => {}
            _ => {
                db.consume_timer(t)?;
            }
        }
    }
    Ok(if fired.is_some() {
        Firing::Fired
    } else {
        Firing::Skipped
    })
}

/// A recurring timer that fired (or failed) moves to its next period; one that missed several
/// periods fires once, then resumes at its next period in the future.
fn next_period(
    db: &dyn Tx,
    cal: &BusinessCalendar,
    t: &TimerRow,
    span: Span,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut k = t.fired + 1;
    let mut due = cal.add_times(t.anchor, span, k + 1);
    while due <= now && k < 1_000_000 {
        k += 1;
        due = cal.add_times(t.anchor, span, k + 1);
    }
    db.reschedule_timer(t, due, k)
}

/// What [`fire_timer`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Firing {
    /// The timer ran (its script and/or action).
    Fired,
    /// Its `when` was false: nothing ran.
    Skipped,
    /// The case is gone, left the timer's state, or its definition has no such timer.
    Gone,
    /// (Retries only) the one-shot timer is pending again.
    Superseded,
}

/// After a firing failed and was rolled back: a recurring timer keeps its schedule (it moves
/// to its next period), a one-shot timer is consumed. Returns whether it was recurring.
pub(crate) fn skip_failed_firing(
    engine: &Engine,
    db: &dyn Tx,
    t: &TimerRow,
    now: DateTime<Utc>,
) -> Result<bool> {
    if let Some(row) = db.load_case(t.case_id)? {
        let def = engine.definition_at(db, &row.workflow, row.version)?;
        let every = def
            .state(&t.state)
            .and_then(|s| s.timers.iter().find(|x| x.name == t.name))
            .filter(|_| row.state == t.state)
            .and_then(|x| match x.schedule {
                Schedule::Every(span) => Some(span),
                _ => None,
            });
        if let Some(span) = every {
            let info = engine.org_info(db, &row.org)?;
            next_period(db, &info.cal, t, span, now)?;
            return Ok(true);
        }
    }
    db.delete_timer_id(t.id)?;
    Ok(false)
}

struct Spawn {
    state: String,
    fields: Map<String, Value>,
    data: Map<String, Value>,
    participants: BTreeMap<String, Vec<String>>,
}

struct PendingNotify {
    to: String,
    template: String,
    data: Map<String, Value>,
}

/// The working state of one command.
struct Run<'a> {
    engine: &'a Engine,
    db: &'a dyn Tx,
    def: &'a Definition,
    now: DateTime<Utc>,
    cal: Arc<BusinessCalendar>,
    settings: Arc<Map<String, Value>>,
    actor: Actor,
    inputs: Map<String, Value>,
    case: Case,
    is_new: bool,
    before_state: Option<String>,
    before_revision: u64,
    action_id: String,
    effects: Vec<Effect>,
    notifications: Vec<PendingNotify>,
    signals: Vec<(String, Map<String, Value>)>,
    /// Copies to create: state, field overrides, and the case's data and participants at the
    /// moment `spawn_copy` was called.
    spawns: Vec<Spawn>,
    cancels: Vec<String>,
    /// (added, role, person, logged as an assignment)
    participant_changes: Vec<(bool, String, String, bool)>,
    goto: Option<String>,
    state_changed: bool,
    /// Bumped by every change to the working case; invalidates the cached `case`/`fields`.
    version: u64,
    cache: RefCell<ScopeCache>,
}

/// The cached value, built on first use.
fn cached(slot: &mut Option<Dynamic>, make: impl FnOnce() -> Result<Dynamic>) -> Result<Dynamic> {
    if let Some(v) = slot {
        return Ok(v.clone());
    }
    let v = make()?;
    *slot = Some(v.clone());
    Ok(v)
}

/// Script values converted once per command.
#[derive(Default)]
struct ScopeCache {
    version: u64,
    case: Option<Dynamic>,
    fields: Option<Dynamic>,
    actor: Option<Dynamic>,
    inputs: Option<Dynamic>,
    settings: Option<Dynamic>,
}

impl<'a> Run<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        engine: &'a Engine,
        db: &'a dyn Tx,
        def: &'a Definition,
        now: DateTime<Utc>,
        cal: Arc<BusinessCalendar>,
        settings: Arc<Map<String, Value>>,
        actor: Actor,
        case: Case,
        is_new: bool,
        action_id: &str,
    ) -> Self {
        Run {
            engine,
            db,
            def,
            now,
            cal,
            settings,
            actor,
            inputs: Map::new(),
            before_state: (!is_new).then(|| case.state.clone()),
            before_revision: case.revision,
            case,
            is_new,
            action_id: action_id.to_owned(),
            effects: Vec::new(),
            notifications: Vec::new(),
            signals: Vec::new(),
            spawns: Vec::new(),
            cancels: Vec::new(),
            participant_changes: Vec::new(),
            goto: None,
            state_changed: false,
            version: 0,
            cache: RefCell::new(ScopeCache::default()),
        }
    }

    fn scripts(&self) -> &Scripts {
        &self.engine.inner.scripts
    }

    fn fields_json(&self, hide_private: bool) -> Map<String, Value> {
        self.def
            .fields
            .iter()
            .filter(|f| !(hide_private && f.private))
            .map(|f| {
                (
                    f.name.clone(),
                    self.case.data.get(&f.name).cloned().unwrap_or(Value::Null),
                )
            })
            .collect()
    }

    /// `case` as scripts see it; with `only`, just those members (what the script reads).
    fn case_dynamic(
        &self,
        hide_private: bool,
        with_fields: bool,
        only: Option<&[String]>,
    ) -> Result<Dynamic> {
        let c = &self.case;
        let want = |k: &str| only.is_none_or(|o| o.iter().any(|x| x == k));
        let mut m = rhai::Map::new();
        let ts = |t: DateTime<Utc>| Dynamic::from(t.to_rfc3339_opts(SecondsFormat::Secs, true));
        if want("id") {
            m.insert(
                "id".into(),
                if c.id > 0 {
                    Dynamic::from_int(c.id)
                } else {
                    Dynamic::UNIT
                },
            );
        }
        if want("workflow") {
            m.insert("workflow".into(), Dynamic::from(c.workflow.clone()));
        }
        if want("version") {
            m.insert("version".into(), Dynamic::from_int(i64::from(c.version)));
        }
        if want("state") {
            m.insert("state".into(), Dynamic::from(c.state.clone()));
        }
        if want("state_label") {
            m.insert(
                "state_label".into(),
                Dynamic::from(self.def.state_label(&c.state).to_owned()),
            );
        }
        if want("org") {
            m.insert("org".into(), Dynamic::from(c.org.clone()));
        }
        if want("revision") {
            m.insert("revision".into(), Dynamic::from_int(c.revision as i64));
        }
        if want("created_at") {
            m.insert("created_at".into(), ts(c.created_at));
        }
        if want("updated_at") {
            m.insert("updated_at".into(), ts(c.updated_at));
        }
        if want("parent") {
            m.insert(
                "parent".into(),
                c.parent.map_or(Dynamic::UNIT, Dynamic::from_int),
            );
        }
        if want("participants") {
            m.insert(
                "participants".into(),
                Dynamic::from_map(script::participants_dynamic(&c.participants)),
            );
        }
        if want("tags") {
            let tags: rhai::Array = self
                .def
                .state(&c.state)
                .map(|s| s.tags.iter().map(|t| Dynamic::from(t.clone())).collect())
                .unwrap_or_default();
            m.insert("tags".into(), Dynamic::from_array(tags));
        }
        if with_fields && want("fields") {
            m.insert(
                "fields".into(),
                Dynamic::from_map(
                    script::map_to_rhai(&self.fields_json(hide_private)).map_err(Error::storage)?,
                ),
            );
        }
        for r in self.def.roles.iter().filter(|r| r.is_case_role()) {
            if want(&r.name) {
                let first = c
                    .participant(&r.name)
                    .map_or(Dynamic::UNIT, |p| Dynamic::from(p.to_owned()));
                m.insert(r.name.as_str().into(), first);
            }
        }
        Ok(Dynamic::from_map(m))
    }

    /// Only the named fields, as `fields` holds them (declared fields, unset ones `()`).
    fn fields_only(&self, names: &[String], hide_private: bool) -> Result<Dynamic> {
        let mut m = rhai::Map::new();
        for name in names {
            if let Some(f) = self
                .def
                .field(name)
                .filter(|f| !(hide_private && f.private))
            {
                let v = match self.case.data.get(&f.name) {
                    Some(v) => script::to_dynamic(v).map_err(Error::storage)?,
                    None => Dynamic::UNIT,
                };
                m.insert(name.as_str().into(), v);
            }
        }
        Ok(Dynamic::from_map(m))
    }

    /// Only the named members of `actor`, as [`Run::actor_map`] holds them.
    fn actor_only(&self, names: &[String]) -> Result<Dynamic> {
        let mut m = rhai::Map::new();
        let text = |v: &Option<String>| v.clone().map_or(Dynamic::UNIT, Dynamic::from);
        for name in names {
            let v = match (&self.actor.person, name.as_str()) {
                (Some(p), "id") => Dynamic::from(p.id.clone()),
                (Some(p), "name") => text(&p.name),
                (Some(p), "email") => text(&p.email),
                (Some(p), "org") => text(&p.org),
                (Some(p), "roles") => {
                    Dynamic::from_array(p.roles.iter().map(|r| Dynamic::from(r.clone())).collect())
                }
                (Some(p), other) => match p.attributes.get(other) {
                    Some(v) => script::to_dynamic(v).map_err(Error::storage)?,
                    None => continue,
                },
                (None, "id") => Dynamic::from("system".to_owned()),
                (None, "roles") => Dynamic::from_array(rhai::Array::new()),
                (None, _) => continue,
            };
            m.insert(name.as_str().into(), v);
        }
        Ok(Dynamic::from_map(m))
    }

    fn inputs_json(&self, hide_private: bool) -> Map<String, Value> {
        let private: Vec<&str> = self
            .def
            .action(&self.action_id)
            .map(|a| {
                a.inputs
                    .iter()
                    .filter(|f| f.private)
                    .map(|f| f.name.as_str())
                    .collect()
            })
            .unwrap_or_default();
        self.inputs
            .iter()
            .filter(|(k, _)| !(hide_private && private.contains(&k.as_str())))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn actor_map(&self) -> Map<String, Value> {
        match &self.actor.person {
            Some(p) => p.to_script_map(),
            None => {
                let mut m = Map::new();
                m.insert("id".into(), Value::String("system".into()));
                m.insert("roles".into(), Value::Array(Vec::new()));
                m
            }
        }
    }

    /// A scope binding only the variables `uses` names; of `case`, `fields` and `actor`
    /// only the members it reads when it reads only members. Whole values are converted
    /// once per command and cloned from the cache while the case does not change.
    fn base_scope(&self, uses: &Uses, hide_private: bool) -> Result<Scope<'static>> {
        let conv = |m: &Map<String, Value>| {
            script::map_to_rhai(m)
                .map(Dynamic::from_map)
                .map_err(Error::storage)
        };
        // Only what the script names is bound (strict variables were checked at load, and
        // `uses` over-approximates what the script reads).
        let mut s = Scope::new();
        if hide_private {
            // templates: not cached, private values removed
            if uses.has("case") {
                let only = uses.members("case");
                bind(&mut s, "case", self.case_dynamic(true, true, only)?);
            }
            if uses.has("fields") {
                let v = match uses.members("fields") {
                    Some(names) => self.fields_only(names, true)?,
                    None => conv(&self.fields_json(true))?,
                };
                bind(&mut s, "fields", v);
            }
            if uses.has("inputs") {
                bind(&mut s, "inputs", conv(&self.inputs_json(true))?);
            }
        }
        let mut cache = self.cache.borrow_mut();
        if cache.version != self.version {
            cache.case = None;
            cache.fields = None;
            cache.version = self.version;
        }
        if !hide_private && uses.has("case") {
            let case = match uses.members("case") {
                Some(only) => self.case_dynamic(false, true, Some(only))?,
                None if uses.case_fields() => self.case_dynamic(false, true, None)?,
                None => cached(&mut cache.case, || self.case_dynamic(false, false, None))?,
            };
            bind(&mut s, "case", case);
        }
        if !hide_private && uses.has("fields") {
            let v = match uses.members("fields") {
                Some(names) => self.fields_only(names, false)?,
                None => cached(&mut cache.fields, || conv(&self.fields_json(false)))?,
            };
            bind(&mut s, "fields", v);
        }
        if uses.has("actor") {
            let v = match uses.members("actor") {
                Some(names) => self.actor_only(names)?,
                None => cached(&mut cache.actor, || match &self.actor.person {
                    Some(p) => script::person_dynamic(p)
                        .map(Dynamic::from_map)
                        .map_err(Error::storage),
                    None => conv(&self.actor_map()),
                })?,
            };
            bind(&mut s, "actor", v);
        }
        if !hide_private && uses.has("inputs") {
            let v = cached(&mut cache.inputs, || conv(&self.inputs_json(false)))?;
            bind(&mut s, "inputs", v);
        }
        if uses.has("settings") {
            let v = cached(&mut cache.settings, || conv(&self.settings))?;
            bind(&mut s, "settings", v);
        }
        if uses.has("now") {
            bind(
                &mut s,
                "now",
                Dynamic::from(self.now.to_rfc3339_opts(SecondsFormat::Secs, true)),
            );
        }
        Ok(s)
    }

    fn set_mode(&self, mode: Mode) {
        CTX.with(|c| {
            let mut c = c.borrow_mut();
            c.mode = mode;
            c.ops.clear();
            c.fail = None;
            c.case_id = (self.case.id > 0).then_some(self.case.id);
        });
    }

    /// Evaluate a condition (a timer's `when`) in the read scope.
    fn holds(&self, s: &Script) -> Result<bool> {
        self.set_mode(Mode::Read);
        let mut scope = self.base_scope(&s.uses, false)?;
        self.scripts().test(s, &mut scope)
    }

    /// Evaluate a guard or check; when false, its message (rendered in the scope the
    /// expression ran in, so it reads the values the expression named).
    fn refusal(&self, c: &Check) -> Result<Option<String>> {
        let uses = c
            .message_script
            .as_ref()
            .map_or_else(|| c.when.uses.clone(), |m| c.when.uses.with(&m.uses));
        let mut scope = self.base_scope(&uses, false)?;
        if self.scripts().test(&c.when, &mut scope)? {
            return Ok(None);
        }
        match &c.message_script {
            Some(m) => self.scripts().render(m, &mut scope).map(Some),
            None => Ok(Some(c.message.clone())),
        }
    }

    fn check_guards(&self, action: &Action) -> Result<()> {
        self.set_mode(Mode::Read);
        for (i, g) in action.guards.iter().enumerate() {
            if let Some(message) = self.refusal(g)? {
                return Err(Error::GuardRejected {
                    workflow: self.def.id.clone(),
                    action: action.id.clone(),
                    state: self.case.state.clone(),
                    message,
                    suggest: g.suggest.clone(),
                    rule: format!("guard[{i}]"),
                });
            }
        }
        Ok(())
    }

    /// Run an effect script: collect its field changes and operations, and apply them.
    fn run_effect(&mut self, script: &Script, allow_goto: bool) -> Result<()> {
        // an effect may change `fields`: it always gets its own copy
        let mut scope = self.base_scope(&script.uses, false)?;
        self.set_mode(Mode::Effect);
        let result = self.scripts().run(script, &mut scope);
        let (ops, fail) = CTX.with(|c| {
            let mut c = c.borrow_mut();
            c.mode = Mode::Read;
            (std::mem::take(&mut c.ops), c.fail.take())
        });
        if let Err(e) = result {
            if let Some((message, suggest)) = fail {
                return Err(Error::GuardRejected {
                    workflow: self.def.id.clone(),
                    action: self.action_id.clone(),
                    state: self.case.state.clone(),
                    message,
                    suggest,
                    rule: "fail".into(),
                });
            }
            return Err(e);
        }
        let fields: Dynamic = if script.uses.has("fields") {
            scope.get_value("fields").unwrap_or(Dynamic::UNIT)
        } else {
            Dynamic::from_map(rhai::Map::new())
        };
        let Some(map) = fields.try_cast::<rhai::Map>() else {
            return Err(script.error_at(rhai::Position::NONE, "`fields` must stay a map"));
        };
        for (k, v) in map {
            let name = k.to_string();
            if self.def.field(&name).is_none() {
                return Err(script.error_at(
                    rhai::Position::NONE,
                    format!("unknown field `{name}` set on `fields`"),
                ));
            }
            let value =
                script::to_json(&v).map_err(|e| script.error_at(rhai::Position::NONE, e))?;
            let old = self.case.data.get(&name).cloned().unwrap_or(Value::Null);
            if value != old {
                self.set_field(&name, value, Some(script))?;
            }
        }
        for op in ops {
            self.apply(op, script, allow_goto)?;
        }
        Ok(())
    }

    fn set_field(&mut self, name: &str, value: Value, by: Option<&Script>) -> Result<()> {
        let value = if value.is_null() {
            Value::Null
        } else {
            let f = self.def.field(name).ok_or_else(|| {
                Error::validation(format!("fields.{name}"), format!("unknown field `{name}`"))
            })?;
            f.check(&value, &self.settings)
                .map_err(|m| Error::Validation {
                    workflow: Some(self.def.id.clone()),
                    field: Some(format!("fields.{name}")),
                    message: match by {
                        Some(s) => format!("field `{name}` set by `{}` {m}", s.place.path),
                        None => format!("field `{name}` {m}"),
                    },
                })?
        };
        if value.is_null() {
            self.case.data.remove(name);
        } else {
            self.case.data.insert(name.to_owned(), value.clone());
        }
        self.effects.push(Effect::Set {
            field: name.to_owned(),
            value,
        });
        self.version += 1;
        Ok(())
    }

    /// Give a person a case role. `log` records it as an assignment (for capacity rules);
    /// the role a starter takes automatically is not one.
    fn assign(&mut self, role: &str, person: &str, log: bool) -> Result<()> {
        let many = self.def.role(role).is_some_and(|r| r.many);
        if self.case.has_participant(person, Some(role)) {
            return Ok(());
        }
        if !many {
            let holders: Vec<String> = self
                .case
                .participants
                .get(role)
                .cloned()
                .unwrap_or_default();
            for h in holders {
                self.unassign(role, &h);
            }
        }
        self.case
            .participants
            .entry(role.to_owned())
            .or_default()
            .push(person.to_owned());
        self.participant_changes
            .push((true, role.to_owned(), person.to_owned(), log));
        self.effects.push(Effect::Assign {
            role: role.to_owned(),
            person: person.to_owned(),
        });
        self.version += 1;
        Ok(())
    }

    fn unassign(&mut self, role: &str, person: &str) {
        let mut removed = false;
        if let Some(ids) = self.case.participants.get_mut(role) {
            let before = ids.len();
            ids.retain(|p| p != person);
            removed = ids.len() != before;
            if ids.is_empty() {
                self.case.participants.remove(role);
            }
        }
        if removed {
            self.participant_changes
                .push((false, role.to_owned(), person.to_owned(), false));
            self.effects.push(Effect::Unassign {
                role: role.to_owned(),
                person: person.to_owned(),
            });
            self.version += 1;
        }
    }

    fn case_role(&self, role: &str, script: &Script, func: &str) -> Result<()> {
        match self.def.role(role) {
            Some(r) if r.is_case_role() => Ok(()),
            Some(_) => Err(script.error_at(
                rhai::Position::NONE,
                format!("{func}: `{role}` is a directory role; only case roles can be assigned"),
            )),
            None => Err(script.error_at(
                rhai::Position::NONE,
                format!("{func}: unknown role `{role}`"),
            )),
        }
    }

    fn apply(&mut self, op: Op, script: &Script, allow_goto: bool) -> Result<()> {
        match op {
            Op::Assign { role, person } => {
                self.case_role(&role, script, "assign")?;
                if lookup_person(self.engine, self.db, &person)?.is_none() {
                    return Err(Error::Validation {
                        workflow: Some(self.def.id.clone()),
                        field: Some(role.clone()),
                        message: format!(
                            "cannot assign `{person}` as {role}: no such person in the directory"
                        ),
                    });
                }
                self.assign(&role, &person, true)?;
            }
            Op::Unassign { role, person } => {
                self.case_role(&role, script, "unassign")?;
                let targets = match person {
                    Some(p) => vec![p],
                    None => self
                        .case
                        .participants
                        .get(&role)
                        .cloned()
                        .unwrap_or_default(),
                };
                for p in targets {
                    self.unassign(&role, &p);
                }
            }
            Op::Note { text } => {
                if text.trim().is_empty() {
                    return Err(
                        script.error_at(rhai::Position::NONE, "add_note: the note is empty")
                    );
                }
                self.effects.push(Effect::Note { text });
            }
            Op::Notify { to, template, data } => {
                if self.def.template(&template).is_none() {
                    return Err(script.error_at(
                        rhai::Position::NONE,
                        format!("notify: unknown template `{template}`"),
                    ));
                }
                for t in to {
                    self.notifications.push(PendingNotify {
                        to: t,
                        template: template.clone(),
                        data: data.clone(),
                    });
                }
            }
            Op::NotifyRole {
                role,
                template,
                data,
            } => {
                if self.def.template(&template).is_none() {
                    return Err(script.error_at(
                        rhai::Position::NONE,
                        format!("notify_role: unknown template `{template}`"),
                    ));
                }
                let r = self.def.role(&role).ok_or_else(|| {
                    script.error_at(
                        rhai::Position::NONE,
                        format!("notify_role: unknown role `{role}`"),
                    )
                })?;
                let people: Vec<String> = if r.is_case_role() {
                    self.case
                        .participants
                        .get(&role)
                        .cloned()
                        .unwrap_or_default()
                } else {
                    let mut ids = Vec::new();
                    for d in &r.directory {
                        let mut filter = Map::new();
                        filter.insert("role".into(), Value::String(d.clone()));
                        for p in store::people_matching(self.db, &self.case.org, &filter)? {
                            if let Some(Value::String(id)) = p.get("id") {
                                if !ids.contains(id) {
                                    ids.push(id.clone());
                                }
                            }
                        }
                    }
                    ids
                };
                for t in people {
                    self.notifications.push(PendingNotify {
                        to: t,
                        template: template.clone(),
                        data: data.clone(),
                    });
                }
            }
            Op::Goto { state } => {
                if !allow_goto {
                    return Err(script.error_at(rhai::Position::NONE, "goto is only allowed in the `run` of an action whose `to` lists several states"));
                }
                self.goto = Some(state);
            }
            Op::Spawn { state, fields } => {
                if self.def.state(&state).is_none() {
                    return Err(script.error_at(
                        rhai::Position::NONE,
                        format!("spawn_copy: unknown state `{state}`"),
                    ));
                }
                self.spawns.push(Spawn {
                    state,
                    fields,
                    data: self.case.data.clone(),
                    participants: self.case.participants.clone(),
                });
            }
            Op::Emit { kind, data } => self.signals.push((kind, data)),
            Op::CancelTimer { name } => self.cancels.push(name),
        }
        Ok(())
    }

    /// Guards, effects, transition, hooks, checks, then the writes.
    fn execute(&mut self, action: Option<&Action>, pre: Option<&Script>) -> Result<Decision> {
        if let Some(a) = action {
            self.check_guards(a)?;
        }
        if let Some(s) = pre {
            self.run_effect(s, false)?;
        }
        if let Some(run) = action.and_then(|a| a.run.as_ref()) {
            self.run_effect(run, true)?;
        }
        let target = match action.map(|a| &a.to) {
            None | Some(Target::Stay) => None,
            Some(Target::To(s)) => Some(s.clone()),
            Some(Target::Choice(choices)) => match self.goto.take() {
                Some(g) if choices.contains(&g) => Some(g),
                Some(g) => {
                    let place = action.and_then(|a| a.run.as_ref());
                    return Err(match place {
                        Some(s) => s.error_at(
                            rhai::Position::NONE,
                            format!(
                                "goto(\"{g}\"): `{g}` is not one of this action's targets ({})",
                                choices.join(", ")
                            ),
                        ),
                        None => Error::storage("goto without a script"),
                    });
                }
                None => {
                    let place = action.and_then(|a| a.run.as_ref());
                    return Err(match place {
                        Some(s) => s.error_at(
                            rhai::Position::NONE,
                            format!(
                                "the action must choose its target with goto(...) (one of {})",
                                choices.join(", ")
                            ),
                        ),
                        None => Error::storage("action without a target"),
                    });
                }
            },
        };
        if let Some(target) = target {
            if self.is_new || target != self.case.state {
                if !self.is_new {
                    if let Some(h) = self
                        .def
                        .state(&self.case.state)
                        .and_then(|s| s.on_exit.as_ref())
                    {
                        self.run_effect(h, false)?;
                    }
                }
                self.case.state = target.clone();
                self.version += 1;
                self.state_changed = true;
                if let Some(h) = self.def.state(&target).and_then(|s| s.on_enter.as_ref()) {
                    self.run_effect(h, false)?;
                }
            }
        }
        self.check_fields()?;
        self.decide()
    }

    fn check_fields(&self) -> Result<()> {
        for f in &self.def.fields {
            if f.required && !self.case.data.contains_key(&f.name) {
                let label = f.label.as_deref().unwrap_or(&f.name);
                return Err(Error::Validation {
                    workflow: Some(self.def.id.clone()),
                    field: Some(format!("fields.{}", f.name)),
                    message: format!("field `{}` ({label}) is required", f.name),
                });
            }
        }
        self.set_mode(Mode::Read);
        for c in &self.def.checks {
            if let Some(message) = self.refusal(c)? {
                return Err(Error::Validation {
                    workflow: Some(self.def.id.clone()),
                    field: None,
                    message,
                });
            }
        }
        Ok(())
    }

    /// The decision of the command: the final snapshot, participants, timers, rendered
    /// notifications, signals, copies and the event. Reads only (the directory, to render
    /// notifications; the case's timers when a script cancels one); the store writes it.
    fn decide(&mut self) -> Result<Decision> {
        within_limits(self.engine, &self.case.data, "fields", &self.def.id)?;
        let st = self.def.state(&self.case.state);
        self.case.revision = self.before_revision + 1;
        self.case.updated_at = self.now;
        self.case.open = !st.is_some_and(|s| s.is_final);
        self.case.state_label = self.def.state_label(&self.case.state).to_owned();
        self.case.tags = st.map(|s| s.tags.clone()).unwrap_or_default();
        if self.is_new {
            self.case.created_at = self.now;
        }
        let participants = std::mem::take(&mut self.participant_changes)
            .into_iter()
            .map(|(added, role, person, log)| ParticipantChange {
                added,
                role,
                person,
                log,
            })
            .collect();
        let cancels = std::mem::take(&mut self.cancels);
        let existing: Vec<String> = if cancels.is_empty() || self.state_changed || self.is_new {
            Vec::new()
        } else {
            self.existing_timers()?
        };
        let changed: Vec<String> = self
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Set { field, .. } => Some(field.clone()),
                _ => None,
            })
            .collect();
        let (timers, timer_effects) = plan_timers(
            &self.cal,
            st,
            self.state_changed,
            &changed,
            &cancels,
            &existing,
            &self.case.data,
            self.now,
        );
        self.effects.extend(timer_effects);
        // notifications, rendered on the final snapshot, private fields hidden
        let mut outbox = Vec::new();
        for n in std::mem::take(&mut self.notifications) {
            let (subject, body) = self.render(&n)?;
            self.effects.push(Effect::Notify {
                id: 0,
                to: n.to.clone(),
                template: n.template.clone(),
            });
            outbox.push(OutboxEntry {
                kind: OutboxKind::Notification,
                recipient: Some(n.to),
                template: n.template,
                subject,
                body,
                data: n.data,
            });
        }
        for (kind, data) in std::mem::take(&mut self.signals) {
            self.effects.push(Effect::Signal {
                id: 0,
                kind: kind.clone(),
            });
            outbox.push(OutboxEntry {
                kind: OutboxKind::Signal,
                recipient: None,
                template: kind,
                subject: String::new(),
                body: String::new(),
                data,
            });
        }
        let mut copies = Vec::new();
        for sp in std::mem::take(&mut self.spawns) {
            let state = sp.state.clone();
            copies.push(self.spawn(sp)?);
            self.effects.push(Effect::Spawn { case: 0, state });
        }
        let event = Event {
            id: 0,
            case_id: self.case.id,
            seq: self.case.revision,
            at: self.now,
            actor: self.actor.id.clone(),
            action: self.action_id.clone(),
            from_state: self.before_state.clone(),
            to_state: self.case.state.clone(),
            inputs: self
                .inputs
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            effects: std::mem::take(&mut self.effects),
        };
        Ok(Decision {
            case: std::mem::replace(&mut self.case, empty_case()),
            expected_revision: (!self.is_new).then_some(self.before_revision),
            participants,
            timers,
            outbox,
            copies,
            event,
        })
    }

    /// The names of the case's stored timers (read when a script cancels one, to record
    /// only the cancellations that removed something).
    fn existing_timers(&self) -> Result<Vec<String>> {
        Ok(self
            .db
            .case_timers(self.case.id)?
            .into_iter()
            .map(|t| t.name)
            .collect())
    }

    fn render(&self, n: &PendingNotify) -> Result<(String, String)> {
        let Some(t) = self.def.template(&n.template) else {
            return Err(Error::storage(format!("unknown template `{}`", n.template)));
        };
        self.set_mode(Mode::Read);
        let mut scope = self.base_scope(&Uses::all(), true)?;
        let recipient = match lookup_person(self.engine, self.db, &n.to)? {
            Some(p) => p.to_script_map(),
            None => {
                let mut m = Map::new();
                m.insert("id".into(), Value::String(n.to.clone()));
                m.insert("name".into(), Value::String(n.to.clone()));
                m
            }
        };
        let conv = |m: &Map<String, Value>| {
            script::map_to_rhai(m)
                .map(Dynamic::from_map)
                .map_err(Error::storage)
        };
        bind(&mut scope, "recipient", conv(&recipient)?);
        bind(&mut scope, "data", conv(&n.data)?);
        let subject = self.scripts().render(&t.subject, &mut scope)?;
        let body = self.scripts().render(&t.body, &mut scope)?;
        Ok((subject, body))
    }

    /// A linked copy, as the decision of its own start.
    fn spawn(&self, sp: Spawn) -> Result<Decision> {
        let Spawn {
            state,
            fields,
            mut data,
            participants,
        } = sp;
        let state = state.as_str();
        let def = self.def;
        let mut effects = vec![Effect::CopiedFrom { case: self.case.id }];
        for (k, v) in fields {
            let f = def.field(&k).ok_or_else(|| {
                Error::validation(
                    format!("fields.{k}"),
                    format!("spawn_copy: unknown field `{k}`"),
                )
            })?;
            if v.is_null() {
                data.remove(&k);
            } else {
                let v = f.check(&v, &self.settings).map_err(|m| {
                    Error::validation(
                        format!("fields.{k}"),
                        format!("spawn_copy: field `{k}` {m}"),
                    )
                })?;
                data.insert(k, v);
            }
        }
        for (k, v) in &data {
            effects.push(Effect::Set {
                field: k.clone(),
                value: v.clone(),
            });
        }
        let st = def.state(state);
        let copy = Case {
            id: 0,
            workflow: def.id.clone(),
            version: def.version,
            org: self.case.org.clone(),
            state: state.to_owned(),
            state_label: def.state_label(state).to_owned(),
            tags: st.map(|s| s.tags.clone()).unwrap_or_default(),
            open: !st.is_some_and(|s| s.is_final),
            data,
            participants,
            revision: 1,
            created_at: self.now,
            updated_at: self.now,
            parent: Some(self.case.id),
            suspended: None,
            cancelled: None,
        };
        let mut participants = Vec::new();
        for (role, ids) in &copy.participants {
            for p in ids {
                participants.push(ParticipantChange {
                    added: true,
                    role: role.clone(),
                    person: p.clone(),
                    log: false,
                });
                effects.push(Effect::Assign {
                    role: role.clone(),
                    person: p.clone(),
                });
            }
        }
        let (timers, timer_effects) =
            plan_timers(&self.cal, st, true, &[], &[], &[], &copy.data, self.now);
        effects.extend(timer_effects);
        Ok(Decision {
            event: Event {
                id: 0,
                case_id: 0,
                seq: 1,
                at: self.now,
                actor: self.actor.id.clone(),
                action: self.action_id.clone(),
                from_state: None,
                to_state: state.to_owned(),
                inputs: Map::new(),
                effects,
            },
            case: copy,
            expected_revision: None,
            participants,
            timers,
            outbox: Vec::new(),
            copies: Vec::new(),
        })
    }
}

/// A placeholder left in a finished command.
pub(crate) fn empty_case() -> Case {
    Case {
        id: 0,
        workflow: String::new(),
        version: 0,
        org: String::new(),
        state: String::new(),
        state_label: String::new(),
        tags: Vec::new(),
        open: false,
        data: Map::new(),
        participants: BTreeMap::new(),
        revision: 0,
        created_at: DateTime::<Utc>::MIN_UTC,
        updated_at: DateTime::<Utc>::MIN_UTC,
        parent: None,
        suspended: None,
        cancelled: None,
    }
}

/// How a command changes a case's timers, and the effects it records. Entering a state
/// (`entered`) replaces every timer with the state's; otherwise an `at` timer whose field
/// changed moves with it. Then each cancelled name goes, recording a `TimerCancelled` only
/// if such a timer existed (`existing`: the stored names, read only for cancellations).
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan_timers(
    cal: &BusinessCalendar,
    state: Option<&State>,
    entered: bool,
    changed_fields: &[String],
    cancels: &[String],
    existing: &[String],
    data: &Map<String, Value>,
    now: DateTime<Utc>,
) -> (TimerPlan, Vec<Effect>) {
    let mut plan = TimerPlan {
        clear: entered,
        ..TimerPlan::default()
    };
    let mut effects = Vec::new();
    let mut present: Vec<String> = if entered {
        Vec::new()
    } else {
        existing.to_vec()
    };
    if let Some(state) = state {
        for t in &state.timers {
            let follows = match &t.schedule {
                Schedule::At { field, .. } => changed_fields.contains(field),
                _ => false,
            };
            if !entered && !follows {
                continue;
            }
            if !entered {
                plan.remove.push(t.name.clone());
                present.retain(|n| *n != t.name);
            }
            if let Some(due) = timer_due(cal, t, data, now) {
                plan.schedule.push(NewTimer {
                    state: state.id.clone(),
                    name: t.name.clone(),
                    due,
                    anchor: now,
                });
                present.push(t.name.clone());
                effects.push(Effect::TimerScheduled {
                    name: t.name.clone(),
                    due,
                });
            }
        }
    }
    for name in cancels {
        if present.contains(name) {
            present.retain(|n| n != name);
            effects.push(Effect::TimerCancelled { name: name.clone() });
        }
        plan.schedule.retain(|t| t.name != *name);
        if !entered && !plan.remove.contains(name) {
            plan.remove.push(name.clone());
        }
    }
    (plan, effects)
}

/// When a timer entered now is first due (`None` for an `at` timer whose field is empty).
pub(crate) fn timer_due(
    cal: &BusinessCalendar,
    t: &Timer,
    data: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    match &t.schedule {
        Schedule::After(span) => Some(cal.add(now, *span)),
        Schedule::Every(span) => Some(cal.add_times(now, *span, 1)),
        Schedule::At { field, offset } => {
            let base = match data.get(field)? {
                Value::String(s) => {
                    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
                        cal.next_local_time(d, NaiveTime::MIN)
                    } else {
                        DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc)
                    }
                }
                _ => return None,
            };
            Some(match offset {
                None => base,
                Some((false, span)) => cal.add(base, *span),
                Some((true, span)) => cal.sub(base, *span),
            })
        }
    }
}

/// The decision logic without a database: which timers a command writes, drops and records,
/// and how the store's ids fill the event.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::script::Limits;

    const FLOW: &str = r#"
workflow: timers_flow
version: 1
roles:
  owner: {}
fields:
  due: { type: date }
states:
  open:
    timers:
      - name: nudge
        after: 24h
        run: 'note("nudge")'
      - name: deadline
        at: due
        run: 'note("deadline")'
  done: { final: true }
actions:
  create: { to: open, by: owner }
  finish: { from: open, to: done, by: owner }
"#;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-02T09:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn open_state(def: &Definition) -> &State {
        def.state("open").unwrap()
    }

    fn def() -> Definition {
        crate::definition::load_str(FLOW, "timers_flow.yaml", &Scripts::new(Limits::default()))
            .unwrap()
    }

    fn data(due: Option<&str>) -> Map<String, Value> {
        let mut m = Map::new();
        if let Some(d) = due {
            m.insert("due".into(), Value::String(d.into()));
        }
        m
    }

    fn names(p: &TimerPlan) -> Vec<&str> {
        p.schedule.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn entering_a_state_replaces_every_timer_with_its_own() {
        let def = def();
        let cal = BusinessCalendar::default();
        let (plan, effects) = plan_timers(
            &cal,
            Some(open_state(&def)),
            true,
            &[],
            &[],
            &[],
            &data(Some("2026-03-10")),
            now(),
        );
        assert!(plan.clear);
        assert!(plan.remove.is_empty());
        assert_eq!(names(&plan), ["nudge", "deadline"]);
        assert_eq!(plan.schedule[0].due, now() + chrono::Duration::hours(24));
        assert_eq!(plan.schedule[0].anchor, now());
        assert_eq!(effects.len(), 2);
        // an `at` timer whose field is empty is not scheduled
        let (plan, _) = plan_timers(
            &cal,
            Some(open_state(&def)),
            true,
            &[],
            &[],
            &[],
            &data(None),
            now(),
        );
        assert_eq!(names(&plan), ["nudge"]);
    }

    #[test]
    fn an_at_timer_follows_its_field_and_nothing_else_moves() {
        let def = def();
        let cal = BusinessCalendar::default();
        let existing = vec!["nudge".to_owned(), "deadline".to_owned()];
        let (plan, effects) = plan_timers(
            &cal,
            Some(open_state(&def)),
            false,
            &["due".to_owned()],
            &[],
            &existing,
            &data(Some("2026-03-12")),
            now(),
        );
        assert!(!plan.clear);
        assert_eq!(plan.remove, ["deadline"]);
        assert_eq!(names(&plan), ["deadline"]);
        assert!(
            matches!(&effects[..], [Effect::TimerScheduled { name, .. }] if name == "deadline")
        );
        // another field changing moves nothing
        let (plan, effects) = plan_timers(
            &cal,
            Some(open_state(&def)),
            false,
            &["other".to_owned()],
            &[],
            &existing,
            &data(Some("2026-03-12")),
            now(),
        );
        assert_eq!(plan, TimerPlan::default());
        assert!(effects.is_empty());
    }

    #[test]
    fn a_cancellation_is_recorded_only_when_it_removes_a_timer() {
        let def = def();
        let cal = BusinessCalendar::default();
        let cancels = vec!["nudge".to_owned(), "never_there".to_owned()];
        let (plan, effects) = plan_timers(
            &cal,
            Some(open_state(&def)),
            false,
            &[],
            &cancels,
            &["nudge".to_owned()],
            &data(None),
            now(),
        );
        assert_eq!(plan.remove, ["nudge", "never_there"]);
        assert_eq!(
            effects,
            [Effect::TimerCancelled {
                name: "nudge".into()
            }]
        );
        // cancelling a timer of the state just entered: scheduled, then cancelled, not written
        let (plan, effects) = plan_timers(
            &cal,
            Some(open_state(&def)),
            true,
            &[],
            &["nudge".to_owned()],
            &[],
            &data(Some("2026-03-10")),
            now(),
        );
        assert_eq!(names(&plan), ["deadline"]);
        assert_eq!(effects.len(), 3);
        assert!(matches!(&effects[2], Effect::TimerCancelled { name } if name == "nudge"));
    }

    #[test]
    fn the_store_fills_ids_into_the_event_in_order() {
        let mut event = Event {
            id: 0,
            case_id: 0,
            seq: 1,
            at: now(),
            actor: "pat".into(),
            action: "create".into(),
            from_state: None,
            to_state: "open".into(),
            inputs: Map::new(),
            effects: vec![
                Effect::Notify {
                    id: 0,
                    to: "a".into(),
                    template: "t".into(),
                },
                Effect::Note { text: "x".into() },
                Effect::Signal {
                    id: 0,
                    kind: "k".into(),
                },
                Effect::Spawn {
                    case: 0,
                    state: "open".into(),
                },
            ],
        };
        Decision::fill_ids(&mut event, 7, &[11, 12], &[8]);
        assert_eq!(event.case_id, 7);
        assert!(matches!(event.effects[0], Effect::Notify { id: 11, .. }));
        assert!(matches!(event.effects[2], Effect::Signal { id: 12, .. }));
        assert!(matches!(event.effects[3], Effect::Spawn { case: 8, .. }));
    }
}
