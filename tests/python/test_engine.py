"""Every Engine method, on the REQUEST workflow of core/tests/support."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import REQUEST, T0, TYPED, WORKFLOWS, add_people, assigned

import mentorflow


# ---- construction ---------------------------------------------------------------------------


def test_memory_engine_with_manual_clock(engine: mentorflow.Engine) -> None:
    assert engine.path is None
    assert engine.manual_clock is True
    assert engine.now == T0
    assert engine.now.tzinfo is not None
    assert engine.workflows == ["request"]
    assert "request" in repr(engine)


def test_workflows_folder_file_and_list() -> None:
    folder = mentorflow.Engine(":memory:", workflows=WORKFLOWS)
    assert sorted(folder.workflows) == ["request", "typed"]
    one = mentorflow.Engine(":memory:", workflows=str(REQUEST))
    assert one.workflows == ["request"]
    both = mentorflow.Engine(":memory:", workflows=[REQUEST, str(TYPED)])
    assert sorted(both.workflows) == ["request", "typed"]


def test_system_clock_without_now() -> None:
    e = mentorflow.Engine(":memory:", workflows=REQUEST)
    assert e.manual_clock is False
    assert abs(e.now - datetime.now(timezone.utc)) < timedelta(minutes=1)
    with pytest.raises(mentorflow.ValidationError, match="manual clock"):
        e.advance("1 day")


def test_workflows_must_be_paths() -> None:
    with pytest.raises(TypeError, match="workflows"):
        mentorflow.Engine(":memory:", workflows=42)  # type: ignore[arg-type]


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        mentorflow.Engine(":memory:", workflows=REQUEST, now=datetime(2026, 11, 20, 10))


def test_limits_change_the_sandbox() -> None:
    default = mentorflow.Engine(":memory:", workflows=TYPED, now=T0)
    assert default.limits["max_operations"] == 200_000
    assert default.limits["max_run_time"] == 5.0
    strict = mentorflow.Engine(
        ":memory:",
        workflows=TYPED,
        now=T0,
        limits={"max_operations": 3, "max_run_time": timedelta(milliseconds=250)},
    )
    assert strict.limits["max_operations"] == 3
    assert strict.limits["max_run_time"] == 0.25
    assert strict.limits["max_map_size"] == default.limits["max_map_size"]
    strict.people.put("owner", org="acme")
    with pytest.raises(mentorflow.ScriptError, match="more than 3 operations") as info:
        strict.start("typed", actor="owner", data={"title": "abcd", "count": 3})
    assert info.value.path == "actions.create.run"
    assert len(strict.cases()) == 0


@pytest.mark.parametrize(
    ("limits", "error", "message"),
    [
        ({"max_operationz": 5}, ValueError, 'unknown limit "max_operationz"'),
        ({"max_operations": -1}, ValueError, "limits.max_operations must be a whole number"),
        ({"max_array_size": 2.5}, ValueError, "limits.max_array_size must be a whole number"),
        ({"max_call_levels": True}, TypeError, "limits.max_call_levels must be a whole number"),
        ({"max_run_time": "1s"}, TypeError, "limits.max_run_time must be seconds"),
        ({"max_run_time": -1}, ValueError, "limits.max_run_time must be 0 or more"),
        ([("max_operations", 5)], TypeError, "limits must be a dict"),
    ],
)
def test_bad_limits_are_refused_by_name(limits: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        mentorflow.Engine(":memory:", workflows=TYPED, limits=limits)


def test_file_database_survives_reopening(db_path: Path) -> None:
    first = mentorflow.Engine(db_path, workflows=REQUEST, now=T0)
    add_people(first)
    case = assigned(first)
    assert first.path == str(db_path)
    del first
    again = mentorflow.Engine(str(db_path), workflows=REQUEST, now=T0)
    got = again.get(case.id)
    assert got == case
    assert again.people.get("alice").classification == "active"


# ---- commands -------------------------------------------------------------------------------


def test_start_with_default_action(engine: mentorflow.Engine) -> None:
    case = engine.start("request", actor="pat", data={"client_name": "Pat"})
    assert isinstance(case, mentorflow.Case)
    assert case.id >= 1
    assert case.workflow == "request"
    assert case.version == 1
    assert case.state == "submitted"
    assert case.state_label == "Submitted"
    assert case.tags == ["cny"]
    assert case.open is True
    assert case.org == "ch1"
    assert case.revision == 1
    assert case.data == {"client_name": "Pat", "contacted": False, "sessions": 0}
    assert case.participants == {"client": ["pat"]}
    assert case.participant("client") == "pat"
    assert case.participant("mentor") is None
    assert case.created_at == T0 and case.updated_at == T0
    assert case.parent is None


def test_start_with_every_option(engine: mentorflow.Engine) -> None:
    engine.orgs.put("ch9")
    case = engine.start(
        "request", actor="pat", data={"client_name": "Pat"}, inputs={}, org="ch9", action="submit"
    )
    assert case.org == "ch9"
    with pytest.raises(mentorflow.NotFound) as e:
        engine.start("request", actor="pat", data={"client_name": "Pat"}, action="nope")
    assert e.value.kind == "action"


def test_act_moves_the_case(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    assert case.state == "pending"
    assert case.participants["mentor"] == ["alice"]
    case = engine.act(case.id, "accept", actor="alice", inputs={"note": "Hello Pat"})
    assert case.state == "in_progress"
    assert case.data["contacted"] is True
    assert case.revision == 3


def test_act_at_revision(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    moved = engine.act(
        case.id, "accept", actor="alice", inputs={"note": "hi"}, revision=case.revision
    )
    assert moved.revision == case.revision + 1
    with pytest.raises(mentorflow.Conflict) as e:
        engine.act(case.id, "log_session", actor="alice", revision=case.revision)
    assert (e.value.case_id, e.value.expected, e.value.actual) == (case.id, 2, 3)


def test_actions(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    assert engine.actions(case.id, actor="alice") == ["accept", "decline"]
    assert engine.actions(case.id, actor="pat") == []


def test_get_with_and_without_actor(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    assert engine.get(case.id) == case
    assert engine.get(case.id, actor="alice") == case
    with pytest.raises(mentorflow.NotFound):
        engine.get(case.id, actor="zed")
    with pytest.raises(mentorflow.NotFound) as e:
        engine.get(9999)
    assert e.value.kind == "case" and e.value.id == "9999"


def test_history(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    engine.act(case.id, "accept", actor="alice", inputs={"note": "Hello"})
    events = engine.history(case.id)
    assert isinstance(events, mentorflow.EventList)
    assert [e.seq for e in events] == [1, 2, 3]
    assert [e.action for e in events] == ["submit", "assign", "accept"]
    assert [e.actor for e in events] == ["pat", "cody", "alice"]
    assert [e.from_state for e in events] == [None, "submitted", "pending"]
    assert [e.to_state for e in events] == ["submitted", "pending", "in_progress"]
    assert events[1].inputs == {"mentor": "alice"}
    assert events[2].at == T0 and events[2].case_id == case.id
    assert {"type": "note", "text": "Hello"} in events[2].effects
    assert {"type": "assign", "role": "mentor", "person": "alice"} in events[1].effects
    assert engine.history(case.id, actor="alice") == events
    with pytest.raises(mentorflow.NotFound):
        engine.history(case.id, actor="zed")


def test_notifications(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    other = assigned(engine, "Quinn")
    ns = engine.notifications(case.id)
    assert isinstance(ns, mentorflow.NotificationList)
    assert len(ns) == 1
    n = ns[0]
    assert (n.case_id, n.to, n.template) == (case.id, "alice", "assigned")
    assert n.subject == "New request from Pat"
    assert f"/requests/{case.id}" in n.body
    assert n.at == T0 and n.at.tzinfo is not None
    assert n.delivered_at is None and n.acked_at is None
    assert n.attempts == 0 and n.last_error is None
    assert isinstance(n.data, dict)
    assert len(engine.notifications()) == 2
    assert [x.case_id for x in engine.notifications(to="alice")] == [case.id, other.id]
    assert engine.notifications(to="bob") == []
    engine.ack(n.id)
    assert [x.case_id for x in engine.notifications(pending=True)] == [other.id]
    assert engine.notifications(case.id)[0].acked_at == T0
    with pytest.raises(mentorflow.NotFound):
        engine.ack(12345)


def test_cases_filters(engine: mentorflow.Engine) -> None:
    a = engine.start("request", actor="pat", data={"client_name": "A"})
    b = assigned(engine, "B")
    everything = engine.cases()
    assert isinstance(everything, mentorflow.CaseList)
    assert [c.id for c in everything] == [b.id, a.id]  # newest first
    assert [c.id for c in engine.cases("request", "pending")] == [b.id]
    assert [c.id for c in engine.cases(state="submitted")] == [a.id]
    assert engine.cases(org="ch2") == []
    assert engine.cases(workflow="other") == []
    assert len(engine.cases(limit=1)) == 1


def test_view(engine: mentorflow.Engine) -> None:
    a = engine.start("request", actor="pat", data={"client_name": "A"})
    b = assigned(engine, "B")
    assert [c.id for c in engine.view("need_action", viewer="alice")] == [b.id]
    assert [c.id for c in engine.view("request.queue", viewer="cody")] == [a.id]
    assert engine.view("queue", viewer="zed") == []
    with pytest.raises(mentorflow.NotFound) as e:
        engine.view("nope", viewer="alice")
    assert e.value.kind == "view"


def test_export_rows_csv_json(engine: mentorflow.Engine) -> None:
    case = assigned(engine, 'Pat "the baker", Inc')
    rows = engine.export("requests")
    assert isinstance(rows, mentorflow.Rows)
    assert rows.columns == ["id", "client", "state", "mentor"]
    assert rows == [
        {
            "id": case.id,
            "client": 'Pat "the baker", Inc',
            "state": "Assigned – Pending",
            "mentor": "alice",
        }
    ]
    text = engine.export("requests", format="csv")
    assert isinstance(text, str)
    parsed = list(csv.DictReader(io.StringIO(text)))
    assert parsed == [
        {"id": str(case.id), "client": 'Pat "the baker", Inc', "state": "Assigned – Pending",
         "mentor": "alice"}
    ]
    assert json.loads(engine.export("requests", format="json")) == list(rows)
    assert engine.export("requests", actor="zed") == []
    with pytest.raises(ValueError, match="format"):
        engine.export("requests", format="xlsx")  # type: ignore[call-overload]
    with pytest.raises(mentorflow.NotFound):
        engine.export("nope")


# ---- time -----------------------------------------------------------------------------------


def test_advance_by_string_fires_timers(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    report = engine.advance("24h")
    assert isinstance(report, mentorflow.TickReport)
    assert report.fired == 1 and report.failed == []
    assert engine.now == T0 + timedelta(hours=24)
    assert [n.template for n in engine.notifications(case.id)] == ["assigned", "reminder"]
    # Friday + 5 business days = next Friday; the request returns to the queue.
    engine.advance("5 business days")
    assert engine.get(case.id).state == "submitted"
    assert "mentor" not in engine.get(case.id).participants


def test_advance_by_timedelta_and_to_datetime(engine: mentorflow.Engine) -> None:
    assigned(engine)
    r = engine.advance(timedelta(hours=23))
    assert r.fired == 0
    r = engine.advance_to(T0 + timedelta(hours=25))
    assert r.fired == 1
    assert engine.now == T0 + timedelta(hours=25)
    with pytest.raises(ValueError, match="naive"):
        engine.advance_to(datetime(2027, 1, 1))
    with pytest.raises(TypeError, match="timedelta"):
        engine.advance(5)  # type: ignore[arg-type]
    with pytest.raises(mentorflow.ValidationError):
        engine.advance("soon")


def test_tick(engine: mentorflow.Engine) -> None:
    report = engine.tick()
    assert report == engine.tick()
    assert report.to_dict() == {
        "fired": 0,
        "failed": [],
        "delivered": 0,
        "delivery_failures": 0,
        "dead_letters": 0,
    }
    assert "TickReport(fired=0" in repr(report)


def test_tick_fires_due_timers_on_a_file_engine(db_path: Path) -> None:
    e = mentorflow.Engine(db_path, workflows=REQUEST, now=T0)
    add_people(e)
    case = assigned(e)
    # A new engine on the same file whose clock is two days later: the timers are due.
    later = mentorflow.Engine(db_path, workflows=REQUEST, now=T0 + timedelta(days=2))
    assert later.tick().fired == 1
    assert [n.template for n in later.notifications(case.id)] == ["assigned", "reminder"]


# ---- directory ------------------------------------------------------------------------------


def test_people_put_get_list_remove(engine: mentorflow.Engine) -> None:
    p = engine.people.put(
        "mia",
        org="ch1",
        roles=["mentor", "supervisor"],
        classification="active",
        email="mia@example.org",
        name="Mia",
        focus_areas=["finance", "retail"],
        since=date(2024, 5, 1),
    )
    assert isinstance(p, mentorflow.Person)
    assert (p.id, p.name, p.email, p.org) == ("mia", "Mia", "mia@example.org", "ch1")
    assert p.roles == ["mentor", "supervisor"]
    assert p.attributes == {
        "classification": "active",
        "focus_areas": ["finance", "retail"],
        "since": "2024-05-01",
    }
    assert p.classification == "active"
    with pytest.raises(AttributeError, match="no attribute"):
        p.shoe_size
    got = engine.people.get("mia")
    assert got == p and hash(got) == hash(p)
    assert got.to_dict()["attributes"]["focus_areas"] == ["finance", "retail"]
    assert "Person(id='mia'" in repr(got)
    assert [x.id for x in engine.people.list(org="ch2")] == ["zed"]
    assert "mia" in [x.id for x in engine.people.list()]
    assert engine.people.remove("mia") is True
    assert engine.people.remove("mia") is False
    with pytest.raises(mentorflow.NotFound):
        engine.people.get("mia")


def test_people_put_checks(engine: mentorflow.Engine) -> None:
    with pytest.raises(TypeError, match="list of strings"):
        engine.people.put("x", roles="mentor")  # type: ignore[arg-type]
    with pytest.raises(mentorflow.ValidationError):
        engine.people.put("system")
    with pytest.raises(mentorflow.ValidationError):
        engine.people.put(" spaced ")


def test_orgs_put_get_list_remove() -> None:
    e = mentorflow.Engine(":memory:", workflows=REQUEST, now=T0)
    o = e.orgs.put(
        "acme",
        name="Acme",
        timezone="Europe/Paris",
        holidays=[date(2026, 12, 25)],
        weekend=["Fri", "Saturday"],
        settings={"max_open": 5},
    )
    assert isinstance(o, mentorflow.Org)
    assert (o.id, o.name, o.timezone) == ("acme", "Acme", "Europe/Paris")
    assert o.holidays == [date(2026, 12, 25)]
    assert o.weekend == ["Fri", "Sat"]
    assert o.settings == {"max_open": 5}
    assert e.orgs.get("acme") == o
    assert o.to_dict()["holidays"] == [date(2026, 12, 25)]
    assert "Org(id='acme'" in repr(o)
    assert [x.id for x in e.orgs.list()] == ["acme"]
    default = e.orgs.put("plain")
    assert default.timezone == "UTC" and default.weekend == ["Sat", "Sun"]
    assert e.orgs.remove("plain") is True
    assert e.orgs.remove("plain") is False
    with pytest.raises(mentorflow.NotFound):
        e.orgs.get("plain")


def test_orgs_put_checks() -> None:
    e = mentorflow.Engine(":memory:", workflows=REQUEST, now=T0)
    with pytest.raises(mentorflow.ValidationError) as err:
        e.orgs.put("acme", settings={"no_such_setting": 1})
    assert err.value.field == "settings.no_such_setting"
    with pytest.raises(mentorflow.ValidationError):
        e.orgs.put("acme", settings={"max_open": "many"})
    with pytest.raises(TypeError, match="holidays"):
        e.orgs.put("acme", holidays=["2026-12-25"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="holidays"):
        e.orgs.put("acme", holidays=[datetime(2026, 12, 25, tzinfo=timezone.utc)])
    with pytest.raises(ValueError, match="day of the week"):
        e.orgs.put("acme", weekend=["Caturday"])
    with pytest.raises(mentorflow.ValidationError):
        e.orgs.put("acme", timezone="Mars/Olympus")


def test_org_holiday_delays_the_business_day_deadline(engine: mentorflow.Engine) -> None:
    # Monday 2026-11-23 is a holiday of ch1: five business days from Friday end one day later.
    engine.orgs.put("ch1", holidays=[date(2026, 11, 23)])
    case = assigned(engine)
    engine.advance_to(datetime(2026, 11, 27, 10, 0, 1, tzinfo=timezone.utc))
    assert engine.get(case.id).state == "pending"
    engine.advance_to(datetime(2026, 11, 30, 10, 0, 1, tzinfo=timezone.utc))
    assert engine.get(case.id).state == "submitted"


# ---- values ---------------------------------------------------------------------------------


def test_values_are_frozen_and_compare_by_value(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    with pytest.raises(AttributeError):
        case.state = "complete"  # type: ignore[misc]
    data = case.data
    data["client_name"] = "changed"
    assert case.data["client_name"] == "Pat"  # a fresh dict each time
    same = engine.get(case.id)
    assert same == case and same is not case
    assert hash(same) == hash(case)
    assert len({case, same}) == 1
    moved = engine.act(case.id, "accept", actor="alice", inputs={"note": "x"})
    assert moved != case
    assert case != "a string"
    assert repr(case) == (
        f"Case(id={case.id}, workflow='request', version=1, state='pending', org='ch1', revision=2)"
    )


def test_to_dict(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    d = case.to_dict()
    assert d["id"] == case.id and d["state"] == "pending" and d["data"] == case.data
    assert d["participants"] == {"client": ["pat"], "mentor": ["alice"]}
    assert set(d) == {
        "id", "workflow", "version", "org", "state", "state_label", "tags", "open", "data",
        "participants", "revision", "created_at", "updated_at", "parent", "suspended",
        "cancelled",
    }
    assert d["suspended"] is None and d["cancelled"] is None
    event = engine.history(case.id)[1]
    e = event.to_dict()
    assert e["action"] == "assign" and e["inputs"] == {"mentor": "alice"}
    assert "Event(case_id=" in repr(event) and event == engine.history(case.id)[1]
    n = engine.notifications(case.id)[0]
    assert n.to_dict()["template"] == "assigned"
    assert "Notification(id=" in repr(n)
    again = engine.notifications(case.id)[0]
    assert n == again and hash(n) == hash(again)


def test_version() -> None:
    assert isinstance(mentorflow.__version__, str) and mentorflow.__version__.count(".") == 2
