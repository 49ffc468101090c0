//! The concurrent part alone, beside the single-thread floor and engine it is set against:
//! `target/release/concurrent [cases] [repeat]`.
fn main() -> mentorflow_bench::BenchResult<()> {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (n, repeat) = (arg(1, 500), arg(2, 3));
    let dir = std::env::temp_dir();
    let mut floor = Vec::new();
    let mut single = Vec::new();
    for _ in 0..repeat {
        floor.push(mentorflow_bench::floor_lifecycle(n, &dir)?.0);
        single.push(mentorflow_bench::engine_lifecycle(n, &dir)?.0);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (f, s) = (median(&mut floor), median(&mut single));
    let as_throughput = |per_sec: f64| mentorflow_bench::Throughput {
        per_sec,
        runs: vec![per_sec],
        p50_us: 0.0,
        p99_us: 0.0,
    };
    let c = mentorflow_bench::concurrent::concurrent(
        n,
        2_000,
        repeat,
        &as_throughput(f),
        &as_throughput(s),
        &dir,
        |step| eprintln!("  {step}"),
    )?;
    println!("floor (1 thread): {f:.0} steps/s, runs {floor:.0?}");
    println!("engine (1 thread): {s:.0} steps/s, runs {single:.0?}");
    println!(
        "engine ({} threads): {:.0} steps/s, runs {:.0?}; {:.2}x the floor, {:.2}x one thread; step p50 {:.0} us p99 {:.0} us",
        c.threads, c.engine.per_sec, c.engine.runs, c.ratio, c.speedup, c.engine.p50_us, c.engine.p99_us
    );
    println!(
        "get beside them: p50 {:.3} ms, p99 {:.3} ms ({} samples)",
        c.get_p50_ms, c.get_p99_ms, c.get_samples
    );
    Ok(())
}
