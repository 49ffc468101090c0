//! The SQL of what front ends such as the portal keep through the engine: single-use tokens,
//! credentials (sessions and API tokens), password hashes and idempotency keys. Every secret
//! arrives here already hashed ([`crate::auth`] hashes it); nothing here can give one back.

use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::Value;

use super::{instant, micros};
use crate::error::Result;
use crate::store::{CredentialRow, TokenRow};

pub(crate) fn insert_token(
    db: &Connection,
    hash: &str,
    purpose: &str,
    person: &str,
    payload: &Value,
    at: DateTime<Utc>,
    expires: DateTime<Utc>,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO auth_tokens (hash, purpose, person, payload, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        hash,
        purpose,
        person,
        serde_json::to_string(payload)?,
        micros(at),
        micros(expires)
    ])?;
    Ok(())
}

pub(crate) fn token(db: &Connection, hash: &str) -> Result<Option<TokenRow>> {
    let raw = db
        .prepare_cached(
            "SELECT purpose, person, payload, created_at, expires_at, used_at FROM auth_tokens WHERE hash = ?1",
        )?
        .query_row(params![hash], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, Option<i64>>(5)?,
            ))
        })
        .optional()?;
    raw.map(|(purpose, person, payload, c, e, u)| {
        Ok(TokenRow {
            purpose,
            person,
            payload: serde_json::from_str(&payload)?,
            created_at: instant(c),
            expires_at: instant(e),
            used_at: u.map(instant),
        })
    })
    .transpose()
}

/// Mark a token used, if it was not. Returns whether this call used it.
pub(crate) fn use_token(db: &Connection, hash: &str, at: DateTime<Utc>) -> Result<bool> {
    Ok(db
        .prepare_cached("UPDATE auth_tokens SET used_at = ?2 WHERE hash = ?1 AND used_at IS NULL")?
        .execute(params![hash, micros(at)])?
        == 1)
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn insert_credential(
    db: &Connection,
    hash: &str,
    kind: &str,
    person: &str,
    name: &str,
    at: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO credentials (hash, kind, person, name, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        hash,
        kind,
        person,
        name,
        micros(at),
        expires.map(micros)
    ])?;
    Ok(())
}

const CREDENTIAL_COLUMNS: &str = "kind, person, name, created_at, expires_at, last_used_at";

fn credential_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, CredentialRow)> {
    Ok((
        r.get(6)?,
        CredentialRow {
            kind: r.get(0)?,
            person: r.get(1)?,
            name: r.get(2)?,
            created_at: instant(r.get(3)?),
            expires_at: r.get::<_, Option<i64>>(4)?.map(instant),
            last_used_at: r.get::<_, Option<i64>>(5)?.map(instant),
        },
    ))
}

pub(crate) fn credential(db: &Connection, hash: &str) -> Result<Option<CredentialRow>> {
    let sql = format!("SELECT {CREDENTIAL_COLUMNS}, hash FROM credentials WHERE hash = ?1");
    Ok(db
        .prepare_cached(&sql)?
        .query_row(params![hash], credential_row)
        .optional()?
        .map(|(_, c)| c))
}

/// A person's credentials of a kind, newest first, with their hashes (the handle to revoke).
pub(crate) fn credentials_of(
    db: &Connection,
    person: &str,
    kind: &str,
) -> Result<Vec<(String, CredentialRow)>> {
    let sql = format!(
        "SELECT {CREDENTIAL_COLUMNS}, hash FROM credentials WHERE person = ?1 AND kind = ?2 ORDER BY created_at DESC, hash"
    );
    let mut stmt = db.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![person, kind], credential_row)?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// Record a use; sliding credentials also move their expiry.
pub(crate) fn touch_credential(
    db: &Connection,
    hash: &str,
    at: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
) -> Result<()> {
    db.prepare_cached(
        "UPDATE credentials SET last_used_at = ?2, expires_at = coalesce(?3, expires_at) WHERE hash = ?1",
    )?
    .execute(params![hash, micros(at), expires.map(micros)])?;
    Ok(())
}

pub(crate) fn delete_credential(db: &Connection, hash: &str) -> Result<bool> {
    Ok(db
        .prepare_cached("DELETE FROM credentials WHERE hash = ?1")?
        .execute(params![hash])?
        > 0)
}

/// Remove every credential of a person (of one kind, or all).
pub(crate) fn delete_credentials_of(
    db: &Connection,
    person: &str,
    kind: Option<&str>,
) -> Result<usize> {
    Ok(db
        .prepare_cached("DELETE FROM credentials WHERE person = ?1 AND (?2 IS NULL OR kind = ?2)")?
        .execute(params![person, kind])?)
}

pub(crate) fn set_password(
    db: &Connection,
    person: &str,
    hash: &str,
    at: DateTime<Utc>,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO passwords (person, hash, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (person) DO UPDATE SET hash = ?2, updated_at = ?3",
    )?
    .execute(params![person, hash, micros(at)])?;
    Ok(())
}

pub(crate) fn password(db: &Connection, person: &str) -> Result<Option<String>> {
    Ok(db
        .prepare_cached("SELECT hash FROM passwords WHERE person = ?1")?
        .query_row(params![person], |r| r.get(0))
        .optional()?)
}

pub(crate) fn delete_password(db: &Connection, person: &str) -> Result<bool> {
    Ok(db
        .prepare_cached("DELETE FROM passwords WHERE person = ?1")?
        .execute(params![person])?
        > 0)
}

/// Drop used or expired tokens, expired credentials and idempotency keys older than
/// `keys_before`. Returns how many rows went.
pub(crate) fn purge(
    db: &Connection,
    now: DateTime<Utc>,
    keys_before: DateTime<Utc>,
) -> Result<usize> {
    let now = micros(now);
    let mut n = db
        .prepare_cached("DELETE FROM auth_tokens WHERE expires_at <= ?1 OR used_at IS NOT NULL")?
        .execute(params![now])?;
    n += db
        .prepare_cached(
            "DELETE FROM credentials WHERE expires_at IS NOT NULL AND expires_at <= ?1",
        )?
        .execute(params![now])?;
    n += db
        .prepare_cached("DELETE FROM idempotency WHERE at < ?1")?
        .execute(params![micros(keys_before)])?;
    Ok(n)
}

/// The command an idempotency key was first used for: its fingerprint and case.
pub(crate) fn idempotency(
    db: &Connection,
    actor: &str,
    key: &str,
) -> Result<Option<(String, i64)>> {
    Ok(db
        .prepare_cached(
            "SELECT fingerprint, case_id FROM idempotency WHERE actor = ?1 AND key = ?2",
        )?
        .query_row(params![actor, key], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?)
}

pub(crate) fn remember_idempotency(
    db: &Connection,
    actor: &str,
    key: &str,
    fingerprint: &str,
    case_id: i64,
    at: DateTime<Utc>,
) -> Result<()> {
    db.prepare_cached(
        "INSERT INTO idempotency (actor, key, fingerprint, case_id, at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![actor, key, fingerprint, case_id, micros(at)])?;
    Ok(())
}
