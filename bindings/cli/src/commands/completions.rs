//! `mentorflow completions SHELL`.

use crate::args::CompletionsArgs;
use crate::output::CliError;

pub fn run(a: CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = crate::args::command();
    let mut buf = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "mentorflow", &mut buf);
    crate::output::print(&String::from_utf8_lossy(&buf));
    Ok(())
}
