//! mentorflow benchmarks: the engine against the SQLite floor on this machine.
//!
//! Seven parts, run in one process by `mentorflow bench` (and [`run`]):
//!
//! 1. **floor** — the lifecycle workload as plain SQL with guards in plain Rust: per step,
//!    read the case, update it with a revision check, insert the history event, insert or
//!    delete the timer; one transaction per step (WAL, `synchronous=NORMAL`).
//!    The **minimal** floor beside it: the least any runtime must write per step — one case
//!    row with its JSON data, one history row, the timer row the step schedules or cancels.
//! 2. **engine** — the same workload through the public [`Engine`] API, guards and effects as
//!    rhai in YAML ([`WORKFLOW`]).
//! 3. **timers** — N cases each with one due timer, one sweep firing them all: the engine's
//!    batched sweep against the same SQL batched 1,000 firings per transaction.
//! 4. **reads under load** — `get` latency (p50/p99) from one thread while two threads run
//!    the lifecycle on the same file engine as fast as they can: reads go through the pooled
//!    read connections and must not wait for the writer.
//! 5. **scale** — N cases bulk-loaded over states and mentors, then p50/p99 latency of
//!    `view`, `actions`, `get` and `act`, and the process's peak memory.
//! 6. **concurrent** ([`concurrent`]) — eight threads running the lifecycle at once on one
//!    file engine against the single-thread floor (group commit), and `get` latency from one
//!    more thread meanwhile.
//! 7. **PostgreSQL** ([`postgres`], when a server is given) — lifecycle from one client and
//!    from 16 against floors of the same statements, and timer firings against a
//!    batched-claim floor.
//!
//! The lifecycle of a case: `start` (≈300 bytes of fields), `assign` (guard: the mentor is an
//! active mentor in the directory; effect: set the mentor; schedules a timer), `accept` (guard:
//! the actor is the mentor; effects: contacted, a note; the timer is cancelled), `log_session`
//! (sessions += 1), `complete` (guard: a session was logged and the client contacted).

pub mod concurrent;
pub mod portal_load;
pub mod postgres;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use mentorflow::{Act, Engine, ManualClock, Person, Start};
use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::{json, Map, Value};

/// The benchmark workflow, shaped like `score_request`.
pub const WORKFLOW: &str = r#"
workflow: lifecycle
version: 1
title: Benchmark lifecycle (shaped like score_request)
roles:
  client: {}
  mentor: {}
  coordinator: { directory: coordinator, sees: org }
fields:
  client_name: { type: string, required: true }
  business: { type: string }
  description: { type: text }
  email: { type: string }
  phone: { type: string }
  contacted: { type: bool, default: false }
  sessions: { type: int, default: 0 }
states:
  submitted: { label: Submitted }
  assigned_pending:
    label: Assigned – Pending
    timers:
      - { name: return_to_queue, after: 5 business days, action: expire }
  in_progress: { label: In Progress }
  complete: { label: Complete, final: true }
actions:
  submit: { to: submitted, by: client }
  assign:
    from: submitted
    to: assigned_pending
    by: coordinator
    inputs: { mentor: { type: person, required: true } }
    guard:
      - when: 'person(inputs.mentor).classification == "active"'
        message: Only active mentors can be assigned
    run: assign("mentor", inputs.mentor)
  expire:
    from: assigned_pending
    to: submitted
    by: system
    run: unassign("mentor")
  accept:
    from: assigned_pending
    to: in_progress
    by: mentor
    guard: 'actor.id == case.mentor'
    run: |
      fields.contacted = true;
      add_note("Accepted");
  log_session:
    from: in_progress
    by: mentor
    run: fields.sessions += 1
  complete:
    from: in_progress
    to: complete
    by: mentor
    guard:
      - when: 'fields.sessions >= 1 && fields.contacted'
        message: Log a session first
views:
  need_action: { states: [assigned_pending], viewer: mentor }
  intake_queue: { states: [submitted], viewer: coordinator }
"#;

/// Steps per case in the lifecycle.
pub const STEPS_PER_CASE: usize = 5;

/// Options of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Options {
    /// Cases in the lifecycle parts.
    pub cases: usize,
    /// Cases with a due timer.
    pub timers: usize,
    /// Cases in the scale part.
    pub scale: usize,
    /// Repetitions of the lifecycle and timer parts (the median is reported).
    pub repeat: usize,
    /// Samples per latency measurement in the scale part.
    pub samples: usize,
    /// Folder for the database files.
    pub dir: PathBuf,
    /// A PostgreSQL server for the PostgreSQL parts ([`postgres`]; skipped when `None`).
    #[serde(skip)]
    pub postgres: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            cases: 2_000,
            timers: 100_000,
            scale: 1_000_000,
            repeat: 5,
            samples: 2_000,
            dir: std::env::temp_dir(),
            postgres: None,
        }
    }
}

/// Throughput of one part.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    /// Steps (or firings) per second, median of the repetitions.
    pub per_sec: f64,
    /// Every repetition's figure.
    pub runs: Vec<f64>,
    /// p50 latency of one step, µs (median run).
    pub p50_us: f64,
    /// p99 latency of one step, µs (median run).
    pub p99_us: f64,
}

