//! `mentorflow health`: what an operator checks first — the database, its schema version, the
//! last committed instant, overdue timers, the outbox backlog and open incidents. Exits
//! non-zero when unhealthy (a timer overdue past the grace period, a delivery that failed, a
//! dead letter, or an open incident).

use serde_json::json;

use super::Ctx;
use crate::args::HealthArgs;
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: HealthArgs) -> Result<(), CliError> {
    let path = ctx.db_path();
    // Checking a database must not create one.
    let engine = ctx.engine_read()?;
    let grace = chrono::Duration::seconds(i64::try_from(a.grace).unwrap_or(i64::MAX));
    let h = engine.health(grace)?;
    let mut problems = Vec::new();
    if h.overdue_timers > 0 {
        problems.push(format!(
            "{} timer(s) due more than {}s ago (is a worker running? `mentorflow run`)",
            h.overdue_timers, a.grace
        ));
    }
    if h.failed_deliveries > 0 {
        problems.push(format!(
            "{} notification(s) or signal(s) failed delivery (`mentorflow outbox list`)",
            h.failed_deliveries
        ));
    }
    if h.dead_letters > 0 {
        problems.push(format!(
            "{} dead letter(s): deliveries that failed every attempt (`mentorflow outbox list --status dead`, then `outbox retry ID` or `outbox drop ID`)",
            h.dead_letters
        ));
    }
    if h.open_incidents > 0 {
        problems.push(format!(
            "{} open incident(s): timer firings that failed (`mentorflow incidents`, then `incidents retry ID` or `incidents resolve ID --note …`)",
            h.open_incidents
        ));
    }
    let out = &ctx.out;
    if out.json {
        let mut v = serde_json::to_value(&h)
            .map_err(|e| CliError::msg(format!("cannot write JSON: {e}")))?;
        if let Some(m) = v.as_object_mut() {
            m.insert("database".into(), json!(path.display().to_string()));
            m.insert("grace_seconds".into(), json!(a.grace));
            m.insert("healthy".into(), json!(h.healthy()));
            m.insert("problems".into(), json!(problems));
        }
        out.print_json(&v)?;
    } else {
        let never = || "never".to_owned();
        let text = output::pairs(&[
            ("database".into(), path.display().to_string()),
            ("schema version".into(), h.schema_version.to_string()),
            (
                "last committed".into(),
                h.last_committed_at.map_or_else(never, output::time),
            ),
            ("clock".into(), output::time(h.now)),
            (
                "next timer due".into(),
                h.next_due.map_or_else(|| "none".to_owned(), output::time),
            ),
            ("overdue timers".into(), h.overdue_timers.to_string()),
            (
                "outbox backlog".into(),
                format!(
                    "{} waiting, {} failed",
                    h.outbox_backlog, h.failed_deliveries
                ),
            ),
            ("dead letters".into(), h.dead_letters.to_string()),
            ("open incidents".into(), h.open_incidents.to_string()),
        ]);
        output::print(&text);
        if problems.is_empty() {
            output::line(&out.green("healthy"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(CliError::coded(
            "unhealthy",
            format!("unhealthy: {}", problems.join("; ")),
        ))
    }
}
