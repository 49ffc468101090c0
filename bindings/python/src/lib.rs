//! The Python binding of mentorflow: the native module `mentorflow._mentorflow`.
//!
//! The binding is thin: every function checks its arguments, calls the core engine with the
//! GIL released, and converts the result. The Python package `mentorflow` (in `python/`)
//! re-exports these classes next to the exception classes and the result lists.
//!
//! | module | job |
//! |--------|-----|
//! | `engine` | `Engine`, `engine.people`, `engine.orgs` |
//! | `values` | the immutable values: `Case`, `Event`, `Notification`, `Signal`, `Person`, `Org`, `TickReport` |
//! | `convert` | Python values ↔ the engine's JSON (dates, times, aware datetimes) |
//! | `errors` | the one mapping from `mentorflow::Error` to the Python exceptions |
//! | `hooks` | Python callbacks as engine hooks, Python functions as script functions |
//! | `scenario` | `run_scenario`: the core's scenario runner |
//! | `authoring` | `coverage`, and the reports of `Engine.replay` and `Engine.migrate` |

mod authoring;
mod convert;
mod engine;
mod errors;
mod hooks;
mod scenario;
mod values;

use pyo3::prelude::*;

/// The native part of the `mentorflow` package.
#[pymodule]
fn _mentorflow(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    engine::register(m)?;
    values::register(m)?;
    scenario::register(m)?;
    authoring::register(m)?;
    Ok(())
}
