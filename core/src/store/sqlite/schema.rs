//! The SQLite schema: a version constant, the full current schema for new files, and one
//! upgrade step per older version, tracked in `PRAGMA user_version`.

use rusqlite::Connection;

use crate::error::{Error, Result};

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = 9;

/// The full current schema, for new databases.
pub(crate) const CURRENT: &str = r#"
CREATE TABLE definitions (
    workflow    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    file        TEXT NOT NULL,
    source      TEXT NOT NULL,
    deployed_at INTEGER NOT NULL,
    PRIMARY KEY (workflow, version)
) WITHOUT ROWID;

CREATE TABLE orgs (
    id       TEXT PRIMARY KEY,
    name     TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    weekend  TEXT NOT NULL DEFAULT '["Sat","Sun"]',
    holidays TEXT NOT NULL DEFAULT '[]',
    settings TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE people (
    id         TEXT PRIMARY KEY,
    name       TEXT,
    email      TEXT,
    org        TEXT,
    roles      TEXT NOT NULL DEFAULT '[]',
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX people_by_org ON people (org, id);

CREATE TABLE person_roles (
    org    TEXT NOT NULL,
    role   TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (org, role, person)
) WITHOUT ROWID;
CREATE INDEX person_roles_by_person ON person_roles (person);

CREATE TABLE cases (
    id           INTEGER PRIMARY KEY,
    workflow     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    org          TEXT NOT NULL,
    state        TEXT NOT NULL,
    open         INTEGER NOT NULL,
    data         TEXT NOT NULL,
    participants TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    parent       INTEGER REFERENCES cases (id),
    suspended    TEXT,
    cancelled    TEXT,
    FOREIGN KEY (workflow, version) REFERENCES definitions (workflow, version)
);

CREATE TABLE participants (
    person  TEXT NOT NULL,
    role    TEXT NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    since   INTEGER NOT NULL,
    PRIMARY KEY (person, role, case_id)
) WITHOUT ROWID;

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    inputs     TEXT NOT NULL,
    effects    TEXT NOT NULL,
    UNIQUE (case_id, seq)
);

CREATE TABLE timers (
    id      INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    state   TEXT NOT NULL,
    name    TEXT NOT NULL,
    due_at  INTEGER NOT NULL,
    anchor  INTEGER NOT NULL,
    fired   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (case_id, name)
);
CREATE INDEX timers_by_due ON timers (due_at, id);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER,
    kind         TEXT NOT NULL,
    recipient    TEXT,
    template     TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    acked_at     INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    dropped_at   INTEGER
);
CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_by_case ON outbox (case_id, id);

CREATE TABLE cursors (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);

CREATE TABLE assignments (
    person   TEXT NOT NULL,
    role     TEXT NOT NULL,
    workflow TEXT NOT NULL,
    case_id  INTEGER NOT NULL,
    at       INTEGER NOT NULL
);
CREATE INDEX assignments_by_person ON assignments (person, role, workflow, at);

