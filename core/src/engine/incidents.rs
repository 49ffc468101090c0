//! Incidents: a timer firing that failed (its script or action raised an error) is rolled
//! back and becomes a stored incident — the case, the timer, the error with its place in the
//! definition, the attempts, the first and last time. The sweep retries it with exponential
//! backoff ([`backoff`]) up to the organisation's [`INCIDENT_MAX_ATTEMPTS_SETTING`], then
//! leaves it open for a person (`mentorflow incidents`). A retry fires the timer of the case
//! as it is then: its current state and its (possibly migrated) definition version.
//!
//! A recurring (`every`) timer keeps its schedule while one firing is in trouble: the failed
//! firing moves the timer to its next period, and the incident retries that one firing on its
//! own. A firing that fails while the same timer's incident is open updates that incident
//! (its last error and time) instead of opening another.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::step::{self, Firing};
use super::Engine;
use crate::error::{Error, Result};
use crate::model::{Incident, IncidentFilter, IncidentStatus};
use crate::store::{TimerRow, Tx};

/// The engine's own organisation setting: how many times a failed timer firing is tried in
/// all (the first firing included) before its incident is left open for a person. An integer
/// from 1 (never retried by itself) to 100; [`DEFAULT_INCIDENT_MAX_ATTEMPTS`] when unset.
pub const INCIDENT_MAX_ATTEMPTS_SETTING: &str = "incident_max_attempts";

/// Attempts of a failed timer firing when the organisation sets none: the first and four
/// retries, 1, 2, 4 and 8 minutes apart (about a quarter of an hour of trying).
pub const DEFAULT_INCIDENT_MAX_ATTEMPTS: u32 = 5;

/// The most the setting allows.
const MAX_SETTING: u64 = 100;

/// Incident retries per sweep.
const PAGE: i64 = 100;

/// The wait before the retry that follows attempt `attempt` (1-based): one minute, doubling,
/// at most six hours.
pub(crate) fn backoff(attempt: u32) -> Duration {
    let minutes = 1i64 << attempt.saturating_sub(1).min(9);
    Duration::minutes(minutes.min(6 * 60))
}

/// The value an organisation may give [`INCIDENT_MAX_ATTEMPTS_SETTING`].
pub(super) fn check_max_attempts_setting(value: &Value) -> Result<()> {
    if value.is_null()
        || value
            .as_u64()
            .is_some_and(|n| (1..=MAX_SETTING).contains(&n))
    {
        return Ok(());
    }
    Err(Error::validation(
        format!("settings.{INCIDENT_MAX_ATTEMPTS_SETTING}"),
        format!(
            "setting `{INCIDENT_MAX_ATTEMPTS_SETTING}` must be a whole number from 1 to {MAX_SETTING}, not {value}"
        ),
    ))
}

/// The attempt limit for incidents of a case's organisation.
fn max_attempts(engine: &Engine, tx: &dyn Tx, case_id: i64) -> Result<u32> {
    let Some(row) = tx.load_case(case_id)? else {
        return Ok(DEFAULT_INCIDENT_MAX_ATTEMPTS);
    };
    let info = engine.org_info(tx, &row.org)?;
    Ok(info
        .org
        .settings
        .get(INCIDENT_MAX_ATTEMPTS_SETTING)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n.min(MAX_SETTING)).ok())
        .unwrap_or(DEFAULT_INCIDENT_MAX_ATTEMPTS)
        .max(1))
}

/// A timer firing failed with `error` and was rolled back (inside the sweep's transaction):
/// keep a recurring timer's schedule or consume a one-shot timer, and open the incident (or
/// update the open one of the same timer). Returns the incident's id.
pub(super) fn timer_failed(
    engine: &Engine,
    tx: &dyn Tx,
    t: &TimerRow,
    error: &Error,
    now: DateTime<Utc>,
) -> Result<i64> {
    step::skip_failed_firing(engine, tx, t, now)?;
    if let Some(mut open) = tx.open_incident_of(t.case_id, &t.name)? {
        open.code = error.code().to_owned();
        open.error = error.to_string();
        open.last_at = now;
        tx.update_incident(&open)?;
        return Ok(open.id);
    }
    let max = max_attempts(engine, tx, t.case_id)?;
    tx.insert_incident(&Incident {
        id: 0,
        case_id: t.case_id,
        kind: "timer".to_owned(),
        state: t.state.clone(),
        timer: t.name.clone(),
        code: error.code().to_owned(),
        error: error.to_string(),
        attempts: 1,
        status: IncidentStatus::Open,
        first_at: now,
        last_at: now,
        next_attempt_at: (max > 1).then(|| now + backoff(1)),
        resolved_at: None,
        resolved_by: None,
        note: None,
        anchor: t.anchor,
        fired: t.fired,
    })
}

