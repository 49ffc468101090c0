//! Logs: the `tracing` events of the engine (target `mentorflow`) and of the portal
//! (`mentorflow_server`), written to standard error, filtered like `RUST_LOG`
//! (`RUST_LOG=mentorflow=debug,info`). The CLI installs this for every command; the core alone
//! logs nothing until a host installs a subscriber.

use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per event (`timestamp`, `level`, `target`, `fields`).
    Json,
}

/// Install the process's log subscriber: the filter is `RUST_LOG` when it is set, else
/// `default` (`"info"` for the portal, `"error"` for one-shot commands, whose own output says
/// what happened). A second call does nothing. A malformed `RUST_LOG` is an error naming it.
pub fn init(format: LogFormat, default: &str) -> Result<(), String> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => EnvFilter::try_new(&spec)
            .map_err(|e| format!("RUST_LOG=`{spec}` is not a log filter: {e}"))?,
        _ => EnvFilter::new(default),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // already installed (a test, an embedding host): keep that one
    let _ = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    Ok(())
}
