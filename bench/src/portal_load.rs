//! The portal under load on loopback (`portal-load`, issue 12's targets).
//!
//! One process: a [`mentorflow_server`] portal on `127.0.0.1:0` over a file database that is
//! bulk-loaded with cases of the lifecycle workflow ([`crate::WORKFLOW`], spread over its four
//! states and over `mentor_count(cases)` mentors, as in the scale part), and `clients`
//! concurrent HTTP/1.1 clients (hyper, kept-alive connections), each signed in as its own
//! person — client 0 the coordinator (whose Intake Queue holds a quarter of all cases), the
//! others mentors — with a browser session for pages and an API token for the JSON API.
//!
//! For each size (first `small` cases, then more rows are loaded up to `cases` while the same
//! server keeps running):
//! 1. **mixed**: every client loops over its home page (`/`), its view's list
//!    (`/views/lifecycle/need_action`, the coordinator's `intake_queue`), a case page of its
//!    own and a JSON act (`POST /api/cases/ID/actions/log_session`, a mentor's in-progress
//!    case; the coordinator loads a second page instead) for `seconds`; latency per page kind.
//! 2. **acts**: every mentor client only acts (JSON) for `seconds`: acts per second.
//! 3. the process's resident memory (`VmRSS`) afterwards: the server's (the clients' share
//!    is small and the same at both sizes).
//!
//! Before the HTTP parts, the in-process engine's lifecycle steps per second
//! ([`crate::engine_lifecycle`]) in the same run, to compare the HTTP act throughput with.
//! Any answer that is not 2xx is an error: the run fails with the first one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use mentorflow::{CredentialKind, Engine, Org};
use rusqlite::{params, Connection};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::{client_data, mentor_count, BenchResult, WORKFLOW};

/// What to run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadOptions {
    /// Cases at the first measurement.
    pub small: usize,
    /// Cases at the second (more rows loaded into the same database).
    pub cases: usize,
    /// Concurrent HTTP clients.
    pub clients: usize,
    /// Seconds of each timed part (mixed, acts) at each size.
    pub seconds: f64,
    /// Cases of the in-process lifecycle measured for comparison.
    pub lifecycle: usize,
    /// Folder for the database file.
    pub dir: PathBuf,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            small: 1_000,
            cases: 5_000,
            clients: 16,
            seconds: 5.0,
            lifecycle: 300,
            dir: std::env::temp_dir(),
        }
    }
}

/// Latency of one kind of request, ms.
#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    /// Requests measured.
    pub count: usize,
    /// Median.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

/// The figures at one size.
#[derive(Debug, Clone, Serialize)]
pub struct Size {
    /// Cases in the database.
    pub cases: usize,
    /// Seconds to bulk-load the rows added for this size.
    pub load_secs: f64,
    /// Home pages.
    pub home: Latency,
    /// View lists.
    pub view: Latency,
    /// Case pages.
    pub case: Latency,
    /// Every page together.
    pub pages: Latency,
    /// JSON acts during the mixed part.
    pub mixed_acts: Latency,
    /// JSON acts per second with only acts (the mentor clients).
    pub acts_per_sec: f64,
    /// Latency of those acts.
    pub acts: Latency,
    /// The process's resident memory after this size's parts, MB.
    pub rss_mb: f64,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// When it ran (UTC).
    pub date: String,
    /// The options.
    pub options: LoadOptions,
    /// The in-process engine's lifecycle steps per second, in this run.
    pub lifecycle_steps_per_sec: f64,
    /// The two sizes.
    pub sizes: Vec<Size>,
    /// HTTP acts/s at the larger size over the in-process lifecycle steps/s.
    pub act_ratio: f64,
    /// `/proc/loadavg` at the end (1, 5, 15 minutes).
    pub load_average: String,
}

fn t0_micros() -> i64 {
    1_795_168_800_000_000 // 2026-11-20T10:00:00Z
}

