"""PcscConnection and friends over a fake PC/SC binding (no pcscd).

The fake stands in for pyscard's ``smartcard.scard``: the same functions, the same return
shapes, the real constants and error codes. The real pcscd + vpcd path is covered by the
emulator's integration tests.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from smartcard import scard as real

from cardkit.errors import TransportError
from cardkit.iso7816.apdu import Command, Response
from cardkit.transport import pcsc
from cardkit.transport.readers import AmbiguousReaderError, ReaderNotFoundError

VPCD0 = "Virtual PCD 00 00"
VPCD1 = "Virtual PCD 00 01"
ATR = bytes.fromhex("3B8A80010031C173C8400000900090")  # illustrative: any bytes do here

# ICAO 9303-11 Appendix D.4: the protected SELECT EF.COM and the chip's answer.
D4_SELECT = bytes.fromhex("0CA4020C158709016375432908C044F68E08BF8B92D635FF24F800")
D4_SELECT_RESPONSE = bytes.fromhex("990290008E08FA855A5D4C50A8ED9000")


@dataclass
class FakeCard:
    atr: bytes = ATR
    protocols: int = real.SCARD_PROTOCOL_T0 | real.SCARD_PROTOCOL_T1
    answer: Callable[[bytes], list[int]] = lambda apdu: [0x90, 0x00]
    mute: bool = False
    received: list[tuple[int, bytes]] = field(default_factory=list)


class FakeScard:
    """pcsc-lite as seen through pyscard's scard module, in memory."""

    def __init__(self, readers: dict[str, FakeCard | None] | None = None) -> None:
        self.service = True
        self.readers: dict[str, FakeCard | None] = dict(readers or {})
        self.busy: set[str] = set()  # held exclusively by another application
        self.contexts: set[int] = set()
        self.cards: dict[int, tuple[str, int, int]] = {}  # handle -> reader, protocol, share
        self.calls: list[tuple[Any, ...]] = []
        self.transmit_result: tuple[int, Any] | None = None
        self._next = 100

    def __getattr__(self, name: str) -> Any:  # constants and SCardGetErrorMessage
        return getattr(real, name)

    def _handle(self) -> int:
        self._next += 1
        return self._next

    def SCardEstablishContext(self, scope: int) -> tuple[int, int]:
        if not self.service:
            return real.SCARD_E_NO_SERVICE, 0
        handle = self._handle()
        self.contexts.add(handle)
        return real.SCARD_S_SUCCESS, handle

    def SCardReleaseContext(self, context: int) -> int:
        self.contexts.discard(context)
        return int(real.SCARD_S_SUCCESS)

    def SCardListReaders(self, context: int, groups: list[str]) -> tuple[int, list[str]]:
        assert context in self.contexts
        if not self.readers:
            return real.SCARD_E_NO_READERS_AVAILABLE, []
        return real.SCARD_S_SUCCESS, list(self.readers)

    def SCardGetStatusChange(
        self, context: int, timeout: int, states: list[tuple[str, int]]
    ) -> tuple[int, list[tuple[str, int, list[int]]]]:
        assert context in self.contexts and timeout == 0
        out: list[tuple[str, int, list[int]]] = []
        for name, _current in states:
            card = self.readers.get(name)
            if card is None:
                out.append((name, real.SCARD_STATE_EMPTY, []))
                continue
            event = real.SCARD_STATE_PRESENT
            if name in self.busy:
                event |= real.SCARD_STATE_EXCLUSIVE
            if card.mute:
                event |= real.SCARD_STATE_MUTE
            out.append((name, event, list(card.atr)))
        return real.SCARD_S_SUCCESS, out

    def SCardConnect(
        self, context: int, reader: str, share: int, protocols: int
    ) -> tuple[int, int, int]:
        assert context in self.contexts
        self.calls.append(("connect", reader, share, protocols))
        if reader not in self.readers:
            return real.SCARD_E_UNKNOWN_READER, 0, 0
        card = self.readers[reader]
        if card is None:
            return real.SCARD_E_NO_SMARTCARD, 0, 0
        if card.mute:
            return real.SCARD_W_UNRESPONSIVE_CARD, 0, 0
        if reader in self.busy:
            return real.SCARD_E_SHARING_VIOLATION, 0, 0
        if not protocols & card.protocols:
            return real.SCARD_E_PROTO_MISMATCH, 0, 0
        handle = self._handle()
        self.cards[handle] = (reader, protocols & card.protocols, share)
        return real.SCARD_S_SUCCESS, handle, protocols & card.protocols

    def _card(self, handle: int) -> FakeCard | None:
        reader, _, _ = self.cards[handle]
        return self.readers.get(reader)

    def SCardStatus(self, handle: int) -> tuple[int, str, int, int, list[int]]:
        reader, protocol, _ = self.cards[handle]
        card = self._card(handle)
        if reader not in self.readers:
            return real.SCARD_E_READER_UNAVAILABLE, reader, 0, 0, []
        if card is None:
            return real.SCARD_W_REMOVED_CARD, reader, 0, 0, []
        return real.SCARD_S_SUCCESS, reader, real.SCARD_STATE_PRESENT, protocol, list(card.atr)

    def SCardTransmit(self, handle: int, pci: int, apdu: list[int]) -> tuple[int, Any]:
        reader, protocol, _ = self.cards[handle]
        if self.transmit_result is not None:
            return self.transmit_result
        if not self.service:
            return real.SCARD_E_NO_SERVICE, []
        if reader not in self.readers:
            return real.SCARD_E_READER_UNAVAILABLE, []
        card = self._card(handle)
        if card is None:
            return real.SCARD_W_REMOVED_CARD, []
        assert pci == protocol, "the PCI must match the negotiated protocol"
        card.received.append((pci, bytes(apdu)))
        return real.SCARD_S_SUCCESS, card.answer(bytes(apdu))

    def SCardReconnect(
        self, handle: int, share: int, protocols: int, disposition: int
    ) -> tuple[int, int]:
        self.calls.append(("reconnect", share, protocols, disposition))
        card = self._card(handle)
        if card is None:
            return real.SCARD_W_REMOVED_CARD, 0
        return real.SCARD_S_SUCCESS, self.cards[handle][1]

    def SCardDisconnect(self, handle: int, disposition: int) -> int:
        self.calls.append(("disconnect", disposition))
        self.cards.pop(handle, None)
        return int(real.SCARD_S_SUCCESS)


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.on_sleep: Callable[[float], None] = lambda now: None

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
        self.on_sleep(self.now)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeScard:
    scard = FakeScard({VPCD0: FakeCard(), VPCD1: None})
    monkeypatch.setattr(pcsc, "_scard", lambda: scard)
    return scard


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake_clock = FakeClock()
    monkeypatch.setattr(pcsc, "_monotonic", fake_clock.monotonic)
    monkeypatch.setattr(pcsc, "_sleep", fake_clock.sleep)
    return fake_clock


