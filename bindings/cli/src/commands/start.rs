//! `mentorflow start WORKFLOW --as PERSON [--org ORG] [--action NAME] [--set FIELD=VALUE]... [--data JSON]`

use mentorflow::Start;

use super::{object, report_step, set_value, Ctx};
use crate::args::StartArgs;
use crate::output::CliError;

pub fn run(ctx: &Ctx, a: StartArgs) -> Result<(), CliError> {
    let engine = ctx.engine()?;
    let def = engine.definition(&a.workflow)?;
    let action = match &a.action {
        Some(name) => def.action(name),
        None => def.default_start(),
    };
    let mut data = object(a.data);
    let mut inputs = object(a.inputs);
    // `--set` names a field, or an input of the start action that is not also a field.
    for (name, raw) in a.set {
        let input = action.and_then(|x| x.inputs.iter().find(|f| f.name == name));
        match (def.field(&name), input) {
            (None, Some(i)) => {
                inputs.insert(name, set_value(&raw, Some(i.kind)));
            }
            (f, _) => {
                let v = set_value(&raw, f.map(|f| f.kind));
                data.insert(name, v);
            }
        }
    }
    let case = engine.start_with(Start {
        workflow: a.workflow,
        action: a.action,
        actor: a.actor,
        org: a.org,
        data,
        inputs,
        idempotency_key: None,
    })?;
    report_step(ctx, &engine, &case, "started")
}
