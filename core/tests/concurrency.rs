//! Concurrency: threads on one engine, optimistic `act_at`, and two processes on one file
//! acting on the same cases and sweeping the same timers.
#![allow(clippy::unwrap_used)]
mod support;
use support::Fresh;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use mentorflow::{Engine, Error, ManualClock, Person};
use serde_json::json;
use support::{assert_folds, err, people, t0, temp_db};

const COUNTER: &str = r#"
workflow: counter
version: 1
roles:
  owner: {}
  worker: { directory: worker }
fields:
  count: { type: int, default: 0 }
  fired: { type: int, default: 0 }
states:
  open:
    label: Open
    timers:
      - name: ping
        after: 12h
        run: fields.fired += 1
  closed: { label: Closed, final: true }
actions:
  create: { to: open, by: owner }
  bump:
    from: open
    by: [owner, worker]
    run: fields.count += 1
  close: { from: open, to: closed, by: owner }
"#;

fn workers() -> Vec<Person> {
    let mut p = people();
    for w in ["w1", "w2", "w3", "w4", "p1", "p2"] {
        p.push(Person::new(w).org("ch1").role("worker"));
    }
    p
}

fn engine() -> Engine {
    let e = Engine::builder()
        .fresh()
        .workflow_str("counter.yaml", COUNTER)
        .clock(ManualClock::at(t0()))
        .build()
        .unwrap();
    e.put_people(&workers()).unwrap();
    e
}

fn file_engine(path: &Path, clock: ManualClock) -> Engine {
    let e = Engine::builder()
        .database(path)
        .workflow_str("counter.yaml", COUNTER)
        .clock(clock)
        .build()
        .unwrap();
    e.put_people(&workers()).unwrap();
    e
}

/// The history's sequence numbers are 1..=n and equal the case's revision.
fn assert_contiguous(e: &Engine, id: i64) {
    let h = e.history(id, None).unwrap();
    let seqs: Vec<u64> = h.iter().map(|ev| ev.seq).collect();
    let want: Vec<u64> = (1..=h.len() as u64).collect();
    assert_eq!(seqs, want, "case {id}");
    assert_eq!(e.get(id, None).unwrap().revision, h.len() as u64);
    assert_folds(e, id);
}

fn count_actions(e: &Engine, id: i64) -> BTreeMap<(String, String), usize> {
    let mut m = BTreeMap::new();
    for ev in e.history(id, None).unwrap() {
        *m.entry((ev.action, ev.actor)).or_default() += 1;
    }
    m
}

#[test]
fn threads_act_on_different_cases() {
    let e = engine();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = ["w1", "w2", "w3", "w4"]
        .into_iter()
        .map(|w| {
            let e = e.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                let c = e.start("counter", "create", w, json!({})).unwrap();
                barrier.wait();
                for _ in 0..25 {
                    e.act(c.id, "bump", w, json!({})).unwrap();
                }
                c.id
            })
        })
        .collect();
    let ids: Vec<i64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    for id in ids {
        let c = e.get(id, None).unwrap();
        assert_eq!(c.data["count"], json!(25));
        assert_eq!(c.revision, 26);
        assert_contiguous(&e, id);
    }
}