# --- listing ---------------------------------------------------------------------------------


def test_list_readers_in_service_order(fake: FakeScard) -> None:
    assert pcsc.list_readers() == [VPCD0, VPCD1]
    assert not fake.contexts  # the context is released


def test_list_readers_empty(fake: FakeScard) -> None:
    fake.readers.clear()
    assert pcsc.list_readers() == []


def test_no_service_says_how_to_start_pcscd(fake: FakeScard) -> None:
    fake.service = False
    calls = (
        pcsc.list_readers,
        pcsc.reader_statuses,
        pcsc.select_reader,
        lambda: pcsc.open_reader(VPCD0),
        lambda: pcsc.open_reader(VPCD0, timeout=5),  # not worth waiting for
    )
    for call in calls:
        with pytest.raises(pcsc.PcscError) as caught:
            call()
        assert str(caught.value) == pcsc.NO_PCSCD
        assert str(caught.value).startswith("pcscd is not running: start it with ")
        assert caught.value.pcsc_code == real.SCARD_E_NO_SERVICE & 0xFFFFFFFF
        assert caught.value.pcsc_name == "SCARD_E_NO_SERVICE"


def test_reader_statuses(fake: FakeScard) -> None:
    fake.readers["Busy reader"] = FakeCard(atr=b"\x3b\x00")
    fake.busy.add("Busy reader")
    statuses = {s.name: s for s in pcsc.reader_statuses()}
    assert statuses[VPCD0].card_present and statuses[VPCD0].atr == ATR
    assert not statuses[VPCD0].in_use
    assert not statuses[VPCD1].card_present and statuses[VPCD1].atr is None
    assert statuses["Busy reader"].in_use
    assert statuses[VPCD0].describe()["atr"] == ATR.hex().upper()
    assert not fake.cards  # no card was connected to
    assert not fake.contexts


