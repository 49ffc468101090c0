//! The console's pages: sign-in, home, view lists, case pages with their action forms, start
//! forms. Each page is built from the loaded definitions and the engine's answers for the
//! signed-in person; nothing here decides who may see or do what.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, SET_COOKIE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use mentorflow::{ActOptions, Case, Effect, Engine, Error, Person, Start, ViewQuery};
use serde_json::{json, Map, Value};

use crate::auth::{self, MaybeSession, Session};
use crate::error::Failure;
use crate::forms::{self, humanize};
use crate::render::{self, when, zone};
use crate::{App, PageError};

type Fields = Vec<(String, String)>;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/", get(home))
        .route("/sign-in", get(sign_in_form).post(sign_in_request))
        .route("/sign-in/password", post(sign_in_password))
        .route("/sign-in/{token}", get(sign_in_link).post(sign_in_redeem))
        .route(
            "/password",
            get(password_request_form).post(password_request),
        )
        .route("/password/{token}", get(password_form).post(password_set))
        .route("/sign-out", post(sign_out))
        .route("/demo", get(demo_people))
        .route("/demo/{person}", post(demo_sign_in))
        .route("/views/{workflow}/{view}", get(view_list))
        .route("/exports/{workflow}/{name}", get(export_page))
        .route("/cases/{id}", get(case_page))
        .route("/requests/{id}", get(legacy_case_link))
        .route("/registrations/{id}", get(legacy_case_link))
        .route("/l/{token}", get(action_link))
        .route("/cases/{id}/act/{action}", post(act))
        .route("/start/{workflow}/{action}", get(start_form).post(start))
        .route("/static/style.css", get(style))
        .route("/healthz", get(healthz))
}

/// What every page's layout needs: who is signed in, the form token.
fn layout(s: &Session) -> Value {
    json!({
        "me": {"id": s.person.id, "name": name_of(&s.person)},
        "csrf": s.csrf,
    })
}

/// [`layout`] with a page's own values (the administration's and operators' pages).
pub(crate) fn layout_with(s: &Session, extra: Value) -> Value {
    with(layout(s), extra)
}

fn with(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

fn name_of(p: &Person) -> String {
    p.name.clone().unwrap_or_else(|| p.id.clone())
}

async fn style() -> Response {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "max-age=3600"),
        ],
        render::STYLE_CSS,
    )
        .into_response()
}

async fn healthz(State(app): State<App>) -> Result<Response, PageError> {
    let h = app.run(|e| e.health(chrono::Duration::minutes(5))).await?;
    let status = if h.healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Ok((status, axum::Json(h)).into_response())
}

// ---- sign-in ---------------------------------------------------------------------------

/// The pre-sign-in cookie (for the CSRF token of the sign-in forms), made when missing.
fn pre_cookie(app: &App, jar: &axum::http::HeaderMap) -> (String, Option<String>) {
    let existing = jar
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == auth::PRE_COOKIE)
        .map(|c| c.value().to_owned());
    match existing {
        Some(v) => (v, None),
        None => {
            let v = auth::secret();
            let set = auth::set_cookie(app, auth::PRE_COOKIE, &v, None);
            (v, Some(set))
        }
    }
}

fn pre_of(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == auth::PRE_COOKIE)
        .map(|c| c.value().to_owned())
}

fn page_with_cookie(
    status: StatusCode,
    html: axum::response::Html<String>,
    set: Option<String>,
) -> Response {
    let mut r = (status, html).into_response();
    if let Some(c) = set.and_then(|c| c.parse().ok()) {
        r.headers_mut().append(SET_COOKIE, c);
    }
    r
}

async fn sign_in_form(
    State(app): State<App>,
    MaybeSession(s): MaybeSession,
    headers: axum::http::HeaderMap,
    Query(params): Query<Fields>,
) -> Response {
    let next = FormFields(&params).opt("next").and_then(auth::safe_next);
    if s.is_some() {
        return Redirect::to(next.as_deref().unwrap_or("/")).into_response();
    }
    let (pre, set) = pre_cookie(&app, &headers);
    let html = render::page(
        "sign_in.html",
        json!({"csrf": auth::csrf_for(&pre), "demo": app.config().demo, "next": next}),
    );
    page_with_cookie(StatusCode::OK, html, set)
}

async fn sign_in_request(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let f = FormFields(&form);
    auth::check_pre(pre_of(&headers).as_deref(), f.get("_csrf"))?;
    let email = f.get("email").trim().to_owned();
    let next = f.opt("next").and_then(auth::safe_next);
    if !email.contains('@') || email.len() > 320 {
        let (pre, set) = pre_cookie(&app, &headers);
        let html = render::page(
            "sign_in.html",
            json!({"csrf": auth::csrf_for(&pre), "demo": app.config().demo, "next": next,
                   "email": email, "error": "enter the e-mail address the programme knows you by"}),
        );
        return Ok(page_with_cookie(StatusCode::BAD_REQUEST, html, set));
    }
    for (person, secret) in issue_links(&app, &email, "sign_in", json!({"next": next})).await? {
        let url = format!("{}/sign-in/{secret}", app.config().public_url);
        crate::mail::send_sign_in(&app, &person, &url).await;
    }
    // the same answer whether or not the address is known: nothing leaks
    Ok(render::page("sign_in.html", json!({"sent": true, "email": email})).into_response())
}

/// A single-use link of this purpose (valid for the sign-in lifetime) for every person with
/// this address: each person and the link's secret, for the caller to mail. Nobody for an
/// unknown address, so the page answers the same either way.
async fn issue_links(
    app: &App,
    email: &str,
    purpose: &'static str,
    data: serde_json::Value,
) -> Result<Vec<(mentorflow::Person, String)>, PageError> {
    let ttl = app.config().sign_in_ttl;
    let addr = email.to_owned();
    Ok(app
        .run(move |e| {
            let mut links = Vec::new();
            for p in e.people_by_email(&addr)? {
                let secret = auth::secret();
                e.issue_token(&secret, purpose, &p.id, data.clone(), ttl)?;
                links.push((p, secret));
            }
            Ok(links)
        })
        .await?)
}

/// A sign-in link shows a button: mail scanners that follow links do not use it up.
async fn sign_in_link(
    State(app): State<App>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    token_page(&app, &headers, token, "sign_in", "sign_in_link.html").await
}

/// The page an e-mailed link of this purpose opens: the person's name and a form (with its
/// CSRF token) that uses the link up when posted; 404 for a link unknown, used or expired.
async fn token_page(
    app: &App,
    headers: &axum::http::HeaderMap,
    token: String,
    purpose: &'static str,
    template: &'static str,
) -> Result<Response, PageError> {
    let t = token.clone();
    let found = app
        .run(move |e| match e.peek_token(&t, purpose)? {
            Some(tok) => Ok(Some(e.person(&tok.person)?)),
            None => Ok(None),
        })
        .await?;
    let (pre, set) = pre_cookie(app, headers);
    let (status, ctx) = match found {
        Some(p) => (
            StatusCode::OK,
            json!({"csrf": auth::csrf_for(&pre), "name": name_of(&p), "token": token}),
        ),
        None => (StatusCode::NOT_FOUND, json!({"expired": true})),
    };
    Ok(page_with_cookie(status, render::page(template, ctx), set))
}

