//! `mentorflow incidents [list|retry ID|resolve ID --note …]`: timer firings that failed,
//! retried by the engine with backoff and then left open for an operator.

use mentorflow::{Incident, IncidentFilter, IncidentStatus};

use super::Ctx;
use crate::args::{IncidentsArgs, IncidentsCommand, IncidentsList};
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: IncidentsArgs) -> Result<(), CliError> {
    // incidents live in an existing database: never create one
    let engine = ctx.engine_read()?;
    let out = &ctx.out;
    match a.command.unwrap_or(IncidentsCommand::List(IncidentsList {
        limit: 1000,
        ..IncidentsList::default()
    })) {
        IncidentsCommand::List(l) => {
            let status = l
                .status
                .as_deref()
                .map(str::parse::<IncidentStatus>)
                .transpose()
                .map_err(CliError::msg)?;
            let list = engine.incidents(&IncidentFilter {
                status,
                all: l.all,
                case_id: l.case,
                limit: Some(l.limit),
            })?;
            if out.json {
                return out.print_json(&list);
            }
            if list.is_empty() {
                output::line(if l.all || status.is_some() {
                    "no incidents"
                } else {
                    "no open incidents (--all lists resolved ones too)"
                });
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|i| {
                    vec![
                        i.id.to_string(),
                        i.case_id.to_string(),
                        format!("{}.{}", i.state, i.timer),
                        i.status.as_str().to_owned(),
                        i.attempts.to_string(),
                        when(i),
                        super::one_line(i.note.as_deref().unwrap_or(&i.error)),
                    ]
                })
                .collect();
            output::print(&output::table(
                &[
                    "ID",
                    "CASE",
                    "TIMER",
                    "STATUS",
                    "ATTEMPTS",
                    "WHEN",
                    "ERROR / NOTE",
                ],
                &rows,
                out,
            ));
            Ok(())
        }
        IncidentsCommand::Retry(t) => {
            let i = match &t.actor {
                Some(op) => engine.retry_incident_as(t.id, op)?,
                None => engine.retry_incident(t.id)?,
            };
            if out.json {
                out.print_json(&i)?;
            }
            if i.status == IncidentStatus::Open {
                return Err(CliError::coded(
                    "incident_open",
                    format!(
                        "incident {} failed again (attempt {}), rolled back and still open: {}",
                        i.id, i.attempts, i.error
                    ),
                ));
            }
            if !out.json {
                output::line(&format!(
                    "incident {} resolved: {}",
                    i.id,
                    i.note.as_deref().unwrap_or_default()
                ));
            }
            Ok(())
        }
        IncidentsCommand::Resolve(r) => {
            let i = match &r.actor {
                Some(op) => engine.resolve_incident_as(r.id, &r.note, op)?,
                None => engine.resolve_incident(r.id, &r.note)?,
            };
            if out.json {
                return out.print_json(&i);
            }
            output::line(&format!(
                "incident {} resolved without firing: {}",
                i.id,
                i.note.as_deref().unwrap_or_default()
            ));
            Ok(())
        }
    }
}

/// The time that matters for an incident's status.
fn when(i: &Incident) -> String {
    match (i.status, i.next_attempt_at, i.resolved_at) {
        (IncidentStatus::Open, Some(next), _) => format!("next {}", output::time(next)),
        (IncidentStatus::Open, None, _) => format!("waiting since {}", output::time(i.last_at)),
        (IncidentStatus::Resolved, _, Some(at)) => format!(
            "resolved {}{}",
            output::time(at),
            i.resolved_by
                .as_deref()
                .map(|b| format!(" by {b}"))
                .unwrap_or_default()
        ),
        (IncidentStatus::Resolved, _, None) => String::new(),
    }
}
