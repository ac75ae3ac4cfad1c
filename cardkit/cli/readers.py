"""``cardkit readers``: the PC/SC readers and whether a card is present.

Reads the state pcscd already knows (no connection, no reset), so it is safe to run while
another program uses a card. When pcscd cannot be reached the transport raises TransportError
("pcscd is not running: start it with ..."), which ``cardkit`` maps to exit code 3.

Each line starts with the reader's index, which ``--reader`` accepts as well as the name or a
part of it (:func:`cardkit.transport.readers.resolve_reader`).
"""

from __future__ import annotations

import click

from cardkit.cli.render import echo_json
from cardkit.transport.pcsc import ReaderStatus, reader_statuses


def _line(index: int, status: ReaderStatus) -> str:
    if not status.card_present:
        return f"{index} {status.name}: no card"
    state = "card present"
    if status.mute:
        state += " (mute)"
    if status.in_use:
        state += " (in use)"
    if status.atr is not None:
        state += f", ATR {status.atr.hex(' ').upper()}"
    return f"{index} {status.name}: {state}"


@click.command("readers")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def readers(as_json: bool) -> None:
    """List PC/SC readers with their index, whether a card is present, and its ATR.

    ``--reader`` takes the index, the exact name or a case-insensitive part of the name.
    """
    statuses = reader_statuses()
    if as_json:
        listed = [{"index": i, **status.describe()} for i, status in enumerate(statuses)]
        echo_json("readers", {"readers": listed})
        return
    if not statuses:
        click.echo("no PC/SC readers")
        return
    for index, status in enumerate(statuses):
        click.echo(_line(index, status))
