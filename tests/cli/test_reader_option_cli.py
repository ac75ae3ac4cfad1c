"""``--reader`` behaves the same in every command that opens a card (issue 12 §1, §2).

read, verify (with and without --watch), personalize and batch run, over a fake PC/SC binding
with no cards: each resolves ``--reader`` through cardkit.transport.readers — the exact name, a
case-insensitive part of it or its index; an ambiguous one is a usage error (exit 2) listing the
candidates, one that matches nothing exits 3 listing the readers, and with a single reader the
option may be left out. (``cardkit emulator`` takes ``--slot``, not ``--reader``.)
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from smartcard import scard as real
from testpki import make_csca

from cardkit.cli.main import cli
from cardkit.transport import pcsc

VPCD0, VPCD1 = "Virtual PCD 00 00", "Virtual PCD 00 01"


class EmptyReaders:
    """pyscard's scard module for readers without cards (or without pcscd)."""

    def __init__(self, readers: list[str], *, service: bool = True) -> None:
        self.readers = readers
        self.service = service
        self.connected: list[str] = []

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
        return real.SCARD_S_SUCCESS, [(name, int(real.SCARD_STATE_EMPTY), []) for name, _ in states]

    def SCardConnect(
        self, context: int, reader: str, share: int, protocols: int
    ) -> tuple[int, int, int]:
        self.connected.append(reader)
        return real.SCARD_E_NO_SMARTCARD, 0, 0


@pytest.fixture(scope="module")
def trust_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("trust")
    _signer, csca = make_csca("Reader option test CSCA")
    (folder / "csca.pem").write_bytes(csca.public_bytes(serialization.Encoding.PEM))
    return folder


Command = Callable[[Path, Path, list[str]], list[str]]


def _read(tmp: Path, trust: Path, reader: list[str]) -> list[str]:
    return ["read", *reader, "--can-from", "env:CAN", "--out", str(tmp / "out")]


def _verify(tmp: Path, trust: Path, reader: list[str]) -> list[str]:
    return ["verify", *reader, "--can-from", "env:CAN", "--trust", str(trust)]


def _watch(tmp: Path, trust: Path, reader: list[str]) -> list[str]:
    return [*_verify(tmp, trust, reader), "--watch"]


def _personalize(tmp: Path, trust: Path, reader: list[str]) -> list[str]:
    (tmp / "image").mkdir(exist_ok=True)
    (tmp / "keys").mkdir(exist_ok=True)
    return ["personalize", str(tmp / "image"), *reader, "--keys", str(tmp / "keys"), "--yes"]


def _batch(tmp: Path, trust: Path, reader: list[str]) -> list[str]:
    (tmp / "keys").mkdir(exist_ok=True)
    records = tmp / "records.csv"
    records.write_text("id_number\n")
    return ["batch", "run", str(records), "--keys", str(tmp / "keys"), *reader]


COMMANDS: dict[str, Command] = {
    "read": _read,
    "verify": _verify,
    "verify --watch": _watch,
    "personalize": _personalize,
    "batch run": _batch,
}


def _invoke(
    monkeypatch: pytest.MonkeyPatch,
    fake: EmptyReaders,
    command: Command,
    tmp: Path,
    trust: Path,
    reader: list[str],
) -> Result:
    monkeypatch.setattr(pcsc, "_scard", lambda: fake)
    return CliRunner().invoke(cli, command(tmp, trust, reader), env={"CAN": "123456"})


@pytest.mark.parametrize("name", COMMANDS)
def test_ambiguous_reader_is_a_usage_error(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, trust_dir: Path
) -> None:
    fake = EmptyReaders([VPCD0, VPCD1])
    result = _invoke(monkeypatch, fake, COMMANDS[name], tmp_path, trust_dir, ["--reader", "pcd"])
    assert result.exit_code == 2, result.output
    assert (
        "error: reader 'pcd' is ambiguous: 0 Virtual PCD 00 00, 1 Virtual PCD 00 01"
        in result.output
    )
    assert not fake.connected


@pytest.mark.parametrize("name", COMMANDS)
def test_reader_left_out_among_several_is_a_usage_error(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, trust_dir: Path
) -> None:
    fake = EmptyReaders([VPCD0, VPCD1])
    result = _invoke(monkeypatch, fake, COMMANDS[name], tmp_path, trust_dir, [])
    assert result.exit_code == 2, result.output
    assert "several PC/SC readers: choose one with --reader" in result.output
    assert "0 Virtual PCD 00 00, 1 Virtual PCD 00 01" in result.output


@pytest.mark.parametrize("name", COMMANDS)
def test_no_matching_reader_exits_3_listing_them(
    name: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, trust_dir: Path
) -> None:
    fake = EmptyReaders([VPCD0, VPCD1])
    result = _invoke(monkeypatch, fake, COMMANDS[name], tmp_path, trust_dir, ["--reader", "ACR122"])
    assert result.exit_code == 3, result.output
    assert (
        "error: no reader matches 'ACR122'; readers: 0 Virtual PCD 00 00, 1 Virtual PCD 00 01"
        in result.output
    )


@pytest.mark.parametrize("name", COMMANDS)
@pytest.mark.parametrize(
    ("readers", "service", "message"),
    [
        ([], True, "error: no PC/SC readers (is pcscd running?)"),
        ([VPCD0], False, f"error: {pcsc.NO_PCSCD}"),
    ],
)
def test_no_readers_or_no_pcscd_exit_3(
    name: str,
    readers: list[str],
    service: bool,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    trust_dir: Path,
) -> None:
    fake = EmptyReaders(readers, service=service)
    result = _invoke(monkeypatch, fake, COMMANDS[name], tmp_path, trust_dir, [])
    assert result.exit_code == 3, result.output
    assert message in result.output.splitlines()
    assert "0x" not in result.output and "SCARD_" not in result.output


@pytest.mark.parametrize("name", ["read", "verify"])
@pytest.mark.parametrize(
    ("reader", "expected"),
    [
        ([], VPCD0),  # the only reader
        (["--reader", "virtual pcd"], VPCD0),  # any case, a part of the name
        (["--reader", "0"], VPCD0),  # the index `cardkit readers` prints
        (["--reader", VPCD0], VPCD0),
    ],
)
def test_reader_resolved_before_the_card_is_opened(
    name: str,
    reader: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    trust_dir: Path,
) -> None:
    fake = EmptyReaders([VPCD0])
    result = _invoke(monkeypatch, fake, COMMANDS[name], tmp_path, trust_dir, reader)
    assert fake.connected and set(fake.connected) == {expected}
    assert result.exit_code == 3, result.output
    assert f"error: no card in {expected}" in result.output


def test_index_of_the_second_reader(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, trust_dir: Path
) -> None:
    fake = EmptyReaders([VPCD0, VPCD1])
    result = _invoke(monkeypatch, fake, _read, tmp_path, trust_dir, ["--reader", "1"])
    assert fake.connected and set(fake.connected) == {VPCD1}
    assert f"error: no card in {VPCD1}" in result.output
