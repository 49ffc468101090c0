#!/bin/sh
# Instruction counts of the benchmark's parts under callgrind: the regression guard of
# docs/performance.md ("Instruction counts"). Counts are repeatable on a loaded machine, unlike
# wall-clock figures; compare them with the table there before and after a change to the step,
# the store or the script layer, and put both in the commit message.
#
#   scripts/callgrind.sh            # 300 lifecycles (1,500 steps), 2,000 timer firings
#   scripts/callgrind.sh 100 500    # smaller
#   KEEP=1 scripts/callgrind.sh     # keep the callgrind.out files (callgrind_annotate them)
#
# Needs valgrind. Builds the release `profile` binary (bench/src/bin/profile.rs) first.
set -eu
cd "$(dirname "$0")/.."
cases=${1:-300}
timers=${2:-2000}
cargo build --release -q -p mentorflow-bench --bin profile
bin=target/release/profile
out=$(mktemp -d)
count() { # part, n, extra valgrind options...
    part=$1
    n=$2
    shift 2
    valgrind --tool=callgrind --callgrind-out-file="$out/$part.out" "$@" "$bin" "$n" "$part" \
        >/dev/null 2>"$out/$part.log"
    sed -n 's/.*Collected : //p' "$out/$part.log"
}
inclusive() { # file, function
    callgrind_annotate --inclusive=yes "$1" 2>/dev/null | grep -F "$2 [" | awk '{print $1}' | tr -d , | head -n 1
}
printf '%-44s %15s\n' "part" "instructions"
for part in engine floor minimal; do
    printf '%-44s %15s\n' "lifecycle $part ($cases cases, whole process)" "$(count "$part" "$cases")"
done
# The sweep commits a batch every 100 ms of wall-clock time, which under callgrind's slowdown
# cuts batches short and re-reads due timers: the whole tick varies from run to run. The
# firings themselves (fire_timer) do not.
count timers "$timers" --toggle-collect='mentorflow::engine::Engine::tick' >/dev/null
printf '%-44s %15s\n' "timers: fire_timer ($timers firings)" \
    "$(inclusive "$out/timers.out" 'mentorflow::engine::step::fire_timer')"
if [ "${KEEP:-}" = 1 ]; then
    echo "callgrind files in $out"
else
    rm -rf "$out"
fi
