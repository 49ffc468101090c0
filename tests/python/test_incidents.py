"""Incidents from Python: a timer firing that fails is retried, left open, and an operator
retries or resolves it (core/tests/incidents.rs has the full story)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import mentorflow

from conftest import T0

FLAKY = """
workflow: flaky
version: 1
settings:
  ready: false
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
        run: |
          if !settings.ready { throw "the mail template is not ready"; }
          fields.pings += 1;
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner, run: 'assign("owner", actor.id)' }
  finish: { from: waiting, to: done, by: owner }
"""


@pytest.fixture
def flaky(tmp_path: Path) -> mentorflow.Engine:
    path = tmp_path / "flaky.yaml"
    path.write_text(FLAKY)
    e = mentorflow.Engine(":memory:", workflows=path, now=T0)
    e.people.put("pat", org="ch1")
    e.people.put("olga", org="ch1", roles=["admin"])
    e.orgs.put("ch1", settings={"incident_max_attempts": 2})
    return e


def test_an_incident_is_opened_listed_retried_and_resolved(flaky: mentorflow.Engine) -> None:
    a = flaky.start("flaky", actor="pat")
    b = flaky.start("flaky", actor="pat")
    report = flaky.advance(timedelta(hours=2))
    assert len(report.failed) == 4  # two cases, two attempts each
    assert flaky.incidents(status="resolved") == []
    incidents = flaky.incidents()
    assert [(i["case_id"], i["timer"], i["status"]) for i in incidents] == [
        (a.id, "remind", "open"),
        (b.id, "remind", "open"),
    ]
    first = incidents[0]
    assert first["attempts"] == 2 and first["next_attempt_at"] is None
    assert "states.waiting.timers[0].run" in first["error"]
    assert first["first_at"] == T0 + timedelta(hours=1)

    with pytest.raises(mentorflow.NotPermitted):
        flaky.retry_incident(first["id"], operator="pat")
    again = flaky.retry_incident(first["id"])
    assert again["status"] == "open" and again["attempts"] == 3

    flaky.orgs.put("ch1", settings={"ready": True})
    done = flaky.retry_incident(first["id"], operator="olga")
    assert done["status"] == "resolved" and done["resolved_by"] == "olga"
    assert flaky.get(a.id).data["pings"] == 1

    with pytest.raises(mentorflow.ValidationError):
        flaky.resolve_incident(incidents[1]["id"], "  ")
    gone = flaky.resolve_incident(incidents[1]["id"], "not needed", operator="olga")
    assert gone["note"] == "not needed"
    assert flaky.incidents() == []
    assert len(flaky.incidents(all=True, case_id=b.id)) == 1
    with pytest.raises(mentorflow.NotFound):
        flaky.retry_incident(999)
