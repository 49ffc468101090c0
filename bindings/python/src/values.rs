//! The immutable values the engine hands to Python: cases, events, notifications, signals,
//! people, organisations and tick reports. Each keeps the engine's own value and converts
//! on access; equality is by value and `to_dict()` gives a plain dict.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyModule};
use pyo3::IntoPyObjectExt;
use serde_json::Value;

use crate::convert::{map, plain, py_instant, py_opt_instant, Types};

fn hash_of(parts: impl Hash) -> u64 {
    let mut h = DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

pub(crate) fn repr_str(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn repr_opt(s: &Option<String>) -> String {
    s.as_deref().map_or_else(|| "None".to_owned(), repr_str)
}

/// Build a dict from the named getters of a value.
fn dict_of<'py>(obj: &Bound<'py, PyAny>, names: &[&str]) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(obj.py());
    for n in names {
        d.set_item(*n, obj.getattr(*n)?)?;
    }
    Ok(d)
}

// ---- result lists -------------------------------------------------------------------------------

static RESULTS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// A list of values as one of the `mentorflow._results` list types (which add `to_pandas()`).
pub(crate) fn result_list<'py>(
    py: Python<'py>,
    class: &str,
    items: Vec<Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyAny>> {
    let module = RESULTS
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("mentorflow._results")?.unbind())
        })?
        .bind(py);
    module.getattr(class)?.call1((PyList::new(py, items)?,))
}

// ---- Case ---------------------------------------------------------------------------------------

/// One running instance of a workflow (a snapshot: it does not change when the case does).
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Case")]
pub(crate) struct PyCase {
    pub(crate) case: mentorflow::Case,
    pub(crate) types: Arc<Types>,
}

#[pymethods]
impl PyCase {
    /// Unique id.
    #[getter]
    fn id(&self) -> i64 {
        self.case.id
    }
    /// Workflow id.
    #[getter]
    fn workflow(&self) -> &str {
        &self.case.workflow
    }
    /// Workflow version, pinned when the case started.
    #[getter]
    fn version(&self) -> u32 {
        self.case.version
    }
    /// Organisation id.
    #[getter]
    fn org(&self) -> &str {
        &self.case.org
    }
    /// Current state id.
    #[getter]
    fn state(&self) -> &str {
        &self.case.state
    }
    /// The state's label.
    #[getter]
    fn state_label(&self) -> &str {
        &self.case.state_label
    }
    /// The state's tags (report flags).
    #[getter]
    fn tags(&self) -> Vec<String> {
        self.case.tags.clone()
    }
    /// Whether the state is not final.
    #[getter]
    fn open(&self) -> bool {
        self.case.open
    }
    /// Field values (a fresh dict).
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map(py, &self.case.data, |k| self.types.field(k))
    }
    /// Participants: case role → list of person ids (a fresh dict).
    #[getter]
    fn participants<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (role, ids) in &self.case.participants {
            d.set_item(role, ids.clone())?;
        }
        Ok(d)
    }
    /// Bumped by every change; equals the number of history events.
    #[getter]
    fn revision(&self) -> u64 {
        self.case.revision
    }
    /// When the case started (aware, UTC).
    #[getter]
    fn created_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_instant(py, &self.case.created_at)
    }
    /// When it last changed (aware, UTC).
    #[getter]
    fn updated_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_instant(py, &self.case.updated_at)
    }
    /// The case this one was copied from, if any.
    #[getter]
    fn parent(&self) -> Option<i64> {
        self.case.parent
    }
    /// Set while an operator has suspended the case: a dict with ``by``, ``at`` and
    /// ``reason``; else `None`.
    #[getter]
    fn suspended<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        mark_dict(py, self.case.suspended.as_ref())
    }
    /// Set when an operator cancelled the case (it is no longer open): a dict with ``by``,
    /// ``at`` and ``reason``; else `None`.
    #[getter]
    fn cancelled<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        mark_dict(py, self.case.cancelled.as_ref())
    }

    /// The first person holding a case role, or `None`.
    fn participant(&self, role: &str) -> Option<String> {
        self.case.participant(role).map(str::to_owned)
    }

    /// Every attribute as a plain dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(
            slf.as_any(),
            &[
                "id",
                "workflow",
                "version",
                "org",
                "state",
                "state_label",
                "tags",
                "open",
                "data",
                "participants",
                "revision",
                "created_at",
                "updated_at",
                "parent",
                "suspended",
                "cancelled",
            ],
        )
    }

    fn __repr__(&self) -> String {
        let c = &self.case;
        format!(
            "Case(id={}, workflow={}, version={}, state={}, org={}, revision={})",
            c.id,
            repr_str(&c.workflow),
            c.version,
            repr_str(&c.state),
            repr_str(&c.org),
            c.revision
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyCase>() {
            Ok(o) => (self.case == o.get().case).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of((self.case.id, self.case.revision))
    }
}

/// An operator's mark as a dict (`by`, `at`, `reason`).
fn mark_dict<'py>(
    py: Python<'py>,
    m: Option<&mentorflow::OperatorMark>,
) -> PyResult<Option<Bound<'py, PyDict>>> {
    let Some(m) = m else { return Ok(None) };
    let d = PyDict::new(py);
    d.set_item("by", &m.by)?;
    d.set_item("at", py_instant(py, &m.at)?)?;
    d.set_item("reason", &m.reason)?;
    Ok(Some(d))
}

