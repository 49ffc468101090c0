//! The command line: every option and subcommand, declared with clap.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use mentorflow::{LimitValue, Limits};
use serde_json::Value;

/// The help heading of the options every command takes.
const GLOBAL: &str = "Global options";

/// Run, inspect, test and draw mentoring workflows.
#[derive(Debug, Parser)]
#[command(name = "mentorflow", version, about, long_about = None)]
#[command(after_help = "Examples:\n  \
    mentorflow validate\n  \
    mentorflow start score_request --as pat --set client_name=\"Pat's Bakery\"\n  \
    mentorflow act 1 assign --as cody --set mentor=alice\n  \
    mentorflow show 1 --as alice\n  \
    mentorflow demo")]
pub struct Cli {
    /// The SQLite database file, or `:memory:` [default: $MENTORFLOW_DB, else mentorflow.db;
    /// for `demo`: mentorflow-demo.db, never $MENTORFLOW_DB].
    #[arg(long, global = true, value_name = "PATH", help_heading = GLOBAL)]
    pub db: Option<PathBuf>,

    /// The folder of workflow files [default: workflows].
    #[arg(long, global = true, value_name = "DIR", env = "MENTORFLOW_WORKFLOWS", help_heading = GLOBAL)]
    pub workflows: Option<PathBuf>,

    /// Machine-readable output: JSON on stdout (and errors as one JSON line on stderr).
    #[arg(long, global = true, help_heading = GLOBAL)]
    pub json: bool,

    /// Run this invocation on a fixed (manual) clock at this instant, e.g. 2026-11-20T10:00:00Z.
    #[arg(long, global = true, value_name = "INSTANT", value_parser = parse_now, env = "MENTORFLOW_NOW", help_heading = GLOBAL)]
    pub now: Option<DateTime<Utc>>,

    /// Change a script sandbox limit, e.g. `--script-limit max_operations=50000
    /// --script-limit max_run_time=2s` (repeatable; see docs/reliability.md).
    #[arg(long = "script-limit", global = true, value_name = "NAME=VALUE", value_parser = parse_limit, help_heading = GLOBAL)]
    pub limits: Vec<LimitSetting>,

    /// A directory role whose holders are operators, who may use the operator controls
    /// (`incidents retry|resolve --as PERSON`); repeatable, or comma-separated in
    /// $MENTORFLOW_OPERATOR_ROLES [default: admin].
    #[arg(long = "operator-role", global = true, value_name = "ROLE", env = "MENTORFLOW_OPERATOR_ROLES", value_delimiter = ',', help_heading = GLOBAL)]
    pub operator_roles: Vec<String>,

