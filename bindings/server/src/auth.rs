//! Sign-in, sessions and CSRF.
//!
//! * A browser session is a random secret in the `mf_session` cookie (HttpOnly,
//!   SameSite=Lax, Secure when configured); the engine stores only its hash
//!   ([`mentorflow::Engine::create_credential`]).
//! * Every form carries a CSRF token derived from the session secret (or, before sign-in, from
//!   the `mf_pre` cookie): `sha256("csrf:" + secret)`. A POST whose token does not match is
//!   refused with 403 and changes nothing.
//! * The API takes `Authorization: Bearer <token>` (an API token credential).

use axum::extract::FromRequestParts;
use axum::http::header::{AUTHORIZATION, COOKIE};
use axum::http::request::Parts;
use mentorflow::{CredentialKind, Person};
use rand::distr::{Alphanumeric, SampleString};

use crate::error::Failure;
use crate::App;

pub const SESSION_COOKIE: &str = "mf_session";
pub const PRE_COOKIE: &str = "mf_pre";

/// A new random secret (43 alphanumerics, ~256 bits).
pub fn secret() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 43)
}

/// The CSRF token for a cookie secret.
pub fn csrf_for(secret: &str) -> String {
    mentorflow::auth::hash_secret(&format!("csrf:{secret}"))
}

/// A cookie's value from the request headers.
pub fn cookie(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// A `Set-Cookie` value.
pub fn set_cookie(app: &App, name: &str, value: &str, max_age: Option<chrono::Duration>) -> String {
    let mut c = cookie::Cookie::build((name.to_owned(), value.to_owned()))
        .path("/")
        .http_only(true)
        .same_site(cookie::SameSite::Lax)
        .secure(app.config().secure_cookies);
    if let Some(age) = max_age {
        c = c.max_age(cookie::time::Duration::seconds(age.num_seconds()));
    }
    c.build().to_string()
}

/// The signed-in person of a console request.
#[derive(Debug, Clone)]
pub struct Session {
    pub person: Person,
    pub secret: String,
    pub csrf: String,
}

impl Session {
    /// Refuse a form whose token is not this session's.
    pub fn check(&self, token: &str) -> Result<(), Failure> {
        if constant_eq(token, &self.csrf) {
            Ok(())
        } else {
            Err(Failure::Csrf)
        }
    }
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Check a pre-sign-in form's token against the `mf_pre` cookie.
pub fn check_pre(pre: Option<&str>, token: &str) -> Result<(), Failure> {
    match pre {
        Some(p) if constant_eq(&csrf_for(p), token) => Ok(()),
        _ => Err(Failure::Csrf),
    }
}

/// The person a trusted reverse proxy names in its header (`Config::proxy`): only on a
/// connection from one of its addresses; the header from anywhere else is ignored.
async fn proxy_person(parts: &Parts, app: &App) -> Result<Option<Person>, Failure> {
    let Some(proxy) = &app.config().proxy else {
        return Ok(None);
    };
    let Some(peer) = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
    else {
        return Ok(None);
    };
    if !proxy.trusted.contains(&peer) {
        return Ok(None);
    }
    let Some(user) = parts
        .headers
        .get(proxy.header.as_str())
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
    else {
        return Ok(None);
    };
    app.run(move |e| match e.person(&user) {
        Ok(p) => Ok(Some(p)),
        Err(mentorflow::Error::NotFound { .. }) => {
            let mut by_mail = e.people_by_email(&user)?;
            Ok(if by_mail.len() == 1 {
                by_mail.pop()
            } else {
                None
            })
        }
        Err(other) => Err(other),
    })
    .await
}

async fn session_of(parts: &Parts, app: &App) -> Result<Option<Session>, Failure> {
    let Some(secret) = cookie(parts, SESSION_COOKIE) else {
        // single sign-on: the proxy's header, with a CSRF secret per person and process
        return Ok(proxy_person(parts, app).await?.map(|person| {
            let secret = format!("proxy:{}:{}", app.proxy_secret(), person.id);
            Session {
                csrf: csrf_for(&secret),
                secret,
                person,
            }
        }));
    };
    let slide = Some(app.config().session_ttl);
    let s = secret.clone();
    let found = app
        .run(move |e| {
            let Some(c) = e.credential(&s, CredentialKind::Session, slide)? else {
                return Ok(None);
            };
            // a person removed from the directory is signed out
            match e.person(&c.person) {
                Ok(p) => Ok(Some(p)),
                Err(mentorflow::Error::NotFound { .. }) => Ok(None),
                Err(other) => Err(other),
            }
        })
        .await?;
    Ok(found.map(|person| Session {
        person,
        csrf: csrf_for(&secret),
        secret,
    }))
}

impl FromRequestParts<App> for Session {
    type Rejection = crate::PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        // a page asked for without a session (a link in an e-mail): back there after sign-in
        let next = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .filter(|_| parts.method == axum::http::Method::GET)
            .and_then(|p| safe_next(&p));
        session_of(parts, app)
            .await?
            .ok_or(crate::PageError(match next {
                Some(n) if n != "/" => Failure::SignInFor(n),
                _ => Failure::NotSignedIn,
            }))
    }
}

/// A path to go to after sign-in: only a path of this site (`/cases/7`), never another
/// site (`//evil.example`, `https://…`, `/\\evil`).
pub fn safe_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(char::is_control)
        && next.len() <= 2000;
    ok.then(|| next.to_owned())
}

/// Percent-encode a path for a query value.
pub fn encode_path(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A signed-in console request or nobody (pages that work either way).
#[derive(Debug, Clone)]
pub struct MaybeSession(pub Option<Session>);

impl FromRequestParts<App> for MaybeSession {
    type Rejection = crate::PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        Ok(MaybeSession(session_of(parts, app).await?))
    }
}

/// The person an API request acts as: a bearer API token, or a browser session (then unsafe
/// methods need the session's CSRF token in `X-CSRF-Token`).
#[derive(Debug, Clone)]
pub struct ApiCaller {
    pub person: Person,
}

impl FromRequestParts<App> for ApiCaller {
    type Rejection = crate::ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let bearer = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|v| v.trim().to_owned());
        if let Some(token) = bearer {
            let person = app
                .run(move |e| {
                    let Some(c) = e.credential(&token, CredentialKind::ApiToken, None)? else {
                        return Ok(None);
                    };
                    match e.person(&c.person) {
                        Ok(p) => Ok(Some(p)),
                        Err(mentorflow::Error::NotFound { .. }) => Ok(None),
                        Err(other) => Err(other),
                    }
                })
                .await?;
            return person
                .map(|person| ApiCaller { person })
                .ok_or(crate::ApiError(Failure::NotSignedIn));
        }
        let Some(session) = session_of(parts, app).await? else {
            return Err(crate::ApiError(Failure::NotSignedIn));
        };
        if !parts.method.is_safe() {
            let token = parts
                .headers
                .get("x-csrf-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            session.check(token)?;
        }
        Ok(ApiCaller {
            person: session.person,
        })
    }
}
