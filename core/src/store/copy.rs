//! `mentorflow store copy --from A --to B`: move a whole database to another backend (an
//! SQLite file that outgrew one machine to PostgreSQL, or back), exactly: definitions,
//! directory, cases, participants, history, timers, outbox and deliveries, cursors,
//! assignments and the portal's sign-in material, every row with its id. Both backends keep
//! the same tables, columns and stored values (instants as microseconds, JSON as its text),
//! so rows move as they are.
//!
//! The target must be empty (a new file, or a database or schema without mentorflow rows);
//! otherwise nothing is written. The source is read in one read transaction (a consistent
//! snapshot while engines keep running on it) and the target written in one transaction: a
//! failed copy leaves the target as it was.

use serde_json::{Map, Value};

use super::{Location, Store, Tx};
use crate::error::{Error, Result};

/// The tables copied, parents before children, each with its order (the primary key).
pub(crate) const TABLES: &[(&str, &str)] = &[
    ("definitions", "workflow, version"),
    ("orgs", "id"),
    ("people", "id"),
    ("person_roles", "org, role, person"),
    ("cases", "id"),
    ("participants", "case_id, role, person"),
    ("events", "id"),
    ("timers", "id"),
    ("incidents", "id"),
    ("outbox", "id"),
    ("deliveries", "outbox_id, consumer"),
    ("cursors", "name"),
    ("assignments", "person, role, workflow, at, case_id"),
    ("auth_tokens", "hash"),
    ("credentials", "hash"),
    ("passwords", "person"),
    ("idempotency", "actor, key"),
    ("audit", "id"),
];

/// One table's rows, each a map of column name to value (integers, text, or null).
pub(crate) type Rows = Vec<Map<String, Value>>;

/// What a copy moved: rows per table, in copy order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CopyReport {
    /// `(table, rows)` for every table copied.
    pub tables: Vec<(String, usize)>,
}

impl CopyReport {
    /// Rows in all.
    pub fn rows(&self) -> usize {
        self.tables.iter().map(|(_, n)| n).sum()
    }
}

/// Every copied table's rows, read in one transaction.
pub(crate) fn dump(tx: &dyn Tx) -> Result<Vec<(String, Rows)>> {
    TABLES
        .iter()
        .map(|(t, order)| Ok(((*t).to_owned(), tx.export_rows(t, order)?)))
        .collect()
}

/// Copy the database `from` names into the one `to` names (see the module's text).
pub fn copy(from: &str, to: &str) -> Result<CopyReport> {
    let from_loc = Location::parse(from);
    let to_loc = Location::parse(to);
    if from_loc == to_loc && from_loc != Location::SqliteMemory {
        return Err(Error::validation(
            "to",
            "the source and the target are the same database",
        ));
    }
    if to_loc == Location::SqliteMemory || from_loc == Location::SqliteMemory {
        return Err(Error::validation(
            "to",
            "`:memory:` is a private database that ends with the command: copy between files and servers",
        ));
    }
    let source: Box<dyn Store> = super::open(&from_loc, false)?;
    let target: Box<dyn Store> = super::open(&to_loc, true)?;
    let mut tables = None;
    source.read(&mut |tx| {
        tables = Some(dump(tx)?);
        Ok(())
    })?;
    let tables = tables.unwrap_or_default();
    let mut report = CopyReport { tables: Vec::new() };
    target.write(&mut |tx| {
        for (t, _) in TABLES {
            let n = tx.count_rows(t)?;
            if n > 0 {
                return Err(Error::validation(
                    "to",
                    format!(
                        "the target is not empty (table `{t}` has {n} rows); copy into a new file or an empty database or schema"
                    ),
                ));
            }
        }
        report.tables.clear();
        for (t, rows) in &tables {
            tx.import_rows(t, rows)?;
            report.tables.push((t.clone(), rows.len()));
        }
        tx.after_import()
    })?;
    Ok(report)
}