    /// How log lines on stderr look: `text` or `json` (one object a line). What is logged is
    /// chosen by $RUST_LOG (e.g. `RUST_LOG=mentorflow=debug`); without it only `serve` logs
    /// (at `info`). Logs never go to stdout.
    #[arg(long = "log-format", global = true, value_name = "FORMAT", value_enum, env = "MENTORFLOW_LOG_FORMAT", default_value = "text", help_heading = GLOBAL)]
    pub log_format: LogFormatArg,
    /// Who deploys and directory changes (people, organisations) of this invocation are
    /// recorded as in the audit log [default: $MENTORFLOW_ACTOR, else system]. Operator
    /// controls record their `--as` operator instead.
    #[arg(long = "actor", global = true, value_name = "PERSON", env = "MENTORFLOW_ACTOR", help_heading = GLOBAL)]
    pub audit_actor: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormatArg {
    /// One readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// The global options that do nothing for a command, by their argument ids (`db`, `workflows`,
/// `now`, `limits` = `--script-limit`). [`command`] hides them from that command's help, and
/// [`ignored_globals`] names the ones given on its command line anyway.
pub const UNUSED_GLOBALS: &[(&str, &[&str])] = &[
    (
        "bench",
        &[
            "db",
            "workflows",
            "now",
            "limits",
            "operator_roles",
            "audit_actor",
        ],
    ),
    (
        "completions",
        &[
            "db",
            "workflows",
            "now",
            "limits",
            "operator_roles",
            "audit_actor",
        ],
    ),
    ("demo", &["now", "limits", "operator_roles", "audit_actor"]),
    (
        "schema",
        &[
            "db",
            "workflows",
            "now",
            "limits",
            "operator_roles",
            "audit_actor",
        ],
    ),
    (
        "store",
        &[
            "db",
            "workflows",
            "now",
            "limits",
            "operator_roles",
            "audit_actor",
        ],
    ),
    ("test", &["db", "now", "operator_roles", "audit_actor"]),
    ("validate", &["now", "operator_roles", "audit_actor"]),
    (
        "version",
        &[
            "db",
            "workflows",
            "now",
            "limits",
            "operator_roles",
            "audit_actor",
        ],
    ),
];

/// The command line as clap parses and prints it: [`Cli`], with each command's help offering
/// only the global options that do something for it.
pub fn command() -> clap::Command {
    let cmd = <Cli as clap::CommandFactory>::command();
    let globals: Vec<clap::Arg> = cmd
        .get_arguments()
        .filter(|a| a.is_global_set())
        .cloned()
        .collect();
    UNUSED_GLOBALS.iter().fold(cmd, |cmd, (name, ids)| {
        cmd.mut_subcommand(*name, |sub| {
            // A command's own (hidden) copy of a global option: clap propagates the global one
            // only to commands that lack an option of that id, and parses the copy's value
            // into the same place.
            hide_globals(sub, &globals, ids)
        })
    })
}

/// A command with its own hidden copies of the global options `ids`, and its subcommands too.
fn hide_globals(cmd: clap::Command, globals: &[clap::Arg], ids: &[&str]) -> clap::Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    let cmd = globals
        .iter()
        .filter(|a| ids.contains(&a.get_id().as_str()))
        .fold(cmd, |cmd, a| cmd.arg(a.clone().global(false).hide(true)));
    names.iter().fold(cmd, |cmd, name| {
        cmd.mut_subcommand(name, |sub| hide_globals(sub, globals, ids))
    })
}

/// A warning for each option of [`UNUSED_GLOBALS`] given on the command line of a command that
/// does not use it ("--db does nothing for `schema`; it was ignored"); an environment variable
/// does not count.
pub fn ignored_globals(matches: &clap::ArgMatches) -> Vec<String> {
    let Some((name, sub)) = matches.subcommand() else {
        return Vec::new();
    };
    let Some((_, ids)) = UNUSED_GLOBALS.iter().find(|(n, _)| *n == name) else {
        return Vec::new();
    };
    let mut levels = vec![matches, sub];
    while let Some((_, deeper)) = levels.last().and_then(|m| m.subcommand()) {
        levels.push(deeper);
    }
    ids.iter()
        .filter(|id| {
            levels
                .iter()
                .any(|m| m.value_source(id) == Some(clap::parser::ValueSource::CommandLine))
        })
        .map(|id| {
            let option = match *id {
                "limits" => "--script-limit".to_owned(),
                "operator_roles" => "--operator-role".to_owned(),
                "audit_actor" => "--actor".to_owned(),
                other => format!("--{other}"),
            };
            format!("{option} does nothing for `{name}`; it was ignored")
        })
        .collect()
}

/// One `--script-limit NAME=VALUE`: a limit's name and its new value.
pub type LimitSetting = (String, LimitValue);

/// `NAME=VALUE` for a sandbox limit: a whole number, or for `max_run_time` seconds (`2`,
/// `2.5`, `2s`) or milliseconds (`500ms`); 0 turns a limit off.
fn parse_limit(s: &str) -> Result<LimitSetting, String> {
    let (name, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=VALUE, e.g. max_operations=50000, got `{s}`"))?;
    let (name, value) = (name.trim(), value.trim());
    let parsed = match Limits::default().get(name) {
        Some(LimitValue::Time(_)) => {
            let seconds = match value.strip_suffix("ms") {
                Some(ms) => ms.trim().parse::<f64>().map(|m| m / 1000.0),
                None => value
                    .strip_suffix('s')
                    .unwrap_or(value)
                    .trim()
                    .parse::<f64>(),
            };
            seconds
                .ok()
                .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
                .map(LimitValue::Time)
                .ok_or_else(|| {
                    format!(
                        "{name} must be seconds (2, 2.5s) or milliseconds (500ms), got `{value}`"
                    )
                })?
        }
        Some(LimitValue::Count(_)) => value
            .parse::<u64>()
            .map(LimitValue::Count)
            .map_err(|_| format!("{name} must be a whole number of 0 or more, got `{value}`"))?,
        None => {
            return Err(format!(
                "unknown limit `{name}`; the limits are {}",
                Limits::NAMES.join(", ")
            ))
        }
    };
    Ok((name.to_owned(), parsed))
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start a case.
    Start(StartArgs),
    /// Do an action on a case.
    #[command(after_help = "Examples:\n  \
        mentorflow act 1 assign --as cody --set mentor=alice\n  \
        mentorflow act 1 accept --as alice --set note=\"Hi Pat, shall we meet Thursday?\"\n  \
        mentorflow act 1 update_status --as alice --inputs '{\"status\": \"complete\", \"contacted\": true}'\n  \
        mentorflow act 1 add_note --as alice --set text=\"Called\" --revision 4   # only if still at revision 4")]
    Act(ActArgs),
    /// List the actions a person may do on a case now.
    Actions(ActionsArgs),
    /// Show a case: state, fields, participants, timers.
    Show(ShowArgs),
    /// Show a case's history, oldest first.
    History(HistoryArgs),
    /// List cases (newest first).
    List(ListArgs),
    /// Show a named view for a person (e.g. need_action, intake_queue).
    View(ViewArgs),
    /// Write a named export as CSV or JSON.
    Export(ExportArgs),
    /// Fire the timers that are due now (or at --now) and deliver notifications.
    Tick,
    /// List notifications (pending ones by default) or acknowledge them.
    Notifications(NotificationsArgs),
    /// Deliveries that failed: list them, retry them, or drop them (per consumer).
    #[command(after_help = "Examples:\n  \
        mentorflow outbox                          # deliveries being retried, and dead letters\n  \
        mentorflow outbox list --status dead --consumer smtp\n  \
        mentorflow outbox retry 42                 # every failed delivery of outbox row 42, now\n  \
        mentorflow outbox drop 42 --consumer smtp  # give up row 42 for smtp only")]
    Outbox(OutboxArgs),
    /// Timer firings that failed: list them, retry them, or resolve them.
    #[command(after_help = "Examples:\n  \
        mentorflow incidents                       # open incidents (retried, or waiting for you)\n  \
        mentorflow incidents list --all --case 12\n  \
        mentorflow incidents retry 3 --as olga     # fire the timer again now\n  \
        mentorflow incidents resolve 3 --as olga --note \"client phoned; reminder not needed\"")]
    Incidents(IncidentsArgs),
    /// Operator controls on one case: suspend, resume, cancel, repair.
    #[command(
        subcommand,
        after_help = "Examples:\n  \
        mentorflow case suspend 12 --as olga --reason \"mentor on leave until May\"\n  \
        mentorflow case resume 12 --as olga --reason \"mentor back\"\n  \
        mentorflow case cancel 12 --as olga --reason \"client withdrew\"\n  \
        mentorflow case suspend --workflow engagement --org ch12 --as olga --reason \"audit\" --dry-run\n  \
        mentorflow case resume --view engagement.my_engagements --as olga --reason \"audit over\"\n  \
        mentorflow case repair 12 in_progress --as olga --reason \"accepted by phone\""
    )]
    Case(CaseCommand),
    /// Manage people in the directory.
    #[command(subcommand)]
    People(PeopleCommand),
    /// Manage organisations in the directory.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Import people and organisations from a YAML or CSV file, in one go.
    #[command(after_help = "Examples:\n  \
        mentorflow import directory.yaml   # orgs: {ch12: {timezone: ...}}  people: {alice: {org: ch12, roles: [mentor]}}\n  \
        mentorflow import mentors.csv      # header: id,name,email,org,roles,attr.classification\n\n\
        Records merge into the stored ones; a file with any problem imports nothing.")]
    Import(ImportArgs),
    /// Check workflow files and print every problem as file:line:col: message.
    Validate(ValidateArgs),
    /// Draw a workflow as a Mermaid or DOT diagram (optionally with a case's path).
    Graph(GraphArgs),
    /// Print the JSON Schema of the workflow language (for editors).
    Schema,
    /// Run scenario files.
    Test(TestArgs),
    /// Re-run recorded cases against a version of their workflow on a scratch engine and
    /// report per case identical or the first divergence (the database is only read).
    Replay(ReplayArgs),
    /// Move the open cases of a workflow version to another version by a migration plan
    /// (YAML), each case in its own transaction; `--dry-run` only says what would change.
    Migrate(MigrateArgs),
    /// Run a worker: tick at an interval and deliver notifications.
    Run(RunArgs),
    /// Check a database: schema version, last committed instant, overdue timers, outbox
    /// backlog; exits non-zero when unhealthy.
    Health(HealthArgs),
    /// A guided run of the shipped flows on a fresh database and a simulated clock.
    ///
    /// The demo writes its own database: `mentorflow-demo.db` in the current folder, or the
    /// file `--db` names (`--db :memory:` keeps it in memory). It never uses $MENTORFLOW_DB.
    /// It replaces a database that an earlier demo wrote, and refuses to replace any other
    /// one that holds data, unless `--force` is given.
    #[command(after_help = "Examples:\n  \
        mentorflow demo                      # writes mentorflow-demo.db here\n  \
        mentorflow demo --db :memory:        # writes nothing\n  \
        mentorflow demo --db try.db --force  # replaces try.db, whatever it holds")]
    Demo(DemoArgs),
    /// Run the portal: the web console, the JSON API, the timer worker and e-mail delivery.
    ///
    /// With `--demo`, on a fresh demo database (the file `--db` names, else
    /// mentorflow-demo.db, with the same rules as `demo`) filled with the demo's
    /// organisations, people and cases; it prints the address and how to sign in as each
    /// demo person.
    #[command(after_help = "Examples:\n  \
        mentorflow serve --demo\n  \
        mentorflow --db cases.db serve --addr 0.0.0.0:8080 --public-url https://mentors.example.org")]
    Serve(ServeArgs),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
    /// Measure the engine against the SQLite floor: lifecycle, timers, scale.
    Bench(BenchArgs),
    /// Print the version of mentorflow (with --json: {"version": ...}).
    Version,
    /// Whole-database operations: `store copy` moves a database to another backend.
    Store(StoreArgs),
    /// The audit log: who deployed, changed the directory or used an operator control, when,
    /// and what changed (before and after).
    #[command(after_help = "Examples:\n  \
        mentorflow audit                                  # every entry, oldest first\n  \
        mentorflow audit list --kind org --since 2026-11-01T00:00:00Z\n  \
        mentorflow audit export --output audit.jsonl      # JSON lines, one entry a line")]
    Audit(AuditArgs),
    /// Retention: export, then purge or anonymise, the closed cases older than their
    /// organisation's `retention` setting.
    #[command(
        subcommand,
        after_help = "Examples:\n  \
        mentorflow orgs put ch1 --set 'retention={\"after_days\": 730, \"then\": \"purge\"}'\n  \
        mentorflow retention run --dry-run\n  \
        mentorflow retention run --export closed-2024.jsonl"
    )]
    Retention(RetentionCommand),
}

