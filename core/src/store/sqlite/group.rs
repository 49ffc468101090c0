//! Group commit: several threads' commands in one SQLite transaction.
//!
//! SQLite has one writer per file, so commands on one engine run one after another on the
//! writer connection. What concurrency can still save is the per-transaction cost (the `BEGIN
//! IMMEDIATE` lock, and at `COMMIT` the WAL frames of every page the transaction touched:
//! table and index pages that several commands share are written once per group, not once per
//! command). So when a thread finishes its command and another thread is already waiting for
//! the writer, it does not commit: it hands the open transaction on with the writer lock and
//! waits. The last command of the group (no thread waiting any more, or [`MAX_MEMBERS`]
//! commands, or the group open for [`MAX_OPEN`]) commits and wakes the group through a condvar
//! with the group's number (its epoch).
//!
//! - **Each command all-or-nothing.** The command that opens the group runs directly in the
//!   transaction (it fails alone: the whole transaction, holding only it, rolls back). Each
//!   command joining an open group runs inside its own `SAVEPOINT command`: on an error (or a
//!   panic) it is rolled back to the savepoint and the other commands of the group keep their
//!   writes.
//! - **Answered after the commit that holds it.** A command that handed the transaction on
//!   returns only when its group's `COMMIT` is done — also when it failed itself, since what
//!   it read included the uncommitted writes of the commands before it.
//! - **A failed `COMMIT` fails the whole group**, rolled back whole: nothing of it is applied.
//!   Every command of the group then runs again once, alone in a transaction committed right
//!   after it (the store's contract already lets a backend run a command again on a fresh
//!   transaction); if that fails too, its error is reported.
//! - **A single thread pays nothing**: with no one waiting, the one command commits at once,
//!   without a savepoint, as before.
//! - In-memory databases (`:memory:`) do not group: their reads share the writer connection
//!   and must never see uncommitted writes.
//!
//! Cached directory entries are tied to [`super::data_version`], which also moves whenever a
//! command writes the directory or any write is rolled back (so a command in a group never
//! reads a person or an organisation from a cache older than an earlier command's write).

use std::collections::HashMap;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::{with_connection, SqliteStore};
use crate::error::{Error, Result};

/// The most commands one group holds before it commits.
pub(crate) const MAX_MEMBERS: usize = 64;

/// The longest a group stays open (from its `BEGIN`) before its next command commits it.
#[cfg(not(test))]
pub(crate) const MAX_OPEN: Duration = Duration::from_millis(10);
/// Long in unit tests, so a loaded machine does not split the groups they build.
#[cfg(test)]
pub(crate) const MAX_OPEN: Duration = Duration::from_secs(5);

/// The writer connection and the group it may hold open.
pub(crate) struct Writer {
    pub(crate) db: Connection,
    /// The epoch of the group whose transaction is open on `db` (0: none).
    open: u64,
    /// Commands kept in the open group.
    members: usize,
    /// Commands of the open group that left to wait for its commit.
    waiters: usize,
    /// When the open group began.
    opened: Instant,
}

impl Writer {
    pub(crate) fn new(db: Connection) -> Writer {
        Writer {
            db,
            open: 0,
            members: 0,
            waiters: 0,
            opened: Instant::now(),
        }
    }
}

/// What the groups' members learn after handing the transaction on.
#[derive(Default)]
pub(crate) struct Groups {
    /// The last epoch given to a group.
    next: u64,
    /// Every group up to this epoch has finished (groups finish in epoch order).
    done: u64,
    /// Groups whose commit failed: the error, and how many waiting members have not read it.
    failed: HashMap<u64, (String, usize)>,
}

/// A command's end in a group.
enum Joined {
    /// Its answer.
    Final(Result<()>),
    /// The commit of its group failed: run it again.
    Lost(Error),
}

