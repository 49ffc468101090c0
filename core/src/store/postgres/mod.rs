//! The PostgreSQL backend, for several engine processes on several machines sharing one
//! database server: the `postgres` crate (synchronous, like the rest of the core) with an
//! `r2d2` connection pool, and every statement of the store in this one module.
//!
//! **Isolation.** Every command runs in one `SERIALIZABLE` transaction. PostgreSQL then
//! guarantees that concurrent commands have the effect of some serial order: no lost update
//! on a case (the revision check holds too), and count-based guards (`open_cases`,
//! `assignments_since`) cannot both pass for the last free slot of a person, because the
//! second transaction's read of the count conflicts with the first one's write. A command
//! that fails with a serialization failure (`40001`) or a deadlock (`40P01`) is rolled back
//! and run again from the start on a fresh transaction, up to [`RETRIES`] times with a short
//! random backoff, so it is never half-applied. Reads run in `REPEATABLE READ READ ONLY`
//! transactions: one consistent snapshot, never a serialization failure.
//!
//! **Timers.** The sweep claims due timers with `FOR UPDATE SKIP LOCKED`: several processes
//! sweeping at once take disjoint batches; a batch of a process that dies is unlocked when
//! its connection drops and fired by the next sweep.

pub(crate) mod audit;
pub mod schema;

use std::cell::{Cell, RefCell};
use std::time::Duration;

use chrono::{DateTime, Utc};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use r2d2_postgres::PostgresConnectionManager;
use serde_json::{Map, Value};

use super::{
    Access, CaseQuery, CaseRow, CredentialRow, OutboxItem, OutboxPos, SortKey, StoredDefinition,
    TimerRow, TokenRow, Tx,
};
use crate::directory::{check_id, Org, Person};
use crate::error::{Error, Result};
use crate::hooks::{Delivery, DeliveryFilter, DeliveryStatus};
use crate::model::{
    Case, CaseFilter, Effect, Event, Incident, IncidentFilter, IncidentStatus, Notification,
    NotificationFilter, Participant, Signal,
};

const INCIDENT_COLUMNS: &str =
    "id, case_id, kind, state, timer, anchor, fired, code, error, attempts, status, \
     first_at, last_at, next_attempt_at, resolved_at, resolved_by, note";

fn incident_row(r: &Row) -> Result<Incident> {
    let t = |i: usize| r.get::<_, Option<i64>>(i).map(instant);
    Ok(Incident {
        id: r.get(0),
        case_id: r.get(1),
        kind: r.get(2),
        state: r.get(3),
        timer: r.get(4),
        anchor: instant(r.get(5)),
        fired: u32::try_from(r.get::<_, i64>(6)).unwrap_or_default(),
        code: r.get(7),
        error: r.get(8),
        attempts: u32::try_from(r.get::<_, i64>(9)).unwrap_or_default(),
        status: r
            .get::<_, &str>(10)
            .parse::<IncidentStatus>()
            .map_err(Error::storage)?,
        first_at: instant(r.get(11)),
        last_at: instant(r.get(12)),
        next_attempt_at: t(13),
        resolved_at: t(14),
        resolved_by: r.get(15),
        note: r.get(16),
    })
}

/// How many times a command is run again after a serialization failure or a deadlock.
pub const RETRIES: u32 = 30;

