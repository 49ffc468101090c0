//! Tests of the scenario runner itself, on the fixture workflow in
//! `tests/fixtures/scenario/workflows`.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use mentorflow::scenario::{self, Report};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenario")
}

fn workflows() -> PathBuf {
    fixtures().join("workflows")
}

#[test]
fn the_fixture_story_passes() {
    let r = scenario::run_file(&fixtures().join("story.yaml"), &workflows());
    if let Some(f) = &r.failure {
        panic!("{f}");
    }
    assert!(r.passed);
}
