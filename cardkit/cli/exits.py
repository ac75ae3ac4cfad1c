"""Exit codes of every `cardkit` command, and the one mapping from errors to them."""

from __future__ import annotations

import sys

from cardkit.errors import CardError, CardkitError, ProtocolError, TransportError

EXIT_OK = 0
EXIT_PROBLEMS = 1  # a check found problems: bad records, an INVALID card, invalid files
EXIT_USAGE = 2  # usage error or unusable input
EXIT_CARD = 3  # reader, card or protocol error
EXIT_JOURNAL = 4  # the batch journal stayed unreachable: run the station again when it is back


def exit_code_for(error: CardkitError) -> int:
    if isinstance(error, TransportError | CardError | ProtocolError):
        return EXIT_CARD
    # Only a batch command can raise it, so its module is loaded when it matters: looked up
    # here, not imported, to keep `cardkit --help` free of the batch code (tests/cli).
    journal = sys.modules.get("cardkit.batch.journal")
    if journal is not None and isinstance(error, journal.JournalUnavailableError):
        return EXIT_JOURNAL
    return EXIT_USAGE
