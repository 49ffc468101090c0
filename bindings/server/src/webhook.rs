//! The webhook transport: a consumer of the engine's outbox ([`mentorflow::Hook`]) that POSTs
//! each notification (and signal) as JSON to a configured URL.
//!
//! Each request carries:
//! - `Content-Type: application/json`, the body `{"type": "notification", "id": …, …}`: the
//!   notification's fields (`id`, `case_id`, `to`, `template`, `subject`, `body`, `data`,
//!   `at`) or the signal's (`id`, `case_id`, `kind`, `data`, `at`), the same bytes on every
//!   attempt;
//! - `Idempotency-Key`: the outbox id (a retry or a repeat after a crash carries the same one:
//!   the receiver drops duplicates by it);
//! - `X-Mentorflow-Signature: sha256=HEX`: HMAC-SHA256 of the exact body bytes with the
//!   shared secret (read from an environment variable, never from the file), so the receiver
//!   checks the request came from the portal and was not altered.
//!
//! A 2xx answer is a delivery; anything else (another status, a refused connection, a
//! timeout) is an error, and the engine keeps a delivery record for this consumer alone
//! (`webhook:NAME`) and retries with backoff, then keeps a dead letter (`mentorflow outbox`).
//! Other consumers (the mailer, other webhooks) are not affected.

use std::time::Duration;

use mentorflow::{Hook, HookError, Notification, Signal};
use ring::hmac;
use serde::Serialize;

/// The header holding the body's signature.
pub const SIGNATURE_HEADER: &str = "X-Mentorflow-Signature";

/// One webhook endpoint.
#[derive(Clone)]
pub struct Webhook {
    consumer: String,
    url: String,
    key: hmac::Key,
    signals: bool,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("consumer", &self.consumer)
            .field("url", &self.url)
            .field("signals", &self.signals)
            .finish_non_exhaustive()
    }
}

/// `sha256=HEX`: the signature of `body` with `secret` (what a receiver computes to check).
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), body)
}

fn sign(key: &hmac::Key, body: &[u8]) -> String {
    let tag = hmac::sign(key, body);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

impl Webhook {
    /// A webhook named `name` (its consumer is `webhook:NAME`) posting to `url` (`http://` or
    /// `https://`), signing with `secret` (at least 16 bytes), waiting at most `timeout`;
    /// `signals`: post signals too, not only notifications.
    pub fn new(
        name: &str,
        url: &str,
        secret: &[u8],
        timeout: Duration,
        signals: bool,
    ) -> Result<Webhook, String> {
        let ok_name = !name.is_empty()
            && name.len() <= 60
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok_name {
            return Err(format!(
                "webhook name `{name}`: use 1 to 60 letters, digits and _ - ."
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "webhook `{name}`: url `{url}` must start with http:// or https://"
            ));
        }
        url.parse::<axum::http::Uri>()
            .map_err(|e| format!("webhook `{name}`: url `{url}` is not a URL ({e})"))?;
        if secret.len() < 16 {
            return Err(format!(
                "webhook `{name}`: the secret must be at least 16 characters"
            ));
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Ok(Webhook {
            consumer: format!("webhook:{name}"),
            url: url.to_owned(),
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            signals,
            agent,
        })
    }

    /// The endpoint.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The consumer name (`webhook:NAME`).
    pub fn consumer(&self) -> &str {
        &self.consumer
    }

    fn post(&self, kind: &str, id: i64, item: &impl Serialize) -> Result<(), HookError> {
        let mut v = serde_json::to_value(item)?;
        if let serde_json::Value::Object(m) = &mut v {
            // the outbox's own delivery state is not part of the message: every attempt
            // posts the same bytes
            for k in ["delivered_at", "acked_at", "attempts", "last_error"] {
                m.remove(k);
            }
            m.insert("type".into(), serde_json::Value::String(kind.to_owned()));
        }
        let body = serde_json::to_vec(&v)?;
        let sig = sign(&self.key, &body);
        let answer = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", id.to_string())
            .header(SIGNATURE_HEADER, sig)
            .send(&body[..])
            .map_err(|e| format!("{} {}: {e}", self.consumer, self.url))?;
        let status = answer.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("{} {}: HTTP {status}", self.consumer, self.url).into())
        }
    }
}

impl Hook for Webhook {
    fn name(&self) -> &str {
        &self.consumer
    }

    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        self.post("notification", n.id, n)
    }

    fn on_signal(&self, s: &Signal) -> Result<(), HookError> {
        if !self.signals {
            return Ok(());
        }
        self.post("signal", s.id, s)
    }
}
