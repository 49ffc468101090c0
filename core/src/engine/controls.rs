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

use super::audit::case_summary;
use super::bulk::BulkControl;
use super::step;
use super::Engine;
use crate::error::{Error, Result};
use crate::metrics::Command;
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
        self.control(case_id, operator, reason, "case.suspend", |c, db, now| {
            self.plan_control(BulkControl::Suspend, c, db, now)
        })
    }

    /// Resume a suspended case: it takes actions again, and its timers that fell due while
    /// it was suspended fire at the next sweep (late, once each; a recurring timer once for
    /// the periods it missed).
    pub fn resume_case(&self, case_id: i64, operator: &str, reason: &str) -> Result<Case> {
        self.control(case_id, operator, reason, "case.resume", |c, db, now| {
            self.plan_control(BulkControl::Resume, c, db, now)
        })
    }

    /// Cancel an open (possibly suspended) case: it ends in the state it is in — no longer
    /// open, its timers dropped, every later action refused with [`Error::Cancelled`].
    pub fn cancel_case(&self, case_id: i64, operator: &str, reason: &str) -> Result<Case> {
        self.control(case_id, operator, reason, "case.cancel", |c, db, now| {
            self.plan_control(BulkControl::Cancel, c, db, now)
        })
    }

    /// What suspending, resuming or cancelling `c` changes, or why it cannot be done.
    pub(crate) fn plan_control(
        &self,
        control: BulkControl,
        c: &Case,
        db: &dyn Tx,
        _now: DateTime<Utc>,
    ) -> Result<Plan> {
        match control {
            BulkControl::Suspend => {
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
            }
            BulkControl::Resume => {
                if c.suspended.is_none() {
                    return Err(Error::validation(
                        "case",
                        format!("case {} is not suspended", c.id),
                    ));
                }
                Ok(Plan::mark(RESUME_ACTION, Effect::Resumed))
            }
            BulkControl::Cancel => {
                refuse_closed(c, "cancelled")?;
                let mut p = Plan::mark(CANCEL_ACTION, Effect::Cancelled);
                p.timers.clear = true;
                for t in db.case_timers(c.id)? {
                    p.effects.push(Effect::TimerCancelled {
                        name: t.name.clone(),
                    });
                }
                Ok(p)
            }
        }
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
    /// `decide` says what changes, one event and one transaction; then the outbox delivered.
    fn control(
        &self,
        case_id: i64,
        operator: &str,
        reason: &str,
        control: &str,
        decide: impl Fn(&Case, &dyn Tx, DateTime<Utc>) -> Result<Plan>,
    ) -> Result<Case> {
        self.control_one(case_id, operator, reason, control, true, decide)
    }

    /// [`Engine::control`], delivering the outbox after the commit only when `deliver` (a
    /// bulk control delivers once, at its end).
    pub(crate) fn control_one(
        &self,
        case_id: i64,
        operator: &str,
        reason: &str,
        control: &str,
        deliver: bool,
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
        let t = std::time::Instant::now();
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
            let case = db.apply(Decision {
                case: new,
                expected_revision: Some(old.revision),
                participants: Vec::new(),
                timers: plan.timers.clone(),
                outbox: Vec::new(),
                copies: Vec::new(),
                event,
            })?;
            self.record_audit(
                db,
                now,
                Some(operator),
                control,
                format!("case:{case_id}"),
                case_summary(&old),
                case_summary(&case),
                Some(reason),
            )?;
            Ok(case)
        });
        let command = match control {
            "case.suspend" => Command::Suspend,
            "case.resume" => Command::Resume,
            "case.cancel" => Command::Cancel,
            _ => Command::Repair,
        };
        let case = self.observe(t, command, Some(case_id), control, case)?;
        if deliver {
            self.after_commit();
        }
        Ok(case)
    }
}

