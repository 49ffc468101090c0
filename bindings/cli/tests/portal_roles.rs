//! Route × role over the demo database (all four shipped workflows, every demo person, every
//! case and view): the portal shows each person exactly what the engine's own checks give
//! them. A case page is 200 iff `Engine::get` as that person succeeds (else 404, like a
//! missing case); its action forms are exactly `Engine::actions` and its greyed "not possible
//! now" list the rest of `Engine::action_availability`; the start buttons are exactly
//! `Engine::start_actions_for` (other start forms 404); each home box is a view of
//! `Engine::view_counts` with its count; a view list is 200 iff the view is offered to the
//! person; and an action the engine does not offer, posted anyway, changes nothing.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::sync::Arc;

use assert_cmd::Command;
use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use mentorflow::{CredentialKind, Engine};
use mentorflow_server::{csrf_token, App, Config};
use tower::ServiceExt;

fn workflows() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../workflows")
}

async fn send(app: &App, req: Request<Body>) -> (StatusCode, String) {
    let r = app.router().oneshot(req).await.unwrap();
    let status = r.status();
    let body = r.into_body().collect().await.unwrap().to_bytes();
    // minijinja escapes `/` in attributes as `&#x2f;`
    (
        status,
        String::from_utf8(body.to_vec())
            .unwrap()
            .replace("&#x2f;", "/"),
    )
}

fn get(path: &str, session: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, format!("mf_session={session}"))
        .body(Body::empty())
        .unwrap()
}

