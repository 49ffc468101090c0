//! What a page needs of the directory, asked for exactly: the people a page names (by id),
//! and the candidates of a person picker (by the input's `choices:`, bounded), so that a
//! page's cost follows the case, not the size of the organisation.

use serde::Serialize;
use serde_json::Value;

use super::step::{can_see, judge_input, not_visible, resolve_actor, to_case};
use super::Engine;
use crate::definition::{Choices, FieldType};
use crate::directory::Person;
use crate::error::{Error, Result};
use crate::store::Tx;

/// The most candidates a person picker offers ([`Engine::candidates`]).
pub const CANDIDATE_LIMIT: usize = 200;

/// The people a person picker offers ([`Engine::candidates`], [`Engine::picker_people`]).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Candidates {
    /// The candidates, by id (at most [`CANDIDATE_LIMIT`]).
    pub people: Vec<Person>,
    /// More people than [`CANDIDATE_LIMIT`] could be candidates: only the first were
    /// looked at, so a picker should also let the person give an id.
    pub more: bool,
}

/// The people `choices` starts from in an organisation (the holders of its role, else all
/// its people), by id: the first [`CANDIDATE_LIMIT`], and whether there were more.
fn pool(db: &dyn Tx, org: &str, choices: Option<&Choices>) -> Result<(Vec<Person>, bool)> {
    let role = choices.and_then(|c| c.role.as_deref());
    let mut people = db.first_people(org, role, CANDIDATE_LIMIT + 1)?;
    let more = people.len() > CANDIDATE_LIMIT;
    people.truncate(CANDIDATE_LIMIT);
    Ok((people, more))
}

impl Engine {
    /// The people of these ids that the stored directory (or, failing it, a hook) knows, in
    /// the order given, each once; unknown ids are left out. One read, one lookup per id:
    /// what a page needs to show names without loading a whole organisation.
    pub fn people_named<S: AsRef<str>>(&self, ids: &[S]) -> Result<Vec<Person>> {
        let mut seen = std::collections::HashSet::new();
        let wanted: Vec<&str> = ids
            .iter()
            .map(AsRef::as_ref)
            .filter(|id| seen.insert(*id))
            .collect();
        let stored: Vec<Option<Person>> =
            self.read(|db| wanted.iter().map(|id| db.get_person(id)).collect())?;
        Ok(wanted
            .iter()
            .zip(stored)
            .filter_map(|(id, p)| p.or_else(|| self.hooks().iter().find_map(|h| h.person(id))))
            .collect())
    }

    /// The people a person picker offers in an organisation without a case to judge guards
    /// on (a start form): by the field's `choices:` role, else the organisation's people;
    /// the first [`CANDIDATE_LIMIT`] by id.
    pub fn picker_people(&self, org: &str, choices: Option<&Choices>) -> Result<Candidates> {
        let (people, more) = self.read(|db| pool(db, org, choices))?;
        Ok(Candidates { people, more })
    }

    /// The people the picker of a person input of an action on a case offers to `viewer`:
    /// by the input's `choices:` (the holders of its `role` in the case's organisation, else
    /// its people; the first [`CANDIDATE_LIMIT`] by id), and with `choices: guard` only those
    /// for whom every guard of the action that reads this input passes with them as the
    /// input (judged read-only, as `viewer`). Never a permission: acting still runs every
    /// check. A case the viewer may not see is [`Error::NotFound`], like a missing one; an
    /// unknown action or input, or one not of type `person`, is [`Error::NotFound`] too.
    pub fn candidates(
        &self,
        case_id: i64,
        action: &str,
        input: &str,
        viewer: &str,
    ) -> Result<Candidates> {
        self.read(|db| {
            let row = db
                .load_case(case_id)?
                .ok_or_else(|| Error::not_found("case", case_id.to_string()))?;
            let def = self.definition_at(db, &row.workflow, row.version)?;
            let case = to_case(&def, row);
            let actor = resolve_actor(self, db, viewer)?;
            if !can_see(&def, &case, actor.person.as_ref()) {
                return Err(not_visible(case_id));
            }
            let a = def
                .action(action)
                .filter(|a| !a.is_start())
                .ok_or_else(|| Error::not_found("action", action))?;
            let field = a
                .inputs
                .iter()
                .find(|f| f.name == input && f.kind == FieldType::Person)
                .ok_or_else(|| Error::not_found("person input", format!("{action}.{input}")))?;
            let (mut people, more) = pool(db, &case.org, field.choices.as_ref())?;
            if field.choices.as_ref().is_some_and(|c| c.guard) {
                let values: Vec<Value> = people.iter().map(|p| Value::from(p.id.clone())).collect();
                let ok = judge_input(self, db, &def, &case, &actor, a, input, &values)?;
                let mut keep = ok.into_iter();
                people.retain(|_| keep.next().unwrap_or(false));
            }
            Ok(Candidates { people, more })
        })
    }
}
