//! Administration pages for operators (`Engine::is_operator`: the directory roles the
//! configuration names, `operator_roles`; default `admin`): people and organisations (list,
//! edit, with the engine's validation errors shown at the field), the loaded definitions with
//! their versions, and the outbox's deliveries with retry and drop. Everyone else gets 404,
//! exactly like a page that does not exist. Every change goes through the engine's own calls
//! (`replace_person`, `replace_org`, `retry_delivery`, `drop_delivery`), one transaction each.
//! The home shows the health report's counts; incidents, the controls on a case and bulk
//! reassignment are in `ops`.

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use mentorflow::{DeliveryFilter, DeliveryStatus, Error, Org, Person};
use serde_json::{json, Map, Value};

use crate::auth::Session;
use crate::error::Failure;
use crate::pages::layout_with as layout;
use crate::render;
use crate::{App, PageError};

type Fields = Vec<(String, String)>;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/people", get(people))
        .route("/admin/people/{id}", get(person_form).post(person_save))
        .route("/admin/orgs", get(orgs))
        .route("/admin/orgs/{id}", get(org_form).post(org_save))
        .route("/admin/definitions", get(definitions))
        .route("/admin/outbox", get(outbox))
        .route("/admin/outbox/{id}/{what}", post(outbox_act))
        .merge(crate::ops::routes())
}

/// A signed-in operator. Anyone else: the same 404 as a page that does not exist.
pub struct Operator(pub Session);

impl FromRequestParts<App> for Operator {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let s = Session::from_request_parts(parts, app).await?;
        let me = s.person.id.clone();
        if app.run(move |e| e.is_operator(&me)).await? {
            Ok(Operator(s))
        } else {
            Err(PageError(Failure::Engine(Error::NotFound {
                kind: "page",
                id: parts.uri.path().to_owned(),
                hint: None,
            })))
        }
    }
}

/// A submitted form's value of `name` ("" when absent).
pub(crate) fn field<'a>(form: &'a Fields, name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

async fn index(State(app): State<App>, Operator(s): Operator) -> Result<Response, PageError> {
    let counts = app
        .run(|e| {
            let attention = e.deliveries(&DeliveryFilter::default())?.len();
            // the same report as `mentorflow health` (timers overdue by more than 5 minutes)
            let h = e.health(chrono::Duration::minutes(5))?;
            Ok(json!({
                "people": e.people(None)?.len(),
                "orgs": e.orgs()?.len(),
                "definitions": e.definitions().len(),
                "attention": attention,
                "incidents": h.open_incidents,
                "health": {
                    "healthy": h.healthy(),
                    "schema_version": h.schema_version,
                    "overdue_timers": h.overdue_timers,
                    "outbox_backlog": h.outbox_backlog,
                    "failed_deliveries": h.failed_deliveries,
                    "dead_letters": h.dead_letters,
                    "open_incidents": h.open_incidents,
                    "next_due": h.next_due.map(crate::ops::utc),
                    "last_committed": h.last_committed_at.map(crate::ops::utc),
                },
            }))
        })
        .await?;
    Ok(render::page("admin.html", layout(&s, json!({"counts": counts}))).into_response())
}

