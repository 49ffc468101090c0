//! `mentorflow completions SHELL`.

use clap::CommandFactory;

use crate::args::{Cli, CompletionsArgs};
use crate::output::CliError;

pub fn run(a: CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = Cli::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "mentorflow", &mut buf);
    crate::output::print(&String::from_utf8_lossy(&buf));
    Ok(())
}
