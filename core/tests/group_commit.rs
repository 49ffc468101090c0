//! Group commit on an SQLite file: many threads acting at once on one engine share write
//! transactions, and still every command is all-or-nothing and answered after its commit.
//! (The store's own tests in `store/sqlite/group.rs` build groups on purpose, fail a command
//! after it wrote, and fail the group's `COMMIT`.)
#![allow(clippy::unwrap_used)]
mod support;

use std::sync::{Arc, Barrier};
use std::thread;

use mentorflow::{Engine, Error, ManualClock, NotificationFilter, Person};
use serde_json::json;
use support::{assert_folds, t0, temp_db};

const COUNTER: &str = r#"
workflow: counter
version: 1
roles:
  owner: {}
  worker: { directory: worker }
fields:
  count: { type: int, default: 0 }
templates:
  bumped:
    subject: "Count ${fields.count}"
    body: "bumped"
states:
  open:
    label: Open
    timers:
      - { name: ping, after: 12h, action: bump }
  closed: { label: Closed, final: true }
actions:
  create: { to: open, by: owner }
  bump:
    from: open
    by: [owner, worker, system]
    run: |
      fields.count += 1;
      notify(case.owner, "bumped");
  spoil:
    from: open
    by: [owner, worker]
    run: |
      fields.count += 1000;
      throw "refused after changing the case";
  close: { from: open, to: closed, by: owner }
"#;

const THREADS: usize = 8;
const ROUNDS: usize = 40;

fn file_engine(path: &std::path::Path) -> Engine {
    let e = Engine::builder()
        .database(path)
        .workflow_str("counter.yaml", COUNTER)
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap();
    let mut people = vec![Person::new("pat").org("ch1")];
    for w in 0..THREADS {
        people.push(Person::new(format!("w{w}")).org("ch1").role("worker"));
    }
    e.put_people(&people).unwrap();
    e
}

#[test]
fn many_threads_at_once_every_command_whole_and_failures_alone() {
    let (_dir, path) = temp_db();
    let e = file_engine(&path);
    let shared = e.start("counter", "create", "pat", json!({})).unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|w| {
            let (e, barrier) = (e.clone(), barrier.clone());
            thread::spawn(move || {
                let me = format!("w{w}");
                barrier.wait();
                let own = e.start("counter", "create", "pat", json!({})).unwrap();
                let (mut bumped, mut shared_bumped) = (0, 0);
                for round in 0..ROUNDS {
                    let (case, action) = match round % 4 {
                        0 => (shared.id, "bump"),
                        1 => (own.id, "spoil"),
                        _ => (own.id, "bump"),
                    };
                    let before = e.get(case, None).unwrap();
                    let r = e.act(case, action, &me, json!({}));
                    match action {
                        "spoil" => {
                            let err = r.unwrap_err();
                            assert!(
                                matches!(err, Error::Script { .. }),
                                "spoil is refused: {err:?}"
                            );
                            // answered after the commit of its group: nothing of it is there
                            let after = e.get(case, None).unwrap();
                            assert_eq!(after.revision, before.revision, "{me} round {round}");
                        }
                        _ => {
                            let c = r.unwrap();
                            // answered after its commit: a pooled reader already sees it
                            let seen = e.get(case, None).unwrap();
                            assert!(seen.revision >= c.revision, "{me} round {round}");
                            if case == shared.id {
                                shared_bumped += 1;
                            } else {
                                bumped += 1;
                            }
                        }
                    }
                }
                (own.id, bumped, shared_bumped)
            })
        })
        .collect();
    let mut shared_total = 0;
    for h in handles {
        let (id, bumped, shared_bumped) = h.join().unwrap();
        shared_total += shared_bumped;
        let c = e.get(id, None).unwrap();
        assert_eq!(c.data["count"], json!(bumped), "case {id}");
        assert_eq!(c.revision, 1 + bumped as u64, "case {id}");
        let history = e.history(id, None).unwrap();
        let seqs: Vec<u64> = history.iter().map(|ev| ev.seq).collect();
        assert_eq!(seqs, (1..=c.revision).collect::<Vec<_>>(), "case {id}");
        assert!(history.iter().all(|ev| ev.action != "spoil"));
        let sent = e
            .notifications(&NotificationFilter {
                case_id: Some(id),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(sent.len(), bumped, "one notification per bump of case {id}");
        assert_eq!(e.timers(id).unwrap().len(), 1, "case {id} keeps its timer");
        assert_folds(&e, id);
    }
    let c = e.get(shared.id, None).unwrap();
    assert_eq!(shared_total, THREADS * ROUNDS / 4);
    assert_eq!(c.data["count"], json!(shared_total), "no lost update");
    assert_eq!(c.revision, 1 + shared_total as u64);
    assert_folds(&e, shared.id);

    // everything above was committed: a new engine on the file sees the same
    drop(e);
    let again = file_engine(&path);
    assert_eq!(
        again.get(shared.id, None).unwrap().data["count"],
        json!(shared_total)
    );
}

#[test]
fn directory_changes_of_one_command_reach_the_next_in_the_same_group() {
    // a worker loses the role while others act as that worker: once `put_person` returned,
    // no later command may let the worker act (its cache of the person is dropped)
    let (_dir, path) = temp_db();
    let e = file_engine(&path);
    let ids: Vec<i64> = (0..THREADS)
        .map(|_| e.start("counter", "create", "pat", json!({})).unwrap().id)
        .collect();
    let barrier = Arc::new(Barrier::new(THREADS + 1));
    let removed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let handles: Vec<_> = ids
        .iter()
        .map(|&id| {
            let (e, barrier, removed) = (e.clone(), barrier.clone(), removed.clone());
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..ROUNDS {
                    let was_removed = removed.load(std::sync::atomic::Ordering::SeqCst);
                    let r = e.act(id, "bump", "w0", json!({}));
                    if was_removed {
                        assert!(r.is_err(), "w0 acted after losing the worker role");
                    }
                }
            })
        })
        .collect();
    barrier.wait();
    thread::sleep(std::time::Duration::from_millis(5));
    e.replace_person(&Person::new("w0").org("ch1")).unwrap();
    removed.store(true, std::sync::atomic::Ordering::SeqCst);
    for h in handles {
        h.join().unwrap();
    }
    for id in ids {
        assert_folds(&e, id);
    }
}

