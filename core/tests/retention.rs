//! Retention (issue 15): closed cases older than an organisation's period are exported with
//! their history, then purged or anonymised, each with an audit entry; open and recent cases
//! are untouched; a dry run changes nothing. Conformance suite: runs on PostgreSQL too
//! (tests/pg.sh).
#![allow(clippy::unwrap_used)]

mod support;

use chrono::Duration;
use mentorflow::{AuditFilter, Engine, ManualClock, OrgPatch, RETENTION_ACTION};
use serde_json::{json, Value};
use support::{assert_folds, err, people, t0, Fresh};

const FLOW: &str = r#"
workflow: intake
version: 1
roles:
  owner: {}
fields:
  client_name: { type: text }
  topic: { type: text }
templates:
  hello:
    subject: "Closed: ${fields.client_name}"
    body: "Dear ${fields.client_name}, your ${fields.topic} case is closed."
states:
  open: { label: Open }
  done: { label: Done, final: true }
actions:
  create:
    to: open
    by: owner
    inputs:
      name: { type: text }
    run: |
      assign("owner", actor.id);
      fields.client_name = inputs.name;
      fields.topic = "career";
  close:
    from: open
    to: done
    by: owner
    run: notify(actor.id, "hello")
"#;

fn start(e: &Engine, who: &str, name: &str) -> i64 {
    e.start_with(mentorflow::Start {
        workflow: "intake".into(),
        action: Some("create".into()),
        actor: who.into(),
        inputs: json!({ "name": name }).as_object().unwrap().clone(),
        ..Default::default()
    })
    .unwrap()
    .id
}

#[test]
fn closed_old_cases_are_exported_then_anonymised_or_purged() {
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("intake.yaml", FLOW)
        .clock(clock.clone())
        .actor("records-officer")
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    e.put_org(OrgPatch::new("ch1").setting(
        "retention",
        json!({ "after_days": 730, "then": "anonymise", "fields": ["client_name"] }),
    ))
    .unwrap();
    e.put_org(
        OrgPatch::new("ch2").setting("retention", json!({ "after_days": 730, "then": "purge" })),
    )
    .unwrap();
    // bad rules are refused, naming the setting
    let bad = err(e.put_org(OrgPatch::new("ch1").setting(
        "retention",
        json!({ "after_days": 730, "then": "anonymise" }),
    )));
    assert!(bad.to_string().contains("fields"), "{bad}");
    assert_eq!(
        err(e.put_org(OrgPatch::new("ch1").setting("retention", json!({ "then": "purge" }))))
            .code(),
        "validation"
    );

    let old = start(&e, "pat", "Secret Client");
    e.act(old, "close", "pat", json!({})).unwrap();
    let purged = start(&e, "zed", "Other Org Client");
    e.act(purged, "close", "zed", json!({})).unwrap();
    let open = start(&e, "pat", "Still Open");
    clock.advance(Duration::days(800));
    let recent = start(&e, "pat", "Recent Client");
    e.act(recent, "close", "pat", json!({})).unwrap();
    let open_before = e.get(open, None).unwrap();
    let recent_before = e.get(recent, None).unwrap();
    let old_before = e.get(old, None).unwrap();

    // dry run: the cases, nothing written, nothing changed
    let mut out = Vec::new();
    let dry = e.run_retention(true, &mut out, None).unwrap();
    assert!(out.is_empty());
    let got: Vec<(i64, &str)> = dry
        .cases
        .iter()
        .map(|c| (c.case, c.outcome.as_str()))
        .collect();
    assert_eq!(got, vec![(old, "would_anonymise"), (purged, "would_purge")]);
    assert_eq!(e.get(old, None).unwrap(), old_before);
    assert!(e.get(purged, None).is_ok());
    assert!(e
        .audit(&AuditFilter {
            kind: Some("retention".into()),
            ..AuditFilter::default()
        })
        .unwrap()
        .is_empty());

    // the real run: exported first, then changed
    let mut out = Vec::new();
    let done = e.run_retention(false, &mut out, None).unwrap();
    let got: Vec<(i64, &str)> = done
        .cases
        .iter()
        .map(|c| (c.case, c.outcome.as_str()))
        .collect();
    assert_eq!(got, vec![(old, "anonymised"), (purged, "purged")]);
    let lines: Vec<Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["case"]["id"], json!(purged));
    assert_eq!(
        lines[1]["case"]["data"]["client_name"],
        json!("Other Org Client")
    );
    assert_eq!(lines[1]["history"].as_array().unwrap().len(), 2);
    assert_eq!(
        lines[0]["case"]["data"]["client_name"],
        json!("Secret Client")
    );

    // purged: gone, with its history and outbox
    assert_eq!(err(e.get(purged, None)).code(), "not_found");
    assert!(e
        .notifications(&mentorflow::NotificationFilter {
            case_id: Some(purged),
            ..Default::default()
        })
        .unwrap()
        .is_empty());
    // anonymised: the field blanked in data, history and outbox; the rest kept; it folds
    let c = e.get(old, None).unwrap();
    assert!(!c.data.contains_key("client_name"));
    assert_eq!(c.data["topic"], json!("career"));
    assert_eq!(c.state, "done");
    let h = e.history(old, None).unwrap();
    assert_eq!(h.last().unwrap().action, RETENTION_ACTION);
    assert_eq!(h.last().unwrap().actor, "records-officer");
    let text = format!(
        "{h:?}{:?}",
        e.notifications(&mentorflow::NotificationFilter {
            case_id: Some(old),
            ..Default::default()
        })
        .unwrap()
    );
    assert!(!text.contains("Secret Client"), "{text}");
    assert!(text.contains("career"));
    assert_folds(&e, old);
    // open and recent cases untouched
    assert_eq!(e.get(open, None).unwrap(), open_before);
    assert_eq!(e.get(recent, None).unwrap(), recent_before);
    // an audit entry for each
    let log = e
        .audit(&AuditFilter {
            kind: Some("retention".into()),
            ..AuditFilter::default()
        })
        .unwrap();
    let kinds: Vec<(&str, &str, &str)> = log
        .iter()
        .map(|a| (a.kind.as_str(), a.actor.as_str(), a.subject.as_str()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (
                "retention.anonymise",
                "records-officer",
                &*format!("case:{old}")
            ),
            (
                "retention.purge",
                "records-officer",
                &*format!("case:{purged}")
            ),
        ]
    );
    // a second run finds nothing more to do (an anonymised case was changed just now)
    let mut out = Vec::new();
    assert!(e
        .run_retention(false, &mut out, None)
        .unwrap()
        .cases
        .is_empty());
    assert!(out.is_empty());
}

