//! Replay: recorded histories re-run against a version on a scratch engine.
#![allow(clippy::unwrap_used)]

mod support;

use mentorflow::{DivergenceKind, Engine, ManualClock, ReplayOutcome};
use serde_json::json;
use support::{people, snapshot, t0, REQUEST};

/// Version 2 of the request flow: the reminder uses another template, `decline` closes the
/// case, and `accept` wants a longer note.
fn v2() -> String {
    REQUEST
        .replace("version: 1", "version: 2")
        .replace(
            r#"run: notify(case.mentor, "reminder")"#,
            r#"run: notify(case.mentor, "assigned")"#,
        )
        .replace(
            "    from: pending\n    to: submitted\n    by: mentor",
            "    from: pending\n    to: complete\n    by: mentor",
        )
        .replace(
            "      note: { type: text, required: true }",
            "      note: { type: text, required: true, min_length: 20 }",
        )
}

#[test]
fn an_identical_version_reproduces_every_case_and_a_changed_one_diverges_where_it_differs() {
    let (dir, db) = support::temp_db();
    let clock = ManualClock::at(t0());
    // Record on v1 only.
    {
        let engine = Engine::builder()
            .database(&db)
            .workflow_str("request.yaml", REQUEST)
            .clock(clock.clone())
            .build()
            .unwrap();
        engine.put_people(&people()).unwrap();
        let a = engine
            .start("request", "submit", "pat", json!({ "client_name": "A" }))
            .unwrap();
        engine
            .act(a.id, "assign", "cody", json!({ "mentor": "alice" }))
            .unwrap();
        let b = engine
            .start("request", "submit", "pat", json!({ "client_name": "B" }))
            .unwrap();
        engine
            .act(b.id, "assign", "cody", json!({ "mentor": "alice" }))
            .unwrap();
        clock.advance(chrono::Duration::hours(2));
        engine
            .act(b.id, "decline", "alice", json!({ "reason": "too busy" }))
            .unwrap();
        // The reminder of case a fires at 24h.
        engine.advance("25h").unwrap();
        engine
            .act(a.id, "accept", "alice", json!({ "note": "Hi" }))
            .unwrap();
        let c = engine
            .start("request", "submit", "pat", json!({ "client_name": "C" }))
            .unwrap();
        engine
            .act(c.id, "assign", "cody", json!({ "mentor": "alice" }))
            .unwrap();
        let r = engine.replay("request", 1, None).unwrap();
        assert_eq!(
            (r.identical, r.diverged, r.not_replayable),
            (3, 0, 0),
            "{r:#?}"
        );
        assert!(r
            .cases
            .iter()
            .all(|c| c.outcome == ReplayOutcome::Identical && c.matched == c.events));
        assert_eq!(r.cases[0].events, 4, "{r:#?}");
    }
    // Deploy v2 next to v1; replay the v1 cases against it.
    let engine = Engine::builder()
        .database(&db)
        .workflow_str("request.yaml", REQUEST)
        .workflow_str("request-v2.yaml", v2())
        .clock(clock.clone())
        .build()
        .unwrap();
    let before: Vec<_> = (1..=3).map(|id| snapshot(&engine, id)).collect();
    let r = engine.replay("request", 2, None).unwrap();
    assert_eq!(r.version, 2);
    assert_eq!(
        (r.identical, r.diverged, r.not_replayable),
        (1, 2, 0),
        "{r:#?}"
    );
    // Case 1: the reminder (event 3, by the timer) notifies with another template.
    let a = &r.cases[0];
    assert_eq!(a.case, 1);
    assert_eq!(a.outcome, ReplayOutcome::Diverged);
    let d = a.divergence.as_ref().unwrap();
    assert_eq!(d.kind, DivergenceKind::Notifications, "{d}");
    assert_eq!(d.seq, 3, "{d}");
    assert_eq!(d.actor, "system");
    assert_eq!(d.action, "timer:reminder_24h");
    assert_eq!(d.recorded, "reminder to alice");
    assert_eq!(d.replayed, "assigned to alice");
    assert_eq!(a.matched, 2);
    // Case 2: decline now leads to another state.
    let b = r.cases[1].divergence.as_ref().unwrap();
    assert_eq!(b.kind, DivergenceKind::State, "{b}");
    assert_eq!(b.action, "decline");
    assert_eq!(
        (b.recorded.as_str(), b.replayed.as_str()),
        ("state `submitted`", "state `complete`")
    );
    // Case 3 never reached what changed.
    assert_eq!(r.cases[2].outcome, ReplayOutcome::Identical);
    // Only the chosen cases; nothing in the real store changed.
    let only = engine.replay("request", 2, Some(&[3])).unwrap();
    assert_eq!((only.identical, only.cases.len()), (1, 1));
    let after: Vec<_> = (1..=3).map(|id| snapshot(&engine, id)).collect();
    assert_eq!(before, after);
    drop(dir);
}

#[test]
fn a_command_the_version_refuses_is_reported_with_the_reason() {
    let (dir, db) = support::temp_db();
    let clock = ManualClock::at(t0());
    {
        let e1 = Engine::builder()
            .database(&db)
            .workflow_str("request.yaml", REQUEST)
            .clock(clock.clone())
            .build()
            .unwrap();
        e1.put_people(&people()).unwrap();
        let a = e1
            .start("request", "submit", "pat", json!({ "client_name": "A" }))
            .unwrap();
        e1.act(a.id, "assign", "cody", json!({ "mentor": "alice" }))
            .unwrap();
        e1.act(a.id, "accept", "alice", json!({ "note": "short" }))
            .unwrap();
    }
    let e2 = Engine::builder()
        .database(&db)
        .workflow_str("request.yaml", REQUEST)
        .workflow_str("request-v2.yaml", v2())
        .clock(clock)
        .build()
        .unwrap();
    let r = e2.replay("request", 2, None).unwrap();
    let d = r.cases[0].divergence.as_ref().unwrap();
    assert_eq!(d.kind, DivergenceKind::Refused, "{d}");
    assert_eq!(d.seq, 3);
    assert!(d.replayed.starts_with("refused (validation): "), "{d}");
    assert!(d.replayed.contains("note"), "{d}");
    // Unknown versions and cases of another workflow are errors.
    assert!(e2.replay("request", 9, None).is_err());
    assert!(e2.replay("nope", 1, None).is_err());
    drop(dir);
}
