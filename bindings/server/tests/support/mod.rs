//! Helpers shared by the portal's route tests: credentials, requests as a signed-in person
//! (forms with or without the CSRF token), and sending them through the router.
#![allow(dead_code)] // each test file uses a part

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use mentorflow::{CredentialKind, Engine};
use mentorflow_server::{csrf_token, App};
use tower::ServiceExt;

/// A new secret stored as `person`'s credential of `kind`, valid for an hour.
pub fn credential(e: &Engine, person: &str, kind: CredentialKind) -> String {
    let secret = mentorflow_server::new_secret();
    e.create_credential(
        &secret,
        kind,
        person,
        "test",
        Some(chrono::Duration::hours(1)),
    )
    .unwrap();
    secret
}

/// A signed-in session of `person` (the cookie's value).
pub fn session(e: &Engine, person: &str) -> String {
    credential(e, person, CredentialKind::Session)
}

/// The status, the `Location` header (or "") and the body of the router's answer.
pub async fn send(app: &App, req: Request<Body>) -> (StatusCode, String, String) {
    let r = app.router().oneshot(req).await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body =
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    (status, location, body)
}

/// A page request in session `s`.
pub fn get(path: &str, s: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, format!("mf_session={s}"))
        .body(Body::empty())
        .unwrap()
}

/// A form post in session `s`, with the session's CSRF token when `csrf`.
pub fn post(path: &str, s: &str, fields: &[(&str, &str)], csrf: bool) -> Request<Body> {
    let token = csrf_token(s);
    let mut all: Vec<(&str, &str)> = Vec::new();
    if csrf {
        all.push(("_csrf", &token));
    }
    all.extend_from_slice(fields);
    let enc = |s: &str| {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let body = all
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    Request::post(path)
        .header(header::COOKIE, format!("mf_session={s}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}
