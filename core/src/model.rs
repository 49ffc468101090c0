//! The model: the values the engine decides and the store keeps — cases, events and their
//! effects, participants, notifications, signals, tables, and the query and report types of
//! the public API. It sits below both: the engine and the store import it, it imports neither
//! (only serde, chrono and serde_json), so no circle of imports runs through storage.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One running instance of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Case {
    /// Unique id.
    pub id: i64,
    /// Workflow id.
    pub workflow: String,
    /// Workflow version, pinned when the case started.
    pub version: u32,
    /// Organisation.
    pub org: String,
    /// Current state id.
    pub state: String,
    /// The state's label.
    pub state_label: String,
    /// The state's tags (report flags).
    pub tags: Vec<String>,
    /// Whether the state is not final.
    pub open: bool,
    /// Typed fields (unset fields are absent).
    pub data: Map<String, Value>,
    /// Participants: case role → person ids.
    pub participants: BTreeMap<String, Vec<String>>,
    /// Bumped by every change; equals the number of history events.
    pub revision: u64,
    /// When the case started.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// The case this one was copied from (`spawn_copy`).
    pub parent: Option<i64>,
    /// Set while an operator has suspended the case (`Engine::suspend_case`): it refuses
    /// every action and its timers wait until `Engine::resume_case`.
    pub suspended: Option<OperatorMark>,
    /// Set when an operator cancelled the case (`Engine::cancel_case`): it ended in the state
    /// it was in (`open` is false), has no timers and refuses every action.
    pub cancelled: Option<OperatorMark>,
}

/// Who suspended or cancelled a case, when and why ([`Case::suspended`], [`Case::cancelled`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorMark {
    /// The operator (a person holding an operator role).
    pub by: String,
    /// When.
    pub at: DateTime<Utc>,
    /// The reason they gave.
    pub reason: String,
}

impl Case {
    /// The first person holding a case role.
    pub fn participant(&self, role: &str) -> Option<&str> {
        self.participants
            .get(role)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    /// Whether a person holds a case role (or any role when `role` is `None`).
    pub fn has_participant(&self, person: &str, role: Option<&str>) -> bool {
        self.participants
            .iter()
            .any(|(r, ids)| role.is_none_or(|want| want == r) && ids.iter().any(|p| p == person))
    }
}

/// One change recorded in an event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Effect {
    /// A field was set (`null` clears it).
    Set {
        /// Field name.
        field: String,
        /// New value.
        value: Value,
    },
    /// A person was given a case role.
    Assign {
        /// Role.
        role: String,
        /// Person id.
        person: String,
    },
    /// A person lost a case role.
    Unassign {
        /// Role.
        role: String,
        /// Person id.
        person: String,
    },
    /// A note was added.
    Note {
        /// Its text.
        text: String,
    },
    /// A notification was queued.
    Notify {
        /// Outbox id.
        id: i64,
        /// Recipient.
        to: String,
        /// Template.
        template: String,
    },
    /// A signal was emitted for hosts.
    Signal {
        /// Outbox id.
        id: i64,
        /// Its kind.
        kind: String,
    },
    /// A linked copy was created.
    Spawn {
        /// The copy's id.
        case: i64,
        /// Its state.
        state: String,
    },
    /// This case is a copy of another.
    CopiedFrom {
        /// The original.
        case: i64,
    },
    /// A timer was scheduled.
    TimerScheduled {
        /// Timer name.
        name: String,
        /// When it is due.
        due: DateTime<Utc>,
    },
    /// A timer was cancelled.
    TimerCancelled {
        /// Timer name.
        name: String,
    },
    /// The case moved to another version of its workflow (a migration plan, see
    /// `mentorflow::migrate`). The same event's other effects say what the plan changed.
    Migrated {
        /// The version it ran on.
        from_version: u32,
        /// The version it runs on now.
        to_version: u32,
        /// The plan file that moved it.
        plan: String,
    },
    /// An operator suspended the case (the event's actor; the reason is in its inputs).
    Suspended,
    /// An operator resumed a suspended case.
    Resumed,
    /// An operator cancelled the case: it ended where it was.
    Cancelled,
    /// An operator moved the case to another state outside the flow's actions (the
    /// event's `from_state` and `to_state`; timer effects follow).
    Repaired,
}

