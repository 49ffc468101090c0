//! Bulk operator controls: suspend, resume or cancel every case a view or a filter selects,
//! with a dry run first. The cases are chosen once, in id order, and each is then changed by
//! the same control as one case ([`Engine::suspend_case`]…) in its own transaction, with its
//! own history event and audit entry naming the operator and the reason. An interruption
//! (a crash, a killed process) therefore leaves every case either done or untouched, and
//! running the same command again finishes the rest: a case already done is no longer
//! selected.

use serde::Serialize;
use serde_json::Value;

use super::Engine;
use crate::error::{Error, Result};
use crate::model::{Case, CaseFilter};

/// Which control [`Engine::control_cases`] applies to each selected case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkControl {
    /// [`Engine::suspend_case`]: selects open cases that are not suspended.
    Suspend,
    /// [`Engine::resume_case`]: selects suspended cases.
    Resume,
    /// [`Engine::cancel_case`]: selects open cases.
    Cancel,
}

impl BulkControl {
    /// Every control, by name.
    pub const ALL: [BulkControl; 3] = [
        BulkControl::Suspend,
        BulkControl::Resume,
        BulkControl::Cancel,
    ];

    /// `suspend`, `resume` or `cancel`.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkControl::Suspend => "suspend",
            BulkControl::Resume => "resume",
            BulkControl::Cancel => "cancel",
        }
    }

    /// The control of this name; an unknown one is a validation error naming the three.
    pub fn parse(name: &str) -> Result<BulkControl> {
        BulkControl::ALL
            .into_iter()
            .find(|c| c.as_str() == name)
            .ok_or_else(|| {
                Error::validation(
                    "control",
                    format!("unknown control `{name}` (known: suspend, resume, cancel)"),
                )
            })
    }

    /// The outcome word of a case done (`suspended`…).
    fn done(self) -> &'static str {
        match self {
            BulkControl::Suspend => "suspended",
            BulkControl::Resume => "resumed",
            BulkControl::Cancel => "cancelled",
        }
    }

    /// Whether a case is one this control applies to.
    fn applies(self, c: &Case) -> bool {
        match self {
            BulkControl::Suspend => c.open && c.suspended.is_none() && c.cancelled.is_none(),
            BulkControl::Resume => c.suspended.is_some(),
            BulkControl::Cancel => c.open && c.cancelled.is_none(),
        }
    }
}

/// Which cases [`Engine::control_cases`] changes: a view (seen by the operator) and/or a
/// filter; every part given narrows the selection, and at least one must be given.
#[derive(Debug, Clone)]
pub struct BulkOptions {
    /// The control.
    pub control: BulkControl,
    /// The cases of this named view (`view` or `workflow.view`) as the operator sees them.
    pub view: Option<String>,
    /// Only cases of this workflow.
    pub workflow: Option<String>,
    /// Only cases in this state.
    pub state: Option<String>,
    /// Only cases of this organisation.
    pub org: Option<String>,
    /// Only cases whose field equals the value (`null`: the field is unset).
    pub fields: Vec<(String, Value)>,
    /// Only say which cases would change.
    pub dry_run: bool,
}

impl BulkOptions {
    /// Options for `control` that select nothing yet.
    pub fn new(control: BulkControl) -> Self {
        BulkOptions {
            control,
            view: None,
            workflow: None,
            state: None,
            org: None,
            fields: Vec::new(),
            dry_run: false,
        }
    }

    fn selects_anything(&self) -> bool {
        self.view.is_some()
            || self.workflow.is_some()
            || self.state.is_some()
            || self.org.is_some()
            || !self.fields.is_empty()
    }
}

/// One case of a bulk control.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkCase {
    /// The case.
    pub case: i64,
    /// Its workflow.
    pub workflow: String,
    /// Its state when it was selected.
    pub state: String,
    /// `suspended`, `resumed`, `cancelled`; in a dry run `would_suspend`, `would_resume`,
    /// `would_cancel`; `refused` when the case changed between the selection and its turn.
    pub outcome: String,
    /// Why it was refused.
    pub reason: Option<String>,
}

/// What [`Engine::control_cases`] did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BulkReport {
    /// Only said what would change.
    pub dry_run: bool,
    /// The control.
    pub control: BulkControl,
    /// Each selected case, in id order.
    pub cases: Vec<BulkCase>,
}

