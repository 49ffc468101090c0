"""Shared fixtures: the REQUEST workflow of core/tests/support, its people, a manual clock."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest

import mentorflow

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = HERE / "fixtures"
WORKFLOWS = FIXTURES / "workflows"
REQUEST = WORKFLOWS / "request.yaml"
TYPED = WORKFLOWS / "types.yaml"
SHIPPED = ROOT / "workflows"
SCENARIOS = ROOT / "tests" / "scenarios"

# 2026-11-20 is a Friday.
T0 = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def add_people(engine: mentorflow.Engine) -> None:
    """The people of core/tests/support/mod.rs."""
    engine.people.put("pat", name="Pat Client", org="ch1")
    engine.people.put("cody", name="Cody Coordinator", org="ch1", roles=["coordinator"])
    engine.people.put(
        "alice", name="Alice Mentor", org="ch1", roles=["mentor"], classification="active"
    )
    engine.people.put(
        "bob", name="Bob Provisional", org="ch1", roles=["mentor"], classification="provisional"
    )
    engine.people.put("zed", name="Zed Elsewhere", org="ch2", roles=["coordinator"])


@pytest.fixture
def engine() -> mentorflow.Engine:
    """An in-memory engine with the request workflow, its people and a manual clock at T0."""
    e = mentorflow.Engine(":memory:", workflows=REQUEST, now=T0)
    add_people(e)
    return e


@pytest.fixture
def typed() -> mentorflow.Engine:
    """An in-memory engine with the every-type workflow and one owner."""
    e = mentorflow.Engine(":memory:", workflows=TYPED, now=T0)
    e.people.put("owner", org="acme")
    return e


@pytest.fixture
def db_path(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "cases.db"


def assigned(engine: mentorflow.Engine, client: str = "Pat") -> mentorflow.Case:
    """A request assigned to alice."""
    case = engine.start("request", actor="pat", data={"client_name": client})
    return engine.act(case.id, "assign", actor="cody", inputs={"mentor": "alice"})