/// One entry of a case's history.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Global, increasing id (a cursor for hosts).
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// 1, 2, 3… within the case; equals the case's revision after the event.
    pub seq: u64,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Who did it (`system` for timers).
    pub actor: String,
    /// The action (or `timer:NAME` for a timer that only ran a script).
    pub action: String,
    /// State before (`None` for the first event).
    pub from_state: Option<String>,
    /// State after.
    pub to_state: String,
    /// The validated inputs.
    pub inputs: Map<String, Value>,
    /// What changed.
    pub effects: Vec<Effect>,
}

/// A person holding a case role, and since when ([`Engine::participants`](crate::Engine::participants)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Participant {
    /// The case role.
    pub role: String,
    /// The person.
    pub person: String,
    /// When the person was given the role (the latest time, if they lost it in between).
    pub since: DateTime<Utc>,
}

/// A pending timer of a case: when it is due and what it does then
/// ([`Engine::timers`](crate::Engine::timers)).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PendingTimer {
    /// Its name in the state.
    pub name: String,
    /// The state that scheduled it (leaving the state cancels it).
    pub state: String,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// The system action it fires, if any.
    pub action: Option<String>,
    /// Whether it runs a script when it fires.
    pub script: bool,
    /// Whether it fires again every period while the case stays in the state (`every`).
    pub recurring: bool,
    /// How many times a recurring timer has fired so far.
    pub fired: u32,
    /// The timer's description in the definition.
    pub description: Option<String>,
}

/// What a database looks like to an operator ([`Engine::health`](crate::Engine::health)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// The schema version of the database.
    pub schema_version: i64,
    /// The instant of the latest history event ([`Engine::last_committed_at`](crate::Engine::last_committed_at)).
    pub last_committed_at: Option<DateTime<Utc>>,
    /// The engine's clock when the report was made.
    pub now: DateTime<Utc>,
    /// The earliest pending timer's due time.
    pub next_due: Option<DateTime<Utc>>,
    /// Timers due longer ago than the grace period given: no worker fired them.
    pub overdue_timers: u64,
    /// Notifications and signals neither delivered to a hook nor acknowledged by a host.
    pub outbox_backlog: u64,
    /// Of the backlog, those whose last delivery attempt failed.
    pub failed_deliveries: u64,
    /// Deliveries to a consumer that failed every attempt and wait for an operator
    /// (`mentorflow outbox list`).
    pub dead_letters: u64,
    /// Timer firings that failed and are not resolved, retried or waiting for an operator
    /// (`mentorflow incidents`).
    pub open_incidents: u64,
}

impl Health {
    /// Healthy: no overdue timer, no failed delivery waiting, no dead letter and no open
    /// incident.
    pub fn healthy(&self) -> bool {
        self.overdue_timers == 0
            && self.failed_deliveries == 0
            && self.dead_letters == 0
            && self.open_incidents == 0
    }
}

/// A message to a person, rendered from a template.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    /// Outbox id; also the idempotency key hosts use to drop duplicate deliveries.
    pub id: i64,
    /// The case.
    pub case_id: Option<i64>,
    /// Recipient person id.
    pub to: String,
    /// Template name.
    pub template: String,
    /// Rendered subject.
    pub subject: String,
    /// Rendered body.
    pub body: String,
    /// Data passed by the effect (private fields never appear unless passed explicitly).
    pub data: Map<String, Value>,
    /// When it was queued.
    pub at: DateTime<Utc>,
    /// When hooks accepted it.
    pub delivered_at: Option<DateTime<Utc>>,
    /// When a host acknowledged it.
    pub acked_at: Option<DateTime<Utc>>,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The last delivery error.
    pub last_error: Option<String>,
}

