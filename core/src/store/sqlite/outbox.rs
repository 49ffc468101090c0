//! Per-consumer outbox delivery (schema step 5): each consumer's cursor over the outbox
//! (`cursors` rows named `outbox:<consumer>` and `events:<consumer>`), and a `deliveries` row
//! for each (outbox row, consumer) that failed at least once: attempts, last error, next
//! attempt, status (`retry`, `dead`, `dropped`, `delivered`).

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

use super::{cursor, instant, micros, set_cursor, OutboxItem, OutboxPos};
use crate::error::Result;
use crate::hooks::{Delivery, DeliveryFilter, DeliveryStatus};

/// The cursor name of a consumer's outbox position.
pub(crate) fn outbox_cursor_name(consumer: &str) -> String {
    format!("outbox:{consumer}")
}

/// The cursor name of a consumer's history-event position.
pub(crate) fn events_cursor_name(consumer: &str) -> String {
    format!("events:{consumer}")
}

/// A consumer's outbox position. A consumer seen for the first time starts before the oldest
/// row still waiting for delivery (neither delivered to every hook, acknowledged nor dropped),
/// or after the last row when none waits: it receives what is pending, not years of history.
/// Positions are plain ids (`tx` 0): writers are serialised, so ids commit in order.
pub(crate) fn consumer_position(db: &Connection, consumer: &str) -> Result<OutboxPos> {
    Ok(OutboxPos {
        tx: 0,
        id: consumer_id_position(db, consumer)?,
    })
}

fn consumer_id_position(db: &Connection, consumer: &str) -> Result<i64> {
    if let Some(p) = cursor(db, &outbox_cursor_name(consumer))? {
        return Ok(p);
    }
    let oldest: Option<i64> = db
        .prepare_cached(
            "SELECT min(id) FROM outbox WHERE delivered_at IS NULL AND acked_at IS NULL AND dropped_at IS NULL",
        )?
        .query_row([], |r| r.get(0))?;
    match oldest {
        Some(id) => Ok(id - 1),
        None => Ok(db
            .prepare_cached("SELECT coalesce(max(id), 0) FROM outbox")?
            .query_row([], |r| r.get(0))?),
    }
}

/// A consumer's history-event position: its own cursor, else the one cursor every hook
/// shared before schema step 5, else the start.
pub(crate) fn consumer_event_position(db: &Connection, consumer: &str) -> Result<i64> {
    Ok(match cursor(db, &events_cursor_name(consumer))? {
        Some(p) => p,
        None => cursor(db, "events")?.unwrap_or_default(),
    })
}

/// Outbox rows after `after` that are neither acknowledged nor dropped, by id.
pub(crate) fn outbox_after(
    db: &Connection,
    after: OutboxPos,
    limit: i64,
) -> Result<Vec<(OutboxPos, OutboxItem)>> {
    let sql = format!(
        "SELECT {} FROM outbox WHERE id > ?1 AND acked_at IS NULL AND dropped_at IS NULL ORDER BY id LIMIT ?2",
        super::OUTBOX_COLUMNS
    );
    Ok(super::outbox_items(db, &sql, params![after.id, limit])?
        .into_iter()
        .map(|item| {
            let id = match &item {
                OutboxItem::Notification(n) => n.id,
                OutboxItem::Signal(s) => s.id,
            };
            (OutboxPos { tx: 0, id }, item)
        })
        .collect())
}

/// Whether a consumer has a delivery record for a row (then the cursor pass skips it).
pub(crate) fn has_delivery(db: &Connection, id: i64, consumer: &str) -> Result<bool> {
    Ok(db
        .prepare_cached("SELECT 1 FROM deliveries WHERE outbox_id = ?1 AND consumer = ?2")?
        .query_row(params![id, consumer], |_| Ok(()))
        .optional()?
        .is_some())
}

/// Move a consumer's outbox cursor forward (never back).
pub(crate) fn advance(db: &Connection, consumer: &str, id: i64) -> Result<()> {
    set_cursor(db, &outbox_cursor_name(consumer), id)
}

/// Move a consumer's event cursor forward (never back).
pub(crate) fn advance_events(db: &Connection, consumer: &str, id: i64) -> Result<()> {
    set_cursor(db, &events_cursor_name(consumer), id)
}

/// The consumer accepted the row: its record (if it failed before) becomes `delivered`, and
/// the row's attempts count the attempt.
pub(crate) fn record_success(
    db: &Connection,
    id: i64,
    consumer: &str,
    attempt: u32,
    at: DateTime<Utc>,
) -> Result<()> {
    db.prepare_cached(
        "UPDATE deliveries SET status = 'delivered', delivered_at = ?3, last_attempt_at = ?3,
         next_attempt_at = NULL WHERE outbox_id = ?1 AND consumer = ?2",
    )?
    .execute(params![id, consumer, micros(at)])?;
    db.prepare_cached("UPDATE outbox SET attempts = max(attempts, ?2) WHERE id = ?1")?
        .execute(params![id, attempt])?;
    Ok(())
}