/// The `/cases/ID/act/ACTION` forms of a case page.
fn action_forms(html: &str, id: i64) -> BTreeSet<String> {
    let prefix = format!("action=\"/cases/{id}/act/");
    html.match_indices(&prefix)
        .map(|(at, _)| {
            let rest = &html[at + prefix.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

/// What follows each `prefix` up to the next `"` (hrefs, ids).
fn links(html: &str, prefix: &str) -> BTreeSet<String> {
    html.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &html[at + prefix.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_demo_person_sees_and_may_do_exactly_what_the_engine_allows() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    Command::cargo_bin("mentorflow")
        .unwrap()
        .current_dir(dir.path())
        .env_remove("MENTORFLOW_DB")
        .env("NO_COLOR", "1")
        .arg("--db")
        .arg(&db)
        .arg("--workflows")
        .arg(workflows())
        .arg("demo")
        .assert()
        .success();
    // the demo's story ends in 2027: read it on a clock after that
    let engine = Engine::builder()
        .database(&db)
        .workflows_dir(workflows())
        .clock(mentorflow::ManualClock::at(
            "2027-06-01T12:00:00Z".parse().unwrap(),
        ))
        .build()
        .unwrap();
    let engine = Arc::new(engine);
    let app = App::new(engine.clone(), Config::default());
    let people = engine.people(None).unwrap();
    let cases = engine.cases(&Default::default()).unwrap();
    let workflows_seen: BTreeSet<&str> = cases.iter().map(|c| c.workflow.as_str()).collect();
    assert_eq!(
        workflows_seen.len(),
        4,
        "the demo has cases of every shipped workflow: {workflows_seen:?}"
    );
    let mut checked = (0, 0, 0, 0, 0, 0);
    for p in &people {
        let secret = mentorflow_server::new_secret();
        engine
            .create_credential(&secret, CredentialKind::Session, &p.id, "test", None)
            .unwrap();
        let token = mentorflow_server::new_secret();
        engine
            .create_credential(&token, CredentialKind::ApiToken, &p.id, "test", None)
            .unwrap();
        // home: one box per view the engine offers, with its count
        let (status, home) = send(&app, get("/", &secret)).await;
        assert_eq!(status, StatusCode::OK);
        let counts = engine.view_counts(&p.id).unwrap();
        for v in &counts {
            let count = v.count.unwrap_or_default();
            let href = format!("/views/{}/{}", v.workflow, v.name);
            assert!(
                home.contains(&format!("href=\"{href}\"")),
                "{}: box {href}",
                p.id
            );
            let box_at = home.find(&format!("href=\"{href}\"")).unwrap();
            assert!(
                home[box_at..].contains(&format!("<span class=\"count\">{count}</span>")),
                "{}: {href} counts {count}",
                p.id
            );
            let (status, _) = send(&app, get(&href, &secret)).await;
            assert_eq!(status, StatusCode::OK, "{} opens {href}", p.id);
            checked.2 += 1;
        }
        assert_eq!(
            home.matches("class=\"box\"").count(),
            counts.len(),
            "{}: no other boxes",
            p.id
        );
        // start buttons: exactly the start actions the engine offers (organisation, role,
        // input-free guards); any other start form is 404
        let starts: BTreeSet<String> = engine
            .start_actions_for(&p.id)
            .unwrap()
            .into_iter()
            .map(|s| format!("{}/{}", s.workflow, s.action))
            .collect();
        assert_eq!(
            links(&home, "href=\"/start/"),
            starts,
            "{}: start buttons",
            p.id
        );
        for def in engine.definitions() {
            for a in def.start_actions() {
                let key = format!("{}/{}", def.id, a.id);
                let (status, _) = send(&app, get(&format!("/start/{key}"), &secret)).await;
                let want = if starts.contains(&key) {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                };
                assert_eq!(status, want, "{} opens /start/{key}", p.id);
            }
        }
        // each organisation's people are offered its own workflows only (the demo names them)
        let org_workflow = match p.org.as_deref() {
            Some("ch12") => "score_request",
            Some("guild") => "engagement",
            Some("acme") => "company_initiative",
            _ => "agent_exception",
        };
        assert!(
            starts
                .iter()
                .all(|s| s.starts_with(&format!("{org_workflow}/"))),
            "{}: {starts:?}",
            p.id
        );
        // reports: exactly the exports the engine offers; each opens with the rows of the
        // cases this person may see, and downloads as that CSV; every other export is 404
        let exports = engine.exports_for(&p.id).unwrap();
        let offered_exports: BTreeSet<String> = exports
            .iter()
            .map(|x| format!("{}/{}", x.workflow, x.name))
            .collect();
        assert_eq!(
            links(&home, "href=\"/exports/"),
            offered_exports,
            "{}: reports",
            p.id
        );
        for def in engine.definitions() {
            for x in &def.exports {
                let key = format!("{}/{}", def.id, x.name);
                let (status, page) = send(&app, get(&format!("/exports/{key}"), &secret)).await;
                if !offered_exports.contains(&key) {
                    assert_eq!(
                        status,
                        StatusCode::NOT_FOUND,
                        "{} opens /exports/{key}",
                        p.id
                    );
                    continue;
                }
                assert_eq!(status, StatusCode::OK, "{} opens /exports/{key}", p.id);
                let table = engine
                    .export(&format!("{}.{}", def.id, x.name), Some(&p.id))
                    .unwrap();
                assert_eq!(
                    page.matches("<tr><td>").count(),
                    table.rows.len(),
                    "{} /exports/{key}: one row per row of Engine::export as them: {}",
                    p.id,
                    &page[page.find("<main").unwrap_or(0)..]
                );
                let (status, csv) =
                    send(&app, get(&format!("/exports/{key}?format=csv"), &secret)).await;
                assert_eq!(status, StatusCode::OK);
                assert_eq!(csv, table.to_csv(), "{} /exports/{key} as CSV", p.id);
                checked.4 += 1;
            }
        }
        // a view not offered to this person is not shown to them
        for def in engine.definitions() {
            for v in &def.views {
                if counts
                    .iter()
                    .any(|c| c.workflow == def.id && c.name == v.name)
                {
                    continue;
                }
                let href = format!("/views/{}/{}", def.id, v.name);
                let (status, body) = send(&app, get(&href, &secret)).await;
                assert_eq!(
                    status,
                    StatusCode::NOT_FOUND,
                    "{} may not open {href}: {}",
                    p.id,
                    &body[..body.len().min(300)]
                );
                let api = Request::get(format!("/api/views/{}/{}", def.id, v.name))
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Body::empty())
                    .unwrap();
                let (status, _) = send(&app, api).await;
                assert_eq!(status, StatusCode::NOT_FOUND, "{} by the API: {href}", p.id);
            }
        }
        for c in &cases {
            let path = format!("/cases/{}", c.id);
            let (status, page) = send(&app, get(&path, &secret)).await;
            match engine.get(c.id, Some(&p.id)) {
                Ok(_) => {
                    assert_eq!(status, StatusCode::OK, "{} sees {path}", p.id);
                    let offered: BTreeSet<String> =
                        engine.actions(c.id, &p.id).unwrap().into_iter().collect();
                    // their other actions are listed greyed, each with its message: every
                    // one a guard refuses, and none the engine does not list as unavailable
                    let list = engine.action_availability(c.id, &p.id).unwrap();
                    let not_now: BTreeSet<String> = list
                        .iter()
                        .filter(|a| !a.available())
                        .map(|a| a.action.clone())
                        .collect();
                    let shown = links(&page, "id=\"unavailable-");
                    assert!(shown.is_subset(&not_now), "{} on {path}: {shown:?}", p.id);
                    for a in &list {
                        if let Some(why) = &a.unavailable {
                            if why.reason == mentorflow::UnavailableReason::Guard {
                                assert!(
                                    shown.contains(&a.action),
                                    "{} on {path}: {}",
                                    p.id,
                                    a.action
                                );
                            }
                        }
                    }
                    checked.5 += shown.len();
                    assert_eq!(
                        action_forms(&page, c.id),
                        offered,
                        "{} on {path} ({} in {})",
                        p.id,
                        c.workflow,
                        c.state
                    );
                    checked.0 += 1;
                    // an action the engine does not offer, posted anyway: refused, nothing changes
                    let def = engine.definition_of(c).unwrap();
                    if let Some(a) = def
                        .actions
                        .iter()
                        .find(|a| !a.is_start() && !offered.contains(&a.id))
                    {
                        let before = engine.get(c.id, None).unwrap().revision;
                        let body = format!("_csrf={}&_revision={before}", csrf_token(&secret));
                        let req = Request::post(format!("/cases/{}/act/{}", c.id, a.id))
                            .header(header::COOKIE, format!("mf_session={secret}"))
                            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                            .body(Body::from(body))
                            .unwrap();
                        let (status, _) = send(&app, req).await;
                        assert!(
                            status.is_client_error(),
                            "{} posting {} on {path}: {status}",
                            p.id,
                            a.id
                        );
                        assert_eq!(engine.get(c.id, None).unwrap().revision, before);
                        checked.3 += 1;
                    }
                }
                Err(_) => {
                    assert_eq!(status, StatusCode::NOT_FOUND, "{} may not see {path}", p.id);
                    checked.1 += 1;
                }
            }
        }
    }
    // the demo gives each kind of answer many times
    assert!(
        checked.0 >= 20
            && checked.1 > 50
            && checked.2 > 20
            && checked.3 >= 10
            && checked.4 >= 5
            && checked.5 >= 5,
        "{checked:?}"
    );
}
