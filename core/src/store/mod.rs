//! The storage boundary. The engine decides what a command does (checks, guards, effects, the
//! new state, the event, timers, notifications: a [`Decision`]) without
//! SQL; a store applies the decision inside the command's transaction and answers the queries
//! (cases, participants, history, timers, outbox, directory, views, exports, definitions,
//! schema version). The store decides nothing and never imports the engine.
//!
//! Two traits make the boundary: `Store` opens transactions (one per command, retried as a
//! whole where the backend asks for it) and `Tx` is one open transaction, with every query the
//! engine needs. Each backend is one module with its SQL in one place: [`sqlite`] (the
//! embedded default) and [`postgres`]; [`copy`] moves a whole database between them. A database is named by one string everywhere ([`Location::parse`]): a
//! file path, `:memory:`, or a `postgres://` / `postgresql://` URL.
//!
//! Scripts' directory functions (`person`, `people`, `open_cases`, `assignments_since`) read
//! through `DirectoryReads`, never through a backend's handle.

pub mod copy;
pub mod postgres;
pub(crate) mod reads;
pub mod sqlite;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::definition::Definition;
use crate::directory::{Org, Person};
use crate::error::Result;
use crate::hooks::{Delivery, DeliveryFilter};
use crate::model::{
    Case, CaseFilter, Decision, Event, Incident, IncidentFilter, Notification, Participant, Signal,
};

pub use crate::model::NotificationFilter;
pub use sqlite::schema;

/// What the scripts' directory functions read, inside the command's transaction.
pub(crate) trait DirectoryReads {
    /// Which connection this is, for the engine's per-connection directory cache (`0`: the
    /// writer or a backend with one cache; `Tx::data_version` is compared per slot).
    fn cache_slot(&self) -> usize {
        0
    }
    /// `person(id)`.
    fn person(&self, id: &str) -> Result<Option<Person>>;
    /// The people of an organisation, by id.
    fn people_of_org(&self, org: &str) -> Result<Vec<Person>>;
    /// The people of an organisation holding a directory role there, by id.
    fn people_with_role(&self, org: &str, role: &str) -> Result<Vec<Person>>;
    /// The first `limit` people of an organisation (holding `role` there, when given), by
    /// id: a person picker's candidates without reading the whole directory (a backend
    /// without a bounded query reads all and keeps the first).
    fn first_people(&self, org: &str, role: Option<&str>, limit: usize) -> Result<Vec<Person>> {
        let mut all = match role {
            Some(r) => self.people_with_role(org, r)?,
            None => self.people_of_org(org)?,
        };
        all.truncate(limit);
        Ok(all)
    }
    /// Open cases of a workflow where the person holds a role (any, or `role`).
    fn open_cases(&self, workflow: &str, person: &str, role: Option<&str>) -> Result<i64>;
    /// Grants of `role` to the person in cases of a workflow since an instant.
    fn assignments_since(
        &self,
        workflow: &str,
        person: &str,
        role: &str,
        since: DateTime<Utc>,
    ) -> Result<i64>;
}

// ---- rows -----------------------------------------------------------------------------------

/// A deployed definition as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredDefinition {
    pub workflow: String,
    pub version: u32,
    pub hash: String,
    pub file: String,
    pub source: String,
}

/// A case as stored (without what comes from its definition).
#[derive(Debug, Clone)]
pub(crate) struct CaseRow {
    pub id: i64,
    pub workflow: String,
    pub version: u32,
    pub org: String,
    pub state: String,
    pub data: Map<String, Value>,
    pub participants: BTreeMap<String, Vec<String>>,
    pub revision: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub parent: Option<i64>,
    pub suspended: Option<crate::model::OperatorMark>,
    pub cancelled: Option<crate::model::OperatorMark>,
}

/// A pending timer of a case.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TimerRow {
    /// Row id.
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// The state that scheduled it.
    pub state: String,
    /// Its name in the state.
    pub name: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// When its state was entered (recurring timers count periods from here).
    pub anchor: DateTime<Utc>,
    /// How many periods a recurring timer has fired.
    pub fired: u32,
}

/// A place in the order in which consumers read the outbox: after every row at or before it.
/// Compared as `(tx, id)`. On SQLite `tx` is always 0 (one writer at a time, so ids commit in
/// order); on PostgreSQL it is the writing transaction's `xid8` (schema step 6), because a
/// lower id can commit after a higher one there.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct OutboxPos {
    pub tx: i64,
    pub id: i64,
}

