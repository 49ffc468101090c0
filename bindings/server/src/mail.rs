//! E-mail: the portal's own messages (sign-in links) and the outbox's notifications.
//!
//! Transports: `log` (printed on standard output: the demo and development), `file` (one
//! `.eml` file per message in a folder, named by the message's stable id, so a retried
//! delivery rewrites the same file), and `smtp` (lettre; plain, STARTTLS or TLS, optional
//! credentials). Messages are built with lettre in every transport (encoded headers, a
//! `Message-ID` from the stable id).
//!
//! Notifications reach the mail through [`NotificationMailer`], a [`mentorflow::Hook`]
//! named [`HOOK_NAME`]: the engine's outbox hands it every notification after commit; when
//! the mail server refuses or cannot be reached it returns an error, and the engine keeps a
//! delivery record for this consumer and retries with backoff, then keeps a dead letter for
//! an operator (at least once; the `Message-ID` lets receivers drop a repeat).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{SmtpTransport, Transport as _};
use mentorflow::{Engine, Hook, HookError, Notification, Person};

use crate::links::LinkSigner;
use crate::App;

/// The name the portal's notification mailer is known by (per-consumer delivery state).
pub const HOOK_NAME: &str = "portal-mail";

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Plain SMTP (a relay on the same machine or network).
    None,
    /// STARTTLS on a plain connection (port 587), required.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, port 465).
    Tls,
}

/// An SMTP server.
#[derive(Debug, Clone)]
pub struct Smtp {
    pub host: String,
    pub port: u16,
    pub security: Security,
    /// User name and password, when the server wants them.
    pub credentials: Option<(String, String)>,
    /// How long to wait for the server before a delivery fails (and is retried later).
    pub timeout: Duration,
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum Transport {
    /// Printed on standard output.
    Log,
    /// One `.eml` file per message in this folder.
    File(PathBuf),
    /// An SMTP server.
    Smtp(Smtp),
}

/// One message.
#[derive(Debug, Clone)]
pub struct Message {
    pub to_name: String,
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Stable id (`notification-ID` for the outbox's): the Message-ID and the file name.
    pub id: String,
}

/// Sends messages over one transport, from the configured sender (or an organisation's).
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    smtp: Option<SmtpTransport>,
    from: Mailbox,
    from_org: BTreeMap<String, Mailbox>,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("transport", &self.transport)
            .field("from", &self.from.to_string())
            .finish()
    }
}

/// A sender address, checked (`Name <addr@host>` or `addr@host`).
pub fn mailbox(text: &str, what: &str) -> Result<Mailbox, String> {
    text.parse::<Mailbox>()
        .map_err(|e| format!("{what}: `{text}` is not an e-mail address ({e})"))
}

impl Mailer {
    /// A mailer. `from` is the default sender; `from_org` gives organisations their own.
    pub fn new(
        transport: Transport,
        from: &str,
        from_org: &BTreeMap<String, String>,
    ) -> Result<Mailer, String> {
        let smtp = match &transport {
            Transport::Smtp(s) => Some(smtp_transport(s)?),
            _ => None,
        };
        let mut orgs = BTreeMap::new();
        for (org, text) in from_org {
            orgs.insert(org.clone(), mailbox(text, &format!("mail.from_org.{org}"))?);
        }
        Ok(Mailer {
            transport,
            smtp,
            from: mailbox(from, "mail.from")?,
            from_org: orgs,
        })
    }

    /// The transport.
    pub fn transport(&self) -> &Transport {
        &self.transport
    }

