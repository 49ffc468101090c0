//! The audit log (schema step 8) and the rewrites that forgetting a person and retention
//! need, on PostgreSQL: the twins of `sqlite::audit`.

use chrono::{DateTime, Utc};
use postgres::types::ToSql;

use super::{instant, micros, PgTx};
use crate::audit::{AuditEntry, AuditFilter};
use crate::error::Result;
use crate::store::sqlite::audit::like_escape;
use crate::store::{case_column, check_scrubbed, like_patterns, Mention};

pub(crate) fn insert(tx: &PgTx, e: &AuditEntry) -> Result<i64> {
    Ok(tx
        .query_one(
            "INSERT INTO audit (at, actor, kind, subject, before, after, reason)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[
                &micros(e.at),
                &e.actor,
                &e.kind,
                &e.subject,
                &serde_json::to_string(&e.before)?,
                &serde_json::to_string(&e.after)?,
                &e.reason,
            ],
        )?
        .get(0))
}

pub(crate) fn list(tx: &PgTx, f: &AuditFilter) -> Result<Vec<AuditEntry>> {
    let family = f.kind.as_ref().map(|k| format!("{}.%", like_escape(k)));
    let limit = f.limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
    let rows = tx.query(
        "SELECT id, at, actor, kind, subject, before, after, reason FROM audit
         WHERE ($1::bigint IS NULL OR at >= $1)
           AND ($2::text IS NULL OR kind = $2 OR kind LIKE $3 ESCAPE '\\')
           AND ($4::text IS NULL OR actor = $4)
           AND ($5::text IS NULL OR subject = $5)
         ORDER BY id LIMIT $6",
        &[
            &f.since.map(micros),
            &f.kind,
            &family,
            &f.actor,
            &f.subject,
            &limit,
        ],
    )?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        out.push(AuditEntry {
            id: r.get(0),
            at: instant(r.get(1)),
            actor: r.get(2),
            kind: r.get(3),
            subject: r.get(4),
            before: serde_json::from_str(r.get::<_, &str>(5))?,
            after: serde_json::from_str(r.get::<_, &str>(6))?,
            reason: r.get(7),
        });
    }
    Ok(out)
}

pub(crate) fn rows_mentioning(
    tx: &PgTx,
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
    let mut n = 0;
    for c in columns {
        for _ in &patterns {
            n += 1;
            preds.push(format!("lower({c}) LIKE ${n} ESCAPE '\\'"));
        }
    }
    let values: Vec<&(dyn ToSql + Sync)> = columns
        .iter()
        .flat_map(|_| patterns.iter().map(|p| p as &(dyn ToSql + Sync)))
        .collect();
    let sql = format!(
        "SELECT id, {}::bigint, {} FROM {table} WHERE {} ORDER BY id",
        case_column(table),
        columns.join(", "),
        preds.join(" OR ")
    );
    let rows = tx.query(&sql, &values)?;
    Ok(rows
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            let case: Option<i64> = r.get(1);
            let cells = (0..columns.len())
                .map(|i| r.get::<_, Option<String>>(i + 2))
                .collect();
            (id, case, cells)
        })
        .collect())
}

pub(crate) fn set_text(
    tx: &PgTx,
    table: &str,
    id: i64,
    column: &str,
    value: Option<&str>,
) -> Result<()> {
    check_scrubbed(table, &[column])?;
    tx.execute(
        &format!("UPDATE {table} SET {column} = $2 WHERE id = $1"),
        &[&id, &value],
    )?;
    Ok(())
}

pub(crate) fn blank_delivery_errors(tx: &PgTx, needles: &[String], text: &str) -> Result<usize> {
    let mut n = 0;
    for p in like_patterns(needles) {
        n += tx.execute(
            "UPDATE deliveries SET last_error = $2 WHERE lower(last_error) LIKE $1 ESCAPE '\\'",
            &[&p, &text],
        )?;
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

pub(crate) fn rename_person_rows(tx: &PgTx, from: &str, to: &str) -> Result<()> {
    for sql in [
        "UPDATE participants SET person = $2 WHERE person = $1",
        "UPDATE assignments SET person = $2 WHERE person = $1",
        "UPDATE idempotency SET actor = $2 WHERE actor = $1",
    ] {
        tx.execute(sql, &[&from, &to])?;
    }
    for sql in [
        "DELETE FROM auth_tokens WHERE person = $1",
        "DELETE FROM credentials WHERE person = $1",
        "DELETE FROM passwords WHERE person = $1",
    ] {
        tx.execute(sql, &[&from])?;
    }
    Ok(())
}

pub(crate) fn closed_cases_before(
    tx: &PgTx,
    workflow: &str,
    org: Option<&str>,
    before: DateTime<Utc>,
) -> Result<Vec<i64>> {
    Ok(tx
        .query(
            "SELECT id FROM cases WHERE workflow = $1 AND NOT open AND updated_at < $2
               AND ($3::text IS NULL OR org = $3) ORDER BY id",
            &[&workflow, &micros(before), &org],
        )?
        .iter()
        .map(|r| r.get(0))
        .collect())
}

pub(crate) fn purge_case(tx: &PgTx, id: i64) -> Result<()> {
    for sql in [
        "UPDATE cases SET parent = NULL WHERE parent = $1",
        "DELETE FROM deliveries WHERE outbox_id IN (SELECT id FROM outbox WHERE case_id = $1)",
        "DELETE FROM outbox WHERE case_id = $1",
        "DELETE FROM incidents WHERE case_id = $1",
        "DELETE FROM timers WHERE case_id = $1",
        "DELETE FROM events WHERE case_id = $1",
        "DELETE FROM participants WHERE case_id = $1",
        "DELETE FROM assignments WHERE case_id = $1",
        "DELETE FROM idempotency WHERE case_id = $1",
        "DELETE FROM cases WHERE id = $1",
    ] {
        tx.execute(sql, &[&id])?;
    }
    Ok(())
}
