//! `mentorflow.Engine` and its directory accessors `engine.people` and `engine.orgs`.
//!
//! Each method checks its arguments, calls the core with the GIL released, and converts the
//! result. The core engine is `Clone + Send + Sync`, so one `Engine` serves many threads.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use mentorflow::{CaseFilter, LimitValue, NotificationFilter, Start};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyString};
use serde_json::{Map, Value};

use crate::convert::{self, Types};
use crate::errors::{new_error, to_py_err};
use crate::hooks::{self, Kind, PyHook};
use crate::values::{self, result_list, wrap, PyEvent, PyNotification, PyOrg, PyPerson};

/// Run a core call with the GIL released and map its error.
pub(crate) fn detached<T: Send>(
    py: Python<'_>,
    f: impl FnOnce() -> mentorflow::Result<T> + Send,
) -> PyResult<T> {
    hooks::check_not_in_script()?;
    py.detach(f).map_err(|e| to_py_err(py, e))
}

type TypeMap = Arc<HashMap<String, Arc<Types>>>;

/// The core engine shared by an `Engine` and its `people`/`orgs`: `None` once closed.
#[derive(Clone)]
pub(crate) struct Handle(Arc<HandleInner>);

struct HandleInner {
    core: RwLock<Option<mentorflow::Engine>>,
    read_only: bool,
}

impl Handle {
    fn new(core: mentorflow::Engine, read_only: bool) -> Self {
        Handle(Arc::new(HandleInner {
            core: RwLock::new(Some(core)),
            read_only,
        }))
    }

    /// The open engine (a cheap clone), or the error every call on a closed engine raises.
    fn get(&self, py: Python<'_>) -> PyResult<mentorflow::Engine> {
        let guard = self.0.core.read().unwrap_or_else(PoisonError::into_inner);
        guard.clone().ok_or_else(|| {
            new_error(
                py,
                "Error",
                "closed",
                "the engine is closed (Engine.close() was called, or its with block ended); open a new mentorflow.Engine",
                &[],
            )
        })
    }

    /// The open engine for a call that changes the database: refused on a read-only engine.
    fn writable(&self, py: Python<'_>, what: &str) -> PyResult<mentorflow::Engine> {
        let core = self.get(py)?;
        if self.0.read_only {
            return Err(new_error(
                py,
                "StorageError",
                "storage",
                &format!(
                    "the engine was opened read-only (read_only=True): {what} would change the database; open it without read_only to write"
                ),
                &[],
            ));
        }
        Ok(core)
    }

    fn is_closed(&self) -> bool {
        self.0
            .core
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_none()
    }

    /// Drop this handle's engine; the database closes when calls still running finish.
    fn close(&self) {
        let old = self
            .0
            .core
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(old);
    }
}

/// The mentorflow runtime over one SQLite database (or memory).
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Engine")]
pub(crate) struct PyEngine {
    handle: Handle,
    types: TypeMap,
    manual: bool,
    read_only: bool,
    path: Option<String>,
    workflows: Vec<String>,
}

/// `read_only=True`: the SQLite URI that opens `path` read-only (`mode=ro` never creates
/// a file). The path is made absolute and the characters a URI reserves are escaped.
fn read_only_uri(path: &Path) -> std::io::Result<PathBuf> {
    let abs = std::path::absolute(path)?;
    let mut uri = String::from("file:");
    for c in abs.to_string_lossy().chars() {
        match c {
            '%' => uri.push_str("%25"),
            '?' => uri.push_str("%3f"),
            '#' => uri.push_str("%23"),
            c => uri.push(c),
        }
    }
    uri.push_str("?mode=ro");
    Ok(PathBuf::from(uri))
}

impl PyEngine {
    fn core(&self, py: Python<'_>) -> PyResult<mentorflow::Engine> {
        self.handle.get(py)
    }

    fn writable(&self, py: Python<'_>, what: &str) -> PyResult<mentorflow::Engine> {
        self.handle.writable(py, what)
    }

    /// `advance` moves a manual clock only: say how to get one in Python.
    fn need_manual_clock(&self, py: Python<'_>, call: &str) -> PyResult<()> {
        if self.manual {
            return Ok(());
        }
        Err(new_error(
            py,
            "ValidationError",
            "validation",
            &format!(
                "{call}() needs a manual clock: open the engine with now=, e.g. mentorflow.Engine(path, workflows=..., now=datetime(2026, 1, 5, 9, tzinfo=timezone.utc)); on the system clock call tick() to fire what is due"
            ),
            &[("field", "clock")],
        ))
    }

    fn types(&self, workflow: &str) -> Arc<Types> {
        self.types.get(workflow).cloned().unwrap_or_default()
    }

    fn case<'py>(&self, py: Python<'py>, c: mentorflow::Case) -> PyResult<Bound<'py, PyAny>> {
        let t = self.types(&c.workflow);
        values::case(py, c, t)
    }

    fn case_list<'py>(
        &self,
        py: Python<'py>,
        cases: Vec<mentorflow::Case>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let items = cases
            .into_iter()
            .map(|c| self.case(py, c))
            .collect::<PyResult<Vec<_>>>()?;
        result_list(py, "CaseList", items)
    }

    fn add_hook(
        &self,
        py: Python<'_>,
        kind: Kind,
        callback: Bound<'_, PyAny>,
        name: Option<String>,
    ) -> PyResult<()> {
        if !callback.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "{} needs a callable, got {}",
                match kind {
                    Kind::Notification => "on_notification",
                    Kind::Signal => "on_signal",
                    Kind::Event => "on_event",
                },
                convert::type_name(&callback)
            )));
        }
        let hook = Arc::new(PyHook {
            kind,
            callback: callback.unbind(),
            types: Arc::clone(&self.types),
        });
        let core = &self.core(py)?;
        match name {
            Some(name) => detached(py, || core.add_named_hook(&name, hook)),
            None => {
                py.detach(|| core.add_hook(hook));
                Ok(())
            }
        }
    }
}