/// A typed event for hosts that is not a message to a person (for example
/// `schedule_exception` when an agent's mentoring exception is approved).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Signal {
    /// Outbox id (idempotency key).
    pub id: i64,
    /// The case.
    pub case_id: Option<i64>,
    /// What kind of signal.
    pub kind: String,
    /// Its data.
    pub data: Map<String, Value>,
    /// When it was emitted.
    pub at: DateTime<Utc>,
}

/// A table (an export).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Table {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, one map per row, keyed by column.
    pub rows: Vec<Map<String, Value>>,
}

impl Table {
    /// The table as CSV (RFC 4180: quoted when needed, CRLF line ends).
    pub fn to_csv(&self) -> String {
        fn cell(v: &Value) -> String {
            let s = match v {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .map(|i| match i {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                other => other.to_string(),
            };
            // Guard spreadsheet formula injection.
            let s = if s.starts_with(['=', '+', '-', '@']) && s.parse::<f64>().is_err() {
                format!("'{s}")
            } else {
                s
            };
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s
            }
        }
        let mut out = String::new();
        out.push_str(
            &self
                .columns
                .iter()
                .map(|c| cell(&Value::String(c.clone())))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push_str("\r\n");
        for row in &self.rows {
            let line: Vec<String> = self
                .columns
                .iter()
                .map(|c| cell(row.get(c).unwrap_or(&Value::Null)))
                .collect();
            out.push_str(&line.join(","));
            out.push_str("\r\n");
        }
        out
    }
}

/// What a timer sweep did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TickReport {
    /// Timers fired.
    pub fired: usize,
    /// Timer firings that failed (rolled back; each is an incident, see
    /// [`crate::Engine::incidents`]), with their errors.
    pub failed: Vec<String>,
    /// Notifications and signals accepted by at least one hook.
    pub delivered: usize,
    /// Deliveries (of one row to one hook) that failed.
    pub delivery_failures: usize,
    /// Of those, deliveries that failed for the last time allowed: now dead letters.
    pub dead_letters: usize,
}

impl TickReport {
    pub(crate) fn add(&mut self, other: TickReport) {
        self.fired += other.fired;
        self.failed.extend(other.failed);
        self.delivered += other.delivered;
        self.delivery_failures += other.delivery_failures;
        self.dead_letters += other.dead_letters;
    }
}

/// Filters for [`crate::Engine::cases`].
#[derive(Debug, Clone, Default)]
pub struct CaseFilter {
    /// Only this workflow.
    pub workflow: Option<String>,
    /// Only this state.
    pub state: Option<String>,
    /// Only this organisation.
    pub org: Option<String>,
    /// At most this many (newest first).
    pub limit: Option<usize>,
}

/// Which page of a view to read ([`crate::Engine::view_page`]), sorted and filtered.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewQuery {
    /// Cases to skip.
    pub offset: usize,
    /// Cases to return at most (0: only the total).
    pub limit: usize,
    /// `created`, `updated`, `id`, `state` or a field name; the view's own sort when `None`.
    pub sort: Option<String>,
    /// Largest first; the view's own direction when `None`.
    pub descending: Option<bool>,
    /// Only these states (each one the view shows).
    pub states: Vec<String>,
    /// Only cases whose field equals the value (`null`: the field is unset).
    pub fields: Vec<(String, Value)>,
    /// Only cases with this text in one of their fields (ignoring case).
    pub search: Option<String>,
}

impl Default for ViewQuery {
    fn default() -> Self {
        ViewQuery {
            offset: 0,
            limit: 25,
            sort: None,
            descending: None,
            states: Vec::new(),
            fields: Vec::new(),
            search: None,
        }
    }
}

