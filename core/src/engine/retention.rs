//! Retention (issue 15): an organisation's `retention` setting says how long its closed cases
//! are kept — `{ after_days: 730, then: purge | anonymise, fields: [..] }`. A retention run
//! takes every closed case of the organisation last changed more than `after_days` ago,
//! writes it with its history as one JSON line to the export, and only then purges it (the
//! case and every row of it) or anonymises it (the named fields blanked in its data, its
//! history's inputs and effects and its outbox rows; their values also where another input,
//! a subject or a body carried them), each case in its own transaction with
//! an audit entry (and, when anonymised, a `retention:anonymise` history event). Open cases
//! are never touched. A dry run lists the cases and changes nothing.

use std::io::Write;

use chrono::Duration;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{step, Engine};
use crate::audit::kinds;
use crate::error::{Error, Result};
use crate::model::{Decision, Effect, Event, NotificationFilter, TimerPlan};
use crate::store::Tx;

/// The organisation setting that holds its retention rule.
pub const RETENTION_SETTING: &str = "retention";

/// The action of the history event an anonymised case gets.
pub const RETENTION_ACTION: &str = "retention:anonymise";

/// An organisation's retention rule (its `retention` setting).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionRule {
    /// Closed cases last changed this many days ago or more are due.
    pub after_days: i64,
    /// `purge` or `anonymise`.
    pub then: String,
    /// The fields `anonymise` blanks.
    pub fields: Vec<String>,
}

/// Read and check a `retention` setting.
pub(crate) fn rule_of(value: &Value) -> Result<RetentionRule> {
    let bad = |m: &str| Error::validation(format!("settings.{RETENTION_SETTING}"), m.to_owned());
    let Value::Object(m) = value else {
        return Err(bad(
            "`retention` must be a map: { after_days: 730, then: purge | anonymise, fields: [..] }",
        ));
    };
    for k in m.keys() {
        if !["after_days", "then", "fields"].contains(&k.as_str()) {
            return Err(bad(&format!(
                "unknown key `{k}` in `retention` (known: after_days, then, fields)"
            )));
        }
    }
    let after_days = m
        .get("after_days")
        .and_then(Value::as_i64)
        .filter(|d| *d >= 1)
        .ok_or_else(|| bad("`retention.after_days` must be a whole number of days, at least 1"))?;
    let then = match m.get("then").and_then(Value::as_str) {
        Some(t @ ("purge" | "anonymise")) => t.to_owned(),
        _ => return Err(bad("`retention.then` must be `purge` or `anonymise`")),
    };
    let fields: Vec<String> = match m.get("fields") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| bad("`retention.fields` must be a list of field names"))
            })
            .collect::<Result<_>>()?,
        Some(_) => return Err(bad("`retention.fields` must be a list of field names")),
    };
    if then == "anonymise" && fields.is_empty() {
        return Err(bad("`retention.then: anonymise` needs `fields` to blank"));
    }
    Ok(RetentionRule {
        after_days,
        then,
        fields,
    })
}

/// One case of a retention run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetainedCase {
    /// The case.
    pub case: i64,
    /// Its workflow.
    pub workflow: String,
    /// Its organisation.
    pub org: String,
    /// `purged`, `anonymised`, or in a dry run `would_purge` / `would_anonymise`.
    pub outcome: String,
}

/// What [`Engine::run_retention`] did (or would do).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetentionReport {
    /// Only said what would change.
    pub dry_run: bool,
    /// Each case due, in organisation and id order.
    pub cases: Vec<RetainedCase>,
}

impl Engine {
    /// Run every organisation's retention rule: export each due closed case with its
    /// history as one JSON line to `export` (all of them, flushed, before anything changes),
    /// then purge or anonymise each in its own transaction, with an audit entry by `actor`
    /// (the engine's actor when `None`). With `dry_run`, nothing is written or changed.
    pub fn run_retention(
        &self,
        dry_run: bool,
        export: &mut dyn Write,
        actor: Option<&str>,
    ) -> Result<RetentionReport> {
        let now = self.now();
        let workflows: Vec<String> = {
            let mut w: Vec<String> = self.definitions().iter().map(|d| d.id.clone()).collect();
            w.sort();
            w.dedup();
            w
        };
        let mut due = Vec::new();
        for org in self.orgs()? {
            let Some(v) = org.settings.get(RETENTION_SETTING) else {
                continue;
            };
            let rule = rule_of(v)?;
            let before = now - Duration::days(rule.after_days);
            for w in &workflows {
                for id in self.read(|tx| tx.closed_cases_before(w, Some(&org.id), before))? {
                    due.push((id, w.clone(), org.id.clone(), rule.clone()));
                }
            }
        }
        let mut report = RetentionReport {
            dry_run,
            cases: Vec::new(),
        };
        if !dry_run {
            for (id, ..) in &due {
                let (case, history) =
                    self.read(|tx| Ok((step::get(self, tx, *id, None)?, tx.events(*id)?)))?;
                let line = json!({ "case": case, "history": history });
                writeln!(export, "{line}").map_err(|e| {
                    Error::storage(format!("cannot write the retention export: {e}"))
                })?;
            }
            export
                .flush()
                .map_err(|e| Error::storage(format!("cannot write the retention export: {e}")))?;
        }
        for (id, workflow, org, rule) in due {
            let purge = rule.then == "purge";
            let outcome = match (dry_run, purge) {
                (true, true) => "would_purge",
                (true, false) => "would_anonymise",
                (false, true) => "purged",
                (false, false) => "anonymised",
            };
            if !dry_run {
                self.write(|tx| {
                    if purge {
                        self.purge_one(tx, id, &rule, actor)
                    } else {
                        self.anonymise_one(tx, id, &rule, actor)
                    }
                })?;
            }
            report.cases.push(RetainedCase {
                case: id,
                workflow,
                org,
                outcome: outcome.into(),
            });
        }
        Ok(report)
    }

