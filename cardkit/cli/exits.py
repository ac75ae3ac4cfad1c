"""Exit codes of every `cardkit` command, and the one mapping from errors to them."""

from __future__ import annotations

from cardkit.errors import CardError, CardkitError, ProtocolError, TransportError

EXIT_OK = 0
EXIT_PROBLEMS = 1  # a check found problems: bad records, an INVALID card, invalid files
EXIT_USAGE = 2  # usage error or unusable input
EXIT_CARD = 3  # reader, card or protocol error


def exit_code_for(error: CardkitError) -> int:
    if isinstance(error, TransportError | CardError | ProtocolError):
        return EXIT_CARD
    return EXIT_USAGE
