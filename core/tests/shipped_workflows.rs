//! The shipped workflows in `workflows/` load, and their trickiest rules hold.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use mentorflow::{Engine, ManualClock};

fn workflows_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../workflows")
}

fn engine() -> (Engine, ManualClock) {
    let clock = ManualClock::at("2026-11-20T10:00:00Z".parse().unwrap());
    let engine = Engine::builder()
        .in_memory()
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
        ["agent_exception", "company_initiative", "engagement", "score_request"]
    );
}
