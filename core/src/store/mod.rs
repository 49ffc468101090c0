//! The storage boundary. The engine decides what a command does (checks, guards, effects, the
//! new state, the event, timers, notifications) and hands the store rows to write; the store
//! answers queries and decides nothing. Each backend is one module with its SQL in one place:
//! [`sqlite`] (the embedded default). A database is named by one string everywhere
//! ([`Location::parse`]): a file path, `:memory:`, or a `postgres://` / `postgresql://` URL.
//!
//! Scripts' directory functions (`person`, `people`, `open_cases`, `assignments_since`) read
//! through `DirectoryReads`, never through a backend's handle.

pub mod sqlite;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::directory::Person;
use crate::error::{Error, Result};

pub use crate::model::NotificationFilter;
pub(crate) use sqlite::*;
pub use sqlite::{schema, TimerRow};

/// What the scripts' directory functions read, inside the command's transaction.
pub(crate) trait DirectoryReads {
    /// `person(id)`.
    fn person(&self, id: &str) -> Result<Option<Person>>;
    /// The people of an organisation, by id.
    fn people_of_org(&self, org: &str) -> Result<Vec<Person>>;
    /// The people of an organisation holding a directory role there, by id.
    fn people_with_role(&self, org: &str, role: &str) -> Result<Vec<Person>>;
    /// Open cases of a workflow where the person holds a role (any, or `role`).
    fn open_cases(&self, workflow: &str, person: &str, role: Option<&str>) -> Result<i64>;
    /// Grants of `role` to the person in cases of a workflow since an instant.
    fn assignments_since(
        &self,
        workflow: &str,
        person: &str,
        role: &str,
        since: DateTime<Utc>,
    ) -> Result<i64>;
}

/// `people(filter)` in scripts: people of `org` (or `filter.org`) matching the filter, by id,
/// as scripts see them. `role` looks up a directory role; other keys must match attributes
/// ([`crate::directory::matches_filter`]).
pub(crate) fn people_matching(
    reads: &dyn DirectoryReads,
    org: &str,
    filter: &Map<String, Value>,
) -> Result<Vec<Map<String, Value>>> {
    let org = match filter.get("org") {
        Some(Value::String(o)) => o.as_str(),
        _ => org,
    };
    let candidates = match filter.get("role") {
        Some(Value::String(role)) => reads.people_with_role(org, role)?,
        _ => reads.people_of_org(org)?,
    };
    Ok(candidates
        .iter()
        .map(Person::to_script_map)
        .filter(|m| crate::directory::matches_filter(m, filter))
        .collect())
}

/// Run `f` with the directory reads of the command running on this thread (`None` outside
/// a command).
pub(crate) fn with_directory<T>(f: impl FnOnce(&dyn DirectoryReads) -> T) -> Option<T> {
    sqlite::current_reads(f)
}

/// Where a database is: the one string `Engine::builder().database(..)`, `mentorflow --db`
/// and `mentorflow.Engine(..)` take.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file (a path, or an SQLite `file:` URI such as `file:cases.db?mode=ro`).
    SqliteFile(PathBuf),
    /// A private in-memory SQLite database (`:memory:`).
    SqliteMemory,
    /// A PostgreSQL server (`postgres://` or `postgresql://` URL).
    Postgres(String),
}

impl Location {
    /// Read a database string: `postgres://…` and `postgresql://…` name a PostgreSQL server,
    /// `:memory:` a private in-memory SQLite database, anything else an SQLite file.
    pub fn parse(s: &str) -> Location {
        let t = s.trim();
        if t.starts_with("postgres://") || t.starts_with("postgresql://") {
            Location::Postgres(t.to_owned())
        } else if t == ":memory:" {
            Location::SqliteMemory
        } else {
            Location::SqliteFile(PathBuf::from(s))
        }
    }

    /// Refuse what this build cannot open, with a message saying so (nothing is created).
    pub(crate) fn check_supported(&self) -> Result<()> {
        match self {
            Location::Postgres(url) => Err(Error::storage(format!(
                "cannot open {}: this build of mentorflow has no PostgreSQL backend yet; use an SQLite file or :memory:",
                redact(url)
            ))),
            _ => Ok(()),
        }
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_string_names_its_backend() {
        assert_eq!(
            Location::parse("postgres://u@h/db"),
            Location::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Location::parse("postgresql://h/db"),
            Location::Postgres("postgresql://h/db".into())
        );
        assert_eq!(Location::parse(":memory:"), Location::SqliteMemory);
        assert_eq!(
            Location::parse("cases.db"),
            Location::SqliteFile(PathBuf::from("cases.db"))
        );
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://h/db"), "postgres://h/db");
    }
}
