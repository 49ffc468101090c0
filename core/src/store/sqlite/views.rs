//! The SQL of case queries (views, exports and the public case list) on SQLite. Fields are
//! read from the JSON text of `cases.data` with `json_extract`.

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;
use serde_json::Value;

use super::{case_columns, finish_case, raw_case};
use crate::error::Result;
use crate::model::CaseFilter;
use crate::store::{Access, CaseQuery, CaseRow, SortKey};

/// A value of a field filter as SQLite compares it with `json_extract`.
fn sql_value(v: &Value) -> SqlValue {
    match v {
        Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
        Value::Number(n) => n
            .as_i64()
            .map(SqlValue::Integer)
            .unwrap_or_else(|| SqlValue::Real(n.as_f64().unwrap_or_default())),
        Value::String(s) => SqlValue::Text(s.clone()),
        Value::Null => SqlValue::Null,
        other => SqlValue::Text(other.to_string()),
    }
}

/// The FROM and WHERE of a query, with its parameters. Case-role views are driven by the
/// viewer's participations (the `+` keeps SQLite from scanning the workflow's cases
/// instead); directory-role views and exports by the `(workflow, org, state)` index.
pub(crate) fn query_from(q: &CaseQuery) -> (String, Vec<SqlValue>) {
    let mut params: Vec<SqlValue> = Vec::new();
    let push = |v: SqlValue, params: &mut Vec<SqlValue>| {
        params.push(v);
        format!("?{}", params.len())
    };
    let mine = |person: &str, roles: &[String], params: &mut Vec<SqlValue>| {
        let me = push(SqlValue::Text(person.to_owned()), params);
        let roles: Vec<String> = roles
            .iter()
            .map(|r| push(SqlValue::Text(r.clone()), params))
            .collect();
        format!(
            "c.id IN (SELECT p.case_id FROM participants p WHERE p.person = {me} AND p.role IN ({}))",
            roles.join(", ")
        )
    };
    let unindexed = matches!(q.access, Some(Access::Roles { .. }));
    let plus = if unindexed { "+" } else { "" };
    let wf = push(SqlValue::Text(q.workflow.clone()), &mut params);
    let mut sql = format!("FROM cases c WHERE {plus}c.workflow = {wf}");
    if !q.states.is_empty() {
        let ps: Vec<String> = q
            .states
            .iter()
            .map(|st| push(SqlValue::Text(st.clone()), &mut params))
            .collect();
        sql.push_str(&format!(" AND {plus}c.state IN ({})", ps.join(", ")));
    }
    match &q.access {
        None => {}
        Some(Access::Roles { person, roles }) => {
            let m = mine(person, roles, &mut params);
            sql.push_str(&format!(" AND {m}"));
        }
        Some(Access::Org(org)) => {
            let org = push(SqlValue::Text(org.clone()), &mut params);
            sql.push_str(&format!(" AND c.org = {org}"));
        }
        Some(Access::RolesOrOrg { person, roles, org }) => {
            let m = mine(person, roles, &mut params);
            let org = push(SqlValue::Text(org.clone()), &mut params);
            sql.push_str(&format!(" AND ({m} OR c.org = {org})"));
        }
    }
    for (f, v) in &q.fields {
        let path = push(SqlValue::Text(format!("$.{f}")), &mut params);
        if v.is_null() {
            sql.push_str(&format!(" AND json_extract(c.data, {path}) IS NULL"));
        } else {
            let val = push(sql_value(v), &mut params);
            sql.push_str(&format!(" AND json_extract(c.data, {path}) = {val}"));
        }
    }
    if let Some(text) = &q.search {
        let t = push(SqlValue::Text(text.to_lowercase()), &mut params);
        sql.push_str(&format!(" AND instr(lower(c.data), {t}) > 0"));
    }
    (sql, params)
}

/// The ORDER BY of a query (a field's JSON path is a parameter).
pub(crate) fn order_by(q: &CaseQuery, params: &mut Vec<SqlValue>) -> String {
    let dir = if q.descending { "DESC" } else { "ASC" };
    match &q.sort {
        SortKey::Created => format!("c.created_at {dir}, c.id {dir}"),
        SortKey::Updated => format!("c.updated_at {dir}, c.id {dir}"),
        SortKey::Id => format!("c.id {dir}"),
        SortKey::State => format!("c.state {dir}, c.id {dir}"),
        SortKey::Field(field) => {
            // unset fields last in ascending order, first in descending (the reverse)
            params.push(SqlValue::Text(format!("$.{field}")));
            let n = params.len();
            format!(
                "(json_extract(c.data, ?{n}) IS NULL) {dir}, json_extract(c.data, ?{n}) {dir}, c.id {dir}"
            )
        }
    }
}

/// The full statement of a page (`limit` `usize::MAX`: every row).
pub(crate) fn page_sql(q: &CaseQuery, offset: usize, limit: usize) -> (String, Vec<SqlValue>) {
    let (from, mut params) = query_from(q);
    let order = order_by(q, &mut params);
    let limit = if limit == usize::MAX {
        "-1".to_owned()
    } else {
        limit.to_string()
    };
    (
        format!(
            "SELECT {} {from} ORDER BY {order} LIMIT {limit} OFFSET {offset}",
            case_columns()
        ),
        params,
    )
}

/// The statement counting a query's cases.
pub(crate) fn count_sql(q: &CaseQuery) -> (String, Vec<SqlValue>) {
    let (from, params) = query_from(q);
    (format!("SELECT count(*) {from}"), params)
}

pub(crate) fn count_cases(db: &Connection, q: &CaseQuery) -> Result<i64> {
    let (sql, params) = count_sql(q);
    Ok(db
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(params), |r| r.get(0))?)
}

pub(crate) fn each_case(
    db: &Connection,
    q: &CaseQuery,
    offset: usize,
    limit: usize,
    f: &mut dyn FnMut(CaseRow) -> Result<()>,
) -> Result<()> {
    let (sql, params) = page_sql(q, offset, limit);
    let mut stmt = db.prepare_cached(&sql)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
    while let Some(r) = rows.next()? {
        f(finish_case(raw_case(r)?)?)?;
    }
    Ok(())
}

pub(crate) fn list_cases(db: &Connection, f: &CaseFilter) -> Result<Vec<CaseRow>> {
    let sql = format!(
        "SELECT {} FROM cases c WHERE (?1 IS NULL OR c.workflow = ?1) AND (?2 IS NULL OR c.state = ?2)
         AND (?3 IS NULL OR c.org = ?3) ORDER BY c.id DESC LIMIT ?4",
        case_columns()
    );
    let limit = f.limit.map_or(-1, |l| l as i64);
    let mut stmt = db.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        rusqlite::params![f.workflow, f.state, f.org, limit],
        raw_case,
    )?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_case(r?)?);
    }
    Ok(out)
}
