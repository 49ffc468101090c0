//! Crash safety and process-level concurrency.
//!
//! **Crash harness.** A child process (this test binary, started with `MF_CRASH_CHILD`) runs a
//! stream of `score_request` actions, refusals and timer sweeps on a file database and logs
//! every command the engine reported committed *after* the call returned `Ok`. The parent
//! kills it with SIGKILL at random moments — during start-up and schema creation, mid-command,
//! mid-sweep, mid-delivery — and after every kill checks the file:
//!
//! - it opens, `PRAGMA integrity_check` is `ok` and no foreign key dangles;
//! - every logged command is in the history at the logged revision, with the logged action;
//! - nothing is half there: revisions are contiguous, folding each history gives the stored
//!   snapshot, every outbox row belongs to exactly one event's effects and every effect's row
//!   exists, timer rows belong to the current state and were scheduled by its entry event;
//! - no timer fired twice in one visit of a state, and none was lost: every timer due before
//!   the last committed moment fired, at its due time;
//! - every outbox row marked delivered reached the hook; the hook saw duplicates only for
//!   deliveries cut short by a kill, and the outbox id (the idempotency key) removes them.
//!
//! The child then resumes where the file says it stopped and, in the last round, finishes. The
//! short run does [`SHORT_KILLS`] kills; `MF_LONG=1` (or `MF_CRASH_KILLS=N`) does more
//! (`scripts/long-tests.sh` runs 250).
//!
//! **Processes × threads.** Two processes with several threads each act on the same cases (plain
//! `act`, and `act_at` with the revision they last saw) and sweep the same timers. Every
//! successful command is in the history exactly once, revisions are contiguous, `act_at` with a
//! stale revision surfaces as `Conflict` (the engine does not retry it), plain `act` never
//! conflicts, and no "database is locked" error reaches a caller. This extends
//! `concurrency.rs` (one thread per process, no `act_at` across processes).
#![allow(clippy::unwrap_used)]
mod support;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mentorflow::{
    Effect, Engine, Error, Event, Hook, HookError, ManualClock, Notification, Org, Person, Signal,
};
use rusqlite::Connection;
use serde_json::{json, Value};

/// Kills in the short run (`tests/run`).
const SHORT_KILLS: usize = 25;
/// Commands the last, unkilled run adds before it finishes.
const LAST_RUN: usize = 150;

// ---- a tiny seeded RNG ------------------------------------------------------------------------

/// xorshift64*: deterministic, good enough to pick actions and kill moments.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

fn seed() -> u64 {
    std::env::var("MF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_CA5E)
}

fn long() -> bool {
    std::env::var("MF_LONG").is_ok_and(|v| v == "1")
}

fn workflows() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../workflows")
}

// ---- the child's world --------------------------------------------------------------------------

const MENTORS: &[&str] = &["m1", "m2", "m3", "m4", "m5"];
/// Marks the private refer reason; it must never reach a notification.
const SECRET: &str = "SECRET-REASON";

fn directory() -> (Org, Vec<Person>) {
    let org = Org::new("ch1")
        .timezone("America/New_York")
        .holiday("2026-11-26".parse().unwrap())
        .holiday("2026-12-25".parse().unwrap());
    let mut people = vec![
        Person::new("pat").name("Pat Client").org("ch1"),
        Person::new("cody")
            .name("Cody Coordinator")
            .org("ch1")
            .role("coordinator"),
        Person::new("prov")
            .name("Provisional Mentor")
            .org("ch1")
            .role("mentor")
            .attr("classification", "provisional"),
    ];
    for m in MENTORS {
        people.push(
            Person::new(*m)
                .name(format!("Mentor {m}"))
                .org("ch1")
                .role("mentor")
                .attr("classification", "active")
                .attr("max_requests_per_week", 100_000),
        );
    }
    (org, people)
}

/// Appends lines to a log file; each line is written whole with one `write` and synced.
struct Log(Mutex<File>);

impl Log {
    fn open(path: &Path) -> Self {
        Log(Mutex::new(
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .unwrap(),
        ))
    }
    fn line(&self, line: &str) {
        let mut f = self.0.lock().unwrap();
        f.write_all(format!("{line}\n").as_bytes()).unwrap();
        f.sync_data().unwrap();
    }
}

/// The host's hook in the child: records every delivery (before returning `Ok`, so a
/// delivery the engine marked delivered is always in the log).
struct Deliveries(Arc<Log>);

