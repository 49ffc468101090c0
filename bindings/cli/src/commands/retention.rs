//! `mentorflow retention run [--dry-run] --export FILE`: closed cases older than their
//! organisation's `retention` setting, exported with their history, then purged or
//! anonymised.

use super::Ctx;
use crate::args::RetentionCommand;
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, c: RetentionCommand) -> Result<(), CliError> {
    let RetentionCommand::Run(r) = c;
    let engine = ctx.engine_read()?;
    let out = &ctx.out;
    let report = match (&r.export, r.dry_run) {
        (_, true) => engine.run_retention(true, &mut std::io::sink(), None)?,
        // never overwrites a file; written and synced to disk before the first change
        (Some(path), false) => engine.run_retention_to_file(path, None)?,
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
