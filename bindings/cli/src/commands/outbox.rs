//! `mentorflow outbox [list|retry ID|drop ID]`: the delivery records of consumers that failed
//! (retried with backoff, dead letters, dropped), and the operator's retry and drop.

use mentorflow::{DeliveryFilter, DeliveryStatus};
use serde_json::json;

use super::Ctx;
use crate::args::{OutboxArgs, OutboxCommand, OutboxList};
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: OutboxArgs) -> Result<(), CliError> {
    // only rows that exist are listed, retried or dropped: never create a database
    let engine = ctx.engine_read()?;
    let out = &ctx.out;
    match a.command.unwrap_or(OutboxCommand::List(OutboxList {
        limit: 1000,
        ..OutboxList::default()
    })) {
        OutboxCommand::List(l) => {
            let status = l.status.as_deref().map(DeliveryStatus::parse).transpose()?;
            let list = engine.deliveries(&DeliveryFilter {
                status,
                all: l.all,
                consumer: l.consumer,
                outbox_id: None,
                case_id: l.case,
                limit: Some(l.limit),
            })?;
            if out.json {
                return out.print_json(&list);
            }
            if list.is_empty() {
                output::line(if l.all || status.is_some() {
                    "no delivery records"
                } else {
                    "no failed deliveries (--all lists delivered and dropped ones too)"
                });
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|d| {
                    let when = match d.status {
                        DeliveryStatus::Retry => d
                            .next_attempt_at
                            .map(|t| format!("next {}", output::time(t)))
                            .unwrap_or_default(),
                        DeliveryStatus::Delivered => d
                            .delivered_at
                            .map(|t| format!("at {}", output::time(t)))
                            .unwrap_or_default(),
                        _ => d
                            .last_attempt_at
                            .map(|t| format!("last {}", output::time(t)))
                            .unwrap_or_default(),
                    };
                    vec![
                        d.outbox_id.to_string(),
                        d.consumer.clone(),
                        d.case_id.map(|c| c.to_string()).unwrap_or_default(),
                        d.to.clone().unwrap_or_default(),
                        d.template.clone(),
                        d.status.as_str().to_owned(),
                        d.attempts.to_string(),
                        when,
                        super::one_line(d.last_error.as_deref().unwrap_or("")),
                    ]
                })
                .collect();
            output::print(&output::table(
                &[
                    "ID",
                    "CONSUMER",
                    "CASE",
                    "TO",
                    "TEMPLATE",
                    "STATUS",
                    "ATTEMPTS",
                    "WHEN",
                    "LAST ERROR",
                ],
                &rows,
                out,
            ));
            Ok(())
        }
        OutboxCommand::Retry(t) => {
            let n = engine.retry_delivery(t.id, t.consumer.as_deref())?;
            if out.json {
                return out.print_json(&json!({ "id": t.id, "retried": n }));
            }
            output::line(&format!(
                "outbox row {}: {n} deliver{} put back for retry now (a worker with the consumer delivers it on its next tick)",
                t.id,
                if n == 1 { "y" } else { "ies" }
            ));
            Ok(())
        }
        OutboxCommand::Drop(t) => {
            let n = engine.drop_delivery(t.id, t.consumer.as_deref())?;
            if out.json {
                return out.print_json(&json!({ "id": t.id, "dropped": n }));
            }
            output::line(&format!(
                "outbox row {}: {n} deliver{} dropped (the row is kept; `mentorflow outbox retry {}` undoes it)",
                t.id,
                if n == 1 { "y" } else { "ies" },
                t.id
            ));
            Ok(())
        }
    }
}
