//! Views (per-viewer lists, as indexed SQL queries) and exports (tables over cases).

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;

use rhai::Dynamic;
use rusqlite::Connection;
use serde_json::{Map, Value};

use super::step::{can_see, resolve_actor, to_case};
use super::{Case, CaseFilter, Engine, Table};
use crate::definition::{Definition, Export, View};
use crate::error::{Error, Result};
use crate::script::{self, bind, Scripts, CTX};
use crate::store;

/// Find a view or export by `name` or `workflow.name` across the loaded workflows.
fn find<'d, T>(
    defs: &'d [Arc<Definition>],
    name: &str,
    kind: &'static str,
    get: impl Fn(&'d Definition, &str) -> Option<&'d T>,
) -> Result<(&'d Arc<Definition>, &'d T)> {
    if let Some((wf, n)) = name.split_once('.') {
        let d = defs
            .iter()
            .find(|d| d.id == wf)
            .ok_or_else(|| Error::not_found("workflow", wf))?;
        return get(d, n)
            .map(|v| (d, v))
            .ok_or_else(|| Error::not_found(kind, name));
    }
    let found: Vec<_> = defs
        .iter()
        .filter_map(|d| get(d, name).map(|v| (d, v)))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::not_found(kind, name)),
        many => Err(Error::Validation {
            workflow: None,
            field: Some(kind.into()),
            message: format!(
                "{kind} `{name}` exists in several workflows; write it as {}",
                many.iter()
                    .map(|(d, _)| format!("`{}.{name}`", d.id))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        }),
    }
}

fn placeholders(n: usize, start: usize) -> String {
    (0..n)
        .map(|i| format!("?{}", start + i))
        .collect::<Vec<_>>()
        .join(", ")
}

fn sort_sql(view: &View) -> String {
    let dir = if view.sort.descending { "DESC" } else { "ASC" };
    match view.sort.key.as_str() {
        "created" => format!("c.created_at {dir}, c.id {dir}"),
        "updated" => format!("c.updated_at {dir}, c.id {dir}"),
        "id" => format!("c.id {dir}"),
        // field sorts happen after loading
        _ => format!("c.id {dir}"),
    }
}

pub(crate) fn view(
    engine: &Engine,
    db: &Connection,
    name: &str,
    viewer: &str,
) -> Result<Vec<Case>> {
    let defs = engine.definitions();
    let (def, view) = find(&defs, name, "view", |d, n| d.view(n))?;
    let actor = resolve_actor(engine, db, viewer)?;
    let Some(person) = actor.person.as_ref() else {
        return Ok(Vec::new());
    };
    let columns = store::case_columns();
    let state_filter = |start: usize| {
        if view.states.is_empty() {
            String::new()
        } else {
            format!(
                " AND c.state IN ({})",
                placeholders(view.states.len(), start)
            )
        }
    };
    let mut case_roles = Vec::new();
    let mut directory = false;
    for r in &view.viewer {
        if let Some(role) = def.role(r) {
            if role.is_case_role() {
                case_roles.push(r.clone());
            } else if role.directory.iter().any(|d| person.has_role(d)) {
                directory = true;
            }
        }
    }
    let mut rows = Vec::new();
    let order = sort_sql(view);
    if !case_roles.is_empty() {
        let sql = format!(
            "SELECT DISTINCT {columns} FROM participants p JOIN cases c ON c.id = p.case_id
             WHERE p.person = ?1 AND p.role IN ({}) AND c.workflow = ?{}{} ORDER BY {order}",
            placeholders(case_roles.len(), 2),
            case_roles.len() + 2,
            state_filter(case_roles.len() + 3),
        );
        let mut params: Vec<&dyn rusqlite::ToSql> = vec![&person.id];
        for r in &case_roles {
            params.push(r);
        }
        params.push(&def.id);
        for s in &view.states {
            params.push(s);
        }
        rows.extend(store::query_cases(db, &sql, &params)?);
    }
    if directory {
        if let Some(org) = &person.org {
            let sql = format!(
                "SELECT {columns} FROM cases c WHERE c.workflow = ?1 AND c.org = ?2{} ORDER BY {order}",
                state_filter(3)
            );
            let mut params: Vec<&dyn rusqlite::ToSql> = vec![&def.id, org];
            for s in &view.states {
                params.push(s);
            }
            rows.extend(store::query_cases(db, &sql, &params)?);
        }
    }
    let mut seen = BTreeSet::new();
    let mut cases: Vec<Case> = Vec::with_capacity(rows.len());
    for row in rows {
        if !seen.insert(row.id) {
            continue;
        }
        let d = engine.definition_at(db, &row.workflow, row.version)?;
        cases.push(to_case(&d, row));
    }
    if let Some(filter) = &view.filter {
        let mut kept = Vec::with_capacity(cases.len());
        for c in cases {
            if eval_on_case(engine, db, def, &c, filter, |scope| {
                bind(
                    scope,
                    "viewer",
                    script::to_dynamic(&Value::Object(person.to_script_map()))
                        .unwrap_or(Dynamic::UNIT),
                );
            })?
            .as_bool()
            .unwrap_or(false)
            {
                kept.push(c);
            }
        }
        cases = kept;
    }
    let key = view.sort.key.as_str();
    if !["created", "updated", "id"].contains(&key) {
        cases.sort_by(|a, b| {
            let (x, y) = (a.data.get(key), b.data.get(key));
            let o = cmp_values(x, y).then(a.id.cmp(&b.id));
            if view.sort.descending {
                o.reverse()
            } else {
                o
            }
        });
    } else if case_roles.len() + usize::from(directory) > 1 {
        // two queries were merged: restore the order
        cases.sort_by(|a, b| {
            let o = match key {
                "created" => a.created_at.cmp(&b.created_at),
                "updated" => a.updated_at.cmp(&b.updated_at),
                _ => std::cmp::Ordering::Equal,
            }
            .then(a.id.cmp(&b.id));
            if view.sort.descending {
                o.reverse()
            } else {
                o
            }
        });
    }
    Ok(cases)
}

