"""The mentorflow exception tree.

Every error the engine reports is a :class:`Error` with a stable ``.code``, a ``.message``
and its details as attributes. The engine maps its errors to these classes in one place
(``bindings/python/src/errors.rs``).

========================  ==================  ===================================================
class                     ``.code``           what to do
========================  ==================  ===================================================
:class:`DefinitionError`  ``definition``      fix the workflow file; ``errors()`` lists every problem
:class:`ValidationError`  ``validation``      fix the input, field or setting named by ``.field``
:class:`GuardRejected`    ``guard_rejected``  show ``.message`` to the person, offer ``.suggest``
:class:`NotPermitted`     ``not_permitted``   the person lacks a role the action names
:class:`NotFound`         ``not_found``       the case, action, person, view… does not exist
                                              (or is not visible to the person asking)
:class:`Conflict`         ``conflict``        reload the case and retry
:class:`ScriptError`      ``script``          a guard, effect, timer or template script failed
:class:`StorageError`     ``storage``         the database failed (disk, lock, corruption), or a
                                              write on an engine opened ``read_only=True``
:class:`Error`            ``closed``          the engine was closed: open a new one
========================  ==================  ===================================================
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple, Type

__all__ = [
    "Error",
    "DefinitionError",
    "ValidationError",
    "GuardRejected",
    "NotPermitted",
    "NotFound",
    "Conflict",
    "ScriptError",
    "StorageError",
]


def _rebuild(cls: Type[Error], message: str, details: Dict[str, Any]) -> Error:
    return cls(message, **details)


class Error(Exception):
    """Base class of every mentorflow error.

    Attributes:
        message: What went wrong, in plain words.
        code: A stable, machine-readable code (``definition``, ``validation``,
            ``guard_rejected``, ``not_permitted``, ``not_found``, ``conflict``, ``script``,
            ``storage``; ``closed`` for a call on a closed engine; ``error`` for anything
            else).
    """

    code: str = "error"
    message: str

    def __init__(self, message: str, *, code: Optional[str] = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self._details: Dict[str, Any] = dict(details)
        for name, value in details.items():
            setattr(self, name, value)

    def __reduce__(self) -> Tuple[Any, ...]:
        details = dict(self._details)
        details["code"] = self.code
        return (_rebuild, (type(self), self.message, details))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, code={self.code!r})"


class DefinitionError(Error):
    """A workflow definition (or a scenario file) is invalid.

    Every problem is listed, each with its file, line and column; :meth:`errors` returns them.
    """

    code = "definition"
    problems: List[Dict[str, Any]]

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        problems: Optional[List[Dict[str, Any]]] = None,
        **details: Any,
    ) -> None:
        super().__init__(message, code=code, problems=list(problems or []), **details)

    def errors(self) -> List[Dict[str, Any]]:
        """Every problem found, as dicts with ``file``, ``line``, ``column``, ``path`` (the
        YAML path of the offending value) and ``message``."""
        return [dict(p) for p in self.problems]


class ValidationError(Error, ValueError):
    """An input, a field, a setting or a value is invalid.

    Also a :class:`ValueError`, so ``except ValueError`` catches it.

    Attributes:
        workflow: The workflow concerned, if any.
        field: The input, field or setting that is invalid (``inputs.note``,
            ``fields.description``, ``settings.x``), if known.
    """

    code = "validation"
    workflow: Optional[str] = None
    field: Optional[str] = None


class GuardRejected(Error):
    """The action is not possible now: a guard said no, or the case is not in a state the
    action starts from. Nothing was changed.

    Attributes:
        message: The message for the person.
        suggest: Actions that would help (for example ``["accept", "decline"]``).
        workflow: The workflow id.
        action: The refused action.
        state: The case's state at the time.
        rule: Which rule refused: ``state``, ``guard[N]``, ``check[N]``, ``capacity`` or ``fail``.
    """

    code = "guard_rejected"
    suggest: List[str]
    workflow: str = ""
    action: str = ""
    state: str = ""
    rule: str = ""

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        suggest: Optional[List[str]] = None,
        **details: Any,
    ) -> None:
        super().__init__(message, code=code, suggest=list(suggest or []), **details)


class NotPermitted(Error, PermissionError):
    """The person does not hold a role the action names.

    Also a :class:`PermissionError`, so ``except PermissionError`` catches it.

    Attributes:
        workflow: The workflow id.
        action: The action.
        actor: The person who tried.
    """

    code = "not_permitted"
    workflow: str = ""
    action: str = ""
    actor: str = ""


class NotFound(Error, LookupError):
    """Something named does not exist, or is not visible to the person asking.

    Also a :class:`LookupError`, so ``except LookupError`` catches it.

    Attributes:
        kind: ``case``, ``workflow``, ``action``, ``person``, ``organisation``, ``view``,
            ``export`` or ``notification``.
        id: The id that was asked for.
        hint: Similar names, or another hint, if any.
    """

    code = "not_found"
    kind: str = ""
    id: str = ""
    hint: Optional[str] = None


class Conflict(Error):
    """A concurrent change won: the case is not at the revision the caller expected.

    Attributes:
        case_id: The case.
        expected: The revision the caller expected.
        actual: The revision found.
    """

    code = "conflict"
    case_id: int = 0
    expected: int = 0
    actual: int = 0


class ScriptError(Error):
    """A script failed or exceeded a sandbox limit; the whole command was rolled back.

    Attributes:
        reason: What went wrong in the script.
        workflow: The workflow id.
        version: The workflow version.
        path: The YAML path of the script (``actions.accept.run``).
        file: The definition's file.
        line: 1-based line in the file.
        column: 1-based column in the file.
    """

    code = "script"
    reason: str = ""
    workflow: str = ""
    version: int = 0
    path: str = ""
    file: str = ""
    line: int = 0
    column: int = 0


class StorageError(Error):
    """The database failed (disk full, locked past the timeout, corrupt, read-only), or a
    write was tried on an engine opened with ``read_only=True``."""

    code = "storage"


# Tracebacks and reprs name the public package: mentorflow.GuardRejected.
for _cls in (
    Error,
    DefinitionError,
    ValidationError,
    GuardRejected,
    NotPermitted,
    NotFound,
    Conflict,
    ScriptError,
    StorageError,
):
    _cls.__module__ = "mentorflow"
del _cls
