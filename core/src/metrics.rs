//! Metrics and structured logs: what the engine counts and what it tells `tracing`.
//!
//! **Counters** live in the engine (atomics, so recording one costs a few nanoseconds and no
//! lock): commands by kind and outcome, the latency of each command's transaction (a
//! histogram), timer firings and deliveries by outcome. They count what *this* engine did
//! since it was built (a process's own work, as Prometheus counters do). **Gauges** are read
//! from the database when asked ([`crate::Engine::metrics`]): timers due and overdue, the outbox
//! backlog and its failures, dead letters, open incidents — what every process sharing the
//! database sees.
//!
//! **Logs.** The engine emits `tracing` events (target `mentorflow`): one per command
//! (`command`, `case`, `action`, `duration_us`, `outcome`; `debug` when it succeeded, `info`
//! when it was refused, `warn` when it failed), one per timer sweep and per delivery pass
//! that did something, and one per failed firing or delivery (`warn`). Without a subscriber
//! (an embedder that installs none) they cost one relaxed atomic load each; the CLI and the
//! portal install one, filtered by `RUST_LOG` (see docs/operations.md).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::error::Error;

/// The commands the engine counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Command {
    Start,
    Act,
    Suspend,
    Resume,
    Cancel,
    Repair,
    Reassign,
}

const COMMANDS: [Command; 7] = [
    Command::Start,
    Command::Act,
    Command::Suspend,
    Command::Resume,
    Command::Cancel,
    Command::Repair,
    Command::Reassign,
];

impl Command {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Act => "act",
            Command::Suspend => "suspend",
            Command::Resume => "resume",
            Command::Cancel => "cancel",
            Command::Repair => "repair",
            Command::Reassign => "reassign",
        }
    }
}

/// A command's outcome: `ok`, or the error's code ([`Error::code`]).
const OUTCOMES: [&str; 11] = [
    "ok",
    "definition",
    "validation",
    "guard_rejected",
    "not_permitted",
    "not_found",
    "conflict",
    "script",
    "storage",
    "suspended",
    "cancelled",
];

fn outcome_index(code: &str) -> usize {
    OUTCOMES.iter().position(|o| *o == code).unwrap_or(0)
}

/// Upper bounds of the latency histogram's buckets, in seconds (then `+Inf`).
pub const LATENCY_BUCKETS: [f64; 14] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The engine's counters (atomics; shared by every clone of the engine).
#[derive(Debug)]
pub(crate) struct Recorder {
    commands: [[AtomicU64; OUTCOMES.len()]; COMMANDS.len()],
    /// Per bucket (not cumulative), the last one `+Inf`.
    latency: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
    timers_fired: AtomicU64,
    timers_failed: AtomicU64,
    delivered: AtomicU64,
    delivery_failures: AtomicU64,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            commands: std::array::from_fn(|_| std::array::from_fn(|_| AtomicU64::new(0))),
            latency: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_ns: AtomicU64::new(0),
            timers_fired: AtomicU64::new(0),
            timers_failed: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            delivery_failures: AtomicU64::new(0),
        }
    }
}

impl Recorder {
    /// Count one command and its latency, and log it.
    pub(crate) fn command(
        &self,
        command: Command,
        case: Option<i64>,
        action: &str,
        took: Duration,
        error: Option<&Error>,
    ) {
        let outcome = error.map_or("ok", Error::code);
        let c = COMMANDS.iter().position(|c| *c == command).unwrap_or(0);
        self.commands[c][outcome_index(outcome)].fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        let b = LATENCY_BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.latency[b].fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.latency_sum_ns.fetch_add(ns, Ordering::Relaxed);
        let command = command.as_str();
        let duration_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        match error {
            None => tracing::debug!(
                target: "mentorflow",
                command, case, action, duration_us, outcome, "command done"
            ),
            Some(e @ (Error::Script { .. } | Error::Storage { .. })) => tracing::warn!(
                target: "mentorflow",
                command, case, action, duration_us, outcome, error = %e, "command failed"
            ),
            Some(e) => tracing::info!(
                target: "mentorflow",
                command, case, action, duration_us, outcome, error = %e, "command refused"
            ),
        }
    }

