"""The checkpoint loop of ``cardkit verify --watch``: wait for a card, inspect it, report, wait
for its removal, again.

The reader's state comes from PC/SC (:func:`cardkit.transport.pcsc.reader_statuses`: a card
present, or present but mute: it does not answer to reset), polled: pcscd itself notices cards
every ~400 ms (DOMAIN.md §8). A mute card is waited on, not inspected; an unplugged reader is a
reader with no card; pcscd going away is told once, and the loop waits for it to come back.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from cardkit.errors import CardkitError

__all__ = ["watch_reader"]

R = TypeVar("R")


@dataclass(frozen=True)
class _Status:
    present: bool
    mute: bool


def _reader_state(reader: str, statuses: Callable[[], Iterable[object]]) -> _Status | None:
    """The card state of ``reader``; None when pcscd cannot be asked."""
    try:
        for status in statuses():
            if getattr(status, "name", None) == reader:
                return _Status(
                    bool(getattr(status, "card_present", False)),
                    bool(getattr(status, "mute", False)),
                )
    except CardkitError:
        return None
    return _Status(False, False)  # the reader is not there (unplugged): no card


def watch_reader(
    reader: str,
    inspect: Callable[[], R],
    report: Callable[[R | Exception], None],
    *,
    statuses: Callable[[], Iterable[object]] | None = None,
    on_event: Callable[[str], None] | None = None,
    poll: float = 0.1,
    sleep: Callable[[float], None] = time.sleep,
    max_cards: int | None = None,
) -> int:
    """The checkpoint loop: wait for a card in ``reader``, ``inspect()`` it, ``report`` the
    result (or the exception it raised: one card's failure never stops the loop), wait for
    the card to be removed, and start again. Returns the number of cards seen after
    ``max_cards`` cards (for tests); otherwise it runs until KeyboardInterrupt, which it lets
    through to the caller.

    ``statuses`` lists the readers' states (default
    :func:`cardkit.transport.pcsc.reader_statuses`, polled every ``poll`` seconds: pcscd itself
    notices cards every ~400 ms, DOMAIN.md §8). ``on_event`` hears ``"waiting"``,
    ``"inserted"``, ``"removed"`` and ``"pcscd unavailable"``.
    """
    if statuses is None:
        from cardkit.transport.pcsc import reader_statuses

        statuses = reader_statuses
    tell = on_event or (lambda _event: None)
    seen = 0
    unavailable = False

    def wait_until(present: bool) -> None:
        nonlocal unavailable
        while True:
            state = _reader_state(reader, statuses)
            if state is None:
                if not unavailable:
                    tell("pcscd unavailable")
                unavailable = True
            else:
                unavailable = False
                if state.present == present and not (present and state.mute):
                    return
            sleep(poll)

    while max_cards is None or seen < max_cards:
        tell("waiting")
        wait_until(True)
        tell("inserted")
        seen += 1
        try:
            result: R | Exception = inspect()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # one card's failure never stops the checkpoint
            result = exc
        report(result)
        wait_until(False)
        tell("removed")
    return seen
