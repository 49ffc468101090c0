//! `mentorflow notifications [--case ID] [--to P] [--all] [--ack ID...]`

use mentorflow::NotificationFilter;

use super::Ctx;
use crate::args::NotificationsArgs;
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: NotificationsArgs) -> Result<(), CliError> {
    // listing and acknowledging only touch notifications that exist
    let engine = ctx.engine_read()?;
    if !a.ack.is_empty() {
        for id in &a.ack {
            engine.ack(*id)?;
        }
        if ctx.out.json {
            return ctx
                .out
                .print_json(&serde_json::json!({ "acknowledged": a.ack }));
        }
        output::line(&format!(
            "acknowledged {} notification{}",
            a.ack.len(),
            output::plural(a.ack.len())
        ));
        return Ok(());
    }
    let list = engine.notifications(&NotificationFilter {
        case_id: a.case,
        to: a.to,
        pending: !a.all,
    })?;
    if ctx.out.json {
        return ctx.out.print_json(&list);
    }
    if list.is_empty() {
        output::line(if a.all {
            "no notifications"
        } else {
            "no pending notifications (--all includes acknowledged ones)"
        });
        return Ok(());
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|n| {
            let status = if n.acked_at.is_some() {
                "acked".to_owned()
            } else if n.delivered_at.is_some() {
                "delivered".to_owned()
            } else if let Some(e) = &n.last_error {
                format!("failed ×{}: {e}", n.attempts)
            } else {
                "pending".to_owned()
            };
            vec![
                n.id.to_string(),
                output::time(n.at),
                n.case_id.map(|c| c.to_string()).unwrap_or_default(),
                n.to.clone(),
                n.template.clone(),
                status,
                n.subject.clone(),
            ]
        })
        .collect();
    output::print(&output::table(
        &["ID", "AT", "CASE", "TO", "TEMPLATE", "STATUS", "SUBJECT"],
        &rows,
        &ctx.out,
    ));
    Ok(())
}