# --- opening ---------------------------------------------------------------------------------


def test_open_prefers_t1_and_exclusive(fake: FakeScard) -> None:
    with pcsc.open_reader(VPCD0) as connection:
        assert connection.protocol == "T=1"
        assert connection.atr == ATR
        assert connection.reader == VPCD0
        assert fake.calls[0] == (
            "connect",
            VPCD0,
            real.SCARD_SHARE_EXCLUSIVE,
            real.SCARD_PROTOCOL_T1,
        )
    assert fake.calls[-1] == ("disconnect", real.SCARD_RESET_CARD)
    assert not fake.contexts and not fake.cards


def test_open_falls_back_to_t0(fake: FakeScard) -> None:
    card = FakeCard(protocols=real.SCARD_PROTOCOL_T0)
    fake.readers[VPCD0] = card
    with pcsc.open_reader(VPCD0) as connection:
        assert connection.protocol == "T=0"
        connection.send(Command(0x00, 0x84, 0x00, 0x00, ne=8))
    assert card.received == [(real.SCARD_PCI_T0, bytes.fromhex("0084000008"))]


def test_open_shared(fake: FakeScard) -> None:
    with pcsc.open_reader(VPCD0, exclusive=False):
        assert fake.calls[0][2] == real.SCARD_SHARE_SHARED


@pytest.mark.parametrize("spec", [VPCD0, "0", "pcd 00 00", "virtual pcd 00 00", " 0 "])
def test_open_by_name_part_or_index(fake: FakeScard, spec: str) -> None:
    with pcsc.open_reader(spec) as connection:
        assert connection.reader == VPCD0
    assert fake.calls[0][:2] == ("connect", VPCD0)


def test_ambiguous_reader_is_a_usage_error(fake: FakeScard, clock: FakeClock) -> None:
    with pytest.raises(AmbiguousReaderError) as caught:
        pcsc.open_reader("pcd", timeout=5)  # more readers cannot make it less ambiguous
    assert str(caught.value) == (
        "reader 'pcd' is ambiguous: 0 Virtual PCD 00 00, 1 Virtual PCD 00 01"
    )
    assert caught.value.candidates == (VPCD0, VPCD1)
    assert not isinstance(caught.value, TransportError)  # exit 2, not 3
    assert clock.now == 0
    assert not fake.contexts and not fake.calls


def test_no_match_lists_the_readers(fake: FakeScard) -> None:
    with pytest.raises(ReaderNotFoundError) as caught:
        pcsc.open_reader("ACR122")
    assert str(caught.value) == (
        "no reader matches 'ACR122'; readers: 0 Virtual PCD 00 00, 1 Virtual PCD 00 01"
    )
    assert isinstance(caught.value, TransportError)  # exit 3
    assert caught.value.reader == "ACR122"
    assert caught.value.readers == (VPCD0, VPCD1)
    assert not fake.contexts


def test_reader_left_out(fake: FakeScard) -> None:
    with pytest.raises(AmbiguousReaderError, match=r"several PC/SC readers.*--reader.*0 Virtual"):
        pcsc.open_reader()
    del fake.readers[VPCD1]
    with pcsc.open_reader() as connection:
        assert connection.reader == VPCD0
    assert pcsc.select_reader() == VPCD0


def test_not_found_with_no_readers(fake: FakeScard) -> None:
    fake.readers.clear()
    for spec in (VPCD0, None):
        with pytest.raises(ReaderNotFoundError) as caught:
            pcsc.open_reader(spec)
        assert str(caught.value) == "no PC/SC readers (is pcscd running?)"


def test_waits_for_a_reader_plugged_in_later(fake: FakeScard, clock: FakeClock) -> None:
    late = "ACS ACR1252 1S CL Reader PICC 0"

    def plug(now: float) -> None:
        if now >= 0.3:
            fake.readers[late] = FakeCard()

    clock.on_sleep = plug
    with pcsc.open_reader(late, timeout=5) as connection:  # the exact name, not yet listed
        assert connection.reader == late
    assert 0.3 <= clock.now < 1


