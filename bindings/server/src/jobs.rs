//! What both long-running workers — `mentorflow run` and the portal's (`mentorflow serve`)
//! — take from the configuration file besides ticking: the `[[webhooks]]` consumers of the
//! outbox ([`attach_webhooks`]) and retention on a schedule ([`retention_round`]). One
//! place, so the two workers cannot drift apart.

use std::sync::Arc;

use mentorflow::{Engine, RetentionTimer};

use crate::config_file::FileConfig;

/// Register every `[[webhooks]]` entry of `file` on `engine` as a consumer of the outbox
/// (`webhook:NAME`, with its own retries and dead letters). Returns `consumer → url` for
/// each, for the worker's start-up lines; an error names the entry.
pub fn attach_webhooks(engine: &Engine, file: &FileConfig) -> Result<Vec<String>, String> {
    let mut shown = Vec::new();
    for w in file.webhooks()? {
        shown.push(format!("{} → {}", w.consumer(), w.url()));
        engine.add_hook(Arc::new(w));
    }
    Ok(shown)
}

/// One look at scheduled retention, on the engine's clock: `None` when no run is due;
/// otherwise the run's outcome as a line for the worker's log (an error too: the worker
/// goes on and the next scheduled run tries again). The audit entries are by the engine's
/// actor.
pub fn retention_round(
    engine: &Engine,
    timer: &mut RetentionTimer,
) -> Option<Result<String, String>> {
    if !timer.due(engine.now()) {
        return None;
    }
    Some(match timer.run(engine, None) {
        Ok(None) => Ok("retention: no closed case is due".to_owned()),
        Ok(Some((path, report))) => Ok(format!(
            "retention: {} case{} exported to {} and then purged or anonymised",
            report.cases.len(),
            if report.cases.len() == 1 { "" } else { "s" },
            path.display()
        )),
        Err(e) => Err(format!(
            "retention failed (nothing after the error was changed): {e}"
        )),
    })
}

/// How long until the timer's next run (`None`: not scheduled yet, or no timer).
pub fn until_retention(
    timer: Option<&RetentionTimer>,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<std::time::Duration> {
    let next = timer?.next()?;
    Some((next - now).to_std().unwrap_or(std::time::Duration::ZERO))
}
