"""The hand-written stubs match the native module and document everything public."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import mentorflow
import mentorflow._mentorflow as native

PACKAGE = Path(mentorflow.__file__).resolve().parent
STUB = PACKAGE / "_mentorflow.pyi"
# Dunders whose meaning is fixed by Python; they need no docstring.
UNDOCUMENTED = {"__new__", "__eq__", "__hash__", "__bool__", "__repr__"}


def _stub() -> ast.Module:
    return ast.parse(STUB.read_text(encoding="utf-8"))


def _classes(tree: ast.Module) -> dict[str, ast.ClassDef]:
    return {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}


def _members(cls: ast.ClassDef) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in cls.body if isinstance(n, ast.FunctionDef)}


def test_package_is_typed() -> None:
    assert (PACKAGE / "py.typed").is_file()
    assert STUB.is_file()


def test_every_native_name_is_in_the_stub_and_exported() -> None:
    tree = _stub()
    stub_names = set(_classes(tree)) | {
        n.name for n in tree.body if isinstance(n, ast.FunctionDef)
    }
    runtime = {n for n in native.__all__ if n != "__version__"}
    assert runtime == stub_names
    for name in runtime:
        assert getattr(mentorflow, name) is getattr(native, name)
        assert name in mentorflow.__all__


def test_every_public_member_is_in_the_stub() -> None:
    for name, cls in _classes(_stub()).items():
        runtime = getattr(native, name)
        public = {m for m in vars(runtime) if not m.startswith("_")}
        assert public == {m for m in _members(cls) if not m.startswith("_")}, name


def test_every_stub_entry_has_a_docstring() -> None:
    tree = _stub()
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)) and node.name not in UNDOCUMENTED:
            overloaded = any(
                isinstance(d, ast.Name) and d.id == "overload" for d in node.decorator_list
            )
            if not overloaded and ast.get_docstring(node) is None:
                missing.append(f"{node.name} (line {node.lineno})")
    assert missing == []


def test_keyword_only_parameters_match() -> None:
    """pyo3 publishes text signatures; the stub's keyword-only parameters are the same."""
    for name, cls in _classes(_stub()).items():
        runtime = getattr(native, name)
        for member, fn in _members(cls).items():
            target = runtime if member == "__new__" else getattr(runtime, member, None)
            if target is None or member.startswith("__") and member != "__new__":
                continue
            try:
                sig = inspect.signature(target)
            except (TypeError, ValueError):
                continue  # properties have no signature
            kwonly = [p.name for p in sig.parameters.values() if p.kind is p.KEYWORD_ONLY]
            assert kwonly == [a.arg for a in fn.args.kwonlyargs], f"{name}.{member}"


def test_exceptions_are_documented() -> None:
    for cls in (
        mentorflow.Error,
        mentorflow.DefinitionError,
        mentorflow.ValidationError,
        mentorflow.GuardRejected,
        mentorflow.NotPermitted,
        mentorflow.NotFound,
        mentorflow.Conflict,
        mentorflow.ScriptError,
        mentorflow.StorageError,
    ):
        assert cls.__doc__ and len(cls.__doc__) > 40, cls.__name__
    assert mentorflow.DefinitionError.errors.__doc__
