//! The timer sweep and outbox delivery.
//!
//! A sweep fires due timers oldest first (ties by timer id, so the order is deterministic) in
//! batches: one transaction per batch, one savepoint per firing. A firing that fails rolls
//! back only itself; its timer is consumed and the error reported. A batch commits every
//! [`BATCH`] firings or [`BATCH_TIME`], so a crash loses no firing: an uncommitted firing is
//! still due and fires on the next sweep. Two sweepers (threads or processes) on one file
//! are serialised by SQLite's write lock and re-read the due timers inside it, so a timer
//! fires exactly once.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::TransactionBehavior;

use super::{Engine, TickReport};
use crate::error::{Error, Result};
use crate::hooks::guarded;
use crate::script::DB;
use crate::store::{self, OutboxItem};

/// Firings per transaction.
pub const BATCH: usize = 256;
/// Longest a batch transaction stays open.
pub const BATCH_TIME: Duration = Duration::from_millis(50);

/// Fire every timer due at `now`.
pub(crate) fn sweep(engine: &Engine, now: DateTime<Utc>) -> Result<TickReport> {
    let mut report = TickReport::default();
    loop {
        let mut db = engine.lock();
        let mut tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let due = store::due_timers(&tx, now, BATCH as i64)?;
        if due.is_empty() {
            tx.commit()?;
            break;
        }
        let started = Instant::now();
        let mut done_in_batch = 0;
        let full_batch = due.len() == BATCH;
        for t in &due {
            let sp = tx.savepoint()?;
            let result = DB.set(&sp, || super::step::fire_timer(engine, &sp, t, now));
            match result {
                Ok(fired) => {
                    sp.commit()?;
                    if fired {
                        report.fired += 1;
                    }
                }
                Err(e @ Error::Storage { .. }) => {
                    drop(sp);
                    return Err(e);
                }
                Err(e) => {
                    drop(sp); // rolls the firing back
                    store::delete_timer_id(&tx, t.id)?;
                    report
                        .failed
                        .push(format!("timer `{}` of case {}: {e}", t.name, t.case_id));
                }
            }
            done_in_batch += 1;
            if started.elapsed() > BATCH_TIME {
                break;
            }
        }
        let _ = &mut tx;
        tx.commit()?;
        if !full_batch && done_in_batch == due.len() {
            break;
        }
    }
    Ok(report)
}

/// Deliver pending notifications and signals, then history events, to every hook.
pub(crate) fn deliver(engine: &Engine) -> Result<TickReport> {
    let hooks = engine.hooks();
    let mut report = TickReport::default();
    if hooks.is_empty() {
        return Ok(report);
    }
    loop {
        let items = engine.read(|db| store::undelivered(db, 100))?;
        if items.is_empty() {
            break;
        }
        let mut progressed = false;
        for item in &items {
            let mut error = None;
            for h in &hooks {
                let r = match item {
                    OutboxItem::Notification(n) => guarded(|| h.on_notification(n)),
                    OutboxItem::Signal(s) => guarded(|| h.on_signal(s)),
                };
                if let Err(e) = r {
                    error = Some(e);
                }
            }
            let id = match item {
                OutboxItem::Notification(n) => n.id,
                OutboxItem::Signal(s) => s.id,
            };
            let now = engine.now();
            match error {
                None => {
                    engine.write(|db| store::mark_delivered(db, id, now))?;
                    report.delivered += 1;
                    progressed = true;
                }
                Some(e) => {
                    engine.write(|db| store::mark_failed(db, id, &e))?;
                    report.delivery_failures += 1;
                }
            }
        }
        if !progressed || items.len() < 100 {
            break;
        }
    }
    // History events, through a stored cursor.
    loop {
        let (events, start) = engine.read(|db| {
            let pos: i64 = store::cursor(db, "events")?.unwrap_or_default();
            Ok((store::events_after(db, pos, 200)?, pos))
        })?;
        if events.is_empty() {
            break;
        }
        let mut last = start;
        let mut failed = false;
        'events: for e in &events {
            for h in &hooks {
                if guarded(|| h.on_event(e)).is_err() {
                    failed = true;
                    break 'events;
                }
            }
            last = e.id;
        }
        if last > start {
            engine.write(|db| store::set_cursor(db, "events", last))?;
        }
        if failed || events.len() < 200 {
            break;
        }
    }
    Ok(report)
}