/// A stored outbox row: a notification or a signal.
#[derive(Debug, Clone)]
pub(crate) enum OutboxItem {
    Notification(Notification),
    Signal(Signal),
}

impl OutboxItem {
    /// A row as both backends read it: the columns of a notification, and its `kind`. A
    /// signal keeps its kind in `template` and has no recipient, subject or body.
    pub(crate) fn from_row(kind: &str, n: Notification) -> OutboxItem {
        if kind == "signal" {
            OutboxItem::Signal(Signal {
                id: n.id,
                case_id: n.case_id,
                kind: n.template,
                data: n.data,
                at: n.at,
            })
        } else {
            OutboxItem::Notification(n)
        }
    }
}

/// A stored single-use token.
#[derive(Debug, Clone)]
pub(crate) struct TokenRow {
    pub purpose: String,
    pub person: String,
    pub payload: Value,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// A stored credential (a session or an API token).
#[derive(Debug, Clone)]
pub(crate) struct CredentialRow {
    pub kind: String,
    pub person: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

// ---- case queries (views and exports) --------------------------------------------------------

/// Which cases a view or an export reads, said without SQL; each backend writes its own
/// statement for it (indexed: see the backends' query-plan tests).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CaseQuery {
    /// The workflow.
    pub workflow: String,
    /// Only these states (all when empty).
    pub states: Vec<String>,
    /// Whose cases (all when `None`).
    pub access: Option<Access>,
    /// Fields that must equal a value (`null`: unset).
    pub fields: Vec<(String, Value)>,
    /// Text the case's data must contain (lowercased, case-insensitive).
    pub search: Option<String>,
    /// The order.
    pub sort: SortKey,
    /// Descending order.
    pub descending: bool,
}

/// A viewer's relation to the cases of a view.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Access {
    /// The person holds one of these case roles.
    Roles { person: String, roles: Vec<String> },
    /// The case belongs to the organisation.
    Org(String),
    /// Either.
    RolesOrOrg {
        person: String,
        roles: Vec<String>,
        org: String,
    },
}

/// What cases are sorted by (ties by id, in the same direction).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SortKey {
    Created,
    Updated,
    Id,
    State,
    /// A field: unset last in ascending order, first in descending.
    Field(String),
}

/// One open transaction of a backend: every query and write the engine needs. Writes go
/// through [`Tx::apply`] (a command's decision) or through the small directory, definition,
/// outbox, cursor and portal writes below.
pub(crate) trait Tx: DirectoryReads {
    // -- schema and definitions
    /// The schema version of the database.
    fn schema_version(&self) -> Result<i64>;
    /// A number that changes whenever another connection changed the directory (cached
    /// people and organisations are dropped when it moves).
    fn data_version(&self) -> Result<i64>;
    fn stored_definitions(&self) -> Result<Vec<StoredDefinition>>;
    fn count_cases_of(&self, workflow: &str, version: u32) -> Result<i64>;
    fn put_definition(&self, d: &Definition, at: DateTime<Utc>) -> Result<()>;

    // -- cases
    fn load_case(&self, id: i64) -> Result<Option<CaseRow>>;
    /// An id for a case this transaction will write (so a start's scripts and notifications
    /// know it before the row exists).
    fn new_case_id(&self) -> Result<i64>;
    /// Write a new case (with its id when not 0, else a new one); returns its id.
    fn insert_case(&self, c: &Case) -> Result<i64>;
    /// Write a case's new snapshot if its revision is still `expected` (else a conflict).
    fn update_case(&self, c: &Case, expected: u64) -> Result<()>;
    fn add_participant(
        &self,
        case_id: i64,
        workflow: &str,
        role: &str,
        person: &str,
        at: DateTime<Utc>,
        log: bool,
    ) -> Result<()>;
    fn remove_participant(&self, case_id: i64, role: &str, person: &str) -> Result<()>;
    fn case_participants(&self, case_id: i64) -> Result<Vec<Participant>>;
    /// Whether a person holds one of these case roles in some case of a workflow.
    fn holds_role_in(&self, workflow: &str, person: &str, roles: &[String]) -> Result<bool>;
    /// Cases by the public filter, newest first.
    fn list_cases(&self, f: &CaseFilter) -> Result<Vec<CaseRow>>;
    /// How many cases a query matches.
    fn count_cases(&self, q: &CaseQuery) -> Result<i64>;
    /// A page of the cases a query matches, in its order.
    fn find_cases(&self, q: &CaseQuery, offset: usize, limit: usize) -> Result<Vec<CaseRow>>;
    /// Every case a query matches, one at a time (memory stays flat).
    fn each_case(&self, q: &CaseQuery, f: &mut dyn FnMut(CaseRow) -> Result<()>) -> Result<()>;