// ---- Event --------------------------------------------------------------------------------------

/// One entry of a case's history.
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Event")]
pub(crate) struct PyEvent {
    pub(crate) event: mentorflow::Event,
    pub(crate) types: Arc<Types>,
}

#[pymethods]
impl PyEvent {
    /// Global, increasing id (a cursor).
    #[getter]
    fn id(&self) -> i64 {
        self.event.id
    }
    /// The case.
    #[getter]
    fn case_id(&self) -> i64 {
        self.event.case_id
    }
    /// 1, 2, 3… within the case; equals the case's revision after the event.
    #[getter]
    fn seq(&self) -> u64 {
        self.event.seq
    }
    /// When it happened (aware, UTC).
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_instant(py, &self.event.at)
    }
    /// Who did it (`system` for timers).
    #[getter]
    fn actor(&self) -> &str {
        &self.event.actor
    }
    /// The action (or `timer:NAME` for a timer that only ran a script).
    #[getter]
    fn action(&self) -> &str {
        &self.event.action
    }
    /// State before (`None` for the first event).
    #[getter(from_state)]
    fn source_state(&self) -> Option<&str> {
        self.event.from_state.as_deref()
    }
    /// State after.
    #[getter]
    fn to_state(&self) -> &str {
        &self.event.to_state
    }
    /// The validated inputs.
    #[getter]
    fn inputs<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map(py, &self.event.inputs, |k| {
            self.types.input(&self.event.action, k)
        })
    }
    /// What changed: a list of dicts, each with a `type` (`set`, `assign`, `unassign`,
    /// `note`, `notify`, `signal`, `spawn`, `copied_from`, `timer_scheduled`,
    /// `timer_cancelled`) and its details.
    #[getter]
    fn effects<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for eff in &self.event.effects {
            let v = serde_json::to_value(eff).unwrap_or(Value::Null);
            let d = match &v {
                Value::Object(m) => map(py, m, |k| match (eff, k) {
                    (mentorflow::Effect::Set { field, .. }, "value") => self.types.field(field),
                    (mentorflow::Effect::TimerScheduled { .. }, "due") => {
                        Some((mentorflow::definition::FieldType::DateTime, None))
                    }
                    _ => None,
                })?
                .into_any(),
                other => plain(py, other)?,
            };
            out.append(d)?;
        }
        Ok(out)
    }

    /// Every attribute as a plain dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(
            slf.as_any(),
            &[
                "id",
                "case_id",
                "seq",
                "at",
                "actor",
                "action",
                "from_state",
                "to_state",
                "inputs",
                "effects",
            ],
        )
    }

    fn __repr__(&self) -> String {
        let e = &self.event;
        format!(
            "Event(case_id={}, seq={}, action={}, actor={}, from_state={}, to_state={}, at='{}')",
            e.case_id,
            e.seq,
            repr_str(&e.action),
            repr_str(&e.actor),
            repr_opt(&e.from_state),
            repr_str(&e.to_state),
            e.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyEvent>() {
            Ok(o) => (self.event == o.get().event).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of(self.event.id)
    }
}

// ---- Notification -------------------------------------------------------------------------------

/// A message to a person, rendered from a template, as stored in the outbox.
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Notification")]
pub(crate) struct PyNotification {
    pub(crate) n: mentorflow::Notification,
}

#[pymethods]
impl PyNotification {
    /// Outbox id; also the idempotency key to drop duplicate deliveries.
    #[getter]
    fn id(&self) -> i64 {
        self.n.id
    }
    /// The case, if any.
    #[getter]
    fn case_id(&self) -> Option<i64> {
        self.n.case_id
    }
    /// Recipient person id.
    #[getter]
    fn to(&self) -> &str {
        &self.n.to
    }
    /// Template name.
    #[getter]
    fn template(&self) -> &str {
        &self.n.template
    }
    /// Rendered subject.
    #[getter]
    fn subject(&self) -> &str {
        &self.n.subject
    }
    /// Rendered body.
    #[getter]
    fn body(&self) -> &str {
        &self.n.body
    }
    /// Data passed by the effect.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map(py, &self.n.data, |_| None)
    }
    /// When it was queued (aware, UTC).
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_instant(py, &self.n.at)
    }
    /// When hooks accepted it (`None` while undelivered).
    #[getter]
    fn delivered_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_opt_instant(py, &self.n.delivered_at)
    }
    /// When a host acknowledged it.
    #[getter]
    fn acked_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_opt_instant(py, &self.n.acked_at)
    }
    /// Delivery attempts so far.
    #[getter]
    fn attempts(&self) -> u32 {
        self.n.attempts
    }
    /// The last delivery error.
    #[getter]
    fn last_error(&self) -> Option<&str> {
        self.n.last_error.as_deref()
    }

    /// Every attribute as a plain dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(
            slf.as_any(),
            &[
                "id",
                "case_id",
                "to",
                "template",
                "subject",
                "body",
                "data",
                "at",
                "delivered_at",
                "acked_at",
                "attempts",
                "last_error",
            ],
        )
    }

    fn __repr__(&self) -> String {
        let n = &self.n;
        format!(
            "Notification(id={}, case_id={}, to={}, template={}, subject={})",
            n.id,
            n.case_id
                .map_or_else(|| "None".to_owned(), |c| c.to_string()),
            repr_str(&n.to),
            repr_str(&n.template),
            repr_str(&n.subject)
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyNotification>() {
            Ok(o) => (self.n == o.get().n).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of(self.n.id)
    }
}

// ---- Signal -------------------------------------------------------------------------------------

/// A typed event for hosts that is not a message to a person (e.g. `schedule_exception`).
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Signal")]
pub(crate) struct PySignal {
    pub(crate) s: mentorflow::Signal,
}

#[pymethods]
impl PySignal {
    /// Outbox id (idempotency key).
    #[getter]
    fn id(&self) -> i64 {
        self.s.id
    }
    /// The case, if any.
    #[getter]
    fn case_id(&self) -> Option<i64> {
        self.s.case_id
    }
    /// What kind of signal.
    #[getter]
    fn kind(&self) -> &str {
        &self.s.kind
    }
    /// Its data.
    #[getter]
    fn data<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map(py, &self.s.data, |_| None)
    }
    /// When it was emitted (aware, UTC).
    #[getter]
    fn at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_instant(py, &self.s.at)
    }

    /// Every attribute as a plain dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(slf.as_any(), &["id", "case_id", "kind", "data", "at"])
    }

    fn __repr__(&self) -> String {
        format!(
            "Signal(id={}, case_id={}, kind={})",
            self.s.id,
            self.s
                .case_id
                .map_or_else(|| "None".to_owned(), |c| c.to_string()),
            repr_str(&self.s.kind)
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PySignal>() {
            Ok(o) => (self.s == o.get().s).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of(self.s.id)
    }
}

// ---- Person and Org -----------------------------------------------------------------------------

/// A person of the directory.
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Person")]
pub(crate) struct PyPerson {
    pub(crate) p: mentorflow::Person,
}

#[pymethods]
impl PyPerson {
    /// Unique id.
    #[getter]
    fn id(&self) -> &str {
        &self.p.id
    }
    /// Display name.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.p.name.as_deref()
    }
    /// Email address.
    #[getter]
    fn email(&self) -> Option<&str> {
        self.p.email.as_deref()
    }
    /// Organisation id.
    #[getter]
    fn org(&self) -> Option<&str> {
        self.p.org.as_deref()
    }
    /// Directory roles.
    #[getter]
    fn roles(&self) -> Vec<String> {
        self.p.roles.clone()
    }
    /// Free attributes (`classification`, `manager`, `focus_areas`, …).
    #[getter]
    fn attributes<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map(py, &self.p.attributes, |_| None)
    }

    /// An attribute by name: `person.classification` is `person.attributes["classification"]`.
    fn __getattr__<'py>(&self, py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
        match self.p.attributes.get(name) {
            Some(v) => plain(py, v),
            None => Err(pyo3::exceptions::PyAttributeError::new_err(format!(
                "person `{}` has no attribute `{name}`",
                self.p.id
            ))),
        }
    }

    /// Every property as a plain dict (attributes under `attributes`).
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(
            slf.as_any(),
            &["id", "name", "email", "org", "roles", "attributes"],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "Person(id={}, name={}, org={}, roles=[{}])",
            repr_str(&self.p.id),
            repr_opt(&self.p.name),
            repr_opt(&self.p.org),
            self.p
                .roles
                .iter()
                .map(|r| repr_str(r))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyPerson>() {
            Ok(o) => (self.p == o.get().p).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of(&self.p.id)
    }
}

