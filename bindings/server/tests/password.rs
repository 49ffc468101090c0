//! Passwords (set through an e-mailed link, argon2id, sign-in with one message for unknown
//! address and wrong password), sign-in attempt limits per account and per address, and the
//! trusted reverse-proxy header.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use mentorflow::{Engine, Org, Person};
use mentorflow_server::{csrf_token, mail, App, Config, Proxy};
use tower::ServiceExt;

fn engine() -> Arc<Engine> {
    let e = Engine::builder()
        .in_memory()
        .workflows_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows"))
        .build()
        .unwrap();
    e.replace_org(&Org::new("ch12").name("SCORE Chapter 12"))
        .unwrap();
    for (id, name) in [("alice", "Alice Moreau"), ("dan", "Dan Okafor")] {
        let mut p = Person::new(id)
            .name(name)
            .org("ch12")
            .email(format!("{id}@ch12.example.org"));
        p.roles = vec!["mentor".into()];
        e.replace_person(&p).unwrap();
    }
    Arc::new(e)
}

struct Resp {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    body: String,
}

async fn send(app: &App, req: Request<Body>) -> Resp {
    let r = app.router().oneshot(req).await.unwrap();
    let status = r.status();
    let location = r
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let cookies = r
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body =
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    Resp {
        status,
        location,
        cookies,
        body,
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A pre-sign-in form post (the `mf_pre` cookie and its token), from `from` when given.
fn pre_post(path: &str, fields: &[(&str, &str)], from: Option<&str>) -> Request<Body> {
    let pre = "pre-secret-for-the-tests-0123456789abcdef";
    let token = csrf_token(pre);
    let mut all = vec![("_csrf", token.as_str())];
    all.extend_from_slice(fields);
    let body = all
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let mut r = Request::post(path)
        .header(header::COOKIE, format!("mf_pre={pre}"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    if let Some(ip) = from {
        r.extensions_mut().insert(ConnectInfo(
            format!("{ip}:5555").parse::<SocketAddr>().unwrap(),
        ));
    }
    r
}

fn sign_in(email: &str, password: &str, from: Option<&str>) -> Request<Body> {
    pre_post(
        "/sign-in/password",
        &[("email", email), ("password", password)],
        from,
    )
}

const PW: &str = "correct horse battery staple";

#[tokio::test]
async fn a_password_is_set_through_an_emailed_link_and_signs_in() {
    let e = engine();
    let dir = tempfile::tempdir().unwrap();
    let app = App::new(
        e.clone(),
        Config {
            public_url: "http://portal.test".into(),
            mail: mail::Transport::File(dir.path().to_owned()),
            ..Config::default()
        },
    );
    // no password yet: the same answer as a wrong one
    let r = send(&app, sign_in("alice@ch12.example.org", PW, None)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(
        r.body
            .contains("That e-mail address and password do not match."),
        "{}",
        r.body
    );

    // ask for the link; an unknown address gets the same page and no mail
    let r = send(
        &app,
        pre_post("/password", &[("email", "nobody@example.org")], None),
    )
    .await;
    let unknown_page = r.body.clone();
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    let r = send(
        &app,
        pre_post("/password", &[("email", "alice@ch12.example.org")], None),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body.replace("alice@ch12.example.org", "X"),
        unknown_page.replace("nobody@example.org", "X")
    );
    let mail = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(mail).unwrap().replace("=\r\n", "");
    let at = text.find("http://portal.test/password/").unwrap();
    let link: String = text[at..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || ":/.".contains(*c))
        .collect();
    let path = link.trim_start_matches("http://portal.test").to_owned();

    let r = send(&app, Request::get(&path).body(Body::empty()).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Alice Moreau") && r.body.contains("type=\"password\""),
        "{}",
        r.body
    );
    // too short, or the two differ: said at the field, nothing stored, the link still works
    let r = send(
        &app,
        pre_post(&path, &[("password", "short"), ("confirm", "short")], None),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body.contains("at least 12") && r.body.contains("aria-invalid=\"true\""),
        "{}",
        r.body
    );
    let r = send(
        &app,
        pre_post(
            &path,
            &[("password", PW), ("confirm", "something else entirely")],
            None,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("differ"), "{}", r.body);
    assert!(e.password_hash("alice").unwrap().is_none());
    // without the form token: refused
    let r = send(
        &app,
        Request::post(&path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!(
                "password={}&confirm={}",
                enc(PW),
                enc(PW)
            )))
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(e.password_hash("alice").unwrap().is_none());
    // set: an argon2id hash, signed in, the link used up
    let r = send(
        &app,
        pre_post(&path, &[("password", PW), ("confirm", PW)], None),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert!(
        r.cookies
            .iter()
            .any(|c| c.starts_with("mf_session=") && c.contains("HttpOnly")),
        "{:?}",
        r.cookies
    );
    let phc = e.password_hash("alice").unwrap().unwrap();
    assert!(phc.starts_with("$argon2id$") && !phc.contains(PW), "{phc}");
    let r = send(
        &app,
        pre_post(
            &path,
            &[
                ("password", "another long password"),
                ("confirm", "another long password"),
            ],
            None,
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(mentorflow_server::password::verify(
        PW,
        &e.password_hash("alice").unwrap().unwrap()
    ));

    // sign in: a wrong password and an unknown address read the same
    let wrong = send(
        &app,
        sign_in("alice@ch12.example.org", "not the password at all", None),
    )
    .await;
    let unknown = send(&app, sign_in("ghost@ch12.example.org", PW, None)).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let msg = |b: &str| {
        b.split("id=\"password-error\"")
            .nth(1)
            .unwrap()
            .split("</p>")
            .next()
            .unwrap()
            .to_owned()
    };
    assert_eq!(msg(&wrong.body), msg(&unknown.body));
    assert!(wrong.cookies.iter().all(|c| !c.starts_with("mf_session=")));
    let r = send(&app, sign_in("Alice@CH12.example.org ", PW, None)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, "/");
    let session = r
        .cookies
        .iter()
        .find_map(|c| c.strip_prefix("mf_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let home = send(
        &app,
        Request::get("/")
            .header(header::COOKIE, format!("mf_session={session}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert!(home.body.contains("Welcome, Alice Moreau"), "{}", home.body);
}

#[tokio::test]
async fn sign_in_attempts_are_limited_per_account_and_per_address() {
    let e = engine();
    e.set_password_hash("alice", &mentorflow_server::password::hash(PW).unwrap())
        .unwrap();
    e.set_password_hash("dan", &mentorflow_server::password::hash(PW).unwrap())
        .unwrap();
    let app = App::new(e.clone(), Config::default());
    // five wrong passwords for Alice, from different addresses
    for i in 0..5 {
        let r = send(
            &app,
            sign_in(
                "alice@ch12.example.org",
                "wrong password here",
                Some(&format!("10.0.0.{i}")),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    // now even the right password is refused for her, from anywhere, and says to wait
    let r = send(
        &app,
        sign_in("alice@ch12.example.org", PW, Some("10.9.9.9")),
    )
    .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.body.contains("Too many failed sign-ins") && r.body.contains("15 minutes"),
        "{}",
        r.body
    );
    assert!(r.cookies.iter().all(|c| !c.starts_with("mf_session=")));
    // Dan is not affected
    let r = send(&app, sign_in("dan@ch12.example.org", PW, Some("10.0.0.1"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // one address guessing many accounts is stopped for every account
    for i in 0..20 {
        let r = send(
            &app,
            sign_in(
                &format!("guess{i}@example.org"),
                "whatever it is",
                Some("192.0.2.7"),
            ),
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "guess {i}");
    }
    let r = send(&app, sign_in("dan@ch12.example.org", PW, Some("192.0.2.7"))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = send(&app, sign_in("dan@ch12.example.org", PW, Some("192.0.2.8"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

fn from(path: &str, ip: &str, user: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(u) = user {
        b = b.header("X-Remote-User", u);
    }
    let mut r = b.body(Body::empty()).unwrap();
    r.extensions_mut().insert(ConnectInfo(
        format!("{ip}:4444").parse::<SocketAddr>().unwrap(),
    ));
    r
}

#[tokio::test]
async fn the_proxy_header_is_believed_only_from_the_trusted_addresses() {
    let e = engine();
    let app = App::new(
        e.clone(),
        Config {
            proxy: Some(Proxy {
                header: "x-remote-user".into(),
                trusted: vec!["127.0.0.1".parse().unwrap()],
            }),
            ..Config::default()
        },
    );
    let r = send(&app, from("/", "127.0.0.1", Some("alice"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Welcome, Alice Moreau"));
    // by e-mail address too
    let r = send(&app, from("/", "127.0.0.1", Some("dan@ch12.example.org"))).await;
    assert!(r.body.contains("Welcome, Dan Okafor"), "{}", r.body);
    // and the API
    let r = send(&app, from("/api/me", "127.0.0.1", Some("alice"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("\"alice\""));
    // from anywhere else, an unknown name, or no header: not signed in
    for (ip, user) in [
        ("10.0.0.9", Some("alice")),
        ("127.0.0.1", Some("mallory")),
        ("127.0.0.1", None),
    ] {
        let r = send(&app, from("/", ip, user)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{ip} {user:?}");
        assert_eq!(r.location, "/sign-in");
    }
    // a portal without [proxy] ignores the header
    let plain = App::new(e.clone(), Config::default());
    let r = send(&plain, from("/", "127.0.0.1", Some("alice"))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}
