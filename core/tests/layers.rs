//! The layering of the core (issue 13): the model sits below the engine and the store, the
//! store never imports from the engine, and the scripts' host functions reach storage only
//! through the store. Read from the sources, so a stray `use` fails here rather than in review.

use std::fs;
use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return out;
    }
    for entry in fs::read_dir(dir).expect("source directory") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// The `use` lines of a module tree that mention one of `forbidden` (doc comments aside).
fn offending(module: &str, forbidden: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module);
    let mut found = Vec::new();
    for file in sources(&root) {
        let text = fs::read_to_string(&file).expect("readable source");
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for f in forbidden {
                if code.contains(f) {
                    found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
                }
            }
        }
    }
    found
}

#[test]
fn the_model_imports_neither_engine_nor_store() {
    let found = offending("model.rs", &["crate::engine", "crate::store", "rusqlite"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_store_does_not_import_from_the_engine() {
    let found = offending("store", &["crate::engine", "super::super::engine"]);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn the_check_sees_an_import() {
    // the engine does use the store: the check finds such lines
    assert!(!offending("engine", &["crate::store"]).is_empty());
}

#[test]
fn scripts_and_the_directory_reach_storage_only_through_the_store() {
    for module in ["script_host.rs", "script.rs", "directory.rs"] {
        let found = offending(module, &["rusqlite", "Connection"]);
        assert!(found.is_empty(), "{found:#?}");
    }
}

/// The engine decides without SQL: no backend crate, no backend module, no statement text.
/// Everything it stores goes through the store's `Tx` trait.
#[test]
fn the_engine_holds_no_sql_and_no_backend() {
    let found = offending(
        "engine",
        &[
            "rusqlite",
            "postgres",
            "store::sqlite",
            "SELECT ",
            "INSERT ",
            "UPDATE ",
            "DELETE ",
            "json_extract",
        ],
    );
    // the query-plan test of the shipped views reads SQLite's plans on purpose
    let found: Vec<_> = found
        .into_iter()
        .filter(|l| !l.contains("views.rs") || !l.contains("sqlite"))
        .collect();
    assert!(found.is_empty(), "{found:#?}");
    for module in ["auth.rs", "replay.rs"] {
        let found = offending(module, &["rusqlite", "Connection", "store::sqlite"]);
        assert!(found.is_empty(), "{found:#?}");
    }
}
