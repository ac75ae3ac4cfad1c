"""Journal operations the database aborts as transient (a deadlock between stations,
PostgreSQL SQLSTATE 40P01) are run again as a whole; other errors are not retried. A database
that cannot be reached is retried with backoff, the operator told, until the journal timeout
(issue 14 §4); a transition whose COMMIT answer was lost accepts finding itself done."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cardkit.batch import journal
from cardkit.batch.journal import (
    BatchInfo,
    JournalError,
    JournalUnavailableError,
    JournalUnreachableError,
    NewRecord,
    SqliteJournal,
    TransientJournalError,
    _retried,
)
from cardkit.cli.exits import EXIT_JOURNAL, exit_code_for


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


class _Flaky:
    """A journal-like object whose operation cannot reach the database ``failures`` times."""

    url = "postgresql://station@db/line"

    def __init__(self, failures: int, timeout: float) -> None:
        self.failures = failures
        self.unreachable_timeout = timeout
        self.told: list[tuple[int, str | None]] = []
        self.on_unreachable = lambda attempt, reason: self.told.append((attempt, reason))
        self.calls = 0

    @_retried
    def operation(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise JournalUnreachableError("server closed the connection unexpectedly")
        return "done"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_an_unreachable_journal_is_retried_with_backoff_and_the_operator_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr(journal.time, "sleep", clock.sleep)
    monkeypatch.setattr(journal.time, "monotonic", lambda: clock.now)
    flaky = _Flaky(failures=4, timeout=300)
    assert flaky.operation() == "done"
    assert [a for a, _ in flaky.told] == [1, 2, 3, 4, 0]  # 0: reachable again
    assert flaky.told[0][1] == "server closed the connection unexpectedly"
    assert clock.slept == sorted(clock.slept) and clock.slept[0] < clock.slept[-1]  # backoff


def test_an_unreachable_journal_stops_the_station_after_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Clock()
    monkeypatch.setattr(journal.time, "sleep", clock.sleep)
    monkeypatch.setattr(journal.time, "monotonic", lambda: clock.now)
    flaky = _Flaky(failures=10**6, timeout=30)
    with pytest.raises(JournalUnavailableError, match="unreachable for 30 s") as raised:
        flaky.operation()
    assert 29 <= clock.now <= 31 and max(clock.slept) <= journal.UNREACHABLE_MAX_BACKOFF * 1.25
    assert exit_code_for(raised.value) == EXIT_JOURNAL == 4


def test_transitions_found_done_by_a_lost_answer_are_accepted(tmp_path: Path) -> None:
    """A COMMIT whose answer was lost is run again: every transition accepts its own result."""
    j = SqliteJournal(tmp_path / "j.sqlite")
    j.load(
        BatchInfo("b-1", "b.csv", "00" * 32, "vn-cccd-2021", 1),
        [NewRecord(2, "b-00002", "pending", document_number="093047064")],
    )
    rec = j.claim("b-1", "s1")
    assert rec is not None
    for _ in range(2):
        assert j.begin_image("b-1", 2, "s1", "b-00002")
    for _ in range(2):
        j.mark_prepared("b-1", 2, "s1", image_id="b-00002", sod_digest="ab", dsc_serial="1")
    attempts = {j.begin_card("b-1", 2, "s1", "CHIP-1") for _ in range(2)}
    assert attempts == {1}
    for _ in range(2):
        j.mark_personalized("b-1", 2, 1)
    for _ in range(2):
        j.mark_verified("b-1", 2, 1)
    for _ in range(2):
        j.mark_printed("b-1", 2, ["x.pdf"])
    (done,) = j.records("b-1")
    assert done.state == "printed" and done.attempts == 1
    assert [c.state for c in j.cards("b-1")] == ["verified"]