/// Fire an incident's timer again in a savepoint, and record the outcome on the incident: a
/// success (or nothing left to fire) resolves it; a failure rolls the firing back, counts the
/// attempt and schedules the next automatic retry (`auto`) while the limit allows. Returns
/// whether the timer fired.
fn refire(
    engine: &Engine,
    tx: &dyn Tx,
    i: &mut Incident,
    now: DateTime<Utc>,
    auto: bool,
    by: Option<&str>,
) -> Result<bool> {
    let t = TimerRow {
        id: 0,
        case_id: i.case_id,
        state: i.state.clone(),
        name: i.timer.clone(),
        due_at: now,
        anchor: i.anchor,
        fired: i.fired,
    };
    let mut firing = Firing::Gone;
    let result = tx.savepoint(&mut || {
        firing = step::fire_timer(engine, tx, &t, now, true)?;
        Ok(())
    });
    i.last_at = now;
    match result {
        Ok(()) => {
            if firing != Firing::Gone {
                i.attempts += 1;
            }
            i.status = IncidentStatus::Resolved;
            i.next_attempt_at = None;
            i.resolved_at = Some(now);
            i.resolved_by = by.map(str::to_owned);
            i.note = Some(
                match firing {
                    Firing::Fired => format!("retried: the timer fired (attempt {})", i.attempts),
                    Firing::Skipped => format!(
                        "retried: the timer's `when` was false, nothing to do (attempt {})",
                        i.attempts
                    ),
                    Firing::Gone => format!(
                        "nothing to fire: the case left state `{}`, or its definition no longer has timer `{}`",
                        i.state, i.timer
                    ),
                    Firing::Superseded => format!(
                        "nothing to fire: timer `{}` is pending again and fires in its own time",
                        i.timer
                    ),
                },
            );
        }
        Err(e @ Error::Storage { .. }) => return Err(e),
        Err(e) => {
            i.attempts += 1;
            i.code = e.code().to_owned();
            i.error = e.to_string();
            let max = max_attempts(engine, tx, i.case_id)?;
            i.next_attempt_at = (auto && i.attempts < max).then(|| now + backoff(i.attempts));
        }
    }
    tx.update_incident(i)?;
    Ok(firing == Firing::Fired && i.status == IncidentStatus::Resolved)
}

/// Retry the incidents whose automatic retry is due (part of a sweep). Each retry is its own
/// transaction. Returns (fired, still failing) counts.
pub(super) fn retry_due(engine: &Engine, now: DateTime<Utc>) -> Result<(usize, Vec<String>)> {
    let mut fired = 0;
    let mut failed = Vec::new();
    // a read first: most sweeps have no incident to retry, and need no write for it
    if engine
        .read(|tx| tx.next_incident_retry())?
        .is_none_or(|t| t > now)
    {
        return Ok((fired, failed));
    }
    loop {
        let (n, f, more) = engine.write(|tx| {
            let due = tx.due_incidents(now, PAGE)?;
            let (mut n, mut f) = (0, Vec::new());
            for i in &due {
                let mut i = i.clone();
                if refire(engine, tx, &mut i, now, true, None)? {
                    n += 1;
                } else if i.status == IncidentStatus::Open {
                    f.push(format!(
                        "timer `{}` of case {} (incident {}, attempt {}): {}",
                        i.timer, i.case_id, i.id, i.attempts, i.error
                    ));
                }
            }
            Ok((n, f, due.len() == PAGE as usize))
        })?;
        fired += n;
        failed.extend(f);
        if !more {
            break;
        }
    }
    Ok((fired, failed))
}

impl Engine {
    /// Incidents by filter (by default the open ones), oldest first.
    pub fn incidents(&self, filter: &IncidentFilter) -> Result<Vec<Incident>> {
        self.read(|tx| tx.incidents(filter))
    }

    /// One incident.
    pub fn incident(&self, id: i64) -> Result<Incident> {
        self.read(|tx| tx.incident(id))?
            .ok_or_else(|| Error::not_found("incident", id.to_string()))
    }

    /// Retry an open incident now, in one transaction: the timer fires against the case as it
    /// is (its state, its current definition version — after a fix was deployed and the case
    /// migrated, the new one). On success the incident is resolved; on failure the firing is
    /// rolled back and the incident stays open with the new error and no automatic retry.
    /// Returns the incident afterwards. A resolved or unknown incident is refused.
    pub fn retry_incident(&self, id: i64) -> Result<Incident> {
        self.retry_incident_by(id, None)
    }

    /// [`Engine::retry_incident`] by an operator (a person holding one of
    /// [`Engine::operator_roles`]; anyone else is refused with `not_permitted`), who is
    /// recorded as the one who resolved it.
    pub fn retry_incident_as(&self, id: i64, operator: &str) -> Result<Incident> {
        self.check_operator(operator, "incidents.retry")?;
        self.retry_incident_by(id, Some(operator))
    }