impl BulkReport {
    /// How many cases were changed (or, in a dry run, would be).
    pub fn changed(&self) -> usize {
        self.cases.iter().filter(|c| c.outcome != "refused").count()
    }
}

impl Engine {
    /// Suspend, resume or cancel every case the view and/or filter of `options` selects and
    /// the control applies to (suspend: open and not suspended; resume: suspended; cancel:
    /// open), each in its own transaction with its history event and audit entry by
    /// `operator` with `reason`, in id order. `operator` must hold an operator role and the
    /// view is read as they see it. A case that changed meanwhile so that the control no
    /// longer applies is reported `refused` with the reason and the others go on. With
    /// `dry_run`, nothing changes. A selection naming nothing is refused.
    pub fn control_cases(
        &self,
        options: &BulkOptions,
        operator: &str,
        reason: &str,
    ) -> Result<BulkReport> {
        let control = options.control;
        let name = format!("case.{}", control.as_str());
        if reason.trim().is_empty() {
            return Err(Error::validation(
                "reason",
                format!("`{name}` needs a reason (who asked, why)"),
            ));
        }
        self.check_operator(operator, &name)?;
        if !options.selects_anything() {
            return Err(Error::validation(
                "selection",
                "name a view or a filter (workflow, state, organisation or field) to choose the cases",
            ));
        }
        let mut cases = self.select_cases(options, operator)?;
        cases.retain(|c| control.applies(c));
        cases.sort_by_key(|c| c.id);
        let mut out = Vec::with_capacity(cases.len());
        for c in cases {
            let mut one = BulkCase {
                case: c.id,
                workflow: c.workflow.clone(),
                state: c.state.clone(),
                outcome: if options.dry_run {
                    format!("would_{}", control.as_str())
                } else {
                    control.done().to_owned()
                },
                reason: None,
            };
            if !options.dry_run {
                let done = self.control_one(c.id, operator, reason, &name, false, |c, db, now| {
                    self.plan_control(control, c, db, now)
                });
                match done {
                    Ok(_) => {}
                    Err(Error::Validation { message, .. }) => {
                        one.outcome = "refused".into();
                        one.reason = Some(message);
                    }
                    Err(e @ Error::Cancelled { .. }) => {
                        one.outcome = "refused".into();
                        one.reason = Some(e.to_string());
                    }
                    Err(e) => {
                        self.after_commit();
                        return Err(e);
                    }
                }
            }
            out.push(one);
        }
        if !options.dry_run {
            self.after_commit();
        }
        Ok(BulkReport {
            dry_run: options.dry_run,
            control,
            cases: out,
        })
    }

    /// The cases a bulk selection names, before the control's own condition.
    fn select_cases(&self, o: &BulkOptions, operator: &str) -> Result<Vec<Case>> {
        // a name that does not exist is a mistake, not an empty selection
        let defs: Vec<_> = match &o.workflow {
            Some(w) => vec![self.definition(w)?],
            None => self.definitions(),
        };
        if let Some(s) = &o.state {
            if !defs.iter().any(|d| d.state(s).is_some()) {
                let mut known: Vec<&str> = defs
                    .iter()
                    .flat_map(|d| d.states.iter().map(|st| st.id.as_str()))
                    .collect();
                known.sort_unstable();
                known.dedup();
                return Err(Error::not_found_among("state", s.clone(), known));
            }
        }
        for (k, _) in &o.fields {
            if !defs.iter().any(|d| d.field(k).is_some()) {
                let mut known: Vec<&str> = defs
                    .iter()
                    .flat_map(|d| d.fields.iter().map(|f| f.name.as_str()))
                    .collect();
                known.sort_unstable();
                known.dedup();
                return Err(Error::not_found_among("field", k.clone(), known));
            }
        }
        let mut cases = match &o.view {
            Some(view) => self.view(view, operator)?,
            None => self.cases(&CaseFilter {
                workflow: o.workflow.clone(),
                state: o.state.clone(),
                org: o.org.clone(),
                limit: None,
            })?,
        };
        cases.retain(|c| {
            o.workflow.as_ref().is_none_or(|w| *w == c.workflow)
                && o.state.as_ref().is_none_or(|s| *s == c.state)
                && o.org.as_ref().is_none_or(|g| *g == c.org)
                && o.fields.iter().all(|(k, v)| match c.data.get(k) {
                    Some(have) => have == v,
                    None => v.is_null(),
                })
        });
        Ok(cases)
    }
}
