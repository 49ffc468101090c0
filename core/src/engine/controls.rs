//! Operator controls on one case: suspend and resume, cancel, and repair (move it to a state
//! outside the flow's actions). Each is one transaction, allowed only to an operator (a
//! person holding one of [`Engine::operator_roles`]), needs a reason, and records a history
//! event whose actor is the operator, whose `reason` input is the reason and whose effect
//! ([`Effect::Suspended`], [`Effect::Resumed`], [`Effect::Cancelled`], [`Effect::Repaired`])
//! says what happened, so that [`crate::fold`] still gives the stored snapshot.
//!
//! A suspended case refuses every action (`suspended`); its timers stay stored but are not
//! fired (the sweep, the overdue count and incident retries skip the case), and fire late,
//! once, after [`Engine::resume_case`]. A cancelled case keeps its last state, is no longer
//! open, has no timers and refuses every action (`cancelled`).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::step;
use super::Engine;
use crate::error::{Error, Result};
use crate::model::{Case, Decision, Effect, Event, OperatorMark, TimerPlan};
use crate::store::Tx;

/// The action of the history event [`Engine::suspend_case`] records.
pub const SUSPEND_ACTION: &str = "operator:suspend";
/// The action of the history event [`Engine::resume_case`] records.
pub const RESUME_ACTION: &str = "operator:resume";
/// The action of the history event [`Engine::cancel_case`] records.
pub const CANCEL_ACTION: &str = "operator:cancel";
/// The action of the history event [`Engine::repair_case`] records.
pub const REPAIR_ACTION: &str = "operator:repair";

impl Engine {
    /// Suspend an open case: until [`Engine::resume_case`] it refuses every action with
    /// [`Error::Suspended`] and its timers wait. `operator` must hold an operator role and
    /// `reason` must not be blank. Returns the case afterwards ([`Case::suspended`] set).
    pub fn suspend_case(&self, case_id: i64, operator: &str, reason: &str) -> Result<Case> {
        self.control(case_id, operator, reason, "case.suspend", |c, _db, _now| {
            if let Some(m) = &c.suspended {
                return Err(Error::validation(
                    "case",
                    format!(
                        "case {} is already suspended (by {}: {})",
                        c.id, m.by, m.reason
                    ),
                ));
            }
            refuse_closed(c, "suspended")?;
            Ok(Plan::mark(SUSPEND_ACTION, Effect::Suspended))
        })
    }

    /// Resume a suspended case: it takes actions again, and its timers that fell due while
    /// it was suspended fire at the next sweep (late, once each; a recurring timer once for
    /// the periods it missed).
    pub fn resume_case(&self, case_id: i64, operator: &str, reason: &str) -> Result<Case> {
        self.control(case_id, operator, reason, "case.resume", |c, _db, _now| {
            if c.suspended.is_none() {
                return Err(Error::validation(
                    "case",
                    format!("case {} is not suspended", c.id),
                ));
            }
            Ok(Plan::mark(RESUME_ACTION, Effect::Resumed))
        })
    }

    /// Cancel an open (possibly suspended) case: it ends in the state it is in — no longer
    /// open, its timers dropped, every later action refused with [`Error::Cancelled`].
    pub fn cancel_case(&self, case_id: i64, operator: &str, reason: &str) -> Result<Case> {
        self.control(case_id, operator, reason, "case.cancel", |c, db, _now| {
            refuse_closed(c, "cancelled")?;
            let mut p = Plan::mark(CANCEL_ACTION, Effect::Cancelled);
            p.timers.clear = true;
            for t in db.case_timers(c.id)? {
                p.effects.push(Effect::TimerCancelled {
                    name: t.name.clone(),
                });
            }
            Ok(p)
        })
    }