    fn purge_one(
        &self,
        tx: &dyn Tx,
        id: i64,
        rule: &RetentionRule,
        actor: Option<&str>,
    ) -> Result<()> {
        let Some(row) = tx.load_case(id)? else {
            return Ok(());
        };
        let summary = json!({ "workflow": row.workflow, "org": row.org, "state": row.state });
        tx.purge_case(id)?;
        self.record_audit(
            tx,
            self.now(),
            actor,
            kinds::RETENTION_PURGE,
            format!("case:{id}"),
            summary,
            Value::Null,
            Some(&format!("closed more than {} days", rule.after_days)),
        )
    }

    fn anonymise_one(
        &self,
        tx: &dyn Tx,
        id: i64,
        rule: &RetentionRule,
        actor: Option<&str>,
    ) -> Result<()> {
        let Some(row) = tx.load_case(id)? else {
            return Ok(());
        };
        let now = self.now();
        let def = self.definition_at(tx, &row.workflow, row.version)?;
        let old = step::to_case(&def, row);
        let fields = &rule.fields;
        // the values blanked, as text, to blank in the outbox's subject and body too
        let values: Vec<String> = fields
            .iter()
            .filter_map(|f| old.data.get(f))
            .filter_map(|v| match v {
                Value::String(s) if s.len() >= 3 => Some(s.clone()),
                Value::Null | Value::String(_) => None,
                other => Some(other.to_string()),
            })
            .collect();
        let blank = |s: &str| {
            values
                .iter()
                .fold(s.to_owned(), |s, v| s.replace(v.as_str(), "[removed]"))
        };
        for e in tx.events(id)? {
            let mut inputs = e.inputs.clone();
            for (k, v) in inputs.iter_mut() {
                if fields.contains(k) {
                    *v = Value::Null;
                } else if let Value::String(s) = v {
                    // an input that carried a blanked value under another name
                    *s = blank(s);
                }
            }
            let mut effects = e.effects.clone();
            for eff in &mut effects {
                if let Effect::Set { field, value } = eff {
                    if fields.contains(field) {
                        *value = Value::Null;
                    }
                }
            }
            if inputs != e.inputs {
                tx.set_text(
                    "events",
                    e.id,
                    "inputs",
                    Some(&serde_json::to_string(&inputs)?),
                )?;
            }
            if effects != e.effects {
                tx.set_text(
                    "events",
                    e.id,
                    "effects",
                    Some(&serde_json::to_string(&effects)?),
                )?;
            }
        }
        let filter = NotificationFilter {
            case_id: Some(id),
            ..NotificationFilter::default()
        };
        for n in tx.notifications(&filter)? {
            let mut data = n.data.clone();
            for f in fields {
                if data.contains_key(f) {
                    data.insert(f.clone(), Value::Null);
                }
            }
            let (subject, body) = (blank(&n.subject), blank(&n.body));
            if data != n.data {
                tx.set_text("outbox", n.id, "data", Some(&serde_json::to_string(&data)?))?;
            }
            if subject != n.subject {
                tx.set_text("outbox", n.id, "subject", Some(&subject))?;
            }
            if body != n.body {
                tx.set_text("outbox", n.id, "body", Some(&body))?;
            }
        }
        let mut new = old.clone();
        for f in fields {
            new.data.remove(f);
        }
        new.revision = old.revision + 1;
        new.updated_at = now;
        let mut inputs = Map::new();
        inputs.insert("fields".into(), json!(fields));
        tx.apply(Decision {
            case: new,
            expected_revision: Some(old.revision),
            participants: Vec::new(),
            timers: TimerPlan::default(),
            outbox: Vec::new(),
            copies: Vec::new(),
            event: Event {
                id: 0,
                case_id: id,
                seq: old.revision + 1,
                at: now,
                actor: actor.map_or_else(|| self.actor(), str::to_owned),
                action: RETENTION_ACTION.to_owned(),
                from_state: Some(old.state.clone()),
                to_state: old.state.clone(),
                inputs,
                effects: Vec::new(),
            },
        })?;
        self.record_audit(
            tx,
            now,
            actor,
            kinds::RETENTION_ANONYMISE,
            format!("case:{id}"),
            json!({ "fields": fields }),
            json!({ "fields": fields, "blanked": true }),
            Some(&format!("closed more than {} days", rule.after_days)),
        )
    }
}