impl Hook for Deliveries {
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        self.0.line(&format!("N {}", n.id));
        Ok(())
    }
    fn on_signal(&self, s: &Signal) -> Result<(), HookError> {
        self.0.line(&format!("N {}", s.id));
        Ok(())
    }
    fn on_event(&self, e: &Event) -> Result<(), HookError> {
        self.0.line(&format!("E {}", e.id));
        Ok(())
    }
}

fn t0() -> DateTime<Utc> {
    support::t0()
}

/// The latest committed instant in the file (the child's clock resumes from it), t0 before
/// the first run created the schema.
fn last_instant(db: &Path) -> DateTime<Utc> {
    let c = Connection::open(db).unwrap();
    let us: Option<i64> = c
        .query_row("SELECT max(at) FROM events", [], |r| r.get(0))
        .unwrap_or_default();
    us.and_then(DateTime::from_timestamp_micros)
        .unwrap_or_else(t0)
}

/// Lines of a log that were written whole.
fn log_lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let complete = match text.rfind('\n') {
        Some(i) => &text[..=i],
        None => "",
    };
    complete.lines().map(str::to_owned).collect()
}

/// One command of the workload: what to call, or a sweep.
enum Step {
    Start,
    Act {
        case: i64,
        action: &'static str,
        actor: String,
        inputs: Value,
    },
    Advance(chrono::Duration),
}

/// Choose the next command from the file's current state (so a restarted child carries on).
fn choose(rng: &mut Rng, e: &Engine, n: usize) -> Step {
    if rng.chance(8) {
        let minutes = 30 + rng.below(36 * 60) as i64;
        return Step::Advance(chrono::Duration::minutes(minutes));
    }
    let cases = e.cases(&Default::default()).unwrap();
    if cases.len() < 60 && (cases.is_empty() || rng.chance(10)) {
        return Step::Start;
    }
    let c = rng.pick(&cases);
    let mentor = c.participant("mentor").map(str::to_owned);
    let other_mentor = || -> String {
        let free: Vec<&&str> = MENTORS
            .iter()
            .filter(|m| !c.has_participant(m, None))
            .collect();
        free.first().map_or("m1".to_owned(), |m| (**m).to_owned())
    };
    let pick_mentor = |rng: &mut Rng| -> String {
        if rng.chance(10) {
            "prov".to_owned() // refused by the guard
        } else {
            (*rng.pick(MENTORS)).to_owned()
        }
    };
    let act = |action: &'static str, actor: &str, inputs: Value| Step::Act {
        case: c.id,
        action,
        actor: actor.to_owned(),
        inputs,
    };
    let lead = mentor.clone().unwrap_or_else(|| "m1".to_owned());
    match c.state.as_str() {
        "submitted" | "pending_reassignment" => {
            if rng.chance(85) {
                act("assign", "cody", json!({ "mentor": pick_mentor(rng) }))
            } else {
                act("add_note", "pat", json!({ "text": format!("waiting {n}") }))
            }
        }
        "assigned_pending" => match rng.below(10) {
            0..=3 => act(
                "accept",
                &lead,
                json!({ "note": format!("Hello, step {n}") }),
            ),
            4..=5 => act("decline", &lead, json!({ "reason": "too busy" })),
            6 => act("log_session", &lead, json!({})), // refused: accept first
            7 => act("add_note", "pat", json!({ "text": "any news?" })),
            _ => Step::Advance(chrono::Duration::hours(12 + rng.below(60) as i64)),
        },
        "in_progress" => {
            let referred = c
                .participants
                .get("referred")
                .and_then(|v| v.first())
                .cloned();
            let team = c.participants.get("team").and_then(|v| v.first()).cloned();
            match rng.below(20) {
                0..=5 => act(
                    "log_session",
                    &lead,
                    json!({ "duration": 30, "kind": "phone", "summary": format!("session {n}") }),
                ),
                6..=7 => act(
                    "add_team_member",
                    &lead,
                    json!({ "member": other_mentor() }),
                ),
                8..=9 => act(
                    "refer",
                    &lead,
                    json!({ "mentor": other_mentor(), "reason": format!("{SECRET} {n}") }),
                ),
                10..=11 => match referred {
                    Some(r) if rng.chance(50) => act("accept_referral", &r, json!({})),
                    Some(r) => act("decline_referral", &r, json!({ "reason": "no time" })),
                    None => act("add_note", &lead, json!({ "text": "no referral" })),
                },
                12 => match team {
                    Some(t) => act(
                        "log_session",
                        &t,
                        json!({ "duration": 45, "kind": "video" }),
                    ),
                    None => act("add_note", &lead, json!({ "text": "no team" })),
                },
                13..=16 => act(
                    "update_status",
                    &lead,
                    json!({
                        "status": rng.pick(&["no_response", "withdrawn", "complete", "no_show", "incorrect_contact", "in_progress"]),
                        "contacted": rng.chance(90),
                    }),
                ),
                17 => act("transfer_to_queue", &lead, json!({ "reason": "moving" })),
                _ => act("add_note", &lead, json!({ "text": format!("note {n}") })),
            }
        }
        _ => {
            if rng.chance(40) {
                act(
                    "update_status",
                    &lead,
                    json!({ "status": "in_progress", "contacted": true }),
                )
            } else {
                act("add_note", &lead, json!({ "text": "closed note" }))
            }
        }
    }
}