/// The consumer failed on the row (its `attempt`-th failure): retried at `next`, or dead
/// when `next` is `None`. The row keeps the error too (what `notifications` shows).
pub(crate) fn record_failure(
    db: &Connection,
    id: i64,
    consumer: &str,
    attempt: u32,
    error: &str,
    at: DateTime<Utc>,
    next: Option<DateTime<Utc>>,
) -> Result<()> {
    let status = if next.is_some() { "retry" } else { "dead" };
    db.prepare_cached(
        "INSERT INTO deliveries (outbox_id, consumer, status, attempts, last_error, first_failed_at, last_attempt_at, next_attempt_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)
         ON CONFLICT (outbox_id, consumer) DO UPDATE SET status = ?3, attempts = ?4, last_error = ?5,
             first_failed_at = coalesce(first_failed_at, ?6), last_attempt_at = ?6, next_attempt_at = ?7",
    )?
    .execute(params![id, consumer, status, attempt, error, micros(at), next.map(micros)])?;
    db.prepare_cached(
        "UPDATE outbox SET attempts = max(attempts, ?2), last_error = ?3 WHERE id = ?1",
    )?
    .execute(params![id, attempt, error])?;
    Ok(())
}

/// Mark a row delivered when every one of `consumers` has it behind its cursor and none has
/// it still failing (`retry` or `dead`) or dropped.
pub(crate) fn settle(
    db: &Connection,
    id: i64,
    consumers: &[&str],
    at: DateTime<Utc>,
) -> Result<()> {
    for c in consumers {
        if consumer_id_position(db, c)? < id {
            return Ok(());
        }
    }
    let open: i64 = db
        .prepare_cached(
            "SELECT count(*) FROM deliveries WHERE outbox_id = ?1 AND status IN ('retry', 'dead', 'dropped')",
        )?
        .query_row(params![id], |r| r.get(0))?;
    if open > 0 {
        return Ok(());
    }
    db.prepare_cached(
        "UPDATE outbox SET delivered_at = coalesce(delivered_at, ?2), last_error = NULL WHERE id = ?1",
    )?
    .execute(params![id, micros(at)])?;
    Ok(())
}

/// A consumer's retries due at `now`, soonest first: the row and the failed attempts so far.
pub(crate) fn due_retries(
    db: &Connection,
    consumer: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<(OutboxItem, u32)>> {
    let cols: Vec<String> = super::OUTBOX_COLUMNS
        .split(", ")
        .map(|c| format!("o.{c}"))
        .collect();
    let sql = format!(
        "SELECT {}, d.attempts FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
         WHERE d.consumer = ?1 AND d.status = 'retry' AND d.next_attempt_at <= ?2
           AND o.acked_at IS NULL
         ORDER BY d.next_attempt_at, d.outbox_id LIMIT ?3",
        cols.join(", ")
    );
    let mut stmt = db.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![consumer, micros(now), limit], |r| {
        Ok((super::outbox_row(r)?, r.get::<_, u32>(13)?))
    })?;
    let mut out = Vec::new();
    for r in rows {
        let (raw, attempts) = r?;
        out.push((super::finish_outbox(raw)?, attempts));
    }
    Ok(out)
}

/// The earliest retry due of these consumers.
pub(crate) fn next_retry(db: &Connection, consumers: &[&str]) -> Result<Option<DateTime<Utc>>> {
    let mut best: Option<i64> = None;
    let mut stmt = db.prepare_cached(
        "SELECT min(next_attempt_at) FROM deliveries WHERE consumer = ?1 AND status = 'retry'",
    )?;
    for c in consumers {
        let v: Option<i64> = stmt.query_row(params![c], |r| r.get(0))?;
        best = match (best, v) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
    Ok(best.map(instant))
}

const DELIVERY_COLUMNS: &str = "d.outbox_id, d.consumer, o.kind, o.case_id, o.recipient, o.template, d.status, d.attempts, d.last_error, d.first_failed_at, d.last_attempt_at, d.next_attempt_at, d.delivered_at";

fn delivery_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(Delivery, String)> {
    let t = |i: usize| -> rusqlite::Result<Option<DateTime<Utc>>> {
        Ok(r.get::<_, Option<i64>>(i)?.map(instant))
    };
    Ok((
        Delivery {
            outbox_id: r.get(0)?,
            consumer: r.get(1)?,
            kind: r.get(2)?,
            case_id: r.get(3)?,
            to: r.get(4)?,
            template: r.get(5)?,
            status: DeliveryStatus::Retry,
            attempts: r.get(7)?,
            last_error: r.get(8)?,
            first_failed_at: t(9)?,
            last_attempt_at: t(10)?,
            next_attempt_at: t(11)?,
            delivered_at: t(12)?,
        },
        r.get(6)?,
    ))
}

/// Delivery records by filter, oldest row first.
pub(crate) fn deliveries(db: &Connection, f: &DeliveryFilter) -> Result<Vec<Delivery>> {
    let statuses: Vec<&str> = match (f.status, f.all) {
        (Some(s), _) => vec![s.as_str()],
        (None, true) => vec!["retry", "dead", "dropped", "delivered"],
        (None, false) => vec!["retry", "dead"],
    };
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
         WHERE d.status IN (SELECT value FROM json_each(?1))
           AND (?2 IS NULL OR d.consumer = ?2) AND (?3 IS NULL OR d.outbox_id = ?3)
           AND (?4 IS NULL OR o.case_id = ?4)
         ORDER BY d.outbox_id, d.consumer LIMIT ?5"
    );
    let limit = i64::try_from(f.limit.unwrap_or(1000)).unwrap_or(i64::MAX);
    let mut stmt = db.prepare_cached(&sql)?;
    let rows = stmt.query_map(
        params![
            serde_json::to_string(&statuses)?,
            f.consumer,
            f.outbox_id,
            f.case_id,
            limit
        ],
        delivery_row,
    )?;
    let mut out = Vec::new();
    for r in rows {
        let (mut d, status) = r?;
        d.status = DeliveryStatus::parse(&status)?;
        out.push(d);
    }
    Ok(out)
}

