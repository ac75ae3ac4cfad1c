"""``cardkit emulator``: run cardkit's software chip in a vpcd virtual reader.

``cardkit emulator start --slot N`` connects a software card to vpcd on port 35963 + N (pcscd must
be running with vpcd readers: ``scripts/virtual-reader.sh start``) and serves it in the foreground
until SIGTERM or Ctrl-C, which removes the card from the reader. ``--applet`` chooses the card:
``cardkit`` (default) is :class:`cardkit.emulator.card.EmulatedCard`, cardkit's extended
personalization protocol; ``jmrtd`` is :class:`cardkit.emulator.jmrtd.JmrtdApplet`, the genuine
JMRTD passport applet production lines write. ``--state FILE`` keeps the card's contents across
runs: the same file brings the same card back; a file of the other applet is refused (exit 2).
"""

from __future__ import annotations

from pathlib import Path

import click

from cardkit.emulator.vpcd import (
    VirtualCard,
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
@click.option(
    "--applet",
    type=click.Choice(["cardkit", "jmrtd"]),
    default="cardkit",
    show_default=True,
    help="The card: cardkit's own applet, or the genuine JMRTD passport applet.",
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
    slot: int | None,
    port: int | None,
    state_file: Path | None,
    applet: str,
    host: str,
    wait: float,
) -> None:
    """Serve an emulated card to vpcd until SIGTERM or Ctrl-C."""
    if slot is not None and port is not None:
        raise click.UsageError("give --slot or --port, not both")
    if port is None:
        port = port_for_slot(slot or 0)
    card = _open_card(applet, state_file)
    bridge = VpcdBridge(card, host=host, port=port, connect_timeout=wait)
    known_slot = slot_for_port(port)
    reader = (
        f"reader '{reader_name_for_slot(known_slot)}'" if known_slot is not None else "a reader"
    )
    name = "the JMRTD passport applet" if applet == "jmrtd" else "cardkit's applet"
    click.echo(
        f"cardkit emulator: card with {name} (ATR {card.atr.hex().upper()}) for {reader} via "
        f"vpcd at {host}:{port}; stop with Ctrl-C or SIGTERM"
    )
    # The CLI's error mapping turns a TransportError (vpcd unreachable) into exit code 3.
    bridge.run_forever()
    click.echo(f"cardkit emulator: stopped after {bridge.apdu_count} APDUs; card removed")


def _open_card(applet: str, state_file: Path | None) -> VirtualCard:
    """The card of ``applet``, from ``state_file`` when given. A state file of the other
    applet raises EmulatorStateError (exit 2) saying which ``--applet`` it needs."""
    from cardkit.emulator.jmrtd_state import applet_of_state_file
    from cardkit.emulator.state import EmulatorStateError

    if state_file is not None and state_file.exists():
        found = applet_of_state_file(state_file)
        if found is not None and found != applet:
            raise EmulatorStateError(
                f"{state_file}: this state file holds a card of the {found} applet, not of the "
                f"{applet} applet: start it with --applet {found}, or give another --state file"
            )
    if applet == "jmrtd":
        from cardkit.emulator.jmrtd import JmrtdApplet

        return JmrtdApplet.open(state_file)
    from cardkit.emulator.card import EmulatedCard

    return EmulatedCard.open(state_file)


if __name__ == "__main__":  # python -m cardkit.cli.emulator start ... (without the main group)
    emulator(prog_name="cardkit emulator")