/// `limits={...}`: the defaults with the given limits changed. Unknown names and values that
/// are not whole numbers (seconds for `max_run_time`) are refused, naming the limit.
fn sandbox_limits(obj: Option<&Bound<'_, PyAny>>) -> PyResult<mentorflow::Limits> {
    let mut limits = mentorflow::Limits::default();
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(limits);
    };
    let dict = obj.cast::<PyDict>().map_err(|_| {
        PyTypeError::new_err(format!(
            "limits must be a dict, got {}",
            convert::type_name(obj)
        ))
    })?;
    for (key, value) in dict.iter() {
        let name: String = key
            .extract()
            .map_err(|_| PyTypeError::new_err("limits: names must be strings"))?;
        let is_bool = value.is_instance_of::<pyo3::types::PyBool>();
        let parsed = match limits.get(&name) {
            Some(LimitValue::Count(_)) if is_bool => {
                return Err(PyTypeError::new_err(format!(
                    "limits.{name} must be a whole number, got bool"
                )))
            }
            Some(LimitValue::Count(_)) => {
                LimitValue::Count(value.extract::<u64>().map_err(|_| {
                    PyValueError::new_err(format!(
                        "limits.{name} must be a whole number of 0 or more, got {}",
                        value.repr().map_or_else(|_| "?".into(), |r| r.to_string())
                    ))
                })?)
            }
            Some(LimitValue::Time(_)) => {
                let seconds = if value.hasattr("total_seconds")? {
                    value.call_method0("total_seconds")?.extract::<f64>()?
                } else {
                    value
                        .extract::<f64>()
                        .ok()
                        .filter(|_| !is_bool)
                        .ok_or_else(|| {
                            PyTypeError::new_err(format!(
                                "limits.{name} must be seconds or a timedelta, got {}",
                                convert::type_name(&value)
                            ))
                        })?
                };
                LimitValue::Time(
                    std::time::Duration::try_from_secs_f64(seconds).map_err(|_| {
                        PyValueError::new_err(format!(
                            "limits.{name} must be 0 or more seconds, got {seconds}"
                        ))
                    })?,
                )
            }
            None => {
                return Err(PyValueError::new_err(format!(
                    "limits: unknown limit {name:?} (known: {})",
                    mentorflow::Limits::NAMES.join(", ")
                )))
            }
        };
        limits.set(&name, parsed).map_err(PyValueError::new_err)?;
    }
    Ok(limits)
}

fn paths(obj: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if obj.is_instance_of::<PyString>() || obj.hasattr("__fspath__")? {
        return Ok(vec![obj.extract::<PathBuf>()?]);
    }
    let mut out = Vec::new();
    for item in obj.try_iter().map_err(|_| {
        PyTypeError::new_err(format!(
            "workflows must be a folder, a file, or a list of them, got {}",
            convert::type_name(obj)
        ))
    })? {
        out.push(item?.extract::<PathBuf>()?);
    }
    Ok(out)
}

#[pymethods]
impl PyEngine {
    #[new]
    #[pyo3(signature = (path, *, workflows, now = None, limits = None, read_only = false, actor = None))]
    fn new(
        py: Python<'_>,
        path: PathBuf,
        workflows: &Bound<'_, PyAny>,
        now: Option<&Bound<'_, PyAny>>,
        limits: Option<&Bound<'_, PyAny>>,
        read_only: bool,
        actor: Option<String>,
    ) -> PyResult<Self> {
        let shown = (path.as_os_str() != ":memory:").then(|| path.to_string_lossy().into_owned());
        let database = if read_only {
            if shown.is_none() {
                return Err(PyValueError::new_err(
                    "read_only=True needs a database file, not \":memory:\"",
                ));
            }
            if !path.is_file() {
                return Err(new_error(
                    py,
                    "NotFound",
                    "not_found",
                    &format!(
                        "no database file {} (read_only=True opens an existing file and never creates one)",
                        path.display()
                    ),
                    &[("kind", "database"), ("id", &path.to_string_lossy())],
                ));
            }
            read_only_uri(&path).map_err(|e| {
                PyValueError::new_err(format!("cannot resolve {}: {e}", path.display()))
            })?
        } else {
            path
        };
        let sources = paths(workflows)?;
        let limits = sandbox_limits(limits)?;
        let start = match now {
            Some(t) if !t.is_none() => Some(convert::instant(t, "now")?),
            _ => None,
        };
        // Loading compiles every script and opens (maybe migrates) the database.
        let core = detached(py, || {
            let mut builder = mentorflow::Engine::builder()
                .database(&database)
                .limits(limits);
            for p in sources {
                let yaml = p.extension().is_some_and(|x| {
                    x.eq_ignore_ascii_case("yaml") || x.eq_ignore_ascii_case("yml")
                });
                builder = if p.is_file() || (yaml && !p.exists()) {
                    builder.workflow_file(p)
                } else {
                    builder.workflows_dir(p)
                };
            }
            if let Some(t) = start {
                builder = builder.clock(mentorflow::ManualClock::at(t));
            }
            if let Some(a) = actor {
                builder = builder.actor(a);
            }
            builder.build()
        })?;
        let manual = start.is_some();
        let types = core
            .definitions()
            .iter()
            .map(|d| (d.id.clone(), Arc::new(Types::of(d))))
            .collect();
        let workflows = core.definitions().iter().map(|d| d.id.clone()).collect();
        let path = shown.filter(|_| core.database_path().is_some());
        Ok(PyEngine {
            handle: Handle::new(core, read_only),
            types: Arc::new(types),
            manual,
            read_only,
            path,
            workflows,
        })
    }

    /// Close the engine: the database is released (once calls still running in other
    /// threads finish) and every later call raises `mentorflow.Error` (code `closed`).
    /// Closing twice is allowed.
    fn close(&self) {
        self.handle.close();
    }

    /// Whether `close()` was called (or the engine's `with` block ended).
    #[getter]
    fn closed(&self) -> bool {
        self.handle.is_closed()
    }

