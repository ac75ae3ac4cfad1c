"""Journal operations the database aborts as transient (a deadlock between stations,
PostgreSQL SQLSTATE 40P01) are run again as a whole; other errors are not retried."""

from __future__ import annotations

from typing import Any

import pytest

from cardkit.batch import journal
from cardkit.batch.journal import JournalError, TransientJournalError, _retried


def test_a_transient_abort_is_retried_until_it_succeeds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal.time, "sleep", lambda _s: None)
    calls: list[int] = []

    @_retried
    def operation(value: int) -> int:
        calls.append(value)
        if len(calls) < 3:
            raise TransientJournalError("journal x: deadlock detected")
        return value * 2

    assert operation(21) == 42
    assert calls == [21, 21, 21]


def test_a_lasting_transient_abort_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal.time, "sleep", lambda _s: None)
    calls: list[Any] = []

    @_retried
    def operation() -> None:
        calls.append(None)
        raise TransientJournalError("journal x: deadlock detected")

    with pytest.raises(TransientJournalError):
        operation()
    assert len(calls) == journal.TRANSIENT_ATTEMPTS


def test_other_journal_errors_are_not_retried() -> None:
    calls: list[Any] = []

    @_retried
    def operation() -> None:
        calls.append(None)
        raise JournalError("record 3: cannot mark it prepared")

    with pytest.raises(JournalError):
        operation()
    assert len(calls) == 1
