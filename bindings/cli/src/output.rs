//! Output helpers: JSON or aligned text on stdout, colours only where the terminal takes them,
//! and the one-line errors on stderr.
//!
//! Colours are `anstyle` styles written through `anstream`, which decides per stream: on a
//! terminal unless `NO_COLOR` is set or `TERM=dumb`, forced with `CLICOLOR_FORCE=1`, off
//! with `CLICOLOR=0`, and stripped from whatever reaches a pipe or a file.

use std::io::Write;

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};

use chrono::{DateTime, Utc};
use mentorflow::{Case, Error, Problem};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Where a command writes.
#[derive(Debug, Clone, Copy)]
pub struct Out {
    /// `--json`.
    pub json: bool,
    color: bool,
}

impl Out {
    /// An output for stdout.
    pub fn new(json: bool) -> Out {
        Out {
            json,
            color: !json && anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never,
        }
    }

    /// Print a value as pretty JSON.
    pub fn print_json(&self, v: &impl Serialize) -> Result<(), CliError> {
        let text = serde_json::to_string_pretty(v)
            .map_err(|e| CliError::msg(format!("cannot write JSON: {e}")))?;
        print(&format!("{text}\n"));
        Ok(())
    }

    /// Bold text.
    pub fn bold(&self, s: &str) -> String {
        self.paint(Style::new().bold(), s)
    }

    /// Dim text.
    pub fn dim(&self, s: &str) -> String {
        self.paint(Style::new().dimmed(), s)
    }

    /// Green text.
    pub fn green(&self, s: &str) -> String {
        self.paint(AnsiColor::Green.on_default(), s)
    }

    /// Red text.
    pub fn red(&self, s: &str) -> String {
        self.paint(AnsiColor::Red.on_default(), s)
    }

    /// Cyan text.
    pub fn cyan(&self, s: &str) -> String {
        self.paint(AnsiColor::Cyan.on_default(), s)
    }

    fn paint(&self, style: Style, s: &str) -> String {
        if self.color {
            format!("{}{s}{}", style.render(), style.render_reset())
        } else {
            s.to_owned()
        }
    }

    /// A case's state as people read it: `Label (id)`.
    pub fn state(&self, case: &Case) -> String {
        if case.state_label == case.state {
            self.bold(&case.state)
        } else {
            format!(
                "{} {}",
                self.bold(&case.state_label),
                self.dim(&format!("({})", case.state))
            )
        }
    }
}

/// Write text to stdout (colours stripped where stdout does not take them). A closed pipe
/// (`| head`) is not an error.
pub fn print(s: &str) {
    let mut out = anstream::stdout().lock();
    let _ = out.write_all(s.as_bytes());
    let _ = out.flush();
}

/// Write a line to stdout.
pub fn line(s: &str) {
    print(&format!("{s}\n"));
}

/// An instant as people read it: `2026-11-20 10:00 UTC` (seconds when not zero).
pub fn time(t: DateTime<Utc>) -> String {
    use chrono::Timelike;
    if t.second() == 0 && t.nanosecond() == 0 {
        t.format("%Y-%m-%d %H:%M UTC").to_string()
    } else {
        t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// A value as people read it: text as is, the rest as JSON.
pub fn value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "—".into(),
        Value::Array(items) if items.iter().all(|i| !i.is_object() && !i.is_array()) => {
            items.iter().map(value).collect::<Vec<_>>().join(", ")
        }
        other => other.to_string(),
    }
}

/// `client=pat mentor=alice`.
pub fn participants(case: &Case) -> String {
    case.participants
        .iter()
        .map(|(role, ids)| format!("{role}={}", ids.join(",")))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How many terminal columns a text takes (CJK and emoji take two; colour codes none).
pub fn width(s: &str) -> usize {
    anstream::adapter::strip_str(s)
        .map(unicode_width::UnicodeWidthStr::width)
        .sum()
}

/// Rows aligned in columns (the last column is not padded).
pub fn table(header: &[&str], rows: &[Vec<String>], out: &Out) -> String {
    let n = header.len();
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate().take(n) {
            widths[i] = widths[i].max(width(c));
        }
    }
    let fmt_row = |cells: Vec<String>| -> String {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                let pad = widths[i].saturating_sub(width(c));
                s.push_str(c);
                s.push_str(&" ".repeat(pad + 2));
            }
        }
        s.trim_end().to_owned()
    };
    let mut text = String::new();
    let head = fmt_row(header.iter().map(|h| (*h).to_owned()).collect());
    text.push_str(&out.bold(&head));
    text.push('\n');
    for r in rows {
        text.push_str(&fmt_row(r.clone()));
        text.push('\n');
    }
    text
}

/// Key/value lines with the keys aligned, indented by two spaces.
pub fn pairs(items: &[(String, String)]) -> String {
    let w = items.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    let mut s = String::new();
    for (k, v) in items {
        let pad = w - width(k);
        s.push_str(&format!("  {k}{}  {v}\n", " ".repeat(pad)));
    }
    s
}

// ---- errors ---------------------------------------------------------------------------------

/// A problem that does not stop the command, on stderr: `warning: file:line:col: message`
/// (with `--json`, one line `{"warning": {file, line, column, path, message}}`).
pub fn warn(p: &Problem, json: bool) {
    let mut err = std::io::stderr().lock();
    if json {
        let _ = writeln!(err, "{}", json!({ "warning": p }));
    } else {
        let _ = writeln!(err, "warning: {p}");
    }
}

/// A warning that is not about a definition: `warning: TEXT`, or with `--json` the line
/// `{"warning": {"message": TEXT}}` on stderr.
pub fn warn_text(text: &str, json: bool) {
    let mut err = std::io::stderr().lock();
    if json {
        let _ = writeln!(err, "{}", json!({ "warning": { "message": text } }));
    } else {
        let _ = writeln!(err, "warning: {text}");
    }
}

