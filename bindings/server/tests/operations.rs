//! The operators' pages and API through the router: incidents (listed, retried, resolved with
//! a note), the controls on one case from the case page's operator panel (suspend, resume,
//! cancel, repair) and bulk reassignment with a dry run first. Operators only: everyone else
//! gets 404 on the pages and 403 `not_permitted` from the API, and nothing changes; every
//! form needs the CSRF token; every change is a history event naming the operator.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use mentorflow::{
    CredentialKind, Engine, IncidentFilter, IncidentStatus, ManualClock, Org, OrgPatch, Person,
};
use mentorflow_server::{App, Config};
use serde_json::{json, Value};
use support::{credential, get, post, send, session};

/// A timer that fails until the organisation's `ready` setting is true.
const FLAKY: &str = r#"
workflow: flaky
version: 1
settings:
  ready: false
roles:
  owner: {}
fields:
  pings: { type: int, default: 0 }
states:
  waiting:
    label: Waiting
    timers:
      - name: remind
        after: 1h
        run: |
          if !settings.ready { throw "the mail template is not ready"; }
          fields.pings += 1;
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner, run: 'assign("owner", actor.id)' }
  finish: { from: waiting, to: done, by: owner }
"#;

fn t0() -> DateTime<Utc> {
    "2026-11-20T10:00:00Z".parse().unwrap()
}

fn setup() -> (App, Arc<Engine>) {
    let e = Engine::builder()
        .in_memory()
        .workflow_str("flaky.yaml", FLAKY)
        .clock(ManualClock::at(t0()))
        .operator_roles(["admin"])
        .build()
        .unwrap();
    e.replace_org(&Org::new("ch1").name("Chapter 1").timezone("UTC"))
        .unwrap();
    for (id, name, roles) in [
        ("pat", "Pat Owner", vec![]),
        ("dan", "Dan Owner", vec![]),
        ("olga", "Olga Ops", vec!["admin"]),
    ] {
        let mut p = Person::new(id).name(name).org("ch1");
        p.roles = roles.into_iter().map(String::from).collect();
        e.replace_person(&p).unwrap();
    }
    let e = Arc::new(e);
    (App::new(e.clone(), Config::default()), e)
}

