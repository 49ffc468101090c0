//! Operators' pages: incidents (timer firings that failed, `Engine::incidents`) with retry
//! and resolve; the controls on one case (suspend, resume, cancel, repair) from the operator
//! panel of the case page; and bulk reassignment of a person's open cases with a dry run
//! first. Only operators (`Engine::is_operator`) reach them — everyone else gets the 404 of
//! a page that does not exist — and every change is the engine's own call made as the
//! signed-in operator (`retry_incident_as`, `resolve_incident_as`, `suspend_case`…,
//! `reassign_participant`), so the engine checks the operator again, records them in the
//! history event with the reason, and does it in one transaction (one per case for a bulk
//! reassignment); and bulk suspend, resume or cancel of the cases a view or a filter selects
//! (`control_cases`), also with a dry run first. Every form carries the session's CSRF token.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Utc};
use mentorflow::{
    BulkControl, BulkOptions, Case, Engine, Error, Incident, IncidentFilter, IncidentStatus,
    ReassignOptions, ReassignReport,
};
use serde_json::{json, Map, Value};

use crate::admin::{field, Operator};
use crate::error::Failure;
use crate::pages::layout_with as layout;
use crate::render;
use crate::{App, PageError};

type Fields = Vec<(String, String)>;

/// The controls on one case, by the name in their address.
pub const CONTROLS: &[&str] = &["suspend", "resume", "cancel", "repair"];

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin/incidents", get(incidents))
        .route("/admin/incidents/{id}/{what}", post(incident_act))
        .route("/admin/cases/{id}/{control}", post(control))
        .route("/admin/reassign", get(reassign_form).post(reassign))
        .route("/admin/bulk", get(bulk_form).post(bulk))
}

/// A time for operators: UTC, to the minute (incidents and deliveries span organisations).
pub(crate) fn utc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn not_found(kind: &'static str, id: &str) -> PageError {
    PageError(Failure::Engine(Error::NotFound {
        kind,
        id: id.to_owned(),
        hint: None,
    }))
}

/// A refused control or retry: a page saying why, with the way back to the case.
fn refused(err: Error, case: Option<i64>) -> PageError {
    let status = crate::error::status_of(&err);
    if status == StatusCode::INTERNAL_SERVER_ERROR {
        return PageError(Failure::Engine(err));
    }
    let message = match &err {
        Error::Validation { message, .. } => message.clone(),
        Error::NotPermitted { message, .. } => message.clone(),
        other => other.to_string(),
    };
    PageError(Failure::Link {
        status,
        title: "Not done",
        message: format!("{message}. Nothing was changed."),
        case,
    })
}

// ---- incidents -------------------------------------------------------------------------

fn incident_row(i: &Incident, error: Option<&String>) -> Value {
    json!({
        "id": i.id, "case": i.case_id, "kind": i.kind, "state": i.state, "timer": i.timer,
        "code": i.code, "error": i.error, "attempts": i.attempts,
        "status": i.status.as_str(), "open": i.status == IncidentStatus::Open,
        "first": utc(i.first_at), "last": utc(i.last_at),
        "next": i.next_attempt_at.map(utc),
        "resolved": i.resolved_at.map(utc), "resolved_by": i.resolved_by, "note": i.note,
        "note_error": error,
    })
}

