//! `mentorflow`: run, inspect, test and draw mentoring workflows from the command line.

mod args;
mod commands;
mod output;

use std::process::ExitCode;

use clap::FromArgMatches;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error ({info}); please report it with the command you ran");
    }));
    let parsed = args::command()
        .try_get_matches()
        .and_then(|m| Ok((args::Cli::from_arg_matches(&m)?, args::ignored_globals(&m))));
    match parsed {
        Ok((cli, ignored)) => {
            for warning in ignored {
                output::warn_text(&warning, cli.json);
            }
            commands::run(cli)
        }
        Err(e) => usage_error(&e),
    }
}

/// A usage error (exit 2), as one JSON line on stderr when `--json` was given; help and
/// `--version` are printed as clap prints them.
fn usage_error(e: &clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    let json = std::env::args_os().any(|a| a == "--json");
    if !json || matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        e.exit();
    }
    let message = e.kind().as_str().map_or_else(
        || e.to_string(),
        |kind| {
            // clap's own text, without its "Usage:" block and tips
            let text = e.to_string();
            let first = text.lines().next().unwrap_or(kind).trim();
            first.strip_prefix("error: ").unwrap_or(first).to_owned()
        },
    );
    let mut err = output::CliError::coded("usage", message);
    err.details
        .insert("kind".into(), serde_json::json!(format!("{:?}", e.kind())));
    err.print(true);
    ExitCode::from(2)
}