/// `retention ...`.
#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Export every due closed case with its history (JSON lines) to FILE, then purge or
    /// anonymise each; `--dry-run` only lists them.
    Run(RetentionRun),
}

/// `retention run [--dry-run] --export FILE`.
#[derive(Debug, Args)]
pub struct RetentionRun {
    /// Only list the cases; write and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The JSON lines file the cases are exported to first (must not exist yet).
    #[arg(long, value_name = "FILE", required_unless_present = "dry_run")]
    pub export: Option<PathBuf>,
}

/// `audit [list|export]`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: Option<AuditCommand>,
    /// Which entries `audit` without a subcommand lists.
    #[command(flatten)]
    pub query: AuditQuery,
}

/// `audit ...`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// List entries, oldest first.
    List(AuditQuery),
    /// Write entries as JSON lines (one entry a line), to a file or stdout.
    Export(AuditExport),
}

/// Which audit entries.
#[derive(Debug, Args, Default, Clone)]
pub struct AuditQuery {
    /// Only entries at or after this instant (e.g. 2026-11-01T00:00:00Z).
    #[arg(long, value_name = "INSTANT", value_parser = parse_now)]
    pub since: Option<DateTime<Utc>>,
    /// Only this kind (org.put) or family (org, person, case, definition, incident,
    /// outbox, retention).
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only entries by this person.
    #[arg(long, value_name = "PERSON")]
    pub by: Option<String>,
    /// Only entries about this subject (person:alice, org:ch1, case:12).
    #[arg(long, value_name = "SUBJECT")]
    pub subject: Option<String>,
}