impl ViewQuery {
    /// Every case of the view, in its own order.
    pub fn all() -> Self {
        ViewQuery {
            limit: usize::MAX,
            ..ViewQuery::default()
        }
    }
}

/// One page of a view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewPage {
    /// The view's workflow.
    pub workflow: String,
    /// The view's name.
    pub view: String,
    /// Its title.
    pub title: String,
    /// The cases of the page.
    pub cases: Vec<Case>,
    /// How many cases the whole view (with the query's filters) holds.
    pub total: usize,
    /// The query's offset.
    pub offset: usize,
    /// The query's limit.
    pub limit: usize,
}

/// A view a person uses ([`crate::Engine::views_for`]), with its count when asked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewInfo {
    /// Workflow id.
    pub workflow: String,
    /// View name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// How many cases it holds for the person ([`crate::Engine::view_counts`]).
    pub count: Option<usize>,
}

/// A start action a person may use ([`crate::Engine::start_actions_for`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StartInfo {
    /// Workflow id.
    pub workflow: String,
    /// The workflow's title.
    pub workflow_title: String,
    /// Action id.
    pub action: String,
    /// Its label.
    pub label: String,
    /// Its description.
    pub description: Option<String>,
    /// Whether it is the workflow's default start.
    pub default: bool,
}

/// Fold a case's history into its snapshot: state, data, participants, revision and times.
/// The engine's stored snapshot must always equal this (a property test checks it).
pub fn fold(events: &[Event]) -> Option<Folded> {
    let first = events.first()?;
    let mut f = Folded {
        state: first.to_state.clone(),
        data: Map::new(),
        participants: BTreeMap::new(),
        revision: 0,
        created_at: first.at,
        updated_at: first.at,
        parent: None,
        version: None,
        suspended: None,
        cancelled: None,
    };
    for e in events {
        f.state = e.to_state.clone();
        f.revision = e.seq;
        f.updated_at = e.at;
        for eff in &e.effects {
            match eff {
                Effect::Set { field, value } => {
                    if value.is_null() {
                        f.data.remove(field);
                    } else {
                        f.data.insert(field.clone(), value.clone());
                    }
                }
                Effect::Assign { role, person } => {
                    let ids = f.participants.entry(role.clone()).or_default();
                    if !ids.contains(person) {
                        ids.push(person.clone());
                    }
                }
                Effect::Unassign { role, person } => {
                    if let Some(ids) = f.participants.get_mut(role) {
                        ids.retain(|p| p != person);
                        if ids.is_empty() {
                            f.participants.remove(role);
                        }
                    }
                }
                Effect::CopiedFrom { case } => f.parent = Some(*case),
                Effect::Migrated { to_version, .. } => f.version = Some(*to_version),
                Effect::Suspended => f.suspended = Some(mark(e)),
                Effect::Resumed => f.suspended = None,
                Effect::Cancelled => {
                    f.suspended = None;
                    f.cancelled = Some(mark(e));
                }
                _ => {}
            }
        }
    }
    Some(f)
}

/// The mark an operator's event leaves: its actor, time and `reason` input.
fn mark(e: &Event) -> OperatorMark {
    OperatorMark {
        by: e.actor.clone(),
        at: e.at,
        reason: e
            .inputs
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    }
}

/// A snapshot rebuilt from history by [`fold`].
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    /// State.
    pub state: String,
    /// Fields.
    pub data: Map<String, Value>,
    /// Participants.
    pub participants: BTreeMap<String, Vec<String>>,
    /// Revision.
    pub revision: u64,
    /// First event's time.
    pub created_at: DateTime<Utc>,
    /// Last event's time.
    pub updated_at: DateTime<Utc>,
    /// Original of a copy.
    pub parent: Option<i64>,
    /// The version the last migration moved the case to (`None`: never migrated, so the
    /// case runs on the version it started on, which the history does not repeat).
    pub version: Option<u32>,
    /// Whether (by whom, why) the case is suspended.
    pub suspended: Option<OperatorMark>,
    /// Whether (by whom, why) the case was cancelled.
    pub cancelled: Option<OperatorMark>,
}

