"""Result lists: ordinary lists with a ``to_pandas()`` helper.

pandas is not a dependency of mentorflow: ``to_pandas()`` imports it when called and says
how to install it when it is missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List

if TYPE_CHECKING:  # pragma: no cover
    import pandas  # type: ignore[import-untyped,unused-ignore]

    from ._mentorflow import Case, Event, Notification

__all__ = ["CaseList", "EventList", "NotificationList", "Rows"]


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as e:
        raise ImportError(
            "to_pandas() needs pandas, which mentorflow does not install: pip install pandas"
        ) from e
    return pandas


def _frame(records: List[Dict[str, Any]], columns: List[str]) -> pandas.DataFrame:
    pd = _pandas()
    if not records:
        return pd.DataFrame(columns=columns)
    # Nested dicts (case data, participants, inputs) become dotted columns: data.client_name.
    return pd.json_normalize(records, sep=".")


_CASE_COLUMNS = [
    "id", "workflow", "version", "org", "state", "state_label", "tags", "open",
    "revision", "created_at", "updated_at", "parent",
]
_EVENT_COLUMNS = ["id", "case_id", "seq", "at", "actor", "action", "from_state", "to_state"]
_NOTIFICATION_COLUMNS = [
    "id", "case_id", "to", "template", "subject", "body", "at", "delivered_at",
    "acked_at", "attempts", "last_error",
]


class CaseList(List["Case"]):
    """A list of :class:`Case` (from ``cases()`` and ``view()``)."""

    def to_pandas(self) -> pandas.DataFrame:
        """One row per case; ``data`` and ``participants`` become dotted columns
        (``data.client_name``, ``participants.mentor``). Needs pandas."""
        return _frame([c.to_dict() for c in self], _CASE_COLUMNS)


class EventList(List["Event"]):
    """A list of :class:`Event` (from ``history()``)."""

    def to_pandas(self) -> pandas.DataFrame:
        """One row per event; inputs become dotted columns (``inputs.note``). Needs pandas."""
        return _frame([e.to_dict() for e in self], _EVENT_COLUMNS)


class NotificationList(List["Notification"]):
    """A list of :class:`Notification` (from ``notifications()``)."""

    def to_pandas(self) -> pandas.DataFrame:
        """One row per notification. Needs pandas."""
        return _frame([n.to_dict() for n in self], _NOTIFICATION_COLUMNS)


class Rows(List[Dict[str, Any]]):
    """The rows of an export: one dict per row, keyed by column, in ``columns`` order."""

    columns: List[str]

    def __init__(self, rows: Any = (), columns: Any = None) -> None:
        super().__init__(rows)
        self.columns = list(columns) if columns is not None else (list(self[0]) if self else [])

    def to_pandas(self) -> pandas.DataFrame:
        """The export as a DataFrame with the export's columns, in order. Needs pandas."""
        pd = _pandas()
        return pd.DataFrame(list(self), columns=self.columns)
