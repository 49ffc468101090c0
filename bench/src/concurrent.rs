//! The concurrent part: [`THREADS`] threads running the lifecycle at once on one engine (one
//! SQLite file), against the single-thread per-step floor of the same run; and `get` latency
//! from one more thread meanwhile (reads beside a write-heavy load).
//!
//! The engine serialises its steps on SQLite's one writer; what the threads gain is group
//! commit (several threads' steps in one transaction, see the core's `store::sqlite::group`)
//! and the work done outside the writer (the caller's side of each call, delivery after the
//! commit).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mentorflow::ManualClock;
use serde::Serialize;
use serde_json::json;

use super::{
    bench_engine, client_data, fresh, percentile, remove_db, t0, throughput, BenchResult,
    Throughput, STEPS_PER_CASE,
};

/// Writer threads in the concurrent part.
pub const THREADS: usize = 8;

/// The pause between two reads of the reading thread (it samples; it does not compete).
const READ_PAUSE: Duration = Duration::from_micros(200);

/// The concurrent part.
#[derive(Debug, Clone, Serialize)]
pub struct Concurrent {
    /// Writer threads.
    pub threads: usize,
    /// Lifecycle steps per second of all the threads together (each step's latency as its
    /// thread saw it).
    pub engine: Throughput,
    /// engine / the single-thread per-step SQL floor of the same run (`lifecycle.floor`).
    pub ratio: f64,
    /// engine / the single-thread engine of the same run (`lifecycle.engine`).
    pub speedup: f64,
    /// `get(case)` latency from one more thread meanwhile (median run).
    pub get_p50_ms: f64,
    /// p99.
    pub get_p99_ms: f64,
    /// How many `get` calls were timed (median run).
    pub get_samples: usize,
}

/// One run: `n` lifecycles over [`THREADS`] threads on one file engine, while one more thread
/// times `get` (up to `samples` calls). Returns (steps/s, step latencies, get latencies).
pub fn concurrent_lifecycle(
    n: usize,
    samples: usize,
    dir: &std::path::Path,
) -> BenchResult<(f64, Vec<Duration>, Vec<Duration>)> {
    let path = fresh(dir, "concurrent");
    let clock = ManualClock::at(t0());
    let e = bench_engine(&path, &clock)?;
    let preload = 100;
    let mut ids = Vec::with_capacity(preload);
    for i in 0..preload {
        ids.push(
            e.start(
                "lifecycle",
                "submit",
                &format!("client{:02}", i % 50),
                client_data(i),
            )?
            .id,
        );
    }
    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (e, done) = (e.clone(), done.clone());
        std::thread::spawn(move || -> BenchResult<Vec<Duration>> {
            let mut lat = Vec::with_capacity(samples);
            let mut i = 0;
            while !done.load(Ordering::Relaxed) && lat.len() < samples {
                let s = Instant::now();
                e.get(ids[i * 7919 % ids.len()], None)?;
                lat.push(s.elapsed());
                i += 1;
                std::thread::sleep(READ_PAUSE);
            }
            Ok(lat)
        })
    };
    let started = Instant::now();
    let writers: Vec<_> = (0..THREADS)
        .map(|w| {
            let e = e.clone();
            std::thread::spawn(move || -> BenchResult<Vec<Duration>> {
                let empty = json!({});
                let mut lat = Vec::with_capacity(n / THREADS * STEPS_PER_CASE + STEPS_PER_CASE);
                for i in (w..n).step_by(THREADS) {
                    let mentor = format!("mentor{:02}", i % 20);
                    let s = Instant::now();
                    let c = e.start(
                        "lifecycle",
                        "submit",
                        &format!("client{:02}", i % 50),
                        client_data(i),
                    )?;
                    lat.push(s.elapsed());
                    let s = Instant::now();
                    e.act(c.id, "assign", "cody", json!({ "mentor": mentor }))?;
                    lat.push(s.elapsed());
                    for action in ["accept", "log_session", "complete"] {
                        let s = Instant::now();
                        e.act(c.id, action, &mentor, empty.clone())?;
                        lat.push(s.elapsed());
                    }
                }
                Ok(lat)
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(n * STEPS_PER_CASE);
    let mut failed = None;
    for w in writers {
        match w.join().map_err(|_| "a writer thread panicked")? {
            Ok(mut l) => lat.append(&mut l),
            Err(err) => failed = failed.or(Some(err)),
        }
    }
    let secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let reads = reader.join().map_err(|_| "the reader thread panicked")??;
    if let Some(err) = failed {
        return Err(err);
    }
    drop(e);
    remove_db(&path);
    Ok(((n * STEPS_PER_CASE) as f64 / secs, lat, reads))
}

/// The part: `repeat` runs of [`concurrent_lifecycle`] (the median reported), set against the
/// single-thread floor and engine figures of the same run.
pub fn concurrent(
    n: usize,
    samples: usize,
    repeat: usize,
    floor: &Throughput,
    single: &Throughput,
    dir: &std::path::Path,
    mut progress: impl FnMut(&str),
) -> BenchResult<Concurrent> {
    let mut runs = Vec::new();
    let mut reads = Vec::new();
    for r in 0..repeat.max(1) {
        progress(&format!(
            "concurrent run {}/{}: {THREADS} threads and a reader",
            r + 1,
            repeat.max(1)
        ));
        let (per_sec, lat, mut get) = concurrent_lifecycle(n, samples, dir)?;
        get.sort();
        reads.push((per_sec, get));
        runs.push((per_sec, lat));
    }
    let engine = throughput(runs);
    // the reads of the median run
    reads.sort_by(|a, b| a.0.total_cmp(&b.0));
    let get = &reads[reads.len() / 2].1;
    Ok(Concurrent {
        threads: THREADS,
        ratio: engine.per_sec / floor.per_sec,
        speedup: engine.per_sec / single.per_sec,
        engine,
        get_p50_ms: percentile(get, 0.5) * 1e3,
        get_p99_ms: percentile(get, 0.99) * 1e3,
        get_samples: get.len(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn eight_threads_finish_every_lifecycle_and_the_reader_samples() {
        let dir = tempfile_dir();
        let (per_sec, lat, reads) = concurrent_lifecycle(24, 50, &dir).unwrap();
        assert!(per_sec > 0.0);
        assert_eq!(
            lat.len(),
            24 * STEPS_PER_CASE,
            "every step of every case timed"
        );
        assert!(!reads.is_empty() && reads.len() <= 50);
        assert_eq!(
            super::super::remove_files(&dir),
            0,
            "the run removed its database"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mentorflow-bench-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