impl Folded {
    /// Whether this equals a case's stored snapshot.
    pub fn matches(&self, c: &Case) -> bool {
        self.state == c.state
            && self.data == c.data
            && self.participants == c.participants
            && self.revision == c.revision
            && self.created_at == c.created_at
            && self.updated_at == c.updated_at
            && self.parent == c.parent
            && self.version.is_none_or(|v| v == c.version)
            && self.suspended == c.suspended
            && self.cancelled == c.cancelled
    }
}

/// Filter for listing notifications.
#[derive(Debug, Clone, Default)]
pub struct NotificationFilter {
    /// Only this case's.
    pub case_id: Option<i64>,
    /// Only those to this person.
    pub to: Option<String>,
    /// Only those not acknowledged yet.
    pub pending: bool,
}

/// What one command does, decided without the database: the case's new snapshot, the
/// participants it gains and loses, its timers, the outbox rows, the linked copies and the
/// history event. The engine builds it (`engine::step`); a store applies it inside the
/// command's transaction ([`crate::store`]) and fills in the ids only it can give: a new
/// case's id, outbox ids and the copies' ids (see [`Decision::fill_ids`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// The new snapshot (`id` 0 for a new case, filled in when it is written).
    pub case: Case,
    /// The revision the command read (`None` for a new case): writing fails with a conflict
    /// if the stored case moved on since.
    pub expected_revision: Option<u64>,
    /// Roles given and taken, in order.
    pub participants: Vec<ParticipantChange>,
    /// The case's timers after the command.
    pub timers: TimerPlan,
    /// Notifications and signals, in order.
    pub outbox: Vec<OutboxEntry>,
    /// Linked copies (`spawn_copy`), each a new case of its own, written before the event.
    pub copies: Vec<Decision>,
    /// The history event. Its `Notify`/`Signal` effects name outbox rows and its `Spawn`
    /// effects the copies, in the order of [`Decision::outbox`] and [`Decision::copies`];
    /// their ids are 0 until the store fills them.
    pub event: Event,
}

/// A role given to or taken from a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantChange {
    /// Given (`true`) or taken.
    pub added: bool,
    /// The case role.
    pub role: String,
    /// The person.
    pub person: String,
    /// Whether a grant counts as an assignment (`assignments_since` in scripts).
    pub log: bool,
}

/// How a command changes a case's timers: drop them all (`clear`, the case entered a
/// state), then drop these by name, then write these (replacing a timer of the same name).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TimerPlan {
    /// Drop every timer of the case first.
    pub clear: bool,
    /// Timers to drop by name.
    pub remove: Vec<String>,
    /// Timers to write.
    pub schedule: Vec<NewTimer>,
}

/// A timer to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTimer {
    /// The state it belongs to.
    pub state: String,
    /// Its name in the state.
    pub name: String,
    /// When it is due.
    pub due: DateTime<Utc>,
    /// When its state was entered (recurring timers count periods from here).
    pub anchor: DateTime<Utc>,
}

/// A row for the outbox: a notification to a person, or a signal for hosts.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxEntry {
    /// `notification` or `signal`.
    pub kind: OutboxKind,
    /// The person notified (notifications only).
    pub recipient: Option<String>,
    /// The template (or the signal's kind).
    pub template: String,
    /// Rendered subject (notifications only).
    pub subject: String,
    /// Rendered body (notifications only).
    pub body: String,
    /// Template data or signal payload.
    pub data: Map<String, Value>,
}

/// What an outbox row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxKind {
    /// A notification to a person.
    Notification,
    /// A signal for hosts.
    Signal,
}

impl OutboxKind {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxKind::Notification => "notification",
            OutboxKind::Signal => "signal",
        }
    }
}

