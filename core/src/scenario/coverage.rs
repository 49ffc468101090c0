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
    /// Transitions taken: an action from a state (`state:action`), a start action
    /// (`:action`), or a timer firing in a state (`state.timer`).
    pub transitions: BTreeSet<String>,
}

/// One transition of a workflow: an action done from a state (or a start action), or a
/// timer firing in a state. Coverage counts these.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Transition {
    /// The state it leaves; `None` for a start action.
    pub from: Option<String>,
    /// The action done (for a timer that fires an action, that action).
    pub action: Option<String>,
    /// The timer that fired, for a timer firing.
    pub timer: Option<String>,
}

impl Transition {
    fn action(from: Option<&str>, action: &str) -> Transition {
        Transition {
            from: from.map(str::to_owned),
            action: Some(action.to_owned()),
            timer: None,
        }
    }

    fn timer(state: &str, timer: &str, action: Option<&str>) -> Transition {
        Transition {
            from: Some(state.to_owned()),
            action: action.map(str::to_owned),
            timer: Some(timer.to_owned()),
        }
    }

    /// The key used in [`WorkflowCoverage::transitions`].
    pub fn key(&self) -> String {
        let from = self.from.as_deref().unwrap_or("");
        match (&self.timer, &self.action) {
            (Some(t), _) => format!("{from}.{t}"),
            (None, Some(a)) => format!("{from}:{a}"),
            (None, None) => from.to_owned(),
        }
    }

    /// Every transition a definition allows, in declaration order: each action from each of
    /// its `from` states (start actions once), then each timer of each state.
    pub fn all_of(def: &Definition) -> Vec<Transition> {
        let mut out = Vec::new();
        for a in &def.actions {
            match &a.from {
                None => out.push(Transition::action(None, &a.id)),
                Some(states) => {
                    for s in states {
                        out.push(Transition::action(Some(s), &a.id));
                    }
                }
            }
        }
        for s in &def.states {
            for t in &s.timers {
                out.push(Transition::timer(&s.id, &t.name, t.action.as_deref()));
            }
        }
        out
    }
}

impl std::fmt::Display for Transition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let from = self.from.as_deref().unwrap_or("(start)");
        match (&self.timer, &self.action) {
            (Some(t), Some(a)) => write!(f, "{from} --timer {t} ({a})-->"),
            (Some(t), None) => write!(f, "{from} --timer {t}-->"),
            (None, Some(a)) => write!(f, "{from} --{a}-->"),
            (None, None) => write!(f, "{from}"),
        }
    }
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
            mine.transitions.extend(c.transitions.iter().cloned());
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
                    c.transitions.insert(format!("{from}.{name}"));
                }
                continue;
            }
            c.actions.insert(e.action.clone());
            c.transitions
                .insert(Transition::action(e.from_state.as_deref(), &e.action).key());
            if e.actor == "system" {
                // A timer that fires an action records the action; find which timer(s) of
                // the state it left could have fired it.
                if let (Some(def), Some(from)) = (def, &e.from_state) {
                    if let Some(state) = def.state(from) {
                        for t in &state.timers {
                            if t.action.as_deref() == Some(e.action.as_str()) {
                                c.timers.insert(format!("{from}.{}", t.name));
                                c.transitions.insert(format!("{from}.{}", t.name));
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
    /// Transitions never taken (an action from a state, a start action, a timer firing in
    /// a state), in declaration order.
    pub transitions: Vec<Transition>,
    /// How many actions, states and timers were exercised.
    pub covered: usize,
    /// How many the workflow has.
    pub total: usize,
    /// How many of the workflow's transitions were taken.
    pub transitions_covered: usize,
    /// How many transitions the workflow has.
    pub transitions_total: usize,
    /// Transition coverage in percent, rounded down (100 for a workflow with none).
    pub percent: u32,
}

impl Uncovered {
    /// Whether everything was exercised.
    pub fn is_complete(&self) -> bool {
        self.actions.is_empty()
            && self.states.is_empty()
            && self.timers.is_empty()
            && self.transitions.is_empty()
    }

    /// Transition coverage as a fraction of 100 (not rounded; 100 for a workflow without
    /// transitions).
    pub fn ratio(&self) -> f64 {
        if self.transitions_total == 0 {
            100.0
        } else {
            self.transitions_covered as f64 * 100.0 / self.transitions_total as f64
        }
    }
}

/// The workflows whose transition coverage is below `min_percent`, with a message for
/// each naming the workflow, its coverage and what no scenario reached. Empty when every
/// workflow reaches the threshold.
pub fn below_threshold(uncovered: &[Uncovered], min_percent: f64) -> Vec<String> {
    uncovered
        .iter()
        .filter(|u| u.ratio() < min_percent)
        .map(|u| {
            let missing: Vec<String> = u.transitions.iter().map(|t| t.to_string()).collect();
            format!(
                "{} v{}: {:.1}% of transitions covered ({} of {}), below {}%; not reached: {}",
                u.workflow,
                u.version,
                u.ratio(),
                u.transitions_covered,
                u.transitions_total,
                min_percent,
                missing.join(", ")
            )
        })
        .collect()
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
            let all_transitions = Transition::all_of(d);
            let transitions_total = all_transitions.len();
            let transitions: Vec<Transition> = all_transitions
                .into_iter()
                .filter(|t| !c.transitions.contains(&t.key()))
                .collect();
            let transitions_covered = transitions_total - transitions.len();
            let percent = (transitions_covered * 100)
                .checked_div(transitions_total)
                .unwrap_or(100) as u32;
            Uncovered {
                workflow: d.id.clone(),
                version: d.version,
                actions,
                states,
                timers,
                transitions,
                covered: total - missing,
                total,
                transitions_covered,
                transitions_total,
                percent,
            }
        })
        .collect()
}
