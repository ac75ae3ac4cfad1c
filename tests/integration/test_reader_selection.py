"""Readers by what people type, and reader failures in words, on a real pcscd + vpcd (issue 12
§1, §2, §11): the index `cardkit readers` prints, a part of the name, ambiguity; a card pulled
mid-session; a feeder's card started right after another card left the slot.

Fixtures (conftest.py): ``pcscd`` with four vpcd readers ("Virtual PCD 00 00", "Virtual PCD 00
01", "Virtual PCD 1 00 00", "Virtual PCD 1 00 01"), ``emulator(slot)``.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cardkit.iso7816.apdu import Command
from cardkit.transport.pcsc import (
    AmbiguousReaderError,
    PcscError,
    list_readers,
    open_reader,
    select_reader,
)

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SELECT_LDS = Command(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"))


def _cardkit(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cardkit.cli.main", *args],
        capture_output=True, text=True, timeout=60, cwd=REPO,
        env={**os.environ, "CAN": "123456"},
    )  # fmt: skip


def _feeder_module() -> ModuleType:
    name = "cardkit_scripts_card_feeder"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / "card_feeder.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_readers_by_index_part_and_name(pcscd: Any) -> None:
    names = list_readers()
    for name in pcscd.names:
        assert name in names
    for index, name in enumerate(names):
        assert select_reader(str(index)) == name
        assert select_reader(name) == name
    assert select_reader("pcd 1 00 00") == "Virtual PCD 1 00 00"
    with pytest.raises(AmbiguousReaderError) as caught:
        select_reader("00 01")  # "Virtual PCD 00 01" and "Virtual PCD 1 00 01"
    assert {"Virtual PCD 00 01", "Virtual PCD 1 00 01"} <= set(caught.value.candidates)

    listed = _cardkit("readers")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    for index, name in enumerate(names):
        assert lines[index].startswith(f"{index} {name}: ")


def test_cli_reader_errors_in_words(pcscd: Any, tmp_path: Path) -> None:
    index = list_readers().index("Virtual PCD 1 00 01")
    # slot 3 has no card (no test here starts one there): the reader is found by its index.
    read = _cardkit("read", "--reader", str(index), "--can-from", "env:CAN", "--out", str(tmp_path))
    assert read.returncode == 3, (read.stdout, read.stderr)
    assert read.stderr.splitlines() == ["error: no card in Virtual PCD 1 00 01"]
    ambiguous = _cardkit("read", "--reader", "00 01", "--can-from", "env:CAN", "--out", "x")
    assert ambiguous.returncode == 2, ambiguous.stderr
    assert ambiguous.stderr.startswith("error: reader '00 01' is ambiguous: 1 Virtual PCD 00 01, ")
    missing = _cardkit("read", "--reader", "ACR122", "--can-from", "env:CAN", "--out", "x")
    assert missing.returncode == 3
    assert missing.stderr.startswith("error: no reader matches 'ACR122'; readers: 0 Virtual PCD")
    for result in (read, ambiguous, missing):
        assert "Traceback" not in result.stderr and "0x" not in result.stderr


def test_card_pulled_mid_session_in_words(emulator: Any) -> None:
    emu = emulator(2)
    with open_reader("pcd 1 00 00", timeout=10) as connection:
        assert connection.reader == emu.reader == "Virtual PCD 1 00 00"
        assert connection.send(SELECT_LDS).sw != 0  # a response, whatever the blank card says
        emu.kill()
        with pytest.raises(PcscError) as caught:
            for _ in range(50):  # until the bridge's socket closing reaches pcscd
                connection.send(SELECT_LDS)
                time.sleep(0.02)
    assert str(caught.value) == "the card was removed from Virtual PCD 1 00 00 — place it again"
    assert caught.value.pcsc_name in ("SCARD_E_NOT_TRANSACTED", "SCARD_W_REMOVED_CARD")
    assert caught.value.reader == "Virtual PCD 1 00 00"


def test_feeder_card_right_after_another_card_left(emulator: Any, tmp_path: Path) -> None:
    """DOMAIN.md §13: the feeder waits for pcscd to report the slot empty, so its first card
    answers its first APDU instead of failing with 0x80100016."""
    emu = emulator(2)
    emu.kill()  # pulled: pcscd still reports it until its next poll
    feeder = _feeder_module().CardFeeder(2, tmp_path / "feeder").start()
    try:
        deadline = time.monotonic() + 20
        while not feeder.fed:  # its card process starts only once the slot was seen empty
            assert time.monotonic() < deadline, "the feeder never started a card"
            time.sleep(0.02)
        with open_reader(emu.reader, timeout=20) as connection:
            assert connection.send(SELECT_LDS).sw != 0
    finally:
        feeder.stop()
