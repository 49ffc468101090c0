#!/usr/bin/env bash
# The portal's browser stories (tests/browser/stories.test.mjs, then the operators' story
# tests/browser/admin_ops.test.mjs) in Debian's headless Chromium,
# driven by playwright-core, with axe-core accessibility checks. Builds the CLI, starts
# `mentorflow serve --demo` on a free loopback port with its own database and mail folder,
# runs the stories, stops the server. Screenshots go to target/browser-shots/.
#   tests/browser.sh            # everything
#   MF_BROWSER_KEEP=1 ...       # keep the temporary folder (database, mails, server log)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ ! -x /usr/bin/chromium ]; then
    echo "browser tests: installing chromium and chromium-driver (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
if ! command -v npm >/dev/null; then
    echo "browser tests: installing nodejs and npm (Debian)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi

(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
cargo build --quiet -p mentorflow-cli
bin=$root/target/debug/mentorflow

work=$(mktemp -d "${TMPDIR:-/tmp}/mf-browser.XXXXXX")
server=
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        wait "$server" 2>/dev/null || true
    fi
    if [ -z "${MF_BROWSER_KEEP:-}" ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

# port 0: the server picks a free loopback port and prints it
"$bin" --db "$work/demo.db" --workflows "$root/workflows" serve --demo \
    --addr 127.0.0.1:0 --mail-dir "$work/mail" >"$work/serve.log" 2>&1 &
server=$!
url=
for _ in $(seq 1 100); do
    url=$(sed -n 's/^mentorflow serve: listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$work/serve.log")
    [ -n "$url" ] && break
    if ! kill -0 "$server" 2>/dev/null; then
        echo "browser tests: the server did not start:" >&2
        cat "$work/serve.log" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "browser tests: the server printed no address:" >&2
    cat "$work/serve.log" >&2
    exit 1
fi
mkdir -p "$work/mail" target/browser-shots
rm -f target/browser-shots/*.png

status=0
(cd tests/browser && MF_URL=$url MF_MAIL=$work/mail MF_SHOTS=$root/target/browser-shots \
    node --test --test-reporter=spec --test-concurrency=1 stories.test.mjs admin_ops.test.mjs) || status=$?
if [ "$status" -ne 0 ]; then
    echo "browser tests failed; the server's log:" >&2
    tail -n 40 "$work/serve.log" >&2
fi
echo "screenshots: target/browser-shots/"
exit "$status"