/// Add the cases `from..to` (0-based) to the database, as the scale part does: state
/// `i % 4`, mentor `(i / 4) % mentors`, one history event each, no timers.
fn load(path: &Path, from: usize, to: usize, mentors: usize) -> BenchResult<f64> {
    let started = Instant::now();
    let mut db = Connection::open(path)?;
    db.execute_batch("PRAGMA synchronous = OFF;")?;
    db.busy_timeout(Duration::from_secs(30))?;
    let tx = db.transaction()?;
    let at = t0_micros();
    if from == 0 {
        for m in 0..mentors {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO people (id, org, roles, attributes) VALUES (?1, 'ch1', '[\"mentor\"]', '{\"classification\":\"active\"}')",
            )?
            .execute(params![format!("mentor{m:02}")])?;
            tx.prepare_cached(
                "INSERT OR IGNORE INTO person_roles (org, role, person) VALUES ('ch1', 'mentor', ?1)",
            )?
            .execute(params![format!("mentor{m:02}")])?;
        }
    }
    let states = ["submitted", "assigned_pending", "in_progress", "complete"];
    for i in from..to {
        let state = states[i % 4];
        let mentor = format!("mentor{:02}", (i / 4) % mentors);
        let client = format!("client{:02}", i % 50);
        let mut data = client_data(i).as_object().cloned().unwrap_or_default();
        data.insert("contacted".into(), json!(i % 4 >= 2));
        data.insert("sessions".into(), json!(i64::from(i % 4 == 3)));
        let mut parts = Map::new();
        parts.insert("client".into(), json!([client]));
        if state != "submitted" {
            parts.insert("mentor".into(), json!([mentor]));
        }
        let when = at + i64::try_from(i).unwrap_or(i64::MAX);
        tx.prepare_cached(
            "INSERT INTO cases (id, workflow, version, org, state, open, data, participants, revision, created_at, updated_at)
             VALUES (?1, 'lifecycle', 1, 'ch1', ?2, ?3, ?4, ?5, 1, ?6, ?6)",
        )?
        .execute(params![
            i64::try_from(i + 1)?,
            state,
            state != "complete",
            Value::Object(data).to_string(),
            Value::Object(parts).to_string(),
            when
        ])?;
        let id = i64::try_from(i + 1)?;
        tx.prepare_cached(
            "INSERT INTO participants (person, role, case_id, since) VALUES (?2, 'client', ?1, ?3)",
        )?
        .execute(params![id, client, at])?;
        if state != "submitted" {
            tx.prepare_cached(
                "INSERT INTO participants (person, role, case_id, since) VALUES (?2, 'mentor', ?1, ?3)",
            )?
            .execute(params![id, mentor, at])?;
        }
        tx.prepare_cached(
            "INSERT INTO events (case_id, seq, at, actor, action, from_state, to_state, inputs, effects)
             VALUES (?1, 1, ?2, ?3, 'submit', NULL, ?4, '{}', '[]')",
        )?
        .execute(params![id, when, client, state])?;
    }
    tx.commit()?;
    // A bulk load is one big transaction: its WAL would hold every loaded page until a
    // checkpoint, and every read would search it (a running server never gets such a WAL
    // from its own small commits, which auto-checkpoint every 1,000 pages). Fold it into the
    // database file, as an operator's import would.
    db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
    Ok(started.elapsed().as_secs_f64())
}

/// This process's resident memory now, MB (Linux `VmRSS`; 0 elsewhere).
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn latency(mut lat: Vec<Duration>) -> Latency {
    lat.sort();
    let pick = |q: f64| {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 - 1.0) * q).round() as usize;
        lat[i.min(lat.len() - 1)].as_secs_f64() * 1e3
    };
    Latency {
        count: lat.len(),
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
        max_ms: lat.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
    }
}

/// One signed-in client.
#[derive(Clone)]
struct Person {
    id: String,
    cookie: String,
    token: String,
    /// The view its list page shows.
    view: &'static str,
    /// Case ids it may open; for mentors, their in-progress cases (acted on).
    cases: Vec<i64>,
    acts: bool,
}

type Http = Client<HttpConnector, Full<Bytes>>;

