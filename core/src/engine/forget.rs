//! Forgetting a person (issue 15): every place the person's data lives — their directory
//! row, case data holding their id, name or e-mail, case roles, history events' inputs,
//! effects and actors, outbox rows, incidents, the audit log, their sign-in material — is
//! found and, unless it is a dry run, blanked in one transaction: their id becomes a stable
//! pseudonym `forgotten-N`, their name and e-mail (whole words, ASCII case-insensitively)
//! become the pseudonym too, their directory record keeps only the pseudonym and the
//! organisation, and each case touched gets an `operator:forget` history event.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{step, Engine};
use crate::audit::{kinds, AuditFilter};
use crate::directory::Person;
use crate::error::{Error, Result};
use crate::model::{Decision, Event, TimerPlan};
use crate::store::{Tx, SCRUBBED};

/// The action of the history event [`Engine::forget_person`] records on each case touched.
pub const FORGET_ACTION: &str = "operator:forget";

/// Columns of [`SCRUBBED`] tables that hold JSON (the rest is plain text).
const JSON_COLUMNS: &[(&str, &str)] = &[
    ("cases", "data"),
    ("cases", "participants"),
    ("cases", "suspended"),
    ("cases", "cancelled"),
    ("events", "inputs"),
    ("events", "effects"),
    ("outbox", "data"),
    ("audit", "before"),
    ("audit", "after"),
];

/// One place a forgotten person's data was (or, in a dry run, is).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForgetPlace {
    /// `directory`, `case` (its data, participants or marks), `history`, `outbox`,
    /// `incident`, `audit`, `sign-in`.
    pub place: String,
    /// The row (a case id for `case`, an event id for `history`, …), when it has one.
    pub id: Option<i64>,
    /// The case the row belongs to.
    pub case: Option<i64>,
    /// The columns that hold the data.
    pub columns: Vec<String>,
}

/// What [`Engine::forget_person`] did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForgetReport {
    /// Only said what would change.
    pub dry_run: bool,
    /// The person's id before (only in this report: nothing stored keeps it).
    pub person: String,
    /// The pseudonym that replaces it.
    pub pseudonym: String,
    /// Every place their data was found, in table and id order.
    pub places: Vec<ForgetPlace>,
    /// The cases touched (each gets an `operator:forget` event), in id order.
    pub cases: Vec<i64>,
}

/// What is replaced, and by what.
struct Scrub {
    id: String,
    /// Lowercased (ASCII) name and e-mail, replaced as whole words.
    words: Vec<String>,
    pseudonym: String,
}

impl Scrub {
    fn text(&self, s: &str) -> String {
        if s == self.id {
            return self.pseudonym.clone();
        }
        if s.strip_prefix("person:") == Some(self.id.as_str()) {
            return format!("person:{}", self.pseudonym);
        }
        let mut out = s.to_owned();
        for w in &self.words {
            out = replace_word(&out, w, &self.pseudonym);
        }
        out
    }

    fn json(&self, v: &mut Value) {
        match v {
            Value::String(s) => *s = self.text(s),
            Value::Array(a) => a.iter_mut().for_each(|v| self.json(v)),
            Value::Object(m) => m.values_mut().for_each(|v| self.json(v)),
            _ => {}
        }
    }

    /// A cell rewritten (`None`: unchanged).
    fn cell(&self, table: &str, column: &str, subject: Option<&str>, s: &str) -> Option<String> {
        let json = JSON_COLUMNS.contains(&(table, column));
        let out = if json {
            match serde_json::from_str::<Value>(s) {
                Ok(mut v) => {
                    if table == "audit" && subject == Some(&format!("person:{}", self.id)) {
                        // the person's own record (attributes, notes, …): only the pseudonym
                        if !v.is_null() {
                            v = json!({ "id": self.pseudonym, "forgotten": true });
                        }
                    } else {
                        self.json(&mut v);
                    }
                    v.to_string()
                }
                Err(_) => self.text(s),
            }
        } else {
            self.text(s)
        };
        (out != s).then_some(out)
    }
}