/// Whether an outbox row exists.
pub(crate) fn outbox_exists(db: &Connection, id: i64) -> Result<bool> {
    Ok(db
        .prepare_cached("SELECT 1 FROM outbox WHERE id = ?1")?
        .query_row(params![id], |_| Ok(()))
        .optional()?
        .is_some())
}

/// The consumers the database knows: every name with an outbox cursor.
pub(crate) fn known_consumers(db: &Connection) -> Result<Vec<String>> {
    let mut stmt = db.prepare_cached(
        "SELECT substr(name, 8) FROM cursors WHERE name LIKE 'outbox:%' ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Retry a row's failed, dead or dropped deliveries (of one consumer, or all) now, with a
/// fresh budget of attempts. Returns how many were put back.
pub(crate) fn retry(
    db: &Connection,
    id: i64,
    consumer: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize> {
    let n = db
        .prepare_cached(
            "UPDATE deliveries SET status = 'retry', attempts = 0, next_attempt_at = ?3
             WHERE outbox_id = ?1 AND (?2 IS NULL OR consumer = ?2) AND status IN ('retry', 'dead', 'dropped')",
        )?
        .execute(params![id, consumer, micros(now)])?;
    if n > 0 {
        db.prepare_cached(
            "UPDATE outbox SET dropped_at = NULL, delivered_at = NULL WHERE id = ?1",
        )?
        .execute(params![id])?;
    }
    Ok(n)
}

/// Give up a row's deliveries that are not done (of one consumer, or every known consumer,
/// including those that have not tried it yet). The row leaves the backlog when no consumer
/// still has it to do. Returns how many deliveries were dropped.
pub(crate) fn drop_row(
    db: &Connection,
    id: i64,
    consumer: Option<&str>,
    now: DateTime<Utc>,
) -> Result<usize> {
    let mut n = db
        .prepare_cached(
            "UPDATE deliveries SET status = 'dropped', next_attempt_at = NULL, last_attempt_at = coalesce(last_attempt_at, ?3)
             WHERE outbox_id = ?1 AND (?2 IS NULL OR consumer = ?2) AND status IN ('retry', 'dead')",
        )?
        .execute(params![id, consumer, micros(now)])?;
    let consumers = match consumer {
        Some(c) => vec![c.to_owned()],
        None => known_consumers(db)?,
    };
    for c in &consumers {
        if consumer_id_position(db, c)? < id && !has_delivery(db, id, c)? {
            db.prepare_cached(
                "INSERT INTO deliveries (outbox_id, consumer, status, attempts, last_attempt_at)
                 VALUES (?1, ?2, 'dropped', 0, ?3)",
            )?
            .execute(params![id, c, micros(now)])?;
            n += 1;
        }
    }
    let open: i64 = db
        .prepare_cached(
            "SELECT count(*) FROM deliveries WHERE outbox_id = ?1 AND status IN ('retry', 'dead')",
        )?
        .query_row(params![id], |r| r.get(0))?;
    if n > 0 && open == 0 {
        db.prepare_cached(
            "UPDATE outbox SET dropped_at = coalesce(dropped_at, ?2) WHERE id = ?1 AND delivered_at IS NULL",
        )?
        .execute(params![id, micros(now)])?;
    }
    Ok(n)
}

/// Dead deliveries (dead letters) in the database.
pub(crate) fn dead_letters(db: &Connection) -> Result<i64> {
    Ok(db
        .prepare_cached("SELECT count(*) FROM deliveries WHERE status = 'dead'")?
        .query_row([], |r| r.get(0))?)
}
