//! The portal through its router (tower's `oneshot`): sign-in, visibility, forms, conflicts,
//! CSRF, escaping, and the JSON API.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use mentorflow::{CredentialKind, Engine, ManualClock, Org, Person};
use mentorflow_server::{csrf_token, mail, App, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

struct T {
    app: App,
    engine: Arc<Engine>,
    mail: tempfile::TempDir,
    clock: ManualClock,
}

fn setup() -> T {
    let t0 = "2026-11-20T14:00:00Z".parse().unwrap();
    let clock = ManualClock::at(t0);
    let engine = Engine::builder()
        .in_memory()
        .workflows_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows"))
        .clock(clock.clone())
        .build()
        .unwrap();
    engine
        .replace_org(
            &Org::new("ch12")
                .name("SCORE Chapter 12")
                .timezone("America/New_York"),
        )
        .unwrap();
    for (id, name, roles, class) in [
        ("pat", "Pat Rivera", vec![], None),
        ("kim", "Kim Tanaka", vec![], None),
        ("cody", "Cody Nguyen", vec!["coordinator"], None),
        ("alice", "Alice Moreau", vec!["mentor"], Some("active")),
        ("dan", "Dan Okafor", vec!["mentor"], Some("active")),
    ] {
        let mut p = Person::new(id)
            .name(name)
            .org("ch12")
            .email(format!("{id}@ch12.example.org"));
        p.roles = roles.into_iter().map(String::from).collect();
        if let Some(c) = class {
            p.attributes.insert("classification".into(), json!(c));
        }
        engine.replace_person(&p).unwrap();
    }
    let engine = Arc::new(engine);
    let mail = tempfile::tempdir().unwrap();
    let config = Config {
        public_url: "http://portal.test".into(),
        mail: mail::Transport::File(mail.path().to_owned()),
        ..Config::default()
    };
    // the outbox's notifications go to the same folder, with action links signed under the
    // portal's own key
    mail::NotificationMailer::attach_with_links(
        &engine,
        mail::Mailer::new(
            config.mail.clone(),
            mentorflow_server::DEFAULT_FROM,
            &Default::default(),
        )
        .unwrap(),
        mentorflow_server::links::LinkSigner {
            key: config.link_key.clone(),
            public_url: config.public_url.clone(),
            ttl: chrono::Duration::days(14),
        },
    );
    T {
        app: App::new(engine.clone(), config),
        engine,
        mail,
        clock,
    }
}

struct Resp {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
    fn location(&self) -> String {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .find_map(|v| {
                let v = v.to_str().unwrap();
                v.strip_prefix(&format!("{name}="))
                    .map(|rest| rest.split(';').next().unwrap().to_owned())
            })
    }
}

async fn send(app: &App, req: Request<Body>) -> Resp {
    let r = app.router().oneshot(req).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body =
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Resp {
        status,
        headers,
        body,
    }
}

/// A signed-in browser: its session secret.
fn session(t: &T, person: &str) -> String {
    let secret = mentorflow_server::new_secret();
    t.engine
        .create_credential(
            &secret,
            CredentialKind::Session,
            person,
            "test",
            Some(chrono::Duration::hours(1)),
        )
        .unwrap();
    secret
}

fn get(path: &str, session: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, format!("mf_session={session}"))
        .body(Body::empty())
        .unwrap()
}

