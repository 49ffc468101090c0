//! Observability and the webhook transport: `/metrics` (who may read it, counts that move
//! with the work), and a webhook posting to the test's own loopback HTTP server (signature,
//! idempotency key, retries of a failing endpoint, other consumers unaffected).
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use mentorflow::{
    CredentialKind, DeliveryFilter, DeliveryStatus, Engine, Hook, HookError, ManualClock,
    Notification, Person,
};
use mentorflow_server::webhook::{signature, Webhook, SIGNATURE_HEADER};
use mentorflow_server::{App, Config};
use serde_json::{json, Value};
use tower::ServiceExt;

const FLOW: &str = r#"
workflow: hello
version: 1
roles:
  owner: {}
states:
  open: { label: Open }
  done: { label: Done, final: true }
templates:
  welcome: { subject: "Welcome ${recipient.name}", body: "Hello" }
actions:
  create:
    to: open
    by: owner
    run: 'assign("owner", actor.id); notify(actor.id, "welcome");'
  finish: { from: open, to: done, by: owner }
"#;

fn t0() -> chrono::DateTime<chrono::Utc> {
    "2026-11-20T14:00:00Z".parse().unwrap()
}

fn engine(clock: &ManualClock) -> Engine {
    let e = Engine::builder()
        .in_memory()
        .workflow_str("hello.yaml", FLOW)
        .clock(clock.clone())
        .build()
        .unwrap();
    for p in [
        Person::new("pat").name("Pat").org("ch1"),
        Person::new("olga").name("Olga").org("ch1").role("admin"),
    ] {
        e.put_person(&p).unwrap();
    }
    e
}

async fn get(app: &App, req: Request<Body>) -> (StatusCode, String, String) {
    let r = app.router().oneshot(req).await.unwrap();
    let status = r.status();
    let ctype = r
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, ctype, String::from_utf8(body).unwrap())
}

fn metrics_request(token: Option<&str>, from: Option<&str>) -> Request<Body> {
    let mut b = Request::get("/metrics");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let mut req = b.body(Body::empty()).unwrap();
    if let Some(ip) = from {
        let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut().insert(ConnectInfo(addr));
    }
    req
}

