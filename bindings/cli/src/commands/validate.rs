//! `mentorflow validate [FILES]`: load every workflow file and print every problem as
//! `file:line:col: message`.

use std::path::PathBuf;

use mentorflow::definition::{self, Definition};
use mentorflow::script::{Limits, Scripts};
use mentorflow::{Error, Problem};
use serde_json::json;

use super::Ctx;
use crate::args::ValidateArgs;
use crate::output::{self, CliError};

/// Load files and folders; returns the definitions that loaded and every problem.
pub fn load(
    paths: &[PathBuf],
    limits: Limits,
) -> Result<(Vec<Definition>, Vec<Problem>), CliError> {
    let scripts = Scripts::new(limits);
    let mut defs = Vec::new();
    let mut problems = Vec::new();
    for p in paths {
        let r = if p.is_dir() {
            definition::load_dir(p, &scripts)
        } else if p.exists() {
            definition::load_file(p, &scripts).map(|d| vec![d])
        } else {
            return Err(CliError::coded(
                "not_found",
                format!(
                    "`{}` does not exist; name workflow files or folders (default: --workflows, `workflows`)",
                    p.display()
                ),
            ));
        };
        match r {
            Ok(mut d) => defs.append(&mut d),
            Err(Error::Definition { problems: mut ps }) => problems.append(&mut ps),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((defs, problems))
}

pub fn run(ctx: &Ctx, a: ValidateArgs) -> Result<(), CliError> {
    let paths = if a.files.is_empty() {
        vec![ctx.workflows_dir().0]
    } else {
        a.files
    };
    let (defs, mut problems) = load(&paths, ctx.limits)?;
    // Against a database (--db, MENTORFLOW_DB, or mentorflow.db when it is here): a version
    // whose meaning changed while cases run on it would not be loaded. Nothing is written.
    let db = ctx.db_path();
    if db.exists() {
        let engine = mentorflow::Engine::builder()
            .database(&db)
            .open_existing()
            .limits(ctx.limits)
            .build()?;
        problems.extend(engine.deploy_conflicts(&defs)?);
    }
    let out = &ctx.out;
    if out.json {
        out.print_json(&json!({
            "valid": defs.iter().map(|d| json!({ "workflow": d.id, "version": d.version, "file": d.file })).collect::<Vec<_>>(),
            "problems": problems,
        }))?;
    } else {
        for p in &problems {
            output::line(&p.to_string());
        }
    }
    if problems.is_empty() {
        if !out.json {
            if defs.is_empty() {
                return Err(CliError::coded(
                    "not_found",
                    "no workflow files found (*.yaml, *.yml)",
                ));
            }
            output::line(&format!(
                "{} workflow{} valid",
                defs.len(),
                output::plural(defs.len())
            ));
        }
        Ok(())
    } else {
        let files: std::collections::BTreeSet<&str> =
            problems.iter().map(|p| p.file.as_str()).collect();
        Err(CliError::coded(
            "definition",
            format!(
                "{} problem{} in {} file{}",
                problems.len(),
                output::plural(problems.len()),
                files.len(),
                output::plural(files.len())
            ),
        ))
    }
}