/// Connections per engine process (the pool's maximum).
pub const POOL_SIZE: u32 = 8;

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn instant(us: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(us).unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A storage error from a PostgreSQL error (the server's message and code when it sent one).
pub(crate) fn pg_error(e: postgres::Error) -> Error {
    match e.as_db_error() {
        Some(db) => Error::storage(format!(
            "PostgreSQL: {} ({})",
            db.message(),
            db.code().code()
        )),
        None => Error::storage(format!("PostgreSQL: {e}")),
    }
}

/// Whether an error means "run the whole transaction again".
fn retryable(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.code().is_some_and(|c| {
        *c == SqlState::T_R_SERIALIZATION_FAILURE || *c == SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// A pooled connection with its prepared statements (prepared once per connection).
pub(crate) struct Conn {
    client: Client,
    statements: std::collections::HashMap<String, Statement>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("statements", &self.statements.len())
            .finish()
    }
}

/// The pool's connection manager: `r2d2_postgres`'s, with a statement cache per connection.
#[derive(Debug)]
pub(crate) struct Manager(PostgresConnectionManager<NoTls>);

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Conn, postgres::Error> {
        Ok(Conn {
            client: self.0.connect()?,
            statements: std::collections::HashMap::new(),
        })
    }
    fn is_valid(&self, conn: &mut Conn) -> std::result::Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }
    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.client.is_closed()
    }
}

type Pooled = r2d2::PooledConnection<Manager>;

/// The PostgreSQL store: a pool of connections to one database (or one schema of it, named
/// by `options=-csearch_path=…` in the URL).
pub(crate) struct PgStore {
    pool: r2d2::Pool<Manager>,
    /// For the listener's own connection ([`PgStore::listen`]).
    config: postgres::Config,
}

impl PgStore {
    /// Connect, and create (if `create`) or upgrade the schema, refusing a newer one.
    /// Without `create`, a database (or schema) holding no mentorflow tables is `not_found`
    /// and nothing is created.
    pub(crate) fn open(url: &str, create: bool) -> Result<PgStore> {
        let shown = super::redact(url);
        let config: postgres::Config = url
            .parse()
            .map_err(|e| Error::storage(format!("cannot read {shown}: {e}")))?;
        // One direct connection first: a server that is down or refuses us is reported at
        // once with its own reason, and the schema is made ready before the pool opens.
        let mut client = config
            .connect(NoTls)
            .map_err(|e| Error::storage(format!("cannot connect to {shown}: {e}")))?;
        if !create && schema::version(&mut client)?.is_none() {
            return Err(Error::NotFound {
                kind: "database",
                id: shown,
                hint: Some(
                    "it holds no mentorflow tables yet; a command that writes creates them".into(),
                ),
            });
        }
        schema::migrate(&mut client)?;
        drop(client);
        let manager = Manager(PostgresConnectionManager::new(config.clone(), NoTls));
        let pool = r2d2::Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(30))
            .build_unchecked(manager);
        Ok(PgStore { pool, config })
    }

    fn conn(&self) -> Result<Pooled> {
        self.pool
            .get()
            .map_err(|e| Error::storage(format!("no PostgreSQL connection: {e}")))
    }

    /// Run `f` in a transaction begun with `begin`, committing on `Ok`; run it again on a
    /// serialization failure or deadlock (rolled back first), up to [`RETRIES`] times.
    fn run(&self, begin: &str, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()> {
        let mut attempt = 0;
        loop {
            let conn = self.conn()?;
            let tx = PgTx {
                conn: RefCell::new(conn),
                retry: Cell::new(false),
                woke: Cell::new(false),
            };
            let outcome = tx
                .batch(begin)
                .and_then(|()| with_tx(&tx, || f(&tx)))
                .and_then(|()| tx.batch("COMMIT"));
            match outcome {
                Ok(()) => return Ok(()),
                Err(e) => {
                    // A failed COMMIT has already ended the transaction; ROLLBACK then only
                    // warns. A broken connection is dropped from the pool by r2d2.
                    let _ = tx.conn.borrow_mut().client.batch_execute("ROLLBACK");
                    if tx.retry.get() && attempt < RETRIES {
                        attempt += 1;
                        backoff(attempt);
                        continue;
                    }
                    return Err(e);
                }
            }
        }
    }
}

/// A short random pause before running a command again (grows with the attempt).
fn backoff(attempt: u32) {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(attempt);
    let cap = 2u64.saturating_pow(attempt.min(7)); // up to 128 ms
    std::thread::sleep(Duration::from_micros(h.finish() % (cap * 1000) + 100));
}

impl super::Store for PgStore {
    fn write(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()> {
        self.run("BEGIN ISOLATION LEVEL SERIALIZABLE", f)
    }
    fn read(&self, f: &mut dyn FnMut(&dyn Tx) -> Result<()>) -> Result<()> {
        self.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", f)
    }
    fn listen(&self) -> Result<Option<Box<dyn super::Listen>>> {
        let mut l = Listener {
            config: self.config.clone(),
            client: None,
        };
        l.connect()?;
        Ok(Some(Box::new(l)))
    }
}

/// The channel of this schema's wake-ups: one per schema, so that engines on other schemas of
/// the same database are not woken (a hash: a channel name is at most 63 bytes).
const WAKE_CHANNEL: &str = "'mentorflow_' || md5(current_schema())";

/// A command that schedules a timer due within this span of its state's entry wakes the
/// workers listening on the schema ([`crate::Engine::wake_on_commits`]); one due later is
/// found by their next look at the next due time.
pub const WAKE_WITHIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A connection of its own, `LISTEN`ing on the schema's channel ([`WAKE_CHANNEL`]).
struct Listener {
    config: postgres::Config,
    client: Option<Client>,
}

impl Listener {
    fn connect(&mut self) -> Result<&mut Client> {
        if self.client.is_none() {
            let mut c = self.config.connect(NoTls).map_err(pg_error)?;
            let channel: String = c
                .query_one(&format!("SELECT {WAKE_CHANNEL}"), &[])
                .map_err(pg_error)?
                .get(0);
            // md5's hex digits: an identifier that needs no quoting
            c.batch_execute(&format!("LISTEN {channel}"))
                .map_err(pg_error)?;
            self.client = Some(c);
        }
        self.client
            .as_mut()
            .ok_or_else(|| Error::storage("no PostgreSQL listener"))
    }
}

impl super::Listen for Listener {
    fn wait(&mut self, timeout: Duration) -> Result<bool> {
        use postgres::fallible_iterator::FallibleIterator;
        let c = self.connect()?;
        let first = c.notifications().timeout_iter(timeout).next();
        // the others that came with it wake nobody again
        let woken = first.and_then(|n| c.notifications().iter().count().map(|_| n.is_some()));
        if woken.is_err() {
            self.client = None;
        }
        woken.map_err(pg_error)
    }
}

/// One open transaction on a pooled connection. `retry` is set when a statement failed with
/// a serialization failure or deadlock, whatever the error became on its way up.
pub(crate) struct PgTx {
    conn: RefCell<Pooled>,
    retry: Cell<bool>,
    /// Whether this transaction already wakes the workers at its commit.
    woke: Cell<bool>,
}

scoped_tls::scoped_thread_local!(static CURRENT: PgTx);

/// Run `f` with `tx` as the transaction the scripts' directory functions read.
fn with_tx<T>(tx: &PgTx, f: impl FnOnce() -> T) -> T {
    CURRENT.set(tx, f)
}

/// The PostgreSQL transaction of the command running on this thread, as directory reads.
pub(crate) fn current_reads<T>(f: impl FnOnce(&dyn super::DirectoryReads) -> T) -> Option<T> {
    if !CURRENT.is_set() {
        return None;
    }
    Some(CURRENT.with(|tx| f(tx)))
}

impl PgTx {
    /// Wake the workers listening on this schema ([`super::Listen`]) when this transaction
    /// commits (`NOTIFY` is delivered at commit, and not at all on a rollback); once per
    /// transaction.
    fn wake_workers(&self) -> Result<()> {
        if !self.woke.replace(true) {
            self.execute(&format!("SELECT pg_notify({WAKE_CHANNEL}, '')"), &[])?;
        }
        Ok(())
    }

    fn fail(&self, e: postgres::Error) -> Error {
        if retryable(&e) {
            self.retry.set(true);
        }
        pg_error(e)
    }

    fn batch(&self, sql: &str) -> Result<()> {
        let mut c = self.conn.borrow_mut();
        c.client.batch_execute(sql).map_err(|e| self.fail(e))
    }

    fn statement(&self, c: &mut Conn, sql: &str) -> Result<Statement> {
        if let Some(s) = c.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = c.client.prepare(sql).map_err(|e| self.fail(e))?;
        if c.statements.len() > 512 {
            c.statements.clear();
        }
        c.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn query(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let mut c = self.conn.borrow_mut();
        let st = self.statement(&mut c, sql)?;
        c.client.query(&st, params).map_err(|e| self.fail(e))
    }

    fn query_opt(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Option<Row>> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    fn query_one(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
        self.query_opt(sql, params)?
            .ok_or_else(|| Error::storage("PostgreSQL returned no row"))
    }

    fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let mut c = self.conn.borrow_mut();
        let st = self.statement(&mut c, sql)?;
        c.client.execute(&st, params).map_err(|e| self.fail(e))
    }

    fn count(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<i64> {
        Ok(self.query_one(sql, params)?.get(0))
    }

    fn cursor(&self, name: &str) -> Result<Option<i64>> {
        Ok(self
            .query_opt("SELECT position FROM cursors WHERE name = $1", &[&name])?
            .map(|r| r.get(0)))
    }

    /// The reading position of outbox row `id` (see [`Tx::outbox_after`]). An id no row has
    /// (a cursor copied from elsewhere) is placed before the first row after it, so that no
    /// row after it is passed (rows before it may be offered again: at least once).
    fn outbox_pos(&self, id: i64) -> Result<OutboxPos> {
        let tx: i64 = self
            .query_one(
                "SELECT coalesce((SELECT tx FROM outbox WHERE id = $1),
                                 (SELECT min(tx) FROM outbox WHERE id > $1),
                                 pg_snapshot_xmin(pg_current_snapshot()))::text::bigint",
                &[&id],
            )?
            .get(0);
        Ok(OutboxPos { tx, id })
    }

    /// The directory changed: cached people and organisations of every engine go stale.
    fn bump_directory(&self) -> Result<()> {
        self.execute(
            "UPDATE mentorflow_meta SET dir_version = dir_version + 1",
            &[],
        )?;
        Ok(())
    }
}

// ---- rows -----------------------------------------------------------------------------------

const CASE_COLUMNS: &str = "c.id, c.workflow, c.version, c.org, c.state, c.data, c.participants, c.revision, c.created_at, c.updated_at, c.parent, c.suspended, c.cancelled";

fn case_row(r: &Row) -> Result<CaseRow> {
    Ok(CaseRow {
        id: r.get(0),
        workflow: r.get(1),
        version: r.get::<_, i64>(2) as u32,
        org: r.get(3),
        state: r.get(4),
        data: serde_json::from_str(r.get::<_, &str>(5))?,
        participants: serde_json::from_str(r.get::<_, &str>(6))?,
        revision: r.get::<_, i64>(7) as u64,
        created_at: instant(r.get(8)),
        updated_at: instant(r.get(9)),
        parent: r.get(10),
        suspended: r
            .get::<_, Option<&str>>(11)
            .map(serde_json::from_str)
            .transpose()?,
        cancelled: r
            .get::<_, Option<&str>>(12)
            .map(serde_json::from_str)
            .transpose()?,
    })
}

/// `horizon.h`: no transaction older than this can still add a history event or an outbox row
/// to this schema that a read of this snapshot cannot see.
/// That is the oldest transaction in progress when this transaction's snapshot was taken,
/// leaving out those that are still running now and hold no lock on any table of this schema
/// (another schema's or another application's work in the same database, which would
/// otherwise hold back delivery here), and those that rolled back (they add nothing); one
/// that committed since the snapshot counts, whatever it wrote, because the snapshot does not
/// show it ([`Tx::events_held`] and [`Tx::outbox_held`] tell the sweep to read again then).
///
/// The order of the looks matters: the locks must be read *before* a transaction is seen
/// still running, or one could end between the two looks, be missing from the locks and
/// still pass as "running, not ours" — its rows, invisible to the snapshot, would then lie
/// below the horizon and be passed for good. `CASE` evaluates its branches in order
/// (PostgreSQL documents it), and the locks are an uncorrelated subquery evaluated once, at
/// the first `WHEN`: so every status is asked after the locks were read, and a transaction
/// still running then was running when they were read, holding its locks.
const EVENT_HORIZON: &str = "snap AS (SELECT pg_current_snapshot() AS s),
    ours AS (
        SELECT coalesce(array_agg(t.transactionid::text::numeric), '{}') AS xids
        FROM pg_locks r
        JOIN pg_class c ON c.oid = r.relation
        JOIN pg_locks t ON t.pid = r.pid AND t.locktype = 'transactionid'
                        AND t.mode = 'ExclusiveLock' AND t.granted
        WHERE r.locktype = 'relation'
          AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
    ),
    horizon AS (
        SELECT coalesce(
            (SELECT x FROM snap, pg_snapshot_xip(snap.s) AS x
             WHERE CASE WHEN (x::text::numeric % 4294967296) = ANY ((SELECT xids FROM ours)::numeric[])
                        THEN coalesce(pg_xact_status(x), 'committed') <> 'aborted'
                        ELSE coalesce(pg_xact_status(x), 'committed') = 'committed' END
             ORDER BY x LIMIT 1),
            (SELECT pg_snapshot_xmax(s) FROM snap)) AS h
    )";

/// Whether the horizon is a transaction that committed after the snapshot (so a new read,
/// with a new snapshot, would see past it): `held.yes`, with [`EVENT_HORIZON`].
const HORIZON_HELD: &str = "held AS (
        SELECT EXISTS (
            SELECT 1 FROM snap, horizon, pg_snapshot_xip(snap.s) AS x
            WHERE x = horizon.h AND coalesce(pg_xact_status(x), 'committed') = 'committed'
        ) AS yes
    )";

/// An operator's mark as stored (JSON text, or NULL).
fn mark_json(m: Option<&crate::model::OperatorMark>) -> Result<Option<String>> {
    Ok(m.map(serde_json::to_string).transpose()?)
}

const EVENT_COLUMNS: &str =
    "id, case_id, seq, at, actor, action, from_state, to_state, inputs, effects";

fn event_row(r: &Row) -> Result<Event> {
    Ok(Event {
        id: r.get(0),
        case_id: r.get(1),
        seq: r.get::<_, i64>(2) as u64,
        at: instant(r.get(3)),
        actor: r.get(4),
        action: r.get(5),
        from_state: r.get(6),
        to_state: r.get(7),
        inputs: serde_json::from_str(r.get::<_, &str>(8))?,
        effects: serde_json::from_str::<Vec<Effect>>(r.get::<_, &str>(9))?,
    })
}

const TIMER_COLUMNS: &str = "id, case_id, state, name, due_at, anchor, fired";

fn timer_row(r: &Row) -> TimerRow {
    TimerRow {
        id: r.get(0),
        case_id: r.get(1),
        state: r.get(2),
        name: r.get(3),
        due_at: instant(r.get(4)),
        anchor: instant(r.get(5)),
        fired: r.get::<_, i64>(6) as u32,
    }
}

const OUTBOX_COLUMNS: &str = "id, kind, case_id, recipient, template, subject, body, data, created_at, delivered_at, acked_at, attempts, last_error";

fn outbox_row(r: &Row) -> Result<OutboxItem> {
    let kind: &str = r.get(1);
    let n = Notification {
        id: r.get(0),
        case_id: r.get(2),
        to: r.get::<_, Option<String>>(3).unwrap_or_default(),
        template: r.get(4),
        subject: r.get(5),
        body: r.get(6),
        data: serde_json::from_str(r.get::<_, &str>(7))?,
        at: instant(r.get(8)),
        delivered_at: r.get::<_, Option<i64>>(9).map(instant),
        acked_at: r.get::<_, Option<i64>>(10).map(instant),
        attempts: r.get::<_, i64>(11) as u32,
        last_error: r.get(12),
    };
    Ok(OutboxItem::from_row(kind, n))
}

const PERSON_COLUMNS: &str = "id, name, email, org, roles, attributes";

fn person_row(r: &Row) -> Result<Person> {
    Ok(Person {
        id: r.get(0),
        name: r.get(1),
        email: r.get(2),
        org: r.get(3),
        roles: serde_json::from_str(r.get::<_, &str>(4))?,
        attributes: serde_json::from_str(r.get::<_, &str>(5))?,
    })
}

fn org_row(r: &Row) -> Result<Org> {
    Ok(Org {
        id: r.get(0),
        name: r.get(1),
        timezone: r.get(2),
        weekend: serde_json::from_str(r.get::<_, &str>(3))?,
        holidays: serde_json::from_str(r.get::<_, &str>(4))?,
        settings: serde_json::from_str(r.get::<_, &str>(5))?,
    })
}

fn credential_row(r: &Row) -> (String, CredentialRow) {
    (
        r.get(6),
        CredentialRow {
            kind: r.get(0),
            person: r.get(1),
            name: r.get(2),
            created_at: instant(r.get(3)),
            expires_at: r.get::<_, Option<i64>>(4).map(instant),
            last_used_at: r.get::<_, Option<i64>>(5).map(instant),
        },
    )
}

// ---- case queries ---------------------------------------------------------------------------

/// A parameter of a built query.
enum Param {
    Text(String),
    Json(Value),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Param::Text(s) => s,
            Param::Json(v) => v,
        }
    }
}