/// What one control changes besides the revision and time.
pub(crate) struct Plan {
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

/// The action of the history event [`Engine::reassign_participant`] records on each case.
pub const REASSIGN_ACTION: &str = "operator:reassign";

/// Which cases [`Engine::reassign_participant`] changes, and to whom.
#[derive(Debug, Clone, Default)]
pub struct ReassignOptions {
    /// The person who leaves (a mentor who left the programme).
    pub from: String,
    /// Who takes their place; `None` only removes them.
    pub to: Option<String>,
    /// Only this case role (else every role they hold).
    pub role: Option<String>,
    /// Only cases of this workflow.
    pub workflow: Option<String>,
    /// Only say what would change.
    pub dry_run: bool,
}

/// One case of a reassignment.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CaseReassignment {
    /// The case.
    pub case: i64,
    /// Its workflow.
    pub workflow: String,
    /// The case roles moved.
    pub roles: Vec<String>,
    /// `reassigned`, `would_reassign` (dry run) or `refused`.
    pub outcome: String,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// What [`Engine::reassign_participant`] did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ReassignReport {
    /// Only said what would change.
    pub dry_run: bool,
    /// The person who left.
    pub from: String,
    /// Who took their place.
    pub to: Option<String>,
    /// Each open case of theirs, in id order.
    pub cases: Vec<CaseReassignment>,
}