    // -- history
    fn insert_event(&self, e: &Event) -> Result<i64>;
    fn events(&self, case_id: i64) -> Result<Vec<Event>>;
    fn last_event_at(&self) -> Result<Option<DateTime<Utc>>>;
    /// History events after a consumer's position (an event id), in the store's reading order
    /// (on PostgreSQL commit-safe: `(tx, id)` below the horizon of transactions still
    /// running), so an event never appears behind a position already passed.
    fn events_after(&self, after_id: i64, limit: i64) -> Result<Vec<Event>>;
    /// Whether committed events after `after_id` are held back from [`Tx::events_after`] only
    /// by a transaction that committed after this read's snapshot was taken: a new read
    /// delivers them. Always false on SQLite.
    fn events_held(&self, after_id: i64) -> Result<bool>;

    // -- timers
    fn insert_timer(
        &self,
        case_id: i64,
        state: &str,
        name: &str,
        due: DateTime<Utc>,
        anchor: DateTime<Utc>,
    ) -> Result<()>;
    fn delete_timers(&self, case_id: i64) -> Result<usize>;
    fn delete_timer(&self, case_id: i64, name: &str) -> Result<usize>;
    fn delete_timer_id(&self, id: i64) -> Result<usize>;
    /// Remove the row of a timer that just fired, unless the firing replaced it.
    fn consume_timer(&self, t: &TimerRow) -> Result<usize>;
    /// Move a recurring timer that just fired to its next period (unless replaced).
    fn reschedule_timer(&self, t: &TimerRow, due: DateTime<Utc>, fired: u32) -> Result<()>;
    /// Timers due at or before `now`, oldest first (ties by id), claimed for this
    /// transaction where the backend has several writers.
    fn due_timers(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<TimerRow>>;
    fn next_due(&self) -> Result<Option<DateTime<Utc>>>;
    fn case_timers(&self, case_id: i64) -> Result<Vec<TimerRow>>;
    fn count_due_timers(&self, before: DateTime<Utc>) -> Result<i64>;

    // -- outbox
    #[allow(clippy::too_many_arguments)]
    fn insert_outbox(
        &self,
        case_id: Option<i64>,
        kind: &str,
        recipient: Option<&str>,
        template: &str,
        subject: &str,
        body: &str,
        data: &Map<String, Value>,
        at: DateTime<Utc>,
    ) -> Result<i64>;
    fn notifications(&self, f: &NotificationFilter) -> Result<Vec<Notification>>;
    fn signals(&self, case_id: Option<i64>) -> Result<Vec<Signal>>;
    fn outbox_backlog(&self) -> Result<(i64, i64)>;
    fn ack(&self, id: i64, at: DateTime<Utc>) -> Result<bool>;

    // -- per-consumer delivery (schema 5; see `sqlite::outbox`)
    /// A consumer's outbox position (a new consumer starts before the oldest waiting row).
    fn consumer_position(&self, consumer: &str) -> Result<OutboxPos>;
    /// A consumer's history-event position.
    fn consumer_event_position(&self, consumer: &str) -> Result<i64>;
    /// Rows after `after` in the store's reading order ([`OutboxPos`]), neither acknowledged
    /// nor dropped, each with its position. Only rows that nothing can commit before any more
    /// (on PostgreSQL: below the horizon of transactions still running), so a row never
    /// appears behind a position already passed.
    fn outbox_after(&self, after: OutboxPos, limit: i64) -> Result<Vec<(OutboxPos, OutboxItem)>>;
    /// Whether committed rows after `after` are held back from [`Tx::outbox_after`] only by a
    /// transaction that ended after this read's snapshot was taken (it may have written rows
    /// the snapshot cannot see): a new read delivers them. Always false on SQLite.
    fn outbox_held(&self, after: OutboxPos) -> Result<bool>;
    /// Whether a consumer has a delivery record for a row.
    fn has_delivery(&self, id: i64, consumer: &str) -> Result<bool>;
    /// Move a consumer's outbox cursor forward to row `id` (never back, in [`OutboxPos`] order).
    fn advance_consumer(&self, consumer: &str, id: i64) -> Result<()>;
    /// Move a consumer's event cursor forward (never back).
    fn advance_consumer_events(&self, consumer: &str, id: i64) -> Result<()>;
    /// The consumer accepted the row on its `attempt`-th attempt.
    fn record_delivery_success(
        &self,
        id: i64,
        consumer: &str,
        attempt: u32,
        at: DateTime<Utc>,
    ) -> Result<()>;
    /// The consumer failed on the row: retried at `next`, dead when `None`.
    #[allow(clippy::too_many_arguments)]
    fn record_delivery_failure(
        &self,
        id: i64,
        consumer: &str,
        attempt: u32,
        error: &str,
        at: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<()>;
    /// Mark a row delivered when every one of `consumers` has it and none still fails.
    fn settle_outbox(&self, id: i64, consumers: &[&str], at: DateTime<Utc>) -> Result<()>;
    /// A consumer's retries due at `now`, soonest first, with the failed attempts so far.
    fn due_retries(
        &self,
        consumer: &str,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(OutboxItem, u32)>>;
    /// The earliest retry due of these consumers.
    fn next_delivery_retry(&self, consumers: &[&str]) -> Result<Option<DateTime<Utc>>>;
    /// Delivery records by filter.
    fn deliveries(&self, f: &DeliveryFilter) -> Result<Vec<Delivery>>;
    fn outbox_exists(&self, id: i64) -> Result<bool>;
    /// Every consumer name with an outbox cursor.
    fn known_consumers(&self) -> Result<Vec<String>>;
    /// Put a row's failed, dead or dropped deliveries back for retry now; how many.
    fn retry_delivery(&self, id: i64, consumer: Option<&str>, now: DateTime<Utc>) -> Result<usize>;
    /// Drop a row's deliveries that are not done; how many.
    fn drop_delivery(&self, id: i64, consumer: Option<&str>, now: DateTime<Utc>) -> Result<usize>;
    /// Dead deliveries.
    fn dead_letters(&self) -> Result<i64>;

    // -- incidents (schema step 7)
    /// The open incident of a case's timer (at most one).
    fn open_incident_of(&self, case_id: i64, timer: &str) -> Result<Option<Incident>>;
    /// Store a new incident (its `id` is ignored); returns the id.
    fn insert_incident(&self, i: &Incident) -> Result<i64>;
    /// Write an incident's changing columns: code, error, attempts, status, last attempt, next
    /// attempt, resolution.
    fn update_incident(&self, i: &Incident) -> Result<()>;
    fn incident(&self, id: i64) -> Result<Option<Incident>>;
    /// Incidents by filter, oldest first.
    fn incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>>;
    /// Open incidents whose automatic retry is due, soonest first.
    fn due_incidents(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Incident>>;
    /// The earliest automatic retry of an open incident.
    fn next_incident_retry(&self) -> Result<Option<DateTime<Utc>>>;
    /// Open incidents.
    fn open_incidents(&self) -> Result<i64>;

    // -- directory
    fn put_person(&self, p: &Person) -> Result<()>;
    fn get_person(&self, id: &str) -> Result<Option<Person>>;
    fn people_by_email(&self, email: &str) -> Result<Vec<Person>>;
    fn list_people(&self, org: Option<&str>) -> Result<Vec<Person>>;
    fn remove_person(&self, id: &str) -> Result<bool>;
    fn put_org(&self, o: &Org) -> Result<()>;
    fn get_org(&self, id: &str) -> Result<Option<Org>>;
    fn list_orgs(&self) -> Result<Vec<Org>>;
    fn remove_org(&self, id: &str) -> Result<bool>;

    // -- portal material (already hashed)
    #[allow(clippy::too_many_arguments)]
    fn insert_token(
        &self,
        hash: &str,
        purpose: &str,
        person: &str,
        payload: &Value,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()>;
    fn token(&self, hash: &str) -> Result<Option<TokenRow>>;
    fn use_token(&self, hash: &str, at: DateTime<Utc>) -> Result<bool>;
    #[allow(clippy::too_many_arguments)]
    fn insert_credential(
        &self,
        hash: &str,
        kind: &str,
        person: &str,
        name: &str,
        at: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<()>;
    fn credential(&self, hash: &str) -> Result<Option<CredentialRow>>;
    fn credentials_of(&self, person: &str, kind: &str) -> Result<Vec<(String, CredentialRow)>>;
    fn touch_credential(
        &self,
        hash: &str,
        at: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<()>;
    fn delete_credential(&self, hash: &str) -> Result<bool>;
    fn delete_credentials_of(&self, person: &str, kind: Option<&str>) -> Result<usize>;
    fn set_password(&self, person: &str, hash: &str, at: DateTime<Utc>) -> Result<()>;
    fn password(&self, person: &str) -> Result<Option<String>>;
    fn delete_password(&self, person: &str) -> Result<bool>;
    fn purge(&self, now: DateTime<Utc>, keys_before: DateTime<Utc>) -> Result<usize>;
    fn idempotency(&self, actor: &str, key: &str) -> Result<Option<(String, i64)>>;
    fn remember_idempotency(
        &self,
        actor: &str,
        key: &str,
        fingerprint: &str,
        case_id: i64,
        at: DateTime<Utc>,
    ) -> Result<()>;

    // -- whole tables (`store copy`; table and order names come from `copy::TABLES` only)
    /// Every row of a table in an order, each as column name to value (integer, text, null).
    fn export_rows(&self, table: &str, order: &str) -> Result<copy::Rows>;
    /// How many rows a table holds.
    fn count_rows(&self, table: &str) -> Result<i64>;
    /// Write rows as [`Tx::export_rows`] gave them (with their ids).
    fn import_rows(&self, table: &str, rows: &copy::Rows) -> Result<()>;
    /// After an import: id sequences past the imported ids, caches of other engines stale.
    fn after_import(&self) -> Result<()>;

    // -- audit (schema step 8; see `crate::audit`)
    /// Store an audit entry (its `id` is ignored); returns the id.
    fn insert_audit(&self, e: &crate::audit::AuditEntry) -> Result<i64>;
    /// Audit entries by filter, oldest first.
    fn audit_entries(&self, f: &crate::audit::AuditFilter)
        -> Result<Vec<crate::audit::AuditEntry>>;

    // -- forgetting a person and retention (`crate::engine::forget`, `crate::engine::retention`)
    /// Rows of a table of [`SCRUBBED`] whose named text columns mention one of `needles`
    /// (ASCII case-insensitively; candidates only: the caller decides what to rewrite), by
    /// id, each with its case (if the table has one) and those columns' values.
    fn rows_mentioning(
        &self,
        table: &str,
        columns: &[&str],
        needles: &[String],
    ) -> Result<Vec<Mention>>;
    /// Rewrite one text column of one row of a table of [`SCRUBBED`].
    fn set_text(&self, table: &str, id: i64, column: &str, value: Option<&str>) -> Result<()>;
    /// Replace every delivery error that mentions one of `needles` by `text`; how many.
    fn blank_delivery_errors(&self, needles: &[String], text: &str) -> Result<usize>;
    /// A person's own rows under another id: case roles and their log, idempotency keys;
    /// their sign-in material (tokens, sessions, API tokens, password) is deleted.
    fn rename_person_rows(&self, from: &str, to: &str) -> Result<()>;
    /// Closed cases of a workflow (optionally of one organisation) last changed before an
    /// instant, by id.
    fn closed_cases_before(
        &self,
        workflow: &str,
        org: Option<&str>,
        before: DateTime<Utc>,
    ) -> Result<Vec<i64>>;
    /// Delete a case and every row of it (history, participants, timers, incidents, outbox
    /// and deliveries, role log, idempotency keys); its copies keep running without a parent.
    fn purge_case(&self, id: i64) -> Result<()>;

    // -- transactions inside the transaction
    /// Run `f` in a savepoint: kept on `Ok`, rolled back alone on `Err` (the error is
    /// returned; the transaction stays usable).
    fn savepoint(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()>;

    /// Apply a command's decision: the snapshot (checking the revision), participants,
    /// timers, outbox, copies and the event, in that order. Returns the case as written
    /// (with its id).
    fn apply(&self, d: Decision) -> Result<Case> {
        apply_decision(self, d)
    }
}

/// [`Tx::apply`] on a backend's primitives: the same order and the same rows everywhere.
pub(crate) fn apply_decision<T: Tx + ?Sized>(tx: &T, d: Decision) -> Result<Case> {
    let Decision {
        mut case,
        expected_revision,
        participants,
        timers,
        outbox,
        copies,
        mut event,
    } = d;
    match expected_revision {
        None => case.id = tx.insert_case(&case)?,
        Some(expected) => tx.update_case(&case, expected)?,
    }
    let id = case.id;
    let at = event.at;
    for p in &participants {
        if p.added {
            tx.add_participant(id, &case.workflow, &p.role, &p.person, at, p.log)?;
        } else {
            tx.remove_participant(id, &p.role, &p.person)?;
        }
    }
    if timers.clear && expected_revision.is_some() {
        tx.delete_timers(id)?;
    }
    for name in &timers.remove {
        tx.delete_timer(id, name)?;
    }
    for t in &timers.schedule {
        tx.insert_timer(id, &t.state, &t.name, t.due, t.anchor)?;
    }
    let mut outbox_ids = Vec::with_capacity(outbox.len());
    for o in &outbox {
        outbox_ids.push(tx.insert_outbox(
            Some(id),
            o.kind.as_str(),
            o.recipient.as_deref(),
            &o.template,
            &o.subject,
            &o.body,
            &o.data,
            at,
        )?);
    }
    let mut copy_ids = Vec::with_capacity(copies.len());
    for mut c in copies {
        c.set_original(id);
        copy_ids.push(apply_decision(tx, c)?.id);
    }
    Decision::fill_ids(&mut event, id, &outbox_ids, &copy_ids);
    tx.insert_event(&event)?;
    Ok(case)
}

/// A row [`Tx::rows_mentioning`] found: its id, its case, and the columns asked for.
pub(crate) type Mention = (i64, Option<i64>, Vec<Option<String>>);

/// The tables and text columns [`Tx::rows_mentioning`] and [`Tx::set_text`] may touch (names
/// are put into SQL, so only these), each with the column naming its case (SQL); every
/// table has an integer `id`.
pub(crate) const SCRUBBED: &[(&str, &str, &[&str])] = &[
    (
        "cases",
        "id",
        &["data", "participants", "suspended", "cancelled"],
    ),
    ("events", "case_id", &["actor", "inputs", "effects"]),
    (
        "outbox",
        "case_id",
        &["recipient", "subject", "body", "data", "last_error"],
    ),
    ("incidents", "case_id", &["error", "resolved_by", "note"]),
    (
        "audit",
        "NULL",
        &["actor", "subject", "before", "after", "reason"],
    ),
];

/// The SQL naming the case of a row of a [`SCRUBBED`] table.
pub(crate) fn case_column(table: &str) -> &'static str {
    SCRUBBED
        .iter()
        .find(|(t, _, _)| *t == table)
        .map_or("NULL", |(_, c, _)| *c)
}

/// Refuse a table or column [`SCRUBBED`] does not name.
pub(crate) fn check_scrubbed(table: &str, columns: &[&str]) -> Result<()> {
    let known = SCRUBBED
        .iter()
        .find(|(t, _, _)| *t == table)
        .map(|(_, _, c)| *c)
        .unwrap_or_default();
    match columns.iter().find(|c| !known.contains(c)) {
        None if !known.is_empty() => Ok(()),
        Some(c) => Err(crate::error::Error::storage(format!(
            "`{table}.{c}` is not a column a person's data is rewritten in"
        ))),
        None => Err(crate::error::Error::storage(format!(
            "`{table}` is not a table a person's data is rewritten in"
        ))),
    }
}

/// `LIKE` patterns (with `ESCAPE '\'`) matching text that contains one of `needles`, for a
/// lowercased column: each needle ASCII-lowercased and fully lowercased; blank needles
/// skipped.
pub(crate) fn like_patterns(needles: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in needles.iter().filter(|n| !n.trim().is_empty()) {
        for v in [n.to_ascii_lowercase(), n.to_lowercase()] {
            let p = format!("%{}%", sqlite::audit::like_escape(&v));
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

/// A backend: it opens transactions. One command is one call of [`Store::write`]; a backend
/// whose transactions can fail for reasons of concurrency (a serialization failure, a
/// deadlock) runs `f` again from the start on a fresh transaction, so `f` must only act
/// through the transaction it is given.
pub(crate) trait Store: Send + Sync {
    /// Run `f` in one write transaction, committing when it returns `Ok`.
    fn write(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()>;
    /// Run `f` in one read transaction (a consistent snapshot).
    fn read(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()>;
    /// A listener that other processes' commits wake ([`Listen`]), or `None` when the backend
    /// has none (SQLite: no channel between processes; a process wakes its own worker and
    /// polls for the others).
    fn listen(&self) -> Result<Option<Box<dyn Listen>>> {
        Ok(None)
    }
    /// Whether a command arriving now should be decided on a read snapshot, outside the
    /// writer, and only applied in a write transaction after its reads are checked again
    /// (the engine's "decide outside the writer"): when the backend's reads run beside its
    /// one writer and the writer is busy with another thread's command. `false` runs the
    /// whole command in the write transaction.
    fn decide_outside(&self) -> bool {
        false
    }
}

/// Waits for a commit of any process that may give a timer worker work sooner than it
/// thought: a timer due soon, an outbox row (PostgreSQL's `LISTEN`). Only a hint: a worker
/// polls anyway, so a lost wake-up delays work, never loses it.
pub(crate) trait Listen: Send {
    /// Wait at most `timeout`; `true` when woken. A lost connection is an error, and the
    /// next call connects again.
    fn wait(&mut self, timeout: std::time::Duration) -> Result<bool>;
}

/// `people(filter)` in scripts: people of `org` (or `filter.org`) matching the filter, by id,
/// as scripts see them. `role` looks up a directory role; other keys must match attributes
/// ([`crate::directory::matches_filter`]).
pub(crate) fn people_matching(
    reads: &dyn DirectoryReads,
    org: &str,
    filter: &Map<String, Value>,
) -> Result<Vec<Map<String, Value>>> {
    let org = match filter.get("org") {
        Some(Value::String(o)) => o.as_str(),
        _ => org,
    };
    let candidates = match filter.get("role") {
        Some(Value::String(role)) => reads.people_with_role(org, role)?,
        _ => reads.people_of_org(org)?,
    };
    Ok(candidates
        .iter()
        .map(Person::to_script_map)
        .filter(|m| crate::directory::matches_filter(m, filter))
        .collect())
}

/// Run `f` with the directory reads of the command running on this thread (`None` outside
/// a command).
pub(crate) fn with_directory<T>(f: impl FnOnce(&dyn DirectoryReads) -> T) -> Option<T> {
    // a thread runs at most one command at a time, on one backend
    let mut f = Some(f);
    if let Some(out) = sqlite::current_reads(|r| f.take().map(|f| f(r))).flatten() {
        return Some(out);
    }
    f.and_then(|f| postgres::current_reads(f))
}

/// Open the store a location names (creating an SQLite file when missing if `create`), with
/// its schema brought up to date.
pub(crate) fn open(location: &Location, create: bool) -> Result<Box<dyn Store>> {
    Ok(match location {
        Location::SqliteFile(p) => Box::new(sqlite::SqliteStore::open(Some(p), create)?),
        Location::SqliteMemory => Box::new(sqlite::SqliteStore::open(None, true)?),
        Location::Postgres(url) => Box::new(postgres::PgStore::open(url, create)?),
    })
}

/// Where a database is: the one string `Engine::builder().database(..)`, `mentorflow --db`
/// and `mentorflow.Engine(..)` take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (a path, or an SQLite `file:` URI such as `file:cases.db?mode=ro`).
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (`:memory:`).
    SqliteMemory,
    /// A PostgreSQL server (`postgres://` or `postgresql://` URL).
    Postgres(String),
}

impl Location {
    /// Read a database string: `postgres://…` and `postgresql://…` name a PostgreSQL server,
    /// `:memory:` a private in-memory SQLite database, anything else an SQLite file.
    pub fn parse(s: &str) -> Location {
        let t = s.trim();
        if t.starts_with("postgres://") || t.starts_with("postgresql://") {
            Location::Postgres(t.to_owned())
        } else if t == ":memory:" {
            Location::SqliteMemory
        } else {
            Location::SqliteFile(PathBuf::from(s))
        }
    }

    /// The SQLite file, if this names one.
    pub fn file(&self) -> Option<&std::path::Path> {
        match self {
            Location::SqliteFile(p) => Some(p),
            _ => None,
        }
    }
}

/// A URL without its password, for messages.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_string_names_its_backend() {
        assert_eq!(
            Location::parse("postgres://u@h/db"),
            Location::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Location::parse("postgresql://h/db"),
            Location::Postgres("postgresql://h/db".into())
        );
        assert_eq!(Location::parse(":memory:"), Location::SqliteMemory);
        assert_eq!(
            Location::parse("cases.db"),
            Location::SqliteFile(PathBuf::from("cases.db"))
        );
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