const CAPACITY: &str = r#"
workflow: cap
version: 1
roles:
  owner: {}
  mentor: {}
states:
  open: { label: Open }
  taken: { label: Taken }
  closed: { label: Closed, final: true }
actions:
  create: { to: open, by: owner }
  take:
    from: open
    to: taken
    by: owner
    inputs:
      mentor: { type: person, required: true }
    guard:
      - when: 'open_cases(inputs.mentor, "mentor") < 1'
        message: the mentor has no free slot
    run: assign("mentor", inputs.mentor)
  close: { from: [open, taken], to: closed, by: owner }
"#;

fn capacity_engine(path: &std::path::Path) -> Engine {
    let e = Engine::builder()
        .database(path)
        .workflow_str("cap.yaml", CAPACITY)
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap();
    e.put_people(&[Person::new("pat").org("ch1"), Person::new("mia").org("ch1")])
        .unwrap();
    e
}

#[test]
fn the_last_free_slot_is_taken_once_by_threads_of_one_engine_and_of_two() {
    // threads that arrive while another holds the writer decide on a read snapshot; the
    // writer must find the count they read changed and decide them again
    let (_dir, path) = temp_db();
    let first = capacity_engine(&path);
    let second = capacity_engine(&path);
    for round in 0..6 {
        let cases: Vec<i64> = (0..THREADS)
            .map(|_| first.start("cap", "create", "pat", json!({})).unwrap().id)
            .collect();
        let barrier = Arc::new(Barrier::new(cases.len()));
        let handles: Vec<_> = cases
            .iter()
            .enumerate()
            .map(|(i, &id)| {
                // odd rounds: two engines (two connections to the file, as two processes)
                let e = if round % 2 == 1 && i % 2 == 1 {
                    second.clone()
                } else {
                    first.clone()
                };
                let b = Arc::clone(&barrier);
                thread::spawn(move || {
                    b.wait();
                    e.act(id, "take", "pat", json!({ "mentor": "mia" }))
                })
            })
            .collect();
        let mut taken = 0;
        for h in handles {
            match h.join().unwrap() {
                Ok(_) => taken += 1,
                Err(Error::GuardRejected { message, .. }) => {
                    assert!(message.contains("no free slot"), "{message}")
                }
                Err(other) => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(taken, 1, "round {round}: exactly one case got the slot");
        let held = first
            .cases(&mentorflow::CaseFilter {
                workflow: Some("cap".into()),
                state: Some("taken".into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(held.len(), 1, "round {round}");
        for id in cases {
            first.act(id, "close", "pat", json!({})).unwrap();
            assert_folds(&first, id);
        }
    }
}
