//! `mentorflow.run_scenario`: the core's scenario runner, for the same files the Rust tests
//! and `mentorflow test` run.

use std::path::PathBuf;

use mentorflow::scenario::{self, Report};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The outcome of one scenario file.
#[pyclass(frozen, module = "mentorflow._mentorflow", name = "ScenarioReport")]
pub(crate) struct PyReport {
    r: Report,
}

#[pymethods]
impl PyReport {
    /// The file, as given.
    #[getter]
    fn file(&self) -> &str {
        &self.r.file
    }
    /// The scenario's `name`.
    #[getter]
    fn name(&self) -> &str {
        &self.r.name
    }
    /// Whether every step and expectation held.
    #[getter]
    fn passed(&self) -> bool {
        self.r.passed
    }
    /// Steps started (the failing one included).
    #[getter]
    fn steps_run(&self) -> usize {
        self.r.steps_run
    }
    /// Steps in the file.
    #[getter]
    fn steps_total(&self) -> usize {
        self.r.steps_total
    }
    /// The first failure as text (`FILE:LINE: step N (LABEL): expected …, got …`), or `None`.
    #[getter]
    fn failure(&self) -> Option<String> {
        self.r.failure.as_ref().map(ToString::to_string)
    }
    /// The first failure's parts (file, step, line, label, expected, actual), or `None`.
    #[getter]
    fn failure_details<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(f) = &self.r.failure else {
            return Ok(None);
        };
        let d = PyDict::new(py);
        d.set_item("file", &f.file)?;
        d.set_item("step", f.step)?;
        d.set_item("line", f.line)?;
        d.set_item("label", &f.label)?;
        d.set_item("expected", &f.expected)?;
        d.set_item("actual", &f.actual)?;
        Ok(Some(d))
    }

    fn __bool__(&self) -> bool {
        self.r.passed
    }

    fn __repr__(&self) -> String {
        format!(
            "ScenarioReport(name={}, passed={}, steps_run={}, steps_total={})",
            crate::values::repr_str(&self.r.name),
            if self.r.passed { "True" } else { "False" },
            self.r.steps_run,
            self.r.steps_total
        )
    }
}

/// Run one scenario file. Relative `workflows:` paths in the file are resolved against its
/// folder; without one, `workflows` is used (default `workflows`, relative to the current
/// folder). Never raises for a failing scenario: the report says what failed, where.
#[pyfunction]
#[pyo3(signature = (path, *, workflows = None))]
pub(crate) fn run_scenario(py: Python<'_>, path: PathBuf, workflows: Option<PathBuf>) -> PyReport {
    let workflows = workflows.unwrap_or_else(|| PathBuf::from("workflows"));
    let r = py.detach(|| scenario::run_file(&path, &workflows));
    PyReport { r }
}

/// Register the scenario runner.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyReport>()?;
    m.add_function(wrap_pyfunction!(run_scenario, m)?)?;
    Ok(())
}