/// `hay` with every whole-word, ASCII case-insensitive occurrence of `word` (lowercase)
/// replaced by `with`.
fn replace_word(hay: &str, word: &str, with: &str) -> String {
    if word.is_empty() {
        return hay.to_owned();
    }
    let lower = hay.to_ascii_lowercase();
    let mut out = String::with_capacity(hay.len());
    let mut last = 0;
    let mut from = 0;
    while let Some(pos) = lower[from..].find(word) {
        let start = from + pos;
        let end = start + word.len();
        let before = hay[..start].chars().next_back();
        let after = hay[end..].chars().next();
        if before.is_none_or(|c| !c.is_alphanumeric()) && after.is_none_or(|c| !c.is_alphanumeric())
        {
            out.push_str(&hay[last..start]);
            out.push_str(with);
            last = end;
            from = end;
        } else {
            from = start + hay[start..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&hay[last..]);
    out
}

fn place_of(table: &str) -> &'static str {
    match table {
        "cases" => "case",
        "events" => "history",
        "outbox" => "outbox",
        "incidents" => "incident",
        _ => "audit",
    }
}

impl Engine {
    /// Forget a person: find every place their data lives and (unless `dry_run`) blank it
    /// in one transaction, replacing their id, name and e-mail by a pseudonym
    /// (`forgotten-N`, N counting the people forgotten so far). Their directory record keeps
    /// only the pseudonym and organisation; their sign-in material is deleted; each case
    /// touched gets an `operator:forget` event by the operator; the audit log gets one
    /// `person.forget` entry. `operator` must hold an operator role and `reason` must not be
    /// blank. An unknown person is refused.
    ///
    /// Attribute values (notes, …) are removed with the directory record and the audit
    /// log's copies of it; a copy a script made elsewhere is found only where it contains
    /// the person's name or e-mail. On SQLite, pages freed by the rewrite keep their old
    /// bytes until the file is vacuumed (`VACUUM`).
    pub fn forget_person(
        &self,
        id: &str,
        operator: &str,
        reason: &str,
        dry_run: bool,
    ) -> Result<ForgetReport> {
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::validation(
                "reason",
                "`people.forget` needs a reason (who asked, why)",
            ));
        }
        self.check_operator(operator, "people.forget")?;
        if operator == id {
            return Err(Error::validation(
                "id",
                format!("`{operator}` cannot forget themselves; ask another operator"),
            ));
        }
        let now = self.now();
        let run = |db: &dyn Tx| -> Result<ForgetReport> {
            let person = db
                .get_person(id)?
                .ok_or_else(|| Error::not_found("person", id))?;
            let forgotten = db
                .audit_entries(&AuditFilter {
                    kind: Some(kinds::PERSON_FORGET.to_owned()),
                    ..AuditFilter::default()
                })?
                .len();
            let mut n = forgotten + 1;
            while db.get_person(&format!("forgotten-{n}"))?.is_some() {
                n += 1;
            }
            let pseudonym = format!("forgotten-{n}");
            let mut words: Vec<String> = [person.name.as_deref(), person.email.as_deref()]
                .into_iter()
                .flatten()
                .map(|s| s.trim().to_ascii_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            words.dedup();
            let scrub = Scrub {
                id: person.id.clone(),
                words: words.clone(),
                pseudonym: pseudonym.clone(),
            };
            let mut needles = words.clone();
            needles.push(person.id.clone());
            let mut places = vec![ForgetPlace {
                place: "directory".into(),
                id: None,
                case: None,
                columns: vec![
                    "id".into(),
                    "name".into(),
                    "email".into(),
                    "attributes".into(),
                ],
            }];
            let mut cases = BTreeSet::new();
            for (table, _, columns) in SCRUBBED {
                let mut cols: Vec<&str> = columns.to_vec();
                if *table == "audit" {
                    // the subject decides how before/after are blanked: read it always
                    cols.retain(|c| *c != "subject");
                    cols.insert(0, "subject");
                }
                for (row, case, cells) in db.rows_mentioning(table, &cols, &needles)? {
                    let subject = if *table == "audit" {
                        cells.first().cloned().flatten()
                    } else {
                        None
                    };
                    let mut changed = Vec::new();
                    for (col, cell) in cols.iter().zip(&cells) {
                        let Some(text) = cell else { continue };
                        if let Some(new) = scrub.cell(table, col, subject.as_deref(), text) {
                            if !dry_run {
                                db.set_text(table, row, col, Some(&new))?;
                            }
                            changed.push((*col).to_owned());
                        }
                    }
                    if changed.is_empty() {
                        continue;
                    }
                    if let Some(c) = case {
                        cases.insert(c);
                    }
                    places.push(ForgetPlace {
                        place: place_of(table).into(),
                        id: Some(row),
                        case,
                        columns: changed,
                    });
                }
            }
            places.push(ForgetPlace {
                place: "sign-in".into(),
                id: None,
                case: None,
                columns: vec![
                    "tokens".into(),
                    "sessions".into(),
                    "api tokens".into(),
                    "password".into(),
                ],
            });
            let cases: Vec<i64> = cases.into_iter().collect();
            let report = ForgetReport {
                dry_run,
                person: person.id.clone(),
                pseudonym: pseudonym.clone(),
                places,
                cases: cases.clone(),
            };
            if dry_run {
                return Ok(report);
            }
            let mut word_needles = words.clone();
            word_needles.retain(|w| w.len() >= 3);
            db.blank_delivery_errors(
                &word_needles,
                "(error text removed: it named a forgotten person)",
            )?;
            db.rename_person_rows(&person.id, &pseudonym)?;
            db.remove_person(&person.id)?;
            db.put_person(&Person {
                id: pseudonym.clone(),
                name: None,
                email: None,
                org: person.org.clone(),
                roles: Vec::new(),
                attributes: Map::new(),
            })?;
            let reason = scrub.text(reason);
            for c in &cases {
                let Some(row) = db.load_case(*c)? else {
                    continue;
                };
                let def = self.definition_at(db, &row.workflow, row.version)?;
                let old = step::to_case(&def, row);
                let mut new = old.clone();
                new.revision = old.revision + 1;
                new.updated_at = now;
                let mut inputs = Map::new();
                inputs.insert("reason".into(), Value::String(reason.clone()));
                inputs.insert("person".into(), Value::String(pseudonym.clone()));
                db.apply(Decision {
                    case: new,
                    expected_revision: Some(old.revision),
                    participants: Vec::new(),
                    timers: TimerPlan::default(),
                    outbox: Vec::new(),
                    copies: Vec::new(),
                    event: Event {
                        id: 0,
                        case_id: *c,
                        seq: old.revision + 1,
                        at: now,
                        actor: operator.to_owned(),
                        action: FORGET_ACTION.to_owned(),
                        from_state: Some(old.state.clone()),
                        to_state: old.state.clone(),
                        inputs,
                        effects: Vec::new(),
                    },
                })?;
            }
            let mut counts = Map::new();
            for p in &report.places {
                let n = counts
                    .entry(p.place.clone())
                    .or_insert(Value::from(0))
                    .as_i64()
                    .unwrap_or_default();
                counts.insert(p.place.clone(), Value::from(n + 1));
            }
            self.record_audit(
                db,
                now,
                Some(operator),
                kinds::PERSON_FORGET,
                format!("person:{pseudonym}"),
                Value::Null,
                json!({ "places": counts, "cases": cases }),
                Some(&reason),
            )?;
            Ok(report)
        };
        let report = if dry_run {
            self.read(run)?
        } else {
            self.write(run)?
        };
        if !dry_run {
            self.clear_cache();
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_words_are_replaced_case_insensitively() {
        assert_eq!(
            replace_word("Hi Ann, ann@x.org", "ann", "P"),
            "Hi P, P@x.org"
        );
        assert_eq!(
            replace_word("Annual ANN planning", "ann", "P"),
            "Annual P planning"
        );
        assert_eq!(replace_word("Zoë Ann", "ann", "P"), "Zoë P");
        assert_eq!(replace_word("", "ann", "P"), "");
        assert_eq!(replace_word("ann", "", "P"), "ann");
    }
}