fn form(path: &str, cookie: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
        .collect::<Vec<_>>()
        .join("&");
    Request::post(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn post_as(path: &str, session: &str, fields: &[(&str, &str)]) -> Request<Body> {
    let csrf = csrf_token(session);
    let mut all = vec![("_csrf", csrf.as_str())];
    all.extend_from_slice(fields);
    form(path, &format!("mf_session={session}"), &all)
}

fn new_request(t: &T, client: &str, name: &str) -> i64 {
    t.engine
        .start_with(mentorflow::Start {
            workflow: "score_request".into(),
            actor: client.into(),
            data: json!({"client_name": name}).as_object().unwrap().clone(),
            ..mentorflow::Start::default()
        })
        .unwrap()
        .id
}

#[tokio::test]
async fn sign_in_by_emailed_link() {
    let t = setup();
    // not signed in: the console sends people to the sign-in page
    let r = send(&t.app, Request::get("/").body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/sign-in");
    let r = send(
        &t.app,
        Request::get("/sign-in").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    let pre = r.cookie("mf_pre").expect("a pre-sign-in cookie");
    // a sign-in form without the token is refused
    let r = send(
        &t.app,
        form(
            "/sign-in",
            &format!("mf_pre={pre}"),
            &[("email", "alice@ch12.example.org")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        std::fs::read_dir(t.mail.path())
            .map(|d| d.count())
            .unwrap_or(0),
        0
    );
    let csrf = csrf_token(&pre);
    let r = send(
        &t.app,
        form(
            "/sign-in",
            &format!("mf_pre={pre}"),
            &[("_csrf", &csrf), ("email", "Alice@CH12.example.org")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("sign-in link is on its way"), "{}", r.body);
    // an unknown address gets the same answer and no mail
    let r = send(
        &t.app,
        form(
            "/sign-in",
            &format!("mf_pre={pre}"),
            &[("_csrf", &csrf), ("email", "nobody@example.org")],
        ),
    )
    .await;
    assert!(r.body.contains("sign-in link is on its way"));
    let mails: Vec<_> = std::fs::read_dir(t.mail.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(mails.len(), 1, "one mail, to Alice");
    let text = std::fs::read_to_string(&mails[0]).unwrap();
    assert!(
        text.contains("To: \"Alice Moreau\" <alice@ch12.example.org>"),
        "{text}"
    );
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("http://portal.test/sign-in/"))
        .unwrap();
    let path = link.strip_prefix("http://portal.test").unwrap();
    // following the link shows a button; it does not sign in by itself
    let r = send(
        &t.app,
        Request::get(path)
            .header(header::COOKIE, format!("mf_pre={pre}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Sign in as <strong>Alice Moreau</strong>"),
        "{}",
        r.body
    );
    let r = send(
        &t.app,
        form(path, &format!("mf_pre={pre}"), &[("_csrf", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let cookie_header = r
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        cookie_header.contains("HttpOnly") && cookie_header.contains("SameSite=Lax"),
        "{cookie_header}"
    );
    let s = r.cookie("mf_session").unwrap();
    let r = send(&t.app, get("/", &s)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Welcome, Alice Moreau"));
    // the link works once
    let r = send(
        &t.app,
        form(path, &format!("mf_pre={pre}"), &[("_csrf", &csrf)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("has been used or has expired"));
    // signing out ends the session
    let r = send(&t.app, post_as("/sign-out", &s, &[])).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = send(&t.app, get("/", &s)).await;
    assert_eq!(r.location(), "/sign-in");
}

#[tokio::test]
async fn a_person_sees_only_their_cases() {
    let t = setup();
    let mine = new_request(&t, "pat", "Pat's Bakery");
    let other = new_request(&t, "kim", "Kim's Kites");
    let pat = session(&t, "pat");
    let r = send(&t.app, get(&format!("/cases/{mine}"), &pat)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Pat&#x27;s Bakery"), "{}", r.body);
    // another client's case is a 404, exactly like a missing one
    let r = send(&t.app, get(&format!("/cases/{other}"), &pat)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.body.contains("Kim"));
    let missing = send(&t.app, get("/cases/999999", &pat)).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let r = send(&t.app, get("/cases/abc", &pat)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // acting on it is a 404 too, and nothing changes
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{other}/act/withdraw"),
            &pat,
            &[("_revision", "1")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(t.engine.get(other, None).unwrap().revision, 1);
    // the coordinator sees both in the intake queue
    let cody = session(&t, "cody");
    let r = send(&t.app, get("/", &cody)).await;
    assert!(r.body.contains("Client Intake Queue"), "{}", r.body);
    let r = send(&t.app, get("/views/score_request/intake_queue", &cody)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Pat&#x27;s Bakery") && r.body.contains("Kim&#x27;s Kites"),
        "{}",
        r.body
    );
    // and through the API the same rules hold
    let token = mentorflow_server::new_secret();
    t.engine
        .create_credential(&token, CredentialKind::ApiToken, "pat", "test", None)
        .unwrap();
    let api = |path: String| {
        Request::get(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap()
    };
    let r = send(&t.app, api(format!("/api/cases/{mine}"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["case"]["id"], json!(mine));
    let r = send(&t.app, api(format!("/api/cases/{other}"))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["code"], "not_found");
    let r = send(
        &t.app,
        Request::get(format!("/api/cases/{mine}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

fn assigned(t: &T) -> i64 {
    let id = new_request(t, "pat", "Pat's Bakery");
    t.engine
        .act(id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    id
}

#[tokio::test]
async fn the_case_page_draws_the_flow_with_the_current_state_marked() {
    let t = setup();
    let id = assigned(&t);
    let alice = session(&t, "alice");
    let r = send(&t.app, get(&format!("/cases/{id}"), &alice)).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = &r.body;
    let at = body.find("<svg").expect("an inline SVG");
    let svg = &body[at..at + body[at..].find("</svg>").unwrap()];
    assert!(
        svg.contains(&format!(
            "role=\"img\" aria-labelledby=\"flow-{id}-t\" aria-describedby=\"flow-{id}-d\""
        )),
        "{svg}"
    );
    assert!(svg.contains("<title id=\"flow-"), "{svg}");
    // the definition's labels, the current state marked and told in the description
    let def = t.engine.definition("score_request").unwrap();
    let label = def.state_label("assigned_pending").to_owned();
    let current_label = minijinja_like_escape(&label);
    assert!(
        svg.contains(&format!(
            "<g class=\"node visited current\"><title>{current_label}</title>"
        )),
        "{svg}"
    );
    assert_eq!(svg.matches("current\"").count(), 1, "{svg}");
    assert!(
        svg.contains(&format!("The case is now in {current_label}.")),
        "{svg}"
    );
    assert!(svg.contains("class=\"arrow taken\""), "{svg}");
    assert!(!svg.contains("style=") && !svg.contains("<script"), "{svg}");
    // the page keeps its CSP: no inline script or style allowed
    let csp = r
        .headers
        .get("content-security-policy")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    // once accepted, the diagram moves on
    let rev = t.engine.get(id, None).unwrap().revision.to_string();
    send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &alice,
            &[("_revision", &rev), ("_key", "k-svg"), ("note", "Glad to")],
        ),
    )
    .await;
    let r = send(&t.app, get(&format!("/cases/{id}"), &alice)).await;
    let now = minijinja_like_escape(def.state_label("in_progress"));
    assert!(
        r.body.contains(&format!(
            "<g class=\"node visited current\"><title>{now}</title>"
        )),
        "{}",
        r.body
    );
}

/// A label as the SVG writes it (`&`, `<`, `>`, quotes escaped).
fn minijinja_like_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn accept_with_a_note_through_the_form() {
    let t = setup();
    let id = assigned(&t);
    let alice = session(&t, "alice");
    let r = send(&t.app, get(&format!("/cases/{id}"), &alice)).await;
    assert!(
        r.body.contains("Accept Assignment") && r.body.contains("Note to the client"),
        "{}",
        r.body
    );
    let rev = t.engine.get(id, None).unwrap().revision.to_string();
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &alice,
            &[
                ("_revision", &rev),
                ("_key", "k-accept-1"),
                ("note", "Happy to help <b>you</b>"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), format!("/cases/{id}?done=accept"));
    let c = t.engine.get(id, None).unwrap();
    assert_eq!(c.state, "in_progress");
    // a double submit (same key) does not act twice
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &alice,
            &[
                ("_revision", &rev),
                ("_key", "k-accept-1"),
                ("note", "Happy to help <b>you</b>"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(t.engine.get(id, None).unwrap().revision, c.revision);
    // hostile text is shown as text
    let r = send(&t.app, get(&format!("/cases/{id}?done=accept"), &alice)).await;
    assert!(
        r.body.contains("Happy to help &lt;b&gt;you&lt;&#x2f;b&gt;"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("<b>you</b>"));
}

#[tokio::test]
async fn a_stale_revision_is_a_conflict() {
    let t = setup();
    let id = assigned(&t);
    let alice = session(&t, "alice");
    let seen = t.engine.get(id, None).unwrap().revision;
    // meanwhile someone else changes the case
    t.engine
        .act(id, "add_note", "cody", json!({"text": "called the client"}))
        .unwrap();
    let now = t.engine.get(id, None).unwrap();
    assert!(now.revision > seen, "the case changed");
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &alice,
            &[("_revision", &seen.to_string()), ("note", "Happy to help")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.body.contains("changed while you were looking at it"),
        "{}",
        r.body
    );
    assert!(r.body.contains("Happy to help"), "what was typed is kept");
    assert_eq!(t.engine.get(id, None).unwrap().revision, now.revision);
    // the API says the same with 409
    let token = mentorflow_server::new_secret();
    t.engine
        .create_credential(&token, CredentialKind::ApiToken, "alice", "test", None)
        .unwrap();
    let r = send(
        &t.app,
        Request::post(format!("/api/cases/{id}/actions/accept"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::IF_MATCH, format!("\"{seen}\""))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"inputs": {"note": "ok"}}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "conflict");
    assert_eq!(t.engine.get(id, None).unwrap().state, "assigned_pending");
}

#[tokio::test]
async fn a_suspended_case_refuses_the_portals_actions_with_the_operators_name() {
    let t = setup();
    let id = assigned(&t);
    t.engine
        .replace_person(
            &Person::new("olga")
                .name("Olga Operator")
                .org("ch12")
                .role("admin"),
        )
        .unwrap();
    t.engine
        .suspend_case(id, "olga", "mentor on leave")
        .unwrap();
    let before = t.engine.get(id, None).unwrap();
    let alice = session(&t, "alice");
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &alice,
            &[
                ("_revision", &before.revision.to_string()),
                ("note", "Happy to help"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.body.contains("is suspended by olga") && r.body.contains("mentor on leave"),
        "{}",
        r.body
    );
    let token = mentorflow_server::new_secret();
    t.engine
        .create_credential(&token, CredentialKind::ApiToken, "alice", "test", None)
        .unwrap();
    let r = send(
        &t.app,
        Request::post(format!("/api/cases/{id}/actions/accept"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"inputs": {"note": "ok"}}"#))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.json()["error"]["code"], "suspended");
    assert_eq!(t.engine.get(id, None).unwrap(), before, "nothing changed");
    // resumed, the same action goes through
    t.engine.resume_case(id, "olga", "back").unwrap();
    let rev = t.engine.get(id, None).unwrap().revision.to_string();
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &alice,
            &[("_revision", &rev), ("note", "Happy to help")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.engine.get(id, None).unwrap().state, "in_progress");
}

#[tokio::test]
async fn bad_input_is_shown_at_the_field_and_changes_nothing() {
    let t = setup();
    let id = assigned(&t);
    let alice = session(&t, "alice");
    let rev = t.engine.get(id, None).unwrap().revision.to_string();
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &alice,
            &[("_revision", &rev), ("note", "   ")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains(r#"id="accept-note-error""#), "{}", r.body);
    assert!(r.body.contains("is required"), "{}", r.body);
    assert!(r.body.contains(r#"aria-invalid="true""#));
    let c = t.engine.get(id, None).unwrap();
    assert_eq!(
        (c.state.as_str(), c.revision.to_string()),
        ("assigned_pending", rev.clone())
    );
    // the coordinator assigning a person who is not in the directory
    let other = new_request(&t, "pat", "Second");
    let cody = session(&t, "cody");
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{other}/act/assign"),
            &cody,
            &[("_revision", "1"), ("mentor", "nobody")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains(r#"id="assign-mentor-error""#), "{}", r.body);
    assert_eq!(t.engine.get(other, None).unwrap().state, "submitted");
    // a form without the CSRF token is refused and changes nothing
    let r = send(
        &t.app,
        form(
            &format!("/cases/{id}/act/accept"),
            &format!("mf_session={alice}"),
            &[("_revision", &rev), ("note", "hi")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(t.engine.get(id, None).unwrap().state, "assigned_pending");
}

#[tokio::test]
async fn start_form_and_view_paging() {
    let t = setup();
    let pat = session(&t, "pat");
    let r = send(&t.app, get("/", &pat)).await;
    assert!(r.body.contains("Submit a mentoring request"), "{}", r.body);
    let r = send(&t.app, get("/start/score_request/submit", &pat)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains(r#"for="start-client_name""#), "{}", r.body);
    // a required field left empty: the error is at the field, nothing started
    let r = send(
        &t.app,
        post_as("/start/score_request/submit", &pat, &[("client_name", "")]),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains(r#"id="start-client_name-error""#),
        "{}",
        r.body
    );
    assert!(t
        .engine
        .cases(&mentorflow::CaseFilter::default())
        .unwrap()
        .is_empty());
    let r = send(
        &t.app,
        post_as(
            "/start/score_request/submit",
            &pat,
            &[("_key", "s1"), ("client_name", "Pat's Bakery")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(
        t.engine
            .cases(&mentorflow::CaseFilter::default())
            .unwrap()
            .len(),
        1
    );
    // a client may not use the coordinator's views
    let r = send(&t.app, get("/views/score_request/intake_queue", &pat)).await;
    assert!(
        matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN)
            || !r.body.contains("Pat&#x27;s Bakery"),
        "{}",
        r.status
    );
    // paging
    for i in 0..30 {
        new_request(&t, "kim", &format!("Kite {i:02}"));
    }
    let cody = session(&t, "cody");
    let r = send(
        &t.app,
        get("/views/score_request/intake_queue?page=2&sort=id", &cody),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Page 2 of 2"), "{}", r.body);
    let r = send(
        &t.app,
        get("/views/score_request/intake_queue?page=zero", &cody),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = send(
        &t.app,
        get("/views/score_request/intake_queue?q=Kite%2007", &cody),
    )
    .await;
    assert!(
        r.body.contains("Kite 07") && !r.body.contains("Kite 08"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_link_followed_before_signing_in_comes_back_after_it() {
    let t = setup();
    let id = new_request(&t, "pat", "Pat's Bakery");
    // the e-mail's link, without a session: to sign-in, remembering where to come back
    let r = send(
        &t.app,
        Request::get(format!("/cases/{id}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), format!("/sign-in?next=/cases/{id}"));
    let r = send(
        &t.app,
        Request::get(r.location()).body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body
            .contains(&format!("name=\"next\" value=\"&#x2f;cases&#x2f;{id}\""))
            || r.body
                .contains(&format!("name=\"next\" value=\"/cases/{id}\"")),
        "{}",
        r.body
    );
    let pre = r.cookie("mf_pre").unwrap();
    let csrf = csrf_token(&pre);
    let next = format!("/cases/{id}");
    for (asked, lands) in [(next.as_str(), next.as_str()), ("//evil.example/x", "/")] {
        for f in std::fs::read_dir(t.mail.path()).into_iter().flatten() {
            std::fs::remove_file(f.unwrap().path()).unwrap();
        }
        let r = send(
            &t.app,
            form(
                "/sign-in",
                &format!("mf_pre={pre}"),
                &[
                    ("_csrf", &csrf),
                    ("email", "pat@ch12.example.org"),
                    ("next", asked),
                ],
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let mail = std::fs::read_dir(t.mail.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(mail).unwrap();
        let link = text
            .split_whitespace()
            .find(|w| w.starts_with("http://portal.test/sign-in/"))
            .unwrap();
        let path = link.strip_prefix("http://portal.test").unwrap();
        let r = send(
            &t.app,
            form(path, &format!("mf_pre={pre}"), &[("_csrf", &csrf)]),
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER);
        assert_eq!(r.location(), lands, "asked {asked}");
    }
}

// ---- e-mail action links (issue 17) ---------------------------------------------------------

/// The action links ("LABEL: URL/l/TOKEN") of the newest mail to `to` whose subject has `about`.
fn action_links(t: &T, to: &str, about: &str) -> Vec<(String, String)> {
    let mut mails: Vec<(std::time::SystemTime, String)> = std::fs::read_dir(t.mail.path())
        .unwrap()
        .map(|f| f.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.metadata().unwrap().modified().unwrap(),
                text.replace("=\r\n", "").replace("=3D", "="),
            )
        })
        .filter(|(_, text)| text.contains(&format!("<{to}>")) && text.contains(about))
        .collect();
    mails.sort();
    let (_, text) = mails
        .pop()
        .unwrap_or_else(|| panic!("no mail to {to} about {about}"));
    text.lines()
        .filter_map(|l| {
            let (label, url) = l.trim().split_once(": http://portal.test/l/")?;
            Some((label.to_owned(), format!("/l/{url}")))
        })
        .collect()
}

fn assigned_to_dan(t: &T, name: &str) -> i64 {
    let id = new_request(t, "pat", name);
    t.engine
        .act(id, "assign", "cody", json!({"mentor": "dan"}))
        .unwrap();
    t.engine.tick().unwrap();
    id
}

#[tokio::test]
async fn an_emailed_action_link_opens_its_form_for_its_person_and_works_once() {
    let t = setup();
    let id = assigned_to_dan(&t, "Rosa Plants");
    let links = action_links(&t, "dan@ch12.example.org", "assigned to you");
    let labels: Vec<&str> = links.iter().map(|(l, _)| l.as_str()).collect();
    assert_eq!(labels, ["Accept Assignment", "Decline Assignment"]);
    let accept = links[0].1.clone();
    let decline = links[1].1.clone();
    // the coordinator's mail invites no action: no links
    let n = t.engine.notifications(&Default::default()).unwrap();
    assert!(n.iter().any(|n| n.to == "cody"));
    let dan = session(&t, "dan");

    // not signed in: sign in first, then back to the link
    let r = send(&t.app, Request::get(&accept).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.location().starts_with("/sign-in?next=/l/"),
        "{}",
        r.location()
    );
    // someone else signed in: refused, nothing shown of the case
    let alice = session(&t, "alice");
    let r = send(&t.app, get(&accept, &alice)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body.contains("This link is for someone else"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("Rosa"));
    // a changed token: refused
    let mut bytes = accept.clone().into_bytes();
    let at = "/l/".len() + 5;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let r = send(&t.app, get(&tampered, &dan)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("This link is not valid"), "{}", r.body);
    let r = send(&t.app, get("/l/nonsense", &dan)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // Dan: the case page with the accept form open; following the link did not act
    let r = send(&t.app, get(&accept, &dan)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("From your e-mail"), "{}", r.body);
    assert!(
        r.body
            .contains(&format!("action=\"/cases/{id}/act/accept\"").replace('/', "&#x2f;"))
            || r.body
                .contains(&format!("action=\"/cases/{id}/act/accept\""))
    );
    assert_eq!(t.engine.get(id, None).unwrap().state, "assigned_pending");
    let rev = t.engine.get(id, None).unwrap().revision.to_string();
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &dan,
            &[
                ("_revision", &rev),
                ("_key", "from-mail"),
                ("note", "Hello Rosa"),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(t.engine.get(id, None).unwrap().state, "in_progress");

    // used: the link (and its sibling) no longer work, and say where the case is
    for link in [&accept, &decline] {
        let r = send(&t.app, get(link, &dan)).await;
        assert_eq!(r.status, StatusCode::GONE);
        assert!(r.body.contains("This link was already used"), "{}", r.body);
        assert!(
            r.body.contains(&format!("/cases/{id}"))
                || r.body.contains(&format!("&#x2f;cases&#x2f;{id}"))
        );
    }
}

#[tokio::test]
async fn an_expired_action_link_is_refused_with_a_clear_page() {
    let t = setup();
    let id = assigned_to_dan(&t, "Old Mill");
    let (_, accept) = action_links(&t, "dan@ch12.example.org", "assigned to you")
        .into_iter()
        .next()
        .unwrap();
    let dan = session(&t, "dan");
    t.clock.advance(chrono::Duration::days(15));
    let dan_later = session(&t, "dan");
    let _ = dan;
    let r = send(&t.app, get(&accept, &dan_later)).await;
    assert_eq!(r.status, StatusCode::GONE);
    assert!(r.body.contains("This link has expired"), "{}", r.body);
    assert!(r.body.contains("It worked until"), "{}", r.body);
    assert_eq!(t.engine.get(id, None).unwrap().state, "assigned_pending");
}

/// An action's `shows:` fields are shown with its form: engagement's "Log a session" form
/// lists the open action items (seed 000: "review … the action items you set").
#[tokio::test]
async fn a_form_shows_the_case_fields_its_action_names() {
    let t = setup();
    let mut alice = t.engine.person("alice").unwrap();
    alice
        .attributes
        .insert("focus_areas".into(), json!(["marketing"]));
    t.engine.replace_person(&alice).unwrap();
    let id = t
        .engine
        .start_with(mentorflow::Start {
            workflow: "engagement".into(),
            actor: "pat".into(),
            data: json!({"client_name": "Pat's Shop", "focus_areas": ["marketing"]})
                .as_object()
                .unwrap()
                .clone(),
            ..mentorflow::Start::default()
        })
        .unwrap()
        .id;
    t.engine.act(id, "accept", "alice", json!({})).unwrap();
    let s = session(&t, "alice");
    // nothing open yet: the form shows no list
    let r = send(&t.app, get(&format!("/cases/{id}"), &s)).await;
    assert!(r.body.contains("Log a session"), "{}", r.body);
    assert!(!r.body.contains("class=\"fields shows\""), "{}", r.body);
    t.engine
        .act(
            id,
            "log_session",
            "alice",
            json!({"action_item": "Draft the plan <now>", "owner": "pat", "due": "2026-11-25"}),
        )
        .unwrap();
    let r = send(&t.app, get(&format!("/cases/{id}"), &s)).await;
    let form = r
        .body
        .split("<summary>Log a session</summary>")
        .nth(1)
        .unwrap();
    let form = form.split("</details>").next().unwrap();
    assert!(
        form.contains("<dl class=\"fields shows\"><dt>Open action items</dt><dd class=\"long\">1. Draft the plan &lt;now&gt; (Pat Rivera, due 2026-11-25)</dd></dl>"),
        "{form}"
    );
}

/// The HTML of the control with this id, up to its end tag.
fn control_html<'a>(body: &'a str, id: &str, end: &str) -> &'a str {
    let at = body
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no control {id}: {body}"));
    let rest = &body[at..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}

#[tokio::test]
async fn the_mentor_picker_offers_only_the_mentors_the_guard_accepts() {
    let t = setup();
    // a subject matter expert holds the mentor role but the guard refuses them; Kim is no mentor
    t.engine
        .replace_person(
            &Person::new("sam")
                .name("Sam Lee")
                .org("ch12")
                .role("mentor")
                .attr("classification", "sme"),
        )
        .unwrap();
    let id = new_request(&t, "pat", "Pat's Bakery");
    let cody = session(&t, "cody");
    let r = send(&t.app, get(&format!("/cases/{id}"), &cody)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let select = control_html(&r.body, "assign-mentor", "</select>");
    assert!(select.contains("value=\"alice\">Alice Moreau<"), "{select}");
    assert!(select.contains("value=\"dan\">Dan Okafor<"), "{select}");
    for left_out in ["sam", "kim", "pat", "cody"] {
        assert!(
            !select.contains(&format!("value=\"{left_out}\"")),
            "{left_out}: {select}"
        );
    }
    // the page names only the people of the case: not Kim nor Sam, who are nowhere on it
    assert!(!r.body.contains("Kim Tanaka") && !r.body.contains("Sam Lee"));
    assert!(r.body.contains("Pat Rivera"), "the client by name");
    // the picker is not a permission: a hand-made form naming Sam is refused by the guard
    let rev = t.engine.get(id, None).unwrap().revision.to_string();
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/assign"),
            &cody,
            &[("_revision", &rev), ("mentor", "sam")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("Only active mentors can be assigned"),
        "{}",
        r.body
    );
    assert_eq!(t.engine.get(id, None).unwrap().state, "submitted");
}

#[tokio::test]
async fn a_picker_without_choices_lists_the_chapters_people_and_falls_back_to_an_id_beyond_the_bound(
) {
    let t = setup();
    let id = assigned(&t);
    let alice = session(&t, "alice");
    let rev = t.engine.get(id, None).unwrap().revision;
    send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/accept"),
            &alice,
            &[("_revision", &rev.to_string()), ("note", "Happy to help")],
        ),
    )
    .await;
    // add_team_member's picker has no `choices`: the chapter's people
    let r = send(&t.app, get(&format!("/cases/{id}"), &alice)).await;
    let select = control_html(&r.body, "add_team_member-member", "</select>");
    assert!(select.contains("value=\"kim\">Kim Tanaka<"), "{select}");
    // beyond the bound: a text box for an id, suggesting the first ones
    for i in 0..mentorflow::engine::CANDIDATE_LIMIT {
        t.engine
            .replace_person(&Person::new(format!("p{i:03}")).org("ch12"))
            .unwrap();
    }
    let r = send(&t.app, get(&format!("/cases/{id}"), &alice)).await;
    let input = control_html(&r.body, "add_team_member-member", "</datalist>");
    assert!(input.contains("type=\"text\""), "{input}");
    assert!(
        input.contains("list=\"add_team_member-member-list\""),
        "{input}"
    );
    assert!(r.body.contains("type to see suggestions"), "{}", r.body);
    // and an id typed there acts
    let rev = t.engine.get(id, None).unwrap().revision.to_string();
    let r = send(
        &t.app,
        post_as(
            &format!("/cases/{id}/act/add_team_member"),
            &alice,
            &[("_revision", &rev), ("member", "p150")],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let team = t.engine.participants(id, None).unwrap();
    assert!(team.iter().any(|p| p.person == "p150" && p.role == "team"));
}

#[tokio::test]
async fn the_operator_panel_shows_the_suspension_in_the_organisations_zone() {
    let t = setup();
    let id = assigned(&t);
    t.engine
        .replace_person(
            &Person::new("olga")
                .name("Olga Operator")
                .org("ch12")
                .role("admin")
                // a coordinator sees the chapter's requests
                .role("coordinator"),
        )
        .unwrap();
    t.engine
        .suspend_case(id, "olga", "mentor on leave")
        .unwrap();
    let olga = session(&t, "olga");
    let r = send(&t.app, get(&format!("/cases/{id}"), &olga)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // 14:00 UTC is 09:00 in New York, the chapter's zone
    assert!(
        r.body
            .contains("Suspended by Olga Operator on Fri 20 Nov 2026 09:00"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("14:00 UTC"), "{}", r.body);
}

#[tokio::test]
async fn a_long_history_shows_its_newest_events_and_a_link_to_all() {
    let t = setup();
    let id = assigned(&t);
    t.engine
        .act(id, "accept", "alice", json!({"note": "Happy to help."}))
        .unwrap();
    let shown = mentorflow_server::HISTORY_SHOWN;
    for n in 0..shown + 5 {
        t.engine
            .act(
                id,
                "send_email",
                "alice",
                json!({"subject": format!("Follow-up number {n:03}"), "body": "Hello"}),
            )
            .unwrap();
    }
    let total = t.engine.history(id, None).unwrap().len();
    assert!(total > shown);
    let alice = session(&t, "alice");
    let r = send(&t.app, get(&format!("/cases/{id}"), &alice)).await;
    assert_eq!(r.status, StatusCode::OK);
    let items = |body: &str| body.matches("<li><time datetime=").count();
    assert_eq!(items(&r.body), shown, "the newest {shown} events only");
    assert!(r
        .body
        .contains(&format!("Follow-up number {:03}", shown + 4)));
    assert!(
        !r.body.contains("Follow-up number 000"),
        "the oldest is left out"
    );
    assert!(r
        .body
        .contains(&format!("The newest {shown} of {total} events.")));
    assert!(r.body.contains(&format!("/cases/{id}?history=all")));
    let all = send(&t.app, get(&format!("/cases/{id}?history=all"), &alice)).await;
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(items(&all.body), total);
    assert!(all.body.contains("Follow-up number 000"));
    assert!(!all.body.contains("The newest"));
}
