//! `mentorflow schema`: the JSON Schema of the workflow language.

use super::Ctx;
use crate::output::CliError;

pub fn run(ctx: &Ctx) -> Result<(), CliError> {
    ctx.out
        .print_json(&mentorflow::schema_json::workflow_schema())
}
