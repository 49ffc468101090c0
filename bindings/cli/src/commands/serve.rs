//! `mentorflow serve`: the portal (see the mentorflow-server crate and docs/serve.md).

use std::sync::Arc;

use mentorflow_server::{mail, App, Config};

use super::{demo, Ctx};
use crate::args::ServeArgs;
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: &ServeArgs) -> Result<(), CliError> {
    let (engine, people) = if a.demo {
        if ctx
            .db
            .as_deref()
            .is_some_and(|p| p.as_os_str() == ":memory:")
        {
            return Err(CliError::msg(
                "serve --demo needs a database file (--db :memory: cannot be filled and then served)",
            ));
        }
        let path = demo::fresh_db(ctx, a.force)?;
        let people = demo::seed(&path, ctx.workflows.as_deref())?;
        let engine = demo::builder(&path, ctx.workflows.as_deref())
            .limits(ctx.limits)
            .build()?;
        (engine, people)
    } else {
        (ctx.engine()?, Vec::new())
    };
    let engine = Arc::new(engine);
    let mut config = Config {
        demo: a.demo,
        secure_cookies: a.secure_cookies,
        ..Config::default()
    };
    if let Some(dir) = &a.mail_dir {
        config.mail = mail::Transport::File(dir.clone());
    }
    let public = a.public_url.clone();
    let addr = a.addr.clone();
    // the public URL is known once the address is bound (port 0 picks a free one)
    let bound = std::net::TcpListener::bind(&addr)
        .map_err(|e| CliError::msg(format!("cannot listen on {addr}: {e}")))?;
    let local = bound
        .local_addr()
        .map_err(|e| CliError::msg(format!("cannot listen on {addr}: {e}")))?;
    drop(bound);
    let local_addr = local.to_string();
    config.public_url = public
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();
    let url = config.public_url.clone();
    let app = App::new(engine.clone(), config);
    mentorflow_server::serve_blocking(app, &local_addr, |at| {
        output::line(&format!(
            "mentorflow serve: listening on http://{at} (public address {url})"
        ));
        if a.demo {
            output::line(&format!(
                "Demo: sign in as anyone at {url}/demo, or follow a person's link:"
            ));
            for (id, name, org, roles) in &people {
                let secret = mentorflow_server::new_secret();
                let link = match engine.issue_token(
                    &secret,
                    "sign_in",
                    id,
                    serde_json::json!({}),
                    chrono::Duration::hours(24),
                ) {
                    Ok(_) => format!("{url}/sign-in/{secret}"),
                    Err(e) => format!("(no link: {e})"),
                };
                let roles = if roles.is_empty() {
                    "client".to_owned()
                } else {
                    roles.clone()
                };
                output::line(&format!("  {name:14} {org:10} {roles:12} {link}"));
            }
        }
        output::line("Stop with Ctrl-C.");
    })
    .map_err(|e| CliError::msg(format!("serve: {e}")))
}
