//! The shipped workflows in `workflows/` load, and their trickiest rules hold.
#![allow(clippy::unwrap_used)]

#[path = "support/backend.rs"]
mod backend;
use backend::Fresh;

use std::path::PathBuf;

use mentorflow::{Engine, ManualClock};

fn workflows_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workflows")
}

fn engine() -> (Engine, ManualClock) {
    let clock = ManualClock::at("2026-11-20T10:00:00Z".parse().unwrap());
    let engine = Engine::builder()
        .fresh()
        .workflows_dir(workflows_dir())
        .clock(clock.clone())
        .build()
        .unwrap_or_else(|e| panic!("the shipped workflows do not load:\n{e}"));
    (engine, clock)
}

#[test]
fn the_shipped_workflows_load() {
    let (e, _) = engine();
    let mut ids: Vec<String> = e.definitions().iter().map(|d| d.id.clone()).collect();
    ids.sort();
    assert_eq!(
        ids,
        [
            "agent_exception",
            "company_initiative",
            "engagement",
            "score_request"
        ]
    );
}

use mentorflow::{Org, Person};
use serde_json::json;

fn chapter(e: &Engine) {
    e.replace_org(
        &Org::new("ch12")
            .name("SCORE Chapter 12")
            .timezone("America/New_York")
            .holiday("2026-11-26".parse().unwrap()),
    )
    .unwrap();
    e.put_people(&[
        Person::new("pat").name("Pat Client").org("ch12"),
        Person::new("cody")
            .name("Cody Coordinator")
            .org("ch12")
            .role("coordinator"),
        Person::new("alice")
            .name("Alice Mentor")
            .org("ch12")
            .role("mentor")
            .attr("classification", "active"),
        Person::new("dan")
            .name("Dan Referred")
            .org("ch7")
            .role("mentor")
            .attr("classification", "active"),
        Person::new("sam")
            .name("Sam Expert")
            .org("ch12")
            .role("mentor")
            .attr("classification", "sme"),
    ])
    .unwrap();
}

fn notes_to(e: &Engine, case: i64, to: &str) -> Vec<mentorflow::Notification> {
    e.notifications(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|n| n.case_id == Some(case) && n.to == to)
        .collect()
}

#[test]
fn an_unanswered_request_returns_after_five_business_days_on_the_chapter_calendar() {
    let (e, _clock) = engine();
    chapter(&e);
    // Friday 2026-11-20 10:00 UTC = 05:00 in New York. Five business days, skipping the
    // weekend and Thanksgiving (Thursday 26), end on Monday 30 at 05:00 New York time.
    let c = e
        .start(
            "score_request",
            "submit",
            "pat",
            json!({"client_name": "Pat's Bakery"}),
        )
        .unwrap();
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    e.advance_to("2026-11-30T09:59:00Z".parse().unwrap())
        .unwrap();
    assert_eq!(e.get(c.id, None).unwrap().state, "assigned_pending");
    let reminders: Vec<String> = notes_to(&e, c.id, "alice")
        .into_iter()
        .map(|n| n.template)
        .collect();
    assert_eq!(
        reminders,
        [
            "request_assigned",
            "assignment_reminder",
            "assignment_second_reminder"
        ]
    );
    e.advance_to("2026-11-30T10:00:00Z".parse().unwrap())
        .unwrap();
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.state, "pending_reassignment");
    assert_eq!(c.participant("mentor"), None);
    assert_eq!(
        notes_to(&e, c.id, "cody").last().unwrap().template,
        "request_returned"
    );
    assert_eq!(
        notes_to(&e, c.id, "pat").last().unwrap().template,
        "client_delay"
    );
    assert_eq!(
        e.now(),
        "2026-11-30T10:00:00Z"
            .parse::<chrono::DateTime<chrono::Utc>>()
            .unwrap()
    );
}

