//! Incidents (schema step 7): timer firings that failed, with their attempts, last error,
//! next automatic retry and resolution. At most one open incident per case and timer (a
//! partial unique index).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::{instant, micros};
use crate::error::{Error, Result};
use crate::model::{Incident, IncidentFilter, IncidentStatus};

const COLUMNS: &str =
    "id, case_id, kind, state, timer, anchor, fired, code, error, attempts, status, \
     first_at, last_at, next_attempt_at, resolved_at, resolved_by, note";

fn row(r: &Row<'_>) -> rusqlite::Result<(Incident, String)> {
    let t = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(instant))
    };
    Ok((
        Incident {
            id: r.get(0)?,
            case_id: r.get(1)?,
            kind: r.get(2)?,
            state: r.get(3)?,
            timer: r.get(4)?,
            anchor: instant(r.get(5)?),
            fired: u32::try_from(r.get::<_, i64>(6)?).unwrap_or_default(),
            code: r.get(7)?,
            error: r.get(8)?,
            attempts: u32::try_from(r.get::<_, i64>(9)?).unwrap_or_default(),
            status: IncidentStatus::Open,
            first_at: instant(r.get(11)?),
            last_at: instant(r.get(12)?),
            next_attempt_at: t(13)?,
            resolved_at: t(14)?,
            resolved_by: r.get(15)?,
            note: r.get(16)?,
        },
        r.get(10)?,
    ))
}

fn finish((mut i, status): (Incident, String)) -> Result<Incident> {
    i.status = status.parse().map_err(Error::storage)?;
    Ok(i)
}

fn query(db: &Connection, sql: &str, p: impl rusqlite::Params) -> Result<Vec<Incident>> {
    let mut stmt = db.prepare_cached(sql)?;
    let rows = stmt.query_map(p, row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish(r?)?);
    }
    Ok(out)
}

pub(crate) fn open_of(db: &Connection, case_id: i64, timer: &str) -> Result<Option<Incident>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents WHERE case_id = ?1 AND timer = ?2 AND status = 'open'"
    );
    Ok(query(db, &sql, params![case_id, timer])?.into_iter().next())
}

pub(crate) fn insert(db: &Connection, i: &Incident) -> Result<i64> {
    db.prepare_cached(
        "INSERT INTO incidents (case_id, kind, state, timer, anchor, fired, code, error, attempts,
             status, first_at, last_at, next_attempt_at, resolved_at, resolved_by, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
    )?
    .execute(params![
        i.case_id,
        i.kind,
        i.state,
        i.timer,
        micros(i.anchor),
        i64::from(i.fired),
        i.code,
        i.error,
        i64::from(i.attempts),
        i.status.as_str(),
        micros(i.first_at),
        micros(i.last_at),
        i.next_attempt_at.map(micros),
        i.resolved_at.map(micros),
        i.resolved_by,
        i.note,
    ])?;
    Ok(db.last_insert_rowid())
}

pub(crate) fn update(db: &Connection, i: &Incident) -> Result<()> {
    db.prepare_cached(
        "UPDATE incidents SET code = ?2, error = ?3, attempts = ?4, status = ?5, last_at = ?6,
             next_attempt_at = ?7, resolved_at = ?8, resolved_by = ?9, note = ?10
         WHERE id = ?1",
    )?
    .execute(params![
        i.id,
        i.code,
        i.error,
        i64::from(i.attempts),
        i.status.as_str(),
        micros(i.last_at),
        i.next_attempt_at.map(micros),
        i.resolved_at.map(micros),
        i.resolved_by,
        i.note,
    ])?;
    Ok(())
}

pub(crate) fn get(db: &Connection, id: i64) -> Result<Option<Incident>> {
    let sql = format!("SELECT {COLUMNS} FROM incidents WHERE id = ?1");
    Ok(query(db, &sql, params![id])?.into_iter().next())
}

pub(crate) fn list(db: &Connection, f: &IncidentFilter) -> Result<Vec<Incident>> {
    let status = match (f.status, f.all) {
        (Some(s), _) => Some(s.as_str()),
        (None, true) => None,
        (None, false) => Some("open"),
    };
    let limit = i64::try_from(f.limit.unwrap_or(1000)).unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR case_id = ?2)
         ORDER BY id LIMIT ?3"
    );
    query(db, &sql, params![status, f.case_id, limit])
}

pub(crate) fn due(db: &Connection, now: DateTime<Utc>, limit: i64) -> Result<Vec<Incident>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM incidents
         WHERE status = 'open' AND next_attempt_at IS NOT NULL AND next_attempt_at <= ?1
           AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = incidents.case_id AND c.suspended IS NOT NULL)
         ORDER BY next_attempt_at, id LIMIT ?2"
    );
    query(db, &sql, params![micros(now), limit])
}

pub(crate) fn next_retry(db: &Connection) -> Result<Option<DateTime<Utc>>> {
    Ok(db
        .prepare_cached("SELECT min(next_attempt_at) FROM incidents WHERE status = 'open'")?
        .query_row([], |r| r.get::<_, Option<i64>>(0))
        .optional()?
        .flatten()
        .map(instant))
}

pub(crate) fn open_count(db: &Connection) -> Result<i64> {
    Ok(db
        .prepare_cached("SELECT count(*) FROM incidents WHERE status = 'open'")?
        .query_row([], |r| r.get(0))?)
}