/// `audit export`.
#[derive(Debug, Args)]
pub struct AuditExport {
    #[command(flatten)]
    pub query: AuditQuery,
    /// Write to this file (replaced) instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// `store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    #[command(subcommand)]
    pub command: StoreCommand,
}

/// `store ...`.
#[derive(Debug, Subcommand)]
pub enum StoreCommand {
    /// Copy a whole database into an empty one on another backend (an SQLite file to
    /// PostgreSQL, or back): definitions, directory, cases, histories, timers, outbox and
    /// deliveries, with their ids. Refuses a target that holds mentorflow rows; writes the
    /// target in one transaction.
    #[command(after_help = "Examples:\n  \
        mentorflow store copy --from cases.db --to postgres://mentorflow@db.example.org/mentorflow\n  \
        mentorflow store copy --from postgres://mentorflow@db.example.org/mentorflow --to back.db\n\n\
        The source is read in one consistent snapshot (engines may keep running on it); stop\n\
        the writers before the switch if the copy must be the last word. A PostgreSQL target\n\
        gets the current schema if it has none.")]
    Copy(StoreCopy),
}

/// `store copy`.
#[derive(Debug, Args)]
pub struct StoreCopy {
    /// The database to copy: an SQLite file or a postgres:// URL.
    #[arg(long, value_name = "DB")]
    pub from: String,
    /// The empty database to copy into: a new SQLite file or a postgres:// URL.
    #[arg(long, value_name = "DB")]
    pub to: String,
}

/// `start`.
#[derive(Debug, Args)]
pub struct StartArgs {
    /// The workflow id, e.g. score_request.
    pub workflow: String,
    /// The person starting the case.
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: String,
    /// The organisation (default: the person's).
    #[arg(long)]
    pub org: Option<String>,
    /// The start action (default: the workflow's default start action).
    #[arg(long, value_name = "NAME")]
    pub action: Option<String>,
    /// A field (or an input of the start action): FIELD=VALUE; VALUE is read as JSON when it parses.
    #[arg(long = "set", value_name = "FIELD=VALUE", value_parser = parse_assignment)]
    pub set: Vec<(String, String)>,
    /// Fields as one JSON object.
    #[arg(long, value_name = "JSON", value_parser = parse_object)]
    pub data: Option<Value>,
    /// Inputs of the start action as one JSON object.
    #[arg(long, value_name = "JSON", value_parser = parse_object)]
    pub inputs: Option<Value>,
}

/// `act`.
#[derive(Debug, Args)]
pub struct ActArgs {
    /// The case id.
    pub case: i64,
    /// The action, e.g. accept.
    pub action: String,
    /// The person acting.
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: String,
    /// An input: INPUT=VALUE; VALUE is read as JSON when it parses.
    #[arg(long = "set", value_name = "INPUT=VALUE", value_parser = parse_assignment)]
    pub set: Vec<(String, String)>,
    /// Inputs as one JSON object.
    #[arg(long, value_name = "JSON", value_parser = parse_object)]
    pub inputs: Option<Value>,
    /// Only act if the case is still at this revision (else: conflict).
    #[arg(long, value_name = "N")]
    pub revision: Option<u64>,
}

/// `actions`.
#[derive(Debug, Args)]
pub struct ActionsArgs {
    /// The case id.
    pub case: i64,
    /// The person.
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: String,
}

/// `show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The case id.
    pub case: i64,
    /// Show it as this person sees it (refused if they may not see it); also lists their actions.
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: Option<String>,
}

/// `history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The case id.
    pub case: i64,
    /// Only if this person may see the case.
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: Option<String>,
}

