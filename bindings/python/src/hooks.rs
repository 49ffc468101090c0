//! Python callables plugged into the engine: notification, signal and event callbacks (a
//! [`mentorflow::Hook`]) and host functions for scripts.
//!
//! A callback that raises is logged on the `mentorflow` logger and reported to the engine as
//! a failed delivery: the notification stays undelivered and the next `tick()` retries it.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Arc;

use mentorflow::{Event, Hook, HookError, Notification, Signal};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};
use serde_json::Value;

use crate::convert::{plain, to_json, Types};
use crate::values::{wrap, PyEvent, PyNotification, PySignal};

/// What a callback listens to.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    Notification,
    Signal,
    Event,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Notification => "on_notification",
            Kind::Signal => "on_signal",
            Kind::Event => "on_event",
        }
    }
}

/// A Python callback as an engine hook.
pub(crate) struct PyHook {
    pub(crate) kind: Kind,
    pub(crate) callback: Py<PyAny>,
    pub(crate) types: Arc<HashMap<String, Arc<Types>>>,
}

impl PyHook {
    fn call(
        &self,
        what: String,
        make: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyAny>>,
    ) -> Result<(), HookError> {
        Python::attach(|py| {
            let result = make(py).and_then(|arg| self.callback.call1(py, (arg,)));
            match result {
                Ok(_) => Ok(()),
                Err(err) => {
                    let text = format!("{} callback failed for {what}: {err}", self.kind.name());
                    log_error(py, &text, err);
                    Err(text.into())
                }
            }
        })
    }
}

/// Log on the `mentorflow` logger, with the exception's traceback.
pub(crate) fn log_error(py: Python<'_>, text: &str, err: PyErr) {
    let logged = (|| -> PyResult<()> {
        let logger = py
            .import("logging")?
            .call_method1("getLogger", ("mentorflow",))?;
        let kw = PyDict::new(py);
        kw.set_item("exc_info", err.into_value(py))?;
        logger.call_method("error", ("%s", text), Some(&kw))?;
        Ok(())
    })();
    if let Err(e) = logged {
        // Logging itself failed (interpreter shutting down…): nothing better to do.
        e.write_unraisable(py, None);
    }
}

impl Hook for PyHook {
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        if !matches!(self.kind, Kind::Notification) {
            return Ok(());
        }
        self.call(format!("notification {}", n.id), |py| {
            wrap(py, PyNotification { n: n.clone() })
        })
    }

    fn on_signal(&self, s: &Signal) -> Result<(), HookError> {
        if !matches!(self.kind, Kind::Signal) {
            return Ok(());
        }
        self.call(format!("signal {}", s.id), |py| {
            wrap(py, PySignal { s: s.clone() })
        })
    }

    fn on_event(&self, e: &Event) -> Result<(), HookError> {
        if !matches!(self.kind, Kind::Event) {
            return Ok(());
        }
        let workflow_types = self.types_of_case(e);
        self.call(format!("event {}", e.id), |py| {
            wrap(
                py,
                PyEvent {
                    event: e.clone(),
                    types: workflow_types,
                },
            )
        })
    }
}

impl PyHook {
    /// Events do not name their workflow; inputs are typed by the action's name, which is
    /// looked up in every loaded workflow (the first that declares the action wins).
    fn types_of_case(&self, e: &Event) -> Arc<Types> {
        self.types
            .values()
            .find(|t| t.has_action(&e.action))
            .cloned()
            .unwrap_or_default()
    }
}

thread_local! {
    /// Set while a Python script function runs: the engine is inside a transaction then, so
    /// calling it again from that function would wait on itself.
    static IN_SCRIPT: Cell<bool> = const { Cell::new(false) };
}

/// Refuse an engine call made from inside a script function (it would deadlock).
pub(crate) fn check_not_in_script() -> PyResult<()> {
    if IN_SCRIPT.with(Cell::get) {
        return Err(pyo3::exceptions::PyRuntimeError::new_err(
            "a script function cannot call the engine: it runs inside the engine's transaction (compute from its arguments, or act from a callback such as on_notification instead)",
        ));
    }
    Ok(())
}

/// A Python callable as a script host function taking `arity` arguments.
pub(crate) fn host_fn(name: String, callable: Py<PyAny>) -> mentorflow::script::HostFn {
    Arc::new(move |args: &[Value]| {
        let outer = IN_SCRIPT.with(|f| f.replace(true));
        let result = Python::attach(|py| {
            let call = || -> PyResult<Value> {
                let items = args
                    .iter()
                    .map(|a| plain(py, a))
                    .collect::<PyResult<Vec<_>>>()?;
                let out = callable.call1(py, PyTuple::new(py, items)?)?;
                to_json(out.bind(py), &format!("the result of {name}()"))
            };
            call().map_err(|err| {
                let kind = err
                    .get_type(py)
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_else(|_| "Exception".into());
                format!("{name}() raised {kind}: {}", err.value(py))
            })
        });
        IN_SCRIPT.with(|f| f.set(outer));
        result
    })
}

/// The argument counts a Python callable accepts, from `inspect.signature`: from the
/// required positional parameters to all positional ones (up to 8 with `*args`).
pub(crate) fn arities(callable: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let py = callable.py();
    let inspect = py.import("inspect")?;
    let sig = inspect.call_method1("signature", (callable,))?;
    let params = sig.getattr("parameters")?.call_method0("values")?;
    let empty = inspect.getattr("Parameter")?.getattr("empty")?;
    let (mut required, mut total, mut varargs) = (0usize, 0usize, false);
    for p in params.try_iter()? {
        let p = p?;
        let kind: String = p.getattr("kind")?.getattr("name")?.extract()?;
        let has_default = !p.getattr("default")?.is(&empty);
        match kind.as_str() {
            "POSITIONAL_ONLY" | "POSITIONAL_OR_KEYWORD" => {
                total += 1;
                if !has_default {
                    required += 1;
                }
            }
            "VAR_POSITIONAL" => varargs = true,
            "KEYWORD_ONLY" if !has_default => {
                return Err(pyo3::exceptions::PyTypeError::new_err(
                    "a script function is called with positional arguments only; it cannot have required keyword-only parameters",
                ))
            }
            _ => {}
        }
    }
    let max = if varargs { total.max(8) } else { total };
    Ok((required..=max).collect())
}
