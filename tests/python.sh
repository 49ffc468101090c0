#!/usr/bin/env bash
# The Python package's checks, against the wheel a user installs: build the release wheel
# (maturin build --release --strip), check its tags (manylinux, abi3) with auditwheel, install
# it into a FRESH virtual environment (target/wheel-venv, recreated on every run), then check
# the stubs against the installed module and run the pytest suite and the examples there.
# Called by tests/run; works on a fresh machine with python3 (3.9+), Rust, and PyPI.
#
#   MENTORFLOW_PY_DEV=1 tests/python.sh   quick loop while developing: `maturin develop` (debug
#                                          build) into .venv instead of the wheel; same checks.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

step() { printf '\n==> %s\n' "$*"; }
unset CONDA_PREFIX VIRTUAL_ENV || true
tools=("maturin>=1.7,<2" "auditwheel>=6" pytest mypy pandas)

if [ "${MENTORFLOW_PY_DEV:-}" = 1 ]; then
    # develop loop: reuse .venv and an editable debug build
    if [ ! -x .venv/bin/python ]; then
        step "python3 -m venv .venv"
        python3 -m venv .venv
    fi
    venv="$root/.venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${tools[@]}"
    step "maturin develop (bindings/python, debug build)"
    (cd bindings/python && VIRTUAL_ENV="$venv" "$venv/bin/python" -m maturin develop --quiet)
else
    # The build tools live in their own venv, so the test venv holds only the wheel and what
    # a user would install next to it.
    if [ ! -x target/build-venv/bin/python ]; then
        step "python3 -m venv target/build-venv (maturin, auditwheel)"
        python3 -m venv target/build-venv
    fi
    build_py="$root/target/build-venv/bin/python"
    "$build_py" -m pip install --quiet --disable-pip-version-check "maturin>=1.7,<2" "auditwheel>=6"

    step "maturin build --release --strip (the wheel)"
    wheels="$root/target/wheels"
    rm -f "$wheels"/mentorflow-*.whl
    started=$SECONDS
    (cd bindings/python && "$build_py" -m maturin build --release --strip --out "$wheels")
    echo "wheel built in $((SECONDS - started))s"
    wheel=$(ls "$wheels"/mentorflow-*.whl)
    name=$(basename "$wheel")
    echo "wheel: $name ($(du -h "$wheel" | cut -f1))"
    case "$name" in
        *-cp39-abi3-manylinux*) ;;
        *) echo "error: the wheel $name is not a manylinux-tagged cp39-abi3 wheel" >&2; exit 1 ;;
    esac

    step "auditwheel show"
    "$build_py" -m auditwheel show "$wheel" | tee "$root/target/wheels/auditwheel.txt"
    tr -s ' \n' ' ' < "$root/target/wheels/auditwheel.txt" \
        | grep -q 'is consistent with the following platform tag: "manylinux_' \
        || { echo "error: auditwheel finds no manylinux platform tag" >&2; exit 1; }

    step "the wheel's metadata: README as long description, links, classifiers"
    "$build_py" - "$wheel" <<'EOF'
import sys, zipfile, email
wheel = sys.argv[1]
with zipfile.ZipFile(wheel) as z:
    meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
    msg = email.message_from_bytes(z.read(meta))
    names = z.namelist()
problems = []
body = msg.get_payload()
if "# mentorflow" not in body or not (msg["Description-Content-Type"] or "").startswith("text/markdown"):
    problems.append("the README is not the long description (text/markdown)")
if not msg.get_all("Project-URL"):
    problems.append("no Project-URL")
classifiers = msg.get_all("Classifier") or []
for c in ("Programming Language :: Rust", "Operating System :: POSIX :: Linux", "Typing :: Typed"):
    if c not in classifiers:
        problems.append(f"classifier missing: {c}")
for f in ("mentorflow/__init__.py", "mentorflow/_mentorflow.pyi", "mentorflow/py.typed"):
    if f not in names:
        problems.append(f"{f} is not in the wheel")
if problems:
    sys.exit("wheel metadata: " + "; ".join(problems))
print(f"{msg['Name']} {msg['Version']}: {len(classifiers)} classifiers, "
      f"{len(msg.get_all('Project-URL'))} links, README {len(body)} characters")
EOF

    step "a fresh virtual environment with the wheel (target/wheel-venv)"
    rm -rf target/wheel-venv
    python3 -m venv target/wheel-venv
    venv="$root/target/wheel-venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$wheel" pytest mypy pandas
fi

py="$venv/bin/python"
export PATH="$venv/bin:$PATH"
# Run from outside the checkout's package folder so that only the installed package is seen.
installed=$(cd /tmp && "$py" -c 'import mentorflow, os; print(os.path.dirname(mentorflow.__file__))')
echo "mentorflow from $installed"
case "$installed" in
    "$root"/bindings/*) if [ "${MENTORFLOW_PY_DEV:-}" != 1 ]; then
        echo "error: tests would import the source tree, not the wheel" >&2; exit 1; fi ;;
esac

step "stubs: mypy.stubtest and mypy on the package, tests and examples"
"$py" -m mypy.stubtest mentorflow --allowlist tests/python/stubtest-allowlist.txt
"$py" -m mypy --strict --no-error-summary bindings/python/python/mentorflow
"$py" -m mypy --no-error-summary tests/python examples/python
"$py" -m mypy --strict --no-error-summary examples/python/resume_simulation.py

step "pytest tests/python"
"$py" -m pytest -q -p no:cacheprovider tests/python

step "examples/python"
"$py" examples/python/tour.py
"$py" examples/python/simulate_quarter.py --requests 60 --csv "$root/target/simulate_quarter.csv"
"$py" examples/python/mailer_hook.py --outbox "$root/target/mailer_outbox.txt"
"$py" examples/python/resume_simulation.py --db "$root/target/resume_simulation.db"

printf '\npython checks passed\n'