/// An organisation: time zone, weekend, holidays and settings.
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Org")]
pub(crate) struct PyOrg {
    pub(crate) o: mentorflow::Org,
}

#[pymethods]
impl PyOrg {
    /// Unique id.
    #[getter]
    fn id(&self) -> &str {
        &self.o.id
    }
    /// Display name.
    #[getter]
    fn name(&self) -> Option<&str> {
        self.o.name.as_deref()
    }
    /// IANA time zone, e.g. `Europe/Paris`.
    #[getter]
    fn timezone(&self) -> &str {
        &self.o.timezone
    }
    /// Weekend days, as three-letter English names (`Sat`, `Sun`).
    #[getter]
    fn weekend(&self) -> Vec<String> {
        self.o.weekend.iter().map(ToString::to_string).collect()
    }
    /// Holidays (not business days).
    #[getter]
    fn holidays<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for d in &self.o.holidays {
            out.append(d.into_bound_py_any(py)?)?;
        }
        Ok(out)
    }
    /// Settings overriding the workflows' defaults.
    #[getter]
    fn settings<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        map(py, &self.o.settings, |_| None)
    }

    /// Every property as a plain dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(
            slf.as_any(),
            &["id", "name", "timezone", "weekend", "holidays", "settings"],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "Org(id={}, timezone={}, holidays={}, settings={})",
            repr_str(&self.o.id),
            repr_str(&self.o.timezone),
            self.o.holidays.len(),
            Value::Object(self.o.settings.clone())
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyOrg>() {
            Ok(o) => (self.o == o.get().o).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of(&self.o.id)
    }
}