async fn sign_in_redeem(
    State(app): State<App>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    auth::check_pre(pre_of(&headers).as_deref(), FormFields(&form).get("_csrf"))?;
    let person = app.run(move |e| e.redeem_token(&token, "sign_in")).await?;
    match person {
        Some(t) => {
            // back to the page that asked for the sign-in (checked again: a path of this site)
            let next = t
                .payload
                .get("next")
                .and_then(Value::as_str)
                .and_then(auth::safe_next)
                .unwrap_or_else(|| "/".to_owned());
            start_session(&app, t.person, &next).await
        }
        None => Ok((
            StatusCode::NOT_FOUND,
            render::page("sign_in_link.html", json!({"expired": true})),
        )
            .into_response()),
    }
}

// ---- passwords -------------------------------------------------------------------------

/// The client's address for the sign-in limits (`unknown` when the server was not told).
fn peer_key(headers_ext: &axum::http::Extensions) -> String {
    headers_ext
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn sign_in_page(
    app: &App,
    headers: &axum::http::HeaderMap,
    status: StatusCode,
    extra: Value,
) -> Response {
    let (pre, set) = pre_cookie(app, headers);
    let ctx = with(
        json!({"csrf": auth::csrf_for(&pre), "demo": app.config().demo}),
        extra,
    );
    page_with_cookie(status, render::page("sign_in.html", ctx), set)
}

/// Sign in with e-mail and password: one message for an unknown address and a wrong
/// password; failures counted per address and account (`password::Limiter`).
async fn sign_in_password(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    extensions: axum::http::Extensions,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let headers = &headers;
    let f = FormFields(&form);
    auth::check_pre(pre_of(headers).as_deref(), f.get("_csrf"))?;
    let email = f.get("email").trim().to_owned();
    let next = f.opt("next").and_then(auth::safe_next);
    let addr = peer_key(&extensions);
    if let Some(wait) = app.limiter().blocked(&addr, &email) {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        return Ok(sign_in_page(
            &app,
            headers,
            StatusCode::TOO_MANY_REQUESTS,
            json!({
                "next": next, "email": email,
                "password_error": format!("Too many failed sign-ins; try again in {minutes} minute{}, or ask for a sign-in link.", if minutes == 1 { "" } else { "s" }),
            }),
        ));
    }
    let password = f.get("password").to_owned();
    let addr_email = email.clone();
    let who = app
        .run(move |e| {
            let mut found = None;
            let mut checked = false;
            if password.len() <= crate::password::MAX_LEN * 4 {
                for p in e.people_by_email(&addr_email)? {
                    if let Some(phc) = e.password_hash(&p.id)? {
                        checked = true;
                        if crate::password::verify(&password, &phc) {
                            found = Some(p.id);
                            break;
                        }
                    }
                }
            }
            if !checked {
                crate::password::verify_nobody(&password);
            }
            Ok(found)
        })
        .await?;
    match who {
        Some(person) => {
            app.limiter().succeeded(&email);
            start_session(&app, person, next.as_deref().unwrap_or("/")).await
        }
        None => {
            app.limiter().failed(&addr, &email);
            Ok(sign_in_page(
                &app,
                headers,
                StatusCode::UNAUTHORIZED,
                json!({
                    "next": next, "email": email,
                    "password_error": "That e-mail address and password do not match.",
                }),
            ))
        }
    }
}

async fn password_request_form(State(app): State<App>, headers: axum::http::HeaderMap) -> Response {
    let (pre, set) = pre_cookie(&app, &headers);
    page_with_cookie(
        StatusCode::OK,
        render::page(
            "password.html",
            json!({"csrf": auth::csrf_for(&pre), "ask": true}),
        ),
        set,
    )
}

/// Mail a link to set a password to everyone with that address; the same answer either way.
async fn password_request(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let f = FormFields(&form);
    auth::check_pre(pre_of(&headers).as_deref(), f.get("_csrf"))?;
    let email = f.get("email").trim().to_owned();
    if !email.contains('@') || email.len() > 320 {
        let (pre, set) = pre_cookie(&app, &headers);
        let html = render::page(
            "password.html",
            json!({"csrf": auth::csrf_for(&pre), "ask": true, "email": email,
            "error": "enter the e-mail address the programme knows you by"}),
        );
        return Ok(page_with_cookie(StatusCode::BAD_REQUEST, html, set));
    }
    for (person, secret) in issue_links(&app, &email, "set_password", json!({})).await? {
        let url = format!("{}/password/{secret}", app.config().public_url);
        crate::mail::send_password_link(&app, &person, &url).await;
    }
    Ok(render::page("password.html", json!({"sent": true, "email": email})).into_response())
}

async fn password_form(
    State(app): State<App>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    token_page(&app, &headers, token, "set_password", "password.html").await
}

/// Set the password: checked, hashed (argon2id), the link used up, and signed in.
async fn password_set(
    State(app): State<App>,
    Path(token): Path<String>,
    headers: axum::http::HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    let f = FormFields(&form);
    auth::check_pre(pre_of(&headers).as_deref(), f.get("_csrf"))?;
    let password = f.get("password").to_owned();
    if let Some(why) = crate::password::weakness(&password, f.get("confirm")) {
        let t = token.clone();
        let p = app
            .run(move |e| match e.peek_token(&t, "set_password")? {
                Some(tok) => Ok(Some(e.person(&tok.person)?)),
                None => Ok(None),
            })
            .await?;
        let Some(p) = p else {
            return Ok((
                StatusCode::NOT_FOUND,
                render::page("password.html", json!({"expired": true})),
            )
                .into_response());
        };
        let (pre, set) = pre_cookie(&app, &headers);
        let html = render::page(
            "password.html",
            json!({"csrf": auth::csrf_for(&pre), "name": name_of(&p), "token": token, "error": why}),
        );
        return Ok(page_with_cookie(StatusCode::BAD_REQUEST, html, set));
    }
    let phc = crate::password::hash(&password).map_err(|e| {
        tracing::error!("password hash: {e}");
        Failure::Internal
    })?;
    let person = app
        .run(move |e| {
            let Some(t) = e.redeem_token(&token, "set_password")? else {
                return Ok(None);
            };
            e.set_password_hash(&t.person, &phc)?;
            Ok(Some(t.person))
        })
        .await?;
    match person {
        Some(p) => start_session(&app, p, "/?password=set").await,
        None => Ok((
            StatusCode::NOT_FOUND,
            render::page("password.html", json!({"expired": true})),
        )
            .into_response()),
    }
}

async fn start_session(app: &App, person: String, next: &str) -> Result<Response, PageError> {
    let secret = auth::secret();
    let s = secret.clone();
    let ttl = app.config().session_ttl;
    app.run(move |e| {
        e.create_credential(
            &s,
            mentorflow::CredentialKind::Session,
            &person,
            "browser",
            Some(ttl),
        )
    })
    .await?;
    let mut r = Redirect::to(next).into_response();
    let c = auth::set_cookie(app, auth::SESSION_COOKIE, &secret, None);
    if let Ok(v) = c.parse() {
        r.headers_mut().append(SET_COOKIE, v);
    }
    Ok(r)
}

async fn sign_out(
    State(app): State<App>,
    s: Session,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(FormFields(&form).get("_csrf"))?;
    let secret = s.secret.clone();
    app.run(move |e| e.revoke_secret(&secret)).await?;
    let mut r = Redirect::to("/sign-in").into_response();
    let c = auth::set_cookie(
        &app,
        auth::SESSION_COOKIE,
        "",
        Some(chrono::Duration::zero()),
    );
    if let Ok(v) = c.parse() {
        r.headers_mut().append(SET_COOKIE, v);
    }
    Ok(r)
}

async fn demo_people(
    State(app): State<App>,
    headers: axum::http::HeaderMap,
) -> Result<Response, PageError> {
    if !app.config().demo {
        return Err(PageError(Failure::Engine(Error::NotFound {
            kind: "page",
            id: "/demo".into(),
            hint: None,
        })));
    }
    let people = app.run(|e| e.people(None)).await?;
    let orgs = app.run(|e| e.orgs()).await?;
    let (pre, set) = pre_cookie(&app, &headers);
    let groups: Vec<Value> = orgs
        .iter()
        .map(|o| {
            json!({
                "name": o.name.clone().unwrap_or_else(|| o.id.clone()),
                "people": people.iter().filter(|p| p.org.as_deref() == Some(&o.id)).map(|p| json!({
                    "id": p.id, "name": name_of(p), "roles": p.roles.join(", "),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let html = render::page(
        "demo.html",
        json!({"csrf": auth::csrf_for(&pre), "orgs": groups}),
    );
    Ok(page_with_cookie(StatusCode::OK, html, set))
}

async fn demo_sign_in(
    State(app): State<App>,
    Path(person): Path<String>,
    headers: axum::http::HeaderMap,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    if !app.config().demo {
        return Err(PageError(Failure::Engine(Error::NotFound {
            kind: "page",
            id: "/demo".into(),
            hint: None,
        })));
    }
    auth::check_pre(pre_of(&headers).as_deref(), FormFields(&form).get("_csrf"))?;
    let p = person.clone();
    app.run(move |e| e.person(&p)).await?;
    start_session(&app, person, "/").await
}

// ---- home and views --------------------------------------------------------------------

async fn home(State(app): State<App>, s: Session) -> Result<Response, PageError> {
    let me = s.person.id.clone();
    let ctx = app
        .run(move |e| {
            let views = e.view_counts(&me)?;
            let starts = e.start_actions_for(&me)?;
            let exports = e.exports_for(&me)?;
            let mut groups: Vec<(String, String, Vec<Value>)> = Vec::new();
            for v in views {
                let title = e.definition(&v.workflow).map(|d| d.title.clone()).unwrap_or_default();
                let entry = json!({
                    "title": v.title, "description": v.description, "count": v.count,
                    "href": format!("/views/{}/{}", v.workflow, v.name),
                });
                match groups.iter_mut().find(|g| g.0 == v.workflow) {
                    Some(g) => g.2.push(entry),
                    None => groups.push((v.workflow.clone(), title, vec![entry])),
                }
            }
            Ok(json!({
                "operator": e.is_operator(&me)?,
                "groups": groups.into_iter().map(|(w, t, v)| json!({"workflow": w, "title": t, "views": v})).collect::<Vec<_>>(),
                "starts": starts.iter().map(|s| json!({
                    "label": s.label, "workflow": s.workflow_title, "description": s.description,
                    "href": format!("/start/{}/{}", s.workflow, s.action),
                })).collect::<Vec<_>>(),
                "exports": exports.iter().map(|x| json!({
                    "title": x.title, "description": x.description,
                    "href": format!("/exports/{}/{}", x.workflow, x.name),
                })).collect::<Vec<_>>(),
            }))
        })
        .await?;
    Ok(render::page("home.html", with(layout(&s), ctx)).into_response())
}

/// Query of a view list: `page`, `sort`, `desc`, `state` (repeatable), `q`, `f.FIELD`.
fn view_query(params: &Fields) -> Result<(ViewQuery, usize), Failure> {
    const PER_PAGE: usize = 25;
    let mut q = ViewQuery {
        limit: PER_PAGE,
        ..ViewQuery::default()
    };
    let mut page = 1usize;
    for (k, v) in params {
        match k.as_str() {
            "page" => {
                page = v
                    .parse()
                    .ok()
                    .filter(|p| *p >= 1 && *p <= 1_000_000)
                    .ok_or_else(|| {
                        Failure::bad("page", format!("page must be a number from 1, got \"{v}\""))
                    })?
            }
            "sort" if !v.is_empty() => q.sort = Some(v.clone()),
            "desc" if !v.is_empty() => q.descending = Some(v == "1" || v == "true"),
            "state" if !v.is_empty() => q.states.push(v.clone()),
            "q" if !v.trim().is_empty() => q.search = Some(v.trim().to_owned()),
            k if k.starts_with("f.") && !v.is_empty() => {
                q.fields.push((k[2..].to_owned(), Value::String(v.clone())))
            }
            _ => {}
        }
    }
    q.offset = (page - 1) * PER_PAGE;
    Ok((q, page))
}

async fn view_list(
    State(app): State<App>,
    s: Session,
    Path((workflow, view)): Path<(String, String)>,
    Query(params): Query<Fields>,
) -> Result<Response, PageError> {
    let (query, page) = view_query(&params)?;
    let me = s.person.id.clone();
    let ctx = app
        .run(move |e| {
            let def = e.definition(&workflow)?;
            let v = def
                .view(&view)
                .ok_or_else(|| Error::NotFound { kind: "view", id: format!("{workflow}.{view}"), hint: None })?
                .clone();
            // only the views the engine offers this person (their home's boxes)
            if !e.views_for(&me)?.iter().any(|x| x.workflow == workflow && x.name == view) {
                return Err(Error::NotFound { kind: "view", id: format!("{workflow}.{view}"), hint: None });
            }
            let result = e.view_page(&format!("{workflow}.{view}"), &me, &query)?;
            let columns = list_columns(&def);
            let zones = org_zones(e)?;
            let kinds: Vec<Option<mentorflow::definition::FieldType>> = columns
                .iter()
                .map(|(f, _)| def.fields.iter().find(|x| &x.name == f).map(|x| x.kind))
                .collect();
            // person columns show names: the people of the organisations on this page
            let mut ids: Vec<&str> = Vec::new();
            for ((f, _), k) in columns.iter().zip(&kinds) {
                if matches!(k, Some(mentorflow::definition::FieldType::Person)) {
                    ids.extend(result.cases.iter().filter_map(|c| c.data.get(f).and_then(Value::as_str)));
                }
            }
            let names: BTreeMap<String, String> =
                e.people_named(&ids)?.iter().map(|p| (p.id.clone(), name_of(p))).collect();
            let cell = |k: &Option<mentorflow::definition::FieldType>, v: &Value| -> String {
                match (k, v) {
                    (Some(mentorflow::definition::FieldType::Person), Value::String(id)) => {
                        names.get(id).cloned().unwrap_or_else(|| id.clone())
                    }
                    (Some(k), v) => show_field(k, v),
                    (None, v) => show_value(v),
                }
            };
            let rows: Vec<Value> = result
                .cases
                .iter()
                .map(|c| {
                    let z = zones.get(&c.org).copied().unwrap_or(chrono_tz::UTC);
                    json!({
                        "id": c.id,
                        "href": format!("/cases/{}", c.id),
                        "cells": columns.iter().zip(&kinds).map(|((f, _), k)| c.data.get(f).map(|v| cell(k, v)).unwrap_or_default()).collect::<Vec<_>>(),
                        "state": c.state_label,
                        "updated": when(c.updated_at, z),
                    })
                })
                .collect();
            let pages = result.total.div_ceil(query.limit.max(1)).max(1);
            let states: Vec<Value> = def
                .states
                .iter()
                .filter(|st| v.states.is_empty() || v.states.contains(&st.id))
                .map(|st| json!({"id": st.id, "label": st.label, "selected": query.states.contains(&st.id)}))
                .collect();
            Ok(json!({
                "title": result.title, "description": v.description, "workflow": def.title,
                "columns": columns.iter().map(|(f, l)| json!({"key": f, "label": l})).collect::<Vec<_>>(),
                "rows": rows, "total": result.total, "page": page, "pages": pages,
                "prev": (page > 1).then(|| page - 1), "next": (page < pages).then(|| page + 1),
                "sort": query.sort, "desc": query.descending.unwrap_or(false),
                "q": query.search, "states": states,
                "base": format!("/views/{workflow}/{view}"),
            }))
        })
        .await?;
    Ok(render::page("view.html", with(layout(&s), ctx)).into_response())
}

/// Whether a cell's value is a date in `from..=to` (ISO dates compare as text).
fn in_period(v: Option<&Value>, from: Option<&str>, to: Option<&str>) -> bool {
    let Some(d) = v.and_then(Value::as_str).map(|d| d.get(..10).unwrap_or(d)) else {
        return from.is_none() && to.is_none();
    };
    from.is_none_or(|f| d >= f) && to.is_none_or(|t| d <= t)
}

/// An export the person is offered (`Engine::exports_for`), as a table of the rows of the
/// cases they may see (`Engine::export` with them), filtered by period (`from`, `to` on its
/// `date` column) and chapter (`chapter` column); `format=csv` downloads the same rows.
async fn export_page(
    State(app): State<App>,
    s: Session,
    Path((workflow, name)): Path<(String, String)>,
    Query(params): Query<Fields>,
) -> Result<Response, PageError> {
    let me = s.person.id.clone();
    let q = FormFields(&params);
    let date = |k: &str| -> Result<Option<String>, Failure> {
        match q.opt(k).map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d")
                .map(|d| Some(d.to_string()))
                .map_err(|_| Failure::bad(k, format!("`{v}` is not a date (YYYY-MM-DD)"))),
        }
    };
    let (from, to) = (date("from")?, date("to")?);
    let chapter = q
        .opt("chapter")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let csv = q.opt("format") == Some("csv");
    let (w, n) = (workflow.clone(), name.clone());
    let (info, mut table, names, org_names) = app
        .run(move |e| {
            let not_found = || Error::NotFound {
                kind: "export",
                id: format!("{w}.{n}"),
                hint: None,
            };
            let info = e
                .exports_for(&me)?
                .into_iter()
                .find(|x| x.workflow == w && x.name == n)
                .ok_or_else(not_found)?;
            let table = e.export(&format!("{w}.{n}"), Some(&me))?;
            // person ids in cells are shown by name (the CSV keeps the ids)
            let org = e.person(&me)?.org;
            let names: BTreeMap<String, String> = e
                .people(org.as_deref())?
                .iter()
                .map(|p| (p.id.clone(), name_of(p)))
                .collect();
            // the chapter (organisation) column shows the organisation's name
            let org_names: BTreeMap<String, String> = e
                .orgs()?
                .into_iter()
                .map(|o| (o.id.clone(), o.name.unwrap_or(o.id)))
                .collect();
            Ok((info, table, names, org_names))
        })
        .await?;
    let chapters: std::collections::BTreeSet<String> = table
        .rows
        .iter()
        .filter_map(|r| r.get("chapter").and_then(Value::as_str).map(str::to_owned))
        .collect();
    let has_date = table.columns.iter().any(|c| c == "date");
    table.rows.retain(|r| {
        (!has_date || in_period(r.get("date"), from.as_deref(), to.as_deref()))
            && chapter
                .as_deref()
                .is_none_or(|c| r.get("chapter").and_then(Value::as_str) == Some(c))
    });
    if csv {
        let file = format!("{}.csv", info.name);
        return Ok((
            [
                (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    axum::http::header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{file}\""),
                ),
            ],
            table.to_csv(),
        )
            .into_response());
    }
    let mut query: Vec<(String, String)> = Vec::new();
    for (k, v) in [("from", &from), ("to", &to), ("chapter", &chapter)] {
        if let Some(v) = v {
            query.push((k.to_owned(), v.clone()));
        }
    }
    query.push(("format".into(), "csv".into()));
    let csv_href = format!(
        "/exports/{workflow}/{name}?{}",
        query
            .iter()
            .map(|(k, v)| format!("{k}={}", auth::encode_path(v)))
            .collect::<Vec<_>>()
            .join("&")
    );
    let ctx = json!({
        "title": info.title, "description": info.description,
        "columns": table.columns.iter().map(|c| humanize(c)).collect::<Vec<_>>(),
        "rows": table.rows.iter().map(|r| table.columns.iter().map(|c| {
            let text = r.get(c).map(show_value).unwrap_or_default();
            let lookup = if c == "chapter" || c == "org" { &org_names } else { &names };
            lookup.get(&text).cloned().unwrap_or(text)
        }).collect::<Vec<_>>()).collect::<Vec<_>>(),
        "total": table.rows.len(),
        "has_date": has_date, "date_from": from, "date_to": to,
        "chapters": chapters.iter().map(|c| json!({"id": c, "name": org_names.get(c).unwrap_or(c)})).collect::<Vec<_>>(),
        "chapter": chapter,
        "base": format!("/exports/{workflow}/{name}"), "csv": csv_href,
    });
    Ok(render::page("export.html", with(layout(&s), ctx)).into_response())
}

/// The columns of a list: the first few text fields of the workflow (title, client…).
fn list_columns(def: &mentorflow::Definition) -> Vec<(String, String)> {
    use mentorflow::definition::FieldType;
    def.fields
        .iter()
        .filter(|f| {
            !f.private
                && matches!(
                    f.kind,
                    FieldType::String | FieldType::Person | FieldType::Date
                )
        })
        .take(3)
        .map(|f| {
            (
                f.name.clone(),
                f.label.clone().unwrap_or_else(|| humanize(&f.name)),
            )
        })
        .collect()
}

fn org_zones(e: &Engine) -> mentorflow::Result<BTreeMap<String, chrono_tz::Tz>> {
    Ok(e.orgs()?
        .into_iter()
        .map(|o| (o.id.clone(), zone(&o.timezone)))
        .collect())
}

/// A field's value as people read it: dates as `Thu 3 Dec 2026`, the rest as [`show_value`].
fn show_field(kind: &mentorflow::definition::FieldType, v: &Value) -> String {
    use mentorflow::definition::FieldType;
    match (kind, v) {
        (FieldType::Date, Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map(|d| d.format("%a %-d %b %Y").to_string())
            .unwrap_or_else(|_| s.clone()),
        _ => show_value(v),
    }
}

/// How an operator's control reads in a case's history (`operator:suspend` → "Suspended the
/// case (operator control)"); `None` for the flow's own actions.
fn operator_label(action: &str) -> Option<&'static str> {
    Some(match action.strip_prefix("operator:")? {
        "suspend" => "Suspended the case (operator control)",
        "resume" => "Resumed the case (operator control)",
        "cancel" => "Cancelled the case (operator control)",
        "repair" => "Moved the case to another state (operator repair)",
        "reassign" => "Reassigned the case (operator control)",
        "forget" => "Forgot a person (erasure request)",
        _ => return None,
    })
}

fn show_value(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "yes".into(),
        Value::Bool(false) => "no".into(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(show_value).collect::<Vec<_>>().join(", "),
        // A record or a map (referrals by person, a message): "Key: value; …", nested ones in
        // parentheses, rather than JSON.
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                Value::Object(_) => format!("{}: ({})", humanize(k), show_value(v)),
                _ => format!("{}: {}", humanize(k), show_value(v)),
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

// ---- case page -------------------------------------------------------------------------

/// A refused submit to show again on the case page.
#[derive(Debug, Default)]
struct Refusal {
    action: String,
    form: Fields,
    errors: BTreeMap<String, String>,
    message: Option<String>,
    suggest: Vec<String>,
}

fn settings_of(def: &mentorflow::Definition, org: &mentorflow::Org) -> Map<String, Value> {
    let mut s: Map<String, Value> = def
        .settings
        .iter()
        .map(|x| (x.name.clone(), x.default.clone()))
        .collect();
    s.extend(org.settings.clone());
    s
}

/// The case page's history shows the newest this many events unless asked for all
/// (`?history=all`): a case acted on thousands of times keeps a page of bounded cost.
pub const HISTORY_SHOWN: usize = 100;

fn case_context(
    e: &Engine,
    case: &Case,
    me: &str,
    refusal: Option<&Refusal>,
    done: Option<&str>,
) -> mentorflow::Result<Value> {
    case_context_with(e, case, me, refusal, done, false)
}

fn case_context_with(
    e: &Engine,
    case: &Case,
    me: &str,
    refusal: Option<&Refusal>,
    done: Option<&str>,
    all_history: bool,
) -> mentorflow::Result<Value> {
    let def = e.definition_of(case)?;
    let org = e.org(&case.org)?;
    let z = zone(&org.timezone);
    let settings = settings_of(&def, &org);
    let history = e.history(case.id, Some(me))?;
    let history_total = history.len();
    let shown_from = if all_history {
        0
    } else {
        history_total.saturating_sub(HISTORY_SHOWN)
    };
    let on_case = e.participants(case.id, Some(me))?;
    // the names of the people the page shows, and only those (not the organisation's)
    let mut ids: Vec<&str> = on_case.iter().map(|p| p.person.as_str()).collect();
    for ev in &history[shown_from..] {
        ids.push(&ev.actor);
        for eff in &ev.effects {
            match eff {
                Effect::Assign { person, .. } | Effect::Unassign { person, .. } => ids.push(person),
                Effect::Notify { to, .. } => ids.push(to),
                _ => {}
            }
        }
    }
    for f in def
        .fields
        .iter()
        .filter(|f| f.kind == mentorflow::definition::FieldType::Person)
    {
        if let Some(Value::String(id)) = case.data.get(&f.name) {
            ids.push(id);
        }
    }
    let names: BTreeMap<String, String> = e
        .people_named(&ids)?
        .iter()
        .map(|p| (p.id.clone(), name_of(p)))
        .collect();
    let who = |id: &str| -> String {
        if id == "system" {
            "mentorflow (timer)".into()
        } else {
            names.get(id).cloned().unwrap_or_else(|| id.to_owned())
        }
    };
    let role_label = |id: &str| -> String {
        humanize(
            &def.roles
                .iter()
                .find(|r| r.name == id)
                .and_then(|r| r.label.clone())
                .unwrap_or_else(|| id.to_owned()),
        )
    };
    let action_label = |id: &str| -> String {
        def.action(id)
            .and_then(|a| a.label.clone())
            .or_else(|| operator_label(id).map(str::to_owned))
            .unwrap_or_else(|| humanize(id.strip_prefix("timer:").unwrap_or(id)))
    };
    let fields: Vec<Value> = def
        .fields
        .iter()
        .filter(|f| !f.private)
        .filter_map(|f| {
            case.data.get(&f.name).map(|v| {
                json!({"label": f.label.clone().unwrap_or_else(|| humanize(&f.name)), "value": match (&f.kind, v) {
                    (mentorflow::definition::FieldType::Person, Value::String(id)) => who(id),
                    _ => show_field(&f.kind, v),
                },
                       "long": matches!(f.kind, mentorflow::definition::FieldType::Text)})
            })
        })
        .collect();
    let participants: Vec<Value> = on_case
        .iter()
        .map(|p| {
            json!({"role": role_label(&p.role),
                   "name": who(&p.person), "since": when(p.since, z)})
        })
        .collect();
    let mut notes = Vec::new();
    let events: Vec<Value> = history[shown_from..]
        .iter()
        .rev()
        .map(|ev| {
            let mut changes = Vec::new();
            if operator_label(&ev.action).is_some() {
                if let Some(Value::String(reason)) = ev.inputs.get("reason") {
                    changes.push(json!({"text": format!("reason: “{reason}”")}));
                }
            }
            for eff in &ev.effects {
                match eff {
                    Effect::Note { text } => {
                        notes.push(
                            json!({"text": text, "who": who(&ev.actor), "at": when(ev.at, z)}),
                        );
                        changes.push(json!({"note": text}));
                    }
                    Effect::Assign { role, person } => changes.push(
                        json!({"text": format!("{} became {}", who(person), role_label(role))}),
                    ),
                    Effect::Unassign { role, person } => changes.push(
                        json!({"text": format!("{} is no longer {}", who(person), role_label(role))}),
                    ),
                    Effect::Notify { to, template, .. } => changes.push(
                        json!({"text": format!("e-mail “{}” to {}", humanize(template), who(to))}),
                    ),
                    _ => {}
                }
            }
            json!({
                "at": when(ev.at, z), "iso": ev.at.to_rfc3339(), "who": who(&ev.actor),
                "action": action_label(&ev.action),
                "from": ev.from_state.as_deref().map(|s| def.state_label(s).to_owned()),
                "to": def.state_label(&ev.to_state),
                "moved": ev.from_state.as_deref() != Some(ev.to_state.as_str()),
                "changes": changes,
            })
        })
        .collect();
    notes.reverse();
    let timers: Vec<Value> = e
        .timers(case.id)?
        .iter()
        .map(|t| {
            let what = match &t.action {
                Some(a) => {
                    let target = def.action(a).and_then(|act| match &act.to {
                        mentorflow::definition::Target::To(s) => Some(def.state_label(s).to_owned()),
                        _ => None,
                    });
                    match target {
                        Some(to) => format!("{} → {to}", action_label(a)),
                        None => action_label(a),
                    }
                }
                None => t.description.clone().unwrap_or_else(|| humanize(&t.name)),
            };
            // the description once: as the line itself, or under an action's label
            let detail = t
                .description
                .clone()
                .filter(|d| t.action.is_some() && !what.starts_with(d.as_str()));
            json!({"what": what, "due": when(t.due_at, z), "iso": t.due_at.to_rfc3339(), "detail": detail})
        })
        .collect();
    let availability = e.action_availability(case.id, me)?;
    let available: Vec<String> = availability
        .iter()
        .filter(|a| a.available())
        .map(|a| a.action.clone())
        .collect();
    // what a guard refuses this person now, and what they could do once the case takes its
    // next step (an action from a state one action away): shown greyed with the engine's
    // message, never as a form. Actions further away would only be clutter.
    let next: Vec<&str> = def
        .actions
        .iter()
        .filter(|a| a.starts_from(&case.state))
        .flat_map(|a| a.to.states())
        .filter(|s| *s != case.state)
        .collect();
    let mut moves_on: Vec<String> = Vec::new();
    let unavailable: Vec<Value> = availability
        .iter()
        .filter_map(|a| {
            let why = a.unavailable.as_ref()?;
            let guard = why.reason == mentorflow::UnavailableReason::Guard;
            let soon = def
                .action(&a.action)
                .and_then(|x| x.from.as_ref())
                .is_some_and(|from| from.iter().any(|f| next.contains(&f.as_str())));
            if !guard && !soon {
                return None;
            }
            let suggest: Vec<String> = why.suggest.iter().map(|s| action_label(s)).collect();
            if !guard && moves_on.is_empty() {
                moves_on = suggest.clone();
            }
            // the state's plain "X is not possible while the case is Y" lines are grouped
            // into one ("Not while the case is Y: X, Z"); their own words stay on their own
            let generic = !guard && why.message.contains(" is not possible while the case is ");
            Some(json!({
                "id": a.action, "label": action_label(&a.action), "message": why.message,
                "guard": guard, "suggest": if guard { suggest } else { Vec::new() },
                "generic": generic,
            }))
        })
        .collect();
    let (later, unavailable): (Vec<Value>, Vec<Value>) = unavailable
        .into_iter()
        .partition(|u| u["generic"] == json!(true));
    let actions: Vec<Value> = available
        .iter()
        .filter_map(|id| def.action(id))
        .map(|a| {
            let pickers = case_pickers(e, case, a, me)?;
            let ctx = forms::Context {
                settings: &settings,
                pickers: &pickers,
                zone: z,
            };
            let mine = refusal.filter(|r| r.action == a.id);
            let empty = BTreeMap::new();
            let controls = forms::controls(
                &a.inputs,
                &ctx,
                mine.map(|r| r.form.as_slice()).unwrap_or(&[]),
                mine.map(|r| &r.errors).unwrap_or(&empty),
            );
            // `shows:` the case fields the form needs in view (none private: the loader refuses them)
            let shows: Vec<Value> = a
                .shows
                .iter()
                .filter_map(|name| {
                    let f = def.field(name)?;
                    let v = case.data.get(name).filter(|v| !v.is_null())?;
                    Some(json!({"label": f.label.clone().unwrap_or_else(|| humanize(&f.name)), "value": match (&f.kind, v) {
                        (mentorflow::definition::FieldType::Person, Value::String(id)) => who(id),
                        _ => show_field(&f.kind, v),
                    }}))
                })
                .collect();
            Ok(json!({
                "id": a.id, "label": a.label.clone().unwrap_or_else(|| humanize(&a.id)),
                "rows_more": controls.iter().any(|c| c.more),
                "description": a.description, "controls": controls, "shows": shows,
                "href": format!("/cases/{}/act/{}", case.id, a.id),
                "key": auth::secret(),
                "open": mine.is_some(),
                "message": mine.and_then(|r| r.message.clone()),
                "suggest": mine.map(|r| r.suggest.iter().map(|s| action_label(s)).collect::<Vec<_>>()).unwrap_or_default(),
            }))
        })
        .collect::<mentorflow::Result<_>>()?;
    let refused_elsewhere = refusal.filter(|r| !available.contains(&r.action)).map(|r| {
        json!({"action": action_label(&r.action), "message": r.message, "suggest": r.suggest.iter().map(|s| action_label(s)).collect::<Vec<_>>()})
    });
    // the flow drawn inline (SVG, no script): the current state and the path taken marked
    let trace = mentorflow::graph::Trace::from_history(&history);
    let diagram = mentorflow::graph::svg(&def, Some(&trace), &format!("flow-{}", case.id));
    Ok(json!({
        "case": {
            "id": case.id, "state": case.state, "state_label": case.state_label, "open": case.open,
            "revision": case.revision, "org": org.name.clone().unwrap_or(org.id.clone()),
            "created": when(case.created_at, z), "updated": when(case.updated_at, z),
            "workflow": def.title, "zone": org.timezone,
        },
        "fields": fields, "participants": participants, "events": events, "notes": notes,
        "history_total": history_total, "history_hidden": shown_from,
        "timers": timers, "actions": actions, "unavailable": unavailable, "later": later, "moves_on": moves_on,
        "diagram": diagram,
        "refused": refused_elsewhere,
        "done": done.map(action_label),
        "operator_panel": operator_panel(e, case, me, z)?,
    }))
}

/// The operator panel (`ops::operator_panel`) with its suspension and cancellation times in
/// the organisation's zone, like the rest of the case page.
fn operator_panel(
    e: &Engine,
    case: &Case,
    me: &str,
    z: chrono_tz::Tz,
) -> mentorflow::Result<Value> {
    let mut panel = crate::ops::operator_panel(e, case, me)?;
    for (key, mark) in [
        ("suspended", &case.suspended),
        ("cancelled", &case.cancelled),
    ] {
        if let (Some(m), Some(slot)) = (mark, panel.get_mut(key).and_then(|v| v.get_mut("at"))) {
            *slot = json!(when(m.at, z));
        }
    }
    Ok(panel)
}

/// An e-mail action link (see `links`): the case page with that action's form open, for the
/// person it was sent to, while the case is where the mail left it. Following it never acts.
async fn action_link(
    State(app): State<App>,
    s: Session,
    Path(token): Path<String>,
) -> Result<Response, PageError> {
    use crate::links::{ActionLink, LinkRefusal};
    let key = app.config().link_key.clone();
    let me = s.person.clone();
    let gone = |message: String, case: i64| Failure::Link {
        status: StatusCode::GONE,
        title: "This link was already used",
        message,
        case: Some(case),
    };
    let outcome = app
        .run(move |e| {
            let link = match ActionLink::verify(&token, &key, e.now()) {
                Ok(l) => l,
                Err(LinkRefusal::Invalid) => {
                    return Ok(Err(Failure::Link {
                        status: StatusCode::BAD_REQUEST,
                        title: "This link is not valid",
                        message: "The link was changed or cut short on the way. Open the e-mail again and use the whole link, or find the case from your home page.".into(),
                        case: None,
                    }))
                }
                Err(LinkRefusal::Expired(l)) => {
                    let zone = me
                        .org
                        .as_deref()
                        .and_then(|o| e.org(o).ok())
                        .map_or(chrono_tz::Tz::UTC, |o| zone(&o.timezone));
                    return Ok(Err(Failure::Link {
                        status: StatusCode::GONE,
                        title: "This link has expired",
                        message: format!(
                            "It worked until {}. You can still act on the case itself.",
                            when(l.expires_at(), zone)
                        ),
                        case: (l.person == me.id).then_some(l.case_id),
                    }));
                }
            };
            if link.person != me.id {
                return Ok(Err(Failure::Link {
                    status: StatusCode::FORBIDDEN,
                    title: "This link is for someone else",
                    message: format!(
                        "It was sent to another person, and you are signed in as {}. If it was sent to you, sign out and follow it again.",
                        name_of(&me)
                    ),
                    case: None,
                }));
            }
            let case = e.get(link.case_id, Some(&me.id))?;
            if case.revision != link.revision {
                return Ok(Err(gone(
                    "The case changed since the e-mail was sent (it was acted on, perhaps with this link), so the link no longer works.".into(),
                    case.id,
                )));
            }
            let def = e.definition_of(&case)?;
            let label = def
                .action(&link.action)
                .and_then(|a| a.label.clone())
                .unwrap_or_else(|| humanize(&link.action));
            if !e.actions(case.id, &me.id)?.contains(&link.action) {
                let why = e
                    .action_availability(case.id, &me.id)?
                    .into_iter()
                    .find(|a| a.action == link.action)
                    .and_then(|a| a.unavailable)
                    .map_or_else(|| "it is no longer yours to do".to_owned(), |u| u.message);
                return Ok(Err(gone(format!("{label} is not possible now: {why}"), case.id)));
            }
            let open = Refusal {
                action: link.action.clone(),
                form: Vec::new(),
                errors: BTreeMap::new(),
                message: None,
                suggest: Vec::new(),
            };
            let mut ctx = case_context(e, &case, &me.id, Some(&open), None)?;
            ctx["from_link"] = json!(label);
            Ok(Ok(ctx))
        })
        .await?;
    let ctx = outcome?;
    Ok(render::page("case.html", with(layout(&s), ctx)).into_response())
}

async fn legacy_case_link(Path(id): Path<String>) -> Redirect {
    Redirect::permanent(&format!("/cases/{}", id.trim()))
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

async fn case_page(
    State(app): State<App>,
    s: Session,
    Path(id): Path<String>,
    Query(params): Query<Fields>,
) -> Result<Response, PageError> {
    let id = case_id(&id)?;
    let me = s.person.id.clone();
    let done = FormFields(&params).opt("done").map(str::to_owned);
    let all_history = FormFields(&params).opt("history") == Some("all");
    let ctx = app
        .run(move |e| {
            let case = e.get(id, Some(&me))?;
            case_context_with(e, &case, &me, None, done.as_deref(), all_history)
        })
        .await?;
    Ok(render::page("case.html", with(layout(&s), ctx)).into_response())
}

/// Form fields by name (the first value).
struct FormFields<'a>(&'a Fields);

impl<'a> FormFields<'a> {
    fn opt(&self, name: &str) -> Option<&'a str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn get(&self, name: &str) -> &'a str {
        self.opt(name).unwrap_or("")
    }
}

enum Outcome {
    Redirect(String),
    Page(StatusCode, Value),
}

async fn act(
    State(app): State<App>,
    s: Session,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(FormFields(&form).get("_csrf"))?;
    let id = case_id(&id)?;
    let f = FormFields(&form);
    let revision = f.get("_revision").parse::<u64>().ok();
    let key = f.opt("_key").filter(|k| !k.is_empty()).map(str::to_owned);
    let me = s.person.id.clone();
    let outcome = app
        .run(move |e| {
            let case = e.get(id, Some(&me))?;
            let def = e.definition_of(&case)?;
            let Some(a) = def.action(&action).filter(|a| !a.is_start()) else {
                return Err(Error::NotFound { kind: "action", id: action.clone(), hint: None });
            };
            let org = e.org(&case.org)?;
            let settings = settings_of(&def, &org);
            // reading a form needs no candidates: the engine checks the person given
            let pickers = forms::Pickers::new();
            let ctx = forms::Context { settings: &settings, pickers: &pickers, zone: zone(&org.timezone) };
            let submitted: Fields = form.iter().filter(|(k, _)| !k.starts_with('_')).cloned().collect();
            let mut refusal = Refusal { action: action.clone(), form: submitted.clone(), ..Refusal::default() };
            if let Some(list) = forms::more_rows(&form) {
                // "Add a row": the form again with its rows and one more; nothing is done
                refusal.form.push((forms::MORE.to_owned(), list.to_owned()));
                return Ok(Outcome::Page(StatusCode::OK, case_context(e, &case, &me, Some(&refusal), None)?));
            }
            let inputs = match forms::read(&a.inputs, &ctx, &submitted) {
                Ok(i) => i,
                Err(errors) => {
                    refusal.errors = errors;
                    refusal.message = Some("Some answers need correcting; nothing was changed.".into());
                    return Ok(Outcome::Page(StatusCode::BAD_REQUEST, case_context(e, &case, &me, Some(&refusal), None)?));
                }
            };
            let options = ActOptions { revision, idempotency_key: key };
            match e.act_with(id, &action, &me, Value::Object(inputs), &options) {
                Ok(c) => Ok(Outcome::Redirect(format!("/cases/{}?done={}", c.id, action))),
                Err(err) => {
                    let status = crate::error::status_of(&err);
                    match &err {
                        Error::Validation { message, .. } => {
                            match forms::error_field(&err) {
                                Some(field) if a.inputs.iter().any(|i| i.name == field) => {
                                    refusal.errors.insert(field, message.clone());
                                    refusal.message = Some("Some answers need correcting; nothing was changed.".into());
                                }
                                _ => refusal.message = Some(message.clone()),
                            }
                        }
                        Error::GuardRejected { message, suggest, .. } => {
                            refusal.message = Some(message.clone());
                            refusal.suggest = suggest.clone();
                        }
                        Error::Conflict { .. } => {
                            refusal.message = Some("This case changed while you were looking at it (see its history below); nothing was done. Check the answers and send again.".into());
                        }
                        Error::NotPermitted { message, .. } => refusal.message = Some(message.clone()),
                        Error::Suspended { .. } | Error::Cancelled { .. } => {
                            refusal.message = Some(err.to_string());
                        }
                        _ => return Err(err),
                    }
                    let fresh = e.get(id, Some(&me))?;
                    Ok(Outcome::Page(status, case_context(e, &fresh, &me, Some(&refusal), None)?))
                }
            }
        })
        .await?;
    Ok(match outcome {
        Outcome::Redirect(to) => {
            app.wake();
            Redirect::to(&to).into_response()
        }
        Outcome::Page(status, ctx) => {
            (status, render::page("case.html", with(layout(&s), ctx))).into_response()
        }
    })
}

// ---- start -----------------------------------------------------------------------------

fn start_context(
    e: &Engine,
    me: &Person,
    workflow: &str,
    action: &str,
    form: &Fields,
    errors: &BTreeMap<String, String>,
    message: Option<String>,
) -> mentorflow::Result<Value> {
    let allowed = e.start_actions_for(&me.id)?;
    let Some(info) = allowed
        .iter()
        .find(|s| s.workflow == workflow && s.action == action)
    else {
        return Err(Error::NotFound {
            kind: "start action",
            id: format!("{workflow}.{action}"),
            hint: None,
        });
    };
    let def = e.definition(workflow)?;
    let a = def.action(action).ok_or_else(|| Error::NotFound {
        kind: "action",
        id: action.to_owned(),
        hint: None,
    })?;
    let org_id = me.org.clone().unwrap_or_default();
    let org = e.org(&org_id)?;
    let settings = settings_of(&def, &org);
    let fields = start_fields(&def);
    let pickers = start_pickers(e, &org_id, fields.iter().chain(&a.inputs))?;
    let ctx = forms::Context {
        settings: &settings,
        pickers: &pickers,
        zone: zone(&org.timezone),
    };
    let mut controls = forms::controls(&fields, &ctx, form, errors);
    controls.extend(forms::controls(&a.inputs, &ctx, form, errors));
    Ok(json!({
        "label": info.label, "workflow": info.workflow_title, "description": info.description,
        "rows_more": controls.iter().any(|c| c.more),
        "controls": controls, "href": format!("/start/{workflow}/{action}"), "key": auth::secret(),
        "message": message,
    }))
}

/// The candidates of a start form's person pickers (and those in its lists of records): by
/// each field's `choices:` role, else the organisation's people (bounded; no case to judge
/// a guard on).
fn start_pickers<'f>(
    e: &Engine,
    org: &str,
    fields: impl Iterator<Item = &'f mentorflow::definition::Field>,
) -> mentorflow::Result<forms::Pickers> {
    let mut out = forms::Pickers::new();
    for f in fields {
        for x in std::iter::once(f).chain(&f.item_fields) {
            if x.kind == mentorflow::definition::FieldType::Person && !out.contains_key(&x.name) {
                out.insert(x.name.clone(), e.picker_people(org, x.choices.as_ref())?);
            }
        }
    }
    Ok(out)
}

/// The candidates of the person pickers of an action's form on a case, for `me`
/// (`Engine::candidates`: by the input's `choices:`, judged by the guard where it says so);
/// those in its lists of records by their `choices:` role.
fn case_pickers(
    e: &Engine,
    case: &Case,
    a: &mentorflow::definition::Action,
    me: &str,
) -> mentorflow::Result<forms::Pickers> {
    let mut out = forms::Pickers::new();
    for f in &a.inputs {
        if f.kind == mentorflow::definition::FieldType::Person {
            out.insert(f.name.clone(), e.candidates(case.id, &a.id, &f.name, me)?);
        }
        for x in &f.item_fields {
            if x.kind == mentorflow::definition::FieldType::Person && !out.contains_key(&x.name) {
                out.insert(
                    x.name.clone(),
                    e.picker_people(&case.org, x.choices.as_ref())?,
                );
            }
        }
    }
    Ok(out)
}

/// The case fields a start form asks for: those the workflow does not keep itself, unless
/// the start action has an input of the same name.
fn start_fields(def: &mentorflow::Definition) -> Vec<mentorflow::definition::Field> {
    let a_inputs: Vec<&str> = def
        .actions
        .iter()
        .filter(|a| a.is_start())
        .flat_map(|a| a.inputs.iter().map(|i| i.name.as_str()))
        .collect();
    def.fields
        .iter()
        .filter(|f| !f.computed && !a_inputs.contains(&f.name.as_str()))
        .cloned()
        .collect()
}

async fn start_form(
    State(app): State<App>,
    s: Session,
    Path((workflow, action)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let me = s.person.clone();
    let ctx = app
        .run(move |e| {
            start_context(
                e,
                &me,
                &workflow,
                &action,
                &Vec::new(),
                &BTreeMap::new(),
                None,
            )
        })
        .await?;
    Ok(render::page("start.html", with(layout(&s), ctx)).into_response())
}

async fn start(
    State(app): State<App>,
    s: Session,
    Path((workflow, action)): Path<(String, String)>,
    Form(form): Form<Fields>,
) -> Result<Response, PageError> {
    s.check(FormFields(&form).get("_csrf"))?;
    let key = FormFields(&form)
        .opt("_key")
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let me = s.person.clone();
    let outcome = app
        .run(move |e| {
            // the page itself checks that the person may use this start action
            start_context(
                e,
                &me,
                &workflow,
                &action,
                &Vec::new(),
                &BTreeMap::new(),
                None,
            )?;
            let def = e.definition(&workflow)?;
            let a = def.action(&action).ok_or_else(|| Error::NotFound {
                kind: "action",
                id: action.clone(),
                hint: None,
            })?;
            let org = e.org(me.org.as_deref().unwrap_or_default())?;
            let settings = settings_of(&def, &org);
            let pickers = forms::Pickers::new();
            let ctx = forms::Context {
                settings: &settings,
                pickers: &pickers,
                zone: zone(&org.timezone),
            };
            let mut submitted: Fields = form
                .iter()
                .filter(|(k, _)| !k.starts_with('_'))
                .cloned()
                .collect();
            if let Some(list) = forms::more_rows(&form) {
                // "Add a row": the form again with its rows and one more; nothing is started
                submitted.push((forms::MORE.to_owned(), list.to_owned()));
                let page = start_context(
                    e,
                    &me,
                    &workflow,
                    &action,
                    &submitted,
                    &BTreeMap::new(),
                    None,
                )?;
                return Ok(Outcome::Page(StatusCode::OK, page));
            }
            let data_fields = start_fields(&def);
            let read = (
                forms::read(&data_fields, &ctx, &submitted),
                forms::read(&a.inputs, &ctx, &submitted),
            );
            let (data, inputs) = match read {
                (Ok(d), Ok(i)) => (d, i),
                (d, i) => {
                    let mut errors = d.err().unwrap_or_default();
                    errors.extend(i.err().unwrap_or_default());
                    let page = start_context(
                        e,
                        &me,
                        &workflow,
                        &action,
                        &submitted,
                        &errors,
                        Some("Some answers need correcting; nothing was started.".into()),
                    )?;
                    return Ok(Outcome::Page(StatusCode::BAD_REQUEST, page));
                }
            };
            let start = Start {
                workflow: workflow.clone(),
                action: Some(action.clone()),
                actor: me.id.clone(),
                org: None,
                data,
                inputs,
                idempotency_key: key,
            };
            match e.start_with(start) {
                Ok(c) => Ok(Outcome::Redirect(format!(
                    "/cases/{}?done={}",
                    c.id, action
                ))),
                Err(
                    err @ (Error::Validation { .. }
                    | Error::GuardRejected { .. }
                    | Error::NotPermitted { .. }),
                ) => {
                    let status = crate::error::status_of(&err);
                    let mut errors = BTreeMap::new();
                    let mut message = Some(err.to_string());
                    let known = |f: &String| {
                        a.inputs
                            .iter()
                            .chain(data_fields.iter())
                            .any(|i| &i.name == f)
                    };
                    if let Some(field) = forms::error_field(&err).filter(known) {
                        errors.insert(field, err.to_string());
                        message = Some("Some answers need correcting; nothing was started.".into());
                    }
                    Ok(Outcome::Page(
                        status,
                        start_context(e, &me, &workflow, &action, &submitted, &errors, message)?,
                    ))
                }
                Err(other) => Err(other),
            }
        })
        .await?;
    Ok(match outcome {
        Outcome::Redirect(to) => {
            app.wake();
            Redirect::to(&to).into_response()
        }
        Outcome::Page(status, ctx) => {
            (status, render::page("start.html", with(layout(&s), ctx))).into_response()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{operator_label, show_value};
    use serde_json::json;

    #[test]
    fn operator_controls_read_as_words_in_the_history() {
        for (id, words) in [
            ("operator:suspend", "Suspended the case (operator control)"),
            (
                "operator:reassign",
                "Reassigned the case (operator control)",
            ),
        ] {
            assert_eq!(operator_label(id), Some(words));
        }
        assert_eq!(operator_label("operator:unknown"), None);
        assert_eq!(operator_label("accept"), None);
    }

    #[test]
    fn a_map_field_reads_as_words_not_json() {
        let v = json!({"alice": {"by": "dan", "status": "accepted"}, "note_text": "hi"});
        assert_eq!(
            show_value(&v),
            "Alice: (By: dan; Status: accepted); Note text: hi"
        );
        assert_eq!(show_value(&json!([true, 2])), "yes, 2");
    }
}