async fn api(app: &App, method: &str, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(if body.is_null() {
            Body::empty()
        } else {
            Body::from(body.to_string())
        })
        .unwrap();
    let (status, _, text) = send(app, req).await;
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn open_incidents(e: &Engine) -> Vec<mentorflow::Incident> {
    e.incidents(&IncidentFilter::default()).unwrap()
}

/// A case of pat's whose `remind` timer failed: one open incident.
fn failed_timer(e: &Engine) -> (i64, i64) {
    let c = e.start("flaky", "create", "pat", json!({})).unwrap();
    let r = e.advance_by(Duration::hours(1)).unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
    let i = open_incidents(e);
    assert_eq!(i.len(), 1);
    (c.id, i[0].id)
}

#[tokio::test]
async fn operators_list_retry_and_resolve_incidents_in_the_pages() {
    let (app, e) = setup();
    let (case, id) = failed_timer(&e);
    let olga = session(&e, "olga");
    let pat = session(&e, "pat");

    // the admin home counts it, with the health report
    let (status, _, home) = send(&app, get("/admin", &olga)).await;
    assert_eq!(status, StatusCode::OK, "{home}");
    assert!(home.contains("<dt>Open incidents</dt><dd>1</dd>"), "{home}");
    assert!(home.contains("needs attention"), "{home}");
    assert!(home.contains("href=\"/admin/incidents\""), "{home}");

    let (status, _, page) = send(&app, get("/admin/incidents", &olga)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("href=\"/cases/{case}\"")), "{page}");
    assert!(page.contains("waiting.remind"), "{page}");
    assert!(page.contains("the mail template is not ready"), "{page}");
    assert!(
        page.contains(&format!("/admin/incidents/{id}/retry")),
        "{page}"
    );

    // not an operator: the 404 of a page that does not exist, and nothing changes
    for req in [
        get("/admin/incidents", &pat),
        post(&format!("/admin/incidents/{id}/retry"), &pat, &[], true),
        post(
            &format!("/admin/incidents/{id}/resolve"),
            &pat,
            &[("note", "not mine to say")],
            true,
        ),
    ] {
        let (status, _, body) = send(&app, req).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    }
    // no CSRF token: refused
    let (status, _, _) = send(
        &app,
        post(&format!("/admin/incidents/{id}/retry"), &olga, &[], false),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(e.incident(id).unwrap().attempts, 1, "nothing was tried");

    // a retry that fails again: the incident stays open with one more attempt
    let (status, to, _) = send(
        &app,
        post(&format!("/admin/incidents/{id}/retry"), &olga, &[], true),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/admin/incidents?done=failed&id={id}"));
    let i = e.incident(id).unwrap();
    assert_eq!((i.status, i.attempts), (IncidentStatus::Open, 2));
    let (_, _, page) = send(&app, get(&to, &olga)).await;
    assert!(page.contains("it failed again"), "{page}");

    // resolving needs a note: the message at the note, nothing changed
    let (status, _, page) = send(
        &app,
        post(
            &format!("/admin/incidents/{id}/resolve"),
            &olga,
            &[("note", "  ")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains(&format!("id=\"e-note-{id}\"")), "{page}");
    assert!(page.contains("needs a note"), "{page}");
    assert_eq!(e.incident(id).unwrap().status, IncidentStatus::Open);

    // fixed by a setting, retried: the timer fires once, the incident is resolved by olga
    e.put_org(OrgPatch::new("ch1").setting("ready", json!(true)))
        .unwrap();
    let (status, to, _) = send(
        &app,
        post(&format!("/admin/incidents/{id}/retry"), &olga, &[], true),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/admin/incidents?done=fired&id={id}"));
    let i = e.incident(id).unwrap();
    assert_eq!(i.status, IncidentStatus::Resolved);
    assert_eq!(i.resolved_by.as_deref(), Some("olga"));
    assert_eq!(e.get(case, None).unwrap().data["pings"], 1);
    // a resolved incident cannot be retried again: a page saying so, nothing fires
    let (status, _, page) = send(
        &app,
        post(&format!("/admin/incidents/{id}/retry"), &olga, &[], true),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("already resolved"), "{page}");
    assert_eq!(e.get(case, None).unwrap().data["pings"], 1);
    let (_, _, page) = send(&app, get("/admin/incidents?status=resolved", &olga)).await;
    assert!(page.contains("by olga"), "{page}");
    let (status, _, _) = send(&app, get("/admin/incidents?status=nope", &olga)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_incidents_api_is_for_operators_only() {
    let (app, e) = setup();
    let (case, id) = failed_timer(&e);
    let olga = credential(&e, "olga", CredentialKind::ApiToken);
    let pat = credential(&e, "pat", CredentialKind::ApiToken);

    for (method, path, body) in [
        ("GET", "/api/incidents".to_owned(), Value::Null),
        ("GET", format!("/api/incidents/{id}"), Value::Null),
        ("POST", format!("/api/incidents/{id}/retry"), Value::Null),
        (
            "POST",
            format!("/api/incidents/{id}/resolve"),
            json!({"note": "x"}),
        ),
    ] {
        let (status, body) = api(&app, method, &path, &pat, body).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path}: {body}");
        assert_eq!(body["error"]["code"], "not_permitted");
    }
    assert_eq!(e.incident(id).unwrap().status, IncidentStatus::Open);

    let (status, body) = api(&app, "GET", "/api/incidents", &olga, Value::Null).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["incidents"][0]["case_id"], case);
    assert_eq!(body["incidents"][0]["timer"], "remind");
    let (status, body) = api(&app, "GET", "/api/incidents?status=bad", &olga, Value::Null).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    for bad in ["case=x", "case=0", "limit=0", "limit=1001", "colour=red"] {
        let (status, body) = api(
            &app,
            "GET",
            &format!("/api/incidents?{bad}"),
            &olga,
            Value::Null,
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
    }
    let (status, body) = api(
        &app,
        "GET",
        &format!("/api/incidents?case={case}&status=all&limit=5"),
        &olga,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["incidents"].as_array().unwrap().len(), 1);
    let (_, body) = api(
        &app,
        "GET",
        &format!("/api/incidents?case={}", case + 1),
        &olga,
        Value::Null,
    )
    .await;
    assert_eq!(body["incidents"], json!([]));
    let (status, _) = api(&app, "GET", "/api/incidents/999", &olga, Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let path = format!("/api/incidents/{id}/resolve");
    let (status, body) = api(&app, "POST", &path, &olga, json!({"note": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api(&app, "POST", &path, &olga, json!({"nte": "typo"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(e.incident(id).unwrap().status, IncidentStatus::Open);
    let (status, body) = api(&app, "POST", &path, &olga, json!({"note": "phoned"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["incident"]["status"], "resolved");
    assert_eq!(body["incident"]["resolved_by"], "olga");
    assert_eq!(body["incident"]["note"], "phoned");
    assert_eq!(e.get(case, None).unwrap().data["pings"], 0, "never fired");
}

#[tokio::test]
async fn the_operator_panel_suspends_resumes_repairs_and_cancels_a_case() {
    let (app, e) = setup();
    let olga = session(&e, "olga");
    let pat = session(&e, "pat");
    // olga's own case (she may see it), and pat's
    let mine = e.start("flaky", "create", "olga", json!({})).unwrap().id;
    let pats = e.start("flaky", "create", "pat", json!({})).unwrap().id;

    let (_, _, page) = send(&app, get(&format!("/cases/{mine}"), &olga)).await;
    assert!(page.contains("Operator controls"), "{page}");
    assert!(
        page.contains(&format!("/admin/cases/{mine}/suspend")),
        "{page}"
    );
    assert!(!page.contains("/resume\""), "not suspended: {page}");
    let (_, _, page) = send(&app, get(&format!("/cases/{pats}"), &pat)).await;
    assert!(
        page.contains("Pat Owner") || page.contains("Waiting"),
        "{page}"
    );
    assert!(!page.contains("Operator controls"), "{page}");

    // pat is no operator: 404, even on their own case; nothing changes
    for control in ["suspend", "cancel", "repair"] {
        let (status, _, _) = send(
            &app,
            post(
                &format!("/admin/cases/{pats}/{control}"),
                &pat,
                &[("reason", "me"), ("state", "done")],
                true,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{control}");
    }
    let c = e.get(pats, None).unwrap();
    assert!(c.suspended.is_none() && c.cancelled.is_none() && c.open);
    assert_eq!(c.revision, 1);

    // no CSRF token, or no reason: refused, nothing changes
    let (status, _, _) = send(
        &app,
        post(
            &format!("/admin/cases/{mine}/suspend"),
            &olga,
            &[("reason", "x")],
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, page) = send(
        &app,
        post(
            &format!("/admin/cases/{mine}/suspend"),
            &olga,
            &[("reason", " ")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(page.contains("needs a reason"), "{page}");
    assert!(page.contains("Open the case as it is now"), "{page}");
    assert!(e.get(mine, None).unwrap().suspended.is_none());

    // suspend: back to the case, whose panel says so and offers resume
    let (status, to, _) = send(
        &app,
        post(
            &format!("/admin/cases/{mine}/suspend"),
            &olga,
            &[("reason", "mentor on leave <b>")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, format!("/cases/{mine}#operator-h"));
    let c = e.get(mine, None).unwrap();
    assert_eq!(c.suspended.as_ref().unwrap().by, "olga");
    let last = e.history(mine, None).unwrap().pop().unwrap();
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("olga", "operator:suspend")
    );
    assert_eq!(last.inputs["reason"], "mentor on leave <b>");
    let (_, _, page) = send(&app, get(&format!("/cases/{mine}"), &olga)).await;
    assert!(page.contains("Suspended by Olga Ops"), "{page}");
    assert!(
        page.contains("mentor on leave &lt;b&gt;"),
        "escaped: {page}"
    );
    assert!(
        page.contains(&format!("/admin/cases/{mine}/resume")),
        "{page}"
    );
    // suspending twice is refused with the engine's words
    let (status, _, page) = send(
        &app,
        post(
            &format!("/admin/cases/{mine}/suspend"),
            &olga,
            &[("reason", "again")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("already suspended"), "{page}");

    let (status, _, _) = send(
        &app,
        post(
            &format!("/admin/cases/{mine}/resume"),
            &olga,
            &[("reason", "back")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(e.get(mine, None).unwrap().suspended.is_none());

    // repair to an unknown state: 404 naming it; to a final state: closes the case
    let (status, _, page) = send(
        &app,
        post(
            &format!("/admin/cases/{mine}/repair"),
            &olga,
            &[("reason", "fix"), ("state", "nowhere")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(page.contains("nowhere"), "{page}");
    let (status, _, _) = send(
        &app,
        post(
            &format!("/admin/cases/{mine}/repair"),
            &olga,
            &[("reason", "done by phone"), ("state", "done")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let c = e.get(mine, None).unwrap();
    assert_eq!((c.state.as_str(), c.open), ("done", false));
    assert_eq!(
        e.history(mine, None).unwrap().pop().unwrap().action,
        "operator:repair"
    );

    // olga cancels pat's case (which she may not see: back to /admin)
    let (status, to, _) = send(
        &app,
        post(
            &format!("/admin/cases/{pats}/cancel"),
            &olga,
            &[("reason", "duplicate")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(to, "/admin");
    let c = e.get(pats, None).unwrap();
    assert_eq!(c.cancelled.as_ref().unwrap().by, "olga");
    assert!(!c.open);
    let (status, _, page) = send(&app, get(&format!("/cases/{pats}"), &pat)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("Operator controls"), "{page}");
    // an unknown control is no page
    let (status, _, _) = send(
        &app,
        post(
            &format!("/admin/cases/{mine}/explode"),
            &olga,
            &[("reason", "x")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_controls_api_is_for_operators_only() {
    let (app, e) = setup();
    let olga = credential(&e, "olga", CredentialKind::ApiToken);
    let pat = credential(&e, "pat", CredentialKind::ApiToken);
    let id = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    let path = |c: &str| format!("/api/cases/{id}/controls/{c}");

    let (status, body) = api(&app, "POST", &path("suspend"), &pat, json!({"reason": "x"})).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"]["code"], "not_permitted");
    assert!(e.get(id, None).unwrap().suspended.is_none());

    let (status, body) = api(&app, "POST", &path("suspend"), &olga, json!({"reason": ""})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api(&app, "POST", &path("suspend"), &olga, json!({"why": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = api(&app, "POST", &path("melt"), &olga, json!({"reason": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = api(&app, "POST", &path("repair"), &olga, json!({"reason": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["field"], "state");
    assert_eq!(e.get(id, None).unwrap().revision, 1, "nothing changed");

    let (status, body) = api(
        &app,
        "POST",
        &path("suspend"),
        &olga,
        json!({"reason": "leave"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["case"]["suspended"]["by"], "olga");
    // a suspended case refuses actions: 409 with the engine's code
    let (status, body) = api(
        &app,
        "POST",
        &format!("/api/cases/{id}/actions/finish"),
        &pat,
        Value::Null,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "suspended");
    let (status, body) = api(
        &app,
        "POST",
        &path("cancel"),
        &olga,
        json!({"reason": "dup"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["case"]["cancelled"]["by"], "olga");
    assert_eq!(body["case"]["open"], false);
    let (status, body) = api(&app, "POST", &path("resume"), &olga, json!({"reason": "x"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "cancelled");
}

#[tokio::test]
async fn bulk_reassignment_shows_a_dry_run_then_moves_the_cases() {
    let (app, e) = setup();
    let olga = session(&e, "olga");
    let pat = session(&e, "pat");
    let a = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    let b = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    let closed = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    e.act(closed, "finish", "pat", json!({})).unwrap();
    let other = e.start("flaky", "create", "dan", json!({})).unwrap().id;
    let owners = |id: i64| e.get(id, None).unwrap().participants["owner"].clone();

    let (status, _, page) = send(&app, get("/admin/reassign", &olga)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<option value=\"pat\">"), "{page}");
    for req in [
        get("/admin/reassign", &pat),
        post(
            "/admin/reassign",
            &pat,
            &[
                ("from", "pat"),
                ("to", "dan"),
                ("reason", "x"),
                ("step", "confirm"),
            ],
            true,
        ),
    ] {
        let (status, _, _) = send(&app, req).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    // no reason, unknown person: errors at their fields, nothing changes
    let (status, _, page) = send(
        &app,
        post(
            "/admin/reassign",
            &olga,
            &[("from", "pat"), ("to", "dan"), ("reason", "")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"e-reason\""), "{page}");
    let (status, _, page) = send(
        &app,
        post(
            "/admin/reassign",
            &olga,
            &[("from", "pat"), ("to", "ghost"), ("reason", "left")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("id=\"e-to\""), "{page}");

    // the dry run lists the open cases, changes nothing, and offers to confirm
    let fields = [
        ("from", "pat"),
        ("to", "dan"),
        ("reason", "pat left the programme"),
    ];
    let (status, _, page) = send(&app, post("/admin/reassign", &olga, &fields, true)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Dry run: 2 cases would change"), "{page}");
    assert!(page.contains(&format!("href=\"/cases/{a}\"")), "{page}");
    assert!(page.contains(&format!("href=\"/cases/{b}\"")), "{page}");
    assert!(
        !page.contains(&format!("href=\"/cases/{closed}\"")),
        "{page}"
    );
    assert!(page.contains("name=\"step\" value=\"confirm\""), "{page}");
    assert_eq!(owners(a), vec!["pat".to_owned()]);

    let mut confirm = fields.to_vec();
    confirm.push(("step", "confirm"));
    let (status, _, page) = send(&app, post("/admin/reassign", &olga, &confirm, true)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Done: 2 cases reassigned"), "{page}");
    for id in [a, b] {
        assert_eq!(owners(id), vec!["dan".to_owned()], "case {id}");
        let ev = e.history(id, None).unwrap().pop().unwrap();
        assert_eq!(
            (ev.actor.as_str(), ev.action.as_str()),
            ("olga", "operator:reassign")
        );
        assert_eq!(ev.inputs["reason"], "pat left the programme");
    }
    assert_eq!(
        owners(closed),
        vec!["pat".to_owned()],
        "closed cases stay as they are"
    );
    assert_eq!(owners(other), vec!["dan".to_owned()]);
}

#[tokio::test]
async fn the_reassign_api_is_a_dry_run_unless_told_otherwise() {
    let (app, e) = setup();
    let olga = credential(&e, "olga", CredentialKind::ApiToken);
    let pat = credential(&e, "pat", CredentialKind::ApiToken);
    let id = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    let body = json!({"from": "pat", "to": "dan", "reason": "left"});

    let (status, r) = api(&app, "POST", "/api/reassign", &pat, body.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{r}");
    let (status, r) = api(&app, "POST", "/api/reassign", &olga, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["dry_run"], true);
    assert_eq!(r["cases"][0]["case"], id);
    assert_eq!(r["cases"][0]["outcome"], "would_reassign");
    assert_eq!(
        e.get(id, None).unwrap().participants["owner"],
        vec!["pat".to_owned()]
    );
    let (status, r) = api(
        &app,
        "POST",
        "/api/reassign",
        &olga,
        json!({"from": "pat", "to": "pat", "reason": "x", "dry_run": false}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{r}");
    let (status, r) = api(
        &app,
        "POST",
        "/api/reassign",
        &olga,
        json!({"from": "nobody", "reason": "x"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{r}");
    let mut real = body;
    real["dry_run"] = json!(false);
    let (status, r) = api(&app, "POST", "/api/reassign", &olga, real).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!(r["cases"][0]["outcome"], "reassigned");
    assert_eq!(
        e.get(id, None).unwrap().participants["owner"],
        vec!["dan".to_owned()]
    );
}

#[tokio::test]
async fn bulk_suspend_by_a_filter_shows_a_dry_run_then_suspends_each_case() {
    let (app, e) = setup();
    let olga = session(&e, "olga");
    let pat = session(&e, "pat");
    let a = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    let b = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    let closed = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    e.act(closed, "finish", "pat", json!({})).unwrap();
    let suspended = |id: i64| e.get(id, None).unwrap().suspended.is_some();

    let (status, _, page) = send(&app, get("/admin/bulk", &olga)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("<option value=\"suspend\">"), "{page}");
    let (status, _, page) = send(&app, get("/admin", &olga)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("href=\"/admin/bulk\""), "{page}");
    let fields = [
        ("control", "suspend"),
        ("workflow", "flaky"),
        ("reason", "audit week"),
    ];
    // not an operator: no such page; no CSRF token: refused; both change nothing
    let (status, _, _) = send(&app, get("/admin/bulk", &pat)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut confirm = fields.to_vec();
    confirm.push(("step", "confirm"));
    let (status, _, _) = send(&app, post("/admin/bulk", &pat, &confirm, true)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&app, post("/admin/bulk", &olga, &confirm, false)).await;
    assert!(status.is_client_error(), "{status}");
    assert!(!suspended(a) && !suspended(b));

    // mistakes are named at their fields
    for (bad, at) in [
        (
            vec![("control", "pause"), ("workflow", "flaky"), ("reason", "x")],
            "e-control",
        ),
        (
            vec![
                ("control", "suspend"),
                ("field", "nonsense"),
                ("reason", "x"),
            ],
            "e-field",
        ),
        (
            vec![
                ("control", "suspend"),
                ("workflow", "flaky"),
                ("reason", " "),
            ],
            "e-reason",
        ),
    ] {
        let (status, _, page) = send(&app, post("/admin/bulk", &olga, &bad, true)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
        assert!(page.contains(&format!("id=\"{at}\"")), "{page}");
    }
    // nothing chosen: the engine's message
    let (status, _, page) = send(
        &app,
        post(
            "/admin/bulk",
            &olga,
            &[("control", "cancel"), ("reason", "x")],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("name a view or a filter"), "{page}");

    // the dry run lists the open cases and offers to confirm
    let (status, _, page) = send(&app, post("/admin/bulk", &olga, &fields, true)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Dry run: 2 cases would change"), "{page}");
    assert!(page.contains(&format!("href=\"/cases/{a}\"")), "{page}");
    assert!(
        !page.contains(&format!("href=\"/cases/{closed}\"")),
        "{page}"
    );
    assert!(page.contains("name=\"step\" value=\"confirm\""), "{page}");
    assert!(!suspended(a) && !suspended(b), "a dry run changes nothing");

    let (status, _, page) = send(&app, post("/admin/bulk", &olga, &confirm, true)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains("Done: 2 cases changed"), "{page}");
    for id in [a, b] {
        assert!(suspended(id), "case {id}");
        let ev = e.history(id, None).unwrap().pop().unwrap();
        assert_eq!(
            (ev.actor.as_str(), ev.action.as_str()),
            ("olga", "operator:suspend")
        );
        assert_eq!(ev.inputs["reason"], "audit week");
    }
    assert!(!suspended(closed));
}

#[tokio::test]
async fn the_portals_worker_runs_retention_on_its_schedule() {
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .in_memory()
        .workflow_str("flaky.yaml", FLAKY)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.replace_org(&Org::new("ch1").timezone("UTC")).unwrap();
    e.replace_person(&Person::new("pat").org("ch1")).unwrap();
    e.put_org(
        OrgPatch::new("ch1").setting("retention", json!({ "after_days": 30, "then": "purge" })),
    )
    .unwrap();
    let old = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    e.act(old, "finish", "pat", json!({})).unwrap();
    let open = e.start("flaky", "create", "pat", json!({})).unwrap().id;
    clock.advance(Duration::days(31));
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let e = Arc::new(e);
    let config = Config {
        retention: Some(mentorflow::RetentionTimer::new(
            mentorflow::RetentionSchedule::parse(None, Some("1 day"), None).unwrap(),
            &exports,
        )),
        ..Config::default()
    };
    let app = App::new(e.clone(), config);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(mentorflow_server::worker::run(app, stopped));
    // an interval runs at the worker's start
    let mut waited = 0;
    while e.get(old, None).is_ok() {
        assert!(waited < 200, "the worker did not run retention");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    stop.send(true).unwrap();
    worker.await.unwrap();
    let files: Vec<_> = std::fs::read_dir(&exports)
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let line: Value =
        serde_json::from_str(std::fs::read_to_string(&files[0]).unwrap().trim()).unwrap();
    assert_eq!(line["case"]["id"], json!(old));
    assert!(e.get(open, None).is_ok(), "open cases are never touched");
}
