//! Plugin hooks: how hosts receive notifications, signals and history events, and supply
//! people from their own directory.
//!
//! Notifications and signals are written to the outbox table in the same transaction as the
//! change that caused them, then delivered after commit to every registered hook. Each hook is
//! a **consumer** with a stable name ([`Hook::name`], or the name given at registration with
//! [`crate::EngineBuilder::hook_named`]) and its own delivery state in the database:
//!
//! - a cursor over the outbox: every row is offered to a consumer once, in id order;
//! - for a row the consumer failed on (returned an error or panicked): a delivery record with
//!   its attempts, last error and next attempt time. Retries back off exponentially with
//!   jitter ([`DeliveryPolicy`]); after [`DeliveryPolicy::max_attempts`] the delivery is
//!   *dead* (a dead letter) until an operator retries or drops it
//!   ([`crate::Engine::retry_delivery`], [`crate::Engine::drop_delivery`]).
//!
//! One consumer failing never re-sends a row to the others and never holds back later rows
//! (no head-of-line blocking). Delivery is **at least once** per consumer: a crash between a
//! hook accepting a row and the record of it offers the row again, so hosts drop duplicates
//! by the item's `id` (the idempotency key). The action itself is never rolled back by a hook.
//!
//! History events reach [`Hook::on_event`] in commit order, through a cursor per consumer
//! stored in the database; a failing hook stops its own batch and the same events are offered
//! to it again later, while other consumers go on.

use crate::directory::Person;
use crate::model::{Event, Notification, Signal};

/// The error a hook returns.
pub type HookError = Box<dyn std::error::Error + Send + Sync>;

/// A host plugin. Every method has a default that does nothing, so a hook implements only
/// what it needs.
pub trait Hook: Send + Sync {
    /// The consumer name: the key of this hook's delivery state in the database, so it must
    /// stay the same from one run of the host to the next (`"smtp"`, `"webhook:crm"`). The
    /// default, `""`, asks the engine for a positional name: `hook-1` for the first hook
    /// registered, `hook-2` for the second… — stable only while the host registers its hooks
    /// in the same order, so a host that runs for long should name its hooks.
    fn name(&self) -> &str {
        ""
    }

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

/// How failed deliveries are retried: exponential backoff with jitter, then a dead letter.
///
/// The `n`-th retry of a delivery waits `min(first_retry × 2^(n-1), max_delay)`, shortened by
/// a jitter of up to half (derived from the row, the consumer and the attempt, so many rows
/// failing together do not retry together, and a run on a manual clock is reproducible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliveryPolicy {
    /// The wait before the first retry (60 s by default).
    pub first_retry: std::time::Duration,
    /// The longest wait between two attempts (6 h by default).
    pub max_delay: std::time::Duration,
    /// Attempts (the first one included) before a delivery is dead (16 by default: about two
    /// days of retrying with the other defaults).
    pub max_attempts: u32,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            first_retry: std::time::Duration::from_secs(60),
            max_delay: std::time::Duration::from_secs(6 * 3600),
            max_attempts: 16,
        }
    }
}

impl DeliveryPolicy {
    /// The wait after the `attempts`-th failed attempt of outbox row `id` to `consumer`
    /// (before jitter: `first_retry × 2^(attempts-1)`, at most `max_delay`; jitter takes off
    /// up to half of it).
    pub fn delay(&self, id: i64, consumer: &str, attempts: u32) -> chrono::Duration {
        backoff(
            self.first_retry,
            self.max_delay,
            attempts,
            &format!("{id}\u{0}{consumer}"),
        )
    }
}

/// `min(first × 2^(attempt-1), max)`, less a jitter of up to half derived from `key` and the
/// attempt (FNV-1a: deterministic, so reproducible on a manual clock).
pub(crate) fn backoff(
    first: std::time::Duration,
    max: std::time::Duration,
    attempt: u32,
    key: &str,
) -> chrono::Duration {
    let exp = attempt.saturating_sub(1).min(40);
    let full = first
        .checked_mul(1u32 << exp.min(31))
        .map_or(max, |d| d.min(max))
        .min(max);
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes().chain(attempt.to_le_bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // a fraction in [0, 1) from the top 53 bits
    let frac = (h >> 11) as f64 / (1u64 << 53) as f64;
    let wait = full.mul_f64(1.0 - 0.5 * frac);
    // whole milliseconds: what is stored is exactly what was computed
    let wait =
        std::time::Duration::from_millis(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
    chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX)
}

/// A consumer name: 1 to 100 characters, letters, digits and `_ - . : /`.
pub(crate) fn check_consumer_name(name: &str) -> crate::Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= 100
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/'));
    if ok {
        Ok(())
    } else {
        Err(crate::Error::validation(
            "hook",
            format!(
                "`{name}` is not a valid hook name: use 1 to 100 letters, digits and _ - . : /"
            ),
        ))
    }
}

/// A registered hook and its consumer name.
#[derive(Clone)]
pub(crate) struct Consumer {
    pub name: String,
    pub hook: std::sync::Arc<dyn Hook>,
}

/// Where a delivery of one outbox row to one consumer stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatus {
    /// Failed; retried at `next_attempt_at`.
    Retry,
    /// Failed [`DeliveryPolicy::max_attempts`] times: a dead letter, left for an operator.
    Dead,
    /// Given up by an operator ([`crate::Engine::drop_delivery`]).
    Dropped,
    /// Accepted by the consumer after failing before.
    Delivered,
}

impl DeliveryStatus {
    /// The stored and printed name (`retry`, `dead`, `dropped`, `delivered`).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Retry => "retry",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Dropped => "dropped",
            DeliveryStatus::Delivered => "delivered",
        }
    }

    /// Read a status name.
    pub fn parse(s: &str) -> crate::Result<DeliveryStatus> {
        match s {
            "retry" => Ok(DeliveryStatus::Retry),
            "dead" => Ok(DeliveryStatus::Dead),
            "dropped" => Ok(DeliveryStatus::Dropped),
            "delivered" => Ok(DeliveryStatus::Delivered),
            other => Err(crate::Error::validation(
                "status",
                format!(
                    "unknown delivery status `{other}` (known: retry, dead, dropped, delivered)"
                ),
            )),
        }
    }
}

/// The delivery record of one outbox row to one consumer: written when the consumer first
/// fails on the row (a row a consumer accepted at once has no record).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Delivery {
    /// The outbox row (the notification's or signal's id).
    pub outbox_id: i64,
    /// The consumer (hook name).
    pub consumer: String,
    /// `notification` or `signal`.
    pub kind: String,
    /// The case the row belongs to.
    pub case_id: Option<i64>,
    /// The recipient (notifications).
    pub to: Option<String>,
    /// The template (notifications) or the signal's kind.
    pub template: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Failed attempts so far (since the last operator retry).
    pub attempts: u32,
    /// The last error the consumer returned.
    pub last_error: Option<String>,
    /// When the consumer first failed on it.
    pub first_failed_at: Option<chrono::DateTime<chrono::Utc>>,
    /// The last attempt.
    pub last_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When it is tried next (`retry` only).
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When the consumer accepted it (`delivered` only).
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// Which delivery records to list ([`crate::Engine::deliveries`]).
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Only this status (default: `retry` and `dead`, the ones that need attention).
    pub status: Option<DeliveryStatus>,
    /// Every status.
    pub all: bool,
    /// Only this consumer.
    pub consumer: Option<String>,
    /// Only this outbox row.
    pub outbox_id: Option<i64>,
    /// Only rows of this case.
    pub case_id: Option<i64>,
    /// At most this many (default 1,000), oldest row first.
    pub limit: Option<usize>,
}
