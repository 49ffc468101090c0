//! The engine: commands (start, act, tick), views, exports and the directory API, over one
//! SQLite connection. Every command is one transaction: the guard, the effects, the event,
//! the timers and the notifications commit together or not at all.

mod audit;
mod availability;
mod bulk;
mod controls;
mod decide;
mod forget;
mod incidents;
mod outbox;
mod pickers;
mod retention;
pub(crate) mod step;
mod sweep;
mod views;
mod wake;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub use crate::model::{
    fold, Case, CaseFilter, Effect, Event, Folded, Health, Notification, Participant, PendingTimer,
    Signal, StartInfo, Table, TickReport, ViewInfo, ViewPage, ViewQuery,
};
pub use availability::{
    ActionAvailability, ExportInfo, Unavailable, UnavailableReason, WORKFLOWS_SETTING,
};
pub use bulk::{BulkCase, BulkControl, BulkOptions, BulkReport};
pub use controls::{
    CaseReassignment, ReassignOptions, ReassignReport, CANCEL_ACTION, REASSIGN_ACTION,
    REPAIR_ACTION, RESUME_ACTION, SUSPEND_ACTION,
};
pub use forget::{ForgetPlace, ForgetReport, FORGET_ACTION};
pub use incidents::{DEFAULT_INCIDENT_MAX_ATTEMPTS, INCIDENT_MAX_ATTEMPTS_SETTING};
pub use pickers::{Candidates, CANDIDATE_LIMIT};
pub use retention::{
    RetainedCase, RetentionReport, RetentionRule, RetentionSchedule, RetentionTimer,
    RETENTION_ACTION, RETENTION_SETTING,
};
pub use wake::Wakeups;

use crate::definition::{self, Definition};
use crate::directory::{Org, OrgPatch, Person, PersonPatch};
use crate::error::{Error, Problem, Result};
use crate::hooks::{Consumer, DeliveryPolicy, Hook};
use crate::metrics::{Command, Gauges, Metrics, Recorder};
use crate::script::{Limits, Scripts};
use crate::store::{self, DirectoryReads, NotificationFilter, Store, Tx};
use crate::time::{BusinessCalendar, Clock, ManualClock, Span, SystemClock};

/// Builds an [`Engine`].
#[must_use]
pub struct EngineBuilder {
    location: store::Location,
    open_existing: bool,
    workflow_dirs: Vec<PathBuf>,
    workflow_files: Vec<PathBuf>,
    workflow_texts: Vec<(String, String)>,
    clock: Option<Arc<dyn Clock>>,
    manual: Option<ManualClock>,
    hooks: Vec<(Option<String>, Arc<dyn Hook>)>,
    delivery: DeliveryPolicy,
    limits: Limits,
    configure: Vec<Configure>,
    setting_defaults: Map<String, Value>,
    operator_roles: Vec<String>,
    actor: String,
}

/// The directory role that makes a person an operator when the host names none
/// ([`EngineBuilder::operator_roles`]).
pub const DEFAULT_OPERATOR_ROLE: &str = "admin";

/// A host's change to the script engine.
type Configure = Box<dyn FnOnce(&mut rhai::Engine)>;

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("database", &self.location)
            .field("workflow_dirs", &self.workflow_dirs)
            .field("hooks", &self.hooks.len())
            .finish()
    }
}

impl EngineBuilder {
    /// Store cases in this database: an SQLite file (created when missing), `:memory:`, or a
    /// `postgres://` / `postgresql://` URL (see [`store::Location`]; this build refuses
    /// PostgreSQL URLs with a storage error when built, and creates nothing).
    pub fn database(mut self, path: impl AsRef<Path>) -> Self {
        let p = path.as_ref();
        self.location = match store::Location::parse(&p.to_string_lossy()) {
            // keep the path as given (not re-read from a lossy string)
            store::Location::SqliteFile(_) => store::Location::SqliteFile(p.to_path_buf()),
            other => other,
        };
        self
    }

    /// Only open a database file that already exists: a missing file is a `not_found` error
    /// naming the path, and nothing is created (for commands that only read).
    pub fn open_existing(mut self) -> Self {
        self.open_existing = true;
        self
    }

    /// Keep everything in memory (lost when the engine is dropped).
    pub fn in_memory(mut self) -> Self {
        self.location = store::Location::SqliteMemory;
        self
    }

