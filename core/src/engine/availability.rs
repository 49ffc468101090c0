//! What a person may do, asked before doing it: the start actions offered to them, and for a
//! case every action of theirs with whether it is possible now and, when not, why.
//!
//! - **Start actions** ([`Engine::start_actions_for`]): offered only to someone who could
//!   really start it — a person of an organisation that uses the workflow (its `workflows`
//!   setting names it; without that setting, one of its people holds a directory role the
//!   workflow names, or the workflow names none), who holds a role the start is done by
//!   (`anyone`, a case role — the starter takes it — or a directory role they hold), and whom
//!   no guard of the start that does not read `inputs` refuses (judged on a blank case of
//!   their organisation).
//! - **A case's actions** ([`Engine::action_availability`]): for a person who may see the
//!   case, each action they hold a role for, with `unavailable` empty when they may do it now
//!   (exactly [`Engine::actions`]), or the reason: the case is in another state (the action's
//!   `unavailable:` message, else a generated one) or a guard refuses (its message). A closed
//!   case lists only what may still be done from its state.

use serde::Serialize;

use super::step::{
    can_see, empty_case, holds, not_visible, probe_guards, resolve_actor, state_refusal,
    suggestions, to_case, Actor,
};
use super::{Engine, StartInfo};
use crate::definition::{Action, Definition};
use crate::directory::{Org, Person};
use crate::error::{Error, Result};
use crate::store::Tx;

/// The organisation setting, reserved by the engine, that lists the workflows an
/// organisation uses (ids). Without it an organisation uses every loaded workflow, and the
/// start actions offered to its people follow its directory roles.
pub const WORKFLOWS_SETTING: &str = "workflows";

/// One action of a case for one person ([`Engine::action_availability`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActionAvailability {
    /// Action id.
    pub action: String,
    /// Its label.
    pub label: String,
    /// Its description.
    pub description: Option<String>,
    /// Why the person cannot do it now; `None` when they can.
    pub unavailable: Option<Unavailable>,
}

impl ActionAvailability {
    /// Whether the person may do it now.
    pub fn available(&self) -> bool {
        self.unavailable.is_none()
    }
}

/// Why an action cannot be done now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unavailable {
    /// `state` (the case is not in a state the action starts from) or `guard` (a guard that
    /// does not read the action's inputs refuses).
    pub reason: UnavailableReason,
    /// The message for the person: the action's `unavailable:` text or the guard's message.
    pub message: String,
    /// Actions that would help (ids): the guard's `suggest`, or for `state` the person's
    /// actions that move the case on.
    pub suggest: Vec<String>,
    /// The labels of the states the action can be done in.
    pub possible_in: Vec<String>,
}

/// The reason kind of an [`Unavailable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnavailableReason {
    /// The case is in a state the action does not start from.
    State,
    /// A guard refuses.
    Guard,
}

/// An export offered to a person ([`Engine::exports_for`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportInfo {
    /// Workflow id.
    pub workflow: String,
    /// Export name.
    pub name: String,
    /// Its title.
    pub title: String,
    /// Its description.
    pub description: Option<String>,
}

/// The exports offered to a person, in load order (see the module doc).
pub(crate) fn exports_for(engine: &Engine, db: &dyn Tx, viewer: &str) -> Result<Vec<ExportInfo>> {
    let views = super::views::views_for(engine, db, viewer, false)?;
    let mut out = Vec::new();
    for def in engine.definitions() {
        if !views.iter().any(|v| v.workflow == def.id) {
            continue;
        }
        for x in &def.exports {
            out.push(ExportInfo {
                workflow: def.id.clone(),
                name: x.name.clone(),
                title: x.title.clone(),
                description: x.description.clone(),
            });
        }
    }
    Ok(out)
}

/// The workflows an organisation's `workflows` setting names, when it has the setting.
pub(crate) fn declared_workflows(org: &Org) -> Option<Vec<&str>> {
    let list = org.settings.get(WORKFLOWS_SETTING)?.as_array()?;
    Some(list.iter().filter_map(|v| v.as_str()).collect())
}

/// Refuse a start in an organisation whose `workflows` setting leaves the workflow out.
pub(crate) fn check_org_uses(
    def: &Definition,
    action: &Action,
    org: &Org,
    actor: &str,
) -> Result<()> {
    match declared_workflows(org) {
        Some(list) if !list.contains(&def.id.as_str()) => Err(Error::NotPermitted {
            workflow: def.id.clone(),
            action: action.id.clone(),
            actor: actor.to_owned(),
            message: format!(
                "organisation `{}` does not use workflow `{}` (its `{WORKFLOWS_SETTING}` setting lists: {})",
                org.id,
                def.id,
                if list.is_empty() { "none".to_owned() } else { list.join(", ") }
            ),
        }),
        _ => Ok(()),
    }
}