#[test]
fn capacity_counts_the_last_seven_days_and_the_mentor_attribute_overrides_the_setting() {
    let (e, clock) = engine();
    chapter(&e);
    e.put_person(
        &Person::new("alice")
            .name("Alice Mentor")
            .org("ch12")
            .role("mentor")
            .attr("classification", "active")
            .attr("max_requests_per_week", 2),
    )
    .unwrap();
    let mut ids = Vec::new();
    for i in 0..3 {
        let c = e
            .start(
                "score_request",
                "submit",
                "pat",
                json!({"client_name": format!("C{i}")}),
            )
            .unwrap();
        ids.push(c.id);
    }
    e.act(ids[0], "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    e.act(ids[1], "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    let err = e
        .act(ids[2], "assign", "cody", json!({"mentor": "alice"}))
        .unwrap_err();
    assert_eq!(err.code(), "guard_rejected", "{err}");
    assert!(err.to_string().contains("at most 2 a week"), "{err}");
    assert_eq!(e.get(ids[2], None).unwrap().state, "submitted");
    // A week and a minute later the first two assignments no longer count.
    clock.advance(chrono::Duration::days(7) + chrono::Duration::minutes(1));
    e.act(ids[2], "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
}

#[test]
fn a_declined_referral_removes_access_and_tells_the_referring_mentor() {
    let (e, _) = engine();
    chapter(&e);
    let c = e
        .start(
            "score_request",
            "submit",
            "pat",
            json!({"client_name": "Pat's Bakery"}),
        )
        .unwrap();
    e.act(c.id, "assign", "cody", json!({"mentor": "alice"}))
        .unwrap();
    e.act(c.id, "accept", "alice", json!({"note": "Hello Pat"}))
        .unwrap();
    let err = e
        .act(
            c.id,
            "refer",
            "alice",
            json!({"mentor": "sam", "reason": "x"}),
        )
        .unwrap_err();
    assert_eq!(err.code(), "guard_rejected", "{err}");
    e.act(
        c.id,
        "refer",
        "alice",
        json!({"mentor": "dan", "reason": "secret reason"}),
    )
    .unwrap();
    let to_dan = notes_to(&e, c.id, "dan");
    assert_eq!(to_dan.len(), 1);
    assert!(
        !to_dan[0].body.contains("secret reason"),
        "{}",
        to_dan[0].body
    );
    assert!(e.get(c.id, Some("dan")).is_ok());
    e.act(
        c.id,
        "decline_referral",
        "dan",
        json!({"reason": "too busy"}),
    )
    .unwrap();
    assert_eq!(e.get(c.id, Some("dan")).unwrap_err().code(), "not_found");
    let to_alice = notes_to(&e, c.id, "alice");
    assert_eq!(to_alice.last().unwrap().template, "referral_declined");
    let c = e.get(c.id, None).unwrap();
    assert_eq!(c.data["referrals"]["dan"]["status"], json!("declined"));
}

#[test]
fn a_rejected_acceptance_leaves_a_denied_copy_in_both_boxes() {
    let (e, _) = engine();
    e.put_people(&[
        Person::new("ann").name("Ann").org("cc").role("agent"),
        Person::new("ben").name("Ben").org("cc").role("agent"),
    ])
    .unwrap();
    let data = json!({
        "mentoring_date": "2026-12-01", "exception_type": "Coaching",
        "start_time": "09:00", "end_time": "10:00", "description": "Call handling"
    });
    let c = e.start("agent_exception", "create", "ann", data).unwrap();
    e.act(c.id, "accept", "ben", json!({})).unwrap();
    e.act(c.id, "reject", "ann", json!({})).unwrap();
    let orig = e.get(c.id, None).unwrap();
    assert_eq!(orig.state, "pending");
    assert_eq!(orig.participant("mentor"), None);
    let copies: Vec<_> = e
        .cases(&Default::default())
        .unwrap()
        .into_iter()
        .filter(|x| x.parent == Some(c.id))
        .collect();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0].state, "denied");
    let inbox: Vec<i64> = e
        .view("inbox", "ben")
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert_eq!(inbox, [copies[0].id]);
    let outbox: Vec<i64> = e
        .view("outbox", "ann")
        .unwrap()
        .iter()
        .map(|x| x.id)
        .collect();
    assert!(outbox.contains(&c.id) && outbox.contains(&copies[0].id));
}
