//! The portal load test runs end to end at a tiny size: both sizes measured, every kind of
//! request answered (any non-2xx fails the run), acts counted, memory read; bad options are
//! refused with a message naming the option.
#![allow(clippy::unwrap_used)]

use mentorflow_bench::portal_load::{render, run, LoadOptions};

#[test]
fn a_tiny_run_measures_pages_acts_and_memory_at_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let o = LoadOptions {
        small: 80,
        cases: 200,
        clients: 4,
        seconds: 0.3,
        lifecycle: 5,
        dir: dir.path().to_owned(),
    };
    let mut heard = Vec::new();
    let r = run(&o, |p| heard.push(p.to_owned())).unwrap();
    assert!(r.lifecycle_steps_per_sec > 0.0, "{r:?}");
    assert_eq!(
        r.sizes.iter().map(|s| s.cases).collect::<Vec<_>>(),
        vec![80, 200]
    );
    for s in &r.sizes {
        for (name, l) in [
            ("home", &s.home),
            ("view", &s.view),
            ("case", &s.case),
            ("act", &s.acts),
        ] {
            assert!(l.count > 0, "{name} at {}: {r:?}", s.cases);
            assert!(
                l.p50_ms > 0.0 && l.p50_ms <= l.p99_ms && l.p99_ms <= l.max_ms,
                "{name}: {l:?}"
            );
        }
        assert!(s.acts_per_sec > 0.0);
        assert!(s.rss_mb > 1.0, "{s:?}");
    }
    assert!(r.act_ratio > 0.0);
    assert!(
        heard.iter().any(|p| p.contains("loading 120 more cases")),
        "{heard:?}"
    );
    let text = render(&r);
    assert!(
        text.contains("200 cases") && text.contains("JSON acts"),
        "{text}"
    );
    // the database file is removed
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn options_that_do_not_hold_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    for (o, want) in [
        (
            LoadOptions {
                clients: 1,
                ..LoadOptions::default()
            },
            "--clients",
        ),
        (
            LoadOptions {
                small: 10,
                ..LoadOptions::default()
            },
            "--small",
        ),
        (
            LoadOptions {
                small: 9_000,
                cases: 5_000,
                ..LoadOptions::default()
            },
            "--small",
        ),
        (
            LoadOptions {
                seconds: 0.0,
                ..LoadOptions::default()
            },
            "--seconds",
        ),
    ] {
        let o = LoadOptions {
            dir: dir.path().to_owned(),
            ..o
        };
        let err = run(&o, |_| {}).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
    }
}