    /// Load every `*.yaml` workflow of a folder.
    pub fn workflows_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.workflow_dirs.push(dir.as_ref().to_path_buf());
        self
    }

    /// Load one workflow file.
    pub fn workflow_file(mut self, file: impl AsRef<Path>) -> Self {
        self.workflow_files.push(file.as_ref().to_path_buf());
        self
    }

    /// Load a workflow from YAML text; `name` stands for the file in messages.
    pub fn workflow_str(mut self, name: impl Into<String>, yaml: impl Into<String>) -> Self {
        self.workflow_texts.push((name.into(), yaml.into()));
        self
    }

    /// Use this clock (the system clock by default). A [`ManualClock`] also enables
    /// [`Engine::advance`].
    pub fn clock<C: Clock + Clone + 'static>(mut self, clock: C) -> Self {
        let any: &dyn std::any::Any = &clock;
        self.manual = any.downcast_ref::<ManualClock>().cloned();
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Register a hook (a mailer, a scheduler, an audit sink…) under its own
    /// [`Hook::name`] (or a positional name, `hook-1`, `hook-2`…, when it has none).
    pub fn hook(mut self, hook: impl Hook + 'static) -> Self {
        self.hooks.push((None, Arc::new(hook)));
        self
    }

    /// Register a shared hook (named as [`EngineBuilder::hook`] names it).
    pub fn hook_arc(mut self, hook: Arc<dyn Hook>) -> Self {
        self.hooks.push((None, hook));
        self
    }

    /// Register a hook under a consumer name (`"smtp"`, `"webhook:crm"`): the key of its
    /// delivery state in the database, so keep it the same from run to run. Overrides
    /// [`Hook::name`]. Two hooks with one name are refused by `build`.
    pub fn hook_named(mut self, name: impl Into<String>, hook: Arc<dyn Hook>) -> Self {
        self.hooks.push((Some(name.into()), hook));
        self
    }

    /// How failed deliveries are retried and when they become dead letters (see
    /// [`DeliveryPolicy`]; the defaults retry after 1 min, doubling up to 6 h, 16 attempts).
    pub fn delivery_policy(mut self, policy: DeliveryPolicy) -> Self {
        self.delivery = policy;
        self
    }

    /// The host's default for a setting, in place of the definitions' own default: every
    /// loaded definition that declares a setting of this name uses this value where an
    /// organisation has not set it (`mentorflow serve` gives `portal_url` its public address
    /// this way). The definitions' texts and versions are not changed.
    pub fn setting_default(mut self, name: impl Into<String>, value: Value) -> Self {
        self.setting_defaults.insert(name.into(), value);
        self
    }

    /// The directory roles whose holders are operators: the people who may use the
    /// administrative pages of a front end and the operator controls (incidents, outbox,
    /// suspend, repair, …). Default: [`DEFAULT_OPERATOR_ROLE`]. Operators act through the
    /// same commands as everyone; this only names who may reach those commands.
    pub fn operator_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.operator_roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Who deploys and directory changes of this engine are recorded as in the audit log
    /// (see [`crate::audit`]; default `system`). A blank name is refused when built.
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = actor.into();
        self
    }

    /// Sandbox limits for scripts.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Add host functions (or types) to the script sandbox, e.g.
    /// `.functions(|e| { e.register_fn("chapter_name", |id: &str| format!("Chapter {id}")); })`.
    pub fn functions(mut self, f: impl FnOnce(&mut rhai::Engine) + 'static) -> Self {
        self.configure.push(Box::new(f));
        self
    }

    /// Load the definitions, open the database and deploy the definitions into it.
    pub fn build(self) -> Result<Engine> {
        let scripts = Scripts::new(self.limits);
        for f in self.configure {
            scripts.configure(f);
        }
        let mut defs = Vec::new();
        let mut problems: Vec<Problem> = Vec::new();
        let mut collect = |r: Result<Vec<Definition>>| -> Result<()> {
            match r {
                Ok(mut d) => {
                    defs.append(&mut d);
                    Ok(())
                }
                Err(Error::Definition { problems: mut p }) => {
                    problems.append(&mut p);
                    Ok(())
                }
                Err(e) => Err(e),
            }
        };
        for d in &self.workflow_dirs {
            collect(definition::load_dir(d, &scripts))?;
        }
        for f in &self.workflow_files {
            collect(definition::load_file(f, &scripts).map(|d| vec![d]))?;
        }
        for (name, text) in &self.workflow_texts {
            collect(definition::load_str(text, name, &scripts).map(|d| vec![d]))?;
        }
        if !problems.is_empty() {
            return Err(Error::Definition { problems });
        }
        let clock: Arc<dyn Clock> = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let consumers = outbox::name_consumers(self.hooks)?;
        if self.delivery.max_attempts == 0 {
            return Err(Error::validation(
                "delivery_policy.max_attempts",
                "max_attempts must be at least 1",
            ));
        }
        let actor = audit::check_actor(&self.actor)?;
        let db: Box<dyn Store> = store::open(&self.location, !self.open_existing)?;
        let now = clock.now();
        // Deploy. A text whose meaning changed under a version that cases run on is not
        // loaded: those cases keep running on the stored text, and only starting a new case
        // of that version is refused, with the problem.
        let mut registry = Registry {
            setting_defaults: self.setting_defaults,
            ..Registry::default()
        };
        let mut refused = HashMap::new();
        let manual = self.manual.is_some();
        let path = self.location.file().map(Path::to_path_buf);
        let mut defs = Some(defs);
        db.write(&mut |tx| {
            if manual {
                refuse_clock_before_last_event(tx, now, path.as_deref())?;
            }
            let defs = defs.take().unwrap_or_default();
            let plans = deploy_plan(tx, &defs)?;
            for (d, plan) in defs.into_iter().zip(plans) {
                match plan {
                    Deploy::Same => registry.insert(d),
                    Deploy::Store => {
                        let before = tx
                            .stored_definitions()?
                            .into_iter()
                            .filter(|s| s.workflow == d.id)
                            .max_by_key(|s| s.version)
                            .map(|s| serde_json::json!({ "version": s.version, "hash": s.hash }));
                        tx.put_definition(&d, now)?;
                        tx.insert_audit(&crate::audit::AuditEntry {
                            id: 0,
                            at: now,
                            actor: actor.clone(),
                            kind: crate::audit::kinds::DEFINITION_DEPLOY.to_owned(),
                            subject: format!("definition:{}@{}", d.id, d.version),
                            before: before.unwrap_or(Value::Null),
                            after: serde_json::json!({
                                "workflow": d.id,
                                "version": d.version,
                                "hash": d.hash,
                                "file": d.file,
                            }),
                            reason: None,
                        })?;
                        registry.insert(d);
                    }
                    Deploy::Refuse(problem, stored) => {
                        // keep serving the stored version (views, exports, its cases)
                        if let Ok(old) =
                            definition::load_str(&stored.source, &stored.file, &scripts)
                        {
                            registry.insert(old);
                        }
                        refused.insert(d.id.clone(), (d.version, problem));
                    }
                }
            }
            Ok(())
        })?;
        Ok(Engine {
            inner: Arc::new(Inner {
                cache: Mutex::new(HashMap::new()),
                db,
                registry: RwLock::new(registry),
                refused,
                scripts,
                clock,
                manual: self.manual,
                hooks: RwLock::new(consumers),
                delivery: self.delivery,
                path: self.location.file().map(Path::to_path_buf),
                operator_roles: self.operator_roles,
                metrics: Recorder::default(),
                actor: RwLock::new(actor),
                decided: decide::Counts::default(),
            }),
        })
    }
}

#[derive(Debug, Default)]
pub(crate) struct Registry {
    defs: HashMap<(String, u32), Arc<Definition>>,
    latest: HashMap<String, u32>,
    /// Workflow ids in load order.
    order: Vec<String>,
    /// The host's defaults for settings (see [`EngineBuilder::setting_default`]).
    setting_defaults: Map<String, Value>,
}

impl Registry {
    /// A loaded definition with the host's setting defaults.
    fn adjust(&self, mut d: Definition) -> Definition {
        for s in &mut d.settings {
            if let Some(v) = self.setting_defaults.get(&s.name) {
                s.default = v.clone();
            }
        }
        d
    }

    fn insert(&mut self, d: Definition) {
        let d = self.adjust(d);
        let id = d.id.clone();
        let v = d.version;
        if !self.order.contains(&id) {
            self.order.push(id.clone());
        }
        let latest = self.latest.entry(id.clone()).or_insert(v);
        if v > *latest {
            *latest = v;
        }
        self.defs.insert((id, v), Arc::new(d));
    }

    fn latest(&self, id: &str) -> Option<Arc<Definition>> {
        let v = self.latest.get(id)?;
        self.defs.get(&(id.to_owned(), *v)).cloned()
    }
}

/// People and organisations read through one connection, kept while its `PRAGMA
/// data_version` says no other connection changed the file, and dropped whenever this engine
/// changes the directory.
#[derive(Default)]
pub(crate) struct DirCache {
    data_version: i64,
    people: HashMap<String, Option<Person>>,
    orgs: HashMap<String, Arc<OrgInfo>>,
}

/// Effective settings, shared.
pub(crate) type Settings = Arc<Map<String, Value>>;

/// An organisation with its parsed calendar and its effective settings per workflow version.
pub(crate) struct OrgInfo {
    pub org: Org,
    pub cal: Arc<BusinessCalendar>,
    settings: Mutex<HashMap<(String, u32), Settings>>,
}

impl OrgInfo {
    /// The organisation's settings over a definition's defaults.
    pub(crate) fn settings(&self, def: &Definition) -> Arc<Map<String, Value>> {
        let mut cache = match self.settings.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let key = (def.id.clone(), def.version);
        if let Some(s) = cache.get(&key) {
            return Arc::clone(s);
        }
        let s = Arc::new(step::settings_for(def, &self.org));
        cache.insert(key, Arc::clone(&s));
        s
    }
}

const CACHE_LIMIT: usize = 10_000;

