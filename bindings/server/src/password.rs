//! Passwords and sign-in attempt limits.
//!
//! * A person sets a password through an e-mailed link (`/password`, a single-use
//!   `set_password` token like the sign-in link); the engine stores only its argon2id hash
//!   (PHC string, `Engine::set_password_hash`).
//! * Sign-in with e-mail and password answers one message for an unknown address and a wrong
//!   password, and takes as long either way (an unknown address is checked against a dummy
//!   hash).
//! * Failed attempts are counted per address (client IP) and per account (e-mail): more than
//!   [`Limiter::PER_ACCOUNT`] failures for an account, or [`Limiter::PER_ADDRESS`] from an
//!   address, within [`Limiter::WINDOW`] and further attempts are refused with 429 without
//!   looking at the password, until the window has passed. A success clears the account's
//!   count.

use std::collections::{HashMap, VecDeque};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use rand::RngCore;

/// The shortest password accepted.
pub const MIN_LEN: usize = 12;
/// The longest (hashing is deliberately slow; a megabyte of password is not a password).
pub const MAX_LEN: usize = 256;

/// Why a new password is not taken, in words for the form; `None` when it is fine.
pub fn weakness(password: &str, confirm: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_LEN {
        Some(format!(
            "Use at least {MIN_LEN} characters (a few words make a good one)."
        ))
    } else if n > MAX_LEN {
        Some(format!("Use at most {MAX_LEN} characters."))
    } else if password != confirm {
        Some("The two passwords differ.".into())
    } else {
        None
    }
}

/// The argon2id hash of a password as a PHC string (`$argon2id$v=19$…`).
pub fn hash(password: &str) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether a password matches a stored PHC hash (a hash that does not parse never matches).
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash to check against when there is no account, so that an unknown address takes as
/// long as a wrong password.
static DUMMY: LazyLock<String> =
    LazyLock::new(|| hash("not anybody's password").unwrap_or_default());

/// Spend the time of one verification without an account.
pub fn verify_nobody(password: &str) {
    let _ = verify(password, &DUMMY);
}

/// Failed sign-in attempts in a sliding window, per key (`addr:IP`, `acct:EMAIL`).
#[derive(Debug, Default)]
pub struct Limiter {
    failures: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Limiter {
    /// Failures an account may have in the window.
    pub const PER_ACCOUNT: usize = 5;
    /// Failures an address may have in the window.
    pub const PER_ADDRESS: usize = 20;
    /// The window.
    pub const WINDOW: Duration = Duration::from_secs(15 * 60);

    fn recent(map: &mut HashMap<String, VecDeque<Instant>>, key: &str, now: Instant) -> usize {
        let Some(q) = map.get_mut(key) else {
            return 0;
        };
        while q
            .front()
            .is_some_and(|t| now.duration_since(*t) >= Self::WINDOW)
        {
            q.pop_front();
        }
        let n = q.len();
        if n == 0 {
            map.remove(key);
        }
        n
    }

    /// `Some(wait)` when an attempt for this account from this address must be refused now.
    pub fn blocked(&self, addr: &str, account: &str) -> Option<Duration> {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let keys = [
            (format!("addr:{addr}"), Self::PER_ADDRESS),
            (
                format!("acct:{}", account.to_lowercase()),
                Self::PER_ACCOUNT,
            ),
        ];
        let mut wait = None;
        for (key, max) in keys {
            if Self::recent(&mut map, &key, now) >= max {
                let oldest = map.get(&key).and_then(|q| q.front().copied());
                let left = oldest
                    .map(|t| Self::WINDOW.saturating_sub(now.duration_since(t)))
                    .unwrap_or(Self::WINDOW);
                wait = Some(wait.map_or(left, |w: Duration| w.max(left)));
            }
        }
        // forget keys nobody used for a window, so the map stays small
        if map.len() > 10_000 {
            map.retain(|_, q| {
                q.back()
                    .is_some_and(|t| now.duration_since(*t) < Self::WINDOW)
            });
        }
        wait
    }

    /// Count a failed attempt.
    pub fn failed(&self, addr: &str, account: &str) {
        let now = Instant::now();
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        for key in [
            format!("addr:{addr}"),
            format!("acct:{}", account.to_lowercase()),
        ] {
            map.entry(key).or_default().push_back(now);
        }
    }

    /// A success: the account's failures are forgotten (the address's stay).
    pub fn succeeded(&self, account: &str) {
        let mut map = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(&format!("acct:{}", account.to_lowercase()));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn argon2id_hashes_verify_and_differ() {
        let a = hash("correct horse battery staple").unwrap();
        let b = hash("correct horse battery staple").unwrap();
        assert!(a.starts_with("$argon2id$"), "{a}");
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse battery staple", &a));
        assert!(!verify("correct horse battery stapler", &a));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn weak_passwords_are_named() {
        assert!(weakness("short", "short").unwrap().contains("at least 12"));
        assert!(weakness("long enough words", "long enough word")
            .unwrap()
            .contains("differ"));
        assert_eq!(weakness("long enough words", "long enough words"), None);
    }

    #[test]
    fn the_limiter_counts_per_account_and_per_address() {
        let l = Limiter::default();
        for _ in 0..Limiter::PER_ACCOUNT {
            assert!(l.blocked("1.2.3.4", "Alice@x.org").is_none());
            l.failed("1.2.3.4", "alice@x.org");
        }
        // the account is blocked from any address, whatever the case of the address
        assert!(l.blocked("5.6.7.8", "ALICE@x.org").is_some());
        // another account from the same address is not (yet)
        assert!(l.blocked("1.2.3.4", "bob@x.org").is_none());
        // an address that fails for many accounts is blocked for all
        for i in 0..Limiter::PER_ADDRESS {
            l.failed("9.9.9.9", &format!("p{i}@x.org"));
        }
        assert!(l.blocked("9.9.9.9", "new@x.org").is_some());
        // success forgets the account's failures
        l.succeeded("alice@x.org");
        assert!(l.blocked("5.6.7.8", "alice@x.org").is_none());
    }
}
