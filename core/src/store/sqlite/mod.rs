//! The SQLite backend: opening the file (bundled SQLite, WAL, foreign keys, busy timeout),
//! the schema and its upgrade steps (`schema`), and every query: cases, participants,
//! history, timers and outbox here, the directory in `directory`, the portal's sign-in
//! material in `portal`. Statements are prepared once per connection and cached. The store
//! writes what the engine decided; it decides nothing.

pub(crate) mod audit;
pub(crate) mod directory;
pub(crate) mod group;
pub(crate) mod incidents;
pub(crate) mod outbox;
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod plans;
pub(crate) mod portal;
pub mod schema;
pub(crate) mod views;

pub(crate) use directory::*;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use serde_json::{Map, Value};

use super::reads::{self, Read};
use super::{CaseRow, OutboxItem, OutboxPos, StoredDefinition, TimerRow};
use crate::error::{Error, Result};
use crate::model::{
    Case, Effect, Event, Incident, IncidentFilter, Notification, NotificationFilter, Participant,
    Signal,
};

/// Microseconds since the Unix epoch, the stored form of every instant.
pub(crate) fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Back from stored microseconds.
pub(crate) fn instant(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// Open a database file (creating it when missing if `create`), or an in-memory one for
/// `None`, and bring its schema up to date.
pub(crate) fn open(path: Option<&Path>, create: bool) -> Result<Connection> {
    let mut db = match path {
        Some(p) => {
            if !create && !p.exists() {
                return Err(Error::not_found("database", p.display().to_string()));
            }
            let mut flags = OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI;
            if create {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
            Connection::open_with_flags(p, flags)
                .map_err(|e| Error::storage(format!("cannot open database {}: {e}", p.display())))?
        }
        None => Connection::open_in_memory()?,
    };
    db.busy_timeout(Duration::from_secs(10))?;
    db.set_prepared_statement_cache_capacity(256);
    if path.is_some() {
        // WAL, unless the file system refuses it: then SQLite keeps its rollback journal and
        // the engine works the same, only with less concurrency between readers and writers.
        let _mode: String = db
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(|e| match Error::from(e) {
                Error::Storage { message } => Error::storage(format!(
                    "cannot open {}: {message}",
                    path.map(|p| p.display().to_string()).unwrap_or_default()
                )),
                other => other,
            })?;
    }
    db.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    schema::migrate(&mut db)?;
    Ok(db)
}

// ---- definitions ----------------------------------------------------------------------------

pub(crate) fn stored_definitions(db: &Connection) -> Result<Vec<StoredDefinition>> {
    let mut stmt = db.prepare_cached(
        "SELECT workflow, version, hash, file, source FROM definitions ORDER BY workflow, version",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(StoredDefinition {
            workflow: r.get(0)?,
            version: r.get(1)?,
            hash: r.get(2)?,
            file: r.get(3)?,
            source: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub(crate) fn count_cases_of(db: &Connection, workflow: &str, version: u32) -> Result<i64> {
    Ok(db
        .prepare_cached("SELECT count(*) FROM cases WHERE workflow = ?1 AND version = ?2")?
        .query_row(params![workflow, version], |r| r.get(0))?)
}

pub(crate) fn put_definition(
    db: &Connection,
    d: &crate::definition::Definition,
    at: DateTime<Utc>,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO definitions (workflow, version, hash, file, source, deployed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (workflow, version) DO UPDATE SET hash = ?3, file = ?4, source = ?5, deployed_at = ?6",
    )?
    .execute(params![d.id, d.version, d.hash, d.file, d.source, micros(at)])?;
    Ok(())
}

// ---- cases ----------------------------------------------------------------------------------

const CASE_COLUMNS: &str = "c.id, c.workflow, c.version, c.org, c.state, c.data, c.participants, c.revision, c.created_at, c.updated_at, c.parent, c.suspended, c.cancelled";

type RawCase = (
    i64,
    String,
    u32,
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
);

pub(crate) fn raw_case(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawCase> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
        r.get(11)?,
        r.get(12)?,
    ))
}

pub(crate) fn finish_case(r: RawCase) -> Result<CaseRow> {
    Ok(CaseRow {
        id: r.0,
        workflow: r.1,
        version: r.2,
        org: r.3,
        state: r.4,
        data: serde_json::from_str(&r.5)?,
        participants: serde_json::from_str(&r.6)?,
        revision: r.7 as u64,
        created_at: instant(r.8),
        updated_at: instant(r.9),
        parent: r.10,
        suspended: r.11.as_deref().map(serde_json::from_str).transpose()?,
        cancelled: r.12.as_deref().map(serde_json::from_str).transpose()?,
    })
}

/// [`load_case`]'s statement: [`CASE_COLUMNS`] by id (kept equal to it by a test).
const LOAD_CASE: &str = "SELECT c.id, c.workflow, c.version, c.org, c.state, c.data, c.participants, c.revision, c.created_at, c.updated_at, c.parent, c.suspended, c.cancelled FROM cases c WHERE c.id = ?1";

/// A case by id. Every command starts here, so the row is decoded in place: the JSON
/// columns are parsed from SQLite's own text (no copy into a `String` first).
pub(crate) fn load_case(db: &Connection, id: i64) -> Result<Option<CaseRow>> {
    let text = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<String> {
        Ok(r.get_ref(i)?.as_str()?.to_owned())
    };
    let row = db
        .prepare_cached(LOAD_CASE)?
        .query_row(params![id], |r| {
            let json = |i: usize| -> rusqlite::Result<Option<&str>> {
                Ok(r.get_ref(i)?.as_str_or_null()?)
            };
            let decode = || -> Result<CaseRow> {
                let mark = |i: usize| -> Result<Option<crate::model::OperatorMark>> {
                    Ok(json(i)?.map(serde_json::from_str).transpose()?)
                };
                Ok(CaseRow {
                    id: r.get(0)?,
                    workflow: text(r, 1)?,
                    version: r.get(2)?,
                    org: text(r, 3)?,
                    state: text(r, 4)?,
                    data: serde_json::from_str(json(5)?.unwrap_or_default())?,
                    participants: serde_json::from_str(json(6)?.unwrap_or_default())?,
                    revision: r.get::<_, i64>(7)? as u64,
                    created_at: instant(r.get(8)?),
                    updated_at: instant(r.get(9)?),
                    parent: r.get(10)?,
                    suspended: mark(11)?,
                    cancelled: mark(12)?,
                })
            };
            Ok(decode())
        })
        .optional()?;
    row.transpose()
}

/// Whether a person holds one of these case roles in some case of a workflow.
pub(crate) fn holds_role_in(
    db: &Connection,
    workflow: &str,
    person: &str,
    roles: &[String],
) -> Result<bool> {
    let mut stmt = db.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM participants p JOIN cases c ON c.id = p.case_id
         WHERE p.person = ?1 AND p.role = ?2 AND c.workflow = ?3)",
    )?;
    for r in roles {
        if stmt.query_row(params![person, r, workflow], |r| r.get::<_, bool>(0))? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The select list for case queries, with `c` as the cases alias.
pub(crate) fn case_columns() -> &'static str {
    CASE_COLUMNS
}

pub(crate) fn insert_case(db: &Connection, c: &Case) -> Result<i64> {
    db.prepare_cached(
        "INSERT INTO cases (id, workflow, version, org, state, open, data, participants, revision, created_at, updated_at, parent, suspended, cancelled)
         VALUES (nullif(?12, 0), ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?13, ?14)",
    )?
    .execute(params![
        c.workflow,
        c.version,
        c.org,
        c.state,
        c.open,
        serde_json::to_string(&c.data)?,
        serde_json::to_string(&c.participants)?,
        c.revision as i64,
        micros(c.created_at),
        micros(c.updated_at),
        c.parent,
        c.id,
        mark_json(c.suspended.as_ref())?,
        mark_json(c.cancelled.as_ref())?
    ])?;
    Ok(db.last_insert_rowid())
}

/// An operator's mark as stored (JSON text, or NULL).
pub(crate) fn mark_json(m: Option<&crate::model::OperatorMark>) -> Result<Option<String>> {
    Ok(m.map(serde_json::to_string).transpose()?)
}

/// A case's data as JSON text, written into a buffer of about its final size at once (it
/// runs to hundreds of bytes; `serde_json::to_string` starts at 128 bytes and grows twice).
pub(crate) fn json_text<T: serde::Serialize + ?Sized>(v: &T) -> Result<String> {
    let mut buf = Vec::with_capacity(512);
    serde_json::to_writer(&mut buf, v)?;
    // serde_json writes valid UTF-8 only
    String::from_utf8(buf).map_err(|e| Error::storage(e.to_string()))
}

/// Write a case's new snapshot if its revision is still `expected`.
///
/// Nearly every update keeps the case's definition version, and a statement that sets
/// `version` makes SQLite check the `(workflow, version)` foreign key on every write: the
/// common statement leaves `version` alone and matches it instead; only when that matches
/// no row (a migration, or a conflict) does the statement that sets it run.
pub(crate) fn update_case(db: &Connection, c: &Case, expected: u64) -> Result<()> {
    let data = json_text(&c.data)?;
    let participants = serde_json::to_string(&c.participants)?;
    let suspended = mark_json(c.suspended.as_ref())?;
    let cancelled = mark_json(c.cancelled.as_ref())?;
    let args = params![
        c.id,
        c.state,
        c.open,
        data,
        participants,
        c.revision as i64,
        micros(c.updated_at),
        expected as i64,
        c.version,
        suspended,
        cancelled
    ];
    let mut n = db
        .prepare_cached(
            "UPDATE cases SET state = ?2, open = ?3, data = ?4, participants = ?5, revision = ?6, updated_at = ?7,
                 suspended = ?10, cancelled = ?11
             WHERE id = ?1 AND revision = ?8 AND version = ?9",
        )?
        .execute(args)?;
    if n == 0 {
        n = db
            .prepare_cached(
                "UPDATE cases SET state = ?2, open = ?3, data = ?4, participants = ?5, revision = ?6, updated_at = ?7, version = ?9,
                     suspended = ?10, cancelled = ?11
                 WHERE id = ?1 AND revision = ?8",
            )?
            .execute(args)?;
    }
    if n == 0 {
        let actual: Option<i64> = db
            .prepare_cached("SELECT revision FROM cases WHERE id = ?1")?
            .query_row(params![c.id], |r| r.get(0))
            .optional()?;
        return match actual {
            Some(actual) => Err(Error::Conflict {
                case_id: c.id,
                expected,
                actual: actual as u64,
            }),
            None => Err(Error::not_found("case", c.id.to_string())),
        };
    }
    Ok(())
}

pub(crate) fn add_participant(
    db: &Connection,
    case_id: i64,
    workflow: &str,
    role: &str,
    person: &str,
    at: DateTime<Utc>,
    log: bool,
) -> Result<()> {
    db.prepare_cached(
        "INSERT OR IGNORE INTO participants (person, role, case_id, since) VALUES (?3, ?2, ?1, ?4)",
    )?
    .execute(params![case_id, role, person, micros(at)])?;
    if !log {
        return Ok(());
    }
    db.prepare_cached(
        "INSERT INTO assignments (person, role, workflow, case_id, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![person, role, workflow, case_id, micros(at)])?;
    Ok(())
}

pub(crate) fn remove_participant(
    db: &Connection,
    case_id: i64,
    role: &str,
    person: &str,
) -> Result<()> {
    db.prepare_cached("DELETE FROM participants WHERE person = ?3 AND role = ?2 AND case_id = ?1")?
        .execute(params![case_id, role, person])?;
    Ok(())
}

/// A case's participants with the time each was given the role, by role then seniority.
/// A case's participants (`participants_by_case`, covering).
pub(crate) const PARTICIPANTS_OF_CASE: &str =
    "SELECT role, person, since FROM participants WHERE case_id = ?1 ORDER BY role, since, person";

pub(crate) fn case_participants(db: &Connection, case_id: i64) -> Result<Vec<Participant>> {
    let mut stmt = db.prepare_cached(PARTICIPANTS_OF_CASE)?;
    let rows = stmt.query_map(params![case_id], |r| {
        Ok(Participant {
            role: r.get(0)?,
            person: r.get(1)?,
            since: instant(r.get(2)?),
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// How many open cases of a workflow a person holds a role in (the participants' primary key).
pub(crate) const OPEN_CASES: &str =
    "SELECT count(DISTINCT c.id) FROM participants p JOIN cases c ON c.id = p.case_id
     WHERE p.person = ?1 AND (?2 IS NULL OR p.role = ?2) AND c.workflow = ?3 AND c.open = 1";

/// Cases of a workflow, not in a final state, where the person holds a role (any, or `role`).
pub(crate) fn open_cases(
    db: &Connection,
    workflow: &str,
    person: &str,
    role: Option<&str>,
) -> Result<i64> {
    Ok(db
        .prepare_cached(OPEN_CASES)?
        .query_row(params![person, role, workflow], |r| r.get(0))?)
}

/// Grants of a role to a person since an instant (`assignments_by_person`).
pub(crate) const ASSIGNMENTS_SINCE: &str =
    "SELECT count(*) FROM assignments WHERE person = ?1 AND role = ?2 AND workflow = ?3 AND at >= ?4";

/// How many times a person was given a role in cases of a workflow since an instant.
pub(crate) fn assignments_since(
    db: &Connection,
    workflow: &str,
    person: &str,
    role: &str,
    since: DateTime<Utc>,
) -> Result<i64> {
    Ok(db
        .prepare_cached(ASSIGNMENTS_SINCE)?
        .query_row(params![person, role, workflow, micros(since)], |r| r.get(0))?)
}

// ---- events ---------------------------------------------------------------------------------

pub(crate) fn insert_event(db: &Connection, e: &Event) -> Result<i64> {
    db.prepare_cached(
        "INSERT INTO events (case_id, seq, at, actor, action, from_state, to_state, inputs, effects)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        e.case_id,
        e.seq as i64,
        micros(e.at),
        e.actor,
        e.action,
        e.from_state,
        e.to_state,
        serde_json::to_string(&e.inputs)?,
        serde_json::to_string(&e.effects)?
    ])?;
    Ok(db.last_insert_rowid())
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Event, String, String)> {
    Ok((
        Event {
            id: r.get(0)?,
            case_id: r.get(1)?,
            seq: r.get::<_, i64>(2)? as u64,
            at: instant(r.get(3)?),
            actor: r.get(4)?,
            action: r.get(5)?,
            from_state: r.get(6)?,
            to_state: r.get(7)?,
            inputs: Map::new(),
            effects: Vec::new(),
        },
        r.get(8)?,
        r.get(9)?,
    ))
}

fn finish_event((mut e, inputs, effects): (Event, String, String)) -> Result<Event> {
    e.inputs = serde_json::from_str(&inputs)?;
    e.effects = serde_json::from_str::<Vec<Effect>>(&effects)?;
    Ok(e)
}

/// A case's history (the `(case_id, seq)` unique index).
pub(crate) const EVENTS_OF_CASE: &str =
    "SELECT id, case_id, seq, at, actor, action, from_state, to_state, inputs, effects
     FROM events WHERE case_id = ?1 ORDER BY seq";

pub(crate) fn events(db: &Connection, case_id: i64) -> Result<Vec<Event>> {
    let mut stmt = db.prepare_cached(EVENTS_OF_CASE)?;
    let rows = stmt.query_map(params![case_id], event_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_event(r?)?);
    }
    Ok(out)
}

/// The instant of the latest history event (by id: the last one committed).
pub(crate) fn last_event_at(db: &Connection) -> Result<Option<DateTime<Utc>>> {
    let v: Option<i64> = db
        .prepare_cached("SELECT at FROM events ORDER BY id DESC LIMIT 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.map(instant))
}

pub(crate) fn events_after(db: &Connection, after_id: i64, limit: i64) -> Result<Vec<Event>> {
    let mut stmt = db.prepare_cached(
        "SELECT id, case_id, seq, at, actor, action, from_state, to_state, inputs, effects
         FROM events WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![after_id, limit], event_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_event(r?)?);
    }
    Ok(out)
}

pub(crate) fn cursor(db: &Connection, name: &str) -> Result<Option<i64>> {
    Ok(db
        .prepare_cached("SELECT position FROM cursors WHERE name = ?1")?
        .query_row(params![name], |r| r.get(0))
        .optional()?)
}

pub(crate) fn set_cursor(db: &Connection, name: &str, position: i64) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO cursors (name, position) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET position = max(position, ?2)",
    )?
    .execute(params![name, position])?;
    Ok(())
}

// ---- timers ---------------------------------------------------------------------------------

pub(crate) fn insert_timer(
    db: &Connection,
    case_id: i64,
    state: &str,
    name: &str,
    due: DateTime<Utc>,
    anchor: DateTime<Utc>,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO timers (case_id, state, name, due_at, anchor, fired) VALUES (?1, ?2, ?3, ?4, ?5, 0)
         ON CONFLICT (case_id, name) DO UPDATE SET state = ?2, due_at = ?4, anchor = ?5, fired = 0",
    )?
    .execute(params![case_id, state, name, micros(due), micros(anchor)])?;
    Ok(())
}

pub(crate) fn delete_timers(db: &Connection, case_id: i64) -> Result<usize> {
    Ok(db
        .prepare_cached("DELETE FROM timers WHERE case_id = ?1")?
        .execute(params![case_id])?)
}

pub(crate) fn delete_timer(db: &Connection, case_id: i64, name: &str) -> Result<usize> {
    Ok(db
        .prepare_cached("DELETE FROM timers WHERE case_id = ?1 AND name = ?2")?
        .execute(params![case_id, name])?)
}

pub(crate) fn delete_timer_id(db: &Connection, id: i64) -> Result<usize> {
    Ok(db
        .prepare_cached("DELETE FROM timers WHERE id = ?1")?
        .execute(params![id])?)
}

/// Remove the row of a timer that just fired, unless the firing replaced it: entering a new
/// state or moving an `at` timer's date writes new rows, which may reuse the row id.
pub(crate) fn consume_timer(db: &Connection, t: &TimerRow) -> Result<usize> {
    Ok(db
        .prepare_cached("DELETE FROM timers WHERE id = ?1 AND name = ?2 AND due_at = ?3")?
        .execute(params![t.id, t.name, micros(t.due_at)])?)
}

/// Move a recurring timer that just fired to its next period (if the firing did not replace
/// or cancel its row; see [`consume_timer`]).
pub(crate) fn reschedule_timer(
    db: &Connection,
    t: &TimerRow,
    due: DateTime<Utc>,
    fired: u32,
) -> Result<()> {
    db.prepare_cached(
        "UPDATE timers SET due_at = ?2, fired = ?3 WHERE id = ?1 AND name = ?4 AND due_at = ?5",
    )?
    .execute(params![t.id, micros(due), fired, t.name, micros(t.due_at)])?;
    Ok(())
}

fn timer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimerRow> {
    Ok(TimerRow {
        id: r.get(0)?,
        case_id: r.get(1)?,
        state: r.get(2)?,
        name: r.get(3)?,
        due_at: instant(r.get(4)?),
        anchor: instant(r.get(5)?),
        fired: r.get(6)?,
    })
}

/// The cases whose timers wait (suspended): read once per statement through the partial
/// index `cases_suspended`, not looked up for every due timer.
const NOT_SUSPENDED: &str = "case_id NOT IN (SELECT id FROM cases WHERE suspended IS NOT NULL)";

/// Due timers of cases not suspended (`timers_by_due`, and `cases_suspended` read once).
pub(crate) const DUE_TIMERS: &str =
    "SELECT id, case_id, state, name, due_at, anchor, fired FROM timers
     WHERE due_at <= ?1 AND case_id NOT IN (SELECT id FROM cases WHERE suspended IS NOT NULL)
     ORDER BY due_at, id LIMIT ?2";

/// Timers due at or before `now`, oldest first (ties broken by id: deterministic).
pub(crate) fn due_timers(db: &Connection, now: DateTime<Utc>, limit: i64) -> Result<Vec<TimerRow>> {
    let mut stmt = db.prepare_cached(DUE_TIMERS)?;
    let rows = stmt.query_map(params![micros(now), limit], timer_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The earliest pending timer's due time (the first of `timers_by_due` not suspended).
pub(crate) fn next_due(db: &Connection) -> Result<Option<DateTime<Utc>>> {
    let v: Option<i64> = db
        .prepare_cached(&format!(
            "SELECT due_at FROM timers WHERE {NOT_SUSPENDED} ORDER BY due_at LIMIT 1"
        ))?
        .query_row([], |r| r.get(0))
        .optional()?;
    Ok(v.map(instant))
}

/// A case's pending timers (the `(case_id, name)` unique index).
pub(crate) const TIMERS_OF_CASE: &str =
    "SELECT id, case_id, state, name, due_at, anchor, fired FROM timers WHERE case_id = ?1 ORDER BY due_at, id";

pub(crate) fn case_timers(db: &Connection, case_id: i64) -> Result<Vec<TimerRow>> {
    let mut stmt = db.prepare_cached(TIMERS_OF_CASE)?;
    let rows = stmt.query_map(params![case_id], timer_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

// ---- outbox ---------------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_outbox(
    db: &Connection,
    case_id: Option<i64>,
    kind: &str,
    recipient: Option<&str>,
    template: &str,
    subject: &str,
    body: &str,
    data: &Map<String, Value>,
    at: DateTime<Utc>,
) -> Result<i64> {
    db.prepare_cached(
        "INSERT INTO outbox (case_id, kind, recipient, template, subject, body, data, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        case_id,
        kind,
        recipient,
        template,
        subject,
        body,
        serde_json::to_string(data)?,
        micros(at)
    ])?;
    Ok(db.last_insert_rowid())
}

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, Notification, String)> {
    Ok((
        r.get(1)?,
        Notification {
            id: r.get(0)?,
            case_id: r.get(2)?,
            to: r.get::<_, Option<String>>(3)?.unwrap_or_default(),
            template: r.get(4)?,
            subject: r.get(5)?,
            body: r.get(6)?,
            data: Map::new(),
            at: instant(r.get(8)?),
            delivered_at: r.get::<_, Option<i64>>(9)?.map(instant),
            acked_at: r.get::<_, Option<i64>>(10)?.map(instant),
            attempts: r.get(11)?,
            last_error: r.get(12)?,
        },
        r.get(7)?,
    ))
}

fn finish_outbox((kind, mut n, data): (String, Notification, String)) -> Result<OutboxItem> {
    n.data = serde_json::from_str(&data)?;
    Ok(OutboxItem::from_row(&kind, n))
}

const OUTBOX_COLUMNS: &str = "id, kind, case_id, recipient, template, subject, body, data, created_at, delivered_at, acked_at, attempts, last_error";

/// A case's notifications (`outbox_by_case`), optionally to one person and/or pending only.
pub(crate) const NOTIFICATIONS_OF_CASE: &str = "SELECT id, kind, case_id, recipient, template, subject, body, data, created_at, delivered_at, acked_at, attempts, last_error
     FROM outbox WHERE case_id = ?1 AND kind = 'notification'
     AND (?2 IS NULL OR recipient = ?2) AND (?3 = 0 OR acked_at IS NULL) ORDER BY id";

/// A person's notifications (`outbox_by_recipient`), optionally pending only.
pub(crate) const NOTIFICATIONS_TO: &str = "SELECT id, kind, case_id, recipient, template, subject, body, data, created_at, delivered_at, acked_at, attempts, last_error
     FROM outbox WHERE recipient = ?1 AND kind = 'notification'
     AND (?2 = 0 OR acked_at IS NULL) ORDER BY id";

/// Every notification (an administrative report: it reads the whole outbox).
const ALL_NOTIFICATIONS: &str = "SELECT id, kind, case_id, recipient, template, subject, body, data, created_at, delivered_at, acked_at, attempts, last_error
     FROM outbox WHERE kind = 'notification' AND (?1 = 0 OR acked_at IS NULL) ORDER BY id";

/// A case's signals (`outbox_by_case`).
pub(crate) const SIGNALS_OF_CASE: &str = "SELECT id, kind, case_id, recipient, template, subject, body, data, created_at, delivered_at, acked_at, attempts, last_error
     FROM outbox WHERE case_id = ?1 AND kind = 'signal' ORDER BY id";

/// Every signal (a report).
const ALL_SIGNALS: &str = "SELECT id, kind, case_id, recipient, template, subject, body, data, created_at, delivered_at, acked_at, attempts, last_error
     FROM outbox WHERE kind = 'signal' ORDER BY id";

fn outbox_items(
    db: &Connection,
    sql: &str,
    params: &[&dyn rusqlite::ToSql],
) -> Result<Vec<OutboxItem>> {
    let mut stmt = db.prepare_cached(sql)?;
    let rows = stmt.query_map(params, outbox_row)?;
    let mut out = Vec::new();
    for r in rows {
        out.push(finish_outbox(r?)?);
    }
    Ok(out)
}

/// Notifications by filter: a case's and a person's are index lookups whose cost follows
/// their own rows; with neither, the whole outbox is listed.
pub(crate) fn notifications(db: &Connection, f: &NotificationFilter) -> Result<Vec<Notification>> {
    let items = match (f.case_id, f.to.as_deref()) {
        (Some(case_id), to) => {
            outbox_items(db, NOTIFICATIONS_OF_CASE, params![case_id, to, f.pending])?
        }
        (None, Some(to)) => outbox_items(db, NOTIFICATIONS_TO, params![to, f.pending])?,
        (None, None) => outbox_items(db, ALL_NOTIFICATIONS, params![f.pending])?,
    };
    Ok(items
        .into_iter()
        .filter_map(|i| match i {
            OutboxItem::Notification(n) => Some(n),
            OutboxItem::Signal(_) => None,
        })
        .collect())
}

/// A case's signals (an index lookup), or every signal.
pub(crate) fn signals(db: &Connection, case_id: Option<i64>) -> Result<Vec<Signal>> {
    let items = match case_id {
        Some(id) => outbox_items(db, SIGNALS_OF_CASE, params![id])?,
        None => outbox_items(db, ALL_SIGNALS, params![])?,
    };
    Ok(items
        .into_iter()
        .filter_map(|i| match i {
            OutboxItem::Signal(s) => Some(s),
            OutboxItem::Notification(_) => None,
        })
        .collect())
}

/// Timers due at or before `before` (an index range on `timers_by_due`).
pub(crate) fn count_due_timers(db: &Connection, before: DateTime<Utc>) -> Result<i64> {
    Ok(db
        .prepare_cached(&format!(
            "SELECT count(*) FROM timers WHERE due_at <= ?1 AND {NOT_SUSPENDED}"
        ))?
        .query_row(params![micros(before)], |r| r.get(0))?)
}

/// Outbox rows neither delivered, acknowledged nor dropped, and how many of them failed their last
/// delivery attempt (the partial index `outbox_undelivered`).
pub(crate) fn outbox_backlog(db: &Connection) -> Result<(i64, i64)> {
    Ok(db
        .prepare_cached(
            "SELECT count(*), count(last_error) FROM outbox
             WHERE delivered_at IS NULL AND acked_at IS NULL AND dropped_at IS NULL",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// The database's schema version (`PRAGMA user_version`).
pub(crate) fn schema_version(db: &Connection) -> Result<i64> {
    Ok(db
        .prepare_cached("PRAGMA user_version")?
        .query_row([], |r| r.get(0))?)
}

pub(crate) fn ack(db: &Connection, id: i64, at: DateTime<Utc>) -> Result<bool> {
    Ok(db
        .prepare_cached("UPDATE outbox SET acked_at = coalesce(acked_at, ?2) WHERE id = ?1")?
        .execute(params![id, micros(at)])?
        > 0)
}

scoped_tls::scoped_thread_local!(static CONNECTION: Connection);
scoped_tls::scoped_thread_local!(static SLOT: usize);

/// Run `f` with `db` as the connection the scripts' directory functions read (the command's
/// own transaction, so they see what earlier firings of the same batch wrote), and `slot` as
/// its directory-cache slot (`0`: the writer; a pooled reader has its own).
pub(crate) fn with_connection<T>(db: &Connection, slot: usize, f: impl FnOnce() -> T) -> T {
    SLOT.set(&slot, || CONNECTION.set(db, f))
}

/// The connection set by [`with_connection`] on this thread, as directory reads.
pub(crate) fn current_reads<T>(f: impl FnOnce(&dyn super::DirectoryReads) -> T) -> Option<T> {
    if !CONNECTION.is_set() {
        return None;
    }
    Some(CONNECTION.with(|db| f(db)))
}

impl super::DirectoryReads for Connection {
    fn cache_slot(&self) -> usize {
        if SLOT.is_set() {
            SLOT.with(|s| *s)
        } else {
            0
        }
    }
    // each read is recorded while a command is decided outside the writer (`super::reads`)
    fn person(&self, id: &str) -> Result<Option<crate::directory::Person>> {
        let p = get_person(self, id)?;
        reads::record(|| Read::Person(id.to_owned(), p.clone()));
        Ok(p)
    }
    fn people_of_org(&self, org: &str) -> Result<Vec<crate::directory::Person>> {
        let people = list_people(self, Some(org))?;
        reads::record(|| Read::PeopleOfOrg(org.to_owned(), people.clone()));
        Ok(people)
    }
    fn people_with_role(&self, org: &str, role: &str) -> Result<Vec<crate::directory::Person>> {
        let people = people_with_role(self, org, role)?;
        reads::record(|| Read::PeopleWithRole(org.to_owned(), role.to_owned(), people.clone()));
        Ok(people)
    }
    fn first_people(
        &self,
        org: &str,
        role: Option<&str>,
        limit: usize,
    ) -> Result<Vec<crate::directory::Person>> {
        directory::first_people(self, org, role, limit)
    }
    fn open_cases(&self, workflow: &str, person: &str, role: Option<&str>) -> Result<i64> {
        let n = open_cases(self, workflow, person, role)?;
        reads::record(|| {
            Read::OpenCases(
                workflow.to_owned(),
                person.to_owned(),
                role.map(str::to_owned),
                n,
            )
        });
        Ok(n)
    }
    fn assignments_since(
        &self,
        workflow: &str,
        person: &str,
        role: &str,
        since: DateTime<Utc>,
    ) -> Result<i64> {
        let n = assignments_since(self, workflow, person, role, since)?;
        reads::record(|| {
            Read::AssignmentsSince(
                workflow.to_owned(),
                person.to_owned(),
                role.to_owned(),
                since,
                n,
            )
        });
        Ok(n)
    }
}

/// Drop cached directory entries when this number moves: `PRAGMA data_version` changes when
/// another connection committed to the file, and [`directory_changed`] adds a count of this
/// process's directory writes and rolled-back writes (so the writer's cache also drops
/// what an earlier command of the same group changed, or what a rolled-back one read).
pub(crate) fn data_version(db: &Connection) -> Result<i64> {
    let v: i64 = db
        .prepare_cached("PRAGMA data_version")?
        .query_row([], |r| r.get(0))?;
    Ok(v.wrapping_add(DIRECTORY_WRITES.load(std::sync::atomic::Ordering::SeqCst) << 32))
}

/// Directory writes and rolled-back writes in this process (see [`data_version`]).
static DIRECTORY_WRITES: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

/// Count a directory write or a roll-back: every directory cache drops at its next command.
pub(crate) fn directory_changed() {
    DIRECTORY_WRITES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
}

// ---- whole tables (store copy) ---------------------------------------------------------------

pub(crate) fn export_rows(db: &Connection, table: &str, order: &str) -> Result<super::copy::Rows> {
    use rusqlite::types::ValueRef;
    let mut stmt = db.prepare(&format!("SELECT * FROM {table} ORDER BY {order}"))?;
    let names: Vec<String> = stmt.column_names().map(String::from).collect();
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut m = Map::new();
        for (i, name) in names.iter().enumerate() {
            let v = match r.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(x) => Value::from(x),
                ValueRef::Real(x) => Value::from(x),
                ValueRef::Text(t) => Value::String(String::from_utf8_lossy(t).into_owned()),
                ValueRef::Blob(_) => {
                    return Err(Error::storage(format!(
                        "table {table}, column {name}: a blob, which mentorflow never writes"
                    )))
                }
            };
            m.insert(name.clone(), v);
        }
        out.push(m);
    }
    Ok(out)
}

pub(crate) fn import_rows(db: &Connection, table: &str, rows: &super::copy::Rows) -> Result<()> {
    use rusqlite::types::Value as Sql;
    for row in rows {
        let columns: Vec<&str> = row.keys().map(String::as_str).collect();
        let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
        let sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            marks.join(", ")
        );
        let values: Vec<Sql> = row
            .values()
            .map(|v| match v {
                Value::Null => Sql::Null,
                Value::Bool(b) => Sql::Integer(i64::from(*b)),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Sql::Integer(i),
                    None => Sql::Real(n.as_f64().unwrap_or_default()),
                },
                Value::String(s) => Sql::Text(s.clone()),
                other => Sql::Text(other.to_string()),
            })
            .collect();
        db.prepare_cached(&sql)?
            .execute(rusqlite::params_from_iter(values))?;
    }
    Ok(())
}

/// Run one of the statements that open and close transactions and savepoints, prepared once
/// per connection (`execute_batch` would parse it afresh every time).
fn control(db: &Connection, sql: &str) -> Result<()> {
    db.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Run `f` in a savepoint of the open transaction.
fn savepoint(db: &Connection, f: &mut dyn FnMut() -> Result<()>) -> Result<()> {
    control(db, "SAVEPOINT firing")?;
    match f() {
        Ok(()) => {
            control(db, "RELEASE firing")?;
            Ok(())
        }
        Err(e) => {
            control(db, "ROLLBACK TO firing")?;
            control(db, "RELEASE firing")?;
            Err(e)
        }
    }
}

/// A transaction on a connection, begun and committed by cached statements (see [`control`]);
/// rolled back when dropped uncommitted, as `rusqlite::Transaction` is.
pub(crate) struct Transaction<'a> {
    db: &'a Connection,
    open: bool,
}

impl<'a> Transaction<'a> {
    /// `BEGIN` with a behaviour (deferred, immediate or exclusive).
    pub(crate) fn begin(
        db: &'a Connection,
        behavior: rusqlite::TransactionBehavior,
    ) -> Result<Transaction<'a>> {
        control(
            db,
            match behavior {
                rusqlite::TransactionBehavior::Immediate => "BEGIN IMMEDIATE",
                rusqlite::TransactionBehavior::Exclusive => "BEGIN EXCLUSIVE",
                _ => "BEGIN DEFERRED",
            },
        )?;
        Ok(Transaction { db, open: true })
    }

    /// `COMMIT`. On failure the transaction is rolled back when dropped.
    pub(crate) fn commit(mut self) -> Result<()> {
        control(self.db, "COMMIT")?;
        self.open = false;
        Ok(())
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.db
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open && !self.db.is_autocommit() {
            // best effort, as rusqlite's own transactions: the error of the failed command
            // is what the caller reports
            let _ = control(self.db, "ROLLBACK");
        }
    }
}

/// How many read-only connections a file's store keeps beside its writer: enough for the
/// commands decided outside the writer (one each while it decides, see `crate::engine`'s
/// `decide`) and the reads beside them.
pub(crate) const READERS: u32 = 8;

/// The SQLite store. SQLite has one writer per file: the writer connection sits behind a
/// mutex, and writes are `BEGIN IMMEDIATE` transactions, so two processes on one file are
/// serialised by SQLite's write lock and never deadlock. Threads writing at once share
/// transactions ([`group`]: group commit, each command in its own savepoint). Reads of a file go through a small
/// pool of read-only connections ([`READERS`], opened when first needed): in WAL mode a
/// reader sees the last commit and neither waits for the writer nor holds it up. A private
/// `:memory:` database exists only on its one connection, so there reads share the writer's
/// mutex.
pub(crate) struct SqliteStore {
    db: std::sync::Mutex<group::Writer>,
    readers: Option<r2d2::Pool<ReaderManager>>,
    /// Threads waiting for the writer (a group is handed on while one waits).
    waiting: std::sync::atomic::AtomicUsize,
    /// Threads inside [`super::Store::write`] (waiting for the writer or holding it): a
    /// command arriving while one is decides outside the writer ([`super::Store::decide_outside`]).
    active: std::sync::atomic::AtomicUsize,
    /// The groups' outcomes, and the condvar their members wait on.
    groups: std::sync::Mutex<group::Groups>,
    finished: std::sync::Condvar,
    /// A failure for the next group `COMMIT` (unit tests).
    #[cfg(test)]
    inject: std::sync::Mutex<Option<String>>,
}

/// Opens the pool's read-only connections to a file.
pub(crate) struct ReaderManager {
    path: std::path::PathBuf,
    next_slot: std::sync::atomic::AtomicUsize,
}

/// A pooled read-only connection and its directory-cache slot.
pub(crate) struct Reader {
    db: Connection,
    slot: usize,
}

impl r2d2::ManageConnection for ReaderManager {
    type Connection = Reader;
    type Error = rusqlite::Error;

    fn connect(&self) -> std::result::Result<Reader, rusqlite::Error> {
        let db = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
                | OpenFlags::SQLITE_OPEN_URI,
        )?;
        db.busy_timeout(Duration::from_secs(10))?;
        db.set_prepared_statement_cache_capacity(256);
        let slot = 1 + self
            .next_slot
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Reader { db, slot })
    }

    fn is_valid(&self, conn: &mut Reader) -> std::result::Result<(), rusqlite::Error> {
        conn.db.execute_batch("SELECT 1")
    }

    fn has_broken(&self, _conn: &mut Reader) -> bool {
        false
    }
}

impl SqliteStore {
    /// Open (or create) a file, or a private in-memory database for `None`.
    pub(crate) fn open(path: Option<&Path>, create: bool) -> Result<SqliteStore> {
        let db = open(path, create)?;
        let readers = path.map(|p| {
            r2d2::Pool::builder()
                .max_size(READERS)
                .min_idle(Some(0))
                .idle_timeout(None)
                .max_lifetime(None)
                .test_on_check_out(false)
                .connection_timeout(Duration::from_secs(30))
                .build_unchecked(ReaderManager {
                    path: p.to_owned(),
                    next_slot: std::sync::atomic::AtomicUsize::new(0),
                })
        });
        Ok(SqliteStore {
            db: std::sync::Mutex::new(group::Writer::new(db)),
            readers,
            waiting: std::sync::atomic::AtomicUsize::new(0),
            active: std::sync::atomic::AtomicUsize::new(0),
            groups: std::sync::Mutex::new(group::Groups::default()),
            finished: std::sync::Condvar::new(),
            #[cfg(test)]
            inject: std::sync::Mutex::new(None),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, group::Writer> {
        match self.db.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn run(
        &self,
        behavior: rusqlite::TransactionBehavior,
        f: &mut dyn FnMut(&dyn super::Tx) -> Result<()>,
    ) -> Result<()> {
        let w = self.lock();
        let tx = Transaction::begin(&w.db, behavior)?;
        if let Err(e) = with_connection(&tx, 0, || f(&*tx)) {
            directory_changed();
            return Err(e);
        }
        tx.commit()?;
        Ok(())
    }
}

/// Counts a thread inside [`super::Store::write`] while it lives.
struct Active<'a>(&'a std::sync::atomic::AtomicUsize);

impl<'a> Active<'a> {
    fn enter(n: &'a std::sync::atomic::AtomicUsize) -> Active<'a> {
        n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Active(n)
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl super::Store for SqliteStore {
    fn write(&self, f: &mut dyn FnMut(&dyn super::Tx) -> Result<()>) -> Result<()> {
        if self.readers.is_none() {
            // in memory: reads share the writer, so nothing stays uncommitted between commands
            return self.run(rusqlite::TransactionBehavior::Immediate, f);
        }
        let _active = Active::enter(&self.active);
        self.write_grouped(f)
    }
    fn decide_outside(&self) -> bool {
        // a file's readers see the last commit beside the writer; with the writer idle a
        // command decided inside it costs less (one transaction instead of two)
        self.readers.is_some() && self.active.load(std::sync::atomic::Ordering::SeqCst) > 0
    }
    fn read(&self, f: &mut dyn FnMut(&dyn super::Tx) -> Result<()>) -> Result<()> {
        let Some(pool) = &self.readers else {
            return self.run(rusqlite::TransactionBehavior::Deferred, f);
        };
        let reader = pool
            .get()
            .map_err(|e| Error::storage(format!("no read connection: {e}")))?;
        let slot = reader.slot;
        let tx = Transaction::begin(&reader.db, rusqlite::TransactionBehavior::Deferred)?;
        with_connection(&tx, slot, || f(&*tx))?;
        tx.commit()?;
        Ok(())
    }
}

impl super::Tx for Connection {
    fn schema_version(&self) -> Result<i64> {
        schema_version(self)
    }
    fn data_version(&self) -> Result<i64> {
        data_version(self)
    }
    fn stored_definitions(&self) -> Result<Vec<StoredDefinition>> {
        stored_definitions(self)
    }
    fn count_cases_of(&self, workflow: &str, version: u32) -> Result<i64> {
        count_cases_of(self, workflow, version)
    }
    fn put_definition(&self, d: &crate::definition::Definition, at: DateTime<Utc>) -> Result<()> {
        put_definition(self, d, at)
    }
    fn load_case(&self, id: i64) -> Result<Option<CaseRow>> {
        load_case(self, id)
    }
    fn new_case_id(&self) -> Result<i64> {
        // inside the write transaction: no other writer can take it meanwhile
        Ok(self
            .prepare_cached("SELECT coalesce(max(id), 0) + 1 FROM cases")?
            .query_row([], |r| r.get(0))?)
    }
    fn insert_case(&self, c: &Case) -> Result<i64> {
        insert_case(self, c)
    }
    fn update_case(&self, c: &Case, expected: u64) -> Result<()> {
        update_case(self, c, expected)
    }
    fn add_participant(
        &self,
        case_id: i64,
        workflow: &str,
        role: &str,
        person: &str,
        at: DateTime<Utc>,
        log: bool,
    ) -> Result<()> {
        add_participant(self, case_id, workflow, role, person, at, log)
    }
    fn remove_participant(&self, case_id: i64, role: &str, person: &str) -> Result<()> {
        remove_participant(self, case_id, role, person)
    }
    fn case_participants(&self, case_id: i64) -> Result<Vec<Participant>> {
        case_participants(self, case_id)
    }
    fn holds_role_in(&self, workflow: &str, person: &str, roles: &[String]) -> Result<bool> {
        holds_role_in(self, workflow, person, roles)
    }
    fn list_cases(&self, f: &crate::model::CaseFilter) -> Result<Vec<CaseRow>> {
        views::list_cases(self, f)
    }
    fn count_cases(&self, q: &super::CaseQuery) -> Result<i64> {
        views::count_cases(self, q)
    }
    fn find_cases(
        &self,
        q: &super::CaseQuery,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<CaseRow>> {
        let mut out = Vec::new();
        views::each_case(self, q, offset, limit, &mut |c| {
            out.push(c);
            Ok(())
        })?;
        Ok(out)
    }
    fn each_case(
        &self,
        q: &super::CaseQuery,
        f: &mut dyn FnMut(CaseRow) -> Result<()>,
    ) -> Result<()> {
        views::each_case(self, q, 0, usize::MAX, f)
    }
    fn insert_event(&self, e: &Event) -> Result<i64> {
        insert_event(self, e)
    }
    fn events(&self, case_id: i64) -> Result<Vec<Event>> {
        events(self, case_id)
    }
    fn last_event_at(&self) -> Result<Option<DateTime<Utc>>> {
        last_event_at(self)
    }
    fn events_after(&self, after_id: i64, limit: i64) -> Result<Vec<Event>> {
        events_after(self, after_id, limit)
    }
    fn events_held(&self, _after_id: i64) -> Result<bool> {
        Ok(false) // one writer: nothing is ever held back
    }
    fn insert_timer(
        &self,
        case_id: i64,
        state: &str,
        name: &str,
        due: DateTime<Utc>,
        anchor: DateTime<Utc>,
    ) -> Result<()> {
        insert_timer(self, case_id, state, name, due, anchor)
    }
    fn delete_timers(&self, case_id: i64) -> Result<usize> {
        delete_timers(self, case_id)
    }
    fn delete_timer(&self, case_id: i64, name: &str) -> Result<usize> {
        delete_timer(self, case_id, name)
    }
    fn delete_timer_id(&self, id: i64) -> Result<usize> {
        delete_timer_id(self, id)
    }
    fn consume_timer(&self, t: &TimerRow) -> Result<usize> {
        consume_timer(self, t)
    }
    fn reschedule_timer(&self, t: &TimerRow, due: DateTime<Utc>, fired: u32) -> Result<()> {
        reschedule_timer(self, t, due, fired)
    }
    fn due_timers(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<TimerRow>> {
        due_timers(self, now, limit)
    }
    fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        next_due(self)
    }
    fn case_timers(&self, case_id: i64) -> Result<Vec<TimerRow>> {
        case_timers(self, case_id)
    }
    fn count_due_timers(&self, before: DateTime<Utc>) -> Result<i64> {
        count_due_timers(self, before)
    }
    fn insert_outbox(
        &self,
        case_id: Option<i64>,
        kind: &str,
        recipient: Option<&str>,
        template: &str,
        subject: &str,
        body: &str,
        data: &Map<String, Value>,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        insert_outbox(
            self, case_id, kind, recipient, template, subject, body, data, at,
        )
    }
    fn consumer_position(&self, consumer: &str) -> Result<OutboxPos> {
        outbox::consumer_position(self, consumer)
    }
    fn consumer_event_position(&self, consumer: &str) -> Result<i64> {
        outbox::consumer_event_position(self, consumer)
    }
    fn outbox_after(&self, after: OutboxPos, limit: i64) -> Result<Vec<(OutboxPos, OutboxItem)>> {
        outbox::outbox_after(self, after, limit)
    }
    fn outbox_held(&self, _after: OutboxPos) -> Result<bool> {
        Ok(false) // one writer: nothing is ever held back
    }
    fn has_delivery(&self, id: i64, consumer: &str) -> Result<bool> {
        outbox::has_delivery(self, id, consumer)
    }
    fn advance_consumer(&self, consumer: &str, id: i64) -> Result<()> {
        outbox::advance(self, consumer, id)
    }
    fn advance_consumer_events(&self, consumer: &str, id: i64) -> Result<()> {
        outbox::advance_events(self, consumer, id)
    }
    fn record_delivery_success(
        &self,
        id: i64,
        consumer: &str,
        attempt: u32,
        at: DateTime<Utc>,
    ) -> Result<()> {
        outbox::record_success(self, id, consumer, attempt, at)
    }
    fn record_delivery_failure(
        &self,
        id: i64,
        consumer: &str,
        attempt: u32,
        error: &str,
        at: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<()> {
        outbox::record_failure(self, id, consumer, attempt, error, at, next)
    }
    fn settle_outbox(&self, id: i64, consumers: &[&str], at: DateTime<Utc>) -> Result<()> {
        outbox::settle(self, id, consumers, at)
    }
    fn due_retries(
        &self,
        consumer: &str,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(OutboxItem, u32)>> {
        outbox::due_retries(self, consumer, now, limit)
    }
    fn next_delivery_retry(&self, consumers: &[&str]) -> Result<Option<DateTime<Utc>>> {
        outbox::next_retry(self, consumers)
    }
    fn deliveries(&self, f: &crate::hooks::DeliveryFilter) -> Result<Vec<crate::hooks::Delivery>> {
        outbox::deliveries(self, f)
    }
    fn outbox_exists(&self, id: i64) -> Result<bool> {
        outbox::outbox_exists(self, id)
    }
    fn known_consumers(&self) -> Result<Vec<String>> {
        outbox::known_consumers(self)
    }
    fn retry_delivery(&self, id: i64, consumer: Option<&str>, now: DateTime<Utc>) -> Result<usize> {
        outbox::retry(self, id, consumer, now)
    }
    fn drop_delivery(&self, id: i64, consumer: Option<&str>, now: DateTime<Utc>) -> Result<usize> {
        outbox::drop_row(self, id, consumer, now)
    }
    fn dead_letters(&self) -> Result<i64> {
        outbox::dead_letters(self)
    }
    fn open_incident_of(&self, case_id: i64, timer: &str) -> Result<Option<Incident>> {
        incidents::open_of(self, case_id, timer)
    }
    fn insert_incident(&self, i: &Incident) -> Result<i64> {
        incidents::insert(self, i)
    }
    fn update_incident(&self, i: &Incident) -> Result<()> {
        incidents::update(self, i)
    }
    fn incident(&self, id: i64) -> Result<Option<Incident>> {
        incidents::get(self, id)
    }
    fn incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>> {
        incidents::list(self, f)
    }
    fn due_incidents(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Incident>> {
        incidents::due(self, now, limit)
    }
    fn next_incident_retry(&self) -> Result<Option<DateTime<Utc>>> {
        incidents::next_retry(self)
    }
    fn open_incidents(&self) -> Result<i64> {
        incidents::open_count(self)
    }
    fn insert_audit(&self, e: &crate::audit::AuditEntry) -> Result<i64> {
        audit::insert(self, e)
    }
    fn audit_entries(
        &self,
        f: &crate::audit::AuditFilter,
    ) -> Result<Vec<crate::audit::AuditEntry>> {
        audit::list(self, f)
    }
    fn rows_mentioning(
        &self,
        table: &str,
        columns: &[&str],
        needles: &[String],
    ) -> Result<Vec<crate::store::Mention>> {
        audit::rows_mentioning(self, table, columns, needles)
    }
    fn set_text(&self, table: &str, id: i64, column: &str, value: Option<&str>) -> Result<()> {
        audit::set_text(self, table, id, column, value)
    }
    fn blank_delivery_errors(&self, needles: &[String], text: &str) -> Result<usize> {
        audit::blank_delivery_errors(self, needles, text)
    }
    fn rename_person_rows(&self, from: &str, to: &str) -> Result<()> {
        audit::rename_person_rows(self, from, to)
    }
    fn closed_cases_before(
        &self,
        workflow: &str,
        org: Option<&str>,
        before: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        audit::closed_cases_before(self, workflow, org, before)
    }
    fn purge_case(&self, id: i64) -> Result<()> {
        audit::purge_case(self, id)
    }
    fn notifications(&self, f: &NotificationFilter) -> Result<Vec<Notification>> {
        notifications(self, f)
    }
    fn signals(&self, case_id: Option<i64>) -> Result<Vec<Signal>> {
        signals(self, case_id)
    }
    fn outbox_backlog(&self) -> Result<(i64, i64)> {
        outbox_backlog(self)
    }
    fn ack(&self, id: i64, at: DateTime<Utc>) -> Result<bool> {
        ack(self, id, at)
    }
    fn put_person(&self, p: &crate::directory::Person) -> Result<()> {
        directory_changed();
        put_person(self, p)
    }
    fn get_person(&self, id: &str) -> Result<Option<crate::directory::Person>> {
        get_person(self, id)
    }
    fn people_by_email(&self, email: &str) -> Result<Vec<crate::directory::Person>> {
        people_by_email(self, email)
    }
    fn list_people(&self, org: Option<&str>) -> Result<Vec<crate::directory::Person>> {
        list_people(self, org)
    }
    fn remove_person(&self, id: &str) -> Result<bool> {
        directory_changed();
        remove_person(self, id)
    }
    fn put_org(&self, o: &crate::directory::Org) -> Result<()> {
        directory_changed();
        put_org(self, o)
    }
    fn get_org(&self, id: &str) -> Result<Option<crate::directory::Org>> {
        get_org(self, id)
    }
    fn list_orgs(&self) -> Result<Vec<crate::directory::Org>> {
        list_orgs(self)
    }
    fn remove_org(&self, id: &str) -> Result<bool> {
        directory_changed();
        remove_org(self, id)
    }
    fn insert_token(
        &self,
        hash: &str,
        purpose: &str,
        person: &str,
        payload: &Value,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        portal::insert_token(self, hash, purpose, person, payload, at, expires)
    }
    fn token(&self, hash: &str) -> Result<Option<super::TokenRow>> {
        portal::token(self, hash)
    }
    fn use_token(&self, hash: &str, at: DateTime<Utc>) -> Result<bool> {
        portal::use_token(self, hash, at)
    }
    fn insert_credential(
        &self,
        hash: &str,
        kind: &str,
        person: &str,
        name: &str,
        at: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<()> {
        portal::insert_credential(self, hash, kind, person, name, at, expires)
    }
    fn credential(&self, hash: &str) -> Result<Option<super::CredentialRow>> {
        portal::credential(self, hash)
    }
    fn credentials_of(
        &self,
        person: &str,
        kind: &str,
    ) -> Result<Vec<(String, super::CredentialRow)>> {
        portal::credentials_of(self, person, kind)
    }
    fn touch_credential(
        &self,
        hash: &str,
        at: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<()> {
        portal::touch_credential(self, hash, at, expires)
    }
    fn delete_credential(&self, hash: &str) -> Result<bool> {
        portal::delete_credential(self, hash)
    }
    fn delete_credentials_of(&self, person: &str, kind: Option<&str>) -> Result<usize> {
        portal::delete_credentials_of(self, person, kind)
    }
    fn set_password(&self, person: &str, hash: &str, at: DateTime<Utc>) -> Result<()> {
        portal::set_password(self, person, hash, at)
    }
    fn password(&self, person: &str) -> Result<Option<String>> {
        portal::password(self, person)
    }
    fn delete_password(&self, person: &str) -> Result<bool> {
        portal::delete_password(self, person)
    }
    fn purge(&self, now: DateTime<Utc>, keys_before: DateTime<Utc>) -> Result<usize> {
        portal::purge(self, now, keys_before)
    }
    fn idempotency(&self, actor: &str, key: &str) -> Result<Option<(String, i64)>> {
        portal::idempotency(self, actor, key)
    }
    fn remember_idempotency(
        &self,
        actor: &str,
        key: &str,
        fingerprint: &str,
        case_id: i64,
        at: DateTime<Utc>,
    ) -> Result<()> {
        portal::remember_idempotency(self, actor, key, fingerprint, case_id, at)
    }
    fn export_rows(&self, table: &str, order: &str) -> Result<super::copy::Rows> {
        export_rows(self, table, order)
    }
    fn count_rows(&self, table: &str) -> Result<i64> {
        Ok(self.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
    }
    fn import_rows(&self, table: &str, rows: &super::copy::Rows) -> Result<()> {
        directory_changed();
        import_rows(self, table, rows)
    }
    fn after_import(&self) -> Result<()> {
        // rowids continue past the largest imported id by themselves
        Ok(())
    }
    fn savepoint(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        savepoint(self, f)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_load_statement_selects_the_case_columns() {
        assert_eq!(
            LOAD_CASE,
            format!("SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = ?1")
        );
    }

    #[test]
    fn json_text_is_serde_json_text() {
        let v = serde_json::json!({"a": [1, "two", {"b": null}], "c": "\"q\""});
        assert_eq!(json_text(&v).unwrap(), serde_json::to_string(&v).unwrap());
    }
}
