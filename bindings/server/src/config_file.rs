//! `mentorflow serve --config FILE`: the portal's configuration file, in TOML.
//!
//! ```toml
//! addr = "127.0.0.1:8080"
//! public_url = "https://mentors.example.org"
//! db = "cases.db"                 # relative paths are read from the file's folder
//! workflows = "workflows"
//! secure_cookies = true
//! operator_roles = ["admin"]      # who sees the administration pages (default: admin)
//!
//! [mail]
//! transport = "smtp"              # "log" (default), "file" or "smtp"
//! from = "Mentoring programme <noreply@example.org>"
//! host = "smtp.example.org"
//! port = 587                      # default: 587 (starttls), 465 (tls), 25 (none)
//! security = "starttls"           # "starttls" (default), "tls" or "none"
//! username = "portal"
//! password_env = "MENTORFLOW_SMTP_PASSWORD"   # the password is read from this variable
//! timeout_seconds = 10
//!
//! [mail.from_org]                 # organisations' own senders
//! ch12 = "SCORE Chapter 12 <chapter12@example.org>"
//!
//! [proxy]                         # single sign-on by a reverse proxy
//! header = "X-Remote-User"        # names the person: directory id, or an e-mail only one person has
//! trusted = ["127.0.0.1"]         # believed only on connections from these addresses
//!
//! [links]                         # e-mail action links (Accept/Decline from the mail)
//! secret_env = "MENTORFLOW_LINK_SECRET"   # at least 32 characters, read from this variable
//! ttl_days = 14                   # how long a link works (default 14)
//!
//! [metrics]                       # GET /metrics (Prometheus); an operator's API token always works
//! allow = ["127.0.0.1"]           # addresses that may read it without a token (default: none)
//!
//! [[webhooks]]                    # POST each notification as JSON (repeatable)
//! name = "crm"                    # consumer `webhook:crm` (its own retries and dead letters)
//! url = "https://crm.example.org/hooks/mentorflow"
//! secret_env = "MENTORFLOW_WEBHOOK_SECRET"    # HMAC-SHA256 key, at least 16 characters
//! timeout_seconds = 10            # default 10
//! signals = true                  # also post signals (default true)
//!
//! [retention]                     # run retention on a schedule (off without this section)
//! at = "03:00"                    # once a day at this local time; or every = "6h"
//! time_zone = "Europe/Zurich"     # the zone of `at` (default: the machine's)
//! export_dir = "retention"        # where each run's export goes (a new file per run)
//! enabled = true                  # false turns it off and keeps the settings
//! ```
//!
//! Unknown keys are refused (a misspelt key is not silently ignored); every error names the
//! file and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::mail::{Security, Smtp, Transport};

/// The file, as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub addr: Option<String>,
    pub public_url: Option<String>,
    pub db: Option<PathBuf>,
    pub workflows: Option<PathBuf>,
    pub secure_cookies: Option<bool>,
    /// The directory roles whose holders are operators (administration pages); the
    /// engine's default (`admin`) when absent.
    pub operator_roles: Option<Vec<String>>,
    #[serde(default)]
    pub mail: MailConfig,
    #[serde(default)]
    pub links: LinksConfig,
    /// `[proxy]`: single sign-on by a trusted reverse proxy's header.
    pub proxy: Option<ProxyConfig>,
    /// `[metrics]`: who reads `/metrics`.
    #[serde(default)]
    pub metrics: MetricsConfig,
    /// `[[webhooks]]`: endpoints that receive each notification.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// `[retention]`: retention run by the worker on a schedule.
    pub retention: Option<RetentionConfig>,
}

/// `[retention]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionConfig {
    /// Once a day at this local time (`"03:00"`).
    pub at: Option<String>,
    /// Or at the start and then every this long (`"6h"`, `"1 day"`).
    pub every: Option<String>,
    /// The time zone of `at` (an IANA name); the machine's local time when absent.
    pub time_zone: Option<String>,
    /// The folder each run's export is written to (relative: to the file's folder).
    pub export_dir: Option<PathBuf>,
    /// `false`: off, the settings kept (default true).
    pub enabled: Option<bool>,
}

