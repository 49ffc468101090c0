"""Every scenario file under tests/scenarios, run through mentorflow.run_scenario."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ROOT, SCENARIOS, SHIPPED

import mentorflow

FILES = sorted(SCENARIOS.glob("*.yaml")) if SCENARIOS.is_dir() else []


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario(path: Path) -> None:
    report = mentorflow.run_scenario(path, workflows=SHIPPED)
    assert report.passed, report.failure
    assert report.failure is None and report.failure_details is None
    assert report.steps_run == report.steps_total


def test_a_failing_scenario_reports_the_step(tmp_path: Path) -> None:
    story = tmp_path / "wrong.yaml"
    story.write_text(
        """
name: A wrong expectation
start: 2026-11-20T10:00:00Z
people:
  pat: { org: ch1 }
steps:
  - start: request
    as: pat
    data: { client_name: Pat }
    expect: { state: complete }
""",
        encoding="utf-8",
    )
    report = mentorflow.run_scenario(story, workflows=ROOT / "tests/python/fixtures/workflows")
    assert not report.passed and not report
    assert report.name == "A wrong expectation"
    assert report.file == str(story)
    assert report.steps_run == 1 and report.steps_total == 1
    assert report.failure is not None
    assert "step 1" in report.failure and "complete" in report.failure
    details = report.failure_details
    assert details is not None
    assert details["step"] == 1 and details["line"] == 10
    assert "complete" in details["expected"] and "submitted" in details["actual"]
    assert "passed=False" in repr(report)


def test_a_passing_scenario(tmp_path: Path) -> None:
    story = tmp_path / "ok.yaml"
    story.write_text(
        """
name: Submit
start: 2026-11-20T10:00:00Z
people:
  pat: { org: ch1 }
steps:
  - start: request
    as: pat
    data: { client_name: Pat }
    expect: { state: submitted }
""",
        encoding="utf-8",
    )
    report = mentorflow.run_scenario(story, workflows=ROOT / "tests/python/fixtures/workflows")
    assert report.passed and bool(report)
    assert report.failure is None


def test_a_missing_file_is_a_failed_report(tmp_path: Path) -> None:
    report = mentorflow.run_scenario(tmp_path / "nope.yaml")
    assert not report.passed
    assert report.failure is not None and "cannot read" in report.failure