/// The lifecycle part.
#[derive(Debug, Clone, Serialize)]
pub struct Lifecycle {
    /// Plain SQL.
    pub floor: Throughput,
    /// Through the engine.
    pub engine: Throughput,
    /// The least any runtime must write for the same steps ([`minimal_lifecycle`]).
    pub minimal: Throughput,
    /// engine / floor steps per second.
    pub ratio: f64,
    /// engine / minimal floor steps per second.
    pub minimal_ratio: f64,
}

/// The timers part.
#[derive(Debug, Clone, Serialize)]
pub struct Timers {
    /// Plain SQL, 1,000 firings per transaction.
    pub batched_floor: Throughput,
    /// The engine's sweep.
    pub engine: Throughput,
    /// engine / batched floor firings per second.
    pub ratio: f64,
}

/// The scale part.
#[derive(Debug, Clone, Serialize)]
pub struct Scale {
    /// Cases loaded.
    pub cases: usize,
    /// Seconds to bulk-load them.
    pub load_secs: f64,
    /// `view("need_action", mentor)` latency.
    pub view_p50_ms: f64,
    /// p99.
    pub view_p99_ms: f64,
    /// `get(case)` latency.
    pub get_p50_ms: f64,
    /// p99.
    pub get_p99_ms: f64,
    /// `actions(case, mentor)` latency.
    pub actions_p50_ms: f64,
    /// p99.
    pub actions_p99_ms: f64,
    /// `act` latency (log_session on in-progress cases).
    pub act_p50_ms: f64,
    /// p99.
    pub act_p99_ms: f64,
    /// Peak resident memory of the process, MB.
    pub peak_rss_mb: f64,
}

/// A whole run.
/// The reads-under-load part.
#[derive(Debug, Clone, Serialize)]
pub struct ReadsUnderLoad {
    /// Threads writing meanwhile.
    pub writers: usize,
    /// The writers' steps per second meanwhile.
    pub write_steps_per_sec: f64,
    /// `get(case)` latency while they write.
    pub get_p50_ms: f64,
    /// p99.
    pub get_p99_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// When it ran.
    pub date: String,
    /// The options.
    pub options: Options,
    /// Part 1 and 2.
    pub lifecycle: Lifecycle,
    /// Part 3.
    pub timers: Timers,
    /// Part 4.
    pub reads: ReadsUnderLoad,
    /// Part 6: threads at once on one engine.
    pub concurrent: concurrent::Concurrent,
    /// The PostgreSQL parts (when a server was given).
    pub postgres: Option<postgres::Postgres>,
    /// Part 5 (absent when `scale` is 0).
    pub scale: Option<Scale>,
    /// The largest database the run wrote (file and WAL), MB: the disk it needs at once.
    pub peak_disk_mb: f64,
}

/// A benchmark error.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_795_168_800, 0).unwrap_or_default() // 2026-11-20T10:00:00Z, a Friday
}

/// What the names of this process's database files start with: every file the benchmark
/// writes is `DIR/<prefix><part>.db` (and its `-wal` and `-shm`).
pub fn file_prefix() -> String {
    format!("mentorflow-bench-{}-", std::process::id())
}

fn fresh(dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(format!("{}{name}.db", file_prefix()));
    remove_db(&p);
    p
}

/// The largest database seen so far (bytes), measured as each is removed.
static PEAK_DISK: AtomicU64 = AtomicU64::new(0);

fn remove_db(p: &Path) {
    let size: u64 = ["", "-wal", "-shm"]
        .iter()
        .filter_map(|suffix| std::fs::metadata(format!("{}{suffix}", p.display())).ok())
        .map(|m| m.len())
        .sum();
    PEAK_DISK.fetch_max(size, Ordering::Relaxed);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", p.display()));
    }
}

/// Remove every file this process's benchmark wrote in `dir` (after Ctrl-C, say); how many.
pub fn remove_files(dir: &Path) -> usize {
    let prefix = file_prefix();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// Bytes on disk per case, measured with this crate's workloads (`peak_disk_mb` of one part
/// run alone with 20,000 cases, 2026-12-02): the timer part's cases carry a history event and
/// a due timer each, the lifecycle's five events and their notifications, the scale part's
/// are bulk-loaded without history.
const BYTES_PER_SCALE_CASE: f64 = 750.0;
const BYTES_PER_TIMER_CASE: f64 = 1_900.0;
const BYTES_PER_LIFECYCLE_CASE: f64 = 2_300.0;

/// About how much disk a run with these options needs at once, MB (the parts run one after
/// the other and each removes its database).
pub fn estimated_disk_mb(o: &Options) -> f64 {
    let parts = [
        o.scale as f64 * BYTES_PER_SCALE_CASE,
        o.timers as f64 * BYTES_PER_TIMER_CASE,
        o.cases as f64 * BYTES_PER_LIFECYCLE_CASE,
    ];
    parts.into_iter().fold(0.0, f64::max) / 1e6
}

/// How many progress steps [`run`] reports for these options.
pub fn steps(o: &Options) -> usize {
    6 * o.repeat.max(1)
        + 1
        + usize::from(o.scale > 0)
        + o.postgres.as_ref().map_or(0, |_| postgres::steps(o.repeat))
}

/// Client fields of about 300 bytes.
pub fn client_data(i: usize) -> Value {
    json!({
        "client_name": format!("Client {i:07}"),
        "business": format!("Bakery and coffee shop number {i} on Main Street"),
        "description": "Wants help with a marketing plan, pricing for the new catering offer, and hiring a first employee before the spring season.",
        "email": format!("client{i}@example.org"),
        "phone": "+1 555 0100 200",
    })
}

pub(crate) fn people() -> Vec<Person> {
    let mut p = vec![Person::new("cody").org("ch1").role("coordinator")];
    for m in 0..20 {
        p.push(
            Person::new(format!("mentor{m:02}"))
                .org("ch1")
                .role("mentor")
                .attr("classification", "active"),
        );
    }
    for c in 0..50 {
        p.push(Person::new(format!("client{c:02}")).org("ch1"));
    }
    p
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)].as_secs_f64()
}

