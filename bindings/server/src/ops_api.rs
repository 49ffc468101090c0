//! The operators' JSON API under `/api`: incidents (list, one, retry, resolve), the controls
//! on one case (suspend, resume, cancel, repair) and bulk reassignment (with `dry_run`).
//!
//! Only operators (`Engine::is_operator`) may use them: anyone else is refused with 403
//! `not_permitted`, the engine's own answer to a control by a non-operator (the controls and
//! incident actions are made as the caller, so the engine checks them again and records them
//! in the history with the reason). Mounted through `utoipa_axum::routes!`, so each is in
//! `/openapi.json`.

use axum::extract::{Path, Query, State};
use axum::Json;
use mentorflow::{Error, IncidentFilter, IncidentStatus, ReassignOptions};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::ApiCaller;
use crate::error::Failure;
use crate::openapi::{CaseOnly, ErrorBody};
use crate::{ApiError, App};

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(incidents))
        .routes(routes!(incident))
        .routes(routes!(incident_retry))
        .routes(routes!(incident_resolve))
        .routes(routes!(case_control))
        .routes(routes!(reassign))
}

/// The caller, when they are an operator; else the engine's `not_permitted` (403).
async fn operator(app: &App, c: ApiCaller, what: &str) -> Result<String, ApiError> {
    let me = c.person.id;
    let what = what.to_owned();
    let who = me.clone();
    let ok = app.run(move |e| e.is_operator(&who)).await?;
    if ok {
        return Ok(me);
    }
    let roles = app.engine().operator_roles().join(", ");
    Err(ApiError(Failure::Engine(Error::NotPermitted {
        workflow: String::new(),
        action: what.clone(),
        actor: me.clone(),
        message: format!(
            "`{me}` may not use `{what}`: it needs an operator, a person holding one of the directory roles {roles}"
        ),
    })))
}

fn body<T: serde::de::DeserializeOwned>(raw: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(raw)
        .map_err(|e| Failure::bad("body", format!("the body must be JSON: {e}")))
}

fn id_of(kind: &'static str, raw: &str) -> Result<i64, Failure> {
    raw.parse::<i64>().map_err(|_| {
        Failure::Engine(Error::NotFound {
            kind,
            id: raw.to_owned(),
            hint: None,
        })
    })
}

/// An incident: a timer firing that failed (`mentorflow::Incident`).
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentSchema {
    pub id: i64,
    pub case_id: i64,
    /// What failed: `timer`.
    pub kind: String,
    /// The state the timer belongs to.
    pub state: String,
    /// The timer's name in that state.
    pub timer: String,
    /// The error's stable code.
    pub code: String,
    /// The last error, with its place in the definition.
    pub error: String,
    /// Attempts so far, the first firing included.
    pub attempts: u32,
    /// `open` or `resolved`.
    pub status: String,
    pub first_at: String,
    pub last_at: String,
    /// When the engine retries it by itself (null: it waits for a person).
    #[schema(nullable)]
    pub next_attempt_at: Option<String>,
    #[schema(nullable)]
    pub resolved_at: Option<String>,
    /// The operator who resolved it (null: the engine, by a successful retry).
    #[schema(nullable)]
    pub resolved_by: Option<String>,
    #[schema(nullable)]
    pub note: Option<String>,
}

/// `{"incidents": [Incident]}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Incidents {
    pub incidents: Vec<IncidentSchema>,
}

/// `{"incident": Incident}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentOnly {
    pub incident: IncidentSchema,
}

/// Which incidents.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct IncidentQuery {
    /// `open` (the default), `resolved` or `all`.
    #[param(pattern = "^(open|resolved|all)$")]
    status: Option<String>,
    /// Only this case's incidents.
    #[param(minimum = 1)]
    case: Option<i64>,
    /// At most this many (default 1000), oldest first.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u32>,
}

