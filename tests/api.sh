#!/usr/bin/env bash
# The JSON API against its OpenAPI document: schemathesis (PyPI, installed into a venv under
# target/) runs property-based requests against a real `mentorflow serve --demo` on a free
# loopback port, as a demo coordinator (API token printed by --demo), and checks every answer:
# no server errors, statuses, content types, headers and bodies as /openapi.json says, and
# bad input refused with 4xx. Bounded: at most 25 examples per operation, one minute in all.
#   tests/api.sh            # everything
#   MF_API_KEEP=1 ...       # keep the temporary folder (database, mails, server log, report)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

venv=$root/target/api-venv
if [ ! -x "$venv/bin/schemathesis" ]; then
    echo "api tests: installing schemathesis into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check 'schemathesis>=4,<5'
fi
cargo build --quiet -p mentorflow-cli
bin=$root/target/debug/mentorflow

work=$(mktemp -d "${TMPDIR:-/tmp}/mf-api.XXXXXX")
server=
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    if [ -z "${MF_API_KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

"$bin" --db "$work/demo.db" --workflows "$root/workflows" serve --demo \
    --addr 127.0.0.1:0 --mail-dir "$work/mail" >"$work/serve.log" 2>&1 &
server=$!
url=
token=
for _ in $(seq 1 100); do
    url=$(sed -n 's/^mentorflow serve: listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/serve.log")
    # the demo coordinator's API token (a line "  Cody Nguyen    cody       TOKEN")
    token=$(sed -n 's/^  Cody Nguyen  *cody  *\([A-Za-z0-9]*\)$/\1/p' "$work/serve.log")
    [ -n "$url" ] && [ -n "$token" ] && break
    if ! kill -0 "$server" 2>/dev/null; then
        echo "api tests: the server did not start:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$url" ] || [ -z "$token" ]; then
    echo "api tests: the server printed no address or no API token:" >&2
    cat "$work/serve.log" >&2
    exit 1
fi

# positive_data_acceptance (every schema-valid request answers 2xx) is left out: a case's
# start and action inputs are checked against the workflow definitions and their guards,
# which the document does not spell out per workflow, so a well-formed body with made-up
# inputs is rightly refused with 400 or 422. Every other check runs.
status=0
# run inside the temporary folder: schemathesis keeps a cache in its working directory
(cd "$work" && "$venv/bin/schemathesis" run "$url/openapi.json" \
    --header "Authorization: Bearer $token" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "${MF_API_EXAMPLES:-25}" \
    --max-time "${MF_API_SECONDS:-60}" \
    --seed 12 \
    --generation-database none \
    --request-timeout 10 \
    --no-color \
    --report junit --report-dir "$work/report") || status=$?
if [ "$status" -ne 0 ]; then
    echo "api tests failed; the server's log:" >&2
    tail -n 40 "$work/serve.log" >&2
fi
exit "$status"
