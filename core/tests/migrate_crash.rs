//! A migration killed with SIGKILL leaves every case either on the old version, untouched, or
//! on the new version with its migration event: never between.
//!
//! The parent records cases on v1 of the request flow in a file database, then starts this
//! test binary again as a child (`MF_MIGRATE_CHILD`) that runs the migration plan, and kills
//! it with SIGKILL at random moments of the run. After every kill it checks the file: it
//! opens, `PRAGMA integrity_check` is `ok`, and each case is either exactly as it was on v1
//! (snapshot, history, timers) or on v2 with one more event, the `migrate` event, whose fold
//! gives the stored snapshot and whose timers belong to the new state. The next child carries
//! on with the cases still on v1; the last one is not killed and finishes.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use mentorflow::{Case, Engine, Event, ManualClock, MigrateOptions, MigrationPlan, PendingTimer};
use serde_json::json;
use support::{people, request_v2, t0, REQUEST, REQUEST_PLAN};

const CASES: i64 = 240;
const KILLS: usize = 6;

fn engine(db: &Path, with_v2: bool) -> Engine {
    let mut b = Engine::builder()
        .database(db)
        .workflow_str("request.yaml", REQUEST)
        .clock(ManualClock::at(t0() + chrono::Duration::hours(30)));
    if with_v2 {
        b = b.workflow_str("request-v2.yaml", request_v2());
    }
    b.build().unwrap()
}

#[test]
fn migrate_child() {
    let Ok(db) = std::env::var("MF_MIGRATE_CHILD") else {
        return;
    };
    let e = engine(Path::new(&db), true);
    let plan = MigrationPlan::parse(REQUEST_PLAN, "plan.yaml").unwrap();
    println!("ready");
    let r = e.migrate(&plan, &MigrateOptions::default()).unwrap();
    println!("done {}", r.migrated);
}

type Before = BTreeMap<i64, (Case, Vec<Event>, Vec<PendingTimer>)>;

/// Every case on v1 as it was, or on v2 with exactly one more event: the migration.
fn check(db: &Path, before: &Before) -> usize {
    let conn = rusqlite::Connection::open(db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    drop(conn);
    let e = engine(db, true);
    let mut migrated = 0;
    for (id, (case, history, timers)) in before {
        let now = e.get(*id, None).unwrap();
        let h = e.history(*id, None).unwrap();
        if now.version == 1 {
            assert_eq!(&now, case, "case {id} on v1 is untouched");
            assert_eq!(&h, history, "case {id} on v1 has its history");
            assert_eq!(
                &e.timers(*id).unwrap(),
                timers,
                "case {id} on v1 has its timers"
            );
            continue;
        }
        migrated += 1;
        assert_eq!(now.version, 2, "case {id}");
        assert_eq!(h.len(), history.len() + 1, "case {id}: one more event");
        assert_eq!(&h[..history.len()], &history[..], "case {id}: history kept");
        let last = h.last().unwrap();
        assert_eq!(last.action, "migrate");
        assert_eq!(now.revision, case.revision + 1);
        let want = if case.state == "pending" {
            "assigned_pending"
        } else {
            case.state.as_str()
        };
        assert_eq!(now.state, want, "case {id}");
        assert!(now.data.contains_key("priority") && !now.data.contains_key("sessions"));
        let f = mentorflow::fold(&h).unwrap();
        assert!(f.matches(&now), "case {id}: fold {f:?} != {now:?}");
        for t in e.timers(*id).unwrap() {
            assert_eq!(
                t.state, now.state,
                "case {id}: timer {} of another state",
                t.name
            );
        }
    }
    migrated
}

#[test]
fn a_killed_migration_leaves_every_case_on_one_version() {
    if std::env::var("MF_MIGRATE_CHILD").is_ok() {
        return;
    }
    let (_dir, db) = support::temp_db();
    {
        let clock = ManualClock::at(t0());
        let e = Engine::builder()
            .database(&db)
            .workflow_str("request.yaml", REQUEST)
            .clock(clock.clone())
            .build()
            .unwrap();
        e.put_people(&people()).unwrap();
        for i in 0..CASES {
            let c = e
                .start(
                    "request",
                    "submit",
                    "pat",
                    json!({ "client_name": format!("C{i}") }),
                )
                .unwrap();
            if i % 2 == 1 {
                e.act(c.id, "assign", "cody", json!({ "mentor": "alice" }))
                    .unwrap();
            }
            if i % 6 == 5 {
                e.act(c.id, "accept", "alice", json!({ "note": "Hello" }))
                    .unwrap();
                e.act(c.id, "log_session", "alice", json!({})).unwrap();
            }
        }
        clock.advance(chrono::Duration::hours(30));
    }
    let before: Before = {
        let e = engine(&db, false);
        (1..=CASES)
            .map(|id| {
                (
                    id,
                    (
                        e.get(id, None).unwrap(),
                        e.history(id, None).unwrap(),
                        e.timers(id).unwrap(),
                    ),
                )
            })
            .collect()
    };
    // How long a whole migration takes here, to kill inside it.
    let whole = {
        let copy = db.with_file_name("timing.db");
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
            .unwrap();
        drop(conn);
        let e = engine(&copy, true);
        let plan = MigrationPlan::parse(REQUEST_PLAN, "plan.yaml").unwrap();
        let t = Instant::now();
        let r = e.migrate(&plan, &MigrateOptions::default()).unwrap();
        assert_eq!(r.migrated as i64, CASES);
        t.elapsed()
    };
    let mut seed: u64 = std::env::var("MF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_1234);
    let mut partial = 0;
    let mut migrated = 0;
    for round in 0..=KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "migrate_child",
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("MF_MIGRATE_CHILD", &db)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut out = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while !line.contains("ready") {
            line.clear();
            if out.read_line(&mut line).unwrap() == 0 {
                break;
            }
        }
        if round < KILLS {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            // somewhere in what is left of the run
            let left = (CASES as usize - migrated) as f64 / CASES as f64;
            let frac = (seed % 1000) as f64 / 1000.0;
            let delay = whole.mul_f64(left * (0.1 + 0.8 * frac));
            std::thread::sleep(delay);
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
        } else {
            let status = child.wait().unwrap();
            assert!(status.success(), "the last migration finishes");
        }
        let now = check(&db, &before);
        assert!(now >= migrated, "a migrated case never goes back");
        if now > migrated && (now as i64) < CASES {
            partial += 1;
        }
        migrated = now;
        eprintln!("round {round}: {migrated} of {CASES} on v2");
    }
    assert_eq!(migrated as i64, CASES, "every case is on v2 at the end");
    assert!(
        partial > 0,
        "no kill landed inside a migration (a whole one took {whole:?})"
    );
}
