//! The timer sweep and outbox delivery.
//!
//! A sweep fires due timers oldest first (ties by timer id, so the order is deterministic) in
//! batches: one transaction per batch. A firing that fails rolls back only itself (see
//! [`sweep`]) and becomes an incident (`engine/incidents.rs`), retried by later sweeps; a
//! one-shot timer is consumed, a recurring one keeps its schedule. A batch commits every [`BATCH`]
//! firings or [`BATCH_TIME`], so a crash loses no firing: an uncommitted firing is still due
//! and fires on the next sweep. Two sweepers (threads or processes) on one file
//! are serialised by SQLite's write lock and re-read the due timers inside it, so a timer
//! fires exactly once.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::step::Firing;
use super::{Engine, TickReport};
use crate::error::{Error, Result};
use crate::hooks::{guarded, Consumer, DeliveryPolicy};
use crate::store::{OutboxItem, Tx};

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
    let started = Instant::now();
    let report = sweep_inner(engine, now)?;
    engine
        .inner
        .metrics
        .timers(report.fired, report.failed.len());
    if report.fired > 0 || !report.failed.is_empty() {
        tracing::info!(
            target: "mentorflow",
            fired = report.fired,
            failed = report.failed.len(),
            duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
            "timer sweep"
        );
    }
    for f in &report.failed {
        tracing::warn!(target: "mentorflow", "timer firing failed: {f}");
    }
    Ok(report)
}

