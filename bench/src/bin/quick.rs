//! A quick run of every part for development:
//! `cargo run --release -p mentorflow-bench --bin quick -- CASES TIMERS SCALE`.
fn main() -> mentorflow_bench::BenchResult<()> {
    let arg = |i: usize, d: usize| -> usize {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(d)
    };
    let o = mentorflow_bench::Options {
        cases: arg(1, 2000),
        timers: arg(2, 20_000),
        scale: arg(3, 100_000),
        repeat: 1,
        samples: 500,
        dir: std::env::temp_dir(),
    };
    let r = mentorflow_bench::run(&o, |p| eprintln!("{p}"))?;
    println!("{}", serde_json::to_string_pretty(&r)?);
    Ok(())
}
