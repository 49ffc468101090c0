//! `mentorflow demo`.

use super::Ctx;
use crate::output::CliError;

pub fn run(_ctx: &Ctx) -> Result<(), CliError> {
    Err(CliError::msg("demo pending"))
}