/// Execute one statement without parameters (prepared once and cached).
fn exec(db: &Connection, sql: &str) -> Result<()> {
    db.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Roll the open transaction back whole (ignoring an error: SQLite may have rolled it back
/// already, e.g. after an I/O error at `COMMIT`).
fn rollback(db: &Connection) {
    if !db.is_autocommit() {
        let _ = db.execute_batch("ROLLBACK");
    }
}

impl SqliteStore {
    /// One command, grouped with other threads' commands when they wait (see the module).
    pub(crate) fn write_grouped(
        &self,
        f: &mut dyn FnMut(&dyn crate::store::Tx) -> Result<()>,
    ) -> Result<()> {
        match self.join(f, false) {
            Joined::Final(r) => r,
            // the group it was in rolled back whole: once more, committed alone
            Joined::Lost(_) => match self.join(f, true) {
                Joined::Final(r) => r,
                Joined::Lost(e) => Err(e),
            },
        }
    }

    /// Run `f` in the open group (opening one when none is), then commit the group or hand
    /// it on. `alone`: wait until no group is open, and commit right after `f`.
    fn join(&self, f: &mut dyn FnMut(&dyn crate::store::Tx) -> Result<()>, alone: bool) -> Joined {
        let mut w = if alone {
            self.writer_without_group()
        } else {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let w = self.lock();
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            w
        };
        let first = w.open == 0;
        if first {
            if let Err(e) = exec(&w.db, "BEGIN IMMEDIATE") {
                return Joined::Final(Err(e));
            }
            w.open = self.new_epoch();
            w.members = 0;
            w.waiters = 0;
            w.opened = Instant::now();
        } else if let Err(e) = exec(&w.db, "SAVEPOINT command") {
            return self.abort(w, e);
        }
        let epoch = w.open;
        let ran = {
            let db = &w.db;
            catch_unwind(AssertUnwindSafe(|| with_connection(db, 0, || f(db))))
        };
        let (mine, panic) = match ran {
            Ok(r) => (r, None),
            Err(p) => (Err(Error::storage("a command panicked")), Some(p)),
        };
        match mine {
            Ok(()) => {
                if !first {
                    if let Err(e) = exec(&w.db, "RELEASE command") {
                        return self.abort(w, e);
                    }
                }
                w.members += 1;
            }
            Err(_) => {
                super::directory_changed();
                if first {
                    // it is alone in the transaction: roll it back whole, nothing else waits
                    rollback(&w.db);
                    w.open = 0;
                    drop(w);
                    self.finish(epoch, None, 0);
                    if let Some(p) = panic {
                        resume_unwind(p);
                    }
                    return Joined::Final(mine);
                }
                if let Err(e) =
                    exec(&w.db, "ROLLBACK TO command").and_then(|()| exec(&w.db, "RELEASE command"))
                {
                    return self.abort(w, e);
                }
            }
        }
        let commit_now = alone
            || panic.is_some()
            || self.waiting.load(Ordering::SeqCst) == 0
            || w.members >= MAX_MEMBERS
            || w.opened.elapsed() >= MAX_OPEN;
        if !commit_now {
            w.waiters += 1;
            drop(w);
            return match self.wait_for(epoch) {
                None => Joined::Final(mine),
                Some(message) => Joined::Lost(Error::storage(format!(
                    "the commit of a group of commands failed: {message}"
                ))),
            };
        }
        let committed = if w.members == 0 {
            // every command of the group failed: nothing to write
            rollback(&w.db);
            Ok(())
        } else {
            #[cfg(test)]
            let injected = self
                .inject
                .lock()
                .ok()
                .and_then(|mut i| i.take())
                .map(Error::storage);
            #[cfg(not(test))]
            let injected: Option<Error> = None;
            match injected.map_or_else(|| exec(&w.db, "COMMIT"), Err) {
                Ok(()) => Ok(()),
                Err(e) => {
                    rollback(&w.db);
                    super::directory_changed();
                    Err(e)
                }
            }
        };
        let waiters = w.waiters;
        w.open = 0;
        drop(w);
        self.finish(
            epoch,
            committed.as_ref().err().map(ToString::to_string),
            waiters,
        );
        if let Some(p) = panic {
            resume_unwind(p);
        }
        match committed {
            Ok(()) => Joined::Final(mine),
            Err(e) => Joined::Lost(e),
        }
    }

    /// Roll the whole open group back after a statement of its own bookkeeping failed
    /// (a savepoint could not be set, released or rolled back): every command in it runs again.
    fn abort(&self, mut w: std::sync::MutexGuard<'_, Writer>, e: Error) -> Joined {
        rollback(&w.db);
        super::directory_changed();
        let (epoch, waiters) = (w.open, w.waiters);
        w.open = 0;
        drop(w);
        self.finish(epoch, Some(e.to_string()), waiters);
        Joined::Lost(e)
    }

    /// The writer, once no group is open on it.
    fn writer_without_group(&self) -> std::sync::MutexGuard<'_, Writer> {
        loop {
            let w = self.lock();
            if w.open == 0 {
                return w;
            }
            let epoch = w.open;
            drop(w);
            // a group is only left open while a thread waits for the writer: it finishes
            let mut g = self.groups_lock();
            while g.done < epoch {
                g = match self.finished.wait(g) {
                    Ok(g) => g,
                    Err(poisoned) => poisoned.into_inner(),
                };
            }
        }
    }

    fn groups_lock(&self) -> std::sync::MutexGuard<'_, Groups> {
        match self.groups.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn new_epoch(&self) -> u64 {
        let mut g = self.groups_lock();
        g.next += 1;
        g.next
    }

    /// Mark a group finished (failed with a message, for its `waiters`) and wake its members.
    fn finish(&self, epoch: u64, failed: Option<String>, waiters: usize) {
        let mut g = self.groups_lock();
        g.done = g.done.max(epoch);
        if let Some(message) = failed {
            if waiters > 0 {
                g.failed.insert(epoch, (message, waiters));
            }
        }
        drop(g);
        self.finished.notify_all();
    }

    /// Wait until a group has finished: `None` when it committed, else its commit's error.
    fn wait_for(&self, epoch: u64) -> Option<String> {
        let mut g = self.groups_lock();
        while g.done < epoch {
            g = match self.finished.wait(g) {
                Ok(g) => g,
                Err(poisoned) => poisoned.into_inner(),
            };
        }
        let (message, left) = g.failed.get_mut(&epoch)?;
        *left -= 1;
        let message = message.clone();
        if *left == 0 {
            g.failed.remove(&epoch);
        }
        Some(message)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    use super::*;
    use crate::store::Store;

    fn store() -> (tempfile::TempDir, Arc<SqliteStore>) {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(Some(&dir.path().join("g.db")), true).unwrap();
        s.lock()
            .db
            .execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)")
            .unwrap();
        (dir, Arc::new(s))
    }

    /// Insert `rows` rows named `name.0..` through the command's connection (the one the
    /// store set for this thread), failing after them when `fail`.
    fn insert(name: &str, rows: usize, fail: bool) -> Result<()> {
        super::super::CONNECTION.with(|db| -> Result<()> {
            for i in 0..rows {
                db.execute(
                    "INSERT INTO t (k, v) VALUES (?1, ?2)",
                    rusqlite::params![format!("{name}.{i}"), i as i64],
                )?;
            }
            Ok(())
        })?;
        if fail {
            return Err(Error::validation("k", format!("{name} refuses")));
        }
        Ok(())
    }

    fn rows_named(s: &SqliteStore, name: &str) -> i64 {
        s.lock()
            .db
            .query_row(
                "SELECT count(*) FROM t WHERE k LIKE ?1",
                [format!("{name}.%")],
                |r| r.get(0),
            )
            .unwrap()
    }

    /// `n` threads each write one command, all waiting for the writer before the first
    /// gets it (the test holds it meanwhile), so they form groups. Returns each command's
    /// result and how many times its closure ran.
    fn race(
        s: &Arc<SqliteStore>,
        n: usize,
        command: impl Fn(usize) -> Result<()> + Send + Sync + 'static,
    ) -> Vec<(Result<()>, usize)> {
        let command = Arc::new(command);
        let held = s.lock();
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (s, command) = (s.clone(), command.clone());
                std::thread::spawn(move || {
                    let mut runs = 0;
                    let r = s.write(&mut |_tx| {
                        runs += 1;
                        command(i)
                    });
                    (r, runs)
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        while s.waiting.load(Ordering::SeqCst) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(s.waiting.load(Ordering::SeqCst), n, "every thread waits");
        drop(held);
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn concurrent_commands_share_a_transaction_and_each_is_whole() {
        let (_dir, s) = store();
        let before = s.groups_lock().next;
        let out = race(&s, 8, |i| insert(&format!("c{i}"), 3, false));
        for (i, (r, runs)) in out.iter().enumerate() {
            assert!(r.is_ok(), "command {i}: {r:?}");
            assert_eq!(*runs, 1, "command {i} ran once");
            assert_eq!(rows_named(&s, &format!("c{i}")), 3, "command {i} fully in");
        }
        let groups = s.groups_lock().next - before;
        assert!(
            groups < 8,
            "8 commands in {groups} transactions: none grouped"
        );
    }

    #[test]
    fn a_failing_command_in_a_group_leaves_the_others_whole() {
        let (_dir, s) = store();
        let before = s.groups_lock().next;
        let out = race(&s, 6, |i| insert(&format!("c{i}"), 3, i == 3 || i == 0));
        for (i, (r, runs)) in out.iter().enumerate() {
            assert_eq!(*runs, 1, "command {i} ran once");
            if i == 3 || i == 0 {
                assert!(
                    matches!(r, Err(Error::Validation { .. })),
                    "command {i}: {r:?}"
                );
                assert_eq!(rows_named(&s, &format!("c{i}")), 0, "command {i} fully out");
            } else {
                assert!(r.is_ok(), "command {i}: {r:?}");
                assert_eq!(rows_named(&s, &format!("c{i}")), 3, "command {i} fully in");
            }
        }
        assert!(s.groups_lock().next - before < 6, "none grouped");
    }

    #[test]
    fn a_failed_group_commit_applies_nothing_and_its_commands_run_again() {
        let (_dir, s) = store();
        *s.inject.lock().unwrap() = Some("injected: disk I/O error".into());
        let out = race(&s, 5, |i| insert(&format!("c{i}"), 3, false));
        assert!(s.inject.lock().unwrap().is_none(), "a commit failed");
        // all five waited, so the first group held them all: each ran again
        for (i, (_, runs)) in out.iter().enumerate() {
            assert_eq!(*runs, 2, "command {i}");
        }
        for (i, (r, _)) in out.iter().enumerate() {
            assert!(r.is_ok(), "command {i} succeeded on its second run: {r:?}");
            // whatever ran in the failed group was rolled back: each command's rows once
            assert_eq!(rows_named(&s, &format!("c{i}")), 3, "command {i}");
        }
    }

    #[test]
    fn a_commit_that_fails_again_is_reported_and_nothing_is_half_applied() {
        let (_dir, s) = store();
        // a deferred foreign key violation fails the COMMIT itself, each time
        s.lock()
            .db
            .execute_batch(
                "CREATE TABLE child (k TEXT REFERENCES t (k) DEFERRABLE INITIALLY DEFERRED)",
            )
            .unwrap();
        let out = race(&s, 4, |i| {
            insert(&format!("p{i}"), 2, false)?;
            if i == 2 {
                super::super::CONNECTION
                    .with(|db| db.execute("INSERT INTO child (k) VALUES ('nobody')", []))?;
            }
            Ok(())
        });
        for (i, (r, runs)) in out.iter().enumerate() {
            assert_eq!(*runs, 2, "command {i} ran in the failed group, then alone");
            if i == 2 {
                let e = r.as_ref().unwrap_err().to_string();
                assert!(e.contains("FOREIGN KEY"), "{e}");
                assert_eq!(rows_named(&s, "p2"), 0);
            } else {
                assert!(r.is_ok(), "command {i}: {r:?}");
                assert_eq!(rows_named(&s, &format!("p{i}")), 2, "command {i}");
            }
        }
        let orphans: i64 = s
            .lock()
            .db
            .query_row("SELECT count(*) FROM child", [], |r| r.get(0))
            .unwrap();
        assert_eq!(orphans, 0);
        assert!(s.groups_lock().failed.is_empty(), "every failure was read");
    }

    #[test]
    fn one_thread_alone_commits_each_command_at_once() {
        let (_dir, s) = store();
        for i in 0..5 {
            s.write(&mut |_tx| insert(&format!("a{i}"), 1, i == 2))
                .unwrap_or(());
            let w = s.lock();
            assert!(w.db.is_autocommit(), "no transaction left open after {i}");
            assert_eq!(w.open, 0);
        }
        assert_eq!(rows_named(&s, "a2"), 0);
        assert_eq!(rows_named(&s, "a4"), 1);
    }

    #[test]
    fn a_panicking_command_fails_alone_and_releases_the_writer() {
        let (_dir, s) = store();
        let s2 = s.clone();
        let r = std::thread::spawn(move || {
            s2.write(&mut |_tx| {
                insert("boom", 1, false)?;
                panic!("a bug in a command");
            })
        })
        .join();
        assert!(r.is_err(), "the panic reaches the caller");
        s.write(&mut |_tx| insert("after", 1, false)).unwrap();
        assert_eq!(rows_named(&s, "boom"), 0);
        assert_eq!(rows_named(&s, "after"), 1);
    }
}
