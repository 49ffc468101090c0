//! "Add a row" on a list of records (issue 12): a submit button, no JavaScript; the form
//! comes back with what was entered and one more blank row, and nothing is done.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use mentorflow::{Engine, Org, Person};
use mentorflow_server::{App, Config};
use serde_json::json;
use support::{get, post, send, session};

const FLOW: &str = r#"
workflow: sessions
version: 1
title: Sessions
roles:
  mentor: { directory: mentor }
states:
  open: {}
  done: { final: true }
actions:
  begin:
    to: open
    by: mentor
    inputs:
      planned:
        type: list
        label: Planned sessions
        max: 5
        of:
          fields:
            date: { type: date, required: true, label: Date }
            minutes: { type: int, required: true, label: Minutes }
  log:
    label: Log sessions
    from: open
    by: mentor
    inputs:
      sessions:
        type: list
        label: Sessions
        max: 4
        of:
          fields:
            date: { type: date, required: true, label: Date }
            minutes: { type: int, required: true, label: Minutes }
    run: 'fields.count = (fields.count ?? 0) + inputs.sessions.len();'
  finish: { from: open, to: done, by: mentor }
fields:
  count: { type: int, computed: true }
"#;

fn setup() -> (App, Arc<Engine>) {
    let e = Engine::builder()
        .in_memory()
        .workflow_str("sessions.yaml", FLOW)
        .build()
        .unwrap();
    e.replace_org(&Org::new("ch")).unwrap();
    e.replace_person(&Person::new("mia").name("Mia").org("ch").role("mentor"))
        .unwrap();
    let e = Arc::new(e);
    (App::new(e.clone(), Config::default()), e)
}

/// The names of the inputs of the form's rows, in order.
fn row_names(body: &str, prefix: &str) -> Vec<String> {
    body.match_indices(&format!("name=\"{prefix}."))
        .map(|(i, _)| {
            let rest = &body[i + 6..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .filter(|n| n.ends_with(".minutes"))
        .collect()
}

#[tokio::test]
async fn add_a_row_on_a_case_keeps_the_rows_and_adds_one_and_acts_not() {
    let (app, e) = setup();
    let case = e.start("sessions", "begin", "mia", json!({})).unwrap();
    let s = session(&e, "mia");
    let (status, _, page) = send(&app, get(&format!("/cases/{}", case.id), &s)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(row_names(&page, "sessions").len(), 3);
    assert!(page.contains("name=\"_more\" value=\"sessions\""), "{page}");
    // the form's default button comes before "Add a row", so Enter still sends the form
    let default = page.find("class=\"default-submit\"").unwrap();
    assert!(default < page.find("name=\"_more\"").unwrap());
    let rev = case.revision.to_string();
    let href = format!("/cases/{}/act/log", case.id);
    let (status, _, page) = send(
        &app,
        post(
            &href,
            &s,
            &[
                ("_revision", &rev),
                ("sessions.1.date", "2026-12-01"),
                ("sessions.1.minutes", "60"),
                ("sessions.2.date", ""),
                ("sessions.2.minutes", ""),
                ("sessions.3.date", "2026-12-03"),
                ("sessions.3.minutes", "45"),
                ("_more", "sessions"),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    // four rows now: the two filled in, kept, then blank ones; the form is open again
    assert_eq!(
        row_names(&page, "sessions"),
        [
            "sessions.1.minutes",
            "sessions.2.minutes",
            "sessions.3.minutes",
            "sessions.4.minutes"
        ]
    );
    assert!(
        page.contains("value=\"60\"") && page.contains("value=\"45\""),
        "{page}"
    );
    assert!(page.contains("value=\"2026-12-03\""), "{page}");
    // at the most rows the definition allows (max: 4) there is no more button
    assert!(
        !page.contains("name=\"_more\" value=\"sessions\""),
        "{page}"
    );
    // nothing was done
    assert_eq!(e.get(case.id, None).unwrap().revision, case.revision);
    assert!(e.history(case.id, None).unwrap().len() == 1);

    // the kept rows then submitted act as usual
    let (status, _, page) = send(
        &app,
        post(
            &href,
            &s,
            &[
                ("_revision", &rev),
                ("sessions.1.date", "2026-12-01"),
                ("sessions.1.minutes", "60"),
                ("sessions.2.date", "2026-12-03"),
                ("sessions.2.minutes", "45"),
                ("sessions.3.date", ""),
                ("sessions.4.minutes", ""),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    assert_eq!(e.get(case.id, None).unwrap().data["count"], json!(2));
}

#[tokio::test]
async fn add_a_row_on_a_start_form_starts_nothing() {
    let (app, e) = setup();
    let s = session(&e, "mia");
    let (status, _, page) = send(&app, get("/start/sessions/begin", &s)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(row_names(&page, "planned").len(), 3);
    let (status, _, page) = send(
        &app,
        post(
            "/start/sessions/begin",
            &s,
            &[
                ("planned.1.date", "2026-12-01"),
                ("planned.1.minutes", "30"),
                ("planned.2.minutes", ""),
                ("planned.3.minutes", ""),
                ("_more", "planned"),
            ],
            true,
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(row_names(&page, "planned").len(), 4);
    assert!(page.contains("value=\"30\""), "{page}");
    // one more is allowed (max: 5)
    assert!(page.contains("name=\"_more\" value=\"planned\""), "{page}");
    assert!(
        e.cases(&Default::default()).unwrap().is_empty(),
        "nothing started"
    );
}
