#!/usr/bin/env bash
# The Python package's checks: build the extension into .venv, check the stubs against the
# module, run the pytest suite and the examples. Called by tests/run; works on a fresh machine
# with python3 (3.9+) and network access to PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

step() { printf '\n==> %s\n' "$*"; }

if [ ! -x .venv/bin/python ]; then
    step "python3 -m venv .venv"
    python3 -m venv .venv
fi
py="$root/.venv/bin/python"
export VIRTUAL_ENV="$root/.venv"
export PATH="$root/.venv/bin:$PATH"
unset CONDA_PREFIX || true

step "pip install maturin pytest mypy pandas"
"$py" -m pip install --quiet --disable-pip-version-check "maturin>=1.7,<2" pytest mypy pandas

step "maturin develop (bindings/python)"
(cd bindings/python && "$py" -m maturin develop --quiet)

step "stubs: mypy.stubtest and mypy on the package, tests and examples"
"$py" -m mypy.stubtest mentorflow --allowlist tests/python/stubtest-allowlist.txt
"$py" -m mypy --strict --no-error-summary bindings/python/python/mentorflow
"$py" -m mypy --no-error-summary tests/python examples/python
"$py" -m mypy --strict --no-error-summary examples/python/resume_simulation.py

step "pytest tests/python"
"$py" -m pytest -q tests/python

step "examples/python"
"$py" examples/python/tour.py
"$py" examples/python/simulate_quarter.py --requests 60 --csv "$root/target/simulate_quarter.csv"
"$py" examples/python/mailer_hook.py --outbox "$root/target/mailer_outbox.txt"
"$py" examples/python/resume_simulation.py --db "$root/target/resume_simulation.db"

printf '\npython checks passed\n'
