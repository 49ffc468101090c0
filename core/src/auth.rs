//! Sign-in material that front ends (the portal) keep through the engine: single-use,
//! expiring, purpose-bound tokens with a small JSON payload (sign-in links, password-set
//! links, e-mail action links), credentials (browser sessions and API tokens), and password
//! hashes. Only hashes are stored: a secret is chosen by the caller (random, at least
//! [`MIN_SECRET_LEN`] characters), handed to the person, and hashed here with SHA-256 before
//! it reaches the database; a password hash (argon2id, computed by the caller) is stored as
//! given, in its PHC string form.
//!
//! The engine decides nothing about who may sign in: a token or credential names a person of
//! the directory, and every command is then done as that person through the ordinary checks.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::store::{CredentialRow, TokenRow};
use crate::Person;

/// The shortest secret accepted for a token or credential.
pub const MIN_SECRET_LEN: usize = 20;

/// The largest token payload, in bytes of JSON.
pub const MAX_PAYLOAD: usize = 4096;

/// How long idempotency keys are kept: a retry within this time returns the first result.
pub const IDEMPOTENCY_WINDOW: Duration = Duration::days(7);

/// A used credential's `last_used_at` (and sliding expiry) is written at most this often, so
/// that reading pages does not take the write lock on every request.
const TOUCH_EVERY: Duration = Duration::seconds(60);

/// The stored form of a secret: SHA-256, hex.
pub fn hash_secret(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn checked_hash(secret: &str) -> Result<String> {
    if secret.len() < MIN_SECRET_LEN {
        return Err(Error::validation(
            "secret",
            format!("a secret must be at least {MIN_SECRET_LEN} characters (use a random one)"),
        ));
    }
    Ok(hash_secret(secret))
}

/// A single-use token, as redeemed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Token {
    /// What it is for (`sign_in`, `set_password`, `action`…); redeeming checks it.
    pub purpose: String,
    /// The person it signs in or acts for.
    pub person: String,
    /// The caller's small JSON payload (where to go next, which action…).
    pub payload: Value,
    /// When it was issued.
    pub created_at: DateTime<Utc>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// What a credential is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// A browser session (a cookie).
    Session,
    /// An API token (a bearer header).
    ApiToken,
}

impl CredentialKind {
    fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Session => "session",
            CredentialKind::ApiToken => "api_token",
        }
    }
}

/// A session or an API token. `id` is its stored hash: safe to show and to revoke by, and
/// useless as a secret.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Credential {
    /// The handle (the secret's hash).
    pub id: String,
    /// Session or API token.
    pub kind: CredentialKind,
    /// The person it acts as.
    pub person: String,
    /// A name for people ("laptop", "reporting script").
    pub name: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it stops working (`None`: until revoked).
    pub expires_at: Option<DateTime<Utc>>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

fn credential(id: String, kind: CredentialKind, row: CredentialRow) -> Credential {
    Credential {
        id,
        kind,
        person: row.person,
        name: row.name,
        created_at: row.created_at,
        expires_at: row.expires_at,
        last_used_at: row.last_used_at,
    }
}

impl Engine {
    fn known_person(&self, id: &str) -> Result<Person> {
        self.person(id)
    }

    /// Issue a single-use token for a person of the directory, valid for `ttl`.
    pub fn issue_token(
        &self,
        secret: &str,
        purpose: &str,
        person: &str,
        payload: Value,
        ttl: Duration,
    ) -> Result<Token> {
        let hash = checked_hash(secret)?;
        if purpose.is_empty() {
            return Err(Error::validation("purpose", "a token needs a purpose"));
        }
        let size = serde_json::to_string(&payload)?.len();
        if size > MAX_PAYLOAD {
            return Err(Error::validation(
                "payload",
                format!("a token payload may hold at most {MAX_PAYLOAD} bytes of JSON, got {size}"),
            ));
        }
        self.known_person(person)?;
        let now = self.now();
        let expires = now + ttl;
        self.write(|db| db.insert_token(&hash, purpose, person, &payload, now, expires))?;
        Ok(Token {
            purpose: purpose.to_owned(),
            person: person.to_owned(),
            payload,
            created_at: now,
            expires_at: expires,
        })
    }

    fn valid_token(row: Option<TokenRow>, purpose: &str, now: DateTime<Utc>) -> Option<Token> {
        let t = row?;
        (t.purpose == purpose && t.used_at.is_none() && t.expires_at > now).then(|| Token {
            purpose: t.purpose,
            person: t.person,
            payload: t.payload,
            created_at: t.created_at,
            expires_at: t.expires_at,
        })
    }

    /// Use a token: returns it once, if it exists, has this purpose and has not expired or
    /// been used; `None` otherwise (all the same to the caller, so nothing leaks).
    pub fn redeem_token(&self, secret: &str, purpose: &str) -> Result<Option<Token>> {
        let hash = hash_secret(secret);
        let now = self.now();
        self.write(|db| {
            let Some(t) = Self::valid_token(db.token(&hash)?, purpose, now) else {
                return Ok(None);
            };
            Ok(db.use_token(&hash, now)?.then_some(t))
        })
    }

