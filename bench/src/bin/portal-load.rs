//! The portal under load on loopback (see `mentorflow_bench::portal_load`):
//!
//! ```text
//! cargo run --release -p mentorflow-bench --bin portal-load -- [--small N] [--cases N]
//!     [--clients N] [--seconds S] [--lifecycle N] [--dir DIR] [--json]
//! ```
//!
//! Defaults: 1,000 then 5,000 cases, 16 clients, 5 s per part. Issue 12's targets:
//! `--small 10000 --cases 100000`.
use mentorflow_bench::portal_load::{render, run, LoadOptions};

fn main() {
    let mut o = LoadOptions::default();
    let mut json = false;
    let mut args = std::env::args().skip(1);
    let fail = |m: String| -> ! {
        eprintln!("portal-load: {m}");
        std::process::exit(2)
    };
    while let Some(a) = args.next() {
        if a == "--json" {
            json = true;
            continue;
        }
        if a == "--help" || a == "-h" {
            println!("portal-load [--small N] [--cases N] [--clients N] [--seconds S] [--lifecycle N] [--dir DIR] [--json]");
            return;
        }
        let Some(v) = args.next() else {
            fail(format!("{a} needs a value"))
        };
        let num = |v: &str| -> usize {
            v.replace('_', "")
                .parse()
                .unwrap_or_else(|_| fail(format!("{a} must be a whole number, got \"{v}\"")))
        };
        match a.as_str() {
            "--small" => o.small = num(&v),
            "--cases" => o.cases = num(&v),
            "--clients" => o.clients = num(&v),
            "--lifecycle" => o.lifecycle = num(&v),
            "--seconds" => {
                o.seconds = v
                    .parse()
                    .unwrap_or_else(|_| fail(format!("--seconds must be a number, got \"{v}\"")))
            }
            "--dir" => o.dir = v.into(),
            other => fail(format!("unknown option {other} (try --help)")),
        }
    }
    match run(&o, |p| eprintln!("portal-load: {p}")) {
        Ok(r) => {
            if json {
                println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
            } else {
                print!("{}", render(&r));
            }
        }
        Err(e) => fail(e.to_string()),
    }
}
