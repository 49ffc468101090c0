"""Callbacks (notifications, signals, events) and script functions written in Python."""

from __future__ import annotations

import logging
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import REQUEST, T0, add_people, assigned

import mentorflow


def test_on_notification_after_commit(engine: mentorflow.Engine) -> None:
    got: list[mentorflow.Notification] = []
    returned = engine.on_notification(got.append)
    assert returned == got.append
    case = assigned(engine)
    assert [(n.to, n.template, n.case_id) for n in got] == [("alice", "assigned", case.id)]
    assert isinstance(got[0], mentorflow.Notification)
    assert got[0].subject == "New request from Pat"
    stored = engine.notifications(case.id)[0]
    assert stored.delivered_at is not None and stored.attempts == 1
    engine.advance("24h")
    assert [n.template for n in got] == ["assigned", "reminder"]


def test_on_notification_as_a_decorator(engine: mentorflow.Engine) -> None:
    seen: list[str] = []

    @engine.on_notification
    def mailer(n: mentorflow.Notification) -> None:
        seen.append(n.to)

    assigned(engine)
    assert seen == ["alice"]
    assert callable(mailer)


def test_several_callbacks_all_receive(engine: mentorflow.Engine) -> None:
    a: list[int] = []
    b: list[int] = []
    engine.on_notification(lambda n: a.append(n.id))
    engine.on_notification(lambda n: b.append(n.id))
    assigned(engine)
    assert a == b and len(a) == 1