/// The child: resume from the file and run until `target` commands are logged.
/// Drop a line a kill cut short (one `write` per line makes it unlikely, not impossible).
fn trim_partial_line(path: &Path) {
    if let Ok(text) = std::fs::read(path) {
        let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        if keep < text.len() {
            let f = OpenOptions::new().write(true).open(path).unwrap();
            f.set_len(keep as u64).unwrap();
        }
    }
}

fn run_child(dir: &Path, target: usize, run: u64) {
    let db = dir.join("cases.db");
    trim_partial_line(&dir.join("committed.log"));
    trim_partial_line(&dir.join("delivered.log"));
    let log = Log::open(&dir.join("committed.log"));
    let deliveries = Arc::new(Log::open(&dir.join("delivered.log")));
    // The clock resumes at the last committed instant (it may not start earlier).
    let clock = ManualClock::at(last_instant(&db));
    let e = Engine::builder()
        .database(&db)
        .workflows_dir(workflows())
        .clock(clock.clone())
        .hook(Deliveries(Arc::clone(&deliveries)))
        .build()
        .unwrap();
    let (org, people) = directory();
    e.replace_org(&org).unwrap();
    e.put_people(&people).unwrap();
    std::fs::write(dir.join(format!("ready.{run}")), "ready").unwrap();
    // Fire what is due and deliver what a kill left undelivered.
    e.tick().unwrap();
    let mut done = log_lines(&dir.join("committed.log")).len();
    let mut rng = Rng::new(seed() ^ run.wrapping_mul(7919));
    while done < target {
        match choose(&mut rng, &e, done) {
            Step::Advance(d) => {
                e.advance_by(d).unwrap();
            }
            Step::Start => {
                let c = e
                    .start(
                        "score_request",
                        "submit",
                        "pat",
                        json!({ "client_name": format!("Client {done}") }),
                    )
                    .unwrap();
                log.line(&format!("{} {} submit", c.id, c.revision));
                done += 1;
            }
            Step::Act {
                case,
                action,
                actor,
                inputs,
            } => match e.act(case, action, &actor, inputs) {
                Ok(c) => {
                    log.line(&format!("{} {} {action}", c.id, c.revision));
                    done += 1;
                }
                Err(
                    err @ (Error::GuardRejected { .. }
                    | Error::NotPermitted { .. }
                    | Error::Validation { .. }),
                ) => {
                    let _ = err; // an ordinary refusal: nothing changed
                }
                Err(other) => panic!("{action} on {case} as {actor}: {other}"),
            },
        }
    }
    // Finish: let every pending timer fall due and deliver everything.
    e.advance("30 days").unwrap();
    e.tick().unwrap();
    std::fs::write(dir.join("finished"), "finished").unwrap();
}

/// Started by the parent; does nothing in a normal test run.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("MF_CRASH_CHILD") else {
        return;
    };
    let target: usize = std::env::var("MF_CRASH_TARGET").unwrap().parse().unwrap();
    let run: u64 = std::env::var("MF_CRASH_RUN").unwrap().parse().unwrap();
    run_child(Path::new(&dir), target, run);
}