pub(crate) struct Inner {
    /// Directory caches by connection slot.
    cache: Mutex<HashMap<usize, DirCache>>,
    db: Box<dyn Store>,
    registry: RwLock<Registry>,
    /// Workflow files not loaded because their meaning changed under a version that cases
    /// run on: the version and the problem, by workflow id.
    refused: HashMap<String, (u32, Problem)>,
    pub(crate) scripts: Scripts,
    clock: Arc<dyn Clock>,
    manual: Option<ManualClock>,
    pub(crate) hooks: RwLock<Vec<Consumer>>,
    delivery: DeliveryPolicy,
    path: Option<PathBuf>,
    operator_roles: Vec<String>,
    /// Counters of commands, firings and deliveries ([`Engine::metrics`]).
    pub(crate) metrics: Recorder,
    /// Who changes are recorded as in the audit log ([`Engine::actor`]).
    actor: RwLock<String>,
    /// How commands decided outside the writer fared (see `decide`).
    decided: decide::Counts,
}

/// The mentorflow runtime. Cheap to clone; clones share one database connection and may be
/// used from several threads (writes are serialised).
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("database", &self.inner.path)
            .finish()
    }
}

/// What to start: the workflow, the start action, the person, the organisation and the data.
#[derive(Debug, Clone, Default)]
pub struct Start {
    /// Workflow id.
    pub workflow: String,
    /// Start action (the default one when `None`).
    pub action: Option<String>,
    /// The person starting the case.
    pub actor: String,
    /// Organisation (the actor's when `None`).
    pub org: Option<String>,
    /// Initial field values.
    pub data: Map<String, Value>,
    /// Inputs of the start action.
    pub inputs: Map<String, Value>,
    /// A key naming this start: starting again with the same key (by the same person)
    /// returns the case the first start made instead of starting another; the same key with
    /// a different start is refused. Keys are kept for [`crate::auth::IDEMPOTENCY_WINDOW`].
    pub idempotency_key: Option<String>,
}

/// Options of [`Engine::act_with`].
#[derive(Debug, Clone, Default)]
pub struct ActOptions {
    /// Act only if the case is still at this revision (the one the person saw); otherwise
    /// [`Error::Conflict`].
    pub revision: Option<u64>,
    /// A key naming this command: the same key again (by the same person, for the same
    /// action, case and inputs) returns the case without acting twice; the same key with a
    /// different command is refused.
    pub idempotency_key: Option<String>,
}

/// One action of a batch ([`Engine::act_many`]).
#[derive(Debug, Clone, Default)]
pub struct Act {
    /// The case.
    pub case_id: i64,
    /// The action.
    pub action: String,
    /// The person acting.
    pub actor: String,
    /// The inputs.
    pub inputs: Map<String, Value>,
}

fn object(v: Value, what: &str) -> Result<Map<String, Value>> {
    match v {
        Value::Object(m) => Ok(m),
        Value::Null => Ok(Map::new()),
        other => Err(Error::validation(
            what,
            format!(
                "{what} must be a map of names to values, got {}",
                crate::definition::describe_value(&other)
            ),
        )),
    }
}

