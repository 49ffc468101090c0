//! # mentorflow-server: the portal
//!
//! `mentorflow serve` runs this: a web console generated from the loaded workflow
//! definitions (home with the person's views, view lists, case pages with the actions the
//! person may take now as forms, start forms), a JSON API under `/api`, sign-in by e-mailed
//! link, the timer worker and outbox delivery (with signed action links, [`links`]).
//!
//! The portal decides no access itself: every page and API call acts as the signed-in person
//! through the engine ([`mentorflow::Engine::get`] with the person, `view_page`, `act_with`…),
//! so what a person sees and may do is exactly the engine's. A case one may not see answers
//! 404, like a missing one.
//!
//! The JSON API's OpenAPI document is generated from its routes and served at
//! `/openapi.json` ([`openapi_document`]).
//!
//! The engine is synchronous; every call to it runs on tokio's blocking pool
//! (`App::run`), never on the async threads.

use std::sync::Arc;

use axum::Router;
use mentorflow::Engine;

mod admin;
mod api;
mod auth;
pub mod config_file;
mod error;
mod forms;
pub mod jobs;
pub mod links;
pub mod logging;
pub mod mail;
mod metrics;
pub mod openapi;
mod ops;
mod ops_api;
mod pages;
pub mod password;
mod render;
pub mod webhook;
pub mod worker;

pub use error::{ApiError, PageError};
pub use pages::HISTORY_SHOWN;

/// The CSRF token forms carry for a session (or pre-sign-in cookie) secret.
pub fn csrf_token(secret: &str) -> String {
    auth::csrf_for(secret)
}

/// A new random secret (for tokens and sessions).
pub fn new_secret() -> String {
    auth::secret()
}

/// The sender when none is configured.
pub const DEFAULT_FROM: &str = "mentorflow <noreply@localhost>";

/// How the portal is configured (`mentorflow serve` fills it from flags and the config file).
#[derive(Debug, Clone)]
pub struct Config {
    /// The address people reach the portal at (links in e-mails), without a trailing slash.
    pub public_url: String,
    /// Demo mode: a page to sign in as any person of the directory, links printed at start.
    pub demo: bool,
    /// Mark cookies `Secure` (served over TLS, or behind a TLS-terminating proxy).
    pub secure_cookies: bool,
    /// How long a browser session lasts without use.
    pub session_ttl: chrono::Duration,
    /// How long an e-mailed sign-in link works.
    pub sign_in_ttl: chrono::Duration,
    /// Where e-mail goes: sign-in links, and the outbox's notifications when
    /// [`mail::NotificationMailer`] is attached.
    pub mail: mail::Transport,
    /// The sender of the portal's e-mails (`Name <address>`).
    pub mail_from: String,
    /// Organisations' own senders, by organisation id.
    pub mail_from_org: std::collections::BTreeMap<String, String>,
    /// The secret e-mail action links are signed with ([`links`]); random by default, so
    /// links stop working when the server restarts unless the configuration gives one.
    pub link_key: links::LinkKey,
    /// How long an e-mail action link works.
    pub link_ttl: chrono::Duration,
    /// Single sign-on by a trusted reverse proxy's header (`[proxy]`), if configured.
    pub proxy: Option<Proxy>,
    /// Addresses that may read `/metrics` without a token (`[metrics] allow`); empty by
    /// default: only an operator's API token reads it. A trusted proxy's address never does.
    pub metrics_allow: Vec<std::net::IpAddr>,
    /// Retention run by the timer worker on a schedule (`[retention]`); off when `None`.
    pub retention: Option<mentorflow::RetentionTimer>,
}

/// A reverse proxy that signs people in: its header names the person (a directory id, or
/// else an e-mail address that only one person has), and is believed only on connections
/// from the trusted addresses; from anywhere else it is ignored.
#[derive(Debug, Clone)]
pub struct Proxy {
    /// The header, e.g. `X-Remote-User`.
    pub header: String,
    /// The proxy's own addresses.
    pub trusted: Vec<std::net::IpAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            public_url: "http://127.0.0.1:8080".into(),
            demo: false,
            secure_cookies: false,
            session_ttl: chrono::Duration::hours(12),
            sign_in_ttl: chrono::Duration::minutes(30),
            mail: mail::Transport::Log,
            mail_from: DEFAULT_FROM.into(),
            mail_from_org: Default::default(),
            link_key: links::LinkKey::random(),
            link_ttl: chrono::Duration::days(14),
            proxy: None,
            metrics_allow: Vec::new(),
            retention: None,
        }
    }
}

/// The shared state of the portal.
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    engine: Arc<Engine>,
    config: Config,
    mailer: mail::Mailer,
    /// Poked after every command through the portal: the timer worker looks again.
    wake: tokio::sync::Notify,
    /// Failed password sign-ins.
    limiter: password::Limiter,
    /// The CSRF secret of people signed in by the proxy header (per process).
    proxy_secret: String,
}

