//! Runs one part alone, for profilers: `valgrind --tool=callgrind target/release/profile 300 [engine|floor|minimal|timers|floor-timers]`.
fn main() -> mentorflow_bench::BenchResult<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let which = std::env::args().nth(2).unwrap_or_else(|| "engine".into());
    let dir = std::env::temp_dir();
    let (r, _) = match which.as_str() {
        "floor" => mentorflow_bench::floor_lifecycle(n, &dir)?,
        "minimal" => mentorflow_bench::minimal_lifecycle(n, &dir)?,
        "timers" => mentorflow_bench::engine_timers(n, &dir)?,
        "floor-timers" => mentorflow_bench::floor_timers(n, &dir)?,
        _ => mentorflow_bench::engine_lifecycle(n, &dir)?,
    };
    println!("{which}: {r:.0} steps/s");
    Ok(())
}
