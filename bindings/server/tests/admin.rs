//! The administration pages through the router: only operators (the configured operator
//! roles) see them, everyone else gets the 404 of a missing page; people and organisations
//! are edited with the engine's validation shown at the field and nothing changed on an
//! error; the outbox lists failed deliveries with retry and drop.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use mentorflow::{DeliveryStatus, Engine, Hook, HookError, Notification, Org, Person};
use mentorflow_server::{App, Config};
use serde_json::json;
use support::{get, post, send, session};

/// A mail consumer that is down.
struct Down;

impl Hook for Down {
    fn name(&self) -> &str {
        "mail"
    }
    fn on_notification(&self, _: &Notification) -> Result<(), HookError> {
        Err("connection refused".into())
    }
}

fn setup() -> (App, Arc<Engine>) {
    let engine = Engine::builder()
        .in_memory()
        .workflows_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows"))
        .operator_roles(["admin", "ops"])
        .hook(Down)
        .build()
        .unwrap();
    engine
        .replace_org(
            &Org::new("ch12")
                .name("SCORE Chapter 12")
                .timezone("America/New_York"),
        )
        .unwrap();
    for (id, name, roles) in [
        ("pat", "Pat Rivera", vec![]),
        ("cody", "Cody Nguyen", vec!["coordinator"]),
        ("alice", "Alice Moreau", vec!["mentor"]),
        ("root", "Rae Ops", vec!["admin"]),
        ("olga", "Olga Ops", vec!["ops"]),
    ] {
        let mut p = Person::new(id)
            .name(name)
            .org("ch12")
            .email(format!("{id}@ch12.example.org"));
        p.roles = roles.into_iter().map(String::from).collect();
        engine.replace_person(&p).unwrap();
    }
    let engine = Arc::new(engine);
    (App::new(engine.clone(), Config::default()), engine)
}

const PAGES: &[&str] = &[
    "/admin",
    "/admin/people",
    "/admin/people/alice",
    "/admin/orgs",
    "/admin/orgs/ch12",
    "/admin/definitions",
    "/admin/outbox",
    "/admin/outbox?status=all",
];

