//! Decide outside the writer (SQLite): a command that arrives while another thread holds the
//! writer is decided on a read connection, beside it, and only applied in the write
//! transaction.
//!
//! 1. **Decide on a snapshot.** [`super::step::decide_act`] / [`super::step::decide_start`] run on a pooled
//!    read connection (WAL: the last commit, nothing uncommitted), recording every directory
//!    and cross-case read with its answer ([`crate::store::reads`]): people, organisations
//!    (settings and calendars), `people(..)`, `open_cases(..)`, `assignments_since(..)`.
//! 2. **Check inside the writer.** In the command's write transaction (which sees every
//!    commit of every process, and the uncommitted commands of its own group) each recorded
//!    read is made again and must give the same answer; a start's case id must still be the
//!    next one. The case itself is checked by its revision: applying the plan writes the case
//!    first, only if its revision is still the one decided on ([`crate::store::Tx::update_case`]),
//!    and that statement writes nothing when it is not.
//! 3. **Apply, or decide again.** When everything holds, the plan is applied as decided. When
//!    anything moved (or the decision failed on the snapshot: a refusal is always given by
//!    the writer, as before), the command is decided again inside the writer — the serial
//!    path every command took before — so correctness never depends on timing.
//!
//! Idempotency keys are looked up and remembered in the write transaction around both
//! paths, as before. Definitions are not checked: a workflow version's definition never
//! changes once deployed, and both paths take it from the engine's registry.
//!
//! A command arriving while the writer is idle (one thread, or no contention) is decided
//! inside the writer directly: one transaction instead of two.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use super::Engine;
use crate::error::{Error, Result};
use crate::model::{Case, Decision};
use crate::store::reads::{self, Read};
use crate::store::Tx;

/// How the commands of an engine were decided (for tests and the benchmark's notes).
#[derive(Debug, Default)]
pub(crate) struct Counts {
    /// Decided on a read snapshot and applied as decided.
    pub applied: AtomicU64,
    /// Decided on a read snapshot, then decided again inside the writer (a read moved, the
    /// case's revision moved, or the snapshot's decision failed).
    pub redecided: AtomicU64,
}

#[cfg(test)]
thread_local! {
    /// Tests: decide outside the writer even when it is idle.
    pub(crate) static FORCE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// Tests: run between the decision on the snapshot and the write transaction.
    pub(crate) static BETWEEN: std::cell::RefCell<Option<Box<dyn FnMut()>>> =
        const { std::cell::RefCell::new(None) };
}

impl Engine {
    /// One command that decides a plan and has the store apply it: decided outside the
    /// writer when the store asks for it (see the module), else inside. `key`: the actor's
    /// idempotency key and the command's fingerprint source (see [`Engine::once`]).
    pub(crate) fn decide_and_apply(
        &self,
        actor: &str,
        key: Option<&str>,
        command: impl Fn() -> Value,
        decide: impl Fn(&dyn Tx) -> Result<Decision>,
    ) -> Result<Case> {
        #[cfg(test)]
        let forced = FORCE.with(std::cell::Cell::get);
        #[cfg(not(test))]
        let forced = false;
        let mut planned = if forced || self.inner.db.decide_outside() {
            let (decision, log) = reads::recording(|| self.read(|db| decide(db)));
            #[cfg(test)]
            if let Some(mut f) = BETWEEN.with(|b| b.borrow_mut().take()) {
                f();
            }
            Some(decision.map(|d| (d, log)))
        } else {
            None
        };
        self.write(|db| {
            self.once(db, actor, key, &command, || {
                if let Some(planned) = planned.take() {
                    if let Ok((d, log)) = planned {
                        if let Some(case) = self.apply_checked(db, d, &log)? {
                            self.inner.decided.applied.fetch_add(1, Ordering::Relaxed);
                            return Ok(case);
                        }
                    }
                    self.inner.decided.redecided.fetch_add(1, Ordering::Relaxed);
                }
                let d = decide(db)?;
                db.apply(d)
            })
        })
    }