fn sweep_inner(engine: &Engine, now: DateTime<Utc>) -> Result<TickReport> {
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
    let (fired, failed) = super::incidents::retry_due(engine, now)?;
    report.fired += fired;
    report.failed.extend(failed);
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
                let mut fired = Firing::Gone;
                let result = tx.savepoint(&mut || {
                    fired = super::step::fire_timer(engine, tx, t, now, false)?;
                    Ok(())
                });
                match result {
                    Ok(()) => {
                        if fired == Firing::Fired {
                            report.fired += 1;
                        }
                    }
                    Err(e @ Error::Storage { .. }) => return Err(e),
                    Err(e) => {
                        // the savepoint rolled the firing back: it becomes an incident
                        let id = super::incidents::timer_failed(engine, tx, t, &e, now)?;
                        report.failed.push(format!(
                            "timer `{}` of case {} (incident {id}): {e}",
                            t.name, t.case_id
                        ));
                    }
                }
            } else {
                match super::step::fire_timer(engine, tx, t, now, false) {
                    Ok(Firing::Fired) => report.fired += 1,
                    Ok(_) => {}
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

/// Rows read per page of a delivery pass.
const PAGE: i64 = 100;
/// History events read per page by each `on_event` consumer.
const EVENT_PAGE: i64 = 200;

fn item_id(item: &OutboxItem) -> i64 {
    match item {
        OutboxItem::Notification(n) => n.id,
        OutboxItem::Signal(s) => s.id,
    }
}

fn offer(c: &Consumer, item: &OutboxItem) -> std::result::Result<(), String> {
    match item {
        OutboxItem::Notification(n) => guarded(|| c.hook.on_notification(n)),
        OutboxItem::Signal(s) => guarded(|| c.hook.on_signal(s)),
    }
}

/// Record one consumer's failure on a row: retried after the backoff, or dead at the limit.
/// Returns whether it is now dead.
fn failed(
    policy: &DeliveryPolicy,
    tx: &dyn Tx,
    (id, consumer, attempt): (i64, &str, u32),
    error: &str,
    now: DateTime<Utc>,
) -> Result<bool> {
    let next = (attempt < policy.max_attempts).then(|| now + policy.delay(id, consumer, attempt));
    tx.record_delivery_failure(id, consumer, attempt, error, now, next)?;
    Ok(next.is_none())
}

/// Deliver pending notifications and signals, then history events, to every hook, each
/// through its own delivery state (see [`crate::hooks`]):
///
/// 1. rows after each consumer's cursor, in the store's reading order (by id on SQLite, by
///    writing transaction then id on PostgreSQL, where a lower id can commit after a higher
///    one; see [`crate::store::OutboxPos`]): each offered once to each consumer
///    that has not seen it; a failure is recorded for that consumer alone and the cursor
///    moves on, so later rows are never held back;
/// 2. each consumer's retries that are due, soonest first;
/// 3. history events after each consumer's event cursor (a failing consumer stops there).
///
/// Every row's outcome is committed before the next row is offered.
pub(crate) fn deliver(engine: &Engine) -> Result<TickReport> {
    let report = deliver_inner(engine)?;
    engine
        .inner
        .metrics
        .deliveries(report.delivered, report.delivery_failures);
    if report.delivered > 0 || report.delivery_failures > 0 {
        tracing::info!(
            target: "mentorflow",
            delivered = report.delivered,
            failures = report.delivery_failures,
            dead = report.dead_letters,
            "delivery pass"
        );
    }
    Ok(report)
}

/// Log one consumer's failure on a row.
fn log_failure(id: i64, consumer: &str, attempt: u32, error: &str) {
    tracing::warn!(
        target: "mentorflow",
        outbox_id = id,
        consumer,
        attempt,
        error,
        "delivery failed"
    );
}

fn deliver_inner(engine: &Engine) -> Result<TickReport> {
    let consumers = engine.consumer_list();
    let mut report = TickReport::default();
    if consumers.is_empty() {
        return Ok(report);
    }
    let policy = engine.delivery_policy();
    let names: Vec<&str> = consumers.iter().map(|c| c.name.as_str()).collect();
    // rows at least one consumer accepted in this pass (what `TickReport::delivered` counts)
    let mut accepted = std::collections::HashSet::new();
    // 1. new rows
    loop {
        let mut positions = engine.read(|tx| {
            let mut positions = Vec::with_capacity(names.len());
            for c in &names {
                positions.push(tx.consumer_position(c)?);
            }
            Ok(positions)
        })?;
        // The rows in a read of their own, whose first statement takes the snapshot: on
        // PostgreSQL a transaction (of any schema) that ends between a read's snapshot and its
        // look at the transactions still running holds rows back (late, never skipped), so
        // that time is kept short, and the read is made again (a few times at most) when that
        // is all that holds committed rows back. Positions read before can only be behind
        // (offered again: at least once).
        let mut fresh_reads = 0;
        let (items, records) = loop {
            let read = engine.read(|tx| {
                let from = positions.iter().copied().min().unwrap_or_default();
                let items = tx.outbox_after(from, PAGE)?;
                if items.len() < PAGE as usize && fresh_reads < 3 && tx.outbox_held(from)? {
                    return Ok(None);
                }
                let mut records = Vec::new();
                for (pos, item) in &items {
                    let id = item_id(item);
                    for (i, c) in names.iter().enumerate() {
                        if positions[i] < *pos && tx.has_delivery(id, c)? {
                            records.push((id, i));
                        }
                    }
                }
                Ok(Some((items, records)))
            })?;
            match read {
                Some(read) => break read,
                None => fresh_reads += 1,
            }
        };
        if items.is_empty() {
            break;
        }
        for (pos, item) in &items {
            let id = item_id(item);
            let mut outcomes = Vec::new();
            for (i, c) in consumers.iter().enumerate() {
                if positions[i] >= *pos {
                    continue;
                }
                if records.contains(&(id, i)) {
                    // dropped before this consumer tried it, or already in its retries
                    outcomes.push((i, None));
                    continue;
                }
                outcomes.push((i, Some(offer(c, item))));
            }
            if outcomes.is_empty() {
                continue;
            }
            for (i, outcome) in &outcomes {
                if let Some(Err(e)) = outcome {
                    log_failure(id, names[*i], 1, e);
                }
            }
            let now = engine.now();
            let (failures, dead) = engine.write(|tx| {
                let (mut failures, mut dead) = (0, 0);
                for (i, outcome) in &outcomes {
                    let name = names[*i];
                    match outcome {
                        Some(Ok(())) => tx.record_delivery_success(id, name, 1, now)?,
                        Some(Err(e)) => {
                            failures += 1;
                            if failed(&policy, tx, (id, name, 1), e, now)? {
                                dead += 1;
                            }
                        }
                        None => {}
                    }
                    tx.advance_consumer(name, id)?;
                }
                tx.settle_outbox(id, &names, now)?;
                Ok((failures, dead))
            })?;
            report.delivery_failures += failures;
            report.dead_letters += dead;
            for (i, outcome) in &outcomes {
                positions[*i] = *pos;
                if matches!(outcome, Some(Ok(()))) {
                    accepted.insert(id);
                }
            }
        }
        if items.len() < PAGE as usize {
            break;
        }
    }
    // 2. retries that are due
    let now = engine.now();
    for c in &consumers {
        loop {
            let due = engine.read(|tx| tx.due_retries(&c.name, now, PAGE))?;
            for (item, attempts) in &due {
                let id = item_id(item);
                let outcome = offer(c, item);
                let attempt = attempts + 1;
                if let Err(e) = &outcome {
                    log_failure(id, &c.name, attempt, e);
                }
                let at = engine.now();
                let dead = engine.write(|tx| match &outcome {
                    Ok(()) => {
                        tx.record_delivery_success(id, &c.name, attempt, at)?;
                        tx.settle_outbox(id, &names, at)?;
                        Ok(false)
                    }
                    Err(e) => failed(&policy, tx, (id, &c.name, attempt), e, at),
                })?;
                match outcome {
                    Ok(()) => {
                        accepted.insert(id);
                    }
                    Err(_) => {
                        report.delivery_failures += 1;
                        if dead {
                            report.dead_letters += 1;
                        }
                    }
                }
            }
            if due.len() < PAGE as usize {
                break;
            }
        }
    }
    report.delivered = accepted.len();
    // 3. history events, through each consumer's cursor
    for c in &consumers {
        let mut pos = engine.read(|tx| tx.consumer_event_position(&c.name))?;
        loop {
            // In a read of their own and read again when held back, as the outbox rows above:
            // an event whose transaction commits while the read runs is delivered now, not
            // by the next tick. A position read before can only be behind (at least once).
            let mut fresh_reads = 0;
            let events = loop {
                let read = engine.read(|tx| {
                    let events = tx.events_after(pos, EVENT_PAGE)?;
                    if events.len() < EVENT_PAGE as usize
                        && fresh_reads < 3
                        && tx.events_held(pos)?
                    {
                        return Ok(None);
                    }
                    Ok(Some(events))
                })?;
                match read {
                    Some(events) => break events,
                    None => fresh_reads += 1,
                }
            };
            // the last event the hook accepted (ids are not in reading order on PostgreSQL)
            let mut last = None;
            let mut stopped = false;
            for e in &events {
                if guarded(|| c.hook.on_event(e)).is_err() {
                    stopped = true;
                    break;
                }
                last = Some(e.id);
            }
            if let Some(last) = last {
                engine.write(|tx| tx.advance_consumer_events(&c.name, last))?;
                pos = last;
            }
            if stopped || events.len() < EVENT_PAGE as usize {
                break;
            }
        }
    }
    Ok(report)
}