impl Decision {
    /// Fill in what only the store knows, once it wrote the rows: the case's id (in the event
    /// and in the copies' `CopiedFrom`), the outbox ids of the event's `Notify`/`Signal`
    /// effects (in order) and the copies' ids of its `Spawn` effects (in order).
    pub fn fill_ids(event: &mut Event, case_id: i64, outbox_ids: &[i64], copy_ids: &[i64]) {
        event.case_id = case_id;
        let mut outbox = outbox_ids.iter();
        let mut copies = copy_ids.iter();
        for e in &mut event.effects {
            match e {
                Effect::Notify { id, .. } | Effect::Signal { id, .. } => {
                    if let Some(x) = outbox.next() {
                        *id = *x;
                    }
                }
                Effect::Spawn { case, .. } => {
                    if let Some(x) = copies.next() {
                        *case = *x;
                    }
                }
                _ => {}
            }
        }
    }

    /// A copy's `CopiedFrom` names its original once the original has an id.
    pub fn set_original(&mut self, original: i64) {
        self.case.parent = Some(original);
        for e in &mut self.event.effects {
            if let Effect::CopiedFrom { case } = e {
                *case = original;
            }
        }
    }
}

/// A timer firing that failed and is retried, or waits for a person ([`crate::Engine::incidents`]).
///
/// A firing that fails is rolled back and becomes an incident, retried with exponential
/// backoff up to the organisation's `incident_max_attempts`, then left open until an operator
/// retries or resolves it. One incident at a time is open per case and timer: a recurring
/// timer that fails again while its incident is open updates that incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Incident {
    /// Unique id.
    pub id: i64,
    /// The case.
    pub case_id: i64,
    /// What failed: `timer`.
    pub kind: String,
    /// The state the timer belongs to.
    pub state: String,
    /// The timer's name in that state.
    pub timer: String,
    /// The error's code (see [`crate::Error::code`]).
    pub code: String,
    /// The last error, with its place in the definition (workflow, version, script, line and column).
    pub error: String,
    /// Attempts so far, the first firing included.
    pub attempts: u32,
    /// `open` until resolved (by a successful retry or by an operator), then `resolved`.
    pub status: IncidentStatus,
    /// When the firing first failed.
    pub first_at: DateTime<Utc>,
    /// The last attempt.
    pub last_at: DateTime<Utc>,
    /// When the engine retries it by itself (`None`: no automatic retry left; it waits for a
    /// person).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was resolved.
    pub resolved_at: Option<DateTime<Utc>>,
    /// Who resolved it (`None`: the engine, by a successful retry, or a host's own call).
    pub resolved_by: Option<String>,
    /// Why it was resolved.
    pub note: Option<String>,
    /// When the timer's state was entered (recurring timers count periods from here).
    #[serde(skip)]
    pub anchor: DateTime<Utc>,
    /// Periods the recurring timer had fired when this firing failed.
    #[serde(skip)]
    pub fired: u32,
}

/// Where an [`Incident`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IncidentStatus {
    /// Not resolved: retried by the engine while `next_attempt_at` is set, else waiting for a
    /// person.
    Open,
    /// Done with: the firing succeeded on a retry, or an operator resolved it.
    Resolved,
}

impl IncidentStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Open => "open",
            IncidentStatus::Resolved => "resolved",
        }
    }
}

impl std::str::FromStr for IncidentStatus {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "open" => Ok(IncidentStatus::Open),
            "resolved" => Ok(IncidentStatus::Resolved),
            other => Err(format!(
                "unknown incident status `{other}` (known: open, resolved)"
            )),
        }
    }
}

/// Which incidents to list ([`crate::Engine::incidents`]).
#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    /// Only this status (default: open).
    pub status: Option<IncidentStatus>,
    /// Every status.
    pub all: bool,
    /// Only incidents of this case.
    pub case_id: Option<i64>,
    /// At most this many (default 1000), oldest first.
    pub limit: Option<usize>,
}
