//! One module per subcommand, and what they share: opening the engine, reading `--set`
//! values, describing what an action did.

mod act;
mod audit;
mod bench;
mod cases;
mod completions;
mod demo;
mod directory;
mod graph;
mod health;
mod import;
mod incidents;
mod migrate;
mod notifications;
mod outbox;
mod replay;
mod retention;
mod run;
mod schema;
pub(crate) mod serve;
mod start;
mod store;
mod test;
mod tick;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use mentorflow::definition::FieldType;
use mentorflow::{Case, Effect, Engine, Hook, Limits, ManualClock, NotificationFilter};
use serde_json::{Map, Value};

use crate::args::{Cli, Command};
use crate::output::{self, CliError, Out};

/// The database file when `--db` is not given.
pub const DEFAULT_DB: &str = "mentorflow.db";
/// The workflows folder when `--workflows` is not given.
pub const DEFAULT_WORKFLOWS: &str = "workflows";

/// What every command gets: the global options and the output.
#[derive(Debug)]
pub struct Ctx {
    pub db: Option<PathBuf>,
    pub workflows: Option<PathBuf>,
    pub now: Option<DateTime<Utc>>,
    /// The sandbox limits (`--script-limit`).
    pub limits: Limits,
    /// `--operator-role` / `$MENTORFLOW_OPERATOR_ROLES` (empty: the engine's default).
    pub operator_roles: Vec<String>,
    /// `--actor` / `$MENTORFLOW_ACTOR`: who the audit log records (the engine's default when
    /// `None`).
    pub actor: Option<String>,
    pub out: Out,
}

