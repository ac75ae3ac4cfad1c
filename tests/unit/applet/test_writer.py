"""`cardkit.applet.writer`: chunking (sizes, offsets, short vs extended, fallback on 6700),
extended-length detection, refusal of non-blank cards, step names in errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cardkit.applet import commands
from cardkit.applet.writer import (
    AlreadyPersonalizedError,
    AppletLockedError,
    AppletWriter,
)
from cardkit.emulator import atr as emulator_atr
from cardkit.emulator.card import EmulatedCard, EmulatorConnection
from cardkit.errors import CardError
from cardkit.iso7816.apdu import Command, Response
from cardkit.iso7816.atr import extended_length_from_atr, max_command_from_atr_info
from cardkit.iso7816.connection import connection_atr
from cardkit.transport.scripted import FunctionConnection, ScriptedConnection

OK = b"\x90\x00"
# ISO/IEC 7816-3 §8.2 / 7816-4 §8.1.1.2.7, assembled by hand: TS 3B, T0 85, TD1 81, TD2 31,
# TA3 FE, TB3 45, historical 80 73 94 01 xx; TCK (not checked by the parser) 00.
ATR_EXTENDED = bytes.fromhex("3B858131FE45807394016000")
ATR_SHORT = bytes.fromhex("3B858131FE45807394010000")


def _chunks(sent: list[Command]) -> list[tuple[int, int, bool]]:
    return [((c.p1 << 8) | c.p2, len(c.data), c.is_extended) for c in sent if c.ins == 0xD6]


def _ok_card(sent: list[Command]) -> FunctionConnection:
    def answer(command: Command) -> Response:
        sent.append(command)
        return Response(b"", 0x9000)

    return FunctionConnection(answer)


# --- ATR / EF.ATR/INFO --------------------------------------------------------------------------


def test_atr_capabilities() -> None:
    assert extended_length_from_atr(ATR_EXTENDED) is True
    assert extended_length_from_atr(ATR_SHORT) is False
    assert extended_length_from_atr(emulator_atr.ATR) is True
    assert extended_length_from_atr(bytes.fromhex("3B8080018080")) is None
    assert extended_length_from_atr(None) is None


@given(st.binary(max_size=40))
def test_atr_parsing_never_raises(atr: bytes) -> None:
    assert extended_length_from_atr(atr) in (True, False, None)


def test_ef_atr_info_max_command() -> None:
    # ISO/IEC 7816-4 §12.7.1: 7F66 { 02 max command APDU, 02 max response APDU }.
    info = bytes.fromhex("4703940160 7F6608 02021100 02027FFF".replace(" ", ""))
    assert max_command_from_atr_info(info) == 0x1100
    assert max_command_from_atr_info(emulator_atr.EF_ATR_INFO) == emulator_atr.MAX_COMMAND_APDU
    assert max_command_from_atr_info(b"\x47\x03\x94\x01\x60") is None
    assert max_command_from_atr_info(b"\x7f\x66\x05\x02") is None  # malformed: ignored


@given(st.binary(max_size=60))
def test_ef_atr_info_parsing_never_raises(data: bytes) -> None:
    result = max_command_from_atr_info(data)
    assert result is None or result >= 0


def test_connection_atr_looks_through_wrappers() -> None:
    card = EmulatedCard()
    inner = EmulatorConnection(card)

    class Wrapper:
        def __init__(self, inner: object) -> None:
            self.inner = inner

    assert connection_atr(Wrapper(Wrapper(inner))) == card.atr
    assert connection_atr(object()) is None


def test_detect_extended_reads_ef_atr_info_when_the_atr_announces_it() -> None:
    info = bytes.fromhex("7F660802020800 02027FFF".replace(" ", ""))  # 2048-byte commands
    script = ScriptedConnection(
        [
            (bytes.fromhex("00A4020C022F01"), OK),
            (bytes.fromhex("00B0000000"), info + OK),
        ]
    )
    writer = AppletWriter(script, atr=ATR_EXTENDED)
    assert writer.detect_extended() is True
    assert writer.chunk == 2048 - 7  # header and extended Lc around the data
    script.assert_done()


def test_detect_extended_without_ef_atr_info_uses_the_protocol_maximum() -> None:
    script = ScriptedConnection([(bytes.fromhex("00A4020C022F01"), b"\x6a\x82")])
    writer = AppletWriter(script, atr=ATR_EXTENDED)
    assert writer.detect_extended() and writer.chunk == commands.MAX_UPDATE_DATA


def test_detect_short_from_the_atr_sends_nothing() -> None:
    script = ScriptedConnection([])
    writer = AppletWriter(script, atr=ATR_SHORT)
    assert writer.detect_extended() is False and writer.chunk == 255


# --- chunking -----------------------------------------------------------------------------------


def test_short_chunks_offsets() -> None:
    sent: list[Command] = []
    writer = AppletWriter(_ok_card(sent), extended=False)
    writer.update_file("DG2", bytes(600))
    assert _chunks(sent) == [(0, 255, False), (255, 255, False), (510, 90, False)]


def test_extended_chunks_offsets() -> None:
    sent: list[Command] = []
    writer = AppletWriter(_ok_card(sent), extended=True)
    writer.update_file("DG2", bytes(9000))
    assert _chunks(sent) == [(0, 4096, True), (4096, 4096, True), (8192, 808, True)]
    assert writer.data_bytes == 9000 and writer.apdu_count == 3


@given(size=st.integers(1, 20000), extended=st.booleans())
def test_chunks_cover_the_file_exactly(size: int, extended: bool) -> None:
    sent: list[Command] = []
    data = bytes(i % 251 for i in range(size))
    AppletWriter(_ok_card(sent), extended=extended).update_file("EF", data)
    limit = 4096 if extended else 255
    rebuilt = bytearray(size)
    position = 0
    for command in sent:
        offset = (command.p1 << 8) | command.p2
        assert offset == position and 1 <= len(command.data) <= limit
        rebuilt[offset : offset + len(command.data)] = command.data
        position += len(command.data)
    assert bytes(rebuilt) == data
    assert len(sent) == -(-size // limit)


def test_falls_back_to_short_chunks_on_6700() -> None:
    sent: list[Command] = []

    def card(command: Command) -> Response:
        sent.append(command)
        return Response(b"", 0x6700 if len(command.data) > 255 else 0x9000)

    writer = AppletWriter(FunctionConnection(card))  # ATR unknown: extended is tried
    assert writer.detect_extended() is True
    writer.update_file("DG2", bytes(600))
    assert _chunks(sent) == [(0, 600, True), (0, 255, False), (255, 255, False), (510, 90, False)]
    assert writer.fell_back and not writer.extended


def test_forced_extended_does_not_fall_back() -> None:
    conn = FunctionConnection(lambda c: Response(b"", 0x6700))
    with pytest.raises(CardError) as info:
        AppletWriter(conn, extended=True).update_file("DG2", bytes(600))
    assert info.value.sw == 0x6700
    assert "UPDATE BINARY DG2 at offset 0 (600 bytes)" in str(info.value)


def test_refusals_name_the_step() -> None:
    def card(command: Command) -> Response:
        if command.ins == 0xD6 and (command.p1, command.p2) == (0x00, 0xFF):
            return Response(b"", 0x6B00)
        return Response(b"", 0x9000)

    writer = AppletWriter(FunctionConnection(card), extended=False)
    with pytest.raises(CardError) as info:
        writer.update_file("DG13", bytes(400))
    assert "UPDATE BINARY DG13 at offset 255 (145 bytes)" in str(info.value)
    assert writer.step.startswith("UPDATE BINARY DG13 at offset 255")
    with pytest.raises(CardError) as put:
        AppletWriter(FunctionConnection(lambda c: Response(b"", 0x6A80))).put_data(
            "CAN", commands.put_data(0x00, 0x65, commands.can_data("123456"))
        )
    assert "PUT DATA CAN" in str(put.value) and "123456" not in str(put.value)


# --- non-blank cards ----------------------------------------------------------------------------


def _card_with(files: dict[int, bytes], *, locked: bool) -> EmulatedCard:
    card = EmulatedCard()
    conn = EmulatorConnection(card)
    conn.send(commands.select_applet())
    for fid, data in files.items():
        assert conn.send(commands.create_file(fid, len(data))).sw == 0x9000
        assert conn.send(commands.update_binary(0, data)).sw == 0x9000
    if locked:
        assert conn.send(commands.lock()).sw == 0x9000
    return card


class Recorder:
    def __init__(self, inner: EmulatorConnection) -> None:
        self.inner = inner
        self.sent: list[Command] = []

    def send(self, command: Command) -> Response:
        self.sent.append(command)
        return self.inner.send(command)


WRITES = {0xE0, 0xD6, 0xDA}


@pytest.mark.parametrize(
    ("locked", "error"), [(True, AppletLockedError), (False, AlreadyPersonalizedError)]
)
def test_check_blank_refuses_without_writing(locked: bool, error: type[CardError]) -> None:
    card = _card_with({0x0101: b"\x61\x03\x5f\x1f\x00"}, locked=locked)
    recorder = Recorder(EmulatorConnection(card))
    writer = AppletWriter(recorder)
    writer.select_applet()
    with pytest.raises(error):
        writer.check_blank([("EF.COM", 0x011E), ("DG1", 0x0101)])
    assert not [c for c in recorder.sent if c.ins in WRITES]


def test_check_blank_passes_a_blank_card_and_create_refuses_a_locked_one() -> None:
    card = _card_with({}, locked=True)  # locked without files: CREATE FILE answers 6985
    writer = AppletWriter(EmulatorConnection(card))
    writer.select_applet()
    writer.check_blank([("EF.COM", 0x011E)])
    with pytest.raises(AppletLockedError) as info:
        writer.create_file("EF.COM", 0x011E, 10)
    assert info.value.sw == 0x6985


def test_create_existing_file_is_already_personalized() -> None:
    card = _card_with({0x011E: b"\x60\x00"}, locked=False)
    writer = AppletWriter(EmulatorConnection(card))
    writer.select_applet()
    with pytest.raises(AlreadyPersonalizedError) as info:
        writer.create_file("EF.COM", 0x011E, 2)
    assert info.value.sw == 0x6A89


def test_no_applet() -> None:
    with pytest.raises(CardError, match="no eMRTD applet"):
        AppletWriter(FunctionConnection(lambda c: Response(b"", 0x6A82))).select_applet()