/// `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this workflow.
    #[arg(long)]
    pub workflow: Option<String>,
    /// Only this state.
    #[arg(long)]
    pub state: Option<String>,
    /// Only this organisation.
    #[arg(long)]
    pub org: Option<String>,
    /// At most this many (newest first).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// `view`.
#[derive(Debug, Args)]
pub struct ViewArgs {
    /// The view: NAME or WORKFLOW.NAME.
    pub name: String,
    /// The person looking.
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: String,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// RFC 4180 CSV with a header row.
    Csv,
    /// A JSON array of rows.
    Json,
}

/// `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The export: NAME or WORKFLOW.NAME.
    pub name: String,
    /// Output format [default: csv, or json with --json].
    #[arg(long, value_enum)]
    pub format: Option<ExportFormat>,
    /// Write to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Only the cases this person may see (default: every organisation).
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: Option<String>,
}

/// `notifications`.
#[derive(Debug, Args)]
pub struct NotificationsArgs {
    /// Only this case's.
    #[arg(long = "case", value_name = "ID")]
    pub case: Option<i64>,
    /// Only those to this person.
    #[arg(long, value_name = "PERSON")]
    pub to: Option<String>,
    /// Include acknowledged ones.
    #[arg(long)]
    pub all: bool,
    /// Acknowledge these notifications (a host that handled them marks them done).
    #[arg(long, value_name = "ID", num_args = 1..)]
    pub ack: Vec<i64>,
}

/// `outbox [list|retry|drop]`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub command: Option<OutboxCommand>,
}

/// `outbox ...`.
#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// List delivery records (default: being retried, and dead letters).
    List(OutboxList),
    /// Retry an outbox row's failed, dead or dropped deliveries now, with a fresh budget.
    Retry(OutboxTarget),
    /// Give up an outbox row's deliveries that are not done (it leaves the backlog).
    Drop(OutboxTarget),
}

/// `outbox list`.
#[derive(Debug, Args, Default)]
pub struct OutboxList {
    /// Only this status: retry, dead, dropped or delivered.
    #[arg(long, value_parser = ["retry", "dead", "dropped", "delivered"])]
    pub status: Option<String>,
    /// Every status (delivered and dropped ones too).
    #[arg(long)]
    pub all: bool,
    /// Only this consumer (hook name, e.g. smtp).
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,
    /// Only rows of this case.
    #[arg(long = "case", value_name = "ID")]
    pub case: Option<i64>,
    /// At most this many records.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}

/// `outbox retry|drop ID [--consumer NAME]`.
#[derive(Debug, Args)]
pub struct OutboxTarget {
    /// The outbox row (the notification's or signal's id).
    pub id: i64,
    /// Only this consumer's delivery (default: every consumer's).
    #[arg(long, value_name = "NAME")]
    pub consumer: Option<String>,
}

/// `incidents [list|retry|resolve]`.
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub command: Option<IncidentsCommand>,
}

/// `incidents ...`.
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents (default: the open ones), oldest first.
    List(IncidentsList),
    /// Fire an open incident's timer again now (on the case's current version); exits
    /// non-zero when it fails again.
    Retry(IncidentTarget),
    /// Resolve an open incident without firing, with a note saying why.
    Resolve(IncidentResolve),
}

/// `incidents list`.
#[derive(Debug, Args, Default)]
pub struct IncidentsList {
    /// Only this status: open or resolved.
    #[arg(long, value_parser = ["open", "resolved"])]
    pub status: Option<String>,
    /// Every status (resolved ones too).
    #[arg(long)]
    pub all: bool,
    /// Only incidents of this case.
    #[arg(long = "case", value_name = "ID")]
    pub case: Option<i64>,
    /// At most this many.
    #[arg(long, default_value_t = 1000)]
    pub limit: usize,
}

/// `incidents retry ID [--as OPERATOR]`.
#[derive(Debug, Args)]
pub struct IncidentTarget {
    /// The incident.
    pub id: i64,
    /// The operator doing it (must hold an operator role; recorded on the incident).
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: Option<String>,
}

/// `incidents resolve ID --note TEXT [--as OPERATOR]`.
#[derive(Debug, Args)]
pub struct IncidentResolve {
    /// The incident.
    pub id: i64,
    /// Why it is resolved without firing.
    #[arg(long, value_name = "TEXT")]
    pub note: String,
    /// The operator doing it (must hold an operator role; recorded on the incident).
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: Option<String>,
}

/// `case ...`: operator controls.
#[derive(Debug, Subcommand)]
pub enum CaseCommand {
    /// Suspend an open case (or every open case a view or filter selects): it refuses every
    /// action and its timers wait until resumed.
    Suspend(CaseControl),
    /// Resume a suspended case (or every suspended case a view or filter selects): timers
    /// that fell due meanwhile fire at the next tick, once.
    Resume(CaseControl),
    /// Cancel an open case (or every open case a view or filter selects): it ends in its
    /// state, its timers dropped, no further actions.
    Cancel(CaseControl),
    /// Move a case to a state of its definition outside the flow's actions, with that
    /// state's timers (no action, guard, effect or notification runs).
    Repair(CaseRepair),
    /// Move every open case role a person holds to another person (or only remove them):
    /// each case its own transaction; try --dry-run first.
    Reassign(CaseReassign),
}

