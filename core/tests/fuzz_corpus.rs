//! The definition fuzz target on a stable toolchain.
//!
//! `fuzz/fuzz_targets/definitions.rs` (cargo-fuzz, libFuzzer) feeds any text to the loader and
//! validator: it must give a definition or a list of problems, never a panic or another
//! error. Here the same check
//!
//! - replays every file of `fuzz/corpus/definitions/` and `fuzz/regressions/definitions/`
//!   (inputs that once crashed, kept as regression tests), and
//! - runs a seeded mutation fuzzer: the corpus, the shipped workflows and the test fixtures,
//!   mutated by byte flips, cuts, duplications, splices, YAML and rhai tokens, deep nesting
//!   and indentation changes. The short run does [`SHORT_ITERATIONS`]; `MF_LONG=1` (or
//!   `MF_FUZZ_ITERATIONS=N`) runs long, and writes each input to `fuzz/artifacts/current.yaml`
//!   first, so that an abort (a stack overflow cannot be caught) leaves the input behind.
//!   A panicking input is saved to `fuzz/regressions/definitions/`.
#![allow(clippy::unwrap_used)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use mentorflow::definition::load_str;
use mentorflow::script::Scripts;
use mentorflow::{Error, Limits};

const SHORT_ITERATIONS: usize = 800;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The fuzz target's check: `Ok(true)` loaded, `Ok(false)` refused with problems, `Err` a
/// failure.
fn check(scripts: &Scripts, text: &str) -> Result<bool, String> {
    let r = catch_unwind(AssertUnwindSafe(|| {
        match load_str(text, "fuzz.yaml", scripts) {
            Ok(def) => {
                let _ = mentorflow::graph::render(&def, mentorflow::graph::Format::Mermaid, None);
                Ok(true)
            }
            Err(Error::Definition { problems }) if !problems.is_empty() => {
                for p in &problems {
                    if p.line == 0 || p.column == 0 || p.message.is_empty() {
                        return Err(format!("a problem without a place or a message: {p:?}"));
                    }
                }
                Ok(false)
            }
            Err(other) => Err(format!("not a definition error: {other:?}")),
        }
    }));
    match r {
        Ok(r) => r,
        Err(panic) => Err(format!(
            "panic: {}",
            panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default()
        )),
    }
}

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && matches!(p.extension().and_then(|x| x.to_str()), Some("yaml" | "yml"))
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn the_corpus_and_every_regression_load_or_fail_cleanly() {
    let scripts = Scripts::new(Limits::default());
    let mut n = 0;
    for dir in ["fuzz/corpus/definitions", "fuzz/regressions/definitions"] {
        for f in files(&root().join(dir)) {
            let bytes = std::fs::read(&f).unwrap();
            let text = String::from_utf8_lossy(&bytes);
            if let Err(m) = check(&scripts, &text) {
                panic!("{}: {m}", f.display());
            }
            n += 1;
        }
    }
    assert!(n >= 20, "the corpus is there ({n} files)");
}

// ---- the mutation fuzzer ------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Pieces of the language and of YAML worth inserting.
const TOKENS: &[&str] = &[
    ": ",
    "- ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "&a ",
    "*a",
    "<<: ",
    "!!str ",
    "!!binary ",
    "!custom ",
    "|\n",
    ">-\n",
    "\t",
    "\n  ",
    "\n",
    "'",
    "\"",
    "#",
    "%YAML 1.2\n",
    "---\n",
    "...\n",
    "?",
    "${",
    "}",
    "`",
    "fn f(x) { f(x) }",
    "loop {}",
    "while true {}",
    "0..",
    "#{",
    "()",
    "??",
    "?.",
    "::",
    "this",
    "eval(\"1\")",
    "import \"x\";",
    "fields.",
    "case.",
    "inputs.",
    "settings.",
    "actor.",
    "now",
    "states:",
    "actions:",
    "roles:",
    "fields:",
    "views:",
    "exports:",
    "templates:",
    "checks:",
    "settings:",
    "from: ",
    "to: ",
    "by: ",
    "timers:",
    "after: ",
    "every: ",
    "at: ",
    "offset: ",
    "guard:",
    "when: ",
    "run: ",
    "on_enter: ",
    "on_exit: ",
    "final: true",
    "many: true",
    "directory: ",
    "sees: org",
    "default: true",
    "type: ",
    "list",
    "map",
    "person",
    "date",
    "datetime",
    "time",
    "int",
    "float",
    "text",
    "of: ",
    "one_of: ",
    "max_length: ",
    "min: ",
    "required: true",
    "private: true",
    "5 business days",
    "1 month",
    "-1 day",
    "99999999999999999999",
    "1e999",
    ".nan",
    "-.inf",
    "0x1F",
    "~",
    "null",
    "yes",
    "\u{0}",
    "\u{feff}",
    "\u{202e}",
    "🦀",
    "ℌ",
    "\r\n",
    "\r",
    "system",
    "anyone",
    "*",
    "goto(\"x\")",
    "spawn_copy(#{ state: \"x\" })",
];

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in [
        "fuzz/corpus/definitions",
        "fuzz/regressions/definitions",
        "workflows",
        "core/tests/fixtures",
    ] {
        for f in files(&root().join(dir)) {
            out.push(std::fs::read(f).unwrap());
        }
    }
    out
}

fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], input: &mut Vec<u8>) {
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = input.len();
        let at = rng.below(len + 1);
        match rng.below(12) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next() as u8;
            }
            2 => {
                let end = (at + rng.below(64)).min(len);
                input.drain(at..end);
            }
            3 => {
                let end = (at + rng.below(128)).min(len);
                let piece: Vec<u8> = input[at..end].to_vec();
                let times = 1 + rng.below(4);
                for _ in 0..times {
                    let pos = rng.below(input.len() + 1);
                    input.splice(pos..pos, piece.iter().copied());
                }
            }
            4..=6 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                input.splice(at..at, t.iter().copied());
            }
            7 => {
                // splice with another seed: our prefix, its suffix
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                input.truncate(at);
                input.extend_from_slice(&other[from..]);
            }
            8 => {
                // change the indentation of a line
                let start = input[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                if rng.below(2) == 0 {
                    input.splice(start..start, b"  ".iter().copied());
                } else if input.get(start) == Some(&b' ') {
                    input.remove(start);
                }
            }
            9 => {
                // nest: wrap a piece in many brackets
                let depth = 1 + rng.below(300);
                let (open, close) = if rng.below(2) == 0 {
                    (b'[', b']')
                } else {
                    (b'{', b'}')
                };
                let end = (at + rng.below(16)).min(len);
                input.insert(end, b'\n');
                for _ in 0..depth {
                    input.insert(end, close);
                }
                for _ in 0..depth {
                    input.insert(at, open);
                }
            }
            10 => {
                // a line repeated many times (large documents, duplicate keys)
                let start = input[..at]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(0, |i| i + 1);
                let end = input[at..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(len, |i| at + i + 1);
                let line: Vec<u8> = input[start..end].to_vec();
                for _ in 0..rng.below(200) {
                    input.splice(end..end, line.iter().copied());
                }
            }
            _ => input.truncate(at),
        }
    }
    input.truncate(256 * 1024);
}

fn iterations() -> usize {
    if let Some(n) = std::env::var("MF_FUZZ_ITERATIONS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        return n;
    }
    if std::env::var("MF_LONG").is_ok_and(|v| v == "1") {
        200_000
    } else {
        SHORT_ITERATIONS
    }
}

#[test]
fn mutated_definitions_never_panic() {
    let seeds = seeds();
    assert!(seeds.len() >= 20);
    let scripts = Scripts::new(Limits::default());
    let n = iterations();
    let long = n > SHORT_ITERATIONS;
    let seed: u64 = std::env::var("MF_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0xF022);
    let mut rng = Rng(seed | 1);
    let artifacts = root().join("fuzz/artifacts");
    if long {
        std::fs::create_dir_all(&artifacts).unwrap();
    }
    let started = std::time::Instant::now();
    let (mut loaded, mut refused) = (0usize, 0usize);
    for i in 0..n {
        let mut input = seeds[rng.below(seeds.len())].clone();
        mutate(&mut rng, &seeds, &mut input);
        let text = String::from_utf8_lossy(&input).into_owned();
        if long {
            std::fs::write(artifacts.join("current.yaml"), &text).unwrap();
            if i % 20_000 == 0 {
                eprintln!("fuzz: {i} of {n}, {:.0} s", started.elapsed().as_secs_f64());
            }
        }
        match check(&scripts, &text) {
            Ok(true) => loaded += 1,
            Ok(false) => refused += 1,
            Err(m) => {
                let name = format!("crash-{seed:x}-{i}.yaml");
                let saved = root().join("fuzz/regressions/definitions").join(&name);
                std::fs::write(&saved, &text).unwrap();
                panic!("iteration {i}: {m}\nsaved to {}", saved.display());
            }
        }
    }
    if long {
        let _ = std::fs::remove_file(artifacts.join("current.yaml"));
    }
    eprintln!(
        "fuzz: {n} inputs ({loaded} loaded, {refused} refused with problems), seed {seed:#x}, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(refused > 0);
}
