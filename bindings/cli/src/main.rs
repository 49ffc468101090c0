//! `mentorflow`: run, inspect, test and draw mentoring workflows from the command line.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error ({info}); please report it with the command you ran");
    }));
    commands::run(args::Cli::parse())
}
