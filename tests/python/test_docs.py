"""The code in docs/python.md runs, so the documentation cannot drift from the package."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import ROOT

import mentorflow

DOC = ROOT / "docs" / "python.md"


def _section_code(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, f"no python block under {title}"
    return blocks[0]


def test_quick_start_runs(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT)  # the quick start names the shipped "workflows" folder
    namespace: dict[str, object] = {}
    exec(compile(_section_code("Quick start"), str(DOC), "exec"), namespace)
    out = capsys.readouterr().out
    assert "Assigned – Pending" in out
    assert "pending_reassignment" in out
    assert "client_name" in out or "client" in out


def test_scenario_section_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    code = _section_code("Scenario files")
    first = Path(re.findall(r'"(tests/scenarios/[^"]+)"', code)[0])
    if not first.exists():
        pytest.fail(f"docs/python.md names {first}, which does not exist")
    namespace: dict[str, object] = {"mentorflow": mentorflow, "os": os}
    exec(compile(code, str(DOC), "exec"), namespace)


def test_every_public_name_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for name in mentorflow.__all__:
        if name.startswith("__"):
            continue
        assert name in text, f"{name} is not mentioned in docs/python.md"


def _blocks(title: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    section = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def _run(code: str, namespace: dict[str, object]) -> None:
    exec(compile(code, str(DOC), "exec"), namespace)


def _workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty folder with the shipped workflows, as a user's project would have."""
    (tmp_path / "workflows").symlink_to(ROOT / "workflows", target_is_directory=True)
    monkeypatch.chdir(tmp_path)


def test_closing_and_read_only_sections_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _workdir(tmp_path, monkeypatch)
    closing = next(b for b in _blocks("Engine") if "with mentorflow.Engine" in b)
    read_only = next(b for b in _blocks("Engine") if "read_only=True" in b)
    namespace: dict[str, object] = {"mentorflow": mentorflow}
    _run(closing, namespace)
    engine = namespace["engine"]
    assert isinstance(engine, mentorflow.Engine) and engine.closed
    assert (tmp_path / "cases.db").is_file()
    _run(read_only, namespace)
    report = namespace["report"]
    assert isinstance(report, mentorflow.Engine) and report.read_only
    report.close()


def test_timers_and_participants_block_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _workdir(tmp_path, monkeypatch)
    quick = _section_code("Quick start")
    # the quick start up to the assignment
    setup = quick.split("print(case.state_label)", 1)[0]
    namespace: dict[str, object] = {}
    _run(setup, namespace)
    block = next(b for b in _blocks("Cases: start, act, read") if "for t in engine.timers(" in b)
    _run(block, namespace)
    out = capsys.readouterr().out.splitlines()
    assert "reminder_24h 2026-11-21 14:00:00+00:00 script" in out
    assert "mentor alice 2026-11-20 14:00:00+00:00" in out
    assert any(line.startswith("client pat ") for line in out)


def test_resume_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _workdir(tmp_path, monkeypatch)
    quick = _section_code("Quick start").replace('":memory:"', '"sim.db"')
    _run(quick, {})
    block = next(b for b in _blocks("Time: manual clock, advance, tick") if "resume_at" in b)
    namespace: dict[str, object] = {"mentorflow": mentorflow}
    _run(block, namespace)
    engine = namespace["engine"]
    assert isinstance(engine, mentorflow.Engine)
    assert engine.manual_clock and engine.now == namespace["resume_at"]
    assert engine.now == engine.last_committed_at
    engine.close()


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_example_runs_in_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _workdir(tmp_path, monkeypatch)
    blocks = _python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "the README has a Python example"
    for block in blocks:
        _run(block, {})
    out = capsys.readouterr().out
    assert "pending_reassignment" in out


def test_package_docstring_example_runs_in_an_empty_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import textwrap

    _workdir(tmp_path, monkeypatch)
    doc = mentorflow.__doc__ or ""
    found = re.search(r"::\n\n((?:    .*\n|\n)+)", doc)
    assert found, "the package docstring has an example"
    _run(textwrap.dedent(found.group(1)), {})
    assert "Submitted" in capsys.readouterr().out
