//! `mentorflow replay WORKFLOW --version N [--cases IDS]`: re-run recorded cases against a
//! version on a scratch in-memory engine ([`mentorflow::Engine::replay`]); one line per case
//! (identical, or the first divergence), then the counts. Exit 1 when a case diverged. The
//! database is only read.

use mentorflow::ReplayOutcome;

use super::Ctx;
use crate::args::ReplayArgs;
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: ReplayArgs) -> Result<(), CliError> {
    let engine = ctx.engine_read()?;
    let cases = (!a.cases.is_empty()).then_some(a.cases.as_slice());
    let r = engine.replay(&a.workflow, a.version, cases)?;
    let out = &ctx.out;
    if out.json {
        out.print_json(&r)?;
    } else {
        for c in &r.cases {
            let head = format!("case {} (v{}, {} events)", c.case, c.version, c.events);
            match c.outcome {
                ReplayOutcome::Identical => {
                    output::line(&format!("{}  {head}", out.green("identical")))
                }
                ReplayOutcome::NotReplayable => output::line(&format!(
                    "{}  {head}: {}",
                    out.dim("skipped"),
                    c.reason.as_deref().unwrap_or("")
                )),
                ReplayOutcome::Diverged => {
                    output::line(&format!("{}   {head}", out.red("diverged")));
                    if let Some(d) = &c.divergence {
                        output::line(&format!("           {d}"));
                    }
                }
            }
        }
        if !r.cases.is_empty() {
            output::line("");
        }
        output::line(&format!(
            "{} v{}: {} identical, {} diverged, {} not replayable",
            r.workflow, r.version, r.identical, r.diverged, r.not_replayable
        ));
    }
    if r.diverged > 0 {
        return Err(CliError::coded(
            "replay_diverged",
            format!(
                "{} case{} diverged on {} v{}",
                r.diverged,
                output::plural(r.diverged),
                r.workflow,
                r.version
            ),
        ));
    }
    Ok(())
}
