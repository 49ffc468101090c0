//! `mentorflow graph WORKFLOW [--format mermaid|dot|svg] [--case ID]`.

use mentorflow::graph::{self, Format, Trace};

use super::Ctx;
use crate::args::{GraphArgs, GraphFormat};
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: GraphArgs) -> Result<(), CliError> {
    let format = match a.format {
        GraphFormat::Mermaid => Format::Mermaid,
        GraphFormat::Dot => Format::Dot,
        GraphFormat::Svg => Format::Svg,
    };
    let text = match a.case {
        Some(id) => {
            let engine = ctx.engine_read()?;
            let case = engine.get(id, None)?;
            if case.workflow != a.workflow {
                return Err(CliError::coded(
                    "validation",
                    format!(
                        "case {id} runs workflow `{}`, not `{}`; run `mentorflow graph {} --case {id}`",
                        case.workflow, a.workflow, case.workflow
                    ),
                ));
            }
            let def = engine.definition_of(&case)?;
            let trace = Trace::from_history(&engine.history(id, None)?);
            if ctx.out.json {
                return ctx.out.print_json(&graph::to_json(&def, Some(&trace)));
            }
            graph::render(&def, format, Some(&trace))
        }
        None => {
            // Drawing needs no database: read the workflow files only.
            let (dir, _) = ctx.workflows_dir();
            let (defs, problems) = super::validate::load(std::slice::from_ref(&dir), ctx.limits)?;
            if !problems.is_empty() {
                return Err(mentorflow::Error::Definition { problems }.into());
            }
            let def = defs
                .iter()
                .filter(|d| d.id == a.workflow)
                .max_by_key(|d| d.version)
                .ok_or_else(|| mentorflow::Error::NotFound {
                    kind: "workflow",
                    id: a.workflow.clone(),
                    hint: Some(format!(
                        "in {}: {}",
                        dir.display(),
                        defs.iter()
                            .map(|d| d.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                })?;
            if ctx.out.json {
                return ctx.out.print_json(&graph::to_json(def, None));
            }
            graph::render(def, format, None)
        }
    };
    output::print(&text);
    Ok(())
}
