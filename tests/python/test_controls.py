"""Operator controls from Python: suspend, resume, cancel, repair (core/tests/controls.rs has
the full story)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import mentorflow

from conftest import T0

PACED = """
workflow: paced
version: 1
roles:
  owner: {}
fields:
  pings: { type: int, default: 0 }
states:
  waiting:
    label: Waiting
    timers:
      - name: remind
        after: 1h
        run: 'fields.pings += 1;'
  review: { label: Review }
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner, run: 'assign("owner", actor.id)' }
  send: { from: waiting, to: review, by: owner }
  finish: { from: [waiting, review], to: done, by: owner }
"""


@pytest.fixture
def paced(tmp_path: Path) -> mentorflow.Engine:
    path = tmp_path / "paced.yaml"
    path.write_text(PACED)
    e = mentorflow.Engine(":memory:", workflows=path, now=T0)
    e.people.put("pat", org="ch1")
    e.people.put("olga", org="ch1", roles=["admin"])
    return e


def test_suspend_resume_cancel_repair(paced: mentorflow.Engine) -> None:
    c = paced.start("paced", actor="pat")
    with pytest.raises(mentorflow.NotPermitted):
        paced.suspend_case(c.id, operator="pat", reason="me")
    s = paced.suspend_case(c.id, operator="olga", reason="on leave")
    assert s.suspended is not None
    assert s.suspended["by"] == "olga" and s.suspended["reason"] == "on leave"
    assert s.suspended["at"] == T0
    with pytest.raises(mentorflow.Error) as refused:
        paced.act(c.id, "send", actor="pat")
    assert refused.value.code == "suspended"
    paced.advance(timedelta(hours=3))
    assert paced.get(c.id).data["pings"] == 0
    r = paced.resume_case(c.id, operator="olga", reason="back")
    assert r.suspended is None
    paced.tick()
    assert paced.get(c.id).data["pings"] == 1

    moved = paced.repair_case(c.id, "review", operator="olga", reason="fix")
    assert moved.state == "review"
    with pytest.raises(mentorflow.NotFound):
        paced.repair_case(c.id, "reveiw", operator="olga", reason="typo")

    x = paced.cancel_case(c.id, operator="olga", reason="withdrew")
    assert not x.open and x.cancelled is not None and x.to_dict()["cancelled"]["by"] == "olga"
    with pytest.raises(mentorflow.Error) as refused:
        paced.act(c.id, "send", actor="pat")
    assert refused.value.code == "cancelled"


def test_reassign_with_a_dry_run_and_the_successors_directory_role(tmp_path: Path) -> None:
    path = tmp_path / "team.yaml"
    path.write_text(
        """
workflow: team
version: 1
roles:
  client: {}
  mentor: {}
states:
  open: { label: Open }
  done: { label: Done, final: true }
actions:
  create:
    to: open
    by: client
    inputs:
      mentor: { type: person, required: true }
    run: 'assign("client", actor.id); assign("mentor", inputs.mentor);'
  finish: { from: open, to: done, by: mentor }
"""
    )
    e = mentorflow.Engine(":memory:", workflows=path, now=T0)
    e.people.put("pat", org="ch1")
    e.people.put("olga", org="ch1", roles=["admin"])
    e.people.put("mia", org="ch1", roles=["mentor"])
    e.people.put("max", org="ch1", roles=["mentor"])
    e.people.put("pete", org="ch1")
    ids = [e.start("team", actor="pat", inputs={"mentor": "mia"}).id for _ in range(2)]

    dry = e.reassign("mia", "max", operator="olga", reason="mia left", dry_run=True)
    assert dry["dry_run"] is True
    assert [c["case"] for c in dry["cases"]] == ids
    assert {c["outcome"] for c in dry["cases"]} == {"would_reassign"}
    assert all(e.get(i).participants["mentor"] == ["mia"] for i in ids)

    with pytest.raises(mentorflow.ValidationError) as refused:
        e.reassign("mia", "pete", operator="olga", reason="mia left")
    assert "directory role `mentor`" in str(refused.value)
    with pytest.raises(mentorflow.NotPermitted):
        e.reassign("mia", "max", operator="pat", reason="me")

    done = e.reassign("mia", "max", operator="olga", reason="mia left")
    assert {c["outcome"] for c in done["cases"]} == {"reassigned"}
    assert all(e.get(i).participants["mentor"] == ["max"] for i in ids)


def test_metrics_count_commands(paced: mentorflow.Engine) -> None:
    before = paced.metrics()
    assert before["step_latency"]["count"] == 0
    c = paced.start("paced", actor="pat")
    paced.act(c.id, "finish", actor="pat")
    with pytest.raises(mentorflow.GuardRejected):
        paced.act(c.id, "finish", actor="pat")
    m = paced.metrics()
    counts = {(x["command"], x["outcome"]): x["count"] for x in m["commands"]}
    assert counts == {("start", "ok"): 1, ("act", "ok"): 1, ("act", "guard_rejected"): 1}
    assert m["step_latency"]["count"] == 3
    assert m["open_incidents"] == 0 and m["timers_due"] == 0


def test_control_cases_by_a_filter_after_a_dry_run(paced: mentorflow.Engine) -> None:
    a = paced.start("paced", actor="pat")
    b = paced.start("paced", actor="pat")
    done = paced.start("paced", actor="pat")
    paced.act(done.id, "finish", actor="pat")
    with pytest.raises(mentorflow.Error):
        paced.control_cases("suspend", operator="olga", reason="audit")
    with pytest.raises(ValueError):
        paced.control_cases("pause", operator="olga", reason="audit", workflow="paced")  # type: ignore[arg-type]
    with pytest.raises(mentorflow.NotPermitted):
        paced.control_cases("suspend", operator="pat", reason="me", workflow="paced")
    dry = paced.control_cases(
        "suspend", operator="olga", reason="audit", workflow="paced", fields={"pings": 0}, dry_run=True
    )
    assert [(x["case"], x["outcome"]) for x in dry["cases"]] == [
        (a.id, "would_suspend"),
        (b.id, "would_suspend"),
    ]
    assert paced.get(a.id).suspended is None
    real = paced.control_cases("suspend", operator="olga", reason="audit", state="waiting")
    assert [x["outcome"] for x in real["cases"]] == ["suspended", "suspended"]
    suspended = paced.get(b.id).suspended
    assert suspended is not None and suspended["by"] == "olga"
    back = paced.control_cases("resume", operator="olga", reason="over", org="ch1")
    assert [x["case"] for x in back["cases"]] == [a.id, b.id]
    assert paced.get(a.id).suspended is None