fn throughput(runs: Vec<(f64, Vec<Duration>)>) -> Throughput {
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|a, b| runs[*a].0.total_cmp(&runs[*b].0));
    let mid = order[order.len() / 2];
    let mut lat = runs[mid].1.clone();
    lat.sort();
    Throughput {
        per_sec: runs[mid].0,
        runs: runs.iter().map(|r| r.0).collect(),
        p50_us: percentile(&lat, 0.5) * 1e6,
        p99_us: percentile(&lat, 0.99) * 1e6,
    }
}

// ---- floor ----------------------------------------------------------------------------------

const FLOOR_SCHEMA: &str = "
CREATE TABLE people (id TEXT PRIMARY KEY, org TEXT, roles TEXT NOT NULL, attributes TEXT NOT NULL);
CREATE TABLE cases (id INTEGER PRIMARY KEY, workflow TEXT NOT NULL, version INTEGER NOT NULL, org TEXT NOT NULL,
  state TEXT NOT NULL, open INTEGER NOT NULL, data TEXT NOT NULL, participants TEXT NOT NULL, revision INTEGER NOT NULL,
  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
CREATE INDEX cases_by_org_state ON cases (workflow, org, state, updated_at);
CREATE TABLE events (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, from_state TEXT, to_state TEXT NOT NULL, inputs TEXT NOT NULL, effects TEXT NOT NULL,
  UNIQUE (case_id, seq));
CREATE TABLE timers (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, state TEXT NOT NULL, name TEXT NOT NULL,
  due_at INTEGER NOT NULL, anchor INTEGER NOT NULL, fired INTEGER NOT NULL DEFAULT 0, UNIQUE (case_id, name));
CREATE INDEX timers_by_due ON timers (due_at, id);
";

fn floor_db(path: &Path) -> BenchResult<Connection> {
    let db = Connection::open(path)?;
    db.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
    db.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    db.execute_batch(FLOOR_SCHEMA)?;
    let tx = db.unchecked_transaction()?;
    for p in people() {
        tx.execute(
            "INSERT INTO people (id, org, roles, attributes) VALUES (?1, ?2, ?3, ?4)",
            params![
                p.id,
                p.org,
                serde_json::to_string(&p.roles)?,
                serde_json::to_string(&p.attributes)?
            ],
        )?;
    }
    tx.commit()?;
    Ok(db)
}

struct FloorCase {
    state: String,
    data: Map<String, Value>,
    participants: Map<String, Value>,
    revision: i64,
}

fn floor_read(db: &Connection, id: i64) -> BenchResult<FloorCase> {
    let (state, data, participants, revision): (String, String, String, i64) = db
        .prepare_cached("SELECT state, data, participants, revision FROM cases WHERE id = ?1")?
        .query_row(params![id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })?;
    Ok(FloorCase {
        state,
        data: serde_json::from_str(&data)?,
        participants: serde_json::from_str(&participants)?,
        revision,
    })
}

#[allow(clippy::too_many_arguments)]
fn floor_write(
    db: &Connection,
    id: i64,
    c: &FloorCase,
    action: &str,
    actor: &str,
    from: &str,
    effects: &Value,
    at: i64,
) -> BenchResult<()> {
    let n = db
        .prepare_cached(
            "UPDATE cases SET state = ?2, data = ?3, participants = ?4, revision = ?5, updated_at = ?6
             WHERE id = ?1 AND revision = ?7",
        )?
        .execute(params![
            id,
            c.state,
            serde_json::to_string(&c.data)?,
            serde_json::to_string(&c.participants)?,
            c.revision + 1,
            at,
            c.revision
        ])?;
    if n != 1 {
        return Err("revision conflict".into());
    }
    db.prepare_cached(
        "INSERT INTO events (case_id, seq, at, actor, action, from_state, to_state, inputs, effects)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '{}', ?8)",
    )?
    .execute(params![id, c.revision + 1, at, actor, action, from, c.state, effects.to_string()])?;
    Ok(())
}

/// The lifecycle as plain SQL. Returns (steps/s, per-step latencies).
pub fn floor_lifecycle(n: usize, dir: &Path) -> BenchResult<(f64, Vec<Duration>)> {
    let path = fresh(dir, "floor");
    let mut db = floor_db(&path)?;
    let mut lat = Vec::with_capacity(n * STEPS_PER_CASE);
    let at = t0().timestamp_micros();
    let started = Instant::now();
    for i in 0..n {
        let mentor = format!("mentor{:02}", i % 20);
        let client = format!("client{:02}", i % 50);
        // start
        let s = Instant::now();
        let tx = db.transaction()?;
        let mut data = client_data(i).as_object().cloned().unwrap_or_default();
        data.insert("contacted".into(), json!(false));
        data.insert("sessions".into(), json!(0));
        tx.prepare_cached(
            "INSERT INTO cases (workflow, version, org, state, open, data, participants, revision, created_at, updated_at)
             VALUES ('lifecycle', 1, 'ch1', 'submitted', 1, ?1, ?2, 1, ?3, ?3)",
        )?
        .execute(params![serde_json::to_string(&data)?, json!({"client": [client]}).to_string(), at])?;
        let id = tx.last_insert_rowid();
        tx.prepare_cached(
            "INSERT INTO events (case_id, seq, at, actor, action, from_state, to_state, inputs, effects)
             VALUES (?1, 1, ?2, ?3, 'submit', NULL, 'submitted', '{}', ?4)",
        )?
        .execute(params![id, at, client, Value::Object(data.clone()).to_string()])?;
        tx.commit()?;
        lat.push(s.elapsed());
        // assign
        let s = Instant::now();
        let tx = db.transaction()?;
        let mut c = floor_read(&tx, id)?;
        let attrs: String = tx
            .prepare_cached("SELECT attributes FROM people WHERE id = ?1")?
            .query_row(params![mentor], |r| r.get(0))?;
        let attrs: Map<String, Value> = serde_json::from_str(&attrs)?;
        if c.state != "submitted" || attrs.get("classification") != Some(&json!("active")) {
            return Err("guard".into());
        }
        c.state = "assigned_pending".into();
        c.participants.insert("mentor".into(), json!([mentor]));
        floor_write(
            &tx,
            id,
            &c,
            "assign",
            "cody",
            "submitted",
            &json!([{"type": "assign", "role": "mentor", "person": mentor}]),
            at,
        )?;
        tx.prepare_cached(
            "INSERT INTO timers (case_id, state, name, due_at, anchor) VALUES (?1, 'assigned_pending', 'return_to_queue', ?2, ?2)",
        )?
        .execute(params![id, at + 7 * 86_400_000_000])?;
        tx.commit()?;
        lat.push(s.elapsed());
        // accept
        let s = Instant::now();
        let tx = db.transaction()?;
        let mut c = floor_read(&tx, id)?;
        if c.state != "assigned_pending" || c.participants.get("mentor") != Some(&json!([mentor])) {
            return Err("guard".into());
        }
        c.state = "in_progress".into();
        c.data.insert("contacted".into(), json!(true));
        floor_write(
            &tx,
            id,
            &c,
            "accept",
            &mentor,
            "assigned_pending",
            &json!([{"type": "set", "field": "contacted", "value": true}, {"type": "note", "text": "Accepted"}]),
            at,
        )?;
        tx.prepare_cached("DELETE FROM timers WHERE case_id = ?1")?
            .execute(params![id])?;
        tx.commit()?;
        lat.push(s.elapsed());
        // log_session
        let s = Instant::now();
        let tx = db.transaction()?;
        let mut c = floor_read(&tx, id)?;
        if c.state != "in_progress" {
            return Err("guard".into());
        }
        let sessions = c.data.get("sessions").and_then(Value::as_i64).unwrap_or(0) + 1;
        c.data.insert("sessions".into(), json!(sessions));
        floor_write(
            &tx,
            id,
            &c,
            "log_session",
            &mentor,
            "in_progress",
            &json!([{"type": "set", "field": "sessions", "value": sessions}]),
            at,
        )?;
        tx.commit()?;
        lat.push(s.elapsed());
        // complete
        let s = Instant::now();
        let tx = db.transaction()?;
        let mut c = floor_read(&tx, id)?;
        if c.data.get("sessions").and_then(Value::as_i64).unwrap_or(0) < 1
            || c.data.get("contacted") != Some(&json!(true))
        {
            return Err("guard".into());
        }
        c.state = "complete".into();
        floor_write(
            &tx,
            id,
            &c,
            "complete",
            &mentor,
            "in_progress",
            &json!([]),
            at,
        )?;
        tx.commit()?;
        lat.push(s.elapsed());
    }
    let secs = started.elapsed().as_secs_f64();
    drop(db);
    remove_db(&path);
    Ok(((n * STEPS_PER_CASE) as f64 / secs, lat))
}

// ---- minimal floor ----------------------------------------------------------------------------

/// The least any runtime must keep for this workload: a case row with its JSON data and a
/// revision, a history row per step, a timer row findable by due time.
const MINIMAL_SCHEMA: &str = "
CREATE TABLE cases (id INTEGER PRIMARY KEY, state TEXT NOT NULL, data TEXT NOT NULL, revision INTEGER NOT NULL);
CREATE TABLE events (id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, seq INTEGER NOT NULL, at INTEGER NOT NULL,
  actor TEXT NOT NULL, action TEXT NOT NULL, state TEXT NOT NULL, inputs TEXT NOT NULL);
CREATE TABLE timers (case_id INTEGER PRIMARY KEY, due_at INTEGER NOT NULL);
CREATE INDEX timers_by_due ON timers (due_at);
";

/// One step of the minimal floor: read the case (state, data, revision) by its key, apply
/// `change` to its data (the guard: it returns false to refuse), write the case row back with
/// a revision check and insert the history row.
#[allow(clippy::too_many_arguments)]
fn minimal_step(
    db: &Connection,
    id: i64,
    from: &str,
    to: &str,
    action: &str,
    actor: &str,
    inputs: &str,
    at: i64,
    change: impl FnOnce(&mut Map<String, Value>) -> bool,
) -> BenchResult<()> {
    let (state, data, revision): (String, String, i64) = db
        .prepare_cached("SELECT state, data, revision FROM cases WHERE id = ?1")?
        .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    let mut data: Map<String, Value> = serde_json::from_str(&data)?;
    if state != from || !change(&mut data) {
        return Err(format!("minimal floor: {action} refused").into());
    }
    let n = db
        .prepare_cached(
            "UPDATE cases SET state = ?2, data = ?3, revision = ?4 WHERE id = ?1 AND revision = ?5",
        )?
        .execute(params![
            id,
            to,
            serde_json::to_string(&data)?,
            revision + 1,
            revision
        ])?;
    if n != 1 {
        return Err("revision conflict".into());
    }
    db.prepare_cached(
        "INSERT INTO events (case_id, seq, at, actor, action, state, inputs) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![id, revision + 1, at, actor, action, to, inputs])?;
    Ok(())
}

/// The lifecycle as the least any runtime must write: per step one case row with its JSON
/// data, one history row, and the timer row the step schedules or cancels; same SQLite
/// settings as the floor (WAL, `synchronous=NORMAL`), one transaction per step. Guards are
/// plain Rust on the case's own data (the mentor is kept in the data: no participants, no
/// directory). Returns (steps/s, per-step latencies).
pub fn minimal_lifecycle(n: usize, dir: &Path) -> BenchResult<(f64, Vec<Duration>)> {
    let path = fresh(dir, "minimal");
    let mut db = Connection::open(&path)?;
    db.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
    db.execute_batch("PRAGMA synchronous = NORMAL;")?;
    db.execute_batch(MINIMAL_SCHEMA)?;
    let mut lat = Vec::with_capacity(n * STEPS_PER_CASE);
    let at = t0().timestamp_micros();
    let started = Instant::now();
    for i in 0..n {
        let mentor = format!("mentor{:02}", i % 20);
        let client = format!("client{:02}", i % 50);
        // start
        let s = Instant::now();
        let tx = db.transaction()?;
        let mut data = client_data(i).as_object().cloned().unwrap_or_default();
        data.insert("contacted".into(), json!(false));
        data.insert("sessions".into(), json!(0));
        tx.prepare_cached("INSERT INTO cases (state, data, revision) VALUES ('submitted', ?1, 1)")?
            .execute(params![serde_json::to_string(&data)?])?;
        let id = tx.last_insert_rowid();
        tx.prepare_cached(
            "INSERT INTO events (case_id, seq, at, actor, action, state, inputs) VALUES (?1, 1, ?2, ?3, 'submit', 'submitted', '{}')",
        )?
        .execute(params![id, at, client])?;
        tx.commit()?;
        lat.push(s.elapsed());
        // assign: schedules the timer
        let s = Instant::now();
        let tx = db.transaction()?;
        let inputs = json!({ "mentor": mentor }).to_string();
        minimal_step(
            &tx,
            id,
            "submitted",
            "assigned_pending",
            "assign",
            "cody",
            &inputs,
            at,
            |d| {
                d.insert("mentor".into(), json!(mentor));
                true
            },
        )?;
        tx.prepare_cached("INSERT INTO timers (case_id, due_at) VALUES (?1, ?2)")?
            .execute(params![id, at + 7 * 86_400_000_000])?;
        tx.commit()?;
        lat.push(s.elapsed());
        // accept: cancels the timer
        let s = Instant::now();
        let tx = db.transaction()?;
        minimal_step(
            &tx,
            id,
            "assigned_pending",
            "in_progress",
            "accept",
            &mentor,
            "{}",
            at,
            |d| {
                let ok = d.get("mentor").and_then(Value::as_str) == Some(mentor.as_str());
                d.insert("contacted".into(), json!(true));
                ok
            },
        )?;
        tx.prepare_cached("DELETE FROM timers WHERE case_id = ?1")?
            .execute(params![id])?;
        tx.commit()?;
        lat.push(s.elapsed());
        // log_session
        let s = Instant::now();
        let tx = db.transaction()?;
        minimal_step(
            &tx,
            id,
            "in_progress",
            "in_progress",
            "log_session",
            &mentor,
            "{}",
            at,
            |d| {
                let sessions = d.get("sessions").and_then(Value::as_i64).unwrap_or(0) + 1;
                d.insert("sessions".into(), json!(sessions));
                true
            },
        )?;
        tx.commit()?;
        lat.push(s.elapsed());
        // complete
        let s = Instant::now();
        let tx = db.transaction()?;
        minimal_step(
            &tx,
            id,
            "in_progress",
            "complete",
            "complete",
            &mentor,
            "{}",
            at,
            |d| {
                d.get("sessions").and_then(Value::as_i64).unwrap_or(0) >= 1
                    && d.get("contacted") == Some(&json!(true))
            },
        )?;
        tx.commit()?;
        lat.push(s.elapsed());
    }
    let secs = started.elapsed().as_secs_f64();
    drop(db);
    remove_db(&path);
    Ok(((n * STEPS_PER_CASE) as f64 / secs, lat))
}

fn bench_engine(path: &Path, clock: &ManualClock) -> BenchResult<Engine> {
    let e = Engine::builder()
        .database(path)
        .workflow_str("lifecycle.yaml", WORKFLOW)
        .clock(clock.clone())
        .build()?;
    e.put_people(&people())?;
    Ok(e)
}

/// The lifecycle through the engine. Returns (steps/s, per-step latencies).
pub fn engine_lifecycle(n: usize, dir: &Path) -> BenchResult<(f64, Vec<Duration>)> {
    let path = fresh(dir, "engine");
    let clock = ManualClock::at(t0());
    let e = bench_engine(&path, &clock)?;
    let mut lat = Vec::with_capacity(n * STEPS_PER_CASE);
    let started = Instant::now();
    let empty = json!({});
    for i in 0..n {
        let mentor = format!("mentor{:02}", i % 20);
        let client = format!("client{:02}", i % 50);
        let s = Instant::now();
        let c = e.start("lifecycle", "submit", &client, client_data(i))?;
        lat.push(s.elapsed());
        let s = Instant::now();
        e.act(c.id, "assign", "cody", json!({ "mentor": mentor }))?;
        lat.push(s.elapsed());
        for action in ["accept", "log_session", "complete"] {
            let s = Instant::now();
            e.act(c.id, action, &mentor, empty.clone())?;
            lat.push(s.elapsed());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    drop(e);
    remove_db(&path);
    Ok(((n * STEPS_PER_CASE) as f64 / secs, lat))
}

/// N due timers fired by one engine sweep. Returns (firings/s, per-firing mean as latency).
pub fn engine_timers(n: usize, dir: &Path) -> BenchResult<(f64, Vec<Duration>)> {
    let path = fresh(dir, "engine-timers");
    let clock = ManualClock::at(t0());
    let e = bench_engine(&path, &clock)?;
    let mut starts = Vec::with_capacity(1000);
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        starts.push(Start {
            workflow: "lifecycle".into(),
            action: Some("submit".into()),
            actor: format!("client{:02}", i % 50),
            org: None,
            data: client_data(i).as_object().cloned().unwrap_or_default(),
            inputs: Map::new(),
            idempotency_key: None,
        });
        if starts.len() == 1000 || i + 1 == n {
            ids.extend(e.start_many(&starts)?.into_iter().map(|c| c.id));
            starts.clear();
        }
    }
    for chunk in ids.chunks(1000).enumerate() {
        let acts: Vec<Act> = chunk
            .1
            .iter()
            .enumerate()
            .map(|(j, id)| {
                let mut inputs = Map::new();
                inputs.insert(
                    "mentor".into(),
                    json!(format!("mentor{:02}", (chunk.0 * 1000 + j) % 20)),
                );
                Act {
                    case_id: *id,
                    action: "assign".into(),
                    actor: "cody".into(),
                    inputs,
                }
            })
            .collect();
        e.act_many(&acts)?;
    }
    clock.set(t0() + chrono::Duration::days(8));
    let started = Instant::now();
    let report = e.tick()?;
    let secs = started.elapsed().as_secs_f64();
    if report.fired != n {
        return Err(format!(
            "expected {n} firings, got {} ({:?})",
            report.fired, report.failed
        )
        .into());
    }
    drop(e);
    remove_db(&path);
    let per = Duration::from_secs_f64(secs / n.max(1) as f64);
    Ok((n as f64 / secs, vec![per]))
}

/// The same firings as plain SQL, 1,000 per transaction: read case, update, insert event,
/// delete timer.
pub fn floor_timers(n: usize, dir: &Path) -> BenchResult<(f64, Vec<Duration>)> {
    let path = fresh(dir, "floor-timers");
    let mut db = floor_db(&path)?;
    let at = t0().timestamp_micros();
    {
        let tx = db.transaction()?;
        for i in 0..n {
            let data = client_data(i).to_string();
            tx.prepare_cached(
                "INSERT INTO cases (workflow, version, org, state, open, data, participants, revision, created_at, updated_at)
                 VALUES ('lifecycle', 1, 'ch1', 'assigned_pending', 1, ?1, ?2, 2, ?3, ?3)",
            )?
            .execute(params![data, json!({"mentor": [format!("mentor{:02}", i % 20)]}).to_string(), at])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO timers (case_id, state, name, due_at, anchor) VALUES (?1, 'assigned_pending', 'return_to_queue', ?2, ?2)")?
                .execute(params![id, at])?;
        }
        tx.commit()?;
    }
    let started = Instant::now();
    loop {
        let tx = db.transaction()?;
        let due: Vec<(i64, i64)> = tx
            .prepare_cached(
                "SELECT id, case_id FROM timers WHERE due_at <= ?1 ORDER BY due_at, id LIMIT 1000",
            )?
            .query_map(params![at], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        if due.is_empty() {
            break;
        }
        for (tid, cid) in due {
            let mut c = floor_read(&tx, cid)?;
            c.state = "submitted".into();
            c.participants.remove("mentor");
            floor_write(
                &tx,
                cid,
                &c,
                "expire",
                "system",
                "assigned_pending",
                &json!([{"type": "unassign", "role": "mentor"}]),
                at,
            )?;
            tx.prepare_cached("DELETE FROM timers WHERE id = ?1")?
                .execute(params![tid])?;
        }
        tx.commit()?;
    }
    let secs = started.elapsed().as_secs_f64();
    drop(db);
    remove_db(&path);
    let per = Duration::from_secs_f64(secs / n.max(1) as f64);
    Ok((n as f64 / secs, vec![per]))
}

/// Peak resident set size of this process in MB (Linux `VmHWM`), or 0 elsewhere.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Mentors in the scale part: one per 50 cases (a mentor's need-action list holds about a
/// dozen requests), at least 20.
/// Writers in the reads-under-load part.
pub const LOAD_WRITERS: usize = 2;

/// `samples` reads of `get` on one thread while two threads run the lifecycle on
/// the same engine (a file, so reads use the pooled read connections).
pub fn reads_under_load(samples: usize, dir: &Path) -> BenchResult<ReadsUnderLoad> {
    let path = fresh(dir, "reads");
    let clock = ManualClock::at(t0());
    let e = bench_engine(&path, &clock)?;
    let preload = 200;
    for i in 0..preload {
        e.start(
            "lifecycle",
            "submit",
            &format!("client{:02}", i % 50),
            client_data(i),
        )?;
    }
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let steps = std::sync::Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..LOAD_WRITERS)
        .map(|w| {
            let (e, stop, steps) = (e.clone(), stop.clone(), steps.clone());
            std::thread::spawn(move || -> BenchResult<()> {
                let empty = json!({});
                let mut i = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mentor = format!("mentor{:02}", (i * LOAD_WRITERS + w) % 20);
                    let c = e.start(
                        "lifecycle",
                        "submit",
                        &format!("client{:02}", i % 50),
                        client_data(i),
                    )?;
                    e.act(c.id, "assign", "cody", json!({ "mentor": mentor }))?;
                    for action in ["accept", "log_session", "complete"] {
                        e.act(c.id, action, &mentor, empty.clone())?;
                    }
                    steps.fetch_add(STEPS_PER_CASE as u64, Ordering::Relaxed);
                    i += 1;
                }
                Ok(())
            })
        })
        .collect();
    // let the writers get going
    while steps.load(Ordering::Relaxed) < 50 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let started = Instant::now();
    let before = steps.load(Ordering::Relaxed);
    let mut lat = Vec::with_capacity(samples);
    let mut failed = None;
    for i in 0..samples {
        let id = (i * 7919 % preload) as i64 + 1;
        let s = Instant::now();
        if let Err(err) = e.get(id, None) {
            failed = Some(err);
            break;
        }
        lat.push(s.elapsed());
    }
    let secs = started.elapsed().as_secs_f64();
    let written = steps.load(Ordering::Relaxed) - before;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().map_err(|_| "a writer thread panicked")??;
    }
    if let Some(err) = failed {
        return Err(err.into());
    }
    drop(e);
    remove_db(&path);
    lat.sort();
    Ok(ReadsUnderLoad {
        writers: LOAD_WRITERS,
        write_steps_per_sec: written as f64 / secs,
        get_p50_ms: percentile(&lat, 0.5) * 1e3,
        get_p99_ms: percentile(&lat, 0.99) * 1e3,
    })
}

pub fn mentor_count(n: usize) -> usize {
    (n / 50).max(20)
}

/// Bulk-load `n` cases into an engine database and measure read and act latencies.
pub fn scale(n: usize, samples: usize, dir: &Path) -> BenchResult<Scale> {
    let path = fresh(dir, "scale");
    let clock = ManualClock::at(t0());
    drop(bench_engine(&path, &clock)?);
    let started = Instant::now();
    {
        let mut db = Connection::open(&path)?;
        db.execute_batch("PRAGMA synchronous = OFF;")?;
        let tx = db.transaction()?;
        let at = t0().timestamp_micros();
        let states = ["submitted", "assigned_pending", "in_progress", "complete"];
        let mentors = mentor_count(n);
        for m in 0..mentors {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO people (id, org, roles, attributes) VALUES (?1, 'ch1', '[\"mentor\"]', '{\"classification\":\"active\"}')",
            )?
            .execute(params![format!("mentor{m:02}")])?;
            tx.prepare_cached("INSERT OR IGNORE INTO person_roles (org, role, person) VALUES ('ch1', 'mentor', ?1)")?
                .execute(params![format!("mentor{m:02}")])?;
        }
        for i in 0..n {
            let state = states[i % 4];
            let mentor = format!("mentor{:02}", (i / 4) % mentors);
            let client = format!("client{:02}", i % 50);
            let mut data = client_data(i).as_object().cloned().unwrap_or_default();
            data.insert(
                "contacted".into(),
                json!(state != "submitted" && state != "assigned_pending"),
            );
            data.insert(
                "sessions".into(),
                json!(if state == "complete" { 1 } else { 0 }),
            );
            let mut parts = Map::new();
            parts.insert("client".into(), json!([client]));
            if state != "submitted" {
                parts.insert("mentor".into(), json!([mentor]));
            }
            tx.prepare_cached(
                "INSERT INTO cases (workflow, version, org, state, open, data, participants, revision, created_at, updated_at)
                 VALUES ('lifecycle', 1, 'ch1', ?1, ?2, ?3, ?4, 1, ?5, ?5)",
            )?
            .execute(params![state, state != "complete", Value::Object(data).to_string(), Value::Object(parts).to_string(), at + i as i64])?;
            let id = tx.last_insert_rowid();
            tx.prepare_cached("INSERT INTO participants (person, role, case_id, since) VALUES (?2, 'client', ?1, ?3)")?
                .execute(params![id, client, at])?;
            if state != "submitted" {
                tx.prepare_cached("INSERT INTO participants (person, role, case_id, since) VALUES (?2, 'mentor', ?1, ?3)")?
                    .execute(params![id, mentor, at])?;
            }
            tx.prepare_cached(
                "INSERT INTO events (case_id, seq, at, actor, action, from_state, to_state, inputs, effects)
                 VALUES (?1, 1, ?2, ?3, 'submit', NULL, ?4, '{}', '[]')",
            )?
            .execute(params![id, at, client, state])?;
        }
        tx.commit()?;
    }
    let load_secs = started.elapsed().as_secs_f64();
    let e = Engine::builder()
        .database(&path)
        .workflow_str("lifecycle.yaml", WORKFLOW)
        .clock(clock.clone())
        .build()?;
    let n64 = n as i64;
    let pick = |k: usize, state_index: i64| -> i64 {
        // case ids are 1-based, state = (id - 1) % 4
        let base = ((k as i64 * 7_919) % (n64 / 4).max(1)) * 4;
        base + state_index + 1
    };
    let measure = |f: &mut dyn FnMut(usize) -> BenchResult<()>| -> BenchResult<(f64, f64)> {
        let mut lat = Vec::with_capacity(samples);
        for k in 0..samples {
            let s = Instant::now();
            f(k)?;
            lat.push(s.elapsed());
        }
        lat.sort();
        Ok((percentile(&lat, 0.5) * 1e3, percentile(&lat, 0.99) * 1e3))
    };
    let mentors = mentor_count(n);
    let (view_p50, view_p99) = measure(&mut |k| {
        let mentor = format!("mentor{:02}", (k * 7_919) % mentors);
        e.view("need_action", &mentor)?;
        Ok(())
    })?;
    let (get_p50, get_p99) = measure(&mut |k| {
        e.get(pick(k, 2), None)?;
        Ok(())
    })?;
    let (actions_p50, actions_p99) = measure(&mut |k| {
        let id = pick(k, 2);
        let mentor = format!("mentor{:02}", ((id as usize - 1) / 4) % mentors);
        e.actions(id, &mentor)?;
        Ok(())
    })?;
    let (act_p50, act_p99) = measure(&mut |k| {
        let id = pick(k, 2);
        let mentor = format!("mentor{:02}", ((id as usize - 1) / 4) % mentors);
        e.act(id, "log_session", &mentor, json!({}))?;
        Ok(())
    })?;
    let peak = peak_rss_mb();
    drop(e);
    remove_db(&path);
    Ok(Scale {
        cases: n,
        load_secs,
        view_p50_ms: view_p50,
        view_p99_ms: view_p99,
        get_p50_ms: get_p50,
        get_p99_ms: get_p99,
        actions_p50_ms: actions_p50,
        actions_p99_ms: actions_p99,
        act_p50_ms: act_p50,
        act_p99_ms: act_p99,
        peak_rss_mb: peak,
    })
}

