//! `mentorflow bench`: the engine against the SQLite floor (the workloads live in the
//! `mentorflow-bench` crate).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::Ctx;
use crate::args::BenchArgs;
use crate::output::{self, CliError};

/// Exit status after Ctrl-C (128 + SIGINT), as shells report it.
const INTERRUPTED: i32 = 130;

pub fn run(ctx: &Ctx, a: &BenchArgs) -> Result<(), CliError> {
    let options = mentorflow_bench::Options {
        cases: a.cases.max(1),
        timers: a.timers.max(1),
        scale: a.scale,
        repeat: a.repeat.max(1),
        samples: a.samples.max(1),
        dir: a.dir.clone().unwrap_or_else(std::env::temp_dir),
        postgres: a.postgres.clone().filter(|u| !u.trim().is_empty()),
    };
    // Ctrl-C (or SIGTERM) removes the databases written so far before the process ends.
    let dir = options.dir.clone();
    ctrlc::set_handler(move || {
        let removed = mentorflow_bench::remove_files(&dir);
        eprintln!(
            "\nmentorflow bench: interrupted; removed {removed} file{} from {}",
            if removed == 1 { "" } else { "s" },
            dir.display()
        );
        std::process::exit(INTERRUPTED);
    })
    .map_err(|e| CliError::msg(format!("cannot watch for Ctrl-C: {e}")))?;
    let quiet = ctx.out.json;
    if !quiet {
        eprintln!(
            "mentorflow bench: {} steps; needs about {} of free disk in {} at most (this run's \
             largest database); the default run takes about 5 minutes. Ctrl-C stops and cleans up.",
            mentorflow_bench::steps(&options),
            megabytes(mentorflow_bench::estimated_disk_mb(&options)),
            options.dir.display()
        );
    }
    // A bar on a terminal; plain progress lines on a pipe or in a log; nothing with --json.
    let bar = ProgressBar::with_draw_target(
        Some(mentorflow_bench::steps(&options) as u64),
        if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let on_terminal = !quiet && !bar.is_hidden();
    if on_terminal {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    let mut started = false;
    let report = mentorflow_bench::run(&options, |step| {
        if started {
            bar.inc(1);
        }
        started = true;
        if on_terminal {
            bar.set_message(step.to_owned());
        } else if !quiet {
            eprintln!("  {step}");
        }
    });
    bar.finish_and_clear();
    let report =
        report.map_err(|e| CliError::coded("storage", format!("the benchmark failed: {e}")))?;
    if ctx.out.json {
        return ctx.out.print_json(&report);
    }
    let l = &report.lifecycle;
    let t = &report.timers;
    let mut rows = vec![
        vec![
            "lifecycle: SQL floor".to_owned(),
            format!("{:.0} steps/s", l.floor.per_sec),
            format!("{:.0} µs", l.floor.p50_us),
            format!("{:.0} µs", l.floor.p99_us),
            String::new(),
        ],
        vec![
            "lifecycle: minimal floor".to_owned(),
            format!("{:.0} steps/s", l.minimal.per_sec),
            format!("{:.0} µs", l.minimal.p50_us),
            format!("{:.0} µs", l.minimal.p99_us),
            String::new(),
        ],
        vec![
            "lifecycle: engine".to_owned(),
            format!("{:.0} steps/s", l.engine.per_sec),
            format!("{:.0} µs", l.engine.p50_us),
            format!("{:.0} µs", l.engine.p99_us),
            format!("{:.2} of the floor", l.ratio),
        ],
        vec![
            "lifecycle: engine / minimal".to_owned(),
            String::new(),
            String::new(),
            String::new(),
            format!("{:.2} of the minimal floor", l.minimal_ratio),
        ],
        vec![
            "timers: batched SQL floor".to_owned(),
            format!("{:.0} firings/s", t.batched_floor.per_sec),
            String::new(),
            String::new(),
            String::new(),
        ],
        vec![
            "timers: engine sweep".to_owned(),
            format!("{:.0} firings/s", t.engine.per_sec),
            String::new(),
            String::new(),
            format!("{:.2} of the floor", t.ratio),
        ],
    ];
    let r = &report.reads;
    rows.push(vec![
        format!("get beside {} writers", r.writers),
        format!("{:.0} steps/s written", r.write_steps_per_sec),
        format!("{:.3} ms", r.get_p50_ms),
        format!("{:.3} ms", r.get_p99_ms),
        String::new(),
    ]);
    if let Some(p) = &report.postgres {
        for (name, floor, engine, ratio, unit) in [
            (
                "postgres lifecycle, one client",
                &p.floor,
                &p.engine,
                p.ratio,
                "steps/s",
            ),
            (
                "postgres lifecycle, 16 clients",
                &p.concurrent_floor,
                &p.concurrent_engine,
                p.concurrent_ratio,
                "steps/s",
            ),
            (
                "postgres timers",
                &p.timers_floor,
                &p.timers_engine,
                p.timers_ratio,
                "firings/s",
            ),
        ] {
            rows.push(vec![
                format!("{name}: floor"),
                format!("{:.0} {unit}", floor.per_sec),
                String::new(),
                String::new(),
                String::new(),
            ]);
            rows.push(vec![
                format!("{name}: engine"),
                format!("{:.0} {unit}", engine.per_sec),
                String::new(),
                String::new(),
                format!("{ratio:.2} of the floor"),
            ]);
        }
    }
    let c = &report.concurrent;
    rows.push(vec![
        format!("lifecycle: {} threads at once", c.threads),
        format!("{:.0} steps/s", c.engine.per_sec),
        format!("{:.0} µs", c.engine.p50_us),
        format!("{:.0} µs", c.engine.p99_us),
        format!("{:.2}× the floor", c.ratio),
    ]);
    rows.push(vec![
        format!("get beside {} writers", c.threads),
        String::new(),
        format!("{:.3} ms", c.get_p50_ms),
        format!("{:.3} ms", c.get_p99_ms),
        format!("{:.2}× one thread", c.speedup),
    ]);
    if let Some(s) = &report.scale {
        for (name, p50, p99) in [
            ("view need_action", s.view_p50_ms, s.view_p99_ms),
            ("get", s.get_p50_ms, s.get_p99_ms),
            ("actions", s.actions_p50_ms, s.actions_p99_ms),
            ("act log_session", s.act_p50_ms, s.act_p99_ms),
        ] {
            rows.push(vec![
                format!("scale {}: {name}", s.cases),
                String::new(),
                format!("{p50:.3} ms"),
                format!("{p99:.3} ms"),
                String::new(),
            ]);
        }
        rows.push(vec![
            format!("scale {}: peak memory", s.cases),
            format!("{:.0} MB", s.peak_rss_mb),
            String::new(),
            String::new(),
            format!("loaded in {:.1} s", s.load_secs),
        ]);
    }
    rows.push(vec![
        "disk: largest database".to_owned(),
        megabytes(report.peak_disk_mb),
        String::new(),
        String::new(),
        String::new(),
    ]);
    output::print(&output::table(
        &["part", "throughput", "p50", "p99", "ratio"],
        &rows,
        &ctx.out,
    ));
    Ok(())
}

/// `12 MB`, `1.3 GB`.
fn megabytes(mb: f64) -> String {
    if mb >= 1000.0 {
        format!("{:.1} GB", mb / 1000.0)
    } else {
        format!("{mb:.0} MB")
    }
}