#[test]
fn the_retention_schedule_says_when_a_run_is_due_without_waiting() {
    use mentorflow::{RetentionSchedule, RetentionTimer};
    let at = |s: &str| -> chrono::DateTime<chrono::Utc> { s.parse().unwrap() };
    // once a day at 03:00 in Zurich (UTC+1 in winter, UTC+2 in summer)
    let daily = RetentionSchedule::parse(Some("03:00"), None, Some("Europe/Zurich")).unwrap();
    assert_eq!(
        daily.next_after(at("2026-11-20T10:00:00Z")),
        at("2026-11-21T02:00:00Z")
    );
    assert_eq!(
        daily.next_after(at("2026-11-20T01:59:00Z")),
        at("2026-11-20T02:00:00Z")
    );
    assert_eq!(
        daily.next_after(at("2026-07-01T12:00:00Z")),
        at("2026-07-02T01:00:00Z")
    );
    // 02:30 does not exist on the spring-forward day: the hour after it
    let gap = RetentionSchedule::parse(Some("02:30"), None, Some("Europe/Zurich")).unwrap();
    assert_eq!(
        gap.next_after(at("2026-03-28T12:00:00Z")),
        at("2026-03-29T01:30:00Z")
    );
    let mut t = RetentionTimer::new(daily, "unused");
    assert!(
        !t.due(at("2026-11-20T10:00:00Z")),
        "the first run is the next 03:00"
    );
    assert_eq!(t.next(), Some(at("2026-11-21T02:00:00Z")));
    assert!(!t.due(at("2026-11-21T01:59:59Z")));
    assert!(t.due(at("2026-11-21T02:00:00Z")));
    assert!(!t.due(at("2026-11-21T02:00:01Z")), "once a day");
    // a worker down for three days runs once when it is back, then keeps the time of day
    assert!(t.due(at("2026-11-24T09:00:00Z")));
    assert_eq!(t.next(), Some(at("2026-11-25T02:00:00Z")));

    let every = RetentionSchedule::parse(None, Some("6h"), None).unwrap();
    assert_eq!(every, RetentionSchedule::Every(6 * 3600));
    let mut t = RetentionTimer::new(every, "unused");
    assert!(
        t.due(at("2026-11-20T10:00:00Z")),
        "an interval runs at start"
    );
    assert!(!t.due(at("2026-11-20T15:59:59Z")));
    assert!(t.due(at("2026-11-20T16:00:00Z")));
    assert_eq!(
        RetentionSchedule::parse(None, Some("2 days"), None).unwrap(),
        RetentionSchedule::Every(2 * 86_400)
    );

    for (a, e, z, key) in [
        (Some("3am"), None, None, "retention.at"),
        (Some("03:00"), Some("1h"), None, "not both"),
        (None, None, None, "say when"),
        (None, Some("30s"), None, "shorter than a minute"),
        (None, Some("1 month"), None, "retention.every"),
        (None, Some("often"), None, "retention.every"),
        (
            Some("03:00"),
            None,
            Some("Mars/Olympus"),
            "retention.time_zone",
        ),
        (None, Some("1h"), Some("UTC"), "retention.time_zone"),
    ] {
        let m = RetentionSchedule::parse(a, e, z).unwrap_err();
        assert!(m.contains(key), "{m}");
    }
}