#[test]
fn threads_on_the_same_case_lose_no_update() {
    let e = engine();
    let c = e.start("counter", "create", "pat", json!({})).unwrap();
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = ["w1", "w2", "w3", "w4"]
        .into_iter()
        .map(|w| {
            let e = e.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..25 {
                    e.act(c.id, "bump", w, json!({})).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.data["count"], json!(100));
    assert_eq!(c.revision, 101);
    let counts = count_actions(&e, c.id);
    for w in ["w1", "w2", "w3", "w4"] {
        assert_eq!(counts[&("bump".to_owned(), w.to_owned())], 25, "{w}");
    }
    assert_contiguous(&e, c.id);
}

#[test]
fn optimistic_writers_retry_on_conflict_and_lose_nothing() {
    let e = engine();
    let c = e.start("counter", "create", "pat", json!({})).unwrap();
    let barrier = Arc::new(Barrier::new(3));
    let handles: Vec<_> = ["w1", "w2", "w3"]
        .into_iter()
        .map(|w| {
            let e = e.clone();
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                let (mut done, mut conflicts) = (0, 0);
                while done < 20 {
                    let seen = e.get(c.id, None).unwrap();
                    thread::yield_now();
                    match e.act_at(c.id, seen.revision, "bump", w, json!({})) {
                        Ok(after) => {
                            assert_eq!(after.revision, seen.revision + 1);
                            done += 1;
                        }
                        Err(Error::Conflict {
                            expected, actual, ..
                        }) => {
                            assert!(actual > expected);
                            conflicts += 1;
                        }
                        Err(other) => panic!("{other:?}"),
                    }
                }
                conflicts
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.data["count"], json!(60));
    assert_eq!(c.revision, 61);
    assert_contiguous(&e, c.id);
}

#[test]
fn act_at_with_a_stale_revision_is_a_conflict() {
    let e = engine();
    let c = e.start("counter", "create", "pat", json!({})).unwrap();
    e.act(c.id, "bump", "w1", json!({})).unwrap();
    let before = support::snapshot(&e, c.id);
    let error = err(e.act_at(c.id, c.revision, "bump", "w2", json!({})));
    assert_eq!(error.code(), "conflict");
    assert!(error.to_string().contains("reload"), "{error}");
    match error {
        Error::Conflict {
            case_id,
            expected,
            actual,
        } => assert_eq!((case_id, expected, actual), (c.id, 1, 2)),
        other => panic!("{other:?}"),
    }
    assert_eq!(support::snapshot(&e, c.id), before);
    let c = e.act_at(c.id, 2, "bump", "w2", json!({})).unwrap();
    assert_eq!(c.data["count"], json!(2));
}

// ---- two processes -----------------------------------------------------------------------------

const CASES: usize = 12;
const ROUNDS: usize = 15;

/// Bump every case ROUNDS times as `who`; every round, move the clock an hour and sweep the
/// timers (case `i` starts at t0 + i h, so its timer is due at t0 + (12 + i) h, after the
/// setup's last event). Returns (successful bumps, timers fired).
fn workload(e: &Engine, clock: &ManualClock, ids: &[i64], who: &str) -> (usize, usize) {
    let (mut bumps, mut fired) = (0, 0);
    for _ in 0..ROUNDS {
        clock.advance(chrono::Duration::hours(1));
        fired += e.tick().unwrap().fired;
        for &id in ids {
            e.act(id, "bump", who, json!({})).unwrap();
            bumps += 1;
        }
    }
    fired += e.tick().unwrap().fired;
    (bumps, fired)
}

/// The instant of the setup's last event (case `CASES - 1` started).
fn setup_end() -> chrono::DateTime<chrono::Utc> {
    t0() + chrono::Duration::hours(CASES as i64 - 1)
}

fn wait_for(file: &Path) {
    let started = Instant::now();
    while !file.exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            file.display()
        );
        thread::sleep(Duration::from_millis(2));
    }
}

/// The child side of `two_processes_share_one_file`; does nothing unless started by it.
#[test]
fn child_process_workload() {
    let Ok(db) = std::env::var("MF_CHILD_DB") else {
        return;
    };
    let db = Path::new(&db);
    // the child's clock runs ahead, so both processes find due timers at the same moments
    let clock = ManualClock::at(setup_end() + chrono::Duration::hours(CASES as i64 / 2));
    let e = file_engine(db, clock.clone());
    let mut ids: Vec<i64> = e
        .cases(&Default::default())
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(ids.len(), CASES);
    ids.reverse();
    std::fs::write(db.with_extension("ready"), "ready").unwrap();
    wait_for(&db.with_extension("go"));
    let (bumps, fired) = workload(&e, &clock, &ids, "p2");
    println!("CHILD bumps={bumps} fired={fired}");
}

#[test]
fn two_processes_share_one_file() {
    if std::env::var("MF_CHILD_DB").is_ok() {
        return;
    }
    let (_dir, path) = temp_db();
    let clock = ManualClock::at(t0());
    let setup = file_engine(&path, clock.clone());
    let ids: Vec<i64> = (0..CASES)
        .map(|_| {
            let id = setup
                .start("counter", "create", "pat", json!({}))
                .unwrap()
                .id;
            clock.advance(chrono::Duration::hours(1));
            id
        })
        .collect();
    drop(setup);

    // Both processes resume at the setup's last event: a clock may not start before it.
    let clock = ManualClock::at(setup_end());
    let e = file_engine(&path, clock.clone());
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_process_workload",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("MF_CHILD_DB", &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for(&path.with_extension("ready"));
    std::fs::write(path.with_extension("go"), "go").unwrap();
    let (bumps, fired) = workload(&e, &clock, &ids, "p1");
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.find("CHILD ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no report from the child:\n{stdout}"));
    let num = |key: &str| -> usize {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (child_bumps, child_fired) = (num("bumps="), num("fired="));
    assert_eq!(bumps, CASES * ROUNDS);
    assert_eq!(child_bumps, CASES * ROUNDS);
    eprintln!("timers fired: parent {fired}, child {child_fired}");
    let late = e.tick().unwrap().fired;
    assert_eq!(late, 0, "both processes swept everything already");
    assert_eq!(
        fired + child_fired,
        CASES,
        "every timer fired exactly once (parent {fired}, child {child_fired})"
    );

    for &id in &ids {
        let c = e.get(id, None).unwrap();
        assert_eq!(c.data["count"], json!(2 * ROUNDS), "case {id}");
        assert_eq!(c.data["fired"], json!(1), "case {id}");
        let counts = count_actions(&e, id);
        assert_eq!(counts[&("bump".to_owned(), "p1".to_owned())], ROUNDS);
        assert_eq!(counts[&("bump".to_owned(), "p2".to_owned())], ROUNDS);
        assert_eq!(
            counts[&("timer:ping".to_owned(), "system".to_owned())],
            1,
            "case {id}"
        );
        assert!(e.timers(id).unwrap().is_empty());
        assert_contiguous(&e, id);
    }
}

/// A counter whose `hold` action calls `gate()`, a host function the test blocks in.
const GATED: &str = r#"
workflow: gated
version: 1
roles:
  owner: {}
fields:
  count: { type: int, default: 0 }
states:
  open: { label: Open }
  closed: { label: Closed, final: true }
actions:
  create: { to: open, by: owner }
  hold:
    from: open
    by: owner
    run: fields.count += gate()
  close: { from: open, to: closed, by: owner }
"#;

/// A file engine (or, on the PostgreSQL suite, a fresh schema) whose `gate()` tells
/// `entered` it was called and then waits for `release`.
fn gated_engine(
    path: &Path,
    entered: std::sync::mpsc::Sender<()>,
    release: std::sync::mpsc::Receiver<()>,
) -> Engine {
    let entered = std::sync::Mutex::new(entered);
    let release = std::sync::Mutex::new(release);
    let builder = match support::postgres_url() {
        Some(_) => Engine::builder().fresh(),
        None => Engine::builder().database(path),
    };
    let e = builder
        .workflow_str("gated.yaml", GATED)
        .clock(ManualClock::at(t0()))
        .functions(move |r| {
            r.register_fn("gate", move || -> i64 {
                entered.lock().unwrap().send(()).unwrap();
                // a bounded wait: a read that waits for this writer fails the test, not hangs it
                let _ = release
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
                1
            });
        })
        .build()
        .unwrap();
    e.put_people(&workers()).unwrap();
    e
}

#[test]
fn reads_do_not_wait_for_an_open_write_transaction() {
    let (_dir, path) = temp_db();
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    let e = gated_engine(&path, entered_tx, release_rx);
    let case = e.start("gated", "create", "pat", json!({})).unwrap();
    // warm a reader, and the directory cache of the writer
    assert_eq!(e.get(case.id, None).unwrap().revision, 1);

    let writer = {
        let e = e.clone();
        thread::spawn(move || e.act(case.id, "hold", "pat", json!({})))
    };
    // the write transaction is open (BEGIN IMMEDIATE taken, the script running) until released
    entered.recv_timeout(Duration::from_secs(20)).unwrap();
    let (read_done, reads) = std::sync::mpsc::channel();
    {
        let e = e.clone();
        thread::spawn(move || {
            let got = e.get(case.id, Some("pat")).map(|c| c.revision);
            let history = e.history(case.id, None).map(|h| h.len());
            let cases = e.cases(&Default::default()).map(|c| c.len());
            let person = e.person("w1").map(|p| p.id);
            read_done.send((got, history, cases, person)).unwrap();
        });
    }
    let outcome = reads.recv_timeout(Duration::from_secs(5));
    release.send(()).unwrap();
    let acted = writer.join().unwrap().unwrap();
    let (got, history, cases, person) =
        outcome.expect("the reads waited for the open write transaction");
    // the readers saw the last commit, not the write in flight
    assert_eq!(got.unwrap(), 1);
    assert_eq!(history.unwrap(), 1);
    assert_eq!(cases.unwrap(), 1);
    assert_eq!(person.unwrap(), "w1");
    assert_eq!(acted.revision, 2);
    // and once it committed, a read sees it
    assert_eq!(e.get(case.id, None).unwrap().data["count"], json!(1));
    assert_eq!(e.history(case.id, None).unwrap().len(), 2);
}

/// Whether `who` may `bump` the case (and see it), asked from `n` threads at once (each read on a pooled
/// reader with its own directory cache).
fn may_bump_everywhere(e: &Engine, id: i64, who: &'static str, n: usize) -> Vec<bool> {
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let e = e.clone();
            thread::spawn(move || {
                (0..5)
                    .map(|_| match e.actions(id, who) {
                        Ok(actions) => actions.contains(&"bump".to_owned()),
                        // without the role, the case is not theirs to see
                        Err(Error::NotFound { .. }) => false,
                        Err(other) => panic!("{other}"),
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect()
}

#[test]
fn pooled_readers_see_directory_changes_of_this_engine_and_of_another() {
    let (_dir, path) = temp_db();
    let clock = ManualClock::at(t0());
    // workers see their organisation's cases, so `actions` answers them
    let yaml = COUNTER.replace("{ directory: worker }", "{ directory: worker, sees: org }");
    let open = |existing: bool| {
        let mut b = Engine::builder().database(&path);
        if existing {
            b = b.open_existing();
        }
        b.workflow_str("counter.yaml", &yaml)
            .clock(clock.clone())
            .build()
            .unwrap()
    };
    let a = open(false);
    a.put_people(&workers()).unwrap();
    let b = open(true);
    let case = a.start("counter", "create", "pat", json!({})).unwrap();
    // w1 holds the directory role `worker`: every reader caches w1 as a worker
    assert!(may_bump_everywhere(&a, case.id, "w1", 6).iter().all(|b| *b));
    // this engine takes the role away: every reader sees it at once
    a.replace_person(&Person::new("w1").org("ch1")).unwrap();
    assert!(may_bump_everywhere(&a, case.id, "w1", 6)
        .iter()
        .all(|b| !*b));
    // another engine on the file gives it back: this engine's readers see it
    b.replace_person(&Person::new("w1").org("ch1").role("worker"))
        .unwrap();
    assert!(may_bump_everywhere(&a, case.id, "w1", 6).iter().all(|b| *b));
    // and this engine's writer too
    a.act(case.id, "bump", "w1", json!({})).unwrap();
    // another engine takes it away again: the next command and the next reads are refused
    b.replace_person(&Person::new("w1").org("ch1")).unwrap();
    let refused = a.act(case.id, "bump", "w1", json!({}));
    assert!(
        matches!(
            refused,
            Err(Error::NotPermitted { .. } | Error::NotFound { .. })
        ),
        "{refused:?}"
    );
    assert!(may_bump_everywhere(&a, case.id, "w1", 6)
        .iter()
        .all(|b| !*b));
}
