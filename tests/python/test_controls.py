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
