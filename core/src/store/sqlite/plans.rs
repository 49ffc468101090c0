//! Query-plan checks (issue 18): every per-case read is an index lookup whose cost follows
//! the case's own rows, never a scan of a whole table. `EXPLAIN QUERY PLAN` shows SQLite's
//! choice; a `SCAN` of a table (or of a whole index) fails the check.

use rusqlite::types::Value as SqlValue;
use rusqlite::Connection;

/// The lines of SQLite's plan for `sql`, with every parameter bound to `params` (or NULL).
pub(crate) fn plan(db: &Connection, sql: &str, params: &[SqlValue]) -> Vec<String> {
    let mut stmt = db
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap_or_else(|e| panic!("cannot plan {sql}: {e}"));
    let n = stmt.parameter_count();
    let mut bound: Vec<SqlValue> = params.to_vec();
    bound.resize(n, SqlValue::Null);
    let rows = stmt
        .query_map(rusqlite::params_from_iter(bound), |r| r.get::<_, String>(3))
        .unwrap();
    rows.map(|r| r.unwrap()).collect()
}

/// What is wrong with a plan: a table (or a whole index) scanned, no index searched, or
/// `index` (when given) not used.
pub(crate) fn plan_problem(lines: &[String], index: Option<&str>) -> Option<String> {
    if let Some(scan) = lines
        .iter()
        .find(|l| l.starts_with("SCAN ") && !l.starts_with("SCAN CONSTANT ROW"))
    {
        return Some(format!("scans instead of using an index ({scan})"));
    }
    if !lines.iter().any(|l| l.starts_with("SEARCH ")) {
        return Some("searches no index".into());
    }
    match index {
        Some(index) if !lines.iter().any(|l| l.contains(index)) => {
            Some(format!("does not use `{index}`"))
        }
        _ => None,
    }
}

/// Panic unless every table the plan reads is searched through an index (and, when given,
/// unless one of the plan's lines names `index`).
pub(crate) fn assert_indexed(db: &Connection, sql: &str, params: &[SqlValue], index: Option<&str>) {
    let lines = plan(db, sql, params);
    if let Some(problem) = plan_problem(&lines, index) {
        panic!("the query {problem}:\n{sql}\nplan: {lines:#?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite as store;

    fn db() -> Connection {
        store::open(None, true).unwrap()
    }

    #[test]
    fn a_scan_fails_the_check() {
        let db = db();
        let scan = plan(&db, "SELECT * FROM outbox WHERE body = ?1", &[]);
        assert!(plan_problem(&scan, None).unwrap().contains("SCAN outbox"));
        let by_case = plan(&db, store::SIGNALS_OF_CASE, &[]);
        assert_eq!(plan_problem(&by_case, None), None);
        assert!(plan_problem(&by_case, Some("timers_by_due")).is_some());
    }

    #[test]
    fn per_case_reads_are_index_lookups() {
        let db = db();
        let case = [SqlValue::Integer(7)];
        for (sql, index) in [
            (store::EVENTS_OF_CASE, "sqlite_autoindex_events_1"),
            (store::TIMERS_OF_CASE, "sqlite_autoindex_timers_1"),
            (store::PARTICIPANTS_OF_CASE, "participants_by_case"),
            (store::NOTIFICATIONS_OF_CASE, "outbox_by_case"),
            (store::SIGNALS_OF_CASE, "outbox_by_case"),
        ] {
            assert_indexed(&db, sql, &case, Some(index));
        }
        let person = [SqlValue::Text("alice".into()), SqlValue::Integer(1)];
        assert_indexed(
            &db,
            store::NOTIFICATIONS_TO,
            &person,
            Some("outbox_by_recipient"),
        );
    }

    #[test]
    fn the_due_timers_read_suspended_cases_once_not_every_timers_case() {
        let db = db();
        let lines = plan(
            &db,
            store::DUE_TIMERS,
            &[SqlValue::Integer(0), SqlValue::Integer(500)],
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("SEARCH timers USING INDEX timers_by_due")),
            "{lines:#?}"
        );
        // the suspended cases: a list built once from the partial index, not a correlated
        // lookup per due timer, and never the whole cases table
        assert!(
            lines.iter().any(|l| l.starts_with("LIST SUBQUERY")),
            "{lines:#?}"
        );
        assert!(
            !lines.iter().any(|l| l.contains("CORRELATED")),
            "{lines:#?}"
        );
        let cases: Vec<&String> = lines.iter().filter(|l| l.contains(" cases")).collect();
        assert!(!cases.is_empty(), "{lines:#?}");
        assert!(
            cases.iter().all(|l| l.contains("cases_suspended")),
            "{lines:#?}"
        );
    }

    #[test]
    fn reads_behind_a_page_are_index_lookups() {
        let db = db();
        let id = [SqlValue::Integer(7)];
        let case = format!(
            "SELECT {} FROM cases c WHERE c.id = ?1",
            store::case_columns()
        );
        assert_indexed(&db, &case, &id, Some("INTEGER PRIMARY KEY"));
        let text = |s: &str| SqlValue::Text(s.into());
        assert_indexed(
            &db,
            store::OPEN_CASES,
            &[text("alice"), SqlValue::Null, text("engagement")],
            None,
        );
        assert_indexed(
            &db,
            store::ASSIGNMENTS_SINCE,
            &[
                text("alice"),
                text("mentor"),
                text("engagement"),
                SqlValue::Integer(0),
            ],
            Some("assignments_by_person"),
        );
    }
}