    /// Look at a token without using it (a page showing the form that will redeem it).
    pub fn peek_token(&self, secret: &str, purpose: &str) -> Result<Option<Token>> {
        let hash = hash_secret(secret);
        let now = self.now();
        self.read(|db| Ok(Self::valid_token(db.token(&hash)?, purpose, now)))
    }

    /// Make a session or API token for a person; `ttl` `None` lasts until revoked.
    pub fn create_credential(
        &self,
        secret: &str,
        kind: CredentialKind,
        person: &str,
        name: &str,
        ttl: Option<Duration>,
    ) -> Result<Credential> {
        let hash = checked_hash(secret)?;
        self.known_person(person)?;
        let now = self.now();
        let expires = ttl.map(|t| now + t);
        self.write(|db| db.insert_credential(&hash, kind.as_str(), person, name, now, expires))?;
        Ok(Credential {
            id: hash,
            kind,
            person: person.to_owned(),
            name: name.to_owned(),
            created_at: now,
            expires_at: expires,
            last_used_at: None,
        })
    }

    /// The credential a secret stands for, if it is of this kind and has not expired.
    /// `slide` moves a session's expiry to now + `slide` on use (written at most once a
    /// minute).
    pub fn credential(
        &self,
        secret: &str,
        kind: CredentialKind,
        slide: Option<Duration>,
    ) -> Result<Option<Credential>> {
        let hash = hash_secret(secret);
        let now = self.now();
        let found = self.read(|db| db.credential(&hash))?;
        let Some(row) = found else { return Ok(None) };
        if row.kind != kind.as_str() || row.expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let mut c = credential(hash, kind, row);
        if c.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
            let expires = slide.filter(|_| c.expires_at.is_some()).map(|s| now + s);
            self.write(|db| db.touch_credential(&c.id, now, expires))?;
            c.last_used_at = Some(now);
            if expires.is_some() {
                c.expires_at = expires;
            }
        }
        Ok(Some(c))
    }

    /// A person's credentials of a kind, newest first.
    pub fn credentials(&self, person: &str, kind: CredentialKind) -> Result<Vec<Credential>> {
        let rows = self.read(|db| db.credentials_of(person, kind.as_str()))?;
        Ok(rows
            .into_iter()
            .map(|(id, row)| credential(id, kind, row))
            .collect())
    }

    /// Revoke a credential by its id (its hash). Returns whether it existed.
    pub fn revoke_credential(&self, id: &str) -> Result<bool> {
        self.write(|db| db.delete_credential(id))
    }

    /// Revoke the credential a secret stands for (signing out). Returns whether it existed.
    pub fn revoke_secret(&self, secret: &str) -> Result<bool> {
        self.revoke_credential(&hash_secret(secret))
    }

    /// Revoke every credential of a person (all kinds when `kind` is `None`).
    pub fn revoke_credentials_of(
        &self,
        person: &str,
        kind: Option<CredentialKind>,
    ) -> Result<usize> {
        self.write(|db| db.delete_credentials_of(person, kind.map(CredentialKind::as_str)))
    }

    /// Store a person's password hash: an argon2id PHC string (`$argon2id$…`) computed by the
    /// caller. Setting a password ends the person's sessions, in the same transaction.
    pub fn set_password_hash(&self, person: &str, phc: &str) -> Result<()> {
        if !phc.starts_with("$argon2id$") {
            return Err(Error::validation(
                "password",
                "a password hash must be an argon2id PHC string ($argon2id$...), never the password",
            ));
        }
        self.known_person(person)?;
        let now = self.now();
        self.write(|db| {
            db.set_password(person, phc, now)?;
            db.delete_credentials_of(person, Some(CredentialKind::Session.as_str()))?;
            Ok(())
        })
    }

    /// A person's stored password hash, to verify a password against.
    pub fn password_hash(&self, person: &str) -> Result<Option<String>> {
        self.read(|db| db.password(person))
    }

    /// Remove a person's password (they sign in by e-mailed link again).
    pub fn remove_password(&self, person: &str) -> Result<bool> {
        self.write(|db| db.delete_password(person))
    }

    /// The people of the directory with this e-mail address (ignoring case), by id.
    pub fn people_by_email(&self, email: &str) -> Result<Vec<Person>> {
        self.read(|db| db.people_by_email(email))
    }

    /// Drop used and expired tokens, expired credentials, and idempotency keys older than
    /// [`IDEMPOTENCY_WINDOW`]. Returns how many rows went.
    pub fn purge_auth(&self) -> Result<usize> {
        let now = self.now();
        self.write(|db| db.purge(now, now - IDEMPOTENCY_WINDOW))
    }
}

/// The fingerprint of a command, for idempotency keys: SHA-256 of its JSON with object keys
/// sorted, so that the same command written in another key order is the same command.
pub(crate) fn fingerprint(command: &Value) -> String {
    fn canonical(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), canonical(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(canonical).collect()),
            other => other.clone(),
        }
    }
    hash_secret(&canonical(command).to_string())
}