/// `case reassign PERSON [--to PERSON] [--role R] [--workflow W] [--dry-run] --as OPERATOR --reason TEXT`.
#[derive(Debug, Args)]
pub struct CaseReassign {
    /// The person who leaves.
    pub from: String,
    /// Who takes their place (without it they are only removed).
    #[arg(long, value_name = "PERSON")]
    pub to: Option<String>,
    /// Only this case role.
    #[arg(long, value_name = "ROLE")]
    pub role: Option<String>,
    /// Only cases of this workflow.
    #[arg(long, value_name = "WORKFLOW")]
    pub workflow: Option<String>,
    /// Only say which cases would change.
    #[arg(long)]
    pub dry_run: bool,
    /// The operator doing it (must hold an operator role; recorded in each case's history).
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: String,
    /// Why (recorded in each case's history).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

/// `case suspend|resume|cancel (CASE | --view NAME | --workflow W --state S --org O --field K=V…)
/// [--dry-run] --as OPERATOR --reason TEXT`.
#[derive(Debug, Args)]
pub struct CaseControl {
    /// The case; or choose cases with --view and/or the filters (each case then in its own
    /// transaction, try --dry-run first).
    #[arg(required_unless_present_any = ["view", "workflow", "state", "org", "field"])]
    pub case: Option<i64>,
    /// Every case of this view (`view` or `workflow.view`) as the operator sees it.
    #[arg(long, value_name = "NAME", conflicts_with = "case")]
    pub view: Option<String>,
    /// Only cases of this workflow.
    #[arg(long, value_name = "WORKFLOW", conflicts_with = "case")]
    pub workflow: Option<String>,
    /// Only cases in this state.
    #[arg(long, value_name = "STATE", conflicts_with = "case")]
    pub state: Option<String>,
    /// Only cases of this organisation.
    #[arg(long, value_name = "ORG", conflicts_with = "case")]
    pub org: Option<String>,
    /// Only cases whose field has this value (repeatable; the value is read as JSON when it
    /// is JSON — 3, true, null, "3" — else as text).
    #[arg(long = "field", value_name = "FIELD=VALUE", value_parser = parse_assignment, conflicts_with = "case")]
    pub field: Vec<(String, String)>,
    /// Only list the cases that would change (with --view or a filter).
    #[arg(long, conflicts_with = "case")]
    pub dry_run: bool,
    /// The operator doing it (must hold an operator role; recorded in the history).
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: String,
    /// Why (recorded in the history).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

/// `case repair CASE STATE --as OPERATOR --reason TEXT`.
#[derive(Debug, Args)]
pub struct CaseRepair {
    /// The case.
    pub case: i64,
    /// The state to move it to.
    pub state: String,
    /// The operator doing it (must hold an operator role; recorded in the history).
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: String,
    /// Why (recorded in the history).
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

/// `people ...`.
#[derive(Debug, Subcommand)]
pub enum PeopleCommand {
    /// Add a person, or change the properties given of a stored one (the rest is kept).
    #[command(after_help = "Examples:\n  \
        mentorflow people put alice --org ch12 --name \"Alice Moreau\" --role mentor --set classification=active\n  \
        mentorflow people put alice --email alice@example.org      # the rest of alice is kept\n  \
        mentorflow people put alice --set manager=null             # remove an attribute\n  \
        mentorflow people put alice --org ch12 --role coordinator --replace   # store exactly this")]
    Put(PersonPut),
    /// Show a person.
    Get {
        /// The person id.
        id: String,
    },
    /// List people.
    List {
        /// Only this organisation's.
        #[arg(long)]
        org: Option<String>,
    },
    /// Remove a person.
    Remove {
        /// The person id.
        id: String,
    },
    /// Forget a person: list every place their data lives and blank it (their id, name and
    /// e-mail become a pseudonym forgotten-N), in one transaction.
    #[command(after_help = "Examples:\n  \
        mentorflow people forget alice --as olga --reason \"erasure request 2026-11\" --dry-run\n  \
        mentorflow people forget alice --as olga --reason \"erasure request 2026-11\"")]
    Forget(PersonForget),
}

