//! Values between Python and the engine's JSON.
//!
//! Python → engine: `str`, `int`, `float`, `bool`, `None`, lists (and tuples), dicts with
//! string keys, `date` (`YYYY-MM-DD`), `time` (`HH:MM[:SS]`) and timezone-aware `datetime`
//! (RFC 3339). A naive `datetime` is a `ValueError`: the engine never guesses a time zone.
//!
//! Engine → Python: JSON values become the plain Python values; where the workflow declares a
//! type (case fields, action inputs) `date`, `time` and `datetime` values come back as
//! `datetime.date`, `datetime.time` and timezone-aware `datetime.datetime` (UTC).

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use mentorflow::definition::FieldType;
use mentorflow::Definition;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyDate, PyDateTime, PyDelta, PyDict, PyFloat, PyInt, PyList, PyString, PyTime, PyTuple,
    PyTzInfoAccess,
};
use pyo3::IntoPyObjectExt;
use serde_json::{Map, Value};

/// The declared type of a value: the type, and the item type of a list.
pub(crate) type Declared = (FieldType, Option<FieldType>);

/// The declared types of a workflow's fields and of each action's inputs.
#[derive(Debug, Default)]
pub(crate) struct Types {
    fields: HashMap<String, Declared>,
    inputs: HashMap<String, HashMap<String, Declared>>,
}

impl Types {
    /// The types a definition declares.
    pub(crate) fn of(def: &Definition) -> Self {
        Types {
            fields: def
                .fields
                .iter()
                .map(|f| (f.name.clone(), (f.kind, f.of)))
                .collect(),
            inputs: def
                .actions
                .iter()
                .map(|a| {
                    let m = a
                        .inputs
                        .iter()
                        .map(|f| (f.name.clone(), (f.kind, f.of)))
                        .collect();
                    (a.id.clone(), m)
                })
                .collect(),
        }
    }

    pub(crate) fn field(&self, name: &str) -> Option<Declared> {
        self.fields.get(name).copied()
    }

    pub(crate) fn has_action(&self, action: &str) -> bool {
        self.inputs.contains_key(action)
    }

    pub(crate) fn input(&self, action: &str, name: &str) -> Option<Declared> {
        self.inputs.get(action).and_then(|m| m.get(name)).copied()
    }
}

// ---- Python → JSON ------------------------------------------------------------------------------

/// Convert a Python value to JSON. `path` names the value in error messages (`data.start`).
pub(crate) fn to_json(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_cow()?.into_owned()));
    }
    // bool before int: `True` is an `int` in Python.
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if obj.is_instance_of::<PyInt>() {
        if let Ok(i) = obj.extract::<i64>() {
            return Ok(Value::from(i));
        }
        if let Ok(u) = obj.extract::<u64>() {
            return Ok(Value::from(u));
        }
        return Err(PyValueError::new_err(format!(
            "{path}: the integer {obj} does not fit in 64 bits"
        )));
    }
    if obj.is_instance_of::<PyFloat>() {
        let f: f64 = obj.extract()?;
        return serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| PyValueError::new_err(format!("{path}: {f} is not a finite number")));
    }
    // datetime before date: a `datetime` is a `date` in Python.
    if obj.is_instance_of::<PyDateTime>() {
        return Ok(Value::String(
            instant(obj, path)?.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        ));
    }
    if obj.is_instance_of::<PyDate>() {
        let d: NaiveDate = obj.extract()?;
        return Ok(Value::String(d.format("%Y-%m-%d").to_string()));
    }
    if let Ok(t) = obj.cast::<PyTime>() {
        if t.get_tzinfo().is_some() {
            return Err(PyValueError::new_err(format!(
                "{path}: a time of day must not carry a time zone (got {}); the organisation's time zone applies",
                obj.repr()?
            )));
        }
        let t: NaiveTime = obj.extract()?;
        return Ok(Value::String(format_time(t)));
    }
    if let Ok(d) = obj.cast::<PyDict>() {
        let mut m = Map::new();
        for (k, v) in d.iter() {
            let key = k.cast::<PyString>().map_err(|_| {
                PyTypeError::new_err(format!(
                    "{path}: keys must be strings, got {}",
                    type_name(&k)
                ))
            })?;
            let key = key.to_cow()?.into_owned();
            let sub = format!("{path}.{key}");
            m.insert(key, to_json(&v, &sub)?);
        }
        return Ok(Value::Object(m));
    }
    if obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        let mut out = Vec::new();
        for (i, item) in obj.try_iter()?.enumerate() {
            out.push(to_json(&item?, &format!("{path}[{i}]"))?);
        }
        return Ok(Value::Array(out));
    }
    Err(PyTypeError::new_err(format!(
        "{path}: cannot store a value of type {} (use str, int, float, bool, None, list, dict, date, time or an aware datetime)",
        type_name(obj)
    )))
}

