//! `store copy` round trips: a populated SQLite file, and what the engine shows of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;

use mentorflow::{Engine, ManualClock, NotificationFilter};
use serde_json::json;

/// An engine on `db` with the request workflow.
pub fn open(db: &str, clock: &ManualClock) -> Engine {
    Engine::builder()
        .database(db)
        .workflow_str("request.yaml", super::REQUEST)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// A file with cases in several states, histories, pending and fired timers, notifications
/// (one acknowledged) and the directory's people.
pub fn populate(path: &Path) -> ManualClock {
    let clock = ManualClock::at(super::t0());
    let e = open(&path.to_string_lossy(), &clock);
    e.put_people(&super::people()).unwrap();
    for n in 0..6 {
        let c = e
            .start(
                "request",
                "submit",
                "pat",
                json!({ "client_name": format!("Client {n}") }),
            )
            .unwrap();
        if n % 3 == 0 {
            continue; // submitted
        }
        e.act(c.id, "assign", "cody", json!({ "mentor": "alice" }))
            .unwrap();
        if n % 3 == 1 {
            continue; // pending, with its timers
        }
        e.act(c.id, "accept", "alice", json!({ "note": "hello" }))
            .unwrap();
        e.act(c.id, "log_session", "alice", json!({})).unwrap();
    }
    // the 24h reminders fire: notifications from timers
    e.advance("25h").unwrap();
    let first = e.notifications(&NotificationFilter::default()).unwrap()[0].id;
    e.ack(first).unwrap();
    clock
}

/// Everything the engine shows of a database: cases, histories, timers, notifications, people.
pub fn snapshot(e: &Engine) -> Vec<String> {
    let mut out = Vec::new();
    for c in e.cases(&Default::default()).unwrap() {
        out.push(format!("{c:?}"));
        out.push(format!("{:?}", e.history(c.id, None).unwrap()));
        out.push(format!("{:?}", e.timers(c.id).unwrap()));
    }
    out.push(format!(
        "{:?}",
        e.notifications(&NotificationFilter::default()).unwrap()
    ));
    out.push(format!("{:?}", e.people(None).unwrap()));
    out.push(format!("{:?}", e.orgs().unwrap()));
    out
}