#[test]
fn a_scheduled_run_writes_a_synced_export_then_changes_each_case() {
    use mentorflow::{RetentionSchedule, RetentionTimer};
    let clock = ManualClock::at(t0());
    let e = Engine::builder()
        .fresh()
        .workflow_str("intake.yaml", FLOW)
        .clock(clock.clone())
        .build()
        .unwrap();
    e.put_people(&people()).unwrap();
    e.put_org(
        OrgPatch::new("ch1").setting("retention", json!({ "after_days": 30, "then": "purge" })),
    )
    .unwrap();
    let old = start(&e, "pat", "Old Client");
    e.act(old, "close", "pat", json!({})).unwrap();
    let open = start(&e, "pat", "Open Client");
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("retention");
    let mut timer = RetentionTimer::new(
        RetentionSchedule::parse(None, Some("1 day"), None).unwrap(),
        &exports,
    );
    assert!(timer.due(e.now()));
    assert!(
        timer.run(&e, Some("scheduler")).unwrap().is_none(),
        "nothing due yet: no file"
    );
    assert!(!exports.exists());

    clock.advance(Duration::days(31));
    assert!(timer.due(e.now()));
    let (path, report) = timer.run(&e, Some("scheduler")).unwrap().unwrap();
    assert_eq!(path.parent().unwrap(), exports);
    assert_eq!(report.cases.len(), 1);
    assert_eq!(report.cases[0].outcome, "purged");
    let text = std::fs::read_to_string(&path).unwrap();
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["case"]["id"], json!(old));
    assert_eq!(err(e.get(old, None)).code(), "not_found");
    assert!(e.get(open, None).is_ok(), "open cases are never touched");
    let audit = e.audit(&AuditFilter::default()).unwrap();
    assert!(audit
        .iter()
        .any(|a| a.actor == "scheduler" && a.subject == format!("case:{old}")));
    assert!(!timer.due(e.now()), "the next run is a day later");

    // an export that cannot be written changes nothing
    let again = start(&e, "pat", "Again");
    e.act(again, "close", "pat", json!({})).unwrap();
    clock.advance(Duration::days(31));
    let before = e.get(again, None).unwrap();
    let taken = dir.path().join("taken.jsonl");
    std::fs::write(&taken, "keep me\n").unwrap();
    assert_eq!(
        err(e.run_retention_to_file(&taken, None)).code(),
        "storage",
        "an existing file is never overwritten"
    );
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "keep me\n");
    assert!(
        err(e.run_retention_to_file(&dir.path().join("no/such/dir/x.jsonl"), None))
            .to_string()
            .contains("no/such/dir")
    );
    assert_eq!(e.get(again, None).unwrap(), before);
}
