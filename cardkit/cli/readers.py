"""``cardkit readers``: the PC/SC readers and whether a card is present.

Reads the state pcscd already knows (no connection, no reset), so it is safe to run while
another program uses a card. When pcscd cannot be reached the transport raises TransportError
("no PC/SC readers (is pcscd running?)"), which ``cardkit`` maps to exit code 3.
"""

from __future__ import annotations

import json

import click

from cardkit.transport.pcsc import ReaderStatus, reader_statuses


def _line(status: ReaderStatus) -> str:
    if not status.card_present:
        return f"{status.name}: no card"
    state = "card present"
    if status.mute:
        state += " (mute)"
    if status.in_use:
        state += " (in use)"
    if status.atr is not None:
        state += f", ATR {status.atr.hex(' ').upper()}"
    return f"{status.name}: {state}"


@click.command("readers")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list instead of text.")
def readers(as_json: bool) -> None:
    """List PC/SC readers, whether a card is present, and its ATR."""
    statuses = reader_statuses()
    if as_json:
        click.echo(json.dumps([status.describe() for status in statuses], indent=2))
        return
    if not statuses:
        click.echo("no PC/SC readers")
        return
    for status in statuses:
        click.echo(_line(status))
