"""Issues 14 and 18, Python parts: close() and with, idiomatic exception bases, advance()
without a manual clock, pending timers, participants with since-dates, last_committed_at,
and read-only opening."""

from __future__ import annotations

import pickle
import threading
from datetime import timedelta
from pathlib import Path

import pytest

import mentorflow

from conftest import REQUEST, T0, add_people, assigned

# ---- close() and with -------------------------------------------------------------------------


def test_with_block_closes_the_engine(db_path: Path) -> None:
    with mentorflow.Engine(db_path, workflows=REQUEST, now=T0) as engine:
        assert not engine.closed
        add_people(engine)
        case = assigned(engine)
    assert engine.closed
    with pytest.raises(mentorflow.Error, match="closed") as err:
        engine.get(case.id)
    assert err.value.code == "closed"
    assert "closed" in repr(engine)
    # the data is on disk and a new engine reads it
    with mentorflow.Engine(db_path, workflows=REQUEST, now=T0 + timedelta(hours=1)) as again:
        assert again.get(case.id).state == "pending"


def test_every_call_after_close_raises(db_path: Path) -> None:
    engine = mentorflow.Engine(db_path, workflows=REQUEST, now=T0)
    add_people(engine)
    people = engine.people  # taken before close: closed with the engine
    case = assigned(engine)
    engine.close()
    engine.close()  # twice is fine
    calls = [
        lambda: engine.start("request", actor="pat", data={"client_name": "P"}),
        lambda: engine.act(case.id, "accept", actor="alice", inputs={"note": "hi"}),
        lambda: engine.get(case.id),
        lambda: engine.actions(case.id, actor="alice"),
        lambda: engine.history(case.id),
        lambda: engine.notifications(),
        lambda: engine.signals(),
        lambda: engine.cases(),
        lambda: engine.view("need_action", viewer="alice"),
        lambda: engine.tick(),
        lambda: engine.advance("1h"),
        lambda: engine.timers(case.id),
        lambda: engine.participants(case.id),
        lambda: engine.last_committed_at,
        lambda: engine.now,
        lambda: engine.limits,
        lambda: engine.people,
        lambda: engine.orgs,
        lambda: people.get("pat"),
        lambda: people.put("pat", email="p@example.org"),
        lambda: engine.on_notification(print),
    ]
    for i, call in enumerate(calls):
        with pytest.raises(mentorflow.Error) as err:
            call()
        assert err.value.code == "closed", i
        assert "Engine.close()" in err.value.message
    with pytest.raises(mentorflow.Error, match="closed"):
        with engine:
            pass
    # what needs no database still answers
    assert engine.path == str(db_path)
    assert engine.workflows == ["request"]


def test_with_block_closes_on_an_exception() -> None:
    with pytest.raises(KeyError):
        with mentorflow.Engine(":memory:", workflows=REQUEST, now=T0) as engine:
            raise KeyError("boom")
    assert engine.closed


def test_closing_releases_the_database_file(db_path: Path) -> None:
    # A closed engine holds no connection: the file can be replaced and reopened at once.
    with mentorflow.Engine(db_path, workflows=REQUEST, now=T0) as engine:
        add_people(engine)
    import sqlite3

    con = sqlite3.connect(db_path)
    try:
        # An exclusive lock succeeds only if no other connection holds the file.
        con.execute("BEGIN EXCLUSIVE")
        con.execute("ROLLBACK")
    finally:
        con.close()


# ---- exception bases ---------------------------------------------------------------------------


def test_exceptions_have_idiomatic_bases(engine: mentorflow.Engine) -> None:
    assert issubclass(mentorflow.ValidationError, ValueError)
    assert issubclass(mentorflow.NotFound, LookupError)
    assert issubclass(mentorflow.NotPermitted, PermissionError)
    with pytest.raises(ValueError):
        engine.start("request", actor="pat", data={})  # client_name is required
    with pytest.raises(LookupError):
        engine.get(999)
    case = assigned(engine)
    try:
        engine.act(case.id, "accept", actor="cody", inputs={"note": "hi"})
    except PermissionError as e:
        assert isinstance(e, mentorflow.NotPermitted)
        assert e.actor == "cody"
        assert str(e) == e.message
        copy = pickle.loads(pickle.dumps(e))
        assert isinstance(copy, mentorflow.NotPermitted) and isinstance(copy, PermissionError)
        assert copy.actor == "cody"
    else:
        raise AssertionError("cody may not accept")


