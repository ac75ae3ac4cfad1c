"""``cardkit emulator``: run cardkit's software chip in a vpcd virtual reader.

``cardkit emulator start --slot N`` connects an :class:`cardkit.emulator.card.EmulatedCard` to
vpcd on port 35963 + N (pcscd must be running with vpcd readers: ``scripts/virtual-reader.sh
start``) and serves it in the foreground until SIGTERM or Ctrl-C, which removes the card from the
reader. ``--state FILE`` keeps the card's contents across runs: the same file brings the same
card back.
"""

from __future__ import annotations

from pathlib import Path

import click

from cardkit.emulator.vpcd import (
    VpcdBridge,
    port_for_slot,
    reader_name_for_slot,
    slot_for_port,
)


@click.group("emulator")
def emulator() -> None:
    """Run cardkit's emulated chip card in a virtual (vpcd) PC/SC reader."""


@emulator.command("start")
@click.option(
    "--slot",
    type=click.IntRange(0, 15),
    default=None,
    help="Virtual reader number: vpcd port 35963 + N (default 0, 'Virtual PCD 00 00').",
)
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help="vpcd TCP port, instead of --slot.",
)
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File holding the card's contents across runs (default: a blank card in memory).",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Where vpcd (pcscd) runs.")
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Seconds to keep trying to reach vpcd, at start and after pcscd restarts.",
)
def start(
    slot: int | None, port: int | None, state_file: Path | None, host: str, wait: float
) -> None:
    """Serve an emulated card to vpcd until SIGTERM or Ctrl-C."""
    if slot is not None and port is not None:
        raise click.UsageError("give --slot or --port, not both")
    if port is None:
        port = port_for_slot(slot or 0)
    from cardkit.emulator.card import EmulatedCard

    card = EmulatedCard.open(state_file)
    bridge = VpcdBridge(card, host=host, port=port, connect_timeout=wait)
    known_slot = slot_for_port(port)
    reader = (
        f"reader '{reader_name_for_slot(known_slot)}'" if known_slot is not None else "a reader"
    )
    click.echo(
        f"cardkit emulator: card (ATR {card.atr.hex().upper()}) for {reader} via vpcd at "
        f"{host}:{port}; stop with Ctrl-C or SIGTERM"
    )
    # The CLI's error mapping turns a TransportError (vpcd unreachable) into exit code 3.
    bridge.run_forever()
    click.echo(f"cardkit emulator: stopped after {bridge.apdu_count} APDUs; card removed")


if __name__ == "__main__":  # python -m cardkit.cli.emulator start ... (without the main group)
    emulator(prog_name="cardkit emulator")