fn sample(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no `{name}` in:\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn metrics_are_for_operators_and_allowed_addresses_and_move_with_the_work() {
    let clock = ManualClock::at(t0());
    let engine = Arc::new(engine(&clock));
    engine
        .create_credential(
            "olga-token-0123456789",
            CredentialKind::ApiToken,
            "olga",
            "t",
            None,
        )
        .unwrap();
    engine
        .create_credential(
            "pat-token-0123456789",
            CredentialKind::ApiToken,
            "pat",
            "t",
            None,
        )
        .unwrap();
    let config = Config {
        metrics_allow: vec!["10.0.0.7".parse().unwrap(), "127.0.0.1".parse().unwrap()],
        proxy: Some(mentorflow_server::Proxy {
            header: "x-remote-user".into(),
            trusted: vec!["127.0.0.1".parse().unwrap()],
        }),
        ..Config::default()
    };
    let app = App::new(engine.clone(), config);

    // nobody, a non-operator's token, a bad token, the trusted proxy's address: refused
    for (token, from) in [
        (None, None),
        (Some("pat-token-0123456789"), None),
        (Some("nonsense"), None),
        (None, Some("127.0.0.1")),
        (None, Some("10.0.0.8")),
    ] {
        let (status, _, body) = get(&app, metrics_request(token, from)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{token:?} {from:?}: {body}");
        assert!(!body.contains("mentorflow_"), "{body}");
    }
    // an operator's token, an allowed address
    let (status, ctype, before) =
        get(&app, metrics_request(Some("olga-token-0123456789"), None)).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert!(ctype.starts_with("text/plain; version=0.0.4"), "{ctype}");
    let (status, _, same) = get(&app, metrics_request(None, Some("10.0.0.7"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(same, before);
    assert_eq!(
        sample(&before, "mentorflow_step_duration_seconds_count"),
        0.0
    );

    let c = engine.start("hello", "create", "pat", json!({})).unwrap();
    engine.act(c.id, "finish", "pat", json!({})).unwrap();
    engine.act(c.id, "finish", "pat", json!({})).unwrap_err();
    let (_, _, after) = get(&app, metrics_request(None, Some("10.0.0.7"))).await;
    assert_eq!(
        sample(
            &after,
            "mentorflow_commands_total{command=\"act\",outcome=\"ok\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(
            &after,
            "mentorflow_commands_total{command=\"act\",outcome=\"guard_rejected\"}"
        ),
        1.0
    );
    assert_eq!(
        sample(&after, "mentorflow_step_duration_seconds_count"),
        3.0
    );
    // no consumer: the notification waits in the outbox
    assert_eq!(sample(&after, "mentorflow_outbox_backlog"), 1.0);
}

/// One request the test's endpoint received.
#[derive(Debug, Clone)]
struct Received {
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback HTTP endpoint answering each request with the next status of `answers` (200
/// when none is left), recording what it received.
struct Endpoint {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

fn endpoint(answers: Vec<u16>) -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(VecDeque::from(answers)));
    let rec = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (n, v) = h.split_once(':').unwrap();
                headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
            let len: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            rec.lock().unwrap().push(Received { headers, body });
            let status = answers.lock().unwrap().pop_front().unwrap_or(200);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
        }
    });
    Endpoint { url, received }
}

/// A hook that records the notification ids it received.
#[derive(Default, Clone)]
struct Other(Arc<Mutex<Vec<i64>>>);

impl Hook for Other {
    fn name(&self) -> &str {
        "other"
    }
    fn on_notification(&self, n: &Notification) -> Result<(), HookError> {
        self.0.lock().unwrap().push(n.id);
        Ok(())
    }
}

const SECRET: &str = "a-shared-secret-of-32-characters";

#[test]
fn a_webhook_posts_signed_json_is_retried_when_failing_and_others_are_unaffected() {
    let good = endpoint(vec![]);
    let flaky = endpoint(vec![500, 503]);
    let clock = ManualClock::at(t0());
    let e = engine(&clock);
    let other = Other::default();
    e.add_hook(Arc::new(other.clone()));
    for (name, ep) in [("good", &good), ("flaky", &flaky)] {
        let w = Webhook::new(
            name,
            &ep.url,
            SECRET.as_bytes(),
            Duration::from_secs(5),
            true,
        )
        .unwrap();
        assert_eq!(w.consumer(), format!("webhook:{name}"));
        e.add_hook(Arc::new(w));
    }

    let c = e.start("hello", "create", "pat", json!({})).unwrap();
    let n = e.notifications(&Default::default()).unwrap().pop().unwrap();
    assert_eq!(n.case_id, Some(c.id));

    // the good endpoint got it once, signed, with the outbox id as the idempotency key
    let got = good.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("idempotency-key"), Some(n.id.to_string().as_str()));
    assert_eq!(
        r.header(SIGNATURE_HEADER),
        Some(signature(SECRET.as_bytes(), &r.body).as_str())
    );
    assert_ne!(
        r.header(SIGNATURE_HEADER),
        Some(signature(b"another secret, same length....", &r.body).as_str())
    );
    let body: Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(body["type"], json!("notification"));
    assert_eq!(body["id"], json!(n.id));
    assert_eq!(body["to"], json!("pat"));
    assert_eq!(body["subject"], json!("Welcome Pat"));
    assert_eq!(*other.0.lock().unwrap(), [n.id]);

    // the flaky one refused (500): a delivery record for it alone
    assert_eq!(flaky.received.lock().unwrap().len(), 1);
    let d = e
        .deliveries(&DeliveryFilter {
            consumer: Some("webhook:flaky".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].status, d[0].attempts), (DeliveryStatus::Retry, 1));
    assert!(
        d[0].last_error.as_deref().unwrap().contains("HTTP 500"),
        "{d:?}"
    );
    let first_retry = d[0].next_attempt_at.unwrap();

    // not due yet: nothing is posted
    e.tick().unwrap();
    assert_eq!(flaky.received.lock().unwrap().len(), 1);
    // due: refused again (503), then accepted on the third attempt
    clock.set(first_retry);
    e.tick().unwrap();
    assert_eq!(flaky.received.lock().unwrap().len(), 2);
    let d = e
        .deliveries(&DeliveryFilter {
            consumer: Some("webhook:flaky".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(d[0].attempts, 2);
    let second_retry = d[0].next_attempt_at.unwrap();
    assert!(
        second_retry - first_retry > chrono::Duration::seconds(30),
        "backoff grows: {first_retry} then {second_retry}"
    );
    clock.set(second_retry);
    e.tick().unwrap();
    let flaky_got = flaky.received.lock().unwrap().clone();
    assert_eq!(flaky_got.len(), 3);
    // every attempt carried the same key and body
    for r in &flaky_got {
        assert_eq!(r.header("idempotency-key"), Some(n.id.to_string().as_str()));
        assert_eq!(r.body, got[0].body);
    }
    let d = e
        .deliveries(&DeliveryFilter {
            consumer: Some("webhook:flaky".into()),
            all: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(d[0].status, DeliveryStatus::Delivered);
    // the others never saw it again
    assert_eq!(good.received.lock().unwrap().len(), 1);
    assert_eq!(*other.0.lock().unwrap(), [n.id]);
    assert_eq!(
        e.health(chrono::Duration::minutes(5))
            .unwrap()
            .outbox_backlog,
        0
    );
}

#[test]
fn a_webhook_is_refused_with_a_bad_url_name_or_secret() {
    let s = SECRET.as_bytes();
    let t = Duration::from_secs(1);
    for (name, url, secret, what) in [
        ("crm", "ftp://x", s, "http://"),
        ("crm", "http://exa mple", s, "not a URL"),
        ("c r m", "http://x", s, "webhook name"),
        ("crm", "http://x", &b"short"[..], "at least 16"),
    ] {
        let e = Webhook::new(name, url, secret, t, true).unwrap_err();
        assert!(e.contains(what), "{e}");
    }
}
