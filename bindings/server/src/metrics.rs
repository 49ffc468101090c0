//! `GET /metrics`: the engine's metrics ([`mentorflow::Engine::metrics`]) in the Prometheus
//! text format. Who may read it: a request with an operator's API token
//! (`Authorization: Bearer …`, the person holding an operator role), or a connection from an
//! address the configuration allows (`[metrics] allow = ["127.0.0.1"]`), unless that address
//! is a trusted reverse proxy's (which forwards other people's requests). Anyone else gets
//! 403 and nothing is read.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use mentorflow::CredentialKind;

use crate::App;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

fn refused(why: &str) -> Response {
    (StatusCode::FORBIDDEN, format!("{why}\n")).into_response()
}

pub(crate) async fn metrics(State(app): State<App>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let config = app.config();
    let by_address = peer.is_some_and(|ip| {
        config.metrics_allow.contains(&ip)
            && !config
                .proxy
                .as_ref()
                .is_some_and(|p| p.trusted.contains(&ip))
    });
    if !by_address {
        let bearer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|v| v.trim().to_owned());
        let Some(token) = bearer else {
            return refused(
                "/metrics needs an operator's API token (Authorization: Bearer …) or an address in [metrics] allow",
            );
        };
        let operator = app
            .run(move |e| {
                let Some(c) = e.credential(&token, CredentialKind::ApiToken, None)? else {
                    return Ok(false);
                };
                e.is_operator(&c.person)
            })
            .await;
        match operator {
            Ok(true) => {}
            Ok(false) => {
                return refused(
                    "/metrics is for operators: this token's person holds no operator role",
                )
            }
            Err(e) => return crate::ApiError(e).into_response(),
        }
    }
    match app.run(|e| e.metrics()).await {
        Ok(m) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.to_prometheus()).into_response(),
        Err(e) => crate::ApiError(e).into_response(),
    }
}
