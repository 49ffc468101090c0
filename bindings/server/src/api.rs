//! The JSON API under `/api`: the same things as the pages, as the signed-in caller (a
//! bearer API token, or a browser session with `X-CSRF-Token` on unsafe methods).
//!
//! Acting takes the revision the caller saw in `If-Match` (a bare number or `"3"`) and an
//! `Idempotency-Key` header: a retried request acts once.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use mentorflow::{ActOptions, Error, Start, ViewQuery};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::auth::ApiCaller;
use crate::error::Failure;
use crate::{ApiError, App};

pub fn routes() -> Router<App> {
    Router::new()
        .route("/me", get(me))
        .route("/views", get(views))
        .route("/views/{workflow}/{view}", get(view))
        .route("/start-actions", get(start_actions))
        .route("/cases", post(start))
        .route("/cases/{id}", get(case))
        .route("/cases/{id}/history", get(history))
        .route("/cases/{id}/actions", get(actions))
        .route("/cases/{id}/actions/{action}", post(act))
        .fallback(not_found)
}

async fn not_found() -> ApiError {
    ApiError(Failure::Engine(Error::NotFound {
        kind: "route",
        id: "this path".into(),
        hint: None,
    }))
}

fn case_id(raw: &str) -> Result<i64, Failure> {
    raw.parse::<i64>().map_err(|_| {
        Failure::Engine(Error::NotFound {
            kind: "case",
            id: raw.to_owned(),
            hint: None,
        })
    })
}

async fn me(c: ApiCaller) -> Json<Value> {
    Json(
        json!({"id": c.person.id, "name": c.person.name, "org": c.person.org, "roles": c.person.roles}),
    )
}

async fn views(State(app): State<App>, c: ApiCaller) -> Result<Json<Value>, ApiError> {
    let me = c.person.id;
    let v = app.run(move |e| e.view_counts(&me)).await?;
    Ok(Json(json!({ "views": v })))
}

/// `?offset=&limit=&sort=&desc=&state=&q=&f.FIELD=`
async fn view(
    State(app): State<App>,
    c: ApiCaller,
    Path((workflow, view)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut q = ViewQuery::default();
    for (k, v) in &params {
        let num = |name: &str| -> Result<usize, Failure> {
            v.parse::<usize>().map_err(|_| {
                Failure::bad(name, format!("{name} must be a whole number, got \"{v}\""))
            })
        };
        match k.as_str() {
            "offset" => q.offset = num("offset")?,
            "limit" => q.limit = num("limit")?.min(500),
            "sort" => q.sort = Some(v.clone()),
            "desc" => q.descending = Some(v == "1" || v == "true"),
            "state" => q.states.push(v.clone()),
            "q" => q.search = Some(v.clone()),
            k if k.starts_with("f.") => {
                let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.clone()));
                q.fields.push((k[2..].to_owned(), value));
            }
            other => {
                return Err(
                    Failure::bad(other, format!("unknown query parameter `{other}`")).into(),
                )
            }
        }
    }
    let me = c.person.id;
    let page = app
        .run(move |e| {
            // only the views the engine offers this person
            if !e
                .views_for(&me)?
                .iter()
                .any(|x| x.workflow == workflow && x.name == view)
            {
                return Err(mentorflow::Error::NotFound {
                    kind: "view",
                    id: format!("{workflow}.{view}"),
                    hint: None,
                });
            }
            e.view_page(&format!("{workflow}.{view}"), &me, &q)
        })
        .await?;
    Ok(Json(json!(page)))
}

async fn start_actions(State(app): State<App>, c: ApiCaller) -> Result<Json<Value>, ApiError> {
    let me = c.person.id;
    let s = app.run(move |e| e.start_actions_for(&me)).await?;
    Ok(Json(json!({ "start_actions": s })))
}

async fn case(
    State(app): State<App>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = case_id(&id)?;
    let me = c.person.id;
    let (case, actions, timers, participants) = app
        .run(move |e| {
            let case = e.get(id, Some(&me))?;
            Ok((
                case,
                e.actions(id, &me)?,
                e.timers(id)?,
                e.participants(id, Some(&me))?,
            ))
        })
        .await?;
    let etag = format!("\"{}\"", case.revision);
    let mut r = Json(
        json!({"case": case, "actions": actions, "timers": timers, "participants": participants}),
    )
    .into_response();
    if let Ok(v) = etag.parse() {
        r.headers_mut().insert(axum::http::header::ETAG, v);
    }
    Ok(r)
}

async fn history(
    State(app): State<App>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = case_id(&id)?;
    let me = c.person.id;
    let h = app.run(move |e| e.history(id, Some(&me))).await?;
    Ok(Json(json!({ "events": h })))
}

async fn actions(
    State(app): State<App>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = case_id(&id)?;
    let me = c.person.id;
    let list = app
        .run(move |e| {
            let case = e.get(id, Some(&me))?;
            let def = e.definition_of(&case)?;
            let (now, not_now): (Vec<_>, Vec<_>) = e
                .action_availability(id, &me)?
                .into_iter()
                .partition(|a| a.available());
            let actions: Vec<Value> = now
                .iter()
                .filter_map(|a| def.action(&a.action).map(|a| json!({"id": a.id, "label": a.label, "description": a.description, "inputs": a.inputs})))
                .collect();
            let unavailable: Vec<Value> = not_now
                .into_iter()
                .map(|a| json!({"id": a.action, "label": a.label, "description": a.description, "unavailable": a.unavailable}))
                .collect();
            Ok((actions, unavailable))
        })
        .await?;
    // `actions`: what the caller may do now; `unavailable`: their other actions, each with
    // why not (`reason` state|guard, `message`, `suggest`, `possible_in`)
    Ok(Json(json!({ "actions": list.0, "unavailable": list.1 })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ActBody {
    #[serde(default)]
    inputs: Map<String, Value>,
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_owned())
}

fn body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(raw)
        .map_err(|e| Failure::bad("body", format!("the body must be JSON: {e}")))
}

async fn act(
    State(app): State<App>,
    c: ApiCaller,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let id = case_id(&id)?;
    let b: ActBody = if raw.is_empty() {
        ActBody { inputs: Map::new() }
    } else {
        body(&raw)?
    };
    let revision = match header(&headers, "if-match") {
        None => None,
        Some(v) => Some(v.trim_matches('"').parse::<u64>().map_err(|_| {
            Failure::bad(
                "If-Match",
                format!("If-Match must be the case's revision (a number), got {v}"),
            )
        })?),
    };
    let options = ActOptions {
        revision,
        idempotency_key: header(&headers, "idempotency-key"),
    };
    let me = c.person.id;
    let case = app
        .run(move |e| e.act_with(id, &action, &me, Value::Object(b.inputs), &options))
        .await?;
    app.wake();
    Ok(Json(json!({ "case": case })).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    workflow: String,
    action: Option<String>,
    #[serde(default)]
    inputs: Map<String, Value>,
}

async fn start(
    State(app): State<App>,
    c: ApiCaller,
    headers: HeaderMap,
    raw: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let b: StartBody = body(&raw)?;
    let key = header(&headers, "idempotency-key");
    let me = c.person.id;
    let case = app
        .run(move |e| {
            e.start_with(Start {
                workflow: b.workflow,
                action: b.action,
                actor: me,
                org: None,
                data: Map::new(),
                inputs: b.inputs,
                idempotency_key: key,
            })
        })
        .await?;
    app.wake();
    Ok((StatusCode::CREATED, Json(json!({ "case": case }))).into_response())
}