fn cmp_values(a: Option<&Value>, b: Option<&Value>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, _) => Ordering::Greater,
        (_, None) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(x), Some(y)) => x.to_string().cmp(&y.to_string()),
    }
}

/// Evaluate a read-only expression on a case (view filters, export columns).
fn eval_on_case(
    engine: &Engine,
    db: &Connection,
    def: &Definition,
    case: &Case,
    script: &crate::definition::Script,
    extra: impl FnOnce(&mut rhai::Scope<'static>),
) -> Result<Dynamic> {
    with_case_scope(engine, db, def, case, |scope| {
        let mut scope = scope.clone();
        extra(&mut scope);
        engine.inner.scripts.run(script, &mut scope)
    })
}

/// Run `f` with a read-only scope of a case and the script context of its organisation,
/// both built once however many scripts `f` runs.
fn with_case_scope<T>(
    engine: &Engine,
    db: &Connection,
    def: &Definition,
    case: &Case,
    f: impl FnOnce(&rhai::Scope<'static>) -> Result<T>,
) -> Result<T> {
    let info = engine.org_info(db, &case.org)?;
    let cal = Arc::clone(&info.cal);
    let settings = info.settings(def);
    let cell = RefCell::new(script::Ctx::new(
        &case.org,
        &def.id,
        Some(case.id),
        engine.now(),
        cal,
    ));
    CTX.set(&cell, || {
        let scope = case_scope(def, case, &settings)?;
        f(&scope)
    })
}

/// A read-only scope of a case (no actor, no inputs).
fn case_scope(
    def: &Definition,
    case: &Case,
    settings: &Map<String, Value>,
) -> Result<rhai::Scope<'static>> {
    let fields: Map<String, Value> = def
        .fields
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                case.data.get(&f.name).cloned().unwrap_or(Value::Null),
            )
        })
        .collect();
    let mut c = Map::new();
    c.insert("id".into(), Value::from(case.id));
    c.insert("workflow".into(), Value::String(case.workflow.clone()));
    c.insert("version".into(), Value::from(case.version));
    c.insert("state".into(), Value::String(case.state.clone()));
    c.insert(
        "state_label".into(),
        Value::String(case.state_label.clone()),
    );
    c.insert("org".into(), Value::String(case.org.clone()));
    c.insert("revision".into(), Value::from(case.revision));
    c.insert(
        "created_at".into(),
        Value::String(
            case.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    );
    c.insert(
        "updated_at".into(),
        Value::String(
            case.updated_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
    );
    c.insert(
        "parent".into(),
        case.parent.map_or(Value::Null, Value::from),
    );
    c.insert(
        "tags".into(),
        Value::Array(case.tags.iter().cloned().map(Value::String).collect()),
    );
    c.insert(
        "participants".into(),
        serde_json::to_value(&case.participants)?,
    );
    c.insert("fields".into(), Value::Object(fields.clone()));
    for r in def.roles.iter().filter(|r| r.is_case_role()) {
        c.insert(
            r.name.clone(),
            case.participant(&r.name)
                .map_or(Value::Null, |p| Value::String(p.to_owned())),
        );
    }
    let conv = |m: &Map<String, Value>| {
        script::map_to_rhai(m)
            .map(Dynamic::from_map)
            .map_err(Error::storage)
    };
    let mut scope = Scripts::empty_scope();
    bind(&mut scope, "case", conv(&c)?);
    bind(&mut scope, "fields", conv(&fields)?);
    bind(&mut scope, "settings", conv(settings)?);
    Ok(scope)
}

pub(crate) fn cases(engine: &Engine, db: &Connection, f: &CaseFilter) -> Result<Vec<Case>> {
    let columns = store::case_columns();
    let sql = format!(
        "SELECT {columns} FROM cases c WHERE (?1 IS NULL OR c.workflow = ?1) AND (?2 IS NULL OR c.state = ?2)
         AND (?3 IS NULL OR c.org = ?3) ORDER BY c.id DESC LIMIT ?4"
    );
    let limit = f.limit.map_or(-1, |l| l as i64);
    let rows = store::query_cases(db, &sql, &[&f.workflow, &f.state, &f.org, &limit])?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let d = engine.definition_at(db, &row.workflow, row.version)?;
        out.push(to_case(&d, row));
    }
    Ok(out)
}

