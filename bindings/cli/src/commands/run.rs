//! `mentorflow run [--interval SECS] [--exec COMMAND] [--once] [--config FILE]`: a worker
//! that fires due timers at an interval (sooner when a timer is due before it) and delivers
//! notifications and signals, each as one JSON line, to a command's stdin or to stdout. On
//! PostgreSQL another process's command that schedules a timer due soon or writes an outbox
//! row wakes it at once (`LISTEN/NOTIFY`; it polls anyway). Stops cleanly on Ctrl-C and
//! SIGTERM.
//!
//! With `--config`, it reads `serve`'s configuration file: the `[[webhooks]]` become
//! consumers of the outbox beside the JSON lines, and `[retention]` runs retention on its
//! schedule — both through `mentorflow_server::jobs`, the code the portal's worker uses.
//!
//! Delivery is the engine's: a hook registered on the engine receives every undelivered
//! item after each tick. With `--exec`, the command is started once per item (through
//! `sh -c`) and the item counts as delivered when it exits with 0; otherwise the engine
//! records the failure for the consumer `run` and offers the item again once its backoff
//! has passed (at least once; the `id` of each line is the key to drop duplicates; see
//! `mentorflow outbox`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};

use mentorflow::{Hook, HookError, Notification, Signal};
use serde::Serialize;
use serde_json::Value;

use mentorflow_server::jobs;

use super::Ctx;
use crate::args::RunArgs;
use crate::output::{self, CliError};

/// Delivers notifications and signals as JSON lines.
#[derive(Debug)]
struct Deliver {
    exec: Option<String>,
    /// One delivery at a time, so lines never interleave.
    lock: Mutex<()>,
}

impl Deliver {
    fn send(&self, kind: &str, item: &impl Serialize) -> Result<(), HookError> {
        let mut v = serde_json::to_value(item)?;
        if let Value::Object(m) = &mut v {
            m.insert("type".into(), Value::String(kind.to_owned()));
        }
        let line = format!("{}\n", serde_json::to_string(&v)?);
        let _guard = match self.lock.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        match &self.exec {
            None => {
                let mut out = std::io::stdout().lock();
                out.write_all(line.as_bytes())?;
                out.flush()?;
                Ok(())
            }
            Some(cmd) => {
                let mut child = shell(cmd)
                    .stdin(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("cannot start `{cmd}`: {e}"))?;
                if let Some(mut stdin) = child.stdin.take() {
                    // A command that does not read its input is not a failed delivery.
                    let _ = stdin.write_all(line.as_bytes());
                }
                let status = child.wait()?;
                if status.success() {
                    Ok(())
                } else {
                    Err(format!("`{cmd}` failed ({status})").into())
                }
            }
        }
    }
}

impl Hook for Deliver {
    /// The consumer name of the worker's delivery (`mentorflow outbox list` shows it).
    fn name(&self) -> &str {
        "run"
    }
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        self.send("notification", n)
    }

    fn on_signal(&self, s: &Signal) -> Result<(), HookError> {
        self.send("signal", s)
    }
}

#[cfg(not(windows))]
fn shell(cmd: &str) -> Command {
    let mut c = Command::new("sh");
    c.arg("-c").arg(cmd);
    c
}

#[cfg(windows)]
fn shell(cmd: &str) -> Command {
    let mut c = Command::new("cmd");
    c.arg("/C").arg(cmd);
    c
}

fn log(msg: &str) {
    eprintln!("mentorflow run: {msg}");
}

/// What ends the worker's wait before its interval.
enum Msg {
    /// Ctrl-C or SIGTERM.
    Stop,
    /// Another process committed a timer due soon or an outbox row.
    Wake,
}

/// How long to wait before the next tick: the interval, or less when a timer (or a delivery
/// retry) is due sooner — at least a few milliseconds, so a worker never spins.
fn pause(engine: &mentorflow::Engine, interval: std::time::Duration) -> std::time::Duration {
    const MIN: std::time::Duration = std::time::Duration::from_millis(20);
    match engine.next_due() {
        Ok(Some(due)) => (due - engine.now())
            .to_std()
            .unwrap_or_default()
            .clamp(MIN, interval.max(MIN)),
        _ => interval,
    }
}

pub fn run(ctx: &Ctx, a: RunArgs) -> Result<(), CliError> {
    let (file, ctx) = super::serve::with_config_file(ctx, a.config.as_deref())?;
    let ctx = &ctx;
    let mut retention = file.retention().map_err(|e| CliError::coded("config", e))?;
    let hook: Arc<dyn mentorflow::Hook> = Arc::new(Deliver {
        exec: a.exec.clone(),
        lock: Mutex::new(()),
    });
    let engine = ctx.open_with(vec![hook], true, |b| match &file.operator_roles {
        Some(roles) if ctx.operator_roles.is_empty() => b.operator_roles(roles.clone()),
        _ => b,
    })?;
    for h in jobs::attach_webhooks(&engine, &file).map_err(|e| CliError::coded("config", e))? {
        log(&format!("webhook {h}"));
    }
    if let Some(t) = &retention {
        log(&format!(
            "retention {}",
            super::serve::describe_retention(t)
        ));
    }
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut _wakeups = None;
    if !a.once {
        let stop = tx.clone();
        ctrlc::set_handler(move || {
            let _ = stop.send(Msg::Stop);
        })
        .map_err(|e| CliError::msg(format!("cannot catch Ctrl-C: {e}")))?;
        log(&format!(
            "ticking every {} on {}; Ctrl-C stops",
            humantime::format_duration(a.interval),
            ctx.db_path().display()
        ));
        // Other processes' commits wake the worker early (PostgreSQL); it polls anyway.
        let wake = tx.clone();
        let wakeups = engine.wake_on_commits(move || {
            let _ = wake.send(Msg::Wake);
        })?;
        if wakeups.is_listening() {
            log("woken early by other processes' timers due soon and outbox rows");
        }
        _wakeups = Some(wakeups);
    }
    let interval = a.interval;
    loop {
        match engine.tick() {
            Ok(r) => {
                if r.fired > 0 || r.delivered > 0 || r.delivery_failures > 0 || !r.failed.is_empty()
                {
                    log(&format!(
                        "{}: fired {} timer{}, delivered {}, {} delivery failure{}",
                        output::time(engine.now()),
                        r.fired,
                        output::plural(r.fired),
                        r.delivered,
                        r.delivery_failures,
                        output::plural(r.delivery_failures)
                    ));
                }
                for f in &r.failed {
                    log(&format!("failed: {f}"));
                }
            }
            // A long-running worker outlives a busy or briefly failing database.
            Err(e) if !a.once => log(&format!("tick failed: {e}")),
            Err(e) => return Err(e.into()),
        }
        if let Some(timer) = &mut retention {
            match jobs::retention_round(&engine, timer) {
                Some(Ok(line)) => log(&line),
                Some(Err(line)) if a.once => return Err(CliError::msg(line)),
                Some(Err(line)) => log(&line),
                None => {}
            }
        }
        if a.once {
            break;
        }
        // sooner when a timer is due first, or a scheduled retention run
        let next = pause(&engine, interval);
        let wait = jobs::until_retention(retention.as_ref(), engine.now())
            .map_or(next, |r| next.min(r.max(std::time::Duration::from_secs(1))));
        match rx.recv_timeout(wait) {
            Err(mpsc::RecvTimeoutError::Timeout) | Ok(Msg::Wake) => {}
            Ok(Msg::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if !a.once {
        log("stopped");
    }
    Ok(())
}
