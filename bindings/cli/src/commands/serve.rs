//! `mentorflow serve`: the portal (see the mentorflow-server crate and docs/serve.md).

use std::sync::Arc;

use mentorflow_server::config_file::FileConfig;
use mentorflow_server::links::LinkSigner;
use mentorflow_server::mail::{self, Mailer, NotificationMailer};
use mentorflow_server::{App, Config};

use super::{demo, Ctx};
use crate::args::ServeArgs;
use crate::output::{self, CliError};

/// The configuration file `serve` (and `run --config`) reads, and the command's context with
/// the file's `db` and `workflows` where no flag gave them: flags win over the file, the file
/// over the defaults.
pub(super) fn with_config_file(
    ctx: &Ctx,
    path: Option<&std::path::Path>,
) -> Result<(FileConfig, Ctx), CliError> {
    let file = match path {
        Some(path) => FileConfig::load(path).map_err(|e| CliError::coded("config", e))?,
        None => FileConfig::default(),
    };
    let ctx = Ctx {
        db: ctx.db.clone().or_else(|| file.db.clone()),
        workflows: ctx.workflows.clone().or_else(|| file.workflows.clone()),
        now: ctx.now,
        limits: ctx.limits,
        operator_roles: ctx.operator_roles.clone(),
        actor: ctx.actor.clone(),
        out: ctx.out,
    };
    Ok((file, ctx))
}

