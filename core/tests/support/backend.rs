//! The backend a conformance suite runs on. By default each engine gets a private in-memory
//! SQLite database. When `MENTORFLOW_TEST_POSTGRES` holds a PostgreSQL URL (tests/pg.sh
//! starts a throwaway server and sets it), each engine gets a fresh, empty schema on that
//! server instead, named in the URL by `options=-csearch_path=…`: the same tests, the same
//! assertions, the other backend.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::atomic::{AtomicU64, Ordering};

use mentorflow::EngineBuilder;

/// The server the suites run against, if any.
pub fn postgres_url() -> Option<String> {
    std::env::var("MENTORFLOW_TEST_POSTGRES")
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// A URL naming a new empty schema on the test server.
pub fn fresh_postgres(base: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let schema = format!("t{}_{}_{}", std::process::id(), nanos, n);
    let mut client = postgres::Client::connect(base, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot reach the test server {base}: {e}"));
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// A fresh database for one engine: in-memory SQLite, or a new PostgreSQL schema.
pub fn fresh_database() -> String {
    match postgres_url() {
        Some(base) => fresh_postgres(&base),
        None => ":memory:".to_owned(),
    }
}

/// `builder.fresh()`: the suite's backend for this engine.
pub trait Fresh {
    /// A fresh, empty database on the suite's backend.
    fn fresh(self) -> Self;
}

impl Fresh for EngineBuilder {
    fn fresh(self) -> Self {
        match postgres_url() {
            Some(base) => self.database(fresh_postgres(&base)),
            None => self.in_memory(),
        }
    }
}
