#!/usr/bin/env bash
# The PostgreSQL conformance run: start a throwaway PostgreSQL 15 (initdb + pg_ctl on a Unix
# socket in a temporary folder; installed with apt-get when missing), run the engine's
# conformance suites against it (the same tests as on SQLite, each engine on a fresh schema),
# the PostgreSQL-only suite (schema refusal, lost updates, capacity, timers across engines),
# the CLI, and the Python package from the wheel's venv (tests/python.sh builds it and runs
# first in tests/run; MENTORFLOW_PY=path/to/python picks another interpreter with mentorflow
# installed); then stop the server and remove its folder. Called by tests/run.
#
#   tests/pg.sh              everything above
#   tests/pg.sh SUITE...     only these cargo test suites (e.g. `tests/pg.sh cases postgres`)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

step() { printf '\n==> %s\n' "$*"; }

# The conformance suites: every core suite that takes its backend from the environment.
suites=(cases timers hooks history access_matrix views orgs scripts portal_api
        shipped_workflows shipped_props concurrency delivery incidents controls postgres
        audit forget retention metrics pickers)
if [ "$#" -gt 0 ]; then suites=("$@"); fi

find_bin() {
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then echo "$d"; return 0; fi
    done
    return 1
}
if ! bin=$(find_bin); then
    step "apt-get install postgresql-15 (not on this machine)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql-15 >/dev/null
    bin=$(find_bin)
fi
"$bin/postgres" --version

dir=$(mktemp -d "${TMPDIR:-/tmp}/mentorflow-pg.XXXXXX")
# PostgreSQL refuses to run as root: run the server as the `postgres` user then.
as_server=()
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$dir"
    as_server=(runuser -u postgres --)
