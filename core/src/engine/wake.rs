//! Waking timer workers early. On PostgreSQL, a command that schedules a timer due soon (within
//! [`crate::store::postgres::WAKE_WITHIN`] of its state's entry) or writes an outbox row sends
//! a `NOTIFY` in its own transaction (delivered at its commit, never on a rollback), and a
//! worker that called [`Engine::wake_on_commits`] `LISTEN`s on a connection of its own and
//! looks again at once. It is only a hint: the worker keeps polling (at its interval, or at
//! the next due time), so a lost notification, a broken listener or none at all (SQLite, where
//! one process writes and wakes its own worker) delays work, never loses it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use super::Engine;
use crate::error::Result;

/// How often the listening thread looks whether it should stop.
const SLICE: Duration = Duration::from_millis(250);

/// How long the listening thread waits before connecting again after an error.
const RETRY: Duration = Duration::from_secs(5);

/// A thread calling a function when another process's commit may give the worker work sooner
/// ([`Engine::wake_on_commits`]). Dropping it stops the thread.
#[derive(Debug)]
pub struct Wakeups {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Wakeups {
    /// Whether anything listens: `false` on SQLite (nothing to listen to).
    pub fn is_listening(&self) -> bool {
        self.thread.is_some()
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Engine {
    /// Call `wake` (on a thread of its own) each time a command of any process commits a timer
    /// due soon or an outbox row, so that a timer worker sleeping until its next look can look
    /// at once. On PostgreSQL this `LISTEN`s on a connection of its own (not the pool's); the
    /// connection is made before this returns, so a server that refuses it is an error here,
    /// and a connection lost later is made again (logged; the worker still polls). On SQLite
    /// nothing listens ([`Wakeups::is_listening`] is `false`).
    pub fn wake_on_commits(&self, wake: impl Fn() + Send + 'static) -> Result<Wakeups> {
        let stop = Arc::new(AtomicBool::new(false));
        let Some(mut listener) = self.inner.db.listen()? else {
            return Ok(Wakeups { stop, thread: None });
        };
        let stopped = stop.clone();
        let thread = std::thread::Builder::new()
            .name("mentorflow-wake".into())
            .spawn(move || {
                let mut failing = false;
                while !stopped.load(Ordering::Relaxed) {
                    match listener.wait(SLICE) {
                        Ok(woken) => {
                            if failing {
                                tracing::info!(target: "mentorflow", "listening for wake-ups again");
                                failing = false;
                            }
                            if woken {
                                wake();
                            }
                        }
                        Err(e) => {
                            if !failing {
                                tracing::warn!(
                                    target: "mentorflow",
                                    error = %e,
                                    "wake-ups lost (the worker still polls); connecting again"
                                );
                                failing = true;
                            }
                            let mut waited = Duration::ZERO;
                            while waited < RETRY && !stopped.load(Ordering::Relaxed) {
                                std::thread::sleep(SLICE);
                                waited += SLICE;
                            }
                        }
                    }
                }
            })
            .map_err(|e| crate::Error::storage(format!("cannot start the wake-up thread: {e}")))?;
        Ok(Wakeups {
            stop,
            thread: Some(thread),
        })
    }
}
