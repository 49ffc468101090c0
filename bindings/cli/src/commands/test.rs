//! `mentorflow test [FILES|DIRS] [--coverage] [--min-coverage P]`: run scenario files through
//! the core's scenario runner; one line per scenario, the failures with file:line, step,
//! expected and actual, then `N passed, M failed`. With `--min-coverage`, a workflow whose
//! transition coverage is below P fails the run, naming what no scenario reached.

use std::path::PathBuf;
use std::sync::Arc;

use mentorflow::scenario::{self, Report};
use serde_json::json;

use super::Ctx;
use crate::args::TestArgs;
use crate::output::{self, CliError};

/// Scenario folder used when no path is given.
const DEFAULT_SCENARIOS: &str = "tests/scenarios";

pub fn run(ctx: &Ctx, a: TestArgs) -> Result<(), CliError> {
    let paths = if a.paths.is_empty() {
        let d = PathBuf::from(DEFAULT_SCENARIOS);
        if !d.is_dir() {
            return Err(CliError::coded(
                "not_found",
                format!("no scenario paths given and `{DEFAULT_SCENARIOS}` does not exist; name scenario files or folders"),
            ));
        }
        vec![d]
    } else {
        a.paths
    };
    let (workflows, _) = ctx.workflows_dir();
    if let Some(url) = &a.postgres {
        if !matches!(
            mentorflow::store::Location::parse(url),
            mentorflow::store::Location::Postgres(_)
        ) {
            return Err(CliError::coded(
                "usage",
                format!("--postgres takes a postgres:// or postgresql:// URL, got `{url}`"),
            ));
        }
    }
    let reports = scenario::run_paths_on(&paths, &workflows, a.postgres.as_deref());
    let failed = reports.iter().filter(|r| !r.passed).count();
    let passed = reports.len() - failed;
    let coverage = if a.coverage || a.min_coverage.is_some() {
        let (defs, problems) = super::validate::load(std::slice::from_ref(&workflows), ctx.limits)?;
        if !problems.is_empty() {
            return Err(mentorflow::Error::Definition { problems }.into());
        }
        let defs: Vec<Arc<_>> = defs.into_iter().map(Arc::new).collect();
        Some(scenario::uncovered(&reports, &defs))
    } else {
        None
    };
    let below = match (&coverage, a.min_coverage) {
        (Some(cov), Some(min)) => scenario::below_threshold(cov, min),
        _ => Vec::new(),
    };
    let out = &ctx.out;
    if out.json {
        out.print_json(&json!({
            "reports": reports,
            "passed": passed,
            "failed": failed,
            "uncovered": coverage,
            "min_coverage": a.min_coverage,
            "below_min_coverage": below,
        }))?;
    } else {
        for r in &reports {
            print_report(ctx, r);
        }
        if let Some(cov) = &coverage {
            output::line("");
            output::line(&out.bold("coverage"));
            for u in cov {
                output::line(&format!(
                    "  {} v{}: {}/{} transitions taken ({:.1}%)",
                    u.workflow,
                    u.version,
                    u.transitions_covered,
                    u.transitions_total,
                    u.ratio()
                ));
                if !u.transitions.is_empty() {
                    output::line("    not reached transitions:");
                    for t in &u.transitions {
                        output::line(&format!("      {t}"));
                    }
                }
                for (what, list) in [
                    ("actions", &u.actions),
                    ("states", &u.states),
                    ("timers", &u.timers),
                ] {
                    if !list.is_empty() {
                        output::line(&format!("    not reached {what}: {}", list.join(", ")));
                    }
                }
            }
        }
        if !reports.is_empty() {
            output::line("");
        }
        output::line(&format!("{passed} passed, {failed} failed"));
    }
    if reports.is_empty() {
        return Err(CliError::coded(
            "not_found",
            "no scenario files found (*.yaml, *.yml)",
        ));
    }
    if failed > 0 {
        return Err(CliError::coded(
            "test_failed",
            format!("{failed} scenario{} failed", output::plural(failed)),
        ));
    }
    if !below.is_empty() {
        return Err(CliError::coded(
            "coverage_below_minimum",
            format!(
                "transition coverage below --min-coverage:\n  {}",
                below.join("\n  ")
            ),
        ));
    }
    Ok(())
}

fn print_report(ctx: &Ctx, r: &Report) {
    let out = &ctx.out;
    match &r.failure {
        None => output::line(&format!(
            "{}      {} {}",
            out.green("ok"),
            r.name,
            out.dim(&format!("({}, {} steps)", r.file, r.steps_run))
        )),
        Some(f) => {
            output::line(&format!(
                "{}  {} {}",
                out.red("FAILED"),
                r.name,
                out.dim(&format!("({})", r.file))
            ));
            let place = if f.step == 0 {
                f.label.clone()
            } else {
                format!("step {} ({})", f.step, f.label)
            };
            output::line(&format!("        {}:{}: {place}", f.file, f.line));
            output::line(&format!("          expected: {}", f.expected));
            output::line(&format!("          actual:   {}", f.actual));
        }
    }
}