def test_a_reader_that_never_comes(fake: FakeScard, clock: FakeClock) -> None:
    with pytest.raises(ReaderNotFoundError, match=r"^no reader matches 'ACR122'; readers: 0 "):
        pcsc.open_reader("ACR122", timeout=2)
    assert clock.now >= 2
    assert not fake.contexts


def test_no_card_without_timeout(fake: FakeScard, clock: FakeClock) -> None:
    with pytest.raises(pcsc.PcscError) as caught:
        pcsc.open_reader(VPCD1)
    assert str(caught.value) == f"no card in {VPCD1}"
    assert caught.value.reader == VPCD1
    assert caught.value.pcsc_name == "SCARD_E_NO_SMARTCARD"
    assert clock.now == 0  # no waiting
    assert not fake.contexts


def test_no_card_after_timeout(fake: FakeScard, clock: FakeClock) -> None:
    with pytest.raises(TransportError) as caught:
        pcsc.open_reader(VPCD1, timeout=2)
    assert str(caught.value) == f"no card in {VPCD1} after 2 s"
    assert clock.now >= 2
    assert not fake.contexts  # every attempt released its context


def test_waits_for_a_card_pcscd_notices_late(fake: FakeScard, clock: FakeClock) -> None:
    # pcscd polls every ~400 ms: the card shows up a while after it was put down.
    def insert(now: float) -> None:
        if now >= 0.45:
            fake.readers[VPCD1] = FakeCard()

    clock.on_sleep = insert
    with pcsc.open_reader(VPCD1, timeout=5) as connection:
        assert connection.atr == ATR
    assert 0.45 <= clock.now < 1


def test_reader_in_use_elsewhere(fake: FakeScard, clock: FakeClock) -> None:
    fake.busy.add(VPCD0)
    with pytest.raises(TransportError, match=r"in use by another application after 1\.5 s"):
        pcsc.open_reader(VPCD0, timeout=1.5)


def test_mute_card(fake: FakeScard) -> None:
    fake.readers[VPCD0] = FakeCard(mute=True)
    with pytest.raises(TransportError, match=f"card in {VPCD0} does not respond"):
        pcsc.open_reader(VPCD0)


def test_negative_timeout_is_a_usage_error(fake: FakeScard) -> None:
    with pytest.raises(ValueError):
        pcsc.open_reader(VPCD0, timeout=-1)


# --- exchanging ------------------------------------------------------------------------------


def test_send_icao_appendix_d4_select(fake: FakeScard) -> None:
    card = FakeCard(
        answer=lambda apdu: list(D4_SELECT_RESPONSE) if apdu == D4_SELECT else [0x6D, 0]
    )
    fake.readers[VPCD0] = card
    with pcsc.open_reader(VPCD0) as connection:
        response = connection.send(Command.from_bytes(D4_SELECT))
    assert response == Response(D4_SELECT_RESPONSE[:-2], 0x9000)
    assert card.received == [(real.SCARD_PCI_T1, D4_SELECT)]


def test_card_removed_mid_session(fake: FakeScard) -> None:
    connection = pcsc.open_reader(VPCD0)
    fake.readers[VPCD0] = None
    with pytest.raises(pcsc.PcscError) as caught:
        connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=4))
    assert str(caught.value) == f"the card was removed from {VPCD0} — place it again"
    assert caught.value.reader == VPCD0
    assert caught.value.pcsc_code == 0x80100069
    assert caught.value.pcsc_name == "SCARD_W_REMOVED_CARD"
    assert caught.value.__notes__ == ["PC/SC code 0x80100069 (SCARD_W_REMOVED_CARD)"]
    connection.close()  # after a removal, close still releases everything without raising
    assert not fake.contexts


def test_reader_unplugged_mid_session(fake: FakeScard) -> None:
    with pcsc.open_reader(VPCD0) as connection:
        del fake.readers[VPCD0]
        with pytest.raises(TransportError) as caught:
            connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=4))
        assert str(caught.value) == f"the reader {VPCD0} was unplugged"


def test_service_stopped_mid_session(fake: FakeScard) -> None:
    with pcsc.open_reader(VPCD0) as connection:
        fake.service = False
        with pytest.raises(TransportError, match=r"^pcscd is not running: start it with"):
            connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=4))