    fn __enter__(slf: Bound<'_, Self>) -> PyResult<Bound<'_, Self>> {
        slf.get().core(slf.py())?;
        Ok(slf)
    }

    #[pyo3(signature = (*_exc))]
    fn __exit__(&self, _exc: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.handle.close();
        false
    }

    /// Whether the engine was opened with `read_only=True` (every write raises `StorageError`).
    #[getter]
    fn read_only(&self) -> bool {
        self.read_only
    }

    /// The instant of the latest committed history event in the database (aware, UTC), or
    /// `None` when no case ever changed: a simulation resumes there with `now=`.
    #[getter]
    fn last_committed_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = self.core(py)?;
        let t = detached(py, || core.last_committed_at())?;
        convert::py_opt_instant(py, &t)
    }

    /// The pending timers of a case, soonest first (administrative: no access check).
    fn timers<'py>(&self, py: Python<'py>, case_id: i64) -> PyResult<Bound<'py, PyList>> {
        let core = self.core(py)?;
        let list = detached(py, || core.timers(case_id))?;
        PyList::new(py, list.into_iter().map(|t| values::PyTimer { t }))
    }

    /// The participants of a case with their roles and since when; with `actor`, only if
    /// that person may see the case.
    #[pyo3(signature = (case_id, *, actor = None))]
    fn participants<'py>(
        &self,
        py: Python<'py>,
        case_id: i64,
        actor: Option<String>,
    ) -> PyResult<Bound<'py, PyList>> {
        let core = self.core(py)?;
        let list = detached(py, || core.participants(case_id, actor.as_deref()))?;
        PyList::new(py, list.into_iter().map(|p| values::PyParticipant { p }))
    }

    /// The current time on the engine's clock (aware, UTC).
    #[getter]
    fn now<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        convert::py_instant(py, &self.core(py)?.now())
    }

    /// Whether the clock is manual (the engine was built with `now=`).
    #[getter]
    fn manual_clock(&self) -> bool {
        self.manual
    }

    /// The database file, or `None` in memory.
    #[getter]
    fn path(&self) -> Option<String> {
        self.path.clone()
    }

    /// The sandbox limits in force, as a dict (`max_run_time` in seconds).
    #[getter]
    fn limits<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let core = self.core(py)?;
        let limits = core.scripts().limits();
        let d = PyDict::new(py);
        for name in mentorflow::Limits::NAMES {
            match limits.get(name) {
                Some(LimitValue::Count(n)) => d.set_item(name, n)?,
                Some(LimitValue::Time(t)) => d.set_item(name, t.as_secs_f64())?,
                None => {}
            }
        }
        Ok(d)
    }

    /// The loaded workflow ids, in load order.
    #[getter]
    fn workflows(&self) -> Vec<String> {
        self.workflows.clone()
    }

    /// The people of the directory.
    #[getter]
    fn people(&self, py: Python<'_>) -> PyResult<People> {
        self.core(py)?;
        Ok(People {
            handle: self.handle.clone(),
        })
    }

    /// The organisations of the directory.
    #[getter]
    fn orgs(&self, py: Python<'_>) -> PyResult<Orgs> {
        self.core(py)?;
        Ok(Orgs {
            handle: self.handle.clone(),
        })
    }

    /// Start a case.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (workflow, *, actor, data = None, inputs = None, org = None, action = None))]
    fn start<'py>(
        &self,
        py: Python<'py>,
        workflow: String,
        actor: String,
        data: Option<&Bound<'py, PyAny>>,
        inputs: Option<&Bound<'py, PyAny>>,
        org: Option<String>,
        action: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let start = Start {
            workflow,
            action,
            actor,
            org,
            data: convert::to_map(data, "data")?,
            inputs: convert::to_map(inputs, "inputs")?,
            idempotency_key: None,
        };
        let core = &self.writable(py, "start()")?;
        let case = detached(py, || core.start_with(start))?;
        self.case(py, case)
    }

    /// Do an action on a case.
    #[pyo3(signature = (case_id, action, *, actor, inputs = None, revision = None))]
    fn act<'py>(
        &self,
        py: Python<'py>,
        case_id: i64,
        action: String,
        actor: String,
        inputs: Option<&Bound<'py, PyAny>>,
        revision: Option<u64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let inputs = Value::Object(convert::to_map(inputs, "inputs")?);
        let core = &self.writable(py, "act()")?;
        let case = detached(py, || match revision {
            Some(r) => core.act_at(case_id, r, &action, &actor, inputs),
            None => core.act(case_id, &action, &actor, inputs),
        })?;
        self.case(py, case)
    }

    /// The actions a person may do on a case now.
    #[pyo3(signature = (case_id, *, actor))]
    fn actions(&self, py: Python<'_>, case_id: i64, actor: String) -> PyResult<Vec<String>> {
        let core = &self.core(py)?;
        detached(py, || core.actions(case_id, &actor))
    }

    /// A case; with `actor`, only if that person may see it.
    #[pyo3(signature = (case_id, *, actor = None))]
    fn get<'py>(
        &self,
        py: Python<'py>,
        case_id: i64,
        actor: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.core(py)?;
        let case = detached(py, || core.get(case_id, actor.as_deref()))?;
        self.case(py, case)
    }

    /// Replay the recorded history of the workflow's cases (or of `cases`) against its
    /// definition `version` on a scratch engine; a dict shaped like `mentorflow --json
    /// replay`. Nothing in the database changes.
    #[pyo3(signature = (workflow, version, *, cases = None))]
    fn replay<'py>(
        &self,
        py: Python<'py>,
        workflow: String,
        version: u32,
        cases: Option<Vec<i64>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.core(py)?;
        let r = detached(py, || core.replay(&workflow, version, cases.as_deref()))?;
        crate::authoring::report(py, serde_json::to_value(&r))
    }

    /// Migrate the open cases of a plan's `from` version to its `to` version by the
    /// migration plan file `plan`, each case in its own transaction (or, with `dry_run`,
    /// only say what would change); a dict shaped like `mentorflow --json migrate`. A plan
    /// with problems raises DefinitionError (every problem with file, line and column) and
    /// changes nothing; a case that cannot move is `refused` in the report.
    #[pyo3(signature = (plan, *, dry_run = false, cases = None))]
    fn migrate<'py>(
        &self,
        py: Python<'py>,
        plan: PathBuf,
        dry_run: bool,
        cases: Option<Vec<i64>>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &if dry_run {
            self.core(py)?
        } else {
            self.writable(py, "migrate()")?
        };
        let options = mentorflow::MigrateOptions { dry_run, cases };
        let r = detached(py, || {
            let plan = mentorflow::MigrationPlan::load(&plan)?;
            core.migrate(&plan, &options)
        })?;
        crate::authoring::report(py, serde_json::to_value(&r))
    }

    /// A case's history, oldest first.
    #[pyo3(signature = (case_id, *, actor = None))]
    fn history<'py>(
        &self,
        py: Python<'py>,
        case_id: i64,
        actor: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.core(py)?;
        let (case, events) = detached(py, || {
            let case = core.get(case_id, actor.as_deref())?;
            Ok((case, core.history(case_id, actor.as_deref())?))
        })?;
        let types = self.types(&case.workflow);
        let items = events
            .into_iter()
            .map(|event| {
                wrap(
                    py,
                    PyEvent {
                        event,
                        types: Arc::clone(&types),
                    },
                )
            })
            .collect::<PyResult<Vec<_>>>()?;
        result_list(py, "EventList", items)
    }

    /// Notifications from the outbox, oldest first.
    #[pyo3(signature = (case_id = None, *, to = None, pending = false))]
    fn notifications<'py>(
        &self,
        py: Python<'py>,
        case_id: Option<i64>,
        to: Option<String>,
        pending: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = NotificationFilter {
            case_id,
            to,
            pending,
        };
        let core = &self.core(py)?;
        let list = detached(py, || core.notifications(&filter))?;
        let items = list
            .into_iter()
            .map(|n| wrap(py, PyNotification { n }))
            .collect::<PyResult<Vec<_>>>()?;
        result_list(py, "NotificationList", items)
    }

    /// Signals from the outbox, oldest first.
    #[pyo3(signature = (case_id = None))]
    fn signals<'py>(&self, py: Python<'py>, case_id: Option<i64>) -> PyResult<Bound<'py, PyList>> {
        let core = &self.core(py)?;
        let list = detached(py, || core.signals(case_id))?;
        let items = list
            .into_iter()
            .map(|s| wrap(py, values::PySignal { s }))
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Mark a notification handled (hosts that pull notifications).
    fn ack(&self, py: Python<'_>, notification_id: i64) -> PyResult<()> {
        let core = &self.writable(py, "ack()")?;
        detached(py, || core.ack(notification_id))
    }

    /// Delivery records of consumers that failed (one outbox row to one consumer): by
    /// default those being retried and the dead letters, as plain dicts.
    #[pyo3(signature = (status = None, *, consumer = None, case_id = None, outbox_id = None, all = false, limit = None))]
    #[allow(clippy::too_many_arguments)]
    fn deliveries<'py>(
        &self,
        py: Python<'py>,
        status: Option<String>,
        consumer: Option<String>,
        case_id: Option<i64>,
        outbox_id: Option<i64>,
        all: bool,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let status = match status {
            Some(s) => Some(mentorflow::DeliveryStatus::parse(&s).map_err(|e| to_py_err(py, e))?),
            None => None,
        };
        let filter = mentorflow::DeliveryFilter {
            status,
            all,
            consumer,
            outbox_id,
            case_id,
            limit,
        };
        let core = &self.core(py)?;
        let list = detached(py, || core.deliveries(&filter))?;
        let out = PyList::empty(py);
        for d in list {
            let m = PyDict::new(py);
            m.set_item("outbox_id", d.outbox_id)?;
            m.set_item("consumer", &d.consumer)?;
            m.set_item("kind", &d.kind)?;
            m.set_item("case_id", d.case_id)?;
            m.set_item("to", &d.to)?;
            m.set_item("template", &d.template)?;
            m.set_item("status", d.status.as_str())?;
            m.set_item("attempts", d.attempts)?;
            m.set_item("last_error", &d.last_error)?;
            m.set_item(
                "first_failed_at",
                convert::py_opt_instant(py, &d.first_failed_at)?,
            )?;
            m.set_item(
                "last_attempt_at",
                convert::py_opt_instant(py, &d.last_attempt_at)?,
            )?;
            m.set_item(
                "next_attempt_at",
                convert::py_opt_instant(py, &d.next_attempt_at)?,
            )?;
            m.set_item(
                "delivered_at",
                convert::py_opt_instant(py, &d.delivered_at)?,
            )?;
            out.append(m)?;
        }
        Ok(out)
    }

    /// Retry an outbox row's failed, dead or dropped deliveries now (of one consumer or
    /// all); returns how many were put back.
    #[pyo3(signature = (outbox_id, consumer = None))]
    fn retry_delivery(
        &self,
        py: Python<'_>,
        outbox_id: i64,
        consumer: Option<String>,
    ) -> PyResult<usize> {
        let core = &self.writable(py, "retry_delivery()")?;
        detached(py, || core.retry_delivery(outbox_id, consumer.as_deref()))
    }

    /// Give up an outbox row's deliveries that are not done (of one consumer or all);
    /// returns how many were dropped.
    #[pyo3(signature = (outbox_id, consumer = None))]
    fn drop_delivery(
        &self,
        py: Python<'_>,
        outbox_id: i64,
        consumer: Option<String>,
    ) -> PyResult<usize> {
        let core = &self.writable(py, "drop_delivery()")?;
        detached(py, || core.drop_delivery(outbox_id, consumer.as_deref()))
    }

    /// Timer firings that failed (incidents), oldest first: by default the open ones, as
    /// plain dicts.
    #[pyo3(signature = (status = None, *, case_id = None, all = false, limit = None))]
    fn incidents<'py>(
        &self,
        py: Python<'py>,
        status: Option<String>,
        case_id: Option<i64>,
        all: bool,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let status = match status {
            Some(s) => Some(
                s.parse::<mentorflow::IncidentStatus>()
                    .map_err(PyValueError::new_err)?,
            ),
            None => None,
        };
        let filter = mentorflow::IncidentFilter {
            status,
            all,
            case_id,
            limit,
        };
        let core = &self.core(py)?;
        let list = detached(py, || core.incidents(&filter))?;
        let out = PyList::empty(py);
        for i in &list {
            out.append(incident_dict(py, i)?)?;
        }
        Ok(out)
    }

    /// Fire an open incident's timer again now; the incident afterwards (resolved, or still
    /// open with the new error). With `operator`, that person must hold an operator role and
    /// is recorded.
    #[pyo3(signature = (incident_id, *, operator = None))]
    fn retry_incident<'py>(
        &self,
        py: Python<'py>,
        incident_id: i64,
        operator: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let core = &self.writable(py, "retry_incident()")?;
        let i = detached(py, || match &operator {
            Some(op) => core.retry_incident_as(incident_id, op),
            None => core.retry_incident(incident_id),
        })?;
        incident_dict(py, &i)
    }

    /// Who deploys and directory changes are recorded as in the audit log.
    #[getter]
    fn actor(&self, py: Python<'_>) -> PyResult<String> {
        Ok(self.core(py)?.actor())
    }

    /// Record later changes of this engine as made by `actor`.
    #[setter]
    fn set_actor(&self, py: Python<'_>, actor: String) -> PyResult<()> {
        let core = &self.core(py)?;
        detached(py, || core.set_actor(&actor))
    }

    /// The audit log, oldest first, as plain dicts.
    #[pyo3(signature = (*, since = None, kind = None, by = None, subject = None, limit = None))]
    fn audit<'py>(
        &self,
        py: Python<'py>,
        since: Option<&Bound<'py, PyAny>>,
        kind: Option<String>,
        by: Option<String>,
        subject: Option<String>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyList>> {
        let since = match since {
            Some(t) if !t.is_none() => Some(convert::instant(t, "since")?),
            _ => None,
        };
        let filter = mentorflow::AuditFilter {
            since,
            kind,
            actor: by,
            subject,
            limit,
        };
        let core = &self.core(py)?;
        let list = detached(py, || core.audit(&filter))?;
        let out = PyList::empty(py);
        for a in &list {
            let m = PyDict::new(py);
            m.set_item("id", a.id)?;
            m.set_item("at", convert::py_instant(py, &a.at)?)?;
            m.set_item("actor", &a.actor)?;
            m.set_item("kind", &a.kind)?;
            m.set_item("subject", &a.subject)?;
            m.set_item("before", convert::plain(py, &a.before)?)?;
            m.set_item("after", convert::plain(py, &a.after)?)?;
            m.set_item("reason", &a.reason)?;
            out.append(m)?;
        }
        Ok(out)
    }

    /// Forget a person (operator control): every place their data lives, blanked into a
    /// pseudonym unless `dry_run`. Returns the report as a dict.
    #[pyo3(signature = (person_id, *, operator, reason, dry_run = false))]
    fn forget_person<'py>(
        &self,
        py: Python<'py>,
        person_id: String,
        operator: String,
        reason: String,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.writable(py, "forget_person()")?;
        let r = detached(py, || {
            core.forget_person(&person_id, &operator, &reason, dry_run)
        })?;
        let v = serde_json::to_value(&r)
            .map_err(|e| PyValueError::new_err(format!("cannot convert the report: {e}")))?;
        convert::plain(py, &v)
    }

    /// Retention: export the due closed cases (JSON lines, a new file) and then purge or
    /// anonymise them; with `dry_run`, only list them. Returns the report as a dict.
    #[pyo3(signature = (*, export = None, dry_run = false))]
    fn run_retention<'py>(
        &self,
        py: Python<'py>,
        export: Option<PathBuf>,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.writable(py, "run_retention()")?;
        let r = match (export, dry_run) {
            (_, true) => detached(py, || core.run_retention(true, &mut std::io::sink(), None))?,
            (Some(path), false) => {
                if path.exists() {
                    return Err(PyValueError::new_err(format!(
                        "cannot create the export {}: it exists (retention never overwrites a file)",
                        path.display()
                    )));
                }
                // written and synced to disk (file and folder) before the first change
                detached(py, || core.run_retention_to_file(&path, None))?
            }
            (None, false) => {
                return Err(PyValueError::new_err(
                    "run_retention() needs export=PATH (or dry_run=True)",
                ))
            }
        };
        let v = serde_json::to_value(&r)
            .map_err(|e| PyValueError::new_err(format!("cannot convert the report: {e}")))?;
        convert::plain(py, &v)
    }

    /// Resolve an open incident without firing, with a note saying why.
    #[pyo3(signature = (incident_id, note, *, operator = None))]
    fn resolve_incident<'py>(
        &self,
        py: Python<'py>,
        incident_id: i64,
        note: String,
        operator: Option<String>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let core = &self.writable(py, "resolve_incident()")?;
        let i = detached(py, || match &operator {
            Some(op) => core.resolve_incident_as(incident_id, &note, op),
            None => core.resolve_incident(incident_id, &note),
        })?;
        incident_dict(py, &i)
    }

    /// Suspend an open case (operator control): it refuses every action (`suspended`) and
    /// its timers wait until `resume_case`. Returns the case afterwards.
    #[pyo3(signature = (case_id, *, operator, reason))]
    fn suspend_case<'py>(
        &self,
        py: Python<'py>,
        case_id: i64,
        operator: String,
        reason: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.writable(py, "suspend_case()")?;
        let case = detached(py, || core.suspend_case(case_id, &operator, &reason))?;
        self.case(py, case)
    }

    /// Resume a suspended case: timers that fell due meanwhile fire at the next tick, once.
    #[pyo3(signature = (case_id, *, operator, reason))]
    fn resume_case<'py>(
        &self,
        py: Python<'py>,
        case_id: i64,
        operator: String,
        reason: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.writable(py, "resume_case()")?;
        let case = detached(py, || core.resume_case(case_id, &operator, &reason))?;
        self.case(py, case)
    }

    /// Cancel an open case: it ends in its state, its timers dropped, no further actions.
    #[pyo3(signature = (case_id, *, operator, reason))]
    fn cancel_case<'py>(
        &self,
        py: Python<'py>,
        case_id: i64,
        operator: String,
        reason: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.writable(py, "cancel_case()")?;
        let case = detached(py, || core.cancel_case(case_id, &operator, &reason))?;
        self.case(py, case)
    }

    /// Move a case to a state of its definition outside the flow's actions, with that
    /// state's timers.
    #[pyo3(signature = (case_id, state, *, operator, reason))]
    fn repair_case<'py>(
        &self,
        py: Python<'py>,
        case_id: i64,
        state: String,
        operator: String,
        reason: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.writable(py, "repair_case()")?;
        let case = detached(py, || core.repair_case(case_id, &state, &operator, &reason))?;
        self.case(py, case)
    }

    /// Move every open case role ``from_person`` holds to ``to`` (or only remove them when
    /// ``to`` is None), each case in its own transaction with an ``operator:reassign`` event;
    /// ``dry_run`` only says what would change. Returns the report as a plain dict
    /// (``dry_run``, ``from``, ``to``, ``cases``: each ``case``, ``workflow``, ``roles``,
    /// ``outcome``, ``reason``).
    #[pyo3(signature = (from_person, to = None, *, operator, reason, role = None, workflow = None, dry_run = false))]
    #[allow(clippy::too_many_arguments)]
    fn reassign<'py>(
        &self,
        py: Python<'py>,
        from_person: String,
        to: Option<String>,
        operator: String,
        reason: String,
        role: Option<String>,
        workflow: Option<String>,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = mentorflow::ReassignOptions {
            from: from_person,
            to,
            role,
            workflow,
            dry_run,
        };
        let core = if dry_run {
            self.core(py)?
        } else {
            self.writable(py, "reassign()")?
        };
        let report = detached(py, || {
            core.reassign_participant(&options, &operator, &reason)
        })?;
        let v = serde_json::to_value(&report)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        convert::to_py(py, &v, None)
    }

    /// Suspend, resume or cancel (``control``) every case a view (as ``operator`` sees it)
    /// and/or a filter selects — ``workflow``, ``state``, ``org``, ``fields`` (a dict of
    /// field → value; ``None`` matches an unset field) — each case in its own transaction with
    /// its history event; ``dry_run`` only says which cases would change. Returns the report
    /// as a plain dict (``dry_run``, ``control``, ``cases``: each ``case``, ``workflow``,
    /// ``state``, ``outcome``, ``reason``).
    #[pyo3(signature = (control, *, operator, reason, view = None, workflow = None, state = None, org = None, fields = None, dry_run = false))]
    #[allow(clippy::too_many_arguments)]
    fn control_cases<'py>(
        &self,
        py: Python<'py>,
        control: String,
        operator: String,
        reason: String,
        view: Option<String>,
        workflow: Option<String>,
        state: Option<String>,
        org: Option<String>,
        fields: Option<Bound<'py, PyAny>>,
        dry_run: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let control = mentorflow::BulkControl::parse(&control)
            .map_err(|e| PyValueError::new_err(e.to_string()))?;
        let fields = convert::to_map(fields.as_ref(), "fields")?
            .into_iter()
            .collect();
        let options = mentorflow::BulkOptions {
            view,
            workflow,
            state,
            org,
            fields,
            dry_run,
            ..mentorflow::BulkOptions::new(control)
        };
        let core = if dry_run {
            self.core(py)?
        } else {
            self.writable(py, "control_cases()")?
        };
        let report = detached(py, || core.control_cases(&options, &operator, &reason))?;
        let v = serde_json::to_value(&report)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        convert::to_py(py, &v, None)
    }

    /// The engine's metrics as a plain dict: its own counters (``commands``: each
    /// ``command``, ``outcome``, ``count``; ``step_latency``: ``buckets`` of
    /// ``[le_seconds, cumulative_count]``, ``count``, ``sum_seconds``; ``timers_fired``,
    /// ``timers_failed``, ``deliveries``, ``delivery_failures``) and the database's gauges
    /// (``timers_due``, ``timers_overdue``, ``outbox_backlog``, ``outbox_failed``,
    /// ``dead_letters``, ``open_incidents``).
    fn metrics<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.core(py)?;
        let m = detached(py, || core.metrics())?;
        let v = serde_json::to_value(&m)
            .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
        convert::to_py(py, &v, None)
    }

    /// The consumer names of the registered callbacks, in registration order.
    fn consumers(&self, py: Python<'_>) -> PyResult<Vec<String>> {
        Ok(self.core(py)?.consumers())
    }

    /// Cases, newest first (administrative: no access check).
    #[pyo3(signature = (workflow = None, state = None, org = None, *, limit = None))]
    fn cases<'py>(
        &self,
        py: Python<'py>,
        workflow: Option<String>,
        state: Option<String>,
        org: Option<String>,
        limit: Option<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let filter = CaseFilter {
            workflow,
            state,
            org,
            limit,
        };
        let core = &self.core(py)?;
        let list = detached(py, || core.cases(&filter))?;
        self.case_list(py, list)
    }

    /// A named view for a viewer (`view` or `workflow.view`).
    #[pyo3(signature = (name, *, viewer))]
    fn view<'py>(
        &self,
        py: Python<'py>,
        name: String,
        viewer: String,
    ) -> PyResult<Bound<'py, PyAny>> {
        let core = &self.core(py)?;
        let list = detached(py, || core.view(&name, &viewer))?;
        self.case_list(py, list)
    }

    /// A named export: `format="rows"` gives a list of dicts (with `.columns`), `"csv"` a
    /// CSV string, `"json"` a JSON string.
    #[pyo3(signature = (name, *, format = "rows", actor = None))]
    fn export<'py>(
        &self,
        py: Python<'py>,
        name: String,
        format: &str,
        actor: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        if !matches!(format, "rows" | "csv" | "json") {
            return Err(PyValueError::new_err(format!(
                "format must be \"rows\", \"csv\" or \"json\", got {format:?}"
            )));
        }
        let core = &self.core(py)?;
        let table = detached(py, || core.export(&name, actor.as_deref()))?;
        match format {
            "csv" => Ok(PyString::new(py, &table.to_csv()).into_any()),
            "json" => {
                let rows = Value::Array(table.rows.into_iter().map(Value::Object).collect());
                Ok(PyString::new(py, &rows.to_string()).into_any())
            }
            _ => {
                let items = table
                    .rows
                    .iter()
                    .map(|r| Ok(convert::map(py, r, |_| None)?.into_any()))
                    .collect::<PyResult<Vec<_>>>()?;
                let rows = result_list(py, "Rows", items)?;
                rows.setattr("columns", table.columns)?;
                Ok(rows)
            }
        }
    }

    /// Fire every timer due now and deliver pending notifications.
    fn tick(&self, py: Python<'_>) -> PyResult<values::PyTickReport> {
        let core = &self.writable(py, "tick()")?;
        let r = detached(py, || core.tick())?;
        Ok(values::PyTickReport { r })
    }

    /// Move the manual clock forward by a `timedelta` or a duration such as
    /// `"5 business days"`, firing every timer that falls due on the way.
    fn advance(&self, py: Python<'_>, by: &Bound<'_, PyAny>) -> PyResult<values::PyTickReport> {
        let core = &self.writable(py, "advance()")?;
        self.need_manual_clock(py, "advance")?;
        let r = if let Some(d) = convert::duration(by)? {
            detached(py, || core.advance_by(d))?
        } else if let Ok(s) = by.cast::<PyString>() {
            let s = s.to_cow()?.into_owned();
            detached(py, || core.advance(&s))?
        } else {
            return Err(PyTypeError::new_err(format!(
                "advance takes a timedelta or a duration such as \"5 business days\", got {}",
                convert::type_name(by)
            )));
        };
        Ok(values::PyTickReport { r })
    }

    /// Move the manual clock to an aware datetime, firing what falls due on the way.
    fn advance_to(
        &self,
        py: Python<'_>,
        when: &Bound<'_, PyAny>,
    ) -> PyResult<values::PyTickReport> {
        let t = convert::instant(when, "when")?;
        let core = &self.writable(py, "advance_to()")?;
        self.need_manual_clock(py, "advance_to")?;
        let r = detached(py, || core.advance_to(t))?;
        Ok(values::PyTickReport { r })
    }

    /// Call `callback(notification)` for every notification after it commits.
    #[pyo3(signature = (callback, *, name = None))]
    fn on_notification<'py>(
        &self,
        py: Python<'py>,
        callback: Bound<'py, PyAny>,
        name: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.add_hook(py, Kind::Notification, callback.clone(), name)?;
        Ok(callback)
    }

    /// Call `callback(signal)` for every signal after it commits.
    #[pyo3(signature = (callback, *, name = None))]
    fn on_signal<'py>(
        &self,
        py: Python<'py>,
        callback: Bound<'py, PyAny>,
        name: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.add_hook(py, Kind::Signal, callback.clone(), name)?;
        Ok(callback)
    }

    /// Call `callback(event)` for every history event, in commit order.
    #[pyo3(signature = (callback, *, name = None))]
    fn on_event<'py>(
        &self,
        py: Python<'py>,
        callback: Bound<'py, PyAny>,
        name: Option<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        self.add_hook(py, Kind::Event, callback.clone(), name)?;
        Ok(callback)
    }

    /// Make a Python function callable from the workflows' scripts as `name(...)`.
    fn register_function(
        &self,
        py: Python<'_>,
        name: String,
        callable: Bound<'_, PyAny>,
    ) -> PyResult<()> {
        if !callable.is_callable() {
            return Err(PyTypeError::new_err(format!(
                "register_function needs a callable, got {}",
                convert::type_name(&callable)
            )));
        }
        let valid = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(PyValueError::new_err(format!(
                "{name:?} is not a valid script function name (letters, digits and _)"
            )));
        }
        hooks::check_not_in_script()?;
        let arities = hooks::arities(&callable)?;
        let f = hooks::host_fn(name.clone(), callable.unbind());
        let core = &self.core(py)?;
        py.detach(|| {
            for n in arities {
                core.scripts().register_dynamic(&name, n, Arc::clone(&f));
            }
        });
        Ok(())
    }

    fn __repr__(&self) -> String {
        format!(
            "Engine(path={}, workflows=[{}], manual_clock={}{}{})",
            Value::String(self.path().unwrap_or_else(|| ":memory:".into())),
            self.workflows()
                .into_iter()
                .map(|w| Value::String(w).to_string())
                .collect::<Vec<_>>()
                .join(", "),
            if self.manual { "True" } else { "False" },
            if self.read_only {
                ", read_only=True"
            } else {
                ""
            },
            if self.handle.is_closed() {
                ", closed"
            } else {
                ""
            }
        )
    }
}

