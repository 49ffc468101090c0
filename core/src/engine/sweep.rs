//! The timer sweep and outbox delivery.
//!
//! A sweep fires due timers oldest first (ties by timer id, so the order is deterministic) in
//! batches: one transaction per batch. A firing that fails rolls back only itself (see
//! [`sweep`]); its timer is consumed and the error reported. A batch commits every [`BATCH`]
//! firings or [`BATCH_TIME`], so a crash loses no firing: an uncommitted firing is still due
//! and fires on the next sweep. Two sweepers (threads or processes) on one file
//! are serialised by SQLite's write lock and re-read the due timers inside it, so a timer
//! fires exactly once.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::{Engine, TickReport};
use crate::error::{Error, Result};
use crate::hooks::guarded;
use crate::store::OutboxItem;

/// Firings per transaction.
pub const BATCH: usize = 500;
/// Longest a batch transaction stays open.
pub const BATCH_TIME: Duration = Duration::from_millis(100);

/// Fire every timer due at `now`.
///
/// Each batch is first fired optimistically, without savepoints; firings almost never fail,
/// and a savepoint makes SQLite copy every page a firing touches into its statement journal.
/// If one firing fails, the whole batch is rolled back and fired again with a savepoint per
/// timer, so the failing one rolls back alone. Either way nothing is committed twice: a
/// rolled-back firing is still due.
pub(crate) fn sweep(engine: &Engine, now: DateTime<Utc>) -> Result<TickReport> {
    let mut report = TickReport::default();
    loop {
        match fire_batch(engine, now, false)? {
            Batch::Done(r) => {
                report.add(r);
                break;
            }
            Batch::More(r) => report.add(r),
            Batch::Failed => match fire_batch(engine, now, true)? {
                Batch::Done(r) => {
                    report.add(r);
                    break;
                }
                Batch::More(r) => report.add(r),
                Batch::Failed => return Err(Error::storage("a timer batch failed twice")),
            },
        }
    }
    Ok(report)
}

enum Batch {
    /// Committed; no timer is left due.
    Done(TickReport),
    /// Committed; more may be due.
    More(TickReport),
    /// A firing failed on the optimistic path; nothing was committed.
    Failed,
}

fn fire_batch(engine: &Engine, now: DateTime<Utc>, savepoints: bool) -> Result<Batch> {
    // One write transaction per batch. `failed` marks the optimistic path's failure: the
    // closure then returns an error so the batch rolls back, and the caller retries.
    let mut failed = false;
    let result = engine.write(|tx| {
        failed = false;
        let mut report = TickReport::default();
        let due = tx.due_timers(now, BATCH as i64)?;
        if due.is_empty() {
            return Ok((report, true));
        }
        let started = Instant::now();
        let mut done = 0;
        for t in &due {
            if savepoints {
                let mut fired = false;
                let result = tx.savepoint(&mut || {
                    fired = super::step::fire_timer(engine, tx, t, now)?;
                    Ok(())
                });
                match result {
                    Ok(()) => {
                        if fired {
                            report.fired += 1;
                        }
                    }
                    Err(e @ Error::Storage { .. }) => return Err(e),
                    Err(e) => {
                        // the savepoint rolled the firing back
                        tx.delete_timer_id(t.id)?;
                        report
                            .failed
                            .push(format!("timer `{}` of case {}: {e}", t.name, t.case_id));
                    }
                }
            } else {
                match super::step::fire_timer(engine, tx, t, now) {
                    Ok(true) => report.fired += 1,
                    Ok(false) => {}
                    Err(e @ Error::Storage { .. }) => return Err(e),
                    Err(e) => {
                        failed = true;
                        return Err(e); // rolls the batch back
                    }
                }
            }
            done += 1;
            if started.elapsed() > BATCH_TIME {
                break;
            }
        }
        Ok((report, due.len() < BATCH && done == due.len()))
    });
    match result {
        Ok((report, true)) => Ok(Batch::Done(report)),
        Ok((report, false)) => Ok(Batch::More(report)),
        Err(_) if failed => Ok(Batch::Failed),
        Err(e) => Err(e),
    }
}

/// Deliver pending notifications and signals, then history events, to every hook.
pub(crate) fn deliver(engine: &Engine) -> Result<TickReport> {
    let hooks = engine.hooks();
    let mut report = TickReport::default();
    if hooks.is_empty() {
        return Ok(report);
    }
    loop {
        let items = engine.read(|db| db.undelivered(100))?;
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
                    engine.write(|db| db.mark_delivered(id, now))?;
                    report.delivered += 1;
                    progressed = true;
                }
                Some(e) => {
                    engine.write(|db| db.mark_failed(id, &e))?;
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
            let pos: i64 = db.cursor("events")?.unwrap_or_default();
            Ok((db.events_after(pos, 200)?, pos))
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
            engine.write(|db| db.set_cursor("events", last))?;
        }
        if failed || events.len() < 200 {
            break;
        }
    }
    Ok(report)
}
