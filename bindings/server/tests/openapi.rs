//! The OpenAPI document (`/openapi.json`): a snapshot of it, and checks that it and the
//! routes agree — every documented operation is served, every `/api` route of the API table
//! in docs/serve.md is documented and the other way round, and a path that is no route is
//! not. (tests/api.sh runs schemathesis against a real server with this document.)
//!
//! Update the snapshot after an intended change with
//! `MF_UPDATE_SNAPSHOT=1 cargo test -p mentorflow-server --test openapi`.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use mentorflow::Engine;
use mentorflow_server::{App, Config};
use serde_json::Value;
use tower::ServiceExt;

const SNAPSHOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/openapi.snapshot.json");

fn app() -> App {
    let engine = Engine::builder()
        .in_memory()
        .workflows_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows"))
        .build()
        .unwrap();
    App::new(Arc::new(engine), Config::default())
}

async fn send(app: &App, method: Method, path: &str) -> (StatusCode, Value) {
    let r = app
        .router()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(path)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The served document, with the crate version blanked (it changes with every release).
async fn served() -> Value {
    let (status, mut doc) = send(&app(), Method::GET, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    doc["info"]["version"] = Value::String("VERSION".into());
    doc
}

/// (METHOD, path with `{}` for each parameter) of every documented operation.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                out.insert((method.to_uppercase(), blank_params(path)));
            }
        }
    }
    out
}

/// `/api/cases/{id}` and `/api/cases/ID` both become `/api/cases/{}`.
fn blank_params(path: &str) -> String {
    path.split('/')
        .map(|seg| {
            let param = (seg.starts_with('{') && seg.ends_with('}'))
                || (!seg.is_empty() && seg.chars().all(|c| c.is_ascii_uppercase()));
            if param {
                "{}"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_document_matches_its_snapshot() {
    let doc = served().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let text = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    if std::env::var_os("MF_UPDATE_SNAPSHOT").is_some() {
        std::fs::write(SNAPSHOT, &text).unwrap();
    }
    let want = std::fs::read_to_string(SNAPSHOT)
        .expect("no snapshot: run with MF_UPDATE_SNAPSHOT=1 once and commit it");
    assert!(
        text == want,
        "/openapi.json differs from {SNAPSHOT}; if the change is intended, run with \
         MF_UPDATE_SNAPSHOT=1 and commit the snapshot.\n--- served ---\n{text}"
    );
    // the library call gives the same document
    let mut direct = serde_json::to_value(mentorflow_server::openapi_document()).unwrap();
    direct["info"]["version"] = Value::String("VERSION".into());
    assert_eq!(direct, doc);
}

#[tokio::test]
async fn every_documented_operation_is_served() {
    let doc = served().await;
    let ops = operations(&doc);
    assert!(ops.len() >= 9, "{ops:?}");
    let app = app();
    for (method, path) in &ops {
        assert!(path.starts_with("/api/"), "{path}");
        let concrete = path.replace("{}", "1");
        let m = Method::from_bytes(method.as_bytes()).unwrap();
        // every API route wants a caller: a served route answers 401, a missing one 404
        let (status, body) = send(&app, m, &concrete).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "{method} {concrete}: {body}"
        );
        assert_eq!(
            body["error"]["code"], "not_signed_in",
            "{method} {concrete}"
        );
        // and each documents that answer
        let raw_path = doc["paths"]
            .as_object()
            .unwrap()
            .keys()
            .find(|k| blank_params(k) == *path)
            .unwrap();
        let op = &doc["paths"][raw_path][method.to_lowercase()];
        assert!(op["responses"]["401"].is_object(), "{method} {raw_path}");
        assert!(op["operationId"].is_string(), "{method} {raw_path}");
    }
    // a path that is no route is not served
    let (status, body) = send(&app, Method::GET, "/api/no-such-thing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
}

#[tokio::test]
async fn the_api_table_in_the_docs_and_the_document_agree() {
    let md = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/serve.md"))
        .unwrap();
    // rows like "| `POST /api/cases/ID/actions/ACTION` `{...}` | ..."
    let mut documented = BTreeSet::new();
    for line in md.lines() {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let Some((method, rest)) = rest.split_once(' ') else {
            continue;
        };
        if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method) {
            continue;
        }
        let path: String = rest
            .chars()
            .take_while(|c| !matches!(c, '`' | '?' | ' '))
            .collect();
        if path.starts_with("/api/") {
            documented.insert((method.to_owned(), blank_params(&path)));
        }
    }
    let ops = operations(&served().await);
    assert_eq!(
        documented, ops,
        "docs/serve.md's API table and /openapi.json list different operations"
    );
}