pub fn run(ctx: &Ctx, a: &ServeArgs) -> Result<(), CliError> {
    let (file, ctx) = with_config_file(ctx, a.config.as_deref())?;
    let ctx = &ctx;
    let addr = a
        .addr
        .clone()
        .or_else(|| file.addr.clone())
        .unwrap_or_else(|| "127.0.0.1:8080".to_owned());
    let mut config = Config {
        demo: a.demo,
        secure_cookies: a.secure_cookies || file.secure_cookies.unwrap_or(false),
        ..Config::default()
    };
    if let Some(t) = file
        .mail_transport()
        .map_err(|e| CliError::coded("config", e))?
    {
        config.mail = t;
    }
    if let Some(dir) = &a.mail_dir {
        config.mail = mail::Transport::File(dir.clone());
    }
    if let Some(from) = &file.mail.from {
        config.mail_from = from.clone();
    }
    config.mail_from_org = file.mail.from_org.clone();
    let configured_key = file.links.key().map_err(|e| CliError::coded("config", e))?;
    let keyed = configured_key.is_some();
    if let Some(key) = configured_key {
        config.link_key = key;
    }
    config.link_ttl = file.links.ttl().map_err(|e| CliError::coded("config", e))?;
    config.metrics_allow = file
        .metrics
        .allow()
        .map_err(|e| CliError::coded("config", e))?;
    // checked here, attached once the engine is built (mentorflow_server::jobs)
    file.webhooks().map_err(|e| CliError::coded("config", e))?;
    config.retention = file.retention().map_err(|e| CliError::coded("config", e))?;
    if let Some(p) = &file.proxy {
        config.proxy = Some(p.proxy().map_err(|e| CliError::coded("config", e))?);
    }
    // check the mail settings before anything is written
    let mailer = Mailer::new(
        config.mail.clone(),
        &config.mail_from,
        &config.mail_from_org,
    )
    .map_err(|e| CliError::coded("config", e))?;

    // the public URL is known once the address is bound (port 0 picks a free one)
    let bound = std::net::TcpListener::bind(&addr)
        .map_err(|e| CliError::msg(format!("cannot listen on {addr}: {e}")))?;
    let local = bound
        .local_addr()
        .map_err(|e| CliError::msg(format!("cannot listen on {addr}: {e}")))?;
    drop(bound);
    let local_addr = local.to_string();
    config.public_url = a
        .public_url
        .clone()
        .or_else(|| file.public_url.clone())
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();
    let url = config.public_url.clone();
    // links in the workflows' e-mails (`settings.portal_url`) point here unless an
    // organisation set its own
    let portal_url = serde_json::Value::String(url.clone());

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
        let people = demo::seed(
            &path,
            ctx.workflows.as_deref(),
            &[("portal_url", portal_url.clone())],
            // the story moved to end within the last week: its timers and dates make sense
            ctx.now.unwrap_or_else(chrono::Utc::now),
        )?;
        // in the demo, coordinators are operators too (the administration pages)
        let operators = file
            .operator_roles
            .clone()
            .unwrap_or_else(|| vec!["admin".into(), "coordinator".into()]);
        let engine = demo::builder(&path, ctx.workflows.as_deref())
            .limits(ctx.limits)
            .setting_default("portal_url", portal_url)
            .operator_roles(operators)
            .build()?;
        (engine, people)
    } else {
        (
            ctx.engine_configured(|b| {
                let b = b.setting_default("portal_url", portal_url);
                match &file.operator_roles {
                    Some(roles) => b.operator_roles(roles.clone()),
                    None => b,
                }
            })?,
            Vec::new(),
        )
    };
    let engine = Arc::new(engine);
    NotificationMailer::attach_with_links(
        &engine,
        mailer,
        LinkSigner {
            key: config.link_key.clone(),
            public_url: url.clone(),
            ttl: config.link_ttl,
        },
    );
    let hooks = mentorflow_server::jobs::attach_webhooks(&engine, &file)
        .map_err(|e| CliError::coded("config", e))?;
    let retention = config.retention.as_ref().map(describe_retention);
    let transport = describe(&config.mail);
    let app = App::try_new(engine.clone(), config).map_err(|e| CliError::coded("config", e))?;
    mentorflow_server::serve_blocking(app, &local_addr, |at| {
        output::line(&format!(
            "mentorflow serve: listening on http://{at} (public address {url})"
        ));
        output::line(&format!("Mail: {transport}"));
        for h in &hooks {
            output::line(&format!("Webhook: {h}"));
        }
        if let Some(r) = &retention {
            output::line(&format!("Retention: {r}"));
        }
        if !keyed && !a.demo {
            output::line("Action links in e-mails are signed with a random secret: they stop working when the server restarts (set [links] secret_env in the config file).");
        }
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
            // the JSON API wants a token: one per demo person, valid for a day
            output::line(&format!(
                "Demo API tokens (Authorization: Bearer TOKEN; the API is described at {url}/openapi.json):"
            ));
            for (id, name, _, _) in &people {
                let token = mentorflow_server::new_secret();
                let shown = match engine.create_credential(
                    &token,
                    mentorflow::CredentialKind::ApiToken,
                    id,
                    "demo",
                    Some(chrono::Duration::hours(24)),
                ) {
                    Ok(_) => token,
                    Err(e) => format!("(no token: {e})"),
                };
                output::line(&format!("  {name:14} {id:10} {shown}"));
            }
        }
        output::line("Stop with Ctrl-C.");
    })
    .map_err(|e| CliError::msg(format!("serve: {e}")))
}

/// `every 6h`, `daily at 03:00 Europe/Zurich`, with the export folder.
pub fn describe_retention(t: &mentorflow::RetentionTimer) -> String {
    let when = match t.schedule() {
        mentorflow::RetentionSchedule::Every(s) => format!(
            "every {}",
            humantime::format_duration(std::time::Duration::from_secs(s.unsigned_abs()))
        ),
        mentorflow::RetentionSchedule::Daily { at, zone } => format!(
            "daily at {} {}",
            at.format("%H:%M"),
            zone.map_or_else(|| "local time".to_owned(), |z| z.to_string())
        ),
    };
    format!("{when}, exports to {}", t.dir().display())
}

fn describe(t: &mail::Transport) -> String {
    match t {
        mail::Transport::Log => "printed here (no mail transport configured)".into(),
        mail::Transport::File(dir) => format!("written as .eml files to {}", dir.display()),
        mail::Transport::Smtp(s) => format!(
            "SMTP {}:{} ({:?}{})",
            s.host,
            s.port,
            s.security,
            if s.credentials.is_some() {
                ", with credentials"
            } else {
                ""
            }
        ),
    }
}
