//! Notification delivery by the portal: the workflows' notifications through a real SMTP
//! conversation with a tiny SMTP sink run by the test on loopback, links to the portal's
//! public address, the server down (the outbox keeps the notification, the error is
//! recorded) and then back (the next sweep delivers it), and the file transport.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mentorflow::{
    DeliveryFilter, DeliveryStatus, Engine, ManualClock, NotificationFilter, Org, Person,
};
use mentorflow_server::mail::{Mailer, NotificationMailer, Security, Smtp, Transport, HOOK_NAME};
use serde_json::json;

/// One message the sink received: the envelope and the data.
#[derive(Debug, Clone)]
struct Received {
    from: String,
    to: Vec<String>,
    data: String,
}

/// A minimal SMTP server (RFC 5321's happy path) on a loopback port, one thread.
struct Sink {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Sink {
    fn start() -> Sink {
        Sink::on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    fn on(listener: TcpListener) -> Sink {
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let store = got.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let store = store.clone();
                std::thread::spawn(move || {
                    let _ = serve(conn, &store);
                });
            }
        });
        Sink { port, got }
    }

    fn messages(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

fn serve(conn: TcpStream, store: &Mutex<Vec<Received>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut out = conn.try_clone()?;
    let mut lines = BufReader::new(conn);
    out.write_all(b"220 sink.test ESMTP\r\n")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_owned();
        let upper = cmd.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            out.write_all(b"250-sink.test\r\n250 8BITMIME\r\n")?;
        } else if upper.starts_with("MAIL FROM:") {
            from = cmd[10..].trim().to_owned();
            out.write_all(b"250 ok\r\n")?;
        } else if upper.starts_with("RCPT TO:") {
            to.push(cmd[8..].trim().to_owned());
            out.write_all(b"250 ok\r\n")?;
        } else if upper == "DATA" {
            out.write_all(b"354 go ahead\r\n")?;
            let mut data = String::new();
            loop {
                line.clear();
                if lines.read_line(&mut line)? == 0 {
                    return Ok(());
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(&line);
            }
            store.lock().unwrap().push(Received {
                from: std::mem::take(&mut from),
                to: std::mem::take(&mut to),
                data,
            });
            out.write_all(b"250 queued\r\n")?;
        } else if upper == "QUIT" {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else if upper == "RSET" || upper == "NOOP" {
            out.write_all(b"250 ok\r\n")?;
        } else {
            out.write_all(b"502 not implemented\r\n")?;
        }
    }
}

fn smtp(port: u16) -> Transport {
    Transport::Smtp(Smtp {
        host: "127.0.0.1".into(),
        port,
        security: Security::None,
        credentials: None,
        timeout: Duration::from_secs(5),
    })
}

/// An engine with the shipped workflows, Chapter 12 and its people, the portal's mailer
/// attached, and `portal_url` defaulting to the portal's public address.
fn engine_with(transport: Transport) -> Arc<Engine> {
    let engine = Engine::builder()
        .in_memory()
        .workflows_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../workflows"))
        .clock(ManualClock::at("2026-11-20T14:00:00Z".parse().unwrap()))
        .setting_default("portal_url", json!("http://portal.test"))
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
        ("dan", "Dan Okafor", vec!["mentor"]),
    ] {
        let mut p = Person::new(id)
            .name(name)
            .org("ch12")
            .email(format!("{id}@ch12.example.org"));
        p.roles = roles.into_iter().map(String::from).collect();
        p.attributes
            .insert("classification".into(), json!("active"));
        engine.replace_person(&p).unwrap();
    }
    let engine = Arc::new(engine);
    let mut from_org = std::collections::BTreeMap::new();
    from_org.insert(
        "ch12".to_owned(),
        "SCORE Chapter 12 <chapter12@example.org>".to_owned(),
    );
    let mailer = Mailer::new(transport, "Portal <noreply@example.org>", &from_org).unwrap();
    NotificationMailer::attach(&engine, mailer);
    engine
}

fn submit(engine: &Engine) -> i64 {
    engine
        .start(
            "score_request",
            "submit",
            "pat",
            json!({"client_name": "Pat's Bakery", "request_details": "A loan."}),
        )
        .unwrap()
        .id
}

fn unpacked(data: &str) -> String {
    // quoted-printable or plain: join soft line breaks, decode the few escapes we look for
    data.replace("=\r\n", "").replace("=3D", "=")
}

#[test]
fn notifications_go_out_by_smtp_with_links_to_the_portal() {
    let sink = Sink::start();
    let engine = engine_with(smtp(sink.port));
    let id = submit(&engine);
    engine
        .act(id, "assign", "cody", json!({"mentor": "dan"}))
        .unwrap();

    let got = sink.messages();
    let to_cody: Vec<_> = got
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains("cody@ch12.example.org")))
        .collect();
    let to_dan: Vec<_> = got
        .iter()
        .filter(|m| m.to.iter().any(|t| t.contains("dan@ch12.example.org")))
        .collect();
    assert_eq!(
        to_cody.len(),
        1,
        "the coordinator hears of the request: {got:#?}"
    );
    assert_eq!(
        to_dan.len(),
        1,
        "the mentor hears of the assignment: {got:#?}"
    );
    let dan = unpacked(&to_dan[0].data);
    // the organisation's own sender, the rendered subject and body, the outbox id
    assert!(
        to_dan[0].from.contains("chapter12@example.org"),
        "{}",
        to_dan[0].from
    );
    assert!(
        dan.contains("From: \"SCORE Chapter 12\" <chapter12@example.org>")
            || dan.contains("From: SCORE Chapter 12 <chapter12@example.org>"),
        "{dan}"
    );
    assert!(
        dan.contains("To: \"Dan Okafor\" <dan@ch12.example.org>")
            || dan.contains("To: Dan Okafor <dan@ch12.example.org>"),
        "{dan}"
    );
    assert!(
        dan.contains(&format!("http://portal.test/requests/{id}")),
        "the link points to the portal's public address:\n{dan}"
    );
    let outbox = engine
        .notifications(&NotificationFilter {
            case_id: Some(id),
            ..Default::default()
        })
        .unwrap();
    let n = outbox.iter().find(|n| n.to == "dan").unwrap();
    assert!(
        dan.contains(&format!("Message-ID: <notification-{}@mentorflow>", n.id)),
        "{dan}"
    );
    assert!(dan.contains(&format!("Subject: {}", n.subject)), "{dan}");
    assert!(n.delivered_at.is_some() && n.last_error.is_none());
}