/// Exit code of a refused or invalid request.
pub const EXIT_FAILED: u8 = 1;

/// What a command reports when it fails.
#[derive(Debug)]
pub struct CliError {
    /// One line: what is wrong and how to fix it.
    pub message: String,
    /// A stable code (the engine error's `code()`, or `usage`, `io`, `test_failed`).
    pub code: &'static str,
    /// Problem lines printed before the message (definition errors).
    pub problems: Vec<Problem>,
    /// Extra details for `--json`.
    pub details: Map<String, Value>,
}

impl CliError {
    /// An error with a message only.
    pub fn msg(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: "invalid",
            problems: Vec::new(),
            details: Map::new(),
        }
    }

    /// An error with a code.
    pub fn coded(code: &'static str, message: impl Into<String>) -> CliError {
        CliError {
            code,
            ..CliError::msg(message)
        }
    }

    /// Print the error on stderr: problem lines, then one `error: ...` line (or one JSON line).
    pub fn print(&self, json: bool) {
        let mut err = anstream::stderr().lock();
        let message = self
            .message
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        if json {
            let mut e = Map::new();
            e.insert("code".into(), json!(self.code));
            e.insert("message".into(), json!(message));
            if !self.problems.is_empty() {
                e.insert("problems".into(), json!(self.problems));
            }
            for (k, v) in &self.details {
                e.insert(k.clone(), v.clone());
            }
            let _ = writeln!(err, "{}", json!({ "error": e }));
            return;
        }
        for p in &self.problems {
            let _ = writeln!(err, "{p}");
        }
        let style = AnsiColor::Red.on_default().bold();
        let _ = writeln!(
            err,
            "{}error:{} {message}",
            style.render(),
            style.render_reset()
        );
    }
}

impl From<Error> for CliError {
    fn from(e: Error) -> CliError {
        let code = e.code();
        let mut details = Map::new();
        let (message, problems) = match e {
            Error::Definition { problems } => {
                let files: std::collections::BTreeSet<&str> =
                    problems.iter().map(|p| p.file.as_str()).collect();
                let n = problems.len();
                let message = format!(
                    "{n} problem{} in {} workflow file{}; fix {} and check with `mentorflow validate`",
                    plural(n),
                    files.len(),
                    plural(files.len()),
                    if n == 1 { "it" } else { "them" }
                );
                (message, problems)
            }
            Error::GuardRejected {
                workflow,
                action,
                state,
                message,
                suggest,
                rule,
            } => {
                details.insert("workflow".into(), json!(workflow));
                details.insert("action".into(), json!(action));
                details.insert("state".into(), json!(state));
                details.insert("suggest".into(), json!(suggest));
                details.insert("rule".into(), json!(rule));
                let mut m = format!("`{action}` refused: {message}");
                if !suggest.is_empty() {
                    m.push_str(&format!(" (try: {})", suggest.join(", ")));
                }
                (m, Vec::new())
            }
            Error::NotPermitted {
                workflow,
                action,
                actor,
                message,
            } => {
                details.insert("workflow".into(), json!(workflow));
                details.insert("action".into(), json!(action));
                details.insert("actor".into(), json!(actor));
                (
                    format!(
                        "{message} (`mentorflow actions CASE --as {actor}` lists what they may do)"
                    ),
                    Vec::new(),
                )
            }
            Error::Validation {
                workflow,
                field,
                message,
            } => {
                if let Some(w) = workflow {
                    details.insert("workflow".into(), json!(w));
                }
                if let Some(f) = field {
                    details.insert("field".into(), json!(f));
                }
                (message, Vec::new())
            }
            Error::NotFound { kind, id, hint } => {
                details.insert("kind".into(), json!(kind));
                details.insert("id".into(), json!(id));
                let how = match (kind, hint.is_some()) {
                    (_, true) => String::new(),
                    ("case", _) => "; `mentorflow list` shows the cases".into(),
                    ("person", _) => "; `mentorflow people list` shows the directory".into(),
                    ("organisation", _) => "; `mentorflow orgs list` shows them".into(),
                    ("notification", _) => "; `mentorflow notifications --all` lists them".into(),
                    ("database", _) => "; `--db PATH` (or MENTORFLOW_DB) names the database file, and commands that only read never create one".into(),
                    _ => String::new(),
                };
                let base = Error::NotFound { kind, id, hint }.to_string();
                (format!("{base}{how}"), Vec::new())
            }
            Error::Script { place, message } => {
                details.insert("workflow".into(), json!(place.workflow));
                details.insert("version".into(), json!(place.version));
                details.insert("file".into(), json!(place.file));
                details.insert("line".into(), json!(place.line));
                details.insert("column".into(), json!(place.column));
                details.insert("path".into(), json!(place.path));
                let action = place
                    .path
                    .strip_prefix("actions.")
                    .and_then(|p| p.split('.').next());
                if let Some(a) = action {
                    details.insert("action".into(), json!(a));
                }
                (Error::Script { place, message }.to_string(), Vec::new())
            }
            Error::Conflict {
                case_id,
                expected,
                actual,
            } => {
                details.insert("case_id".into(), json!(case_id));
                details.insert("expected".into(), json!(expected));
                details.insert("actual".into(), json!(actual));
                (
                    Error::Conflict {
                        case_id,
                        expected,
                        actual,
                    }
                    .to_string(),
                    Vec::new(),
                )
            }
            other => (other.to_string(), Vec::new()),
        };
        CliError {
            message,
            code,
            problems,
            details,
        }
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError::coded("io", e.to_string())
    }
}

/// `s` when `n` is not 1.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
