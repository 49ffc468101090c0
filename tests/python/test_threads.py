"""One engine shared by Python threads; engine calls release the GIL."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import REQUEST, T0, add_people, assigned

import mentorflow


def _work_one_case(engine: mentorflow.Engine, n: int) -> mentorflow.Case:
    case = engine.start("request", actor="pat", data={"client_name": f"Client {n}"})
    case = engine.act(case.id, "assign", actor="cody", inputs={"mentor": "alice"})
    case = engine.act(case.id, "accept", actor="alice", inputs={"note": f"Hello {n}"})
    for _ in range(3):
        case = engine.act(case.id, "log_session", actor="alice")
    return engine.act(case.id, "complete", actor="alice")


@pytest.mark.parametrize("where", ["memory", "file"])
def test_thread_pool_on_different_cases(where: str, tmp_path: Path) -> None:
    path = ":memory:" if where == "memory" else tmp_path / "threads.db"
    engine = mentorflow.Engine(path, workflows=REQUEST, now=T0)
    add_people(engine)
    delivered: list[int] = []
    lock = threading.Lock()

    def mailer(n: mentorflow.Notification) -> None:
        with lock:
            delivered.append(n.id)

    engine.on_notification(mailer)
    with ThreadPoolExecutor(max_workers=8) as pool:
        cases = list(pool.map(lambda n: _work_one_case(engine, n), range(40)))
    assert len({c.id for c in cases}) == 40
    assert all(c.state == "complete" and c.revision == 7 for c in cases)
    assert all(c.data["sessions"] == 3 for c in cases)
    assert sorted(c.data["client_name"] for c in cases) == sorted(f"Client {n}" for n in range(40))
    for c in cases:
        assert [e.seq for e in engine.history(c.id)] == list(range(1, 8))
    assert len(engine.cases(state="complete")) == 40
    # One "assigned" notification per case, each delivered (at least) once.
    assert set(delivered) == {n.id for n in engine.notifications()}
    assert len(engine.notifications()) == 40


def test_concurrent_acts_on_one_case_never_lose_an_update(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    barrier = threading.Barrier(6)

    def try_accept(i: int) -> str:
        barrier.wait()
        try:
            engine.act(case.id, "accept", actor="alice", inputs={"note": f"n{i}"}, revision=2)
            return "ok"
        except mentorflow.Conflict:
            return "refused"
        except mentorflow.GuardRejected:  # the winner already moved the case on
            return "refused"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(try_accept, range(6)))
    assert outcomes.count("ok") == 1
    assert outcomes.count("refused") == 5
    assert engine.get(case.id).revision == 3


def test_python_script_functions_from_many_threads(typed: mentorflow.Engine) -> None:
    typed.register_function("py_score", lambda title, count: len(title) * count)
    cases = [
        typed.start("typed", actor="owner", data={"title": "x" * (n + 1), "count": 2})
        for n in range(20)
    ]
    with ThreadPoolExecutor(max_workers=4) as pool:
        scored = list(pool.map(lambda c: typed.act(c.id, "score", actor="owner"), cases))
    assert [c.data["scored"] for c in scored] == [2 * (n + 1) for n in range(20)]


ATTEMPTS = 8


def test_engine_calls_release_the_gil(typed: mentorflow.Engine) -> None:
    """While a script runs in one thread, Python code keeps running in another."""
    case = typed.start("typed", actor="owner", data={"title": "T"})
    windows: list[tuple[float, float]] = []
    done = threading.Event()

    def spin() -> None:
        for _ in range(ATTEMPTS):
            started = time.perf_counter()
            with pytest.raises(mentorflow.ScriptError, match="ran too long"):
                typed.act(case.id, "spin", actor="owner")  # a script that loops to its limit
            windows.append((started, time.perf_counter()))
        done.set()

    worker = threading.Thread(target=spin)
    ticks: list[float] = []
    worker.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
    worker.join()

    def ran_inside(window: tuple[float, float]) -> bool:
        start, end = window
        quarter = (end - start) / 4
        return any(start + quarter < t < end - quarter for t in ticks)

    assert len(windows) == ATTEMPTS
    assert any(ran_inside(w) for w in windows), "the main thread never ran during a script"
    assert typed.get(case.id).revision == 1


@pytest.mark.parametrize("shared", [True, False], ids=["one-engine", "read-only-engines"])
def test_reads_from_many_threads_while_one_writes(shared: bool, tmp_path: Path) -> None:
    """Readers in several threads (on the writer's engine, or each on its own read-only
    engine) always see committed, self-consistent data while another thread writes."""
    path = tmp_path / "reads.db"
    writer = mentorflow.Engine(path, workflows=REQUEST, now=T0)
    add_people(writer)
    ids = [assigned(writer, f"Client {n}").id for n in range(12)]
    stop = threading.Event()
    problems: list[str] = []
    reads = [0] * 6

    def write() -> None:
        try:
            for cid in ids:
                writer.act(cid, "accept", actor="alice", inputs={"note": "hi"})
                writer.act(cid, "log_session", actor="alice")
        finally:
            stop.set()

    def read(slot: int) -> None:
        engine = writer if shared else mentorflow.Engine(path, workflows=REQUEST, read_only=True)
        try:
            while not stop.is_set() or reads[slot] == 0:
                for cid in ids:
                    case = engine.get(cid)
                    seqs = [e.seq for e in engine.history(cid)]
                    if seqs[:2] != [1, 2] or seqs != list(range(1, len(seqs) + 1)):
                        problems.append(f"case {cid}: history {seqs}")
                    if case.state not in ("pending", "in_progress"):
                        problems.append(f"case {cid}: state {case.state}")
                    if case.participant("mentor") != "alice":
                        problems.append(f"case {cid}: mentor {case.participant('mentor')}")
                    names = [t.name for t in engine.timers(cid)]
                    if names not in (["reminder_24h", "back_to_queue"], []):
                        problems.append(f"case {cid}: timers {names}")
                    roles = {p.role for p in engine.participants(cid)}
                    if roles != {"client", "mentor"}:
                        problems.append(f"case {cid}: roles {roles}")
                reads[slot] += 1
        except BaseException as e:  # noqa: BLE001 - reported below
            problems.append(repr(e))
        finally:
            if not shared:
                engine.close()

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(reads))]
    threads.append(threading.Thread(target=write))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert problems == []
    assert all(n > 0 for n in reads)
    # after the writer: every reader engine sees the final state
    final = writer.cases()
    assert {c.state for c in final} == {"in_progress"}
    assert all(c.data["sessions"] == 1 for c in final)
    writer.close()


GATED = """
workflow: gated
version: 1
roles:
  owner: {}