/// A dict (or `None`) as a JSON map.
pub(crate) fn to_map(obj: Option<&Bound<'_, PyAny>>, what: &str) -> PyResult<Map<String, Value>> {
    match obj {
        None => Ok(Map::new()),
        Some(o) if o.is_none() => Ok(Map::new()),
        Some(o) => {
            if !o.is_instance_of::<PyDict>() {
                return Err(PyTypeError::new_err(format!(
                    "{what} must be a dict, got {}",
                    type_name(o)
                )));
            }
            match to_json(o, what)? {
                Value::Object(m) => Ok(m),
                _ => Ok(Map::new()),
            }
        }
    }
}

/// A timezone-aware `datetime` as an instant; a naive one is a `ValueError`.
pub(crate) fn instant(obj: &Bound<'_, PyAny>, path: &str) -> PyResult<DateTime<Utc>> {
    let dt = obj.cast::<PyDateTime>().map_err(|_| {
        PyTypeError::new_err(format!("{path} must be a datetime, got {}", type_name(obj)))
    })?;
    let aware = dt.get_tzinfo().is_some() && !obj.call_method0("utcoffset")?.is_none();
    if !aware {
        return Err(PyValueError::new_err(format!(
            "{path}: naive datetime {} has no time zone; mentorflow only accepts timezone-aware datetimes, e.g. datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)",
            obj.repr()?
        )));
    }
    let text: String = obj.call_method0("isoformat")?.extract()?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| PyValueError::new_err(format!("{path}: cannot read {text}: {e}")))
}

/// A `timedelta` as a duration.
pub(crate) fn duration(obj: &Bound<'_, PyAny>) -> PyResult<Option<chrono::Duration>> {
    if obj.is_instance_of::<PyDelta>() {
        Ok(Some(obj.extract()?))
    } else {
        Ok(None)
    }
}

fn format_time(t: NaiveTime) -> String {
    use chrono::Timelike;
    if t.nanosecond() != 0 {
        t.format("%H:%M:%S%.f").to_string()
    } else if t.second() != 0 {
        t.format("%H:%M:%S").to_string()
    } else {
        t.format("%H:%M").to_string()
    }
}

pub(crate) fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".to_owned())
}

// ---- JSON → Python ------------------------------------------------------------------------------

/// Convert JSON to Python; a declared type turns date, time and datetime strings into
/// `datetime` objects.
pub(crate) fn to_py<'py>(
    py: Python<'py>,
    v: &Value,
    declared: Option<Declared>,
) -> PyResult<Bound<'py, PyAny>> {
    match (v, declared) {
        (Value::String(s), Some((kind, _))) => typed_string(py, s, kind),
        (Value::Array(items), Some((FieldType::List, Some(item)))) => {
            let out = PyList::empty(py);
            for i in items {
                out.append(to_py(py, i, Some((item, None)))?)?;
            }
            Ok(out.into_any())
        }
        _ => plain(py, v),
    }
}

fn typed_string<'py>(py: Python<'py>, s: &str, kind: FieldType) -> PyResult<Bound<'py, PyAny>> {
    let parsed = match kind {
        FieldType::Date => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .map(|d| d.into_bound_py_any(py)),
        FieldType::Time => NaiveTime::parse_from_str(s, "%H:%M:%S%.f")
            .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
            .ok()
            .map(|t| t.into_bound_py_any(py)),
        FieldType::DateTime => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc).into_bound_py_any(py)),
        _ => None,
    };
    match parsed {
        Some(r) => r,
        None => s.into_bound_py_any(py),
    }
}

/// Plain JSON to Python.
pub(crate) fn plain<'py>(py: Python<'py>, v: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match v {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => b.into_bound_py_any(py)?,
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                i.into_bound_py_any(py)?
            } else if let Some(u) = n.as_u64() {
                u.into_bound_py_any(py)?
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_bound_py_any(py)?
            }
        }
        Value::String(s) => s.into_bound_py_any(py)?,
        Value::Array(items) => {
            let out = PyList::empty(py);
            for i in items {
                out.append(plain(py, i)?)?;
            }
            out.into_any()
        }
        Value::Object(m) => map(py, m, |_| None)?.into_any(),
    })
}

/// A JSON map as a dict, each value typed by `declared(key)`.
pub(crate) fn map<'py>(
    py: Python<'py>,
    m: &Map<String, Value>,
    declared: impl Fn(&str) -> Option<Declared>,
) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    for (k, v) in m {
        d.set_item(k, to_py(py, v, declared(k))?)?;
    }
    Ok(d)
}

/// An instant as a timezone-aware (UTC) `datetime`.
pub(crate) fn py_instant<'py>(py: Python<'py>, t: &DateTime<Utc>) -> PyResult<Bound<'py, PyAny>> {
    t.into_bound_py_any(py)
}

/// An optional instant.
pub(crate) fn py_opt_instant<'py>(
    py: Python<'py>,
    t: &Option<DateTime<Utc>>,
) -> PyResult<Bound<'py, PyAny>> {
    match t {
        Some(t) => py_instant(py, t),
        None => Ok(py.None().into_bound(py)),
    }
}
