//! # mentorflow
//!
//! An embeddable workflow runtime for mentoring programmes. Organisations describe their
//! flows in YAML — states, who may do what, guards and effects as small rhai scripts,
//! reminders and deadlines on business-day calendars — and the engine runs every case of
//! those flows durably in one SQLite file, one transaction per command.
//!
//! ```
//! use mentorflow::{Engine, ManualClock, Person};
//! use serde_json::json;
//!
//! let yaml = r#"
//! workflow: hello
//! version: 1
//! roles:
//!   asker: {}
//!   helper: { directory: helper }
//! fields:
//!   topic: { type: string, required: true }
//! states:
//!   open: { label: Open }
//!   done: { label: Done, final: true }
//! actions:
//!   ask: { to: open, by: asker }
//!   answer: { from: open, to: done, by: helper }
//! "#;
//! let t0 = "2026-11-20T10:00:00Z".parse().unwrap();
//! let engine = Engine::builder()
//!     .in_memory()
//!     .workflow_str("hello.yaml", yaml)
//!     .clock(ManualClock::at(t0))
//!     .build()?;
//! engine.put_person(&Person::new("pat").org("acme"))?;
//! engine.put_person(&Person::new("hana").org("acme").role("helper"))?;
//! let case = engine.start("hello", "ask", "pat", json!({"topic": "pricing"}))?;
//! let case = engine.act(case.id, "answer", "hana", json!({}))?;
//! assert_eq!(case.state, "done");
//! # Ok::<(), mentorflow::Error>(())
//! ```
//!
//! | module | concept |
//! |--------|---------|
//! | [`auth`] | sign-in material kept for front ends: tokens, credentials, password hashes |
//! | [`definition`] | the workflow model, YAML loading, static validation |
//! | [`script`] | the rhai sandbox, limits, compiled scripts |
//! | [`store`] | the SQLite schema, migrations and queries |
//! | [`engine`] | commands (start, act, tick), views, exports |
//! | [`time`] | clocks, durations, business calendars |
//! | [`directory`] | people and organisations |
//! | [`hooks`] | plugin traits and outbox delivery |
//! | [`migrate`] | migration plans: moving running cases to another version |
//! | [`scenario`] | the scenario runner |
//! | [`error`] | the one error type |
//! | [`yaml`] | the one place YAML is parsed |
//! | [`suggest`] | "did you mean …?" for unknown names |

pub mod audit;
pub mod auth;
pub mod definition;
pub mod directory;
pub mod engine;
pub mod error;
pub mod graph;
pub mod hooks;
pub mod metrics;
pub mod migrate;
pub mod model;
pub mod replay;
pub mod scenario;
pub mod schema_json;
pub mod script;
mod script_host;
pub mod store;
pub mod suggest;
pub mod time;
pub mod yaml;

/// The README's examples, compiled and run as doc tests so they cannot drift.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

pub use audit::{AuditEntry, AuditFilter};
pub use auth::{Credential, CredentialKind, Token};
pub use definition::Definition;
pub use directory::{Org, OrgPatch, Person, PersonPatch};
pub use engine::{
    fold, Act, ActOptions, ActionAvailability, BulkCase, BulkControl, BulkOptions, BulkReport,
    Case, CaseFilter, CaseReassignment, Effect, Engine, EngineBuilder, Event, ExportInfo,
    ForgetPlace, ForgetReport, Health, Notification, Participant, PendingTimer, ReassignOptions,
    ReassignReport, RetainedCase, RetentionReport, RetentionRule, RetentionSchedule,
    RetentionTimer, Signal, Start, StartInfo, Table, TickReport, Unavailable, UnavailableReason,
    ViewInfo, ViewPage, ViewQuery, Wakeups, CANCEL_ACTION, DEFAULT_INCIDENT_MAX_ATTEMPTS,
    DEFAULT_OPERATOR_ROLE, FORGET_ACTION, INCIDENT_MAX_ATTEMPTS_SETTING, REASSIGN_ACTION,
    REPAIR_ACTION, RESUME_ACTION, RETENTION_ACTION, RETENTION_SETTING, SUSPEND_ACTION,
    WORKFLOWS_SETTING,
};
pub use error::{Error, Problem, Result, ScriptPlace};
pub use hooks::{Delivery, DeliveryFilter, DeliveryPolicy, DeliveryStatus, Hook, HookError};
pub use metrics::Metrics;
pub use migrate::{
    CaseMigration, FieldChange, MigrateOptions, MigrationOutcome, MigrationPlan, MigrationReport,
    RoleChange, TimerChange, TimerFate,
};
pub use model::{Incident, IncidentFilter, IncidentStatus, OperatorMark};
pub use replay::{
    CaseReplay, Divergence, DivergenceKind, RecordedCase, ReplayOutcome, ReplayReport,
};
pub use script::{LimitValue, Limits};
pub use store::NotificationFilter;
pub use time::{BusinessCalendar, Clock, ManualClock, Span, SystemClock};