CREATE TABLE auth_tokens (
    hash       TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    person     TEXT NOT NULL,
    payload    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX auth_tokens_by_expiry ON auth_tokens (expires_at);

CREATE TABLE credentials (
    hash         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    person       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX credentials_by_person ON credentials (person, kind);

CREATE TABLE passwords (
    person     TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE idempotency (
    actor       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    case_id     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_age ON idempotency (at);

CREATE INDEX cases_by_org_state_updated ON cases (workflow, org, state, updated_at);
CREATE INDEX people_by_email ON people (email COLLATE NOCASE);
CREATE INDEX participants_by_case ON participants (case_id, role, since);
CREATE INDEX outbox_by_recipient ON outbox (recipient, id);

-- Per-consumer delivery (issue 15): each registered hook ("consumer") reads the outbox through
-- its own cursor, and a row it failed on gets a delivery row with its own attempts, error and
-- next attempt time; a row an operator dropped is left out of the backlog.
CREATE TABLE deliveries (
    outbox_id       INTEGER NOT NULL REFERENCES outbox (id),
    consumer        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    first_failed_at INTEGER,
    last_attempt_at INTEGER,
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    PRIMARY KEY (outbox_id, consumer)
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries (consumer, next_attempt_at) WHERE status = 'retry';
CREATE INDEX deliveries_by_status ON deliveries (status, outbox_id);

-- Incidents (schema step 7, issue 15): a timer firing that failed, retried with backoff, then
-- left open for a person; one open incident per case and timer.
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    case_id         INTEGER NOT NULL REFERENCES cases (id),
    kind            TEXT NOT NULL,
    state           TEXT NOT NULL,
    timer           TEXT NOT NULL,
    anchor          INTEGER NOT NULL,
    fired           INTEGER NOT NULL,
    code            TEXT NOT NULL,
    error           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    first_at        INTEGER NOT NULL,
    last_at         INTEGER NOT NULL,
    next_attempt_at INTEGER,
    resolved_at     INTEGER,
    resolved_by     TEXT,
    note            TEXT
);
CREATE UNIQUE INDEX incidents_open ON incidents (case_id, timer) WHERE status = 'open';
CREATE INDEX incidents_by_status ON incidents (status, id);
CREATE INDEX incidents_due ON incidents (next_attempt_at) WHERE status = 'open';

-- The write path (schema step 9, issue 19): suspended cases, few, for the timer sweep's due
-- query (it leaves their timers alone).
CREATE INDEX cases_suspended ON cases (id) WHERE suspended IS NOT NULL;
-- The audit log (schema step 8, issue 15): who changed what outside the cases' history
-- (deploys, organisations, people, operator controls, forgetting, retention), before and
-- after as JSON.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    before  TEXT NOT NULL,
    after   TEXT NOT NULL,
    reason  TEXT
);
CREATE INDEX audit_by_at ON audit (at, id);
CREATE INDEX audit_by_kind ON audit (kind, id);
CREATE INDEX audit_by_subject ON audit (subject, id);
"#;

/// Schema version 1, frozen: what the first release wrote. Kept for the upgrade test.
pub const V1: &str = r#"
CREATE TABLE definitions (
    workflow    TEXT NOT NULL,
    version     INTEGER NOT NULL,
    hash        TEXT NOT NULL,
    file        TEXT NOT NULL,
    source      TEXT NOT NULL,
    deployed_at INTEGER NOT NULL,
    PRIMARY KEY (workflow, version)
) WITHOUT ROWID;

CREATE TABLE orgs (
    id       TEXT PRIMARY KEY,
    name     TEXT,
    timezone TEXT NOT NULL DEFAULT 'UTC',
    weekend  TEXT NOT NULL DEFAULT '["Sat","Sun"]',
    holidays TEXT NOT NULL DEFAULT '[]',
    settings TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE people (
    id         TEXT PRIMARY KEY,
    name       TEXT,
    email      TEXT,
    org        TEXT,
    roles      TEXT NOT NULL DEFAULT '[]',
    attributes TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX people_by_org ON people (org, id);

CREATE TABLE person_roles (
    org    TEXT NOT NULL,
    role   TEXT NOT NULL,
    person TEXT NOT NULL,
    PRIMARY KEY (org, role, person)
) WITHOUT ROWID;
CREATE INDEX person_roles_by_person ON person_roles (person);

CREATE TABLE cases (
    id           INTEGER PRIMARY KEY,
    workflow     TEXT NOT NULL,
    version      INTEGER NOT NULL,
    org          TEXT NOT NULL,
    state        TEXT NOT NULL,
    open         INTEGER NOT NULL,
    data         TEXT NOT NULL,
    participants TEXT NOT NULL,
    revision     INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    parent       INTEGER REFERENCES cases (id),
    FOREIGN KEY (workflow, version) REFERENCES definitions (workflow, version)
);
CREATE INDEX cases_by_org_state ON cases (workflow, org, state);

CREATE TABLE participants (
    person  TEXT NOT NULL,
    role    TEXT NOT NULL,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    since   INTEGER NOT NULL,
    PRIMARY KEY (person, role, case_id)
) WITHOUT ROWID;

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    case_id    INTEGER NOT NULL REFERENCES cases (id),
    seq        INTEGER NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    inputs     TEXT NOT NULL,
    effects    TEXT NOT NULL,
    UNIQUE (case_id, seq)
);

CREATE TABLE timers (
    id      INTEGER PRIMARY KEY,
    case_id INTEGER NOT NULL REFERENCES cases (id),
    state   TEXT NOT NULL,
    name    TEXT NOT NULL,
    due_at  INTEGER NOT NULL,
    anchor  INTEGER NOT NULL,
    fired   INTEGER NOT NULL DEFAULT 0,
    UNIQUE (case_id, name)
);
CREATE INDEX timers_by_due ON timers (due_at, id);

CREATE TABLE outbox (
    id           INTEGER PRIMARY KEY,
    case_id      INTEGER,
    kind         TEXT NOT NULL,
    recipient    TEXT,
    template     TEXT NOT NULL,
    subject      TEXT NOT NULL DEFAULT '',
    body         TEXT NOT NULL DEFAULT '',
    data         TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER,
    acked_at     INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT
);
CREATE INDEX outbox_undelivered ON outbox (id) WHERE delivered_at IS NULL;
CREATE INDEX outbox_by_case ON outbox (case_id, id);

CREATE TABLE cursors (
    name     TEXT PRIMARY KEY,
    position INTEGER NOT NULL
);
"#;

/// Upgrade steps: `UPGRADES[i]` takes a database from version `i + 1` to `i + 2`.
const UPGRADES: &[&str] = &[
    // 1 → 2: a log of role grants, so that capacity rules ("at most N requests a week") can
    // count assignments that were later removed.
    r#"
    CREATE TABLE assignments (
        person   TEXT NOT NULL,
        role     TEXT NOT NULL,
        workflow TEXT NOT NULL,
        case_id  INTEGER NOT NULL,
        at       INTEGER NOT NULL
    );
    CREATE INDEX assignments_by_person ON assignments (person, role, workflow, at);
    INSERT INTO assignments (person, role, workflow, case_id, at)
        SELECT p.person, p.role, c.workflow, p.case_id, p.since
        FROM participants p JOIN cases c ON c.id = p.case_id;
    "#,
    // 2 → 3: the portal's sign-in material (single-use tokens, sessions and API tokens,
    // password hashes; hashes only, never secrets), idempotency keys of commands, and an
    // index for paged directory-role views sorted by last change.
    r#"
CREATE TABLE auth_tokens (
    hash       TEXT PRIMARY KEY,
    purpose    TEXT NOT NULL,
    person     TEXT NOT NULL,
    payload    TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
) WITHOUT ROWID;
CREATE INDEX auth_tokens_by_expiry ON auth_tokens (expires_at);

CREATE TABLE credentials (
    hash         TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    person       TEXT NOT NULL,
    name         TEXT NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER
) WITHOUT ROWID;
CREATE INDEX credentials_by_person ON credentials (person, kind);

CREATE TABLE passwords (
    person     TEXT PRIMARY KEY,
    hash       TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE idempotency (
    actor       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    case_id     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (actor, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_age ON idempotency (at);

CREATE INDEX cases_by_org_state_updated ON cases (workflow, org, state, updated_at);
CREATE INDEX people_by_email ON people (email COLLATE NOCASE);
    "#,
    // 3 → 4: every per-case read an indexed lookup (issue 18): a case's participants, and a
    // person's notifications.
    r#"
CREATE INDEX participants_by_case ON participants (case_id, role, since);
CREATE INDEX outbox_by_recipient ON outbox (recipient, id);
    "#,
    // 4 → 5: per-consumer outbox delivery (see the current schema).
    r#"
-- Per-consumer delivery (issue 15): each registered hook ("consumer") reads the outbox through
-- its own cursor, and a row it failed on gets a delivery row with its own attempts, error and
-- next attempt time; a row an operator dropped is left out of the backlog.
ALTER TABLE outbox ADD COLUMN dropped_at INTEGER;
CREATE TABLE deliveries (
    outbox_id       INTEGER NOT NULL REFERENCES outbox (id),
    consumer        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    first_failed_at INTEGER,
    last_attempt_at INTEGER,
    next_attempt_at INTEGER,
    delivered_at    INTEGER,
    PRIMARY KEY (outbox_id, consumer)
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries (consumer, next_attempt_at) WHERE status = 'retry';
CREATE INDEX deliveries_by_status ON deliveries (status, outbox_id);
    "#,
    // 5 → 6: nothing on SQLite. PostgreSQL's step 6 records the transaction of each history
    // event so that event consumers never pass one that commits late; SQLite has one writer,
    // so its event ids commit in order and a "last id seen" cursor is already safe. The step
    // keeps both backends' version numbers the same.
    "SELECT 1;",
    // 6 → 7: operator controls and incidents (issue 15; see the current schema).
    r#"
-- Operator controls (schema step 7, issue 15): a case an operator suspended or cancelled
-- carries who, when and why (JSON); its timers wait while `suspended` is set.
ALTER TABLE cases ADD COLUMN suspended TEXT;
ALTER TABLE cases ADD COLUMN cancelled TEXT;
-- Incidents (schema step 7, issue 15): a timer firing that failed, retried with backoff, then
-- left open for a person; one open incident per case and timer.
CREATE TABLE incidents (
    id              INTEGER PRIMARY KEY,
    case_id         INTEGER NOT NULL REFERENCES cases (id),
    kind            TEXT NOT NULL,
    state           TEXT NOT NULL,
    timer           TEXT NOT NULL,
    anchor          INTEGER NOT NULL,
    fired           INTEGER NOT NULL,
    code            TEXT NOT NULL,
    error           TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    status          TEXT NOT NULL,
    first_at        INTEGER NOT NULL,
    last_at         INTEGER NOT NULL,
    next_attempt_at INTEGER,
    resolved_at     INTEGER,
    resolved_by     TEXT,
    note            TEXT
);
CREATE UNIQUE INDEX incidents_open ON incidents (case_id, timer) WHERE status = 'open';
CREATE INDEX incidents_by_status ON incidents (status, id);
CREATE INDEX incidents_due ON incidents (next_attempt_at) WHERE status = 'open';
    "#,
    // 7 → 8: the audit log (issue 15; see the current schema).
    r#"
-- The audit log (schema step 8, issue 15): who changed what outside the cases' history
-- (deploys, organisations, people, operator controls, forgetting, retention), before and
-- after as JSON.
CREATE TABLE audit (
    id      INTEGER PRIMARY KEY,
    at      INTEGER NOT NULL,
    actor   TEXT NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT NOT NULL,
    before  TEXT NOT NULL,
    after   TEXT NOT NULL,
    reason  TEXT
);
CREATE INDEX audit_by_at ON audit (at, id);
CREATE INDEX audit_by_kind ON audit (kind, id);
CREATE INDEX audit_by_subject ON audit (subject, id);
    "#,
    // 8 → 9: the write path (issue 19). `cases_by_org_state` is dropped: every column of it
    // leads `cases_by_org_state_updated`, which serves the same lookups, and every step that
    // changes a case's state paid for both. `cases_suspended` holds only suspended cases, so
    // the timer sweep reads the few cases whose timers wait once per batch instead of looking
    // up every due timer's case.
    r#"
DROP INDEX IF EXISTS cases_by_org_state;
CREATE INDEX IF NOT EXISTS cases_suspended ON cases (id) WHERE suspended IS NOT NULL;
    "#,
];

/// Bring a database to [`SCHEMA_VERSION`]: create it when empty, upgrade it step by step when
/// older, refuse it when newer.
pub(crate) fn migrate(db: &mut Connection) -> Result<()> {
    let version: i64 = db.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(Error::storage(format!(
            "the database has schema version {version}, newer than this mentorflow (version {SCHEMA_VERSION}); upgrade mentorflow to open it"
        )));
    }
    if version == SCHEMA_VERSION {
        return Ok(());
    }
    let tx = db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    // Re-read inside the write lock: another process may have migrated meanwhile.
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version == 0 {
        let tables: i64 = tx.query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )?;
        if tables > 0 {
            return Err(Error::storage(
                "the file is an SQLite database, but not a mentorflow one (it has tables and no schema version)",
            ));
        }
        tx.execute_batch(CURRENT)?;
    } else if version < SCHEMA_VERSION {
        for step in &UPGRADES[(version as usize - 1)..] {
            tx.execute_batch(step)?;
        }
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION)?;
    tx.commit()?;
    Ok(())
}
