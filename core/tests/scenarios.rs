//! Runs every scenario of the repository (`tests/scenarios/*.yaml`) against the shipped
//! workflows (`workflows/`), prints every failure, and fails if any scenario failed.
//!
//! `cargo test -p mentorflow --test scenarios -- --nocapture` shows the per-file lines.

use std::path::{Path, PathBuf};

use mentorflow::scenario;

#[test]
fn every_repository_scenario_passes() {
    let core = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = core.parent().unwrap_or(core);
    let dir = repo.join("tests").join("scenarios");
    let workflows = repo.join("workflows");
    let files = match scenario::scenario_files(&dir) {
        Ok(files) => files,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    };
    if files.is_empty() {
        println!(
            "no scenario ran: {} holds no *.yaml scenario yet",
            dir.display()
        );
        return;
    }
    let paths: Vec<PathBuf> = vec![dir.clone()];
    let reports = scenario::run_paths(&paths, &workflows);
    assert_eq!(reports.len(), files.len(), "every file gives one report");
    let mut failed = Vec::new();
    for r in &reports {
        match &r.failure {
            None => println!("ok    {} — {} ({} steps)", r.file, r.name, r.steps_run),
            Some(f) => {
                println!("FAIL  {} — {}\n      {f}", r.file, r.name);
                failed.push(format!(
                    "{f}\n    file: {}\n    step: {} ({})\n    expected: {}\n    actual: {}",
                    f.file, f.step, f.label, f.expected, f.actual
                ));
            }
        }
    }
    let passed = reports.len() - failed.len();
    println!("{passed} of {} scenarios passed", reports.len());
    assert!(
        failed.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failed.len(),
        reports.len(),
        failed.join("\n\n")
    );
}