# ---- advance without a manual clock ------------------------------------------------------------


def test_advance_without_manual_clock_explains_now() -> None:
    engine = mentorflow.Engine(":memory:", workflows=REQUEST)
    for call in (lambda: engine.advance("1h"), lambda: engine.advance_to(T0)):
        with pytest.raises(mentorflow.ValidationError) as err:
            call()
        assert "now=" in err.value.message
        assert "ManualClock" not in err.value.message
        assert ".clock(" not in err.value.message
        assert err.value.field == "clock"


# ---- what Python can see: timers, participants, last_committed_at ------------------------------


def test_pending_timers_of_a_case(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    timers = engine.timers(case.id)
    assert [t.name for t in timers] == ["reminder_24h", "back_to_queue"]
    reminder, back = timers
    assert reminder.state == "pending"
    assert reminder.due_at == T0 + timedelta(hours=24)
    assert reminder.due_at.tzinfo is not None
    assert reminder.action is None and reminder.script
    # Friday 10:00 + 5 business days = the next Friday 10:00
    assert back.due_at == T0 + timedelta(days=7)
    assert back.action == "expire" and not back.script and not back.recurring
    assert back.to_dict()["action"] == "expire"
    assert timers == engine.timers(case.id)
    assert isinstance(hash(back), int)
    assert "back_to_queue" in repr(back)
    engine.advance("25h")
    assert [t.name for t in engine.timers(case.id)] == ["back_to_queue"]
    engine.act(case.id, "accept", actor="alice", inputs={"note": "hi"})
    assert engine.timers(case.id) == []
    with pytest.raises(mentorflow.NotFound):
        engine.timers(999)


def test_participants_with_roles_and_since(engine: mentorflow.Engine) -> None:
    case = engine.start("request", actor="pat", data={"client_name": "Pat"})
    engine.advance("2h")
    engine.act(case.id, "assign", actor="cody", inputs={"mentor": "alice"})
    parts = {(p.role, p.person): p.since for p in engine.participants(case.id)}
    assert parts == {("client", "pat"): T0, ("mentor", "alice"): T0 + timedelta(hours=2)}
    first = engine.participants(case.id)[0]
    assert set(first.to_dict()) == {"role", "person", "since"}
    # with an actor: only if that person may see the case
    assert engine.participants(case.id, actor="alice")
    with pytest.raises(mentorflow.NotFound):
        engine.participants(case.id, actor="zed")


def test_last_committed_at_lets_a_simulation_resume(db_path: Path) -> None:
    with mentorflow.Engine(db_path, workflows=REQUEST, now=T0) as engine:
        assert engine.last_committed_at is None
        add_people(engine)
        case = assigned(engine)
        engine.advance("30h")  # the 24 h reminder fires at T0 + 24 h (a timer event)
        engine.act(case.id, "accept", actor="alice", inputs={"note": "hi"})
        last = engine.last_committed_at
        assert last == T0 + timedelta(hours=30)
        assert last is not None and last.tzinfo is not None
    with pytest.raises(mentorflow.ValidationError, match="backwards"):
        mentorflow.Engine(db_path, workflows=REQUEST, now=T0)
    with mentorflow.Engine(db_path, workflows=REQUEST, now=last) as resumed:
        assert resumed.now == last


# ---- read-only opening -------------------------------------------------------------------------


def _filled(db_path: Path) -> int:
    with mentorflow.Engine(db_path, workflows=REQUEST, now=T0) as engine:
        add_people(engine)
        return assigned(engine).id


def test_read_only_reads_everything(db_path: Path) -> None:
    case_id = _filled(db_path)
    with mentorflow.Engine(db_path, workflows=REQUEST, read_only=True) as ro:
        assert ro.read_only
        assert ro.path == str(db_path)
        assert ro.get(case_id).state == "pending"
        assert len(ro.history(case_id)) == 2
        assert [t.name for t in ro.timers(case_id)] == ["reminder_24h", "back_to_queue"]
        assert {p.person for p in ro.participants(case_id)} == {"pat", "alice"}
        assert ro.view("need_action", viewer="alice")[0].id == case_id
        assert ro.people.get("alice").classification == "active"
        assert ro.last_committed_at == T0
        assert "read_only=True" in repr(ro)


def test_read_only_refuses_every_write(db_path: Path) -> None:
    case_id = _filled(db_path)
    before = db_path.read_bytes()
    ro = mentorflow.Engine(db_path, workflows=REQUEST, now=T0 + timedelta(days=30), read_only=True)
    writes = {
        "start": lambda: ro.start("request", actor="pat", data={"client_name": "P"}),
        "act": lambda: ro.act(case_id, "accept", actor="alice", inputs={"note": "hi"}),
        "tick": ro.tick,
        "advance": lambda: ro.advance("1h"),
        "advance_to": lambda: ro.advance_to(T0 + timedelta(days=31)),
        "ack": lambda: ro.ack(1),
        "people.put": lambda: ro.people.put("new", org="ch1"),
        "people.remove": lambda: ro.people.remove("pat"),
        "orgs.put": lambda: ro.orgs.put("ch9"),
        "orgs.remove": lambda: ro.orgs.remove("ch1"),
    }
    for name, call in writes.items():
        with pytest.raises(mentorflow.StorageError, match="read-only") as err:
            call()
        assert f"{name}()" in err.value.message, name
    ro.close()
    # nothing changed: the due timers did not fire
    with mentorflow.Engine(db_path, workflows=REQUEST, read_only=True) as again:
        assert again.get(case_id).state == "pending"
        assert len(again.timers(case_id)) == 2
    assert db_path.read_bytes() == before
    # SQLite's read-only mode may add the empty WAL side files of a WAL database; nothing
    # is written to them.
    wal = Path(f"{db_path}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_read_only_never_creates_a_file(tmp_path: Path) -> None:
    missing = tmp_path / "typo.db"
    with pytest.raises(mentorflow.NotFound) as err:
        mentorflow.Engine(missing, workflows=REQUEST, read_only=True)
    assert str(missing) in err.value.message
    assert err.value.kind == "database"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="memory"):
        mentorflow.Engine(":memory:", workflows=REQUEST, read_only=True)


def test_read_only_path_with_uri_characters(tmp_path: Path) -> None:
    odd = tmp_path / "odd?name#1%.db"
    case_id = _filled(odd)
    with mentorflow.Engine(odd, workflows=REQUEST, read_only=True) as ro:
        assert ro.get(case_id).state == "pending"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".db") == ["odd?name#1%.db"]


def test_read_only_sees_a_writers_commits(db_path: Path) -> None:
    case_id = _filled(db_path)
    with mentorflow.Engine(db_path, workflows=REQUEST, now=T0 + timedelta(hours=1)) as writer:
        with mentorflow.Engine(db_path, workflows=REQUEST, read_only=True) as ro:
            writer.act(case_id, "accept", actor="alice", inputs={"note": "hi"})
            assert ro.get(case_id).state == "in_progress"
            assert ro.last_committed_at == T0 + timedelta(hours=1)


def test_close_while_another_thread_reads(db_path: Path) -> None:
    case_id = _filled(db_path)
    engine = mentorflow.Engine(db_path, workflows=REQUEST, read_only=True)
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            try:
                assert engine.get(case_id).id == case_id
            except mentorflow.Error as e:
                if e.code != "closed":
                    errors.append(e)
                return
            except BaseException as e:  # noqa: BLE001 - reported below
                errors.append(e)
                return

    threads = [threading.Thread(target=reader) for _ in range(3)]
    for t in threads:
        t.start()
    engine.close()
    done.set()
    for t in threads:
        t.join(10)
    assert errors == []