impl Engine {
    /// Move every open case role `from` holds (optionally one role, one workflow) to `to`,
    /// or only remove them when `to` is `None`: each case in its own transaction with an
    /// `operator:reassign` history event by the operator with the reason, so an interruption
    /// leaves every case either done or untouched. With `dry_run`, nothing changes.
    pub fn reassign_participant(
        &self,
        options: &ReassignOptions,
        operator: &str,
        reason: &str,
    ) -> Result<ReassignReport> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::validation(
                "reason",
                "`case.reassign` needs a reason (who asked, why)",
            ));
        }
        self.check_operator(operator, "case.reassign")?;
        self.person(&options.from)?;
        if let Some(to) = &options.to {
            self.person(to)?;
            if *to == options.from {
                return Err(Error::validation(
                    "to",
                    "a person cannot replace themselves",
                ));
            }
        }
        let mut ids: Vec<i64> = self
            .cases(&crate::model::CaseFilter {
                workflow: options.workflow.clone(),
                ..Default::default()
            })?
            .into_iter()
            .filter(|c| c.open && c.has_participant(&options.from, options.role.as_deref()))
            .map(|c| c.id)
            .collect();
        ids.sort_unstable();
        if let Some(to) = &options.to {
            self.check_successor(&ids, options, to)?;
        }
        let mut cases = Vec::with_capacity(ids.len());
        for id in ids {
            let one = if options.dry_run {
                self.read(|db| self.reassign_case(db, id, options, operator, reason, false))?
            } else {
                let t = std::time::Instant::now();
                let one =
                    self.write(|db| self.reassign_case(db, id, options, operator, reason, true));
                self.observe(t, Command::Reassign, Some(id), "case.reassign", one)?
            };
            cases.push(one);
        }
        if !options.dry_run {
            self.after_commit();
        }
        Ok(ReassignReport {
            dry_run: options.dry_run,
            from: options.from.clone(),
            to: options.to.clone(),
            cases,
        })
    }

    /// The successor must be able to hold each case role they take: where the case's
    /// organisation has people holding a directory role of the case role's name (`mentor`),
    /// the successor must hold it too. Otherwise the whole reassignment is refused, naming the
    /// role, the organisation and the cases, before anything changes.
    fn check_successor(&self, ids: &[i64], o: &ReassignOptions, to: &str) -> Result<()> {
        let person = self.person(to)?;
        let mut missing: Vec<(String, String, Vec<i64>)> = Vec::new();
        self.read(|db| {
            missing.clear();
            for id in ids {
                let Some(row) = db.load_case(*id)? else {
                    continue;
                };
                for (role, held) in &row.participants {
                    let wanted = o.role.as_deref().is_none_or(|w| w == role);
                    if !wanted || !held.contains(&o.from) || person.has_role(role) {
                        continue;
                    }
                    if db.people_with_role(&row.org, role)?.is_empty() {
                        continue; // not a role the directory gives (a client, an owner)
                    }
                    match missing
                        .iter_mut()
                        .find(|(r, org, _)| r == role && *org == row.org)
                    {
                        Some((_, _, cases)) => cases.push(*id),
                        None => missing.push((role.clone(), row.org.clone(), vec![*id])),
                    }
                }
            }
            Ok(())
        })?;
        let Some((role, org, cases)) = missing.first() else {
            return Ok(());
        };
        let list: Vec<String> = cases.iter().map(i64::to_string).collect();
        Err(Error::validation(
            "to",
            format!(
                "`{to}` cannot take the case role `{role}`: they do not hold the directory role `{role}` that its holders have in organisation `{org}` (case{} {}); give it to them first, or choose someone who holds it",
                if cases.len() == 1 { "" } else { "s" },
                list.join(", ")
            ),
        ))
    }

    /// One case of a reassignment (also the replay's repeat of its event).
    pub(crate) fn reassign_case(
        &self,
        db: &dyn Tx,
        id: i64,
        o: &ReassignOptions,
        operator: &str,
        reason: &str,
        write: bool,
    ) -> Result<CaseReassignment> {
        let row = db
            .load_case(id)?
            .ok_or_else(|| Error::not_found("case", id.to_string()))?;
        let def = self.definition_at(db, &row.workflow, row.version)?;
        let old = step::to_case(&def, row);
        let roles: Vec<String> = old
            .participants
            .iter()
            .filter(|(r, ids)| {
                o.role.as_deref().is_none_or(|want| want == *r) && ids.contains(&o.from)
            })
            .map(|(r, _)| r.clone())
            .collect();
        let mut out = CaseReassignment {
            case: id,
            workflow: old.workflow.clone(),
            roles: roles.clone(),
            outcome: if write {
                "reassigned"
            } else {
                "would_reassign"
            }
            .into(),
            reason: None,
        };
        if !old.open || roles.is_empty() {
            out.outcome = "refused".into();
            out.reason = Some(if old.open {
                format!("{} no longer holds a role in it", o.from)
            } else {
                "it is closed".into()
            });
            return Ok(out);
        }
        if !write {
            return Ok(out);
        }
        let mut new = old.clone();
        let mut effects = Vec::new();
        let mut changes = Vec::new();
        for r in &roles {
            let ids = new.participants.entry(r.clone()).or_default();
            ids.retain(|p| p != &o.from);
            effects.push(Effect::Unassign {
                role: r.clone(),
                person: o.from.clone(),
            });
            changes.push(crate::model::ParticipantChange {
                added: false,
                role: r.clone(),
                person: o.from.clone(),
                log: false,
            });
            if let Some(to) = &o.to {
                if !ids.contains(to) {
                    ids.push(to.clone());
                    effects.push(Effect::Assign {
                        role: r.clone(),
                        person: to.clone(),
                    });
                    changes.push(crate::model::ParticipantChange {
                        added: true,
                        role: r.clone(),
                        person: to.clone(),
                        log: true,
                    });
                }
            }
            if ids.is_empty() {
                new.participants.remove(r);
            }
        }
        let now = self.now();
        new.revision = old.revision + 1;
        new.updated_at = now;
        let mut inputs = Map::new();
        inputs.insert("reason".into(), Value::String(reason.to_owned()));
        inputs.insert("from".into(), Value::String(o.from.clone()));
        if let Some(to) = &o.to {
            inputs.insert("to".into(), Value::String(to.clone()));
        }
        if let Some(r) = &o.role {
            inputs.insert("role".into(), Value::String(r.clone()));
        }
        let event = Event {
            id: 0,
            case_id: id,
            seq: new.revision,
            at: now,
            actor: operator.to_owned(),
            action: REASSIGN_ACTION.to_owned(),
            from_state: Some(old.state.clone()),
            to_state: new.state.clone(),
            inputs,
            effects,
        };
        let case = db.apply(Decision {
            case: new,
            expected_revision: Some(old.revision),
            participants: changes,
            timers: TimerPlan::default(),
            outbox: Vec::new(),
            copies: Vec::new(),
            event,
        })?;
        self.record_audit(
            db,
            now,
            Some(operator),
            crate::audit::kinds::CASE_REASSIGN,
            format!("case:{id}"),
            case_summary(&old),
            case_summary(&case),
            Some(reason),
        )?;
        Ok(out)
    }
}
