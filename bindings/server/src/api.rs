//! The JSON API under `/api`: the same things as the pages, as the signed-in caller (a
//! bearer API token, or a browser session with `X-CSRF-Token` on unsafe methods).
//!
//! Acting takes the revision the caller saw in `If-Match` (a bare number or `"3"`) and an
//! `Idempotency-Key` header: a retried request acts once.
//!
//! Every route is mounted through `utoipa_axum::routes!`, so it is in the OpenAPI document
//! (`/openapi.json`, see `openapi`) by construction.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use mentorflow::{ActOptions, Error, Start, ViewQuery};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiCaller;
use crate::error::Failure;
use crate::openapi::{self as doc, ErrorBody};
use crate::{ApiError, App};

/// The API's routes with their OpenAPI operations (paths relative to `/api`).
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(views))
        .routes(routes!(view))
        .routes(routes!(start_actions))
        .routes(routes!(start))
        .routes(routes!(case))
        .routes(routes!(history))
        .routes(routes!(actions))
        .routes(routes!(act))
}

pub async fn not_found() -> ApiError {
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

#[utoipa::path(get, path = "/me", tag = "people", operation_id = "me",
    responses((status = 200, description = "The caller", body = doc::Me), (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn me(c: ApiCaller) -> Json<doc::Me> {
    Json(doc::Me {
        id: c.person.id,
        name: c.person.name,
        org: c.person.org,
        roles: c.person.roles,
    })
}

#[utoipa::path(get, path = "/views", tag = "views", operation_id = "views",
    responses((status = 200, description = "The caller's views with their counts", body = doc::Views), (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn views(State(app): State<App>, c: ApiCaller) -> Result<Json<Value>, ApiError> {
    let me = c.person.id;
    let v = app.run(move |e| e.view_counts(&me)).await?;
    Ok(Json(json!({ "views": v })))
}

/// `?offset=&limit=&sort=&desc=&state=&q=&f.FIELD=`
#[utoipa::path(get, path = "/views/{workflow}/{view}", tag = "views", operation_id = "view_page",
    description = "A page of a view the caller uses. Besides the parameters below, `f.FIELD=VALUE` filters on a field (VALUE as JSON, or else a string); any other parameter is refused with 400.",
    params(
        ("workflow" = String, Path, description = "The view's workflow", example = "score_request"),
        ("view" = String, Path, description = "The view's name", example = "intake_queue"),
        ("offset" = Option<i32>, Query, minimum = 0, description = "Cases to skip"),
        ("limit" = Option<i32>, Query, minimum = 0, maximum = 500, description = "Cases per page (at most 500)"),
        ("sort" = Option<String>, Query, description = "A column to sort by"),
        ("desc" = Option<bool>, Query, description = "Sort descending"),
        ("state" = Option<Vec<String>>, Query, explode, description = "Only cases in these states"),
        ("q" = Option<String>, Query, description = "Search text"),
    ),
    responses((status = 200, description = "A page of the view", body = doc::ViewPage),
        (status = 400, description = "A parameter that does not hold", body = ErrorBody), (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 404, description = "No such view, or not one the caller uses", body = ErrorBody)))]
async fn view(
    State(app): State<App>,
    c: ApiCaller,
    Path((workflow, view)): Path<(String, String)>,
    Query(params): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let mut q = ViewQuery::default();
    for (k, v) in &params {
        // whole numbers from 0 to 2^31-1 (the document's int32), a page at most 500
        let num = |name: &str, max: u32| -> Result<usize, Failure> {
            match v.parse::<u32>() {
                Ok(n) if n <= max => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
                _ => Err(Failure::bad(
                    name,
                    format!("{name} must be a whole number from 0 to {max}, got \"{v}\""),
                )),
            }
        };
        match k.as_str() {
            "offset" => q.offset = num("offset", i32::MAX.unsigned_abs())?,
            "limit" => q.limit = num("limit", 500)?,
            "sort" => q.sort = Some(v.clone()),
            "desc" => {
                q.descending = Some(match v.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => {
                        return Err(Failure::bad(
                            "desc",
                            format!("desc must be true or false, got \"{v}\""),
                        )
                        .into())
                    }
                })
            }
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

#[utoipa::path(get, path = "/start-actions", tag = "cases", operation_id = "start_actions",
    responses((status = 200, description = "The start actions the caller may use", body = doc::StartActions), (status = 401, description = "Not signed in", body = ErrorBody)))]
async fn start_actions(State(app): State<App>, c: ApiCaller) -> Result<Json<Value>, ApiError> {
    let me = c.person.id;
    let s = app.run(move |e| e.start_actions_for(&me)).await?;
    Ok(Json(json!({ "start_actions": s })))
}

#[utoipa::path(get, path = "/cases/{id}", tag = "cases", operation_id = "get_case",
    params(("id" = i64, Path, minimum = 1, description = "The case", example = 1)),
    responses((status = 200, description = "The case, the caller's actions now, pending timers, participants", body = doc::CaseView,
            headers(("ETag" = String, description = "The case's revision, for `If-Match`"))),
        (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such case, or not one the caller may see", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/cases/{id}/history", tag = "cases", operation_id = "case_history",
    params(("id" = i64, Path, minimum = 1, description = "The case", example = 1)),
    responses((status = 200, description = "The case's events, oldest first", body = doc::History), (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such case, or not one the caller may see", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/cases/{id}/actions", tag = "cases", operation_id = "case_actions",
    params(("id" = i64, Path, minimum = 1, description = "The case", example = 1)),
    responses((status = 200, description = "`actions`: what the caller may do now, with their inputs; `unavailable`: their other actions, each with why not", body = doc::Actions),
        (status = 401, description = "Not signed in", body = ErrorBody), (status = 404, description = "No such case, or not one the caller may see", body = ErrorBody)))]
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

/// The inputs of an action.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActBody {
    /// Input id → value, as the action declares its inputs.
    #[serde(default)]
    #[schema(value_type = Object)]
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

#[utoipa::path(post, path = "/cases/{id}/actions/{action}", tag = "cases", operation_id = "act",
    params(
        ("id" = i64, Path, minimum = 1, description = "The case", example = 1),
        ("action" = String, Path, description = "The action's id", example = "assign"),
        ("If-Match" = Option<String>, Header, pattern = r#"^"?[0-9]{1,19}"?$"#, description = "The revision the caller saw (`3` or `\"3\"`): a changed case answers 409"),
        ("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key acts once"),
    ),
    request_body(content = ActBody, description = "The action's inputs (an empty body is no inputs)"),
    responses((status = 200, description = "Done: the case after the action", body = doc::CaseOnly),
        (status = 400, description = "An input or header that does not hold", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller may not take this action", body = ErrorBody),
        (status = 404, description = "No such case, or not one the caller may see", body = ErrorBody),
        (status = 409, description = "The case changed since the revision in `If-Match`", body = ErrorBody),
        (status = 422, description = "A guard refused: `message` and `suggest` say what to do first", body = ErrorBody)))]
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

/// A case to start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct StartBody {
    /// The workflow's id.
    workflow: String,
    /// The start action (the workflow's default when absent).
    action: Option<String>,
    /// Input id → value.
    #[serde(default)]
    #[schema(value_type = Object)]
    inputs: Map<String, Value>,
}

#[utoipa::path(post, path = "/cases", tag = "cases", operation_id = "start_case",
    params(("Idempotency-Key" = Option<String>, Header, description = "A retried request with the same key starts one case")),
    request_body(content = StartBody, description = "The workflow, its start action (or its default) and the inputs"),
    responses((status = 201, description = "Started: the new case", body = doc::CaseOnly),
        (status = 400, description = "An input that does not hold", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller may not start this", body = ErrorBody),
        (status = 404, description = "No such workflow or start action", body = ErrorBody),
        (status = 422, description = "A guard refused", body = ErrorBody)))]
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
