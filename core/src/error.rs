//! The one public error type, [`Error`], grouped by what a caller does about it.
//!
//! | code             | variant                  | what the caller does                                      |
//! |------------------|--------------------------|-----------------------------------------------------------|
//! | `definition`     | [`Error::Definition`]    | fix the workflow file (every problem is listed)            |
//! | `validation`     | [`Error::Validation`]    | fix the input or data named by `field`                     |
//! | `guard_rejected` | [`Error::GuardRejected`] | show `message` to the person, offer `suggest`              |
//! | `not_permitted`  | [`Error::NotPermitted`]  | the person lacks a role the action names                   |
//! | `not_found`      | [`Error::NotFound`]      | the case, action, person, view… does not exist (or is not visible to the actor) |
//! | `conflict`       | [`Error::Conflict`]      | reload the case and retry                                  |
//! | `script`         | [`Error::Script`]        | a guard, effect, timer or template script failed: fix the workflow |
//! | `storage`        | [`Error::Storage`]       | the database failed (disk, corruption, newer schema)       |
//! | `suspended`      | [`Error::Suspended`]     | an operator suspended the case: wait for `resume`          |
//! | `cancelled`      | [`Error::Cancelled`]     | an operator cancelled the case: it takes no more actions   |
//!
//! A refused action (`guard_rejected`, `not_permitted`, `validation`, `not_found`) is an ordinary
//! answer for a person, not a crash: nothing was changed.

use std::fmt;

use serde::Serialize;

/// A result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One problem found in a workflow definition, with its place in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file (or `<text>` for definitions loaded from a string).
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// The YAML path of the offending value, e.g. `actions.accept.to`.
    pub path: String,
    /// What is wrong, in plain words.
    pub message: String,
}

impl Problem {
    /// A YAML syntax problem of `file`, at the position the parser reported.
    pub fn from_yaml(file: &str, e: &crate::yaml::YamlError) -> Self {
        Problem {
            file: file.to_owned(),
            line: e.pos.line,
            column: e.pos.column,
            path: e.path.clone().unwrap_or_default(),
            message: e.message.clone(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if !self.path.is_empty() {
            write!(f, " (at `{}`)", self.path)?;
        }
        Ok(())
    }
}

/// Where a script lives: which definition, which place in it, and the position in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScriptPlace {
    /// Workflow id.
    pub workflow: String,
    /// Workflow version.
    pub version: u32,
    /// The YAML path of the script, e.g. `actions.accept.run` or `states.assigned_pending.timers[2].run`.
    pub path: String,
    /// The definition's file.
    pub file: String,
    /// 1-based line in the file.
    pub line: usize,
    /// 1-based column in the file.
    pub column: usize,
}

impl fmt::Display for ScriptPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{} ({} v{}, `{}`)",
            self.file, self.line, self.column, self.workflow, self.version, self.path
        )
    }
}

/// Every error mentorflow returns.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A workflow definition (or a scenario file, or an import) is invalid. Lists every problem.
    #[error("{}", summarize(.problems))]
    Definition {
        /// All problems found, each with file, line and column.
        problems: Vec<Problem>,
    },

    /// An input, a field, a setting or a value is invalid.
    #[error("{message}")]
    Validation {
        /// The workflow concerned, when there is one.
        workflow: Option<String>,
        /// The field, input or setting that is invalid (`inputs.note`, `fields.description`, `settings.x`).
        field: Option<String>,
        /// What is wrong.
        message: String,
    },

    /// The action is not possible now: its guard said no, or the case is not in a state the
    /// action starts from. `suggest` lists actions that would help.
    #[error("{message}")]
    GuardRejected {
        /// Workflow id.
        workflow: String,
        /// The action that was refused.
        action: String,
        /// The case's state at the time.
        state: String,
        /// The message for the person.
        message: String,
        /// Actions that would help (for example `accept`, `decline`).
        suggest: Vec<String>,
        /// Which rule refused: `state`, `guard[N]`, `check[N]`, `capacity`, or `fail` (an effect called `fail`).
        rule: String,
    },

    /// The person does not hold a role the action names.
    #[error("{message}")]
    NotPermitted {
        /// Workflow id.
        workflow: String,
        /// The action.
        action: String,
        /// The person who tried.
        actor: String,
        /// What is missing.
        message: String,
    },

    /// Something named does not exist, or is not visible to the person asking.
    #[error("{kind} `{id}` not found{}", hint_suffix(.hint))]
    NotFound {
        /// `case`, `workflow`, `action`, `person`, `organisation`, `view`, `export`, `notification`.
        kind: &'static str,
        /// The id that was asked for.
        id: String,
        /// An optional hint (similar names, or "or not visible to you").
        hint: Option<String>,
    },

    /// A concurrent change won: the case's revision is not the one expected.
    #[error("case {case_id} was changed concurrently (expected revision {expected}, found {actual}); reload it and retry")]
    Conflict {
        /// The case.
        case_id: i64,
        /// The revision the caller expected.
        expected: u64,
        /// The revision found.
        actual: u64,
    },

    /// A script failed or exceeded a sandbox limit. The whole command was rolled back.
    #[error("script error at {place}: {message}")]
    Script {
        /// Where the script is.
        place: Box<ScriptPlace>,
        /// What went wrong.
        message: String,
    },

    /// The database failed.
    #[error("storage error: {message}")]
    Storage {
        /// What went wrong.
        message: String,
    },

    /// The case is suspended by an operator: it takes no action until resumed.
    #[error("case {case_id} is suspended by {by} since {} ({reason}); an operator must resume it first", .at.format("%Y-%m-%d %H:%M UTC"))]
    Suspended {
        /// The case.
        case_id: i64,
        /// The operator who suspended it.
        by: String,
        /// Since when.
        at: chrono::DateTime<chrono::Utc>,
        /// Their reason.
        reason: String,
    },

    /// The case was cancelled by an operator: it takes no more actions.
    #[error("case {case_id} was cancelled by {by} on {} ({reason}); it takes no more actions", .at.format("%Y-%m-%d %H:%M UTC"))]
    Cancelled {
        /// The case.
        case_id: i64,
        /// The operator who cancelled it.
        by: String,
        /// When.
        at: chrono::DateTime<chrono::Utc>,
        /// Their reason.
        reason: String,
    },
}