fn spawn_child(dir: &Path, target: usize, run: u64) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("MF_CRASH_CHILD", dir)
        .env("MF_CRASH_TARGET", target.to_string())
        .env("MF_CRASH_RUN", run.to_string())
        .env("MF_SEED", seed().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

// ---- verification -------------------------------------------------------------------------------

/// What the checks found, for the report.
#[derive(Debug, Default)]
struct Figures {
    cases: usize,
    events: usize,
    notifications: usize,
    timer_firings: usize,
    duplicate_deliveries: usize,
}

struct OutboxRow {
    id: i64,
    kind: String,
    case_id: Option<i64>,
    recipient: Option<String>,
    template: String,
    text: String,
    delivered: bool,
}

fn outbox(db: &Path) -> Vec<OutboxRow> {
    let c = Connection::open(db).unwrap();
    let mut stmt = c
        .prepare(
            "SELECT id, kind, case_id, recipient, template, subject || body || data, delivered_at IS NOT NULL
             FROM outbox ORDER BY id",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok(OutboxRow {
                id: r.get(0)?,
                kind: r.get(1)?,
                case_id: r.get(2)?,
                recipient: r.get(3)?,
                template: r.get(4)?,
                text: r.get(5)?,
                delivered: r.get(6)?,
            })
        })
        .unwrap();
    rows.map(Result::unwrap).collect()
}

fn sqlite_checks(db: &Path) {
    let c = Connection::open(db).unwrap();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok", "integrity_check");
    let dangling: i64 = c
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(dangling, 0, "foreign_key_check");
}

/// The script timers of `assigned_pending` and the action timer that leaves it.
const SCRIPT_TIMERS: &[&str] = &["reminder_24h", "reminder_48h"];
const ACTION_TIMER: &str = "return_to_queue";

/// Check the timers of one case's history: per visit of a state, each scheduled timer fired at
/// most once, at its due time, and did fire if it fell due before the visit ended (`now` for
/// the visit still going on).
fn check_timers(e: &Engine, id: i64, history: &[Event], now: DateTime<Utc>) -> usize {
    let mut fired_total = 0;
    let entries: Vec<usize> = history
        .iter()
        .enumerate()
        .filter(|(_, ev)| ev.from_state.as_deref() != Some(ev.to_state.as_str()))
        .map(|(i, _)| i)
        .collect();
    for (k, &start) in entries.iter().enumerate() {
        let end = entries.get(k + 1).copied();
        let entry = &history[start];
        let exit_at = end.map_or(now, |j| history[j].at);
        let within = &history[start + 1..end.unwrap_or(history.len())];
        let scheduled: BTreeMap<&str, DateTime<Utc>> = entry
            .effects
            .iter()
            .filter_map(|f| match f {
                Effect::TimerScheduled { name, due } => Some((name.as_str(), *due)),
                _ => None,
            })
            .collect();
        if entry.to_state == "assigned_pending" {
            let names: BTreeSet<&str> = scheduled.keys().copied().collect();
            assert_eq!(
                names,
                BTreeSet::from(["reminder_24h", "reminder_48h", "return_to_queue"]),
                "case {id}: entering assigned_pending schedules its three timers"
            );
        } else {
            assert!(scheduled.is_empty(), "case {id}: {scheduled:?}");
        }
        for name in SCRIPT_TIMERS {
            let Some(&due) = scheduled.get(name) else {
                continue;
            };
            let action = format!("timer:{name}");
            let firings: Vec<&Event> = within.iter().filter(|ev| ev.action == action).collect();
            assert!(firings.len() <= 1, "case {id}: {name} fired twice");
            fired_total += firings.len();
            for f in &firings {
                assert_eq!(f.at, due, "case {id}: {name} fired at its due time");
                assert_eq!(f.actor, "system");
                assert!(
                    f.effects.iter().any(|x| matches!(x, Effect::Notify { .. })),
                    "case {id}: {name} queued its reminder"
                );
            }
            if due < exit_at {
                assert_eq!(firings.len(), 1, "case {id}: {name} due {due} was lost");
            }
            if due > exit_at {
                assert!(firings.is_empty(), "case {id}: {name} fired early");
            }
        }
        if let Some(&due) = scheduled.get(ACTION_TIMER) {
            let by_timer = end.is_some_and(|j| history[j].action == ACTION_TIMER);
            if by_timer {
                fired_total += 1;
                let j = end.unwrap_or_default();
                assert_eq!(history[j].at, due, "case {id}: return_to_queue on time");
                assert_eq!(history[j].actor, "system");
            }
            if due < exit_at {
                assert!(by_timer, "case {id}: return_to_queue due {due} was lost");
            }
        }
    }
    // Pending rows: only the current state's, and only those not fired in this visit.
    let current = history.last().unwrap();
    let last_entry = &history[*entries.last().unwrap()];
    let since: Vec<&str> = history[*entries.last().unwrap() + 1..]
        .iter()
        .map(|ev| ev.action.as_str())
        .collect();
    for t in e.timers(id).unwrap() {
        assert_eq!(
            t.state, current.to_state,
            "case {id}: stale timer row {t:?}"
        );
        let scheduled = last_entry.effects.iter().any(
            |f| matches!(f, Effect::TimerScheduled { name, due } if *name == t.name && *due == t.due_at),
        );
        assert!(scheduled, "case {id}: timer row {t:?} was never scheduled");
        assert!(
            !since.contains(&format!("timer:{}", t.name).as_str()),
            "case {id}: timer {} fired but its row is still pending",
            t.name
        );
    }
    fired_total
}

