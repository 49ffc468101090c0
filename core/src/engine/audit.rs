//! The audit log's engine side: who the engine acts as, recording an entry inside a command's
//! transaction, and reading the log (see [`crate::audit`]).

use std::cell::RefCell;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::Engine;
use crate::audit::{AuditEntry, AuditFilter, DEFAULT_ACTOR};
use crate::directory::{Org, Person};
use crate::error::{Error, Result};
use crate::model::Case;
use crate::store::Tx;

thread_local! {
    /// The actor of [`Engine::acting_as`] on this thread.
    static ACTING: RefCell<Option<String>> = const { RefCell::new(None) };
}

impl Engine {
    /// Who changes made through this engine are recorded as in the audit log when no
    /// operator is named: the actor of [`Engine::acting_as`] on this thread, else the one
    /// [`Engine::set_actor`] or [`crate::EngineBuilder::actor`] gave, else `system`.
    pub fn actor(&self) -> String {
        if let Some(a) = ACTING.with(|a| a.borrow().clone()) {
            return a;
        }
        match self.inner.actor.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Record later changes of this engine (all threads) as made by `actor`. A blank name is
    /// refused.
    pub fn set_actor(&self, actor: &str) -> Result<()> {
        let actor = check_actor(actor)?;
        let mut g = match self.inner.actor.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        *g = actor;
        Ok(())
    }

    /// Run `f` with the changes it makes on this thread recorded as made by `actor` (a
    /// front end's signed-in person), then go back to the engine's actor.
    pub fn acting_as<T>(&self, actor: &str, f: impl FnOnce() -> T) -> T {
        let previous = ACTING.with(|a| a.replace(Some(actor.trim().to_owned())));
        struct Restore(Option<String>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let p = self.0.take();
                ACTING.with(|a| *a.borrow_mut() = p);
            }
        }
        let _restore = Restore(previous);
        f()
    }

    /// The audit log, oldest first, by filter (a kind names one kind, `org.put`, or a
    /// family, `org`).
    pub fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
        if let Some(k) = &filter.kind {
            if k.trim().is_empty() {
                return Err(Error::validation("kind", "the audit kind filter is blank"));
            }
        }
        self.read(|tx| tx.audit_entries(filter))
    }

    /// Write one audit entry in the command's transaction, by `actor` (the engine's actor
    /// when `None`). Nothing is written when `before` equals `after`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn record_audit(
        &self,
        tx: &dyn Tx,
        at: DateTime<Utc>,
        actor: Option<&str>,
        kind: &str,
        subject: String,
        before: Value,
        after: Value,
        reason: Option<&str>,
    ) -> Result<()> {
        if before == after {
            return Ok(());
        }
        tx.insert_audit(&AuditEntry {
            id: 0,
            at,
            actor: actor.map_or_else(|| self.actor(), str::to_owned),
            kind: kind.to_owned(),
            subject,
            before,
            after,
            reason: reason.map(str::to_owned),
        })?;
        Ok(())
    }

    /// A person's change, as the audit log keeps it.
    pub(crate) fn audit_person(
        &self,
        tx: &dyn Tx,
        id: &str,
        before: Option<&Person>,
        after: Option<&Person>,
    ) -> Result<()> {
        let kind = if after.is_some() {
            crate::audit::kinds::PERSON_PUT
        } else {
            crate::audit::kinds::PERSON_REMOVE
        };
        self.record_audit(
            tx,
            self.now(),
            None,
            kind,
            format!("person:{id}"),
            serde_json::to_value(before)?,
            serde_json::to_value(after)?,
            None,
        )
    }

    /// An organisation's change, as the audit log keeps it.
    pub(crate) fn audit_org(
        &self,
        tx: &dyn Tx,
        id: &str,
        before: Option<&Org>,
        after: Option<&Org>,
    ) -> Result<()> {
        let kind = if after.is_some() {
            crate::audit::kinds::ORG_PUT
        } else {
            crate::audit::kinds::ORG_REMOVE
        };
        self.record_audit(
            tx,
            self.now(),
            None,
            kind,
            format!("org:{id}"),
            serde_json::to_value(before)?,
            serde_json::to_value(after)?,
            None,
        )
    }
}

/// What the audit keeps of a case before and after an operator control.
pub(crate) fn case_summary(c: &Case) -> Value {
    json!({
        "state": c.state,
        "open": c.open,
        "revision": c.revision,
        "suspended": c.suspended,
        "cancelled": c.cancelled,
        "participants": c.participants,
    })
}

/// A trimmed, non-blank actor name.
pub(crate) fn check_actor(actor: &str) -> Result<String> {
    let a = actor.trim();
    if a.is_empty() {
        return Err(Error::validation(
            "actor",
            "the actor recorded in the audit log is blank",
        ));
    }
    Ok(a.to_owned())
}

/// The default actor of a new engine.
pub(crate) fn default_actor() -> String {
    DEFAULT_ACTOR.to_owned()
}
