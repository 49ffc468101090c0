//! The audit log (schema step 8) and the rewrites that forgetting a person and retention
//! need: text cells of the tables [`crate::store::SCRUBBED`] names found by the strings they
//! mention, one cell rewritten, a person's own rows renamed, and a closed case purged.

use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, Row};

use super::{instant, micros};
use crate::audit::{AuditEntry, AuditFilter};
use crate::error::Result;
use crate::store::{case_column, check_scrubbed, like_patterns, Mention};

fn entry(r: &Row<'_>) -> rusqlite::Result<(AuditEntry, String, String)> {
    Ok((
        AuditEntry {
            id: r.get(0)?,
            at: instant(r.get(1)?),
            actor: r.get(2)?,
            kind: r.get(3)?,
            subject: r.get(4)?,
            before: serde_json::Value::Null,
            after: serde_json::Value::Null,
            reason: r.get(7)?,
        },
        r.get(5)?,
        r.get(6)?,
    ))
}

pub(crate) fn insert(db: &Connection, e: &AuditEntry) -> Result<i64> {
    db.prepare_cached(
        "INSERT INTO audit (at, actor, kind, subject, before, after, reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        micros(e.at),
        e.actor,
        e.kind,
        e.subject,
        serde_json::to_string(&e.before)?,
        serde_json::to_string(&e.after)?,
        e.reason
    ])?;
    Ok(db.last_insert_rowid())
}

pub(crate) fn list(db: &Connection, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
    let family = f.kind.as_ref().map(|k| format!("{}.%", like_escape(k)));
    let mut stmt = db.prepare_cached(
        "SELECT id, at, actor, kind, subject, before, after, reason FROM audit
         WHERE (?1 IS NULL OR at >= ?1)
           AND (?2 IS NULL OR kind = ?2 OR kind LIKE ?3 ESCAPE '\\')
           AND (?4 IS NULL OR actor = ?4)
           AND (?5 IS NULL OR subject = ?5)
         ORDER BY id LIMIT ?6",
    )?;
    let limit = f.limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let rows = stmt.query_map(
        params![
            f.since.map(micros),
            f.kind,
            family,
            f.actor,
            f.subject,
            limit
        ],
        entry,
    )?;
    let mut out = Vec::new();
    for r in rows {
        let (mut e, before, after) = r?;
        e.before = serde_json::from_str(&before)?;
        e.after = serde_json::from_str(&after)?;
        out.push(e);
    }
    Ok(out)
}

/// `%` and `_` (and the escape itself) taken literally in a LIKE pattern with `ESCAPE '\'`.
pub(crate) fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

pub(crate) fn rows_mentioning(
    db: &Connection,
    table: &str,
    columns: &[&str],
    needles: &[String],
) -> Result<Vec<Mention>> {
    check_scrubbed(table, columns)?;
    let patterns = like_patterns(needles);
    if patterns.is_empty() || columns.is_empty() {
        return Ok(Vec::new());
    }
    let mut preds = Vec::new();
    let mut values = Vec::new();
    for c in columns {
        for p in &patterns {
            preds.push(format!("lower({c}) LIKE ? ESCAPE '\\'"));
            values.push(SqlValue::Text(p.clone()));
        }
    }
    let sql = format!(
        "SELECT id, {}, {} FROM {table} WHERE {} ORDER BY id",
        case_column(table),
        columns.join(", "),
        preds.join(" OR ")
    );
    let mut stmt = db.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), |r| {
        let id: i64 = r.get(0)?;
        let case: Option<i64> = r.get(1)?;
        let mut cells = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            cells.push(r.get::<_, Option<String>>(i + 2)?);
        }
        Ok((id, case, cells))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn set_text(
    db: &Connection,
    table: &str,
    id: i64,
    column: &str,
    value: Option<&str>,
) -> Result<()> {
    check_scrubbed(table, &[column])?;
    db.prepare_cached(&format!("UPDATE {table} SET {column} = ?2 WHERE id = ?1"))?
        .execute(params![id, value])?;
    Ok(())
}

pub(crate) fn blank_delivery_errors(
    db: &Connection,
    needles: &[String],
    text: &str,
) -> Result<usize> {
    let mut n = 0;
    for p in like_patterns(needles) {
        n += db
            .prepare_cached(
                "UPDATE deliveries SET last_error = ?2 WHERE lower(last_error) LIKE ?1 ESCAPE '\\'",
            )?
            .execute(params![p, text])?;
    }
    Ok(n)
}

pub(crate) fn rename_person_rows(db: &Connection, from: &str, to: &str) -> Result<()> {
    for sql in [
        "UPDATE participants SET person = ?2 WHERE person = ?1",
        "UPDATE assignments SET person = ?2 WHERE person = ?1",
        "UPDATE idempotency SET actor = ?2 WHERE actor = ?1",
        "DELETE FROM auth_tokens WHERE person = ?1 AND ?2 IS NOT NULL",
        "DELETE FROM credentials WHERE person = ?1 AND ?2 IS NOT NULL",
        "DELETE FROM passwords WHERE person = ?1 AND ?2 IS NOT NULL",
    ] {
        db.prepare_cached(sql)?.execute(params![from, to])?;
    }
    Ok(())
}

pub(crate) fn closed_cases_before(
    db: &Connection,
    workflow: &str,
    org: Option<&str>,
    before: DateTime<Utc>,
) -> Result<Vec<i64>> {
    let mut stmt = db.prepare_cached(
        "SELECT id FROM cases WHERE workflow = ?1 AND open = 0 AND updated_at < ?2
           AND (?3 IS NULL OR org = ?3) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![workflow, micros(before), org], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

pub(crate) fn purge_case(db: &Connection, id: i64) -> Result<()> {
    for sql in [
        "UPDATE cases SET parent = NULL WHERE parent = ?1",
        "DELETE FROM deliveries WHERE outbox_id IN (SELECT id FROM outbox WHERE case_id = ?1)",
        "DELETE FROM outbox WHERE case_id = ?1",
        "DELETE FROM incidents WHERE case_id = ?1",
        "DELETE FROM timers WHERE case_id = ?1",
        "DELETE FROM events WHERE case_id = ?1",
        "DELETE FROM participants WHERE case_id = ?1",
        "DELETE FROM assignments WHERE case_id = ?1",
        "DELETE FROM idempotency WHERE case_id = ?1",
        "DELETE FROM cases WHERE id = ?1",
    ] {
        db.prepare_cached(sql)?.execute(params![id])?;
    }
    Ok(())
}