/// Every check of the module docs. `finished` adds: everything was delivered.
fn verify(dir: &Path, kills: usize, finished: bool) -> Figures {
    let db = dir.join("cases.db");
    sqlite_checks(&db);
    let e = Engine::builder()
        .database(&db)
        .workflows_dir(workflows())
        .clock(ManualClock::at(last_instant(&db)))
        .build()
        .unwrap_or_else(|err| panic!("the database does not open after a kill: {err}"));
    let now = last_instant(&db);
    let mut figures = Figures::default();
    let cases = e.cases(&Default::default()).unwrap();
    figures.cases = cases.len();
    let mut histories: HashMap<i64, Vec<Event>> = HashMap::new();
    let mut effect_ids: BTreeMap<i64, (i64, Option<String>, String)> = BTreeMap::new();
    for c in &cases {
        let h = e.history(c.id, None).unwrap();
        let seqs: Vec<u64> = h.iter().map(|ev| ev.seq).collect();
        assert_eq!(
            seqs,
            (1..=c.revision).collect::<Vec<_>>(),
            "case {}: revisions are contiguous",
            c.id
        );
        let folded = mentorflow::fold(&h).unwrap();
        assert!(folded.matches(c), "case {}: fold {folded:?} != {c:?}", c.id);
        for ev in &h {
            for f in &ev.effects {
                let (oid, to, template) = match f {
                    Effect::Notify { id, to, template } => {
                        (*id, Some(to.clone()), template.clone())
                    }
                    Effect::Signal { id, kind } => (*id, None, kind.clone()),
                    _ => continue,
                };
                let before = effect_ids.insert(oid, (c.id, to, template));
                assert!(before.is_none(), "outbox row {oid} in two effects");
            }
        }
        figures.events += h.len();
        figures.timer_firings += check_timers(&e, c.id, &h, now);
        histories.insert(c.id, h);
    }
    // The outbox and the effects agree, row for row.
    let rows = outbox(&db);
    let row_ids: BTreeSet<i64> = rows.iter().map(|r| r.id).collect();
    let eff: BTreeSet<i64> = effect_ids.keys().copied().collect();
    assert_eq!(row_ids, eff, "outbox rows and Notify/Signal effects");
    for r in &rows {
        let (case, to, template) = &effect_ids[&r.id];
        assert_eq!(r.case_id, Some(*case), "outbox {}", r.id);
        assert_eq!(&r.template, template, "outbox {}", r.id);
        if r.kind == "notification" {
            assert_eq!(&r.recipient, to, "outbox {}", r.id);
        }
        assert!(
            !r.text.contains(SECRET),
            "the private refer reason reached notification {}: {}",
            r.id,
            r.text
        );
    }
    figures.notifications = rows.len();
    // Every logged command is there, whole.
    for line in log_lines(&dir.join("committed.log")) {
        let mut parts = line.split(' ');
        let id: i64 = parts.next().unwrap().parse().unwrap();
        let rev: u64 = parts.next().unwrap().parse().unwrap();
        let action = parts.next().unwrap();
        let h = histories
            .get(&id)
            .unwrap_or_else(|| panic!("logged case {id} is missing"));
        let ev = h
            .get(rev as usize - 1)
            .unwrap_or_else(|| panic!("case {id}: logged revision {rev} is missing"));
        assert_eq!(ev.seq, rev);
        assert_eq!(ev.action, action, "case {id} revision {rev}");
    }
    // Deliveries: delivered rows reached the hook; duplicates only from kills.
    let mut seen: BTreeMap<i64, usize> = BTreeMap::new();
    let mut events_seen: BTreeSet<i64> = BTreeSet::new();
    for line in log_lines(&dir.join("delivered.log")) {
        let (kind, id) = line.split_once(' ').unwrap();
        let id: i64 = id.parse().unwrap();
        match kind {
            "N" => *seen.entry(id).or_default() += 1,
            _ => {
                events_seen.insert(id);
            }
        }
    }
    for r in &rows {
        if r.delivered || finished {
            assert!(
                seen.contains_key(&r.id),
                "outbox {} never reached the hook",
                r.id
            );
        }
        if finished {
            assert!(r.delivered, "outbox {} still undelivered at the end", r.id);
        }
    }
    assert!(
        seen.keys().all(|id| row_ids.contains(id)),
        "the hook saw an outbox id that is not in the file (a rolled-back notification)"
    );
    figures.duplicate_deliveries = seen.values().map(|n| n - 1).sum();
    assert!(
        figures.duplicate_deliveries <= kills,
        "{} duplicate deliveries after {kills} kills: the engine itself delivered twice",
        figures.duplicate_deliveries
    );
    // Dropping duplicates by id gives exactly the outbox.
    let unique: BTreeSet<i64> = seen.keys().copied().collect();
    if finished {
        assert_eq!(unique, row_ids);
        let all_events: BTreeSet<i64> = histories.values().flatten().map(|ev| ev.id).collect();
        assert_eq!(events_seen, all_events, "every event reached on_event");
    }
    figures
}