fn summarize(problems: &[Problem]) -> String {
    match problems {
        [] => "invalid definition".to_owned(),
        [one] => one.to_string(),
        many => {
            let mut s = format!("{} problems in definition:", many.len());
            for p in many {
                s.push_str("\n  ");
                s.push_str(&p.to_string());
            }
            s
        }
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_deref()
        .map(|h| format!(" ({h})"))
        .unwrap_or_default()
}

impl Error {
    /// A stable, machine-readable code for the variant (see the table in the module docs).
    pub fn code(&self) -> &'static str {
        match self {
            Error::Definition { .. } => "definition",
            Error::Validation { .. } => "validation",
            Error::GuardRejected { .. } => "guard_rejected",
            Error::NotPermitted { .. } => "not_permitted",
            Error::NotFound { .. } => "not_found",
            Error::Conflict { .. } => "conflict",
            Error::Script { .. } => "script",
            Error::Storage { .. } => "storage",
            Error::Suspended { .. } => "suspended",
            Error::Cancelled { .. } => "cancelled",
        }
    }

    /// A validation error about one field or input.
    pub(crate) fn validation(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Validation {
            workflow: None,
            field: Some(field.into()),
            message: message.into(),
        }
    }

    /// A not-found error.
    pub(crate) fn not_found(kind: &'static str, id: impl Into<String>) -> Self {
        Error::NotFound {
            kind,
            id: id.into(),
            hint: None,
        }
    }

    /// A not-found error for a name among known ones, with the one "did you mean" of
    /// [`crate::suggest`] (or the known names when there are few and none is close).
    pub fn not_found_among<'a>(
        kind: &'static str,
        id: impl Into<String>,
        known: impl IntoIterator<Item = &'a str>,
    ) -> Self {
        let id = id.into();
        let known: Vec<&str> = known.into_iter().collect();
        let hint = match crate::suggest::closest(&id, known.iter().copied()) {
            Some(c) => Some(format!("did you mean `{c}`?")),
            None if !known.is_empty() && known.len() <= 12 => {
                Some(format!("known: {}", known.join(", ")))
            }
            None => None,
        };
        Error::NotFound { kind, id, hint }
    }

    /// The refusal of a case an operator suspended or cancelled, if it is either.
    pub(crate) fn held(case: &crate::Case) -> Option<Self> {
        if let Some(m) = &case.cancelled {
            return Some(Error::Cancelled {
                case_id: case.id,
                by: m.by.clone(),
                at: m.at,
                reason: m.reason.clone(),
            });
        }
        case.suspended.as_ref().map(|m| Error::Suspended {
            case_id: case.id,
            by: m.by.clone(),
            at: m.at,
            reason: m.reason.clone(),
        })
    }

    /// A storage error from any message.
    pub(crate) fn storage(message: impl Into<String>) -> Self {
        Error::Storage {
            message: message.into(),
        }
    }

    /// A definition error with a single problem.
    pub(crate) fn definition_one(file: &str, path: &str, message: impl Into<String>) -> Self {
        Error::Definition {
            problems: vec![Problem {
                file: file.to_owned(),
                line: 1,
                column: 1,
                path: path.to_owned(),
                message: message.into(),
            }],
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::Utf8Error(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) = &e
        {
            return Error::storage(format!(
                "the database holds a value that cannot be read (is the file damaged?): {e}"
            ));
        }
        if let rusqlite::Error::SqliteFailure(code, _) = &e {
            match code.code {
                rusqlite::ErrorCode::SystemIoFailure => {
                    use rusqlite::ffi;
                    let writing = [
                        ffi::SQLITE_IOERR_WRITE,
                        ffi::SQLITE_IOERR_FSYNC,
                        ffi::SQLITE_IOERR_TRUNCATE,
                        ffi::SQLITE_IOERR_SHMSIZE,
                    ];
                    return Error::storage(if writing.contains(&code.extended_code) {
                        format!("the database file could not be written (is the disk full, or the file at a size limit?): {e}")
                    } else {
                        format!("the database file could not be read or written: {e}")
                    });
                }
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
                    return Error::storage(format!(
                        "the database stayed locked by another writer past the busy timeout: {e}"
                    ));
                }
                rusqlite::ErrorCode::DiskFull => {
                    return Error::storage(format!("the disk or database size limit is full: {e}"));
                }
                rusqlite::ErrorCode::ReadOnly => {
                    return Error::storage(format!("the database is read-only: {e}"));
                }
                rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt => {
                    return Error::storage(format!(
                        "the file is not a valid mentorflow database: {e}"
                    ));
                }
                _ => {}
            }
        }
        Error::storage(e.to_string())
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::storage(format!("stored JSON could not be read: {e}"))
    }
}