impl FileConfig {
    /// The scheduled retention the file asks for (`None`: no `[retention]` section, or
    /// `enabled = false`); an error names the key.
    pub fn retention(&self) -> Result<Option<mentorflow::RetentionTimer>, String> {
        let Some(r) = &self.retention else {
            return Ok(None);
        };
        let schedule = mentorflow::RetentionSchedule::parse(
            r.at.as_deref(),
            r.every.as_deref(),
            r.time_zone.as_deref(),
        )?;
        let dir = r.export_dir.clone().ok_or(
            "retention.export_dir: name the folder each run's export is written to (export_dir = \"retention\")",
        )?;
        if r.enabled == Some(false) {
            return Ok(None);
        }
        Ok(Some(mentorflow::RetentionTimer::new(schedule, dir)))
    }
}

/// `[metrics]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Addresses that may read `/metrics` without a token.
    #[serde(default)]
    pub allow: Vec<String>,
}

impl MetricsConfig {
    /// The allowed addresses; one that is not an IP address is an error naming it.
    pub fn allow(&self) -> Result<Vec<std::net::IpAddr>, String> {
        self.allow
            .iter()
            .map(|a| {
                a.parse()
                    .map_err(|_| format!("metrics.allow: \"{a}\" is not an IP address"))
            })
            .collect()
    }
}

/// One `[[webhooks]]` entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The webhook's name: its consumer is `webhook:NAME`.
    pub name: String,
    /// Where to POST.
    pub url: String,
    /// The environment variable holding the signing secret (never the secret itself).
    pub secret_env: String,
    /// How long to wait for the endpoint (default 10 s).
    pub timeout_seconds: Option<u64>,
    /// Post signals too (default true).
    pub signals: Option<bool>,
}

impl FileConfig {
    /// The configured webhooks, their secrets read from the environment; an error names the
    /// entry and what is wrong (a missing variable, a bad URL, a name used twice).
    pub fn webhooks(&self) -> Result<Vec<crate::webhook::Webhook>, String> {
        let mut out: Vec<crate::webhook::Webhook> = Vec::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            let at = format!("webhooks[{i}] (`{}`)", w.name);
            let secret = std::env::var(&w.secret_env).map_err(|_| {
                format!(
                    "{at}: secret_env: the environment variable {} is not set",
                    w.secret_env
                )
            })?;
            let hook = crate::webhook::Webhook::new(
                &w.name,
                &w.url,
                secret.as_bytes(),
                Duration::from_secs(w.timeout_seconds.unwrap_or(10).clamp(1, 300)),
                w.signals.unwrap_or(true),
            )
            .map_err(|e| format!("{at}: {e}"))?;
            if out.iter().any(|h| h.consumer() == hook.consumer()) {
                return Err(format!("{at}: the name `{}` is used twice", w.name));
            }
            out.push(hook);
        }
        Ok(out)
    }
}

/// `[proxy]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// The header naming the person.
    pub header: String,
    /// The proxy's addresses (IP addresses, not names).
    pub trusted: Vec<String>,
}

