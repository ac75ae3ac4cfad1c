"""cardkit's emulator in a real pcscd through vsmartcard's vpcd, seen through PC/SC.

Fixtures (conftest.py): ``pcscd`` starts pcscd with virtual readers via
scripts/virtual-reader.sh; ``emulator(slot, state)`` runs ``cardkit emulator start`` as a
subprocess.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from cardkit.emulator.card import EmulatedCard
from cardkit.emulator.vpcd import VpcdBridge, port_for_slot, reader_name_for_slot
from cardkit.errors import TransportError
from cardkit.iso7816.apdu import Command
from cardkit.transport.pcsc import list_readers, open_reader

pytestmark = pytest.mark.integration

# JMRTD passport applet personalization protocol (DOMAIN.md §7; the agreed extension).
SELECT_LDS = Command(0x00, 0xA4, 0x04, 0x0C, bytes.fromhex("A0000002471001"))
TEST_FID = bytes.fromhex("0101")  # EF.DG1


def _helper() -> Any:
    import sys

    return sys.modules["cardkit_tests_pcsc"]


class _FakeCard:
    atr = bytes.fromhex("3B8880014341524B4954000000")  # only seen by pcscd, not checked here

    def power_on(self) -> bytes:
        return self.atr

    def power_off(self) -> None:
        pass

    def transmit(self, apdu: bytes) -> bytes:
        return b"\x90\x00"


def test_readers_are_listed(pcscd: Any) -> None:
    readers = list_readers()
    for name in pcscd.names:
        assert name in readers
    # vpcd's stock names for the first two slots (DOMAIN.md §8).
    assert pcscd.names[:2] == ["Virtual PCD 00 00", "Virtual PCD 00 01"]


def test_the_cards_atr_is_seen(emulator: Any) -> None:
    emu = emulator(0)
    atr_in_status = _helper().card_atr(emu.reader)
    with open_reader(emu.reader, timeout=5) as connection:
        assert connection.atr == atr_in_status
        assert connection.atr[0] in (0x3B, 0x3F)  # TS: direct or inverse convention (7816-3 §8.1)
        assert connection.atr == EmulatedCard.open(None).atr


def test_select_lds_application_answers_9000(emulator: Any) -> None:
    emu = emulator(0)
    with open_reader(emu.reader, timeout=5) as connection:
        assert connection.send(SELECT_LDS).sw == 0x9000


def _write_test_file(connection: Any, content: bytes) -> None:
    assert connection.send(SELECT_LDS).sw == 0x9000
    size = len(content).to_bytes(2, "big")
    create = Command(0x00, 0xE0, 0x00, 0x00, bytes([0x63, 0x04]) + size + TEST_FID)
    assert connection.send(create).sw == 0x9000
    assert connection.send(Command(0x00, 0xA4, 0x02, 0x0C, TEST_FID)).sw == 0x9000
    assert connection.send(Command(0x00, 0xD6, 0x00, 0x00, content)).sw == 0x9000


def _read_test_file(connection: Any, length: int) -> bytes:
    assert connection.send(SELECT_LDS).sw == 0x9000
    assert connection.send(Command(0x00, 0xA4, 0x02, 0x0C, TEST_FID)).sw == 0x9000
    response = connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=length))
    assert response.sw == 0x9000
    return bytes(response.data)


def test_killing_the_emulator_pulls_the_card_and_the_state_brings_it_back(
    emulator: Any, tmp_path: Path
) -> None:
    state = tmp_path / "pulled.state"
    emu = emulator(1, state)
    content = b"cardkit vpcd persistence check"
    with open_reader(emu.reader, timeout=5) as connection:
        _write_test_file(connection, content)
        atr_before = connection.atr
        emu.kill()
        with pytest.raises(TransportError):
            for _ in range(5):  # vpcd notices on the next exchange
                connection.send(SELECT_LDS)
    _helper().wait_for_no_card(emu.reader)

    atr_after = emu.start()  # same --state file
    assert atr_after == atr_before
    with open_reader(emu.reader, timeout=5) as connection:
        assert _read_test_file(connection, len(content)) == content


def test_two_emulators_on_two_readers(emulator: Any) -> None:
    first, second = emulator(2), emulator(3)
    assert first.reader != second.reader
    with (
        open_reader(first.reader, timeout=5) as one,
        open_reader(second.reader, timeout=5) as two,
    ):
        for _ in range(3):  # interleaved: each reader talks to its own card
            assert one.send(SELECT_LDS).sw == 0x9000  # the fake card also answers 9000
            assert two.send(SELECT_LDS).sw == 0x9000
    _helper().wait_for_card(first.reader)
    _helper().wait_for_card(second.reader)


def _round_trip_ms(reader: str, count: int) -> float:
    with open_reader(reader, timeout=10) as connection:
        connection.send(SELECT_LDS)  # warm up
        started = time.perf_counter()
        for _ in range(count):
            response = connection.send(SELECT_LDS)
            assert len(bytes(response.data)) == 0
        return (time.perf_counter() - started) / count * 1000


def test_round_trip_time_with_and_without_tcp_nodelay(emulator: Any, pcscd: Any) -> None:
    """Prints (does not assert) the per-APDU round trip: the subprocess emulator (TCP_NODELAY
    and TCP_QUICKACK on), then an in-process bridge with both on and with both off."""
    emu = emulator(0)
    print(f"\ncardkit emulator subprocess: {_round_trip_ms(emu.reader, 200):.3f} ms per APDU")
    slot = 3
    for low_latency in (True, False):
        bridge = VpcdBridge(_FakeCard(), port=port_for_slot(slot), low_latency=low_latency)
        thread = bridge.serve_in_thread()
        try:
            assert bridge.wait_connected(10)
            _helper().wait_for_card(reader_name_for_slot(slot))
            count = 200 if low_latency else 20
            label = "on " if low_latency else "off"
            ms = _round_trip_ms(reader_name_for_slot(slot), count)
            print(f"in-process bridge, TCP_NODELAY/QUICKACK {label}: {ms:.3f} ms per APDU")
        finally:
            bridge.stop()
            thread.join(10)
            _helper().wait_for_no_card(reader_name_for_slot(slot))
            time.sleep(_helper().REINSERT_DELAY)  # let pcscd's poller see the card leave
        assert bridge.error is None
