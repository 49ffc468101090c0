"""Every exception class, with its code and details as attributes."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from conftest import FIXTURES, REQUEST, T0, assigned

import mentorflow

ALL = [
    (mentorflow.DefinitionError, "definition"),
    (mentorflow.ValidationError, "validation"),
    (mentorflow.GuardRejected, "guard_rejected"),
    (mentorflow.NotPermitted, "not_permitted"),
    (mentorflow.NotFound, "not_found"),
    (mentorflow.Conflict, "conflict"),
    (mentorflow.ScriptError, "script"),
    (mentorflow.StorageError, "storage"),
]


@pytest.mark.parametrize("cls,code", ALL)
def test_tree_and_codes(cls: type[mentorflow.Error], code: str) -> None:
    assert issubclass(cls, mentorflow.Error)
    assert issubclass(cls, Exception)
    assert cls.code == code
    e = cls("boom")
    assert e.message == "boom" and str(e) == "boom" and e.code == code
    assert repr(e) == f"{cls.__name__}('boom', code='{code}')"
    # Tracebacks name the public class: mentorflow.GuardRejected.
    assert cls.__module__ == "mentorflow"
    assert getattr(mentorflow, cls.__name__) is cls


def test_definition_error_lists_every_problem() -> None:
    bad = FIXTURES / "invalid-unknown-state.yaml"
    with pytest.raises(mentorflow.DefinitionError) as info:
        mentorflow.Engine(":memory:", workflows=bad)
    e = info.value
    assert e.code == "definition"
    errors = e.errors()
    assert len(errors) == 3
    assert all(set(p) == {"file", "line", "column", "path", "message"} for p in errors)
    by_path = {p["path"]: p for p in errors}
    to = by_path["actions.create.to"]
    assert (to["line"], to["column"]) == (8, 17)
    assert "unknown state `opened`" in to["message"] and "did you mean `open`" in to["message"]
    assert to["file"].endswith("invalid-unknown-state.yaml")
    assert by_path["actions.close.to"]["line"] == 9
    assert "3 problems" in str(e)
    # errors() hands out copies.
    errors[0]["line"] = -1
    assert e.errors()[0]["line"] != -1


def test_definition_error_for_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(mentorflow.DefinitionError) as info:
        mentorflow.Engine(":memory:", workflows=tmp_path / "nowhere")
    [problem] = info.value.errors()
    assert problem["file"] == str(tmp_path / "nowhere")
    assert "cannot read the workflows folder" in problem["message"]


def test_definition_error_for_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(mentorflow.DefinitionError) as info:
        mentorflow.Engine(":memory:", workflows=[REQUEST, tmp_path / "missing.yaml"])
    [problem] = info.value.errors()
    assert problem["file"] == str(tmp_path / "missing.yaml")
    assert "folder" not in problem["message"]


def test_validation_error(engine: mentorflow.Engine) -> None:
    with pytest.raises(mentorflow.ValidationError) as info:
        engine.start("request", actor="pat", data={})
    e = info.value
    assert e.code == "validation"
    assert e.field is not None and "client_name" in e.field
    assert "client_name" in e.message
    case = assigned(engine)
    with pytest.raises(mentorflow.ValidationError) as info:
        engine.act(case.id, "accept", actor="alice", inputs={})
    assert info.value.field == "inputs.note"
    with pytest.raises(mentorflow.ValidationError) as info:
        engine.act(case.id, "accept", actor="alice", inputs={"note": "x", "extra": 1})
    assert info.value.field == "inputs.extra"


def test_guard_rejected_with_message_and_suggestions(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    before = engine.get(case.id)
    with pytest.raises(mentorflow.GuardRejected) as info:
        engine.act(case.id, "log_session", actor="alice")
    e = info.value
    assert e.code == "guard_rejected"
    assert e.message == "You must accept or decline this request before adding a session."
    assert e.suggest == ["accept", "decline"]
    assert (e.workflow, e.action, e.state, e.rule) == ("request", "log_session", "pending", "state")
    assert engine.get(case.id) == before  # nothing changed
    engine.act(case.id, "accept", actor="alice", inputs={"note": "hi"})
    with pytest.raises(mentorflow.GuardRejected) as info:
        engine.act(case.id, "complete", actor="alice")
    assert info.value.message == "Log at least one session before completing"
    assert info.value.suggest == ["log_session"]
    assert info.value.rule.startswith("guard")


def test_guard_rejected_by_a_directory_lookup(engine: mentorflow.Engine) -> None:
    case = engine.start("request", actor="pat", data={"client_name": "P"})
    with pytest.raises(mentorflow.GuardRejected, match="Only active mentors"):
        engine.act(case.id, "assign", actor="cody", inputs={"mentor": "bob"})


def test_not_permitted(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    with pytest.raises(mentorflow.NotPermitted) as info:
        engine.act(case.id, "accept", actor="cody", inputs={"note": "x"})
    e = info.value
    assert e.code == "not_permitted"
    assert (e.workflow, e.action, e.actor) == ("request", "accept", "cody")
    assert e.message


def test_not_found(engine: mentorflow.Engine) -> None:
    with pytest.raises(mentorflow.NotFound) as info:
        engine.start("nope", actor="pat")
    e = info.value
    assert (e.code, e.kind, e.id) == ("not_found", "workflow", "nope")
    assert e.hint is not None and "request" in e.hint
    with pytest.raises(mentorflow.NotFound) as info:
        engine.people.get("ghost")
    assert info.value.kind == "person"
    case = assigned(engine)
    with pytest.raises(mentorflow.NotFound) as info:
        engine.act(case.id, "fly", actor="alice")
    assert info.value.kind == "action"


def test_conflict(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    engine.act(case.id, "accept", actor="alice", inputs={"note": "x"})
    with pytest.raises(mentorflow.Conflict) as info:
        engine.act(case.id, "log_session", actor="alice", revision=1)
    e = info.value
    assert e.code == "conflict"
    assert (e.case_id, e.expected, e.actual) == (case.id, 1, 3)
    assert "reload" in e.message


def test_script_error_names_the_script(typed: mentorflow.Engine) -> None:
    case = typed.start("typed", actor="owner", data={"title": "T", "count": 1})
    # `score` calls py_score(), which nobody registered.
    with pytest.raises(mentorflow.ScriptError) as info:
        typed.act(case.id, "score", actor="owner")
    e = info.value
    assert e.code == "script"
    assert (e.workflow, e.version, e.path) == ("typed", 1, "actions.score.run")
    assert e.file.endswith("types.yaml") and e.line > 1 and e.column >= 1
    assert "py_score" in e.reason
    assert typed.get(case.id).revision == 1  # rolled back


def test_storage_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not a database at all" * 200)
    with pytest.raises(mentorflow.StorageError) as info:
        mentorflow.Engine(junk, workflows=REQUEST, now=T0)
    assert info.value.code == "storage"
    assert "not a valid mentorflow database" in info.value.message


def test_errors_pickle_with_their_details(engine: mentorflow.Engine) -> None:
    case = assigned(engine)
    with pytest.raises(mentorflow.GuardRejected) as info:
        engine.act(case.id, "log_session", actor="alice")
    again = pickle.loads(pickle.dumps(info.value))
    assert type(again) is mentorflow.GuardRejected
    assert again.message == info.value.message
    assert again.suggest == ["accept", "decline"] and again.code == "guard_rejected"
    with pytest.raises(mentorflow.DefinitionError) as d:
        mentorflow.Engine(":memory:", workflows=FIXTURES / "invalid-unknown-state.yaml")
    assert pickle.loads(pickle.dumps(d.value)).errors() == d.value.errors()


def test_catch_all_with_the_base_class(engine: mentorflow.Engine) -> None:
    for call in (
        lambda: engine.get(4242),
        lambda: engine.start("request", actor="pat", data={}),
        lambda: engine.view("nope", viewer="pat"),
    ):
        with pytest.raises(mentorflow.Error) as info:
            call()
        assert info.value.code in {"not_found", "validation"}
