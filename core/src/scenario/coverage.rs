//! What scenarios exercised, read from the histories of their cases, and what they left out.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;

use super::Report;
use crate::definition::Definition;
use crate::model::Event;

/// What one workflow's cases did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WorkflowCoverage {
    /// Actions done (start actions, actions by people and by timers).
    pub actions: BTreeSet<String>,
    /// States entered (the first state of a case counts).
    pub states: BTreeSet<String>,
    /// Timers fired, written `state.timer` (timer names are unique per state only).
    pub timers: BTreeSet<String>,
}

/// Per workflow id, what the cases of one or more scenarios exercised. Serialises as a map
/// `{ "workflow_id": { "actions": [...], "states": [...], "timers": [...] } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Coverage {
    /// Workflow id → what was exercised.
    pub workflows: BTreeMap<String, WorkflowCoverage>,
}

impl Coverage {
    /// Add another coverage to this one.
    pub fn merge(&mut self, other: &Coverage) {
        for (wf, c) in &other.workflows {
            let mine = self.workflows.entry(wf.clone()).or_default();
            mine.actions.extend(c.actions.iter().cloned());
            mine.states.extend(c.states.iter().cloned());
            mine.timers.extend(c.timers.iter().cloned());
        }
    }

    /// The union of the coverage of many reports.
    pub fn of_reports(reports: &[Report]) -> Coverage {
        let mut all = Coverage::default();
        for r in reports {
            all.merge(&r.covered);
        }
        all
    }

    /// Record one case's history. `def` (the case's workflow) tells which timer fired a
    /// system action.
    pub(crate) fn add_history(
        &mut self,
        workflow: &str,
        def: Option<&Definition>,
        events: &[Event],
    ) {
        let c = self.workflows.entry(workflow.to_owned()).or_default();
        for e in events {
            c.states.insert(e.to_state.clone());
            if let Some(name) = e.action.strip_prefix("timer:") {
                if let Some(from) = &e.from_state {
                    c.timers.insert(format!("{from}.{name}"));
                }
                continue;
            }
            c.actions.insert(e.action.clone());
            if e.actor == "system" {
                // A timer that fires an action records the action; find which timer(s) of
                // the state it left could have fired it.
                if let (Some(def), Some(from)) = (def, &e.from_state) {
                    if let Some(state) = def.state(from) {
                        for t in &state.timers {
                            if t.action.as_deref() == Some(e.action.as_str()) {
                                c.timers.insert(format!("{from}.{}", t.name));
                            }
                        }
                    }
                }
            }
        }
    }
}

/// What no scenario exercised in one workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Uncovered {
    /// Workflow id.
    pub workflow: String,
    /// Version of the definition compared.
    pub version: u32,
    /// Actions never done.
    pub actions: Vec<String>,
    /// States never entered.
    pub states: Vec<String>,
    /// Timers never fired (`state.timer`).
    pub timers: Vec<String>,
    /// How many actions, states and timers were exercised.
    pub covered: usize,
    /// How many the workflow has.
    pub total: usize,
}

impl Uncovered {
    /// Whether everything was exercised.
    pub fn is_complete(&self) -> bool {
        self.actions.is_empty() && self.states.is_empty() && self.timers.is_empty()
    }
}

/// For each definition (in the order given), the actions, states and timers that none of
/// the reports' cases exercised. Workflows no scenario touched list everything.
pub fn uncovered(reports: &[Report], defs: &[Arc<Definition>]) -> Vec<Uncovered> {
    let all = Coverage::of_reports(reports);
    let empty = WorkflowCoverage::default();
    defs.iter()
        .map(|d| {
            let c = all.workflows.get(&d.id).unwrap_or(&empty);
            let actions: Vec<String> = d
                .actions
                .iter()
                .filter(|a| !c.actions.contains(&a.id))
                .map(|a| a.id.clone())
                .collect();
            let states: Vec<String> = d
                .states
                .iter()
                .filter(|s| !c.states.contains(&s.id))
                .map(|s| s.id.clone())
                .collect();
            let all_timers: Vec<String> = d
                .states
                .iter()
                .flat_map(|s| s.timers.iter().map(move |t| format!("{}.{}", s.id, t.name)))
                .collect();
            let total = d.actions.len() + d.states.len() + all_timers.len();
            let timers: Vec<String> = all_timers
                .into_iter()
                .filter(|t| !c.timers.contains(t))
                .collect();
            let missing = actions.len() + states.len() + timers.len();
            Uncovered {
                workflow: d.id.clone(),
                version: d.version,
                actions,
                states,
                timers,
                covered: total - missing,
                total,
            }
        })
        .collect()
}