/// `people forget ID --as OPERATOR --reason TEXT [--dry-run]`.
#[derive(Debug, Args)]
pub struct PersonForget {
    /// The person id.
    pub id: String,
    /// The operator doing it (must hold an operator role; recorded in the history and audit).
    #[arg(long = "as", value_name = "PERSON")]
    pub actor: String,
    /// Why (the request); recorded.
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
    /// Only list the places; change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `people put`.
#[derive(Debug, Args)]
pub struct PersonPut {
    /// The person id.
    pub id: String,
    /// Organisation.
    #[arg(long)]
    pub org: Option<String>,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Email address.
    #[arg(long)]
    pub email: Option<String>,
    /// A directory role (repeat for several).
    #[arg(long = "role", value_name = "ROLE")]
    pub roles: Vec<String>,
    /// An attribute: ATTRIBUTE=VALUE, VALUE read as JSON when it parses (e.g. classification=active, focus_areas='["marketing"]'); ATTRIBUTE=null removes it.
    #[arg(long = "set", value_name = "ATTRIBUTE=VALUE", value_parser = parse_assignment)]
    pub set: Vec<(String, String)>,
    /// Replace the whole person: properties, roles and attributes not given here are removed.
    #[arg(long)]
    pub replace: bool,
}

/// `orgs ...`.
#[derive(Debug, Subcommand)]
pub enum OrgsCommand {
    /// Add an organisation, or change the properties given of a stored one (the rest is kept).
    #[command(after_help = "Examples:\n  \
        mentorflow orgs put ch12 --name \"SCORE Chapter 12\" --timezone America/New_York --holiday 2026-11-26\n  \
        mentorflow orgs put ch12 --set max_requests_per_week=5     # the rest of ch12 is kept\n  \
        mentorflow orgs put ch12 --set max_requests_per_week=null  # back to the workflow default\n  \
        mentorflow orgs put acme --weekend Fri --weekend Sat --replace")]
    Put(OrgPut),
    /// Show an organisation.
    Get {
        /// The organisation id.
        id: String,
    },
    /// List organisations.
    List,
    /// Remove an organisation.
    Remove {
        /// The organisation id.
        id: String,
    },
}

/// `orgs put`.
#[derive(Debug, Args)]
pub struct OrgPut {
    /// The organisation id.
    pub id: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// IANA time zone, e.g. America/New_York [default: UTC].
    #[arg(long, value_name = "TZ")]
    pub timezone: Option<String>,
    /// A holiday, YYYY-MM-DD (repeat for several).
    #[arg(long = "holiday", value_name = "DATE")]
    pub holidays: Vec<chrono::NaiveDate>,
    /// A weekend day, e.g. Fri (repeat; default Sat and Sun).
    #[arg(long = "weekend", value_name = "DAY", value_parser = parse_weekday)]
    pub weekend: Vec<chrono::Weekday>,
    /// A setting overriding a workflow default: SETTING=VALUE, VALUE read as JSON when it parses; SETTING=null removes it.
    #[arg(long = "set", value_name = "SETTING=VALUE", value_parser = parse_assignment)]
    pub set: Vec<(String, String)>,
    /// Replace the whole organisation: properties, holidays and settings not given here are
    /// reset (UTC, a Saturday–Sunday weekend, no holidays, no settings).
    #[arg(long)]
    pub replace: bool,
}

/// `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A .yaml/.yml file (keys `orgs` and `people`) or a .csv file of people
    /// (header id,name,email,org,roles,...; roles separated by `;`; other columns are attributes).
    pub file: PathBuf,
}

/// `validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Workflow files or folders [default: every file of --workflows].
    pub files: Vec<PathBuf>,
}

/// Diagram formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    /// Mermaid flowchart (renders in GitHub Markdown).
    Mermaid,
    /// Graphviz DOT (`| dot -Tsvg > flow.svg`).
    Dot,
    /// SVG drawn by mentorflow itself (the portal's diagram; no Graphviz needed).
    Svg,
}

/// `graph`.
#[derive(Debug, Args)]
pub struct GraphArgs {
    /// The workflow id.
    pub workflow: String,
    /// Diagram format.
    #[arg(long, value_enum, default_value = "mermaid")]
    pub format: GraphFormat,
    /// Highlight this case's current state and the path it took.
    #[arg(long = "case", value_name = "ID")]
    pub case: Option<i64>,
}

/// `test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// Scenario files or folders [default: tests/scenarios].
    pub paths: Vec<PathBuf>,
    /// Also list the transitions (action from a state, timer firing in a state), states,
    /// actions and timers no scenario reached.
    #[arg(long)]
    pub coverage: bool,
    /// Fail when a workflow's transition coverage is below P percent (0..100; implies
    /// --coverage).
    #[arg(long, value_name = "P", value_parser = parse_percent)]
    pub min_coverage: Option<f64>,
    /// Run every scenario on a new, empty schema of this PostgreSQL server (a postgres:// URL
    /// that sets no search_path), dropped when the scenario ends [default: a temporary
    /// SQLite file per scenario].
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a percentage (a number from 0 to 100)"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("`{s}` is not between 0 and 100"));
    }
    Ok(v)
}

/// `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Time between ticks: seconds (30) or a duration (30s, 5m, 1h), at most 24h.
    #[arg(long, value_name = "DURATION", default_value = "60", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Deliver each notification (and signal) as one JSON line on this command's stdin
    /// (run with `sh -c`, once per item; a non-zero exit is retried on the next tick).
    /// Without it, they are printed as JSON lines on stdout.
    #[arg(long, value_name = "COMMAND")]
    pub exec: Option<String>,
    /// Tick and deliver once, then exit.
    #[arg(long)]
    pub once: bool,
    /// The configuration file `serve` reads (TOML; see docs/serve.md): `run` takes its db,
    /// workflows, operator_roles, `[[webhooks]]` (each notification POSTed, signed) and
    /// `[retention]` (retention on a schedule). Flags given win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on [default: the config file's addr, else 127.0.0.1:8080].
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
    /// The portal's configuration file (TOML: addr, public_url, db, workflows,
    /// secure_cookies, `[mail]`; see docs/serve.md). Flags given win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The address people reach the portal at (links in e-mails) [default: http://ADDR].
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// Serve the demo on a fresh database.
    #[arg(long)]
    pub demo: bool,
    /// Replace the demo database even if it holds data the demo did not write (with --demo).
    #[arg(long, requires = "demo")]
    pub force: bool,
    /// Write e-mails (sign-in links and notifications) as .eml files into this folder
    /// instead of the configured transport.
    #[arg(long, value_name = "DIR")]
    pub mail_dir: Option<PathBuf>,
    /// Mark cookies Secure (served over TLS, or behind a TLS-terminating proxy).
    #[arg(long)]
    pub secure_cookies: bool,
}