#[tokio::test]
async fn only_operators_see_the_administration() {
    let (app, e) = setup();
    // both configured operator roles
    for op in ["root", "olga"] {
        let s = session(&e, op);
        for page in PAGES {
            let (status, _, body) = send(&app, get(page, &s)).await;
            assert_eq!(status, StatusCode::OK, "{op} {page}: {body}");
        }
        let (_, _, home) = send(&app, get("/", &s)).await;
        assert!(home.contains("href=\"/admin\""), "{op}: {home}");
    }
    // everyone else: the 404 of a page that is not there, and no link
    for who in ["pat", "cody", "alice"] {
        let s = session(&e, who);
        for page in PAGES {
            let (status, _, body) = send(&app, get(page, &s)).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{who} {page}");
            assert!(
                body.contains("Not found")
                    && body.contains("was not found")
                    && !body.contains("Alice Moreau"),
                "{who} {page}: {body}"
            );
        }
        let (status, _, _) = send(
            &app,
            post(
                "/admin/people/alice",
                &s,
                &[("name", "X"), ("roles", "admin")],
                true,
            ),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{who}");
        let (_, _, home) = send(&app, get("/", &s)).await;
        assert!(!home.contains("href=\"/admin\""), "{who}");
    }
    assert!(
        e.person("alice").unwrap().roles == vec!["mentor".to_owned()],
        "nothing changed"
    );
    // not signed in: the sign-in page, then back
    let (status, location, _) = send(
        &app,
        Request::get("/admin/people").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/sign-in?next=/admin/people");
}

#[tokio::test]
async fn people_are_edited_with_errors_at_the_field() {
    let (app, e) = setup();
    let s = session(&e, "root");
    let (_, _, list) = send(&app, get("/admin/people", &s)).await;
    assert!(
        list.contains("Alice Moreau") && list.contains("SCORE Chapter 12"),
        "{list}"
    );
    // no CSRF token: refused, nothing changed
    let (status, _, _) = send(
        &app,
        post(
            "/admin/people/alice",
            &s,
            &[
                ("name", "Alice M."),
                ("roles", "mentor, coordinator"),
                ("org", "ch12"),
                ("attributes", "{}"),
            ],
            false,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // attributes that are not a JSON object: the error at the field, nothing changed
    let (status, _, body) = send(
        &app,
        post(
            "/admin/people/alice",
            &s,
            &[
                ("name", "Alice M."),
                ("roles", "mentor, coordinator"),
                ("org", "ch12"),
                ("attributes", "[1, 2]"),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("id=\"e-attributes\"") && body.contains("must be a JSON object"),
        "{body}"
    );
    assert!(
        body.contains("value=\"Alice M.\""),
        "the answers are kept: {body}"
    );
    assert_eq!(
        e.person("alice").unwrap().name.as_deref(),
        Some("Alice Moreau")
    );
    // hostile text is shown as text
    let (status, location, _) = send(
        &app,
        post(
            "/admin/people/alice",
            &s,
            &[
                ("name", "<script>x</script>"),
                ("email", "alice@ch12.example.org"),
                ("roles", "mentor, coordinator"),
                ("org", "ch12"),
                ("attributes", "{\"classification\": \"active\"}"),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{location}");
    assert_eq!(location, "/admin/people/alice?saved=1");
    let p = e.person("alice").unwrap();
    assert_eq!(p.roles, vec!["mentor".to_owned(), "coordinator".to_owned()]);
    assert_eq!(p.attributes["classification"], json!("active"));
    let (_, _, page) = send(&app, get("/admin/people/alice?saved=1", &s)).await;
    assert!(
        page.contains("Saved.") && page.contains("&lt;script&gt;") && !page.contains("<script>x"),
        "{page}"
    );
    // a person who is not there
    let (status, _, _) = send(&app, get("/admin/people/nobody", &s)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn organisations_are_edited_with_the_engines_validation() {
    let (app, e) = setup();
    let s = session(&e, "root");
    let (_, _, list) = send(&app, get("/admin/orgs", &s)).await;
    assert!(list.contains("America&#x2f;New_York"), "{list}");
    // a time zone the engine refuses: its message at the field, nothing changed
    let (status, _, body) = send(
        &app,
        post(
            "/admin/orgs/ch12",
            &s,
            &[
                ("name", "Chapter 12"),
                ("timezone", "Mars/Olympus"),
                ("holidays", ""),
                ("settings", "{}"),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body.contains("id=\"e-timezone\""), "{body}");
    assert!(body.contains("Mars&#x2f;Olympus"), "{body}");
    assert_eq!(e.org("ch12").unwrap().timezone, "America/New_York");
    // a holiday that is not a date
    let (status, _, body) = send(
        &app,
        post(
            "/admin/orgs/ch12",
            &s,
            &[
                ("name", "Chapter 12"),
                ("timezone", "Europe/Paris"),
                ("holidays", "2026-12-25\nXmas"),
                ("settings", "{}"),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.contains("id=\"e-holidays\"") && body.contains("Line 2"),
        "{body}"
    );
    assert_eq!(e.org("ch12").unwrap().timezone, "America/New_York");
    // all good
    let (status, location, _) = send(
        &app,
        post(
            "/admin/orgs/ch12",
            &s,
            &[
                ("name", "Chapter 12"),
                ("timezone", "Europe/Paris"),
                ("holidays", "2026-12-25\n2027-01-01"),
                ("settings", "{}"),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/orgs/ch12?saved=1");
    let o = e.org("ch12").unwrap();
    assert_eq!(
        (o.timezone.as_str(), o.holidays.len(), o.name.as_deref()),
        ("Europe/Paris", 2, Some("Chapter 12"))
    );
}

#[tokio::test]
async fn definitions_and_the_outbox() {
    let (app, e) = setup();
    let s = session(&e, "root");
    let (_, _, defs) = send(&app, get("/admin/definitions", &s)).await;
    for d in e.definitions() {
        assert!(defs.contains(&d.title), "{}: {defs}", d.title);
        // each definition drawn, with its own ids
        assert!(
            defs.contains(&format!(
                "role=\"img\" aria-labelledby=\"flow-{id}-v{v}-t\" aria-describedby=\"flow-{id}-v{v}-d\"",
                id = d.id,
                v = d.version
            )),
            "{}: {defs}",
            d.id
        );
    }
    assert_eq!(defs.matches("<svg ").count(), e.definitions().len());
    assert!(
        !defs.contains(" current\""),
        "no case, no current state: {defs}"
    );
    // a request notifies the coordinator; the mail consumer is down
    e.start_with(mentorflow::Start {
        workflow: "score_request".into(),
        actor: "pat".into(),
        data: json!({"client_name": "Pat's Bakery"})
            .as_object()
            .unwrap()
            .clone(),
        ..mentorflow::Start::default()
    })
    .unwrap();
    e.deliver().unwrap();
    let failed = e.deliveries(&Default::default()).unwrap();
    assert!(!failed.is_empty());
    let row = &failed[0];
    let (_, _, page) = send(&app, get("/admin/outbox", &s)).await;
    assert!(
        page.contains("connection refused")
            && page.contains(&format!("/admin/outbox/{}/drop", row.outbox_id)),
        "{page}"
    );
    // drop it through the engine's own call
    let (status, location, _) = send(
        &app,
        post(
            &format!("/admin/outbox/{}/drop", row.outbox_id),
            &s,
            &[("consumer", &row.consumer)],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location, "/admin/outbox?done=drop");
    let after = e
        .deliveries(&mentorflow::DeliveryFilter {
            outbox_id: Some(row.outbox_id),
            all: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(after[0].status, DeliveryStatus::Dropped);
    // and retry it
    let (status, _, _) = send(
        &app,
        post(
            &format!("/admin/outbox/{}/retry", row.outbox_id),
            &s,
            &[("consumer", &row.consumer)],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let after = e
        .deliveries(&mentorflow::DeliveryFilter {
            outbox_id: Some(row.outbox_id),
            all: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(after[0].status, DeliveryStatus::Retry);
    // a row that is not there, a bad status filter
    let (status, _, _) = send(&app, post("/admin/outbox/999999/drop", &s, &[], true)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = send(&app, get("/admin/outbox?status=bogus", &s)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