/// Run every part.
pub fn run(o: &Options, mut progress: impl FnMut(&str)) -> BenchResult<Report> {
    PEAK_DISK.store(0, Ordering::Relaxed);
    let mut floor = Vec::new();
    let mut minimal = Vec::new();
    let mut engine = Vec::new();
    for r in 0..o.repeat.max(1) {
        progress(&format!(
            "lifecycle run {}/{}: floor",
            r + 1,
            o.repeat.max(1)
        ));
        floor.push(floor_lifecycle(o.cases, &o.dir)?);
        progress(&format!(
            "lifecycle run {}/{}: minimal floor",
            r + 1,
            o.repeat.max(1)
        ));
        minimal.push(minimal_lifecycle(o.cases, &o.dir)?);
        progress(&format!(
            "lifecycle run {}/{}: engine",
            r + 1,
            o.repeat.max(1)
        ));
        engine.push(engine_lifecycle(o.cases, &o.dir)?);
    }
    let (floor, minimal, engine) = (throughput(floor), throughput(minimal), throughput(engine));
    let lifecycle = Lifecycle {
        ratio: engine.per_sec / floor.per_sec,
        minimal_ratio: engine.per_sec / minimal.per_sec,
        floor,
        minimal,
        engine,
    };
    let mut tf = Vec::new();
    let mut te = Vec::new();
    for r in 0..o.repeat.max(1) {
        progress(&format!(
            "timers run {}/{}: batched floor",
            r + 1,
            o.repeat.max(1)
        ));
        tf.push(floor_timers(o.timers, &o.dir)?);
        progress(&format!("timers run {}/{}: engine", r + 1, o.repeat.max(1)));
        te.push(engine_timers(o.timers, &o.dir)?);
    }
    let (tf, te) = (throughput(tf), throughput(te));
    let timers = Timers {
        ratio: te.per_sec / tf.per_sec,
        batched_floor: tf,
        engine: te,
    };
    progress(&format!(
        "reads under load: {} gets beside {LOAD_WRITERS} writers",
        o.samples
    ));
    let reads = reads_under_load(o.samples, &o.dir)?;
    let concurrent = concurrent::concurrent(
        o.cases,
        o.samples,
        o.repeat,
        &lifecycle.floor,
        &lifecycle.engine,
        &o.dir,
        &mut progress,
    )?;
    let pg = match &o.postgres {
        Some(url) => Some(postgres::run(
            url,
            o.cases,
            o.timers,
            o.repeat,
            &mut progress,
        )?),
        None => None,
    };
    let scale = if o.scale > 0 {
        progress(&format!("scale: loading {} cases", o.scale));
        Some(scale(o.scale, o.samples, &o.dir)?)
    } else {
        None
    };
    Ok(Report {
        date: Utc::now().format("%Y-%m-%d").to_string(),
        options: o.clone(),
        lifecycle,
        timers,
        reads,
        concurrent,
        postgres: pg,
        scale,
        peak_disk_mb: PEAK_DISK.load(Ordering::Relaxed) as f64 / 1e6,
    })
}