def test_raising_callback_is_logged_and_retried(
    engine: mentorflow.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []
    failing = [True]

    def flaky(n: mentorflow.Notification) -> None:
        calls.append(n.id)
        if failing[0]:
            raise RuntimeError("SMTP server down")

    engine.on_notification(flaky)
    with caplog.at_level(logging.ERROR, logger="mentorflow"):
        case = assigned(engine)  # the action itself succeeds
    assert case.state == "pending"
    assert len(calls) == 1
    [record] = [r for r in caplog.records if r.name == "mentorflow"]
    assert "on_notification callback failed for notification" in record.getMessage()
    assert "SMTP server down" in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is RuntimeError

    n = engine.notifications(case.id)[0]
    assert n.delivered_at is None
    assert n.attempts == 1
    assert n.last_error is not None and "SMTP server down" in n.last_error

    # Not retried before its backoff (30 to 60 s)...
    report = engine.tick()
    assert report.delivery_failures == 0 and report.delivered == 0
    # ...still failing once it is due: another attempt is recorded.
    report = engine.advance(timedelta(seconds=60))
    assert report.delivery_failures == 1 and report.delivered == 0
    assert engine.notifications(case.id)[0].attempts == 2

    # The mail server is back: the next retry delivers, nothing is lost.
    failing[0] = False
    report = engine.advance(timedelta(seconds=120))
    assert report.delivered == 1
    n = engine.notifications(case.id)[0]
    assert n.delivered_at is not None and n.attempts == 3
    assert calls == [n.id, n.id, n.id]
    # The engine keeps working.
    assert engine.act(case.id, "accept", actor="alice", inputs={"note": "hi"}).state == "in_progress"


def test_callback_may_call_the_engine(engine: mentorflow.Engine) -> None:
    states: list[str] = []

    def look(n: mentorflow.Notification) -> None:
        assert n.case_id is not None
        states.append(engine.get(n.case_id).state)
        engine.people.put("audit-" + str(n.id), org="ch1")

    engine.on_notification(look)
    assigned(engine)
    assert states == ["pending"]
    assert engine.people.get("audit-1").org == "ch1"


def test_on_event_in_commit_order(engine: mentorflow.Engine) -> None:
    events: list[mentorflow.Event] = []
    engine.on_event(events.append)
    case = assigned(engine)
    assert [(e.case_id, e.seq, e.action) for e in events] == [
        (case.id, 1, "submit"),
        (case.id, 2, "assign"),
    ]
    assert events[1].inputs == {"mentor": "alice"}
    assert events == list(engine.history(case.id))


def test_raising_event_callback_gets_the_events_again(
    engine: mentorflow.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []
    broken = [True]

    def audit(e: mentorflow.Event) -> None:
        if broken[0]:
            raise ValueError("audit store offline")
        seen.append(e.seq)

    engine.on_event(audit)
    with caplog.at_level(logging.ERROR, logger="mentorflow"):
        case = assigned(engine)
    assert any("on_event callback failed" in r.getMessage() for r in caplog.records)
    assert seen == []
    broken[0] = False
    engine.tick()
    assert seen == [1, 2]
    assert engine.get(case.id).revision == 2


def test_on_signal(typed: mentorflow.Engine) -> None:
    got: list[mentorflow.Signal] = []
    typed.on_signal(got.append)
    case = typed.start("typed", actor="owner", data={"title": "Done"})
    typed.act(case.id, "close", actor="owner")
    assert [(s.kind, s.case_id, s.data) for s in got] == [("closed", case.id, {"title": "Done"})]
    assert typed.signals(case.id) == got
    assert got[0].to_dict()["kind"] == "closed" and "Signal(id=" in repr(got[0])
    assert typed.signals(9999) == []


def test_undelivered_notifications_reach_a_callback_registered_later(tmp_path: Path) -> None:
    db = tmp_path / "later.db"
    first = mentorflow.Engine(db, workflows=REQUEST, now=T0)
    add_people(first)
    case = assigned(first)  # no callback yet: the notification waits in the outbox
    assert first.notifications(case.id)[0].delivered_at is None
    del first
    again = mentorflow.Engine(db, workflows=REQUEST, now=T0)
    got: list[int] = []
    events: list[int] = []
    again.on_notification(lambda n: got.append(n.id))
    again.on_event(lambda e: events.append(e.seq))
    report = again.tick()
    assert report.delivered == 1 and got == [again.notifications(case.id)[0].id]
    assert events == [1, 2]  # the whole history, oldest first
    assert again.notifications(case.id)[0].delivered_at is not None


def test_callbacks_must_be_callable(engine: mentorflow.Engine) -> None:
    for register in (engine.on_notification, engine.on_event, engine.on_signal):
        with pytest.raises(TypeError, match="needs a callable"):
            register("not a function")  # type: ignore[type-var]


# ---- script functions -------------------------------------------------------------------------


def test_register_function_used_by_an_effect(typed: mentorflow.Engine) -> None:
    calls: list[tuple[Any, ...]] = []

    def py_score(title: str, count: int) -> int:
        calls.append((title, count))
        return len(title) * count

    typed.register_function("py_score", py_score)
    case = typed.start("typed", actor="owner", data={"title": "abcd", "count": 3})
    case = typed.act(case.id, "score", actor="owner")
    assert case.data["scored"] == 12
    assert calls == [("abcd", 3)]


def test_register_function_with_defaults_and_varargs(typed: mentorflow.Engine) -> None:
    typed.register_function("py_score", lambda title, count=1, bonus=0: count + bonus + 100)
    typed.register_function("py_shout", lambda *parts: "!".join(str(p).upper() for p in parts))
    case = typed.start("typed", actor="owner", data={"title": "hey", "count": 2})
    assert typed.act(case.id, "score", actor="owner").data["scored"] == 102
    assert typed.act(case.id, "shout", actor="owner").data["title"] == "HEY"


def test_register_function_exception_is_a_script_error(typed: mentorflow.Engine) -> None:
    def py_score(title: str, count: int) -> int:
        raise KeyError("no score table for " + title)

    typed.register_function("py_score", py_score)
    case = typed.start("typed", actor="owner", data={"title": "T", "count": 1})
    with pytest.raises(mentorflow.ScriptError) as info:
        typed.act(case.id, "score", actor="owner")
    assert "py_score() raised KeyError" in info.value.reason
    assert "no score table for T" in info.value.reason
    assert info.value.path == "actions.score.run"
    assert typed.get(case.id).revision == 1  # rolled back


def test_register_function_bad_result_is_a_script_error(typed: mentorflow.Engine) -> None:
    typed.register_function("py_score", lambda title, count: object())
    case = typed.start("typed", actor="owner", data={"title": "T", "count": 1})
    with pytest.raises(mentorflow.ScriptError, match="cannot store a value of type object"):
        typed.act(case.id, "score", actor="owner")


def test_register_function_result_conversion(typed: mentorflow.Engine) -> None:
    typed.register_function("py_shout", lambda title: date(2026, 1, 2))
    case = typed.start("typed", actor="owner", data={"title": "T"})
    assert typed.act(case.id, "shout", actor="owner").data["title"] == "2026-01-02"


def test_script_function_calling_the_engine_is_refused_not_deadlocked(
    typed: mentorflow.Engine,
) -> None:
    def py_score(title: str, count: int) -> int:
        return typed.get(1).revision  # would wait on the transaction it runs in

    typed.register_function("py_score", py_score)
    case = typed.start("typed", actor="owner", data={"title": "T", "count": 1})
    with pytest.raises(mentorflow.ScriptError) as info:
        typed.act(case.id, "score", actor="owner")
    assert "RuntimeError" in info.value.reason
    assert "cannot call the engine" in info.value.reason
    # Outside scripts the engine is callable again.
    assert typed.get(case.id).revision == 1


def test_register_function_checks(typed: mentorflow.Engine) -> None:
    with pytest.raises(TypeError, match="needs a callable"):
        typed.register_function("f", 3)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="not a valid script function name"):
        typed.register_function("two words", len)
    with pytest.raises(TypeError, match="keyword-only"):
        typed.register_function("f", lambda *, x: x)


def test_a_failing_callback_never_holds_back_or_repeats_another(
    engine: mentorflow.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    mailed: list[int] = []
    logged: list[int] = []

    def down(n: mentorflow.Notification) -> None:
        raise RuntimeError("SMTP server down")

    engine.on_notification(down, name="smtp")
    engine.on_notification(lambda n: logged.append(n.id))
    assert engine.consumers() == ["smtp", "hook-2"]
    with pytest.raises(mentorflow.ValidationError, match="already registered"):
        engine.on_notification(mailed.append, name="smtp")
    with caplog.at_level(logging.CRITICAL, logger="mentorflow"):
        cases = [assigned(engine, f"Client {i}") for i in range(3)]
        for _ in range(3):
            engine.advance(timedelta(minutes=10))
    ids = [n.id for n in engine.notifications()]
    assert len(ids) == 3 and len(cases) == 3
    assert logged == ids  # each once, at once, whatever smtp does
    records = engine.deliveries(consumer="smtp")
    assert [d["outbox_id"] for d in records] == ids
    d = records[0]
    assert d["status"] == "retry" and d["attempts"] >= 2
    assert "SMTP server down" in d["last_error"]
    assert d["next_attempt_at"] > d["last_attempt_at"] >= d["first_failed_at"]
    assert engine.deliveries(consumer="hook-2", all=True) == []
    # an operator gives up one and retries another
    assert engine.drop_delivery(ids[0], "smtp") == 1
    assert [d["outbox_id"] for d in engine.deliveries("dropped")] == [ids[0]]
    with pytest.raises(mentorflow.ValidationError, match="no delivery left to drop"):
        engine.drop_delivery(ids[0])
    with pytest.raises(mentorflow.NotFound):
        engine.retry_delivery(9999)
    with pytest.raises(mentorflow.ValidationError, match="unknown delivery status"):
        engine.deliveries("lost")  # type: ignore[arg-type]
    assert engine.retry_delivery(ids[0]) == 1
    assert logged == ids, "retrying smtp does not re-send to the other callback"


def test_a_delivery_failing_every_attempt_becomes_a_dead_letter(
    engine: mentorflow.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    ok = [False]

    def mailer(n: mentorflow.Notification) -> None:
        if not ok[0]:
            raise RuntimeError("mailbox full")

    engine.on_notification(mailer, name="mailer")
    dead = 0
    with caplog.at_level(logging.CRITICAL, logger="mentorflow"):
        case = assigned(engine)
        for _ in range(60):  # 16 attempts take about 45 hours
            dead += engine.advance(timedelta(hours=1)).dead_letters
    first = engine.notifications(case.id)[0]
    [d] = [d for d in engine.deliveries("dead") if d["outbox_id"] == first.id]
    assert d["attempts"] == 16 and d["next_attempt_at"] is None
    assert dead >= 1
    ok[0] = True
    assert engine.retry_delivery(first.id, "mailer") == 1
    assert engine.notifications(case.id)[0].delivered_at is not None
    assert engine.deliveries("delivered", outbox_id=first.id)[0]["consumer"] == "mailer"