    /// Count a sweep's firings.
    pub(crate) fn timers(&self, fired: usize, failed: usize) {
        self.timers_fired.fetch_add(fired as u64, Ordering::Relaxed);
        self.timers_failed
            .fetch_add(failed as u64, Ordering::Relaxed);
    }

    /// Count a delivery pass's outcomes.
    pub(crate) fn deliveries(&self, delivered: usize, failures: usize) {
        self.delivered
            .fetch_add(delivered as u64, Ordering::Relaxed);
        self.delivery_failures
            .fetch_add(failures as u64, Ordering::Relaxed);
    }

    /// The counters now, with the gauges given.
    pub(crate) fn snapshot(&self, gauges: Gauges) -> Metrics {
        let mut commands = Vec::new();
        for (c, row) in COMMANDS.iter().zip(&self.commands) {
            for (o, n) in OUTCOMES.iter().zip(row) {
                let count = n.load(Ordering::Relaxed);
                if count > 0 {
                    commands.push(CommandCount {
                        command: c.as_str().to_owned(),
                        outcome: (*o).to_owned(),
                        count,
                    });
                }
            }
        }
        let mut cumulative = 0;
        let mut buckets = Vec::with_capacity(LATENCY_BUCKETS.len());
        for (le, n) in LATENCY_BUCKETS.iter().zip(&self.latency) {
            cumulative += n.load(Ordering::Relaxed);
            buckets.push((*le, cumulative));
        }
        let count = cumulative + self.latency[LATENCY_BUCKETS.len()].load(Ordering::Relaxed);
        Metrics {
            commands,
            step_latency: Histogram {
                buckets,
                count,
                sum_seconds: self.latency_sum_ns.load(Ordering::Relaxed) as f64 / 1e9,
            },
            timers_fired: self.timers_fired.load(Ordering::Relaxed),
            timers_failed: self.timers_failed.load(Ordering::Relaxed),
            deliveries: self.delivered.load(Ordering::Relaxed),
            delivery_failures: self.delivery_failures.load(Ordering::Relaxed),
            gauges,
        }
    }
}

/// How many times one command ended with one outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandCount {
    /// `start`, `act`, `suspend`, `resume`, `cancel`, `repair` or `reassign` (one per case).
    pub command: String,
    /// `ok`, or the error code that refused it (`guard_rejected`, `not_permitted`…).
    pub outcome: String,
    /// How many.
    pub count: u64,
}

/// A latency histogram, Prometheus-style.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Histogram {
    /// Each bucket's upper bound in seconds and how many took at most that long (cumulative).
    pub buckets: Vec<(f64, u64)>,
    /// How many in all (the `+Inf` bucket).
    pub count: u64,
    /// Their total time, in seconds.
    pub sum_seconds: f64,
}

/// What the database shows when the metrics are read (every process's work).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Gauges {
    /// Pending timers due now (the next sweep fires them).
    pub timers_due: u64,
    /// Timers due longer ago than the grace period (5 minutes): no worker fires them.
    pub timers_overdue: u64,
    /// Notifications and signals not yet delivered to every consumer, acknowledged or dropped.
    pub outbox_backlog: u64,
    /// Of the backlog, those whose last delivery attempt failed.
    pub outbox_failed: u64,
    /// Dead letters waiting for an operator.
    pub dead_letters: u64,
    /// Open incidents (timer firings that failed).
    pub open_incidents: u64,
}

/// The engine's metrics ([`crate::Engine::metrics`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metrics {
    /// Commands by kind and outcome (only those that happened).
    pub commands: Vec<CommandCount>,
    /// The time of each command's transaction (`start`, `act`, the controls, each case of a
    /// reassignment).
    pub step_latency: Histogram,
    /// Timers fired by this engine's sweeps (incident retries included).
    pub timers_fired: u64,
    /// Timer firings that failed (each opened or updated an incident).
    pub timers_failed: u64,
    /// Outbox rows accepted by at least one of this engine's consumers.
    pub deliveries: u64,
    /// Failed delivery attempts to this engine's consumers.
    pub delivery_failures: u64,
    /// Read from the database.
    #[serde(flatten)]
    pub gauges: Gauges,
}