/// What a client measured: (kind, latency) per request.
type Samples = Vec<(&'static str, Duration)>;

async fn request(
    http: &Http,
    base: &str,
    p: &Person,
    method: Method,
    path: &str,
) -> BenchResult<Duration> {
    let mut req = Request::builder()
        .method(method.clone())
        .uri(format!("{base}{path}"));
    let body = if method == Method::POST {
        req = req
            .header("authorization", format!("Bearer {}", p.token))
            .header("content-type", "application/json");
        Full::new(Bytes::from_static(b"{\"inputs\": {}}"))
    } else {
        req = req.header("cookie", format!("mf_session={}", p.cookie));
        Full::new(Bytes::new())
    };
    let s = Instant::now();
    let r = http.request(req.body(body)?).await?;
    let status = r.status();
    let bytes = r.into_body().collect().await?.to_bytes();
    let took = s.elapsed();
    if !status.is_success() {
        return Err(format!(
            "{method} {path} as {} answered {status}: {}",
            p.id,
            String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
        )
        .into());
    }
    Ok(took)
}

async fn client(
    http: Http,
    base: String,
    p: Person,
    until: Instant,
    only_acts: bool,
) -> BenchResult<Samples> {
    let mut out = Vec::new();
    let mut k = 0usize;
    while Instant::now() < until {
        let case = p.cases[k % p.cases.len()];
        k += 1;
        if !only_acts {
            out.push(("home", request(&http, &base, &p, Method::GET, "/").await?));
            out.push((
                "view",
                request(
                    &http,
                    &base,
                    &p,
                    Method::GET,
                    &format!("/views/lifecycle/{}", p.view),
                )
                .await?,
            ));
            out.push((
                "case",
                request(&http, &base, &p, Method::GET, &format!("/cases/{case}")).await?,
            ));
        }
        if p.acts {
            let path = format!("/api/cases/{case}/actions/log_session");
            out.push(("act", request(&http, &base, &p, Method::POST, &path).await?));
        } else if !only_acts {
            out.push((
                "view",
                request(
                    &http,
                    &base,
                    &p,
                    Method::GET,
                    &format!("/views/lifecycle/{}?page=2", p.view),
                )
                .await?,
            ));
        }
    }
    Ok(out)
}

async fn timed(
    http: &Http,
    base: &str,
    people: &[Person],
    seconds: f64,
    only_acts: bool,
) -> BenchResult<(Samples, f64)> {
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(seconds);
    let mut tasks = Vec::new();
    for p in people.iter().filter(|p| !only_acts || p.acts) {
        tasks.push(tokio::spawn(client(
            http.clone(),
            base.to_owned(),
            p.clone(),
            until,
            only_acts,
        )));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| format!("a client failed: {e}"))??);
    }
    Ok((all, started.elapsed().as_secs_f64()))
}

fn of(samples: &Samples, kinds: &[&str]) -> Vec<Duration> {
    samples
        .iter()
        .filter(|(k, _)| kinds.contains(k))
        .map(|(_, d)| *d)
        .collect()
}