#[utoipa::path(get, path = "/incidents", tag = "operations", operation_id = "incidents",
    params(IncidentQuery),
    responses((status = 200, description = "Incidents, oldest first", body = Incidents),
        (status = 400, description = "A parameter that does not hold", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller is not an operator", body = ErrorBody)))]
async fn incidents(
    State(app): State<App>,
    c: ApiCaller,
    q: Result<Query<IncidentQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    operator(&app, c, "incidents.list").await?;
    let Query(q) = q.map_err(|e| Failure::bad("query", e.body_text()))?;
    let mut filter = IncidentFilter {
        case_id: q.case,
        ..IncidentFilter::default()
    };
    match q.status.as_deref() {
        None | Some("open") => {}
        Some("resolved") => filter.status = Some(IncidentStatus::Resolved),
        Some("all") => filter.all = true,
        Some(other) => {
            return Err(Failure::bad(
                "status",
                format!("status must be open, resolved or all, got \"{other}\""),
            )
            .into())
        }
    }
    if let Some(c) = q.case {
        if c < 1 {
            return Err(
                Failure::bad("case", format!("case must be a case id from 1, got {c}")).into(),
            );
        }
    }
    if let Some(n) = q.limit {
        if !(1..=1000).contains(&n) {
            return Err(Failure::bad(
                "limit",
                format!("limit must be a whole number from 1 to 1000, got {n}"),
            )
            .into());
        }
        filter.limit = usize::try_from(n).ok();
    }
    let list = app.run(move |e| e.incidents(&filter)).await?;
    Ok(Json(json!({ "incidents": list })))
}

#[utoipa::path(get, path = "/incidents/{id}", tag = "operations", operation_id = "incident",
    params(("id" = i64, Path, minimum = 1, description = "The incident", example = 1)),
    responses((status = 200, description = "The incident", body = IncidentOnly),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller is not an operator", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody)))]
async fn incident(
    State(app): State<App>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    operator(&app, c, "incidents.list").await?;
    let id = id_of("incident", &id)?;
    let i = app.run(move |e| e.incident(id)).await?;
    Ok(Json(json!({ "incident": i })))
}

#[utoipa::path(post, path = "/incidents/{id}/retry", tag = "operations", operation_id = "retry_incident",
    description = "Fire the failed timer again now, as the case is (its state, settings and definition version), in one transaction. The answer is the incident afterwards: `resolved` when the timer fired, still `open` (with the new error and one more attempt) when it failed again.",
    params(("id" = i64, Path, minimum = 1, description = "The incident", example = 1)),
    responses((status = 200, description = "The incident afterwards", body = IncidentOnly),
        (status = 400, description = "The incident is already resolved", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller is not an operator", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody),
        (status = 409, description = "The case is suspended: its timers wait for its resume", body = ErrorBody)))]
async fn incident_retry(
    State(app): State<App>,
    c: ApiCaller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let me = operator(&app, c, "incidents.retry").await?;
    let id = id_of("incident", &id)?;
    let i = app.run(move |e| e.retry_incident_as(id, &me)).await?;
    app.wake();
    Ok(Json(json!({ "incident": i })))
}

/// Why the incident is given up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ResolveBody {
    /// Why the firing is no longer wanted (required, not blank).
    #[schema(min_length = 1)]
    note: String,
}

#[utoipa::path(post, path = "/incidents/{id}/resolve", tag = "operations", operation_id = "resolve_incident",
    description = "Give the failed firing up with a note: the timer does not fire.",
    params(("id" = i64, Path, minimum = 1, description = "The incident", example = 1)),
    request_body(content = ResolveBody, description = "The note"),
    responses((status = 200, description = "The incident afterwards (resolved)", body = IncidentOnly),
        (status = 400, description = "A blank note, a body that does not hold, or an incident already resolved", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller is not an operator", body = ErrorBody),
        (status = 404, description = "No such incident", body = ErrorBody)))]
async fn incident_resolve(
    State(app): State<App>,
    c: ApiCaller,
    Path(id): Path<String>,
    raw: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let me = operator(&app, c, "incidents.resolve").await?;
    let id = id_of("incident", &id)?;
    let b: ResolveBody = body(&raw)?;
    let i = app
        .run(move |e| e.resolve_incident_as(id, &b.note, &me))
        .await?;
    Ok(Json(json!({ "incident": i })))
}

/// An operator control's reason (and, for `repair`, the state).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ControlBody {
    /// Who asked and why: recorded in the case's history (required, not blank).
    #[schema(min_length = 1)]
    reason: String,
    /// `repair` only: the state of the case's definition to move it to.
    state: Option<String>,
}