impl App {
    /// A portal over an engine. A mail configuration that does not hold (a sender that is
    /// not an address) is an error naming the setting.
    pub fn try_new(engine: Arc<Engine>, config: Config) -> Result<Self, String> {
        let mailer = mail::Mailer::new(
            config.mail.clone(),
            &config.mail_from,
            &config.mail_from_org,
        )?;
        Ok(App {
            inner: Arc::new(Inner {
                engine,
                config,
                mailer,
                wake: tokio::sync::Notify::new(),
                limiter: password::Limiter::default(),
                proxy_secret: auth::secret(),
            }),
        })
    }

    /// A portal over an engine; a mail configuration that does not hold is logged and mail
    /// is printed instead (see [`App::try_new`]).
    pub fn new(engine: Arc<Engine>, mut config: Config) -> Self {
        match App::try_new(engine.clone(), config.clone()) {
            Ok(app) => app,
            Err(e) => {
                tracing::error!("mail: {e}; printing mail instead");
                config.mail = mail::Transport::Log;
                config.mail_from = DEFAULT_FROM.into();
                config.mail_from_org.clear();
                let mailer =
                    mail::Mailer::new(mail::Transport::Log, DEFAULT_FROM, &config.mail_from_org)
                        .expect("the default sender is an address");
                App {
                    inner: Arc::new(Inner {
                        engine,
                        config,
                        mailer,
                        wake: tokio::sync::Notify::new(),
                        limiter: password::Limiter::default(),
                        proxy_secret: auth::secret(),
                    }),
                }
            }
        }
    }

    /// The mailer (sign-in links, notifications).
    pub fn mailer(&self) -> &mail::Mailer {
        &self.inner.mailer
    }

    /// The engine.
    pub fn engine(&self) -> &Arc<Engine> {
        &self.inner.engine
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The failed sign-in counts.
    pub(crate) fn limiter(&self) -> &password::Limiter {
        &self.inner.limiter
    }

    pub(crate) fn proxy_secret(&self) -> &str {
        &self.inner.proxy_secret
    }

    /// Tell the timer worker that something changed (a new timer may be due sooner).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Run engine work on the blocking pool.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, error::Failure>
    where
        T: Send + 'static,
        F: FnOnce(&Engine) -> mentorflow::Result<T> + Send + 'static,
    {
        let engine = self.inner.engine.clone();
        match tokio::task::spawn_blocking(move || f(&engine)).await {
            Ok(r) => r.map_err(error::Failure::Engine),
            Err(e) => {
                tracing::error!("engine task failed: {e}");
                Err(error::Failure::Internal)
            }
        }
    }

    /// The router: pages, `/api`, static files.
    pub fn router(&self) -> Router {
        let security = tower::ServiceBuilder::new()
            .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::CONTENT_SECURITY_POLICY,
                axum::http::HeaderValue::from_static(
                    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
            ))
            .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::X_CONTENT_TYPE_OPTIONS,
                axum::http::HeaderValue::from_static("nosniff"),
            ))
            .layer(tower_http::set_header::SetResponseHeaderLayer::if_not_present(
                axum::http::header::REFERRER_POLICY,
                axum::http::HeaderValue::from_static("same-origin"),
            ))
            .layer(tower_http::limit::RequestBodyLimitLayer::new(256 * 1024));
        let (api, doc) = api_parts();
        let doc = Arc::new(doc);
        pages::routes()
            .merge(admin::routes())
            .route("/metrics", axum::routing::get(metrics::metrics))
            .merge(api)
            .route(
                "/openapi.json",
                axum::routing::get(move || {
                    let doc = doc.clone();
                    async move { axum::Json(doc.as_ref().clone()) }
                }),
            )
            .layer(security)
            .with_state(self.clone())
    }
}

/// The `/api` routes and their OpenAPI document, made together (see [`openapi`]).
fn api_parts() -> (Router<App>, utoipa::openapi::OpenApi) {
    use utoipa::OpenApi;
    utoipa_axum::router::OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .nest(
            "/api",
            api::routes()
                .merge(ops_api::routes())
                .fallback(api::not_found),
        )
        .split_for_parts()
}

/// The JSON API's OpenAPI document (3.1), as served at `/openapi.json`.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    api_parts().1
}

/// Serve on a bound listener until SIGINT or SIGTERM: the HTTP server and the timer worker.
/// On a signal, the server stops taking connections, requests in flight finish (each engine
/// command is one transaction, so nothing is left half-done), then the worker stops after
/// its current sweep.
pub async fn serve(app: App, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(worker::run(app.clone(), stop_rx));
    let result = axum::serve(
        listener,
        app.router()
            .into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await;
    let _ = stop_tx.send(true);
    if let Err(e) = worker.await {
        tracing::error!("timer worker: {e}");
    }
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
    eprintln!("mentorflow serve: stopping (finishing requests in flight)");
}

/// Run [`serve`] on its own runtime (for the command line). `ready` is called with the
/// bound address before the first request is taken.
pub fn serve_blocking(
    app: App,
    addr: &str,
    ready: impl FnOnce(std::net::SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        serve(app, listener).await
    })
}