/// Whether a person's organisation takes part in a workflow (see the module doc). The person
/// counts among its people even when a hook, not the store, knows them.
pub(crate) fn takes_part(
    db: &dyn Tx,
    def: &Definition,
    org: &Org,
    person: &Person,
) -> Result<bool> {
    if let Some(list) = declared_workflows(org) {
        return Ok(list.contains(&def.id.as_str()));
    }
    let mut names: Vec<&str> = def
        .roles
        .iter()
        .flat_map(|r| r.directory.iter().map(String::as_str))
        .collect();
    if names.is_empty() || names.iter().any(|n| person.has_role(n)) {
        return Ok(true);
    }
    names.sort_unstable();
    names.dedup();
    for name in names {
        if !db.people_with_role(&org.id, name)?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Whether the person holds a role the start action is done by.
fn holds_start_role(def: &Definition, action: &Action, person: &Person) -> bool {
    action.by.iter().any(|r| {
        r == "anyone"
            || def.role(r).is_some_and(|role| {
                role.is_case_role() || role.directory.iter().any(|d| person.has_role(d))
            })
    })
}

/// The start actions offered to a person, in load order (see the module doc).
pub(crate) fn start_actions_for(
    engine: &Engine,
    db: &dyn Tx,
    viewer: &str,
) -> Result<Vec<StartInfo>> {
    let actor = resolve_actor(engine, db, viewer)?;
    let Some(person) = actor.person.as_ref() else {
        return Ok(Vec::new());
    };
    let Some(org_id) = person.org.as_deref() else {
        return Ok(Vec::new());
    };
    let info = engine.org_info(db, org_id)?;
    let mut out = Vec::new();
    for def in engine.definitions() {
        if !takes_part(db, &def, &info.org, person)? {
            continue;
        }
        let mut blank = empty_case();
        blank.workflow = def.id.clone();
        blank.version = def.version;
        blank.org = org_id.to_owned();
        blank.created_at = engine.now();
        blank.updated_at = blank.created_at;
        let offered: Vec<&Action> =
            probe_guards(engine, db, &def, &blank, &actor, true, |judge| {
                Ok(def
                    .start_actions()
                    .filter(|a| holds_start_role(&def, a, person) && judge(a).is_none())
                    .collect())
            })?;
        for a in offered {
            out.push(StartInfo {
                workflow: def.id.clone(),
                workflow_title: def.title.clone(),
                action: a.id.clone(),
                label: a.label.clone().unwrap_or_else(|| a.id.clone()),
                description: a.description.clone(),
                default: def.default_start().is_some_and(|d| d.id == a.id),
            });
        }
    }
    Ok(out)
}

/// A case's actions for a person, possible now or not (see the module doc).
pub(crate) fn action_availability(
    engine: &Engine,
    db: &dyn Tx,
    case_id: i64,
    viewer: &str,
) -> Result<Vec<ActionAvailability>> {
    let row = db
        .load_case(case_id)?
        .ok_or_else(|| Error::not_found("case", case_id.to_string()))?;
    let def = engine.definition_at(db, &row.workflow, row.version)?;
    let case = to_case(&def, row);
    let actor: Actor = resolve_actor(engine, db, viewer)?;
    let Some(person) = actor.person.clone() else {
        return Ok(Vec::new());
    };
    if !can_see(&def, &case, Some(&person)) {
        return Err(not_visible(case_id));
    }
    let moves_on = suggestions(&def, &case, Some(&person));
    probe_guards(engine, db, &def, &case, &actor, false, |judge| {
        let mut out = Vec::new();
        for a in &def.actions {
            if a.is_start() || a.system_only() || !holds(&def, a, &case, &person) {
                continue;
            }
            let here = a.starts_from(&case.state);
            if !here && !case.open {
                continue;
            }
            let label = a.label.clone().unwrap_or_else(|| a.id.clone());
            let possible_in: Vec<String> = a
                .from
                .iter()
                .flatten()
                .map(|s| {
                    def.state(s)
                        .map_or_else(|| s.clone(), |st| st.label.clone())
                })
                .collect();
            let unavailable = if here {
                judge(a).map(|(_, message, suggest)| Unavailable {
                    reason: UnavailableReason::Guard,
                    message,
                    suggest,
                    possible_in: possible_in.clone(),
                })
            } else {
                Some(Unavailable {
                    reason: UnavailableReason::State,
                    message: state_refusal(a, &case),
                    suggest: moves_on.clone(),
                    possible_in: possible_in.clone(),
                })
            };
            out.push(ActionAvailability {
                action: a.id.clone(),
                label,
                description: a.description.clone(),
                unavailable,
            });
        }
        Ok(out)
    })
}