    /// Apply a plan decided on a snapshot if every read it made still gives the same answer
    /// in `db` and its case has not moved; `None` (nothing written) when something changed.
    fn apply_checked(&self, db: &dyn Tx, d: Decision, log: &[Read]) -> Result<Option<Case>> {
        if d.expected_revision.is_none() && db.new_case_id()? != d.case.id {
            // another start took the id this one was decided with
            return Ok(None);
        }
        for read in log {
            if !self.still_reads(db, read)? {
                return Ok(None);
            }
        }
        match db.apply(d) {
            Ok(case) => Ok(Some(case)),
            // the case's revision moved: the update that found it wrote nothing
            Err(Error::Conflict { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether a read gives the same answer in `db` (the writer's transaction).
    fn still_reads(&self, db: &dyn Tx, read: &Read) -> Result<bool> {
        Ok(match read {
            Read::Person(id, p) => self.stored_person(db, id)? == *p,
            Read::Org(id, o) => self.org_info(db, id)?.org == *o,
            Read::PeopleOfOrg(org, people) => db.people_of_org(org)? == *people,
            Read::PeopleWithRole(org, role, people) => db.people_with_role(org, role)? == *people,
            Read::OpenCases(workflow, person, role, n) => {
                db.open_cases(workflow, person, role.as_deref())? == *n
            }
            Read::AssignmentsSince(workflow, person, role, since, n) => {
                db.assignments_since(workflow, person, role, *since)? == *n
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::atomic::Ordering;

    use serde_json::json;

    use super::*;
    use crate::directory::{Org, Person, PersonPatch};

    const FLOW: &str = r#"
workflow: pairing
version: 1
roles:
  coordinator: { directory: coordinator }
  mentor: {}
fields:
  note: text
  level: text
states:
  open: { label: Open }
  paired: { label: Paired }
  done: { label: Done, final: true }
actions:
  create: { to: open, by: coordinator }
  pair:
    from: open
    to: paired
    by: coordinator
    inputs: { mentor: { type: person, required: true } }
    guard:
      - when: open_cases(inputs.mentor, "mentor") < 1
        message: "the mentor is taken"
    run: |
      assign("mentor", inputs.mentor);
      fields.level = person(inputs.mentor).level;
  write:
    from: [open, paired]
    by: coordinator
    inputs: { text: { type: text, required: true } }
    run: fields.note = inputs.text
  finish: { from: paired, to: done, by: coordinator }
"#;

    fn engine(dir: &tempfile::TempDir) -> Engine {
        let e = Engine::builder()
            .database(dir.path().join("d.db"))
            .workflow_str("pairing.yaml", FLOW)
            .build()
            .unwrap();
        e.replace_org(&Org::new("o")).unwrap();
        e.put_people(&[
            Person::new("cora").org("o").role("coordinator"),
            Person::new("mia").org("o").attr("level", "senior"),
            Person::new("max").org("o").attr("level", "junior"),
        ])
        .unwrap();
        e
    }

    /// Run `f` with every command of this thread decided outside the writer, and `between`
    /// run once after the first decision, before its write transaction.
    fn outside<T>(between: impl FnOnce() + 'static, f: impl FnOnce() -> T) -> T {
        let mut between = Some(between);
        FORCE.with(|x| x.set(true));
        BETWEEN.with(|b| {
            *b.borrow_mut() = Some(Box::new(move || {
                if let Some(g) = between.take() {
                    g();
                }
            }))
        });
        let out = f();
        FORCE.with(|x| x.set(false));
        BETWEEN.with(|b| *b.borrow_mut() = None);
        out
    }

    fn counts(e: &Engine) -> (u64, u64) {
        (
            e.inner.decided.applied.load(Ordering::SeqCst),
            e.inner.decided.redecided.load(Ordering::SeqCst),
        )
    }

    fn create(e: &Engine) -> Case {
        e.start("pairing", "create", "cora", json!({})).unwrap()
    }

    #[test]
    fn a_decision_whose_reads_still_hold_is_applied_as_decided() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let c = create(&e);
        let c = outside(
            || {},
            || e.act(c.id, "pair", "cora", json!({"mentor": "mia"})),
        )
        .unwrap();
        assert_eq!(c.state, "paired");
        assert_eq!(c.data["level"], json!("senior"));
        assert_eq!(counts(&e), (1, 0));
        let s = outside(|| {}, || e.start("pairing", "create", "cora", json!({}))).unwrap();
        assert_eq!(s.id, c.id + 1);
        assert_eq!(counts(&e), (2, 0));
        assert_eq!(e.history(s.id, None).unwrap().len(), 1);
        assert_eq!(e.participants(c.id, None).unwrap().len(), 1);
    }

    #[test]
    fn a_concurrent_change_of_the_same_case_is_decided_again_and_not_lost() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let id = create(&e).id;
        let other = e.clone();
        // between the decision (on revision 1) and its write, another command changes the case
        let out = outside(
            move || {
                other
                    .act(id, "write", "cora", json!({"text": "first"}))
                    .unwrap();
            },
            || e.act(id, "pair", "cora", json!({"mentor": "mia"})),
        )
        .unwrap();
        assert_eq!(
            counts(&e),
            (1, 1),
            "the write applied, the pairing decided again"
        );
        assert_eq!(out.state, "paired");
        assert_eq!(out.revision, 3);
        assert_eq!(out.data["note"], json!("first"), "the other change kept");
        let h = e.history(id, None).unwrap();
        let actions: Vec<&str> = h.iter().map(|x| x.action.as_str()).collect();
        assert_eq!(actions, ["create", "write", "pair"]);
    }

    #[test]
    fn a_directory_change_meanwhile_decides_again_with_the_new_person() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let c = create(&e);
        let other = e.clone();
        let out = outside(
            move || {
                let mut change = PersonPatch::new("mia");
                change.attributes.insert("level".into(), json!("principal"));
                other.put_person(change).unwrap();
            },
            || e.act(c.id, "pair", "cora", json!({"mentor": "mia"})),
        )
        .unwrap();
        assert_eq!(counts(&e), (0, 1));
        assert_eq!(out.data["level"], json!("principal"));
    }

    #[test]
    fn a_directory_change_by_another_connection_meanwhile_decides_again() {
        // a second engine on the file: its own connections, as another process would have
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        // the writer's cache knows mia before the change
        let warm = create(&e);
        e.act(warm.id, "pair", "cora", json!({"mentor": "mia"}))
            .unwrap();
        e.act(warm.id, "finish", "cora", json!({})).unwrap();
        let c = create(&e);
        let other = Engine::builder()
            .database(dir.path().join("d.db"))
            .workflow_str("pairing.yaml", FLOW)
            .build()
            .unwrap();
        let out = outside(
            move || {
                other
                    .replace_person(&Person::new("mia").org("o").attr("level", "emeritus"))
                    .unwrap();
            },
            || e.act(c.id, "pair", "cora", json!({"mentor": "mia"})),
        )
        .unwrap();
        assert_eq!(counts(&e), (0, 1));
        assert_eq!(out.data["level"], json!("emeritus"));
    }

    #[test]
    fn a_capacity_count_changed_meanwhile_decides_again_and_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let a = create(&e);
        let b = create(&e);
        let other = e.clone();
        // the decision saw mia with no open case; meanwhile she takes one
        let r = outside(
            move || {
                other
                    .act(b.id, "pair", "cora", json!({"mentor": "mia"}))
                    .unwrap();
            },
            || e.act(a.id, "pair", "cora", json!({"mentor": "mia"})),
        );
        assert!(matches!(r, Err(Error::GuardRejected { .. })), "{r:?}");
        assert_eq!(counts(&e), (1, 1));
        assert_eq!(e.get(a.id, None).unwrap().state, "open");
        assert_eq!(e.get(b.id, None).unwrap().state, "paired");
    }

    #[test]
    fn a_start_whose_id_was_taken_meanwhile_is_decided_again() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let other = e.clone();
        let s = outside(
            move || {
                create(&other);
            },
            || e.start("pairing", "create", "cora", json!({})),
        )
        .unwrap();
        assert_eq!(counts(&e), (1, 1));
        assert_eq!(s.id, 2, "the start took the next id");
        assert_eq!(e.get(1, None).unwrap().revision, 1);
        assert_eq!(e.history(2, None).unwrap()[0].case_id, 2);
    }

    #[test]
    fn a_refusal_on_the_snapshot_is_given_by_the_writer_and_keys_act_once() {
        let dir = tempfile::tempdir().unwrap();
        let e = engine(&dir);
        let c = create(&e);
        let r = outside(
            || {},
            || e.act(c.id, "pair", "max", json!({"mentor": "mia"})),
        );
        assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
        assert_eq!(counts(&e), (0, 1));
        let options = crate::ActOptions {
            revision: Some(1),
            idempotency_key: Some("k1".into()),
        };
        let act = || e.act_with(c.id, "write", "cora", json!({"text": "x"}), &options);
        let first = outside(|| {}, act).unwrap();
        let again = outside(|| {}, act).unwrap();
        assert_eq!(first.revision, 2);
        assert_eq!(again.revision, 2, "the key acted once");
        assert_eq!(e.history(c.id, None).unwrap().len(), 2);
        // a stale revision is a conflict, as before
        let r = outside(
            || {},
            || e.act_at(c.id, 1, "write", "cora", json!({"text": "y"})),
        );
        assert!(matches!(r, Err(Error::Conflict { actual: 2, .. })), "{r:?}");
    }
}
