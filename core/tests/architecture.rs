//! ARCHITECTURE.md's description of the timer sweep matches the code: the batch size and
//! time the sweep uses, and how it fires (optimistically, then a savepoint per timer after a
//! failure). The constants are read from `engine/sweep.rs`, so a change there that the
//! document does not follow fails here.
#![allow(clippy::unwrap_used)]

use std::path::Path;

fn read(rel: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    std::fs::read_to_string(root.join(rel)).unwrap()
}

/// The number in `pub const NAME: TYPE = …N…;` of a source text.
fn constant(src: &str, name: &str) -> u64 {
    let line = src
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("pub const {name}:")))
        .unwrap_or_else(|| panic!("no `pub const {name}` in engine/sweep.rs"));
    let value = line.split('=').nth(1).unwrap();
    let digits: String = value
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(|c| c.is_ascii_digit() || *c == '_')
        .filter(|c| *c != '_')
        .collect();
    digits.parse().unwrap()
}

#[test]
fn the_timer_sweep_section_matches_the_sweep() {
    let sweep = read("core/src/engine/sweep.rs");
    let doc = read("ARCHITECTURE.md");
    let section = doc.split("## Timers\n").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    let flat = section.split_whitespace().collect::<Vec<_>>().join(" ");
    let batch = constant(&sweep, "BATCH");
    let time = constant(&sweep, "BATCH_TIME");
    assert!(
        sweep.contains(&format!("Duration::from_millis({time})")),
        "BATCH_TIME is no longer in milliseconds: update this test and ARCHITECTURE.md"
    );
    for words in [
        format!("at most {batch}"),
        format!("commits after {batch} firings or {time} ms"),
        "optimistically".to_owned(),
        "a savepoint per timer".to_owned(),
        "ORDER BY due_at, id".to_owned(),
        "fires exactly once".to_owned(),
    ] {
        assert!(
            flat.contains(&words),
            "ARCHITECTURE.md's Timers section does not say `{words}`:\n{flat}"
        );
    }
    // The code does what the document says.
    assert!(
        sweep.contains("fire_batch(engine, now, false)"),
        "the optimistic pass"
    );
    assert!(
        sweep.contains("fire_batch(engine, now, true)"),
        "the savepoint pass"
    );
    assert!(
        read("core/src/store/sqlite/mod.rs")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .contains("WHERE due_at <= ?1 AND case_id NOT IN (SELECT id FROM cases WHERE suspended IS NOT NULL) ORDER BY due_at, id"),
        "the due timers' query (a suspended case's timers wait)"
    );
}