/// `replay`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mentorflow --db cases.db replay score_request --version 2\n  \
    mentorflow --db cases.db --json replay score_request --version 2 --cases 4,7")]
pub struct ReplayArgs {
    /// The workflow whose cases are replayed.
    pub workflow: String,
    /// The version to replay them against (a file of --workflows or a stored version).
    #[arg(long, value_name = "N")]
    pub version: u32,
    /// Only these cases (ids, comma-separated or repeated) [default: every case of the
    /// workflow].
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub cases: Vec<i64>,
}

/// `migrate`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mentorflow --db cases.db migrate request-v1-to-v2.yaml --dry-run\n  \
    mentorflow --db cases.db migrate request-v1-to-v2.yaml\n  \
    mentorflow --db cases.db --json migrate request-v1-to-v2.yaml --cases 4,7\n\n\
    The plan's format is in docs/authoring.md. A plan with problems changes nothing; a case\n\
    that cannot move is listed as refused (with the reason) and stays on its version; the\n\
    command then exits 1.")]
pub struct MigrateArgs {
    /// The migration plan (YAML): workflow, from, to, states, roles, fields, timers, run.
    pub plan: PathBuf,
    /// Say per case what would change (state, fields, roles, timers) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Only these cases (ids, comma-separated or repeated) [default: every open case of
    /// the plan's `from` version].
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub cases: Vec<i64>,
}

/// `health`.
#[derive(Debug, Args)]
#[command(after_help = "Examples:\n  \
    mentorflow --db cases.db health\n  \
    mentorflow --db cases.db --json health --grace 60")]
pub struct HealthArgs {
    /// A timer due longer ago than this many seconds is overdue (no worker fired it).
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub grace: u64,
}

/// `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Cases in the lifecycle parts (5 steps each).
    #[arg(long, default_value_t = 2_000)]
    pub cases: usize,
    /// Cases with a due timer in the timers part.
    #[arg(long, default_value_t = 100_000)]
    pub timers: usize,
    /// Cases in the scale part (0 skips it).
    #[arg(long, default_value_t = 1_000_000)]
    pub scale: usize,
    /// Repetitions of the lifecycle and timer parts; medians are reported.
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Latency samples per query in the scale part.
    #[arg(long, default_value_t = 2_000)]
    pub samples: usize,
    /// Folder for the benchmark's database files (default: the system temp folder).
    #[arg(long)]
    pub dir: Option<std::path::PathBuf>,
    /// A PostgreSQL server for the PostgreSQL parts (each on a fresh schema, dropped after;
    /// skipped when not given).
    #[arg(long, env = "MENTORFLOW_BENCH_POSTGRES", value_name = "URL")]
    pub postgres: Option<String>,
}

/// `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Replace the database even if it holds cases or people the demo did not write.
    #[arg(long)]
    pub force: bool,
}

/// `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    mentorflow::time::parse_instant(s)
}

/// `NAME=VALUE`.
fn parse_assignment(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!(
            "expected NAME=VALUE, e.g. client_name=\"Pat's Bakery\", got `{s}`"
        )),
    }
}

fn parse_object(s: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(s) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("expected a JSON object, e.g. '{\"client_name\": \"Pat\"}'".into()),
        Err(e) => Err(format!("not valid JSON: {e}")),
    }
}

fn parse_weekday(s: &str) -> Result<chrono::Weekday, String> {
    s.parse::<chrono::Weekday>()
        .map_err(|_| format!("expected a weekday such as Sat or Sunday, got `{s}`"))
}

/// The longest `run --interval`: a worker that ticks less often belongs in cron.
const MAX_INTERVAL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `run --interval`: seconds (`30`, `0.5`) or a duration (`30s`, `5m`, `1h 30m`, read by
/// humantime), from 1 ms to 24 h.
fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let d = match s.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 => {
            std::time::Duration::try_from_secs_f64(secs).unwrap_or(MAX_INTERVAL * 2)
        }
        Ok(_) => {
            return Err(format!(
                "the interval must be more than 0 seconds, got `{s}`"
            ))
        }
        Err(_) => humantime::parse_duration(s.trim()).map_err(|e| {
            format!("expected seconds (30) or a duration (30s, 5m, 1h), got `{s}`: {e}")
        })?,
    };
    if d < std::time::Duration::from_millis(1) {
        return Err(format!("the interval must be at least 1ms, got `{s}`"));
    }
    if d > MAX_INTERVAL {
        return Err(format!(
            "the interval must be at most 24h, got `{s}`; for rarer runs, call `mentorflow tick` from cron"
        ));
    }
    Ok(d)
}
