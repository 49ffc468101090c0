//! Plugin hooks: how hosts receive notifications, signals and history events, and supply
//! people from their own directory.
//!
//! Notifications and signals are written to the outbox table in the same transaction as the
//! change that caused them, then delivered after commit to every registered hook. Delivery is
//! **at least once**: a hook that fails (returns an error or panics) leaves the item
//! undelivered, the attempt and error are recorded, and the next [`crate::Engine::tick`]
//! retries it. The action itself is never rolled back by a hook. Because a retry may repeat a
//! delivery that partly succeeded, hosts drop duplicates by the item's `id` (the idempotency
//! key).
//!
//! History events reach [`Hook::on_event`] in commit order, through a cursor stored in the
//! database; a failing hook stops the batch and the same events are offered again later.

use crate::directory::Person;
use crate::model::{Event, Notification, Signal};

/// The error a hook returns.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// A host plugin. Every method has a default that does nothing, so a hook implements only
/// what it needs.
pub trait Hook: Send + Sync {
    /// A notification to deliver (send the email, post the message…).
    fn on_notification(&self, notification: &Notification) -> Result<(), HookError> {
        let _ = notification;
        Ok(())
    }

    /// A typed signal (for example `schedule_exception`).
    fn on_signal(&self, signal: &Signal) -> Result<(), HookError> {
        let _ = signal;
        Ok(())
    }

    /// A committed history event (audit sinks, webhooks, schedulers).
    fn on_event(&self, event: &Event) -> Result<(), HookError> {
        let _ = event;
        Ok(())
    }

    /// A person the stored directory does not know, from the host's own directory.
    fn person(&self, id: &str) -> Option<Person> {
        let _ = id;
        None
    }
}

/// Call a hook function, turning a panic into an error.
pub(crate) fn guarded(f: impl FnOnce() -> Result<(), HookError>) -> Result<(), String> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(format!("hook panicked: {msg}"))
        }
    }
}
