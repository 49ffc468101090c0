//! `mentorflow test [FILES|DIRS] [--coverage]`.

use super::Ctx;
use crate::args::TestArgs;
use crate::output::CliError;

pub fn run(_ctx: &Ctx, _a: TestArgs) -> Result<(), CliError> {
    Err(CliError::msg("scenario runner pending"))
}
