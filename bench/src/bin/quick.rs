//! A quick lifecycle comparison for development: `cargo run --release -p mentorflow-bench --bin quick -- 2000`.
fn main() -> mentorflow_bench::BenchResult<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2000);
    let dir = std::env::temp_dir();
    for _ in 0..3 {
        let (f, _) = mentorflow_bench::floor_lifecycle(n, &dir)?;
        let (e, _) = mentorflow_bench::engine_lifecycle(n, &dir)?;
        println!(
            "floor {f:.0} steps/s  engine {e:.0} steps/s  ratio {:.2}",
            e / f
        );
    }
    Ok(())
}
