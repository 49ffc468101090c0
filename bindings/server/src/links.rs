//! E-mail action links: a notification whose template names `actions:` carries, for each of
//! them the recipient may do when the mail is sent, a signed, expiring, single-purpose link
//! that opens that action's form in the portal (`/l/TOKEN`).
//!
//! - **Signed**: the token is `PAYLOAD.SIGNATURE`, the payload (base64url JSON: case, action,
//!   person, case revision, expiry) signed with HMAC-SHA256 under the server's link secret
//!   ([`LinkKey`], `[links] secret_env` in the config file). A changed or cut token is refused.
//! - **Expiring**: after `[links] ttl_days` (default 14) on the engine's clock.
//! - **Single purpose, single use**: it opens one action on one case, for one person, and
//!   only while the case is still at the revision the mail was sent at. Acting moves the
//!   revision on, so a used link (or one for a case that changed since) is refused with a page
//!   that says so and links to the case.
//! - **Never someone else's**: sign-in is still required (a person without a session signs in
//!   and comes back to the link), the signed-in person must be the link's, and the form acts
//!   as them through the engine's own checks (`act_with` with the link's revision). A
//!   forwarded mail lets nobody else act. Following the link never acts by itself: it shows
//!   the form (a confirmation for actions without inputs), and the form's POST acts.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ring::hmac;
use serde::{Deserialize, Serialize};

/// What a token's signature covers besides the payload (a token of another kind, or version,
/// never verifies as this one).
const DOMAIN: &[u8] = b"mentorflow action link v1\n";

/// The server's secret for action links. Its `Debug` never shows it.
#[derive(Clone)]
pub struct LinkKey(hmac::Key);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

/// The shortest secret accepted from the configuration.
pub const MIN_SECRET_LEN: usize = 32;

impl LinkKey {
    /// A key from a configured secret (at least [`MIN_SECRET_LEN`] bytes).
    pub fn from_secret(secret: &str) -> Result<LinkKey, String> {
        if secret.len() < MIN_SECRET_LEN {
            return Err(format!(
                "the link secret must be at least {MIN_SECRET_LEN} characters (it has {})",
                secret.len()
            ));
        }
        Ok(LinkKey(hmac::Key::new(
            hmac::HMAC_SHA256,
            secret.as_bytes(),
        )))
    }

    /// A random key: links stop working when the process ends.
    pub fn random() -> LinkKey {
        LinkKey(hmac::Key::new(
            hmac::HMAC_SHA256,
            crate::auth::secret().as_bytes(),
        ))
    }
}

/// What a link lets its person open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionLink {
    /// Case id.
    #[serde(rename = "c")]
    pub case_id: i64,
    /// Action id.
    #[serde(rename = "a")]
    pub action: String,
    /// The person it was sent to.
    #[serde(rename = "p")]
    pub person: String,
    /// The case revision when it was sent: it works only while the case is still there.
    #[serde(rename = "r")]
    pub revision: u64,
    /// Until when (seconds since the epoch).
    #[serde(rename = "x")]
    pub expires: i64,
}

/// Why a token is refused before the case is looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkRefusal {
    /// Not a token this server signed (changed, cut, or made up).
    Invalid,
    /// Signed, but past its expiry.
    Expired(ActionLink),
}

impl ActionLink {
    /// The signed token.
    pub fn sign(&self, key: &LinkKey) -> String {
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let tag = hmac::sign(&key.0, &[DOMAIN, payload.as_bytes()].concat());
        format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
    }

