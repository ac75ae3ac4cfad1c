"""`cardkit read` end to end with click's CliRunner, over cardkit's in-process emulated chip.

``open_reader`` is replaced by a fake PC/SC connection around an EmulatorConnection. The command
is mounted on a CardkitGroup here (the lead wires it into cardkit.cli.main), so the error → exit
code mapping is the real one.
"""

from __future__ import annotations

import json
import stat
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import click
import pytest
from click.testing import CliRunner

from cardkit.cli import read as read_cli
from cardkit.cli.exits import EXIT_CARD, EXIT_USAGE
from cardkit.cli.main import CardkitGroup
from cardkit.errors import TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.lds import files
from cardkit.profile import load_profile
from cardkit.services.read import AccessKey

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit" / "services"))
import test_read as read_helpers  # the card-image and personalization helpers

import cardkit.emulator.card as emulator_card

READER = "Virtual PCD 00 00"


class FakePcsc:
    """What ``read`` uses of a PcscConnection, over an emulated card."""

    def __init__(self, card: Any, protocol: str = "T=1") -> None:
        self.inner = emulator_card.EmulatorConnection(card)
        self.protocol = protocol
        self.atr = card.atr
        self.closed = False

    def send(self, command: Command) -> Response:
        response: Response = self.inner.send(command)
        return response

    def __enter__(self) -> FakePcsc:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.closed = True


@pytest.fixture(scope="module")
def chip() -> read_helpers.Chip:
    return read_helpers.make_chip(load_profile("vn-cccd-2021"))


@pytest.fixture
def cli() -> click.Group:
    group = CardkitGroup("cardkit")
    group.add_command(read_cli.read)
    return group


def _use_card(monkeypatch: pytest.MonkeyPatch, card: Any, protocol: str = "T=1") -> list[str]:
    opened: list[str] = []

    def fake_open(name: str, *, timeout: float = 0, exclusive: bool = True) -> FakePcsc:
        if name != READER:
            raise TransportError(f"reader {name!r} not found; readers: {READER!r}", reader=name)
        opened.append(name)
        return FakePcsc(card, protocol)

    monkeypatch.setattr(read_cli, "open_reader", fake_open)
    return opened


def test_read_with_can_from_env(
    cli: click.Group, chip: read_helpers.Chip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_card(monkeypatch, chip.card())
    monkeypatch.setenv("CARD_CAN", chip.can)
    out = tmp_path / "read"
    result = CliRunner().invoke(
        cli, ["read", "--reader", READER, "--can-from", "env:CARD_CAN", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "PACE-CAN" in result.output and "verified" in result.output
    assert "DG3" in result.output  # reported as protected
    assert chip.can not in result.output
    for spec, data in chip.image.files.items():
        if spec == files.dg(3):
            assert not (out / "DG3.bin").exists()
            continue
        path = out / f"{spec.name}.bin"
        assert path.read_bytes() == data
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    summary = json.loads((out / "read.json").read_text())
    assert summary["access"] == "PACE-CAN" and summary["protected"] == [3]
    assert summary["aa"]["verified"] is True and summary["chip_authentication"] == "CA"
    assert chip.can not in (out / "read.json").read_text()


def test_read_mrz_from_stdin_all_lines_json(
    cli: click.Group, chip: read_helpers.Chip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_card(monkeypatch, chip.card(), protocol="T=0")
    result = CliRunner().invoke(
        cli,
        ["read", "--reader", READER, "--mrz-from", "-", "--out", str(tmp_path), "--json"],
        input=chip.mrz + "\n",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["access"] == "PACE-MRZ"
    assert summary["extended_length"] is False  # T=0: short APDUs only
    assert chip.mrz.splitlines()[0] not in result.output


def test_read_mrz_from_file_and_bac_fields(
    cli: click.Group, chip: read_helpers.Chip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_card(monkeypatch, chip.card())
    mrz_file = tmp_path / "mrz.txt"
    mrz_file.write_text(chip.mrz + "\n")
    mrz_file.chmod(0o600)
    result = CliRunner().invoke(
        cli,
        ["read", "--reader", READER, "--mrz-from", f"file:{mrz_file}", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    key = AccessKey.from_mrz(chip.mrz).mrz_key
    assert key is not None
    _use_card(monkeypatch, chip.card())
    result = CliRunner().invoke(
        cli,
        [
            "read", "--reader", READER, "--out", str(tmp_path / "b"),
            "--doc-number", key.document_number,
            "--dob", key.date_of_birth,
            "--expiry", key.date_of_expiry,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_wrong_can_exits_3_without_echoing_it(
    cli: click.Group, chip: read_helpers.Chip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_card(monkeypatch, chip.card())
    wrong = "000000" if chip.can != "000000" else "111111"
    result = CliRunner().invoke(
        cli,
        ["read", "--reader", READER, "--can-from", "stdin", "--out", str(tmp_path)],
        input=wrong + "\n",
    )
    assert result.exit_code == EXIT_CARD, result.output
    # Exactly the one line a person acts on (issue 11 item 6): no traceback, no status word.
    assert result.stderr.splitlines() == [
        "error: access denied: the CAN does not open this card \u2014 enter it again"
    ]
    assert result.stdout == ""
    assert wrong not in result.output and chip.can not in result.output
    assert not (tmp_path / "read.json").exists()


def test_wrong_mrz_exits_3_with_the_access_denied_line(
    cli: click.Group, chip: read_helpers.Chip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_card(monkeypatch, chip.card())
    key = AccessKey.from_mrz(chip.mrz).mrz_key
    assert key is not None
    wrong_birth = key.date_of_birth[:4] + ("01" if key.date_of_birth[4:] != "01" else "02")
    result = CliRunner().invoke(
        cli,
        [
            "read", "--reader", READER, "--out", str(tmp_path),
            "--doc-number", key.document_number, "--dob", wrong_birth,
            "--expiry", key.date_of_expiry,
        ],
    )  # fmt: skip
    assert result.exit_code == EXIT_CARD, result.output
    assert result.stderr.splitlines() == [
        "error: access denied: the MRZ does not open this card \u2014 enter it again"
    ]
    assert key.document_number not in result.output


def test_unknown_reader_exits_3(
    cli: click.Group, chip: read_helpers.Chip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _use_card(monkeypatch, chip.card())
    monkeypatch.setenv("CARD_CAN", chip.can)
    result = CliRunner().invoke(
        cli, ["read", "--reader", "nope", "--can-from", "env:CARD_CAN", "--out", str(tmp_path)]
    )
    assert result.exit_code == EXIT_CARD
    assert "not found" in result.output


@pytest.mark.parametrize(
    "args",
    [
        [],  # no key at all
        ["--can-from", "prompt", "--mrz-from", "stdin"],  # two keys
        ["--dob", "930105"],  # BAC fields must go together
    ],
)
def test_key_options_usage(cli: click.Group, args: list[str], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["read", "--reader", READER, "--out", str(tmp_path), *args])
    assert result.exit_code == EXIT_USAGE


def test_a_literal_can_is_refused_and_not_echoed(cli: click.Group, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["read", "--reader", READER, "--can-from", "123456", "--out", str(tmp_path)]
    )
    assert result.exit_code == EXIT_USAGE
    assert "123456" not in result.output