/// The FROM and WHERE of a case query, with its parameters. Fields are compared as `jsonb`
/// (`c.data::jsonb -> 'field'`), so numbers, booleans and strings compare by type as on
/// SQLite.
fn query_from(q: &CaseQuery) -> (String, Vec<Param>) {
    let mut params: Vec<Param> = Vec::new();
    let push = |v: Param, params: &mut Vec<Param>| {
        let cast = matches!(v, Param::Json(_));
        params.push(v);
        if cast {
            format!("${}::jsonb", params.len())
        } else {
            format!("${}", params.len())
        }
    };
    let mine = |person: &str, roles: &[String], params: &mut Vec<Param>| {
        let me = push(Param::Text(person.to_owned()), params);
        let roles: Vec<String> = roles
            .iter()
            .map(|r| push(Param::Text(r.clone()), params))
            .collect();
        format!(
            "c.id IN (SELECT p.case_id FROM participants p WHERE p.person = {me} AND p.role IN ({}))",
            roles.join(", ")
        )
    };
    let wf = push(Param::Text(q.workflow.clone()), &mut params);
    let mut sql = format!("FROM cases c WHERE c.workflow = {wf}");
    if !q.states.is_empty() {
        let ps: Vec<String> = q
            .states
            .iter()
            .map(|st| push(Param::Text(st.clone()), &mut params))
            .collect();
        sql.push_str(&format!(" AND c.state IN ({})", ps.join(", ")));
    }
    match &q.access {
        None => {}
        Some(Access::Roles { person, roles }) => {
            let m = mine(person, roles, &mut params);
            sql.push_str(&format!(" AND {m}"));
        }
        Some(Access::Org(org)) => {
            let org = push(Param::Text(org.clone()), &mut params);
            sql.push_str(&format!(" AND c.org = {org}"));
        }
        Some(Access::RolesOrOrg { person, roles, org }) => {
            let m = mine(person, roles, &mut params);
            let org = push(Param::Text(org.clone()), &mut params);
            sql.push_str(&format!(" AND ({m} OR c.org = {org})"));
        }
    }
    for (f, v) in &q.fields {
        let key = push(Param::Text(f.clone()), &mut params);
        if v.is_null() {
            sql.push_str(&format!(
                " AND coalesce(c.data::jsonb -> {key}, 'null'::jsonb) = 'null'::jsonb"
            ));
        } else {
            let val = push(Param::Json(v.clone()), &mut params);
            sql.push_str(&format!(" AND c.data::jsonb -> {key} = {val}"));
        }
    }
    if let Some(text) = &q.search {
        let t = push(Param::Text(text.to_lowercase()), &mut params);
        sql.push_str(&format!(" AND strpos(lower(c.data), {t}) > 0"));
    }
    (sql, params)
}

/// The ORDER BY of a case query. A field sorts as `jsonb` (numbers as numbers, strings as
/// strings); unset fields last in ascending order, first in descending.
fn order_by(q: &CaseQuery, params: &mut Vec<Param>) -> String {
    let dir = if q.descending { "DESC" } else { "ASC" };
    match &q.sort {
        SortKey::Created => format!("c.created_at {dir}, c.id {dir}"),
        SortKey::Updated => format!("c.updated_at {dir}, c.id {dir}"),
        SortKey::Id => format!("c.id {dir}"),
        SortKey::State => format!("c.state {dir}, c.id {dir}"),
        SortKey::Field(field) => {
            params.push(Param::Text(field.clone()));
            let n = params.len();
            format!(
                "(c.data::jsonb -> ${n} IS NULL) {dir}, c.data::jsonb -> ${n} {dir}, c.id {dir}"
            )
        }
    }
}

fn refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(Param::as_sql).collect()
}

// ---- the transaction ------------------------------------------------------------------------

impl super::DirectoryReads for PgTx {
    fn person(&self, id: &str) -> Result<Option<Person>> {
        self.get_person(id)
    }
    fn people_of_org(&self, org: &str) -> Result<Vec<Person>> {
        self.list_people(Some(org))
    }
    fn people_with_role(&self, org: &str, role: &str) -> Result<Vec<Person>> {
        self.query(
            "SELECT p.id, p.name, p.email, p.org, p.roles, p.attributes
             FROM person_roles r JOIN people p ON p.id = r.person
             WHERE r.org = $1 AND r.role = $2 ORDER BY p.id",
            &[&org, &role],
        )?
        .iter()
        .map(person_row)
        .collect()
    }
    fn open_cases(&self, workflow: &str, person: &str, role: Option<&str>) -> Result<i64> {
        self.count(
            "SELECT count(DISTINCT c.id) FROM participants p JOIN cases c ON c.id = p.case_id
             WHERE p.person = $1 AND ($2::text IS NULL OR p.role = $2) AND c.workflow = $3 AND c.open",
            &[&person, &role, &workflow],
        )
    }
    fn assignments_since(
        &self,
        workflow: &str,
        person: &str,
        role: &str,
        since: DateTime<Utc>,
    ) -> Result<i64> {
        self.count(
            "SELECT count(*) FROM assignments WHERE person = $1 AND role = $2 AND workflow = $3 AND at >= $4",
            &[&person, &role, &workflow, &micros(since)],
        )
    }
}