async fn incidents(
    State(app): State<App>,
    Operator(s): Operator,
    Query(q): Query<Fields>,
) -> Result<Response, PageError> {
    let shown = field(&q, "status").to_owned();
    let filter = incident_filter(&shown)?;
    let done = field(&q, "done").to_owned();
    let id = field(&q, "id").to_owned();
    let rows = app
        .run(move |e| {
            Ok(e.incidents(&filter)?
                .iter()
                .map(|i| incident_row(i, None))
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(render::page(
        "admin_incidents.html",
        layout(
            &s,
            json!({"rows": rows, "shown": shown, "done": done, "done_id": id}),
        ),
    )
    .into_response())
}

fn incident_filter(shown: &str) -> Result<IncidentFilter, PageError> {
    Ok(match shown {
        "" | "open" => IncidentFilter::default(),
        "resolved" => IncidentFilter {
            status: Some(IncidentStatus::Resolved),
            ..IncidentFilter::default()
        },
        "all" => IncidentFilter {
            all: true,
            ..IncidentFilter::default()
        },
        other => {
            return Err(PageError(Failure::bad(
                "status",
                format!("status must be open, resolved or all, got \"{other}\""),
            )))
        }
    })
}

enum IncidentOutcome {
    Done(String),
    /// A note that does not hold: the list again with the message at that incident's note.
    Again(Vec<Value>),
}

async fn incident_act(
    State(app): State<App>,
    Operator(s): Operator,
    Path((id, what)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(field(&form, "_csrf"))?;
    let incident_id: i64 = id.parse().map_err(|_| not_found("incident", &id))?;
    if what != "retry" && what != "resolve" {
        return Err(not_found("page", &format!("/admin/incidents/{id}/{what}")));
    }
    let note = field(&form, "note").to_owned();
    let me = s.person.id.clone();
    let outcome = app
        .run(move |e| {
            let case = e.incident(incident_id)?.case_id;
            let result = if what == "retry" {
                e.retry_incident_as(incident_id, &me)
            } else {
                e.resolve_incident_as(incident_id, &note, &me)
            };
            match result {
                Ok(i) => {
                    let done = match (what.as_str(), i.status) {
                        ("retry", IncidentStatus::Resolved) => "fired",
                        ("retry", _) => "failed",
                        _ => "resolved",
                    };
                    Ok(Ok(IncidentOutcome::Done(format!(
                        "/admin/incidents?done={done}&id={incident_id}"
                    ))))
                }
                Err(Error::Validation { field, message, .. })
                    if field.as_deref() == Some("note") =>
                {
                    let msg = message.clone();
                    let rows = e
                        .incidents(&IncidentFilter::default())?
                        .iter()
                        .map(|i| incident_row(i, (i.id == incident_id).then_some(&msg)))
                        .collect();
                    Ok(Ok(IncidentOutcome::Again(rows)))
                }
                Err(err) => Ok(Err((err, case))),
            }
        })
        .await?;
    match outcome {
        Ok(IncidentOutcome::Done(to)) => {
            app.wake();
            Ok(Redirect::to(&to).into_response())
        }
        Ok(IncidentOutcome::Again(rows)) => Ok((
            StatusCode::BAD_REQUEST,
            render::page(
                "admin_incidents.html",
                layout(&s, json!({"rows": rows, "shown": "", "done": ""})),
            ),
        )
            .into_response()),
        Err((err, case)) => Err(refused(err, Some(case))),
    }
}

// ---- controls on one case --------------------------------------------------------------

/// The operator panel of a case page: `None` unless `me` is an operator. Its forms post to
/// `/admin/cases/ID/CONTROL`; which controls it offers follows the case (suspend or resume,
/// cancel while open, repair to any other state).
pub(crate) fn operator_panel(e: &Engine, case: &Case, me: &str) -> mentorflow::Result<Value> {
    if !e.is_operator(me)? {
        return Ok(Value::Null);
    }
    let def = e.definition_of(case)?;
    let names = |id: &str| {
        e.person(id)
            .ok()
            .and_then(|p| p.name)
            .unwrap_or_else(|| id.to_owned())
    };
    let mark = |m: &Option<mentorflow::OperatorMark>| {
        m.as_ref()
            .map(|m| json!({"by": names(&m.by), "at": utc(m.at), "reason": m.reason}))
    };
    let incidents = e
        .incidents(&IncidentFilter {
            case_id: Some(case.id),
            ..IncidentFilter::default()
        })?
        .len();
    Ok(json!({
        "case": case.id,
        "suspended": mark(&case.suspended),
        "cancelled": mark(&case.cancelled),
        "open": case.open,
        "incidents": incidents,
        "states": def.states.iter().filter(|st| st.id != case.state).map(|st| json!({
            "id": st.id, "label": st.label, "final": st.is_final,
        })).collect::<Vec<_>>(),
    }))
}

async fn control(
    State(app): State<App>,
    Operator(s): Operator,
    Path((id, control)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(field(&form, "_csrf"))?;
    let case_id: i64 = id.parse().map_err(|_| not_found("case", &id))?;
    if !CONTROLS.contains(&control.as_str()) {
        return Err(not_found("page", &format!("/admin/cases/{id}/{control}")));
    }
    let reason = field(&form, "reason").to_owned();
    let state = field(&form, "state").to_owned();
    let me = s.person.id.clone();
    let result = app
        .run(move |e| {
            Ok(run_control(e, case_id, &control, &state, &me, &reason)
                .map(|_| ())
                .map_err(|err| refused(err, Some(case_id))))
        })
        .await?;
    result?;
    app.wake();
    // back to the case (when the operator may see it), at the panel that now says what holds
    let see = s.person.id.clone();
    let visible = app
        .run(move |e| Ok(e.get(case_id, Some(&see)).is_ok()))
        .await?;
    Ok(if visible {
        Redirect::to(&format!("/cases/{case_id}#operator-h")).into_response()
    } else {
        Redirect::to("/admin").into_response()
    })
}

/// One control on one case, as the operator: the engine checks the operator and the reason.
pub(crate) fn run_control(
    e: &Engine,
    case_id: i64,
    control: &str,
    state: &str,
    operator: &str,
    reason: &str,
) -> mentorflow::Result<Case> {
    match control {
        "suspend" => e.suspend_case(case_id, operator, reason),
        "resume" => e.resume_case(case_id, operator, reason),
        "cancel" => e.cancel_case(case_id, operator, reason),
        "repair" => {
            if state.trim().is_empty() {
                return Err(Error::Validation {
                    workflow: None,
                    field: Some("state".into()),
                    message: "repair needs the state to move the case to".into(),
                });
            }
            e.repair_case(case_id, state.trim(), operator, reason)
        }
        other => Err(Error::NotFound {
            kind: "control",
            id: other.to_owned(),
            hint: Some(format!("the controls are {}", CONTROLS.join(", "))),
        }),
    }
}

// ---- bulk reassignment -----------------------------------------------------------------

fn reassign_choices(e: &Engine) -> mentorflow::Result<Value> {
    let people: Vec<Value> = e
        .people(None)?
        .iter()
        .map(|p| json!({"id": p.id, "name": p.name.clone().unwrap_or_else(|| p.id.clone())}))
        .collect();
    let mut workflows: Vec<Value> = Vec::new();
    let mut roles: Vec<String> = Vec::new();
    for d in e.definitions() {
        if !workflows.iter().any(|w| w["id"] == d.id) {
            workflows.push(json!({"id": d.id, "title": d.title}));
        }
        for r in &d.roles {
            if !roles.contains(&r.name) {
                roles.push(r.name.clone());
            }
        }
    }
    roles.sort();
    Ok(json!({"people": people, "workflows": workflows, "roles": roles}))
}

fn reassign_options(form: &Fields, dry_run: bool) -> ReassignOptions {
    let opt = |name: &str| {
        let v = field(form, name).trim();
        (!v.is_empty()).then(|| v.to_owned())
    };
    ReassignOptions {
        from: field(form, "from").trim().to_owned(),
        to: opt("to"),
        role: opt("role"),
        workflow: opt("workflow"),
        dry_run,
    }
}

fn form_values(form: &Fields) -> Value {
    let mut m = Map::new();
    for name in ["from", "to", "role", "workflow", "reason"] {
        m.insert(name.into(), json!(field(form, name)));
    }
    Value::Object(m)
}

fn report_rows(e: &Engine, r: &ReassignReport) -> Vec<Value> {
    r.cases
        .iter()
        .map(|c| {
            let title = e
                .definition(&c.workflow)
                .map(|d| d.title.clone())
                .unwrap_or_else(|_| c.workflow.clone());
            json!({"case": c.case, "workflow": title, "roles": c.roles.join(", "),
                   "outcome": c.outcome, "reason": c.reason})
        })
        .collect()
}

/// What a bulk form says when its reason is blank.
const REASON_NEEDED: &str = "Say why (who asked, why): it goes into each case's history.";

/// A dry-run-then-confirm form's `step`: `preview` (or none) is the dry run, `confirm` acts.
fn confirm_step(form: &Fields) -> Result<bool, PageError> {
    match field(form, "step") {
        "confirm" => Ok(true),
        "preview" | "" => Ok(false),
        other => Err(PageError(Failure::bad(
            "step",
            format!("step must be preview or confirm, got \"{other}\""),
        ))),
    }
}

async fn reassign_form(
    State(app): State<App>,
    Operator(s): Operator,
    Query(q): Query<Fields>,
) -> Result<Response, PageError> {
    let ctx = app.run(reassign_choices).await?;
    Ok(render::page(
        "admin_reassign.html",
        layout(
            &s,
            json!({"choices": ctx, "form": form_values(&q), "errors": {}, "step": "form"}),
        ),
    )
    .into_response())
}

/// `step=preview`: the dry run, listing the cases, with a form to confirm; `step=confirm`:
/// done for real, each case in its own transaction, and the report.
async fn reassign(
    State(app): State<App>,
    Operator(s): Operator,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(field(&form, "_csrf"))?;
    let confirm = confirm_step(&form)?;
    let me = s.person.id.clone();
    let (status, ctx) = app
        .run(move |e| {
            let choices = reassign_choices(e)?;
            let options = reassign_options(&form, !confirm);
            let mut errors = Map::new();
            if options.from.is_empty() {
                errors.insert("from".into(), json!("Choose the person whose cases move."));
            }
            if field(&form, "reason").trim().is_empty() {
                errors.insert("reason".into(), json!(REASON_NEEDED));
            }
            if errors.is_empty() {
                match e.reassign_participant(&options, &me, field(&form, "reason")) {
                    Ok(report) => {
                        let rows = report_rows(e, &report);
                        return Ok((StatusCode::OK, json!({
                            "choices": choices, "form": form_values(&form), "errors": {},
                            "step": if confirm { "done" } else { "preview" },
                            "rows": rows,
                            "changed": report.cases.iter().filter(|c| c.outcome == "reassigned").count(),
                            "would": report.cases.iter().filter(|c| c.outcome == "would_reassign").count(),
                        })));
                    }
                    Err(err @ (Error::Validation { .. } | Error::NotFound { .. })) => {
                        let at = match &err {
                            Error::Validation { field, .. } => field.clone().unwrap_or_else(|| "form".into()),
                            Error::NotFound { id, .. } if *id == options.from => "from".into(),
                            Error::NotFound { .. } => "to".into(),
                            _ => "form".into(),
                        };
                        let message = match &err {
                            Error::Validation { message, .. } => message.clone(),
                            other => other.to_string(),
                        };
                        errors.insert(at, json!(message));
                    }
                    Err(other) => return Err(other),
                }
            }
            Ok((StatusCode::BAD_REQUEST, json!({
                "choices": choices, "form": form_values(&form), "errors": errors, "step": "form",
            })))
        })
        .await?;
    if confirm && status == StatusCode::OK {
        app.wake();
    }
    Ok((status, render::page("admin_reassign.html", layout(&s, ctx))).into_response())
}

// ---- bulk suspend / resume / cancel ------------------------------------------------------

/// The form's fields, in order.
const BULK_FIELDS: &[&str] = &[
    "control", "view", "workflow", "state", "org", "field", "reason",
];

fn bulk_choices(e: &Engine) -> mentorflow::Result<Value> {
    let mut workflows: Vec<Value> = Vec::new();
    let mut views: Vec<Value> = Vec::new();
    for d in e.definitions() {
        if workflows.iter().any(|w| w["id"] == d.id) {
            continue;
        }
        workflows.push(json!({"id": d.id, "title": d.title}));
        for v in &d.views {
            views.push(json!({"id": format!("{}.{}", d.id, v.name), "title": format!("{}: {}", d.title, v.title)}));
        }
    }
    let orgs: Vec<Value> = e.orgs()?.iter().map(|o| json!({"id": o.id})).collect();
    Ok(json!({"workflows": workflows, "views": views, "orgs": orgs,
              "controls": ["suspend", "resume", "cancel"]}))
}

fn bulk_values(form: &Fields) -> Value {
    let mut m = Map::new();
    for name in BULK_FIELDS {
        m.insert((*name).into(), json!(field(form, name)));
    }
    Value::Object(m)
}

/// The options a bulk form asks for, or the field that is wrong and why.
fn bulk_options(form: &Fields, dry_run: bool) -> Result<BulkOptions, (String, String)> {
    let control = BulkControl::parse(field(form, "control").trim()).map_err(|_| {
        (
            "control".to_owned(),
            "Choose suspend, resume or cancel.".to_owned(),
        )
    })?;
    let opt = |name: &str| {
        let v = field(form, name).trim();
        (!v.is_empty()).then(|| v.to_owned())
    };
    let mut fields = Vec::new();
    for part in field(form, "field")
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let Some((k, v)) = part.split_once('=') else {
            return Err((
                "field".into(),
                format!("`{part}` is not FIELD=VALUE (several: separated by commas)"),
            ));
        };
        let v = v.trim();
        let value = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
        fields.push((k.trim().to_owned(), value));
    }
    Ok(BulkOptions {
        view: opt("view"),
        workflow: opt("workflow"),
        state: opt("state"),
        org: opt("org"),
        fields,
        dry_run,
        ..BulkOptions::new(control)
    })
}

async fn bulk_form(
    State(app): State<App>,
    Operator(s): Operator,
    Query(q): Query<Fields>,
) -> Result<Response, PageError> {
    let choices = app.run(bulk_choices).await?;
    Ok(render::page(
        "admin_bulk.html",
        layout(
            &s,
            json!({"choices": choices, "form": bulk_values(&q), "errors": {}, "step": "form"}),
        ),
    )
    .into_response())
}

/// `step=preview`: the dry run, listing the cases, with a form to confirm; `step=confirm`:
/// done for real, each case in its own transaction, and the report.
async fn bulk(
    State(app): State<App>,
    Operator(s): Operator,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(field(&form, "_csrf"))?;
    let confirm = confirm_step(&form)?;
    let me = s.person.id.clone();
    let (status, ctx) = app
        .run(move |e| {
            let choices = bulk_choices(e)?;
            let mut errors = Map::new();
            let options = match bulk_options(&form, !confirm) {
                Ok(o) => Some(o),
                Err((at, message)) => {
                    errors.insert(at, json!(message));
                    None
                }
            };
            if field(&form, "reason").trim().is_empty() {
                errors.insert("reason".into(), json!(REASON_NEEDED));
            }
            if let (Some(options), true) = (options, errors.is_empty()) {
                match e.control_cases(&options, &me, field(&form, "reason")) {
                    Ok(report) => {
                        let rows: Vec<Value> = report.cases.iter().map(|c| {
                            let title = e.definition(&c.workflow).map(|d| d.title.clone()).unwrap_or_else(|_| c.workflow.clone());
                            json!({"case": c.case, "workflow": title, "state": c.state,
                                   "outcome": c.outcome, "reason": c.reason})
                        }).collect();
                        return Ok((StatusCode::OK, json!({
                            "choices": choices, "form": bulk_values(&form), "errors": {},
                            "step": if confirm { "done" } else { "preview" },
                            "rows": rows,
                            "count": report.changed(),
                        })));
                    }
                    Err(err @ (Error::Validation { .. } | Error::NotFound { .. })) => {
                        let (at, message) = match &err {
                            Error::Validation { field: Some(f), message, .. } if f == "reason" => ("reason".to_owned(), message.clone()),
                            Error::Validation { message, .. } => ("form".to_owned(), message.clone()),
                            other => ("form".to_owned(), other.to_string()),
                        };
                        errors.insert(at, json!(message));
                    }
                    Err(other) => return Err(other),
                }
            }
            Ok((StatusCode::BAD_REQUEST, json!({
                "choices": choices, "form": bulk_values(&form), "errors": errors, "step": "form",
            })))
        })
        .await?;
    if confirm && status == StatusCode::OK {
        app.wake();
    }
    Ok((status, render::page("admin_bulk.html", layout(&s, ctx))).into_response())
}
