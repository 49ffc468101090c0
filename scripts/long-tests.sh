#!/usr/bin/env bash
# The long versions of the reliability suites (docs/reliability.md), run by hand. The short
# versions run in tests/run. Release builds; about 15 minutes on 2 cores.
#
#   scripts/long-tests.sh            # everything
#   MF_CRASH_KILLS=500 scripts/long-tests.sh crash
#   MF_SEED=7 scripts/long-tests.sh fuzz props
#
# Suites: crash (SIGKILL harness + processes x threads), fuzz (definition mutation fuzzer),
# props (random input on the shipped workflows), hostile, access, faults. With cargo-fuzz
# installed (`cargo install cargo-fuzz`), `cargo-fuzz` also runs libFuzzer for MF_FUZZ_SECONDS.
set -euo pipefail
cd "$(dirname "$0")/.."

export MF_LONG=1
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(crash fuzz props hostile access faults cargo-fuzz)

step() { printf '\n==> %s\n' "$*"; }
run_test() { cargo test --release -p mentorflow --test "$1" -- --nocapture --test-threads=1; }

for s in "${suites[@]}"; do
    case "$s" in
    crash)
        step "crash: ${MF_CRASH_KILLS:-500} SIGKILLs at random moments; 2 processes x 3 threads"
        run_test crash ;;
    fuzz)
        step "fuzz: ${MF_FUZZ_ITERATIONS:-200000} mutated definitions (stable replay of fuzz/)"
        run_test fuzz_corpus ;;
    props)
        step "props: ${MF_PROPS_CASES:-1000} random command sequences per shipped workflow"
        run_test shipped_props ;;
    hostile) step "hostile scripts and values"; run_test hostile ;;
    access) step "access matrix"; run_test access_matrix ;;
    faults) step "database faults"; run_test database_faults ;;
    cargo-fuzz)
        # libFuzzer needs nightly compiler flags; a stable toolchain takes them with
        # RUSTC_BOOTSTRAP=1. New inputs go to a scratch copy of the corpus, crashes to
        # fuzz/artifacts/definitions/.
        if cargo fuzz --version >/dev/null 2>&1; then
            step "cargo-fuzz (libFuzzer): ${MF_FUZZ_SECONDS:-600} s"
            scratch=$(mktemp -d)
            cp fuzz/corpus/definitions/* fuzz/regressions/definitions/* "$scratch"/
            (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run definitions "$scratch" -- \
                -max_total_time="${MF_FUZZ_SECONDS:-600}" -rss_limit_mb=4096)
            rm -rf "$scratch"
        else
            step "cargo-fuzz: skipped (cargo install cargo-fuzz to run libFuzzer)"
        fi ;;
    *) echo "unknown suite: $s" >&2; exit 2 ;;
    esac
done
printf '\nlong tests passed\n'
