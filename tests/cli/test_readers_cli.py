"""`cardkit readers` end to end with click's CliRunner, over a fake PC/SC layer.

The command is mounted on a CardkitGroup here (the lead wires it into cardkit.cli.main), so the
error → exit code mapping is the real one.
"""

from __future__ import annotations

import json
from typing import Any

import click
import pytest
from click.testing import CliRunner
from smartcard import scard as real

from cardkit.cli.exits import EXIT_CARD
from cardkit.cli.main import CardkitGroup
from cardkit.cli.readers import readers
from cardkit.transport import pcsc

ATR = bytes.fromhex("3B8880010000000000718100F9")  # illustrative


class FakeScard:
    """Just enough of pyscard's scard module for listing readers and their states."""

    def __init__(self, readers: dict[str, bytes | None], *, service: bool = True) -> None:
        self.readers = readers
        self.service = service
        self.connected = False

    def __getattr__(self, name: str) -> Any:
        return getattr(real, name)

    def SCardEstablishContext(self, scope: int) -> tuple[int, int]:
        return (real.SCARD_S_SUCCESS, 1) if self.service else (real.SCARD_E_NO_SERVICE, 0)

    def SCardReleaseContext(self, context: int) -> int:
        return int(real.SCARD_S_SUCCESS)

    def SCardListReaders(self, context: int, groups: list[str]) -> tuple[int, list[str]]:
        if not self.readers:
            return real.SCARD_E_NO_READERS_AVAILABLE, []
        return real.SCARD_S_SUCCESS, list(self.readers)

    def SCardGetStatusChange(
        self, context: int, timeout: int, states: list[tuple[str, int]]
    ) -> tuple[int, list[tuple[str, int, list[int]]]]:
        out: list[tuple[str, int, list[int]]] = []
        for name, _ in states:
            atr = self.readers[name]
            if atr is None:
                out.append((name, int(real.SCARD_STATE_EMPTY), []))
            else:
                out.append((name, int(real.SCARD_STATE_PRESENT), list(atr)))
        return real.SCARD_S_SUCCESS, out

    def SCardConnect(self, *args: object) -> tuple[int, int, int]:
        self.connected = True  # listing must never connect (it would reset the card)
        raise AssertionError("cardkit readers must not connect to cards")


def _cli() -> click.Group:
    group = CardkitGroup("cardkit")
    group.add_command(readers)
    return group


def _run(monkeypatch: pytest.MonkeyPatch, fake: FakeScard, *args: str) -> Any:
    monkeypatch.setattr(pcsc, "_scard", lambda: fake)
    return CliRunner().invoke(_cli(), ["readers", *args])


def test_lists_readers_and_cards(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeScard({"Virtual PCD 00 00": ATR, "Virtual PCD 00 01": None})
    result = _run(monkeypatch, fake)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [  # the index is what --reader N takes
        "0 Virtual PCD 00 00: card present, ATR 3B 88 80 01 00 00 00 00 00 71 81 00 F9",
        "1 Virtual PCD 00 01: no card",
    ]
    assert not fake.connected


def test_json(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(
        monkeypatch, FakeScard({"Virtual PCD 00 00": ATR, "Virtual PCD 00 01": None}), "--json"
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)["readers"]
    assert listed == [
        {
            "index": 0,
            "name": "Virtual PCD 00 00",
            "card_present": True,
            "atr": ATR.hex().upper(),
            "in_use": False,
            "mute": False,
        },
        {
            "index": 1,
            "name": "Virtual PCD 00 01",
            "card_present": False,
            "atr": None,
            "in_use": False,
            "mute": False,
        },
    ]


def test_no_readers(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(monkeypatch, FakeScard({}))
    assert result.exit_code == 0
    assert result.output == "no PC/SC readers\n"
    assert json.loads(_run(monkeypatch, FakeScard({}), "--json").output)["readers"] == []


def test_pcscd_unreachable_exits_3(monkeypatch: pytest.MonkeyPatch) -> None:
    result = _run(monkeypatch, FakeScard({}, service=False))
    assert result.exit_code == EXIT_CARD == 3
    assert result.output == (
        "error: pcscd is not running: start it with `systemctl start pcscd` "
        "(or scripts/virtual-reader.sh start for the emulator)\n"
    )
    assert "0x" not in result.output  # the PC/SC code only with --verbose
