//! What a command read while it was decided outside the writer (SQLite, see
//! `crate::engine` "decide outside the writer"): every directory and cross-case read, with
//! what it gave, so the writer can read each again inside its transaction and apply the
//! decision only when every one still gives the same. The case itself is checked by its
//! revision when the decision is applied ([`super::Tx::update_case`]).
//!
//! Recording is per thread and only while [`recording`] runs; elsewhere [`record`] costs one
//! thread-local check.

use std::cell::RefCell;

use chrono::{DateTime, Utc};

use crate::directory::{Org, Person};

/// One read and its answer.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Read {
    /// A stored person (`None`: not in the directory).
    Person(String, Option<Person>),
    /// An organisation as the command used it (settings, calendar; an unknown id reads as
    /// an organisation with defaults).
    Org(String, Org),
    /// The people of an organisation.
    PeopleOfOrg(String, Vec<Person>),
    /// The people of an organisation holding a directory role there.
    PeopleWithRole(String, String, Vec<Person>),
    /// `open_cases`: workflow, person, role, and the count.
    OpenCases(String, String, Option<String>, i64),
    /// `assignments_since`: workflow, person, role, since, and the count.
    AssignmentsSince(String, String, String, DateTime<Utc>, i64),
}

impl Read {
    /// Whether two reads ask the same question (whatever their answers).
    fn same_question(&self, other: &Read) -> bool {
        use Read::*;
        match (self, other) {
            (Person(a, _), Person(b, _)) | (Org(a, _), Org(b, _)) => a == b,
            (PeopleOfOrg(a, _), PeopleOfOrg(b, _)) => a == b,
            (PeopleWithRole(a, r, _), PeopleWithRole(b, s, _)) => a == b && r == s,
            (OpenCases(w, p, r, _), OpenCases(x, q, s, _)) => w == x && p == q && r == s,
            (AssignmentsSince(w, p, r, t, _), AssignmentsSince(x, q, s, u, _)) => {
                w == x && p == q && r == s && t == u
            }
            _ => false,
        }
    }
}

scoped_tls::scoped_thread_local!(static LOG: RefCell<Vec<Read>>);

/// Run `f`, recording the reads made on this thread meanwhile.
pub(crate) fn recording<T>(f: impl FnOnce() -> T) -> (T, Vec<Read>) {
    let log = RefCell::new(Vec::new());
    let out = LOG.set(&log, f);
    (out, log.into_inner())
}

/// Record a read (built only while recording). A question asked twice is kept once, with
/// its first answer; a different later answer (none is expected: the decision reads one
/// snapshot) is kept too, so the check fails rather than pass on either.
pub(crate) fn record(read: impl FnOnce() -> Read) {
    if !LOG.is_set() {
        return;
    }
    LOG.with(|log| {
        let read = read();
        let mut log = log.borrow_mut();
        if !log.iter().any(|r| r.same_question(&read) && *r == read) {
            log.push(read);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_recorded_once_and_only_while_recording() {
        record(|| Read::OpenCases("w".into(), "p".into(), None, 1));
        let ((), log) = recording(|| {
            record(|| Read::OpenCases("w".into(), "p".into(), None, 1));
            record(|| Read::OpenCases("w".into(), "p".into(), None, 1));
            record(|| Read::OpenCases("w".into(), "p".into(), Some("r".into()), 1));
            record(|| Read::Person("ann".into(), None));
        });
        assert_eq!(log.len(), 3, "{log:?}");
        let ((), empty) = recording(|| {});
        assert!(empty.is_empty());
    }
}