/// Run it. `progress` hears each part as it starts.
pub fn run(o: &LoadOptions, mut progress: impl FnMut(&str)) -> BenchResult<LoadReport> {
    let mentors = mentor_count(o.cases);
    if o.clients < 2 || o.clients > mentors + 1 {
        return Err(format!(
            "--clients must be from 2 to {} (the coordinator and one mentor each), got {}",
            mentors + 1,
            o.clients
        )
        .into());
    }
    if o.small < 4 * o.clients || o.small > o.cases {
        return Err(format!(
            "--small must be at least 4 cases per client ({}) and at most --cases ({}), got {}",
            4 * o.clients,
            o.cases,
            o.small
        )
        .into());
    }
    if !(o.seconds > 0.0 && o.seconds <= 600.0) {
        return Err(format!(
            "--seconds must be more than 0 and at most 600, got {}",
            o.seconds
        )
        .into());
    }

    progress(&format!(
        "in-process lifecycle: {} cases ({} steps)",
        o.lifecycle,
        o.lifecycle * crate::STEPS_PER_CASE
    ));
    let (lifecycle, _) = crate::engine_lifecycle(o.lifecycle.max(1), &o.dir)?;

    let path = o.dir.join(format!("{}portal.db", crate::file_prefix()));
    let _cleanup = Remove(path.clone());
    let engine = Engine::builder()
        .database(&path)
        .workflow_str("lifecycle.yaml", WORKFLOW)
        .build()?;
    engine.replace_org(
        &Org::new("ch1")
            .name("Chapter 1")
            .timezone("America/New_York"),
    )?;
    engine.put_people(&crate::people())?;
    progress(&format!("loading {} cases", o.small));
    let mut load_secs = load(&path, 0, o.small, mentors)?;

    // the clients: the coordinator, then mentors 0..clients-1, each signed in twice
    let mut people = Vec::new();
    for k in 0..o.clients {
        let id = if k == 0 {
            "cody".to_owned()
        } else {
            format!("mentor{:02}", k - 1)
        };
        let cookie = mentorflow_server::new_secret();
        let token = mentorflow_server::new_secret();
        let ttl = Some(chrono::Duration::hours(6));
        engine.create_credential(&cookie, CredentialKind::Session, &id, "load", ttl)?;
        engine.create_credential(&token, CredentialKind::ApiToken, &id, "load", ttl)?;
        people.push(Person {
            id,
            cookie,
            token,
            view: if k == 0 {
                "intake_queue"
            } else {
                "need_action"
            },
            cases: Vec::new(),
            acts: k > 0,
        });
    }
    let cases_of = |people: &mut Vec<Person>, n: usize| {
        for (k, p) in people.iter_mut().enumerate() {
            p.cases = if k == 0 {
                // submitted cases (state 0) spread over the database
                (0..64)
                    .map(|j| ((j * 7_919) % (n / 4)) * 4 + 1)
                    .map(|i| i as i64)
                    .collect()
            } else {
                // mentor m's in-progress cases: i = 4 (m + j·mentors) + 2
                let m = k - 1;
                (0..)
                    .map(|j| 4 * (m + j * mentors) + 2)
                    .take_while(|i| *i < n)
                    .map(|i| (i + 1) as i64)
                    .collect()
            };
        }
    };

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let app = mentorflow_server::App::new(Arc::new(engine), mentorflow_server::Config::default());
    let addr: SocketAddr = server_rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            if let Err(e) = mentorflow_server::serve(app, listener).await {
                eprintln!("portal-load: the server stopped: {e}");
            }
        });
        Ok::<_, std::io::Error>(addr)
    })?;
    let base = format!("http://{addr}");
    let http: Http = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(o.clients)
        .build_http();

    let mut sizes = Vec::new();
    for (n, added) in [(o.small, load_secs), (o.cases, 0.0)] {
        if n != o.small {
            progress(&format!("loading {} more cases (to {n})", n - o.small));
            load_secs = load(&path, o.small, n, mentors)?;
        } else {
            load_secs = added;
        }
        cases_of(&mut people, n);
        progress(&format!(
            "{n} cases: warming up, then {}s of pages and acts by {} clients",
            o.seconds, o.clients
        ));
        client_rt.block_on(timed(&http, &base, &people, o.seconds.min(1.0), false))?;
        let (mixed, _) = client_rt.block_on(timed(&http, &base, &people, o.seconds, false))?;
        progress(&format!(
            "{n} cases: {}s of JSON acts by {} clients",
            o.seconds,
            o.clients - 1
        ));
        let (acts, secs) = client_rt.block_on(timed(&http, &base, &people, o.seconds, true))?;
        sizes.push(Size {
            cases: n,
            load_secs,
            home: latency(of(&mixed, &["home"])),
            view: latency(of(&mixed, &["view"])),
            case: latency(of(&mixed, &["case"])),
            pages: latency(of(&mixed, &["home", "view", "case"])),
            mixed_acts: latency(of(&mixed, &["act"])),
            acts_per_sec: acts.len() as f64 / secs,
            acts: latency(of(&acts, &["act"])),
            rss_mb: rss_mb(),
        });
        if o.small == o.cases {
            break;
        }
    }
    drop(http);
    client_rt.shutdown_background();
    server_rt.shutdown_timeout(Duration::from_secs(5));
    let last = sizes.last().map_or(0.0, |s| s.acts_per_sec);
    Ok(LoadReport {
        date: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
        options: o.clone(),
        lifecycle_steps_per_sec: lifecycle,
        act_ratio: last / lifecycle,
        sizes,
        load_average: std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    })
}

/// Removes the database file and its WAL when dropped (also on an error).
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.0.display()));
        }
    }
}

/// The report as text.
pub fn render(r: &LoadReport) -> String {
    let mut s = format!(
        "portal load test, {} ({} clients, {}s per part; load average at the end {})\n",
        r.date, r.options.clients, r.options.seconds, r.load_average
    );
    s += &format!(
        "in-process engine lifecycle: {:.0} steps/s\n",
        r.lifecycle_steps_per_sec
    );
    for z in &r.sizes {
        s += &format!(
            "\n{} cases (loaded in {:.1}s), server RSS {:.0} MB\n",
            z.cases, z.load_secs, z.rss_mb
        );
        for (name, l) in [
            ("home page", &z.home),
            ("view list", &z.view),
            ("case page", &z.case),
            ("all pages", &z.pages),
            ("act (mixed)", &z.mixed_acts),
            ("act (only)", &z.acts),
        ] {
            s += &format!(
                "  {name:<12} {:>7} requests  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>7.2} ms\n",
                l.count, l.p50_ms, l.p99_ms, l.max_ms
            );
        }
        s += &format!("  JSON acts: {:.0}/s\n", z.acts_per_sec);
    }
    s += &format!(
        "\nHTTP acts / in-process lifecycle steps: {:.0}%\n",
        r.act_ratio * 100.0
    );
    s
}