// ---- TickReport ---------------------------------------------------------------------------------

/// What a `tick()` or `advance()` did.
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "TickReport")]
pub(crate) struct PyTickReport {
    pub(crate) r: mentorflow::TickReport,
}

#[pymethods]
impl PyTickReport {
    /// Timers fired.
    #[getter]
    fn fired(&self) -> usize {
        self.r.fired
    }
    /// Timer firings that failed (rolled back; each is an incident, see `incidents()`).
    #[getter]
    fn failed(&self) -> Vec<String> {
        self.r.failed.clone()
    }
    /// Notifications and signals delivered to callbacks and hooks.
    #[getter]
    fn delivered(&self) -> usize {
        self.r.delivered
    }
    /// Deliveries (of one row to one callback) that failed.
    #[getter]
    fn delivery_failures(&self) -> usize {
        self.r.delivery_failures
    }
    /// Of those, deliveries that failed for the last time allowed (now dead letters).
    #[getter]
    fn dead_letters(&self) -> usize {
        self.r.dead_letters
    }

    /// Every attribute as a plain dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(
            slf.as_any(),
            &[
                "fired",
                "failed",
                "delivered",
                "delivery_failures",
                "dead_letters",
            ],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "TickReport(fired={}, failed={}, delivered={}, delivery_failures={})",
            self.r.fired,
            format_args!(
                "[{}]",
                self.r
                    .failed
                    .iter()
                    .map(|f| repr_str(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            self.r.delivered,
            self.r.delivery_failures
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyTickReport>() {
            Ok(o) => (self.r == o.get().r).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of((
            self.r.fired,
            &self.r.failed,
            self.r.delivered,
            self.r.delivery_failures,
        ))
    }
}

// ---- PendingTimer and Participant ---------------------------------------------------------------

/// A pending timer of a case: when it is due and what it does then (`engine.timers(case_id)`).
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "PendingTimer")]
pub(crate) struct PyTimer {
    pub(crate) t: mentorflow::PendingTimer,
}

#[pymethods]
impl PyTimer {
    /// Its name in the state.
    #[getter]
    fn name(&self) -> &str {
        &self.t.name
    }
    /// The state that scheduled it (leaving the state cancels it).
    #[getter]
    fn state(&self) -> &str {
        &self.t.state
    }
    /// When it is due (aware, UTC).
    #[getter]
    fn due_at<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_instant(py, &self.t.due_at)
    }
    /// The system action it fires, if any.
    #[getter]
    fn action(&self) -> Option<&str> {
        self.t.action.as_deref()
    }
    /// Whether it runs a script when it fires.
    #[getter]
    fn script(&self) -> bool {
        self.t.script
    }
    /// Whether it fires again every period while the case stays in the state (`every`).
    #[getter]
    fn recurring(&self) -> bool {
        self.t.recurring
    }
    /// How many times a recurring timer has fired so far.
    #[getter]
    fn fired(&self) -> u32 {
        self.t.fired
    }
    /// The timer's description in the definition, if any.
    #[getter]
    fn description(&self) -> Option<&str> {
        self.t.description.as_deref()
    }