#[utoipa::path(post, path = "/cases/{id}/controls/{control}", tag = "operations", operation_id = "case_control",
    description = "An operator control on one case, in one transaction with a history event naming the caller and the reason: `suspend` (actions refused, timers wait), `resume`, `cancel` (ends where it is), `repair` (move to `state` outside the flow's actions).",
    params(
        ("id" = i64, Path, minimum = 1, description = "The case", example = 1),
        ("control" = String, Path, pattern = "^(suspend|resume|cancel|repair)$", description = "suspend, resume, cancel or repair", example = "suspend"),
    ),
    request_body(content = ControlBody, description = "The reason, and the state for repair"),
    responses((status = 200, description = "The case afterwards", body = CaseOnly),
        (status = 400, description = "A blank reason, a missing state, or a control that does not fit the case (already suspended, closed…)", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller is not an operator", body = ErrorBody),
        (status = 404, description = "No such case, control or state", body = ErrorBody),
        (status = 409, description = "The case was cancelled", body = ErrorBody)))]
async fn case_control(
    State(app): State<App>,
    c: ApiCaller,
    Path((id, control)): Path<(String, String)>,
    raw: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let me = operator(&app, c, &format!("case.{control}")).await?;
    let id = id_of("case", &id)?;
    if !crate::ops::CONTROLS.contains(&control.as_str()) {
        return Err(Failure::Engine(Error::NotFound {
            kind: "control",
            id: control,
            hint: Some(format!(
                "the controls are {}",
                crate::ops::CONTROLS.join(", ")
            )),
        })
        .into());
    }
    let b: ControlBody = body(&raw)?;
    let case = app
        .run(move |e| {
            crate::ops::run_control(
                e,
                id,
                &control,
                b.state.as_deref().unwrap_or(""),
                &me,
                &b.reason,
            )
        })
        .await?;
    app.wake();
    Ok(Json(json!({ "case": case })))
}

/// Whose open cases move, to whom.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct ReassignBody {
    /// The person who leaves.
    from: String,
    /// Who takes their place (absent: they are only removed).
    to: Option<String>,
    /// Only this case role.
    role: Option<String>,
    /// Only cases of this workflow.
    workflow: Option<String>,
    /// Recorded in each case's history (required, not blank).
    #[schema(min_length = 1)]
    reason: String,
    /// Only say what would change (default true: send `false` to do it).
    dry_run: Option<bool>,
}

/// One case of a reassignment.
#[derive(Debug, Serialize, ToSchema)]
pub struct CaseReassignment {
    pub case: i64,
    pub workflow: String,
    /// The case roles moved.
    pub roles: Vec<String>,
    /// `reassigned`, `would_reassign` (dry run) or `refused`.
    pub outcome: String,
    #[schema(nullable)]
    pub reason: Option<String>,
}

/// What a reassignment did or would do.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReassignReport {
    pub dry_run: bool,
    pub from: String,
    #[schema(nullable)]
    pub to: Option<String>,
    /// Each open case of theirs, in id order.
    pub cases: Vec<CaseReassignment>,
}

#[utoipa::path(post, path = "/reassign", tag = "operations", operation_id = "reassign",
    description = "Move every open case role a person holds (optionally one role, one workflow) to another person, or only remove them. A dry run unless `dry_run` is false; for real, each case is its own transaction with an `operator:reassign` history event naming the caller and the reason.",
    request_body(content = ReassignBody, description = "Who, to whom, which cases, why"),
    responses((status = 200, description = "The cases and what happened (or would) to each", body = ReassignReport),
        (status = 400, description = "A blank reason, a body that does not hold, or a person replacing themselves", body = ErrorBody),
        (status = 401, description = "Not signed in", body = ErrorBody),
        (status = 403, description = "The caller is not an operator", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody)))]
async fn reassign(
    State(app): State<App>,
    c: ApiCaller,
    raw: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let me = operator(&app, c, "case.reassign").await?;
    let b: ReassignBody = body(&raw)?;
    let options = ReassignOptions {
        from: b.from,
        to: b.to,
        role: b.role,
        workflow: b.workflow,
        dry_run: b.dry_run.unwrap_or(true),
    };
    let dry = options.dry_run;
    let report = app
        .run(move |e| e.reassign_participant(&options, &me, &b.reason))
        .await?;
    if !dry {
        app.wake();
    }
    Ok(Json(json!(report)))
}