impl ProxyConfig {
    /// The proxy as the portal takes it; an address that is not an IP address, a header name
    /// that cannot be one, or no trusted address is an error naming the setting.
    pub fn proxy(&self) -> Result<crate::Proxy, String> {
        if axum::http::HeaderName::from_bytes(self.header.as_bytes()).is_err() {
            return Err(format!(
                "proxy.header: \"{}\" is not a header name",
                self.header
            ));
        }
        if self.trusted.is_empty() {
            return Err("proxy.trusted: name the proxy's addresses (e.g. [\"127.0.0.1\"])".into());
        }
        let trusted = self
            .trusted
            .iter()
            .map(|a| {
                a.parse::<std::net::IpAddr>()
                    .map_err(|_| format!("proxy.trusted: \"{a}\" is not an IP address"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(crate::Proxy {
            header: self.header.to_ascii_lowercase(),
            trusted,
        })
    }
}

/// `[links]`: e-mail action links.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// The environment variable holding the signing secret (never the secret itself).
    /// Without it the server signs with a random secret: links die with the process.
    pub secret_env: Option<String>,
    /// How long a link works, in days (default 14).
    pub ttl_days: Option<u32>,
}

impl LinksConfig {
    /// The configured key (`None`: none configured), read from its variable.
    pub fn key(&self) -> Result<Option<crate::links::LinkKey>, String> {
        let Some(var) = &self.secret_env else {
            return Ok(None);
        };
        let secret = std::env::var(var)
            .map_err(|_| format!("links.secret_env: the environment variable {var} is not set"))?;
        crate::links::LinkKey::from_secret(&secret)
            .map(Some)
            .map_err(|e| format!("links.secret_env ({var}): {e}"))
    }

    /// How long a link works.
    pub fn ttl(&self) -> Result<chrono::Duration, String> {
        match self.ttl_days {
            None => Ok(chrono::Duration::days(14)),
            Some(0) => Err("links.ttl_days: a link must work for at least one day".into()),
            Some(d) => Ok(chrono::Duration::days(i64::from(d.min(366)))),
        }
    }
}

/// `[mail]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailConfig {
    pub transport: Option<TransportKind>,
    pub from: Option<String>,
    #[serde(default)]
    pub from_org: BTreeMap<String, String>,
    /// The folder of the `file` transport.
    pub dir: Option<PathBuf>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub security: Option<Security>,
    pub username: Option<String>,
    /// The environment variable holding the SMTP password (never the password itself).
    pub password_env: Option<String>,
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Log,
    File,
    Smtp,
}

impl FileConfig {
    /// Read and check a configuration file. Relative paths are made relative to its folder.
    pub fn load(path: &Path) -> Result<FileConfig, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("config file {}: {e}", path.display()))?;
        let mut c = FileConfig::parse(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new(""));
        let under = |p: &mut Option<PathBuf>| {
            if let Some(x) = p {
                if x.is_relative() && x.as_os_str() != ":memory:" {
                    *x = base.join(&*x);
                }
            }
        };
        under(&mut c.db);
        under(&mut c.workflows);
        under(&mut c.mail.dir);
        if let Some(r) = &mut c.retention {
            under(&mut r.export_dir);
        }
        c.mail_transport()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        c.links
            .key()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        c.links
            .ttl()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        c.metrics
            .allow()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        c.webhooks()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        c.retention()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(c)
    }

    /// Parse the text of a configuration file.
    pub fn parse(text: &str) -> Result<FileConfig, String> {
        toml::from_str(text).map_err(|e| {
            let msg = e.message().to_owned();
            match e.span() {
                Some(span) => {
                    let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
                    format!("line {line}: {msg}")
                }
                None => msg,
            }
        })
    }

