"""Values both ways: str, int, float, bool, None, lists, dicts, date, time, aware datetime."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Any

import pytest

import mentorflow

PARIS_WINTER = timezone(timedelta(hours=1))


def test_every_type_round_trips(typed: mentorflow.Engine) -> None:
    data: dict[str, Any] = {
        "title": "Title",
        "notes": "line one\nline two",
        "count": 42,
        "ratio": 0.25,
        "flag": True,
        "day": date(2026, 12, 24),
        "at_time": time(9, 30),
        "moment": datetime(2026, 12, 24, 18, 0, tzinfo=PARIS_WINTER),
        "days": [date(2027, 1, 1), date(2027, 1, 2)],
        "tags": ["a", "b"],
        "extra": {"nested": [1, 2.5, None, False, {"deep": "yes"}], "empty": {}},
    }
    case = typed.start("typed", actor="owner", data=data)
    got = case.data
    assert got["title"] == "Title" and got["notes"] == "line one\nline two"
    assert got["count"] == 42 and isinstance(got["count"], int)
    assert got["ratio"] == 0.25 and isinstance(got["ratio"], float)
    assert got["flag"] is True
    assert got["day"] == date(2026, 12, 24) and type(got["day"]) is date
    assert got["at_time"] == time(9, 30)
    # Datetimes come back aware, in UTC, the same instant.
    assert got["moment"] == datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)
    assert got["moment"].utcoffset() == timedelta(0)
    assert got["days"] == [date(2027, 1, 1), date(2027, 1, 2)]
    assert got["tags"] == ["a", "b"]
    assert got["extra"] == {"nested": [1, 2.5, None, False, {"deep": "yes"}], "empty": {}}
    # And through the database again.
    assert typed.get(case.id).data == got


def test_tuples_are_lists_and_seconds_are_kept(typed: mentorflow.Engine) -> None:
    case = typed.start(
        "typed",
        actor="owner",
        data={"title": "T", "tags": ("x", "y"), "at_time": time(23, 59, 58)},
    )
    assert case.data["tags"] == ["x", "y"]
    assert case.data["at_time"] == time(23, 59, 58)


def test_inputs_are_typed_in_history(typed: mentorflow.Engine) -> None:
    case = typed.start("typed", actor="owner", data={"title": "T"})
    moment = datetime(2027, 3, 1, 8, 0, tzinfo=timezone.utc)
    case = typed.act(case.id, "edit", actor="owner", inputs={"day": date(2027, 2, 1), "moment": moment})
    assert case.data["day"] == date(2027, 2, 1)
    assert case.data["moment"] == moment
    last = typed.history(case.id)[-1]
    assert last.inputs == {"day": date(2027, 2, 1), "moment": moment}
    assert {"type": "set", "field": "day", "value": date(2027, 2, 1)} in last.effects


def test_none_clears_a_field(typed: mentorflow.Engine) -> None:
    case = typed.start("typed", actor="owner", data={"title": "T", "count": None})
    assert "count" not in case.data


def test_naive_datetime_is_a_value_error(typed: mentorflow.Engine) -> None:
    with pytest.raises(ValueError, match="naive datetime .* no time zone") as info:
        typed.start("typed", actor="owner", data={"title": "T", "moment": datetime(2026, 1, 1, 9)})
    assert "data.moment" in str(info.value)
    assert "tzinfo=timezone.utc" in str(info.value)
    assert not isinstance(info.value, mentorflow.Error)
    with pytest.raises(ValueError, match="naive"):
        typed.start("typed", actor="owner", data={"title": "T", "extra": {"when": [datetime(2026, 1, 1)]}})
    assert typed.cases() == []


def test_aware_time_of_day_is_refused(typed: mentorflow.Engine) -> None:
    with pytest.raises(ValueError, match="time zone"):
        typed.start(
            "typed", actor="owner", data={"title": "T", "at_time": time(9, tzinfo=timezone.utc)}
        )


def test_unsupported_values(typed: mentorflow.Engine) -> None:
    with pytest.raises(TypeError, match=r"data\.title: cannot store a value of type set"):
        typed.start("typed", actor="owner", data={"title": {1, 2}})
    with pytest.raises(TypeError, match="keys must be strings"):
        typed.start("typed", actor="owner", data={"title": "T", "extra": {1: "one"}})
    with pytest.raises(ValueError, match="64 bits"):
        typed.start("typed", actor="owner", data={"title": "T", "count": 2**70})
    with pytest.raises(ValueError, match="finite"):
        typed.start("typed", actor="owner", data={"title": "T", "ratio": float("nan")})
    with pytest.raises(TypeError, match="data must be a dict"):
        typed.start("typed", actor="owner", data=["title"])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="inputs must be a dict"):
        typed.start("typed", actor="owner", data={"title": "T"}, inputs="x")  # type: ignore[arg-type]


def test_wrong_types_are_validation_errors(typed: mentorflow.Engine) -> None:
    with pytest.raises(mentorflow.ValidationError) as info:
        typed.start("typed", actor="owner", data={"title": "T", "day": "24/12/2026"})
    assert "YYYY-MM-DD" in info.value.message
    with pytest.raises(mentorflow.ValidationError):
        typed.start("typed", actor="owner", data={"title": "T", "count": "many"})


def test_strings_that_look_like_dates_stay_strings(typed: mentorflow.Engine) -> None:
    case = typed.start("typed", actor="owner", data={"title": "2026-01-01", "tags": ["12:00"]})
    assert case.data["title"] == "2026-01-01"
    assert case.data["tags"] == ["12:00"]


def test_datetimes_out_are_aware(typed: mentorflow.Engine) -> None:
    case = typed.start("typed", actor="owner", data={"title": "T"})
    for value in (case.created_at, case.updated_at, typed.now, typed.history(case.id)[0].at):
        assert isinstance(value, datetime)
        assert value.tzinfo is not None and value.utcoffset() == timedelta(0)


def test_export_values_are_plain(typed: mentorflow.Engine) -> None:
    case = typed.start("typed", actor="owner", data={"title": "T", "day": date(2026, 5, 4)})
    assert typed.export("items") == [{"id": case.id, "title": "T", "day": "2026-05-04"}]
