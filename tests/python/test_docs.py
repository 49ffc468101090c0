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
