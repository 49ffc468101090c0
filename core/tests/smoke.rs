#![allow(clippy::unwrap_used)]
mod support;
use serde_json::json;

#[test]
fn a_request_runs_through_its_flow() {
    let (e, _clock) = support::engine();
    let c = e
        .start(
            "request",
            "submit",
            "pat",
            json!({"client_name": "Pat's Bakery"}),
        )
        .unwrap();
    assert_eq!(c.state, "submitted");
    assert_eq!(c.participant("client"), Some("pat"));
    let c = e
        .act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    assert_eq!(c.state, "pending");
    let n = e.notifications(&Default::default()).unwrap();
    assert_eq!(n.len(), 1);
    assert_eq!(n[0].subject, "New request from Pat's Bakery");
    assert!(n[0].body.contains("Hello Alice Mentor"), "{}", n[0].body);
    let err = e.act(c.id, "log_session", "alice", json!({})).unwrap_err();
    assert_eq!(err.code(), "guard_rejected", "{err}");
    let c = e
        .act(c.id, "accept", "alice", json!({"note": "Hi Pat"}))
        .unwrap();
    assert_eq!(c.state, "in_progress");
    assert_eq!(c.data["contacted"], json!(true));
    let c = e.act(c.id, "log_session", "alice", json!({})).unwrap();
    let c = e.act(c.id, "complete", "alice", json!({})).unwrap();
    assert_eq!(c.state, "complete");
    let h = e.history(c.id, None).unwrap();
    assert_eq!(h.len(), 5);
    let f = mentorflow::fold(&h).unwrap();
    assert!(f.matches(&e.get(c.id, None).unwrap()), "{f:?}");
}

#[test]
fn timers_fire_on_the_manual_clock() {
    let (e, _clock) = support::engine();
    let c = e
        .start("request", "submit", "pat", json!({"client_name": "X"}))
        .unwrap();
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    let r = e.advance("25h").unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    let r = e.advance("7 days").unwrap();
    assert_eq!(r.fired, 1, "{r:?}");
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.state, "submitted");
    assert_eq!(c.participant("mentor"), None);
}

#[test]
fn add_span_goes_back_with_a_negative_span() {
    let yaml = support::REQUEST.replace(
        "    run: fields.sessions += 1",
        "    run: |\n      fields.sessions += 1;\n      add_note(add_span(now, \"-7 days\"));",
    );
    let (e, _clock) = support::engine_for("request.yaml", &yaml);
    let c = e
        .start("request", "submit", "pat", json!({"client_name": "X"}))
        .unwrap();
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    e.act(c.id, "accept", "alice", json!({"note": "hi"}))
        .unwrap();
    e.act(c.id, "log_session", "alice", json!({})).unwrap();
    let notes = e.notes(c.id, None).unwrap();
    assert_eq!(notes.last().unwrap().1, "2026-11-13T10:00:00Z");
}

#[test]
fn computed_fields_cannot_be_given_at_start() {
    let yaml = support::REQUEST.replace(
        "  sessions: { type: int, default: 0, min: 0 }",
        "  sessions: { type: int, default: 0, min: 0, computed: true }",
    );
    let (e, _clock) = support::engine_for("request.yaml", &yaml);
    let err = e
        .start(
            "request",
            "submit",
            "pat",
            json!({"client_name": "X", "sessions": 5}),
        )
        .unwrap_err();
    assert!(
        matches!(&err, mentorflow::Error::Validation { field: Some(f), .. } if f == "fields.sessions"),
        "{err:?}"
    );
    assert!(err.to_string().contains("kept by the workflow"), "{err}");
    assert!(e.cases(&Default::default()).unwrap().is_empty());
    // the workflow's own scripts still set it
    let c = e
        .start("request", "submit", "pat", json!({"client_name": "X"}))
        .unwrap();
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    e.act(c.id, "accept", "alice", json!({"note": "hi"}))
        .unwrap();
    let c = e.act(c.id, "log_session", "alice", json!({})).unwrap();
    assert_eq!(c.data["sessions"], json!(1));
}
