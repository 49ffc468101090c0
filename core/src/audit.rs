//! The audit log (schema step 8, issue 15): who changed what, when, outside the cases'
//! own history. Deploying a definition version, changing an organisation (settings,
//! calendar, holidays), adding, changing or removing a person (their roles included), every
//! operator control, forgetting a person and every retention run leave one [`AuditEntry`]
//! each, written in the same transaction as the change itself: a change that rolls back
//! leaves no entry, and no change commits without one.
//!
//! Who: the operator of an operator control; otherwise the engine's actor
//! ([`crate::EngineBuilder::actor`], [`crate::Engine::set_actor`], or for one call on one
//! thread [`crate::Engine::acting_as`]), `system` by default.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The actor recorded when nobody was named.
pub const DEFAULT_ACTOR: &str = "system";

/// The kinds of audit entries, as stored in [`AuditEntry::kind`].
pub mod kinds {
    /// A definition version was stored (deployed) for the first time.
    pub const DEFINITION_DEPLOY: &str = "definition.deploy";
    /// An organisation was added or changed (settings, calendar, holidays, name).
    pub const ORG_PUT: &str = "org.put";
    /// An organisation was removed.
    pub const ORG_REMOVE: &str = "org.remove";
    /// A person was added or changed (name, e-mail, organisation, roles, attributes).
    pub const PERSON_PUT: &str = "person.put";
    /// A person was removed from the directory.
    pub const PERSON_REMOVE: &str = "person.remove";
    /// A person's data was blanked everywhere ([`crate::Engine::forget_person`]).
    pub const PERSON_FORGET: &str = "person.forget";
    /// An operator suspended a case.
    pub const CASE_SUSPEND: &str = "case.suspend";
    /// An operator resumed a case.
    pub const CASE_RESUME: &str = "case.resume";
    /// An operator cancelled a case.
    pub const CASE_CANCEL: &str = "case.cancel";
    /// An operator repaired a case (moved it to a state).
    pub const CASE_REPAIR: &str = "case.repair";
    /// An operator moved a person's case roles to another person (one entry per case).
    pub const CASE_REASSIGN: &str = "case.reassign";
    /// An operator retried an incident.
    pub const INCIDENT_RETRY: &str = "incident.retry";
    /// An incident was resolved by hand.
    pub const INCIDENT_RESOLVE: &str = "incident.resolve";
    /// Failed deliveries of an outbox row were put back for retry.
    pub const OUTBOX_RETRY: &str = "outbox.retry";
    /// Deliveries of an outbox row were given up.
    pub const OUTBOX_DROP: &str = "outbox.drop";
    /// A retention run purged a closed case.
    pub const RETENTION_PURGE: &str = "retention.purge";
    /// A retention run anonymised a closed case.
    pub const RETENTION_ANONYMISE: &str = "retention.anonymise";
}

/// One change in the audit log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Its id (ascending in the order of commit on SQLite; in order of writing on PostgreSQL).
    pub id: i64,
    /// When the change was made (the engine's clock).
    pub at: DateTime<Utc>,
    /// Who made it: the operator, or the engine's actor.
    pub actor: String,
    /// What kind of change ([`kinds`]).
    pub kind: String,
    /// What it changed: `org:ch1`, `person:alice`, `case:12`, `definition:score_request@2`,
    /// `incident:3`, `outbox:42`.
    pub subject: String,
    /// The record before the change (`null` when it was added).
    pub before: Value,
    /// The record after the change (`null` when it was removed).
    pub after: Value,
    /// The reason or note the operator gave.
    pub reason: Option<String>,
}

/// Which audit entries to list ([`crate::Engine::audit`]), oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Only this kind (`org.put`), or every kind of a family (`org`, `case`).
    pub kind: Option<String>,
    /// Only entries by this actor.
    pub actor: Option<String>,
    /// Only entries about this subject (`person:alice`).
    pub subject: Option<String>,
    /// At most this many (all when `None`), oldest first.
    pub limit: Option<usize>,
}