def test_unknown_pcsc_error_keeps_the_code_out_of_the_message(
    fake: FakeScard, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="cardkit.transport.pcsc")
    with pcsc.open_reader(VPCD0) as connection:
        fake.transmit_result = (real.SCARD_F_COMM_ERROR, [])
        with pytest.raises(pcsc.PcscError) as caught:
            connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=4))
    message = str(caught.value)
    assert message.startswith(f"transmitting an APDU on {VPCD0} failed: ")
    assert "0x" not in message and "SCARD_" not in message
    assert caught.value.pcsc_code == 0x80100013
    assert caught.value.describe_code() == "0x80100013 (SCARD_F_COMM_ERROR)"
    # --verbose (DEBUG logging) shows the code; so does a traceback (the note).
    assert "PC/SC code 0x80100013 (SCARD_F_COMM_ERROR)" in caplog.text
    assert caught.value.__notes__ == ["PC/SC code 0x80100013 (SCARD_F_COMM_ERROR)"]


@pytest.mark.parametrize(
    "code", ["SCARD_W_RESET_CARD", "SCARD_E_NOT_TRANSACTED", "SCARD_E_NO_SMARTCARD"]
)
def test_card_pulled_during_transmit_in_words(fake: FakeScard, code: str) -> None:
    with pcsc.open_reader(VPCD0) as connection:
        fake.transmit_result = (getattr(real, code), [])
        with pytest.raises(pcsc.PcscError) as caught:
            connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=4))
    assert str(caught.value) == f"the card was removed from {VPCD0} — place it again"
    assert caught.value.pcsc_name == code


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("SCARD_E_UNKNOWN_READER", f"the reader {VPCD0} was unplugged"),
        ("SCARD_E_READER_UNAVAILABLE", f"the reader {VPCD0} was unplugged"),
        ("SCARD_E_SERVICE_STOPPED", pcsc.NO_PCSCD),
        ("SCARD_E_NO_SERVICE", pcsc.NO_PCSCD),
    ],
)
def test_reader_and_pcscd_failures_in_words(fake: FakeScard, code: str, message: str) -> None:
    with pcsc.open_reader(VPCD0) as connection:
        fake.transmit_result = (getattr(real, code), [])
        with pytest.raises(pcsc.PcscError) as caught:
            connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=4))
    assert str(caught.value) == message
    assert caught.value.pcsc_name == code
    assert caught.value.reader == VPCD0


def test_reconnect(fake: FakeScard) -> None:
    with pcsc.open_reader(VPCD0) as connection:
        fake.readers[VPCD0] = FakeCard(atr=bytes.fromhex("3B00"))
        connection.reconnect(reset=True)
        assert fake.calls[-1] == (
            "reconnect",
            real.SCARD_SHARE_EXCLUSIVE,
            real.SCARD_PROTOCOL_T1,
            real.SCARD_RESET_CARD,
        )
        assert connection.atr == bytes.fromhex("3B00")
        connection.reconnect(reset=False)
        assert fake.calls[-1][3] == real.SCARD_LEAVE_CARD
        fake.readers[VPCD0] = None
        with pytest.raises(TransportError, match=r"^the card was removed from"):
            connection.reconnect()


def test_closed_connection(fake: FakeScard) -> None:
    connection = pcsc.open_reader(VPCD0)
    connection.close()
    connection.close()  # idempotent
    assert connection.closed
    assert [c for c in fake.calls if c[0] == "disconnect"] == [
        ("disconnect", real.SCARD_RESET_CARD)
    ]
    with pytest.raises(TransportError, match="closed"):
        connection.send(Command(0x00, 0x84, 0x00, 0x00, ne=8))


# --- T=0: 61xx and 6Cxx handled by the connection itself (ISO/IEC 7816-3 §12.2) ---------------

FCI = bytes(range(0x20))
SELECT_LDS = bytes.fromhex("00A4040007A000000247100100")  # ICAO 9303-10 LDS1 AID, case 4