fi
port=54329
stop() {
    "${as_server[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap stop EXIT

step "start a throwaway PostgreSQL in $dir (Unix socket only)"
"${as_server[@]}" "$bin/initdb" -D "$dir/data" -A trust -U mentorflow -E UTF8 --no-sync >"$dir/initdb.log" \
    || { cat "$dir/initdb.log"; exit 1; }
# fsync off: a throwaway server (durability is PostgreSQL's, not what these tests check)
"${as_server[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
    -o "-k $dir -c listen_addresses='' -p $port -c fsync=off -c max_connections=300" start >/dev/null \
    || { cat "$dir/server.log"; exit 1; }
sock=${dir//\//%2F}
export MENTORFLOW_TEST_POSTGRES="postgres://mentorflow@$sock:$port/postgres"
echo "MENTORFLOW_TEST_POSTGRES=$MENTORFLOW_TEST_POSTGRES"

step "conformance suites on PostgreSQL: ${suites[*]}"
args=()
for s in "${suites[@]}"; do args+=(--test "$s"); done
cargo test -p mentorflow "${args[@]}" -- --include-ignored

if [ "$#" -gt 0 ]; then exit 0; fi

step "CLI on PostgreSQL: mentorflow --db postgres://… demo, list, health"
db="postgres://mentorflow@$sock:$port/postgres?options=-csearch_path%3Dcli"
"${as_server[@]}" "$bin/psql" -h "$dir" -p "$port" -U mentorflow -d postgres -qc "CREATE SCHEMA cli"
cargo run --quiet -p mentorflow-cli -- --db "$db" --json health >"$dir/health.json" 2>&1 \
    && { echo "health on an empty schema should fail (nothing to open)"; cat "$dir/health.json"; exit 1; } || true
grep -q not_found "$dir/health.json" || { cat "$dir/health.json"; exit 1; }
cargo run --quiet -p mentorflow-cli -- --db "$db" demo >/dev/null
cargo run --quiet -p mentorflow-cli -- --db "$db" --json list >"$dir/list.json"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$dir/list.json")
[ "$n" -gt 0 ] || { echo "the demo made no case"; exit 1; }
cargo run --quiet -p mentorflow-cli -- --db "$db" --json health | grep -q '"schema_version"'
echo "demo made $n cases on PostgreSQL"

step "the scenario suite on PostgreSQL: mentorflow test tests/scenarios --postgres …"
cargo run --quiet -p mentorflow-cli -- --workflows workflows test tests/scenarios --postgres "$MENTORFLOW_TEST_POSTGRES"

step "CLI: mentorflow store copy, PostgreSQL → SQLite → PostgreSQL"
mf() { cargo run --quiet -p mentorflow-cli -- "$@"; }
back="postgres://mentorflow@$sock:$port/postgres?options=-csearch_path%3Dcopied"
"${as_server[@]}" "$bin/psql" -h "$dir" -p "$port" -U mentorflow -d postgres -qc "CREATE SCHEMA copied"
mf --json store copy --from "$db" --to "$dir/copy.db" >"$dir/copy.json"
mf --json store copy --from "$dir/copy.db" --to "$back" >"$dir/copy-back.json"
python3 - "$dir/copy.json" "$dir/copy-back.json" <<'EOF'
import json, sys
there, back = (json.load(open(p)) for p in sys.argv[1:])
assert there["tables"] == back["tables"], (there, back)
assert there["tables"]["cases"] > 0 and there["rows"] == sum(there["tables"].values()), there
EOF
for target in "$dir/copy.db" "$back"; do
    for what in list notifications; do
        mf --db "$db" --json "$what" >"$dir/a.json"
        mf --db "$target" --json "$what" >"$dir/b.json"
        cmp -s "$dir/a.json" "$dir/b.json" \
            || { echo "store copy: $what differs in $target"; diff "$dir/a.json" "$dir/b.json" | head; exit 1; }
    done
    for id in $(python3 -c 'import json,sys; print(" ".join(str(c["id"]) for c in json.load(open(sys.argv[1]))))' "$dir/list.json"); do
        mf --db "$db" --json history "$id" >"$dir/a.json"
        mf --db "$target" --json history "$id" >"$dir/b.json"
        cmp -s "$dir/a.json" "$dir/b.json" || { echo "store copy: history of case $id differs in $target"; exit 1; }
    done
done
mf --json store copy --from "$dir/copy.db" --to "$back" >"$dir/refused.json" 2>&1 \
    && { echo "store copy into a non-empty schema should be refused"; exit 1; } || true
grep -q "not empty" "$dir/refused.json" || { cat "$dir/refused.json"; exit 1; }
echo "store copy: $n cases, their histories and notifications identical after PostgreSQL → SQLite → PostgreSQL"

step "CLI: mentorflow bench --postgres (the PostgreSQL parts at a tiny size, every figure present)"
mf --json bench --cases 16 --timers 40 --scale 0 --repeat 1 --samples 10 --dir "$dir" \
    --postgres "$MENTORFLOW_TEST_POSTGRES" >"$dir/bench.json"
python3 - "$dir/bench.json" <<'EOF'
import json, sys
pg = json.load(open(sys.argv[1]))["postgres"]
assert pg["clients"] == 16, pg
for key in ["ratio", "concurrent_ratio", "timers_ratio"]:
    assert pg[key] > 0, (key, pg)
for part in ["floor", "engine", "concurrent_floor", "concurrent_engine", "timers_floor", "timers_engine"]:
    assert pg[part]["per_sec"] > 0, (part, pg)
print("bench on PostgreSQL: lifecycle %.2f, 16 clients %.2f, timers %.2f of their floors (tiny run)"
      % (pg["ratio"], pg["concurrent_ratio"], pg["timers_ratio"]))
EOF
left=$("${as_server[@]}" "$bin/psql" -h "$dir" -p "$port" -U mentorflow -d postgres -tAc \
    "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'mfbench%'")
[ "$left" = 0 ] || { echo "the benchmark left $left schemas behind"; exit 1; }

py="${MENTORFLOW_PY:-$root/target/wheel-venv/bin/python}"
if [ -x "$py" ]; then
    step "Python on PostgreSQL: mentorflow.Engine(\"postgresql://…\")"
    "${as_server[@]}" "$bin/psql" -h "$dir" -p "$port" -U mentorflow -d postgres -qc "CREATE SCHEMA py"
    url="postgresql://mentorflow@$sock:$port/postgres?options=-csearch_path%3Dpy"
    "$py" - "$url" "$root/workflows" <<'EOF'
import sys
import mentorflow

url, workflows = sys.argv[1], sys.argv[2]
e = mentorflow.Engine(url, workflows=workflows)
e.orgs.put("ch12", timezone="America/New_York")
e.people.put("pat", org="ch12", roles=["client"])
e.people.put("cody", org="ch12", roles=["coordinator"])
e.people.put("alice", org="ch12", roles=["mentor"], classification="active")
case = e.start("score_request", actor="pat", data={"client_name": "Pat"}, org="ch12")
case = e.act(case.id, "assign", actor="cody", inputs={"mentor": "alice"})
assert case.state == "assigned_pending", case.state
again = mentorflow.Engine(url, workflows=workflows)
assert again.get(case.id).revision == case.revision
assert [ev.action for ev in again.history(case.id)] == ["submit", "assign"]
print("python on PostgreSQL: ok, case", case.id)
EOF
else
    echo "$py is missing: run tests/python.sh first (tests/run does), or set MENTORFLOW_PY" >&2
    exit 1
fi

step "PostgreSQL checks passed"