impl Engine {
    /// Start building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder {
            location: store::Location::SqliteMemory,
            open_existing: false,
            workflow_dirs: Vec::new(),
            workflow_files: Vec::new(),
            workflow_texts: Vec::new(),
            clock: None,
            manual: None,
            hooks: Vec::new(),
            delivery: DeliveryPolicy::default(),
            limits: Limits::default(),
            configure: Vec::new(),
            setting_defaults: Map::new(),
            operator_roles: vec![DEFAULT_OPERATOR_ROLE.to_owned()],
            actor: audit::default_actor(),
        }
    }

    /// Run `f` as one command: one write transaction, committed on `Ok`. A backend may run
    /// `f` again on a fresh transaction (a serialization failure or deadlock on a database
    /// server), so `f` acts only through the transaction it is given.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&dyn Tx) -> Result<T>) -> Result<T> {
        let mut out = None;
        self.inner.db.write(&mut |tx| {
            self.sync_cache(tx)?;
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| Error::storage("a write transaction returned nothing"))
    }

    /// Run `f` with read access (a consistent snapshot).
    pub(crate) fn read<T>(&self, mut f: impl FnMut(&dyn Tx) -> Result<T>) -> Result<T> {
        let mut out = None;
        self.inner.db.read(&mut |tx| {
            self.sync_cache(tx)?;
            out = Some(f(tx)?);
            Ok(())
        })?;
        out.ok_or_else(|| Error::storage("a read transaction returned nothing"))
    }

    /// Run `f` on the directory cache of a connection slot ([`DirectoryReads::cache_slot`]).
    fn dir_cache<T>(&self, slot: usize, f: impl FnOnce(&mut DirCache) -> T) -> T {
        let mut caches = match self.inner.cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(caches.entry(slot).or_default())
    }

    /// Drop the connection's cached people and organisations if another connection changed
    /// the database since it last looked (each connection has its own cache: a pooled
    /// reader's `PRAGMA data_version` moves when this engine's writer commits, the writer's
    /// only when another process does).
    pub(crate) fn sync_cache(&self, db: &dyn Tx) -> Result<()> {
        let v = db.data_version()?;
        self.dir_cache(db.cache_slot(), |c| {
            if c.data_version != v {
                c.people.clear();
                c.orgs.clear();
                c.data_version = v;
            }
        });
        Ok(())
    }

    fn clear_cache(&self) {
        let mut caches = match self.inner.cache.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        for c in caches.values_mut() {
            c.people.clear();
            c.orgs.clear();
        }
    }

    /// A person from the stored directory (cached).
    pub(crate) fn stored_person(
        &self,
        db: &dyn DirectoryReads,
        id: &str,
    ) -> Result<Option<Person>> {
        let slot = db.cache_slot();
        if let Some(p) = self.dir_cache(slot, |c| c.people.get(id).cloned()) {
            store::reads::record(|| store::reads::Read::Person(id.to_owned(), p.clone()));
            return Ok(p);
        }
        let p = db.person(id)?;
        self.dir_cache(slot, |c| {
            if c.people.len() >= CACHE_LIMIT {
                c.people.clear();
            }
            c.people.insert(id.to_owned(), p.clone());
        });
        Ok(p)
    }

    /// An organisation with its calendar (cached). An unknown organisation is UTC with no
    /// holidays and no settings.
    pub(crate) fn org_info(&self, db: &dyn Tx, id: &str) -> Result<Arc<OrgInfo>> {
        let slot = db.cache_slot();
        if let Some(o) = self.dir_cache(slot, |c| c.orgs.get(id).cloned()) {
            store::reads::record(|| store::reads::Read::Org(id.to_owned(), o.org.clone()));
            return Ok(o);
        }
        let org = db.get_org(id)?.unwrap_or_else(|| Org::new(id));
        store::reads::record(|| store::reads::Read::Org(id.to_owned(), org.clone()));
        let cal = Arc::new(org.calendar()?);
        let info = Arc::new(OrgInfo {
            org,
            cal,
            settings: Mutex::new(HashMap::new()),
        });
        self.dir_cache(slot, |c| {
            if c.orgs.len() >= CACHE_LIMIT {
                c.orgs.clear();
            }
            c.orgs.insert(id.to_owned(), Arc::clone(&info));
        });
        Ok(info)
    }

    /// The current time on the engine's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// The database file (`None` in memory).
    pub fn database_path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The script engine (limits, host functions).
    pub fn scripts(&self) -> &Scripts {
        &self.inner.scripts
    }

    /// Add a hook after building (used by bindings), named as [`EngineBuilder::hook`]
    /// names it; a name already taken gets a suffix (`smtp#2`). Returns the consumer name.
    pub fn add_hook(&self, hook: Arc<dyn Hook>) -> String {
        let mut hooks = self.hooks_mut();
        let name = outbox::free_name(&hooks, hook.name());
        hooks.push(Consumer {
            name: name.clone(),
            hook,
        });
        name
    }

    /// Add a hook after building under a consumer name (see [`EngineBuilder::hook_named`]);
    /// a name already taken, or not a valid name, is refused.
    pub fn add_named_hook(&self, name: &str, hook: Arc<dyn Hook>) -> Result<()> {
        crate::hooks::check_consumer_name(name)?;
        let mut hooks = self.hooks_mut();
        if hooks.iter().any(|c| c.name == name) {
            return Err(Error::validation(
                "hook",
                format!("a hook named `{name}` is already registered"),
            ));
        }
        hooks.push(Consumer {
            name: name.to_owned(),
            hook,
        });
        Ok(())
    }

    /// The consumer names of the registered hooks, in registration order.
    pub fn consumers(&self) -> Vec<String> {
        self.consumer_list().into_iter().map(|c| c.name).collect()
    }

    fn hooks_mut(&self) -> std::sync::RwLockWriteGuard<'_, Vec<Consumer>> {
        match self.inner.hooks.write() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    pub(crate) fn consumer_list(&self) -> Vec<Consumer> {
        match self.inner.hooks.read() {
            Ok(h) => h.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    pub(crate) fn hooks(&self) -> Vec<Arc<dyn Hook>> {
        self.consumer_list().into_iter().map(|c| c.hook).collect()
    }

    pub(crate) fn delivery_policy(&self) -> DeliveryPolicy {
        self.inner.delivery
    }

    // ---- definitions ------------------------------------------------------------------------

    /// The latest loaded version of every workflow, in load order.
    pub fn definitions(&self) -> Vec<Arc<Definition>> {
        let reg = self.registry();
        reg.order.iter().filter_map(|id| reg.latest(id)).collect()
    }

    /// The definition a case runs on: the version it was started on, even when a newer
    /// version is loaded.
    pub fn definition_of(&self, case: &Case) -> Result<Arc<Definition>> {
        self.read(|db| self.definition_at(db, &case.workflow, case.version))
    }

    /// The workflow files that were not loaded because their meaning changed under a version
    /// that cases run on (each problem says to give the file a new `version:`). Those cases
    /// keep running on the stored text; starting a case of that version is refused.
    pub fn refused_definitions(&self) -> Vec<Problem> {
        let mut out: Vec<Problem> = self
            .inner
            .refused
            .values()
            .map(|(_, p)| p.clone())
            .collect();
        out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        out
    }

    /// The problems of deploying these definitions into this engine's database, without
    /// deploying them: each definition whose meaning changed under a version that cases run
    /// on (what `mentorflow validate` reports when given a database).
    pub fn deploy_conflicts(&self, defs: &[Definition]) -> Result<Vec<Problem>> {
        Ok(self
            .read(|db| deploy_plan(db, defs))?
            .into_iter()
            .filter_map(|plan| match plan {
                Deploy::Refuse(p, _) => Some(p),
                _ => None,
            })
            .collect())
    }

    /// The latest version of a workflow, to start a case on. Refused (with the problem) when
    /// that version's file was not loaded (see [`Engine::refused_definitions`]).
    pub(crate) fn definition_to_start(&self, workflow: &str) -> Result<Arc<Definition>> {
        let def = self.definition(workflow);
        if let Some((version, problem)) = self.inner.refused.get(workflow) {
            if def.as_ref().map_or(true, |d| d.version <= *version) {
                return Err(Error::Definition {
                    problems: vec![problem.clone()],
                });
            }
        }
        def
    }

    /// The latest version of a workflow.
    pub fn definition(&self, workflow: &str) -> Result<Arc<Definition>> {
        self.registry().latest(workflow).ok_or_else(|| {
            let known: Vec<String> = self.registry().order.clone();
            Error::not_found_among("workflow", workflow, known.iter().map(String::as_str))
        })
    }

    fn registry(&self) -> std::sync::RwLockReadGuard<'_, Registry> {
        match self.inner.registry.read() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// A definition at a version: loaded, or compiled from the text stored when cases started.
    pub(crate) fn definition_at(
        &self,
        db: &dyn Tx,
        workflow: &str,
        version: u32,
    ) -> Result<Arc<Definition>> {
        if let Some(d) = self
            .registry()
            .defs
            .get(&(workflow.to_owned(), version))
            .cloned()
        {
            return Ok(d);
        }
        let stored = db
            .stored_definitions()?
            .into_iter()
            .find(|s| s.workflow == workflow && s.version == version)
            .ok_or_else(|| Error::not_found("workflow", format!("{workflow} v{version}")))?;
        let d = definition::load_str(&stored.source, &stored.file, &self.inner.scripts)?;
        let mut reg = match self.inner.registry.write() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        let d = Arc::new(reg.adjust(d));
        reg.defs
            .insert((workflow.to_owned(), version), Arc::clone(&d));
        Ok(d)
    }

    // ---- directory --------------------------------------------------------------------------

    /// Add a person, or change a stored one: what the change gives replaces the stored
    /// values, attributes are merged key by key (`null` removes one), and the rest is kept
    /// (see [`PersonPatch`]). A [`Person`] gives its `Some` name, email and organisation, its
    /// roles when it has any, and its attributes. Returns the person as stored. To store a
    /// record whole, use [`Engine::replace_person`].
    pub fn put_person(&self, change: impl Into<PersonPatch>) -> Result<Person> {
        let change = change.into();
        let r = self.write(|db| self.merge_person(db, &change));
        self.clear_cache();
        r
    }

    /// Add or change many people in one transaction, each as [`Engine::put_person`] does.
    pub fn put_people(&self, people: &[Person]) -> Result<()> {
        let r = self.write(|db| {
            for p in people {
                self.merge_person(db, &p.into())?;
            }
            Ok(())
        });
        self.clear_cache();
        r
    }

    /// Add a person, or replace a stored one whole (roles and attributes not given are gone).
    pub fn replace_person(&self, person: &Person) -> Result<()> {
        let r = self.write(|db| {
            let before = db.get_person(&person.id)?;
            db.put_person(person)?;
            let after = db.get_person(&person.id)?;
            self.audit_person(db, &person.id, before.as_ref(), after.as_ref())
        });
        self.clear_cache();
        r
    }

    /// A person from the stored directory or, failing that, a hook.
    pub fn person(&self, id: &str) -> Result<Person> {
        let found = self.read(|db| db.get_person(id))?;
        match found {
            Some(p) => Ok(p),
            None => self
                .hooks()
                .iter()
                .find_map(|h| h.person(id))
                .ok_or_else(|| Error::not_found("person", id)),
        }
    }

    /// The directory roles whose holders are operators ([`EngineBuilder::operator_roles`]).
    pub fn operator_roles(&self) -> &[String] {
        &self.inner.operator_roles
    }

    /// Whether this person holds one of the operator roles. An unknown person is not an
    /// operator (never an error, so a front end can ask for anyone it has signed in).
    pub fn is_operator(&self, person: &str) -> Result<bool> {
        match self.person(person) {
            Ok(p) => Ok(p
                .roles
                .iter()
                .any(|r| self.inner.operator_roles.iter().any(|o| o == r))),
            Err(Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// People, optionally of one organisation.
    pub fn people(&self, org: Option<&str>) -> Result<Vec<Person>> {
        self.read(|db| db.list_people(org))
    }

    /// Remove a person from the stored directory. Returns whether they existed.
    pub fn remove_person(&self, id: &str) -> Result<bool> {
        let r = self.write(|db| {
            let before = db.get_person(id)?;
            let removed = db.remove_person(id)?;
            if removed {
                self.audit_person(db, id, before.as_ref(), None)?;
            }
            Ok(removed)
        });
        self.clear_cache();
        r
    }

    /// Add an organisation, or change a stored one: what the change gives replaces the
    /// stored values, settings are merged key by key (`null` removes one), and the rest is
    /// kept (see [`OrgPatch`]). Settings are checked against every loaded workflow's
    /// `settings`: an unknown name or a wrong type is refused. Returns the organisation as
    /// stored. To store a record whole, use [`Engine::replace_org`].
    pub fn put_org(&self, change: impl Into<OrgPatch>) -> Result<Org> {
        let change = change.into();
        self.check_settings(&change.settings)?;
        let r = self.write(|db| self.merge_org(db, &change));
        self.clear_cache();
        r
    }

    /// Add an organisation, or replace a stored one whole. Its settings are checked as
    /// [`Engine::put_org`] checks them.
    pub fn replace_org(&self, org: &Org) -> Result<()> {
        self.check_settings(&org.settings)?;
        let r = self.write(|db| {
            let before = db.get_org(&org.id)?;
            db.put_org(org)?;
            let after = db.get_org(&org.id)?;
            self.audit_org(db, &org.id, before.as_ref(), after.as_ref())
        });
        self.clear_cache();
        r
    }

    fn check_settings(&self, settings: &Map<String, Value>) -> Result<()> {
        let defs = self.definitions();
        for (name, value) in settings {
            if name == WORKFLOWS_SETTING {
                check_workflows_setting(&defs, value)?;
                continue;
            }
            if name == INCIDENT_MAX_ATTEMPTS_SETTING {
                incidents::check_max_attempts_setting(value)?;
                continue;
            }
            if name == RETENTION_SETTING {
                if !value.is_null() {
                    retention::rule_of(value)?;
                }
                continue;
            }
            let declared: Vec<_> = defs.iter().filter_map(|d| d.setting(name)).collect();
            if declared.is_empty() {
                let mut known: Vec<String> = defs
                    .iter()
                    .flat_map(|d| d.settings.iter().map(|s| s.name.clone()))
                    .collect();
                known.sort();
                known.dedup();
                return Err(Error::validation(
                    format!("settings.{name}"),
                    format!(
                        "unknown setting `{name}`: no loaded workflow declares it (known: {})",
                        known.join(", ")
                    ),
                ));
            }
            for s in declared {
                if value.is_null() {
                    continue;
                }
                if let Err(e) = s.kind.normalize(value, None) {
                    return Err(Error::validation(
                        format!("settings.{name}"),
                        format!("setting `{name}` {e}"),
                    ));
                }
                if let Some(allowed) = &s.one_of {
                    if !allowed.contains(value) {
                        return Err(Error::validation(
                            format!("settings.{name}"),
                            format!(
                                "setting `{name}` must be one of {}",
                                Value::Array(allowed.clone())
                            ),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Add or change organisations and people together, in one transaction (imports), each
    /// as [`Engine::put_org`] and [`Engine::put_person`] do. All or nothing.
    pub fn put_directory(&self, orgs: &[OrgPatch], people: &[PersonPatch]) -> Result<()> {
        for o in orgs {
            self.check_settings(&o.settings)?;
        }
        let r = self.write(|db| {
            for o in orgs {
                self.merge_org(db, o)?;
            }
            for p in people {
                self.merge_person(db, p)?;
            }
            Ok(())
        });
        self.clear_cache();
        r
    }

    /// An organisation.
    pub fn org(&self, id: &str) -> Result<Org> {
        self.read(|db| db.get_org(id))?
            .ok_or_else(|| Error::not_found("organisation", id))
    }

    /// Every organisation.
    pub fn orgs(&self) -> Result<Vec<Org>> {
        self.read(|db| db.list_orgs())
    }

    /// Remove an organisation. Returns whether it existed.
    pub fn remove_org(&self, id: &str) -> Result<bool> {
        let r = self.write(|db| {
            let before = db.get_org(id)?;
            let removed = db.remove_org(id)?;
            if removed {
                self.audit_org(db, id, before.as_ref(), None)?;
            }
            Ok(removed)
        });
        self.clear_cache();
        r
    }

    // ---- commands -----------------------------------------------------------------------------

    /// Start a case with the named start action; the organisation is the actor's.
    pub fn start(&self, workflow: &str, action: &str, actor: &str, data: Value) -> Result<Case> {
        self.start_with(Start {
            workflow: workflow.to_owned(),
            action: Some(action.to_owned()),
            actor: actor.to_owned(),
            org: None,
            data: object(data, "data")?,
            inputs: Map::new(),
            idempotency_key: None,
        })
    }

    /// Start a case with every option.
    pub fn start_with(&self, start: Start) -> Result<Case> {
        let def = self.definition_to_start(&start.workflow)?;
        // built only when a key asks for it (it copies the case's data)
        let command = || {
            serde_json::json!([
                "start",
                start.workflow,
                start.action,
                start.org,
                start.data,
                start.inputs
            ])
        };
        let t = std::time::Instant::now();
        let case = self.decide_and_apply(
            &start.actor,
            start.idempotency_key.as_deref(),
            command,
            |db| step::decide_start(self, db, &def, &start),
        );
        let action = start.action.as_deref().unwrap_or_default();
        let case = self.observe(t, Command::Start, None, action, case)?;
        self.after_commit();
        Ok(case)
    }

    /// Run a command once per idempotency key (see [`ActOptions::idempotency_key`]), in the
    /// command's transaction.
    fn once(
        &self,
        db: &dyn Tx,
        actor: &str,
        key: Option<&str>,
        command: impl FnOnce() -> Value,
        run: impl FnOnce() -> Result<Case>,
    ) -> Result<Case> {
        let Some(key) = key else { return run() };
        if key.is_empty() || key.len() > 200 {
            return Err(Error::validation(
                "idempotency_key",
                "an idempotency key must be 1 to 200 characters",
            ));
        }
        let fp = crate::auth::fingerprint(&command());
        if let Some((stored, case_id)) = db.idempotency(actor, key)? {
            if stored != fp {
                return Err(Error::validation(
                    "idempotency_key",
                    format!("idempotency key `{key}` was already used for a different command"),
                ));
            }
            return step::get(self, db, case_id, Some(actor));
        }
        let case = run()?;
        db.remember_idempotency(actor, key, &fp, case.id, self.now())?;
        Ok(case)
    }

    /// Start many cases in one transaction (bulk loads). All or nothing.
    pub fn start_many(&self, starts: &[Start]) -> Result<Vec<Case>> {
        let t = std::time::Instant::now();
        let cases = self.write(|db| {
            let mut out = Vec::with_capacity(starts.len());
            for s in starts {
                let def = self.definition_to_start(&s.workflow)?;
                out.push(step::start(self, db, &def, s)?);
            }
            Ok(out)
        });
        let cases = self.observe(t, Command::Start, None, "start_many", cases)?;
        self.after_commit();
        Ok(cases)
    }

    /// Do an action on a case as a person.
    pub fn act(&self, case_id: i64, action: &str, actor: &str, inputs: Value) -> Result<Case> {
        let inputs = object(inputs, "inputs")?;
        let t = std::time::Instant::now();
        let case = self.decide_and_apply(actor, None, Value::default, |db| {
            step::decide_act(self, db, case_id, action, actor, inputs.clone(), None)
        });
        let case = self.observe(t, Command::Act, Some(case_id), action, case)?;
        self.after_commit();
        Ok(case)
    }

    /// Do many actions in one transaction (bulk work, imports). All or nothing: the first
    /// refusal or failure rolls every one of them back.
    pub fn act_many(&self, acts: &[Act]) -> Result<Vec<Case>> {
        let t = std::time::Instant::now();
        let cases = self.write(|db| {
            let mut out = Vec::with_capacity(acts.len());
            for a in acts {
                out.push(step::act(
                    self,
                    db,
                    a.case_id,
                    &a.action,
                    &a.actor,
                    a.inputs.clone(),
                    None,
                )?);
            }
            Ok(out)
        });
        let cases = self.observe(t, Command::Act, None, "act_many", cases)?;
        self.after_commit();
        Ok(cases)
    }

    /// Do an action only if the case is still at `revision` (optimistic concurrency for UIs
    /// that showed the person an older copy); otherwise [`Error::Conflict`].
    pub fn act_at(
        &self,
        case_id: i64,
        revision: u64,
        action: &str,
        actor: &str,
        inputs: Value,
    ) -> Result<Case> {
        let inputs = object(inputs, "inputs")?;
        let t = std::time::Instant::now();
        let case = self.decide_and_apply(actor, None, Value::default, |db| {
            step::decide_act(
                self,
                db,
                case_id,
                action,
                actor,
                inputs.clone(),
                Some(revision),
            )
        });
        let case = self.observe(t, Command::Act, Some(case_id), action, case)?;
        self.after_commit();
        Ok(case)
    }

    /// Do an action with options: the revision the person saw (optimistic concurrency) and an
    /// idempotency key (a double submit or a retried request acts once).
    pub fn act_with(
        &self,
        case_id: i64,
        action: &str,
        actor: &str,
        inputs: Value,
        options: &ActOptions,
    ) -> Result<Case> {
        let inputs = object(inputs, "inputs")?;
        let command = || serde_json::json!(["act", case_id, action, inputs]);
        let t = std::time::Instant::now();
        let case =
            self.decide_and_apply(actor, options.idempotency_key.as_deref(), command, |db| {
                step::decide_act(
                    self,
                    db,
                    case_id,
                    action,
                    actor,
                    inputs.clone(),
                    options.revision,
                )
            });
        let case = self.observe(t, Command::Act, Some(case_id), action, case)?;
        self.after_commit();
        Ok(case)
    }

    /// The actions a person may do on a case now (role, state and the guards that do not
    /// depend on inputs are checked).
    pub fn actions(&self, case_id: i64, actor: &str) -> Result<Vec<String>> {
        self.read(|db| step::available(self, db, case_id, actor))
    }

    /// A case. With an actor, only if that person may see it.
    pub fn get(&self, case_id: i64, actor: Option<&str>) -> Result<Case> {
        self.read(|db| step::get(self, db, case_id, actor))
    }

    /// A case's history, oldest first. With an actor, only if that person may see the case.
    pub fn history(&self, case_id: i64, actor: Option<&str>) -> Result<Vec<Event>> {
        self.read(|db| {
            step::get(self, db, case_id, actor)?;
            db.events(case_id)
        })
    }

    /// The notes of a case (from its history).
    pub fn notes(&self, case_id: i64, actor: Option<&str>) -> Result<Vec<(Event, String)>> {
        Ok(self
            .history(case_id, actor)?
            .into_iter()
            .flat_map(|e| {
                let notes: Vec<String> = e
                    .effects
                    .iter()
                    .filter_map(|f| match f {
                        Effect::Note { text } => Some(text.clone()),
                        _ => None,
                    })
                    .collect();
                notes.into_iter().map(move |n| (e.clone(), n))
            })
            .collect())
    }

    /// Cases matching a filter, newest first (administrative: no access check).
    pub fn cases(&self, filter: &CaseFilter) -> Result<Vec<Case>> {
        self.read(|db| views::cases(self, db, filter))
    }

    /// A named view for a viewer. `name` is `view` or `workflow.view`.
    pub fn view(&self, name: &str, viewer: &str) -> Result<Vec<Case>> {
        self.read(|db| views::view(self, db, name, viewer))
    }

    /// A page of a named view for a viewer: sorted, filtered by state and fields, with the
    /// total. The database does the paging: a page never loads the whole view.
    pub fn view_page(&self, name: &str, viewer: &str, query: &ViewQuery) -> Result<ViewPage> {
        self.read(|db| views::view_page(self, db, name, viewer, query))
    }

    /// The views a person would use (those of their roles), in load order.
    pub fn views_for(&self, viewer: &str) -> Result<Vec<ViewInfo>> {
        self.read(|db| views::views_for(self, db, viewer, false))
    }

    /// [`Engine::views_for`] with each view's count (a home page's boxes).
    pub fn view_counts(&self, viewer: &str) -> Result<Vec<ViewInfo>> {
        self.read(|db| views::views_for(self, db, viewer, true))
    }

    /// The start actions offered to a person, in load order: only those they could really
    /// use — their organisation uses the workflow, they hold a role the start is done by, and
    /// no guard of it that does not read inputs refuses them (see
    /// [`WORKFLOWS_SETTING`] and the `availability` rules in docs/serve.md).
    pub fn start_actions_for(&self, viewer: &str) -> Result<Vec<StartInfo>> {
        self.read(|db| availability::start_actions_for(self, db, viewer))
    }

    /// Every action of a case that a person holds a role for, in definition order, each
    /// possible now ([`ActionAvailability::available`], the same as [`Engine::actions`]) or
    /// with why not: the case's state (the action's `unavailable:` message) or a guard that
    /// does not read inputs (its message). A case the person may not see is
    /// [`Error::NotFound`].
    pub fn action_availability(
        &self,
        case_id: i64,
        actor: &str,
    ) -> Result<Vec<ActionAvailability>> {
        self.read(|db| availability::action_availability(self, db, case_id, actor))
    }

    /// The exports offered to a person: those of the workflows whose views they are offered
    /// ([`Engine::views_for`]). Reading one with [`Engine::export`] and the person gives only
    /// the cases they may see.
    pub fn exports_for(&self, viewer: &str) -> Result<Vec<ExportInfo>> {
        self.read(|db| availability::exports_for(self, db, viewer))
    }

    /// A named export over every organisation (administrative), or over what `actor` may see.
    pub fn export(&self, name: &str, actor: Option<&str>) -> Result<Table> {
        self.read(|db| views::export(self, db, name, actor))
    }

    // ---- time -------------------------------------------------------------------------------

    /// Fire every timer due now, then deliver pending notifications.
    pub fn tick(&self) -> Result<TickReport> {
        let mut report = sweep::sweep(self, self.now())?;
        report.add(self.deliver()?);
        Ok(report)
    }

    /// When the earliest pending timer, or the earliest retry of a failed delivery to one of
    /// this engine's hooks, is due (`None` when there is neither): a timer worker sleeps until
    /// then, or until a command schedules an earlier one.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        let consumers = self.consumers();
        let names: Vec<&str> = consumers.iter().map(String::as_str).collect();
        self.read(|db| {
            let timer = next_timer_or_incident(db)?;
            let retry = db.next_delivery_retry(&names)?;
            Ok(match (timer, retry) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            })
        })
    }

    /// Move a manual clock forward by a duration such as `"5 business days"` (on the UTC
    /// Monday–Friday calendar), firing every timer that falls due on the way, in due order.
    pub fn advance(&self, span: &str) -> Result<TickReport> {
        let span: Span = span
            .parse()
            .map_err(|e: crate::time::SpanError| Error::validation("span", e.to_string()))?;
        let target = BusinessCalendar::default().add(self.now(), span);
        self.advance_to(target)
    }

    /// Move a manual clock forward by an exact duration, firing what falls due.
    pub fn advance_by(&self, d: chrono::Duration) -> Result<TickReport> {
        let target = self.now() + d;
        self.advance_to(target)
    }

    /// Move a manual clock to an instant, firing what falls due on the way, in due order.
    pub fn advance_to(&self, target: DateTime<Utc>) -> Result<TickReport> {
        let Some(clock) = self.inner.manual.clone() else {
            return Err(Error::validation(
                "clock",
                "advance needs a manual clock (build the engine with .clock(ManualClock::at(...)))",
            ));
        };
        let mut report = TickReport::default();
        loop {
            let next = self.read(next_timer_or_incident)?;
            match next {
                Some(t) if t <= target => {
                    if t > clock.now() {
                        clock.set(t);
                    }
                    let r = sweep::sweep(self, clock.now())?;
                    // A sweep that fired nothing may still have moved on: stale timers
                    // dropped, firings skipped by a timer's `when`.
                    let progressed = r.fired > 0
                        || !r.failed.is_empty()
                        || self.read(next_timer_or_incident)? != Some(t);
                    report.add(r);
                    if !progressed {
                        break;
                    }
                }
                _ => break,
            }
        }
        if target > clock.now() {
            clock.set(target);
        }
        report.add(self.deliver()?);
        Ok(report)
    }

    // ---- outbox -------------------------------------------------------------------------------

    /// Notifications, filtered.
    pub fn notifications(&self, filter: &NotificationFilter) -> Result<Vec<Notification>> {
        self.read(|db| db.notifications(filter))
    }

    /// The pending timers of a case, soonest first, with what each does when it fires
    /// (administrative: no access check).
    pub fn timers(&self, case_id: i64) -> Result<Vec<PendingTimer>> {
        self.read(|db| {
            let case = step::get(self, db, case_id, None)?;
            let def = self.definition_at(db, &case.workflow, case.version)?;
            Ok(db
                .case_timers(case_id)?
                .into_iter()
                .map(|row| {
                    let declared = def
                        .state(&row.state)
                        .and_then(|s| s.timers.iter().find(|t| t.name == row.name));
                    PendingTimer {
                        action: declared.and_then(|t| t.action.clone()),
                        script: declared.is_some_and(|t| t.run.is_some()),
                        recurring: declared
                            .is_some_and(|t| matches!(t.schedule, definition::Schedule::Every(_))),
                        description: declared.and_then(|t| t.description.clone()),
                        name: row.name,
                        state: row.state,
                        due_at: row.due_at,
                        fired: row.fired,
                    }
                })
                .collect())
        })
    }

    /// The participants of a case with the time each was given the role, by role. With an
    /// actor, only if that person may see the case.
    pub fn participants(&self, case_id: i64, actor: Option<&str>) -> Result<Vec<Participant>> {
        self.read(|db| {
            step::get(self, db, case_id, actor)?;
            db.case_participants(case_id)
        })
    }

    /// The instant of the latest history event in the database (`None` when no case ever
    /// changed): a simulation resumes there with a manual clock, which may not start earlier.
    pub fn last_committed_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.read(|db| db.last_event_at())
    }

    /// What an operator checks: the schema version, the last committed instant, timers due
    /// longer ago than `grace` (no worker fired them) and the outbox backlog.
    pub fn health(&self, grace: chrono::Duration) -> Result<Health> {
        let now = self.now();
        self.read(|db| {
            // counts are never negative
            let n = |c: i64| u64::try_from(c).unwrap_or_default();
            let (backlog, failed) = db.outbox_backlog()?;
            Ok(Health {
                schema_version: db.schema_version()?,
                last_committed_at: db.last_event_at()?,
                now,
                next_due: db.next_due()?,
                overdue_timers: n(db.count_due_timers(now - grace)?),
                outbox_backlog: n(backlog),
                failed_deliveries: n(failed),
                dead_letters: n(db.dead_letters()?),
                open_incidents: n(db.open_incidents()?),
            })
        })
    }

    /// Signals, optionally of one case.
    pub fn signals(&self, case_id: Option<i64>) -> Result<Vec<Signal>> {
        self.read(|db| db.signals(case_id))
    }

    /// Acknowledge a notification (a host that pulls notifications marks them handled).
    pub fn ack(&self, id: i64) -> Result<()> {
        let now = self.now();
        if self.write(|db| db.ack(id, now))? {
            Ok(())
        } else {
            Err(Error::not_found("notification", id.to_string()))
        }
    }

    /// Deliver pending notifications, signals and events to the hooks.
    pub fn deliver(&self) -> Result<TickReport> {
        sweep::deliver(self)
    }

    /// The engine's metrics: its own counters (commands by outcome, the latency histogram,
    /// firings and deliveries) and the database's gauges (timers due and overdue, the outbox
    /// backlog and failures, dead letters, open incidents). See [`crate::metrics`].
    pub fn metrics(&self) -> Result<Metrics> {
        let now = self.now();
        let gauges = self.read(|db| {
            let n = |c: i64| u64::try_from(c).unwrap_or_default();
            let (backlog, failed) = db.outbox_backlog()?;
            Ok(Gauges {
                timers_due: n(db.count_due_timers(now)?),
                timers_overdue: n(db.count_due_timers(now - chrono::Duration::minutes(5))?),
                outbox_backlog: n(backlog),
                outbox_failed: n(failed),
                dead_letters: n(db.dead_letters()?),
                open_incidents: n(db.open_incidents()?),
            })
        })?;
        Ok(self.inner.metrics.snapshot(gauges))
    }

    /// Count and log one command's transaction (`started` before its `write`): its kind,
    /// outcome and latency. Returns the result as it was.
    pub(crate) fn observe<T: metrics_subject::Subject>(
        &self,
        started: std::time::Instant,
        command: Command,
        case: Option<i64>,
        action: &str,
        r: Result<T>,
    ) -> Result<T> {
        let case = case.or_else(|| r.as_ref().ok().and_then(|t| t.case_id()));
        self.inner
            .metrics
            .command(command, case, action, started.elapsed(), r.as_ref().err());
        r
    }

    fn after_commit(&self) {
        // Delivery problems are recorded on the outbox rows and retried by the next tick;
        // they never fail the command that already committed.
        let _ = self.deliver();
    }
}

mod metrics_subject {
    /// What a command returns, for its log line: the case it changed, if one.
    pub(crate) trait Subject {
        fn case_id(&self) -> Option<i64> {
            None
        }
    }
    impl Subject for super::Case {
        fn case_id(&self) -> Option<i64> {
            Some(self.id)
        }
    }
    impl Subject for Vec<super::Case> {}
    impl Subject for super::CaseReassignment {
        fn case_id(&self) -> Option<i64> {
            Some(self.case)
        }
    }
}

/// What deploying one definition does.
enum Deploy {
    /// The stored text is the same: nothing to write.
    Same,
    /// New, or changed without cases on it, or changed in form only: store the text.
    Store,
    /// Changed in meaning under a version that cases run on: not loaded.
    Refuse(Problem, store::StoredDefinition),
}

/// Decide what deploying each definition does. Versions are compared by meaning: the parsed
/// YAML data, so comments, formatting, quoting and key order do not matter.
fn deploy_plan(db: &dyn Tx, defs: &[Definition]) -> Result<Vec<Deploy>> {
    let stored = db.stored_definitions()?;
    let mut out = Vec::with_capacity(defs.len());
    for d in defs {
        let plan = match stored
            .iter()
            .find(|s| s.workflow == d.id && s.version == d.version)
        {
            None => Deploy::Store,
            Some(s) if s.hash == d.hash => Deploy::Same,
            Some(s) => match meaning_change(&s.source, &d.source) {
                None => Deploy::Store,
                Some(changed) => {
                    let running = db.count_cases_of(&d.id, d.version)?;
                    if running == 0 {
                        Deploy::Store
                    } else {
                        let pos = d.spans.nearest("version");
                        let (cases, those) = if running == 1 {
                            ("case", "that case keeps")
                        } else {
                            ("cases", "those cases keep")
                        };
                        let problem = Problem {
                            file: d.file.clone(),
                            line: pos.line,
                            column: pos.column,
                            path: "version".into(),
                            message: format!(
                                "workflow `{id}` version {v} changed ({changed}) since {running} {cases} started on it, so this file was not loaded: {those} running on the stored version {v}. To deploy the change, give the file a new version (`version: {next}`); both then run side by side",
                                id = d.id,
                                v = d.version,
                                next = d.version + 1,
                            ),
                        };
                        Deploy::Refuse(problem, s.clone())
                    }
                }
            },
        };
        out.push(plan);
    }
    Ok(out)
}

/// Where the meaning of a workflow text changed (`at `path``), or `None` when both parse
/// to the same data.
fn meaning_change(old: &str, new: &str) -> Option<String> {
    let (Ok((a, _)), Ok((b, _))) = (crate::yaml::parse(old), crate::yaml::parse(new)) else {
        return Some("its text no longer parses the same".into());
    };
    first_difference(&a, &b, "").map(|path| {
        if path.is_empty() {
            "the whole text".to_owned()
        } else {
            format!("at `{path}`")
        }
    })
}

/// The path of the first place two values differ (map key order does not matter).
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_owned()
        } else {
            format!("{path}.{k}")
        }
    };
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => {
                        if let Some(p) = first_difference(v, w, &join(k)) {
                            return Some(p);
                        }
                    }
                    None => return Some(join(k)),
                }
            }
            y.keys().find(|k| !x.contains_key(*k)).map(|k| join(k))
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (v, w))| first_difference(v, w, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(path.to_owned()),
    }
}

impl Engine {
    /// Apply a person change over the stored one, inside a write transaction, with its audit
    /// entry.
    fn merge_person(&self, db: &dyn Tx, change: &PersonPatch) -> Result<Person> {
        let before = db.get_person(&change.id)?;
        let person = change.apply(before.clone());
        db.put_person(&person)?;
        let after = db.get_person(&change.id)?;
        self.audit_person(db, &change.id, before.as_ref(), after.as_ref())?;
        Ok(person)
    }

    /// Apply an organisation change over the stored one, inside a write transaction, with
    /// its audit entry.
    fn merge_org(&self, db: &dyn Tx, change: &OrgPatch) -> Result<Org> {
        let before = db.get_org(&change.id)?;
        let org = change.apply(before.clone());
        db.put_org(&org)?;
        let after = db.get_org(&change.id)?;
        self.audit_org(db, &change.id, before.as_ref(), after.as_ref())?;
        Ok(org)
    }
}

/// Time never runs backwards in a database: a manual clock that starts before the latest
/// history event would stamp later events before earlier ones. (The system clock is not
/// checked: a database written by a simulation may hold events in the future.)
fn refuse_clock_before_last_event(
    db: &dyn Tx,
    start: DateTime<Utc>,
    path: Option<&Path>,
) -> Result<()> {
    match db.last_event_at()? {
        Some(last) if start < last => {
            let at = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
            Err(Error::validation(
                "clock",
                format!(
                    "the manual clock starts at {}, before the last committed event in {} ({}); time cannot run backwards: start the clock at or after {}",
                    at(start),
                    path.map_or_else(|| "the database".to_owned(), |p| p.display().to_string()),
                    at(last),
                    at(last)
                ),
            ))
        }
        _ => Ok(()),
    }
}

/// The earliest pending timer or automatic incident retry.
fn next_timer_or_incident(db: &dyn Tx) -> Result<Option<DateTime<Utc>>> {
    let timer = db.next_due()?;
    let incident = db.next_incident_retry()?;
    Ok(match (timer, incident) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    })
}

/// The engine's own organisation setting [`WORKFLOWS_SETTING`]: a list of loaded workflow
/// ids (or `null` to remove it).
fn check_workflows_setting(defs: &[Arc<Definition>], value: &Value) -> Result<()> {
    let field = format!("settings.{WORKFLOWS_SETTING}");
    if value.is_null() {
        return Ok(());
    }
    let Some(list) = value.as_array() else {
        return Err(Error::validation(
            field,
            format!("setting `{WORKFLOWS_SETTING}` must be a list of workflow ids"),
        ));
    };
    for v in list {
        let Some(id) = v.as_str() else {
            return Err(Error::validation(
                field,
                format!("setting `{WORKFLOWS_SETTING}` must be a list of workflow ids, not {v}"),
            ));
        };
        if !defs.iter().any(|d| d.id == id) {
            let known: Vec<&str> = defs.iter().map(|d| d.id.as_str()).collect();
            return Err(Error::validation(
                field,
                format!(
                    "setting `{WORKFLOWS_SETTING}`: no loaded workflow `{id}`{} (loaded: {})",
                    crate::suggest::did_you_mean(id, known.iter().copied()),
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}
