//! Per-consumer delivery, the operator's side: naming hooks, listing delivery records, and
//! retrying or dropping them (`mentorflow outbox`). The delivery loop is in `sweep`.

use std::sync::Arc;

use super::Engine;
use crate::error::{Error, Result};
use crate::hooks::{check_consumer_name, Consumer, Delivery, DeliveryFilter, Hook};
use crate::store::Tx;

/// Give every registered hook its consumer name: the one given at registration, else its
/// [`Hook::name`], else `hook-N` by position. Two hooks with one name are refused. The
/// registration order is kept (it is the order of delivery).
pub(super) fn name_consumers(hooks: Vec<(Option<String>, Arc<dyn Hook>)>) -> Result<Vec<Consumer>> {
    let mut explicit: Vec<String> = Vec::new();
    for (given, hook) in &hooks {
        let name = given.clone().unwrap_or_else(|| hook.name().to_owned());
        if name.is_empty() {
            continue;
        }
        check_consumer_name(&name)?;
        if explicit.contains(&name) {
            return Err(Error::validation(
                "hook",
                format!("two hooks are named `{name}`: each hook needs its own name (its delivery state is kept under it)"),
            ));
        }
        explicit.push(name);
    }
    let mut out: Vec<Consumer> = Vec::with_capacity(hooks.len());
    for (i, (given, hook)) in hooks.into_iter().enumerate() {
        let mut name = given.unwrap_or_else(|| hook.name().to_owned());
        if name.is_empty() {
            // positional, skipping names taken by named hooks or earlier positional ones
            let mut n = i + 1;
            name = format!("hook-{n}");
            while explicit.contains(&name) || out.iter().any(|c| c.name == name) {
                n += 1;
                name = format!("hook-{n}");
            }
        }
        out.push(Consumer { name, hook });
    }
    Ok(out)
}

/// `wanted` (or `hook-N` after the hooks already there when it is empty), with `#2`, `#3`…
/// added while the name is taken.
pub(super) fn free_name(taken: &[Consumer], wanted: &str) -> String {
    let base = if wanted.is_empty() {
        format!("hook-{}", taken.len() + 1)
    } else {
        wanted.to_owned()
    };
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|c| c.name == name) {
        name = format!("{base}#{n}");
        n += 1;
    }
    name
}

impl Engine {
    /// Delivery records (one outbox row to one consumer, written when the consumer first
    /// failed on it), by filter: by default those still retried and the dead letters.
    pub fn deliveries(&self, filter: &DeliveryFilter) -> Result<Vec<Delivery>> {
        self.read(|tx| tx.deliveries(filter))
    }

    /// Retry an outbox row's failed, dead or dropped deliveries now (to one consumer, or to
    /// every consumer that has one), each with a fresh budget of attempts. The hooks of this
    /// engine try at once; a consumer registered in another process (the portal's mailer)
    /// tries on its next tick. Returns how many deliveries were put back; a row without any
    /// is refused and nothing changes.
    pub fn retry_delivery(&self, outbox_id: i64, consumer: Option<&str>) -> Result<usize> {
        let now = self.now();
        let n = self.write(|tx| {
            self.check_row(tx, outbox_id, consumer)?;
            let n = tx.retry_delivery(outbox_id, consumer, now)?;
            self.audit_delivery(tx, outbox_id, consumer, "retried", n, now)?;
            if n == 0 {
                return Err(Error::validation(
                    "id",
                    format!(
                        "outbox row {outbox_id} has no failed, dead or dropped delivery{} to retry",
                        for_consumer(consumer)
                    ),
                ));
            }
            Ok(n)
        })?;
        self.after_commit();
        Ok(n)
    }

    /// Give up an outbox row's deliveries that are not done (to one consumer, or to every
    /// consumer the database knows, including those that have not tried it yet). The row
    /// stays in the outbox, marked dropped, and leaves the backlog. Returns how many
    /// deliveries were dropped; a row with nothing left to deliver is refused.
    pub fn drop_delivery(&self, outbox_id: i64, consumer: Option<&str>) -> Result<usize> {
        let now = self.now();
        self.write(|tx| {
            self.check_row(tx, outbox_id, consumer)?;
            let n = tx.drop_delivery(outbox_id, consumer, now)?;
            self.audit_delivery(tx, outbox_id, consumer, "dropped", n, now)?;
            if n == 0 {
                return Err(Error::validation(
                    "id",
                    format!(
                        "outbox row {outbox_id} has no delivery left to drop{}",
                        for_consumer(consumer)
                    ),
                ));
            }
            Ok(n)
        })
    }

    /// The audit entry of a retry or drop (`what`) of `n` deliveries (none: nothing changed,
    /// and the command is refused anyway).
    fn audit_delivery(
        &self,
        tx: &dyn Tx,
        outbox_id: i64,
        consumer: Option<&str>,
        what: &str,
        n: usize,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        let kind = if what == "retried" {
            crate::audit::kinds::OUTBOX_RETRY
        } else {
            crate::audit::kinds::OUTBOX_DROP
        };
        self.record_audit(
            tx,
            now,
            None,
            kind,
            format!("outbox:{outbox_id}"),
            serde_json::Value::Null,
            serde_json::json!({ "consumer": consumer, what: n }),
            None,
        )
    }

    /// The row exists and the consumer (when named) is one the database or this engine knows.
    fn check_row(&self, tx: &dyn Tx, outbox_id: i64, consumer: Option<&str>) -> Result<()> {
        if !tx.outbox_exists(outbox_id)? {
            return Err(Error::not_found("outbox row", outbox_id.to_string()));
        }
        if let Some(c) = consumer {
            let mut known = tx.known_consumers()?;
            for mine in self.consumers() {
                if !known.contains(&mine) {
                    known.push(mine);
                }
            }
            if !known.iter().any(|k| k == c) {
                return Err(Error::not_found_among(
                    "consumer",
                    c,
                    known.iter().map(String::as_str),
                ));
            }
        }
        Ok(())
    }
}

fn for_consumer(consumer: Option<&str>) -> String {
    consumer.map_or_else(String::new, |c| format!(" for consumer `{c}`"))
}