impl Ctx {
    /// The database file: `--db`, else `MENTORFLOW_DB`, else `mentorflow.db`.
    pub fn db_path(&self) -> PathBuf {
        self.db
            .clone()
            .or_else(|| {
                std::env::var_os("MENTORFLOW_DB")
                    .filter(|v| !v.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DB))
    }

    /// The workflows folder, and whether it was asked for explicitly.
    pub fn workflows_dir(&self) -> (PathBuf, bool) {
        match &self.workflows {
            Some(d) => (d.clone(), true),
            None => (PathBuf::from(DEFAULT_WORKFLOWS), false),
        }
    }

    /// Open the engine on the database with the workflows loaded (creating the database
    /// when missing).
    pub fn engine(&self) -> Result<Engine, CliError> {
        self.open(Vec::new(), true)
    }

    /// Open the engine for a command that only reads: a missing database is an error, and
    /// nothing is created.
    pub fn engine_read(&self) -> Result<Engine, CliError> {
        self.open(Vec::new(), false)
    }

    /// Open the engine (creating the database when missing) with the builder adjusted.
    pub fn engine_configured(
        &self,
        configure: impl FnOnce(mentorflow::EngineBuilder) -> mentorflow::EngineBuilder,
    ) -> Result<Engine, CliError> {
        self.open_with(Vec::new(), true, configure)
    }

    fn open(&self, hooks: Vec<Arc<dyn Hook>>, create: bool) -> Result<Engine, CliError> {
        self.open_with(hooks, create, |b| b)
    }

    fn open_with(
        &self,
        hooks: Vec<Arc<dyn Hook>>,
        create: bool,
        configure: impl FnOnce(mentorflow::EngineBuilder) -> mentorflow::EngineBuilder,
    ) -> Result<Engine, CliError> {
        let mut b = Engine::builder()
            .database(self.db_path())
            .limits(self.limits);
        let roles: Vec<&str> = self
            .operator_roles
            .iter()
            .map(|r| r.trim())
            .filter(|r| !r.is_empty())
            .collect();
        if !roles.is_empty() {
            b = b.operator_roles(roles);
        }
        if !create {
            b = b.open_existing();
        }
        if let Some(a) = &self.actor {
            b = b.actor(a.as_str());
        }
        let (dir, explicit) = self.workflows_dir();
        if explicit {
            if !dir.is_dir() {
                return Err(CliError::coded(
                    "not_found",
                    format!(
                        "the workflows folder `{}` does not exist; pass --workflows DIR with your workflow files",
                        dir.display()
                    ),
                ));
            }
            b = b.workflows_dir(&dir);
        } else if dir.is_dir() {
            b = b.workflows_dir(&dir);
        }
        if let Some(t) = self.now {
            b = b.clock(ManualClock::at(t));
        }
        for h in hooks {
            b = b.hook_arc(h);
        }
        let engine = configure(b).build()?;
        for p in engine.refused_definitions() {
            output::warn(&p, self.out.json);
        }
        Ok(engine)
    }
}

/// Run the parsed command line and turn the outcome into an exit code.
pub fn run(cli: Cli) -> ExitCode {
    let mut limits = Limits::default();
    for (name, value) in &cli.limits {
        // `parse_limit` gives only names and kinds that `set` takes; a usage error otherwise
        if let Err(e) = limits.set(name, *value) {
            CliError::msg(e).print(cli.json);
            return ExitCode::from(2);
        }
    }
    let format = match cli.log_format {
        crate::args::LogFormatArg::Text => mentorflow_server::logging::LogFormat::Text,
        crate::args::LogFormatArg::Json => mentorflow_server::logging::LogFormat::Json,
    };
    // the portal logs what it does; one-shot commands say it on stdout and stderr already
    let default = if matches!(cli.command, Command::Serve(_)) {
        "info"
    } else {
        "error"
    };
    if let Err(e) = mentorflow_server::logging::init(format, default) {
        CliError::coded("usage", e).print(cli.json);
        return ExitCode::from(2);
    }
    let ctx = Ctx {
        db: cli.db,
        workflows: cli.workflows,
        now: cli.now,
        limits,
        operator_roles: cli.operator_roles,
        actor: cli.audit_actor,
        out: Out::new(cli.json),
    };
    let json = ctx.out.json;
    let result = match cli.command {
        Command::Start(a) => start::run(&ctx, a),
        Command::Act(a) => act::act(&ctx, a),
        Command::Actions(a) => act::actions(&ctx, a),
        Command::Show(a) => cases::show(&ctx, a),
        Command::History(a) => cases::history(&ctx, a),
        Command::List(a) => cases::list(&ctx, a),
        Command::View(a) => cases::view(&ctx, a),
        Command::Export(a) => cases::export(&ctx, a),
        Command::Tick => tick::run(&ctx),
        Command::Notifications(a) => notifications::run(&ctx, a),
        Command::Outbox(a) => outbox::run(&ctx, a),
        Command::Incidents(a) => incidents::run(&ctx, a),
        Command::Audit(a) => audit::run(&ctx, a),
        Command::Retention(c) => retention::run(&ctx, c),
        Command::Case(c) => cases::control(&ctx, c),
        Command::People(c) => directory::people(&ctx, c),
        Command::Orgs(c) => directory::orgs(&ctx, c),
        Command::Import(a) => import::run(&ctx, a),
        Command::Validate(a) => validate::run(&ctx, a),
        Command::Graph(a) => graph::run(&ctx, a),
        Command::Schema => schema::run(&ctx),
        Command::Test(a) => test::run(&ctx, a),
        Command::Run(a) => run::run(&ctx, a),
        Command::Health(a) => health::run(&ctx, a),
        Command::Replay(a) => replay::run(&ctx, a),
        Command::Migrate(a) => migrate::run(&ctx, &a),
        Command::Demo(a) => demo::run(&ctx, &a),
        Command::Serve(a) => serve::run(&ctx, &a),
        Command::Completions(a) => completions::run(a),
        Command::Bench(a) => bench::run(&ctx, &a),
        Command::Version => version(&ctx),
        Command::Store(a) => store::run(&ctx, a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(mut e) => {
            let (dir, explicit) = ctx.workflows_dir();
            let kind = e.details.get("kind").and_then(Value::as_str);
            if e.code == "not_found"
                && matches!(kind, Some("workflow" | "view" | "export"))
                && !explicit
                && !dir.is_dir()
            {
                e.message.push_str(&format!(
                    "; no workflows are loaded here: run where the `{}` folder is, or pass --workflows DIR",
                    dir.display()
                ));
            }
            e.print(json);
            ExitCode::from(output::EXIT_FAILED)
        }
    }
}

/// `mentorflow version`.
fn version(ctx: &Ctx) -> Result<(), CliError> {
    let v = env!("CARGO_PKG_VERSION");
    if ctx.out.json {
        return ctx.out.print_json(&serde_json::json!({ "version": v }));
    }
    output::line(&format!("mentorflow {v}"));
    Ok(())
}

/// A `--set` value: the raw text for text-like types, else JSON when it parses, else text.
pub fn set_value(raw: &str, kind: Option<FieldType>) -> Value {
    let textual = matches!(
        kind,
        Some(
            FieldType::String
                | FieldType::Text
                | FieldType::Person
                | FieldType::Date
                | FieldType::Time
                | FieldType::DateTime
        )
    );
    if textual {
        return Value::String(raw.to_owned());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

/// A JSON object option, or an empty map.
pub fn object(v: Option<Value>) -> Map<String, Value> {
    match v {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Print what an action did: the move, notes, assignments and notifications queued.
pub fn report_step(ctx: &Ctx, engine: &Engine, case: &Case, verb: &str) -> Result<(), CliError> {
    let out = &ctx.out;
    if out.json {
        return out.print_json(case);
    }
    let history = engine.history(case.id, None)?;
    let Some(last) = history.last() else {
        return Ok(());
    };
    let def = engine.definition_of(case).ok();
    let moved = match &last.from_state {
        Some(f) if f != &last.to_state => {
            let from = def.as_ref().map_or(f.as_str(), |d| d.state_label(f));
            format!("{from} → {}", out.state(case))
        }
        Some(_) => format!("stays in {}", out.state(case)),
        None => format!("in {}", out.state(case)),
    };
    let verb = if verb.is_empty() {
        String::new()
    } else {
        format!("{verb} ")
    };
    output::line(&format!(
        "{verb}case {} ({} v{}) · {} by {}: {moved}",
        out.bold(&case.id.to_string()),
        case.workflow,
        case.version,
        out.cyan(&last.action),
        last.actor
    ));
    let notes = effect_lines(engine, case.id, &last.effects)?;
    for n in notes {
        output::line(&format!("  {n}"));
    }
    Ok(())
}

/// One readable line per effect worth telling (assignments, notes, notifications, signals,
/// copies, migrations).
pub fn effect_lines(
    engine: &Engine,
    case_id: i64,
    effects: &[Effect],
) -> Result<Vec<String>, CliError> {
    let mut lines = Vec::new();
    let mut subjects = None;
    for e in effects {
        match e {
            Effect::Assign { role, person } => lines.push(format!("+ {person} as {role}")),
            Effect::Unassign { role, person } => lines.push(format!("- {person} as {role}")),
            Effect::Note { text } => lines.push(format!("note: {}", one_line(text))),
            Effect::Notify { id, to, template } => {
                if subjects.is_none() {
                    subjects = Some(engine.notifications(&NotificationFilter {
                        case_id: Some(case_id),
                        ..NotificationFilter::default()
                    })?);
                }
                let subject = subjects
                    .as_ref()
                    .and_then(|all| all.iter().find(|n| n.id == *id))
                    .map(|n| n.subject.clone())
                    .unwrap_or_default();
                lines.push(format!("→ {to} ({template}): {subject}"));
            }
            Effect::Signal { kind, .. } => lines.push(format!("signal: {kind}")),
            Effect::Spawn { case, state } => lines.push(format!("copy: case {case} in {state}")),
            Effect::Migrated {
                from_version,
                to_version,
                plan,
            } => lines.push(format!(
                "migrated v{from_version} → v{to_version} by the plan {plan}"
            )),
            Effect::Suspended => lines.push("suspended".into()),
            Effect::Resumed => lines.push("resumed".into()),
            Effect::Cancelled => lines.push("cancelled".into()),
            Effect::Repaired => lines.push("repaired".into()),
            _ => {}
        }
    }
    Ok(lines)
}

pub fn one_line(s: &str) -> String {
    let flat: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 100 {
        let cut: String = flat.chars().take(99).collect();
        format!("{cut}…")
    } else {
        flat
    }
}