impl Tx for PgTx {
    fn schema_version(&self) -> Result<i64> {
        self.count("SELECT schema_version FROM mentorflow_meta", &[])
    }
    fn data_version(&self) -> Result<i64> {
        self.count("SELECT dir_version FROM mentorflow_meta", &[])
    }
    fn stored_definitions(&self) -> Result<Vec<StoredDefinition>> {
        Ok(self
            .query(
                "SELECT workflow, version, hash, file, source FROM definitions ORDER BY workflow, version",
                &[],
            )?
            .iter()
            .map(|r| StoredDefinition {
                workflow: r.get(0),
                version: r.get::<_, i64>(1) as u32,
                hash: r.get(2),
                file: r.get(3),
                source: r.get(4),
            })
            .collect())
    }
    fn count_cases_of(&self, workflow: &str, version: u32) -> Result<i64> {
        self.count(
            "SELECT count(*) FROM cases WHERE workflow = $1 AND version = $2",
            &[&workflow, &i64::from(version)],
        )
    }
    fn put_definition(&self, d: &crate::definition::Definition, at: DateTime<Utc>) -> Result<()> {
        self.execute(
            "INSERT INTO definitions (workflow, version, hash, file, source, deployed_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (workflow, version) DO UPDATE SET hash = $3, file = $4, source = $5, deployed_at = $6",
            &[&d.id, &i64::from(d.version), &d.hash, &d.file, &d.source, &micros(at)],
        )?;
        Ok(())
    }
    fn load_case(&self, id: i64) -> Result<Option<CaseRow>> {
        let sql = format!("SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = $1");
        self.query_opt(&sql, &[&id])?
            .as_ref()
            .map(case_row)
            .transpose()
    }
    fn new_case_id(&self) -> Result<i64> {
        self.count("SELECT nextval(pg_get_serial_sequence('cases', 'id'))", &[])
    }
    fn insert_case(&self, c: &Case) -> Result<i64> {
        Ok(self
            .query_one(
                "INSERT INTO cases (id, workflow, version, org, state, open, data, participants, revision, created_at, updated_at, parent, suspended, cancelled)
                 VALUES (coalesce(nullif($12::bigint, 0), nextval(pg_get_serial_sequence('cases', 'id'))),
                         $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $13, $14) RETURNING id",
                &[
                    &c.workflow,
                    &i64::from(c.version),
                    &c.org,
                    &c.state,
                    &c.open,
                    &serde_json::to_string(&c.data)?,
                    &serde_json::to_string(&c.participants)?,
                    &(c.revision as i64),
                    &micros(c.created_at),
                    &micros(c.updated_at),
                    &c.parent,
                    &c.id,
                    &mark_json(c.suspended.as_ref())?,
                    &mark_json(c.cancelled.as_ref())?,
                ],
            )?
            .get(0))
    }
    fn update_case(&self, c: &Case, expected: u64) -> Result<()> {
        let n = self.execute(
            "UPDATE cases SET state = $2, open = $3, data = $4, participants = $5, revision = $6, updated_at = $7, version = $9,
                 suspended = $10, cancelled = $11
             WHERE id = $1 AND revision = $8",
            &[
                &c.id,
                &c.state,
                &c.open,
                &serde_json::to_string(&c.data)?,
                &serde_json::to_string(&c.participants)?,
                &(c.revision as i64),
                &micros(c.updated_at),
                &(expected as i64),
                &i64::from(c.version),
                &mark_json(c.suspended.as_ref())?,
                &mark_json(c.cancelled.as_ref())?,
            ],
        )?;
        if n == 0 {
            let actual = self.query_opt("SELECT revision FROM cases WHERE id = $1", &[&c.id])?;
            return match actual {
                Some(r) => Err(Error::Conflict {
                    case_id: c.id,
                    expected,
                    actual: r.get::<_, i64>(0) as u64,
                }),
                None => Err(Error::not_found("case", c.id.to_string())),
            };
        }
        Ok(())
    }
    fn add_participant(
        &self,
        case_id: i64,
        workflow: &str,
        role: &str,
        person: &str,
        at: DateTime<Utc>,
        log: bool,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO participants (person, role, case_id, since) VALUES ($1, $2, $3, $4)
             ON CONFLICT DO NOTHING",
            &[&person, &role, &case_id, &micros(at)],
        )?;
        if log {
            self.execute(
                "INSERT INTO assignments (person, role, workflow, case_id, at) VALUES ($1, $2, $3, $4, $5)",
                &[&person, &role, &workflow, &case_id, &micros(at)],
            )?;
        }
        Ok(())
    }
    fn remove_participant(&self, case_id: i64, role: &str, person: &str) -> Result<()> {
        self.execute(
            "DELETE FROM participants WHERE person = $1 AND role = $2 AND case_id = $3",
            &[&person, &role, &case_id],
        )?;
        Ok(())
    }
    fn case_participants(&self, case_id: i64) -> Result<Vec<Participant>> {
        Ok(self
            .query(
                "SELECT role, person, since FROM participants WHERE case_id = $1 ORDER BY role, since, person",
                &[&case_id],
            )?
            .iter()
            .map(|r| Participant {
                role: r.get(0),
                person: r.get(1),
                since: instant(r.get(2)),
            })
            .collect())
    }
    fn holds_role_in(&self, workflow: &str, person: &str, roles: &[String]) -> Result<bool> {
        for role in roles {
            let found: bool = self
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM participants p JOIN cases c ON c.id = p.case_id
                     WHERE p.person = $1 AND p.role = $2 AND c.workflow = $3)",
                    &[&person, role, &workflow],
                )?
                .get(0);
            if found {
                return Ok(true);
            }
        }
        Ok(false)
    }
    fn list_cases(&self, f: &CaseFilter) -> Result<Vec<CaseRow>> {
        let sql = format!(
            "SELECT {CASE_COLUMNS} FROM cases c WHERE ($1::text IS NULL OR c.workflow = $1)
             AND ($2::text IS NULL OR c.state = $2) AND ($3::text IS NULL OR c.org = $3)
             ORDER BY c.id DESC LIMIT $4"
        );
        let limit: Option<i64> = f.limit.map(|l| l as i64);
        self.query(&sql, &[&f.workflow, &f.state, &f.org, &limit])?
            .iter()
            .map(case_row)
            .collect()
    }
    fn count_cases(&self, q: &CaseQuery) -> Result<i64> {
        let (from, params) = query_from(q);
        self.count(&format!("SELECT count(*) {from}"), &refs(&params))
    }
    fn find_cases(&self, q: &CaseQuery, offset: usize, limit: usize) -> Result<Vec<CaseRow>> {
        let (from, mut params) = query_from(q);
        let order = order_by(q, &mut params);
        let limit = if limit == usize::MAX {
            "ALL".to_owned()
        } else {
            limit.to_string()
        };
        let sql =
            format!("SELECT {CASE_COLUMNS} {from} ORDER BY {order} LIMIT {limit} OFFSET {offset}");
        self.query(&sql, &refs(&params))?
            .iter()
            .map(case_row)
            .collect()
    }
    fn each_case(&self, q: &CaseQuery, f: &mut dyn FnMut(CaseRow) -> Result<()>) -> Result<()> {
        // Read in pages of 500, so `f` may use the transaction between pages.
        let mut offset = 0;
        loop {
            let page = self.find_cases(q, offset, 500)?;
            let n = page.len();
            for row in page {
                f(row)?;
            }
            if n < 500 {
                return Ok(());
            }
            offset += n;
        }
    }
    fn insert_event(&self, e: &Event) -> Result<i64> {
        Ok(self
            .query_one(
                "INSERT INTO events (case_id, seq, at, actor, action, from_state, to_state, inputs, effects)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
                &[
                    &e.case_id,
                    &(e.seq as i64),
                    &micros(e.at),
                    &e.actor,
                    &e.action,
                    &e.from_state,
                    &e.to_state,
                    &serde_json::to_string(&e.inputs)?,
                    &serde_json::to_string(&e.effects)?,
                ],
            )?
            .get(0))
    }
    fn events(&self, case_id: i64) -> Result<Vec<Event>> {
        let sql = format!("SELECT {EVENT_COLUMNS} FROM events WHERE case_id = $1 ORDER BY seq");
        self.query(&sql, &[&case_id])?
            .iter()
            .map(event_row)
            .collect()
    }
    fn last_event_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .query_opt("SELECT at FROM events ORDER BY id DESC LIMIT 1", &[])?
            .map(|r| instant(r.get(0))))
    }
    /// Events after a consumer's position, in commit-safe order. Event ids come from a
    /// sequence, so on a server with many writers a lower id can commit after a higher one: a
    /// "last id seen" cursor would pass it for good. So events are read in the order of the
    /// transaction that wrote them (`tx`, then id), and only those of transactions older than
    /// every transaction that may still add events ([`EVENT_HORIZON`]): no event can ever
    /// appear before one already read. The position stays an event id (the last one read);
    /// its `(tx, id)` is where reading resumes. An event of a transaction still running waits
    /// for it.
    fn events_after(&self, after_id: i64, limit: i64) -> Result<Vec<Event>> {
        let sql = format!(
            "WITH {EVENT_HORIZON}
             SELECT {EVENT_COLUMNS} FROM events, horizon
             WHERE tx < horizon.h
               AND CASE WHEN EXISTS (SELECT 1 FROM events WHERE id = $1)
                        THEN (tx, id) > ((SELECT tx FROM events WHERE id = $1), $1)
                        ELSE id > $1 END
             ORDER BY tx, id LIMIT $2"
        );
        self.query(&sql, &[&after_id, &limit])?
            .iter()
            .map(event_row)
            .collect()
    }
    fn events_held(&self, after_id: i64) -> Result<bool> {
        let sql = format!(
            "WITH {EVENT_HORIZON}, {HORIZON_HELD}
             SELECT held.yes AND EXISTS (
                    SELECT 1 FROM events, horizon
                    WHERE tx >= horizon.h
                      AND CASE WHEN EXISTS (SELECT 1 FROM events WHERE id = $1)
                               THEN (tx, id) > ((SELECT tx FROM events WHERE id = $1), $1)
                               ELSE id > $1 END
                ) FROM held"
        );
        Ok(self.query_one(&sql, &[&after_id])?.get(0))
    }
    fn insert_timer(
        &self,
        case_id: i64,
        state: &str,
        name: &str,
        due: DateTime<Utc>,
        anchor: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO timers (case_id, state, name, due_at, anchor, fired) VALUES ($1, $2, $3, $4, $5, 0)
             ON CONFLICT (case_id, name) DO UPDATE SET state = $2, due_at = $4, anchor = $5, fired = 0",
            &[&case_id, &state, &name, &micros(due), &micros(anchor)],
        )?;
        if due - anchor <= WAKE_WITHIN {
            self.wake_workers()?;
        }
        Ok(())
    }
    fn delete_timers(&self, case_id: i64) -> Result<usize> {
        Ok(self.execute("DELETE FROM timers WHERE case_id = $1", &[&case_id])? as usize)
    }
    fn delete_timer(&self, case_id: i64, name: &str) -> Result<usize> {
        Ok(self.execute(
            "DELETE FROM timers WHERE case_id = $1 AND name = $2",
            &[&case_id, &name],
        )? as usize)
    }
    fn delete_timer_id(&self, id: i64) -> Result<usize> {
        Ok(self.execute("DELETE FROM timers WHERE id = $1", &[&id])? as usize)
    }
    fn consume_timer(&self, t: &TimerRow) -> Result<usize> {
        Ok(self.execute(
            "DELETE FROM timers WHERE id = $1 AND name = $2 AND due_at = $3",
            &[&t.id, &t.name, &micros(t.due_at)],
        )? as usize)
    }
    fn reschedule_timer(&self, t: &TimerRow, due: DateTime<Utc>, fired: u32) -> Result<()> {
        self.execute(
            "UPDATE timers SET due_at = $2, fired = $3 WHERE id = $1 AND name = $4 AND due_at = $5",
            &[
                &t.id,
                &micros(due),
                &i64::from(fired),
                &t.name,
                &micros(t.due_at),
            ],
        )?;
        Ok(())
    }
    fn due_timers(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<TimerRow>> {
        // Claimed: another sweeper skips these rows until this transaction ends.
        let sql = format!(
            "SELECT {TIMER_COLUMNS} FROM timers WHERE due_at <= $1 AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = timers.case_id AND c.suspended IS NOT NULL)
             ORDER BY due_at, id LIMIT $2
             FOR UPDATE SKIP LOCKED"
        );
        Ok(self
            .query(&sql, &[&micros(now), &limit])?
            .iter()
            .map(timer_row)
            .collect())
    }
    fn next_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .query_one(
                "SELECT min(due_at) FROM timers WHERE true AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = timers.case_id AND c.suspended IS NOT NULL)",
                &[],
            )?
            .get::<_, Option<i64>>(0)
            .map(instant))
    }
    fn case_timers(&self, case_id: i64) -> Result<Vec<TimerRow>> {
        let sql =
            format!("SELECT {TIMER_COLUMNS} FROM timers WHERE case_id = $1 ORDER BY due_at, id");
        Ok(self
            .query(&sql, &[&case_id])?
            .iter()
            .map(timer_row)
            .collect())
    }
    fn count_due_timers(&self, before: DateTime<Utc>) -> Result<i64> {
        self.count(
            "SELECT count(*) FROM timers WHERE due_at <= $1 AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = timers.case_id AND c.suspended IS NOT NULL)",
            &[&micros(before)],
        )
    }
    fn insert_outbox(
        &self,
        case_id: Option<i64>,
        kind: &str,
        recipient: Option<&str>,
        template: &str,
        subject: &str,
        body: &str,
        data: &Map<String, Value>,
        at: DateTime<Utc>,
    ) -> Result<i64> {
        self.wake_workers()?;
        Ok(self
            .query_one(
                "INSERT INTO outbox (case_id, kind, recipient, template, subject, body, data, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                &[
                    &case_id,
                    &kind,
                    &recipient,
                    &template,
                    &subject,
                    &body,
                    &serde_json::to_string(data)?,
                    &micros(at),
                ],
            )?
            .get(0))
    }
    /// The cursor is the id of the last row the consumer read; its position is that row's
    /// `(tx, id)`. A consumer seen for the first time starts just before the first row still
    /// waiting in that order (else after the last row), but never beyond the horizon: a row of
    /// a transaction still running may land before anything not yet below it.
    fn consumer_position(&self, consumer: &str) -> Result<OutboxPos> {
        if let Some(p) = self.cursor(&format!("outbox:{consumer}"))? {
            return self.outbox_pos(p);
        }
        let pos = |r: Row| OutboxPos {
            tx: r.get(0),
            id: r.get(1),
        };
        let waiting = self.query_opt(
            "SELECT tx::text::bigint, id - 1 FROM outbox
             WHERE delivered_at IS NULL AND acked_at IS NULL AND dropped_at IS NULL
             ORDER BY tx, id LIMIT 1",
            &[],
        )?;
        let start = match waiting {
            Some(r) => pos(r),
            None => self
                .query_opt(
                    "SELECT tx::text::bigint, id FROM outbox ORDER BY tx DESC, id DESC LIMIT 1",
                    &[],
                )?
                .map(pos)
                .unwrap_or_default(),
        };
        let horizon: i64 = self
            .query_one(
                &format!("WITH {EVENT_HORIZON} SELECT h::text::bigint FROM horizon"),
                &[],
            )?
            .get(0);
        Ok(start.min(OutboxPos { tx: horizon, id: 0 }))
    }
    fn consumer_event_position(&self, consumer: &str) -> Result<i64> {
        Ok(match self.cursor(&format!("events:{consumer}"))? {
            Some(p) => p,
            None => self.cursor("events")?.unwrap_or_default(),
        })
    }
    /// Rows after a position in commit-safe order, as [`Tx::events_after`] reads events: an
    /// outbox id comes from a sequence, so a lower id can commit after a higher one. Rows are
    /// read by `(tx, id)` and only below the horizon ([`EVENT_HORIZON`]), so no row can ever
    /// appear before a position already passed; a row of a transaction still running waits.
    fn outbox_after(&self, after: OutboxPos, limit: i64) -> Result<Vec<(OutboxPos, OutboxItem)>> {
        let sql = format!(
            "WITH {EVENT_HORIZON}
             SELECT {OUTBOX_COLUMNS}, tx::text::bigint FROM outbox, horizon
             WHERE tx < horizon.h AND (tx, id) > ($1::bigint::text::xid8, $2)
               AND acked_at IS NULL AND dropped_at IS NULL
             ORDER BY tx, id LIMIT $3"
        );
        self.query(&sql, &[&after.tx, &after.id, &limit])?
            .iter()
            .map(|r| {
                let item = outbox_row(r)?;
                Ok((
                    OutboxPos {
                        tx: r.get(13),
                        id: r.get(0),
                    },
                    item,
                ))
            })
            .collect()
    }
    fn outbox_held(&self, after: OutboxPos) -> Result<bool> {
        let sql = format!(
            "WITH {EVENT_HORIZON}, {HORIZON_HELD}
             SELECT held.yes AND EXISTS (
                    SELECT 1 FROM outbox, horizon
                    WHERE tx >= horizon.h AND (tx, id) > ($1::bigint::text::xid8, $2)
                      AND acked_at IS NULL AND dropped_at IS NULL
                ) FROM held"
        );
        Ok(self.query_one(&sql, &[&after.tx, &after.id])?.get(0))
    }
    fn has_delivery(&self, id: i64, consumer: &str) -> Result<bool> {
        Ok(self
            .query_opt(
                "SELECT 1 FROM deliveries WHERE outbox_id = $1 AND consumer = $2",
                &[&id, &consumer],
            )?
            .is_some())
    }
    fn advance_consumer(&self, consumer: &str, id: i64) -> Result<()> {
        // forward in `outbox_after`'s order (never back), which is not the order of ids
        self.execute(
            "INSERT INTO cursors (name, position) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET position = $2
             WHERE NOT EXISTS (SELECT 1 FROM outbox WHERE id = cursors.position)
                OR ((SELECT tx FROM outbox WHERE id = $2), $2)
                   > ((SELECT tx FROM outbox WHERE id = cursors.position), cursors.position)",
            &[&format!("outbox:{consumer}"), &id],
        )?;
        Ok(())
    }
    fn advance_consumer_events(&self, consumer: &str, id: i64) -> Result<()> {
        // forward in `events_after`'s order (never back), which is not the order of ids
        self.execute(
            "INSERT INTO cursors (name, position) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET position = $2
             WHERE NOT EXISTS (SELECT 1 FROM events WHERE id = cursors.position)
                OR ((SELECT tx FROM events WHERE id = $2), $2)
                   > ((SELECT tx FROM events WHERE id = cursors.position), cursors.position)",
            &[&format!("events:{consumer}"), &id],
        )?;
        Ok(())
    }
    fn record_delivery_success(
        &self,
        id: i64,
        consumer: &str,
        attempt: u32,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            "UPDATE deliveries SET status = 'delivered', delivered_at = $3, last_attempt_at = $3,
             next_attempt_at = NULL WHERE outbox_id = $1 AND consumer = $2",
            &[&id, &consumer, &micros(at)],
        )?;
        self.execute(
            "UPDATE outbox SET attempts = greatest(attempts, $2) WHERE id = $1",
            &[&id, &i64::from(attempt)],
        )?;
        Ok(())
    }
    fn record_delivery_failure(
        &self,
        id: i64,
        consumer: &str,
        attempt: u32,
        error: &str,
        at: DateTime<Utc>,
        next: Option<DateTime<Utc>>,
    ) -> Result<()> {
        let status = if next.is_some() { "retry" } else { "dead" };
        self.execute(
            "INSERT INTO deliveries (outbox_id, consumer, status, attempts, last_error, first_failed_at, last_attempt_at, next_attempt_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7)
             ON CONFLICT (outbox_id, consumer) DO UPDATE SET status = $3, attempts = $4, last_error = $5,
                 first_failed_at = coalesce(deliveries.first_failed_at, $6), last_attempt_at = $6, next_attempt_at = $7",
            &[&id, &consumer, &status, &i64::from(attempt), &error, &micros(at), &next.map(micros)],
        )?;
        self.execute(
            "UPDATE outbox SET attempts = greatest(attempts, $2), last_error = $3 WHERE id = $1",
            &[&id, &i64::from(attempt), &error],
        )?;
        Ok(())
    }
    fn settle_outbox(&self, id: i64, consumers: &[&str], at: DateTime<Utc>) -> Result<()> {
        let pos = self.outbox_pos(id)?;
        for c in consumers {
            if self.consumer_position(c)? < pos {
                return Ok(());
            }
        }
        let open = self.count(
            "SELECT count(*) FROM deliveries WHERE outbox_id = $1 AND status IN ('retry', 'dead', 'dropped')",
            &[&id],
        )?;
        if open > 0 {
            return Ok(());
        }
        self.execute(
            "UPDATE outbox SET delivered_at = coalesce(delivered_at, $2), last_error = NULL WHERE id = $1",
            &[&id, &micros(at)],
        )?;
        Ok(())
    }
    fn due_retries(
        &self,
        consumer: &str,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<(OutboxItem, u32)>> {
        let cols: Vec<String> = OUTBOX_COLUMNS
            .split(", ")
            .map(|c| format!("o.{c}"))
            .collect();
        let sql = format!(
            "SELECT {}, d.attempts FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
             WHERE d.consumer = $1 AND d.status = 'retry' AND d.next_attempt_at <= $2
               AND o.acked_at IS NULL
             ORDER BY d.next_attempt_at, d.outbox_id LIMIT $3",
            cols.join(", ")
        );
        self.query(&sql, &[&consumer, &micros(now), &limit])?
            .iter()
            .map(|r| Ok((outbox_row(r)?, r.get::<_, i64>(13) as u32)))
            .collect()
    }
    fn next_delivery_retry(&self, consumers: &[&str]) -> Result<Option<DateTime<Utc>>> {
        let names: Vec<String> = consumers.iter().map(|c| (*c).to_owned()).collect();
        Ok(self
            .query_one(
                "SELECT min(next_attempt_at) FROM deliveries WHERE consumer = ANY($1) AND status = 'retry'",
                &[&names],
            )?
            .get::<_, Option<i64>>(0)
            .map(instant))
    }
    fn deliveries(&self, f: &DeliveryFilter) -> Result<Vec<Delivery>> {
        let statuses: Vec<String> = match (f.status, f.all) {
            (Some(s), _) => vec![s.as_str().to_owned()],
            (None, true) => ["retry", "dead", "dropped", "delivered"]
                .map(String::from)
                .to_vec(),
            (None, false) => ["retry", "dead"].map(String::from).to_vec(),
        };
        let limit = i64::try_from(f.limit.unwrap_or(1000)).unwrap_or(i64::MAX);
        let rows = self.query(
            "SELECT d.outbox_id, d.consumer, o.kind, o.case_id, o.recipient, o.template, d.status, d.attempts,
                    d.last_error, d.first_failed_at, d.last_attempt_at, d.next_attempt_at, d.delivered_at
             FROM deliveries d JOIN outbox o ON o.id = d.outbox_id
             WHERE d.status = ANY($1)
               AND ($2::text IS NULL OR d.consumer = $2) AND ($3::bigint IS NULL OR d.outbox_id = $3)
               AND ($4::bigint IS NULL OR o.case_id = $4)
             ORDER BY d.outbox_id, d.consumer LIMIT $5",
            &[&statuses, &f.consumer, &f.outbox_id, &f.case_id, &limit],
        )?;
        let t = |r: &Row, i: usize| r.get::<_, Option<i64>>(i).map(instant);
        rows.iter()
            .map(|r| {
                Ok(Delivery {
                    outbox_id: r.get(0),
                    consumer: r.get(1),
                    kind: r.get(2),
                    case_id: r.get(3),
                    to: r.get(4),
                    template: r.get(5),
                    status: DeliveryStatus::parse(r.get::<_, &str>(6))?,
                    attempts: r.get::<_, i64>(7) as u32,
                    last_error: r.get(8),
                    first_failed_at: t(r, 9),
                    last_attempt_at: t(r, 10),
                    next_attempt_at: t(r, 11),
                    delivered_at: t(r, 12),
                })
            })
            .collect()
    }
    fn outbox_exists(&self, id: i64) -> Result<bool> {
        Ok(self
            .query_opt("SELECT 1 FROM outbox WHERE id = $1", &[&id])?
            .is_some())
    }
    fn known_consumers(&self) -> Result<Vec<String>> {
        Ok(self
            .query(
                "SELECT substr(name, 8) FROM cursors WHERE name LIKE 'outbox:%' ORDER BY name",
                &[],
            )?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }
    fn retry_delivery(&self, id: i64, consumer: Option<&str>, now: DateTime<Utc>) -> Result<usize> {
        let n = self.execute(
            "UPDATE deliveries SET status = 'retry', attempts = 0, next_attempt_at = $3
             WHERE outbox_id = $1 AND ($2::text IS NULL OR consumer = $2) AND status IN ('retry', 'dead', 'dropped')",
            &[&id, &consumer, &micros(now)],
        )?;
        if n > 0 {
            self.execute(
                "UPDATE outbox SET dropped_at = NULL, delivered_at = NULL WHERE id = $1",
                &[&id],
            )?;
        }
        Ok(n as usize)
    }
    fn drop_delivery(&self, id: i64, consumer: Option<&str>, now: DateTime<Utc>) -> Result<usize> {
        let mut n = self.execute(
            "UPDATE deliveries SET status = 'dropped', next_attempt_at = NULL, last_attempt_at = coalesce(last_attempt_at, $3)
             WHERE outbox_id = $1 AND ($2::text IS NULL OR consumer = $2) AND status IN ('retry', 'dead')",
            &[&id, &consumer, &micros(now)],
        )? as usize;
        let consumers = match consumer {
            Some(c) => vec![c.to_owned()],
            None => self.known_consumers()?,
        };
        let pos = self.outbox_pos(id)?;
        for c in &consumers {
            if self.consumer_position(c)? < pos && !self.has_delivery(id, c)? {
                self.execute(
                    "INSERT INTO deliveries (outbox_id, consumer, status, attempts, last_attempt_at)
                     VALUES ($1, $2, 'dropped', 0, $3)",
                    &[&id, c, &micros(now)],
                )?;
                n += 1;
            }
        }
        let open = self.count(
            "SELECT count(*) FROM deliveries WHERE outbox_id = $1 AND status IN ('retry', 'dead')",
            &[&id],
        )?;
        if n > 0 && open == 0 {
            self.execute(
                "UPDATE outbox SET dropped_at = coalesce(dropped_at, $2) WHERE id = $1 AND delivered_at IS NULL",
                &[&id, &micros(now)],
            )?;
        }
        Ok(n)
    }
    fn dead_letters(&self) -> Result<i64> {
        self.count("SELECT count(*) FROM deliveries WHERE status = 'dead'", &[])
    }
    fn open_incident_of(&self, case_id: i64, timer: &str) -> Result<Option<Incident>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE case_id = $1 AND timer = $2 AND status = 'open'"
        );
        self.query_opt(&sql, &[&case_id, &timer])?
            .map(|r| incident_row(&r))
            .transpose()
    }
    fn insert_incident(&self, i: &Incident) -> Result<i64> {
        Ok(self
            .query_one(
                "INSERT INTO incidents (case_id, kind, state, timer, anchor, fired, code, error, attempts,
                     status, first_at, last_at, next_attempt_at, resolved_at, resolved_by, note)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
                 RETURNING id",
                &[
                    &i.case_id,
                    &i.kind,
                    &i.state,
                    &i.timer,
                    &micros(i.anchor),
                    &i64::from(i.fired),
                    &i.code,
                    &i.error,
                    &i64::from(i.attempts),
                    &i.status.as_str(),
                    &micros(i.first_at),
                    &micros(i.last_at),
                    &i.next_attempt_at.map(micros),
                    &i.resolved_at.map(micros),
                    &i.resolved_by,
                    &i.note,
                ],
            )?
            .get(0))
    }
    fn update_incident(&self, i: &Incident) -> Result<()> {
        self.execute(
            "UPDATE incidents SET code = $2, error = $3, attempts = $4, status = $5, last_at = $6,
                 next_attempt_at = $7, resolved_at = $8, resolved_by = $9, note = $10
             WHERE id = $1",
            &[
                &i.id,
                &i.code,
                &i.error,
                &i64::from(i.attempts),
                &i.status.as_str(),
                &micros(i.last_at),
                &i.next_attempt_at.map(micros),
                &i.resolved_at.map(micros),
                &i.resolved_by,
                &i.note,
            ],
        )?;
        Ok(())
    }
    fn incident(&self, id: i64) -> Result<Option<Incident>> {
        let sql = format!("SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1");
        self.query_opt(&sql, &[&id])?
            .map(|r| incident_row(&r))
            .transpose()
    }
    fn incidents(&self, f: &IncidentFilter) -> Result<Vec<Incident>> {
        let status = match (f.status, f.all) {
            (Some(s), _) => Some(s.as_str()),
            (None, true) => None,
            (None, false) => Some("open"),
        };
        let limit = i64::try_from(f.limit.unwrap_or(1000)).unwrap_or(i64::MAX);
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents
             WHERE ($1::text IS NULL OR status = $1) AND ($2::bigint IS NULL OR case_id = $2)
             ORDER BY id LIMIT $3"
        );
        self.query(&sql, &[&status, &f.case_id, &limit])?
            .iter()
            .map(incident_row)
            .collect()
    }
    fn due_incidents(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Incident>> {
        let sql = format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents
             WHERE status = 'open' AND next_attempt_at IS NOT NULL AND next_attempt_at <= $1
              AND NOT EXISTS (SELECT 1 FROM cases c WHERE c.id = incidents.case_id AND c.suspended IS NOT NULL)
             ORDER BY next_attempt_at, id LIMIT $2
             FOR UPDATE SKIP LOCKED"
        );
        self.query(&sql, &[&micros(now), &limit])?
            .iter()
            .map(incident_row)
            .collect()
    }
    fn next_incident_retry(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self
            .query_one(
                "SELECT min(next_attempt_at) FROM incidents WHERE status = 'open'",
                &[],
            )?
            .get::<_, Option<i64>>(0)
            .map(instant))
    }
    fn open_incidents(&self) -> Result<i64> {
        self.count("SELECT count(*) FROM incidents WHERE status = 'open'", &[])
    }
    fn insert_audit(&self, e: &crate::audit::AuditEntry) -> Result<i64> {
        audit::insert(self, e)
    }
    fn audit_entries(
        &self,
        f: &crate::audit::AuditFilter,
    ) -> Result<Vec<crate::audit::AuditEntry>> {
        audit::list(self, f)
    }
    fn rows_mentioning(
        &self,
        table: &str,
        columns: &[&str],
        needles: &[String],
    ) -> Result<Vec<crate::store::Mention>> {
        audit::rows_mentioning(self, table, columns, needles)
    }
    fn set_text(&self, table: &str, id: i64, column: &str, value: Option<&str>) -> Result<()> {
        audit::set_text(self, table, id, column, value)
    }
    fn blank_delivery_errors(&self, needles: &[String], text: &str) -> Result<usize> {
        audit::blank_delivery_errors(self, needles, text)
    }
    fn rename_person_rows(&self, from: &str, to: &str) -> Result<()> {
        audit::rename_person_rows(self, from, to)
    }
    fn closed_cases_before(
        &self,
        workflow: &str,
        org: Option<&str>,
        before: DateTime<Utc>,
    ) -> Result<Vec<i64>> {
        audit::closed_cases_before(self, workflow, org, before)
    }
    fn purge_case(&self, id: i64) -> Result<()> {
        audit::purge_case(self, id)
    }
    fn notifications(&self, f: &NotificationFilter) -> Result<Vec<Notification>> {
        let rows = match (f.case_id, f.to.as_deref()) {
            (Some(case_id), to) => self.query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE case_id = $1 AND kind = 'notification'
                     AND ($2::text IS NULL OR recipient = $2) AND (NOT $3 OR acked_at IS NULL) ORDER BY id"
                ),
                &[&case_id, &to, &f.pending],
            )?,
            (None, Some(to)) => self.query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE recipient = $1 AND kind = 'notification'
                     AND (NOT $2 OR acked_at IS NULL) ORDER BY id"
                ),
                &[&to, &f.pending],
            )?,
            (None, None) => self.query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE kind = 'notification'
                     AND (NOT $1 OR acked_at IS NULL) ORDER BY id"
                ),
                &[&f.pending],
            )?,
        };
        let mut out = Vec::new();
        for r in &rows {
            if let OutboxItem::Notification(n) = outbox_row(r)? {
                out.push(n);
            }
        }
        Ok(out)
    }
    fn signals(&self, case_id: Option<i64>) -> Result<Vec<Signal>> {
        let rows = match case_id {
            Some(id) => self.query(
                &format!(
                    "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE case_id = $1 AND kind = 'signal' ORDER BY id"
                ),
                &[&id],
            )?,
            None => self.query(
                &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE kind = 'signal' ORDER BY id"),
                &[],
            )?,
        };
        let mut out = Vec::new();
        for r in &rows {
            if let OutboxItem::Signal(s) = outbox_row(r)? {
                out.push(s);
            }
        }
        Ok(out)
    }
    fn outbox_backlog(&self) -> Result<(i64, i64)> {
        let r = self.query_one(
            "SELECT count(*), count(last_error) FROM outbox
             WHERE delivered_at IS NULL AND acked_at IS NULL AND dropped_at IS NULL",
            &[],
        )?;
        Ok((r.get(0), r.get(1)))
    }
    fn ack(&self, id: i64, at: DateTime<Utc>) -> Result<bool> {
        Ok(self.execute(
            "UPDATE outbox SET acked_at = coalesce(acked_at, $2) WHERE id = $1",
            &[&id, &micros(at)],
        )? > 0)
    }
    fn put_person(&self, p: &Person) -> Result<()> {
        p.validate()?;
        self.execute(
            "INSERT INTO people (id, name, email, org, roles, attributes) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET name = $2, email = $3, org = $4, roles = $5, attributes = $6",
            &[
                &p.id,
                &p.name,
                &p.email,
                &p.org,
                &serde_json::to_string(&p.roles)?,
                &serde_json::to_string(&p.attributes)?,
            ],
        )?;
        self.execute("DELETE FROM person_roles WHERE person = $1", &[&p.id])?;
        let org = p.org.clone().unwrap_or_default();
        for r in &p.roles {
            self.execute(
                "INSERT INTO person_roles (org, role, person) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                &[&org, r, &p.id],
            )?;
        }
        self.bump_directory()
    }
    fn get_person(&self, id: &str) -> Result<Option<Person>> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM people WHERE id = $1");
        self.query_opt(&sql, &[&id])?
            .as_ref()
            .map(person_row)
            .transpose()
    }
    fn people_by_email(&self, email: &str) -> Result<Vec<Person>> {
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE lower(email) = lower($1) ORDER BY id"
        );
        self.query(&sql, &[&email.trim()])?
            .iter()
            .map(person_row)
            .collect()
    }
    fn list_people(&self, org: Option<&str>) -> Result<Vec<Person>> {
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM people WHERE ($1::text IS NULL OR org = $1) ORDER BY id"
        );
        self.query(&sql, &[&org])?.iter().map(person_row).collect()
    }
    fn remove_person(&self, id: &str) -> Result<bool> {
        self.execute("DELETE FROM person_roles WHERE person = $1", &[&id])?;
        let n = self.execute("DELETE FROM people WHERE id = $1", &[&id])?;
        self.bump_directory()?;
        Ok(n > 0)
    }
    fn put_org(&self, o: &Org) -> Result<()> {
        check_id("organisation", &o.id)?;
        o.calendar()?;
        self.execute(
            "INSERT INTO orgs (id, name, timezone, weekend, holidays, settings) VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (id) DO UPDATE SET name = $2, timezone = $3, weekend = $4, holidays = $5, settings = $6",
            &[
                &o.id,
                &o.name,
                &o.timezone,
                &serde_json::to_string(&o.weekend)?,
                &serde_json::to_string(&o.holidays)?,
                &serde_json::to_string(&o.settings)?,
            ],
        )?;
        self.bump_directory()
    }
    fn get_org(&self, id: &str) -> Result<Option<Org>> {
        self.query_opt(
            "SELECT id, name, timezone, weekend, holidays, settings FROM orgs WHERE id = $1",
            &[&id],
        )?
        .as_ref()
        .map(org_row)
        .transpose()
    }
    fn list_orgs(&self) -> Result<Vec<Org>> {
        self.query(
            "SELECT id, name, timezone, weekend, holidays, settings FROM orgs ORDER BY id",
            &[],
        )?
        .iter()
        .map(org_row)
        .collect()
    }
    fn remove_org(&self, id: &str) -> Result<bool> {
        let n = self.execute("DELETE FROM orgs WHERE id = $1", &[&id])?;
        self.bump_directory()?;
        Ok(n > 0)
    }
    fn insert_token(
        &self,
        hash: &str,
        purpose: &str,
        person: &str,
        payload: &Value,
        at: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO auth_tokens (hash, purpose, person, payload, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &hash,
                &purpose,
                &person,
                &serde_json::to_string(payload)?,
                &micros(at),
                &micros(expires),
            ],
        )?;
        Ok(())
    }
    fn token(&self, hash: &str) -> Result<Option<TokenRow>> {
        self.query_opt(
            "SELECT purpose, person, payload, created_at, expires_at, used_at FROM auth_tokens WHERE hash = $1",
            &[&hash],
        )?
        .map(|r| {
            Ok(TokenRow {
                purpose: r.get(0),
                person: r.get(1),
                payload: serde_json::from_str(r.get::<_, &str>(2))?,
                created_at: instant(r.get(3)),
                expires_at: instant(r.get(4)),
                used_at: r.get::<_, Option<i64>>(5).map(instant),
            })
        })
        .transpose()
    }
    fn use_token(&self, hash: &str, at: DateTime<Utc>) -> Result<bool> {
        Ok(self.execute(
            "UPDATE auth_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL",
            &[&hash, &micros(at)],
        )? == 1)
    }
    fn insert_credential(
        &self,
        hash: &str,
        kind: &str,
        person: &str,
        name: &str,
        at: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO credentials (hash, kind, person, name, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &hash,
                &kind,
                &person,
                &name,
                &micros(at),
                &expires.map(micros),
            ],
        )?;
        Ok(())
    }
    fn credential(&self, hash: &str) -> Result<Option<CredentialRow>> {
        Ok(self
            .query_opt(
                "SELECT kind, person, name, created_at, expires_at, last_used_at, hash FROM credentials WHERE hash = $1",
                &[&hash],
            )?
            .map(|r| credential_row(&r).1))
    }
    fn credentials_of(&self, person: &str, kind: &str) -> Result<Vec<(String, CredentialRow)>> {
        Ok(self
            .query(
                "SELECT kind, person, name, created_at, expires_at, last_used_at, hash FROM credentials
                 WHERE person = $1 AND kind = $2 ORDER BY created_at DESC, hash",
                &[&person, &kind],
            )?
            .iter()
            .map(credential_row)
            .collect())
    }
    fn touch_credential(
        &self,
        hash: &str,
        at: DateTime<Utc>,
        expires: Option<DateTime<Utc>>,
    ) -> Result<()> {
        self.execute(
            "UPDATE credentials SET last_used_at = $2, expires_at = coalesce($3, expires_at) WHERE hash = $1",
            &[&hash, &micros(at), &expires.map(micros)],
        )?;
        Ok(())
    }
    fn delete_credential(&self, hash: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM credentials WHERE hash = $1", &[&hash])? > 0)
    }
    fn delete_credentials_of(&self, person: &str, kind: Option<&str>) -> Result<usize> {
        Ok(self.execute(
            "DELETE FROM credentials WHERE person = $1 AND ($2::text IS NULL OR kind = $2)",
            &[&person, &kind],
        )? as usize)
    }
    fn set_password(&self, person: &str, hash: &str, at: DateTime<Utc>) -> Result<()> {
        self.execute(
            "INSERT INTO passwords (person, hash, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (person) DO UPDATE SET hash = $2, updated_at = $3",
            &[&person, &hash, &micros(at)],
        )?;
        Ok(())
    }
    fn password(&self, person: &str) -> Result<Option<String>> {
        Ok(self
            .query_opt("SELECT hash FROM passwords WHERE person = $1", &[&person])?
            .map(|r| r.get(0)))
    }
    fn delete_password(&self, person: &str) -> Result<bool> {
        Ok(self.execute("DELETE FROM passwords WHERE person = $1", &[&person])? > 0)
    }
    fn purge(&self, now: DateTime<Utc>, keys_before: DateTime<Utc>) -> Result<usize> {
        let now = micros(now);
        let mut n = self.execute(
            "DELETE FROM auth_tokens WHERE expires_at <= $1 OR used_at IS NOT NULL",
            &[&now],
        )?;
        n += self.execute(
            "DELETE FROM credentials WHERE expires_at IS NOT NULL AND expires_at <= $1",
            &[&now],
        )?;
        n += self.execute(
            "DELETE FROM idempotency WHERE at < $1",
            &[&micros(keys_before)],
        )?;
        Ok(n as usize)
    }
    fn idempotency(&self, actor: &str, key: &str) -> Result<Option<(String, i64)>> {
        Ok(self
            .query_opt(
                "SELECT fingerprint, case_id FROM idempotency WHERE actor = $1 AND key = $2",
                &[&actor, &key],
            )?
            .map(|r| (r.get(0), r.get(1))))
    }
    fn remember_idempotency(
        &self,
        actor: &str,
        key: &str,
        fingerprint: &str,
        case_id: i64,
        at: DateTime<Utc>,
    ) -> Result<()> {
        self.execute(
            "INSERT INTO idempotency (actor, key, fingerprint, case_id, at) VALUES ($1, $2, $3, $4, $5)",
            &[&actor, &key, &fingerprint, &case_id, &micros(at)],
        )?;
        Ok(())
    }
    fn export_rows(&self, table: &str, order: &str) -> Result<super::copy::Rows> {
        use postgres::types::Type;
        let rows = self.query(&format!("SELECT * FROM {table} ORDER BY {order}"), &[])?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut m = Map::new();
            for (i, c) in r.columns().iter().enumerate() {
                let v = match *c.type_() {
                    Type::INT8 => r.get::<_, Option<i64>>(i).map(Value::from),
                    Type::INT4 => r.get::<_, Option<i32>>(i).map(Value::from),
                    Type::BOOL => r
                        .get::<_, Option<bool>>(i)
                        .map(|b| Value::from(i64::from(b))),
                    Type::FLOAT8 => r.get::<_, Option<f64>>(i).map(Value::from),
                    Type::TEXT | Type::VARCHAR => r.get::<_, Option<String>>(i).map(Value::from),
                    // `events.tx`, `outbox.tx`: the writing transaction, the target's own
                    Type::XID8 => continue,
                    ref other => {
                        return Err(Error::storage(format!(
                            "table {table}, column {}: type {other} is not one mentorflow writes",
                            c.name()
                        )))
                    }
                };
                m.insert(c.name().to_owned(), v.unwrap_or(Value::Null));
            }
            out.push(m);
        }
        Ok(out)
    }
    fn count_rows(&self, table: &str) -> Result<i64> {
        self.count(&format!("SELECT count(*) FROM {table}"), &[])
    }
    fn import_rows(&self, table: &str, rows: &super::copy::Rows) -> Result<()> {
        use postgres::types::Type;
        for row in rows {
            let columns: Vec<&str> = row.keys().map(String::as_str).collect();
            let marks: Vec<String> = (1..=columns.len()).map(|i| format!("${i}")).collect();
            let sql = format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                columns.join(", "),
                marks.join(", ")
            );
            let types: Vec<Type> = {
                let mut c = self.conn.borrow_mut();
                self.statement(&mut c, &sql)?.params().to_vec()
            };
            let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(types.len());
            for ((name, v), ty) in row.iter().zip(&types) {
                let bad = || {
                    Error::storage(format!(
                        "table {table}, column {name}: {v} does not fit type {ty}"
                    ))
                };
                let int = || match v {
                    Value::Null => Ok(None),
                    Value::Bool(b) => Ok(Some(i64::from(*b))),
                    Value::Number(n) => n.as_i64().map(Some).ok_or_else(bad),
                    _ => Err(bad()),
                };
                values.push(match *ty {
                    Type::INT8 => Box::new(int()?),
                    Type::INT4 => {
                        Box::new(int()?.map(i32::try_from).transpose().map_err(|_| bad())?)
                    }
                    Type::BOOL => Box::new(int()?.map(|i| i != 0)),
                    Type::FLOAT8 => Box::new(match v {
                        Value::Null => None,
                        Value::Number(n) => Some(n.as_f64().ok_or_else(bad)?),
                        _ => return Err(bad()),
                    }),
                    Type::TEXT | Type::VARCHAR => Box::new(match v {
                        Value::Null => None,
                        Value::String(s) => Some(s.clone()),
                        _ => return Err(bad()),
                    }),
                    _ => return Err(bad()),
                });
            }
            let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|b| &**b).collect();
            self.execute(&sql, &params)?;
        }
        Ok(())
    }
    fn after_import(&self) -> Result<()> {
        for table in ["cases", "events", "timers", "incidents", "outbox"] {
            self.query(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), coalesce(max(id), 0) + 1, false) FROM {table}"
                ),
                &[],
            )?;
        }
        self.bump_directory()
    }
    fn savepoint(&self, f: &mut dyn FnMut() -> Result<()>) -> Result<()> {
        self.batch("SAVEPOINT firing")?;
        match f() {
            Ok(()) => self.batch("RELEASE SAVEPOINT firing"),
            Err(e) => {
                self.batch("ROLLBACK TO SAVEPOINT firing; RELEASE SAVEPOINT firing")?;
                Err(e)
            }
        }
    }
}
