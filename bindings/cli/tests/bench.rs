//! `mentorflow bench` runs every part at a tiny size and prints the figures the issue names.
#![allow(clippy::unwrap_used)]

use assert_cmd::Command;

#[test]
fn bench_json_has_every_figure() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("mentorflow")
        .unwrap()
        .args([
            "--json", "bench", "--cases", "20", "--timers", "50", "--scale", "400",
        ])
        .args(["--repeat", "1", "--samples", "10", "--dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for path in [
        "/lifecycle/ratio",
        "/timers/ratio",
        "/scale/view_p99_ms",
        "/scale/get_p99_ms",
        "/scale/act_p99_ms",
        "/scale/peak_rss_mb",
    ] {
        let x = v.pointer(path).and_then(|x| x.as_f64());
        assert!(x.is_some_and(|x| x > 0.0), "{path} missing or zero in {v}");
    }
    // the benchmark cleans up its databases
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}