    /// The mail transport the file asks for (`None`: the file says nothing about it).
    pub fn mail_transport(&self) -> Result<Option<Transport>, String> {
        let m = &self.mail;
        let kind = match m.transport {
            Some(k) => k,
            None if m.host.is_some() => TransportKind::Smtp,
            None if m.dir.is_some() => TransportKind::File,
            None => return Ok(None),
        };
        Ok(Some(match kind {
            TransportKind::Log => Transport::Log,
            TransportKind::File => Transport::File(
                m.dir
                    .clone()
                    .ok_or("mail.dir: the file transport needs a folder (dir = \"mail\")")?,
            ),
            TransportKind::Smtp => {
                let host = m.host.clone().filter(|h| !h.trim().is_empty()).ok_or(
                    "mail.host: the smtp transport needs a server (host = \"smtp.example.org\")",
                )?;
                let security = m.security.unwrap_or_default();
                let port = m.port.unwrap_or(match security {
                    Security::Starttls => 587,
                    Security::Tls => 465,
                    Security::None => 25,
                });
                let credentials = match (&m.username, &m.password_env) {
                    (None, None) => None,
                    (Some(u), Some(var)) => {
                        let password = std::env::var(var).map_err(|_| {
                            format!("mail.password_env: the environment variable {var} is not set")
                        })?;
                        Some((u.clone(), password))
                    }
                    (Some(_), None) => {
                        return Err("mail.password_env: a username needs the name of the variable holding its password".into())
                    }
                    (None, Some(_)) => {
                        return Err("mail.username: password_env is given without a username".into())
                    }
                };
                Transport::Smtp(Smtp {
                    host,
                    port,
                    security,
                    credentials,
                    timeout: Duration::from_secs(m.timeout_seconds.unwrap_or(10).max(1)),
                })
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_and_webhooks_are_checked() {
        let c = FileConfig::parse("[metrics]\nallow = [\"127.0.0.1\", \"::1\"]\n").expect("parses");
        assert_eq!(c.metrics.allow().expect("valid").len(), 2);
        let c = FileConfig::parse("[metrics]\nallow = [\"localhost\"]\n").expect("parses");
        let err = c.metrics.allow().expect_err("a name is no address");
        assert!(
            err.contains("metrics.allow") && err.contains("localhost"),
            "{err}"
        );

        let var = "MENTORFLOW_TEST_WEBHOOK_SECRET_CONFIG";
        let text = format!(
            "[[webhooks]]\nname = \"crm\"\nurl = \"http://127.0.0.1:9/x\"\nsecret_env = \"{var}\"\n"
        );
        let c = FileConfig::parse(&text).expect("parses");
        let err = c.webhooks().expect_err("the variable is not set");
        assert!(
            err.contains("webhooks[0] (`crm`)") && err.contains(var),
            "{err}"
        );
        // set once, for this test only (no other test reads it)
        std::env::set_var(var, "sixteen-characters-or-more");
        let hooks = c.webhooks().expect("valid");
        assert_eq!(hooks[0].consumer(), "webhook:crm");
        let twice = FileConfig::parse(&format!("{text}{text}")).expect("parses");
        let err = twice.webhooks().expect_err("one name twice");
        assert!(
            err.contains("webhooks[1]") && err.contains("twice"),
            "{err}"
        );
        let err =
            FileConfig::parse(&text.replace("secret_env", "secret")).expect_err("unknown key");
        assert!(err.contains("line"), "{err}");
    }

    #[test]
    fn the_retention_section_is_checked() {
        let c = FileConfig::parse(
            "[retention]\nat = \"03:00\"\ntime_zone = \"Europe/Zurich\"\nexport_dir = \"r\"\n",
        )
        .expect("parses");
        let t = c.retention().expect("valid").expect("on");
        assert_eq!(t.dir(), Path::new("r"));
        assert!(matches!(
            t.schedule(),
            mentorflow::RetentionSchedule::Daily { zone: Some(_), .. }
        ));
        let off =
            FileConfig::parse("[retention]\nevery = \"6h\"\nexport_dir = \"r\"\nenabled = false\n")
                .expect("parses");
        assert!(off.retention().expect("valid").is_none());
        assert!(FileConfig::default().retention().expect("valid").is_none());
        let c = FileConfig::parse("[retention]\nevery = \"6h\"\n").expect("parses");
        assert!(c
            .retention()
            .expect_err("no folder")
            .starts_with("retention.export_dir"));
        let c =
            FileConfig::parse("[retention]\nat = \"3am\"\nexport_dir = \"r\"\n").expect("parses");
        assert!(c
            .retention()
            .expect_err("bad time")
            .contains("retention.at"));
        let e = FileConfig::parse("[retention]\nhour = 3\n").expect_err("unknown key");
        assert!(e.starts_with("line 2:"), "{e}");
    }

    #[test]
    fn the_proxy_section_is_checked() {
        let c = FileConfig::parse(
            "[proxy]\nheader = \"X-Remote-User\"\ntrusted = [\"127.0.0.1\", \"::1\"]\n",
        )
        .expect("parses");
        let p = c.proxy.expect("proxy").proxy().expect("valid");
        assert_eq!(p.header, "x-remote-user");
        assert_eq!(p.trusted.len(), 2);
        let c =
            FileConfig::parse("[proxy]\nheader = \"X-Remote-User\"\ntrusted = [\"proxy.local\"]\n")
                .expect("parses");
        let err = c
            .proxy
            .expect("proxy")
            .proxy()
            .expect_err("a name is no address");
        assert!(
            err.contains("proxy.trusted") && err.contains("proxy.local"),
            "{err}"
        );
        let c = FileConfig::parse("[proxy]\nheader = \"X Remote\"\ntrusted = [\"127.0.0.1\"]\n")
            .expect("parses");
        assert!(c
            .proxy
            .expect("proxy")
            .proxy()
            .expect_err("bad header")
            .contains("proxy.header"));
    }

    #[test]
    fn a_full_file_reads() {
        let c = FileConfig::parse(
            "addr = \"127.0.0.1:9000\"\npublic_url = \"https://m.example.org\"\n[mail]\nhost = \"127.0.0.1\"\nport = 2525\nsecurity = \"none\"\nfrom = \"P <p@example.org>\"\n[mail.from_org]\nch12 = \"C <c@example.org>\"\n",
        )
        .expect("parses");
        assert_eq!(c.addr.as_deref(), Some("127.0.0.1:9000"));
        match c.mail_transport().expect("transport") {
            Some(Transport::Smtp(s)) => {
                assert_eq!((s.host.as_str(), s.port), ("127.0.0.1", 2525));
                assert_eq!(s.security, Security::None);
                assert!(s.credentials.is_none());
            }
            other => panic!("smtp expected, got {other:?}"),
        }
        assert_eq!(c.mail.from_org["ch12"], "C <c@example.org>");
    }

    #[test]
    fn mistakes_are_named_with_their_line() {
        let e = FileConfig::parse("addr = \"x\"\nadr = \"y\"\n").expect_err("unknown key");
        assert!(e.starts_with("line 2:") && e.contains("adr"), "{e}");
        let e = FileConfig::parse("[mail]\nport = \"many\"\n").expect_err("bad type");
        assert!(e.starts_with("line 2:"), "{e}");
        let e = FileConfig::parse("[mail]\ntransport = \"pigeon\"\n").expect_err("bad transport");
        assert!(e.contains("pigeon") || e.contains("variant"), "{e}");
        let c = FileConfig::parse("[mail]\ntransport = \"smtp\"\n").expect("parses");
        assert!(c
            .mail_transport()
            .expect_err("no host")
            .starts_with("mail.host"));
        let c = FileConfig::parse("[mail]\nhost = \"h\"\nusername = \"u\"\n").expect("parses");
        assert!(c
            .mail_transport()
            .expect_err("no password")
            .starts_with("mail.password_env"));
        let c = FileConfig::parse(
            "[mail]\nhost = \"h\"\nusername = \"u\"\npassword_env = \"MF_SURELY_UNSET_VAR\"\n",
        )
        .expect("parses");
        assert!(c
            .mail_transport()
            .expect_err("unset")
            .contains("MF_SURELY_UNSET_VAR"));
        let c = FileConfig::parse("[links]\nsecret_env = \"MF_SURELY_UNSET_VAR\"\nttl_days = 0\n")
            .expect("parses");
        assert!(c
            .links
            .key()
            .expect_err("unset")
            .starts_with("links.secret_env"));
        assert!(c
            .links
            .ttl()
            .expect_err("zero")
            .starts_with("links.ttl_days"));
        let e = FileConfig::parse("[links]\nsecret = \"x\"\n").expect_err("the secret itself");
        assert!(e.starts_with("line 2:"), "{e}");
    }
}