fields:
  title: { type: string }
states:
  open: { label: Open }
  closed: { label: Closed, final: true }
actions:
  create: { to: open, by: owner }
  close: { from: open, to: closed, by: owner }
exports:
  gated:
    columns:
      id: case.id
      seen: py_gate(case.id)
"""


def test_reads_from_several_threads_run_in_parallel(tmp_path: Path) -> None:
    """Two reads of one file engine are inside the engine at the same time: each export calls
    a function that waits until the other export's call has arrived too. Were reads serialised
    (one connection for every read), the second could not start while the first waits, and the
    barrier would break after its timeout instead of the test passing."""
    flow = tmp_path / "gated.yaml"
    flow.write_text(GATED)
    engine = mentorflow.Engine(tmp_path / "cases.db", workflows=flow, now=T0)
    engine.people.put("owner", org="acme")
    case = engine.start("gated", actor="owner")
    both_inside = threading.Barrier(2, timeout=20)
    arrivals: list[int] = []

    def gate(case_id: int) -> int:
        arrivals.append(both_inside.wait())
        return case_id

    engine.register_function("py_gate", gate)
    with ThreadPoolExecutor(max_workers=2) as pool:
        exports = list(pool.map(lambda _: engine.export("gated", actor="owner"), range(2)))
    assert [list(rows) for rows in exports] == [[{"id": case.id, "seen": case.id}]] * 2
    assert sorted(arrivals) == [0, 1]
    engine.close()
