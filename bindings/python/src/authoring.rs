//! The authors' loop from Python: `Engine.replay`, `Engine.migrate` (in `engine`) and
//! `mentorflow.coverage` here. Their reports are plain dicts shaped like the CLI's `--json`
//! output, with instants as timezone-aware datetimes.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mentorflow::scenario;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use serde_json::Value;

use crate::convert;
use crate::errors::to_py_err;

/// The keys whose string values are instants in the reports.
const INSTANT_KEYS: &[&str] = &["at", "due", "was_due"];

fn value<'py>(py: Python<'py>, v: &Value, key: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
    if let (Value::String(s), Some(k)) = (v, key) {
        if INSTANT_KEYS.contains(&k) {
            if let Ok(t) = DateTime::parse_from_rfc3339(s) {
                return convert::py_instant(py, &t.with_timezone(&Utc));
            }
        }
    }
    Ok(match v {
        Value::Array(items) => {
            let out = PyList::empty(py);
            for i in items {
                out.append(value(py, i, None)?)?;
            }
            out.into_any()
        }
        Value::Object(m) => {
            let d = PyDict::new(py);
            for (k, x) in m {
                d.set_item(k, value(py, x, Some(k))?)?;
            }
            d.into_any()
        }
        other => convert::plain(py, other)?,
    })
}

/// A report as a dict (the shape of the CLI's `--json`), instants as aware datetimes.
pub(crate) fn report<'py>(
    py: Python<'py>,
    r: serde_json::Result<Value>,
) -> PyResult<Bound<'py, PyAny>> {
    let v = r.map_err(|e| PyValueError::new_err(format!("cannot convert the report: {e}")))?;
    value(py, &v, None)
}

fn paths(obj: &Bound<'_, PyAny>) -> PyResult<Vec<PathBuf>> {
    if let Ok(p) = obj.extract::<PathBuf>() {
        return Ok(vec![p]);
    }
    let mut out = Vec::new();
    for item in obj.try_iter()? {
        out.push(item?.extract::<PathBuf>().map_err(|_| {
            PyValueError::new_err(
                "paths must be a scenario file or folder, or a list of them (str or os.PathLike)",
            )
        })?);
    }
    Ok(out)
}

/// Run scenario files (files or folders) and measure the transition coverage of the
/// workflows of `workflows`; with `min_coverage` (0–100), say which workflows are below it.
/// Never raises for a failing scenario or a low coverage: the dict says so (`ok` is whether
/// every scenario passed and no workflow is below the minimum).
#[pyfunction]
#[pyo3(signature = (paths, *, workflows = None, min_coverage = None))]
pub(crate) fn coverage<'py>(
    py: Python<'py>,
    paths: &Bound<'py, PyAny>,
    workflows: Option<PathBuf>,
    min_coverage: Option<f64>,
) -> PyResult<Bound<'py, PyAny>> {
    let files = self::paths(paths)?;
    if let Some(m) = min_coverage {
        if !(0.0..=100.0).contains(&m) || m.is_nan() {
            return Err(PyValueError::new_err(format!(
                "min_coverage must be a percentage between 0 and 100, got {m}"
            )));
        }
    }
    let workflows = workflows.unwrap_or_else(|| PathBuf::from("workflows"));
    let out = py.detach(|| -> mentorflow::Result<Value> {
        let reports = scenario::run_paths(&files, &workflows);
        let scripts = mentorflow::script::Scripts::new(mentorflow::Limits::default());
        let defs = if workflows.is_file() {
            vec![mentorflow::definition::load_file(&workflows, &scripts)?]
        } else {
            mentorflow::definition::load_dir(&workflows, &scripts)?
        };
        let defs: Vec<Arc<_>> = defs.into_iter().map(Arc::new).collect();
        let uncovered = scenario::uncovered(&reports, &defs);
        let below = min_coverage
            .map(|m| scenario::below_threshold(&uncovered, m))
            .unwrap_or_default();
        let failed = reports.iter().filter(|r| !r.passed).count();
        Ok(serde_json::json!({
            "passed": reports.len() - failed,
            "failed": failed,
            "failures": reports
                .iter()
                .filter_map(|r| r.failure.as_ref().map(ToString::to_string))
                .collect::<Vec<_>>(),
            "workflows": uncovered,
            "min_coverage": min_coverage,
            "below_min_coverage": below,
            "ok": failed == 0 && below.is_empty(),
        }))
    });
    let v = out.map_err(|e| to_py_err(py, e))?;
    value(py, &v, None)
}

/// Register `coverage`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(coverage, m)?)?;
    Ok(())
}