    /// Every attribute as a plain dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(
            slf.as_any(),
            &[
                "name",
                "state",
                "due_at",
                "action",
                "script",
                "recurring",
                "fired",
                "description",
            ],
        )
    }

    fn __repr__(&self) -> String {
        format!(
            "PendingTimer(name={}, state={}, due_at={}, action={})",
            repr_str(&self.t.name),
            repr_str(&self.t.state),
            repr_str(&self.t.due_at.to_rfc3339()),
            repr_opt(&self.t.action)
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyTimer>() {
            Ok(o) => (self.t == o.get().t).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of((&self.t.name, &self.t.state, self.t.due_at, self.t.fired))
    }
}

/// A person holding a case role, and since when (`engine.participants(case_id)`).
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "Participant")]
pub(crate) struct PyParticipant {
    pub(crate) p: mentorflow::Participant,
}

#[pymethods]
impl PyParticipant {
    /// The case role (`mentor`, `team`, …).
    #[getter]
    fn role(&self) -> &str {
        &self.p.role
    }
    /// The person's id.
    #[getter]
    fn person(&self) -> &str {
        &self.p.person
    }
    /// When the person was given the role (aware, UTC; the latest time if they lost it in
    /// between).
    #[getter]
    fn since<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py_instant(py, &self.p.since)
    }

    /// Every attribute as a plain dict.
    fn to_dict<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyDict>> {
        dict_of(slf.as_any(), &["role", "person", "since"])
    }

    fn __repr__(&self) -> String {
        format!(
            "Participant(role={}, person={}, since={})",
            repr_str(&self.p.role),
            repr_str(&self.p.person),
            repr_str(&self.p.since.to_rfc3339())
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let py = other.py();
        match other.cast::<PyParticipant>() {
            Ok(o) => (self.p == o.get().p).into_py_any(py),
            Err(_) => Ok(py.NotImplemented()),
        }
    }

    fn __hash__(&self) -> u64 {
        hash_of((&self.p.role, &self.p.person, self.p.since))
    }
}

/// Register the value classes.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyCase>()?;
    m.add_class::<PyEvent>()?;
    m.add_class::<PyNotification>()?;
    m.add_class::<PySignal>()?;
    m.add_class::<PyPerson>()?;
    m.add_class::<PyOrg>()?;
    m.add_class::<PyTickReport>()?;
    m.add_class::<PyTimer>()?;
    m.add_class::<PyParticipant>()?;
    Ok(())
}

/// Convert a value to a Python object of one of these classes.
pub(crate) fn wrap<'py, T: pyo3::PyClass + Into<pyo3::PyClassInitializer<T>>>(
    py: Python<'py>,
    v: T,
) -> PyResult<Bound<'py, PyAny>> {
    Ok(Bound::new(py, v)?.into_any())
}

pub(crate) fn case<'py>(
    py: Python<'py>,
    case: mentorflow::Case,
    types: Arc<Types>,
) -> PyResult<Bound<'py, PyAny>> {
    wrap(py, PyCase { case, types })
}