    /// The link a token stands for, if this server signed it and it has not expired.
    pub fn verify(token: &str, key: &LinkKey, now: DateTime<Utc>) -> Result<Self, LinkRefusal> {
        let (payload, tag) = token.split_once('.').ok_or(LinkRefusal::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| LinkRefusal::Invalid)?;
        hmac::verify(&key.0, &[DOMAIN, payload.as_bytes()].concat(), &tag)
            .map_err(|_| LinkRefusal::Invalid)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| LinkRefusal::Invalid)?;
        let link: ActionLink = serde_json::from_slice(&bytes).map_err(|_| LinkRefusal::Invalid)?;
        if now.timestamp() >= link.expires {
            return Err(LinkRefusal::Expired(link));
        }
        Ok(link)
    }

    /// When it expires.
    pub fn expires_at(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.expires, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// What the mailer needs to sign links into a notification.
#[derive(Debug, Clone)]
pub struct LinkSigner {
    pub key: LinkKey,
    /// The portal's public address, without a trailing slash.
    pub public_url: String,
    /// How long a link works.
    pub ttl: chrono::Duration,
}

impl LinkSigner {
    /// The lines a notification gets: one link per action of its template's `actions:` that
    /// the recipient may do on the case now (`Engine::actions`), in the template's order.
    pub fn lines(
        &self,
        engine: &mentorflow::Engine,
        n: &mentorflow::Notification,
    ) -> mentorflow::Result<Vec<(String, String)>> {
        let Some(case_id) = n.case_id else {
            return Ok(Vec::new());
        };
        let case = engine.get(case_id, None)?;
        let def = engine.definition_of(&case)?;
        let Some(template) = def.templates.iter().find(|t| t.name == n.template) else {
            return Ok(Vec::new());
        };
        if template.actions.is_empty() {
            return Ok(Vec::new());
        }
        // a recipient who cannot see the case (or is gone) gets no links
        let Ok(now) = engine.actions(case_id, &n.to) else {
            return Ok(Vec::new());
        };
        let expires = (engine.now() + self.ttl).timestamp();
        Ok(template
            .actions
            .iter()
            .filter(|a| now.contains(a))
            .filter_map(|a| def.action(a))
            .map(|a| {
                let token = ActionLink {
                    case_id,
                    action: a.id.clone(),
                    person: n.to.clone(),
                    revision: case.revision,
                    expires,
                }
                .sign(&self.key);
                (
                    a.label.clone().unwrap_or_else(|| a.id.clone()),
                    format!("{}/l/{token}", self.public_url),
                )
            })
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn link() -> ActionLink {
        ActionLink {
            case_id: 7,
            action: "accept".into(),
            person: "dan".into(),
            revision: 3,
            expires: 2_000_000_000,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    #[test]
    fn a_signed_link_verifies_until_it_expires() {
        let key = LinkKey::from_secret("0123456789abcdef0123456789abcdef").unwrap();
        let token = link().sign(&key);
        assert_eq!(
            ActionLink::verify(&token, &key, at(1_999_999_999)),
            Ok(link())
        );
        assert_eq!(
            ActionLink::verify(&token, &key, at(2_000_000_000)),
            Err(LinkRefusal::Expired(link()))
        );
    }

    #[test]
    fn a_changed_cut_or_foreign_token_is_refused() {
        let key = LinkKey::from_secret("0123456789abcdef0123456789abcdef").unwrap();
        let token = link().sign(&key);
        let now = at(1_000);
        // another person's name in the payload, the signature kept
        let mut other = link();
        other.person = "eve".into();
        let forged = format!(
            "{}.{}",
            other.sign(&key).split_once('.').unwrap().0,
            token.split_once('.').unwrap().1
        );
        for bad in [
            forged.as_str(),
            &token[..token.len() - 1],
            token.split_once('.').unwrap().0,
            "",
            ".",
            "not a token",
        ] {
            assert_eq!(
                ActionLink::verify(bad, &key, now),
                Err(LinkRefusal::Invalid),
                "{bad}"
            );
        }
        // signed under another secret
        let other_key = LinkKey::from_secret("another secret, 32 characters long").unwrap();
        assert_eq!(
            ActionLink::verify(&token, &other_key, now),
            Err(LinkRefusal::Invalid)
        );
        assert!(LinkKey::from_secret("short").is_err());
        assert_eq!(format!("{key:?}"), "LinkKey(..)");
    }
}