fn kill_at_random(child: &mut Child, dir: &Path, run: u64, rng: &mut Rng) {
    let ready = dir.join(format!("ready.{run}"));
    if rng.chance(20) {
        // anywhere, start-up and schema creation included
        thread::sleep(Duration::from_millis(rng.below(40)));
    } else {
        let started = Instant::now();
        while !ready.exists() && started.elapsed() < Duration::from_secs(60) {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("the child ended before it was killed: {status}\n{err}");
            }
            thread::sleep(Duration::from_millis(1));
        }
        thread::sleep(Duration::from_millis(2 + rng.below(60)));
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child finished before the kill");
}

/// `kills` killed runs, then one that adds `target` commands and finishes.
fn crash_run(kills: usize, target: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng::new(seed());
    let started = Instant::now();
    let mut last = Figures::default();
    let mut run = 0u64;
    let mut done_kills = 0;
    while done_kills < kills {
        run += 1;
        // no target: a killed run never finishes on its own
        let mut child = spawn_child(dir.path(), usize::MAX, run);
        kill_at_random(&mut child, dir.path(), run, &mut rng);
        assert!(!dir.path().join("finished").exists());
        done_kills += 1;
        last = verify(dir.path(), done_kills, false);
    }
    let before_last = log_lines(&dir.path().join("committed.log")).len();
    // The last round: resume and finish.
    run += 1;
    let target = before_last + target;
    let child = spawn_child(dir.path(), target, run);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the last child failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("finished").exists());
    let end = verify(dir.path(), done_kills, true);
    let logged = log_lines(&dir.path().join("committed.log")).len();
    assert!(logged >= target);
    assert!(end.cases >= last.cases && end.events >= last.events);
    eprintln!(
        "crash: {kills} kills, {} runs, {logged} committed commands logged ({before_last} before the \
         last run), {} cases, {} events, {} notifications, {} timer firings, {} duplicate \
         deliveries dropped by id, {:.1} s",
        run,
        end.cases,
        end.events,
        end.notifications,
        end.timer_firings,
        end.duplicate_deliveries,
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sigkill_at_random_moments_loses_nothing_committed() {
    if std::env::var("MF_CRASH_CHILD").is_ok() || std::env::var("MF_RACE_CHILD").is_ok() {
        return;
    }
    let kills = std::env::var("MF_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(if long() { 500 } else { SHORT_KILLS });
    crash_run(kills, LAST_RUN);
}

// ---- two processes × threads --------------------------------------------------------------------

const RACE: &str = r#"
workflow: race
version: 1
roles:
  owner: {}
  worker: { directory: worker }
fields:
  count: { type: int, default: 0 }
  fired: { type: int, default: 0 }
states:
  a:
    label: A
    timers:
      - { name: ping, after: 1h, run: fields.fired += 1 }
  b:
    label: B
    timers:
      - { name: ping, after: 1h, run: fields.fired += 1 }
  done: { label: Done, final: true }
actions:
  create: { to: a, by: owner }
  bump: { from: [a, b], by: worker, run: fields.count += 1 }
  flip_ab: { from: a, to: b, by: worker }
  flip_ba: { from: b, to: a, by: worker }
  finish: { from: [a, b], to: done, by: owner }
"#;

const RACE_CASES: usize = 6;
const RACE_THREADS: usize = 3;

fn race_engine(db: &Path, clock: ManualClock) -> Engine {
    let e = Engine::builder()
        .database(db)
        .workflow_str("race.yaml", RACE)
        .clock(clock)
        .build()
        .unwrap();
    let mut people = vec![Person::new("owner").org("ch1")];
    for p in ["p1", "p2"] {
        for t in 0..RACE_THREADS {
            people.push(Person::new(format!("{p}t{t}")).org("ch1").role("worker"));
        }
    }
    e.put_people(&people).unwrap();
    e
}

/// What one process did: successful (case, revision, action, actor) and counts.
#[derive(Debug, Default)]
struct RaceLog {
    ok: Vec<(i64, u64, String, String)>,
    conflicts: usize,
    fired: usize,
}

/// Several threads of one process: act, act_at with a possibly stale revision, and sweep.
fn race_process(e: &Engine, clock: &ManualClock, ids: &[i64], who: &str, ops: usize) -> RaceLog {
    let barrier = Arc::new(Barrier::new(RACE_THREADS));
    let handles: Vec<_> = (0..RACE_THREADS)
        .map(|t| {
            let (e, clock, ids, barrier) =
                (e.clone(), clock.clone(), ids.to_vec(), barrier.clone());
            let actor = format!("{who}t{t}");
            let mut rng = Rng::new(seed() ^ (t as u64 + 1) ^ (who.as_bytes()[1] as u64) << 8);
            thread::spawn(move || {
                let mut log = RaceLog::default();
                barrier.wait();
                for _ in 0..ops {
                    let id = *rng.pick(&ids);
                    let (action, r) = match rng.below(10) {
                        0 => {
                            clock.advance(chrono::Duration::minutes(20));
                            let report = e.tick().unwrap_or_else(|err| panic!("tick: {err}"));
                            assert!(report.failed.is_empty(), "{report:?}");
                            log.fired += report.fired;
                            continue;
                        }
                        1..=4 => {
                            let r = e.act(id, "bump", &actor, json!({}));
                            assert!(
                                !matches!(r, Err(Error::Conflict { .. })),
                                "plain act is serialised and never conflicts"
                            );
                            ("bump", r)
                        }
                        5..=7 => {
                            let seen = e.get(id, None).unwrap();
                            thread::yield_now();
                            let r = e.act_at(id, seen.revision, "bump", &actor, json!({}));
                            if let Ok(c) = &r {
                                assert_eq!(c.revision, seen.revision + 1);
                            }
                            ("bump", r)
                        }
                        _ => {
                            let seen = e.get(id, None).unwrap();
                            let flip = if seen.state == "a" {
                                "flip_ab"
                            } else {
                                "flip_ba"
                            };
                            match e.act_at(id, seen.revision, flip, &actor, json!({})) {
                                // the other side flipped it first: the state check refuses
                                Err(Error::GuardRejected { rule, .. }) if rule == "state" => {
                                    continue
                                }
                                r => (flip, r),
                            }
                        }
                    };
                    match r {
                        Ok(c) => log
                            .ok
                            .push((c.id, c.revision, action.to_owned(), actor.clone())),
                        Err(Error::Conflict {
                            expected, actual, ..
                        }) => {
                            assert!(actual > expected);
                            log.conflicts += 1;
                        }
                        Err(other) => panic!("{actor}: {} {other}", other.code()),
                    }
                }
                log
            })
        })
        .collect();
    let mut all = RaceLog::default();
    for h in handles {
        let l = h.join().unwrap();
        all.ok.extend(l.ok);
        all.conflicts += l.conflicts;
        all.fired += l.fired;
    }
    all
}

fn race_ops() -> usize {
    if long() {
        400
    } else {
        40
    }
}

fn print_race_log(log: &RaceLog) {
    let lines: Vec<String> = log
        .ok
        .iter()
        .map(|(c, r, a, who)| format!("{c}:{r}:{a}:{who}"))
        .collect();
    println!(
        "RACE conflicts={} fired={} ok={}",
        log.conflicts,
        log.fired,
        lines.join(",")
    );
}

fn parse_race_log(stdout: &str) -> RaceLog {
    let line = stdout
        .lines()
        .find_map(|l| l.find("RACE ").map(|i| &l[i..]))
        .unwrap_or_else(|| panic!("no report from the child:\n{stdout}"));
    let mut log = RaceLog::default();
    for word in line.split_whitespace().skip(1) {
        let (k, v) = word.split_once('=').unwrap();
        match k {
            "conflicts" => log.conflicts = v.parse().unwrap(),
            "fired" => log.fired = v.parse().unwrap(),
            _ => {
                for item in v.split(',').filter(|s| !s.is_empty()) {
                    let p: Vec<&str> = item.split(':').collect();
                    log.ok.push((
                        p[0].parse().unwrap(),
                        p[1].parse().unwrap(),
                        p[2].to_owned(),
                        p[3].to_owned(),
                    ));
                }
            }
        }
    }
    log
}

/// The child side of `two_processes_with_threads_lose_no_update`.
#[test]
fn race_child() {
    let Ok(db) = std::env::var("MF_RACE_CHILD") else {
        return;
    };
    let db = PathBuf::from(db);
    let clock = ManualClock::at(t0());
    let e = race_engine(&db, clock.clone());
    let ids: Vec<i64> = e
        .cases(&Default::default())
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    std::fs::write(db.with_extension("ready"), "").unwrap();
    while !db.with_extension("go").exists() {
        thread::sleep(Duration::from_millis(1));
    }
    let log = race_process(&e, &clock, &ids, "p2", race_ops());
    print_race_log(&log);
}

#[test]
fn two_processes_with_threads_lose_no_update() {
    if std::env::var("MF_RACE_CHILD").is_ok() || std::env::var("MF_CRASH_CHILD").is_ok() {
        return;
    }
    let (_dir, db) = support::temp_db();
    let clock = ManualClock::at(t0());
    let e = race_engine(&db, clock.clone());
    let ids: Vec<i64> = (0..RACE_CASES)
        .map(|_| e.start("race", "create", "owner", json!({})).unwrap().id)
        .collect();
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["race_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("MF_RACE_CHILD", &db)
        .env("MF_SEED", seed().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !db.with_extension("ready").exists() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "child not ready"
        );
        thread::sleep(Duration::from_millis(1));
    }
    std::fs::write(db.with_extension("go"), "").unwrap();
    let mine = race_process(&e, &clock, &ids, "p1", race_ops());
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = parse_race_log(&stdout);
    // a last sweep far ahead fires every pending timer
    clock.advance(chrono::Duration::days(1));
    let late = e.tick().unwrap().fired;
    let mut successes: BTreeMap<(i64, u64), (String, String)> = BTreeMap::new();
    for (c, r, a, who) in mine.ok.iter().chain(theirs.ok.iter()) {
        let before = successes.insert((*c, *r), (a.clone(), who.clone()));
        assert!(
            before.is_none(),
            "two callers were told they made revision {r} of case {c}"
        );
    }
    let mut firings = 0;
    for &id in &ids {
        let h = e.history(id, None).unwrap();
        let c = e.get(id, None).unwrap();
        assert_eq!(
            h.iter().map(|ev| ev.seq).collect::<Vec<_>>(),
            (1..=c.revision).collect::<Vec<_>>()
        );
        assert!(mentorflow::fold(&h).unwrap().matches(&c));
        // every successful act is in the history exactly once, at the revision it returned
        for ev in &h {
            match successes.get(&(id, ev.seq)) {
                Some((a, who)) => {
                    assert_eq!(
                        (&ev.action, &ev.actor),
                        (a, who),
                        "case {id} rev {}",
                        ev.seq
                    )
                }
                None => assert!(
                    ev.actor == "system" || ev.action == "create",
                    "case {id}: event {} by {} that no caller was told about",
                    ev.seq,
                    ev.actor
                ),
            }
        }
        let bumps = h.iter().filter(|ev| ev.action == "bump").count();
        assert_eq!(c.data["count"], json!(bumps), "no lost update on case {id}");
        // each visit of a or b fires its ping at most once, and the last visit's fired
        let mut visit_firings = 0;
        for ev in &h {
            if ev.from_state.as_deref() != Some(ev.to_state.as_str()) {
                visit_firings = 0;
            } else if ev.action == "timer:ping" {
                visit_firings += 1;
                firings += 1;
                assert!(
                    visit_firings <= 1,
                    "case {id}: ping fired twice in one visit"
                );
            }
        }
        assert_eq!(visit_firings, 1, "case {id}: the last visit's ping fired");
        assert_eq!(
            c.data["fired"],
            json!(h.iter().filter(|ev| ev.action == "timer:ping").count())
        );
        assert!(e.timers(id).unwrap().is_empty());
    }
    assert_eq!(
        firings,
        mine.fired + theirs.fired + late,
        "firings reported = firings made"
    );
    eprintln!(
        "race: 2 processes x {RACE_THREADS} threads, {} commands ok, {} conflicts surfaced, {firings} timer firings",
        successes.len(),
        mine.conflicts + theirs.conflicts
    );
    assert!(
        successes.len() >= RACE_CASES,
        "the workload did something ({})",
        successes.len()
    );
}