// ---- directory --------------------------------------------------------------------------------

fn strings(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Vec<String>> {
    match obj {
        None => Ok(Vec::new()),
        Some(o) if o.is_none() => Ok(Vec::new()),
        Some(o) if o.is_instance_of::<PyString>() => Err(PyTypeError::new_err(format!(
            "{what} must be a list of strings, got a string (write [{}])",
            o.repr()?
        ))),
        Some(o) => o.extract::<Vec<String>>().map_err(|_| {
            PyTypeError::new_err(format!(
                "{what} must be a list of strings, got {}",
                convert::type_name(o)
            ))
        }),
    }
}

/// The people of the directory: `engine.people`.
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "People")]
pub(crate) struct People {
    handle: Handle,
}

#[pymethods]
impl People {
    /// Add a person, or change the properties given of a stored one (the rest is kept);
    /// extra keyword arguments are attributes (`None` removes one). `replace=True` stores
    /// exactly what is given.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (id, *, org = None, roles = None, name = None, email = None, replace = false, **attributes))]
    fn put(
        &self,
        py: Python<'_>,
        id: String,
        org: Option<String>,
        roles: Option<&Bound<'_, PyAny>>,
        name: Option<String>,
        email: Option<String>,
        replace: bool,
        attributes: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<PyPerson> {
        let attrs: Map<String, Value> = match attributes {
            Some(a) => convert::to_map(Some(a.as_any()), "attributes")?,
            None => Map::new(),
        };
        let change = mentorflow::PersonPatch {
            id,
            name: name.map(Some),
            email: email.map(Some),
            org: org.map(Some),
            roles: match roles {
                Some(r) if !r.is_none() => Some(strings(Some(r), "roles")?),
                _ => None,
            },
            attributes: attrs,
        };
        let core = &self.handle.writable(py, "people.put()")?;
        let p = if replace {
            let p = change.apply(None);
            detached(py, || core.replace_person(&p).map(|()| p))?
        } else {
            detached(py, || core.put_person(&change))?
        };
        Ok(PyPerson { p })
    }

    /// A person (`NotFound` if unknown).
    fn get(&self, py: Python<'_>, id: String) -> PyResult<PyPerson> {
        let core = &self.handle.get(py)?;
        let p = detached(py, || core.person(&id))?;
        Ok(PyPerson { p })
    }

    /// Every person, or those of one organisation.
    #[pyo3(signature = (org = None))]
    fn list<'py>(&self, py: Python<'py>, org: Option<String>) -> PyResult<Bound<'py, PyList>> {
        let core = &self.handle.get(py)?;
        let people = detached(py, || core.people(org.as_deref()))?;
        PyList::new(py, people.into_iter().map(|p| PyPerson { p }))
    }

    /// Remove a person; returns whether they existed.
    fn remove(&self, py: Python<'_>, id: String) -> PyResult<bool> {
        let core = &self.handle.writable(py, "people.remove()")?;
        detached(py, || core.remove_person(&id))
    }

    fn __repr__(&self) -> String {
        "<mentorflow people>".to_owned()
    }
}

