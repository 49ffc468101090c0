//! `mentorflow migrate PLAN [--dry-run] [--cases IDS]`: move the open cases of a workflow
//! version to another version by a migration plan ([`mentorflow::Engine::migrate`]), each
//! case in its own transaction. One block per case (would move / moved / refused and why,
//! with the state, field, role and timer changes), then the counts. Exit 1 when a case was
//! refused.

use mentorflow::{Error, MigrateOptions, MigrationOutcome, MigrationPlan, TimerFate};
use serde_json::Value;

use super::Ctx;
use crate::args::MigrateArgs;
use crate::output::{self, CliError};

fn show(v: &Value) -> String {
    if v.is_null() {
        "(unset)".to_owned()
    } else {
        v.to_string()
    }
}

fn at(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A plan's problems: listed, then one line naming the plan (not "workflow files").
fn plan_error(e: Error, plan: &str) -> CliError {
    match e {
        Error::Definition { problems } if problems.iter().all(|p| p.file == plan) => {
            let n = problems.len();
            let mut c = CliError::from(Error::Definition { problems });
            c.message = format!(
                "{n} problem{} in the migration plan {plan}; fix {} (nothing was migrated)",
                output::plural(n),
                if n == 1 { "it" } else { "them" }
            );
            c
        }
        other => other.into(),
    }
}

pub fn run(ctx: &Ctx, a: &MigrateArgs) -> Result<(), CliError> {
    // the plan's shape first: a broken plan never opens (or creates) a database
    let name = a.plan.display().to_string();
    let plan = MigrationPlan::load(&a.plan).map_err(|e| plan_error(e, &name))?;
    let engine = ctx.engine_read()?;
    let options = MigrateOptions {
        dry_run: a.dry_run,
        cases: (!a.cases.is_empty()).then(|| a.cases.clone()),
    };
    let r = engine
        .migrate(&plan, &options)
        .map_err(|e| plan_error(e, &name))?;
    let out = &ctx.out;
    if out.json {
        out.print_json(&r)?;
    } else {
        for c in &r.cases {
            let to = c.to_state.as_deref().unwrap_or("?");
            match c.outcome {
                MigrationOutcome::Refused => {
                    output::line(&format!(
                        "{}        case {} ({}): {}",
                        out.red("refused"),
                        c.case,
                        c.from_state,
                        c.reason.as_deref().unwrap_or("")
                    ));
                    continue;
                }
                MigrationOutcome::WouldMigrate => output::line(&format!(
                    "{}  case {}: {} → {}",
                    out.green("would migrate"),
                    c.case,
                    c.from_state,
                    to
                )),
                MigrationOutcome::Migrated => output::line(&format!(
                    "{}       case {}: {} → {}",
                    out.green("migrated"),
                    c.case,
                    c.from_state,
                    to
                )),
            }
            let pad = "               ";
            for f in &c.fields {
                let name = match &f.renamed_from {
                    Some(old) => format!("{old} → {}", f.field),
                    None => f.field.clone(),
                };
                if f.renamed_from.is_some() && f.before == f.after {
                    output::line(&format!("{pad}field {name}: {}", show(&f.after)));
                } else {
                    output::line(&format!(
                        "{pad}field {name}: {} → {}",
                        show(&f.before),
                        show(&f.after)
                    ));
                }
            }
            for role in &c.roles {
                let to = role.to.as_deref().unwrap_or("(off the case)");
                output::line(&format!(
                    "{pad}role {} → {to}: {}",
                    role.from,
                    role.people.join(", ")
                ));
            }
            for t in &c.timers {
                let text = match (t.fate, t.due, t.was_due) {
                    (TimerFate::Kept, Some(due), _) => format!("kept, due {}", at(due)),
                    (TimerFate::Scheduled, Some(due), Some(was)) => {
                        format!("scheduled again, due {} (was {})", at(due), at(was))
                    }
                    (TimerFate::Scheduled, Some(due), None) => {
                        format!("scheduled, due {}", at(due))
                    }
                    (TimerFate::Dropped, _, Some(was)) => {
                        format!("dropped (was due {})", at(was))
                    }
                    (TimerFate::AlreadyFired, ..) => {
                        "kept: already fired, not scheduled again".to_owned()
                    }
                    _ => format!("{:?}", t.fate).to_lowercase(),
                };
                output::line(&format!("{pad}timer {}: {text}", t.name));
            }
        }
        if !r.cases.is_empty() {
            output::line("");
        }
        let moved = if r.dry_run {
            "would migrate"
        } else {
            "migrated"
        };
        output::line(&format!(
            "{} v{} → v{}{}: {} {moved}, {} refused, {} closed case{} left on v{}",
            r.workflow,
            r.from,
            r.to,
            if r.dry_run { " (dry run)" } else { "" },
            r.migrated,
            r.refused,
            r.closed,
            output::plural(r.closed),
            r.from
        ));
    }
    if r.refused > 0 {
        return Err(CliError::coded(
            "migration_refused",
            format!(
                "{} case{} of {} v{} {} not be migrated; {} on v{}",
                r.refused,
                output::plural(r.refused),
                r.workflow,
                r.from,
                if r.dry_run { "would" } else { "could" },
                if r.refused == 1 {
                    "it stays"
                } else {
                    "they stay"
                },
                r.from
            ),
        ));
    }
    Ok(())
}