pub(crate) fn export(
    engine: &Engine,
    db: &Connection,
    name: &str,
    actor: Option<&str>,
) -> Result<Table> {
    let defs = engine.definitions();
    let (def, export) = find(&defs, name, "export", |d, n| d.export(n))?;
    let person = match actor {
        Some(a) => resolve_actor(engine, db, a)?.person,
        None => None,
    };
    let columns = store::case_columns();
    let sql = if export.states.is_empty() {
        format!("SELECT {columns} FROM cases c WHERE c.workflow = ?1 ORDER BY c.id")
    } else {
        format!(
            "SELECT {columns} FROM cases c WHERE c.workflow = ?1 AND c.state IN ({}) ORDER BY c.id",
            placeholders(export.states.len(), 2)
        )
    };
    let mut params: Vec<&dyn rusqlite::ToSql> = vec![&def.id];
    for s in &export.states {
        params.push(s);
    }
    let rows = store::query_cases(db, &sql, &params)?;
    let mut table = Table {
        columns: export.columns.iter().map(|(c, _)| c.clone()).collect(),
        rows: Vec::new(),
    };
    for row in rows {
        let d = engine.definition_at(db, &row.workflow, row.version)?;
        let case = to_case(&d, row);
        if person.is_some() && !can_see(&d, &case, person.as_ref()) {
            continue;
        }
        export_rows(engine, db, def, export, &case, &mut table)?;
    }
    Ok(table)
}

fn export_rows(
    engine: &Engine,
    db: &Connection,
    def: &Definition,
    export: &Export,
    case: &Case,
    table: &mut Table,
) -> Result<()> {
    let items: Vec<Value> = match &export.each {
        None => vec![Value::Null],
        Some(each) => {
            let name = each.strip_prefix("fields.").unwrap_or(each);
            match case.data.get(name) {
                Some(Value::Array(items)) => items.clone(),
                _ => Vec::new(),
            }
        }
    };
    with_case_scope(engine, db, def, case, |base| {
        for item in items {
            let item_dyn = script::to_dynamic(&item).map_err(Error::storage)?;
            let mut row = Map::new();
            for (col, script) in &export.columns {
                // each column gets its own copy: one cannot change what the next one reads
                let mut scope = base.clone();
                bind(&mut scope, "item", item_dyn.clone());
                let v = engine.inner.scripts.run(script, &mut scope)?;
                let v =
                    script::to_json(&v).map_err(|e| script.error_at(rhai::Position::NONE, e))?;
                row.insert(col.clone(), v);
            }
            table.rows.push(row);
        }
        Ok(())
    })
}