/// The organisations of the directory: `engine.orgs`.
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Orgs")]
pub(crate) struct Orgs {
    handle: Handle,
}

#[pymethods]
impl Orgs {
    /// Add an organisation, or change the properties given of a stored one (the rest is
    /// kept; `settings` are merged, `None` removes one). `replace=True` stores exactly what
    /// is given.
    #[pyo3(signature = (id, *, name = None, timezone = None, holidays = None, weekend = None, settings = None, replace = false))]
    #[allow(clippy::too_many_arguments)]
    fn put(
        &self,
        py: Python<'_>,
        id: String,
        name: Option<String>,
        timezone: Option<String>,
        holidays: Option<&Bound<'_, PyAny>>,
        weekend: Option<&Bound<'_, PyAny>>,
        settings: Option<&Bound<'_, PyAny>>,
        replace: bool,
    ) -> PyResult<PyOrg> {
        let mut o = mentorflow::OrgPatch::new(id);
        o.name = name.map(Some);
        o.timezone = timezone;
        if let Some(h) = holidays.filter(|h| !h.is_none()) {
            let mut days = Vec::new();
            for (i, d) in h.try_iter()?.enumerate() {
                let d = d?;
                if d.is_instance_of::<pyo3::types::PyDateTime>()
                    || !d.is_instance_of::<pyo3::types::PyDate>()
                {
                    return Err(PyTypeError::new_err(format!(
                        "holidays[{i}] must be a datetime.date, got {}",
                        convert::type_name(&d)
                    )));
                }
                days.push(d.extract()?);
            }
            o.holidays = Some(days);
        }
        if weekend.is_some_and(|w| !w.is_none()) {
            o.weekend = Some(
                strings(weekend, "weekend")?
                    .iter()
                    .map(|d| {
                        d.parse::<chrono::Weekday>().map_err(|_| {
                            PyValueError::new_err(format!(
                                "weekend: {d:?} is not a day of the week (write \"Sat\", \"Sunday\"…)"
                            ))
                        })
                    })
                    .collect::<PyResult<_>>()?,
            );
        }
        o.settings = convert::to_map(settings, "settings")?;
        let core = &self.handle.writable(py, "orgs.put()")?;
        let o = if replace {
            let org = o.apply(None);
            detached(py, || core.replace_org(&org).map(|()| org))?
        } else {
            detached(py, || core.put_org(&o))?
        };
        Ok(PyOrg { o })
    }