    fn retry_incident_by(&self, id: i64, by: Option<&str>) -> Result<Incident> {
        let now = self.now();
        let i = self.write(|tx| {
            let mut i = open_incident(tx, id)?;
            if let Some(m) = tx.load_case(i.case_id)?.and_then(|c| c.suspended) {
                // a suspended case's timers wait for its resume: refused, nothing changes
                return Err(Error::Suspended {
                    case_id: i.case_id,
                    by: m.by,
                    at: m.at,
                    reason: m.reason,
                });
            }
            let before = incident_summary(&i);
            refire(self, tx, &mut i, now, false, by)?;
            self.record_audit(
                tx,
                now,
                by,
                crate::audit::kinds::INCIDENT_RETRY,
                format!("incident:{id}"),
                before,
                incident_summary(&i),
                None,
            )?;
            Ok(i)
        })?;
        self.after_commit();
        Ok(i)
    }

    /// Resolve an open incident without firing (the firing is no longer wanted, or was done
    /// by hand), with a note saying why. Returns the incident afterwards.
    pub fn resolve_incident(&self, id: i64, note: &str) -> Result<Incident> {
        self.resolve_incident_by(id, note, None)
    }

    /// [`Engine::resolve_incident`] by an operator, who is recorded.
    pub fn resolve_incident_as(&self, id: i64, note: &str, operator: &str) -> Result<Incident> {
        self.check_operator(operator, "incidents.resolve")?;
        self.resolve_incident_by(id, note, Some(operator))
    }

    fn resolve_incident_by(&self, id: i64, note: &str, by: Option<&str>) -> Result<Incident> {
        let note = note.trim();
        if note.is_empty() {
            return Err(Error::validation(
                "note",
                "resolving an incident needs a note saying why",
            ));
        }
        let now = self.now();
        self.write(|tx| {
            let mut i = open_incident(tx, id)?;
            let before = incident_summary(&i);
            i.status = IncidentStatus::Resolved;
            i.next_attempt_at = None;
            i.resolved_at = Some(now);
            i.resolved_by = by.map(str::to_owned);
            i.note = Some(note.to_owned());
            tx.update_incident(&i)?;
            self.record_audit(
                tx,
                now,
                by,
                crate::audit::kinds::INCIDENT_RESOLVE,
                format!("incident:{id}"),
                before,
                incident_summary(&i),
                Some(note),
            )?;
            Ok(i)
        })
    }

    /// Refuse a person who holds none of the operator roles.
    pub(crate) fn check_operator(&self, person: &str, control: &str) -> Result<()> {
        if self.is_operator(person)? {
            return Ok(());
        }
        Err(Error::NotPermitted {
            workflow: String::new(),
            action: control.to_owned(),
            actor: person.to_owned(),
            message: format!(
                "`{person}` may not use `{control}`: it needs an operator, a person holding one of the directory roles {}",
                self.operator_roles().join(", ")
            ),
        })
    }
}

/// What the audit keeps of an incident before and after an operator's retry or resolve.
fn incident_summary(i: &Incident) -> Value {
    serde_json::json!({
        "case": i.case_id,
        "timer": i.timer,
        "status": i.status.as_str(),
        "attempts": i.attempts,
        "error": i.error,
    })
}

/// The incident, open.
fn open_incident(tx: &dyn Tx, id: i64) -> Result<Incident> {
    let i = tx
        .incident(id)?
        .ok_or_else(|| Error::not_found("incident", id.to_string()))?;
    if i.status != IncidentStatus::Open {
        return Err(Error::validation(
            "id",
            format!(
                "incident {id} is already resolved{}",
                i.note
                    .as_deref()
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
        ));
    }
    Ok(i)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_a_minute_up_to_six_hours() {
        assert_eq!(backoff(1), Duration::minutes(1));
        assert_eq!(backoff(2), Duration::minutes(2));
        assert_eq!(backoff(4), Duration::minutes(8));
        assert_eq!(backoff(9), Duration::minutes(256));
        assert_eq!(backoff(10), Duration::hours(6));
        assert_eq!(backoff(1000), Duration::hours(6));
    }

    #[test]
    fn the_setting_is_a_whole_number_from_one_to_a_hundred() {
        assert!(check_max_attempts_setting(&Value::from(1)).is_ok());
        assert!(check_max_attempts_setting(&Value::from(100)).is_ok());
        assert!(check_max_attempts_setting(&Value::Null).is_ok());
        for bad in [
            Value::from(0),
            Value::from(101),
            Value::from(-1),
            Value::from(2.5),
            Value::from("3"),
        ] {
            let e = check_max_attempts_setting(&bad).unwrap_err();
            assert_eq!(e.code(), "validation");
            assert!(e.to_string().contains(INCIDENT_MAX_ATTEMPTS_SETTING), "{e}");
        }
    }
}
