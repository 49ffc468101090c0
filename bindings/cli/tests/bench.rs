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
        "/lifecycle/minimal_ratio",
        "/lifecycle/minimal/per_sec",
        "/timers/ratio",
        "/scale/view_p99_ms",
        "/scale/get_p99_ms",
        "/scale/act_p99_ms",
        "/scale/peak_rss_mb",
        "/concurrent/engine/per_sec",
        "/concurrent/ratio",
        "/concurrent/speedup",
        "/concurrent/get_p50_ms",
        "/concurrent/get_p99_ms",
        "/peak_disk_mb",
    ] {
        let x = v.pointer(path).and_then(|x| x.as_f64());
        assert!(x.is_some_and(|x| x > 0.0), "{path} missing or zero in {v}");
    }
    assert_eq!(v["concurrent"]["threads"], 8);
    assert!(v["concurrent"]["get_samples"].as_u64().unwrap() >= 1);
    // the benchmark cleans up its databases
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// Ctrl-C in the middle of a run removes the databases written so far and exits 130.
#[test]
fn ctrl_c_removes_the_benchmark_files() {
    let dir = tempfile::tempdir().unwrap();
    let bin = assert_cmd::cargo::cargo_bin("mentorflow");
    let child = std::process::Command::new(bin)
        .args([
            "bench", "--cases", "200000", "--timers", "50", "--scale", "0",
        ])
        .args(["--repeat", "1", "--dir"])
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the first database exists (the run is well under way), then interrupt.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 {
        assert!(std::time::Instant::now() < deadline, "no database appeared");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted; removed"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Before it starts, the run says how much disk it needs; at the end, how much it used.
#[test]
fn bench_says_how_much_disk_it_needs_and_used() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::cargo_bin("mentorflow")
        .unwrap()
        .args(["bench", "--cases", "20", "--timers", "50", "--scale", "400"])
        .args(["--repeat", "1", "--samples", "10", "--dir"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("of free disk in"), "{stderr}");
    assert!(stderr.contains("8 steps"), "{stderr}");
    for line in ["lifecycle: 8 threads at once", "get beside 8 writers"] {
        let l = stdout
            .lines()
            .find(|l| l.starts_with(line))
            .unwrap_or_else(|| panic!("{line} in {stdout}"));
        assert!(l.contains("ms") || l.contains("steps/s"), "{l}");
    }
    let disk = stdout
        .lines()
        .find(|l| l.starts_with("disk: largest database"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(disk.contains("MB"), "{disk}");
}