    /// An organisation (`NotFound` if unknown).
    fn get(&self, py: Python<'_>, id: String) -> PyResult<PyOrg> {
        let core = &self.handle.get(py)?;
        let o = detached(py, || core.org(&id))?;
        Ok(PyOrg { o })
    }

    /// Every organisation.
    fn list<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let core = &self.handle.get(py)?;
        let orgs = detached(py, || core.orgs())?;
        PyList::new(py, orgs.into_iter().map(|o| PyOrg { o }))
    }

    /// Remove an organisation; returns whether it existed.
    fn remove(&self, py: Python<'_>, id: String) -> PyResult<bool> {
        let core = &self.handle.writable(py, "orgs.remove()")?;
        detached(py, || core.remove_org(&id))
    }

    fn __repr__(&self) -> String {
        "<mentorflow orgs>".to_owned()
    }
}

/// Register the engine classes.
pub(crate) fn register(m: &Bound<'_, pyo3::types::PyModule>) -> PyResult<()> {
    m.add_class::<PyEngine>()?;
    m.add_class::<People>()?;
    m.add_class::<Orgs>()?;
    Ok(())
}

/// An incident as a plain dict.
fn incident_dict<'py>(py: Python<'py>, i: &mentorflow::Incident) -> PyResult<Bound<'py, PyDict>> {
    let m = PyDict::new(py);
    m.set_item("id", i.id)?;
    m.set_item("case_id", i.case_id)?;
    m.set_item("kind", &i.kind)?;
    m.set_item("state", &i.state)?;
    m.set_item("timer", &i.timer)?;
    m.set_item("code", &i.code)?;
    m.set_item("error", &i.error)?;
    m.set_item("attempts", i.attempts)?;
    m.set_item("status", i.status.as_str())?;
    m.set_item("first_at", convert::py_opt_instant(py, &Some(i.first_at))?)?;
    m.set_item("last_at", convert::py_opt_instant(py, &Some(i.last_at))?)?;
    m.set_item(
        "next_attempt_at",
        convert::py_opt_instant(py, &i.next_attempt_at)?,
    )?;
    m.set_item("resolved_at", convert::py_opt_instant(py, &i.resolved_at)?)?;
    m.set_item("resolved_by", &i.resolved_by)?;
    m.set_item("note", &i.note)?;
    Ok(m)
}
