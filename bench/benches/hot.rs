//! Criterion benchmarks of the hot paths: one `act` step, a `get`, and loading a definition.
use criterion::{criterion_group, criterion_main, Criterion};
use mentorflow::{Engine, ManualClock, Person};
use serde_json::json;

fn engine() -> Engine {
    let t0 = "2026-11-20T10:00:00Z".parse().expect("instant");
    let e = Engine::builder()
        .in_memory()
        .workflow_str("lifecycle.yaml", mentorflow_bench::WORKFLOW)
        .clock(ManualClock::at(t0))
        .build()
        .expect("engine");
    e.put_people(&[
        Person::new("cody").org("ch1").role("coordinator"),
        Person::new("alice")
            .org("ch1")
            .role("mentor")
            .attr("classification", "active"),
        Person::new("pat").org("ch1"),
    ])
    .expect("people");
    e
}

fn hot(c: &mut Criterion) {
    let e = engine();
    let case = e
        .start(
            "lifecycle",
            "submit",
            "pat",
            mentorflow_bench::client_data(1),
        )
        .expect("start");
    e.act(case.id, "assign", "cody", json!({"mentor": "alice"}))
        .expect("assign");
    e.act(case.id, "accept", "alice", json!({}))
        .expect("accept");
    c.bench_function("act log_session (in memory)", |b| {
        b.iter(|| {
            e.act(case.id, "log_session", "alice", json!({}))
                .expect("act")
        })
    });
    c.bench_function("get", |b| b.iter(|| e.get(case.id, None).expect("get")));
    c.bench_function("actions", |b| {
        b.iter(|| e.actions(case.id, "alice").expect("actions"))
    });
    c.bench_function("start (in memory)", |b| {
        b.iter(|| {
            e.start(
                "lifecycle",
                "submit",
                "pat",
                mentorflow_bench::client_data(2),
            )
            .expect("start")
        })
    });
    let scripts = mentorflow::script::Scripts::new(mentorflow::Limits::default());
    c.bench_function("load and validate the lifecycle definition", |b| {
        b.iter(|| {
            mentorflow::definition::load_str(mentorflow_bench::WORKFLOW, "lifecycle.yaml", &scripts)
                .expect("load")
        })
    });
}

criterion_group!(benches, hot);
criterion_main!(benches);
