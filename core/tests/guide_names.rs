//! The lists and reports the guides (shared/seeds) name exist in the shipped workflows under
//! the guides' own words: the portal shows a view's or export's `title`, so a mentor who reads
//! "select My Client Requests" finds exactly that.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use mentorflow::script::Scripts;
use mentorflow::Limits;

/// (workflow, "view" or "export", name in the definition, the guide's words, the seed).
const NAMED: &[(&str, &str, &str, &str, &str)] = &[
    // 001: "from the Home Page select My Client Requests"
    (
        "score_request",
        "view",
        "my_requests",
        "My Client Requests",
        "001",
    ),
    // 001: "click My Client Requests (Need Action)"
    (
        "score_request",
        "view",
        "need_action",
        "My Client Requests (Need Action)",
        "001",
    ),
    // 001: "My Client Request (Assigned/Not Counseled)" (the guide's singular is a slip: the
    // Home Page list it names is the one of "My Client Requests")
    (
        "score_request",
        "view",
        "assigned_not_counseled",
        "My Client Requests (Assigned/Not Counseled)",
        "001",
    ),
    // 001, 003: "the Client Intake Queue"
    (
        "score_request",
        "view",
        "intake_queue",
        "Client Intake Queue",
        "001",
    ),
    // 003: "click the My Team Client Requests"
    (
        "score_request",
        "view",
        "team_requests",
        "My Team Client Requests",
        "003",
    ),
    // 001: "Session Activity Report"
    (
        "score_request",
        "export",
        "session_activity",
        "Session Activity Report",
        "001",
    ),
    // 001's status table: "Clients Not Yet Reports" (assigned / contacted) and "Active Client List"
    (
        "score_request",
        "export",
        "cny_assigned",
        "Clients Not Yet Assigned",
        "001",
    ),
    (
        "score_request",
        "export",
        "cny_contacted",
        "Clients Not Yet Contacted",
        "001",
    ),
    (
        "score_request",
        "export",
        "active_client_list",
        "Active Client List",
        "001",
    ),
    // 000: "Your My Active Engagements dashlet"
    (
        "engagement",
        "view",
        "my_active_engagements",
        "My Active Engagements",
        "000",
    ),
    // 002: the two exports
    (
        "company_initiative",
        "export",
        "registrations",
        "Initiatives - Registrations follow-up",
        "002",
    ),
    (
        "company_initiative",
        "export",
        "participation_dates",
        "Initiatives - Participation dates follow-up",
        "002",
    ),
    // 004: the boxes
    ("agent_exception", "view", "outbox", "Outbox", "004"),
    ("agent_exception", "view", "inbox", "Inbox", "004"),
    ("agent_exception", "view", "public_box", "Public Box", "004"),
    ("agent_exception", "view", "todo_box", "To-Do Box", "004"),
    ("agent_exception", "view", "all_box", "All Box", "004"),
];

#[test]
fn every_list_and_report_a_guide_names_is_shipped_under_the_guides_words() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let scripts = Scripts::new(Limits::default());
    let defs = mentorflow::definition::load_dir(&root.join("workflows"), &scripts).unwrap();
    let mut wrong = Vec::new();
    for (wf, kind, name, words, seed) in NAMED {
        let def = defs.iter().find(|d| d.id == *wf).unwrap();
        let title = match *kind {
            "view" => def
                .views
                .iter()
                .find(|v| v.name == *name)
                .map(|v| v.title.clone()),
            _ => def
                .exports
                .iter()
                .find(|x| x.name == *name)
                .map(|x| x.title.clone()),
        };
        match title {
            Some(t) if t == *words => {}
            Some(t) => wrong.push(format!(
                "{wf} {kind} `{name}` is titled {t:?}, the guide {seed} says {words:?}"
            )),
            None => wrong.push(format!(
                "{wf} has no {kind} `{name}` ({words:?}, guide {seed})"
            )),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