    /// Repair a case: move it to `state` of its definition outside the flow's actions (no
    /// action, guard, effect or notification runs). The old state's timers are cancelled and
    /// the new state's scheduled as on entering it. A final state closes the case; an open
    /// state reopens a closed one. An unknown state is refused with the states it has.
    pub fn repair_case(
        &self,
        case_id: i64,
        state: &str,
        operator: &str,
        reason: &str,
    ) -> Result<Case> {
        let target = state.to_owned();
        self.control(
            case_id,
            operator,
            reason,
            "case.repair",
            move |c, db, now| {
                let def = self.definition_at(db, &c.workflow, c.version)?;
                let Some(st) = def.state(&target) else {
                    return Err(Error::not_found_among(
                        "state",
                        target.clone(),
                        def.states.iter().map(|s| s.id.as_str()),
                    ));
                };
                let info = self.org_info(db, &c.org)?;
                let mut p = Plan::mark(REPAIR_ACTION, Effect::Repaired);
                for t in db.case_timers(c.id)? {
                    p.effects.push(Effect::TimerCancelled {
                        name: t.name.clone(),
                    });
                }
                let (timers, effects) =
                    step::plan_timers(&info.cal, Some(st), true, &[], &[], &[], &c.data, now);
                p.timers = timers;
                p.effects.extend(effects);
                p.to_state = Some(st.id.clone());
                p.state_label = Some(st.label.clone());
                p.tags = st.tags.clone();
                p.open = Some(!st.is_final);
                p.inputs
                    .insert("state".into(), Value::String(st.id.clone()));
                Ok(p)
            },
        )
    }

    /// The frame every control shares: the operator and reason checked, the case loaded,
    /// `decide` says what changes, one event and one transaction.
    fn control(
        &self,
        case_id: i64,
        operator: &str,
        reason: &str,
        control: &str,
        decide: impl Fn(&Case, &dyn Tx, DateTime<Utc>) -> Result<Plan>,
    ) -> Result<Case> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::validation(
                "reason",
                format!("`{control}` needs a reason (who asked, why)"),
            ));
        }
        self.check_operator(operator, control)?;
        let now = self.now();
        let case = self.write(|db| {
            let row = db
                .load_case(case_id)?
                .ok_or_else(|| Error::not_found("case", case_id.to_string()))?;
            let def = self.definition_at(db, &row.workflow, row.version)?;
            let old = step::to_case(&def, row);
            if let Some(m) = &old.cancelled {
                return Err(Error::Cancelled {
                    case_id,
                    by: m.by.clone(),
                    at: m.at,
                    reason: m.reason.clone(),
                });
            }
            let plan = decide(&old, db, now)?;
            let mark = OperatorMark {
                by: operator.to_owned(),
                at: now,
                reason: reason.to_owned(),
            };
            let mut new = old.clone();
            new.revision = old.revision + 1;
            new.updated_at = now;
            match plan.effects.first() {
                Some(Effect::Suspended) => new.suspended = Some(mark),
                Some(Effect::Resumed) => new.suspended = None,
                Some(Effect::Cancelled) => {
                    new.suspended = None;
                    new.cancelled = Some(mark);
                    new.open = false;
                }
                _ => {}
            }
            if let Some(s) = &plan.to_state {
                new.state = s.clone();
            }
            if let Some(l) = &plan.state_label {
                new.state_label = l.clone();
                new.tags = plan.tags.clone();
            }
            if let Some(open) = plan.open {
                new.open = open;
            }
            let mut inputs = plan.inputs.clone();
            inputs.insert("reason".into(), Value::String(reason.to_owned()));
            let event = Event {
                id: 0,
                case_id,
                seq: new.revision,
                at: now,
                actor: operator.to_owned(),
                action: plan.action.to_owned(),
                from_state: Some(old.state.clone()),
                to_state: new.state.clone(),
                inputs,
                effects: plan.effects.clone(),
            };
            db.apply(Decision {
                case: new,
                expected_revision: Some(old.revision),
                participants: Vec::new(),
                timers: plan.timers.clone(),
                outbox: Vec::new(),
                copies: Vec::new(),
                event,
            })
        })?;
        self.after_commit();
        Ok(case)
    }
}

/// What one control changes besides the revision and time.
struct Plan {
    action: &'static str,
    /// The control's own effect first, then timer effects.
    effects: Vec<Effect>,
    timers: TimerPlan,
    inputs: Map<String, Value>,
    to_state: Option<String>,
    state_label: Option<String>,
    tags: Vec<String>,
    open: Option<bool>,
}

impl Plan {
    fn mark(action: &'static str, effect: Effect) -> Self {
        Plan {
            action,
            effects: vec![effect],
            timers: TimerPlan::default(),
            inputs: Map::new(),
            to_state: None,
            state_label: None,
            tags: Vec::new(),
            open: None,
        }
    }
}

/// A closed case cannot be suspended or cancelled.
fn refuse_closed(c: &Case, what: &str) -> Result<()> {
    if c.open {
        return Ok(());
    }
    Err(Error::validation(
        "case",
        format!(
            "case {} is closed (state `{}` is final); only an open case can be {what}",
            c.id, c.state
        ),
    ))
}
