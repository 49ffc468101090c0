//! `mentorflow retention run [--dry-run] --export FILE`: closed cases older than their
//! organisation's `retention` setting, exported with their history, then purged or
//! anonymised.

use std::io::BufWriter;

use super::Ctx;
use crate::args::RetentionCommand;
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, c: RetentionCommand) -> Result<(), CliError> {
    let RetentionCommand::Run(r) = c;
    let engine = ctx.engine_read()?;
    let out = &ctx.out;
    let report = match (&r.export, r.dry_run) {
        (_, true) => engine.run_retention(true, &mut std::io::sink(), None)?,
        (Some(path), false) => {
            // never overwrite an export: it may be the only copy of purged cases
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| {
                    CliError::msg(format!(
                        "cannot create the export `{}`: {e} (retention never overwrites a file)",
                        path.display()
                    ))
                })?;
            let mut w = BufWriter::new(file);
            let report = engine.run_retention(false, &mut w, None)?;
            w.into_inner()
                .map_err(|e| CliError::msg(format!("cannot write `{}`: {e}", path.display())))?
                .sync_all()
                .map_err(|e| CliError::msg(format!("cannot write `{}`: {e}", path.display())))?;
            report
        }
        (None, false) => return Err(CliError::msg("retention run needs --export FILE")),
    };
    if out.json {
        return out.print_json(&report);
    }
    if report.cases.is_empty() {
        output::line("no closed case is due for retention");
        return Ok(());
    }
    let rows: Vec<Vec<String>> = report
        .cases
        .iter()
        .map(|c| {
            vec![
                c.case.to_string(),
                c.workflow.clone(),
                c.org.clone(),
                c.outcome.clone(),
            ]
        })
        .collect();
    output::print(&output::table(
        &["CASE", "WORKFLOW", "ORG", "OUTCOME"],
        &rows,
        out,
    ));
    if report.dry_run {
        output::line("dry run: nothing written or changed");
    }
    Ok(())
}