#[test]
fn a_mail_server_that_is_down_keeps_the_notification_until_it_is_back() {
    // a port with nobody listening: the connection is refused
    let spare = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = spare.local_addr().unwrap().port();
    drop(spare);
    let engine = engine_with(smtp(port));
    assert!(
        engine.consumers().contains(&HOOK_NAME.to_owned()),
        "{:?}",
        engine.consumers()
    );
    let id = submit(&engine);
    // the case itself went on
    assert_eq!(engine.get(id, None).unwrap().state, "submitted");
    let mine = DeliveryFilter {
        consumer: Some(HOOK_NAME.into()),
        case_id: Some(id),
        ..Default::default()
    };
    let failed = engine.deliveries(&mine).unwrap();
    assert_eq!(
        failed.len(),
        1,
        "one failed delivery for the portal's mailer: {failed:?}"
    );
    let d = &failed[0];
    assert_eq!(d.status, DeliveryStatus::Retry);
    assert_eq!(d.attempts, 1);
    let err = d.last_error.clone().unwrap_or_default();
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "the error names the server: {err}"
    );
    let next = d.next_attempt_at.expect("a retry is planned");

    // the server comes back on the same port; nothing is sent before the retry is due
    let sink = Sink::on(TcpListener::bind(("127.0.0.1", port)).unwrap());
    engine.tick().unwrap();
    assert!(sink.messages().is_empty(), "backing off: not yet");
    // the timer worker sleeps until then (next_due includes retries)
    let due = engine.next_due().unwrap().expect("something is due");
    assert!(due <= next, "{due} after the retry at {next}");
    let mut delivered = engine
        .advance_to(next + chrono::Duration::seconds(1))
        .unwrap()
        .delivered;
    delivered += engine.tick().unwrap().delivered;
    assert_eq!(delivered, 1);
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0].to[0].contains("cody@ch12.example.org"));
    assert!(unpacked(&got[0].data).contains(&format!(
        "Message-ID: <notification-{}@mentorflow>",
        d.outbox_id
    )));
    let all = DeliveryFilter { all: true, ..mine };
    assert_eq!(
        engine.deliveries(&all).unwrap()[0].status,
        DeliveryStatus::Delivered
    );
    // and it is not sent again
    engine.advance_by(chrono::Duration::hours(1)).unwrap();
    engine.tick().unwrap();
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn the_file_transport_writes_one_eml_per_notification() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with(Transport::File(dir.path().to_owned()));
    let id = submit(&engine);
    engine
        .act(id, "assign", "cody", json!({"mentor": "dan"}))
        .unwrap();
    let outbox = engine
        .notifications(&NotificationFilter {
            case_id: Some(id),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(outbox.len(), 2);
    let n = outbox.iter().find(|n| n.to == "dan").unwrap();
    let file = dir.path().join(format!("notification-{}.eml", n.id));
    let text = unpacked(&std::fs::read_to_string(&file).unwrap());
    assert!(text.contains("dan@ch12.example.org"), "{text}");
    assert!(
        text.contains(&format!("http://portal.test/requests/{id}")),
        "{text}"
    );
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        files.len(),
        2,
        "one file a notification, no temporary left behind"
    );
}

#[test]
fn a_sender_that_is_not_an_address_is_refused_naming_the_setting() {
    let e = Mailer::new(Transport::Log, "not an address", &Default::default()).unwrap_err();
    assert!(e.starts_with("mail.from:"), "{e}");
    let mut orgs = std::collections::BTreeMap::new();
    orgs.insert("ch12".to_owned(), "nope".to_owned());
    let e = Mailer::new(Transport::Log, "a@b.org", &orgs).unwrap_err();
    assert!(e.starts_with("mail.from_org.ch12:"), "{e}");
}

#[test]
fn an_organisations_own_portal_url_wins_over_the_portals_default() {
    let dir = tempfile::tempdir().unwrap();
    let engine = engine_with(Transport::File(dir.path().to_owned()));
    engine
        .replace_org(
            &Org::new("ch12")
                .name("SCORE Chapter 12")
                .timezone("America/New_York")
                .setting("portal_url", "https://ch12.example.org"),
        )
        .unwrap();
    let id = submit(&engine);
    engine
        .act(id, "assign", "cody", json!({"mentor": "dan"}))
        .unwrap();
    let n = engine
        .notifications(&NotificationFilter {
            case_id: Some(id),
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .find(|n| n.to == "dan")
        .unwrap();
    let text = unpacked(
        &std::fs::read_to_string(dir.path().join(format!("notification-{}.eml", n.id))).unwrap(),
    );
    assert!(
        text.contains(&format!("https://ch12.example.org/requests/{id}")),
        "{text}"
    );
    assert!(!text.contains("portal.test"), "{text}");
}
