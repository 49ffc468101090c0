//! The one place where engine errors become Python exceptions.
//!
//! The exception classes live in `mentorflow/_errors.py` (plain Python, so they carry methods
//! such as `DefinitionError.errors()` and pickle like any exception). Every detail of the
//! engine's error becomes an attribute; `.code` is the engine's stable code.

use mentorflow::Error;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyModule};

static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    ERRORS
        .get_or_try_init(py, || {
            Ok::<_, PyErr>(py.import("mentorflow._errors")?.unbind())
        })
        .map(|m| m.bind(py))
}

/// Map an engine error to its Python exception.
pub(crate) fn to_py_err(py: Python<'_>, e: Error) -> PyErr {
    match build(py, e) {
        Ok(err) | Err(err) => err,
    }
}

fn build(py: Python<'_>, e: Error) -> PyResult<PyErr> {
    let message = e.to_string();
    let kw = PyDict::new(py);
    kw.set_item("code", e.code())?;
    let class = match e {
        Error::Definition { problems } => {
            let list = PyList::empty(py);
            for p in problems {
                let d = PyDict::new(py);
                d.set_item("file", p.file)?;
                d.set_item("line", p.line)?;
                d.set_item("column", p.column)?;
                d.set_item("path", p.path)?;
                d.set_item("message", p.message)?;
                list.append(d)?;
            }
            kw.set_item("problems", list)?;
            "DefinitionError"
        }
        Error::Validation {
            workflow, field, ..
        } => {
            kw.set_item("workflow", workflow)?;
            kw.set_item("field", field)?;
            "ValidationError"
        }
        Error::GuardRejected {
            workflow,
            action,
            state,
            suggest,
            rule,
            ..
        } => {
            kw.set_item("workflow", workflow)?;
            kw.set_item("action", action)?;
            kw.set_item("state", state)?;
            kw.set_item("suggest", suggest)?;
            kw.set_item("rule", rule)?;
            "GuardRejected"
        }
        Error::NotPermitted {
            workflow,
            action,
            actor,
            ..
        } => {
            kw.set_item("workflow", workflow)?;
            kw.set_item("action", action)?;
            kw.set_item("actor", actor)?;
            "NotPermitted"
        }
        Error::NotFound { kind, id, hint } => {
            kw.set_item("kind", kind)?;
            kw.set_item("id", id)?;
            kw.set_item("hint", hint)?;
            "NotFound"
        }
        Error::Conflict {
            case_id,
            expected,
            actual,
        } => {
            kw.set_item("case_id", case_id)?;
            kw.set_item("expected", expected)?;
            kw.set_item("actual", actual)?;
            "Conflict"
        }
        Error::Script { place, message } => {
            kw.set_item("workflow", &place.workflow)?;
            kw.set_item("version", place.version)?;
            kw.set_item("path", &place.path)?;
            kw.set_item("file", &place.file)?;
            kw.set_item("line", place.line)?;
            kw.set_item("column", place.column)?;
            kw.set_item("reason", message)?;
            "ScriptError"
        }
        Error::Storage { .. } => "StorageError",
        // A variant added to the engine later: still a mentorflow.Error with its code.
        _ => "Error",
    };
    let cls = module(py)?.getattr(class)?;
    let exc = cls.call((message,), Some(&kw))?;
    Ok(PyErr::from_value(exc))
}

/// A mentorflow exception raised by the binding itself (not by the core), e.g.
/// `new_error(py, "ValidationError", "validation", msg, &[("field", "clock")])`.
pub(crate) fn new_error(
    py: Python<'_>,
    class: &str,
    code: &str,
    message: &str,
    details: &[(&str, &str)],
) -> PyErr {
    let made = (|| {
        let kw = PyDict::new(py);
        kw.set_item("code", code)?;
        for (k, v) in details {
            kw.set_item(*k, *v)?;
        }
        let exc = module(py)?.getattr(class)?.call((message,), Some(&kw))?;
        Ok::<_, PyErr>(PyErr::from_value(exc))
    })();
    match made {
        Ok(err) | Err(err) => err,
    }
}