impl Metrics {
    /// How many `command`s ended with `outcome` (`ok` or an error code).
    pub fn count(&self, command: &str, outcome: &str) -> u64 {
        self.commands
            .iter()
            .find(|c| c.command == command && c.outcome == outcome)
            .map_or(0, |c| c.count)
    }

    /// The metrics in the Prometheus text exposition format (version 0.0.4).
    pub fn to_prometheus(&self) -> String {
        let mut out = String::with_capacity(4096);
        let head = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(
            &mut out,
            "mentorflow_commands_total",
            "counter",
            "Commands by kind and outcome (ok or the error code).",
        );
        for c in &self.commands {
            let _ = writeln!(
                out,
                "mentorflow_commands_total{{command=\"{}\",outcome=\"{}\"}} {}",
                c.command, c.outcome, c.count
            );
        }
        head(
            &mut out,
            "mentorflow_step_duration_seconds",
            "histogram",
            "Time of each command's transaction.",
        );
        for (le, n) in &self.step_latency.buckets {
            let _ = writeln!(
                out,
                "mentorflow_step_duration_seconds_bucket{{le=\"{le}\"}} {n}"
            );
        }
        let h = &self.step_latency;
        let _ = writeln!(
            out,
            "mentorflow_step_duration_seconds_bucket{{le=\"+Inf\"}} {}\nmentorflow_step_duration_seconds_sum {}\nmentorflow_step_duration_seconds_count {}",
            h.count, h.sum_seconds, h.count
        );
        head(
            &mut out,
            "mentorflow_timer_firings_total",
            "counter",
            "Timer firings by outcome.",
        );
        let _ = writeln!(
            out,
            "mentorflow_timer_firings_total{{outcome=\"fired\"}} {}\nmentorflow_timer_firings_total{{outcome=\"failed\"}} {}",
            self.timers_fired, self.timers_failed
        );
        head(
            &mut out,
            "mentorflow_deliveries_total",
            "counter",
            "Outbox deliveries by outcome.",
        );
        let _ = writeln!(
            out,
            "mentorflow_deliveries_total{{outcome=\"delivered\"}} {}\nmentorflow_deliveries_total{{outcome=\"failed\"}} {}",
            self.deliveries, self.delivery_failures
        );
        let g = &self.gauges;
        for (name, help, v) in [
            (
                "mentorflow_timers_due",
                "Pending timers due now.",
                g.timers_due,
            ),
            (
                "mentorflow_timers_overdue",
                "Timers due more than 5 minutes ago.",
                g.timers_overdue,
            ),
            (
                "mentorflow_outbox_backlog",
                "Outbox rows not yet delivered to every consumer.",
                g.outbox_backlog,
            ),
            (
                "mentorflow_outbox_failed",
                "Outbox rows whose last delivery attempt failed.",
                g.outbox_failed,
            ),
            (
                "mentorflow_dead_letters",
                "Deliveries that failed every attempt.",
                g.dead_letters,
            ),
            (
                "mentorflow_open_incidents",
                "Timer firings that failed and are not resolved.",
                g.open_incidents,
            ),
        ] {
            head(&mut out, name, "gauge", help);
            let _ = writeln!(out, "{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative_and_text_is_well_formed() {
        let r = Recorder::default();
        r.command(Command::Act, Some(1), "a", Duration::from_micros(100), None);
        r.command(Command::Act, Some(1), "a", Duration::from_millis(3), None);
        r.command(Command::Act, Some(1), "a", Duration::from_secs(60), None);
        let m = r.snapshot(Gauges::default());
        assert_eq!(m.count("act", "ok"), 3);
        assert_eq!(m.step_latency.count, 3);
        assert_eq!(m.step_latency.buckets[0], (0.000_25, 1));
        assert_eq!(m.step_latency.buckets[4], (0.005, 2));
        assert_eq!(m.step_latency.buckets.last().map(|b| b.1), Some(2));
        let text = m.to_prometheus();
        assert!(text.contains("mentorflow_commands_total{command=\"act\",outcome=\"ok\"} 3\n"));
        assert!(text.contains("mentorflow_step_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let (_, value) = line.rsplit_once(' ').unwrap_or_default();
            assert!(value.parse::<f64>().is_ok(), "bad sample line: {line}");
        }
    }
}
