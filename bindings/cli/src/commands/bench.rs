//! `mentorflow bench`: the engine against the SQLite floor (the workloads live in the
//! `mentorflow-bench` crate).

use super::Ctx;
use crate::args::BenchArgs;
use crate::output::{self, CliError};

pub fn run(ctx: &Ctx, a: &BenchArgs) -> Result<(), CliError> {
    let options = mentorflow_bench::Options {
        cases: a.cases.max(1),
        timers: a.timers.max(1),
        scale: a.scale,
        repeat: a.repeat.max(1),
        samples: a.samples.max(1),
        dir: a.dir.clone().unwrap_or_else(std::env::temp_dir),
    };
    let quiet = ctx.out.json;
    let report = mentorflow_bench::run(&options, |step| {
        if !quiet {
            eprintln!("  {step}");
        }
    })
    .map_err(|e| CliError::coded("storage", format!("the benchmark failed: {e}")))?;
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
            "lifecycle: engine".to_owned(),
            format!("{:.0} steps/s", l.engine.per_sec),
            format!("{:.0} µs", l.engine.p50_us),
            format!("{:.0} µs", l.engine.p99_us),
            format!("{:.2} of the floor", l.ratio),
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
    output::print(&output::table(
        &["part", "throughput", "p50", "p99", "ratio"],
        &rows,
        &ctx.out,
    ));
    Ok(())
}
