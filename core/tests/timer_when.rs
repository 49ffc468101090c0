//! Timers with a `when:` condition: checked when the timer is due; a false condition skips
//! the firing without a history event (a recurring check-in that speaks only when no meeting
//! was logged), and a bad condition is a load error at its line.
#![allow(clippy::unwrap_used)]
mod support;

use chrono::Duration;
use serde_json::json;
use support::{assert_folds, engine_for, line_of, problems_of};

const CHECKIN: &str = r#"
workflow: checkin
version: 1
roles:
  owner: {}
fields:
  meetings: { type: int, default: 0 }
  quiet: { type: bool, default: false }
templates:
  nudge: { subject: "No meeting yet", body: "Log a meeting." }
states:
  open:
    label: Open
    timers:
      - name: weekly_checkin
        every: 1 week
        when: 'fields.meetings == 0'
        run: notify(case.owner, "nudge")
      - name: close_quiet
        after: 10 days
        when: fields.quiet
        action: close
  closed: { label: Closed, final: true }
actions:
  create:
    to: open
    by: owner
    run: assign("owner", actor.id)
  meet:
    from: open
    by: owner
    run: fields.meetings += 1
  hush:
    from: open
    by: owner
    run: fields.quiet = true
  close: { from: open, to: closed, by: [owner, system] }
"#;

#[test]
fn a_false_condition_skips_the_firing_without_an_event() {
    let (e, _clock) = engine_for("checkin.yaml", CHECKIN);
    let c = e.start("checkin", "create", "pat", json!({})).unwrap();
    // week 1: no meeting yet → the check-in speaks
    let r = e.advance_by(Duration::days(7)).unwrap();
    assert_eq!(r.fired, 1);
    let nudges = |e: &mentorflow::Engine| {
        e.notifications(&Default::default())
            .unwrap()
            .iter()
            .filter(|n| n.template == "nudge")
            .count()
    };
    assert_eq!(nudges(&e), 1);
    assert_eq!(e.history(c.id, None).unwrap().len(), 2);
    e.act(c.id, "meet", "pat", json!({})).unwrap();
    // week 2 and 3: a meeting was logged → silent, no event, but the timer stays
    let r = e.advance_by(Duration::days(14)).unwrap();
    assert_eq!(r.fired, 0, "{r:?}");
    assert_eq!(nudges(&e), 1);
    let h = e.history(c.id, None).unwrap();
    assert_eq!(h.len(), 3, "no history event for a skipped firing: {h:#?}");
    let timers = e.timers(c.id).unwrap();
    let weekly = timers.iter().find(|t| t.name == "weekly_checkin").unwrap();
    assert!(
        weekly.due_at > e.now(),
        "the recurring timer waits for its next period: {weekly:?} now {}",
        e.now()
    );
    // day 10's close_quiet was skipped (not quiet) and is gone: it does not fire later
    assert!(timers.iter().all(|t| t.name != "close_quiet"), "{timers:?}");
    e.act(c.id, "hush", "pat", json!({})).unwrap();
    e.advance_by(Duration::days(30)).unwrap();
    assert_eq!(
        e.get(c.id, None).unwrap().state,
        "open",
        "close_quiet already passed"
    );
    assert_folds(&e, c.id);
}

#[test]
fn a_true_condition_fires_the_action() {
    let (e, _clock) = engine_for("checkin.yaml", CHECKIN);
    let c = e.start("checkin", "create", "pat", json!({})).unwrap();
    e.act(c.id, "hush", "pat", json!({})).unwrap();
    e.advance_by(Duration::days(10)).unwrap();
    let case = e.get(c.id, None).unwrap();
    assert_eq!(case.state, "closed");
    let last = e.history(c.id, None).unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.actor.as_str()),
        ("close", "system")
    );
}

#[test]
fn a_bad_condition_is_reported_at_its_line() {
    let text = CHECKIN
        .replace(
            "when: 'fields.meetings == 0'",
            "when: 'fields.meetngs == 0'",
        )
        .replace("when: fields.quiet", "when: 'fields.quiet &&'");
    let problems = problems_of("checkin.yaml", &text);
    let got: Vec<(usize, String)> = problems
        .iter()
        .map(|p| (p.line, p.message.clone()))
        .collect();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(got[0].0, line_of(&text, "fields.meetngs"), "{got:#?}");
    assert!(
        got[0].1.contains("meetngs") && got[0].1.contains("did you mean `meetings`"),
        "{got:#?}"
    );
    assert_eq!(got[1].0, line_of(&text, "fields.quiet &&"), "{got:#?}");
    // a condition that changes the case fails the firing, which changes nothing
    let text = CHECKIN.replace(
        "when: fields.quiet",
        "when: 'notify(case.owner, \"nudge\")'",
    );
    let (e, _clock) = engine_for("checkin.yaml", &text);
    let c = e.start("checkin", "create", "pat", json!({})).unwrap();
    let r = e.advance_by(Duration::days(10)).unwrap();
    assert_eq!(r.failed.len(), 1, "{r:?}");
    assert!(
        r.failed[0].contains("close_quiet") && r.failed[0].contains("`notify`"),
        "{r:?}"
    );
    let h = e.history(c.id, None).unwrap();
    assert_eq!(
        h.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["create", "timer:weekly_checkin"],
        "only the weekly check-in of day 7"
    );
    assert_eq!(e.get(c.id, None).unwrap().state, "open");
}
