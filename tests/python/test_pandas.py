"""to_pandas() on result lists; pandas stays optional."""

from __future__ import annotations

import sys

import pandas as pd  # type: ignore[import-untyped,unused-ignore]
import pytest
from conftest import assigned

import mentorflow


def test_cases_to_pandas(engine: mentorflow.Engine) -> None:
    a = assigned(engine, "A")
    b = engine.start("request", actor="pat", data={"client_name": "B"})
    df = engine.cases().to_pandas()
    assert isinstance(df, pd.DataFrame)
    assert list(df["id"]) == [b.id, a.id]
    assert list(df["state"]) == ["submitted", "pending"]
    assert list(df["data.client_name"]) == ["B", "A"]
    assert df.loc[df["id"] == a.id, "participants.mentor"].iloc[0] == ["alice"]
    assert str(df["created_at"].dt.tz) == "UTC"


def test_empty_results_give_empty_frames(engine: mentorflow.Engine) -> None:
    df = engine.view("need_action", viewer="alice").to_pandas()
    assert len(df) == 0 and "state" in df.columns
    assert list(engine.export("requests").to_pandas().columns) == ["id", "client", "state", "mentor"]


def test_history_and_notifications_to_pandas(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    events = engine.history(case.id).to_pandas()
    assert list(events["action"]) == ["submit", "assign"]
    assert events["inputs.mentor"].iloc[1] == "alice"
    notes = engine.notifications().to_pandas()
    assert list(notes["template"]) == ["assigned"]


def test_export_rows_to_pandas_keeps_column_order(engine: mentorflow.Engine) -> None:
    assigned(engine, "A")
    assigned(engine, "B")
    df = engine.export("requests").to_pandas()
    assert list(df.columns) == ["id", "client", "state", "mentor"]
    assert sorted(df["client"]) == ["A", "B"]


def test_without_pandas_the_message_says_how_to_install(
    engine: mentorflow.Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes `import pandas` fail
    with pytest.raises(ImportError, match="pip install pandas"):
        engine.cases().to_pandas()
    # Everything else works without pandas.
    assert engine.cases() == []
