//! Views (per-viewer lists, as indexed SQL queries) and exports (tables over cases).

use std::cell::RefCell;
use std::sync::Arc;

use rhai::Dynamic;
use serde_json::{Map, Value};

use super::step::{can_see, resolve_actor, to_case};
use super::{Case, CaseFilter, Engine, Table, ViewInfo, ViewPage, ViewQuery};
use crate::definition::{Definition, Export, View};
use crate::directory::Person;
use crate::error::{Error, Result};
use crate::script::{self, bind, Scripts, CTX};
use crate::store::{Access, CaseQuery, SortKey, Tx};

/// The view or export names that `get` finds in the definitions (probing every view and
/// export name), each once.
fn names<'d, T: 'd>(
    defs: &'d [Arc<Definition>],
    get: &impl Fn(&'d Definition, &str) -> Option<&'d T>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for d in defs {
        let candidates = d
            .views
            .iter()
            .map(|v| v.name.as_str())
            .chain(d.exports.iter().map(|e| e.name.as_str()));
        for n in candidates {
            if get(d, n).is_some() && !out.iter().any(|o| o == n) {
                out.push(n.to_owned());
            }
        }
    }
    out
}

/// Find a view or export by `name` or `workflow.name` across the loaded workflows.
fn find<'d, T>(
    defs: &'d [Arc<Definition>],
    name: &str,
    kind: &'static str,
    get: impl Fn(&'d Definition, &str) -> Option<&'d T>,
) -> Result<(&'d Arc<Definition>, &'d T)> {
    if let Some((wf, n)) = name.split_once('.') {
        let d = defs.iter().find(|d| d.id == wf).ok_or_else(|| {
            Error::not_found_among("workflow", wf, defs.iter().map(|d| d.id.as_str()))
        })?;
        return get(d, n).map(|v| (d, v)).ok_or_else(|| {
            let known: Vec<String> = names(std::slice::from_ref(d), &get);
            Error::not_found_among(kind, name, known.iter().map(String::as_str))
        });
    }
    let found: Vec<_> = defs
        .iter()
        .filter_map(|d| get(d, name).map(|v| (d, v)))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => {
            let known = names(defs, &get);
            Err(Error::not_found_among(
                kind,
                name,
                known.iter().map(String::as_str),
            ))
        }
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

/// The columns a view or a page of it can be sorted by, besides the workflow's fields.
pub const SORT_KEYS: [&str; 4] = ["created", "updated", "id", "state"];

/// The sort key of a page.
fn sort_key(key: &str) -> SortKey {
    match key {
        "created" => SortKey::Created,
        "updated" => SortKey::Updated,
        "id" => SortKey::Id,
        "state" => SortKey::State,
        field => SortKey::Field(field.to_owned()),
    }
}

/// The case roles and directory access a viewer has to a view.
fn viewer_access(def: &Definition, view: &View, person: &Person) -> (Vec<String>, bool) {
    let mut case_roles = Vec::new();
    let mut directory = false;
    for r in &view.viewer {
        if let Some(role) = def.role(r) {
            if role.is_case_role() {
                case_roles.push(r.clone());
            } else if role.directory.iter().any(|d| person.has_role(d)) {
                directory = person.org.is_some();
            }
        }
    }
    (case_roles, directory)
}

/// Check a page request against the view's definition.
fn check_query(def: &Definition, view: &View, q: &ViewQuery) -> Result<()> {
    let bad = |field: &str, message: String| Error::Validation {
        workflow: Some(def.id.clone()),
        field: Some(field.to_owned()),
        message,
    };
    if let Some(key) = &q.sort {
        if !SORT_KEYS.contains(&key.as_str()) && def.field(key).is_none() {
            return Err(bad(
                "sort",
                format!(
                    "cannot sort by `{key}`: use created, updated, id, state or a field of `{}`",
                    def.id
                ),
            ));
        }
    }
    for st in &q.states {
        if def.state(st).is_none() || !(view.states.is_empty() || view.states.contains(st)) {
            return Err(bad(
                "state",
                format!("view `{}` shows no state `{st}`", view.name),
            ));
        }
    }
    for (f, _) in &q.fields {
        if def.field(f).is_none() {
            return Err(bad("fields", format!("`{}` has no field `{f}`", def.id)));
        }
    }
    Ok(())
}

/// The cases of a view a viewer sees, as a storage-neutral query (`None` when the viewer
/// can see none of it).
pub(crate) fn view_query(
    def: &Definition,
    view: &View,
    person: &Person,
    q: &ViewQuery,
) -> Option<CaseQuery> {
    let (case_roles, directory) = viewer_access(def, view, person);
    let org = || person.org.clone().unwrap_or_default();
    let access = match (case_roles.is_empty(), directory) {
        (true, false) => return None,
        (false, false) => Access::Roles {
            person: person.id.clone(),
            roles: case_roles,
        },
        (true, true) => Access::Org(org()),
        (false, true) => Access::RolesOrOrg {
            person: person.id.clone(),
            roles: case_roles,
            org: org(),
        },
    };
    let states = if q.states.is_empty() {
        view.states.clone()
    } else {
        q.states.clone()
    };
    let key = q.sort.as_deref().unwrap_or(&view.sort.key);
    Some(CaseQuery {
        workflow: def.id.clone(),
        states,
        access: Some(access),
        fields: q
            .fields
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        search: q
            .search
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_lowercase),
        sort: sort_key(key),
        descending: q.descending.unwrap_or(view.sort.descending),
    })
}

/// A page of a view for a viewer: the SQL does the paging and the total, unless the view has
/// a filter script, which is run on every row of the view in order (only the page is kept).
pub(crate) fn view_page(
    engine: &Engine,
    db: &dyn Tx,
    name: &str,
    viewer: &str,
    q: &ViewQuery,
) -> Result<ViewPage> {
    let defs = engine.definitions();
    let (def, view) = find(&defs, name, "view", |d, n| d.view(n))?;
    check_query(def, view, q)?;
    let actor = resolve_actor(engine, db, viewer)?;
    let mut page = ViewPage {
        workflow: def.id.clone(),
        view: view.name.clone(),
        title: view.title.clone(),
        cases: Vec::new(),
        total: 0,
        offset: q.offset,
        limit: q.limit,
    };
    let Some(person) = actor.person.as_ref() else {
        return Ok(page);
    };
    let Some(query) = view_query(def, view, person, q) else {
        return Ok(page);
    };
    if view.filter.is_none() {
        page.total = db.count_cases(&query)? as usize;
        if q.limit == 0 || q.offset >= page.total {
            return Ok(page);
        }
    }
    let viewer_map =
        script::to_dynamic(&Value::Object(person.to_script_map())).unwrap_or(Dynamic::UNIT);
    let Some(filter) = &view.filter else {
        for row in db.find_cases(&query, q.offset, q.limit)? {
            let d = engine.definition_at(db, &row.workflow, row.version)?;
            let mut c = to_case(&d, row);
            label_through_view(engine, db, def, view, &mut c, &viewer_map)?;
            page.cases.push(c);
        }
        return Ok(page);
    };
    db.each_case(&query, &mut |row| {
        let d = engine.definition_at(db, &row.workflow, row.version)?;
        let mut c = to_case(&d, row);
        let keep = eval_on_case(engine, db, def, &c, filter, |scope| {
            bind(scope, "viewer", viewer_map.clone());
        })?
        .as_bool()
        .unwrap_or(false);
        if keep {
            if page.total >= q.offset && page.total - q.offset < q.limit {
                label_through_view(engine, db, def, view, &mut c, &viewer_map)?;
                page.cases.push(c);
            }
            page.total += 1;
        }
        Ok(())
    })?;
    Ok(page)
}

/// Every case of a view for a viewer, in the view's order.
pub(crate) fn view(engine: &Engine, db: &dyn Tx, name: &str, viewer: &str) -> Result<Vec<Case>> {
    Ok(view_page(engine, db, name, viewer, &ViewQuery::all())?.cases)
}

/// Whether a person would use a view: they hold one of its directory roles; or, for its case
/// roles, a directory role of the same name (`mentor`), a directory role of the workflow that
/// does not see the whole organisation (agents), or one of its case roles in some case.
fn offered(db: &dyn Tx, def: &Definition, view: &View, person: &Person) -> Result<bool> {
    let (case_roles, directory) = viewer_access(def, view, person);
    if directory {
        return Ok(true);
    }
    if case_roles.is_empty() {
        return Ok(false);
    }
    let works_here = case_roles.iter().any(|r| person.has_role(r))
        || def.roles.iter().any(|r| {
            !r.directory.is_empty() && !r.sees_org && r.directory.iter().any(|d| person.has_role(d))
        });
    if works_here {
        return Ok(true);
    }
    db.holds_role_in(&def.id, &person.id, &case_roles)
}

/// The views a person would use, in load order, with their counts when `counts` is set.
pub(crate) fn views_for(
    engine: &Engine,
    db: &dyn Tx,
    viewer: &str,
    counts: bool,
) -> Result<Vec<ViewInfo>> {
    let actor = resolve_actor(engine, db, viewer)?;
    let Some(person) = actor.person.as_ref() else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    let org = match person.org.as_deref() {
        Some(o) => Some(engine.org_info(db, o)?),
        None => None,
    };
    for def in engine.definitions() {
        // a workflow the person's organisation does not take part in: only if they hold a
        // case role in one of its cases (a mentor on another chapter's case team)
        if let Some(info) = &org {
            if !super::availability::takes_part(db, &def, &info.org, person)? {
                let case_roles: Vec<String> = def
                    .roles
                    .iter()
                    .filter(|r| r.is_case_role())
                    .map(|r| r.name.clone())
                    .collect();
                if !db.holds_role_in(&def.id, &person.id, &case_roles)? {
                    continue;
                }
            }
        }
        for view in &def.views {
            if !offered(db, &def, view, person)? {
                continue;
            }
            let count = if counts {
                let q = ViewQuery {
                    limit: 0,
                    ..ViewQuery::default()
                };
                let name = format!("{}.{}", def.id, view.name);
                Some(view_page(engine, db, &name, viewer, &q)?.total)
            } else {
                None
            };
            out.push(ViewInfo {
                workflow: def.id.clone(),
                name: view.name.clone(),
                title: view.title.clone(),
                description: view.description.clone(),
                count,
            });
        }
    }
    Ok(out)
}

/// A case read through a view carries the view's own status word (`labels:`): the first
/// rule for its state that holds, with `viewer` bound as in the view's filter.
fn label_through_view(
    engine: &Engine,
    db: &dyn Tx,
    def: &Definition,
    view: &View,
    case: &mut Case,
    viewer: &Dynamic,
) -> Result<()> {
    for rule in view.labels_for(&case.state) {
        let holds = match &rule.when {
            None => true,
            Some(w) => eval_on_case(engine, db, def, case, w, |scope| {
                bind(scope, "viewer", viewer.clone());
            })?
            .as_bool()
            .unwrap_or(false),
        };
        if holds {
            case.state_label = rule.label.clone();
            break;
        }
    }
    Ok(())
}

/// Evaluate a read-only expression on a case (view filters, export columns).
fn eval_on_case(
    engine: &Engine,
    db: &dyn Tx,
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
    db: &dyn Tx,
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

pub(crate) fn cases(engine: &Engine, db: &dyn Tx, f: &CaseFilter) -> Result<Vec<Case>> {
    let rows = db.list_cases(f)?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let d = engine.definition_at(db, &row.workflow, row.version)?;
        out.push(to_case(&d, row));
    }
    Ok(out)
}

pub(crate) fn export(
    engine: &Engine,
    db: &dyn Tx,
    name: &str,
    actor: Option<&str>,
) -> Result<Table> {
    let defs = engine.definitions();
    let (def, export) = find(&defs, name, "export", |d, n| d.export(n))?;
    let person = match actor {
        Some(a) => resolve_actor(engine, db, a)?.person,
        None => None,
    };
    let query = CaseQuery {
        workflow: def.id.clone(),
        states: export.states.clone(),
        access: None,
        fields: Vec::new(),
        search: None,
        sort: SortKey::Id,
        descending: false,
    };
    let rows = db.find_cases(&query, 0, usize::MAX)?;
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
    db: &dyn Tx,
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::script::Limits;
    use crate::store::sqlite::plans::assert_indexed;
    use crate::store::sqlite::{self, views as sqlite_views};

    const SHIPPED: [(&str, &str); 4] = [
        (
            include_str!("../../../workflows/engagement.yaml"),
            "engagement.yaml",
        ),
        (
            include_str!("../../../workflows/score_request.yaml"),
            "score_request.yaml",
        ),
        (
            include_str!("../../../workflows/company_initiative.yaml"),
            "company_initiative.yaml",
        ),
        (
            include_str!("../../../workflows/agent_exception.yaml"),
            "agent_exception.yaml",
        ),
    ];

    /// Every page of every shipped view, for a viewer by case role only and for one holding
    /// every directory role too, counts and reads cases through indexes (issue 18).
    #[test]
    fn every_shipped_view_is_an_index_lookup() {
        let db = sqlite::open(None, true).unwrap();
        let scripts = Scripts::new(Limits::default());
        let mut checked = 0;
        for (text, file) in SHIPPED {
            let def = crate::definition::load_str(text, file, &scripts).unwrap();
            let mut staff = Person::new("staff").org("o1");
            for r in def.roles.iter().flat_map(|r| r.directory.iter()) {
                staff = staff.role(r.clone());
            }
            let member = Person::new("member").org("o1");
            for view in &def.views {
                for person in [&member, &staff] {
                    let q = ViewQuery::default();
                    let Some(query) = view_query(&def, view, person, &q) else {
                        continue;
                    };
                    let (sql, params) = sqlite_views::count_sql(&query);
                    assert_indexed(&db, &sql, &params, None);
                    let (sql, params) = sqlite_views::page_sql(&query, 0, 25);
                    assert_indexed(&db, &sql, &params, None);
                    checked += 1;
                }
            }
        }
        assert!(checked >= 12, "only {checked} view pages checked");
    }
}
