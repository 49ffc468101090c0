"""The audit log from Python (core/tests/audit.rs has the full story)."""

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
states:
  waiting: { label: Waiting }
  done: { label: Done, final: true }
actions:
  create: { to: waiting, by: owner, run: 'assign("owner", actor.id)' }
  finish: { from: waiting, to: done, by: owner }
"""


def test_the_audit_lists_who_changed_what(tmp_path: Path) -> None:
    path = tmp_path / "paced.yaml"
    path.write_text(PACED)
    e = mentorflow.Engine(":memory:", workflows=path, now=T0, actor="deployer")
    assert e.actor == "deployer"
    e.actor = "hr"
    e.people.put("olga", org="ch1", roles=["admin"])
    e.people.put("pat", org="ch1")
    e.advance(timedelta(hours=1))
    c = e.start("paced", actor="pat")
    e.suspend_case(c.id, operator="olga", reason="on leave")
    log = e.audit()
    assert [(a["kind"], a["actor"], a["subject"]) for a in log] == [
        ("definition.deploy", "deployer", "definition:paced@1"),
        ("person.put", "hr", "person:olga"),
        ("person.put", "hr", "person:pat"),
        ("case.suspend", "olga", f"case:{c.id}"),
    ]
    assert log[1]["before"] is None
    assert log[1]["after"]["roles"] == ["admin"]
    assert log[3]["reason"] == "on leave"
    assert log[3]["at"] == T0 + timedelta(hours=1)
    assert [a["kind"] for a in e.audit(kind="person")] == ["person.put", "person.put"]
    assert [a["kind"] for a in e.audit(since=T0 + timedelta(minutes=30))] == [
        "case.suspend"
    ]
    assert len(e.audit(by="hr")) == 2
    with pytest.raises(mentorflow.ValidationError):
        e.actor = " "


def test_forget_person_dry_run_then_blank(tmp_path: Path) -> None:
    path = tmp_path / "paced.yaml"
    path.write_text(PACED)
    e = mentorflow.Engine(":memory:", workflows=path, now=T0)
    e.people.put("olga", org="ch1", roles=["admin"])
    e.people.put("pat", org="ch1", name="Pat Zqxmark")
    c = e.start("paced", actor="pat")
    dry = e.forget_person("pat", operator="olga", reason="request 7", dry_run=True)
    assert dry["dry_run"] is True and dry["pseudonym"] == "forgotten-1"
    assert dry["cases"] == [c.id]
    assert e.people.get("pat").name == "Pat Zqxmark"
    with pytest.raises(mentorflow.NotPermitted):
        e.forget_person("pat", operator="pat", reason="x")
    done = e.forget_person("pat", operator="olga", reason="request 7")
    assert done["places"] == dry["places"]
    with pytest.raises(mentorflow.NotFound):
        e.people.get("pat")
    assert e.get(c.id).participants["owner"] == ["forgotten-1"]
    assert "zqxmark" not in repr(e.audit()).lower()


def test_run_retention_dry_run_and_export(tmp_path: Path) -> None:
    path = tmp_path / "paced.yaml"
    path.write_text(PACED)
    e = mentorflow.Engine(":memory:", workflows=path, now=T0)
    e.people.put("pat", org="ch1")
    e.orgs.put("ch1", settings={"retention": {"after_days": 30, "then": "purge"}})
    c = e.start("paced", actor="pat")
    e.act(c.id, "finish", actor="pat")
    open_case = e.start("paced", actor="pat")
    e.advance(timedelta(days=40))
    dry = e.run_retention(dry_run=True)
    assert [(x["case"], x["outcome"]) for x in dry["cases"]] == [(c.id, "would_purge")]
    export = tmp_path / "closed.jsonl"
    with pytest.raises(ValueError):
        e.run_retention()
    done = e.run_retention(export=export)
    assert [x["outcome"] for x in done["cases"]] == ["purged"]
    assert str(c.id) in export.read_text()
    with pytest.raises(mentorflow.NotFound):
        e.get(c.id)
    assert e.get(open_case.id).state == "waiting"
    with pytest.raises(ValueError):
        e.run_retention(export=export)
