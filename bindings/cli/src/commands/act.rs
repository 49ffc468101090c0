//! `mentorflow act CASE ACTION --as PERSON [--set INPUT=VALUE]... [--inputs JSON]` and
//! `mentorflow actions CASE --as PERSON`.

use serde_json::Value;

use super::{object, report_step, set_value, Ctx};
use crate::args::{ActArgs, ActionsArgs};
use crate::output::{self, CliError};

pub fn act(ctx: &Ctx, a: ActArgs) -> Result<(), CliError> {
    let engine = ctx.engine()?;
    let mut inputs = object(a.inputs);
    if !a.set.is_empty() {
        // The declared input types decide how `--set` text is read.
        let case = engine.get(a.case, None)?;
        let def = engine.definition_of(&case).ok();
        let action = def.as_ref().and_then(|d| d.action(&a.action));
        for (name, raw) in a.set {
            let kind = action
                .and_then(|x| x.inputs.iter().find(|f| f.name == name))
                .map(|f| f.kind);
            inputs.insert(name, set_value(&raw, kind));
        }
    }
    let inputs = Value::Object(inputs);
    let case = match a.revision {
        Some(r) => engine.act_at(a.case, r, &a.action, &a.actor, inputs)?,
        None => engine.act(a.case, &a.action, &a.actor, inputs)?,
    };
    report_step(ctx, &engine, &case, "")
}

pub fn actions(ctx: &Ctx, a: ActionsArgs) -> Result<(), CliError> {
    let engine = ctx.engine_read()?;
    let ids = engine.actions(a.case, &a.actor)?;
    if ctx.out.json {
        let case = engine.get(a.case, None)?;
        let def = engine.definition_of(&case)?;
        let list: Vec<_> = ids
            .iter()
            .filter_map(|id| def.action(id))
            .map(|x| {
                serde_json::json!({
                    "action": x.id,
                    "label": x.label.as_deref().unwrap_or(&x.id),
                    "to": x.to.states(),
                    "stays": matches!(x.to, mentorflow::definition::Target::Stay),
                    "inputs": x.inputs.iter().map(|f| serde_json::json!({
                        "name": f.name, "type": f.kind, "required": f.required,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        return ctx.out.print_json(&list);
    }
    if ids.is_empty() {
        output::line(&format!(
            "{} may do nothing on case {} now",
            a.actor, a.case
        ));
        return Ok(());
    }
    let case = engine.get(a.case, None)?;
    let def = engine.definition_of(&case).ok();
    let rows: Vec<Vec<String>> = ids
        .iter()
        .map(|id| {
            let action = def.as_ref().and_then(|d| d.action(id));
            let to = action
                .map(|x| match &x.to {
                    mentorflow::definition::Target::Stay => "(stays)".to_owned(),
                    t => format!("→ {}", t.states().join(" | ")),
                })
                .unwrap_or_default();
            let inputs = action
                .map(|x| {
                    x.inputs
                        .iter()
                        .map(|f| {
                            if f.required {
                                format!("{}*", f.name)
                            } else {
                                f.name.clone()
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            vec![id.clone(), to, inputs]
        })
        .collect();
    output::print(&output::table(
        &["ACTION", "LEADS", "INPUTS (* required)"],
        &rows,
        &ctx.out,
    ));
    Ok(())
}