def _t0_answer(apdu: bytes) -> list[int]:
    """A T=0 card: case 4 comes in as case 3, so the FCI waits for GET RESPONSE (61xx); a READ
    BINARY with the wrong Le is told the right one (6Cxx)."""
    if apdu == SELECT_LDS[:-1]:  # the reader dropped Le: T=0 transports case 4 as case 3
        return [0x61, len(FCI)]
    if apdu[:4] == bytes.fromhex("00C00000"):  # GET RESPONSE, Le = what 61xx announced
        return [*FCI[: apdu[4]], 0x90, 0x00]
    if apdu[:4] == bytes.fromhex("00B00000"):
        return [*range(8), 0x90, 0x00] if apdu[4:] == b"\x08" else [0x6C, 0x08]
    return [0x6D, 0x00]


class _T0Card(FakeCard):
    """What a T=0 reader driver hands the card: the Le of a case-4 command is not sent."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(protocols=real.SCARD_PROTOCOL_T0, **kwargs)
        self.answer = lambda apdu: _t0_answer(apdu[:-1] if apdu == SELECT_LDS else apdu)


def test_t0_get_response_is_done_by_open_reader(fake: FakeScard) -> None:
    card = _T0Card()
    fake.readers[VPCD0] = card
    with pcsc.open_reader(VPCD0) as connection:
        assert connection.protocol == "T=0" and connection.atr == ATR
        response = connection.send(Command.from_bytes(SELECT_LDS))
    assert response == Response(FCI, 0x9000)
    assert card.received == [
        (real.SCARD_PCI_T0, SELECT_LDS),
        (real.SCARD_PCI_T0, bytes.fromhex("00C0000020")),
    ]
    assert not fake.contexts and not fake.cards  # the context manager still closes


def test_t0_wrong_le_is_resent_by_open_reader(fake: FakeScard) -> None:
    card = _T0Card()
    fake.readers[VPCD0] = card
    with pcsc.open_reader(VPCD0) as connection:
        response = connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=256))
        assert response == Response(bytes(range(8)), 0x9000)
        connection.reconnect()  # still T=0, still handled
        assert connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=256)).data == bytes(range(8))
    assert [apdu for _pci, apdu in card.received] == [
        bytes.fromhex("00B0000000"),
        bytes.fromhex("00B0000008"),
    ] * 2


def test_t0_card_removed_before_get_response(fake: FakeScard) -> None:
    fake.readers[VPCD0] = card = _T0Card()
    answer = card.answer

    def pulled_after_first(apdu: bytes) -> list[int]:
        fake.readers[VPCD0] = None  # gone before the GET RESPONSE
        return answer(apdu)

    card.answer = pulled_after_first
    with pcsc.open_reader(VPCD0) as connection, pytest.raises(pcsc.PcscError) as caught:
        connection.send(Command.from_bytes(SELECT_LDS))
    assert str(caught.value) == f"the card was removed from {VPCD0} — place it again"


def test_t1_status_words_pass_through(fake: FakeScard) -> None:
    card = FakeCard(answer=lambda apdu: [0x61, 0x10])
    fake.readers[VPCD0] = card
    with pcsc.open_reader(VPCD0) as connection:
        assert connection.protocol == "T=1"
        assert connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=256)).sw == 0x6110
    assert len(card.received) == 1  # no GET RESPONSE: T=1 carries case 4 whole


junk = st.one_of(
    st.lists(st.integers(0, 255), max_size=300),
    st.lists(st.integers(-1000, 1000), max_size=10),
    st.none(),
    st.integers(0, 10**6),
    st.text(max_size=5),
)


@given(hresult=st.sampled_from([real.SCARD_S_SUCCESS, 0x80100013, 0x8010002F, 1, -1]), raw=junk)
def test_junk_from_pcsc_is_a_response_or_transport_error(hresult: int, raw: object) -> None:
    scard = FakeScard({VPCD0: FakeCard()})
    original = pcsc._scard
    pcsc._scard = lambda: scard  # hypothesis and fixtures don't mix
    try:
        with pcsc.open_reader(VPCD0) as connection:
            scard.transmit_result = (hresult, raw)
            try:
                response = connection.send(Command(0x00, 0xB0, 0x00, 0x00, ne=256))
            except TransportError as exc:
                assert exc.reader == VPCD0
            else:
                assert hresult == real.SCARD_S_SUCCESS
                assert isinstance(raw, list) and bytes(response) == bytes(raw)
    finally:
        pcsc._scard = original