    /// Deliver one message (blocking). `org` picks the organisation's sender, if it has one.
    pub fn send(&self, m: &Message, org: Option<&str>) -> Result<(), String> {
        let from = org
            .and_then(|o| self.from_org.get(o))
            .unwrap_or(&self.from)
            .clone();
        let to = Mailbox::new(
            Some(m.to_name.clone()),
            m.to.parse()
                .map_err(|e| format!("`{}` is not an e-mail address ({e})", m.to))?,
        );
        let email = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(m.subject.clone())
            .message_id(Some(format!("<{}@mentorflow>", m.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(m.body.clone())
            .map_err(|e| format!("message {}: {e}", m.id))?;
        match &self.transport {
            Transport::Log => {
                println!(
                    "mail to {} <{}>: {}\n{}\n",
                    m.to_name, m.to, m.subject, m.body
                );
                Ok(())
            }
            Transport::File(dir) => {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let name: String =
                    m.id.chars()
                        .map(|c| {
                            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                                c
                            } else {
                                '_'
                            }
                        })
                        .collect();
                let file = dir.join(format!("{name}.eml"));
                // written whole, then renamed: a reader never sees half a message
                let tmp = dir.join(format!(".{name}.eml.tmp"));
                std::fs::write(&tmp, email.formatted())
                    .and_then(|()| std::fs::rename(&tmp, &file))
                    .map_err(|e| format!("{}: {e}", file.display()))
            }
            Transport::Smtp(s) => {
                let Some(t) = &self.smtp else {
                    return Err("SMTP transport not set up".into());
                };
                t.send(&email)
                    .map(|_| ())
                    .map_err(|e| format!("SMTP server {}:{}: {e}", s.host, s.port))
            }
        }
    }
}

fn smtp_transport(s: &Smtp) -> Result<SmtpTransport, String> {
    let tls = |what: fn(TlsParameters) -> Tls| -> Result<Tls, String> {
        TlsParameters::new(s.host.clone())
            .map(what)
            .map_err(|e| format!("mail.host `{}`: TLS: {e}", s.host))
    };
    let mut b = SmtpTransport::builder_dangerous(&s.host)
        .port(s.port)
        .timeout(Some(s.timeout))
        .tls(match s.security {
            Security::None => Tls::None,
            Security::Starttls => tls(Tls::Required)?,
            Security::Tls => tls(Tls::Wrapper)?,
        });
    if let Some((user, password)) = &s.credentials {
        b = b.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(b.build())
}

/// Send a sign-in link to a person (failures are logged: the page says the same either way).
pub async fn send_sign_in(app: &App, person: &Person, url: &str) {
    let Some(to) = person.email.clone() else {
        return;
    };
    let name = person.name.clone().unwrap_or_else(|| person.id.clone());
    let m = Message {
        to_name: name.clone(),
        to,
        subject: "Your sign-in link".into(),
        body: format!(
            "Hello {name},\n\nFollow this link to sign in to the mentoring portal:\n\n{url}\n\nIt works once, for {} minutes. If you did not ask for it, ignore this e-mail.\n",
            app.config().sign_in_ttl.num_minutes()
        ),
        id: format!("sign-in-{}", crate::auth::secret()),
    };
    let mailer = app.mailer().clone();
    let org = person.org.clone();
    match tokio::task::spawn_blocking(move || mailer.send(&m, org.as_deref())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("sign-in mail to {}: {e}", person.id),
        Err(e) => tracing::error!("sign-in mail task: {e}"),
    }
}

/// Send a link to set a password (failures are logged: the page says the same either way).
pub async fn send_password_link(app: &App, person: &Person, url: &str) {
    let Some(to) = person.email.clone() else {
        return;
    };
    let name = person.name.clone().unwrap_or_else(|| person.id.clone());
    let m = Message {
        to_name: name.clone(),
        to,
        subject: "Set your password".into(),
        body: format!(
            "Hello {name},\n\nFollow this link to set your password for the mentoring portal:\n\n{url}\n\nIt works once, for {} minutes. If you did not ask for it, ignore this e-mail: your password stays as it was.\n",
            app.config().sign_in_ttl.num_minutes()
        ),
        id: format!("password-{}", crate::auth::secret()),
    };
    let mailer = app.mailer().clone();
    let org = person.org.clone();
    match tokio::task::spawn_blocking(move || mailer.send(&m, org.as_deref())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("password mail to {}: {e}", person.id),
        Err(e) => tracing::error!("password mail task: {e}"),
    }
}

/// The outbox's notifications as e-mail: a hook for the engine. Register it with
/// [`NotificationMailer::attach`] (it needs the engine to find the recipient's address).
#[derive(Debug)]
pub struct NotificationMailer {
    mailer: Mailer,
    engine: OnceLock<Weak<Engine>>,
    links: Option<LinkSigner>,
}

impl NotificationMailer {
    /// Register a mailer for the engine's notifications.
    pub fn attach(engine: &Arc<Engine>, mailer: Mailer) -> Arc<NotificationMailer> {
        NotificationMailer::attach_inner(engine, mailer, None)
    }

    /// Register a mailer that also signs action links into the notifications whose template
    /// names `actions:` ([`crate::links`]); `links` must use the portal's own key.
    pub fn attach_with_links(
        engine: &Arc<Engine>,
        mailer: Mailer,
        links: LinkSigner,
    ) -> Arc<NotificationMailer> {
        NotificationMailer::attach_inner(engine, mailer, Some(links))
    }

    fn attach_inner(
        engine: &Arc<Engine>,
        mailer: Mailer,
        links: Option<LinkSigner>,
    ) -> Arc<NotificationMailer> {
        let hook = Arc::new(NotificationMailer {
            mailer,
            engine: OnceLock::new(),
            links,
        });
        let _ = hook.engine.set(Arc::downgrade(engine));
        engine.add_hook(hook.clone());
        hook
    }
}

/// A notification's body with its action links, if any.
fn with_links(body: &str, links: &[(String, String)], until: Option<String>) -> String {
    if links.is_empty() {
        return body.to_owned();
    }
    let mut out = body.trim_end().to_owned();
    out.push_str("\n\nAct directly from this e-mail (you will be asked to sign in and to confirm");
    match until {
        Some(u) => out.push_str(&format!("; each link works once, until {u}):\n")),
        None => out.push_str("; each link works once):\n"),
    }
    for (label, url) in links {
        out.push_str(&format!("  {label}: {url}\n"));
    }
    out
}

impl Hook for NotificationMailer {
    /// Its delivery state (attempts, backoff, dead letters) is kept under this name.
    fn name(&self) -> &str {
        HOOK_NAME
    }

    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        let engine = self
            .engine
            .get()
            .and_then(Weak::upgrade)
            .ok_or("the portal's engine is gone")?;
        let person = engine.person(&n.to)?;
        let Some(to) = person.email.clone().filter(|e| !e.trim().is_empty()) else {
            // nothing to retry: the directory has no address for this person
            tracing::warn!(
                "notification {} to {}: the directory has no e-mail address for them; not sent",
                n.id,
                n.to
            );
            return Ok(());
        };
        let body = match &self.links {
            Some(signer) => {
                let links = signer.lines(&engine, n)?;
                let zone = person
                    .org
                    .as_deref()
                    .and_then(|o| engine.org(o).ok())
                    .map_or(chrono_tz::Tz::UTC, |o| crate::render::zone(&o.timezone));
                let until = crate::render::when(engine.now() + signer.ttl, zone);
                with_links(&n.body, &links, Some(until))
            }
            None => n.body.clone(),
        };
        let m = Message {
            to_name: person.name.clone().unwrap_or_else(|| person.id.clone()),
            to,
            subject: n.subject.clone(),
            body,
            id: format!("notification-{}", n.id),
        };
        self.mailer.send(&m, person.org.as_deref()).map_err(|e| {
            tracing::warn!("notification {} to {}: {e} (retried later)", n.id, n.to);
            HookError::from(e)
        })
    }
}
