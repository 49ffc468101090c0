//! `mentorflow tick`: fire the timers due now (or at `--now`).

use super::Ctx;
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx) -> Result<(), CliError> {
    let engine = ctx.engine()?;
    let report = engine.tick()?;
    if ctx.out.json {
        return ctx.out.print_json(&report);
    }
    output::line(&format!(
        "fired {} timer{} at {}",
        report.fired,
        output::plural(report.fired),
        output::time(engine.now())
    ));
    for f in &report.failed {
        output::line(&format!("  {} {f}", ctx.out.red("failed:")));
    }
    Ok(())
}