async fn people(State(app): State<App>, Operator(s): Operator) -> Result<Response, PageError> {
    let rows = app
        .run(|e| {
            let orgs = e.orgs()?;
            let org_name = |id: &Option<String>| {
                id.as_ref().map(|id| {
                    orgs.iter()
                        .find(|o| &o.id == id)
                        .and_then(|o| o.name.clone())
                        .unwrap_or_else(|| id.clone())
                })
            };
            Ok(e.people(None)?
                .iter()
                .map(|p| {
                    json!({
                        "id": p.id, "name": p.name, "email": p.email,
                        "org": org_name(&p.org), "roles": p.roles.join(", "),
                        "operator": e.is_operator(&p.id).unwrap_or(false),
                    })
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(render::page("admin_people.html", layout(&s, json!({"people": rows}))).into_response())
}

fn person_ctx(p: &Person, orgs: &[Org], form: Option<&Fields>) -> Value {
    let pick = |name: &str, own: String| form.map(|f| field(f, name).to_owned()).unwrap_or(own);
    json!({
        "id": p.id,
        "name": pick("name", p.name.clone().unwrap_or_default()),
        "email": pick("email", p.email.clone().unwrap_or_default()),
        "org": pick("org", p.org.clone().unwrap_or_default()),
        "roles": pick("roles", p.roles.join(", ")),
        "attributes": pick("attributes", serde_json::to_string_pretty(&p.attributes).unwrap_or_default()),
        "orgs": orgs.iter().map(|o| json!({"id": o.id, "name": o.name.clone().unwrap_or_else(|| o.id.clone())})).collect::<Vec<_>>(),
    })
}

async fn person_form(
    State(app): State<App>,
    Operator(s): Operator,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Result<Response, PageError> {
    let ctx = app
        .run(move |e| Ok(person_ctx(&e.person(&id)?, &e.orgs()?, None)))
        .await?;
    let saved = q.iter().any(|(k, _)| k == "saved");
    Ok(render::page(
        "admin_person.html",
        layout(&s, json!({"p": ctx, "saved": saved, "errors": {}})),
    )
    .into_response())
}

/// Which form field an engine validation error is about.
fn error_at(err: &Error, fields: &[&str]) -> Option<String> {
    let Error::Validation { field, .. } = err else {
        return None;
    };
    let f = field.as_deref().unwrap_or("");
    fields
        .iter()
        .find(|name| f == **name || f.starts_with(&format!("{name}.")) || f.ends_with(*name))
        .map(|s| (*s).to_owned())
}

fn message_of(err: &Error) -> String {
    match err {
        Error::Validation { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

enum Saved {
    Done(String),
    Again(Value),
}

async fn person_save(
    State(app): State<App>,
    Operator(s): Operator,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(field(&form, "_csrf"))?;
    let outcome = app
        .run(move |e| {
            let mut p = e.person(&id)?;
            let orgs = e.orgs()?;
            let mut errors = Map::new();
            let text = |name: &str| {
                let v = field(&form, name).trim();
                (!v.is_empty()).then(|| v.to_owned())
            };
            p.name = text("name");
            p.email = text("email");
            p.org = text("org");
            p.roles = field(&form, "roles")
                .split(',')
                .map(str::trim)
                .filter(|r| !r.is_empty())
                .map(str::to_owned)
                .collect();
            let raw = field(&form, "attributes").trim();
            match serde_json::from_str::<Value>(if raw.is_empty() { "{}" } else { raw }) {
                Ok(Value::Object(m)) => p.attributes = m,
                Ok(_) => {
                    errors.insert("attributes".into(), json!("Attributes must be a JSON object, like {\"classification\": \"active\"}."));
                }
                Err(err) => {
                    errors.insert("attributes".into(), json!(format!("Attributes are not JSON: {err}.")));
                }
            }
            if errors.is_empty() {
                match e.replace_person(&p) {
                    Ok(()) => return Ok(Saved::Done(format!("/admin/people/{}?saved=1", p.id))),
                    Err(err @ Error::Validation { .. }) => {
                        let at = error_at(&err, &["email", "org", "roles", "attributes", "name"])
                            .unwrap_or_else(|| "form".into());
                        errors.insert(at, json!(message_of(&err)));
                    }
                    Err(other) => return Err(other),
                }
            }
            let old = e.person(&p.id)?;
            Ok(Saved::Again(json!({"p": person_ctx(&old, &orgs, Some(&form)), "errors": errors})))
        })
        .await?;
    Ok(match outcome {
        Saved::Done(to) => Redirect::to(&to).into_response(),
        Saved::Again(ctx) => (
            StatusCode::BAD_REQUEST,
            render::page("admin_person.html", layout(&s, ctx)),
        )
            .into_response(),
    })
}

async fn orgs(State(app): State<App>, Operator(s): Operator) -> Result<Response, PageError> {
    let rows = app
        .run(|e| {
            Ok(e.orgs()?
                .iter()
                .map(|o| {
                    json!({
                        "id": o.id, "name": o.name, "timezone": o.timezone,
                        "holidays": o.holidays.len(), "settings": o.settings.len(),
                        "people": e.people(Some(&o.id)).map(|p| p.len()).unwrap_or(0),
                    })
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(render::page("admin_orgs.html", layout(&s, json!({"orgs": rows}))).into_response())
}

fn org_ctx(o: &Org, form: Option<&Fields>) -> Value {
    let pick = |name: &str, own: String| form.map(|f| field(f, name).to_owned()).unwrap_or(own);
    json!({
        "id": o.id,
        "name": pick("name", o.name.clone().unwrap_or_default()),
        "timezone": pick("timezone", o.timezone.clone()),
        "holidays": pick("holidays", o.holidays.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n")),
        "settings": pick("settings", serde_json::to_string_pretty(&o.settings).unwrap_or_default()),
    })
}

async fn org_form(
    State(app): State<App>,
    Operator(s): Operator,
    Path(id): Path<String>,
    Query(q): Query<Fields>,
) -> Result<Response, PageError> {
    let ctx = app.run(move |e| Ok(org_ctx(&e.org(&id)?, None))).await?;
    let saved = q.iter().any(|(k, _)| k == "saved");
    Ok(render::page(
        "admin_org.html",
        layout(&s, json!({"o": ctx, "saved": saved, "errors": {}})),
    )
    .into_response())
}

async fn org_save(
    State(app): State<App>,
    Operator(s): Operator,
    Path(id): Path<String>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(field(&form, "_csrf"))?;
    let outcome = app
        .run(move |e| {
            let mut o = e.org(&id)?;
            let mut errors = Map::new();
            let name = field(&form, "name").trim();
            o.name = (!name.is_empty()).then(|| name.to_owned());
            o.timezone = field(&form, "timezone").trim().to_owned();
            let mut holidays = Vec::new();
            for (n, line) in field(&form, "holidays").lines().enumerate() {
                let line = line.trim();
                if line.is_empty() {
                    continue;
                }
                match line.parse::<chrono::NaiveDate>() {
                    Ok(d) => holidays.push(d),
                    Err(_) => {
                        errors.insert(
                            "holidays".into(),
                            json!(format!(
                                "Line {}: \"{line}\" is not a date like 2026-12-25.",
                                n + 1
                            )),
                        );
                        break;
                    }
                }
            }
            o.holidays = holidays;
            let raw = field(&form, "settings").trim();
            match serde_json::from_str::<Value>(if raw.is_empty() { "{}" } else { raw }) {
                Ok(Value::Object(m)) => o.settings = m,
                Ok(_) => {
                    errors.insert(
                        "settings".into(),
                        json!(
                            "Settings must be a JSON object, like {\"accept_within\": \"3 days\"}."
                        ),
                    );
                }
                Err(err) => {
                    errors.insert(
                        "settings".into(),
                        json!(format!("Settings are not JSON: {err}.")),
                    );
                }
            }
            if errors.is_empty() {
                match e.replace_org(&o) {
                    Ok(()) => return Ok(Saved::Done(format!("/admin/orgs/{}?saved=1", o.id))),
                    Err(err @ Error::Validation { .. }) => {
                        let at = error_at(&err, &["timezone", "holidays", "settings", "name"])
                            .unwrap_or_else(|| "form".into());
                        errors.insert(at, json!(message_of(&err)));
                    }
                    Err(other) => return Err(other),
                }
            }
            let old = e.org(&o.id)?;
            Ok(Saved::Again(
                json!({"o": org_ctx(&old, Some(&form)), "errors": errors}),
            ))
        })
        .await?;
    Ok(match outcome {
        Saved::Done(to) => Redirect::to(&to).into_response(),
        Saved::Again(ctx) => (
            StatusCode::BAD_REQUEST,
            render::page("admin_org.html", layout(&s, ctx)),
        )
            .into_response(),
    })
}

async fn definitions(State(app): State<App>, Operator(s): Operator) -> Result<Response, PageError> {
    let rows = app
        .run(|e| {
            let mut defs: Vec<Value> = e
                .definitions()
                .iter()
                .map(|d| {
                    json!({
                        "id": d.id, "version": d.version, "title": d.title,
                        "description": d.description,
                        "file": std::path::Path::new(&d.file).file_name().map_or_else(|| d.file.clone(), |f| f.to_string_lossy().into_owned()),
                        "hash": d.hash.chars().take(12).collect::<String>(),
                        "states": d.states.iter().map(|st| st.label.clone()).collect::<Vec<_>>(),
                        "actions": d.actions.len(),
                        "diagram": mentorflow::graph::svg(d, None, &format!("flow-{}-v{}", d.id, d.version)),
                    })
                })
                .collect();
            defs.sort_by(|a, b| {
                a["id"]
                    .as_str()
                    .cmp(&b["id"].as_str())
                    .then(b["version"].as_u64().cmp(&a["version"].as_u64()))
            });
            let refused: Vec<String> = e
                .refused_definitions()
                .iter()
                .map(|p| p.to_string())
                .collect();
            Ok(json!({"definitions": defs, "refused": refused}))
        })
        .await?;
    Ok(render::page("admin_definitions.html", layout(&s, rows)).into_response())
}

fn status_named(s: &str) -> Option<DeliveryStatus> {
    match s {
        "retry" => Some(DeliveryStatus::Retry),
        "dead" => Some(DeliveryStatus::Dead),
        "dropped" => Some(DeliveryStatus::Dropped),
        "delivered" => Some(DeliveryStatus::Delivered),
        _ => None,
    }
}

async fn outbox(
    State(app): State<App>,
    Operator(s): Operator,
    Query(q): Query<Fields>,
) -> Result<Response, PageError> {
    let shown = field(&q, "status").to_owned();
    let filter = match shown.as_str() {
        "" => DeliveryFilter::default(),
        "all" => DeliveryFilter {
            all: true,
            ..DeliveryFilter::default()
        },
        other => match status_named(other) {
            Some(st) => DeliveryFilter {
                status: Some(st),
                ..DeliveryFilter::default()
            },
            None => {
                return Err(PageError(Failure::bad(
                    "status",
                    format!(
                        "status must be retry, dead, dropped, delivered or all, got \"{other}\""
                    ),
                )))
            }
        },
    };
    let done = field(&q, "done").to_owned();
    let rows = app
        .run(move |e| {
            Ok(e.deliveries(&filter)?
                .iter()
                .map(|d| {
                    json!({
                        "id": d.outbox_id, "consumer": d.consumer, "kind": d.kind,
                        "case": d.case_id, "to": d.to, "template": d.template,
                        "status": d.status.as_str(), "attempts": d.attempts,
                        "error": d.last_error,
                        "next": d.next_attempt_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                        "last": d.last_attempt_at.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
                        "can_retry": matches!(d.status, DeliveryStatus::Retry | DeliveryStatus::Dead | DeliveryStatus::Dropped),
                        "can_drop": matches!(d.status, DeliveryStatus::Retry | DeliveryStatus::Dead),
                    })
                })
                .collect::<Vec<_>>())
        })
        .await?;
    Ok(render::page(
        "admin_outbox.html",
        layout(&s, json!({"rows": rows, "shown": shown, "done": done})),
    )
    .into_response())
}

async fn outbox_act(
    State(app): State<App>,
    Operator(s): Operator,
    Path((id, what)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(field(&form, "_csrf"))?;
    let not_found = || {
        PageError(Failure::Engine(Error::NotFound {
            kind: "outbox row",
            id: id.clone(),
            hint: None,
        }))
    };
    let outbox_id: i64 = id.parse().map_err(|_| not_found())?;
    let retry = match what.as_str() {
        "retry" => true,
        "drop" => false,
        _ => return Err(not_found()),
    };
    let consumer = field(&form, "consumer").to_owned();
    let changed = app
        .run(move |e| {
            let c = (!consumer.is_empty()).then_some(consumer.as_str());
            if retry {
                e.retry_delivery(outbox_id, c)
            } else {
                e.drop_delivery(outbox_id, c)
            }
        })
        .await?;
    if changed == 0 {
        return Err(not_found());
    }
    app.wake();
    Ok(Redirect::to(&format!("/admin/outbox?done={what}")).into_response())
}
